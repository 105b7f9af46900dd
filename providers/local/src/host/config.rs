//! [`LocalHostBuilder`]: the host's settings, from code and from the environment.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use cloudport_core::function::{Function, ResourceOpener, registry};
use cloudport_core::{BlobStore, Error, Queue, Result};

use super::LocalHost;

/// The variable holding the address the HTTP server listens on (default `127.0.0.1:3000`;
/// port 0 picks a free port).
pub const HTTP_ADDR_ENV: &str = "CLOUDPORT_HTTP_ADDR";

/// The variable holding how long shutdown waits for running work, as `30s`, `500ms`, `2m` or
/// a whole number of seconds (default 30 s).
pub const SHUTDOWN_GRACE_ENV: &str = "CLOUDPORT_SHUTDOWN_GRACE";

/// The default HTTP address: loopback only, port 3000.
pub const DEFAULT_HTTP_ADDR: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 3000);

/// The host-wide settings.
#[derive(Debug, Clone)]
pub(crate) struct HostConfig {
    pub(crate) http_addr: SocketAddr,
    pub(crate) shutdown_grace: Duration,
    pub(crate) default_concurrency: usize,
    pub(crate) default_timeout: Duration,
    pub(crate) default_max_deliveries: u32,
    pub(crate) queue_wait: Duration,
    pub(crate) retry_base: Duration,
    pub(crate) retry_max: Duration,
    pub(crate) batch_size: usize,
    pub(crate) lease: Duration,
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            http_addr: DEFAULT_HTTP_ADDR,
            shutdown_grace: Duration::from_secs(30),
            default_concurrency: 64,
            default_timeout: Duration::from_secs(300),
            default_max_deliveries: 5,
            queue_wait: Duration::from_secs(1),
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
            batch_size: 10,
            lease: Duration::from_secs(30),
        }
    }
}

impl HostConfig {
    fn check(&self) -> Result<()> {
        let positive = [
            ("default_concurrency", self.default_concurrency == 0),
            ("default_timeout", self.default_timeout.is_zero()),
            ("default_max_deliveries", self.default_max_deliveries == 0),
            ("batch_size", self.batch_size == 0),
            ("lease", self.lease.is_zero()),
            ("retry_backoff base", self.retry_base.is_zero()),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, zero)| *zero) {
            return Err(Error::config(format!("the local host's {name} must be more than zero")));
        }
        if self.retry_max < self.retry_base {
            return Err(Error::config(format!(
                "the local host's retry_backoff maximum ({:?}) is below its base ({:?})",
                self.retry_max, self.retry_base
            )));
        }
        Ok(())
    }
}

/// Builds a [`LocalHost`]; from [`LocalHost::builder`].
///
/// ```
/// use std::time::Duration;
/// use cloudport_core::function::{Function, HttpRequest, HttpResponse};
/// use cloudport_local::host::LocalHost;
///
/// async fn hello(_req: HttpRequest) -> Result<HttpResponse, cloudport_core::Error> {
///     Ok(HttpResponse::new("hello".into()))
/// }
///
/// let host = LocalHost::builder()
///     .function(Function::http("hello", hello))
///     .http_addr("127.0.0.1:0".parse()?)
///     .shutdown_grace(Duration::from_secs(5))
///     .default_concurrency(16)
///     .build()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub struct LocalHostBuilder {
    pub(crate) functions: Vec<Function>,
    pub(crate) opener: Option<Arc<dyn ResourceOpener>>,
    pub(crate) stores: Vec<(String, Arc<dyn BlobStore>)>,
    pub(crate) queues: Vec<(String, Arc<dyn Queue>)>,
    pub(crate) config: HostConfig,
}

impl LocalHostBuilder {
    pub(crate) fn new() -> Self {
        Self {
            functions: Vec::new(),
            opener: None,
            stores: Vec::new(),
            queues: Vec::new(),
            config: HostConfig::default(),
        }
    }

    /// Adds `functions`.
    pub fn functions(mut self, functions: impl IntoIterator<Item = Function>) -> Self {
        self.functions.extend(functions);
        self
    }

