//! cloudport's AWS provider: [`S3BlobStore`], [`SqsQueue`], and functions on Lambda
//! ([`lambda`]), built on the official AWS SDK.
//!
//! Each service is a cargo feature, all on by default, so that a Lambda function links only the
//! SDK clients it uses:
//!
//! | feature | gives | links |
//! |---|---|---|
//! | `s3` | [`S3BlobStore`] | aws-sdk-s3 |
//! | `sqs` | [`SqsQueue`]; retry delays and dead-lettering for queue functions on Lambda | aws-sdk-sqs |
//! | `lambda` | [`lambda::LambdaHost`], every trigger but HTTP | lambda_runtime, aws_lambda_events |
//! | `lambda-http` | HTTP functions on Lambda (API Gateway, Function URLs, ALB) | lambda_http |
//! | `invoke` | [`lambda::LambdaInvoker`] | aws-sdk-lambda |
//! | `sam` | [`sam::template`] | nothing more |
//!
//! Both read the standard AWS configuration, exactly as the AWS CLI and every AWS SDK do:
//! region from `AWS_REGION` or the profile, credentials from the default chain (environment,
//! `AWS_PROFILE` and the shared config files, SSO, web identity, ECS and EC2 roles), and an
//! endpoint override from `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL_SQS`).
//! The URL can override the region, the endpoint and the profile:
//!
//! | URL | opens |
//! |---|---|
//! | `s3://bucket` | the bucket `bucket`, keys as given |
//! | `s3://bucket/some/prefix` | keys under `some/prefix/` (the prefix is invisible to callers) |
//! | `sqs://jobs` | the SQS queue named `jobs` in the configured account and region |
//! | `sqs://jobs?create=true&dead_letter=jobs-dlq&max_deliveries=5` | the same, created (with its dead-letter queue and redrive policy) when missing |
//!
//! Common options: `region=`, `endpoint=` (an S3/SQS-compatible endpoint such as
//! `http://127.0.0.1:5000`; S3 then uses path-style addressing), `profile=`. S3 options:
//! `part_size=` (bytes per multipart part, default 8 MiB), `concurrency=` (parts uploaded at
//! once, default 4), `path_style=`. SQS options: see [`SqsQueue::from_url`].
//!
//! The SDK configuration is loaded on first use, so opening a store or queue is cheap and
//! synchronous; configuration errors (no region, say) surface on the first operation, as
//! `ErrorKind::Config` with what to set.
//!
//! ```no_run
//! # async fn demo() -> cloudport_core::Result<()> {
//! use cloudport_core::{BlobKey, BlobStoreExt};
//!
//! let store = cloudport_aws::S3BlobStore::from_url(&"s3://my-bucket/app".parse().unwrap())?;
//! store.put(&BlobKey::new("hello.txt")?, "hello").await?;
//! # Ok(()) }
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

mod config;
#[cfg(any(feature = "s3", feature = "sqs", feature = "invoke"))]
mod error;
pub mod lambda;
#[cfg(feature = "s3")]
#[cfg_attr(docsrs, doc(cfg(feature = "s3")))]
pub mod s3;
#[cfg(feature = "sam")]
#[cfg_attr(docsrs, doc(cfg(feature = "sam")))]
pub mod sam;
#[cfg(feature = "sqs")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqs")))]
pub mod sqs;
#[cfg(any(feature = "sqs", feature = "lambda"))]
mod sqs_body;

pub use config::AwsOptions;
#[cfg(feature = "s3")]
pub use s3::{S3BlobStore, S3Builder};
#[cfg(feature = "sqs")]
pub use sqs::{SqsBuilder, SqsQueue};
