//! The pipeline example on a Lambda runtime emulator nobody here wrote: `cargo lambda watch`
//! hosts each of its functions (one emulator per function, chosen by `CLOUDPORT_FUNCTION`),
//! with S3 and SQS on moto. HTTP arrives through the emulator's Function URLs; the other
//! triggers' events are invoked through cloudport's `LambdaInvoker` (aws-sdk-lambda) with its
//! endpoint at the emulator, as AWS would deliver them.
//!
//! Emulator gaps, asserted as such: `cargo lambda watch` answers a function error with HTTP 500
//! instead of 200 + `X-Amz-Function-Error` (so the error's kind does not survive; the fake
//! Invoke endpoint in `providers/aws/tests/lambda.rs` covers AWS's form), runs `Event`
//! invocations synchronously, and drops `ClientContext`.
#![cfg(feature = "aws")]

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cloudport::aws::lambda::LambdaInvoker;
use cloudport::aws::{AwsOptions, S3BlobStore, SqsQueue};
use cloudport::function::{Invoker, TraceContext};
use cloudport::{BlobKey, BlobStoreExt, DeadLetterPolicy, Delivery, QueueExt};
use serde_json::{Value, json};

const FUNCTIONS: [&str; 6] = ["upload", "on_upload", "count_words", "sweep", "summarize", "stats"];

fn setting(var: &str, what: &str) -> Option<String> {
    cloudport_conformance::skip::emulator(var, what)
}

/// A free loopback port.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One `cargo lambda watch`, stopped (with its process group) when dropped.
struct Watch {
    function: &'static str,
    port: u16,
    child: Child,
}

impl Drop for Watch {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", "--", &format!("-{pid}")]).status();
        std::thread::sleep(Duration::from_millis(200));
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{pid}")]).status();
        let _ = self.child.wait();
    }
}

impl Watch {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Invokes the emulator's function (`_`: the example target's only function) with `event`.
    async fn invoke(&self, event: &Value) -> cloudport::Result<Value> {
        let invoker = LambdaInvoker::new(aws(&self.url()));
        let out = invoker.invoke("_", Bytes::from(event.to_string()), TraceContext::new_root()).await?;
        Ok(serde_json::from_slice(&out).expect("the function answers JSON"))
    }
}

fn aws(endpoint: &str) -> AwsOptions {
    AwsOptions::new().endpoint(endpoint).region("us-east-1").credentials("testing", "testing")
}

/// Starts `cargo lambda watch` hosting `function` of the pipeline example.
fn watch(cargo_lambda: &str, log_dir: &Path, function: &'static str, env: &[(String, String)]) -> Watch {
    let port = free_port();
    let root = env!("CARGO_MANIFEST_DIR");
    let log = std::fs::File::create(log_dir.join(format!("{function}.log"))).unwrap();
    let mut cmd = Command::new(cargo_lambda);
    cmd.args(["lambda", "watch", "--ignore-changes", "--offline", "-A", "127.0.0.1", "-P", &port.to_string()])
        .args(["--manifest-path", &format!("{root}/Cargo.toml"), "--example", "pipeline", "--features", "aws"])
        .args(["--env-var", &format!("CLOUDPORT_FUNCTION={function}")])
        .current_dir(root)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .process_group(0);
    Watch { function, port, child: cmd.spawn().expect("start cargo lambda watch") }
}

/// Waits until the emulator answers (an unknown function's 404 comes at once).
async fn ready(watch: &Watch) {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let probe = http.post(format!("{}/2015-03-31/functions/__nope__/invocations", watch.url())).send().await;
        if probe.is_ok_and(|r| r.status() == 404) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("cargo lambda watch for {} did not start", watch.function);
}

/// Builds the example as `cargo run --example pipeline --features aws` does (once per test
/// process), and returns its path.
fn build_example() -> std::path::PathBuf {
    static BUILT: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let out = Command::new(env!("CARGO"))
                .args([
                    "build",
                    "--example",
                    "pipeline",
                    "--features",
                    "aws",
                    "--message-format",
                    "json",
                    "--manifest-path",
                ])
                .arg(format!("{}/Cargo.toml", env!("CARGO_MANIFEST_DIR")))
                .stderr(Stdio::inherit())
                .output()
                .unwrap();
            assert!(out.status.success(), "building the example failed");
            // Cargo names the executable it built in its JSON messages.
            String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .find(|m| m["target"]["name"] == "pipeline" && m["executable"].is_string())
                .map(|m| m["executable"].as_str().unwrap().into())
                .expect("cargo reports the example's executable")
        })
        .clone()
}

fn record(d: &Delivery, queue_arn: &str) -> Value {
    let attributes: serde_json::Map<String, Value> = d
        .attributes
        .iter()
        .map(|(k, v)| {
            (k.clone(), json!({"stringValue": v, "stringListValues": [], "binaryListValues": [], "dataType": "String"}))
        })
        .collect();
    json!({"messageId": d.id.as_str(), "receiptHandle": d.receipt.as_str(), "body": String::from_utf8(d.body.to_vec()).unwrap(),
        "attributes": {"ApproximateReceiveCount": d.delivery_count.to_string(), "SentTimestamp": "1714564800000"},
        "messageAttributes": attributes, "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": "us-east-1"})
}

