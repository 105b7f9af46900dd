//! Azure Storage connection strings: which account, where its services are, how to sign in.
//!
//! A connection string is what the Azure portal, `az storage account show-connection-string` and
//! Azurite hand out: `Name=value` pairs separated by `;`, for example
//! `DefaultEndpointsProtocol=https;AccountName=myaccount;AccountKey=<base64>;EndpointSuffix=core.windows.net`.
//! [`StorageAccount::from_connection_string`] turns one into endpoints and a [`Credential`].
//!
//! Secrets never leave these types by accident: [`AccountKey`] and [`SasToken`] redact themselves
//! in `Debug`, and no error message repeats a value from the connection string.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use azure_core::http::policies::Policy;
use azure_core::http::{ClientOptions, ExponentialRetryOptions, RetryOptions};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cloudport_core::{Error, Result};
use url::Url;

use crate::shared_key::SharedKeyPolicy;

/// The variable holding the connection string `az://` and `azqueue://` URLs take their
/// endpoints and credentials from.
pub const CONNECTION_STRING_VAR: &str = "AZURE_STORAGE_CONNECTION_STRING";

/// How long the official clients may keep retrying one operation (transient failures,
/// throttling, an unreachable endpoint) before the error goes to the caller.
pub const RETRY_BUDGET: std::time::Duration = std::time::Duration::from_secs(10);

/// The account name of the storage emulator Azurite (and of the retired Storage Emulator).
pub const DEVELOPMENT_ACCOUNT: &str = "devstoreaccount1";

/// The account key of [`DEVELOPMENT_ACCOUNT`]: public, the same in every Azurite.
pub const DEVELOPMENT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Azurite's blob endpoint on its default port (path-style: the account is the first segment).
const DEVELOPMENT_BLOB_ENDPOINT: &str = "http://127.0.0.1:10000/devstoreaccount1";
/// Azurite's queue endpoint on its default port.
const DEVELOPMENT_QUEUE_ENDPOINT: &str = "http://127.0.0.1:10001/devstoreaccount1";

/// Connection string settings that are valid but name services this crate does not use.
const IGNORED_SETTINGS: [&str; 7] = [
    "TableEndpoint",
    "FileEndpoint",
    "BlobSecondaryEndpoint",
    "QueueSecondaryEndpoint",
    "TableSecondaryEndpoint",
    "FileSecondaryEndpoint",
    "DevelopmentStorageProxyUri",
];

fn config(message: impl Into<String>) -> Error {
    Error::config(message).with_provider("azure")
}

/// An Azure Storage account: its name, where its blob and queue services answer, and how
/// requests to them authenticate.
///
/// ```
/// use cloudport_azure::{Credential, StorageAccount};
///
/// let account = StorageAccount::from_connection_string(
///     "DefaultEndpointsProtocol=https;AccountName=myaccount;AccountKey=a2V5;EndpointSuffix=core.windows.net",
/// )?;
/// assert_eq!(account.name, "myaccount");
/// assert_eq!(account.blob_endpoint.as_str(), "https://myaccount.blob.core.windows.net/");
/// assert_eq!(account.queue_endpoint.as_str(), "https://myaccount.queue.core.windows.net/");
/// assert!(matches!(account.credential, Credential::AccountKey(_)));
/// # Ok::<(), cloudport_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageAccount {
    /// The account name, as in `https://<name>.blob.core.windows.net`.
    pub name: String,
    /// The blob service endpoint, without a trailing slash after a path (`http://127.0.0.1:10000/devstoreaccount1`).
    pub blob_endpoint: Url,
    /// The queue service endpoint, without a trailing slash after a path.
    pub queue_endpoint: Url,
    /// How requests authenticate.
    pub credential: Credential,
}

/// How requests to a [`StorageAccount`] authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// SharedKey: every request is signed with the account key ([`SharedKeyPolicy`]).
    AccountKey(AccountKey),
    /// A shared access signature, sent as the query of every request URL.
    Sas(SasToken),
    /// No secret in the connection string: requests need a Microsoft Entra ID token credential,
    /// passed to the Azure clients' constructors.
    Entra,
}

