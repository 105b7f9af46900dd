//! SQLite errors become error kinds here, and nowhere else.

use cloudport_core::{Error, ErrorKind};
use rusqlite::ErrorCode;

/// Maps a SQLite failure to a kind and a message that says what to do next.
pub(super) fn from_sqlite(err: rusqlite::Error) -> Error {
    let (kind, message) = match err.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => (
            ErrorKind::Unavailable,
            "the queue database stayed locked by another connection (retry; raise busy_timeout if this persists)",
        ),
        Some(ErrorCode::DiskFull) => {
            (ErrorKind::Unavailable, "the disk holding the queue database is full (free some space and retry)")
        }
        Some(ErrorCode::SystemIoFailure) => (ErrorKind::Unavailable, "i/o error on the queue database"),
        Some(ErrorCode::CannotOpen) => {
            (ErrorKind::Unavailable, "cannot open the queue database (check that its directory exists and is writable)")
        }
        Some(ErrorCode::ReadOnly | ErrorCode::PermissionDenied) => (
            ErrorKind::PermissionDenied,
            "the queue database is read-only (check the owner and mode of the file and its directory)",
        ),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
            (ErrorKind::Other, "the queue database is corrupt or not a SQLite database")
        }
        Some(ErrorCode::TooBig) => (ErrorKind::TooLarge, "the message is too big for SQLite"),
        _ if matches!(err, rusqlite::Error::FromSqlConversionFailure(..)) => {
            (ErrorKind::Other, "a stored message could not be read (was the file written by a newer version?)")
        }
        _ => (ErrorKind::Other, "sqlite error"),
    };
    Error::new(kind, message).with_source(err)
}

#[cfg(test)]
mod tests {
    use rusqlite::ffi;

    use super::*;

    #[test]
    fn busy_is_retryable_and_keeps_its_source() {
        let err = from_sqlite(rusqlite::Error::SqliteFailure(ffi::Error::new(ffi::SQLITE_BUSY), None));
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        assert!(err.is_retryable());
        assert!(std::error::Error::source(&err).is_some());
        let err = from_sqlite(rusqlite::Error::SqliteFailure(ffi::Error::new(ffi::SQLITE_READONLY), None));
        assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    }
}
