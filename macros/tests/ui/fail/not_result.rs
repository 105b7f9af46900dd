use cloudport::function::{HttpRequest, HttpResponse};

#[cloudport::function(http)]
async fn hello(_req: HttpRequest) -> HttpResponse {
    HttpResponse::default()
}

fn main() {}
