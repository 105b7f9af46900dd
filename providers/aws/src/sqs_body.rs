//! How cloudport carries a message body SQS cannot take as text: in the binary message
//! attribute [`BODY_ATTRIBUTE`], with [`BODY_PLACEHOLDER`] as the SQS body. Shared by
//! [`SqsQueue`](crate::SqsQueue) (`sqs` feature) and the Lambda host's SQS events (`lambda`
//! feature), which reads such messages without the SQS SDK.

use bytes::Bytes;
use cloudport_core::Attributes;

/// Carries a body SQS cannot take as text; never shown to callers.
pub(crate) const BODY_ATTRIBUTE: &str = "cloudport.body";
/// The SQS body of a message whose body is in [`BODY_ATTRIBUTE`].
#[cfg_attr(not(feature = "sqs"), allow(dead_code))]
pub(crate) const BODY_PLACEHOLDER: &str = "(cloudport: body in attribute cloudport.body)";

/// The body and attributes of a received message, from its SQS body and its message
/// attributes as `(name, string value, binary value)`: a body carried in [`BODY_ATTRIBUTE`] is
/// put back, and binary attributes other than that one are dropped (cloudport sends none).
pub(crate) fn received<'a>(
    sqs_body: Option<String>,
    message_attributes: impl IntoIterator<Item = (&'a str, Option<&'a str>, Option<&'a [u8]>)>,
) -> (Bytes, Attributes) {
    let mut attributes = Attributes::new();
    let mut body = None;
    for (name, text, binary) in message_attributes {
        if name == BODY_ATTRIBUTE {
            body = Some(binary.map_or_else(Bytes::new, Bytes::copy_from_slice));
        } else if let Some(text) = text {
            attributes.insert(name.to_owned(), text.to_owned());
        }
    }
    (body.unwrap_or_else(|| Bytes::from(sqs_body.unwrap_or_default())), attributes)
}
