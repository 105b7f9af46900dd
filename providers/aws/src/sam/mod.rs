//! An AWS SAM template for an app's functions: one Lambda function per function, with its
//! events, the app's bucket and queues, and least-privilege policies.
//!
//! ```
//! use std::time::Duration;
//!
//! use cloudport_aws::sam::{self, SamOptions};
//! use cloudport_core::Error;
//! use cloudport_core::function::{BlobEvent, Function, HttpRequest, HttpResponse, QueueBatch, Schedule, ScheduleTick};
//!
//! async fn upload(_: HttpRequest) -> Result<HttpResponse, Error> { Ok(HttpResponse::new("ok".into())) }
//! async fn on_upload(_: BlobEvent) -> Result<(), Error> { Ok(()) }
//! async fn count_words(_: QueueBatch<String>) -> Result<(), Error> { Ok(()) }
//! async fn sweep(_: ScheduleTick) -> Result<(), Error> { Ok(()) }
//!
//! let functions = [
//!     Function::http("upload", upload),
//!     Function::blob("on_upload", "uploads/", on_upload),
//!     Function::queue("count_words", "jobs", count_words).with_max_deliveries(3),
//!     Function::schedule("sweep", Schedule::parse("0 */5 * * * *")?, sweep).with_timeout(Duration::from_secs(120)),
//! ];
//! let template = sam::template(&functions, &SamOptions::new().binary("pipeline"))?;
//!
//! let count_words = &template["Resources"]["CountWordsFunction"]["Properties"];
//! assert_eq!(count_words["Events"]["Sqs"]["Properties"]["FunctionResponseTypes"][0], "ReportBatchItemFailures");
//! let jobs = &template["Resources"]["JobsQueue"]["Properties"];
//! assert_eq!(jobs["RedrivePolicy"]["maxReceiveCount"], 3);
//! assert_eq!(template["Resources"]["SweepFunction"]["Properties"]["Events"]["Schedule"]["Properties"]["Schedule"], "cron(0/5 * * * ? *)");
//!
//! // JSON is YAML: write it where `sam deploy` reads it.
//! let text = serde_json::to_string_pretty(&template)?;
//! # let _ = text;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Deploy it with the binary built for Lambda by `cargo lambda`:
//!
//! ```text
//! cargo lambda build --release --arm64 --bin pipeline
//! sam deploy --template-file template.json --stack-name pipeline --resolve-s3 \
//!     --capabilities CAPABILITY_IAM --parameter-overrides BucketName=<a globally unique name>
//! ```
//!
//! # What the template contains
//!
//! The template is JSON, which is YAML too, so SAM and CloudFormation read it as is; intrinsic
//! functions are in their long form (`{"Ref": ..}`, `{"Fn::Sub": ..}`, `{"Fn::GetAtt": [..]}`).
//!
//! | part | what |
//! |---|---|
//! | `Parameters.BucketName` | the bucket's name, no default (bucket names are global) |
//! | `Globals.Function` | `provided.al2023`, handler `bootstrap`, architecture, memory, code, and the variables below |
//! | `Bucket` | the app's bucket: public access blocked, SSE-S3, incomplete multipart uploads removed after a day |
//! | `<Queue>Queue`, `<Queue>DeadLetterQueue` | `<stack>-<queue>` for each queue triggering a function, its redrive policy sending to `<stack>-<queue>-dlq` (kept 14 days) after the function's `max_deliveries` (default 5) |
//! | `<Name>Function` | `<stack>-<name>`, with the function's timeout, its events and its policies |
//! | `Outputs` | the HTTP API's URL (when there are http functions), the bucket, each queue's URL |
//!
//! Every function runs the same binary and finds its handler by the variable
//! `CLOUDPORT_FUNCTION` (its name); the global variables tell the host where everything is:
//! `CLOUDPORT_BLOB_URL` = `s3://<bucket>`, `CLOUDPORT_QUEUE_URL_<QUEUE>` = `sqs://<stack>-<queue>`
//! for each queue, and `CLOUDPORT_FUNCTION_PREFIX` = `<stack>-`, which
//! [`LambdaInvoker`](crate::lambda::LambdaInvoker) puts before the name of a function to invoke.
//!
//! | trigger | event | notes |
//! |---|---|---|
//! | `http` | `HttpApi` routes `ANY /<name>` and `ANY /<name>/{proxy+}` | the Lambda host strips the `/<name>` mount, as the local host does; timeouts over 30 s are refused (HTTP APIs end requests then) and the default is capped at 30 s |
//! | `queue` | `SQS` on the queue, `BatchSize` (default 10), `FunctionResponseTypes: [ReportBatchItemFailures]` | batches over 10 get a 1 s batching window (SQS requires one) unless [`SamOptions::batch_window`] sets another; the queue's visibility timeout is 6 × the function's timeout plus the window, as AWS advises |
//! | `blob` | `S3` on the bucket, `s3:ObjectCreated:*` and `s3:ObjectRemoved:*`, filtered by the prefix | S3 sends an event to one target only, so overlapping prefixes are refused |
//! | `schedule` | `Schedule` (an EventBridge rule) with [`eventbridge_cron`] | sub-minute schedules are refused |
//! | invoke | none | invoked through the Lambda API |
//!
//! Settings are never dropped: `timeout` becomes `Timeout` (whole seconds, rounded up, at most
//! 900 s); `concurrency` becomes the SQS event source's `ScalingConfig.MaximumConcurrency`
//! (2 to 1000) for queue functions and `ReservedConcurrentExecutions` for the others (note that
//! reserving takes from the account's pool, which must keep 100 unreserved); `batch_size` and
//! `max_deliveries` as above. What the template cannot express is an error saying what to
//! change.
//!
//! # Permissions
//!
//! Each function's role is scoped to this stack's resources. cloudport cannot know which
//! function touches which store or queue (handlers open them by name at run time), so every
//! function gets the whole app's:
//!
//! - the bucket: SAM's `S3CrudPolicy` plus `s3:AbortMultipartUpload` (a dropped upload aborts);
//! - every queue: `SQSSendMessagePolicy`, and `sqs:GetQueueUrl`/`sqs:GetQueueAttributes` (the
//!   client finds queues by name and reads their redrive policy) and `sqs:GetQueueUrl` on the
//!   dead-letter queues;
//! - a queue function's own queue: `SQSPollerPolicy` (the host changes visibility for retry
//!   delays) and sending to its dead-letter queue (the host dead-letters what the handler marks);
//! - `lambda:InvokeFunction` on every invoke-only function but itself, by ARN.
//!
//! Resources are named by parameter or by name, never by a `Ref` to a function or to the
//! bucket resource: the bucket's notifications depend on the functions, and functions that
//! invoke each other would depend on each other, so references there would be cycles.
//!
//! SAM adds policies of its own to the roles it generates: `AWSLambdaBasicExecutionRole` (logs)
//! to every function and `AWSLambdaSQSQueueExecutionRole` to queue functions. The latter grants
//! receiving and deleting on every queue of the account (`"Resource": "*"`) and SAM offers no
//! switch to leave it out; a permissions boundary on the roles is the way to narrow it.
//!
//! # Names
//!
//! Logical ids are the names in PascalCase (`count_words` becomes `CountWordsFunction`); names
//! that collide after the conversion are refused. Physical names start with the stack's name,
//! so they depend on it: give [`SamOptions::stack_name`] to check them against Lambda's 64 and
//! SQS's 80 characters before deploying.

