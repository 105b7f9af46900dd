//! The local function host: every function of a binary in one process, triggered by local
//! HTTP, queues, blob writes and timers, the way the cloud hosts trigger them.
//!
//! ```
//! use cloudport_core::function::Function;
//! use cloudport_local::host::LocalHost;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Add { a: i64, b: i64 }
//!
//! async fn add(args: Add) -> Result<i64, cloudport_core::Error> {
//!     Ok(args.a + args.b)
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let host = LocalHost::builder()
//!     .function(Function::json("add", add))
//!     .http_addr("127.0.0.1:0".parse()?)
//!     .build()?
//!     .start()
//!     .await?;
//! let sum: i64 = host.invoke("add", &Add { a: 2, b: 40 }).await?;
//! assert_eq!(sum, 42);
//! assert_eq!(host.stats().function("add").unwrap().invocations, 1);
//! let report = host.shutdown().await?;
//! assert_eq!(report.abandoned, 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Triggers
//!
//! - **HTTP**: one server (`CLOUDPORT_HTTP_ADDR`, default `127.0.0.1:3000`) mounts each http
//!   function at `/<name>` and `/<name>/...`; the handler sees the path without the mount
//!   (`/` for the bare mount), the query, the headers and the whole body (at most
//!   [`MAX_REQUEST_BODY`], else 413). An incoming `traceparent` header becomes the invocation's
//!   parent trace. Errors become statuses by kind: `InvalidInput` 400, `Unauthenticated` 401,
//!   `PermissionDenied` 403, `NotFound` 404, `PreconditionFailed` 412, `TooLarge` 413,
//!   `Throttled` 429 (with `Retry-After`), `Timeout` 504, anything else (panics included) 500;
//!   the body is the error's message. `GET /` lists the functions as JSON.
//! - **Queue**: one worker per function polls its queue, never fetching more messages than the
//!   function has free concurrency for, renews the leases of a running batch every third of
//!   the lease, and then applies the [`BatchOutcome`](cloudport_core::function::BatchOutcome):
//!   ack; nack after the retry delay or the host's backoff (`base * 2^(deliveries - 1)`, capped);
//!   dead-letter when asked, or once a message has had `max_deliveries` deliveries. A failed or
//!   timed-out invocation retries its whole batch.
//! - **Blob**: writes and deletes *through this host's stores* (the handlers' `ctx.blob()` and
//!   [`RunningHost::resources`]) of the default store raise events for the functions whose
//!   prefix matches the key. A failed invocation is retried 3 times with the backoff, then
//!   logged at error level and counted as dead-lettered. Writes by other processes, or through
//!   handles the host did not give out, are not observed.
//! - **Schedule**: a timer per function fires on its cron schedule (UTC), one run at a time; a
//!   tick that finds the previous run still going is skipped and logged. A run starting more
//!   than a second late is `past_due`.
//! - **Invoke**: [`LocalInvoker`] runs functions by name in process, in the caller's trace, for
//!   `ctx.invoke` and [`RunningHost::invoke`].
//!
//! Every invocation goes through its function's concurrency limit (`concurrency`, else the
//! host's default of 64): HTTP requests over it get 503 with `Retry-After: 1` at once, other
//! triggers wait for a free slot. A panicking handler fails only its invocation.
//!
//! # Resources
//!
//! Stores and queues come from the builder's registrations, then from its opener (the facade
//! passes one reading `CLOUDPORT_BLOB_URL*` and `CLOUDPORT_QUEUE_URL_*`), and otherwise from
//! process memory ([`FallbackOpener`]): a local run needs no setup at all.
//!
//! # Shutdown
//!
//! [`RunningHost::shutdown`] (and Ctrl-C or SIGTERM under [`LocalHost::run`]) stops accepting
//! requests, polling queues, firing timers and dispatching blob events, then waits up to the
//! grace period (`CLOUDPORT_SHUTDOWN_GRACE`, default 30 s) for running invocations. What is
//! still running then is abandoned: its HTTP requests get 503 and its queue messages are given
//! back unacked for prompt redelivery.

