//! [`Function`]: a named, triggered tower service, and how every host calls it.

use std::any::Any;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tower::{Layer, Service, ServiceExt};
use tracing::Instrument;
use tracing::field::Empty;

use super::blob_event::BlobEvent;
use super::context::Context;
use super::handler::{self, FunctionService, Handler, IntoBatchOutcome, IntoHttpResponse, ServiceBody};
use super::invocation::{HttpRequest, Input, Invocation, Output};
use super::queue_batch::QueueBatch;
use super::schedule::{Schedule, ScheduleTick};
use super::trace::{TRACEPARENT, TraceContext};
use super::trigger::Trigger;
use crate::error::{BoxError, Error, ErrorKind, Result};
use crate::telemetry::TARGET;

/// Longest function name: Lambda's limit, the smallest of the platforms.
pub const MAX_FUNCTION_NAME_LEN: usize = 64;

/// How a host should run a function. Unset fields take the host's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FunctionSettings {
    /// How long one invocation may run before it fails with `Timeout`.
    pub timeout: Option<Duration>,
    /// How many invocations may run at once; more HTTP requests are shed with 503, and queue
    /// polling waits for a free slot.
    pub concurrency: Option<usize>,
    /// Most messages per queue batch.
    pub batch_size: Option<usize>,
    /// Deliveries of one message before it is dead-lettered.
    pub max_deliveries: Option<u32>,
}

/// A function: a name, a [`Trigger`], [`FunctionSettings`], and a tower service over
/// [`Invocation`]s. The `#[cloudport::function]` attribute builds these; so can plain code:
///
/// ```
/// use cloudport_core::function::{Context, Function, HttpRequest, HttpResponse, Trigger};
///
/// async fn hello(req: HttpRequest, ctx: Context) -> Result<HttpResponse, cloudport_core::Error> {
///     let name = String::from_utf8_lossy(req.body()).into_owned();
///     Ok(HttpResponse::new(format!("hello {name} from {}", ctx.function_name()).into()))
/// }
///
/// let function = Function::http("hello", hello).with_concurrency(64);
/// assert_eq!(function.name(), "hello");
/// assert_eq!(function.trigger(), &Trigger::Http);
/// ```
#[derive(Clone)]
pub struct Function {
    name: Arc<str>,
    trigger: Trigger,
    settings: FunctionSettings,
    service: FunctionService,
}

impl Function {
    /// A function with `trigger` served by `service`.
    #[must_use]
    pub fn from_service(name: impl Into<Arc<str>>, trigger: Trigger, service: FunctionService) -> Self {
        Self { name: name.into(), trigger, settings: FunctionSettings::default(), service }
    }

    /// An HTTP function: `async fn(HttpRequest, Context) -> Result<impl IntoHttpResponse, E>`.
    #[must_use]
    pub fn http<H, M, R>(name: impl Into<Arc<str>>, handler: H) -> Self
    where
        H: Handler<HttpRequest, R, M>,
        R: IntoHttpResponse,
    {
        Self::from_service(name, Trigger::Http, handler::http_service(handler))
    }

    /// An HTTP function served by a tower service, such as a whole axum `Router`. The service
    /// gets the request with its whole body as a [`ServiceBody`] and its path below the
    /// function's mount.
    #[must_use]
    pub fn http_service<S, RB>(name: impl Into<Arc<str>>, service: S) -> Self
    where
        S: Service<http::Request<ServiceBody>, Response = http::Response<RB>> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        RB: http_body::Body + Send + 'static,
        RB::Data: Send,
        RB::Error: Into<BoxError>,
    {
        Self::from_service(name, Trigger::Http, handler::tower_http_service(service))
    }

