#!/usr/bin/env python3
"""Rule packs from the security staff's desk to a running sensor, with real processes:
vigilctl rules pack (signed) -> vigilctl rules activate PACK -> vigil-mgmtd checks, compiles
and stores it, points rulepacks/active at it and orders the sensor (vigil-sensor run on a
DPDK net_pcap port replaying a capture in a loop) to reload over ZeroMQ -> the sensor's alerts
change at the swap; rollback brings the old ones back; an untrusted pack is refused and
recorded; a stored pack tampered with on disk is refused by the sensor, which keeps running.
Environment: VIGIL_SENSOR, VIGIL_MGMTD, VIGIL_VIGILCTL, VIGIL_ROOT.
"""
import json
import os
import signal
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import transport_test as tt  # noqa: E402  (Mgmtd, Base, EAL)

VIGILCTL = tt.VIGILCTL


def write_ping_pcap(path, n=400):
    """n UDP packets to port 9999, the first one carrying PING, the rest filler."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i in range(n):
            payload = b"PING" if i == 0 else b"filler%04d" % i
            udp = struct.pack("!HHHH", 1024 + i, 9999, 8 + len(payload), 0) + payload
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xffff, 0, 64, 17, 0,
                             bytes([10, 0, 0, 1]), bytes([10, 9, 0, 1]))
            frame = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + ip + udp
            f.write(struct.pack("<IIII", 1700000000, i * 1000, len(frame), len(frame)))
            f.write(frame)


def rule(sid, msg):
    return ('alert udp any any -> any 9999 (msg:"%s"; content:"PING"; sid:%d; rev:1;)\n'
            % (msg, sid))


class Activation(tt.Base):
    def ctl(self, *args, token=None, check=None):
        env = dict(os.environ)
        if token:
            env["VIGIL_TOKEN"] = token
        r = subprocess.run([VIGILCTL, *args, "--api", "http://127.0.0.1:%d" % self.m.api_port],
                           capture_output=True, text=True, timeout=300, env=env)
        if check is not None:
            self.assertEqual(r.returncode, check, r.stdout + r.stderr)
        return r

    def local(self, *args, check=0):
        r = subprocess.run([VIGILCTL, *args], capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, check, r.stdout + r.stderr)
        return r

    def make_pack(self, version, text, key):
        src = self.path("src-" + version)
        os.makedirs(src)
        with open(os.path.join(src, "site.rules"), "w") as f:
            f.write(text)
        out = self.path("pack-%s.tar.zst" % version)
        self.local("rules", "pack", src, "-o", out, "--version", version, "--name", "site",
                   *(["--key", key] if key else []))
        return out

    def sids_after(self, seq):
        return [sid for (sid,) in self.m.q(
            "SELECT sid FROM events WHERE sensor_id='edge-01' AND event_type='alert' AND seq>? "
            "ORDER BY seq", seq)]

    def last_seq(self):
        (n,), = self.m.q("SELECT COALESCE(MAX(seq), 0) FROM events WHERE sensor_id='edge-01'")
        return n

    def test_initial_pack_is_activated_once_on_a_fresh_store(self):
        """rulepacks.initial (the package's starter pack): stored and activated at the first
        start, through the signature check; never again once packs have a history."""
        self.local("rules", "keygen", "--out", self.path("keys"))
        self.local("rules", "keygen", "--out", self.path("other"))
        starter = self.make_pack("starter-1", rule(1001, "starter"), self.path("keys/signing.key"))
        v2 = self.make_pack("2", rule(1002, "site pack"), self.path("keys/signing.key"))
        self.m = self.mgmtd(extra="rulepacks: {dir: packs, trusted-keys: keys/signing.pub, "
                                  "initial: %s}\n" % starter)
        self.m.start()
        self.assertEqual(os.readlink(self.path("packs/active")), "starter-1")
        self.assertIn("rulepacks.initial: stored and activated pack starter-1 (1 rules)",
                      self.m.text())
        with open(self.path("audit.log")) as f:
            audit = [json.loads(line) for line in f]
        self.assertEqual([(e["actor"], e["action"], e["target"]) for e in audit],
                         [("vigil-mgmtd", "rulepack.activate", "starter-1")])
        # The operators activate their own pack; a restart does not bring the starter back.
        admin = self.m.token("admin")
        self.ctl("rules", "activate", v2, token=admin, check=0)
        self.m.stop()
        self.m.start()
        self.assertEqual(os.readlink(self.path("packs/active")), "2")
        self.assertEqual(self.m.text().count("rulepacks.initial: stored and activated"), 1)

    def test_untrusted_initial_pack_stops_the_start_with_the_reason(self):
        self.local("rules", "keygen", "--out", self.path("keys"))
        self.local("rules", "keygen", "--out", self.path("other"))
        rogue = self.make_pack("starter-1", rule(1001, "rogue"), self.path("other/signing.key"))
        self.m = self.mgmtd(extra="rulepacks: {dir: packs, trusted-keys: keys/signing.pub, "
                                  "initial: %s}\n" % rogue)
        with self.assertRaises(AssertionError) as cm:
            self.m.start()
        self.assertIn("exited 2", str(cm.exception))
        self.assertRegex(self.m.text(), r"rulepacks.initial: .*pack-starter-1.tar.zst refused: "
                                        r".*key")
        self.assertFalse(os.path.exists(self.path("packs/active")))

    def test_activate_rollback_refuse_and_tamper(self):
        self.local("rules", "keygen", "--out", self.path("keys"))
        self.local("rules", "keygen", "--out", self.path("other"))
        v1 = self.make_pack("1", rule(1001, "rule of pack 1"), self.path("keys/signing.key"))
        v2 = self.make_pack("2", rule(1002, "rule of pack 2"), self.path("keys/signing.key"))
        rogue = self.make_pack("3", rule(1003, "rogue"), self.path("other/signing.key"))
        self.m = self.mgmtd(extra="rulepacks: {dir: packs, trusted-keys: keys/signing.pub}\n")
        self.m.start()
        admin = self.m.token("admin")

        # Pack 1 goes in before any sensor runs: stored and active, nobody to tell.
        r = self.ctl("rules", "activate", v1, token=admin, check=0)
        self.assertIn("rule pack 1 (site) stored", r.stdout)
        self.assertIn("no sensor connected", r.stdout)
        self.assertEqual(os.readlink(self.path("packs/active")), "1")
        self.assertEqual(os.stat(self.path("packs/1/rules/site.rules")).st_mode & 0o777, 0o444)

        pcap = self.path("ping.pcap")
        write_ping_pcap(pcap)
        capture = ("capture:\n  method: dpdk\n  eal: %s\n  ports: [net_pcap0]\n  workers: 1\n"
                   % json.dumps(tt.EAL + ["--vdev=net_pcap0,rx_pcap=%s,infinite_rx=1" % pcap]))
        cfg = self.sensor_config(capture=capture, rules=self.path("packs/active"))
        sensor = subprocess.Popen([tt.SENSOR, "run", "--config", cfg, "--no-progress"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(sensor)
        try:
            self.wait_for(lambda: 1001 in self.sids_after(0), timeout=60, what="pack 1 alerts")
            self.wait_for(lambda: '"rules_version":"1"' in
                          (self.m.q("SELECT heartbeat FROM sensors")[0][0] or ""),
                          timeout=10, what="pack 1 in the heartbeat")

            # Pack 2: activated through mgmtd, the sensor reloads and says so.
            r = self.ctl("rules", "activate", v2, token=admin, check=0)
            self.assertIn("rule pack 2 active (was 1)", r.stdout)
            self.assertRegex(r.stdout, r"edge-01: ok, 1 rules loaded, 0 rejected")
            # Alerts of pack 1's rule stop at the swap, pack 2's start.
            self.wait_for(lambda: 1002 in self.sids_after(0), timeout=30, what="pack 2 alerts")
            (first2,), = self.m.q("SELECT MIN(seq) FROM events WHERE sid=1002")
            self.wait_for(lambda: len(self.sids_after(first2)) >= 5, timeout=30,
                          what="more pack 2 alerts")
            self.assertEqual(set(self.sids_after(first2)), {1002})

            # A pack signed by a key mgmtd does not trust: refused, recorded, nothing changes.
            r = self.ctl("rules", "activate", rogue, token=admin, check=2)
            self.assertIn("pack refused", r.stderr)
            self.assertFalse(os.path.exists(self.path("packs/3")))
            lst = json.loads(self.ctl("rules", "list", "--json", token=admin, check=0).stdout)
            self.assertEqual(lst["active"], "2")
            self.assertEqual([p["version"] for p in lst["packs"]], ["1", "2"])
            self.assertEqual(lst["refused"][-1]["version"], "3")
            self.assertIn("key", lst["refused"][-1]["reason"])
            # A viewer may list, not activate.
            viewer = self.m.token("viewer")
            self.ctl("rules", "list", token=viewer, check=0)
            r = self.ctl("rules", "rollback", token=viewer, check=2)
            self.assertIn("admin", r.stderr)

            # Rollback: pack 1's alerts come back.
            mark = self.last_seq()
            r = self.ctl("rules", "rollback", token=admin, check=0)
            self.assertIn("rule pack 1 active (was 2)", r.stdout)
            self.wait_for(lambda: 1001 in self.sids_after(mark), timeout=30,
                          what="pack 1 alerts again")
            (back1,), = self.m.q("SELECT MIN(seq) FROM events WHERE sid=1001 AND seq>?", mark)
            self.wait_for(lambda: len(self.sids_after(back1)) >= 5, timeout=30,
                          what="more pack 1 alerts")
            self.assertEqual(set(self.sids_after(back1)), {1001})

            # The stored pack edited on disk: the sensor checks every sha256 and refuses it;
            # the running set keeps alerting.
            path = self.path("packs/1/rules/site.rules")
            os.chmod(path, 0o644)
            with open(path, "a") as f:
                f.write(rule(1009, "planted"))
            sensor.send_signal(signal.SIGHUP)
            mark = self.last_seq()
            time.sleep(2)
            self.wait_for(lambda: len(self.sids_after(mark)) >= 5, timeout=30,
                          what="alerts after the refused reload")
            self.assertEqual(set(self.sids_after(mark)), {1001})
            self.assertIsNone(sensor.poll())
        except AssertionError as e:
            sensor.send_signal(signal.SIGTERM)
            out, err = sensor.communicate(timeout=120)
            raise AssertionError("%s\nsensor:\n%s\nmgmtd:\n%s" % (e, err[-3000:], self.m.text()[-3000:]))
        finally:
            if sensor.poll() is None:
                sensor.send_signal(signal.SIGTERM)
                out, err = sensor.communicate(timeout=120)
        self.assertEqual(sensor.returncode, 0, err)
        self.assertIn("mgmtd asks for a reload (pack 2)", err)
        self.assertRegex(err, r"reload refused: .*site\.rules.*sha256")
        self.assertRegex(err, r"2 reload\(s\), 1 refused")
        hist = [json.loads(line)["event"] for line in open(self.path("packs/history.jsonl"))]
        self.assertEqual(hist, ["stored", "activated", "stored", "activated", "refused",
                                "rolled_back"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
