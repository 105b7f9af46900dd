//! [`AzureBlobStore`]: a [`BlobStore`] on Azure Blob Storage (block blobs), on the official
//! `azure_storage_blob` client.

mod list;
mod presign;
mod read;
mod write;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use azure_storage_blob::models::BlobClientStartCopyFromUrlResultHeaders;
use azure_storage_blob::models::{BlobClientGetPropertiesResultHeaders, BlobClientStartCopyFromUrlOptions, CopyStatus};
use azure_storage_blob::{BlobClient, BlobContainerClient, BlobServiceClient, BlobServiceClientOptions};
use bytes::Bytes;
use cloudport_core::config::UrlOptions;
use cloudport_core::telemetry::{blob_get, blob_list, blob_op, blob_writer};
use cloudport_core::{
    BlobCapabilities, BlobKey, BlobStore, BlobWriter, CopyMode, CopyOptions, Error, ErrorKind, GetOptions, GetResult,
    ListEntry, ListOptions, ObjectMeta, PresignMethod, PresignedUrl, PutOptions, PutResult, Result,
};
use futures::stream::BoxStream;
use url::Url;

use crate::connection::{Credential, StorageAccount};
use crate::error::map_azure_error;

const PROVIDER: &str = "azure-blob";

use crate::connection::CONNECTION_STRING_VAR;

/// Largest blob one Put Blob may write (service version 2019-12-12 and later): 5000 MiB.
const MAX_PUT_SIZE: u64 = 5000 * 1024 * 1024;
/// Most blocks in one committed block blob.
const MAX_BLOCKS: u64 = 50_000;
/// Largest block: 4000 MiB.
const MAX_PART_SIZE: usize = 4000 * 1024 * 1024;
/// Smallest part size accepted by the builder (the service has no minimum; tiny blocks waste
/// requests and the 50,000-block budget).
const MIN_PART_SIZE: usize = 64 * 1024;
/// Default part size: 8 MiB blocks, 4 in flight, keep an upload's memory near 40 MiB.
const DEFAULT_PART_SIZE: usize = 8 * 1024 * 1024;
const DEFAULT_CONCURRENCY: usize = 4;
/// Most entries one List Blobs request returns.
const MAX_LIST_PAGE: usize = 5000;
/// How often a pending server-side copy is polled.
const COPY_POLL: Duration = Duration::from_millis(200);

/// A blob store on one Azure Storage container, optionally under a key prefix.
///
/// Operations map to the Blob service natively: ranged, conditional (`If-Match`,
/// `If-None-Match`) streaming downloads; create-only (`If-None-Match: *`) and compare-and-swap
/// (`If-Match: <etag>`) writes; paginated listings (5,000 per page, continuation markers);
/// server-side copies and service SAS presigned URLs. Requests authenticate as the
/// [`StorageAccount`] says: SharedKey signing with the account key, or a SAS token in the URL.
/// Microsoft Entra ID is not supported yet: a store on an account without a key or SAS fails
/// every operation with a `Config` error saying to set `AZURE_STORAGE_CONNECTION_STRING`.
///
/// Writers stage blocks (Put Block) of [`part_size`](AzureBlobBuilder::part_size) bytes,
/// [`concurrency`](AzureBlobBuilder::concurrency) at a time, so an upload holds about
/// `part_size × (concurrency + 1)` bytes whatever the blob's size, and commit them with one
/// Put Block List carrying the write mode's condition. Staged blocks are invisible until that
/// commit: an aborted or dropped writer (or a killed process) commits nothing, and the service
/// garbage-collects uncommitted blocks after 7 days (there is no call to delete them earlier;
/// the next successful write of the same blob discards them too). A blob that fits in one part
/// goes up in a single Put Blob.
///
/// Listings: the official client (1.1) has no `delimiter` parameter, so delimited listings are
/// grouped here from the flat listing (every key under the prefix is read), and `start_after`
/// is applied here too (Azure has no such parameter; its markers are opaque).
///
/// ```no_run
/// # async fn demo() -> cloudport_core::Result<()> {
/// use cloudport_azure::{AzureBlobStore, StorageAccount};
/// use cloudport_core::{BlobKey, BlobStoreExt};
///
/// let account = StorageAccount::from_connection_string(&std::env::var("AZURE_STORAGE_CONNECTION_STRING").unwrap())?;
/// let store = AzureBlobStore::builder(account, "photos").prefix("app/").build()?;
/// store.put(&BlobKey::new("hello.txt")?, "hello").await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AzureBlobStore {
    inner: Arc<Inner>,
}

