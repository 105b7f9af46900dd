//! Reads: Get Blob Properties, and streaming, ranged, conditional downloads.

use cloudport_core::blob::http::parse_content_range;
use std::collections::HashMap;
use std::num::NonZero;
use std::time::SystemTime;

use azure_core::http::Etag;
use azure_core::http::headers::HeaderName;
use azure_core::time::OffsetDateTime;
use azure_storage_blob::models::{BlobClientDownloadOptions, BlobClientGetPropertiesResultHeaders};
use bytes::Bytes;
use cloudport_core::{BlobKey, ByteRange, ETag, Error, ErrorKind, GetOptions, GetResult, Metadata, ObjectMeta, Result};
use futures::StreamExt;

use super::AzureBlobStore;
use crate::error::map_azure_error;

/// One download request covers any range: the client then streams the response body as it
/// arrives instead of splitting the read into buffered, parallel partitions.
const ONE_PARTITION: NonZero<usize> = NonZero::new(1 << 50).expect("non-zero");

/// An Azure etag as cloudport hands it out: as the service sends it, quotes included, so it
/// goes back into `If-Match` unchanged; quoted when the service omitted the quotes (listings
/// do), so the same version always has the same token.
pub(super) fn etag(raw: &Etag) -> ETag {
    let raw = raw.to_string();
    if raw.starts_with('"') || raw.starts_with("W/") { ETag::new(raw) } else { ETag::new(format!("\"{raw}\"")) }
}

pub(super) fn time(t: Option<OffsetDateTime>) -> SystemTime {
    t.map_or(SystemTime::UNIX_EPOCH, SystemTime::from)
}

/// User metadata with names lowercased: Azure keeps the case a name was written with, but
/// compares names case-insensitively.
fn metadata(raw: HashMap<String, String>) -> Metadata {
    raw.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect()
}

impl AzureBlobStore {
    pub(super) async fn head_inner(&self, key: &BlobKey) -> Result<ObjectMeta> {
        let props = self.blob(key)?.get_properties(None).await.map_err(map_azure_error)?;
        let header = |e: azure_core::Error| map_azure_error(e);
        let size = props.content_length().map_err(header)?.unwrap_or(0);
        let tag = props.etag().map_err(header)?.ok_or_else(|| missing("an etag"))?;
        let mut meta = ObjectMeta::new(key.clone(), size, etag(&tag), time(props.last_modified().map_err(header)?));
        meta.content_type = props.content_type().map_err(header)?;
        meta.metadata = metadata(props.metadata().map_err(header)?);
        Ok(meta)
    }

    pub(super) async fn get_inner(&self, key: &BlobKey, opts: GetOptions) -> Result<GetResult> {
        // Reject malformed ranges (start after end, an empty suffix) before any I/O.
        if let Some(range) = opts.range {
            range.resolve(u64::MAX)?;
        }
        let blob = self.blob(key)?;
        let mut download = BlobClientDownloadOptions {
            if_match: opts.if_match.as_ref().map(|e| Etag::from(e.as_str())),
            if_none_match: opts.if_none_match.as_ref().map(|e| Etag::from(e.as_str())),
            parallel: Some(NonZero::<usize>::MIN),
            partition_size: Some(ONE_PARTITION),
            ..Default::default()
        };
        match opts.range {
            None => {}
            // HTTP cannot ask for zero bytes, and the client has no suffix ranges: both are
            // resolved against a HEAD, the read then pinned to the version the HEAD saw.
            Some(ByteRange::Bounded(start, end)) if start == end => return self.empty_range(key, &opts).await,
            Some(ByteRange::Suffix(_)) => {
                let meta = self.head_inner(key).await?;
                opts.check_conditions(&meta)?;
                let range = opts.range.map_or(Ok(0..meta.size), |r| r.resolve(meta.size))?;
                if range.is_empty() {
                    return Ok(GetResult::new(meta, range, futures::stream::empty::<Result<Bytes>>().boxed()));
                }
                download.if_match = Some(Etag::from(meta.etag.as_str()));
                download.if_none_match = None;
                download.range = Some(range.into());
            }
            Some(ByteRange::Bounded(start, end)) => download.range = Some((start..end).into()),
            Some(ByteRange::From(start)) => download.range = Some((start..).into()),
        }
        let response = match blob.download(Some(download)).await.map_err(map_azure_error) {
            Ok(response) => response,
            Err(e) if e.kind() == ErrorKind::InvalidInput && opts.range.is_some() => {
                return Err(past_the_end(key).with_source(e));
            }
            // `If-Match` on a missing blob fails the condition (412): say what is true.
            Err(e) if e.kind() == ErrorKind::PreconditionFailed && opts.if_match.is_some() => {
                self.head_inner(key).await?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let props = &response.properties;
        let length = props.content_length.unwrap_or(0);
        let content_range = response.headers.get_optional_str(&HeaderName::from_static("content-range"));
        let (range, size) = content_range.and_then(parse_content_range).unwrap_or((0..length, length));
        // Azure answers 416 to a range starting at or past the end of a non-empty blob;
        // Azurite 3.37 answers 206 with an empty body (measured): both mean the same here.
        if opts.range.is_some() && size > 0 && range.start >= size {
            return Err(past_the_end(key));
        }
        let tag = props.etag.as_ref().ok_or_else(|| missing("an etag"))?;
        let mut meta = ObjectMeta::new(key.clone(), size, etag(tag), time(props.last_modified));
        meta.content_type.clone_from(&props.content_type);
        meta.metadata = metadata(props.metadata.clone());
        let body = response.body.map(|chunk| {
            chunk.map_err(|e| {
                Error::new(
                    ErrorKind::Unavailable,
                    "the connection to Azure broke while the body streamed (read it again)",
                )
                .with_provider("azure")
                .with_source(e)
            })
        });
        Ok(GetResult::new(meta, range, body.boxed()))
    }

    /// A read that selects no bytes: metadata from a HEAD, conditions checked against it, and
    /// the range resolved against the real size (`InvalidInput` when it starts past the end).
    async fn empty_range(&self, key: &BlobKey, opts: &GetOptions) -> Result<GetResult> {
        let meta = self.head_inner(key).await?;
        opts.check_conditions(&meta)?;
        let range = opts.range.map_or(Ok(0..meta.size), |r| r.resolve(meta.size))?;
        Ok(GetResult::new(meta, range.start..range.start, futures::stream::empty::<Result<Bytes>>().boxed()))
    }
}

fn past_the_end(key: &BlobKey) -> Error {
    Error::invalid_input(format!("the byte range starts past the end of {key} (head it to learn its size)"))
}

fn missing(what: &str) -> Error {
    Error::new(ErrorKind::Other, format!("Azure answered without {what}")).with_provider("azure")
}
