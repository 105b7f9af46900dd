//! [`LambdaHost`]: one function on the Lambda Runtime API.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use cloudport_core::config::BLOB_URL_ENV;
use cloudport_core::function::{
    BlobEvent, Context, ErrorPayload, FUNCTION_ENV, Function, Input, Invocation, Invoker, Output, ResourceOpener,
    Resources, TRACEPARENT, TraceContext, Trigger, select_function,
};
use cloudport_core::telemetry::TARGET;
use cloudport_core::{Error, ErrorKind, Result};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::value::RawValue;

use super::batch::{self, SourceQueues};
use super::events::{self, BlobPayload, S3Notification, StoreRoot};
#[cfg(feature = "lambda-http")]
use super::http;
use crate::config::AwsOptions;

/// How long before Lambda's deadline an invocation is stopped, leaving time to report.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(250);

/// The variables `lambda_runtime` needs; Lambda and its emulators set them.
const RUNTIME_VARS: [&str; 4] = [
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
];

/// Runs one function on the Lambda Runtime API.
///
/// ```no_run
/// # async fn demo(functions: Vec<cloudport_core::function::Function>, opener: std::sync::Arc<dyn cloudport_core::function::ResourceOpener>) -> cloudport_core::Result<()> {
/// // What `cloudport::run()` does under Lambda:
/// cloudport_aws::lambda::LambdaHost::from_env(functions, opener)?.run().await
/// # }
/// ```
#[derive(Debug)]
pub struct LambdaHost {
    function: Function,
    resources: Resources,
    invoker: Arc<dyn Invoker>,
    aws: AwsOptions,
    store_root: StoreRoot,
    source_queues: SourceQueues,
}

impl LambdaHost {
    /// A host running `function` with `resources`, invoking other functions through a
    /// `LambdaInvoker::from_env` (with the `invoke` feature). The default store's bucket and prefix (to make S3 event keys
    /// relative) come from `CLOUDPORT_BLOB_URL` when it is an `s3://` URL.
    #[must_use]
    pub fn new(function: Function, resources: Resources) -> Self {
        let store_root = std::env::var(BLOB_URL_ENV).ok().map(|url| store_root(&url)).unwrap_or_default();
        Self {
            function,
            resources,
            invoker: default_invoker(&AwsOptions::new()),
            aws: AwsOptions::new(),
            store_root,
            source_queues: SourceQueues::default(),
        }
    }

    /// The host for the function this Lambda function runs, chosen from `functions` by
    /// `CLOUDPORT_FUNCTION` or `AWS_LAMBDA_FUNCTION_NAME` ([`select_function`]), with stores
    /// and queues opened by `opener`.
    ///
    /// # Errors
    /// `Config` when no function can be chosen (the message lists them and names the variable).
    pub fn from_env(functions: Vec<Function>, opener: Arc<dyn ResourceOpener>) -> Result<Self> {
        let configured = std::env::var(FUNCTION_ENV).ok();
        let platform = std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok();
        let function = select_function(functions, configured.as_deref(), platform.as_deref())?;
        Ok(Self::new(function, Resources::new(opener)))
    }

    /// Reaches AWS with `aws` (an endpoint, credentials, a whole SDK configuration) instead of
    /// the standard configuration: for the queues SQS events come from (retry delays,
    /// dead-lettering) and the default invoker. The region of an event's queue is the one in
    /// its ARN.
    #[must_use]
    pub fn with_aws(mut self, aws: AwsOptions) -> Self {
        self.invoker = default_invoker(&aws);
        self.aws = aws;
        self
    }

    /// Invokes other functions through `invoker` instead.
    #[must_use]
    pub fn with_invoker(mut self, invoker: Arc<dyn Invoker>) -> Self {
        self.invoker = invoker;
        self
    }

    /// The function this host runs.
    #[must_use]
    pub fn function(&self) -> &Function {
        &self.function
    }

