#!/usr/bin/env python3
"""End-to-end tests of `vigil-sensor replay` and `check` as a user runs them.

Environment: VIGIL_SENSOR (binary), VIGIL_ROOT (repo root), VIGIL_SHARED (../shared).
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import unittest

SENSOR = os.environ.get("VIGIL_SENSOR", "build/sensor/vigil-sensor")
ROOT = os.environ.get("VIGIL_ROOT", os.getcwd())
SHARED = os.environ.get("VIGIL_SHARED", os.path.join(ROOT, "..", "shared"))
PCAPS = os.path.join(ROOT, "pcaps")
REPLAY_CONFIG = os.path.join(PCAPS, "replay.yaml")  # host-os-policy of the corpus
RULES = os.path.join(ROOT, "rules", "default")


def run(*args, **kw):
    return subprocess.run([SENSOR, *args], capture_output=True, text=True, timeout=300, **kw)


def read_eve(path):
    with open(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]


def alerts_of(events):
    return sorted((e["pcap_cnt"], e["alert"]["signature_id"]) for e in events
                  if e["event_type"] == "alert")


class ReplayTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vigil-replay-test-")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def test_corpus_matches_expectations(self):
        eve = self.path("eve.json")
        r = run("replay", "--pcap", PCAPS, "--rules", RULES, "--config", REPLAY_CONFIG, "--eve",
                eve, "--expect", "auto")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("rules: ", r.stderr)
        self.assertRegex(r.stderr, r"expect: \d+ passed, 0 failed")
        events = read_eve(eve)
        self.assertGreater(len(alerts_of(events)), 0)
        self.assertEqual(events[-1]["event_type"], "stats")

    def test_eve_validates_against_suricata_schema(self):
        checker = os.path.join(SHARED, "acceptance", "check_eve.py")
        if not os.path.exists(checker):
            self.skipTest("shared acceptance corpus not present")
        eve = self.path("eve.json")
        r = run("replay", "--pcap", PCAPS, "--rules", RULES, "--eve", eve)
        self.assertEqual(r.returncode, 0, r.stderr)
        c = subprocess.run(["/usr/bin/python3", checker, eve], capture_output=True, text=True)
        self.assertEqual(c.returncode, 0, c.stdout[-3000:])
        self.assertIn("valid", c.stdout)

    def test_workers_give_the_same_alerts(self):
        results = []
        for n in ("1", "2", "3"):
            eve = self.path(f"eve{n}.json")
            r = run("replay", "--pcap", PCAPS, "--rules", RULES, "--eve", eve, "--workers", n)
            self.assertEqual(r.returncode, 0, r.stderr)
            results.append(alerts_of(read_eve(eve)))
        self.assertGreater(len(results[0]), 0)
        self.assertEqual(results[0], results[1])
        self.assertEqual(results[0], results[2])

    def test_rules_cache_gives_the_same_alerts_and_hits_on_the_second_replay(self):
        eve = self.path("plain.json")
        r = run("replay", "--pcap", PCAPS, "--rules", RULES, "--eve", eve)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("hyperscan cache", r.stderr)
        want = alerts_of(read_eve(eve))
        self.assertGreater(len(want), 0)
        cache = self.path("hs-cache")
        for n, line in ((1, r"hyperscan cache: 0 hits, (\d+) misses, 0 rebuilt"),
                        (2, r"hyperscan cache: (\d+) hits, 0 misses, 0 rebuilt")):
            eve = self.path(f"cached{n}.json")
            r = run("replay", "--pcap", PCAPS, "--rules", RULES, "--eve", eve, "--rules-cache",
                    cache)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stderr, line)
            self.assertEqual(alerts_of(read_eve(eve)), want)
        entries = sorted(os.listdir(cache))
        self.assertTrue(entries and all(e.endswith(".hsdb") for e in entries), entries)
        # A damaged entry is named, rebuilt, and the alerts stay the same.
        with open(os.path.join(cache, entries[0]), "r+b") as fh:
            fh.seek(-1, os.SEEK_END)
            last = fh.read(1)
            fh.seek(-1, os.SEEK_END)
            fh.write(bytes([last[0] ^ 0xFF]))
        eve = self.path("cached3.json")
        # engine.rules-cache in the config, relative to the config's folder.
        cfg = self.path("sensor.yaml")
        with open(cfg, "w") as fh:
            fh.write("engine: {rules-cache: hs-cache}\n")
        r = run("replay", "--pcap", PCAPS, "--rules", RULES, "--eve", eve, "--config", cfg)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"rules: warning: hyperscan cache entry {os.path.join(cache, entries[0])} "
                      "corrupt: payload checksum mismatch; rebuilt", r.stderr)
        self.assertRegex(r.stderr, r"hyperscan cache: \d+ hits, 0 misses, 1 rebuilt")
        self.assertEqual(alerts_of(read_eve(eve)), want)
        # A cache folder that cannot be made is one warning, never a failure.
        blocker = self.path("file")
        open(blocker, "w").close()
        eve = self.path("nocache.json")
        r = run("replay", "--pcap", PCAPS, "--rules", RULES, "--eve", eve, "--rules-cache",
                os.path.join(blocker, "cache"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("disabled: cannot create it", r.stderr)
        self.assertIn("hyperscan cache: off", r.stderr)
        self.assertEqual(alerts_of(read_eve(eve)), want)

    def test_eve_to_stdout(self):
        r = run("replay", "--pcap", PCAPS, "--rules", RULES, "--eve", "-")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
        self.assertEqual(lines[-1]["event_type"], "stats")

    def test_stats_summary(self):
        r = run("replay", "--pcap", PCAPS, "--rules", RULES, "--eve", self.path("e.json"),
                "--stats")
        self.assertEqual(r.returncode, 0, r.stderr)
        for word in ("packets", "flows", "alerts by signature"):
            self.assertIn(word, r.stderr)
        # A replay of a few milliseconds gives no rate worth printing.
        self.assertIn("too short a replay for a throughput figure", r.stderr)
        self.assertNotIn("Gbit/s", r.stderr)

    def test_stream_layers_in_stats_summary(self):
        r = run("replay", "--pcap", PCAPS, "--rules", RULES, "--config", REPLAY_CONFIG, "--eve",
                self.path("e.json"), "--stats")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, r"stream +\d+ sessions")
        self.assertRegex(r.stderr, r"defrag +\d+ fragments, [1-9]\d* datagrams reassembled")
        self.assertRegex(r.stderr, r"app-layer +flows: .*http [1-9]")
        stats = read_eve(self.path("e.json"))[-1]["stats"]
        self.assertGreater(stats["tcp"]["sessions"], 0)
        self.assertGreater(stats["tcp"]["overlap_diff_data"], 0)
        self.assertGreater(stats["defrag"]["ipv4"]["fragments"], 0)
        self.assertGreater(stats["app_layer"]["flow"]["http"], 0)

    def test_evasion_signals_are_anomaly_records(self):
        # A retransmission rewriting delivered bytes, and overlapping fragments with different
        # data, are reported as EVE anomaly records (and can be turned off).
        pcaps = [os.path.join(PCAPS, "35-tcp-retransmit-rewrite.pcap"),
                 os.path.join(PCAPS, "40-ipv4-frag-overlap-first.pcap")]
        eve = self.path("a.json")
        r = run("replay", "--pcap", *pcaps, "--rules", RULES, "--config", REPLAY_CONFIG,
                "--eve", eve)
        self.assertEqual(r.returncode, 0, r.stderr)
        events = {e["anomaly"]["event"] for e in read_eve(eve) if e["event_type"] == "anomaly"}
        self.assertIn("stream.reassembly_overlap_different_data", events)
        self.assertIn("decoder.ipv4.frag_overlap", events)
        cfg = self.path("quiet.yaml")
        with open(cfg, "w") as fh:
            fh.write("outputs: {eve: {anomalies: false}}\n")
        r = run("replay", "--pcap", *pcaps, "--rules", RULES, "--config", cfg, "--eve", eve)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse([e for e in read_eve(eve) if e["event_type"] == "anomaly"])

    def test_bad_stream_config_names_key_and_line(self):
        cfg = self.path("bad.yaml")
        with open(cfg, "w") as fh:
            fh.write("stream:\n  depth: lots\nhost-os-policy:\n  beos: [10.0.0.0/8]\n")
        r = run("check", "--config", cfg)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("bad.yaml:2: stream.depth", r.stderr)

    def _first_pcap_with_alerts(self):
        for name in sorted(os.listdir(PCAPS)):
            if not name.endswith(".pcap"):
                continue
            exp = os.path.join(PCAPS, name[:-5] + ".expect")
            with open(exp) as fh:
                if any(l.split()[1] != "0" for l in fh if l.strip() and not l.startswith("#")):
                    return os.path.join(PCAPS, name)
        self.fail("no pcap with expected alerts")

    def test_truncated_pcap_processes_what_came_before_and_exits_2(self):
        src = self._first_pcap_with_alerts()
        data = open(src, "rb").read()
        # Walk records; append a record header promising more bytes than follow.
        off, n = 24, 0
        while off + 16 <= len(data):
            caplen = struct.unpack_from("<I", data, off + 8)[0]
            off += 16 + caplen
            n += 1
        bad = self.path("cut.pcap")
        with open(bad, "wb") as fh:
            fh.write(data)
            fh.write(struct.pack("<IIII", 1, 0, 1000, 1000) + b"x" * 10)
        eve_good, eve_bad = self.path("good.json"), self.path("bad.json")
        self.assertEqual(run("replay", "--pcap", src, "--rules", RULES, "--eve",
                             eve_good).returncode, 0)
        r = run("replay", "--pcap", bad, "--rules", RULES, "--eve", eve_bad)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("cut.pcap", r.stderr)
        self.assertIn("offset %d" % len(data), r.stderr)
        self.assertEqual(alerts_of(read_eve(eve_bad)), alerts_of(read_eve(eve_good)))

    def test_not_a_pcap_is_bad_input(self):
        bogus = self.path("bogus.pcap")
        with open(bogus, "w") as fh:
            fh.write("hello, not a capture\n")
        r = run("replay", "--pcap", bogus, "--rules", RULES, "--eve", self.path("e.json"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("bogus.pcap", r.stderr)

    def test_expect_mismatch_exits_1_with_diff(self):
        src = self._first_pcap_with_alerts()
        exp = self.path("wrong.expect")
        open(exp, "w").write("# nothing expected\n")
        r = run("replay", "--pcap", src, "--rules", RULES, "--eve", self.path("e.json"),
                "--expect", exp)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("expect: FAIL", r.stderr)
        self.assertIn("unexpected", r.stderr)

    def test_missing_sibling_expect_is_bad_input(self):
        src = self._first_pcap_with_alerts()
        shutil.copy(src, self.path("lonely.pcap"))
        r = run("replay", "--pcap", self.path("lonely.pcap"), "--rules", RULES, "--eve",
                self.path("e.json"), "--expect", "auto")
        self.assertEqual(r.returncode, 2)
        self.assertIn("lonely.expect", r.stderr)

    def test_check_rejects_with_file_line_and_reason(self):
        rules = self.path("bad.rules")
        open(rules, "w").write(
            '# alert tcp any any -> any any (msg:"commented"; sid:9;)\n'
            'alert tcp any any -> any any (msg:"ok"; content:"x"; sid:1;)\n'
            'alert tcp any any -> any any (msg:"bad"; frobnicate:1; sid:2;)\n')
        r = run("check", "--rules", rules)
        self.assertEqual(r.returncode, 2)
        self.assertIn("rules: 1 loaded, 1 rejected", r.stderr)
        self.assertIn("bad.rules:3", r.stderr)
        self.assertIn("frobnicate", r.stderr)
        good = self.path("good.rules")
        open(good, "w").write('alert tcp any any -> any any (msg:"ok"; content:"x"; sid:1;)\n')
        r = run("check", "--rules", good)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("rules: 1 loaded, 0 rejected", r.stderr)

    def test_bundled_rules_load_cleanly(self):
        r = run("check", "--rules", RULES)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_config_supplies_rules_eve_and_workers(self):
        cfg = self.path("sensor.yaml")
        with open(cfg, "w") as fh:
            fh.write("sensor-id: lab-7\n"
                     "capture: {method: pcap, workers: 2, ports: [eth0]}\n"
                     f"rules: [{RULES}]\n"
                     "outputs: {eve: {path: out.json}}\n")
        r = run("check", "--config", cfg)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run("replay", "--config", cfg, "--pcap", PCAPS)
        self.assertEqual(r.returncode, 0, r.stderr)
        events = read_eve(self.path("out.json"))  # relative to the config file
        self.assertTrue(all(e.get("host") == "lab-7" for e in events))
        with open(cfg, "a") as fh:
            fh.write("outputs-typo: 1\n")
        r = run("check", "--config", cfg)
        self.assertEqual(r.returncode, 2)
        self.assertIn("sensor.yaml:5: unknown key 'outputs-typo'", r.stderr)

    def test_usage_errors_exit_2(self):
        r = run("replay", "--rules", RULES)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--pcap is required", r.stderr)
        self.assertEqual(run("frobnicate").returncode, 2)
        r = run("replay", "--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("--pcap", r.stdout)

    def test_mistyped_option_is_reported_as_unknown(self):
        # --pcaps for --pcap: the typo is named, not the option it was meant to be.
        r = run("replay", "--pcaps", PCAPS, "--rules", RULES, "--eve", "-")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown option or argument: --pcaps", r.stderr)
        self.assertNotIn("required", r.stderr)
        r = run("run", "--conifg", "x.yaml")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown option or argument: --conifg", r.stderr)

    def test_each_command_help_lists_its_exit_codes(self):
        for cmd, words in ((["replay"], ["--expect mismatch", "no rule loaded"]),
                           (["run"], ["SIGHUP", "no rule loaded"]),
                           (["check"], ["--known-rejected", "no rule loaded"]),
                           (["blocks"], ["not blocked"]),
                           (["blocks", "list"], ["table does not exist"])):
            r = run(*cmd, "--help")
            self.assertEqual(r.returncode, 0, cmd)
            self.assertIn("Exit codes:", r.stdout, cmd)
            text = " ".join(r.stdout.split())
            for w in words:
                self.assertIn(w, text, (cmd, w))
        r = run("replay", "--help")
        self.assertRegex(r.stdout, r"--workers N +worker threads, 1 to 64")
        self.assertNotIn("[1 - 64]", r.stdout)

    def test_missing_rules_file_prints_no_load_summary(self):
        r = run("replay", "--pcap", PCAPS, "--rules", self.path("nope.rules"), "--eve", "-")
        self.assertEqual(r.returncode, 2)
        self.assertIn("nope.rules: no such file or directory", r.stderr)
        self.assertNotIn("loaded", r.stderr)


class RulesLoadTest(unittest.TestCase):
    """A run that loads no rules is not a clean run; check gates rule updates."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vigil-rules-test-")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def write(self, name, text):
        p = os.path.join(self.tmp, name)
        with open(p, "w") as fh:
            fh.write(text)
        return p

    def test_every_rule_rejected_is_bad_input_in_replay_run_and_check(self):
        rules = self.write("typo.rules",
                           'alert tcp any any -> any any (msg:"a"; cntent:"x"; sid:1;)\n'
                           'alert tcp any any -> any any (msg:"b"; cntent:"y"; sid:2;)\n')
        pcap = os.path.join(PCAPS, "01-http-established.pcap")
        r = run("replay", "--pcap", pcap, "--rules", rules, "--eve", os.path.join(self.tmp, "e"))
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("rules: 0 loaded, 2 rejected", r.stderr)
        self.assertIn("replay: no rules loaded: all 2 rules were rejected", r.stderr)
        self.assertNotIn("0 alerts", r.stderr)
        r = run("check", "--rules", rules)
        self.assertEqual(r.returncode, 2)
        self.assertIn("check: no rules loaded", r.stderr)
        # run stops before it opens any port.
        cfg = self.write("sensor.yaml",
                         "capture: {method: pcap, ports: [vigil-nonexistent0]}\n"
                         f"rules: [{rules}]\noutputs: {{eve: {{path: eve.json}}}}\n")
        r = run("run", "--config", cfg, "--no-progress")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("run: no rules loaded: all 2 rules were rejected", r.stderr)
        self.assertNotIn("vigil-nonexistent0", r.stderr)

    def test_rule_files_without_rules_are_bad_input(self):
        rules = self.write("empty.rules", "# nothing here\n\n#alert tcp any any -> any any "
                           "(sid:1;)\n")
        r = run("replay", "--pcap", os.path.join(PCAPS, "01-http-established.pcap"), "--rules",
                rules, "--eve", "-")
        self.assertEqual(r.returncode, 2)
        self.assertIn("no rules loaded: the 1 rule file(s) hold no rules", r.stderr)
        self.assertEqual(run("check", "--rules", rules).returncode, 2)

    def test_init_errors_fatal_stops_on_one_rejection(self):
        rules = self.write("mixed.rules",
                           'alert tcp any any -> any any (msg:"ok"; content:"GET"; sid:1;)\n'
                           'alert tcp any any -> any any (msg:"bad"; cntent:"y"; sid:2;)\n')
        pcap = os.path.join(PCAPS, "01-http-established.pcap")
        # Default (Suricata's): the rest load and the run goes on.
        r = run("replay", "--pcap", pcap, "--rules", rules, "--eve", "-")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("rules: 1 loaded, 1 rejected", r.stderr)
        r = run("replay", "--pcap", pcap, "--rules", rules, "--eve", "-", "--init-errors-fatal")
        self.assertEqual(r.returncode, 2)
        self.assertIn("1 rule(s) rejected", r.stderr)
        self.assertEqual(r.stdout, "")  # nothing replayed
        cfg = self.write("fatal.yaml", f"rules: [{rules}]\nengine: {{init-failure-fatal: true}}\n")
        r = run("replay", "--pcap", pcap, "--config", cfg, "--eve", "-")
        self.assertEqual(r.returncode, 2)
        self.assertIn("engine.init-failure-fatal", r.stderr)
        bad = self.write("bad.yaml", "engine: {init-failure-fatl: true}\n")
        r = run("check", "--config", bad, "--rules", rules)
        self.assertEqual(r.returncode, 2)
        self.assertIn("bad.yaml:1: unknown key 'engine.init-failure-fatl'", r.stderr)

    def test_check_lists_rejections_in_file_order_with_counts_by_reason(self):
        # Parse rejections (unknown keyword) and compile rejections (a pcre PCRE2 refuses)
        # interleaved by line; two files, the second named first.
        a = self.write("a.rules",
                       'alert tcp any any -> any any (msg:"1"; frob:1; sid:11;)\n'
                       'alert tcp any any -> any any (msg:"2"; pcre:"/(?<=a+)b/"; sid:12;)\n'
                       'alert tcp any any -> any any (msg:"3"; frob:2; sid:13;)\n'
                       'alert tcp any any -> any any (msg:"ok"; content:"x"; sid:14;)\n')
        b = self.write("b.rules",
                       'alert tcp any any -> any any (msg:"4"; frob:3; sid:21;)\n'
                       'alert tcp any any -> any any (msg:"5"; pcre:"/(?<=c+)d/"; sid:22;)\n')
        r = run("check", "--rules", b, a)
        self.assertEqual(r.returncode, 2)
        lines = [l for l in r.stderr.splitlines() if l.startswith("  rejected: ")]
        where = [l.split()[1] for l in lines]
        self.assertEqual(where, [f"{b}:1:", f"{b}:2:", f"{a}:1:", f"{a}:2:", f"{a}:3:"],
                         r.stderr)
        self.assertIn("rejected by reason:", r.stderr)
        counts = {}
        for l in r.stderr.split("rejected by reason:\n")[1].splitlines():
            parts = l.split(None, 1)
            if len(parts) == 2 and parts[0].isdigit():
                counts[parts[1]] = int(parts[0])
        self.assertEqual(counts, {
            "unsupported keyword 'frob'": 3,
            "pcre: lookbehind assertion is not fixed length at offset N": 2}, r.stderr)
        self.assertIn("check: FAIL: 5 rejected; 5 not accepted", r.stderr)

    def test_check_gates_on_new_rejections_only(self):
        rules = self.write("et.rules",
                           'alert tcp any any -> any any (msg:"ok"; content:"x"; sid:1;)\n'
                           'alert tcp any any -> any any (msg:"old"; frob:1; sid:2;)\n'
                           'alert tcp any any -> any any (msg:"old"; frob:2; sid:3;)\n')
        known = os.path.join(self.tmp, "known-rejected.txt")
        r = run("check", "--rules", rules, "--write-rejected", known)
        self.assertEqual(r.returncode, 2)  # writing the baseline accepts nothing by itself
        with open(known) as fh:
            sids = [l.split()[0] for l in fh if l.strip() and not l.startswith("#")]
        self.assertEqual(sids, ["2", "3"])
        r = run("check", "--rules", rules, "--known-rejected", known)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("check: ok: 1 loaded, 2 rejected, 2 of them known", r.stderr)
        # An update breaks one more rule and fixes one of the known ones.
        with open(rules, "w") as fh:
            fh.write('alert tcp any any -> any any (msg:"ok"; content:"x"; sid:1;)\n'
                     'alert tcp any any -> any any (msg:"fixed"; content:"y"; sid:2;)\n'
                     'alert tcp any any -> any any (msg:"old"; frob:2; sid:3;)\n'
                     'alert tcp any any -> any any (msg:"new"; frob:3; sid:4;)\n')
        r = run("check", "--rules", rules, "--known-rejected", known)
        self.assertEqual(r.returncode, 2)
        self.assertIn("rejected and not on the known list:", r.stderr)
        self.assertRegex(r.stderr, r"\n  .*et.rules:4: sid 4: unsupported keyword 'frob'")
        self.assertIn("sid 2 is listed in", r.stderr)
        self.assertIn("check: FAIL: 2 rejected, 1 of them known", r.stderr)
        # A count instead of a list.
        self.assertEqual(run("check", "--rules", rules, "--allow-rejected", "2").returncode, 0)
        self.assertEqual(run("check", "--rules", rules, "--allow-rejected", "1").returncode, 2)
        r = run("check", "--rules", rules, "--known-rejected", known, "--allow-rejected", "1")
        self.assertEqual(r.returncode, 0, r.stderr)
        # A list with something that is not a sid names the file and line.
        bad = self.write("bad.txt", "2\n# comment\nsid:3\n")
        r = run("check", "--rules", rules, "--known-rejected", bad)
        self.assertEqual(r.returncode, 2)
        self.assertIn("bad.txt:3: expected a sid", r.stderr)


