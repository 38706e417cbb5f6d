#!/usr/bin/env bash
# The failure drill on the docker-compose cluster (README "Docker"), step by step with mqadmin and
# the client examples inside the containers, printing each step and a final tally:
#   up -> registered -> replication started -> myTopic (4 queues per group) -> messages sent ->
#   docker kill of broker-a's master -> route read-only -> sends go to broker-b -> a new group
#   consumes everything (broker-a's part from its slave) -> group 3 (profile) takes traffic ->
#   broker-a's master restarted -> route writable again.
# It owns the compose project of this checkout: it starts with `down -v` and ends with one
# (KEEP=1 leaves the cluster running). SKIP_BUILD=1 uses the existing minirmq:local image.
# Exits 1 at the first step that fails.
set -euo pipefail
cd "$(dirname "$0")/.."

TOPIC=myTopic
FIRST=${FIRST:-400}     # sent before the kill
SECOND=${SECOND:-200}   # sent while broker-a is down
THIRD=${THIRD:-200}     # sent once group 3 is up
WAIT=${WAIT:-60}        # seconds any one step may take
dc() { docker-compose --profile group3 "$@"; }
ex() { docker-compose exec -T -e RUST_LOG=warn namesrv1 "$@"; }
now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
t0=$(now)
step() { echo "==== [$(since "$t0") s] $*"; }
fail() { echo "DRILL FAILED: $*" >&2; exit 1; }
# wait_for WHAT CMD...: runs CMD every 0.5 s until it succeeds, at most $WAIT s.
wait_for() {
    local what=$1 start
    shift
    start=$(now)
    until "$@" >/dev/null 2>&1; do
        if awk -v a="$start" -v b="$(now)" -v w="$WAIT" 'BEGIN { exit !(b - a > w) }'; then
            fail "$what: not within $WAIT s"
        fi
        sleep 0.5
    done
}
# route_of BROKER: "read write perm" of BROKER's queues in myTopic's route.
route_of() {
    ex mqadmin topicRoute -t "$TOPIC" -l | awk -v b="$1" '$2 == b { print $(NF-2), $(NF-1), $NF }'
}
registered() { [ "$(ex mqadmin clusterList | grep -c ':10911')" -ge "$1" ]; }
slave_connected() { ex mqadmin brokerStatus -b "$1" | grep -Eq 'haConnectedSlaves +: *1'; }
caught_up() {
    local m s
    m=$(ex mqadmin brokerStatus -b "$1" | awk '$1 == "commitLogMaxOffset" { print $NF }')
    s=$(ex mqadmin brokerStatus -b "$2" | awk '$1 == "commitLogMaxOffset" { print $NF }')
    [ -n "$m" ] && [ "$m" = "$s" ]
}
is_route() { [ "$(route_of "$1")" = "$2" ]; }
# produce N PREFIX: sends N messages, appends the SEND_OK lines to $sent, prints per-broker counts.
produce() {
    ex produce --topic "$TOPIC" --count "$1" --body-prefix "$2" --key-prefix "$2" >"$work/out" \
        || echo "  (some sends failed: $(grep -vc '^SEND_OK' "$work/out" || true) lines not SEND_OK)"
    cat "$work/out" >>"$sent"
    awk '{ n[$4]++ } END { for (b in n) printf "  %s: %d sent\n", b, n[b] }' "$work/out" | sort
}

command -v docker-compose >/dev/null || fail "docker-compose is not installed"
docker info >/dev/null 2>&1 || fail "docker is not running (docker info failed)"
work=$(mktemp -d)
sent=$work/sent
: >"$sent"
trap 'rm -rf "$work"; [ "${KEEP:-0}" = 1 ] || dc down -v >/dev/null 2>&1 || true' EXIT

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    step "building the image (scripts/docker-build.sh)"
    scripts/docker-build.sh
fi
dc down -v >/dev/null 2>&1 || true

