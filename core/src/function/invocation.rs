//! The normalized input and output every host translates to and from its platform's wire format.

use bytes::Bytes;
use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};

use super::blob_event::BlobEvent;
use super::context::Context;
use super::queue_batch::{BatchOutcome, RawMessage};
use super::schedule::ScheduleTick;
use super::trigger::TriggerKind;
use crate::error::{Error, ErrorKind};

/// An HTTP request with its whole body: what HTTP functions take. The path is relative to the
/// function's mount point on hosts that mount several functions on one server.
pub type HttpRequest = http::Request<Bytes>;

/// An HTTP response with its whole body: what HTTP functions return.
pub type HttpResponse = http::Response<Bytes>;

/// The HTTP status an error of `kind` answers with, the same on every host that serves HTTP.
///
/// | kind | status |
/// |---|---|
/// | `InvalidInput` | 400 |
/// | `Unauthenticated` | 401 |
/// | `PermissionDenied` | 403 |
/// | `NotFound` | 404 |
/// | `AlreadyExists`, `Conflict` | 409 |
/// | `PreconditionFailed` | 412 |
/// | `TooLarge` | 413 |
/// | `Throttled` | 429 |
/// | `Unsupported` | 501 |
/// | `Unavailable` | 503 |
/// | `Timeout` | 504 |
/// | anything else | 500 |
#[must_use]
pub fn http_status(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::AlreadyExists | ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::Throttled => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Unsupported => StatusCode::NOT_IMPLEMENTED,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The response for a failed HTTP function: [`http_status`] of its kind, the message as plain
/// text, and for `Throttled` and `Unavailable` a `Retry-After` in whole seconds (rounded up, at
/// least 1).
///
/// ```
/// use std::time::Duration;
/// use cloudport_core::{Error, ErrorKind};
/// use cloudport_core::function::error_response;
///
/// let res = error_response(&Error::new(ErrorKind::Throttled, "slow down").with_retry_after(Duration::from_millis(2500)));
/// assert_eq!(res.status(), 429);
/// assert_eq!(res.headers()["retry-after"], "3");
/// ```
#[must_use]
pub fn error_response(error: &Error) -> HttpResponse {
    let mut response = HttpResponse::new(Bytes::from(error.to_string()));
    *response.status_mut() = http_status(error.kind());
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    if matches!(error.kind(), ErrorKind::Throttled | ErrorKind::Unavailable) {
        let secs = error.retry_after().map_or(1, |d| d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1);
        response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

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