impl StorageAccount {
    /// The account of a local Azurite on its default ports: `UseDevelopmentStorage=true`.
    ///
    /// # Panics
    /// Never: the development endpoints and key are constants known to be valid.
    #[must_use]
    pub fn development() -> Self {
        Self {
            name: DEVELOPMENT_ACCOUNT.to_owned(),
            blob_endpoint: Url::parse(DEVELOPMENT_BLOB_ENDPOINT).expect("a valid constant URL"),
            queue_endpoint: Url::parse(DEVELOPMENT_QUEUE_ENDPOINT).expect("a valid constant URL"),
            credential: Credential::AccountKey(AccountKey::from_base64(DEVELOPMENT_KEY).expect("a valid constant key")),
        }
    }

    /// Parses an Azure Storage connection string.
    ///
    /// Understood settings (names are case-insensitive): `DefaultEndpointsProtocol` (`https`, the
    /// default, or `http`), `AccountName`, `AccountKey`, `SharedAccessSignature`, `BlobEndpoint`,
    /// `QueueEndpoint`, `EndpointSuffix` (default `core.windows.net`) and
    /// `UseDevelopmentStorage=true` (alone: Azurite on its default ports, see [`Self::development`]).
    /// Settings for other services (`TableEndpoint`, `FileEndpoint`, secondary endpoints) are
    /// ignored. Endpoints not given are derived as `<protocol>://<account>.<service>.<suffix>`.
    ///
    /// # Errors
    /// An [`ErrorKind::Config`](cloudport_core::ErrorKind::Config) error saying what to fix when a
    /// setting is unknown, repeated or malformed, when the account key is not base64, when both a
    /// key and a SAS are given, or when an endpoint cannot be derived. The message never contains
    /// the key or the signature.
    pub fn from_connection_string(connection_string: &str) -> Result<Self> {
        let mut settings = Settings::default();
        for (index, part) in connection_string.split(';').enumerate() {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let Some((name, value)) = part.split_once('=') else {
                return Err(config(format!(
                    "part {} of the Azure Storage connection string has no `=` (expected `Name=value` pairs separated by `;`)",
                    index + 1
                )));
            };
            settings.set(name.trim(), value.trim())?;
        }
        settings.into_account()
    }

    /// The blob service URL to give `BlobServiceClient::new`: the endpoint, with the SAS token as
    /// its query when the credential is [`Credential::Sas`].
    #[must_use]
    pub fn blob_service_url(&self) -> Url {
        self.service_url(&self.blob_endpoint)
    }

    /// The queue service URL to give `QueueServiceClient::new`: the endpoint, with the SAS token
    /// as its query when the credential is [`Credential::Sas`].
    #[must_use]
    pub fn queue_service_url(&self) -> Url {
        self.service_url(&self.queue_endpoint)
    }

    fn service_url(&self, endpoint: &Url) -> Url {
        match &self.credential {
            Credential::Sas(sas) => sas.apply_to(endpoint),
            Credential::AccountKey(_) | Credential::Entra => endpoint.clone(),
        }
    }

    /// The account a `<scheme>://<name>/...` URL names: the one `connection_string` describes
    /// (normally the value of [`CONNECTION_STRING_VAR`]), which must be `name`; without one,
    /// `name`'s public endpoints with [`Credential::Entra`].
    pub(crate) fn for_url(scheme: &str, name: &str, connection_string: Option<&str>) -> Result<Self> {
        if let Some(connection_string) = connection_string.filter(|s| !s.trim().is_empty()) {
            let account = Self::from_connection_string(connection_string)?;
            if !account.name.eq_ignore_ascii_case(name) {
                return Err(Error::config(format!(
                    "the {scheme}:// URL names account {name:?} but {CONNECTION_STRING_VAR} is for account {:?} (use the same account in both)",
                    account.name
                )));
            }
            return Ok(account);
        }
        let public = |service: &str| {
            Url::parse(&format!("https://{name}.{service}.core.windows.net"))
                .map_err(|_| Error::config(format!("{name:?} is not a valid Azure Storage account name")))
        };
        Ok(Self {
            name: name.to_owned(),
            blob_endpoint: public("blob")?,
            queue_endpoint: public("queue")?,
            credential: Credential::Entra,
        })
    }

