//! [`SqliteQueue`]: messages in a SQLite file, durable across crashes and restarts.

mod codec;
mod db;
mod error;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use cloudport_core::config::UrlOptions;
use cloudport_core::queue::{check_lease, check_nack_delay};
use cloudport_core::telemetry::queue_op;
use cloudport_core::time::Clock;
use cloudport_core::{
    DeadLetterPolicy, Delivery, Error, ErrorKind, Message, MessageId, Queue, QueueCapabilities, Receipt,
    ReceiveOptions, Result,
};
use tokio::sync::Notify;
use url::Url;

use self::codec::to_unix_nanos;
use self::db::{Db, DeadLetterTarget, LeaseRef, NewMessage, ReceiveRequest};
use self::error::from_sqlite;
use super::lease;
use super::poll::long_poll;
use super::settings::Settings;

const PROVIDER: &str = "local-sqlite";
/// How often a waiting receive re-checks: for messages made visible by the clock alone, or sent
/// by another process.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
const DEFAULT_QUEUE: &str = "default";
const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Wakers of the receives of this process waiting on a queue of a file, by (file, queue).
type Waiters = HashMap<(PathBuf, String), Arc<Notify>>;
static WAITERS: LazyLock<Mutex<Waiters>> = LazyLock::new(Mutex::default);

fn waiters(path: &Path, queue: &str) -> Arc<Notify> {
    let mut all = WAITERS.lock().unwrap_or_else(PoisonError::into_inner);
    Arc::clone(all.entry((path.to_owned(), queue.to_owned())).or_default())
}

/// A queue in a SQLite file: messages survive the process crashing and restarting.
///
/// Several queues, by name, share one file; a dead-letter queue is another name in the same
/// file. Several handles and several processes may use a file at once: receives take SQLite's
/// write lock (`BEGIN IMMEDIATE`), so no two consumers ever hold a lease on the same message.
///
/// # Durability
/// A message is stored when `send` returns `Ok`, and stays until acked or dead-lettered: a
/// consumer that crashes holding it gets it back after the lease expires, after a restart too,
/// with its delivery count kept. The file uses WAL mode with `synchronous = NORMAL`, which
/// survives the process being killed but may lose the last transactions on power loss or an
/// operating-system crash; [`SqliteQueueBuilder::synchronous_full`] survives those too, for an
/// fsync per operation.
///
/// The write-ahead log is checkpointed into the database every ~40 MB of writes, so under load
/// `queue.db-wal` grows to about that size (and stays there until the last connection closes).
///
/// Each operation runs on tokio's blocking threads (never on the async runtime's workers), so
/// it needs a tokio runtime. A receive whose future is dropped while it runs may still lease
/// messages; like any unacked delivery, they come back when the lease expires.
///
/// ```
/// # async fn demo(dir: &std::path::Path) -> cloudport_core::Result<()> {
/// use cloudport_core::{DeadLetterPolicy, Message, Queue, ReceiveOptions};
/// use cloudport_local::SqliteQueue;
///
/// let jobs = SqliteQueue::builder(dir.join("queue.db"))
///     .queue("jobs")
///     .dead_letter(DeadLetterPolicy::new("jobs-dlq", 5))
///     .build()?;
/// jobs.send(Message::new("resize photos/cat.jpg")).await?;
/// for delivery in jobs.receive(ReceiveOptions::default()).await? {
///     jobs.ack(&delivery.receipt).await?;
/// }
/// # Ok(()) }
/// # let dir = tempfile::tempdir().unwrap();
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo(dir.path())).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct SqliteQueue {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    name: String,
    path: PathBuf,
    db: Db,
    dead_letter: Option<DeadLetterPolicy>,
    clock: Arc<dyn Clock>,
    caps: QueueCapabilities,
    notify: Arc<Notify>,
    dead_letter_notify: Option<Arc<Notify>>,
}

/// Builds a [`SqliteQueue`]; from [`SqliteQueue::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct SqliteQueueBuilder {
    path: PathBuf,
    queue: String,
    settings: Settings,
    synchronous_full: bool,
    busy_timeout: Duration,
}

impl SqliteQueueBuilder {
    /// Uses the queue `name` in the file (default `"default"`).
    pub fn queue(mut self, name: impl Into<String>) -> Self {
        self.queue = name.into();
        self
    }

