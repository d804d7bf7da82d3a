#!/usr/bin/python3
"""Writes a large, deterministic benchmark capture (classic pcap, Ethernet, microsecond
timestamps from 2024-01-01T00:00:00Z) of mixed traffic:

    HTTP  ~55% of bytes  full handshakes, 1-3 keep-alive requests with varied methods, URIs,
                         hosts, headers and user-agents, responses of 200 B .. 400 KB split
                         into <=1460-byte segments, FIN/ACK teardown
    DNS    ~5%           UDP 53 query + response, each usually its own flow
    TLS   ~20%           port 443: ClientHello (with SNI), server handshake records, then
                         random-looking application-data records both ways, close
    bulk  ~20%           long TCP transfers of full 1460-byte pseudo-random segments

Hundreds of client addresses in 10.0.0.0/8 talk to servers in the documentation ranges; about
a hundred connections are open at any time and their packets interleave. Markers from
bench/benchdata.py are embedded at fixed intervals; the final summary prints how many of each
were written (= the expected alert counts of the marker rules written by gen_rules.py).

    /usr/bin/python3 bench/gen_traffic.py [--out bench/data/bench.pcap] [--mb 200] [--seed 1]

No scapy: headers are packed with struct, IPv4/TCP/UDP checksums are computed (a big-integer
ones' complement sum, no per-byte loops) and payloads are slices of pools built at start-up.
"""

import argparse
import os
import random
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchdata as bd  # noqa: E402

T0_US = 1704067200 * 1_000_000
MSS = 1460
ACTIVE = 128  # concurrently open conversations
MIX = {"http": 0.55, "dns": 0.05, "tls": 0.20, "bulk": 0.20}

_pack_ip = struct.Struct("!BBHHHBBH4s4s").pack
_pack_tcp = struct.Struct("!HHIIBBHHH").pack
_pack_udp = struct.Struct("!HHHH").pack
_pack_rec = struct.Struct("<IIII").pack


def _csum(data_sum, nonzero=True):
    """Final ones' complement checksum from a sum taken modulo 0xFFFF."""
    s = data_sum % 0xFFFF
    if s == 0 and nonzero:
        s = 0xFFFF
    return ~s & 0xFFFF


def _wsum(b):
    """Sum of the 16-bit big-endian words of b, modulo 0xFFFF (2^16 == 1 mod 0xFFFF)."""
    if len(b) & 1:
        b += b"\0"
    return int.from_bytes(b, "big") % 0xFFFF


class Writer:
    def __init__(self, path, target_bytes, rng):
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        self.buf = []
        self.buffered = 0
        self.rng = rng
        self.now = T0_US
        self.bytes = 24
        self.packets = 0
        self.target = target_bytes
        self.by_kind = dict.fromkeys(MIX, 0)
        self.kind = "http"

    def frame(self, data):
        self.now += 4 + int(self.rng.random() * 50)
        sec, usec = divmod(self.now, 1_000_000)
        n = len(data)
        self.buf.append(_pack_rec(sec, usec, n, n))
        self.buf.append(data)
        self.buffered += n + 16
        self.bytes += n + 16
        self.by_kind[self.kind] += n + 16
        self.packets += 1
        if self.buffered > (8 << 20):
            self.flush()

    def flush(self):
        self.f.write(b"".join(self.buf))
        self.buf = []
        self.buffered = 0

    def close(self):
        self.flush()
        self.f.close()


def ipv4(src, dst, proto, ip_id, ttl, l4):
    hdr = _pack_ip(0x45, 0, 20 + len(l4), ip_id, 0x4000, ttl, proto, 0, src, dst)
    c = _csum(_wsum(hdr))
    return hdr[:10] + c.to_bytes(2, "big") + hdr[12:] + l4


class Host:
    __slots__ = ("ip", "mac", "next_port")

    def __init__(self, ip, mac, next_port=0):
        self.ip, self.mac, self.next_port = ip, mac, next_port

    def port(self):
        p = self.next_port
        self.next_port = 32768 + (p - 32768 + 1) % 28232
        return p


