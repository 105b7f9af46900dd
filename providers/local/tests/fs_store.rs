//! Filesystem-specific behaviour of `FsBlobStore` that the shared conformance suite cannot see:
//! symlinks, files on disk, reopening, processes sharing a root, URLs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use cloudport_core::{
    BlobKey, BlobStore, BlobStoreExt, ByteRange, ErrorKind, ListEntry, ListOptions, PutMode, PutOptions,
};
use cloudport_local::{FsBlobStore, MemoryBlobStore};
use futures::{StreamExt, TryStreamExt};

fn key(k: &str) -> BlobKey {
    BlobKey::new(k).unwrap()
}

fn store(dir: &Path) -> FsBlobStore {
    FsBlobStore::builder(dir).fsync(false).build().unwrap()
}

/// Every file under `root` whose name starts with `.cloudport-tmp-`.
fn temp_files(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                dirs.push(entry.path());
            } else if entry.file_name().to_string_lossy().starts_with(".cloudport-tmp-") {
                found.push(entry.path());
            }
        }
    }
    found
}

async fn names(store: &dyn BlobStore, opts: ListOptions) -> Vec<String> {
    let entries: Vec<ListEntry> = store.list_opts(opts).try_collect().await.unwrap();
    entries
        .iter()
        .map(|e| match e {
            ListEntry::Object(o) => o.key.to_string(),
            ListEntry::Prefix(p) => format!("{p} (prefix)"),
        })
        .collect()
}

#[tokio::test]
async fn symlinks_out_of_the_root_are_refused() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "top secret").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    std::os::unix::fs::symlink(outside.path(), s.root().join("link")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), s.root().join("leak")).unwrap();

    for k in ["link/secret.txt", "leak"] {
        let err = s.get_bytes(&key(k)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PermissionDenied, "get {k}: {err}");
        assert!(err.to_string().contains("outside") || err.to_string().contains("inside"), "{err}");
        assert_eq!(s.head(&key(k)).await.unwrap_err().kind(), ErrorKind::PermissionDenied, "head {k}");
        assert_eq!(s.put(&key(k), "overwrite").await.unwrap_err().kind(), ErrorKind::PermissionDenied, "put {k}");
        assert_eq!(s.delete(&key(k)).await.unwrap_err().kind(), ErrorKind::PermissionDenied, "delete {k}");
        let copied = s.copy(&key(k), &key("copied")).await.unwrap_err();
        assert_eq!(copied.kind(), ErrorKind::PermissionDenied, "copy from {k}");
    }
    let err = s.put(&key("link/new.txt"), "x").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(!outside.path().join("new.txt").exists(), "a write went through the link");
    assert_eq!(std::fs::read_to_string(outside.path().join("secret.txt")).unwrap(), "top secret");

    // Listings skip the links, and never show what is behind them.
    s.put(&key("visible"), "v").await.unwrap();
    assert_eq!(names(&s, ListOptions::default()).await, ["visible"]);
    assert_eq!(names(&s, ListOptions::default().with_delimiter()).await, ["visible"]);
    let through: Vec<_> = s.list_opts(ListOptions::default().with_prefix("link/")).collect::<Vec<_>>().await;
    assert!(through.iter().all(|e| e.is_err()), "listing through the link returned {through:?}");

    // A link that stays inside the root is followed.
    s.put(&key("real/x"), "inside").await.unwrap();
    std::os::unix::fs::symlink(s.root().join("real"), s.root().join("alias")).unwrap();
    assert_eq!(s.get_bytes(&key("alias/x")).await.unwrap(), "inside");
}

#[tokio::test]
async fn metadata_and_etags_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let opts = PutOptions::default().with_content_type("text/csv").with_metadata("owner", "ops team");
    let put = store(dir.path()).put_opts(&key("r/2026.csv"), "a,b\n".into(), opts).await.unwrap();

    let reopened = FsBlobStore::builder(dir.path()).build().unwrap();
    let head = reopened.head(&key("r/2026.csv")).await.unwrap();
    assert_eq!(head.etag, put.etag);
    assert_eq!(head.content_type.as_deref(), Some("text/csv"));
    assert_eq!(head.metadata.get("owner").map(String::as_str), Some("ops team"));
    assert_eq!(head.size, 4);
    assert_eq!(reopened.get_bytes(&key("r/2026.csv")).await.unwrap(), "a,b\n");
    // The metadata is readable on disk too.
    let raw = xattr_value(&reopened.root().join("r/2026.csv"));
    assert!(raw.contains("text/csv") && raw.contains("owner=ops team"), "{raw}");
}

