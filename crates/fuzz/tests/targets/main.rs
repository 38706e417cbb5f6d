//! The fuzz targets, one module each. Every target feeds mutated real inputs (and some bytes with
//! no structure) to one decoder and checks three things: it never panics, what it decodes is no
//! larger than the input allows, and whatever it accepts encodes back to an input it decodes
//! the same way.
//!
//! Environment (read here only): `FUZZ_SECONDS` runs each target for that long instead of one
//! round, `FUZZ_CASES` sets the cases per round (256), `FUZZ_SEED` replays a reported failure.
//! `scripts/fuzz.sh [SECONDS_PER_TARGET]` runs them all.

mod batch;
mod broker_conf;
mod frame;
mod header_binary;
mod header_json;
mod record;
mod register_body;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use proptest::strategy::Strategy;
use proptest::test_runner::TestCaseError;
use rmq_fuzz::runner::{run, Budget};
use rmq_fuzz::seeds;
use rmq_fuzz::transcript::Frame;

fn env_number(name: &str) -> Option<u64> {
    let raw = std::env::var(name).ok()?;
    match raw.trim().parse() {
        Ok(n) => Some(n),
        Err(_) => panic!("{name}={raw:?} is not a whole number"),
    }
}

/// The budget every target runs with.
pub fn budget() -> Budget {
    let default = Budget::default();
    Budget {
        cases: env_number("FUZZ_CASES").map_or(default.cases, |n| n.clamp(1, u64::from(u32::MAX)) as u32),
        duration: env_number("FUZZ_SECONDS").map(Duration::from_secs),
        seed: env_number("FUZZ_SEED"),
    }
}

/// Runs one target within [`budget`]; `check` says whether the decoder accepted the input. The
/// run must reach both sides of the decoder: at least 1% of the cases accepted (so the round trip
/// was exercised) and at least one refused (so the mutations bite).
pub fn fuzz<S>(name: &str, strategy: S, check: impl Fn(S::Value) -> Result<bool, TestCaseError>)
where
    S: Strategy,
    S::Value: std::fmt::Debug,
{
    let accepted = AtomicU64::new(0);
    let outcome = run(name, &budget(), strategy, |input| {
        if check(input)? {
            accepted.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    });
    let accepted = accepted.load(Ordering::Relaxed);
    eprintln!("fuzz {name}: {accepted} of {} cases accepted", outcome.cases);
    assert!(
        accepted * 100 >= outcome.cases && accepted < outcome.cases,
        "fuzz {name}: {accepted} of {} cases accepted; the corpus or the mutations no longer reach both outcomes",
        outcome.cases
    );
}

/// The transcript frames, loaded once per process.
pub fn frames() -> &'static [Frame] {
    static FRAMES: OnceLock<Vec<Frame>> = OnceLock::new();
    FRAMES.get_or_init(seeds::frames)
}
