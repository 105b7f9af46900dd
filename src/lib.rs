//! Write serverless code once; move it between clouds for the price of a cargo feature and an
//! environment variable.
//!
//! cloudport gives handlers one blob-store trait and one queue trait, with the same semantics,
//! errors, limits reporting and tracing on every provider. The provider is chosen at run time
//! from a URL, so the code that uses a store never names a vendor:
//!
//! ```
//! use cloudport::{BlobKey, BlobStoreExt, Message, QueueExt};
//! use std::time::Duration;
//!
//! # tokio_test_block_on(async {
//! // In production these URLs come from CLOUDPORT_BLOB_URL / CLOUDPORT_QUEUE_URL
//! // (`cloudport::blob::from_env()`); any provider's URL works the same way.
//! let store = cloudport::blob::open("memory://docs-example")?;
//! let queue = cloudport::queue::open("memory://docs-example-jobs")?;
//!
//! let key = BlobKey::new("uploads/hello.txt")?;
//! store.put(&key, "hello, world").await?;
//! queue.send(Message::new(key.as_str().to_owned()).with_attribute("kind", "thumbnail")).await?;
//!
//! let job = queue.receive_batch(1, Duration::from_secs(1)).await?.remove(0);
//! let wanted = BlobKey::new(std::str::from_utf8(&job.body).unwrap())?;
//! assert_eq!(store.get_bytes(&wanted).await?, "hello, world");
//! queue.ack(&job.receipt).await?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
//! # }
//! ```
//!
//! # Functions
//!
//! Handlers are ordinary `async fn`s annotated with [`#[cloudport::function]`](macro@function);
//! [`run`] serves every registered function on the host the environment names (locally, all of
//! them in one process). The handler model, with its inputs, outcomes and [`Context`](function::Context),
//! is in [`function`](mod@function); the README has a complete app.
//!
//! ```
//! use cloudport::function::{Context, HttpRequest, HttpResponse};
//!
//! #[cloudport::function(http, concurrency = 16)]
//! async fn hello(req: HttpRequest, ctx: Context) -> Result<HttpResponse, cloudport::Error> {
//!     let who = String::from_utf8_lossy(req.body()).into_owned();
//!     Ok(HttpResponse::new(format!("hello {who}, from {}", ctx.function_name()).into()))
//! }
//!
//! assert_eq!(hello::function().name(), "hello");
//! ```
//!
//! # Providers and URLs
//!
//! | feature | blob store URL | queue URL |
//! |---|---|---|
//! | `local` (default) | `file:///abs/path[?fsync=false]`, `memory://name` | `memory://name`, `sqlite:///abs/path.db[?queue=name]` |
//! | `aws` (or `aws-s3`, `aws-sqs`) | `s3://bucket[/prefix]` | `sqs://queue-name[?create=true&dead_letter=NAME&max_deliveries=N]` |
//! | `azure` | `az://account/container[/prefix]` | `azqueue://account/queue[?create=true]` |
//! | `gcp` (planned) | `gs://bucket/prefix` | `pubsub://project/topic?subscription=name` |
//!
//! On AWS, `aws` enables every part; a Lambda function can enable only the parts it uses, for a
//! smaller binary: `aws-s3`, `aws-sqs`, `aws-lambda` (running functions on Lambda; HTTP triggers
//! also need `aws-lambda-http`, queue triggers `aws-sqs`), `aws-invoke` (`Context::invoke` on
//! Lambda), `aws-sam` (`CLOUDPORT_DEPLOY=sam`). A part that is off fails with a `Config` error
//! naming its feature.
//!
//! Queue URLs also take `dead_letter=<queue>&max_deliveries=<n>`. An unknown scheme, a scheme
//! whose feature is off, or an unknown option is an [`ErrorKind::Config`] error that says what
//! to change.
//!
//! # Semantics worth knowing
//! - Queues deliver **at least once**: a message whose lease expires, that is nacked, or whose
//!   consumer dies is delivered again, with a higher [`Delivery::delivery_count`].
//! - Writes are all-or-nothing: an aborted or crashed upload leaves no object behind.
//! - Every operation runs in a `tracing` span (target `cloudport`) with `provider`, `operation`,
//!   `key`/`queue`, `bytes` and `outcome` fields.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use cloudport_core::{
    Attributes, BlobCapabilities, BlobKey, BlobStore, BlobStoreExt, BlobWriter, BoxError, ByteRange, ByteStream,
    CopyMode, CopyOptions, DeadLetterPolicy, Delivery, ETag, Error, ErrorKind, GetOptions, GetResult, ListEntry,
    ListOptions, Message, MessageId, Metadata, ObjectMeta, ObjectSummary, PresignMethod, PresignedUrl, PutMode,
    PutOptions, PutResult, Queue, QueueCapabilities, QueueExt, Receipt, ReceiveOptions, Result, telemetry, time,
};

/// The embedded provider: filesystem and in-memory blob stores, in-memory and SQLite queues.
#[cfg(feature = "local")]
#[cfg_attr(docsrs, doc(cfg(feature = "local")))]
pub use cloudport_local as local;

/// Amazon Web Services: S3, SQS and Lambda (any `aws-*` feature; which parts, the features say).
#[cfg(any(
    feature = "aws-s3",
    feature = "aws-sqs",
    feature = "aws-lambda",
    feature = "aws-invoke",
    feature = "aws-sam"
))]
#[cfg_attr(docsrs, doc(cfg(feature = "aws")))]
pub use cloudport_aws as aws;

/// Microsoft Azure: Blob Storage and Queue Storage.
#[cfg(feature = "azure")]
#[cfg_attr(docsrs, doc(cfg(feature = "azure")))]
pub use cloudport_azure as azure;

pub mod blob;
pub mod deploy;
pub mod function;
pub mod queue;
mod run;
mod scheme;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use cloudport_macros::function;
pub use run::run;

/// The README's code examples, compiled as doc tests so they cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
