//! Options and results of blob operations.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::stream::BoxStream;

use crate::error::{Error, Result};
use crate::key::BlobKey;

/// User metadata: portable names (see [`validate_metadata`]) to ASCII values.
pub type Metadata = BTreeMap<String, String>;

/// The most user metadata (names plus values, in bytes) any provider accepts: S3's 2 KiB.
pub const MAX_METADATA_BYTES: usize = 2048;

/// An opaque version token of a stored object, used for conditional reads and writes.
///
/// Providers fill it with whatever their service compares in conditions: the HTTP etag on S3 and
/// Azure, the object generation on Cloud Storage, a random token per write on the local stores.
/// A token changes whenever an object is written with different content. Rewriting identical
/// bytes may keep the token on some providers (S3's single-part etags are the content's MD5),
/// which is harmless for compare-and-swap; the local stores change it on every write.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ETag(String);

impl ETag {
    /// Wraps a provider's token.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The token.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ETag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for ETag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which bytes of an object to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `start..end`, end exclusive; an end past the object's size is clamped to it.
    Bounded(u64, u64),
    /// From `start` to the end.
    From(u64),
    /// The last `n` bytes (the whole object if it is shorter).
    Suffix(u64),
}

impl ByteRange {
    /// Resolves the range against an object of `size` bytes.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) when `start > end`, for
    /// `Suffix(0)`, or when the range starts at or past the end of a non-empty object (HTTP's
    /// 416). On an empty object, `From(0)` and any non-zero `Suffix` give the empty range.
    pub fn resolve(self, size: u64) -> Result<Range<u64>> {
        let (start, end) = match self {
            Self::Bounded(start, end) if start > end => {
                return Err(Error::invalid_input(format!("byte range {start}..{end} ends before it starts")));
            }
            Self::Suffix(0) => {
                return Err(Error::invalid_input(
                    "a suffix range of 0 bytes selects nothing (ask for at least 1 byte)",
                ));
            }
            Self::Bounded(start, end) => (start, end.min(size)),
            Self::From(start) => (start, size),
            Self::Suffix(n) => (size.saturating_sub(n), size),
        };
        let empty_ok = size == 0 && start == 0;
        if start >= size && !empty_ok && !matches!(self, Self::Suffix(_)) {
            return Err(Error::invalid_input(format!(
                "byte range starts at {start}, past the end of the {size}-byte object"
            )));
        }
        Ok(start..end)
    }
}

impl From<Range<u64>> for ByteRange {
    fn from(r: Range<u64>) -> Self {
        Self::Bounded(r.start, r.end)
    }
}

impl From<std::ops::RangeFrom<u64>> for ByteRange {
    fn from(r: std::ops::RangeFrom<u64>) -> Self {
        Self::From(r.start)
    }
}

/// Options of [`BlobStore::get_opts`](super::BlobStore::get_opts).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GetOptions {
    /// Read only these bytes.
    pub range: Option<ByteRange>,
    /// Fail with `PreconditionFailed` unless the object's etag is this one.
    pub if_match: Option<ETag>,
    /// Fail with `NotModified` if the object's etag is this one.
    pub if_none_match: Option<ETag>,
}

impl GetOptions {
    /// Reads only `range`.
    #[must_use]
    pub fn with_range(mut self, range: impl Into<ByteRange>) -> Self {
        self.range = Some(range.into());
        self
    }

    /// Requires the object's etag to be `etag`.
    #[must_use]
    pub fn with_if_match(mut self, etag: ETag) -> Self {
        self.if_match = Some(etag);
        self
    }

    /// Answers `NotModified` when the object's etag is still `etag`.
    #[must_use]
    pub fn with_if_none_match(mut self, etag: ETag) -> Self {
        self.if_none_match = Some(etag);
        self
    }

