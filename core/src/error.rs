//! The one error type of cloudport.
//!
//! Every provider maps its vendor's failures onto [`ErrorKind`] in one place, so a kind means the
//! same thing whichever cloud produced it: code that handles `ErrorKind::PreconditionFailed` on the
//! local filesystem handles it on S3, Azure Blob and Cloud Storage too.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

/// Shorthand for `Result<T, cloudport_core::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A boxed error from a vendor SDK or the operating system, kept as [`Error::source`].
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// What went wrong, with the same meaning on every provider.
///
/// The enum is non-exhaustive: match the kinds you handle and treat the rest as failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The blob, queue or message does not exist.
    NotFound,
    /// A create-only write or copy found the target already present.
    AlreadyExists,
    /// A condition did not hold: an if-match etag changed, or a message lease was lost.
    PreconditionFailed,
    /// A read with `if_none_match` found the etag unchanged: nothing to transfer.
    NotModified,
    /// A concurrent conditional request on the same object won; retry the whole operation.
    Conflict,
    /// The request itself is invalid (a bad key, range, attribute name or option); fix the call.
    InvalidInput,
    /// A message, object or batch is over the provider's limit; the error names the limit.
    TooLarge,
    /// No credentials, or credentials the service rejected.
    Unauthenticated,
    /// Valid credentials without permission for this operation.
    PermissionDenied,
    /// The service asked us to slow down; see [`Error::retry_after`].
    Throttled,
    /// The service could not be reached or answered with a transient failure.
    Unavailable,
    /// The operation did not finish in time.
    Timeout,
    /// The provider cannot do this; its capabilities say so too.
    Unsupported,
    /// The configuration (URL, environment, builder) is invalid or incomplete.
    Config,
    /// Anything else; the source error says more.
    Other,
}

impl ErrorKind {
    /// Whether retrying the same request later may succeed.
    #[must_use]
    pub fn is_retryable(self) -> bool {
        matches!(self, Self::Conflict | Self::Throttled | Self::Unavailable | Self::Timeout)
    }

    /// A short lowercase name, as used in tracing fields (`outcome = "not_found"`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::AlreadyExists => "already_exists",
            Self::PreconditionFailed => "precondition_failed",
            Self::NotModified => "not_modified",
            Self::Conflict => "conflict",
            Self::InvalidInput => "invalid_input",
            Self::TooLarge => "too_large",
            Self::Unauthenticated => "unauthenticated",
            Self::PermissionDenied => "permission_denied",
            Self::Throttled => "throttled",
            Self::Unavailable => "unavailable",
            Self::Timeout => "timeout",
            Self::Unsupported => "unsupported",
            Self::Config => "config",
            Self::Other => "other",
        }
    }
}

impl ErrorKind {
    /// Every kind, in declaration order.
    pub const ALL: [ErrorKind; 15] = [
        Self::NotFound,
        Self::AlreadyExists,
        Self::PreconditionFailed,
        Self::NotModified,
        Self::Conflict,
        Self::InvalidInput,
        Self::TooLarge,
        Self::Unauthenticated,
        Self::PermissionDenied,
        Self::Throttled,
        Self::Unavailable,
        Self::Timeout,
        Self::Unsupported,
        Self::Config,
        Self::Other,
    ];

    /// The kind whose [`as_str`](Self::as_str) is `name`.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A cloudport error: a [`kind`](Error::kind), the operation and target it concerns, a message
/// that says what to do next, and the vendor's error as [`source`](StdError::source).
///
/// ```
/// use cloudport_core::{Error, ErrorKind};
///
/// let err = Error::new(ErrorKind::NotFound, "no such object")
///     .with_operation("get")
///     .with_provider("local-fs")
///     .with_target("reports/2026.csv");
/// assert_eq!(err.kind(), ErrorKind::NotFound);
/// assert!(!err.is_retryable());
/// assert_eq!(err.to_string(), "get \"reports/2026.csv\" on local-fs: no such object");
/// ```
pub struct Error {
    kind: ErrorKind,
    message: String,
    operation: Option<&'static str>,
    provider: Option<&'static str>,
    target: Option<String>,
    retry_after: Option<Duration>,
    source: Option<BoxError>,
}

impl Error {
    /// A new error of `kind`. The message is lowercase, without a trailing period, and says what
    /// to do next where there is something to do.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            operation: None,
            provider: None,
            target: None,
            retry_after: None,
            source: None,
        }
    }

    /// Shorthand for an [`ErrorKind::InvalidInput`] error.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    /// Shorthand for an [`ErrorKind::Config`] error.
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }

    /// An [`ErrorKind::Unsupported`] error naming what `provider` cannot do.
    pub fn unsupported(provider: &'static str, what: impl fmt::Display) -> Self {
        Self::new(ErrorKind::Unsupported, format!("{what} is not supported by this provider")).with_provider(provider)
    }

    /// Sets the operation (`"get"`, `"send"`, ...).
    #[must_use]
    pub fn with_operation(mut self, operation: &'static str) -> Self {
        self.operation = Some(operation);
        self
    }

    /// Sets the provider (`"local-fs"`, `"aws-s3"`, ...).
    #[must_use]
    pub fn with_provider(mut self, provider: &'static str) -> Self {
        self.provider = Some(provider);
        self
    }

    /// Sets the key or queue name the error concerns.
    #[must_use]
    pub fn with_target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    /// Sets how long the service asked us to wait before retrying.
    #[must_use]
    pub fn with_retry_after(mut self, delay: Duration) -> Self {
        self.retry_after = Some(delay);
        self
    }

    /// Sets the underlying error.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Fills operation, provider and target where they are not set yet.
    #[must_use]
    pub fn with_context(mut self, operation: &'static str, provider: &'static str, target: Option<&str>) -> Self {
        self.operation.get_or_insert(operation);
        self.provider.get_or_insert(provider);
        if self.target.is_none() {
            self.target = target.map(str::to_owned);
        }
        self
    }

    /// What went wrong.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether retrying later may succeed (see [`ErrorKind::is_retryable`]).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }

    /// How long the service asked us to wait, when it said.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The operation that failed, when known.
    #[must_use]
    pub fn operation(&self) -> Option<&'static str> {
        self.operation
    }

    /// The provider that reported the error, when known.
    #[must_use]
    pub fn provider(&self) -> Option<&'static str> {
        self.provider
    }

    /// The key or queue the error concerns, when known.
    #[must_use]
    pub fn target(&self) -> Option<&str> {
        self.target.as_deref()
    }

    /// The message, without operation, target and provider.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut prefixed = false;
        if let Some(op) = self.operation {
            f.write_str(op)?;
            prefixed = true;
        }
        if let Some(target) = &self.target {
            if prefixed {
                f.write_str(" ")?;
            }
            write!(f, "{target:?}")?;
            prefixed = true;
        }
        if let Some(provider) = self.provider {
            if prefixed {
                f.write_str(" on ")?;
            }
            f.write_str(provider)?;
            prefixed = true;
        }
        if prefixed {
            f.write_str(": ")?;
        }
        f.write_str(&self.message)?;
        if let Some(delay) = self.retry_after {
            write!(f, " (retry after {} ms)", delay.as_millis())?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind).field("message", &self.message);
        if let Some(op) = self.operation {
            d.field("operation", &op);
        }
        if let Some(provider) = self.provider {
            d.field("provider", &provider);
        }
        if let Some(target) = &self.target {
            d.field("target", target);
        }
        if let Some(delay) = self.retry_after {
            d.field("retry_after", &delay);
        }
        if let Some(source) = &self.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn StdError + 'static))
    }
}

