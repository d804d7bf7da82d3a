#!/usr/bin/env bash
# Sets up the machine (Debian packages), builds Vigil and replays the bundled corpus (pcaps/)
# through vigil-sensor with the bundled rules (rules/default), checking every pcap against its
# .expect file and printing a summary. EVE JSON goes to out/eve.json.
set -euo pipefail
cd "$(dirname "$0")"

bash images/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DVIGIL_BUILD_TESTS=OFF >/dev/null
cmake --build build -j2 --target vigil-sensor

mkdir -p out
echo
echo "== vigil-sensor replay: pcaps/ with rules/default =="
build/sensor/vigil-sensor replay --pcap pcaps --rules rules/default --config pcaps/replay.yaml \
    --eve out/eve.json --expect auto --stats
echo
echo "EVE JSON written to out/eve.json ($(wc -l <out/eve.json) records)"

# The same captures through the live dataplane: `vigil-sensor run` with DPDK reading them from
# a net_pcap virtual port (no NIC, no hugepages needed), one worker, stopping when the file
# runs dry. A net_pcap port keeps each packet's file time, so the alerts are replay's.
echo
echo "== vigil-sensor run: the same Ethernet captures through DPDK (net_pcap port) =="
/usr/bin/python3 images/concat_pcaps.py out/corpus-eth.pcap pcaps/*.pcap
{
    cat pcaps/replay.yaml
    cat <<YAML
sensor-id: demo
capture:
  method: dpdk
  eal: ["--no-huge", "-m", "512", "--no-pci", "--no-shconf", "--no-telemetry",
        "--log-level=*:error", "-l", "0-1", "--vdev=net_pcap0,rx_pcap=$PWD/out/corpus-eth.pcap"]
  ports: [net_pcap0]
  workers: 1
  exit-on-idle-ms: 500
rules: [$PWD/rules/default]
outputs:
  eve: {path: $PWD/out/run-eve.json}
YAML
} >out/run.yaml
build/sensor/vigil-sensor run --config out/run.yaml --no-progress
build/sensor/vigil-sensor replay --pcap out/corpus-eth.pcap --rules rules/default \
    --config pcaps/replay.yaml --eve out/replay-eth.json --no-progress
echo "alerts: run over DPDK $(grep -c '"event_type":"alert"' out/run-eve.json)," \
    "replay of the same file $(grep -c '"event_type":"alert"' out/replay-eth.json)"
