//! Installing, starting and stopping the emulators the provider tests run against.
//!
//! Tools are installed once per machine under `~/.cache/cloudport/tools` (versions pinned here,
//! so every run tests against the same emulator) and started on free loopback ports, each in a
//! process group of its own so that stopping it stops its children too. The tests learn where
//! each emulator listens from environment variables ([`Emulators::env`]).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::steps::Result;

/// moto 5.2.5: the first release whose `CompleteMultipartUpload` answer the Rust SDK parses
/// (5.2.1 names the XML root `CompleteMultipartUploadResponse`) and that keeps user metadata
/// names with `_` (5.2.1's server drops them). Both measured.
const MOTO: &str = "moto[server]==5.2.5";

/// cargo-lambda's wheel ships the binary (and zig for cross builds); `cargo lambda watch` is the
/// Lambda runtime emulator the end-to-end test hosts the example on.
const CARGO_LAMBDA: &str = "cargo-lambda==1.9.2";

/// The SAM template validators: cfn-lint (which no longer expands SAM itself) and the SAM
/// translator that expands it, as `sam deploy` does.
const CFN_VALIDATORS: &str = "cfn-lint==1.58.0 aws-sam-translator==1.115.0";

/// Azurite 3.37.0 (Blob, Queue, Table): accepts the `x-ms-version` the official Rust crates send
/// (we pass `--skipApiVersionCheck` anyway, Azure/Azurite#2623) and checks SharedKey and SAS
/// signatures, so the Azure provider's auth tests are real. Wants Node >= 22 but runs on 20
/// (npm's `EBADENGINE` warning is harmless). Both measured.
const AZURITE: &str = "azurite@3.37.0";

/// The official Python client of Azure Blob Storage, for the cross-client check: a blob written
/// by cloudport must read back through it, and one it wrote through cloudport.
const AZURE_PYTHON_CLIENT: &str = "azure-storage-blob==12.31.1";

/// How long an emulator may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Where tools are installed: outside the clone, so CI runs on one machine reuse them.
fn tools_dir() -> PathBuf {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    home.join(".cache/cloudport/tools")
}

/// A Python virtual environment holding `requirement` (space-separated requirements), created
/// when missing.
fn python_venv(name: &str, requirement: &str) -> Result<PathBuf> {
    let dir = tools_dir().join(name);
    let marker = dir.join("cloudport-installed.txt");
    if std::fs::read_to_string(&marker).is_ok_and(|installed| installed == requirement) {
        return Ok(dir);
    }
    println!("installing {requirement} into {}", dir.display());
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| format!("cannot clear {}: {e}", dir.display()))?;
    }
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    check(Command::new(&python).args(["-m", "venv"]).arg(&dir), "create a Python virtual environment")?;
    check(
        Command::new(dir.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(requirement.split_whitespace()),
        &format!("pip install {requirement}"),
    )?;
    std::fs::write(&marker, requirement).map_err(|e| format!("cannot write {}: {e}", marker.display()))?;
    Ok(dir)
}

/// An npm package installed under its own prefix (`<dir>/node_modules`), when missing.
fn npm_package(name: &str, package: &str) -> Result<PathBuf> {
    let dir = tools_dir().join(name);
    let marker = dir.join("cloudport-installed.txt");
    if std::fs::read_to_string(&marker).is_ok_and(|installed| installed == package) {
        return Ok(dir);
    }
    println!("installing {package} into {}", dir.display());
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| format!("cannot clear {}: {e}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    check(
        Command::new("npm").args(["install", "--no-audit", "--no-fund", "--prefix"]).arg(&dir).arg(package),
        &format!("npm install {package} (needs Node.js and npm: apt-get install nodejs npm)"),
    )?;
    std::fs::write(&marker, package).map_err(|e| format!("cannot write {}: {e}", marker.display()))?;
    Ok(dir)
}

fn check(cmd: &mut Command, what: &str) -> Result {
    let status = cmd.status().map_err(|e| format!("{what}: cannot start {cmd:?}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{what} failed ({status})")) }
}

/// A free port on 127.0.0.1 (the OS picks it; it stays free until the emulator takes it).
fn free_port() -> Result<u16> {
    Ok(free_ports::<1>()?[0])
}

/// `N` distinct free ports on 127.0.0.1: all held at once while picking, so none repeats.
fn free_ports<const N: usize>() -> Result<[u16; N]> {
    let mut listeners = Vec::with_capacity(N);
    let mut ports = [0; N];
    for port in &mut ports {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free loopback port: {e}"))?;
        *port = listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())?;
        listeners.push(listener);
    }
    Ok(ports)
}

/// One running emulator.
struct Running {
    name: &'static str,
    child: Child,
    log: PathBuf,
    /// How long it may take to exit after SIGTERM before its group gets SIGKILL.
    grace: Duration,
}

/// The emulators of one test run; stopped when dropped.
pub(crate) struct Emulators {
    running: Vec<Running>,
    env: Vec<(String, String)>,
}

