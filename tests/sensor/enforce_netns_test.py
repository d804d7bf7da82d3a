#!/usr/bin/env python3
"""nftables enforcement against the real kernel, in network namespaces this test creates (the
host's ruleset is never touched):

- `replay --ips --nft`: the source of a drop verdict lands in block4/block6 with the rule's
  timeout; traffic from it is really dropped (the rule's counter grows, the packets do not
  arrive); when the timeout expires it passes again; an allowlisted source is never blocked;
- `vigil-sensor blocks list/add/remove` on the kernel's sets;
- `run`: a drop verdict on an inline pair becomes a block; `nft delete table inet vigil` is
  undone within 2 s with the block back;
- without CAP_NET_ADMIN detection and alerts go on and enforcement is reported failed.

Needs root, ip, nft (to read counters and to tamper), tcpreplay. Environment: VIGIL_SENSOR,
VIGIL_ROOT.
"""
import json
import re
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

SENSOR = os.path.abspath(os.environ.get("VIGIL_SENSOR", "build/sensor/vigil-sensor"))
ROOT = os.path.abspath(os.environ.get("VIGIL_ROOT", os.getcwd()))

RULES = (
    'drop udp any any -> any 5353 (msg:"drop canary"; content:"VIGIL-DROP"; sid:1; rev:1;)\n'
    'drop udp any any -> any 5354 (msg:"drop canary, short block"; content:"VIGIL-DROP"; '
    'metadata: vigil_block_timeout 2; sid:2; rev:1;)\n'
    'alert udp any any -> any 53 (msg:"alert canary"; content:"VIGIL-ALERT"; sid:3; rev:1;)\n')

ATTACKER = "198.51.100.7"     # blocked by sid 1 (configured timeout)
SHORT = "198.51.100.8"        # blocked by sid 2 (vigil_block_timeout 2)
FRIEND = "203.0.113.9"        # allowlisted
ATTACKER6 = "2001:db8::66"    # blocked by sid 1, IPv6
SENSOR_IP = "198.51.100.1"


def sh(*cmd, check=True, **kw):
    return subprocess.run(list(cmd), check=check, capture_output=True, text=True, **kw)


def in_ns(ns, *cmd, check=True):
    return sh("ip", "netns", "exec", ns, *cmd, check=check)


def read_eve(path):
    with open(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]


