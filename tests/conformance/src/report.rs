//! The outcome report: one JSON line per test run (format in the [crate docs](crate#the-report)).

use std::any::Any;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::panic::{AssertUnwindSafe, resume_unwind};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use futures::FutureExt;

use crate::Outcome;

/// The environment variable naming the report directory.
pub const DIR_ENV: &str = "CLOUDPORT_CONFORMANCE_DIR";

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// `"blob"` or `"queue"`.
    pub suite: &'a str,
    /// The runner's provider label.
    pub provider: &'a str,
    /// The behaviour's name.
    pub test: &'a str,
    /// `"passed"`, `"unsupported"`, `"not_enforced"` or `"failed"`.
    pub outcome: &'a str,
    /// The reason or panic message.
    pub note: Option<&'a str>,
    /// Wall time of the test, in milliseconds.
    pub duration_ms: u128,
    /// When the line was written, in milliseconds since the Unix epoch.
    pub finished_at_ms: u128,
}

impl Record<'_> {
    /// The record as one line of JSON, without the newline.
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(160);
        out.push('{');
        for (name, value) in
            [("suite", self.suite), ("provider", self.provider), ("test", self.test), ("outcome", self.outcome)]
        {
            json_string(&mut out, name);
            out.push(':');
            json_string(&mut out, value);
            out.push(',');
        }
        json_string(&mut out, "note");
        out.push(':');
        match self.note {
            Some(note) => json_string(&mut out, note),
            None => out.push_str("null"),
        }
        let _ = write!(out, ",\"duration_ms\":{},\"finished_at_ms\":{}}}", self.duration_ms, self.finished_at_ms);
        out
    }
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Where reports go: `$CLOUDPORT_CONFORMANCE_DIR`; else `$CARGO_TARGET_DIR/conformance` when
/// that is set in the environment (a relative one taken from the workspace root, as cargo does);
/// else `<workspace root>/target/conformance`. The workspace root is the nearest ancestor of
/// `manifest_dir` whose `Cargo.toml` has a `[workspace]` table (`manifest_dir` when none has).
#[must_use]
pub fn report_dir(manifest_dir: &str) -> PathBuf {
    resolve_dir(std::env::var_os(DIR_ENV), std::env::var_os("CARGO_TARGET_DIR"), manifest_dir)
}

fn resolve_dir(report_dir: Option<OsString>, target_dir: Option<OsString>, manifest_dir: &str) -> PathBuf {
    if let Some(dir) = report_dir.filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let manifest_dir = Path::new(manifest_dir);
    let root = manifest_dir
        .ancestors()
        .find(|dir| {
            std::fs::read_to_string(dir.join("Cargo.toml"))
                .is_ok_and(|toml| toml.lines().any(|line| line.trim() == "[workspace]"))
        })
        .unwrap_or(manifest_dir);
    let target = match target_dir.filter(|d| !d.is_empty()) {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    };
    target.join("conformance")
}

/// Appends `record` to `<dir>/<provider>.jsonl`.
///
/// # Errors
/// When the directory cannot be created or the file not written.
pub fn append(dir: &Path, record: &Record<'_>) -> std::io::Result<()> {
    // One line per write(2) on an O_APPEND file keeps lines whole across test threads and
    // processes; the lock keeps this process's writers from interleaving anyway.
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    std::fs::create_dir_all(dir)?;
    let file_name = format!("{}.jsonl", sanitize(record.provider));
    let mut file = OpenOptions::new().create(true).append(true).open(dir.join(file_name))?;
    let mut line = record.to_json();
    line.push('\n');
    file.write_all(line.as_bytes())
}

fn sanitize(provider: &str) -> String {
    provider.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' }).collect()
}

/// The message of a panic payload.
#[must_use]
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}

/// Runs one behaviour test on a fresh multi-threaded runtime (2 workers), records its outcome,
/// and fails (panics) when the test did.
///
/// # Panics
/// When the test panics (the panic is resumed after recording), or when the runtime cannot start.
pub fn run(suite: &str, provider: &str, test: &str, manifest_dir: &str, fut: impl Future<Output = Outcome>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("start a tokio runtime for the conformance test");
    let started = Instant::now();
    let result = runtime.block_on(AssertUnwindSafe(fut).catch_unwind());
    // Tasks a failed test left behind must not outlive it.
    runtime.shutdown_background();
    let duration_ms = started.elapsed().as_millis();
    let finished_at_ms = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let panic_note;
    let (outcome, note) = match &result {
        Ok(outcome) => (outcome.as_str(), outcome.note()),
        Err(payload) => {
            panic_note = panic_message(payload.as_ref());
            ("failed", Some(panic_note.as_str()))
        }
    };
    let record = Record { suite, provider, test, outcome, note, duration_ms, finished_at_ms };
    let dir = report_dir(manifest_dir);
    if let Err(e) = append(&dir, &record) {
        eprintln!(
            "conformance: cannot write the report to {} ({e}); set {DIR_ENV} to a writable directory",
            dir.display()
        );
    }
    match result {
        Ok(Outcome::Passed) => {}
        Ok(other) => eprintln!("{suite}::{test} on {provider}: {} ({})", other.as_str(), other.note().unwrap_or("")),
        Err(payload) => resume_unwind(payload),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_escape_and_use_null_for_no_note() {
        let record = Record {
            suite: "blob",
            provider: "local-fs",
            test: "t",
            outcome: "failed",
            note: Some("assertion `left == right` failed\n  left: \"a\\b\"\u{1}"),
            duration_ms: 5,
            finished_at_ms: 7,
        };
        assert_eq!(
            record.to_json(),
            r#"{"suite":"blob","provider":"local-fs","test":"t","outcome":"failed","note":"assertion `left == right` failed\n  left: \"a\\b\"\u0001","duration_ms":5,"finished_at_ms":7}"#
        );
        let passed = Record { note: None, outcome: "passed", ..record };
        assert!(passed.to_json().contains(r#""note":null,"#));
    }

    #[test]
    fn report_dir_is_under_the_target_dir() {
        // This crate lives at <root>/tests/conformance; the root's Cargo.toml has [workspace].
        let manifest = env!("CARGO_MANIFEST_DIR");
        let root = Path::new(manifest).parent().and_then(Path::parent).unwrap();
        assert_eq!(resolve_dir(None, None, manifest), root.join("target/conformance"));
        assert_eq!(resolve_dir(None, Some("/shared/target".into()), manifest), Path::new("/shared/target/conformance"));
        assert_eq!(resolve_dir(None, Some("out".into()), manifest), root.join("out/conformance"));
        assert_eq!(resolve_dir(Some("/elsewhere".into()), Some("/t".into()), manifest), Path::new("/elsewhere"));
    }

    #[test]
    fn provider_labels_make_safe_file_names() {
        assert_eq!(sanitize("local-fs"), "local-fs");
        assert_eq!(sanitize("../x y"), ".._x_y");
    }
}
