//! The local function host end to end: real loopback HTTP, in-memory queues and stores, every
//! trigger kind, failure handling, leases, load shedding, tracing and graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use cloudport_core::function::{
    BatchOutcome, BlobEvent, BlobEventKind, Context, DEFAULT_STORE, Function, HttpRequest, HttpResponse, QueueBatch,
    ResourceOpener, Schedule, ScheduleTick, TRACEPARENT, TraceContext, TriggerKind, not_configured, queue_url_var,
};
use cloudport_core::queue::DEAD_LETTER_REASON_ATTRIBUTE;
use cloudport_core::{
    BlobKey, BlobStore, BlobStoreExt, Delivery, Error, ErrorKind, Message, PutOptions, Queue, QueueExt, Result,
};
use cloudport_local::MemoryQueue;
use cloudport_local::host::{LocalHost, LocalHostBuilder, RunningHost};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

const WAIT: Duration = Duration::from_secs(5);

fn builder() -> LocalHostBuilder {
    LocalHost::builder()
        .http_addr(SocketAddr::from(([127, 0, 0, 1], 0)))
        .shutdown_grace(Duration::from_secs(3))
        .queue_wait(Duration::from_millis(200))
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(200))
}

async fn start(builder: LocalHostBuilder) -> RunningHost {
    builder.build().unwrap().start().await.unwrap()
}

