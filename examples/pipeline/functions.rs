//! The app's functions. Nothing here names a provider or a platform: the same code runs on the
//! local host and, with a provider feature, on that provider's function platform.

use std::time::Duration;

use cloudport::function::{
    BatchOutcome, BlobEvent, BlobEventKind, Context, HttpRequest, HttpResponse, QueueBatch, ScheduleTick,
};
use cloudport::{BlobKey, BlobStoreExt, Error, ErrorKind, ListEntry, Message};
use futures::TryStreamExt;
use http::{Method, StatusCode};
use serde::{Deserialize, Serialize};

/// Where uploads land; the blob trigger below watches this prefix.
pub(crate) const UPLOADS: &str = "uploads/";
/// Where word counts are written.
pub(crate) const RESULTS: &str = "results/";
/// Largest upload accepted.
const MAX_UPLOAD: usize = 1 << 20;

/// A job on the `jobs` queue: count the words of one upload.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct CountJob {
    pub(crate) key: String,
}

/// What `count_words` writes for each upload.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct WordCount {
    pub(crate) source: String,
    pub(crate) words: u64,
    pub(crate) lines: u64,
    pub(crate) bytes: u64,
}

/// Totals over every result, as `summarize` returns them.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Totals {
    pub(crate) documents: u64,
    pub(crate) words: u64,
}

/// `PUT /upload/<name>` stores the body as `uploads/<name>`; `DELETE /upload/<name>` removes it.
#[cloudport::function(http, concurrency = 32, timeout = "30s")]
pub(crate) async fn upload(req: HttpRequest, ctx: Context) -> Result<HttpResponse, Error> {
    let name = req.uri().path().trim_start_matches('/');
    if name.is_empty() {
        return Ok(text(StatusCode::BAD_REQUEST, "name the upload: PUT /upload/<name>".into()));
    }
    // BlobKey rejects `..`, empty segments, control characters: a clear 400 instead of a bad key.
    let key = match BlobKey::new(format!("{UPLOADS}{name}")) {
        Ok(key) => key,
        Err(e) => return Ok(text(StatusCode::BAD_REQUEST, e.to_string())),
    };
    let store = ctx.blob()?;
    match *req.method() {
        Method::PUT if req.body().len() > MAX_UPLOAD => {
            Ok(text(StatusCode::PAYLOAD_TOO_LARGE, format!("uploads are limited to {MAX_UPLOAD} bytes")))
        }
        Method::PUT => {
            let put = store.put(&key, req.into_body()).await?;
            Ok(text(StatusCode::CREATED, format!("stored {key} (etag {})", put.etag)))
        }
        Method::DELETE => {
            store.delete(&key).await?;
            Ok(text(StatusCode::NO_CONTENT, String::new()))
        }
        _ => Ok(text(StatusCode::METHOD_NOT_ALLOWED, "use PUT or DELETE".into())),
    }
}

/// A new upload becomes a counting job.
#[cloudport::function(blob = "uploads/")]
pub(crate) async fn on_upload(event: BlobEvent, ctx: Context) -> Result<(), Error> {
    if event.kind != BlobEventKind::Created {
        return Ok(()); // deletions are handled by the sweep
    }
    let job = serde_json::to_vec(&CountJob { key: event.key.as_str().to_owned() })?;
    ctx.queue("jobs")?.send(Message::new(job)).await?;
    Ok(())
}

/// Counts words of each upload in the batch and writes `results/<name>.json`.
///
/// Per-message outcomes: a vanished upload is done (nothing to count), text that is not UTF-8 is
/// dead-lettered at once (retrying cannot fix it), and a store hiccup retries only that message.
#[cloudport::function(queue = "jobs", batch_size = 10, max_deliveries = 3)]
pub(crate) async fn count_words(batch: QueueBatch<CountJob>, ctx: Context) -> Result<BatchOutcome, Error> {
    let store = ctx.blob()?;
    let mut outcome = BatchOutcome::ack_all();
    for message in &batch {
        let source = BlobKey::new(&message.body.key)?;
        let text = match store.get_bytes(&source).await {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => {
                outcome.retry(&message.id, e.retry_after());
                continue;
            }
        };
        let Ok(text) = std::str::from_utf8(&text) else {
            outcome.dead_letter(&message.id, format!("{source} is not UTF-8 text"));
            continue;
        };
        let count = WordCount {
            source: source.as_str().to_owned(),
            words: text.split_whitespace().count() as u64,
            lines: text.lines().count() as u64,
            bytes: text.len() as u64,
        };
        let result = result_key(&source)?;
        if let Err(e) = store.put(&result, serde_json::to_vec(&count)?).await {
            outcome.retry(&message.id, e.retry_after().or(Some(Duration::from_secs(1))));
        }
    }
    Ok(outcome)
}

/// Removes results whose upload is gone, every five minutes (the demo fires it at once).
#[cloudport::function(schedule = "0 */5 * * * *")]
pub(crate) async fn sweep(_tick: ScheduleTick, ctx: Context) -> Result<(), Error> {
    let store = ctx.blob()?;
    let results: Vec<ListEntry> = store.list(RESULTS).try_collect().await?;
    for entry in results {
        let ListEntry::Object(result) = entry else { continue };
        let name = result.key.as_str().trim_start_matches(RESULTS).trim_end_matches(".json");
        let source = BlobKey::new(format!("{UPLOADS}{name}"))?;
        if !store.exists(&source).await? {
            store.delete(&result.key).await?;
            tracing::info!(result = %result.key, "swept a result whose upload is gone");
        }
    }
    Ok(())
}

/// `GET /stats`: totals over all results, computed by invoking `summarize`.
#[cloudport::function(http)]
pub(crate) async fn stats(_req: HttpRequest, ctx: Context) -> Result<HttpResponse, Error> {
    let totals: Totals = ctx.invoke("summarize", &()).await?;
    Ok(text(StatusCode::OK, serde_json::to_string(&totals)?))
}

/// Sums every result. Invoked by `stats`; any function can invoke it by name.
#[cloudport::function]
pub(crate) async fn summarize(_: (), ctx: Context) -> Result<Totals, Error> {
    let store = ctx.blob()?;
    let mut totals = Totals::default();
    let results: Vec<ListEntry> = store.list(RESULTS).try_collect().await?;
    for entry in results {
        let ListEntry::Object(result) = entry else { continue };
        let count: WordCount = serde_json::from_slice(&store.get_bytes(&result.key).await?)?;
        totals.documents += 1;
        totals.words += count.words;
    }
    Ok(totals)
}

/// `results/<name>.json` for `uploads/<name>`.
pub(crate) fn result_key(source: &BlobKey) -> Result<BlobKey, Error> {
    BlobKey::new(format!("{RESULTS}{}.json", source.as_str().trim_start_matches(UPLOADS)))
}

fn text(status: StatusCode, body: String) -> HttpResponse {
    let mut response = HttpResponse::new(body.into());
    *response.status_mut() = status;
    response
}
