//! The template's shape for a pipeline-like app, and what it refuses.

use std::time::Duration;

use cloudport_core::function::{BlobEvent, Function, HttpRequest, HttpResponse, QueueBatch, Schedule, ScheduleTick};
use cloudport_core::{Error, ErrorKind};
use serde_json::{Value, json};

use super::{SamOptions, template};

async fn http(_: HttpRequest) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::new("ok".into()))
}
async fn blob(_: BlobEvent) -> Result<(), Error> {
    Ok(())
}
async fn queue(_: QueueBatch<String>) -> Result<(), Error> {
    Ok(())
}
async fn tick(_: ScheduleTick) -> Result<(), Error> {
    Ok(())
}
async fn invoke(_: ()) -> Result<u32, Error> {
    Ok(0)
}

/// The example pipeline's functions, with a minute-granular sweep.
fn pipeline() -> Vec<Function> {
    vec![
        Function::http("upload", http).with_concurrency(32).with_timeout(Duration::from_secs(30)),
        Function::blob("on_upload", "uploads/", blob),
        Function::queue("count_words", "jobs", queue).with_batch_size(10).with_max_deliveries(3),
        Function::schedule("sweep", Schedule::parse("0 */5 * * * *").unwrap(), tick),
        Function::http("stats", http),
        Function::json("summarize", invoke).with_timeout(Duration::from_millis(60_500)),
    ]
}

fn generate(functions: &[Function]) -> Value {
    template(functions, &SamOptions::new()).unwrap()
}

fn refused(functions: &[Function], options: &SamOptions) -> Error {
    template(functions, options).expect_err("the template should be refused")
}

fn props<'a>(template: &'a Value, id: &str) -> &'a Value {
    let resource = &template["Resources"][id];
    assert!(resource.is_object(), "no resource {id} in {template:#}");
    &resource["Properties"]
}

#[test]
fn top_level_and_globals() {
    let t = generate(&pipeline());
    assert_eq!(t["Transform"], "AWS::Serverless-2016-10-31");
    assert!(t["Description"].as_str().is_some_and(|d| !d.is_empty()));
    let bucket_parameter = &t["Parameters"]["BucketName"];
    assert_eq!(bucket_parameter["Type"], "String");
    assert!(bucket_parameter.get("Default").is_none());
    assert!(bucket_parameter["AllowedPattern"].is_string());

    let globals = &t["Globals"]["Function"];
    assert_eq!(globals["Runtime"], "provided.al2023");
    assert_eq!(globals["Handler"], "bootstrap");
    assert_eq!(globals["Architectures"], json!(["arm64"]));
    assert_eq!(globals["MemorySize"], 256);
    assert_eq!(globals["CodeUri"], "target/lambda/bootstrap");
    assert_eq!(
        globals["Environment"]["Variables"],
        json!({
            "CLOUDPORT_BLOB_URL": { "Fn::Sub": "s3://${BucketName}" },
            "CLOUDPORT_QUEUE_URL_JOBS": { "Fn::Sub": "sqs://${AWS::StackName}-jobs" },
            "CLOUDPORT_FUNCTION_PREFIX": { "Fn::Sub": "${AWS::StackName}-" },
        })
    );
}

#[test]
fn one_function_per_handler_named_after_the_stack() {
    let t = generate(&pipeline());
    let resources = t["Resources"].as_object().unwrap();
    let functions: Vec<&str> =
        resources.iter().filter(|(_, r)| r["Type"] == "AWS::Serverless::Function").map(|(id, _)| id.as_str()).collect();
    assert_eq!(functions.len(), 6);
    for (id, name) in [
        ("UploadFunction", "upload"),
        ("OnUploadFunction", "on_upload"),
        ("CountWordsFunction", "count_words"),
        ("SweepFunction", "sweep"),
        ("StatsFunction", "stats"),
        ("SummarizeFunction", "summarize"),
    ] {
        let p = props(&t, id);
        assert_eq!(p["FunctionName"], json!({ "Fn::Sub": format!("${{AWS::StackName}}-{name}") }));
        assert_eq!(p["Environment"]["Variables"], json!({ "CLOUDPORT_FUNCTION": name }));
    }
    assert_eq!(props(&t, "UploadFunction")["Timeout"], 30);
    assert_eq!(props(&t, "SweepFunction")["Timeout"], 30, "the default");
    assert_eq!(props(&t, "SummarizeFunction")["Timeout"], 61, "rounded up");
    assert_eq!(props(&t, "UploadFunction")["ReservedConcurrentExecutions"], 32);
    assert!(props(&t, "StatsFunction").get("ReservedConcurrentExecutions").is_none());
}

