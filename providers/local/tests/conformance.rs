//! The conformance suite against every local store and queue.
//!
//! Run with `cargo test -p cloudport-local --test conformance`; outcomes are also written to
//! `<target dir>/conformance/<provider>.jsonl`, or under `$CLOUDPORT_CONFORMANCE_DIR` (see the
//! `cloudport-conformance` crate docs).
//!
//! Every test gets a fresh store or queue: a temporary directory (or SQLite file) for the
//! durable ones, a unique name for the in-memory ones. Queues take a `ManualTime` clock, so
//! leases and delays pass without sleeping.

use std::sync::Arc;

use cloudport_conformance::blob::BlobFixture;
use cloudport_conformance::queue::{ManualTime, QueueFixture, QueueSpec};
use cloudport_local::{FsBlobStore, MemoryBlobStore, MemoryQueue, SqliteQueue};

fn fs_fixture(fsync: bool) -> BlobFixture {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = FsBlobStore::builder(dir.path()).fsync(fsync).build().expect("filesystem store");
    // The directory goes away with the fixture: no need to delete keys one by one.
    BlobFixture::new(Arc::new(store)).with_guard(dir).without_cleanup()
}

mod fs {
    cloudport_conformance::blob_suite!("local-fs", async { super::fs_fixture(true) });
}

mod fs_no_fsync {
    cloudport_conformance::blob_suite!("local-fs-nofsync", async { super::fs_fixture(false) });
}

fn memory_fixture() -> BlobFixture {
    BlobFixture::new(Arc::new(MemoryBlobStore::new())).without_cleanup()
}

mod memory {
    cloudport_conformance::blob_suite!("local-memory", async { super::memory_fixture() });
}

fn memory_queue(spec: QueueSpec) -> QueueFixture {
    let time = ManualTime::new();
    let mut builder = MemoryQueue::builder(&spec.name).clock(time.clock());
    if let Some(policy) = spec.dead_letter.clone() {
        builder = builder.dead_letter(policy);
    }
    let mut fixture = QueueFixture::new(Arc::new(builder.build().expect("memory queue")), Arc::new(time.clone()));
    if let Some(policy) = spec.dead_letter {
        // Same clock as the queue: dead letters arrive stamped with its time.
        let dead_letters = MemoryQueue::builder(&policy.queue).clock(time.clock()).build();
        fixture = fixture.with_dead_letters(Arc::new(dead_letters.expect("memory dead-letter queue")));
    }
    fixture
}

fn sqlite_queue(spec: QueueSpec) -> QueueFixture {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("queues.db");
    let time = ManualTime::new();
    let mut builder = SqliteQueue::builder(&path).queue(spec.name.clone()).clock(time.clock());
    if let Some(policy) = spec.dead_letter.clone() {
        builder = builder.dead_letter(policy);
    }
    let mut fixture = QueueFixture::new(Arc::new(builder.build().expect("sqlite queue")), Arc::new(time.clone()));
    if let Some(policy) = spec.dead_letter {
        let dead_letters = SqliteQueue::builder(&path).queue(policy.queue).clock(time.clock()).build();
        fixture = fixture.with_dead_letters(Arc::new(dead_letters.expect("sqlite dead-letter queue")));
    }
    fixture.with_guard(dir)
}

mod memory_queue {
    cloudport_conformance::queue_suite!("local-memory", |spec| async move { super::memory_queue(spec) });
}

mod sqlite_queue {
    cloudport_conformance::queue_suite!("local-sqlite", |spec| async move { super::sqlite_queue(spec) });
}
