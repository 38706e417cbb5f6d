#!/usr/bin/env bash
# Kills and restarts random nameservers, masters and slaves of a local SYNC_MASTER + SYNC_FLUSH
# cluster while sequence-numbered producers and a consumer group run (bin/rmq_chaos.rs).
#   scripts/chaos.sh [--duration 120s] [--seed N] [--producers 2] [--rate 50] [--dir DIR]
# Prints acked, consumed, lost, duplicates and the longest outage; exits 1 if an acked message
# was lost or a node died on its own. Respects CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

# The workspace's feature set, as scripts/test.sh builds it: nothing is compiled a second time.
cargo build --workspace --bins
target_dir=${CARGO_TARGET_DIR:-target}
exec "$target_dir/debug/rmq-chaos" "$@"
