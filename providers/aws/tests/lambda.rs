//! The Lambda host: each trigger's events through `LambdaHost::handle`, the runtime loop in a
//! child process against a fake Runtime API, and on moto, SQS retry delays, dead-lettering and
//! S3 notifications delivered through SQS.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use cloudport_aws::lambda::LambdaHost;
use cloudport_aws::{S3BlobStore, SqsQueue};
use cloudport_core::function::{
    BatchOutcome, BlobEvent, Context, Function, HttpRequest, HttpResponse, QueueBatch, ResourceOpener, Resources,
    Schedule, ScheduleTick,
};
use cloudport_core::{BlobStore, DeadLetterPolicy, Error, ErrorKind, Message, Queue, QueueExt, ReceiveOptions, Result};
use common::{aws, moto, unique};
use serde_json::{Value, json};
use tokio::sync::{Mutex as AsyncMutex, mpsc};

/// What the blob and schedule functions saw, as `"<what>:<detail>"` lines.
static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn seen(line: String) {
    SEEN.lock().unwrap().push(line);
}

fn was_seen(line: &str) -> bool {
    SEEN.lock().unwrap().iter().any(|l| l == line)
}

async fn echo(input: Value, ctx: Context) -> Result<Value> {
    if let Some(kind) = input["fail"].as_str() {
        return Err(Error::new(ErrorKind::from_name(kind).unwrap(), format!("asked to fail with {kind}")));
    }
    Ok(json!({
        "echo": input,
        "function": ctx.function_name(),
        "request_id": ctx.request_id(),
        "has_deadline": ctx.remaining().is_some(),
        "parent_trace": ctx.parent_trace().map(|t| t.trace_id()),
    }))
}

async fn web(req: HttpRequest) -> Result<HttpResponse> {
    match req.uri().path() {
        "/missing" => Err(Error::new(ErrorKind::NotFound, "nothing here")),
        "/binary" => Ok(HttpResponse::new(vec![0xff_u8, 0, 1].into())),
        _ => {
            let body = String::from_utf8_lossy(req.body());
            Ok(HttpResponse::new(format!("{} {} {body}", req.method(), req.uri()).into()))
        }
    }
}

/// Each message says what to do with it: `{"do": "ack" | "retry" | "retry_later" | "dead"}`.
async fn jobs(batch: QueueBatch<Value>) -> Result<BatchOutcome> {
    let mut outcome = BatchOutcome::ack_all();
    for m in &batch {
        match m.body["do"].as_str() {
            Some("retry") => outcome.retry(&m.id, None),
            Some("retry_later") => outcome.retry(&m.id, Some(Duration::from_secs(60))),
            Some("dead") => outcome.dead_letter(&m.id, "the test said so"),
            _ => &mut outcome,
        };
    }
    Ok(outcome)
}

async fn uploads(event: BlobEvent) -> Result<()> {
    if event.key.as_str().contains("fail") {
        return Err(Error::new(ErrorKind::Unavailable, "asked to fail"));
    }
    seen(format!("{}:{}:{}", event.kind.as_str(), event.store, event.key));
    Ok(())
}

async fn tick(tick: ScheduleTick) -> Result<()> {
    let at = tick.scheduled_at.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    seen(format!("tick:{}:{at}:{}", tick.schedule, tick.past_due));
    Ok(())
}

fn functions() -> Vec<Function> {
    vec![
        Function::json("echo", echo),
        Function::http("web", web),
        Function::queue("jobs", "jobs", jobs),
        Function::blob("uploads", "in/", uploads),
        Function::schedule("tick", Schedule::parse("0 */5 * * * *").unwrap(), tick),
    ]
}

fn function(name: &str) -> Function {
    functions().into_iter().find(|f| f.name() == name).unwrap()
}

/// Opens nothing: these functions use no store or queue.
#[derive(Debug)]
struct NoResources;

impl ResourceOpener for NoResources {
    fn open_blob_store(&self, name: &str) -> Result<Arc<dyn BlobStore>> {
        Err(Error::config(format!("no store {name} in this test")))
    }
    fn open_queue(&self, name: &str) -> Result<Arc<dyn Queue>> {
        Err(Error::config(format!("no queue {name} in this test")))
    }
}

fn host(name: &str) -> LambdaHost {
    LambdaHost::new(function(name), Resources::new(Arc::new(NoResources)))
}

