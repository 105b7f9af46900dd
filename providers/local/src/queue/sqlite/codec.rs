//! How attributes and times are stored in the queue database.

use std::time::{Duration, SystemTime};

use cloudport_core::Attributes;

/// First byte of an encoded attribute map: the format version.
const FORMAT_V1: u8 = 1;

/// Encodes attributes as a blob: a version byte, then each name and value as a little-endian
/// `u32` length and the bytes. No attributes is `None` (stored as NULL).
pub(super) fn encode_attributes(attributes: &Attributes) -> Option<Vec<u8>> {
    if attributes.is_empty() {
        return None;
    }
    let len = 1 + attributes.iter().map(|(k, v)| 8 + k.len() + v.len()).sum::<usize>();
    let mut out = Vec::with_capacity(len);
    out.push(FORMAT_V1);
    for (name, value) in attributes {
        for s in [name, value] {
            // Names are at most 256 bytes and values 1024 (checked before sending).
            let n = u32::try_from(s.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&n.to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    }
    Some(out)
}

/// Decodes what [`encode_attributes`] made.
///
/// # Errors
/// A description of the damage when the blob is not such an encoding.
pub(super) fn decode_attributes(blob: Option<&[u8]>) -> Result<Attributes, &'static str> {
    let mut attributes = Attributes::new();
    let Some(blob) = blob else { return Ok(attributes) };
    let Some((&FORMAT_V1, mut rest)) = blob.split_first() else {
        return Err("attributes were stored in an unknown format (was the file written by a newer version?)");
    };
    let next = |rest: &mut &[u8]| -> Result<String, &'static str> {
        let (len, tail) = rest.split_first_chunk::<4>().ok_or("attributes are truncated")?;
        let len = usize::try_from(u32::from_le_bytes(*len)).map_err(|_| "attribute length overflows")?;
        if tail.len() < len {
            return Err("attributes are truncated");
        }
        let (s, tail) = tail.split_at(len);
        *rest = tail;
        String::from_utf8(s.to_vec()).map_err(|_| "attribute is not UTF-8")
    };
    while !rest.is_empty() {
        let name = next(&mut rest)?;
        let value = next(&mut rest)?;
        attributes.insert(name, value);
    }
    Ok(attributes)
}

/// Nanoseconds since the Unix epoch (0 before it, saturating in 2262): full precision, so a
/// delivery's `enqueued_at` is exactly the send time.
pub(super) fn to_unix_nanos(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The inverse of [`to_unix_nanos`].
pub(super) fn from_unix_nanos(nanos: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_nanos(u64::try_from(nanos).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_round_trip() {
        let attrs = Attributes::from([
            ("trace_id".to_owned(), "4bf92f3577b34da6".to_owned()),
            ("note".to_owned(), "tab\tnew\nline é".to_owned()),
        ]);
        let blob = encode_attributes(&attrs).unwrap();
        assert_eq!(decode_attributes(Some(&blob)).unwrap(), attrs);
        assert_eq!(encode_attributes(&Attributes::new()), None);
        assert_eq!(decode_attributes(None).unwrap(), Attributes::new());
    }

    #[test]
    fn damaged_attributes_are_errors() {
        let blob = encode_attributes(&Attributes::from([("k".to_owned(), "value".to_owned())])).unwrap();
        for bad in [&[][..], &[9, 0], &blob[..blob.len() - 1], &blob[..6]] {
            assert!(decode_attributes(Some(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn times_keep_nanoseconds() {
        let t = SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        assert_eq!(from_unix_nanos(to_unix_nanos(t)), t);
        assert_eq!(to_unix_nanos(SystemTime::UNIX_EPOCH - Duration::from_secs(1)), 0);
    }
}
