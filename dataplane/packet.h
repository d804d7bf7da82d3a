#pragma once
// Packet: the decoded view of one captured frame, filled by decode() and read by the flow
// table and the detection engine. Plain data: no ownership, pointers into the capture buffer.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "dataplane/decode_events.h"

namespace vigil::dataplane {

// pcap LINKTYPE_* values we decode.
enum class LinkType : uint16_t {
    Null = 0,  // BSD loopback, host-order 4-byte address family
    Ethernet = 1,
    Ppp = 9,       // PPP: [0xff 0x03] + protocol (2 bytes, or 1 when compressed)
    PppHdlc = 50,  // PPP in HDLC-like framing (same header)
    CHdlc = 104,   // Cisco HDLC: address, control, 2-byte ethertype
    Raw = 101,     // raw IPv4/IPv6 (also DLT_RAW 12/14 normalised to this)
    Loop = 108,    // OpenBSD loopback, network-order address family
    LinuxSll = 113,
    Ipv4 = 228,
    Ipv6 = 229,
    LinuxSll2 = 276,
};

// Why a packet could not be (fully) decoded. Counted by name, like Suricata's decoder events.
// Ok and the *Unsupported* reasons are not malformations: the packet is simply not inspected
// beyond the last layer that decoded.
enum class DecodeStatus : uint8_t {
    Ok = 0,
    LinkTypeUnsupported,
    EthTruncated,
    VlanTruncated,
    VlanTooMany,
    MplsTruncated,
    MplsTooMany,
    SllTruncated,
    NullTruncated,
    PppTruncated,
    CHdlcTruncated,
    EtherTypeUnsupported,  // not IPv4/IPv6 (ARP, LLDP, ...): not an error, not inspected
    Ipv4Truncated,
    Ipv4BadVersion,
    Ipv4BadHeaderLen,
    Ipv4BadTotalLen,
    Ipv4OptMalformed,
    Ipv6Truncated,
    Ipv6BadVersion,
    Ipv6BadPayloadLen,
    Ipv6ExtTruncated,
    Ipv6ExtTooMany,
    TcpTruncated,
    TcpBadHeaderLen,
    TcpOptMalformed,
    UdpTruncated,
    UdpBadLen,
    IcmpTruncated,
    Icmpv6Truncated,
    Count  // number of reasons; keep last
};

// Stable, snake_case name used in stats output ("decoder.ipv4_truncated").
std::string_view decode_status_name(DecodeStatus s);

// IPv4 addresses are stored IPv4-mapped (::ffff:a.b.c.d) so that one 128-bit comparison
// serves both families in flow keys and rule address sets.
struct IpAddr {
    std::array<uint8_t, 16> b{};

    static IpAddr from_v4(const uint8_t* p) {
        IpAddr a;
        a.b[10] = 0xff;
        a.b[11] = 0xff;
        std::memcpy(&a.b[12], p, 4);
        return a;
    }
    static IpAddr from_v6(const uint8_t* p) {
        IpAddr a;
        std::memcpy(a.b.data(), p, 16);
        return a;
    }
    bool is_v4() const {
        static constexpr std::array<uint8_t, 12> kPrefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        return std::memcmp(b.data(), kPrefix.data(), 12) == 0;
    }
    auto operator<=>(const IpAddr&) const = default;

