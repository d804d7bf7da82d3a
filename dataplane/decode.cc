#include "dataplane/decode.h"

#include <cstring>
#include <optional>

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
constexpr uint16_t kEthTypeArp = 0x0806;
constexpr uint16_t kEthTypeTeb = 0x6558;      // transparent Ethernet bridging: an Ethernet frame
constexpr uint16_t kEthTypeErspan = 0x88be;   // ERSPAN type I (GRE S flag clear) or II
constexpr uint16_t kEthTypeErspan3 = 0x22eb;  // ERSPAN type III
constexpr uint16_t kEthTypeNsh = 0x894f;
constexpr uint16_t kEthTypePptp = 0x880b;  // GRE version 1 (PPTP) carries PPP

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
constexpr uint32_t kGreHeaderLen = 4;
constexpr uint32_t kVxlanHeaderLen = 8;
constexpr uint32_t kGeneveHeaderLen = 8;
constexpr uint32_t kErspan2HeaderLen = 8;
constexpr uint32_t kErspan3HeaderLen = 12;
constexpr uint32_t kErspan3SubHeaderLen = 8;  // platform-specific subheader (O flag)
constexpr uint32_t kTeredoOriginLen = 8;
constexpr uint32_t kNshBaseLen = 8;  // base header + service path header
constexpr uint32_t kNshMd1Len = 24;  // MD type 1: fixed length

constexpr uint16_t kPortVxlan = 4789;
constexpr uint16_t kPortGeneve = 6081;
constexpr uint16_t kPortTeredo = 3544;

constexpr uint8_t kMaxVlanTags = 8;
constexpr uint8_t kMaxMplsLabels = 16;
constexpr int kMaxIpv6ExtHeaders = 16;
// Suricata stops decoding VLAN tags after three (VLAN_MAX_LAYERS); Vigil decodes up to
// kMaxVlanTags but raises vlan.too_many_layers where Suricata would.
constexpr uint8_t kSuricataMaxVlanLayers = 3;
// Tunnels inside tunnels: each layer is one recursion through decode_tunnel() with a Packet on
// the stack, so the depth bounds both the work and the stack per packet.
constexpr uint8_t kMaxTunnelDepth = 8;

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
constexpr uint8_t kIpv6NextEsp = 50;
constexpr uint8_t kIpv6NextSctp = 132;
constexpr uint8_t kIpv6NextHip = 139;
constexpr uint8_t kIpv6NextShim6 = 140;

constexpr uint8_t kIp6OptPad1 = 0;
constexpr uint8_t kIp6OptPadN = 1;
constexpr uint8_t kIp6OptRouterAlert = 5;
constexpr uint8_t kIp6OptJumbo = 0xc2;
constexpr uint8_t kIp6OptHomeAddress = 0xc9;

constexpr uint8_t kIpOptTypeEol = 0;
constexpr uint8_t kIpOptTypeNop = 1;
constexpr uint8_t kIpOptTypeRr = 7;
constexpr uint8_t kIpOptTypeTs = 68;
constexpr uint8_t kIpOptTypeSec = 130;
constexpr uint8_t kIpOptTypeLsrr = 131;
constexpr uint8_t kIpOptTypeEsec = 133;
constexpr uint8_t kIpOptTypeSatid = 136;
constexpr uint8_t kIpOptTypeSsrr = 137;
constexpr uint8_t kIpOptTypeQs = 25;
constexpr uint8_t kIpOptTypeCipso = 134;
constexpr uint8_t kIpOptTypeRtrAlt = 148;

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

// Suricata's decoder events are a set: every condition found is raised, not only the first.
inline void raise_event(Packet& pkt, DecodeEvent e) {
    pkt.events.set(e);
}

inline void set_payload(Packet& pkt, const uint8_t* p, uint32_t len) {
    pkt.payload = len != 0 ? p : nullptr;
    pkt.payload_len = len;
}

// Tunnel payloads re-enter the link and IP decoders.
void decode_ethernet(Packet& pkt, const uint8_t* p, uint32_t len);
void decode_ethertype(Packet& pkt, uint16_t type, const uint8_t* p, uint32_t len);

// --- option lists ------------------------------------------------------------------------

// IPv4 and TCP options share one layout: kind 0 ends the list, kind 1 is a one-byte pad,
// every other kind carries its own length (>= 2, within the list). Calls check(kind, olen)
// for each option (olen 1 for the end and pad kinds) and stops at the first length that
// breaks the layout (TrailingByte: one byte left for a multi-byte kind; BadLength: a length
// below 2 or past the list) or that check() refuses.
constexpr uint8_t kOptEol = 0;
constexpr uint8_t kOptNop = 1;

enum class OptWalk : uint8_t { Ok, TrailingByte, BadLength, Refused };

template <typename Check>
OptWalk walk_options(const uint8_t* p, uint32_t len, Check&& check) {
    uint32_t off = 0;
    while (off < len) {
        const uint8_t kind = p[off];
        if (kind == kOptEol) {
            return check(kind, uint8_t{1}) ? OptWalk::Ok : OptWalk::Refused;
        }
        if (kind == kOptNop) {
            if (!check(kind, uint8_t{1})) {
                return OptWalk::Refused;
            }
            ++off;
            continue;
        }
        if (len - off < 2) {
            return OptWalk::TrailingByte;
        }
        const uint8_t olen = p[off + 1];
        if (olen < 2 || olen > len - off) {
            return OptWalk::BadLength;
        }
        if (!check(kind, olen)) {
            return OptWalk::Refused;
        }
        off += olen;
    }
    return OptWalk::Ok;
}

// --- transport ---------------------------------------------------------------------------

