//! [`FsBlobWriter`]: a streaming upload into a temporary file, swapped into place at `finish`.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use cloudport_core::{BlobKey, BlobWriter, Error, ErrorKind, PutOptions, PutResult, Result};
use tokio::task::JoinHandle;

use super::write::Staged;
use super::{Shared, blocking, join_error};

/// Chunks are handed to the disk in batches of about this many bytes. One batch is written
/// while the next one gathers, so an upload holds at most about twice this (plus the chunk being
/// added), whatever the object's size.
const BATCH: usize = 2 << 20;

/// A streaming upload: chunks go to a hidden temporary file beside the target, which becomes
/// the object at [`finish`](BlobWriter::finish). Dropping or aborting it removes the file.
pub(crate) struct FsBlobWriter {
    shared: Arc<Shared>,
    key: BlobKey,
    opts: PutOptions,
    /// The temporary file, unless a batch is being written to it (or an earlier write failed).
    staged: Option<Staged>,
    /// The batch being written; it hands the file back when done.
    inflight: Option<JoinHandle<Result<Staged>>>,
    pending: Vec<Bytes>,
    pending_len: usize,
}

impl FsBlobWriter {
    /// Starts an upload to `key`: creates the temporary file (and directories) at once, so path
    /// problems show before any data is sent.
    pub(crate) async fn start(shared: Arc<Shared>, key: BlobKey, opts: PutOptions) -> Result<Self> {
        let staged = {
            let shared = Arc::clone(&shared);
            let key = key.clone();
            blocking(move || Staged::create(&shared, &key)).await?
        };
        Ok(Self { shared, key, opts, staged: Some(staged), inflight: None, pending: Vec::new(), pending_len: 0 })
    }

    /// Takes back the temporary file, waiting for the batch in flight.
    async fn take_staged(&mut self) -> Result<Staged> {
        if let Some(batch) = self.inflight.take() {
            return batch.await.map_err(join_error)?;
        }
        self.staged.take().ok_or_else(|| {
            Error::new(ErrorKind::Other, "an earlier write of this upload failed (abort it and start again)")
        })
    }

    /// Starts writing the gathered chunks.
    async fn flush(&mut self) -> Result<()> {
        let mut staged = self.take_staged().await?;
        let batch = std::mem::take(&mut self.pending);
        self.pending_len = 0;
        self.inflight = Some(tokio::task::spawn_blocking(move || {
            staged.write_all(&batch)?;
            Ok(staged)
        }));
        Ok(())
    }
}

impl fmt::Debug for FsBlobWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FsBlobWriter")
            .field("key", &self.key)
            .field("pending_bytes", &self.pending_len)
            .field("writing", &self.inflight.is_some())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl BlobWriter for FsBlobWriter {
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        if chunk.is_empty() {
            return Ok(());
        }
        self.pending_len += chunk.len();
        self.pending.push(chunk);
        if self.pending_len >= BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<PutResult> {
        let mut staged = self.take_staged().await?;
        let Self { shared, key, opts, pending, .. } = *self;
        let etag = blocking(move || {
            staged.write_all(&pending)?;
            staged.commit(&shared, &key, opts.content_type, opts.metadata, &opts.mode)
        })
        .await?;
        Ok(PutResult::new(etag))
    }

    async fn abort(mut self: Box<Self>) -> Result<()> {
        // Dropping the staged file removes it; a failed batch already did.
        let staged = self.take_staged().await.ok();
        blocking(move || {
            drop(staged);
            Ok(())
        })
        .await
    }
}
