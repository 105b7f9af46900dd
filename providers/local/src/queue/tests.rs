//! The same scenarios against both local queues, with a manual clock: no test sleeps for a
//! lease or a delay.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use cloudport_core::queue::DEAD_LETTER_REASON_ATTRIBUTE;
use cloudport_core::time::{Clock, ManualClock};
use cloudport_core::{DeadLetterPolicy, Delivery, ErrorKind, Message, Queue, Receipt, ReceiveOptions};
use tempfile::TempDir;

use super::{MemoryQueue, SqliteQueue};

const fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Where a scenario's queues live: unique memory names, or a fresh SQLite file.
enum Backend {
    Memory { prefix: String },
    Sqlite { dir: TempDir },
}

struct Env {
    backend: Backend,
    clock: ManualClock,
}

impl Env {
    fn memory() -> Self {
        let prefix = format!("t{:08x}", rand::random::<u32>());
        Self { backend: Backend::Memory { prefix }, clock: ManualClock::new() }
    }

    fn sqlite() -> Self {
        Self { backend: Backend::Sqlite { dir: tempfile::tempdir().unwrap() }, clock: ManualClock::new() }
    }

    fn provider(&self) -> &'static str {
        match self.backend {
            Backend::Memory { .. } => "local-memory",
            Backend::Sqlite { .. } => "local-sqlite",
        }
    }

    /// A handle on queue `name`, dead-lettering to `dlq` after `max` deliveries if given.
    fn open_with(&self, name: &str, dead_letter: Option<(&str, u32)>, max_size: Option<usize>) -> Arc<dyn Queue> {
        let clock: Arc<dyn Clock> = Arc::new(self.clock.clone());
        match &self.backend {
            Backend::Memory { prefix } => {
                let mut b = MemoryQueue::builder(&format!("{prefix}-{name}")).clock(clock);
                if let Some((dlq, max)) = dead_letter {
                    b = b.dead_letter(DeadLetterPolicy::new(format!("{prefix}-{dlq}"), max));
                }
                if let Some(size) = max_size {
                    b = b.max_message_size(size);
                }
                Arc::new(b.build().unwrap())
            }
            Backend::Sqlite { dir } => {
                let mut b = SqliteQueue::builder(dir.path().join("queue.db")).queue(name).clock(clock);
                if let Some((dlq, max)) = dead_letter {
                    b = b.dead_letter(DeadLetterPolicy::new(dlq, max));
                }
                if let Some(size) = max_size {
                    b = b.max_message_size(size);
                }
                Arc::new(b.build().unwrap())
            }
        }
    }

    fn open(&self, name: &str) -> Arc<dyn Queue> {
        self.open_with(name, None, None)
    }
}

fn leased_for(s: u64) -> ReceiveOptions {
    ReceiveOptions::default().with_lease(secs(s))
}

async fn receive_one(q: &dyn Queue, opts: ReceiveOptions) -> Delivery {
    let mut got = q.receive(opts).await.unwrap();
    assert_eq!(got.len(), 1, "expected one delivery, got {got:?}");
    got.pop().unwrap()
}

async fn assert_empty(q: &dyn Queue) {
    let got = q.receive(ReceiveOptions::default().with_max_messages(10)).await.unwrap();
    assert!(got.is_empty(), "expected no delivery, got {got:?}");
}

fn assert_lease_lost(result: cloudport_core::Result<impl std::fmt::Debug>) {
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed, "{err}");
    assert!(err.to_string().contains("lease") && err.to_string().contains("delivered again"), "{err}");
}

async fn send_receive_ack(env: Env) {
    let q = env.open("jobs");
    let sent_at = env.clock.now();
    let id = q.send(Message::new("hello").with_attribute("trace_id", "4bf92f")).await.unwrap();
    let d = receive_one(&*q, leased_for(10)).await;
    assert_eq!(d.id, id);
    assert_eq!(&d.body[..], b"hello");
    assert_eq!(d.attributes["trace_id"], "4bf92f");
    assert_eq!(d.delivery_count, 1);
    assert_eq!(d.enqueued_at, sent_at);
    assert_empty(&*q).await;
    q.ack(&d.receipt).await.unwrap();
    env.clock.advance(secs(60));
    assert_empty(&*q).await;
    assert!(q.name().ends_with("jobs"), "{}", q.name());
}

