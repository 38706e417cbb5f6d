#!/usr/bin/env bash
# Fault drills on a fresh local cluster with Apache's default broker settings (see README, "Fault drills"):
#   scripts/drill.sh            seed 002: group 1's master is SIGKILLed, its group turns read-only,
#                               producers move to group 2, the consumer drains the slave, a third
#                               group is added (`rmq-cluster add-group` + `mqadmin updateTopic -b`),
#                               the master comes back
#   scripts/drill.sh upgrade    seed 001: wipeWritePerm, restart the broker, addWritePerm; no failed send
# Prints each step as it happens and a final tally; exits non-zero if a step fails or an
# acknowledged message is lost. Extra arguments go to `rmq-cluster drill`, e.g.
#   scripts/drill.sh seed002 --base-port 29876 --broker-base-port 30911
# The cluster lives in ./.rmq-drill/<scenario>-<time> (kept for its logs) unless --dir is given.
set -euo pipefail
cd "$(dirname "$0")/.."
scenario=${1:-seed002}
[ $# -gt 0 ] && shift
cargo build --release -p minirmq --bins
exec "${CARGO_TARGET_DIR:-target}/release/rmq-cluster" drill "$scenario" "$@"
