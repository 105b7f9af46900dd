//! What `#[cloudport::function]` expands to calls into. Not a public API: names and signatures
//! change without notice.

use std::time::Duration;

pub use cloudport_core::function::registry::FUNCTIONS;
pub use linkme;

use cloudport_core::function::Schedule;

/// The schedule of a `schedule = "..."` attribute, which the macro already parsed with the same
/// parser at compile time.
#[must_use]
pub fn schedule(expression: &'static str) -> Schedule {
    Schedule::parse(expression)
        .unwrap_or_else(|e| panic!("{e} (the attribute accepted it at compile time: this is a cloudport bug)"))
}

/// A `timeout = "..."` attribute, converted to milliseconds by the macro.
#[must_use]
pub fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// Compile-time checks the macro places at the user's tokens, so a mistake is reported where it
/// was made, in words about cloudport rather than trait bounds.
pub mod check {
    use cloudport_core::Error;
    use cloudport_core::function::{
        BlobEvent, Context, HttpRequest, IntoBatchOutcome, IntoHttpResponse, QueueBatch, ScheduleTick,
    };
    use serde::Serialize;
    use serde::de::DeserializeOwned;

    /// Inputs of http functions.
    #[diagnostic::on_unimplemented(
        message = "an http function takes `HttpRequest`, not `{Self}`",
        label = "expected `cloudport::function::HttpRequest`"
    )]
    pub trait HttpInput {
        /// The handler, passed through unchanged; an error type when the check fails, which
        /// keeps rustc from reporting the same mistake again at the constructor.
        type Pass<H>;
        /// Passes `handler` through.
        fn pass<H>(handler: H) -> Self::Pass<H>;
    }
    impl HttpInput for HttpRequest {
        type Pass<H> = H;
        fn pass<H>(handler: H) -> H {
            handler
        }
    }

    /// Inputs of queue functions.
    #[diagnostic::on_unimplemented(
        message = "a queue function takes `QueueBatch<T>` with `T: Deserialize`, not `{Self}`",
        label = "expected `cloudport::function::QueueBatch<T>`"
    )]
    pub trait QueueInput {
        /// The handler, passed through unchanged; an error type when the check fails, which
        /// keeps rustc from reporting the same mistake again at the constructor.
        type Pass<H>;
        /// Passes `handler` through.
        fn pass<H>(handler: H) -> Self::Pass<H>;
    }
    impl<T: DeserializeOwned> QueueInput for QueueBatch<T> {
        type Pass<H> = H;
        fn pass<H>(handler: H) -> H {
            handler
        }
    }

    /// Inputs of blob functions.
    #[diagnostic::on_unimplemented(
        message = "a blob function takes `BlobEvent`, not `{Self}`",
        label = "expected `cloudport::function::BlobEvent`"
    )]
    pub trait BlobInput {
        /// The handler, passed through unchanged; an error type when the check fails, which
        /// keeps rustc from reporting the same mistake again at the constructor.
        type Pass<H>;
        /// Passes `handler` through.
        fn pass<H>(handler: H) -> Self::Pass<H>;
    }
    impl BlobInput for BlobEvent {
        type Pass<H> = H;
        fn pass<H>(handler: H) -> H {
            handler
        }
    }

    /// Inputs of schedule functions.
    #[diagnostic::on_unimplemented(
        message = "a schedule function takes `ScheduleTick`, not `{Self}`",
        label = "expected `cloudport::function::ScheduleTick`"
    )]
    pub trait ScheduleInput {
        /// The handler, passed through unchanged; an error type when the check fails, which
        /// keeps rustc from reporting the same mistake again at the constructor.
        type Pass<H>;
        /// Passes `handler` through.
        fn pass<H>(handler: H) -> Self::Pass<H>;
    }
    impl ScheduleInput for ScheduleTick {
        type Pass<H> = H;
        fn pass<H>(handler: H) -> H {
            handler
        }
    }

    /// Inputs of invoke-only functions.
    #[diagnostic::on_unimplemented(
        message = "an invoked function takes a JSON input, and `{Self}` does not implement `serde::Deserialize`",
        label = "expected a type implementing `Deserialize`"
    )]
    pub trait JsonInput {
        /// The handler, passed through unchanged; an error type when the check fails, which
        /// keeps rustc from reporting the same mistake again at the constructor.
        type Pass<H>;
        /// Passes `handler` through.
        fn pass<H>(handler: H) -> Self::Pass<H>;
    }
    impl<T: DeserializeOwned> JsonInput for T {
        type Pass<H> = H;
        fn pass<H>(handler: H) -> H {
            handler
        }
    }

    /// The optional second argument.
    #[diagnostic::on_unimplemented(
        message = "the second argument of a cloudport function is its `Context`, not `{Self}`",
        label = "expected `cloudport::function::Context`"
    )]
    pub trait ContextArg {
        /// The handler, passed through unchanged; an error type when the check fails, which
        /// keeps rustc from reporting the same mistake again at the constructor.
        type Pass<H>;
        /// Passes `handler` through.
        fn pass<H>(handler: H) -> Self::Pass<H>;
    }
    impl ContextArg for Context {
        type Pass<H> = H;
        fn pass<H>(handler: H) -> H {
            handler
        }
    }

    /// What handlers return: `Result<T, E>` with `E: Into<cloudport::Error>`.
    #[diagnostic::on_unimplemented(
        message = "a cloudport function returns `Result<T, E>` with `E: Into<cloudport::Error>`, not `{Self}`",
        label = "expected `Result<_, cloudport::Error>`"
    )]
    pub trait HandlerResult {
        /// The success type.
        type Ok;
    }
    #[diagnostic::do_not_recommend]
    impl<T, E: Into<Error>> HandlerResult for Result<T, E> {
        type Ok = T;
    }

    /// Success types of http functions.
    #[diagnostic::on_unimplemented(
        message = "an http function returns `Result<HttpResponse, _>`; `{Self}` is not an http response",
        label = "expected `HttpResponse`, an `http::Response<String | Vec<u8> | &'static str>` or a `StatusCode`"
    )]
    pub trait HttpOutput {}
    impl<T: IntoHttpResponse> HttpOutput for T {}

    /// Success types of queue functions.
    #[diagnostic::on_unimplemented(
        message = "a queue function returns `Result<BatchOutcome, _>` or `Result<(), _>`, not `Result<{Self}, _>`",
        label = "expected `BatchOutcome` or `()`"
    )]
    pub trait QueueOutput {}
    impl<T: IntoBatchOutcome> QueueOutput for T {}

    /// Success types of blob and schedule functions.
    #[diagnostic::on_unimplemented(
        message = "blob and schedule functions return `Result<(), _>`, not `Result<{Self}, _>`",
        label = "expected `()`"
    )]
    pub trait UnitOutput {}
    impl UnitOutput for () {}

    /// Success types of invoked functions.
    #[diagnostic::on_unimplemented(
        message = "an invoked function returns JSON, and `{Self}` does not implement `serde::Serialize`",
        label = "expected a type implementing `Serialize`"
    )]
    pub trait JsonOutput {}
    impl<T: Serialize> JsonOutput for T {}

    /// Checks an http input type, passing the handler through.
    pub fn http_input<T: HttpInput, H>(handler: H) -> T::Pass<H> {
        T::pass(handler)
    }
    /// Checks a queue input type, passing the handler through.
    pub fn queue_input<T: QueueInput, H>(handler: H) -> T::Pass<H> {
        T::pass(handler)
    }
    /// Checks a blob input type, passing the handler through.
    pub fn blob_input<T: BlobInput, H>(handler: H) -> T::Pass<H> {
        T::pass(handler)
    }
    /// Checks a schedule input type, passing the handler through.
    pub fn schedule_input<T: ScheduleInput, H>(handler: H) -> T::Pass<H> {
        T::pass(handler)
    }
    /// Checks a JSON input type, passing the handler through.
    pub fn json_input<T: JsonInput, H>(handler: H) -> T::Pass<H> {
        T::pass(handler)
    }
    /// Checks the context argument type, passing the handler through.
    pub fn context<T: ContextArg, H>(handler: H) -> T::Pass<H> {
        T::pass(handler)
    }
    /// Checks a return type is a `Result` with a convertible error.
    pub fn result<R: HandlerResult>() {}
    /// Checks an http function's success type.
    pub fn http_output<T: HttpOutput>() {}
    /// Checks a queue function's success type.
    pub fn queue_output<T: QueueOutput>() {}
    /// Checks a blob or schedule function's success type.
    pub fn unit_output<T: UnitOutput>() {}
    /// Checks an invoked function's success type.
    pub fn json_output<T: JsonOutput>() {}
}