    /// A queue function fed from the queue called `queue`:
    /// `async fn(QueueBatch<T>, Context) -> Result<BatchOutcome or (), E>`.
    #[must_use]
    pub fn queue<H, M, T, O>(name: impl Into<Arc<str>>, queue: impl Into<String>, handler: H) -> Self
    where
        H: Handler<QueueBatch<T>, O, M>,
        T: DeserializeOwned + Send + 'static,
        O: IntoBatchOutcome,
    {
        Self::from_service(name, Trigger::Queue { queue: queue.into().into() }, handler::queue_service(handler))
    }

    /// A function fired when a blob under `prefix` of the default store is created or deleted:
    /// `async fn(BlobEvent, Context) -> Result<(), E>`.
    #[must_use]
    pub fn blob<H, M>(name: impl Into<Arc<str>>, prefix: impl Into<String>, handler: H) -> Self
    where
        H: Handler<BlobEvent, (), M>,
    {
        Self::from_service(name, Trigger::Blob { prefix: prefix.into().into() }, handler::blob_service(handler))
    }

    /// A function fired by `schedule`: `async fn(ScheduleTick, Context) -> Result<(), E>`.
    #[must_use]
    pub fn schedule<H, M>(name: impl Into<Arc<str>>, schedule: Schedule, handler: H) -> Self
    where
        H: Handler<ScheduleTick, (), M>,
    {
        Self::from_service(name, Trigger::Schedule(schedule), handler::schedule_service(handler))
    }

    /// A function invoked directly with JSON: `async fn(I, Context) -> Result<O, E>` for any
    /// `I: Deserialize` and `O: Serialize`.
    #[must_use]
    pub fn json<H, M, I, O>(name: impl Into<Arc<str>>, handler: H) -> Self
    where
        H: Handler<I, O, M>,
        I: DeserializeOwned + Send + 'static,
        O: Serialize + Send + 'static,
    {
        Self::from_service(name, Trigger::Invoke, handler::json_service(handler))
    }

    /// Sets the timeout of one invocation.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = Some(timeout);
        self
    }

    /// Sets how many invocations may run at once.
    #[must_use]
    pub fn with_concurrency(mut self, limit: usize) -> Self {
        self.settings.concurrency = Some(limit);
        self
    }

    /// Sets the most messages per queue batch.
    #[must_use]
    pub fn with_batch_size(mut self, size: usize) -> Self {
        self.settings.batch_size = Some(size);
        self
    }

    /// Sets how many deliveries a message gets before it is dead-lettered.
    #[must_use]
    pub fn with_max_deliveries(mut self, deliveries: u32) -> Self {
        self.settings.max_deliveries = Some(deliveries);
        self
    }

    /// Wraps the service in a tower layer (a timeout, a concurrency limit, your own tracing).
    /// Errors the layer adds are converted with [`Error::from_box`].
    #[must_use]
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: Layer<FunctionService>,
        L::Service: Service<Invocation, Response = Output> + Clone + Send + Sync + 'static,
        <L::Service as Service<Invocation>>::Future: Send + 'static,
        <L::Service as Service<Invocation>>::Error: Into<BoxError>,
    {
        let layered = layer.layer(self.service);
        self.service = FunctionService::new(
            layered.map_err(|e: <L::Service as Service<Invocation>>::Error| Error::from_box(e.into())),
        );
        self
    }

    /// The logical name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The trigger.
    #[must_use]
    pub fn trigger(&self) -> &Trigger {
        &self.trigger
    }

    /// The settings.
    #[must_use]
    pub fn settings(&self) -> &FunctionSettings {
        &self.settings
    }

    /// Checks that the name is portable: 1 to 64 ASCII letters, digits, `_` or `-`, starting with
    /// a letter (Lambda, Azure Functions and Cloud Run all accept it after `_` becomes `-`).
    ///
    /// # Errors
    /// `Config` naming the function and the rule.
    pub fn validate(&self) -> Result<()> {
        let name = &*self.name;
        let valid = !name.is_empty()
            && name.len() <= MAX_FUNCTION_NAME_LEN
            && name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if valid {
            Ok(())
        } else {
            Err(Error::config(format!(
                "function name {name:?} is not portable (use 1 to {MAX_FUNCTION_NAME_LEN} ASCII letters, digits, `_` or `-`, starting with a letter)"
            )))
        }
    }

    /// Runs one invocation, the same way on every host: in a `function` span (target
    /// `cloudport`, fields `function`, `trigger`, `request_id`, `trace_id`, `span_id`,
    /// `parent_span_id`, `links`, `outcome`), bounded by the context's deadline, with a panic
    /// in the handler turned into an error for this invocation only.
    ///
    /// # Errors
    /// The handler's error; `Timeout` past the deadline; `Other` when the handler panicked.
    pub async fn call(&self, invocation: Invocation) -> Result<Output> {
        let ctx = &invocation.context;
        let span = tracing::info_span!(
            target: TARGET,
            "function",
            function = %self.name,
            trigger = self.trigger.kind().as_str(),
            request_id = ctx.request_id(),
            trace_id = %ctx.trace().trace_id(),
            span_id = %ctx.trace().span_id(),
            parent_span_id = Empty,
            links = Empty,
            outcome = Empty,
        );
        // Formatting ids and parsing every message's trace context only pays off when a
        // subscriber records the span.
        if !span.is_disabled() {
            record_trace_links(&span, ctx, &invocation.input);
        }
        let remaining = ctx.remaining().or(self.settings.timeout);
        let name = Arc::clone(&self.name);
        let run = AssertUnwindSafe(self.service.clone().oneshot(invocation)).catch_unwind();
        let span_for_outcome = span.clone();
        async move {
            let result = match remaining {
                Some(limit) => match tokio::time::timeout(limit, run).await {
                    Ok(done) => done,
                    Err(_) => Ok(Err(Error::new(
                        ErrorKind::Timeout,
                        format!("function {name:?} did not finish within {limit:?} (raise its timeout or do less per invocation)"),
                    ))),
                },
                None => run.await,
            };
            let result = result.unwrap_or_else(|panic| Err(panicked(&name, &*panic)));
            record_outcome(&span_for_outcome, &result);
            if let Err(e) = &result {
                tracing::error!(target: TARGET, error = %e, "function failed");
            }
            result
        }
        .instrument(span)
        .await
    }
}