    /// Polls the Runtime API and runs the function for each event, until the process ends.
    ///
    /// # Errors
    /// `Config` when a variable the Runtime API client needs is missing (not running under
    /// Lambda or an emulator), or the function's trigger needs a feature that is off (the
    /// message names it); `Unavailable` when the runtime loop stops.
    pub fn run(self) -> futures::future::BoxFuture<'static, Result<()>> {
        // Boxed as a trait object: the runtime's future is deeply nested, and computing its
        // layout inside every caller's future overflows the compiler's query depth.
        Box::pin(async move {
            supported(&self.function)?;
            if let Some(missing) = RUNTIME_VARS.iter().find(|v| std::env::var_os(v).is_none_or(|s| s.is_empty())) {
                return Err(Error::config(format!(
                    "{missing} is not set: the Lambda host runs under AWS Lambda or an emulator such as `cargo lambda watch` (set CLOUDPORT_HOST=local to run locally)"
                )));
            }
            tracing::info!(target: TARGET, function = self.function.name(), trigger = self.function.trigger().kind().as_str(), "Lambda host starting");
            let host = Arc::new(self);
            let service = service_fn(move |event: LambdaEvent<Box<RawValue>>| {
                let host = Arc::clone(&host);
                async move { host.handle(event.payload.get(), &event.context).await }
            });
            lambda_runtime::run(service)
                .await
                .map_err(|e| Error::new(ErrorKind::Unavailable, format!("the Lambda runtime loop stopped: {e}")))
        })
    }

    /// Handles one event as the runtime loop does: reads `payload` for the function's
    /// trigger, runs the function, and returns the reply (or the error) for Lambda. For custom
    /// runtimes and tests.
    ///
    /// # Errors
    /// The function's error as a [`Diagnostic`] with `errorType` `cloudport::<kind>`.
    pub async fn handle(&self, payload: &str, lambda: &lambda_runtime::Context) -> Result<Box<RawValue>, Diagnostic> {
        self.dispatch(payload, lambda).await.map_err(|e| {
            let p = ErrorPayload::from_error(&e);
            Diagnostic { error_type: p.error_type, error_message: p.error_message }
        })
    }

    async fn dispatch(&self, payload: &str, lambda: &lambda_runtime::Context) -> Result<Box<RawValue>> {
        supported(&self.function)?;
        match self.function.trigger() {
            #[cfg(feature = "lambda-http")]
            Trigger::Http => {
                let (request, origin) = http::request(payload, self.function.name())?;
                let parent =
                    request.headers().get(TRACEPARENT).and_then(|v| v.to_str().ok()).and_then(TraceContext::parse);
                let response = match self.call(Input::Http(request), lambda, parent).await {
                    Ok(Output::Http(response)) => response,
                    Ok(other) => return Err(unexpected(&other)),
                    Err(e) => cloudport_core::function::error_response(&e),
                };
                http::response(origin, response)
            }
            #[cfg(feature = "sqs")]
            Trigger::Queue { .. } => {
                let records = events::sqs_records(payload)?;
                let input = Input::Queue(records.iter().map(|r| r.message.clone()).collect());
                let outcome = match self.call(input, lambda, None).await? {
                    Output::Batch(outcome) => outcome,
                    other => return Err(unexpected(&other)),
                };
                to_raw(&batch::settle(&records, &outcome, &self.source_queues, &self.aws).await)
            }
            Trigger::Blob { prefix } => self.blob(payload, prefix, lambda).await,
            Trigger::Schedule(schedule) => {
                let tick = events::schedule_tick(payload, schedule.expression(), SystemTime::now())?;
                self.call(Input::Schedule(tick), lambda, None).await?;
                to_raw(&serde_json::Value::Null)
            }
            Trigger::Invoke => {
                let parent = lambda
                    .client_context
                    .as_ref()
                    .and_then(|c| c.custom.get(TRACEPARENT))
                    .and_then(|v| TraceContext::parse(v));
                let input = Input::Json(bytes::Bytes::copy_from_slice(payload.as_bytes()));
                match self.call(input, lambda, parent).await? {
                    Output::Json(json) => {
                        let text =
                            String::from_utf8(json.into()).map_err(|e| Error::new(ErrorKind::Other, e.to_string()))?;
                        RawValue::from_string(text).map_err(|e| Error::new(ErrorKind::Other, e.to_string()))
                    }
                    other => Err(unexpected(&other)),
                }
            }
            _ => Err(Error::unsupported("aws-lambda", format!("the trigger of function {:?}", self.function.name()))),
        }
    }

    /// Blob functions: every event of a direct S3 notification must succeed (else Lambda
    /// retries the notification); through SQS, each message is settled on its own.
    async fn blob(&self, payload: &str, prefix: &str, lambda: &lambda_runtime::Context) -> Result<Box<RawValue>> {
        match events::blob_payload(payload, &self.store_root, prefix)? {
            BlobPayload::Direct(S3Notification::Test) => to_raw(&serde_json::Value::Null),
            BlobPayload::Direct(S3Notification::Events(events)) => {
                for event in events {
                    self.call_blob(event, lambda).await?;
                }
                to_raw(&serde_json::Value::Null)
            }
            BlobPayload::ViaSqs(records) => {
                let mut outcome = cloudport_core::function::BatchOutcome::ack_all();
                for record in &records {
                    if let Err(e) = self.blob_message(record, prefix, lambda).await {
                        tracing::warn!(target: TARGET, message = record.message.id.as_str(), error = %e, "blob notification failed; it will be retried");
                        outcome.retry(&record.message.id, e.retry_after());
                    }
                }
                to_raw(&batch::settle(&records, &outcome, &self.source_queues, &self.aws).await)
            }
        }
    }

    async fn blob_message(
        &self,
        record: &events::SqsRecord,
        prefix: &str,
        lambda: &lambda_runtime::Context,
    ) -> Result<()> {
        let body = &record.message.body;
        if !events::is_s3_notification(body) {
            return Err(Error::invalid_input("the SQS message is not an S3 event notification"));
        }
        let json = std::str::from_utf8(body).map_err(|e| Error::invalid_input(e.to_string()))?;
        match events::s3_notification(json, &self.store_root, prefix)? {
            S3Notification::Test => {
                tracing::debug!(target: TARGET, "skipping S3's test event");
                Ok(())
            }
            S3Notification::Events(events) => {
                for event in events {
                    self.call_blob(event, lambda).await?;
                }
                Ok(())
            }
        }
    }

    async fn call_blob(&self, event: BlobEvent, lambda: &lambda_runtime::Context) -> Result<()> {
        self.call(Input::Blob(event), lambda, None).await.map(drop)
    }

    async fn call(
        &self,
        input: Input,
        lambda: &lambda_runtime::Context,
        parent: Option<TraceContext>,
    ) -> Result<Output> {
        let mut ctx = Context::new(self.function.name().to_owned(), input.kind())
            .with_request_id(lambda.request_id.clone())
            .with_host("aws-lambda")
            .with_resources(self.resources.clone())
            .with_invoker(Arc::clone(&self.invoker));
        if let Some(deadline) = deadline(lambda.deadline) {
            ctx = ctx.with_deadline(deadline);
        }
        if let Some(parent) = parent.or_else(|| lambda.xray_trace_id.as_deref().and_then(xray_parent)) {
            ctx = ctx.with_parent_trace(parent);
        }
        self.function.call(Invocation::new(input, ctx)).await
    }
}