t0=$(now)
step "docker-compose up -d (2 nameservers, broker-a and broker-b master + slave)"
docker-compose up -d
wait_for "4 brokers registered" registered 4
t_registered=$(since "$t0")
step "all 4 brokers registered"
wait_for "broker-a's slave connected" slave_connected 10.28.0.21:10911
wait_for "broker-b's slave connected" slave_connected 10.28.0.31:10911
t_replication=$(since "$t0")
step "replication started on both groups"

ex mqadmin updateTopic -c DefaultCluster -t "$TOPIC" -r 4 -w 4 >/dev/null
wait_for "$TOPIC in the route" is_route broker-b "4 4 6"
step "created $TOPIC (4 queues on each group); sending $FIRST messages"
produce "$FIRST" first-
grep -q ' broker-a ' "$sent" || fail "no message went to broker-a"
wait_for "broker-a's slave caught up" caught_up 10.28.0.21:10911 10.28.0.22:10911

step "docker kill of broker-a's master"
t_kill=$(now)
docker kill "$(docker-compose ps -q broker-a-master)" >/dev/null
wait_for "broker-a read-only in the route" is_route broker-a "4 0 4"
t_readonly=$(since "$t_kill")
step "route: broker-a read-only (perm 4, writeQueueNums 0) after $t_readonly s; broker-b $(route_of broker-b)"
ex mqadmin topicStatus -t "$TOPIC" | grep -q '^broker-a ' || fail "topicStatus leaves out broker-a"
step "topicStatus still lists broker-a's queues (read from its slave); sending $SECOND messages"
before=$(grep -c ' broker-a ' "$sent")
produce "$SECOND" second-
[ "$(grep -c ' broker-a ' "$sent")" = "$before" ] || fail "a send went to the dead broker-a"

step "docker-compose --profile group3 up -d (broker-c master + slave)"
t_group3=$(now)
dc up -d broker-c-master broker-c-slave
wait_for "broker-c registered" registered 5
ex mqadmin updateTopic -b 10.28.0.41:10911 -t "$TOPIC" -r 4 -w 4 >/dev/null
wait_for "broker-c in the route" is_route broker-c "4 4 6"
step "broker-c writable in the route; sending $THIRD messages"
produce "$THIRD" third-
grep -q ' broker-c ' "$sent" || fail "no message went to broker-c"
t_first_c=$(since "$t_group3")

total=$(grep -c '^SEND_OK' "$sent")
step "a new consumer group consumes every SEND_OK message ($total)"
t_drain=$(now)
ex consume --topic "$TOPIC" --group drill-consumer --expect "$total" --timeout "$WAIT" >"$work/consumed" \
    || fail "consumed $(wc -l <"$work/consumed") of $total"
t_drained=$(since "$t_drain")
missing=$(comm -23 <(awk '{ print $3 }' "$sent" | sort -u) <(awk '{ print $3 }' "$work/consumed" | sort -u) | wc -l)
dups=$(( $(wc -l <"$work/consumed") - $(awk '{ print $3 }' "$work/consumed" | sort -u | wc -l) ))
[ "$missing" = 0 ] || fail "$missing sent keys never consumed"

step "docker-compose start broker-a-master"
docker-compose start broker-a-master >/dev/null
wait_for "broker-a writable again" is_route broker-a "4 4 6"
step "broker-a writable again"

echo
echo "==== tally"
awk '{ n[$4]++ } END { for (b in n) printf "sent to %s: %d\n", b, n[b] }' "$sent" | sort
echo "SEND_OK: $total, consumed: $(wc -l <"$work/consumed") lines, missing: $missing, duplicates: $dups"
echo "registered: ${t_registered} s after up; replication started: ${t_replication} s after up"
echo "read-only: ${t_readonly} s after the kill; first send on broker-c: ${t_first_c} s after its up"
echo "drain (new group, every message): ${t_drained} s"