class Conn:
    """A TCP connection between a client Host and a server; emits well-formed segments."""

    __slots__ = ("w", "c", "s", "cp", "sp", "cseq", "sseq", "cid", "sid", "sttl", "eth_c",
                 "eth_s", "pseudo_c", "pseudo_s")

    def __init__(self, w, rng, client, server, sport):
        self.w, self.c, self.s = w, client, server
        self.cp, self.sp = client.port(), sport
        self.cseq, self.sseq = rng.getrandbits(32), rng.getrandbits(32)
        self.cid, self.sid = rng.getrandbits(16), rng.getrandbits(16)
        self.sttl = rng.choice((64, 64, 128, 255)) - rng.randrange(4, 20)
        self.eth_c = server.mac + client.mac + b"\x08\x00"  # dst, src, type: client -> server
        self.eth_s = client.mac + server.mac + b"\x08\x00"
        self.pseudo_c = _wsum(client.ip + server.ip + b"\x00\x06")
        self.pseudo_s = _wsum(server.ip + client.ip + b"\x00\x06")

    def seg(self, from_client, flags, payload=b""):
        if from_client:
            sp, dp, seq, ack, win = self.cp, self.sp, self.cseq, self.sseq, 64240
            pseudo, src, dst = self.pseudo_c, self.c.ip, self.s.ip
            self.cid = (self.cid + 1) & 0xFFFF
            ip_id, ttl, eth = self.cid, 64, self.eth_c
        else:
            sp, dp, seq, ack, win = self.sp, self.cp, self.sseq, self.cseq, 65160
            pseudo, src, dst = self.pseudo_s, self.s.ip, self.c.ip
            self.sid = (self.sid + 1) & 0xFFFF
            ip_id, ttl, eth = self.sid, self.sttl, self.eth_s
        if not flags & 0x10:
            ack = 0
        hdr = _pack_tcp(sp, dp, seq, ack, 0x50, flags, win, 0, 0)
        tlen = 20 + len(payload)
        c = _csum(pseudo + tlen + _wsum(hdr) + (_wsum(payload) if payload else 0))
        tcp = hdr[:16] + c.to_bytes(2, "big") + hdr[18:] + payload
        self.w.frame(eth + ipv4(src, dst, 6, ip_id, ttl, tcp))
        adv = len(payload) + (flags & 0x02 and 1) + (flags & 0x01 and 1)
        if from_client:
            self.cseq = (self.cseq + adv) & 0xFFFFFFFF
        else:
            self.sseq = (self.sseq + adv) & 0xFFFFFFFF

    # Each helper is a generator step sequence: it yields after every packet so the driver
    # can interleave conversations.
    def handshake(self):
        self.seg(True, 0x02)
        yield
        self.seg(False, 0x12)
        yield
        self.seg(True, 0x10)
        yield

    def send(self, from_client, data):
        """Sends data in MSS segments (PSH on the last); the receiver ACKs every second one."""
        n = len(data)
        count = 0
        for off in range(0, n, MSS):
            last = off + MSS >= n
            self.seg(from_client, 0x18 if last else 0x10, data[off:off + MSS])
            yield
            count += 1
            if count % 2 == 0 or last:
                self.seg(not from_client, 0x10)
                yield

    def close(self, client_first=True):
        self.seg(client_first, 0x11)
        yield
        self.seg(not client_first, 0x11)
        yield
        self.seg(client_first, 0x10)
        yield


# --------------------------------------------------------------------------------------------
# Content pools
# --------------------------------------------------------------------------------------------

WORDS = ("about account action admin agent alpha api app archive article asset audio auth "
         "banner beta blog board book build bundle cache card cart catalog category chart "
         "check client cloud code comment config content core count data debug default "
         "delta demo design detail device docs download draft edge editor email engine entry "
         "event export feed file filter final form forum frame gallery game global graph "
         "group guide header help home host image import index info item jquery json kernel "
         "label layout legacy library light list local login logo main manifest map media "
         "menu meta mobile model module music native news node notes object offer order page "
         "panel photo player plugin policy portal post preview price print product profile "
         "project public query queue quote random react recent record release remote report "
         "resource result review route rss sample scheme script search secure server service "
         "session settings share shop sitemap slide source space static status store stream "
         "style support sync system table tag task team template theme thumb ticket token "
         "tool topic track trend update upload user util vendor video view widget window "
         "world zone").split()

EXTS = [".html", ".php", ".js", ".css", ".png", ".jpg", ".json", ".svg", ".woff2", ".gif",
        "", "/", ".aspx", ".xml", ".ico", ".webp", ".mp4"]

CTYPES = {".html": "text/html; charset=utf-8", ".php": "text/html; charset=UTF-8",
          ".js": "application/javascript", ".css": "text/css", ".png": "image/png",
          ".jpg": "image/jpeg", ".json": "application/json", ".svg": "image/svg+xml",
          ".woff2": "font/woff2", ".gif": "image/gif", "": "text/html", "/": "text/html",
          ".aspx": "text/html; charset=utf-8", ".xml": "application/xml",
          ".ico": "image/x-icon", ".webp": "image/webp", ".mp4": "video/mp4"}
