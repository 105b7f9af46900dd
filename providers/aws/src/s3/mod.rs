//! [`S3BlobStore`]: a [`BlobStore`] on Amazon S3 (or any S3-compatible endpoint).

mod list;
mod presign;
mod read;
mod write;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use bytes::Bytes;
use cloudport_core::config::UrlOptions;
use cloudport_core::telemetry::{blob_get, blob_list, blob_op, blob_writer};
use cloudport_core::{
    BlobCapabilities, BlobKey, BlobStore, BlobWriter, CopyMode, CopyOptions, Error, ErrorKind, GetOptions, GetResult,
    ListEntry, ListOptions, ObjectMeta, PresignMethod, PresignedUrl, PutOptions, PutResult, Result,
};
use futures::stream::BoxStream;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use tokio::sync::OnceCell;
use url::Url;

use crate::config::AwsOptions;
use crate::error::map_sdk_error;

const PROVIDER: &str = "aws-s3";

/// Largest object one PutObject may write (S3's limit); larger objects need a writer.
const MAX_PUT_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// Largest S3 object: 5 TiB.
const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024 * 1024;
/// S3's smallest part (every part but the last).
const MIN_PART_SIZE: usize = 5 * 1024 * 1024;
/// S3's largest part.
const MAX_PART_SIZE: usize = 5 * 1024 * 1024 * 1024;
/// Default part size: 8 MiB parts, 4 in flight, keep an upload's memory near 40 MiB.
const DEFAULT_PART_SIZE: usize = 8 * 1024 * 1024;
const DEFAULT_CONCURRENCY: usize = 4;
/// Presigned URLs live at most 7 days (SigV4's limit).
const MAX_PRESIGN_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);

/// A blob store on one S3 bucket, optionally under a key prefix.
///
/// Every operation maps to S3 natively: conditional reads (`If-Match`, `If-None-Match`),
/// create-only and compare-and-swap writes (`If-None-Match: *`, `If-Match: <etag>`, on
/// `PutObject`, `CompleteMultipartUpload` and `CopyObject`), ranged streaming reads, paginated
/// listings with `start-after` and `/` as delimiter, server-side copies and SigV4 presigned URLs.
/// Writers upload parts of [`part_size`](S3Builder::part_size) concurrently
/// ([`concurrency`](S3Builder::concurrency) at a time), so an upload holds about
/// `part_size × (concurrency + 1)` bytes whatever the object's size; an aborted or dropped
/// writer aborts its multipart upload. A process killed mid-upload leaves invisible parts that
/// S3 keeps (and bills) until the bucket's `AbortIncompleteMultipartUpload` lifecycle rule
/// removes them: set one (the generated SAM template does).
///
/// ```no_run
/// # async fn demo() -> cloudport_core::Result<()> {
/// use cloudport_aws::{AwsOptions, S3BlobStore};
/// use cloudport_core::{BlobKey, BlobStoreExt};
///
/// let store = S3BlobStore::builder("my-bucket").prefix("app/").aws(AwsOptions::new().region("eu-west-1")).build()?;
/// store.put(&BlobKey::new("hello.txt")?, "hello").await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct S3BlobStore {
    inner: Arc<Inner>,
}

struct Inner {
    bucket: String,
    /// Empty, or ends with `/`.
    prefix: String,
    aws: AwsOptions,
    path_style: Option<bool>,
    part_size: usize,
    concurrency: usize,
    client: OnceCell<Client>,
}

impl fmt::Debug for S3BlobStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3BlobStore")
            .field("bucket", &self.inner.bucket)
            .field("prefix", &self.inner.prefix)
            .field("part_size", &self.inner.part_size)
            .field("concurrency", &self.inner.concurrency)
            .finish_non_exhaustive()
    }
}

/// Builds an [`S3BlobStore`]; see [`S3BlobStore::builder`].
#[derive(Debug, Clone)]
pub struct S3Builder {
    bucket: String,
    prefix: String,
    aws: AwsOptions,
    path_style: Option<bool>,
    part_size: usize,
    concurrency: usize,
}

