//! The generated SAM template, checked by AWS's own tools: cfn-lint validates it against the
//! SAM and CloudFormation schemas, and aws-sam-translator (the code behind the
//! `AWS::Serverless-2016-10-31` transform) expands it offline into the CloudFormation that
//! would be deployed, which is inspected and linted in turn. The validators are shown to reject
//! broken templates, so the checks cannot pass vacuously.
//!
//! Needs `CLOUDPORT_TEST_CFN_PYTHON`: a Python whose environment has `cfn-lint` and
//! `aws-sam-translator` (`python3 -m venv /tmp/cfn && /tmp/cfn/bin/pip install cfn-lint
//! aws-sam-translator`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use cloudport_aws::sam::{self, SamOptions};
use cloudport_core::Error;
use cloudport_core::function::{
    BatchOutcome, BlobEvent, Context, Function, HttpRequest, HttpResponse, QueueBatch, Schedule, ScheduleTick,
};
use serde_json::{Value, json};

const PYTHON_VAR: &str = "CLOUDPORT_TEST_CFN_PYTHON";

async fn upload(_: HttpRequest, _: Context) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::new("stored".into()))
}
async fn on_upload(_: BlobEvent, _: Context) -> Result<(), Error> {
    Ok(())
}
async fn count_words(_: QueueBatch<Value>, _: Context) -> Result<BatchOutcome, Error> {
    Ok(BatchOutcome::ack_all())
}
async fn sweep(_: ScheduleTick, _: Context) -> Result<(), Error> {
    Ok(())
}
async fn summarize(_: (), _: Context) -> Result<u64, Error> {
    Ok(0)
}

/// The example pipeline's functions (`examples/pipeline/functions.rs`), its sweep made
/// minute-granular (EventBridge fires at most once a minute), plus a big-batch consumer.
fn pipeline() -> Vec<Function> {
    vec![
        Function::http("upload", upload).with_concurrency(32).with_timeout(Duration::from_secs(30)),
        Function::blob("on_upload", "uploads/", on_upload),
        Function::queue("count_words", "jobs", count_words).with_batch_size(10).with_max_deliveries(3),
        Function::schedule("sweep", Schedule::parse("0 */5 * * * *").unwrap(), sweep),
        Function::http("stats", upload),
        Function::json("summarize", summarize),
        Function::queue("reindex", "reindex-requests", count_words)
            .with_batch_size(50)
            .with_concurrency(4)
            .with_timeout(Duration::from_secs(300)),
    ]
}

fn template() -> Value {
    sam::template(&pipeline(), &SamOptions::new().binary("pipeline").stack_name("pipeline")).unwrap()
}

/// The Python with the validators, or `None` when the suite is skipped.
fn python() -> Option<String> {
    cloudport_conformance::skip::emulator(PYTHON_VAR, "aws sam template")
}

/// A fresh directory for this test's files.
fn workdir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sam").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, template: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(template).unwrap()).unwrap();
    path
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Findings of cfn-lint on the expanded template that come from SAM's own `SQSPollerPolicy`
/// template, whose `ChangeMessageVisibilityBatch` and `DeleteMessageBatch` are not IAM actions
/// (the batch calls are authorized by `ChangeMessageVisibility` and `DeleteMessage`).
const SAM_POLICY_TEMPLATE_NOISE: [&str; 2] =
    [":W3037:'changemessagevisibilitybatch' is not one of", ":W3037:'deletemessagebatch' is not one of"];

/// Runs cfn-lint (errors and warnings, its default) on `template`: `Err` with its findings
/// other than `ignored` ones.
fn cfn_lint(python: &str, template: &Path, ignored: &[&str]) -> Result<(), String> {
    let out = Command::new(python)
        .args(["-c", "import sys; from cfnlint.runner import main; sys.exit(main())", "--format", "parseable"])
        .arg(template)
        .output()
        .expect("run cfn-lint");
    let findings: Vec<&str> = std::str::from_utf8(&out.stdout)
        .expect("cfn-lint output is UTF-8")
        .lines()
        .filter(|line| !line.trim().is_empty() && !ignored.iter().any(|noise| line.contains(noise)))
        .collect();
    // Exit status: 0 clean, bit 2 errors, bit 4 warnings, bit 8 notes; 1 is a crash.
    let only_ignored_warnings = out.status.code() == Some(4) && findings.is_empty();
    if (out.status.success() || only_ignored_warnings) && findings.is_empty() {
        Ok(())
    } else {
        Err(format!("cfn-lint on {}: {}\n{}", template.display(), findings.join("\n"), text(&out)))
    }
}

