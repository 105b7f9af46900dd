//! A mistake in the attribute is reported once; code that uses the function's registration
//! still resolves, so it adds no second error.
use cloudport::Error;
use cloudport::function::{HttpRequest, HttpResponse};

#[cloudport::function(http, concurrency = 0)]
async fn hello(_req: HttpRequest) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::default())
}

fn main() {
    let _ = hello::function();
}
