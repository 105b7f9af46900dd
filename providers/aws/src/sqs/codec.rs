//! Messages to and from SQS: bodies, attributes and deliveries.
//!
//! SQS bodies are non-empty Unicode text restricted to the XML character set. A body that is
//! such text goes as is, so any SQS consumer reads it. Any other body (binary, empty, or text
//! with characters SQS refuses) goes in the binary message attribute [`BODY_ATTRIBUTE`], with
//! [`BODY_PLACEHOLDER`] as the SQS body; receive puts it back. SQS counts binary attributes at
//! their raw size, so binary bodies get (almost) the full limit, unlike base64 in the body. The
//! attribute takes one of SQS's 10 attribute slots. The attribute's name and the decoding live in
//! [`crate::sqs_body`], which the Lambda host's SQS events share without the SDK.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use aws_sdk_sqs::primitives::Blob;
use aws_sdk_sqs::types::{Message as SqsMessage, MessageAttributeValue, MessageSystemAttributeName};
use cloudport_core::{Delivery, Error, ErrorKind, Message, MessageId, QueueCapabilities, Receipt, Result};

use crate::sqs_body::{BODY_ATTRIBUTE, BODY_PLACEHOLDER, received};

/// The value of a String-typed [`BODY_ATTRIBUTE`] for an empty body (SQS refuses empty values).
const EMPTY_BODY: &str = "empty";
/// SQS counts each attribute's data type in the message size.
const STRING_TYPE: &str = "String";
const BINARY_TYPE: &str = "Binary";

/// SQS's own limit: body plus attribute names, types and values.
pub(super) const SQS_MAX_MESSAGE: usize = 1024 * 1024;
/// What cloudport reserves of it for attribute types and the body attribute, so that every
/// message within [`QueueCapabilities::max_message_size`] fits, binary or not.
pub(super) const RESERVED: usize = 256;

/// A message ready for SQS: its body text and attributes.
pub(super) struct Encoded {
    pub(super) body: String,
    pub(super) attributes: Option<HashMap<String, MessageAttributeValue>>,
    pub(super) delay_secs: Option<i32>,
    /// Bytes as SQS counts them (for splitting batches under SQS's request limit).
    pub(super) size: usize,
}

/// Whether SQS accepts `c` in a body (#x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF).
fn allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn string_value(value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder().data_type(STRING_TYPE).string_value(value).build().expect("data type is set")
}

/// Validates `message` against `caps`, then encodes it; before any I/O.
pub(super) fn encode(message: &Message, caps: &QueueCapabilities) -> Result<Encoded> {
    message.validate(caps)?;
    let text = std::str::from_utf8(&message.body).ok().filter(|t| !t.is_empty() && t.chars().all(allowed));
    let mut attributes: HashMap<String, MessageAttributeValue> =
        message.attributes.iter().map(|(k, v)| (k.clone(), string_value(v))).collect();
    let body = match text {
        Some(t) => t.to_owned(),
        None => {
            if attributes.len() >= caps.max_attributes {
                return Err(Error::new(
                    ErrorKind::TooLarge,
                    format!(
                        "a body that is not SQS text (binary or empty) travels in a message attribute, which leaves room for {} attributes, not {}",
                        caps.max_attributes - 1,
                        attributes.len()
                    ),
                ));
            }
            let value = if message.body.is_empty() {
                string_value(EMPTY_BODY)
            } else {
                MessageAttributeValue::builder()
                    .data_type(BINARY_TYPE)
                    .binary_value(Blob::new(message.body.to_vec()))
                    .build()
                    .expect("data type is set")
            };
            attributes.insert(BODY_ATTRIBUTE.to_owned(), value);
            BODY_PLACEHOLDER.to_owned()
        }
    };
    let delay_secs = message.delay.filter(|d| !d.is_zero()).map(crate::config::whole_secs);
    let size = body.len() + attributes.iter().map(|(k, v)| k.len() + attribute_size(v)).sum::<usize>();
    Ok(Encoded { body, attributes: (!attributes.is_empty()).then_some(attributes), delay_secs, size })
}

fn attribute_size(v: &MessageAttributeValue) -> usize {
    v.data_type().len() + v.string_value().map_or(0, str::len) + v.binary_value().map_or(0, |b| b.as_ref().len())
}

/// A received SQS message as a [`Delivery`].
pub(super) fn decode(mut message: SqsMessage) -> Result<Delivery> {
    let missing = |what: &str| Error::new(ErrorKind::Other, format!("SQS delivered a message without {what}"));
    let id = message.message_id().ok_or_else(|| missing("an id"))?.to_owned();
    let receipt = message.receipt_handle().ok_or_else(|| missing("a receipt handle"))?.to_owned();
    let system = message.attributes();
    let system_attr = |name: MessageSystemAttributeName| system.and_then(|a| a.get(&name)).map(String::as_str);
    let delivery_count = system_attr(MessageSystemAttributeName::ApproximateReceiveCount)
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(1);
    let enqueued_at = system_attr(MessageSystemAttributeName::SentTimestamp)
        .and_then(|ms| ms.parse::<u64>().ok())
        .map_or(SystemTime::UNIX_EPOCH, |ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms));
    let sqs_body = message.body.take();
    let attributes = message
        .message_attributes()
        .into_iter()
        .flatten()
        .map(|(name, value)| (name.as_str(), value.string_value(), value.binary_value().map(|b| b.as_ref())));
    let (body, attributes) = received(sqs_body, attributes);
    Ok(Delivery::new(MessageId::new(id), body, attributes, delivery_count, enqueued_at, Receipt::new(receipt)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps() -> QueueCapabilities {
        super::super::capabilities()
    }

    fn sent_size(e: &Encoded) -> usize {
        e.body.len() + e.attributes.iter().flatten().map(|(k, v)| k.len() + attribute_size(v)).sum::<usize>()
    }

    #[test]
    fn text_goes_as_is_and_other_bodies_in_an_attribute() {
        let text = encode(&Message::new("héllo"), &caps()).unwrap();
        assert_eq!(text.body, "héllo");
        assert!(text.attributes.is_none());
        for body in [&[0u8, 255, 1][..], b"a\0b", b""] {
            let e = encode(&Message::new(body.to_vec()), &caps()).unwrap();
            assert_eq!(e.body, BODY_PLACEHOLDER, "{body:?}");
            assert!(e.attributes.unwrap().contains_key(BODY_ATTRIBUTE));
        }
    }

    #[test]
    fn every_message_within_the_limit_fits_in_sqs() {
        let caps = caps();
        let max = caps.max_message_size;
        let binary = encode(&Message::new(vec![0u8; max]), &caps).unwrap();
        assert!(sent_size(&binary) <= SQS_MAX_MESSAGE);
        // Nine short attributes: SQS adds the type name of each.
        let m = (0..9).fold(Message::new(vec![0u8; max - 9 * 3]), |m, i| m.with_attribute(format!("a{i}"), "v"));
        assert!(sent_size(&encode(&m, &caps).unwrap()) <= SQS_MAX_MESSAGE);
    }

    #[test]
    fn a_body_attribute_needs_a_free_slot() {
        let m =
            (0..caps().max_attributes).fold(Message::new(vec![0u8; 4]), |m, i| m.with_attribute(format!("a{i}"), "v"));
        assert_eq!(encode(&m, &caps()).err().unwrap().kind(), ErrorKind::TooLarge);
    }
}
