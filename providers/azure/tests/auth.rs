//! SharedKey and SAS authentication against a real Azurite, through the official clients.
//!
//! `cargo xtask test` starts Azurite and sets the variables below; without them every test is
//! skipped loudly (and fails when `CLOUDPORT_REQUIRE_EMULATORS` is set). Azurite rejects
//! unauthenticated requests, wrong SharedKey signatures and bad SAS signatures with 403, so these
//! tests prove the signing, not just the plumbing.

use std::time::{Duration, SystemTime};

use azure_core::http::{ClientOptions, RequestContent, StatusCode};
use azure_storage_blob::{BlobServiceClient, BlobServiceClientOptions};
use azure_storage_queue::models::QueueMessage;
use azure_storage_queue::{QueueServiceClient, QueueServiceClientOptions};
use cloudport_azure::{AccountKey, Credential, DEVELOPMENT_KEY, SasToken, StorageAccount, account_sas};
use futures::TryStreamExt as _;

/// Azurite's blob endpoint, path-style: `http://127.0.0.1:<port>/devstoreaccount1`.
const BLOB_VAR: &str = "CLOUDPORT_TEST_AZURITE_BLOB";
/// Azurite's queue endpoint, path-style.
const QUEUE_VAR: &str = "CLOUDPORT_TEST_AZURITE_QUEUE";

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Azurite's account from a connection string naming its endpoints, with `key` (base64), or
/// `None` when the suite is skipped.
fn azurite(key: &str) -> Option<StorageAccount> {
    let blob = cloudport_conformance::skip::emulator(BLOB_VAR, "azure auth")?;
    let queue = cloudport_conformance::skip::emulator(QUEUE_VAR, "azure auth")?;
    let connection_string = format!(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={key};BlobEndpoint={blob};QueueEndpoint={queue}"
    );
    Some(StorageAccount::from_connection_string(&connection_string).expect("Azurite's connection string"))
}

/// A unique, valid container or queue name: `prefix-<hex>`, lowercase.
fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_nanos();
    format!("{prefix}-{:016x}", (nanos as u64) ^ u64::from(std::process::id()).rotate_left(32))
}

/// A blob client on `account`: its policies (SharedKey for a key), its URL (with a SAS for a SAS).
fn blob_service(account: &StorageAccount) -> BlobServiceClient {
    let options = BlobServiceClientOptions {
        client_options: ClientOptions { per_try_policies: account.per_try_policies(), ..Default::default() },
        ..Default::default()
    };
    BlobServiceClient::new(account.blob_service_url(), None, Some(options)).expect("blob service client")
}

/// A queue client on `account`, as [`blob_service`].
fn queue_service(account: &StorageAccount) -> QueueServiceClient {
    let options = QueueServiceClientOptions {
        client_options: ClientOptions { per_try_policies: account.per_try_policies(), ..Default::default() },
        ..Default::default()
    };
    QueueServiceClient::new(account.queue_service_url(), None, Some(options)).expect("queue service client")
}

/// Asserts that `result` failed with 403 and an authentication error code: Azure answers a bad
/// signature with `AuthenticationFailed`; Azurite 3.37's blob service (measured) with
/// `AuthorizationFailure`.
fn assert_rejected<T: std::fmt::Debug>(what: &str, result: azure_core::Result<T>) {
    let error = result.expect_err(&format!("{what}: Azurite accepted it"));
    assert_eq!(error.http_status(), Some(StatusCode::Forbidden), "{what}: {error:?}");
    match error.kind() {
        azure_core::error::ErrorKind::HttpResponse { error_code, .. } => assert!(
            matches!(error_code.as_deref(), Some("AuthenticationFailed" | "AuthorizationFailure")),
            "{what}: {error:?}"
        ),
        other => panic!("{what}: expected an HTTP 403, got {other:?}"),
    }
}

/// Binary content every byte value appears in, larger than one read buffer.
fn content() -> Vec<u8> {
    (0..100_000u32).map(|i| (i.wrapping_mul(31) % 256) as u8).collect()
}

#[tokio::test]
async fn shared_key_blob_round_trip() -> TestResult {
    let Some(account) = azurite(DEVELOPMENT_KEY) else { return Ok(()) };
    assert!(matches!(account.credential, Credential::AccountKey(_)));
    let service = blob_service(&account);
    let name = unique("auth-blob");
    let container = service.blob_container_client(&name);
    container.create(None).await?;
    assert!(container.exists().await?, "container {name} should exist after create");

    let data = content();
    let blob = container.blob_client("dir/data one.bin");
    blob.upload(RequestContent::from(data.clone()), None).await?;
    let downloaded = blob.download(None).await?.body.collect().await?;
    assert!(
        downloaded[..] == data[..],
        "downloaded {} bytes differ from the {} uploaded",
        downloaded.len(),
        data.len()
    );

    let mut names = Vec::new();
    let mut pager = container.list_blobs(None)?;
    while let Some(item) = pager.try_next().await? {
        names.push(item.name.unwrap_or_default());
    }
    assert_eq!(names, ["dir/data one.bin"]);

    container.delete(None).await?;
    assert!(!container.exists().await?, "container {name} should be gone after delete");
    Ok(())
}

