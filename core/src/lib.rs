//! Provider-neutral traits and types of [cloudport](https://docs.rs/cloudport): blob storage,
//! queues, the one error type, capabilities, configuration and tracing.
//!
//! Users depend on the `cloudport` facade crate; provider crates depend on this one.
//!
//! - [`BlobStore`] / [`BlobStoreExt`]: streaming get/put, ranges, conditions, list, copy, delete,
//!   presigned URLs.
//! - [`Queue`] / [`QueueExt`]: send, batch, delay, receive under a lease, ack, nack, lease
//!   extension, dead-lettering. At-least-once on every provider.
//! - [`Error`] / [`ErrorKind`]: one error type whose kinds mean the same thing everywhere.
//! - [`function`]: portable handlers, their triggers and context, invoking other functions.
//! - [`BlobCapabilities`] / [`QueueCapabilities`]: what each provider can do, and its limits.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod blob;
pub mod capability;
pub mod config;
mod error;
pub mod function;
mod key;
pub mod queue;
pub mod telemetry;
pub mod time;

pub use blob::{
    BlobStore, BlobStoreExt, BlobWriter, ByteRange, ByteStream, CopyMode, CopyOptions, ETag, GetOptions, GetResult,
    ListEntry, ListOptions, Metadata, ObjectMeta, ObjectSummary, PresignMethod, PresignedUrl, PutMode, PutOptions,
    PutResult,
};
pub use capability::{BlobCapabilities, QueueCapabilities};
pub use error::{BoxError, Error, ErrorKind, Result};
pub use key::{BlobKey, MAX_KEY_LEN, RESERVED_SEGMENT_PREFIX};
pub use queue::{Attributes, DeadLetterPolicy, Delivery, Message, MessageId, Queue, QueueExt, Receipt, ReceiveOptions};