class EnforceBase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vigil-enforce-test-")
        tag = "ve%d%s" % (os.getpid() % 10000, self.id().rsplit(".", 1)[-1][5:8])
        self.ns_src = tag + "s"
        self.ns_sen = tag + "n"
        for ns in (self.ns_src, self.ns_sen):
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        # src (attacker side, several source addresses) <-> sen (the protected host / sensor)
        sh("ip", "link", "add", "vsrc0", "netns", self.ns_src, "type", "veth", "peer", "name",
           "vsen0", "netns", self.ns_sen)
        for ns, ifc in ((self.ns_src, "vsrc0"), (self.ns_sen, "vsen0")):
            sh("ip", "-n", ns, "link", "set", ifc, "up")
        for a in (ATTACKER, SHORT, FRIEND, "198.51.100.20"):
            sh("ip", "-n", self.ns_src, "addr", "add", a + "/32", "dev", "vsrc0")
        sh("ip", "-n", self.ns_src, "addr", "add", ATTACKER6 + "/64", "dev", "vsrc0", "nodad")
        sh("ip", "-n", self.ns_sen, "addr", "add", SENSOR_IP + "/24", "dev", "vsen0")
        sh("ip", "-n", self.ns_sen, "addr", "add", "203.0.113.1/24", "dev", "vsen0")
        sh("ip", "-n", self.ns_sen, "addr", "add", "2001:db8::1/64", "dev", "vsen0", "nodad")
        sh("ip", "-n", self.ns_src, "route", "add", "198.51.100.0/24", "dev", "vsrc0")
        sh("ip", "-n", self.ns_src, "route", "add", "203.0.113.0/24", "dev", "vsrc0")
        sh("ip", "-n", self.ns_sen, "route", "add", "198.51.100.0/24", "dev", "vsen0", check=False)
        self.rules = self.path("ips.rules")
        with open(self.rules, "w") as fh:
            fh.write(RULES)

    def tearDown(self):
        for ns in (self.ns_src, self.ns_sen):
            sh("ip", "netns", "del", ns, check=False)
        shutil.rmtree(self.tmp)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def config(self, extra_capture=None, timeout=30, allow=(FRIEND + "/32",)):
        p = self.path("sensor.yaml")
        with open(p, "w") as fh:
            fh.write("sensor-id: enforce-test\n")
            if extra_capture:
                fh.write("capture:\n")
                for k, v in extra_capture.items():
                    fh.write("  %s: %s\n" % (k, json.dumps(v)))
            fh.write("rules: [%s]\n" % json.dumps(self.rules))
            fh.write("outputs:\n  eve: {path: %s}\n" % json.dumps(self.path("eve.json")))
            fh.write("ips:\n  enabled: true\n  nft:\n    table: vigil\n"
                     "    block-timeout-s: %d\n    allowlist: %s\n" % (timeout, json.dumps(
                         list(allow))))
        return p

    def traffic_pcap(self, name, packets):
        sys.path.insert(0, "/usr/lib/python3/dist-packages")
        from scapy.all import Ether, IP, IPv6, UDP, Raw, wrpcap  # noqa: E402
        pk = []
        for src, dport, payload in packets:
            ip = IPv6(src=src, dst="2001:db8::1") if ":" in src else IP(src=src, dst=SENSOR_IP)
            pk.append(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / ip /
                      UDP(sport=40000, dport=dport) / Raw(payload))
        path = self.path(name)
        wrpcap(path, pk)
        return path

    def blocks(self):
        r = in_ns(self.ns_sen, SENSOR, "blocks", "list")
        rows = {}
        for line in r.stdout.splitlines()[1:]:
            m = re.match(r"^(\S+)\s+(.*?)\s+((?:\d+h )?(?:\d+m )?\d+s|no timeout)$", line)
            self.assertIsNotNone(m, line)
            rows[m.group(1)] = (m.group(2), m.group(3))  # rule, time left
        return rows

    def probe(self, src, port=9999):
        """One UDP datagram from `src` (in the source namespace) to the sensor namespace:
        True when it arrived."""
        listener = subprocess.Popen(
            ["ip", "netns", "exec", self.ns_sen, "/usr/bin/python3", "-c",
             "import socket,sys\n"
             "fam=socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET\n"
             "s=socket.socket(fam,socket.SOCK_DGRAM)\n"
             "s.bind(('::' if fam==socket.AF_INET6 else '0.0.0.0',%d))\n"
             "s.settimeout(1.0)\n"
             "print('ready',flush=True)\n"
             "try:\n  d,a=s.recvfrom(100); print('got',a[0])\n"
             "except socket.timeout: print('none')\n" % port, src],
            stdout=subprocess.PIPE, text=True)
        assert listener.stdout.readline().strip() == "ready"
        dst = "2001:db8::1" if ":" in src else SENSOR_IP
        fam = "socket.AF_INET6" if ":" in src else "socket.AF_INET"
        in_ns(self.ns_src, "/usr/bin/python3", "-c",
              "import socket\ns=socket.socket(%s,socket.SOCK_DGRAM)\n"
              "s.bind(('%s',0))\ns.sendto(b'probe',('%s',%d))\n" % (fam, src, dst, port))
        out = listener.communicate(timeout=10)[0]
        return "got" in out

    def counter(self, setname):
        r = in_ns(self.ns_sen, "nft", "-j", "list", "chain", "inet", "vigil", "prerouting")
        for item in json.loads(r.stdout)["nftables"]:
            rule = item.get("rule")
            if not rule:
                continue
            exprs = rule["expr"]
            if any(e.get("match", {}).get("right") == "@" + setname for e in exprs):
                for e in exprs:
                    if "counter" in e:
                        return e["counter"]["packets"]
        self.fail("no rule for @%s" % setname)