mod function;
mod names;
mod options;
mod plan;
mod resources;
mod schedule;

use cloudport_core::Result;
use cloudport_core::function::{Function, registry};
use serde_json::{Map, Value, json};

pub use options::{Architecture, SamOptions};
pub use schedule::eventbridge_cron;

use plan::Plan;

/// The SAM template deploying `functions` with `options`, as JSON (which SAM reads as YAML).
///
/// Functions are checked as a host checks them (portable, unique names) and rendered sorted by
/// name, so the same functions always give the same template. See the [module docs](self) for
/// what the template contains.
///
/// ```
/// use cloudport_aws::sam::{self, SamOptions};
/// use cloudport_core::function::Function;
///
/// async fn summarize(_: ()) -> Result<u64, cloudport_core::Error> { Ok(0) }
///
/// let template = sam::template(&[Function::json("summarize", summarize)], &SamOptions::new())?;
/// let function = &template["Resources"]["SummarizeFunction"];
/// assert_eq!(function["Type"], "AWS::Serverless::Function");
/// assert_eq!(function["Properties"]["Environment"]["Variables"]["CLOUDPORT_FUNCTION"], "summarize");
/// assert!(function["Properties"].get("Events").is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// `Config` naming the function or option and what to change when the template cannot express
/// them: names that are not portable, collide, or make AWS names too long; a timeout over
/// Lambda's 900 s (or API Gateway's 30 s for an http function); batch sizes, deliveries or
/// concurrency outside SQS's ranges; two functions on one queue; overlapping blob prefixes;
/// options outside Lambda's ranges. `InvalidInput` for a schedule EventBridge cannot express
/// ([`eventbridge_cron`]). `Unsupported` for a trigger kind this generator does not know yet.
pub fn template(functions: &[Function], options: &SamOptions) -> Result<Value> {
    options.validate()?;
    let functions = registry::collect(functions.iter().cloned())?;
    let plan = Plan::new(&functions, options)?;

    let mut resources = Map::new();
    resources.insert(names::BUCKET.to_owned(), resources::bucket());
    resources::queues(&plan, &mut resources);
    for planned in &plan.functions {
        resources.insert(planned.id.clone(), function::resource(planned, &plan));
    }
    Ok(json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Description": options.description,
        "Parameters": resources::parameters(),
        "Globals": resources::globals(&plan, options),
        "Resources": resources,
        "Outputs": resources::outputs(&plan),
    }))
}

#[cfg(test)]
mod tests;
