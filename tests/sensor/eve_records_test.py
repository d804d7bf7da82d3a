#!/usr/bin/env python3
"""End-to-end tests of the optional EVE records: `flow` records at flow end (outputs.eve.flow,
replay --eve-flow) and packet data in alerts (outputs.eve.payload, payload-printable, packet;
replay --eve-payload, --eve-payload-printable, --eve-packet), judged by what a user reads in
the EVE file: record counts, counters against the pcap itself, and Suricata's schema.

Environment: VIGIL_SENSOR (binary), VIGIL_ROOT (repo root), VIGIL_SHARED (../shared).
"""
import base64
import json
import os
import shutil
import struct
import subprocess
import re
import tempfile
import time
import unittest

SENSOR = os.environ.get("VIGIL_SENSOR", "build/sensor/vigil-sensor")
ROOT = os.environ.get("VIGIL_ROOT", os.getcwd())
SHARED = os.environ.get("VIGIL_SHARED", os.path.join(ROOT, "..", "shared"))
PCAPS = os.path.join(ROOT, "pcaps")
REPLAY_CONFIG = os.path.join(PCAPS, "replay.yaml")
RULES = os.path.join(ROOT, "rules", "default")
HTTP_PCAP = os.path.join(PCAPS, "01-http-established.pcap")
CLIENT = ("10.0.0.10", 49200)  # 01-http-established: the client and the server
SERVER = ("198.51.100.10", 80)


def run(*args):
    return subprocess.run([SENSOR, *args], capture_output=True, text=True, timeout=300)


def read_eve(path):
    with open(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]


def eve_time(sec, usec):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + ".%06d+0000" % usec


def of_type(events, t):
    return [e for e in events if e["event_type"] == t]


