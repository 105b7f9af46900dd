//! What only the memory queue does: the process-wide registry and its URL.

use cloudport_core::queue::DEAD_LETTER_REASON_ATTRIBUTE;
use cloudport_core::{ErrorKind, Message, Queue, QueueExt, ReceiveOptions};
use url::Url;

use super::MemoryQueue;

fn unique(name: &str) -> String {
    format!("{name}-{:08x}", rand::random::<u32>())
}

#[tokio::test]
async fn handles_of_one_name_share_messages() {
    let name = unique("shared");
    let a = MemoryQueue::named(&name);
    let id = a.send_bytes("hi").await.unwrap();
    drop(a);
    let b = MemoryQueue::named(&name);
    let got = b.receive(ReceiveOptions::default()).await.unwrap();
    assert_eq!(got[0].id, id);
    let other = MemoryQueue::named(&unique("other"));
    assert!(other.receive(ReceiveOptions::default()).await.unwrap().is_empty());
}

#[tokio::test]
async fn dead_letter_queue_is_reachable_by_name() {
    let (name, dlq) = (unique("jobs"), unique("jobs-dlq"));
    let url = Url::parse(&format!("memory://{name}?dead_letter={dlq}&max_deliveries=1")).unwrap();
    let q = MemoryQueue::from_url(&url).unwrap();
    q.send(Message::new("x")).await.unwrap();
    let d = q.receive(ReceiveOptions::default()).await.unwrap().remove(0);
    q.dead_letter(&d.receipt, "by hand").await.unwrap();
    let dead = MemoryQueue::named(&dlq).receive(ReceiveOptions::default()).await.unwrap().remove(0);
    assert_eq!(dead.attributes[DEAD_LETTER_REASON_ATTRIBUTE], "by hand");
}

#[tokio::test]
async fn receipts_of_another_queue_are_rejected() {
    let (a, b) = (MemoryQueue::named(&unique("a")), MemoryQueue::named(&unique("b")));
    a.send_bytes("x").await.unwrap();
    let d = a.receive(ReceiveOptions::default()).await.unwrap().remove(0);
    assert_eq!(b.ack(&d.receipt).await.unwrap_err().kind(), ErrorKind::InvalidInput);
    a.ack(&d.receipt).await.unwrap();
}

#[test]
fn ids_differ_between_queues() {
    let (a, b) = (MemoryQueue::named(&unique("a")), MemoryQueue::named(&unique("b")));
    assert_ne!(a.inner.shared.id(0), b.inner.shared.id(0));
}

#[test]
fn url_options_and_errors() {
    let q = MemoryQueue::from_url(&Url::parse("memory://url-jobs?max_message_size=2048").unwrap()).unwrap();
    assert_eq!(q.name(), "url-jobs");
    assert_eq!(q.capabilities().max_message_size, 2048);
    for bad in [
        "memory://url-jobs?typo=1",
        "memory://url-jobs?max_message_size=big",
        "memory://url-jobs?max_deliveries=3",
        "memory://url-jobs?dead_letter=url-jobs",
        "memory://url-jobs/sub",
        "memory://",
        "memory://bad%20name",
        "file:///tmp/x",
    ] {
        let err = MemoryQueue::from_url(&Url::parse(bad).unwrap()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{bad}: {err}");
    }
}

#[test]
fn invalid_names_fail_to_build() {
    let err = MemoryQueue::builder("no spaces").build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("no spaces"), "{err}");
}

#[test]
#[should_panic(expected = "queue name")]
fn named_panics_on_an_invalid_name() {
    let _ = MemoryQueue::named("no/slashes");
}
