//! `#[cloudport::function]` end to end: annotated functions land in the registry and run on the
//! local host through every trigger kind, with the facade's env opener behind the host.
#![cfg(feature = "local")]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloudport::function::{
    BatchOutcome, BlobEvent, Context, EnvOpener, HttpRequest, HttpResponse, QueueBatch, ScheduleTick, Trigger, registry,
};
use cloudport::local::host::{LocalHost, RunningHost};
use cloudport::{BlobKey, BlobStoreExt, Error, Message};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Greeting {
    name: String,
}

#[cloudport::function(http, concurrency = 4)]
async fn greet(req: HttpRequest, ctx: Context) -> Result<HttpResponse, Error> {
    let greeting: Greeting =
        ctx.invoke("shout", &Greeting { name: String::from_utf8_lossy(req.body()).into() }).await?;
    Ok(HttpResponse::new(format!("hello {}", greeting.name).into()))
}

#[cloudport::function(name = "shout")]
async fn shout_it(input: Greeting) -> Result<Greeting, Error> {
    Ok(Greeting { name: input.name.to_uppercase() })
}

#[cloudport::function(blob = "inbox/")]
async fn on_inbox(event: BlobEvent, ctx: Context) -> Result<(), Error> {
    let note = format!("{}:{}", event.kind.as_str(), event.key);
    ctx.queue("notes")?.send(Message::new(serde_json::to_vec(&note)?)).await?;
    Ok(())
}

#[cloudport::function(queue = "notes", batch_size = 5, max_deliveries = 2, timeout = "5s")]
async fn record_notes(batch: QueueBatch<String>, ctx: Context) -> Result<BatchOutcome, Error> {
    let store = ctx.blob()?;
    for note in &batch {
        let key = BlobKey::new(format!("log/{}", note.id.as_str()))?;
        store.put(&key, note.body.clone()).await?;
    }
    Ok(BatchOutcome::ack_all())
}

#[cloudport::function(schedule = "* * * * * *")]
async fn heartbeat(tick: ScheduleTick, ctx: Context) -> Result<(), Error> {
    let key = BlobKey::new("heartbeat")?;
    ctx.blob()?.put(&key, tick.schedule).await?;
    Ok(())
}

/// A whole axum `Router` as one http function: its routes are relative to the function's mount.
#[cloudport::function(http, service)]
fn api() -> axum::Router {
    use axum::routing::get;
    axum::Router::new().route("/health", get(|| async { "ok" })).route(
        "/orders/{id}",
        get(|axum::extract::Path(id): axum::extract::Path<u32>| async move { format!("order {id}") }),
    )
}

#[test]
fn the_attribute_registers_every_function_once() {
    let functions = registry::registered().unwrap();
    let names: Vec<&str> = functions.iter().map(|f| f.name()).collect();
    assert_eq!(names, ["api", "greet", "heartbeat", "on_inbox", "record_notes", "shout"]);
    let notes = functions.iter().find(|f| f.name() == "record_notes").unwrap();
    assert_eq!(notes.trigger(), &Trigger::Queue { queue: "notes".into() });
    assert_eq!(notes.settings().batch_size, Some(5));
    assert_eq!(notes.settings().max_deliveries, Some(2));
    assert_eq!(notes.settings().timeout, Some(Duration::from_secs(5)));
    assert_eq!(greet::function().settings().concurrency, Some(4));
}