impl S3Builder {
    /// Keeps every key under `prefix` (a `/` is added when missing); callers never see it.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Region, endpoint, profile or a whole SDK configuration; see [`AwsOptions`].
    #[must_use]
    pub fn aws(mut self, aws: AwsOptions) -> Self {
        self.aws = aws;
        self
    }

    /// Addresses the bucket by path (`https://endpoint/bucket/key`) or not; by default, by path
    /// exactly when an endpoint override is set.
    #[must_use]
    pub fn path_style(mut self, on: bool) -> Self {
        self.path_style = Some(on);
        self
    }

    /// Bytes per multipart part (5 MiB to 5 GiB; default 8 MiB). Objects a writer finishes
    /// within one part go up in one `PutObject`.
    #[must_use]
    pub fn part_size(mut self, bytes: usize) -> Self {
        self.part_size = bytes;
        self
    }

    /// Parts uploaded at once by one writer (default 4).
    #[must_use]
    pub fn concurrency(mut self, parts: usize) -> Self {
        self.concurrency = parts;
        self
    }

    /// The store. The SDK configuration is loaded on first use.
    ///
    /// # Errors
    /// `Config` for an invalid bucket name or prefix, or a part size or concurrency out of range.
    pub fn build(self) -> Result<S3BlobStore> {
        validate_bucket(&self.bucket)?;
        let mut prefix = self.prefix.trim_start_matches('/').to_owned();
        if !prefix.is_empty() {
            if !prefix.ends_with('/') {
                prefix.push('/');
            }
            BlobKey::new(prefix.trim_end_matches('/')).map_err(|e| {
                Error::config(format!("S3 prefix {prefix:?} is not a valid key prefix: {}", e.message()))
            })?;
        }
        if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&self.part_size) {
            return Err(Error::config(format!(
                "S3 part size {} is outside S3's {MIN_PART_SIZE}..={MAX_PART_SIZE} bytes",
                self.part_size
            )));
        }
        if self.concurrency == 0 {
            return Err(Error::config("S3 upload concurrency must be at least 1"));
        }
        Ok(S3BlobStore {
            inner: Arc::new(Inner {
                bucket: self.bucket,
                prefix,
                aws: self.aws,
                path_style: self.path_style,
                part_size: self.part_size,
                concurrency: self.concurrency,
                client: OnceCell::new(),
            }),
        })
    }
}

fn validate_bucket(bucket: &str) -> Result<()> {
    let valid = (3..=63).contains(&bucket.len())
        && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    if valid {
        Ok(())
    } else {
        Err(Error::config(format!(
            "{bucket:?} is not a valid S3 bucket name (3-63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit)"
        )))
    }
}

impl S3BlobStore {
    /// A builder for a store on `bucket`.
    #[must_use]
    pub fn builder(bucket: impl Into<String>) -> S3Builder {
        S3Builder {
            bucket: bucket.into(),
            prefix: String::new(),
            aws: AwsOptions::default(),
            path_style: None,
            part_size: DEFAULT_PART_SIZE,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }

    /// Opens `s3://bucket[/prefix][?options]`; the options are listed in the [crate docs](crate).
    ///
    /// ```
    /// let url = "s3://my-bucket/app?region=eu-west-1&part_size=16777216".parse().unwrap();
    /// let store = cloudport_aws::S3BlobStore::from_url(&url)?;
    /// assert_eq!(store.bucket(), "my-bucket");
    /// # Ok::<(), cloudport_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// `Config` for another scheme, a missing or invalid bucket, or an unknown or invalid option.
    pub fn from_url(url: &Url) -> Result<Self> {
        if url.scheme() != "s3" {
            return Err(Error::config(format!("{url} is not an s3:// URL")));
        }
        let bucket = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| {
            Error::config(format!("the S3 URL {url} names no bucket (use s3://bucket or s3://bucket/prefix)"))
        })?;
        let prefix = percent_encoding::percent_decode_str(url.path())
            .decode_utf8()
            .map_err(|_| Error::config(format!("the prefix of {url} is not UTF-8")))?;
        let mut opts = UrlOptions::new(url);
        let mut builder =
            Self::builder(bucket).prefix(prefix.trim_start_matches('/')).aws(AwsOptions::from_url_options(&mut opts));
        if let Some(on) = opts.take_parsed::<bool>("path_style")? {
            builder = builder.path_style(on);
        }
        if let Some(size) = opts.take_parsed::<usize>("part_size")? {
            builder = builder.part_size(size);
        }
        if let Some(n) = opts.take_parsed::<usize>("concurrency")? {
            builder = builder.concurrency(n);
        }
        opts.finish()?;
        builder.build()
    }

