//! SQS behaviours beyond the conformance suite, on moto: bodies SQS cannot carry as text,
//! queues set up outside cloudport, validation before any I/O, and 10,000 messages through a
//! consumer that is killed mid-batch with none lost.

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cloudport_aws::SqsQueue;
use cloudport_core::{DeadLetterPolicy, ErrorKind, Message, Queue, QueueExt, ReceiveOptions};
use common::{aws, moto, unique};
use futures::StreamExt;

fn queue(endpoint: &str, name: &str) -> SqsQueue {
    SqsQueue::builder(name).aws(aws(endpoint)).create(true).build().unwrap()
}

#[tokio::test]
async fn binary_and_empty_bodies_round_trip() {
    let Some(endpoint) = moto("aws sqs bodies") else { return };
    let queue = queue(&endpoint, &unique("bodies"));
    let bodies: Vec<Vec<u8>> = vec![vec![0, 159, 146, 150, 255], Vec::new(), b"a\0b".to_vec(), "plain ✓".into()];
    for body in &bodies {
        queue.send(Message::new(body.clone()).with_attribute("kind", "body-test")).await.unwrap();
    }
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.len() < bodies.len() && Instant::now() < deadline {
        for d in queue.receive_batch(10, Duration::from_secs(1)).await.unwrap() {
            assert_eq!(d.attributes.len(), 1, "no internal attribute leaks: {:?}", d.attributes);
            got.push(d.body.to_vec());
            queue.ack(&d.receipt).await.unwrap();
        }
    }
    got.sort();
    let mut want = bodies;
    want.sort();
    assert_eq!(got, want);
}

#[tokio::test]
async fn invalid_messages_fail_before_any_network_call() {
    // Nothing listens at this endpoint: only validation can answer.
    let queue = SqsQueue::builder("offline").aws(aws("http://127.0.0.1:1")).build().unwrap();
    let max = queue.capabilities().max_message_size;
    let started = Instant::now();
    let err = queue.send(Message::new(vec![b'x'; max + 1])).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge, "{err}");
    let err = queue.send(Message::new("x").with_delay(Duration::from_secs(16 * 60))).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    let err = queue.send(Message::new("x").with_attribute("AWS.reserved", "v")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    let err = queue.receive(ReceiveOptions::default().with_lease(Duration::from_secs(13 * 3600))).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(started.elapsed() < Duration::from_secs(1), "validation went to the network");
}

