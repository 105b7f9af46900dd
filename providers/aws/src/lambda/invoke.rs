//! [`LambdaInvoker`]: [`Context::invoke`](cloudport_core::function::Context::invoke) on AWS,
//! through Lambda's `Invoke` API.

use std::fmt;

use async_trait::async_trait;
use aws_sdk_lambda::Client;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use aws_smithy_types::timeout::TimeoutConfig;
use base64::Engine;
use bytes::Bytes;
use cloudport_core::function::{ErrorPayload, Invoker, TRACEPARENT, TraceContext};
use cloudport_core::telemetry::TARGET;
use cloudport_core::{Error, ErrorKind, Result};
use tokio::sync::OnceCell;

use crate::config::{AwsOptions, CONNECT_TIMEOUT};
use crate::error::map_sdk_error;

use super::names::{FUNCTION_PREFIX_ENV, function_var};

/// Invokes functions by logical name: the Lambda function [`function_var`] names (a function in
/// another stack or account, by ARN), else the one named `<prefix><name>`.
///
/// | cloudport | Lambda |
/// |---|---|
/// | `invoke` | `Invoke`, `RequestResponse`: the output, or the function's error (`X-Amz-Function-Error`) with its kind |
/// | `invoke_async` | `Invoke`, `Event`: returns once Lambda queued the event (HTTP 202) |
/// | the caller's trace | `ClientContext.custom.traceparent` (synchronous calls; Lambda drops it for `Event`) |
///
/// The prefix comes from [`FUNCTION_PREFIX_ENV`] in [`from_env`](Self::from_env), which the
/// generated SAM template sets; without one, names are used as they are. Errors a cloudport
/// function returns come back with their [`ErrorKind`]; other failures (a crash, a timeout,
/// another runtime's exception) come back as `Other` with Lambda's error type in the message.
///
/// ```no_run
/// # async fn demo() -> cloudport_core::Result<()> {
/// use cloudport_aws::{AwsOptions, lambda::LambdaInvoker};
/// use cloudport_core::function::{InvokerExt, TraceContext};
///
/// let invoker = LambdaInvoker::new(AwsOptions::new()).with_prefix("shop-prod-");
/// let total: u64 = invoker.invoke_json("summarize", &(), TraceContext::new_root()).await?;
/// # Ok(()) }
/// ```
pub struct LambdaInvoker {
    aws: AwsOptions,
    prefix: String,
    client: OnceCell<Client>,
}

impl LambdaInvoker {
    /// An invoker using `aws` (region, endpoint, credentials) and no name prefix.
    #[must_use]
    pub fn new(aws: AwsOptions) -> Self {
        Self { aws, prefix: String::new(), client: OnceCell::new() }
    }

    /// The standard AWS configuration, with the prefix from [`FUNCTION_PREFIX_ENV`].
    #[must_use]
    pub fn from_env() -> Self {
        Self::new(AwsOptions::new()).with_prefix(std::env::var(FUNCTION_PREFIX_ENV).unwrap_or_default())
    }

    /// Prefixes every logical name with `prefix` to get the Lambda function's name.
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The Lambda function that runs the logical function `name`: the value of
    /// [`function_var`]`(name)` when set, else `<prefix><name>`.
    ///
    /// ```
    /// use cloudport_aws::{AwsOptions, lambda::LambdaInvoker};
    ///
    /// let invoker = LambdaInvoker::new(AwsOptions::new()).with_prefix("shop-");
    /// assert_eq!(invoker.function_name("summarize"), "shop-summarize");
    /// ```
    #[must_use]
    pub fn function_name(&self, name: &str) -> String {
        std::env::var(function_var(name))
            .ok()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| format!("{}{name}", self.prefix))
    }

    async fn client(&self) -> Result<&Client> {
        self.client
            .get_or_try_init(|| async {
                let sdk = self.aws.load().await?;
                // No read timeout: a synchronous invocation lasts as long as the function (up to
                // 15 minutes); the callee's own timeout bounds it.
                let timeouts = TimeoutConfig::builder().connect_timeout(CONNECT_TIMEOUT).build();
                let config = aws_sdk_lambda::config::Builder::from(&sdk).timeout_config(timeouts).build();
                Ok(Client::from_conf(config))
            })
            .await
    }
}

