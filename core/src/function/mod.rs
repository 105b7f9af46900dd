//! Portable functions: one handler model for every platform.
//!
//! A function is an ordinary `async fn` taking one trigger input and, optionally, a
//! [`Context`], and returning `Result<output, E>` with `E: Into<Error>`:
//!
//! | trigger | input | output |
//! |---|---|---|
//! | [`Trigger::Http`] | [`HttpRequest`] | [`HttpResponse`] (or any [`IntoHttpResponse`]) |
//! | [`Trigger::Queue`] | [`QueueBatch<T>`] (`T: Deserialize`) | [`BatchOutcome`] or `()` |
//! | [`Trigger::Blob`] | [`BlobEvent`] | `()` |
//! | [`Trigger::Schedule`] | [`ScheduleTick`] | `()` |
//! | [`Trigger::Invoke`] | any `Deserialize` | any `Serialize` |
//!
//! [`Function`] wraps the handler in a tower service over [`Invocation`]s (so tower layers
//! compose with it), and [`Function::call`] runs an invocation the same way on every host: in a
//! tracing span, bounded by the deadline, with panics contained. Hosts only translate their
//! platform's wire format to an [`Input`] and the [`Output`] back.
//!
//! ```
//! use cloudport_core::function::{Context, Function, Input, Invocation, Output, TriggerKind};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize)]
//! struct Add { a: i64, b: i64 }
//! #[derive(Serialize)]
//! struct Sum { sum: i64 }
//!
//! async fn add(args: Add) -> Result<Sum, cloudport_core::Error> {
//!     Ok(Sum { sum: args.a + args.b })
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let function = Function::json("add", add);
//! let input = Input::Json(r#"{"a": 2, "b": 40}"#.into());
//! let output = function.call(Invocation::new(input, Context::new("add", TriggerKind::Invoke))).await?;
//! let Output::Json(json) = output else { unreachable!() };
//! assert_eq!(&json[..], br#"{"sum":42}"#);
//! # Ok::<(), cloudport_core::Error>(())
//! # }).unwrap();
//! ```

mod blob_event;
mod context;
#[allow(clippy::module_inception)]
mod function;
mod handler;
mod host;
mod invocation;
mod invoke;
mod queue_batch;
pub mod registry;
mod resources;
mod schedule;
mod trace;
mod trigger;

pub use blob_event::{BlobEvent, BlobEventKind};
pub use context::Context;
pub use function::{Function, FunctionSettings, MAX_FUNCTION_NAME_LEN, is_panic};
pub use handler::{
    FunctionService, Handler, IntoBatchOutcome, IntoHttpResponse, ServiceBody, blob_service, http_service,
    json_service, queue_service, schedule_service, tower_http_service,
};
pub use host::{FUNCTION_ENV, HOST_ENV, HostKind, select_function};
pub use invocation::{HttpRequest, HttpResponse, Input, Invocation, Output, error_response, http_status};
pub use invoke::{ErrorPayload, Invoker, InvokerExt, NoInvoker};
pub use queue_batch::{BatchOutcome, MessageOutcome, QueueBatch, QueueMessage, RawMessage};
pub use resources::{
    DEFAULT_STORE, ResourceOpener, Resources, blob_url_var, is_not_configured, not_configured, queue_url_var,
};
pub use schedule::{Schedule, ScheduleTick};
pub use trace::{TRACEPARENT, TraceContext};
pub use trigger::{Trigger, TriggerKind};

#[cfg(test)]
mod tests;
