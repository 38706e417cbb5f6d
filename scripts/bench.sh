#!/usr/bin/env bash
# The benchmark matrix (issue 17): builds release binaries, starts a nameserver and brokers in a
# temp dir, runs every rmq-bench mode, and prints one table in which each line stands beside the
# same run's baseline, with the ratio the issue sets as a target.
#
#   scripts/bench.sh                 10 s per timed run, 400,000 messages drained (about 4 min)
#   scripts/bench.sh --quick         3 s per run, 100,000 drained (about 1.5 min)
#   DURATION=30s scripts/bench.sh    any run length; DRAIN_COUNT=N messages for the drain
#   SKIP_BUILD=1 scripts/bench.sh    reuse target/release binaries
#   CPUS=0 scripts/bench.sh          pin every process to CPU 0 (any taskset CPU list)
#
# Brokers, one after another on the same ports, each on a fresh store:
#   A  ASYNC_MASTER, ASYNC_FLUSH: send 64 and 1 in flight, batches of 32 at 64 in flight,
#      a consume drain of DRAIN_COUNT messages (push consumer of our client, Apache defaults),
#      e2e latency at half of A's 64-in-flight rate
#   B  SYNC_FLUSH: send 64 in flight
#   C  SYNC_MASTER with a SLAVE (its own store, HA over loopback): send 64 in flight; then the
#      same pair as ASYNC_MASTER + SLAVE, its baseline
#   D  ASYNC_FLUSH with messageIndexEnable=false: send 64 and 1 in flight (index off), then
#   E  the same with the index on (Apache's default), right after D
# plus the raw two-process loopback round trip (rmq-bench rtt) and the store's single-thread
# append rate (store_bench append --warm 1).
#
# The master's resident memory is sampled every 0.2 s during each load and the peak of
# RssAnon (heap, stacks) and RssFile (mapped store files in the page cache) is shown per load:
# the mapped commit log is page cache the kernel can drop, the anonymous part is what the
# broker really holds. The master's CPU time over each load divided by its messages (µs of
# broker CPU per message) is shown too: unlike rates, it holds on a busy machine.
#
# Ratios within one run are what count on a shared machine: every line and its baseline ran
# minutes apart under the same load. Run it more than once and report the spread.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = --quick ]; then
    DURATION=${DURATION:-3s}
    DRAIN_COUNT=${DRAIN_COUNT:-100000}
    shift
elif [ -n "${1:-}" ]; then
    echo "usage: scripts/bench.sh [--quick]   (see the comment at the top for env settings)" >&2
    exit 2
fi
DURATION=${DURATION:-10s}
DRAIN_COUNT=${DRAIN_COUNT:-400000}
SIZE=${SIZE:-1024}
NS_PORT=${NS_PORT:-39876}
BROKER_PORT=${BROKER_PORT:-30911}
SLAVE_PORT=${SLAVE_PORT:-30921}

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    echo "==== building release binaries (SKIP_BUILD=1 to use the existing ones)"
    cargo build --release -p minirmq --bins
    cargo build --release -p rmq-broker --example store_bench
fi
BIN=${CARGO_TARGET_DIR:-target}/release
pin=()
placement="placement left to the scheduler"
if [ -n "${CPUS:-}" ]; then pin=(taskset -c "$CPUS"); placement="pinned to CPUs $CPUS"; fi

