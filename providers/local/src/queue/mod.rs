//! Local queues.