class ConfigPathsTest(unittest.TestCase):
    """Every relative path in sensor.yaml resolves against the file's folder."""

    def test_documented_minimal_config_runs_from_another_directory(self):
        cfg = os.path.join(PCAPS, "run-dpdk.yaml")
        # The operator guide shows this file as it is.
        with open(cfg) as fh:
            body = "".join(l for l in fh if not l.startswith("#")).strip()
        with open(os.path.join(ROOT, "docs", "operator-guide.md")) as fh:
            self.assertTrue("```yaml\n" + body + "\n```" in fh.read(),
                            "docs/operator-guide.md does not show pcaps/run-dpdk.yaml as it is")
        elsewhere = tempfile.mkdtemp(prefix="vigil-cwd-")
        try:
            r = run("run", "--config", cfg, "--no-progress", cwd=elsewhere)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(os.listdir(elsewhere), [])  # nothing written to the cwd
        finally:
            shutil.rmtree(elsewhere)
        events = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
        got = sorted(e["alert"]["signature_id"] for e in events if e["event_type"] == "alert")
        r = run("replay", "--pcap", os.path.join(PCAPS, "01-http-established.pcap"), "--rules",
                RULES, "--eve", "-")
        self.assertEqual(r.returncode, 0, r.stderr)
        want = sorted(e["alert"]["signature_id"] for e in
                      (json.loads(l) for l in r.stdout.splitlines() if l.strip())
                      if e["event_type"] == "alert")
        self.assertGreater(len(want), 0)
        self.assertEqual(got, want)


