use cloudport::Error;
use cloudport::function::HttpResponse;

#[cloudport::function(http)]
async fn hello() -> Result<HttpResponse, Error> {
    Ok(HttpResponse::default())
}

fn main() {}
