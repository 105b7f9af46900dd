//! One side of the Lambda size and cold-start comparison (`benches/lambda_cold_start.rs`): a
//! function written with cloudport. `lambda_direct.rs` is the same function written directly
//! against `lambda_runtime` and the AWS SDK; for the same input both answer the same JSON.
//!
//! The function stores a note in the default blob store and reads it back:
//! `{"key": "a.txt", "text": "hi"}` → `{"key": "notes/a.txt", "size": 2, "text": "hi"}`.
//!
//! Built as a Lambda function should be, with only the parts of cloudport it uses: `aws-s3` and
//! `aws-lambda` (the benches' default features would link the local provider and every other
//! AWS client too):
//! `cargo build --release -p cloudport-benches --no-default-features --example lambda_cloudport`.
//! It runs under Lambda or `cargo lambda watch` with `CLOUDPORT_BLOB_URL=s3://<bucket>`.

use cloudport::function::Context;
use cloudport::{BlobKey, BlobStoreExt};
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
#[cloudport::function]
async fn notes(note: Note, ctx: Context) -> Result<Stored, cloudport::Error> {
    let store = ctx.blob()?;
    let key = BlobKey::new(format!("notes/{}", note.key))?;
    store.put(&key, note.text).await?;
    let body = store.get_bytes(&key).await?;
    Ok(Stored { key: key.as_str().to_owned(), size: body.len(), text: String::from_utf8_lossy(&body).into_owned() })
}

#[tokio::main]
async fn main() -> Result<(), cloudport::Error> {
    cloudport::run().await
}