struct Inner {
    account: StorageAccount,
    container_name: String,
    /// Empty, or ends with `/`.
    prefix: String,
    part_size: usize,
    concurrency: usize,
    container: BlobContainerClient,
}

impl fmt::Debug for AzureBlobStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureBlobStore")
            .field("account", &self.inner.account.name)
            .field("container", &self.inner.container_name)
            .field("prefix", &self.inner.prefix)
            .field("part_size", &self.inner.part_size)
            .field("concurrency", &self.inner.concurrency)
            .finish_non_exhaustive()
    }
}

/// Builds an [`AzureBlobStore`]; see [`AzureBlobStore::builder`].
#[derive(Debug, Clone)]
pub struct AzureBlobBuilder {
    account: StorageAccount,
    container: String,
    prefix: String,
    part_size: usize,
    concurrency: usize,
}

impl AzureBlobBuilder {
    /// Keeps every key under `prefix` (a `/` is added when missing); callers never see it.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Bytes per staged block (64 KiB to 4000 MiB; default 8 MiB). A blob has at most 50,000
    /// blocks, so the part size bounds what a writer can upload: 8 MiB parts allow ~390 GiB.
    #[must_use]
    pub fn part_size(mut self, bytes: usize) -> Self {
        self.part_size = bytes;
        self
    }

    /// Blocks uploaded at once by one writer (default 4).
    #[must_use]
    pub fn concurrency(mut self, parts: usize) -> Self {
        self.concurrency = parts;
        self
    }

    /// The store. No request is made.
    ///
    /// # Errors
    /// `Config` for an invalid container name or prefix, a part size or concurrency out of
    /// range, or a blob endpoint the official client rejects.
    pub fn build(self) -> Result<AzureBlobStore> {
        validate_container(&self.container)?;
        let mut prefix = self.prefix.trim_start_matches('/').to_owned();
        if !prefix.is_empty() {
            if !prefix.ends_with('/') {
                prefix.push('/');
            }
            BlobKey::new(prefix.trim_end_matches('/')).map_err(|e| {
                config(format!("Azure blob prefix {prefix:?} is not a valid key prefix: {}", e.message()))
            })?;
        }
        if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&self.part_size) {
            return Err(config(format!(
                "Azure part size {} is outside {MIN_PART_SIZE}..={MAX_PART_SIZE} bytes (a block is at most 4000 MiB)",
                self.part_size
            )));
        }
        if self.concurrency == 0 {
            return Err(config("Azure upload concurrency must be at least 1"));
        }
        let options = BlobServiceClientOptions { client_options: self.account.client_options(), ..Default::default() };
        let service = BlobServiceClient::new(self.account.blob_service_url(), None, Some(options)).map_err(|e| {
            config(format!("the blob endpoint {} is not usable: {e}", self.account.blob_endpoint)).with_source(e)
        })?;
        let container = service.blob_container_client(&self.container);
        Ok(AzureBlobStore {
            inner: Arc::new(Inner {
                account: self.account,
                container_name: self.container,
                prefix,
                part_size: self.part_size,
                concurrency: self.concurrency,
                container,
            }),
        })
    }
}

fn config(message: impl Into<String>) -> Error {
    Error::config(message).with_provider("azure")
}

