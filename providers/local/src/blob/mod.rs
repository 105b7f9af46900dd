//! Local blob stores.
