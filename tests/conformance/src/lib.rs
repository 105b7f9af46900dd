//! The behaviour tests every cloudport provider runs: one suite, all providers.
//!
//! Each behaviour is a public async function taking a fixture ([`blob::BlobFixture`] or
//! [`queue::QueueFixture`]) and returning an [`Outcome`]; it panics when the provider gets the
//! behaviour wrong. A provider's runner (for the local provider,
//! `providers/local/tests/conformance.rs`) calls [`blob_suite!`] and [`queue_suite!`] with a
//! factory that builds a fresh fixture, and every behaviour becomes a separate, named test:
//!
//! ```ignore
//! mod memory {
//!     cloudport_conformance::blob_suite!("local-memory", async {
//!         cloudport_conformance::blob::BlobFixture::new(std::sync::Arc::new(MemoryBlobStore::new()))
//!     });
//! }
//!
//! mod memory_queue {
//!     use cloudport_conformance::queue::{ManualTime, QueueFixture, QueueSpec};
//!     cloudport_conformance::queue_suite!("local-memory", |spec: QueueSpec| async move {
//!         let time = ManualTime::new();
//!         let queue = MemoryQueue::builder(&spec.name).clock(time.clock()).build().unwrap();
//!         QueueFixture::new(std::sync::Arc::new(queue), std::sync::Arc::new(time))
//!     });
//! }
//! ```
//!
//! Each macro call expands into `#[test]` functions in the current module (put each call in a
//! module of its own). Every test runs on its own multi-threaded tokio runtime with 2 worker
//! threads, as `#[tokio::test(flavor = "multi_thread", worker_threads = 2)]` would, so runners
//! need no tokio features of their own.
//!
//! # Outcomes
//!
//! - [`Outcome::Passed`]: the behaviour holds.
//! - [`Outcome::Unsupported`]: the provider's capabilities say it does not offer the behaviour,
//!   and the test checked that the operation fails with `ErrorKind::Unsupported` (a gap is never
//!   a silent no-op).
//! - [`Outcome::NotEnforced`]: the provider's capabilities say its service does not enforce a
//!   guarantee (for example `QueueCapabilities::delivery_count` is false); the test checked
//!   everything else about the behaviour.
//! - A failure is a panic; it is recorded as `"failed"` and the test fails.
//!
//! Optional cases are chosen by `capabilities()`, never by provider name.
//!
//! # The report
//!
//! Every test appends one JSON line to `<dir>/<provider>.jsonl`, where `<provider>` is the label
//! given to the macro and `<dir>` is `$CLOUDPORT_CONFORMANCE_DIR` when set, otherwise
//! `$CARGO_TARGET_DIR/conformance` when that is set, otherwise `<workspace root>/target/conformance`
//! (the workspace root is the nearest ancestor of the runner's `CARGO_MANIFEST_DIR` whose
//! `Cargo.toml` has a `[workspace]` table; see [`report::report_dir`]):
//!
//! ```json
//! {"suite":"blob","provider":"local-fs","test":"create_only_race","outcome":"passed","note":null,"duration_ms":41,"finished_at_ms":1767225600000}
//! ```
//!
//! | field | meaning |
//! |---|---|
//! | `suite` | `"blob"` or `"queue"` |
//! | `provider` | the runner's label (`"local-fs"`, `"local-sqlite"`, ...) |
//! | `test` | the behaviour's function name, one of [`blob::BEHAVIOURS`] / [`queue::BEHAVIOURS`] |
//! | `outcome` | `"passed"`, `"unsupported"`, `"not_enforced"` or `"failed"` |
//! | `note` | `null` when passed; the reason when unsupported or not enforced; the panic message when failed |
//! | `duration_ms` | wall time of fixture, test and clean-up |
//! | `finished_at_ms` | when the line was written, in milliseconds since the Unix epoch |
//!
//! Files are only appended to, so a reader takes the line with the largest `finished_at_ms` for
//! each (`suite`, `provider`, `test`); delete the directory to start afresh.
//!
//! # Skipping cloud suites
//!
//! Runners for cloud providers gate on an emulator or account with the macros' `env = "VAR"`
//! form ([`skip::emulator`] underneath): it skips loudly, and fails when
//! `CLOUDPORT_REQUIRE_EMULATORS` is set (as in CI).

