//! Run: `cargo run --example pipeline`
//!
//! A small word-count app built from portable functions (see `functions.rs`), using all four
//! trigger kinds and both traits:
//!
//! 1. `upload` (HTTP) stores a text file in blob storage;
//! 2. `on_upload` (blob event under `uploads/`) enqueues a counting job;
//! 3. `count_words` (queue `jobs`) counts the words and writes `results/<name>.json`,
//!    dead-lettering files that are not text;
//! 4. `sweep` (schedule) deletes results whose upload is gone;
//! 5. `stats` (HTTP) invokes `summarize` (invoke-only) for the totals.
//!
//! With no cloud in the environment, this program starts the local host on a free port, drives a
//! few requests itself, prints what happened, and exits 0 (or 1 if the app misbehaved). Under a
//! cloud host (e.g. AWS Lambda with the `aws` feature), the same binary serves the function the
//! platform selects via `cloudport::run()`. Stores and queues come from `CLOUDPORT_BLOB_URL` and
//! `CLOUDPORT_QUEUE_URL_JOBS` when set; locally they default to in-memory ones.
//! `CLOUDPORT_DEPLOY=sam cargo run --features aws --example pipeline > template.json` prints the
//! SAM template that deploys the same functions to AWS Lambda.
//! Set RUST_LOG=cloudport=info to see one span per invocation and per storage operation.

mod functions;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloudport::function::{EnvOpener, HostKind, registry};
use cloudport::local::host::{LocalHost, RunningHost};
use cloudport::{BlobKey, BlobStoreExt, QueueExt};
use functions::{Totals, WordCount, result_key};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    match HostKind::detect()? {
        HostKind::Local if cloudport::deploy::requested().is_none() => demo().await,
        _ => Ok(cloudport::run().await?),
    }
}

async fn demo() -> Result<(), BoxError> {
    let host = LocalHost::builder()
        .functions(registry::registered()?)
        .opener(Arc::new(EnvOpener))
        .http_addr(SocketAddr::from(([127, 0, 0, 1], 0)))
        .shutdown_grace(Duration::from_secs(5))
        .build()?
        .start()
        .await?;
    println!("local host on http://{}", host.http_addr());
    let result = drive(&host).await;
    let report = host.shutdown().await?;
    println!("shutdown: {report}");
    result
}

async fn drive(host: &RunningHost) -> Result<(), BoxError> {
    let http = reqwest::Client::new();
    let store = host.resources().blob_store(cloudport::function::DEFAULT_STORE)?;

    let files: [(&str, &[u8]); 3] = [
        ("moby-dick.txt", b"Call me Ishmael.\nSome years ago, never mind how long precisely,\n"),
        ("haiku.txt", b"an old silent pond\na frog jumps into the pond\nsplash! silence again\n"),
        ("photo.jpg", b"\xff\xd8\xff\xe0 not text at all \xff\xd9"),
    ];
    for (name, body) in files {
        let res = http.put(format!("{}/{name}", host.url("upload"))).body(body.to_vec()).send().await?;
        println!("PUT /upload/{name} -> {} {}", res.status(), res.text().await?);
    }
    let res = http.put(format!("{}/drafts//empty-segment.txt", host.url("upload"))).body("x").send().await?;
    println!("PUT /upload/drafts//empty-segment.txt -> {} {}", res.status(), res.text().await?);

    // The blob events enqueue jobs; the queue function writes results. Wait for both text files.
    for name in ["moby-dick.txt", "haiku.txt"] {
        let key = result_key(&BlobKey::new(format!("{}{name}", functions::UPLOADS))?)?;
        wait_until(&format!("{key} to be written"), async || store.exists(&key).await.unwrap_or(false)).await?;
        let count: WordCount = serde_json::from_slice(&store.get_bytes(&key).await?)?;
        println!("{} -> {} words, {} lines, {} bytes", count.source, count.words, count.lines, count.bytes);
    }

    // The JPEG is not text: its job is dead-lettered at once, with the reason attached.
    let dead = host.resources().queue("jobs-dead-letter")?;
    let dead_letter = wait_for_message(&dead).await?;
    println!(
        "dead-lettered: {} ({})",
        String::from_utf8_lossy(&dead_letter.body),
        dead_letter.attributes.get(cloudport::queue::DEAD_LETTER_REASON_ATTRIBUTE).map_or("", String::as_str)
    );
    dead.ack(&dead_letter.receipt).await?;

    // One function invoking another: /stats calls `summarize`.
    let totals: Totals = serde_json::from_str(&http.get(host.url("stats")).send().await?.text().await?)?;
    println!("GET /stats -> {} documents, {} words", totals.documents, totals.words);
    check(totals.documents == 2 && totals.words == 24, "stats should count 2 documents and 24 words")?;

    // Delete an upload; the scheduled sweep removes its orphaned result.
    let res = http.delete(format!("{}/haiku.txt", host.url("upload"))).send().await?;
    println!("DELETE /upload/haiku.txt -> {}", res.status());
    let orphan = result_key(&BlobKey::new(format!("{}haiku.txt", functions::UPLOADS))?)?;
    host.fire("sweep").await?; // the schedule fires every five minutes; the demo won't wait
    check(!store.exists(&orphan).await?, "the sweep should remove the orphaned result")?;
    println!("sweep removed {orphan}");

    println!("{}", host.stats());
    Ok(())
}

async fn wait_for_message(queue: &Arc<dyn cloudport::Queue>) -> Result<cloudport::Delivery, BoxError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(message) = queue.receive_batch(1, Duration::from_millis(500)).await?.pop() {
            return Ok(message);
        }
    }
    Err(format!("no message arrived on {} within 10 s", queue.name()).into())
}

async fn wait_until(what: &str, mut done: impl AsyncFnMut() -> bool) -> Result<(), BoxError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if done().await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("timed out waiting for {what}").into())
}

fn check(ok: bool, what: &str) -> Result<(), BoxError> {
    if ok { Ok(()) } else { Err(what.into()) }
}
