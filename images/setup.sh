#!/usr/bin/env bash
# Installs every Debian 12 package Vigil needs to build, test and benchmark.
# Idempotent: when everything is present it only asks dpkg-query and exits (well under a
# second). apt's output is shown only when the installation fails.
set -euo pipefail

packages=(
    # toolchain
    build-essential cmake ninja-build pkg-config ccache clang-format
    # dataplane: libpcap, DPDK (+ dpdk-devbind.py, testpmd)
    libpcap-dev libdpdk-dev dpdk
    # rules (libpsl: the domain/tld transforms, on the public suffix list)
    libhyperscan-dev libpcre2-dev zlib1g-dev libssl-dev libpsl-dev publicsuffix
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
    # management plane: ZeroMQ transport (+ python3-zmq for the rogue-peer tests), the SQLite
    # store, the HTTP API (cpp-httplib; TLS via OpenSSL), token hashing and CURVE keys
    libzmq3-dev cppzmq-dev libsqlite3-dev sqlite3 libcpp-httplib-dev libsodium-dev libsimdjson-dev python3-zmq
    # rule packs (.tar.zst): libarchive with its zstd filter
    libarchive-dev libzstd-dev zstd
    # the appliance (tests/images): the Debian package (dpkg-shlibdeps, lintian), the units
    # (systemd-analyze), the polkit rule evaluated by node
    dpkg-dev lintian systemd nodejs
)

missing=()
for p in "${packages[@]}"; do
    # Installed, not merely known: a removed package keeps "deinstall ok config-files".
    if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
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

# apt's output goes to a log, shown only when something fails.
log=$(mktemp /tmp/vigil-setup.XXXXXX.log)
echo "setup: installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
    >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "setup: FAILED installing packages (the whole output: $log)" >&2
    exit 1
fi
rm -f "$log"
echo "setup: done"
