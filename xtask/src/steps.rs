//! The steps of `cargo xtask test`, in order.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::emulators::Emulators;
use crate::report;

pub(crate) type Result<T = ()> = std::result::Result<T, String>;

/// The workspace root (the xtask crate lives one level below it).
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask sits inside the workspace").to_path_buf()
}

/// The cargo target directory in use (honours `CARGO_TARGET_DIR`).
pub(crate) fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => workspace_root().join("target"),
    }
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(workspace_root());
    cmd
}

fn run(step: &str, mut cmd: Command) -> Result {
    let started = Instant::now();
    println!("\n==> {step}");
    let status = cmd.status().map_err(|e| format!("{step}: could not start {cmd:?}: {e}"))?;
    println!("<== {step}: {} in {:.0?}", if status.success() { "ok" } else { "FAILED" }, started.elapsed());
    if status.success() { Ok(()) } else { Err(format!("{step} failed ({status})")) }
}

/// Sets of the facade's `aws-*` features checked on their own: the lean Lambda function of the
/// size benchmark first, then every other part at least once.
const AWS_PART_SETS: [&str; 3] = ["aws-s3,aws-lambda", "aws-sqs,aws-sam", "aws-lambda-http,aws-invoke"];

/// `cargo xtask test`.
pub(crate) fn test_all() -> Result {
    let started = Instant::now();
    let conformance_dir = target_dir().join("conformance");
    // Reports are appended by every test; start from nothing so stale results cannot pass.
    if conformance_dir.exists() {
        std::fs::remove_dir_all(&conformance_dir).map_err(|e| format!("cannot clear {conformance_dir:?}: {e}"))?;
    }

    // Stopped when dropped: after the tests, even when they fail.
    let emulators = Emulators::start(&target_dir().join("emulators"))?;
    run_tests(&conformance_dir, &emulators)?;
    drop(emulators);
    report::check(&conformance_dir)?;
    println!("\nall steps passed in {:.0?}", started.elapsed());
    Ok(())
}

fn run_tests(conformance_dir: &Path, emulators: &Emulators) -> Result {
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    run("formatting (cargo fmt --check)", fmt)?;

    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--exclude",
        "cloudport-benches",
        "--features",
        "cloudport/aws,cloudport/azure",
        "--",
        "-D",
        "warnings",
    ]);
    run("lints (cargo clippy -D warnings)", clippy)?;

    // The AWS provider's parts are features; each must build, and lint clean, without the others.
    for features in AWS_PART_SETS {
        let mut part = cargo();
        part.args([
            "clippy",
            "-p",
            "cloudport",
            "--no-default-features",
            "--features",
            features,
            "--",
            "-D",
            "warnings",
        ]);
        run(&format!("cloudport with only {features} (cargo clippy --no-default-features)"), part)?;
    }

    let mut docs = cargo();
    docs.args([
        "doc",
        "--no-deps",
        "--workspace",
        "--exclude",
        "cloudport-benches",
        "--features",
        "cloudport/aws,cloudport/azure",
    ])
    .env("RUSTDOCFLAGS", "-D warnings");
    run("documentation builds without warnings (cargo doc)", docs)?;

    let mut tests = cargo();
    tests
        .args([
            "test",
            "--workspace",
            "--exclude",
            "cloudport-benches",
            "--features",
            "cloudport/aws,cloudport/azure",
            "--no-fail-fast",
        ])
        .env("CLOUDPORT_REQUIRE_EMULATORS", "1")
        .env_remove("CLOUDPORT_BLOB_URL")
        .env_remove("CLOUDPORT_QUEUE_URL")
        .env("CLOUDPORT_CONFORMANCE_DIR", conformance_dir)
        .envs(emulators.env().iter().map(|(k, v)| (k, v)));
    run("every test in the workspace, doc tests included (cargo test --workspace)", tests)?;

    let mut lean = cargo();
    lean.args(["test", "-p", "cloudport-aws", "--no-default-features", "--features", "s3,lambda", "--lib"]);
    run("the AWS provider's unit tests with only s3 and lambda (what the parts that are off say)", lean)?;

    let mut no_default = cargo();
    no_default
        .args(["test", "-p", "cloudport", "--no-default-features", "--lib", "--test", "features"])
        .env_remove("CLOUDPORT_BLOB_URL")
        .env_remove("CLOUDPORT_QUEUE_URL");
    run("facade without providers (cargo test -p cloudport --no-default-features)", no_default)?;

    let mut benches = cargo();
    benches.args(["check", "-p", "cloudport-benches", "--benches"]);
    run("benchmarks compile (cargo check --benches)", benches)?;

    let mut app = cargo();
    app.args(["run", "--example", "pipeline"]).env_remove("CLOUDPORT_HOST").env_remove("CLOUDPORT_BLOB_URL");
    run("the README's run command (cargo run --example pipeline)", app)?;

    let mut quickstart = cargo();
    quickstart
        .args(["run", "--example", "quickstart"])
        .env_remove("CLOUDPORT_BLOB_URL")
        .env_remove("CLOUDPORT_QUEUE_URL");
    run("the storage quickstart (cargo run --example quickstart)", quickstart)?;
    Ok(())
}
