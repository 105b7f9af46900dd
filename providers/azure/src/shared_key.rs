//! SharedKey authorization: every request signed with the account key.
//!
//! The official crates authenticate with Microsoft Entra ID tokens only, and only over https.
//! [`SharedKeyPolicy`] fills the gap for keyed accounts and for Azurite (plain http): put it in
//! the clients' `ClientOptions::per_try_policies`, and pass no credential to the constructor.
//! The signature follows "Authorize with Shared Key" of the Azure Storage REST reference
//! (version 2009-09-19 and later).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use azure_core::http::policies::{Policy, PolicyResult};
use azure_core::http::{Context, Request};
use azure_core::time::{OffsetDateTime, to_rfc7231};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;
use url::Url;

use crate::connection::AccountKey;

/// The standard headers of the string to sign, in its order.
const STANDARD_HEADERS: [&str; 11] = [
    "content-encoding",
    "content-language",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "if-modified-since",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "range",
];

/// A pipeline policy that signs each try of a request with SharedKey: it sets `x-ms-date` and
/// `Authorization: SharedKey <account>:<signature>`.
///
/// ```
/// use std::sync::Arc;
///
/// use azure_core::http::ClientOptions;
/// use cloudport_azure::{AccountKey, DEVELOPMENT_KEY, SharedKeyPolicy};
///
/// let policy = SharedKeyPolicy::new("devstoreaccount1", AccountKey::from_base64(DEVELOPMENT_KEY)?);
/// let options = ClientOptions { per_try_policies: vec![Arc::new(policy)], ..Default::default() };
/// # let _ = options;
/// # Ok::<(), cloudport_core::Error>(())
/// ```
#[derive(Clone)]
pub struct SharedKeyPolicy {
    account: String,
    key: AccountKey,
}

impl SharedKeyPolicy {
    /// A policy signing for `account` with `key`.
    #[must_use]
    pub fn new(account: impl Into<String>, key: AccountKey) -> Self {
        Self { account: account.into(), key }
    }

    /// The account this policy signs for.
    #[must_use]
    pub fn account(&self) -> &str {
        &self.account
    }

    /// Sets `x-ms-date` to `now` and signs `request`.
    fn sign_request(&self, request: &mut Request, now: OffsetDateTime) {
        request.insert_header("x-ms-date", to_rfc7231(&now));
        let headers: Vec<(String, String)> = request
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), value.as_str().to_owned()))
            .collect();
        let string =
            string_to_sign(&self.account, request.method().as_ref(), request.url(), &headers, request.body().len());
        let signature = sign(&self.key, &string);
        request.insert_header("authorization", format!("SharedKey {}:{signature}", self.account));
    }
}

impl fmt::Debug for SharedKeyPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedKeyPolicy").field("account", &self.account).field("key", &self.key).finish()
    }
}

// `&Context` as the trait writes it: `&Context<'_>` would make the lifetime early-bound (E0195).
#[allow(elided_lifetimes_in_paths)]
#[async_trait]
impl Policy for SharedKeyPolicy {
    async fn send(&self, ctx: &Context, request: &mut Request, next: &[Arc<dyn Policy>]) -> PolicyResult {
        // Per try: a retry gets a fresh date, so it is not rejected as stale.
        self.sign_request(request, OffsetDateTime::now_utc());
        match next.split_first() {
            Some((policy, rest)) => policy.send(ctx, request, rest).await,
            None => Err(azure_core::Error::with_message(
                azure_core::error::ErrorKind::Other,
                "SharedKeyPolicy is the last policy of the pipeline (put it in per_try_policies, before the transport)",
            )),
        }
    }
}

/// The SharedKey string to sign of a request.
///
/// `headers` are the request's headers with lowercase names; `body_len` is the body's length,
/// used when no `content-length` header is set (the transport adds that one on the wire).
pub(crate) fn string_to_sign(
    account: &str,
    method: &str,
    url: &Url,
    headers: &[(String, String)],
    body_len: Option<u64>,
) -> String {
    let header = |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim());
    let mut out = String::with_capacity(256);
    out.push_str(method);
    out.push('\n');
    for name in STANDARD_HEADERS {
        let value = if name == "content-length" {
            // Empty, not `0`, for an empty body (version 2015-02-21 and later).
            let length = header(name).map(str::to_owned).or_else(|| body_len.map(|n| n.to_string()));
            length.filter(|l| l != "0").unwrap_or_default()
        } else {
            header(name).unwrap_or_default().to_owned()
        };
        out.push_str(&value);
        out.push('\n');
    }

    // Canonicalized headers: every x-ms-* header, lowercase, sorted, `name:value\n`.
    let mut ms: Vec<(String, &str)> = headers
        .iter()
        .filter(|(name, _)| name.to_ascii_lowercase().starts_with("x-ms-"))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim()))
        .collect();
    ms.sort();
    for (name, value) in ms {
        out.push_str(&name);
        out.push(':');
        out.push_str(value);
        out.push('\n');
    }

    // Canonicalized resource: `/account` + the encoded path, then each query parameter sorted by
    // lowercase name, `\nname:value[,value]` with decoded values.
    out.push('/');
    out.push_str(account);
    out.push_str(url.path());
    let mut params: Vec<(String, Vec<String>)> = Vec::new();
    for (name, value) in url.query_pairs() {
        let name = name.to_lowercase();
        match params.iter_mut().find(|(n, _)| *n == name) {
            Some((_, values)) => values.push(value.into_owned()),
            None => params.push((name, vec![value.into_owned()])),
        }
    }
    params.sort();
    for (name, mut values) in params {
        values.sort();
        out.push('\n');
        out.push_str(&name);
        out.push(':');
        out.push_str(&values.join(","));
    }
    out
}

