//! [`SqsQueue`]: a [`Queue`] on Amazon SQS (standard queues).

mod codec;
mod setup;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{MessageSystemAttributeName, SendMessageBatchRequestEntry};
use aws_smithy_types::timeout::TimeoutConfig;
use bytes::Bytes;
use cloudport_core::config::UrlOptions;
use cloudport_core::queue::{DEAD_LETTER_REASON_ATTRIBUTE, check_lease, check_nack_delay};
use cloudport_core::telemetry::queue_op;
use cloudport_core::{
    Attributes, DeadLetterPolicy, Delivery, Error, ErrorKind, Message, MessageId, Queue, QueueCapabilities, Receipt,
    ReceiveOptions, Result,
};
use futures::StreamExt;
use tokio::sync::OnceCell;
use url::Url;

use crate::config::{AwsOptions, CONNECT_TIMEOUT, whole_secs};
use crate::error::{from_response, map_sdk_error};
use codec::{Encoded, RESERVED, SQS_MAX_MESSAGE};
use setup::{Resolved, Target};

const PROVIDER: &str = "aws-sqs";
/// SQS's longest long poll.
const MAX_POLL: Duration = Duration::from_secs(20);
/// Pause between short polls when the caller's wait is under a second.
const SHORT_POLL_PAUSE: Duration = Duration::from_millis(200);
/// How long SQS may take to start answering (a long poll plus a margin).
const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Batch requests in flight at once for one `send_batch`.
const BATCH_CONCURRENCY: usize = 4;

/// What SQS can do, and its limits.
pub(crate) fn capabilities() -> QueueCapabilities {
    QueueCapabilities {
        provider: PROVIDER,
        max_message_size: SQS_MAX_MESSAGE - RESERVED,
        max_attributes: 10,
        max_send_batch: 10,
        max_receive: 10,
        max_delay: Duration::from_secs(15 * 60),
        max_nack_delay: Duration::from_secs(12 * 3600),
        min_lease: Duration::from_secs(1),
        max_lease: Duration::from_secs(12 * 3600),
        default_lease: Duration::from_secs(30),
        long_poll: true,
        delivery_count: true,
        detects_lost_lease: false,
        exclusive_lease: false,
        dead_letter: true,
    }
}

/// A queue on Amazon SQS.
///
/// | cloudport | SQS |
/// |---|---|
/// | `send` (delay ≤ 15 min) | `SendMessage` (`DelaySeconds`, whole seconds rounded up) |
/// | `send_batch` | `SendMessageBatch`, 10 messages and ≤ 1 MiB per request, per-entry results |
/// | `receive` (≤ 10, lease 1 s–12 h) | `ReceiveMessage`, long polls of ≤ 20 s repeated up to the wait |
/// | `ack` | `DeleteMessage` |
/// | `nack(delay)`, `extend_lease` | `ChangeMessageVisibility` |
/// | `delivery_count` | `ApproximateReceiveCount` (the counter SQS's own redrive uses) |
/// | attributes | String message attributes (≤ 10) |
/// | dead-lettering after N deliveries | the queue's redrive policy |
/// | `dead_letter(receipt, reason)` | send to the redrive policy's queue (with the reason attribute), then delete |
///
/// Message size counts what SQS counts (body, attribute names, types and values); 256 bytes of
/// SQS's 1 MiB are reserved so that binary bodies, which travel in a binary attribute, fit too
/// (see `max_message_size`). SQS accepts a stale receipt for `ack` (it may or may not delete),
/// so a lost lease is not detected (`detects_lost_lease` is false): handlers must be idempotent,
/// as at-least-once delivery requires anyway.
///
/// `dead_letter` needs the message's body, which SQS cannot return by receipt: it works for
/// deliveries received through this handle (held until acked, nacked or their lease ends).
/// FIFO queues are not supported yet (opening one is `Unsupported`).
#[derive(Clone)]
pub struct SqsQueue {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    aws: AwsOptions,
    create: bool,
    dead_letter: Option<DeadLetterPolicy>,
    resolved: OnceCell<Resolved>,
    /// Deliveries received through this handle, by receipt, for `dead_letter`.
    held: Mutex<HashMap<String, Held>>,
}

