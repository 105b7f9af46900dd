//! The batch a queue-triggered function receives and the per-message outcome it returns.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use crate::queue::{Attributes, Delivery, MessageId};

/// A message as a host received it, before its body is decoded: the normalized input every
/// platform's queue event (an SQS record, an Azure queue envelope, a Pub/Sub push) becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RawMessage {
    /// The message id, stable across redeliveries.
    pub id: MessageId,
    /// The body, already base64-decoded where the platform encodes it.
    pub body: Bytes,
    /// The message's attributes.
    pub attributes: Attributes,
    /// How many times the message has been delivered, this delivery included (1 on the first).
    pub delivery_count: u32,
    /// When the message was first enqueued.
    pub enqueued_at: SystemTime,
}

impl RawMessage {
    /// A first delivery of `body` with id `id`, enqueued now.
    #[must_use]
    pub fn new(id: MessageId, body: impl Into<Bytes>) -> Self {
        Self { id, body: body.into(), attributes: Attributes::new(), delivery_count: 1, enqueued_at: SystemTime::now() }
    }

    /// Sets the attributes.
    #[must_use]
    pub fn with_attributes(mut self, attributes: Attributes) -> Self {
        self.attributes = attributes;
        self
    }

    /// Sets the delivery count.
    #[must_use]
    pub fn with_delivery_count(mut self, delivery_count: u32) -> Self {
        self.delivery_count = delivery_count;
        self
    }
}

impl From<&Delivery> for RawMessage {
    fn from(d: &Delivery) -> Self {
        Self {
            id: d.id.clone(),
            body: d.body.clone(),
            attributes: d.attributes.clone(),
            delivery_count: d.delivery_count,
            enqueued_at: d.enqueued_at,
        }
    }
}

/// One decoded message of a [`QueueBatch`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueMessage<T> {
    /// The message id, stable across redeliveries: use it to make handling idempotent.
    pub id: MessageId,
    /// The body, decoded from JSON.
    pub body: T,
    /// The body as it arrived.
    pub raw_body: Bytes,
    /// The message's attributes.
    pub attributes: Attributes,
    /// How many times the message has been delivered, this delivery included.
    pub delivery_count: u32,
    /// When the message was first enqueued.
    pub enqueued_at: SystemTime,
}

/// The messages a queue function handles in one invocation, bodies decoded from JSON into `T`.
///
/// Messages whose body does not decode into `T` never reach the handler: the host dead-letters
/// them with the decoding error as the reason (retrying cannot fix them), and handles the rest.
/// Use `QueueBatch<serde_json::Value>` to see every message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueBatch<T> {
    messages: Vec<QueueMessage<T>>,
}

impl<T> QueueBatch<T> {
    /// A batch of already decoded messages (for tests and hosts).
    #[must_use]
    pub fn new(messages: Vec<QueueMessage<T>>) -> Self {
        Self { messages }
    }

    /// The messages.
    #[must_use]
    pub fn messages(&self) -> &[QueueMessage<T>] {
        &self.messages
    }

    /// The number of messages.
    #[must_use]
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Whether the batch has no messages.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Iterates over the messages.
    pub fn iter(&self) -> std::slice::Iter<'_, QueueMessage<T>> {
        self.messages.iter()
    }
}

impl<T> IntoIterator for QueueBatch<T> {
    type Item = QueueMessage<T>;
    type IntoIter = std::vec::IntoIter<QueueMessage<T>>;

    fn into_iter(self) -> Self::IntoIter {
        self.messages.into_iter()
    }
}

impl<'a, T> IntoIterator for &'a QueueBatch<T> {
    type Item = &'a QueueMessage<T>;
    type IntoIter = std::slice::Iter<'a, QueueMessage<T>>;

    fn into_iter(self) -> Self::IntoIter {
        self.messages.iter()
    }
}

/// What should happen to one message after its handler ran.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MessageOutcome {
    /// Done: delete it.
    Ack,
    /// Deliver it again, after `delay` or, when `None`, after the host's backoff for its delivery
    /// count. Once its deliveries reach the dead-letter limit it is dead-lettered instead.
    Retry {
        /// How long to wait before redelivery.
        delay: Option<Duration>,
    },
    /// Retrying cannot help: move it to the dead-letter queue now, with `reason`.
    DeadLetter {
        /// Why, stored with the dead-lettered message.
        reason: String,
    },
}

/// The per-message result of a queue function: every message is acked unless marked otherwise,
/// so one bad message does not fail the batch.
///
/// Hosts map it to the platform's signal: SQS `batchItemFailures` (plus a visibility change for
/// the delay), Azure poison queues, Pub/Sub nack and dead-letter topics, local ack/nack.
///
/// ```
/// use std::time::Duration;
/// use cloudport_core::function::{BatchOutcome, MessageOutcome};
/// use cloudport_core::MessageId;
///
/// let (a, b) = (MessageId::new("a"), MessageId::new("b"));
/// let mut outcome = BatchOutcome::ack_all();
/// outcome.retry(&a, Some(Duration::from_secs(30)));
/// outcome.dead_letter(&b, "order refers to a deleted customer");
/// assert_eq!(outcome.outcome_of(&MessageId::new("c")), &MessageOutcome::Ack);
/// assert_eq!(outcome.failures().count(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    failures: BTreeMap<MessageId, MessageOutcome>,
}

impl BatchOutcome {
    /// Every message succeeded.
    #[must_use]
    pub fn ack_all() -> Self {
        Self::default()
    }

    /// Every message of `ids` is to be retried after `delay` (or the host's backoff).
    #[must_use]
    pub fn retry_all<'a>(ids: impl IntoIterator<Item = &'a MessageId>, delay: Option<Duration>) -> Self {
        let mut outcome = Self::default();
        for id in ids {
            outcome.retry(id, delay);
        }
        outcome
    }

    /// Marks `id` for redelivery after `delay` (`None`: the host's backoff).
    pub fn retry(&mut self, id: &MessageId, delay: Option<Duration>) -> &mut Self {
        self.failures.insert(id.clone(), MessageOutcome::Retry { delay });
        self
    }

    /// Marks `id` for the dead-letter queue, now.
    pub fn dead_letter(&mut self, id: &MessageId, reason: impl Into<String>) -> &mut Self {
        self.failures.insert(id.clone(), MessageOutcome::DeadLetter { reason: reason.into() });
        self
    }

    /// Marks `id` as done again (undoing `retry` or `dead_letter`).
    pub fn ack(&mut self, id: &MessageId) -> &mut Self {
        self.failures.remove(id);
        self
    }

    /// What should happen to `id`.
    #[must_use]
    pub fn outcome_of(&self, id: &MessageId) -> &MessageOutcome {
        self.failures.get(id).unwrap_or(&MessageOutcome::Ack)
    }

    /// The messages not acked, with their outcome.
    pub fn failures(&self) -> impl Iterator<Item = (&MessageId, &MessageOutcome)> {
        self.failures.iter()
    }

    /// Whether every message is acked.
    #[must_use]
    pub fn is_all_ack(&self) -> bool {
        self.failures.is_empty()
    }

    /// Adds the failures of `other`, which win where both name a message.
    pub fn merge(&mut self, other: BatchOutcome) {
        self.failures.extend(other.failures);
    }
}
