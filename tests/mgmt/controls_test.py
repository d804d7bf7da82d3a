#!/usr/bin/env python3
"""The health controls beside "sensor alive" (health_test.py), each with a real failure against
real processes, and the incident, cause, restore and notification checked:

- file-integrity: a stored rule pack's file edited on disk (put back from the pack's archive);
  a watched config file changed (no automatic restore: escalated, then accepted);
- detection: rulepacks/active re-pointed behind mgmtd's back and the sensor reloaded (mgmtd
  re-activates its pack and has the sensor reload it);
- enforcement: `nft delete table inet vigil` in a network namespace this test creates (the
  sensor re-creates it with its blocks; mgmtd records it), while the customer's webhook
  receiver is down: the notifications arrive once it is back, once each;
- store: the store's disk full (a small tmpfs in a mount namespace this test creates);
- capture and alert-path: a sensor's heartbeats report lost packets and a full spool.
Needs root (namespaces, mounts). Environment: VIGIL_SENSOR, VIGIL_MGMTD, VIGIL_VIGILCTL,
VIGIL_ROOT.
"""
import ctypes
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import transport_test as tt  # noqa: E402  (Mgmtd, Base, EAL)
import vigilwire  # noqa: E402
from activation_test import write_ping_pcap, rule  # noqa: E402
from health_test import Receiver, ts, SECRET  # noqa: E402

INTERVAL = 0.5
OWNER = "NOC on-call <noc@example.org>"
MGMT_OWNER = "Platform team <platform@example.org>"