struct Held {
    body: Bytes,
    attributes: Attributes,
    until: Instant,
}

impl fmt::Debug for SqsQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqsQueue")
            .field("name", &self.inner.name)
            .field("create", &self.inner.create)
            .field("dead_letter", &self.inner.dead_letter)
            .finish_non_exhaustive()
    }
}

/// Builds an [`SqsQueue`]; see [`SqsQueue::builder`].
#[derive(Debug, Clone)]
pub struct SqsBuilder {
    name: String,
    aws: AwsOptions,
    create: bool,
    dead_letter: Option<DeadLetterPolicy>,
}

impl SqsBuilder {
    /// Region, endpoint, profile or a whole SDK configuration; see [`AwsOptions`].
    #[must_use]
    pub fn aws(mut self, aws: AwsOptions) -> Self {
        self.aws = aws;
        self
    }

    /// Creates the queue (and the dead-letter queue) when missing, and sets the redrive policy.
    #[must_use]
    pub fn create(mut self, on: bool) -> Self {
        self.create = on;
        self
    }

    /// Moves messages to `policy.queue` after `policy.max_deliveries` deliveries, by the queue's
    /// redrive policy: checked on first use, and set there with [`create`](Self::create).
    #[must_use]
    pub fn dead_letter(mut self, policy: DeadLetterPolicy) -> Self {
        self.dead_letter = Some(policy);
        self
    }

    /// The queue. Nothing is sent to AWS until its first operation.
    ///
    /// # Errors
    /// `Config` for an invalid queue name or policy; `Unsupported` for a FIFO queue.
    pub fn build(self) -> Result<SqsQueue> {
        validate_name(&self.name)?;
        if let Some(policy) = &self.dead_letter {
            validate_name(&policy.queue)?;
            if !(1..=1000).contains(&policy.max_deliveries) {
                return Err(Error::config(format!(
                    "SQS redrive policies allow 1 to 1000 deliveries, not {}",
                    policy.max_deliveries
                )));
            }
        }
        Ok(SqsQueue {
            inner: Arc::new(Inner {
                name: self.name,
                aws: self.aws,
                create: self.create,
                dead_letter: self.dead_letter,
                resolved: OnceCell::new(),
                held: Mutex::default(),
            }),
        })
    }
}

fn validate_name(name: &str) -> Result<()> {
    if name.ends_with(".fifo") {
        return Err(Error::unsupported(
            PROVIDER,
            format!("the FIFO queue {name:?} (message groups and deduplication ids)"),
        ));
    }
    let valid =
        (1..=80).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(Error::config(format!("{name:?} is not a valid SQS queue name (1-80 letters, digits, '-' and '_')")))
    }
}

impl SqsQueue {
    /// A builder for the queue named `name`.
    #[must_use]
    pub fn builder(name: impl Into<String>) -> SqsBuilder {
        SqsBuilder { name: name.into(), aws: AwsOptions::default(), create: false, dead_letter: None }
    }