/// Whether this build can run `function`'s trigger: `Config` naming the feature when not.
fn supported(function: &Function) -> Result<()> {
    let missing = match function.trigger() {
        Trigger::Http if cfg!(not(feature = "lambda-http")) => {
            Some("HTTP functions need its `aws-lambda-http` feature")
        }
        Trigger::Queue { .. } if cfg!(not(feature = "sqs")) => {
            Some("queue functions need its `aws-sqs` feature (for retry delays and dead-lettering)")
        }
        _ => None,
    };
    match missing {
        Some(what) => Err(Error::config(format!(
            "function {:?} cannot run on Lambda in this build: {what} (enable it, or cloudport's `aws` feature, in Cargo.toml; with cloudport-aws directly, its `lambda-http` or `sqs` feature)",
            function.name()
        ))),
        None => Ok(()),
    }
}

/// The invoker behind `Context::invoke`: Lambda's Invoke API, prefixed as the SAM template says.
#[cfg(feature = "invoke")]
fn default_invoker(aws: &AwsOptions) -> Arc<dyn Invoker> {
    use super::{FUNCTION_PREFIX_ENV, LambdaInvoker};
    let prefix = std::env::var(FUNCTION_PREFIX_ENV).unwrap_or_default();
    Arc::new(LambdaInvoker::new(aws.clone()).with_prefix(prefix))
}

/// Without the `invoke` feature, invoking fails naming it.
#[cfg(not(feature = "invoke"))]
fn default_invoker(_aws: &AwsOptions) -> Arc<dyn Invoker> {
    Arc::new(InvokeDisabled)
}

/// The invoker of builds without the `invoke` feature.
#[cfg(not(feature = "invoke"))]
#[derive(Debug)]
struct InvokeDisabled;

#[cfg(not(feature = "invoke"))]
#[async_trait::async_trait]
impl Invoker for InvokeDisabled {
    async fn invoke(&self, function: &str, _input: bytes::Bytes, _trace: TraceContext) -> Result<bytes::Bytes> {
        Err(disabled(function))
    }

    async fn invoke_async(&self, function: &str, _input: bytes::Bytes, _trace: TraceContext) -> Result<()> {
        Err(disabled(function))
    }
}

#[cfg(not(feature = "invoke"))]
fn disabled(function: &str) -> Error {
    Error::config(format!(
        "cannot invoke {function:?}: invoking functions on Lambda needs cloudport's `aws-invoke` feature (or `aws`; with cloudport-aws directly, its `invoke` feature)"
    ))
}

