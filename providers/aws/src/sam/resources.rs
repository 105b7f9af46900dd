//! The template's parameters, globals, bucket, queues and outputs.

use cloudport_core::function::{DEFAULT_STORE, blob_url_var, queue_url_var};
use serde_json::{Map, Value, json};

use super::SamOptions;
use super::names::{BUCKET, BUCKET_PARAMETER, DEAD_LETTER_SUFFIX, HTTP_API, get_att, reference, stack_scoped, sub};
use super::plan::Plan;
use crate::lambda::FUNCTION_PREFIX_ENV;

/// The longest retention SQS allows, for dead letters: 14 days.
const DEAD_LETTER_RETENTION_SECS: u64 = 14 * 24 * 3600;
/// S3 bucket names: 3 to 63 lowercase letters, digits, `.` and `-`, starting and ending with a
/// letter or digit.
const BUCKET_NAME_PATTERN: &str = "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$";

pub(super) fn parameters() -> Value {
    json!({
        BUCKET_PARAMETER: {
            "Type": "String",
            "Description": "Name of the S3 bucket the stack creates for the app's blobs (globally unique)",
            "AllowedPattern": BUCKET_NAME_PATTERN,
            "ConstraintDescription": "3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit",
        }
    })
}

/// What every function shares: runtime, code, memory, and where the app's resources are.
pub(super) fn globals(plan: &Plan<'_>, options: &SamOptions) -> Value {
    let mut variables = Map::new();
    variables.insert(blob_url_var(DEFAULT_STORE), sub(&format!("s3://${{{BUCKET_PARAMETER}}}")));
    for queue in &plan.queues {
        variables.insert(queue_url_var(&queue.name), sub(&format!("sqs://${{AWS::StackName}}-{}", queue.name)));
    }
    variables.insert(FUNCTION_PREFIX_ENV.to_owned(), sub("${AWS::StackName}-"));
    json!({
        "Function": {
            "Runtime": "provided.al2023",
            "Handler": "bootstrap",
            "Architectures": [options.architecture.as_str()],
            "MemorySize": options.memory_mb,
            "CodeUri": options.code_uri,
            "Environment": { "Variables": variables },
        }
    })
}

/// The app's bucket: private, encrypted, and rid of abandoned multipart uploads after a day.
pub(super) fn bucket() -> Value {
    json!({
        "Type": "AWS::S3::Bucket",
        "Properties": {
            "BucketName": reference(BUCKET_PARAMETER),
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    { "ServerSideEncryptionByDefault": { "SSEAlgorithm": "AES256" } }
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": true,
                "BlockPublicPolicy": true,
                "IgnorePublicAcls": true,
                "RestrictPublicBuckets": true,
            },
            "LifecycleConfiguration": {
                "Rules": [{
                    "Id": "AbortIncompleteMultipartUploads",
                    "Status": "Enabled",
                    "AbortIncompleteMultipartUpload": { "DaysAfterInitiation": 1 },
                }]
            },
        }
    })
}

/// Each queue that triggers a function, and its dead-letter queue.
pub(super) fn queues(plan: &Plan<'_>, resources: &mut Map<String, Value>) {
    for queue in &plan.queues {
        resources.insert(
            queue.id.clone(),
            json!({
                "Type": "AWS::SQS::Queue",
                "Properties": {
                    "QueueName": stack_scoped(&queue.name),
                    "VisibilityTimeout": queue.visibility_timeout,
                    "RedrivePolicy": {
                        "deadLetterTargetArn": get_att(&queue.dead_letter_id, "Arn"),
                        "maxReceiveCount": queue.max_deliveries,
                    },
                }
            }),
        );
        resources.insert(
            queue.dead_letter_id.clone(),
            json!({
                "Type": "AWS::SQS::Queue",
                "Properties": {
                    "QueueName": stack_scoped(&format!("{}{DEAD_LETTER_SUFFIX}", queue.name)),
                    "MessageRetentionPeriod": DEAD_LETTER_RETENTION_SECS,
                }
            }),
        );
    }
}

/// Where to reach the app: the HTTP API's URL, the bucket, the queues.
pub(super) fn outputs(plan: &Plan<'_>) -> Value {
    let mut outputs = Map::new();
    if plan.has_http() {
        outputs.insert(
            "HttpApiUrl".into(),
            json!({
                "Description": "Base URL of the HTTP API; each http function is under /<name>",
                "Value": sub(&format!("https://${{{HTTP_API}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}")),
            }),
        );
    }
    outputs.insert("BlobBucket".into(), json!({ "Description": "The app's S3 bucket", "Value": reference(BUCKET) }));
    for queue in &plan.queues {
        outputs.insert(
            format!("{}Url", queue.id),
            json!({ "Description": format!("URL of the SQS queue {:?}", queue.name), "Value": reference(&queue.id) }),
        );
    }
    Value::Object(outputs)
}