    /// Opens `sqs://name[?options]`.
    ///
    /// Options: `create=true` (create the queue and dead-letter queue when missing, set the
    /// redrive policy), `dead_letter=NAME&max_deliveries=N` (the redrive policy), and the
    /// common `region=`, `endpoint=`, `profile=`.
    ///
    /// ```
    /// let url = "sqs://jobs?dead_letter=jobs-dlq&max_deliveries=5&create=true".parse().unwrap();
    /// let queue = cloudport_aws::SqsQueue::from_url(&url)?;
    /// assert_eq!(cloudport_core::Queue::name(&queue), "jobs");
    /// # Ok::<(), cloudport_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// `Config` for another scheme, a missing or invalid name, or an unknown or invalid option;
    /// `Unsupported` for a FIFO queue.
    pub fn from_url(url: &Url) -> Result<Self> {
        if url.scheme() != "sqs" {
            return Err(Error::config(format!("{url} is not an sqs:// URL")));
        }
        let name = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| Error::config(format!("the SQS URL {url} names no queue (use sqs://queue-name)")))?;
        if !matches!(url.path(), "" | "/") {
            return Err(Error::config(format!("the SQS URL {url} has a path; name the queue as sqs://queue-name")));
        }
        let mut opts = UrlOptions::new(url);
        let mut builder = Self::builder(name).aws(AwsOptions::from_url_options(&mut opts));
        if let Some(create) = opts.take_parsed::<bool>("create")? {
            builder = builder.create(create);
        }
        let max_deliveries = opts.take_parsed::<u32>("max_deliveries")?;
        match (opts.take("dead_letter"), max_deliveries) {
            (Some(queue), Some(n)) => builder = builder.dead_letter(DeadLetterPolicy::new(queue, n)),
            (None, None) => {}
            _ => return Err(Error::config("sqs:// URLs take dead_letter= and max_deliveries= together")),
        }
        opts.finish()?;
        builder.build()
    }

    /// The SDK client, the queue URL and the dead-letter queue URL, looked up on first use.
    async fn resolved(&self) -> Result<&Resolved> {
        self.inner
            .resolved
            .get_or_try_init(|| async {
                let sdk = self.inner.aws.load().await?;
                let target = Target {
                    name: &self.inner.name,
                    create: self.inner.create,
                    dead_letter: self.inner.dead_letter.as_ref(),
                };
                // Long polls last up to 20 s; an answer that has not started 40 s later is not
                // coming (the request is retried, then fails with `Timeout`).
                let timeouts =
                    TimeoutConfig::builder().connect_timeout(CONNECT_TIMEOUT).read_timeout(READ_TIMEOUT).build();
                let config = aws_sdk_sqs::config::Builder::from(&sdk).timeout_config(timeouts).build();
                setup::resolve(Client::from_conf(config), target).await
            })
            .await
    }

    /// The queue's URL.
    ///
    /// # Errors
    /// As the first operation: `NotFound` when the queue does not exist (and `create` is off),
    /// `Config` or `Unauthenticated` when AWS is not configured.
    pub async fn queue_url(&self) -> Result<&str> {
        Ok(&self.resolved().await?.url)
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<String, Held>> {
        self.inner.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn send_inner(&self, message: &Message) -> Result<MessageId> {
        let encoded = codec::encode(message, &capabilities())?;
        let r = self.resolved().await?;
        send_to(&r.client, &r.url, encoded).await
    }

    async fn send_batch_inner(&self, messages: Vec<Message>) -> Result<Vec<Result<MessageId>>> {
        let caps = capabilities();
        let mut results: Vec<Option<Result<MessageId>>> = Vec::with_capacity(messages.len());
        let mut batches: Vec<Vec<(usize, Encoded)>> = Vec::new();
        let mut batch_bytes = 0;
        for (i, message) in messages.iter().enumerate() {
            match codec::encode(message, &caps) {
                Err(e) => results.push(Some(Err(e))),
                Ok(encoded) => {
                    results.push(None);
                    let full = batches
                        .last()
                        .is_none_or(|b| b.len() == caps.max_send_batch || batch_bytes + encoded.size > SQS_MAX_MESSAGE);
                    if full {
                        batches.push(Vec::new());
                        batch_bytes = 0;
                    }
                    batch_bytes += encoded.size;
                    batches.last_mut().expect("a batch was just pushed").push((i, encoded));
                }
            }
        }
        if !batches.is_empty() {
            let r = self.resolved().await?;
            let mut sent = futures::stream::iter(batches)
                .map(|batch| send_batch_request(&r.client, &r.url, batch))
                .buffer_unordered(BATCH_CONCURRENCY);
            while let Some(outcomes) = sent.next().await {
                for (i, outcome) in outcomes {
                    results[i] = Some(outcome);
                }
            }
        }
        Ok(results.into_iter().map(|r| r.expect("every message has an outcome")).collect())
    }

    async fn receive_inner(&self, opts: ReceiveOptions) -> Result<Vec<Delivery>> {
        let (lease, max) = opts.resolve(&capabilities())?;
        let r = self.resolved().await?;
        let started = Instant::now();
        let deadline = started + opts.wait;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let wait = remaining.min(MAX_POLL);
            let out = r
                .client
                .receive_message()
                .queue_url(&r.url)
                .max_number_of_messages(i32::try_from(max).unwrap_or(10))
                .wait_time_seconds(i32::try_from(wait.as_secs()).unwrap_or(20))
                .visibility_timeout(whole_secs(lease))
                .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
                .message_attribute_names("All")
                .send()
                .await
                .map_err(map_sdk_error)?;
            let messages = out.messages.unwrap_or_default();
            if !messages.is_empty() {
                let deliveries = messages.into_iter().map(codec::decode).collect::<Result<Vec<_>>>()?;
                self.hold(&deliveries, lease);
                return Ok(deliveries);
            }
            if Instant::now() >= deadline {
                return Ok(Vec::new());
            }
            if wait.as_secs() == 0 {
                tokio::time::sleep(remaining.min(SHORT_POLL_PAUSE)).await;
            }
        }
    }

    /// Remembers what `dead_letter` needs of each delivery, and forgets deliveries whose lease
    /// ended.
    fn hold(&self, deliveries: &[Delivery], lease: Duration) {
        let now = Instant::now();
        let mut held = self.held();
        held.retain(|_, h| h.until > now);
        for d in deliveries {
            let entry = Held { body: d.body.clone(), attributes: d.attributes.clone(), until: now + lease };
            held.insert(d.receipt.as_str().to_owned(), entry);
        }
    }

    async fn change_visibility(&self, receipt: &Receipt, timeout: Duration) -> Result<()> {
        let r = self.resolved().await?;
        r.client
            .change_message_visibility()
            .queue_url(&r.url)
            .receipt_handle(receipt.as_str())
            .visibility_timeout(whole_secs(timeout))
            .send()
            .await
            .map_err(map_sdk_error)?;
        Ok(())
    }

    async fn ack_inner(&self, receipt: &Receipt) -> Result<()> {
        let r = self.resolved().await?;
        r.client
            .delete_message()
            .queue_url(&r.url)
            .receipt_handle(receipt.as_str())
            .send()
            .await
            .map_err(map_sdk_error)?;
        self.held().remove(receipt.as_str());
        Ok(())
    }

    async fn nack_inner(&self, receipt: &Receipt, delay: Duration) -> Result<()> {
        check_nack_delay(delay, &capabilities())?;
        self.change_visibility(receipt, delay).await?;
        self.held().remove(receipt.as_str());
        Ok(())
    }

    async fn extend_inner(&self, receipt: &Receipt, lease: Duration) -> Result<Receipt> {
        check_lease(lease, &capabilities())?;
        self.change_visibility(receipt, lease).await?;
        if let Some(h) = self.held().get_mut(receipt.as_str()) {
            h.until = Instant::now() + lease;
        }
        Ok(receipt.clone())
    }

    async fn dead_letter_inner(&self, receipt: &Receipt, reason: &str) -> Result<()> {
        let held = self.held().get(receipt.as_str()).map(|h| (h.body.clone(), h.attributes.clone()));
        let Some((body, attributes)) = held else {
            return Err(Error::new(
                ErrorKind::PreconditionFailed,
                "dead_letter needs a delivery received through this queue handle whose lease is still held (SQS cannot return a message by its receipt)",
            ));
        };
        self.move_to_dead_letter(receipt, body, attributes, reason).await
    }

    /// Sends a delivered message (`body`, `attributes`) to the dead-letter queue with `reason`,
    /// then deletes it by `receipt`: what `dead_letter` does, for deliveries that reached us
    /// another way (a Lambda SQS event).
    pub(crate) async fn move_to_dead_letter(
        &self,
        receipt: &Receipt,
        body: Bytes,
        mut attributes: Attributes,
        reason: &str,
    ) -> Result<()> {
        let r = self.resolved().await?;
        let Some(dlq) = &r.dead_letter else {
            return Err(Error::config(format!(
                "SQS queue {} has no dead-letter queue: give it a redrive policy (or open it with dead_letter=NAME&max_deliveries=N&create=true)",
                self.inner.name
            )));
        };
        attributes.insert(DEAD_LETTER_REASON_ATTRIBUTE.to_owned(), reason.to_owned());
        let mut message = Message::new(body);
        message.attributes = attributes;
        let encoded = codec::encode(&message, &capabilities())?;
        send_to(&r.client, dlq, encoded).await?;
        // Sent first, deleted second: a failure in between leaves the message in both queues
        // (at least once), never in neither.
        self.ack_inner(receipt).await
    }
}