    /// Options for the official clients: [`per_try_policies`](Self::per_try_policies), and
    /// retries bounded by [`RETRY_BUDGET`] in all (azure_core's default keeps retrying an
    /// unreachable endpoint for a minute), so a failure reaches the caller in bounded time.
    #[must_use]
    pub fn client_options(&self) -> ClientOptions {
        let retry = ExponentialRetryOptions {
            initial_delay: azure_core::time::Duration::milliseconds(200),
            max_retries: 4,
            max_total_elapsed: azure_core::time::Duration::try_from(RETRY_BUDGET).unwrap_or_default(),
            max_delay: azure_core::time::Duration::seconds(4),
        };
        ClientOptions {
            per_try_policies: self.per_try_policies(),
            retry: RetryOptions::exponential(retry),
            ..Default::default()
        }
    }

    /// The policies to put in the Azure clients' `ClientOptions::per_try_policies`: a
    /// [`SharedKeyPolicy`] for an account key, none for a SAS (it travels in the URL, see
    /// [`Self::blob_service_url`]) or for Entra ID (pass a token credential to the client instead).
    #[must_use]
    pub fn per_try_policies(&self) -> Vec<Arc<dyn Policy>> {
        match &self.credential {
            Credential::AccountKey(key) => vec![Arc::new(SharedKeyPolicy::new(&self.name, key.clone()))],
            Credential::Sas(_) | Credential::Entra => Vec::new(),
        }
    }
}

impl FromStr for StorageAccount {
    type Err = Error;

    /// Same as [`StorageAccount::from_connection_string`].
    fn from_str(s: &str) -> Result<Self> {
        Self::from_connection_string(s)
    }
}

/// The settings of one connection string, before validation.
#[derive(Default)]
struct Settings {
    development: Option<String>,
    protocol: Option<String>,
    name: Option<String>,
    key: Option<String>,
    sas: Option<String>,
    blob: Option<String>,
    queue: Option<String>,
    suffix: Option<String>,
    others: Vec<String>,
}

impl Settings {
    fn set(&mut self, name: &str, value: &str) -> Result<()> {
        let (canonical, slot) = match name.to_ascii_lowercase().as_str() {
            "usedevelopmentstorage" => ("UseDevelopmentStorage", &mut self.development),
            "defaultendpointsprotocol" => ("DefaultEndpointsProtocol", &mut self.protocol),
            "accountname" => ("AccountName", &mut self.name),
            "accountkey" => ("AccountKey", &mut self.key),
            "sharedaccesssignature" => ("SharedAccessSignature", &mut self.sas),
            "blobendpoint" => ("BlobEndpoint", &mut self.blob),
            "queueendpoint" => ("QueueEndpoint", &mut self.queue),
            "endpointsuffix" => ("EndpointSuffix", &mut self.suffix),
            _ => {
                if let Some(ignored) = IGNORED_SETTINGS.iter().find(|s| s.eq_ignore_ascii_case(name)) {
                    self.others.push((*ignored).to_owned());
                    return Ok(());
                }
                // Values are never repeated, and neither is a "name" that may be a pasted secret
                // (a base64 key has `=` in it, so `<key>` alone parses as a setting).
                let looks_like_a_name = name.len() <= 32 && name.chars().all(|c| c.is_ascii_alphanumeric());
                let shown = if looks_like_a_name { format!("`{name}`") } else { "(name not shown)".to_owned() };
                return Err(config(format!(
                    "unknown setting {shown} in the Azure Storage connection string (check its spelling: expected \
                     AccountName, AccountKey, SharedAccessSignature, BlobEndpoint, QueueEndpoint, EndpointSuffix, \
                     DefaultEndpointsProtocol or UseDevelopmentStorage)"
                )));
            }
        };
        if slot.is_some() {
            return Err(config(format!(
                "`{canonical}` appears twice in the Azure Storage connection string (keep one)"
            )));
        }
        if value.is_empty() {
            return Err(config(format!(
                "`{canonical}` is empty in the Azure Storage connection string (give it a value or remove it)"
            )));
        }
        *slot = Some(value.to_owned());
        Ok(())
    }

