//! S3 behaviours beyond the conformance suite, on moto: presigned URLs checked against
//! botocore's signer, multipart uploads that never linger, and faults (missing credentials, no
//! region, unreachable endpoints, moto killed mid-upload).

mod common;

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cloudport_aws::{AwsOptions, S3BlobStore};
use cloudport_core::{BlobKey, BlobStore, BlobStoreExt, ErrorKind, PresignMethod, PutMode, PutOptions};
use common::{assert_probe_passed, aws, ensure_bucket, moto, run_probe, unique};

const BUCKET: &str = "cloudport-s3-tests";
const PART: usize = 5 * 1024 * 1024;

async fn store(endpoint: &str) -> S3BlobStore {
    let store = S3BlobStore::builder(BUCKET).prefix(unique("t")).aws(aws(endpoint)).part_size(PART).build().unwrap();
    ensure_bucket(&store).await;
    store
}

/// Multipart uploads still open on the bucket.
async fn open_uploads(store: &S3BlobStore) -> Vec<String> {
    let out = store.client().await.unwrap().list_multipart_uploads().bucket(BUCKET).send().await.unwrap();
    out.uploads().iter().filter_map(|u| u.key().map(str::to_owned)).collect()
}

#[tokio::test]
async fn presigned_urls_work_and_botocore_computes_the_same_signature() {
    let Some(endpoint) = moto("aws s3 presign") else { return };
    let Some(python) = cloudport_conformance::skip::emulator(common::PYTHON_VAR, "aws s3 presign (botocore)") else {
        return;
    };
    let store = store(&endpoint).await;
    let key = BlobKey::new("presigned/hello world+é.txt").unwrap();
    store.put(&key, "before").await.unwrap();

    let put = store.presign(PresignMethod::Put, &key, Duration::from_secs(600)).await.unwrap();
    let http = reqwest::Client::new();
    let status = http.put(put.url.clone()).body("through a presigned PUT").send().await.unwrap().status();
    assert!(status.is_success(), "presigned PUT answered {status}");
    let get = store.presign(PresignMethod::Get, &key, Duration::from_secs(600)).await.unwrap();
    let body = http.get(get.url.clone()).send().await.unwrap().text().await.unwrap();
    assert_eq!(body, "through a presigned PUT");

    // moto accepts any signature, so the signature itself is checked by botocore's signer.
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/verify_presign.py");
    for (method, signed) in [("GET", &get), ("PUT", &put)] {
        let signature =
            signed.url.query_pairs().find(|(k, _)| k == "X-Amz-Signature").map(|(_, v)| v.into_owned()).unwrap();
        let headers: Vec<String> = signed.headers.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let verify = |secret: &str| {
            let out = std::process::Command::new(&python)
                .arg(script)
                .args([method, signed.url.as_str(), "testing", secret, "us-east-1"])
                .args(&headers)
                .output()
                .expect("run botocore");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout).unwrap().lines().next().unwrap().to_owned()
        };
        assert_eq!(verify("testing"), signature, "botocore signs the presigned {method} differently");
        assert_ne!(verify("another-secret"), signature, "the check must be able to fail");
    }
}