impl Error {
    /// The cloudport error inside `error` if there is one (as after a tower layer boxed it);
    /// a tower timeout becomes `Timeout`; anything else becomes `Other` with `error` as source.
    #[must_use]
    pub fn from_box(error: BoxError) -> Self {
        let error = match error.downcast::<Error>() {
            Ok(e) => return *e,
            Err(other) => other,
        };
        if error.is::<tower::timeout::error::Elapsed>() {
            return Error::new(ErrorKind::Timeout, "the function did not finish in time").with_source(error);
        }
        Error::new(ErrorKind::Other, error.to_string()).with_source(error)
    }
}

impl From<http::Error> for Error {
    /// An invalid HTTP response or request built by a handler.
    fn from(e: http::Error) -> Self {
        Error::invalid_input(format!("invalid http message: {e}")).with_source(e)
    }
}

impl From<serde_json::Error> for Error {
    /// JSON that does not match the expected type is `InvalidInput`; an I/O failure while
    /// streaming JSON is `Other`.
    fn from(e: serde_json::Error) -> Self {
        let kind = if e.is_io() { ErrorKind::Other } else { ErrorKind::InvalidInput };
        Error::new(kind, format!("invalid json: {e}")).with_source(e)
    }
}

impl From<std::io::Error> for Error {
    /// Maps an I/O error by its kind; providers add operation and target with
    /// [`Error::with_context`].
    fn from(err: std::io::Error) -> Self {
        use std::io::ErrorKind as Io;
        let (kind, message) = match err.kind() {
            Io::NotFound => (ErrorKind::NotFound, "not found"),
            Io::AlreadyExists => (ErrorKind::AlreadyExists, "already exists"),
            Io::PermissionDenied => (
                ErrorKind::PermissionDenied,
                "permission denied by the operating system (check the directory's owner and mode)",
            ),
            Io::InvalidInput | Io::InvalidFilename => (ErrorKind::InvalidInput, "invalid input"),
            Io::TimedOut => (ErrorKind::Timeout, "timed out"),
            Io::ConnectionRefused | Io::ConnectionReset | Io::ConnectionAborted => {
                (ErrorKind::Unavailable, "connection failed")
            }
            Io::StorageFull | Io::QuotaExceeded => {
                (ErrorKind::Unavailable, "no space left (free some disk space and retry)")
            }
            Io::FileTooLarge => (ErrorKind::TooLarge, "file too large for the filesystem"),
            _ => (ErrorKind::Other, "i/o error"),
        };
        Error::new(kind, message).with_source(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_operation_target_provider_and_hint() {
        let err = Error::new(ErrorKind::Throttled, "slow down")
            .with_context("put", "aws-s3", Some("a/b"))
            .with_retry_after(Duration::from_millis(1500));
        assert_eq!(err.to_string(), "put \"a/b\" on aws-s3: slow down (retry after 1500 ms)");
        assert!(err.is_retryable());
    }

    #[test]
    fn with_context_keeps_what_is_already_set() {
        let err =
            Error::new(ErrorKind::NotFound, "gone").with_target("inner").with_context("get", "memory", Some("outer"));
        assert_eq!(err.target(), Some("inner"));
        assert_eq!(err.operation(), Some("get"));
    }

    #[test]
    fn io_errors_keep_their_source() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "EACCES");
        let err = Error::from(io);
        assert_eq!(err.kind(), ErrorKind::PermissionDenied);
        assert_eq!(err.source().unwrap().to_string(), "EACCES");
    }

    #[test]
    fn error_is_send_sync_static() {
        fn assert_traits<T: Send + Sync + 'static + StdError>() {}
        assert_traits::<Error>();
    }
}