async fn lease_expiry_redelivers(env: Env) {
    let q = env.open("jobs");
    q.send(Message::new("work")).await.unwrap();
    let first = receive_one(&*q, leased_for(10)).await;
    env.clock.advance(secs(9));
    assert_empty(&*q).await;
    env.clock.advance(secs(1));
    let second = receive_one(&*q, leased_for(10)).await;
    assert_eq!(second.id, first.id);
    assert_eq!(second.delivery_count, 2);
    assert_eq!(second.enqueued_at, first.enqueued_at);
    assert_ne!(second.receipt, first.receipt);
    assert_lease_lost(q.ack(&first.receipt).await);
    assert_lease_lost(q.nack(&first.receipt, Duration::ZERO).await);
    q.ack(&second.receipt).await.unwrap();
    env.clock.advance(secs(60));
    assert_empty(&*q).await;
}

async fn expired_lease_can_still_ack_until_redelivered(env: Env) {
    let q = env.open("jobs");
    q.send(Message::new("work")).await.unwrap();
    let d = receive_one(&*q, leased_for(10)).await;
    env.clock.advance(secs(30));
    q.ack(&d.receipt).await.unwrap();
    assert_empty(&*q).await;
}

async fn nack_with_delay_hides_until_the_clock_passes(env: Env) {
    let q = env.open("jobs");
    q.send(Message::new("work")).await.unwrap();
    let d = receive_one(&*q, leased_for(30)).await;
    q.nack(&d.receipt, secs(5)).await.unwrap();
    assert_empty(&*q).await;
    env.clock.advance(secs(4));
    assert_empty(&*q).await;
    env.clock.advance(secs(1));
    let again = receive_one(&*q, leased_for(30)).await;
    assert_eq!((again.id.clone(), again.delivery_count), (d.id, 2));
    assert_lease_lost(q.nack(&d.receipt, Duration::ZERO).await);
    let err = q.nack(&again.receipt, secs(13 * 60 * 60)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    q.nack(&again.receipt, Duration::ZERO).await.unwrap();
    let third = receive_one(&*q, leased_for(30)).await;
    assert_eq!(third.delivery_count, 3);
}

async fn extend_lease_rotates_the_receipt(env: Env) {
    let q = env.open("jobs");
    q.send(Message::new("work")).await.unwrap();
    let d = receive_one(&*q, leased_for(10)).await;
    let renewed = q.extend_lease(&d.receipt, secs(60)).await.unwrap();
    assert_ne!(renewed, d.receipt);
    env.clock.advance(secs(30));
    assert_empty(&*q).await;
    assert_lease_lost(q.ack(&d.receipt).await);
    assert_lease_lost(q.extend_lease(&d.receipt, secs(60)).await);
    let err = q.extend_lease(&renewed, Duration::from_millis(500)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    env.clock.advance(secs(29));
    assert_empty(&*q).await;
    q.ack(&renewed).await.unwrap();
    env.clock.advance(secs(120));
    assert_empty(&*q).await;
}

async fn acked_receipts_are_stale(env: Env) {
    let q = env.open("jobs");
    q.send(Message::new("work")).await.unwrap();
    let d = receive_one(&*q, leased_for(10)).await;
    q.ack(&d.receipt).await.unwrap();
    assert_lease_lost(q.ack(&d.receipt).await);
    assert_lease_lost(q.nack(&d.receipt, Duration::ZERO).await);
    assert_lease_lost(q.extend_lease(&d.receipt, secs(10)).await);
}

async fn foreign_receipts_are_invalid_input(env: Env) {
    let q = env.open("jobs");
    for bad in ["", "nonsense", "x:y"] {
        let err = q.ack(&Receipt::new(bad)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad:?}: {err}");
    }
}

async fn dead_letters_after_max_deliveries(env: Env) {
    let q = env.open_with("jobs", Some(("jobs-dlq", 2)), None);
    let dlq = env.open("jobs-dlq");
    let id = q.send(Message::new("poison").with_attribute("tenant", "acme")).await.unwrap();
    for count in 1..=2 {
        let d = receive_one(&*q, leased_for(10)).await;
        assert_eq!((d.id.clone(), d.delivery_count), (id.clone(), count));
        q.nack(&d.receipt, Duration::ZERO).await.unwrap();
    }
    assert_empty(&*q).await;
    let dead = receive_one(&*dlq, leased_for(10)).await;
    assert_eq!(&dead.body[..], b"poison");
    assert_eq!(dead.attributes["tenant"], "acme");
    assert_eq!(dead.attributes[DEAD_LETTER_REASON_ATTRIBUTE], "delivered 2 times without ack");
    assert_eq!(dead.delivery_count, 1);
    env.clock.advance(secs(60));
    assert_empty(&*q).await;
}

async fn lease_expiry_also_counts_toward_dead_lettering(env: Env) {
    let q = env.open_with("jobs", Some(("jobs-dlq", 1)), None);
    let dlq = env.open("jobs-dlq");
    q.send(Message::new("slow")).await.unwrap();
    q.send(Message::new("fine")).await.unwrap();
    let first = q.receive(leased_for(10).with_max_messages(10)).await.unwrap();
    assert_eq!(first.len(), 2);
    q.ack(&first[1].receipt).await.unwrap();
    env.clock.advance(secs(10));
    assert_empty(&*q).await;
    let dead = receive_one(&*dlq, leased_for(10)).await;
    assert_eq!(&dead.body[..], &first[0].body[..]);
    assert_eq!(dead.attributes[DEAD_LETTER_REASON_ATTRIBUTE], "delivered 1 times without ack");
}

async fn dead_letter_now(env: Env) {
    let q = env.open_with("jobs", Some(("jobs-dlq", 5)), None);
    let dlq = env.open("jobs-dlq");
    q.send(Message::new("bad")).await.unwrap();
    let d = receive_one(&*q, leased_for(10)).await;
    q.dead_letter(&d.receipt, "payload is not JSON").await.unwrap();
    let dead = receive_one(&*dlq, leased_for(10)).await;
    assert_eq!(&dead.body[..], b"bad");
    assert_eq!(dead.attributes[DEAD_LETTER_REASON_ATTRIBUTE], "payload is not JSON");
    env.clock.advance(secs(60));
    assert_empty(&*q).await;
    assert_lease_lost(q.dead_letter(&d.receipt, "again").await);
    assert_lease_lost(q.ack(&d.receipt).await);
}

async fn dead_letter_without_policy_is_config(env: Env) {
    let q = env.open("jobs");
    q.send(Message::new("bad")).await.unwrap();
    let d = receive_one(&*q, leased_for(10)).await;
    let err = q.dead_letter(&d.receipt, "nope").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("dead_letter="), "{err}");
    q.ack(&d.receipt).await.unwrap();
}

async fn oversize_is_too_large(env: Env) {
    let q = env.open_with("jobs", None, Some(100));
    assert_eq!(q.capabilities().max_message_size, 100);
    let err = q.send(Message::new(vec![0u8; 101])).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    assert_eq!(err.provider(), Some(env.provider()));
    let err = q.send(Message::new(vec![0u8; 90]).with_attribute("k", "0123456789")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    assert_empty(&*q).await;
    q.send(Message::new(vec![0u8; 100])).await.unwrap();
}

async fn send_batch_reports_each_message(env: Env) {
    let q = env.open("jobs");
    let messages: Vec<Message> = (0..25)
        .map(|i| {
            let m = Message::new(format!("m{i}"));
            if i == 7 { m.with_attribute("bad name", "v") } else { m }
        })
        .collect();
    let results = q.send_batch(messages).await.unwrap();
    assert_eq!(results.len(), 25);
    assert_eq!(results[7].as_ref().unwrap_err().kind(), ErrorKind::InvalidInput);
    let ids: HashSet<_> = results.iter().filter_map(|r| r.as_ref().ok().cloned()).collect();
    assert_eq!(ids.len(), 24);
    let mut received = HashSet::new();
    loop {
        let got = q.receive(leased_for(10).with_max_messages(50)).await.unwrap();
        assert!(got.len() <= 10);
        if got.is_empty() {
            break;
        }
        received.extend(got.into_iter().map(|d| d.id));
    }
    assert_eq!(received, ids);
    assert!(q.send_batch(Vec::new()).await.unwrap().is_empty());
}

async fn delayed_send_is_invisible_until_due(env: Env) {
    let q = env.open("jobs");
    q.send(Message::new("later").with_delay(secs(30))).await.unwrap();
    assert_empty(&*q).await;
    env.clock.advance(secs(29));
    assert_empty(&*q).await;
    env.clock.advance(secs(1));
    receive_one(&*q, leased_for(10)).await;
    let err = q.send(Message::new("x").with_delay(secs(15 * 60 + 1))).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

async fn receive_options_are_checked(env: Env) {
    let q = env.open("jobs");
    for bad in [
        ReceiveOptions::default().with_max_messages(0),
        leased_for(0),
        ReceiveOptions::default().with_lease(secs(12 * 3600 + 1)),
    ] {
        let err = q.receive(bad.clone()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad:?}");
    }
}

async fn capabilities_are_sqs_like(env: Env) {
    let caps = env.open("jobs").capabilities();
    assert_eq!(caps.provider, env.provider());
    assert_eq!(caps.max_message_size, 1_048_576);
    assert_eq!((caps.max_attributes, caps.max_send_batch, caps.max_receive), (10, 10, 10));
    assert_eq!(caps.max_delay, secs(15 * 60));
    assert_eq!((caps.min_lease, caps.max_lease, caps.default_lease), (secs(1), secs(12 * 3600), secs(30)));
    assert!(caps.long_poll && caps.delivery_count && caps.dead_letter);
}

async fn long_poll_wakes_on_send(env: Env) {
    let waiter = env.open("jobs");
    let sender = env.open("jobs");
    let started = tokio::time::Instant::now();
    let task = tokio::spawn(async move { waiter.receive(ReceiveOptions::default().with_wait(secs(10))).await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    sender.send(Message::new("ping")).await.unwrap();
    let got = task.await.unwrap().unwrap();
    assert_eq!(got.len(), 1);
    assert!(started.elapsed() < secs(5), "{:?}", started.elapsed());
}

async fn long_poll_sees_the_clock_move(env: Env) {
    let q = env.open("jobs");
    q.send(Message::new("later").with_delay(secs(10))).await.unwrap();
    let waiter = Arc::clone(&q);
    let started = tokio::time::Instant::now();
    let task = tokio::spawn(async move { waiter.receive(ReceiveOptions::default().with_wait(secs(10))).await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    env.clock.advance(secs(10));
    let got = task.await.unwrap().unwrap();
    assert_eq!(got.len(), 1);
    assert!(started.elapsed() < secs(5), "{:?}", started.elapsed());
}

async fn long_poll_gives_up_after_wait(env: Env) {
    let q = env.open("jobs");
    let started = tokio::time::Instant::now();
    let got = q.receive(ReceiveOptions::default().with_wait(Duration::from_millis(120))).await.unwrap();
    assert!(got.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(120));
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Env::memory()).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Env::sqlite()).await;
                }
            )*
        }
    };
}

scenarios!(
    send_receive_ack,
    lease_expiry_redelivers,
    expired_lease_can_still_ack_until_redelivered,
    nack_with_delay_hides_until_the_clock_passes,
    extend_lease_rotates_the_receipt,
    acked_receipts_are_stale,
    foreign_receipts_are_invalid_input,
    dead_letters_after_max_deliveries,
    lease_expiry_also_counts_toward_dead_lettering,
    dead_letter_now,
    dead_letter_without_policy_is_config,
    oversize_is_too_large,
    send_batch_reports_each_message,
    delayed_send_is_invisible_until_due,
    receive_options_are_checked,
    capabilities_are_sqs_like,
    long_poll_wakes_on_send,
    long_poll_sees_the_clock_move,
    long_poll_gives_up_after_wait,
);
