//! The AWS provider against moto, in one run: cloudport's `S3BlobStore` and `SqsQueue` against
//! the AWS SDK called directly (the baseline: cloudport must stay within 3% of it) and against
//! peers, object_store's `AmazonS3` and omniqueue's SQS backend.
//!
//! The SDK baseline is configured exactly as cloudport configures it: the same rustls + ring
//! HTTPS client, connect timeout, region, endpoint, static credentials and path-style
//! addressing, so the difference is cloudport's own overhead. It also asks SQS for what
//! cloudport's deliveries carry (receive count, sent time, message attributes).
//!
//! - `s3_put/{1MiB,64MiB}`: one `PutObject` of the whole object.
//! - `s3_get/{1MiB,64MiB}`: `GetObject` and the whole body read: cloudport, the SDK
//!   (`aws-sdk`) and object_store drain their chunk streams; `aws-sdk-collect` is the SDK's
//!   `collect()`, which keeps every chunk until the end.
//! - `sqs_round_trip/batch10`: send 10 messages in one batch, receive them (10 at most per
//!   receive, 1 s long poll) and ack (delete) each.
//!
//! Start moto (`moto_server -p 5055`), then run:
//! `cargo bench -p cloudport-benches --bench aws` (`CLOUDPORT_BENCH_MOTO=http://host:port` for
//! another endpoint).

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use cloudport::aws::{S3BlobStore, SqsQueue};
use cloudport::{BlobKey, BlobStoreExt};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use object_store::ObjectStoreExt as _;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as OsPath;
use omniqueue::backends::SqsBackend;
use tokio::runtime::Runtime;

mod aws_shared;
use aws_shared::*;

fn group<'a>(c: &'a mut Criterion, name: &str, size: usize) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(size as u64));
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    if size >= 64 << 20 {
        // Hundreds of milliseconds per iteration against moto: the same few iterations per
        // sample, not criterion's linear ramp (55 iterations for 10 samples).
        g.sampling_mode(SamplingMode::Flat);
        g.measurement_time(Duration::from_secs(8));
    } else {
        g.measurement_time(Duration::from_secs(4));
    }
    g
}

struct S3Stores {
    cloudport: S3BlobStore,
    sdk: aws_sdk_s3::Client,
    object_store: AmazonS3,
}

fn s3_stores(rt: &Runtime, endpoint: &str) -> S3Stores {
    let cloudport = S3BlobStore::builder(BUCKET)
        .prefix("cloudport")
        .aws(cloudport_options(endpoint))
        .part_size(8 << 20)
        .concurrency(4)
        .build()
        .unwrap();
    let sdk = rt.block_on(async {
        let client = cloudport.client().await.unwrap();
        if let Err(e) = client.create_bucket().bucket(BUCKET).send().await {
            // Already there from an earlier run is fine; anything else shows at the head below.
            eprintln!("create_bucket {BUCKET}: {e}");
        }
        client.head_bucket().bucket(BUCKET).send().await.expect("the bench bucket exists");
        let config = aws_sdk_s3::config::Builder::from(&sdk_config(endpoint).await).force_path_style(true).build();
        aws_sdk_s3::Client::from_conf(config)
    });
    let object_store = AmazonS3Builder::new()
        .with_endpoint(endpoint)
        .with_allow_http(true)
        .with_virtual_hosted_style_request(false)
        .with_region(REGION)
        .with_bucket_name(BUCKET)
        .with_access_key_id("testing")
        .with_secret_access_key("testing")
        .build()
        .unwrap();
    S3Stores { cloudport, sdk, object_store }
}

