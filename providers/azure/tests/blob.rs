//! AzureBlobStore behaviours the conformance suite does not cover, against Azurite: validation
//! before I/O, uploads that never commit, interoperability with the official client, presigned
//! URLs used by the official client, and what a wrong key says.
//!
//! Runs when `CLOUDPORT_TEST_AZURITE_BLOB` holds Azurite's path-style blob endpoint; skipped
//! loudly otherwise (failing when `CLOUDPORT_REQUIRE_EMULATORS` is set).

use std::time::{Duration, SystemTime};

use azure_core::http::RequestContent;
use azure_storage_blob::BlobClient;
use bytes::Bytes;
use cloudport_azure::{AzureBlobStore, DEVELOPMENT_KEY, RETRY_BUDGET, StorageAccount};
use cloudport_core::{BlobKey, BlobStore, BlobStoreExt, ErrorKind, PresignMethod, PutOptions};
use futures::TryStreamExt as _;

const BLOB_VAR: &str = "CLOUDPORT_TEST_AZURITE_BLOB";
const CONTAINER: &str = "cloudport-blob-tests";
/// The smallest part size the builder takes, so a few hundred KiB already stage blocks.
const PART: usize = 64 * 1024;

/// A Python with `azure-storage-blob`, for the cross-client check.
const PYTHON_VAR: &str = "CLOUDPORT_TEST_AZURE_PYTHON";

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn account(endpoint: &str, key: &str) -> StorageAccount {
    StorageAccount::from_connection_string(&format!(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={key};BlobEndpoint={endpoint}"
    ))
    .expect("Azurite's connection string")
}

/// A store under a fresh prefix of the test container, or `None` when skipped.
async fn store() -> Option<AzureBlobStore> {
    let endpoint = cloudport_conformance::skip::emulator(BLOB_VAR, "azure blob")?;
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let store = AzureBlobStore::builder(account(&endpoint, DEVELOPMENT_KEY), CONTAINER)
        .prefix(format!("run-{nanos:x}"))
        .part_size(PART)
        .concurrency(2)
        .build()
        .expect("store");
    if let Err(e) = store.container_client().create(None).await {
        assert_eq!(e.http_status(), Some(azure_core::http::StatusCode::Conflict), "create container: {e:?}");
    }
    Some(store)
}

fn data(len: usize) -> Bytes {
    (0..len).map(|i| (i.wrapping_mul(31) % 251) as u8).collect::<Vec<u8>>().into()
}

#[tokio::test]
async fn an_unreachable_endpoint_fails_in_bounded_time() {
    // A port that was just free: nothing listens, so every try is refused and retried.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let endpoint = format!("http://127.0.0.1:{port}/devstoreaccount1");
    let store = AzureBlobStore::builder(account(&endpoint, DEVELOPMENT_KEY), "nowhere").build().expect("store");
    let started = std::time::Instant::now();
    let e = store.head(&BlobKey::new("k").unwrap()).await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(e.message().contains("could not reach"), "{e}");
    assert!(took < RETRY_BUDGET + Duration::from_secs(5), "took {took:?}, over the retry budget");
    assert!(took > Duration::from_millis(100), "took {took:?}: no retries happened");
}

#[tokio::test]
async fn invalid_metadata_names_fail_before_any_request() {
    // Port 9 on loopback answers nothing: a request would fail as Unavailable, not InvalidInput.
    let store = AzureBlobStore::builder(account("http://127.0.0.1:9/devstoreaccount1", DEVELOPMENT_KEY), "nowhere")
        .build()
        .expect("store");
    let key = BlobKey::new("k").unwrap();
    for bad in ["1starts_with_digit", "has-dash", "has space", "Ünicode"] {
        let opts = PutOptions::default().with_metadata(bad, "v");
        let e = store.put_opts(&key, Bytes::from_static(b"x"), opts.clone()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "put with {bad:?}: {e}");
        assert!(e.message().contains("metadata name"), "{e}");
        let e = store.put_writer(&key, opts).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "writer with {bad:?}: {e}");
    }
}

