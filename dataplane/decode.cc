#include "dataplane/decode.h"

#include <cstring>

#include "common/bytes.h"

namespace vigil::dataplane {
namespace {

// Every function below takes (p, len) with len = bytes that are both captured and inside the
// enclosing layer, so bounds checks are against len only and nothing reads past cap_len.

constexpr uint16_t kEthTypeIpv4 = 0x0800;
constexpr uint16_t kEthTypeIpv6 = 0x86dd;
constexpr uint16_t kEthTypeVlan = 0x8100;
constexpr uint16_t kEthTypeQinq = 0x88a8;
constexpr uint16_t kEthTypeVlanOld = 0x9100;  // pre-802.1ad QinQ outer tag
constexpr uint16_t kEthTypeMplsUc = 0x8847;
constexpr uint16_t kEthTypeMplsMc = 0x8848;

constexpr uint32_t kEthHeaderLen = 14;
constexpr uint32_t kVlanTagLen = 4;
constexpr uint32_t kMplsLabelLen = 4;
constexpr uint32_t kMplsPwControlWordLen = 4;
constexpr uint32_t kSllHeaderLen = 16;
constexpr uint32_t kSll2HeaderLen = 20;
constexpr uint32_t kNullHeaderLen = 4;
constexpr uint32_t kIpv4HeaderLen = 20;
constexpr uint32_t kIpv6HeaderLen = 40;
constexpr uint32_t kIpv6FragHeaderLen = 8;
constexpr uint32_t kTcpHeaderLen = 20;
constexpr uint32_t kUdpHeaderLen = 8;
constexpr uint32_t kIcmpHeaderLen = 8;

constexpr uint8_t kMaxVlanTags = 8;
constexpr uint8_t kMaxMplsLabels = 16;
constexpr int kMaxIpv6ExtHeaders = 16;

// MPLS reserved labels that name the payload (RFC 3032).
constexpr uint32_t kMplsLabelIpv4ExplicitNull = 0;
constexpr uint32_t kMplsLabelIpv6ExplicitNull = 2;

// BSD loopback address families: AF_INET is 2 everywhere, AF_INET6 differs per OS
// (24 NetBSD/OpenBSD, 28 FreeBSD, 30 macOS).
constexpr uint32_t kBsdAfInet = 2;
constexpr uint32_t kBsdAfInet6Bsd = 24;
constexpr uint32_t kBsdAfInet6FreeBsd = 28;
constexpr uint32_t kBsdAfInet6Darwin = 30;

constexpr uint8_t kIpv6NextHopByHop = 0;
constexpr uint8_t kIpv6NextRouting = 43;
constexpr uint8_t kIpv6NextFragment = 44;
constexpr uint8_t kIpv6NextAh = 51;
constexpr uint8_t kIpv6NextNone = 59;
constexpr uint8_t kIpv6NextDstOpts = 60;
constexpr uint8_t kIpv6NextMobility = 135;

constexpr uint8_t kIpOptTypeEol = 0;
constexpr uint8_t kIpOptTypeNop = 1;
constexpr uint8_t kIpOptTypeRr = 7;
constexpr uint8_t kIpOptTypeTs = 68;
constexpr uint8_t kIpOptTypeSec = 130;
constexpr uint8_t kIpOptTypeLsrr = 131;
constexpr uint8_t kIpOptTypeEsec = 133;
constexpr uint8_t kIpOptTypeSatid = 136;
constexpr uint8_t kIpOptTypeSsrr = 137;

constexpr uint8_t kTcpOptMss = 2;
constexpr uint8_t kTcpOptWscale = 3;
constexpr uint8_t kTcpOptSackPerm = 4;
constexpr uint8_t kTcpOptSack = 5;
constexpr uint8_t kTcpOptTimestamp = 8;
constexpr uint8_t kTcpOptTfo = 34;

// Packet::status holds the first anomaly: a later, fatal one does not hide what went wrong
// first (a bad IPv4 option followed by a truncated TCP header reports the option).
inline void flag(Packet& pkt, DecodeStatus s) {
    if (pkt.status == DecodeStatus::Ok) {
        pkt.status = s;
    }
}

inline void set_payload(Packet& pkt, const uint8_t* p, uint32_t len) {
    pkt.payload = len != 0 ? p : nullptr;
    pkt.payload_len = len;
}

// --- option lists ------------------------------------------------------------------------

// IPv4 and TCP options share one layout: kind 0 ends the list, kind 1 is a one-byte pad,
// every other kind carries its own length (>= 2, within the list). Calls check(kind, olen)
// for each option (olen 1 for the end and pad kinds) and returns false at the first length
// that breaks the layout or that check() refuses.
constexpr uint8_t kOptEol = 0;
constexpr uint8_t kOptNop = 1;

template <typename Check>
bool walk_options(const uint8_t* p, uint32_t len, Check&& check) {
    uint32_t off = 0;
    while (off < len) {
        const uint8_t kind = p[off];
        if (kind == kOptEol) {
            return check(kind, uint8_t{1});
        }
        if (kind == kOptNop) {
            if (!check(kind, uint8_t{1})) {
                return false;
            }
            ++off;
            continue;
        }
        if (len - off < 2) {
            return false;
        }
        const uint8_t olen = p[off + 1];
        if (olen < 2 || olen > len - off || !check(kind, olen)) {
            return false;
        }
        off += olen;
    }
    return true;
}

// --- transport ---------------------------------------------------------------------------

// Walks the TCP options for length sanity only (Suricata's TCP_OPT_INVALID_LEN); the values
// are not kept because nothing downstream needs them yet.
bool tcp_options_valid(const uint8_t* p, uint32_t len) {
    return walk_options(p, len, [](uint8_t kind, uint8_t olen) {
        switch (kind) {
            case kTcpOptMss:
                return olen == 4;
            case kTcpOptWscale:
                return olen == 3;
            case kTcpOptSackPerm:
                return olen == 2;
            case kTcpOptSack:
                return olen >= 10 && (olen - 2) % 8 == 0;
            case kTcpOptTimestamp:
                return olen == 10;
            case kTcpOptTfo:
                return olen <= 18;
            default:
                return true;
        }
    });
}

void decode_tcp(Packet& pkt, const uint8_t* p, uint32_t len) {
    if (len < kTcpHeaderLen) {
        flag(pkt, DecodeStatus::TcpTruncated);
        return;
    }
    const uint32_t hlen = static_cast<uint32_t>(p[12] >> 4) * 4;
    if (hlen < kTcpHeaderLen || hlen > len) {
        flag(pkt, DecodeStatus::TcpBadHeaderLen);
        return;
    }
    if (hlen > kTcpHeaderLen && !tcp_options_valid(p + kTcpHeaderLen, hlen - kTcpHeaderLen)) {
        flag(pkt, DecodeStatus::TcpOptMalformed);  // like Suricata: an event, keep decoding
    }
    pkt.l4 = p;
    pkt.l4_len = static_cast<uint16_t>(hlen);
    pkt.sport = load_be16(p);
    pkt.dport = load_be16(p + 2);
    pkt.tcp_seq = load_be32(p + 4);
    pkt.tcp_ack = load_be32(p + 8);
    pkt.tcp_flags = p[13];
    pkt.tcp_window = load_be16(p + 14);
    set_payload(pkt, p + hlen, len - hlen);
}

// `partial`: this is the first fragment of a datagram, so the UDP length covers bytes that
// arrive in later fragments.
void decode_udp(Packet& pkt, const uint8_t* p, uint32_t len, bool partial) {
    if (len < kUdpHeaderLen) {
        flag(pkt, DecodeStatus::UdpTruncated);
        return;
    }
    uint32_t ulen = load_be16(p + 4);
    if (ulen < kUdpHeaderLen || (ulen > len && !partial)) {
        flag(pkt, DecodeStatus::UdpBadLen);
        return;
    }
    if (ulen > len) {
        ulen = len;
    }
    pkt.l4 = p;
    pkt.l4_len = kUdpHeaderLen;
    pkt.sport = load_be16(p);
    pkt.dport = load_be16(p + 2);
    // The UDP length bounds the payload: bytes after it (inside the IP payload) are not data.
    set_payload(pkt, p + kUdpHeaderLen, ulen - kUdpHeaderLen);
}

void decode_icmp(Packet& pkt, const uint8_t* p, uint32_t len, bool v6) {
    if (len < kIcmpHeaderLen) {
        flag(pkt, v6 ? DecodeStatus::Icmpv6Truncated : DecodeStatus::IcmpTruncated);
        return;
    }
    pkt.l4 = p;
    pkt.l4_len = kIcmpHeaderLen;
    pkt.icmp_type = p[0];
    pkt.icmp_code = p[1];
    const uint8_t t = p[0];
    if (v6) {
        pkt.icmp_has_id = t == 128 || t == 129;  // echo request / reply
    } else {
        // echo reply/request, timestamp, information and address mask request/reply
        pkt.icmp_has_id = t == 0 || t == 8 || (t >= 13 && t <= 18);
    }
    if (pkt.icmp_has_id) {
        pkt.icmp_id = load_be16(p + 4);
        pkt.icmp_seq = load_be16(p + 6);
    }
    set_payload(pkt, p + kIcmpHeaderLen, len - kIcmpHeaderLen);
}

void decode_l4(Packet& pkt, const uint8_t* p, uint32_t len, bool partial) {
    switch (pkt.ip_proto) {
        case kProtoTcp:
            decode_tcp(pkt, p, len);
            return;
        case kProtoUdp:
            decode_udp(pkt, p, len, partial);
            return;
        case kProtoIcmp:
            decode_icmp(pkt, p, len, false);
            return;
        case kProtoIcmpv6:
            decode_icmp(pkt, p, len, true);
            return;
        default:
            set_payload(pkt, p, len);  // a protocol we do not parse: the IP payload is the data
            return;
    }
}

// --- IPv4 --------------------------------------------------------------------------------

// Source-route style options: type, len, pointer, then 4-byte addresses.
inline bool ipv4_route_opt_ok(uint8_t olen) {
    return olen >= 3 && (olen - 3) % 4 == 0;
}

// Sets pkt.ip_opts for the well-formed options; returns false at the first bad length.
bool decode_ipv4_options(Packet& pkt, const uint8_t* p, uint32_t len) {
    return walk_options(p, len, [&pkt](uint8_t type, uint8_t olen) {
        bool ok = true;
        uint16_t bit = 0;
        switch (type) {
            case kIpOptTypeEol:
                bit = kIpOptEol;
                break;
            case kIpOptTypeNop:
                bit = kIpOptNop;
                break;
            case kIpOptTypeRr:
                ok = ipv4_route_opt_ok(olen);
                bit = kIpOptRr;
                break;
            case kIpOptTypeLsrr:
                ok = ipv4_route_opt_ok(olen);
                bit = kIpOptLsrr;
                break;
            case kIpOptTypeSsrr:
                ok = ipv4_route_opt_ok(olen);
                bit = kIpOptSsrr;
                break;
            case kIpOptTypeTs:
                ok = olen >= 4;  // type, len, pointer, overflow/flags
                bit = kIpOptTs;
                break;
            case kIpOptTypeSec:
                ok = olen >= 3;
                bit = kIpOptSec;
                break;
            case kIpOptTypeEsec:
                ok = olen >= 3;
                bit = kIpOptEsec;
                break;
            case kIpOptTypeSatid:
                ok = olen == 4;
                bit = kIpOptSatid;
                break;
            default:
                break;  // unknown option: skipped by its length, counts for `any`
        }
        if (ok) {
            pkt.ip_opts |= bit | kIpOptAny;
        }
        return ok;
    });
}

void decode_ipv4(Packet& pkt, const uint8_t* p, uint32_t len) {
    if (len < kIpv4HeaderLen) {
        flag(pkt, DecodeStatus::Ipv4Truncated);
        return;
    }
    if ((p[0] >> 4) != 4) {
        flag(pkt, DecodeStatus::Ipv4BadVersion);
        return;
    }
    const uint32_t hlen = static_cast<uint32_t>(p[0] & 0x0f) * 4;
    if (hlen < kIpv4HeaderLen) {
        flag(pkt, DecodeStatus::Ipv4BadHeaderLen);
        return;
    }
    const uint32_t total_len = load_be16(p + 2);
    if (total_len < hlen) {
        flag(pkt, DecodeStatus::Ipv4BadTotalLen);
        return;
    }
    if (hlen > len) {
        // The options run past the capture: the header is incomplete, expose nothing.
        flag(pkt, DecodeStatus::Ipv4Truncated);
        return;
    }
    pkt.ip_version = 4;
    pkt.l3 = p;
    pkt.l3_len = static_cast<uint16_t>(hlen);
    pkt.tos = p[1];
    pkt.ip_total_len = total_len;
    pkt.ip_id = load_be16(p + 4);
    const uint16_t frag = load_be16(p + 6);
    pkt.frag_rb = (frag & 0x8000) != 0;
    pkt.frag_df = (frag & 0x4000) != 0;
    pkt.frag_mf = (frag & 0x2000) != 0;
    pkt.frag_offset = frag & 0x1fff;
    pkt.is_fragment = pkt.frag_mf || pkt.frag_offset != 0;
    pkt.ttl = p[8];
    pkt.ip_proto = p[9];
    pkt.src = IpAddr::from_v4(p + 12);
    pkt.dst = IpAddr::from_v4(p + 16);
    if (hlen > kIpv4HeaderLen &&
        !decode_ipv4_options(pkt, p + kIpv4HeaderLen, hlen - kIpv4HeaderLen)) {
        flag(pkt, DecodeStatus::Ipv4OptMalformed);  // an event, not fatal: keep decoding
    }
    if (total_len > len) {
        flag(pkt, DecodeStatus::Ipv4Truncated);  // snaplen cut or lying length: no L4
        return;
    }
    // Bytes after total_len (Ethernet minimum-frame padding) are not part of the datagram.
    const uint8_t* pl = p + hlen;
    const uint32_t pl_len = total_len - hlen;
    if (pkt.frag_offset != 0) {
        set_payload(pkt, pl, pl_len);  // non-first fragment: no L4 header here
        return;
    }
    decode_l4(pkt, pl, pl_len, pkt.frag_mf);
}

// --- IPv6 --------------------------------------------------------------------------------

void decode_ipv6(Packet& pkt, const uint8_t* p, uint32_t len) {
    if (len < kIpv6HeaderLen) {
        flag(pkt, DecodeStatus::Ipv6Truncated);
        return;
    }
    if ((p[0] >> 4) != 6) {
        flag(pkt, DecodeStatus::Ipv6BadVersion);
        return;
    }
    const uint32_t plen = load_be16(p + 4);
    uint8_t nh = p[6];
    pkt.ip_version = 6;
    pkt.l3 = p;
    pkt.l3_len = static_cast<uint16_t>(kIpv6HeaderLen);
    pkt.tos = static_cast<uint8_t>(((p[0] & 0x0f) << 4) | (p[1] >> 4));
    pkt.ttl = p[7];
    pkt.ip_total_len = kIpv6HeaderLen + plen;
    pkt.src = IpAddr::from_v6(p + 8);
    pkt.dst = IpAddr::from_v6(p + 24);
    if (kIpv6HeaderLen + plen > len) {
        flag(pkt, DecodeStatus::Ipv6Truncated);
        return;
    }
    if (plen == 0 && nh != kIpv6NextNone) {
        // Jumbograms (RFC 2675) are not supported: a zero length with a next header is bad.
        flag(pkt, DecodeStatus::Ipv6BadPayloadLen);
        return;
    }
    // Trailing bytes after the payload length (Ethernet padding) are ignored.
    const uint32_t end = kIpv6HeaderLen + plen;
    uint32_t off = kIpv6HeaderLen;
    uint32_t nh_pos = 6;  // the fixed header's next-header byte
    int ext_count = 0;
    for (;;) {
        uint32_t hlen = 0;
        switch (nh) {
            case kIpv6NextHopByHop:
            case kIpv6NextRouting:
            case kIpv6NextDstOpts:
            case kIpv6NextMobility:
            case kIpv6NextAh:
            case kIpv6NextFragment:
                break;
            case kIpv6NextNone:
                pkt.ip_proto = nh;
                pkt.l3_len = static_cast<uint16_t>(off);
                return;  // nothing follows: no L4, no payload
            default:
                pkt.ip_proto = nh;
                pkt.l3_len = static_cast<uint16_t>(off);
                decode_l4(pkt, p + off, end - off, pkt.frag_mf);
                return;
        }
        if (++ext_count > kMaxIpv6ExtHeaders) {
            pkt.l3_len = static_cast<uint16_t>(off);
            flag(pkt, DecodeStatus::Ipv6ExtTooMany);
            return;
        }
        if (end - off < 2) {
            pkt.l3_len = static_cast<uint16_t>(off);
            flag(pkt, DecodeStatus::Ipv6ExtTruncated);
            return;
        }
        if (nh == kIpv6NextFragment) {
            hlen = kIpv6FragHeaderLen;
        } else if (nh == kIpv6NextAh) {
            hlen = (static_cast<uint32_t>(p[off + 1]) + 2) * 4;
        } else {
            hlen = (static_cast<uint32_t>(p[off + 1]) + 1) * 8;
        }
        if (hlen > end - off) {
            pkt.l3_len = static_cast<uint16_t>(off);
            flag(pkt, DecodeStatus::Ipv6ExtTruncated);
            return;
        }
        const uint8_t next = p[off];
        if (nh == kIpv6NextFragment) {
            pkt.ip6_frag_hdr = static_cast<uint16_t>(off);
            pkt.ip6_frag_nh = static_cast<uint16_t>(nh_pos);
            const uint16_t fo = load_be16(p + off + 2);
            pkt.frag_offset = static_cast<uint16_t>(fo >> 3);
            pkt.frag_mf = (fo & 1) != 0;
            pkt.is_fragment = true;
            if (pkt.frag_offset != 0) {
                off += hlen;
                pkt.ip_proto = next;
                pkt.l3_len = static_cast<uint16_t>(off);
                set_payload(pkt, p + off, end - off);  // non-first fragment: no L4 header
                return;
            }
        }
        nh_pos = off;  // this header's first byte names the next one
        off += hlen;
        nh = next;
    }
}

// Raw IP (and MPLS payloads): the version nibble says which.
void decode_ip_by_version(Packet& pkt, const uint8_t* p, uint32_t len) {
    if (len == 0) {
        flag(pkt, DecodeStatus::Ipv4Truncated);
        return;
    }
    switch (p[0] >> 4) {
        case 4:
            decode_ipv4(pkt, p, len);
            return;
        case 6:
            decode_ipv6(pkt, p, len);
            return;
        default:
            flag(pkt, DecodeStatus::Ipv4BadVersion);  // neither: report as a bad IP version
            return;
    }
}

// --- link layer --------------------------------------------------------------------------

// Dispatches on an EtherType, peeling VLAN tags and MPLS labels. Every iteration consumes
// header bytes, so the loop ends; the tag and label caps bound the work per packet.
void decode_ethertype(Packet& pkt, uint16_t type, const uint8_t* p, uint32_t len) {
    for (;;) {
        switch (type) {
            case kEthTypeIpv4:
                decode_ipv4(pkt, p, len);
                return;
            case kEthTypeIpv6:
                decode_ipv6(pkt, p, len);
                return;
            case kEthTypeVlan:
            case kEthTypeQinq:
            case kEthTypeVlanOld: {
                if (len < kVlanTagLen) {
                    flag(pkt, DecodeStatus::VlanTruncated);
                    return;
                }
                if (pkt.vlan_count < pkt.vlan.size()) {
                    pkt.vlan[pkt.vlan_count] = load_be16(p) & 0x0fff;
                }
                if (++pkt.vlan_count > kMaxVlanTags) {
                    flag(pkt, DecodeStatus::VlanTooMany);
                    return;
                }
                type = load_be16(p + 2);
                p += kVlanTagLen;
                len -= kVlanTagLen;
                continue;
            }
            case kEthTypeMplsUc:
            case kEthTypeMplsMc: {
                uint32_t label = 0;
                for (;;) {
                    if (len < kMplsLabelLen) {
                        flag(pkt, DecodeStatus::MplsTruncated);
                        return;
                    }
                    if (pkt.mpls_count >= kMaxMplsLabels) {
                        flag(pkt, DecodeStatus::MplsTooMany);
                        return;
                    }
                    const uint32_t entry = load_be32(p);
                    ++pkt.mpls_count;
                    p += kMplsLabelLen;
                    len -= kMplsLabelLen;
                    if ((entry & 0x100) != 0) {  // bottom of stack
                        label = entry >> 12;
                        break;
                    }
                }
                if (label == kMplsLabelIpv4ExplicitNull) {
                    decode_ipv4(pkt, p, len);
                    return;
                }
                if (label == kMplsLabelIpv6ExplicitNull) {
                    decode_ipv6(pkt, p, len);
                    return;
                }
                if (len == 0) {
                    flag(pkt, DecodeStatus::MplsTruncated);
                    return;
                }
                // No type field: guess from the first nibble, as Suricata does.
                const uint8_t nibble = p[0] >> 4;
                if (nibble == 4 || nibble == 6) {
                    decode_ip_by_version(pkt, p, len);
                    return;
                }
                if (nibble == 0) {
                    // Ethernet pseudowire: control word, then a whole Ethernet frame.
                    if (len < kMplsPwControlWordLen + kEthHeaderLen) {
                        flag(pkt, DecodeStatus::MplsTruncated);
                        return;
                    }
                    type = load_be16(p + kMplsPwControlWordLen + 12);
                    p += kMplsPwControlWordLen + kEthHeaderLen;
                    len -= kMplsPwControlWordLen + kEthHeaderLen;
                    continue;
                }
                flag(pkt, DecodeStatus::EtherTypeUnsupported);
                return;
            }
            default:
                flag(pkt, DecodeStatus::EtherTypeUnsupported);  // ARP, LLDP, 802.3 length...
                return;
        }
    }
}

void decode_ethernet(Packet& pkt, const uint8_t* p, uint32_t len) {
    if (len < kEthHeaderLen) {
        flag(pkt, DecodeStatus::EthTruncated);
        return;
    }
    decode_ethertype(pkt, load_be16(p + 12), p + kEthHeaderLen, len - kEthHeaderLen);
}

void decode_null_family(Packet& pkt, uint32_t family, const uint8_t* p, uint32_t len) {
    switch (family) {
        case kBsdAfInet:
            decode_ipv4(pkt, p, len);
            return;
        case kBsdAfInet6Bsd:
        case kBsdAfInet6FreeBsd:
        case kBsdAfInet6Darwin:
            decode_ipv6(pkt, p, len);
            return;
        default:
            flag(pkt, DecodeStatus::EtherTypeUnsupported);
            return;
    }
}

void decode_null(Packet& pkt, const uint8_t* p, uint32_t len) {
    if (len < kNullHeaderLen) {
        flag(pkt, DecodeStatus::NullTruncated);
        return;
    }
    // Host byte order of the capturing machine, which need not be ours: a family that only
    // makes sense byte-swapped is taken swapped (the values are small, so this is unambiguous).
    uint32_t family = 0;
    std::memcpy(&family, p, sizeof(family));
    if (family > 0xffff) {
        family = __builtin_bswap32(family);
    }
    decode_null_family(pkt, family, p + kNullHeaderLen, len - kNullHeaderLen);
}

// PPP (RFC 1661): optional address/control 0xff 0x03, then the protocol, one byte when
// compressed (odd value) else two. Only IPv4 (0x0021) and IPv6 (0x0057) are inspected.
void decode_ppp(Packet& pkt, const uint8_t* p, uint32_t len) {
    if (len >= 2 && p[0] == 0xff && p[1] == 0x03) {
        p += 2;
        len -= 2;
    }
    if (len < 1) {
        flag(pkt, DecodeStatus::PppTruncated);
        return;
    }
    uint16_t proto = p[0];
    uint32_t hl = 1;
    if ((p[0] & 1) == 0) {
        if (len < 2) {
            flag(pkt, DecodeStatus::PppTruncated);
            return;
        }
        proto = load_be16(p);
        hl = 2;
    }
    switch (proto) {
        case 0x0021:
            decode_ipv4(pkt, p + hl, len - hl);
            break;
        case 0x0057:
            decode_ipv6(pkt, p + hl, len - hl);
            break;
        default:
            flag(pkt, DecodeStatus::EtherTypeUnsupported);
            break;
    }
}

}  // namespace

DecodeStatus decode(LinkType link, Packet& pkt) {
    // Reset every decode and flow field; keep only what the source filled in.
    Packet fresh;
    fresh.data = pkt.data;
    fresh.cap_len = pkt.cap_len;
    fresh.wire_len = pkt.wire_len;
    fresh.ts_sec = pkt.ts_sec;
    fresh.ts_usec = pkt.ts_usec;
    fresh.seq = pkt.seq;
    pkt = fresh;

    const uint8_t* p = pkt.data;
    const uint32_t len = p != nullptr ? pkt.cap_len : 0;
    switch (link) {
        case LinkType::Ethernet:
            decode_ethernet(pkt, p, len);
            break;
        case LinkType::Raw:
            decode_ip_by_version(pkt, p, len);
            break;
        case LinkType::Ipv4:
            decode_ipv4(pkt, p, len);
            break;
        case LinkType::Ipv6:
            decode_ipv6(pkt, p, len);
            break;
        case LinkType::LinuxSll:
            if (len < kSllHeaderLen) {
                flag(pkt, DecodeStatus::SllTruncated);
                break;
            }
            decode_ethertype(pkt, load_be16(p + 14), p + kSllHeaderLen, len - kSllHeaderLen);
            break;
        case LinkType::LinuxSll2:
            if (len < kSll2HeaderLen) {
                flag(pkt, DecodeStatus::SllTruncated);
                break;
            }
            decode_ethertype(pkt, load_be16(p), p + kSll2HeaderLen, len - kSll2HeaderLen);
            break;
        case LinkType::Null:
            decode_null(pkt, p, len);
            break;
        case LinkType::Ppp:
        case LinkType::PppHdlc:
            decode_ppp(pkt, p, len);
            break;
        case LinkType::CHdlc:
            if (len < 4) {
                flag(pkt, DecodeStatus::CHdlcTruncated);
                break;
            }
            decode_ethertype(pkt, load_be16(p + 2), p + 4, len - 4);
            break;
        case LinkType::Loop:
            if (len < kNullHeaderLen) {
                flag(pkt, DecodeStatus::NullTruncated);
                break;
            }
            decode_null_family(pkt, load_be32(p), p + kNullHeaderLen, len - kNullHeaderLen);
            break;
        default:
            flag(pkt, DecodeStatus::LinkTypeUnsupported);
            break;
    }
    return pkt.status;
}

std::string_view decode_status_name(DecodeStatus s) {
    switch (s) {
        case DecodeStatus::Ok:
            return "ok";
        case DecodeStatus::LinkTypeUnsupported:
            return "link_type_unsupported";
        case DecodeStatus::EthTruncated:
            return "eth_truncated";
        case DecodeStatus::VlanTruncated:
            return "vlan_truncated";
        case DecodeStatus::VlanTooMany:
            return "vlan_too_many";
        case DecodeStatus::MplsTruncated:
            return "mpls_truncated";
        case DecodeStatus::MplsTooMany:
            return "mpls_too_many";
        case DecodeStatus::SllTruncated:
            return "sll_truncated";
        case DecodeStatus::NullTruncated:
            return "null_truncated";
        case DecodeStatus::PppTruncated:
            return "ppp_truncated";
        case DecodeStatus::CHdlcTruncated:
            return "chdlc_truncated";
        case DecodeStatus::EtherTypeUnsupported:
            return "ether_type_unsupported";
        case DecodeStatus::Ipv4Truncated:
            return "ipv4_truncated";
        case DecodeStatus::Ipv4BadVersion:
            return "ipv4_bad_version";
        case DecodeStatus::Ipv4BadHeaderLen:
            return "ipv4_bad_header_len";
        case DecodeStatus::Ipv4BadTotalLen:
            return "ipv4_bad_total_len";
        case DecodeStatus::Ipv4OptMalformed:
            return "ipv4_opt_malformed";
        case DecodeStatus::Ipv6Truncated:
            return "ipv6_truncated";
        case DecodeStatus::Ipv6BadVersion:
            return "ipv6_bad_version";
        case DecodeStatus::Ipv6BadPayloadLen:
            return "ipv6_bad_payload_len";
        case DecodeStatus::Ipv6ExtTruncated:
            return "ipv6_ext_truncated";
        case DecodeStatus::Ipv6ExtTooMany:
            return "ipv6_ext_too_many";
        case DecodeStatus::TcpTruncated:
            return "tcp_truncated";
        case DecodeStatus::TcpBadHeaderLen:
            return "tcp_bad_header_len";
        case DecodeStatus::TcpOptMalformed:
            return "tcp_opt_malformed";
        case DecodeStatus::UdpTruncated:
            return "udp_truncated";
        case DecodeStatus::UdpBadLen:
            return "udp_bad_len";
        case DecodeStatus::IcmpTruncated:
            return "icmp_truncated";
        case DecodeStatus::Icmpv6Truncated:
            return "icmpv6_truncated";
        case DecodeStatus::Count:
            break;
    }
    return "unknown";
}

void DecodeStats::count(const Packet& pkt) {
    const auto idx = static_cast<size_t>(pkt.status);
    if (idx < by_status.size()) {
        ++by_status[idx];
    }
    ipv4 += pkt.ip_version == 4 ? 1 : 0;
    ipv6 += pkt.ip_version == 6 ? 1 : 0;
    tcp += pkt.has_tcp() ? 1 : 0;
    udp += pkt.has_udp() ? 1 : 0;
    icmp += pkt.has_icmp() ? 1 : 0;
    vlan += pkt.vlan_count;  // one per tag, like Suricata's decoder.vlan
    mpls += pkt.mpls_count != 0 ? 1 : 0;
}

DecodeStats& DecodeStats::operator+=(const DecodeStats& o) {
    for (size_t i = 0; i < by_status.size(); ++i) {
        by_status[i] += o.by_status[i];
    }
    ipv4 += o.ipv4;
    ipv6 += o.ipv6;
    tcp += o.tcp;
    udp += o.udp;
    icmp += o.icmp;
    vlan += o.vlan;
    mpls += o.mpls;
    return *this;
}

}  // namespace vigil::dataplane
