#!/usr/bin/env bash
# Sets up the machine (Debian packages), builds vigil-sensor, vigil-mgmtd and vigilctl,
# starts vigil-mgmtd and replays the bundled corpus (pcaps/) with the bundled rules
# (rules/default) into it over ZeroMQ: every capture is checked against its .expect file, the
# replay summary is printed, and then what mgmtd stored is read back through its API
# (`vigilctl status`, the alerts by signature). Then the same Ethernet captures go through
# the live dataplane (`vigil-sensor run` on a DPDK net_pcap port), whose alerts must equal
# the replay's. The last lines are the result; the exit status is non-zero when a check
# fails. Output: out/eve.json (EVE JSON), out/mgmt/ (mgmtd's store), out/*.log (full logs).
set -euo pipefail
cd "$(dirname "$0")"

bash images/setup.sh
mkdir -p out

echo "build: vigil-sensor, vigil-mgmtd, vigilctl (Release; compiler output in out/build.log)"
if ! { cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DVIGIL_BUILD_TESTS=OFF &&
    cmake --build build -j2 --target vigil-sensor vigil-mgmtd vigilctl; } >out/build.log 2>&1; then
    tail -n 40 out/build.log >&2
    echo "build: FAILED (the whole output: out/build.log)" >&2
    exit 1
fi
sensor=build/sensor/vigil-sensor
mgmtd=build/mgmt/vigil-mgmtd
vigilctl=build/mgmt/vigilctl
ncaptures=$(find pcaps -maxdepth 1 -name '*.pcap' | wc -l)

# vigil-mgmtd, everything under out/mgmt/ (a fresh store each time), its API on a free
# loopback port; a viewer token made locally, as an operator makes the first one.
rm -rf out/mgmt
mkdir -p out/mgmt
api_port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >out/mgmt/mgmtd.yaml <<YAML
listen: "ipc://mgmt.sock"
store: {path: mgmt.db}
api: {listen: "127.0.0.1:$api_port", tokens: tokens.db}
YAML
$mgmtd --config out/mgmt/mgmtd.yaml 2>out/mgmtd.log &
mgmtd_pid=$!
trap 'kill $mgmtd_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    grep -q "API on" out/mgmtd.log && break
    kill -0 $mgmtd_pid 2>/dev/null || { cat out/mgmtd.log >&2; echo "vigil-mgmtd did not start" >&2; exit 1; }
    sleep 0.1
done
export VIGIL_TOKEN
VIGIL_TOKEN=$($vigilctl tokens add demo --role viewer --config out/mgmt/mgmtd.yaml)
ctl() { $vigilctl --api "http://127.0.0.1:$api_port" "$@"; }

# The replay's settings (pcaps/replay.yaml) plus the link to mgmtd.
{
    cat pcaps/replay.yaml
    cat <<YAML
sensor-id: demo
outputs:
  zmq: {endpoint: "ipc://mgmt/mgmt.sock", spool: mgmt/spool, drain-timeout-s: 30}
YAML
} >out/replay-mgmt.yaml

echo
echo "== vigil-sensor replay: the $ncaptures captures in pcaps/ with rules/default, into vigil-mgmtd =="
replay_rc=0
$sensor replay --pcap pcaps --rules rules/default --config out/replay-mgmt.yaml \
    --eve out/eve.json --expect auto --stats --no-progress 2>out/replay.log || replay_rc=$?
# The summary, and the diff of any capture that missed its expectations (the line of each
# capture that met them is in out/replay.log).
grep -v -e '^expect: PASS ' -e '^expect: [0-9]* passed' out/replay.log || true
expect_line=$(grep '^expect: [0-9]* passed' out/replay.log ||
    echo "expect: replay failed (exit $replay_rc; out/replay.log)")

# What mgmtd stored, read back through its API.
echo
echo "== vigilctl status =="
ctl status || true
echo
echo "== alerts stored in vigil-mgmtd, by signature (vigilctl alerts --json) =="
ctl alerts --json --sensor demo --limit 1000000 >out/mgmt-alerts.json 2>out/vigilctl.log ||
    echo "vigilctl alerts failed: $(cat out/vigilctl.log)"
/usr/bin/python3 - out/mgmt-alerts.json <<'PY' || true
import collections, json, sys
alerts = json.load(open(sys.argv[1]))
by_sig = collections.Counter((a["alert"]["signature_id"], a["alert"]["signature"]) for a in alerts)
for (sid, msg), n in by_sig.most_common(15):
    print("  %6d  %-9d %s" % (n, sid, msg))
if len(by_sig) > 15:
    print("  (%d more signatures)" % (len(by_sig) - 15))
PY
stored=$(/usr/bin/python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))))' \
    out/mgmt-alerts.json 2>/dev/null || echo 0)

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
rm -f out/run-eve.json # `run` appends to its EVE file (a service keeps its earlier runs' records)
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

eve_alerts=$(grep -c '"event_type":"alert"' out/eve.json || true)
if [ "$stored" = "$eve_alerts" ]; then
    mgmt_verdict="equal"
else
    mgmt_verdict="DIFFERENT (out/replay.log, out/mgmtd.log)"
fi

echo
echo "== result =="
echo "EVE JSON: out/eve.json ($(wc -l <out/eve.json) records); logs: out/replay.log, out/run.log"
echo "captures through DPDK: ${concat#*: }"
echo "$expect_line"
echo "vigil-mgmtd: $stored alerts stored from the replay, the EVE file has $eve_alerts — $mgmt_verdict"
echo "run over DPDK: $run_alerts alerts, replay of the same captures: $replay_alerts — $verdict"
[ "$replay_rc" -eq 0 ] && [ "$verdict" = "equal" ] && [ "$mgmt_verdict" = "equal" ]
