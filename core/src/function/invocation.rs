//! The normalized input and output every host translates to and from its platform's wire format.

use bytes::Bytes;

use super::blob_event::BlobEvent;
use super::context::Context;
use super::queue_batch::{BatchOutcome, RawMessage};
use super::schedule::ScheduleTick;
use super::trigger::TriggerKind;

/// An HTTP request with its whole body: what HTTP functions take. The path is relative to the
/// function's mount point on hosts that mount several functions on one server.
pub type HttpRequest = http::Request<Bytes>;

/// An HTTP response with its whole body: what HTTP functions return.
pub type HttpResponse = http::Response<Bytes>;

/// One unit of work for a function, as a host received it.
#[derive(Debug)]
#[non_exhaustive]
pub enum Input {
    /// An HTTP request.
    Http(HttpRequest),
    /// A batch of queue messages, bodies not yet decoded.
    Queue(Vec<RawMessage>),
    /// A blob was created or deleted.
    Blob(BlobEvent),
    /// A schedule fired.
    Schedule(ScheduleTick),
    /// A direct invocation with a JSON payload.
    Json(Bytes),
}

impl Input {
    /// The trigger kind this input comes from.
    #[must_use]
    pub fn kind(&self) -> TriggerKind {
        match self {
            Self::Http(_) => TriggerKind::Http,
            Self::Queue(_) => TriggerKind::Queue,
            Self::Blob(_) => TriggerKind::Blob,
            Self::Schedule(_) => TriggerKind::Schedule,
            Self::Json(_) => TriggerKind::Invoke,
        }
    }
}

/// What a function produced, for its host to translate.
#[derive(Debug)]
#[non_exhaustive]
pub enum Output {
    /// An HTTP response.
    Http(HttpResponse),
    /// The per-message outcome of a queue batch.
    Batch(BatchOutcome),
    /// A JSON document (the output of a direct invocation).
    Json(Bytes),
    /// Nothing (blob and schedule functions).
    Empty,
}

/// An input with its context: the request every function service handles.
#[derive(Debug)]
#[non_exhaustive]
pub struct Invocation {
    /// The input.
    pub input: Input,
    /// The context.
    pub context: Context,
}

impl Invocation {
    /// An invocation of `input` in `context`.
    #[must_use]
    pub fn new(input: Input, context: Context) -> Self {
        Self { input, context }
    }
}
