//! Scheduled functions: one timer per function, one run at a time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use cloudport_core::function::{Input, Schedule, ScheduleTick};
use cloudport_core::telemetry::TARGET;

use super::shared::{Hosted, Shared};

/// How late a run may start and still not be past due.
const PAST_DUE_AFTER: Duration = Duration::from_secs(1);

/// Fires `hosted` on `schedule` until the host stops.
pub(crate) async fn timer(shared: Arc<Shared>, hosted: Arc<Hosted>, schedule: Schedule) {
    let running = Arc::new(AtomicBool::new(false));
    let mut last: Option<SystemTime> = None;
    loop {
        // Never before the last fire time: a timer that wakes a hair early must not fire twice.
        let now = SystemTime::now();
        let after = last.map_or(now, |last| last.max(now));
        let Some(next) = schedule.next_after(after) else {
            tracing::info!(target: TARGET, function = hosted.name(), schedule = schedule.expression(), "schedule fires no more");
            return;
        };
        last = Some(next);
        let wait = next.duration_since(SystemTime::now()).unwrap_or_default();
        tokio::select! {
            biased;
            () = shared.stop.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        let fired_at = SystemTime::now();
        let past_due = fired_at.duration_since(next).is_ok_and(|late| late > PAST_DUE_AFTER);
        if running.swap(true, Ordering::AcqRel) {
            tracing::warn!(target: TARGET, function = hosted.name(), schedule = schedule.expression(), "skipping a tick: the previous run is still going");
            continue;
        }
        let tick = ScheduleTick::new(schedule.expression(), next, fired_at, past_due);
        let (shared, hosted, running) = (Arc::clone(&shared), Arc::clone(&hosted), Arc::clone(&running));
        shared.tracker.clone().spawn(async move {
            let _reset = Reset(&running);
            match shared.wait_permit(&hosted).await {
                Ok(_permit) => {
                    // Function::call logs failures; nothing to retry for a tick.
                    let _ = shared.call(&hosted, Input::Schedule(tick), None).await;
                }
                Err(e) => tracing::warn!(target: TARGET, function = hosted.name(), error = %e, "skipping a tick"),
            }
        });
    }
}

/// Clears the running flag when a run ends, however it ends.
struct Reset<'a>(&'a AtomicBool);

impl Drop for Reset<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}
