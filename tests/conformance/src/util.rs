//! Small helpers shared by the suites.

use std::fmt::Debug;
use std::panic::resume_unwind;

use cloudport_core::{ErrorKind, Result};
use tokio::task::JoinHandle;

/// Asserts that `result` is an error of `kind`, naming `what` was attempted otherwise.
#[track_caller]
pub(crate) fn expect_kind<T: Debug>(result: Result<T>, kind: ErrorKind, what: &str) {
    match result {
        Err(e) if e.kind() == kind => {}
        Err(e) => panic!("{what}: expected a {kind} error, got a {} error: {e}", e.kind()),
        Ok(v) => panic!("{what}: expected a {kind} error, got Ok({v:?})"),
    }
}

/// Waits for every task, resuming the first panic among them.
pub(crate) async fn join_all<T>(tasks: Vec<JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        match task.await {
            Ok(v) => out.push(v),
            Err(e) if e.is_panic() => resume_unwind(e.into_panic()),
            Err(e) => panic!("a test task was cancelled: {e}"),
        }
    }
    out
}

/// The names of the behaviour functions (`pub async fn name(fixture: &<fixture>) -> Outcome`)
/// in a suite's `source`, in order: each suite checks its macro list against them.
#[cfg(test)]
pub(crate) fn defined_behaviours<'s>(source: &'s str, fixture: &str) -> Vec<&'s str> {
    let signature = format!("(fixture: &{fixture}) -> Outcome");
    source
        .lines()
        .filter_map(|l| l.strip_prefix("pub async fn "))
        .filter(|l| l.contains(&signature))
        .map(|l| &l[..l.find('(').unwrap_or(l.len())])
        .collect()
}

/// A random lowercase hex string of 16 characters, valid in every provider's names.
pub(crate) fn random_hex() -> String {
    format!("{:016x}", rand::random::<u64>())
}
