//! Large blobs stream: uploading and downloading 512 MiB through the filesystem store keeps the
//! process's peak resident memory under 64 MiB. Measured in a child process (this test binary
//! re-run on one `#[ignore]`d test) so other tests' memory does not count.
#![cfg(all(feature = "local", target_os = "linux"))]

use std::process::Command;

use bytes::Bytes;
use cloudport::{BlobKey, BlobStoreExt, PutOptions};
use futures::StreamExt;

const TOTAL: usize = 512 << 20;
const CHUNK: usize = 1 << 20;
const LIMIT_KIB: u64 = 64 * 1024;
const DIR_ENV: &str = "CLOUDPORT_STREAM_DIR";

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn streaming_512_mib_keeps_peak_memory_under_64_mib() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "child_streams_512_mib", "--nocapture", "--test-threads", "1"])
        .env(DIR_ENV, dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let peak: u64 = stdout
        .lines()
        .find_map(|l| l.split("peak_rss_kib=").nth(1))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("child printed no peak: {stdout}"));
    assert!(peak < LIMIT_KIB, "peak RSS {peak} KiB while streaming 512 MiB (limit {LIMIT_KIB} KiB)");
}

#[tokio::test]
#[ignore = "child process of streaming_512_mib_keeps_peak_memory_under_64_mib"]
async fn child_streams_512_mib() {
    let dir = std::env::var_os(DIR_ENV).expect("run only from its parent test");
    let store = cloudport::blob::open(&format!("file://{}?fsync=false", std::path::Path::new(&dir).display())).unwrap();
    let key = BlobKey::new("big.bin").unwrap();
    let chunk = Bytes::from(vec![0x42u8; CHUNK]);
    let body = futures::stream::iter((0..TOTAL / CHUNK).map(move |_| Ok(chunk.clone())));
    store.put_stream(&key, body, PutOptions::default()).await.unwrap();
    let mut stream = store.get(&key).await.unwrap().body;
    let mut n = 0;
    while let Some(c) = stream.next().await {
        let c = c.unwrap();
        assert!(c.iter().all(|&b| b == 0x42), "corrupted chunk at {n}");
        n += c.len();
    }
    assert_eq!(n, TOTAL);
    println!("peak_rss_kib={}", peak_rss_kib());
}
