//! The bookkeeping rules both local queues share: receipts and lease tokens, when a message is
//! dead-lettered instead of delivered, and what a dead-lettered message carries.

use cloudport_core::queue::{DEAD_LETTER_REASON_ATTRIBUTE, MAX_ATTRIBUTE_VALUE_LEN};
use cloudport_core::{Attributes, DeadLetterPolicy, Error, ErrorKind, Receipt, Result};

/// Separates the message id from the lease token in a receipt.
const RECEIPT_SEPARATOR: char = ':';

/// A fresh random lease token. Each delivery and each lease extension gets a new one, so a
/// receipt proves holding one particular lease.
pub(crate) fn new_token() -> u64 {
    rand::random()
}

/// The receipt of lease `token` on message `id`.
pub(crate) fn receipt(id: &str, token: u64) -> Receipt {
    let mut out = String::with_capacity(id.len() + 17);
    out.push_str(id);
    out.push(RECEIPT_SEPARATOR);
    push_hex(&mut out, token, 16);
    Receipt::new(out)
}

/// Appends the lowest `digits` hex digits of `value`, zero-padded. Ids and receipts are made on
/// every send and receive; `format!` showed up as a fifth of the memory queue's profile.
pub(crate) fn push_hex(out: &mut String, value: u64, digits: u32) {
    for shift in (0..digits).rev() {
        let nibble = (value >> (shift * 4)) & 0xf;
        out.push(char::from_digit(nibble as u32, 16).unwrap_or('0'));
    }
}

/// Appends `value` in decimal.
pub(crate) fn push_decimal(out: &mut String, value: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut v = value;
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend(digits[i..].iter().map(|&d| char::from(d)));
}

/// Splits a receipt made by [`receipt`] into message id and token.
///
/// # Errors
/// `InvalidInput` when the receipt was not made by a local queue.
pub(crate) fn parse_receipt(receipt: &Receipt) -> Result<(&str, u64)> {
    receipt
        .as_str()
        .rsplit_once(RECEIPT_SEPARATOR)
        .and_then(|(id, token)| Some((id, u64::from_str_radix(token, 16).ok()?)))
        .filter(|(id, _)| !id.is_empty())
        .ok_or_else(|| foreign_receipt(receipt))
}

/// The error for a receipt this queue did not issue.
pub(crate) fn foreign_receipt(receipt: &Receipt) -> Error {
    Error::invalid_input(format!(
        "receipt {:?} was not issued by this queue (pass the receipt of a delivery received from it)",
        receipt.as_str()
    ))
}

/// The error for a receipt whose lease is gone.
pub(crate) fn lease_lost(id: &str) -> Error {
    Error::new(
        ErrorKind::PreconditionFailed,
        format!(
            "the lease on message {id} was lost (it expired and the message was delivered again, a newer receipt \
             replaced this one, or the message was already acked, nacked or dead-lettered); the message may be \
             delivered again, so handlers must be idempotent"
        ),
    )
}

/// The error for `dead_letter` on a queue without a dead-letter policy.
pub(crate) fn no_dead_letter_queue(queue: &str) -> Error {
    Error::config(format!(
        "no dead-letter queue configured for queue {queue:?}; set dead_letter=<queue> in the URL or \
         .dead_letter(DeadLetterPolicy::new(..)) on the builder"
    ))
}

/// Whether a visible message that has been delivered `delivery_count` times moves to the
/// dead-letter queue instead of being delivered again; if so, the reason.
pub(crate) fn exhausted(delivery_count: u32, policy: Option<&DeadLetterPolicy>) -> Option<String> {
    let policy = policy?;
    (delivery_count >= policy.max_deliveries).then(|| format!("delivered {delivery_count} times without ack"))
}

/// The attributes of a message moved to a dead-letter queue: its own plus the reason.
///
/// Moving never fails: control characters in the reason become spaces and the reason is cut
/// to the attribute value limit and to what keeps the whole message within `max_message_size`.
/// Only when even the attribute name does not fit does the message go over the limit, by the
/// name and a one-character reason.
pub(crate) fn dead_letter_attributes(
    mut attributes: Attributes,
    body_len: usize,
    reason: &str,
    max_message_size: usize,
) -> Attributes {
    attributes.remove(DEAD_LETTER_REASON_ATTRIBUTE);
    let used = body_len
        + attributes.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
        + DEAD_LETTER_REASON_ATTRIBUTE.len();
    let room = max_message_size.saturating_sub(used).clamp(1, MAX_ATTRIBUTE_VALUE_LEN);
    let reason = if reason.trim().is_empty() { "dead-lettered without a reason" } else { reason };
    let mut value = String::with_capacity(reason.len().min(room));
    for c in reason.chars() {
        let c = if c.is_control() && !matches!(c, '\t' | '\n' | '\r') { ' ' } else { c };
        if value.len() + c.len_utf8() > room {
            if value.is_empty() {
                value.push('?');
            }
            break;
        }
        value.push(c);
    }
    attributes.insert(DEAD_LETTER_REASON_ATTRIBUTE.to_owned(), value);
    attributes
}

