//! The queue database: its schema and the statements of each operation.
//!
//! Everything here blocks; the queue runs it on tokio's blocking threads. Each operation is one
//! statement or one short transaction. Receives and moves to a dead-letter queue run in
//! `BEGIN IMMEDIATE` transactions, which take the write lock up front, so two connections (in
//! this process or another) never lease the same message.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use cloudport_core::{Attributes, DeadLetterPolicy, Delivery, Error, MessageId, Result};
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};

use super::codec::{decode_attributes, encode_attributes, from_unix_nanos};
use super::error::from_sqlite;
use crate::queue::lease;

/// WAL pages after which a commit checkpoints (SQLite's default is 1000). A checkpoint syncs
/// the WAL and the database file, which costs far more than the commits between; checkpointing
/// every ~40 MB instead of every ~4 MB makes operations about twice as fast, for a WAL file that
/// may grow to about that size under load.
const WAL_AUTOCHECKPOINT_PAGES: i64 = 10_000;

/// The schema version this code writes, kept in `PRAGMA user_version`.
const SCHEMA_VERSION: i64 = 1;

/// All queues of a file share one table. Times are nanoseconds since the Unix epoch.
/// `visible_at` is when the message is (or becomes again) visible: its send time, the end of
/// its delay, or the end of its lease. `lease_token` is the token of the latest lease: it stays
/// good after the lease expires until the message is delivered again, and is NULL when there
/// is no lease. `AUTOINCREMENT` keeps message ids from being reused after deletes.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS cloudport_messages (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    queue          TEXT    NOT NULL,
    body           BLOB    NOT NULL,
    attributes     BLOB,
    enqueued_at    INTEGER NOT NULL,
    visible_at     INTEGER NOT NULL,
    delivery_count INTEGER NOT NULL DEFAULT 0,
    lease_token    INTEGER
);
CREATE INDEX IF NOT EXISTS cloudport_messages_visible ON cloudport_messages (queue, visible_at);
PRAGMA user_version = 1;
";

const INSERT: &str =
    "INSERT INTO cloudport_messages (queue, body, attributes, enqueued_at, visible_at) VALUES (?1, ?2, ?3, ?4, ?5)";
const ANY_VISIBLE: &str = "SELECT EXISTS (SELECT 1 FROM cloudport_messages WHERE queue = ?1 AND visible_at <= ?2)";
const VISIBLE: &str = "SELECT id, body, attributes, enqueued_at, delivery_count FROM cloudport_messages \
                       WHERE queue = ?1 AND visible_at <= ?2 ORDER BY visible_at, id LIMIT ?3";
const LEASE: &str = "UPDATE cloudport_messages SET delivery_count = delivery_count + 1, lease_token = ?2, \
                     visible_at = ?3 WHERE id = ?1";
const DELETE: &str = "DELETE FROM cloudport_messages WHERE id = ?1";
const DELETE_LEASED: &str = "DELETE FROM cloudport_messages WHERE id = ?1 AND queue = ?2 AND lease_token = ?3";
const TAKE_LEASED: &str =
    "DELETE FROM cloudport_messages WHERE id = ?1 AND queue = ?2 AND lease_token = ?3 RETURNING body, attributes";
const RELEASE: &str = "UPDATE cloudport_messages SET visible_at = ?4, lease_token = ?5 \
                       WHERE id = ?1 AND queue = ?2 AND lease_token = ?3";

/// One connection to a queue database.
#[derive(Debug)]
pub(super) struct Db {
    conn: Mutex<Connection>,
}

/// A message to insert.
pub(super) struct NewMessage<'a> {
    pub(super) body: &'a [u8],
    pub(super) attributes: &'a Attributes,
    pub(super) visible_at: i64,
}

/// A lease named by a receipt.
pub(super) struct LeaseRef<'a> {
    pub(super) queue: &'a str,
    pub(super) id: i64,
    pub(super) token: i64,
}

/// Where and when messages are dead-lettered.
pub(super) struct DeadLetterTarget<'a> {
    pub(super) queue: &'a str,
    /// The size limit of the queue they come from, which the reason attribute must fit in.
    pub(super) max_message_size: usize,
    pub(super) now: i64,
}

/// What a receive asks for.
pub(super) struct ReceiveRequest<'a> {
    pub(super) queue: &'a str,
    pub(super) now: i64,
    /// When the leases it takes end.
    pub(super) until: i64,
    pub(super) max: usize,
    pub(super) dead_letter: Option<&'a DeadLetterPolicy>,
    /// The size limit of this queue, which the reason attribute of a dead-lettered message must fit in.
    pub(super) max_message_size: usize,
    /// Look without the write lock first: a waiting receive re-checking an empty queue.
    pub(super) recheck: bool,
}

