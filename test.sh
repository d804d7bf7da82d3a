#!/usr/bin/env bash
# Sets up the machine (Debian packages), builds Vigil and runs every test:
#   1. the normal build with -Werror: unit tests, replay corpus, CLI and EVE-schema tests;
#   2. the same tests in an AddressSanitizer + UndefinedBehaviorSanitizer build;
#   3. the header self-containment check.
# Exit status is non-zero when anything fails.
set -euo pipefail
cd "$(dirname "$0")"
jobs=2

bash images/setup.sh

echo "== build (warnings are errors) =="
cmake -S . -B build-test -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVIGIL_WERROR=ON >/dev/null
cmake --build build-test -j"$jobs"
cmake --build build-test -j"$jobs" --target check_headers

echo "== tests =="
(cd build-test && ctest -j"$jobs" --output-on-failure)

echo "== tests under AddressSanitizer + UndefinedBehaviorSanitizer =="
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DVIGIL_WERROR=ON \
    -DVIGIL_SANITIZE=ON -DVIGIL_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j"$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest -j"$jobs" --output-on-failure)
