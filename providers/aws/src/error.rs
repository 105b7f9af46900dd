//! AWS failures mapped onto [`ErrorKind`], in one place for S3, SQS and Lambda.
//!
//! The service's error code decides when there is one; the HTTP status when there is not (HEAD
//! responses have no body, so no code); transport failures by what the SDK says happened.

use std::error::Error as StdError;
use std::time::Duration;

use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use cloudport_core::{Error, ErrorKind};

/// Retry hint for throttling answers without a `Retry-After` header.
const DEFAULT_THROTTLE_DELAY: Duration = Duration::from_secs(1);

const CREDENTIALS_HINT: &str = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (plus AWS_SESSION_TOKEN for temporary credentials), or AWS_PROFILE, or run with an IAM role";

/// Maps any SDK error of any S3, SQS or Lambda operation.
pub(crate) fn map_sdk_error<E>(err: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    let retry_after = err.raw_response().and_then(|r| r.headers().get("retry-after")).and_then(parse_retry_after);
    match &err {
        SdkError::ServiceError(_) | SdkError::ResponseError(_) => {
            let code = err.code().map(str::to_owned);
            let message = err.message().map(str::to_owned);
            from_response(status.unwrap_or(0), code.as_deref(), message.as_deref(), retry_after).with_source(err)
        }
        SdkError::TimeoutError(_) => {
            Error::new(ErrorKind::Timeout, "the request to AWS timed out (check the network, or retry)")
                .with_source(err)
        }
        SdkError::DispatchFailure(failure) => {
            if has_credentials_error(&err) {
                return unauthenticated(err);
            }
            let (kind, what) = if failure.is_timeout() {
                (ErrorKind::Timeout, "timed out connecting to")
            } else {
                (ErrorKind::Unavailable, "could not reach")
            };
            Error::new(
                kind,
                format!(
                    "{what} the AWS endpoint (check AWS_REGION and AWS_ENDPOINT_URL or the endpoint= option, and that the service is up)"
                ),
            )
            .with_source(err)
        }
        _ if has_credentials_error(&err) => unauthenticated(err),
        _ => {
            Error::new(ErrorKind::Other, format!("the AWS request could not be made: {}", chain(&err))).with_source(err)
        }
    }
}

fn unauthenticated(err: impl StdError + Send + Sync + 'static) -> Error {
    Error::new(ErrorKind::Unauthenticated, format!("no usable AWS credentials: {CREDENTIALS_HINT}")).with_source(err)
}

/// Maps an error answer by its code (or status when there is none).
pub(crate) fn from_response(
    status: u16,
    code: Option<&str>,
    message: Option<&str>,
    retry_after: Option<Duration>,
) -> Error {
    let detail = match (code, message) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.to_owned(),
        (None, Some(m)) => m.to_owned(),
        (None, None) => format!("HTTP {status}"),
    };
    let (kind, hint) = match (code.unwrap_or(""), status) {
        ("NoSuchKey" | "NotFound", _) | ("", 404) => (ErrorKind::NotFound, ""),
        ("ResourceNotFoundException", _) => {
            (ErrorKind::NotFound, " (check the function name, or CLOUDPORT_FUNCTION_PREFIX, and the region)")
        }
        ("NoSuchBucket", _) => (ErrorKind::Config, " (create the bucket, or fix the bucket name in the URL)"),
        ("AWS.SimpleQueueService.NonExistentQueue" | "QueueDoesNotExist", _) => {
            (ErrorKind::NotFound, " (create the queue, or add create=true to the sqs:// URL)")
        }
        ("PreconditionFailed", _) | (_, 412) => (ErrorKind::PreconditionFailed, ""),
        (
            "ReceiptHandleIsInvalid"
            | "MessageNotInflight"
            | "AWS.SimpleQueueService.MessageNotInflight"
            | "InvalidReceiptHandle",
            _,
        ) => (ErrorKind::PreconditionFailed, " (the lease was lost: the message may be delivered again)"),
        (_, 304) => (ErrorKind::NotModified, ""),
        ("ConditionalRequestConflict", _) => {
            (ErrorKind::Conflict, " (a concurrent conditional write raced this one: read again and retry)")
        }
        ("InvalidRange", _) | (_, 416) => (ErrorKind::InvalidInput, ""),
        ("EntityTooLarge" | "RequestTooLargeException", _) | (_, 413) => (ErrorKind::TooLarge, ""),
        (
            "SlowDown"
            | "Throttling"
            | "ThrottlingException"
            | "RequestThrottled"
            | "TooManyRequestsException"
            | "RequestLimitExceeded"
            | "AWS.SimpleQueueService.RequestThrottled",
            _,
        )
        | (_, 429) => {
            let delay = retry_after.unwrap_or(DEFAULT_THROTTLE_DELAY);
            return Error::new(ErrorKind::Throttled, format!("AWS is throttling requests ({detail})"))
                .with_retry_after(delay);
        }
        (
            "InvalidAccessKeyId"
            | "SignatureDoesNotMatch"
            | "ExpiredToken"
            | "InvalidClientTokenId"
            | "InvalidToken"
            | "TokenRefreshRequired"
            | "UnrecognizedClientException"
            | "MissingAuthenticationToken",
            _,
        )
        | (_, 401) => (ErrorKind::Unauthenticated, " (check the credentials: "),
        ("AccessDenied" | "AllAccessDisabled" | "AccessDeniedException", _) | (_, 403) => {
            (ErrorKind::PermissionDenied, " (grant the IAM permission this operation needs)")
        }
        ("RequestTimeout", _) | (_, 408 | 504) => (ErrorKind::Timeout, ""),
        ("ServiceUnavailable" | "InternalError", _) | (_, 500 | 502 | 503) => {
            let mut e = Error::new(ErrorKind::Unavailable, format!("AWS is unavailable ({detail})"));
            if let Some(delay) = retry_after {
                e = e.with_retry_after(delay);
            }
            return e;
        }
        (_, 400..=499) => (ErrorKind::InvalidInput, ""),
        _ => (ErrorKind::Other, ""),
    };
    if kind == ErrorKind::Unauthenticated {
        return Error::new(kind, format!("{detail}{hint}{CREDENTIALS_HINT})"));
    }
    Error::new(kind, format!("{detail}{hint}"))
}

fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

fn has_credentials_error(err: &(dyn StdError + 'static)) -> bool {
    let mut next: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = next {
        if e.is::<CredentialsError>() {
            return true;
        }
        next = e.source();
    }
    false
}

/// The error and its sources on one line, for failures the SDK reports only as a chain.
fn chain(err: &(dyn StdError + 'static)) -> String {
    let mut out = err.to_string();
    let mut next = err.source();
    while let Some(e) = next {
        out.push_str(": ");
        out.push_str(&e.to_string());
        next = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_kinds() {
        let kind = |status, code| from_response(status, code, None, None).kind();
        assert_eq!(kind(404, Some("NoSuchKey")), ErrorKind::NotFound);
        assert_eq!(kind(404, None), ErrorKind::NotFound);
        assert_eq!(kind(404, Some("NoSuchBucket")), ErrorKind::Config);
        assert_eq!(kind(412, Some("PreconditionFailed")), ErrorKind::PreconditionFailed);
        assert_eq!(kind(409, Some("ConditionalRequestConflict")), ErrorKind::Conflict);
        assert!(from_response(409, Some("ConditionalRequestConflict"), None, None).is_retryable());
        assert_eq!(kind(304, None), ErrorKind::NotModified);
        assert_eq!(kind(403, Some("AccessDenied")), ErrorKind::PermissionDenied);
        assert_eq!(kind(403, Some("InvalidAccessKeyId")), ErrorKind::Unauthenticated);
        assert_eq!(kind(403, Some("SignatureDoesNotMatch")), ErrorKind::Unauthenticated);
        assert_eq!(kind(416, Some("InvalidRange")), ErrorKind::InvalidInput);
        assert_eq!(kind(400, Some("InvalidParameterValue")), ErrorKind::InvalidInput);
        assert_eq!(kind(400, Some("AWS.SimpleQueueService.NonExistentQueue")), ErrorKind::NotFound);
        assert_eq!(kind(500, Some("InternalError")), ErrorKind::Unavailable);
        assert_eq!(kind(400, Some("RequestTimeout")), ErrorKind::Timeout);
        assert_eq!(kind(404, Some("ResourceNotFoundException")), ErrorKind::NotFound);
        assert_eq!(kind(413, Some("RequestTooLargeException")), ErrorKind::TooLarge);
    }

    #[test]
    fn throttling_carries_a_retry_hint() {
        let e = from_response(503, Some("SlowDown"), Some("Please reduce your request rate."), None);
        assert_eq!(e.kind(), ErrorKind::Throttled);
        assert_eq!(e.retry_after(), Some(DEFAULT_THROTTLE_DELAY));
        let e = from_response(429, None, None, Some(Duration::from_secs(7)));
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    }

    #[test]
    fn authentication_failures_say_what_to_set() {
        let e = from_response(403, Some("InvalidAccessKeyId"), Some("The key does not exist"), None);
        assert!(e.to_string().contains("AWS_ACCESS_KEY_ID"), "{e}");
    }
}
