//! What both local queues are configured with: names, dead-letter policy, clock, limits.

use std::sync::Arc;
use std::time::Duration;

use cloudport_core::config::UrlOptions;
use cloudport_core::time::{Clock, SystemClock};
use cloudport_core::{DeadLetterPolicy, Error, QueueCapabilities, Result};

/// Default and SQS's largest message: 1 MiB, body plus attributes.
pub(crate) const DEFAULT_MAX_MESSAGE_SIZE: usize = 1024 * 1024;
/// Deliveries before dead-lettering when a URL names a dead-letter queue but no count
/// (Pub/Sub's default, and the Azure Functions host's poison threshold).
pub(crate) const DEFAULT_MAX_DELIVERIES: u32 = 5;
/// Longest queue name (SQS's limit).
const MAX_QUEUE_NAME_LEN: usize = 80;

/// The per-handle settings shared by both builders.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) dead_letter: Option<DeadLetterPolicy>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) max_message_size: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self { dead_letter: None, clock: Arc::new(SystemClock), max_message_size: DEFAULT_MAX_MESSAGE_SIZE }
    }
}

impl Settings {
    /// Takes `dead_letter`, `max_deliveries` and `max_message_size` from a URL's options.
    pub(crate) fn take_url_options(&mut self, opts: &mut UrlOptions) -> Result<()> {
        let dead_letter = opts.take("dead_letter");
        let max_deliveries = opts.take_parsed::<u32>("max_deliveries")?;
        match (dead_letter, max_deliveries) {
            (Some(queue), n) => {
                self.dead_letter = Some(DeadLetterPolicy::new(queue, n.unwrap_or(DEFAULT_MAX_DELIVERIES)));
            }
            (None, Some(_)) => {
                return Err(Error::config(
                    "option max_deliveries needs a dead-letter queue (add dead_letter=<queue name> to the URL)",
                ));
            }
            (None, None) => {}
        }
        if let Some(size) = opts.take_parsed::<usize>("max_message_size")? {
            self.max_message_size = size;
        }
        Ok(())
    }

    /// Checks the queue name, the dead-letter policy and the limits before a queue is built.
    pub(crate) fn check(&self, queue: &str) -> Result<()> {
        check_queue_name(queue)?;
        if self.max_message_size == 0 {
            return Err(Error::config(format!(
                "max_message_size of queue {queue:?} must be at least 1 byte (the default is {DEFAULT_MAX_MESSAGE_SIZE})"
            )));
        }
        if let Some(policy) = &self.dead_letter {
            check_queue_name(&policy.queue)?;
            if policy.queue == queue {
                return Err(Error::config(format!(
                    "queue {queue:?} cannot be its own dead-letter queue (name another queue, such as \"{queue}-dlq\")"
                )));
            }
            if policy.max_deliveries == 0 {
                return Err(Error::config(format!(
                    "max_deliveries of queue {queue:?} must be at least 1 (messages are dead-lettered after that many deliveries)"
                )));
            }
        }
        Ok(())
    }

    /// The capabilities of a local queue with these settings.
    pub(crate) fn capabilities(&self, provider: &'static str) -> QueueCapabilities {
        QueueCapabilities {
            provider,
            max_message_size: self.max_message_size,
            max_attributes: 10,
            max_send_batch: 10,
            max_receive: 10,
            max_delay: Duration::from_secs(15 * 60),
            max_nack_delay: Duration::from_secs(12 * 60 * 60),
            min_lease: Duration::from_secs(1),
            max_lease: Duration::from_secs(12 * 60 * 60),
            default_lease: Duration::from_secs(30),
            long_poll: true,
            delivery_count: true,
            detects_lost_lease: true,
            exclusive_lease: true,
            dead_letter: true,
        }
    }
}

/// Checks a queue name: 1-80 ASCII letters, digits, `-` and `_`, as SQS requires.
pub(crate) fn check_queue_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= MAX_QUEUE_NAME_LEN
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
    if valid {
        Ok(())
    } else {
        Err(Error::config(format!(
            "queue name {name:?} is invalid (use 1-{MAX_QUEUE_NAME_LEN} ASCII letters, digits, '-' and '_')"
        )))
    }
}

#[cfg(test)]
mod tests {
    use cloudport_core::ErrorKind;
    use url::Url;

    use super::*;

    #[test]
    fn queue_names_follow_sqs_rules() {
        for good in ["a", "jobs-dlq", "Jobs_2", &"x".repeat(80)] {
            check_queue_name(good).unwrap();
        }
        for bad in ["", "a b", "a/b", "jobs.fifo", "ü", &"x".repeat(81)] {
            assert_eq!(check_queue_name(bad).unwrap_err().kind(), ErrorKind::Config, "{bad:?}");
        }
    }

    #[test]
    fn url_options_set_policy_and_size() {
        let url = Url::parse("memory://q?dead_letter=q-dlq&max_deliveries=3&max_message_size=100").unwrap();
        let mut opts = UrlOptions::new(&url);
        let mut s = Settings::default();
        s.take_url_options(&mut opts).unwrap();
        opts.finish().unwrap();
        assert_eq!(s.dead_letter, Some(DeadLetterPolicy::new("q-dlq", 3)));
        assert_eq!(s.capabilities("p").max_message_size, 100);

        let url = Url::parse("memory://q?dead_letter=q-dlq").unwrap();
        let mut s = Settings::default();
        s.take_url_options(&mut UrlOptions::new(&url)).unwrap();
        assert_eq!(s.dead_letter, Some(DeadLetterPolicy::new("q-dlq", DEFAULT_MAX_DELIVERIES)));
    }

    #[test]
    fn max_deliveries_without_dead_letter_queue_is_config_error() {
        let url = Url::parse("memory://q?max_deliveries=3").unwrap();
        let err = Settings::default().take_url_options(&mut UrlOptions::new(&url)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains("dead_letter="), "{err}");
    }

    #[test]
    fn bad_policies_are_config_errors() {
        let with = |policy: DeadLetterPolicy| Settings { dead_letter: Some(policy), ..Settings::default() };
        for s in [
            with(DeadLetterPolicy::new("q", 3)),
            with(DeadLetterPolicy::new("q-dlq", 0)),
            with(DeadLetterPolicy::new("bad name", 3)),
            Settings { max_message_size: 0, ..Settings::default() },
        ] {
            assert_eq!(s.check("q").unwrap_err().kind(), ErrorKind::Config, "{s:?}");
        }
        with(DeadLetterPolicy::new("q-dlq", 1)).check("q").unwrap();
    }
}
