//! Checking the functions against what the template can express, and deciding every number in
//! it, before anything is rendered.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::time::Duration;

use cloudport_core::function::{Function, Trigger, queue_url_var};
use cloudport_core::{Error, ErrorKind, Result};

use super::names::{self, DEAD_LETTER_SUFFIX, MAX_LAMBDA_NAME, MAX_QUEUE_NAME, Stack};
use super::options::{MAX_TIMEOUT, SamOptions};
use super::schedule::eventbridge_cron;

/// API Gateway HTTP APIs end a request after 30 s, whatever the function's timeout.
const MAX_HTTP_TIMEOUT: u64 = 30;
/// Messages per batch when a queue function sets none (as the local host).
const DEFAULT_BATCH_SIZE: usize = 10;
/// SQS event sources take up to 10 messages per batch without a batching window, up to 10000
/// with one.
const MAX_UNWINDOWED_BATCH: usize = 10;
const MAX_BATCH_SIZE: usize = 10_000;
/// The window given to batches over 10 messages when the options set none.
const DEFAULT_BATCH_WINDOW: u64 = 1;
/// Deliveries before dead-lettering when a queue function sets none (as the local host).
const DEFAULT_MAX_DELIVERIES: u32 = 5;
/// SQS redrive policies count 1 to 1000 receives.
const MAX_DELIVERIES: u32 = 1000;
/// `ScalingConfig.MaximumConcurrency` of an SQS event source.
const QUEUE_CONCURRENCY: std::ops::RangeInclusive<usize> = 2..=1000;
/// AWS's advice for queues feeding Lambda: a visibility timeout of six function timeouts (plus
/// the batching window), so a batch being retried after throttling is not delivered twice.
const VISIBILITY_PER_TIMEOUT: u64 = 6;

/// Everything the template says, decided.
#[derive(Debug)]
pub(super) struct Plan<'a> {
    /// Sorted by name.
    pub(super) functions: Vec<Planned<'a>>,
    /// The queues that trigger functions, sorted by name.
    pub(super) queues: Vec<QueuePlan>,
}

/// One function, decided.
#[derive(Debug)]
pub(super) struct Planned<'a> {
    pub(super) function: &'a Function,
    pub(super) id: String,
    /// Whole seconds.
    pub(super) timeout: u64,
    /// `ReservedConcurrentExecutions`, for a `concurrency` setting on a function that is not a
    /// queue function.
    pub(super) reserved_concurrency: Option<usize>,
    pub(super) event: Event,
}

impl Planned<'_> {
    /// The queue triggering the function, if it is a queue function.
    pub(super) fn queue(&self) -> Option<&str> {
        match &self.event {
            Event::Queue(q) => Some(&q.queue),
            _ => None,
        }
    }
}

/// How a function is triggered, with the template's numbers.
#[derive(Debug)]
pub(super) enum Event {
    Http,
    Queue(QueueEvent),
    Blob { prefix: String },
    Schedule { cron: String },
    Invoke,
}

/// An SQS event source.
#[derive(Debug)]
pub(super) struct QueueEvent {
    pub(super) queue: String,
    pub(super) batch_size: usize,
    /// `MaximumBatchingWindowInSeconds`.
    pub(super) window: Option<u64>,
    /// `ScalingConfig.MaximumConcurrency`, for a `concurrency` setting.
    pub(super) max_concurrency: Option<usize>,
}

/// A queue triggering a function, with its dead-letter queue.
#[derive(Debug)]
pub(super) struct QueuePlan {
    pub(super) name: String,
    pub(super) id: String,
    pub(super) dead_letter_id: String,
    /// Seconds.
    pub(super) visibility_timeout: u64,
    pub(super) max_deliveries: u32,
}