#[test]
fn events_by_trigger() {
    let t = generate(&pipeline());
    assert_eq!(
        props(&t, "UploadFunction")["Events"],
        json!({
            "Http": { "Type": "HttpApi", "Properties": { "Path": "/upload", "Method": "ANY" } },
            "HttpProxy": { "Type": "HttpApi", "Properties": { "Path": "/upload/{proxy+}", "Method": "ANY" } },
        })
    );
    assert_eq!(
        props(&t, "CountWordsFunction")["Events"],
        json!({ "Sqs": { "Type": "SQS", "Properties": {
            "Queue": { "Fn::GetAtt": ["JobsQueue", "Arn"] },
            "BatchSize": 10,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        } } })
    );
    assert_eq!(
        props(&t, "OnUploadFunction")["Events"],
        json!({ "Blob": { "Type": "S3", "Properties": {
            "Bucket": { "Ref": "Bucket" },
            "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
            "Filter": { "S3Key": { "Rules": [{ "Name": "prefix", "Value": "uploads/" }] } },
        } } })
    );
    let schedule = &props(&t, "SweepFunction")["Events"]["Schedule"];
    assert_eq!(schedule["Type"], "Schedule");
    assert_eq!(schedule["Properties"]["Schedule"], "cron(0/5 * * * ? *)");
    assert!(props(&t, "SummarizeFunction").get("Events").is_none());
}

#[test]
fn an_empty_prefix_watches_the_whole_bucket() {
    let t = generate(&[Function::blob("everything", "", blob)]);
    let properties = &props(&t, "EverythingFunction")["Events"]["Blob"]["Properties"];
    assert!(properties.get("Filter").is_none(), "{properties:#}");
}

#[test]
fn big_batches_get_a_window_and_concurrency_a_scaling_config() {
    let functions = [Function::queue("resize", "images", queue)
        .with_batch_size(100)
        .with_concurrency(5)
        .with_timeout(Duration::from_secs(120))];
    let t = generate(&functions);
    let sqs = &props(&t, "ResizeFunction")["Events"]["Sqs"]["Properties"];
    assert_eq!(sqs["BatchSize"], 100);
    assert_eq!(sqs["MaximumBatchingWindowInSeconds"], 1);
    assert_eq!(sqs["ScalingConfig"], json!({ "MaximumConcurrency": 5 }));
    assert!(props(&t, "ResizeFunction").get("ReservedConcurrentExecutions").is_none());
    assert_eq!(props(&t, "ImagesQueue")["VisibilityTimeout"], 6 * 120 + 1);

    let windowed = template(&functions, &SamOptions::new().batch_window(Duration::from_secs(20))).unwrap();
    assert_eq!(props(&windowed, "ResizeFunction")["Events"]["Sqs"]["Properties"]["MaximumBatchingWindowInSeconds"], 20);
    assert_eq!(props(&windowed, "ImagesQueue")["VisibilityTimeout"], 6 * 120 + 20);
}

