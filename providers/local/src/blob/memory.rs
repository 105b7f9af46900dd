//! [`MemoryBlobStore`]: objects in process memory, with the semantics of the cloud stores.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Bound;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use cloudport_core::config::UrlOptions;
use cloudport_core::telemetry::{blob_get, blob_list, blob_op, blob_writer};
use cloudport_core::{
    BlobCapabilities, BlobKey, BlobStore, BlobWriter, CopyMode, CopyOptions, ETag, Error, ErrorKind, GetOptions,
    GetResult, ListEntry, ListOptions, Metadata, ObjectMeta, ObjectSummary, PresignMethod, PresignedUrl, PutMode,
    PutOptions, PutResult, Result,
};
use futures::stream::{self, BoxStream, StreamExt};

use super::common::{self, ListPlan};

const PROVIDER: &str = "local-memory";

/// A blob store in process memory: fast, private to the process, gone when it exits.
///
/// It keeps the semantics of the cloud stores (strong etags, atomic create-only and
/// compare-and-swap writes, ranged and conditional reads, sorted paginated listings, all-or-nothing
/// uploads), so it stands in for them in tests. Unlike the filesystem store, `a` and `a/b` can
/// both exist. By its nature it holds every object in memory, including the chunks of an upload
/// in progress (a [`BlobWriter`] commits them at `finish`).
///
/// Clones share the same objects. [`MemoryBlobStore::new`] makes a private store;
/// [`MemoryBlobStore::named`] (or the URL `memory://name`) gives every caller in the process that
/// uses the same name the same objects.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use cloudport_core::{BlobKey, BlobStoreExt};
/// use cloudport_local::MemoryBlobStore;
///
/// let store = MemoryBlobStore::named("docs-example");
/// let key = BlobKey::new("hello.txt")?;
/// store.put(&key, "hello").await?;
/// assert_eq!(MemoryBlobStore::named("docs-example").get_bytes(&key).await?, "hello");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Default)]
pub struct MemoryBlobStore {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    name: Option<String>,
    objects: RwLock<BTreeMap<String, Arc<Object>>>,
}

/// One stored object; replaced whole on every write, never changed in place.
struct Object {
    data: Bytes,
    etag: ETag,
    last_modified: SystemTime,
    content_type: Option<String>,
    metadata: Metadata,
}

impl Object {
    fn meta(&self, key: &BlobKey) -> ObjectMeta {
        let mut meta = ObjectMeta::new(key.clone(), self.data.len() as u64, self.etag.clone(), self.last_modified);
        meta.content_type.clone_from(&self.content_type);
        meta.metadata.clone_from(&self.metadata);
        meta
    }
}

type Registry = Mutex<HashMap<String, Arc<Inner>>>;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::default)
}

impl MemoryBlobStore {
    /// A new, empty store that only this value and its clones see.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The process-wide store called `name`: every call with the same name, in any thread, gives
    /// a handle on the same objects. Named stores live until the process exits.
    #[must_use]
    pub fn named(name: &str) -> Self {
        let mut stores = registry().lock().unwrap_or_else(PoisonError::into_inner);
        let inner = stores
            .entry(name.to_owned())
            .or_insert_with(|| Arc::new(Inner { name: Some(name.to_owned()), objects: RwLock::default() }));
        Self { inner: Arc::clone(inner) }
    }

    /// The named store of a `memory://name` URL (see [`named`](Self::named)).
    ///
    /// # Errors
    /// `Config` for another scheme, a URL without a name, a path after the name, or any query
    /// option (the memory store takes none).
    pub fn from_url(url: &url::Url) -> Result<Self> {
        if url.scheme() != "memory" {
            return Err(Error::config(format!(
                "expected a memory:// URL for the memory blob store, got {}:// (use memory://name)",
                url.scheme()
            )));
        }
        let name = url.host_str().unwrap_or_default();
        if name.is_empty() || !matches!(url.path(), "" | "/") {
            return Err(Error::config(format!(
                "memory store URL {:?} must be memory://name, with a name and nothing after it",
                url.as_str()
            )));
        }
        UrlOptions::new(url).finish()?;
        Ok(Self::named(name))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<Object>>> {
        self.inner.objects.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn lookup(&self, key: &BlobKey) -> Result<Arc<Object>> {
        self.read().get(key.as_str()).cloned().ok_or_else(not_found)
    }
}

impl fmt::Debug for MemoryBlobStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryBlobStore").field("name", &self.inner.name).field("objects", &self.read().len()).finish()
    }
}

