//! `#[cloudport::function]`: use it through the `cloudport` crate, which re-exports it.
//!
//! The attribute keeps the annotated fn exactly as written and adds a registration; everything
//! the function does at run time lives in `cloudport` itself.

mod attr;
mod handler;

use proc_macro::TokenStream;

/// Registers a fn as a cloudport function: a handler with a trigger, found at run time by
/// `cloudport::function::registry::registered()` and run by `cloudport::run()`.
///
/// # Grammar
///
/// ```text
/// #[cloudport::function(<trigger> [, <option>]*)]
///
/// <trigger> (at most one):
///     (none)                       invoked directly, with a JSON input and output
///     http                         HTTP requests
///     http, service                HTTP requests, served by the tower service the fn returns
///     queue = "jobs"               batches of messages from the queue named "jobs"
///     blob = "uploads/"            blobs created or deleted under the prefix "uploads/"
///     schedule = "0 */5 * * * *"   a cron schedule: sec min hour day-of-month month day-of-week [year]
///
/// <option> (each at most once):
///     name = "custom-name"         the function's name; default: the fn's identifier without `r#`
///     timeout = "30s"              per invocation: an integer followed by `ms`, `s` or `m`
///     concurrency = 8              how many invocations may run at once
///     batch_size = 10              most messages per batch (queue only)
///     max_deliveries = 5           deliveries before a message is dead-lettered (queue only)
/// ```
///
/// The fn is an `async fn` taking the trigger's input and, optionally, a `Context`, and returning
/// `Result<T, E>` with `E: Into<cloudport::Error>`:
///
/// | trigger | input | `T` |
/// |---|---|---|
/// | `http` | `HttpRequest` | `HttpResponse`, an `http::Response<String \| Vec<u8> \| &'static str>` or a `StatusCode` |
/// | `queue` | `QueueBatch<J>` with `J: Deserialize` | `BatchOutcome` or `()` |
/// | `blob` | `BlobEvent` | `()` |
/// | `schedule` | `ScheduleTick` | `()` |
/// | none | any `Deserialize` | any `Serialize` |
///
/// With `http, service` it is instead a plain `fn` without arguments that returns a tower
/// service over `http::Request`s, such as an axum `Router`.
///
/// Everything is checked at compile time, each mistake reported at its token: the signature, the
/// argument and return types, the option values (a `schedule` goes through the same cron parser
/// the runtime uses; a `name` must be portable: 1 to 64 ASCII letters, digits, `_` or `-`,
/// starting with a letter), and options given to the wrong trigger.
///
/// # Examples
///
/// ```ignore
/// use cloudport::function::{Context, HttpRequest, HttpResponse, QueueBatch, ScheduleTick};
/// use cloudport::Error;
///
/// #[cloudport::function(http, concurrency = 32, timeout = "30s")]
/// async fn hello(req: HttpRequest, ctx: Context) -> Result<HttpResponse, Error> {
///     Ok(HttpResponse::new(format!("hello from {}", ctx.function_name()).into()))
/// }
///
/// #[cloudport::function(queue = "jobs", batch_size = 10, max_deliveries = 3)]
/// async fn work(batch: QueueBatch<Job>) -> Result<(), Error> {
///     for job in &batch {
///         run(&job.body).await?;
///     }
///     Ok(())
/// }
///
/// #[cloudport::function(schedule = "0 0 3 * * *", name = "nightly-sweep")]
/// async fn sweep(tick: ScheduleTick, ctx: Context) -> Result<(), Error> {
///     Ok(())
/// }
///
/// #[cloudport::function]
/// async fn add(args: (i64, i64)) -> Result<i64, Error> {
///     Ok(args.0 + args.1)
/// }
///
/// #[cloudport::function(http, service, name = "api")]
/// fn router() -> axum::Router {
///     axum::Router::new().route("/", axum::routing::get(|| async { "hi" }))
/// }
/// ```
///
/// # Expansion
///
/// The fn stays as written. Next to it, a braced struct of the same name (it lives only in the
/// type namespace, so the two do not clash) whose `function()` builds the `Function`, and a
/// link-time registration of that constructor (docs omitted; a `#[cfg]` on the fn is repeated on
/// each generated item):
///
/// ```ignore
/// async fn work(batch: QueueBatch<Job>) -> Result<(), Error> { /* ... */ }
///
/// #[allow(non_camel_case_types)]
/// struct work {}
///
/// impl work {
///     fn function() -> ::cloudport::function::Function {
///         // Each check is spanned at the user's type, so a wrong type is reported there.
///         ::cloudport::__private::check::queue_input::<QueueBatch<Job>>();
///         ::cloudport::__private::check::result::<Result<(), Error>>();
///         ::cloudport::__private::check::queue_output::<
///             <Result<(), Error> as ::cloudport::__private::check::HandlerResult>::Ok,
///         >();
///         ::cloudport::function::Function::queue("work", "jobs", work)
///             .with_batch_size(10usize)
///             .with_max_deliveries(3u32)
///     }
/// }
///
/// const _: () = {
///     #[::cloudport::__private::linkme::distributed_slice(::cloudport::__private::FUNCTIONS)]
///     #[linkme(crate = ::cloudport::__private::linkme)]
///     static REGISTRATION: fn() -> ::cloudport::function::Function = work::function;
/// };
/// ```
///
/// After a mistake, the fn is still emitted unchanged next to the compile errors, with a
/// registration struct whose `function()` never runs, so code that names `work::function()` adds
/// no error of its own.
///
/// Set `CLOUDPORT_MACROS_DEBUG=1` while compiling to print every expansion to stderr (touch the
/// file or `cargo clean -p` your crate so it is expanded again).
#[proc_macro_attribute]
pub fn function(attr: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(attr.into(), item.into()).into()
}
