//! Loading the AWS SDK configuration: the standard chain, plus the overrides a URL may carry.
//! Builds with no SDK client (the `lambda` or `sam` features alone) only pass [`AwsOptions`] on.
#![cfg_attr(
    not(any(feature = "s3", feature = "sqs", feature = "invoke")),
    allow(dead_code, reason = "no SDK client in this build loads the configuration")
)]

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_smithy_http_client::tls;
use aws_smithy_types::timeout::TimeoutConfig;
#[cfg(any(feature = "s3", feature = "sqs"))]
use cloudport_core::config::UrlOptions;
use cloudport_core::{Error, Result};

/// How long connecting to an AWS endpoint may take before the attempt fails (and is retried).
/// Unreachable endpoints then fail within seconds instead of the OS's minutes.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where and as whom to reach AWS: overrides on top of the standard AWS configuration.
///
/// Everything left unset comes from the environment and the shared config files, as in the
/// AWS CLI. A complete [`SdkConfig`] the application already loaded can be given instead with
/// [`sdk_config`](Self::sdk_config).
///
/// ```
/// let opts = cloudport_aws::AwsOptions::new().region("eu-west-1").endpoint("http://127.0.0.1:5000");
/// assert!(opts.has_endpoint());
/// ```
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    region: Option<String>,
    endpoint: Option<String>,
    profile: Option<String>,
    credentials: Option<Credentials>,
    sdk_config: Option<SdkConfig>,
}

impl AwsOptions {
    /// The standard configuration, no overrides.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses `region` instead of `AWS_REGION` or the profile's.
    #[must_use]
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Sends requests to `endpoint` (an S3/SQS-compatible service or an emulator) instead of AWS.
    #[must_use]
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Reads the named profile of the shared config files instead of `AWS_PROFILE`.
    #[must_use]
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = Some(profile.into());
        self
    }

    /// Signs with this access key instead of the credential chain's (for S3-compatible services
    /// and emulators; on AWS prefer roles and profiles). The secret never appears in `Debug`
    /// output.
    #[must_use]
    pub fn credentials(mut self, access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        self.credentials = Some(Credentials::new(access_key_id, secret_access_key, None, None, "cloudport-static"));
        self
    }

    /// Uses a configuration the application loaded itself, as is (the other overrides are
    /// ignored).
    #[must_use]
    pub fn sdk_config(mut self, config: SdkConfig) -> Self {
        self.sdk_config = Some(config);
        self
    }

    /// Whether an endpoint override is set here or in the environment (S3 then addresses
    /// buckets by path, as emulators and most S3-compatible services expect).
    #[must_use]
    pub fn has_endpoint(&self) -> bool {
        match &self.sdk_config {
            Some(config) => config.endpoint_url().is_some(),
            None => self.endpoint.is_some() || std::env::var_os("AWS_ENDPOINT_URL").is_some(),
        }
    }

    /// Takes `region`, `endpoint` and `profile` from a URL's options.
    #[cfg(any(feature = "s3", feature = "sqs"))]
    pub(crate) fn from_url_options(opts: &mut UrlOptions) -> Self {
        Self {
            region: opts.take("region"),
            endpoint: opts.take("endpoint"),
            profile: opts.take("profile"),
            ..Self::default()
        }
    }

    /// The SDK configuration: the caller's, or the standard chain with these overrides.
    ///
    /// # Errors
    /// `Config` when no region is configured anywhere.
    pub(crate) async fn load(&self) -> Result<SdkConfig> {
        if let Some(config) = &self.sdk_config {
            return Ok(config.clone());
        }
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(https_client())
            .timeout_config(TimeoutConfig::builder().connect_timeout(CONNECT_TIMEOUT).build());
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(endpoint) = &self.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(credentials) = &self.credentials {
            loader = loader.credentials_provider(credentials.clone());
        }
        let config = loader.load().await;
        if config.region().is_none() {
            return Err(Error::config(
                "no AWS region is configured: set AWS_REGION (for example AWS_REGION=us-east-1), add region= to the URL, or use a profile that sets one",
            ));
        }
        Ok(config)
    }
}

/// One HTTPS client per loaded configuration, on rustls with the ring provider.
///
/// Not shared process-wide: the connection pool belongs to the tokio runtime that opened the
/// connections, and a store may outlive one runtime and be used from another (tests do).
fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
        .build_https()
}

/// Seconds for an SDK field that takes whole seconds: rounded up, so a lease or delay is never
/// shorter than asked.
#[cfg(feature = "sqs")]
pub(crate) fn whole_secs(d: Duration) -> i32 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i32::try_from(secs).unwrap_or(i32::MAX)
}