fn s3_record(bucket: &str, key: &str, size: usize) -> Value {
    json!({"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventTime": "2026-11-23T12:00:00.000Z",
        "eventName": "ObjectCreated:Put", "userIdentity": {"principalId": "x"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {}, "s3": {"s3SchemaVersion": "1.0", "configurationId": "uploads",
            "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
            "object": {"key": key, "size": size, "eTag": "0", "sequencer": "01"}}})
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{prefix}-{:x}", nanos as u64 ^ u64::from(std::process::id()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_runs_on_cargo_lambda_watch() {
    let Some(cargo_lambda) = setting("CLOUDPORT_TEST_CARGO_LAMBDA", "cargo lambda watch end to end") else { return };
    let Some(moto) = setting("CLOUDPORT_TEST_MOTO", "cargo lambda watch end to end") else { return };

    // The app's bucket and queues on moto.
    let bucket = unique("pipeline");
    let store = S3BlobStore::builder(&bucket).aws(aws(&moto)).build().unwrap();
    store.client().await.unwrap().create_bucket().bucket(&bucket).send().await.unwrap();
    let jobs = unique("jobs");
    let dlq = format!("{jobs}-dlq");
    let queue = SqsQueue::builder(&jobs)
        .aws(aws(&moto))
        .create(true)
        .dead_letter(DeadLetterPolicy::new(&dlq, 3))
        .build()
        .unwrap();
    queue.queue_url().await.unwrap();

    // Built as cargo lambda will run it, so the emulators start from a fresh binary.
    build_example();

    let log_dir = tempfile::Builder::new().prefix("cloudport-lambda-watch-").tempdir().unwrap().keep();
    println!("cargo lambda watch logs: {}", log_dir.display());
    let summarize_port_env = |port: u16| {
        vec![
            ("CLOUDPORT_LAMBDA_SUMMARIZE".to_owned(), "_".to_owned()),
            ("AWS_ENDPOINT_URL_LAMBDA".to_owned(), format!("http://127.0.0.1:{port}")),
        ]
    };
    let base_env = vec![
        ("AWS_ENDPOINT_URL".to_owned(), moto.clone()),
        ("AWS_ACCESS_KEY_ID".to_owned(), "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY".to_owned(), "testing".to_owned()),
        ("AWS_REGION".to_owned(), "us-east-1".to_owned()),
        ("CLOUDPORT_BLOB_URL".to_owned(), format!("s3://{bucket}")),
        ("CLOUDPORT_QUEUE_URL_JOBS".to_owned(), format!("sqs://{jobs}")),
        ("RUST_LOG".to_owned(), "cloudport=info".to_owned()),
    ];
    let mut watches = Vec::new();
    for function in FUNCTIONS {
        let mut env = base_env.clone();
        if function == "stats" {
            let summarize: &Watch = watches.iter().find(|w: &&Watch| w.function == "summarize").unwrap();
            env.extend(summarize_port_env(summarize.port));
        }
        watches.push(watch(&cargo_lambda, &log_dir, function, &env));
    }
    for w in &watches {
        ready(w).await;
    }
    let get = |name: &str| watches.iter().find(|w| w.function == name).unwrap();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(300)).build().unwrap();

    // http: uploads through the Function URL (text, and bytes that are not UTF-8).
    // (cargo lambda needs a non-text Content-Type to pass bytes that are not UTF-8: base64.)
    let files: [(&str, &str, &[u8]); 3] = [
        ("moby.txt", "text/plain", b"Call me Ishmael.\nSome years ago, never mind how long precisely,\n"),
        ("haiku.txt", "text/plain", b"an old silent pond\na frog jumps into the pond\nsplash! silence again\n"),
        ("photo.jpg", "image/jpeg", b"\xff\xd8\xff\xe0 not text at all \xff\xd9"),
    ];
    for (name, content_type, body) in files {
        let url = format!("{}/upload/{name}", get("upload").url());
        let res = http.put(url).header("content-type", content_type).body(body.to_vec()).send().await.unwrap();
        assert_eq!(res.status(), 201, "PUT {name}: {}", res.text().await.unwrap());
        let stored = store.get_bytes(&BlobKey::new(format!("uploads/{name}")).unwrap()).await.unwrap();
        assert_eq!(&stored[..], body, "{name} arrives intact through the function URL");
    }
    let res = http.put(format!("{}/upload/a//b", get("upload").url())).body("x").send().await.unwrap();
    assert_eq!(res.status(), 400, "invalid keys are refused");
    // An archived upload: S3 refuses to read it (InvalidObjectState) until it is restored.
    let client = store.client().await.unwrap();
    client
        .put_object()
        .bucket(&bucket)
        .key("uploads/archived.txt")
        .body(b"frozen words".to_vec().into())
        .storage_class(aws_sdk_s3::types::StorageClass::Glacier)
        .send()
        .await
        .unwrap();

    // blob: S3's notification for the four uploads becomes four jobs.
    let keys = ["uploads/moby.txt", "uploads/haiku.txt", "uploads/photo.jpg", "uploads/archived.txt"];
    let event = json!({"Records": keys.iter().map(|k| s3_record(&bucket, k, 10)).collect::<Vec<_>>()});
    assert_eq!(get("on_upload").invoke(&event).await.unwrap(), Value::Null);
    let mut deliveries = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while deliveries.len() < 4 && Instant::now() < deadline {
        deliveries.extend(queue.receive_batch(10, Duration::from_secs(1)).await.unwrap());
    }
    assert_eq!(deliveries.len(), 4, "one job per upload");

    // queue: a partial batch response. The archived upload is retried, the photo dead-lettered.
    let arn = format!("arn:aws:sqs:us-east-1:123456789012:{jobs}");
    let event = json!({"Records": deliveries.iter().map(|d| record(d, &arn)).collect::<Vec<_>>()});
    let reply = get("count_words").invoke(&event).await.unwrap();
    let failed: Vec<&str> =
        reply["batchItemFailures"].as_array().unwrap().iter().map(|f| f["itemIdentifier"].as_str().unwrap()).collect();
    let archived = deliveries.iter().find(|d| std::str::from_utf8(&d.body).unwrap().contains("archived")).unwrap();
    assert_eq!(failed, [archived.id.as_str()], "only the unreadable upload is retried: {reply}");
    let dead = SqsQueue::builder(&dlq)
        .aws(aws(&moto))
        .build()
        .unwrap()
        .receive_batch(10, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(dead.len(), 1, "the photo is dead-lettered");
    assert!(dead[0].attributes[cloudport::queue::DEAD_LETTER_REASON_ATTRIBUTE].contains("not UTF-8"));
    let moby: Value =
        serde_json::from_slice(&store.get_bytes(&BlobKey::new("results/moby.txt.json").unwrap()).await.unwrap())
            .unwrap();
    assert_eq!(moby["words"], 11);

    // schedule: after the haiku's upload is deleted, the sweep removes its result.
    let res = http.delete(format!("{}/upload/haiku.txt", get("upload").url())).send().await.unwrap();
    assert_eq!(res.status(), 204);
    let tick = json!({"version": "0", "id": "e", "detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012",
        "time": "2026-11-23T12:05:00Z", "region": "us-east-1", "resources": [], "detail": {}});
    assert_eq!(get("sweep").invoke(&tick).await.unwrap(), Value::Null);
    assert!(!store.exists(&BlobKey::new("results/haiku.txt.json").unwrap()).await.unwrap(), "swept");

    // invoke: summarize directly, and through stats, which invokes it with LambdaInvoker.
    let totals = get("summarize").invoke(&Value::Null).await.unwrap();
    assert_eq!(totals, json!({"documents": 1, "words": 11}));
    let res = http.get(format!("{}/stats", get("stats").url())).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(serde_json::from_str::<Value>(&res.text().await.unwrap()).unwrap(), totals);

    // Emulator gap: a function error comes back as HTTP 500 (AWS: 200 + X-Amz-Function-Error,
    // which gives the caller the function's own kind, here InvalidInput), so the invoker sees
    // an unavailable service instead.
    let err = get("summarize").invoke(&json!({"not": "unit"})).await.unwrap_err();
    assert_eq!(err.kind(), cloudport::ErrorKind::Unavailable, "cargo lambda's 500: {err}");
}

/// `CLOUDPORT_DEPLOY=sam` makes the example print its SAM template, which cfn-lint accepts.
#[test]
fn the_pipeline_prints_a_template_cfn_lint_accepts() {
    let Some(python) = setting("CLOUDPORT_TEST_CFN_PYTHON", "the pipeline's SAM template") else { return };
    let out = Command::new(build_example()).env("CLOUDPORT_DEPLOY", "sam").output().expect("run the pipeline example");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let template: Value = serde_json::from_slice(&out.stdout).expect("the template is JSON");
    let names: Vec<&String> = template["Resources"].as_object().unwrap().keys().collect();
    for function in ["Upload", "OnUpload", "CountWords", "Sweep", "Stats", "Summarize"] {
        assert!(names.contains(&&format!("{function}Function")), "{function} in {names:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("template.json");
    std::fs::write(&path, &out.stdout).unwrap();
    let lint = Command::new(python)
        .args(["-c", "import sys; from cfnlint.runner import main; sys.exit(main())"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        lint.status.success(),
        "cfn-lint: {}{}",
        String::from_utf8_lossy(&lint.stdout),
        String::from_utf8_lossy(&lint.stderr)
    );
}
