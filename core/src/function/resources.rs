//! The blob stores and queues a host hands to its functions, by logical name.
//!
//! Handlers ask their [`Context`](super::Context) for `blob()` or `queue("jobs")` and never
//! build a vendor client. A host resolves each name once, on first use: a store or queue
//! registered with [`Resources::with_blob_store`]/[`Resources::with_queue`] first, otherwise
//! its [`ResourceOpener`] (the `cloudport` facade's opener reads the URL from the environment:
//! [`blob_url_var`] and [`queue_url_var`] name the variables).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use crate::blob::BlobStore;
use crate::config::{BLOB_URL_ENV, QUEUE_URL_ENV};
use crate::error::{Error, Result};
use crate::queue::Queue;

/// The name of the default blob store ([`Context::blob`](super::Context::blob)).
pub const DEFAULT_STORE: &str = "default";

/// Opens the blob stores and queues a host did not have registered, by logical name.
pub trait ResourceOpener: fmt::Debug + Send + Sync {
    /// Opens the blob store called `name` ([`DEFAULT_STORE`] for the default one).
    ///
    /// # Errors
    /// `Config` naming what to set when the store is not configured.
    fn open_blob_store(&self, name: &str) -> Result<Arc<dyn BlobStore>>;

    /// Opens the queue called `name`.
    ///
    /// # Errors
    /// `Config` naming what to set when the queue is not configured.
    fn open_queue(&self, name: &str) -> Result<Arc<dyn Queue>>;
}

/// The environment variable holding the URL of the blob store called `name`:
/// `CLOUDPORT_BLOB_URL` for the default store, `CLOUDPORT_BLOB_URL_<NAME>` for others (upper
/// case, anything but letters and digits as `_`).
///
/// ```
/// use cloudport_core::function::{blob_url_var, queue_url_var};
///
/// assert_eq!(blob_url_var("default"), "CLOUDPORT_BLOB_URL");
/// assert_eq!(blob_url_var("thumbnails"), "CLOUDPORT_BLOB_URL_THUMBNAILS");
/// assert_eq!(queue_url_var("resize-jobs"), "CLOUDPORT_QUEUE_URL_RESIZE_JOBS");
/// ```
#[must_use]
pub fn blob_url_var(name: &str) -> String {
    if name == DEFAULT_STORE { BLOB_URL_ENV.to_owned() } else { suffixed(BLOB_URL_ENV, name) }
}

/// The environment variable holding the URL of the queue called `name`:
/// `CLOUDPORT_QUEUE_URL_<NAME>` (see [`blob_url_var`]).
#[must_use]
pub fn queue_url_var(name: &str) -> String {
    suffixed(QUEUE_URL_ENV, name)
}

fn suffixed(base: &str, name: &str) -> String {
    let mut var = String::with_capacity(base.len() + 1 + name.len());
    var.push_str(base);
    var.push('_');
    var.extend(name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }));
    var
}

/// The stores and queues available to a host's functions, opened once and shared.
#[derive(Clone)]
pub struct Resources {
    inner: Arc<Inner>,
}

struct Inner {
    stores: Mutex<HashMap<String, Arc<dyn BlobStore>>>,
    queues: Mutex<HashMap<String, Arc<dyn Queue>>>,
    opener: Option<Arc<dyn ResourceOpener>>,
}

impl Resources {
    /// Resources that open what is not registered with `opener`.
    #[must_use]
    pub fn new(opener: Arc<dyn ResourceOpener>) -> Self {
        Self::build(Some(opener))
    }

    /// Resources with only what is registered: nothing is opened on demand.
    #[must_use]
    pub fn empty() -> Self {
        Self::build(None)
    }

    fn build(opener: Option<Arc<dyn ResourceOpener>>) -> Self {
        Self { inner: Arc::new(Inner { stores: Mutex::default(), queues: Mutex::default(), opener }) }
    }

    /// Registers `store` as the blob store called `name`, replacing any earlier one.
    #[must_use]
    pub fn with_blob_store(self, name: impl Into<String>, store: Arc<dyn BlobStore>) -> Self {
        self.inner.stores.lock().unwrap_or_else(|e| e.into_inner()).insert(name.into(), store);
        self
    }

    /// Registers `queue` as the queue called `name`, replacing any earlier one.
    #[must_use]
    pub fn with_queue(self, name: impl Into<String>, queue: Arc<dyn Queue>) -> Self {
        self.inner.queues.lock().unwrap_or_else(|e| e.into_inner()).insert(name.into(), queue);
        self
    }

    /// The blob store called `name`, opened on first use.
    ///
    /// # Errors
    /// `Config` naming the variable to set when the store is neither registered nor configured.
    pub fn blob_store(&self, name: &str) -> Result<Arc<dyn BlobStore>> {
        let mut stores = self.inner.stores.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(store) = stores.get(name) {
            return Ok(Arc::clone(store));
        }
        let store = match &self.inner.opener {
            Some(opener) => opener.open_blob_store(name)?,
            None => return Err(not_configured("blob store", name, &blob_url_var(name))),
        };
        stores.insert(name.to_owned(), Arc::clone(&store));
        Ok(store)
    }

    /// The queue called `name`, opened on first use.
    ///
    /// # Errors
    /// `Config` naming the variable to set when the queue is neither registered nor configured.
    pub fn queue(&self, name: &str) -> Result<Arc<dyn Queue>> {
        let mut queues = self.inner.queues.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(queue) = queues.get(name) {
            return Ok(Arc::clone(queue));
        }
        let queue = match &self.inner.opener {
            Some(opener) => opener.open_queue(name)?,
            None => return Err(not_configured("queue", name, &queue_url_var(name))),
        };
        queues.insert(name.to_owned(), Arc::clone(&queue));
        Ok(queue)
    }
}

/// The error for a store or queue that nothing provides; [`is_not_configured`] recognizes it.
#[must_use]
pub fn not_configured(what: &str, name: &str, var: &str) -> Error {
    Error::config(format!("{what} {name:?} is not configured (set {var} to its URL)")).with_source(NotConfigured)
}

/// Whether `error` says that nothing configures a store or queue (as opposed to a configuration
/// that is present but wrong), so a host may fall back to a default.
#[must_use]
pub fn is_not_configured(error: &Error) -> bool {
    std::error::Error::source(error).is_some_and(|s| s.is::<NotConfigured>())
}

/// The source marking [`not_configured`] errors.
#[derive(Debug)]
struct NotConfigured;

impl fmt::Display for NotConfigured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no URL is configured")
    }
}

impl std::error::Error for NotConfigured {}

impl fmt::Debug for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stores: Vec<String> = self.inner.stores.lock().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect();
        let queues: Vec<String> = self.inner.queues.lock().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect();
        f.debug_struct("Resources")
            .field("stores", &stores)
            .field("queues", &queues)
            .field("opener", &self.inner.opener)
            .finish()
    }
}
