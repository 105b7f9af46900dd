//! Local filesystem put/get: cloudport's `FsBlobStore` against object_store's `LocalFileSystem`
//! and OpenDAL's `Fs`, in one run, for 4 KiB, 1 MiB and 64 MiB objects.
//!
//! Neither peer fsyncs on put, so cloudport's put is measured both ways: `cloudport-nofsync`
//! compares like with like, `cloudport-fsync` is the default (durable) setting.
//! Reads, two ways: the whole object as one contiguous buffer (`get_bytes`, `get().bytes()`,
//! `read().to_bytes()`), and the object as a sequence of chunks (each library's streaming read,
//! plus OpenDAL's `read()`, which returns its chunks unjoined).
//!
//! Run: `cargo bench -p cloudport-benches --bench blob_fs`

use std::time::Duration;

use bytes::Bytes;
use cloudport::local::FsBlobStore;
use cloudport::{BlobKey, BlobStoreExt};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use object_store::ObjectStoreExt as _;
use object_store::local::LocalFileSystem;
use object_store::path::Path as OsPath;

const SIZES: &[(&str, usize)] = &[("4KiB", 4 << 10), ("1MiB", 1 << 20), ("64MiB", 64 << 20)];

struct Stores {
    _dir: tempfile::TempDir,
    fsync: FsBlobStore,
    nofsync: FsBlobStore,
    object_store: LocalFileSystem,
    opendal: opendal::Operator,
}

fn stores() -> Stores {
    let dir = tempfile::tempdir_in(std::env::var_os("CLOUDPORT_BENCH_DIR").unwrap_or_else(|| ".".into()))
        .expect("bench temp dir");
    let root = |name: &str| {
        let p = dir.path().join(name);
        std::fs::create_dir_all(&p).unwrap();
        p
    };
    let fsync = FsBlobStore::builder(root("cloudport-fsync")).build().unwrap();
    let nofsync = FsBlobStore::builder(root("cloudport-nofsync")).fsync(false).build().unwrap();
    let object_store = LocalFileSystem::new_with_prefix(root("object_store")).unwrap();
    let builder = opendal::services::Fs::default().root(root("opendal").to_str().unwrap());
    let opendal = opendal::Operator::new(builder).unwrap();
    Stores { _dir: dir, fsync, nofsync, object_store, opendal }
}

fn group_for<'a>(
    c: &'a mut Criterion,
    name: &str,
    size: usize,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(size as u64));
    if size >= 1 << 20 {
        g.sample_size(10);
    }
    g.measurement_time(Duration::from_secs(if size >= 64 << 20 { 8 } else { 4 }));
    g.warm_up_time(Duration::from_secs(1));
    g
}

fn put(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s = stores();
    for &(label, size) in SIZES {
        let data = Bytes::from(vec![0x5au8; size]);
        let key = BlobKey::new(format!("put/{label}")).unwrap();
        let path = OsPath::from(format!("put/{label}"));
        let mut g = group_for(c, &format!("fs_put/{label}"), size);
        g.bench_function(BenchmarkId::from_parameter("cloudport-fsync"), |b| {
            b.to_async(&rt).iter(|| async { s.fsync.put(&key, data.clone()).await.unwrap() })
        });
        g.bench_function(BenchmarkId::from_parameter("cloudport-nofsync"), |b| {
            b.to_async(&rt).iter(|| async { s.nofsync.put(&key, data.clone()).await.unwrap() })
        });
        g.bench_function(BenchmarkId::from_parameter("object_store"), |b| {
            b.to_async(&rt).iter(|| async { s.object_store.put(&path, data.clone().into()).await.unwrap() })
        });
        g.bench_function(BenchmarkId::from_parameter("opendal"), |b| {
            b.to_async(&rt).iter(|| async { s.opendal.write(path.as_ref(), data.clone()).await.unwrap() })
        });
        g.finish();
    }
}

fn get(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s = stores();
    for &(label, size) in SIZES {
        let data = Bytes::from(vec![0xa5u8; size]);
        let key = BlobKey::new(format!("get/{label}")).unwrap();
        let path = OsPath::from(format!("get/{label}"));
        rt.block_on(async {
            s.nofsync.put(&key, data.clone()).await.unwrap();
            s.object_store.put(&path, data.clone().into()).await.unwrap();
            s.opendal.write(path.as_ref(), data.clone()).await.unwrap();
        });

        let mut g = group_for(c, &format!("fs_get/{label}"), size);
        g.bench_function(BenchmarkId::from_parameter("cloudport"), |b| {
            b.to_async(&rt).iter(|| async { assert_eq!(s.nofsync.get_bytes(&key).await.unwrap().len(), size) })
        });
        g.bench_function(BenchmarkId::from_parameter("object_store"), |b| {
            b.to_async(&rt).iter(|| async {
                assert_eq!(s.object_store.get(&path).await.unwrap().bytes().await.unwrap().len(), size)
            })
        });
        g.bench_function(BenchmarkId::from_parameter("opendal"), |b| {
            b.to_async(&rt)
                .iter(|| async { assert_eq!(s.opendal.read(path.as_ref()).await.unwrap().to_bytes().len(), size) })
        });
        g.finish();

        let mut g = group_for(c, &format!("fs_get_stream/{label}"), size);
        g.bench_function(BenchmarkId::from_parameter("cloudport"), |b| {
            b.to_async(&rt).iter(|| async {
                let mut body = s.nofsync.get(&key).await.unwrap().body;
                let mut n = 0;
                while let Some(chunk) = body.next().await {
                    n += chunk.unwrap().len();
                }
                assert_eq!(n, size);
            })
        });
        g.bench_function(BenchmarkId::from_parameter("object_store"), |b| {
            b.to_async(&rt).iter(|| async {
                let mut body = s.object_store.get(&path).await.unwrap().into_stream();
                let mut n = 0;
                while let Some(chunk) = body.next().await {
                    n += chunk.unwrap().len();
                }
                assert_eq!(n, size);
            })
        });
        // OpenDAL's `read()` returns its chunks without joining them: a read as chunks, like a stream.
        g.bench_function(BenchmarkId::from_parameter("opendal-read-buffer"), |b| {
            b.to_async(&rt).iter(|| async {
                let buffer = s.opendal.read(path.as_ref()).await.unwrap();
                assert_eq!(Iterator::map(buffer.into_iter(), |c| c.len()).sum::<usize>(), size);
            })
        });
        g.bench_function(BenchmarkId::from_parameter("opendal"), |b| {
            b.to_async(&rt).iter(|| async {
                let reader = s.opendal.reader(path.as_ref()).await.unwrap();
                let mut body = reader.into_bytes_stream(..).await.unwrap();
                let mut n = 0;
                while let Some(chunk) = body.next().await {
                    n += chunk.unwrap().len();
                }
                assert_eq!(n, size);
            })
        });
        g.finish();
    }
}

criterion_group!(benches, put, get);
criterion_main!(benches);