#[tokio::test]
async fn aborted_and_dropped_multipart_uploads_leave_no_upload_behind() {
    let Some(endpoint) = moto("aws s3 multipart") else { return };
    let store = store(&endpoint).await;
    let part = Bytes::from(vec![7u8; PART]);

    let aborted = BlobKey::new("multipart/aborted").unwrap();
    let mut writer = store.put_writer(&aborted, PutOptions::default()).await.unwrap();
    for _ in 0..3 {
        writer.write(part.clone()).await.unwrap();
    }
    assert!(!open_uploads(&store).await.is_empty(), "parts were uploaded before the abort");
    writer.abort().await.unwrap();
    assert!(open_uploads(&store).await.is_empty(), "an aborted upload lingers");
    assert!(!store.exists(&aborted).await.unwrap());

    let dropped = BlobKey::new("multipart/dropped").unwrap();
    let mut writer = store.put_writer(&dropped, PutOptions::default()).await.unwrap();
    writer.write(part.clone()).await.unwrap();
    writer.write(part.clone()).await.unwrap();
    drop(writer);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !open_uploads(&store).await.is_empty() {
        assert!(Instant::now() < deadline, "a dropped writer's upload was not aborted within 10 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!store.exists(&dropped).await.unwrap());
}

#[tokio::test]
async fn multipart_uploads_honour_the_write_mode_at_completion() {
    let Some(endpoint) = moto("aws s3 multipart conditions") else { return };
    let store = store(&endpoint).await;
    let key = BlobKey::new("multipart/conditional").unwrap();
    let first = store.put(&key, "original").await.unwrap();
    let part = Bytes::from(vec![1u8; PART]);

    let create = PutOptions::default().with_mode(PutMode::Create);
    let body = futures::stream::iter([Ok(part.clone()), Ok(part.clone())]);
    let err = store.put_stream(&key, body, create).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
    assert_eq!(store.get_bytes(&key).await.unwrap(), "original");
    assert!(open_uploads(&store).await.is_empty(), "a refused upload lingers");

    let update = PutOptions::default().with_mode(PutMode::IfMatch(first.etag.clone()));
    let body = futures::stream::iter([Ok(part.clone()), Ok(part.clone())]);
    let done = store.put_stream(&key, body, update).await.expect("multipart compare-and-swap on the current etag");
    assert_eq!(store.head(&key).await.unwrap().size, 2 * PART as u64);
    assert_ne!(done.etag, first.etag);
}

#[tokio::test]
async fn unreachable_endpoints_fail_fast_with_unavailable() {
    // Nothing listens on port 1; the SDK retries, then cloudport says what to check.
    let store = S3BlobStore::builder("any-bucket").aws(aws("http://127.0.0.1:1")).build().unwrap();
    let started = Instant::now();
    let err = store.head(&BlobKey::new("k").unwrap()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.to_string().contains("AWS_ENDPOINT_URL"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
}

/// Run in a child process by `missing_configuration_gets_clear_errors`, with no AWS variables.
#[tokio::test]
#[ignore = "a probe: run by missing_configuration_gets_clear_errors in a clean environment"]
async fn probe_missing_configuration() {
    let endpoint = std::env::var(common::MOTO_VAR).unwrap();
    let key = BlobKey::new("k").unwrap();

    let no_region = S3BlobStore::builder(BUCKET).aws(AwsOptions::new().endpoint(&endpoint)).build().unwrap();
    let err = no_region.head(&key).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(err.to_string().contains("AWS_REGION"), "{err}");

    let started = Instant::now();
    let anonymous =
        S3BlobStore::builder(BUCKET).aws(AwsOptions::new().endpoint(&endpoint).region("us-east-1")).build().unwrap();
    let err = anonymous.head(&key).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert!(err.to_string().contains("AWS_ACCESS_KEY_ID"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
}

#[test]
fn missing_configuration_gets_clear_errors() {
    let Some(endpoint) = moto("aws missing configuration") else { return };
    let home = std::env::temp_dir().join(unique("cloudport-empty-home"));
    std::fs::create_dir_all(&home).unwrap();
    let home = home.to_string_lossy().into_owned();
    // No AWS variables, an empty home (no ~/.aws), and no instance metadata service.
    let env = [(common::MOTO_VAR, endpoint.as_str()), ("HOME", home.as_str()), ("AWS_EC2_METADATA_DISABLED", "true")];
    let output = run_probe("probe_missing_configuration", &env);
    assert_probe_passed("probe_missing_configuration", &output);
}

#[tokio::test]
async fn moto_killed_mid_upload_gives_a_typed_error_in_bounded_time() {
    let Some(server) = cloudport_conformance::skip::emulator(common::MOTO_SERVER_VAR, "aws s3 moto killed mid-upload")
    else {
        return;
    };
    // A moto of this test's own, on a free port, so killing it disturbs no other test.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut moto = tokio::process::Command::new(server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start moto");
    let endpoint = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "moto did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let store = Arc::new(store(&endpoint).await);
    let key = BlobKey::new("killed/upload").unwrap();
    let mut writer = store.put_writer(&key, PutOptions::default()).await.unwrap();
    let part = Bytes::from(vec![3u8; PART]);
    writer.write(part.clone()).await.unwrap();
    writer.write(part.clone()).await.unwrap();

    moto.kill().await.unwrap();
    let started = Instant::now();
    let outcome = async {
        for _ in 0..4 {
            writer.write(part.clone()).await?;
        }
        writer.finish().await
    }
    .await;
    let err = outcome.expect_err("an upload to a dead server cannot succeed");
    assert!(matches!(err.kind(), ErrorKind::Unavailable | ErrorKind::Timeout), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(60), "the failure took {:?}", started.elapsed());
}