def read_pcap(path):
    """(ts_sec, ts_usec, orig_len, frame) of each record of a classic pcap file."""
    with open(path, "rb") as fh:
        data = fh.read()
    magic = struct.unpack("<I", data[:4])[0]
    end = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    out, off = [], 24
    while off + 16 <= len(data):
        sec, usec, incl, orig = struct.unpack(end + "IIII", data[off:off + 16])
        out.append((sec, usec, orig, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return out


def ipv4_tcp_tuple(frame):
    """(src, sport, dst, dport, flags, payload) of an untagged Ethernet/IPv4/TCP frame."""
    ihl = (frame[14] & 0x0F) * 4
    total = struct.unpack(">H", frame[16:18])[0]
    src = ".".join(str(b) for b in frame[26:30])
    dst = ".".join(str(b) for b in frame[30:34])
    tcp = 14 + ihl
    sport, dport = struct.unpack(">HH", frame[tcp:tcp + 4])
    doff = (frame[tcp + 12] >> 4) * 4
    flags = frame[tcp + 13]
    return src, sport, dst, dport, flags, frame[tcp + doff:14 + total]


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(">%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def udp_frame(src, sport, dst, dport, payload=b"x"):
    udp = struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, bytes(src),
                     bytes(dst))
    ip = ip[:10] + struct.pack(">H", checksum(ip)) + ip[12:]
    eth = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x08\x00"
    return eth + ip + udp


def tcp_frame(src, sport, dst, dport, flags, seq, ack, payload=b""):
    tcp = struct.pack(">HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, bytes(src),
                     bytes(dst))
    ip = ip[:10] + struct.pack(">H", checksum(ip)) + ip[12:]
    pseudo = struct.pack(">4s4sBBH", bytes(src), bytes(dst), 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack(">H", checksum(pseudo + tcp)) + tcp[18:]
    eth = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x08\x00"
    return eth + ip + tcp


def write_pcap(path, records):
    """records: (ts_sec, frame); Ethernet link type."""
    with open(path, "wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for ts, frame in records:
            fh.write(struct.pack("<IIII", ts, 0, len(frame), len(frame)) + frame)


class EveRecordsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vigil-eve-records-")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def replay(self, pcap, *extra, rules=RULES, name="eve.json"):
        eve = self.path(name)
        r = run("replay", "--pcap", pcap, "--rules", rules, "--config", REPLAY_CONFIG, "--eve",
                eve, "--no-progress", *extra)
        self.assertEqual(r.returncode, 0, r.stderr)
        return eve, read_eve(eve)

    def assert_schema_valid(self, eve):
        checker = os.path.join(SHARED, "acceptance", "check_eve.py")
        if not os.path.exists(checker):
            self.skipTest("shared acceptance corpus not present")
        c = subprocess.run(["/usr/bin/python3", checker, eve], capture_output=True, text=True)
        self.assertEqual(c.returncode, 0, c.stdout[-3000:])

    # --- flow records ----------------------------------------------------------------------

    def test_no_flow_records_or_packet_data_by_default(self):
        _, events = self.replay(PCAPS)
        self.assertEqual(of_type(events, "flow"), [])
        for a in of_type(events, "alert"):
            for key in ("payload", "payload_printable", "packet", "packet_info"):
                self.assertNotIn(key, a)

    def test_flow_record_of_an_http_connection_matches_the_pcap(self):
        eve, events = self.replay(HTTP_PCAP, "--eve-flow")
        flows = of_type(events, "flow")
        self.assertEqual(len(flows), 1)
        f = flows[0]
        # What the pcap holds, counted here independently of the sensor.
        recs = read_pcap(HTTP_PCAP)
        want = {"pkts_toserver": 0, "pkts_toclient": 0, "bytes_toserver": 0,
                "bytes_toclient": 0}
        flags_ts = flags_tc = 0
        for _, _, orig, frame in recs:
            src, sport, _, _, flags, _ = ipv4_tcp_tuple(frame)
            side = "toserver" if (src, sport) == CLIENT else "toclient"
            want["pkts_" + side] += 1
            want["bytes_" + side] += orig
            if side == "toserver":
                flags_ts |= flags
            else:
                flags_tc |= flags
        for k, v in want.items():
            self.assertEqual(f["flow"][k], v, k)
        self.assertEqual((f["src_ip"], f["src_port"]), CLIENT)
        self.assertEqual((f["dest_ip"], f["dest_port"]), SERVER)
        self.assertEqual(f["proto"], "TCP")
        self.assertEqual(f["app_proto"], "http")
        self.assertNotIn("pcap_cnt", f)
        # Handshake, request, response, FIN both ways: closed, ended with the input.
        self.assertEqual(f["flow"]["state"], "closed")
        self.assertEqual(f["flow"]["reason"], "shutdown")
        self.assertTrue(f["flow"]["alerted"])
        first, last = recs[0], recs[-1]
        self.assertEqual(f["flow"]["start"], eve_time(first[0], first[1]))
        self.assertEqual(f["flow"]["end"], eve_time(last[0], last[1]))
        self.assertEqual(f["timestamp"], f["flow"]["end"])
        self.assertEqual(f["flow"]["age"], last[0] - first[0])
        tcp = f["tcp"]
        self.assertEqual(tcp["tcp_flags_ts"], "%02x" % flags_ts)
        self.assertEqual(tcp["tcp_flags_tc"], "%02x" % flags_tc)
        self.assertEqual(tcp["tcp_flags"], "%02x" % (flags_ts | flags_tc))
        for name, bit in (("syn", 0x02), ("fin", 0x01), ("ack", 0x10), ("psh", 0x08)):
            self.assertIs(tcp.get(name, False), (flags_ts | flags_tc) & bit != 0, name)
        self.assertNotIn("rst", tcp)
        self.assertEqual(tcp["state"], "closed")
        # The alerts of the connection name the same flow.
        alerts = of_type(events, "alert")
        self.assertGreater(len(alerts), 0)
        self.assertEqual({a["flow_id"] for a in alerts}, {f["flow_id"]})
        # ... and come before its flow record.
        self.assertLess(events.index(alerts[-1]), events.index(f))
        self.assert_schema_valid(eve)

    def test_every_flow_of_the_corpus_ends_with_one_record(self):
        eve, events = self.replay(PCAPS, "--eve-flow", "--stats")
        summary = run("replay", "--pcap", PCAPS, "--rules", RULES, "--config", REPLAY_CONFIG,
                      "--eve", "/dev/null", "--no-progress", "--stats").stderr
        datagrams = int(re.search(r"(\d+) datagrams reassembled", summary).group(1))
        flows = of_type(events, "flow")
        stats = of_type(events, "stats")[-1]["stats"]
        self.assertEqual(len(flows), stats["flow"]["total"])
        self.assertEqual(len({f["flow_id"] for f in flows}), len(flows))
        # Every flow counts its own packets: together, each IP packet exactly once (a packet
        # without IP has no flow), and each reassembled datagram, which is inspected (and
        # counted in its flow) as one more packet.
        self.assertEqual(sum(f["flow"]["pkts_toserver"] + f["flow"]["pkts_toclient"]
                             for f in flows),
                         stats["decoder"]["ipv4"] + stats["decoder"]["ipv6"] + datagrams)
        for f in flows:
            self.assertIn(f["flow"]["state"], ("new", "established", "closed"))
            self.assertIn(f["flow"]["reason"], ("timeout", "forced", "shutdown"))
            self.assertEqual("tcp" in f, f["proto"] == "TCP")
        alerted = {a["flow_id"] for a in of_type(events, "alert") if "flow_id" in a}
        self.assertEqual({f["flow_id"] for f in flows if f["flow"]["alerted"]}, alerted)
        # The alerts, anomalies and stats are what they are without flow records.
        _, plain = self.replay(PCAPS, name="plain.json")
        self.assertEqual([e for e in events if e["event_type"] != "flow"], plain)
        self.assert_schema_valid(eve)

    def test_flow_records_do_not_depend_on_the_number_of_workers(self):
        # Apart from flow.reason: a worker expires idle flows by the times of the packets it
        # sees, so a flow that timed out with one worker may last to the end with three.
        def key(events):
            out = []
            for f in of_type(events, "flow"):
                del f["flow"]["reason"]
                out.append(json.dumps(f, sort_keys=True))
            return sorted(out)
        _, one = self.replay(PCAPS, "--eve-flow", "--workers", "1", name="w1.json")
        _, three = self.replay(PCAPS, "--eve-flow", "--workers", "3", name="w3.json")
        self.assertEqual(key(one), key(three))

    def test_idle_flow_times_out_and_a_reply_makes_it_established(self):
        a, b, c = [10, 0, 0, 1], [10, 0, 0, 2], [10, 0, 0, 3]
        pcap = self.path("udp.pcap")
        write_pcap(pcap, [
            (1000, udp_frame(a, 5000, b, 9999)),   # one-way: new, idle past udp new (30 s)
            (1001, udp_frame(a, 5001, c, 9999)),   # request ...
            (1002, udp_frame(c, 9999, a, 5001)),   # ... and reply: established
            (1100, udp_frame(b, 6000, c, 7000)),   # 100 s later: the first one timed out
        ])
        rules = self.path("none.rules")
        with open(rules, "w") as fh:
            fh.write('alert udp any any -> any 7000 (msg:"late"; sid:1;)\n')
        eve, events = self.replay(pcap, "--eve-flow", rules=rules)
        flows = {(f["src_ip"], f["src_port"]): f for f in of_type(events, "flow")}
        self.assertEqual(len(flows), 3)
        one_way = flows[("10.0.0.1", 5000)]["flow"]
        self.assertEqual((one_way["state"], one_way["reason"]), ("new", "timeout"))
        self.assertEqual((one_way["pkts_toserver"], one_way["pkts_toclient"]), (1, 0))
        self.assertFalse(one_way["alerted"])
        answered = flows[("10.0.0.1", 5001)]["flow"]  # established UDP: 300 s timeout
        self.assertEqual((answered["state"], answered["reason"]), ("established", "shutdown"))
        self.assertEqual((answered["pkts_toserver"], answered["pkts_toclient"]), (1, 1))
        self.assertEqual(answered["age"], 1)
        last = flows[("10.0.0.2", 6000)]["flow"]
        self.assertEqual((last["state"], last["reason"]), ("new", "shutdown"))
        self.assertTrue(last["alerted"])
        self.assertNotIn("tcp", flows[("10.0.0.2", 6000)])
        # The timed-out flow is written when the packet that expired it came, before its alert;
        # the others when the input ended.
        order = [(e["event_type"], e.get("src_port")) for e in events]
        self.assertEqual(order[:2], [("flow", 5000), ("alert", 6000)])
        self.assertEqual(sorted(order[2:4]), [("flow", 5001), ("flow", 6000)])
        self.assertEqual(order[4:], [("stats", None)])
        self.assert_schema_valid(eve)

    def test_config_switches_flow_records_on(self):
        cfg = self.path("sensor.yaml")
        eve = self.path("eve.json")
        with open(cfg, "w") as fh:
            fh.write("outputs:\n  eve:\n    path: %s\n    flow: true\n" % eve)
        r = run("replay", "--pcap", HTTP_PCAP, "--rules", RULES, "--config", cfg,
                "--no-progress")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(of_type(read_eve(eve), "flow")), 1)
        with open(cfg, "w") as fh:
            fh.write("outputs:\n  eve:\n    path: %s\n    flow: maybe\n" % eve)
        r = run("replay", "--pcap", HTTP_PCAP, "--rules", RULES, "--config", cfg,
                "--no-progress")
        self.assertEqual(r.returncode, 2)
        self.assertIn("outputs.eve.flow", r.stderr)

    # --- packet data in alerts ---------------------------------------------------------------

    def test_alerts_carry_the_payload_and_frame_of_their_packet(self):
        eve, events = self.replay(HTTP_PCAP, "--eve-payload", "--eve-payload-printable",
                                  "--eve-packet")
        recs = read_pcap(HTTP_PCAP)
        alerts = of_type(events, "alert")
        self.assertGreater(len(alerts), 0)
        for a in alerts:
            frame = recs[a["pcap_cnt"] - 1][3]
            payload = ipv4_tcp_tuple(frame)[5]
            self.assertGreater(len(payload), 0)
            self.assertEqual(base64.b64decode(a["packet"]), frame)
            self.assertEqual(a["packet_info"], {"linktype": 1, "linktype_name": "EN10MB"})
            self.assertEqual(base64.b64decode(a["payload"]), payload)
            self.assertEqual(a["payload_printable"],
                             "".join(chr(b) if 32 <= b < 127 or b in (10, 13) else "."
                                     for b in payload))
        # The request's canary is readable in the printable form.
        self.assertTrue(any("GET /vigil/canary-0001.html" in a["payload_printable"]
                            for a in alerts))
        self.assert_schema_valid(eve)

    def test_packet_info_names_the_captures_link_type(self):
        for name, linktype, linktype_name in (("19-linux-sll.pcap", 113, "LINUX_SLL"),
                                               ("20-raw-ip.pcap", 101, "RAW")):
            pcap = os.path.join(PCAPS, name)
            frames = read_pcap(pcap)
            eve, events = self.replay(pcap, "--eve-packet", name=name + ".json")
            alerts = of_type(events, "alert")
            self.assertGreater(len(alerts), 0, name)
            for a in alerts:
                self.assertEqual(a["packet_info"],
                                 {"linktype": linktype, "linktype_name": linktype_name})
                self.assertEqual(base64.b64decode(a["packet"]), frames[a["pcap_cnt"] - 1][3])
            self.assert_schema_valid(eve)

    def test_an_alert_at_a_streams_end_carries_the_stream_bytes(self):
        # Data behind a hole that never fills is inspected when the flow ends: no packet, so
        # the payload is the stream bytes the rule matched in.
        c, sv = [10, 0, 0, 1], [10, 0, 0, 2]
        pcap = self.path("ooo.pcap")
        write_pcap(pcap, [
            (1000, tcp_frame(c, 40000, sv, 80, 0x02, 1000, 0)),
            (1000, tcp_frame(sv, 80, c, 40000, 0x12, 5000, 1001)),
            (1000, tcp_frame(c, 40000, sv, 80, 0x10, 1001, 5001)),
            (1001, tcp_frame(c, 40000, sv, 80, 0x18, 1011, 5001, b"CANARY-OOO")),  # 10 missing
        ])
        rules = self.path("ooo.rules")
        with open(rules, "w") as fh:
            fh.write('alert tcp any any -> any any (msg:"ooo"; content:"CANARY-OOO"; sid:1;)\n')
        eve, events = self.replay(pcap, "--eve-payload", "--eve-payload-printable", rules=rules)
        alerts = of_type(events, "alert")
        self.assertEqual(len(alerts), 1)
        self.assertEqual(alerts[0]["pkt_src"], "stream (flow timeout)")
        self.assertEqual(alerts[0]["payload_printable"], "CANARY-OOO")
        self.assertEqual(base64.b64decode(alerts[0]["payload"]), b"CANARY-OOO")
        self.assert_schema_valid(eve)

    def test_each_packet_data_field_is_switched_on_alone_and_bounded(self):
        cfg = self.path("sensor.yaml")
        eve = self.path("eve.json")
        with open(cfg, "w") as fh:
            fh.write("outputs:\n  eve:\n    path: %s\n    payload: true\n"
                     "    payload-buffer-size: 16\n" % eve)
        r = run("replay", "--pcap", HTTP_PCAP, "--rules", RULES, "--config", cfg,
                "--no-progress")
        self.assertEqual(r.returncode, 0, r.stderr)
        alerts = of_type(read_eve(eve), "alert")
        self.assertGreater(len(alerts), 0)
        recs = read_pcap(HTTP_PCAP)
        for a in alerts:
            payload = ipv4_tcp_tuple(recs[a["pcap_cnt"] - 1][3])[5]
            self.assertEqual(base64.b64decode(a["payload"]), payload[:16])
            for key in ("payload_printable", "packet", "packet_info"):
                self.assertNotIn(key, a)


if __name__ == "__main__":
    unittest.main(verbosity=2)
