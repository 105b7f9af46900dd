//! Local queues: [`MemoryQueue`] in process memory and [`SqliteQueue`] in a SQLite file.
//!
//! Both follow the rules of the cloud queues they stand in for (SQS, Azure Queue Storage,
//! Pub/Sub), so code tested against them behaves the same in the cloud:
//!
//! - delivery is at least once: a message whose lease expires before it is acked is delivered
//!   again, with its delivery count raised by one;
//! - a receipt is good for one lease: acking, nacking or extending with a receipt whose message
//!   was delivered again, acked, nacked or re-leased fails with `PreconditionFailed`;
//! - [`extend_lease`](cloudport_core::Queue::extend_lease) returns a new receipt and retires the
//!   old one, as Azure's pop receipts do;
//! - with a [`DeadLetterPolicy`](cloudport_core::DeadLetterPolicy), a message already delivered
//!   `max_deliveries` times moves to the dead-letter queue instead of being delivered again.
//!
//! Leases and delays follow the injected [`Clock`](cloudport_core::time::Clock), so tests move a
//! [`ManualClock`](cloudport_core::time::ManualClock) instead of sleeping.

mod lease;
mod memory;
mod poll;
mod settings;
mod sqlite;

#[cfg(test)]
mod tests;

pub use memory::{MemoryQueue, MemoryQueueBuilder};
pub use sqlite::{SqliteQueue, SqliteQueueBuilder};
