//! What each provider can do, and its limits, so callers and the conformance suite branch on
//! facts instead of provider names.

use std::time::Duration;

/// What a [`BlobStore`](crate::BlobStore) supports.
///
/// Build one with struct update syntax from [`Default`] (everything off, no limits):
///
/// ```
/// use cloudport_core::BlobCapabilities;
///
/// let caps = BlobCapabilities { provider: "example", conditional_put: true, ..Default::default() };
/// assert!(!caps.presign);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlobCapabilities {
    /// Short provider name, as in errors and tracing (`"local-fs"`, `"aws-s3"`).
    pub provider: &'static str,
    /// `PutMode::Create` and `PutMode::IfMatch` are enforced atomically by the service.
    pub conditional_put: bool,
    /// `if_match` / `if_none_match` on reads are enforced.
    pub conditional_get: bool,
    /// `CopyMode::Create` is enforced atomically.
    pub conditional_copy: bool,
    /// Presigned GET and PUT URLs can be made.
    pub presign: bool,
    /// Longest expiry of a presigned URL.
    pub max_presign_expiry: Option<Duration>,
    /// Content type and user metadata are stored and returned by `head`.
    pub metadata: bool,
    /// Both `a` and `a/b` can exist at once (false on a filesystem, where `a` would be a directory).
    pub file_and_prefix_coexist: bool,
    /// Largest object a single `put_opts` may write (use a writer above it).
    pub max_put_size: Option<u64>,
    /// Largest object at all.
    pub max_object_size: Option<u64>,
    /// Most entries one list request returns.
    pub max_list_page: usize,
}

/// What a [`Queue`](crate::Queue) supports, and its limits.
///
/// A message's size is its body plus every attribute name and value, in bytes, as it will be
/// sent (after any encoding the provider applies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueCapabilities {
    /// Short provider name (`"local-memory"`, `"aws-sqs"`).
    pub provider: &'static str,
    /// Largest message, in bytes (body plus attributes).
    pub max_message_size: usize,
    /// Most attributes on one message.
    pub max_attributes: usize,
    /// Most messages one batch request sends (larger batches are split).
    pub max_send_batch: usize,
    /// Most messages one receive returns.
    pub max_receive: usize,
    /// Longest delay before a sent message becomes visible; zero if delayed send is not
    /// supported (a delay then fails with `Unsupported`). SQS: 15 min; Pub/Sub: none.
    pub max_delay: Duration,
    /// Longest delay a nack may ask for before redelivery; zero if nack can only redeliver at
    /// once. Separate from `max_delay` because services differ (Pub/Sub has no delayed send but
    /// delays a nack up to 600 s; SQS delays a send 15 min but a nack up to 12 h).
    pub max_nack_delay: Duration,
    /// Shortest lease a receive may ask for.
    pub min_lease: Duration,
    /// Longest lease a receive or lease extension may ask for.
    pub max_lease: Duration,
    /// Lease used when a receive does not ask for one.
    pub default_lease: Duration,
    /// The service holds a receive open until a message arrives (otherwise we poll with backoff).
    pub long_poll: bool,
    /// Every delivery carries an accurate delivery count.
    pub delivery_count: bool,
    /// Ack, nack and lease extension with a stale receipt (the lease expired and the message was
    /// delivered again) fail with `PreconditionFailed`. False where the service accepts them
    /// silently (SQS deletes with an old receipt handle may succeed without deleting).
    pub detects_lost_lease: bool,
    /// While a lease holds, the message is delivered to no one else. False where the service
    /// may deliver a second copy at any time (SQS standard queues: "occasionally more than one
    /// copy of a message is delivered"); consumers must then deduplicate by message id.
    pub exclusive_lease: bool,
    /// Messages delivered too often move to a dead-letter queue, and `dead_letter` works.
    pub dead_letter: bool,
}