pub mod blob;
pub mod queue;
pub mod report;
pub mod skip;
pub mod trace;

mod util;

/// What a behaviour test found, when it did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Outcome {
    /// The behaviour holds.
    Passed,
    /// The provider does not offer the behaviour (its capabilities say so) and the operation
    /// failed with `ErrorKind::Unsupported`, as it must. The string says what is missing.
    Unsupported(String),
    /// The provider's capabilities say its service does not enforce part of the behaviour; the
    /// rest was checked. The string says what is not enforced.
    NotEnforced(String),
}

impl Outcome {
    /// The name written to the report: `"passed"`, `"unsupported"` or `"not_enforced"`.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::Unsupported(_) => "unsupported",
            Self::NotEnforced(_) => "not_enforced",
        }
    }

    /// The reason, for outcomes other than [`Outcome::Passed`].
    #[must_use]
    pub fn note(&self) -> Option<&str> {
        match self {
            Self::Passed => None,
            Self::Unsupported(reason) | Self::NotEnforced(reason) => Some(reason),
        }
    }
}

/// Expands into one `#[test]` per blob behaviour (see [`blob::BEHAVIOURS`]), each building a
/// fresh fixture with `$factory` and recording its outcome under `$provider`.
///
/// `$factory` is an expression of a future resolving to a [`blob::BlobFixture`], evaluated once
/// per test (an `async { .. }` block). Put each call in a module of its own.
///
/// ```ignore
/// mod fs {
///     cloudport_conformance::blob_suite!("local-fs", async {
///         let dir = tempfile::tempdir().unwrap();
///         let store = cloudport_local::FsBlobStore::builder(dir.path()).build().unwrap();
///         cloudport_conformance::blob::BlobFixture::new(std::sync::Arc::new(store)).with_guard(dir)
///     });
/// }
/// ```
///
/// Suites on an emulator or cloud account name the environment variable that configures it:
/// `$factory` is then a closure taking the variable's value, and each test is skipped (or, with
/// `CLOUDPORT_REQUIRE_EMULATORS` set, fails) when the variable is unset; see [`skip::emulator`].
///
/// ```ignore
/// mod s3 {
///     cloudport_conformance::blob_suite!("aws-s3", env = "CLOUDPORT_TEST_MOTO", |endpoint: String| async move {
///         cloudport_conformance::blob::BlobFixture::new(std::sync::Arc::new(store_on(&endpoint)))
///     });
/// }
/// ```
#[macro_export]
macro_rules! blob_suite {
    ($provider:expr, env = $var:expr, $factory:expr $(,)?) => {
        $crate::__blob_behaviours!(blob_env $provider, $var, $factory);
    };
    ($provider:expr, $factory:expr $(,)?) => {
        $crate::__blob_behaviours!(blob $provider, $factory);
    };
}

/// Expands into one `#[test]` per queue behaviour (see [`queue::BEHAVIOURS`]), each building a
/// fresh queue with `$factory` and recording its outcome under `$provider`.
///
/// `$factory` is a closure taking a [`queue::QueueSpec`] (a unique queue name and, for the
/// dead-letter behaviours, a [`DeadLetterPolicy`](cloudport_core::DeadLetterPolicy)) and
/// returning a future of a [`queue::QueueFixture`]. Put each call in a module of its own.
///
/// ```ignore
/// mod memory_queue {
///     use cloudport_conformance::queue::{ManualTime, QueueFixture, QueueSpec};
///     cloudport_conformance::queue_suite!("local-memory", |spec: QueueSpec| async move {
///         let time = ManualTime::new();
///         let mut builder = cloudport_local::MemoryQueue::builder(&spec.name).clock(time.clock());
///         // ... `.dead_letter(policy)` when `spec.dead_letter` is set, and the dead-letter queue
///         // handed to `QueueFixture::with_dead_letters`
///         QueueFixture::new(std::sync::Arc::new(builder.build().unwrap()), std::sync::Arc::new(time))
///     });
/// }
/// ```
///
/// As with [`blob_suite!`], `env = "VAR"` makes the suite depend on an emulator or account: the
/// factory then also takes the variable's value, `|value: String, spec: QueueSpec| async move { .. }`.
#[macro_export]
macro_rules! queue_suite {
    ($provider:expr, env = $var:expr, $factory:expr $(,)?) => {
        $crate::__queue_behaviours!(queue_env $provider, $var, $factory);
    };
    ($provider:expr, $factory:expr $(,)?) => {
        $crate::__queue_behaviours!(queue $provider, $factory);
    };
}

