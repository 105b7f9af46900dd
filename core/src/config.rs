//! Configuration from URLs and the environment (12-factor).
//!
//! Stores and queues are named by URLs (`file:///srv/data`, `memory://jobs`,
//! `sqlite:///var/lib/app/queue.db?queue=jobs`); options travel in the query string. Every
//! option a provider does not know is an error, never silently ignored.

use std::str::FromStr;
use std::time::Duration;

use url::Url;

use crate::error::{Error, Result};

/// The environment variable naming the blob store URL.
pub const BLOB_URL_ENV: &str = "CLOUDPORT_BLOB_URL";
/// The environment variable naming the queue URL.
pub const QUEUE_URL_ENV: &str = "CLOUDPORT_QUEUE_URL";

/// Parses `raw` as a URL, with an error that names where it came from.
///
/// # Errors
/// `Config` when `raw` is not a URL.
pub fn parse_url(raw: &str, what: &str) -> Result<Url> {
    Url::parse(raw).map_err(|e| {
        Error::config(format!(
            "{what} {raw:?} is not a URL (expected something like \"file:///path\" or \"memory://name\")"
        ))
        .with_source(e)
    })
}

/// Reads the URL in environment variable `var`.
///
/// # Errors
/// `Config` naming the variable when it is unset, not Unicode or not a URL.
pub fn url_from_env(var: &str, example: &str) -> Result<Url> {
    match std::env::var(var) {
        Ok(raw) => parse_url(&raw, var),
        Err(std::env::VarError::NotPresent) => {
            Err(Error::config(format!("{var} is not set (set it to a URL such as {example:?})")))
        }
        Err(e) => Err(Error::config(format!("{var} is not valid Unicode")).with_source(e)),
    }
}

/// The query options of a URL, taken one by one; [`finish`](UrlOptions::finish) rejects the rest.
///
/// ```
/// use cloudport_core::config::UrlOptions;
///
/// let url = url::Url::parse("file:///tmp/data?fsync=false").unwrap();
/// let mut opts = UrlOptions::new(&url);
/// assert_eq!(opts.take_parsed::<bool>("fsync")?, Some(false));
/// opts.finish()?;
/// # Ok::<(), cloudport_core::Error>(())
/// ```
#[derive(Debug)]
pub struct UrlOptions {
    scheme: String,
    pairs: Vec<(String, String)>,
}

impl UrlOptions {
    /// The query options of `url`.
    #[must_use]
    pub fn new(url: &Url) -> Self {
        Self { scheme: url.scheme().to_owned(), pairs: url.query_pairs().into_owned().collect() }
    }

    /// Removes and returns option `name`.
    pub fn take(&mut self, name: &str) -> Option<String> {
        let i = self.pairs.iter().position(|(k, _)| k == name)?;
        Some(self.pairs.remove(i).1)
    }

    /// Removes and parses option `name`.
    ///
    /// # Errors
    /// `Config` naming the option when its value does not parse.
    pub fn take_parsed<T: FromStr>(&mut self, name: &str) -> Result<Option<T>> {
        match self.take(name) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                Error::config(format!(
                    "option {name}={v:?} of the {}:// URL is not a valid {}",
                    self.scheme,
                    std::any::type_name::<T>()
                ))
            }),
        }
    }

    /// Removes option `name`, a whole number of seconds.
    ///
    /// # Errors
    /// `Config` when it is not a number.
    pub fn take_secs(&mut self, name: &str) -> Result<Option<Duration>> {
        Ok(self.take_parsed::<u64>(name)?.map(Duration::from_secs))
    }

    /// Fails if any option was not taken.
    ///
    /// # Errors
    /// `Config` listing the unknown options.
    pub fn finish(self) -> Result<()> {
        if self.pairs.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = self.pairs.iter().map(|(k, _)| k.as_str()).collect();
        Err(Error::config(format!(
            "unknown option(s) {} in the {}:// URL (check the spelling; see the provider's docs for the options it takes)",
            names.join(", "),
            self.scheme
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn unknown_options_are_rejected() {
        let url = Url::parse("memory://q?dead_letter=x&typo=1").unwrap();
        let mut o = UrlOptions::new(&url);
        assert_eq!(o.take("dead_letter").as_deref(), Some("x"));
        let err = o.finish().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains("typo"));
    }

    #[test]
    fn bad_values_name_the_option() {
        let url = Url::parse("file:///x?fsync=maybe").unwrap();
        let err = UrlOptions::new(&url).take_parsed::<bool>("fsync").unwrap_err();
        assert!(err.to_string().contains("fsync"), "{err}");
    }

    #[test]
    fn missing_env_names_the_variable() {
        let err = url_from_env("CLOUDPORT_TEST_SURELY_UNSET", "memory://x").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains("CLOUDPORT_TEST_SURELY_UNSET"));
    }
}
