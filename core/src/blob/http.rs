//! Pieces of HTTP object storage every cloud provider's store needs alike: reading a
//! `Content-Range` answer, and what a refused conditional write means.

use std::ops::Range;

use crate::error::{Error, ErrorKind};
use crate::key::BlobKey;

use super::PutMode;

/// The byte range and the object's total size of a `Content-Range: bytes <start>-<end>/<size>`
/// answer; `None` for any other form (such as `bytes */<size>`).
///
/// ```
/// use cloudport_core::blob::http::parse_content_range;
///
/// assert_eq!(parse_content_range("bytes 10-19/100"), Some((10..20, 100)));
/// assert_eq!(parse_content_range("bytes */100"), None);
/// ```
#[must_use]
pub fn parse_content_range(header: &str) -> Option<(Range<u64>, u64)> {
    let rest = header.strip_prefix("bytes ")?;
    let (span, size) = rest.split_once('/')?;
    let (start, end) = span.split_once('-')?;
    let (start, end, size) = (start.parse::<u64>().ok()?, end.parse::<u64>().ok()?, size.parse::<u64>().ok()?);
    Some((start..end + 1, size))
}

/// A failed write under `mode`, in cloudport's terms. Services answer a refused create-only
/// write with 412 or 409 (already exists), and `If-Match` on a missing key with 412 or 404;
/// cloudport says `AlreadyExists` for create-only and `PreconditionFailed` for both
/// compare-and-swap cases. Other errors pass through.
///
/// ```
/// use cloudport_core::blob::http::write_condition_error;
/// use cloudport_core::{BlobKey, Error, ErrorKind, PutMode};
///
/// let key = BlobKey::new("a.txt")?;
/// let refused = Error::new(ErrorKind::PreconditionFailed, "HTTP 412");
/// assert_eq!(write_condition_error(refused, &PutMode::Create, &key).kind(), ErrorKind::AlreadyExists);
/// # Ok::<(), cloudport_core::Error>(())
/// ```
#[must_use]
pub fn write_condition_error(e: Error, mode: &PutMode, key: &BlobKey) -> Error {
    match (mode, e.kind()) {
        (PutMode::Create, ErrorKind::PreconditionFailed | ErrorKind::AlreadyExists) => {
            Error::new(ErrorKind::AlreadyExists, format!("{key} already exists (create-only write)")).with_source(e)
        }
        (PutMode::IfMatch(expected), ErrorKind::PreconditionFailed | ErrorKind::NotFound) => Error::new(
            ErrorKind::PreconditionFailed,
            format!("{key} is no longer at etag {expected} (read it again and retry)"),
        )
        .with_source(e),
        _ => e,
    }
}