    /// Checks the conditions against `meta`, as every provider must before sending bytes.
    ///
    /// # Errors
    /// `PreconditionFailed` or `NotModified` when a condition does not hold.
    pub fn check_conditions(&self, meta: &ObjectMeta) -> Result<()> {
        if let Some(want) = &self.if_match
            && *want != meta.etag
        {
            return Err(Error::new(
                crate::ErrorKind::PreconditionFailed,
                format!("etag is {}, not {want} (read it again to get the current version)", meta.etag),
            ));
        }
        if let Some(seen) = &self.if_none_match
            && *seen == meta.etag
        {
            return Err(Error::new(crate::ErrorKind::NotModified, format!("object unchanged since etag {seen}")));
        }
        Ok(())
    }
}

/// How a write treats an existing object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum PutMode {
    /// Replace whatever is there.
    #[default]
    Overwrite,
    /// Fail with `AlreadyExists` if the key exists.
    Create,
    /// Fail with `PreconditionFailed` unless the object exists with this etag (compare-and-swap).
    IfMatch(ETag),
}

/// Options of [`BlobStore::put_opts`](super::BlobStore::put_opts) and
/// [`BlobStore::put_writer`](super::BlobStore::put_writer).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PutOptions {
    /// How to treat an existing object.
    pub mode: PutMode,
    /// The `Content-Type` to store.
    pub content_type: Option<String>,
    /// User metadata to store (see [`validate_metadata`]).
    pub metadata: Metadata,
}

impl PutOptions {
    /// Sets the write mode.
    #[must_use]
    pub fn with_mode(mut self, mode: PutMode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets the content type.
    #[must_use]
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// Adds one user metadata entry.
    #[must_use]
    pub fn with_metadata(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(name.into(), value.into());
        self
    }

    /// Validates content type and metadata; every provider calls this before any I/O.
    ///
    /// # Errors
    /// `InvalidInput` naming the offending field.
    pub fn validate(&self) -> Result<()> {
        if let Some(ct) = &self.content_type
            && (ct.is_empty() || !ct.bytes().all(|b| (0x20..0x7f).contains(&b)))
        {
            return Err(Error::invalid_input(format!(
                "content type {ct:?} must be non-empty printable ASCII, such as \"text/plain\""
            )));
        }
        validate_metadata(&self.metadata)
    }
}

/// Checks user metadata against the rules every provider accepts unchanged.
///
/// Names: 1–64 characters of lowercase ASCII letters, digits and `_`, not starting with a digit
/// (Azure requires C# identifiers; S3 lowercases names). Values: printable ASCII. Names plus
/// values: at most [`MAX_METADATA_BYTES`].
///
/// # Errors
/// `InvalidInput` naming the offending entry.
pub fn validate_metadata(metadata: &Metadata) -> Result<()> {
    let mut total = 0;
    for (name, value) in metadata {
        let valid_name = !name.is_empty()
            && name.len() <= 64
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid_name {
            return Err(Error::invalid_input(format!(
                "metadata name {name:?} is not portable (use 1-64 lowercase letters, digits and '_', not starting with a digit)"
            )));
        }
        if !value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return Err(Error::invalid_input(format!(
                "metadata value of {name:?} must be printable ASCII (percent-encode other text)"
            )));
        }
        total += name.len() + value.len();
    }
    if total > MAX_METADATA_BYTES {
        return Err(Error::new(
            crate::ErrorKind::TooLarge,
            format!("user metadata is {total} bytes, over the {MAX_METADATA_BYTES}-byte limit"),
        ));
    }
    Ok(())
}

/// Whether a copy may replace an existing destination.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum CopyMode {
    /// Replace the destination if present.
    #[default]
    Overwrite,
    /// Fail with `AlreadyExists` if the destination exists.
    Create,
}

/// Options of [`BlobStore::copy_opts`](super::BlobStore::copy_opts).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CopyOptions {
    /// Whether to replace an existing destination.
    pub mode: CopyMode,
}

impl CopyOptions {
    /// Sets the copy mode.
    #[must_use]
    pub fn with_mode(mut self, mode: CopyMode) -> Self {
        self.mode = mode;
        self
    }
}