    /// Adds one function.
    pub fn function(mut self, function: Function) -> Self {
        self.functions.push(function);
        self
    }

    /// Opens the stores and queues not registered with [`blob_store`](Self::blob_store) and
    /// [`queue`](Self::queue); those it reports as not configured live in process memory (see
    /// [`FallbackOpener`](super::FallbackOpener)). Without an opener, all of them do.
    pub fn opener(mut self, opener: Arc<dyn ResourceOpener>) -> Self {
        self.opener = Some(opener);
        self
    }

    /// Registers `store` as the blob store called `name`
    /// ([`DEFAULT_STORE`](cloudport_core::function::DEFAULT_STORE) for the default one).
    pub fn blob_store(mut self, name: impl Into<String>, store: Arc<dyn BlobStore>) -> Self {
        self.stores.push((name.into(), store));
        self
    }

    /// Registers `queue` as the queue called `name`.
    pub fn queue(mut self, name: impl Into<String>, queue: Arc<dyn Queue>) -> Self {
        self.queues.push((name.into(), queue));
        self
    }

    /// Listens on `addr` (default `127.0.0.1:3000`; port 0 picks a free one, see
    /// [`RunningHost::http_addr`](super::RunningHost::http_addr)).
    pub fn http_addr(mut self, addr: SocketAddr) -> Self {
        self.config.http_addr = addr;
        self
    }

    /// How long shutdown waits for running work before abandoning it (default 30 s).
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.config.shutdown_grace = grace;
        self
    }

    /// Concurrent invocations per function without a `concurrency` setting (default 64).
    pub fn default_concurrency(mut self, limit: usize) -> Self {
        self.config.default_concurrency = limit;
        self
    }

    /// Timeout of functions without a `timeout` setting (default 300 s).
    pub fn default_timeout(mut self, timeout: Duration) -> Self {
        self.config.default_timeout = timeout;
        self
    }

    /// Deliveries before a message is dead-lettered, for functions without a
    /// `max_deliveries` setting (default 5).
    pub fn default_max_deliveries(mut self, deliveries: u32) -> Self {
        self.config.default_max_deliveries = deliveries;
        self
    }

    /// How long one receive waits for messages (default 1 s).
    pub fn queue_wait(mut self, wait: Duration) -> Self {
        self.config.queue_wait = wait;
        self
    }

    /// Redelivery delay of a message retried without a delay of its own, and of blob events
    /// whose function failed: `base * 2^(delivery_count - 1)`, at most `max` (default 1 s
    /// and 60 s).
    pub fn retry_backoff(mut self, base: Duration, max: Duration) -> Self {
        self.config.retry_base = base;
        self.config.retry_max = max;
        self
    }

    /// Most messages per batch for functions without a `batch_size` setting (default 10).
    pub fn batch_size(mut self, size: usize) -> Self {
        self.config.batch_size = size;
        self
    }

    /// Lease of received messages, renewed every third of it while their handler runs
    /// (default 30 s).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.config.lease = lease;
        self
    }

    /// Reads [`HTTP_ADDR_ENV`] and [`SHUTDOWN_GRACE_ENV`] where they are set.
    ///
    /// # Errors
    /// `Config` naming the variable when its value does not parse.
    pub fn from_env(self) -> Result<Self> {
        self.from_env_with(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) over any variable lookup (for tests).
    ///
    /// # Errors
    /// As [`from_env`](Self::from_env).
    pub fn from_env_with(mut self, var: impl Fn(&str) -> Option<String>) -> Result<Self> {
        if let Some(addr) = var(HTTP_ADDR_ENV).filter(|v| !v.trim().is_empty()) {
            self.config.http_addr = addr.trim().parse().map_err(|e| {
                Error::config(format!(
                    "{HTTP_ADDR_ENV}={addr:?} is not a socket address: {e} (expected host:port, such as 127.0.0.1:3000 or 0.0.0.0:8080)"
                ))
            })?;
        }
        if let Some(grace) = var(SHUTDOWN_GRACE_ENV).filter(|v| !v.trim().is_empty()) {
            self.config.shutdown_grace = parse_duration(&grace).ok_or_else(|| {
                Error::config(format!(
                    "{SHUTDOWN_GRACE_ENV}={grace:?} is not a duration (expected a number with ms, s, m or h, such as 30s)"
                ))
            })?;
        }
        Ok(self)
    }

    /// Checks the functions and settings.
    ///
    /// # Errors
    /// `Config` for duplicate or unportable function names
    /// ([`registry::collect`](cloudport_core::function::registry::collect)), a function setting
    /// of zero, or a host setting of zero.
    pub fn build(self) -> Result<LocalHost> {
        self.config.check()?;
        let functions = registry::collect(self.functions)?;
        for function in &functions {
            let s = function.settings();
            let zero = [
                ("concurrency", s.concurrency == Some(0)),
                ("batch_size", s.batch_size == Some(0)),
                ("max_deliveries", s.max_deliveries == Some(0)),
                ("timeout", s.timeout.is_some_and(|t| t.is_zero())),
            ];
            if let Some((setting, _)) = zero.iter().find(|(_, zero)| *zero) {
                return Err(Error::config(format!(
                    "function {:?} has a {setting} of zero (leave it unset for the host's default)",
                    function.name()
                )));
            }
        }
        Ok(LocalHost { functions, opener: self.opener, stores: self.stores, queues: self.queues, config: self.config })
    }
}