/// `ClientContext` carrying the caller's trace: base64 of `{"custom": {"traceparent": ...}}`.
fn client_context(trace: &TraceContext) -> String {
    let json = serde_json::json!({ "custom": { TRACEPARENT: trace.to_traceparent() } });
    base64::engine::general_purpose::STANDARD.encode(json.to_string())
}

/// The error a function reported (`X-Amz-Function-Error`), from its error payload.
fn function_error(function: &str, lambda_type: &str, payload: &[u8]) -> Error {
    match serde_json::from_slice::<ErrorPayload>(payload) {
        Ok(p) => p.into_error(),
        Err(_) => Error::new(
            ErrorKind::Other,
            format!(
                "Lambda function {function:?} failed ({lambda_type}): {}",
                String::from_utf8_lossy(payload).chars().take(1000).collect::<String>()
            ),
        ),
    }
}

#[async_trait]
impl Invoker for LambdaInvoker {
    async fn invoke(&self, function: &str, payload: Bytes, trace: TraceContext) -> Result<Bytes> {
        let name = self.function_name(function);
        let out = self
            .client()
            .await?
            .invoke()
            .function_name(&name)
            .invocation_type(InvocationType::RequestResponse)
            .client_context(client_context(&trace))
            .payload(Blob::new(payload.to_vec()))
            .send()
            .await
            .map_err(map_sdk_error)?;
        let body = out.payload.map(Blob::into_inner).unwrap_or_default();
        if let Some(lambda_type) = out.function_error {
            tracing::debug!(target: TARGET, function = %name, %lambda_type, "invoked function failed");
            return Err(function_error(&name, &lambda_type, &body));
        }
        Ok(Bytes::from(body))
    }

    async fn invoke_async(&self, function: &str, payload: Bytes, _trace: TraceContext) -> Result<()> {
        let name = self.function_name(function);
        let out = self
            .client()
            .await?
            .invoke()
            .function_name(&name)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(payload.to_vec()))
            .send()
            .await
            .map_err(map_sdk_error)?;
        match out.status_code {
            202 => Ok(()),
            // An emulator that runs `Event` invocations synchronously answers 200 with the
            // outcome; a failure is still a failure to start the function as asked.
            _ => match out.function_error {
                Some(lambda_type) => {
                    let body = out.payload.map(Blob::into_inner).unwrap_or_default();
                    Err(function_error(&name, &lambda_type, &body))
                }
                None => Ok(()),
            },
        }
    }
}

impl fmt::Debug for LambdaInvoker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LambdaInvoker").field("aws", &self.aws).field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloudport_errors_keep_their_kind() {
        let payload = br#"{"errorType":"cloudport::not_found","errorMessage":"no such order"}"#;
        let e = function_error("f", "Unhandled", payload);
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(e.message(), "no such order");
        let e =
            function_error("f", "Unhandled", br#"{"errorType":"Runtime.ExitError","errorMessage":"exit status 1"}"#);
        assert_eq!(e.kind(), ErrorKind::Other);
        assert!(e.to_string().contains("Runtime.ExitError"), "{e}");
        let e = function_error("f", "Unhandled", b"not json");
        assert!(e.to_string().contains("not json") && e.to_string().contains("Unhandled"), "{e}");
    }

    #[test]
    fn the_client_context_carries_the_trace() {
        let trace = TraceContext::new_root();
        let decoded = base64::engine::general_purpose::STANDARD.decode(client_context(&trace)).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&decoded).unwrap();
        assert_eq!(json["custom"]["traceparent"], trace.to_traceparent());
    }
}
