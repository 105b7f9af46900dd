//! Queues: the [`Queue`] trait every provider implements and the [`QueueExt`] conveniences.
//!
//! Delivery is **at least once** on every provider: a message is delivered again if its lease
//! expires before it is acked, if it is nacked, or if the consumer dies holding it. Handlers must
//! therefore be idempotent (the message id is stable across redeliveries). Order is not
//! guaranteed.

mod types;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

pub use types::*;

use crate::capability::QueueCapabilities;
use crate::error::Result;

/// A queue: send messages, receive them under a lease, then ack, nack or dead-letter each.
///
/// ```
/// # async fn demo(queue: std::sync::Arc<dyn cloudport_core::Queue>) -> cloudport_core::Result<()> {
/// use std::time::Duration;
/// use cloudport_core::{Message, QueueExt, ReceiveOptions};
///
/// queue.send(Message::new("resize photos/cat.jpg")).await?;
/// let opts = ReceiveOptions::default().with_max_messages(10).with_wait(Duration::from_secs(5));
/// for delivery in queue.receive(opts).await? {
///     // ... do the work, then:
///     queue.ack(&delivery.receipt).await?;
/// }
/// # Ok(()) }
/// ```
#[async_trait]
pub trait Queue: fmt::Debug + Send + Sync {
    /// What this queue can do, and its limits.
    fn capabilities(&self) -> QueueCapabilities;

    /// The queue's name.
    fn name(&self) -> &str;

    /// Sends one message.
    ///
    /// # Errors
    /// `TooLarge`, `InvalidInput` or `Unsupported` from [`Message::validate`], before any I/O.
    async fn send(&self, message: Message) -> Result<MessageId>;

    /// Sends many messages, splitting them into requests of at most
    /// [`QueueCapabilities::max_send_batch`]; one result per message, in order, so one bad
    /// message does not fail the others.
    ///
    /// # Errors
    /// Only when nothing could be attempted; per-message failures are in the returned vector.
    async fn send_batch(&self, messages: Vec<Message>) -> Result<Vec<Result<MessageId>>>;

    /// Receives up to `opts.max_messages` messages, waiting up to `opts.wait` for the first, each
    /// leased for `opts.lease`.
    ///
    /// # Errors
    /// `InvalidInput` for a lease outside the provider's range.
    async fn receive(&self, opts: ReceiveOptions) -> Result<Vec<Delivery>>;

    /// Acknowledges a delivery: the message is gone for good.
    ///
    /// # Errors
    /// `PreconditionFailed` when the lease was lost (expired and the message was delivered again)
    /// and the provider can tell ([`QueueCapabilities::detects_lost_lease`]); the message may
    /// then be processed twice, as at-least-once allows.
    async fn ack(&self, receipt: &Receipt) -> Result<()>;

    /// Gives a delivery back: it becomes visible again after `delay` (zero: at once).
    ///
    /// # Errors
    /// `PreconditionFailed` when the lease was lost; `InvalidInput`/`Unsupported` for a delay over
    /// [`QueueCapabilities::max_nack_delay`] (see [`check_nack_delay`]).
    async fn nack(&self, receipt: &Receipt, delay: Duration) -> Result<()>;

    /// Extends the lease to `lease` from now; returns the receipt to use from now on.
    ///
    /// # Errors
    /// `PreconditionFailed` when the lease was already lost; `InvalidInput` outside the lease range.
    async fn extend_lease(&self, receipt: &Receipt, lease: Duration) -> Result<Receipt>;

    /// Moves a delivery to the dead-letter queue now, recording `reason` in the
    /// [`DEAD_LETTER_REASON_ATTRIBUTE`] attribute.
    ///
    /// # Errors
    /// `Config` when no dead-letter queue is configured; `PreconditionFailed` when the lease was lost.
    async fn dead_letter(&self, receipt: &Receipt, reason: &str) -> Result<()>;
}

/// Conveniences over [`Queue`], implemented for every queue.
pub trait QueueExt: Queue {
    /// Sends a body with no attributes and no delay.
    ///
    /// # Errors
    /// As [`Queue::send`].
    fn send_bytes(&self, body: impl Into<Bytes> + Send) -> impl Future<Output = Result<MessageId>> + Send {
        async move { self.send(Message::new(body)).await }
    }

    /// Receives up to `max` messages, waiting up to `wait`, with the default lease.
    ///
    /// # Errors
    /// As [`Queue::receive`].
    fn receive_batch(&self, max: usize, wait: Duration) -> impl Future<Output = Result<Vec<Delivery>>> + Send {
        async move { self.receive(ReceiveOptions::default().with_max_messages(max).with_wait(wait)).await }
    }
}

impl<T: Queue + ?Sized> QueueExt for T {}

macro_rules! forward_queue {
    ($($ty:ty),*) => {$(
        #[async_trait]
        impl<T: Queue + ?Sized> Queue for $ty {
            fn capabilities(&self) -> QueueCapabilities {
                (**self).capabilities()
            }
            fn name(&self) -> &str {
                (**self).name()
            }
            async fn send(&self, message: Message) -> Result<MessageId> {
                (**self).send(message).await
            }
            async fn send_batch(&self, messages: Vec<Message>) -> Result<Vec<Result<MessageId>>> {
                (**self).send_batch(messages).await
            }
            async fn receive(&self, opts: ReceiveOptions) -> Result<Vec<Delivery>> {
                (**self).receive(opts).await
            }
            async fn ack(&self, receipt: &Receipt) -> Result<()> {
                (**self).ack(receipt).await
            }
            async fn nack(&self, receipt: &Receipt, delay: Duration) -> Result<()> {
                (**self).nack(receipt, delay).await
            }
            async fn extend_lease(&self, receipt: &Receipt, lease: Duration) -> Result<Receipt> {
                (**self).extend_lease(receipt, lease).await
            }
            async fn dead_letter(&self, receipt: &Receipt, reason: &str) -> Result<()> {
                (**self).dead_letter(receipt, reason).await
            }
        }
    )*};
}

forward_queue!(Arc<T>, Box<T>, &T);
