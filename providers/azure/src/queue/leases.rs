//! Leases held through one [`AzureQueue`](super::AzureQueue) handle, by message id.
//!
//! Azure gives a message a new pop receipt on every receive and on every Update Message (nack,
//! lease extension), and only the newest one acts on the message. cloudport's contract lets the
//! caller keep using the [`Receipt`] that receive returned, so the handle remembers, per message
//! id, every pop receipt it handed out for the current lease and the newest one, and acts with
//! the newest. A receipt from an earlier lease (the message was received again since) is sent
//! as it is, and Azure refuses it (`PopReceiptMismatch`): a lost lease stays detectable.
//!
//! The body and attributes are kept too, for `dead_letter` (Azure cannot return a message by
//! its id). Entries go on ack, nack and dead-letter, and are pruned a while after their lease.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cloudport_core::{Attributes, Error, Receipt, Result};

/// How long an entry outlives its lease: Azure keeps honouring the newest pop receipt until the
/// message is received again, so a late ack may still succeed.
const GRACE: Duration = Duration::from_secs(600);

/// A receipt, parsed: the message id and the pop receipt it was issued with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Handle {
    pub(super) id: String,
    pub(super) pop: String,
}

impl Handle {
    /// The receipt for message `id` under `pop`: `<id>:<pop receipt>` (ids are GUIDs, pop
    /// receipts base64: neither contains `:`).
    pub(super) fn receipt(id: &str, pop: &str) -> Receipt {
        Receipt::new(format!("{id}:{pop}"))
    }

    /// Parses a receipt made by [`Handle::receipt`].
    ///
    /// # Errors
    /// `InvalidInput` for a receipt of another queue type.
    pub(super) fn parse(receipt: &Receipt) -> Result<Self> {
        match receipt.as_str().split_once(':') {
            Some((id, pop)) if !id.is_empty() && !pop.is_empty() => Ok(Self { id: id.to_owned(), pop: pop.to_owned() }),
            _ => Err(Error::invalid_input(
                "not a receipt of an Azure queue (pass the receipt of a delivery this queue returned)",
            )),
        }
    }
}

struct Held {
    body: Bytes,
    attributes: Attributes,
    /// Every pop receipt handed out for this lease.
    issued: Vec<String>,
    /// The one Azure honours now.
    current: String,
    until: Instant,
}

/// The leases of one queue handle.
#[derive(Default)]
pub(super) struct Leases {
    held: Mutex<HashMap<String, Held>>,
}

impl Leases {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Held>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a delivery (replacing any earlier lease of the same message) and prunes old entries.
    pub(super) fn hold(&self, id: &str, pop: &str, body: Bytes, attributes: Attributes, lease: Duration) {
        let now = Instant::now();
        let mut held = self.lock();
        held.retain(|_, h| h.until + GRACE > now);
        let entry =
            Held { body, attributes, issued: vec![pop.to_owned()], current: pop.to_owned(), until: now + lease };
        held.insert(id.to_owned(), entry);
    }

    /// The pop receipt to act with for `handle`: the newest of its lease when this handle issued
    /// it, else its own.
    pub(super) fn current(&self, handle: &Handle) -> String {
        self.lock()
            .get(&handle.id)
            .filter(|h| h.issued.contains(&handle.pop))
            .map_or_else(|| handle.pop.clone(), |h| h.current.clone())
    }

    /// Records that Update Message with `used` returned `new`, leasing the message for `lease`.
    pub(super) fn updated(&self, id: &str, used: &str, new: &str, lease: Duration) {
        if let Some(h) = self.lock().get_mut(id).filter(|h| h.current == used) {
            h.issued.push(new.to_owned());
            new.clone_into(&mut h.current);
            h.until = Instant::now() + lease;
        }
    }

    /// Forgets the lease `used` belongs to (after ack, nack or dead-letter).
    pub(super) fn release(&self, id: &str, used: &str) {
        let mut held = self.lock();
        if held.get(id).is_some_and(|h| h.current == used) {
            held.remove(id);
        }
    }

    /// The body and attributes of the delivery `handle` leases, when this handle holds it.
    pub(super) fn message(&self, handle: &Handle) -> Option<(Bytes, Attributes)> {
        self.lock()
            .get(&handle.id)
            .filter(|h| h.issued.contains(&handle.pop))
            .map(|h| (h.body.clone(), h.attributes.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_round_trip_and_reject_others() {
        let r = Handle::receipt("6a7c-11", "AgAAAA+/==");
        assert_eq!(Handle::parse(&r).unwrap(), Handle { id: "6a7c-11".into(), pop: "AgAAAA+/==".into() });
        for bad in ["", "id", ":pop", "id:"] {
            assert!(Handle::parse(&Receipt::new(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn every_receipt_of_a_lease_maps_to_the_newest() {
        let leases = Leases::default();
        let lease = Duration::from_secs(30);
        leases.hold("m", "p1", Bytes::from_static(b"b"), Attributes::new(), lease);
        let first = Handle { id: "m".into(), pop: "p1".into() };
        leases.updated("m", "p1", "p2", lease);
        leases.updated("m", "p2", "p3", lease);
        assert_eq!(leases.current(&first), "p3");
        assert_eq!(leases.current(&Handle { id: "m".into(), pop: "p2".into() }), "p3");
        assert!(leases.message(&first).is_some());
        // Received again: the old lease's receipts act with their own (stale) pop receipt.
        leases.hold("m", "q1", Bytes::from_static(b"b"), Attributes::new(), lease);
        assert_eq!(leases.current(&first), "p1");
        assert!(leases.message(&first).is_none());
        // Releasing with a stale receipt keeps the new lease.
        leases.release("m", "p3");
        assert_eq!(leases.current(&Handle { id: "m".into(), pop: "q1".into() }), "q1");
        leases.release("m", "q1");
        assert!(leases.message(&Handle { id: "m".into(), pop: "q1".into() }).is_none());
    }
}