/// Transforms `template` with aws-sam-translator into `into`.
fn translate(python: &str, template: &Path, into: &Path) -> Result<(), String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sam_translate.py");
    let out = Command::new(python).arg(script).arg(template).arg(into).output().expect("run aws-sam-translator");
    if out.status.success() { Ok(()) } else { Err(format!("aws-sam-translator: {}", text(&out))) }
}

/// Everything AWS's tools can say about `template` short of deploying it: cfn-lint on the SAM
/// template, SAM's transform, cfn-lint on the CloudFormation it expands to. Returns the
/// expanded template, or what rejected it.
fn validate(python: &str, dir: &Path, name: &str, template: &Value) -> Result<Value, String> {
    let source = write(dir, &format!("{name}.json"), template);
    cfn_lint(python, &source, &[])?;
    let target = dir.join(format!("{name}.cloudformation.json"));
    translate(python, &source, &target)?;
    cfn_lint(python, &target, &SAM_POLICY_TEMPLATE_NOISE)?;
    Ok(serde_json::from_slice(&std::fs::read(&target).unwrap()).unwrap())
}

#[test]
fn aws_tools_accept_the_template_and_expand_it_as_expected() {
    let Some(python) = python() else { return };
    let dir = workdir("accept");
    let cfn = validate(&python, &dir, "template", &template()).unwrap_or_else(|e| panic!("{e}"));
    let resources = cfn["Resources"].as_object().unwrap();
    let of_type = |ty: &str| resources.iter().filter(move |(_, r)| r["Type"] == ty).collect::<Vec<_>>();
    let props = |id: &str| {
        assert!(resources.contains_key(id), "no {id} among {:?}", resources.keys().collect::<Vec<_>>());
        &resources[id]["Properties"]
    };

    // One Lambda function per function, globals merged into each.
    let functions = of_type("AWS::Lambda::Function");
    assert_eq!(functions.len(), pipeline().len());
    let count_words = props("CountWordsFunction");
    assert_eq!(count_words["Runtime"], "provided.al2023");
    assert_eq!(count_words["Handler"], "bootstrap");
    assert_eq!(count_words["Architectures"], json!(["arm64"]));
    assert_eq!(count_words["FunctionName"], json!({ "Fn::Sub": "${AWS::StackName}-count_words" }));
    let variables = &count_words["Environment"]["Variables"];
    assert_eq!(variables["CLOUDPORT_FUNCTION"], "count_words");
    assert_eq!(variables["CLOUDPORT_BLOB_URL"], json!({ "Fn::Sub": "s3://${BucketName}" }));
    assert_eq!(variables["CLOUDPORT_QUEUE_URL_JOBS"], json!({ "Fn::Sub": "sqs://${AWS::StackName}-jobs" }));
    assert_eq!(
        variables["CLOUDPORT_QUEUE_URL_REINDEX_REQUESTS"],
        json!({ "Fn::Sub": "sqs://${AWS::StackName}-reindex-requests" })
    );
    assert_eq!(variables["CLOUDPORT_FUNCTION_PREFIX"], json!({ "Fn::Sub": "${AWS::StackName}-" }));
    assert_eq!(props("UploadFunction")["ReservedConcurrentExecutions"], 32);

    // SQS event source mappings report partial batch failures.
    let mappings = of_type("AWS::Lambda::EventSourceMapping");
    assert_eq!(mappings.len(), 2);
    let jobs = props("CountWordsFunctionSqs");
    assert_eq!(jobs["EventSourceArn"], json!({ "Fn::GetAtt": ["JobsQueue", "Arn"] }));
    assert_eq!(jobs["FunctionName"], json!({ "Ref": "CountWordsFunction" }));
    assert_eq!(jobs["BatchSize"], 10);
    assert_eq!(jobs["FunctionResponseTypes"], json!(["ReportBatchItemFailures"]));
    let reindex = props("ReindexFunctionSqs");
    assert_eq!(reindex["BatchSize"], 50);
    assert_eq!(reindex["MaximumBatchingWindowInSeconds"], 1);
    assert_eq!(reindex["ScalingConfig"], json!({ "MaximumConcurrency": 4 }));
    assert_eq!(props("ReindexRequestsQueue")["VisibilityTimeout"], 6 * 300 + 1);

    // The bucket notifies on_upload of changes under uploads/, after the permission exists.
    let bucket = &resources["Bucket"];
    let notifications = bucket["Properties"]["NotificationConfiguration"]["LambdaConfigurations"].as_array().unwrap();
    let mut events: Vec<&str> = notifications.iter().map(|n| n["Event"].as_str().unwrap()).collect();
    events.sort_unstable();
    assert_eq!(events, ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]);
    for notification in notifications {
        assert_eq!(notification["Function"], json!({ "Fn::GetAtt": ["OnUploadFunction", "Arn"] }));
        assert_eq!(notification["Filter"]["S3Key"]["Rules"], json!([{ "Name": "prefix", "Value": "uploads/" }]));
    }
    assert!(bucket["DependsOn"].as_array().is_some_and(|d| d.iter().any(|p| p == "OnUploadFunctionBlobPermission")));
    assert_eq!(props("OnUploadFunctionBlobPermission")["Principal"], "s3.amazonaws.com");

    // The schedule is an EventBridge rule.
    let rule = props("SweepFunctionSchedule");
    assert_eq!(rule["ScheduleExpression"], "cron(0/5 * * * ? *)");

    // The HTTP API routes /<name> and /<name>/{proxy+} to each http function.
    let api = props("ServerlessHttpApi");
    let paths = api["Body"]["paths"].as_object().unwrap();
    let mut routes: Vec<&str> = paths.keys().map(String::as_str).collect();
    routes.sort_unstable();
    assert_eq!(routes, ["/stats", "/stats/{proxy+}", "/upload", "/upload/{proxy+}"]);
    for path in paths.values() {
        assert!(path.get("x-amazon-apigateway-any-method").is_some(), "{path:#}");
    }

    // Roles: SAM's logging policy, our least-privilege statements.
    let role = |function: &str| {
        let role = &resources[&format!("{function}Role")];
        assert_eq!(role["Type"], "AWS::IAM::Role");
        &role["Properties"]
    };
    let managed = |function: &str| {
        role(function)["ManagedPolicyArns"].as_array().unwrap().iter().map(|a| a.to_string()).collect::<Vec<_>>()
    };
    let statements = |function: &str| {
        role(function)["Policies"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["PolicyDocument"]["Statement"].as_array().unwrap().iter().cloned())
            .collect::<Vec<Value>>()
    };
    let allows = |function: &str, action: &str, resource: &Value| {
        statements(function).iter().any(|s| {
            let actions = match &s["Action"] {
                Value::Array(a) => a.clone(),
                one => vec![one.clone()],
            };
            let resources = match &s["Resource"] {
                Value::Array(r) => r.clone(),
                one => vec![one.clone()],
            };
            s["Effect"] == "Allow" && actions.iter().any(|a| a == action) && resources.contains(resource)
        })
    };
    let queue_arn = |queue: &str| {
        json!({ "Fn::Sub": ["arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${queueName}",
            { "queueName": { "Fn::GetAtt": [queue, "QueueName"] } }] })
    };
    let bucket_objects = json!({ "Fn::Sub": ["arn:${AWS::Partition}:s3:::${bucketName}/*",
        { "bucketName": { "Ref": "BucketName" } }] });
    let summarize_arn = json!({ "Fn::Sub":
        "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-summarize" });
    for (function, _) in &functions {
        assert!(managed(function).iter().any(|m| m.contains("AWSLambdaBasicExecutionRole")), "{function}");
        for statement in statements(function) {
            assert_ne!(statement["Resource"], "*", "{function} has a wildcard statement: {statement:#}");
        }
        for action in ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"] {
            assert!(allows(function, action, &bucket_objects), "{function} may not {action}");
        }
        for queue in ["JobsQueue", "ReindexRequestsQueue"] {
            assert!(allows(function, "sqs:SendMessage*", &queue_arn(queue)), "{function} may not send to {queue}");
            let arn = json!({ "Fn::GetAtt": [queue, "Arn"] });
            assert!(allows(function, "sqs:GetQueueUrl", &arn), "{function} may not resolve {queue}");
            assert!(allows(function, "sqs:GetQueueAttributes", &arn), "{function} may not read {queue}");
        }
        let invokes = allows(function, "lambda:InvokeFunction", &summarize_arn);
        assert_eq!(invokes, function.as_str() != "SummarizeFunction", "{function} invoking summarize");
    }
    assert!(allows("CountWordsFunction", "sqs:ChangeMessageVisibility", &queue_arn("JobsQueue")));
    assert!(allows("CountWordsFunction", "sqs:SendMessage*", &queue_arn("JobsDeadLetterQueue")));
    assert!(!allows("CountWordsFunction", "sqs:ChangeMessageVisibility", &queue_arn("ReindexRequestsQueue")));
    assert!(!allows("UploadFunction", "sqs:SendMessage*", &queue_arn("JobsDeadLetterQueue")));
    // SAM attaches this to SQS-triggered roles by itself (see the module docs); note if it stops.
    assert!(managed("CountWordsFunction").iter().any(|m| m.contains("AWSLambdaSQSQueueExecutionRole")));
    assert!(!managed("UploadFunction").iter().any(|m| m.contains("AWSLambdaSQSQueueExecutionRole")));
}

