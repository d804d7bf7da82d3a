#!/usr/bin/env python3
"""replay --set key=value: Suricata's engine settings on the command line.

Each setting is checked by what a test engineer sees: the alerts and the EVE records of a
replay with and without it. Unknown keys and bad values stop the replay (exit 2) with a
message naming them.

Environment: VIGIL_SENSOR (binary), VIGIL_ROOT (repo root).
"""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

SENSOR = os.environ.get("VIGIL_SENSOR", "build/sensor/vigil-sensor")
ROOT = os.environ.get("VIGIL_ROOT", os.getcwd())
PCAPS = os.path.join(ROOT, "pcaps")
ESTABLISHED = os.path.join(PCAPS, "01-http-established.pcap")  # canary in request + response
MIDSTREAM = os.path.join(PCAPS, "02-http-midstream.pcap")  # no handshake in the capture


class SetOverrides(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="vigil-set-test-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def rules(self, *lines):
        path = os.path.join(self.dir, "r.rules")
        with open(path, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        return path

    def replay(self, rules, pcap, *sets):
        eve = os.path.join(self.dir, "eve.json")
        if os.path.exists(eve):
            os.unlink(eve)
        args = [SENSOR, "replay", "--rules", rules, "--pcap", pcap, "--eve", eve, "--no-progress"]
        for s in sets:
            args += ["--set", s]
        r = subprocess.run(args, capture_output=True, text=True, timeout=120)
        events = []
        if os.path.exists(eve):
            with open(eve) as fh:
                events = [json.loads(line) for line in fh if line.strip()]
        return r, events

    @staticmethod
    def sids(events):
        return [e["alert"]["signature_id"] for e in events if e["event_type"] == "alert"]

    def test_unknown_key_and_bad_values_are_refused_by_name(self):
        rules = self.rules('alert tcp any any -> any any (content:"canary-0001"; sid:1;)')
        r, _ = self.replay(rules, ESTABLISHED, "stream.midstrem=true")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--set stream.midstrem: unknown or unsupported setting", r.stderr)
        self.assertIn("stream.midstream:", r.stderr)  # the keys it takes are listed
        for bad, says in (("packet-alert-max=0", "from 1 to 65535"),
                          ("stream.midstream=maybe", "expected true or false"),
                          ("stream.reassembly.depth=12parsecs", "expected a size"),
                          ("action-order=pass,drop,alert", "each of pass, drop, reject and alert"),
                          ("app-layer.protocols.gopher.enabled=yes", "unknown application-layer"),
                          ("exception-policy=drop-flow", "only 'ignore'"),
                          ("stream.checksum-validation=yes", "does not validate checksums"),
                          ("detect.guess-applayer-tx=perhaps", "expected true or false"),
                          ("vlan.use-for-tracking=sometimes", "expected true or false"),
                          ("stream.midstream", "expected key=value")):
            r, _ = self.replay(rules, ESTABLISHED, bad)
            self.assertEqual(r.returncode, 2, bad)
            self.assertIn(says, r.stderr, bad)

    def test_a_setting_without_effect_says_so(self):
        rules = self.rules('alert tcp any any -> any any (content:"canary-0001"; sid:1;)')
        r, events = self.replay(rules, ESTABLISHED, "app-layer.protocols.sip.enabled=yes",
                                "app-layer.protocols.http.libhtp.default-config."
                                "response-body-inspect-window=16kb")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("note: --set app-layer.protocols.sip.enabled: no effect", r.stderr)
        self.assertIn("response-body-inspect-window: no effect", r.stderr)
        self.assertEqual(self.sids(events), [1, 1])
        # Settings that match what Vigil does anyway are taken; those without effect say so.
        r, events = self.replay(rules, ESTABLISHED, "stream.checksum-validation=no",
                                "detect.guess-applayer-tx=yes")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("--set detect.guess-applayer-tx: no effect on which alerts fire", r.stderr)
        self.assertEqual(self.sids(events), [1, 1])

    def test_packet_alert_max_keeps_the_first_rules_and_counts_the_rest(self):
        rules = self.rules(*['alert tcp any any -> any any (msg:"r%d"; content:"canary-0001"; '
                             'sid:%d;)' % (i, i) for i in (1, 2, 3)])
        _, events = self.replay(rules, ESTABLISHED)
        self.assertEqual(sorted(self.sids(events)), [1, 1, 2, 2, 3, 3])  # default 15
        r, events = self.replay(rules, ESTABLISHED, "packet-alert-max=2")
        self.assertEqual(r.returncode, 0, r.stderr)
        # Per packet, the first two in evaluation order (here: file order) are written.
        self.assertEqual(self.sids(events), [1, 2, 1, 2])
        stats = [e for e in events if e["event_type"] == "stats"][-1]["stats"]
        self.assertEqual(stats["detect"]["alert_queue_overflow"], 2)

    def test_midstream(self):
        # Without midstream pickup the session is not reassembled, so HTTP is never parsed
        # (its packets are still inspected one by one, as in Suricata).
        rules = self.rules('alert http any any -> any any (http.header; '
                           'content:"X-Vigil-Midstream-Probe"; sid:1;)')
        _, on = self.replay(rules, MIDSTREAM, "stream.midstream=true")
        _, off = self.replay(rules, MIDSTREAM, "stream.midstream=false")
        self.assertGreater(len(self.sids(on)), 0)
        self.assertEqual(self.sids(off), [])

    def test_protocol_disabled_is_not_parsed(self):
        rules = self.rules('alert http any any -> any any (http.uri; content:"canary-0001"; '
                           'sid:1;)')
        _, events = self.replay(rules, ESTABLISHED)
        self.assertEqual(self.sids(events), [1])
        _, events = self.replay(rules, ESTABLISHED, "app-layer.protocols.http.enabled=no")
        self.assertEqual(self.sids(events), [])
        _, events = self.replay(rules, ESTABLISHED,
                                "app-layer.protocols.http.enabled=detection-only")
        self.assertEqual(self.sids(events), [])  # identified, but no buffers to match

    def test_simulate_ips_blocks_drop_rules(self):
        rules = self.rules('drop tcp any any -> any any (content:"canary-0001"; sid:1;)')
        _, events = self.replay(rules, ESTABLISHED)
        self.assertEqual([e["alert"]["action"] for e in events if e["event_type"] == "alert"],
                         ["allowed", "allowed"])
        _, events = self.replay(rules, ESTABLISHED, "simulate-ips=true")
        alerts = [e for e in events if e["event_type"] == "alert"]
        # The request is blocked and the rest of its flow dropped: the response never alerts.
        self.assertEqual([a["alert"]["action"] for a in alerts], ["blocked"])
        self.assertEqual(len([e for e in events if e["event_type"] == "drop"]), 1)

    def test_action_order(self):
        rules = self.rules('pass tcp any any -> any any (content:"canary-0001"; sid:20;)',
                           'alert tcp any any -> any any (content:"canary-0001"; sid:21;)')
        _, events = self.replay(rules, ESTABLISHED)
        self.assertEqual(self.sids(events), [])  # pass first: nothing alerts
        _, events = self.replay(rules, ESTABLISHED, "action-order=alert,pass,drop,reject")
        self.assertEqual(self.sids(events), [21, 21])

    def test_threshold_file_replaces_the_vars_file(self):
        rules = self.rules('alert tcp any any -> any any (content:"canary-0001"; sid:7;)')
        thr = os.path.join(self.dir, "threshold.config")
        with open(thr, "w") as fh:
            fh.write("suppress gen_id 1, sig_id 7\n")
        _, events = self.replay(rules, ESTABLISHED, "threshold-file=" + thr)
        self.assertEqual(self.sids(events), [])
        with open(thr, "w") as fh:
            fh.write("suppres gen_id 1, sig_id 7\n")
        r, _ = self.replay(rules, ESTABLISHED, "threshold-file=" + thr)
        self.assertEqual(r.returncode, 2)
        self.assertIn("threshold.config:1", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