#[test]
fn queues_have_dead_letter_queues() {
    let t = generate(&pipeline());
    assert_eq!(
        t["Resources"]["JobsQueue"],
        json!({ "Type": "AWS::SQS::Queue", "Properties": {
            "QueueName": { "Fn::Sub": "${AWS::StackName}-jobs" },
            "VisibilityTimeout": 180,
            "RedrivePolicy": {
                "deadLetterTargetArn": { "Fn::GetAtt": ["JobsDeadLetterQueue", "Arn"] },
                "maxReceiveCount": 3,
            },
        } })
    );
    assert_eq!(
        t["Resources"]["JobsDeadLetterQueue"],
        json!({ "Type": "AWS::SQS::Queue", "Properties": {
            "QueueName": { "Fn::Sub": "${AWS::StackName}-jobs-dlq" },
            "MessageRetentionPeriod": 1_209_600,
        } })
    );
    let default = generate(&[Function::queue("q", "work", queue)]);
    assert_eq!(props(&default, "WorkQueue")["RedrivePolicy"]["maxReceiveCount"], 5);
}

#[test]
fn the_bucket_is_private_encrypted_and_cleans_up_uploads() {
    let t = generate(&pipeline());
    let bucket = &t["Resources"]["Bucket"];
    assert_eq!(bucket["Type"], "AWS::S3::Bucket");
    let p = &bucket["Properties"];
    assert_eq!(p["BucketName"], json!({ "Ref": "BucketName" }));
    assert_eq!(
        p["LifecycleConfiguration"]["Rules"][0]["AbortIncompleteMultipartUpload"],
        json!({ "DaysAfterInitiation": 1 })
    );
    assert_eq!(p["LifecycleConfiguration"]["Rules"][0]["Status"], "Enabled");
    let block = &p["PublicAccessBlockConfiguration"];
    for setting in ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"] {
        assert_eq!(block[setting], true, "{setting}");
    }
    assert_eq!(
        p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"],
        "AES256"
    );
}

/// Every policy statement and template of a function, flattened to `(action or template,
/// resource)` strings.
fn grants(template: &Value, id: &str) -> Vec<String> {
    let mut grants = Vec::new();
    for policy in props(template, id)["Policies"].as_array().unwrap() {
        if let Some(statements) = policy.get("Statement") {
            for statement in statements.as_array().unwrap() {
                assert_eq!(statement["Effect"], "Allow");
                let resources = match &statement["Resource"] {
                    Value::Array(all) => all.clone(),
                    one => vec![one.clone()],
                };
                for action in statement["Action"].as_array().unwrap() {
                    for resource in &resources {
                        grants.push(format!("{} {resource}", action.as_str().unwrap()));
                    }
                }
            }
        } else {
            let (name, args) = policy.as_object().unwrap().iter().next().unwrap();
            grants.push(format!("{name} {args}"));
        }
    }
    grants
}

#[test]
fn policies_are_scoped_to_the_app() {
    let t = generate(&pipeline());
    let common = [
        r#"S3CrudPolicy {"BucketName":{"Ref":"BucketName"}}"#,
        r#"SQSSendMessagePolicy {"QueueName":{"Fn::GetAtt":["JobsQueue","QueueName"]}}"#,
        r#"s3:AbortMultipartUpload {"Fn::Sub":"arn:${AWS::Partition}:s3:::${BucketName}/*"}"#,
        r#"sqs:GetQueueUrl {"Fn::GetAtt":["JobsQueue","Arn"]}"#,
        r#"sqs:GetQueueAttributes {"Fn::GetAtt":["JobsQueue","Arn"]}"#,
        r#"sqs:GetQueueUrl {"Fn::GetAtt":["JobsDeadLetterQueue","Arn"]}"#,
    ];
    let invoke_summarize = r#"lambda:InvokeFunction {"Fn::Sub":"arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-summarize"}"#;
    let consumer = [
        r#"SQSPollerPolicy {"QueueName":{"Fn::GetAtt":["JobsQueue","QueueName"]}}"#,
        r#"SQSSendMessagePolicy {"QueueName":{"Fn::GetAtt":["JobsDeadLetterQueue","QueueName"]}}"#,
    ];
    for id in ["UploadFunction", "OnUploadFunction", "CountWordsFunction", "SweepFunction", "StatsFunction"] {
        let mut expected: Vec<&str> = common.to_vec();
        if id == "CountWordsFunction" {
            expected.extend(consumer);
        }
        expected.push(invoke_summarize);
        let mut got = grants(&t, id);
        got.sort();
        expected.sort();
        assert_eq!(got, expected, "{id}");
    }
    // Invoking itself is not needed.
    let mut summarize = grants(&t, "SummarizeFunction");
    summarize.sort();
    let mut expected = common.to_vec();
    expected.sort();
    assert_eq!(summarize, expected);
    // No wildcard resources anywhere.
    for (id, resource) in t["Resources"].as_object().unwrap() {
        if resource["Type"] == "AWS::Serverless::Function" {
            assert!(!grants(&t, id).iter().any(|g| g.ends_with(" \"*\"")), "{id}");
        }
    }
}

