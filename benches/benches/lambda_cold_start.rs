//! Lambda binary size and cold start: a function written with cloudport
//! (`examples/lambda_cloudport.rs`) against the same function written directly on
//! `lambda_runtime` and the AWS SDK (`examples/lambda_direct.rs`). The targets: the cloudport
//! binary at most 1.1× the size of the direct one, and its cold start within 10 % of it.
//!
//! - Size: both examples built by `cargo build --release --no-default-features` (cloudport with
//!   only the AWS parts the function uses, `aws-s3` and `aws-lambda`, as a Lambda function
//!   should be built), as built and after `strip` (what a deployment zip usually holds, and the
//!   figure the target is judged on).
//! - Cold start: from spawning the binary to the response to its first invocation, on
//!   `cargo lambda watch --only-lambda-apis` (the Runtime API) with S3 on moto. Each round queues
//!   one invocation, spawns the binary with the Lambda variables, waits for the response and
//!   kills the process; the two binaries alternate (which goes first alternates too), after one
//!   discarded warm-up each. The figure covers exec, the runtime's start, loading the AWS
//!   configuration, the first connection to S3, one PutObject and one GetObject on moto, and the
//!   reply through cargo-lambda; both answers must be the same JSON.
//!
//! cargo-lambda only accepts invocations of the package's bins or of `_`, the function it serves
//! at the bare Runtime API (`/.rt`), so every round invokes `_`. A killed process's pending
//! `/next` poll is dropped by cargo-lambda when the connection closes (checked: a poll cut off
//! before an invocation does not take it), and each round starts [`AFTER_KILL`] after the last
//! kill.
//!
//! Run: `cargo bench -p cloudport-benches --bench lambda_cold_start`. It needs cargo-lambda
//! (`CLOUDPORT_BENCH_CARGO_LAMBDA`, default
//! `~/.cache/cloudport/tools/cargo-lambda/bin/cargo-lambda`, where `cargo xtask test` installs it), moto
//! (`CLOUDPORT_BENCH_MOTO_SERVER`, default `~/.cache/cloudport/tools/moto/bin/moto_server`)
//! and `strip` from binutils (`CLOUDPORT_BENCH_STRIP`); it starts and stops its own moto and
//! cargo-lambda on free ports. `CLOUDPORT_BENCH_ROUNDS` sets the rounds per binary (default 30).
//! Missing tools end it with exit code 2 and a message naming the variable.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

const BUCKET: &str = "cloudport-bench-lambda";
const REGION: &str = "us-east-1";
/// The targets: size ratio and cold-start ratio, cloudport over direct.
const SIZE_TARGET: f64 = 1.10;
const COLD_START_TARGET: f64 = 1.10;
/// How long an invocation may take before the round fails.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long after queueing the invocation the binary is spawned: enough for cargo-lambda to
/// have queued it, so the measurement starts with the event waiting, as on a real cold start.
const QUEUE_SETTLE: Duration = Duration::from_millis(100);
/// The pause after killing a function process, before the next round queues its invocation.
const AFTER_KILL: Duration = Duration::from_millis(100);
/// The function cargo-lambda serves at its bare Runtime API.
const FUNCTION: &str = "_";

type Result<T, E = String> = std::result::Result<T, E>;

/// A failure: exit code 2 for a missing tool (the message says which variable to set), 1 for
/// anything else.
struct Failure {
    code: u8,
    message: String,
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Self { code: 1, message }
    }
}

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; under `cargo test --benches` there is nothing to measure.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!(
            "lambda_cold_start: skipped (run it with `cargo bench -p cloudport-benches --bench lambda_cold_start`)"
        );
        return ExitCode::SUCCESS;
    }
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("lambda_cold_start: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn run() -> Result<(), Failure> {
    let tools = Tools::find().map_err(|message| Failure { code: 2, message })?;
    let rounds: usize = match std::env::var("CLOUDPORT_BENCH_ROUNDS") {
        Ok(v) => {
            v.parse().ok().filter(|&n| n > 0).ok_or(format!("CLOUDPORT_BENCH_ROUNDS={v:?} is not a positive number"))?
        }
        Err(_) => 30,
    };
    let work = tempfile::tempdir().map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let sides = build()?;
    let sizes = sides.iter().map(|side| side.sizes(&tools.strip, work.path())).collect::<Result<Vec<_>>>()?;
    print!("{}", size_table(&sides, &sizes));

    let moto_port = free_port()?;
    let _moto = Daemon::start(
        "moto",
        Command::new(&tools.moto).args(["-H", "127.0.0.1", "-p", &moto_port.to_string()]),
        moto_port,
        work.path(),
    )?;
    let endpoint = format!("http://127.0.0.1:{moto_port}");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start tokio: {e}"))?;
    rt.block_on(create_bucket(&endpoint))?;

    let api_port = free_port()?;
    // With --only-lambda-apis it builds and starts nothing, but reads the workspace's metadata
    // (to check invoked names against its bins).
    let _watch = Daemon::start(
        "cargo lambda watch",
        Command::new(&tools.cargo_lambda)
            .args(["lambda", "watch", "--only-lambda-apis", "--ignore-changes", "-A", "127.0.0.1", "-P"])
            .arg(api_port.to_string())
            .current_dir(workspace()),
        api_port,
        work.path(),
    )?;
    let env = FunctionEnv { api_port, endpoint };
    let timings = rt.block_on(measure(&sides, &env, rounds, work.path()))?;
    print!("{}", cold_start_table(&sides, &timings, rounds));
    Ok(())
}

