//! What only the SQLite queue does: survive restarts, share a file between handles, its URL.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use cloudport_core::time::{Clock, ManualClock};
use cloudport_core::{DeadLetterPolicy, ErrorKind, Message, MessageId, Queue, ReceiveOptions};
use url::Url;

use super::SqliteQueue;

#[tokio::test]
async fn state_survives_closing_and_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.db");
    let clock = ManualClock::new();
    let open = || SqliteQueue::builder(&path).queue("jobs").clock(Arc::new(clock.clone())).build().unwrap();

    let q = open();
    let id = q.send(Message::new("durable").with_attribute("k", "v")).await.unwrap();
    q.send(Message::new("later").with_delay(Duration::from_secs(60))).await.unwrap();
    let first = q.receive(ReceiveOptions::default().with_lease(Duration::from_secs(10))).await.unwrap().remove(0);
    assert_eq!((first.id.clone(), first.delivery_count), (id.clone(), 1));
    drop(q);

    let q = open();
    assert!(q.receive(ReceiveOptions::default()).await.unwrap().is_empty());
    clock.advance(Duration::from_secs(10));
    let again = q.receive(ReceiveOptions::default()).await.unwrap().remove(0);
    assert_eq!(again.id, id);
    assert_eq!(again.delivery_count, 2);
    assert_eq!(&again.body[..], b"durable");
    assert_eq!(again.attributes["k"], "v");
    assert_eq!(again.enqueued_at, first.enqueued_at);
    assert_eq!(q.ack(&first.receipt).await.unwrap_err().kind(), ErrorKind::PreconditionFailed);
    q.ack(&again.receipt).await.unwrap();
    clock.advance(Duration::from_secs(50));
    let later = q.receive(ReceiveOptions::default()).await.unwrap();
    assert_eq!(&later[0].body[..], b"later");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_handles_never_lease_the_same_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.db");
    let handles: Vec<SqliteQueue> = (0..2).map(|_| SqliteQueue::builder(&path).build().unwrap()).collect();
    let mut sent = HashSet::new();
    for (h, q) in handles.iter().enumerate() {
        for batch in 0..50 {
            let messages = (0..10).map(|i| Message::new(format!("{h}-{batch}-{i}"))).collect();
            sent.extend(q.send_batch(messages).await.unwrap().into_iter().map(Result::unwrap));
        }
    }
    assert_eq!(sent.len(), 1000);

    let consumers = handles.into_iter().map(|q| {
        tokio::spawn(async move {
            let mut got: Vec<MessageId> = Vec::new();
            loop {
                let batch = q.receive(ReceiveOptions::default().with_max_messages(10)).await.unwrap();
                if batch.is_empty() {
                    return got;
                }
                for d in batch {
                    assert_eq!(d.delivery_count, 1, "{} delivered twice", d.id);
                    q.ack(&d.receipt).await.unwrap();
                    got.push(d.id);
                }
            }
        })
    });
    let mut received = Vec::new();
    let mut per_consumer = Vec::new();
    for c in consumers.collect::<Vec<_>>() {
        let got = c.await.unwrap();
        per_consumer.push(got.len());
        received.extend(got);
    }
    let unique: HashSet<_> = received.iter().cloned().collect();
    assert_eq!(received.len(), 1000, "per consumer: {per_consumer:?}");
    assert_eq!(unique, sent);
}

#[tokio::test]
async fn dead_letter_queue_lives_in_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.db");
    let url = Url::from_file_path(&path).unwrap().to_string().replacen("file:", "sqlite:", 1);
    let url = Url::parse(&format!("{url}?queue=jobs&dead_letter=jobs-dlq&max_deliveries=1&synchronous=full")).unwrap();
    let q = SqliteQueue::from_url(&url).unwrap();
    assert_eq!(q.name(), "jobs");
    assert_eq!(q.path(), path);
    q.send(Message::new("x")).await.unwrap();
    let d = q.receive(ReceiveOptions::default()).await.unwrap().remove(0);
    q.nack(&d.receipt, Duration::ZERO).await.unwrap();
    assert!(q.receive(ReceiveOptions::default()).await.unwrap().is_empty());
    let dlq = SqliteQueue::builder(&path).queue("jobs-dlq").build().unwrap();
    assert_eq!(&dlq.receive(ReceiveOptions::default()).await.unwrap()[0].body[..], b"x");
}

#[tokio::test]
async fn a_waiting_receive_is_woken_by_another_handle_of_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.db");
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new());
    let waiter = SqliteQueue::builder(&path).clock(Arc::clone(&clock)).build().unwrap();
    let sender = SqliteQueue::builder(&path).clock(clock).build().unwrap();
    let task =
        tokio::spawn(async move { waiter.receive(ReceiveOptions::default().with_wait(Duration::from_secs(10))).await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let started = tokio::time::Instant::now();
    sender.send(Message::new("ping")).await.unwrap();
    assert_eq!(task.await.unwrap().unwrap().len(), 1);
    // Woken by the notification, not by the 50 ms re-check.
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn url_and_builder_errors_are_config() {
    let dir = tempfile::tempdir().unwrap();
    let base = Url::from_directory_path(dir.path()).unwrap().to_string().replacen("file:", "sqlite:", 1);
    let ok = Url::parse(&format!("{base}q.db?busy_timeout_ms=100&synchronous=NORMAL")).unwrap();
    assert_eq!(SqliteQueue::from_url(&ok).unwrap().name(), "default");
    for bad in [
        format!("{base}q.db?typo=1"),
        format!("{base}q.db?synchronous=sometimes"),
        format!("{base}q.db?queue=bad%20name"),
        format!("{base}q.db?dead_letter=default"),
        format!("{base}missing/q.db"),
        base.clone(),
        "sqlite:relative.db".to_owned(),
        "sqlite://host/abs.db".to_owned(),
        "memory://q".to_owned(),
    ] {
        let err = SqliteQueue::from_url(&Url::parse(&bad).unwrap()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{bad}: {err}");
    }
    let policy = DeadLetterPolicy::new("dlq", 0);
    let err = SqliteQueue::builder(dir.path().join("q.db")).dead_letter(policy).build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
}

#[test]
fn a_file_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.db");
    SqliteQueue::builder(&path).build().unwrap();
    rusqlite::Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();
    let err = SqliteQueue::builder(&path).build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("upgrade cloudport"), "{err}");
}