impl fmt::Debug for LocalHostBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.functions.iter().map(Function::name).collect();
        f.debug_struct("LocalHostBuilder")
            .field("functions", &names)
            .field("opener", &self.opener)
            .field("stores", &self.stores.iter().map(|(n, _)| n).collect::<Vec<_>>())
            .field("queues", &self.queues.iter().map(|(n, _)| n).collect::<Vec<_>>())
            .field("config", &self.config)
            .finish()
    }
}

/// Parses `30s`, `500ms`, `2m`, `1h` or a whole number of seconds.
pub(crate) fn parse_duration(value: &str) -> Option<Duration> {
    let value = value.trim();
    let split = value.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "" | "s" | "sec" | "secs" => number,
        "ms" => number / 1000.0,
        "m" | "min" => number * 60.0,
        "h" => number * 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(seconds).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration(" 1h "), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("15"), Some(Duration::from_secs(15)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        for bad in ["", "s", "ten seconds", "-1s", "5d"] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn env_values_are_checked() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
        };
        let b = LocalHostBuilder::new()
            .from_env_with(env(&[(HTTP_ADDR_ENV, "127.0.0.1:0"), (SHUTDOWN_GRACE_ENV, "5s")]))
            .unwrap();
        assert_eq!(b.config.http_addr.port(), 0);
        assert_eq!(b.config.shutdown_grace, Duration::from_secs(5));
        let err = LocalHostBuilder::new().from_env_with(env(&[(HTTP_ADDR_ENV, "localhost")])).unwrap_err();
        assert!(err.to_string().contains(HTTP_ADDR_ENV), "{err}");
        let err = LocalHostBuilder::new().from_env_with(env(&[(SHUTDOWN_GRACE_ENV, "soon")])).unwrap_err();
        assert!(err.to_string().contains(SHUTDOWN_GRACE_ENV), "{err}");
        let b = LocalHostBuilder::new().from_env_with(env(&[])).unwrap();
        assert_eq!(b.config.http_addr, DEFAULT_HTTP_ADDR);
    }

    #[test]
    fn zero_settings_are_refused() {
        async fn f(_: serde_json::Value) -> Result<()> {
            Ok(())
        }
        let err = LocalHostBuilder::new().function(Function::json("f", f).with_concurrency(0)).build().unwrap_err();
        assert!(err.to_string().contains("concurrency of zero"), "{err}");
        let err = LocalHostBuilder::new().batch_size(0).build().unwrap_err();
        assert!(err.to_string().contains("batch_size"), "{err}");
        let err = LocalHostBuilder::new()
            .function(Function::json("f", f))
            .function(Function::json("f", f))
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("two functions"), "{err}");
    }
}
