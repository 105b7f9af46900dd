//! cloudport's Azure provider: authentication to Azure Storage on the official Azure SDK crates.
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
//! Blob store and queue implementations of cloudport's traits come in a later step.

mod connection;
mod sas;
mod shared_key;

pub use connection::{AccountKey, Credential, DEVELOPMENT_ACCOUNT, DEVELOPMENT_KEY, SasToken, StorageAccount};
pub use sas::{ACCOUNT_SAS_VERSION, account_sas};
pub use shared_key::SharedKeyPolicy;
