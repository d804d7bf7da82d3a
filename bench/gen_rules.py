#!/usr/bin/python3
"""Writes a deterministic set of generated Suricata 7 rules for benchmarking:

  * the marker rules of bench/benchdata.py (sids 8000001..), which DO match the traffic that
    bench/gen_traffic.py writes (it prints the expected alert count of each), listed in a
    comment at the top of the file and printed on stdout;
  * then random rules (up to --count in total) that essentially never match: `alert tcp` /
    `alert udp` with 1-3 contents (random printable 6-20 byte strings; some nocase, some
    offset/depth, some relative with distance/within, a few negated, a few fast_pattern),
    ~10% with a pcre (a literal, a digit run, a literal), on ports 80, 443, 53 or any, many
    with flow:established,to_server.

    /usr/bin/python3 bench/gen_rules.py [--out bench/data/bench.rules] [--count 5000] [--seed 1]
"""

import argparse
import os
import random
import string
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchdata as bd  # noqa: E402

PRINTABLE = [chr(c) for c in range(0x20, 0x7F)]
HEX_ESCAPED = set('";\\|')  # written as |xx| inside content
ALNUM = string.ascii_letters + string.digits
WORDS = ("apex birch cobalt delta ember falcon garnet harbor iris jasper kestrel lumen "
         "marble nectar onyx pylon quartz raven sable tundra umber vortex willow xenon "
         "yarrow zephyr").split()
CLASSTYPES = ["trojan-activity", "web-application-attack", "attempted-recon", "bad-unknown",
              "policy-violation", "misc-activity", "attempted-admin", "attempted-user",
              "misc-attack"]

# (header, flow option or None, weight)
HEADERS = [
    ("alert tcp $HOME_NET any -> $EXTERNAL_NET 80", "flow:established,to_server;", 0.30),
    ("alert tcp $HOME_NET any -> $EXTERNAL_NET 80", None, 0.05),
    ("alert tcp $EXTERNAL_NET 80 -> $HOME_NET any", "flow:established,to_client;", 0.10),
    ("alert tcp $HOME_NET any -> $EXTERNAL_NET 443", "flow:established,to_server;", 0.13),
    ("alert tcp any any -> any 443", None, 0.02),
    ("alert udp $HOME_NET any -> any 53", None, 0.07),
    ("alert udp $HOME_NET any -> any 53", "flow:to_server;", 0.03),
    ("alert tcp any any -> any any", "flow:established,to_server;", 0.12),
    ("alert tcp any any -> any any", None, 0.08),
    ("alert udp any any -> any any", None, 0.10),
]


def content_value(data):
    """Suricata content notation: printable text, with '"', ';', '\\' and '|' as |xx|."""
    out, hexrun = [], []
    for ch in data:
        if ch in HEX_ESCAPED:
            hexrun.append("%02X" % ord(ch))
            continue
        if hexrun:
            out.append("|" + " ".join(hexrun) + "|")
            hexrun = []
        out.append(ch)
    if hexrun:
        out.append("|" + " ".join(hexrun) + "|")
    return "".join(out)


def random_rule(rng, sid):
    r, acc = rng.random(), 0.0
    for header, flow, weight in HEADERS:
        acc += weight
        if r < acc:
            break
    opts = [f'msg:"BENCH GEN {sid - 8000000:05d} {rng.choice(WORDS)} {rng.choice(WORDS)}";']
    if flow:
        opts.append(flow)
    use_pcre = rng.random() < 0.10
    ncontent = rng.choices((1, 2, 3), (0.5, 0.35, 0.15))[0]
    if use_pcre:
        ncontent = rng.choice((0, 1, 1))
    contents = []
    for i in range(ncontent):
        n = rng.randrange(6, 21)
        data = "".join(rng.choice(PRINTABLE) for _ in range(n))
        mods = []
        negated = i > 0 and rng.random() < 0.08
        if i == 0:
            if rng.random() < 0.25:
                off = rng.randrange(0, 21)
                if off:
                    mods.append(f"offset:{off};")
                mods.append(f"depth:{n + rng.randrange(0, 201)};")
        elif rng.random() < 0.5:
            if rng.random() < 0.7:
                mods.append(f"distance:{rng.randrange(0, 41)};")
            if rng.random() < 0.6:
                mods.append(f"within:{n + rng.randrange(0, 81)};")
            if not mods:
                mods.append("distance:0;")
        if rng.random() < 0.3:
            mods.insert(0, "nocase;")
        contents.append([negated, data, mods])
    positive = [c for c in contents if not c[0]]
    if len(positive) > 1 and rng.random() < 0.15:
        rng.choice(positive)[2].append("fast_pattern;")
    if use_pcre:
        lit1 = "".join(rng.choice(ALNUM) for _ in range(rng.randrange(6, 11)))
        lit2 = "".join(rng.choice(ALNUM) for _ in range(rng.randrange(3, 7)))
        caseless = rng.random() < 0.4
        if ncontent:
            # the pcre's leading literal doubles as its prefilter content
            contents = [[False, lit1, ["nocase;"] if caseless else []]]
        pcre = f'pcre:"/{lit1}[0-9]{{2,4}}{lit2}/{"i" if caseless else ""}";'
    for negated, data, mods in contents:
        opts.append(f'content:{"!" if negated else ""}"{content_value(data)}";')
        opts.extend(mods)
    if use_pcre:
        opts.append(pcre)
    if rng.random() < 0.05:
        opts.append(f"reference:url,www.example.com/bench/{sid};")
    opts.append(f"classtype:{rng.choice(CLASSTYPES)};")
    opts.append(f"sid:{sid}; rev:1;")
    if rng.random() < 0.2:
        opts.append("metadata:created_at 2024_01_01, signature_severity Minor;")
    return f"{header} ({' '.join(opts)})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, bd.DEFAULT_DIR, "bench.rules"))
    ap.add_argument("--count", type=int, default=5000, help="total rules, markers included")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if args.count < len(bd.MARKER_RULES):
        ap.error(f"--count must be at least {len(bd.MARKER_RULES)}")
    rng = random.Random(args.seed)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    lines = [
        "# Generated by bench/gen_rules.py (seed %d): %d rules." % (args.seed, args.count),
        "# The first %d are the marker rules: they match traffic written by"
        % len(bd.MARKER_RULES),
        "# bench/gen_traffic.py, which prints how many alerts each must raise:",
    ]
    for sid, key, text in bd.MARKER_RULES:
        msg = text.split('msg:"')[1].split('"')[0]
        lines.append(f"#   sid {sid} ({key}): {msg}")
    lines.append("# All other rules use random 6-20 byte strings and essentially never match.")
    lines.append("")
    lines += [text for _, _, text in bd.MARKER_RULES]
    lines.append("")
    for sid in range(bd.FIRST_RANDOM_SID, 8000001 + args.count):
        lines.append(random_rule(rng, sid))
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"gen_rules: wrote {args.count} rules to {args.out}; marker rules:")
    for _, _, text in bd.MARKER_RULES:
        print("  " + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