    // True when the first `prefix` bits (0..128, over the 16-byte form: an IPv4 /24 is 120)
    // equal those of `net`.
    bool in_prefix(const IpAddr& net, unsigned prefix) const {
        const unsigned whole = prefix / 8;
        if (std::memcmp(b.data(), net.b.data(), whole) != 0) {
            return false;
        }
        const unsigned rest = prefix % 8;
        if (rest == 0) {
            return true;
        }
        const auto mask = static_cast<uint8_t>(0xff << (8 - rest));
        return (b[whole] & mask) == (net.b[whole] & mask);
    }
};

// IP protocol numbers used across the code.
inline constexpr uint8_t kProtoIcmp = 1;
inline constexpr uint8_t kProtoIpip = 4;  // IPv4 in IP
inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;
inline constexpr uint8_t kProtoIpv6Encap = 41;  // IPv6 in IP
inline constexpr uint8_t kProtoGre = 47;
inline constexpr uint8_t kProtoIcmpv6 = 58;

// TCP flag bits as on the wire (byte 13), plus ECE/CWR.
inline constexpr uint8_t kTcpFin = 0x01;
inline constexpr uint8_t kTcpSyn = 0x02;
inline constexpr uint8_t kTcpRst = 0x04;
inline constexpr uint8_t kTcpPsh = 0x08;
inline constexpr uint8_t kTcpAck = 0x10;
inline constexpr uint8_t kTcpUrg = 0x20;
inline constexpr uint8_t kTcpEce = 0x40;
inline constexpr uint8_t kTcpCwr = 0x80;

// IPv4 option presence bits (Packet::ip_opts), for the `ipopts` rule keyword.
inline constexpr uint16_t kIpOptRr = 1 << 0;     // record route (7)
inline constexpr uint16_t kIpOptEol = 1 << 1;    // end of list (0)
inline constexpr uint16_t kIpOptNop = 1 << 2;    // no-op (1)
inline constexpr uint16_t kIpOptTs = 1 << 3;     // timestamp (68)
inline constexpr uint16_t kIpOptSec = 1 << 4;    // security (130)
inline constexpr uint16_t kIpOptEsec = 1 << 5;   // extended security (133)
inline constexpr uint16_t kIpOptLsrr = 1 << 6;   // loose source route (131)
inline constexpr uint16_t kIpOptSsrr = 1 << 7;   // strict source route (137)
inline constexpr uint16_t kIpOptSatid = 1 << 8;  // stream id (136)
inline constexpr uint16_t kIpOptAny = 1 << 9;    // any option present

// The encapsulation a packet was found in. When decode() finds a tunnel whose payload is an IP
// packet, the Packet describes the INNER packet (addresses, ports, L4, payload: what flows,
// streams and detection see) and TunnelInfo keeps what EVE's `tunnel` object needs.
enum class TunnelKind : uint8_t {
    None = 0,
    Gre,     // GRE (RFC 2784/2890): IPv4, IPv6 or transparent Ethernet bridging payload
    Erspan,  // ERSPAN type I, II or III over GRE
    Vxlan,   // VXLAN, UDP port 4789
    Geneve,  // Geneve, UDP port 6081
    Teredo,  // Teredo, UDP port 3544: IPv6 in UDP
    Ipip,    // IPv4/IPv6 in IPv4/IPv6 (IP protocols 4 and 41)
    Nsh,     // NSH (ethertype 0x894f): decoded in place, not a new packet layer (depth unchanged)
};

struct TunnelInfo {
    TunnelKind kind = TunnelKind::None;  // innermost encapsulation peeled
    uint8_t depth = 0;             // tunnel layers peeled (Suricata's recursion level); 0: none
    uint8_t outer_ip_version = 0;  // of the outermost IP packet (0 for NSH without one)
    uint8_t outer_ip_proto = 0;    // outermost IP packet's protocol: 47 GRE, 17 UDP, 4/41 IPIP
    uint16_t outer_sport = 0;      // outermost UDP ports (VXLAN, Geneve, Teredo), else 0
    uint16_t outer_dport = 0;
    uint32_t vni = 0;    // innermost VXLAN/Geneve VNI, GRE key or ERSPAN session id; 0 if none
    IpAddr outer_src{};  // outermost IP packet's addresses
    IpAddr outer_dst{};

    bool active() const { return depth != 0; }
};

// Direction of a packet relative to its flow, set by the flow table.
enum class FlowDir : uint8_t { ToServer = 0, ToClient = 1 };

struct Packet {
    // --- capture (filled by the packet source) ---
    const uint8_t* data = nullptr;       // first byte of the link-layer frame
    LinkType link = LinkType::Ethernet;  // its link type (DLT number: EVE packet_info.linktype)
    uint32_t cap_len = 0;                // bytes captured
    uint32_t wire_len = 0;               // bytes on the wire
    int64_t ts_sec = 0;                  // capture timestamp (pcap time in replay)
    uint32_t ts_usec = 0;
    uint64_t seq = 0;  // position in the input (0-based); orders output across workers

