#!/usr/bin/python3
"""Cross-checks the replay corpus: evaluates rules/default/*.rules against every pcaps/*.pcap
with a small, independent model of Suricata 7's semantics and compares the alerts with the
.expect files.

    /usr/bin/python3 pcaps/crosscheck.py [-v] [--rules FILE ...] [PCAP ...]

It shares no code with generate.py: it has its own pcap/pcapng reader, decoder, flow tracker
and rule evaluator, and it supports exactly the rule keywords the default rules use (anything
else is an error, so a new keyword is never silently ignored). The model:
  * packets are inspected one at a time; in addition, TCP directions whose SYN was seen are
    reassembled in order (out-of-order segments are buffered until the hole is filled), and a
    TCP rule whose payload is one plain content (no offset/depth/relative modifiers) also
    matches the reassembled stream: once, on the packet whose new bytes complete the match
    (`flow:only_stream`: stream only, `flow:no_stream`: packet only). Retransmitted data
    (all seen before) is not inspected again and never changes delivered bytes;
  * NOT modelled, so a capture that needs them is SKIPPED with the reason printed (the
    sensor's replay of the corpus is the check there): IP fragments (defragmentation),
    out-of-order TCP segments that overlap each other (OS policies), and app-layer rules
    (alert http/dns/tls, sticky buffers, http_* modifiers) that the .expect lists. An
    app-layer rule that a capture does not expect is checked the cheap way: none of its
    contents may occur (case-insensitively) in any packet of the capture;
  * malformed packets (bad IPv4 IHL/length/version, truncated or bad TCP/UDP/IPv6 extension
    headers, truncated captures) are not inspected at all;
  * flows are keyed by VLAN ids + protocol + both endpoints; the first packet's sender is the
    client (to_server); TCP is established only after SYN, SYN/ACK, ACK; other protocols once
    the responder has sent a packet (that packet included);
  * content matching follows Suricata's DetectEngineContentInspection (within is counted from
    the end of the previous match plus distance; a failed match is retried at the next
    occurrence of the previous content only when the next content uses within);
  * threshold/detection_filter follow detect-engine-threshold.c (limit: first `count` matches
    per window alert; detection_filter: matches after the count-th within `seconds` of the
    first one alert).
Exit status 0 when every .expect file is satisfied, 1 otherwise.
"""

import argparse
import glob
import ipaddress
import os
import re
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

VARS = {
    "HOME_NET": "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]",
    "EXTERNAL_NET": "!$HOME_NET",
    "HTTP_PORTS": "80",
}

# ------------------------------------------------------------------------------------------
# Capture readers
# ------------------------------------------------------------------------------------------