work=$(mktemp -d -t rmq-bench-XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$NS_PORT" "$BROKER_PORT" $((BROKER_PORT + 1)) $((BROKER_PORT - 2)) "$SLAVE_PORT" $((SLAVE_PORT + 1)) $((SLAVE_PORT - 2)); do
    if port_busy "$p"; then echo "port $p is in use; set NS_PORT / BROKER_PORT / SLAVE_PORT" >&2; exit 1; fi
done

wait_for() { # what, command...
    local what=$1; shift
    for _ in $(seq 1 300); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    echo "timed out waiting for $what" >&2
    return 1
}

# ---- results: NAME -> value, kept in a file so subshells can add to it
res="$work/results"
: >"$res"
put() { echo "$1 $2" >>"$res"; }
get() { awk -v k="$1" '$1 == k { v = $2 } END { print v }' "$res"; }
field() { # key, RESULT line -> value
    sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$2"
}

bench() { # name, rmq-bench args...: runs it, echoes its output, keeps the RESULT line as $last
    local name=$1; shift
    echo "==== $name: rmq-bench $*"
    local out
    if ! out=$("${pin[@]}" "$BIN/rmq-bench" "$@"); then
        echo "$out"
        echo "rmq-bench $* failed (broker log: $dir/broker.log)" >&2
        return 1
    fi
    echo "$out"
    last=$(grep '^RESULT' <<<"$out")
}

# ---- broker RSS sampling (peak RssAnon / RssFile in kB while a load runs) and the broker's
# CPU time over the load (utime + stime), which divided by the messages of the load is a
# figure that holds on a busy machine, where rates swing with the other processes.
sampler=""
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
rss_start() { # pid
    local pid=$1 file="$work/rss"
    echo "0 0" >"$file"
    cpu_pid=$pid
    cpu0=$(cpu_ticks "$pid")
    (
        max_a=0 max_f=0
        while kill -0 "$pid" 2>/dev/null; do
            read -r a f < <(awk '/^RssAnon:/ { a = $2 } /^RssFile:/ { f = $2 } END { print a + 0, f + 0 }' "/proc/$pid/status" 2>/dev/null || echo "0 0")
            [ "$a" -gt "$max_a" ] && max_a=$a
            [ "$f" -gt "$max_f" ] && max_f=$f
            echo "$max_a $max_f" >"$file.tmp" && mv "$file.tmp" "$file"
            sleep 0.2
        done
    ) &
    sampler=$!
}
rss_stop() { # load name; uses the `ok` of the last bench as the message count
    local ticks=$(( $(cpu_ticks "$cpu_pid") - cpu0 ))
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    local a f ok
    read -r a f <"$work/rss"
    put "rss_anon_$1" $((a / 1024))
    put "rss_file_$1" $((f / 1024))
    ok=$(field ok "$last")
    put "cpu_$1" "$(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" -v n="${ok:-0}" \
        'BEGIN { if (n > 0) printf "%.2f", t / hz * 1e6 / n; else print "-" }')"
}

start_broker() { # dir role flush port id extra-conf-line
    local d=$1 role=$2 flush=$3 port=$4 id=$5 extra=${6:-}
    mkdir -p "$d"
    cat >"$d/broker.conf" <<CONF
brokerClusterName=BenchCluster
brokerName=bench-broker
brokerId=$id
namesrvAddr=$NS
listenPort=$port
brokerIP1=127.0.0.1
brokerRole=$role
flushDiskType=$flush
storePathRootDir=$d/store
$extra
CONF
    "${pin[@]}" "$BIN/mqbroker" -c "$d/broker.conf" >"$d/broker.log" 2>&1 &
    bpid=$!
    pids+=("$bpid")
    wait_for "broker $role $flush on $port" port_busy "$port"
}

stop_broker() { # pid dir
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    # Each broker starts on a clean disk: an earlier run's dirty pages, still being written
    # back, would slow the next run's fdatasyncs down.
    rm -rf "$2/store"
    sync
}

ADDR="127.0.0.1:$BROKER_PORT"
send_args=(--size "$SIZE" --duration "$DURATION")

warm_up() { # topic: creates it on the broker and lets the broker finish its start-up work
    "${pin[@]}" "$BIN/rmq-bench" send --broker "$ADDR" --topic "$1" --size "$SIZE" --in-flight 8 \
        --duration 2s >/dev/null 2>&1
}

sync
bench rtt rtt --size "$SIZE" --duration "$DURATION"
put rtt "$(field tps "$last")"

echo "==== store: single-thread append, ASYNC_FLUSH, warmMapedFileEnable (store_bench)"
store_dir="$work/store-bench"
mkdir -p "$store_dir"
out=$("${pin[@]}" "$BIN/examples/store_bench" append --count 1000000 --size "$SIZE" --warm 1 --dir "$store_dir/store")
echo "$out"
put store_append "$(sed -n 's/.* = \([0-9]*\) msgs\/s.*/\1/p' <<<"$out" | head -1)"
rm -rf "$store_dir"

"${pin[@]}" "$BIN/mqnamesrv" --listen-port "$NS_PORT" --home "$work/namesrv" >"$work/namesrv.log" 2>&1 &
pids+=($!)
wait_for "nameserver" port_busy "$NS_PORT"
NS="127.0.0.1:$NS_PORT"

