//! Cron schedules and the tick a scheduled function receives.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::SystemTime;

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};

/// A validated cron expression with seconds: `sec min hour day-of-month month day-of-week
/// [year]`, as Azure's NCRONTAB and the `cron` crate read it.
///
/// Times are UTC. Day-of-week names (`Mon-Fri`) are portable; numbers are not (cron counts
/// Sunday as 1, NCRONTAB as 0), so prefer names.
///
/// ```
/// use cloudport_core::function::Schedule;
///
/// let every_five_minutes = Schedule::parse("0 */5 * * * *")?;
/// assert_eq!(every_five_minutes.expression(), "0 */5 * * * *");
/// assert!(Schedule::parse("every five minutes").is_err());
/// # Ok::<(), cloudport_core::Error>(())
/// ```
#[derive(Clone)]
pub struct Schedule {
    expression: Arc<str>,
    parsed: Arc<cron::Schedule>,
}

impl Schedule {
    /// Parses a cron expression; the `#[cloudport::function(schedule = "...")]` attribute runs
    /// the same parser at compile time.
    ///
    /// # Errors
    /// `InvalidInput` naming the expression and what is wrong with it.
    pub fn parse(expression: &str) -> Result<Self> {
        let parsed = cron::Schedule::from_str(expression).map_err(|e| {
            Error::invalid_input(format!(
                "invalid cron expression {expression:?}: {e} (expected 6 or 7 fields: sec min hour day-of-month month day-of-week [year])"
            ))
        })?;
        Ok(Self { expression: expression.into(), parsed: Arc::new(parsed) })
    }

    /// The expression as written.
    #[must_use]
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The first fire time strictly after `after`, or `None` if the schedule never fires again.
    #[must_use]
    pub fn next_after(&self, after: SystemTime) -> Option<SystemTime> {
        let after: DateTime<Utc> = after.into();
        self.parsed.after(&after).next().map(SystemTime::from)
    }
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.expression == other.expression
    }
}

impl Eq for Schedule {}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Schedule").field(&&*self.expression).finish()
    }
}

/// What a scheduled function receives each time its schedule fires.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScheduleTick {
    /// The time the schedule named for this run.
    pub scheduled_at: SystemTime,
    /// The time the host started the run.
    pub fired_at: SystemTime,
    /// The host missed the scheduled time (it was down or busy) and runs late; handlers that
    /// must not act on stale ticks can skip these.
    pub past_due: bool,
    /// The cron expression that fired.
    pub schedule: String,
}

impl ScheduleTick {
    /// A tick for `schedule`, scheduled at `scheduled_at` and fired at `fired_at`.
    #[must_use]
    pub fn new(schedule: impl Into<String>, scheduled_at: SystemTime, fired_at: SystemTime, past_due: bool) -> Self {
        Self { scheduled_at, fired_at, past_due, schedule: schedule.into() }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn next_fire_time_follows_the_expression() {
        let every_five = Schedule::parse("0 */5 * * * *").unwrap();
        let base = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000); // 22:13:20 UTC
        let next = every_five.next_after(base).unwrap();
        assert_eq!(next.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(), 1_700_000_100);
    }

    #[test]
    fn bad_expressions_name_the_format() {
        let err = Schedule::parse("*/5 * * * *").unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("6 or 7 fields"), "{err}");
    }
}