/// Container names: 3-63 lowercase letters, digits and single dashes, starting and ending with a
/// letter or digit.
fn validate_container(name: &str) -> Result<()> {
    let valid = (3..=63).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !name.contains("--");
    if valid {
        Ok(())
    } else {
        Err(config(format!(
            "{name:?} is not a valid Azure container name (3-63 lowercase letters, digits and single '-', starting and ending with a letter or digit)"
        )))
    }
}

impl AzureBlobStore {
    /// A builder for a store on `container` of `account`.
    #[must_use]
    pub fn builder(account: StorageAccount, container: impl Into<String>) -> AzureBlobBuilder {
        AzureBlobBuilder {
            account,
            container: container.into(),
            prefix: String::new(),
            part_size: DEFAULT_PART_SIZE,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }

    /// Opens `az://<account>/<container>[/prefix][?part_size=<bytes>&concurrency=<n>]`.
    ///
    /// Credentials and endpoints come from `AZURE_STORAGE_CONNECTION_STRING` when it is set (its
    /// account must be the URL's); otherwise the public endpoint
    /// `https://<account>.blob.core.windows.net` is used with Microsoft Entra ID, which is not
    /// supported yet: every operation then fails with a `Config` error saying to set
    /// `AZURE_STORAGE_CONNECTION_STRING`.
    ///
    /// ```
    /// # if std::env::var_os("AZURE_STORAGE_CONNECTION_STRING").is_some() { return Ok(()); }
    /// let url = "az://myaccount/photos/app?part_size=16777216".parse().unwrap();
    /// let store = cloudport_azure::AzureBlobStore::from_url(&url)?;
    /// assert_eq!((store.container(), store.prefix()), ("photos", "app/"));
    /// # Ok::<(), cloudport_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// `Config` for another scheme, a missing account or container, an unknown or invalid
    /// option, an invalid connection string, or one naming another account.
    pub fn from_url(url: &Url) -> Result<Self> {
        if url.scheme() != "az" {
            return Err(config(format!("{url} is not an az:// URL (write az://<account>/<container>[/prefix])")));
        }
        let account_name = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| {
            config(format!("the Azure URL {url} names no account (write az://<account>/<container>[/prefix])"))
        })?;
        let path = percent_encoding::percent_decode_str(url.path())
            .decode_utf8()
            .map_err(|_| config(format!("the path of {url} is not UTF-8")))?;
        let path = path.trim_start_matches('/');
        let (container, prefix) = path.split_once('/').unwrap_or((path, ""));
        if container.is_empty() {
            return Err(config(format!(
                "the Azure URL {url} names no container (write az://{account_name}/<container>[/prefix])"
            )));
        }
        let mut opts = UrlOptions::new(url);
        let part_size = opts.take_parsed::<usize>("part_size")?;
        let concurrency = opts.take_parsed::<usize>("concurrency")?;
        opts.finish()?;

        let account = account_for(account_name, std::env::var(CONNECTION_STRING_VAR).ok().as_deref())?;
        let mut builder = Self::builder(account, container).prefix(prefix);
        if let Some(size) = part_size {
            builder = builder.part_size(size);
        }
        if let Some(n) = concurrency {
            builder = builder.concurrency(n);
        }
        builder.build()
    }

    /// The container's name.
    #[must_use]
    pub fn container(&self) -> &str {
        &self.inner.container_name
    }

    /// The key prefix under which the store's keys live: empty, or ending with `/`.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The account the store works on.
    #[must_use]
    pub fn account(&self) -> &StorageAccount {
        &self.inner.account
    }

    /// The official client of the container, authenticated as the store is.
    #[must_use]
    pub fn container_client(&self) -> &BlobContainerClient {
        &self.inner.container
    }

    /// The blob name of `key`: the store's prefix plus `key`.
    fn full_key(&self, key: &BlobKey) -> String {
        format!("{}{}", self.inner.prefix, key.as_str())
    }

    /// The blob client of `key`, after checking that requests can authenticate.
    fn blob(&self, key: &BlobKey) -> Result<BlobClient> {
        self.check_credential()?;
        Ok(self.inner.container.blob_client(&self.full_key(key)))
    }

