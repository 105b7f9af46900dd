//! Queues: the [`Queue`] trait and opening a queue from a URL.

use std::sync::Arc;

use cloudport_core::Result;
use cloudport_core::config::{self, QUEUE_URL_ENV};
pub use cloudport_core::queue::*;
use url::Url;

use crate::scheme::{self, Resource};

/// Opens the queue a URL names, such as `memory://jobs` or
/// `sqlite:///var/lib/app/queue.db?queue=jobs&dead_letter=jobs-dlq&max_deliveries=5`.
///
/// ```
/// let queue = cloudport::queue::open("memory://open-example-jobs")?;
/// assert_eq!(queue.name(), "open-example-jobs");
/// # Ok::<(), cloudport::Error>(())
/// ```
///
/// # Errors
/// [`ErrorKind::Config`](crate::ErrorKind::Config) for a malformed URL, an unknown scheme, a scheme
/// whose provider feature is off (the message names the feature), or an unknown option; the
/// provider's own errors when the queue cannot be opened.
pub fn open(url: &str) -> Result<Arc<dyn Queue>> {
    open_url(&config::parse_url(url, "queue URL")?)
}

/// Opens the queue named by [`CLOUDPORT_QUEUE_URL`](cloudport_core::config::QUEUE_URL_ENV).
///
/// # Errors
/// `Config` naming the variable when it is unset; otherwise as [`open`].
pub fn from_env() -> Result<Arc<dyn Queue>> {
    open_url(&config::url_from_env(QUEUE_URL_ENV, "sqlite:///var/lib/app/queue.db?queue=jobs")?)
}

/// Opens the queue `url` names; see [`open`].
///
/// # Errors
/// As [`open`].
pub fn open_url(url: &Url) -> Result<Arc<dyn Queue>> {
    match url.scheme() {
        #[cfg(feature = "local")]
        "memory" => Ok(Arc::new(cloudport_local::MemoryQueue::from_url(url)?)),
        #[cfg(feature = "local")]
        "sqlite" => Ok(Arc::new(cloudport_local::SqliteQueue::from_url(url)?)),
        #[cfg(feature = "aws-sqs")]
        "sqs" => Ok(Arc::new(cloudport_aws::SqsQueue::from_url(url)?)),
        #[cfg(feature = "azure")]
        "azqueue" => Ok(Arc::new(cloudport_azure::AzureQueue::from_url(url)?)),
        other => Err(scheme::unavailable(other, Resource::Queue)),
    }
}
