#!/usr/bin/env bash
# Builds the release binaries (scripts/release-build.sh, the same build the docker image uses)
# and starts a local cluster in the foreground:
# 2 nameservers (9876, 9877) and 2 broker groups (broker-a, broker-b), each a master and a slave.
# Ctrl-C stops everything. Extra arguments go to `rmq-cluster start`, e.g.
#   scripts/cluster.sh --groups 1 --slaves 0 --flush SYNC_FLUSH
# Data and logs: ./.rmq-local (delete it for a fresh cluster).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(scripts/release-build.sh)
exec "$bin/rmq-cluster" start "$@"