    // --- decode results ---
    DecodeStatus status = DecodeStatus::Ok;
    uint8_t vlan_count = 0;
    std::array<uint16_t, 2> vlan{};  // outermost first; only the first two are kept
    uint8_t mpls_count = 0;          // MPLS labels popped (0: no MPLS layer)

    uint8_t ip_version = 0;  // 0 = no IP layer decoded, 4 or 6
    const uint8_t* l3 = nullptr;
    uint16_t l3_len = 0;  // IP header length (IPv6: fixed header + extension headers)
    IpAddr src{};
    IpAddr dst{};
    uint8_t ttl = 0;  // IPv4 TTL / IPv6 hop limit
    uint8_t tos = 0;  // IPv4 TOS / IPv6 traffic class
    uint16_t ip_id = 0;
    uint32_t ip_total_len = 0;  // IPv4 total length / IPv6 40 + payload length
    uint16_t ip_opts = 0;       // kIpOpt* bits (IPv4 only)
    bool frag_rb = false;       // IPv4 reserved bit
    bool frag_df = false;       // IPv4 don't fragment
    bool frag_mf = false;       // more fragments (IPv4 flag / IPv6 fragment header)
    uint16_t frag_offset = 0;   // in 8-byte units; non-zero: no L4 header in this packet
    bool is_fragment = false;   // MF set or offset != 0 (or an IPv6 fragment header)
    // IPv6 fragments: offsets from l3 of the fragment header and of the next-header byte that
    // names it (what defragmentation removes and patches); 0 when there is none.
    uint16_t ip6_frag_hdr = 0;
    uint16_t ip6_frag_nh = 0;
    uint8_t ip_proto = 0;  // transport protocol after the IPv6 extension chain

    // Suricata decoder events raised while decoding (read by `decode-event`), and the
    // encapsulation the fields above were found in.
    DecodeEvents events{};
    TunnelInfo tunnel{};

    // --- transport ---
    const uint8_t* l4 = nullptr;  // null when the L4 header is absent (non-first fragment)
    uint16_t l4_len = 0;          // L4 header length
    uint16_t sport = 0;
    uint16_t dport = 0;
    // TCP
    uint8_t tcp_flags = 0;
    uint32_t tcp_seq = 0;
    uint32_t tcp_ack = 0;
    uint16_t tcp_window = 0;
    // ICMP / ICMPv6
    uint8_t icmp_type = 0;
    uint8_t icmp_code = 0;
    bool icmp_has_id = false;  // echo / echo-reply style messages carry id + seq
    uint16_t icmp_id = 0;
    uint16_t icmp_seq = 0;

    // Application payload: after the L4 header (after the IP header when there is no L4
    // layer we understand), trimmed to the IP total length (Ethernet padding is not payload).
    const uint8_t* payload = nullptr;
    uint32_t payload_len = 0;

    // --- flow ---
    // flow_hash(FlowKey::from_packet(*this)) when a stage already computed it (the replay
    // reader does, to pick the worker), 0 otherwise; lets the worker prefetch its flow.
    uint64_t flow_hash = 0;
    // (filled by the flow table)
    FlowDir dir = FlowDir::ToServer;
    bool flow_established = false;  // TCP: three-way handshake completed; UDP/other: reply seen

    // --- verdict (IPS) ---
    bool drop = false;    // a drop/reject rule matched (or the flow is dropped): do not forward
    bool reject = false;  // a reject rule matched: answer the sender (TCP reset / ICMP)

    bool has_tcp() const { return l4 != nullptr && ip_proto == kProtoTcp; }
    bool has_udp() const { return l4 != nullptr && ip_proto == kProtoUdp; }
    bool has_icmp() const {
        return l4 != nullptr && (ip_proto == kProtoIcmp || ip_proto == kProtoIcmpv6);
    }
};

}  // namespace vigil::dataplane
