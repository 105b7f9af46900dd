//! The expansion is clean under the workspace's lints, for public and private functions.
#![deny(warnings, missing_docs, missing_debug_implementations, unreachable_pub, rust_2018_idioms)]

use cloudport::Error;
use cloudport::function::{HttpRequest, HttpResponse};

/// Public functions, reachable from the crate root.
pub mod public {
    use super::*;

    /// Says hello.
    #[cloudport::function(http)]
    pub async fn hello(_req: HttpRequest) -> Result<HttpResponse, Error> {
        Ok(HttpResponse::default())
    }
}

mod private {
    use super::*;

    #[cloudport::function(http)]
    pub(crate) async fn hidden(_req: HttpRequest) -> Result<HttpResponse, Error> {
        Ok(HttpResponse::default())
    }

    #[cloudport::function(http)]
    async fn unused(_req: HttpRequest) -> Result<HttpResponse, Error> {
        Ok(HttpResponse::default())
    }
}

fn main() {
    assert_eq!(public::hello::function().name(), "hello");
    assert_eq!(private::hidden::function().name(), "hidden");
}