// Walks the TCP options for length sanity (Suricata's DecodeTCPOptions: a known kind with a
// wrong length is tcp.opt_invalid_len, one seen twice tcp.opt_duplicate); the values are not
// kept because nothing downstream needs them yet. False when the list is malformed.
bool tcp_options_valid(Packet& pkt, const uint8_t* p, uint32_t len) {
    uint32_t seen = 0;
    const OptWalk r = walk_options(p, len, [&pkt, &seen](uint8_t kind, uint8_t olen) {
        bool ok = true;
        switch (kind) {
            case kTcpOptMss:
                ok = olen == 4;
                break;
            case kTcpOptWscale:
                ok = olen == 3;
                break;
            case kTcpOptSackPerm:
                ok = olen == 2;
                break;
            case kTcpOptSack:
                ok = olen >= 10 && (olen - 2) % 8 == 0;
                break;
            case kTcpOptTimestamp:
                ok = olen == 10;
                break;
            case kTcpOptTfo:
                ok = olen <= 18;
                break;
            default:
                return true;
        }
        if (!ok) {
            raise_event(pkt, DecodeEvent::TcpOptInvalidLen);
            return false;
        }
        const uint32_t bit = kind == kTcpOptTfo ? 1U << 31 : 1U << kind;  // other kinds < 31
        if ((seen & bit) != 0) {
            raise_event(pkt, DecodeEvent::TcpOptDuplicate);
        }
        seen |= bit;
        return true;
    });
    // A lone byte after the last option ends Suricata's walk silently: no event for it.
    if (r == OptWalk::BadLength) {
        raise_event(pkt, DecodeEvent::TcpOptInvalidLen);
    }
    return r == OptWalk::Ok;
}

