//! Presigned URLs: a service SAS for one blob (`sr=b`), signed with the account key.

use std::time::{Duration, SystemTime};

use cloudport_core::{BlobKey, Error, PresignMethod, PresignedUrl, Result};

use super::{AzureBlobStore, PROVIDER};
use crate::connection::Credential;
use crate::sas::blob_sas;

impl AzureBlobStore {
    /// A blob URL with a service SAS allowing one kind of request on `key`.
    ///
    /// A GET URL may read (`sp=r`); a PUT URL may create and overwrite (`sp=cw`) and its request
    /// must carry `x-ms-blob-type: BlockBlob` (listed in [`PresignedUrl::headers`]). Only a store
    /// holding the account key can sign: with a SAS or Entra ID this is `Unsupported`.
    pub(super) async fn presign_inner(
        &self,
        method: PresignMethod,
        key: &BlobKey,
        expires_in: Duration,
    ) -> Result<PresignedUrl> {
        self.check_credential()?;
        let Credential::AccountKey(account_key) = &self.inner.account.credential else {
            return Err(Error::unsupported(
                PROVIDER,
                "presigning without the account key (a SAS credential cannot sign another SAS; put AccountKey= in AZURE_STORAGE_CONNECTION_STRING)",
            ));
        };
        let (permissions, headers) = match method {
            PresignMethod::Get => ("r", vec![]),
            PresignMethod::Put => ("cw", vec![("x-ms-blob-type".to_owned(), "BlockBlob".to_owned())]),
            other => return Err(Error::unsupported(PROVIDER, format!("presigning {other:?} requests"))),
        };
        let name = self.full_key(key);
        let resource = format!("/blob/{}/{}/{name}", self.inner.account.name, self.inner.container_name);
        let sas = blob_sas(&resource, account_key, permissions, SystemTime::now() + expires_in)?;
        // The container client's URL is the blob endpoint plus the container, with no query
        // when the store signs with a key.
        let url = sas.apply_to(self.inner.container.blob_client(&name).url());
        let mut signed = PresignedUrl::new(method, url, expires_in);
        signed.headers = headers;
        Ok(signed)
    }
}
