use cloudport::Error;
use cloudport::function::{HttpRequest, HttpResponse};

struct Api;

impl Api {
    #[cloudport::function(http)]
    async fn hello(&self, _req: HttpRequest) -> Result<HttpResponse, Error> {
        Ok(HttpResponse::default())
    }
}

fn main() {}
