//! Dispatch overhead of an HTTP function on the local host, against the same handler served by
//! bare axum, in one run: both on loopback, driven by the same keep-alive hyper client with the
//! same concurrency, so the difference is what the host adds (body collection, the invocation,
//! the span, the concurrency permit, the response conversion).
//!
//! Run: `cargo bench -p cloudport-benches --bench function_http`, or
//! `benches/scripts/function-http-interleaved.sh` for the README's figure (several interleaved
//! rounds, medians).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cloudport::function::{Function, HttpRequest, HttpResponse};
use cloudport::local::host::LocalHost;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::stream::{self, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Requests per measured iteration, and how many are in flight at once.
const REQUESTS: usize = 256;
const IN_FLIGHT: usize = 16;
const BODY: &[u8] = b"{\"order\":42,\"items\":[1,2,3]}";

/// The handler both servers run: echo the body with a content type.
fn echo(body: Bytes) -> http::Response<Bytes> {
    http::Response::builder().header("content-type", "application/json").body(body).expect("static response")
}

async fn cloudport_echo(req: HttpRequest) -> Result<HttpResponse, cloudport::Error> {
    Ok(echo(req.into_body()))
}

async fn bare_axum() -> SocketAddr {
    let app = axum::Router::new().route(
        "/echo",
        axum::routing::post(|body: Bytes| async move {
            let res = echo(body);
            let (parts, body) = res.into_parts();
            http::Response::from_parts(parts, axum::body::Body::from(body))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    addr
}

/// Bare axum calling `Function::call` directly: isolates the handler model's cost (context,
/// span, deadline, panic guard) from the local host's routing, shedding and shutdown tracking.
async fn axum_with_function_call() -> SocketAddr {
    use cloudport::function::{Context, Input, Invocation, Output, TriggerKind};
    let function = Function::http("echo", cloudport_echo);
    let app = axum::Router::new().route(
        "/echo",
        axum::routing::post(move |req: axum::extract::Request| {
            let function = function.clone();
            async move {
                let (parts, body) = req.into_parts();
                let body = body.collect().await.expect("body").to_bytes();
                let input = Input::Http(http::Request::from_parts(parts, body));
                let ctx = Context::new("echo", TriggerKind::Http);
                let Ok(Output::Http(res)) = function.call(Invocation::new(input, ctx)).await else {
                    panic!("echo failed")
                };
                res.map(axum::body::Body::from)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    addr
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

async fn drive(client: &HttpClient, url: &str) -> Duration {
    let start = Instant::now();
    stream::iter(0..REQUESTS)
        .map(|_| async {
            let req = http::Request::post(url).body(Full::new(Bytes::from_static(BODY))).expect("request");
            let res = client.request(req).await.expect("response");
            assert!(res.status().is_success(), "status {}", res.status());
            let body = res.into_body().collect().await.expect("body").to_bytes();
            assert_eq!(&body[..], BODY);
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<()>()
        .await;
    start.elapsed()
}

/// The servers run on one thread (a current-thread runtime) and the client on another, so each
/// side has a core of its own and the client's work never competes with the server's in one
/// scheduler: on a 2-core machine this is what keeps the comparison stable enough to read.
fn start_servers() -> (String, String, String) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("server runtime");
        rt.block_on(async move {
            let host = LocalHost::builder()
                .function(Function::http("echo", cloudport_echo).with_concurrency(1024))
                .http_addr(SocketAddr::from(([127, 0, 0, 1], 0)))
                .build()
                .expect("host")
                .start()
                .await
                .expect("start");
            let urls = (
                format!("http://{}/echo", bare_axum().await),
                format!("http://{}/echo", axum_with_function_call().await),
                host.url("echo"),
            );
            tx.send(urls).expect("send urls");
            std::future::pending::<()>().await;
            drop(host);
        });
    });
    rx.recv().expect("servers started")
}

fn dispatch(c: &mut Criterion) {
    let (axum_url, call_url, cloudport_url) = start_servers();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("client runtime");
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();

    let mut group = c.benchmark_group("function_http");
    group.throughput(Throughput::Elements(REQUESTS as u64));
    group.measurement_time(Duration::from_secs(8));
    for (name, url) in
        [("bare_axum", &axum_url), ("axum_calling_function", &call_url), ("cloudport_local_host", &cloudport_url)]
    {
        group.bench_function(name, |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let client = &client;
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        total += drive(client, url).await;
                    }
                    total
                }
            });
        });
    }
    group.finish();
}

criterion_group!(benches, dispatch);
criterion_main!(benches);
