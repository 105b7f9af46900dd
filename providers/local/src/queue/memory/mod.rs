//! [`MemoryQueue`]: messages in process memory, shared by queue name.

mod state;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use cloudport_core::config::UrlOptions;
use cloudport_core::queue::{check_lease, check_nack_delay};
use cloudport_core::telemetry::{TARGET, queue_op};
use cloudport_core::time::Clock;
use cloudport_core::{
    DeadLetterPolicy, Delivery, Error, Message, MessageId, Queue, QueueCapabilities, Receipt, ReceiveOptions, Result,
};
use tokio::sync::Notify;
use url::Url;

use self::state::{Entry, Next, State};
use super::lease;
use super::poll::long_poll;
use super::settings::Settings;

const PROVIDER: &str = "local-memory";
/// How often a waiting receive re-checks for messages made visible by the clock alone.
const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// Every memory queue of the process, by name. Queues live until the process exits, so a
/// message sent through a handle that is then dropped waits for the next handle.
static REGISTRY: LazyLock<Mutex<HashMap<String, Arc<Shared>>>> = LazyLock::new(Mutex::default);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One named queue, shared by all its handles.
struct Shared {
    /// Random per queue, so message ids differ between queues and between runs.
    prefix: u32,
    state: Mutex<State>,
    /// Wakes receives waiting for a message.
    notify: Notify,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Shared");
        d.field("prefix", &format_args!("{:08x}", self.prefix));
        if let Ok(state) = self.state.try_lock() {
            d.field("messages", &state.len());
        }
        d.finish_non_exhaustive()
    }
}

impl Shared {
    /// The queue named `name`, created empty the first time.
    fn named(name: &str) -> Arc<Self> {
        let mut registry = lock(&REGISTRY);
        if let Some(shared) = registry.get(name) {
            return Arc::clone(shared);
        }
        let shared =
            Arc::new(Self { prefix: rand::random(), state: Mutex::new(State::default()), notify: Notify::new() });
        registry.insert(name.to_owned(), Arc::clone(&shared));
        shared
    }

    fn id(&self, seq: u64) -> MessageId {
        let mut id = String::with_capacity(29);
        lease::push_hex(&mut id, u64::from(self.prefix), 8);
        id.push('-');
        lease::push_decimal(&mut id, seq);
        MessageId::new(id)
    }

    /// The message id, sequence number and lease token in a receipt of this queue.
    fn parse<'r>(&self, receipt: &'r Receipt) -> Result<(&'r str, u64, u64)> {
        let (id, token) = lease::parse_receipt(receipt)?;
        id.split_once('-')
            .and_then(|(prefix, seq)| {
                let ours = prefix.len() == 8 && u32::from_str_radix(prefix, 16).ok() == Some(self.prefix);
                ours.then(|| seq.parse().ok()).flatten()
            })
            .map(|seq| (id, seq, token))
            .ok_or_else(|| lease::foreign_receipt(receipt))
    }

    /// Stores messages moved here from another queue, as new messages visible at once.
    fn push_dead_letters(&self, moved: Vec<(Entry, String)>, now: SystemTime, max_message_size: usize) {
        let mut state = lock(&self.state);
        for (entry, reason) in moved {
            let attributes =
                lease::dead_letter_attributes(entry.attributes, entry.body.len(), &reason, max_message_size);
            state.push(entry.body, attributes, now, now);
        }
        drop(state);
        self.notify.notify_waiters();
    }
}

/// A queue in process memory: fast, and gone when the process exits.
///
/// Handles are cheap to clone. Every handle built for the same name, in this process, shares
/// the same messages; the dead-letter policy, clock and size limit belong to each handle. A
/// dead-letter queue is a queue like any other: `MemoryQueue::named("jobs-dlq")` reads it.
///
/// ```
/// # async fn demo() -> cloudport_core::Result<()> {
/// use cloudport_core::{DeadLetterPolicy, Message, Queue, ReceiveOptions};
/// use cloudport_local::MemoryQueue;
///
/// let jobs = MemoryQueue::builder("doc-jobs").dead_letter(DeadLetterPolicy::new("doc-jobs-dlq", 5)).build()?;
/// jobs.send(Message::new("resize photos/cat.jpg")).await?;
/// for delivery in jobs.receive(ReceiveOptions::default()).await? {
///     jobs.ack(&delivery.receipt).await?;
/// }
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct MemoryQueue {
    inner: Arc<Handle>,
}

#[derive(Debug)]
struct Handle {
    name: String,
    shared: Arc<Shared>,
    dead_letter: Option<DeadLetter>,
    clock: Arc<dyn Clock>,
    caps: QueueCapabilities,
}

#[derive(Debug)]
struct DeadLetter {
    policy: DeadLetterPolicy,
    shared: Arc<Shared>,
}

/// Builds a [`MemoryQueue`]; from [`MemoryQueue::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct MemoryQueueBuilder {
    name: String,
    settings: Settings,
}

