//! Presigned URLs, signed by the SDK's SigV4 presigner.

use std::time::Duration;

use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use cloudport_core::{BlobKey, Error, ErrorKind, PresignMethod, PresignedUrl, Result};

use super::{MAX_PRESIGN_EXPIRY, S3BlobStore};
use crate::error::map_sdk_error;

impl S3BlobStore {
    /// A SigV4 query-signed URL for one GET or PUT of `key`.
    ///
    /// Signed with the credentials of the moment: with temporary credentials (a Lambda role, SSO)
    /// the URL stops working when they expire, even before `expires_in`.
    pub(super) async fn presign_inner(
        &self,
        method: PresignMethod,
        key: &BlobKey,
        expires_in: Duration,
    ) -> Result<PresignedUrl> {
        if expires_in > MAX_PRESIGN_EXPIRY {
            return Err(Error::invalid_input(format!(
                "presigned URLs on S3 live at most {} s (7 days); {} s was asked",
                MAX_PRESIGN_EXPIRY.as_secs(),
                expires_in.as_secs()
            )));
        }
        let config = PresigningConfig::expires_in(expires_in)
            .map_err(|e| Error::invalid_input(format!("invalid presign expiry: {e}")).with_source(e))?;
        let client = self.client().await?;
        let (bucket, full_key) = (&self.inner.bucket, self.full_key(key));
        let request = match method {
            PresignMethod::Get => {
                client.get_object().bucket(bucket).key(full_key).presigned(config).await.map_err(map_sdk_error)?
            }
            PresignMethod::Put => {
                client.put_object().bucket(bucket).key(full_key).presigned(config).await.map_err(map_sdk_error)?
            }
            other => return Err(Error::unsupported(super::PROVIDER, format!("presigning {other:?} requests"))),
        };
        to_url(method, &request, expires_in)
    }
}

fn to_url(method: PresignMethod, request: &PresignedRequest, expires_in: Duration) -> Result<PresignedUrl> {
    let url = url::Url::parse(request.uri())
        .map_err(|e| Error::new(ErrorKind::Other, "the SDK presigned an unparsable URL").with_source(e))?;
    let mut signed = PresignedUrl::new(method, url, expires_in);
    // Headers the request must carry for the signature to hold (usually none but `host`, which
    // every client sends anyway).
    signed.headers = request
        .headers()
        .filter(|(name, _)| !name.eq_ignore_ascii_case("host"))
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    Ok(signed)
}