#[tokio::test]
async fn a_missing_queue_says_how_to_create_it() {
    let Some(endpoint) = moto("aws sqs missing queue") else { return };
    let queue = SqsQueue::builder(unique("never-created")).aws(aws(&endpoint)).build().unwrap();
    let err = queue.send(Message::new("x")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(err.to_string().contains("create=true"), "{err}");
}

#[tokio::test]
async fn redrive_policies_set_outside_cloudport_are_used_and_checked() {
    let Some(endpoint) = moto("aws sqs redrive") else { return };
    let name = unique("redriven");
    let policy = DeadLetterPolicy::new(format!("{name}-dlq"), 3);
    // Set up once with create=true, as an operator's tool would.
    let setup = SqsQueue::builder(&name).aws(aws(&endpoint)).create(true).dead_letter(policy.clone()).build().unwrap();
    setup.queue_url().await.unwrap();

    // Opened plainly, the queue finds its dead-letter queue through the redrive policy.
    let plain = SqsQueue::builder(&name).aws(aws(&endpoint)).build().unwrap();
    plain.send(Message::new("poison")).await.unwrap();
    let delivery = plain.receive_batch(1, Duration::from_secs(5)).await.unwrap().remove(0);
    plain.dead_letter(&delivery.receipt, "bad input").await.unwrap();
    let dlq = SqsQueue::builder(&policy.queue).aws(aws(&endpoint)).build().unwrap();
    let dead = dlq.receive_batch(1, Duration::from_secs(5)).await.unwrap().remove(0);
    assert_eq!(dead.body, "poison");
    assert_eq!(dead.attributes.get("cloudport.dead_letter_reason").map(String::as_str), Some("bad input"));

    // Asking for another policy without create=true is refused, not silently applied.
    let other = DeadLetterPolicy::new(format!("{name}-dlq"), 7);
    let mismatched = SqsQueue::builder(&name).aws(aws(&endpoint)).dead_letter(other).build().unwrap();
    let err = mismatched.send(Message::new("x")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
}

const MESSAGES: usize = 10_000;
/// moto's receive costs time in proportion to the messages in the queue (measured: 2.5 s per
/// receive at 1,000 messages), so 10,000 messages in one queue would take it hours. Spread over
/// 200 queues of 50, the same code paths take it about a minute.
const SHARDS: usize = 200;
/// Consumer tasks per process; each polls its share of the queues in turn.
const CONSUMERS: usize = 8;
const CONSUMER_LEASE: Duration = Duration::from_secs(5);

fn shards(endpoint: &str, base: &str) -> Vec<Arc<SqsQueue>> {
    (0..SHARDS).map(|k| Arc::new(queue(endpoint, &format!("{base}-{k}")))).collect()
}

/// Polls `queues` in turn (short polls) and acks every delivery, telling `seen` of each body
/// before its ack, until `done` says stop; pauses when a whole pass found nothing.
async fn consume(queues: Vec<Arc<SqsQueue>>, lease: Duration, seen: impl Fn(String), done: impl Fn() -> bool) {
    let opts = ReceiveOptions::default().with_max_messages(10).with_lease(lease);
    while !done() {
        let mut found = false;
        for queue in &queues {
            for d in queue.receive(opts.clone()).await.unwrap() {
                found = true;
                seen(String::from_utf8_lossy(&d.body).into_owned());
                queue.ack(&d.receipt).await.unwrap();
            }
        }
        if !found {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Splits the shards among `CONSUMERS` tasks.
fn shares(queues: Vec<Arc<SqsQueue>>) -> Vec<Vec<Arc<SqsQueue>>> {
    let mut shares = vec![Vec::new(); CONSUMERS];
    for (i, q) in queues.into_iter().enumerate() {
        shares[i % CONSUMERS].push(q);
    }
    shares
}

/// Run in a child process by `ten_thousand_messages_survive_a_killed_consumer`: consumes every
/// shard forever, printing each body it received before acking it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a probe: run (and killed) by ten_thousand_messages_survive_a_killed_consumer"]
async fn probe_consumer() {
    let endpoint = std::env::var(common::MOTO_VAR).unwrap();
    let base = std::env::var("CLOUDPORT_TEST_QUEUE").unwrap();
    let tasks: Vec<_> = shares(shards(&endpoint, &base))
        .into_iter()
        .map(|share| tokio::spawn(consume(share, CONSUMER_LEASE, |body| println!("received {body}"), || false)))
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_messages_survive_a_killed_consumer() {
    let Some(endpoint) = moto("aws sqs 10,000 messages across a consumer kill") else { return };
    let base = unique("bulk");
    let queues = shards(&endpoint, &base);
    futures::stream::iter(queues.iter().enumerate())
        .for_each_concurrent(CONSUMERS, |(k, queue)| async move {
            let messages: Vec<Message> =
                (k..MESSAGES).step_by(SHARDS).map(|i| Message::new(format!("m{i:05}"))).collect();
            let results = queue.send_batch(messages).await.unwrap();
            assert!(results.iter().all(Result::is_ok), "every send succeeded");
        })
        .await;

    // A consumer process, killed after it received a quarter of the messages (holding leases on
    // up to 10 per task at that moment).
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["--exact", "probe_consumer", "--ignored", "--nocapture", "--test-threads", "1"])
        .env(common::MOTO_VAR, &endpoint)
        .env("CLOUDPORT_TEST_QUEUE", &base)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let seen: Arc<Mutex<HashSet<String>>> = Arc::default();
    // Lines that name no message sent here (a line cut by the kill, say): reported, never counted.
    let garbled: Arc<Mutex<Vec<String>>> = Arc::default();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn({
        let (seen, garbled) = (seen.clone(), garbled.clone());
        move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // Not at the start of the line only: libtest writes `test probe_consumer ... `
                // and the consumer's first line follows it on the same line.
                if let Some((_, body)) = line.rsplit_once("received ") {
                    if is_sent(body) {
                        seen.lock().unwrap().insert(body.to_owned());
                    } else {
                        garbled.lock().unwrap().push(line.clone());
                    }
                }
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(180);
    while seen.lock().unwrap().len() < MESSAGES / 4 {
        let acked = seen.lock().unwrap().len();
        assert!(Instant::now() < deadline, "the consumer received only {acked} messages in 180 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // Messages received after the count was reached count too: the reader collects them up to
    // the pipe's end. One the consumer received but was killed before acking is delivered again
    // below; one it acked is done (at least once means its work happened).
    reader.join().unwrap();

    // Consumers here take the rest, including what the dead one received but did not ack, once
    // its leases end.
    let deadline = Instant::now() + Duration::from_secs(240);
    let tasks: Vec<_> = shares(queues)
        .into_iter()
        .map(|share| {
            let (seen, seen_too) = (seen.clone(), seen.clone());
            let record = move |body: String| {
                assert!(is_sent(&body), "received {body:?}, which was never sent");
                seen.lock().unwrap().insert(body);
            };
            let done = move || seen_too.lock().unwrap().len() >= MESSAGES || Instant::now() > deadline;
            tokio::spawn(consume(share, Duration::from_secs(60), record, done))
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let seen = seen.lock().unwrap().clone();
    let lost: Vec<usize> = (0..MESSAGES).filter(|i| !seen.contains(&format!("m{i:05}"))).collect();
    if !lost.is_empty() {
        // Where the lost ones are: still in their queue (in flight or visible), or gone.
        let mut report = Vec::new();
        for &i in lost.iter().take(5) {
            let counts = queue_counts(&endpoint, &format!("{base}-{}", i % SHARDS)).await;
            report.push(format!("m{i:05} (its queue: {counts})"));
        }
        panic!(
            "{} messages never delivered: {}; lines of the killed consumer naming no message: {:?}",
            lost.len(),
            report.join(", "),
            garbled.lock().unwrap()
        );
    }
}

/// Whether `body` is one of the messages the test sent.
fn is_sent(body: &str) -> bool {
    body.len() == 6 && body.strip_prefix('m').and_then(|n| n.parse::<usize>().ok()).is_some_and(|n| n < MESSAGES)
}

/// SQS's approximate counts of `queue`, straight from the SDK, for a failure report.
async fn queue_counts(endpoint: &str, queue: &str) -> String {
    use aws_sdk_sqs::types::QueueAttributeName as Attr;
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let http = aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http)
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new("testing", "testing", None, None, "test"))
        .load()
        .await;
    let client = aws_sdk_sqs::Client::new(&sdk);
    let result = async {
        let url = client.get_queue_url().queue_name(queue).send().await?.queue_url.unwrap_or_default();
        client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(Attr::ApproximateNumberOfMessages)
            .attribute_names(Attr::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(aws_sdk_sqs::Error::from)
    };
    match result.await {
        Ok(out) => {
            let attrs = out.attributes.unwrap_or_default();
            let get = |a: Attr| attrs.get(&a).cloned().unwrap_or_default();
            format!(
                "{} visible, {} in flight",
                get(Attr::ApproximateNumberOfMessages),
                get(Attr::ApproximateNumberOfMessagesNotVisible)
            )
        }
        Err(e) => format!("unreadable: {e}"),
    }
}
