//! Long polling: wait for a first message, woken by in-process sends and re-checking on a timer.

use std::pin::pin;
use std::time::Duration;

use cloudport_core::Result;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Calls `attempt` until it returns something or `wait` has passed.
///
/// Between attempts it sleeps until `notify` fires (an in-process send or nack) or `interval`
/// passes: messages also become visible when the queue's clock passes their visible-at time,
/// and another process may have sent to a shared SQLite file, neither of which notifies.
/// `attempt` is told whether it is a re-check, so it can look cheaply before doing real work.
pub(crate) async fn long_poll<T, F, Fut>(
    wait: Duration,
    interval: Duration,
    notify: &Notify,
    mut attempt: F,
) -> Result<Vec<T>>
where
    F: FnMut(bool) -> Fut,
    Fut: Future<Output = Result<Vec<T>>>,
{
    // The common case, messages waiting, needs neither the clock nor a registration.
    let got = attempt(false).await?;
    if !got.is_empty() || wait.is_zero() {
        return Ok(got);
    }
    let deadline = Instant::now() + wait;
    let mut recheck = true;
    loop {
        // Register before looking, so a send between the attempt and the wait is not missed.
        let mut notified = pin!(notify.notified());
        notified.as_mut().enable();
        let got = attempt(recheck).await?;
        recheck = true;
        let now = Instant::now();
        if !got.is_empty() || now >= deadline {
            return Ok(got);
        }
        // Timing out is the periodic re-check, not a failure.
        let _ = tokio::time::timeout((deadline - now).min(interval), notified).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn zero_wait_tries_once() {
        let notify = Notify::new();
        let calls = AtomicUsize::new(0);
        let got: Vec<u8> = long_poll(Duration::ZERO, Duration::from_millis(5), &notify, |recheck| {
            assert!(!recheck);
            calls.fetch_add(1, Ordering::SeqCst);
            async { Ok(vec![]) }
        })
        .await
        .unwrap();
        assert!(got.is_empty());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn rechecks_on_the_interval_until_the_deadline() {
        let notify = Notify::new();
        let calls = AtomicUsize::new(0);
        let started = Instant::now();
        let got: Vec<u8> = long_poll(Duration::from_millis(60), Duration::from_millis(10), &notify, |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Ok(vec![]) }
        })
        .await
        .unwrap();
        assert!(got.is_empty());
        assert!(started.elapsed() >= Duration::from_millis(60));
        assert!(calls.load(Ordering::SeqCst) >= 3, "{calls:?}");
    }

    #[tokio::test]
    async fn a_notification_wakes_the_waiter_before_the_interval() {
        let notify = Arc::new(Notify::new());
        let ready = Arc::new(AtomicUsize::new(0));
        let (n, r) = (Arc::clone(&notify), Arc::clone(&ready));
        let sender = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            r.store(1, Ordering::SeqCst);
            n.notify_one();
        });
        let started = Instant::now();
        let got = long_poll(Duration::from_secs(10), Duration::from_secs(5), &notify, |_| {
            let v = ready.load(Ordering::SeqCst);
            async move { Ok(if v == 1 { vec![v] } else { vec![] }) }
        })
        .await
        .unwrap();
        sender.await.unwrap();
        assert_eq!(got, vec![1]);
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