/// What a receive got.
#[derive(Debug, Default)]
pub(super) struct Received {
    pub(super) deliveries: Vec<Delivery>,
    /// Messages moved to the dead-letter queue instead of being delivered.
    pub(super) dead_lettered: usize,
}

/// A visible message a receive considers.
struct Candidate {
    id: i64,
    body: Vec<u8>,
    attributes: Attributes,
    enqueued_at: i64,
    delivery_count: u32,
}

impl Candidate {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            body: row.get(1)?,
            attributes: attributes_at(row, 2)?,
            enqueued_at: row.get(3)?,
            delivery_count: row.get(4)?,
        })
    }
}

fn attributes_at(row: &Row<'_>, index: usize) -> rusqlite::Result<Attributes> {
    decode_attributes(row.get_ref(index)?.as_blob_or_null()?)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(index, Type::Blob, e.into()))
}

impl Db {
    /// Opens (creating if missing) the database at `path`, in WAL mode, with the schema.
    ///
    /// `synchronous = NORMAL` in WAL mode survives the process crashing but may lose the last
    /// transactions on power loss; `FULL` survives both, for an fsync per commit.
    pub(super) fn open(path: &Path, synchronous_full: bool, busy_timeout: Duration) -> Result<Self> {
        let conn = Connection::open(path).map_err(from_sqlite)?;
        conn.busy_timeout(busy_timeout).map_err(from_sqlite)?;
        conn.set_prepared_statement_cache_capacity(16);
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(from_sqlite)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::config(format!(
                "{} cannot use SQLite's WAL mode (journal mode stayed {mode:?}; use a file on a local filesystem)",
                path.display()
            )));
        }
        let synchronous = if synchronous_full { "FULL" } else { "NORMAL" };
        conn.pragma_update(None, "synchronous", synchronous).map_err(from_sqlite)?;
        conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES).map_err(from_sqlite)?;
        let mut db = Self { conn: Mutex::new(conn) };
        db.migrate(path)?;
        Ok(db)
    }

    fn migrate(&mut self, path: &Path) -> Result<()> {
        let conn = self.conn.get_mut().unwrap_or_else(PoisonError::into_inner);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(from_sqlite)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(from_sqlite)?;
        match version {
            0 => tx.execute_batch(SCHEMA).map_err(from_sqlite)?,
            SCHEMA_VERSION => {}
            v => {
                return Err(Error::config(format!(
                    "{} has queue schema version {v}, newer than this version of cloudport understands ({SCHEMA_VERSION}); upgrade cloudport",
                    path.display()
                )));
            }
        }
        tx.commit().map_err(from_sqlite)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Inserts one message into `queue`; returns its id.
    pub(super) fn send_one(&self, queue: &str, message: &NewMessage<'_>, now: i64) -> rusqlite::Result<i64> {
        insert(&self.lock(), queue, message, now)
    }

    /// Inserts messages into `queue` in one transaction; returns their ids in order.
    pub(super) fn send_many(&self, queue: &str, messages: &[NewMessage<'_>], now: i64) -> rusqlite::Result<Vec<i64>> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let ids = messages.iter().map(|m| insert(&tx, queue, m, now)).collect::<rusqlite::Result<_>>()?;
        tx.commit()?;
        Ok(ids)
    }

    /// Leases up to `req.max` visible messages of `req.queue`, moving those out of deliveries
    /// to the dead-letter queue on the way.
    pub(super) fn receive(&self, req: &ReceiveRequest<'_>) -> rusqlite::Result<Received> {
        let mut conn = self.lock();
        let mut out = Received::default();
        if req.recheck && !conn.prepare_cached(ANY_VISIBLE)?.query_row(params![req.queue, req.now], |r| r.get(0))? {
            return Ok(out);
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        loop {
            let want = req.max - out.deliveries.len();
            let limit = i64::try_from(want).unwrap_or(i64::MAX);
            let candidates = tx
                .prepare_cached(VISIBLE)?
                .query_map(params![req.queue, req.now, limit], Candidate::from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let fetched = candidates.len();
            for c in candidates {
                match req.dead_letter.zip(lease::exhausted(c.delivery_count, req.dead_letter)) {
                    Some((policy, reason)) => {
                        tracing::debug!(target: cloudport_core::telemetry::TARGET, queue = req.queue, dead_letter_queue = %policy.queue, %reason, "message moved to the dead-letter queue");
                        let to = DeadLetterTarget {
                            queue: &policy.queue,
                            max_message_size: req.max_message_size,
                            now: req.now,
                        };
                        push_dead_letter(&tx, &to, &c.body, c.attributes, &reason)?;
                        tx.prepare_cached(DELETE)?.execute([c.id])?;
                        out.dead_lettered += 1;
                    }
                    None => out.deliveries.push(lease_one(&tx, c, req.until)?),
                }
            }
            if fetched < want || out.deliveries.len() >= req.max {
                break;
            }
        }
        tx.commit()?;
        Ok(out)
    }

    /// Deletes the leased message; false when the lease is gone.
    pub(super) fn ack(&self, lease: &LeaseRef<'_>) -> rusqlite::Result<bool> {
        Ok(self.lock().prepare_cached(DELETE_LEASED)?.execute(params![lease.id, lease.queue, lease.token])? == 1)
    }

    /// Makes the leased message visible at `visible_at` with lease token `next` (`None` ends
    /// the lease); false when the lease is gone.
    pub(super) fn release(&self, lease: &LeaseRef<'_>, visible_at: i64, next: Option<i64>) -> rusqlite::Result<bool> {
        let args = params![lease.id, lease.queue, lease.token, visible_at, next];
        Ok(self.lock().prepare_cached(RELEASE)?.execute(args)? == 1)
    }

    /// Moves the leased message to the dead-letter queue in one transaction, with `reason`;
    /// false when the lease is gone.
    pub(super) fn dead_letter(
        &self,
        lease: &LeaseRef<'_>,
        to: &DeadLetterTarget<'_>,
        reason: &str,
    ) -> rusqlite::Result<bool> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let taken = tx
            .prepare_cached(TAKE_LEASED)?
            .query_row(params![lease.id, lease.queue, lease.token], |row| {
                Ok((row.get::<_, Vec<u8>>(0)?, attributes_at(row, 1)?))
            })
            .optional()?;
        let Some((body, attributes)) = taken else { return Ok(false) };
        push_dead_letter(&tx, to, &body, attributes, reason)?;
        tx.commit()?;
        Ok(true)
    }
}

fn insert(conn: &Connection, queue: &str, message: &NewMessage<'_>, now: i64) -> rusqlite::Result<i64> {
    let attributes = encode_attributes(message.attributes);
    conn.prepare_cached(INSERT)?.execute(params![queue, message.body, attributes, now, message.visible_at])?;
    Ok(conn.last_insert_rowid())
}

fn lease_one(tx: &Transaction<'_>, c: Candidate, until: i64) -> rusqlite::Result<Delivery> {
    let token = lease::new_token();
    tx.prepare_cached(LEASE)?.execute(params![c.id, token.cast_signed(), until])?;
    let id = c.id.to_string();
    let receipt = lease::receipt(&id, token);
    let count = c.delivery_count.saturating_add(1);
    Ok(Delivery::new(
        MessageId::new(id),
        Bytes::from(c.body),
        c.attributes,
        count,
        from_unix_nanos(c.enqueued_at),
        receipt,
    ))
}

fn push_dead_letter(
    tx: &Transaction<'_>,
    to: &DeadLetterTarget<'_>,
    body: &[u8],
    attributes: Attributes,
    reason: &str,
) -> rusqlite::Result<()> {
    let attributes = lease::dead_letter_attributes(attributes, body.len(), reason, to.max_message_size);
    insert(tx, to.queue, &NewMessage { body, attributes: &attributes, visible_at: to.now }, to.now).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(conn: &Connection, sql: &str, args: impl rusqlite::Params) -> Vec<String> {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        stmt.query_map(args, |r| r.get::<_, String>(3)).unwrap().map(Result::unwrap).collect()
    }

    #[test]
    fn receives_walk_the_visibility_index_without_sorting() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("q.db"), false, Duration::from_secs(1)).unwrap();
        let conn = db.lock();
        for steps in [plan(&conn, VISIBLE, params!["q", 0, 10]), plan(&conn, ANY_VISIBLE, params!["q", 0])] {
            assert!(steps.iter().any(|s| s.contains("cloudport_messages_visible")), "{steps:?}");
            assert!(!steps.iter().any(|s| s.contains("TEMP B-TREE")), "{steps:?}");
        }
    }
}
