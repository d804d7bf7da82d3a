#!/usr/bin/env bash
# Sets up the machine (Debian packages), builds vigil-sensor and replays the bundled corpus
# (pcaps/) with the bundled rules (rules/default): every capture is checked against its
# .expect file and the replay summary is printed. Then the same Ethernet captures go through
# the live dataplane (`vigil-sensor run` on a DPDK net_pcap port), whose alerts must equal
# the replay's. The last lines are the result; the exit status is non-zero when either
# check fails. Output: out/eve.json (EVE JSON), out/*.log (full logs).
set -euo pipefail
cd "$(dirname "$0")"

bash images/setup.sh
mkdir -p out

echo "build: vigil-sensor (Release; compiler output in out/build.log)"
if ! { cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DVIGIL_BUILD_TESTS=OFF &&
    cmake --build build -j2 --target vigil-sensor; } >out/build.log 2>&1; then
    tail -n 40 out/build.log >&2
    echo "build: FAILED (the whole output: out/build.log)" >&2
    exit 1
fi
sensor=build/sensor/vigil-sensor
ncaptures=$(find pcaps -maxdepth 1 -name '*.pcap' | wc -l)

echo
echo "== vigil-sensor replay: the $ncaptures captures in pcaps/ with rules/default =="
replay_rc=0
$sensor replay --pcap pcaps --rules rules/default --config pcaps/replay.yaml \
    --eve out/eve.json --expect auto --stats --no-progress 2>out/replay.log || replay_rc=$?
# The summary, and the diff of any capture that missed its expectations (the line of each
# capture that met them is in out/replay.log).
grep -v -e '^expect: PASS ' -e '^expect: [0-9]* passed' out/replay.log || true
expect_line=$(grep '^expect: [0-9]* passed' out/replay.log ||
    echo "expect: replay failed (exit $replay_rc; out/replay.log)")

# The same captures through the live dataplane: `vigil-sensor run` with DPDK reading them
# from a net_pcap virtual port (no NIC, no hugepages), one worker, stopping when the file
# runs dry. A net_pcap port keeps each packet's file time, so the alerts must be replay's.
# net_pcap carries Ethernet frames only: the other captures are skipped, and said so.
concat=$(/usr/bin/python3 images/concat_pcaps.py out/corpus-eth.pcap pcaps/*.pcap 2>&1)
{
    cat pcaps/replay.yaml
    # Relative paths resolve against this file's folder (out/).
    cat <<YAML
sensor-id: demo
capture:
  method: dpdk
  eal: ["--no-huge", "-m", "512", "--no-pci", "--no-shconf", "--no-telemetry",
        "--log-level=*:error", "-l", "0-1", "--vdev=net_pcap0,rx_pcap=corpus-eth.pcap"]
  ports: [net_pcap0]
  workers: 1
  exit-on-idle-ms: 500
rules: [../rules/default]
outputs:
  eve: {path: run-eve.json}
YAML
} >out/run.yaml
run_rc=0
$sensor run --config out/run.yaml --no-progress 2>out/run.log || run_rc=$?
$sensor replay --pcap out/corpus-eth.pcap --rules rules/default --config pcaps/replay.yaml \
    --eve out/replay-eth.json --no-progress 2>out/replay-eth.log || run_rc=$?
count_alerts() { grep -c '"event_type":"alert"' "$1" 2>/dev/null || true; }
run_alerts=$(count_alerts out/run-eve.json)
replay_alerts=$(count_alerts out/replay-eth.json)
if [ "$run_rc" -eq 0 ] && [ "$run_alerts" = "$replay_alerts" ]; then
    verdict="equal"
else
    verdict="DIFFERENT (exit $run_rc; out/run.log, out/replay-eth.log)"
fi

echo
echo "== result =="
echo "EVE JSON: out/eve.json ($(wc -l <out/eve.json) records); logs: out/replay.log, out/run.log"
echo "captures through DPDK: ${concat#*: }"
echo "$expect_line"
echo "run over DPDK: $run_alerts alerts, replay of the same captures: $replay_alerts — $verdict"
[ "$replay_rc" -eq 0 ] && [ "$verdict" = "equal" ]
