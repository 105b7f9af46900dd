//! Tracing for every blob and queue operation, the same on every provider.
//!
//! Each operation runs in a span named `blob` or `queue` (target `cloudport`) with the fields
//! `provider`, `operation`, `key` (blobs) or `queue`, `bytes` (body bytes moved) and `outcome`
//! (`"ok"` or an [`ErrorKind`](crate::ErrorKind) name). Providers wrap each trait method in one of
//! the helpers below, which also fill in the error's operation, provider and target. Only names
//! and sizes are recorded: never bodies, attributes, credentials or signed URLs.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;
use futures::stream::BoxStream;
use tracing::field::Empty;
use tracing::{Instrument, Span};

use crate::blob::{BlobWriter, GetResult, ListEntry, PutResult};
use crate::error::Result;
use crate::key::BlobKey;

/// The tracing target of every cloudport span.
pub const TARGET: &str = "cloudport";

fn blob_span(provider: &'static str, op: &'static str, key: Option<&str>) -> Span {
    tracing::info_span!(target: TARGET, "blob", provider, operation = op, key, bytes = Empty, outcome = Empty)
}

fn queue_span(provider: &'static str, op: &'static str, queue: &str) -> Span {
    tracing::info_span!(target: TARGET, "queue", provider, operation = op, queue, bytes = Empty, outcome = Empty)
}

fn record<T>(span: &Span, out: Result<T>, op: &'static str, provider: &'static str, target: Option<&str>) -> Result<T> {
    match out {
        Ok(v) => {
            span.record("outcome", "ok");
            Ok(v)
        }
        Err(e) => {
            span.record("outcome", e.kind().as_str());
            let e = e.with_context(op, provider, target);
            tracing::debug!(target: TARGET, parent: span, error = %e, "operation failed");
            Err(e)
        }
    }
}

/// Runs a blob operation in its span; `bytes` is the body size when known up front.
///
/// # Errors
/// The operation's error, with operation, provider and key filled in.
pub async fn blob_op<T>(
    provider: &'static str,
    op: &'static str,
    key: Option<&BlobKey>,
    bytes: Option<u64>,
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    let target = key.map(BlobKey::as_str);
    let span = blob_span(provider, op, target);
    if let Some(b) = bytes {
        span.record("bytes", b);
    }
    let out = fut.instrument(span.clone()).await;
    record(&span, out, op, provider, target)
}

/// Runs a read in its span; the span stays open while the body streams and records the bytes
/// actually delivered when the body ends or is dropped.
///
/// # Errors
/// The operation's error, with context filled in.
pub async fn blob_get(
    provider: &'static str,
    key: &BlobKey,
    fut: impl Future<Output = Result<GetResult>>,
) -> Result<GetResult> {
    let span = blob_span(provider, "get", Some(key.as_str()));
    let out = fut.instrument(span.clone()).await;
    let mut result = record(&span, out, "get", provider, Some(key.as_str()))?;
    let body = std::mem::replace(&mut result.body, Box::pin(futures::stream::empty()));
    result.body = Box::pin(CountedBody { inner: body, span, bytes: 0, provider, key: key.clone(), finished: false });
    Ok(result)
}

struct CountedBody {
    inner: BoxStream<'static, Result<Bytes>>,
    span: Span,
    bytes: u64,
    provider: &'static str,
    key: BlobKey,
    finished: bool,
}