async fn next<T>(rx: &mut UnboundedReceiver<T>, what: &str) -> T {
    tokio::time::timeout(WAIT, rx.recv()).await.unwrap_or_else(|_| panic!("timed out waiting for {what}")).unwrap()
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn key(k: &str) -> BlobKey {
    BlobKey::new(k).unwrap()
}

/// Receives up to `n` messages from `queue`, waiting at most 5 s in all.
async fn drain(queue: &dyn Queue, n: usize) -> Vec<Delivery> {
    let deadline = Instant::now() + WAIT;
    let mut got = Vec::new();
    while got.len() < n && Instant::now() < deadline {
        got.extend(queue.receive_batch(n - got.len(), Duration::from_millis(200)).await.unwrap());
    }
    got
}

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

#[derive(Debug, Serialize, Deserialize)]
struct Job {
    n: u32,
}

// ---- HTTP ---------------------------------------------------------------------------------

async fn echo(req: HttpRequest, ctx: Context) -> Result<HttpResponse> {
    let body = format!("{} {} {}", req.method(), req.uri(), String::from_utf8_lossy(req.body()));
    let response = http::Response::builder()
        .header("x-function", ctx.function_name())
        .header("x-host", ctx.host())
        .header("x-request-id", ctx.request_id())
        .header("x-trigger", ctx.trigger().as_str())
        .body(Bytes::from(body))
        .map_err(|e| Error::invalid_input(e.to_string()))?;
    Ok(response)
}

async fn fail(req: HttpRequest) -> Result<HttpResponse> {
    let name = req.uri().path().trim_start_matches('/');
    let kind = ErrorKind::from_name(name).ok_or_else(|| Error::invalid_input(format!("no kind {name:?}")))?;
    let error = Error::new(kind, format!("failed with {name}"));
    Err(if kind == ErrorKind::Throttled { error.with_retry_after(Duration::from_millis(2500)) } else { error })
}

async fn consume_nothing(_batch: QueueBatch<Job>) -> Result<()> {
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_functions_see_requests_without_their_mount() {
    let host = start(builder().function(Function::http("echo", echo)).function(Function::queue(
        "listed",
        "host-http-listed",
        consume_nothing,
    )))
    .await;
    let client = http();

    let res = client.get(host.url("echo")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-function"], "echo");
    assert_eq!(res.headers()["x-host"], "local");
    assert_eq!(res.headers()["x-trigger"], "http");
    assert_eq!(res.headers()["x-request-id"].len(), 32);
    assert_eq!(res.text().await.unwrap(), "GET / ");

    let res = client.post(format!("{}/a/b?x=1&y=2", host.url("echo"))).body("hi").send().await.unwrap();
    assert_eq!(res.text().await.unwrap(), "POST /a/b?x=1&y=2 hi");

    let res = client.get(format!("http://{}/", host.http_addr())).send().await.unwrap();
    assert_eq!(res.headers()["content-type"], "application/json");
    let listing: serde_json::Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    assert_eq!(
        listing,
        serde_json::json!([
            {"name": "echo", "trigger": "http"},
            {"name": "listed", "trigger": "queue", "queue": "host-http-listed"},
        ])
    );

    let res = client.get(host.url("nope")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    let text = res.text().await.unwrap();
    assert!(text.contains("\"nope\"") && text.contains("http functions: echo"), "{text}");
    let res = client.get(host.url("listed")).send().await.unwrap();
    assert_eq!(res.status(), 404, "queue functions are not served over http");

    // Oversized bodies are refused from their Content-Length, before a byte of them is read.
    let mut conn = tokio::net::TcpStream::connect(host.http_addr()).await.unwrap();
    let head = format!(
        "POST /echo HTTP/1.1\r\nhost: local\r\ncontent-length: {}\r\n\r\n",
        cloudport_local::host::MAX_REQUEST_BODY + 1
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut status = [0u8; 12];
    conn.read_exact(&mut status).await.unwrap();
    assert_eq!(&status, b"HTTP/1.1 413");

    host.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_become_statuses_by_kind() {
    let host = start(builder().function(Function::http("fail", fail))).await;
    let client = http();
    let cases = [
        ("invalid_input", 400),
        ("unauthenticated", 401),
        ("permission_denied", 403),
        ("not_found", 404),
        ("already_exists", 409),
        ("conflict", 409),
        ("precondition_failed", 412),
        ("too_large", 413),
        ("throttled", 429),
        ("unsupported", 501),
        ("unavailable", 503),
        ("timeout", 504),
        ("other", 500),
    ];
    for (kind, status) in cases {
        let res = client.get(format!("{}/{kind}", host.url("fail"))).send().await.unwrap();
        assert_eq!(res.status(), status, "{kind}");
        if kind == "throttled" {
            assert_eq!(res.headers()["retry-after"], "3", "retry-after rounds up");
        }
        if kind == "unavailable" {
            assert_eq!(res.headers()["retry-after"], "1", "transient failures say when to retry");
        }
        let text = res.text().await.unwrap();
        assert!(text.contains(&format!("failed with {kind}")), "{kind}: {text}");
    }
    let stats = host.stats();
    assert_eq!(stats.function("fail").unwrap().failures, cases.len() as u64);
    host.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_fails_only_its_request() {
    async fn flaky(req: HttpRequest) -> Result<HttpResponse> {
        if req.uri().path() == "/panic" {
            panic!("flaky handler gave up");
        }
        Ok(HttpResponse::new("fine".into()))
    }
    let host = start(builder().function(Function::http("flaky", flaky))).await;
    let client = http();
    let res = client.get(format!("{}/panic", host.url("flaky"))).send().await.unwrap();
    assert_eq!(res.status(), 500);
    assert!(res.text().await.unwrap().contains("panicked"));
    let res = client.get(host.url("flaky")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "fine");
    let stats = host.stats();
    let flaky = stats.function("flaky").unwrap();
    assert_eq!((flaky.invocations, flaky.failures, flaky.panics), (2, 1, 1));
    host.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_over_the_concurrency_limit_are_shed() {
    let (open, gate) = tokio::sync::watch::channel(false);
    let slow = move |_req: HttpRequest| {
        let mut gate = gate.clone();
        async move {
            let _ = gate.wait_for(|open| *open).await;
            Ok::<_, Error>(HttpResponse::new("done".into()))
        }
    };
    let host = start(builder().function(Function::http("slow", slow).with_concurrency(2))).await;
    let client = http();
    let requests: Vec<_> = (0..20)
        .map(|_| {
            let (client, url) = (client.clone(), host.url("slow"));
            tokio::spawn(async move {
                let res = client.get(url).send().await.unwrap();
                (res.status().as_u16(), res.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned()))
            })
        })
        .collect();
    // The excess is refused at once, while the two admitted requests still wait at the gate.
    eventually("18 requests to be shed", || host.stats().function("slow").unwrap().shed == 18).await;
    open.send(true).unwrap();
    let mut ok = 0;
    for request in requests {
        let (status, retry_after) = tokio::time::timeout(WAIT, request).await.expect("no request hangs").unwrap();
        match status {
            200 => ok += 1,
            503 => assert_eq!(retry_after.as_deref(), Some("1")),
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(ok, 2);
    let stats = host.stats();
    let slow = stats.function("slow").unwrap();
    assert_eq!((slow.invocations, slow.shed), (2, 18));
    host.shutdown().await.unwrap();
}

// ---- Queues -------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_batches_are_handled_and_acked() {
    let queue = MemoryQueue::named("host-batch-jobs");
    for n in 1..=3 {
        queue.send(Message::new(serde_json::to_vec(&Job { n }).unwrap())).await.unwrap();
    }
    let (tx, mut rx) = unbounded_channel();
    let handler = move |batch: QueueBatch<Job>, ctx: Context| {
        let tx = tx.clone();
        async move {
            assert_eq!(ctx.trigger(), TriggerKind::Queue);
            tx.send(batch.iter().map(|m| (m.body.n, m.delivery_count)).collect::<Vec<_>>()).unwrap();
            Ok::<_, Error>(())
        }
    };
    let host = start(builder().function(Function::queue("batch", "host-batch-jobs", handler))).await;
    let mut seen = Vec::new();
    while seen.len() < 3 {
        seen.extend(next(&mut rx, "a batch").await);
    }
    seen.sort_unstable();
    assert_eq!(seen, [(1, 1), (2, 1), (3, 1)]);
    eventually("3 acks", || host.stats().function("batch").unwrap().acked == 3).await;
    assert!(queue.receive_batch(10, Duration::ZERO).await.unwrap().is_empty(), "acked messages are gone");
    host.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_failure_retries_only_that_message() {
    let queue = MemoryQueue::named("host-partial-jobs");
    for n in 1..=3 {
        queue.send(Message::new(serde_json::to_vec(&Job { n }).unwrap())).await.unwrap();
    }
    let (tx, mut rx) = unbounded_channel();
    let handler = move |batch: QueueBatch<Job>| {
        let tx = tx.clone();
        async move {
            let mut outcome = BatchOutcome::ack_all();
            for m in &batch {
                tx.send((m.body.n, m.delivery_count)).unwrap();
                if m.body.n == 2 && m.delivery_count == 1 {
                    outcome.retry(&m.id, None);
                }
            }
            Ok::<_, Error>(outcome)
        }
    };
    let host = start(builder().function(Function::queue("partial", "host-partial-jobs", handler))).await;
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(next(&mut rx, "a message").await);
    }
    seen.sort_unstable();
    assert_eq!(seen, [(1, 1), (2, 1), (2, 2), (3, 1)]);
    eventually("3 acks", || host.stats().function("partial").unwrap().acked == 3).await;
    let stats = host.stats();
    let partial = stats.function("partial").unwrap();
    assert_eq!((partial.retried, partial.dead_lettered), (1, 0));
    host.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_dead_lettered_when_exhausted_asked_or_undecodable() {
    #[derive(Deserialize)]
    struct Task {
        kind: String,
    }
    let queue = MemoryQueue::named("host-dead-jobs");
    queue.send(Message::new(r#"{"kind":"retry"}"#)).await.unwrap();
    queue.send(Message::new(r#"{"kind":"poison"}"#)).await.unwrap();
    queue.send(Message::new("not json")).await.unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let handler = move |batch: QueueBatch<Task>| {
        let counted = Arc::clone(&counted);
        async move {
            let mut outcome = BatchOutcome::ack_all();
            for m in &batch {
                counted.fetch_add(1, Ordering::SeqCst);
                match m.body.kind.as_str() {
                    "retry" => outcome.retry(&m.id, Some(Duration::ZERO)),
                    _ => outcome.dead_letter(&m.id, "poison pill"),
                };
            }
            Ok::<_, Error>(outcome)
        }
    };
    let function = Function::queue("dead", "host-dead-jobs", handler).with_max_deliveries(2);
    let host = start(builder().function(function)).await;

    let dead = host.resources().queue("host-dead-jobs-dead-letter").unwrap();
    let mut reasons: Vec<(String, String)> = drain(&*dead, 3)
        .await
        .into_iter()
        .map(|d| {
            let reason = d.attributes.get(DEAD_LETTER_REASON_ATTRIBUTE).cloned().unwrap_or_default();
            (String::from_utf8_lossy(&d.body).into_owned(), reason)
        })
        .collect();
    reasons.sort();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert_eq!(reasons[0].0, "not json");
    assert!(reasons[0].1.contains("does not decode"), "{reasons:?}");
    assert_eq!(reasons[1], (r#"{"kind":"poison"}"#.to_owned(), "poison pill".to_owned()));
    assert_eq!(reasons[2], (r#"{"kind":"retry"}"#.to_owned(), "failed 2 deliveries".to_owned()));
    assert_eq!(calls.load(Ordering::SeqCst), 3, "retry twice, poison once, undecodable never");
    // The worker counts a dead letter after sending it: the last count may trail the queue.
    let counts = || {
        let stats = host.stats();
        let dead_stats = stats.function("dead").unwrap();
        (dead_stats.retried, dead_stats.dead_lettered, dead_stats.acked)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while counts() != (1, 3, 0) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(counts(), (1, 3, 0));
    host.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_are_renewed_while_a_handler_runs() {
    let queue = MemoryQueue::named("host-lease-jobs");
    queue.send(Message::new(serde_json::to_vec(&Job { n: 1 }).unwrap())).await.unwrap();
    let (tx, mut rx) = unbounded_channel();
    let handler = move |batch: QueueBatch<Job>| {
        let tx = tx.clone();
        async move {
            tx.send(batch.messages()[0].delivery_count).unwrap();
            tokio::time::sleep(Duration::from_millis(2500)).await;
            Ok::<_, Error>(())
        }
    };
    let host =
        start(builder().lease(Duration::from_secs(1)).function(Function::queue("long", "host-lease-jobs", handler)))
            .await;
    assert_eq!(next(&mut rx, "the first delivery").await, 1);
    // Another consumer polls through the whole run, well past the 1 s lease: nothing to take.
    let stolen = queue.receive_batch(1, Duration::from_millis(2000)).await.unwrap();
    assert!(stolen.is_empty(), "the lease lapsed while the handler ran: {stolen:?}");
    eventually("the ack", || host.stats().function("long").unwrap().acked == 1).await;
    assert!(rx.try_recv().is_err(), "the message was delivered to the function again");
    assert_eq!(host.stats().function("long").unwrap().invocations, 1);
    host.shutdown().await.unwrap();
}

// ---- Blobs --------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_writes_under_the_prefix_fire_the_blob_function() {
    let (tx, mut rx) = unbounded_channel::<BlobEvent>();
    let handler = move |event: BlobEvent, ctx: Context| {
        let tx = tx.clone();
        async move {
            assert_eq!(ctx.trigger(), TriggerKind::Blob);
            tx.send(event).unwrap();
            Ok::<_, Error>(())
        }
    };
    let host = start(builder().function(Function::blob("on_upload", "uploads/", handler))).await;
    let store = host.resources().blob_store(DEFAULT_STORE).unwrap();

    let put = store.put(&key("uploads/a.txt"), "hello").await.unwrap();
    let event = next(&mut rx, "the created event").await;
    assert_eq!((event.kind, event.key.as_str(), event.size), (BlobEventKind::Created, "uploads/a.txt", Some(5)));
    assert_eq!((event.store.as_str(), event.etag), (DEFAULT_STORE, Some(put.etag)));

    store.put(&key("elsewhere/b.txt"), "not watched").await.unwrap();

    store.copy(&key("uploads/a.txt"), &key("uploads/copy.txt")).await.unwrap();
    let event = next(&mut rx, "the copy's event").await;
    assert_eq!((event.kind, event.key.as_str(), event.size), (BlobEventKind::Created, "uploads/copy.txt", Some(5)));

    let chunks = futures::stream::iter([Ok(Bytes::from("ab")), Ok(Bytes::from("cde"))]);
    let opts = PutOptions::default().with_content_type("text/plain");
    store.put_stream(&key("uploads/streamed.txt"), chunks, opts).await.unwrap();
    let event = next(&mut rx, "the streamed upload's event").await;
    assert_eq!((event.key.as_str(), event.size), ("uploads/streamed.txt", Some(5)));
    assert_eq!(event.content_type.as_deref(), Some("text/plain"));

    store.delete(&key("uploads/a.txt")).await.unwrap();
    let event = next(&mut rx, "the deleted event").await;
    assert_eq!((event.kind, event.key.as_str(), event.size), (BlobEventKind::Deleted, "uploads/a.txt", None));

    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(rx.try_recv().is_err(), "a write outside the prefix fired the function");
    assert_eq!(host.stats().function("on_upload").unwrap().invocations, 4);
    host.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_blob_functions_are_retried_then_given_up() {
    async fn broken(_event: BlobEvent) -> Result<()> {
        Err(Error::new(ErrorKind::Unavailable, "thumbnail service is down"))
    }
    let host = start(builder().function(Function::blob("broken", "", broken))).await;
    host.resources().blob_store(DEFAULT_STORE).unwrap().put(&key("x"), "x").await.unwrap();
    eventually("the event to be given up", || host.stats().function("broken").unwrap().dead_lettered == 1).await;
    let stats = host.stats();
    let broken = stats.function("broken").unwrap();
    assert_eq!((broken.invocations, broken.failures), (4, 4), "one attempt and three retries");
    host.shutdown().await.unwrap();
}

// ---- Schedules ----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_fire_with_their_tick() {
    let (tx, mut rx) = unbounded_channel::<(ScheduleTick, TriggerKind)>();
    let handler = move |tick: ScheduleTick, ctx: Context| {
        let tx = tx.clone();
        async move {
            tx.send((tick, ctx.trigger())).unwrap();
            Ok::<_, Error>(())
        }
    };
    let schedule = Schedule::parse("* * * * * *").unwrap();
    let started = SystemTime::now();
    let host = start(builder().function(Function::schedule("tick", schedule, handler))).await;
    let (tick, trigger) = tokio::time::timeout(Duration::from_millis(2500), rx.recv()).await.unwrap().unwrap();
    assert_eq!(trigger, TriggerKind::Schedule);
    assert_eq!(tick.schedule, "* * * * * *");
    assert!(!tick.past_due);
    assert!(tick.scheduled_at > started, "the first tick comes after the start");
    assert!(tick.fired_at >= tick.scheduled_at);
    let since_epoch = tick.scheduled_at.duration_since(SystemTime::UNIX_EPOCH).unwrap();
    assert_eq!(since_epoch.subsec_nanos(), 0, "ticks fall on whole seconds");
    let (second, _) = next(&mut rx, "the second tick").await;
    assert_eq!(second.scheduled_at, tick.scheduled_at + Duration::from_secs(1));
    host.shutdown().await.unwrap();
}

// ---- Invoke -------------------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
struct Add {
    a: i64,
    b: i64,
}

async fn add(args: Add) -> Result<i64> {
    Ok(args.a + args.b)
}

async fn sum_http(req: HttpRequest, ctx: Context) -> Result<HttpResponse> {
    let args: Add = serde_json::from_slice(req.body()).map_err(|e| Error::invalid_input(e.to_string()))?;
    let sum: i64 = ctx.invoke("add", &args).await?;
    Ok(HttpResponse::new(sum.to_string().into()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn functions_are_invoked_by_name() {
    let (tx, mut rx) = unbounded_channel::<String>();
    let record = move |note: String, ctx: Context| {
        let tx = tx.clone();
        async move {
            assert!(ctx.parent_trace().is_some(), "invocations carry the caller's trace");
            tx.send(note).unwrap();
            Ok::<_, Error>(())
        }
    };
    let host = start(
        builder()
            .function(Function::json("add", add))
            .function(Function::json("record", record))
            .function(Function::http("sum", sum_http)),
    )
    .await;

    let sum: i64 = host.invoke("add", &Add { a: 2, b: 40 }).await.unwrap();
    assert_eq!(sum, 42);

    host.invoke_async("record", "later").await.unwrap();
    assert_eq!(next(&mut rx, "the asynchronous invocation").await, "later");

    let res = http().post(host.url("sum")).body(r#"{"a":1,"b":2}"#).send().await.unwrap();
    assert_eq!(res.text().await.unwrap(), "3", "http functions invoke others through their context");

    let err = host.invoke::<_, i64>("missing", &1).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains("add, record"), "{err}");
    let err = host.invoke::<_, i64>("sum", &1).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("triggered by http"), "{err}");
    let err = host.invoke::<_, i64>("add", "not numbers").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    host.shutdown().await.unwrap();
}

// ---- Tracing ------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_follow_messages_from_http_to_queue_functions() {
    async fn produce(_req: HttpRequest, ctx: Context) -> Result<HttpResponse> {
        ctx.queue("host-trace-jobs")?.send(Message::new(serde_json::to_vec(&Job { n: 7 })?)).await?;
        Ok(HttpResponse::new(ctx.trace().trace_id().into()))
    }
    let (tx, mut rx) = unbounded_channel::<(Option<String>, Option<String>, String)>();
    let consume = move |batch: QueueBatch<Job>, ctx: Context| {
        let tx = tx.clone();
        async move {
            let attribute = batch.messages()[0].attributes.get(TRACEPARENT).cloned();
            let parent = ctx.parent_trace().map(TraceContext::trace_id);
            tx.send((attribute, parent, ctx.trace().trace_id())).unwrap();
            Ok::<_, Error>(())
        }
    };
    let host = start(builder().function(Function::http("produce", produce)).function(Function::queue(
        "consume",
        "host-trace-jobs",
        consume,
    )))
    .await;
    let caller = TraceContext::new_root();
    let res = http().post(host.url("produce")).header(TRACEPARENT, caller.to_traceparent()).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), caller.trace_id(), "the http function joins the caller's trace");

    let (attribute, parent, own) = next(&mut rx, "the consumer").await;
    let attribute = TraceContext::parse(&attribute.expect("the message carries traceparent")).unwrap();
    assert_eq!(attribute.trace_id(), caller.trace_id());
    assert_eq!(parent.as_deref(), Some(caller.trace_id().as_str()), "the consumer's parent is the producer");
    assert_eq!(own, caller.trace_id());
    host.shutdown().await.unwrap();
}

// ---- Shutdown -----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_running_requests_finish() {
    let (tx, mut rx) = unbounded_channel::<()>();
    let slow = move |_req: HttpRequest| {
        let tx = tx.clone();
        async move {
            tx.send(()).unwrap();
            tokio::time::sleep(Duration::from_millis(500)).await;
            Ok::<_, Error>(HttpResponse::new("finished".into()))
        }
    };
    let host = start(builder().function(Function::http("slow", slow))).await;
    let url = host.url("slow");
    let request = tokio::spawn(http().get(url.clone()).send());
    next(&mut rx, "the request to start").await;

    let report = host.shutdown().await.unwrap();
    let res = request.await.unwrap().unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "finished");
    assert_eq!((report.in_flight, report.finished, report.abandoned, report.grace_expired), (1, 1, 0, false));
    assert!(http().get(url).send().await.is_err(), "a stopped host accepts no requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_abandons_work_past_the_grace_and_gives_its_messages_back() {
    let queue = MemoryQueue::named("host-abandon-jobs");
    queue.send(Message::new(serde_json::to_vec(&Job { n: 1 }).unwrap())).await.unwrap();
    let (tx, mut rx) = unbounded_channel::<u32>();
    let stuck = move |batch: QueueBatch<Job>| {
        let tx = tx.clone();
        async move {
            tx.send(batch.messages()[0].delivery_count).unwrap();
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok::<_, Error>(())
        }
    };
    let host = start(builder().shutdown_grace(Duration::from_millis(300)).function(Function::queue(
        "stuck",
        "host-abandon-jobs",
        stuck,
    )))
    .await;
    assert_eq!(next(&mut rx, "the stuck handler to start").await, 1);
    let began = Instant::now();
    let report = host.shutdown().await.unwrap();
    assert!(began.elapsed() < Duration::from_secs(2), "shutdown took {:?}", began.elapsed());
    assert_eq!((report.in_flight, report.finished, report.abandoned, report.grace_expired), (1, 0, 1, true));
    assert!(report.to_string().contains("1 abandoned"), "{report}");

    // A new host on the same queue gets the message at once (not after the 30 s lease), unacked.
    let (tx, mut rx) = unbounded_channel::<u32>();
    let quick = move |batch: QueueBatch<Job>| {
        let tx = tx.clone();
        async move {
            tx.send(batch.messages()[0].delivery_count).unwrap();
            Ok::<_, Error>(())
        }
    };
    let second = start(builder().function(Function::queue("quick", "host-abandon-jobs", quick))).await;
    assert_eq!(next(&mut rx, "the redelivery").await, 2);
    second.shutdown().await.unwrap();
}

// ---- Configuration ------------------------------------------------------------------------

/// An opener that knows one queue, refuses one with a bad URL, and configures nothing else.
#[derive(Debug)]
struct PartialOpener;

impl ResourceOpener for PartialOpener {
    fn open_blob_store(&self, name: &str) -> Result<Arc<dyn BlobStore>> {
        Err(not_configured("blob store", name, &cloudport_core::function::blob_url_var(name)))
    }

    fn open_queue(&self, name: &str) -> Result<Arc<dyn Queue>> {
        match name {
            "host-config-broken" => Err(Error::config("CLOUDPORT_QUEUE_URL_HOST_CONFIG_BROKEN is not a URL")),
            "host-config-known" => Ok(Arc::new(MemoryQueue::named("host-config-elsewhere"))),
            _ => Err(not_configured("queue", name, &queue_url_var(name))),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fallback_covers_only_what_is_not_configured() {
    let host = start(builder().opener(Arc::new(PartialOpener))).await;
    let resources = host.resources();
    assert_eq!(resources.queue("host-config-known").unwrap().name(), "host-config-elsewhere");
    assert_eq!(resources.queue("host-config-unset").unwrap().name(), "host-config-unset");
    let err = resources.queue("host-config-broken").unwrap_err();
    assert!(err.to_string().contains("is not a URL"), "a misconfigured queue must not fall back: {err}");
    resources.blob_store(DEFAULT_STORE).unwrap().put(&key("k"), "v").await.unwrap();
    host.shutdown().await.unwrap();

    let broken = builder().opener(Arc::new(PartialOpener)).function(Function::queue(
        "reads_broken",
        "host-config-broken",
        consume_nothing,
    ));
    let err = broken.build().unwrap().start().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("reads_broken"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_address_is_a_config_error() {
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = LocalHost::builder().http_addr(taken.local_addr().unwrap()).build().unwrap().start().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("CLOUDPORT_HTTP_ADDR"), "{err}");
}