#[tokio::test]
async fn aborted_and_dropped_uploads_leave_no_blob() -> TestResult {
    let Some(store) = store().await else { return Ok(()) };
    for how in ["abort", "drop"] {
        let key = BlobKey::new(format!("unfinished-{how}"))?;
        let mut writer = store.put_writer(&key, PutOptions::default()).await?;
        // Five blocks staged (and more in flight) before giving up.
        for _ in 0..5 {
            writer.write(data(PART)).await?;
        }
        if how == "abort" {
            writer.abort().await?;
        } else {
            drop(writer);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!store.exists(&key).await?, "{how}: the blob became visible");
        // Nothing committed: the official client finds no blob either.
        let blob = store.container_client().blob_client(&format!("{}{key}", store.prefix()));
        assert!(!blob.exists().await?, "{how}: the official client sees a blob");
    }
    Ok(())
}

#[tokio::test]
async fn staged_upload_round_trips_through_the_official_client() -> TestResult {
    let Some(store) = store().await else { return Ok(()) };
    let key = BlobKey::new("ours/staged.bin")?;
    let content = data(5 * PART + 123);
    let opts = PutOptions::default().with_content_type("application/x-test").with_metadata("owner", "cloudport");
    let mut writer = store.put_writer(&key, opts).await?;
    for chunk in content.chunks(10_000) {
        writer.write(Bytes::copy_from_slice(chunk)).await?;
    }
    let put = writer.finish().await?;

    // Read by the official client directly.
    let blob = store.container_client().blob_client(&format!("{}{key}", store.prefix()));
    let downloaded = blob.download(None).await?;
    assert_eq!(downloaded.properties.etag.map(|e| e.to_string()).as_deref(), Some(put.etag.as_str()));
    assert_eq!(downloaded.properties.content_type.as_deref(), Some("application/x-test"));
    assert_eq!(downloaded.properties.metadata.get("owner").map(String::as_str), Some("cloudport"));
    let bytes = downloaded.body.collect().await?;
    assert!(bytes[..] == content[..], "official client read {} bytes, {} written", bytes.len(), content.len());

    // Written by the official client, read by cloudport.
    let theirs = BlobKey::new("theirs/official.bin")?;
    let other = store.container_client().blob_client(&format!("{}{theirs}", store.prefix()));
    let written = data(70_000);
    other.upload(RequestContent::from(written.to_vec()), None).await?;
    assert_eq!(store.get_bytes(&theirs).await?, written);
    assert_eq!(store.head(&theirs).await?.size, 70_000);
    Ok(())
}

#[tokio::test]
async fn presigned_urls_work_for_the_official_client_and_tampering_fails() -> TestResult {
    let Some(store) = store().await else { return Ok(()) };
    let key = BlobKey::new("presigned/file.txt")?;
    store.put(&key, "signed content").await?;

    let get = store.presign(PresignMethod::Get, &key, Duration::from_secs(300)).await?;
    assert!(get.url.query().is_some_and(|q| q.contains("sr=b") && q.contains("sp=r")), "{get:?}");
    // No credential and no policy: only the SAS in the URL authenticates.
    let reader = BlobClient::new(get.url.clone(), None, None)?;
    assert_eq!(&reader.download(None).await?.body.collect().await?[..], b"signed content");
    // A read-only URL cannot write.
    let e = reader.upload(RequestContent::from(b"nope".to_vec()), None).await.expect_err("read-only SAS wrote");
    assert_eq!(e.http_status(), Some(azure_core::http::StatusCode::Forbidden), "{e:?}");

    let put = store.presign(PresignMethod::Put, &key, Duration::from_secs(300)).await?;
    assert_eq!(put.headers, [("x-ms-blob-type".to_owned(), "BlockBlob".to_owned())]);
    BlobClient::new(put.url.clone(), None, None)?.upload(RequestContent::from(b"replaced".to_vec()), None).await?;
    assert_eq!(store.get_bytes(&key).await?, "replaced");

    // The signature of another blob does not open this one.
    let mut moved = get.url.clone();
    moved.set_path(&get.url.path().replace("file.txt", "other.txt"));
    let e = BlobClient::new(moved, None, None)?.download(None).await.expect_err("a SAS opened another blob");
    assert_eq!(e.http_status(), Some(azure_core::http::StatusCode::Forbidden), "{e:?}");
    Ok(())
}

