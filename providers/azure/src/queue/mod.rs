//! [`AzureQueue`]: a [`Queue`] on Azure Queue Storage.
//!
//! # Message format
//!
//! Azure messages are text (at most 64 KiB) with no attributes. cloudport sends a message
//! without attributes as the **base64 of its body**, as Azure Functions' queue trigger and the
//! other Azure SDKs' base64 policies expect, so any Azure consumer reads it. A message with
//! attributes is sent as a one-line JSON **envelope**:
//!
//! ```json
//! {"cloudport":1,"attributes":{"trace-id":"4bf92f3577b34da6"},"body":"cmVzaXplIHBob3Rvcy9jYXQuanBn"}
//! ```
//!
//! `cloudport` is the envelope's version (1), `attributes` the attributes (strings), `body` the
//! base64 of the body. Receive reads both forms (text starting with `{` is an envelope, since `{`
//! is not a base64 character); text that is neither (sent unencoded by another producer) is
//! delivered as its UTF-8 bytes, with no attributes.
//!
//! The 64 KiB limit applies to the encoded text, checked before any request: a body without
//! attributes may be up to 48 KiB ([`QueueCapabilities::max_message_size`]); with attributes the
//! envelope takes some of that room, and a message that no longer fits fails with `TooLarge`.

mod builder;
mod codec;
mod leases;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use azure_core::http::headers::HeaderName;
use azure_storage_queue::models::{
    QueueClientReceiveMessagesOptions, QueueClientSendMessageOptions, QueueMessage, ReceivedMessage,
};
use azure_storage_queue::{QueueClient, QueueServiceClient, QueueServiceClientOptions};
use bytes::Bytes;
use cloudport_core::queue::{DEAD_LETTER_REASON_ATTRIBUTE, check_lease, check_nack_delay};
use cloudport_core::telemetry::queue_op;
use cloudport_core::{
    Attributes, DeadLetterPolicy, Delivery, Error, ErrorKind, Message, MessageId, Queue, QueueCapabilities, Receipt,
    ReceiveOptions, Result,
};
use futures::StreamExt;
use tokio::sync::OnceCell;

use crate::connection::CONNECTION_STRING_VAR;
pub use builder::{AzureQueueBuilder, poison_queue_name};

use crate::connection::StorageAccount;
use crate::error::map_azure_error;
use leases::{Handle, Leases};

const PROVIDER: &str = "azure-queue";
/// Azure's longest visibility timeout (lease, send delay, nack delay): 7 days.
const MAX_VISIBILITY: Duration = Duration::from_secs(7 * 24 * 3600);
/// Azure's default message time-to-live, kept after a delayed message becomes visible.
const DEFAULT_TTL_SECS: i64 = 7 * 24 * 3600;
/// First pause between empty polls (Azure has no long poll), doubled up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(50);
const MAX_PAUSE: Duration = Duration::from_secs(1);
/// Sends in flight at once for one `send_batch` (Azure has no batch send).
const BATCH_CONCURRENCY: usize = 8;

/// What Azure Queue Storage can do, and its limits.
pub(crate) fn capabilities() -> QueueCapabilities {
    QueueCapabilities {
        provider: PROVIDER,
        max_message_size: codec::MAX_PLAIN_BODY,
        max_attributes: 100,
        max_send_batch: 1,
        max_receive: 32,
        max_delay: MAX_VISIBILITY,
        max_nack_delay: MAX_VISIBILITY,
        min_lease: Duration::from_secs(1),
        max_lease: MAX_VISIBILITY,
        default_lease: Duration::from_secs(30),
        long_poll: false,
        delivery_count: true,
        detects_lost_lease: true,
        exclusive_lease: true,
        dead_letter: true,
    }
}