/// Where the external tools are.
struct Tools {
    cargo_lambda: PathBuf,
    moto: PathBuf,
    strip: PathBuf,
}

impl Tools {
    fn find() -> Result<Self> {
        let home = PathBuf::from(std::env::var_os("HOME").unwrap_or_default());
        let cargo_lambda = tool(
            "CLOUDPORT_BENCH_CARGO_LAMBDA",
            &[home.join(".cache/cloudport/tools/cargo-lambda/bin/cargo-lambda")],
            "pip install cargo-lambda==1.9.2",
        )?;
        let moto = tool(
            "CLOUDPORT_BENCH_MOTO_SERVER",
            &[home.join(".cache/cloudport/tools/moto/bin/moto_server")],
            "pip install \"moto[server]==5.2.1\"",
        )?;
        let strip = PathBuf::from(std::env::var_os("CLOUDPORT_BENCH_STRIP").unwrap_or_else(|| "strip".into()));
        let works = Command::new(&strip).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
        if !works.is_ok_and(|s| s.success()) {
            return Err(format!(
                "`{}` does not run: install binutils, or set CLOUDPORT_BENCH_STRIP to a strip program",
                strip.display()
            ));
        }
        Ok(Self { cargo_lambda, moto, strip })
    }
}

/// The tool `var` names, else the first default that exists.
fn tool(var: &str, defaults: &[PathBuf], install: &str) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(var) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "{var}={} is not a file (point {var} at the program, or unset it for the default)",
                path.display()
            ))
        };
    }
    defaults.iter().find(|p| p.is_file()).cloned().ok_or_else(|| {
        let tried = defaults.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
        format!("{var} is not set and none of {tried} exists (set {var} to the program, or `{install}`)")
    })
}

/// One of the two binaries.
struct Side {
    /// The example's name, also the table's label.
    name: &'static str,
    path: PathBuf,
}

/// A binary's size as built and stripped, in bytes.
#[derive(Clone, Copy)]
struct Sizes {
    built: u64,
    stripped: u64,
}

impl Side {
    fn sizes(&self, strip: &Path, dir: &Path) -> Result<Sizes> {
        let built = file_size(&self.path)?;
        let stripped_path = dir.join(format!("{}.stripped", self.name));
        let status = Command::new(strip)
            .arg("-o")
            .arg(&stripped_path)
            .arg(&self.path)
            .status()
            .map_err(|e| format!("cannot run {}: {e}", strip.display()))?;
        if !status.success() {
            return Err(format!("{} {} failed: {status}", strip.display(), self.path.display()));
        }
        Ok(Sizes { built, stripped: file_size(&stripped_path)? })
    }
}