    /// Moves messages delivered `policy.max_deliveries` times to the queue `policy.queue` of
    /// the same file instead of delivering them again, and lets
    /// [`dead_letter`](Queue::dead_letter) move them there.
    pub fn dead_letter(mut self, policy: DeadLetterPolicy) -> Self {
        self.settings.dead_letter = Some(policy);
        self
    }

    /// Decides delays and lease expiry by `clock` (default: the system clock); tests pass a
    /// [`ManualClock`](cloudport_core::time::ManualClock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.settings.clock = clock;
        self
    }

    /// Largest message, body plus attributes, in bytes (default 1 MiB, as SQS).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.settings.max_message_size = bytes;
        self
    }

    /// Syncs every commit to disk (`synchronous = FULL`), so acknowledged sends survive power
    /// loss too, not only the process crashing. Slower; off by default.
    pub fn synchronous_full(mut self, full: bool) -> Self {
        self.synchronous_full = full;
        self
    }

    /// How long an operation waits for another connection's write lock before failing with
    /// `Unavailable` (default 5 s).
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// Opens the file, creating it and the schema if missing. Blocks while it does.
    ///
    /// # Errors
    /// `Config` for an invalid queue or dead-letter queue name (1-80 ASCII letters, digits, `-`
    /// and `_`), a bad dead-letter policy, a missing directory, or a file written by a newer
    /// version; `PermissionDenied`, `Unavailable` or `Other` when SQLite cannot open the file.
    pub fn build(self) -> Result<SqliteQueue> {
        let Self { path, queue, settings, synchronous_full, busy_timeout } = self;
        let context = |e: Error| e.with_context("build", PROVIDER, Some(&queue));
        settings.check(&queue).map_err(context)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
        {
            return Err(context(Error::config(format!(
                "directory {} of the queue database does not exist (create it first)",
                dir.display()
            ))));
        }
        let db = Db::open(&path, synchronous_full, busy_timeout).map_err(context)?;
        let key = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        let notify = waiters(&key, &queue);
        let dead_letter_notify = settings.dead_letter.as_ref().map(|p| waiters(&key, &p.queue));
        let caps = settings.capabilities(PROVIDER);
        let inner = Inner {
            name: queue,
            path,
            db,
            dead_letter: settings.dead_letter,
            clock: settings.clock,
            caps,
            notify,
            dead_letter_notify,
        };
        Ok(SqliteQueue { inner: Arc::new(inner) })
    }
}

impl SqliteQueue {
    /// A builder for a queue in the SQLite file at `path`.
    pub fn builder(path: impl Into<PathBuf>) -> SqliteQueueBuilder {
        SqliteQueueBuilder {
            path: path.into(),
            queue: DEFAULT_QUEUE.to_owned(),
            settings: Settings::default(),
            synchronous_full: false,
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
        }
    }

    /// A queue from a URL: `sqlite:///var/lib/app/queue.db?queue=jobs&dead_letter=jobs-dlq&max_deliveries=5`.
    ///
    /// Options: `queue` (default `default`), `dead_letter` (queue name), `max_deliveries`
    /// (default 5, needs `dead_letter`), `max_message_size` (bytes, default 1 MiB),
    /// `synchronous` (`normal` or `full`, see [`SqliteQueueBuilder::synchronous_full`]),
    /// `busy_timeout_ms`.
    ///
    /// # Errors
    /// `Config` for another scheme, a path that is not an absolute file path, an unknown or
    /// invalid option; otherwise as [`SqliteQueueBuilder::build`].
    pub fn from_url(url: &Url) -> Result<Self> {
        let example = "sqlite:///var/lib/app/queue.db?queue=jobs";
        if url.scheme() != "sqlite" {
            return Err(Error::config(format!("{url} is not a sqlite:// URL (expected something like {example})")));
        }
        let path =
            url.to_file_path().ok().filter(|_| !url.path().ends_with('/')).ok_or_else(|| {
                Error::config(format!("{url} does not name an absolute file path (expected {example})"))
            })?;
        let mut opts = UrlOptions::new(url);
        let mut builder = Self::builder(path);
        if let Some(queue) = opts.take("queue") {
            builder.queue = queue;
        }
        builder.settings.take_url_options(&mut opts)?;
        match opts.take("synchronous").map(|s| s.to_ascii_lowercase()).as_deref() {
            None | Some("normal") => {}
            Some("full") => builder.synchronous_full = true,
            Some(other) => {
                return Err(Error::config(format!(
                    "option synchronous={other:?} of the sqlite:// URL must be \"normal\" or \"full\""
                )));
            }
        }
        if let Some(ms) = opts.take_parsed::<u64>("busy_timeout_ms")? {
            builder.busy_timeout = Duration::from_millis(ms);
        }
        opts.finish()?;
        builder.build()
    }