#[tokio::test]
async fn wrong_key_says_what_to_fix() -> TestResult {
    let Some(endpoint) = cloudport_conformance::skip::emulator(BLOB_VAR, "azure blob") else { return Ok(()) };
    let wrong = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleQ==";
    let store = AzureBlobStore::builder(account(&endpoint, wrong), CONTAINER).build()?;
    let key = BlobKey::new("any")?;
    for (what, e) in [
        ("put", store.put(&key, "x").await.unwrap_err()),
        ("head", store.head(&key).await.unwrap_err()),
        ("list", store.list("").try_collect::<Vec<_>>().await.unwrap_err()),
    ] {
        assert!(
            matches!(e.kind(), ErrorKind::Unauthenticated | ErrorKind::PermissionDenied),
            "{what} with a wrong key: {e}"
        );
        // HEAD answers carry no error code: the status alone must still lead to the fix.
        let shown = format!("{e}");
        assert!(shown.contains("AZURE_STORAGE_CONNECTION_STRING"), "{what}: {shown}");
    }
    Ok(())
}

/// The official Python client (`azure-storage-blob`, in the venv `cargo xtask test` installs):
/// it reads a staged upload of ours, and we read one of its, bytes and properties alike. Proof
/// that we speak Azure's protocol, not one our own reader happens to accept.
#[tokio::test]
async fn the_official_python_client_reads_ours_and_we_read_its() -> TestResult {
    let Some(store) = store().await else { return Ok(()) };
    let Some(python) = cloudport_conformance::skip::emulator(PYTHON_VAR, "azure blob (Python client)") else {
        return Ok(());
    };
    let endpoint = std::env::var(BLOB_VAR)?;
    let connection = format!(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={DEVELOPMENT_KEY};BlobEndpoint={endpoint}"
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python_client.py");
    let run = |args: &[&str]| -> Result<serde_json::Value, Box<dyn std::error::Error>> {
        let out = std::process::Command::new(&python).arg(script).args(args).output()?;
        assert!(out.status.success(), "python_client.py {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        Ok(serde_json::from_slice(&out.stdout)?)
    };

    // Ours, in several blocks, read by Python.
    let key = BlobKey::new("cross/ours.bin")?;
    let content = data(3 * PART + 17);
    let opts = PutOptions::default().with_content_type("application/x-cloudport").with_metadata("origin", "rust");
    let put = store
        .put_stream(&key, futures::stream::iter(content.chunks(PART / 3).map(|c| Ok(Bytes::copy_from_slice(c)))), opts)
        .await?;
    let seen = run(&["read", &connection, CONTAINER, &format!("{}{key}", store.prefix())])?;
    assert_eq!(seen["size"], content.len());
    assert_eq!(seen["sha256"], sha256_hex(&content));
    assert_eq!(seen["content_type"], "application/x-cloudport");
    assert_eq!(seen["metadata"]["origin"], "rust");
    assert_eq!(seen["etag"].as_str().map(|e| e.trim_matches('"')), Some(put.etag.as_str().trim_matches('"')));

    // Python's, in 64 KiB blocks, read by us.
    let key = BlobKey::new("cross/python.bin")?;
    let size = 4 * PART + 5;
    let written = run(&["write", &connection, CONTAINER, &format!("{}{key}", store.prefix()), &size.to_string()])?;
    let bytes = store.get_bytes(&key).await?;
    assert_eq!(bytes.len(), size);
    assert_eq!(written["sha256"], sha256_hex(&bytes));
    assert_eq!(bytes, data(size), "the bytes Python wrote");
    let head = store.head(&key).await?;
    assert_eq!(head.content_type.as_deref(), Some("application/x-python"));
    assert_eq!(head.metadata.get("origin").map(String::as_str), Some("python"));
    assert_eq!(head.etag.as_str().trim_matches('"'), written["etag"].as_str().unwrap_or_default().trim_matches('"'));
    Ok(())
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
