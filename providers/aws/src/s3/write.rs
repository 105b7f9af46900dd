//! Writes: conditional `PutObject`, and streaming uploads as concurrent multipart uploads.

use std::collections::HashMap;
use std::fmt;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use cloudport_core::blob::http::write_condition_error;
use cloudport_core::blob::parts::{PartBuffer, PartUploads};
use cloudport_core::{BlobKey, BlobWriter, Error, ErrorKind, PutMode, PutOptions, PutResult, Result};

use super::read::etag;
use super::{MAX_PUT_SIZE, S3BlobStore};
use crate::error::map_sdk_error;

fn user_metadata(opts: &PutOptions) -> Option<HashMap<String, String>> {
    (!opts.metadata.is_empty()).then(|| opts.metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

fn etag_of(raw: Option<&str>, what: &str) -> Result<cloudport_core::ETag> {
    raw.map(etag).ok_or_else(|| Error::new(ErrorKind::Other, format!("S3 answered {what} without an etag")))
}

impl S3BlobStore {
    pub(super) async fn put_inner(&self, key: &BlobKey, data: Bytes, opts: PutOptions) -> Result<PutResult> {
        opts.validate()?;
        if data.len() as u64 > MAX_PUT_SIZE {
            return Err(Error::new(
                ErrorKind::TooLarge,
                format!(
                    "{} bytes is over S3's {MAX_PUT_SIZE}-byte single-request limit (stream it with put_writer)",
                    data.len()
                ),
            ));
        }
        let client = self.client().await?;
        put_object(client, &self.inner.bucket, &self.full_key(key), data, &opts)
            .await
            .map_err(|e| write_condition_error(e, &opts.mode, key))
    }

    pub(super) async fn writer_inner(&self, key: &BlobKey, opts: PutOptions) -> Result<Box<dyn BlobWriter>> {
        opts.validate()?;
        let client = self.client().await?.clone();
        Ok(Box::new(S3Writer {
            client,
            bucket: self.inner.bucket.clone(),
            full_key: self.full_key(key),
            key: key.clone(),
            opts,
            concurrency: self.inner.concurrency,
            buffer: PartBuffer::new(self.inner.part_size),
            upload: None,
        }))
    }
}

async fn put_object(client: &Client, bucket: &str, key: &str, data: Bytes, opts: &PutOptions) -> Result<PutResult> {
    let mut request = client
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_length(i64::try_from(data.len()).unwrap_or(i64::MAX))
        .body(ByteStream::from(data))
        .set_content_type(opts.content_type.clone())
        .set_metadata(user_metadata(opts));
    request = match &opts.mode {
        PutMode::Create => request.if_none_match("*"),
        PutMode::IfMatch(expected) => request.if_match(expected.as_str()),
        _ => request,
    };
    let out = request.send().await.map_err(map_sdk_error)?;
    Ok(PutResult::new(etag_of(out.e_tag(), "a put")?))
}

/// A multipart upload in progress: its id, and its parts (done and uploading).
struct Upload {
    id: String,
    parts: PartUploads<CompletedPart>,
}

/// A streaming upload to S3.
///
/// Chunks collect into a part of `part_size` bytes; each full part is uploaded in a task while
/// the next fills, at most `concurrency` at once (the writer waits for one to finish before
/// starting another), so memory stays near `part_size × (concurrency + 1)`
/// ([`cloudport_core::blob::parts`]). The multipart
/// upload is created with the first full part: an object that fits in one part is written by
/// `finish` with a single `PutObject`. Nothing is visible before `finish` completes the upload
/// (with the write mode as its condition); `abort` or dropping the writer aborts it.
struct S3Writer {
    client: Client,
    bucket: String,
    full_key: String,
    key: BlobKey,
    opts: PutOptions,
    concurrency: usize,
    buffer: PartBuffer,
    upload: Option<Upload>,
}

impl fmt::Debug for S3Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Writer")
            .field("bucket", &self.bucket)
            .field("key", &self.full_key)
            .field("buffered", &self.buffer.len())
            .field("upload_id", &self.upload.as_ref().map(|u| &u.id))
            .finish_non_exhaustive()
    }
}

impl S3Writer {
    /// Starts the multipart upload with the first full part.
    async fn start_upload(&mut self) -> Result<()> {
        if self.upload.is_none() {
            let out = self
                .client
                .create_multipart_upload()
                .bucket(&self.bucket)
                .key(&self.full_key)
                .set_content_type(self.opts.content_type.clone())
                .set_metadata(user_metadata(&self.opts))
                .send()
                .await
                .map_err(map_sdk_error)?;
            let id = out
                .upload_id()
                .ok_or_else(|| Error::new(ErrorKind::Other, "S3 started a multipart upload without an upload id"))?;
            self.upload = Some(Upload { id: id.to_owned(), parts: PartUploads::new(self.concurrency) });
        }
        Ok(())
    }

