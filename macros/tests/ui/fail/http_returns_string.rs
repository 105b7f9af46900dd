use cloudport::Error;
use cloudport::function::HttpRequest;

#[cloudport::function(http)]
async fn hello(_req: HttpRequest) -> Result<String, Error> {
    Ok("hello".to_owned())
}

fn main() {}