fn not_found() -> Error {
    Error::new(ErrorKind::NotFound, "no object at this key (list the prefix to see what exists)")
}

/// Stores `object` at `key` if `mode` allows it; the caller holds the write lock, which makes
/// the check and the write one atomic step.
fn commit(objects: &mut BTreeMap<String, Arc<Object>>, key: &BlobKey, object: Object, mode: &PutMode) -> Result<()> {
    let current = objects.get(key.as_str());
    match (mode, current) {
        (PutMode::Create, Some(_)) => {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                "an object already exists at this key (create-only write refused)",
            ));
        }
        (PutMode::IfMatch(_), None) => {
            return Err(Error::new(
                ErrorKind::PreconditionFailed,
                "no object at this key to compare the etag with (it was deleted or never written)",
            ));
        }
        (PutMode::IfMatch(want), Some(have)) if *want != have.etag => {
            return Err(Error::new(
                ErrorKind::PreconditionFailed,
                format!("etag is {}, not {want} (read the object again to get the current version)", have.etag),
            ));
        }
        _ => {}
    }
    objects.insert(key.as_str().to_owned(), Arc::new(object));
    Ok(())
}

impl MemoryBlobStore {
    fn put_now(&self, key: &BlobKey, data: Bytes, opts: PutOptions) -> Result<PutResult> {
        let etag = common::new_etag();
        let object = Object {
            data,
            etag: etag.clone(),
            last_modified: SystemTime::now(),
            content_type: opts.content_type,
            metadata: opts.metadata,
        };
        let mut objects = self.inner.objects.write().unwrap_or_else(PoisonError::into_inner);
        commit(&mut objects, key, object, &opts.mode)?;
        Ok(PutResult::new(etag))
    }

    fn get_now(&self, key: &BlobKey, opts: &GetOptions) -> Result<GetResult> {
        let object = self.lookup(key)?;
        let meta = object.meta(key);
        opts.check_conditions(&meta)?;
        let range = match opts.range {
            Some(r) => r.resolve(meta.size)?,
            None => 0..meta.size,
        };
        // Ranges resolve within the object's size, which fits in usize.
        let body = object.data.slice(range.start as usize..range.end as usize);
        let body =
            if body.is_empty() { stream::empty().boxed() } else { stream::once(async move { Ok(body) }).boxed() };
        Ok(GetResult::new(meta, range, body))
    }

    fn copy_now(&self, from: &BlobKey, to: &BlobKey, opts: CopyOptions) -> Result<PutResult> {
        let mut objects = self.inner.objects.write().unwrap_or_else(PoisonError::into_inner);
        let source = objects.get(from.as_str()).cloned().ok_or_else(|| {
            Error::new(ErrorKind::NotFound, format!("copy source {:?} does not exist", from.as_str()))
        })?;
        let etag = common::new_etag();
        let object = Object {
            data: source.data.clone(),
            etag: etag.clone(),
            last_modified: SystemTime::now(),
            content_type: source.content_type.clone(),
            metadata: source.metadata.clone(),
        };
        let mode = match opts.mode {
            CopyMode::Create => PutMode::Create,
            _ => PutMode::Overwrite,
        };
        commit(&mut objects, to, object, &mode)?;
        Ok(PutResult::new(etag))
    }

