//! What a handler knows about its invocation, and how it reaches stores, queues and other
//! functions without naming a vendor.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::invoke::{Invoker, InvokerExt, NoInvoker};
use super::resources::{DEFAULT_STORE, Resources};
use super::trace::{TRACEPARENT, TraceContext};
use super::trigger::TriggerKind;
use crate::blob::BlobStore;
use crate::capability::QueueCapabilities;
use crate::error::Result;
use crate::queue::{Delivery, Message, MessageId, Queue, Receipt, ReceiveOptions};

/// One invocation's context: who is running, until when, in which trace, and with which stores,
/// queues and sibling functions.
///
/// Cheap to clone. Hosts build it; tests can too:
///
/// ```
/// use std::time::Duration;
/// use cloudport_core::function::{Context, TriggerKind};
///
/// let ctx = Context::new("resize", TriggerKind::Invoke).with_timeout(Duration::from_secs(30));
/// assert_eq!(ctx.function_name(), "resize");
/// assert!(ctx.remaining().unwrap() <= Duration::from_secs(30));
/// assert_eq!(ctx.request_id().len(), 32);
/// ```
#[derive(Clone)]
pub struct Context {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    request_id: String,
    function: Arc<str>,
    trigger: TriggerKind,
    host: &'static str,
    deadline: Option<Instant>,
    trace: TraceContext,
    parent: Option<TraceContext>,
    resources: Resources,
    invoker: Arc<dyn Invoker>,
}

impl Context {
    /// A context for `function` with a random request id, a new trace, no deadline, no resources
    /// and no invoker. Hosts set the rest with the `with_*` methods.
    #[must_use]
    pub fn new(function: impl Into<Arc<str>>, trigger: TriggerKind) -> Self {
        let trace = TraceContext::new_root();
        Self {
            inner: Arc::new(Inner {
                request_id: trace.trace_id(),
                function: function.into(),
                trigger,
                host: "test",
                deadline: None,
                trace,
                parent: None,
                resources: Resources::empty(),
                invoker: Arc::new(NoInvoker),
            }),
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut Inner)) -> Self {
        f(Arc::make_mut(&mut self.inner));
        self
    }

    /// Sets the request id (the platform's: Lambda's request id, Azure's invocation id, ...).
    #[must_use]
    pub fn with_request_id(self, id: impl Into<String>) -> Self {
        self.edit(|c| c.request_id = id.into())
    }

    /// Sets the host's name, as reported by [`host`](Self::host).
    #[must_use]
    pub fn with_host(self, host: &'static str) -> Self {
        self.edit(|c| c.host = host)
    }

    /// Sets the deadline.
    #[must_use]
    pub fn with_deadline(self, deadline: Instant) -> Self {
        self.edit(|c| c.deadline = Some(deadline))
    }

    /// Sets the deadline `timeout` from now.
    #[must_use]
    pub fn with_timeout(self, timeout: Duration) -> Self {
        self.with_deadline(Instant::now() + timeout)
    }

    /// Joins the trace of the caller or producer whose context is `parent` (from an incoming
    /// `traceparent` header or message attribute): this invocation gets a new span in that trace.
    #[must_use]
    pub fn with_parent_trace(self, parent: TraceContext) -> Self {
        self.edit(|c| {
            c.trace = parent.child();
            c.parent = Some(parent);
        })
    }

    /// Sets the stores and queues.
    #[must_use]
    pub fn with_resources(self, resources: Resources) -> Self {
        self.edit(|c| c.resources = resources)
    }

    /// Sets the invoker used by [`invoke`](Self::invoke).
    #[must_use]
    pub fn with_invoker(self, invoker: Arc<dyn Invoker>) -> Self {
        self.edit(|c| c.invoker = invoker)
    }

    /// The platform's id for this invocation.
    #[must_use]
    pub fn request_id(&self) -> &str {
        &self.inner.request_id
    }

    /// The logical name of the running function.
    #[must_use]
    pub fn function_name(&self) -> &str {
        &self.inner.function
    }

    /// What triggered this invocation.
    #[must_use]
    pub fn trigger(&self) -> TriggerKind {
        self.inner.trigger
    }