void decode_tcp(Packet& pkt, const uint8_t* p, uint32_t len) {
    if (len < kTcpHeaderLen) {
        raise_event(pkt, DecodeEvent::TcpPktTooSmall);
        flag(pkt, DecodeStatus::TcpTruncated);
        return;
    }
    const uint32_t hlen = static_cast<uint32_t>(p[12] >> 4) * 4;
    if (hlen < kTcpHeaderLen || hlen > len) {
        // Suricata: a header past the data is hlen_too_small; a data offset below 5 makes the
        // option length negative, which it reports as invalid_optlen.
        raise_event(pkt, hlen > len ? DecodeEvent::TcpHlenTooSmall : DecodeEvent::TcpInvalidOptlen);
        flag(pkt, DecodeStatus::TcpBadHeaderLen);
        return;
    }
    if (hlen > kTcpHeaderLen && !tcp_options_valid(pkt, p + kTcpHeaderLen, hlen - kTcpHeaderLen)) {
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

// --- tunnels -----------------------------------------------------------------------------
//
// A tunnel replaces the packet being decoded by the one it carries, so flows, streams and
// detection see the inner packet; the outermost addresses stay in pkt.tunnel. A tunnel whose
// header is wrong (or whose payload is not an IP packet) leaves the outer packet as it was.

inline void push_vlan(Packet& pkt, uint16_t vid) {
    if (pkt.vlan_count < pkt.vlan.size()) {
        pkt.vlan[pkt.vlan_count] = vid;
    }
    ++pkt.vlan_count;
}

// Decodes the packet a tunnel carries: `inner_type` is an EtherType (kEthTypeTeb: a whole
// Ethernet frame), `vlan_id` a VLAN id the tunnel header itself carries (ERSPAN), 0 if none.
// When the payload turns out to be an IP packet it replaces `pkt` and true is returned;
// otherwise `pkt` is untouched, like Suricata dropping a tunnel pseudo-packet that failed to
// decode (its events go with it).
bool decode_tunnel(Packet& pkt, TunnelKind kind, uint32_t vni, uint16_t inner_type,
                   const uint8_t* p, uint32_t len, uint16_t vlan_id = 0) {
    if (pkt.tunnel.depth >= kMaxTunnelDepth) {
        raise_event(pkt, DecodeEvent::TooManyLayers);
        return false;
    }
    Packet inner;
    inner.data = pkt.data;
    inner.cap_len = pkt.cap_len;
    inner.wire_len = pkt.wire_len;
    inner.ts_sec = pkt.ts_sec;
    inner.ts_usec = pkt.ts_usec;
    inner.seq = pkt.seq;
    inner.status = pkt.status;
    inner.vlan_count = pkt.vlan_count;
    inner.vlan = pkt.vlan;
    inner.mpls_count = pkt.mpls_count;
    inner.events = pkt.events;  // the outer packet's events stay visible on the inner one
    inner.tunnel = pkt.tunnel;
    TunnelInfo& t = inner.tunnel;
    if (t.depth == 0) {
        t.outer_ip_version = pkt.ip_version;
        t.outer_ip_proto = pkt.ip_proto;
        t.outer_src = pkt.src;
        t.outer_dst = pkt.dst;
        if (pkt.has_udp()) {
            t.outer_sport = pkt.sport;
            t.outer_dport = pkt.dport;
        }
    }
    t.kind = kind;
    t.vni = vni;
    ++t.depth;
    if (vlan_id != 0) {
        push_vlan(inner, vlan_id);
    }
    if (inner_type == kEthTypeTeb) {
        decode_ethernet(inner, p, len);
    } else {
        decode_ethertype(inner, inner_type, p, len);
    }
    if (inner.ip_version == 0) {
        return false;
    }
    pkt = inner;
    return true;
}

// GRE (RFC 1701/2784/2890) as Suricata's DecodeGRE checks it: version 0 with checksum, key,
// sequence and (RFC 1701) routing fields; version 1 is PPTP, whose PPP payload is not decoded.
void decode_gre(Packet& pkt, const uint8_t* p, uint32_t len);

// ERSPAN type II: 8-byte header (version 1, VLAN, session id), then the mirrored frame.
void decode_erspan2(Packet& pkt, const uint8_t* p, uint32_t len) {
    if (len < kErspan2HeaderLen) {
        raise_event(pkt, DecodeEvent::ErspanHeaderTooSmall);
        return;
    }
    const uint16_t ver_vlan = load_be16(p);
    if ((ver_vlan >> 12) != 1) {
        raise_event(pkt, DecodeEvent::ErspanUnsupportedVersion);
        return;
    }
    const auto vlan = static_cast<uint16_t>(ver_vlan & 0x0fff);
    if (vlan != 0 && pkt.vlan_count >= kSuricataMaxVlanLayers) {
        raise_event(pkt, DecodeEvent::ErspanTooManyVlanLayers);
        return;
    }
    decode_tunnel(pkt, TunnelKind::Erspan, load_be16(p + 2) & 0x03ffU, kEthTypeTeb,
                  p + kErspan2HeaderLen, len - kErspan2HeaderLen, vlan);
}

// ERSPAN type III (not decoded by Suricata 7): 12-byte header (version 2), an optional 8-byte
// platform subheader (O flag); only Ethernet frames (frame type 0) are decoded.
void decode_erspan3(Packet& pkt, const uint8_t* p, uint32_t len) {
    if (len < kErspan3HeaderLen) {
        raise_event(pkt, DecodeEvent::ErspanHeaderTooSmall);
        return;
    }
    const uint16_t ver_vlan = load_be16(p);
    if ((ver_vlan >> 12) != 2) {
        raise_event(pkt, DecodeEvent::ErspanUnsupportedVersion);
        return;
    }
    uint32_t hlen = kErspan3HeaderLen;
    if ((p[11] & 0x01) != 0) {
        hlen += kErspan3SubHeaderLen;
    }
    if (hlen > len) {
        raise_event(pkt, DecodeEvent::ErspanHeaderTooSmall);
        return;
    }
    if (((p[10] >> 2) & 0x1f) != 0) {
        return;  // frame type: an IP packet without its Ethernet header; not decoded
    }
    const auto vlan = static_cast<uint16_t>(ver_vlan & 0x0fff);
    if (vlan != 0 && pkt.vlan_count >= kSuricataMaxVlanLayers) {
        raise_event(pkt, DecodeEvent::ErspanTooManyVlanLayers);
        return;
    }
    decode_tunnel(pkt, TunnelKind::Erspan, load_be16(p + 2) & 0x03ffU, kEthTypeTeb, p + hlen,
                  len - hlen, vlan);
}

void decode_gre(Packet& pkt, const uint8_t* p, uint32_t len) {
    if (len < kGreHeaderLen) {
        raise_event(pkt, DecodeEvent::GrePktTooSmall);
        return;
    }
    const uint8_t flags = p[0];
    const uint8_t ver = p[1];
    const uint16_t proto = load_be16(p + 2);
    const bool has_csum = (flags & 0x80) != 0;
    const bool has_route = (flags & 0x40) != 0;
    const bool has_key = (flags & 0x20) != 0;
    const bool has_seq = (flags & 0x10) != 0;
    uint32_t hlen = kGreHeaderLen;
    switch (ver & 0x07) {
        case 0:
            if ((flags & 0x07) != 0) {
                raise_event(pkt, DecodeEvent::GreVersion0Recur);
                return;
            }
            if ((ver & 0x78) != 0) {
                raise_event(pkt, DecodeEvent::GreVersion0Flags);
                return;
            }
            hlen += (has_csum || has_route) ? 4 : 0;  // checksum + offset (or reserved)
            hlen += has_key ? 4 : 0;
            hlen += has_seq ? 4 : 0;
            if (hlen > len) {
                raise_event(pkt, DecodeEvent::GreVersion0HdrTooBig);
                return;
            }
            if (has_route) {
                // RFC 1701 source route entries, ended by address family 0 and length 0.
                for (;;) {
                    if (len - hlen < 4) {
                        raise_event(pkt, DecodeEvent::GreVersion0MalformedSreHdr);
                        return;
                    }
                    const uint16_t af = load_be16(p + hlen);
                    const uint8_t sre_len = p[hlen + 3];
                    hlen += 4;
                    if (af == 0 && sre_len == 0) {
                        break;
                    }
                    hlen += sre_len;
                    if (hlen > len) {
                        raise_event(pkt, DecodeEvent::GreVersion0MalformedSreHdr);
                        return;
                    }
                }
            }
            break;
        case 1:
            if (has_csum) {
                raise_event(pkt, DecodeEvent::GreVersion1Chksum);
            } else if (has_route) {
                raise_event(pkt, DecodeEvent::GreVersion1Route);
            } else if ((flags & 0x08) != 0) {
                raise_event(pkt, DecodeEvent::GreVersion1Ssr);
            } else if ((flags & 0x07) != 0) {
                raise_event(pkt, DecodeEvent::GreVersion1Recur);
            } else if ((ver & 0x78) != 0) {
                raise_event(pkt, DecodeEvent::GreVersion1Flags);
            } else if (proto != kEthTypePptp) {
                raise_event(pkt, DecodeEvent::GreVersion1WrongProtocol);
            } else if (!has_key) {
                raise_event(pkt, DecodeEvent::GreVersion1NoKey);
            } else if (hlen + 4 + (has_seq ? 4 : 0) + ((ver & 0x80) != 0 ? 4 : 0) > len) {
                raise_event(pkt, DecodeEvent::GreVersion1HdrTooBig);
            }
            return;  // PPTP carries PPP, which is not decoded as a tunnel
        default:
            raise_event(pkt, DecodeEvent::GreWrongVersion);
            return;
    }
    const uint32_t key =
        has_key ? load_be32(p + kGreHeaderLen + ((has_csum || has_route) ? 4 : 0)) : 0;
    const uint8_t* in = p + hlen;
    const uint32_t in_len = len - hlen;
    switch (proto) {
        case kEthTypeIpv4:
        case kEthTypeIpv6:
        case kEthTypeVlan:
        case kEthTypeTeb:
            decode_tunnel(pkt, TunnelKind::Gre, key, proto, in, in_len);
            return;
        case kEthTypeErspan:
            if (!has_seq) {
                // Type I: no ERSPAN header (and no sequence number), the frame follows.
                decode_tunnel(pkt, TunnelKind::Erspan, 0, kEthTypeTeb, in, in_len);
                return;
            }
            decode_erspan2(pkt, in, in_len);
            return;
        case kEthTypeErspan3:
            decode_erspan3(pkt, in, in_len);
            return;
        default:
            return;  // PPP, ARP, ...: not inspected inside
    }
}

// IP-in-IP: IPv4 (protocol 4) or IPv6 (41) inside IPv4 or IPv6. Inside IPv6, Suricata checks
// the inner header's size and version before it decodes the tunnel.
void decode_ipip(Packet& pkt, const uint8_t* p, uint32_t len) {
    const bool v4_inner = pkt.ip_proto == kProtoIpip;
    if (pkt.ip_version == 6) {
        const uint32_t min = v4_inner ? kIpv4HeaderLen : kIpv6HeaderLen;
        if (len < min) {
            raise_event(pkt, v4_inner ? DecodeEvent::Ipv6Ipv4InIpv6TooSmall
                                      : DecodeEvent::Ipv6Ipv6InIpv6TooSmall);
            return;
        }
        if ((p[0] >> 4) != (v4_inner ? 4 : 6)) {
            raise_event(pkt, v4_inner ? DecodeEvent::Ipv6Ipv4InIpv6WrongVersion
                                      : DecodeEvent::Ipv6Ipv6InIpv6WrongVersion);
            return;
        }
    }
    decode_tunnel(pkt, TunnelKind::Ipip, 0, v4_inner ? kEthTypeIpv4 : kEthTypeIpv6, p, len);
}

// VXLAN (RFC 7348): 8-byte header with the I flag set and a zero reserved byte, then an
// Ethernet frame. False when the payload is not VXLAN (the UDP packet stays as it is).
bool decode_vxlan(Packet& pkt, const uint8_t* p, uint32_t len) {
    if (len < kVxlanHeaderLen + kEthHeaderLen || (p[0] & 0x08) == 0 || p[7] != 0) {
        return false;
    }
    switch (load_be16(p + kVxlanHeaderLen + 12)) {
        case kEthTypeArp:
            return true;  // VXLAN, but nothing inside to inspect
        case kEthTypeIpv4:
        case kEthTypeIpv6:
        case kEthTypeVlan:
        case kEthTypeQinq:
        case kEthTypeVlanOld:
            break;
        default:
            raise_event(pkt, DecodeEvent::VxlanUnknownPayloadType);
            return true;
    }
    decode_tunnel(pkt, TunnelKind::Vxlan, load_be24(p + 4), kEthTypeTeb, p + kVxlanHeaderLen,
                  len - kVxlanHeaderLen);
    return true;
}

// Geneve (RFC 8926): version 0, options whose lengths add up to the header's, reserved bits
// zero; the protocol type names the payload (Ethernet, IPv4, IPv6).
bool decode_geneve(Packet& pkt, const uint8_t* p, uint32_t len) {
    if (len < kGeneveHeaderLen || (p[0] >> 6) != 0 || (p[1] & 0x3f) != 0 || p[7] != 0) {
        return false;
    }
    const uint32_t hlen = kGeneveHeaderLen + static_cast<uint32_t>(p[0] & 0x3f) * 4;
    if (hlen > len) {
        return false;
    }
    uint32_t off = kGeneveHeaderLen;
    while (off < hlen) {
        if (hlen - off < 4) {
            return false;
        }
        off += 4 + static_cast<uint32_t>(p[off + 3] & 0x1f) * 4;
    }
    if (off != hlen) {
        return false;
    }
    const uint16_t type = load_be16(p + 2);
    switch (type) {
        case kEthTypeIpv4:
        case kEthTypeIpv6:
        case kEthTypeTeb:
            decode_tunnel(pkt, TunnelKind::Geneve, load_be24(p + 4), type, p + hlen, len - hlen);
            return true;
        case kEthTypeArp:
            return true;
        default:
            raise_event(pkt, DecodeEvent::GeneveUnknownPayloadType);
            return true;
    }
}

// Teredo (RFC 4380): IPv6 in UDP. Nothing in the payload says "Teredo", so, like Suricata, it
// is accepted only when it is an IPv6 packet filling the UDP payload exactly, optionally after
// an origin indication. Packets with an authentication header are qualification exchanges,
// not tunnelled traffic, and stay UDP (as in Suricata).
bool decode_teredo(Packet& pkt, const uint8_t* p, uint32_t len) {
    if (len < kIpv6HeaderLen) {
        return false;
    }
    uint32_t off = 0;
    if (p[0] == 0) {
        if (p[1] != 0 || len < kTeredoOriginLen + kIpv6HeaderLen) {
            return false;
        }
        off = kTeredoOriginLen;
    }
    const uint8_t* ip6 = p + off;
    const uint32_t plen = load_be16(ip6 + 4);
    if ((ip6[0] >> 4) != 6 || ip6[7] == 0 || (ip6[6] == kIpv6NextHopByHop && plen < 8) ||
        len != off + kIpv6HeaderLen + plen) {
        return false;  // hop limit 0 or a tiny hop-by-hop header: bogus, as Suricata judges
    }
    return decode_tunnel(pkt, TunnelKind::Teredo, 0, kEthTypeIpv6, ip6, len - off);
}

inline bool is_tunnel_port(uint16_t port) {
    return port == kPortVxlan || port == kPortGeneve || port == kPortTeredo;
}

// Suricata tries Teredo, then Geneve, then VXLAN, each on its port at either end.
void decode_udp_tunnel(Packet& pkt, const uint8_t* p, uint32_t len) {
    const uint16_t sp = pkt.sport;
    const uint16_t dp = pkt.dport;
    if ((sp == kPortTeredo || dp == kPortTeredo) && decode_teredo(pkt, p, len)) {
        return;
    }
    if ((sp == kPortGeneve || dp == kPortGeneve) && decode_geneve(pkt, p, len)) {
        return;
    }
    if (sp == kPortVxlan || dp == kPortVxlan) {
        decode_vxlan(pkt, p, len);
    }
}

// `partial`: this is the first fragment of a datagram, so the UDP length covers bytes that
// arrive in later fragments.
void decode_udp(Packet& pkt, const uint8_t* p, uint32_t len, bool partial) {
    if (len < kUdpHeaderLen) {
        raise_event(pkt, DecodeEvent::UdpHlenTooSmall);
        flag(pkt, DecodeStatus::UdpTruncated);
        return;
    }
    uint32_t ulen = load_be16(p + 4);
    if (!partial) {
        if (ulen > len) {
            raise_event(pkt, DecodeEvent::UdpPktTooSmall);
        } else if (ulen != len) {
            // Suricata 7: a UDP length other than the IP payload's (below it, or below the
            // header) is hlen_invalid. Vigil still decodes a shorter one, bounded by it.
            raise_event(pkt, DecodeEvent::UdpHlenInvalid);
        }
    }
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
    // The only extra work for plain UDP: three port compares.
    if ((is_tunnel_port(pkt.sport) || is_tunnel_port(pkt.dport)) && !pkt.is_fragment) {
        decode_udp_tunnel(pkt, p + kUdpHeaderLen, ulen - kUdpHeaderLen);
    }
}

// Suricata's DecodeICMPV4: the types it knows and the codes each allows.
void icmpv4_events(Packet& pkt, uint8_t type, uint8_t code) {
    bool bad_code = false;
    switch (type) {
        case 0:   // echo reply
        case 4:   // source quench
        case 8:   // echo
        case 12:  // parameter problem
        case 13:  // timestamp
        case 14:  // timestamp reply
        case 15:  // information request
        case 16:  // information reply
        case 17:  // address mask request
        case 18:  // address mask reply
            bad_code = code != 0;
            break;
        case 3:  // destination unreachable
            bad_code = code > 15;
            break;
        case 5:  // redirect
            bad_code = code > 3;
            break;
        case 11:  // time exceeded
            bad_code = code > 1;
            break;
        default:
            raise_event(pkt, DecodeEvent::Icmpv4UnknownType);
            return;
    }
    if (bad_code) {
        raise_event(pkt, DecodeEvent::Icmpv4UnknownCode);
    }
}

// Suricata's DecodeICMPV6: codes per known type, the IANA ranges for the others.
void icmpv6_events(Packet& pkt, uint8_t type, uint8_t code) {
    bool bad_code = false;
    switch (type) {
        case 1:  // destination unreachable
            bad_code = code > 6;
            break;
        case 2:  // packet too big
            bad_code = code != 0;
            break;
        case 3:  // time exceeded
            bad_code = code > 1;
            break;
        case 4:  // parameter problem
            bad_code = code > 2;
            break;
        case 130:  // MLD query, report, done: link-local, so hop limit 1
        case 131:
        case 132:
            bad_code = code != 0;
            if (pkt.ttl != 1) {
                raise_event(pkt, DecodeEvent::Icmpv6MldMessageWithInvalidHl);
            }
            break;
        case 138:  // router renumbering
            bad_code = code > 2 && code != 255;
            break;
        case 139:  // node information query / reply
        case 140:
            bad_code = code > 2;
            break;
        case 150:  // mobile experimental, multicast router advert / solicit / terminate
        case 151:
        case 152:
        case 153:
            break;
        case 155:  // RPL control
            bad_code = (code > 3 && code < 128) || code > 132;
            break;
        case 128:
        case 129:
        case 133:
        case 134:
        case 135:
        case 136:
        case 137:
        case 141:
        case 142:
        case 143:
        case 144:
        case 145:
        case 146:
        case 147:
        case 148:
        case 149:
        case 154:
        case 156:
        case 157:
        case 158:
        case 159:
            bad_code = code != 0;
            break;
        default:
            if ((type > 4 && type < 100) || (type >= 102 && type < 127) ||
                (type >= 160 && type < 200) || type >= 202) {
                raise_event(pkt, DecodeEvent::Icmpv6UnassignedType);
            } else if ((type >= 100 && type < 102) || (type >= 200 && type < 202)) {
                raise_event(pkt, DecodeEvent::Icmpv6ExperimentationType);
            } else {
                raise_event(pkt, DecodeEvent::Icmpv6UnknownType);
            }
            return;
    }
    if (bad_code) {
        raise_event(pkt, DecodeEvent::Icmpv6UnknownCode);
    }
}

void decode_icmp(Packet& pkt, const uint8_t* p, uint32_t len, bool v6) {
    if (len < kIcmpHeaderLen) {
        raise_event(pkt, v6 ? DecodeEvent::Icmpv6PktTooSmall : DecodeEvent::Icmpv4PktTooSmall);
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
        icmpv6_events(pkt, t, p[1]);
    } else {
        // echo reply/request, timestamp, information and address mask request/reply
        pkt.icmp_has_id = t == 0 || t == 8 || (t >= 13 && t <= 18);
        icmpv4_events(pkt, t, p[1]);
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
            if (pkt.ip_version == 6) {
                raise_event(pkt, DecodeEvent::Ipv6Icmpv4);
            }
            decode_icmp(pkt, p, len, false);
            return;
        case kProtoIcmpv6:
            if (pkt.ip_version == 4) {
                raise_event(pkt, DecodeEvent::Ipv4Icmpv6);
            }
            decode_icmp(pkt, p, len, true);
            return;
        case kProtoGre:
            set_payload(pkt, p, len);  // seen as before when the GRE payload is not decoded
            if (!pkt.is_fragment) {    // a fragment's tunnel is decoded once reassembled
                decode_gre(pkt, p, len);
            }
            return;
        case kProtoIpip:
        case kProtoIpv6Encap:
            set_payload(pkt, p, len);
            if (!pkt.is_fragment) {
                decode_ipip(pkt, p, len);
            }
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

// The options Suricata knows (others are ipv4.opt_invalid), as bits for duplicate detection.
inline uint32_t ipv4_known_opt_bit(uint8_t type) {
    switch (type) {
        case kIpOptTypeRr:
            return 1U << 0;
        case kIpOptTypeTs:
            return 1U << 1;
        case kIpOptTypeQs:
            return 1U << 2;
        case kIpOptTypeSec:
            return 1U << 3;
        case kIpOptTypeLsrr:
            return 1U << 4;
        case kIpOptTypeEsec:
            return 1U << 5;
        case kIpOptTypeCipso:
            return 1U << 6;
        case kIpOptTypeSatid:
            return 1U << 7;
        case kIpOptTypeSsrr:
            return 1U << 8;
        case kIpOptTypeRtrAlt:
            return 1U << 9;
        default:
            return 0;
    }
}

// Suricata's checks of one option's contents (IPV4OptValidate*): which event, if any.
std::optional<DecodeEvent> ipv4_option_event(const uint8_t* opt, uint8_t olen) {
    const uint8_t type = opt[0];
    switch (type) {
        case kIpOptTypeRr:
        case kIpOptTypeLsrr:
        case kIpOptTypeSsrr: {
            if (olen < 3) {
                return DecodeEvent::Ipv4OptInvalidLen;
            }
            const uint8_t ptr = opt[2];  // 1-based, at an address slot, within the option
            if (ptr < 4 || ptr % 4 != 0 || ptr > olen + 1) {
                return DecodeEvent::Ipv4OptMalformed;
            }
            return std::nullopt;
        }
        case kIpOptTypeTs: {
            if (olen < 5) {
                return DecodeEvent::Ipv4OptInvalidLen;
            }
            const uint8_t ptr = opt[2];
            const uint8_t ts_flag = opt[3] & 0x0f;
            const uint32_t rec = ts_flag == 0 ? 4 : (ts_flag == 1 || ts_flag == 3) ? 8 : 0;
            if (ptr < 5 || rec == 0 || (ptr - 5) % rec != 0 || ptr > olen + 1) {
                return DecodeEvent::Ipv4OptMalformed;
            }
            return std::nullopt;
        }
        case kIpOptTypeSec:
        case kIpOptTypeEsec:
            return olen < 3 ? std::optional(DecodeEvent::Ipv4OptInvalidLen) : std::nullopt;
        case kIpOptTypeSatid:
            return olen != 4 ? std::optional(DecodeEvent::Ipv4OptInvalidLen) : std::nullopt;
        default:
            return std::nullopt;
    }
}

// Sets pkt.ip_opts for the well-formed options and raises Suricata's option events; returns
// false at the first option whose length breaks Vigil's rules (status Ipv4OptMalformed).
bool decode_ipv4_options(Packet& pkt, const uint8_t* p, uint32_t len) {
    uint32_t seen = 0;
    const uint8_t* base = p;
    uint32_t off = 0;  // where the option being checked starts (walk_options visits in order)
    const OptWalk r = walk_options(p, len, [&](uint8_t type, uint8_t olen) {
        const uint8_t* opt = base + off;
        off += olen;
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
        if (type != kIpOptTypeEol && type != kIpOptTypeNop) {
            const uint32_t known = ipv4_known_opt_bit(type);
            if (known == 0) {
                raise_event(pkt, DecodeEvent::Ipv4OptInvalid);  // Suricata: warn, keep going
            } else if ((seen & known) != 0) {
                raise_event(pkt, DecodeEvent::Ipv4OptDuplicate);
            } else if (const auto ev = ipv4_option_event(opt, olen)) {
                raise_event(pkt, *ev);
            } else {
                seen |= known;
            }
        }
        if (ok) {
            pkt.ip_opts |= bit | kIpOptAny;
        }
        return ok;
    });
    if (r == OptWalk::TrailingByte) {
        raise_event(pkt, DecodeEvent::Ipv4OptEolRequired);
    } else if (r == OptWalk::BadLength) {
        raise_event(pkt, DecodeEvent::Ipv4OptInvalidLen);
    }
    return r == OptWalk::Ok;
}

void decode_ipv4(Packet& pkt, const uint8_t* p, uint32_t len) {
    if (len < kIpv4HeaderLen) {
        raise_event(pkt, DecodeEvent::Ipv4PktTooSmall);
        flag(pkt, DecodeStatus::Ipv4Truncated);
        return;
    }
    if ((p[0] >> 4) != 4) {
        raise_event(pkt, DecodeEvent::Ipv4WrongIpVersion);
        flag(pkt, DecodeStatus::Ipv4BadVersion);
        return;
    }
    const uint32_t hlen = static_cast<uint32_t>(p[0] & 0x0f) * 4;
    if (hlen < kIpv4HeaderLen) {
        raise_event(pkt, DecodeEvent::Ipv4HlenTooSmall);
        flag(pkt, DecodeStatus::Ipv4BadHeaderLen);
        return;
    }
    const uint32_t total_len = load_be16(p + 2);
    if (total_len < hlen) {
        raise_event(pkt, DecodeEvent::Ipv4IplenSmallerThanHlen);
        flag(pkt, DecodeStatus::Ipv4BadTotalLen);
        return;
    }
    if (hlen > len) {
        // The options run past the capture: the header is incomplete, expose nothing.
        raise_event(pkt, DecodeEvent::Ipv4TruncPkt);
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
        raise_event(pkt, DecodeEvent::Ipv4TruncPkt);
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

// Hop-by-hop and destination options (Suricata's checks): lengths within the header, zero
// length PadN, options it does not know, headers holding nothing but padding.
void ipv6_options_events(Packet& pkt, bool hop, const uint8_t* opts, uint32_t optslen) {
    uint32_t padn = 0;
    uint32_t other = 0;
    uint32_t o = 0;
    while (o < optslen) {
        const uint8_t type = opts[o];
        if (type == kIp6OptPad1) {
            ++padn;
            ++o;
            continue;
        }
        if (o + 1 >= optslen) {
            raise_event(pkt, DecodeEvent::Ipv6ExthdrInvalidOptlen);
            break;
        }
        const uint8_t olen = opts[o + 1];
        if (o + 1 + olen > optslen) {  // Suricata's bound (one byte lenient)
            raise_event(pkt, DecodeEvent::Ipv6ExthdrInvalidOptlen);
            break;
        }
        if (type == kIp6OptPadN) {
            ++padn;
            if (olen == 0) {
                raise_event(pkt, DecodeEvent::Ipv6ZeroLenPadn);
            }
        } else if (type == kIp6OptRouterAlert || type == kIp6OptJumbo ||
                   type == kIp6OptHomeAddress) {
            const uint8_t min = type == kIp6OptRouterAlert ? 2 : type == kIp6OptJumbo ? 4 : 16;
            if (olen < min) {
                raise_event(pkt, DecodeEvent::Ipv6ExthdrInvalidOptlen);
                break;
            }
            other += type == kIp6OptJumbo ? 0 : 1;  // as Suricata counts them
        } else {
            raise_event(
                pkt, hop ? DecodeEvent::Ipv6HopoptsUnknownOpt : DecodeEvent::Ipv6DstoptsUnknownOpt);
            ++other;
        }
        o += 2U + olen;
    }
    if (padn > 0 && other == 0) {
        raise_event(
            pkt, hop ? DecodeEvent::Ipv6HopoptsOnlyPadding : DecodeEvent::Ipv6DstoptsOnlyPadding);
    }
}

// Next headers after which Suricata expects a payload it decodes (others are
// ipv6.unknown_next_header).
inline bool ipv6_known_upper(uint8_t nh) {
    switch (nh) {
        case kProtoTcp:
        case kProtoUdp:
        case kProtoIcmpv6:
        case kProtoIcmp:
        case kProtoGre:
        case kProtoIpip:
        case kProtoIpv6Encap:
        case kIpv6NextSctp:
        case kIpv6NextEsp:
        case kIpv6NextHip:
        case kIpv6NextShim6:
            return true;
        default:
            return false;
    }
}

void decode_ipv6(Packet& pkt, const uint8_t* p, uint32_t len) {
    if (len < kIpv6HeaderLen) {
        raise_event(pkt, DecodeEvent::Ipv6PktTooSmall);
        flag(pkt, DecodeStatus::Ipv6Truncated);
        return;
    }
    if ((p[0] >> 4) != 6) {
        raise_event(pkt, DecodeEvent::Ipv6WrongIpVersion);
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
        raise_event(pkt, DecodeEvent::Ipv6TruncPkt);
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
    // Headers seen so far, for Suricata's duplicate events (two destination options headers
    // are legal: one before and one after the routing header).
    bool seen_hh = false;
    bool seen_rh = false;
    bool seen_fh = false;
    bool seen_ah = false;
    int seen_dh = 0;
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
                if (end > off) {
                    raise_event(pkt, DecodeEvent::Ipv6DataAfterNoneHeader);
                }
                return;  // nothing follows: no L4, no payload
            default:
                pkt.ip_proto = nh;
                pkt.l3_len = static_cast<uint16_t>(off);
                if (!ipv6_known_upper(nh)) {
                    raise_event(pkt, DecodeEvent::Ipv6UnknownNextHeader);
                }
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
            raise_event(pkt, DecodeEvent::Ipv6TruncExthdr);
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
            raise_event(pkt, DecodeEvent::Ipv6TruncExthdr);
            flag(pkt, DecodeStatus::Ipv6ExtTruncated);
            return;
        }
        const uint8_t next = p[off];
        switch (nh) {
            case kIpv6NextHopByHop:
                if (seen_hh) {
                    raise_event(pkt, DecodeEvent::Ipv6ExthdrDuplHh);
                } else {
                    seen_hh = true;
                    ipv6_options_events(pkt, true, p + off + 2, hlen - 2);
                }
                break;
            case kIpv6NextDstOpts:
                if (seen_dh >= 2) {
                    raise_event(pkt, DecodeEvent::Ipv6ExthdrDuplDh);
                } else {
                    ++seen_dh;
                    ipv6_options_events(pkt, false, p + off + 2, hlen - 2);
                }
                break;
            case kIpv6NextRouting:
                if (seen_rh) {
                    raise_event(pkt, DecodeEvent::Ipv6ExthdrDuplRh);
                }
                seen_rh = true;
                if (p[off + 2] == 0) {
                    raise_event(pkt, DecodeEvent::Ipv6RhType0);  // deprecated (RFC 5095)
                }
                break;
            case kIpv6NextAh:
                if (load_be16(p + off + 2) != 0) {
                    raise_event(pkt, DecodeEvent::Ipv6ExthdrAhResNotNull);
                }
                if (seen_ah) {
                    raise_event(pkt, DecodeEvent::Ipv6ExthdrDuplAh);
                }
                seen_ah = true;
                break;
            default:
                break;
        }
        if (nh == kIpv6NextFragment) {
            if (p[off + 1] != 0) {
                raise_event(pkt, DecodeEvent::Ipv6FhNonZeroReservedField);
            }
            if (seen_fh) {
                raise_event(pkt, DecodeEvent::Ipv6ExthdrDuplFh);
            }
            seen_fh = true;
            pkt.ip6_frag_hdr = static_cast<uint16_t>(off);
            pkt.ip6_frag_nh = static_cast<uint16_t>(nh_pos);
            const uint16_t fo = load_be16(p + off + 2);
            pkt.frag_offset = static_cast<uint16_t>(fo >> 3);
            pkt.frag_mf = (fo & 1) != 0;
            pkt.is_fragment = true;
            if (pkt.frag_mf && (end - (off + hlen)) % 8 != 0) {
                // Every fragment but the last carries a multiple of 8 bytes (RFC 8200).
                raise_event(pkt, DecodeEvent::Ipv6FragInvalidLength);
            }
            if (pkt.frag_offset == 0 && !pkt.frag_mf) {
                // Offset 0 and no more fragments: a fragment header for nothing. Suricata
                // flags it and decodes on; so does Vigil (the defragmenter completes it).
                raise_event(pkt, DecodeEvent::Ipv6ExthdrUselessFh);
            }
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
        raise_event(pkt, DecodeEvent::Ipv4PktTooSmall);
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
            raise_event(pkt, DecodeEvent::IprawInvalidIpVersion);
            flag(pkt, DecodeStatus::Ipv4BadVersion);  // neither: report as a bad IP version
            return;
    }
}

// --- link layer --------------------------------------------------------------------------

// NSH (RFC 8300) base + service path headers, checked as Suricata's DecodeNSH does. Returns the
// header length (metadata included) and the next protocol, or 0 when the header is refused.
uint32_t nsh_header(Packet& pkt, const uint8_t* p, uint32_t len, uint8_t& next) {
    if (len < kNshBaseLen) {
        raise_event(pkt, DecodeEvent::NshHeaderTooSmall);
        return 0;
    }
    const uint16_t ver_len = load_be16(p);
    if ((ver_len >> 14) != 0) {
        raise_event(pkt, DecodeEvent::NshUnsupportedVersion);
        return 0;
    }
    const uint32_t hlen = static_cast<uint32_t>(ver_len & 0x3f) * 4;
    if (hlen >= len || hlen < kNshBaseLen) {
        raise_event(pkt, DecodeEvent::NshBadHeaderLength);  // there must be data after it
        return 0;
    }
    const uint8_t md_type = p[2] & 0x0f;
    if (md_type == 0 || md_type == 0x0f) {
        raise_event(pkt, DecodeEvent::NshReservedType);
        return 0;
    }
    if (md_type == 1 && hlen != kNshMd1Len) {
        raise_event(pkt, DecodeEvent::NshBadHeaderLength);
        return 0;
    }
    if (md_type != 1 && md_type != 2) {
        raise_event(pkt, DecodeEvent::NshUnsupportedType);
        return 0;
    }
    next = p[3];
    return hlen;
}

// Dispatches on an EtherType, peeling VLAN tags, MPLS labels and NSH. Every iteration
// consumes header bytes, so the loop ends; the tag and label caps bound the work per packet.
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
                    raise_event(pkt, DecodeEvent::VlanHeaderTooSmall);
                    flag(pkt, DecodeStatus::VlanTruncated);
                    return;
                }
                push_vlan(pkt, load_be16(p) & 0x0fff);
                if (pkt.vlan_count > kSuricataMaxVlanLayers) {
                    raise_event(pkt, DecodeEvent::VlanTooManyLayers);
                }
                if (pkt.vlan_count > kMaxVlanTags) {
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
                        raise_event(pkt, DecodeEvent::MplsHeaderTooSmall);
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
                    raise_event(pkt, DecodeEvent::MplsPktTooSmall);
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
                        raise_event(pkt, DecodeEvent::MplsPktTooSmall);
                        flag(pkt, DecodeStatus::MplsTruncated);
                        return;
                    }
                    type = load_be16(p + kMplsPwControlWordLen + 12);
                    p += kMplsPwControlWordLen + kEthHeaderLen;
                    len -= kMplsPwControlWordLen + kEthHeaderLen;
                    continue;
                }
                raise_event(pkt, DecodeEvent::MplsUnknownPayloadType);
                flag(pkt, DecodeStatus::EtherTypeUnsupported);
                return;
            }
            case kEthTypeNsh: {
                // Not a tunnel in Suricata: the same packet goes on with what NSH carries.
                uint8_t next = 0;
                const uint32_t hlen = nsh_header(pkt, p, len, next);
                if (hlen == 0) {
                    flag(pkt, DecodeStatus::EtherTypeUnsupported);  // as before NSH was decoded
                    return;
                }
                pkt.tunnel.kind = TunnelKind::Nsh;
                p += hlen;
                len -= hlen;
                switch (next) {
                    case 1:
                        type = kEthTypeIpv4;
                        continue;
                    case 2:
                        type = kEthTypeIpv6;
                        continue;
                    case 3:
                        if (len < kEthHeaderLen) {
                            raise_event(pkt, DecodeEvent::EthernetPktTooSmall);
                            flag(pkt, DecodeStatus::EthTruncated);
                            return;
                        }
                        type = load_be16(p + 12);
                        p += kEthHeaderLen;
                        len -= kEthHeaderLen;
                        continue;
                    case 5:
                        type = kEthTypeMplsUc;
                        continue;
                    default:  // NSH in NSH, experimental values
                        raise_event(pkt, DecodeEvent::NshUnknownPayload);
                        flag(pkt, DecodeStatus::EtherTypeUnsupported);
                        return;
                }
            }
            default:
                flag(pkt, DecodeStatus::EtherTypeUnsupported);  // ARP, LLDP, 802.3 length...
                return;
        }
    }
}