fn lambda_context() -> lambda_runtime::Context {
    let mut ctx = lambda_runtime::Context::default();
    ctx.request_id = "req-1".into();
    let in_a_minute = SystemTime::now() + Duration::from_secs(60);
    ctx.deadline = in_a_minute.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis() as u64;
    ctx
}

async fn handle(host: &LambdaHost, payload: &str) -> std::result::Result<Value, lambda_runtime::Diagnostic> {
    host.handle(payload, &lambda_context()).await.map(|raw| serde_json::from_str(raw.get()).unwrap())
}

#[tokio::test]
async fn invocations_pass_json_through_with_the_context() {
    let mut ctx = lambda_context();
    let custom = HashMap::from([(
        "traceparent".to_owned(),
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_owned(),
    )]);
    ctx.client_context = Some(serde_json::from_value(json!({ "custom": custom })).unwrap());
    let raw = host("echo").handle(r#"{"a": [1, 2]}"#, &ctx).await.unwrap();
    let out: Value = serde_json::from_str(raw.get()).unwrap();
    assert_eq!(out["echo"], json!({"a": [1, 2]}));
    assert_eq!(out["function"], "echo");
    assert_eq!(out["request_id"], "req-1");
    assert_eq!(out["has_deadline"], true);
    assert_eq!(out["parent_trace"], "0af7651916cd43dd8448eb211c80319c", "the caller's trace crosses the invoke");
}

#[tokio::test]
async fn function_errors_carry_their_kind_in_the_error_type() {
    let err = handle(&host("echo"), r#"{"fail": "not_found"}"#).await.unwrap_err();
    assert_eq!(err.error_type, "cloudport::not_found");
    assert_eq!(err.error_message, "asked to fail with not_found");
}

fn http_api(method: &str, path: &str, body: &str) -> String {
    json!({
        "version": "2.0", "routeKey": "ANY /web/{proxy+}", "rawPath": path, "rawQueryString": "q=1",
        "headers": {"host": "abc.lambda-url.us-east-1.on.aws"},
        "requestContext": {"accountId": "1", "apiId": "abc", "domainName": "abc.lambda-url.us-east-1.on.aws",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "1.2.3.4", "userAgent": "t"},
            "requestId": "r", "routeKey": "ANY /web/{proxy+}", "stage": "$default", "time": "01/May/2024:12:00:00 +0000", "timeEpoch": 1_714_564_800_000_u64},
        "body": body, "isBase64Encoded": false
    })
    .to_string()
}

#[tokio::test]
async fn http_events_get_responses_in_their_origins_shape() {
    let web = host("web");
    let ok = handle(&web, &http_api("POST", "/web/orders", "hello")).await.unwrap();
    assert_eq!(ok["statusCode"], 200);
    assert_eq!(ok["body"], "POST /orders?q=1 hello", "the mount is stripped, the query kept");
    let missing = handle(&web, &http_api("GET", "/web/missing", "")).await.unwrap();
    assert_eq!(missing["statusCode"], 404, "errors answer with their kind's status: {missing}");
    assert_eq!(missing["body"], "nothing here");
    let binary = handle(&web, &http_api("GET", "/web/binary", "")).await.unwrap();
    assert_eq!((binary["isBase64Encoded"].clone(), binary["body"].clone()), (json!(true), json!("/wAB")));

    let rest = json!({"resource": "/web/{proxy+}", "path": "/web/x", "httpMethod": "DELETE", "headers": {}, "multiValueHeaders": {},
        "requestContext": {"accountId": "1", "resourceId": "r", "stage": "Prod", "requestId": "id", "identity": {"sourceIp": "1.2.3.4"},
            "resourcePath": "/web/{proxy+}", "httpMethod": "DELETE", "apiId": "api"}, "body": null, "isBase64Encoded": false});
    let rest = handle(&web, &rest.to_string()).await.unwrap();
    assert_eq!(rest["statusCode"], 200);
    assert_eq!(rest["body"], "DELETE /x ");
    assert!(rest.get("multiValueHeaders").is_some(), "REST APIs get format 1.0: {rest}");

    let alb = json!({"requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/t/1"}},
        "httpMethod": "GET", "path": "/web", "queryStringParameters": {}, "headers": {"host": "lb"}, "body": "", "isBase64Encoded": false});
    let alb = handle(&web, &alb.to_string()).await.unwrap();
    assert_eq!(alb["statusDescription"], "200 OK");
}

/// A record of an SQS event: `(id, receipt, body, delivery count, string attributes)`.
type Record = (String, String, String, u32, HashMap<String, String>);

