//! [`LocalInvoker`]: functions calling functions inside the local host's process.

use std::fmt;
use std::sync::{Arc, Weak};

use async_trait::async_trait;
use bytes::Bytes;
use cloudport_core::function::{Input, Invoker, Output, TraceContext, TriggerKind};
use cloudport_core::telemetry::TARGET;
use cloudport_core::{Error, ErrorKind, Result};

use super::shared::{Hosted, Shared, shutting_down};

/// The local host's [`Invoker`]: runs the named function in this process, through its
/// concurrency limit, in the caller's trace. Handlers reach it through
/// [`Context::invoke`](cloudport_core::function::Context::invoke); tests through
/// [`RunningHost::invoke`](super::RunningHost::invoke).
///
/// Only functions taking JSON ([`Trigger::Invoke`](cloudport_core::function::Trigger::Invoke))
/// can be invoked; the others are reached through their own trigger (an HTTP request, a queue
/// message, a blob write).
///
/// The host keeps one invoker for all its contexts; it refers to the host weakly, so a context
/// kept past the host's end fails with `Unavailable` instead of keeping the host alive.
#[derive(Clone)]
pub struct LocalInvoker {
    shared: Weak<Shared>,
}

impl LocalInvoker {
    pub(crate) fn new(shared: Weak<Shared>) -> Self {
        Self { shared }
    }

    fn shared(&self, function: &str) -> Result<Arc<Shared>> {
        self.shared.upgrade().ok_or_else(|| shutting_down(function))
    }

    fn lookup(shared: &Shared, function: &str) -> Result<Arc<Hosted>> {
        let hosted = shared.function(function).ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!(
                    "no function named {function:?} on the local host (invocable functions: {})",
                    shared.known(Some(TriggerKind::Invoke))
                ),
            )
        })?;
        let kind = hosted.kind();
        if kind != TriggerKind::Invoke {
            return Err(Error::invalid_input(format!(
                "function {function:?} is triggered by {kind}, not invoked with JSON (send it what its trigger expects, or invoke one of: {})",
                shared.known(Some(TriggerKind::Invoke))
            )));
        }
        Ok(Arc::clone(hosted))
    }
}

/// Runs one JSON invocation of `hosted`, waiting for a permit first.
async fn run(shared: &Arc<Shared>, hosted: &Hosted, payload: Bytes, trace: TraceContext) -> Result<Bytes> {
    let _permit = shared.wait_permit(hosted).await?;
    match shared.call(hosted, Input::Json(payload), Some(trace)).await {
        Some(Ok(Output::Json(json))) => Ok(json),
        Some(Ok(_)) => Err(Error::new(
            ErrorKind::Other,
            format!("function {:?} returned something other than JSON to an invocation", hosted.name()),
        )),
        Some(Err(e)) => Err(e),
        None => Err(shutting_down(hosted.name())),
    }
}

#[async_trait]
impl Invoker for LocalInvoker {
    async fn invoke(&self, function: &str, payload: Bytes, trace: TraceContext) -> Result<Bytes> {
        let shared = self.shared(function)?;
        let hosted = Self::lookup(&shared, function)?;
        run(&shared, &hosted, payload, trace).await
    }

    async fn invoke_async(&self, function: &str, payload: Bytes, trace: TraceContext) -> Result<()> {
        let shared = self.shared(function)?;
        let hosted = Self::lookup(&shared, function)?;
        if shared.stop.is_cancelled() {
            return Err(shutting_down(function));
        }
        let tracker = shared.tracker.clone();
        tracker.spawn(async move {
            if let Err(e) = run(&shared, &hosted, payload, trace).await {
                tracing::error!(target: TARGET, function = hosted.name(), error = %e, "asynchronous invocation failed");
            }
        });
        Ok(())
    }
}

impl fmt::Debug for LocalInvoker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let functions = self.shared.upgrade().map(|s| s.known(None));
        f.debug_struct("LocalInvoker").field("functions", &functions).finish()
    }
}
