//! Peak memory while streaming 1 GiB through the filesystem store: up with `put_stream`, down
//! with `get`, never holding the object. Prints the peak resident set size (VmHWM) and fails if
//! it reaches 64 MiB.
//!
//! Run: `cargo bench -p cloudport-benches --bench stream_rss`

use bytes::Bytes;
use cloudport::local::FsBlobStore;
use cloudport::{BlobKey, BlobStoreExt, PutOptions};
use futures::StreamExt;

const TOTAL: usize = 1 << 30;
const CHUNK: usize = 1 << 20;
const LIMIT_KIB: u64 = 64 * 1024;

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status (Linux only)");
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM line");
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("VmHWM value")
}

fn main() {
    // `cargo bench` passes `--bench`; this target is not a criterion harness, so ignore arguments.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir_in(".").unwrap();
    let store = FsBlobStore::builder(dir.path()).build().unwrap();
    let key = BlobKey::new("big/1GiB.bin").unwrap();
    let before = peak_rss_kib();
    let started = std::time::Instant::now();
    rt.block_on(async {
        let chunk = Bytes::from(vec![0x42u8; CHUNK]);
        let body = futures::stream::iter((0..TOTAL / CHUNK).map(move |_| Ok(chunk.clone())));
        store.put_stream(&key, body, PutOptions::default()).await.unwrap();
        let up = started.elapsed();
        let mut stream = store.get(&key).await.unwrap().body;
        let mut n = 0usize;
        while let Some(c) = stream.next().await {
            n += c.unwrap().len();
        }
        assert_eq!(n, TOTAL);
        println!(
            "streamed 1 GiB: put_stream {:.2?} ({:.0} MiB/s, fsync on), get {:.2?}",
            up,
            1024.0 / up.as_secs_f64(),
            started.elapsed() - up
        );
    });
    let peak = peak_rss_kib();
    println!("peak RSS: {:.1} MiB (before streaming: {:.1} MiB)", peak as f64 / 1024.0, before as f64 / 1024.0);
    assert!(peak < LIMIT_KIB, "peak RSS {peak} KiB reached the {LIMIT_KIB} KiB limit");
}