    /// The bucket's name.
    #[must_use]
    pub fn bucket(&self) -> &str {
        &self.inner.bucket
    }

    /// The key prefix under which the store's keys live: empty, or ending with `/`.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The SDK client, built on first use from the configuration.
    ///
    /// # Errors
    /// `Config` when the AWS configuration is incomplete (no region).
    pub async fn client(&self) -> Result<&Client> {
        self.inner
            .client
            .get_or_try_init(|| async {
                let sdk = self.inner.aws.load().await?;
                let path_style = self.inner.path_style.unwrap_or_else(|| {
                    self.inner.aws.has_endpoint() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some()
                });
                let config = aws_sdk_s3::config::Builder::from(&sdk).force_path_style(path_style).build();
                Ok(Client::from_conf(config))
            })
            .await
    }

    /// The key as stored in the bucket: the store's prefix plus `key`.
    fn full_key(&self, key: &BlobKey) -> String {
        format!("{}{}", self.inner.prefix, key.as_str())
    }

    /// The `CopySource` of `key`: bucket and full key, URL-encoded as S3 requires.
    fn copy_source(&self, key: &BlobKey) -> String {
        /// Everything but unreserved characters and `/` is encoded.
        const COPY_SOURCE: &AsciiSet =
            &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b'/');
        format!("{}/{}", self.inner.bucket, utf8_percent_encode(&self.full_key(key), COPY_SOURCE))
    }

    async fn copy_inner(&self, from: &BlobKey, to: &BlobKey, opts: CopyOptions) -> Result<PutResult> {
        let client = self.client().await?;
        let mut request =
            client.copy_object().bucket(&self.inner.bucket).key(self.full_key(to)).copy_source(self.copy_source(from));
        if opts.mode == CopyMode::Create {
            request = request.if_none_match("*");
        }
        let output = request.send().await.map_err(|e| {
            let e = map_sdk_error(e);
            match e.kind() {
                ErrorKind::PreconditionFailed if opts.mode == CopyMode::Create => {
                    Error::new(ErrorKind::AlreadyExists, format!("{to} already exists (create-only copy)"))
                }
                _ => e,
            }
        })?;
        let etag = output
            .copy_object_result()
            .and_then(|r| r.e_tag())
            .map(read::etag)
            .ok_or_else(|| Error::new(ErrorKind::Other, "S3 answered a copy without the new object's etag"))?;
        Ok(PutResult::new(etag))
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    fn capabilities(&self) -> BlobCapabilities {
        BlobCapabilities {
            provider: PROVIDER,
            conditional_put: true,
            conditional_get: true,
            conditional_copy: true,
            presign: true,
            max_presign_expiry: Some(MAX_PRESIGN_EXPIRY),
            metadata: true,
            file_and_prefix_coexist: true,
            max_put_size: Some(MAX_PUT_SIZE),
            max_object_size: Some(MAX_OBJECT_SIZE),
            max_list_page: 1000,
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
            let client = self.client().await?;
            client
                .delete_object()
                .bucket(&self.inner.bucket)
                .key(self.full_key(key))
                .send()
                .await
                .map_err(map_sdk_error)?;
            Ok(())
        })
        .await
    }

    async fn presign(&self, method: PresignMethod, key: &BlobKey, expires_in: Duration) -> Result<PresignedUrl> {
        blob_op(PROVIDER, "presign", Some(key), None, self.presign_inner(method, key, expires_in)).await
    }
}
