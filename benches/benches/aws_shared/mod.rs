//! What `aws.rs` and `aws_ab.rs` share: moto's address, the SDK configuration cloudport uses,
//! and the SQS round trip written for cloudport, the SDK and omniqueue.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_sdk_sqs::types::{MessageSystemAttributeName, SendMessageBatchRequestEntry};
use aws_smithy_http_client::tls;
use bytes::Bytes;
use cloudport::aws::{AwsOptions, SqsQueue};
use cloudport::{Message, Queue, ReceiveOptions};
use omniqueue::QueueProducer as _;
use omniqueue::backends::{SqsConsumer, SqsProducer};

pub const REGION: &str = "us-east-1";
pub const BUCKET: &str = "cloudport-bench";
pub const SIZES: &[(&str, usize)] = &[("1MiB", 1 << 20), ("64MiB", 64 << 20)];
/// Messages per SQS round trip: one full `SendMessageBatch`.
pub const BATCH: usize = 10;
/// A 256-byte SQS text body.
pub const BODY: &str = match std::str::from_utf8(&[b'x'; 256]) {
    Ok(body) => body,
    Err(_) => panic!("ASCII is UTF-8"),
};
/// The receive long poll (whole seconds for SQS).
pub const WAIT: Duration = Duration::from_secs(1);

pub fn endpoint() -> String {
    std::env::var("CLOUDPORT_BENCH_MOTO").unwrap_or_else(|_| "http://127.0.0.1:5055".to_owned())
}

pub fn cloudport_options(endpoint: &str) -> AwsOptions {
    AwsOptions::new().endpoint(endpoint).region(REGION).credentials("testing", "testing")
}

/// The SDK configuration cloudport's `AwsOptions` loads, built by hand: the same HTTP client
/// (rustls with ring), connect timeout, region, endpoint and credentials.
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .timeout_config(TimeoutConfig::builder().connect_timeout(Duration::from_secs(5)).build())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "bench"))
        .load()
        .await
}

pub async fn cloudport_round(queue: &SqsQueue) {
    let batch = (0..BATCH).map(|_| Message::new(Bytes::from_static(BODY.as_bytes()))).collect();
    for r in queue.send_batch(batch).await.unwrap() {
        r.unwrap();
    }
    let mut got = 0;
    while got < BATCH {
        let opts = ReceiveOptions::default().with_max_messages(BATCH - got).with_wait(WAIT);
        for d in queue.receive(opts).await.unwrap() {
            queue.ack(&d.receipt).await.unwrap();
            got += 1;
        }
    }
}

/// What cloudport's send_batch, receive and ack send, written against the SDK.
pub async fn sdk_round(client: &aws_sdk_sqs::Client, url: &str) {
    let entries = (0..BATCH)
        .map(|i| SendMessageBatchRequestEntry::builder().id(i.to_string()).message_body(BODY).build().unwrap())
        .collect();
    let sent = client.send_message_batch().queue_url(url).set_entries(Some(entries)).send().await.unwrap();
    assert!(sent.failed().is_empty(), "{:?}", sent.failed());
    let mut got = 0;
    while got < BATCH {
        let out = client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages((BATCH - got) as i32)
            .wait_time_seconds(WAIT.as_secs() as i32)
            .visibility_timeout(30)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap();
        for m in out.messages() {
            client.delete_message().queue_url(url).receipt_handle(m.receipt_handle().unwrap()).send().await.unwrap();
            got += 1;
        }
    }
}

pub async fn omniqueue_round(producer: &SqsProducer, consumer: &SqsConsumer) {
    let bodies: Vec<Arc<String>> = (0..BATCH).map(|_| Arc::new(BODY.to_owned())).collect();
    producer.send_raw_batch(&bodies).await.unwrap();
    let mut got = 0;
    while got < BATCH {
        for d in consumer.receive_all(BATCH - got, WAIT).await.unwrap() {
            d.ack().await.map_err(|(e, _)| e).unwrap();
            got += 1;
        }
    }
}

/// Creates (or finds) `name` and empties it, so no message from an earlier run is received.
pub async fn fresh_queue(client: &aws_sdk_sqs::Client, name: &str) -> String {
    let url = client.create_queue().queue_name(name).send().await.unwrap().queue_url.unwrap();
    client.purge_queue().queue_url(&url).send().await.unwrap();
    url
}