async fn send_to(client: &Client, url: &str, encoded: Encoded) -> Result<MessageId> {
    let out = client
        .send_message()
        .queue_url(url)
        .message_body(encoded.body)
        .set_message_attributes(encoded.attributes)
        .set_delay_seconds(encoded.delay_secs)
        .send()
        .await
        .map_err(map_sdk_error)?;
    out.message_id
        .map(MessageId::new)
        .ok_or_else(|| Error::new(ErrorKind::Other, "SQS accepted a message without giving its id"))
}

/// Sends one `SendMessageBatch`; the outcome of each entry by its index in the caller's list.
async fn send_batch_request(
    client: &Client,
    url: &str,
    batch: Vec<(usize, Encoded)>,
) -> Vec<(usize, Result<MessageId>)> {
    let indexes: Vec<usize> = batch.iter().map(|(i, _)| *i).collect();
    let entries: Vec<SendMessageBatchRequestEntry> = batch
        .into_iter()
        .map(|(i, e)| {
            SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(e.body)
                .set_message_attributes(e.attributes)
                .set_delay_seconds(e.delay_secs)
                .build()
                .expect("id and body are set")
        })
        .collect();
    let out = match client.send_message_batch().queue_url(url).set_entries(Some(entries)).send().await {
        Ok(out) => out,
        Err(e) => {
            let e = map_sdk_error(e);
            return indexes.into_iter().map(|i| (i, Err(Error::new(e.kind(), e.to_string())))).collect();
        }
    };
    let mut outcomes: HashMap<usize, Result<MessageId>> = HashMap::new();
    for ok in out.successful() {
        if let Ok(i) = ok.id().parse() {
            outcomes.insert(i, Ok(MessageId::new(ok.message_id())));
        }
    }
    for failed in out.failed() {
        if let Ok(i) = failed.id().parse() {
            let status = if failed.sender_fault() { 400 } else { 500 };
            outcomes.insert(i, Err(from_response(status, Some(failed.code()), failed.message(), None)));
        }
    }
    indexes
        .into_iter()
        .map(|i| {
            let outcome = outcomes.remove(&i).unwrap_or_else(|| {
                Err(Error::new(ErrorKind::Other, "SQS reported neither success nor failure for this message"))
            });
            (i, outcome)
        })
        .collect()
}