class ControlsBase(tt.Base):
    """mgmtd with a webhook receiver, tokens and helpers to wait for incidents."""

    def setUp(self):
        super().setUp()
        self.receiver = Receiver()
        with open(self.path("webhook.key"), "wb") as f:
            f.write(SECRET + b"\n")

    def tearDown(self):
        subprocess.run(["pkill", "-9", "-f", self.path("sensor.yaml")], capture_output=True)
        super().tearDown()
        self.receiver.close()

    def health_yaml(self, more=""):
        return ("health: {interval-s: %s, heartbeat-timeout-s: 3, start-grace-s: 60,\n"
                "         owner: \"%s\", enhanced: {interval-s: 0.2, for-s: 600}%s}\n"
                "notify:\n"
                "  webhook: {url: \"http://127.0.0.1:%d/vigil\", secret-file: webhook.key}\n"
                % (INTERVAL, MGMT_OWNER, more, self.receiver.port))

    def ctl(self, *args, token=None, check=0):
        env = dict(os.environ, VIGIL_TOKEN=token or self.viewer)
        r = subprocess.run([tt.VIGILCTL, *args, "--api", "http://127.0.0.1:%d" % self.m.api_port],
                           capture_output=True, text=True, timeout=120, env=env)
        if check is not None:
            self.assertEqual(r.returncode, check, r.stdout + r.stderr)
        return r

    def controls(self):
        return {c["name"]: c for c in self.m.api("/api/v1/controls", self.viewer)}

    def wait(self, pred, what, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = pred()
            if v:
                return v
            time.sleep(0.05)
        raise AssertionError("timed out waiting for %s; controls %s; incidents %s; mgmtd log:\n%s"
                             % (what, json.dumps(self.controls(), indent=1),
                                json.dumps(self.m.api("/api/v1/incidents", self.viewer),
                                           indent=1), self.m.text()[-4000:]))

    def control_ok(self, name, timeout=60):
        return self.wait(lambda: (lambda c: c if c and c["state"] == "ok" else None)(
            self.controls().get(name)), name + " ok", timeout)

    def incident(self, control, state=None, timeout=30):
        def find():
            for i in self.m.api("/api/v1/incidents", self.viewer):
                if i["control"] == control and (state is None or i["state"] == state):
                    return i
            return None
        return self.wait(find, "an incident of %s%s" % (control, " " + state if state else ""),
                         timeout)

    def posts(self, kind, incident_id):
        return [(t, h, json.loads(b)) for (t, h, b) in self.receiver.posts
                if h.get("X-Vigil-Event") == kind and json.loads(b)["id"] == incident_id]

    def check_notified_at_once(self, inc):
        (at, _, body), = self.wait(lambda: self.posts("incident.opened", inc["id"]),
                                   "the webhook's incident.opened", timeout=5)
        self.assertLess(at - ts(inc["detected_at"]), 1.0)
        self.assertEqual(body["cause"], inc["cause"])


class PackControls(ControlsBase):
    """A sensor on the pack mgmtd activated: packs 1 and 2 stored, 1 active."""

    def setUp(self):
        super().setUp()
        self.local("rules", "keygen", "--out", self.path("keys"))
        packs = [self.make_pack(v, rule(1000 + int(v), "rule of pack " + v)) for v in ("1", "2")]
        os.makedirs(self.path("conf"))
        with open(self.path("conf/site.yaml"), "w") as f:
            f.write("site: lab\n")
        # A first mgmtd, without sensors, stores both packs and activates 1.
        self.m = self.mgmtd(extra="rulepacks: {dir: packs, trusted-keys: keys/signing.pub}\n")
        self.m.start()
        admin = self.m.token("admin")
        self.viewer = admin
        for p in (packs[1], packs[0]):
            self.ctl("rules", "activate", p, token=admin)
        self.assertEqual(self.m.stop(), 0)
        with open(self.path("packs/1/rules/site.rules")) as f:
            self.original = f.read()

        pcap = self.path("ping.pcap")
        write_ping_pcap(pcap)
        capture = ("capture:\n  method: dpdk\n  eal: %s\n  ports: [net_pcap0]\n  workers: 1\n"
                   % json.dumps(tt.EAL + ["--vdev=net_pcap0,rx_pcap=%s,infinite_rx=1" % pcap]))
        cfg = self.sensor_config(capture=capture, rules=self.path("packs/active"))
        extra = ("rulepacks: {dir: packs, trusted-keys: keys/signing.pub}\n"
                 "sensors:\n  edge-01:\n    owner: \"%s\"\n"
                 "    supervise: {command: [%s, run, --config, %s, --no-progress]}\n"
                 % (OWNER, os.path.abspath(tt.SENSOR), cfg)
                 + self.health_yaml(", file-integrity: {paths: [conf], scan-s: 600}"))
        with open(self.m.config) as f:
            base = f.read()
        with open(self.m.config, "w") as f:
            f.write(base.replace("rulepacks: {dir: packs, trusted-keys: keys/signing.pub}\n", "")
                    + extra)
        self.m.start()
        self.viewer = self.m.token("viewer")
        self.admin = self.m.token("admin")
        self.control_ok("sensor-alive:edge-01")
        self.control_ok("detection:edge-01", timeout=30)
        self.control_ok("file-integrity")

    def local(self, *args):
        r = subprocess.run([tt.VIGILCTL, *args], capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def make_pack(self, version, text):
        src = self.path("src-" + version)
        os.makedirs(src)
        with open(os.path.join(src, "site.rules"), "w") as f:
            f.write(text)
        out = self.path("pack-%s.tar.zst" % version)
        self.local("rules", "pack", src, "-o", out, "--version", version, "--name", "site",
                   "--key", self.path("keys/signing.key"))
        return out

    def test_rule_file_changed_on_disk_is_put_back_from_the_pack_archive(self):
        path = self.path("packs/1/rules/site.rules")
        os.chmod(path, 0o644)
        with open(path, "a") as f:
            f.write(rule(1009, "planted"))
        changed = time.time()
        inc = self.incident("file-integrity", "restored", timeout=15)
        self.assertLess(ts(inc["detected_at"]) - changed, 3 * INTERVAL + 0.5)
        self.assertRegex(inc["cause"], r"packs/1/rules/site\.rules: sha256 changed \(manifest ")
        self.assertEqual(inc["owner"], MGMT_OWNER)
        self.assertIn("put pack 1 back from its stored archive", inc["restore_action"])
        self.assertLess(ts(inc["restored_at"]) - ts(inc["detected_at"]), 10)
        self.assertEqual(open(path).read(), self.original)
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o444)
        self.assertEqual([f["path"] for f in inc["gap"]["files"]], [path])
        self.assertEqual(inc["gap"]["files_restored_from_store"], [path])
        quarantined = os.listdir(self.path("packs/.quarantine"))
        self.assertEqual(len(quarantined), 1)
        self.assertIn("planted", open(self.path("packs/.quarantine/%s/rules/site.rules"
                                                % quarantined[0])).read())
        self.check_notified_at_once(inc)
        self.assertEqual(self.controls()["file-integrity"]["interval_s"], 0.2)

    def test_config_change_escalates_until_accepted(self):
        with open(self.path("conf/site.yaml"), "a") as f:
            f.write("site: changed\n")
        inc = self.incident("file-integrity", "open", timeout=15)
        self.assertRegex(inc["cause"], r"conf/site\.yaml: sha256 changed \(baseline ")
        inc = self.wait(lambda: (lambda i: i if i["escalated"] else None)(
            self.m.api("/api/v1/incidents/%d" % inc["id"], self.viewer)), "escalation")
        self.assertIn("no automatic restore for %s" % self.path("conf/site.yaml"),
                      inc["restore_action"])
        self.wait(lambda: self.posts("incident.escalated", inc["id"]), "escalation notice", 5)
        # Only an admin may accept the change; then the control is ok again.
        r = self.ctl("integrity", "accept", token=self.viewer, check=None)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("403", r.stdout + r.stderr)
        r = self.ctl("integrity", "accept", token=self.admin)
        self.assertIn("new baseline", r.stdout)
        inc = self.incident("file-integrity", "restored", timeout=10)
        self.assertTrue(any('"action":"POST /api/v1/controls/file-integrity/accept"' in line
                            or "file-integrity/accept" in line
                            for line in open(self.path("audit.log"))))

    def test_active_pack_switched_behind_mgmtds_back_is_reactivated(self):
        pid = self.controls()["sensor-alive:edge-01"]["pid"]
        os.symlink("2", self.path("packs/active.new"))
        os.rename(self.path("packs/active.new"), self.path("packs/active"))
        os.kill(pid, signal.SIGHUP)
        switched = time.time()
        inc = self.incident("detection:edge-01", "restored", timeout=20)
        self.assertLess(ts(inc["detected_at"]) - switched, 3 * INTERVAL + 0.5)
        self.assertRegex(inc["cause"],
                         r"rulepacks/active points at '2', mgmtd activated pack 1"
                         r"|the sensor runs pack 2 .*mgmtd activated pack 1")
        self.assertIn("re-activated pack 1", inc["restore_action"])
        self.assertIn("asked the sensor to reload pack 1", inc["restore_action"])
        self.assertLess(ts(inc["restored_at"]) - ts(inc["detected_at"]), 10)
        self.assertEqual(os.readlink(self.path("packs/active")), "1")
        (hb,), = self.m.q("SELECT heartbeat FROM sensors WHERE sensor_id='edge-01'")
        self.wait(lambda: json.loads(self.m.q(
            "SELECT heartbeat FROM sensors WHERE sensor_id='edge-01'")[0][0])["rules_version"]
            == "1", "pack 1 in the heartbeat", 10)
        self.check_notified_at_once(inc)


    def test_drill_meets_objectives_and_loses_no_alert(self):
        # Alerts flow (pack 1's rule matches the looped capture).
        self.wait(lambda: self.m.q("SELECT COUNT(*) FROM events WHERE sensor_id='edge-01'")[0][0]
                  > 100 and json.loads(self.m.q("SELECT heartbeat FROM sensors WHERE "
                                                "sensor_id='edge-01'")[0][0])["last_seq"] > 100,
                  "alerts before the drill")
        old = self.controls()["sensor-alive:edge-01"]["pid"]
        r = self.ctl("drill", "--json", token=self.viewer, check=None)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("403", r.stderr)
        r = self.ctl("drill", "--json", token=self.admin, check=0)
        d = json.loads(r.stdout)
        print("drill: detected after %.2f s, restored after %.2f s, seq %d at the stop, "
              "%d acknowledged after" % (d["detected_after_s"], d["restored_after_s"],
                                         d["last_seq_at_stop"], d["acked_seq_after"]),
              file=sys.stderr)
        self.assertEqual(d["state"], "passed", d)
        self.assertEqual(d["method"], "SIGKILL to the sensor (pid %d)" % old)
        self.assertLessEqual(d["detected_after_s"], 5)
        self.assertLessEqual(d["restored_after_s"], 30)
        self.assertTrue(d["no_alert_lost"])
        self.assertGreater(d["last_seq_at_stop"], 100)
        self.assertGreaterEqual(d["acked_seq_after"], d["last_seq_at_stop"])
        inc = self.m.api("/api/v1/incidents/%d" % d["incident"], self.viewer)
        self.assertEqual(inc["cause"], "sensor exited on signal 9 (SIGKILL) (drill %d)" % d["id"])
        self.assertNotEqual(self.controls()["sensor-alive:edge-01"]["pid"], old)
        # Every seq up to the stop is in the store, once.
        seqs = [s for (s,) in self.m.q("SELECT seq FROM events WHERE sensor_id='edge-01' AND "
                                       "seq <= ? ORDER BY seq", d["last_seq_at_stop"])]
        self.assertEqual(seqs, list(range(1, d["last_seq_at_stop"] + 1)))
        # Recorded for the review; the table names it.
        (listed,) = json.loads(self.ctl("drills", "--json").stdout)
        self.assertEqual(listed, d)
        self.assertIn("passed", self.ctl("drills").stdout)
        # A drill needs a working control: right after, with the control in enhanced
        # monitoring but ok, a second one runs; against an unknown sensor it is refused.
        r = self.ctl("drill", "--sensor", "nope", token=self.admin, check=None)
        self.assertEqual(r.returncode, 2)
        self.assertIn("no sensor 'nope'", r.stderr)


class EnforcementControl(ControlsBase):
    def setUp(self):
        super().setUp()
        self.ns = "vc%d" % (os.getpid() % 100000)
        subprocess.run(["ip", "netns", "add", self.ns], check=True)
        self.addCleanup(subprocess.run, ["ip", "netns", "del", self.ns])
        subprocess.run(["ip", "-n", self.ns, "link", "set", "lo", "up"], check=True)

    def test_deleted_table_recreated_and_notified_once_the_receiver_is_back(self):
        pcap = self.path("loop.pcap")
        tt.write_pcap(pcap, 20)
        rules = self.path("drop.rules")
        with open(rules, "w") as f:
            f.write('drop udp any any -> any 9999 (msg:"drop"; sid:7001; rev:1;)\n')
        # Played once (20 sources, 20 blocks), then the port is idle and the sensor runs on.
        capture = ("capture:\n  method: dpdk\n  eal: %s\n  ports: [net_pcap0]\n  workers: 1\n"
                   % json.dumps(tt.EAL + ["--vdev=net_pcap0,rx_pcap=%s" % pcap]))
        cfg = self.sensor_config(capture=capture, rules=rules)
        with open(cfg, "a") as f:
            f.write("ips:\n  enabled: true\n  nft: {table: vigil, block-timeout-s: 600}\n")
        # The customer's receiver is down when the incident happens.
        port = self.receiver.port
        self.receiver.close()
        extra = ("sensors:\n  edge-01:\n    owner: \"%s\"\n"
                 "    supervise: {command: [/usr/sbin/ip, netns, exec, %s, %s, run, --config, "
                 "%s, --no-progress]}\n" % (OWNER, self.ns, os.path.abspath(tt.SENSOR), cfg)
                 + self.health_yaml())
        self.m = self.mgmtd(extra=extra).start()
        self.viewer = self.m.token("viewer")
        c = self.control_ok("enforcement:edge-01")
        self.wait(lambda: "20 block(s) active" in self.controls()["enforcement:edge-01"]["detail"],
                  "the sensor's 20 blocks")
        subprocess.run(["ip", "netns", "exec", self.ns, "nft", "delete", "table", "inet",
                        "vigil"], check=True)
        deleted = time.time()
        inc = self.incident("enforcement:edge-01", "restored", timeout=15)
        self.assertLess(ts(inc["detected_at"]) - deleted, 3 * INTERVAL + 1.0)
        self.assertEqual(inc["cause"], "table inet vigil missing")
        self.assertIn("re-created its nftables objects", inc["restore_action"])
        self.assertIn("re-applying 20 block(s)", inc["restore_action"])
        self.assertEqual(inc["gap"]["blocks_reapplied"], 20)
        self.assertLess(ts(inc["restored_at"]) - ts(inc["detected_at"]), 10)
        r = subprocess.run(["ip", "netns", "exec", self.ns, "nft", "list", "table", "inet",
                            "vigil"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        self.assertIn("10.0.0.5", r.stdout)
        # Delivery failed while the receiver was down, and was recorded.
        self.wait(lambda: any(a["outcome"] != "HTTP 200" for d in self.m.api(
            "/api/v1/incidents/%d" % inc["id"], self.viewer)["notified"]
            for a in d["attempts"]), "a failed delivery attempt")
        time.sleep(1)
        self.receiver = self.restart_receiver(port)
        self.wait(lambda: self.posts("incident.restored", inc["id"]), "late notification", 60)
        time.sleep(2)
        self.assertEqual(len(self.posts("incident.opened", inc["id"])), 1)
        self.assertEqual(len(self.posts("incident.restored", inc["id"])), 1)

    def restart_receiver(self, port):
        deadline = time.time() + 10
        while True:
            try:
                return Receiver(port)
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)


CLONE_NEWNS = 0x00020000


class StoreControl(ControlsBase):
    def test_store_disk_full_detected_and_restored_when_space_is_back(self):
        libc = ctypes.CDLL(None, use_errno=True)
        self.assertEqual(libc.unshare(CLONE_NEWNS), 0, "unshare(CLONE_NEWNS)")
        subprocess.run(["mount", "--make-rprivate", "/"], check=True)
        store_dir = self.path("store")
        os.makedirs(store_dir)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", store_dir], check=True)
        self.addCleanup(subprocess.run, ["umount", "-l", store_dir])
        self.m = self.mgmtd()
        self.m.db = os.path.join(store_dir, "mgmt.db")
        # Incidents, outbox and audit log elsewhere: the store's disk is the one that fills.
        with open(self.m.config, "w") as f:
            f.write('listen: "%s"\nstore: {path: store/mgmt.db}\n'
                    'api: {listen: "127.0.0.1:%d", tokens: tokens.db}\n'
                    'audit: {path: audit.log}\n'
                    % (self.m.listen, self.m.api_port)
                    + self.health_yaml(", incidents: incidents.db, store: {min-free-mb: 1}")
                    + "  outbox: outbox.db\n")
        self.m.start()
        self.viewer = self.m.token("viewer")
        self.control_ok("store")
        filler = os.path.join(store_dir, "filler")
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * (1 << 20))
                    f.flush()
            except OSError:
                pass
        full = time.time()
        inc = self.incident("store", "open", timeout=10)
        self.assertLess(ts(inc["detected_at"]) - full, 3 * INTERVAL + 0.5)
        self.assertRegex(inc["cause"], r"cannot write in the store's folder .*store: No space "
                                       r"left on device|MB free on the store's disk")
        self.assertEqual(inc["owner"], MGMT_OWNER)
        self.check_notified_at_once(inc)
        self.assertTrue(self.m.api("/api/v1/incidents/%d" % inc["id"], self.viewer)["escalated"])
        os.unlink(filler)
        inc = self.incident("store", "restored", timeout=10)
        self.assertIn("alerts_delayed_max", inc["gap"])
        self.assertIn("mgmtd deletes no alert", inc["restore_action"])


class HeartbeatControls(ControlsBase):
    """capture and alert-path judge what the sensor reports: a sensor that reports lost
    packets and a full spool (played over the real socket by the test)."""

    BEAT = {"version": "test", "mode": "run", "uptime_s": 1, "rx_packets": 0, "rx_bytes": 0,
            "capture_drops": 0, "alerts": 0, "drops": 0, "blocks_active": 0, "blocks_added": 0,
            "enforcement": "off", "ruleset_id": 1, "rules_loaded": 1, "rules_rejected": 0,
            "rules_version": "", "rules_digest": "", "last_seq": 0, "acked_seq": 0,
            "spool_records": 0, "spool_bytes": 0, "spool_dropped": 0, "workers": []}

    def beat(self, **kw):
        self.hb.update(kw)
        self.s.send(vigilwire.HEARTBEAT, 0, json.dumps(self.hb))

    def beats_for(self, seconds, step):
        end = time.time() + seconds
        while time.time() < end:
            step()
            time.sleep(0.2)

    def test_lost_packets_and_a_full_spool_open_and_close_incidents(self):
        extra = ("sensors:\n  edge-01:\n    owner: \"%s\"\n" % OWNER
                 + self.health_yaml(", capture: {max-drop-ratio: 0.05, min-packets: 1000}"))
        self.m = self.mgmtd(extra=extra).start()
        self.viewer = self.m.token("viewer")
        self.s = vigilwire.FakeSensor(self.m.listen, "edge-01")
        self.addCleanup(self.s.close)
        self.assertIsNotNone(self.s.hello())
        self.hb = dict(self.BEAT)

        def healthy():
            self.beat(rx_packets=self.hb["rx_packets"] + 10000)
        self.beats_for(2, healthy)
        self.control_ok("capture:edge-01", timeout=5)
        self.control_ok("alert-path:edge-01", timeout=5)

        def lossy():
            self.beat(rx_packets=self.hb["rx_packets"] + 8000,
                      capture_drops=self.hb["capture_drops"] + 2000)
        self.beats_for(2, lossy)
        inc = self.incident("capture:edge-01", "open", timeout=5)
        # The first failing window may still hold healthy beats: over 5%, at most 20% lost.
        m = re.match(r"capture lost ([\d.]+)% of the packets \(\d+ of \d+\) in [\d.]+ s; the "
                     r"limit is 5\.0%$", inc["cause"])
        self.assertIsNotNone(m, inc["cause"])
        self.assertGreater(float(m.group(1)), 5.0)
        self.assertLessEqual(float(m.group(1)), 20.0)
        self.assertTrue(inc["escalated"] or self.wait(lambda: self.m.api(
            "/api/v1/incidents/%d" % inc["id"], self.viewer)["escalated"], "escalated", 5))
        self.check_notified_at_once(inc)
        lost_until_now = self.hb["capture_drops"]
        self.beats_for(2, healthy)
        inc = self.incident("capture:edge-01", "restored", timeout=5)
        self.assertGreater(inc["gap"]["packets_not_inspected"], 0)
        self.assertLessEqual(inc["gap"]["packets_not_inspected"], lost_until_now)

        # Seven records dropped by a full spool.
        self.beat(spool_dropped=7, last_seq=100, acked_seq=90, spool_records=10)
        inc = self.incident("alert-path:edge-01", "open", timeout=5)
        self.assertEqual(inc["cause"],
                         "the sensor's spool was full: 7 record(s) dropped, never delivered")
        self.beats_for(2, healthy)
        inc = self.incident("alert-path:edge-01", "restored", timeout=5)
        self.assertEqual(inc["gap"]["records_lost"], 7)
        self.check_notified_at_once(inc)


class WatchdogControl(ControlsBase):
    """mgmtd as systemd runs it (Type=notify, WatchdogSec): a notify socket of the test's."""

    def test_ready_watchdog_pings_and_stopping(self):
        path = self.path("notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        self.addCleanup(sock.close)
        sock.settimeout(0.2)
        self.m = self.mgmtd(extra=self.health_yaml())
        env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="1000000")
        self.m.logf = open(self.m.log, "a")
        self.m.proc = subprocess.Popen([tt.MGMTD, "--config", self.m.config], stdout=self.m.logf,
                                       stderr=self.m.logf, env=env)
        got = []
        deadline = time.time() + 4
        while time.time() < deadline:
            try:
                got.append((time.time(), sock.recv(256).decode()))
            except socket.timeout:
                pass
        msgs = [m for (_, m) in got]
        self.assertIn("READY=1", msgs, self.m.text())
        pings = [t for (t, m) in got if m == "WATCHDOG=1"]
        self.assertGreaterEqual(len(pings), 5, msgs)  # every 0.5 s
        self.assertLess(max(b - a for a, b in zip(pings, pings[1:])), 0.8)
        self.viewer = self.m.token("viewer")
        c = self.control_ok("watchdog")
        self.assertEqual(c["detail"], "systemd watchdog: pinged every 0.5 s (WatchdogSec 1.0 s)")
        # A hung mgmtd pings no more (systemd would kill and restart it).
        os.kill(self.m.proc.pid, signal.SIGSTOP)
        time.sleep(0.3)
        while True:
            try:
                sock.recv(256)
            except socket.timeout:
                break
        try:
            late = sock.recv(256)
        except socket.timeout:
            late = None
        self.assertIsNone(late)
        os.kill(self.m.proc.pid, signal.SIGCONT)
        self.assertEqual(self.m.stop(), 0)
        rest = []
        while True:
            try:
                rest.append(sock.recv(256).decode())
            except socket.timeout:
                break
        self.assertIn("STOPPING=1", rest)


    def test_mgmtd_killed_is_an_incident_at_its_next_start(self):
        self.m = self.mgmtd(extra=self.health_yaml()).start()
        self.viewer = self.m.token("viewer")
        self.control_ok("store")
        self.m.stop()  # a clean stop: nothing to report
        self.m.start()
        self.control_ok("store")
        self.assertEqual(self.m.api("/api/v1/incidents", self.viewer), [])
        pid = self.m.proc.pid
        time.sleep(1.5)
        self.m.kill9()
        killed = time.time()
        time.sleep(1)
        self.m.start()
        inc = self.incident("watchdog", "restored", timeout=10)
        self.assertEqual(inc["owner"], MGMT_OWNER)
        self.assertRegex(inc["cause"], r"^the previous vigil-mgmtd \(pid %d, started .*\) ended "
                                       r"without a clean stop" % pid)
        self.assertIn("vigil-mgmtd started again (pid %d)" % self.m.proc.pid,
                      inc["restore_action"])
        self.assertAlmostEqual(inc["gap"]["mgmtd_down_s"], time.time() - killed, delta=2.5)
        self.check_notified_at_once(inc)


class Classification(ControlsBase):
    """Data above a sink's clearance is not sent there."""

    def alert_with_payload(self):
        rec = json.loads(vigilwire.alert(1))
        rec["payload"] = "R0VUIC8gSFRUUC8xLjE="
        rec["payload_printable"] = "GET / HTTP/1.1"
        return json.dumps(rec)

    def start(self, classification):
        self.m = self.mgmtd(extra=self.health_yaml() + classification)
        self.m.start()
        self.viewer = self.m.token("viewer")
        s = vigilwire.FakeSensor(self.m.listen, "edge-01")
        self.addCleanup(s.close)
        self.assertIsNotNone(s.hello())
        s.send(vigilwire.RECORD, 1, self.alert_with_payload())
        self.assertEqual(s.wait_ack(1), 1)

    def test_payloads_withheld_from_the_api_by_default(self):
        self.start("")
        (a,) = self.m.api("/api/v1/alerts", self.viewer)["alerts"]
        self.assertNotIn("payload", a["eve"])
        self.assertNotIn("payload_printable", a["eve"])
        self.assertEqual(a["eve"]["alert"]["signature_id"], 2000001)
        (raw,) = self.m.q("SELECT eve FROM events")
        self.assertIn("payload_printable", raw[0])  # kept in the store, only withheld

    def test_cleared_api_gets_payloads_and_uncleared_sinks_get_nothing(self):
        self.start("classification:\n"
                   "  data: {incidents: confidential, alerts: internal}\n"
                   "  sinks: {api: confidential, webhook: internal}\n")
        (a,) = self.m.api("/api/v1/alerts", self.viewer)["alerts"]
        self.assertEqual(a["eve"]["payload_printable"], "GET / HTTP/1.1")
        self.assertIn("classification: incidents are confidential, the webhook sink is cleared "
                      "for internal: incidents are not sent there", self.m.text())

    def test_alerts_above_the_api_clearance_are_refused_and_levels_checked(self):
        self.start("classification: {data: {alerts: restricted}}\n")
        with self.assertRaises(Exception) as e:
            self.m.api("/api/v1/alerts", self.viewer)
        self.assertEqual(e.exception.code, 403)
        self.assertIn(b"alerts are classified restricted", e.exception.read())
        m = self.mgmtd(extra="classification: {sinks: {webhook: secret}}\n")
        r = subprocess.run([tt.MGMTD, "--config", m.config], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertRegex(r.stderr, r"mgmtd\.yaml:\d+: classification\.sinks\.webhook: 'secret' "
                                   r"is not a level")


if __name__ == "__main__":
    unittest.main(verbosity=2)
