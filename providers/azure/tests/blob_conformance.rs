//! The conformance suite against Azure Blob Storage on Azurite, twice: signing every request
//! with the account key (SharedKey), and with an account SAS in the URL.
//!
//! Runs when `CLOUDPORT_TEST_AZURITE_BLOB` holds Azurite's path-style blob endpoint
//! (`http://127.0.0.1:10000/devstoreaccount1`); skipped loudly otherwise, and failing instead
//! when `CLOUDPORT_REQUIRE_EMULATORS` is set. Every test works under its own prefix of one
//! container.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cloudport_azure::{AccountKey, AzureBlobStore, Credential, DEVELOPMENT_KEY, StorageAccount, account_sas};
use cloudport_conformance::blob::BlobFixture;

const CONTAINER: &str = "cloudport-conformance";

fn keyed(endpoint: &str) -> StorageAccount {
    StorageAccount::from_connection_string(&format!(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={DEVELOPMENT_KEY};BlobEndpoint={endpoint}"
    ))
    .expect("Azurite's connection string")
}

async fn fixture(account: StorageAccount) -> BlobFixture {
    let store = AzureBlobStore::builder(account, CONTAINER).build().expect("Azure blob store");
    // Every test creates the container; after the first, Azurite answers that it exists.
    if let Err(e) = store.container_client().create(None).await {
        assert_eq!(e.http_status(), Some(azure_core::http::StatusCode::Conflict), "create container: {e:?}");
    }
    BlobFixture::new(Arc::new(store))
}

async fn shared_key_fixture(endpoint: String) -> BlobFixture {
    fixture(keyed(&endpoint)).await
}

async fn sas_fixture(endpoint: String) -> BlobFixture {
    let keyed = keyed(&endpoint);
    let key = AccountKey::from_base64(DEVELOPMENT_KEY).expect("the development key");
    let sas = account_sas(&keyed.name, &key, "rwdlacup", SystemTime::now() + Duration::from_secs(3600))
        .expect("an account SAS");
    fixture(StorageAccount { credential: Credential::Sas(sas), ..keyed }).await
}

mod shared_key {
    cloudport_conformance::blob_suite!(
        "azure-blob-shared-key",
        env = "CLOUDPORT_TEST_AZURITE_BLOB",
        super::shared_key_fixture
    );
}

mod sas {
    cloudport_conformance::blob_suite!("azure-blob-sas", env = "CLOUDPORT_TEST_AZURITE_BLOB", super::sas_fixture);
}
