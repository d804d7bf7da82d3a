#!/usr/bin/env bash
# nftables enforcement: latency from a drop verdict to the block being in the kernel (p50,
# p99) and the sustained insert rate. Runs in a private network namespace (needs root).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DVIGIL_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench -j2 --target nft_bench
build-bench/bench/nft_bench "$@"
