//! Portable functions: write a handler once, run it on any host.
//!
//! Annotate an ordinary `async fn` with [`#[cloudport::function]`](macro@crate::function) and
//! call [`run`](crate::run) from `main`: locally every function runs together in one process
//! (the `local` feature's host); on a cloud, the host the platform's environment names runs the
//! function it selects. The handler model itself (inputs, outputs, [`Context`], [`Function`])
//! is documented in [`cloudport_core::function`] and re-exported here.

use std::sync::Arc;

pub use cloudport_core::function::*;

use crate::{BlobStore, Queue, Result};

/// Opens the stores and queues handlers ask for from the environment: the default store from
/// `CLOUDPORT_BLOB_URL`, the store `name` from `CLOUDPORT_BLOB_URL_<NAME>`, the queue `name`
/// from `CLOUDPORT_QUEUE_URL_<NAME>` ([`blob_url_var`], [`queue_url_var`]). Any URL a compiled-in
/// provider understands works.
///
/// ```
/// use cloudport::function::{EnvOpener, ResourceOpener};
///
/// let err = EnvOpener.open_queue("surely-unset-queue").unwrap_err();
/// assert!(err.to_string().contains("CLOUDPORT_QUEUE_URL_SURELY_UNSET_QUEUE"));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvOpener;

impl ResourceOpener for EnvOpener {
    fn open_blob_store(&self, name: &str) -> Result<Arc<dyn BlobStore>> {
        let var = blob_url_var(name);
        match std::env::var(&var) {
            Ok(url) => crate::blob::open(&url),
            Err(_) => Err(not_configured("blob store", name, &var)),
        }
    }

    fn open_queue(&self, name: &str) -> Result<Arc<dyn Queue>> {
        let var = queue_url_var(name);
        match std::env::var(&var) {
            Ok(url) => crate::queue::open(&url),
            Err(_) => Err(not_configured("queue", name, &var)),
        }
    }
}
