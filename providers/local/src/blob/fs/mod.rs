//! [`FsBlobStore`]: objects as files under a root directory.

mod list;
mod lock;
mod meta;
mod paths;
mod read;
mod sweep;
mod write;
mod writer;

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use cloudport_core::config::UrlOptions;
use cloudport_core::telemetry::{blob_get, blob_list, blob_op, blob_writer};
use cloudport_core::{
    BlobCapabilities, BlobKey, BlobStore, BlobWriter, CopyMode, CopyOptions, Error, ErrorKind, GetOptions, GetResult,
    ListEntry, ListOptions, ObjectMeta, PresignMethod, PresignedUrl, PutMode, PutOptions, PutResult, Result,
};
use futures::stream::BoxStream;
use tokio::task::JoinError;
use xattr::FileExt;

use self::list::FsLister;
use self::lock::{LOCK_DIR, StripedLocks};
use self::writer::FsBlobWriter;
use super::common::{self, ListPlan};

const PROVIDER: &str = "local-fs";

/// A blob store on a directory of the local filesystem: key `a/b.txt` is the file
/// `<root>/a/b.txt`.
///
/// Writes are atomic and, by default, durable: data goes to a hidden temporary file beside the
/// target, which is fsynced and renamed into place, then the directory is fsynced. The etag,
/// content type and user metadata live in the extended attribute `user.cloudport.meta`, set
/// before the rename so they change together with the data; the filesystem must support user
/// extended attributes (ext4, xfs, btrfs, tmpfs on Linux 6.6+ do), which
/// [`build`](FsBlobStoreBuilder::build) checks. Create-only writes (hard links) and
/// compare-and-swap writes (a lock file per key stripe under `<root>/.cloudport/`) stay correct
/// across threads and processes sharing the root.
///
/// Differences from a cloud store, all inherent to a filesystem:
/// - a key cannot be both an object and a prefix of other keys (`a` and `a/b`): the second write
///   fails with `Unsupported` ([`BlobCapabilities::file_and_prefix_coexist`] is false);
/// - a key segment longer than the filesystem's file name limit (usually 255 bytes) is
///   `InvalidInput`;
/// - symlinks under the root are followed only when they lead to a place inside it; otherwise the
///   operation fails with `PermissionDenied`. Listings do not descend into symlinked directories.
///
/// Clones are cheap and share the store.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use cloudport_core::{BlobKey, BlobStoreExt};
/// use cloudport_local::FsBlobStore;
///
/// let dir = tempfile::tempdir()?;
/// let store = FsBlobStore::builder(dir.path()).build()?;
/// let key = BlobKey::new("reports/2026.csv")?;
/// store.put(&key, "q1,q2\n").await?;
/// assert_eq!(store.get_bytes(&key).await?, "q1,q2\n");
/// assert!(store.root().join("reports/2026.csv").is_file());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct FsBlobStore {
    shared: Arc<Shared>,
}

/// What every clone of a store, and its background tasks, share.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The canonical root directory.
    pub(crate) root: PathBuf,
    /// Whether writes fsync the file and its directory.
    pub(crate) fsync: bool,
    pub(crate) locks: StripedLocks,
}

/// Configures an [`FsBlobStore`]; made by [`FsBlobStore::builder`].
#[derive(Debug, Clone)]
pub struct FsBlobStoreBuilder {
    root: PathBuf,
    fsync: bool,
}

impl FsBlobStoreBuilder {
    /// Whether writes fsync the new file and its directory before they return (default: true).
    /// Without it, a write is still atomic, but a power loss may undo recent writes.
    #[must_use]
    pub fn fsync(mut self, fsync: bool) -> Self {
        self.fsync = fsync;
        self
    }

    /// Opens the store: creates the root directory if it is missing, resolves it to its
    /// canonical path, checks that the filesystem keeps user extended attributes, and starts a
    /// background sweep of temporary files that crashed writers left more than an hour ago.
    ///
    /// # Errors
    /// `Config` when the root cannot be created or is not a directory, or when its filesystem
    /// does not support user extended attributes.
    pub fn build(self) -> Result<FsBlobStore> {
        let given = self.root;
        if given.as_os_str().is_empty() {
            return Err(Error::config("the filesystem store needs a root directory (got an empty path)"));
        }
        let setup = |what: &str, e: io::Error| {
            Error::config(format!("cannot {what} the filesystem store root {}", given.display())).with_source(e)
        };
        fs::create_dir_all(&given).map_err(|e| setup("create", e))?;
        let root = fs::canonicalize(&given).map_err(|e| setup("resolve", e))?;
        if !root.is_dir() {
            return Err(Error::config(format!(
                "the filesystem store root {} is not a directory (give a directory path)",
                root.display()
            )));
        }
        fs::create_dir_all(root.join(LOCK_DIR)).map_err(|e| setup("set up the lock directory in", e))?;
        probe_xattrs(&root)?;
        sweep::spawn(root.clone());
        let locks = StripedLocks::new(&root);
        Ok(FsBlobStore { shared: Arc::new(Shared { root, fsync: self.fsync, locks }) })
    }
}