#[test]
fn without_queues_there_are_no_queue_grants() {
    let t = generate(&[Function::http("hello", http)]);
    let grants = grants(&t, "HelloFunction");
    assert!(!grants.iter().any(|g| g.contains("sqs") || g.contains("SQS")), "{grants:?}");
    assert!(t["Outputs"].get("HttpApiUrl").is_some());
}

#[test]
fn outputs() {
    let t = generate(&pipeline());
    let outputs = &t["Outputs"];
    assert_eq!(
        outputs["HttpApiUrl"]["Value"],
        json!({ "Fn::Sub": "https://${ServerlessHttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}" })
    );
    assert_eq!(outputs["BlobBucket"]["Value"], json!({ "Ref": "Bucket" }));
    assert_eq!(outputs["JobsQueueUrl"]["Value"], json!({ "Ref": "JobsQueue" }));
    let no_http = generate(&[Function::json("summarize", invoke)]);
    assert!(no_http["Outputs"].get("HttpApiUrl").is_none());
}

#[test]
fn options_reach_the_template() {
    let options = SamOptions::new()
        .description("word counts")
        .memory_mb(1024)
        .architecture(super::Architecture::X86_64)
        .code_uri("s3://artifacts/app.zip")
        .default_timeout(Duration::from_secs(90));
    let t = template(&pipeline(), &options).unwrap();
    assert_eq!(t["Description"], "word counts");
    let globals = &t["Globals"]["Function"];
    assert_eq!(globals["MemorySize"], 1024);
    assert_eq!(globals["Architectures"], json!(["x86_64"]));
    assert_eq!(globals["CodeUri"], "s3://artifacts/app.zip");
    assert_eq!(props(&t, "SweepFunction")["Timeout"], 90);
    assert_eq!(props(&t, "StatsFunction")["Timeout"], 30, "capped for HTTP");
    assert_eq!(SamOptions::new().binary("pipeline").code_uri, "target/lambda/pipeline");
}

#[test]
fn the_same_functions_give_the_same_template() {
    let mut reversed = pipeline();
    reversed.reverse();
    assert_eq!(generate(&pipeline()), generate(&reversed));
}

fn assert_refused(functions: &[Function], options: &SamOptions, kind: ErrorKind, needle: &str) {
    let err = refused(functions, options);
    assert_eq!(err.kind(), kind, "{err}");
    assert!(err.to_string().contains(needle), "{err:?} should mention {needle:?}");
}