    /// Fails when the account has neither key nor SAS: Entra ID is not implemented.
    fn check_credential(&self) -> Result<()> {
        match self.inner.account.credential {
            Credential::Entra => Err(config(format!(
                "account {:?} has no account key or SAS, and Microsoft Entra ID sign-in is not supported yet: set \
                 {CONNECTION_STRING_VAR} to the account's connection string (with AccountKey= or SharedAccessSignature=)",
                self.inner.account.name
            ))),
            Credential::AccountKey(_) | Credential::Sas(_) => Ok(()),
        }
    }

    async fn copy_inner(&self, from: &BlobKey, to: &BlobKey, opts: CopyOptions) -> Result<PutResult> {
        let source = self.blob(from)?;
        let target = self.blob(to)?;
        let mut options = BlobClientStartCopyFromUrlOptions::default();
        if opts.mode == CopyMode::Create {
            options.if_none_match = Some(azure_core::http::Etag::from("*"));
        }
        // The source URL carries the SAS when the store authenticates with one; with a key, the
        // service authorizes a source in the same account by the request's own signature.
        let response = target.start_copy_from_url(source.url().to_string(), Some(options)).await.map_err(|e| {
            let e = map_azure_error(e);
            match e.kind() {
                ErrorKind::PreconditionFailed | ErrorKind::AlreadyExists if opts.mode == CopyMode::Create => {
                    Error::new(ErrorKind::AlreadyExists, format!("{to} already exists (create-only copy)"))
                        .with_source(e)
                }
                ErrorKind::NotFound => {
                    Error::new(ErrorKind::NotFound, format!("copy source {from} not found")).with_source(e)
                }
                _ => e,
            }
        })?;
        let mut status = response.copy_status().map_err(map_azure_error)?;
        let mut etag = response.etag().map_err(map_azure_error)?;
        // Copies within an account are usually done when the call returns; large or
        // cross-account ones continue in the background: wait for them.
        while status == Some(CopyStatus::Pending) {
            tokio::time::sleep(COPY_POLL).await;
            let props = target.get_properties(None).await.map_err(map_azure_error)?;
            status = props.copy_status().map_err(map_azure_error)?;
            etag = props.etag().map_err(map_azure_error)?;
        }
        match status {
            None | Some(CopyStatus::Success) => {}
            Some(other) => {
                return Err(Error::new(
                    ErrorKind::Other,
                    format!("the server-side copy of {from} to {to} ended as {other:?} (copy it again)"),
                ));
            }
        }
        let etag = etag.ok_or_else(|| Error::new(ErrorKind::Other, "Azure answered a copy without the new etag"))?;
        Ok(PutResult::new(read::etag(&etag)))
    }
}

/// The account for `az://<name>/...` ([`StorageAccount::for_url`]).
fn account_for(name: &str, connection_string: Option<&str>) -> Result<StorageAccount> {
    StorageAccount::for_url("az", name, connection_string).map_err(|e| e.with_provider(PROVIDER))
}

#[async_trait]
impl BlobStore for AzureBlobStore {
    fn capabilities(&self) -> BlobCapabilities {
        BlobCapabilities {
            provider: PROVIDER,
            conditional_put: true,
            conditional_get: true,
            conditional_copy: true,
            // A service SAS is signed with the account key; with only a SAS (or Entra ID) there
            // is nothing to sign with.
            presign: matches!(self.inner.account.credential, Credential::AccountKey(_)),
            max_presign_expiry: None,
            metadata: true,
            file_and_prefix_coexist: true,
            max_put_size: Some(MAX_PUT_SIZE),
            max_object_size: Some(MAX_BLOCKS * self.inner.part_size as u64),
            max_list_page: MAX_LIST_PAGE,
        }
    }

    async fn head(&self, key: &BlobKey) -> Result<ObjectMeta> {
        blob_op(PROVIDER, "head", Some(key), None, self.head_inner(key)).await
    }

