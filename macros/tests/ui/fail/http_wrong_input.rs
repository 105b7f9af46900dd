use cloudport::Error;
use cloudport::function::HttpResponse;

#[cloudport::function(http)]
async fn hello(body: String) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::new(body.into()))
}

fn main() {}