    /// The path of the database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` on a blocking thread.
    async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> rusqlite::Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        match tokio::task::spawn_blocking(move || f(&inner)).await {
            Ok(out) => out.map_err(from_sqlite),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(Error::new(ErrorKind::Unavailable, "the tokio runtime is shutting down").with_source(e)),
        }
    }

    /// The lease a receipt names; its id also as text, for errors.
    fn lease_of(receipt: &Receipt) -> Result<(String, i64, i64)> {
        let (id, token) = lease::parse_receipt(receipt)?;
        let num = id.parse().map_err(|_| lease::foreign_receipt(receipt))?;
        Ok((id.to_owned(), num, token.cast_signed()))
    }

    fn now(&self) -> i64 {
        to_unix_nanos(self.inner.clock.now())
    }

    fn visible_at(&self, delay: Duration) -> i64 {
        to_unix_nanos(self.inner.clock.now() + delay)
    }

    async fn send_one(&self, message: Message) -> Result<MessageId> {
        message.validate(&self.inner.caps)?;
        let now = self.now();
        let visible_at = self.visible_at(message.delay.unwrap_or_default());
        let id = self
            .run(move |inner| {
                let m = NewMessage { body: &message.body, attributes: &message.attributes, visible_at };
                inner.db.send_one(&inner.name, &m, now)
            })
            .await?;
        if visible_at <= now {
            self.inner.notify.notify_one();
        }
        Ok(MessageId::new(id.to_string()))
    }

    async fn send_many(&self, messages: Vec<Message>) -> Result<Vec<Result<MessageId>>> {
        let now = self.inner.clock.now();
        let mut results: Vec<Result<MessageId>> = Vec::with_capacity(messages.len());
        let mut valid = Vec::with_capacity(messages.len());
        for message in messages {
            match message.validate(&self.inner.caps) {
                Ok(()) => {
                    let visible_at = to_unix_nanos(now + message.delay.unwrap_or_default());
                    valid.push((results.len(), message, visible_at));
                    results.push(Ok(MessageId::new(String::new())));
                }
                Err(e) => results.push(Err(e.with_context("send_batch", PROVIDER, Some(&self.inner.name)))),
            }
        }
        if valid.is_empty() {
            return Ok(results);
        }
        let now = to_unix_nanos(now);
        let visible_now = valid.iter().any(|(_, _, at)| *at <= now);
        let (slots, ids) = self
            .run(move |inner| {
                let batch: Vec<NewMessage<'_>> = valid
                    .iter()
                    .map(|(_, m, visible_at)| NewMessage {
                        body: &m.body,
                        attributes: &m.attributes,
                        visible_at: *visible_at,
                    })
                    .collect();
                let ids = inner.db.send_many(&inner.name, &batch, now)?;
                Ok((valid.into_iter().map(|(slot, _, _)| slot).collect::<Vec<_>>(), ids))
            })
            .await?;
        for (slot, id) in slots.into_iter().zip(ids) {
            results[slot] = Ok(MessageId::new(id.to_string()));
        }
        if visible_now {
            self.inner.notify.notify_waiters();
        }
        Ok(results)
    }

    async fn receive_once(&self, lease: Duration, max: usize, recheck: bool) -> Result<Vec<Delivery>> {
        let now = self.inner.clock.now();
        let (until, now) = (to_unix_nanos(now + lease), to_unix_nanos(now));
        let received = self
            .run(move |inner| {
                inner.db.receive(&ReceiveRequest {
                    queue: &inner.name,
                    now,
                    until,
                    max,
                    dead_letter: inner.dead_letter.as_ref(),
                    max_message_size: inner.caps.max_message_size,
                    recheck,
                })
            })
            .await?;
        if received.dead_lettered > 0
            && let Some(notify) = &self.inner.dead_letter_notify
        {
            notify.notify_waiters();
        }
        Ok(received.deliveries)
    }

    async fn receive_inner(&self, opts: ReceiveOptions) -> Result<Vec<Delivery>> {
        let (lease, max) = opts.resolve(&self.inner.caps)?;
        long_poll(opts.wait, POLL_INTERVAL, &self.inner.notify, |recheck| self.receive_once(lease, max, recheck)).await
    }

    async fn ack_inner(&self, receipt: &Receipt) -> Result<()> {
        let (text, id, token) = Self::lease_of(receipt)?;
        let acked = self.run(move |inner| inner.db.ack(&LeaseRef { queue: &inner.name, id, token })).await?;
        if acked { Ok(()) } else { Err(lease::lease_lost(&text)) }
    }

    async fn nack_inner(&self, receipt: &Receipt, delay: Duration) -> Result<()> {
        check_nack_delay(delay, &self.inner.caps)?;
        let (text, id, token) = Self::lease_of(receipt)?;
        let visible_at = self.visible_at(delay);
        let released = self
            .run(move |inner| inner.db.release(&LeaseRef { queue: &inner.name, id, token }, visible_at, None))
            .await?;
        if !released {
            return Err(lease::lease_lost(&text));
        }
        if delay.is_zero() {
            self.inner.notify.notify_one();
        }
        Ok(())
    }

    async fn extend_lease_inner(&self, receipt: &Receipt, lease: Duration) -> Result<Receipt> {
        check_lease(lease, &self.inner.caps)?;
        let (text, id, token) = Self::lease_of(receipt)?;
        let until = self.visible_at(lease);
        let next = lease::new_token();
        let extended = self
            .run(move |inner| {
                inner.db.release(&LeaseRef { queue: &inner.name, id, token }, until, Some(next.cast_signed()))
            })
            .await?;
        if extended { Ok(lease::receipt(&text, next)) } else { Err(lease::lease_lost(&text)) }
    }

    async fn dead_letter_inner(&self, receipt: &Receipt, reason: &str) -> Result<()> {
        if self.inner.dead_letter.is_none() {
            return Err(lease::no_dead_letter_queue(&self.inner.name));
        }
        let (text, id, token) = Self::lease_of(receipt)?;
        let (reason, now) = (reason.to_owned(), self.now());
        let moved = self
            .run(move |inner| {
                let Some(policy) = &inner.dead_letter else { return Ok(false) };
                let to = DeadLetterTarget { queue: &policy.queue, max_message_size: inner.caps.max_message_size, now };
                inner.db.dead_letter(&LeaseRef { queue: &inner.name, id, token }, &to, &reason)
            })
            .await?;
        if !moved {
            return Err(lease::lease_lost(&text));
        }
        if let Some(notify) = &self.inner.dead_letter_notify {
            notify.notify_waiters();
        }
        Ok(())
    }
}