    /// The host running the function: `local`, `aws-lambda`, `azure-functions`, `cloud-run`, ...
    #[must_use]
    pub fn host(&self) -> &'static str {
        self.inner.host
    }

    /// When the platform will stop this invocation, if it says.
    #[must_use]
    pub fn deadline(&self) -> Option<Instant> {
        self.inner.deadline
    }

    /// Time left until the deadline (zero once it passed), if there is one.
    #[must_use]
    pub fn remaining(&self) -> Option<Duration> {
        self.inner.deadline.map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// This invocation's trace context; messages sent through [`queue`](Self::queue) carry it.
    #[must_use]
    pub fn trace(&self) -> &TraceContext {
        &self.inner.trace
    }

    /// The caller's or producer's trace context, when the invocation arrived with one.
    #[must_use]
    pub fn parent_trace(&self) -> Option<&TraceContext> {
        self.inner.parent.as_ref()
    }

    /// The stores and queues of the host.
    #[must_use]
    pub fn resources(&self) -> &Resources {
        &self.inner.resources
    }

    /// The default blob store (`CLOUDPORT_BLOB_URL`).
    ///
    /// # Errors
    /// `Config` naming the variable to set when no default store is configured.
    pub fn blob(&self) -> Result<Arc<dyn BlobStore>> {
        self.inner.resources.blob_store(DEFAULT_STORE)
    }

    /// The blob store called `name` (`CLOUDPORT_BLOB_URL_<NAME>`).
    ///
    /// # Errors
    /// `Config` naming the variable to set when the store is not configured.
    pub fn blob_store(&self, name: &str) -> Result<Arc<dyn BlobStore>> {
        self.inner.resources.blob_store(name)
    }

    /// The queue called `name` (`CLOUDPORT_QUEUE_URL_<NAME>`). Messages sent through it carry
    /// this invocation's trace context in the `traceparent` attribute, so the consumer's span
    /// joins this trace.
    ///
    /// # Errors
    /// `Config` naming the variable to set when the queue is not configured.
    pub fn queue(&self, name: &str) -> Result<Arc<dyn Queue>> {
        let queue = self.inner.resources.queue(name)?;
        Ok(Arc::new(TracedQueue { inner: queue, trace: self.inner.trace }))
    }

    /// Runs the function `function` with `input` as JSON and returns its JSON output, decoded.
    ///
    /// # Errors
    /// `NotFound` for an unknown function, the callee's error (same kind), `InvalidInput` when the
    /// output does not decode into `O`, and the host's transport errors.
    pub async fn invoke<I, O>(&self, function: &str, input: &I) -> Result<O>
    where
        I: Serialize + ?Sized,
        O: DeserializeOwned,
    {
        self.inner.invoker.invoke_json(function, input, self.inner.trace.child()).await
    }

    /// Starts the function `function` with `input` as JSON, without waiting for it.
    ///
    /// # Errors
    /// `NotFound` for an unknown function and the host's transport errors.
    pub async fn invoke_async<I>(&self, function: &str, input: &I) -> Result<()>
    where
        I: Serialize + ?Sized,
    {
        self.inner.invoker.invoke_json_async(function, input, self.inner.trace.child()).await
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.inner;
        f.debug_struct("Context")
            .field("request_id", &c.request_id)
            .field("function", &c.function)
            .field("trigger", &c.trigger)
            .field("host", &c.host)
            .field("deadline", &c.deadline)
            .field("trace", &c.trace)
            .field("parent", &c.parent)
            .finish_non_exhaustive()
    }
}

/// A queue that stamps each sent message with the sender's trace context, unless the message
/// already has one or has no attribute slot left.
#[derive(Debug)]
struct TracedQueue {
    inner: Arc<dyn Queue>,
    trace: TraceContext,
}

impl TracedQueue {
    fn stamp(&self, mut message: Message, caps: &QueueCapabilities) -> Message {
        let value = self.trace.child().to_traceparent();
        let fits = message.attributes.len() < caps.max_attributes
            && message.size() + TRACEPARENT.len() + value.len() <= caps.max_message_size;
        if fits && !message.attributes.contains_key(TRACEPARENT) {
            message.attributes.insert(TRACEPARENT.to_owned(), value);
        }
        message
    }
}

#[async_trait]
impl Queue for TracedQueue {
    fn capabilities(&self) -> QueueCapabilities {
        self.inner.capabilities()
    }

    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn send(&self, message: Message) -> Result<MessageId> {
        let caps = self.inner.capabilities();
        self.inner.send(self.stamp(message, &caps)).await
    }

    async fn send_batch(&self, messages: Vec<Message>) -> Result<Vec<Result<MessageId>>> {
        let caps = self.inner.capabilities();
        self.inner.send_batch(messages.into_iter().map(|m| self.stamp(m, &caps)).collect()).await
    }

    async fn receive(&self, opts: ReceiveOptions) -> Result<Vec<Delivery>> {
        self.inner.receive(opts).await
    }

    async fn ack(&self, receipt: &Receipt) -> Result<()> {
        self.inner.ack(receipt).await
    }

    async fn nack(&self, receipt: &Receipt, delay: Duration) -> Result<()> {
        self.inner.nack(receipt, delay).await
    }

    async fn extend_lease(&self, receipt: &Receipt, lease: Duration) -> Result<Receipt> {
        self.inner.extend_lease(receipt, lease).await
    }

    async fn dead_letter(&self, receipt: &Receipt, reason: &str) -> Result<()> {
        self.inner.dead_letter(receipt, reason).await
    }
}
