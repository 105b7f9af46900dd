//! Queue behaviours: every [`Queue`] must pass them all.
//!
//! Each function takes a [`QueueFixture`] holding a fresh, uniquely named queue, panics when the
//! queue gets the behaviour wrong and returns an [`Outcome`] otherwise. Leases and delays pass
//! through the fixture's [`TimeControl`]: [`ManualTime`] moves an injected clock without sleeping
//! (local queues), [`RealTime`] sleeps (cloud queues). Waits for messages use real time, and
//! every receive that expects a message after time moved waits a few seconds, so pollers notice.
//!
//! Decisions the suite pins down for every provider:
//! - A delivery's attributes are exactly those sent (no provider attributes leak in), except that
//!   a dead-lettered message also carries [`DEAD_LETTER_REASON_ATTRIBUTE`], for automatic moves
//!   too.
//! - Every receive gives a new receipt; ack, nack and lease extension with a receipt whose lease
//!   was lost (expired and the message received again) fail with `PreconditionFailed`.
//! - `dead_letter` without a dead-letter queue configured fails with `Config` (with
//!   `Unsupported` when the provider has no dead-lettering at all).
//! - An operation that fails validation still runs in its tracing span, recording the error kind.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use cloudport_core::queue::DEAD_LETTER_REASON_ATTRIBUTE;
use cloudport_core::time::{Clock, ManualClock};
use cloudport_core::{
    DeadLetterPolicy, Delivery, ErrorKind, Message, MessageId, Queue, QueueCapabilities, ReceiveOptions,
};
use futures::future::BoxFuture;

use crate::Outcome;
use crate::util::{expect_kind, join_all, random_hex};

/// Every queue behaviour, in the order the suite runs them.
pub const BEHAVIOURS: &[&str] = crate::__queue_behaviours!(names);

/// How long a receive that expects nothing waits.
const HIDDEN_WAIT: Duration = Duration::from_millis(300);
/// How long a receive that expects messages keeps trying, in real time.
const DELIVERY_DEADLINE: Duration = Duration::from_secs(10);
/// How far a queue's clock may be from the test's when checking `enqueued_at`.
const CLOCK_SKEW: Duration = Duration::from_secs(120);

/// How tests move time for leases and delays.
pub trait TimeControl: fmt::Debug + Send + Sync {
    /// The time as the queue sees it (for checking `enqueued_at`).
    fn now(&self) -> SystemTime;

    /// Lets `by` pass for the queue's leases and delays.
    fn advance(&self, by: Duration) -> BoxFuture<'_, ()>;
}

/// Real time: [`advance`](TimeControl::advance) sleeps. For queues on a real service.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealTime;

impl TimeControl for RealTime {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn advance(&self, by: Duration) -> BoxFuture<'_, ()> {
        Box::pin(tokio::time::sleep(by))
    }
}

/// A [`ManualClock`] to inject into a local queue: [`advance`](TimeControl::advance) moves it
/// at once, without sleeping.
#[derive(Debug, Clone, Default)]
pub struct ManualTime {
    clock: ManualClock,
}

impl ManualTime {
    /// A clock starting at the current system time.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The clock, to hand to the queue's builder.
    #[must_use]
    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::new(self.clock.clone())
    }
}

impl TimeControl for ManualTime {
    fn now(&self) -> SystemTime {
        self.clock.now()
    }

    fn advance(&self, by: Duration) -> BoxFuture<'_, ()> {
        self.clock.advance(by);
        Box::pin(tokio::task::yield_now())
    }
}

/// What a test asks the runner's factory for: a fresh queue named `name`, dead-lettering to
/// `dead_letter.queue` when `dead_letter` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueSpec {
    /// A name no other test uses: `cpconf-<16 hex digits>`, valid on every provider.
    pub name: String,
    /// The dead-letter policy to configure, for the dead-letter behaviours; its queue is
    /// `<name>-dlq`.
    pub dead_letter: Option<DeadLetterPolicy>,
}

impl QueueSpec {
    /// The spec behaviour `behaviour` needs: a unique name, and a dead-letter policy for
    /// `dead_letter_after_max_deliveries` (2 deliveries) and `dead_letter_now` (5).
    #[must_use]
    pub fn for_behaviour(behaviour: &str) -> Self {
        let name = format!("cpconf-{}", random_hex());
        let max_deliveries = match behaviour {
            "dead_letter_after_max_deliveries" => Some(2),
            "dead_letter_now" => Some(5),
            _ => None,
        };
        let dead_letter = max_deliveries.map(|n| DeadLetterPolicy::new(format!("{name}-dlq"), n));
        Self { name, dead_letter }
    }
}

/// A queue under test, the queue it dead-letters to (when the spec asked for one), and the
/// time control for its leases.
pub struct QueueFixture {
    /// The queue under test, fresh and empty.
    pub queue: Arc<dyn Queue>,
    /// The dead-letter queue of `queue`, when the spec set a policy and the provider supports
    /// dead-lettering.
    pub dead_letters: Option<Arc<dyn Queue>>,
    /// Moves time for the queue's leases and delays.
    pub time: Arc<dyn TimeControl>,
    guard: Option<Box<dyn Any + Send + Sync>>,
    gaps: Vec<(&'static str, String)>,
}

impl fmt::Debug for QueueFixture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueFixture")
            .field("queue", &self.queue)
            .field("dead_letters", &self.dead_letters)
            .field("time", &self.time)
            .field("guard", &self.guard.is_some())
            .finish()
    }
}