    fn into_account(self) -> Result<StorageAccount> {
        if let Some(development) = &self.development {
            if !development.eq_ignore_ascii_case("true") {
                return Err(config("`UseDevelopmentStorage` must be `true` (remove it to connect to a real account)"));
            }
            let has_others = self.protocol.is_some()
                || self.name.is_some()
                || self.key.is_some()
                || self.sas.is_some()
                || self.blob.is_some()
                || self.queue.is_some()
                || self.suffix.is_some()
                || !self.others.is_empty();
            if has_others {
                return Err(config(
                    "`UseDevelopmentStorage=true` stands alone (for Azurite on other ports, write AccountName, \
                     AccountKey, BlobEndpoint and QueueEndpoint instead)",
                ));
            }
            return Ok(StorageAccount::development());
        }

        let protocol = match self.protocol.as_deref() {
            None => "https",
            Some(p) if p.eq_ignore_ascii_case("https") => "https",
            Some(p) if p.eq_ignore_ascii_case("http") => "http",
            Some(_) => return Err(config("`DefaultEndpointsProtocol` must be `https` or `http`")),
        };
        let suffix = self.suffix.as_deref().unwrap_or("core.windows.net");

        let blob = self.blob.as_deref().map(|url| endpoint("BlobEndpoint", url)).transpose()?;
        let queue = self.queue.as_deref().map(|url| endpoint("QueueEndpoint", url)).transpose()?;
        let name = match self.name {
            Some(name) => name,
            None => blob.as_ref().or(queue.as_ref()).and_then(account_from_endpoint).ok_or_else(|| {
                config("the Azure Storage connection string names no account (add `AccountName=<your account>`)")
            })?,
        };
        let derive = |service: &str| -> Result<Url> {
            Url::parse(&format!("{protocol}://{name}.{service}.{suffix}")).map_err(|_| {
                config(format!(
                    "cannot derive the {service} endpoint from AccountName and EndpointSuffix (check both, or set \
                     `{}Endpoint=<url>`)",
                    if service == "blob" { "Blob" } else { "Queue" }
                ))
            })
        };
        let blob_endpoint = match blob {
            Some(url) => url,
            None => derive("blob")?,
        };
        let queue_endpoint = match queue {
            Some(url) => url,
            None => derive("queue")?,
        };

        let credential = match (self.key, self.sas) {
            (Some(_), Some(_)) => {
                return Err(config(
                    "the Azure Storage connection string has both `AccountKey` and `SharedAccessSignature` (keep one)",
                ));
            }
            (Some(key), None) => Credential::AccountKey(AccountKey::from_base64(&key)?),
            (None, Some(sas)) => Credential::Sas(SasToken::new(&sas)?),
            (None, None) => Credential::Entra,
        };
        Ok(StorageAccount { name, blob_endpoint, queue_endpoint, credential })
    }
}

