//! Reads: `HeadObject` and streaming, ranged, conditional `GetObject`.

use cloudport_core::blob::http::parse_content_range;
use std::collections::HashMap;
use std::time::SystemTime;

use aws_sdk_s3::primitives::{ByteStream, DateTime};
use bytes::Bytes;
use cloudport_core::{BlobKey, ByteRange, ETag, Error, ErrorKind, GetOptions, GetResult, Metadata, ObjectMeta, Result};
use futures::StreamExt;

use super::S3BlobStore;
use crate::error::map_sdk_error;

/// An S3 etag as cloudport hands it out: exactly as S3 sends it, quotes included (so it goes
/// back into `If-Match` unchanged); quoted when a service omitted the quotes.
pub(super) fn etag(raw: &str) -> ETag {
    if raw.starts_with('"') || raw.starts_with("W/") { ETag::new(raw) } else { ETag::new(format!("\"{raw}\"")) }
}

pub(super) fn time(t: Option<&DateTime>) -> SystemTime {
    t.and_then(|t| SystemTime::try_from(*t).ok()).unwrap_or(SystemTime::UNIX_EPOCH)
}

fn metadata(raw: Option<&HashMap<String, String>>) -> Metadata {
    raw.map(|m| m.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())).collect()).unwrap_or_default()
}

/// `bytes=a-b` for a range, or `None` for the whole object.
fn range_header(range: ByteRange) -> String {
    match range {
        ByteRange::Bounded(start, end) => format!("bytes={start}-{}", end - 1),
        ByteRange::From(start) => format!("bytes={start}-"),
        ByteRange::Suffix(n) => format!("bytes=-{n}"),
    }
}

/// The body as a stream of chunks, S3's transport failures mapped.
fn body_stream(body: ByteStream) -> cloudport_core::ByteStream {
    futures::stream::unfold(Some(body), |body| async move {
        let mut body = body?;
        match body.try_next().await {
            Ok(Some(chunk)) => Some((Ok(chunk), Some(body))),
            Ok(None) => None,
            Err(e) => Some((
                Err(Error::new(
                    ErrorKind::Unavailable,
                    "the connection to S3 broke while the body streamed (read it again)",
                )
                .with_source(e)),
                None,
            )),
        }
    })
    .boxed()
}

impl S3BlobStore {
    pub(super) async fn head_inner(&self, key: &BlobKey) -> Result<ObjectMeta> {
        let client = self.client().await?;
        let out = client
            .head_object()
            .bucket(&self.inner.bucket)
            .key(self.full_key(key))
            .send()
            .await
            .map_err(map_sdk_error)?;
        let size = out.content_length().and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
        let mut meta =
            ObjectMeta::new(key.clone(), size, etag(out.e_tag().unwrap_or_default()), time(out.last_modified()));
        meta.content_type = out.content_type().map(str::to_owned);
        meta.metadata = metadata(out.metadata());
        Ok(meta)
    }

    pub(super) async fn get_inner(&self, key: &BlobKey, opts: GetOptions) -> Result<GetResult> {
        // Reject malformed ranges (start after end, an empty suffix) before any I/O.
        if let Some(range) = opts.range {
            range.resolve(u64::MAX)?;
        }
        // HTTP cannot ask for zero bytes: an empty bounded range is answered from a HEAD.
        if let Some(ByteRange::Bounded(start, end)) = opts.range
            && start == end
        {
            return self.empty_range(key, &opts).await;
        }
        let client = self.client().await?;
        let request = client
            .get_object()
            .bucket(&self.inner.bucket)
            .key(self.full_key(key))
            .set_range(opts.range.map(range_header))
            .set_if_match(opts.if_match.as_ref().map(|e| e.as_str().to_owned()))
            .set_if_none_match(opts.if_none_match.as_ref().map(|e| e.as_str().to_owned()));
        let out = match request.send().await.map_err(map_sdk_error) {
            Ok(out) => out,
            // S3 answers 416 for any range of an empty object, and for a start past the end.
            Err(e) if e.kind() == ErrorKind::InvalidInput && opts.range.is_some() => {
                return self.empty_range(key, &opts).await;
            }
            Err(e) => return Err(e),
        };
        let length = out.content_length().and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
        let (range, size) = match out.content_range().and_then(parse_content_range) {
            Some((range, size)) => (range, size),
            None => (0..length, length),
        };
        let mut meta =
            ObjectMeta::new(key.clone(), size, etag(out.e_tag().unwrap_or_default()), time(out.last_modified()));
        meta.content_type = out.content_type().map(str::to_owned);
        meta.metadata = metadata(out.metadata());
        Ok(GetResult::new(meta, range, body_stream(out.body)))
    }

    /// A read that selects no bytes: metadata from a HEAD, conditions checked against it, and
    /// the range resolved against the real size (which says `InvalidInput` when the range
    /// starts past the end).
    async fn empty_range(&self, key: &BlobKey, opts: &GetOptions) -> Result<GetResult> {
        let meta = self.head_inner(key).await?;
        opts.check_conditions(&meta)?;
        let range = opts.range.map_or(Ok(0..meta.size), |r| r.resolve(meta.size))?;
        if !range.is_empty() {
            return Err(Error::new(ErrorKind::Conflict, "the object changed while it was read (read it again)"));
        }
        Ok(GetResult::new(meta, range, futures::stream::empty::<Result<Bytes>>().boxed()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_headers() {
        assert_eq!(range_header(ByteRange::Bounded(0, 10)), "bytes=0-9");
        assert_eq!(range_header(ByteRange::From(5)), "bytes=5-");
        assert_eq!(range_header(ByteRange::Suffix(3)), "bytes=-3");
    }

    #[test]
    fn etags_are_quoted() {
        assert_eq!(etag("abc").as_str(), "\"abc\"");
        assert_eq!(etag("\"abc\"").as_str(), "\"abc\"");
    }
}
