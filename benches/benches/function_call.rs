//! The handler model's own cost, without any network: building a `Context` and running one
//! `Function::call` (span, deadline, panic guard, tower service) around an echo handler.
//!
//! Run: `cargo bench -p cloudport-benches --bench function_call`

use std::time::Duration;

use bytes::Bytes;
use cloudport::function::{Context, Function, HttpRequest, HttpResponse, Input, Invocation, TriggerKind};
use criterion::{Criterion, criterion_group, criterion_main};

async fn echo(req: HttpRequest) -> Result<HttpResponse, cloudport::Error> {
    Ok(HttpResponse::new(req.into_body()))
}

fn call(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let function = Function::http("echo", echo);
    let mut group = c.benchmark_group("function_call");
    group.bench_function("context_new", |b| b.iter(|| Context::new("echo", TriggerKind::Http)));
    group.bench_function("call_without_deadline", |b| {
        b.to_async(&rt).iter(|| async {
            let req = HttpRequest::new(Bytes::from_static(b"hello"));
            function.call(Invocation::new(Input::Http(req), Context::new("echo", TriggerKind::Http))).await
        });
    });
    group.bench_function("call_with_deadline", |b| {
        b.to_async(&rt).iter(|| async {
            let req = HttpRequest::new(Bytes::from_static(b"hello"));
            let ctx = Context::new("echo", TriggerKind::Http).with_timeout(Duration::from_secs(300));
            function.call(Invocation::new(Input::Http(req), ctx)).await
        });
    });
    group.finish();
}

criterion_group!(benches, call);
criterion_main!(benches);
