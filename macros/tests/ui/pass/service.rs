use std::convert::Infallible;
use std::future::Future;

use bytes::Bytes;
use cloudport::function::{Context, Input, Invocation, Output, ServiceBody, Trigger, TriggerKind};
use tower::Service;
use tower::util::BoxCloneSyncService;

type ServiceResponse = http::Response<ServiceBody>;
type Api = BoxCloneSyncService<http::Request<ServiceBody>, http::Response<String>, Infallible>;

#[cloudport::function(http, service, name = "api", concurrency = 64)]
fn router() -> Api {
    BoxCloneSyncService::new(tower::service_fn(|req: http::Request<ServiceBody>| async move {
        Ok::<_, Infallible>(http::Response::new(format!("you asked for {}", req.uri().path())))
    }))
}

/// `impl Service` works too: the attribute never names the service type.
#[cloudport::function(http, service, timeout = "1s")]
pub fn echo()
-> impl Service<http::Request<ServiceBody>, Response = ServiceResponse, Error = Infallible, Future: Future + Send + 'static>
+ Clone
+ Send
+ Sync
+ 'static {
    tower::service_fn(|req: http::Request<ServiceBody>| async move { Ok(http::Response::new(req.into_body())) })
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let f = router::function();
    assert_eq!((f.name(), f.trigger(), f.settings().concurrency), ("api", &Trigger::Http, Some(64)));
    let req = http::Request::get("/things").body(Bytes::new()).unwrap();
    let output = f.call(Invocation::new(Input::Http(req), Context::new("api", TriggerKind::Http))).await.unwrap();
    let Output::Http(res) = output else { panic!("expected http") };
    assert_eq!(res.body(), "you asked for /things");

    let f = echo::function();
    let req = http::Request::post("/").body(Bytes::from("ping")).unwrap();
    let output = f.call(Invocation::new(Input::Http(req), Context::new("echo", TriggerKind::Http))).await.unwrap();
    let Output::Http(res) = output else { panic!("expected http") };
    assert_eq!(&res.body()[..], b"ping");
}
