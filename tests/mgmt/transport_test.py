#!/usr/bin/env python3
"""The alert path sensor → ZeroMQ → vigil-mgmtd → store, with real processes and sockets:
field-for-field delivery, kill -9 of mgmtd and of the sensor, mgmtd absent, a full spool,
rogue peers and CURVE. Every test starts its own mgmtd in a temporary directory.

Environment: VIGIL_SENSOR, VIGIL_MGMTD, VIGIL_ROOT.
"""
import json
import re
import os
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vigilwire as vw  # noqa: E402
import zmq  # noqa: E402

SENSOR = os.environ.get("VIGIL_SENSOR", "build/sensor/vigil-sensor")
MGMTD = os.environ.get("VIGIL_MGMTD", "build/mgmt/vigil-mgmtd")
VIGILCTL = os.environ.get("VIGIL_VIGILCTL", "build/mgmt/vigilctl")
ROOT = os.environ.get("VIGIL_ROOT", os.getcwd())
PCAPS = os.path.join(ROOT, "pcaps")
RULES = os.path.join(ROOT, "rules", "default")
EAL = ["--no-huge", "-m", "512", "--no-pci", "--no-shconf", "--no-telemetry",
       "--log-level=*:error", "-l", "0-1" if (os.cpu_count() or 1) > 1 else "0"]