mod blob;
mod config;
mod http;
mod invoke;
mod observed;
mod opener;
mod queue;
mod schedule;
mod shared;
mod shutdown;
mod stats;

use std::collections::BTreeMap;
use std::fmt;
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use cloudport_core::function::{
    Function, Input, InvokerExt, ResourceOpener, Resources, ScheduleTick, TraceContext, Trigger, TriggerKind,
};
use cloudport_core::queue::check_lease;
use cloudport_core::telemetry::TARGET;
use cloudport_core::{BlobStore, Error, ErrorKind, Queue, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use self::config::{DEFAULT_HTTP_ADDR, HTTP_ADDR_ENV, LocalHostBuilder, SHUTDOWN_GRACE_ENV};
pub use self::http::MAX_REQUEST_BODY;
pub use self::invoke::LocalInvoker;
pub use self::observed::ObservedStore;
pub use self::opener::{DEAD_LETTER_SUFFIX, FallbackOpener};
pub use self::shutdown::{ShutdownReport, wait_for_signal};
pub use self::stats::{FunctionStats, HostStats};

use self::config::HostConfig;
use self::opener::HostOpener;
use self::shared::{Hosted, Shared};

/// How long, after the grace period ran out, the host waits for abandoned work to give its
/// messages back.
const ABORT_WAIT: Duration = Duration::from_secs(5);

/// A configured local host, ready to [`start`](Self::start) or [`run`](Self::run); from
/// [`LocalHost::builder`].
pub struct LocalHost {
    functions: Vec<Function>,
    opener: Option<Arc<dyn ResourceOpener>>,
    stores: Vec<(String, Arc<dyn BlobStore>)>,
    queues: Vec<(String, Arc<dyn Queue>)>,
    config: HostConfig,
}

impl LocalHost {
    /// A builder with no functions and the default settings.
    pub fn builder() -> LocalHostBuilder {
        LocalHostBuilder::new()
    }

    /// The functions, sorted by name.
    #[must_use]
    pub fn functions(&self) -> &[Function] {
        &self.functions
    }

    /// Starts the host and serves until Ctrl-C or SIGTERM ([`wait_for_signal`]), then shuts
    /// down gracefully and logs the [`ShutdownReport`].
    ///
    /// # Errors
    /// As [`start`](Self::start) and [`RunningHost::shutdown`].
    pub async fn run(self) -> Result<()> {
        let host = self.start().await?;
        wait_for_signal().await;
        let report = host.shutdown().await?;
        tracing::info!(target: TARGET, %report, "local host stopped");
        Ok(())
    }

    /// Opens the functions' queues, binds the HTTP address and starts every trigger.
    ///
    /// # Errors
    /// `Config` when the address cannot be bound (in use, or not local), a queue function's
    /// queue cannot be opened, or the lease is outside a queue's range; the opener's errors.
    pub async fn start(self) -> Result<RunningHost> {
        let Self { functions, opener, stores, queues, config } = self;
        let has_blob_functions = functions.iter().any(|f| matches!(f.trigger(), Trigger::Blob { .. }));
        let (events, event_rx) = if has_blob_functions {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };

        let mut fallback = FallbackOpener::new(opener).with_max_deliveries(config.default_max_deliveries);
        let mut consumers: BTreeMap<&str, u32> = BTreeMap::new();
        for f in &functions {
            if let Trigger::Queue { queue } = f.trigger() {
                let deliveries = f.settings().max_deliveries.unwrap_or(config.default_max_deliveries);
                let entry = consumers.entry(queue).or_insert(deliveries);
                *entry = (*entry).max(deliveries);
            }
        }
        for (queue, deliveries) in consumers {
            fallback = fallback.with_queue_max_deliveries(queue, deliveries);
        }
        let mut resources = Resources::new(Arc::new(HostOpener { fallback, events: events.clone() }));
        for (name, store) in stores {
            let observed = ObservedStore::with_events(name.clone(), store, events.clone());
            resources = resources.with_blob_store(name, Arc::new(observed));
        }
        for (name, queue) in queues {
            resources = resources.with_queue(name, queue);
        }

        let mut workers = Vec::new();
        for f in &functions {
            if let Trigger::Queue { queue: name } = f.trigger() {
                let queue = resources.queue(name).map_err(|e| {
                    Error::config(format!("cannot open queue {name:?} of function {:?}: {e}", f.name())).with_source(e)
                })?;
                check_lease(config.lease, &queue.capabilities()).map_err(|e| {
                    Error::config(format!(
                        "the host's lease does not suit queue {name:?}: {} (set another with LocalHostBuilder::lease)",
                        e.message()
                    ))
                })?;
                workers.push((f.name().to_owned(), queue));
            }
        }

        let listener = tokio::net::TcpListener::bind(config.http_addr).await.map_err(|e| {
            Error::config(format!(
                "cannot listen on {}: {e} (set {HTTP_ADDR_ENV} to a free address, or use port 0 for any free port)",
                config.http_addr
            ))
            .with_source(e)
        })?;
        let http_addr = listener.local_addr().map_err(|e| Error::config(format!("listener has no address: {e}")))?;

        let hosted: BTreeMap<String, Arc<Hosted>> =
            functions.into_iter().map(|f| (f.name().to_owned(), Arc::new(Hosted::new(f, &config)))).collect();
        let shared = Arc::new_cyclic(|weak| Shared {
            config,
            functions: hosted,
            resources,
            stop: CancellationToken::new(),
            abort: CancellationToken::new(),
            tracker: TaskTracker::new(),
            life: shutdown::Lifecycle::default(),
            invoker: Arc::new(LocalInvoker::new(weak.clone())),
        });

        let stop = shared.stop.clone();
        let server = axum::serve(listener, http::router(Arc::clone(&shared)))
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .into_future();
        let server = tokio::spawn(server);

        for (name, queue) in workers {
            let hosted = Arc::clone(&shared.functions[&name]);
            shared.tracker.spawn(queue::worker(Arc::clone(&shared), hosted, queue));
        }
        for hosted in shared.functions.values() {
            match hosted.function.trigger() {
                Trigger::Schedule(schedule) => {
                    shared.tracker.spawn(schedule::timer(Arc::clone(&shared), Arc::clone(hosted), schedule.clone()));
                }
                Trigger::Http => {
                    tracing::info!(target: TARGET, function = hosted.name(), url = %format!("http://{http_addr}/{}", hosted.name()), "http function");
                }
                _ => {}
            }
        }
        if let Some(rx) = event_rx {
            shared.tracker.spawn(blob::dispatcher(Arc::clone(&shared), rx));
        }
        tracing::info!(target: TARGET, %http_addr, functions = %shared.known(None), "local host started");
        Ok(RunningHost { shared, http_addr, server: Some(server), shut_down: false })
    }
}

impl fmt::Debug for LocalHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.functions.iter().map(Function::name).collect();
        f.debug_struct("LocalHost")
            .field("functions", &names)
            .field("opener", &self.opener)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A started local host. Dropping it without [`shutdown`](Self::shutdown) stops everything at
/// once, abandoning running work.
pub struct RunningHost {
    shared: Arc<Shared>,
    http_addr: SocketAddr,
    server: Option<JoinHandle<std::io::Result<()>>>,
    shut_down: bool,
}

impl RunningHost {
    /// The address the HTTP server listens on (the actual port when port 0 was asked for).
    #[must_use]
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The URL of the function `function`: `http://<addr>/<function>`.
    #[must_use]
    pub fn url(&self, function: &str) -> String {
        format!("http://{}/{function}", self.http_addr)
    }

    /// The host's stores and queues, as handlers get them: writes to the default store through
    /// these fire blob functions.
    #[must_use]
    pub fn resources(&self) -> Resources {
        self.shared.resources.clone()
    }

    /// The host's invoker, as handlers get it.
    #[must_use]
    pub fn invoker(&self) -> LocalInvoker {
        LocalInvoker::new(Arc::downgrade(&self.shared))
    }

    /// Runs the invoke-triggered function `function` with `input` and returns its output.
    ///
    /// # Errors
    /// `NotFound` for an unknown function, `InvalidInput` for one that is not invoke-triggered
    /// or an output that does not decode into `O`, and the function's own error.
    pub async fn invoke<I, O>(&self, function: &str, input: &I) -> Result<O>
    where
        I: Serialize + ?Sized,
        O: DeserializeOwned,
    {
        self.invoker().invoke_json(function, input, TraceContext::new_root()).await
    }

    /// Starts the invoke-triggered function `function` with `input` without waiting for it.
    ///
    /// # Errors
    /// As [`invoke`](Self::invoke) before the function runs; `Unavailable` once shutdown began.
    pub async fn invoke_async<I>(&self, function: &str, input: &I) -> Result<()>
    where
        I: Serialize + ?Sized,
    {
        self.invoker().invoke_json_async(function, input, TraceContext::new_root()).await
    }

    /// Runs the schedule-triggered function `function` now, as if its schedule fired, and waits
    /// for it: for tests and demos that cannot wait for the next fire time.
    ///
    /// # Errors
    /// `NotFound` for an unknown function, `InvalidInput` for one without a schedule,
    /// `Unavailable` once shutdown began, and the function's own error.
    pub async fn fire(&self, function: &str) -> Result<()> {
        let hosted = self.shared.function(function).ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!(
                    "no function named {function:?} (scheduled functions: {})",
                    self.shared.known(Some(TriggerKind::Schedule))
                ),
            )
        })?;
        let Trigger::Schedule(schedule) = hosted.function.trigger() else {
            return Err(Error::invalid_input(format!(
                "function {function:?} is triggered by {}, not a schedule",
                hosted.kind()
            )));
        };
        let now = std::time::SystemTime::now();
        let tick = ScheduleTick::new(schedule.expression(), now, now, false);
        let _permit = self.shared.wait_permit(hosted).await?;
        match self.shared.call(hosted, Input::Schedule(tick), None).await {
            Some(result) => result.map(drop),
            None => Err(shared::shutting_down(function)),
        }
    }

    /// What each function has done so far.
    #[must_use]
    pub fn stats(&self) -> HostStats {
        self.shared.stats()
    }

    /// Shuts down gracefully: stops taking work, waits up to the grace period for running
    /// invocations, then abandons the rest (their queue messages are given back unacked).
    ///
    /// # Errors
    /// None today; the `Result` leaves room for hosts whose shutdown can fail.
    pub async fn shutdown(mut self) -> Result<ShutdownReport> {
        self.shut_down = true;
        let shared = Arc::clone(&self.shared);
        let grace = shared.config.shutdown_grace;
        let in_flight = shared.life.begin_shutdown();
        tracing::info!(target: TARGET, in_flight, ?grace, "local host shutting down");
        shared.stop.cancel();
        shared.tracker.close();
        let mut server = self.server.take();
        let drained = async {
            shared.tracker.wait().await;
            if let Some(server) = server.as_mut()
                && let Err(e) = server.await.unwrap_or_else(|e| Err(std::io::Error::other(e)))
            {
                tracing::warn!(target: TARGET, error = %e, "http server stopped with an error");
            }
        };
        let grace_expired = tokio::time::timeout(grace, drained).await.is_err();
        if grace_expired {
            tracing::warn!(target: TARGET, still_running = shared.life.in_flight(), ?grace, "shutdown grace period ran out; abandoning running work");
            shared.abort.cancel();
            let stopped = async {
                shared.tracker.wait().await;
                // HTTP requests run on the server's connection tasks, outside the tracker.
                while shared.life.in_flight() > 0 {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            };
            if tokio::time::timeout(ABORT_WAIT, stopped).await.is_err() {
                tracing::warn!(target: TARGET, "abandoned work did not stop in time");
            }
            if let Some(server) = server {
                server.abort();
            }
        }
        Ok(shared.life.report(in_flight, grace, grace_expired))
    }
}

impl Drop for RunningHost {
    fn drop(&mut self) {
        if !self.shut_down {
            self.shared.stop.cancel();
            self.shared.abort.cancel();
        }
    }
}

impl fmt::Debug for RunningHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningHost")
            .field("http_addr", &self.http_addr)
            .field("functions", &self.shared.known(None))
            .finish_non_exhaustive()
    }
}
