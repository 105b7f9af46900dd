//! The messages of one memory queue and the visibility index receives walk.

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::time::SystemTime;

use bytes::Bytes;
use cloudport_core::Attributes;

/// A stored message.
#[derive(Debug)]
pub(super) struct Entry {
    pub(super) body: Bytes,
    pub(super) attributes: Attributes,
    pub(super) enqueued_at: SystemTime,
    /// When the message is (or becomes again) visible: its send time, the end of its delay,
    /// or the end of its lease.
    pub(super) visible_at: SystemTime,
    pub(super) delivery_count: u32,
    /// Token of the latest lease. It stays good after the lease expires, until the message is
    /// delivered again (as an SQS receipt handle does), and is cleared by a nack.
    pub(super) token: Option<u64>,
}

/// Hashes the sequence numbers that key [`State::entries`]: they are ours (never attacker
/// chosen), so a multiplicative hash beats SipHash, which was a tenth of the queue's profile.
#[derive(Debug, Default)]
pub(super) struct SeqHasher(u64);

impl Hasher for SeqHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b) ^ self.0.rotate_left(8));
        }
    }

    fn write_u64(&mut self, n: u64) {
        // Fibonacci hashing: spreads consecutive numbers over the high bits the table uses.
        self.0 = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// What [`State::lease_next`] did with the next visible message.
#[derive(Debug)]
pub(super) enum Next<'a> {
    /// Leased it: its sequence number and the entry as leased.
    Leased(u64, &'a Entry),
    /// Removed it to be dead-lettered, for this reason.
    Exhausted(Entry, String),
}

/// All messages of a queue, by sequence number, plus an index of them by visible-at time: a
/// receive takes from the front of the index while its time has passed. Every message is in
/// the index exactly once, under its current `visible_at`.
#[derive(Debug, Default)]
pub(super) struct State {
    next_seq: u64,
    entries: HashMap<u64, Entry, BuildHasherDefault<SeqHasher>>,
    by_visible_at: BTreeSet<(SystemTime, u64)>,
}

impl State {
    /// Stores a new message; returns its sequence number.
    pub(super) fn push(&mut self, body: Bytes, attributes: Attributes, now: SystemTime, visible_at: SystemTime) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        let entry = Entry { body, attributes, enqueued_at: now, visible_at, delivery_count: 0, token: None };
        self.entries.insert(seq, entry);
        self.by_visible_at.insert((visible_at, seq));
        seq
    }

    /// Takes the first message visible at `now` and leases it until `until` under `token`,
    /// unless `skip` decides from its delivery count that it is removed to be dead-lettered.
    pub(super) fn lease_next<S>(&mut self, now: SystemTime, until: SystemTime, token: u64, skip: S) -> Option<Next<'_>>
    where
        S: Fn(u32) -> Option<String>,
    {
        loop {
            let &(at, seq) = self.by_visible_at.first()?;
            if at > now {
                return None;
            }
            self.by_visible_at.pop_first();
            let Some(count) = self.entries.get(&seq).map(|e| e.delivery_count) else { continue };
            if let Some(reason) = skip(count) {
                let entry = self.entries.remove(&seq)?;
                return Some(Next::Exhausted(entry, reason));
            }
            let entry = self.entries.get_mut(&seq)?;
            entry.delivery_count = entry.delivery_count.saturating_add(1);
            entry.token = Some(token);
            entry.visible_at = until;
            self.by_visible_at.insert((until, seq));
            return Some(Next::Leased(seq, entry));
        }
    }

    /// Removes the message leased under `token`; `None` when that lease is gone.
    pub(super) fn take(&mut self, seq: u64, token: u64) -> Option<Entry> {
        if self.entries.get(&seq)?.token != Some(token) {
            return None;
        }
        let entry = self.entries.remove(&seq)?;
        self.by_visible_at.remove(&(entry.visible_at, seq));
        Some(entry)
    }

    /// Moves the message leased under `token` to become visible at `visible_at`, with lease
    /// token `next` (`None` releases the lease); false when that lease is gone.
    pub(super) fn release(&mut self, seq: u64, token: u64, visible_at: SystemTime, next: Option<u64>) -> bool {
        let Some(entry) = self.entries.get_mut(&seq).filter(|e| e.token == Some(token)) else { return false };
        self.by_visible_at.remove(&(entry.visible_at, seq));
        entry.visible_at = visible_at;
        entry.token = next;
        self.by_visible_at.insert((visible_at, seq));
        true
    }

    /// How many messages are stored, visible or not.
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 + secs)
    }

    fn state_with(visible: &[u64]) -> State {
        let mut s = State::default();
        for &v in visible {
            s.push(Bytes::from_static(b"x"), Attributes::new(), t(0), t(v));
        }
        s
    }

    fn leased_seq(s: &mut State, now: SystemTime, token: u64) -> Option<u64> {
        match s.lease_next(now, now + Duration::from_secs(30), token, |_| None)? {
            Next::Leased(seq, _) => Some(seq),
            Next::Exhausted(..) => panic!("nothing is dead-lettered without a rule"),
        }
    }

    #[test]
    fn receives_in_visibility_order_and_leases() {
        let mut s = state_with(&[5, 0, 10]);
        assert_eq!(leased_seq(&mut s, t(6), 1), Some(1));
        assert_eq!(leased_seq(&mut s, t(6), 2), Some(0));
        assert_eq!(leased_seq(&mut s, t(6), 3), None);
        // Both leases (30 s from t(6)) end at t(36), after message 2 becomes visible at t(10);
        // then ties go by sequence number.
        assert_eq!(leased_seq(&mut s, t(35), 4), Some(2));
        assert_eq!(leased_seq(&mut s, t(36), 5), Some(0));
        assert_eq!(leased_seq(&mut s, t(36), 6), Some(1));
        assert_eq!(s.entries[&1].delivery_count, 2);
        assert_eq!(s.entries[&2].delivery_count, 1);
    }

    #[test]
    fn take_and_release_need_the_current_token() {
        let mut s = state_with(&[0, 0]);
        let a = leased_seq(&mut s, t(0), 7).unwrap();
        assert!(s.take(a, 8).is_none());
        assert!(!s.release(a, 8, t(0), None));
        assert!(s.release(a, 7, t(100), Some(9)));
        assert!(s.take(a, 7).is_none());
        assert!(s.take(a, 9).is_some());
        assert!(s.take(a, 9).is_none());
        assert_eq!(s.len(), 1);
        assert_eq!(s.by_visible_at.len(), 1);
    }

    #[test]
    fn skipped_messages_are_removed() {
        let mut s = state_with(&[0]);
        let r = s.lease_next(t(0), t(30), 1, |count| (count == 0).then(|| "why".to_owned())).unwrap();
        assert!(matches!(r, Next::Exhausted(_, ref reason) if reason == "why"));
        assert_eq!(s.len(), 0);
        assert!(s.by_visible_at.is_empty());
    }
}