TEXTUAL = {".html", ".php", ".js", ".css", ".json", ".svg", "", "/", ".aspx", ".xml"}

USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.2 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.144 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
    "curl/8.5.0", "Wget/1.21.4", "python-requests/2.31.0", "Go-http-client/1.1",
    "Microsoft-CryptoAPI/10.0", "Debian APT-HTTP/1.3 (2.6.1)", "okhttp/4.12.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Java/17.0.9", "Dalvik/2.1.0 (Linux; U; Android 13; SM-G991B Build/TP1A.220624.014)",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
]
SERVERS = ["nginx", "nginx/1.24.0", "Apache/2.4.58 (Debian)", "Microsoft-IIS/10.0",
           "cloudflare", "openresty", "LiteSpeed", "gws", "AmazonS3", "Caddy"]
LANGS = ["en-US,en;q=0.9", "de-DE,de;q=0.9,en;q=0.8", "fr-FR,fr;q=0.9", "en-GB,en;q=0.8",
         "es-ES,es;q=0.9,en;q=0.7", "ja-JP,ja;q=0.9"]


class Pools:
    def __init__(self, rng):
        self.random = rng.randbytes(8 << 20)
        words = [rng.choice(WORDS) for _ in range(400_000)]
        parts = []
        for i in range(0, len(words), 12):
            tag = ("p", "div", "span", "li", "td", "a")[i % 6]
            parts.append(f"<{tag} class=\"{words[i]}-{words[i + 1]}\">"
                         + " ".join(words[i + 2:i + 12]) + f"</{tag}>\n")
        self.text = "".join(parts).encode()
        tlds = ["com", "net", "org", "io", "example", "test", "info", "dev"]
        self.hosts = [f"{rng.choice(['www', 'cdn', 'api', 'static', 'img', 'm', 'app'])}."
                      f"{rng.choice(WORDS)}{rng.choice(WORDS)}.{rng.choice(tlds)}"
                      for _ in range(400)]
        self.uris = []
        for _ in range(6000):
            depth = rng.randrange(1, 5)
            path = "/" + "/".join(rng.choice(WORDS) for _ in range(depth))
            ext = rng.choice(EXTS)
            if ext != "/":
                path += rng.choice(["", "-" + str(rng.randrange(1, 9999)),
                                    "_" + rng.choice(WORDS)])
            path += ext
            if rng.random() < 0.3:
                path += "?" + "&".join(f"{rng.choice(WORDS)}={rng.randrange(100000)}"
                                       for _ in range(rng.randrange(1, 4)))
            self.uris.append((path, ext))
        self.dns_names = [f"{rng.choice(['www', 'mail', 'api', 'cdn', 'ns1', 'login', 'img'])}."
                          f"{rng.choice(WORDS)}-{rng.choice(WORDS)}.{rng.choice(tlds)}"
                          for _ in range(3000)]

    def slice(self, pool, n, rng):
        off = rng.randrange(len(pool) - n)
        return pool[off:off + n]


# --------------------------------------------------------------------------------------------
# Conversations
# --------------------------------------------------------------------------------------------


