//! Interleaved A/B timing of the AWS provider against the AWS SDK (and the peers) on moto.
//!
//! criterion runs one implementation after the other, so on a shared machine a change of
//! background load between them shows up as a difference between implementations. Here every
//! round runs each implementation once, in a rotating order, and the report compares medians
//! and the median of the per-round ratios SDK / cloudport: drift hits all sides alike. It also
//! reports each op's median client-side CPU time (this process's threads), which the load on
//! the machine and the emulator's speed hardly move.
//!
//! Start moto (`moto_server -p 5055`), then run:
//! `cargo bench -p cloudport-benches --bench aws_ab` (`CLOUDPORT_BENCH_MOTO=http://host:port`
//! for another endpoint, `CLOUDPORT_BENCH_ROUNDS_SCALE=0.5` to halve the rounds).

use std::time::Instant;

use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use cloudport::aws::{AwsOptions, S3BlobStore, SqsQueue};
use cloudport::{BlobKey, BlobStoreExt};
use futures::StreamExt;
use futures::future::BoxFuture;
use object_store::ObjectStoreExt as _;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as OsPath;
use omniqueue::backends::SqsBackend;

mod aws_shared;
use aws_shared::*;

/// CPU time this process has used, in nanoseconds: the sum of its threads' run time from
/// `/proc/self/task/*/schedstat` (Linux). Ops run one at a time with the runtime otherwise idle,
/// so the difference across an op is the client-side CPU the op cost, whatever the machine's load.
fn cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0 };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

type Op<'a> = (&'static str, Box<dyn Fn() -> BoxFuture<'a, ()> + 'a>);

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

/// Runs `warmup` then `rounds` rounds of every op, rotating which goes first; prints medians of
/// wall time and of client CPU time.
async fn ab(name: &str, rounds: usize, warmup: usize, ops: &[Op<'_>]) {
    let mut times: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); ops.len()];
    let mut cpu: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); ops.len()];
    for round in 0..warmup + rounds {
        for i in 0..ops.len() {
            let k = (round + i) % ops.len();
            let (started, cpu_before) = (Instant::now(), cpu_ns());
            (ops[k].1)().await;
            if round >= warmup {
                times[k].push(started.elapsed().as_secs_f64() * 1e3);
                cpu[k].push((cpu_ns() - cpu_before) as f64 / 1e6);
            }
        }
    }
    // ops[0] is cloudport, ops[1] the SDK: the median of the per-round ratios SDK / cloudport.
    let mut ratios: Vec<f64> = times[1].iter().zip(&times[0]).map(|(sdk, cp)| sdk / cp).collect();
    let paired = median(&mut ratios);
    let medians: Vec<f64> = times.iter_mut().map(|t| median(t)).collect();
    let cpu: Vec<f64> = cpu.iter_mut().map(|t| median(t)).collect();
    let line = ops
        .iter()
        .zip(medians.iter().zip(&cpu))
        .map(|((label, _), (m, c))| format!("{label} {m:.2} ms (x{:.3}, CPU {c:.2} ms)", m / medians[0]))
        .collect::<Vec<_>>()
        .join(", ");
    println!(
        "{name}: {rounds} rounds, median {line}; SDK/cloudport: ratio of medians {:.3}, median per-round ratio {paired:.3}",
        medians[1] / medians[0]
    );
}

