//! What the host counts per function, and the summary [`RunningHost::stats`](super::RunningHost::stats) returns.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// The live counters of one function: plain atomics, bumped by the host as work completes.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) invocations: AtomicU64,
    pub(crate) failures: AtomicU64,
    pub(crate) panics: AtomicU64,
    pub(crate) shed: AtomicU64,
    pub(crate) acked: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) dead_lettered: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self, name: &str, trigger: &'static str) -> FunctionStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        FunctionStats {
            name: name.to_owned(),
            trigger,
            invocations: get(&self.invocations),
            failures: get(&self.failures),
            panics: get(&self.panics),
            shed: get(&self.shed),
            acked: get(&self.acked),
            retried: get(&self.retried),
            dead_lettered: get(&self.dead_lettered),
        }
    }
}

/// What one function did since the host started.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FunctionStats {
    /// The function's name.
    pub name: String,
    /// Its trigger kind: `http`, `queue`, `blob`, `schedule` or `invoke`.
    pub trigger: &'static str,
    /// Invocations started (every attempt counts, retries included).
    pub invocations: u64,
    /// Invocations that returned an error, timed out or panicked.
    pub failures: u64,
    /// Invocations that panicked (also counted in `failures`).
    pub panics: u64,
    /// HTTP requests refused with 503 because the function was at its concurrency limit.
    pub shed: u64,
    /// Queue messages acked.
    pub acked: u64,
    /// Queue messages given back for redelivery.
    pub retried: u64,
    /// Queue messages moved to the dead-letter queue, and blob events dropped after their
    /// retries ran out.
    pub dead_lettered: u64,
}

impl fmt::Display for FunctionStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {} invocations, {} failed, {} panicked",
            self.name, self.trigger, self.invocations, self.failures, self.panics
        )?;
        if self.shed > 0 || self.trigger == "http" {
            write!(f, ", {} shed", self.shed)?;
        }
        if self.trigger == "queue" {
            write!(f, ", {} acked, {} retried, {} dead-lettered", self.acked, self.retried, self.dead_lettered)?;
        } else if self.dead_lettered > 0 {
            write!(f, ", {} events dropped", self.dead_lettered)?;
        }
        Ok(())
    }
}

/// A snapshot of every function's counters, sorted by function name.
///
/// `Display` prints one line per function, for an example's or a test's output:
///
/// ```text
/// upload (http): 4 invocations, 0 failed, 0 panicked, 0 shed
/// count_words (queue): 2 invocations, 0 failed, 0 panicked, 2 acked, 0 retried, 1 dead-lettered
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostStats {
    functions: Vec<FunctionStats>,
}

impl HostStats {
    pub(crate) fn new(functions: Vec<FunctionStats>) -> Self {
        Self { functions }
    }

    /// The counters of the function called `name`.
    #[must_use]
    pub fn function(&self, name: &str) -> Option<&FunctionStats> {
        self.functions.iter().find(|f| f.name == name)
    }

    /// Every function's counters.
    #[must_use]
    pub fn functions(&self) -> &[FunctionStats] {
        &self.functions
    }
}

impl fmt::Display for HostStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, function) in self.functions.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{function}")?;
        }
        Ok(())
    }
}
