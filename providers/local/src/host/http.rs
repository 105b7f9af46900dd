//! The HTTP server: every http function at `/<name>`, a listing at `/`.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use bytes::Bytes;
use cloudport_core::Error;
use cloudport_core::function::{HttpRequest, Input, Output, TRACEPARENT, TraceContext, TriggerKind};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, Method, StatusCode, Uri};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::shared::{Shared, describe};
use super::stats::Counters;

/// Largest request body an http function accepts: 32 MiB, Cloud Run's limit. Larger requests
/// get 413.
pub const MAX_REQUEST_BODY: usize = 32 * 1024 * 1024;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(dispatch).with_state(shared)
}

async fn dispatch(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let path = request.uri().path();
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    let (name, rest) = match trimmed.split_once('/') {
        Some((name, rest)) => (name.to_owned(), Some(rest.to_owned())),
        None => (trimmed.to_owned(), None),
    };
    if name.is_empty() {
        return if matches!(*request.method(), Method::GET | Method::HEAD) {
            listing(&shared)
        } else {
            text(StatusCode::METHOD_NOT_ALLOWED, "the function listing at / only answers GET".to_owned())
        };
    }
    let Some(hosted) = shared.function(&name).filter(|f| f.kind() == TriggerKind::Http) else {
        let message = match shared.function(&name) {
            Some(f) => format!("function {name:?} is triggered by {}, not http", f.kind()),
            None => format!("no function named {name:?}"),
        };
        return text(
            StatusCode::NOT_FOUND,
            format!("{message} (http functions: {})", shared.known(Some(TriggerKind::Http))),
        );
    };
    let hosted = Arc::clone(hosted);
    if too_large(&request) {
        return text(StatusCode::PAYLOAD_TOO_LARGE, body_too_large());
    }
    // Shed at once rather than queue: the caller (or its load balancer) retries elsewhere.
    let Ok(_permit) = Arc::clone(&hosted.permits).try_acquire_owned() else {
        Counters::bump(&hosted.stats.shed);
        let mut response = text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("function {name:?} is at its concurrency limit; retry shortly"),
        );
        response.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    };
    let (mut parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_REQUEST_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            return text(StatusCode::PAYLOAD_TOO_LARGE, body_too_large());
        }
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("cannot read the request body: {e}")),
    };
    parts.uri = match strip_mount(&parts.uri, rest.as_deref()) {
        Ok(uri) => uri,
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("bad request path: {e}")),
    };
    parts.extensions = http::Extensions::new();
    let parent = parts.headers.get(TRACEPARENT).and_then(|v| v.to_str().ok()).and_then(TraceContext::parse);
    let request: HttpRequest = http::Request::from_parts(parts, body);
    match shared.call(&hosted, Input::Http(request), parent).await {
        Some(Ok(Output::Http(response))) => response.map(Body::from),
        Some(Ok(_)) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("function {name:?} returned something other than an HTTP response"),
        ),
        Some(Err(e)) => error_response(&e),
        None => text(StatusCode::SERVICE_UNAVAILABLE, format!("the local host shut down before {name:?} finished")),
    }
}

fn too_large(request: &Request) -> bool {
    request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|len| len > MAX_REQUEST_BODY as u64)
}

fn body_too_large() -> String {
    format!("request body is over the {MAX_REQUEST_BODY}-byte limit (store large payloads in a blob and send its key)")
}

/// The request's URI as the function sees it: `/<name>/a/b?q` becomes `/a/b?q`, `/<name>` `/`.
fn strip_mount(uri: &Uri, rest: Option<&str>) -> Result<Uri, http::Error> {
    let mut path_and_query = String::with_capacity(uri.path().len() + 8);
    path_and_query.push('/');
    path_and_query.push_str(rest.unwrap_or_default());
    if let Some(query) = uri.query() {
        path_and_query.push('?');
        path_and_query.push_str(query);
    }
    Uri::builder().path_and_query(path_and_query).build()
}

fn error_response(error: &Error) -> Response {
    cloudport_core::function::error_response(error).map(Body::from)
}

fn text(status: StatusCode, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

fn listing(shared: &Shared) -> Response {
    let functions: Vec<serde_json::Value> = shared
        .functions
        .values()
        .map(|f| {
            let (trigger, detail) = describe(f.function.trigger());
            let mut entry = serde_json::Map::new();
            entry.insert("name".into(), f.name().into());
            entry.insert("trigger".into(), trigger.into());
            if let Some((key, value)) = detail {
                entry.insert(key.into(), value.into());
            }
            serde_json::Value::Object(entry)
        })
        .collect();
    let body = serde_json::to_vec(&functions).map(Bytes::from).unwrap_or_default();
    let mut response = Response::new(Body::from(body));
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mount_is_stripped_and_the_query_kept() {
        let uri: Uri = "/echo/a/b?x=1".parse().unwrap();
        assert_eq!(strip_mount(&uri, Some("a/b")).unwrap(), "/a/b?x=1");
        let uri: Uri = "/echo".parse().unwrap();
        assert_eq!(strip_mount(&uri, None).unwrap(), "/");
        let uri: Uri = "/echo/?q".parse().unwrap();
        assert_eq!(strip_mount(&uri, Some("")).unwrap(), "/?q");
    }
}