/// The one list of blob behaviours, handed to [`__expand!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __blob_behaviours {
    ($($args:tt)*) => {
        $crate::__expand! { [$($args)*]
            round_trip_empty,
            round_trip_small,
            round_trip_large_stream,
            head_fields,
            special_character_keys,
            invalid_input_rejected,
            get_ranges,
            get_missing_is_not_found,
            head_missing_is_not_found,
            conditional_get,
            put_create_existing,
            put_if_match,
            etag_changes_with_content,
            cas_counter,
            create_only_race,
            writer_checks_mode_at_finish,
            writer_abort_leaves_nothing,
            writer_drop_leaves_nothing,
            list_pagination,
            list_delimited,
            list_start_after,
            list_order_bytewise,
            list_empty_prefix,
            file_and_prefix,
            copy,
            copy_create_existing,
            copy_missing_source,
            delete_missing_key_succeeds,
            delete_removes_object,
            presign,
            invalid_metadata_rejected,
            tracing_spans,
        }
    };
}

/// The one list of queue behaviours, handed to [`__expand!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __queue_behaviours {
    ($($args:tt)*) => {
        $crate::__expand! { [$($args)*]
            send_receive_ack,
            receive_empty_waits,
            lease_expiry_redelivers,
            nack_redelivers_now,
            nack_with_delay,
            extend_lease,
            ack_stale_receipt,
            delayed_send,
            send_batch_results,
            send_batch_over_max,
            oversize_message,
            too_many_attributes,
            invalid_attribute_rejected,
            lease_out_of_range,
            receive_clamps_max_messages,
            dead_letter_after_max_deliveries,
            dead_letter_now,
            dead_letter_without_policy,
            concurrent_consumers,
            tracing_spans,
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __expand {
    ([names] $($name:ident),* $(,)?) => {
        &[$(stringify!($name)),*]
    };
    ([blob $provider:expr, $factory:expr] $($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            $crate::__private::run("blob", $provider, stringify!($name), env!("CARGO_MANIFEST_DIR"), async {
                let fixture: $crate::blob::BlobFixture = $factory.await;
                fixture.run($crate::blob::$name).await
            });
        }
    )*};
    ([blob_env $provider:expr, $var:expr, $factory:expr] $($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            let Some(value) = $crate::skip::emulator($var, concat!($provider, " conformance")) else { return };
            $crate::__private::run("blob", $provider, stringify!($name), env!("CARGO_MANIFEST_DIR"), async move {
                let fixture: $crate::blob::BlobFixture = ($factory)(value).await;
                fixture.run($crate::blob::$name).await
            });
        }
    )*};
    ([queue_env $provider:expr, $var:expr, $factory:expr] $($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            let Some(value) = $crate::skip::emulator($var, concat!($provider, " conformance")) else { return };
            $crate::__private::run("queue", $provider, stringify!($name), env!("CARGO_MANIFEST_DIR"), async move {
                let spec = $crate::queue::QueueSpec::for_behaviour(stringify!($name));
                let fixture: $crate::queue::QueueFixture = ($factory)(value, spec).await;
                $crate::queue::$name(&fixture).await
            });
        }
    )*};
    ([queue $provider:expr, $factory:expr] $($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            $crate::__private::run("queue", $provider, stringify!($name), env!("CARGO_MANIFEST_DIR"), async {
                let spec = $crate::queue::QueueSpec::for_behaviour(stringify!($name));
                let fixture: $crate::queue::QueueFixture = ($factory)(spec).await;
                $crate::queue::$name(&fixture).await
            });
        }
    )*};
}

#[doc(hidden)]
pub mod __private {
    //! Used by the macros; not a public API.
    pub use crate::report::run;
}