    async fn get_opts(&self, key: &BlobKey, opts: GetOptions) -> Result<GetResult> {
        blob_get(PROVIDER, key, self.get_inner(key, opts)).await
    }

    async fn put_opts(&self, key: &BlobKey, data: Bytes, opts: PutOptions) -> Result<PutResult> {
        let len = data.len() as u64;
        blob_op(PROVIDER, "put", Some(key), Some(len), self.put_inner(key, data, opts)).await
    }

    async fn put_writer(&self, key: &BlobKey, opts: PutOptions) -> Result<Box<dyn BlobWriter>> {
        blob_writer(PROVIDER, key, self.writer_inner(key, opts)).await
    }

    fn list_opts(&self, opts: ListOptions) -> BoxStream<'static, Result<ListEntry>> {
        let prefix = opts.prefix.clone();
        blob_list(PROVIDER, prefix.as_deref(), self.list_inner(opts))
    }

    async fn copy_opts(&self, from: &BlobKey, to: &BlobKey, opts: CopyOptions) -> Result<PutResult> {
        blob_op(PROVIDER, "copy", Some(to), None, self.copy_inner(from, to, opts)).await
    }

    async fn delete(&self, key: &BlobKey) -> Result<()> {
        blob_op(PROVIDER, "delete", Some(key), None, async {
            match self.blob(key)?.delete(None).await.map_err(map_azure_error) {
                Ok(_) => Ok(()),
                Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
                Err(e) => Err(e),
            }
        })
        .await
    }

    async fn presign(&self, method: PresignMethod, key: &BlobKey, expires_in: Duration) -> Result<PresignedUrl> {
        blob_op(PROVIDER, "presign", Some(key), None, self.presign_inner(method, key, expires_in)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_account_must_match_the_connection_string() {
        let e = account_for("other", Some("UseDevelopmentStorage=true")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.message().contains("\"other\"") && e.message().contains("\"devstoreaccount1\""), "{e}");
        let account = account_for("devstoreaccount1", Some("UseDevelopmentStorage=true")).unwrap();
        assert!(matches!(account.credential, Credential::AccountKey(_)));
    }

    #[tokio::test]
    async fn without_a_connection_string_entra_is_refused_at_first_use() {
        let account = account_for("myaccount", None).unwrap();
        assert_eq!(account.blob_endpoint.as_str(), "https://myaccount.blob.core.windows.net/");
        let store = AzureBlobStore::builder(account, "photos").build().unwrap();
        assert!(!store.capabilities().presign);
        let e = store.head(&BlobKey::new("a").unwrap()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.message().contains(CONNECTION_STRING_VAR) && e.message().contains("Entra"), "{e}");
    }

    #[test]
    fn urls_and_options() {
        let url = |s: &str| Url::parse(s).unwrap();
        let account = || StorageAccount::development();
        let e = AzureBlobStore::from_url(&url("s3://a/b")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(
            AzureBlobStore::from_url(&url("az://devstoreaccount1/c?colour=red"))
                .unwrap_err()
                .message()
                .contains("colour")
        );
        assert!(AzureBlobStore::from_url(&url("az://devstoreaccount1")).unwrap_err().message().contains("container"));
        assert!(AzureBlobStore::from_url(&url("az://devstoreaccount1/c?part_size=x")).is_err());
        assert_eq!(AzureBlobStore::builder(account(), "Bad_Name").build().unwrap_err().kind(), ErrorKind::Config);
        assert_eq!(
            AzureBlobStore::builder(account(), "ok-name").part_size(10).build().unwrap_err().kind(),
            ErrorKind::Config
        );
        assert_eq!(
            AzureBlobStore::builder(account(), "ok-name").concurrency(0).build().unwrap_err().kind(),
            ErrorKind::Config
        );
        let store = AzureBlobStore::builder(account(), "ok-name").prefix("/a/b").build().unwrap();
        assert_eq!(store.prefix(), "a/b/");
    }
}