fn file_size(path: &Path) -> Result<u64> {
    std::fs::metadata(path).map(|m| m.len()).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// The workspace root, the benches crate's parent.
fn workspace() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// Builds both examples as a Lambda function is built and returns them, direct first.
fn build() -> Result<[Side; 2]> {
    eprintln!("building the two functions (cargo build --release --no-default-features)...");
    let mut cargo = Command::new(env!("CARGO"));
    // What `cargo bench` sets for this process would reach build scripts that watch it (ring's
    // watches CARGO_MANIFEST_DIR) and rebuild them on every run, and again for a plain build.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_")
            || ["CARGO_MANIFEST_DIR", "CARGO_MANIFEST_PATH", "CARGO_CRATE_NAME", "CARGO_PRIMARY_PACKAGE", "OUT_DIR"]
                .contains(&name.as_ref())
        {
            cargo.env_remove(name.as_ref());
        }
    }
    let output = cargo
        .current_dir(workspace())
        .args(["build", "--release", "-p", "cloudport-benches", "--no-default-features"])
        .args(["--example", "lambda_direct", "--example", "lambda_cloudport"])
        .arg("--message-format=json-render-diagnostics")
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!("cargo build failed: {}", output.status));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let executable = |name: &str| {
        stdout
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|msg| msg["reason"] == "compiler-artifact" && msg["target"]["name"] == name)
            .find_map(|msg| msg["executable"].as_str().map(PathBuf::from))
            .ok_or_else(|| format!("cargo built no executable for the example {name}"))
    };
    Ok([
        Side { name: "lambda_direct", path: executable("lambda_direct")? },
        Side { name: "lambda_cloudport", path: executable("lambda_cloudport")? },
    ])
}

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / f64::from(1 << 20))
}

fn verdict(ratio: f64, target: f64) -> &'static str {
    if ratio <= target { "met" } else { "NOT met" }
}

fn size_table(sides: &[Side; 2], sizes: &[Sizes]) -> String {
    let mut out =
        String::from("\nLambda binary size (cargo build --release, cloudport with `aws-s3` and `aws-lambda`)\n");
    let _ = writeln!(out, "{:<18} {:>22} {:>22}", "binary", "as built", "stripped");
    for (side, s) in sides.iter().zip(sizes) {
        let _ = writeln!(
            out,
            "{:<18} {:>22} {:>22}",
            side.name,
            format!("{} ({})", s.built, mib(s.built)),
            format!("{} ({})", s.stripped, mib(s.stripped))
        );
    }
    let built = sizes[1].built as f64 / sizes[0].built as f64;
    let stripped = sizes[1].stripped as f64 / sizes[0].stripped as f64;
    let _ =
        writeln!(out, "{:<18} {:>22} {:>22}", "cloudport/direct", format!("{built:.3}×"), format!("{stripped:.3}×"));
    let _ = writeln!(
        out,
        "target ≤ {SIZE_TARGET:.2}× (stripped, as deployed): {}; as built: {}",
        verdict(stripped, SIZE_TARGET),
        verdict(built, SIZE_TARGET)
    );
    out
}

/// Picks a free loopback port (released again for the server that will bind it).
fn free_port() -> Result<u16> {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| format!("cannot bind a loopback port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// A server this bench started, killed when dropped.
struct Daemon {
    name: &'static str,
    child: Child,
}

impl Daemon {
    /// Starts `command`, logging to `<dir>/<name>.log`, and waits until it accepts connections
    /// on `port`.
    fn start(name: &'static str, command: &mut Command, port: u16, dir: &Path) -> Result<Self> {
        let log_path = dir.join(format!("{}.log", name.replace(' ', "-")));
        let log = std::fs::File::create(&log_path).map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let child = command
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        let mut daemon = Self { name, child };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            if let Ok(Some(status)) = daemon.child.try_wait() {
                return Err(format!("{name} exited ({status}) before listening: see {}", tail(&log_path)));
            }
            if Instant::now() > deadline {
                return Err(format!("{name} did not listen on port {port} within 30 s: {}", tail(&log_path)));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(daemon)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Err(e) = self.child.kill() {
            eprintln!("lambda_cold_start: cannot stop {}: {e}", self.name);
        }
        let _ = self.child.wait();
    }
}

/// The last lines of a log, for error messages.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    format!("{} ends with:\n{}", path.display(), lines[lines.len().saturating_sub(20)..].join("\n"))
}

async fn create_bucket(endpoint: &str) -> Result<()> {
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "bench"))
        .http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                    aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                ))
                .build_https(),
        )
        .load()
        .await;
    let client = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
    client
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .map_err(|e| format!("cannot create the bucket on moto: {e:?}"))?;
    Ok(())
}

/// What every function process gets.
struct FunctionEnv {
    api_port: u16,
    endpoint: String,
}

impl FunctionEnv {
    /// The process for one invocation of `side`: only the variables Lambda would set (the
    /// Runtime API as `cargo lambda watch` gives it), AWS pointing at moto, and each binary's
    /// store setting.
    fn command(&self, side: &Side) -> Command {
        let mut cmd = Command::new(&side.path);
        cmd.env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", format!("http://127.0.0.1:{}/.rt", self.api_port))
            .env("AWS_LAMBDA_FUNCTION_NAME", "notes")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_REGION", REGION)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("CLOUDPORT_BLOB_URL", format!("s3://{BUCKET}"))
            .env("NOTES_BUCKET", BUCKET)
            .stdin(Stdio::null());
        cmd
    }
}