    /// One page of a listing, taken under the read lock; `cursor` is where the next page starts.
    fn list_page(&self, plan: &ListPlan, cursor: &mut Bound<String>) -> (Vec<ListEntry>, bool) {
        let objects = self.read();
        let mut page = Vec::new();
        while page.len() < plan.page_size {
            let next = objects.range::<String, _>((cursor.as_ref(), Bound::Unbounded)).next();
            let Some((key, object)) = next else { return (page, true) };
            if !key.starts_with(&plan.prefix) {
                // Keys under the prefix are contiguous and the cursor starts inside them.
                return (page, true);
            }
            let grouped = if plan.delimited { key[plan.prefix.len()..].find('/') } else { None };
            if let Some(slash) = grouped {
                let common_prefix = &key[..=plan.prefix.len() + slash];
                if plan.after_start(common_prefix) {
                    page.push(ListEntry::Prefix(common_prefix.to_owned()));
                }
                *cursor = Bound::Included(common::past_prefix(common_prefix));
                continue;
            }
            *cursor = Bound::Excluded(key.clone());
            // Every stored key was a valid BlobKey when written.
            if let Ok(blob_key) = BlobKey::new(key.as_str()) {
                let size = object.data.len() as u64;
                let summary = ObjectSummary::new(blob_key, size, object.etag.clone(), object.last_modified);
                page.push(ListEntry::Object(summary));
            }
        }
        (page, false)
    }
}

#[async_trait]
impl BlobStore for MemoryBlobStore {
    fn capabilities(&self) -> BlobCapabilities {
        common::capabilities(PROVIDER, true)
    }

    async fn head(&self, key: &BlobKey) -> Result<ObjectMeta> {
        blob_op(PROVIDER, "head", Some(key), None, async { Ok(self.lookup(key)?.meta(key)) }).await
    }

    async fn get_opts(&self, key: &BlobKey, opts: GetOptions) -> Result<GetResult> {
        blob_get(PROVIDER, key, async { self.get_now(key, &opts) }).await
    }

    async fn put_opts(&self, key: &BlobKey, data: Bytes, opts: PutOptions) -> Result<PutResult> {
        let len = data.len() as u64;
        blob_op(PROVIDER, "put", Some(key), Some(len), async {
            opts.validate()?;
            self.put_now(key, data, opts)
        })
        .await
    }

    async fn put_writer(&self, key: &BlobKey, opts: PutOptions) -> Result<Box<dyn BlobWriter>> {
        blob_writer(PROVIDER, key, async {
            opts.validate()?;
            let writer = MemoryBlobWriter { store: self.clone(), key: key.clone(), opts, chunks: Vec::new() };
            Ok(Box::new(writer) as Box<dyn BlobWriter>)
        })
        .await
    }

    fn list_opts(&self, opts: ListOptions) -> BoxStream<'static, Result<ListEntry>> {
        let prefix = opts.prefix.clone();
        let stream = match ListPlan::new(opts) {
            Err(e) => common::failed_list(e),
            Ok(plan) => {
                let start = match &plan.start_after {
                    Some(after) if *after >= plan.prefix => Bound::Excluded(after.clone()),
                    _ => Bound::Included(plan.prefix.clone()),
                };
                let store = self.clone();
                common::paged((plan, start), move |(plan, mut cursor)| {
                    let (page, done) = store.list_page(&plan, &mut cursor);
                    let next = if done { None } else { Some((plan, cursor)) };
                    futures::future::ready((Ok(page), next))
                })
            }
        };
        blob_list(PROVIDER, prefix.as_deref(), stream)
    }

    async fn copy_opts(&self, from: &BlobKey, to: &BlobKey, opts: CopyOptions) -> Result<PutResult> {
        blob_op(PROVIDER, "copy", Some(to), None, async { self.copy_now(from, to, opts) }).await
    }

    async fn delete(&self, key: &BlobKey) -> Result<()> {
        blob_op(PROVIDER, "delete", Some(key), None, async {
            self.inner.objects.write().unwrap_or_else(PoisonError::into_inner).remove(key.as_str());
            Ok(())
        })
        .await
    }

    async fn presign(&self, method: PresignMethod, key: &BlobKey, expires_in: Duration) -> Result<PresignedUrl> {
        let _ = (method, expires_in);
        blob_op(PROVIDER, "presign", Some(key), None, async {
            Err(Error::unsupported(PROVIDER, "presigned URLs (there is no server to present them to)"))
        })
        .await
    }
}

/// A streaming upload into a [`MemoryBlobStore`]: chunks accumulate in memory and become the
/// object, atomically, at `finish`.
struct MemoryBlobWriter {
    store: MemoryBlobStore,
    key: BlobKey,
    opts: PutOptions,
    chunks: Vec<Bytes>,
}

