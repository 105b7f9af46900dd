//! Peak memory while streaming 1 GiB through the S3 store against moto: up with `put_stream`
//! (1 MiB chunks into a multipart upload of 8 MiB parts, 4 in flight), down with `get`, never
//! holding the object. Prints the peak resident set size (VmHWM) of this process (moto keeps the
//! object in its own) and fails if it reaches 64 MiB.
//!
//! Start moto (`moto_server -p 5055`), then run:
//! `cargo bench -p cloudport-benches --bench stream_rss_s3` (`CLOUDPORT_BENCH_MOTO=http://host:port`
//! for another endpoint, `CLOUDPORT_BENCH_S3_MIB=512` to stream less).

use bytes::Bytes;
use cloudport::aws::{AwsOptions, S3BlobStore};
use cloudport::{BlobKey, BlobStore, BlobStoreExt, PutOptions};
use futures::StreamExt;

const CHUNK: usize = 1 << 20;
const LIMIT_KIB: u64 = 64 * 1024;
const BUCKET: &str = "cloudport-bench-rss";

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status (Linux only)");
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM line");
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("VmHWM value")
}

/// Resets the peak (VmHWM) to the current resident set size, so each phase reports its own.
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").expect("/proc/self/clear_refs (Linux only)");
}

fn main() {
    // `cargo bench` passes `--bench`; this target is not a criterion harness, so ignore arguments.
    let endpoint = std::env::var("CLOUDPORT_BENCH_MOTO").unwrap_or_else(|_| "http://127.0.0.1:5055".to_owned());
    let mib: usize = std::env::var("CLOUDPORT_BENCH_S3_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(1024);
    let total = mib * CHUNK;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = S3BlobStore::builder(BUCKET)
        .prefix("rss")
        .aws(AwsOptions::new().endpoint(&endpoint).region("us-east-1").credentials("testing", "testing"))
        .part_size(8 << 20)
        .concurrency(4)
        .build()
        .unwrap();
    let key = BlobKey::new(format!("big/{mib}MiB.bin")).unwrap();
    rt.block_on(async {
        let client = store.client().await.unwrap();
        if let Err(e) = client.create_bucket().bucket(BUCKET).send().await {
            eprintln!("create_bucket {BUCKET}: {e}");
        }
        client.head_bucket().bucket(BUCKET).send().await.expect("the bench bucket exists");
    });
    let before = peak_rss_kib();
    let started = std::time::Instant::now();
    let (up_peak, down_peak) = rt.block_on(async {
        let chunk = Bytes::from(vec![0x42u8; CHUNK]);
        let body = futures::stream::iter((0..mib).map(move |_| Ok(chunk.clone())));
        store.put_stream(&key, body, PutOptions::default()).await.unwrap();
        let up = started.elapsed();
        let up_peak = peak_rss_kib();
        reset_peak();
        let mut stream = store.get(&key).await.unwrap().body;
        let mut n = 0usize;
        while let Some(c) = stream.next().await {
            n += c.unwrap().len();
        }
        assert_eq!(n, total);
        let down = started.elapsed() - up;
        let down_peak = peak_rss_kib();
        println!(
            "streamed {mib} MiB through S3 (moto at {endpoint}): put_stream {up:.2?} ({:.0} MiB/s), get {down:.2?} ({:.0} MiB/s)",
            mib as f64 / up.as_secs_f64(),
            mib as f64 / down.as_secs_f64(),
        );
        // Frees moto's copy.
        store.delete(&key).await.unwrap();
        (up_peak, down_peak)
    });
    let peak = up_peak.max(down_peak).max(peak_rss_kib());
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "peak RSS: {:.1} MiB (before streaming: {:.1} MiB; put_stream: {:.1} MiB; get: {:.1} MiB)",
        mib(peak),
        mib(before),
        mib(up_peak),
        mib(down_peak)
    );
    assert!(peak < LIMIT_KIB, "peak RSS {peak} KiB reached the {LIMIT_KIB} KiB limit");
}