fn main() {
    let endpoint = std::env::var("CLOUDPORT_BENCH_MOTO").unwrap_or_else(|_| "http://127.0.0.1:5055".to_owned());
    let scale: f64 = std::env::var("CLOUDPORT_BENCH_ROUNDS_SCALE").ok().and_then(|v| v.parse().ok()).unwrap_or(1.0);
    let rounds = |n: usize| ((n as f64 * scale) as usize).max(3);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let opts = AwsOptions::new().endpoint(&endpoint).region(REGION).credentials("testing", "testing");
        let cloudport = S3BlobStore::builder(BUCKET).prefix("cloudport").aws(opts.clone()).build().unwrap();
        let client = cloudport.client().await.unwrap();
        let _ = client.create_bucket().bucket(BUCKET).send().await;
        let config = sdk_config(&endpoint).await;
        let sdk =
            aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build());
        let os = AmazonS3Builder::new()
            .with_endpoint(&endpoint)
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false)
            .with_region(REGION)
            .with_bucket_name(BUCKET)
            .with_access_key_id("testing")
            .with_secret_access_key("testing")
            .build()
            .unwrap();

        for (label, size, n) in [("1MiB", 1usize << 20, rounds(150)), ("64MiB", 64 << 20, rounds(12))] {
            let data = Bytes::from(vec![0x5au8; size]);
            let key = BlobKey::new(format!("ab/{label}")).unwrap();
            let sdk_key = format!("sdk/ab/{label}");
            let os_path = OsPath::from(format!("object_store/ab/{label}"));
            let (cp, sdk, os, data, key, sdk_key, os_path) = (&cloudport, &sdk, &os, &data, &key, &sdk_key, &os_path);
            let put: Vec<Op<'_>> = vec![
                (
                    "cloudport",
                    Box::new(move || {
                        Box::pin(async move {
                            cp.put(key, data.clone()).await.unwrap();
                        })
                    }),
                ),
                (
                    "aws-sdk",
                    Box::new(move || {
                        Box::pin(async move {
                            let body = ByteStream::from(data.clone());
                            sdk.put_object().bucket(BUCKET).key(sdk_key).body(body).send().await.unwrap();
                        })
                    }),
                ),
                (
                    "object_store",
                    Box::new(move || {
                        Box::pin(async move {
                            os.put(os_path, data.clone().into()).await.unwrap();
                        })
                    }),
                ),
            ];
            ab(&format!("s3_put/{label}"), n, 2, &put).await;
            let get: Vec<Op<'_>> = vec![
                (
                    "cloudport",
                    Box::new(move || {
                        Box::pin(async move {
                            let mut body = cp.get(key).await.unwrap().body;
                            let mut got = 0;
                            while let Some(chunk) = body.next().await {
                                got += chunk.unwrap().len();
                            }
                            assert_eq!(got, size);
                        })
                    }),
                ),
                (
                    "aws-sdk",
                    Box::new(move || {
                        Box::pin(async move {
                            let mut body = sdk.get_object().bucket(BUCKET).key(sdk_key).send().await.unwrap().body;
                            let mut got = 0;
                            while let Some(chunk) = body.try_next().await.unwrap() {
                                got += chunk.len();
                            }
                            assert_eq!(got, size);
                        })
                    }),
                ),
                (
                    "object_store",
                    Box::new(move || {
                        Box::pin(async move {
                            let mut body = os.get(os_path).await.unwrap().into_stream();
                            let mut got = 0;
                            while let Some(chunk) = body.next().await {
                                got += chunk.unwrap().len();
                            }
                            assert_eq!(got, size);
                        })
                    }),
                ),
            ];
            ab(&format!("s3_get/{label}"), n, 2, &get).await;
        }

        let sqs = aws_sdk_sqs::Client::new(&config);
        let mut urls = Vec::new();
        for name in ["cloudport-ab-cloudport", "cloudport-ab-sdk", "cloudport-ab-omniqueue"] {
            let url = sqs.create_queue().queue_name(name).send().await.unwrap().queue_url.unwrap();
            sqs.purge_queue().queue_url(&url).send().await.unwrap();
            urls.push(url);
        }
        let queue = SqsQueue::builder("cloudport-ab-cloudport").aws(opts).build().unwrap();
        queue.queue_url().await.unwrap();
        let (producer, consumer) = SqsBackend::builder(urls[2].as_str())
            .sqs_config(aws_sdk_sqs::Config::from(&config))
            .build_pair()
            .await
            .unwrap();
        let (queue, sqs, sdk_url, producer, consumer) = (&queue, &sqs, &urls[1], &producer, &consumer);
        let round: Vec<Op<'_>> = vec![
            ("cloudport", Box::new(move || Box::pin(cloudport_round(queue)))),
            ("aws-sdk", Box::new(move || Box::pin(sdk_round(sqs, sdk_url)))),
            ("omniqueue", Box::new(move || Box::pin(omniqueue_round(producer, consumer)))),
        ];
        ab("sqs_round_trip/batch10", rounds(60), 3, &round).await;
    });
}
