//! Azure Storage failures mapped onto [`ErrorKind`], in one place for Blob and Queue Storage.
//!
//! The service's error code (`x-ms-error-code`) decides when there is one; the HTTP status when
//! there is not (HEAD responses have no body); transport failures by what azure_core says
//! happened. Messages never repeat a key or a signature.

use std::time::Duration;

use azure_core::error::ErrorKind as AzureKind;
use azure_core::http::headers::HeaderName;
use cloudport_core::{Error, ErrorKind};

/// Retry hint for throttling answers without a `Retry-After` header.
const DEFAULT_THROTTLE_DELAY: Duration = Duration::from_secs(1);

/// What to do about an authentication failure.
const CREDENTIALS_HINT: &str = "check the account key (AccountKey= in AZURE_STORAGE_CONNECTION_STRING) or the SAS token (its signature, permissions and expiry), and the clock";

/// Maps any error of the official Azure Storage clients.
pub(crate) fn map_azure_error(err: azure_core::Error) -> Error {
    let mapped = match err.kind() {
        AzureKind::HttpResponse { status, error_code, raw_response } => {
            let retry_after = raw_response
                .as_ref()
                .and_then(|r| r.headers().get_optional_str(&HeaderName::from_static("retry-after")))
                .and_then(parse_retry_after);
            from_response(u16::from(*status), error_code.as_deref(), retry_after)
        }
        AzureKind::Connection => Error::new(
            ErrorKind::Unavailable,
            "could not reach the Azure Storage endpoint (check the account name or the endpoint in the URL or connection string, and that the service is up)",
        ),
        AzureKind::Io => Error::new(ErrorKind::Unavailable, format!("the connection to Azure Storage failed: {err}")),
        AzureKind::Credential => Error::new(
            ErrorKind::Unauthenticated,
            format!(
                "no usable Azure credential: {err} (sign in with `az login`, or set AZURE_STORAGE_CONNECTION_STRING)"
            ),
        ),
        _ => Error::new(ErrorKind::Other, format!("the Azure Storage request failed: {err}")),
    };
    mapped.with_provider("azure").with_source(err)
}

/// Maps an error answer by its code (or status when there is none).
pub(crate) fn from_response(status: u16, code: Option<&str>, retry_after: Option<Duration>) -> Error {
    let detail = code.map_or_else(|| format!("HTTP {status}"), |c| format!("{c} (HTTP {status})"));
    let (kind, hint) = match (code.unwrap_or(""), status) {
        ("BlobNotFound" | "QueueNotFound" | "ResourceNotFound", _) | ("", 404) => (ErrorKind::NotFound, ""),
        ("CannotVerifyCopySource", 404) => (ErrorKind::NotFound, " (the copy source does not exist)"),
        ("ContainerNotFound", _) => (ErrorKind::Config, " (create the container, or fix its name in the az:// URL)"),
        ("BlobAlreadyExists" | "QueueAlreadyExists" | "ContainerAlreadyExists", _) => (ErrorKind::AlreadyExists, ""),
        // A failed If-None-Match on a read is 304 with code ConditionNotMet: the status decides.
        (_, 304) => (ErrorKind::NotModified, ""),
        ("ConditionNotMet" | "TargetConditionNotMet" | "SourceConditionNotMet", _) | ("", 412) => {
            (ErrorKind::PreconditionFailed, "")
        }
        ("MessageNotFound" | "PopReceiptMismatch", _) => {
            (ErrorKind::PreconditionFailed, " (the lease was lost: the message may be delivered again)")
        }
        ("InvalidRange", _) | (_, 416) => (ErrorKind::InvalidInput, ""),
        ("RequestBodyTooLarge" | "MessageTooLarge" | "BlockListTooLong" | "BlockCountExceedsLimit", _) | (_, 413) => {
            (ErrorKind::TooLarge, "")
        }
        ("ServerBusy" | "TooManyRequests", _) | (_, 429) => {
            let delay = retry_after.unwrap_or(DEFAULT_THROTTLE_DELAY);
            return Error::new(ErrorKind::Throttled, format!("Azure Storage is throttling requests ({detail})"))
                .with_retry_after(delay);
        }
        ("AuthenticationFailed" | "InvalidAuthenticationInfo" | "NoAuthenticationInformation", _) | (_, 401) => {
            return Error::new(
                ErrorKind::Unauthenticated,
                format!("Azure Storage refused the credentials ({detail}): {CREDENTIALS_HINT}"),
            );
        }
        ("AuthorizationFailure", 403) => {
            // Azurite answers a bad signature with AuthorizationFailure; Azure with
            // AuthenticationFailed. Both may be a wrong key, so say both.
            return Error::new(
                ErrorKind::PermissionDenied,
                format!(
                    "Azure Storage refused the request ({detail}): the credentials lack the permission, or are wrong: {CREDENTIALS_HINT}"
                ),
            );
        }
        ("", 403) => {
            // HEAD answers carry no error code: a wrong key looks like a missing permission.
            return Error::new(
                ErrorKind::PermissionDenied,
                format!(
                    "Azure Storage refused the request ({detail}): the credentials lack the permission, or are wrong: {CREDENTIALS_HINT}"
                ),
            );
        }
        (_, 403) => (ErrorKind::PermissionDenied, " (grant the role or SAS permission this operation needs)"),
        ("OperationTimedOut", _) | (_, 408 | 504) => (ErrorKind::Timeout, ""),
        ("QueueBeingDeleted" | "ContainerBeingDeleted" | "LeaseIdMissing" | "LeaseAlreadyPresent", _) => {
            (ErrorKind::Conflict, " (retry shortly)")
        }
        ("ServerTimeout" | "InternalError", _) | (_, 500 | 502 | 503) => {
            let mut e = Error::new(ErrorKind::Unavailable, format!("Azure Storage is unavailable ({detail})"));
            if let Some(delay) = retry_after {
                e = e.with_retry_after(delay);
            }
            return e;
        }
        (_, 409) => (ErrorKind::Conflict, ""),
        (_, 400..=499) => (ErrorKind::InvalidInput, ""),
        _ => (ErrorKind::Other, ""),
    };
    Error::new(kind, format!("{detail}{hint}"))
}

fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_kinds() {
        let kind = |status, code| from_response(status, code, None).kind();
        assert_eq!(kind(404, Some("BlobNotFound")), ErrorKind::NotFound);
        assert_eq!(kind(404, None), ErrorKind::NotFound);
        assert_eq!(kind(404, Some("ContainerNotFound")), ErrorKind::Config);
        assert_eq!(kind(409, Some("BlobAlreadyExists")), ErrorKind::AlreadyExists);
        assert_eq!(kind(412, Some("ConditionNotMet")), ErrorKind::PreconditionFailed);
        assert_eq!(kind(412, None), ErrorKind::PreconditionFailed);
        assert_eq!(kind(404, Some("MessageNotFound")), ErrorKind::PreconditionFailed);
        assert_eq!(kind(400, Some("PopReceiptMismatch")), ErrorKind::PreconditionFailed);
        assert_eq!(kind(304, None), ErrorKind::NotModified);
        assert_eq!(kind(304, Some("ConditionNotMet")), ErrorKind::NotModified);
        assert_eq!(kind(416, Some("InvalidRange")), ErrorKind::InvalidInput);
        assert_eq!(kind(413, Some("RequestBodyTooLarge")), ErrorKind::TooLarge);
        assert_eq!(kind(403, Some("AuthenticationFailed")), ErrorKind::Unauthenticated);
        assert_eq!(kind(403, Some("AuthorizationFailure")), ErrorKind::PermissionDenied);
        assert_eq!(kind(403, Some("AuthorizationPermissionMismatch")), ErrorKind::PermissionDenied);
        assert_eq!(kind(500, Some("OperationTimedOut")), ErrorKind::Timeout);
        assert_eq!(kind(409, Some("QueueBeingDeleted")), ErrorKind::Conflict);
        assert_eq!(kind(500, Some("InternalError")), ErrorKind::Unavailable);
        assert_eq!(kind(400, Some("InvalidMetadata")), ErrorKind::InvalidInput);
    }

    #[test]
    fn throttling_carries_a_retry_hint() {
        let e = from_response(503, Some("ServerBusy"), Some(Duration::from_secs(7)));
        assert_eq!(e.kind(), ErrorKind::Throttled);
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        let e = from_response(503, Some("ServerBusy"), None);
        assert_eq!(e.retry_after(), Some(DEFAULT_THROTTLE_DELAY));
    }

    #[test]
    fn authentication_failures_say_what_to_check() {
        let msg = from_response(403, Some("AuthenticationFailed"), None).to_string();
        assert!(msg.contains("AZURE_STORAGE_CONNECTION_STRING") && msg.contains("SAS"), "{msg}");
    }
}