/// A queue on Azure Queue Storage.
///
/// | cloudport | Azure Queue Storage |
/// |---|---|
/// | `send` (delay ≤ 7 d) | Put Message (`visibilitytimeout`, whole seconds rounded up; a delayed message keeps the default 7 days to live once visible) |
/// | `send_batch` | concurrent Put Message requests (no batch operation), one result per message |
/// | `receive` (≤ 32, lease 1 s–7 d) | Get Messages, polled with backoff (50 ms doubling to 1 s) until the wait ends: Azure has no long poll |
/// | `ack` | Delete Message |
/// | `nack(delay)`, `extend_lease` | Update Message (`visibilitytimeout`) |
/// | `delivery_count` | `DequeueCount` |
/// | attributes | a JSON envelope in the message text (see [the module docs](self)) |
/// | dead-lettering after N deliveries | on receive: a message dequeued more than N times moves to the dead-letter queue instead of being returned |
/// | `dead_letter(receipt, reason)` | Put Message on the dead-letter queue (created when missing) with the reason attribute, then Delete Message |
///
/// Azure gives a message a new pop receipt on every receive and update. The handle keeps the
/// newest per message, so the [`Receipt`] that `receive` returned keeps working for `ack`,
/// `nack` and `extend_lease` after an extension (the receipt `extend_lease` returns works
/// too, also on other handles). Once the message was received again, an old receipt fails with
/// `PreconditionFailed` (`detects_lost_lease`).
///
/// `dead_letter` needs the message's body, which Azure cannot return by id: it works for
/// deliveries received through this handle whose lease is held.
#[derive(Clone)]
pub struct AzureQueue {
    inner: Arc<Inner>,
}

/// Where the queue's account comes from.
#[derive(Debug, Clone)]
enum Source {
    Account(Box<StorageAccount>),
    /// No connection string (or one without a key or SAS): Entra ID would be needed.
    NoCredentials,
}

struct Inner {
    name: String,
    source: Source,
    create: bool,
    dead_letter: Option<DeadLetterPolicy>,
    clients: OnceCell<Clients>,
    leases: Leases,
}

struct Clients {
    queue: QueueClient,
    dead_letters: Option<QueueClient>,
    /// Set once the dead-letter queue is known to exist.
    dead_letters_ready: OnceCell<()>,
}

impl fmt::Debug for AzureQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let account = match &self.inner.source {
            Source::Account(a) => Some(a.name.as_str()),
            Source::NoCredentials => None,
        };
        f.debug_struct("AzureQueue")
            .field("name", &self.inner.name)
            .field("account", &account)
            .field("create", &self.inner.create)
            .field("dead_letter", &self.inner.dead_letter)
            .finish_non_exhaustive()
    }
}

/// Whole seconds for Azure, rounded up.
fn ceil_secs(d: Duration) -> i32 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i32::try_from(secs).unwrap_or(i32::MAX)
}

impl AzureQueue {
    /// The clients, built (and the queue created, with `create`) on first use.
    async fn clients(&self) -> Result<&Clients> {
        self.inner.clients.get_or_try_init(|| self.connect()).await
    }

    async fn connect(&self) -> Result<Clients> {
        let Source::Account(account) = &self.inner.source else {
            return Err(Error::config(format!(
                "no credentials for azure queue {:?}: Microsoft Entra ID sign-in is not supported yet; set {CONNECTION_STRING_VAR} to the storage account's connection string (with AccountKey= or SharedAccessSignature=)",
                self.inner.name
            )));
        };
        let options = QueueServiceClientOptions { client_options: account.client_options(), ..Default::default() };
        let service = QueueServiceClient::new(account.queue_service_url(), None, Some(options))
            .map_err(|e| Error::config(format!("invalid queue endpoint {}", account.queue_endpoint)).with_source(e))?;
        let client = |name: &str| {
            service.queue_client(name).map_err(|e| Error::config(format!("invalid queue name {name:?}")).with_source(e))
        };
        let queue = client(&self.inner.name)?;
        if self.inner.create {
            queue.create(None).await.map_err(map_azure_error)?;
        }
        let dead_letters = self.inner.dead_letter.as_ref().map(|p| client(&p.queue)).transpose()?;
        Ok(Clients { queue, dead_letters, dead_letters_ready: OnceCell::new() })
    }

    /// Maps an error of an operation on the queue, saying what to do when it does not exist.
    fn queue_error(&self, err: azure_core::Error) -> Error {
        let mapped = map_azure_error(err);
        if mapped.kind() == ErrorKind::NotFound {
            return Error::new(
                ErrorKind::NotFound,
                format!(
                    "azure queue {:?} does not exist (create it, or build the queue with create(true) / add create=true to the azqueue:// URL)",
                    self.inner.name
                ),
            )
            .with_source(mapped);
        }
        mapped
    }

    /// Put Message on this queue.
    async fn put(&self, client: &QueueClient, text: String, delay: Option<Duration>) -> Result<MessageId> {
        put(client, text, delay).await.map_err(|e| self.queue_error(e))
    }

    async fn send_inner(&self, message: &Message) -> Result<MessageId> {
        let text = codec::encode(message, &capabilities())?;
        let clients = self.clients().await?;
        self.put(&clients.queue, text, message.delay).await
    }