EVERY_PACKET_RULE = ('alert udp any any -> any 9999 (msg:"every packet"; sid:1000001; rev:1;)\n')


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_pcap(path, n, dport=9999):
    """n Ethernet/IPv4/UDP packets to `dport`, each from its own source port."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i in range(n):
            payload = b"x" * 16
            udp = struct.pack("!HHHH", 1024 + i % 60000, dport, 8 + len(payload), 0) + payload
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xffff, 0, 64, 17, 0,
                             bytes([10, 0, (i >> 8) & 0xff, i & 0xff]), bytes([10, 9, 0, 1]))
            frame = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + ip + udp
            ts = 1700000000 + i // 1000
            f.write(struct.pack("<IIII", ts, (i % 1000) * 1000, len(frame), len(frame)))
            f.write(frame)


class Mgmtd:
    def __init__(self, tmp, extra="", listen=None, store_extra=""):
        self.tmp = tmp
        self.listen = listen or "ipc://%s/mgmt.sock" % tmp
        self.db = os.path.join(tmp, "mgmt.db")
        self.api_port = free_port()
        self.config = os.path.join(tmp, "mgmtd.yaml")
        with open(self.config, "w") as f:
            f.write('listen: "%s"\nstore: {path: mgmt.db%s}\n'
                    'api: {listen: "127.0.0.1:%d", tokens: tokens.db}\n%s'
                    % (self.listen, store_extra, self.api_port, extra))
        self.proc = None
        self.log = os.path.join(tmp, "mgmtd.log")

    def start(self):
        started = self.text().count("API on") if os.path.exists(self.log) else 0
        self.logf = open(self.log, "a")
        self.proc = subprocess.Popen([MGMTD, "--config", self.config], stdout=self.logf,
                                     stderr=self.logf)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("mgmtd exited %d: %s" % (self.proc.returncode, self.text()))
            if self.text().count("API on") > started:
                return self
            time.sleep(0.05)
        raise AssertionError("mgmtd did not start: " + self.text())

    def text(self):
        with open(self.log) as f:
            return f.read()

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.logf.close()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            rc = self.proc.wait(timeout=30)
            self.logf.close()
            return rc
        return self.proc.returncode if self.proc else None

    def token(self, role="admin"):
        r = subprocess.run([VIGILCTL, "tokens", "add", "t-%s-%d" % (role, time.time_ns() % 10**9),
                            "--role", role, "--config", self.config],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    def api(self, path, token):
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.api_port, path),
                                     headers={"Authorization": "Bearer " + token})
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read().decode()
        return json.loads(body) if path.startswith("/api") else body

    # The store, read directly (the test checks what is on disk, not what the API says).
    def q(self, sql, *args):
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=10)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def seqs(self, sensor):
        return [r[0] for r in self.q("SELECT seq FROM events WHERE sensor_id=? ORDER BY seq",
                                     sensor)]

    def count(self, sensor):
        try:
            return self.q("SELECT COUNT(*) FROM events WHERE sensor_id=?", sensor)[0][0]
        except sqlite3.OperationalError:
            return 0


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vigil-transport-")
        self.procs = []
        self.mgmtds = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for m in self.mgmtds:
            if m.proc and m.proc.poll() is None:
                m.proc.kill()
                m.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def mgmtd(self, **kw):
        m = Mgmtd(self.tmp, **kw)
        self.mgmtds.append(m)
        return m

    def sensor_config(self, name="sensor.yaml", sensor_id="edge-01", endpoint=None, zmq_extra="",
                      capture=None, rules=None):
        p = self.path(name)
        endpoint = endpoint or "ipc://%s/mgmt.sock" % self.tmp
        with open(p, "w") as f:
            f.write("sensor-id: %s\n" % sensor_id)
            if capture:
                f.write(capture)
            f.write("rules: [%s]\n" % (rules or RULES))
            f.write("outputs:\n  eve: {path: %s}\n" % self.path("eve-run.json"))
            f.write('  zmq: {endpoint: "%s", spool: spool-%s%s}\n' % (endpoint, sensor_id, zmq_extra))
        return p

    def every_packet_rules(self):
        p = self.path("every.rules")
        with open(p, "w") as f:
            f.write(EVERY_PACKET_RULE)
        return p

    def replay(self, config, pcap, eve, *extra, wait=True):
        cmd = [SENSOR, "replay", "--config", config, "--pcap", pcap, "--eve", eve,
               "--no-progress", *extra]
        if not wait:
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            self.procs.append(p)
            return p
        return subprocess.run(cmd, capture_output=True, text=True, timeout=600)

    def wait_for(self, cond, timeout=30, what="condition"):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if cond():
                return
            time.sleep(0.02)
        self.fail("timed out waiting for " + what)


def eve_lines(path):
    with open(path) as f:
        return [line.rstrip("\n") for line in f if line.strip()]


class DeliveryTest(Base):
    def test_replay_records_arrive_field_for_field(self):
        m = self.mgmtd().start()
        cfg = self.sensor_config(zmq_extra=", drain-timeout-s: 30")
        eve = self.path("eve.json")
        r = self.replay(cfg, PCAPS, eve)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("mgmtd: every record acknowledged", r.stderr)
        lines = eve_lines(eve)
        self.assertGreater(sum('"event_type":"alert"' in l for l in lines), 50)
        rows = m.q("SELECT seq, eve FROM events WHERE sensor_id='edge-01' ORDER BY seq")
        self.assertEqual([s for s, _ in rows], list(range(1, len(lines) + 1)))
        # The record unchanged: byte for byte, and so field for field.
        for (seq, stored), line in zip(rows, lines):
            self.assertEqual(stored, line, "seq %d" % seq)
        # The indexed columns agree with the record.
        for seq, sid, src, dst, action in m.q(
                "SELECT seq, sid, src_ip, dest_ip, action FROM events "
                "WHERE event_type='alert' ORDER BY seq"):
            e = json.loads(rows[seq - 1][1])
            self.assertEqual((sid, src, dst, action),
                             (e["alert"]["signature_id"], e["src_ip"], e["dest_ip"],
                              e["alert"]["action"]))
        # The registry knows the sensor, its version and its last heartbeat.
        (committed, hb, version), = m.q(
            "SELECT committed_seq, heartbeat, version FROM sensors WHERE sensor_id='edge-01'")
        self.assertEqual(committed, len(lines))
        self.assertEqual(m.stop(), 0)
        self.assertIn("records stored", m.text())

    def test_several_sensors_at_once(self):
        m = self.mgmtd().start()
        procs = {}
        for sid in ("edge-a", "edge-b", "edge-c"):
            cfg = self.sensor_config(name=sid + ".yaml", sensor_id=sid,
                                     zmq_extra=", drain-timeout-s: 60")
            procs[sid] = self.replay(cfg, PCAPS, self.path(sid + ".json"), wait=False)
        for sid, p in procs.items():
            out, err = p.communicate(timeout=300)
            self.assertEqual(p.returncode, 0, err)
            lines = eve_lines(self.path(sid + ".json"))
            self.assertEqual(m.seqs(sid), list(range(1, len(lines) + 1)), sid)
            stored = [e for (e,) in m.q("SELECT eve FROM events WHERE sensor_id=? ORDER BY seq",
                                        sid)]
            self.assertEqual(stored, lines, sid)
        self.assertEqual([r[0] for r in m.q("SELECT sensor_id FROM sensors ORDER BY 1")],
                         ["edge-a", "edge-b", "edge-c"])

    def test_sigterm_commits_and_acknowledges_what_was_received(self):
        # No commit falls due on its own (commit-ms at its maximum, a batch larger than what
        # is sent): what the store holds at the end was committed because of SIGTERM.
        m = self.mgmtd(store_extra=", commit-ms: 10000, commit-batch: 1000000").start()
        token = m.token("viewer")
        s = vw.FakeSensor(m.listen, "edge-t")
        self.assertEqual(s.hello(), 0)
        n = 20000
        for i in range(1, n + 1):
            s.send(vw.RECORD, i, vw.alert(i))

        def received():
            for line in m.api("/metrics", token).splitlines():
                if line.startswith("vigil_ingest_messages_total "):
                    return int(line.split()[1])
            return 0
        # Hello and every record reached mgmtd before it is told to stop.
        self.wait_for(lambda: received() >= n + 1, what="every record received")
        self.assertEqual(m.seqs("edge-t"), [], "committed before SIGTERM")
        t0 = time.monotonic()
        m.proc.send_signal(signal.SIGTERM)
        # Every ack mgmtd sent before it exited, to the last one.
        last = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            got = s.recv(200)
            if got is None:
                if m.proc.poll() is not None:
                    break
                continue
            if got[0] == vw.ACK:
                last = max(last, got[1])
        self.assertEqual(m.proc.wait(timeout=30), 0)
        # commit-ms does not hold the exit back.
        self.assertLess(time.monotonic() - t0, 8)
        self.assertEqual(last, n)
        self.assertEqual(m.seqs("edge-t"), list(range(1, n + 1)))
        self.assertIn("SIGTERM: committing and stopping", m.text())
        s.close()


class CrashTest(Base):
    N = 100000

    def test_kill9_mgmtd_mid_stream_stores_every_seq_once(self):
        m = self.mgmtd().start()
        pcap = self.path("many.pcap")
        write_pcap(pcap, self.N)
        cfg = self.sensor_config(zmq_extra=", drain-timeout-s: 120", rules=self.every_packet_rules())
        eve = self.path("eve.json")
        p = self.replay(cfg, pcap, eve, wait=False)
        self.wait_for(lambda: m.count("edge-01") >= 10000, what="10000 records stored")
        m.kill9()
        at_kill = m.count("edge-01")
        self.assertLess(at_kill, self.N, "mgmtd was killed after the stream ended")
        time.sleep(0.3)
        m.start()
        out, err = p.communicate(timeout=300)
        self.assertEqual(p.returncode, 0, err)
        self.assertIn("mgmtd: every record acknowledged", err)
        n = len(eve_lines(eve))
        self.assertEqual(n, self.N + 1)  # every packet's alert, and the stats record
        self.assertEqual(m.seqs("edge-01"), list(range(1, n + 1)))
        self.assertEqual(m.q("SELECT COUNT(*) FROM gaps")[0][0], 0)
        self.assertEqual(m.stop(), 0)

    def test_kill9_sensor_live_run_then_restart_stores_every_seq_once(self):
        m = self.mgmtd().start()
        pcap = self.path("many.pcap")
        write_pcap(pcap, self.N)
        capture = ("capture:\n  method: dpdk\n  eal: %s\n  ports: [net_pcap0]\n"
                   "  exit-on-idle-ms: 1500\n"
                   % json.dumps(EAL + ["--vdev=net_pcap0,rx_pcap=%s" % pcap]))
        cfg = self.sensor_config(capture=capture, rules=self.every_packet_rules(),
                                 zmq_extra=", drain-timeout-s: 60")
        run = [SENSOR, "run", "--config", cfg, "--no-progress"]
        p = subprocess.Popen(run, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        self.wait_for(lambda: m.count("edge-01") >= 2000, timeout=60, what="2000 records stored")
        p.send_signal(signal.SIGKILL)
        p.wait()
        before = m.count("edge-01")
        spool = self.path("spool-edge-01")
        self.assertTrue(any(f.endswith(".seg") for f in os.listdir(spool)))
        # Restart: what the killed sensor spooled and the new run's records all arrive.
        r = subprocess.run(run, capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("mgmtd: every record acknowledged", r.stderr)
        seqs = m.seqs("edge-01")
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)))
        self.assertGreater(len(seqs), before + self.N)  # the second run's 100,000 alerts too
        self.assertEqual(m.q("SELECT COUNT(*) FROM gaps")[0][0], 0)
        self.assertEqual(m.stop(), 0)


class SpoolTest(Base):
    def test_mgmtd_absent_at_start_then_spool_drains(self):
        pcap = self.path("some.pcap")
        write_pcap(pcap, 1000)
        cfg = self.sensor_config(zmq_extra=", drain-timeout-s: 1", rules=self.every_packet_rules())
        r = self.replay(cfg, pcap, self.path("eve1.json"))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("1001 records stay in the spool", r.stderr)
        m = self.mgmtd().start()
        r = self.replay(cfg, pcap, self.path("eve2.json"))
        self.assertIn("1001 records from an earlier run wait for mgmtd", r.stderr)
        # drain-timeout-s 1 may be short for a cold start: the records are safe either way.
        if r.returncode != 0:
            self.assertIn("stay in the spool", r.stderr)
            r = self.replay(cfg, pcap, self.path("eve3.json"))
        self.wait_for(lambda: m.count("edge-01") >= 2002, what="both replays stored")
        self.assertEqual(m.seqs("edge-01")[:2002], list(range(1, 2003)))
        stored = [e for (e,) in m.q("SELECT eve FROM events WHERE sensor_id='edge-01' "
                                    "ORDER BY seq LIMIT 1001")]
        self.assertEqual(stored, eve_lines(self.path("eve1.json")))

    def test_full_spool_drop_oldest_reports_the_gap_in_heartbeats_and_store(self):
        pcap = self.path("many.pcap")
        write_pcap(pcap, 30000)
        capture = ("capture:\n  method: dpdk\n  eal: %s\n  ports: [net_pcap0]\n"
                   "  exit-on-idle-ms: 6000\n"
                   % json.dumps(EAL + ["--vdev=net_pcap0,rx_pcap=%s" % pcap]))
        cfg = self.sensor_config(capture=capture, rules=self.every_packet_rules(),
                                 zmq_extra=", spool-max-mb: 1, drain-timeout-s: 30")
        p = subprocess.Popen([SENSOR, "run", "--config", cfg, "--no-progress"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        # 30,000 alerts of ~450 bytes do not fit in 1 MB: wait until they are all spooled
        # (the EVE file has them), then let mgmtd come up.
        self.wait_for(lambda: os.path.exists(self.path("eve-run.json")) and
                      os.path.getsize(self.path("eve-run.json")) > 0, what="alerts")
        time.sleep(1.5)
        p.send_signal(signal.SIGUSR1)  # the counters, with the link to mgmtd
        time.sleep(0.3)
        m = self.mgmtd().start()
        out, err = p.communicate(timeout=120)
        self.assertEqual(p.returncode, 0, err)
        usr1 = re.search(r"mgmtd +not connected, last seq (\d+), acknowledged 0, spool (\d+) "
                         r"records \(\d+ bytes\), dropped by a full spool (\d+)", err)
        self.assertIsNotNone(usr1, err)
        self.assertGreater(int(usr1.group(3)), 0)
        self.assertEqual(int(usr1.group(1)), int(usr1.group(2)) + int(usr1.group(3)))
        self.assertRegex(err, r"(\d+) records dropped by the full spool")
        dropped = int(re.search(r"(\d+) records dropped by the full spool",
                                              err).group(1))
        self.assertGreater(dropped, 20000)
        # mgmtd recorded the gap, and the heartbeats carried the count.
        (gap_records, hb), = m.q("SELECT gap_records, heartbeat FROM sensors "
                                 "WHERE sensor_id='edge-01'")
        self.assertEqual(gap_records, dropped)
        beat = json.loads(hb)
        self.assertEqual(beat["spool_dropped"], dropped)
        # The rest of the heartbeat: what the sensor runs and how it does.
        self.assertEqual(beat["mode"], "run")
        self.assertEqual(beat["rules_loaded"], 1)
        self.assertGreater(beat["ruleset_id"], 0)
        self.assertEqual(beat["rx_packets"], 30000)
        self.assertEqual(beat["alerts"], 30000)
        self.assertEqual(beat["enforcement"], "off")
        self.assertEqual([(w["id"], w["alive"]) for w in beat["workers"]], [(0, True)])
        self.assertGreater(beat["uptime_s"], 1)
        # The last heartbeat is a snapshot: the final stats record may be in flight in it.
        self.assertLessEqual(beat["acked_seq"], beat["last_seq"])
        (frm, to, reason), = m.q("SELECT from_seq, to_seq, reason FROM gaps")
        self.assertEqual((frm, reason), (1, "spool full"))
        seqs = m.seqs("edge-01")
        self.assertEqual(seqs, list(range(to + 1, to + 1 + len(seqs))))
        # Everything the sensor numbered was stored, up to its last record.
        self.assertGreaterEqual(seqs[-1], beat["last_seq"])
        self.assertEqual(m.stop(), 0)

    def test_full_spool_drop_newest_counts_and_keeps_seqs_contiguous(self):
        pcap = self.path("many.pcap")
        write_pcap(pcap, 20000)
        cfg = self.sensor_config(rules=self.every_packet_rules(),
                                 zmq_extra=", spool-max-mb: 1, spool-full: drop-newest, "
                                           "drain-timeout-s: 1")
        r = self.replay(cfg, pcap, self.path("eve.json"))
        self.assertEqual(r.returncode, 1, r.stderr)
        dropped = int(re.search(r"(\d+) records dropped by the full spool",
                                              r.stderr).group(1))
        self.assertGreater(dropped, 10000)
        m = self.mgmtd().start()
        write_pcap(self.path("one.pcap"), 1)
        # The next run sends what was spooled; it may take its time (a loaded CI machine):
        # a drain timeout of 1 s would leave part of the spool for a later run.
        cfg2 = self.sensor_config(name="sensor2.yaml", rules=self.every_packet_rules(),
                                  zmq_extra=", spool-max-mb: 1, spool-full: drop-newest, "
                                            "drain-timeout-s: 30")
        r2 = self.replay(cfg2, self.path("one.pcap"), self.path("eve2.json"))
        self.assertEqual(r2.returncode, 0, r2.stderr)
        self.wait_for(lambda: m.count("edge-01") >= 20001 - dropped, what="spool drained")
        seqs = m.seqs("edge-01")
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)))
        self.assertEqual(m.q("SELECT COUNT(*) FROM gaps")[0][0], 0)

    def test_second_sensor_on_the_same_spool_is_refused(self):
        cfg = self.sensor_config(zmq_extra=", drain-timeout-s: 3")
        write_pcap(self.path("one.pcap"), 1)
        p = self.replay(cfg, self.path("one.pcap"), self.path("a.json"), wait=False)
        time.sleep(0.3)
        r = self.replay(cfg, self.path("one.pcap"), self.path("b.json"))
        p.wait()
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("the spool is in use by another vigil-sensor", r.stderr)


class RoguePeerTest(Base):
    def test_garbage_forged_and_out_of_range_are_rejected_and_counted(self):
        m = self.mgmtd().start()
        ep = m.listen
        good = vw.FakeSensor(ep, "good")
        self.assertEqual(good.hello(), 0)
        good.send(vw.RECORD, 1, vw.alert(1))
        self.assertEqual(good.wait_ack(1), 1)

        ctx = zmq.Context.instance()
        raw = ctx.socket(zmq.DEALER)
        raw.setsockopt(zmq.LINGER, 0)
        raw.connect(ep)
        raw.send(b"garbage")                                   # one frame
        raw.send_multipart([b"not an envelope", b"{}"])        # bad magic
        raw.send_multipart([vw.envelope(42, 1, "x"), b"{}"])   # unknown type
        raw.send_multipart([vw.envelope(vw.RECORD, 1, "bad id!"), b"{}"])
        rogue = vw.FakeSensor(ep, "rogue")
        self.assertEqual(rogue.hello(), 0)
        rogue.send(vw.RECORD, 1, vw.alert(1), sensor_id="good")  # forged on its session
        rogue.send(vw.RECORD, 5, vw.alert(5))                  # out of range (expects 1)
        self.assertEqual(rogue.expect(vw.RESYNC), 0)
        rogue.send(vw.RECORD, 1, "this is not json")           # stored as a rejected gap
        self.assertEqual(rogue.wait_ack(1), 1)
        rogue.send(vw.RECORD, 1, vw.alert(1))                  # replayed seq: not stored
        # An oversized frame: ZeroMQ's maxmsgsize drops the connection.
        big = vw.FakeSensor(ep, "big")
        self.assertEqual(big.hello(), 0)
        big.send(vw.RECORD, 1, "x" * (2 << 20))

        # The good sensor is undisturbed.
        for i in range(2, 101):
            good.send(vw.RECORD, i, vw.alert(i))
        self.assertEqual(good.wait_ack(100), 100)
        self.assertEqual(m.seqs("good"), list(range(1, 101)))
        self.assertEqual(m.count("rogue"), 0)
        self.assertEqual(m.count("big"), 0)
        (reason,), = m.q("SELECT reason FROM gaps WHERE sensor_id='rogue'")
        self.assertIn("record rejected: record is not JSON", reason)
        status = m.api("/api/v1/status", m.token("viewer"))
        rejected = status["ingest"]["rejected"]
        self.assertGreaterEqual(rejected.get("malformed", 0), 4, rejected)
        self.assertGreaterEqual(rejected.get("forged sensor_id", 0), 1, rejected)
        self.assertGreaterEqual(rejected.get("seq out of range", 0), 1, rejected)
        self.assertGreaterEqual(rejected.get("bad record", 0), 1, rejected)
        self.assertGreaterEqual(status["ingest"]["duplicates"], 1)
        for s in (good, rogue, big):
            s.close()
        raw.close(0)
        self.assertEqual(m.stop(), 0)

    def test_records_without_hello_are_refused_until_the_sensor_resyncs(self):
        m = self.mgmtd().start()
        s = vw.FakeSensor(m.listen, "nohello")
        s.send(vw.RECORD, 1, vw.alert(1))
        self.assertEqual(s.expect(vw.RESYNC), 0)
        self.assertEqual(m.count("nohello"), 0)
        s.close()


class CurveTest(Base):
    def keypair(self, name):
        pub, sec = zmq.curve_keypair()
        kd = self.path("keys")
        os.makedirs(kd, exist_ok=True)
        with open(os.path.join(kd, name + ".key"), "wb") as f:
            f.write(sec + b"\n")
        with open(os.path.join(kd, name + ".pub"), "wb") as f:
            f.write(pub + b"\n")
        return pub, sec

    def test_curve_binds_keys_to_sensor_ids(self):
        server_pub, server_sec = self.keypair("mgmtd")
        a_pub, a_sec = self.keypair("edge-a")
        b_pub, b_sec = self.keypair("edge-b")
        sensors = self.path("sensor-keys")
        os.makedirs(sensors)
        for n in ("edge-a", "edge-b"):
            shutil.copy(self.path("keys/%s.pub" % n), sensors)
        port = free_port()
        ep = "tcp://127.0.0.1:%d" % port
        m = self.mgmtd(listen=ep, extra="curve: {secret-key-file: keys/mgmtd.key, "
                                        "sensor-keys-dir: sensor-keys}\n").start()
        # The real sensor, with its key.
        cfg = self.sensor_config(sensor_id="edge-a", endpoint=ep,
                                 zmq_extra=", drain-timeout-s: 30, curve: {secret-key-file: "
                                           "keys/edge-a.key, server-public-key-file: "
                                           "keys/mgmtd.pub}")
        r = self.replay(cfg, os.path.join(PCAPS, "01-http-established.pcap"), self.path("e.json"))
        self.assertEqual(r.returncode, 0, r.stderr)
        n = len(eve_lines(self.path("e.json")))
        self.assertEqual(m.seqs("edge-a"), list(range(1, n + 1)))
        # edge-b's key speaking for edge-a: refused.
        forged = vw.FakeSensor(ep, "edge-a", curve=(b_pub, b_sec, server_pub))
        self.assertIsNone(forged.hello(timeout_ms=1500))
        # A key mgmtd does not know, and a client that does not have mgmtd's key: no session.
        u_pub, u_sec = zmq.curve_keypair()
        unknown = vw.FakeSensor(ep, "edge-c", curve=(u_pub, u_sec, server_pub))
        self.assertIsNone(unknown.hello(timeout_ms=1500))
        wrong_pub, _ = zmq.curve_keypair()
        wrong = vw.FakeSensor(ep, "edge-b", curve=(b_pub, b_sec, wrong_pub))
        self.assertIsNone(wrong.hello(timeout_ms=1500))
        # Plaintext to a CURVE mgmtd: nothing.
        plain = vw.FakeSensor(ep, "edge-b")
        self.assertIsNone(plain.hello(timeout_ms=1500))
        # edge-b with its own key works.
        ok = vw.FakeSensor(ep, "edge-b", curve=(b_pub, b_sec, server_pub))
        self.assertEqual(ok.hello(), 0)
        self.assertEqual(m.count("edge-c"), 0)
        status = m.api("/api/v1/status", m.token("viewer"))
        rejected = status["ingest"]["rejected"]
        self.assertGreaterEqual(rejected.get("forged sensor_id", 0), 1, rejected)
        self.assertGreaterEqual(rejected.get("unknown curve key", 0), 1, rejected)
        for s in (forged, unknown, wrong, plain, ok):
            s.close()
        self.assertEqual(m.stop(), 0)

    def test_bad_zmq_settings_are_named_with_file_and_line(self):
        cases = [
            ("spool-full: keep-all", "outputs.zmq.spool-full: expected 'drop-oldest' or "
                                     "'drop-newest', got 'keep-all'"),
            ("spool-max-mb: 0", "outputs.zmq.spool-max-mb: must be at least 1"),
            ("curve: {secret-key-file: k}", "outputs.zmq.curve: give both secret-key-file and "
                                            "server-public-key-file"),
            ("bogus: 1", "unknown key 'outputs.zmq.bogus'"),
        ]
        for extra, want in cases:
            cfg = self.sensor_config(zmq_extra=", " + extra)
            r = subprocess.run([SENSOR, "check", "--config", cfg], capture_output=True, text=True)
            self.assertEqual(r.returncode, 2, (extra, r.stderr))
            self.assertIn(want, r.stderr, extra)
            self.assertIn(cfg + ":5:", r.stderr, extra)  # the zmq line
        cfg = self.sensor_config(endpoint="udp://127.0.0.1:1")
        r = subprocess.run([SENSOR, "check", "--config", cfg], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("expected ipc://PATH or tcp://HOST:PORT", r.stderr)

    def test_plaintext_tcp_off_host_is_refused_at_start(self):
        cfg = self.sensor_config(endpoint="tcp://192.0.2.10:5555")
        r = subprocess.run([SENSOR, "check", "--config", cfg], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("plaintext ZeroMQ off this host is refused", r.stderr)
        self.assertIn(cfg + ":", r.stderr)
        m = Mgmtd(self.tmp, listen="tcp://0.0.0.0:5555")
        r = subprocess.run([MGMTD, "--config", m.config], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("plaintext ZeroMQ off this host is refused", r.stderr)
        with open(m.config, "a") as f:
            f.write("bogus: 1\n")
        r = subprocess.run([MGMTD, "--config", m.config], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("unknown key 'bogus'", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
