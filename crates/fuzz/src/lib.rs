//! Fuzzing on stable Rust, driven by proptest: what cargo-fuzz would do with libFuzzer, without
//! a nightly toolchain or sanitizers.
//!
//! * [`runner`] runs one target for a case count or a wall-clock duration, round after round, each
//!   round from a fresh, printed seed; a failure is shrunk to a small input and names its seed.
//! * [`mutate`] turns a corpus of valid inputs into hostile ones: byte edits, integer edits at
//!   length fields, inserted dictionary tokens, splices between seeds, truncation.
//! * [`transcript`] reads the frames captured between real Apache clients and servers
//!   (`shared/data/transcripts`), and [`seeds`] builds each target's corpus from them.
//!
//! The targets themselves live in `tests/targets/`, one module each; `scripts/fuzz.sh` runs them
//! for a set time, and the normal test suite runs a short round of each.

pub mod mutate;
pub mod runner;
pub mod seeds;
pub mod transcript;