fn s3(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let s = s3_stores(&rt, &endpoint());
    for &(label, size) in SIZES {
        let data = Bytes::from(vec![0x5au8; size]);
        let key = BlobKey::new(format!("put/{label}")).unwrap();
        let sdk_key = format!("sdk/put/{label}");
        let os_path = OsPath::from(format!("object_store/put/{label}"));
        let mut g = group(c, &format!("s3_put/{label}"), size);
        g.bench_function(BenchmarkId::from_parameter("cloudport"), |b| {
            b.to_async(&rt).iter(|| async { s.cloudport.put(&key, data.clone()).await.unwrap() })
        });
        g.bench_function(BenchmarkId::from_parameter("aws-sdk"), |b| {
            b.to_async(&rt).iter(|| async {
                s.sdk
                    .put_object()
                    .bucket(BUCKET)
                    .key(&sdk_key)
                    .body(ByteStream::from(data.clone()))
                    .send()
                    .await
                    .unwrap()
            })
        });
        g.bench_function(BenchmarkId::from_parameter("object_store"), |b| {
            b.to_async(&rt).iter(|| async { s.object_store.put(&os_path, data.clone().into()).await.unwrap() })
        });
        g.finish();
    }

    for &(label, size) in SIZES {
        let data = Bytes::from(vec![0xa5u8; size]);
        let key = BlobKey::new(format!("get/{label}")).unwrap();
        let sdk_key = format!("sdk/get/{label}");
        let os_path = OsPath::from(format!("object_store/get/{label}"));
        rt.block_on(async {
            s.cloudport.put(&key, data.clone()).await.unwrap();
            s.sdk.put_object().bucket(BUCKET).key(&sdk_key).body(ByteStream::from(data.clone())).send().await.unwrap();
            s.object_store.put(&os_path, data.clone().into()).await.unwrap();
        });
        drop(data);
        let mut g = group(c, &format!("s3_get/{label}"), size);
        g.bench_function(BenchmarkId::from_parameter("cloudport"), |b| {
            b.to_async(&rt).iter(|| async {
                let mut body = s.cloudport.get(&key).await.unwrap().body;
                let mut n = 0;
                while let Some(chunk) = body.next().await {
                    n += chunk.unwrap().len();
                }
                assert_eq!(n, size);
            })
        });
        // Like for like: the SDK's body read chunk by chunk, as cloudport's stream reads it.
        g.bench_function(BenchmarkId::from_parameter("aws-sdk"), |b| {
            b.to_async(&rt).iter(|| async {
                let mut body = s.sdk.get_object().bucket(BUCKET).key(&sdk_key).send().await.unwrap().body;
                let mut n = 0;
                while let Some(chunk) = body.try_next().await.unwrap() {
                    n += chunk.len();
                }
                assert_eq!(n, size);
            })
        });
        // The SDK's own whole-body read: every chunk kept until the end (no copy).
        g.bench_function(BenchmarkId::from_parameter("aws-sdk-collect"), |b| {
            b.to_async(&rt).iter(|| async {
                let out = s.sdk.get_object().bucket(BUCKET).key(&sdk_key).send().await.unwrap();
                let body = out.body.collect().await.unwrap();
                assert_eq!(bytes::Buf::remaining(&body), size);
            })
        });
        g.bench_function(BenchmarkId::from_parameter("object_store"), |b| {
            b.to_async(&rt).iter(|| async {
                let mut body = s.object_store.get(&os_path).await.unwrap().into_stream();
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

fn sqs(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let endpoint = endpoint();
    let cloudport =
        SqsQueue::builder("cloudport-bench-cloudport").aws(cloudport_options(&endpoint)).create(true).build().unwrap();
    let (sdk, sdk_url, producer, consumer) = rt.block_on(async {
        let config = sdk_config(&endpoint).await;
        let sdk = aws_sdk_sqs::Client::new(&config);
        fresh_queue(&sdk, "cloudport-bench-cloudport").await;
        cloudport.queue_url().await.unwrap();
        let sdk_url = fresh_queue(&sdk, "cloudport-bench-sdk").await;
        let omni_url = fresh_queue(&sdk, "cloudport-bench-omniqueue").await;
        let (producer, consumer) = SqsBackend::builder(omni_url.as_str())
            .sqs_config(aws_sdk_sqs::Config::from(&config))
            .build_pair()
            .await
            .unwrap();
        (sdk, sdk_url, producer, consumer)
    });

    let mut g = c.benchmark_group(format!("sqs_round_trip/batch{BATCH}"));
    g.throughput(Throughput::Elements(BATCH as u64));
    g.sample_size(20);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(6));
    g.bench_function(BenchmarkId::from_parameter("cloudport"), |b| {
        b.to_async(&rt).iter(|| cloudport_round(&cloudport))
    });
    g.bench_function(BenchmarkId::from_parameter("aws-sdk"), |b| b.to_async(&rt).iter(|| sdk_round(&sdk, &sdk_url)));
    g.bench_function(BenchmarkId::from_parameter("omniqueue"), |b| {
        b.to_async(&rt).iter(|| omniqueue_round(&producer, &consumer))
    });
    g.finish();
}

criterion_group!(benches, s3, sqs);
criterion_main!(benches);