impl MemoryQueueBuilder {
    /// Moves messages delivered `policy.max_deliveries` times to the memory queue
    /// `policy.queue` instead of delivering them again, and lets
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

    /// Builds the handle.
    ///
    /// # Errors
    /// `Config` for an invalid queue or dead-letter queue name (1-80 ASCII letters, digits, `-`
    /// and `_`), a dead-letter queue that is the queue itself, `max_deliveries` of 0 or a
    /// `max_message_size` of 0.
    pub fn build(self) -> Result<MemoryQueue> {
        let Self { name, settings } = self;
        settings.check(&name).map_err(|e| e.with_context("build", PROVIDER, Some(&name)))?;
        let caps = settings.capabilities(PROVIDER);
        let dead_letter =
            settings.dead_letter.map(|policy| DeadLetter { shared: Shared::named(&policy.queue), policy });
        let handle = Handle { shared: Shared::named(&name), name, dead_letter, clock: settings.clock, caps };
        Ok(MemoryQueue { inner: Arc::new(handle) })
    }
}

impl MemoryQueue {
    /// A builder for a handle on the memory queue `name`.
    pub fn builder(name: &str) -> MemoryQueueBuilder {
        MemoryQueueBuilder { name: name.to_owned(), settings: Settings::default() }
    }

    /// A handle on the memory queue `name`, with default settings.
    ///
    /// # Panics
    /// If `name` is not a valid queue name (1-80 ASCII letters, digits, `-` and `_`); use
    /// [`builder`](Self::builder) to get an error instead.
    #[must_use]
    pub fn named(name: &str) -> Self {
        Self::builder(name).build().unwrap_or_else(|e| panic!("{e}"))
    }

    /// A handle from a URL: `memory://jobs?dead_letter=jobs-dlq&max_deliveries=5&max_message_size=1048576`.
    ///
    /// Options: `dead_letter` (queue name), `max_deliveries` (default 5, needs `dead_letter`),
    /// `max_message_size` (bytes, default 1 MiB).
    ///
    /// # Errors
    /// `Config` for another scheme, a path, an invalid name or an unknown or invalid option.
    pub fn from_url(url: &Url) -> Result<Self> {
        let config = |message: String| Err(Error::config(message));
        if url.scheme() != "memory" {
            return config(format!("{url} is not a memory:// URL (expected memory://<queue name>)"));
        }
        let name = url.host_str().unwrap_or_default();
        if !matches!(url.path(), "" | "/") || url.port().is_some() || !url.username().is_empty() {
            return config(format!("{url} must name only the queue (expected memory://<queue name>?<options>)"));
        }
        let mut builder = Self::builder(name);
        let mut opts = UrlOptions::new(url);
        builder.settings.take_url_options(&mut opts)?;
        opts.finish()?;
        builder.build()
    }
}

impl Handle {
    fn send(&self, message: Message) -> Result<MessageId> {
        message.validate(&self.caps)?;
        let now = self.clock.now();
        let visible_at = now + message.delay.unwrap_or_default();
        let seq = lock(&self.shared.state).push(message.body, message.attributes, now, visible_at);
        if visible_at <= now {
            self.shared.notify.notify_one();
        }
        Ok(self.shared.id(seq))
    }

    fn send_batch(&self, messages: Vec<Message>) -> Vec<Result<MessageId>> {
        let now = self.clock.now();
        let mut visible_now = false;
        let mut state = lock(&self.shared.state);
        let results = messages
            .into_iter()
            .map(|message| {
                message.validate(&self.caps).map_err(|e| e.with_context("send_batch", PROVIDER, Some(&self.name)))?;
                let visible_at = now + message.delay.unwrap_or_default();
                visible_now |= visible_at <= now;
                Ok(self.shared.id(state.push(message.body, message.attributes, now, visible_at)))
            })
            .collect();
        drop(state);
        if visible_now {
            self.shared.notify.notify_waiters();
        }
        results
    }

    /// Leases up to `max` visible messages, dead-lettering those out of deliveries.
    fn take_visible(&self, lease: Duration, max: usize) -> Vec<Delivery> {
        let now = self.clock.now();
        let until = now + lease;
        let policy = self.dead_letter.as_ref().map(|d| &d.policy);
        let skip = |count| lease::exhausted(count, policy);
        let mut deliveries = Vec::new();
        let mut dead = Vec::new();
        let mut state = lock(&self.shared.state);
        while deliveries.len() < max {
            let token = lease::new_token();
            match state.lease_next(now, until, token, skip) {
                None => break,
                Some(Next::Leased(seq, entry)) => {
                    let id = self.shared.id(seq);
                    let receipt = lease::receipt(id.as_str(), token);
                    let (body, attributes) = (entry.body.clone(), entry.attributes.clone());
                    deliveries.push(Delivery::new(
                        id,
                        body,
                        attributes,
                        entry.delivery_count,
                        entry.enqueued_at,
                        receipt,
                    ));
                }
                Some(Next::Exhausted(entry, reason)) => dead.push((entry, reason)),
            }
        }
        drop(state);
        if !dead.is_empty() {
            self.move_to_dead_letter(dead, now);
        }
        deliveries
    }

