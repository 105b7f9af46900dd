//! Shared access signatures: generating an account SAS from the account key.
//!
//! A SAS needs no pipeline policy: the official clients, built with no credential, keep the query
//! of their URL on every request and on every child client. So a [`SasToken`] is applied by
//! putting it in the service URL ([`SasToken::apply_to`], [`StorageAccount::blob_service_url`]).
//!
//! [`StorageAccount::blob_service_url`]: crate::StorageAccount::blob_service_url

use std::time::SystemTime;

use azure_core::time::OffsetDateTime;
use cloudport_core::{Error, Result};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::connection::{AccountKey, SasToken};
use crate::shared_key::sign;

/// The service version an account SAS is signed for (`sv`).
pub const ACCOUNT_SAS_VERSION: &str = "2021-08-06";

/// Permission letters of an account SAS, in the order the service expects them.
const PERMISSION_ORDER: &str = "rwdxylacuptfi";

/// What may be percent-encoded left alone in a query value: RFC 3986 unreserved characters.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// An account SAS for the blob and queue services (`ss=bq`), every resource type (`srt=sco`),
/// over https or http, valid until `expiry`.
///
/// `permissions` are account SAS letters: `r` read, `w` write, `d` delete, `x` delete versions,
/// `y` permanent delete, `l` list, `a` add, `c` create, `u` update, `p` process, `t` tags,
/// `f` filter, `i` set immutability policy; for example `"rwdlacup"`. They are put in the order
/// the service requires.
///
/// ```
/// use std::time::{Duration, SystemTime};
///
/// use cloudport_azure::{AccountKey, DEVELOPMENT_KEY, account_sas};
///
/// let key = AccountKey::from_base64(DEVELOPMENT_KEY)?;
/// let sas = account_sas("devstoreaccount1", &key, "rl", SystemTime::now() + Duration::from_secs(3600))?;
/// assert!(sas.as_str().starts_with("sv=2021-08-06&ss=bq&srt=sco&sp=rl&se="));
/// # Ok::<(), cloudport_core::Error>(())
/// ```
///
/// # Errors
/// An [`ErrorKind::Config`](cloudport_core::ErrorKind::Config) error when `permissions` is empty
/// or has a letter that is not an account SAS permission.
pub fn account_sas(account: &str, key: &AccountKey, permissions: &str, expiry: SystemTime) -> Result<SasToken> {
    let permissions = ordered_permissions(permissions)?;
    let expiry = format_expiry(OffsetDateTime::from(expiry));
    let (services, resource_types, protocols) = ("bq", "sco", "https,http");
    let string = account_sas_string_to_sign(account, &permissions, services, resource_types, &expiry, protocols);
    let signature = sign(key, &string);
    let token = format!(
        "sv={ACCOUNT_SAS_VERSION}&ss={services}&srt={resource_types}&sp={permissions}&se={}&spr={}&sig={}",
        utf8_percent_encode(&expiry, QUERY_VALUE),
        utf8_percent_encode(protocols, QUERY_VALUE),
        utf8_percent_encode(&signature, QUERY_VALUE),
    );
    SasToken::new(&token)
}

/// A service SAS for one blob (`sr=b`), signed with the account key: what presigned URLs carry.
///
/// `resource` is the blob's canonical resource `/blob/<account>/<container>/<blob name>`, the
/// name not percent-encoded. `permissions` are blob SAS letters in the service's order
/// (`racwdxytmei`), for example `"r"` to read or `"cw"` to create and write. Valid over https or
/// http until `expiry`.
///
/// ```
/// use std::time::{Duration, SystemTime};
///
/// use cloudport_azure::{AccountKey, DEVELOPMENT_KEY, blob_sas};
///
/// let key = AccountKey::from_base64(DEVELOPMENT_KEY)?;
/// let resource = "/blob/devstoreaccount1/photos/cat.jpg";
/// let sas = blob_sas(resource, &key, "r", SystemTime::now() + Duration::from_secs(600))?;
/// assert!(sas.as_str().starts_with("sv=2021-08-06&sr=b&sp=r&se="));
/// # Ok::<(), cloudport_core::Error>(())
/// ```
///
/// # Errors
/// An [`ErrorKind::Config`](cloudport_core::ErrorKind::Config) error when `permissions` is empty
/// or has a letter that is not a blob SAS permission.
pub fn blob_sas(resource: &str, key: &AccountKey, permissions: &str, expiry: SystemTime) -> Result<SasToken> {
    const BLOB_PERMISSIONS: &str = "racwdxytmei";
    if permissions.is_empty() || permissions.chars().any(|c| !BLOB_PERMISSIONS.contains(c)) {
        return Err(Error::config(format!(
            "blob SAS permissions {permissions:?} must be letters of `{BLOB_PERMISSIONS}` (e.g. `r` to read)"
        ))
        .with_provider("azure"));
    }
    let permissions: String = BLOB_PERMISSIONS.chars().filter(|c| permissions.contains(*c)).collect();
    let expiry = format_expiry(OffsetDateTime::from(expiry));
    let protocols = "https,http";
    // Version 2020-12-06 and later: permissions, start, expiry, resource, identifier, IP,
    // protocol, version, resource type, snapshot time, encryption scope, then the five
    // response-header overrides, each on its own line (the last without a newline).
    let string = [
        permissions.as_str(),
        "",
        &expiry,
        resource,
        "",
        "",
        protocols,
        ACCOUNT_SAS_VERSION,
        "b",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
    ]
    .join("\n");
    let signature = sign(key, &string);
    let token = format!(
        "sv={ACCOUNT_SAS_VERSION}&sr=b&sp={permissions}&se={}&spr={}&sig={}",
        utf8_percent_encode(&expiry, QUERY_VALUE),
        utf8_percent_encode(protocols, QUERY_VALUE),
        utf8_percent_encode(&signature, QUERY_VALUE),
    );
    SasToken::new(&token)
}

