//! [`ObservedStore`]: a blob store that reports its own writes and deletes as [`BlobEvent`]s.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use cloudport_core::function::BlobEvent;
use cloudport_core::{
    BlobCapabilities, BlobKey, BlobStore, BlobWriter, CopyOptions, ETag, GetOptions, GetResult, ListEntry, ListOptions,
    ObjectMeta, PresignMethod, PresignedUrl, PutOptions, PutResult, Result,
};
use futures::stream::BoxStream;
use tokio::sync::mpsc::UnboundedSender;

/// A blob store that, after each successful write (`put_opts`, a [`BlobWriter`] that finishes,
/// the target of a copy) or delete, sends a [`BlobEvent`] for it: how the local host fires blob
/// functions.
///
/// Only operations through this wrapper are seen: writes by other processes, or through another
/// handle on the same store, raise no event. A delete of a missing key (which succeeds) still
/// raises a `Deleted` event. Reads, lists and presigning pass straight through.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use cloudport_core::function::BlobEventKind;
/// use cloudport_core::{BlobKey, BlobStoreExt};
/// use cloudport_local::MemoryBlobStore;
/// use cloudport_local::host::ObservedStore;
///
/// let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
/// let store = ObservedStore::new("default", Arc::new(MemoryBlobStore::new()), tx);
/// store.put(&BlobKey::new("inbox/a.txt")?, "hello").await?;
/// let event = rx.recv().await.unwrap();
/// assert_eq!((event.kind, event.key.as_str(), event.size), (BlobEventKind::Created, "inbox/a.txt", Some(5)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct ObservedStore {
    inner: Arc<Emitter>,
}

#[derive(Debug)]
struct Emitter {
    name: String,
    store: Arc<dyn BlobStore>,
    events: Option<UnboundedSender<BlobEvent>>,
}

impl Emitter {
    fn send(&self, event: BlobEvent) {
        if let Some(events) = &self.events {
            // Nobody listening any more (the host is shutting down): the event has no taker.
            let _ = events.send(event);
        }
    }

    fn created(&self, key: &BlobKey, size: Option<u64>, etag: ETag, content_type: Option<String>) {
        if self.events.is_none() {
            return;
        }
        let mut event = BlobEvent::created(self.name.clone(), key.clone(), size.unwrap_or_default(), Some(etag));
        event.size = size;
        event.content_type = content_type;
        self.send(event);
    }
}

impl ObservedStore {
    /// Wraps `store`, known to handlers as the store called `name`; events go to `events`.
    #[must_use]
    pub fn new(name: impl Into<String>, store: Arc<dyn BlobStore>, events: UnboundedSender<BlobEvent>) -> Self {
        Self::with_events(name, store, Some(events))
    }

    pub(crate) fn with_events(
        name: impl Into<String>,
        store: Arc<dyn BlobStore>,
        events: Option<UnboundedSender<BlobEvent>>,
    ) -> Self {
        Self { inner: Arc::new(Emitter { name: name.into(), store, events }) }
    }

    /// The store's logical name, as events report it.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The wrapped store: writes through it raise no events.
    #[must_use]
    pub fn inner(&self) -> &Arc<dyn BlobStore> {
        &self.inner.store
    }
}

#[async_trait]
impl BlobStore for ObservedStore {
    fn capabilities(&self) -> BlobCapabilities {
        self.inner.store.capabilities()
    }

    async fn head(&self, key: &BlobKey) -> Result<ObjectMeta> {
        self.inner.store.head(key).await
    }

    async fn get_opts(&self, key: &BlobKey, opts: GetOptions) -> Result<GetResult> {
        self.inner.store.get_opts(key, opts).await
    }

    async fn put_opts(&self, key: &BlobKey, data: Bytes, opts: PutOptions) -> Result<PutResult> {
        let size = data.len() as u64;
        let content_type = opts.content_type.clone();
        let result = self.inner.store.put_opts(key, data, opts).await?;
        self.inner.created(key, Some(size), result.etag.clone(), content_type);
        Ok(result)
    }

    async fn put_writer(&self, key: &BlobKey, opts: PutOptions) -> Result<Box<dyn BlobWriter>> {
        let content_type = opts.content_type.clone();
        let writer = self.inner.store.put_writer(key, opts).await?;
        Ok(Box::new(ObservedWriter {
            writer,
            emitter: Arc::clone(&self.inner),
            key: key.clone(),
            size: 0,
            content_type,
        }))
    }

    fn list_opts(&self, opts: ListOptions) -> BoxStream<'static, Result<ListEntry>> {
        self.inner.store.list_opts(opts)
    }

    async fn copy_opts(&self, from: &BlobKey, to: &BlobKey, opts: CopyOptions) -> Result<PutResult> {
        let result = self.inner.store.copy_opts(from, to, opts).await?;
        if self.inner.events.is_some() {
            // The copy reports no size: ask, and leave it out if the target already changed.
            let meta = self.inner.store.head(to).await.ok().filter(|m| m.etag == result.etag);
            let (size, content_type) = meta.map_or((None, None), |m| (Some(m.size), m.content_type));
            self.inner.created(to, size, result.etag.clone(), content_type);
        }
        Ok(result)
    }

    async fn delete(&self, key: &BlobKey) -> Result<()> {
        self.inner.store.delete(key).await?;
        self.inner.send(BlobEvent::deleted(self.inner.name.clone(), key.clone()));
        Ok(())
    }

    async fn presign(&self, method: PresignMethod, key: &BlobKey, expires_in: Duration) -> Result<PresignedUrl> {
        self.inner.store.presign(method, key, expires_in).await
    }
}

/// A streaming upload that raises a `Created` event when it finishes.
#[derive(Debug)]
struct ObservedWriter {
    writer: Box<dyn BlobWriter>,
    emitter: Arc<Emitter>,
    key: BlobKey,
    size: u64,
    content_type: Option<String>,
}

#[async_trait]
impl BlobWriter for ObservedWriter {
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        let len = chunk.len() as u64;
        self.writer.write(chunk).await?;
        self.size += len;
        Ok(())
    }

    async fn finish(self: Box<Self>) -> Result<PutResult> {
        let Self { writer, emitter, key, size, content_type } = *self;
        let result = writer.finish().await?;
        emitter.created(&key, Some(size), result.etag.clone(), content_type);
        Ok(result)
    }

    async fn abort(self: Box<Self>) -> Result<()> {
        self.writer.abort().await
    }
}