void decode_ethernet(Packet& pkt, const uint8_t* p, uint32_t len) {
    if (len < kEthHeaderLen) {
        raise_event(pkt, DecodeEvent::EthernetPktTooSmall);
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
            raise_event(pkt, DecodeEvent::LtnullUnsupportedType);
            flag(pkt, DecodeStatus::EtherTypeUnsupported);
            return;
    }
}

void decode_null(Packet& pkt, const uint8_t* p, uint32_t len) {
    if (len < kNullHeaderLen) {
        raise_event(pkt, DecodeEvent::LtnullPktTooSmall);
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
        raise_event(pkt, DecodeEvent::PppPktTooSmall);
        flag(pkt, DecodeStatus::PppTruncated);
        return;
    }
    uint16_t proto = p[0];
    uint32_t hl = 1;
    if ((p[0] & 1) == 0) {
        if (len < 2) {
            raise_event(pkt, DecodeEvent::PppPktTooSmall);
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
    fresh.link = link;
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
                raise_event(pkt, DecodeEvent::SllPktTooSmall);
                flag(pkt, DecodeStatus::SllTruncated);
                break;
            }
            decode_ethertype(pkt, load_be16(p + 14), p + kSllHeaderLen, len - kSllHeaderLen);
            break;
        case LinkType::LinuxSll2:
            if (len < kSll2HeaderLen) {
                raise_event(pkt, DecodeEvent::SllPktTooSmall);
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
                raise_event(pkt, DecodeEvent::ChdlcPktTooSmall);
                flag(pkt, DecodeStatus::CHdlcTruncated);
                break;
            }
            decode_ethertype(pkt, load_be16(p + 2), p + 4, len - 4);
            break;
        case LinkType::Loop:
            if (len < kNullHeaderLen) {
                raise_event(pkt, DecodeEvent::LtnullPktTooSmall);
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
