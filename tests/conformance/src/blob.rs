//! Blob store behaviours: every [`BlobStore`] must pass them all.
//!
//! Each function takes a [`BlobFixture`], works only under the fixture's unique prefix, panics
//! when the store gets the behaviour wrong and returns an [`Outcome`] otherwise. Optional
//! behaviours are chosen by [`BlobStore::capabilities`]; when a capability is off the test checks
//! that the operation fails with [`ErrorKind::Unsupported`] and returns [`Outcome::Unsupported`].
//!
//! Decisions the suite pins down for every provider (the core docs say the same):
//! - `PutMode::IfMatch` on a missing key fails with `PreconditionFailed` (S3 answers 404 there;
//!   its provider maps it).
//! - A streaming writer checks its `PutMode` when it finishes, not when it starts.
//! - Deleting the last key under a prefix makes the prefix disappear from delimited listings.
//! - When `file_and_prefix_coexist` is off, writing `a/b` while `a` exists (or `a` while `a/b`
//!   exists) fails with `Unsupported`.

use std::any::Any;
use std::fmt;
use std::panic::{AssertUnwindSafe, resume_unwind};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use cloudport_core::blob::collect_body;
use cloudport_core::{
    BlobKey, BlobStore, BlobStoreExt, ByteRange, CopyMode, CopyOptions, ETag, ErrorKind, GetOptions, ListEntry,
    ListOptions, Metadata, PresignMethod, PutMode, PutOptions, Result,
};
use futures::{FutureExt, StreamExt, TryStreamExt};

use crate::Outcome;
use crate::util::{expect_kind, join_all, random_hex};

/// Every blob behaviour, in the order the suite runs them.
pub const BEHAVIOURS: &[&str] = crate::__blob_behaviours!(names);

/// How far a store's clock may be from ours when checking `last_modified`.
const CLOCK_SKEW: Duration = Duration::from_secs(120);

/// A blob store under test and the unique prefix a test works under.
pub struct BlobFixture {
    /// The store under test.
    pub store: Arc<dyn BlobStore>,
    /// Unique per test: random, ends with `/`. Tests touch only keys under it.
    pub prefix: String,
    cleanup: bool,
    guard: Option<Box<dyn Any + Send + Sync>>,
    gaps: Vec<(&'static str, String)>,
}

impl fmt::Debug for BlobFixture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobFixture")
            .field("store", &self.store)
            .field("prefix", &self.prefix)
            .field("cleanup", &self.cleanup)
            .finish_non_exhaustive()
    }
}

impl BlobFixture {
    /// A fixture for `store` under a fresh random prefix (`conformance-<16 hex digits>/`). Keys
    /// under the prefix are deleted after the test; see [`without_cleanup`](Self::without_cleanup).
    #[must_use]
    pub fn new(store: Arc<dyn BlobStore>) -> Self {
        Self { store, prefix: format!("conformance-{}/", random_hex()), cleanup: true, guard: None, gaps: Vec::new() }
    }

    /// Keeps `guard` (a temporary directory, an emulator handle) alive as long as the fixture.
    #[must_use]
    pub fn with_guard(mut self, guard: impl Any + Send + Sync) -> Self {
        self.guard = Some(Box::new(guard));
        self
    }

    /// Skips deleting the test's keys afterwards, for stores dropped with the fixture anyway.
    #[must_use]
    pub fn without_cleanup(mut self) -> Self {
        self.cleanup = false;
        self
    }

    /// Declares that the emulator this fixture runs on does not enforce what `behaviour` checks,
    /// although the real service (and the store's capabilities) do. That behaviour then checks
    /// everything else and reports [`Outcome::NotEnforced`] with `reason`; it **fails** if the
    /// emulator turns out to enforce it after all, so a stale gap cannot hide in the report.
    ///
    /// Only behaviours that document an emulator gap honour this: `copy_create_existing`, and
    /// the two races `cas_counter` and `create_only_race` (for emulators whose conditional
    /// writes are checked, but not atomically). A race may pass by luck, so those two cannot
    /// detect a stale gap: they check what still must hold (no invented update, one winner holds
    /// the key) and report the gap.
    #[must_use]
    pub fn with_emulator_gap(mut self, behaviour: &'static str, reason: impl Into<String>) -> Self {
        self.gaps.push((behaviour, reason.into()));
        self
    }

    fn emulator_gap(&self, behaviour: &str) -> Option<&str> {
        self.gaps.iter().find(|(b, _)| *b == behaviour).map(|(_, reason)| reason.as_str())
    }

    /// The key `rel` under the fixture's prefix.
    ///
    /// # Panics
    /// When the key is invalid.
    #[must_use]
    pub fn key(&self, rel: &str) -> BlobKey {
        let full = format!("{}{rel}", self.prefix);
        BlobKey::new(full.clone()).unwrap_or_else(|e| panic!("test key {full:?} is invalid: {e}"))
    }

    /// `rel` under the prefix, as a string (for list prefixes and expected names).
    #[must_use]
    pub fn name(&self, rel: &str) -> String {
        format!("{}{rel}", self.prefix)
    }