class ReplayNft(EnforceBase):
    def test_blocks_drop_sources_really_and_expire(self):
        pcap = self.traffic_pcap("attack.pcap", [
            (ATTACKER, 5353, b"VIGIL-DROP"), (SHORT, 5354, b"VIGIL-DROP"),
            (FRIEND, 5353, b"VIGIL-DROP"), (ATTACKER6, 5353, b"VIGIL-DROP"),
            ("198.51.100.20", 53, b"VIGIL-ALERT")])
        # before: everyone gets through
        self.assertTrue(self.probe(ATTACKER))
        r = in_ns(self.ns_sen, SENSOR, "replay", "--pcap", pcap, "--config", self.config(),
                  "--ips", "--nft", "--stats", "--no-progress", check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, r"nftables +enforcing; 4 block request\(s\) from 4 drop "
                                   r"record\(s\): 3 added .* 1 allowlisted")
        events = read_eve(self.path("eve.json"))
        self.assertEqual(sorted(e["alert"]["signature_id"] for e in events
                                if e["event_type"] == "alert" and
                                e["alert"]["action"] == "blocked"), [1, 1, 1, 2])
        self.assertEqual(len([e for e in events if e["event_type"] == "drop"]), 4)
        rows = self.blocks()
        self.assertEqual(sorted(rows), sorted([ATTACKER, SHORT, ATTACKER6]), rows)
        self.assertEqual(rows[ATTACKER][0], "sid 1")
        self.assertEqual(rows[SHORT][0], "sid 2")
        self.assertNotIn(FRIEND, rows)
        # really dropped: the probe does not arrive and the rule's counter grows
        before = self.counter("block4")
        self.assertFalse(self.probe(ATTACKER))
        self.assertGreater(self.counter("block4"), before)
        before6 = self.counter("block6")
        self.assertFalse(self.probe(ATTACKER6))
        self.assertGreater(self.counter("block6"), before6)
        self.assertTrue(self.probe(FRIEND), "allowlisted source must pass")
        self.assertTrue(self.probe("198.51.100.20"), "an alert-only source must pass")
        # sid 2's metadata gives 2 s: by now (> 2 s) it has expired and passes again
        deadline = time.time() + 5
        while time.time() < deadline and SHORT in self.blocks():
            time.sleep(0.2)
        self.assertNotIn(SHORT, self.blocks())
        self.assertTrue(self.probe(SHORT))
        self.assertFalse(self.probe(ATTACKER))  # 30 s block still on


