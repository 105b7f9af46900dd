//! Writes: conditional Put Blob, and streaming uploads as staged blocks committed at the end.

use std::collections::HashMap;
use std::fmt;
use std::num::NonZero;

use async_trait::async_trait;
use std::sync::Arc;

use azure_core::http::Etag;
use azure_storage_blob::BlockBlobClient;
use azure_storage_blob::models::{
    BlockBlobClientCommitBlockListOptions, BlockBlobClientCommitBlockListResultHeaders, BlockBlobClientUploadOptions,
    BlockLookupList,
};
use bytes::Bytes;
use cloudport_core::blob::http::write_condition_error;
use cloudport_core::blob::parts::{PartBuffer, PartUploads};
use cloudport_core::{BlobKey, BlobWriter, Error, ErrorKind, PutMode, PutOptions, PutResult, Result};

use super::read::etag;
use super::{AzureBlobStore, MAX_BLOCKS, MAX_PUT_SIZE};
use crate::error::map_azure_error;

/// Checks options before any I/O. Metadata names must be C# identifiers on Azure; cloudport's
/// portable rule (lowercase letters, digits and `_`, not starting with a digit) is stricter.
fn validate(opts: &PutOptions) -> Result<()> {
    opts.validate()?;
    if let Some(name) = opts.metadata.keys().find(|n| !is_csharp_identifier(n)) {
        return Err(Error::invalid_input(format!(
            "metadata name {name:?} is not a C# identifier, as Azure requires (use letters, digits and '_', not starting with a digit)"
        )));
    }
    Ok(())
}