# ---- A: ASYNC_MASTER, ASYNC_FLUSH
dir="$work/A"
start_broker "$dir" ASYNC_MASTER ASYNC_FLUSH "$BROKER_PORT" 0
warm_up BenchA
rss_start "$bpid"
bench "send 64" send --broker "$ADDR" --topic BenchA --in-flight 64 "${send_args[@]}"
put send64 "$(field tps "$last")"; put send64_p99 "$(field p99_us "$last")"
rss_stop send64
rss_start "$bpid"
bench "send 1" send --broker "$ADDR" --topic BenchA --in-flight 1 "${send_args[@]}"
put send1 "$(field tps "$last")"; put send1_p99 "$(field p99_us "$last")"
rss_stop send1
rss_start "$bpid"
bench "batch 32" batch --broker "$ADDR" --topic BenchA --in-flight 64 --batch-size 32 "${send_args[@]}"
put batch32 "$(field tps "$last")"; put batch32_p99 "$(field p99_us "$last")"
rss_stop batch32
# The drain: a topic filled by the bench itself, then a new group reads it from the start.
bench "fill drain topic" send --broker "$ADDR" --topic BenchDrain --in-flight 64 --size "$SIZE" --count "$DRAIN_COUNT"
wait_for "BenchDrain in the nameserver's route" "$BIN/mqadmin" -n "$NS" topicRoute -t BenchDrain
rss_start "$bpid"
bench "consume drain" consume --namesrv "$NS" --topic BenchDrain --drain --duration 300s
put drain "$(field tps "$last")"
rss_stop drain
warm_up BenchE2E
wait_for "BenchE2E in the nameserver's route" "$BIN/mqadmin" -n "$NS" topicRoute -t BenchE2E
half=$(( $(get send64) / 2 ))
rss_start "$bpid"
bench "e2e at half rate" e2e --namesrv "$NS" --topic BenchE2E --rate "$half" --in-flight 256 "${send_args[@]}"
put e2e_rate "$(field tps "$last")"; put e2e_p50 "$(field p50_us "$last")"
put e2e_p99 "$(field p99_us "$last")"; put e2e_p999 "$(field p999_us "$last")"
rss_stop e2e
stop_broker "$bpid" "$dir"

# ---- B: SYNC_FLUSH
dir="$work/B"
start_broker "$dir" ASYNC_MASTER SYNC_FLUSH "$BROKER_PORT" 0
warm_up BenchB
rss_start "$bpid"
bench "SYNC_FLUSH 64" send --broker "$ADDR" --topic BenchB --in-flight 64 "${send_args[@]}"
put syncflush64 "$(field tps "$last")"; put syncflush64_p99 "$(field p99_us "$last")"
rss_stop syncflush
stop_broker "$bpid" "$dir"

# ---- C: a master with a slave, as SYNC_MASTER and then, on fresh stores, as ASYNC_MASTER: the
# same processes on the same two cores, so the ratio is the price of waiting for the slave (the
# slave's own CPU, which on a 2-core machine competes with the master and the load generator,
# is in both)
pair_run() { # role topic key
    local role=$1 topic=$2 key=$3
    dir="$work/C-$role"
    start_broker "$dir" "$role" ASYNC_FLUSH "$BROKER_PORT" 0
    mpid=$bpid
    start_broker "$dir/slave" SLAVE ASYNC_FLUSH "$SLAVE_PORT" 1
    spid=$bpid
    # A SYNC_MASTER answers SLAVE_NOT_AVAILABLE until the slave has connected: wait for a clean
    # send (an ASYNC_MASTER's slave gets the same time to connect).
    for _ in $(seq 1 60); do
        if "$BIN/rmq-bench" send --broker "$ADDR" --topic "$topic" --count 10 --in-flight 1 --timeout-ms 3000 2>/dev/null |
            grep -q ' failed=0 '; then break; fi
        sleep 0.5
    done
    warm_up "$topic"
    rss_start "$mpid"
    bench "$role+slave 64" send --broker "$ADDR" --topic "$topic" --in-flight 64 "${send_args[@]}"
    put "${key}64" "$(field tps "$last")"; put "${key}64_p99" "$(field p99_us "$last")"
    put "${key}64_failed" "$(field failed "$last")"
    rss_stop "$key"
    stop_broker "$spid" "$dir/slave"
    stop_broker "$mpid" "$dir"
}
pair_run SYNC_MASTER BenchC syncmaster
pair_run ASYNC_MASTER BenchC asyncslave

# ---- D and E: index off, then on again, each on a fresh broker right after the other, so the
# pair shares the machine's state (A ran minutes earlier, first, on a colder machine)
dir="$work/D"
start_broker "$dir" ASYNC_MASTER ASYNC_FLUSH "$BROKER_PORT" 0 messageIndexEnable=false
warm_up BenchD
bench "send 64, index off" send --broker "$ADDR" --topic BenchD --in-flight 64 "${send_args[@]}"
put noindex64 "$(field tps "$last")"
bench "send 1, index off" send --broker "$ADDR" --topic BenchD --in-flight 1 "${send_args[@]}"
put noindex1 "$(field tps "$last")"
stop_broker "$bpid" "$dir"
dir="$work/E"
start_broker "$dir" ASYNC_MASTER ASYNC_FLUSH "$BROKER_PORT" 0
warm_up BenchE
bench "send 64, index on" send --broker "$ADDR" --topic BenchE --in-flight 64 "${send_args[@]}"
put index64 "$(field tps "$last")"
bench "send 1, index on" send --broker "$ADDR" --topic BenchE --in-flight 1 "${send_args[@]}"
put index1 "$(field tps "$last")"
stop_broker "$bpid" "$dir"