#[tokio::test]
async fn shared_key_queue_round_trip() -> TestResult {
    let Some(account) = azurite(DEVELOPMENT_KEY) else { return Ok(()) };
    let queue = queue_service(&account).queue_client(&unique("auth-queue"))?;
    queue.create(None).await?;

    let text = "héllo <azure> & 'queues'";
    queue.send_message(QueueMessage { message_text: Some(text.to_owned()) }.try_into()?, None).await?;
    let received = queue.receive_messages(None).await?.into_model()?.items.unwrap_or_default();
    assert_eq!(received.len(), 1, "{received:?}");
    let message = &received[0];
    assert_eq!(message.message_text.as_deref(), Some(text));
    let id = message.message_id.as_deref().expect("a message id");
    let receipt = message.pop_receipt.as_deref().expect("a pop receipt");
    queue.delete_message(id, receipt, None).await?;
    // Deleted for real: a second delete finds no message.
    let again = queue.delete_message(id, receipt, None).await.expect_err("the message was deleted already");
    assert_eq!(again.http_status(), Some(StatusCode::NotFound), "{again:?}");

    queue.delete(None).await?;
    assert!(!queue.exists().await?, "the queue should be gone after delete");
    Ok(())
}

#[tokio::test]
async fn wrong_key_and_no_key_are_rejected() -> TestResult {
    let wrong_key = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleQ==";
    let Some(wrong) = azurite(wrong_key) else { return Ok(()) };
    let name = unique("auth-wrong");
    assert_rejected(
        "blob create with a wrong key",
        blob_service(&wrong).blob_container_client(&name).create(None).await,
    );
    assert_rejected("queue create with a wrong key", queue_service(&wrong).queue_client(&name)?.create(None).await);

    // Without the policy nothing is signed, and Azurite refuses too: the policy is what works.
    let anonymous = StorageAccount { credential: Credential::Entra, ..wrong };
    assert!(anonymous.per_try_policies().is_empty());
    assert_rejected("blob create unsigned", blob_service(&anonymous).blob_container_client(&name).create(None).await);
    Ok(())
}

#[tokio::test]
async fn account_sas_round_trip() -> TestResult {
    let Some(keyed) = azurite(DEVELOPMENT_KEY) else { return Ok(()) };
    let key = AccountKey::from_base64(DEVELOPMENT_KEY)?;
    let sas = account_sas(&keyed.name, &key, "rwdlacup", SystemTime::now() + Duration::from_secs(3600))?;
    // Credential None, no SharedKey policy: only the SAS in the URL authenticates.
    let account = StorageAccount { credential: Credential::Sas(sas), ..keyed };
    assert!(account.per_try_policies().is_empty());
    assert!(account.blob_service_url().query().is_some_and(|q| q.contains("sig=")));

    let container = blob_service(&account).blob_container_client(&unique("auth-sas"));
    container.create(None).await?;
    let data = content();
    let blob = container.blob_client("sas.bin");
    blob.upload(RequestContent::from(data.clone()), None).await?;
    let downloaded = blob.download(None).await?.body.collect().await?;
    assert!(
        downloaded[..] == data[..],
        "downloaded {} bytes differ from the {} uploaded",
        downloaded.len(),
        data.len()
    );
    container.delete(None).await?;

    let queue = queue_service(&account).queue_client(&unique("auth-sas"))?;
    queue.create(None).await?;
    queue.send_message(QueueMessage { message_text: Some("via sas".into()) }.try_into()?, None).await?;
    let received = queue.receive_messages(None).await?.into_model()?.items.unwrap_or_default();
    assert_eq!(received.first().and_then(|m| m.message_text.as_deref()), Some("via sas"));
    queue.delete(None).await?;
    Ok(())
}

#[tokio::test]
async fn tampered_sas_is_rejected() -> TestResult {
    let Some(keyed) = azurite(DEVELOPMENT_KEY) else { return Ok(()) };
    let name = unique("auth-tampered");
    let signed = blob_service(&keyed).blob_container_client(&name);
    signed.create(None).await?;
    signed.blob_client("existing.txt").upload(RequestContent::from(b"x".to_vec()), None).await?;

    let key = AccountKey::from_base64(DEVELOPMENT_KEY)?;
    let read_only = account_sas(&keyed.name, &key, "rl", SystemTime::now() + Duration::from_secs(3600))?;
    let token = read_only.as_str().to_owned();
    // The signature changed: one character of it replaced.
    let sig_at = token.find("sig=").expect("a sig parameter") + "sig=".len();
    let flipped = if token.as_bytes()[sig_at] == b'A' { "B" } else { "A" };
    let bad_sig = format!("{}{flipped}{}", &token[..sig_at], &token[sig_at + 1..]);
    // The permissions widened, the signature kept.
    let widened = token.replace("sp=rl", "sp=rwdlacup");
    assert_ne!(widened, token);

    // Every token lists the container (which `rl` allows), so only the tampering differs.
    let list = |sas: SasToken| {
        let account = StorageAccount { credential: Credential::Sas(sas), ..keyed.clone() };
        let container = blob_service(&account).blob_container_client(&name);
        async move {
            let mut pager = container.list_blobs(None)?;
            let mut names = Vec::new();
            while let Some(item) = pager.try_next().await? {
                names.push(item.name.unwrap_or_default());
            }
            azure_core::Result::Ok(names)
        }
    };
    // The untampered token is valid.
    assert_eq!(list(read_only).await?, ["existing.txt"]);
    assert_rejected("listing with a SAS whose sig changed", list(SasToken::new(&bad_sig)?).await);
    assert_rejected("listing with a SAS whose permissions widened", list(SasToken::new(&widened)?).await);

    signed.delete(None).await?;
    Ok(())
}
