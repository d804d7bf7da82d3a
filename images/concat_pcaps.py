#!/usr/bin/env python3
"""Concatenates classic Ethernet pcap files into one (demo: one capture for a DPDK net_pcap
port). Files of another link type or in pcapng are skipped and named on stderr.

usage: concat_pcaps.py OUT IN...
"""
import struct
import sys


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    out_path, inputs = sys.argv[1], sys.argv[2:]
    n = 0
    with open(out_path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for path in inputs:
            with open(path, "rb") as fh:
                data = fh.read()
            if len(data) < 24:
                print("skipped %s: too short" % path, file=sys.stderr)
                continue
            magic = struct.unpack("<I", data[:4])[0]
            if magic not in (0xA1B2C3D4, 0xA1B23C4D):
                print("skipped %s: not a little-endian classic pcap" % path, file=sys.stderr)
                continue
            if struct.unpack("<I", data[20:24])[0] != 1:
                print("skipped %s: not Ethernet" % path, file=sys.stderr)
                continue
            nano = magic == 0xA1B23C4D
            off = 24
            while off + 16 <= len(data):
                sec, frac, incl, orig = struct.unpack("<IIII", data[off:off + 16])
                if nano:
                    frac //= 1000
                out.write(struct.pack("<IIII", sec, frac, incl, orig))
                out.write(data[off + 16:off + 16 + incl])
                off += 16 + incl
                n += 1
    print("%s: %d packets from %d files" % (out_path, n, len(inputs)), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
