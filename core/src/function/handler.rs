//! Plain `async fn`s as function services: the [`Handler`] trait, the output conversions, and one
//! adapter per trigger that turns a handler into a tower service over [`Invocation`]s.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use http_body_util::BodyExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceExt};

use super::blob_event::BlobEvent;
use super::context::Context;
use super::invocation::{HttpRequest, HttpResponse, Input, Invocation, Output};
use super::queue_batch::{BatchOutcome, QueueBatch, QueueMessage, RawMessage};
use super::schedule::ScheduleTick;
use crate::error::{BoxError, Error, Result};
use crate::telemetry::TARGET;

/// A function as a tower service: every host calls this.
pub type FunctionService = BoxCloneSyncService<Invocation, Output, Error>;

/// An `async fn` that can serve as a function: `async fn(I) -> Result<O, E>` or
/// `async fn(I, Context) -> Result<O, E>`, where `E: Into<Error>`. `M` only tells the two shapes
/// apart; callers never name it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a cloudport handler taking `{I}` and returning `Result<{O}, _>`",
    note = "a handler is an `async fn(input, Context) -> Result<output, E>` (the `Context` argument is optional) whose error converts into `cloudport::Error`"
)]
pub trait Handler<I, O, M>: Clone + Send + Sync + 'static {
    /// Runs the handler.
    fn call(&self, input: I, ctx: Context) -> BoxFuture<'static, Result<O>>;
}

impl<F, Fut, I, O, E> Handler<I, O, (I,)> for F
where
    F: Fn(I) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = std::result::Result<O, E>> + Send + 'static,
    E: Into<Error>,
{
    fn call(&self, input: I, _ctx: Context) -> BoxFuture<'static, Result<O>> {
        let fut = self(input);
        Box::pin(async move { fut.await.map_err(Into::into) })
    }
}

impl<F, Fut, I, O, E> Handler<I, O, (I, Context)> for F
where
    F: Fn(I, Context) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = std::result::Result<O, E>> + Send + 'static,
    E: Into<Error>,
{
    fn call(&self, input: I, ctx: Context) -> BoxFuture<'static, Result<O>> {
        let fut = self(input, ctx);
        Box::pin(async move { fut.await.map_err(Into::into) })
    }
}

/// What an HTTP function may return.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned by an http function",
    note = "return `HttpResponse` (an `http::Response<Bytes>`), an `http::Response` with a `String`, `Vec<u8>` or `&'static str` body, or a `StatusCode`"
)]
pub trait IntoHttpResponse: Send + 'static {
    /// Converts into a response.
    fn into_http_response(self) -> HttpResponse;
}

impl IntoHttpResponse for HttpResponse {
    fn into_http_response(self) -> HttpResponse {
        self
    }
}

macro_rules! into_http_response_body {
    ($($body:ty),*) => {$(
        impl IntoHttpResponse for http::Response<$body> {
            fn into_http_response(self) -> HttpResponse {
                self.map(Bytes::from)
            }
        }
    )*};
}

into_http_response_body!(String, Vec<u8>, &'static str);

impl IntoHttpResponse for http::StatusCode {
    fn into_http_response(self) -> HttpResponse {
        let mut response = HttpResponse::new(Bytes::new());
        *response.status_mut() = self;
        response
    }
}

/// What a queue function may return: a [`BatchOutcome`], or `()` when every message succeeded.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned by a queue function",
    note = "return `BatchOutcome` (per-message ack, retry or dead-letter) or `()` (every message acked)"
)]
pub trait IntoBatchOutcome: Send + 'static {
    /// Converts into a batch outcome.
    fn into_batch_outcome(self) -> BatchOutcome;
}

impl IntoBatchOutcome for BatchOutcome {
    fn into_batch_outcome(self) -> BatchOutcome {
        self
    }
}

impl IntoBatchOutcome for () {
    fn into_batch_outcome(self) -> BatchOutcome {
        BatchOutcome::ack_all()
    }
}

fn mismatch(function: &str, expected: &str, input: &Input) -> Error {
    Error::invalid_input(format!(
        "function {function:?} takes {expected}, but was invoked with a {} input (check the host's routing)",
        input.kind()
    ))
}

/// The service for an HTTP handler.
pub fn http_service<H, M, R>(handler: H) -> FunctionService
where
    H: Handler<HttpRequest, R, M>,
    R: IntoHttpResponse,
{
    FunctionService::new(tower::service_fn(move |inv: Invocation| {
        let handler = handler.clone();
        async move {
            match inv.input {
                Input::Http(req) => Ok(Output::Http(handler.call(req, inv.context).await?.into_http_response())),
                other => Err(mismatch(inv.context.function_name(), "http requests", &other)),
            }
        }
    }))
}

/// The request body a tower HTTP service function receives: the whole body, already read.
///
/// One concrete type, so that services generic over their body (an axum `Router`, tower-http
/// stacks) need no annotation.
pub type ServiceBody = http_body_util::Full<Bytes>;

