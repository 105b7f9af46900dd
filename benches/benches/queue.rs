//! Queue throughput: send, receive and ack, one message at a time and in batches of 10.
//! cloudport's in-memory queue against omniqueue's in-memory backend (an unbounded channel with
//! no leases, ids or delivery counts: the floor any leased queue is measured against), and
//! cloudport's durable SQLite queue on its own.
//!
//! Run: `cargo bench -p cloudport-benches --bench queue`

use std::time::Duration;

use bytes::Bytes;
use cloudport::local::{MemoryQueue, SqliteQueue};
use cloudport::{Message, Queue, ReceiveOptions};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use omniqueue::backends::InMemoryBackend;

const BODY: &[u8] = &[b'x'; 256];

async fn cloudport_round(queue: &dyn Queue, n: usize) {
    if n == 1 {
        queue.send(Message::new(Bytes::from_static(BODY))).await.unwrap();
    } else {
        let batch = (0..n).map(|_| Message::new(Bytes::from_static(BODY))).collect();
        for r in queue.send_batch(batch).await.unwrap() {
            r.unwrap();
        }
    }
    let mut got = 0;
    while got < n {
        let opts = ReceiveOptions::default().with_max_messages(n - got).with_wait(Duration::from_secs(1));
        for d in queue.receive(opts).await.unwrap() {
            queue.ack(&d.receipt).await.unwrap();
            got += 1;
        }
    }
}

fn queues(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let memory = MemoryQueue::named("bench-memory");
    let sqlite = SqliteQueue::builder(dir.path().join("bench.db")).queue("bench").build().unwrap();
    let (producer, mut consumer) = rt.block_on(InMemoryBackend::builder().build_pair()).unwrap();

    for n in [1usize, 10] {
        let mut g = c.benchmark_group(format!("queue_send_receive_ack/batch{n}"));
        g.throughput(Throughput::Elements(n as u64));
        g.measurement_time(Duration::from_secs(4));
        g.bench_function(BenchmarkId::from_parameter("cloudport-memory"), |b| {
            b.to_async(&rt).iter(|| cloudport_round(&memory, n))
        });
        g.bench_function(BenchmarkId::from_parameter("omniqueue-memory"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    for _ in 0..n {
                        producer.send_raw(BODY).await.unwrap();
                    }
                    let mut got = 0;
                    while got < n {
                        for d in consumer.receive_all(n - got, Duration::from_secs(1)).await.unwrap() {
                            d.ack().await.map_err(|(e, _)| e).unwrap();
                            got += 1;
                        }
                    }
                })
            })
        });
        g.bench_function(BenchmarkId::from_parameter("cloudport-sqlite"), |b| {
            b.to_async(&rt).iter(|| cloudport_round(&sqlite, n))
        });
        g.finish();
    }
}

criterion_group!(benches, queues);
criterion_main!(benches);
