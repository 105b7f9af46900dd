//! One `AWS::Serverless::Function`: its events and its least-privilege policies.

use cloudport_core::function::FUNCTION_ENV;
use serde_json::{Map, Value, json};

use super::names::{self, BUCKET, BUCKET_PARAMETER, get_att, reference, stack_scoped, sub};
use super::plan::{Event, Plan, Planned, QueueEvent};

/// The function's resource.
pub(super) fn resource(function: &Planned<'_>, plan: &Plan<'_>) -> Value {
    let name = function.function.name();
    let mut properties = Map::new();
    properties.insert("FunctionName".into(), stack_scoped(name));
    properties.insert(
        "Description".into(),
        json!(format!("cloudport {} function {name}", function.function.trigger().kind())),
    );
    properties.insert("Timeout".into(), json!(function.timeout));
    properties.insert("Environment".into(), json!({ "Variables": { FUNCTION_ENV: name } }));
    if let Some(reserved) = function.reserved_concurrency {
        properties.insert("ReservedConcurrentExecutions".into(), json!(reserved));
    }
    let events = events(function);
    if !events.is_empty() {
        properties.insert("Events".into(), Value::Object(events));
    }
    properties.insert("Policies".into(), Value::Array(policies(function, plan)));
    json!({ "Type": "AWS::Serverless::Function", "Properties": properties })
}

/// The function's event sources, by event name. SAM names what it generates for an event
/// `<function id><event name>`; event names never end in `Function`, `Queue` or `Bucket`, so
/// these ids cannot meet the template's own.
fn events(function: &Planned<'_>) -> Map<String, Value> {
    let name = function.function.name();
    let mut events = Map::new();
    match &function.event {
        Event::Http => {
            // The function is mounted at /<name>; the Lambda host strips the mount.
            for (event, path) in [("Http", format!("/{name}")), ("HttpProxy", format!("/{name}/{{proxy+}}"))] {
                events.insert(
                    event.into(),
                    json!({ "Type": "HttpApi", "Properties": { "Path": path, "Method": "ANY" } }),
                );
            }
        }
        Event::Queue(queue) => {
            events.insert("Sqs".into(), sqs_event(queue));
        }
        Event::Blob { prefix } => {
            let mut properties = json!({
                "Bucket": reference(BUCKET),
                "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
            });
            if !prefix.is_empty() {
                properties["Filter"] = json!({ "S3Key": { "Rules": [{ "Name": "prefix", "Value": prefix }] } });
            }
            events.insert("Blob".into(), json!({ "Type": "S3", "Properties": properties }));
        }
        Event::Schedule { cron } => {
            events.insert(
                "Schedule".into(),
                json!({
                    "Type": "Schedule",
                    "Properties": { "Schedule": cron, "Description": format!("cloudport schedule of {name}") },
                }),
            );
        }
        Event::Invoke => {}
    }
    events
}

fn sqs_event(queue: &QueueEvent) -> Value {
    let mut properties = json!({
        "Queue": get_att(&names::queue_id(&queue.queue), "Arn"),
        "BatchSize": queue.batch_size,
        // The host reports the messages to retry; the rest of the batch is deleted.
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    });
    if let Some(window) = queue.window {
        properties["MaximumBatchingWindowInSeconds"] = json!(window);
    }
    if let Some(concurrency) = queue.max_concurrency {
        properties["ScalingConfig"] = json!({ "MaximumConcurrency": concurrency });
    }
    json!({ "Type": "SQS", "Properties": properties })
}

/// What the function may do: the app's bucket and queues (cloudport cannot tell which function
/// touches which), its own queue as a consumer, and invoking the app's invoke-only functions.
fn policies(function: &Planned<'_>, plan: &Plan<'_>) -> Vec<Value> {
    let queue_name = |id: &str| json!({ "QueueName": get_att(id, "QueueName") });
    let mut policies = vec![json!({ "S3CrudPolicy": { "BucketName": reference(BUCKET_PARAMETER) } })];
    for queue in &plan.queues {
        policies.push(json!({ "SQSSendMessagePolicy": queue_name(&queue.id) }));
    }
    if let Some(own) = function.queue().and_then(|q| plan.queues.iter().find(|p| p.name == q)) {
        // The host changes visibility for retry delays and dead-letters what the handler marks.
        policies.push(json!({ "SQSPollerPolicy": queue_name(&own.id) }));
        policies.push(json!({ "SQSSendMessagePolicy": queue_name(&own.dead_letter_id) }));
    }

    // S3CrudPolicy lacks AbortMultipartUpload, which a dropped writer calls.
    let mut statements = vec![json!({
        "Sid": "AbortUploads",
        "Effect": "Allow",
        "Action": ["s3:AbortMultipartUpload"],
        "Resource": sub(&format!("arn:${{AWS::Partition}}:s3:::${{{BUCKET_PARAMETER}}}/*")),
    })];
    if !plan.queues.is_empty() {
        // The client finds queues by name and reads their redrive policy, then finds the
        // dead-letter queue by name.
        statements.push(json!({
            "Sid": "ResolveQueues",
            "Effect": "Allow",
            "Action": ["sqs:GetQueueUrl", "sqs:GetQueueAttributes"],
            "Resource": plan.queues.iter().map(|q| get_att(&q.id, "Arn")).collect::<Vec<_>>(),
        }));
        statements.push(json!({
            "Sid": "ResolveDeadLetterQueues",
            "Effect": "Allow",
            "Action": ["sqs:GetQueueUrl"],
            "Resource": plan.queues.iter().map(|q| get_att(&q.dead_letter_id, "Arn")).collect::<Vec<_>>(),
        }));
    }
    let callees: Vec<Value> = plan
        .functions
        .iter()
        .filter(|other| matches!(other.event, Event::Invoke) && other.id != function.id)
        .map(|other| names::function_arn(other.function.name()))
        .collect();
    if !callees.is_empty() {
        statements.push(json!({
            "Sid": "InvokeFunctions",
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": callees,
        }));
    }
    policies.push(json!({ "Version": "2012-10-17", "Statement": statements }));
    policies
}