/// Fails with a `Config` error unless files under `root` can carry user extended attributes.
fn probe_xattrs(root: &Path) -> Result<()> {
    let path = root.join(".cloudport").join(format!("probe-{:016x}", rand::random::<u64>()));
    let probe = (|| {
        let file = fs::File::create(&path)?;
        file.set_xattr(meta::XATTR, b"probe")?;
        file.get_xattr(meta::XATTR)
    })();
    let _ = fs::remove_file(&path);
    probe_outcome(root, probe)
}

/// Turns the result of the xattr probe into the store's verdict.
fn probe_outcome(root: &Path, probe: io::Result<Option<Vec<u8>>>) -> Result<()> {
    match probe {
        Ok(Some(value)) if value == b"probe" => Ok(()),
        Ok(_) => Err(Error::config(format!(
            "the filesystem under {} did not keep a user extended attribute (the store keeps etags and metadata in them)",
            root.display()
        ))),
        Err(e) if matches!(e.kind(), io::ErrorKind::Unsupported | io::ErrorKind::PermissionDenied) => {
            Err(Error::config(format!(
                "the filesystem under {} does not support user extended attributes, which the store needs for etags and metadata (use ext4, xfs or btrfs, or mount with user_xattr)",
                root.display()
            ))
            .with_source(e))
        }
        Err(e) => Err(Error::config(format!(
            "cannot write a probe file in the store root {} (check its owner and mode)",
            root.display()
        ))
        .with_source(e)),
    }
}

impl FsBlobStore {
    /// Starts configuring a store rooted at `root` (see [`FsBlobStoreBuilder`]).
    pub fn builder(root: impl Into<PathBuf>) -> FsBlobStoreBuilder {
        FsBlobStoreBuilder { root: root.into(), fsync: true }
    }

    /// Opens the store a `file:///abs/path` URL names. The one option is `fsync` (`true` or
    /// `false`, default `true`), as in `file:///srv/blobs?fsync=false`.
    ///
    /// # Errors
    /// `Config` for another scheme, a host or relative path, an unknown option or a bad value;
    /// as [`FsBlobStoreBuilder::build`] otherwise.
    pub fn from_url(url: &url::Url) -> Result<Self> {
        if url.scheme() != "file" {
            return Err(Error::config(format!(
                "expected a file:// URL for the filesystem blob store, got {}:// (use file:///absolute/path)",
                url.scheme()
            )));
        }
        let root = url.to_file_path().map_err(|()| {
            Error::config(format!(
                "file URL {:?} must name an absolute local path, with no host (use file:///absolute/path)",
                url.as_str()
            ))
        })?;
        let mut opts = UrlOptions::new(url);
        let fsync = opts.take_parsed::<bool>("fsync")?.unwrap_or(true);
        opts.finish()?;
        Self::builder(root).fsync(fsync).build()
    }

    /// The store's root directory, canonical (absolute, symlinks resolved).
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.shared.root
    }

    /// Runs `f` on the blocking pool with this store's shared state.
    async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Shared) -> Result<T> + Send + 'static,
    {
        let shared = Arc::clone(&self.shared);
        blocking(move || f(&shared)).await
    }
}

impl fmt::Debug for FsBlobStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FsBlobStore").field("root", &self.shared.root).field("fsync", &self.shared.fsync).finish()
    }
}

/// Runs blocking filesystem work on tokio's blocking pool.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f).await.map_err(join_error)?
}

/// The error for a blocking task that panicked or was cancelled.
pub(crate) fn join_error(e: JoinError) -> Error {
    Error::new(ErrorKind::Other, "a filesystem task of the store failed").with_source(e)
}