class Gen:
    def __init__(self, w, rng):
        self.w, self.rng = w, rng
        self.pools = Pools(rng)
        self.clients = []
        for i in range(600):
            ip = bytes([10, 1 + i // 250, (i % 250) // 5, 10 + (i % 250) % 5 * 40 + i % 37])
            mac = b"\x02\x10" + ip
            self.clients.append(Host(ip, mac, 32768 + rng.randrange(28232)))
        gw = b"\x02\x00\x00\x00\x00\x01"
        nets = [(192, 0, 2), (198, 51, 100), (203, 0, 113)]
        self.servers = {}
        for kind, count in (("http", 150), ("tls", 120), ("bulk", 24)):
            hosts = []
            for _ in range(count):
                a, b, c = rng.choice(nets)
                hosts.append(Host(bytes([a, b, c, rng.randrange(1, 255)]), gw))
            self.servers[kind] = hosts
        self.resolvers = [Host(bytes([10, 0, 0, 53]), b"\x02\x00\x00\x00\x00\x35"),
                          Host(bytes([10, 0, 0, 54]), b"\x02\x00\x00\x00\x00\x36"),
                          Host(bytes([203, 0, 113, 53]), gw)]
        self.requests = 0
        self.dns_queries = 0
        self.tls_sessions = 0
        self.bulk_segments = 0
        self.flows = 0
        self.used_clients = set()
        self.markers = dict.fromkeys(("ua", "uri", "dns", "bulk", "sni"), 0)

    def client(self):
        c = self.rng.choice(self.clients)
        self.used_clients.add(c.ip)
        return c

    # -- HTTP --
    def http(self):
        rng, pools = self.rng, self.pools
        conn = Conn(self.w, rng, self.client(), rng.choice(self.servers["http"]), 80)
        host = rng.choice(pools.hosts)
        nreq = rng.choice((1, 1, 1, 2, 2, 3))
        exchanges = []
        est = 10 * 60
        for _ in range(nreq):
            idx = self.requests
            self.requests += 1
            path, ext = rng.choice(pools.uris)
            method = "POST" if rng.random() < 0.12 else "GET"
            ua = rng.choice(USER_AGENTS)
            if idx % bd.URI_EVERY == bd.URI_FIRST:
                method = "GET"
                path = bd.URI_MARKER + "%08x&v=%d" % (rng.getrandbits(32), rng.randrange(1, 9))
                ext = ".php"
                self.markers["uri"] += 1
            if idx % bd.UA_EVERY == bd.UA_FIRST:
                ua = bd.UA_MARKER + " (compatible; bench)"
                self.markers["ua"] += 1
            lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"User-Agent: {ua}",
                     "Accept: " + ("text/html,application/xhtml+xml,*/*;q=0.8"
                                   if ext in TEXTUAL else "*/*"),
                     f"Accept-Language: {rng.choice(LANGS)}",
                     "Accept-Encoding: gzip, deflate, br", "Connection: keep-alive"]
            if rng.random() < 0.5:
                lines.append(f"Referer: https://{rng.choice(pools.hosts)}"
                             f"{rng.choice(pools.uris)[0]}")
            if rng.random() < 0.4:
                lines.append("Cookie: sid=%032x; pref=%s" % (rng.getrandbits(128),
                                                             rng.choice(WORDS)))
            body = b""
            if method == "POST":
                body = "&".join(f"{rng.choice(WORDS)}={rng.randrange(10**6)}"
                                for _ in range(rng.randrange(1, 12))).encode()
                lines += ["Content-Type: application/x-www-form-urlencoded",
                          f"Content-Length: {len(body)}"]
            req = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
            r = rng.random()
            if r < 0.5:
                size = rng.randrange(200, 8000)
            elif r < 0.85:
                size = rng.randrange(8000, 64000)
            else:
                size = rng.randrange(64000, 400000)
            status = "200 OK" if rng.random() < 0.93 else rng.choice(
                ["304 Not Modified", "404 Not Found", "302 Found"])
            if status.startswith("304"):
                size = 0
            content = pools.slice(pools.text if ext in TEXTUAL else pools.random, size, rng) \
                if size else b""
            head = (f"HTTP/1.1 {status}\r\nServer: {rng.choice(SERVERS)}\r\n"
                    f"Date: Mon, 01 Jan 2024 00:{rng.randrange(60):02d}:{rng.randrange(60):02d}"
                    f" GMT\r\nContent-Type: {CTYPES[ext]}\r\nContent-Length: {size}\r\n"
                    f"Cache-Control: max-age={rng.choice((0, 60, 3600, 86400))}\r\n"
                    "Connection: keep-alive\r\n\r\n").encode()
            exchanges.append((req, head + content))
            est += len(req) + len(head) + size + (size // MSS + 2) * 90
        return est, self._http_run(conn, exchanges)

    def _http_run(self, conn, exchanges):
        yield from conn.handshake()
        for req, resp in exchanges:
            yield from conn.send(True, req)
            yield from conn.send(False, resp)
        yield from conn.close(client_first=self.rng.random() < 0.7)

    # -- DNS --
    def dns(self):
        rng = self.rng
        client = self.client()
        resolver = rng.choice(self.resolvers)
        idx = self.dns_queries
        self.dns_queries += 1
        name = rng.choice(self.pools.dns_names)
        if idx % bd.DNS_EVERY == bd.DNS_FIRST:
            name = bd.DNS_MARKER
            self.markers["dns"] += 1
        qtype = 1 if rng.random() < 0.7 else 28
        qid = rng.getrandbits(16)
        qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
        question = qname + struct.pack("!HH", qtype, 1)
        query = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + question
        if qtype == 1:
            rdata = bytes([198, 51, 100, rng.randrange(1, 255)])
        else:
            rdata = b"\x20\x01\x0d\xb8" + rng.randbytes(12)
        answer = struct.pack("!HHHIH", 0xC00C, qtype, 1, rng.choice((60, 300, 3600)),
                             len(rdata)) + rdata
        resp = struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + question + answer
        sport = client.port()
        return 2 * 60 + len(query) + len(resp), self._dns_run(client, resolver, sport, query,
                                                              resp)

    def _udp(self, src, dst, sport, dport, payload, ip_id, ttl, eth):
        ulen = 8 + len(payload)
        c = _csum(_wsum(src.ip + dst.ip + b"\x00\x11") + ulen
                  + _wsum(_pack_udp(sport, dport, ulen, 0)) + _wsum(payload)) or 0xFFFF
        self.w.frame(eth + ipv4(src.ip, dst.ip, 17, ip_id, ttl,
                                _pack_udp(sport, dport, ulen, c) + payload))

    def _dns_run(self, client, resolver, sport, query, resp):
        rng = self.rng
        self._udp(client, resolver, sport, 53, query, rng.getrandbits(16), 64,
                  resolver.mac + client.mac + b"\x08\x00")
        yield
        self._udp(resolver, client, 53, sport, resp, rng.getrandbits(16), 60,
                  client.mac + resolver.mac + b"\x08\x00")
        yield

    # -- TLS --
    def tls(self):
        rng, pools = self.rng, self.pools
        conn = Conn(self.w, rng, self.client(), rng.choice(self.servers["tls"]), 443)
        idx = self.tls_sessions
        self.tls_sessions += 1
        sni = rng.choice(pools.hosts)
        if idx % bd.SNI_EVERY == bd.SNI_FIRST:
            sni = bd.SNI_MARKER
            self.markers["sni"] += 1
        hello = client_hello(rng, sni)
        server_hs = record(0x16, pools.slice(pools.random, rng.randrange(2500, 5200), rng)) \
            + record(0x14, b"\x01")
        client_fin = record(0x16, pools.slice(pools.random, 37, rng)) + record(0x14, b"\x01") \
            + record(0x17, pools.slice(pools.random, 53, rng))
        rounds = []
        est = len(hello) + len(server_hs) + 20 * 60
        for _ in range(rng.choice((1, 1, 2, 3, 4))):
            up = record(0x17, pools.slice(pools.random, rng.randrange(80, 900), rng))
            r = rng.random()
            size = (rng.randrange(500, 8000) if r < 0.5 else rng.randrange(8000, 60000)
                    if r < 0.85 else rng.randrange(60000, 300000))
            down = b"".join(record(0x17, pools.slice(pools.random, min(16384, size - o), rng))
                            for o in range(0, size, 16384))
            rounds.append((up, down))
            est += len(up) + len(down) + (len(down) // MSS + 2) * 90
        return est, self._tls_run(conn, hello, server_hs, client_fin, rounds)

    def _tls_run(self, conn, hello, server_hs, client_fin, rounds):
        yield from conn.handshake()
        conn.seg(True, 0x18, hello)
        yield
        yield from conn.send(False, server_hs)
        yield from conn.send(True, client_fin)
        for up, down in rounds:
            yield from conn.send(True, up)
            yield from conn.send(False, down)
        conn.seg(True, 0x18, record(0x15, self.pools.slice(self.pools.random, 26, self.rng)))
        yield
        yield from conn.close()

    # -- bulk --
    def bulk(self):
        rng = self.rng
        port = rng.choice((873, 2049, 5001, 9000, 22000))
        conn = Conn(self.w, rng, self.client(), rng.choice(self.servers["bulk"]), port)
        size = rng.randrange(256 << 10, 2560 << 10)
        upload = rng.random() < 0.4
        return size * 1.06 + 600, self._bulk_run(conn, size, upload)

    def _bulk_run(self, conn, size, upload):
        rng, pool = self.rng, self.pools.random
        yield from conn.handshake()
        conn.seg(True, 0x18, (b"PUTBLOB %d\n" if upload else b"GETBLOB %d\n") % size)
        yield
        conn.seg(False, 0x10)
        yield
        sent = 0
        count = 0
        marker = bd.BULK_MARKER
        while sent < size:
            n = min(MSS, size - sent)
            off = rng.randrange(len(pool) - n)
            data = pool[off:off + n]
            idx = self.bulk_segments
            self.bulk_segments += 1
            if idx % bd.BULK_EVERY == bd.BULK_FIRST and n > len(marker):
                k = rng.randrange(n - len(marker))
                data = data[:k] + marker + data[k + len(marker):]
                self.markers["bulk"] += 1
            sent += n
            conn.seg(upload, 0x18 if sent >= size else 0x10, data)
            yield
            count += 1
            if count % 2 == 0 or sent >= size:
                conn.seg(not upload, 0x10)
                yield
        yield from conn.close()


def record(ctype, body):
    return bytes([ctype, 3, 3]) + len(body).to_bytes(2, "big") + body


def client_hello(rng, sni):
    name = sni.encode()
    ext = struct.pack("!HHHBH", 0, len(name) + 5, len(name) + 3, 0, len(name)) + name
    ext += bytes.fromhex("000a000a0008001d001700180019")  # supported_groups
    ext += bytes.fromhex("000b00020100")  # ec_point_formats
    ext += bytes.fromhex("0010000e000c02683208687474702f312e31")  # ALPN h2, http/1.1
    ext += bytes.fromhex("000d0012001004030804040105030805050108060601")  # sig algs
    ext += bytes.fromhex("002b0005040304" "0303")  # supported_versions
    ext += struct.pack("!HHHHH", 0x0033, 38, 36, 0x001D, 32) + rng.randbytes(32)  # key_share
    ciphers = bytes.fromhex("130113021303c02bc02fc02cc030cca9cca8c013c014009c009d002f0035")
    body = (b"\x03\x03" + rng.randbytes(32) + b"\x20" + rng.randbytes(32)
            + len(ciphers).to_bytes(2, "big") + ciphers + b"\x01\x00"
            + len(ext).to_bytes(2, "big") + ext)
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + len(hs).to_bytes(2, "big") + hs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, bd.DEFAULT_DIR, "bench.pcap"))
    ap.add_argument("--mb", type=float, default=200, help="approximate size in MB (10^6 bytes)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)

    t0 = time.monotonic()
    rng = random.Random(args.seed)
    target = int(args.mb * 1_000_000)
    w = Writer(args.out, target, rng)
    g = Gen(w, rng)
    planned = dict.fromkeys(MIX, 0.0)

    def start():
        kind = min(MIX, key=lambda k: planned[k] / MIX[k])
        est, it = getattr(g, kind)()
        planned[kind] += est
        g.flows += 1
        return kind, it

    active = [start() for _ in range(ACTIVE)]
    next_report = 10_000_000
    while active:
        i = rng.randrange(len(active))
        kind, it = active[i]
        w.kind = kind
        try:
            next(it)
        except StopIteration:
            # Stop opening conversations once the planned bytes reach the target, so the
            # ones still open when we get there do not overshoot it.
            if sum(planned.values()) < target:
                active[i] = start()
            else:
                active[i] = active[-1]
                active.pop()
        if w.bytes >= next_report:
            next_report += 10_000_000
            print(f"gen_traffic: {w.bytes / 1e6:6.1f}/{args.mb:g} MB  {w.packets} packets  "
                  f"{g.flows} flows  {time.monotonic() - t0:5.1f} s", file=sys.stderr)
    w.close()

    dt = time.monotonic() - t0
    total = sum(w.by_kind.values())
    mix = "  ".join(f"{k} {100 * v / total:.1f}%" for k, v in w.by_kind.items())
    print(f"gen_traffic: wrote {args.out}: {w.bytes / 1e6:.1f} MB, {w.packets} packets, "
          f"{g.flows} flows, {len(g.used_clients)} client addresses, {dt:.1f} s", file=sys.stderr)
    print(f"gen_traffic: bytes by kind: {mix}", file=sys.stderr)
    if os.environ.get("GEN_TRAFFIC_DEBUG"):
        print("planned/actual: " + "  ".join(f"{k} {planned[k] / max(1, w.by_kind[k]):.3f}"
                                             for k in MIX), file=sys.stderr)
    print(f"gen_traffic: {g.requests} HTTP requests, {g.dns_queries} DNS queries, "
          f"{g.tls_sessions} TLS sessions, {g.bulk_segments} bulk segments", file=sys.stderr)
    print("gen_traffic: markers written (= expected alerts): "
          + "  ".join(f"{sid} {key}={g.markers[key]}" for sid, key, _ in bd.MARKER_RULES),
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