    /// Uploads `part` in a task, first waiting for a slot when `concurrency` parts are in flight.
    async fn send_part(&mut self, part: Bytes) -> Result<()> {
        self.start_upload().await?;
        let (client, bucket, key) = (self.client.clone(), self.bucket.clone(), self.full_key.clone());
        let upload = self.upload.as_mut().expect("the upload was just started");
        let id = upload.id.clone();
        upload
            .parts
            .spawn(part, &mut self.buffer, move |index, part| async move {
                // S3 numbers parts from 1.
                let number = i32::try_from(index + 1).unwrap_or(i32::MAX);
                let out = client
                    .upload_part()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(id)
                    .part_number(number)
                    .content_length(i64::try_from(part.len()).unwrap_or(i64::MAX))
                    .body(ByteStream::from(part))
                    .send()
                    .await
                    .map_err(map_sdk_error)?;
                let etag =
                    out.e_tag().ok_or_else(|| Error::new(ErrorKind::Other, "S3 accepted a part without an etag"))?;
                Ok(CompletedPart::builder().part_number(number).e_tag(etag).build())
            })
            .await
    }

    async fn complete(&mut self) -> Result<PutResult> {
        if self.upload.is_none() {
            let data = self.buffer.take_rest();
            return put_object(&self.client, &self.bucket, &self.full_key, data, &self.opts).await;
        }
        if !self.buffer.is_empty() {
            let last = self.buffer.take_rest();
            self.send_part(last).await?;
        }
        let upload = self.upload.as_mut().expect("checked above");
        let parts = upload.parts.finish(&mut self.buffer).await?;
        let mut request = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.full_key)
            .upload_id(&upload.id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build());
        request = match &self.opts.mode {
            PutMode::Create => request.if_none_match("*"),
            PutMode::IfMatch(expected) => request.if_match(expected.as_str()),
            _ => request,
        };
        let out = request.send().await.map_err(map_sdk_error)?;
        self.upload = None;
        Ok(PutResult::new(etag_of(out.e_tag(), "a multipart upload")?))
    }

    /// Stops the part uploads, then aborts the multipart upload (in that order: a part that
    /// finished after the abort would otherwise be kept).
    async fn abort_upload(client: Client, bucket: String, key: String, mut upload: Upload) -> Result<()> {
        upload.parts.shutdown().await;
        client
            .abort_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload.id)
            .send()
            .await
            .map_err(map_sdk_error)?;
        Ok(())
    }
}

#[async_trait]
impl BlobWriter for S3Writer {
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        let mut chunk = chunk;
        while let Some(part) = self.buffer.fill(&mut chunk) {
            self.send_part(part).await?;
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<PutResult> {
        let result = self.complete().await;
        if result.is_err()
            && let Some(upload) = self.upload.take()
        {
            // The caller gets the write's error; a failed clean-up is only logged (the parts stay
            // invisible either way, and the bucket's lifecycle rule removes them).
            let (client, bucket, key) = (self.client.clone(), self.bucket.clone(), self.full_key.clone());
            if let Err(e) = Self::abort_upload(client, bucket, key, upload).await {
                tracing::warn!(target: cloudport_core::telemetry::TARGET, error = %e, "could not abort a failed S3 multipart upload");
            }
        }
        let mode = self.opts.mode.clone();
        result.map_err(|e| write_condition_error(e, &mode, &self.key))
    }

    async fn abort(mut self: Box<Self>) -> Result<()> {
        self.buffer.clear();
        match self.upload.take() {
            Some(upload) => {
                let (client, bucket, key) = (self.client.clone(), self.bucket.clone(), self.full_key.clone());
                Self::abort_upload(client, bucket, key, upload).await
            }
            None => Ok(()),
        }
    }
}

impl Drop for S3Writer {
    /// A writer dropped mid-upload aborts its multipart upload in the background, so no part
    /// lingers. Without a tokio runtime (dropped after it shut down) the parts stay until the
    /// bucket's lifecycle rule removes them; they never become visible.
    fn drop(&mut self) {
        let Some(upload) = self.upload.take() else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(target: cloudport_core::telemetry::TARGET, upload_id = %upload.id, "S3 writer dropped outside a tokio runtime: its multipart upload is left to the bucket's lifecycle rule");
            return;
        };
        let (client, bucket, key) = (self.client.clone(), self.bucket.clone(), self.full_key.clone());
        runtime.spawn(async move {
            if let Err(e) = Self::abort_upload(client, bucket, key, upload).await {
                tracing::warn!(target: cloudport_core::telemetry::TARGET, error = %e, "could not abort a dropped S3 multipart upload");
            }
        });
    }
}
