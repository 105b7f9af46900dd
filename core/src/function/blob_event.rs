//! The event a blob-triggered function receives.

use std::time::SystemTime;

use crate::blob::ETag;
use crate::key::BlobKey;

/// What happened to the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BlobEventKind {
    /// The object was written (created or overwritten; S3 `ObjectCreated:*`, GCS `finalized`,
    /// Azure `BlobCreated`).
    Created,
    /// The object was deleted.
    Deleted,
}

impl BlobEventKind {
    /// `created` or `deleted`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Deleted => "deleted",
        }
    }
}

/// An object was created or deleted under a blob function's prefix.
///
/// Keys arrive decoded (S3 sends them URL-encoded; hosts decode them). Delivery is at least once,
/// and events for one key may arrive out of order: compare [`etag`](Self::etag) with a fresh
/// `head` when order matters.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BlobEvent {
    /// Created or deleted.
    pub kind: BlobEventKind,
    /// The store: the bucket or container name, or the local store's name.
    pub store: String,
    /// The object's key, relative to the store's root prefix.
    pub key: BlobKey,
    /// The object's size for `Created` events, when the platform reports it.
    pub size: Option<u64>,
    /// The object's version token for `Created` events, when the platform reports it.
    pub etag: Option<ETag>,
    /// The object's content type, when the platform reports it.
    pub content_type: Option<String>,
    /// When the change happened, by the platform's clock.
    pub time: SystemTime,
}

impl BlobEvent {
    /// A `Created` event for `key` in `store`.
    #[must_use]
    pub fn created(store: impl Into<String>, key: BlobKey, size: u64, etag: Option<ETag>) -> Self {
        Self {
            kind: BlobEventKind::Created,
            store: store.into(),
            key,
            size: Some(size),
            etag,
            content_type: None,
            time: SystemTime::now(),
        }
    }

    /// A `Deleted` event for `key` in `store`.
    #[must_use]
    pub fn deleted(store: impl Into<String>, key: BlobKey) -> Self {
        Self {
            kind: BlobEventKind::Deleted,
            store: store.into(),
            key,
            size: None,
            etag: None,
            content_type: None,
            time: SystemTime::now(),
        }
    }

    /// Sets the content type.
    #[must_use]
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// Sets the event time.
    #[must_use]
    pub fn with_time(mut self, time: SystemTime) -> Self {
        self.time = time;
        self
    }
}