# ---- the table
ratio() { # a b -> a/b with two decimals
    awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
}
verdict() { # value op target
    awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN {
        if (v == "-" || v == "") { print "?"; exit }
        ok = (op == ">=") ? (v >= t) : (v < t); print ok ? "met" : "NOT met" }'
}
row() { printf '%-34s %14s  %-24s %7s  %-12s %s\n' "$@"; }
max_anon=0
for k in send64 send1 batch32 drain e2e syncflush syncmaster asyncslave; do
    a=$(get "rss_anon_$k"); [ "${a:-0}" -gt "$max_anon" ] && max_anon=$a
done
send64=$(get send64)
echo
echo "==== matrix: $SIZE-byte messages, $DURATION per timed run, drain of $DRAIN_COUNT, $(nproc) cores, $placement, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
row "line" "result" "baseline (same run)" "ratio" "target" ""
row "raw loopback round trip" "$(get rtt)/s" "" "" "" ""
row "store append, 1 thread" "$(get store_append)/s" "" "" "" ""
r=$(ratio "$(get send1)" "$(get rtt)")
row "send, 1 in flight" "$(get send1)/s" "loopback $(get rtt)/s" "$r" ">= 0.70" "$(verdict "$r" '>=' 0.70)"
row "send, 64 in flight" "${send64}/s" "" "" "" ""
r=$(ratio "$(get batch32)" "$send64")
row "batch 32, 64 in flight" "$(get batch32)/s" "send 64: ${send64}/s" "$r" ">= 3" "$(verdict "$r" '>=' 3)"
r=$(ratio "$(get syncflush64)" "$send64")
row "SYNC_FLUSH, 64 in flight" "$(get syncflush64)/s" "send 64: ${send64}/s" "$r" "" ""
r=$(ratio "$(get syncmaster64)" "$(get asyncslave64)")
row "SYNC_MASTER + slave, 64 in flight" "$(get syncmaster64)/s" "ASYNC_MASTER+slave: $(get asyncslave64)/s" "$r" ">= 0.60" "$(verdict "$r" '>=' 0.60)"
r=$(ratio "$(get syncmaster64)" "$send64")
row "  the same against no slave" "$(get syncmaster64)/s" "ASYNC_MASTER: ${send64}/s" "$r" "" ""
r=$(ratio "$(get index64)" "$(get noindex64)")
row "index on, 64 in flight" "$(get index64)/s" "off: $(get noindex64)/s" "$r" ">= 0.90" "$(verdict "$r" '>=' 0.90)"
r=$(ratio "$(get index1)" "$(get noindex1)")
row "index on, 1 in flight" "$(get index1)/s" "off: $(get noindex1)/s" "$r" ">= 0.90" "$(verdict "$r" '>=' 0.90)"
r=$(ratio "$(get drain)" "$send64")
row "consume drain (push, 1 member)" "$(get drain)/s" "send 64: ${send64}/s" "$r" ">= 1.5" "$(verdict "$r" '>=' 1.5)"
p99=$(get e2e_p99)
row "e2e p99 at half the max rate" "${p99} us" "rate $(get e2e_rate)/s" "" "< 5000 us" "$(verdict "$p99" '<' 5000)"
row "e2e p50 / p999" "$(get e2e_p50) / $(get e2e_p999) us" "" "" "" ""
r=$(ratio "$(get cpu_send64)" "$(get cpu_batch32)")
row "broker CPU per message: batch 32" "$(get cpu_batch32) us" "send 64: $(get cpu_send64) us" "$r" "" ""
r=$(ratio "$(get cpu_send64)" "$(get cpu_drain)")
row "broker CPU per message: drain" "$(get cpu_drain) us" "send 64: $(get cpu_send64) us" "$r" "" ""
for k in send64 send1 batch32 drain e2e syncflush syncmaster asyncslave; do
    row "broker during $k" "anon $(get "rss_anon_$k") MB" "file $(get "rss_file_$k") MB" "" "$(get "cpu_$k") us CPU/msg" ""
done
row "broker anonymous memory, peak" "${max_anon} MB" "" "" "< 64 MB" "$(verdict "$max_anon" '<' 64)"
