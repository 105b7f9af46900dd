//! Capturing the `cloudport` tracing spans an operation emits, for the tracing behaviours.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use cloudport_core::telemetry::TARGET;
use tracing::field::{Field, Visit};
use tracing::instrument::WithSubscriber;
use tracing::span::{Attributes, Id, Record};
use tracing::{Dispatch, Subscriber};
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

/// Runs `fut` with a subscriber that records every `cloudport` span created while it is polled
/// (spans created on other tasks or threads are not seen), and returns its output and the spans
/// in creation order.
pub async fn capture<F: Future>(fut: F) -> (F::Output, Vec<CapturedSpan>) {
    let spans = Arc::new(Mutex::new(Vec::new()));
    let subscriber = tracing_subscriber::registry().with(CaptureLayer { spans: spans.clone() });
    let output = fut.with_subscriber(Dispatch::new(subscriber)).await;
    let spans = spans.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    (output, spans)
}

struct CaptureLayer {
    spans: Arc<Mutex<Vec<CapturedSpan>>>,
}

/// Where a span's fields live in the capture.
struct Slot(usize);

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
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().target() != TARGET {
            return;
        }
        let mut fields = BTreeMap::new();
        attrs.record(&mut FieldVisitor(&mut fields));
        let mut spans = self.spans.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        spans.push(CapturedSpan { name: attrs.metadata().name(), fields });
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Slot(spans.len() - 1));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let extensions = span.extensions();
        let Some(Slot(index)) = extensions.get::<Slot>() else { return };
        let mut spans = self.spans.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
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
