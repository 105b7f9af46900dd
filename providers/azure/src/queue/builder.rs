//! Building an [`AzureQueue`]: [`AzureQueueBuilder`] and `azqueue://` URLs.

use std::sync::Arc;

use cloudport_core::config::UrlOptions;
use cloudport_core::{DeadLetterPolicy, Error, Result};
use tokio::sync::OnceCell;
use url::Url;

use super::leases::Leases;
use super::{AzureQueue, Inner, Source};
use crate::connection::{Credential, StorageAccount};

use crate::connection::CONNECTION_STRING_VAR;

/// The dead-letter queue Azure Functions uses for `queue`: `<queue>-poison`.
///
/// ```
/// assert_eq!(cloudport_azure::poison_queue_name("orders"), "orders-poison");
/// ```
#[must_use]
pub fn poison_queue_name(queue: &str) -> String {
    format!("{queue}-poison")
}

/// Builds an [`AzureQueue`]; see [`AzureQueue::builder`].
#[derive(Debug, Clone)]
pub struct AzureQueueBuilder {
    name: String,
    source: Source,
    create: bool,
    dead_letter: Option<DeadLetterPolicy>,
}

impl AzureQueueBuilder {
    /// Creates the queue on first use when it is missing (the dead-letter queue is created when
    /// the first message moves there, whatever this says).
    #[must_use]
    pub fn create(mut self, on: bool) -> Self {
        self.create = on;
        self
    }

    /// Moves a message to `policy.queue` instead of delivering it once it has been delivered
    /// `policy.max_deliveries` times, and lets [`Queue::dead_letter`](cloudport_core::Queue::dead_letter)
    /// move messages there. Azure has no dead-lettering of its own: cloudport does it on
    /// receive. Azure Functions' convention for the queue is [`poison_queue_name`].
    #[must_use]
    pub fn dead_letter(mut self, policy: DeadLetterPolicy) -> Self {
        self.dead_letter = Some(policy);
        self
    }

    /// The queue. Nothing is sent to Azure until its first operation.
    ///
    /// # Errors
    /// `Config` for an invalid queue name (of the queue or the dead-letter queue) or a policy of
    /// zero deliveries.
    pub fn build(self) -> Result<AzureQueue> {
        validate_name(&self.name)?;
        if let Some(policy) = &self.dead_letter {
            validate_name(&policy.queue)?;
            if policy.queue == self.name {
                return Err(Error::config(format!("azure queue {:?} cannot be its own dead-letter queue", self.name)));
            }
            if policy.max_deliveries == 0 {
                return Err(Error::config("a dead-letter policy needs max_deliveries of at least 1"));
            }
        }
        Ok(AzureQueue {
            inner: Arc::new(Inner {
                name: self.name,
                source: self.source,
                create: self.create,
                dead_letter: self.dead_letter,
                clients: OnceCell::new(),
                leases: Leases::default(),
            }),
        })
    }
}

/// Azure queue names: 3-63 lowercase letters, digits and single hyphens, starting and ending
/// with a letter or digit.
fn validate_name(name: &str) -> Result<()> {
    let valid = (3..=63).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    if valid {
        Ok(())
    } else {
        Err(Error::config(format!(
            "{name:?} is not a valid Azure queue name (3-63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit)"
        )))
    }
}

impl AzureQueue {
    /// A builder for the queue `name` of `account` (from
    /// [`StorageAccount::from_connection_string`], or [`StorageAccount::development`] for Azurite).
    ///
    /// ```
    /// use cloudport_azure::{AzureQueue, StorageAccount};
    /// use cloudport_core::{DeadLetterPolicy, Queue};
    ///
    /// let queue = AzureQueue::builder(StorageAccount::development(), "orders")
    ///     .create(true)
    ///     .dead_letter(DeadLetterPolicy::new("orders-poison", 5))
    ///     .build()?;
    /// assert_eq!(queue.name(), "orders");
    /// # Ok::<(), cloudport_core::Error>(())
    /// ```
    #[must_use]
    pub fn builder(account: StorageAccount, name: impl Into<String>) -> AzureQueueBuilder {
        AzureQueueBuilder {
            name: name.into(),
            source: Source::Account(Box::new(account)),
            create: false,
            dead_letter: None,
        }
    }

    /// Opens `azqueue://<account>/<queue>[?options]`, with the credentials and endpoints of the
    /// connection string in `AZURE_STORAGE_CONNECTION_STRING` (its account must be the URL's).
    ///
    /// Options: `create=true` (create the queue when missing), `max_deliveries=N` (move a
    /// message to the dead-letter queue instead of delivering it an N+1th time) and
    /// `dead_letter=NAME` (the dead-letter queue; default `<queue>-poison`, Azure Functions'
    /// convention). Without the variable the queue is still built, and its first operation fails
    /// with `Config`: Microsoft Entra ID sign-in is not supported yet.
    ///
    /// ```
    /// let url = "azqueue://devstoreaccount1/orders?max_deliveries=5&create=true".parse().unwrap();
    /// let queue = cloudport_azure::AzureQueue::from_url(&url)?;
    /// assert_eq!(cloudport_core::Queue::name(&queue), "orders");
    /// # Ok::<(), cloudport_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// `Config` for another scheme, a URL without account or queue, an unknown or invalid
    /// option, an invalid connection string, or a connection string for another account.
    pub fn from_url(url: &Url) -> Result<Self> {
        let connection_string = std::env::var(CONNECTION_STRING_VAR).ok();
        Self::from_url_with(url, connection_string.as_deref())
    }

