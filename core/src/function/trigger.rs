//! What starts a function: an HTTP request, queue messages, a blob event, a schedule, or a direct
//! invocation.

use std::borrow::Cow;
use std::fmt;

use super::schedule::Schedule;

/// The event source a function is bound to. Hosts read it to wire the function up (an HTTP route,
/// a queue poller, a blob prefix, a timer) and deploy generators read it to emit each platform's
/// trigger definition.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Trigger {
    /// HTTP requests (API Gateway, Function URLs, Azure HTTP triggers, Cloud Run).
    Http,
    /// Batches of messages from the named queue.
    Queue {
        /// The logical queue name; hosts resolve it to a URL (see [`Resources`](super::Resources)).
        queue: Cow<'static, str>,
    },
    /// Objects created or deleted under a key prefix of the default blob store.
    Blob {
        /// The key prefix; the empty prefix matches every key.
        prefix: Cow<'static, str>,
    },
    /// A cron schedule.
    Schedule(Schedule),
    /// Only direct invocations, with a JSON payload ([`Context::invoke`](super::Context::invoke)).
    Invoke,
}

impl Trigger {
    /// The kind of trigger, as recorded in tracing spans.
    #[must_use]
    pub fn kind(&self) -> TriggerKind {
        match self {
            Self::Http => TriggerKind::Http,
            Self::Queue { .. } => TriggerKind::Queue,
            Self::Blob { .. } => TriggerKind::Blob,
            Self::Schedule(_) => TriggerKind::Schedule,
            Self::Invoke => TriggerKind::Invoke,
        }
    }
}

/// The kind of a [`Trigger`] without its details.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TriggerKind {
    /// [`Trigger::Http`].
    Http,
    /// [`Trigger::Queue`].
    Queue,
    /// [`Trigger::Blob`].
    Blob,
    /// [`Trigger::Schedule`].
    Schedule,
    /// [`Trigger::Invoke`].
    Invoke,
}

impl TriggerKind {
    /// A short lowercase name: `http`, `queue`, `blob`, `schedule` or `invoke`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Queue => "queue",
            Self::Blob => "blob",
            Self::Schedule => "schedule",
            Self::Invoke => "invoke",
        }
    }
}

impl fmt::Display for TriggerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
