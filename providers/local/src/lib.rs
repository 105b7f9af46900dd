//! cloudport's embedded provider: no account, no server.
//!
//! - [`FsBlobStore`] (`file:///path`): a directory on the local filesystem, atomic and durable writes.
//! - [`MemoryBlobStore`] (`memory://name`): in process memory, same semantics.
//! - [`MemoryQueue`] (`memory://name`): in process memory.
//! - [`SqliteQueue`] (`sqlite:///path/queue.db?queue=name`): durable across crashes and restarts.
//! - [`host::LocalHost`]: every portable function of a binary in one process, triggered by local
//!   HTTP, queues, blob writes and timers.
//!
//! Users normally reach these through the `cloudport` facade (`cloudport::blob::open`,
//! `cloudport::queue::open`); they can also be built directly:
//!
//! ```
//! use std::time::Duration;
//! use cloudport_core::{BlobKey, BlobStoreExt, Message, Queue, QueueExt};
//! use cloudport_local::{FsBlobStore, SqliteQueue};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let dir = tempfile::tempdir()?;
//! let store = FsBlobStore::builder(dir.path().join("blobs")).build()?;
//! let queue = SqliteQueue::builder(dir.path().join("queue.db")).queue("jobs").build()?;
//!
//! let key = BlobKey::new("reports/today.csv")?;
//! store.put(&key, "id,total\n1,42\n").await?;
//! queue.send(Message::new(key.as_str().to_owned())).await?;
//!
//! let job = queue.receive_batch(1, Duration::from_secs(1)).await?.remove(0);
//! assert_eq!(job.body, "reports/today.csv");
//! queue.ack(&job.receipt).await?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod blob;
pub mod host;
mod queue;

pub use blob::*;
pub use queue::*;
