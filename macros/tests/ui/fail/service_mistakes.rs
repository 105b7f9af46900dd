use std::convert::Infallible;

use tower::util::BoxCloneSyncService;

type Api = BoxCloneSyncService<http::Request<cloudport::function::ServiceBody>, http::Response<String>, Infallible>;

#[cloudport::function(http, service)]
async fn api(prefix: String) -> Api {
    let _ = prefix;
    todo!()
}

fn main() {}