/// Lambda's deadline (milliseconds since the epoch) less [`DEADLINE_MARGIN`], as an instant;
/// `None` when there is none or it has already passed on arrival, which Lambda never sends but
/// emulators do (`cargo lambda watch` sends a constant 600,000 ms, in 1970).
fn deadline(epoch_ms: u64) -> Option<Instant> {
    let at = SystemTime::UNIX_EPOCH + Duration::from_millis(epoch_ms);
    let left = at.duration_since(SystemTime::now()).ok().filter(|left| !left.is_zero())?;
    Some(Instant::now() + left.saturating_sub(DEADLINE_MARGIN))
}

/// The X-Ray trace header (`Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;
/// Sampled=1`) as a W3C trace context: the same trace id without its dashes, the parent's span.
fn xray_parent(header: &str) -> Option<TraceContext> {
    let field = |name: &str| header.split(';').find_map(|kv| kv.trim().strip_prefix(name)?.strip_prefix('='));
    let root = field("Root")?.strip_prefix("1-")?.replace('-', "");
    let parent = field("Parent")?;
    let sampled = if field("Sampled") == Some("1") { "01" } else { "00" };
    TraceContext::parse(&format!("00-{root}-{parent}-{sampled}"))
}

/// The bucket and prefix of an `s3://bucket/prefix` URL; the empty root otherwise.
fn store_root(url: &str) -> StoreRoot {
    match url.parse::<url::Url>() {
        Ok(url) if url.scheme() == "s3" => {
            let prefix = url.path().trim_matches('/');
            StoreRoot {
                bucket: url.host_str().map(str::to_owned),
                prefix: if prefix.is_empty() { String::new() } else { format!("{prefix}/") },
            }
        }
        _ => StoreRoot::default(),
    }
}

fn to_raw(value: &impl serde::Serialize) -> Result<Box<RawValue>> {
    serde_json::value::to_raw_value(value)
        .map_err(|e| Error::new(ErrorKind::Other, format!("cannot encode the reply: {e}")))
}

fn unexpected(output: &Output) -> Error {
    Error::new(ErrorKind::Other, format!("the function returned {output:?}, which its trigger does not expect"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xray_headers_become_trace_parents() {
        let parent = xray_parent("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1").unwrap();
        assert_eq!(parent.to_traceparent(), "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01");
        assert!(xray_parent("Root=1-5759e988-bd862e3fe1be46a994272793").is_none());
        assert!(xray_parent("garbage").is_none());
    }

    #[test]
    fn the_store_root_comes_from_an_s3_url() {
        assert_eq!(
            store_root("s3://data/app/v1/"),
            StoreRoot { bucket: Some("data".into()), prefix: "app/v1/".into() }
        );
        assert_eq!(store_root("s3://data"), StoreRoot { bucket: Some("data".into()), prefix: String::new() });
        assert_eq!(store_root("memory://x"), StoreRoot::default());
    }

    #[test]
    fn triggers_this_build_cannot_run_name_their_feature() {
        use cloudport_core::function::{HttpRequest, HttpResponse, QueueBatch};
        async fn web(_: HttpRequest) -> Result<HttpResponse> {
            Ok(HttpResponse::new("ok".into()))
        }
        async fn jobs(_: QueueBatch<String>) -> Result<()> {
            Ok(())
        }
        let cases = [
            (Function::http("web", web), cfg!(feature = "lambda-http"), "`aws-lambda-http` feature"),
            (Function::queue("jobs", "jobs", jobs), cfg!(feature = "sqs"), "`aws-sqs` feature"),
        ];
        for (function, built_in, feature) in cases {
            match supported(&function) {
                Ok(()) => assert!(built_in, "{} ran without {feature}", function.name()),
                Err(e) => {
                    assert!(!built_in, "{e}");
                    assert_eq!(e.kind(), ErrorKind::Config);
                    assert!(e.to_string().contains(feature), "{e}");
                }
            }
        }
    }

    #[cfg(not(feature = "invoke"))]
    #[tokio::test]
    async fn invoking_without_the_invoke_feature_names_it() {
        let err = default_invoker(&AwsOptions::new())
            .invoke("other", bytes::Bytes::from_static(b"{}"), TraceContext::new_root())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains("`aws-invoke` feature"), "{err}");
    }

    #[test]
    fn deadlines_leave_a_margin() {
        let ms = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis() as u64 + 10_000;
        let left = deadline(ms).unwrap().saturating_duration_since(Instant::now());
        assert!(left <= Duration::from_secs(10) - DEADLINE_MARGIN && left > Duration::from_secs(9), "{left:?}");
        assert!(deadline(0).is_none());
        assert!(deadline(600_000).is_none(), "cargo lambda watch's constant is no deadline");
    }
}