/// The service for a tower HTTP service, such as an axum `Router`: requests and responses keep
/// whole bodies, as on every function platform.
pub fn tower_http_service<S, RB>(service: S) -> FunctionService
where
    S: Service<http::Request<ServiceBody>, Response = http::Response<RB>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    RB: http_body::Body + Send + 'static,
    RB::Data: Send,
    RB::Error: Into<BoxError>,
{
    FunctionService::new(tower::service_fn(move |inv: Invocation| {
        let service = service.clone();
        async move {
            let req = match inv.input {
                Input::Http(req) => req.map(ServiceBody::new),
                other => return Err(mismatch(inv.context.function_name(), "http requests", &other)),
            };
            let response = service.oneshot(req).await.map_err(|e| Error::from_box(e.into()))?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await.map_err(|e| Error::from_box(e.into()))?.to_bytes();
            Ok(Output::Http(http::Response::from_parts(parts, body)))
        }
    }))
}

/// The service for a queue handler taking a [`QueueBatch<T>`].
///
/// Bodies that do not decode into `T` are dead-lettered without reaching the handler. When the
/// handler fails as a whole, every decoded message is retried (after the error's
/// [`retry_after`](Error::retry_after), or the host's backoff).
pub fn queue_service<H, M, T, O>(handler: H) -> FunctionService
where
    H: Handler<QueueBatch<T>, O, M>,
    T: DeserializeOwned + Send + 'static,
    O: IntoBatchOutcome,
{
    FunctionService::new(tower::service_fn(move |inv: Invocation| {
        let handler = handler.clone();
        async move {
            let raw = match inv.input {
                Input::Queue(raw) => raw,
                other => return Err(mismatch(inv.context.function_name(), "queue batches", &other)),
            };
            let (batch, mut outcome) = decode_batch::<T>(raw);
            if batch.is_empty() {
                return Ok(Output::Batch(outcome));
            }
            let ids: Vec<_> = batch.iter().map(|m| m.id.clone()).collect();
            match handler.call(batch, inv.context).await {
                Ok(handled) => outcome.merge(handled.into_batch_outcome()),
                Err(e) => {
                    tracing::error!(target: TARGET, error = %e, messages = ids.len(), "queue handler failed; retrying its batch");
                    outcome.merge(BatchOutcome::retry_all(&ids, e.retry_after()));
                }
            }
            Ok(Output::Batch(outcome))
        }
    }))
}

fn decode_batch<T: DeserializeOwned>(raw: Vec<RawMessage>) -> (QueueBatch<T>, BatchOutcome) {
    let mut outcome = BatchOutcome::ack_all();
    let mut messages = Vec::with_capacity(raw.len());
    for m in raw {
        match serde_json::from_slice::<T>(&m.body) {
            Ok(body) => messages.push(QueueMessage {
                id: m.id,
                body,
                raw_body: m.body,
                attributes: m.attributes,
                delivery_count: m.delivery_count,
                enqueued_at: m.enqueued_at,
            }),
            Err(e) => {
                let reason = format!("body does not decode as {}: {e}", std::any::type_name::<T>());
                tracing::warn!(target: TARGET, message = %m.id.as_str(), %reason, "dead-lettering undecodable message");
                outcome.dead_letter(&m.id, reason);
            }
        }
    }
    (QueueBatch::new(messages), outcome)
}

/// The service for a blob-event handler.
pub fn blob_service<H, M>(handler: H) -> FunctionService
where
    H: Handler<BlobEvent, (), M>,
{
    FunctionService::new(tower::service_fn(move |inv: Invocation| {
        let handler = handler.clone();
        async move {
            match inv.input {
                Input::Blob(event) => handler.call(event, inv.context).await.map(|()| Output::Empty),
                other => Err(mismatch(inv.context.function_name(), "blob events", &other)),
            }
        }
    }))
}

/// The service for a schedule handler.
pub fn schedule_service<H, M>(handler: H) -> FunctionService
where
    H: Handler<ScheduleTick, (), M>,
{
    FunctionService::new(tower::service_fn(move |inv: Invocation| {
        let handler = handler.clone();
        async move {
            match inv.input {
                Input::Schedule(tick) => handler.call(tick, inv.context).await.map(|()| Output::Empty),
                other => Err(mismatch(inv.context.function_name(), "schedule ticks", &other)),
            }
        }
    }))
}

/// The service for a JSON handler: any `Deserialize` input, any `Serialize` output.
pub fn json_service<H, M, I, O>(handler: H) -> FunctionService
where
    H: Handler<I, O, M>,
    I: DeserializeOwned + Send + 'static,
    O: Serialize + Send + 'static,
{
    let handler = Arc::new(handler);
    FunctionService::new(tower::service_fn(move |inv: Invocation| {
        let handler = Arc::clone(&handler);
        async move {
            let payload = match inv.input {
                Input::Json(payload) => payload,
                other => return Err(mismatch(inv.context.function_name(), "json payloads", &other)),
            };
            let input: I = serde_json::from_slice(&payload).map_err(|e| {
                Error::invalid_input(format!(
                    "payload for function {:?} does not decode as {}: {e}",
                    inv.context.function_name(),
                    std::any::type_name::<I>()
                ))
            })?;
            let output = handler.call(input, inv.context).await?;
            Ok(Output::Json(Bytes::from(serde_json::to_vec(&output)?)))
        }
    }))
}