#[cfg(test)]
mod tests {
    use cloudport_core::{Message, QueueCapabilities};

    use super::*;

    #[test]
    fn hand_formatting_matches_format() {
        for v in [0u64, 1, 9, 10, 0xabc, u64::from(u32::MAX), u64::MAX] {
            let (mut hex, mut dec) = (String::new(), String::new());
            push_hex(&mut hex, v, 16);
            push_decimal(&mut dec, v);
            assert_eq!(hex, format!("{v:016x}"));
            assert_eq!(dec, v.to_string());
        }
        let mut short = String::new();
        push_hex(&mut short, 0x1234_5678, 8);
        assert_eq!(short, "12345678");
    }

    #[test]
    fn receipts_round_trip_and_reject_garbage() {
        let r = receipt("17", 0xdead_beef);
        assert_eq!(parse_receipt(&r).unwrap(), ("17", 0xdead_beef));
        let r = receipt("0a1b-2", u64::MAX);
        assert_eq!(parse_receipt(&r).unwrap(), ("0a1b-2", u64::MAX));
        for bad in ["", "17", ":12", "17:", "17:xyz", "17:123456789abcdef01"] {
            let err = parse_receipt(&Receipt::new(bad)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad:?}");
        }
    }

    #[test]
    fn tokens_differ() {
        assert_ne!(new_token(), new_token());
    }

    #[test]
    fn exhausted_only_with_policy_at_max() {
        let policy = DeadLetterPolicy::new("dlq", 3);
        assert_eq!(exhausted(5, None), None);
        assert_eq!(exhausted(2, Some(&policy)), None);
        assert_eq!(exhausted(3, Some(&policy)).as_deref(), Some("delivered 3 times without ack"));
    }

    fn caps(max_message_size: usize) -> QueueCapabilities {
        QueueCapabilities { provider: "test", max_message_size, max_attributes: 11, ..Default::default() }
    }

    fn as_message(body_len: usize, attributes: Attributes) -> Message {
        let mut m = Message::new(vec![b'x'; body_len]);
        m.attributes = attributes;
        m
    }

    #[test]
    fn reason_is_kept_whole_when_it_fits() {
        let attrs = Attributes::from([("k".to_owned(), "v".to_owned())]);
        let out = dead_letter_attributes(attrs, 10, "bad payload", 1000);
        assert_eq!(out["k"], "v");
        assert_eq!(out[DEAD_LETTER_REASON_ATTRIBUTE], "bad payload");
    }

    #[test]
    fn long_reason_is_cut_to_the_value_limit_and_stays_valid() {
        let reason = "é".repeat(1000);
        let out = dead_letter_attributes(Attributes::new(), 0, &reason, 1 << 20);
        let value = &out[DEAD_LETTER_REASON_ATTRIBUTE];
        assert_eq!(value.len(), MAX_ATTRIBUTE_VALUE_LEN);
        as_message(0, out).validate(&caps(1 << 20)).unwrap();
    }

    #[test]
    fn reason_is_cut_to_fit_the_message_size() {
        let attrs = Attributes::from([("k".to_owned(), "v".repeat(20))]);
        let max = 100;
        let out = dead_letter_attributes(attrs, 40, &"r".repeat(500), max);
        let message = as_message(40, out);
        assert_eq!(message.size(), max);
        message.validate(&caps(max)).unwrap();
    }

    #[test]
    fn control_characters_and_empty_reasons_are_made_valid() {
        let out = dead_letter_attributes(Attributes::new(), 0, "a\u{0}b\nc", 1000);
        assert_eq!(out[DEAD_LETTER_REASON_ATTRIBUTE], "a b\nc");
        let out = dead_letter_attributes(Attributes::new(), 0, "", 1000);
        assert!(!out[DEAD_LETTER_REASON_ATTRIBUTE].is_empty());
        as_message(0, out).validate(&caps(1000)).unwrap();
    }

    #[test]
    fn a_full_message_still_gets_a_reason() {
        let out = dead_letter_attributes(Attributes::new(), 1000, "too bad", 1000);
        assert_eq!(out[DEAD_LETTER_REASON_ATTRIBUTE], "t");
    }

    #[test]
    fn an_earlier_reason_is_replaced() {
        let attrs = Attributes::from([(DEAD_LETTER_REASON_ATTRIBUTE.to_owned(), "old".to_owned())]);
        let out = dead_letter_attributes(attrs, 0, "new", 1000);
        assert_eq!(out.len(), 1);
        assert_eq!(out[DEAD_LETTER_REASON_ATTRIBUTE], "new");
    }
}
