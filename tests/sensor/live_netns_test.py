#!/usr/bin/env python3
"""`vigil-sensor run` on real (virtual) links: veth pairs between network namespaces this test
creates, traffic injected with tcpreplay, the sensor as a user starts it (its own process, so
each run starts its own DPDK EAL).

- net_af_packet (DPDK) and libpcap capture on a veth: the corpus gives the alerts `replay` gives;
- an inline pair between two namespaces (DPDK and libpcap): allowed traffic arrives at the far
  end, what a drop rule matches does not;
- SIGUSR1 prints counters, SIGHUP is logged and changes nothing (no reload yet), SIGTERM
  stops cleanly with the EVE output flushed;
- the watchdog reports a stalled worker;
- configuration errors name the file, the line and the key.

Needs root (namespaces), ip, tcpreplay, tcpdump. Environment: VIGIL_SENSOR, VIGIL_ROOT.
Traffic never leaves the namespaces the test creates.
"""
import json
import re
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

SENSOR = os.path.abspath(os.environ.get("VIGIL_SENSOR", "build/sensor/vigil-sensor"))
ROOT = os.path.abspath(os.environ.get("VIGIL_ROOT", os.getcwd()))
SHARED = os.environ.get("VIGIL_SHARED", os.path.join(ROOT, "..", "shared"))
PCAPS = os.path.join(ROOT, "pcaps")
RULES = os.path.join(ROOT, "rules", "default")
REPLAY_CONFIG = os.path.join(PCAPS, "replay.yaml")
CPUS = os.cpu_count() or 1
LCORES = "--lcores=0@0,(1,2)@%d" % (1 if CPUS > 1 else 0)
EAL = ["--no-huge", "-m", "512", "--no-pci", "--no-shconf", "--no-telemetry",
       "--log-level=*:error", LCORES]

# Corpus captures left out of the live comparison, and why.
SKIP = {
    "13-detection-filter.pcap": "its matches are 35 s apart: tcpreplay at full speed "
                                "changes what detection_filter sees",
    "19-linux-sll.pcap": "not Ethernet",
    "20-raw-ip.pcap": "not Ethernet",
    "21-pcapng.pcap": "the same packets as 01 (same flow): one capture, not two",
}


def sh(*cmd, check=True, **kw):
    return subprocess.run(list(cmd), check=check, capture_output=True, text=True, **kw)


def is_fragment_case(name):
    return "frag" in name


