#pragma once
// Test-only helpers that build frames byte by byte (no scapy, no pcap files): each function
// returns the bytes of one layer wrapped around its payload, so tests read inside out.

#include <array>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <utility>
#include <vector>

#include "dataplane/decode.h"
#include "dataplane/packet.h"

namespace vigil::test {

using Bytes = std::vector<uint8_t>;

inline void put16(Bytes& b, uint16_t v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
}

inline void put32(Bytes& b, uint32_t v) {
    put16(b, static_cast<uint16_t>(v >> 16));
    put16(b, static_cast<uint16_t>(v));
}

inline void append(Bytes& b, const Bytes& more) {
    b.insert(b.end(), more.begin(), more.end());
}

inline Bytes concat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const Bytes& p : parts) {
        append(out, p);
    }
    return out;
}

inline Bytes text(const char* s) {
    Bytes b;
    while (*s != '\0') {
        b.push_back(static_cast<uint8_t>(*s++));
    }
    return b;
}

using Ip4 = std::array<uint8_t, 4>;
using Ip6 = std::array<uint8_t, 16>;

inline constexpr Ip4 kIpA{10, 0, 0, 1};
inline constexpr Ip4 kIpB{10, 0, 0, 2};
inline constexpr Ip6 kIp6A{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
inline constexpr Ip6 kIp6B{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

// --- transport ---

struct TcpOpts {
    uint32_t seq = 1000;
    uint32_t ack = 0;
    uint16_t window = 8192;
    Bytes options;         // must be a multiple of 4 unless data_offset is forced
    int data_offset = -1;  // override the header length field (in 32-bit words)
};

inline Bytes tcp(uint16_t sport, uint16_t dport, uint8_t flags, const Bytes& payload = {},
                 const TcpOpts& o = {}) {
    Bytes b;
    put16(b, sport);
    put16(b, dport);
    put32(b, o.seq);
    put32(b, o.ack);
    const int doff =
        o.data_offset >= 0 ? o.data_offset : static_cast<int>((20 + o.options.size()) / 4);
    b.push_back(static_cast<uint8_t>(doff << 4));
    b.push_back(flags);
    put16(b, o.window);
    put16(b, 0);  // checksum: not verified by the decoder
    put16(b, 0);  // urgent pointer
    append(b, o.options);
    append(b, payload);
    return b;
}

// len_override < 0: the real length.
inline Bytes udp(uint16_t sport, uint16_t dport, const Bytes& payload = {}, int len_override = -1) {
    Bytes b;
    put16(b, sport);
    put16(b, dport);
    put16(b, static_cast<uint16_t>(len_override >= 0 ? len_override : 8 + payload.size()));
    put16(b, 0);
    append(b, payload);
    return b;
}

inline Bytes icmp(uint8_t type, uint8_t code, uint16_t id, uint16_t seq,
                  const Bytes& payload = {}) {
    Bytes b{type, code, 0, 0};
    put16(b, id);
    put16(b, seq);
    append(b, payload);
    return b;
}

// --- IP ---

struct Ip4Opts {
    Bytes options;      // padded by the caller to a multiple of 4
    uint16_t frag = 0;  // flags (RB 0x8000, DF 0x4000, MF 0x2000) | offset in 8-byte units
    uint8_t ttl = 64;
    uint8_t tos = 0;
    uint16_t id = 0x1234;
    int total_len = -1;  // override
    int ihl = -1;        // override (32-bit words)
    int version = 4;
};

inline Bytes ipv4(uint8_t proto, const Ip4& src, const Ip4& dst, const Bytes& payload,
                  const Ip4Opts& o = {}) {
    Bytes b;
    const int ihl = o.ihl >= 0 ? o.ihl : static_cast<int>((20 + o.options.size()) / 4);
    b.push_back(static_cast<uint8_t>((o.version << 4) | (ihl & 0x0f)));
    b.push_back(o.tos);
    put16(b, static_cast<uint16_t>(o.total_len >= 0 ? o.total_len
                                                    : 20 + o.options.size() + payload.size()));
    put16(b, o.id);
    put16(b, o.frag);
    b.push_back(o.ttl);
    b.push_back(proto);
    put16(b, 0);
    b.insert(b.end(), src.begin(), src.end());
    b.insert(b.end(), dst.begin(), dst.end());
    append(b, o.options);
    append(b, payload);
    return b;
}

inline Bytes ipv6(uint8_t next, const Ip6& src, const Ip6& dst, const Bytes& payload,
                  int plen_override = -1, uint8_t hop_limit = 64) {
    Bytes b{0x60, 0, 0, 0};
    put16(b, static_cast<uint16_t>(plen_override >= 0 ? plen_override : payload.size()));
    b.push_back(next);
    b.push_back(hop_limit);
    b.insert(b.end(), src.begin(), src.end());
    b.insert(b.end(), dst.begin(), dst.end());
    append(b, payload);
    return b;
}

// Generic IPv6 extension header (hop-by-hop, routing, destination options): 8 * (units + 1)
// bytes, padded with zeros (Pad1/PadN-compatible for the options headers).
inline Bytes ip6_ext(uint8_t next, uint8_t units = 0) {
    Bytes b{next, units};
    b.resize(size_t{8} * (units + 1U), 0);
    return b;
}

inline Bytes ip6_frag(uint8_t next, uint16_t offset_units, bool more, uint32_t id = 7) {
    Bytes b{next, 0};
    put16(b, static_cast<uint16_t>((offset_units << 3) | (more ? 1 : 0)));
    put32(b, id);
    return b;
}

// --- link ---

inline constexpr uint16_t kTypeIpv4 = 0x0800;
inline constexpr uint16_t kTypeIpv6 = 0x86dd;

inline Bytes ether(uint16_t type, const Bytes& payload,
                   std::initializer_list<std::pair<uint16_t, uint16_t>> tags = {}) {
    Bytes b{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb};
    for (const auto& [tpid, vid] : tags) {
        put16(b, tpid);
        put16(b, vid);
    }
    put16(b, type);
    append(b, payload);
    return b;
}

inline Bytes mpls_label(uint32_t label, bool bottom, uint8_t ttl = 64) {
    Bytes b;
    put32(b, (label << 12) | (bottom ? 0x100u : 0u) | ttl);
    return b;
}

inline Bytes sll(uint16_t protocol, const Bytes& payload) {
    Bytes b;
    put16(b, 0);  // packet type: to us
    put16(b, 1);  // ARPHRD_ETHER
    put16(b, 6);  // address length
    for (int i = 0; i < 8; ++i) {
        b.push_back(static_cast<uint8_t>(i));
    }
    put16(b, protocol);
    append(b, payload);
    return b;
}

inline Bytes sll2(uint16_t protocol, const Bytes& payload) {
    Bytes b;
    put16(b, protocol);
    put16(b, 0);     // reserved
    put32(b, 3);     // interface index
    put16(b, 1);     // ARPHRD_ETHER
    b.push_back(0);  // packet type
    b.push_back(6);  // address length
    for (int i = 0; i < 8; ++i) {
        b.push_back(static_cast<uint8_t>(i));
    }
    append(b, payload);
    return b;
}

// DLT_NULL: the family in the capturing host's byte order (little-endian here).
inline Bytes null_hdr(uint32_t family, const Bytes& payload, bool big_endian = false) {
    Bytes b;
    if (big_endian) {
        put32(b, family);
    } else {
        for (int i = 0; i < 4; ++i) {
            b.push_back(static_cast<uint8_t>(family >> (8 * i)));
        }
    }
    append(b, payload);
    return b;
}

// --- tunnels ---

inline constexpr uint16_t kTypeTeb = 0x6558;     // transparent Ethernet bridging
inline constexpr uint16_t kTypeErspan = 0x88be;  // ERSPAN type I / II
inline constexpr uint16_t kTypeErspan3 = 0x22eb;
inline constexpr uint16_t kTypeNsh = 0x894f;

struct GreOpts {
    bool csum = false;
    bool key_present = false;
    uint32_t key = 0;
    bool seq_present = false;
    uint32_t seq = 0;
    uint8_t version = 0;
    uint8_t low_flags = 0;  // bits OR-ed into the first byte (recursion, SSR, routing)
    uint8_t ver_flags = 0;  // bits OR-ed into the second byte (reserved flags, ack)
};

inline Bytes gre(uint16_t proto, const Bytes& payload, const GreOpts& o = {}) {
    Bytes b;
    b.push_back(static_cast<uint8_t>((o.csum ? 0x80 : 0) | (o.key_present ? 0x20 : 0) |
                                     (o.seq_present ? 0x10 : 0) | o.low_flags));
    b.push_back(static_cast<uint8_t>(o.version | o.ver_flags));
    put16(b, proto);
    if (o.csum) {
        put32(b, 0);  // checksum + reserved
    }
    if (o.key_present) {
        put32(b, o.key);
    }
    if (o.seq_present) {
        put32(b, o.seq);
    }
    append(b, payload);
    return b;
}

inline Bytes vxlan(uint32_t vni, const Bytes& frame, uint8_t flags = 0x08) {
    Bytes b{flags, 0, 0, 0};
    put32(b, vni << 8);
    append(b, frame);
    return b;
}

// `options`: whole Geneve options (4-byte header each), a multiple of 4 bytes.
inline Bytes geneve(uint16_t proto, uint32_t vni, const Bytes& payload, const Bytes& options = {},
                    int opt_words_override = -1) {
    Bytes b;
    const int words =
        opt_words_override >= 0 ? opt_words_override : static_cast<int>(options.size() / 4);
    b.push_back(static_cast<uint8_t>(words & 0x3f));
    b.push_back(0);
    put16(b, proto);
    put32(b, vni << 8);
    append(b, options);
    append(b, payload);
    return b;
}

inline Bytes erspan2(uint16_t session, uint16_t vlan, const Bytes& frame, uint8_t version = 1) {
    Bytes b;
    put16(b, static_cast<uint16_t>((version << 12) | (vlan & 0x0fff)));
    put16(b, session & 0x03ff);
    put32(b, 0);  // reserved + index
    append(b, frame);
    return b;
}

inline Bytes erspan3(uint16_t session, uint16_t vlan, const Bytes& frame, bool subheader = false,
                     uint8_t frame_type = 0) {
    Bytes b;
    put16(b, static_cast<uint16_t>((2 << 12) | (vlan & 0x0fff)));
    put16(b, session & 0x03ff);
    put32(b, 0x01020304);  // timestamp
    put16(b, 0);           // security group tag
    b.push_back(static_cast<uint8_t>(frame_type << 2));
    b.push_back(subheader ? 1 : 0);
    if (subheader) {
        put32(b, 0);
        put32(b, 0);
    }
    append(b, frame);
    return b;
}

// NSH: base header (version 0, length in 4-byte words) + service path header, then metadata
// (MD type 1: 16 bytes of context headers; type 2: `md2_words` words of TLVs).
inline Bytes nsh(uint8_t next, const Bytes& payload, uint8_t md_type = 1, int md2_words = 0,
                 int len_override = -1, uint8_t version = 0) {
    const int words = len_override >= 0 ? len_override : (md_type == 1 ? 6 : 2 + md2_words);
    Bytes b;
    put16(b, static_cast<uint16_t>((version << 14) | (words & 0x3f)));
    b.push_back(md_type);
    b.push_back(next);
    put32(b, (42U << 8) | 255U);  // service path id 42, index 255
    const int meta = md_type == 1 ? 4 : md2_words;
    for (int i = 0; i < meta; ++i) {
        put32(b, 0);
    }
    append(b, payload);
    return b;
}

// Decodes `frame` as captured in full; the Packet points into `frame`, which must outlive it.
inline dataplane::Packet decode_frame(dataplane::LinkType link, const Bytes& frame) {
    dataplane::Packet pkt;
    pkt.data = frame.data();
    pkt.cap_len = static_cast<uint32_t>(frame.size());
    pkt.wire_len = pkt.cap_len;
    dataplane::decode(link, pkt);
    return pkt;
}

// A temporary frame is kept alive for the rest of the test process, so that the Packet's
// pointers (payload, l4) can be read after the full expression that built the frame.
inline dataplane::Packet decode_frame(dataplane::LinkType link, Bytes&& frame) {
    static std::deque<Bytes> keep_alive;
    keep_alive.push_back(std::move(frame));
    return decode_frame(link, static_cast<const Bytes&>(keep_alive.back()));
}

}  // namespace vigil::test
