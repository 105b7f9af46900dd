//! HTTP events: API Gateway REST and HTTP APIs, Function URLs and ALB, to and from
//! [`HttpRequest`] / [`HttpResponse`].
//!
//! lambda_http parses the four request shapes (headers, multi-value query strings, cookies,
//! base64 bodies). Responses are built here rather than by `lambda_http::run`: its conversion
//! decodes a body without a `Content-Type` as UTF-8 text, lossily, which would corrupt binary
//! responses; here a body that is not UTF-8 always goes base64-encoded.

use aws_lambda_events::alb::AlbTargetGroupResponse;
use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use bytes::Bytes;
use cloudport_core::function::{HttpRequest, HttpResponse};
use cloudport_core::{Error, Result};
use http::header::{CONTENT_ENCODING, SET_COOKIE};
use http::{HeaderMap, Uri};
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

/// Which service sent the request: each wants its own response shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    /// API Gateway REST API (payload format 1.0).
    RestApi,
    /// API Gateway HTTP API or a Function URL (payload format 2.0).
    HttpApi,
    /// An Application Load Balancer target group.
    Alb,
}

fn origin(payload: &str) -> Origin {
    #[derive(Deserialize)]
    struct Probe {
        version: Option<String>,
        #[serde(rename = "requestContext")]
        request_context: Option<ContextProbe>,
    }
    #[derive(Deserialize)]
    struct ContextProbe {
        elb: Option<IgnoredAny>,
    }
    match serde_json::from_str::<Probe>(payload) {
        Ok(p) if p.version.as_deref() == Some("2.0") => Origin::HttpApi,
        Ok(p) if p.request_context.as_ref().is_some_and(|c| c.elb.is_some()) => Origin::Alb,
        _ => Origin::RestApi,
    }
}

/// The request in `payload`, its path made relative to the function's mount `/<name>` (as on
/// every host; a REST API's stage is removed first), and where it came from.
pub(super) fn request(payload: &str, name: &str) -> Result<(HttpRequest, Origin)> {
    let origin = origin(payload);
    let request = lambda_http::request::from_str(payload).map_err(|e| {
        Error::invalid_input(format!(
            "the Lambda payload is not an HTTP event (API Gateway, Function URL or ALB): {e} (check the function's trigger)"
        ))
    })?;
    let stage = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.stage.clone(),
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.stage.clone(),
        _ => None,
    };
    let (mut parts, body) = request.into_parts();
    parts.uri = relative_uri(&parts.uri, stage.as_deref(), name)?;
    parts.extensions = http::Extensions::new();
    let body = match body {
        Body::Empty => Bytes::new(),
        Body::Text(text) => Bytes::from(text),
        Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    Ok((http::Request::from_parts(parts, body), origin))
}

/// `uri` without the stage prefix and the function's mount; the query is kept.
fn relative_uri(uri: &Uri, stage: Option<&str>, name: &str) -> Result<Uri> {
    let mut path = uri.path();
    if let Some(stage) = stage.filter(|s| *s != "$default") {
        path = strip_segment(path, stage);
    }
    let path = strip_segment(path, name);
    let path = if path.is_empty() { "/" } else { path };
    let path_and_query = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    path_and_query.parse::<Uri>().map_err(|e| Error::invalid_input(format!("bad request path {path_and_query:?}: {e}")))
}

/// `path` without a leading `/<segment>` (whole segment only).
fn strip_segment<'a>(path: &'a str, segment: &str) -> &'a str {
    match path.strip_prefix('/').and_then(|p| p.strip_prefix(segment)) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
        _ => path,
    }
}

/// `response` in the shape `origin` expects.
pub(super) fn response(origin: Origin, response: HttpResponse) -> Result<Box<RawValue>> {
    let (parts, bytes) = response.into_parts();
    let mut headers = parts.headers;
    let status_code = i64::from(parts.status.as_u16());
    let (body, is_base64_encoded) = body(bytes, &headers);
    let json = match origin {
        Origin::RestApi => {
            let mut r = ApiGatewayProxyResponse::default();
            r.status_code = status_code;
            // Only the multi-value form: API Gateway merges both, which would duplicate headers.
            r.multi_value_headers = headers;
            r.body = body;
            r.is_base64_encoded = is_base64_encoded;
            serde_json::value::to_raw_value(&r)
        }
        Origin::HttpApi => {
            let mut r = ApiGatewayV2httpResponse::default();
            r.status_code = status_code;
            // Format 2.0 carries cookies apart; other repeated headers are joined with commas.
            r.cookies = headers.get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect();
            headers.remove(SET_COOKIE);
            r.headers = headers;
            r.body = body;
            r.is_base64_encoded = is_base64_encoded;
            serde_json::value::to_raw_value(&r)
        }
        Origin::Alb => {
            let mut r = AlbTargetGroupResponse::default();
            r.status_code = status_code;
            r.status_description =
                Some(format!("{} {}", parts.status.as_u16(), parts.status.canonical_reason().unwrap_or("")));
            // Both forms: the target group's multi-value setting decides which one ALB reads.
            r.headers = headers.clone();
            r.multi_value_headers = headers;
            r.body = body;
            r.is_base64_encoded = is_base64_encoded;
            serde_json::value::to_raw_value(&r)
        }
    };
    json.map_err(|e| Error::new(cloudport_core::ErrorKind::Other, format!("cannot encode the HTTP response: {e}")))
}

