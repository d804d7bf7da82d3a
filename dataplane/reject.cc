#include "dataplane/reject.h"

#include <algorithm>
#include <cstring>

#include "common/bytes.h"

namespace vigil::dataplane {

namespace {

constexpr size_t kQuote = 64;  // bytes of the offending packet an ICMP error carries at most

// The IP header of the answer (addresses swapped); returns its length.
size_t ip_header(const Packet& p, uint8_t proto, size_t l4_len, uint8_t* out) {
    if (p.ip_version == 4) {
        std::memset(out, 0, 20);
        out[0] = 0x45;
        store_be16(out + 2, static_cast<uint16_t>(20 + l4_len));
        out[8] = 64;  // TTL
        out[9] = proto;
        std::memcpy(out + 12, &p.dst.b[12], 4);
        std::memcpy(out + 16, &p.src.b[12], 4);
        store_be16(out + 10, inet_checksum(inet_sum(out, 20)));
        return 20;
    }
    std::memset(out, 0, 40);
    out[0] = 0x60;
    store_be16(out + 4, static_cast<uint16_t>(l4_len));
    out[6] = proto;
    out[7] = 64;  // hop limit
    std::memcpy(out + 8, p.dst.b.data(), 16);
    std::memcpy(out + 24, p.src.b.data(), 16);
    return 40;
}

// Pseudo-header sum for TCP / ICMPv6 checksums.
uint32_t pseudo(const Packet& p, uint8_t proto, size_t l4_len) {
    uint32_t acc = 0;
    if (p.ip_version == 4) {
        acc = inet_sum(&p.dst.b[12], 4, acc);
        acc = inet_sum(&p.src.b[12], 4, acc);
    } else {
        acc = inet_sum(p.dst.b.data(), 16, acc);
        acc = inet_sum(p.src.b.data(), 16, acc);
    }
    return acc + proto + static_cast<uint32_t>(l4_len);
}

bool is_icmp_error(const Packet& p) {
    if (p.ip_proto == kProtoIcmp) {
        return p.icmp_type == 3 || p.icmp_type == 4 || p.icmp_type == 5 || p.icmp_type == 11 ||
               p.icmp_type == 12;
    }
    return p.ip_proto == kProtoIcmpv6 && p.icmp_type < 128;
}

}  // namespace

size_t build_reject(const Packet& p, uint8_t* out, size_t cap) {
    if (p.ip_version == 0 || p.l3 == nullptr || p.data == nullptr || p.mpls_count != 0 ||
        cap < kRejectFrameMax) {
        return 0;
    }
    const bool tcp = p.has_tcp();
    if ((tcp && (p.tcp_flags & kTcpRst) != 0) || is_icmp_error(p) ||
        (p.is_fragment && p.frag_offset != 0)) {
        return 0;
    }
    // Link header: the packet's, MAC addresses swapped (VLAN tags and type kept).
    const auto link = static_cast<size_t>(p.l3 - p.data);
    if (link < 14 || link > 22) {
        return 0;
    }
    std::memcpy(out, p.data, link);
    std::memcpy(out, p.data + 6, 6);
    std::memcpy(out + 6, p.data, 6);
    uint8_t* ip = out + link;

    if (tcp) {
        uint8_t seg[20] = {};
        store_be16(seg, p.dport);
        store_be16(seg + 2, p.sport);
        const uint32_t len = p.payload_len + ((p.tcp_flags & kTcpSyn) != 0 ? 1 : 0) +
                             ((p.tcp_flags & kTcpFin) != 0 ? 1 : 0);
        // RFC 793: answer an ACK with its acknowledgement number as our sequence; otherwise
        // sequence 0 and acknowledge what the segment occupied.
        store_be32(seg + 4, (p.tcp_flags & kTcpAck) != 0 ? p.tcp_ack : 0);
        store_be32(seg + 8, p.tcp_seq + len);
        seg[12] = 5 << 4;
        seg[13] = kTcpRst | kTcpAck;
        const size_t ihl = ip_header(p, kProtoTcp, sizeof(seg), ip);
        store_be16(seg + 16,
                   inet_checksum(inet_sum(seg, sizeof(seg), pseudo(p, kProtoTcp, sizeof(seg)))));
        std::memcpy(ip + ihl, seg, sizeof(seg));
        return link + ihl + sizeof(seg);
    }

    // ICMP port unreachable quoting the packet (IP header and what follows, up to kQuote).
    const size_t avail = p.cap_len - link;
    const size_t quote = std::min({avail, static_cast<size_t>(p.l3_len) + 8, kQuote});
    uint8_t msg[8 + kQuote] = {};
    const bool v4 = p.ip_version == 4;
    msg[0] = v4 ? 3 : 1;  // destination unreachable
    msg[1] = v4 ? 3 : 4;  // port unreachable
    std::memcpy(msg + 8, p.l3, quote);
    const size_t mlen = 8 + quote;
    const uint8_t proto = v4 ? kProtoIcmp : kProtoIcmpv6;
    const size_t ihl = ip_header(p, proto, mlen, ip);
    store_be16(msg + 2, inet_checksum(v4 ? inet_sum(msg, mlen)
                                         : inet_sum(msg, mlen, pseudo(p, proto, mlen))));
    std::memcpy(ip + ihl, msg, mlen);
    return link + ihl + mlen;
}

}  // namespace vigil::dataplane
