//! cloudport's project commands (the cargo xtask pattern: plain Rust, no extra tools to install).
//!
//! - `cargo xtask test`: installs what the tests need, starts the emulators, runs every test in
//!   the workspace (doc tests included), checks that no conformance suite was skipped or failed,
//!   runs the README's example, and stops what it started. `.ci/run` runs exactly this.
//! - `cargo xtask readme`: regenerates the README's capability table from the last conformance run.

mod emulators;
mod report;
mod steps;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => steps::test_all(),
        Some("readme") => report::update_readme(),
        _ => {
            eprintln!("usage: cargo xtask <test|readme>");
            eprintln!("  test    install, start emulators, run every test, stop emulators");
            eprintln!("  readme  regenerate the README capability table from the last conformance run");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