#[async_trait]
impl Queue for SqsQueue {
    fn capabilities(&self) -> QueueCapabilities {
        capabilities()
    }

    fn name(&self) -> &str {
        &self.inner.name
    }

    async fn send(&self, message: Message) -> Result<MessageId> {
        let bytes = message.body.len() as u64;
        queue_op(PROVIDER, "send", self.name(), self.send_inner(&message), |_| bytes).await
    }

    async fn send_batch(&self, messages: Vec<Message>) -> Result<Vec<Result<MessageId>>> {
        let sizes: Vec<u64> = messages.iter().map(|m| m.body.len() as u64).collect();
        let sent_bytes = move |results: &Vec<Result<MessageId>>| {
            results.iter().zip(&sizes).filter(|(r, _)| r.is_ok()).map(|(_, size)| size).sum()
        };
        queue_op(PROVIDER, "send_batch", self.name(), self.send_batch_inner(messages), sent_bytes).await
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
        queue_op(PROVIDER, "extend_lease", self.name(), self.extend_inner(receipt, lease), |_| 0).await
    }

    async fn dead_letter(&self, receipt: &Receipt, reason: &str) -> Result<()> {
        queue_op(PROVIDER, "dead_letter", self.name(), self.dead_letter_inner(receipt, reason), |()| 0).await
    }
}
