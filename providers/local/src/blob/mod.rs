//! Local blob stores: [`FsBlobStore`] on a directory of the local filesystem and
//! [`MemoryBlobStore`] in process memory.
//!
//! Both implement every [`BlobStore`](cloudport_core::BlobStore) operation with the semantics of
//! the cloud stores they stand in for: strong etags that change on every write, atomic
//! create-only and compare-and-swap writes, ranged and conditional reads, S3-style sorted and
//! paginated listings with `/` grouping, and all-or-nothing streaming uploads. Presigned URLs are
//! the one gap (`ErrorKind::Unsupported`: there is no server to present them to).

mod common;
mod fs;
mod memory;

pub use fs::{FsBlobStore, FsBlobStoreBuilder};
pub use memory::MemoryBlobStore;