impl<'a> Plan<'a> {
    /// Decides the template for `functions` (portable, uniquely named, sorted by name).
    pub(super) fn new(functions: &'a [Function], options: &SamOptions) -> Result<Self> {
        let stack = Stack::new(options.stack_name.as_deref());
        let mut ids = Ids::default();
        ids.claim(names::BUCKET.to_owned(), "the bucket".to_owned())?;
        let mut planned = Vec::with_capacity(functions.len());
        let mut queues = Vec::new();
        let mut queue_vars: BTreeMap<String, String> = BTreeMap::new();
        let mut blob_prefixes: Vec<(&str, &str)> = Vec::new();
        for function in functions {
            let name = function.name();
            stack.check(&format!("function {name:?}"), name, MAX_LAMBDA_NAME, "Lambda")?;
            let id = names::function_id(name);
            ids.claim(id.clone(), format!("function {name:?}"))?;
            let timeout = timeout(function, options)?;
            let settings = function.settings();
            let queue_only =
                [("batch_size", settings.batch_size.is_some()), ("max_deliveries", settings.max_deliveries.is_some())];
            if !matches!(function.trigger(), Trigger::Queue { .. })
                && let Some((setting, _)) = queue_only.iter().find(|(_, set)| *set)
            {
                return Err(Error::config(format!(
                    "function {name:?} sets {setting}, an option of queue functions, but its trigger is {} (remove the setting)",
                    function.trigger().kind()
                )));
            }
            let mut reserved_concurrency = settings.concurrency;
            let event = match function.trigger() {
                Trigger::Http => Event::Http,
                Trigger::Queue { queue } => {
                    if let Some(other) = planned.iter().find(|p: &&Planned<'_>| p.queue() == Some(&**queue)) {
                        return Err(Error::config(format!(
                            "queue {queue:?} triggers both {:?} and {name:?}, and SQS gives each message to one of them (consume it in one function, or give each its own queue)",
                            other.function.name()
                        )));
                    }
                    reserved_concurrency = None;
                    let (event, plan) = queue_event(function, queue, timeout, options, &stack)?;
                    ids.claim(plan.id.clone(), format!("queue {queue:?}"))?;
                    ids.claim(plan.dead_letter_id.clone(), format!("the dead-letter queue of {queue:?}"))?;
                    match queue_vars.entry(queue_url_var(queue)) {
                        Entry::Vacant(v) => {
                            v.insert(queue.to_string());
                        }
                        Entry::Occupied(o) => {
                            return Err(Error::config(format!(
                                "queues {:?} and {queue:?} would share the variable {} (rename one)",
                                o.get(),
                                o.key()
                            )));
                        }
                    }
                    queues.push(plan);
                    event
                }
                Trigger::Blob { prefix } => {
                    if let Some((other, _)) =
                        blob_prefixes.iter().find(|(_, p)| p.starts_with(&**prefix) || prefix.starts_with(p))
                    {
                        return Err(Error::config(format!(
                            "blob functions {other:?} and {name:?} watch overlapping prefixes, and S3 sends each event to one function only (watch disjoint prefixes, or handle both in one function)"
                        )));
                    }
                    blob_prefixes.push((name, prefix));
                    Event::Blob { prefix: prefix.to_string() }
                }
                Trigger::Schedule(schedule) => {
                    let cron = eventbridge_cron(schedule)
                        .map_err(|e| Error::new(e.kind(), format!("function {name:?}: {e}")))?;
                    Event::Schedule { cron }
                }
                Trigger::Invoke => Event::Invoke,
                other => {
                    return Err(Error::new(
                        ErrorKind::Unsupported,
                        format!(
                            "function {name:?} has a {} trigger, which the SAM template cannot express yet",
                            other.kind()
                        ),
                    ));
                }
            };
            if reserved_concurrency == Some(0) {
                return Err(Error::config(format!(
                    "function {name:?} has concurrency 0 (use 1 or more; Lambda reserves that many executions for it)"
                )));
            }
            planned.push(Planned { function, id, timeout, reserved_concurrency, event });
        }
        queues.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Self { functions: planned, queues })
    }

    /// Whether any function is triggered by HTTP.
    pub(super) fn has_http(&self) -> bool {
        self.functions.iter().any(|f| matches!(f.event, Event::Http))
    }
}

