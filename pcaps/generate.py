#!/usr/bin/python3
"""Generates Vigil's replay corpus: pcaps/<NN>-<name>.pcap plus a sibling .expect file each.

Every case is a function below that builds a small capture and states exactly which alerts a
Suricata-7-compatible sensor must raise for it with ALL of rules/default/*.rules loaded and the
sensor configuration pcaps/replay.yaml (per-destination TCP/defrag overlap policies).
Output is deterministic (fixed timestamps from 2024-01-01T00:00:00Z, fixed addresses in
documentation/private ranges, seeded sequence numbers), so the committed files can be checked:

    /usr/bin/python3 pcaps/generate.py            # (re)write pcaps/*.pcap and *.expect
    /usr/bin/python3 pcaps/generate.py --check    # regenerate in a temp dir, compare; 1 on diff
    /usr/bin/python3 pcaps/generate.py --list     # list the cases

Needs Debian's python3 with python3-scapy (scapy only builds packet bytes; the pcap and pcapng
files are written by hand here so the bytes never depend on scapy's writer or its version).
See docs/testing.md ("The replay corpus") for the semantics the expectations follow and how to
add a case.
"""

import argparse
import gzip
import logging
import os
import random
import re
import struct
import sys
import tempfile

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)

from scapy.contrib.mpls import MPLS  # noqa: E402
from scapy.layers.dns import DNS, DNSQR, DNSRR  # noqa: E402
from scapy.layers.inet import ICMP, IP, TCP, UDP  # noqa: E402
from scapy.layers.inet6 import (IPv6, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop, PadN,  # noqa: E402
                                 RouterAlert)
from scapy.layers.l2 import CookedLinux, Dot1AD, Dot1Q, Ether  # noqa: E402
from scapy.packet import Raw  # noqa: E402

T0_US = 1704067200 * 1_000_000  # 2024-01-01T00:00:00Z in microseconds

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113

PCAP_SNAPLEN = 65535


# --------------------------------------------------------------------------------------------
# Capture files
# --------------------------------------------------------------------------------------------


def pcap_bytes(linktype, records):
    """Classic little-endian pcap, microsecond timestamps."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, PCAP_SNAPLEN, linktype)]
    for ts_us, data, wire_len in records:
        sec, usec = divmod(ts_us, 1_000_000)
        out.append(struct.pack("<IIII", sec, usec, len(data), wire_len))
        out.append(data)
    return b"".join(out)


def _pcapng_option(code, value):
    pad = (-len(value)) % 4
    return struct.pack("<HH", code, len(value)) + value + b"\0" * pad


def _pcapng_block(block_type, body):
    total = 12 + len(body)
    return struct.pack("<II", block_type, total) + body + struct.pack("<I", total)


def pcapng_bytes(linktype, records):
    """pcapng (little-endian): one section, one interface (microsecond resolution), EPBs."""
    shb_opts = _pcapng_option(4, b"vigil pcaps/generate.py") + _pcapng_option(0, b"")
    shb = _pcapng_block(
        0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + shb_opts)
    idb_opts = (_pcapng_option(2, b"vigil0") + _pcapng_option(9, bytes([6]))
                + _pcapng_option(0, b""))
    idb = _pcapng_block(0x00000001, struct.pack("<HHI", linktype, 0, PCAP_SNAPLEN) + idb_opts)
    out = [shb, idb]
    for ts_us, data, wire_len in records:
        body = struct.pack("<IIIII", 0, ts_us >> 32, ts_us & 0xFFFFFFFF, len(data), wire_len)
        body += data + b"\0" * ((-len(data)) % 4)
        out.append(_pcapng_block(0x00000006, body))
    return b"".join(out)


# --------------------------------------------------------------------------------------------
# Link layers: wrap a scapy L3 packet into the bytes of one captured frame
# --------------------------------------------------------------------------------------------


def _is_v6(addr):
    return ":" in addr


class Eth:
    """Ethernet, optionally with VLAN tags: tags = [("ad"|"q", vid), ...] outermost first."""

    linktype = LINKTYPE_ETHERNET

    def __init__(self, client_mac, server_mac, tags=()):
        self.client_mac = client_mac
        self.server_mac = server_mac
        self.tags = list(tags)

    def frame(self, l3, from_client):
        src, dst = ((self.client_mac, self.server_mac) if from_client
                    else (self.server_mac, self.client_mac))
        pkt = Ether(src=src, dst=dst)
        for kind, vid in self.tags:
            pkt = pkt / (Dot1AD(vlan=vid) if kind == "ad" else Dot1Q(vlan=vid))
        return bytes(pkt / l3)


class Mpls:
    """Ethernet + MPLS unicast (0x8847) label stack; the last label has bottom-of-stack set."""

    linktype = LINKTYPE_ETHERNET

    def __init__(self, client_mac, server_mac, labels):
        self.client_mac = client_mac
        self.server_mac = server_mac
        self.labels = list(labels)

    def frame(self, l3, from_client):
        src, dst = ((self.client_mac, self.server_mac) if from_client
                    else (self.server_mac, self.client_mac))
        pkt = Ether(src=src, dst=dst, type=0x8847)
        for i, label in enumerate(self.labels):
            pkt = pkt / MPLS(label=label, cos=0, s=int(i == len(self.labels) - 1), ttl=64)
        return bytes(pkt) + bytes(l3)


class Sll:
    """Linux cooked capture v1 (linktype 113) taken on the client host."""

    linktype = LINKTYPE_LINUX_SLL

    def __init__(self, client_mac, server_mac):
        self.client_mac = client_mac
        self.server_mac = server_mac

    def frame(self, l3, from_client):
        # pkttype 4 = sent by us (outgoing), 0 = to us; the address is the sender's.
        mac = self.client_mac if from_client else self.server_mac
        addr = bytes.fromhex(mac.replace(":", "")) + b"\0\0"
        proto = 0x86DD if isinstance(l3, IPv6) else 0x0800
        return bytes(CookedLinux(pkttype=4 if from_client else 0, lladdrtype=1, lladdrlen=6,
                                 src=addr, proto=proto) / l3)


class RawIp:
    """Raw IP (linktype 101): the frame starts with the IPv4 or IPv6 header."""

    linktype = LINKTYPE_RAW

    def frame(self, l3, from_client):
        return bytes(l3)


# --------------------------------------------------------------------------------------------
# A case: its packets, its description and its expectations
# --------------------------------------------------------------------------------------------


class Expect:
    def __init__(self, sid, count, src=None, dst=None, action=None, why=""):
        self.sid, self.count, self.src, self.dst = sid, count, src, dst
        self.action, self.why = action, why

    def line(self):
        parts = [str(self.sid), str(self.count)]
        if self.src:
            parts.append("src=" + self.src)
        if self.dst:
            parts.append("dst=" + self.dst)
        if self.action:
            parts.append("action=" + self.action)
        return " ".join(parts)


def endpoint(addr, port=None):
    """Formats an expect filter address: 10.0.0.1:80, [2001:db8::1]:80, 10.0.0.1, 2001:db8::1."""
    if port is None:
        return addr
    return f"[{addr}]:{port}" if _is_v6(addr) else f"{addr}:{port}"


class Case:
    def __init__(self, name, title, linktype=LINKTYPE_ETHERNET, fmt="pcap"):
        self.name = name
        self.title = title
        self.linktype = linktype
        self.fmt = fmt
        self.text = []
        self.expects = []
        self.records = []
        self.clock = T0_US
        self.rng = random.Random("vigil-pcaps/" + name)
        self._ip_id = 0x1000

    # -- description and expectations --
    def describe(self, text):
        self.text.append(text.strip("\n"))

    def expect(self, sid, count, src=None, dst=None, action=None, why=""):
        self.expects.append(Expect(sid, count, src, dst, action, why))

    # -- time --
    def wait(self, seconds=0.0, ms=0):
        self.clock += int(round(seconds * 1_000_000)) + ms * 1000

    # -- raw frames --
    def add_frame(self, data, wire_len=None, step_us=1000):
        self.records.append((self.clock, bytes(data), len(data) if wire_len is None else wire_len))
        self.clock += step_us

    def next_ip_id(self):
        self._ip_id = (self._ip_id + 1) & 0xFFFF
        return self._ip_id

    # -- L3/L4 helpers --
    def ip(self, src, dst, ttl=64, tos=0, ip_id=None):
        if _is_v6(src):
            return IPv6(src=src, dst=dst, hlim=ttl, tc=tos)
        return IP(src=src, dst=dst, ttl=ttl, tos=tos, flags="DF",
                  id=self.next_ip_id() if ip_id is None else ip_id)

    def udp(self, link, src, sport, dst, dport, payload, from_client=True, **ipkw):
        pkt = self.ip(src, dst, **ipkw) / UDP(sport=sport, dport=dport) / Raw(payload)
        self.add_frame(link.frame(pkt, from_client))

    def tcp(self, link, cli, cport, srv, sport, **kw):
        return TcpConv(self, link, cli, cport, srv, sport, **kw)

    # -- output --
    def capture_bytes(self):
        if self.fmt == "pcapng":
            return pcapng_bytes(self.linktype, self.records)
        return pcap_bytes(self.linktype, self.records)

    def expect_text(self):
        out = [f"# {self.name}.pcap: {self.title}", "#"]
        for para in self.text:
            for line in para.splitlines():
                out.append(("# " + line).rstrip())
            out.append("#")
        out.append("# Expectations (all of rules/default/*.rules, config pcaps/replay.yaml; format:")
        out.append("# <sid> <count> [src=IP[:PORT]] [dst=IP[:PORT]] [action=allowed|blocked]).")
        if not any(e.count for e in self.expects):
            out.append("# This capture must produce no alerts at all.")
        for e in self.expects:
            out.append("")
            for line in e.why.strip().splitlines():
                out.append(("# " + line.strip()).rstrip())
            out.append(e.line())
        return "\n".join(out) + "\n"


class TcpConv:
    """One TCP connection with consistent sequence numbers. Client = initiator."""

    def __init__(self, case, link, cli, cport, srv, sport, ttl_c=64, ttl_s=64):
        self.case, self.link = case, link
        self.cli, self.cport, self.srv, self.sport = cli, cport, srv, sport
        self.ttl_c, self.ttl_s = ttl_c, ttl_s
        rng = case.rng
        self.cseq = rng.randrange(1 << 32)
        self.sseq = rng.randrange(1 << 32)
        self.cid = rng.randrange(1 << 16)
        self.sid = rng.randrange(1 << 16)

    def send(self, from_client, flags, payload=b"", ext=None, options=None, at=None, ack_at=None):
        """Sends one segment. at / ack_at: stream offsets (relative to mark()) to use as the
        sequence / acknowledgement number instead of the next ones; a segment sent `at` an
        offset does not move the next sequence number (see data_end())."""
        if from_client:
            src, dst, sp, dp = self.cli, self.srv, self.cport, self.sport
            seq, ack, ttl, win = self.cseq, self.sseq, self.ttl_c, 64240
            self.cid = (self.cid + 1) & 0xFFFF
            ip_id = self.cid
        else:
            src, dst, sp, dp = self.srv, self.cli, self.sport, self.cport
            seq, ack, ttl, win = self.sseq, self.cseq, self.ttl_s, 65160
            self.sid = (self.sid + 1) & 0xFFFF
            ip_id = self.sid
        if at is not None:
            seq = ((self.c0 if from_client else self.s0) + at) & 0xFFFFFFFF
        if ack_at is not None:
            ack = ((self.s0 if from_client else self.c0) + ack_at) & 0xFFFFFFFF
        l3 = self.case.ip(src, dst, ttl=ttl, ip_id=ip_id)
        if ext is not None:
            l3 = l3 / ext
        seg = TCP(sport=sp, dport=dp, seq=seq, ack=ack if "A" in flags else 0, flags=flags,
                  window=win, options=options or [])
        pkt = l3 / seg
        if payload:
            pkt = pkt / Raw(payload)
        self.case.add_frame(self.link.frame(pkt, from_client))
        if at is not None:
            return
        adv = len(payload) + ("S" in flags) + ("F" in flags)
        if from_client:
            self.cseq = (self.cseq + adv) & 0xFFFFFFFF
        else:
            self.sseq = (self.sseq + adv) & 0xFFFFFFFF

    def handshake(self):
        self.send(True, "S", options=[("MSS", 1460)])
        self.send(False, "SA", options=[("MSS", 1460)])
        self.send(True, "A")
        self.mark()

    def mark(self):
        """Makes the next sequence numbers stream offset 0 of each direction (for `at`)."""
        self.c0, self.s0 = self.cseq, self.sseq

    def data_end(self, from_client, end):
        """After segments sent `at` offsets: the next sequence number is offset `end`."""
        if from_client:
            self.cseq = (self.c0 + end) & 0xFFFFFFFF
        else:
            self.sseq = (self.s0 + end) & 0xFFFFFFFF

    def client(self, data, ext=None):
        """Client sends one segment; the server acknowledges it."""
        self.send(True, "PA", data, ext=ext)
        self.send(False, "A")

    def server(self, data, mss=1460):
        """Server sends data (split at mss); the client acknowledges it."""
        for i in range(0, len(data), mss):
            self.send(False, "PA", data[i:i + mss])
        self.send(True, "A")

    def close(self):
        self.send(True, "FA")
        self.send(False, "FA")
        self.send(True, "A")


def http_get(path, host, headers=()):
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}",
             "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
             "Accept: */*"]
    lines += list(headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def http_response(body, headers=(), status="200 OK", ctype="text/html"):
    body = body if isinstance(body, bytes) else body.encode()
    lines = [f"HTTP/1.1 {status}", "Server: nginx/1.24.0", f"Content-Type: {ctype}",
             f"Content-Length: {len(body)}"]
    lines += list(headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def mac(n):
    return "02:00:00:00:%02x:%02x" % (n >> 8, n & 0xFF)


GW_MAC = "02:00:00:00:00:01"

# --------------------------------------------------------------------------------------------
# The cases
# --------------------------------------------------------------------------------------------

CASES = []


def case(name, title, **kw):
    def register(fn):
        CASES.append((name, title, kw, fn))
        return fn
    return register


@case("01-http-established", "HTTP request and response over a full TCP handshake")
def c01(c):
    c.describe("""
Client 10.0.0.10:49200 opens a TCP connection to 198.51.100.10:80 (SYN, SYN/ACK, ACK), sends
one GET request, receives one response and closes with FIN/ACK in both directions. The request
and the response BOTH carry the canary path "/vigil/canary-0001.html" and the header
"X-Vigil-Canary: 0001", so the flow direction decides which rule alerts.""")
    link = Eth(mac(0x0A), GW_MAC)
    t = c.tcp(link, "10.0.0.10", 49200, "198.51.100.10", 80)
    t.handshake()
    t.client(http_get("/vigil/canary-0001.html", "www.example.com",
                      ["X-Vigil-Canary: 0001"]))
    t.server(http_response("<html><body>You asked for /vigil/canary-0001.html</body></html>\n",
                           ["X-Vigil-Canary: 0001"]))
    t.close()
    cli, srv = endpoint("10.0.0.10", 49200), endpoint("198.51.100.10", 80)
    c.expect(9000001, 1, src=cli, dst=srv, why="""
