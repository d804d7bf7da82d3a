#!/usr/bin/env python3
"""Detection semantics a Suricata rule writer relies on, checked end to end: a rule file
and a pcap replayed through vigil-sensor, judged by the alerts in EVE.

Environment: VIGIL_SENSOR (binary), VIGIL_ROOT (repo root).
"""

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

    def alerts(self, pcap, *rules):
        """Replays pcap against rules; returns the sorted sids that alerted."""
        path = os.path.join(self.dir, "r.rules")
        with open(path, "w") as fh:
            fh.write("\n".join(rules) + "\n")
        eve = os.path.join(self.dir, "eve.json")
        r = subprocess.run([SENSOR, "replay", "--rules", path, "--pcap", pcap, "--eve", eve,
                            "--no-progress"], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(" 0 rejected", r.stderr)
        with open(eve) as fh:
            events = [json.loads(line) for line in fh if line.strip()]
        return sorted(e["alert"]["signature_id"] for e in events if e["event_type"] == "alert")

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
            # http.header, the whole block, still spans headers
            'alert http any any -> any any (http.header; content:"Host";'
            ' content:"Accept"; distance:0; sid:7;)',
        )
        self.assertEqual(got, [1, 2, 3, 7])

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


if __name__ == "__main__":
    unittest.main(verbosity=2)