#[async_trait]
impl Queue for SqliteQueue {
    fn capabilities(&self) -> QueueCapabilities {
        self.inner.caps
    }

    fn name(&self) -> &str {
        &self.inner.name
    }

    async fn send(&self, message: Message) -> Result<MessageId> {
        let bytes = message.body.len() as u64;
        queue_op(PROVIDER, "send", self.name(), self.send_one(message), |_| bytes).await
    }

    async fn send_batch(&self, messages: Vec<Message>) -> Result<Vec<Result<MessageId>>> {
        let sizes: Vec<u64> = messages.iter().map(|m| m.body.len() as u64).collect();
        let sent_bytes = move |results: &Vec<Result<MessageId>>| {
            results.iter().zip(&sizes).filter(|(r, _)| r.is_ok()).map(|(_, size)| size).sum()
        };
        queue_op(PROVIDER, "send_batch", self.name(), self.send_many(messages), sent_bytes).await
    }

    async fn receive(&self, opts: ReceiveOptions) -> Result<Vec<Delivery>> {
        let bytes = |ds: &Vec<Delivery>| ds.iter().map(|d| d.body.len() as u64).sum();
        queue_op(PROVIDER, "receive", self.name(), self.receive_inner(opts), bytes).await
    }

    async fn ack(&self, receipt: &Receipt) -> Result<()> {
        queue_op(PROVIDER, "ack", self.name(), self.ack_inner(receipt), |()| 0).await
    }

    async fn nack(&self, receipt: &Receipt, delay: Duration) -> Result<()> {
        queue_op(PROVIDER, "nack", self.name(), self.nack_inner(receipt, delay), |()| 0).await
    }

    async fn extend_lease(&self, receipt: &Receipt, lease: Duration) -> Result<Receipt> {
        queue_op(PROVIDER, "extend_lease", self.name(), self.extend_lease_inner(receipt, lease), |_| 0).await
    }

    async fn dead_letter(&self, receipt: &Receipt, reason: &str) -> Result<()> {
        queue_op(PROVIDER, "dead_letter", self.name(), self.dead_letter_inner(receipt, reason), |()| 0).await
    }
}