/// Options of [`BlobStore::list_opts`](super::BlobStore::list_opts).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListOptions {
    /// Only keys starting with this string (not necessarily at a `/`).
    pub prefix: Option<String>,
    /// Group keys by the next `/` after the prefix into [`ListEntry::Prefix`] entries.
    pub delimited: bool,
    /// Only keys (and prefixes) sorting strictly after this one.
    pub start_after: Option<String>,
    /// Entries fetched per request; `None` uses the provider's maximum page.
    pub page_size: Option<usize>,
}

impl ListOptions {
    /// Lists keys starting with `prefix`.
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// Groups keys by `/` into common prefixes.
    #[must_use]
    pub fn with_delimiter(mut self) -> Self {
        self.delimited = true;
        self
    }

    /// Starts after `key`.
    #[must_use]
    pub fn with_start_after(mut self, key: impl Into<String>) -> Self {
        self.start_after = Some(key.into());
        self
    }

    /// Sets the page size (clamped to the provider's maximum).
    #[must_use]
    pub fn with_page_size(mut self, size: usize) -> Self {
        self.page_size = Some(size);
        self
    }

    /// Validates the options.
    ///
    /// # Errors
    /// `InvalidInput` for a zero page size or a prefix with control characters.
    pub fn validate(&self) -> Result<()> {
        if self.page_size == Some(0) {
            return Err(Error::invalid_input("list page size must be at least 1"));
        }
        if let Some(p) = &self.prefix
            && (p.chars().any(char::is_control) || p.starts_with('/'))
        {
            return Err(Error::invalid_input(format!(
                "list prefix {p:?} must not start with '/' or contain control characters"
            )));
        }
        Ok(())
    }
}

/// What [`BlobStore::head`](super::BlobStore::head) and a read report about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectMeta {
    /// The object's key.
    pub key: BlobKey,
    /// Size in bytes.
    pub size: u64,
    /// Version token for conditions.
    pub etag: ETag,
    /// When the object was last written.
    pub last_modified: SystemTime,
    /// Stored content type, if any was given.
    pub content_type: Option<String>,
    /// Stored user metadata.
    pub metadata: Metadata,
}

impl ObjectMeta {
    /// Metadata of an object with no content type and no user metadata.
    #[must_use]
    pub fn new(key: BlobKey, size: u64, etag: ETag, last_modified: SystemTime) -> Self {
        Self { key, size, etag, last_modified, content_type: None, metadata: Metadata::new() }
    }
}

/// One object as a listing reports it (listings do not carry content type or user metadata on
/// every provider: use [`head`](super::BlobStore::head) for those).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectSummary {
    /// The object's key.
    pub key: BlobKey,
    /// Size in bytes.
    pub size: u64,
    /// Version token.
    pub etag: ETag,
    /// When the object was last written.
    pub last_modified: SystemTime,
}

impl ObjectSummary {
    /// A summary.
    #[must_use]
    pub fn new(key: BlobKey, size: u64, etag: ETag, last_modified: SystemTime) -> Self {
        Self { key, size, etag, last_modified }
    }
}

impl From<ObjectMeta> for ObjectSummary {
    fn from(m: ObjectMeta) -> Self {
        Self { key: m.key, size: m.size, etag: m.etag, last_modified: m.last_modified }
    }
}

/// One entry of a listing, in key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListEntry {
    /// An object.
    Object(ObjectSummary),
    /// A common prefix (ending in `/`) standing for every key under it; only in delimited listings.
    Prefix(String),
}

impl ListEntry {
    /// The key or prefix, for ordering.
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Self::Object(o) => o.key.as_str(),
            Self::Prefix(p) => p,
        }
    }
}

/// The body of a read: a stream of chunks, never the whole object at once.
pub type ByteStream = BoxStream<'static, Result<Bytes>>;

/// A read in progress: the object's metadata, the byte range being sent, and the body.
#[non_exhaustive]
pub struct GetResult {
    /// Metadata of the object read.
    pub meta: ObjectMeta,
    /// The bytes of the object this body holds.
    pub range: Range<u64>,
    /// The bytes, in order.
    pub body: ByteStream,
}