/// The account SAS string to sign of version 2020-12-06 and later: every field followed by
/// `\n`, with the start time, IP range and encryption scope left empty.
fn account_sas_string_to_sign(
    account: &str,
    permissions: &str,
    services: &str,
    resource_types: &str,
    expiry: &str,
    protocols: &str,
) -> String {
    let (start, ip, encryption_scope) = ("", "", "");
    [
        account,
        permissions,
        services,
        resource_types,
        start,
        expiry,
        ip,
        protocols,
        ACCOUNT_SAS_VERSION,
        encryption_scope,
    ]
    .iter()
    .fold(String::new(), |mut out, field| {
        out.push_str(field);
        out.push('\n');
        out
    })
}

fn ordered_permissions(permissions: &str) -> Result<String> {
    if let Some(bad) = permissions.chars().find(|c| !PERMISSION_ORDER.contains(*c)) {
        return Err(Error::config(format!(
            "`{bad}` is not an account SAS permission (use letters of `{PERMISSION_ORDER}`, e.g. `rwdlacup`)"
        ))
        .with_provider("azure"));
    }
    let ordered: String = PERMISSION_ORDER.chars().filter(|c| permissions.contains(*c)).collect();
    if ordered.is_empty() {
        return Err(
            Error::config("an account SAS needs at least one permission (e.g. `r` to read)").with_provider("azure")
        );
    }
    Ok(ordered)
}

/// `YYYY-MM-DDThh:mm:ssZ`, the ISO 8601 form a SAS accepts, in UTC.
fn format_expiry(at: OffsetDateTime) -> String {
    let utc = OffsetDateTime::from_unix_timestamp(at.unix_timestamp()).unwrap_or(at);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        utc.year(),
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second()
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::connection::DEVELOPMENT_KEY;

    /// 2099-01-01T00:00:00Z.
    fn expiry() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(4_070_908_800)
    }

    #[test]
    fn string_to_sign_has_every_field_and_a_trailing_newline() {
        assert_eq!(
            account_sas_string_to_sign(
                "devstoreaccount1",
                "rwdlacup",
                "bq",
                "sco",
                "2099-01-01T00:00:00Z",
                "https,http"
            ),
            "devstoreaccount1\nrwdlacup\nbq\nsco\n\n2099-01-01T00:00:00Z\n\nhttps,http\n2021-08-06\n\n"
        );
    }

    #[test]
    fn token_is_signed_and_encoded() {
        let key = AccountKey::from_base64(DEVELOPMENT_KEY).unwrap();
        let sas = account_sas("devstoreaccount1", &key, "pucalwdr", expiry()).unwrap();
        // The signature of the string above, computed once with Python 3:
        //   import base64, hashlib, hmac, urllib.parse
        //   key = base64.b64decode("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==")
        //   s = "devstoreaccount1\nrwdlacup\nbq\nsco\n\n2099-01-01T00:00:00Z\n\nhttps,http\n2021-08-06\n\n"
        //   print(urllib.parse.quote(base64.b64encode(hmac.new(key, s.encode(), hashlib.sha256).digest()).decode(), safe=""))
        assert_eq!(
            sas.as_str(),
            format!(
                "sv=2021-08-06&ss=bq&srt=sco&sp=rwdlacup&se=2099-01-01T00%3A00%3A00Z&spr=https%2Chttp&sig={PYTHON_SIG}"
            )
        );
    }

    const PYTHON_SIG: &str = "1tmwxodjvXAEaYjPSDfgKvuIi8qNP7dj%2FNoQuCE3hXg%3D";

    #[test]
    fn bad_permissions_are_config_errors() {
        let key = AccountKey::from_base64(DEVELOPMENT_KEY).unwrap();
        let e = account_sas("a", &key, "rz", expiry()).unwrap_err();
        assert_eq!(e.kind(), cloudport_core::ErrorKind::Config);
        assert!(e.message().contains("`z` is not an account SAS permission"), "{e}");
        assert!(account_sas("a", &key, "", expiry()).unwrap_err().message().contains("at least one"));
    }

    #[test]
    fn expiry_is_utc_iso8601() {
        assert_eq!(
            format_expiry(OffsetDateTime::from(expiry() + Duration::from_millis(1_500))),
            "2099-01-01T00:00:01Z"
        );
    }
}
