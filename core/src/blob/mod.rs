//! Blob storage: the [`BlobStore`] trait every provider implements, its streaming
//! [`BlobWriter`], and the [`BlobStoreExt`] conveniences.
//!
//! Stores are object-safe and usually held as `Arc<dyn BlobStore>`, the provider picked at start-up
//! from a URL. Reads stream; large writes go through a [`BlobWriter`], so no object ever has to sit
//! whole in memory.

pub mod http;
pub mod parts;
mod types;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt, TryStreamExt};

pub use types::*;

use crate::capability::BlobCapabilities;
use crate::error::Result;
use crate::key::BlobKey;

/// A blob store: objects under keys, streamed in and out.
///
/// Implementations validate options before any I/O, map vendor errors onto [`ErrorKind`](crate::ErrorKind)
/// in one place, run every operation in a tracing span (see [`crate::telemetry`]) and say what they
/// cannot do in [`capabilities`](BlobStore::capabilities) and with `ErrorKind::Unsupported`.
///
/// ```
/// # async fn demo(store: std::sync::Arc<dyn cloudport_core::BlobStore>) -> cloudport_core::Result<()> {
/// use cloudport_core::{BlobKey, BlobStoreExt, PutMode, PutOptions};
///
/// let key = BlobKey::new("greetings/hello.txt")?;
/// let first = store.put(&key, "hello").await?;
/// // Compare-and-swap: only replaces the version we read.
/// let opts = PutOptions::default().with_mode(PutMode::IfMatch(first.etag));
/// store.put_opts(&key, "hello again".into(), opts).await?;
/// assert_eq!(store.get_bytes(&key).await?, "hello again");
/// # Ok(()) }
/// ```
#[async_trait]
pub trait BlobStore: fmt::Debug + Send + Sync {
    /// What this store can do, and its limits.
    fn capabilities(&self) -> BlobCapabilities;

    /// Metadata of the object at `key`.
    ///
    /// # Errors
    /// `NotFound` if there is no such object.
    async fn head(&self, key: &BlobKey) -> Result<ObjectMeta>;

    /// Starts reading the object at `key`: conditions are checked and metadata returned before
    /// the body streams.
    ///
    /// # Errors
    /// `NotFound`; `PreconditionFailed` / `NotModified` when a condition fails; `InvalidInput` for a
    /// range starting past the end of the object.
    async fn get_opts(&self, key: &BlobKey, opts: GetOptions) -> Result<GetResult>;

    /// Writes `data` to `key` in one request.
    ///
    /// # Errors
    /// `AlreadyExists` for [`PutMode::Create`] on an existing key; `PreconditionFailed` for
    /// [`PutMode::IfMatch`] when the object changed or is missing; `InvalidInput` for bad options;
    /// `TooLarge` over [`BlobCapabilities::max_put_size`].
    async fn put_opts(&self, key: &BlobKey, data: Bytes, opts: PutOptions) -> Result<PutResult>;

    /// Starts a streaming upload to `key`. Nothing is visible until [`BlobWriter::finish`]
    /// succeeds; [`BlobWriter::abort`], dropping the writer, or the process dying leaves no object and
    /// no visible part behind. The write mode is checked when the upload finishes.
    ///
    /// # Errors
    /// `InvalidInput` for bad options; others as for [`put_opts`](BlobStore::put_opts).
    async fn put_writer(&self, key: &BlobKey, opts: PutOptions) -> Result<Box<dyn BlobWriter>>;

    /// Lists objects in key order, fetching pages lazily; see [`ListOptions`].
    fn list_opts(&self, opts: ListOptions) -> BoxStream<'static, Result<ListEntry>>;

    /// Copies `from` to `to` inside the store.
    ///
    /// # Errors
    /// `NotFound` if `from` is missing; `AlreadyExists` for [`CopyMode::Create`] on an existing `to`.
    async fn copy_opts(&self, from: &BlobKey, to: &BlobKey, opts: CopyOptions) -> Result<PutResult>;

    /// Deletes the object at `key`; deleting a missing key succeeds.
    ///
    /// # Errors
    /// Transport and permission failures only.
    async fn delete(&self, key: &BlobKey) -> Result<()>;

    /// A URL that authorizes one `method` request on `key` without credentials until `expires_in`
    /// has passed.
    ///
    /// # Errors
    /// `Unsupported` when [`BlobCapabilities::presign`] is false; `InvalidInput` for an expiry over
    /// [`BlobCapabilities::max_presign_expiry`].
    async fn presign(&self, method: PresignMethod, key: &BlobKey, expires_in: Duration) -> Result<PresignedUrl>;
}

/// A streaming upload started by [`BlobStore::put_writer`].
///
/// Write chunks in order, then [`finish`](BlobWriter::finish). Memory held is bounded by the
/// provider's part size, not by the object's size.
#[async_trait]
pub trait BlobWriter: fmt::Debug + Send {
    /// Appends `chunk`.
    ///
    /// # Errors
    /// Transport or disk failures; the upload should then be aborted.
    async fn write(&mut self, chunk: Bytes) -> Result<()>;

    /// Completes the upload, making the object visible at once, as a whole.
    ///
    /// # Errors
    /// `AlreadyExists` / `PreconditionFailed` as the write mode requires; nothing becomes visible then.
    async fn finish(self: Box<Self>) -> Result<PutResult>;

    /// Abandons the upload; nothing becomes visible and uploaded parts are released.
    ///
    /// # Errors
    /// Cleanup failures (the object still never becomes visible).
    async fn abort(self: Box<Self>) -> Result<()>;
}