/// Parses an explicit endpoint, dropping a trailing `/` after a path (the SDK appends segments).
fn endpoint(setting: &str, value: &str) -> Result<Url> {
    let mut url = Url::parse(value).map_err(|e| {
        config(format!("`{setting}` is not a URL ({e}): write it like `https://myaccount.blob.core.windows.net`"))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(config(format!("`{setting}` must be an http or https URL")));
    }
    if url.query().is_some() {
        return Err(config(format!(
            "`{setting}` has a query; put a SAS token in `SharedAccessSignature=<token>` instead"
        )));
    }
    if url.path() != "/" {
        url.path_segments_mut().expect("checked: can be a base").pop_if_empty();
    }
    Ok(url)
}

/// The account of an endpoint: the first path segment on a loopback or IP host (path-style,
/// as Azurite serves), else the first label of the host name.
fn account_from_endpoint(url: &Url) -> Option<String> {
    let path_style = match url.host()? {
        url::Host::Domain(domain) => domain == "localhost",
        url::Host::Ipv4(_) | url::Host::Ipv6(_) => true,
    };
    let name = if path_style { url.path_segments()?.next()? } else { url.host_str()?.split('.').next()? };
    (!name.is_empty()).then(|| name.to_owned())
}

/// A decoded storage account key. `Debug` prints `AccountKey(<redacted>)`.
#[derive(Clone, PartialEq, Eq)]
pub struct AccountKey(Vec<u8>);

impl AccountKey {
    /// Decodes a key as the portal shows it (standard base64, 88 characters for a 64-byte key).
    ///
    /// ```
    /// use cloudport_azure::{AccountKey, DEVELOPMENT_KEY};
    ///
    /// let key = AccountKey::from_base64(DEVELOPMENT_KEY)?;
    /// assert_eq!(key.as_bytes().len(), 64);
    /// assert_eq!(format!("{key:?}"), "AccountKey(<redacted>)");
    /// # Ok::<(), cloudport_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// An [`ErrorKind::Config`](cloudport_core::ErrorKind::Config) error when the key is empty or
    /// not standard base64. The message does not contain the key.
    pub fn from_base64(key: &str) -> Result<Self> {
        let key = key.trim();
        if key.is_empty() {
            return Err(config("the Azure Storage account key is empty (copy key1 or key2 from the portal)"));
        }
        match STANDARD.decode(key) {
            Ok(bytes) if !bytes.is_empty() => Ok(Self(bytes)),
            // The decoder's error names the offending byte: part of the key, so not passed on.
            _ => Err(config(format!(
                "the Azure Storage account key is not valid base64 ({} characters; a portal key is 88 characters \
                 of A-Z, a-z, 0-9, `+` and `/` ending in `==`: copy it again in full)",
                key.chars().count()
            ))),
        }
    }

    /// The key's bytes, the HMAC-SHA256 key of every signature.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccountKey(<redacted>)")
    }
}

/// A shared access signature: the query string a SAS URL carries (`sv=...&sig=...`), without
/// the leading `?`. `Debug` shows its fields with the `sig` value redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct SasToken(String);

impl SasToken {
    /// Accepts a SAS token as the portal or a generator prints it, with or without the leading `?`.
    ///
    /// ```
    /// use cloudport_azure::SasToken;
    ///
    /// let sas = SasToken::new("?sv=2021-08-06&ss=b&srt=sco&sp=r&se=2099-01-01T00%3A00%3A00Z&sig=c2VjcmV0")?;
    /// assert_eq!(format!("{sas:?}"), "SasToken(\"sv=2021-08-06&ss=b&srt=sco&sp=r&se=2099-01-01T00%3A00%3A00Z&sig=<redacted>\")");
    /// # Ok::<(), cloudport_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// An [`ErrorKind::Config`](cloudport_core::ErrorKind::Config) error when the token is empty
    /// or has no `sig` parameter (a truncated copy). The message does not contain the signature.
    pub fn new(token: &str) -> Result<Self> {
        let token = token.trim().trim_start_matches('?');
        if token.is_empty() {
            return Err(config("the SAS token is empty (copy the query part of the SAS URL, `sv=...&sig=...`)"));
        }
        let has_sig =
            token.split('&').any(|pair| pair.split_once('=').is_some_and(|(k, v)| k == "sig" && !v.is_empty()));
        if !has_sig {
            return Err(config(
                "the SAS token has no `sig` parameter (copy the whole token, `sv=...&sig=...`, not just part of it)",
            ));
        }
        Ok(Self(token.to_owned()))
    }

    /// The token as sent: a URL query without the leading `?`. It is a secret; do not log it.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `url` with the token appended to its query.
    #[must_use]
    pub fn apply_to(&self, url: &Url) -> Url {
        let mut url = url.clone();
        let query = match url.query() {
            Some(existing) if !existing.is_empty() => format!("{existing}&{}", self.0),
            _ => self.0.clone(),
        };
        url.set_query(Some(&query));
        url
    }
}