def read_capture(path):
    """Yields (linktype, ts_us, data, wire_len) from a pcap or pcapng file."""
    with open(path, "rb") as f:
        raw = f.read()
    magic = raw[:4]
    if magic == b"\x0a\x0d\x0d\x0a":
        yield from _read_pcapng(raw)
        return
    for endian in "<>":
        m = struct.unpack(endian + "I", magic)[0]
        if m in (0xA1B2C3D4, 0xA1B23C4D):
            break
    else:
        raise ValueError(f"{path}: not a pcap/pcapng file")
    nanos = m == 0xA1B23C4D
    linktype = struct.unpack(endian + "I", raw[20:24])[0] & 0x0FFFFFFF
    pos = 24
    while pos + 16 <= len(raw):
        sec, frac, caplen, wire = struct.unpack(endian + "IIII", raw[pos:pos + 16])
        pos += 16
        yield linktype, sec * 1_000_000 + (frac // 1000 if nanos else frac), \
            raw[pos:pos + caplen], wire
        pos += caplen


def _read_pcapng(raw):
    pos, endian, ifaces = 0, "<", []
    while pos + 12 <= len(raw):
        btype = struct.unpack(endian + "I", raw[pos:pos + 4])[0]
        if btype == 0x0A0D0D0A:
            endian = "<" if raw[pos + 8:pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            ifaces = []
        blen = struct.unpack(endian + "I", raw[pos + 4:pos + 8])[0]
        body = raw[pos + 8:pos + blen - 4]
        if btype == 1:
            linktype = struct.unpack(endian + "H", body[:2])[0]
            resol = 6
            opos = 8
            while opos + 4 <= len(body):
                code, olen = struct.unpack(endian + "HH", body[opos:opos + 4])
                if code == 0:
                    break
                if code == 9:
                    resol = body[opos + 4]
                opos += 4 + olen + ((-olen) % 4)
            ifaces.append((linktype, resol))
        elif btype == 6:
            iface, hi, lo, caplen, wire = struct.unpack(endian + "IIIII", body[:20])
            linktype, resol = ifaces[iface]
            if resol & 0x80:
                raise ValueError("pcapng: power-of-two timestamp resolution not supported")
            ts = (hi << 32) | lo
            ts_us = ts * 10**6 // 10**resol
            yield linktype, ts_us, body[20:20 + caplen], wire
        pos += blen


# ------------------------------------------------------------------------------------------
# Decoder
# ------------------------------------------------------------------------------------------


class Pkt:
    ok = False
    vlans = ()
    ipv = 0
    src = dst = None
    ttl = tos = proto = 0
    sport = dport = 0
    l4 = None  # "tcp" | "udp" | "icmp" | None
    flags = 0
    itype = icode = 0
    icmp_id = icmp_seq = None
    payload = b""
    why = ""


def decode(linktype, data):
    p = Pkt()
    try:
        _decode(p, linktype, data)
    except _Bad as e:
        p.ok, p.why = False, str(e)
    return p


class _Bad(Exception):
    pass


class Unmodelled(Exception):
    """The capture needs something this model does not have: it is skipped, loudly."""


def _need(cond, why):
    if not cond:
        raise _Bad(why)


def _decode(p, linktype, d):
    vlans = []
    if linktype == 1:
        _need(len(d) >= 14, "ethernet truncated")
        etype, pos = struct.unpack(">H", d[12:14])[0], 14
        while etype in (0x8100, 0x88A8, 0x9100):
            _need(len(d) >= pos + 4, "vlan truncated")
            vlans.append(struct.unpack(">H", d[pos:pos + 2])[0] & 0x0FFF)
            etype, pos = struct.unpack(">H", d[pos + 2:pos + 4])[0], pos + 4
        if etype in (0x8847, 0x8848):
            while True:
                _need(len(d) >= pos + 4, "mpls truncated")
                bos = d[pos + 2] & 1
                pos += 4
                if bos:
                    break
            _need(len(d) > pos, "mpls payload missing")
            etype = {4: 0x0800, 6: 0x86DD}.get(d[pos] >> 4, 0)
    elif linktype == 113:
        _need(len(d) >= 16, "sll truncated")
        etype, pos = struct.unpack(">H", d[14:16])[0], 16
    elif linktype in (101, 12, 14):
        _need(len(d) >= 1, "empty")
        etype, pos = {4: 0x0800, 6: 0x86DD}.get(d[0] >> 4, 0), 0
    else:
        raise _Bad(f"linktype {linktype}")
    p.vlans = tuple(vlans[:2])
    if etype == 0x0800:
        _ipv4(p, d[pos:])
    elif etype == 0x86DD:
        _ipv6(p, d[pos:])
    else:
        raise _Bad("not ip")
    p.ok = True


def _ipv4(p, d):
    _need(len(d) >= 20, "ipv4 truncated")
    _need(d[0] >> 4 == 4, "ipv4 version")
    hlen = (d[0] & 0x0F) * 4
    _need(hlen >= 20, "ipv4 ihl")
    total = struct.unpack(">H", d[2:4])[0]
    _need(total >= hlen, "ipv4 total < ihl")
    _need(total <= len(d), "ipv4 truncated")
    frag = struct.unpack(">H", d[6:8])[0]
    _need(frag & 0x3FFF == 0, "fragment (not modelled)")
    p.ipv, p.tos, p.ttl, p.proto = 4, d[1], d[8], d[9]
    p.src, p.dst = ipaddress.ip_address(d[12:16]), ipaddress.ip_address(d[16:20])
    _l4(p, d[hlen:total])


def _ipv6(p, d):
    _need(len(d) >= 40, "ipv6 truncated")
    _need(d[0] >> 4 == 6, "ipv6 version")
    plen = struct.unpack(">H", d[4:6])[0]
    _need(40 + plen <= len(d), "ipv6 truncated")
    d = d[:40 + plen]
    p.ipv, p.tos, p.ttl = 6, ((d[0] & 0x0F) << 4) | (d[1] >> 4), d[7]
    p.src, p.dst = ipaddress.ip_address(d[8:24]), ipaddress.ip_address(d[24:40])
    nh, pos = d[6], 40
    while nh in (0, 43, 60, 44):
        _need(len(d) >= pos + 8, "ipv6 ext truncated")
        _need(nh != 44, "fragment (not modelled)")
        elen = (d[pos + 1] + 1) * 8
        _need(len(d) >= pos + elen, "ipv6 ext truncated")
        nh, pos = d[pos], pos + elen
    p.proto = nh
    _l4(p, d[pos:])


def _l4(p, d):
    if p.proto == 6:
        _need(len(d) >= 20, "tcp truncated")
        off = (d[12] >> 4) * 4
        _need(off >= 20 and off <= len(d), "tcp header length")
        p.l4, p.sport, p.dport, p.flags = "tcp", *struct.unpack(">HH", d[:4]), d[13]
        p.seq = struct.unpack(">I", d[4:8])[0]
        p.payload = d[off:]
    elif p.proto == 17:
        _need(len(d) >= 8, "udp truncated")
        ulen = struct.unpack(">H", d[4:6])[0]
        _need(8 <= ulen <= len(d), "udp length")
        p.l4, p.sport, p.dport = "udp", *struct.unpack(">HH", d[:4])
        p.payload = d[8:ulen]
    elif p.proto in (1, 58):
        _need(len(d) >= 8, "icmp truncated")
        p.l4, p.itype, p.icode = "icmp", d[0], d[1]
        echo = (0, 8) if p.proto == 1 else (128, 129)
        if p.itype in echo:
            p.icmp_id, p.icmp_seq = struct.unpack(">HH", d[4:8])
        p.payload = d[8:]
    else:
        p.payload = d


# ------------------------------------------------------------------------------------------
# Flows
# ------------------------------------------------------------------------------------------


class Flow:
    def __init__(self, src, sport):
        self.client = (src, sport)
        self.tcp = "none"
        self.reply = False
        self.bits = set()
        self.streams = {True: TcpDir(), False: TcpDir()}  # by to_server


class TcpDir:
    """In-order reassembly of one TCP direction (see the module docstring)."""

    def __init__(self):
        self.next = None  # next expected sequence number; None until the SYN is seen
        self.data = bytearray()  # every byte delivered in order
        self.ooo = {}  # seq -> bytes, buffered beyond a hole

    def add(self, p):
        """Returns (tracked, retransmission, start): bytes data[start:] are new with p."""
        if p.flags & 0x02:
            self.next = (p.seq + 1) & 0xFFFFFFFF
            return False, False, len(self.data)
        if self.next is None:
            return False, False, 0
        start = len(self.data)
        if not p.payload:
            return True, False, start
        rel = (p.seq - self.next + (1 << 31)) % (1 << 32) - (1 << 31)
        if rel + len(p.payload) <= 0:
            return True, True, start  # all seen before: delivered data is final
        if rel > 0:
            lo, hi = rel, rel + len(p.payload)
            for s, b in self.ooo.items():
                r = (s - self.next + (1 << 31)) % (1 << 32) - (1 << 31)
                if r < hi and lo < r + len(b):
                    raise Unmodelled("overlapping out-of-order TCP segments (OS policy)")
            self.ooo[p.seq] = p.payload
            return True, False, start
        self._deliver(p.payload[-rel:])
        while True:
            for s, b in list(self.ooo.items()):
                r = (s - self.next + (1 << 31)) % (1 << 32) - (1 << 31)
                if r <= 0:
                    del self.ooo[s]
                    if r + len(b) > 0:
                        self._deliver(b[-r:])
                    break
            else:
                break
        return True, False, start

    def _deliver(self, b):
        self.data += b
        self.next = (self.next + len(b)) & 0xFFFFFFFF


class FlowTable:
    def __init__(self):
        self.flows = {}

    def update(self, p):
        """Returns (flow, to_server, established) after accounting for packet p."""
        ends = sorted([(p.src.packed, p.sport), (p.dst.packed, p.dport)])
        key = (p.vlans, p.proto, tuple(ends))
        f = self.flows.get(key)
        if f is None:
            f = self.flows[key] = Flow(p.src, p.sport)
        to_server = (p.src, p.sport) == f.client
        if p.l4 == "tcp":
            syn, ack = p.flags & 0x02, p.flags & 0x10
            if f.tcp == "none" and to_server and syn and not ack:
                f.tcp = "syn_sent"
            elif f.tcp == "syn_sent" and not to_server and syn and ack:
                f.tcp = "syn_recv"
            elif f.tcp == "syn_recv" and to_server and ack and not syn:
                f.tcp = "established"
            established = f.tcp == "established"
        else:
            if not to_server:
                f.reply = True
            established = f.reply
        return f, to_server, established


# ------------------------------------------------------------------------------------------
# Rules
# ------------------------------------------------------------------------------------------


def _split_top(s, sep):
    """Splits on sep outside brackets."""
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == sep and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [x.strip() for x in out]


def parse_addr(expr):
    """Returns a predicate over ipaddress objects."""
    expr = expr.strip()
    if expr.startswith("!"):
        inner = parse_addr(expr[1:])
        return lambda a: not inner(a)
    if expr.startswith("$"):
        return parse_addr(VARS[expr[1:]])
    if expr == "any":
        return lambda a: True
    if expr.startswith("["):
        items = _split_top(expr[1:-1], ",")
        pos = [parse_addr(i) for i in items if not i.startswith("!")]
        neg = [parse_addr(i[1:]) for i in items if i.startswith("!")]
        return lambda a: (not pos or any(f(a) for f in pos)) and not any(f(a) for f in neg)
    net = ipaddress.ip_network(expr, strict=False)
    return lambda a: a.version == net.version and a in net


def parse_ports(expr):
    expr = expr.strip()
    if expr.startswith("!"):
        inner = parse_ports(expr[1:])
        return lambda x: not inner(x)
    if expr.startswith("$"):
        return parse_ports(VARS[expr[1:]])
    if expr == "any":
        return lambda x: True
    if expr.startswith("["):
        items = _split_top(expr[1:-1], ",")
        pos = [parse_ports(i) for i in items if not i.startswith("!")]
        neg = [parse_ports(i[1:]) for i in items if i.startswith("!")]
        return lambda x: (not pos or any(f(x) for f in pos)) and not any(f(x) for f in neg)
    if ":" in expr:
        lo, hi = expr.split(":")
        lo, hi = int(lo or 0), int(hi or 65535)
        return lambda x: lo <= x <= hi
    n = int(expr)
    return lambda x: x == n


def _options(text):
    """Splits 'k:v; k2; ...' respecting quotes and backslash escapes."""
    out, cur, quoted, esc = [], "", False, False
    for ch in text:
        if esc:
            cur += ch
            esc = False
        elif ch == "\\":
            cur += ch
            esc = True
        elif ch == '"':
            cur += ch
            quoted = not quoted
        elif ch == ";" and not quoted:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    res = []
    for o in out:
        k, _, v = o.partition(":")
        res.append((k.strip(), v.strip()))
    return res


def _content_bytes(v):
    v = v.strip()
    neg = v.startswith("!")
    if neg:
        v = v[1:].strip()
    assert v[0] == '"' and v[-1] == '"', v
    v = v[1:-1]
    out, i, hexmode = bytearray(), 0, False
    while i < len(v):
        ch = v[i]
        if ch == "|":
            hexmode = not hexmode
            i += 1
        elif hexmode:
            if ch == " ":
                i += 1
            else:
                out.append(int(v[i:i + 2], 16))
                i += 2
        elif ch == "\\":
            out.append(ord(v[i + 1]))
            i += 2
        else:
            out.append(ord(ch))
            i += 1
    return bytes(out), neg


def _intmatch(v):
    v = v.replace(" ", "")
    m = re.fullmatch(r"(\d+)<>(\d+)", v)
    if m:
        lo, hi = int(m[1]), int(m[2])
        return lambda x: lo < x < hi
    for op, fn in (("<=", lambda a, b: a <= b), (">=", lambda a, b: a >= b),
                   ("<", lambda a, b: a < b), (">", lambda a, b: a > b),
                   ("!", lambda a, b: a != b)):
        if v.startswith(op):
            n = int(v[len(op):])
            return lambda x, fn=fn, n=n: fn(x, n)
    n = int(v)
    return lambda x: x == n


APP_PROTOS = {"http", "dns", "tls"}
STICKY_BUFFERS = {"http.uri", "http_uri", "http.method", "http_method", "http.host",
                  "http_host", "http.user_agent", "http_user_agent", "http.header",
                  "http_header", "http.response_body", "file.data", "file_data",
                  "dns.query", "dns_query", "tls.sni", "tls_sni"}

TCP_FLAG_BITS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10, "U": 0x20,
                 "E": 0x40, "C": 0x80, "2": 0x40, "1": 0x80}


class Rule:
    def __init__(self, line):
        m = re.match(r"(\w+)\s+(\w+)\s+(\S+|\[[^\]]*\])\s+(\S+|\[[^\]]*\])\s+(->|<>)\s+"
                     r"(\S+|\[[^\]]*\])\s+(\S+|\[[^\]]*\])\s+\((.*)\)\s*$", line)
        if not m:
            raise ValueError("cannot parse rule header: " + line)
        self.text = line
        self.action, self.proto = m[1], m[2]
        self.src, self.sport = parse_addr(m[3]), parse_ports(m[4])
        self.bidir = m[5] == "<>"
        self.dst, self.dport = parse_addr(m[6]), parse_ports(m[7])
        self.ops = []  # payload program
        self.checks = []  # (name, fn(pkt, ctx)) non-payload conditions
        self.flow = set()
        self.bits_set, self.bits_isset, self.bits_isnotset, self.noalert = [], [], [], False
        self.threshold = self.dfilter = None
        self.sid = None
        self.vars = {}
        self.unmodelled = None  # why this rule is not evaluated (app layer)
        if self.proto in APP_PROTOS:
            self.unmodelled = f"app-layer protocol {self.proto}"
        for k, v in _options(m[8]):
            self._option(k, v)
        plain = (len(self.ops) == 1 and self.ops[0]["t"] == "content"
                 and not self.ops[0]["neg"] and not self.ops[0]["offset"]
                 and not self.ops[0]["depth"] and self.ops[0]["distance"] is None
                 and self.ops[0]["within"] is None)
        self.stream_ok = self.proto == "tcp" and plain and not self.unmodelled
        if self.flow & {"only_stream", "no_stream"} and not self.stream_ok:
            raise ValueError(f"sid {self.sid}: only_stream/no_stream needs one plain content")

    def _last_content(self):
        for op in reversed(self.ops):
            if op["t"] == "content":
                return op
        raise ValueError(f"sid {self.sid}: modifier without content")

    def _option(self, k, v):
        if k in ("msg", "rev", "classtype", "metadata", "reference", "fast_pattern"):
            return
        if k in STICKY_BUFFERS:
            self.unmodelled = f"app-layer buffer {k}"
            return
        if k == "sid":
            self.sid = int(v)
        elif k == "flow":
            self.flow = {x.strip() for x in v.split(",")}
        elif k == "content":
            pat, neg = _content_bytes(v)
            self.ops.append({"t": "content", "pat": pat, "neg": neg, "nocase": False,
                             "offset": 0, "depth": 0, "distance": None, "within": None})
        elif k == "nocase":
            self._last_content()["nocase"] = True
        elif k in ("offset", "depth"):
            c = self._last_content()
            c[k] = int(v)
            if k == "depth" or c["depth"]:
                c["depth_abs"] = c["offset"] + c["depth"]
        elif k in ("distance", "within"):
            self._last_content()[k] = int(v)
        elif k == "pcre":
            m = re.fullmatch(r'"(!?)/(.*)/([a-zA-Z]*)"', v)
            flags, pat = m[3], m[2]
            reflags = re.DOTALL if "s" in flags else 0
            reflags |= re.IGNORECASE if "i" in flags else 0
            reflags |= re.MULTILINE if "m" in flags else 0
            if set(flags) - set("ismR"):
                raise ValueError(f"sid {self.sid}: pcre flags {flags} not modelled")
            self.ops.append({"t": "pcre", "re": re.compile(pat.encode(), reflags),
                             "rel": "R" in flags, "neg": m[1] == "!"})
        elif k == "byte_extract":
            a = [x.strip() for x in v.split(",")]
            self.ops.append({"t": "byte_extract", "n": int(a[0]), "off": int(a[1]),
                             "var": a[2], "rel": "relative" in a[3:],
                             "little": "little" in a[3:]})
        elif k == "byte_test":
            a = [x.strip() for x in v.split(",")]
            opts = a[4:]
            self.ops.append({"t": "byte_test", "n": int(a[0]), "op": a[1], "val": a[2],
                             "off": int(a[3]), "rel": "relative" in opts,
                             "little": "little" in opts,
                             "dec": "string" in opts and "dec" in opts})
            if "string" in opts and "dec" not in opts:
                raise ValueError(f"sid {self.sid}: byte_test base not modelled")
        elif k == "byte_jump":
            a = [x.strip() for x in v.split(",")]
            opts = a[2:]
            if set(opts) - {"relative", "little", "big"}:
                raise ValueError(f"sid {self.sid}: byte_jump options {opts} not modelled")
            self.ops.append({"t": "byte_jump", "n": int(a[0]), "off": int(a[1]),
                             "rel": "relative" in opts, "little": "little" in opts})
        elif k == "isdataat":
            a = [x.strip() for x in v.split(",")]
            neg = a[0].startswith("!")
            self.ops.append({"t": "isdataat", "n": int(a[0].lstrip("!")), "neg": neg,
                             "rel": "relative" in a[1:]})
        elif k == "dsize":
            f = _intmatch(v)
            self.checks.append(lambda p, f=f: f(len(p.payload)))
        elif k == "ttl":
            f = _intmatch(v)
            self.checks.append(lambda p, f=f: f(p.ttl))
        elif k == "tos":
            n = int(v[1:], 16) if v.lower().startswith("x") else int(v)
            self.checks.append(lambda p, n=n: p.ipv == 4 and p.tos == n)
        elif k == "ip_proto":
            f = _intmatch(v)
            self.checks.append(lambda p, f=f: f(p.proto))
        elif k in ("itype", "icode"):
            f = _intmatch(v)
            attr = k
            self.checks.append(lambda p, f=f, attr=attr: p.l4 == "icmp" and f(getattr(p, attr)))
        elif k in ("icmp_id", "icmp_seq"):
            n = int(v)
            self.checks.append(lambda p, n=n, k=k: getattr(p, k) == n)
        elif k == "flags":
            fl, _, mask = v.partition(",")
            want = sum(TCP_FLAG_BITS[ch] for ch in fl if ch in TCP_FLAG_BITS)
            ign = sum(TCP_FLAG_BITS[ch] for ch in mask)
            if fl[0] in "+*!":
                raise ValueError(f"sid {self.sid}: flags modifier not modelled")
            self.checks.append(lambda p, w=want, i=ign: p.l4 == "tcp" and (p.flags & ~i) == w)
        elif k in ("threshold", "detection_filter"):
            d = dict(x.strip().split(None, 1) for x in v.split(","))
            spec = (d.get("type", "detection"), d["track"], int(d["count"]), int(d["seconds"]))
            if k == "threshold":
                if spec[0] != "limit":
                    raise ValueError(f"sid {self.sid}: threshold type {spec[0]} not modelled")
                self.threshold = spec
            else:
                self.dfilter = spec
        elif k == "flowbits":
            a = [x.strip() for x in v.split(",")]
            if a[0] == "noalert":
                self.noalert = True
            elif a[0] == "set":
                self.bits_set.append(a[1])
            elif a[0] == "isset":
                self.bits_isset.append(a[1])
            elif a[0] == "isnotset":
                self.bits_isnotset.append(a[1])
            else:
                raise ValueError(f"sid {self.sid}: flowbits {a[0]} not modelled")
        else:
            raise ValueError(f"sid {self.sid}: keyword {k!r} not modelled by crosscheck.py")

    # -- header --
    def header_match(self, p):
        proto_ok = {"tcp": p.l4 == "tcp", "udp": p.l4 == "udp", "icmp": p.l4 == "icmp",
                    "ip": True}[self.proto]
        if not proto_ok:
            return False
        fwd = (self.src(p.src) and self.dst(p.dst) and self.sport(p.sport)
               and self.dport(p.dport))
        rev = self.bidir and (self.src(p.dst) and self.dst(p.src) and self.sport(p.dport)
                              and self.dport(p.sport))
        return fwd or rev

    # -- payload (Suricata's content inspection, see module docstring) --
    def stream_match(self, data, start):
        """The one plain content occurs in the reassembled `data` ending past `start`."""
        op = self.ops[0]
        pat = op["pat"].lower() if op["nocase"] else op["pat"]
        lo = max(0, start - len(pat) + 1)
        hay = bytes(data[lo:])
        return (hay.lower() if op["nocase"] else hay).find(pat) >= 0

    def payload_match(self, buf):
        if not self.ops:
            return True
        if not buf:
            return False
        return self._inspect(0, buf, 0, {}) is True

    def _inspect(self, i, buf, cursor, vars_):
        """True: match; False: no match; None: no match, do not retry earlier contents."""
        if i == len(self.ops):
            return True
        op = self.ops[i]
        t = op["t"]
        n = len(buf)
        if t == "content":
            relative = op["distance"] is not None or op["within"] is not None
            prev = cursor
            if relative:
                dist = op["distance"] or 0
                lo = max(0, prev + dist)
                hi = n
                if op["within"] is not None:
                    hi = min(hi, prev + op["within"] + dist)
            else:
                lo = op["offset"]
                hi = min(n, op.get("depth_abs", n) or n)
            hay = buf.lower() if op["nocase"] else buf
            pat = op["pat"].lower() if op["nocase"] else op["pat"]
            retry = (i + 1 < len(self.ops) and self.ops[i + 1]["t"] == "content"
                     and self.ops[i + 1]["within"] is not None)
            start = lo
            while True:
                pos = hay.find(pat, start, hi) if hi - start >= len(pat) else -1
                if op["neg"]:
                    if pos >= 0:
                        return False
                    return self._inspect(i + 1, buf, cursor, vars_)
                if pos < 0:
                    return False if relative else None
                r = self._inspect(i + 1, buf, pos + len(pat), vars_)
                if r is True or r is None:
                    return r
                if not retry:
                    return None
                start = pos + 1
        if t == "pcre":
            base = cursor if op["rel"] else 0
            m = op["re"].search(buf[base:])
            if op["neg"]:
                return self._inspect(i + 1, buf, cursor, vars_) if not m else False
            if not m:
                return False
            return self._inspect(i + 1, buf, base + m.end(), vars_)
        if t in ("byte_extract", "byte_test", "byte_jump"):
            ptr = op["off"] + (cursor if op["rel"] else 0)
            nb = op["n"]
            if ptr < 0 or ptr + nb > n:
                return False
            raw = buf[ptr:ptr + nb]
            if op.get("dec"):
                if not raw.isdigit():
                    return False
                val = int(raw)
            else:
                val = int.from_bytes(raw, "little" if op["little"] else "big")
            if t == "byte_extract":
                vars_ = dict(vars_, **{op["var"]: val})
                return self._inspect(i + 1, buf, ptr + nb, vars_)
            if t == "byte_test":
                ref = vars_[op["val"]] if op["val"] in vars_ else int(op["val"], 0)
                ok = {"<": val < ref, ">": val > ref, "=": val == ref, "<=": val <= ref,
                      ">=": val >= ref, "&": bool(val & ref), "^": bool(val ^ ref)}[op["op"]]
                return self._inspect(i + 1, buf, cursor, vars_) if ok else False
            target = ptr + nb + val
            if target > n:
                return False
            return self._inspect(i + 1, buf, target, vars_)
        if t == "isdataat":
            has = (cursor + op["n"] <= n) if op["rel"] else (op["n"] < n)
            if has == op["neg"]:
                return False
            return self._inspect(i + 1, buf, cursor, vars_)
        raise AssertionError(t)


def load_rules(paths):
    rules = []
    for path in paths:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#"):
                    rules.append(Rule(line))
    # Flowbit setters first, as Suricata orders them; then by sid.
    rules.sort(key=lambda r: (0 if r.bits_set else 1, r.sid))
    return rules


# ------------------------------------------------------------------------------------------
# Replay
# ------------------------------------------------------------------------------------------


def _track_key(spec, p):
    return p.src if spec[1] == "by_src" else p.dst


def replay(path, rules):
    """Returns the alerts of the modelled rules; raises Unmodelled when the capture needs
    something the model lacks."""
    flows = FlowTable()
    thresholds = {}
    alerts = []
    for linktype, ts_us, data, _wire in read_capture(path):
        p = decode(linktype, data)
        if not p.ok:
            if p.why.startswith("fragment"):
                raise Unmodelled("IP fragments (defragmentation)")
            continue
        flow, to_server, established = flows.update(p)
        tracked, retrans, sstart = False, False, 0
        if p.l4 == "tcp":
            sdir = flow.streams[to_server]
            tracked, retrans, sstart = sdir.add(p)
        for r in rules:
            if r.unmodelled:
                continue
            if not r.header_match(p):
                continue
            if "established" in r.flow and not established:
                continue
            if "not_established" in r.flow and established:
                continue
            if "to_server" in r.flow and not to_server:
                continue
            if "to_client" in r.flow and to_server:
                continue
            if not all(check(p) for check in r.checks):
                continue
            if any(b not in flow.bits for b in r.bits_isset):
                continue
            if any(b in flow.bits for b in r.bits_isnotset):
                continue
            if r.ops and retrans:
                continue  # retransmitted data is not inspected again
            if r.stream_ok and tracked:
                hit = ("only_stream" not in r.flow and r.payload_match(p.payload)) or (
                    "no_stream" not in r.flow and len(sdir.data) > sstart
                    and r.stream_match(sdir.data, sstart))
            else:
                hit = "only_stream" not in r.flow and r.payload_match(p.payload)
            if not hit:
                continue
            flow.bits.update(r.bits_set)
            if r.noalert:
                continue
            if r.threshold or r.dfilter:
                spec = r.threshold or r.dfilter
                key = (r.sid, _track_key(spec, p))
                start, count = thresholds.get(key, (None, 0))
                if start is None or ts_us > start + spec[3] * 1_000_000:
                    start, count = ts_us, 0
                count += 1
                thresholds[key] = (start, count)
                if r.threshold and count > spec[2]:
                    continue
                if r.dfilter and count <= spec[2]:
                    continue
            action = "allowed" if r.action in ("drop", "reject") else None
            alerts.append((r.sid, p.src, p.sport if p.l4 in ("tcp", "udp") else None,
                           p.dst, p.dport if p.l4 in ("tcp", "udp") else None, action))
    return alerts


def _fmt(addr, port):
    a = str(addr)
    if port is None:
        return a
    return f"[{a}]:{port}" if addr.version == 6 else f"{a}:{port}"


def _filter_ok(flt, addr, port):
    if flt is None:
        return True
    if flt.startswith("[") or flt.count(":") == 1:  # has a port
        return flt == _fmt(addr, port)
    return ipaddress.ip_address(flt) == addr


def expected_sids(expect_path):
    with open(expect_path) as f:
        return {int(line.split()[0]) for line in f
                if line.strip() and not line.lstrip().startswith("#")}


def payloads(path):
    """Every decodable packet's L4 payload (fragments included, as raw IP payload)."""
    out = []
    for linktype, _ts, data, _wire in read_capture(path):
        p = decode(linktype, data)
        out.append(p.payload if p.ok else data)
    return out


def skip_reason(path, rules):
    """Why the model cannot check this capture (None: it can)."""
    sids = expected_sids(os.path.splitext(path)[0] + ".expect")
    app = sorted(r.sid for r in rules if r.unmodelled and r.sid in sids)
    if app:
        return f"expects app-layer rule(s) {', '.join(map(str, app))}, not modelled"
    blobs = [b.lower() for b in payloads(path)]
    for r in rules:
        if not r.unmodelled:
            continue
        for op in r.ops:
            if op["t"] == "content" and not op["neg"]:
                if any(op["pat"].lower() in b for b in blobs):
                    return (f"a content of app-layer rule {r.sid} occurs in the capture; "
                            f"whether that rule fires is not modelled")
    return None


def check_expect(expect_path, alerts):
    lines = []
    with open(expect_path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split()
            e = {"sid": int(parts[0]), "count": int(parts[1]), "src": None, "dst": None,
                 "action": None, "line": n, "got": 0}
            for kv in parts[2:]:
                k, v = kv.split("=", 1)
                e[k] = v
            lines.append(e)
    problems = []
    for sid, src, sport, dst, dport, action in alerts:
        hit = False
        for e in lines:
            if (e["sid"] == sid and _filter_ok(e["src"], src, sport)
                    and _filter_ok(e["dst"], dst, dport)
                    and (e["action"] is None or e["action"] == (action or "allowed"))):
                e["got"] += 1
                hit = True
        if not hit:
            problems.append(f"unexpected alert sid {sid} {_fmt(src, sport)} -> {_fmt(dst, dport)}")
    for e in lines:
        if e["got"] != e["count"]:
            problems.append(f"line {e['line']}: sid {e['sid']} expected {e['count']}, "
                            f"got {e['got']}")
    return problems


def main():
    ap = argparse.ArgumentParser(description="Cross-check pcaps/*.expect against the rules.")
    ap.add_argument("--rules", action="append", metavar="FILE",
                    help="rules file (repeatable; default: rules/default/*.rules)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every alert")
    ap.add_argument("pcaps", nargs="*")
    args = ap.parse_args()
    rules = load_rules(args.rules
                       or sorted(glob.glob(os.path.join(ROOT, "rules", "default", "*.rules"))))
    pcaps = args.pcaps or sorted(glob.glob(os.path.join(HERE, "[0-9][0-9]-*.pcap")))
    failed = skipped = 0
    for path in pcaps:
        name = os.path.basename(path)
        why = skip_reason(path, rules)
        if why is None:
            try:
                alerts = replay(path, rules)
            except Unmodelled as e:
                why = f"needs {e}, not modelled"
        if why is not None:
            print(f"skip {name}: {why} (checked by the sensor's replay only)")
            skipped += 1
            continue
        problems = check_expect(os.path.splitext(path)[0] + ".expect", alerts)
        print(f"{'FAIL' if problems else 'ok  '} {name}: {len(alerts)} alert(s)")
        if args.verbose:
            for sid, src, sport, dst, dport, action in alerts:
                print(f"       {sid} {_fmt(src, sport)} -> {_fmt(dst, dport)}"
                      + (f" action={action}" if action else ""))
        for prob in problems:
            print("       " + prob)
        failed += bool(problems)
    checked = len(pcaps) - skipped
    print(f"{checked - failed}/{checked} checked captures match their .expect files; "
          f"{skipped} skipped (not modelled, reasons above)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
