//! The fn keeps its attributes; a `#[cfg]` after the attribute also governs the registration.
#![deny(warnings)]

use cloudport::Error;
use cloudport::function::{HttpRequest, HttpResponse, registry};

/// Documented, and still there.
#[cloudport::function(http)]
#[cfg(all())]
#[inline]
async fn kept(_req: HttpRequest) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::default())
}

#[cloudport::function(http)]
#[cfg(any())]
async fn compiled_out(_req: HttpRequest) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::default())
}

#[cloudport::function(http)]
#[deprecated = "registering a deprecated handler warns nobody"]
async fn old(_req: HttpRequest) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::default())
}

fn main() {
    let names: Vec<String> = registry::registered().unwrap().iter().map(|f| f.name().to_owned()).collect();
    assert_eq!(names, ["kept", "old"]);
}