impl fmt::Debug for MemoryBlobWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes: usize = self.chunks.iter().map(Bytes::len).sum();
        f.debug_struct("MemoryBlobWriter").field("key", &self.key).field("bytes", &bytes).finish_non_exhaustive()
    }
}

#[async_trait]
impl BlobWriter for MemoryBlobWriter {
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        if !chunk.is_empty() {
            self.chunks.push(chunk);
        }
        Ok(())
    }

    async fn finish(self: Box<Self>) -> Result<PutResult> {
        let Self { store, key, opts, mut chunks } = *self;
        let data = if chunks.len() <= 1 {
            chunks.pop().unwrap_or_default()
        } else {
            let mut buf = BytesMut::with_capacity(chunks.iter().map(Bytes::len).sum());
            for chunk in chunks {
                buf.extend_from_slice(&chunk);
            }
            buf.freeze()
        };
        store.put_now(&key, data, opts)
    }

    async fn abort(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use cloudport_core::{BlobStoreExt, ByteRange};
    use futures::TryStreamExt;

    use super::*;

    fn key(k: &str) -> BlobKey {
        BlobKey::new(k).unwrap()
    }

    async fn names(store: &MemoryBlobStore, opts: ListOptions) -> Vec<String> {
        let entries: Vec<ListEntry> = store.list_opts(opts).try_collect().await.unwrap();
        entries.iter().map(|e| e.name().to_owned()).collect()
    }

    #[tokio::test]
    async fn named_stores_share_objects_and_new_ones_do_not() {
        let a = MemoryBlobStore::named("memory-test-shared");
        let b = MemoryBlobStore::from_url(&url::Url::parse("memory://memory-test-shared").unwrap()).unwrap();
        a.put(&key("k"), "v").await.unwrap();
        assert_eq!(b.get_bytes(&key("k")).await.unwrap(), "v");
        assert!(!MemoryBlobStore::new().exists(&key("k")).await.unwrap());
        assert!(!MemoryBlobStore::named("memory-test-other").exists(&key("k")).await.unwrap());
    }

    #[test]
    fn from_url_rejects_options_and_missing_names() {
        for bad in ["memory://", "memory://x?opt=1", "memory://x/sub", "file:///x"] {
            let err = MemoryBlobStore::from_url(&url::Url::parse(bad).unwrap()).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config, "{bad}");
        }
    }

    #[tokio::test]
    async fn delimited_listing_groups_and_pages() {
        let store = MemoryBlobStore::new();
        for k in ["a", "a-b", "a/b", "a/c/d", "b/x", "b0", "c"] {
            store.put(&key(k), "x").await.unwrap();
        }
        let all = names(&store, ListOptions::default().with_page_size(2)).await;
        assert_eq!(all, ["a", "a-b", "a/b", "a/c/d", "b/x", "b0", "c"]);
        let grouped = names(&store, ListOptions::default().with_delimiter().with_page_size(1)).await;
        assert_eq!(grouped, ["a", "a-b", "a/", "b/", "b0", "c"]);
        let under = names(&store, ListOptions::default().with_prefix("a/").with_delimiter()).await;
        assert_eq!(under, ["a/b", "a/c/"]);
        let after = names(&store, ListOptions::default().with_delimiter().with_start_after("a/b")).await;
        assert_eq!(after, ["b/", "b0", "c"]);
        let partial = names(&store, ListOptions::default().with_prefix("a").with_start_after("a-b")).await;
        assert_eq!(partial, ["a/b", "a/c/d"]);
    }

    #[tokio::test]
    async fn writer_commits_at_finish_only() {
        let store = MemoryBlobStore::new();
        let mut w = store.put_writer(&key("w"), PutOptions::default().with_mode(PutMode::Create)).await.unwrap();
        w.write(Bytes::from_static(b"he")).await.unwrap();
        w.write(Bytes::from_static(b"llo")).await.unwrap();
        assert!(!store.exists(&key("w")).await.unwrap());
        w.finish().await.unwrap();
        assert_eq!(store.get_bytes(&key("w")).await.unwrap(), "hello");
        let got = store.get_range(&key("w"), ByteRange::Suffix(3)).await.unwrap();
        assert_eq!(got.range, 2..5);
    }
}
