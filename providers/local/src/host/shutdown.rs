//! Graceful shutdown: counting in-flight work, the report, and waiting for Ctrl-C or SIGTERM.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use cloudport_core::telemetry::TARGET;

/// How many invocations are running, and what became of those running when shutdown began.
#[derive(Debug, Default)]
pub(crate) struct Lifecycle {
    stopping: AtomicBool,
    in_flight: AtomicUsize,
    finished: AtomicUsize,
    abandoned: AtomicUsize,
}

impl Lifecycle {
    /// Counts one invocation as running until the guard is finished or dropped.
    pub(crate) fn enter(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight { life: self, done: false }
    }

    /// Marks the start of shutdown; returns how many invocations were running.
    pub(crate) fn begin_shutdown(&self) -> usize {
        self.stopping.store(true, Ordering::Release);
        self.in_flight.load(Ordering::Acquire)
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    pub(crate) fn report(&self, in_flight_at_start: usize, grace: Duration, grace_expired: bool) -> ShutdownReport {
        ShutdownReport {
            in_flight: in_flight_at_start,
            finished: self.finished.load(Ordering::Acquire),
            abandoned: self.abandoned.load(Ordering::Acquire),
            grace,
            grace_expired,
        }
    }
}

/// One running invocation. Dropping it without [`finish`](Self::finish) while the host shuts
/// down counts it as abandoned.
#[derive(Debug)]
pub(crate) struct InFlight<'a> {
    life: &'a Lifecycle,
    done: bool,
}

impl InFlight<'_> {
    pub(crate) fn finish(mut self) {
        self.done = true;
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.life.in_flight.fetch_sub(1, Ordering::AcqRel);
        if self.life.stopping.load(Ordering::Acquire) {
            let counter = if self.done { &self.life.finished } else { &self.life.abandoned };
            counter.fetch_add(1, Ordering::AcqRel);
        }
    }
}

/// What a graceful shutdown did: how much work was running, how much of it finished within the
/// grace period, and how much was abandoned when it ran out.
///
/// Abandoned queue batches are not acked: their messages are given back for immediate
/// redelivery (or come back when their lease expires).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Invocations running when shutdown began.
    pub in_flight: usize,
    /// Invocations that finished after shutdown began (including any that started meanwhile,
    /// such as a request already read from an open connection).
    pub finished: usize,
    /// Invocations cut off when the grace period ran out.
    pub abandoned: usize,
    /// The grace period.
    pub grace: Duration,
    /// Whether the grace period ran out before all work finished.
    pub grace_expired: bool,
}

impl fmt::Display for ShutdownReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} in-flight invocations at shutdown, {} finished", self.in_flight, self.finished)?;
        if self.grace_expired {
            write!(f, ", {} abandoned after the {:?} grace period", self.abandoned, self.grace)?;
        }
        Ok(())
    }
}

/// Waits for Ctrl-C, or on Unix for SIGTERM too (what Docker, Kubernetes and systemd send).
///
/// If no signal handler can be installed the error is logged and this waits forever, so a
/// host is never stopped by a failure to listen for stop signals.
pub async fn wait_for_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(target: TARGET, error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    () = ctrl_c => tracing::info!(target: TARGET, "Ctrl-C received; shutting down"),
                    _ = term.recv() => tracing::info!(target: TARGET, "SIGTERM received; shutting down"),
                }
            }
            Err(e) => {
                tracing::warn!(target: TARGET, error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the host");
                ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        ctrl_c.await;
        tracing::info!(target: TARGET, "Ctrl-C received; shutting down");
    }
}