fn is_csharp_identifier(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn user_metadata(opts: &PutOptions) -> Option<HashMap<String, String>> {
    (!opts.metadata.is_empty()).then(|| opts.metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// The write mode as the request's `If-Match` / `If-None-Match`.
fn conditions(mode: &PutMode) -> (Option<Etag>, Option<Etag>) {
    match mode {
        PutMode::Create => (None, Some(Etag::from("*"))),
        PutMode::IfMatch(expected) => (Some(Etag::from(expected.as_str())), None),
        _ => (None, None),
    }
}

fn etag_of(raw: Option<Etag>, what: &str) -> Result<cloudport_core::ETag> {
    raw.as_ref().map(etag).ok_or_else(|| Error::new(ErrorKind::Other, format!("Azure answered {what} without an etag")))
}

impl AzureBlobStore {
    pub(super) async fn put_inner(&self, key: &BlobKey, data: Bytes, opts: PutOptions) -> Result<PutResult> {
        validate(&opts)?;
        if data.len() as u64 > MAX_PUT_SIZE {
            return Err(Error::new(
                ErrorKind::TooLarge,
                format!(
                    "{} bytes is over Azure's {MAX_PUT_SIZE}-byte single-request limit (stream it with put_writer)",
                    data.len()
                ),
            ));
        }
        let client = self.blob(key)?.block_blob_client();
        put_blob(&client, data, &opts).await.map_err(|e| write_condition_error(e, &opts.mode, key))
    }

    pub(super) async fn writer_inner(&self, key: &BlobKey, opts: PutOptions) -> Result<Box<dyn BlobWriter>> {
        validate(&opts)?;
        let client = Arc::new(self.blob(key)?.block_blob_client());
        Ok(Box::new(AzureWriter {
            client,
            key: key.clone(),
            opts,
            part_size: self.inner.part_size,
            concurrency: self.inner.concurrency,
            buffer: PartBuffer::new(self.inner.part_size),
            upload: None,
        }))
    }
}

/// One Put Blob of `data`, with the write mode as its condition.
async fn put_blob(client: &BlockBlobClient, data: Bytes, opts: &PutOptions) -> Result<PutResult> {
    let (if_match, if_none_match) = conditions(&opts.mode);
    // A partition as large as the body keeps the client to a single Put Blob.
    let partition = NonZero::new(data.len() as u64).unwrap_or(NonZero::<u64>::MIN);
    let options = BlockBlobClientUploadOptions {
        blob_content_type: opts.content_type.clone(),
        metadata: user_metadata(opts),
        if_match,
        if_none_match,
        parallel: Some(NonZero::<usize>::MIN),
        partition_size: Some(partition),
        ..Default::default()
    };
    let out = client.upload(data.into(), Some(options)).await.map_err(map_azure_error)?;
    Ok(PutResult::new(etag_of(out.etag, "a put")?))
}

/// The id of block `number` of an upload: the same length for every block, as Azure requires,
/// and unique to the upload (`upload` is random), so two writers of one blob never mix blocks.
fn block_id(upload: u64, number: u64) -> Vec<u8> {
    format!("{upload:016x}-{number:08}").into_bytes()
}

/// Blocks staged and staging, under a random upload id.
struct Upload {
    id: u64,
    /// The block numbers staged, in order.
    blocks: PartUploads<u64>,
}

/// A streaming upload to a block blob.
///
/// Chunks collect into a block of `part_size` bytes; each full block is staged (Put Block) in a
/// task while the next fills, at most `concurrency` at once, so memory stays near
/// `part_size × (concurrency + 1)` ([`cloudport_core::blob::parts`]). A blob that fits in one block is written by `finish` with a
/// single Put Blob; otherwise `finish` commits the blocks with Put Block List, carrying the write
/// mode's condition. Staged blocks are invisible until then: `abort` or dropping the writer
/// stops the staging tasks and commits nothing (the service discards uncommitted blocks after 7
/// days, or at the blob's next successful write).
struct AzureWriter {
    client: Arc<BlockBlobClient>,
    key: BlobKey,
    opts: PutOptions,
    part_size: usize,
    concurrency: usize,
    buffer: PartBuffer,
    upload: Option<Upload>,
}

impl fmt::Debug for AzureWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureWriter")
            .field("key", &self.key)
            .field("buffered", &self.buffer.len())
            .field("blocks", &self.upload.as_ref().map(|u| u.blocks.started()))
            .finish_non_exhaustive()
    }
}

impl AzureWriter {
    /// Stages `block` in a task, first waiting for a slot when `concurrency` are in flight.
    async fn send_block(&mut self, block: Bytes) -> Result<()> {
        let concurrency = self.concurrency;
        let upload =
            self.upload.get_or_insert_with(|| Upload { id: rand::random(), blocks: PartUploads::new(concurrency) });
        if upload.blocks.started() >= MAX_BLOCKS {
            return Err(Error::new(
                ErrorKind::TooLarge,
                format!(
                    "{} is over {MAX_BLOCKS} blocks of {} bytes, Azure's limit (raise part_size)",
                    self.key, self.part_size
                ),
            ));
        }
        let (client, id) = (self.client.clone(), upload.id);
        upload
            .blocks
            .spawn(block, &mut self.buffer, move |number, block| async move {
                let len = block.len() as u64;
                client.stage_block(&block_id(id, number), len, block.into(), None).await.map_err(map_azure_error)?;
                Ok(number)
            })
            .await
    }

    async fn complete(&mut self) -> Result<PutResult> {
        if self.upload.is_none() {
            let data = self.buffer.take_rest();
            return put_blob(&self.client, data, &self.opts).await;
        }
        if !self.buffer.is_empty() {
            let last = self.buffer.take_rest();
            self.send_block(last).await?;
        }
        let upload = self.upload.as_mut().expect("checked above");
        let staged = upload.blocks.finish(&mut self.buffer).await?;
        let blocks = BlockLookupList {
            latest: Some(staged.iter().map(|n| block_id(upload.id, *n)).collect()),
            ..Default::default()
        };
        let (if_match, if_none_match) = conditions(&self.opts.mode);
        let options = BlockBlobClientCommitBlockListOptions {
            blob_content_type: self.opts.content_type.clone(),
            metadata: user_metadata(&self.opts),
            if_match,
            if_none_match,
            ..Default::default()
        };
        let body = blocks.try_into().map_err(map_azure_error)?;
        let out = self.client.commit_block_list(body, Some(options)).await.map_err(map_azure_error)?;
        self.upload = None;
        Ok(PutResult::new(etag_of(out.etag().map_err(map_azure_error)?, "a block list commit")?))
    }
}

#[async_trait]
impl BlobWriter for AzureWriter {
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        let mut chunk = chunk;
        while let Some(block) = self.buffer.fill(&mut chunk) {
            self.send_block(block).await?;
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<PutResult> {
        let result = self.complete().await;
        // On failure, dropping the writer stops any staging task; nothing was committed.
        let mode = self.opts.mode.clone();
        result.map_err(|e| write_condition_error(e, &mode, &self.key))
    }

    async fn abort(mut self: Box<Self>) -> Result<()> {
        self.buffer.clear();
        if let Some(mut upload) = self.upload.take() {
            // Azure has no call to delete staged blocks: they stay invisible and are
            // garbage-collected after 7 days. Stopping the tasks is all there is to do.
            upload.blocks.shutdown().await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_ids_have_one_length() {
        assert_eq!(block_id(1, 0).len(), block_id(u64::MAX, MAX_BLOCKS - 1).len());
        assert_ne!(block_id(1, 0), block_id(2, 0));
    }

    #[test]
    fn metadata_names_must_be_identifiers() {
        assert!(is_csharp_identifier("owner_id") && is_csharp_identifier("_x1"));
        for bad in ["1a", "with-dash", "", "sp ace", "é"] {
            assert!(!is_csharp_identifier(bad), "{bad:?}");
        }
    }
}
