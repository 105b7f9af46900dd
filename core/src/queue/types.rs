//! Messages, deliveries and options of queue operations.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use crate::capability::QueueCapabilities;
use crate::error::{Error, ErrorKind, Result};

/// String attributes carried beside a message body.
pub type Attributes = BTreeMap<String, String>;

/// Longest attribute name any provider accepts.
pub const MAX_ATTRIBUTE_NAME_LEN: usize = 256;
/// Longest attribute value (Pub/Sub's limit), in bytes.
pub const MAX_ATTRIBUTE_VALUE_LEN: usize = 1024;

/// A message to send.
///
/// ```
/// use std::time::Duration;
/// use cloudport_core::Message;
///
/// let msg = Message::new("resize photos/cat.jpg")
///     .with_attribute("trace_id", "4bf92f3577b34da6")
///     .with_delay(Duration::from_secs(30));
/// assert_eq!(msg.size(), 21 + 8 + 16);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Message {
    /// The body.
    pub body: Bytes,
    /// String attributes.
    pub attributes: Attributes,
    /// Time before the message becomes visible to receivers.
    pub delay: Option<Duration>,
}

impl Message {
    /// A message with `body`, no attributes and no delay.
    pub fn new(body: impl Into<Bytes>) -> Self {
        Self { body: body.into(), attributes: Attributes::new(), delay: None }
    }

    /// Adds an attribute.
    #[must_use]
    pub fn with_attribute(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.insert(name.into(), value.into());
        self
    }

    /// Delays delivery.
    #[must_use]
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Body plus attribute names and values, in bytes: what limits are measured against.
    #[must_use]
    pub fn size(&self) -> usize {
        self.body.len() + self.attributes.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
    }

    /// Checks the message against `caps` before any I/O: size, attribute rules, delay.
    ///
    /// # Errors
    /// `TooLarge` over [`QueueCapabilities::max_message_size`] or `max_attributes`;
    /// `InvalidInput` for a non-portable attribute; `Unsupported` for a delay on a queue without
    /// delayed send; `InvalidInput` for a delay over `max_delay`.
    pub fn validate(&self, caps: &QueueCapabilities) -> Result<()> {
        let size = self.size();
        if size > caps.max_message_size {
            return Err(Error::new(
                ErrorKind::TooLarge,
                format!(
                    "message is {size} bytes (body plus attributes), over the {}-byte limit of {} (store the payload in a blob and send its key)",
                    caps.max_message_size, caps.provider
                ),
            ));
        }
        if self.attributes.len() > caps.max_attributes {
            return Err(Error::new(
                ErrorKind::TooLarge,
                format!(
                    "message has {} attributes, over the limit of {} on {}",
                    self.attributes.len(),
                    caps.max_attributes,
                    caps.provider
                ),
            ));
        }
        for (name, value) in &self.attributes {
            validate_attribute(name, value)?;
        }
        if let Some(delay) = self.delay.filter(|d| !d.is_zero()) {
            check_delay(delay, caps)?;
        }
        Ok(())
    }
}

/// Checks a send delay against `caps`.
///
/// # Errors
/// `Unsupported` if the queue cannot delay a send; `InvalidInput` over `max_delay`.
pub fn check_delay(delay: Duration, caps: &QueueCapabilities) -> Result<()> {
    check_delay_limit(delay, caps.max_delay, caps.provider, "delayed delivery", "delay")
}

/// Checks a nack delay against `caps`.
///
/// # Errors
/// `Unsupported` if the queue can only redeliver at once; `InvalidInput` over `max_nack_delay`.
pub fn check_nack_delay(delay: Duration, caps: &QueueCapabilities) -> Result<()> {
    check_delay_limit(delay, caps.max_nack_delay, caps.provider, "a nack with a redelivery delay", "nack delay")
}

fn check_delay_limit(delay: Duration, max: Duration, provider: &'static str, feature: &str, noun: &str) -> Result<()> {
    if delay.is_zero() {
        return Ok(());
    }
    if max.is_zero() {
        return Err(Error::unsupported(provider, feature));
    }
    if delay > max {
        return Err(Error::invalid_input(format!(
            "{noun} of {} s is over the {} s maximum of {provider}",
            delay.as_secs(),
            max.as_secs()
        )));
    }
    Ok(())
}

