use cloudport::Error;
use cloudport::function::{HttpRequest, HttpResponse};

#[cloudport::function(http, queue = "jobs")]
async fn hello(_req: HttpRequest) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::default())
}

fn main() {}
