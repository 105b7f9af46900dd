//! The state every part of a running host shares: functions with their limits and counters, the
//! resources, the shutdown tokens, and the one way an invocation is run.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use cloudport_core::function::{
    Context, Function, Input, Invocation, Invoker, Output, Resources, TraceContext, Trigger, TriggerKind, is_panic,
};
use cloudport_core::telemetry::TARGET;
use cloudport_core::{Error, ErrorKind, Result};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::config::HostConfig;
use super::shutdown::Lifecycle;
use super::stats::{Counters, HostStats};

/// The host's name in every [`Context`] it builds.
pub(crate) const HOST_NAME: &str = "local";

/// One function as the host runs it.
#[derive(Debug)]
pub(crate) struct Hosted {
    pub(crate) function: Function,
    /// The function's name, shared by every context instead of copied into each.
    pub(crate) name: Arc<str>,
    /// One permit per running invocation (per message for queue batches).
    pub(crate) permits: Arc<Semaphore>,
    pub(crate) stats: Counters,
    pub(crate) timeout: Duration,
    pub(crate) max_deliveries: u32,
    pub(crate) batch_size: usize,
}

impl Hosted {
    pub(crate) fn new(function: Function, config: &HostConfig) -> Self {
        let settings = function.settings();
        Self {
            name: Arc::from(function.name()),
            permits: Arc::new(Semaphore::new(settings.concurrency.unwrap_or(config.default_concurrency))),
            stats: Counters::default(),
            timeout: settings.timeout.unwrap_or(config.default_timeout),
            max_deliveries: settings.max_deliveries.unwrap_or(config.default_max_deliveries),
            batch_size: settings.batch_size.unwrap_or(config.batch_size),
            function,
        }
    }

    pub(crate) fn name(&self) -> &str {
        self.function.name()
    }

    pub(crate) fn kind(&self) -> TriggerKind {
        self.function.trigger().kind()
    }
}

/// Everything a running host shares between its server, workers and invoker.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: HostConfig,
    pub(crate) functions: BTreeMap<String, Arc<Hosted>>,
    pub(crate) resources: Resources,
    /// Cancelled when shutdown begins: stop taking new work.
    pub(crate) stop: CancellationToken,
    /// Cancelled when the grace period runs out: drop whatever still runs.
    pub(crate) abort: CancellationToken,
    pub(crate) tracker: TaskTracker,
    pub(crate) life: Lifecycle,
    /// The one invoker every context shares.
    pub(crate) invoker: Arc<dyn Invoker>,
}

impl Shared {
    pub(crate) fn function(&self, name: &str) -> Option<&Arc<Hosted>> {
        self.functions.get(name)
    }

    /// The names of the functions, for error messages.
    pub(crate) fn known(&self, kind: Option<TriggerKind>) -> String {
        let names: Vec<&str> =
            self.functions.values().filter(|f| kind.is_none_or(|k| f.kind() == k)).map(|f| f.name()).collect();
        if names.is_empty() { "none".to_owned() } else { names.join(", ") }
    }

    /// A fresh context for one invocation of `hosted`.
    pub(crate) fn context(self: &Arc<Self>, hosted: &Hosted, parent: Option<TraceContext>) -> Context {
        // The request id is the context's own: 32 random hex digits (its trace id).
        let ctx = Context::new(Arc::clone(&hosted.name), hosted.kind())
            .with_host(HOST_NAME)
            .with_timeout(hosted.timeout)
            .with_resources(self.resources.clone())
            .with_invoker(Arc::clone(&self.invoker));
        match parent {
            Some(parent) => ctx.with_parent_trace(parent),
            None => ctx,
        }
    }

    /// Runs one invocation of `hosted` (the caller holds its permits), counting it; `None` when
    /// the host's grace period ran out first and the invocation was dropped.
    pub(crate) async fn call(
        self: &Arc<Self>,
        hosted: &Hosted,
        input: Input,
        parent: Option<TraceContext>,
    ) -> Option<Result<Output>> {
        let ctx = self.context(hosted, parent);
        Counters::bump(&hosted.stats.invocations);
        let guard = self.life.enter();
        let result = tokio::select! {
            biased;
            result = hosted.function.call(Invocation::new(input, ctx)) => result,
            () = self.abort.cancelled() => {
                tracing::warn!(target: TARGET, function = hosted.name(), "abandoned: the shutdown grace period ran out");
                return None;
            }
        };
        guard.finish();
        if let Err(e) = &result {
            Counters::bump(&hosted.stats.failures);
            if is_panic(e) {
                Counters::bump(&hosted.stats.panics);
            }
        }
        Some(result)
    }

    /// Waits for one of `hosted`'s permits, up to its timeout.
    ///
    /// # Errors
    /// `Throttled` when none frees up in time; `Unavailable` when the host is aborting work.
    pub(crate) async fn wait_permit(&self, hosted: &Hosted) -> Result<OwnedSemaphorePermit> {
        let acquire = tokio::time::timeout(hosted.timeout, Arc::clone(&hosted.permits).acquire_owned());
        tokio::select! {
            biased;
            () = self.abort.cancelled() => Err(shutting_down(hosted.name())),
            acquired = acquire => match acquired {
                Ok(Ok(permit)) => Ok(permit),
                Ok(Err(_closed)) => Err(shutting_down(hosted.name())),
                Err(_elapsed) => Err(Error::new(
                    ErrorKind::Throttled,
                    format!(
                        "function {:?} stayed at its concurrency limit for {:?} (raise its concurrency or call it less)",
                        hosted.name(),
                        hosted.timeout
                    ),
                )
                .with_retry_after(Duration::from_secs(1))),
            },
        }
    }

    /// The delay before redelivering a message delivered `delivery_count` times:
    /// `base * 2^(delivery_count - 1)`, at most `max`.
    pub(crate) fn backoff(&self, delivery_count: u32) -> Duration {
        backoff(self.config.retry_base, self.config.retry_max, delivery_count)
    }

    pub(crate) fn stats(&self) -> HostStats {
        HostStats::new(self.functions.values().map(|f| f.stats.snapshot(f.name(), f.kind().as_str())).collect())
    }
}

pub(crate) fn backoff(base: Duration, max: Duration, attempt: u32) -> Duration {
    let factor = 1u32.checked_shl(attempt.saturating_sub(1)).unwrap_or(u32::MAX);
    base.saturating_mul(factor).min(max)
}

pub(crate) fn shutting_down(function: &str) -> Error {
    Error::new(
        ErrorKind::Unavailable,
        format!("the local host is shutting down and no longer runs function {function:?}"),
    )
}

/// A short description of a trigger for listings and messages.
pub(crate) fn describe(trigger: &Trigger) -> (&'static str, Option<(&'static str, String)>) {
    let detail = match trigger {
        Trigger::Queue { queue } => Some(("queue", queue.to_string())),
        Trigger::Blob { prefix } => Some(("prefix", prefix.to_string())),
        Trigger::Schedule(schedule) => Some(("schedule", schedule.expression().to_owned())),
        _ => None,
    };
    (trigger.kind().as_str(), detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let (base, max) = (Duration::from_secs(1), Duration::from_secs(60));
        let delays: Vec<u64> = (1..=8).map(|n| backoff(base, max, n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(backoff(base, max, 0), base);
        assert_eq!(backoff(base, max, u32::MAX), max);
    }
}