fn validate_attribute(name: &str, value: &str) -> Result<()> {
    let lower = name.to_ascii_lowercase();
    let valid = !name.is_empty()
        && name.len() <= MAX_ATTRIBUTE_NAME_LEN
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..")
        && !lower.starts_with("aws.")
        && !lower.starts_with("amazon.")
        && !lower.starts_with("goog");
    if !valid {
        return Err(Error::invalid_input(format!(
            "attribute name {name:?} is not portable (use 1-256 ASCII letters, digits, '_', '-', '.'; no leading, trailing or double '.'; no aws./amazon./goog prefix)"
        )));
    }
    if value.is_empty() || value.len() > MAX_ATTRIBUTE_VALUE_LEN {
        return Err(Error::invalid_input(format!(
            "attribute {name:?} must have a value of 1-{MAX_ATTRIBUTE_VALUE_LEN} bytes"
        )));
    }
    if value.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
        return Err(Error::invalid_input(format!(
            "attribute {name:?} contains a control character other than tab or newline"
        )));
    }
    Ok(())
}

/// The id a queue gave a message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(String);

impl MessageId {
    /// Wraps a provider's id.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Proof of holding the lease on one delivery: what ack, nack and lease extension take.
///
/// Opaque and provider-specific (an SQS receipt handle, an Azure pop receipt, a Pub/Sub ack id).
/// A lease extension may return a new receipt (Azure does): use the newest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Receipt(String);

impl Receipt {
    /// Wraps a provider's handle.
    pub fn new(handle: impl Into<String>) -> Self {
        Self(handle.into())
    }

    /// The handle.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A message handed to a receiver, leased to it until acked, nacked or the lease expires.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Delivery {
    /// The message's id, stable across redeliveries.
    pub id: MessageId,
    /// The body.
    pub body: Bytes,
    /// The attributes it was sent with.
    pub attributes: Attributes,
    /// How many times it has been delivered, this time included (1 on first delivery).
    pub delivery_count: u32,
    /// When it was first sent.
    pub enqueued_at: SystemTime,
    /// The lease handle.
    pub receipt: Receipt,
}

impl Delivery {
    /// A delivery.
    #[must_use]
    pub fn new(
        id: MessageId,
        body: Bytes,
        attributes: Attributes,
        delivery_count: u32,
        enqueued_at: SystemTime,
        receipt: Receipt,
    ) -> Self {
        Self { id, body, attributes, delivery_count, enqueued_at, receipt }
    }
}

/// Options of [`Queue::receive`](super::Queue::receive).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReceiveOptions {
    /// Return at most this many messages (more than the provider's `max_receive` is clamped to
    /// it: a receive may always return fewer).
    pub max_messages: usize,
    /// Wait up to this long for a first message (long poll); zero returns at once.
    pub wait: Duration,
    /// Lease each delivery for this long; `None` uses the provider's default.
    pub lease: Option<Duration>,
}

impl Default for ReceiveOptions {
    fn default() -> Self {
        Self { max_messages: 1, wait: Duration::ZERO, lease: None }
    }
}

impl ReceiveOptions {
    /// Receives up to `n` messages.
    #[must_use]
    pub fn with_max_messages(mut self, n: usize) -> Self {
        self.max_messages = n;
        self
    }

    /// Waits up to `wait` for a message.
    #[must_use]
    pub fn with_wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// Leases deliveries for `lease`.
    #[must_use]
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = Some(lease);
        self
    }

    /// Validates against `caps` and returns the lease to use and the clamped message count.
    ///
    /// # Errors
    /// `InvalidInput` for zero messages or a lease outside the provider's range.
    pub fn resolve(&self, caps: &QueueCapabilities) -> Result<(Duration, usize)> {
        if self.max_messages == 0 {
            return Err(Error::invalid_input("receive needs max_messages of at least 1"));
        }
        let lease = self.lease.unwrap_or(caps.default_lease);
        check_lease(lease, caps)?;
        Ok((lease, self.max_messages.min(caps.max_receive)))
    }
}

/// Checks a lease duration against `caps`.
///
/// # Errors
/// `InvalidInput` outside `min_lease..=max_lease`.
pub fn check_lease(lease: Duration, caps: &QueueCapabilities) -> Result<()> {
    if lease < caps.min_lease || lease > caps.max_lease {
        return Err(Error::invalid_input(format!(
            "lease of {:?} is outside the {:?}..={:?} range of {}",
            lease, caps.min_lease, caps.max_lease, caps.provider
        )));
    }
    Ok(())
}