/// Conveniences over [`BlobStore`], implemented for every store.
pub trait BlobStoreExt: BlobStore {
    /// Reads the whole object as a stream.
    ///
    /// # Errors
    /// As [`BlobStore::get_opts`].
    fn get(&self, key: &BlobKey) -> impl Future<Output = Result<GetResult>> + Send {
        async move { self.get_opts(key, GetOptions::default()).await }
    }

    /// Reads `range` of the object as a stream.
    ///
    /// # Errors
    /// As [`BlobStore::get_opts`].
    fn get_range(
        &self,
        key: &BlobKey,
        range: impl Into<ByteRange> + Send,
    ) -> impl Future<Output = Result<GetResult>> + Send {
        async move { self.get_opts(key, GetOptions::default().with_range(range)).await }
    }

    /// Reads the whole object into memory: for small objects only; stream large ones with
    /// [`get`](BlobStoreExt::get).
    ///
    /// # Errors
    /// As [`BlobStore::get_opts`], plus failures while the body streams.
    fn get_bytes(&self, key: &BlobKey) -> impl Future<Output = Result<Bytes>> + Send {
        async move { collect_body(self.get(key).await?.body).await }
    }

    /// Writes `data`, replacing any existing object.
    ///
    /// # Errors
    /// As [`BlobStore::put_opts`].
    fn put(&self, key: &BlobKey, data: impl Into<Bytes> + Send) -> impl Future<Output = Result<PutResult>> + Send {
        async move { self.put_opts(key, data.into(), PutOptions::default()).await }
    }

    /// Uploads a stream of chunks through a [`BlobWriter`], aborting the upload if the stream or
    /// a write fails, so a failed upload leaves nothing behind.
    ///
    /// # Errors
    /// The stream's first error, or as [`BlobStore::put_writer`] and [`BlobWriter::finish`].
    fn put_stream<S>(&self, key: &BlobKey, body: S, opts: PutOptions) -> impl Future<Output = Result<PutResult>> + Send
    where
        S: Stream<Item = Result<Bytes>> + Send,
    {
        async move {
            let mut writer = self.put_writer(key, opts).await?;
            let mut body = std::pin::pin!(body);
            loop {
                let next = body.next().await;
                let step = match next {
                    Some(Ok(chunk)) => writer.write(chunk).await,
                    Some(Err(e)) => Err(e),
                    None => break,
                };
                if let Err(e) = step {
                    // The upload's own error matters more than a failed cleanup.
                    let _ = writer.abort().await;
                    return Err(e);
                }
            }
            writer.finish().await
        }
    }

    /// Lists every object under `prefix` (all keys when empty), recursively.
    fn list(&self, prefix: &str) -> BoxStream<'static, Result<ListEntry>> {
        let opts = if prefix.is_empty() { ListOptions::default() } else { ListOptions::default().with_prefix(prefix) };
        self.list_opts(opts)
    }

    /// Copies `from` to `to`, replacing `to` if present.
    ///
    /// # Errors
    /// As [`BlobStore::copy_opts`].
    fn copy(&self, from: &BlobKey, to: &BlobKey) -> impl Future<Output = Result<PutResult>> + Send {
        async move { self.copy_opts(from, to, CopyOptions::default()).await }
    }

    /// Whether an object exists at `key`.
    ///
    /// # Errors
    /// Any failure of [`BlobStore::head`] other than `NotFound`.
    fn exists(&self, key: &BlobKey) -> impl Future<Output = Result<bool>> + Send {
        async move {
            match self.head(key).await {
                Ok(_) => Ok(true),
                Err(e) if e.kind() == crate::ErrorKind::NotFound => Ok(false),
                Err(e) => Err(e),
            }
        }
    }
}

impl<T: BlobStore + ?Sized> BlobStoreExt for T {}

/// Collects a body stream into one buffer.
///
/// # Errors
/// The stream's first error.
pub async fn collect_body(body: ByteStream) -> Result<Bytes> {
    let mut chunks: Vec<Bytes> = body.try_collect().await?;
    if chunks.len() == 1 {
        return Ok(chunks.pop().unwrap_or_default());
    }
    let mut buf = BytesMut::with_capacity(chunks.iter().map(Bytes::len).sum());
    for c in chunks {
        buf.extend_from_slice(&c);
    }
    Ok(buf.freeze())
}

macro_rules! forward_blob_store {
    ($($ty:ty),*) => {$(
        #[async_trait]
        impl<T: BlobStore + ?Sized> BlobStore for $ty {
            fn capabilities(&self) -> BlobCapabilities {
                (**self).capabilities()
            }
            async fn head(&self, key: &BlobKey) -> Result<ObjectMeta> {
                (**self).head(key).await
            }
            async fn get_opts(&self, key: &BlobKey, opts: GetOptions) -> Result<GetResult> {
                (**self).get_opts(key, opts).await
            }
            async fn put_opts(&self, key: &BlobKey, data: Bytes, opts: PutOptions) -> Result<PutResult> {
                (**self).put_opts(key, data, opts).await
            }
            async fn put_writer(&self, key: &BlobKey, opts: PutOptions) -> Result<Box<dyn BlobWriter>> {
                (**self).put_writer(key, opts).await
            }
            fn list_opts(&self, opts: ListOptions) -> BoxStream<'static, Result<ListEntry>> {
                (**self).list_opts(opts)
            }
            async fn copy_opts(&self, from: &BlobKey, to: &BlobKey, opts: CopyOptions) -> Result<PutResult> {
                (**self).copy_opts(from, to, opts).await
            }
            async fn delete(&self, key: &BlobKey) -> Result<()> {
                (**self).delete(key).await
            }
            async fn presign(&self, method: PresignMethod, key: &BlobKey, expires_in: Duration) -> Result<PresignedUrl> {
                (**self).presign(method, key, expires_in).await
            }
        }
    )*};
}

forward_blob_store!(Arc<T>, Box<T>, &T);
