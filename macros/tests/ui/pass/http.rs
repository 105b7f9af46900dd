use cloudport::Error;
use cloudport::function::{Context, HttpRequest, HttpResponse};

#[cloudport::function(http)]
async fn hello(_req: HttpRequest) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::new("hello".into()))
}

/// With a context, options, and a response type other than `HttpResponse`.
#[cloudport::function(http, name = "greet-you", timeout = "1500ms", concurrency = 8)]
pub async fn greet(req: HttpRequest, ctx: Context) -> Result<http::Response<String>, Error> {
    Ok(http::Response::new(format!("{} {}", ctx.function_name(), req.uri())))
}

fn main() {
    let f = hello::function();
    assert_eq!(f.name(), "hello");
    assert_eq!(f.trigger(), &cloudport::function::Trigger::Http);
    let f = greet::function();
    assert_eq!(f.name(), "greet-you");
    assert_eq!(f.settings().timeout, Some(std::time::Duration::from_millis(1500)));
    assert_eq!(f.settings().concurrency, Some(8));
}
