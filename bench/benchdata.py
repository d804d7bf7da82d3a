"""Shared between bench/gen_traffic.py and bench/gen_rules.py: the marker strings the generated
traffic embeds and the rules that must match them.

Every marker sits entirely inside ONE packet, so under per-packet inspection each embedded
occurrence produces exactly one alert of its rule: gen_traffic.py prints how many times it
embedded each marker, which is the expected alert count per marker sid. The markers are
placed deterministically (every Nth request / query / session / segment, counted from a small
start index), so even a few-MB capture contains each of them at least once.
"""

DEFAULT_DIR = "data"  # relative to bench/; git-ignored

# 1. A rare User-Agent in about 0.1% of HTTP requests (request index % 1000 == 7).
UA_MARKER = "VigilBench-Marker/1.0"
UA_EVERY, UA_FIRST = 1000, 7

# 2. A beacon URI in about 0.13% of HTTP requests (request index % 777 == 3); the query string
#    is "cid=<8 hex digits>&..." so a pcre can check it.
URI_MARKER = "/vbm/beacon.php?cid="
URI_EVERY, URI_FIRST = 777, 3

# 3. A DNS query name in 0.2% of DNS queries (query index % 500 == 5).
DNS_MARKER = "marker-c2.vigil-bench.example"
DNS_EVERY, DNS_FIRST = 500, 5

# 4. A string inside about 0.1% of bulk-transfer segments (segment index % 997 == 5), at a
#    pseudo-random position inside the segment.
BULK_MARKER = b"VGLBENCH-EXFIL-BLOCK-7e3"
BULK_EVERY, BULK_FIRST = 997, 5

# 5. A TLS SNI in 1% of TLS ClientHellos (session index % 100 == 2).
SNI_MARKER = "marker-sni.vigil-bench.example"
SNI_EVERY, SNI_FIRST = 100, 2


def dns_wire_name(name):
    """'a.bc' -> '|01|a|02|bc|00|' in Suricata content notation."""
    return "".join("|%02x|%s" % (len(label), label) for label in name.split(".")) + "|00|"


# (sid, key, rule text). Keys name the counters gen_traffic.py prints.
MARKER_RULES = [
    (8000001, "ua",
     'alert tcp $HOME_NET any -> $EXTERNAL_NET 80 (msg:"BENCH MARKER rare HTTP User-Agent"; '
     'flow:established,to_server; content:"User-Agent|3a 20|' + UA_MARKER + '"; nocase; '
     'classtype:trojan-activity; sid:8000001; rev:1;)'),
    (8000002, "uri",
     'alert tcp $HOME_NET any -> $EXTERNAL_NET 80 (msg:"BENCH MARKER beacon URI"; '
     'flow:established,to_server; content:"GET "; depth:4; content:"' + URI_MARKER + '"; '
     'distance:0; fast_pattern; pcre:"/\\/vbm\\/beacon\\.php\\?cid=[0-9a-f]{8}&/"; '
     'classtype:trojan-activity; sid:8000002; rev:1;)'),
    (8000003, "dns",
     'alert udp $HOME_NET any -> any 53 (msg:"BENCH MARKER DNS query for marker domain"; '
     'content:"|01 00 00 01|"; offset:2; depth:4; content:"' + dns_wire_name(DNS_MARKER)
     + '"; distance:6; within:%d; nocase; classtype:trojan-activity; sid:8000003; rev:1;)'
     % (len(DNS_MARKER) + 2)),
    (8000004, "bulk",
     'alert tcp any any -> any any (msg:"BENCH MARKER exfil block in bulk transfer"; '
     'flow:established; content:"' + BULK_MARKER.decode() + '"; '
     'classtype:policy-violation; sid:8000004; rev:1;)'),
    (8000005, "sni",
     'alert tcp $HOME_NET any -> $EXTERNAL_NET 443 (msg:"BENCH MARKER TLS SNI"; '
     'flow:established,to_server; content:"|16 03|"; depth:2; '
     'content:"' + SNI_MARKER + '"; distance:0; fast_pattern; '
     'classtype:trojan-activity; sid:8000005; rev:1;)'),
]

FIRST_RANDOM_SID = 8000001 + len(MARKER_RULES)
