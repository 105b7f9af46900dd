//! Where the host's stores and queues come from: the configured opener, else process memory.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use cloudport_core::function::{
    BlobEvent, DEFAULT_STORE, ResourceOpener, blob_url_var, is_not_configured, queue_url_var,
};
use cloudport_core::telemetry::TARGET;
use cloudport_core::{BlobStore, DeadLetterPolicy, Queue, Result};
use tokio::sync::mpsc::UnboundedSender;

use super::observed::ObservedStore;
use crate::{MemoryBlobStore, MemoryQueue};

/// The suffix of the dead-letter queue the fallback gives each memory queue: `jobs` dead-letters
/// to `jobs-dead-letter`.
pub const DEAD_LETTER_SUFFIX: &str = "-dead-letter";

/// Longest memory queue name (SQS's limit, which the local queues keep).
const MAX_QUEUE_NAME_LEN: usize = 80;

/// Deliveries before dead-lettering when nothing else says.
const DEFAULT_MAX_DELIVERIES: u32 = 5;

/// Opens stores and queues with an inner opener and, for those it reports as not configured,
/// falls back to process memory, so a local run needs no setup:
///
/// - a blob store becomes a [`MemoryBlobStore`] named `cloudport-local-<random>` (the default
///   store) or `cloudport-local-<random>-<name>`, reachable in the process as `memory://<that name>`;
/// - a queue `name` becomes the [`MemoryQueue`] `name`, dead-lettering to `name-dead-letter`
///   after `max_deliveries` deliveries (queues whose name already ends in `-dead-letter` get no
///   dead-letter queue of their own).
///
/// "Not configured" is the inner opener's `Config` error built by
/// [`not_configured`](cloudport_core::function::not_configured) (what the `cloudport` facade's
/// `EnvOpener` returns when the variable is unset); any other error, such as a malformed URL in
/// the variable, is returned as it is rather than hidden behind a fallback. Each fallback is
/// logged once, at info level, with the variable that would configure it.
///
/// ```
/// use cloudport_core::function::{DEFAULT_STORE, ResourceOpener};
/// use cloudport_local::host::FallbackOpener;
///
/// let opener = FallbackOpener::new(None).with_max_deliveries(3);
/// let store = opener.open_blob_store(DEFAULT_STORE)?;
/// let queue = opener.open_queue("fallback-doc-jobs")?;
/// assert_eq!(queue.name(), "fallback-doc-jobs");
/// # Ok::<(), cloudport_core::Error>(())
/// ```
#[derive(Clone)]
pub struct FallbackOpener {
    inner: Option<Arc<dyn ResourceOpener>>,
    max_deliveries: u32,
    queue_max_deliveries: HashMap<String, u32>,
    store_prefix: String,
    logged: Arc<Mutex<HashSet<String>>>,
}

impl FallbackOpener {
    /// Tries `inner` first (none: always fall back); memory queues dead-letter after 5
    /// deliveries.
    #[must_use]
    pub fn new(inner: Option<Arc<dyn ResourceOpener>>) -> Self {
        Self {
            inner,
            max_deliveries: DEFAULT_MAX_DELIVERIES,
            queue_max_deliveries: HashMap::new(),
            store_prefix: format!("cloudport-local-{:08x}", rand::random::<u32>()),
            logged: Arc::default(),
        }
    }

    /// Memory queues dead-letter after `deliveries` deliveries (at least 1).
    #[must_use]
    pub fn with_max_deliveries(mut self, deliveries: u32) -> Self {
        self.max_deliveries = deliveries.max(1);
        self
    }

    /// The memory queue `queue` dead-letters after `deliveries` deliveries (at least 1),
    /// overriding [`with_max_deliveries`](Self::with_max_deliveries) for it.
    #[must_use]
    pub fn with_queue_max_deliveries(mut self, queue: impl Into<String>, deliveries: u32) -> Self {
        self.queue_max_deliveries.insert(queue.into(), deliveries.max(1));
        self
    }

    /// The `memory://` name of the fallback store called `name`.
    fn store_name(&self, name: &str) -> String {
        if name == DEFAULT_STORE { self.store_prefix.clone() } else { format!("{}-{name}", self.store_prefix) }
    }

    /// Logs `message` the first time `key` falls back.
    fn log_once(&self, key: String, message: impl FnOnce() -> String) {
        if self.logged.lock().unwrap_or_else(PoisonError::into_inner).insert(key) {
            tracing::info!(target: TARGET, "{}", message());
        }
    }

    fn memory_queue(&self, name: &str) -> Result<Arc<dyn Queue>> {
        let deliveries = self.queue_max_deliveries.get(name).copied().unwrap_or(self.max_deliveries);
        let dead_letter = format!("{name}{DEAD_LETTER_SUFFIX}");
        let var = queue_url_var(name);
        let mut builder = MemoryQueue::builder(name);
        let detail = if name.ends_with(DEAD_LETTER_SUFFIX) {
            "no dead-letter queue of its own".to_owned()
        } else if dead_letter.len() > MAX_QUEUE_NAME_LEN {
            format!("no dead-letter queue: {dead_letter:?} would be over {MAX_QUEUE_NAME_LEN} characters")
        } else {
            builder = builder.dead_letter(DeadLetterPolicy::new(dead_letter.as_str(), deliveries));
            format!("dead-lettering to memory://{dead_letter} after {deliveries} deliveries")
        };
        let queue = builder.build()?;
        self.log_once(format!("queue:{name}"), || {
            format!("queue {name:?} is not configured; using the in-process queue memory://{name}, {detail} (set {var} to use another)")
        });
        Ok(Arc::new(queue))
    }
}

impl ResourceOpener for FallbackOpener {
    fn open_blob_store(&self, name: &str) -> Result<Arc<dyn BlobStore>> {
        let var = blob_url_var(name);
        if let Some(inner) = &self.inner {
            match inner.open_blob_store(name) {
                Err(e) if is_not_configured(&e) => {}
                other => return other,
            }
        }
        let memory = self.store_name(name);
        self.log_once(format!("store:{name}"), || {
            format!("blob store {name:?} is not configured; using the in-process store memory://{memory} (set {var} to use another)")
        });
        Ok(Arc::new(MemoryBlobStore::named(&memory)))
    }

    fn open_queue(&self, name: &str) -> Result<Arc<dyn Queue>> {
        if let Some(inner) = &self.inner {
            match inner.open_queue(name) {
                Err(e) if is_not_configured(&e) => {}
                other => return other,
            }
        }
        self.memory_queue(name)
    }
}

impl fmt::Debug for FallbackOpener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FallbackOpener")
            .field("inner", &self.inner)
            .field("max_deliveries", &self.max_deliveries)
            .field("queue_max_deliveries", &self.queue_max_deliveries)
            .field("store_prefix", &self.store_prefix)
            .finish_non_exhaustive()
    }
}

/// The host's opener: the fallback opener, with every store it opens wrapped in an
/// [`ObservedStore`] that reports writes and deletes as blob events.
#[derive(Debug)]
pub(crate) struct HostOpener {
    pub(crate) fallback: FallbackOpener,
    pub(crate) events: Option<UnboundedSender<BlobEvent>>,
}

impl ResourceOpener for HostOpener {
    fn open_blob_store(&self, name: &str) -> Result<Arc<dyn BlobStore>> {
        let store = self.fallback.open_blob_store(name)?;
        Ok(Arc::new(ObservedStore::with_events(name, store, self.events.clone())))
    }

    fn open_queue(&self, name: &str) -> Result<Arc<dyn Queue>> {
        self.fallback.open_queue(name)
    }
}