async fn start() -> RunningHost {
    LocalHost::builder()
        .functions(registry::registered().unwrap())
        .opener(Arc::new(EnvOpener))
        .http_addr(SocketAddr::from(([127, 0, 0, 1], 0)))
        .shutdown_grace(Duration::from_secs(2))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap()
}

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn annotated_functions_run_on_the_local_host() {
    let host = start().await;
    let store = host.resources().blob_store(cloudport::function::DEFAULT_STORE).unwrap();

    // http -> invoke: `greet` calls `shout` by its registered name.
    let res = reqwest::Client::new().post(host.url("greet")).body("ferris").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "hello FERRIS");

    // an axum Router served as one function, routed below its mount.
    let res = reqwest::get(format!("{}/orders/42", host.url("api"))).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "order 42");
    let res = reqwest::get(format!("{}/health", host.url("api"))).await.unwrap();
    assert_eq!(res.text().await.unwrap(), "ok");
    assert_eq!(reqwest::get(format!("{}/nope", host.url("api"))).await.unwrap().status(), 404);

    // blob -> queue -> blob: a write under inbox/ becomes a note recorded by the queue function.
    store.put(&BlobKey::new("inbox/a.txt").unwrap(), "a").await.unwrap();
    store.put(&BlobKey::new("elsewhere/b.txt").unwrap(), "b").await.unwrap();
    eventually("the note to be recorded", async || {
        let entries: Vec<_> = futures::TryStreamExt::try_collect(store.list("log/")).await.unwrap_or_default();
        entries.len() == 1
    })
    .await;
    let entries: Vec<cloudport::ListEntry> = futures::TryStreamExt::try_collect(store.list("log/")).await.unwrap();
    let cloudport::ListEntry::Object(note) = &entries[0] else { panic!("expected an object") };
    assert_eq!(store.get_bytes(&note.key).await.unwrap(), "created:inbox/a.txt", "only the inbox write fires");

    // schedule: the every-second heartbeat writes its expression.
    let heartbeat = BlobKey::new("heartbeat").unwrap();
    eventually("the heartbeat", async || store.exists(&heartbeat).await.unwrap_or(false)).await;
    assert_eq!(store.get_bytes(&heartbeat).await.unwrap(), "* * * * * *");

    // fire: a schedule function runs now, on demand; anything else is refused.
    store.delete(&heartbeat).await.unwrap();
    host.fire("heartbeat").await.unwrap();
    assert!(store.exists(&heartbeat).await.unwrap(), "fire waits for the run");
    assert_eq!(host.fire("greet").await.unwrap_err().kind(), cloudport::ErrorKind::InvalidInput);
    assert_eq!(host.fire("nope").await.unwrap_err().kind(), cloudport::ErrorKind::NotFound);

    host.shutdown().await.unwrap();
}

/// Every invocation's span carries the same fields on every host, because `Function::call` makes
/// it; a batch's span names its producers' traces.
#[tokio::test]
async fn invocations_run_in_a_function_span() {
    use cloudport::MessageId;
    use cloudport::function::{Input, Invocation, RawMessage, TRACEPARENT, TraceContext, TriggerKind};

    let producer = TraceContext::new_root();
    let message = RawMessage::new(MessageId::new("m1"), "\"hello\"")
        .with_attributes([(TRACEPARENT.to_owned(), producer.to_traceparent())].into());
    let ctx = Context::new("record_notes", TriggerKind::Queue)
        .with_request_id("req-1")
        .with_parent_trace(producer)
        .with_resources(cloudport::function::Resources::empty());
    let (result, spans) = cloudport_conformance::trace::capture(
        record_notes::function().call(Invocation::new(Input::Queue(vec![message]), ctx)),
    )
    .await;
    // No store is configured in this context: the handler fails, and the batch is retried.
    let output = result.unwrap();
    assert!(matches!(output, cloudport::function::Output::Batch(ref b) if !b.is_all_ack()), "{output:?}");
    let span = spans.iter().find(|s| s.name == "function").expect("a function span");
    assert_eq!(span.field("function"), Some("record_notes"));
    assert_eq!(span.field("trigger"), Some("queue"));
    assert_eq!(span.field("request_id"), Some("req-1"));
    assert_eq!(span.field("trace_id"), Some(producer.trace_id().as_str()));
    assert_eq!(span.field("parent_span_id"), Some(producer.span_id().as_str()));
    assert_eq!(span.field("links"), Some(producer.to_traceparent().as_str()));
    assert_eq!(span.field("outcome"), Some("partial"));
}
