//! Blob functions: events of the default store, fanned out to the functions whose prefix
//! matches, each retried a few times before it is given up.

use std::sync::Arc;

use cloudport_core::function::{BlobEvent, DEFAULT_STORE, Input, Trigger};
use cloudport_core::telemetry::TARGET;
use tokio::sync::mpsc::UnboundedReceiver;

use super::shared::{Hosted, Shared};
use super::stats::Counters;

/// Retries of a failed blob invocation before the event is given up.
pub(crate) const BLOB_RETRIES: u32 = 3;

/// Hands each event to the matching functions until the host stops.
pub(crate) async fn dispatcher(shared: Arc<Shared>, mut events: UnboundedReceiver<BlobEvent>) {
    let functions: Vec<(Arc<Hosted>, String)> = shared
        .functions
        .values()
        .filter_map(|f| match f.function.trigger() {
            Trigger::Blob { prefix } => Some((Arc::clone(f), prefix.to_string())),
            _ => None,
        })
        .collect();
    loop {
        let event = tokio::select! {
            biased;
            () = shared.stop.cancelled() => break,
            event = events.recv() => match event {
                Some(event) => event,
                None => break,
            },
        };
        if event.store != DEFAULT_STORE {
            continue;
        }
        for (hosted, prefix) in &functions {
            if event.key.as_str().starts_with(prefix.as_str()) {
                let (shared, hosted, event) = (Arc::clone(&shared), Arc::clone(hosted), event.clone());
                shared.tracker.clone().spawn(deliver(shared, hosted, event));
            }
        }
    }
}

/// Runs `hosted` for `event`, retrying failures with the host's backoff.
async fn deliver(shared: Arc<Shared>, hosted: Arc<Hosted>, event: BlobEvent) {
    let mut attempt = 1;
    loop {
        let result = match shared.wait_permit(&hosted).await {
            Ok(_permit) => match shared.call(&hosted, Input::Blob(event.clone()), None).await {
                Some(result) => result.map(drop),
                None => return,
            },
            Err(e) => Err(e),
        };
        let Err(error) = result else { return };
        if attempt > BLOB_RETRIES {
            Counters::bump(&hosted.stats.dead_lettered);
            tracing::error!(target: TARGET, function = hosted.name(), key = %event.key, kind = event.kind.as_str(), %error, attempts = attempt, "blob event dropped: the function kept failing");
            return;
        }
        let delay = shared.backoff(attempt);
        tracing::warn!(target: TARGET, function = hosted.name(), key = %event.key, %error, retry_in = ?delay, "blob function failed; retrying");
        tokio::select! {
            biased;
            () = shared.stop.cancelled() => {
                Counters::bump(&hosted.stats.dead_lettered);
                tracing::error!(target: TARGET, function = hosted.name(), key = %event.key, kind = event.kind.as_str(), "blob event dropped: the host shut down before its retry");
                return;
            }
            () = tokio::time::sleep(delay) => {}
        }
        attempt += 1;
    }
}