/// The body as text when it is UTF-8 and not content-encoded, else as base64.
fn body(bytes: Bytes, headers: &HeaderMap) -> (Option<Body>, bool) {
    if bytes.is_empty() {
        return (None, false);
    }
    if headers.contains_key(CONTENT_ENCODING) {
        return (Some(Body::Binary(bytes.to_vec())), true);
    }
    match String::from_utf8(bytes.into()) {
        Ok(text) => (Some(Body::Text(text)), false),
        Err(e) => (Some(Body::Binary(e.into_bytes())), true),
    }
}

#[cfg(test)]
mod tests {
    use http::{Method, StatusCode};

    use super::*;

    const HTTP_API: &str = r#"{"version":"2.0","routeKey":"ANY /upload/{proxy+}","rawPath":"/upload/a.txt","rawQueryString":"x=1",
        "headers":{"content-type":"text/plain","traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
        "requestContext":{"accountId":"1","apiId":"api","domainName":"api.example.com","domainPrefix":"api",
          "http":{"method":"PUT","path":"/upload/a.txt","protocol":"HTTP/1.1","sourceIp":"1.2.3.4","userAgent":"t"},
          "requestId":"r","routeKey":"ANY /upload/{proxy+}","stage":"$default","time":"01/May/2024:12:00:00 +0000","timeEpoch":1714564800000},
        "body":"aGVsbG8=","isBase64Encoded":true}"#;

    const REST_API: &str = r#"{"resource":"/upload/{proxy+}","path":"/upload/b.txt","httpMethod":"DELETE","headers":{"Host":"x"},
        "multiValueHeaders":{"Host":["x"]},"queryStringParameters":null,"multiValueQueryStringParameters":null,
        "requestContext":{"accountId":"1","resourceId":"r","stage":"Prod","requestId":"id","identity":{"sourceIp":"1.2.3.4"},
          "resourcePath":"/upload/{proxy+}","httpMethod":"DELETE","apiId":"api","path":"/Prod/upload/b.txt"},
        "body":null,"isBase64Encoded":false}"#;

    const ALB: &str = r#"{"requestContext":{"elb":{"targetGroupArn":"arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/t/1"}},
        "httpMethod":"GET","path":"/stats","queryStringParameters":{},"headers":{"host":"lb"},"body":"","isBase64Encoded":false}"#;

    #[test]
    fn http_api_requests_lose_the_mount_and_keep_the_rest() {
        let (req, origin) = request(HTTP_API, "upload").unwrap();
        assert_eq!(origin, Origin::HttpApi);
        assert_eq!(req.method(), Method::PUT);
        assert_eq!(req.uri(), "/a.txt?x=1");
        assert_eq!(&req.body()[..], b"hello");
        assert!(req.headers().contains_key("traceparent"));
    }

    #[test]
    fn rest_api_requests_lose_the_stage_too() {
        let (req, origin) = request(REST_API, "upload").unwrap();
        assert_eq!(origin, Origin::RestApi);
        assert_eq!(req.method(), Method::DELETE);
        assert_eq!(req.uri().path(), "/b.txt");
    }

    #[test]
    fn alb_requests_are_recognized() {
        let (req, origin) = request(ALB, "stats").unwrap();
        assert_eq!(origin, Origin::Alb);
        assert_eq!(req.uri().path(), "/");
    }

    #[test]
    fn mounts_are_whole_segments() {
        let uri: Uri = "/uploads/x".parse().unwrap();
        assert_eq!(relative_uri(&uri, None, "upload").unwrap(), "/uploads/x");
        assert_eq!(relative_uri(&"/upload".parse().unwrap(), None, "upload").unwrap(), "/");
    }

    fn json(raw: &RawValue) -> serde_json::Value {
        serde_json::from_str(raw.get()).unwrap()
    }

    #[test]
    fn responses_take_each_origins_shape() {
        let mut res = HttpResponse::new(Bytes::from_static(b"created"));
        *res.status_mut() = StatusCode::CREATED;
        res.headers_mut().append(SET_COOKIE, "a=1".parse().unwrap());
        let v2 = json(&response(Origin::HttpApi, res.clone()).unwrap());
        assert_eq!(v2["statusCode"], 201);
        assert_eq!(v2["body"], "created");
        assert_eq!(v2["isBase64Encoded"], false);
        assert_eq!(v2["cookies"][0], "a=1");
        let v1 = json(&response(Origin::RestApi, res.clone()).unwrap());
        assert_eq!(v1["multiValueHeaders"]["set-cookie"][0], "a=1");
        let alb = json(&response(Origin::Alb, res).unwrap());
        assert_eq!(alb["statusDescription"], "201 Created");
    }

    #[test]
    fn binary_bodies_go_base64_whatever_the_content_type() {
        let res = HttpResponse::new(Bytes::from_static(&[0xff, 0xd8, 0x00]));
        let v2 = json(&response(Origin::HttpApi, res).unwrap());
        assert_eq!(v2["isBase64Encoded"], true);
        assert_eq!(v2["body"], "/9gA");
    }
}
