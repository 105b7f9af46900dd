//! What the AWS provider tests share: moto's address, options for it, child-process probes.
#![allow(dead_code, unreachable_pub)]

use std::process::{Command, Output};

use cloudport_aws::AwsOptions;

/// Where `cargo xtask test` started moto.
pub const MOTO_VAR: &str = "CLOUDPORT_TEST_MOTO";
/// A Python with boto3/botocore (moto's), for checks against AWS's own reference code.
pub const PYTHON_VAR: &str = "CLOUDPORT_TEST_BOTO_PYTHON";
/// moto's server program, for tests that run (and kill) a moto of their own.
pub const MOTO_SERVER_VAR: &str = "CLOUDPORT_TEST_MOTO_SERVER";

/// moto's URL, or `None` (after saying so) when the suite is skipped.
pub fn moto(suite: &str) -> Option<String> {
    cloudport_conformance::skip::emulator(MOTO_VAR, suite)
}

/// Options reaching moto at `endpoint` with its fixed test credentials.
pub fn aws(endpoint: &str) -> AwsOptions {
    AwsOptions::new().endpoint(endpoint).region("us-east-1").credentials("testing", "testing")
}

/// Creates `bucket` on moto (already existing is fine).
pub async fn ensure_bucket(store: &cloudport_aws::S3BlobStore) {
    let client = store.client().await.expect("S3 client");
    if let Err(e) = client.create_bucket().bucket(store.bucket()).send().await {
        let code = aws_sdk_s3::error::ProvideErrorMetadata::code(&e).unwrap_or_default().to_owned();
        assert!(code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists", "create bucket: {e:?}");
    }
}

/// A unique name for this run: `prefix-<16 hex digits>`.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    format!("{prefix}-{:016x}", (nanos as u64) ^ u64::from(std::process::id()).rotate_left(32))
}

/// Runs the ignored test `probe` of this test binary in a child process with exactly `env`
/// (nothing inherited but `PATH`), and returns its output.
pub fn run_probe(probe: &str, env: &[(&str, &str)]) -> Output {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", probe, "--ignored", "--nocapture", "--test-threads", "1"]).env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("run the probe in a child process")
}

/// Asserts that a probe passed, showing its output otherwise.
pub fn assert_probe_passed(probe: &str, output: &Output) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "probe {probe} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
}