/// One invocation's time from spawn to response, and the response.
async fn cold_start(
    side: &Side,
    env: &FunctionEnv,
    client: &Client<HttpConnector, Full<Bytes>>,
    payload: &str,
    log: &Path,
) -> Result<(Duration, String)> {
    let request =
        http::Request::post(format!("http://127.0.0.1:{}/2015-03-31/functions/{FUNCTION}/invocations", env.api_port))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::copy_from_slice(payload.as_bytes())))
            .map_err(|e| e.to_string())?;
    let pending = tokio::spawn(client.request(request));
    tokio::time::sleep(QUEUE_SETTLE).await;
    let out = std::fs::OpenOptions::new().create(true).append(true).open(log).map_err(|e| e.to_string())?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut child = env
        .command(side)
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", side.path.display()))?;
    let response = tokio::time::timeout(INVOKE_TIMEOUT, pending).await;
    let elapsed = started.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    tokio::time::sleep(AFTER_KILL).await;
    let response = response
        .map_err(|_| format!("{} did not answer within {INVOKE_TIMEOUT:?}: {}", side.name, tail(log)))?
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("invoking {} through cargo-lambda failed: {e}", side.name))?;
    let status = response.status();
    let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    let body = String::from_utf8_lossy(&body).into_owned();
    if !status.is_success() {
        return Err(format!("{} answered {status}: {body}\n{}", side.name, tail(log)));
    }
    Ok((elapsed, body))
}

/// Cold starts of both sides, alternating, after one discarded warm-up each: `[direct,
/// cloudport]`.
async fn measure(sides: &[Side; 2], env: &FunctionEnv, rounds: usize, dir: &Path) -> Result<[Vec<Duration>; 2]> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut timings = [Vec::with_capacity(rounds), Vec::with_capacity(rounds)];
    eprintln!("measuring cold starts: {rounds} rounds per binary, alternating, after one warm-up each...");
    for round in 0..=rounds {
        let text = format!("hello from round {round}");
        let payload = serde_json::json!({ "key": format!("r{round}.txt"), "text": text }).to_string();
        let expected = serde_json::json!({ "key": format!("notes/r{round}.txt"), "size": text.len(), "text": text });
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let side = &sides[i];
            let log = dir.join(format!("{}.log", side.name));
            let (elapsed, body) = cold_start(side, env, &client, &payload, &log).await?;
            if serde_json::from_str::<serde_json::Value>(&body).ok().as_ref() != Some(&expected) {
                return Err(format!("{} answered {body}, expected {expected}", side.name));
            }
            // Round 0 is the warm-up: the binaries' pages and moto's code paths get hot.
            if round > 0 {
                timings[i].push(elapsed);
            }
        }
    }
    Ok(timings)
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn median(sorted: &[Duration]) -> Duration {
    let n = sorted.len();
    if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2 }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn cold_start_table(sides: &[Side; 2], timings: &[Vec<Duration>; 2], rounds: usize) -> String {
    let mut out = format!(
        "\nCold start: spawn to first response on cargo lambda watch --only-lambda-apis, S3 on moto ({rounds} rounds each, alternating)\n"
    );
    let _ = writeln!(out, "{:<18} {:>10} {:>10} {:>10} {:>10}", "binary", "median", "p90", "min", "max");
    let mut medians = Vec::new();
    let mut p90s = Vec::new();
    for (side, samples) in sides.iter().zip(timings) {
        let mut sorted = samples.clone();
        sorted.sort();
        medians.push(median(&sorted));
        p90s.push(percentile(&sorted, 90.0));
        let _ = writeln!(
            out,
            "{:<18} {:>10} {:>10} {:>10} {:>10}",
            side.name,
            ms(median(&sorted)),
            ms(percentile(&sorted, 90.0)),
            ms(sorted[0]),
            ms(sorted[sorted.len() - 1])
        );
    }
    let ratio = medians[1].as_secs_f64() / medians[0].as_secs_f64();
    let p90_ratio = p90s[1].as_secs_f64() / p90s[0].as_secs_f64();
    let _ =
        writeln!(out, "{:<18} {:>10} {:>10}", "cloudport/direct", format!("{ratio:.3}×"), format!("{p90_ratio:.3}×"));
    let _ = writeln!(out, "target ≤ {COLD_START_TARGET:.2}× (medians): {}", verdict(ratio, COLD_START_TARGET));
    out
}