impl Stream for CountedBody {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let _enter = this.span.enter();
        match this.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.bytes += chunk.len() as u64;
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.finished = true;
                this.span.record("bytes", this.bytes);
                this.span.record("outcome", e.kind().as_str());
                Poll::Ready(Some(Err(e.with_context("get", this.provider, Some(this.key.as_str())))))
            }
            Poll::Ready(None) => {
                this.finished = true;
                this.span.record("bytes", this.bytes);
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for CountedBody {
    fn drop(&mut self) {
        if !self.finished {
            self.span.record("bytes", self.bytes);
        }
    }
}

/// Starts a streaming upload in its span and wraps the writer so that writes, finish and abort
/// run in it; `bytes` is recorded when the upload finishes or is abandoned.
///
/// # Errors
/// The operation's error, with context filled in.
pub async fn blob_writer(
    provider: &'static str,
    key: &BlobKey,
    fut: impl Future<Output = Result<Box<dyn BlobWriter>>>,
) -> Result<Box<dyn BlobWriter>> {
    let span = blob_span(provider, "put_writer", Some(key.as_str()));
    let out = fut.instrument(span.clone()).await;
    let inner = match out {
        Ok(w) => w,
        Err(e) => return record(&span, Err(e), "put_writer", provider, Some(key.as_str())),
    };
    Ok(Box::new(TracedWriter { inner, span, bytes: 0, provider, key: key.clone() }))
}

struct TracedWriter {
    inner: Box<dyn BlobWriter>,
    span: Span,
    bytes: u64,
    provider: &'static str,
    key: BlobKey,
}

impl fmt::Debug for TracedWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracedWriter").field("inner", &self.inner).field("bytes", &self.bytes).finish()
    }
}

#[async_trait]
impl BlobWriter for TracedWriter {
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        let len = chunk.len() as u64;
        let out = self.inner.write(chunk).instrument(self.span.clone()).await;
        if out.is_ok() {
            self.bytes += len;
        }
        out.map_err(|e| e.with_context("put_writer", self.provider, Some(self.key.as_str())))
    }

    async fn finish(self: Box<Self>) -> Result<PutResult> {
        let Self { inner, span, bytes, provider, key } = *self;
        span.record("bytes", bytes);
        let out = inner.finish().instrument(span.clone()).await;
        record(&span, out, "put_writer", provider, Some(key.as_str()))
    }

    async fn abort(self: Box<Self>) -> Result<()> {
        let Self { inner, span, bytes, provider, key } = *self;
        span.record("bytes", bytes);
        let out = inner.abort().instrument(span.clone()).await;
        span.record("outcome", "aborted");
        out.map_err(|e| e.with_context("abort", provider, Some(key.as_str())))
    }
}

/// Wraps a listing so that its pages are fetched inside one `list` span.
pub fn blob_list(
    provider: &'static str,
    prefix: Option<&str>,
    stream: BoxStream<'static, Result<ListEntry>>,
) -> BoxStream<'static, Result<ListEntry>> {
    let span = blob_span(provider, "list", prefix);
    let target = prefix.map(str::to_owned);
    Box::pin(TracedList { inner: stream, span, provider, target, done: false })
}

struct TracedList {
    inner: BoxStream<'static, Result<ListEntry>>,
    span: Span,
    provider: &'static str,
    target: Option<String>,
    done: bool,
}

impl Stream for TracedList {
    type Item = Result<ListEntry>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        let _enter = this.span.enter();
        match this.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Err(e))) => {
                this.span.record("outcome", e.kind().as_str());
                Poll::Ready(Some(Err(e.with_context("list", this.provider, this.target.as_deref()))))
            }
            Poll::Ready(None) => {
                this.done = true;
                this.span.record("outcome", "ok");
                Poll::Ready(None)
            }
            other => other,
        }
    }
}

/// Runs a queue operation in its span; `bytes` computes the bytes moved from the result.
///
/// # Errors
/// The operation's error, with operation, provider and queue filled in.
pub async fn queue_op<T>(
    provider: &'static str,
    op: &'static str,
    queue: &str,
    fut: impl Future<Output = Result<T>>,
    bytes: impl FnOnce(&T) -> u64,
) -> Result<T> {
    let span = queue_span(provider, op, queue);
    let out = fut.instrument(span.clone()).await;
    if let Ok(v) = &out {
        span.record("bytes", bytes(v));
    }
    record(&span, out, op, provider, Some(queue))
}
