#!/usr/bin/env python3
"""`vigilctl review` against a real vigil-mgmtd: the report's two files (Markdown and JSON), the
owner and the hardening baseline in them, an unreviewed incident (a supervised sensor that
cannot start) listed until an operator acknowledges it, a viewer refused (403), and each review
recorded in the audit log so that the next one counts the entries since.
Environment: VIGIL_MGMTD, VIGIL_VIGILCTL (and VIGIL_SENSOR, VIGIL_ROOT for transport_test).
"""
import json
import os
import subprocess
import sys
import time
import unittest
import urllib.error

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import transport_test as tt  # noqa: E402  (Mgmtd, Base)

OWNER = "NOC on-call <noc@example.org>"


class Review(tt.Base):
    def setUp(self):
        super().setUp()
        self.m = self.mgmtd(extra="sensors:\n  edge-01:\n    owner: \"%s\"\n"
                                  "    supervise: {command: [/bin/false]}\n"
                                  "health: {interval-s: 0.2, start-grace-s: 1}\n"
                                  % OWNER).start()
        self.operator = self.m.token("operator")
        self.viewer = self.m.token("viewer")

    def tearDown(self):
        self.m.stop()
        super().tearDown()

    def ctl(self, token, *args):
        env = dict(os.environ, VIGIL_TOKEN=token)
        return subprocess.run([tt.VIGILCTL, *args, "--api", "http://127.0.0.1:%d" % self.m.api_port],
                              capture_output=True, text=True, timeout=60, env=env)

    def audit(self):
        with open(self.path("audit.log")) as f:
            return [json.loads(line) for line in f]

    def test_review_files_owner_hardening_403_and_audit(self):
        deadline = time.time() + 30
        while not self.m.api("/api/v1/incidents", self.viewer) and time.time() < deadline:
            time.sleep(0.1)
        (inc,) = self.m.api("/api/v1/incidents", self.viewer)

        out = self.path("reports")
        r = self.ctl(self.operator, "review", "--days", "30", "--out", out)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        md_path, json_path = r.stdout.split()
        self.assertEqual(os.path.dirname(md_path), out)
        self.assertRegex(os.path.basename(md_path), r"^review-\d{4}-\d{2}-\d{2}\.md$")
        self.assertEqual(json_path, md_path[:-3] + ".json")
        with open(md_path) as f:
            md = f.read()
        with open(json_path) as f:
            report = json.load(f)
        self.assertEqual(os.path.basename(md_path), "review-%s.md" % report["date"])
        self.assertEqual(report["period"]["days"], 30)

        # The owner, in the Markdown (its <> escaped) and the JSON.
        self.assertIn("NOC on-call \\<noc@example.org\\>", md)
        self.assertEqual(report["owners"]["sensors"],
                         [{"sensor": "edge-01", "owner": OWNER,
                           "supervised_by": "command /bin/false"}])
        (control,) = [c for c in report["controls"] if c["name"] == "sensor-alive:edge-01"]
        self.assertEqual((control["name"], control["owner"], control["incidents"]),
                         ("sensor-alive:edge-01", OWNER, 1))
        self.assertLess(control["availability"], 1.0)

        # The hardening baseline: every check, each with a result; the token file mgmtd made
        # passes; the store's result is what its mode says.
        self.assertIn("## Hardening baseline", md)
        checks = {h["id"]: h for h in report["hardening"]}
        self.assertEqual(len(checks), 9)
        for h in checks.values():
            self.assertIn(h["status"], ("pass", "warn", "fail"))
            self.assertIn("| %s: %s | %s |" % (h["id"], h["check"], h["status"].upper()), md)
        self.assertEqual(checks["tokens-file"]["status"], "pass", checks["tokens-file"])
        self.assertEqual(os.stat(self.path("mgmt.db")).st_mode & 0o777, 0o600)
        self.assertEqual(checks["store-file"]["status"], "pass")
        self.assertEqual(checks["notifications"]["status"], "warn")
        self.assertEqual(checks["rulepack-keys"]["status"], "fail")
        self.assertEqual(checks["audit-log"]["status"], "pass")

        # The incident nobody has acknowledged, at the top.
        self.assertEqual([i["id"] for i in report["unreviewed"]], [inc["id"]])
        self.assertIn("incident(s) not reviewed: #%d (sensor-alive:edge-01)" % inc["id"], md)
        self.assertLess(md.index("## Needs attention"), md.index("not reviewed: #%d" % inc["id"]))
        for section in ("## Controls", "## Versions and support", "## Rule pack", "## Audit log",
                        "## Owners"):
            self.assertIn(section, md)
        self.assertEqual([v["component"] for v in report["versions"]],
                         ["Vigil", "DPDK", "Hyperscan", "Linux kernel"])

        # A viewer may not run a review, and is not recorded as having run one.
        r = self.ctl(self.viewer, "review", "--out", out)
        self.assertEqual(r.returncode, 2)
        self.assertIn("403", r.stderr)
        self.assertIn("operator", r.stderr)
        with self.assertRaises(urllib.error.HTTPError) as e:
            self.m.api("/api/v1/review", self.viewer)
        self.assertEqual(e.exception.code, 403)
        for bad in ("?days=0", "?days=3651", "?days=x", "?days=1&days=2", "?since=1"):
            with self.assertRaises(urllib.error.HTTPError) as e:
                self.m.api("/api/v1/review" + bad, self.operator)
            self.assertEqual(e.exception.code, 400, bad)

        # The review is in the audit log.
        reviews = [e for e in self.audit() if e["action"] == "review.run"]
        self.assertEqual(len(reviews), 1)
        self.assertTrue(reviews[0]["ok"])
        self.assertTrue(reviews[0]["actor"].startswith("t-operator"))
        self.assertEqual(reviews[0]["role"], "operator")
        self.assertEqual(reviews[0]["detail"]["days"], 30)

        # An operator acknowledges the incident; the next review (--json) shows it reviewed and
        # counts the one entry since the previous review.
        r = self.ctl(self.operator, "incident", "ack", str(inc["id"]), "--by", "Alice (NOC)",
                     "--note", "sensor binary missing")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.ctl(self.operator, "review", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        report = json.loads(r.stdout)
        self.assertEqual(report["unreviewed"], [])
        (i,) = report["incidents"]
        self.assertEqual(i["acknowledged"]["by"], "Alice (NOC)")
        self.assertEqual(report["period"]["days"], 90)
        self.assertEqual(report["audit"]["lines_since_previous_review"], 1)
        self.assertEqual(report["audit"]["previous_review"]["line"], reviews[0]["seq"])
        self.assertEqual(len([e for e in self.audit() if e["action"] == "review.run"]), 2)
        r = subprocess.run([tt.VIGILCTL, "audit", "verify", "--file", self.path("audit.log")],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_help_names_the_files(self):
        r = subprocess.run([tt.VIGILCTL, "review", "--help"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        for s in ("--days", "--out", "--json", "review-YYYY-MM-DD.md", "operator"):
            self.assertIn(s, r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