impl QueueFixture {
    /// A fixture for `queue`, moving time with `time`.
    #[must_use]
    pub fn new(queue: Arc<dyn Queue>, time: Arc<dyn TimeControl>) -> Self {
        Self { queue, dead_letters: None, time, guard: None, gaps: Vec::new() }
    }

    /// Sets the dead-letter queue (required when the spec has a policy and the provider supports
    /// dead-lettering).
    #[must_use]
    pub fn with_dead_letters(mut self, queue: Arc<dyn Queue>) -> Self {
        self.dead_letters = Some(queue);
        self
    }

    /// Keeps `guard` (a temporary directory, say) alive as long as the fixture.
    #[must_use]
    pub fn with_guard(mut self, guard: impl Any + Send + Sync) -> Self {
        self.guard = Some(Box::new(guard));
        self
    }

    /// Declares that the emulator this fixture runs on gets `behaviour` wrong where the real
    /// service does not; that behaviour then checks what still must hold and reports
    /// [`Outcome::NotEnforced`] with `reason`.
    ///
    /// Only `concurrent_consumers` honours it: for emulators whose acknowledgements race with
    /// each other (an ack may then fail as a lost lease although the lease was held). Every
    /// message must still be received, and copies must still be the same message.
    #[must_use]
    pub fn with_emulator_gap(mut self, behaviour: &'static str, reason: impl Into<String>) -> Self {
        self.gaps.push((behaviour, reason.into()));
        self
    }

    fn emulator_gap(&self, behaviour: &str) -> Option<&str> {
        self.gaps.iter().find(|(b, _)| *b == behaviour).map(|(_, reason)| reason.as_str())
    }

    fn caps(&self) -> QueueCapabilities {
        self.queue.capabilities()
    }

