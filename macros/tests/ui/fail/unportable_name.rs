use cloudport::Error;
use cloudport::function::{HttpRequest, HttpResponse};

#[cloudport::function(http, name = "hello world")]
async fn hello(_req: HttpRequest) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::default())
}

// The default name comes from the fn and must be portable too.
#[cloudport::function(http)]
async fn _hidden(_req: HttpRequest) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::default())
}

fn main() {}