sid 9000001 (flow:established,to_server; content:"/vigil/canary-0001.html"): the request
matches; the response carries the same bytes but is to_client.""")
    c.expect(9000002, 1, src=srv, dst=cli, why="""
sid 9000002 (flow:established,to_client; content:"X-Vigil-Canary: 0001"): the response matches;
the request carries the same header but is to_server.""")
    c.expect(9000003, 0, why="""
sid 9000003 (midstream probe header, no flow keyword) is not in this capture.""")


@case("02-http-midstream", "the same HTTP exchange picked up midstream (no handshake)")
def c02(c):
    c.describe("""
The request/response of 01-http-established (same canary path and header) between
10.0.0.11:49201 and 198.51.100.10:80, but the capture starts after the handshake: there is no
SYN or SYN/ACK. Suricata's default (stream.midstream: false) never treats such a session as
established, so rules with flow:established must stay silent. The request also carries the
header "X-Vigil-Midstream-Probe: 1", matched by a rule WITHOUT any flow keyword: midstream
packets are still inspected.""")
    link = Eth(mac(0x0B), GW_MAC)
    t = c.tcp(link, "10.0.0.11", 49201, "198.51.100.10", 80)
    t.client(http_get("/vigil/canary-0001.html", "www.example.com",
                      ["X-Vigil-Canary: 0001", "X-Vigil-Midstream-Probe: 1"]))
    t.server(http_response("<html><body>You asked for /vigil/canary-0001.html</body></html>\n",
                           ["X-Vigil-Canary: 0001"]))
    t.close()
    c.expect(9000001, 0, why="sid 9000001 requires flow:established: never established here.")
    c.expect(9000002, 0, why="sid 9000002 requires flow:established: never established here.")
    c.expect(9000003, 1, src=endpoint("10.0.0.11", 49201), dst=endpoint("198.51.100.10", 80),
             why="""
sid 9000003 (content:"X-Vigil-Midstream-Probe", no flow keyword): the request matches.""")


@case("03-content-modifiers", "content with nocase, offset and depth (UDP)")
def c03(c):
    c.describe("""
Eight UDP datagrams from 10.0.1.10:40001 to 10.0.1.20:7001 (one flow, no replies). Payloads:
  1 "hello vigil-nocase-token here"        nocase rule: match
  2 "HELLO VIGIL-NOCASE-TOKEN"             nocase rule: match
  3 "Vigil-Nocase-Toke"                    truncated token: no match
  4 "\\x00\\x01\\x02\\x03MAGIC-record"          MAGIC at offset 4: offset/depth rule matches
  5 "MAGIC-record-at-start"                MAGIC at offset 0: outside offset:4
  6 "\\x00\\x01\\x02\\x03\\x04MAGIC-record"      MAGIC at offset 5: beyond depth (window is [4,9))
  7 "\\x00\\x01\\x02\\x03magic-record"          lower case: content is case-sensitive
  8 "padding......MAGIC"                   MAGIC far out: no match""")
    link = Eth(mac(0x10), mac(0x20))
    payloads = [b"hello vigil-nocase-token here", b"HELLO VIGIL-NOCASE-TOKEN",
                b"Vigil-Nocase-Toke", b"\x00\x01\x02\x03MAGIC-record",
                b"MAGIC-record-at-start", b"\x00\x01\x02\x03\x04MAGIC-record",
                b"\x00\x01\x02\x03magic-record", b"padding......MAGIC"]
    for p in payloads:
        c.udp(link, "10.0.1.10", 40001, "10.0.1.20", 7001, p)
    c.expect(9000010, 2, src=endpoint("10.0.1.10", 40001), why="""
sid 9000010 (content:"VIGIL-NOCASE-TOKEN"; nocase): datagrams 1 and 2.""")
    c.expect(9000011, 1, src=endpoint("10.0.1.10", 40001), why="""
sid 9000011 (content:"MAGIC"; offset:4; depth:5): datagram 4 only. depth counts from offset,
so the pattern must lie entirely within payload bytes [4,9).""")


@case("04-relative-content", "relative content (distance/within) and negated content (UDP)")
def c04(c):
    c.describe("""
UDP datagrams from 10.0.1.11:40002 to 10.0.1.20:7002.
sid 9000013 is content:"USER"; content:"admin"; distance:1; within:5;
  a "USER admin\\r\\n"               match: Suricata adds within to distance, so "admin" may
                                    occupy bytes [5,10) after "USER" ends at 4
  b "USER  admin\\r\\n"              no match: "admin" ends at 11 > 10
  c "USER guest\\r\\nUSER admin\\r\\n"  match: the first USER fails, Suricata retries with the
                                    next occurrence of "USER" (within depends on it)
  d "USERadmin"                     no match: distance:1 needs one byte in between
sid 9000014 is content:"VGLNEG-LOGIN"; content:!"debug=1";  (negation over the whole payload)
  e "VGLNEG-LOGIN user=bob"          match
  f "VGLNEG-LOGIN user=bob debug=1"  no match
  g "debug=1 VGLNEG-LOGIN user=bob"  no match (the negated content is not relative)
sid 9000015 is content:"VGLNEG-AUTH "; content:!"admin"; within:5;  (relative negation)
  h "VGLNEG-AUTH guest"              match
  i "VGLNEG-AUTH admin"              no match
  j "admin VGLNEG-AUTH guest"        match ("admin" is before, outside the window)""")
    link = Eth(mac(0x11), mac(0x20))
    payloads = [b"USER admin\r\n", b"USER  admin\r\n", b"USER guest\r\nUSER admin\r\n",
                b"USERadmin", b"VGLNEG-LOGIN user=bob", b"VGLNEG-LOGIN user=bob debug=1",
                b"debug=1 VGLNEG-LOGIN user=bob", b"VGLNEG-AUTH guest", b"VGLNEG-AUTH admin",
                b"admin VGLNEG-AUTH guest"]
    for p in payloads:
        c.udp(link, "10.0.1.11", 40002, "10.0.1.20", 7002, p)
    c.expect(9000013, 2, why="sid 9000013: datagrams a and c.")
    c.expect(9000014, 1, why="sid 9000014: datagram e.")
    c.expect(9000015, 2, why="sid 9000015: datagrams h and j.")


@case("05-pcre", "pcre: anchored, relative (/R) and caseless (/i) over HTTP sessions")
def c05(c):
    c.describe("""
Eight short TCP sessions (full handshake, one GET, empty 204 response, FIN close) from
10.0.2.10:49300..49307 to 198.51.100.20:80. Request lines / notable headers:
  0 GET /dl/abcd1234.exe       9000020 (/^GET \\/dl\\/[a-z]{4}[0-9]+\\.exe HTTP\\/1\\.[01]\\r\\n/)
  1 GET /dl/ab12.exe              no: needs four letters
  2 GET /DL/abcd1234.exe          no: case-sensitive prefilter content "GET /dl/"
  3 GET /api?token=0123456789ABCDEF&x=1      9000021 (content:"token="; /^[A-F0-9]{16}&/R)
  4 GET /api?id=0123456789ABCDEF&token=zz   no: the hex string is before "token=", not after
  5 GET /api?token=xx0123456789ABCDEF&      no: ^ anchors at the end of "token="
  6 GET /status, X-Agent: VIGIL-PCRE-Beta-042   9000022 (/vigil-pcre-(alpha|beta)-\\d{3}\\b/i)
  7 GET /status, X-Agent: vigil-pcre-gamma-042  no""")
    link = Eth(mac(0x12), GW_MAC)
    reqs = [
        http_get("/dl/abcd1234.exe", "dl.example.net"),
        http_get("/dl/ab12.exe", "dl.example.net"),
        http_get("/DL/abcd1234.exe", "dl.example.net"),
        http_get("/api?token=0123456789ABCDEF&x=1", "api.example.net"),
        http_get("/api?id=0123456789ABCDEF&token=zz", "api.example.net"),
        http_get("/api?token=xx0123456789ABCDEF&", "api.example.net"),
        http_get("/status", "api.example.net", ["X-Agent: VIGIL-PCRE-Beta-042"]),
        http_get("/status", "api.example.net", ["X-Agent: vigil-pcre-gamma-042"]),
    ]
    for i, req in enumerate(reqs):
        t = c.tcp(link, "10.0.2.10", 49300 + i, "198.51.100.20", 80)
        t.handshake()
        t.client(req)
        t.server(http_response(b"", status="204 No Content"))
        t.close()
        c.wait(ms=50)
    c.expect(9000020, 1, src=endpoint("10.0.2.10", 49300), why="sid 9000020: session 0.")
    c.expect(9000021, 1, src=endpoint("10.0.2.10", 49303), why="sid 9000021: session 3.")
    c.expect(9000022, 1, src=endpoint("10.0.2.10", 49306), why="sid 9000022: session 6.")


@case("06-byte-ops", "byte_extract, byte_test and byte_jump (UDP)")
def c06(c):
    c.describe("""
UDP datagrams from 10.0.1.12:40003 to 10.0.1.20:7003 in a made-up binary protocol.
sid 9000030: content:"VGLB"; depth:4; byte_extract:2,0,vgl_declared,relative;
             byte_test:2,>,vgl_declared,0,relative;
  byte_extract moves the cursor past the 2 bytes it read, so byte_test reads bytes 6-7.
  b1 "VGLB" 0x0064 0x01f4 ...   500 > 100: match
  b2 "VGLB" 0x0258 0x01f4 ...   500 > 600: no
  b3 "VGLB" 0x01f4 0x01f4 ...   500 > 500: no
sid 9000031: content:"VGLJ"; depth:4; byte_jump:1,0,relative; content:"EXEC"; within:4;
  j1 "VGLJ" 0x06 "abcdef" "EXEC..."   jump to 4+1+6 = 11 where EXEC starts: match
  j2 "VGLJ" 0x05 "abcde" "xEXEC..."   jump to 10: "xEXE" is not EXEC: no
  j3 "VGLJ" 0xc8 "abc" "EXEC..."      jump past the end of the payload: no
sid 9000032: content:"VGLT LEN="; byte_test:4,>,1000,0,relative,string,dec;
  t1 "VGLT LEN=1500;"  match        t2 "VGLT LEN=0999;"  no
sid 9000033: content:"VGLE"; depth:4; byte_test:4,=,305419896,0,relative,little;
  e1 "VGLE" 78 56 34 12 (0x12345678 little-endian): match
  e2 "VGLE" 12 34 56 78: no""")
    link = Eth(mac(0x13), mac(0x20))
    filler = b"-filler-data-"
    payloads = [
        b"VGLB" + struct.pack(">HH", 100, 500) + filler,
        b"VGLB" + struct.pack(">HH", 600, 500) + filler,
        b"VGLB" + struct.pack(">HH", 500, 500) + filler,
        b"VGLJ" + bytes([6]) + b"abcdef" + b"EXECUTE" + filler,
        b"VGLJ" + bytes([5]) + b"abcde" + b"xEXECUTE" + filler,
        b"VGLJ" + bytes([200]) + b"abc" + b"EXECUTE" + filler,
        b"VGLT LEN=1500;" + filler,
        b"VGLT LEN=0999;" + filler,
        b"VGLE" + struct.pack("<I", 0x12345678) + filler,
        b"VGLE" + struct.pack(">I", 0x12345678) + filler,
    ]
    for p in payloads:
        c.udp(link, "10.0.1.12", 40003, "10.0.1.20", 7003, p)
    for sid, which in ((9000030, "b1"), (9000031, "j1"), (9000032, "t1"), (9000033, "e1")):
        c.expect(sid, 1, why=f"sid {sid}: datagram {which} only.")


@case("07-isdataat", "isdataat: relative, negated relative and absolute (UDP)")
def c07(c):
    c.describe("""
UDP datagrams from 10.0.1.13:40004 to 10.0.1.20:7004.
sid 9000040: content:"VGLHDR:"; isdataat:32,relative;
  i1 "VGLHDR:" + 64 bytes: match          i2 "VGLHDR:" + 8 bytes: no
sid 9000041: content:"VGLTAIL:"; isdataat:!1,relative;   (nothing may follow the marker)
  t1 "xxVGLTAIL:" (ends right after): match       t2 "VGLTAIL:0123456789": no
sid 9000042: content:"VGLABS"; depth:6; isdataat:100;    (absolute: payload longer than 100)
  a1 "VGLABS" + 200 bytes: match          a2 "VGLABS" + 20 bytes: no
No payload sits near a boundary, so Suricata's exact off-by-one conventions do not matter.""")
    link = Eth(mac(0x14), mac(0x20))
    payloads = [b"VGLHDR:" + b"H" * 64, b"VGLHDR:" + b"H" * 8, b"xxVGLTAIL:",
                b"VGLTAIL:0123456789", b"VGLABS" + b"A" * 200, b"VGLABS" + b"A" * 20]
    for p in payloads:
        c.udp(link, "10.0.1.13", 40004, "10.0.1.20", 7004, p)
    c.expect(9000040, 1, why="sid 9000040: datagram i1.")
    c.expect(9000041, 1, why="sid 9000041: datagram t1.")
    c.expect(9000042, 1, why="sid 9000042: datagram a1.")


@case("08-dsize", "dsize: range (exclusive), less-than, greater-than (UDP)")
def c08(c):
    c.describe("""
UDP datagrams from 10.0.1.14:40005 to 10.0.1.20:7005 with payload sizes
100, 300, 350, 400, 450, 2, 4 and 1200 bytes.
  sid 9000045 dsize:300<>400  -> only 350 (the range bounds are exclusive)
  sid 9000046 dsize:<4        -> only 2
  sid 9000047 dsize:>1000     -> only 1200""")
    link = Eth(mac(0x15), mac(0x20))
    for n in (100, 300, 350, 400, 450, 2, 4, 1200):
        c.udp(link, "10.0.1.14", 40005, "10.0.1.20", 7005, bytes(i % 251 for i in range(n)))
    c.expect(9000045, 1, why="sid 9000045: the 350-byte datagram.")
    c.expect(9000046, 1, why="sid 9000046: the 2-byte datagram.")
    c.expect(9000047, 1, why="sid 9000047: the 1200-byte datagram.")