    /// [`AzureQueue::from_url`] with the connection string given, not read from the environment.
    pub(super) fn from_url_with(url: &Url, connection_string: Option<&str>) -> Result<Self> {
        if url.scheme() != "azqueue" {
            return Err(Error::config(format!("{url} is not an azqueue:// URL")));
        }
        let usage = "use azqueue://<account>/<queue>";
        let account = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| Error::config(format!("the Azure queue URL {url} names no account ({usage})")))?;
        let queue = url.path().strip_prefix('/').unwrap_or_default();
        if queue.is_empty() || queue.contains('/') {
            return Err(Error::config(format!("the Azure queue URL {url} must name one queue ({usage})")));
        }
        let source = match StorageAccount::for_url("azqueue", account, connection_string)? {
            parsed if matches!(parsed.credential, Credential::Entra) => Source::NoCredentials,
            parsed => Source::Account(Box::new(parsed)),
        };
        let mut opts = UrlOptions::new(url);
        let create = opts.take_parsed::<bool>("create")?.unwrap_or(false);
        let max_deliveries = opts.take_parsed::<u32>("max_deliveries")?;
        let dead_letter = match (opts.take("dead_letter"), max_deliveries) {
            (dlq, Some(n)) => Some(DeadLetterPolicy::new(dlq.unwrap_or_else(|| poison_queue_name(queue)), n)),
            (Some(_), None) => {
                return Err(Error::config(
                    "azqueue:// URLs take dead_letter= only with max_deliveries= (how many deliveries before a message moves there)",
                ));
            }
            (None, None) => None,
        };
        opts.finish()?;
        let builder = AzureQueueBuilder { name: queue.to_owned(), source, create, dead_letter };
        builder.build()
    }
}

#[cfg(test)]
mod tests {
    use cloudport_core::{ErrorKind, Queue};

    use super::*;
    use crate::connection::DEVELOPMENT_KEY;

    fn dev_string(account: &str) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName={account};AccountKey={DEVELOPMENT_KEY};QueueEndpoint=http://127.0.0.1:1/{account}"
        )
    }

    fn open(url: &str, cs: Option<&str>) -> Result<AzureQueue> {
        AzureQueue::from_url_with(&url.parse().unwrap(), cs)
    }

    #[test]
    fn urls_name_account_queue_and_options() {
        let cs = dev_string("devstoreaccount1");
        let q = open("azqueue://devstoreaccount1/jobs?create=true&max_deliveries=3", Some(&cs)).unwrap();
        assert_eq!(q.name(), "jobs");
        assert!(q.inner.create);
        assert_eq!(q.inner.dead_letter, Some(DeadLetterPolicy::new("jobs-poison", 3)));
        let q = open("azqueue://devstoreaccount1/jobs?dead_letter=jobs-dlq&max_deliveries=2", Some(&cs)).unwrap();
        assert_eq!(q.inner.dead_letter, Some(DeadLetterPolicy::new("jobs-dlq", 2)));
        assert!(matches!(q.inner.source, Source::Account(_)));
    }

    #[test]
    fn bad_urls_are_config_errors() {
        let cs = dev_string("devstoreaccount1");
        for url in [
            "az://devstoreaccount1/jobs",
            "azqueue://devstoreaccount1",
            "azqueue://devstoreaccount1/a/b",
            "azqueue://devstoreaccount1/Jobs",
            "azqueue://devstoreaccount1/jobs?region=x",
            "azqueue://devstoreaccount1/jobs?create=maybe",
            "azqueue://devstoreaccount1/jobs?dead_letter=x-dlq",
        ] {
            let err = open(url, Some(&cs)).err().unwrap_or_else(|| panic!("{url} was accepted"));
            assert_eq!(err.kind(), ErrorKind::Config, "{url}: {err}");
        }
    }

    #[test]
    fn the_connection_string_must_be_for_the_urls_account() {
        let err = open("azqueue://other/jobs", Some(&dev_string("devstoreaccount1"))).err().unwrap();
        assert_eq!(err.kind(), ErrorKind::Config);
        let msg = err.to_string();
        assert!(msg.contains("\"other\"") && msg.contains("\"devstoreaccount1\""), "{msg}");
    }

    #[tokio::test]
    async fn without_credentials_the_first_use_says_what_to_set() {
        let q = open("azqueue://myaccount/jobs", None).unwrap();
        let err = q.send(cloudport_core::Message::new("x")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        let msg = err.to_string();
        assert!(msg.contains("Entra ID") && msg.contains(CONNECTION_STRING_VAR), "{msg}");
    }

    #[test]
    fn names_are_checked() {
        for bad in ["ab", "a--b", "-ab", "ab-", "ABC", &"a".repeat(64)] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
        validate_name("cpconf-0123456789abcdef-dlq").unwrap();
        let policy = DeadLetterPolicy::new("jobs", 1);
        assert!(AzureQueue::builder(StorageAccount::development(), "jobs").dead_letter(policy).build().is_err());
    }
}