fn xattr_value(path: &Path) -> String {
    let raw = xattr::get(path, "user.cloudport.meta").unwrap().expect("the metadata attribute is set");
    String::from_utf8(raw).unwrap()
}

#[tokio::test]
async fn temporary_files_stay_hidden_and_writers_clean_up() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let mut writer = s.put_writer(&key("up/big.bin"), PutOptions::default()).await.unwrap();
    writer.write(Bytes::from(vec![1u8; 3 << 20])).await.unwrap();
    assert_eq!(temp_files(s.root()).len(), 1, "the upload writes to one temporary file");
    assert!(names(&s, ListOptions::default()).await.is_empty());
    assert!(names(&s, ListOptions::default().with_delimiter()).await.is_empty(), "a prefix holding only a temp file");
    writer.abort().await.unwrap();
    assert!(temp_files(s.root()).is_empty(), "abort left {:?}", temp_files(s.root()));

    let mut writer = s.put_writer(&key("up/dropped.bin"), PutOptions::default()).await.unwrap();
    writer.write(Bytes::from(vec![2u8; 5 << 20])).await.unwrap();
    drop(writer);
    // A batch may still be in flight on the blocking pool; it removes the file when it ends.
    for _ in 0..100 {
        if temp_files(s.root()).is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(temp_files(s.root()).is_empty(), "drop left {:?}", temp_files(s.root()));
    assert!(!s.exists(&key("up/dropped.bin")).await.unwrap());

    // A crashed writer's file (planted here) is never listed, not even as a prefix.
    std::fs::create_dir_all(s.root().join("crashed")).unwrap();
    std::fs::write(s.root().join("crashed/.cloudport-tmp-0123"), "partial").unwrap();
    s.put(&key("kept"), "k").await.unwrap();
    assert_eq!(names(&s, ListOptions::default()).await, ["kept"]);
    assert_eq!(names(&s, ListOptions::default().with_delimiter()).await, ["kept"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn create_only_race_has_one_winner_across_stores() {
    let dir = tempfile::tempdir().unwrap();
    // Two stores on one root stand in for two processes: they share no in-process lock.
    let stores = [Arc::new(store(dir.path())), Arc::new(store(dir.path()))];
    let barrier = Arc::new(tokio::sync::Barrier::new(16));
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let s = Arc::clone(&stores[i % 2]);
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                let opts = PutOptions::default().with_mode(PutMode::Create);
                (i, s.put_opts(&key("race/target"), format!("writer {i}").into(), opts).await)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (i, result) = task.await.unwrap();
        match result {
            Ok(put) => winners.push((i, put.etag)),
            Err(e) => assert_eq!(e.kind(), ErrorKind::AlreadyExists, "writer {i}: {e}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let (winner, etag) = &winners[0];
    assert_eq!(stores[0].get_bytes(&key("race/target")).await.unwrap(), format!("writer {winner}"));
    assert_eq!(stores[1].head(&key("race/target")).await.unwrap().etag, *etag);
    assert!(temp_files(stores[0].root()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn compare_and_swap_holds_across_stores_on_one_root() {
    let dir = tempfile::tempdir().unwrap();
    let stores = [Arc::new(store(dir.path())), Arc::new(store(dir.path()))];
    stores[0].put(&key("counter"), "0").await.unwrap();
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let s = Arc::clone(&stores[i % 2]);
            tokio::spawn(async move {
                for _ in 0..10 {
                    loop {
                        let got = s.get(&key("counter")).await.unwrap();
                        let etag = got.meta.etag.clone();
                        let n: u64 = std::str::from_utf8(&cloudport_core::blob::collect_body(got.body).await.unwrap())
                            .unwrap()
                            .parse()
                            .unwrap();
                        let opts = PutOptions::default().with_mode(PutMode::IfMatch(etag));
                        match s.put_opts(&key("counter"), (n + 1).to_string().into(), opts).await {
                            Ok(_) => break,
                            Err(e) => assert_eq!(e.kind(), ErrorKind::PreconditionFailed, "{e}"),
                        }
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(stores[1].get_bytes(&key("counter")).await.unwrap(), "60");
}

#[tokio::test]
async fn fsync_on_and_off_both_write_durably_named_files() {
    let dir = tempfile::tempdir().unwrap();
    for (sub, fsync) in [("on", true), ("off", false)] {
        let s = FsBlobStore::builder(dir.path().join(sub)).fsync(fsync).build().unwrap();
        s.put(&key("a/b/c.txt"), "data").await.unwrap();
        let mut w = s.put_writer(&key("a/streamed"), PutOptions::default()).await.unwrap();
        w.write(Bytes::from_static(b"str")).await.unwrap();
        w.write(Bytes::from_static(b"eamed")).await.unwrap();
        w.finish().await.unwrap();
        s.copy(&key("a/b/c.txt"), &key("copy/c.txt")).await.unwrap();
        assert_eq!(std::fs::read_to_string(s.root().join("a/b/c.txt")).unwrap(), "data");
        assert_eq!(std::fs::read_to_string(s.root().join("a/streamed")).unwrap(), "streamed");
        assert_eq!(s.get_bytes(&key("copy/c.txt")).await.unwrap(), "data");
    }
    let url = url::Url::parse(&format!("file://{}?fsync=false", dir.path().join("url").display())).unwrap();
    let s = FsBlobStore::from_url(&url).unwrap();
    s.put(&key("k"), "v").await.unwrap();
    assert_eq!(s.root(), std::fs::canonicalize(dir.path().join("url")).unwrap());
}

#[test]
fn from_url_rejects_what_it_does_not_understand() {
    let dir = tempfile::tempdir().unwrap();
    let abs = dir.path().display();
    for bad in [
        "file://relative/path".to_owned(),
        format!("file://{abs}?fsync=false&typo=1"),
        format!("file://{abs}?fsync=maybe"),
        "memory://name".to_owned(),
    ] {
        let err = FsBlobStore::from_url(&url::Url::parse(&bad).unwrap()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{bad}: {err}");
    }
    let err = FsBlobStore::from_url(&url::Url::parse(&format!("file://{abs}?typo=1")).unwrap()).unwrap_err();
    assert!(err.to_string().contains("typo"), "{err}");
}

#[tokio::test]
async fn keys_and_prefixes_cannot_share_a_name() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    s.put(&key("a"), "file").await.unwrap();
    let err = s.put(&key("a/b"), "child").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    assert!(err.to_string().contains("cannot hold both a key and keys under it"), "{err}");
    s.put(&key("d/e"), "child").await.unwrap();
    let err = s.put(&key("d"), "file").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    let err = s.copy(&key("a"), &key("d")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    assert_eq!(s.get(&key("a/b")).await.unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(s.head(&key("d")).await.unwrap_err().kind(), ErrorKind::NotFound);
    s.delete(&key("d")).await.unwrap();
    assert_eq!(s.get_bytes(&key("d/e")).await.unwrap(), "child");
    assert!(temp_files(s.root()).is_empty());
}

#[tokio::test]
async fn overlong_segments_are_invalid_input() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let long = key(&format!("dir/{}", "x".repeat(300)));
    assert_eq!(s.put(&long, "x").await.unwrap_err().kind(), ErrorKind::InvalidInput);
    assert_eq!(s.head(&long).await.unwrap_err().kind(), ErrorKind::InvalidInput);
    assert_eq!(s.put_writer(&long, PutOptions::default()).await.unwrap_err().kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn delete_prunes_empty_directories_but_never_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    s.put(&key("x/y/z"), "1").await.unwrap();
    s.put(&key("x/keep"), "2").await.unwrap();
    s.delete(&key("x/y/z")).await.unwrap();
    assert!(!s.root().join("x/y").exists());
    assert!(s.root().join("x/keep").exists());
    s.delete(&key("x/keep")).await.unwrap();
    assert!(!s.root().join("x").exists());
    assert!(s.root().is_dir());
    assert_eq!(names(&s, ListOptions::default().with_delimiter()).await, Vec::<String>::new());
}

#[tokio::test]
async fn listing_sorts_directories_by_full_key() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let keys = ["a", "a-b", "a.c/d", "a0", "b/a/b", "b/a-b", "b/a/c", "b/a0", "b/a.x/y", "b/a/b0"];
    for k in keys {
        if k != "a" {
            s.put(&key(k), "x").await.unwrap();
        }
    }
    s.put(&key("z/a"), "x").await.unwrap();
    let mut expected: Vec<String> = keys.iter().filter(|k| **k != "a").map(|k| (*k).to_owned()).collect();
    expected.push("z/a".into());
    expected.sort();
    for page in [1, 2, 1000] {
        assert_eq!(names(&s, ListOptions::default().with_page_size(page)).await, expected, "page size {page}");
    }
    let delimited = names(&s, ListOptions::default().with_prefix("b/").with_delimiter()).await;
    assert_eq!(delimited, ["b/a-b", "b/a.x/ (prefix)", "b/a/ (prefix)", "b/a0"]);
    let after = names(&s, ListOptions::default().with_start_after("b/a/b")).await;
    assert_eq!(after, ["b/a/b0", "b/a/c", "b/a0", "z/a"]);
}

#[tokio::test]
async fn large_objects_stream_and_ranges_cross_chunk_edges() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let data: Bytes = (0..(10u32 << 20) + 12345).map(|i| (i % 253) as u8).collect::<Vec<u8>>().into();
    let chunks: Vec<_> = data.chunks(700_001).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    s.put_stream(&key("big"), futures::stream::iter(chunks), PutOptions::default()).await.unwrap();

    let got = s.get(&key("big")).await.unwrap();
    let mut body = got.body;
    let (mut seen, mut largest) = (Vec::with_capacity(data.len()), 0);
    while let Some(chunk) = body.try_next().await.unwrap() {
        largest = largest.max(chunk.len());
        seen.extend_from_slice(&chunk);
    }
    assert!(seen == data, "streamed body differs");
    assert!(largest <= 4 << 20, "a chunk of {largest} bytes: reads must stream");

    let four = 4u64 << 20;
    let len = data.len() as u64;
    for range in [
        ByteRange::Bounded(four - 10, four + 10),
        ByteRange::Bounded(1, 2 * four + 3),
        ByteRange::From(four + 1),
        ByteRange::Suffix(four + 7),
        ByteRange::Bounded(len - 1, len + 100),
    ] {
        let got = s.get_range(&key("big"), range).await.unwrap();
        let r = got.range.clone();
        let bytes = cloudport_core::blob::collect_body(got.body).await.unwrap();
        assert!(bytes[..] == data[r.start as usize..r.end as usize], "{range:?}");
    }
}

#[tokio::test]
async fn files_written_by_hand_are_objects_with_derived_etags() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    std::fs::create_dir_all(s.root().join("hand")).unwrap();
    std::fs::write(s.root().join("hand/made.txt"), "by hand").unwrap();
    let head = s.head(&key("hand/made.txt")).await.unwrap();
    assert_eq!(head.size, 7);
    assert_eq!(s.get_bytes(&key("hand/made.txt")).await.unwrap(), "by hand");
    assert_eq!(names(&s, ListOptions::default()).await, ["hand/made.txt"]);
    let opts = PutOptions::default().with_mode(PutMode::IfMatch(head.etag.clone()));
    let put = s.put_opts(&key("hand/made.txt"), "replaced".into(), opts.clone()).await.unwrap();
    assert_ne!(put.etag, head.etag);
    assert_eq!(
        s.put_opts(&key("hand/made.txt"), "again".into(), opts).await.unwrap_err().kind(),
        ErrorKind::PreconditionFailed
    );
}

#[tokio::test]
async fn named_memory_stores_are_shared_process_wide() {
    let a = MemoryBlobStore::named("fs-store-test-registry");
    let b = MemoryBlobStore::from_url(&url::Url::parse("memory://fs-store-test-registry").unwrap()).unwrap();
    a.put(&key("shared"), "yes").await.unwrap();
    let from_thread = std::thread::spawn(|| MemoryBlobStore::named("fs-store-test-registry")).join().unwrap();
    assert_eq!(b.get_bytes(&key("shared")).await.unwrap(), "yes");
    assert!(from_thread.exists(&key("shared")).await.unwrap());
    assert!(!MemoryBlobStore::new().exists(&key("shared")).await.unwrap());
    assert_eq!(MemoryBlobStore::new().capabilities().provider, "local-memory");
    assert!(MemoryBlobStore::new().capabilities().file_and_prefix_coexist);
}

#[tokio::test]
async fn presign_and_capabilities() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let caps = s.capabilities();
    assert_eq!(caps.provider, "local-fs");
    assert!(caps.conditional_put && caps.conditional_get && caps.conditional_copy && caps.metadata);
    assert!(!caps.presign && !caps.file_and_prefix_coexist);
    assert_eq!(caps.max_list_page, 1000);
    let err = s.presign(cloudport_core::PresignMethod::Get, &key("k"), std::time::Duration::from_secs(60)).await;
    assert_eq!(err.unwrap_err().kind(), ErrorKind::Unsupported);
}
