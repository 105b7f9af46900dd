//! cloudport's Azure provider: [`AzureBlobStore`] (`az://account/container/prefix`) and
//! [`AzureQueue`] (`azqueue://account/queue`) on the official Azure SDK crates.
//!
//! Both take their endpoints and credentials from the connection string in
//! `AZURE_STORAGE_CONNECTION_STRING` (an account key, a SAS, or `UseDevelopmentStorage=true` for
//! Azurite), whose account must be the URL's. Entra ID (azure_identity) is not supported yet:
//! without a connection string, the first operation fails with `Config`, saying so.
//!
//! The official `azure_storage_blob` and `azure_storage_queue` clients take Microsoft Entra ID
//! tokens only (and only over https). This crate adds what keyed accounts, SAS tokens and the
//! Azurite emulator need:
//!
//! - [`StorageAccount`]: a parsed connection string (endpoints and a [`Credential`]);
//! - [`SharedKeyPolicy`]: signs every request with the account key, for the clients'
//!   `per_try_policies`;
//! - [`account_sas`]: generates an account SAS from the key; a [`SasToken`] travels in the URL.
//!
//! ```
//! use azure_core::http::ClientOptions;
//! use azure_storage_blob::{BlobServiceClient, BlobServiceClientOptions};
//! use cloudport_azure::StorageAccount;
//!
//! // Azurite on its default ports; a real account's connection string works the same way.
//! let account = StorageAccount::from_connection_string("UseDevelopmentStorage=true")?;
//! let options = BlobServiceClientOptions {
//!     client_options: ClientOptions { per_try_policies: account.per_try_policies(), ..Default::default() },
//!     ..Default::default()
//! };
//! // No token credential: the policies (or the SAS in the URL) authenticate.
//! let blobs = BlobServiceClient::new(account.blob_service_url(), None, Some(options))?;
//! let container = blobs.blob_container_client("photos");
//! assert_eq!(container.url().as_str(), "http://127.0.0.1:10000/devstoreaccount1/photos");
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Secrets
//!
//! [`AccountKey`] and [`SasToken`] redact themselves in `Debug`, and no error of this crate
//! repeats a key or a signature.
//!
//! # Not yet
//!
//! Entra ID credentials, Azure Functions (the custom handler) and its deploy files come in later
//! steps.

pub mod blob;
mod connection;
mod error;
pub mod queue;
mod sas;
mod shared_key;

pub use blob::{AzureBlobBuilder, AzureBlobStore};
pub use connection::{
    AccountKey, CONNECTION_STRING_VAR, Credential, DEVELOPMENT_ACCOUNT, DEVELOPMENT_KEY, RETRY_BUDGET, SasToken,
    StorageAccount,
};
pub use queue::{AzureQueue, AzureQueueBuilder, poison_queue_name};
pub use sas::{ACCOUNT_SAS_VERSION, account_sas, blob_sas};
pub use shared_key::SharedKeyPolicy;
