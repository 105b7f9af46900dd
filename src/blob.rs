//! Blob stores: the [`BlobStore`] trait and opening a store from a URL.

use std::sync::Arc;

use cloudport_core::Result;
pub use cloudport_core::blob::*;
use cloudport_core::config::{self, BLOB_URL_ENV};
use url::Url;

use crate::scheme::{self, Resource};

/// Opens the blob store a URL names, such as `file:///srv/data` or `memory://cache`.
///
/// ```
/// let store = cloudport::blob::open("memory://open-example")?;
/// assert_eq!(store.capabilities().provider, "local-memory");
/// # Ok::<(), cloudport::Error>(())
/// ```
///
/// # Errors
/// [`ErrorKind::Config`](crate::ErrorKind::Config) for a malformed URL, an unknown scheme, a scheme
/// whose provider feature is off (the message names the feature), or an unknown option; the
/// provider's own errors when the store cannot be opened.
pub fn open(url: &str) -> Result<Arc<dyn BlobStore>> {
    open_url(&config::parse_url(url, "blob store URL")?)
}

/// Opens the blob store named by [`CLOUDPORT_BLOB_URL`](cloudport_core::config::BLOB_URL_ENV).
///
/// # Errors
/// `Config` naming the variable when it is unset; otherwise as [`open`].
pub fn from_env() -> Result<Arc<dyn BlobStore>> {
    open_url(&config::url_from_env(BLOB_URL_ENV, "file:///var/lib/app/blobs")?)
}

/// Opens the blob store `url` names; see [`open`].
///
/// # Errors
/// As [`open`].
pub fn open_url(url: &Url) -> Result<Arc<dyn BlobStore>> {
    match url.scheme() {
        #[cfg(feature = "local")]
        "file" => Ok(Arc::new(cloudport_local::FsBlobStore::from_url(url)?)),
        #[cfg(feature = "local")]
        "memory" => Ok(Arc::new(cloudport_local::MemoryBlobStore::from_url(url)?)),
        #[cfg(feature = "aws-s3")]
        "s3" => Ok(Arc::new(cloudport_aws::S3BlobStore::from_url(url)?)),
        #[cfg(feature = "azure")]
        "az" => Ok(Arc::new(cloudport_azure::AzureBlobStore::from_url(url)?)),
        other => Err(scheme::unavailable(other, Resource::Blob)),
    }
}