/// `base64(HMAC-SHA256(key, data))`: the signature of a SharedKey string or a SAS.
pub(crate) fn sign(key: &AccountKey, data: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(data.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::DEVELOPMENT_KEY;
    use azure_core::http::Method;

    fn key() -> AccountKey {
        AccountKey::from_base64(DEVELOPMENT_KEY).unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn string_to_sign_of_a_fixed_upload() {
        let url =
            Url::parse("http://127.0.0.1:10000/devstoreaccount1/photos/cat%20one.jpg?timeout=30&comp=block&Blockid=b")
                .unwrap();
        let string = string_to_sign(
            "devstoreaccount1",
            "PUT",
            &url,
            &headers(&[
                ("x-ms-version", "2026-04-06"),
                ("content-type", "image/jpeg"),
                ("x-ms-date", "Thu, 03 Dec 2026 16:00:00 GMT"),
                ("x-ms-blob-type", " BlockBlob "),
                ("if-match", "\"0x8D\""),
                ("user-agent", "azsdk-rust"),
            ]),
            Some(11),
        );
        assert_eq!(
            string,
            "PUT\n\n\n11\n\nimage/jpeg\n\n\n\"0x8D\"\n\n\n\n\
             x-ms-blob-type:BlockBlob\nx-ms-date:Thu, 03 Dec 2026 16:00:00 GMT\nx-ms-version:2026-04-06\n\
             /devstoreaccount1/devstoreaccount1/photos/cat%20one.jpg\nblockid:b\ncomp:block\ntimeout:30"
        );
    }

    #[test]
    fn empty_body_signs_an_empty_content_length() {
        let url = Url::parse("http://127.0.0.1:10000/devstoreaccount1/c?restype=container").unwrap();
        let expected =
            "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:d\n/devstoreaccount1/devstoreaccount1/c\nrestype:container";
        let h = headers(&[("x-ms-date", "d")]);
        assert_eq!(string_to_sign("devstoreaccount1", "PUT", &url, &h, Some(0)), expected);
        let with_header = headers(&[("x-ms-date", "d"), ("content-length", "0")]);
        assert_eq!(string_to_sign("devstoreaccount1", "PUT", &url, &with_header, None), expected);
    }

    #[test]
    fn repeated_query_parameters_are_joined_sorted() {
        let url = Url::parse("https://a.queue.core.windows.net/q/messages?b=2&a=y&A=x").unwrap();
        let string = string_to_sign("a", "GET", &url, &[], None);
        assert!(string.ends_with("\n/a/q/messages\na:x,y\nb:2"), "{string:?}");
    }

    #[test]
    fn signature_matches_python_hmac() {
        // Computed once with Python 3:
        //   import base64, hashlib, hmac
        //   key = base64.b64decode("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==")
        //   s = "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:Thu, 03 Dec 2026 16:00:00 GMT\nx-ms-version:2026-04-06\n/devstoreaccount1/devstoreaccount1\ncomp:list"
        //   print(base64.b64encode(hmac.new(key, s.encode(), hashlib.sha256).digest()).decode())
        let string = "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:Thu, 03 Dec 2026 16:00:00 GMT\nx-ms-version:2026-04-06\n\
                      /devstoreaccount1/devstoreaccount1\ncomp:list";
        assert_eq!(sign(&key(), string), PYTHON_SIGNATURE);
    }

    const PYTHON_SIGNATURE: &str = "69qNebyssYoHy0njzRPpEfiMgNGCxq3f07Zr6HICWMo=";

    #[test]
    fn policy_sets_date_and_authorization() {
        let url = Url::parse("http://127.0.0.1:10000/devstoreaccount1?comp=list").unwrap();
        let mut request = Request::new(url, Method::Get);
        request.insert_header("x-ms-version", "2026-04-06");
        let now = OffsetDateTime::from_unix_timestamp(1_796_313_600).unwrap(); // 2026-12-03T16:00:00Z
        SharedKeyPolicy::new("devstoreaccount1", key()).sign_request(&mut request, now);
        let header = |name: &'static str| request.headers().get_optional_str(&name.into()).map(str::to_owned);
        assert_eq!(header("x-ms-date").as_deref(), Some("Thu, 03 Dec 2026 16:00:00 GMT"));
        assert_eq!(header("authorization"), Some(format!("SharedKey devstoreaccount1:{PYTHON_SIGNATURE}")));
    }

    #[test]
    fn debug_hides_the_key() {
        let shown = format!("{:?}", SharedKeyPolicy::new("acct", key()));
        assert_eq!(shown, "SharedKeyPolicy { account: \"acct\", key: AccountKey(<redacted>) }");
    }
}