@case("09-dns-udp", "DNS over UDP 53: raw-payload content and UDP flow state")
def c09(c):
    c.describe("""
Resolver 10.0.3.53:53. Each query below is its own UDP flow (distinct client port) and every
query gets a response.
  q1 10.0.3.10:53001 A vigil-beacon.example.com     9000050 (query), 9000051 (response)
  q2 10.0.3.10:53002 A Vigil-Beacon.Example.COM     9000050 (nocase), 9000051 (nocase)
  q3 10.0.3.10:53003 A www.example.com              nothing
  q4 203.0.113.9:53004 A vigil-beacon.example.com   nothing: source not in $HOME_NET (9000050)
                                                    and the response goes outside (9000051)
  q5 10.0.3.11:53005 A vigil-retry.example.com, response, then the SAME query again from the
     same port: the first query is flow:not_established (9000053), the repeated one is
     established (a reply was seen) and to_server (9000052).""")
    link = Eth(mac(0x30), mac(0x35))
    resolver = "10.0.3.53"

    def query(cli, sport, qname, qid):
        q = DNS(id=qid, rd=1, qd=DNSQR(qname=qname, qtype="A"))
        c.add_frame(link.frame(c.ip(cli, resolver) / UDP(sport=sport, dport=53) / q, True))
        return q

    def respond(cli, sport, qname, qid, answer="192.0.2.99"):
        r = DNS(id=qid, qr=1, rd=1, ra=1, qd=DNSQR(qname=qname, qtype="A"),
                an=DNSRR(rrname=qname, type="A", ttl=300, rdata=answer))
        c.add_frame(link.frame(c.ip(resolver, cli) / UDP(sport=53, dport=sport) / r, False))

    flows = [("10.0.3.10", 53001, b"vigil-beacon.example.com."),
             ("10.0.3.10", 53002, b"Vigil-Beacon.Example.COM."),
             ("10.0.3.10", 53003, b"www.example.com."),
             ("203.0.113.9", 53004, b"vigil-beacon.example.com.")]
    for i, (cli, sport, qname) in enumerate(flows):
        query(cli, sport, qname, 0x1000 + i)
        c.wait(ms=5)
        respond(cli, sport, qname, 0x1000 + i)
        c.wait(ms=20)
    query("10.0.3.11", 53005, b"vigil-retry.example.com.", 0x2000)
    c.wait(ms=5)
    respond("10.0.3.11", 53005, b"vigil-retry.example.com.", 0x2000)
    c.wait(ms=500)
    query("10.0.3.11", 53005, b"vigil-retry.example.com.", 0x2001)
    c.wait(ms=5)
    respond("10.0.3.11", 53005, b"vigil-retry.example.com.", 0x2001)
    c.expect(9000050, 1, src=endpoint("10.0.3.10", 53001), dst=endpoint(resolver, 53),
             why="sid 9000050 (query for vigil-beacon.example.com from $HOME_NET): q1 ...")
    c.expect(9000050, 1, src=endpoint("10.0.3.10", 53002), dst=endpoint(resolver, 53),
             why="... and q2.")
    c.expect(9000051, 2, src=endpoint(resolver, 53), why="""
sid 9000051 (flow:established,to_client response to $HOME_NET): the responses to q1 and q2.""")
    c.expect(9000052, 1, src=endpoint("10.0.3.11", 53005), why="""
sid 9000052 (flow:established,to_server; vigil-retry): the repeated q5 query.""")
    c.expect(9000053, 1, src=endpoint("10.0.3.11", 53005), why="""
sid 9000053 (flow:not_established,to_server; vigil-retry): the first q5 query.""")


@case("10-icmp-echo", "ICMP: itype, icode, icmp_id, icmp_seq")
def c10(c):
    c.describe("""
10.0.4.10 pings 10.0.4.20 with id 4660 (0x1234), seq 1..3; every request is answered and every
payload carries "VIGILPING". Then a ping with id 4661 seq 2 (answered), a UDP datagram
10.0.4.10:33000 -> 10.0.4.20:9 and the ICMP port-unreachable (type 3 code 3) that answers it.
  sid 9000055 itype:8; icode:0; icmp_id:4660; icmp_seq:2;   -> one echo request
  sid 9000056 itype:0; icmp_id:4660; content:"VIGILPING";   -> the three replies with id 4660
  sid 9000057 itype:3; icode:3;                             -> the port unreachable""")
    link = Eth(mac(0x40), mac(0x41))
    a, b = "10.0.4.10", "10.0.4.20"
    for ident, seq in ((4660, 1), (4660, 2), (4660, 3), (4661, 2)):
        data = b"VIGILPING-" + bytes(range(0x20, 0x46))
        c.add_frame(link.frame(c.ip(a, b) / ICMP(type=8, code=0, id=ident, seq=seq) / data, True))
        c.add_frame(link.frame(c.ip(b, a) / ICMP(type=0, code=0, id=ident, seq=seq) / data,
                               False))
        c.wait(seconds=1)
    probe = UDP(sport=33000, dport=9) / Raw(b"probe-01")
    c.add_frame(link.frame(c.ip(a, b) / probe, True))
    quoted = Raw(bytes(IP(src=a, dst=b, ttl=64, id=0x0BAD, flags="DF") / probe))
    c.add_frame(link.frame(c.ip(b, a) / ICMP(type=3, code=3) / quoted, False))
    c.expect(9000055, 1, src=a, dst=b, why="sid 9000055: the request with id 4660 seq 2.")
    c.expect(9000056, 3, src=b, dst=a, why="sid 9000056: replies seq 1, 2 and 3 of id 4660.")
    c.expect(9000057, 1, src=b, dst=a, why="sid 9000057: the port unreachable.")


@case("11-ip-header-fields", "IP header keywords: ttl, tos, ip_proto")
def c11(c):
    c.describe("""
All from 10.0.5.10.
  UDP probes to 198.51.100.30:33434..33438 with TTL 1, 2, 3, 4 and 64  -> ttl:<3 matches 1 and 2
  UDP to 198.51.100.31:5004 with TOS 0xb8 (184), 0xb9 (185) and 0x10    -> tos:184 matches one
  IP protocol 253 and 254 datagrams to 198.51.100.32                     -> ip_proto:253 one
Every other packet in the corpus has TTL >= 48, TOS 0 and a common protocol.""")
    link = Eth(mac(0x50), GW_MAC)
    for i, ttl in enumerate((1, 2, 3, 4, 64)):
        c.udp(link, "10.0.5.10", 43000 + i, "198.51.100.30", 33434 + i,
              b"VIGIL-TRACE-" + bytes([0x41 + i]) * 20, ttl=ttl)
    for i, tos in enumerate((0xB8, 0xB9, 0x10)):
        c.udp(link, "10.0.5.10", 43010 + i, "198.51.100.31", 5004, b"rtp-like-payload" * 4,
              tos=tos)
    for proto in (253, 254):
        pkt = IP(src="10.0.5.10", dst="198.51.100.32", proto=proto, ttl=64, id=c.next_ip_id())
        c.add_frame(link.frame(pkt / Raw(b"experimental protocol payload " + bytes([proto])),
                               True))
    c.expect(9000060, 1, src="10.0.5.10", dst=endpoint("198.51.100.30", 33434),
             why="sid 9000060 (ttl:<3): the TTL 1 probe ...")
    c.expect(9000060, 1, src="10.0.5.10", dst=endpoint("198.51.100.30", 33435),
             why="... and the TTL 2 probe (TTL 3 is not < 3).")
    c.expect(9000061, 1, dst=endpoint("198.51.100.31", 5004),
             why="sid 9000061 (tos:184): the TOS 0xb8 datagram.")
    c.expect(9000062, 1, src="10.0.5.10", dst="198.51.100.32",
             why="sid 9000062 (ip_proto:253): the protocol 253 datagram.")


@case("12-tcp-syn-scan", "tcp flags (flags:S,12) with threshold type limit")
def c12(c):
    c.describe("""
203.0.113.66 sends SYNs (source port 61000) to 10.0.6.20 ports 21, 22, 23, 25, 80, 110, 139,
143, 443, 445 and 3389, 10 ms apart. Closed ports answer RST/ACK; 22 and 80 answer SYN/ACK and
the scanner resets. 203.0.113.67 sends one SYN+ECE+CWR to 3389 and 203.0.113.68 one SYN+FIN
to 22.
sid 9000065: alert tcp any any -> $HOME_NET [21:23,25,110,139,445,3389] (flags:S,12;
  threshold:type limit, track by_src, count 1, seconds 60;)
  .66 matches 8 SYNs (not 80, 143, 443: outside the port list) -> limit: only the first alerts
  .67 SYN+ECE+CWR matches (the mask 12 ignores CWR and ECE)     -> its own by_src entry: 1
  .68 SYN+FIN is not exactly SYN                                -> nothing""")
    link = Eth(mac(0x60), GW_MAC)
    target = "10.0.6.20"
    for port in (21, 22, 23, 25, 80, 110, 139, 143, 443, 445, 3389):
        isn = c.rng.randrange(1 << 32)
        syn = c.ip("203.0.113.66", target, ttl=52) / TCP(sport=61000, dport=port, seq=isn,
                                                          flags="S", window=1024,
                                                          options=[("MSS", 1460)])
        c.add_frame(link.frame(syn, False))
        if port in (22, 80):
            sisn = c.rng.randrange(1 << 32)
            sa = c.ip(target, "203.0.113.66") / TCP(sport=port, dport=61000, seq=sisn,
                                                    ack=isn + 1, flags="SA", window=65160,
                                                    options=[("MSS", 1460)])
            c.add_frame(link.frame(sa, True))
            rst = c.ip("203.0.113.66", target, ttl=52) / TCP(sport=61000, dport=port,
                                                              seq=isn + 1, flags="R", window=0)
            c.add_frame(link.frame(rst, False))
        else:
            ra = c.ip(target, "203.0.113.66") / TCP(sport=port, dport=61000, seq=0, ack=isn + 1,
                                                    flags="RA", window=0)
            c.add_frame(link.frame(ra, True))
        c.wait(ms=10)
    ecn = c.ip("203.0.113.67", target, ttl=52) / TCP(sport=61001, dport=3389,
                                                      seq=c.rng.randrange(1 << 32),
                                                      flags="SEC", window=1024)
    c.add_frame(link.frame(ecn, False))
    sf = c.ip("203.0.113.68", target, ttl=52) / TCP(sport=61002, dport=22,
                                                     seq=c.rng.randrange(1 << 32), flags="SF",
                                                     window=1024)
    c.add_frame(link.frame(sf, False))
    c.expect(9000065, 1, src="203.0.113.66", dst=endpoint(target, 21), why="""
sid 9000065: the first matching SYN of 203.0.113.66 (port 21); its other 7 matches are
suppressed by the limit ...""")
    c.expect(9000065, 1, src="203.0.113.67", dst=endpoint(target, 3389),
             why="... and the SYN+ECE+CWR of 203.0.113.67.")


@case("13-detection-filter", "detection_filter: alert only after N matches")
def c13(c):
    c.describe("""
Login attempts (UDP, payload "VGL-LOGIN-ATTEMPT user=root ...") to 10.0.7.20:7012, each from a
new source port (so each is its own flow).
  203.0.113.77: 6 attempts, 1 s apart
  203.0.113.78: 2 attempts, 1 s apart
  203.0.113.79: 4 attempts, 35 s apart (t = 0, 35, 70, 105 s after its first)
sid 9000066: detection_filter:track by_src, count 3, seconds 60;
  Suricata counts matches per source from the first one; once more than 3 are seen within 60 s
  of that first match, every further match alerts. A match later than 60 s after the first
  restarts the count at 1.
  .77 -> attempts 4, 5 and 6 alert (3 alerts)
  .78 -> never more than 3 (0 alerts)
  .79 -> counts 1, 2, then the window expires at the third (count restarts at 1), 2: no alert""")
    link = Eth(mac(0x70), GW_MAC)
    sport = 41000
    for i in range(6):
        c.udp(link, "203.0.113.77", sport, "10.0.7.20", 7012,
              b"VGL-LOGIN-ATTEMPT user=root pass=guess%02d" % i, from_client=False, ttl=52)
        sport += 1
        c.wait(seconds=1)
    for i in range(2):
        c.udp(link, "203.0.113.78", sport, "10.0.7.20", 7012,
              b"VGL-LOGIN-ATTEMPT user=admin pass=guess%02d" % i, from_client=False, ttl=52)
        sport += 1
        c.wait(seconds=1)
    for i in range(4):
        c.udp(link, "203.0.113.79", sport, "10.0.7.20", 7012,
              b"VGL-LOGIN-ATTEMPT user=oper pass=guess%02d" % i, from_client=False, ttl=52)
        sport += 1
        c.wait(seconds=35)
    c.expect(9000066, 3, src="203.0.113.77", why="sid 9000066: attempts 4-6 of 203.0.113.77.")


@case("14-flowbits", "flowbits: set + noalert, isset, isnotset across packets of a flow")
def c14(c):
    c.describe("""
Two UDP flows to 10.0.8.20:7010.
  Flow A 10.0.8.10:50001: A1 "VGLFB-LOGIN user=alice" (client), A2 "VGLFB-WELCOME alice"
          (server reply), A3 "VGLFB-CMD list" (client)
  Flow B 10.0.8.11:50002: B1 "VGLFB-CMD list" (client), B2 "VGLFB-WELCOME bob" (server reply)
sid 9000070 sets vigil.fb.login on LOGIN and has flowbits:noalert -> never alerts
sid 9000071 WELCOME with flowbits:isset,vigil.fb.login           -> A2 only
sid 9000072 CMD with flowbits:isnotset,vigil.fb.login            -> B1 only (A3: bit is set)""")
    link = Eth(mac(0x80), mac(0x81))
    srv = "10.0.8.20"
    c.udp(link, "10.0.8.10", 50001, srv, 7010, b"VGLFB-LOGIN user=alice")
    c.udp(link, srv, 7010, "10.0.8.10", 50001, b"VGLFB-WELCOME alice", from_client=False)
    c.udp(link, "10.0.8.10", 50001, srv, 7010, b"VGLFB-CMD list")
    c.wait(ms=100)
    c.udp(link, "10.0.8.11", 50002, srv, 7010, b"VGLFB-CMD list")
    c.udp(link, srv, 7010, "10.0.8.11", 50002, b"VGLFB-WELCOME bob", from_client=False)
    c.expect(9000070, 0, why="sid 9000070: flowbits:noalert.")
    c.expect(9000071, 1, src=endpoint(srv, 7010), dst=endpoint("10.0.8.10", 50001),
             why="sid 9000071: A2.")
    c.expect(9000072, 1, src=endpoint("10.0.8.11", 50002), dst=endpoint(srv, 7010),
             why="sid 9000072: B1.")


def _canary_session(c, link, cli, cport, srv, sport, canary, request_ext=None):
    """Handshake, one request line of a made-up protocol carrying the canary, a reply, close.
    Deliberately not HTTP: no app-layer parser of a Suricata-like engine should get
    involved in the cases that only test decoding and flow tracking."""
    t = c.tcp(link, cli, cport, srv, sport)
    t.handshake()
    t.client(b"VGLSTORE key=k1 canary=" + canary + b"\r\n", ext=request_ext)
    t.server(b"VGLSTORE-OK k1\r\n")
    t.close()


@case("15-vlan-8021q", "802.1Q VLAN-tagged TCP session; the VLAN id is part of the flow key")
def c15(c):
    c.describe("""
A TCP session 10.0.9.10:51000 -> 10.0.9.20:7100 on VLAN 100 (full handshake, one request line
holding "VIGIL-CANARY-VLAN", a reply, close). Afterwards the same client packet (same
5-tuple and canary) appears on VLAN 200 with no handshake there. With Suricata's default
vlan.use-for-tracking: true the VLAN 200 packet belongs to a different, never-established
flow.
sid 9000075: flow:established,to_server; content:"VIGIL-CANARY-VLAN";""")
    link100 = Eth(mac(0x90), mac(0x91), tags=[("q", 100)])
    link200 = Eth(mac(0x90), mac(0x91), tags=[("q", 200)])
    _canary_session(c, link100, "10.0.9.10", 51000, "10.0.9.20", 7100, b"VIGIL-CANARY-VLAN")
    c.wait(ms=100)
    t = c.tcp(link200, "10.0.9.10", 51000, "10.0.9.20", 7100)
    t.send(True, "PA", b"VGLSTORE key=k1 canary=VIGIL-CANARY-VLAN\r\n")
    c.expect(9000075, 1, src=endpoint("10.0.9.10", 51000), dst=endpoint("10.0.9.20", 7100),
             why="sid 9000075: the VLAN 100 request only.")


