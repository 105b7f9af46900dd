//! Queue functions: one worker per function polls its queue as fast as its concurrency allows,
//! runs each batch with its leases renewed, and applies the per-message outcome.

use std::sync::Arc;
use std::time::Duration;

use cloudport_core::function::{BatchOutcome, Input, MessageOutcome, Output, RawMessage, TRACEPARENT, TraceContext};
use cloudport_core::telemetry::TARGET;
use cloudport_core::{Delivery, Queue, QueueCapabilities, Receipt, ReceiveOptions, Result};
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;

use super::shared::{Hosted, Shared};
use super::stats::Counters;

/// Polls `queue` for `hosted` until the host stops.
pub(crate) async fn worker(shared: Arc<Shared>, hosted: Arc<Hosted>, queue: Arc<dyn Queue>) {
    let caps = queue.capabilities();
    let batch_size = hosted.batch_size.min(caps.max_receive).max(1);
    let mut errors = 0u32;
    loop {
        // Permits first: under load the worker waits here instead of fetching messages it
        // cannot start, which would only burn their leases.
        let first = tokio::select! {
            biased;
            () = shared.stop.cancelled() => break,
            permit = Arc::clone(&hosted.permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_closed) => break,
            },
        };
        let mut permits = vec![first];
        while permits.len() < batch_size {
            match Arc::clone(&hosted.permits).try_acquire_owned() {
                Ok(permit) => permits.push(permit),
                Err(_) => break,
            }
        }
        let opts = ReceiveOptions::default()
            .with_max_messages(permits.len())
            .with_wait(shared.config.queue_wait)
            .with_lease(shared.config.lease);
        let received = tokio::select! {
            biased;
            () = shared.stop.cancelled() => break,
            received = queue.receive(opts) => received,
        };
        match received {
            Ok(deliveries) => {
                errors = 0;
                if deliveries.is_empty() {
                    continue;
                }
                permits.truncate(deliveries.len());
                let (shared, hosted, queue) = (Arc::clone(&shared), Arc::clone(&hosted), Arc::clone(&queue));
                shared.tracker.clone().spawn(handle_batch(shared, hosted, queue, caps, deliveries, permits));
            }
            Err(e) => {
                drop(permits);
                errors = errors.saturating_add(1);
                let delay = shared.backoff(errors);
                tracing::warn!(target: TARGET, function = hosted.name(), queue = queue.name(), error = %e, retry_in = ?delay, "receive failed");
                tokio::select! {
                    biased;
                    () = shared.stop.cancelled() => break,
                    () = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
    tracing::debug!(target: TARGET, function = hosted.name(), queue = queue.name(), "queue worker stopped");
}

/// Runs one batch and settles every message of it.
async fn handle_batch(
    shared: Arc<Shared>,
    hosted: Arc<Hosted>,
    queue: Arc<dyn Queue>,
    caps: QueueCapabilities,
    deliveries: Vec<Delivery>,
    _permits: Vec<OwnedSemaphorePermit>,
) {
    let raw: Vec<RawMessage> = deliveries.iter().map(RawMessage::from).collect();
    let parent = deliveries.first().and_then(|d| d.attributes.get(TRACEPARENT)).and_then(|v| TraceContext::parse(v));
    let mut leases: Vec<Lease> = deliveries.iter().map(|d| Lease { receipt: d.receipt.clone(), lost: false }).collect();
    // The renewal stops between extensions, never inside one: an extension cut short after the
    // queue applied it would leave us holding a stale receipt.
    let handled = CancellationToken::new();
    let (result, ()) = tokio::join!(
        async {
            let result = shared.call(&hosted, Input::Queue(raw), parent).await;
            handled.cancel();
            result
        },
        renew(&*queue, &mut leases, shared.config.lease, &handled),
    );
    let outcome = match result {
        Some(Ok(Output::Batch(outcome))) => outcome,
        Some(Ok(_)) => {
            tracing::error!(target: TARGET, function = hosted.name(), "queue function returned no batch outcome; retrying the batch");
            BatchOutcome::retry_all(deliveries.iter().map(|d| &d.id), None)
        }
        // Function::call already logged the error.
        Some(Err(e)) => BatchOutcome::retry_all(deliveries.iter().map(|d| &d.id), e.retry_after()),
        None => {
            // Abandoned at shutdown: give the messages back at once for another consumer.
            for (delivery, lease) in deliveries.iter().zip(&leases) {
                if let Err(e) = queue.nack(&lease.receipt, Duration::ZERO).await {
                    tracing::warn!(target: TARGET, queue = queue.name(), message = %delivery.id, error = %e, "cannot give back an abandoned message; it returns when its lease expires");
                }
            }
            return;
        }
    };
    for (delivery, lease) in deliveries.iter().zip(&leases) {
        settle(&shared, &hosted, &*queue, &caps, delivery, &lease.receipt, outcome.outcome_of(&delivery.id)).await;
    }
}

/// The newest receipt of one message, and whether its lease was lost.
#[derive(Debug)]
struct Lease {
    receipt: Receipt,
    lost: bool,
}

/// Extends every lease each third of the lease period until `handled` is cancelled.
async fn renew(queue: &dyn Queue, leases: &mut [Lease], lease: Duration, handled: &CancellationToken) {
    let every = (lease / 3).max(Duration::from_millis(100));
    loop {
        tokio::select! {
            () = handled.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        for held in leases.iter_mut().filter(|l| !l.lost) {
            match queue.extend_lease(&held.receipt, lease).await {
                Ok(receipt) => held.receipt = receipt,
                Err(e) => {
                    held.lost = true;
                    tracing::warn!(target: TARGET, queue = queue.name(), error = %e, "lease renewal failed; the message may be delivered again");
                }
            }
        }
    }
}

/// Applies one message's outcome.
async fn settle(
    shared: &Shared,
    hosted: &Hosted,
    queue: &dyn Queue,
    caps: &QueueCapabilities,
    delivery: &Delivery,
    receipt: &Receipt,
    outcome: &MessageOutcome,
) {
    let count = delivery.delivery_count;
    let result: Result<&std::sync::atomic::AtomicU64> = match outcome {
        MessageOutcome::Retry { .. } if count >= hosted.max_deliveries => {
            dead_letter(shared, queue, caps, receipt, count, &format!("failed {count} deliveries"))
                .await
                .map(|()| &hosted.stats.dead_lettered)
        }
        MessageOutcome::Retry { delay } => {
            let delay = delay.unwrap_or_else(|| shared.backoff(count)).min(caps.max_nack_delay);
            queue.nack(receipt, delay).await.map(|()| &hosted.stats.retried)
        }
        MessageOutcome::DeadLetter { reason } => {
            dead_letter(shared, queue, caps, receipt, count, reason).await.map(|()| &hosted.stats.dead_lettered)
        }
        MessageOutcome::Ack => queue.ack(receipt).await.map(|()| &hosted.stats.acked),
        // An outcome this host does not know yet: keep the message.
        _ => queue.nack(receipt, shared.backoff(count).min(caps.max_nack_delay)).await.map(|()| &hosted.stats.retried),
    };
    match result {
        Ok(counter) => Counters::bump(counter),
        Err(e) => {
            tracing::warn!(target: TARGET, function = hosted.name(), queue = queue.name(), message = %delivery.id, error = %e, "cannot settle message; it will be delivered again");
        }
    }
}

/// Dead-letters one message; on a queue without a dead-letter queue, logs why it cannot and
/// gives the message back after the backoff instead.
async fn dead_letter(
    shared: &Shared,
    queue: &dyn Queue,
    caps: &QueueCapabilities,
    receipt: &Receipt,
    count: u32,
    reason: &str,
) -> Result<()> {
    match queue.dead_letter(receipt, reason).await {
        Err(e) if e.kind() == cloudport_core::ErrorKind::Config => {
            tracing::error!(target: TARGET, queue = queue.name(), error = %e, %reason, "cannot dead-letter: the queue has no dead-letter queue; retrying the message instead");
            queue.nack(receipt, shared.backoff(count).min(caps.max_nack_delay)).await?;
            Err(e)
        }
        other => other,
    }
}