fn put_mode(mode: CopyMode) -> PutMode {
    match mode {
        CopyMode::Create => PutMode::Create,
        _ => PutMode::Overwrite,
    }
}

#[async_trait]
impl BlobStore for FsBlobStore {
    fn capabilities(&self) -> BlobCapabilities {
        common::capabilities(PROVIDER, false)
    }

    async fn head(&self, key: &BlobKey) -> Result<ObjectMeta> {
        let owned = key.clone();
        blob_op(PROVIDER, "head", Some(key), None, self.run(move |s| read::head(s, &owned))).await
    }

    async fn get_opts(&self, key: &BlobKey, opts: GetOptions) -> Result<GetResult> {
        let owned = key.clone();
        blob_get(PROVIDER, key, async {
            let started = self.run(move |s| read::start(s, &owned, &opts)).await?;
            Ok(GetResult::new(started.meta, started.range, started.body))
        })
        .await
    }

    async fn put_opts(&self, key: &BlobKey, data: Bytes, opts: PutOptions) -> Result<PutResult> {
        let len = data.len() as u64;
        let owned = key.clone();
        blob_op(PROVIDER, "put", Some(key), Some(len), async {
            opts.validate()?;
            let PutOptions { mode, content_type, metadata, .. } = opts;
            let etag = self.run(move |s| write::put(s, &owned, &data, content_type, metadata, &mode)).await?;
            Ok(PutResult::new(etag))
        })
        .await
    }

    async fn put_writer(&self, key: &BlobKey, opts: PutOptions) -> Result<Box<dyn BlobWriter>> {
        blob_writer(PROVIDER, key, async {
            opts.validate()?;
            let writer = FsBlobWriter::start(Arc::clone(&self.shared), key.clone(), opts).await?;
            Ok(Box::new(writer) as Box<dyn BlobWriter>)
        })
        .await
    }

    fn list_opts(&self, opts: ListOptions) -> BoxStream<'static, Result<ListEntry>> {
        let prefix = opts.prefix.clone();
        let stream = match ListPlan::new(opts) {
            Err(e) => common::failed_list(e),
            Ok(plan) => {
                let shared = Arc::clone(&self.shared);
                common::paged(FsLister::new(plan), move |mut lister| {
                    let shared = Arc::clone(&shared);
                    async move {
                        let fetched = blocking(move || {
                            let page = lister.next_page(&shared)?;
                            Ok((page, lister))
                        })
                        .await;
                        match fetched {
                            Ok((page, _)) if page.is_empty() => (Ok(page), None),
                            Ok((page, lister)) => (Ok(page), Some(lister)),
                            Err(e) => (Err(e), None),
                        }
                    }
                })
            }
        };
        blob_list(PROVIDER, prefix.as_deref(), stream)
    }

    async fn copy_opts(&self, from: &BlobKey, to: &BlobKey, opts: CopyOptions) -> Result<PutResult> {
        let (from_owned, to_owned) = (from.clone(), to.clone());
        let mode = put_mode(opts.mode);
        blob_op(PROVIDER, "copy", Some(to), None, async {
            let etag = self.run(move |s| write::copy(s, &from_owned, &to_owned, &mode)).await?;
            Ok(PutResult::new(etag))
        })
        .await
    }

    async fn delete(&self, key: &BlobKey) -> Result<()> {
        let owned = key.clone();
        blob_op(PROVIDER, "delete", Some(key), None, self.run(move |s| write::delete(s, &owned))).await
    }

    async fn presign(&self, method: PresignMethod, key: &BlobKey, expires_in: Duration) -> Result<PresignedUrl> {
        let _ = (method, expires_in);
        blob_op(PROVIDER, "presign", Some(key), None, async {
            Err(Error::unsupported(PROVIDER, "presigned URLs (there is no server to present them to)"))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filesystems_without_user_xattrs_are_a_config_error() {
        let root = Path::new("/srv/blobs");
        assert!(probe_outcome(root, Ok(Some(b"probe".to_vec()))).is_ok());
        for probe in [Err(io::Error::from_raw_os_error(95)), Ok(None), Err(io::Error::other("disk on fire"))] {
            let err = probe_outcome(root, probe).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config, "{err}");
            assert!(err.to_string().contains("/srv/blobs"), "{err}");
        }
        let err = probe_outcome(root, Err(io::Error::from_raw_os_error(95))).unwrap_err();
        assert!(err.to_string().contains("does not support user extended attributes"), "{err}");
    }
}