@case("16-vlan-qinq", "QinQ: 802.1ad + 802.1Q and double 802.1Q tagged TCP sessions")
def c16(c):
    c.describe("""
Two TCP sessions to 10.0.9.21:7100, each a full handshake, one request line carrying
"VIGIL-CANARY-QINQ", a reply and a close:
  10.0.9.11:51001 with an outer 802.1ad tag (0x88a8, S-VLAN 300) and inner 802.1Q (C-VLAN 10)
  10.0.9.12:51002 with two 802.1Q tags (0x8100 VLAN 301, 0x8100 VLAN 11)
sid 9000076: flow:established,to_server; content:"VIGIL-CANARY-QINQ";""")
    _canary_session(c, Eth(mac(0x92), mac(0x93), tags=[("ad", 300), ("q", 10)]),
                    "10.0.9.11", 51001, "10.0.9.21", 7100, b"VIGIL-CANARY-QINQ")
    c.wait(ms=100)
    _canary_session(c, Eth(mac(0x94), mac(0x93), tags=[("q", 301), ("q", 11)]),
                    "10.0.9.12", 51002, "10.0.9.21", 7100, b"VIGIL-CANARY-QINQ")
    c.expect(9000076, 1, src=endpoint("10.0.9.11", 51001), why="sid 9000076: session 1 ...")
    c.expect(9000076, 1, src=endpoint("10.0.9.12", 51002), why="... and session 2.")


@case("17-mpls", "MPLS (two-label stack) carrying an IPv4 TCP session")
def c17(c):
    c.describe("""
Every frame is Ethernet type 0x8847 with labels 1001 and 2001 (bottom of stack), then IPv4.
TCP session 10.0.9.13:51003 -> 198.51.100.40:7100: handshake, one request line carrying
"VIGIL-CANARY-MPLS", a reply, close.
sid 9000077: flow:established,to_server; content:"VIGIL-CANARY-MPLS";""")
    _canary_session(c, Mpls(mac(0x95), GW_MAC, [1001, 2001]), "10.0.9.13", 51003,
                    "198.51.100.40", 7100, b"VIGIL-CANARY-MPLS")
    c.expect(9000077, 1, src=endpoint("10.0.9.13", 51003),
             dst=endpoint("198.51.100.40", 7100), why="sid 9000077: the request.")


@case("18-ipv6-hopbyhop", "IPv6 TCP session; the request carries a hop-by-hop header")
def c18(c):
    c.describe("""
TCP over IPv6 from [2001:db8::10]:49152 to [2001:db8::80]:7100: handshake, one request line
carrying "VIGIL-CANARY-IPV6", a reply, close. The request packet has a Hop-by-Hop Options extension
header (Router Alert + PadN) between the IPv6 header and TCP; all other packets have none.
sid 9000078: flow:established,to_server; content:"VIGIL-CANARY-IPV6";""")
    hbh = IPv6ExtHdrHopByHop(options=[RouterAlert(value=0), PadN(optdata=b"")])
    _canary_session(c, Eth(mac(0xA0), GW_MAC), "2001:db8::10", 49152, "2001:db8::80", 7100,
                    b"VIGIL-CANARY-IPV6", request_ext=hbh)
    c.expect(9000078, 1, src=endpoint("2001:db8::10", 49152),
             dst=endpoint("2001:db8::80", 7100),
             why="sid 9000078: the request (IPv6 addresses in brackets when a port follows).")


@case("19-linux-sll", "Linux cooked capture (linktype 113) TCP session",
      linktype=LINKTYPE_LINUX_SLL)
def c19(c):
    c.describe("""
Captured with "tcpdump -i any" style SLL headers on the client (outgoing packets pkttype 4,
incoming 0). TCP session 10.0.9.14:51004 -> 198.51.100.41:7100: handshake, one request line
carrying "VIGIL-CANARY-SLL", a reply, close.
sid 9000079: flow:established,to_server; content:"VIGIL-CANARY-SLL";""")
    _canary_session(c, Sll(mac(0xA1), GW_MAC), "10.0.9.14", 51004, "198.51.100.41", 7100,
                    b"VIGIL-CANARY-SLL")
    c.expect(9000079, 1, src=endpoint("10.0.9.14", 51004), why="sid 9000079: the request.")


@case("20-raw-ip", "raw IP (linktype 101) with IPv4 and IPv6 datagrams", linktype=LINKTYPE_RAW)
def c20(c):
    c.describe("""
No link layer: each record starts with the IP header. One UDP datagram over IPv4
(10.0.9.15:51005 -> 198.51.100.42:7020) and one over IPv6 ([2001:db8::15]:51006 ->
[2001:db8::42]:7020), both carrying "VIGIL-CANARY-RAWIP". The IP version nibble decides.
sid 9000080: alert udp ... 7020 (content:"VIGIL-CANARY-RAWIP";)""")
    link = RawIp()
    c.udp(link, "10.0.9.15", 51005, "198.51.100.42", 7020, b"hello VIGIL-CANARY-RAWIP v4")
    c.udp(link, "2001:db8::15", 51006, "2001:db8::42", 7020, b"hello VIGIL-CANARY-RAWIP v6")
    c.expect(9000080, 1, src=endpoint("10.0.9.15", 51005), why="sid 9000080: the IPv4 datagram")
    c.expect(9000080, 1, src=endpoint("2001:db8::15", 51006), why="and the IPv6 datagram.")


@case("21-pcapng", "pcapng file format (SHB, IDB, EPBs) with an Ethernet TCP session",
      fmt="pcapng")
def c21(c):
    c.describe("""
The same kind of session as the other canary cases, but the file is pcapng (named .pcap like
the rest; readers must detect the format from the magic number): one section header, one
Ethernet interface (if_tsresol 6 = microseconds) and enhanced packet blocks.
TCP session 10.0.9.16:51007 -> 198.51.100.43:7100 with "VIGIL-CANARY-PCAPNG" in the request.
sid 9000081: flow:established,to_server; content:"VIGIL-CANARY-PCAPNG";""")
    _canary_session(c, Eth(mac(0xA2), GW_MAC), "10.0.9.16", 51007, "198.51.100.43", 7100,
                    b"VIGIL-CANARY-PCAPNG")
    c.expect(9000081, 1, src=endpoint("10.0.9.16", 51007), why="sid 9000081: the request.")


@case("22-bidir-negation-ports", "bidirectional rule (<>), !$HOME_NET, port ranges")
def c22(c):
    c.describe("""
sid 9000085: alert tcp 192.0.2.0/24 any <> $HOME_NET 6660:6669 (flow:established;
  content:"PRIVMSG #vigil";)
  IRC session 192.0.2.50:52000 -> 10.0.10.5:6667: the client's PRIVMSG matches as written,
    the server's PRIVMSG (10.0.10.5:6667 -> 192.0.2.50:52000) matches the reversed direction
  same exchange from 198.51.100.60:52001 -> 10.0.10.5:6667: source not in 192.0.2.0/24
  same exchange from 192.0.2.51:52002 -> 10.0.10.5:7000: port outside 6660:6669
sid 9000086: alert udp !$HOME_NET any -> $HOME_NET [1000:2000,!1500] (content:"VIGIL-PORTRANGE";)
  203.0.113.20:40000 -> 10.0.10.6 ports 1200, 1000, 2000 (range bounds are inclusive): match
  203.0.113.20:40000 -> 10.0.10.6 ports 1500 (excluded) and 2500 (outside): no
  10.0.10.7:40001 -> 10.0.10.6:1200 (source in $HOME_NET): no
  203.0.113.20:40000 -> 198.51.100.9:1200 (destination outside $HOME_NET): no
  10.0.10.6:1200 -> 203.0.113.20:40000 (the reply, from $HOME_NET): no""")
    irc = [("192.0.2.50", 52000, 6667), ("198.51.100.60", 52001, 6667),
           ("192.0.2.51", 52002, 7000)]
    for i, (cli, cport, sport) in enumerate(irc):
        t = c.tcp(Eth(mac(0xB0 + i), mac(0xB5)), cli, cport, "10.0.10.5", sport, ttl_c=50)
        t.handshake()
        t.client(b"NICK vguest\r\nUSER vguest 0 * :Vigil Guest\r\n")
        t.server(b":irc.vigil.test 001 vguest :Welcome\r\n")
        t.client(b"PRIVMSG #vigil :hello from outside\r\n")
        t.server(b":op!op@irc.vigil.test PRIVMSG #vigil :welcome, vguest\r\n")
        t.close()
        c.wait(ms=100)
    link = Eth(mac(0xB8), mac(0xB9))
    for dport in (1200, 1000, 2000, 1500, 2500):
        c.udp(link, "203.0.113.20", 40000, "10.0.10.6", dport, b"VIGIL-PORTRANGE probe",
              from_client=False, ttl=50)
    c.udp(link, "10.0.10.7", 40001, "10.0.10.6", 1200, b"VIGIL-PORTRANGE probe")
    c.udp(link, "203.0.113.20", 40000, "198.51.100.9", 1200, b"VIGIL-PORTRANGE probe",
          from_client=False, ttl=50)
    c.udp(link, "10.0.10.6", 1200, "203.0.113.20", 40000, b"VIGIL-PORTRANGE reply")
    c.expect(9000085, 1, src=endpoint("192.0.2.50", 52000), dst=endpoint("10.0.10.5", 6667),
             why="sid 9000085: the client's PRIVMSG ...")
    c.expect(9000085, 1, src=endpoint("10.0.10.5", 6667), dst=endpoint("192.0.2.50", 52000),
             why="... and the server's PRIVMSG (reverse direction of <>).")
    for dport in (1200, 1000, 2000):
        c.expect(9000086, 1, src=endpoint("203.0.113.20", 40000),
                 dst=endpoint("10.0.10.6", dport), why=f"sid 9000086: port {dport}.")


@case("23-drop-action", "a drop rule alerts with action \"allowed\" in IDS (replay) mode")
def c23(c):
    c.describe("""
TCP session 10.0.11.10:53100 -> 198.51.100.70:8000: handshake, one request containing
"VIGIL-DROP-ME", response, close. sid 9000090 is a `drop` rule; replaying a pcap is IDS mode,
so nothing is dropped and the EVE alert says "action": "allowed".""")
    link = Eth(mac(0xC0), GW_MAC)
    t = c.tcp(link, "10.0.11.10", 53100, "198.51.100.70", 8000)
    t.handshake()
    t.client(http_get("/api/exec?cmd=VIGIL-DROP-ME", "198.51.100.70:8000"))
    t.server(http_response(b"denied\n", status="403 Forbidden", ctype="text/plain"))
    t.close()
    c.expect(9000090, 1, src=endpoint("10.0.11.10", 53100), dst=endpoint("198.51.100.70", 8000),
             action="allowed", why="sid 9000090: the request; IDS mode reports it as allowed.")