/// The SQS event of `count_words`.
fn sqs(template: &mut Value) -> &mut Value {
    &mut template["Resources"]["CountWordsFunction"]["Properties"]["Events"]["Sqs"]
}

/// Breaks a copy of the template with `damage` and returns it.
fn broken(damage: impl FnOnce(&mut Value)) -> Value {
    let mut t = template();
    damage(&mut t);
    t
}

#[test]
fn the_validators_reject_broken_templates() {
    let Some(python) = python() else { return };
    let dir = workdir("broken");
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "a bogus SQS event property",
            broken(|t| sqs(t)["Properties"]["ReportFailures"] = json!(true)),
            "property ReportFailures not defined",
        ),
        ("an unknown event type", broken(|t| sqs(t)["Type"] = json!("CarrierPigeon")), "aws-sam-translator"),
        (
            "a reference to a missing queue",
            broken(|t| sqs(t)["Properties"]["Queue"] = json!({ "Fn::GetAtt": ["NoSuchQueue", "Arn"] })),
            ":E1010:",
        ),
        (
            "a reference to a missing parameter",
            broken(|t| t["Globals"]["Function"]["Environment"]["Variables"]["X"] = json!({ "Ref": "NoSuchParameter" })),
            ":E3030:",
        ),
        ("a batch size over SQS's limit", broken(|t| sqs(t)["Properties"]["BatchSize"] = json!(20_000)), ":E3034:"),
        (
            "a visibility timeout over SQS's limit",
            broken(|t| t["Resources"]["JobsQueue"]["Properties"]["VisibilityTimeout"] = json!(50_000)),
            ":E3034:",
        ),
        (
            "a timeout over Lambda's limit",
            broken(|t| t["Resources"]["SweepFunction"]["Properties"]["Timeout"] = json!(3600)),
            ":E3717:",
        ),
        ("an unknown runtime", broken(|t| t["Globals"]["Function"]["Runtime"] = json!("provided.al2099")), ":E3030:"),
        // Naming the bucket through the bucket resource instead of the parameter is a cycle:
        // bucket → notification permission → function → bucket.
        (
            "a function referring to the bucket resource",
            broken(|t| {
                t["Globals"]["Function"]["Environment"]["Variables"]["CLOUDPORT_BLOB_URL"] =
                    json!({ "Fn::Sub": "s3://${Bucket}" });
            }),
            ":E3004:",
        ),
    ];
    for (i, (what, template, expected)) in cases.iter().enumerate() {
        match validate(&python, &dir, &format!("broken-{i}"), template) {
            Ok(_) => panic!("the validators accept a template with {what}"),
            Err(e) => assert!(e.contains(expected), "a template with {what} should fail with {expected}, not:\n{e}"),
        }
    }
}
