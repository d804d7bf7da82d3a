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