class Netns:
    """Namespaces joined by veth pairs; IPv6 off (no ND/MLD noise), links up."""

    def __init__(self, tag):
        self.prefix = "vt%d%s" % (os.getpid() % 10000, tag)
        self.names = []

    def add(self, name):
        full = self.prefix + name
        sh("ip", "netns", "add", full)
        self.names.append(full)
        sh("ip", "netns", "exec", full, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        sh("ip", "netns", "exec", full, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
        sh("ip", "-n", full, "link", "set", "lo", "up")
        return full

    def veth(self, ns_a, if_a, ns_b, if_b):
        sh("ip", "link", "add", if_a, "netns", ns_a, "type", "veth", "peer", "name", if_b,
           "netns", ns_b)
        for ns, ifc in ((ns_a, if_a), (ns_b, if_b)):
            sh("ip", "netns", "exec", ns, "sysctl", "-qw",
               "net.ipv6.conf.%s.disable_ipv6=1" % ifc, check=False)
            sh("ip", "-n", ns, "link", "set", ifc, "mtu", "1500", "up")
            sh("ip", "-n", ns, "link", "set", ifc, "promisc", "on")

    def close(self):
        for n in self.names:
            sh("ip", "netns", "del", n, check=False)


def read_eve(path):
    with open(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]


def alert_keys(events):
    return sorted((e["alert"]["signature_id"], e["src_ip"], e.get("src_port", 0), e["dest_ip"],
                   e.get("dest_port", 0)) for e in events if e["event_type"] == "alert")


def check_schema(test, eve):
    """Every record validates against Suricata's EVE schema (when the shared corpus is here)."""
    checker = os.path.join(SHARED, "acceptance", "check_eve.py")
    if not os.path.exists(checker):
        return
    c = subprocess.run(["/usr/bin/python3", checker, eve], capture_output=True, text=True)
    test.assertEqual(c.returncode, 0, c.stdout + c.stderr)


def write_config(path, **kw):
    """A sensor.yaml: the corpus' host-os-policy plus a capture section."""
    with open(REPLAY_CONFIG) as fh:
        base = fh.read()
    cap = kw["capture"]
    lines = [base, "sensor-id: netns-test", "capture:"]
    for k, v in cap.items():
        lines.append("  %s: %s" % (k, json.dumps(v)))
    lines.append("rules: %s" % json.dumps(kw.get("rules", [RULES])))
    lines.append("outputs:\n  eve: {path: %s}" % json.dumps(kw["eve"]))
    if kw.get("ips"):
        lines.append("ips:\n  enabled: true")
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")


class LiveTestBase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vigil-netns-test-")
        self.ns = Netns(self.id().rsplit(".", 1)[-1][:3])

    def tearDown(self):
        self.ns.close()
        shutil.rmtree(self.tmp)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def start(self, ns, config, extra=(), env=None):
        return subprocess.Popen(["ip", "netns", "exec", ns, SENSOR, "run", "--config", config,
                                 "--no-progress", *extra], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env)

    def wait_running(self, proc, timeout=30):
        """Reads stderr up to the 'running' line (capture is up)."""
        deadline = time.time() + timeout
        lines = []
        while time.time() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            if "vigil-sensor: running" in line:
                return "".join(lines)
        proc.kill()
        self.fail("sensor did not start:\n" + "".join(lines) + proc.stderr.read())

    def one_port(self):
        """A source namespace and the sensor's, joined by vsrc0 - vsen0."""
        src = self.ns.add("src")
        sen = self.ns.add("sen")
        self.ns.veth(src, "vsrc0", sen, "vsen0")
        return src, sen

    def finish(self, proc, timeout=60):
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, err

    def replay_alerts(self, pcaps, rules=None):
        eve = self.path("replay.json")
        keys = []
        for p in pcaps:  # each file alone, as a capture of its own
            r = sh(SENSOR, "replay", "--pcap", p, "--rules", *(rules or [RULES]), "--config",
                   REPLAY_CONFIG, "--eve", eve, "--no-progress", check=False)
            self.assertEqual(r.returncode, 0, r.stderr)
            keys += alert_keys(read_eve(eve))
        return sorted(keys)


class CaptureOnVeth(LiveTestBase):
    """tcpreplay in one namespace, the sensor on the other end of the veth."""

    def corpus(self, with_fragments):
        out = []
        for f in sorted(os.listdir(PCAPS)):
            if not f.endswith(".pcap") or f in SKIP:
                continue
            if is_fragment_case(f) and not with_fragments:
                continue
            out.append(os.path.join(PCAPS, f))
        return out

    def run_corpus(self, capture, pcaps, workers):
        src = self.ns.add("src")
        sen = self.ns.add("sen")
        self.ns.veth(src, "vsrc0", sen, "vsen0")
        eve = self.path("eve.json")
        cfg = self.path("sensor.yaml")
        capture = dict(capture, workers=workers)
        capture.setdefault("exit-on-idle-ms", 1500)
        write_config(cfg, capture=capture, eve=eve)
        proc = self.start(sen, cfg)
        started = self.wait_running(proc)
        # One tcpreplay per capture, in corpus order, at a rate the veth and the rings take.
        for p in pcaps:
            r = sh("ip", "netns", "exec", src, "tcpreplay", "-q", "--pps=4000", "-i", "vsrc0",
                   p, check=False)
            self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        rc, err = self.finish(proc)
        self.assertEqual(rc, 0, started + err)
        return read_eve(eve), started + err

    def check_corpus(self, capture, workers, with_fragments=False):
        pcaps = self.corpus(with_fragments)
        events, log = self.run_corpus(capture, pcaps, workers)
        want = self.replay_alerts(pcaps)
        got = alert_keys(events)
        self.assertGreater(len(want), 40)
        self.assertEqual(got, want, log)
        stats = [e for e in events if e["event_type"] == "stats"]
        self.assertEqual(len(stats), 1, "one stats record at exit")
        cap = stats[0]["stats"]["capture"]
        self.assertEqual(cap["kernel_packets"], stats[0]["stats"]["decoder"]["pkts"])
        self.assertEqual(cap["kernel_drops"], 0, log)
        self.assertNotIn("pcap_cnt", json.dumps(events))
        check_schema(self, self.path("eve.json"))
        self.assertIn("run summary (stopped: no packets for", log)
        return log

    def test_dpdk_af_packet_one_worker(self):
        log = self.check_corpus({
            "method": "dpdk",
            "eal": EAL + ["--vdev=net_af_packet0,iface=vsen0,qpairs=1,framecnt=4096"],
            "ports": ["net_af_packet0"]}, workers=1)
        self.assertIn("net_af_packet0", log)

    def test_dpdk_af_packet_two_workers(self):
        # Two queues: the kernel's fanout hash keeps both directions of a flow together.
        log = self.check_corpus({
            "method": "dpdk",
            "eal": EAL + ["--vdev=net_af_packet0,iface=vsen0,qpairs=2,framecnt=4096"],
            "ports": ["net_af_packet0"]}, workers=2)
        self.assertRegex(log, r"worker 1 +packets [1-9]")  # both workers had traffic

    def test_libpcap_one_worker_sees_fragments(self):
        # One handle, no fanout: fragments reach the sensor as sent, and its own
        # defragmentation (with the corpus' overlap policies) decides.
        self.check_corpus({"method": "pcap", "ports": ["vsen0"]}, workers=1, with_fragments=True)

    def test_libpcap_two_workers(self):
        log = self.check_corpus({"method": "pcap", "ports": ["vsen0"]}, workers=2)
        self.assertIn("libpcap", log)
        self.assertRegex(log, r"worker 1 +packets [1-9]")


class InlinePair(LiveTestBase):
    """src --veth-- [sensor: in <-> out] --veth-- dst: what reaches dst."""

    DROP_RULES = (
        'drop udp any any -> any 5353 (msg:"drop canary"; content:"VIGIL-DROP"; sid:1; rev:1;)\n'
        'alert udp any any -> any 53 (msg:"alert canary"; content:"VIGIL-ALERT"; sid:2; '
        'rev:1;)\n'
        'drop tcp any any -> any 80 (msg:"drop http canary"; content:"VIGIL-DROP-TCP"; '
        'sid:3; rev:1;)\n'
        'reject tcp any any -> any 8080 (msg:"reject canary"; content:"VIGIL-REJECT"; '
        'sid:4; rev:1;)\n')

    def traffic(self):
        sys.path.insert(0, "/usr/lib/python3/dist-packages")
        from scapy.all import Ether, IP, UDP, TCP, Raw, wrpcap  # noqa: E402
        a, b = "10.9.0.1", "10.9.0.2"
        eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        pk = []
        for i in range(5):
            pk.append(eth / IP(src=a, dst=b) / UDP(sport=4000 + i, dport=9999) /
                      Raw(b"allowed-%d" % i))
        pk.append(eth / IP(src=a, dst=b) / UDP(sport=5000, dport=5353) / Raw(b"before"))
        pk.append(eth / IP(src=a, dst=b) / UDP(sport=5000, dport=5353) / Raw(b"VIGIL-DROP"))
        pk.append(eth / IP(src=a, dst=b) / UDP(sport=5000, dport=5353) / Raw(b"after-drop"))
        pk.append(eth / IP(src=a, dst=b) / UDP(sport=6000, dport=53) / Raw(b"VIGIL-ALERT"))
        # A TCP connection whose request matches a drop rule: the rest of it is dropped too.
        c = eth / IP(src=a, dst=b)
        pk.append(c / TCP(sport=7000, dport=80, flags="S", seq=100))
        pk.append(eth / IP(src=b, dst=a) / TCP(sport=80, dport=7000, flags="SA", seq=500,
                                                ack=101))
        pk.append(c / TCP(sport=7000, dport=80, flags="A", seq=101, ack=501))
        pk.append(c / TCP(sport=7000, dport=80, flags="PA", seq=101, ack=501) /
                  Raw(b"GET /VIGIL-DROP-TCP HTTP/1.1\r\nHost: x\r\n\r\n"))
        pk.append(c / TCP(sport=7000, dport=80, flags="PA", seq=143, ack=501) /
                  Raw(b"tcp-after-drop"))
        # A segment a reject rule matches: dropped, and a reset goes back to the sender.
        pk.append(c / TCP(sport=7100, dport=8080, flags="PA", seq=1000, ack=5000) /
                  Raw(b"VIGIL-REJECT"))
        for i in range(5):
            pk.append(eth / IP(src=a, dst=b) / UDP(sport=4100 + i, dport=9999) /
                      Raw(b"allowed-late-%d" % i))
        path = self.path("inline.pcap")
        wrpcap(path, pk)
        return path

    def run_inline(self, capture, ips=True):
        src = self.ns.add("src")
        sen = self.ns.add("sen")
        dst = self.ns.add("dst")
        self.ns.veth(src, "vsrc0", sen, "vin0")
        self.ns.veth(sen, "vout0", dst, "vdst0")
        rules = self.path("ips.rules")
        with open(rules, "w") as fh:
            fh.write(self.DROP_RULES)
        eve = self.path("eve.json")
        cfg = self.path("sensor.yaml")
        write_config(cfg, capture=dict(capture, workers=1, **{"exit-on-idle-ms": 1500}),
                     eve=eve, rules=[rules], ips=ips)
        pcap = self.traffic()
        out = self.path("far-end.pcap")
        dump = subprocess.Popen(["ip", "netns", "exec", dst, "tcpdump", "-U", "-n", "-i",
                                 "vdst0", "-w", out], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # tcpdump attached
        proc = self.start(sen, cfg)
        started = self.wait_running(proc)
        r = sh("ip", "netns", "exec", src, "tcpreplay", "-q", "--pps=200", "-i", "vsrc0", pcap,
               check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        rc, err = self.finish(proc)
        time.sleep(0.3)
        dump.send_signal(signal.SIGINT)
        dump.wait(timeout=10)
        self.assertEqual(rc, 0, started + err)
        seen = sh("tcpdump", "-nr", out, "-A").stdout
        return seen, read_eve(eve), started + err

    def check(self, capture):
        seen, events, log = self.run_inline(capture)
        for i in range(5):
            self.assertIn("allowed-%d" % i, seen, log)
            self.assertIn("allowed-late-%d" % i, seen, log)
        self.assertIn("before", seen)
        self.assertIn("VIGIL-ALERT", seen)
        for gone in ("VIGIL-DROP", "after-drop", "tcp-after-drop", "VIGIL-REJECT"):
            self.assertNotIn(gone, seen, log)
        actions = sorted((e["alert"]["signature_id"], e["alert"]["action"])
                         for e in events if e["event_type"] == "alert")
        self.assertEqual(actions, [(1, "blocked"), (2, "allowed"), (3, "blocked"), (4, "blocked")])
        self.assertRegex(log, r"ips +5 packets dropped \(2 of them in flows already dropped\)")
        stats = [e for e in events if e["event_type"] == "stats"][0]["stats"]
        # 20 packets in: 15 forwarded, 5 dropped
        self.assertEqual(stats["ips"], {"accepted": 15, "blocked": 5})
        check_schema(self, self.path("eve.json"))
        return log

    def test_dpdk_af_packet_inline(self):
        log = self.check({
            "method": "dpdk",
            "eal": EAL + ["--vdev=net_af_packet0,iface=vin0", "--vdev=net_af_packet1,iface=vout0"],
            "inline-pairs": [["net_af_packet0", "net_af_packet1"]]})
        self.assertRegex(log, r"net_af_packet0 .* forwarded 15 .* dropped 5  rejects 1 ")

    def test_libpcap_inline(self):
        log = self.check({"method": "pcap", "inline-pairs": [["vin0", "vout0"]]})
        self.assertRegex(log, r"vin0 .* forwarded 15 .* dropped 5  rejects 1 ")


class Lifecycle(LiveTestBase):

    def test_sigusr1_dumps_sighup_carries_on_sigterm_stops_cleanly(self):
        src, sen = self.one_port()
        eve = self.path("eve.json")
        cfg = self.path("sensor.yaml")
        write_config(cfg, eve=eve, capture={
            "method": "dpdk", "eal": EAL + ["--vdev=net_af_packet0,iface=vsen0"],
            "ports": ["net_af_packet0"], "workers": 2})
        # two workers on one af_packet queue pair: refused, with the reason
        r = sh(SENSOR, "run", "--config", cfg, check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("net_af_packet0", r.stderr)
        write_config(cfg, eve=eve, capture={
            "method": "dpdk", "eal": EAL + ["--vdev=net_af_packet0,iface=vsen0"],
            "ports": ["net_af_packet0"], "workers": 1})
        proc = self.start(sen, cfg)
        log = self.wait_running(proc)
        # SIGHUP (reload, not built yet) must not take detection down: the traffic sent
        # after it is still inspected.
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        self.assertIsNone(proc.poll(), "SIGHUP must not stop the sensor")
        sh("ip", "netns", "exec", src, "tcpreplay", "-q", "-i", "vsrc0",
           os.path.join(PCAPS, "01-http-established.pcap"))
        time.sleep(0.5)
        proc.send_signal(signal.SIGUSR1)
        time.sleep(0.5)
        self.assertIsNone(proc.poll(), "SIGUSR1 must not stop the sensor")
        proc.send_signal(signal.SIGTERM)
        rc, err = self.finish(proc)
        log += err
        self.assertEqual(rc, 0, log)
        # SIGHUP reloaded the same rules; detection went on (the alerts below).
        self.assertIn("vigil-sensor: reload complete: every worker inspects with rule set", log)
        self.assertIn("vigil-sensor: counters", log)
        self.assertRegex(log, r"worker 0 +packets 10")
        self.assertIn("run summary (stopped: SIGTERM)", log)
        events = read_eve(eve)
        self.assertEqual(sorted(e["alert"]["signature_id"] for e in events
                                if e["event_type"] == "alert"), [9000001, 9000002])
        self.assertEqual(events[-1]["event_type"], "stats")

    def test_a_restarted_run_appends_to_its_eve(self):
        """A service restarted (by systemd or mgmtd) keeps the alerts of its earlier runs."""
        src, sen = self.one_port()
        eve = self.path("eve.json")
        cfg = self.path("sensor.yaml")
        write_config(cfg, eve=eve, capture={
            "method": "pcap", "ports": ["vsen0"], "workers": 1, "exit-on-idle-ms": 1500})
        for _ in range(2):
            proc = self.start(sen, cfg)
            log = self.wait_running(proc)
            sh("ip", "netns", "exec", src, "tcpreplay", "-q", "-i", "vsrc0",
               os.path.join(PCAPS, "01-http-established.pcap"))
            rc, err = self.finish(proc)
            self.assertEqual(rc, 0, log + err)
        alerts = [e for e in read_eve(eve) if e["event_type"] == "alert"]
        self.assertEqual(sorted(e["alert"]["signature_id"] for e in alerts),
                         [9000001, 9000001, 9000002, 9000002])

    def test_watchdog_reports_a_stalled_worker(self):
        src, sen = self.one_port()
        eve = self.path("eve.json")
        cfg = self.path("sensor.yaml")
        write_config(cfg, eve=eve, capture={
            "method": "pcap", "ports": ["vsen0"], "workers": 1, "watchdog-ms": 300,
            "exit-on-idle-ms": 2500})
        # Test hook (a hidden option): worker 0 holds its first burst for 1.5 s.
        proc = self.start(sen, cfg, extra=["--test-stall-ms", "1500"])
        log = self.wait_running(proc)
        sh("ip", "netns", "exec", src, "tcpreplay", "-q", "-i", "vsrc0",
           os.path.join(PCAPS, "01-http-established.pcap"))
        rc, err = self.finish(proc)
        log += err
        self.assertEqual(rc, 0, log)
        self.assertRegex(log, r"watchdog: worker 0 has made no progress for [0-9]+ ms")
        self.assertIn("watchdog: worker 0 is making progress again", log)
        self.assertIn("watchdog   1 stall(s) reported", log)
        # nothing lost while it was stuck
        self.assertEqual(len([e for e in read_eve(eve) if e["event_type"] == "alert"]), 2)



class SystemdNotify(LiveTestBase):
    """`run` as systemd starts it (Type=notify, WatchdogSec): a notify socket of the test's."""

    def test_ready_pings_only_while_workers_progress_and_stopping(self):
        import socket
        import threading
        src, sen = self.one_port()
        eve = self.path("eve.json")
        cfg = self.path("sensor.yaml")
        write_config(cfg, eve=eve, capture={
            "method": "pcap", "ports": ["vsen0"], "workers": 1, "watchdog-ms": 300})
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(self.path("notify.sock"))
        self.addCleanup(sock.close)
        sock.settimeout(0.2)
        got = []  # (time, message)
        done = threading.Event()

        def receive():
            while not done.is_set():
                try:
                    got.append((time.time(), sock.recv(512).decode()))
                except socket.timeout:
                    pass
        reader = threading.Thread(target=receive)
        reader.start()
        self.addCleanup(reader.join)
        self.addCleanup(done.set)
        # WatchdogSec=0.6 s: a ping every 0.3 s while the worker serves its queue; the test
        # hook holds worker 0's first burst for 2 s (a hung worker).
        env = dict(os.environ, NOTIFY_SOCKET=self.path("notify.sock"), WATCHDOG_USEC="600000")
        proc = self.start(sen, cfg, extra=["--test-stall-ms", "2000"], env=env)
        log = self.wait_running(proc)
        time.sleep(1.2)
        msgs = [m for (_, m) in got]
        self.assertTrue(msgs and msgs[0].startswith("READY=1\nSTATUS=inspecting: "), msgs)
        idle_pings = [t for (t, m) in got if m == "WATCHDOG=1"]
        self.assertGreaterEqual(len(idle_pings), 3, msgs)
        stalled_at = time.time()
        sh("ip", "netns", "exec", src, "tcpreplay", "-q", "-i", "vsrc0",
           os.path.join(PCAPS, "01-http-established.pcap"))
        time.sleep(3.0)
        proc.send_signal(signal.SIGTERM)
        rc, err = self.finish(proc)
        done.set()
        reader.join()
        log += err
        self.assertEqual(rc, 0, log)
        pings = [t for (t, m) in got if m == "WATCHDOG=1"]
        # While the worker was stuck the pings stopped for longer than WatchdogSec (systemd
        # would have restarted the sensor); before and after, none is late.
        gaps = [b - a for a, b in zip(pings, pings[1:]) if a >= stalled_at - 0.5]
        self.assertTrue(gaps, pings)
        self.assertGreater(max(gaps), 1.4, gaps)
        self.assertLess(max(b - a for a, b in zip(idle_pings, idle_pings[1:])), 0.5)
        self.assertGreater(pings[-1], stalled_at + 2.0, "pings resumed after the stall")
        self.assertRegex(log, r"watchdog: worker 0 has made no progress for [0-9]+ ms")
        self.assertEqual(got[-1][1], "STOPPING=1\nSTATUS=stopping: SIGTERM")



def write_udp_pcap(path, payloads, sport=40000, dport=5353):
    """Ethernet/IPv4/UDP frames 10.9.0.1:sport -> 10.9.0.2:dport, one per payload (one flow)."""
    import struct
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, pl in enumerate(payloads):
            udp = struct.pack("!HHHH", sport, dport, 8 + len(pl), 0) + pl
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xffff, 0, 64, 17, 0,
                             bytes([10, 9, 0, 1]), bytes([10, 9, 0, 2]))
            words = struct.unpack("!10H", ip)
            c = sum(words)
            c = (c & 0xffff) + (c >> 16)
            c = (c & 0xffff) + (c >> 16)
            ip = ip[:10] + struct.pack("!H", ~c & 0xffff) + ip[12:]
            frame = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x08\x00" + ip + udp
            f.write(struct.pack("<IIII", 1700000000 + i // 1000, (i % 1000) * 1000, len(frame),
                                len(frame)))
            f.write(frame)


class StderrLines:
    """Collects a process's stderr lines on a thread, so a test can wait for one."""

    def __init__(self, proc, first=""):
        import threading
        self.lines = first.splitlines(keepends=True)
        self.proc = proc
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line)

    def text(self):
        return "".join(self.lines)

    def wait_for(self, needle, count=1, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.text().count(needle) >= count:
                return
            time.sleep(0.05)
        raise AssertionError("no %r (x%d) on stderr:\n%s" % (needle, count, self.text()))


class Reload(LiveTestBase):
    """SIGHUP swaps the rule set of a running sensor between bursts."""

    RULES_A = (
        'alert udp any any -> any any (msg:"ping, old rule"; content:"PING"; sid:1001; rev:1;)\n'
        'alert udp any any -> any any (msg:"set bit"; content:"SETBIT"; flowbits:set,seen; '
        'flowbits:noalert; sid:1003; rev:1;)\n')
    RULES_B = (
        'alert udp any any -> any any (msg:"ping, new rule"; content:"PING"; sid:1002; rev:1;)\n'
        'alert udp any any -> any any (msg:"set bit"; content:"SETBIT"; flowbits:set,seen; '
        'flowbits:noalert; sid:1003; rev:1;)\n'
        'alert udp any any -> any any (msg:"bit seen"; content:"CHECK"; flowbits:isset,seen; '
        'sid:1004; rev:1;)\n')
    RULES_C = (
        'alert udp any any -> any any (msg:"ping, third set"; content:"PING"; sid:1005; rev:1;)\n')

    def send(self, ns, name, payloads, pps=4000):
        pcap = self.path(name)
        write_udp_pcap(pcap, payloads)
        r = sh("ip", "netns", "exec", ns, "tcpreplay", "-q", "--pps=%d" % pps, "-i", "vsrc0",
               pcap, check=False)
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)

    def test_sighup_swaps_rules_mid_traffic_without_losing_a_packet(self):
        src, sen = self.one_port()
        rules = self.path("site.rules")
        with open(rules, "w") as f:
            f.write(self.RULES_A)
        eve = self.path("eve.json")
        cfg = self.path("sensor.yaml")
        write_config(cfg, eve=eve, rules=[rules], capture={
            "method": "dpdk", "eal": EAL + ["--vdev=net_af_packet0,iface=vsen0"],
            "ports": ["net_af_packet0"], "workers": 1})
        proc = self.start(sen, cfg)
        err = StderrLines(proc, self.wait_running(proc))
        try:
            # Set A: 200 pings alert as 1001; the flowbit is set on the flow.
            self.send(src, "a.pcap", [b"PING %d" % i for i in range(200)] + [b"SETBIT"])

            def rewrite_and_hup(text, n):
                tmp = rules + ".new"
                with open(tmp, "w") as f:
                    f.write(text)
                os.replace(tmp, rules)
                proc.send_signal(signal.SIGHUP)
                err.wait_for("vigil-sensor: reload", count=n)

            time.sleep(0.5)
            rewrite_and_hup(self.RULES_B, 1)
            err.wait_for("reload complete", 1)
            # Set B: the flowbit set under A is seen (1004); pings alert as 1002 only.
            self.send(src, "b.pcap", [b"CHECK"] + [b"PING %d" % i for i in range(200)])
            # A broken set is refused; B keeps alerting.
            time.sleep(0.5)
            rewrite_and_hup("alert udp any any -> any any (msg:\"broken\"; content:; sid:7;)\n", 2)
            err.wait_for("reload refused")
            self.send(src, "b2.pcap", [b"PING %d" % i for i in range(100)])
            # In the middle of 8000 packets at 4000/s: to set C.
            with open(rules, "w") as f:
                f.write(self.RULES_C)
            pcap = self.path("c.pcap")
            write_udp_pcap(pcap, [b"PING %d" % i for i in range(8000)])
            replay = subprocess.Popen(["ip", "netns", "exec", src, "tcpreplay", "-q",
                                       "--pps=4000", "-i", "vsrc0", pcap],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            time.sleep(1.0)
            proc.send_signal(signal.SIGHUP)
            self.assertEqual(replay.wait(timeout=60), 0)
            err.wait_for("reload complete", 2)
            time.sleep(0.5)
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=60), 0, err.text())
        finally:
            if proc.poll() is None:
                proc.kill()
        err.t.join(timeout=10)
        log = err.text()
        events = read_eve(eve)
        by_sid = {}
        for e in events:
            if e["event_type"] == "alert":
                by_sid[e["alert"]["signature_id"]] = by_sid.get(e["alert"]["signature_id"], 0) + 1
        sent = 201 + 201 + 100 + 8000
        stats = [e for e in events if e["event_type"] == "stats"][-1]["stats"]
        self.assertEqual(stats["capture"]["kernel_drops"], 0, log)
        self.assertEqual(stats["decoder"]["pkts"], sent, log)
        self.assertEqual(stats["detect"]["engines"][0]["rules_loaded"], 1)
        self.assertIn("last_reload", stats["detect"]["engines"][0])
        # Alerts of removed rules stop at the swap, of added ones start there; the flowbit set
        # under A is seen under B.
        self.assertEqual(by_sid.get(1001), 200, by_sid)
        self.assertEqual(by_sid.get(1004), 1, by_sid)
        self.assertNotIn(7, by_sid)
        # Each of the 8000 pings of the last run alerted once, under B or under C.
        self.assertEqual(by_sid.get(1002, 0) + by_sid.get(1005, 0), 200 + 100 + 8000, by_sid)
        self.assertGreater(by_sid.get(1005, 0), 0, by_sid)
        self.assertGreater(by_sid.get(1002, 0), 300, by_sid)
        # Every packet was inspected by exactly one rule set, and the counts agree with the
        # alerts each set raised.
        ids = [int(x) for x in re.findall(r"reload: rule set (\d+) -> (\d+)", log)[0]]
        ids.append(int(re.findall(r"reload: rule set \d+ -> (\d+)", log)[1]))
        m = re.search(r"packets inspected by rule set:((?: \d+=\d+)+)", log.split("run summary")[1])
        per_set = {int(k): int(v) for k, v in re.findall(r"(\d+)=(\d+)", m.group(1))}
        self.assertEqual(sum(per_set.values()), sent, log)
        self.assertEqual(per_set[ids[0]], 201, log)                      # A: pings + SETBIT
        self.assertEqual(per_set[ids[1]], by_sid[1002] + 1, log)         # B: pings + CHECK
        self.assertEqual(per_set[ids[2]], by_sid[1005], log)             # C: pings
        self.assertIn("rule set %d freed" % ids[0], log)
        self.assertRegex(log, r"longest switch held a worker \d+\.\d us")
        self.assertIn("2 reload(s), 1 refused", log)
        check_schema(self, eve)


class ConfigErrors(LiveTestBase):
    def config(self, text):
        p = self.path("sensor.yaml")
        with open(p, "w") as fh:
            fh.write(text)
        return p

    def test_errors_name_file_line_and_key(self):
        cases = [
            ("capture:\n  method: dpdk\n  workerz: 2\n", ":3: unknown key 'capture.workerz'"),
            ("capture:\n  method: netmap\n", ":2: capture.method: expected 'dpdk' or 'pcap'"),
            ("capture:\n  method: dpdk\n  overload-policy: maybe\n",
             ":3: capture.overload-policy: expected 'none', 'drop' or 'pass'"),
            ("capture:\n  method: dpdk\n  rx-descriptors: 1000\n",
             ":3: capture.rx-descriptors: must be a power of two"),
            ("capture:\n  method: dpdk\n  ports: [a, a]\n", "port 'a' is listed twice"),
            ("capture:\n  method: pcap\n  eal: [--no-huge]\n  ports: [x]\n",
             ":3: capture.eal: EAL arguments apply to method 'dpdk' only"),
            ("capture:\n  method: dpdk\n  eal: [--no-huge]\nrules: [%s]\n" % RULES,
             "no ports to capture from"),
            ("capture:\n  method: dpdk\n  ports: [p]\nrules: [%s]\n" % RULES,
             "capture.eal: method 'dpdk' needs EAL arguments"),
        ]
        for text, want in cases:
            p = self.config(text)
            for cmd in (["run"], ["check"]):
                r = sh(SENSOR, *cmd, "--config", p, check=False)
                self.assertEqual(r.returncode, 2, (cmd, text, r.stderr))
                self.assertIn(want, r.stderr, (cmd, text))
                self.assertIn(p, r.stderr)

    def test_check_accepts_a_good_run_config(self):
        p = self.config("capture:\n  method: dpdk\n  eal: [--no-huge, -m, '512', --no-pci]\n"
                        "  ports: [net_pcap0]\n  workers: 1\nrules: [%s]\n"
                        "outputs:\n  eve: {path: /tmp/x.json}\n" % RULES)
        r = sh(SENSOR, "check", "--config", p, check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("config: %s ok" % p, r.stderr)

    def test_no_hugepages_is_explained(self):
        with open("/proc/meminfo") as fh:
            if "HugePages_Total:       0" not in fh.read():
                self.skipTest("this machine has hugepages")
        p = self.config("capture:\n  method: dpdk\n  eal: [--no-pci, -l, '0-1']\n"
                        "  ports: [net_pcap0]\nrules: [%s]\noutputs:\n  eve: {path: %s}\n"
                        % (RULES, self.path("eve.json")))
        r = sh(SENSOR, "run", "--config", p, check=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("no hugepages are reserved", r.stderr)
        self.assertIn("--no-huge", r.stderr)

    def test_unknown_port_lists_what_the_eal_found(self):
        p = self.config("capture:\n  method: dpdk\n  eal: %s\n  ports: ['0000:03:00.0']\n"
                        "rules: [%s]\noutputs:\n  eve: {path: %s}\n"
                        % (json.dumps(EAL + ["--vdev=net_null0"]), RULES, self.path("e.json")))
        r = sh(SENSOR, "run", "--config", p, check=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("'0000:03:00.0' not found (ports the EAL probed: net_null0)", r.stderr)

    def test_missing_interface_for_libpcap(self):
        p = self.config("capture:\n  method: pcap\n  ports: [no-such-if0]\n"
                        "rules: [%s]\noutputs:\n  eve: {path: %s}\n"
                        % (RULES, self.path("e.json")))
        r = sh(SENSOR, "run", "--config", p, check=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("no-such-if0", r.stderr)


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("live_netns_test: needs root (network namespaces)", file=sys.stderr)
        sys.exit(1)
    unittest.main(verbosity=2)
