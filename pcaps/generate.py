#!/usr/bin/python3
"""Generates Vigil's replay corpus: pcaps/<NN>-<name>.pcap plus a sibling .expect file each.

Every case is a function below that builds a small capture and states exactly which alerts a
Suricata-7-compatible sensor must raise for it with ALL of rules/default/default.rules loaded.
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
from scapy.layers.inet6 import IPv6, IPv6ExtHdrHopByHop, PadN, RouterAlert  # noqa: E402
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
        out.append("# Expectations (all rules of rules/default/default.rules loaded; format:")
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

    def send(self, from_client, flags, payload=b"", ext=None, options=None):
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
        l3 = self.case.ip(src, dst, ttl=ttl, ip_id=ip_id)
        if ext is not None:
            l3 = l3 / ext
        seg = TCP(sport=sp, dport=dp, seq=seq, ack=ack if "A" in flags else 0, flags=flags,
                  window=win, options=options or [])
        pkt = l3 / seg
        if payload:
            pkt = pkt / Raw(payload)
        self.case.add_frame(self.link.frame(pkt, from_client))
        adv = len(payload) + ("S" in flags) + ("F" in flags)
        if from_client:
            self.cseq = (self.cseq + adv) & 0xFFFFFFFF
        else:
            self.sseq = (self.sseq + adv) & 0xFFFFFFFF

    def handshake(self):
        self.send(True, "S", options=[("MSS", 1460)])
        self.send(False, "SA", options=[("MSS", 1460)])
        self.send(True, "A")

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
