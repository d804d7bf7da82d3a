#!/usr/bin/env python3
"""The test suite never touches the host's own network: ctest runs `--save` before every other
test and `--compare` after all of them (a fixture). The comparison fails when the host's
network namespace holds an nftables table with 'vigil' in its name that it did not hold
before, or when such a table that was there before changed (its sets, elements, chains or
rules; timers and counters aside). Every test that can reach nftables must run in a network
namespace it creates.

Usage: host_netns_check.py --save FILE | --compare FILE | --self-test

--self-test shows that the comparison fails when it should: in a network namespace of its
own (unshare -n), an unchanged namespace passes, and a new vigil table, or a new element in
one, fails.
"""

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

SKIP = 77  # ctest SKIP_RETURN_CODE


def vigil_tables():
    """{"family name": normalised listing} of the host's tables whose name has 'vigil'."""
    nft = shutil.which("nft")
    if nft is None:
        return None
    out = subprocess.run([nft, "list", "tables"], capture_output=True, text=True)
    if out.returncode != 0:
        # No nf_tables or no permission: nothing a test could have created either.
        return {}
    tables = {}
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "table" and "vigil" in parts[2]:
            family, name = parts[1], parts[2]
            listing = subprocess.run([nft, "list", "table", family, name],
                                     capture_output=True, text=True).stdout
            # Time left and counters move on their own.
            listing = re.sub(r" expires [0-9hmsd]+", "", listing)
            listing = re.sub(r"counter packets \d+ bytes \d+", "counter", listing)
            tables[f"{family} {name}"] = listing
    return tables


def self_test():
    if shutil.which("nft") is None or shutil.which("unshare") is None or os.geteuid() != 0:
        print("host_netns_check: self-test needs root, nft and unshare; skipped")
        return SKIP
    me = [sys.executable, os.path.abspath(__file__)]
    with tempfile.TemporaryDirectory(prefix="vigil-netns-check-") as tmp:
        snap = os.path.join(tmp, "before.json")
        steps = [
            ("an unchanged namespace", [], 0),
            ("a new table", [["nft", "add", "table", "inet", "vigil"],
                             ["nft", "add", "set", "inet", "vigil", "block4",
                              "{ type ipv4_addr; flags timeout; }"]], 1),
            ("a new element", [["nft", "add", "element", "inet", "vigil", "block4",
                                "{ 192.0.2.1 timeout 1h }"]], 1),
        ]
        script = ["set -e"]
        for what, cmds, want in steps:
            script.append(" ".join(map(shlex.quote, me + ["--save", snap])) + " >/dev/null")
            script += [" ".join(map(shlex.quote, c)) for c in cmds]
            script.append("rc=0; %s >/dev/null 2>&1 || rc=$?" %
                          " ".join(map(shlex.quote, me + ["--compare", snap])))
            script.append('[ "$rc" -eq %d ] || { echo "FAIL: %s: exit $rc, expected %d"; '
                          'exit 1; }' % (want, what, want))
        r = subprocess.run(["unshare", "-n", "sh", "-c", "\n".join(script)],
                           capture_output=True, text=True)
    if r.returncode != 0:
        print("host_netns_check: self-test: " + (r.stdout + r.stderr).strip(), file=sys.stderr)
        return 1
    print("host_netns_check: self-test: an unchanged namespace passes; a new table and a new "
          "element fail")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--save", metavar="FILE")
    g.add_argument("--compare", metavar="FILE")
    g.add_argument("--self-test", action="store_true")
    a = ap.parse_args()
    if a.self_test:
        return self_test()
    now = vigil_tables()
    if now is None:
        print("host_netns_check: nft is not installed; nothing to compare")
        return 0
    if a.save:
        with open(a.save, "w") as f:
            json.dump(now, f)
        print(f"host_netns_check: {len(now)} vigil table(s) in the host's namespace before the "
              f"tests: {', '.join(sorted(now)) or 'none'}")
        return 0
    with open(a.compare) as f:
        before = json.load(f)
    problems = []
    for t, listing in sorted(now.items()):
        if t not in before:
            problems.append(f"table {t} was created in the host's network namespace during "
                            f"the tests:\n{listing}")
        elif before[t] != listing:
            problems.append(f"table {t} in the host's network namespace was changed during "
                            f"the tests; now:\n{listing}")
    if problems:
        for p in problems:
            print("host_netns_check: FAIL: " + p, file=sys.stderr)
        print("host_netns_check: a test reached the host's nftables: it must run in a network "
              "namespace it creates (tests/README.md). Remove the table with "
              "`nft delete table ...` once the test is fixed.", file=sys.stderr)
        return 1
    print(f"host_netns_check: the host's namespace has the same vigil tables as before "
          f"({len(now)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