    fn dead_letters(&self) -> &dyn Queue {
        self.dead_letters.as_deref().expect(
            "the provider supports dead-lettering but the fixture has no dead-letter queue: build it from QueueSpec::dead_letter and pass it to QueueFixture::with_dead_letters",
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// A lease short enough to let expire quickly in real time, and valid for the provider.
fn short_lease(caps: &QueueCapabilities) -> Duration {
    caps.min_lease.max(Duration::from_secs(2)).min(caps.max_lease)
}

/// A lease no test outlives.
fn long_lease(caps: &QueueCapabilities) -> Duration {
    Duration::from_secs(300).max(caps.min_lease).min(caps.max_lease)
}

/// Receives until `n` deliveries arrived (or [`DELIVERY_DEADLINE`] passed), each under `lease`.
async fn receive_n(queue: &dyn Queue, n: usize, lease: Duration) -> Vec<Delivery> {
    let caps = queue.capabilities();
    let started = Instant::now();
    let mut got = Vec::new();
    while got.len() < n {
        let left = DELIVERY_DEADLINE.saturating_sub(started.elapsed());
        if left.is_zero() {
            break;
        }
        let opts = ReceiveOptions::default()
            .with_max_messages((n - got.len()).min(caps.max_receive))
            .with_wait(left.min(Duration::from_secs(5)))
            .with_lease(lease);
        got.extend(queue.receive(opts).await.unwrap_or_else(|e| panic!("receive from {}: {e}", queue.name())));
    }
    got
}

/// Receives exactly one delivery under `lease`.
async fn receive_one(queue: &dyn Queue, lease: Duration, what: &str) -> Delivery {
    let mut got = receive_n(queue, 1, lease).await;
    assert_eq!(got.len(), 1, "{what}: expected one delivery within {DELIVERY_DEADLINE:?}");
    got.remove(0)
}

/// Asserts that nothing is delivered within [`HIDDEN_WAIT`] (or `wait`).
async fn expect_nothing(queue: &dyn Queue, wait: Duration, what: &str) {
    let caps = queue.capabilities();
    let opts =
        ReceiveOptions::default().with_max_messages(caps.max_receive).with_wait(wait).with_lease(long_lease(&caps));
    let got = queue.receive(opts).await.unwrap_or_else(|e| panic!("receive from {}: {e}", queue.name()));
    let bodies: Vec<_> = got.iter().map(|d| (d.id.clone(), d.body.clone(), d.delivery_count)).collect();
    assert!(got.is_empty(), "{what}: expected no delivery, got {bodies:?}");
}

async fn ack(queue: &dyn Queue, delivery: &Delivery) {
    queue.ack(&delivery.receipt).await.unwrap_or_else(|e| panic!("ack of {}: {e}", delivery.id));
}

#[track_caller]
fn assert_count(caps: &QueueCapabilities, delivery: &Delivery, want: u32, what: &str) {
    if caps.delivery_count {
        assert_eq!(delivery.delivery_count, want, "delivery_count of {what}");
    }
}

fn not_enforced_count(caps: &QueueCapabilities) -> Outcome {
    Outcome::NotEnforced(format!("{} does not report accurate delivery counts", caps.provider))
}

fn passed_unless_counts_inaccurate(caps: &QueueCapabilities) -> Outcome {
    if caps.delivery_count { Outcome::Passed } else { not_enforced_count(caps) }
}

// ---------------------------------------------------------------------------------------------
// Send, receive, ack

/// A message's body, attributes and id come back on receive, with delivery count 1 and a recent
/// `enqueued_at`; after `ack` it is gone for good, even once its lease would have expired.
pub async fn send_receive_ack(fixture: &QueueFixture) -> Outcome {
    let queue = &*fixture.queue;
    let caps = fixture.caps();
    let message = Message::new(Bytes::from_static(b"{\"job\":\"resize\",\"bytes\":[0,255]}"))
        .with_attribute("kind", "conformance")
        .with_attribute("trace-id", "4bf92f3577b34da6")
        .with_attribute("n", "1");
    let before = fixture.time.now();
    let id = queue.send(message.clone()).await.expect("send");
    let lease = short_lease(&caps);
    let delivery = receive_one(queue, lease, "receive after send").await;
    let after = fixture.time.now();
    assert_eq!(delivery.id, id, "delivery id is the id send returned");
    assert_eq!(delivery.body, message.body);
    assert_eq!(delivery.attributes, message.attributes, "attributes round-trip exactly");
    assert_count(&caps, &delivery, 1, "a first delivery");
    assert!(
        delivery.enqueued_at >= before - CLOCK_SKEW && delivery.enqueued_at <= after + CLOCK_SKEW,
        "enqueued_at {:?} is not between {before:?} and {after:?}",
        delivery.enqueued_at
    );
    expect_nothing(queue, HIDDEN_WAIT, "receive while the only message is leased").await;
    ack(queue, &delivery).await;
    fixture.time.advance(lease + Duration::from_secs(1)).await;
    expect_nothing(queue, Duration::from_secs(1), "receive after ack and past the lease").await;
    passed_unless_counts_inaccurate(&caps)
}

/// A receive on an empty queue returns nothing after about its wait (not much sooner, not much
/// later); with no wait it returns promptly.
pub async fn receive_empty_waits(fixture: &QueueFixture) -> Outcome {
    let queue = &*fixture.queue;
    let wait = Duration::from_secs(1);
    let started = Instant::now();
    let got = queue.receive(ReceiveOptions::default().with_wait(wait)).await.expect("receive with a wait");
    let took = started.elapsed();
    assert!(got.is_empty(), "empty queue delivered {} messages", got.len());
    assert!(took >= wait.mul_f64(0.9), "a receive waiting {wait:?} on an empty queue returned after {took:?}");
    assert!(took <= wait + Duration::from_secs(4), "a receive waiting {wait:?} on an empty queue took {took:?}");

    let started = Instant::now();
    let got = queue.receive(ReceiveOptions::default()).await.expect("receive without a wait");
    let took = started.elapsed();
    assert!(got.is_empty());
    assert!(took < Duration::from_secs(2), "a receive without a wait took {took:?}");
    Outcome::Passed
}

/// A message whose lease expires is delivered again with the same id and body, delivery count 2
/// and a new receipt.
pub async fn lease_expiry_redelivers(fixture: &QueueFixture) -> Outcome {
    let queue = &*fixture.queue;
    let caps = fixture.caps();
    let id = queue.send(Message::new("expires").with_attribute("a", "b")).await.expect("send");
    let lease = short_lease(&caps);
    let first = receive_one(queue, lease, "first receive").await;
    assert_eq!(first.id, id);
    assert_count(&caps, &first, 1, "the first delivery");
    expect_nothing(queue, HIDDEN_WAIT, "receive while leased").await;

    fixture.time.advance(lease + Duration::from_secs(1)).await;
    let second = receive_one(queue, lease, "receive after the lease expired").await;
    assert_eq!(second.id, id, "a redelivery keeps the message id");
    assert_eq!(second.body, "expires");
    assert_eq!(second.attributes, first.attributes);
    assert_eq!(second.enqueued_at, first.enqueued_at, "a redelivery keeps enqueued_at");
    assert_ne!(second.receipt, first.receipt, "a redelivery has a new receipt");
    assert_count(&caps, &second, 2, "the second delivery");
    ack(queue, &second).await;
    passed_unless_counts_inaccurate(&caps)
}

/// `nack` with no delay makes a message deliverable again at once (without its lease expiring),
/// counted as a new delivery.
pub async fn nack_redelivers_now(fixture: &QueueFixture) -> Outcome {
    let queue = &*fixture.queue;
    let caps = fixture.caps();
    let id = queue.send(Message::new("nacked")).await.expect("send");
    let lease = long_lease(&caps);
    let first = receive_one(queue, lease, "first receive").await;
    queue.nack(&first.receipt, Duration::ZERO).await.expect("nack without delay");
    let second = receive_one(queue, lease, "receive after nack").await;
    assert_eq!(second.id, id);
    assert_eq!(second.body, "nacked");
    assert_count(&caps, &second, 2, "a delivery after nack");
    ack(queue, &second).await;
    passed_unless_counts_inaccurate(&caps)
}

/// `nack` with a delay hides the message until the delay passes (a delay over `max_nack_delay`
/// is `InvalidInput` and leaves the lease alone); where nack can only redeliver at once
/// (`max_nack_delay` zero) a delayed nack fails with `Unsupported`.
pub async fn nack_with_delay(fixture: &QueueFixture) -> Outcome {
    let queue = &*fixture.queue;
    let caps = fixture.caps();
    let id = queue.send(Message::new("later")).await.expect("send");
    let lease = long_lease(&caps);
    let first = receive_one(queue, lease, "first receive").await;
    if caps.max_nack_delay.is_zero() {
        expect_kind(
            queue.nack(&first.receipt, Duration::from_secs(1)).await,
            ErrorKind::Unsupported,
            "nack with a delay",
        );
        ack(queue, &first).await;
        return Outcome::Unsupported(format!("{} redelivers a nacked message only at once", caps.provider));
    }
    expect_kind(
        queue.nack(&first.receipt, caps.max_nack_delay + Duration::from_secs(1)).await,
        ErrorKind::InvalidInput,
        "nack with a delay over max_nack_delay",
    );
    let delay = Duration::from_secs(10).min(caps.max_nack_delay);
    queue.nack(&first.receipt, delay).await.expect("nack with a delay (the receipt is still valid)");
    expect_nothing(queue, HIDDEN_WAIT, "receive before a nack's delay passed").await;
    fixture.time.advance(delay + Duration::from_secs(1)).await;
    let second = receive_one(queue, lease, "receive after a nack's delay passed").await;
    assert_eq!(second.id, id);
    assert_count(&caps, &second, 2, "a delivery after a delayed nack");
    ack(queue, &second).await;
    passed_unless_counts_inaccurate(&caps)
}

/// `extend_lease` keeps a message hidden past its original lease; the receipt it returns acks it.
pub async fn extend_lease(fixture: &QueueFixture) -> Outcome {
    let queue = &*fixture.queue;
    let caps = fixture.caps();
    queue.send(Message::new("slow work")).await.expect("send");
    let lease = short_lease(&caps);
    let delivery = receive_one(queue, lease, "receive").await;
    // Three times the first lease: long enough to outlive it clearly, short enough that real-time
    // queues wait seconds, not minutes, for it to pass.
    let extended = (lease * 3).min(caps.max_lease);
    let receipt = queue.extend_lease(&delivery.receipt, extended).await.expect("extend_lease");
    fixture.time.advance(lease + Duration::from_secs(1)).await;
    expect_nothing(queue, HIDDEN_WAIT, "receive past the original lease, within the extended one").await;
    queue.ack(&receipt).await.expect("ack with the receipt extend_lease returned");
    fixture.time.advance(extended + Duration::from_secs(1)).await;
    expect_nothing(queue, Duration::from_secs(1), "receive after ack, past the extended lease").await;
    Outcome::Passed
}

/// After a lease expired and the message was received again, the old receipt's ack, nack and
/// lease extension fail with `PreconditionFailed`, and the new receipt still works.
pub async fn ack_stale_receipt(fixture: &QueueFixture) -> Outcome {
    let queue = &*fixture.queue;
    let caps = fixture.caps();
    queue.send(Message::new("contended")).await.expect("send");
    let lease = short_lease(&caps);
    let stale = receive_one(queue, lease, "first receive").await;
    fixture.time.advance(lease + Duration::from_secs(1)).await;
    let current = receive_one(queue, long_lease(&caps), "receive after the lease expired").await;
    if !caps.detects_lost_lease {
        // The service may accept a stale receipt; what must hold is that the current lease still
        // works and at-least-once delivery is kept (the message is not lost).
        let _ = queue.extend_lease(&stale.receipt, long_lease(&caps)).await;
        let current = queue.extend_lease(&current.receipt, long_lease(&caps)).await.expect("current receipt");
        queue.ack(&current).await.expect("ack with the current receipt");
        return Outcome::NotEnforced(format!("{} does not detect stale receipts", caps.provider));
    }
    expect_kind(queue.ack(&stale.receipt).await, ErrorKind::PreconditionFailed, "ack with a stale receipt");
    expect_kind(
        queue.nack(&stale.receipt, Duration::ZERO).await,
        ErrorKind::PreconditionFailed,
        "nack with a stale receipt",
    );
    expect_kind(
        queue.extend_lease(&stale.receipt, long_lease(&caps)).await,
        ErrorKind::PreconditionFailed,
        "extend_lease with a stale receipt",
    );
    expect_nothing(queue, HIDDEN_WAIT, "receive while the current lease holds").await;
    ack(queue, &current).await;
    Outcome::Passed
}

/// A message sent with a delay stays hidden until it passes (a delay over `max_delay` is
/// `InvalidInput`); without delayed delivery, a delayed send fails with `Unsupported`.
pub async fn delayed_send(fixture: &QueueFixture) -> Outcome {
    let queue = &*fixture.queue;
    let caps = fixture.caps();
    if caps.max_delay.is_zero() {
        let message = Message::new("delayed").with_delay(Duration::from_secs(1));
        expect_kind(queue.send(message).await, ErrorKind::Unsupported, "send with a delay");
        expect_nothing(queue, HIDDEN_WAIT, "receive after a rejected send").await;
        return Outcome::Unsupported(format!("{} has no delayed delivery", caps.provider));
    }
    let too_late = Message::new("too late").with_delay(caps.max_delay + Duration::from_secs(1));
    expect_kind(queue.send(too_late).await, ErrorKind::InvalidInput, "send with a delay over max_delay");

    let delay = Duration::from_secs(10).min(caps.max_delay);
    let id = queue.send(Message::new("delayed").with_delay(delay)).await.expect("delayed send");
    expect_nothing(queue, HIDDEN_WAIT, "receive before the delay passed").await;
    fixture.time.advance(delay + Duration::from_secs(1)).await;
    let delivery = receive_one(queue, long_lease(&caps), "receive after the delay passed").await;
    assert_eq!(delivery.id, id);
    assert_eq!(delivery.body, "delayed");
    assert_count(&caps, &delivery, 1, "a delayed message's first delivery");
    ack(queue, &delivery).await;
    expect_nothing(queue, HIDDEN_WAIT, "receive after acking the only sendable message").await;
    passed_unless_counts_inaccurate(&caps)
}

// ---------------------------------------------------------------------------------------------
// Batches and limits

async fn drain_bodies(queue: &dyn Queue, n: usize) -> BTreeMap<Bytes, MessageId> {
    let caps = queue.capabilities();
    let deliveries = receive_n(queue, n, long_lease(&caps)).await;
    let mut bodies = BTreeMap::new();
    for delivery in &deliveries {
        let previous = bodies.insert(delivery.body.clone(), delivery.id.clone());
        assert!(previous.is_none(), "{:?} delivered twice", delivery.body);
        ack(queue, delivery).await;
    }
    assert_eq!(deliveries.len(), n, "messages received");
    bodies
}

/// A batch gets one result per message, in order: an oversize message in the middle fails with
/// `TooLarge` while the others are sent, with distinct ids, and arrive.
pub async fn send_batch_results(fixture: &QueueFixture) -> Outcome {
    let queue = &*fixture.queue;
    let caps = fixture.caps();
    let oversize = Message::new(vec![b'x'; caps.max_message_size + 1]);
    let batch = vec![Message::new("m0"), Message::new("m1"), oversize, Message::new("m3"), Message::new("m4")];
    let results = queue.send_batch(batch).await.expect("send_batch");
    assert_eq!(results.len(), 5, "one result per message");
    let mut ids = BTreeMap::new();
    for (i, result) in results.into_iter().enumerate() {
        if i == 2 {
            expect_kind(result, ErrorKind::TooLarge, "the oversize message of a batch");
        } else {
            let id = result.unwrap_or_else(|e| panic!("message {i} of a batch with one oversize message: {e}"));
            ids.insert(Bytes::from(format!("m{i}")), id);
        }
    }
    assert_eq!(ids.values().collect::<BTreeSet<_>>().len(), 4, "ids of a batch are distinct");
    let received = drain_bodies(queue, 4).await;
    assert_eq!(received, ids, "bodies received, with the ids send_batch returned");
    expect_nothing(queue, HIDDEN_WAIT, "receive after draining the batch").await;
    Outcome::Passed
}

/// A batch over `max_send_batch` messages is split and every message is sent and arrives.
pub async fn send_batch_over_max(fixture: &QueueFixture) -> Outcome {
    let queue = &*fixture.queue;
    let caps = fixture.caps();
    let n = caps.max_send_batch * 2 + 3;
    let batch: Vec<Message> = (0..n).map(|i| Message::new(format!("batch-{i}"))).collect();
    let results = queue.send_batch(batch).await.expect("send_batch over max_send_batch");
    assert_eq!(results.len(), n);
    let ids: BTreeSet<MessageId> =
        results.into_iter().enumerate().map(|(i, r)| r.unwrap_or_else(|e| panic!("message {i}: {e}"))).collect();
    assert_eq!(ids.len(), n, "ids are distinct");
    let received = drain_bodies(queue, n).await;
    let expected: BTreeSet<Bytes> = (0..n).map(|i| Bytes::from(format!("batch-{i}"))).collect();
    assert_eq!(received.keys().cloned().collect::<BTreeSet<_>>(), expected);
    assert_eq!(received.into_values().collect::<BTreeSet<_>>(), ids);
    Outcome::Passed
}

/// A message of exactly `max_message_size` bytes is sent and arrives whole; one byte more, in the
/// body or in the attributes, fails with `TooLarge` and sends nothing.
pub async fn oversize_message(fixture: &QueueFixture) -> Outcome {
    let queue = &*fixture.queue;
    let caps = fixture.caps();
    let max = caps.max_message_size;
    expect_kind(
        queue.send(Message::new(vec![b'o'; max + 1])).await,
        ErrorKind::TooLarge,
        "send of max_message_size + 1 bytes",
    );
    let with_attribute = Message::new(vec![b'o'; max - 6]).with_attribute("abc", "def0");
    expect_kind(
        queue.send(with_attribute).await,
        ErrorKind::TooLarge,
        "send one byte over the limit counting attributes",
    );
    expect_nothing(queue, HIDDEN_WAIT, "receive after rejected sends").await;

    let body: Bytes = (0..max).map(|i| (i % 251) as u8).collect::<Vec<_>>().into();
    let id = queue.send(Message::new(body.clone())).await.expect("send of exactly max_message_size bytes");
    let delivery = receive_one(queue, long_lease(&caps), "receive of the largest message").await;
    assert_eq!(delivery.id, id);
    assert!(delivery.body == body, "the largest message came back as {} different bytes", delivery.body.len());
    ack(queue, &delivery).await;
    Outcome::Passed
}

/// `max_attributes` attributes round-trip; one more fails with `TooLarge`.
pub async fn too_many_attributes(fixture: &QueueFixture) -> Outcome {
    let queue = &*fixture.queue;
    let caps = fixture.caps();
    let with_n = |n: usize| {
        (0..n).fold(Message::new("attrs"), |m, i| m.with_attribute(format!("attr{i}"), format!("value {i}")))
    };
    expect_kind(
        queue.send(with_n(caps.max_attributes + 1)).await,
        ErrorKind::TooLarge,
        "send with max_attributes + 1 attributes",
    );
    let full = with_n(caps.max_attributes);
    queue.send(full.clone()).await.expect("send with max_attributes attributes");
    let delivery = receive_one(queue, long_lease(&caps), "receive").await;
    assert_eq!(delivery.attributes, full.attributes);
    ack(queue, &delivery).await;
    expect_nothing(queue, HIDDEN_WAIT, "receive after the only valid send").await;
    Outcome::Passed
}

/// Non-portable attribute names and empty values fail with `InvalidInput` and send nothing.
pub async fn invalid_attribute_rejected(fixture: &QueueFixture) -> Outcome {
    let queue = &*fixture.queue;
    for (name, value) in
        [("bad name", "v"), ("aws.reserved", "v"), ("googkey", "v"), (".lead", "v"), ("ü", "v"), ("ok", "")]
    {
        let message = Message::new("x").with_attribute(name, value);
        expect_kind(
            queue.send(message.clone()).await,
            ErrorKind::InvalidInput,
            &format!("send with attribute {name:?}={value:?}"),
        );
        let results = queue.send_batch(vec![message]).await.expect("send_batch attempts each message");
        assert_eq!(results.len(), 1);
        expect_kind(
            results.into_iter().next().unwrap(),
            ErrorKind::InvalidInput,
            &format!("batch with attribute {name:?}"),
        );
    }
    expect_nothing(queue, HIDDEN_WAIT, "receive after rejected sends").await;
    Outcome::Passed
}

/// Receives and lease extensions with a lease outside `min_lease..=max_lease`, or receives of
/// zero messages, fail with `InvalidInput` without taking a message.
pub async fn lease_out_of_range(fixture: &QueueFixture) -> Outcome {
    let queue = &*fixture.queue;
    let caps = fixture.caps();
    queue.send(Message::new("lease limits")).await.expect("send");
    let too_long = caps.max_lease + Duration::from_secs(1);
    let mut bad = vec![
        (ReceiveOptions::default().with_lease(too_long), "a lease over max_lease"),
        (ReceiveOptions::default().with_max_messages(0), "max_messages 0"),
    ];
    if !caps.min_lease.is_zero() {
        bad.push((
            ReceiveOptions::default().with_lease(caps.min_lease - Duration::from_millis(1)),
            "a lease under min_lease",
        ));
    }
    for (opts, what) in bad {
        expect_kind(
            queue.receive(opts.with_wait(Duration::from_millis(100))).await,
            ErrorKind::InvalidInput,
            &format!("receive with {what}"),
        );
    }
    let delivery = receive_one(queue, long_lease(&caps), "receive after rejected receives").await;
    assert_count(&caps, &delivery, 1, "the first valid receive");
    expect_kind(
        queue.extend_lease(&delivery.receipt, too_long).await,
        ErrorKind::InvalidInput,
        "extend_lease over max_lease",
    );
    if !caps.min_lease.is_zero() {
        let too_short = caps.min_lease - Duration::from_millis(1);
        expect_kind(
            queue.extend_lease(&delivery.receipt, too_short).await,
            ErrorKind::InvalidInput,
            "extend_lease under min_lease",
        );
    }
    ack(queue, &delivery).await;
    passed_unless_counts_inaccurate(&caps)
}

/// Asking for more than `max_receive` messages is not an error: a receive returns at most
/// `max_receive`.
pub async fn receive_clamps_max_messages(fixture: &QueueFixture) -> Outcome {
    let queue = &*fixture.queue;
    let caps = fixture.caps();
    let n = caps.max_receive + 5;
    let results =
        queue.send_batch((0..n).map(|i| Message::new(format!("clamp-{i}"))).collect()).await.expect("send_batch");
    assert!(results.iter().all(Result::is_ok), "sends: {results:?}");
    let opts =
        ReceiveOptions::default().with_max_messages(n).with_wait(Duration::from_secs(5)).with_lease(long_lease(&caps));
    let got = queue.receive(opts).await.expect("receive of more than max_receive");
    assert!(
        !got.is_empty() && got.len() <= caps.max_receive,
        "a receive of {n} returned {} (max_receive {})",
        got.len(),
        caps.max_receive
    );
    for delivery in &got {
        ack(queue, delivery).await;
    }
    let rest = drain_bodies(queue, n - got.len()).await;
    assert_eq!(rest.len() + got.len(), n);
    Outcome::Passed
}

// ---------------------------------------------------------------------------------------------
// Dead letters

fn unsupported_dead_letter(caps: &QueueCapabilities) -> Outcome {
    Outcome::Unsupported(format!("{} has no dead-letter queues", caps.provider))
}

async fn check_dead_letter_unsupported(queue: &dyn Queue) {
    let caps = queue.capabilities();
    queue.send(Message::new("poison")).await.expect("send");
    let delivery = receive_one(queue, long_lease(&caps), "receive").await;
    expect_kind(queue.dead_letter(&delivery.receipt, "poison").await, ErrorKind::Unsupported, "dead_letter");
    ack(queue, &delivery).await;
}

/// With a policy of 2 deliveries, a message whose lease expires twice is not delivered a third
/// time: it is in the dead-letter queue, with its body and attributes (and a reason attribute
/// where the provider adds one: the local queues do, SQS redrive and Pub/Sub do not).
pub async fn dead_letter_after_max_deliveries(fixture: &QueueFixture) -> Outcome {
    let queue = &*fixture.queue;
    let caps = fixture.caps();
    if !caps.dead_letter {
        check_dead_letter_unsupported(queue).await;
        return unsupported_dead_letter(&caps);
    }
    let dead_letters = fixture.dead_letters();
    queue.send(Message::new("keeps failing").with_attribute("job", "7")).await.expect("send");
    let lease = short_lease(&caps);
    for n in 1..=2 {
        let delivery = receive_one(queue, lease, &format!("delivery {n}")).await;
        assert_count(&caps, &delivery, n, &format!("delivery {n}"));
        fixture.time.advance(lease + Duration::from_secs(1)).await;
    }
    expect_nothing(queue, Duration::from_secs(1), "receive after max_deliveries deliveries").await;
    let dead =
        receive_one(dead_letters, long_lease(&dead_letters.capabilities()), "receive from the dead-letter queue").await;
    assert_eq!(dead.body, "keeps failing");
    assert_eq!(
        dead.attributes.get("job").map(String::as_str),
        Some("7"),
        "attributes of the dead letter: {:?}",
        dead.attributes
    );
    // Services that move messages themselves (SQS redrive, Pub/Sub dead-letter topics) add no
    // reason; where one is added, it says something.
    let reason = dead.attributes.get(DEAD_LETTER_REASON_ATTRIBUTE);
    assert!(reason.is_none_or(|r| !r.is_empty()), "an empty {DEAD_LETTER_REASON_ATTRIBUTE}: {:?}", dead.attributes);
    ack(dead_letters, &dead).await;
    passed_unless_counts_inaccurate(&caps)
}

/// `dead_letter` moves a delivery to the dead-letter queue at once, recording the reason; the
/// main queue never delivers it again.
pub async fn dead_letter_now(fixture: &QueueFixture) -> Outcome {
    let queue = &*fixture.queue;
    let caps = fixture.caps();
    if !caps.dead_letter {
        check_dead_letter_unsupported(queue).await;
        return unsupported_dead_letter(&caps);
    }
    let dead_letters = fixture.dead_letters();
    queue.send(Message::new("{not json").with_attribute("source", "upload")).await.expect("send");
    let lease = short_lease(&caps);
    let delivery = receive_one(queue, lease, "receive").await;
    queue.dead_letter(&delivery.receipt, "poison: invalid json").await.expect("dead_letter");
    fixture.time.advance(lease + Duration::from_secs(1)).await;
    expect_nothing(queue, Duration::from_secs(1), "receive after dead_letter, past the lease").await;
    let dead =
        receive_one(dead_letters, long_lease(&dead_letters.capabilities()), "receive from the dead-letter queue").await;
    assert_eq!(dead.body, "{not json");
    assert_eq!(dead.attributes.get("source").map(String::as_str), Some("upload"));
    assert_eq!(
        dead.attributes.get(DEAD_LETTER_REASON_ATTRIBUTE).map(String::as_str),
        Some("poison: invalid json"),
        "reason attribute of the dead letter"
    );
    ack(dead_letters, &dead).await;
    Outcome::Passed
}

/// `dead_letter` on a queue without a dead-letter policy fails with `Config` (`Unsupported` if
/// the provider has no dead-lettering) and keeps the lease, so the delivery can still be acked.
pub async fn dead_letter_without_policy(fixture: &QueueFixture) -> Outcome {
    let queue = &*fixture.queue;
    let caps = fixture.caps();
    if !caps.dead_letter {
        check_dead_letter_unsupported(queue).await;
        return unsupported_dead_letter(&caps);
    }
    queue.send(Message::new("nowhere to go")).await.expect("send");
    let delivery = receive_one(queue, long_lease(&caps), "receive").await;
    expect_kind(
        queue.dead_letter(&delivery.receipt, "poison").await,
        ErrorKind::Config,
        "dead_letter without a policy",
    );
    ack(queue, &delivery).await;
    Outcome::Passed
}

// ---------------------------------------------------------------------------------------------
// Concurrency and tracing

/// 200 messages sent in batches and consumed by 4 concurrent consumers under long leases: every
/// message is received and acked exactly once (at least once, copies identical, where
/// `exclusive_lease` is false).
pub async fn concurrent_consumers(fixture: &QueueFixture) -> Outcome {
    const MESSAGES: usize = 200;
    const CONSUMERS: usize = 4;
    let caps = fixture.caps();
    let mut sent = BTreeMap::new();
    for batch in 0..4 {
        let messages: Vec<Message> =
            (batch * 50..(batch + 1) * 50).map(|i| Message::new(format!("work-{i:03}"))).collect();
        let results = fixture.queue.send_batch(messages).await.expect("send_batch");
        for (j, result) in results.into_iter().enumerate() {
            let id = result.unwrap_or_else(|e| panic!("message {}: {e}", batch * 50 + j));
            sent.insert(id, Bytes::from(format!("work-{:03}", batch * 50 + j)));
        }
    }
    assert_eq!(sent.len(), MESSAGES, "send_batch returned distinct ids");

    let seen: Arc<Mutex<HashMap<MessageId, Vec<Bytes>>>> = Arc::default();
    let started = Instant::now();
    let deadline = Duration::from_secs(60);
    let racy_acks = fixture.emulator_gap("concurrent_consumers").is_some();
    let consumers = (0..CONSUMERS)
        .map(|_| {
            let (queue, seen) = (fixture.queue.clone(), seen.clone());
            tokio::spawn(async move {
                let opts = ReceiveOptions::default()
                    .with_max_messages(caps.max_receive)
                    .with_wait(Duration::from_secs(1))
                    .with_lease(long_lease(&caps));
                loop {
                    let done = seen.lock().unwrap().len() >= MESSAGES;
                    if done || started.elapsed() > deadline {
                        break;
                    }
                    for delivery in queue.receive(opts.clone()).await.expect("receive") {
                        seen.lock().unwrap().entry(delivery.id.clone()).or_default().push(delivery.body.clone());
                        match queue.ack(&delivery.receipt).await {
                            Ok(()) => {}
                            // The emulator lost track of a held lease: the message may come again.
                            Err(e) if racy_acks && e.kind() == ErrorKind::PreconditionFailed => {}
                            Err(e) => panic!("ack of {}: {e}", delivery.id),
                        }
                    }
                }
            })
        })
        .collect();
    join_all(consumers).await;
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    let duplicates: Vec<_> = seen.iter().filter(|(_, bodies)| bodies.len() > 1).collect();
    if caps.exclusive_lease {
        assert!(duplicates.is_empty(), "delivered more than once under long leases: {duplicates:?}");
    } else {
        // Copies are allowed, but a copy is the same message.
        for (id, bodies) in &duplicates {
            assert!(bodies.iter().all(|b| *b == bodies[0]), "copies of {id} differ: {bodies:?}");
        }
    }
    assert_eq!(seen.len(), MESSAGES, "distinct messages received within {deadline:?}");
    for (id, body) in &sent {
        assert_eq!(seen.get(id).map(|b| &b[0]), Some(body), "message {id}");
    }
    if let Some(reason) = fixture.emulator_gap("concurrent_consumers") {
        // A message whose ack raced may be delivered again, so the queue need not be empty.
        let copies = if caps.exclusive_lease {
            String::new()
        } else {
            format!("{} may deliver a copy of a leased message; ", caps.provider)
        };
        return Outcome::NotEnforced(format!("{copies}{reason}"));
    }
    expect_nothing(&*fixture.queue, HIDDEN_WAIT, "receive after every message was acked").await;
    if caps.exclusive_lease {
        Outcome::Passed
    } else {
        Outcome::NotEnforced(format!("{} may deliver a copy of a leased message", caps.provider))
    }
}

/// Every operation runs in a span named `queue` (target `cloudport`) with `provider`,
/// `operation` (`send`, `send_batch`, `receive`, `extend_lease`, `nack`, `ack`), `queue` (the
/// queue's name) and `outcome` (`ok`, or the error kind, such as `too_large` for an oversize send).
pub async fn tracing_spans(fixture: &QueueFixture) -> Outcome {
    let queue = &*fixture.queue;
    let caps = fixture.caps();
    let lease = long_lease(&caps);
    let ((), spans) = crate::trace::capture(async {
        queue.send(Message::new("traced")).await.expect("send");
        let results = queue.send_batch(vec![Message::new("traced batch")]).await.expect("send_batch");
        assert!(results[0].is_ok());
        let first = receive_one(queue, lease, "receive").await;
        let receipt = queue.extend_lease(&first.receipt, lease).await.expect("extend_lease");
        queue.nack(&receipt, Duration::ZERO).await.expect("nack");
        for delivery in receive_n(queue, 2, lease).await {
            ack(queue, &delivery).await;
        }
        expect_kind(
            queue.send(Message::new(vec![0u8; caps.max_message_size + 1])).await,
            ErrorKind::TooLarge,
            "oversize send",
        );
    })
    .await;

    let shown = || spans.iter().map(|s| format!("{}{:?}", s.name, s.fields)).collect::<Vec<_>>().join("\n  ");
    for (operation, outcome) in [
        ("send", "ok"),
        ("send_batch", "ok"),
        ("receive", "ok"),
        ("extend_lease", "ok"),
        ("nack", "ok"),
        ("ack", "ok"),
        ("send", "too_large"),
    ] {
        let span = spans
            .iter()
            .find(|s| {
                s.name == "queue" && s.field("operation") == Some(operation) && s.field("outcome") == Some(outcome)
            })
            .unwrap_or_else(|| {
                panic!("no `queue` span with operation={operation:?}, outcome={outcome:?}; spans:\n  {}", shown())
            });
        assert_eq!(span.field("provider"), Some(caps.provider), "provider field of the {operation} span");
        assert_eq!(span.field("queue"), Some(queue.name()), "queue field of the {operation} span");
    }
    let open: Vec<_> = spans.iter().filter(|s| s.name == "queue" && s.field("outcome").is_none()).collect();
    assert!(open.is_empty(), "queue spans that never recorded an outcome: {open:?}");
    Outcome::Passed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_public_behaviour_is_in_the_suite() {
        let defined = crate::util::defined_behaviours(include_str!("queue.rs"), "QueueFixture");
        assert_eq!(defined, BEHAVIOURS, "the macro's list and the functions differ (order included)");
    }

    #[test]
    fn specs_are_unique_and_ask_for_dead_letters_where_needed() {
        let a = QueueSpec::for_behaviour("send_receive_ack");
        let b = QueueSpec::for_behaviour("send_receive_ack");
        assert_ne!(a.name, b.name);
        assert!(a.name.starts_with("cpconf-") && a.name.len() == 23);
        assert_eq!(a.dead_letter, None);
        let dlq = QueueSpec::for_behaviour("dead_letter_after_max_deliveries").dead_letter.unwrap();
        assert_eq!(dlq.max_deliveries, 2);
        assert!(dlq.queue.ends_with("-dlq"));
        assert!(QueueSpec::for_behaviour("dead_letter_now").dead_letter.is_some());
        assert!(QueueSpec::for_behaviour("dead_letter_without_policy").dead_letter.is_none());
        for name in ["dead_letter_after_max_deliveries", "dead_letter_now"] {
            assert!(BEHAVIOURS.contains(&name));
        }
    }

    #[tokio::test]
    async fn manual_time_moves_without_sleeping_and_real_time_sleeps() {
        let manual = ManualTime::new();
        let clock = manual.clock();
        let before = clock.now();
        manual.advance(Duration::from_secs(90)).await;
        assert_eq!(clock.now().duration_since(before).unwrap(), Duration::from_secs(90));
        assert_eq!(manual.now(), clock.now());

        let started = Instant::now();
        RealTime.advance(Duration::from_millis(50)).await;
        assert!(started.elapsed() >= Duration::from_millis(50));
    }
}
