//! Functions defined inside another fn's body, and several functions in one module.

use cloudport::Error;
use cloudport::function::{HttpRequest, HttpResponse, registry};

#[cloudport::function(http)]
async fn first(_req: HttpRequest) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::new("first".into()))
}

#[cloudport::function(http)]
async fn second(_req: HttpRequest) -> Result<http::StatusCode, Error> {
    Ok(http::StatusCode::NO_CONTENT)
}

fn main() {
    #[cloudport::function(name = "nested")]
    async fn inner(n: u32) -> Result<u32, Error> {
        Ok(n + 1)
    }

    assert_eq!(inner::function().name(), "nested");
    let names: Vec<String> = registry::registered().unwrap().iter().map(|f| f.name().to_owned()).collect();
    assert_eq!(names, ["first", "nested", "second"]);
}