class BlocksCli(EnforceBase):
    def test_list_on_a_host_that_never_blocked_is_empty(self):
        r = in_ns(self.ns_sen, SENSOR, "blocks", "list", check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split(), ["ADDRESS", "RULE", "TIME", "LEFT"])
        self.assertIn("table inet vigil does not exist", r.stderr)
        # Listing creates nothing.
        self.assertEqual(in_ns(self.ns_sen, "nft", "list", "tables").stdout, "")
        # A damaged table (a set deleted by hand) is an error that says so.
        in_ns(self.ns_sen, SENSOR, "blocks", "add", ATTACKER)
        in_ns(self.ns_sen, "nft", "delete", "rule", "inet", "vigil", "prerouting", "handle",
              self.rule_handle("block6"))
        in_ns(self.ns_sen, "nft", "delete", "set", "inet", "vigil", "block6")
        r = in_ns(self.ns_sen, SENSOR, "blocks", "list", check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("set block6 missing in table inet vigil: the table is damaged", r.stderr)

    def rule_handle(self, setname):
        out = in_ns(self.ns_sen, "nft", "-a", "list", "chain", "inet", "vigil",
                    "prerouting").stdout
        m = re.search(r"@%s .*# handle (\d+)" % setname, out)
        self.assertIsNotNone(m, out)
        return m.group(1)

    def test_list_add_remove(self):
        r = in_ns(self.ns_sen, SENSOR, "blocks", "add", ATTACKER, ATTACKER6, "--timeout", "60")
        self.assertIn("2 added", r.stderr)
        rows = self.blocks()
        self.assertEqual(sorted(rows), sorted([ATTACKER, ATTACKER6]))
        self.assertEqual(rows[ATTACKER][0], "manual (vigil-sensor blocks add)")
        left = rows[ATTACKER][1]  # "59s"
        self.assertRegex(left, r"^[0-9]+s$")
        self.assertLessEqual(int(left[:-1]), 60)
        self.assertGreater(int(left[:-1]), 50)
        self.assertFalse(self.probe(ATTACKER))
        r = in_ns(self.ns_sen, SENSOR, "blocks", "remove", ATTACKER)
        self.assertIn("1 removed", r.stderr)
        self.assertEqual(sorted(self.blocks()), [ATTACKER6])
        self.assertTrue(self.probe(ATTACKER))
        r = in_ns(self.ns_sen, SENSOR, "blocks", "remove", "192.0.2.99", check=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("192.0.2.99", r.stderr)
        r = in_ns(self.ns_sen, SENSOR, "blocks", "add", "not-an-ip", check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("'not-an-ip' is not an IPv4 or IPv6 address", r.stderr)


class LiveTamper(EnforceBase):
    def test_run_blocks_and_restores_a_deleted_table_within_2s(self):
        # The sensor runs on the host it protects: libpcap on vsen0 (an IDS port: the packet
        # itself passes, alert action "allowed"), and the drop verdict blocks its source in
        # this host's nftables.
        cfg = self.config(extra_capture={"method": "pcap", "ports": ["vsen0"], "workers": 1})
        proc = subprocess.Popen(["ip", "netns", "exec", self.ns_sen, SENSOR, "run", "--config",
                                 cfg, "--no-progress"], stderr=subprocess.PIPE, text=True)
        log = ""
        try:
            deadline = time.time() + 30
            while "vigil-sensor: running" not in log and time.time() < deadline:
                log += proc.stderr.readline()
            pcap = self.traffic_pcap("attack.pcap", [(ATTACKER, 5353, b"VIGIL-DROP")])
            t_send = time.time()
            in_ns(self.ns_src, "tcpreplay", "-q", "-i", "vsrc0", pcap)
            deadline = time.time() + 5
            while ATTACKER not in self.blocks() and time.time() < deadline:
                time.sleep(0.02)
            self.assertIn(ATTACKER, self.blocks())
            print("block in the kernel %.0f ms after the packet was sent"
                  % ((time.time() - t_send) * 1000), file=sys.stderr)
            self.assertFalse(self.probe(ATTACKER))
            in_ns(self.ns_sen, "nft", "delete", "table", "inet", "vigil")
            t0 = time.time()
            back = False
            while time.time() - t0 < 2.0:
                r = in_ns(self.ns_sen, "nft", "list", "table", "inet", "vigil", check=False)
                if r.returncode == 0 and ATTACKER in r.stdout:
                    back = True
                    break
                time.sleep(0.05)
            self.assertTrue(back, "table not restored with its block within 2 s")
            print("table restored in %.2f s" % (time.time() - t0), file=sys.stderr)
            self.assertEqual(self.blocks()[ATTACKER][0], "sid 1")  # restored as it was
            self.assertFalse(self.probe(ATTACKER))
            # a flushed chain (rules gone, sets kept) is repaired too
            in_ns(self.ns_sen, "nft", "flush", "chain", "inet", "vigil", "prerouting")
            time.sleep(1.6)
            self.assertFalse(self.probe(ATTACKER))
        finally:
            proc.terminate()
            log += proc.communicate(timeout=30)[1]
        self.assertEqual(proc.returncode, 0, log)
        for line in log.splitlines():  # the sensor's own measurement, for the record
            if "verdict to kernel" in line:
                print(line.strip(), file=sys.stderr)
        self.assertIn("verdict to kernel: p50", log)
        self.assertIn("enforcement tampered with: table inet vigil missing", log)
        self.assertRegex(log, r"nftables +enforcing; 1 block request\(s\) .* 2 repair\(s\)")
        events = read_eve(self.path("eve.json"))
        actions = [e["alert"]["action"] for e in events if e["event_type"] == "alert"]
        self.assertEqual(actions, ["allowed"])  # an IDS port: the packet itself passed
        self.assertIn(ATTACKER, self.blocks())  # keep-on-exit (default): blocks outlive it


class NoCapNetAdmin(EnforceBase):
    def test_detection_goes_on_and_enforcement_is_reported_failed(self):
        pcap = self.traffic_pcap("attack.pcap", [(ATTACKER, 5353, b"VIGIL-DROP")])
        r = sh("ip", "netns", "exec", self.ns_sen, "setpriv", "--bounding-set=-net_admin",
               "--inh-caps=-net_admin", SENSOR, "replay", "--pcap", pcap, "--config",
               self.config(), "--ips", "--nft", "--no-progress", check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("CAP_NET_ADMIN", r.stderr)
        self.assertIn("enforcement FAILED", r.stderr)
        events = read_eve(self.path("eve.json"))
        self.assertEqual([e["alert"]["signature_id"] for e in events
                          if e["event_type"] == "alert"], [1])
        self.assertEqual(in_ns(self.ns_sen, "nft", "list", "ruleset").stdout.strip(), "")


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("enforce_netns_test: needs root (network namespaces)", file=sys.stderr)
        sys.exit(1)
    unittest.main(verbosity=2)
