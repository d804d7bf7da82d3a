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

    def test_eve_to_stdout(self):
        r = run("replay", "--pcap", PCAPS, "--rules", RULES, "--eve", "-")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
        self.assertEqual(lines[-1]["event_type"], "stats")

    def test_stats_summary(self):
        r = run("replay", "--pcap", PCAPS, "--rules", RULES, "--eve", self.path("e.json"),
                "--stats")
        self.assertEqual(r.returncode, 0, r.stderr)
        for word in ("packets", "throughput", "flows", "alerts by signature"):
            self.assertIn(word, r.stderr)

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
        self.assertEqual(run("replay", "--rules", RULES).returncode, 2)
        self.assertEqual(run("frobnicate").returncode, 2)
        r = run("replay", "--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("--pcap", r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
