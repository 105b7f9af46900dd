//! Benchmarks only: see the `benches/` directory of this crate.
