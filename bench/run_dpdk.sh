#!/usr/bin/env bash
# Benchmarks the live DPDK pipeline (vigil::sensor::run_live) on a ring port filled before
# each run: 64-byte frames and bench/data/mixed.pcap, 1 and 2 workers, rx-only floor vs full
# pipeline, with the ET Open rules. Then, when perf is installed, profiles one 64B
# single-worker pipeline run and splits the worker's samples into pipeline stages.
#   DPDK_BENCH_RULES=PATH  rules to use (default ../shared/rulesets/et-open-2025-07, else the
#                          generated bench/data/bench.rules)
#   BENCH_MB=N             size of the generated mixed.pcap (default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
mb=${BENCH_MB:-200}
mkdir -p bench/data
if [ ! -f bench/data/mixed.pcap ]; then
    /usr/bin/python3 bench/gen_traffic.py --out bench/data/mixed.pcap --mb "$mb"
fi
rules=${DPDK_BENCH_RULES:-../shared/rulesets/et-open-2025-07}
if [ ! -e "$rules" ]; then
    echo "note: $rules not found: using the generated bench/data/bench.rules" >&2
    if [ ! -f bench/data/bench.rules ]; then
        /usr/bin/python3 bench/gen_rules.py --out bench/data/bench.rules
    fi
    rules=bench/data/bench.rules
fi
cmake -S . -B build-dbench -G Ninja -DCMAKE_BUILD_TYPE=Release -DVIGIL_BUILD_TESTS=OFF >/dev/null
cmake --build build-dbench -j2 --target dpdk_bench
bin=build-dbench/bench/dpdk_bench

echo "== live pipeline on a DPDK ring port: $rules =="
"$bin" --rules "$rules" --pcap bench/data/mixed.pcap --workers 1,2 --repeat 3

if ! command -v perf >/dev/null 2>&1; then
    echo "perf not installed: no profile"
    exit 0
fi
echo
echo "== perf: 64B, 1 worker, pipeline only (perf record -F 999 -g) =="
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
perf record -F 999 -g -o "$tmp/perf.data" -- "$bin" --rules "$rules" --only 64B --workers 1 \
    --mode pipeline --repeat 1 --max-packets 4000000 >"$tmp/run.txt" 2>"$tmp/record.err" || {
    cat "$tmp/record.err" >&2
    exit 1
}
grep -E '^64B ' "$tmp/run.txt" || true
# The worker is EAL lcore 1, a thread named rte-worker-1; everything else (rule compile,
# preloading the mbufs, the control thread) is left out.
comm=rte-worker-1
perf report -i "$tmp/perf.data" --sort comm --stdio -g none >"$tmp/comms.txt" 2>/dev/null || true
if ! grep -q "$comm" "$tmp/comms.txt"; then
    echo "no samples from thread $comm: showing the whole process"
    comm=""
fi
report() {
    perf report -i "$tmp/perf.data" ${comm:+--comm "$comm"} --no-children --percentage relative \
        --stdio -g none "$@" 2>/dev/null | grep -v -e '^#' -e '^$' |
        sed -E 's/([[:space:]]+-)+[[:space:]]*$//' || true
}
echo "-- top symbols, % of ${comm:-all} samples (perf report --no-children --sort dso,symbol) --"
report --sort dso,symbol | head -25 || true
echo "-- by stage, % of ${comm:-all} samples --"
report --sort dso,symbol --percent-limit 0 | /usr/bin/python3 -c '
import re, sys
order = ["rx / ring PMD", "decode", "flow table", "defrag", "stream", "app layer",
         "detect: hyperscan", "detect: rules", "worker loop", "kernel", "other"]
total = dict.fromkeys(order, 0.0)
top = {k: [] for k in order}
def stage(dso, kind, sym):
    if kind == "k" or dso.startswith("[kernel"):
        return "kernel"
    if dso.startswith("librte_") or re.search(r"\brte_|eth_ring|DpdkQueue|mempool|mbuf", sym):
        return "rx / ring PMD"
    if dso.startswith("libhs") or re.match(r"(hs_|avx2_|avx512|corei7_|core2_|fdr|nfa|rose)", sym):
        return "detect: hyperscan"
    if dso.startswith("libpcre2") or "vigil::rules::" in sym or "pcre2" in sym:
        return "detect: rules"
    if "::app::" in sym or "AppLayer" in sym:
        return "app layer"
    if "Defragmenter" in sym:
        return "defrag"
    if "StreamEngine" in sym or "dataplane::Stream" in sym:
        return "stream"
    if "FlowTable" in sym or "flow_hash" in sym or "FlowKey" in sym or "dataplane::Flow" in sym:
        return "flow table"
    if "decode" in sym or "DecodeStats" in sym:
        return "decode"
    if "worker_loop" in sym or "sensor::Worker" in sym:
        return "worker loop"
    return "other"
for line in sys.stdin:
    m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*\S)", line)
    if not m:
        continue
    pct, dso, kind = float(m[1]), m[2], m[3]
    sym = re.sub(r"(\s+-)+$", "", m[4]).strip()
    s = stage(dso, kind, sym)
    total[s] += pct
    top[s].append((pct, sym if not sym.startswith("0x") else dso + " " + sym))
for s in order:
    if total[s] < 0.05:
        continue
    names = ", ".join("%s %.1f" % (n[:56], p) for p, n in sorted(top[s], reverse=True)[:3])
    print("%-18s %5.1f%%   (top: %s)" % (s, total[s], names))
print("%-18s %5.1f%%   (detect: hyperscan + rules)" % ("detect total",
      total["detect: hyperscan"] + total["detect: rules"]))
print("%-18s %5.1f%%" % ("sum", sum(total.values())))
'
echo "(rx / ring PMD: librte_*, DpdkQueue; decode: dataplane::decode*; flow table: FlowTable*,"
echo " flow_hash; stream: StreamEngine*; app layer: dataplane::app::*; detect: hyperscan = libhs,"
echo " rules = vigil::rules::* (Matcher, address/port/header checks, confirm), pcre2; worker loop:"
echo " worker_loop, sensor::Worker glue; kernel: [k]; other: libc, libstdc++, vdso.)"