impl Emulators {
    /// Installs (when missing) and starts every emulator, waiting until each accepts connections.
    pub(crate) fn start(log_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(log_dir).map_err(|e| format!("cannot create {}: {e}", log_dir.display()))?;
        let mut emulators = Self { running: Vec::new(), env: Vec::new() };

        let moto = python_venv("moto", MOTO)?;
        let port = free_port()?;
        let mut cmd = Command::new(moto.join("bin/moto_server"));
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        emulators.spawn("moto (S3, SQS)", cmd, &[port], Duration::from_secs(10), log_dir)?;
        emulators.env.push(("CLOUDPORT_TEST_MOTO".into(), format!("http://127.0.0.1:{port}")));
        // For tests that run a moto of their own (to kill it), and check presigned URLs with
        // botocore (moto's venv has it).
        emulators.env.push(("CLOUDPORT_TEST_MOTO_SERVER".into(), moto.join("bin/moto_server").display().to_string()));
        emulators.env.push(("CLOUDPORT_TEST_BOTO_PYTHON".into(), moto.join("bin/python").display().to_string()));

        // Azurite outlives SIGTERM (measured: only SIGKILL ends 3.37 on Node 20), so its grace is
        // short. Its data starts empty every run.
        let azurite = npm_package("azurite", AZURITE)?;
        let [blob, queue, table] = free_ports::<3>()?;
        let data = log_dir.join("azurite-data");
        if data.exists() {
            std::fs::remove_dir_all(&data).map_err(|e| format!("cannot clear {}: {e}", data.display()))?;
        }
        let mut cmd = Command::new(azurite.join("node_modules/.bin/azurite"));
        cmd.args(["--silent", "--location"]).arg(&data);
        cmd.args(["--blobHost", "127.0.0.1", "--queueHost", "127.0.0.1", "--tableHost", "127.0.0.1"]);
        cmd.args(["--blobPort", &blob.to_string(), "--queuePort", &queue.to_string()]);
        cmd.args(["--tablePort", &table.to_string(), "--skipApiVersionCheck", "--loose"]);
        emulators.spawn("azurite (Blob, Queue)", cmd, &[blob, queue], Duration::from_secs(3), log_dir)?;
        // Path-style endpoints, no trailing slash (the SDK appends segments).
        emulators.env.push(("CLOUDPORT_TEST_AZURITE_BLOB".into(), format!("http://127.0.0.1:{blob}/devstoreaccount1")));
        emulators
            .env
            .push(("CLOUDPORT_TEST_AZURITE_QUEUE".into(), format!("http://127.0.0.1:{queue}/devstoreaccount1")));

        // Not servers: the end-to-end test starts one `cargo lambda watch` per function, and
        // the SAM test runs the validators.
        let cargo_lambda = python_venv("cargo-lambda", CARGO_LAMBDA)?;
        emulators
            .env
            .push(("CLOUDPORT_TEST_CARGO_LAMBDA".into(), cargo_lambda.join("bin/cargo-lambda").display().to_string()));
        let cfn = python_venv("cfn", CFN_VALIDATORS)?;
        emulators.env.push(("CLOUDPORT_TEST_CFN_PYTHON".into(), cfn.join("bin/python").display().to_string()));
        let azure_python = python_venv("azure-python", AZURE_PYTHON_CLIENT)?;
        emulators
            .env
            .push(("CLOUDPORT_TEST_AZURE_PYTHON".into(), azure_python.join("bin/python").display().to_string()));
        Ok(emulators)
    }

    /// The variables that tell the tests where the emulators are.
    pub(crate) fn env(&self) -> &[(String, String)] {
        &self.env
    }

    /// Starts `cmd` and waits until every one of `ports` accepts connections.
    fn spawn(
        &mut self,
        name: &'static str,
        mut cmd: Command,
        ports: &[u16],
        grace: Duration,
        log_dir: &Path,
    ) -> Result {
        let log = log_dir.join(format!("{}.log", name.split_whitespace().next().unwrap_or(name)));
        let out = std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        // A process group of its own: stopping the group stops the emulator's children too.
        cmd.stdin(Stdio::null()).stdout(out).stderr(err).process_group(0);
        let child = cmd.spawn().map_err(|e| format!("cannot start {name} ({cmd:?}): {e}"))?;
        self.running.push(Running { name, child, log: log.clone(), grace });
        let started = Instant::now();
        let addrs: Vec<SocketAddr> = ports.iter().map(|&port| SocketAddr::from(([127, 0, 0, 1], port))).collect();
        for addr in &addrs {
            while TcpStream::connect_timeout(addr, Duration::from_millis(200)).is_err() {
                let running = self.running.last_mut().expect("just pushed");
                if let Ok(Some(status)) = running.child.try_wait() {
                    return Err(format!("{name} exited ({status}) before listening; see {}", log.display()));
                }
                if started.elapsed() > START_TIMEOUT {
                    return Err(format!(
                        "{name} did not listen on {addr} within {START_TIMEOUT:?}; see {}",
                        log.display()
                    ));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let shown: Vec<String> = addrs.iter().map(ToString::to_string).collect();
        println!("started {name} on {} in {:.1?} (log: {})", shown.join(", "), started.elapsed(), log.display());
        Ok(())
    }
}

impl Drop for Emulators {
    fn drop(&mut self) {
        for running in &mut self.running {
            // TERM first, then KILL the whole group after the emulator's grace period.
            let group = format!("-{}", running.child.id());
            let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
            let deadline = Instant::now() + running.grace;
            while matches!(running.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if matches!(running.child.try_wait(), Ok(None)) {
                let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
                let _ = running.child.wait();
            }
            println!("stopped {} (log: {})", running.name, running.log.display());
        }
    }
}
