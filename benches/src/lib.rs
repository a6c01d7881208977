//! tandem's criterion benches live in `benches/`; this crate has no library code.
//!
//! Run `cargo bench -p tandem-benches` and compare ratios within one run: the machine is noisy.
