//! Capturing the `cloudport` tracing spans an operation emits, for the tracing behaviours.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::Poll;

use cloudport_core::telemetry::TARGET;
use tracing::field::{Field, Visit};
use tracing::instrument::WithSubscriber;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Dispatch, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// One span with target `cloudport`, with every field recorded on it so far (as strings; debug
/// formatting for non-string values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedSpan {
    /// The span's name (`"blob"`, `"queue"`).
    pub name: &'static str,
    /// Field values by name.
    pub fields: BTreeMap<String, String>,
}

impl CapturedSpan {
    /// The value of field `name`, if recorded.
    #[must_use]
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

type Sink = Arc<Mutex<Vec<CapturedSpan>>>;

thread_local! {
    /// The capture whose future is being polled on this thread, if any.
    static ACTIVE: RefCell<Option<Sink>> = const { RefCell::new(None) };
}

/// Runs `fut` and records every `cloudport` span created while it is polled (spans created on
/// other tasks or threads are not seen); returns its output and the spans in creation order.
///
/// One process-wide subscriber does the recording, installed as the global default the first
/// time. Scoped per-test dispatchers (`with_subscriber`) looked simpler but lose spans when tests
/// on other threads register their own at the same moment: tracing caches per-callsite interest
/// across dispatchers, and concurrent registrations race (seen as a missing span once in about
/// three full S3 suite runs). When another global subscriber was set first, this falls back to a
/// scoped one.
pub async fn capture<F: Future>(fut: F) -> (F::Output, Vec<CapturedSpan>) {
    let sink: Sink = Arc::default();
    let output = if global_capture_installed() {
        Capturing { fut: Box::pin(fut), sink: sink.clone() }.await
    } else {
        let subscriber = tracing_subscriber::registry().with(CaptureLayer { fixed: Some(sink.clone()) });
        fut.with_subscriber(Dispatch::new(subscriber)).await
    };
    let spans = sink.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    (output, spans)
}

fn global_capture_installed() -> bool {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    *INSTALLED.get_or_init(|| {
        let subscriber = tracing_subscriber::registry().with(CaptureLayer { fixed: None });
        tracing::dispatcher::set_global_default(Dispatch::new(subscriber)).is_ok()
    })
}

/// Makes `sink` the active capture of the thread while `fut` is polled.
struct Capturing<F: Future> {
    fut: Pin<Box<F>>,
    sink: Sink,
}

impl<F: Future> Future for Capturing<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<F::Output> {
        let previous = ACTIVE.with(|a| a.replace(Some(self.sink.clone())));
        let out = self.fut.as_mut().poll(cx);
        ACTIVE.with(|a| *a.borrow_mut() = previous);
        out
    }
}

struct CaptureLayer {
    /// The sink of a scoped capture; `None` for the global one, which records into the thread's
    /// active capture.
    fixed: Option<Sink>,
}

/// Where a span's fields live: its capture and its index there.
struct Slot(Sink, usize);

struct FieldVisitor<'a>(&'a mut BTreeMap<String, String>);
impl Visit for FieldVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.to_string());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), value.to_string());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S> Layer<S> for CaptureLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        // Only cloudport's spans matter; whether one is recorded depends on the thread's active
        // capture, so ask every time.
        if metadata.target() == TARGET { Interest::sometimes() } else { Interest::never() }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        metadata.target() == TARGET && (self.fixed.is_some() || ACTIVE.with(|a| a.borrow().is_some()))
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().target() != TARGET {
            return;
        }
        let Some(sink) = self.fixed.clone().or_else(|| ACTIVE.with(|a| a.borrow().clone())) else { return };
        let mut fields = BTreeMap::new();
        attrs.record(&mut FieldVisitor(&mut fields));
        let index = {
            let mut spans = sink.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            spans.push(CapturedSpan { name: attrs.metadata().name(), fields });
            spans.len() - 1
        };
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Slot(sink, index));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let extensions = span.extensions();
        let Some(Slot(sink, index)) = extensions.get::<Slot>() else { return };
        let mut spans = sink.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(captured) = spans.get_mut(*index) {
            values.record(&mut FieldVisitor(&mut captured.fields));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn captures_cloudport_spans_and_later_records() {
        let ((), spans) = capture(async {
            let span = tracing::info_span!(target: TARGET, "blob", provider = "p", outcome = tracing::field::Empty);
            span.record("outcome", "not_found");
            let _other = tracing::info_span!(target: "elsewhere", "blob");
        })
        .await;
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].name, "blob");
        assert_eq!(spans[0].field("provider"), Some("p"));
        assert_eq!(spans[0].field("outcome"), Some("not_found"));
    }
}
