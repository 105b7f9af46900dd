//! The conformance queue suite against Azure Queue Storage on Azurite, twice: signed with the
//! account key (SharedKey) and with an account SAS.
//!
//! Runs when `CLOUDPORT_TEST_AZURITE_QUEUE` holds Azurite's path-style queue endpoint
//! (`http://127.0.0.1:<port>/devstoreaccount1`; `cargo xtask test` starts Azurite and sets it);
//! skipped loudly otherwise, and failing instead when `CLOUDPORT_REQUIRE_EMULATORS` is set.
//! Every test gets fresh queues. Queues run in real time: leases and delays are slept through.
//!
//! No emulator gap is declared: on Azurite 3.37.0 every behaviour passes for real (it refuses a
//! stale pop receipt with `PopReceiptMismatch`, reports `DequeueCount`, takes 64 KiB of message
//! text and refuses more, and checks the SharedKey and SAS signatures). What it does not check
//! is named where it matters, in `tests/queue.rs` (`a_seven_day_delay_is_accepted`).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cloudport_azure::{AccountKey, AzureQueue, Credential, DEVELOPMENT_KEY, StorageAccount, account_sas};
use cloudport_conformance::queue::{QueueFixture, QueueSpec, RealTime};
use cloudport_core::{Queue, ReceiveOptions};

/// Azurite's account, signing with its key, for the queue endpoint `endpoint`.
fn shared_key(endpoint: &str) -> StorageAccount {
    let connection_string = format!(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={DEVELOPMENT_KEY};BlobEndpoint={endpoint};QueueEndpoint={endpoint}"
    );
    StorageAccount::from_connection_string(&connection_string).expect("Azurite's connection string")
}

/// Azurite's account with an account SAS (generated from the key) as the only credential.
fn sas(endpoint: &str) -> StorageAccount {
    let keyed = shared_key(endpoint);
    let key = AccountKey::from_base64(DEVELOPMENT_KEY).expect("Azurite's key");
    let token = account_sas(&keyed.name, &key, "rwdlacup", SystemTime::now() + Duration::from_secs(3600))
        .expect("an account SAS");
    let account = StorageAccount { credential: Credential::Sas(token), ..keyed };
    assert!(account.per_try_policies().is_empty(), "only the SAS may authenticate");
    account
}

async fn fixture(account: StorageAccount, spec: QueueSpec) -> QueueFixture {
    let mut builder = AzureQueue::builder(account.clone(), &spec.name).create(true);
    if let Some(policy) = spec.dead_letter.clone() {
        builder = builder.dead_letter(policy);
    }
    let queue = builder.build().expect("Azure queue");
    // The first operation creates the queue, so tests start on a ready, empty queue.
    let nothing = queue.receive(ReceiveOptions::default()).await.expect("create the Azure queue");
    assert!(nothing.is_empty(), "a fresh queue delivered {nothing:?}");
    let mut fixture = QueueFixture::new(Arc::new(queue), Arc::new(RealTime));
    if let Some(policy) = spec.dead_letter {
        let dead_letters = AzureQueue::builder(account, policy.queue).create(true).build().expect("dead-letter queue");
        fixture = fixture.with_dead_letters(Arc::new(dead_letters));
    }
    fixture
}

mod shared_key {
    cloudport_conformance::queue_suite!(
        "azure-queue-shared-key",
        env = "CLOUDPORT_TEST_AZURITE_QUEUE",
        |endpoint: String, spec| async move { super::fixture(super::shared_key(&endpoint), spec).await }
    );
}

mod sas {
    cloudport_conformance::queue_suite!(
        "azure-queue-sas",
        env = "CLOUDPORT_TEST_AZURITE_QUEUE",
        |endpoint: String, spec| async move { super::fixture(super::sas(&endpoint), spec).await }
    );
}
