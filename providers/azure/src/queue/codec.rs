//! Message text to and from Azure Queue Storage: plain base64 bodies and the attribute envelope.
//!
//! Azure messages are XML text of at most 64 KiB (UTF-8 bytes of the text) and carry no
//! attributes. A message without attributes is sent as the base64 of its body (standard
//! alphabet, padded), which is what Azure Functions' queue trigger and the other Azure SDKs'
//! base64 policies read. A message with attributes is sent as one line of JSON, the envelope:
//!
//! ```json
//! {"cloudport":1,"attributes":{"trace-id":"4bf92f3577b34da6"},"body":"cmVzaXplIHBob3Rvcy9jYXQuanBn"}
//! ```
//!
//! (`cloudport` is the envelope version, `body` the base64 of the body). The envelope starts
//! with `{`, which is not a base64 character, so the two forms cannot be confused. Received text
//! that is neither valid base64 nor an envelope (a message some other producer sent without
//! encoding) is delivered as its UTF-8 bytes, with no attributes.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use cloudport_core::{Attributes, Error, ErrorKind, Message, QueueCapabilities, Result};
use serde::{Deserialize, Serialize};

/// Azure's limit on a message's text, in UTF-8 bytes.
pub(super) const AZURE_MAX_TEXT: usize = 64 * 1024;
/// The largest body that fits in [`AZURE_MAX_TEXT`] once base64-encoded.
pub(super) const MAX_PLAIN_BODY: usize = AZURE_MAX_TEXT / 4 * 3;
/// The envelope version this code writes and reads.
const ENVELOPE_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Envelope {
    cloudport: u32,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    body: String,
}

/// The message text for `body` and `attributes`: plain base64 without attributes, the JSON
/// envelope with them.
pub(super) fn to_text(body: &[u8], attributes: &Attributes) -> String {
    let body = STANDARD.encode(body);
    if attributes.is_empty() {
        return body;
    }
    let envelope = Envelope { cloudport: ENVELOPE_VERSION, attributes: attributes.clone(), body };
    serde_json::to_string(&envelope).expect("a map of strings and a string serialize")
}

/// Validates `message` against `caps`, then encodes it; before any I/O.
///
/// # Errors
/// As [`Message::validate`]; `TooLarge` when the encoded text is over 64 KiB (possible only with
/// attributes: the envelope's JSON and base64 take room).
pub(super) fn encode(message: &Message, caps: &QueueCapabilities) -> Result<String> {
    message.validate(caps)?;
    let text = to_text(&message.body, &message.attributes);
    check_text_size(&text)?;
    Ok(text)
}

/// Fails with `TooLarge` when `text` is over Azure's 64 KiB.
pub(super) fn check_text_size(text: &str) -> Result<()> {
    if text.len() > AZURE_MAX_TEXT {
        return Err(Error::new(
            ErrorKind::TooLarge,
            format!(
                "the message is {} bytes once encoded (base64 body in a JSON envelope with its attributes), over Azure Queue Storage's {AZURE_MAX_TEXT}-byte limit (send fewer or shorter attributes, or store the payload in a blob and send its key)",
                text.len()
            ),
        ));
    }
    Ok(())
}

/// The body and attributes of a received message text (see the module docs for the forms).
pub(super) fn from_text(text: &str) -> (Bytes, Attributes) {
    if text.starts_with('{') {
        if let Ok(envelope) = serde_json::from_str::<Envelope>(text)
            && envelope.cloudport == ENVELOPE_VERSION
            && let Ok(body) = STANDARD.decode(&envelope.body)
        {
            return (Bytes::from(body), envelope.attributes);
        }
        return (Bytes::copy_from_slice(text.as_bytes()), Attributes::new());
    }
    match STANDARD.decode(text) {
        Ok(body) => (Bytes::from(body), Attributes::new()),
        Err(_) => (Bytes::copy_from_slice(text.as_bytes()), Attributes::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps() -> QueueCapabilities {
        super::super::capabilities()
    }

    #[test]
    fn plain_bodies_are_plain_base64() {
        let text = encode(&Message::new("hello"), &caps()).unwrap();
        assert_eq!(text, "aGVsbG8=");
        assert_eq!(from_text(&text), (Bytes::from_static(b"hello"), Attributes::new()));
        assert_eq!(encode(&Message::new(""), &caps()).unwrap(), "");
        assert_eq!(from_text(""), (Bytes::new(), Attributes::new()));
    }

    #[test]
    fn attributes_travel_in_the_envelope() {
        let message = Message::new(vec![0u8, 255, b'{']).with_attribute("trace-id", "4bf9").with_attribute("n", "ü\t");
        let text = encode(&message, &caps()).unwrap();
        assert!(text.starts_with("{\"cloudport\":1,"), "{text}");
        assert_eq!(from_text(&text), (message.body.clone(), message.attributes.clone()));
    }

    #[test]
    fn foreign_text_is_delivered_as_is() {
        for text in ["not base64!", "{\"json\":true}", "{\"cloudport\":2,\"body\":\"\"}", "{broken"] {
            assert_eq!(from_text(text), (Bytes::copy_from_slice(text.as_bytes()), Attributes::new()), "{text}");
        }
    }

    #[test]
    fn the_largest_plain_body_fills_the_limit_exactly() {
        let caps = caps();
        assert_eq!(caps.max_message_size, MAX_PLAIN_BODY);
        let text = encode(&Message::new(vec![7u8; caps.max_message_size]), &caps).unwrap();
        assert_eq!(text.len(), AZURE_MAX_TEXT);
        let over = encode(&Message::new(vec![7u8; caps.max_message_size + 1]), &caps).unwrap_err();
        assert_eq!(over.kind(), ErrorKind::TooLarge);
    }

    #[test]
    fn an_envelope_over_the_limit_is_too_large() {
        // Within max_message_size counting body and attributes, but not once encoded.
        let message = Message::new(vec![1u8; MAX_PLAIN_BODY - 10]).with_attribute("a", "b");
        assert_eq!(encode(&message, &caps()).unwrap_err().kind(), ErrorKind::TooLarge);
    }
}
