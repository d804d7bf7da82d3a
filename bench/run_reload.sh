#!/bin/bash
# Rule reload under traffic (issue 12's benchmark), in one run:
#   - a rule set of ET Open plus generated rules (about 30,000: --count of gen_rules.py);
#   - `vigil-sensor check` cold and with the compile cache filled (engine.rules-cache);
#   - `vigil-sensor run` on a DPDK net_pcap port that replays a small capture in a loop
#     (infinite_rx), one worker; then SIGHUP: packets/s before, during and after the reload,
#     resident memory steady and at its peak (sampled every 100 ms), the longest time a worker
#     was held by the switch (the sensor's own measure): without and with the cache, the rules
#     unchanged (a rollback, a re-sent pack), 1% of them changed (a daily update) and every
#     one changed (nothing can be shared with the running set: the worst case).
# The machines are shared and noisy: compare the ratios of one run.
#
#   bench/run_reload.sh [BUILD_DIR]      (default build-bench; needs vigil-sensor)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-bench}
sensor=$build/sensor/vigil-sensor
[ -x "$sensor" ] || { echo "run_reload: $sensor not built" >&2; exit 2; }
et=${RELOAD_BENCH_ET:-../shared/rulesets/et-open-2025-07}
count=${RELOAD_BENCH_GENERATED:-15000}
work=$(mktemp -d /tmp/vigil-reload-bench.XXXXXX)
trap 'kill $(cat $work/pid 2>/dev/null) 2>/dev/null || true; rm -rf $work' EXIT

mkdir -p $work/rules $work/cache
/usr/bin/python3 bench/gen_rules.py --out $work/rules/generated.rules --count $count >/dev/null
if [ -d "$et" ]; then cp "$et"/*.rules $work/rules/; else echo "note: $et not found: generated rules only" >&2; fi
nrules=$(cat $work/rules/*.rules | grep -c '^alert\|^drop\|^pass\|^reject' || true)
echo "== rule set: $nrules rule lines in $(ls $work/rules | wc -l) files =="

# check: cold, then the cache filled, then from the cache
tcheck() {
    local t0; t0=$(date +%s.%N)
    "$sensor" check --rules $work/rules --allow-rejected 1000000 "$@" 2>&1 | grep -E "^rules: [0-9]|hyperscan cache|^time:" | sed 's/^/   /' || true
    awk -v a=$t0 -v b=$(date +%s.%N) 'BEGIN { printf "   %.2f s in all\n", b - a }'
}
echo "-- check, no cache:"; tcheck
echo "-- check, filling the cache:"; tcheck --rules-cache $work/cache
echo "-- check, from the cache:"; tcheck --rules-cache $work/cache

pcap=$work/loop.pcap
cp pcaps/01-http-established.pcap $pcap
config() {
    cat > $work/sensor.yaml <<EOF
sensor-id: reload-bench
capture:
  method: dpdk
  eal: ["--no-huge", "-m", "1024", "--no-pci", "--no-shconf", "--no-telemetry", "--log-level=*:error", "--lcores=0@0,(1,2)@1", "--vdev=net_pcap0,rx_pcap=$pcap,infinite_rx=1"]
  ports: [net_pcap0]
  workers: 1
rules: [$work/rules-run]
$1
outputs:
  eve: {path: /dev/null}
EOF
}
rss() { awk '/VmRSS/ {print $2}' /proc/$1/status; }
count_pkts() { kill -USR1 $1; sleep 0.3; grep "worker 0" $work/err | tail -1 | awk '{print $4}'; }

# Changes the msg of every Nth rule of the running copy (N=1: all of them).
change_rules() {
    local every=$1
    for f in $work/rules-run/*.rules; do
        awk -v n=$every '/^(alert|drop|pass|reject) / { k++; if (k % n == 0) sub(/msg:"/, "msg:\"v2 ") } { print }' "$f" > "$f.new"
        mv "$f.new" "$f"
    done
}

run_one() {
    local label=$1
    local change=${3:-0}
    config "$2"
    rm -rf $work/rules-run; cp -r $work/rules $work/rules-run
    : > $work/err
    local ts; ts=$(date +%s.%N)
    "$sensor" run --config $work/sensor.yaml --no-progress 2>$work/err >/dev/null &
    local pid=$!; echo $pid > $work/pid
    for _ in $(seq 1 1200); do grep -q "running:" $work/err && break; sleep 0.05; done
    local started; started=$(awk -v a=$ts -v b=$(date +%s.%N) 'BEGIN { printf "%.2f", b - a }')
    sleep 3
    local steady; steady=$(rss $pid)
    local a t0 b t1; a=$(count_pkts $pid); t0=$(date +%s.%N); sleep 3; b=$(count_pkts $pid); t1=$(date +%s.%N)
    [ "$change" -gt 0 ] && change_rules "$change"
    kill -HUP $pid
    local peak=$steady
    local n=0
    while ! grep -q "reload complete\|reload refused" $work/err; do
        sleep 0.1; local r; r=$(rss $pid); [ "$r" -gt "$peak" ] && peak=$r
        n=$((n+1)); [ $n -gt 3000 ] && { echo "reload did not finish" >&2; exit 1; }
    done
    local c t2; c=$(count_pkts $pid); t2=$(date +%s.%N)
    sleep 3
    local d t3; d=$(count_pkts $pid); t3=$(date +%s.%N)
    local after; after=$(rss $pid)
    kill -TERM $pid; wait $pid || true
    echo "-- run + SIGHUP, $label:"
    echo "   start: rules loaded and the port running $started s after exec"
    grep -E "reload: rule set|reload complete|reload refused" $work/err | sed 's/^/   /'
    awk -v a=$a -v b=$b -v c=$c -v d=$d -v t0=$t0 -v t1=$t1 -v t2=$t2 -v t3=$t3 \
        -v s=$steady -v p=$peak -v f=$after 'BEGIN {
        before = (b - a) / (t1 - t0); during = (c - b) / (t2 - t1); after = (d - c) / (t3 - t2);
        printf "   packets/s: before %.0f, during the reload %.0f (%.2f x), after %.0f\n", before, during, during / before, after;
        printf "   RSS: steady %d MB, peak %d MB (%.2f x steady), after %d MB\n", s / 1024, p / 1024, p / s, f / 1024 }'
}
run_one "no cache, rules unchanged" ""
run_one "compile cache filled, rules unchanged" "engine: {rules-cache: $work/cache}"
run_one "compile cache filled, 1% of the rules changed" "engine: {rules-cache: $work/cache}" 100
run_one "compile cache filled, every rule changed (nothing shared)" "engine: {rules-cache: $work/cache}" 1