    /// Runs `test` on this fixture, then deletes everything under the prefix (unless
    /// [`without_cleanup`](Self::without_cleanup)), even when the test panicked.
    ///
    /// # Panics
    /// When `test` does (the panic is resumed after the clean-up).
    pub async fn run<'a, F, Fut>(&'a self, test: F) -> Outcome
    where
        F: FnOnce(&'a BlobFixture) -> Fut,
        Fut: Future<Output = Outcome> + 'a,
    {
        let result = AssertUnwindSafe(test(self)).catch_unwind().await;
        if self.cleanup {
            self.clean().await;
        }
        match result {
            Ok(outcome) => outcome,
            Err(payload) => resume_unwind(payload),
        }
    }

    async fn clean(&self) {
        let entries: Vec<Result<ListEntry>> = self.store.list(&self.prefix).collect().await;
        for entry in entries {
            let outcome = match entry {
                Ok(ListEntry::Object(o)) => self.store.delete(&o.key).await,
                Ok(ListEntry::Prefix(_)) => Ok(()),
                Err(e) => Err(e),
            };
            if let Err(e) = outcome {
                eprintln!("conformance clean-up under {:?}: {e}", self.prefix);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

async fn read(store: &dyn BlobStore, key: &BlobKey) -> Bytes {
    store.get_bytes(key).await.unwrap_or_else(|e| panic!("get {key:?}: {e}"))
}

async fn put(store: &dyn BlobStore, key: &BlobKey, data: impl Into<Bytes>) -> ETag {
    store.put(key, data.into()).await.unwrap_or_else(|e| panic!("put {key:?}: {e}")).etag
}

#[track_caller]
fn assert_missing_result<T: fmt::Debug>(result: Result<T>, key: &BlobKey, what: &str) {
    expect_kind(result, ErrorKind::NotFound, &format!("{what} of {key:?}"));
}

async fn assert_missing(store: &dyn BlobStore, key: &BlobKey, what: &str) {
    assert_missing_result(store.head(key).await, key, &format!("head after {what}"));
}

async fn list_all(store: &dyn BlobStore, opts: ListOptions) -> Vec<ListEntry> {
    let shown = format!("{opts:?}");
    store.list_opts(opts).try_collect().await.unwrap_or_else(|e| panic!("list {shown}: {e}"))
}

async fn list_names(store: &dyn BlobStore, opts: ListOptions) -> Vec<String> {
    list_all(store, opts).await.iter().map(describe).collect()
}

/// `name` for objects, `name/` + ` (prefix)` for common prefixes, so one string list shows both.
fn describe(entry: &ListEntry) -> String {
    match entry {
        ListEntry::Object(o) => o.key.as_str().to_owned(),
        ListEntry::Prefix(p) => format!("{p} (prefix)"),
    }
}

fn assert_recent(t: SystemTime, before: SystemTime, after: SystemTime, what: &str) {
    assert!(
        t >= before - CLOCK_SKEW && t <= after + CLOCK_SKEW,
        "{what} is {t:?}, not between {before:?} and {after:?} (allowing {CLOCK_SKEW:?} of clock skew)"
    );
}

fn body_pattern(len: usize) -> Bytes {
    (0..len).map(|i| (i % 251) as u8).collect::<Vec<_>>().into()
}

// Deterministic pseudo-random data for the large object: chunk `i` is an xorshift64 stream
// seeded from `i`, so any byte can be regenerated without keeping the object.

const LARGE_SIZE: u64 = 64 * 1024 * 1024;
/// Not a power of two, so chunk edges never line up with a store's own buffers.
const LARGE_CHUNK: u64 = 1024 * 1024 - 3;
const SEED: u64 = 0x636c_6f75_6470_6f72;

fn large_chunk_count() -> u64 {
    LARGE_SIZE.div_ceil(LARGE_CHUNK)
}

fn large_chunk(index: u64) -> Bytes {
    let start = index * LARGE_CHUNK;
    let len = LARGE_CHUNK.min(LARGE_SIZE - start) as usize;
    let mut x = SEED ^ (index + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    if x == 0 {
        x = 1;
    }
    let mut buf = vec![0u8; len];
    let mut words = buf.chunks_exact_mut(8);
    for word in &mut words {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        word.copy_from_slice(&x.to_le_bytes());
    }
    let rest = words.into_remainder();
    x ^= x << 13;
    let n = rest.len();
    rest.copy_from_slice(&x.to_le_bytes()[..n]);
    Bytes::from(buf)
}

/// Bytes `start..end` of the large object.
fn large_slice(start: u64, end: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity((end - start) as usize);
    let mut index = start / LARGE_CHUNK;
    while index * LARGE_CHUNK < end {
        let chunk = large_chunk(index);
        let chunk_start = index * LARGE_CHUNK;
        let from = start.saturating_sub(chunk_start) as usize;
        let to = ((end - chunk_start) as usize).min(chunk.len());
        out.extend_from_slice(&chunk[from..to]);
        index += 1;
    }
    out
}

/// Compares a body, chunk by chunk as it streams, against the regenerated large object.
struct LargeCheck {
    index: u64,
    expected: Bytes,
    pos: usize,
    offset: u64,
}

impl LargeCheck {
    fn new() -> Self {
        Self { index: 0, expected: large_chunk(0), pos: 0, offset: 0 }
    }

    fn check(&mut self, mut got: &[u8]) {
        while !got.is_empty() {
            if self.pos == self.expected.len() {
                self.index += 1;
                assert!(
                    self.index < large_chunk_count(),
                    "body is longer than the {LARGE_SIZE} bytes written (extra bytes at offset {})",
                    self.offset
                );
                self.expected = large_chunk(self.index);
                self.pos = 0;
            }
            let n = got.len().min(self.expected.len() - self.pos);
            let want = &self.expected[self.pos..self.pos + n];
            if &got[..n] != want {
                let at = got.iter().zip(want).position(|(a, b)| a != b).unwrap_or(0);
                panic!("body differs from what was written at byte offset {}", self.offset + at as u64);
            }
            got = &got[n..];
            self.pos += n;
            self.offset += n as u64;
        }
    }

    fn finish(&self) {
        assert_eq!(self.offset, LARGE_SIZE, "body ended early");
    }
}

// ---------------------------------------------------------------------------------------------
// Round trips and metadata

/// An empty object, written with `put` and with a writer that gets no chunks, reads back empty
/// with size 0.
pub async fn round_trip_empty(fixture: &BlobFixture) -> Outcome {
    let store = &*fixture.store;
    let key = fixture.key("empty");
    let etag = put(store, &key, Bytes::new()).await;
    let got = store.get(&key).await.expect("get of an empty object");
    assert_eq!(got.meta.size, 0, "size of an empty object");
    assert_eq!(got.range, 0..0, "range of an empty object's body");
    assert_eq!(got.meta.etag, etag, "get reports the etag put returned");
    let body = collect_body(got.body).await.expect("body of an empty object");
    assert!(body.is_empty(), "empty object read back as {} bytes", body.len());
    let head = store.head(&key).await.expect("head of an empty object");
    assert_eq!((head.size, head.etag), (0, etag));

    let streamed = fixture.key("empty-streamed");
    let result = store
        .put_stream(&streamed, futures::stream::empty(), PutOptions::default())
        .await
        .expect("writer finished with no chunks");
    assert_eq!(store.head(&streamed).await.expect("head of streamed empty object").size, 0);
    assert_eq!(store.head(&streamed).await.unwrap().etag, result.etag);
    assert!(read(store, &streamed).await.is_empty());
    Outcome::Passed
}

/// A small binary object reads back byte for byte, and an overwrite replaces it.
pub async fn round_trip_small(fixture: &BlobFixture) -> Outcome {
    let store = &*fixture.store;
    let key = fixture.key("small.bin");
    let data: Bytes = (0..=255u8).chain(b"hello, conformance\n".iter().copied()).collect::<Vec<_>>().into();
    let etag = put(store, &key, data.clone()).await;
    let got = store.get(&key).await.expect("get small object");
    assert_eq!(got.meta.size, data.len() as u64);
    assert_eq!(got.range, 0..data.len() as u64);
    assert_eq!(got.meta.etag, etag);
    assert_eq!(collect_body(got.body).await.expect("small body"), data);

    put(store, &key, "replaced").await;
    assert_eq!(read(store, &key).await, "replaced", "overwrite replaces the whole object");
    assert_eq!(store.head(&key).await.unwrap().size, 8);
    Outcome::Passed
}

/// A 64 MiB object uploaded with `put_stream` from generated ~1 MiB chunks streams back intact
/// (checked chunk by chunk, never holding the object), and a ranged read across a chunk edge of
/// it is exact.
pub async fn round_trip_large_stream(fixture: &BlobFixture) -> Outcome {
    let store = &*fixture.store;
    let key = fixture.key("large.bin");
    let body = futures::stream::iter(0..large_chunk_count()).map(|i| Ok(large_chunk(i)));
    let put = store.put_stream(&key, body, PutOptions::default()).await.expect("streaming upload of 64 MiB");

    let head = store.head(&key).await.expect("head of the large object");
    assert_eq!(head.size, LARGE_SIZE);
    assert_eq!(head.etag, put.etag);

    let got = store.get(&key).await.expect("get of the large object");
    assert_eq!(got.meta.size, LARGE_SIZE);
    assert_eq!(got.range, 0..LARGE_SIZE);
    let mut check = LargeCheck::new();
    let mut body = got.body;
    while let Some(chunk) = body.try_next().await.expect("large body streams without error") {
        check.check(&chunk);
    }
    check.finish();

    let (start, end) = (LARGE_CHUNK * 10 - 100, LARGE_CHUNK * 10 + 100);
    let ranged = store.get_range(&key, start..end).await.expect("ranged get of the large object");
    assert_eq!(ranged.range, start..end);
    let ranged = collect_body(ranged.body).await.expect("ranged body");
    assert!(ranged[..] == large_slice(start, end)[..], "bytes {start}..{end} of the large object differ");
    Outcome::Passed
}

/// `head` reports key, size, the etag of the last write and a recent `last_modified`; content
/// type and user metadata round-trip when `capabilities().metadata` (else a put carrying them
/// fails with `Unsupported`), and an overwrite without metadata clears it.
pub async fn head_fields(fixture: &BlobFixture) -> Outcome {
    let store = &*fixture.store;
    let caps = store.capabilities();
    let key = fixture.key("head/object.txt");
    let data = Bytes::from_static(b"head fields");
    let with_meta = PutOptions::default()
        .with_content_type("text/plain; charset=utf-8")
        .with_metadata("owner", "conformance")
        .with_metadata("run_id", "42");
    let expected_meta: Metadata = [("owner".into(), "conformance".into()), ("run_id".into(), "42".into())].into();

    let opts = if caps.metadata {
        with_meta
    } else {
        expect_kind(
            store.put_opts(&key, data.clone(), with_meta).await,
            ErrorKind::Unsupported,
            "put with content type and metadata on a store without the metadata capability",
        );
        assert_missing(store, &key, "a rejected put").await;
        PutOptions::default()
    };

    let before = SystemTime::now();
    let put = store.put_opts(&key, data.clone(), opts).await.expect("put with options");
    let after = SystemTime::now();
    let head = store.head(&key).await.expect("head");
    assert_eq!(head.key, key);
    assert_eq!(head.size, data.len() as u64);
    assert_eq!(head.etag, put.etag);
    assert_recent(head.last_modified, before, after, "last_modified");

    let got = store.get(&key).await.expect("get");
    assert_eq!(got.meta, head, "get reports the same metadata as head");
    drop(got);

    if !caps.metadata {
        return Outcome::Unsupported(format!("{} stores no content type or user metadata", caps.provider));
    }
    assert_eq!(head.content_type.as_deref(), Some("text/plain; charset=utf-8"));
    assert_eq!(head.metadata, expected_meta);

    put_plain_and_check_metadata_cleared(store, &key).await;
    Outcome::Passed
}

async fn put_plain_and_check_metadata_cleared(store: &dyn BlobStore, key: &BlobKey) {
    put(store, key, "no metadata now").await;
    let head = store.head(key).await.expect("head after overwrite");
    assert!(head.metadata.is_empty(), "an overwrite without metadata kept {:?}", head.metadata);
}

// ---------------------------------------------------------------------------------------------
// Keys

const SPECIAL_KEYS: &[&str] = &[
    "special_file  !@#$%^&()_+-=;',.txt",
    "日本語/ファイル.txt",
    "emoji/🚀",
    "with spaces/and more spaces.txt",
    "plus+sign",
    "percent%20literal",
    "percent%2Fslash",
    "tilde~and*star",
    "question?mark=1&x",
    "quote\"and'apostrophe",
    "accents/résumé café.txt",
];

/// Keys with spaces, punctuation, percent signs, `+`, non-ASCII text and emoji are stored,
/// read, listed and deleted exactly as given (no encoding or normalisation leaks through).
pub async fn special_character_keys(fixture: &BlobFixture) -> Outcome {
    let store = &*fixture.store;
    let keys: Vec<BlobKey> = SPECIAL_KEYS.iter().map(|rel| fixture.key(rel)).collect();
    for key in &keys {
        put(store, key, key.as_str().to_owned()).await;
    }
    for key in &keys {
        assert_eq!(read(store, key).await, key.as_str().as_bytes(), "content of {key:?}");
        let head = store.head(key).await.unwrap_or_else(|e| panic!("head {key:?}: {e}"));
        assert_eq!(head.key, *key);
        assert_eq!(head.size, key.as_str().len() as u64);
    }
    let mut expected: Vec<String> = keys.iter().map(|k| k.as_str().to_owned()).collect();
    expected.sort();
    let listed = list_names(store, ListOptions::default().with_prefix(&fixture.prefix)).await;
    assert_eq!(listed, expected, "listing of special-character keys");

    for key in &keys {
        store.delete(key).await.unwrap_or_else(|e| panic!("delete {key:?}: {e}"));
        assert_missing(store, key, "delete").await;
    }
    let listed = list_names(store, ListOptions::default().with_prefix(&fixture.prefix)).await;
    assert!(listed.is_empty(), "keys left after deleting them all: {listed:?}");
    Outcome::Passed
}

/// Invalid keys never reach a store (`BlobKey::new` rejects them with `InvalidInput`), and the
/// store rejects invalid list options and content types with `InvalidInput` before any I/O.
pub async fn invalid_input_rejected(fixture: &BlobFixture) -> Outcome {
    let store = &*fixture.store;
    let too_long = "k".repeat(cloudport_core::MAX_KEY_LEN + 1);
    for bad in ["", "/a", "a/../b", "a//b", "trailing/", "nul\0byte", "back\\slash", ".cloudport/x", too_long.as_str()]
    {
        expect_kind(BlobKey::new(bad), ErrorKind::InvalidInput, &format!("BlobKey::new({bad:?})"));
    }

    let first = |opts: ListOptions| async move { store.list_opts(opts).next().await };
    match first(ListOptions::default().with_prefix("/absolute")).await {
        Some(Err(e)) => assert_eq!(e.kind(), ErrorKind::InvalidInput, "list with prefix \"/absolute\": {e}"),
        other => panic!("list with prefix \"/absolute\": expected an invalid_input error, got {other:?}"),
    }
    match first(ListOptions::default().with_prefix(&fixture.prefix).with_page_size(0)).await {
        Some(Err(e)) => assert_eq!(e.kind(), ErrorKind::InvalidInput, "list with page size 0: {e}"),
        other => panic!("list with page size 0: expected an invalid_input error, got {other:?}"),
    }

    let key = fixture.key("bad-content-type");
    for ct in ["", "text/plain\n", "tëxt/plain"] {
        let opts = PutOptions::default().with_content_type(ct);
        expect_kind(
            store.put_opts(&key, "x".into(), opts.clone()).await,
            ErrorKind::InvalidInput,
            &format!("put with content type {ct:?}"),
        );
        expect_kind(
            store.put_writer(&key, opts).await,
            ErrorKind::InvalidInput,
            &format!("put_writer with content type {ct:?}"),
        );
    }
    assert_missing(store, &key, "rejected puts").await;
    Outcome::Passed
}

// ---------------------------------------------------------------------------------------------
// Reads

/// Bounded, open-ended and suffix ranges read exactly those bytes and report them; an end past
/// the size is clamped; a suffix longer than the object gives all of it; a start at or past the
/// end, or an end before the start, is `InvalidInput`.
pub async fn get_ranges(fixture: &BlobFixture) -> Outcome {
    let store = &*fixture.store;
    let key = fixture.key("ranges.bin");
    let data = body_pattern(1000);
    put(store, &key, data.clone()).await;

    let cases: &[(ByteRange, std::ops::Range<u64>)] = &[
        (ByteRange::Bounded(10, 20), 10..20),
        (ByteRange::Bounded(0, 1), 0..1),
        (ByteRange::Bounded(0, 1000), 0..1000),
        (ByteRange::Bounded(990, 2000), 990..1000),
        (ByteRange::From(0), 0..1000),
        (ByteRange::From(999), 999..1000),
        (ByteRange::From(500), 500..1000),
        (ByteRange::Suffix(10), 990..1000),
        (ByteRange::Suffix(1000), 0..1000),
        (ByteRange::Suffix(5000), 0..1000),
    ];
    for (range, want) in cases {
        let got = store.get_range(&key, *range).await.unwrap_or_else(|e| panic!("get {range:?}: {e}"));
        assert_eq!(got.range, *want, "range reported for {range:?}");
        assert_eq!(got.meta.size, 1000, "size reported for {range:?} is the whole object's");
        let body = collect_body(got.body).await.unwrap_or_else(|e| panic!("body of {range:?}: {e}"));
        assert_eq!(body, data.slice(want.start as usize..want.end as usize), "bytes of {range:?}");
    }
    for bad in [
        ByteRange::From(1000),
        ByteRange::From(5000),
        ByteRange::Bounded(1000, 1001),
        ByteRange::Bounded(20, 10),
        ByteRange::Suffix(0),
    ] {
        expect_kind(
            store.get_range(&key, bad).await.map(|g| g.range),
            ErrorKind::InvalidInput,
            &format!("get {bad:?}"),
        );
    }
    Outcome::Passed
}

/// `get` of a missing key (plain, ranged or conditional) fails with `NotFound`.
pub async fn get_missing_is_not_found(fixture: &BlobFixture) -> Outcome {
    let store = &*fixture.store;
    let key = fixture.key("never/written");
    assert_missing_result(store.get(&key).await.map(|g| g.meta), &key, "get");
    assert_missing_result(store.get_range(&key, 0..10).await.map(|g| g.meta), &key, "ranged get");
    let opts = GetOptions::default().with_if_match(ETag::new("anything"));
    assert_missing_result(store.get_opts(&key, opts).await.map(|g| g.meta), &key, "get with if_match");
    Outcome::Passed
}

/// `head` of a missing key fails with `NotFound`, also where a prefix of the key exists.
pub async fn head_missing_is_not_found(fixture: &BlobFixture) -> Outcome {
    let store = &*fixture.store;
    assert_missing_result(store.head(&fixture.key("never/written")).await, &fixture.key("never/written"), "head");
    put(store, &fixture.key("dir/present"), "x").await;
    // The "directory" of an existing key is not an object.
    let dir = fixture.key("dir");
    assert_missing_result(store.head(&dir).await, &dir, "head of a prefix");
    assert_missing_result(store.get(&dir).await.map(|g| g.meta), &dir, "get of a prefix");
    Outcome::Passed
}

/// `if_match` with another etag fails with `PreconditionFailed`; `if_none_match` with the
/// current etag fails with `NotModified`; the opposite cases read the object.
pub async fn conditional_get(fixture: &BlobFixture) -> Outcome {
    let store = &*fixture.store;
    let caps = store.capabilities();
    let key = fixture.key("conditional-get");
    let first = put(store, &key, "v1").await;
    if !caps.conditional_get {
        let opts = GetOptions::default().with_if_match(first);
        expect_kind(store.get_opts(&key, opts).await.map(|g| g.meta), ErrorKind::Unsupported, "get with if_match");
        return Outcome::Unsupported(format!("{} does not enforce read conditions", caps.provider));
    }
    let get = |opts: GetOptions| async { store.get_opts(&key, opts).await };

    let ok = get(GetOptions::default().with_if_match(first.clone())).await.expect("if_match with the current etag");
    assert_eq!(collect_body(ok.body).await.unwrap(), "v1");
    expect_kind(
        get(GetOptions::default().with_if_match(ETag::new("not-the-etag"))).await.map(|g| g.meta),
        ErrorKind::PreconditionFailed,
        "get with if_match of another etag",
    );
    expect_kind(
        get(GetOptions::default().with_if_none_match(first.clone())).await.map(|g| g.meta),
        ErrorKind::NotModified,
        "get with if_none_match of the current etag",
    );
    let ok = get(GetOptions::default().with_if_none_match(ETag::new("not-the-etag")))
        .await
        .expect("if_none_match with another etag");
    assert_eq!(collect_body(ok.body).await.unwrap(), "v1");

    let second = put(store, &key, "v2").await;
    expect_kind(
        get(GetOptions::default().with_if_match(first.clone())).await.map(|g| g.meta),
        ErrorKind::PreconditionFailed,
        "get with if_match of the previous etag",
    );
    let ok = get(GetOptions::default().with_if_none_match(first)).await.expect("if_none_match with the previous etag");
    assert_eq!(ok.meta.etag, second);
    assert_eq!(collect_body(ok.body).await.unwrap(), "v2");
    Outcome::Passed
}

// ---------------------------------------------------------------------------------------------
// Conditional writes

fn unsupported_conditional_put(caps: &cloudport_core::BlobCapabilities) -> Outcome {
    Outcome::Unsupported(format!("{} does not enforce conditional puts", caps.provider))
}

/// `PutMode::Create` writes a new key, and fails with `AlreadyExists` on an existing one,
/// leaving it untouched.
pub async fn put_create_existing(fixture: &BlobFixture) -> Outcome {
    let store = &*fixture.store;
    let caps = store.capabilities();
    let key = fixture.key("create-only");
    let create = PutOptions::default().with_mode(PutMode::Create);
    if !caps.conditional_put {
        expect_kind(
            store.put_opts(&key, "first".into(), create).await,
            ErrorKind::Unsupported,
            "put with PutMode::Create",
        );
        return unsupported_conditional_put(&caps);
    }
    let first = store.put_opts(&key, "first".into(), create.clone()).await.expect("create of a new key");
    expect_kind(
        store.put_opts(&key, "second".into(), create).await,
        ErrorKind::AlreadyExists,
        "create of an existing key",
    );
    assert_eq!(read(store, &key).await, "first");
    assert_eq!(store.head(&key).await.unwrap().etag, first.etag, "a failed create changed the etag");
    Outcome::Passed
}

/// `PutMode::IfMatch` replaces the object only at the given etag; a stale etag fails with
/// `PreconditionFailed`, and so does any etag on a missing key (never creating it).
pub async fn put_if_match(fixture: &BlobFixture) -> Outcome {
    let store = &*fixture.store;
    let caps = store.capabilities();
    let key = fixture.key("if-match");
    let v1 = put(store, &key, "v1").await;
    let if_match = |etag: ETag| PutOptions::default().with_mode(PutMode::IfMatch(etag));
    if !caps.conditional_put {
        expect_kind(
            store.put_opts(&key, "v2".into(), if_match(v1)).await,
            ErrorKind::Unsupported,
            "put with PutMode::IfMatch",
        );
        return unsupported_conditional_put(&caps);
    }
    let v2 =
        store.put_opts(&key, "v2".into(), if_match(v1.clone())).await.expect("if_match with the current etag").etag;
    assert_ne!(v1, v2, "a successful compare-and-swap returns a new etag");
    expect_kind(
        store.put_opts(&key, "v3".into(), if_match(v1.clone())).await,
        ErrorKind::PreconditionFailed,
        "if_match with a stale etag",
    );
    assert_eq!(read(store, &key).await, "v2");
    assert_eq!(store.head(&key).await.unwrap().etag, v2);

    let missing = fixture.key("if-match-missing");
    expect_kind(
        store.put_opts(&missing, "x".into(), if_match(v1)).await,
        ErrorKind::PreconditionFailed,
        "if_match on a missing key",
    );
    assert_missing(store, &missing, "if_match on a missing key").await;
    Outcome::Passed
}

/// Every write of different bytes gives a new etag, through `put` and through a writer (a provider
/// may keep the etag when identical bytes are rewritten, as S3's MD5 etags do).
pub async fn etag_changes_with_content(fixture: &BlobFixture) -> Outcome {
    let store = &*fixture.store;
    let key = fixture.key("etags");
    let mut etags = Vec::new();
    for body in ["first", "second", "third"] {
        etags.push(put(store, &key, body).await);
    }
    let body = futures::stream::iter([Ok(Bytes::from_static(b"fou")), Ok(Bytes::from_static(b"rth"))]);
    etags.push(store.put_stream(&key, body, PutOptions::default()).await.expect("streamed rewrite").etag);
    for (i, a) in etags.iter().enumerate() {
        for b in &etags[i + 1..] {
            assert_ne!(a, b, "two writes of different bytes got the same etag: {etags:?}");
        }
    }
    assert_eq!(store.head(&key).await.unwrap().etag, *etags.last().unwrap());
    Outcome::Passed
}

/// 8 tasks each add 1 to a decimal counter 25 times with read + `IfMatch` put, retrying on
/// `PreconditionFailed`: the counter ends at exactly 200 and exactly 200 writes succeeded.
/// Honours [`BlobFixture::with_emulator_gap`].
pub async fn cas_counter(fixture: &BlobFixture) -> Outcome {
    const TASKS: u64 = 8;
    const INCREMENTS: u64 = 25;
    let store = fixture.store.clone();
    let caps = store.capabilities();
    let key = fixture.key("counter");
    let initial = put(&*store, &key, "0").await;
    if !caps.conditional_put {
        let opts = PutOptions::default().with_mode(PutMode::IfMatch(initial));
        expect_kind(store.put_opts(&key, "1".into(), opts).await, ErrorKind::Unsupported, "put with PutMode::IfMatch");
        return unsupported_conditional_put(&caps);
    }
    let tasks = (0..TASKS)
        .map(|_| {
            let store = store.clone();
            let key = key.clone();
            tokio::spawn(async move {
                let mut successes = 0;
                for _ in 0..INCREMENTS {
                    let mut attempts = 0;
                    loop {
                        attempts += 1;
                        assert!(attempts < 10_000, "an increment did not get through in 10,000 attempts");
                        let got = store.get(&key).await.expect("read the counter");
                        let etag = got.meta.etag.clone();
                        let text = collect_body(got.body).await.expect("counter body");
                        let value: u64 = std::str::from_utf8(&text)
                            .ok()
                            .and_then(|s| s.parse().ok())
                            .unwrap_or_else(|| panic!("counter holds {text:?}"));
                        let opts = PutOptions::default().with_mode(PutMode::IfMatch(etag));
                        match store.put_opts(&key, (value + 1).to_string().into(), opts).await {
                            Ok(_) => {
                                successes += 1;
                                break;
                            }
                            Err(e) if e.kind() == ErrorKind::PreconditionFailed || e.kind() == ErrorKind::Conflict => {
                                tokio::task::yield_now().await;
                            }
                            Err(e) => panic!("compare-and-swap failed with {}: {e}", e.kind()),
                        }
                    }
                }
                successes
            })
        })
        .collect();
    let successes: u64 = join_all(tasks).await.into_iter().sum();
    assert_eq!(successes, TASKS * INCREMENTS, "successful compare-and-swaps");
    let text = read(&*store, &key).await;
    if let Some(reason) = fixture.emulator_gap("cas_counter") {
        // A race the emulator lets through loses an update; it never invents one.
        let value: u64 = std::str::from_utf8(&text).ok().and_then(|s| s.parse().ok()).expect("a counter");
        assert!(value <= TASKS * INCREMENTS, "the counter went past the {} increments: {value}", TASKS * INCREMENTS);
        return Outcome::NotEnforced(reason.to_owned());
    }
    assert_eq!(text, (TASKS * INCREMENTS).to_string(), "final counter");
    Outcome::Passed
}

/// 16 tasks create the same key with `PutMode::Create` at once: exactly one wins, the rest fail
/// with `AlreadyExists`, and the object is the winner's. Honours
/// [`BlobFixture::with_emulator_gap`].
pub async fn create_only_race(fixture: &BlobFixture) -> Outcome {
    const TASKS: usize = 16;
    let store = fixture.store.clone();
    let caps = store.capabilities();
    let key = fixture.key("race");
    let create = PutOptions::default().with_mode(PutMode::Create);
    if !caps.conditional_put {
        expect_kind(store.put_opts(&key, "x".into(), create).await, ErrorKind::Unsupported, "put with PutMode::Create");
        return unsupported_conditional_put(&caps);
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let tasks = (0..TASKS)
        .map(|i| {
            let (store, key, barrier, create) = (store.clone(), key.clone(), barrier.clone(), create.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                (i, store.put_opts(&key, format!("writer {i}").into(), create).await)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for (i, result) in join_all(tasks).await {
        match result {
            Ok(put) => winners.push((i, put.etag)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => panic!("racing create {i} failed with {} instead of already_exists: {e}", e.kind()),
        }
    }
    if let Some(reason) = fixture.emulator_gap("create_only_race") {
        // A race the emulator lets through makes several winners; one of them holds the key.
        assert!(!winners.is_empty(), "no racing create succeeded");
        let held = read(&*store, &key).await;
        assert!(winners.iter().any(|(i, _)| held == format!("writer {i}")), "the key holds {held:?}");
        return Outcome::NotEnforced(reason.to_owned());
    }
    assert_eq!(winners.len(), 1, "racing creates that succeeded: {winners:?}");
    let (winner, etag) = &winners[0];
    assert_eq!(read(&*store, &key).await, format!("writer {winner}"));
    assert_eq!(store.head(&key).await.unwrap().etag, *etag);
    Outcome::Passed
}

/// A writer checks its mode when it finishes: `Create` fails with `AlreadyExists` if the key
/// exists by then (existing before it started, or created while it streamed), `IfMatch` fails
/// with `PreconditionFailed` if the object changed meanwhile; the existing object stays intact.
pub async fn writer_checks_mode_at_finish(fixture: &BlobFixture) -> Outcome {
    let store = &*fixture.store;
    let caps = store.capabilities();
    let create = PutOptions::default().with_mode(PutMode::Create);
    let chunks = || [Bytes::from_static(b"streamed "), Bytes::from_static(b"content")];

    let existing = fixture.key("writer/existing");
    let old = put(store, &existing, "old").await;
    if !caps.conditional_put {
        expect_kind(
            store.put_writer(&existing, create).await,
            ErrorKind::Unsupported,
            "put_writer with PutMode::Create",
        );
        return unsupported_conditional_put(&caps);
    }
    let mut writer = store
        .put_writer(&existing, create.clone())
        .await
        .expect("put_writer with Create starts; the mode is checked at finish");
    for chunk in chunks() {
        writer.write(chunk).await.expect("write a chunk");
    }
    expect_kind(writer.finish().await, ErrorKind::AlreadyExists, "finish of a Create writer on an existing key");
    assert_eq!(read(store, &existing).await, "old");
    assert_eq!(store.head(&existing).await.unwrap().etag, old);

    let raced = fixture.key("writer/raced");
    let mut writer = store.put_writer(&raced, create.clone()).await.expect("put_writer with Create on a new key");
    writer.write(Bytes::from_static(b"loser")).await.expect("write a chunk");
    let racer = put(store, &raced, "racer").await;
    expect_kind(
        writer.finish().await,
        ErrorKind::AlreadyExists,
        "finish of a Create writer after another put created the key",
    );
    assert_eq!(read(store, &raced).await, "racer");
    assert_eq!(store.head(&raced).await.unwrap().etag, racer);

    let swapped = fixture.key("writer/swapped");
    let v1 = put(store, &swapped, "v1").await;
    let mut writer = store
        .put_writer(&swapped, PutOptions::default().with_mode(PutMode::IfMatch(v1)))
        .await
        .expect("put_writer with IfMatch");
    writer.write(Bytes::from_static(b"stale")).await.expect("write a chunk");
    let v2 = put(store, &swapped, "v2").await;
    expect_kind(
        writer.finish().await,
        ErrorKind::PreconditionFailed,
        "finish of an IfMatch writer after the object changed",
    );
    assert_eq!(read(store, &swapped).await, "v2");
    assert_eq!(store.head(&swapped).await.unwrap().etag, v2);

    let fresh = fixture.key("writer/fresh");
    let mut writer = store.put_writer(&fresh, create).await.expect("put_writer with Create on a new key");
    for chunk in chunks() {
        writer.write(chunk).await.expect("write a chunk");
    }
    let done = writer.finish().await.expect("finish of a Create writer on a new key");
    assert_eq!(read(store, &fresh).await, "streamed content");
    assert_eq!(store.head(&fresh).await.unwrap().etag, done.etag);
    Outcome::Passed
}

async fn assert_prefix_empty(fixture: &BlobFixture, rel: &str, what: &str) {
    let names = list_names(&*fixture.store, ListOptions::default().with_prefix(fixture.name(rel))).await;
    assert!(names.is_empty(), "{what} left listed entries: {names:?}");
    let names =
        list_names(&*fixture.store, ListOptions::default().with_prefix(fixture.name(rel)).with_delimiter()).await;
    assert!(names.is_empty(), "{what} left entries in a delimited listing: {names:?}");
}

/// An aborted writer leaves no object and nothing listed; aborting an overwrite leaves the old
/// object intact.
pub async fn writer_abort_leaves_nothing(fixture: &BlobFixture) -> Outcome {
    let store = &*fixture.store;
    let key = fixture.key("aborted/new");
    let mut writer = store.put_writer(&key, PutOptions::default()).await.expect("put_writer");
    writer.write(body_pattern(64 * 1024)).await.expect("write a chunk");
    writer.write(body_pattern(1000)).await.expect("write a chunk");
    writer.abort().await.expect("abort");
    assert_missing(store, &key, "an aborted upload").await;
    assert_prefix_empty(fixture, "aborted/", "an aborted upload").await;

    let existing = fixture.key("kept");
    let etag = put(store, &existing, "old").await;
    let mut writer = store.put_writer(&existing, PutOptions::default()).await.expect("put_writer over an existing key");
    writer.write(Bytes::from_static(b"new")).await.expect("write a chunk");
    writer.abort().await.expect("abort");
    assert_eq!(read(store, &existing).await, "old");
    assert_eq!(store.head(&existing).await.unwrap().etag, etag);
    Outcome::Passed
}

/// A writer dropped without `finish` or `abort` leaves no object and nothing listed, then or a
/// moment later; dropping an overwrite leaves the old object intact.
pub async fn writer_drop_leaves_nothing(fixture: &BlobFixture) -> Outcome {
    let store = &*fixture.store;
    let key = fixture.key("dropped/new");
    let mut writer = store.put_writer(&key, PutOptions::default()).await.expect("put_writer");
    writer.write(body_pattern(64 * 1024)).await.expect("write a chunk");
    drop(writer);
    assert_missing(store, &key, "a dropped upload").await;
    assert_prefix_empty(fixture, "dropped/", "a dropped upload").await;

    let existing = fixture.key("kept");
    let etag = put(store, &existing, "old").await;
    let mut writer = store.put_writer(&existing, PutOptions::default()).await.expect("put_writer over an existing key");
    writer.write(Bytes::from_static(b"new")).await.expect("write a chunk");
    drop(writer);

    // Clean-up after a drop may run in the background: it must never publish the object.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_missing(store, &key, "a dropped upload, 200 ms later").await;
    assert_prefix_empty(fixture, "dropped/", "a dropped upload, 200 ms later").await;
    assert_eq!(read(store, &existing).await, "old");
    assert_eq!(store.head(&existing).await.unwrap().etag, etag);
    Outcome::Passed
}

// ---------------------------------------------------------------------------------------------
// Listing

async fn put_many(store: &Arc<dyn BlobStore>, items: Vec<(BlobKey, Bytes)>) {
    futures::stream::iter(items)
        .map(|(key, data)| {
            let store = store.clone();
            async move { store.put(&key, data).await.unwrap_or_else(|e| panic!("put {key:?}: {e}")) }
        })
        .buffer_unordered(16)
        .for_each(|_| async {})
        .await;
}

/// 1,100 keys list completely, in order, with sizes, through the default page size, small pages
/// and a page size over the provider's maximum; `start_after` resumes mid-way; a delimited
/// listing shows their common prefix once.
pub async fn list_pagination(fixture: &BlobFixture) -> Outcome {
    const KEYS: usize = 1100;
    let store = &*fixture.store;
    let items: Vec<(BlobKey, Bytes)> =
        (0..KEYS).map(|i| (fixture.key(&format!("many/{i:05}")), Bytes::from(i.to_string()))).collect();
    put_many(&fixture.store, items.clone()).await;
    let prefix = fixture.name("many/");
    let expected: Vec<String> = items.iter().map(|(k, _)| k.as_str().to_owned()).collect();

    for page in [None, Some(7), Some(100), Some(1_000_000)] {
        let mut opts = ListOptions::default().with_prefix(&prefix);
        if let Some(size) = page {
            opts = opts.with_page_size(size);
        }
        let entries = list_all(store, opts).await;
        let names: Vec<String> = entries.iter().map(describe).collect();
        assert!(
            names == expected,
            "listing of {KEYS} keys with page size {page:?}: got {} entries, first differences: {:?}",
            names.len(),
            first_difference(&names, &expected)
        );
        for (entry, (_, data)) in entries.iter().zip(&items) {
            let ListEntry::Object(summary) = entry else { unreachable!("names matched objects") };
            assert_eq!(summary.size, data.len() as u64, "size of {:?} in the listing", summary.key);
        }
    }

    let resumed = list_names(
        store,
        ListOptions::default().with_prefix(&prefix).with_start_after(fixture.name("many/00549")).with_page_size(13),
    )
    .await;
    assert!(resumed == expected[550..], "listing after many/00549: {:?}", first_difference(&resumed, &expected[550..]));

    let summary = list_all(store, ListOptions::default().with_prefix(&prefix)).await;
    let ListEntry::Object(first) = &summary[0] else { panic!("first entry is not an object") };
    assert_eq!(first.etag, store.head(&first.key).await.unwrap().etag, "etag in the listing matches head");

    for page in [None, Some(7)] {
        let mut opts = ListOptions::default().with_prefix(&fixture.prefix).with_delimiter();
        if let Some(size) = page {
            opts = opts.with_page_size(size);
        }
        assert_eq!(
            list_names(store, opts).await,
            [format!("{prefix} (prefix)")],
            "delimited listing with page size {page:?}"
        );
    }
    Outcome::Passed
}

fn first_difference(got: &[String], want: &[String]) -> Option<(usize, Option<String>, Option<String>)> {
    (0..got.len().max(want.len()))
        .find(|&i| got.get(i) != want.get(i))
        .map(|i| (i, got.get(i).cloned(), want.get(i).cloned()))
}

const DELIMITED_KEYS: &[&str] = &["a", "b-x", "b/1", "b/2", "b/c/3", "b0", "c", "d/e/f", "d/g", "e"];

/// Delimited listings give each common prefix once, interleaved with objects in key order,
/// through any page size; prefixes not ending in `/` and nested prefixes work.
pub async fn list_delimited(fixture: &BlobFixture) -> Outcome {
    let store = &*fixture.store;
    let mut items: Vec<(BlobKey, Bytes)> =
        DELIMITED_KEYS.iter().map(|rel| (fixture.key(rel), Bytes::from_static(b"x"))).collect();
    items.push((fixture.key("g/w"), Bytes::from_static(b"x")));
    items.push((fixture.key("g/z"), Bytes::from_static(b"x")));
    for i in 0..30 {
        items.push((fixture.key(&format!("g/x/{i:02}")), Bytes::from_static(b"x")));
        items.push((fixture.key(&format!("g/y/{i:02}")), Bytes::from_static(b"x")));
    }
    put_many(&fixture.store, items).await;

    let obj = |rel: &str| fixture.name(rel);
    let pre = |rel: &str| format!("{} (prefix)", fixture.name(rel));
    let cases: Vec<(String, Vec<String>)> = vec![
        (
            fixture.prefix.clone(),
            vec![obj("a"), obj("b-x"), pre("b/"), obj("b0"), obj("c"), pre("d/"), obj("e"), pre("g/")],
        ),
        (fixture.name("b/"), vec![obj("b/1"), obj("b/2"), pre("b/c/")]),
        (fixture.name("d/"), vec![pre("d/e/"), obj("d/g")]),
        (fixture.name("b"), vec![obj("b-x"), pre("b/"), obj("b0")]),
        (fixture.name("g/"), vec![obj("g/w"), pre("g/x/"), pre("g/y/"), obj("g/z")]),
    ];
    for (prefix, expected) in &cases {
        for page in [None, Some(1), Some(2), Some(4)] {
            let mut opts = ListOptions::default().with_prefix(prefix).with_delimiter();
            if let Some(size) = page {
                opts = opts.with_page_size(size);
            }
            assert_eq!(
                &list_names(store, opts).await,
                expected,
                "delimited listing of {prefix:?} with page size {page:?}"
            );
        }
    }

    let mut all: Vec<String> = DELIMITED_KEYS.iter().map(|rel| obj(rel)).collect();
    all.extend(["g/w".to_owned(), "g/z".to_owned()].iter().map(|rel| obj(rel)));
    all.extend((0..30).flat_map(|i| [obj(&format!("g/x/{i:02}")), obj(&format!("g/y/{i:02}"))]));
    all.sort();
    let flat = list_names(store, ListOptions::default().with_prefix(&fixture.prefix).with_page_size(3)).await;
    assert_eq!(flat, all, "listing without delimiter shows every key");
    Outcome::Passed
}

/// `start_after` lists only keys (and prefixes) sorting strictly after it, whether or not it is
/// an existing key, with and without a delimiter.
pub async fn list_start_after(fixture: &BlobFixture) -> Outcome {
    let store = &*fixture.store;
    let mut items: Vec<(BlobKey, Bytes)> =
        (0..20).map(|i| (fixture.key(&format!("s/k{i:02}")), Bytes::from_static(b"x"))).collect();
    for rel in ["t/a", "t/b/1", "t/b/2", "t/c"] {
        items.push((fixture.key(rel), Bytes::from_static(b"x")));
    }
    put_many(&fixture.store, items).await;
    let keys = |range: std::ops::Range<usize>| range.map(|i| fixture.name(&format!("s/k{i:02}"))).collect::<Vec<_>>();
    let prefix = fixture.name("s/");

    let cases = [
        (fixture.name("s/k09"), keys(10..20)),
        (fixture.name("s/k095"), keys(10..20)),
        (fixture.name("s/k19"), vec![]),
        (fixture.name("s/"), keys(0..20)),
        (fixture.name("a"), keys(0..20)),
        (fixture.name("s/k00"), keys(1..20)),
    ];
    for (after, expected) in &cases {
        for page in [None, Some(3)] {
            let mut opts = ListOptions::default().with_prefix(&prefix).with_start_after(after);
            if let Some(size) = page {
                opts = opts.with_page_size(size);
            }
            assert_eq!(
                &list_names(store, opts).await,
                expected,
                "listing of {prefix:?} after {after:?} with page size {page:?}"
            );
        }
    }

    let delimited =
        |after: &str| ListOptions::default().with_prefix(fixture.name("t/")).with_delimiter().with_start_after(after);
    assert_eq!(
        list_names(store, delimited(&fixture.name("t/a"))).await,
        [format!("{} (prefix)", fixture.name("t/b/")), fixture.name("t/c")],
        "delimited listing after t/a"
    );
    assert_eq!(
        list_names(store, delimited(&fixture.name("t/b0"))).await,
        [fixture.name("t/c")],
        "delimited listing after t/b0"
    );
    Outcome::Passed
}

const ORDER_KEYS: &[&str] = &[
    " space", "%41", "+plus", "0", "9", "A", "B", "Z", "_", "a", "a-", "a.b", "aa", "a~", "z", "~", "é", "ö", "日",
    "🚀",
];

/// Listings are sorted by the keys' UTF-8 bytes (upper case before lower case, ASCII before
/// other scripts), delimited or not, across pages.
pub async fn list_order_bytewise(fixture: &BlobFixture) -> Outcome {
    let store = &*fixture.store;
    let items: Vec<(BlobKey, Bytes)> =
        ORDER_KEYS.iter().map(|rel| (fixture.key(&format!("o/{rel}")), Bytes::from_static(b"x"))).collect();
    put_many(&fixture.store, items).await;
    let mut expected: Vec<String> = ORDER_KEYS.iter().map(|rel| fixture.name(&format!("o/{rel}"))).collect();
    expected.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    for delimited in [false, true] {
        for page in [None, Some(2)] {
            let mut opts = ListOptions::default().with_prefix(fixture.name("o/"));
            if delimited {
                opts = opts.with_delimiter();
            }
            if let Some(size) = page {
                opts = opts.with_page_size(size);
            }
            assert_eq!(
                list_names(store, opts).await,
                expected,
                "order of keys (delimited: {delimited}, page size {page:?})"
            );
        }
    }
    Outcome::Passed
}

/// Listing a prefix with no keys under it yields nothing, delimited or not, and does not fail.
pub async fn list_empty_prefix(fixture: &BlobFixture) -> Outcome {
    let store = &*fixture.store;
    for delimited in [false, true] {
        for prefix in [fixture.prefix.clone(), fixture.name("nothing/here/"), fixture.name("nothing")] {
            let mut opts = ListOptions::default().with_prefix(&prefix);
            if delimited {
                opts = opts.with_delimiter();
            }
            assert_eq!(list_names(store, opts).await, Vec::<String>::new(), "listing of the empty prefix {prefix:?}");
        }
    }
    put(store, &fixture.key("only"), "x").await;
    let after = ListOptions::default().with_prefix(&fixture.prefix).with_start_after(fixture.name("only"));
    assert_eq!(list_names(store, after).await, Vec::<String>::new(), "listing after the last key");
    Outcome::Passed
}

/// With `file_and_prefix_coexist`, `a` and `a/b` both exist and list; without it, whichever is
/// written second fails with `Unsupported` and the first stays intact.
pub async fn file_and_prefix(fixture: &BlobFixture) -> Outcome {
    let store = &*fixture.store;
    let caps = store.capabilities();
    let file = fixture.key("fp");
    let child = fixture.key("fp/child");
    put(store, &file, "file").await;
    if caps.file_and_prefix_coexist {
        put(store, &child, "child").await;
        assert_eq!(read(store, &file).await, "file");
        assert_eq!(read(store, &child).await, "child");
        let listed = list_names(store, ListOptions::default().with_prefix(&fixture.prefix)).await;
        assert_eq!(listed, [file.as_str(), child.as_str()]);
        let listed = list_names(store, ListOptions::default().with_prefix(&fixture.prefix).with_delimiter()).await;
        assert_eq!(listed, [file.as_str().to_owned(), format!("{} (prefix)", fixture.name("fp/"))]);
        return Outcome::Passed;
    }
    expect_kind(
        store.put(&child, "child").await,
        ErrorKind::Unsupported,
        "put of a key under an existing object's name",
    );
    assert_eq!(read(store, &file).await, "file");
    assert_missing(store, &child, "a rejected put").await;

    let rev_child = fixture.key("rev/child");
    let rev_file = fixture.key("rev");
    put(store, &rev_child, "child").await;
    expect_kind(
        store.put(&rev_file, "file").await,
        ErrorKind::Unsupported,
        "put of a key that is a prefix of an existing key",
    );
    assert_eq!(read(store, &rev_child).await, "child");
    assert_missing(store, &rev_file, "a rejected put").await;
    Outcome::Unsupported(format!("{} cannot hold both a key and keys under it", caps.provider))
}

// ---------------------------------------------------------------------------------------------
// Copy and delete

/// `copy` duplicates bytes (and content type and metadata, with the metadata capability) to a
/// new key, even in a new "directory", replaces an existing destination, returns the
/// destination's etag and leaves the source alone.
pub async fn copy(fixture: &BlobFixture) -> Outcome {
    let store = &*fixture.store;
    let caps = store.capabilities();
    let src = fixture.key("copy/source");
    let mut opts = PutOptions::default();
    if caps.metadata {
        opts = opts.with_content_type("application/json").with_metadata("origin", "copy_test");
    }
    let src_etag = store.put_opts(&src, Bytes::from_static(b"{\"copied\":true}"), opts).await.expect("put source").etag;

    let dst = fixture.key("copy/deeper/new/destination");
    let copied = store.copy(&src, &dst).await.expect("copy to a new key");
    assert_eq!(read(store, &dst).await, "{\"copied\":true}");
    let head = store.head(&dst).await.expect("head of the copy");
    assert_eq!(head.etag, copied.etag, "copy returns the destination's etag");
    assert_eq!(head.size, 15);
    if caps.metadata {
        assert_eq!(head.content_type.as_deref(), Some("application/json"), "copy carries the content type");
        assert_eq!(
            head.metadata,
            Metadata::from([("origin".into(), "copy_test".into())]),
            "copy carries user metadata"
        );
    }

    let existing = fixture.key("copy/existing");
    let old = put(store, &existing, "to be replaced").await;
    let replaced = store.copy(&src, &existing).await.expect("copy over an existing key");
    assert_ne!(replaced.etag, old);
    assert_eq!(read(store, &existing).await, "{\"copied\":true}");

    assert_eq!(read(store, &src).await, "{\"copied\":true}", "source changed by copying");
    assert_eq!(store.head(&src).await.unwrap().etag, src_etag, "source etag changed by copying");
    Outcome::Passed
}

/// `CopyMode::Create` copies to a new key and fails with `AlreadyExists` on an existing one,
/// leaving it intact. Honours [`BlobFixture::with_emulator_gap`].
pub async fn copy_create_existing(fixture: &BlobFixture) -> Outcome {
    let store = &*fixture.store;
    let caps = store.capabilities();
    let src = fixture.key("copy-create/source");
    put(store, &src, "source").await;
    let create = CopyOptions::default().with_mode(CopyMode::Create);
    let fresh = fixture.key("copy-create/fresh");
    if !caps.conditional_copy {
        expect_kind(
            store.copy_opts(&src, &fresh, create.clone()).await,
            ErrorKind::Unsupported,
            "copy with CopyMode::Create",
        );
        assert_missing(store, &fresh, "an unsupported copy").await;
        return Outcome::Unsupported(format!("{} does not enforce create-only copies", caps.provider));
    }
    store.copy_opts(&src, &fresh, create.clone()).await.expect("create-only copy to a new key");
    assert_eq!(read(store, &fresh).await, "source");

    let existing = fixture.key("copy-create/existing");
    let etag = put(store, &existing, "keep me").await;
    if let Some(reason) = fixture.emulator_gap("copy_create_existing") {
        let outcome = store.copy_opts(&src, &existing, create).await;
        assert!(
            outcome.is_ok(),
            "the emulator enforced a create-only copy ({outcome:?}): remove the declared gap {reason:?}"
        );
        return Outcome::NotEnforced(reason.to_owned());
    }
    expect_kind(
        store.copy_opts(&src, &existing, create).await,
        ErrorKind::AlreadyExists,
        "create-only copy onto an existing key",
    );
    assert_eq!(read(store, &existing).await, "keep me");
    assert_eq!(store.head(&existing).await.unwrap().etag, etag);
    Outcome::Passed
}

/// Copying a missing source fails with `NotFound` and creates nothing.
pub async fn copy_missing_source(fixture: &BlobFixture) -> Outcome {
    let store = &*fixture.store;
    let src = fixture.key("copy-missing/source");
    let dst = fixture.key("copy-missing/destination");
    expect_kind(store.copy(&src, &dst).await, ErrorKind::NotFound, "copy of a missing source");
    assert_missing(store, &dst, "a failed copy").await;
    if store.capabilities().conditional_copy {
        let create = CopyOptions::default().with_mode(CopyMode::Create);
        expect_kind(
            store.copy_opts(&src, &dst, create).await,
            ErrorKind::NotFound,
            "create-only copy of a missing source",
        );
        assert_missing(store, &dst, "a failed copy").await;
    }
    Outcome::Passed
}

/// Deleting a key that never existed (even under prefixes that do not exist) succeeds, twice.
pub async fn delete_missing_key_succeeds(fixture: &BlobFixture) -> Outcome {
    let store = &*fixture.store;
    for rel in ["never", "no/such/dir/key"] {
        let key = fixture.key(rel);
        store.delete(&key).await.unwrap_or_else(|e| panic!("delete of missing {key:?}: {e}"));
        store.delete(&key).await.unwrap_or_else(|e| panic!("second delete of missing {key:?}: {e}"));
    }
    put(store, &fixture.key("gone"), "x").await;
    store.delete(&fixture.key("gone")).await.expect("delete");
    store.delete(&fixture.key("gone")).await.expect("delete of an already deleted key");
    Outcome::Passed
}

/// After `delete`, get and head fail with `NotFound`, the key is not listed, its now-empty
/// prefixes vanish from delimited listings, and the prefix's name is free for an object.
pub async fn delete_removes_object(fixture: &BlobFixture) -> Outcome {
    let store = &*fixture.store;
    let key = fixture.key("dir/sub/file");
    let sibling = fixture.key("sibling");
    put(store, &key, "doomed").await;
    put(store, &sibling, "stays").await;
    store.delete(&key).await.expect("delete");
    assert_missing_result(store.get(&key).await.map(|g| g.meta), &key, "get after delete");
    assert_missing(store, &key, "delete").await;
    let listed = list_names(store, ListOptions::default().with_prefix(&fixture.prefix)).await;
    assert_eq!(listed, [sibling.as_str()], "listing after delete");
    let listed = list_names(store, ListOptions::default().with_prefix(&fixture.prefix).with_delimiter()).await;
    assert_eq!(listed, [sibling.as_str()], "delimited listing after deleting the only key under dir/");
    let dir = fixture.key("dir");
    put(store, &dir, "now a file").await;
    assert_eq!(read(store, &dir).await, "now a file");
    assert_eq!(read(store, &sibling).await, "stays");
    Outcome::Passed
}

// ---------------------------------------------------------------------------------------------
// Presign, validation, tracing

/// With the presign capability, GET and PUT URLs come back with their method and expiry (and an
/// expiry over the maximum is `InvalidInput`); without it, both fail with `Unsupported`.
pub async fn presign(fixture: &BlobFixture) -> Outcome {
    let store = &*fixture.store;
    let caps = store.capabilities();
    let key = fixture.key("presigned");
    put(store, &key, "signed").await;
    let expiry = Duration::from_secs(300);
    if !caps.presign {
        for method in [PresignMethod::Get, PresignMethod::Put] {
            expect_kind(
                store.presign(method, &key, expiry).await,
                ErrorKind::Unsupported,
                &format!("presign {method:?}"),
            );
        }
        return Outcome::Unsupported(format!("{} cannot presign URLs", caps.provider));
    }
    for method in [PresignMethod::Get, PresignMethod::Put] {
        let before = SystemTime::now();
        let url = store.presign(method, &key, expiry).await.unwrap_or_else(|e| panic!("presign {method:?}: {e}"));
        let after = SystemTime::now();
        assert_eq!(url.method, method);
        assert!(matches!(url.url.scheme(), "http" | "https"), "presigned URL scheme {:?}", url.url.scheme());
        assert!(
            url.expires_at >= before + expiry - Duration::from_secs(60)
                && url.expires_at <= after + expiry + Duration::from_secs(60),
            "presigned {method:?} URL expires at {:?}, not about {expiry:?} from now",
            url.expires_at
        );
        if let Some(max) = caps.max_presign_expiry {
            let too_long = max + Duration::from_secs(1);
            expect_kind(
                store.presign(method, &key, too_long).await,
                ErrorKind::InvalidInput,
                &format!("presign {method:?} for {too_long:?}"),
            );
        }
    }
    Outcome::Passed
}

/// User metadata with a non-portable name or value, or an oversized total, is rejected before
/// any I/O (`InvalidInput`, `TooLarge` for size), by `put_opts` and `put_writer`, on every store.
pub async fn invalid_metadata_rejected(fixture: &BlobFixture) -> Outcome {
    let store = &*fixture.store;
    let key = fixture.key("bad-metadata");
    let cases = [
        (PutOptions::default().with_metadata("Bad-Name", "v"), ErrorKind::InvalidInput, "an upper-case, dashed name"),
        (PutOptions::default().with_metadata("1digit", "v"), ErrorKind::InvalidInput, "a name starting with a digit"),
        (PutOptions::default().with_metadata("", "v"), ErrorKind::InvalidInput, "an empty name"),
        (PutOptions::default().with_metadata("ok", "é"), ErrorKind::InvalidInput, "a non-ASCII value"),
        (
            PutOptions::default().with_metadata("ok", "line\nbreak"),
            ErrorKind::InvalidInput,
            "a control character in a value",
        ),
        (
            PutOptions::default().with_metadata("big", "v".repeat(cloudport_core::blob::MAX_METADATA_BYTES)),
            ErrorKind::TooLarge,
            "more than 2 KiB of metadata",
        ),
    ];
    for (opts, kind, what) in cases {
        expect_kind(store.put_opts(&key, "x".into(), opts.clone()).await, kind, &format!("put with {what}"));
        expect_kind(store.put_writer(&key, opts).await, kind, &format!("put_writer with {what}"));
    }
    assert_missing(store, &key, "rejected puts").await;
    assert_prefix_empty(fixture, "", "rejected puts").await;
    Outcome::Passed
}

/// Every operation runs in a span named `blob` (target `cloudport`) with `provider`,
/// `operation` (`put`, `head`, `get`, `list`, `copy`, `put_writer`, `delete`, `presign`), `key`
/// (for `list`, the prefix; for `copy`, the destination) and `outcome` (`ok`, or the error kind
/// such as `not_found` or `unsupported`); `put`, `put_writer` and `get` record the body bytes.
pub async fn tracing_spans(fixture: &BlobFixture) -> Outcome {
    let store = &*fixture.store;
    let caps = store.capabilities();
    let key = fixture.key("traced/object");
    let copy_to = fixture.key("traced/copy");
    let streamed = fixture.key("traced/streamed");
    let missing = fixture.key("traced/missing");
    let prefix = fixture.name("traced/");
    let data = body_pattern(4096);

    let ((), spans) = crate::trace::capture(async {
        store.put(&key, data.clone()).await.expect("put");
        store.head(&key).await.expect("head");
        let got = store.get(&key).await.expect("get");
        collect_body(got.body).await.expect("get body");
        let _: Vec<ListEntry> = store.list(&prefix).try_collect().await.expect("list");
        store.copy(&key, &copy_to).await.expect("copy");
        let body = futures::stream::iter([Ok(Bytes::from_static(b"a")), Ok(Bytes::from_static(b"b"))]);
        store.put_stream(&streamed, body, PutOptions::default()).await.expect("put_stream");
        store.delete(&copy_to).await.expect("delete");
        expect_kind(store.head(&missing).await, ErrorKind::NotFound, "head of a missing key");
        let signed = store.presign(PresignMethod::Get, &key, Duration::from_secs(60)).await;
        if !caps.presign {
            expect_kind(signed, ErrorKind::Unsupported, "presign without the presign capability");
        }
    })
    .await;

    let shown = || spans.iter().map(|s| format!("{}{:?}", s.name, s.fields)).collect::<Vec<_>>().join("\n  ");
    let len = data.len().to_string();
    let expectations = [
        ("put", key.as_str(), "ok", Some(len.as_str())),
        ("head", key.as_str(), "ok", None),
        ("get", key.as_str(), "ok", Some(len.as_str())),
        ("list", prefix.as_str(), "ok", None),
        ("copy", copy_to.as_str(), "ok", None),
        ("put_writer", streamed.as_str(), "ok", Some("2")),
        ("delete", copy_to.as_str(), "ok", None),
        ("head", missing.as_str(), "not_found", None),
        ("presign", key.as_str(), if caps.presign { "ok" } else { "unsupported" }, None),
    ];
    for (operation, key, outcome, bytes) in expectations {
        let span = spans
            .iter()
            .find(|s| {
                s.name == "blob"
                    && s.field("operation") == Some(operation)
                    && s.field("key") == Some(key)
                    && s.field("outcome") == Some(outcome)
            })
            .unwrap_or_else(|| {
                panic!(
                    "no `blob` span with operation={operation:?}, key={key:?}, outcome={outcome:?}; spans:\n  {}",
                    shown()
                )
            });
        assert_eq!(span.field("provider"), Some(caps.provider), "provider field of the {operation} span");
        if bytes.is_some() {
            assert_eq!(span.field("bytes"), bytes, "bytes field of the {operation} span");
        }
    }
    let unnamed: Vec<_> = spans.iter().filter(|s| s.name == "blob" && s.field("outcome").is_none()).collect();
    assert!(unnamed.is_empty(), "blob spans that never recorded an outcome: {unnamed:?}");
    Outcome::Passed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_public_behaviour_is_in_the_suite() {
        let defined = crate::util::defined_behaviours(include_str!("blob.rs"), "BlobFixture");
        assert_eq!(defined, BEHAVIOURS, "the macro's list and the functions differ (order included)");
    }

    #[test]
    fn large_object_chunks_are_deterministic_and_cover_the_size() {
        assert_eq!(large_chunk(3), large_chunk(3));
        assert_ne!(large_chunk(3), large_chunk(4));
        let total: u64 = (0..large_chunk_count()).map(|i| large_chunk(i).len() as u64).sum();
        assert_eq!(total, LARGE_SIZE);
        let mut check = LargeCheck::new();
        let first = large_chunk(0);
        check.check(&first[..10]);
        check.check(&first[10..]);
        let second = large_chunk(1);
        assert_eq!(large_slice(LARGE_CHUNK - 5, LARGE_CHUNK + 5), [&first[first.len() - 5..], &second[..5]].concat());
        let bad = std::panic::catch_unwind(move || {
            let mut wrong = second.to_vec();
            wrong[7] ^= 1;
            check.check(&wrong);
        });
        let message = crate::report::panic_message(bad.unwrap_err().as_ref());
        assert_eq!(message, format!("body differs from what was written at byte offset {}", LARGE_CHUNK + 7));
    }
}
