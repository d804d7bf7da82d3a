#!/usr/bin/env python3
"""The "sensor alive" health control with real processes and real failures: vigil-mgmtd
supervises vigil-sensor (run on a DPDK net_pcap port replaying a capture in a loop), the test
kills it with SIGKILL or stops it with SIGSTOP (hung: heartbeats stop), and checks the incident
(cause, detection within 3 check intervals, restore within 10 s, the gap, the mitigation and
its enhanced-monitoring window), the control's state, vigilctl's view, and that the incident
survives a restart of mgmtd.
Environment: VIGIL_SENSOR, VIGIL_MGMTD, VIGIL_VIGILCTL, VIGIL_ROOT.
"""
import datetime
import hashlib
import hmac
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import transport_test as tt  # noqa: E402  (Mgmtd, Base, EAL)

INTERVAL = 0.5
OWNER = "NOC on-call <noc@example.org>"
SECRET = b"webhook-secret-0123456789"


class Receiver:
    """The customer's webhook endpoint, on loopback: keeps every POST with its arrival time."""

    def __init__(self, port=0):
        """`port` 0: a free one; or the port of an earlier receiver, to come back on it."""
        self.posts = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.posts.append((time.time(), dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def ts(iso):
    return datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


class SensorAlive(tt.Base):
    def setUp(self):
        super().setUp()
        pcap = self.path("loop.pcap")
        tt.write_pcap(pcap, 50)
        capture = ("capture:\n  method: dpdk\n  eal: %s\n  ports: [net_pcap0]\n"
                   % json.dumps(tt.EAL + ["--vdev=net_pcap0,rx_pcap=%s,infinite_rx=1" % pcap]))
        quiet = self.path("quiet.rules")  # no alert flood: this is about liveness
        with open(quiet, "w") as f:
            f.write('alert udp any any -> any 1 (msg:"never here"; sid:1000002; rev:1;)\n')
        cfg = self.sensor_config(capture=capture, rules=quiet)
        self.receiver = Receiver()
        with open(self.path("webhook.key"), "wb") as f:
            f.write(SECRET + b"\n")
        extra = ("sensors:\n"
                 "  edge-01:\n"
                 "    owner: \"%s\"\n"
                 "    supervise: {command: [%s, run, --config, %s, --no-progress]}\n"
                 "health: {interval-s: %s, heartbeat-timeout-s: 3, start-grace-s: 60,\n"
                 "         enhanced: {interval-s: 0.2, for-s: 600}}\n"
                 "notify:\n"
                 "  webhook: {url: \"http://127.0.0.1:%d/vigil\", secret-file: webhook.key}\n"
                 % (OWNER, os.path.abspath(tt.SENSOR), cfg, INTERVAL, self.receiver.port))
        self.m = self.mgmtd(extra=extra).start()
        self.token = self.m.token("viewer")

    def tearDown(self):
        # A mgmtd killed by the base class leaves no sensor behind (PR_SET_PDEATHSIG); this
        # makes sure of it.
        subprocess.run(["pkill", "-9", "-f", self.path("sensor.yaml")], capture_output=True)
        super().tearDown()
        self.receiver.close()

    def posts(self, kind):
        return [(t, h, json.loads(b)) for (t, h, b) in self.receiver.posts
                if h.get("X-Vigil-Event") == kind]

    def check_notified(self, inc):
        """The customer heard of the incident within 1 s of its detection, and of its
        restore; both signed with the shared secret; the incident records the deliveries."""
        (opened_at, headers, body), = self.wait(lambda: self.posts("incident.opened"),
                                                "the webhook's incident.opened", timeout=5)
        self.assertLess(opened_at - ts(inc["detected_at"]), 1.0)
        self.assertEqual(body["id"], inc["id"])
        self.assertEqual(body["cause"], inc["cause"])
        self.assertEqual(body["owner"], OWNER)
        self.assertIsNone(body["restored_at"])
        raw = [b for (_, h, b) in self.receiver.posts if h.get("X-Vigil-Event") ==
               "incident.opened"][0]
        self.assertEqual(headers["X-Vigil-Signature"],
                         "sha256=" + hmac.new(SECRET, raw, hashlib.sha256).hexdigest())
        (_, _, restored), = self.wait(lambda: self.posts("incident.restored"),
                                      "the webhook's incident.restored", timeout=5)
        self.assertEqual(restored["restored_at"], inc["restored_at"])
        notified = self.wait(lambda: (lambda n: n if len(n) == 2 and all(
            d["webhook"] == "delivered" for d in n) else None)(
            self.m.api("/api/v1/incidents/%d" % inc["id"], self.token)["notified"]),
            "the deliveries recorded on the incident", timeout=5)
        self.assertEqual([d["kind"] for d in notified], ["incident.opened", "incident.restored"])
        self.assertEqual(notified[0]["attempts"][0]["outcome"], "HTTP 200")

    def control(self, name="sensor-alive:edge-01"):
        (c,) = [c for c in self.m.api("/api/v1/controls", self.token) if c["name"] == name]
        return c

    def wait(self, pred, what, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = pred()
            if v:
                return v
            time.sleep(0.05)
        raise AssertionError("timed out waiting for %s; controls %s; mgmtd log:\n%s"
                             % (what, self.m.api("/api/v1/controls", self.token), self.m.text()))

    def incidents(self):
        return self.m.api("/api/v1/incidents", self.token)

    def ctl(self, *args):
        env = dict(os.environ, VIGIL_TOKEN=self.token)
        r = subprocess.run([tt.VIGILCTL, *args, "--api", "http://127.0.0.1:%d" % self.m.api_port],
                           capture_output=True, text=True, timeout=60, env=env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout

    def running(self):
        c = self.wait(lambda: (lambda c: c if c["state"] == "ok" else None)(self.control()),
                      "the sensor's first heartbeat")
        self.assertEqual(c["name"], "sensor-alive:edge-01")
        self.assertEqual(c["owner"], OWNER)
        self.assertEqual(c["interval_s"], INTERVAL)
        self.assertIsNone(c["open_incident"])
        self.assertGreater(c["pid"], 0)
        return c

    def check_restored(self, inc, old_pid):
        self.assertEqual(inc["control"], "sensor-alive:edge-01")
        self.assertEqual(inc["owner"], OWNER)
        self.assertEqual(inc["state"], "restored")
        self.assertLess(ts(inc["restored_at"]) - ts(inc["detected_at"]), 10)
        self.assertIn("restarted the sensor: pid", inc["restore_action"])
        self.assertGreater(inc["gap"]["down_s"], 0)
        self.assertIn("last_heartbeat_at", inc["gap"])
        self.assertIn("enhanced monitoring: %s checked every 0.2 s until" % inc["control"],
                      inc["mitigation"])
        self.assertIsNotNone(inc["enhanced_until"])
        c = self.control()
        self.assertEqual(c["state"], "ok")
        self.assertNotEqual(c["pid"], old_pid)
        self.assertEqual(c["interval_s"], 0.2)  # enhanced monitoring
        # The old process is gone, not a zombie or still running.
        self.assertFalse(os.path.exists("/proc/%d/cmdline" % old_pid)
                         and open("/proc/%d/cmdline" % old_pid, "rb").read())

    def test_drill_that_misses_its_restore_objective_fails(self):
        # Objectives from mgmtd.yaml: restoration within 0.5 s cannot be met (a restart and
        # the first heartbeat take longer).
        self.running()
        self.m.stop()
        with open(self.m.config) as f:
            text = f.read()
        with open(self.m.config, "w") as f:
            f.write(text.replace("health: {", "health: {drill: {detect-objective-s: 4, "
                                             "restore-objective-s: 0.5}, "))
        self.m.start()
        self.running()
        admin = self.m.token("admin")
        env = dict(os.environ, VIGIL_TOKEN=admin)
        r = subprocess.run([tt.VIGILCTL, "drill", "--api", "http://127.0.0.1:%d" % self.m.api_port],
                           capture_output=True, text=True, timeout=300, env=env)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"drill \d+ on edge-01: failed")
        self.assertRegex(r.stdout, r"result: +restoration took [\d.]+ s \(objective 0\.5 s\)")
        self.assertIn("(objective 4.0 s)", r.stdout)
        (d,) = self.m.api("/api/v1/drills", self.token)
        self.assertEqual((d["state"], d["restore_met"], d["detect_met"]), ("failed", False, True))

    def test_kill9_detected_restored_recorded_and_kept_across_a_restart(self):
        old = self.running()
        os.kill(old["pid"], signal.SIGKILL)
        killed = time.time()
        (inc,) = self.wait(self.incidents, "the incident")
        self.assertEqual(inc["cause"], "sensor exited on signal 9 (SIGKILL)")
        self.assertLess(ts(inc["detected_at"]) - killed, 3 * INTERVAL + 0.2)
        (inc,) = self.wait(lambda: [i for i in self.incidents() if i["state"] == "restored"],
                           "the restore", timeout=15)
        self.check_restored(inc, old["pid"])
        self.check_notified(inc)
        inc = self.m.api("/api/v1/incidents/%d" % inc["id"], self.token)

        # vigilctl shows the same.
        self.assertEqual(json.loads(self.ctl("incidents", "--json")), [inc])
        text = self.ctl("incident", "show", str(inc["id"]))
        self.assertIn("cause:          sensor exited on signal 9 (SIGKILL)", text)
        self.assertIn("owner:          " + OWNER, text)
        table = self.ctl("controls")
        self.assertIn("sensor-alive:edge-01", table)
        self.assertIn("(enhanced)", table)

        # An operator acknowledges it; a viewer may not. Both are in the audit log.
        viewer = self.token
        self.token = self.m.token("operator")
        self.ctl("incident", "ack", str(inc["id"]), "--by", "Alice (NOC)", "--note",
                 "OOM killer; memory limit raised")
        acked = self.m.api("/api/v1/incidents/%d" % inc["id"], viewer)["acknowledged"]
        self.assertEqual((acked["by"], acked["note"]),
                         ("Alice (NOC)", "OOM killer; memory limit raised"))
        self.assertIn("Alice (NOC)", self.ctl("incident", "show", str(inc["id"])))
        env = dict(os.environ, VIGIL_TOKEN=viewer)
        r = subprocess.run([tt.VIGILCTL, "incident", "ack", str(inc["id"]), "--by", "Eve",
                            "--api", "http://127.0.0.1:%d" % self.m.api_port],
                           capture_output=True, text=True, env=env)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("403", r.stderr)
        with open(self.path("audit.log")) as f:
            entries = [json.loads(line) for line in f]
        acks = [e for e in entries if e["action"].endswith("/ack")]
        self.assertEqual(len(acks), 1)
        self.assertEqual((acks[0]["role"], acks[0]["ok"], acks[0]["target"]),
                         ("operator", True, str(inc["id"])))
        r = subprocess.run([tt.VIGILCTL, "audit", "verify", "--config", self.m.config],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        inc = self.m.api("/api/v1/incidents/%d" % inc["id"], viewer)
        self.token = viewer

        # The incident survives mgmtd's restart (which stops and starts the sensor).
        self.assertEqual(self.m.stop(), 0)
        self.assertIn("sensor edge-01: stopped with vigil-mgmtd", self.m.text())
        self.m.start()
        self.assertEqual(self.incidents(), [inc])
        self.running()
        self.assertEqual(len(self.receiver.posts), 2)  # nothing sent twice after the restart

    def test_hung_sensor_killed_and_restarted(self):
        old = self.running()
        os.kill(old["pid"], signal.SIGSTOP)
        stopped = time.time()
        (inc,) = self.wait(self.incidents, "the incident", timeout=15)
        self.assertIn("no heartbeat for", inc["cause"])
        self.assertIn("process %d still running (hung)" % old["pid"], inc["cause"])
        # Heartbeats come every second; the timeout is 3 s: detected within it plus 3 checks.
        self.assertLess(ts(inc["detected_at"]) - stopped, 1 + 3 + 3 * INTERVAL)
        (inc,) = self.wait(lambda: [i for i in self.incidents() if i["state"] == "restored"],
                           "the restore", timeout=15)
        self.assertIn("killed the hung sensor (pid %d, SIGKILL)" % old["pid"],
                      inc["restore_action"])
        self.check_restored(inc, old["pid"])


class HealthConfig(tt.Base):
    """Mistakes in sensors: and health: stop mgmtd with the file, line and what is wrong."""

    def refused(self, extra):
        m = self.mgmtd(extra=extra)
        r = subprocess.run([tt.MGMTD, "--config", m.config], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 2, r.stderr)
        return r.stderr

    def test_mistakes_are_named_with_file_and_line(self):
        err = self.refused("sensors:\n  edge-01:\n    supervise: {command: [/bin/true]}\n")
        self.assertIn("mgmtd.yaml:6", err)  # the map of edge-01 (lines 1-3: listen, store, api)
        self.assertIn("sensors.edge-01.owner: required", err)
        err = self.refused("sensors:\n  edge-01:\n    owner: x\n    supervise: {command: "
                           "[vigil-sensor]}\n")
        self.assertIn("sensors.edge-01.supervise.command: the program needs a path", err)
        err = self.refused("sensors:\n  edge-01:\n    owner: x\n    supervise: {command: "
                           "[/bin/true], systemd-unit: vigil-sensor.service}\n")
        self.assertIn("give command or systemd-unit, not both", err)
        err = self.refused("health: {interval-s: 0}\n")
        self.assertIn("health.interval-s: expected a number from 0.05 to 3600, got '0'", err)
        err = self.refused("health: {enhanced: {every: 1}}\n")
        self.assertIn("every", err)
        err = self.refused("notify: {webhook: {url: \"http://192.0.2.1/x\", secret-file: k}}\n")
        self.assertIn("notify.webhook.url:", err)
        self.assertIn("loopback", err)
        err = self.refused("notify: {webhook: {url: \"https://soc.example.org/v\"}}\n")
        self.assertIn("notify.webhook: give url and secret-file", err)
        err = self.refused("notify: {email: x}\n")
        self.assertIn("email", err)

    def test_a_sensor_that_cannot_start_is_an_escalating_incident(self):
        m = self.mgmtd(extra="sensors:\n  edge-01:\n    owner: ops\n"
                             "    supervise: {command: [/bin/false]}\n"
                             "health: {interval-s: 0.2, start-grace-s: 1}\n").start()
        token = m.token("viewer")
        deadline = time.time() + 30
        inc = None
        while time.time() < deadline:
            incs = m.api("/api/v1/incidents", token)
            if incs and incs[0]["escalated"]:
                inc = incs[0]
                break
            time.sleep(0.1)
        self.assertIsNotNone(inc, m.text())
        self.assertEqual(inc["state"], "open")
        self.assertEqual(inc["cause"], "sensor exited with status 1")
        self.assertGreaterEqual(inc["restore_attempts"], 4)
        self.assertIn("escalated", inc["restore_action"])
        (c,) = [c for c in m.api("/api/v1/controls", token) if c["kind"] == "sensor-alive"]
        self.assertIn(c["state"], ("failed", "restoring"))
        self.assertEqual(c["open_incident"], inc["id"])
        self.assertEqual(m.stop(), 0)


class AuditLog(tt.Base):
    """Every operator and admin action, local or through the API, refused ones too, in a
    hash-chained log that `vigilctl audit verify` checks: a changed or removed line is found."""

    def test_actions_are_chained_and_tampering_is_found(self):
        m = self.mgmtd().start()
        admin = m.token("admin")  # vigilctl tokens add --config: a local action
        api = "http://127.0.0.1:%d" % m.api_port
        env = dict(os.environ, VIGIL_TOKEN=admin)
        for args in (["tokens", "add", "bob", "--role", "viewer"],
                     ["tokens", "revoke", "bob"],
                     ["tokens", "revoke", "nobody"],       # refused (404): recorded too
                     ["incident", "ack", "7", "--by", "x"],  # no such incident
                     ["rules", "rollback"]):               # nothing to roll back (409)
            subprocess.run([tt.VIGILCTL, *args, "--api", api], capture_output=True, env=env)
        log = self.path("audit.log")
        with open(log) as f:
            lines = f.read().splitlines()
        entries = [json.loads(x) for x in lines]
        self.assertEqual([e["seq"] for e in entries], list(range(1, 7)))
        self.assertEqual(entries[0]["role"], "local")
        self.assertTrue(entries[0]["action"].startswith("local token.add admin"))
        self.assertEqual([(e["action"], e["ok"]) for e in entries[1:]],
                         [("POST /api/v1/tokens", True),
                          ("DELETE /api/v1/tokens/bob", True),
                          ("DELETE /api/v1/tokens/nobody", False),
                          ("POST /api/v1/incidents/7/ack", False),
                          ("POST /api/v1/rulepacks/rollback", False)])
        self.assertEqual(entries[3]["detail"]["status"], 404)
        self.assertTrue(all(e["actor"].startswith("t-admin") for e in entries[1:]))

        def verify():
            return subprocess.run([tt.VIGILCTL, "audit", "verify", "--file", log],
                                  capture_output=True, text=True)
        r = verify()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("6 entries, the chain is intact", r.stdout)

        # Someone rewrites line 3 (hiding which token was revoked): line 4 no longer chains.
        tampered = lines[:2] + [lines[2].replace("bob", "ann")] + lines[3:]
        with open(log, "w") as f:
            f.write("\n".join(tampered) + "\n")
        r = verify()
        self.assertEqual(r.returncode, 1)
        self.assertIn("BROKEN at line 4", r.stdout)
        # Someone removes line 5 instead.
        with open(log, "w") as f:
            f.write("\n".join(lines[:4] + lines[5:]) + "\n")
        r = verify()
        self.assertEqual(r.returncode, 1)
        self.assertIn("BROKEN at line 5", r.stdout)
        r = subprocess.run([tt.VIGILCTL, "audit", "verify", "--file", self.path("none.log")],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot read", r.stderr)
        self.assertEqual(m.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
