#!/usr/bin/env bash
# Runs every fuzz target (crates/fuzz/tests/targets) for a set time each.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]     default 60
# Environment: FUZZ_CASES (cases per round, 256), FUZZ_SEED (replay the seed a failure printed),
# FUZZ_FILTER (run only targets whose test name contains it, e.g. FUZZ_FILTER=record).
# The normal test suite runs one round of each target; this is the long run.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
case "$seconds" in
    ''|*[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET]" >&2; exit 2 ;;
esac

export FUZZ_SECONDS=$seconds
# One target at a time, so each gets the whole time on one core and its report is readable.
# `--workspace` (only rmq-fuzz has a `targets` test) keeps the feature set of the workspace build,
# so the test command does not compile the dependencies a second time.
exec cargo test --workspace --test targets -- --test-threads 1 --nocapture ${FUZZ_FILTER:-}
