#!/usr/bin/env bash
# Installs every Debian 12 package Vigil needs to build, test and benchmark.
# Idempotent: when everything is present it only runs `dpkg -s` and exits (well under a second).
set -euo pipefail

packages=(
    # toolchain
    build-essential cmake ninja-build pkg-config ccache clang-format
    # dataplane: libpcap, DPDK (+ dpdk-devbind.py, testpmd)
    libpcap-dev libdpdk-dev dpdk
    # rules
    libhyperscan-dev libpcre2-dev zlib1g-dev libssl-dev
    # sensor: config, JSON, command line
    libyaml-cpp-dev nlohmann-json3-dev libcli11-dev
    # tests and benchmarks
    libgtest-dev libgmock-dev
    # pcap generation (bench/, pcaps/) and EVE schema validation (tests)
    python3 python3-scapy python3-jsonschema python3-yaml
    # live capture tests: namespaces + veth, traffic injection, capture at the far end
    iproute2 tcpreplay tcpdump
    # IPS enforcement: libnftnl + libmnl; nft (tests read counters and tamper with it)
    libnftnl-dev libmnl-dev nftables
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg -s "$p" >/dev/null 2>&1; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: all ${#packages[@]} packages present"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing packages: ${missing[*]}" >&2
    echo "setup: run as root (or install them) and try again" >&2
    exit 1
fi

echo "setup: installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup: done"
