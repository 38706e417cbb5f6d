//! Runs one fuzz target: proptest rounds of [`Budget::cases`] cases each, from seeds derived from
//! one start seed, until [`Budget::duration`] has passed (or once, without a duration).
//!
//! A failing case (a property returning an error, or a panic, which proptest catches) is shrunk
//! and reported with the start seed, so `FUZZ_SEED=<seed>` replays the same rounds.

use std::fmt::Debug;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

/// How long one target runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Cases per round.
    pub cases: u32,
    /// Keep starting rounds until this much time has passed; `None` runs one round.
    pub duration: Option<Duration>,
    /// The first round's seed; `None` picks one from the clock.
    pub seed: Option<u64>,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            cases: 256,
            duration: None,
            seed: None,
        }
    }
}

/// What a finished run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Cases that passed.
    pub cases: u64,
    /// Rounds run.
    pub rounds: u32,
    /// The first round's seed.
    pub seed: u64,
}

/// splitmix64: the next seed of a round from the previous one.
fn next_seed(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn clock_seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    next_seed(nanos ^ u64::from(std::process::id()))
}

fn rng_for(seed: u64) -> TestRng {
    let mut bytes = [0u8; 32];
    let mut s = seed;
    for chunk in bytes.chunks_mut(8) {
        chunk.copy_from_slice(&s.to_le_bytes());
        s = next_seed(s);
    }
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

/// Runs `property` on values of `strategy` within `budget`; panics with the shrunk input and the
/// seed when a case fails.
pub fn run<S>(
    name: &str,
    budget: &Budget,
    strategy: S,
    property: impl Fn(S::Value) -> Result<(), TestCaseError>,
) -> Outcome
where
    S: Strategy,
    S::Value: Debug,
{
    let start = Instant::now();
    let first = budget.seed.unwrap_or_else(clock_seed);
    let mut seed = first;
    let mut outcome = Outcome {
        cases: 0,
        rounds: 0,
        seed: first,
    };
    loop {
        let config = Config {
            cases: budget.cases,
            failure_persistence: None,
            ..Config::default()
        };
        let mut runner = TestRunner::new_with_rng(config, rng_for(seed));
        if let Err(e) = runner.run(&strategy, &property) {
            panic!(
                "fuzz target {name} failed in round {} (replay with FUZZ_SEED={first}): {e}",
                outcome.rounds + 1
            );
        }
        outcome.rounds += 1;
        outcome.cases += u64::from(budget.cases);
        match budget.duration {
            Some(d) if start.elapsed() < d => seed = next_seed(seed),
            _ => break,
        }
    }
    eprintln!(
        "fuzz {name}: {} cases in {} rounds, {:.1} s, FUZZ_SEED={first}",
        outcome.cases,
        outcome.rounds,
        start.elapsed().as_secs_f64()
    );
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn one_round_without_a_duration_and_failures_name_the_seed() {
        let budget = Budget {
            cases: 16,
            duration: None,
            seed: Some(7),
        };
        let outcome = run("ok", &budget, any::<u8>(), |_| Ok(()));
        assert_eq!((outcome.cases, outcome.rounds, outcome.seed), (16, 1, 7));
        let failed = std::panic::catch_unwind(|| {
            run("bad", &budget, any::<u8>(), |b| {
                prop_assert!(b < 10);
                Ok(())
            })
        });
        let message = failed.unwrap_err();
        let text = message.downcast_ref::<String>().unwrap();
        assert!(text.contains("FUZZ_SEED=7"), "{text}");
        // Shrinking reaches the smallest failing byte.
        assert!(text.contains("10"), "{text}");
    }

    #[test]
    fn a_duration_runs_rounds_until_it_passes() {
        let budget = Budget {
            cases: 8,
            duration: Some(Duration::from_millis(50)),
            seed: Some(1),
        };
        let outcome = run("timed", &budget, any::<u8>(), |_| {
            std::thread::sleep(Duration::from_millis(1));
            Ok(())
        });
        assert!(outcome.rounds >= 2, "{outcome:?}");
        assert_eq!(outcome.cases, u64::from(outcome.rounds) * 8);
    }
}