@case("24-malformed", "malformed packets must neither alert nor crash; one good packet alerts")
def c24(c):
    c.describe("""
Every frame carries "VIGIL-MALFORMED-CANARY" where a careless decoder would find it. Only the
well-formed TCP session (10.0.12.10:53200 -> 198.51.100.90:8080) and the well-formed UDP
datagram (10.0.12.10:53299 -> 198.51.100.90:9999) may alert. Frames, in order:
  m1  IPv4 header length (IHL) 4, i.e. 16 bytes < 20
  m2  IPv4 total length 1500, but only 82 bytes of IP are present
  m3  TCP header cut after 12 bytes (IP total length says so)
  m4  TCP data offset 15 (60-byte header) but only 50 bytes of TCP follow
  m5  TCP data offset 3 (12 bytes, below the 20-byte minimum)
  --  good TCP session: handshake, request with the canary, response, close
  m6  UDP length field 200, only 38 bytes of UDP present
  m7  Ethernet frame of 10 bytes (truncated Ethernet header)
  m8  IP version 5 behind EtherType 0x0800
  m9  capture truncated by snaplen: frame is 120 bytes on the wire but only 80 were captured
      (IPv4 total length larger than the captured data)
  m10 IPv6 hop-by-hop header claiming 64 bytes when only 50 bytes of IPv6 payload exist
  --  good UDP datagram
sid 9000095 (alert tcp ... content:"VIGIL-MALFORMED-CANARY") and sid 9000096 (alert udp, same
content) have no flow keyword.""")
    link = Eth(mac(0xD0), GW_MAC)
    eth = bytes(Ether(src=mac(0xD0), dst=GW_MAC, type=0x0800))
    canary = b"VIGIL-MALFORMED-CANARY"
    cli, srv = "10.0.12.10", "198.51.100.90"

    def fix_csum(ip):
        """Recomputes the IPv4 header checksum so each frame has only its intended defect."""
        hlen = (ip[0] & 0x0F) * 4
        if ip[0] >> 4 == 4 and hlen >= 20:
            ip[10:12] = b"\0\0"
            words = struct.unpack(">%dH" % (hlen // 2), bytes(ip[:hlen]))
            total = sum(words)
            while total >> 16:
                total = (total & 0xFFFF) + (total >> 16)
            ip[10:12] = struct.pack(">H", ~total & 0xFFFF)
        return bytes(ip)

    def tcp_ip(sport, payload=canary):
        return bytearray(bytes(IP(src=cli, dst=srv, ttl=64, id=c.next_ip_id(), flags="DF")
                               / TCP(sport=sport, dport=8080, seq=1000, ack=2000, flags="PA",
                                     window=64240) / Raw(payload)))

    m1 = tcp_ip(53201)
    m1[0] = 0x44
    c.add_frame(eth + bytes(m1))
    m2 = tcp_ip(53202)
    m2[2:4] = struct.pack(">H", 1500)
    c.add_frame(eth + fix_csum(m2))
    m3 = tcp_ip(53203)[:32]
    m3[2:4] = struct.pack(">H", 32)
    c.add_frame(eth + fix_csum(m3))
    m4 = tcp_ip(53204, canary + b"\r\n" * 4)[:70]
    m4[2:4] = struct.pack(">H", 70)
    m4[32] = 0xF0 | (m4[32] & 0x0F)
    c.add_frame(eth + fix_csum(m4))
    m5 = tcp_ip(53205)
    m5[32] = 0x30 | (m5[32] & 0x0F)
    c.add_frame(eth + fix_csum(m5))
    c.wait(ms=10)
    t = c.tcp(link, cli, 53200, srv, 8080)
    t.handshake()
    t.client(b"VGLSTORE key=m canary=" + canary + b"\r\n")
    t.server(b"VGLSTORE-OK m\r\n")
    t.close()
    c.wait(ms=10)
    m6 = bytearray(bytes(IP(src=cli, dst=srv, ttl=64, id=c.next_ip_id())
                         / UDP(sport=53206, dport=9999) / Raw(canary + b"xxxxxxxx")))
    m6[24:26] = struct.pack(">H", 200)
    c.add_frame(eth + fix_csum(m6))
    c.add_frame(eth[:10])
    m8 = tcp_ip(53208)
    m8[0] = 0x55
    c.add_frame(eth + bytes(m8))
    m9 = eth + bytes(tcp_ip(53209, canary + b"." * 44))
    c.add_frame(m9[:80], wire_len=len(m9))
    hbh = bytearray(bytes(IPv6(src="2001:db8::d0", dst="2001:db8::90", hlim=64)
                          / IPv6ExtHdrHopByHop(options=[PadN(optdata=b"\0" * 4)])
                          / TCP(sport=53210, dport=8080, seq=1, ack=1, flags="PA",
                                window=64240) / Raw(canary)))
    hbh[41] = 7  # hdr ext len 7 -> (7+1)*8 = 64 bytes, but only 50 bytes follow the IPv6 header
    c.add_frame(bytes(Ether(src=mac(0xD0), dst=GW_MAC, type=0x86DD)) + bytes(hbh))
    c.wait(ms=10)
    c.udp(link, cli, 53299, srv, 9999, b"good datagram " + canary)
    c.expect(9000095, 1, src=endpoint(cli, 53200), dst=endpoint(srv, 8080),
             why="sid 9000095: only the request of the good TCP session.")
    c.expect(9000096, 1, src=endpoint(cli, 53299), dst=endpoint(srv, 9999),
             why="sid 9000096: only the good UDP datagram (not m6).")


@case("25-et-style", "ET-style rule: several contents, fast_pattern, negated header, metadata")
def c25(c):
    c.describe("""
Five HTTP sessions from 10.0.12.20:53300..53304 to 198.51.100.80:80 ($EXTERNAL_NET,
$HTTP_PORTS), each a handshake, one request, a response and a close.
sid 9000100: flow:established,to_server; content:"POST "; depth:5; content:"/gate.php";
  distance:0; within:9; fast_pattern; content:"User-Agent|3a 20|VigilBot/"; distance:0;
  content:!"Referer|3a 20|";
  0 POST /gate.php, User-Agent: VigilBot/2.1, no Referer   match
  1 POST /gate.php, browser User-Agent                     no
  2 POST /gate.php, VigilBot with a Referer header         no (negated content)
  3 GET  /gate.php, VigilBot                               no ("POST " at depth 5)
  4 POST /x/gate.php, VigilBot                             no (/gate.php must start at byte 5)""")
    link = Eth(mac(0xE0), GW_MAC)
    body = b"id=4f2a9c&os=win10&v=2.1"
    bot = "User-Agent: VigilBot/2.1 (Windows NT 10.0)"
    firefox = "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Firefox/121.0"
    variants = [("POST", "/gate.php", [bot]),
                ("POST", "/gate.php", [firefox]),
                ("POST", "/gate.php", [bot, "Referer: http://news.example.org/"]),
                ("GET", "/gate.php", [bot]),
                ("POST", "/x/gate.php", [bot])]
    for i, (method, path, headers) in enumerate(variants):
        lines = [f"{method} {path} HTTP/1.1", "Host: c2.example.org"] + headers
        lines += ["Content-Type: application/x-www-form-urlencoded",
                  f"Content-Length: {len(body)}"]
        req = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        t = c.tcp(link, "10.0.12.20", 53300 + i, "198.51.100.80", 80)
        t.handshake()
        t.client(req)
        t.server(http_response(b"OK", ctype="text/plain"))
        t.close()
        c.wait(ms=50)
    c.expect(9000100, 1, src=endpoint("10.0.12.20", 53300), dst=endpoint("198.51.100.80", 80),
             why="sid 9000100: session 0 only.")


@case("26-benign-mix", "ordinary traffic that must not raise any alert")
def c26(c):
    c.describe("""
A short mix of everyday traffic from 10.0.13.10: two HTTP GETs with a multi-segment response
(4000 bytes in 1460-byte segments), DNS lookups of www.example.org and mail.example.net, an
NTP exchange, a TLS-looking exchange on 443 (random bytes after a handshake-like header) and a
ping with id 0x4242. None of it contains a canary string, a low TTL, TOS 184, IP protocol
253, a SYN to a scanned port or a byte pattern any rule looks for.""")
    link = Eth(mac(0xF0), GW_MAC)
    cli = "10.0.13.10"
    page = (b"<html><head><title>Example</title></head><body>"
            + b"".join(b"<p>paragraph %04d lorem ipsum dolor sit amet</p>\n" % i
                       for i in range(80)) + b"</body></html>\n")
    page = page[:4000]
    for i, path in enumerate(("/index.html", "/about.html")):
        t = c.tcp(link, cli, 54000 + i, "198.51.100.200", 80)
        t.handshake()
        t.client(http_get(path, "www.example.org"))
        t.server(http_response(page))
        t.close()
        c.wait(ms=30)
    for i, name in enumerate((b"www.example.org.", b"mail.example.net.")):
        q = DNS(id=0x3000 + i, rd=1, qd=DNSQR(qname=name, qtype="A"))
        c.add_frame(link.frame(c.ip(cli, "10.0.13.53") / UDP(sport=54100 + i, dport=53) / q,
                               True))
        r = DNS(id=0x3000 + i, qr=1, rd=1, ra=1, qd=DNSQR(qname=name, qtype="A"),
                an=DNSRR(rrname=name, type="A", ttl=60, rdata="198.51.100.200"))
        c.add_frame(link.frame(c.ip("10.0.13.53", cli) / UDP(sport=53, dport=54100 + i) / r,
                               False))
    ntp = bytes([0x23]) + bytes(47)
    c.udp(link, cli, 54123, "198.51.100.123", 123, ntp)
    c.udp(link, "198.51.100.123", 123, cli, 54123, bytes([0x24, 2]) + bytes(46),
          from_client=False)
    rng = random.Random("vigil-pcaps/26/tls")
    t = c.tcp(link, cli, 54200, "198.51.100.201", 443)
    t.handshake()
    t.client(bytes([0x16, 0x03, 0x01, 0x00, 0xC8]) + bytes([rng.randrange(256)
                                                           for _ in range(200)]))
    t.server(bytes([0x16, 0x03, 0x03, 0x05, 0xDC]) + bytes([rng.randrange(256)
                                                           for _ in range(1500)]))
    t.client(bytes([0x17, 0x03, 0x03, 0x01, 0x00]) + bytes([rng.randrange(256)
                                                           for _ in range(256)]))
    t.close()
    for seq in (1, 2):
        c.add_frame(link.frame(c.ip(cli, "198.51.100.200") / ICMP(type=8, id=0x4242, seq=seq)
                               / (b"abcdefghijklmnopqrstuvwabcdefghi"), True))
        c.add_frame(link.frame(c.ip("198.51.100.200", cli, ttl=55)
                               / ICMP(type=0, id=0x4242, seq=seq)
                               / (b"abcdefghijklmnopqrstuvwabcdefghi"), False))
        c.wait(seconds=1)


# --------------------------------------------------------------------------------------------
# Evasion cases (27+): TCP reassembly, IP defragmentation, app layer. They need the sensor
# configuration pcaps/replay.yaml, which maps one server address to each overlap policy:
# --------------------------------------------------------------------------------------------

POLICY_ADDR = {"first": "203.0.113.11", "last": "203.0.113.12", "linux": "203.0.113.13",
               "windows": "203.0.113.14", "solaris": "203.0.113.15",
               "bsd": "203.0.113.16"}  # .16 is not listed in replay.yaml: the default, bsd
POLICIES = ("first", "last", "bsd", "linux", "windows", "solaris")


def tcp_new_wins(policy, ns, ne, os_, oe):
    """Suricata's TCP overlap policies (stream-tcp-list.c, DoHandleDataOverlap, IDS mode):
    whether a NEW segment [ns, ne) replaces the bytes of an OLD buffered one [os_, oe)."""
    if policy == "first":
        return False
    if policy == "last":
        return True
    if policy in ("bsd", "windows"):  # also hpux10, irix, macos, windows2k3
        return ns < os_
    if policy == "linux":
        return ns < os_ or (ns == os_ and ne > oe)
    if policy == "solaris":  # also hpux11
        return ne > oe or (ne == oe and ns <= os_)
    raise ValueError(policy)


def frag_new_wins(policy, ns, ne, os_, oe):
    """Target-based IP defragmentation (Novak; Suricata defrag.c): whether a NEW fragment
    [ns, ne) replaces the bytes of an OLD one [os_, oe)."""
    return {"first": False, "last": True, "bsd": ns < os_, "linux": ns <= os_,
            "windows": ns < os_ and ne > oe, "solaris": ns < os_ and ne >= oe}[policy]


def reassemble(pieces, policy, new_wins):
    """Pieces [(offset, bytes)] in arrival order -> the bytes the receiver ends up with. Each
    byte is resolved pairwise between the new piece and the piece that owns it now (the
    cases keep every overlap between exactly two pieces, so this is unambiguous)."""
    owner, data = {}, {}
    for off, payload in pieces:
        ns, ne = off, off + len(payload)
        for i, b in enumerate(payload):
            pos = off + i
            if pos not in owner or new_wins(policy, ns, ne, *owner[pos]):
                owner[pos], data[pos] = (ns, ne), b
    end = max(data) + 1
    assert sorted(data) == list(range(end)), "pieces leave a hole"
    return bytes(data[i] for i in range(end))


def policy_table(pieces, new_wins, has_canary, want, show=lambda b: b):
    """Describes the reassembly of `pieces` under every policy; asserts that exactly the
    policies in `want` produce the canary (the case is built wrong otherwise)."""
    lines, got = [], set()
    for pol in POLICIES:
        out = reassemble(pieces, pol, new_wins)
        hit = has_canary(out)
        if hit:
            got.add(pol)
        lines.append(f"  {pol:8} {show(out)!r}{'   <- canary' if hit else ''}")
    assert got == set(want), (got, want)
    return "\n".join(lines)


def _overlay(target, a, b, decoy_from=None, decoy_to=None, decoy=b"x"):
    """target[a:b] with bytes [decoy_from, decoy_to) (absolute offsets) replaced by decoys."""
    out = bytearray(target[a:b])
    if decoy_from is not None:
        for pos in range(max(a, decoy_from), min(b, decoy_to)):
            out[pos - a] = decoy[0] if len(decoy) == 1 else decoy[pos - decoy_from]
    return bytes(out)


@case("27-tcp-split-segments", "stream: a canary split over two segments and over 1-byte segments")
def c27(c):
    c.describe("""
Two TCP connections from 10.0.20.27 to 198.51.100.150:7301, each a handshake, one request
line "VGLSTORE key=s canary=VIGIL-SPLIT-CANARY-0027\\r\\n", a reply and a close:
  :56000 sends the line in two segments, cut inside the canary ("...VIGIL-SPLIT-" |
         "CANARY-0027\\r\\n"); the server acknowledges each
  :56001 sends it one byte per segment (45 segments, each acknowledged)
No packet carries the whole canary: only the reassembled stream does.
sid 9000101: flow:established,to_server; content:"VIGIL-SPLIT-CANARY-0027";
The match completes with the segment holding its last byte ("7"): one alert per connection,
on that packet; later segments add no new match (the alert is not repeated).""")
    link = Eth(mac(0x127), GW_MAC)
    line = b"VGLSTORE key=s canary=VIGIL-SPLIT-CANARY-0027\r\n"
    cut = line.index(b"CANARY")
    t = c.tcp(link, "10.0.20.27", 56000, "198.51.100.150", 7301)
    t.handshake()
    t.client(line[:cut])
    t.client(line[cut:])
    t.server(b"VGLSTORE-OK s\r\n")
    t.close()
    c.wait(ms=50)
    t = c.tcp(link, "10.0.20.27", 56001, "198.51.100.150", 7301)
    t.handshake()
    for i in range(len(line)):
        t.client(line[i:i + 1])
    t.server(b"VGLSTORE-OK s\r\n")
    t.close()
    srv = endpoint("198.51.100.150", 7301)
    c.expect(9000101, 1, src=endpoint("10.0.20.27", 56000), dst=srv,
             why="sid 9000101: the two-segment connection, on its second segment ...")
    c.expect(9000101, 1, src=endpoint("10.0.20.27", 56001), dst=srv,
             why="... and the 1-byte-segment connection, on the segment carrying the final '7'.")


@case("28-tcp-out-of-order", "stream: out-of-order segments; the hole-filling packet alerts")
def c28(c):
    c.describe("""
TCP 10.0.20.28 -> 198.51.100.151:7302, request line
"VGLSTORE key=o canary=VIGIL-OOO-CANARY-0028 tail\\r\\n" cut into three segments
s1 = bytes [0,26) "...VIGI", s2 = [26,36) "L-OOO-CANA", s3 = [36,52) "RY-0028 tail\\r\\n".
  :56100 sends s1, s3, s2: s3 is buffered behind the hole [26,36); s2 fills it and makes
         the canary contiguous, so s2 is the packet that alerts
  :56101 sends s3, s2, s1 (fully reversed): s1 fills the hole at the start and alerts
The server answers every out-of-order segment with a duplicate ACK of the contiguous prefix.
No single segment holds the canary, except on
  :56102, which sends [23,52) "VIGIL-OOO-CANARY-0028 tail\r\n" (the whole canary) ahead of
         the hole [0,23), then fills the hole: the canary is one match position, so it
         alerts once, on the hole-filling packet that delivers it to the stream (not also on
         the out-of-order packet that carried it).
sid 9000102: flow:established,to_server; content:"VIGIL-OOO-CANARY-0028";""")
    link = Eth(mac(0x128), GW_MAC)
    line = b"VGLSTORE key=o canary=VIGIL-OOO-CANARY-0028 tail\r\n"
    segs = [(0, line[:26]), (26, line[26:36]), (36, line[36:])]
    assert all(b"VIGIL-OOO-CANARY-0028" not in s for _, s in segs)
    for cport, order in ((56100, (0, 2, 1)), (56101, (2, 1, 0))):
        t = c.tcp(link, "10.0.20.28", cport, "198.51.100.151", 7302)
        t.handshake()
        have = set()
        for i in order:
            off, data = segs[i]
            t.send(True, "PA", data, at=off, ack_at=0)
            have.add(i)
            contiguous = 0
            for j, (o, d) in enumerate(segs):
                if j not in have:
                    break
                contiguous = o + len(d)
            t.send(False, "A", ack_at=contiguous)
        t.data_end(True, len(line))
        t.server(b"VGLSTORE-OK o\r\n")
        t.close()
        c.wait(ms=50)
    # :56102: the whole canary in one out-of-order segment.
    t = c.tcp(link, "10.0.20.28", 56102, "198.51.100.151", 7302)
    t.handshake()
    t.send(True, "PA", line[23:], at=23, ack_at=0)
    t.send(False, "A", ack_at=0)
    t.send(True, "PA", line[:23], at=0, ack_at=0)
    t.send(False, "A", ack_at=len(line))
    t.data_end(True, len(line))
    t.server(b"VGLSTORE-OK o\r\n")
    t.close()
    c.wait(ms=50)
    srv = endpoint("198.51.100.151", 7302)
    c.expect(9000102, 1, src=endpoint("10.0.20.28", 56100), dst=srv,
             why="sid 9000102: order s1 s3 s2, on s2 ...")
    c.expect(9000102, 1, src=endpoint("10.0.20.28", 56101), dst=srv,
             why="... and order s3 s2 s1, on s1.")
    c.expect(9000102, 1, src=endpoint("10.0.20.28", 56102), dst=srv,
             why="... and once (not twice) when one out-of-order segment holds it all.")


TCP_OVL_TARGET = b"OVL VIGIL-TCP-OVERLAP-CANARY end\r\n"
TCP_OVL_CANARY = b"VIGIL-TCP-OVERLAP-CANARY"
TCP_OVL_HOLE = 10  # bytes [0,10) = "OVL VIGIL-": sent last, it fills the hole

# Per policy: the out-of-order pieces (start, end, decoy_from, decoy_to) sent, in this order,
# before the hole [0,10) is filled, and why only that policy ends up with the canary.
# Offsets are stream offsets; the region [10,28) holds "TCP-OVERLAP-CANARY".
TCP_OVL_DESIGNS = {
    "first": ([(11, 19, None, None), (10, 20, 11, 19), (20, 28, None, None)], ("first",), """
old [11,19) carries the true bytes; new [10,20) starts before AND ends after it, with
decoys where they overlap. Every policy but first lets such a segment win (bsd/windows/
linux: it starts before; solaris: it ends after; last: it is newer)."""),
    "last": ([(10, 20, 12, 18), (12, 18, None, None), (20, 28, None, None)], ("last",), """
old [10,20) has decoys in [12,18); new [12,18) lies strictly inside it with the true
bytes. A segment that starts after and ends before the old one loses under every policy but
last."""),
    "bsd": ([(12, 16, 12, 14), (10, 14, None, None), (16, 20, None, None), (16, 22, 16, 20),
             (22, 28, None, None)], ("bsd", "windows"), """
overlap 1: old [12,16) (decoys in [12,14)), new [10,14) starts before it and ends inside
  it: bsd, windows, linux and last take the new (true) bytes; first and solaris keep old.
overlap 2: old [16,20) true, new [16,22) starts at the same byte and ends after it, with
  decoys over [16,20): bsd and windows keep the old bytes; linux, solaris, last take new.
Only bsd and windows get both right. Suricata's windows TCP policy is the same as bsd (new
data wins only when it starts before the old), so no capture can tell them apart."""),
    "linux": ([(10, 14, 10, 14), (10, 16, None, None), (16, 20, None, None),
               (16, 20, 16, 20), (20, 28, None, None)], ("linux",), """
overlap 1: old [10,14) decoys, new [10,16) true, same start and ends after: linux,
  solaris and last take the new bytes; bsd, windows and first keep the old.
overlap 2: old [16,20) true, new [16,20) decoys, the exact same range: linux keeps the
  old bytes; solaris and last take the new.
Only linux gets both right."""),
    "windows": ([(12, 16, 12, 14), (10, 14, None, None), (16, 20, None, None),
                 (16, 22, 16, 20), (22, 28, None, None)], ("bsd", "windows"), """
The bsd design (see 31-tcp-overlap-bsd): overlap 1, new [10,14) starting before old
[12,16), must win; overlap 2, new [16,22) starting at old [16,20), must lose. Suricata's
windows TCP policy equals bsd, so this case cannot tell windows from the default; it
proves windows is not handled like first (which would keep the decoys of overlap 1),
linux, solaris or last (which would take the decoys of overlap 2)."""),
    "solaris": ([(10, 14, 12, 14), (12, 16, None, None), (16, 24, None, None),
                 (18, 22, 18, 22), (24, 28, None, None)], ("solaris",), """
overlap 1: old [10,14) (decoys in [12,14)), new [12,16) true, starting after and ending
  after it: only solaris and last take the new bytes.
overlap 2: old [16,24) true, new [18,22) decoys strictly inside it: solaris keeps the old
  bytes, last takes the new.
Only solaris gets both right."""),
}


def _tcp_overlap_case(c, policy, num):
    pieces_spec, want, why = TCP_OVL_DESIGNS[policy]
    srv = POLICY_ADDR[policy]
    cli, cport = "10.0.20.%d" % num, 56000 + num * 10
    pieces = [(a, _overlay(TCP_OVL_TARGET, a, b, df, dt)) for a, b, df, dt in pieces_spec]
    hole = (0, TCP_OVL_TARGET[:TCP_OVL_HOLE])
    tail = (28, TCP_OVL_TARGET[28:])
    everything = pieces + [hole, tail]
    assert all(TCP_OVL_CANARY not in p for _, p in everything)
    table = policy_table(everything, tcp_new_wins, lambda s: TCP_OVL_CANARY in s, want)
    mapped = ("203.0.113.16 is not in pcaps/replay.yaml: it gets the default, bsd"
              if policy == "bsd" else f"pcaps/replay.yaml maps {srv} to {policy}")
    c.describe(f"""
TCP {cli}:{cport} -> {srv}:7300; {mapped}.
After the handshake the client sends the pieces of "OVL VIGIL-TCP-OVERLAP-CANARY end\\r\\n"
out of order, all beyond a hole at stream bytes [0,10) ("OVL VIGIL-"), then fills the hole,
then sends " end\\r\\n" in order.
Overlapping pieces carry "x" decoys where the wrong policy would take them, so the canary is
only reassembled when the receiver resolves the overlaps by the {policy} policy. Pieces in
arrival order (stream offsets [start,end)):
""" + "\n".join(f"  [{off},{off + len(p)}) {p!r}" for off, p in pieces) + f"""
  [0,10) {hole[1]!r}   (fills the hole: the canary becomes contiguous here)
Why: {why.strip()}
Reassembly under each policy (Suricata stream-tcp-list.c semantics), for reference:
{table}
No packet holds the whole canary, so only the reassembled stream can match.""")
    link = Eth(mac(0x100 + num), GW_MAC)
    t = c.tcp(link, cli, cport, srv, 7300)
    t.handshake()
    for off, data in pieces:
        t.send(True, "PA", data, at=off, ack_at=0)
        t.send(False, "A", ack_at=0)
    t.send(True, "PA", hole[1], at=0, ack_at=0)
    t.send(False, "A", ack_at=28)
    t.data_end(True, 28)
    t.client(tail[1])
    t.server(b"OK\r\n")
    t.close()
    n = 1 if policy in want else 0
    c.expect(9000103, n, src=endpoint(cli, cport), dst=endpoint(srv, 7300), why=f"""
sid 9000103 (flow:established,to_server; content:"VIGIL-TCP-OVERLAP-CANARY"): the {policy}
reassembly contains the canary; the alert is raised once, on the packet filling [0,10).""")


@case("29-tcp-overlap-first", "stream: overlapping segments resolved by the 'first' policy")
def c29(c):
    _tcp_overlap_case(c, "first", 29)


@case("30-tcp-overlap-last", "stream: overlapping segments resolved by the 'last' policy")
def c30(c):
    _tcp_overlap_case(c, "last", 30)


@case("31-tcp-overlap-bsd", "stream: overlapping segments resolved by the default 'bsd' policy")
def c31(c):
    _tcp_overlap_case(c, "bsd", 31)


@case("32-tcp-overlap-linux", "stream: overlapping segments resolved by the 'linux' policy")
def c32(c):
    _tcp_overlap_case(c, "linux", 32)


@case("33-tcp-overlap-windows", "stream: overlapping segments resolved by the 'windows' policy")
def c33(c):
    _tcp_overlap_case(c, "windows", 33)


@case("34-tcp-overlap-solaris", "stream: overlapping segments resolved by the 'solaris' policy")
def c34(c):
    _tcp_overlap_case(c, "solaris", 34)


@case("35-tcp-retransmit-rewrite", "stream: a retransmission rewriting delivered data is ignored")
def c35(c):
    c.describe("""
TCP 10.0.20.35 -> 198.51.100.152:7303 (default policy, bsd). Two connections:
  :56350 sends "VGLSTORE key=r canary=VIGIL-REWRITE-" and then "benign\\r\\n", each
         acknowledged by the server (delivered in order), then "retransmits" the second
         segment (same sequence number and length) as "CANARY\\r\\n". Only this rewritten
         copy would complete "VIGIL-REWRITE-CANARY".
  :56351 sends "VGLSTORE key=r2 data=VIGIL-REWRITE-benign\\r\\n" (acknowledged), then a
         retransmission of the same range whose bytes are
         "VGLSTORE key=r2 data=VIGIL-REWRITE-CANARY\\r\\n".
The receiver delivered (and acknowledged) the first copy to the application before the
rewritten one arrived, so the host never sees the canary: data already delivered in order
is final, the rewrite is only a stream event (overlap with different data), and a segment
whose data was all seen before is not inspected again (the second connection relies on this:
its rewritten packet holds the whole canary on its own).
sid 9000104: flow:established,to_server; content:"VIGIL-REWRITE-CANARY";""")
    link = Eth(mac(0x135), GW_MAC)
    srv = "198.51.100.152"
    t = c.tcp(link, "10.0.20.35", 56350, srv, 7303)
    t.handshake()
    first = b"VGLSTORE key=r canary=VIGIL-REWRITE-"
    t.client(first)
    t.client(b"benign\r\n")
    t.send(True, "PA", b"CANARY\r\n", at=len(first))
    t.send(False, "A")
    t.server(b"VGLSTORE-OK r\r\n")
    t.close()
    c.wait(ms=50)
    t = c.tcp(link, "10.0.20.35", 56351, srv, 7303)
    t.handshake()
    t.client(b"VGLSTORE key=r2 data=VIGIL-REWRITE-benign\r\n")
    t.send(True, "PA", b"VGLSTORE key=r2 data=VIGIL-REWRITE-CANARY\r\n", at=0)
    t.send(False, "A")
    t.server(b"VGLSTORE-OK r2\r\n")
    t.close()
    c.expect(9000104, 0, why="""
sid 9000104: never; the reassembled stream keeps the first copy ("...VIGIL-REWRITE-benign").""")


@case("36-tcp-retransmit-plain", "stream: plain retransmissions of a canary segment alert once")
def c36(c):
    c.describe("""
TCP 10.0.20.36 -> 198.51.100.153:7304:
  :56360 sends "VGLSTORE key=p canary=VIGIL-RETRANS-" and "CANARY\\r\\n" (acknowledged),
         then retransmits the second segment twice, byte for byte
  :56361 sends "VGLSTORE key=p2 canary=VIGIL-RETRANS-CANARY\\r\\n" in one segment, which is
         lost (no ACK) and retransmitted unchanged; the server acknowledges the copy
Retransmitted segments bring no new stream data and are not inspected again, so each
connection alerts exactly once: on the original completing segment.
sid 9000105: flow:established,to_server; content:"VIGIL-RETRANS-CANARY";""")
    link = Eth(mac(0x136), GW_MAC)
    srv = "198.51.100.153"
    t = c.tcp(link, "10.0.20.36", 56360, srv, 7304)
    t.handshake()
    first = b"VGLSTORE key=p canary=VIGIL-RETRANS-"
    t.client(first)
    t.client(b"CANARY\r\n")
    for _ in range(2):
        c.wait(ms=200)
        t.send(True, "PA", b"CANARY\r\n", at=len(first))
        t.send(False, "A")
    t.server(b"VGLSTORE-OK p\r\n")
    t.close()
    c.wait(ms=50)
    t = c.tcp(link, "10.0.20.36", 56361, srv, 7304)
    t.handshake()
    line = b"VGLSTORE key=p2 canary=VIGIL-RETRANS-CANARY\r\n"
    t.send(True, "PA", line, at=0)
    c.wait(ms=200)
    t.client(line)
    t.server(b"VGLSTORE-OK p2\r\n")
    t.close()
    c.expect(9000105, 1, src=endpoint("10.0.20.36", 56360), dst=endpoint(srv, 7304),
             why="sid 9000105: the first connection, once (on the original second segment) ...")
    c.expect(9000105, 1, src=endpoint("10.0.20.36", 56361), dst=endpoint(srv, 7304),
             why="... and the second, once (on the first copy).")


@case("37-stream-vs-packet", "flow:only_stream and flow:no_stream")
def c37(c):
    c.describe("""
One TCP connection 10.0.20.37:56370 -> 198.51.100.154:7305, four request lines, each
acknowledged:
  f1 "VGLSTORE key=f1 canary=VIGIL-ONLY-STR" | "EAM-CANARY\\r\\n"   (two segments)
  f2 "VGLSTORE key=f2 canary=VIGIL-NO-STR" | "EAM-CANARY\\r\\n"     (two segments)
  f3 "VGLSTORE key=f3 canary=VIGIL-NO-STREAM-CANARY\\r\\n"          (one segment)
  f4 "VGLSTORE key=f4 canary=VIGIL-ONLY-STREAM-CANARY\\r\\n"        (one segment)
sid 9000106 flow:established,to_server,only_stream; content:"VIGIL-ONLY-STREAM-CANARY";
  matches only the reassembled stream: f1 (split) and f4 (the stream holds it too): 2
sid 9000107 flow:established,to_server,no_stream; content:"VIGIL-NO-STREAM-CANARY";
  matches only single packets: f3; not f2, whose canary exists only in the stream: 1""")
    link = Eth(mac(0x137), GW_MAC)
    t = c.tcp(link, "10.0.20.37", 56370, "198.51.100.154", 7305)
    t.handshake()
    t.client(b"VGLSTORE key=f1 canary=VIGIL-ONLY-STR")
    t.client(b"EAM-CANARY\r\n")
    t.client(b"VGLSTORE key=f2 canary=VIGIL-NO-STR")
    t.client(b"EAM-CANARY\r\n")
    t.client(b"VGLSTORE key=f3 canary=VIGIL-NO-STREAM-CANARY\r\n")
    t.client(b"VGLSTORE key=f4 canary=VIGIL-ONLY-STREAM-CANARY\r\n")
    t.server(b"VGLSTORE-OK f\r\n")
    t.close()
    cli, srv = endpoint("10.0.20.37", 56370), endpoint("198.51.100.154", 7305)
    c.expect(9000106, 2, src=cli, dst=srv, why="sid 9000106 (only_stream): f1 and f4.")
    c.expect(9000107, 1, src=cli, dst=srv, why="sid 9000107 (no_stream): f3 only.")


# --- IP fragments -----------------------------------------------------------------------------


def ipv4_fragments(c, link, src, dst, proto, fragmentable, pieces, ttl=64, from_client=True):
    """Sends IPv4 fragments of one datagram. fragmentable: the bytes after the IP header;
    pieces: [(start, end, more_fragments, data or None)] in send order (start a multiple of 8;
    data overrides fragmentable[start:end] for overlap cases)."""
    ip_id = c.next_ip_id()
    for start, end, more, data in pieces:
        assert start % 8 == 0
        body = fragmentable[start:end] if data is None else data
        pkt = IP(src=src, dst=dst, ttl=ttl, id=ip_id, flags="MF" if more else 0,
                 frag=start // 8, proto=proto) / Raw(body)
        c.add_frame(link.frame(pkt, from_client))


@case("38-ipv4-frag-split", "defrag: a canary split across IPv4 fragments (UDP)")
def c38(c):
    c.describe("""
Two UDP datagrams 10.0.21.38 -> 198.51.100.160:7210, payload
"seq=38 VIGIL-FRAG-SPLIT-CANARY end of datagram", each sent as two IPv4 fragments cut inside
the canary: A = UDP header + 16 payload bytes ("seq=38 VIGIL-FRA", MF set), B = the rest.
  :57380 fragments in order (A, B): the datagram is complete with B
  :57381 in reverse order (B, A): complete with A
Only the reassembled datagram is a UDP packet carrying the canary; the fragments on their own
hold part of it (and only A has a UDP header).
sid 9000110: alert udp any any -> any 7210 (content:"VIGIL-FRAG-SPLIT-CANARY";)""")
    link = Eth(mac(0x138), GW_MAC)
    payload = b"seq=38 VIGIL-FRAG-SPLIT-CANARY end of datagram"
    for sport, order in ((57380, (0, 1)), (57381, (1, 0))):
        udp = bytes(IP(src="10.0.21.38", dst="198.51.100.160") / UDP(sport=sport, dport=7210)
                    / Raw(payload))[20:]
        halves = [(0, 24, True, None), (24, len(udp), False, None)]
        ipv4_fragments(c, link, "10.0.21.38", "198.51.100.160", 17, udp,
                       [halves[i] for i in order])
        c.wait(ms=20)
    for sport, why in ((57380, "sid 9000110: the in-order datagram (on fragment B) ..."),
                       (57381, "... and the reversed one (on fragment A).")):
        c.expect(9000110, 1, src=endpoint("10.0.21.38", sport),
                 dst=endpoint("198.51.100.160", 7210), why=why)


@case("39-ipv4-tiny-fragment", "defrag: tiny first fragment splitting the TCP header")
def c39(c):
    c.describe("""
TCP 10.0.21.39:57390 -> 198.51.100.161:7310: handshake, then the request segment
"VGLSTORE key=t canary=VIGIL-TINYFRAG-CANARY\\r\\n" sent as two IPv4 fragments: the first holds
only 8 bytes of the TCP header (ports and sequence number, no flags or data offset), the
second the rest of the header and the data. A reply and a close follow (unfragmented).
Neither fragment can be decoded as TCP; the reassembled datagram is a normal segment of the
established connection.
sid 9000111: flow:established,to_server; content:"VIGIL-TINYFRAG-CANARY";""")
    link = Eth(mac(0x139), GW_MAC)
    cli, srv = "10.0.21.39", "198.51.100.161"
    t = c.tcp(link, cli, 57390, srv, 7310)
    t.handshake()
    data = b"VGLSTORE key=t canary=VIGIL-TINYFRAG-CANARY\r\n"
    seg = bytes(IP(src=cli, dst=srv) / TCP(sport=57390, dport=7310, seq=t.cseq, ack=t.sseq,
                                             flags="PA", window=64240) / Raw(data))[20:]
    ipv4_fragments(c, link, cli, srv, 6, seg, [(0, 8, True, None), (8, len(seg), False, None)])
    t.cseq = (t.cseq + len(data)) & 0xFFFFFFFF
    t.send(False, "A")
    t.server(b"VGLSTORE-OK t\r\n")
    t.close()
    c.expect(9000111, 1, src=endpoint(cli, 57390), dst=endpoint(srv, 7310),
             why="sid 9000111: the reassembled request, once (on the second fragment).")


# Overlap cases: a UDP datagram to port 7200 whose fragmentable part is 9 blocks of 8 bytes:
# block 0 the UDP header (checksum 0: the bytes depend on the policy), blocks 1-8 payload.
# Tokens "VGLDF-A!" (block 3) and "VGLDF-B!" (block 6) must both survive for sid 9000112.
DF_BLOCKS = [b"VGLDF-HD", b"r1-fill:", b"VGLDF-A!", b":r1-fill", b"r2-fill:", b"VGLDF-B!",
             b":r2-fill", b"-VGL-END"]
DF_DECOY = {3: b"vgldf-a?", 6: b"vgldf-b?"}

# Shapes of one overlap inside a region of three blocks [a, a+3) (in blocks): the old
# fragment, the new fragment, fillers for the rest; the overlap always includes block a+1.
DF_SHAPES = {
    "A": ((1, 2), (1, 2), [(0, 1), (2, 3)]),  # same start, same end
    "B": ((1, 2), (0, 3), []),                # new starts before and ends after
    "C": ((1, 3), (0, 3), []),                # new starts before, ends at the same byte
    "D": ((1, 3), (0, 2), []),                # new starts before, ends inside
    "E": ((0, 2), (1, 3), []),                # new starts after, ends after
}
DF_SHAPE_TEXT = {
    "A": "same start and end: new wins under last and linux",
    "B": "new starts before and ends after: new wins under all but first",
    "C": "new starts before, same end: new wins under last, bsd, linux, solaris (not windows)",
    "D": "new starts before, ends inside: new wins under last, bsd, linux",
    "E": "new starts after the old one: new wins under last only",
}
# Per policy: (shape, which side carries the true token) for region 1 (blocks 2-4) and
# region 2 (blocks 5-7); None = no overlap (one plain fragment).
DF_DESIGNS = {
    "first": (("B", "old"), None),
    "last": (("E", "new"), None),
    "bsd": (("D", "new"), ("A", "old")),
    "linux": (("A", "new"), ("E", "old")),
    "windows": (("B", "new"), ("C", "old")),
    "solaris": (("C", "new"), ("D", "old")),
}


def _df_fragment(udp_hdr, lo, hi, decoy_blocks):
    blocks = [udp_hdr] + DF_BLOCKS
    return b"".join(DF_DECOY[b] if b in decoy_blocks else blocks[b] for b in range(lo, hi))


def _frag_overlap_case(c, policy, num):
    srv = POLICY_ADDR[policy]
    cli, sport = "10.0.21.%d" % num, 57000 + num * 10
    udp_hdr = struct.pack(">HHHH", sport, 7200, 8 + 8 * len(DF_BLOCKS), 0)
    pieces = []  # (start_block, end_block, data) in send order
    notes = []
    for region, design in ((2, DF_DESIGNS[policy][0]), (5, DF_DESIGNS[policy][1])):
        token = region + 1
        if design is None:
            pieces.append((region, region + 3, _df_fragment(udp_hdr, region, region + 3, ())))
            notes.append(f"  blocks {region}-{region + 2}: one fragment, no overlap")
            continue
        shape, true_side = design
        (oa, ob), (na, nb), fillers = DF_SHAPES[shape]
        old_decoy = {token} if true_side == "new" else set()
        new_decoy = {token} if true_side == "old" else set()
        pieces.append((region + oa, region + ob,
                       _df_fragment(udp_hdr, region + oa, region + ob, old_decoy)))
        pieces.append((region + na, region + nb,
                       _df_fragment(udp_hdr, region + na, region + nb, new_decoy)))
        for fa, fb in fillers:
            pieces.append((region + fa, region + fb,
                           _df_fragment(udp_hdr, region + fa, region + fb, ())))
        notes.append(f"  blocks {region}-{region + 2}: shape {shape}, {DF_SHAPE_TEXT[shape]};\n"
                     f"    the true token is in the {true_side} fragment")
    pieces.append((8, 9, _df_fragment(udp_hdr, 8, 9, ())))  # last fragment (MF clear)
    pieces.append((0, 2, _df_fragment(udp_hdr, 0, 2, ())))  # first fragment, sent last
    byte_pieces = [(a * 8, d) for a, _, d in pieces]

    def has(s):
        return b"VGLDF-A!" in s and b"VGLDF-B!" in s[s.index(b"VGLDF-A!") + 8:]

    assert not any(has(d) for _, d in byte_pieces)
    table = policy_table(byte_pieces, frag_new_wins, has, (policy,), show=lambda b: b[8:])
    mapped = ("203.0.113.16 is not listed in pcaps/replay.yaml: default, bsd"
              if policy == "bsd" else f"pcaps/replay.yaml maps {srv} to {policy}")
    c.describe(f"""
One UDP datagram {cli}:{sport} -> {srv}:7200, sent as overlapping IPv4 fragments;
{mapped}.
Its fragmentable part is 9 blocks of 8 bytes: block 0 the UDP header (checksum 0, since the
bytes depend on the policy), blocks 1-8 the payload, with the tokens
"VGLDF-A!" in block 3 and "VGLDF-B!" in block 6. Where two fragments overlap, the side that
must lose carries a decoy ("vgldf-a?", "vgldf-b?"):
""" + "\n".join(notes) + """
Fragments in send order (blocks [start,end)):
""" + "\n".join(f"  [{a},{b}){' MF' if a != 8 else '   '} {d!r}" for a, b, d in pieces) + f"""
The old fragment of each overlap is sent before the new one, the first fragment (offset 0)
last, so the datagram completes with it. Payload after reassembly under each policy
(bytes after the 8-byte UDP header are what the rule sees):
{table}
Only the {policy} reassembly holds both tokens; no single fragment does.""")
    link = Eth(mac(0x140 + num), GW_MAC)
    ip_id = c.next_ip_id()
    for a, b, d in pieces:
        pkt = IP(src=cli, dst=srv, ttl=64, id=ip_id, flags="MF" if b != 9 else 0, frag=a,
                 proto=17) / Raw(d)
        c.add_frame(link.frame(pkt, True))
    c.expect(9000112, 1, src=endpoint(cli, sport), dst=endpoint(srv, 7200), why=f"""
sid 9000112 (content:"VGLDF-A!"; content:"VGLDF-B!"; distance:0;): the datagram
reassembled by the {policy} policy, once, when its first fragment arrives.""")


@case("40-ipv4-frag-overlap-first", "defrag: overlapping IPv4 fragments, 'first' policy")
def c40(c):
    _frag_overlap_case(c, "first", 40)


@case("41-ipv4-frag-overlap-last", "defrag: overlapping IPv4 fragments, 'last' policy")
def c41(c):
    _frag_overlap_case(c, "last", 41)


@case("42-ipv4-frag-overlap-bsd", "defrag: overlapping IPv4 fragments, default 'bsd' policy")
def c42(c):
    _frag_overlap_case(c, "bsd", 42)


@case("43-ipv4-frag-overlap-linux", "defrag: overlapping IPv4 fragments, 'linux' policy")
def c43(c):
    _frag_overlap_case(c, "linux", 43)


@case("44-ipv4-frag-overlap-windows", "defrag: overlapping IPv4 fragments, 'windows' policy")
def c44(c):
    _frag_overlap_case(c, "windows", 44)


@case("45-ipv4-frag-overlap-solaris", "defrag: overlapping IPv4 fragments, 'solaris' policy")
def c45(c):
    _frag_overlap_case(c, "solaris", 45)


@case("46-ipv6-frag-split", "defrag: a canary split across IPv6 fragments (UDP)")
def c46(c):
    c.describe("""
Two UDP datagrams [2001:db8::21:46] -> [2001:db8::1:160]:7211, payload
"seq=46 VIGIL-FRAG6-SPLIT-CANARY end of datagram", each sent as two IPv6 fragments
(Fragment extension header, next header UDP) cut inside the canary: A = UDP header + 16
payload bytes (M set), B = the rest.
  :57460 in order (A, B): complete with B;  :57461 reversed (B, A): complete with A
sid 9000113: alert udp any any -> any 7211 (content:"VIGIL-FRAG6-SPLIT-CANARY";)""")
    link = Eth(mac(0x146), GW_MAC)
    src, dst = "2001:db8::21:46", "2001:db8::1:160"
    payload = b"seq=46 VIGIL-FRAG6-SPLIT-CANARY end of datagram"
    for n, (sport, order) in enumerate(((57460, (0, 1)), (57461, (1, 0)))):
        udp = bytes(IPv6(src=src, dst=dst) / UDP(sport=sport, dport=7211) / Raw(payload))[40:]
        halves = [(0, udp[:24], 1), (3, udp[24:], 0)]
        for i in order:
            off, data, more = halves[i]
            pkt = (IPv6(src=src, dst=dst, hlim=64)
                   / IPv6ExtHdrFragment(nh=17, offset=off, m=more, id=0x46000 + n) / Raw(data))
            c.add_frame(link.frame(pkt, True))
        c.wait(ms=20)
    c.expect(9000113, 1, src=endpoint(src, 57460), dst=endpoint(dst, 7211),
             why="sid 9000113: the in-order datagram (on fragment B) ...")
    c.expect(9000113, 1, src=endpoint(src, 57461), dst=endpoint(dst, 7211),
             why="... and the reversed one (on fragment A).")


# --- HTTP, DNS, TLS -------------------------------------------------------------------------


def _http_exchange(c, link, cli, cport, srv, sport, requests, responses):
    t = c.tcp(link, cli, cport, srv, sport)
    t.handshake()
    for req, resp in zip(requests, responses):
        t.client(req)
        t.server(resp)
    t.close()
    c.wait(ms=30)


def _raw_http(lines, body=b""):
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@case("47-http-uri-evasion", "HTTP: normalised http.uri, legacy http_uri, custom http.method")
def c47(c):
    c.describe("""
HTTP connections from 10.0.22.47 to 198.51.100.170:80, one request each (the last two):
  :57470 GET /vigil//x/../%61dmin/./secret%2Ephp?id=1
         normalised (percent-decoding, "//" compressed, "/./" and "x/../" removed):
         /vigil/admin/secret.php?id=1                               -> sid 9000120
  :57471 GET /vigil-legacy/%70robe.cgi -> /vigil-legacy/probe.cgi     -> sid 9000121
  :57472 GET /vigil/admin/../secret.php with
         "Referer: http://www.example.com/vigil/admin/secret.php"
         normalised /vigil/secret.php; the canary path is only in a header: nothing
  :57473 keep-alive: GET /index.html, then "VGLSCAN /vigil/scan HTTP/1.1" on the same
         connection (the first request makes the flow HTTP)               -> sid 9000122
The raw bytes never hold "/vigil/admin/secret.php" or "/vigil-legacy/probe.cgi" in a
request line: only the normalised URI buffer does.
sid 9000120: http.uri; content:"/vigil/admin/secret.php";
sid 9000121: content:"/vigil-legacy/probe.cgi"; http_uri;   (legacy content modifier)
sid 9000122: http.method; content:"VGLSCAN";""")
    link = Eth(mac(0x147), GW_MAC)
    cli, srv = "10.0.22.47", "198.51.100.170"
    ok = http_response(b"ok\n", ctype="text/plain")
    nf = http_response(b"not found\n", status="404 Not Found", ctype="text/plain")
    _http_exchange(c, link, cli, 57470, srv, 80,
                   [http_get("/vigil//x/../%61dmin/./secret%2Ephp?id=1", "www.example.com")],
                   [nf])
    _http_exchange(c, link, cli, 57471, srv, 80,
                   [http_get("/vigil-legacy/%70robe.cgi", "www.example.com")], [nf])
    _http_exchange(c, link, cli, 57472, srv, 80,
                   [http_get("/vigil/admin/../secret.php", "www.example.com",
                             ["Referer: http://www.example.com/vigil/admin/secret.php"])], [ok])
    _http_exchange(c, link, cli, 57473, srv, 80,
                   [http_get("/index.html", "www.example.com"),
                    _raw_http(["VGLSCAN /vigil/scan HTTP/1.1", "Host: www.example.com",
                               "Accept: */*"])],
                   [ok, http_response(b"", status="405 Method Not Allowed")])
    s = endpoint(srv, 80)
    c.expect(9000120, 1, src=endpoint(cli, 57470), dst=s, why="""
sid 9000120: the evasive URI of :57470 only (:57472 normalises to /vigil/secret.php).""")
    c.expect(9000121, 1, src=endpoint(cli, 57471), dst=s, why="sid 9000121: :57471.")
    c.expect(9000122, 1, src=endpoint(cli, 57473), dst=s,
             why="sid 9000122: the second request of :57473.")


@case("48-http-gzip-chunked", "HTTP: chunked + gzip response body (http.response_body, file.data)")
def c48(c):
    body = (b"/* vigil report */\n" + b"".join(b"var row%02d = 'lorem ipsum dolor';\n" % i
                                               for i in range(12))
            + b"// VIGIL-GZIP-BODY-CANARY\n" + b"// VIGIL-FILEDATA-CANARY\n")
    comp = gzip.compress(body, compresslevel=9, mtime=0)
    assert b"CANARY" not in comp
    n = len(comp)
    chunks = [comp[:n // 3], comp[n // 3:2 * n // 3], comp[2 * n // 3:]]
    head = _raw_http(["HTTP/1.1 200 OK", "Server: nginx/1.24.0",
                      "Content-Type: application/javascript", "Content-Encoding: gzip",
                      "Transfer-Encoding: chunked"])
    chunked = b"".join(b"%x\r\n" % len(ch) + ch + b"\r\n" for ch in chunks) + b"0\r\n\r\n"
    resp = head + chunked
    cuts = [len(head) - 7, len(head) + len(chunks[0]) + 3]  # inside the headers, a chunk
    c.describe(f"""
Two HTTP connections 10.0.22.48 -> 198.51.100.171:80.
  :57480 GET /vigil/report.js; the response has "Content-Encoding: gzip" and
         "Transfer-Encoding: chunked": the {len(body)}-byte script is gzip-compressed to {n}
         bytes and sent as three chunks, the response itself as three TCP segments cut
         inside the headers and inside the first chunk. Only the dechunked, decompressed
         body holds "VIGIL-GZIP-BODY-CANARY" and "VIGIL-FILEDATA-CANARY".
  :57481 GET /vigil/plain.txt; both canaries appear only in a response header
         ("X-Vigil-Note"), the body is plain text without them.
sid 9000126: flow:established,to_client; http.response_body; content:"VIGIL-GZIP-BODY-CANARY";
sid 9000127: flow:established,to_client; file.data; content:"VIGIL-FILEDATA-CANARY";""")
    link = Eth(mac(0x148), GW_MAC)
    cli, srv = "10.0.22.48", "198.51.100.171"
    t = c.tcp(link, cli, 57480, srv, 80)
    t.handshake()
    t.client(http_get("/vigil/report.js", "www.example.com",
                      ["Accept-Encoding: gzip, deflate"]))
    for a, b in zip([0] + cuts, cuts + [len(resp)]):
        t.send(False, "PA", resp[a:b])
    t.send(True, "A")
    t.close()
    c.wait(ms=30)
    _http_exchange(c, link, cli, 57481, srv, 80, [http_get("/vigil/plain.txt", "www.example.com")],
                   [http_response(b"nothing to see here\n", ctype="text/plain",
                                  headers=["X-Vigil-Note: VIGIL-GZIP-BODY-CANARY "
                                           "VIGIL-FILEDATA-CANARY"])])
    for sid in (9000126, 9000127):
        c.expect(sid, 1, src=endpoint(srv, 80), dst=endpoint(cli, 57480),
                 why=f"sid {sid}: the decoded body of :57480 (not the header of :57481).")


@case("49-http-alt-port", "HTTP detected by content on port 8080 binds an `alert http` rule")
def c49(c):
    c.describe("""
Two TCP connections from 10.0.22.49 to 198.51.100.172:8080 (not in $HTTP_PORTS):
  :57490 an HTTP request "GET /VIGIL-ALTPORT-CANARY/index.html HTTP/1.1" and a response:
         the app layer recognises HTTP by its content             -> sid 9000128
  :57491 "VGLSTORE /VIGIL-ALTPORT-CANARY/index.html VGL/1.0" and "VGLSTORE-OK": the same
         canary bytes on the same port, but the flow is not HTTP  -> nothing
sid 9000128: alert http any any -> any 8080 (flow:established,to_server;
  content:"VIGIL-ALTPORT-CANARY";)  an `alert http` rule only applies to HTTP flows.""")
    link = Eth(mac(0x149), GW_MAC)
    cli, srv = "10.0.22.49", "198.51.100.172"
    _http_exchange(c, link, cli, 57490, srv, 8080,
                   [http_get("/VIGIL-ALTPORT-CANARY/index.html", "198.51.100.172:8080")],
                   [http_response(b"<html>alt port</html>\n")])
    _http_exchange(c, link, cli, 57491, srv, 8080,
                   [b"VGLSTORE /VIGIL-ALTPORT-CANARY/index.html VGL/1.0\r\n"],
                   [b"VGLSTORE-OK 0\r\n"])
    c.expect(9000128, 1, src=endpoint(cli, 57490), dst=endpoint(srv, 8080),
             why="sid 9000128: the HTTP connection only.")


@case("50-http-split-request", "HTTP: request headers split over several segments")
def c50(c):
    req = _raw_http(["GET /vigil/split HTTP/1.1", "Host: VIGIL-Canary.Example.NET:8080",
                     "User-Agent: VigilAgent/7.7 (split; x11)", "X-Vigil-Hdr: canary-125",
                     "Accept: */*"])
    cuts = [req.index(b"Canary.Example") + 3, req.index(b"Agent/7.7") + 2,
            req.index(b"canary-125") + 7, len(req) - 2]
    parts = [req[a:b] for a, b in zip([0] + cuts, cuts + [len(req)])]
    c.describe("""
TCP 10.0.22.50 -> 198.51.100.173:80.
  :57500 one GET request sent in five segments, cut inside the Host value, inside the
         User-Agent, inside the X-Vigil-Hdr value and between the two final CRLFs:
""" + "\n".join(f"           {p!r}" for p in parts) + """
         Host "VIGIL-Canary.Example.NET:8080" -> http.host "vigil-canary.example.net"
  :57501 a request carrying the same strings in other headers ("X-Forwarded-Host:
         vigil-canary.example.net", "X-Agent: VigilAgent/7.7", Host www.example.net)
The request is parsed when its headers are complete (the last segment) and each rule alerts
once there.
sid 9000123: http.host; content:"vigil-canary.example.net";
sid 9000124: http.user_agent; content:"VigilAgent/7.7";
sid 9000125: http.header; content:"X-Vigil-Hdr|3a 20|canary-125";""")
    link = Eth(mac(0x150), GW_MAC)
    cli, srv = "10.0.22.50", "198.51.100.173"
    t = c.tcp(link, cli, 57500, srv, 80)
    t.handshake()
    for p in parts:
        t.client(p)
    t.server(http_response(b"split ok\n", ctype="text/plain"))
    t.close()
    c.wait(ms=30)
    _http_exchange(c, link, cli, 57501, srv, 80,
                   [_raw_http(["GET / HTTP/1.1", "Host: www.example.net",
                               "X-Forwarded-Host: vigil-canary.example.net",
                               "X-Agent: VigilAgent/7.7", "Accept: */*"])],
                   [http_response(b"ok\n", ctype="text/plain")])
    for sid in (9000123, 9000124, 9000125):
        c.expect(sid, 1, src=endpoint(cli, 57500), dst=endpoint(srv, 80),
                 why=f"sid {sid}: the split request of :57500 only.")


@case("51-dns-udp-tcp", "DNS: dns.query over UDP and over TCP (split)")
def c51(c):
    c.describe("""
Resolver 10.0.23.53:53, client 10.0.23.51.
  :57510 UDP query A vigil-dnsq.example.org + response            -> sid 9000130
  :57511 UDP query A vigil-dnsq.example.com + response (near miss) -> nothing
  :57512 TCP: handshake, the query A vigil-dnsq.example.org with its 2-byte length prefix
         in two segments cut inside the name, the response, close -> sid 9000130
The responses repeat the query name: dns.query is the request's name only.
sid 9000130: alert dns ... (dns.query; content:"vigil-dnsq.example.org"; nocase;)""")
    link = Eth(mac(0x151), mac(0x153))
    cli, res = "10.0.23.51", "10.0.23.53"
    for sport, name, qid in ((57510, b"vigil-dnsq.example.org.", 0x5101),
                             (57511, b"vigil-dnsq.example.com.", 0x5102)):
        q = DNS(id=qid, rd=1, qd=DNSQR(qname=name, qtype="A"))
        c.add_frame(link.frame(c.ip(cli, res) / UDP(sport=sport, dport=53) / q, True))
        r = DNS(id=qid, qr=1, rd=1, ra=1, qd=DNSQR(qname=name, qtype="A"),
                an=DNSRR(rrname=name, type="A", ttl=60, rdata="192.0.2.51"))
        c.add_frame(link.frame(c.ip(res, cli) / UDP(sport=53, dport=sport) / r, False))
        c.wait(ms=20)
    q = bytes(DNS(id=0x5103, rd=1, qd=DNSQR(qname=b"vigil-dnsq.example.org.", qtype="A")))
    r = bytes(DNS(id=0x5103, qr=1, rd=1, ra=1,
                  qd=DNSQR(qname=b"vigil-dnsq.example.org.", qtype="A"),
                  an=DNSRR(rrname=b"vigil-dnsq.example.org.", type="A", ttl=60,
                           rdata="192.0.2.51")))
    qmsg = struct.pack(">H", len(q)) + q
    cut = qmsg.index(b"dnsq") + 2
    t = c.tcp(link, cli, 57512, res, 53)
    t.handshake()
    t.client(qmsg[:cut])
    t.client(qmsg[cut:])
    t.server(struct.pack(">H", len(r)) + r)
    t.close()
    c.expect(9000130, 1, src=endpoint(cli, 57510), dst=endpoint(res, 53),
             why="sid 9000130: the UDP query of :57510 ...")
    c.expect(9000130, 1, src=endpoint(cli, 57512), dst=endpoint(res, 53),
             why="... and the TCP query of :57512 (when its second segment completes it).")


def tls_client_hello(rng, sni, extra_ext=b""):
    """A TLS 1.3-style ClientHello record, built by hand (no TLS library involved)."""
    def ext(etype, data):
        return struct.pack(">HH", etype, len(data)) + data
    name = sni.encode()
    exts = ext(0, struct.pack(">HBH", len(name) + 3, 0, len(name)) + name)  # server_name
    exts += ext(10, bytes.fromhex("0004001d0017"))  # supported_groups x25519, secp256r1
    exts += ext(13, bytes.fromhex("000404030804"))  # signature_algorithms
    exts += ext(43, bytes.fromhex("0403040303"))  # supported_versions 1.3, 1.2
    exts += extra_ext
    body = (b"\x03\x03" + bytes(rng.randrange(256) for _ in range(32))
            + b"\x20" + bytes(rng.randrange(256) for _ in range(32))
            + struct.pack(">H", 6) + bytes.fromhex("13011302c02f") + b"\x01\x00"
            + struct.pack(">H", len(exts)) + exts)
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack(">H", len(hs)) + hs


@case("52-tls-sni-split", "TLS: ClientHello SNI split across two segments (tls.sni)")
def c52(c):
    c.describe("""
Two TLS connections 10.0.24.52 -> 198.51.100.180:443, each a handshake and one
hand-built ClientHello (record 0x16 0x0301, handshake type 1, server_name,
supported_groups, signature_algorithms, supported_versions), then a close:
  :57520 SNI "vigil-sni.example.com"; the record is sent in two segments cut inside the
         host name ("vigil-sn" | "i.example.com...")                       -> sid 9000135
  :57521 SNI "www.example.com", with "vigil-sni.example.com" inside a session_ticket
         extension (opaque data, not a server name)                        -> nothing
sid 9000135: alert tls ... (flow:established,to_server; tls.sni;
  content:"vigil-sni.example.com";)""")
    link = Eth(mac(0x152), GW_MAC)
    cli, srv = "10.0.24.52", "198.51.100.180"
    rng = random.Random("vigil-pcaps/52/tls")
    hello = tls_client_hello(rng, "vigil-sni.example.com")
    cut = hello.index(b"vigil-sni") + 8
    t = c.tcp(link, cli, 57520, srv, 443)
    t.handshake()
    t.client(hello[:cut])
    t.client(hello[cut:])
    t.close()
    c.wait(ms=30)
    ticket = b"\x00\x23" + struct.pack(">H", 29) + b"tkt:vigil-sni.example.com;xyz"
    t = c.tcp(link, cli, 57521, srv, 443)
    t.handshake()
    t.client(tls_client_hello(rng, "www.example.com", ticket))
    t.close()
    c.expect(9000135, 1, src=endpoint(cli, 57520), dst=endpoint(srv, 443),
             why="sid 9000135: the split ClientHello of :57520 only.")


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------


def build_all():
    """Returns {filename: bytes} for every case."""
    files = {}
    names = set()
    for name, title, kw, fn in CASES:
        if not re.fullmatch(r"\d\d-[a-z0-9-]+", name) or name in names:
            raise SystemExit(f"bad or duplicate case name {name!r}")
        names.add(name)
        c = Case(name, title, **kw)
        fn(c)
        files[name + ".pcap"] = c.capture_bytes()
        files[name + ".expect"] = c.expect_text().encode()
    return files


def write(files, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for fname, data in sorted(files.items()):
        with open(os.path.join(out_dir, fname), "wb") as f:
            f.write(data)


CORPUS_FILE = re.compile(r"^\d\d-[a-z0-9-]+\.(pcap|expect)$")


def check(out_dir):
    """Regenerates into a temporary directory and compares with out_dir. Returns exit code."""
    with tempfile.TemporaryDirectory(prefix="vigil-pcaps-") as tmp:
        write(build_all(), tmp)
        fresh = sorted(os.listdir(tmp))
        have = sorted(f for f in os.listdir(out_dir) if CORPUS_FILE.match(f))
        problems = []
        for f in fresh:
            path = os.path.join(out_dir, f)
            if not os.path.exists(path):
                problems.append(f"missing: {f}")
                continue
            with open(path, "rb") as a, open(os.path.join(tmp, f), "rb") as b:
                if a.read() != b.read():
                    problems.append(f"differs: {f}")
        problems += [f"stale (no case generates it): {f}" for f in have if f not in fresh]
    if problems:
        for p in problems:
            print(p, file=sys.stderr)
        print(f"pcaps: {len(problems)} difference(s); run pcaps/generate.py and commit",
              file=sys.stderr)
        return 1
    print(f"pcaps: {len(fresh)} files up to date")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)),
                    help="output directory (default: the directory of this script)")
    ap.add_argument("--check", action="store_true",
                    help="regenerate into a temp dir and compare with --out; exit 1 on difference")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    args = ap.parse_args()
    if args.list:
        for name, title, _, _ in CASES:
            print(f"{name:28} {title}")
        return 0
    if args.check:
        return check(args.out)
    files = build_all()
    write(files, args.out)
    total = sum(len(v) for v in files.values())
    print(f"pcaps: wrote {len(files)} files ({total} bytes) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
