//! One side of the Lambda size and cold-start comparison (`benches/lambda_cold_start.rs`): the
//! function of `lambda_cloudport.rs` written directly against `lambda_runtime` and the AWS SDK,
//! with the same SDK crates, features and HTTP client (rustls with ring, a 5 s connect timeout)
//! that cloudport's AWS provider uses. For the same input both answer the same JSON.
//!
//! `cargo build --release -p cloudport-benches --no-default-features --example lambda_direct`;
//! it runs under Lambda or `cargo lambda watch` with `NOTES_BUCKET=<bucket>`.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_http_client::tls;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde::{Deserialize, Serialize};

/// The input: a key under `notes/` and the text to store there.
#[derive(Debug, Deserialize)]
struct Note {
    key: String,
    text: String,
}

/// The output: the object's full key, its size and the text read back.
#[derive(Debug, Serialize)]
struct Stored {
    key: String,
    size: usize,
    text: String,
}

/// Puts the note's text at `notes/<key>` and reads it back.
async fn notes(client: &Client, bucket: &str, note: Note) -> Result<Stored, Error> {
    let key = format!("notes/{}", note.key);
    let size = note.text.len();
    client
        .put_object()
        .bucket(bucket)
        .key(&key)
        .content_length(i64::try_from(size)?)
        .body(ByteStream::from(note.text.into_bytes()))
        .send()
        .await?;
    let out = client.get_object().bucket(bucket).key(&key).send().await?;
    let body = out.body.collect().await?.into_bytes();
    Ok(Stored { key, size: body.len(), text: String::from_utf8_lossy(&body).into_owned() })
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let bucket = std::env::var("NOTES_BUCKET").map_err(|_| "set NOTES_BUCKET to the bucket's name")?;
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
        .build_https();
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .timeout_config(TimeoutConfig::builder().connect_timeout(Duration::from_secs(5)).build())
        .load()
        .await;
    // Emulators and most S3-compatible services want path-style addressing.
    let path_style = sdk.endpoint_url().is_some();
    let client = Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(path_style).build());
    lambda_runtime::run(service_fn(|event: LambdaEvent<Note>| notes(&client, &bucket, event.payload))).await
}