#[test]
fn what_the_template_cannot_express_is_refused() {
    let none = SamOptions::new();
    let cases: Vec<(Vec<Function>, &str)> = vec![
        (vec![Function::json("slow", invoke).with_timeout(Duration::from_secs(901))], "outside Lambda's 1 s to 900 s"),
        (vec![Function::json("instant", invoke).with_timeout(Duration::ZERO)], "outside Lambda's 1 s to 900 s"),
        (vec![Function::http("slow_page", http).with_timeout(Duration::from_secs(31))], "after 30 s"),
        (vec![Function::queue("q", "jobs", queue).with_batch_size(0)], "batch_size 0"),
        (vec![Function::queue("q", "jobs", queue).with_batch_size(10_001)], "batch_size 10001"),
        (vec![Function::queue("q", "jobs", queue).with_max_deliveries(0)], "max_deliveries 0"),
        (vec![Function::queue("q", "jobs", queue).with_max_deliveries(1001)], "max_deliveries 1001"),
        (vec![Function::queue("q", "jobs", queue).with_concurrency(1)], "ScalingConfig.MaximumConcurrency"),
        (vec![Function::http("h", http).with_concurrency(0)], "concurrency 0"),
        (vec![Function::http("h", http).with_batch_size(5)], "sets batch_size"),
        (vec![Function::json("i", invoke).with_max_deliveries(5)], "sets max_deliveries"),
        (vec![Function::queue("q", "jobs.fifo", queue)], "cannot be part of an SQS queue name"),
        (vec![Function::queue("q", "j".repeat(76), queue)], "SQS's limit of 80"),
        (vec![Function::json(format!("f{}", "x".repeat(62)), invoke)], "Lambda's limit of 64"),
        (vec![Function::json("bad name", invoke)], "not portable"),
        (vec![Function::json("twice", invoke), Function::json("twice", invoke)], "two functions are named"),
        (vec![Function::json("count_words", invoke), Function::json("count-words", invoke)], "CountWordsFunction"),
        (
            vec![Function::queue("a", "jobs-x", queue), Function::queue("b", "jobs_x", queue)],
            "both get the logical id \"JobsXQueue\"",
        ),
        (
            vec![Function::queue("a", "jobs", queue), Function::queue("b", "jobs_dead_letter", queue)],
            "JobsDeadLetterQueue",
        ),
        (vec![Function::queue("a", "jobS", queue), Function::queue("b", "jobs", queue)], "CLOUDPORT_QUEUE_URL_JOBS"),
        (vec![Function::queue("a", "jobs", queue), Function::queue("b", "jobs", queue)], "triggers both"),
        (vec![Function::blob("a", "uploads/", blob), Function::blob("b", "uploads/images/", blob)], "overlapping"),
        (vec![Function::blob("a", "", blob), Function::blob("b", "results/", blob)], "overlapping"),
    ];
    for (functions, needle) in cases {
        assert_refused(&functions, &none, ErrorKind::Config, needle);
    }
    // Disjoint prefixes are fine.
    template(&[Function::blob("a", "uploads/", blob), Function::blob("b", "results/", blob)], &none).unwrap();
}

#[test]
fn sub_minute_schedules_are_refused_naming_the_function() {
    let functions = [Function::schedule("sweep", Schedule::parse("*/2 * * * * *").unwrap(), tick)];
    assert_refused(&functions, &SamOptions::new(), ErrorKind::InvalidInput, "function \"sweep\"");
    assert_refused(&functions, &SamOptions::new(), ErrorKind::InvalidInput, "at most once a minute");
}

#[test]
fn names_are_checked_against_a_known_stack() {
    let functions = [Function::queue("count_words", "jobs", queue)];
    let long_stack = SamOptions::new().stack_name("s".repeat(60));
    assert_refused(&functions, &long_stack, ErrorKind::Config, "Lambda's limit of 64");
    let fits = SamOptions::new().stack_name("pipeline-prod");
    template(&functions, &fits).unwrap();
    assert_refused(&functions, &SamOptions::new().stack_name("9lives"), ErrorKind::Config, "stack name");
}

#[test]
fn options_outside_aws_limits_are_refused() {
    let f = [Function::json("f", invoke)];
    for (options, needle) in [
        (SamOptions::new().memory_mb(64), "memory_mb 64"),
        (SamOptions::new().memory_mb(20_000), "memory_mb 20000"),
        (SamOptions::new().default_timeout(Duration::from_secs(1000)), "default_timeout"),
        (SamOptions::new().default_timeout(Duration::ZERO), "default_timeout"),
        (SamOptions::new().batch_window(Duration::from_secs(301)), "batch_window"),
        (SamOptions::new().code_uri(" "), "code_uri"),
        (SamOptions::new().description("d".repeat(1025)), "description"),
    ] {
        assert_refused(&f, &options, ErrorKind::Config, needle);
    }
    let big_batch = [Function::queue("q", "jobs", queue).with_batch_size(11)];
    assert_refused(&big_batch, &SamOptions::new().batch_window(Duration::ZERO), ErrorKind::Config, "batching window");
}
