//! Run: `cargo run --example quickstart`
//!
//! A photo pipeline on the local provider, with no account and no server: it uploads photos to a
//! blob store, queues one thumbnail job per photo, runs a worker that leases the jobs, writes the
//! thumbnails and acks, dead-letters a job that names a missing photo, and lists what it stored.
//!
//! The store and queue come from CLOUDPORT_BLOB_URL / CLOUDPORT_QUEUE_URL when set (any
//! provider's URL); otherwise a directory and a SQLite queue under the system temp dir are used.
//! Set RUST_LOG=cloudport=info to see one tracing span per operation.

use std::time::Duration;

use cloudport::{BlobKey, BlobStoreExt, ListEntry, ListOptions, Message, PutOptions, ReceiveOptions};
use futures::TryStreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .init();

    let work = std::env::temp_dir().join(format!("cloudport-quickstart-{}", std::process::id()));
    let blob_url =
        std::env::var("CLOUDPORT_BLOB_URL").unwrap_or_else(|_| format!("file://{}", work.join("blobs").display()));
    let queue_url = std::env::var("CLOUDPORT_QUEUE_URL").unwrap_or_else(|_| {
        format!(
            "sqlite://{}?queue=thumbnails&dead_letter=thumbnails-dlq&max_deliveries=3",
            work.join("queue.db").display()
        )
    });
    std::fs::create_dir_all(&work)?;
    let store = cloudport::blob::open(&blob_url)?;
    let queue = cloudport::queue::open(&queue_url)?;
    println!("blob store: {blob_url} ({})", store.capabilities().provider);
    println!("queue:      {queue_url} ({})", queue.capabilities().provider);

    // 1. Upload photos, with a content type and user metadata.
    let photos = [("photos/2026/cat.jpg", 34_000), ("photos/2026/dog.jpg", 51_000), ("photos/2025/owl.jpg", 12_000)];
    for (name, size) in photos {
        let key = BlobKey::new(name)?;
        let body: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let opts = PutOptions::default().with_content_type("image/jpeg").with_metadata("camera", "quickstart");
        let put = store.put_opts(&key, body.into(), opts).await?;
        println!("stored  {name} ({size} bytes, etag {})", put.etag);
    }

    // 2. Queue one job per photo, plus one for a photo that does not exist.
    let mut jobs: Vec<Message> =
        photos.iter().map(|(name, _)| Message::new(name.to_string()).with_attribute("kind", "thumbnail")).collect();
    jobs.push(Message::new("photos/missing.jpg").with_attribute("kind", "thumbnail"));
    for (job, result) in jobs.iter().zip(queue.send_batch(jobs.clone()).await?) {
        println!("queued  {} -> message {}", String::from_utf8_lossy(&job.body), result?);
    }

    // 3. A worker: lease jobs, make thumbnails, ack; dead-letter jobs that cannot succeed.
    let mut done = 0;
    while done < jobs.len() {
        let opts = ReceiveOptions::default().with_max_messages(10).with_wait(Duration::from_secs(2));
        let batch = queue.receive(opts).await?;
        if batch.is_empty() {
            return Err("the queue ran dry before every job was handled".into());
        }
        for delivery in batch {
            let source = BlobKey::new(String::from_utf8(delivery.body.to_vec())?)?;
            match store.get_bytes(&source).await {
                Ok(photo) => {
                    let thumb = BlobKey::new(source.as_str().replacen("photos/", "thumbnails/", 1))?;
                    let small: Vec<u8> = photo.iter().step_by(16).copied().collect();
                    store.put(&thumb, small).await?;
                    queue.ack(&delivery.receipt).await?;
                    println!("worker  {source} -> {thumb} (delivery #{})", delivery.delivery_count);
                }
                Err(e) if e.kind() == cloudport::ErrorKind::NotFound => {
                    match queue.dead_letter(&delivery.receipt, "source photo does not exist").await {
                        Ok(()) => println!("worker  {source}: dead-lettered ({e})"),
                        // The queue URL named no dead-letter queue: drop the job, loudly.
                        Err(dl) if dl.kind() == cloudport::ErrorKind::Config => {
                            queue.ack(&delivery.receipt).await?;
                            println!("worker  {source}: dropped ({e}; {dl})");
                        }
                        Err(dl) => return Err(dl.into()),
                    }
                }
                Err(e) => return Err(e.into()),
            }
            done += 1;
        }
    }

    // 4. List what is stored, one level at a time.
    let top: Vec<ListEntry> = store.list_opts(ListOptions::default().with_delimiter()).try_collect().await?;
    let names: Vec<&str> = top.iter().map(ListEntry::name).collect();
    println!("listing /            {names:?}");
    let thumbs: Vec<ListEntry> = store.list("thumbnails/").try_collect().await?;
    for entry in &thumbs {
        if let ListEntry::Object(o) = entry {
            println!("listing {:<24} {:>6} bytes", o.key.as_str(), o.size);
        }
    }
    if thumbs.len() != photos.len() {
        return Err(format!("expected {} thumbnails, found {}", photos.len(), thumbs.len()).into());
    }
    println!("done: {} photos, {} thumbnails, 1 job rejected", photos.len(), thumbs.len());
    if std::env::var_os("CLOUDPORT_BLOB_URL").is_none() {
        std::fs::remove_dir_all(&work)?;
    }
    Ok(())
}
