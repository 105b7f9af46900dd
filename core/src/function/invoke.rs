//! Invoking another function by name: the [`Invoker`] trait each host implements, and the wire
//! form of a function's error.

use std::fmt;

use async_trait::async_trait;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::trace::TraceContext;
use crate::error::{Error, ErrorKind, Result};

/// Calls functions by their logical name. Hosts provide one: in-process on the local host, Lambda
/// `Invoke` on AWS, HTTP on the others. Handlers reach it through
/// [`Context::invoke`](super::Context::invoke) and never name a vendor.
#[async_trait]
pub trait Invoker: fmt::Debug + Send + Sync {
    /// Runs `function` with the JSON `payload` and waits for its JSON output.
    ///
    /// # Errors
    /// `NotFound` for an unknown function; the function's own error (kind and message preserved)
    /// when it fails; transport errors of the host.
    ///
    /// `trace` is the caller's trace context; invokers pass it on so the callee's span joins the
    /// caller's trace.
    async fn invoke(&self, function: &str, payload: Bytes, trace: TraceContext) -> Result<Bytes>;

    /// Starts `function` with the JSON `payload` and returns once the platform has accepted it;
    /// the function's outcome is not reported back.
    ///
    /// # Errors
    /// `NotFound` for an unknown function; transport errors of the host.
    async fn invoke_async(&self, function: &str, payload: Bytes, trace: TraceContext) -> Result<()>;
}

/// Typed invocation over any [`Invoker`]: the input is serialized to JSON and the output
/// decoded, so callers (a handler's [`Context`](super::Context), a host's test handle) share one
/// conversion.
pub trait InvokerExt: Invoker {
    /// Runs `function` with `input` as JSON and decodes its JSON output.
    ///
    /// # Errors
    /// As [`Invoker::invoke`]; `InvalidInput` when `input` does not serialize or the output does
    /// not decode into `O`.
    fn invoke_json<I, O>(
        &self,
        function: &str,
        input: &I,
        trace: TraceContext,
    ) -> impl Future<Output = Result<O>> + Send
    where
        I: Serialize + ?Sized,
        O: DeserializeOwned,
    {
        let payload = serde_json::to_vec(input).map(Bytes::from);
        async move {
            let output = self.invoke(function, payload?, trace).await?;
            serde_json::from_slice(&output).map_err(|e| {
                Error::invalid_input(format!("output of function {function:?} does not decode: {e}")).with_source(e)
            })
        }
    }

    /// Starts `function` with `input` as JSON, without waiting for it.
    ///
    /// # Errors
    /// As [`Invoker::invoke_async`]; `InvalidInput` when `input` does not serialize.
    fn invoke_json_async<I>(
        &self,
        function: &str,
        input: &I,
        trace: TraceContext,
    ) -> impl Future<Output = Result<()>> + Send
    where
        I: Serialize + ?Sized,
    {
        let payload = serde_json::to_vec(input).map(Bytes::from);
        async move { self.invoke_async(function, payload?, trace).await }
    }
}

impl<T: Invoker + ?Sized> InvokerExt for T {}

/// An invoker for hosts that cannot invoke: every call fails with `Config`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoInvoker;

#[async_trait]
impl Invoker for NoInvoker {
    async fn invoke(&self, function: &str, _payload: Bytes, _trace: TraceContext) -> Result<Bytes> {
        Err(no_invoker(function))
    }

    async fn invoke_async(&self, function: &str, _payload: Bytes, _trace: TraceContext) -> Result<()> {
        Err(no_invoker(function))
    }
}

fn no_invoker(function: &str) -> Error {
    Error::config(format!(
        "cannot invoke {function:?}: this host has no invoker (run the function under a cloudport host)"
    ))
}

/// A function's error as it crosses a process boundary: Lambda's `{"errorType",
/// "errorMessage"}` shape, which the other hosts reuse, with the [`ErrorKind`] in `errorType`
/// so the caller gets the same kind back.
///
/// ```
/// use cloudport_core::{Error, ErrorKind};
/// use cloudport_core::function::ErrorPayload;
///
/// let payload = ErrorPayload::from_error(&Error::new(ErrorKind::NotFound, "no such order"));
/// assert_eq!(payload.error_type, "cloudport::not_found");
/// let back = payload.into_error();
/// assert_eq!(back.kind(), ErrorKind::NotFound);
/// assert_eq!(back.message(), "no such order");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ErrorPayload {
    /// `cloudport::<kind>` for cloudport errors; the platform's type name otherwise.
    #[serde(rename = "errorType")]
    pub error_type: String,
    /// The error message.
    #[serde(rename = "errorMessage")]
    pub error_message: String,
}

const ERROR_TYPE_PREFIX: &str = "cloudport::";

impl ErrorPayload {
    /// The payload for `error`.
    #[must_use]
    pub fn from_error(error: &Error) -> Self {
        Self {
            error_type: format!("{ERROR_TYPE_PREFIX}{}", error.kind().as_str()),
            error_message: error.message().to_owned(),
        }
    }

    /// The error this payload describes; types cloudport did not write become `Other`.
    #[must_use]
    pub fn into_error(self) -> Error {
        let kind =
            self.error_type.strip_prefix(ERROR_TYPE_PREFIX).and_then(ErrorKind::from_name).unwrap_or(ErrorKind::Other);
        if kind == ErrorKind::Other && !self.error_type.starts_with(ERROR_TYPE_PREFIX) {
            return Error::new(kind, format!("{}: {}", self.error_type, self.error_message));
        }
        Error::new(kind, self.error_message)
    }
}