impl GetResult {
    /// A read result.
    #[must_use]
    pub fn new(meta: ObjectMeta, range: Range<u64>, body: ByteStream) -> Self {
        Self { meta, range, body }
    }
}

impl fmt::Debug for GetResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetResult").field("meta", &self.meta).field("range", &self.range).finish_non_exhaustive()
    }
}

/// What a successful write returns: the new version, for the next compare-and-swap.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PutResult {
    /// The new object's version token.
    pub etag: ETag,
}

impl PutResult {
    /// A write result.
    #[must_use]
    pub fn new(etag: ETag) -> Self {
        Self { etag }
    }
}

/// Which request a presigned URL authorizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PresignMethod {
    /// Download the object.
    Get,
    /// Upload the object (a single `PUT` of the whole body).
    Put,
}

/// A URL anyone holding it may use, until it expires, for one kind of request.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PresignedUrl {
    /// The request method it authorizes.
    pub method: PresignMethod,
    /// The URL; it carries a signature, so it is a secret and `Debug` hides its query.
    pub url: url::Url,
    /// Headers the request must carry (for example `x-ms-blob-type` on Azure).
    pub headers: Vec<(String, String)>,
    /// When it stops working.
    pub expires_at: SystemTime,
}

impl PresignedUrl {
    /// A presigned URL.
    #[must_use]
    pub fn new(method: PresignMethod, url: url::Url, expires_in: Duration) -> Self {
        Self { method, url, headers: Vec::new(), expires_at: SystemTime::now() + expires_in }
    }
}

impl fmt::Debug for PresignedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.url.clone();
        shown.set_query(Some("<redacted>"));
        f.debug_struct("PresignedUrl")
            .field("method", &self.method)
            .field("url", &shown.as_str())
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn ranges_resolve_like_http() {
        assert_eq!(ByteRange::Bounded(2, 5).resolve(10).unwrap(), 2..5);
        assert_eq!(ByteRange::Bounded(2, 50).resolve(10).unwrap(), 2..10);
        assert_eq!(ByteRange::From(7).resolve(10).unwrap(), 7..10);
        assert_eq!(ByteRange::Suffix(3).resolve(10).unwrap(), 7..10);
        assert_eq!(ByteRange::Suffix(30).resolve(10).unwrap(), 0..10);
        assert_eq!(ByteRange::From(0).resolve(0).unwrap(), 0..0);
        assert_eq!(ByteRange::Suffix(4).resolve(0).unwrap(), 0..0);
        assert_eq!(ByteRange::From(10).resolve(10).unwrap_err().kind(), ErrorKind::InvalidInput);
        assert_eq!(ByteRange::Bounded(5, 2).resolve(10).unwrap_err().kind(), ErrorKind::InvalidInput);
        assert_eq!(ByteRange::Suffix(0).resolve(10).unwrap_err().kind(), ErrorKind::InvalidInput);
        assert_eq!(ByteRange::Bounded(11, 12).resolve(10).unwrap_err().kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn metadata_rules() {
        let ok: Metadata = [("owner_id".into(), "42".into())].into();
        validate_metadata(&ok).unwrap();
        for bad in ["", "Upper", "with-dash", "1digit", "sp ace"] {
            let m: Metadata = [(bad.into(), "v".into())].into();
            assert_eq!(validate_metadata(&m).unwrap_err().kind(), ErrorKind::InvalidInput, "{bad:?}");
        }
        let m: Metadata = [("k".into(), "é".into())].into();
        assert_eq!(validate_metadata(&m).unwrap_err().kind(), ErrorKind::InvalidInput);
        let m: Metadata = [("k".into(), "v".repeat(MAX_METADATA_BYTES))].into();
        assert_eq!(validate_metadata(&m).unwrap_err().kind(), ErrorKind::TooLarge);
    }

    #[test]
    fn presigned_debug_hides_signature() {
        let url = url::Url::parse("https://h/b/k?X-Amz-Signature=secret").unwrap();
        let p = PresignedUrl::new(PresignMethod::Get, url, Duration::from_secs(60));
        assert!(!format!("{p:?}").contains("secret"));
    }
}