fn record_of(d: &cloudport_core::Delivery) -> Record {
    let attributes = d.attributes.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    (
        d.id.as_str().to_owned(),
        d.receipt.as_str().to_owned(),
        String::from_utf8(d.body.to_vec()).unwrap(),
        d.delivery_count,
        attributes,
    )
}

fn sqs_event(records: &[Record], queue_arn: Option<&str>) -> String {
    let records: Vec<Value> = records
        .iter()
        .map(|(id, receipt, body, count, attributes)| {
            let attributes: serde_json::Map<String, Value> = attributes
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        json!({"stringValue": v, "stringListValues": [], "binaryListValues": [], "dataType": "String"}),
                    )
                })
                .collect();
            let mut r = json!({"messageId": id, "receiptHandle": receipt, "body": body,
                "attributes": {"ApproximateReceiveCount": count.to_string(), "SentTimestamp": "1714564800000"},
                "messageAttributes": attributes, "md5OfBody": "", "eventSource": "aws:sqs", "awsRegion": "us-east-1"});
            if let Some(arn) = queue_arn {
                r["eventSourceARN"] = json!(arn);
            }
            r
        })
        .collect();
    json!({ "Records": records }).to_string()
}

fn failures(reply: &Value) -> Vec<String> {
    let mut ids: Vec<String> = reply["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn queue_batches_report_what_to_retry() {
    let record = |id: &str, body: &str| (id.to_owned(), format!("receipt-{id}"), body.to_owned(), 1, HashMap::new());
    let event = sqs_event(
        &[
            record("m1", r#"{"do": "ack"}"#),
            record("m2", r#"{"do": "retry"}"#),
            record("m3", r#"{"do": "ack"}"#),
            // Not JSON: dead-lettered without reaching the handler. Without the queue's ARN it
            // cannot be moved, so it is reported for the redrive policy instead of being lost.
            record("m4", "not json"),
        ],
        None,
    );
    let reply = handle(&host("jobs"), &event).await.unwrap();
    assert_eq!(failures(&reply), ["m2", "m4"]);
    let err = handle(&host("jobs"), &http_api("GET", "/jobs", "")).await.unwrap_err();
    assert_eq!(err.error_type, "cloudport::invalid_input", "{}", err.error_message);
}

fn s3_event(name: &str, bucket: &str, key: &str) -> Value {
    json!({"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventTime": "2024-05-01T12:00:00.000Z",
        "eventName": name, "userIdentity": {"principalId": "x"}, "requestParameters": {"sourceIPAddress": "1.2.3.4"},
        "responseElements": {}, "s3": {"s3SchemaVersion": "1.0", "configurationId": "c",
            "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
            "object": {"key": key, "size": 5, "eTag": "abc", "sequencer": "01"}}})
}

#[tokio::test]
async fn s3_events_reach_blob_functions_with_decoded_keys() {
    let key = unique("in/direct");
    let event = json!({"Records": [
        s3_event("ObjectCreated:Put", "data", &format!("{key}+%C3%A9t%C3%A9.txt")),
        s3_event("ObjectRemoved:Delete", "data", &format!("{key}.old")),
        s3_event("ObjectCreated:Put", "data", &format!("out/{key}")),
    ]});
    let reply = handle(&host("uploads"), &event.to_string()).await.unwrap();
    assert_eq!(reply, Value::Null);
    assert!(was_seen(&format!("created:data:{key} été.txt")), "{:?}", SEEN.lock().unwrap());
    assert!(was_seen(&format!("deleted:data:{key}.old")));
    assert!(!SEEN.lock().unwrap().iter().any(|l| l.contains(&format!("out/{key}"))), "outside the prefix");
    let failing = json!({"Records": [s3_event("ObjectCreated:Put", "data", "in/fail")]});
    let err = handle(&host("uploads"), &failing.to_string()).await.unwrap_err();
    assert_eq!(err.error_type, "cloudport::unavailable", "a failed event fails the invocation, so Lambda retries it");
}

#[tokio::test]
async fn scheduled_events_become_ticks() {
    let event = json!({"version": "0", "id": "e", "detail-type": "Scheduled Event", "source": "aws.events", "account": "1",
        "time": "2024-05-01T12:05:00Z", "region": "us-east-1", "resources": ["arn:aws:events:us-east-1:1:rule/r"], "detail": {}});
    assert_eq!(handle(&host("tick"), &event.to_string()).await.unwrap(), Value::Null);
    assert!(was_seen("tick:0 */5 * * * *:1714565100:true"), "{:?}", SEEN.lock().unwrap());
}

#[tokio::test]
async fn running_outside_lambda_is_a_clear_error() {
    let err = host("echo").run().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(
        err.to_string().contains("AWS_LAMBDA_RUNTIME_API") && err.to_string().contains("CLOUDPORT_HOST=local"),
        "{err}"
    );
}

/// moto's account id: the ARN of queue `name` on moto.
fn moto_queue_arn(name: &str) -> String {
    format!("arn:aws:sqs:us-east-1:123456789012:{name}")
}

#[tokio::test]
async fn retry_delays_and_dead_letters_reach_sqs() {
    let Some(endpoint) = moto("aws lambda sqs outcomes") else { return };
    let name = unique("lambda-jobs");
    let dlq_name = format!("{name}-dlq");
    let queue = SqsQueue::builder(&name)
        .aws(aws(&endpoint))
        .create(true)
        .dead_letter(DeadLetterPolicy::new(&dlq_name, 5))
        .build()
        .unwrap();
    for action in ["ack", "retry", "retry_later", "dead"] {
        queue.send(Message::new(json!({ "do": action }).to_string()).with_attribute("action", action)).await.unwrap();
    }
    let mut deliveries = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while deliveries.len() < 4 && Instant::now() < deadline {
        let opts = ReceiveOptions::default()
            .with_max_messages(10)
            .with_wait(Duration::from_secs(1))
            .with_lease(Duration::from_secs(2));
        deliveries.extend(queue.receive(opts).await.unwrap());
    }
    assert_eq!(deliveries.len(), 4);
    let action_of = |id: &str| deliveries.iter().find(|d| d.id.as_str() == id).unwrap().attributes["action"].clone();
    let records: Vec<Record> = deliveries.iter().map(record_of).collect();
    let host = host("jobs").with_aws(aws(&endpoint));
    let reply = handle(&host, &sqs_event(&records, Some(&moto_queue_arn(&name)))).await.unwrap();
    let mut failed: Vec<String> = failures(&reply).iter().map(|id| action_of(id)).collect();
    failed.sort();
    assert_eq!(failed, ["retry", "retry_later"], "the dead-lettered message is settled here, not reported");

    // The dead-lettered message is in the dead-letter queue, with the reason.
    let dlq = SqsQueue::builder(&dlq_name).aws(aws(&endpoint)).build().unwrap();
    let dead = dlq.receive_batch(10, Duration::from_secs(5)).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attributes["action"], "dead");
    assert_eq!(dead[0].attributes[cloudport_core::queue::DEAD_LETTER_REASON_ATTRIBUTE], "the test said so");

    // After the 2 s lease, the plain retry and the acked message (which only the event source
    // mapping deletes) come back; the delayed retry stays hidden for its 60 s.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut back = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(6);
    while Instant::now() < deadline {
        back.extend(
            queue
                .receive_batch(10, Duration::from_secs(1))
                .await
                .unwrap()
                .into_iter()
                .map(|d| d.attributes["action"].clone()),
        );
    }
    back.sort();
    assert_eq!(back, ["ack", "retry"]);
}

#[tokio::test]
async fn s3_notifications_through_sqs_reach_blob_functions() {
    let Some(endpoint) = moto("aws lambda s3 notifications") else { return };
    let bucket = unique("notify");
    let store = S3BlobStore::builder(&bucket).aws(aws(&endpoint)).build().unwrap();
    common::ensure_bucket(&store).await;
    let queue_name = unique("notify-q");
    let queue = SqsQueue::builder(&queue_name).aws(aws(&endpoint)).create(true).build().unwrap();
    queue.queue_url().await.unwrap();
    let config = aws_sdk_s3::types::NotificationConfiguration::builder()
        .queue_configurations(
            aws_sdk_s3::types::QueueConfiguration::builder()
                .queue_arn(moto_queue_arn(&queue_name))
                .events(aws_sdk_s3::types::Event::from("s3:ObjectCreated:*"))
                .build()
                .unwrap(),
        )
        .build();
    let client = store.client().await.unwrap();
    client
        .put_bucket_notification_configuration()
        .bucket(&bucket)
        .notification_configuration(config)
        .send()
        .await
        .unwrap();
    let key = "in/a b+c é.txt";
    cloudport_core::BlobStoreExt::put(&store, &cloudport_core::BlobKey::new(key).unwrap(), "hello").await.unwrap();

    // S3 first sends its test event, then the object's.
    let mut deliveries = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while deliveries.len() < 2 && Instant::now() < deadline {
        deliveries.extend(queue.receive_batch(10, Duration::from_secs(1)).await.unwrap());
    }
    assert_eq!(deliveries.len(), 2, "expected S3's test event and the object's event");
    assert!(deliveries.iter().any(|d| std::str::from_utf8(&d.body).unwrap().contains("s3:TestEvent")));
    let records: Vec<Record> = deliveries.iter().map(record_of).collect();
    let host = host("uploads").with_aws(aws(&endpoint));
    let reply = handle(&host, &sqs_event(&records, Some(&moto_queue_arn(&queue_name)))).await.unwrap();
    assert_eq!(failures(&reply), Vec::<String>::new(), "the test event is skipped, not failed: {reply}");
    assert!(was_seen(&format!("created:{bucket}:{key}")), "{:?}", SEEN.lock().unwrap());
}

/// What a fake Lambda `Invoke` endpoint saw: (function, invocation type, client context).
type Seen = Arc<Mutex<Vec<(String, String, Option<String>)>>>;

/// AWS's answers: 200 with the output, 200 + `X-Amz-Function-Error` with the error payload,
/// 202 for `Event`, 404 for unknown functions.
async fn fake_invoke(
    State(seen): State<Seen>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: String,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let header = |h: &str| headers.get(h).map(|v| v.to_str().unwrap().to_owned());
    let kind = header("x-amz-invocation-type").unwrap_or_else(|| "RequestResponse".into());
    seen.lock().unwrap().push((name.clone(), kind.clone(), header("x-amz-client-context")));
    match (name.as_str(), kind.as_str()) {
        ("shop-missing", _) => (StatusCode::NOT_FOUND, [("x-amzn-errortype", "ResourceNotFoundException")], r#"{"Type":"User","message":"Function not found"}"#.to_owned()).into_response(),
        (_, "Event") => StatusCode::ACCEPTED.into_response(),
        ("shop-failing", _) => (StatusCode::OK, [("x-amz-function-error", "Unhandled")], r#"{"errorType":"cloudport::precondition_failed","errorMessage":"stale order"}"#.to_owned()).into_response(),
        ("shop-crashing", _) => (StatusCode::OK, [("x-amz-function-error", "Unhandled")], r#"{"errorType":"Runtime.ExitError","errorMessage":"RequestId: x Error: Runtime exited with error: signal: killed"}"#.to_owned()).into_response(),
        _ => (StatusCode::OK, body).into_response(),
    }
}

/// The invoker against an endpoint answering as AWS does (`cargo lambda watch` answers function
/// errors with HTTP 500 instead, see tests/lambda_watch.rs at the root).
#[tokio::test]
async fn the_invoker_maps_lambdas_answers() {
    use cloudport_aws::lambda::LambdaInvoker;
    use cloudport_core::function::{Invoker, TraceContext};

    let seen: Seen = Arc::default();
    let app = Router::new()
        .route("/2015-03-31/functions/{name}/invocations", post(fake_invoke))
        .with_state(Arc::clone(&seen));
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let invoker = LambdaInvoker::new(aws(&endpoint)).with_prefix("shop-");
    let trace = TraceContext::new_root();

    let out = invoker.invoke("echo", bytes::Bytes::from_static(br#"{"n":1}"#), trace).await.unwrap();
    assert_eq!(&out[..], br#"{"n":1}"#);
    let err = invoker.invoke("failing", bytes::Bytes::from_static(b"{}"), trace).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.message()),
        (ErrorKind::PreconditionFailed, "stale order"),
        "the callee's kind survives"
    );
    let err = invoker.invoke("crashing", bytes::Bytes::from_static(b"{}"), trace).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Other);
    assert!(err.to_string().contains("Runtime.ExitError"), "{err}");
    let err = invoker.invoke("missing", bytes::Bytes::from_static(b"{}"), trace).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    invoker.invoke_async("echo", bytes::Bytes::from_static(b"{}"), trace).await.unwrap();

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[0].0, "shop-echo", "logical names get the prefix");
    assert_eq!(seen[0].1, "RequestResponse");
    let context = seen[0].2.as_deref().expect("synchronous calls carry the trace in the client context");
    assert!(String::from_utf8(base64_decode(context)).unwrap().contains(&trace.to_traceparent()));
    assert_eq!(seen.last().unwrap().1, "Event");
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text).unwrap()
}

/// The fake Runtime API's state: events to hand out, and what the function answered.
#[derive(Clone)]
struct FakeRuntime {
    events: Arc<AsyncMutex<mpsc::Receiver<(String, String)>>>,
    answers: mpsc::Sender<(String, &'static str, String, Option<String>)>,
}

async fn next(State(rt): State<FakeRuntime>) -> (HeaderMap, String) {
    let (id, body) = rt.events.lock().await.recv().await.expect("the test keeps the sender");
    let deadline = SystemTime::now() + Duration::from_secs(30);
    let mut headers = HeaderMap::new();
    headers.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
    headers.insert(
        "lambda-runtime-deadline-ms",
        deadline.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis().to_string().parse().unwrap(),
    );
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:app-echo".parse().unwrap(),
    );
    headers.insert(
        "lambda-runtime-trace-id",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".parse().unwrap(),
    );
    (headers, body)
}

async fn answer(rt: FakeRuntime, id: String, kind: &'static str, headers: HeaderMap, body: String) -> StatusCode {
    let error_type = headers.get("lambda-runtime-function-error-type").map(|v| v.to_str().unwrap().to_owned());
    rt.answers.send((id, kind, body, error_type)).await.unwrap();
    StatusCode::ACCEPTED
}

/// Runs the Lambda host in a child process (this test binary, running `lambda_host_child`)
/// against a fake Runtime API, selecting the function by the Lambda function's name.
#[tokio::test]
async fn the_runtime_loop_answers_and_reports_errors() {
    let (event_tx, event_rx) = mpsc::channel(8);
    let (answer_tx, mut answers) = mpsc::channel(8);
    let rt = FakeRuntime { events: Arc::new(AsyncMutex::new(event_rx)), answers: answer_tx };
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(|State(rt): State<FakeRuntime>, Path(id): Path<String>, h: HeaderMap, b: String| {
                answer(rt, id, "response", h, b)
            }),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/error",
            post(|State(rt): State<FakeRuntime>, Path(id): Path<String>, h: HeaderMap, b: String| {
                answer(rt, id, "error", h, b)
            }),
        )
        .route(
            "/2018-06-01/runtime/init/error",
            post(|State(rt): State<FakeRuntime>, h: HeaderMap, b: String| {
                answer(rt, "init".into(), "init-error", h, b)
            }),
        )
        .with_state(rt);
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let exe = std::env::current_exe().unwrap();
    let mut child = tokio::process::Command::new(exe)
        .args(["--exact", "lambda_host_child", "--ignored", "--nocapture", "--test-threads", "1"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("CLOUDPORT_TEST_LAMBDA_CHILD", "1")
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "app-echo")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", "us-east-1")
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    event_tx.send(("ok-1".into(), r#"{"n": 1}"#.into())).await.unwrap();
    event_tx.send(("err-2".into(), r#"{"fail": "permission_denied"}"#.into())).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..2 {
        let answer =
            tokio::time::timeout(Duration::from_secs(60), answers.recv()).await.expect("the host answers").unwrap();
        got.push(answer);
    }
    child.kill().await.unwrap();

    let (id, kind, body, _) = &got[0];
    assert_eq!((id.as_str(), *kind), ("ok-1", "response"));
    let body: Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["echo"], json!({"n": 1}));
    assert_eq!(body["function"], "echo", "chosen by AWS_LAMBDA_FUNCTION_NAME=app-echo");
    assert_eq!(body["request_id"], "ok-1");
    assert_eq!(body["parent_trace"], "5759e988bd862e3fe1be46a994272793", "the X-Ray trace becomes the parent");
    let (id, kind, body, error_type) = &got[1];
    assert_eq!((id.as_str(), *kind), ("err-2", "error"));
    let body: Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["errorType"], "cloudport::permission_denied", "the kind travels in the error body");
    assert_eq!(body["errorMessage"], "asked to fail with permission_denied");
    assert!(error_type.is_some(), "lambda_runtime marks the error (it always says \"unhandled\")");
}

/// The Lambda process of `the_runtime_loop_answers_and_reports_errors`; does nothing elsewhere.
#[tokio::test]
#[ignore = "run as a child process by the_runtime_loop_answers_and_reports_errors"]
async fn lambda_host_child() {
    if std::env::var_os("CLOUDPORT_TEST_LAMBDA_CHILD").is_none() {
        return;
    }
    let host = LambdaHost::from_env(functions(), Arc::new(NoResources)).unwrap();
    host.run().await.unwrap();
}
