//! cloudport's embedded provider: no account, no server.
//!
//! - [`FsBlobStore`] (`file:///path`): a directory on the local filesystem, atomic and durable writes.
//! - [`MemoryBlobStore`] (`memory://name`): in process memory, same semantics.
//! - [`MemoryQueue`] (`memory://name`): in process memory.
//! - [`SqliteQueue`] (`sqlite:///path/queue.db?queue=name`): durable across crashes and restarts.

mod blob;
mod queue;

pub use blob::*;
pub use queue::*;