impl fmt::Debug for SasToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted: Vec<String> = self
            .0
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some(("sig", _)) => "sig=<redacted>".to_owned(),
                _ => pair.to_owned(),
            })
            .collect();
        f.debug_tuple("SasToken").field(&redacted.join("&")).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudport_core::ErrorKind;

    const KEY: &str = DEVELOPMENT_KEY;
    const SIG: &str = "c2VjcmV0LXNpZ25hdHVyZQ%3D%3D";

    fn err(connection_string: &str) -> Error {
        StorageAccount::from_connection_string(connection_string).expect_err(connection_string)
    }

    /// The message of a failing parse, checked to be a config error that leaks no secret.
    fn message(connection_string: &str) -> String {
        let e = err(connection_string);
        assert_eq!(e.kind(), ErrorKind::Config, "{e}");
        let shown = format!("{e} {e:?}");
        for secret in [KEY, &KEY[..20], SIG, "c2VjcmV0", "not-base64!!"] {
            assert!(!shown.contains(secret), "error leaks a secret: {shown}");
        }
        e.message().to_owned()
    }

    #[test]
    fn development_storage() {
        let account = StorageAccount::from_connection_string("UseDevelopmentStorage=true").unwrap();
        assert_eq!(account.name, "devstoreaccount1");
        assert_eq!(account.blob_endpoint.as_str(), "http://127.0.0.1:10000/devstoreaccount1");
        assert_eq!(account.queue_endpoint.as_str(), "http://127.0.0.1:10001/devstoreaccount1");
        let Credential::AccountKey(key) = &account.credential else { panic!("{:?}", account.credential) };
        assert_eq!(key.as_bytes(), STANDARD.decode(KEY).unwrap());
        assert_eq!(key.as_bytes().len(), 64);
        assert_eq!(account, "usedevelopmentstorage=TRUE;".parse().unwrap());
    }

    #[test]
    fn development_storage_stands_alone() {
        assert!(message("UseDevelopmentStorage=true;AccountName=x").contains("stands alone"));
        assert!(message("UseDevelopmentStorage=false").contains("must be `true`"));
    }

    #[test]
    fn account_key_with_derived_endpoints() {
        let account = StorageAccount::from_connection_string(&format!(
            "DefaultEndpointsProtocol=https;AccountName=myaccount;AccountKey={KEY};EndpointSuffix=core.chinacloudapi.cn"
        ))
        .unwrap();
        assert_eq!(account.name, "myaccount");
        assert_eq!(account.blob_endpoint.as_str(), "https://myaccount.blob.core.chinacloudapi.cn/");
        assert_eq!(account.queue_endpoint.as_str(), "https://myaccount.queue.core.chinacloudapi.cn/");
        assert!(matches!(account.credential, Credential::AccountKey(_)));
        assert_eq!(account.blob_service_url(), account.blob_endpoint);
        assert_eq!(account.per_try_policies().len(), 1);
    }

    #[test]
    fn defaults_are_https_and_core_windows_net() {
        let account = StorageAccount::from_connection_string(&format!("AccountName=acct;AccountKey={KEY}")).unwrap();
        assert_eq!(account.blob_endpoint.as_str(), "https://acct.blob.core.windows.net/");
        assert_eq!(account.queue_endpoint.as_str(), "https://acct.queue.core.windows.net/");
        let http = StorageAccount::from_connection_string("DefaultEndpointsProtocol=http;AccountName=acct").unwrap();
        assert_eq!(http.blob_endpoint.scheme(), "http");
        assert_eq!(http.credential, Credential::Entra);
        assert!(http.per_try_policies().is_empty());
    }

    #[test]
    fn explicit_path_style_endpoints_lose_the_trailing_slash() {
        let account = StorageAccount::from_connection_string(&format!(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={KEY};\
             BlobEndpoint=http://127.0.0.1:41000/devstoreaccount1/;QueueEndpoint=http://127.0.0.1:41001/devstoreaccount1;\
             TableEndpoint=http://127.0.0.1:41002/devstoreaccount1;"
        ))
        .unwrap();
        assert_eq!(account.blob_endpoint.as_str(), "http://127.0.0.1:41000/devstoreaccount1");
        assert_eq!(account.queue_endpoint.as_str(), "http://127.0.0.1:41001/devstoreaccount1");
    }

    #[test]
    fn sas_without_account_name() {
        let account = StorageAccount::from_connection_string(&format!(
            "BlobEndpoint=https://acct.blob.core.windows.net;SharedAccessSignature=?sv=2021-08-06&ss=bq&sig={SIG}"
        ))
        .unwrap();
        assert_eq!(account.name, "acct");
        assert_eq!(account.queue_endpoint.as_str(), "https://acct.queue.core.windows.net/");
        let Credential::Sas(sas) = &account.credential else { panic!("{:?}", account.credential) };
        assert_eq!(sas.as_str(), format!("sv=2021-08-06&ss=bq&sig={SIG}"));
        assert_eq!(
            account.blob_service_url().as_str(),
            format!("https://acct.blob.core.windows.net/?sv=2021-08-06&ss=bq&sig={SIG}")
        );
        assert!(account.per_try_policies().is_empty());

        let path_style = StorageAccount::from_connection_string(&format!(
            "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;\
             SharedAccessSignature=sv=1&sig={SIG}"
        ))
        .unwrap();
        assert_eq!(path_style.name, "devstoreaccount1");
    }

    #[test]
    fn bad_key_is_a_clear_error_without_the_key() {
        let m = message("AccountName=a;AccountKey=not-base64!!");
        assert!(m.contains("not valid base64") && m.contains("88 characters"), "{m}");
        // The mistyped variant that circulates: valid characters, wrong length.
        let m = message(&format!("AccountName=a;AccountKey={KEY}=="));
        assert!(m.contains("not valid base64"), "{m}");
        let e = AccountKey::from_base64("  ").unwrap_err();
        assert!(e.message().contains("empty"), "{e}");
    }

    #[test]
    fn malformed_strings_say_what_to_fix() {
        assert!(
            message("AccountName=a;myaccount").contains("part 2") && message("AccountName=a;x").contains("has no `=`")
        );
        // A key pasted without `AccountKey=` (it contains `=`) is not repeated as a setting name.
        assert!(message(&format!("AccountName=a;{KEY}")).contains("unknown setting (name not shown)"));
        assert!(message(&format!("AccountName=a;AcountKey={KEY}")).contains("unknown setting `AcountKey`"));
        assert!(message(&format!("AccountName=a;AccountKey={KEY};accountkey={KEY}")).contains("appears twice"));
        assert!(message("AccountName=a;AccountKey=").contains("is empty"));
        assert!(message(&format!("AccountKey={KEY}")).contains("AccountName="));
        assert!(
            message(&format!("AccountName=a;AccountKey={KEY};SharedAccessSignature=sig={SIG}")).contains("keep one")
        );
        assert!(message("AccountName=a;SharedAccessSignature=sv=2021-08-06&ss=b").contains("no `sig`"));
        assert!(message("AccountName=a;DefaultEndpointsProtocol=ftp").contains("`https` or `http`"));
        assert!(message("AccountName=a;BlobEndpoint=not a url").contains("not a URL"));
        assert!(
            message(&format!("AccountName=a;BlobEndpoint=https://a.blob.core.windows.net?sig={SIG}"))
                .contains("has a query")
        );
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let account = StorageAccount::development();
        let shown = format!("{account:?}");
        assert!(shown.contains("AccountKey(<redacted>)"), "{shown}");
        assert!(!shown.contains(&KEY[..12]), "{shown}");

        let sas = SasToken::new(&format!("sv=2021-08-06&sig={SIG}&sp=r")).unwrap();
        let shown = format!("{sas:?}");
        assert_eq!(shown, "SasToken(\"sv=2021-08-06&sig=<redacted>&sp=r\")");
    }

    #[test]
    fn sas_is_appended_to_an_existing_query() {
        let sas = SasToken::new(&format!("sv=1&sig={SIG}")).unwrap();
        let url = Url::parse("http://127.0.0.1:10000/devstoreaccount1/c?restype=container").unwrap();
        assert_eq!(
            sas.apply_to(&url).as_str(),
            format!("http://127.0.0.1:10000/devstoreaccount1/c?restype=container&sv=1&sig={SIG}")
        );
    }
}