/// Records the caller's span id and, for a queue batch, the trace context of every producer.
fn record_trace_links(span: &tracing::Span, ctx: &Context, input: &Input) {
    if let Some(parent) = ctx.parent_trace() {
        span.record("parent_span_id", parent.span_id().as_str());
    }
    if let Input::Queue(messages) = input {
        let links: Vec<String> = messages
            .iter()
            .filter_map(|m| m.attributes.get(TRACEPARENT).and_then(|v| TraceContext::parse(v)))
            .map(|t| t.to_traceparent())
            .collect();
        if !links.is_empty() {
            span.record("links", links.join(",").as_str());
        }
    }
}

fn panicked(name: &str, panic: &(dyn Any + Send)) -> Error {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned());
    Error::new(ErrorKind::Other, format!("function {name:?} panicked: {message}")).with_source(Panicked)
}

/// Whether `error` is what [`Function::call`] returns for a handler that panicked.
#[must_use]
pub fn is_panic(error: &Error) -> bool {
    std::error::Error::source(error).is_some_and(|s| s.is::<Panicked>())
}

/// The source marking errors made of panics.
#[derive(Debug)]
struct Panicked;

impl fmt::Display for Panicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the handler panicked")
    }
}

impl std::error::Error for Panicked {}

fn record_outcome(span: &tracing::Span, result: &Result<Output>) {
    let outcome = match result {
        Ok(Output::Batch(batch)) if !batch.is_all_ack() => "partial",
        Ok(Output::Http(response)) if response.status().is_server_error() => "server_error",
        Ok(_) => "ok",
        Err(e) => e.kind().as_str(),
    };
    span.record("outcome", outcome);
}

impl fmt::Debug for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Function")
            .field("name", &self.name)
            .field("trigger", &self.trigger)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}
