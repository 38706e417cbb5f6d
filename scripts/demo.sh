#!/usr/bin/env bash
# Sends a message to the local cluster (scripts/cluster.sh) and consumes it back, with mqadmin.
#   scripts/demo.sh                       uses NAMESRV_ADDR or 127.0.0.1:9876;127.0.0.1:9877
set -euo pipefail
cd "$(dirname "$0")/.."
export NAMESRV_ADDR=${NAMESRV_ADDR:-127.0.0.1:9876;127.0.0.1:9877}
BIN=${CARGO_TARGET_DIR:-target}/release
if [ ! -x "$BIN/mqadmin" ]; then
    cargo build --release -p minirmq --bin mqadmin
fi
mq() { "$BIN/mqadmin" "$@"; }

topic=DemoTopic
body="hello from minirmq at $(date '+%H:%M:%S')"

echo "== the cluster"
if ! mq clusterList; then
    echo "no cluster answers at $NAMESRV_ADDR; start one with scripts/cluster.sh" >&2
    exit 1
fi

echo; echo "== create $topic on every master of DefaultCluster"
mq updateTopic -c DefaultCluster -t "$topic" -r 4 -w 4

for _ in $(seq 1 50); do
    mq topicRoute -t "$topic" >/dev/null 2>&1 && break
    sleep 0.2
done

echo; echo "== send one message"
mq sendMessage -t "$topic" -p "$body" -k demo-key -c DemoTag

echo; echo "== consume it back"
if mq consumeMessage -t "$topic" -c 100000 | grep -F -- "BODY: $body"; then
    echo; echo "OK: the message went through the cluster and came back"
else
    echo "the message was not found when consuming $topic" >&2
    exit 1
fi