/// Where and when messages that keep failing go.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeadLetterPolicy {
    /// Name of the queue that receives them.
    pub queue: String,
    /// Deliveries after which a message moves there instead of being delivered again.
    pub max_deliveries: u32,
}

impl DeadLetterPolicy {
    /// Moves messages to `queue` after `max_deliveries` deliveries.
    pub fn new(queue: impl Into<String>, max_deliveries: u32) -> Self {
        Self { queue: queue.into(), max_deliveries }
    }
}

/// The attribute a dead-lettered message carries with the reason given to
/// [`Queue::dead_letter`](super::Queue::dead_letter).
pub const DEAD_LETTER_REASON_ATTRIBUTE: &str = "cloudport.dead_letter_reason";

#[cfg(test)]
mod tests {
    use super::*;

    fn caps() -> QueueCapabilities {
        QueueCapabilities {
            provider: "test",
            max_message_size: 100,
            max_attributes: 2,
            max_send_batch: 10,
            max_receive: 10,
            max_delay: Duration::from_secs(60),
            min_lease: Duration::from_secs(1),
            max_lease: Duration::from_secs(600),
            default_lease: Duration::from_secs(30),
            ..Default::default()
        }
    }

    #[test]
    fn oversize_is_too_large_counting_attributes() {
        let m = Message::new(vec![0u8; 95]).with_attribute("abc", "def");
        assert_eq!(m.validate(&caps()).unwrap_err().kind(), ErrorKind::TooLarge);
        Message::new(vec![0u8; 94]).with_attribute("abc", "de").validate(&caps()).unwrap();
    }

    #[test]
    fn attribute_rules() {
        for bad in ["", "AWS.x", "goog-id", ".a", "a.", "a..b", "sp ace", "ü"] {
            let m = Message::new("x").with_attribute(bad, "v");
            assert_eq!(m.validate(&caps()).unwrap_err().kind(), ErrorKind::InvalidInput, "{bad:?}");
        }
        let m = Message::new("x").with_attribute("ok", "");
        assert_eq!(m.validate(&caps()).unwrap_err().kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn delays() {
        let too_long = Message::new("x").with_delay(Duration::from_secs(61));
        assert_eq!(too_long.validate(&caps()).unwrap_err().kind(), ErrorKind::InvalidInput);
        let no_delay = QueueCapabilities { max_delay: Duration::ZERO, ..caps() };
        let delayed = Message::new("x").with_delay(Duration::from_secs(1));
        assert_eq!(delayed.validate(&no_delay).unwrap_err().kind(), ErrorKind::Unsupported);
        Message::new("x").with_delay(Duration::ZERO).validate(&no_delay).unwrap();
    }

    #[test]
    fn nack_delays_have_their_own_limit() {
        let caps = QueueCapabilities { max_delay: Duration::ZERO, max_nack_delay: Duration::from_secs(600), ..caps() };
        check_nack_delay(Duration::from_secs(600), &caps).unwrap();
        assert_eq!(check_nack_delay(Duration::from_secs(601), &caps).unwrap_err().kind(), ErrorKind::InvalidInput);
        let none = QueueCapabilities { max_nack_delay: Duration::ZERO, ..caps };
        assert_eq!(check_nack_delay(Duration::from_secs(1), &none).unwrap_err().kind(), ErrorKind::Unsupported);
        check_nack_delay(Duration::ZERO, &none).unwrap();
    }

    #[test]
    fn receive_clamps_count_but_rejects_bad_lease() {
        let o = ReceiveOptions::default().with_max_messages(50);
        assert_eq!(o.resolve(&caps()).unwrap(), (Duration::from_secs(30), 10));
        let o = ReceiveOptions::default().with_lease(Duration::from_secs(601));
        assert_eq!(o.resolve(&caps()).unwrap_err().kind(), ErrorKind::InvalidInput);
        let o = ReceiveOptions::default().with_max_messages(0);
        assert_eq!(o.resolve(&caps()).unwrap_err().kind(), ErrorKind::InvalidInput);
    }
}