class HeapHugepagesTest(unittest.TestCase):
    """The sensor re-executes itself once so that malloc backs its heap with transparent huge
    pages (common/heap_hugepages.h): a rule set builds in far fewer page faults."""

    def setUp(self):
        try:
            with open("/sys/kernel/mm/transparent_hugepage/enabled") as fh:
                mode = fh.read()
        except OSError:
            self.skipTest("no transparent huge pages on this kernel")
        if "[never]" in mode:
            self.skipTest("transparent huge pages are off on this host")
        ldd = subprocess.run(["ldd", SENSOR], capture_output=True, text=True).stdout
        if "libasan" in ldd or "libtsan" in ldd:
            self.skipTest("sanitizer build: its allocator ignores glibc's tunables")
        self.tmp = tempfile.mkdtemp(prefix="vigil-thp-test-")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def environ_of_running_sensor(self, extra_env):
        """Starts a replay that blocks on a FIFO (so the process is past main()), returns
        its environment as the kernel shows it (raw: glibc's loader splits GLIBC_TUNABLES at
        its colons in place), then ends it."""
        fifo = os.path.join(self.tmp, "in.pcap")
        os.mkfifo(fifo)
        env = {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES",
                                                               "VIGIL_HEAP_HUGEPAGES")}
        env.update(extra_env)
        p = subprocess.Popen([SENSOR, "replay", "--rules", RULES, "--pcap", fifo, "--eve",
                              os.devnull], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        try:
            fd = None
            deadline = time.time() + 30
            while fd is None and time.time() < deadline:
                try:
                    fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # succeeds once read
                except OSError:
                    time.sleep(0.05)
            self.assertIsNotNone(fd, "the sensor never opened its input")
            with open(f"/proc/{p.pid}/environ", "rb") as fh:
                environ = fh.read()
            os.close(fd)
        finally:
            p.kill()
            p.wait()
        return environ

    def test_heap_on_huge_pages_keeping_the_operators_tunables(self):
        env = self.environ_of_running_sensor({"GLIBC_TUNABLES": "glibc.malloc.check=0"})
        self.assertIn(b"GLIBC_TUNABLES=glibc.malloc.check=0", env)
        self.assertIn(b"glibc.malloc.hugetlb=1", env)

    def test_vigil_heap_hugepages_0_turns_it_off(self):
        env = self.environ_of_running_sensor({"VIGIL_HEAP_HUGEPAGES": "0"})
        self.assertNotIn(b"glibc.malloc.hugetlb", env)

    def test_an_operators_own_choice_is_kept(self):
        env = self.environ_of_running_sensor({"GLIBC_TUNABLES": "glibc.malloc.hugetlb=0"})
        self.assertIn(b"GLIBC_TUNABLES=glibc.malloc.hugetlb=0", env)
        self.assertNotIn(b"glibc.malloc.hugetlb=1", env)


if __name__ == "__main__":
    unittest.main(verbosity=2)
