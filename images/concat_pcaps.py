#!/usr/bin/env python3
"""Concatenates the Ethernet captures among pcap and pcapng files into one classic pcap
(demo: one capture for a DPDK net_pcap port, which carries Ethernet frames only). Captures of
another link type are skipped; one line on stderr says what was taken and what was skipped.

usage: concat_pcaps.py OUT IN...
"""
import os
import struct
import sys

LINK_NAMES = {0: "BSD loopback", 9: "PPP", 101: "raw IP", 104: "Cisco HDLC", 108: "OpenBSD loopback",
              113: "Linux cooked", 228: "raw IPv4", 229: "raw IPv6", 276: "Linux cooked v2"}
ETHERNET = 1


def classic_records(data):
    """(link type, [(sec, usec, frame, orig_len)]) of a classic pcap, either byte order."""
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return None
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    link = struct.unpack(e + "I", data[20:24])[0] & 0xFFFF
    out = []
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack(e + "IIII", data[off:off + 16])
        out.append((sec, frac // 1000 if nano else frac, data[off + 16:off + 16 + incl], orig))
        off += 16 + incl
    return link, out


def pcapng_records(data):
    """(link type, [(sec, usec, frame, orig_len)]) of a pcapng file with one link type."""
    if data[:4] != b"\x0a\x0d\x0d\x0a" or len(data) < 12:
        return None
    e = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
    links, units, out = [], [], []
    off = 0
    while off + 12 <= len(data):
        btype, blen = struct.unpack(e + "II", data[off:off + 8])
        if blen < 12 or off + blen > len(data):
            break
        body = data[off + 8:off + blen - 4]
        if btype == 0x0A0D0D0A:  # section header: interfaces start afresh
            links, units = [], []
        elif btype == 1:  # interface description
            links.append(struct.unpack(e + "H", body[:2])[0])
            per_sec = 10**6
            o = 8
            while o + 4 <= len(body):
                code, olen = struct.unpack(e + "HH", body[o:o + 4])
                if code == 0:
                    break
                if code == 9 and olen >= 1:  # if_tsresol
                    v = body[o + 4]
                    per_sec = 2**(v & 0x7F) if v & 0x80 else 10**v
                o += 4 + (olen + 3) // 4 * 4
            units.append(per_sec)
        elif btype == 6 and len(body) >= 20:  # enhanced packet
            ifc, hi, lo, cap, orig = struct.unpack(e + "IIIII", body[:20])
            if ifc < len(units):
                ts = (hi << 32) | lo
                sec, frac = divmod(ts, units[ifc])
                out.append((sec, frac * 10**6 // units[ifc], body[20:20 + cap], orig))
        off += blen
    if len(set(links)) != 1:
        return None
    return links[0], out


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    out_path, inputs = sys.argv[1], sys.argv[2:]
    packets, taken, skipped = 0, 0, []
    with open(out_path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, ETHERNET))
        for path in inputs:
            with open(path, "rb") as fh:
                data = fh.read()
            parsed = classic_records(data) or pcapng_records(data)
            name = os.path.basename(path)
            if parsed is None:
                skipped.append("%s (not a pcap or pcapng file with one link type)" % name)
                continue
            link, records = parsed
            if link != ETHERNET:
                skipped.append("%s (%s)" % (name, LINK_NAMES.get(link, "link type %d" % link)))
                continue
            for sec, usec, frame, orig in records:
                out.write(struct.pack("<IIII", sec, usec, len(frame), orig))
                out.write(frame)
                packets += 1
            taken += 1
    line = "%s: %d packets from %d Ethernet captures" % (out_path, packets, taken)
    if skipped:
        line += "; skipped %d not Ethernet: %s" % (len(skipped), ", ".join(skipped))
    print(line, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
