#!/usr/bin/env bash
# Benchmarks the replay pipeline against raw Hyperscan on the same bytes, with generated
# rules and with the ET Open rules. Data goes to bench/data/ (generated once, not committed).
set -euo pipefail
cd "$(dirname "$0")/.."
mb=${BENCH_MB:-200}
mkdir -p bench/data
if [ ! -f bench/data/mixed.pcap ]; then
    /usr/bin/python3 bench/gen_traffic.py --out bench/data/mixed.pcap --mb "$mb"
fi
if [ ! -f bench/data/bench.rules ]; then
    /usr/bin/python3 bench/gen_rules.py --out bench/data/bench.rules
fi
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DVIGIL_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench -j2 --target replay_bench flow_memory stream_mode_bench
echo "== generated rules =="
build-bench/bench/replay_bench --pcap bench/data/mixed.pcap --rules bench/data/bench.rules \
    --workers 1,2 --repeat 3
et=../shared/rulesets/et-open-2025-07
if [ -d "$et" ]; then
    echo "== ET Open rules =="
    build-bench/bench/replay_bench --pcap bench/data/mixed.pcap --rules "$et" --workers 1,2 \
        --repeat 3
fi
echo "== cross-segment matching: lookback window vs Hyperscan streaming mode =="
build-bench/bench/stream_mode_bench --pcap bench/data/mixed.pcap --rules bench/data/bench.rules
echo "== memory: 100k concurrent TCP flows =="
cmake --build build-bench -j2 --target flow_memory
build-bench/bench/flow_memory 100000