    fn move_to_dead_letter(&self, moved: Vec<(Entry, String)>, now: SystemTime) {
        // Entries are only taken out for dead-lettering when a policy exists.
        let Some(dl) = &self.dead_letter else { return };
        for (_, reason) in &moved {
            tracing::debug!(target: TARGET, queue = %self.name, dead_letter_queue = %dl.policy.queue, reason = %reason, "message moved to the dead-letter queue");
        }
        dl.shared.push_dead_letters(moved, now, self.caps.max_message_size);
    }

    async fn receive(&self, opts: ReceiveOptions) -> Result<Vec<Delivery>> {
        let (lease, max) = opts.resolve(&self.caps)?;
        long_poll(opts.wait, POLL_INTERVAL, &self.shared.notify, |_| {
            std::future::ready(Ok(self.take_visible(lease, max)))
        })
        .await
    }

    fn ack(&self, receipt: &Receipt) -> Result<()> {
        let (id, seq, token) = self.shared.parse(receipt)?;
        match lock(&self.shared.state).take(seq, token) {
            Some(_) => Ok(()),
            None => Err(lease::lease_lost(id)),
        }
    }

    fn nack(&self, receipt: &Receipt, delay: Duration) -> Result<()> {
        check_nack_delay(delay, &self.caps)?;
        let (id, seq, token) = self.shared.parse(receipt)?;
        let visible_at = self.clock.now() + delay;
        if !lock(&self.shared.state).release(seq, token, visible_at, None) {
            return Err(lease::lease_lost(id));
        }
        if delay.is_zero() {
            self.shared.notify.notify_one();
        }
        Ok(())
    }

    fn extend_lease(&self, receipt: &Receipt, lease: Duration) -> Result<Receipt> {
        check_lease(lease, &self.caps)?;
        let (id, seq, token) = self.shared.parse(receipt)?;
        let next = lease::new_token();
        if !lock(&self.shared.state).release(seq, token, self.clock.now() + lease, Some(next)) {
            return Err(lease::lease_lost(id));
        }
        Ok(lease::receipt(id, next))
    }

    fn dead_letter(&self, receipt: &Receipt, reason: &str) -> Result<()> {
        if self.dead_letter.is_none() {
            return Err(lease::no_dead_letter_queue(&self.name));
        }
        let (id, seq, token) = self.shared.parse(receipt)?;
        let entry = lock(&self.shared.state).take(seq, token).ok_or_else(|| lease::lease_lost(id))?;
        self.move_to_dead_letter(vec![(entry, reason.to_owned())], self.clock.now());
        Ok(())
    }
}

#[async_trait]
impl Queue for MemoryQueue {
    fn capabilities(&self) -> QueueCapabilities {
        self.inner.caps
    }

    fn name(&self) -> &str {
        &self.inner.name
    }

    async fn send(&self, message: Message) -> Result<MessageId> {
        let bytes = message.body.len() as u64;
        queue_op(PROVIDER, "send", self.name(), async { self.inner.send(message) }, |_| bytes).await
    }

    async fn send_batch(&self, messages: Vec<Message>) -> Result<Vec<Result<MessageId>>> {
        let sizes: Vec<u64> = messages.iter().map(|m| m.body.len() as u64).collect();
        let sent_bytes = move |results: &Vec<Result<MessageId>>| {
            results.iter().zip(&sizes).filter(|(r, _)| r.is_ok()).map(|(_, size)| size).sum()
        };
        queue_op(PROVIDER, "send_batch", self.name(), async { Ok(self.inner.send_batch(messages)) }, sent_bytes).await
    }

    async fn receive(&self, opts: ReceiveOptions) -> Result<Vec<Delivery>> {
        let bytes = |ds: &Vec<Delivery>| ds.iter().map(|d| d.body.len() as u64).sum();
        queue_op(PROVIDER, "receive", self.name(), self.inner.receive(opts), bytes).await
    }

    async fn ack(&self, receipt: &Receipt) -> Result<()> {
        queue_op(PROVIDER, "ack", self.name(), async { self.inner.ack(receipt) }, |()| 0).await
    }

    async fn nack(&self, receipt: &Receipt, delay: Duration) -> Result<()> {
        queue_op(PROVIDER, "nack", self.name(), async { self.inner.nack(receipt, delay) }, |()| 0).await
    }

    async fn extend_lease(&self, receipt: &Receipt, lease: Duration) -> Result<Receipt> {
        queue_op(PROVIDER, "extend_lease", self.name(), async { self.inner.extend_lease(receipt, lease) }, |_| 0).await
    }

    async fn dead_letter(&self, receipt: &Receipt, reason: &str) -> Result<()> {
        queue_op(PROVIDER, "dead_letter", self.name(), async { self.inner.dead_letter(receipt, reason) }, |()| 0).await
    }
}
