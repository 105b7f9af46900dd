//! Functions on AWS Lambda: `LambdaHost` (`lambda` feature) runs one `#[cloudport::function]`
//! on the Lambda Runtime API (through `lambda_runtime`), and `LambdaInvoker` (`invoke` feature)
//! invokes others.
//!
//! One binary holds every function of an app; each Lambda function runs the one
//! `CLOUDPORT_FUNCTION` names (the generated SAM template sets it), else the one whose name is
//! the Lambda function's name (or its suffix after `-`), else the only one
//! ([`select_function`](cloudport_core::function::select_function)). The event is read according to the function's trigger:
//!
//! | trigger | Lambda event | reply |
//! |---|---|---|
//! | http | API Gateway REST (1.0) or HTTP API (2.0), Function URL, ALB; the path loses the stage and the `/<name>` mount | the response in the origin's shape; bodies that are not UTF-8 go base64 |
//! | queue | SQS records (`ApproximateReceiveCount` is the delivery count; binary bodies come back from cloudport's attribute) | `batchItemFailures` for retried messages (needs `ReportBatchItemFailures`); a retry delay sets the message's visibility; dead-lettered messages are sent to the queue's dead-letter queue and deleted |
//! | blob | S3 notifications, direct or carried by SQS; keys URL-decoded and relative to `CLOUDPORT_BLOB_URL`'s prefix; `s3:TestEvent` skipped | nothing; through SQS, `batchItemFailures` for failed notifications |
//! | schedule | EventBridge `Scheduled Event` (its `time` is the tick's scheduled time), or `{}` | nothing |
//! | invoke | the JSON payload as is | the JSON output |
//!
//! A failed function answers with Lambda's error shape, `{"errorType": "cloudport::<kind>",
//! "errorMessage": ...}` ([`ErrorPayload`](cloudport_core::function::ErrorPayload)), so
//! `LambdaInvoker` gives callers the same [`ErrorKind`](cloudport_core::ErrorKind) back; an
//! HTTP function's error is an HTTP response with the kind's status, as on every host.
//! Invocations stop `DEADLINE_MARGIN` before Lambda's deadline, so a slow handler still gets
//! a clean `Timeout` (and a queue batch its failures) instead of being killed mid-reply.
//!
//! HTTP functions need the `lambda-http` feature and queue functions the `sqs` feature (for
//! retry delays and dead-lettering); without them the host refuses to start, naming the
//! feature. Without the `invoke` feature, `Context::invoke` fails with `Config`, naming it too.

mod names;
pub use names::{FUNCTION_PREFIX_ENV, function_var};

#[cfg(feature = "lambda")]
mod batch;
#[cfg(feature = "lambda")]
mod events;
#[cfg(feature = "lambda")]
mod host;
#[cfg(feature = "lambda-http")]
mod http;
#[cfg(feature = "lambda")]
#[cfg_attr(docsrs, doc(cfg(feature = "lambda")))]
pub use host::{DEADLINE_MARGIN, LambdaHost};

#[cfg(feature = "invoke")]
mod invoke;
#[cfg(feature = "invoke")]
#[cfg_attr(docsrs, doc(cfg(feature = "invoke")))]
pub use invoke::LambdaInvoker;