/// The SQS event source of a queue function, and its queue.
fn queue_event(
    function: &Function,
    queue: &str,
    timeout: u64,
    options: &SamOptions,
    stack: &Stack<'_>,
) -> Result<(Event, QueuePlan)> {
    let name = function.name();
    let settings = function.settings();
    names::check_queue_name(queue)?;
    stack.check(
        &format!("the dead-letter queue of {queue:?}"),
        &format!("{queue}{DEAD_LETTER_SUFFIX}"),
        MAX_QUEUE_NAME,
        "SQS",
    )?;

    let batch_size = settings.batch_size.unwrap_or(DEFAULT_BATCH_SIZE);
    if !(1..=MAX_BATCH_SIZE).contains(&batch_size) {
        return Err(Error::config(format!(
            "function {name:?} has batch_size {batch_size}, outside the 1 to {MAX_BATCH_SIZE} messages an SQS event source takes"
        )));
    }
    let window = match options.batch_window.map(whole_secs) {
        Some(0) if batch_size > MAX_UNWINDOWED_BATCH => {
            return Err(Error::config(format!(
                "function {name:?} has batch_size {batch_size}, and SQS event sources take more than {MAX_UNWINDOWED_BATCH} messages only with a batching window (set batch_window to 1 s or more, or batch_size to {MAX_UNWINDOWED_BATCH} or less)"
            )));
        }
        Some(window) => Some(window),
        None if batch_size > MAX_UNWINDOWED_BATCH => Some(DEFAULT_BATCH_WINDOW),
        None => None,
    };
    let max_concurrency = match settings.concurrency {
        Some(n) if !QUEUE_CONCURRENCY.contains(&n) => {
            return Err(Error::config(format!(
                "function {name:?} has concurrency {n}, but an SQS event source runs {} to {} batches at once (ScalingConfig.MaximumConcurrency): set a concurrency in that range, or none",
                QUEUE_CONCURRENCY.start(),
                QUEUE_CONCURRENCY.end()
            )));
        }
        other => other,
    };
    let max_deliveries = settings.max_deliveries.unwrap_or(DEFAULT_MAX_DELIVERIES);
    if !(1..=MAX_DELIVERIES).contains(&max_deliveries) {
        return Err(Error::config(format!(
            "function {name:?} has max_deliveries {max_deliveries}, outside the 1 to {MAX_DELIVERIES} an SQS redrive policy allows"
        )));
    }
    let plan = QueuePlan {
        name: queue.to_owned(),
        id: names::queue_id(queue),
        dead_letter_id: names::dead_letter_id(queue),
        visibility_timeout: VISIBILITY_PER_TIMEOUT * timeout + window.unwrap_or(0),
        max_deliveries,
    };
    let event = Event::Queue(QueueEvent { queue: queue.to_owned(), batch_size, window, max_concurrency });
    Ok((event, plan))
}

/// The function's timeout in whole seconds: its own, else the default (capped for HTTP).
fn timeout(function: &Function, options: &SamOptions) -> Result<u64> {
    let name = function.name();
    let http = matches!(function.trigger(), Trigger::Http);
    let Some(own) = function.settings().timeout else {
        let default = whole_secs(options.default_timeout);
        return Ok(if http { default.min(MAX_HTTP_TIMEOUT) } else { default });
    };
    let secs = whole_secs(own);
    if own.is_zero() || own > MAX_TIMEOUT {
        return Err(Error::config(format!(
            "function {name:?} has timeout {own:?}, outside Lambda's 1 s to {} s (split the work, or run it elsewhere)",
            MAX_TIMEOUT.as_secs()
        )));
    }
    if http && secs > MAX_HTTP_TIMEOUT {
        return Err(Error::config(format!(
            "http function {name:?} has timeout {own:?}, but API Gateway HTTP APIs end requests after {MAX_HTTP_TIMEOUT} s (lower the timeout, or hand the work to a queue function)"
        )));
    }
    Ok(secs)
}

/// Whole seconds, rounded up, so a timeout or window is never shorter than asked.
fn whole_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// Logical ids taken so far, and by what.
#[derive(Debug, Default)]
struct Ids(BTreeMap<String, String>);

impl Ids {
    fn claim(&mut self, id: String, what: String) -> Result<()> {
        match self.0.entry(id) {
            Entry::Vacant(v) => {
                v.insert(what);
                Ok(())
            }
            Entry::Occupied(o) => Err(Error::config(format!(
                "{} and {what} both get the logical id {:?} in the template (rename one)",
                o.get(),
                o.key()
            ))),
        }
    }
}
