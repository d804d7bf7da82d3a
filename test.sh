#!/usr/bin/env bash
# Sets up the machine (Debian packages), builds Vigil and runs every test:
#   1. the normal build with -Werror: unit tests, replay corpus, CLI and EVE-schema tests,
#      live capture and enforcement in network namespaces, and the header self-containment
#      check;
#   2. the same tests in an AddressSanitizer + UndefinedBehaviorSanitizer build.
# Both builds run even when the first has failures. Ends with one line per build and the
# total, `total: N passed, N failed`; the exit status is non-zero when anything failed.
set -euo pipefail
cd "$(dirname "$0")"
jobs=2

bash images/setup.sh

summary=()
passed_total=0
failed_total=0

# run_ctest NAME DIR [ENV...]: runs the build's tests, adds its line to the summary.
run_ctest() {
    local name=$1 dir=$2
    shift 2
    local log
    log=$(mktemp /tmp/vigil-ctest.XXXXXX.log)
    (cd "$dir" && env "$@" ctest -j"$jobs" --output-on-failure) 2>&1 | tee "$log" || true
    # ctest's closing line: "97% tests passed, 3 tests failed out of 398"
    local line failed total
    line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
    if [ -z "$line" ]; then
        summary+=("$name: ctest did not finish (see above)")
        failed_total=$((failed_total + 1))
        rm -f "$log"
        return
    fi
    failed=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
    total=$(sed -E 's/.* failed out of ([0-9]+).*/\1/' <<<"$line")
    summary+=("$name: $((total - failed)) passed, $failed failed")
    passed_total=$((passed_total + total - failed))
    failed_total=$((failed_total + failed))
    rm -f "$log"
}

echo "== build (warnings are errors) =="
cmake -S . -B build-test -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVIGIL_WERROR=ON >/dev/null
cmake --build build-test -j"$jobs"
cmake --build build-test -j"$jobs" --target check_headers

echo "== tests =="
run_ctest "werror" build-test

echo "== tests under AddressSanitizer + UndefinedBehaviorSanitizer =="
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DVIGIL_WERROR=ON \
    -DVIGIL_SANITIZE=ON -DVIGIL_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j"$jobs"
run_ctest "asan" build-asan ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1

echo
echo "== results =="
printf '%s\n' "${summary[@]}"
echo "total: $passed_total passed, $failed_total failed"
[ "$failed_total" -eq 0 ]