    async fn send_batch_inner(&self, messages: Vec<Message>) -> Result<Vec<Result<MessageId>>> {
        let caps = capabilities();
        let encoded: Vec<Result<(String, Option<Duration>)>> =
            messages.iter().map(|m| codec::encode(m, &caps).map(|t| (t, m.delay))).collect();
        if encoded.iter().all(Result::is_err) {
            return Ok(encoded.into_iter().filter_map(Result::err).map(Err).collect());
        }
        let clients = self.clients().await?;
        let results = futures::stream::iter(encoded)
            .map(|e| async move {
                match e {
                    Ok((text, delay)) => self.put(&clients.queue, text, delay).await,
                    Err(e) => Err(e),
                }
            })
            .buffered(BATCH_CONCURRENCY)
            .collect()
            .await;
        Ok(results)
    }

    async fn receive_inner(&self, opts: ReceiveOptions) -> Result<Vec<Delivery>> {
        let (lease, max) = opts.resolve(&capabilities())?;
        let clients = self.clients().await?;
        let deadline = Instant::now() + opts.wait;
        let mut pause = FIRST_PAUSE;
        loop {
            let options = QueueClientReceiveMessagesOptions {
                number_of_messages: Some(i32::try_from(max).unwrap_or(32)),
                visibility_timeout: Some(ceil_secs(lease)),
                ..Default::default()
            };
            let received = clients.queue.receive_messages(Some(options)).await.map_err(|e| self.queue_error(e))?;
            let received = received.into_model().map_err(map_azure_error)?.items.unwrap_or_default();
            let mut deliveries = Vec::with_capacity(received.len());
            for message in received {
                if let Some(delivery) = self.deliver(clients, message, lease).await? {
                    deliveries.push(delivery);
                }
            }
            if !deliveries.is_empty() {
                return Ok(deliveries);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Vec::new());
            }
            tokio::time::sleep(pause.min(deadline - now)).await;
            pause = (pause * 2).min(MAX_PAUSE);
        }
    }

    /// A received message as a delivery, or `None` when the dead-letter policy moved it.
    async fn deliver(&self, clients: &Clients, message: ReceivedMessage, lease: Duration) -> Result<Option<Delivery>> {
        let missing = |what: &str| Error::new(ErrorKind::Other, format!("Azure delivered a message without {what}"));
        let id = message.message_id.ok_or_else(|| missing("an id"))?;
        let pop = message.pop_receipt.ok_or_else(|| missing("a pop receipt"))?;
        let text = message.message_text.unwrap_or_default();
        let (body, attributes) = codec::from_text(&text);
        let count = u32::try_from(message.dequeue_count.unwrap_or(1)).unwrap_or(u32::MAX);
        if let Some(policy) = self.inner.dead_letter.as_ref().filter(|p| count > p.max_deliveries) {
            let reason = format!(
                "delivered {count} times, more than the {} deliveries of the dead-letter policy",
                policy.max_deliveries
            );
            let handle = Handle { id, pop };
            self.move_to_dead_letter(clients, &handle, &handle.pop, &text, body, attributes, &reason).await?;
            return Ok(None);
        }
        let enqueued_at = message.insertion_time.map_or(SystemTime::UNIX_EPOCH, SystemTime::from);
        self.inner.leases.hold(&id, &pop, body.clone(), attributes.clone(), lease);
        let receipt = Handle::receipt(&id, &pop);
        Ok(Some(Delivery::new(MessageId::new(id), body, attributes, count, enqueued_at, receipt)))
    }

    /// Update Message: the message becomes visible `visibility` from now; returns the new pop
    /// receipt.
    async fn update(&self, handle: &Handle, pop: &str, visibility: Duration) -> Result<String> {
        let clients = self.clients().await?;
        let response = clients
            .queue
            .update_message(&handle.id, pop, ceil_secs(visibility), None)
            .await
            .map_err(|e| self.queue_error(e))?;
        response
            .headers()
            .get_optional_str(&HeaderName::from_static("x-ms-popreceipt"))
            .map(str::to_owned)
            .ok_or_else(|| Error::new(ErrorKind::Other, "Azure updated a message without giving its new pop receipt"))
    }

    async fn ack_inner(&self, receipt: &Receipt) -> Result<()> {
        let handle = Handle::parse(receipt)?;
        let pop = self.inner.leases.current(&handle);
        let clients = self.clients().await?;
        clients.queue.delete_message(&handle.id, &pop, None).await.map_err(|e| self.queue_error(e))?;
        self.inner.leases.release(&handle.id, &pop);
        Ok(())
    }

    async fn nack_inner(&self, receipt: &Receipt, delay: Duration) -> Result<()> {
        check_nack_delay(delay, &capabilities())?;
        let handle = Handle::parse(receipt)?;
        let pop = self.inner.leases.current(&handle);
        self.update(&handle, &pop, delay).await?;
        self.inner.leases.release(&handle.id, &pop);
        Ok(())
    }

    async fn extend_inner(&self, receipt: &Receipt, lease: Duration) -> Result<Receipt> {
        check_lease(lease, &capabilities())?;
        let handle = Handle::parse(receipt)?;
        let pop = self.inner.leases.current(&handle);
        let new = self.update(&handle, &pop, lease).await?;
        self.inner.leases.updated(&handle.id, &pop, &new, lease);
        Ok(Handle::receipt(&handle.id, &new))
    }

    async fn dead_letter_inner(&self, receipt: &Receipt, reason: &str) -> Result<()> {
        let handle = Handle::parse(receipt)?;
        let clients = self.clients().await?;
        if clients.dead_letters.is_none() {
            return Err(self.no_dead_letter_queue());
        }
        let Some((body, attributes)) = self.inner.leases.message(&handle) else {
            return Err(Error::new(
                ErrorKind::PreconditionFailed,
                "dead_letter needs a delivery received through this queue handle whose lease is still held (Azure cannot return a message by its id)",
            ));
        };
        let pop = self.inner.leases.current(&handle);
        let original = codec::to_text(&body, &attributes);
        self.move_to_dead_letter(clients, &handle, &pop, &original, body, attributes, reason).await
    }

    fn no_dead_letter_queue(&self) -> Error {
        Error::config(format!(
            "azure queue {:?} has no dead-letter queue: build it with .dead_letter(DeadLetterPolicy::new(\"{}\", 5)), or add max_deliveries=N to the azqueue:// URL",
            self.inner.name,
            poison_queue_name(&self.inner.name)
        ))
    }

    /// Puts the message on the dead-letter queue with `reason` (as it came, `original`, when the
    /// reason does not fit in 64 KiB), then deletes it from this queue with `pop`.
    #[allow(clippy::too_many_arguments)]
    async fn move_to_dead_letter(
        &self,
        clients: &Clients,
        handle: &Handle,
        pop: &str,
        original: &str,
        body: Bytes,
        mut attributes: Attributes,
        reason: &str,
    ) -> Result<()> {
        let Some(dead_letters) = &clients.dead_letters else {
            return Err(self.no_dead_letter_queue());
        };
        attributes.insert(DEAD_LETTER_REASON_ATTRIBUTE.to_owned(), reason.to_owned());
        let text = codec::to_text(&body, &attributes);
        let text = if codec::check_text_size(&text).is_ok() { text } else { original.to_owned() };
        clients
            .dead_letters_ready
            .get_or_try_init(|| async { dead_letters.create(None).await.map(|_| ()).map_err(map_azure_error) })
            .await?;
        put(dead_letters, text, None).await.map_err(map_azure_error)?;
        // Put first, deleted second: a failure in between leaves the message in both queues (at
        // least once), never in neither.
        clients.queue.delete_message(&handle.id, pop, None).await.map_err(|e| self.queue_error(e))?;
        self.inner.leases.release(&handle.id, pop);
        Ok(())
    }
}

/// Put Message: `text`, visible after `delay`.
async fn put(client: &QueueClient, text: String, delay: Option<Duration>) -> azure_core::Result<MessageId> {
    let content = QueueMessage { message_text: Some(text) }.try_into()?;
    let delay = delay.filter(|d| !d.is_zero()).map(ceil_secs);
    let options = QueueClientSendMessageOptions {
        visibility_timeout: delay,
        // Azure refuses a visibility timeout at or past the time-to-live (default 7 days).
        message_time_to_live: delay.map(|d| i32::try_from(i64::from(d) + DEFAULT_TTL_SECS).unwrap_or(i32::MAX)),
        ..Default::default()
    };
    let sent = client.send_message(content, Some(options)).await?;
    let sent = sent.into_model()?;
    sent.items.into_iter().flatten().find_map(|m| m.message_id).map(MessageId::new).ok_or_else(|| {
        azure_core::Error::with_message(
            azure_core::error::ErrorKind::Other,
            "Azure accepted a message without giving its id",
        )
    })
}

#[async_trait]
impl Queue for AzureQueue {
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
