#!/usr/bin/env python3
"""Detection semantics a Suricata rule writer relies on, checked end to end: a rule file
and a pcap replayed through vigil-sensor, judged by the alerts in EVE.

Environment: VIGIL_SENSOR (binary), VIGIL_ROOT (repo root).
"""

import collections
import json
import os
import shutil
import subprocess
import tempfile
import unittest

SENSOR = os.environ.get("VIGIL_SENSOR", "build/sensor/vigil-sensor")
ROOT = os.environ.get("VIGIL_ROOT", os.getcwd())
PCAPS = os.path.join(ROOT, "pcaps")
# GET with Host, User-Agent, Accept, X-Vigil-Canary; 200 with Server, Content-Type,
# Content-Length, X-Vigil-Canary.
ESTABLISHED = os.path.join(PCAPS, "01-http-established.pcap")


class DetectSemantics(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="vigil-detect-test-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def alerts(self, pcap, *rules, extra=()):
        """Replays pcap against rules; returns the sorted sids that alerted."""
        path = os.path.join(self.dir, "r.rules")
        with open(path, "w") as fh:
            fh.write("\n".join(rules) + "\n")
        eve = os.path.join(self.dir, "eve.json")
        r = subprocess.run([SENSOR, "replay", "--rules", path, "--pcap", pcap, "--eve", eve,
                            "--no-progress", *extra], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(" 0 rejected", r.stderr)
        with open(eve) as fh:
            events = [json.loads(line) for line in fh if line.strip()]
        self.events = events
        return sorted(e["alert"]["signature_id"] for e in events if e["event_type"] == "alert")

    def dns_pcap(self):
        """A query with its response (CNAME, A; authority SOA; additional A), and an MX query
        with its response, over UDP."""
        from scapy.layers.dns import DNS, DNSQR, DNSRR, DNSRRMX, DNSRRSOA
        from scapy.layers.inet import IP, UDP
        from scapy.layers.l2 import Ether
        from scapy.utils import wrpcap
        cli, res = "10.0.0.1", "10.0.0.53"
        www, cdn = b"www.vigil-test.org.", b"cdn.vigil-test.net."
        pkts = []

        def add(src, dst, sport, dport, dns):
            pkt = Ether() / IP(src=src, dst=dst) / UDP(sport=sport, dport=dport) / dns
            pkt.time = len(pkts) * 0.001
            pkts.append(pkt)
        add(cli, res, 40000, 53, DNS(id=1, rd=1, qd=DNSQR(qname=www, qtype="A")))
        add(res, cli, 53, 40000, DNS(
            id=1, qr=1, rd=1, ra=1, qd=DNSQR(qname=www, qtype="A"),
            an=DNSRR(rrname=www, type="CNAME", ttl=60, rdata=cdn)
            / DNSRR(rrname=cdn, type="A", ttl=60, rdata="192.0.2.1"),
            ns=DNSRRSOA(rrname=b"vigil-test.org.", mname=b"ns1.vigil-test.org.",
                        rname=b"admin.vigil-test.org."),
            ar=DNSRR(rrname=b"ns1.vigil-test.org.", type="A", ttl=60, rdata="192.0.2.53")))
        add(cli, res, 40001, 53, DNS(id=2, rd=1, qd=DNSQR(qname=b"mx.vigil-test.org.",
                                                          qtype="MX")))
        add(res, cli, 53, 40001, DNS(
            id=2, qr=1, rd=1, ra=1, qd=DNSQR(qname=b"mx.vigil-test.org.", qtype="MX"),
            an=DNSRRMX(rrname=b"mx.vigil-test.org.", type="MX", ttl=60, preference=10,
                       exchange=b"mail.vigil-test.org.")))
        # In the first flow: a query with the Z flag and an unassigned opcode, and a message
        # from the server that is not a response.
        add(cli, res, 40000, 53, DNS(id=3, z=1, opcode=7, qd=DNSQR(qname=b"z.vigil-test.org.")))
        add(res, cli, 53, 40000, DNS(id=4, qd=DNSQR(qname=b"z.vigil-test.org.")))
        path = os.path.join(self.dir, "dns.pcap")
        wrpcap(path, pkts)
        return path

    def test_http_header_line_buffers_hold_one_header_each(self):
        got = self.alerts(
            ESTABLISHED,
            # startswith / bsize / endswith apply to one header line
            'alert http any any -> any any (http.request_header; content:"User-Agent: Mozilla";'
            ' startswith; sid:1;)',
            'alert http any any -> any any (http.request_header; bsize:20;'
            ' content:"X-Vigil-Canary: 0001"; sid:2;)',
            'alert http any any -> any any (flow:to_client; http.response_header;'
            ' content:"Server: nginx/1.24.0"; startswith; endswith; sid:3;)',
            # contents of one rule must all be found in the same header line
            'alert http any any -> any any (http.request_header; content:"Host";'
            ' content:"Accept"; distance:0; sid:4;)',
            'alert http any any -> any any (flow:to_client; http.response_header;'
            ' content:"nginx"; content:"text/html"; distance:0; sid:5;)',
            # a header line is "Name: value" without its CRLF
            'alert http any any -> any any (http.request_header; content:"|0d 0a|"; sid:6;)',
            # http.protocol is the status line's under flow:to_client
            'alert http any any -> any any (flow:to_client; http.protocol; content:"HTTP/1.1";'
            ' bsize:8; sid:8;)',
            # http.header, the whole block, still spans headers
            'alert http any any -> any any (http.header; content:"Host";'
            ' content:"Accept"; distance:0; sid:7;)',
        )
        self.assertEqual(got, [1, 2, 3, 7, 8])

    def test_packet_header_buffers_see_the_headers_as_on_the_wire(self):
        got = set(self.alerts(
            ESTABLISHED,  # IPv4 without options, TCP 10.0.0.10:49200 <-> :80
            'alert tcp any any -> any any (tcp.hdr; content:"|00 50|"; depth:2; sid:10;)',
            'alert ip any any -> any any (udp.hdr; content:"|00|"; sid:11;)',
            'alert ip any any -> any any (ipv4.hdr; bsize:20; content:"|45|"; startswith;'
            ' sid:12;)',
            # two header buffers of one packet, and a payload content after them
            'alert tcp any any -> any any (ipv4.hdr; content:"|06|"; offset:9; depth:1;'
            ' tcp.hdr; content:"|00 50|"; offset:2; depth:2; pkt_data; content:"GET "; sid:13;)',
            'alert ip any any -> any any (ipv6.hdr; content:"|60|"; sid:14;)',
            # a header buffer never sees the payload
            'alert tcp any any -> any any (tcp.hdr; content:"GET"; sid:15;)',
            'alert tcp any any -> any any (tcp.flags:S; sid:16;)',
        ))
        self.assertEqual(got, {10, 12, 13, 16})

    def test_dns_sections_of_queries_and_responses(self):
        rules = [
            'alert dns any any -> any any (dns.query; content:"www.vigil-test.org"; sid:20;)',
            'alert dns any any -> any any (dns.queries.rrname; content:"www.vigil-test.org";'
            ' sid:21;)',
            'alert dns any any -> any any (dns.answers.rrname; content:"cdn.vigil-test.net";'
            ' sid:22;)',
            # CNAME rdata and the A record's name: one alert for the response
            'alert dns any any -> any any (dns.response.rrname; content:"cdn.vigil-test.net";'
            ' sid:23;)',
            'alert dns any any -> any any (dns.authorities.rrname; bsize:14;'
            ' content:"vigil-test.org"; sid:24;)',
            'alert dns any any -> any any (dns.response.rrname; content:"mail.vigil-test.org";'
            ' sid:25;)',  # MX rdata
            'alert dns any any -> any any (dns.rrtype:15; flow:to_server; sid:26;)',
            'alert dns any any -> any any (dns.rrtype:5; flow:to_client; sid:27;)',  # CNAME
            'alert dns any any -> any any (dns.rrtype:!1; flow:to_server; sid:28;)',
            'alert dns any any -> any any (dns.opcode:0; dns.query; content:"mx."; sid:29;)',
            'alert dns any any -> any any (dns.additionals.rrname; content:"ns1"; sid:30;)',
            'alert dns any any -> any any (dns.query; content:"cdn"; sid:31;)',
            'alert dns any any -> any any (dns.opcode:>0; sid:32;)',
            'alert dns any any -> any any (dns.rcode:0; flow:to_client; sid:33;)',
            'alert dns any any -> any any (app-layer-event:dns.z_flag_set; sid:34;)',
            'alert dns any any -> any any (app-layer-event:dns.invalid_opcode; sid:35;)',
            'alert dns any any -> any any (app-layer-event:dns.not_a_response; sid:36;)',
            'alert dns any any -> any any (app-layer-event:dns.not_response; sid:37;)',
            'alert dns any any -> any any (dns.rcode:NOERROR; flow:to_client; sid:38;)',
            'alert dns any any -> any any (dns.rcode:!noerror; sid:39;)',
        ]
        got = dict(collections.Counter(self.alerts(self.dns_pcap(), *rules)))
        self.assertEqual(got, {20: 1, 21: 2, 22: 1, 23: 1, 24: 1, 25: 1, 26: 1, 27: 1,
                               28: 1, 29: 1, 30: 1, 32: 1, 33: 3, 34: 1, 35: 1, 36: 1,
                               37: 1, 38: 3})
        # The response's alert carries the response, sections included; it is a transaction
        # of its own, the one after its query's (Suricata 8).
        resp = [e for e in self.events if e.get("alert", {}).get("signature_id") == 22]
        self.assertEqual(resp[0]["dns"]["type"], "response")
        self.assertEqual(resp[0]["dns"]["authorities"][0]["rrname"], "vigil-test.org")
        self.assertEqual(resp[0]["dns"]["additionals"][0]["rdata"], "192.0.2.53")
        query = [e for e in self.events if e.get("alert", {}).get("signature_id") == 20]
        self.assertEqual(resp[0]["tx_id"], query[0]["tx_id"] + 1)

    def http_pcap(self, uri, host="www.bbc.co.uk"):
        """One HTTP/1.1 GET for `uri` and its 200 response, over a full TCP session."""
        from scapy.layers.inet import IP, TCP
        from scapy.layers.l2 import Ether
        from scapy.utils import wrpcap
        cli, srv, sp = "10.0.0.1", "10.0.0.80", 41000
        req = (b"GET " + uri + b" HTTP/1.1\r\nHost: " + host.encode() +
               b"\r\nUser-Agent: t\r\n\r\n")
        resp = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        pkts = []

        def add(src, dst, s, d, flags, seq, ack, load=b""):
            pkt = Ether() / IP(src=src, dst=dst) / TCP(sport=s, dport=d, flags=flags, seq=seq,
                                                       ack=ack) / load
            pkt.time = len(pkts) * 0.001
            pkts.append(pkt)
        add(cli, srv, sp, 80, "S", 100, 0)
        add(srv, cli, 80, sp, "SA", 500, 101)
        add(cli, srv, sp, 80, "A", 101, 501)
        add(cli, srv, sp, 80, "PA", 101, 501, req)
        add(srv, cli, 80, sp, "PA", 501, 101 + len(req), resp)
        add(cli, srv, sp, 80, "A", 101 + len(req), 501 + len(resp))
        add(cli, srv, sp, 80, "FA", 101 + len(req), 501 + len(resp))
        add(srv, cli, 80, sp, "FA", 501 + len(resp), 102 + len(req))
        add(cli, srv, sp, 80, "A", 102 + len(req), 502 + len(resp))
        path = os.path.join(self.dir, "http.pcap")
        wrpcap(path, pkts)
        return path

    def test_transforms_decode_what_the_request_hides(self):
        import base64
        import gzip
        import hashlib
        import urllib.parse
        key = bytes.fromhex("0d0ac8ff")
        secret = b"password=hunter2"
        xored = bytes(c ^ key[i % 4] for i, c in enumerate(secret))
        packed = base64.b64encode(gzip.compress(b"compressed payload\n", mtime=0))
        uri = (b"/get?data=" + urllib.parse.quote_from_bytes(xored).encode() + b"&z=" +
               urllib.parse.quote_from_bytes(packed).encode())
        digest = hashlib.sha256(b"www.bbc.co.uk").hexdigest()
        hexed = " ".join(digest[i:i + 2] for i in range(0, len(digest), 2))
        pcap = self.http_pcap(uri)
        got = self.alerts(
            pcap,
            # The query is %-decoded in http.uri, then cut out, then XORed with the key.
            'alert http any any -> any any (msg:"xor"; http.uri; content:"/get?data="; '
            'startswith; http.uri; pcrexform:"data=([^&]*)"; xor:"0d0ac8ff"; '
            'content:"password="; startswith; sid:60;)',
            'alert http any any -> any any (msg:"xor wrong key"; http.uri; '
            'pcrexform:"data=([^&]*)"; xor:"0d0ac8fe"; content:"password="; sid:61;)',
            # A transform after a match: the content before it sees the URI as sent.
            'alert http any any -> any any (msg:"b64+gunzip"; http.uri; content:"&z="; '
            'pcrexform:"&z=(.*)"; from_base64; gunzip; content:"compressed payload"; '
            'startswith; sid:62;)',
            'alert http any any -> any any (msg:"gunzip bound"; http.uri; '
            'pcrexform:"&z=(.*)"; from_base64; gunzip:max-size 10; bsize:10; sid:63;)',
            'alert http any any -> any any (msg:"sha256"; http.host; to_sha256; '
            'content:"|' + hexed + '|"; bsize:32; sid:64;)',
            'alert http any any -> any any (msg:"domain"; http.host; domain; '
            'content:"bbc.co.uk"; startswith; endswith; sid:65;)',
            'alert http any any -> any any (msg:"tld"; http.host; tld; content:"co.uk"; '
            'startswith; endswith; sid:66;)',
        )
        self.assertEqual(got, [60, 62, 63, 64, 65, 66])

    def test_rate_filter_changes_the_action_past_its_count(self):
        thr = os.path.join(self.dir, "threshold.config")
        with open(thr, "w") as fh:
            fh.write("rate_filter gen_id 1, sig_id 70, track by_rule, count 1, seconds 60, "
                     "new_action drop, timeout 100\n"
                     "rate_filter gen_id 1, sig_id 71, track by_src, count 1, seconds 60, "
                     "new_action pass, timeout 100\n")
        pcap = self.http_pcap(b"/index.html")
        # sid 70 binds to http and nothing else: its second match drops the flow (IPS).
        got = self.alerts(pcap, 'alert http any any -> any any (msg:"r"; sid:70;)',
                          extra=["--set", "threshold-file=" + thr, "--set",
                                 "simulate-ips=true"])
        self.assertEqual(got, [70, 70])
        actions = [e["alert"]["action"] for e in self.events if e["event_type"] == "alert"]
        self.assertEqual(actions, ["allowed", "blocked"])
        self.assertEqual(sum(e["event_type"] == "drop" for e in self.events), 1)
        # The flow is dropped from then on: the packets after it are blocked uninspected.
        stats = [e for e in self.events if e["event_type"] == "stats"][-1]["stats"]
        self.assertGreaterEqual(stats["ips"]["blocked"], 4)
        # pass: one alert per source address (client and server), then none.
        got = self.alerts(pcap, 'alert tcp any any -> any any (msg:"p"; sid:71;)',
                          extra=["--set", "threshold-file=" + thr])
        self.assertEqual(got, [71, 71])
        srcs = {e["src_ip"] for e in self.events if e["event_type"] == "alert"}
        self.assertEqual(srcs, {"10.0.0.1", "10.0.0.80"})

    def test_file_data_in_ip_and_tcp_rules_and_ip_only_negation(self):
        got = collections.Counter(self.alerts(
            ESTABLISHED,
            # file.data in a rule whose protocol is tcp or ip: the HTTP body (Suricata binds
            # it to every protocol with files).
            'alert tcp any any -> any any (msg:"fd tcp"; file.data; content:"canary-0001"; '
            'sid:80;)',
            'alert ip any any -> any any (msg:"fd ip"; file.data; content:"canary-0001"; '
            'sid:81;)',
            'alert ip any any -> any any (msg:"fd ip, request side"; file.data; '
            'content:"X-Vigil"; sid:82;)',
            # IP-only rules with negated addresses and flow keywords: the client 10.0.0.10
            # sends 6 packets, the server 4.
            'alert ip !198.51.100.0/24 any -> any any (msg:"neg"; flow:to_server; sid:83;)',
            'alert ip !10.0.0.10 any -> any any (msg:"neg excludes"; flow:to_server; sid:84;)',
            'alert ip ![10.0.0.0/8,!10.0.0.10] any -> any any (msg:"nested"; flow:to_server; '
            'sid:85;)',
            'alert ip any any -> !10.0.0.10 any (msg:"neg dst"; flow:to_client; sid:86;)',
            'alert ip any any -> ![10.0.0.0/8] any (msg:"to the server"; flow:to_server; '
            'sid:87;)',
        ))
        self.assertEqual(dict(got), {80: 1, 81: 1, 83: 6, 85: 6, 87: 6})

    def test_tag_logs_the_packets_after_the_alert(self):
        def packets(*rules, extra=()):
            self.alerts(ESTABLISHED, *rules, extra=extra)
            return [e for e in self.events if e["event_type"] == "packet"]
        # session, 4 packets: the SYN alerts and counts as the first; 3 packet records follow.
        got = packets('alert tcp any any -> any any (flags:S; tag:session,4,packets; sid:90;)')
        self.assertEqual(len(got), 3)
        self.assertTrue(all("packet" not in e for e in got))  # bytes only with --eve-packet
        got = packets('alert tcp any any -> any any (flags:S; tag:session,4,packets; sid:90;)',
                      extra=["--eve-packet"])
        self.assertEqual([e["src_ip"] for e in got], ["198.51.100.10", "10.0.0.10", "10.0.0.10"])
        self.assertTrue(all(e["packet_info"]["linktype"] == 1 for e in got))
        # Default: 256 packets, so the whole rest of the session (9 packets).
        self.assertEqual(len(packets('alert tcp any any -> any any (flags:S; tag:session; '
                                     'sid:91;)')), 9)
        # A packet that alerts is logged as its alert, not again as a packet.
        got = packets('alert tcp any any -> any any (flags:S; tag:session; sid:92;)',
                      'alert tcp any any -> any any (flags:FA; sid:93;)')
        self.assertEqual(len(got), 7)
        # host, by the SYN's source (the client), in bytes: the SYN (58 bytes) counts, then the
        # SYN-ACK (58), the ACK (54) and the request (236), which starts below 200 and ends it.
        got = packets('alert tcp any any -> any any (flags:S; tag:host,200,bytes,src; sid:94;)')
        self.assertEqual(len(got), 3)
        # A tag in seconds covers the whole short session.
        self.assertEqual(len(packets('alert tcp any any -> any any (flags:S; '
                                     'tag:host,10,seconds; sid:95;)')), 9)

    def test_fragment_overlap_raises_the_decode_event_on_the_fragment(self):
        from scapy.layers.inet import IP, UDP
        from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment
        from scapy.layers.l2 import Ether
        from scapy.utils import wrpcap
        data = bytes(UDP(sport=1000, dport=2000) / (b"A" * 24))  # 32 bytes
        pkts = []
        # IPv4: fragments [0,16) and [8,32): the second overlaps the first.
        pkts.append(Ether() / IP(src="10.0.0.1", dst="10.0.0.2", id=7, flags="MF", frag=0,
                                 proto=17) / data[:16])
        pkts.append(Ether() / IP(src="10.0.0.1", dst="10.0.0.2", id=7, frag=1, proto=17)
                    / data[8:])
        # IPv6: the same shape, and a clean datagram in two fragments.
        for ident, second in ((9, 8), (10, 16)):
            pkts.append(Ether() / IPv6(src="2001:db8::1", dst="2001:db8::2")
                        / IPv6ExtHdrFragment(nh=17, id=ident, m=1, offset=0) / data[:16])
            pkts.append(Ether() / IPv6(src="2001:db8::1", dst="2001:db8::2")
                        / IPv6ExtHdrFragment(nh=17, id=ident, m=0, offset=second // 8)
                        / data[second:])
        # IPv6: more fragments follow, but this one holds 12 bytes (not a multiple of 8).
        pkts.append(Ether() / IPv6(src="2001:db8::1", dst="2001:db8::2")
                    / IPv6ExtHdrFragment(nh=17, id=11, m=1, offset=0) / data[:12])
        for i, pkt in enumerate(pkts):
            pkt.time = i * 0.001
        path = os.path.join(self.dir, "frag.pcap")
        wrpcap(path, pkts)
        got = collections.Counter(self.alerts(
            path,
            'alert pkthdr any any -> any any (msg:"v4 overlap"; '
            'decode-event:ipv4.frag_overlap; sid:100;)',
            'alert pkthdr any any -> any any (msg:"v6 overlap"; '
            'decode-event:ipv6.frag_overlap; sid:101;)',
            'alert pkthdr any any -> any any (msg:"v6 length"; '
            'decode-event:ipv6.frag_invalid_length; sid:102;)',
        ))
        self.assertEqual(dict(got), {100: 1, 101: 1, 102: 1})

    def test_pass_rule_with_alert_keyword_alerts_and_still_passes(self):
        got = collections.Counter(self.alerts(
            ESTABLISHED,
            'pass tcp any any -> any 80 (msg:"pass"; alert; content:"GET /vigil"; sid:40;)',
            'alert tcp any any -> any any (msg:"x"; content:"GET /vigil"; sid:41;)',
            'alert tcp any any -> any any (msg:"y"; content:"GET /vigil"; noalert; sid:42;)',
            'pass tcp any any -> any 80 (msg:"silent pass"; content:"Host"; sid:43;)',
        ))
        self.assertEqual(dict(got), {40: 1})  # 41 is passed over; 42 and 43 never alert
        rec = [e for e in self.events if e.get("event_type") == "alert"][0]
        self.assertEqual(rec["alert"]["action"], "allowed")


if __name__ == "__main__":
    unittest.main(verbosity=2)
