// Tunnel decoding (GRE, ERSPAN, VXLAN, Geneve, Teredo, IP-in-IP, NSH) and Suricata decoder
// events. Every test decodes bytes built in tests/dataplane/packet_builder.h.

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <set>
#include <string>

#include "dataplane/decode.h"
#include "dataplane/decode_events.h"
#include "tests/dataplane/packet_builder.h"

namespace vigil::dataplane {
namespace {

using test::Bytes;
using test::concat;
using test::decode_frame;
using test::ether;
using test::icmp;
using test::ip6_ext;
using test::ip6_frag;
using test::ipv4;
using test::ipv6;
using test::kIp6A;
using test::kIp6B;
using test::kIpA;
using test::kIpB;
using test::kTypeIpv4;
using test::kTypeIpv6;
using test::tcp;
using test::text;
using test::udp;

constexpr test::Ip4 kOuterA{192, 0, 2, 1};
constexpr test::Ip4 kOuterB{192, 0, 2, 2};
constexpr test::Ip6 kOuter6A{0x20, 0x01, 0x0d, 0xb8, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
constexpr test::Ip6 kOuter6B{0x20, 0x01, 0x0d, 0xb8, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

std::string payload_str(const Packet& pkt) {
    if (pkt.payload == nullptr) {
        return {};
    }
    return std::string(reinterpret_cast<const char*>(pkt.payload), pkt.payload_len);
}

// The inner packet every tunnel test carries: an HTTP request from A to B.
Bytes http_v4() {
    return ipv4(kProtoTcp, kIpA, kIpB, tcp(40000, 80, kTcpAck | kTcpPsh, text("GET / HTTP/1.1")));
}

Bytes udp_v6_inner() {
    return ipv6(kProtoUdp, kIp6A, kIp6B, udp(5353, 53, text("v6q")));
}

// Outer IPv4 GRE packet (Ethernet framed).
Bytes gre_frame(uint16_t proto, const Bytes& inner, const test::GreOpts& o = {}) {
    return ether(kTypeIpv4, ipv4(kProtoGre, kOuterA, kOuterB, test::gre(proto, inner, o)));
}

Bytes udp_frame(uint16_t sport, uint16_t dport, const Bytes& payload) {
    return ether(kTypeIpv4, ipv4(kProtoUdp, kOuterA, kOuterB, udp(sport, dport, payload)));
}

void expect_inner_http(const Packet& pkt) {
    EXPECT_EQ(pkt.status, DecodeStatus::Ok);
    EXPECT_EQ(pkt.ip_version, 4);
    EXPECT_EQ(pkt.src, IpAddr::from_v4(kIpA.data()));
    EXPECT_EQ(pkt.dst, IpAddr::from_v4(kIpB.data()));
    EXPECT_TRUE(pkt.has_tcp());
    EXPECT_EQ(pkt.sport, 40000);
    EXPECT_EQ(pkt.dport, 80);
    EXPECT_EQ(payload_str(pkt), "GET / HTTP/1.1");
}

void expect_outer_v4(const TunnelInfo& t, uint8_t proto) {
    EXPECT_EQ(t.outer_ip_version, 4);
    EXPECT_EQ(t.outer_ip_proto, proto);
    EXPECT_EQ(t.outer_src, IpAddr::from_v4(kOuterA.data()));
    EXPECT_EQ(t.outer_dst, IpAddr::from_v4(kOuterB.data()));
}

// --- GRE and ERSPAN ---------------------------------------------------------------------------

TEST(DecodeGre, Ipv4InsideIsTheInspectedPacket) {
    const Packet pkt = decode_frame(LinkType::Ethernet, gre_frame(kTypeIpv4, http_v4()));
    expect_inner_http(pkt);
    EXPECT_EQ(pkt.tunnel.kind, TunnelKind::Gre);
    EXPECT_EQ(pkt.tunnel.depth, 1);
    EXPECT_TRUE(pkt.tunnel.active());
    expect_outer_v4(pkt.tunnel, kProtoGre);
    EXPECT_EQ(pkt.tunnel.outer_sport, 0);
    EXPECT_EQ(pkt.tunnel.vni, 0U);
    EXPECT_FALSE(pkt.events.any());
}

TEST(DecodeGre, ChecksumKeySequenceAndIpv6Inside) {
    test::GreOpts o;
    o.csum = true;
    o.key_present = true;
    o.key = 0xabcdef01;
    o.seq_present = true;
    o.seq = 7;
    const Packet pkt = decode_frame(LinkType::Ethernet, gre_frame(kTypeIpv6, udp_v6_inner(), o));
    ASSERT_EQ(pkt.status, DecodeStatus::Ok);
    EXPECT_EQ(pkt.ip_version, 6);
    EXPECT_EQ(pkt.src, IpAddr::from_v6(kIp6A.data()));
    EXPECT_TRUE(pkt.has_udp());
    EXPECT_EQ(pkt.dport, 53);
    EXPECT_EQ(payload_str(pkt), "v6q");
    EXPECT_EQ(pkt.tunnel.kind, TunnelKind::Gre);
    EXPECT_EQ(pkt.tunnel.vni, 0xabcdef01U);
}

TEST(DecodeGre, TransparentEthernetBridgingWithVlan) {
    const Bytes inner = ether(kTypeIpv4, http_v4(), {{0x8100, 77}});
    const Packet pkt = decode_frame(LinkType::Ethernet, gre_frame(test::kTypeTeb, inner));
    expect_inner_http(pkt);
    EXPECT_EQ(pkt.vlan_count, 1);
    EXPECT_EQ(pkt.vlan[0], 77);
}

TEST(DecodeGre, OverIpv6) {
    const Bytes frame =
        ether(kTypeIpv6, ipv6(kProtoGre, kOuter6A, kOuter6B, test::gre(kTypeIpv4, http_v4())));
    const Packet pkt = decode_frame(LinkType::Ethernet, frame);
    expect_inner_http(pkt);
    EXPECT_EQ(pkt.tunnel.outer_ip_version, 6);
    EXPECT_EQ(pkt.tunnel.outer_src, IpAddr::from_v6(kOuter6A.data()));
}

TEST(DecodeGre, UnknownPayloadLeavesOuterPacket) {
    const Bytes frame = gre_frame(0x0806, Bytes(28, 0));  // ARP over GRE: not inspected inside
    const Packet pkt = decode_frame(LinkType::Ethernet, frame);
    EXPECT_EQ(pkt.status, DecodeStatus::Ok);
    EXPECT_EQ(pkt.ip_proto, kProtoGre);
    EXPECT_EQ(pkt.src, IpAddr::from_v4(kOuterA.data()));
    EXPECT_EQ(pkt.payload, frame.data() + 14 + 20);
    EXPECT_EQ(pkt.payload_len, 4U + 28U);
    EXPECT_FALSE(pkt.tunnel.active());
}

TEST(DecodeGre, TruncatedHeaderRaisesPktTooSmall) {
    const Bytes frame = ether(kTypeIpv4, ipv4(kProtoGre, kOuterA, kOuterB, Bytes{0, 0, 8}));
    const Packet pkt = decode_frame(LinkType::Ethernet, frame);
    EXPECT_EQ(pkt.status, DecodeStatus::Ok);  // the outer packet is decoded as before
    EXPECT_EQ(pkt.ip_proto, kProtoGre);
    EXPECT_EQ(pkt.payload_len, 3U);
    EXPECT_TRUE(pkt.events.has(DecodeEvent::GrePktTooSmall));
    EXPECT_FALSE(pkt.tunnel.active());
}

TEST(DecodeGre, WrongVersionRaisesEvent) {
    test::GreOpts o;
    o.version = 2;
    const Packet pkt = decode_frame(LinkType::Ethernet, gre_frame(kTypeIpv4, http_v4(), o));
    EXPECT_TRUE(pkt.events.has(DecodeEvent::GreWrongVersion));
    EXPECT_EQ(pkt.ip_proto, kProtoGre);
    EXPECT_EQ(pkt.src, IpAddr::from_v4(kOuterA.data()));
    EXPECT_FALSE(pkt.tunnel.active());
}

TEST(DecodeGre, InnerNotIpLeavesOuterPacket) {
    // An inner IPv4 header with a bad version: the tunnel yields no IP packet.
    Bytes inner = http_v4();
    inner[0] = 0x55;
    const Packet pkt = decode_frame(LinkType::Ethernet, gre_frame(kTypeIpv4, inner));
    EXPECT_EQ(pkt.status, DecodeStatus::Ok);
    EXPECT_EQ(pkt.ip_proto, kProtoGre);
    EXPECT_FALSE(pkt.tunnel.active());
    // Like Suricata dropping the pseudo-packet, the inner events do not reach the outer one.
    EXPECT_FALSE(pkt.events.has(DecodeEvent::Ipv4WrongIpVersion));
}

TEST(DecodeGre, FragmentedOuterPacketIsNotDecodedInside) {
    test::Ip4Opts o;
    o.frag = 0x2000;  // MF: the tunnel is decoded once the datagram is reassembled
    const Bytes frame =
        ether(kTypeIpv4, ipv4(kProtoGre, kOuterA, kOuterB, test::gre(kTypeIpv4, http_v4()), o));
    const Packet pkt = decode_frame(LinkType::Ethernet, frame);
    EXPECT_EQ(pkt.ip_proto, kProtoGre);
    EXPECT_FALSE(pkt.tunnel.active());
}

TEST(DecodeErspan, TypeTwoWithVlanAndSession) {
    test::GreOpts o;
    o.seq_present = true;  // the S flag says type II
    const Bytes frame =
        gre_frame(test::kTypeErspan, test::erspan2(0x155, 300, ether(kTypeIpv4, http_v4())), o);
    const Packet pkt = decode_frame(LinkType::Ethernet, frame);
    expect_inner_http(pkt);
    EXPECT_EQ(pkt.tunnel.kind, TunnelKind::Erspan);
    EXPECT_EQ(pkt.tunnel.vni, 0x155U);
    EXPECT_EQ(pkt.vlan_count, 1);
    EXPECT_EQ(pkt.vlan[0], 300);
    expect_outer_v4(pkt.tunnel, kProtoGre);
}

TEST(DecodeErspan, TypeOneHasNoHeader) {
    const Packet pkt =
        decode_frame(LinkType::Ethernet, gre_frame(test::kTypeErspan, ether(kTypeIpv4, http_v4())));
    expect_inner_http(pkt);
    EXPECT_EQ(pkt.tunnel.kind, TunnelKind::Erspan);
    EXPECT_EQ(pkt.vlan_count, 0);
}

TEST(DecodeErspan, TypeThreeWithPlatformSubheader) {
    const Packet pkt = decode_frame(
        LinkType::Ethernet,
        gre_frame(test::kTypeErspan3, test::erspan3(9, 0, ether(kTypeIpv4, http_v4()), true)));
    expect_inner_http(pkt);
    EXPECT_EQ(pkt.tunnel.kind, TunnelKind::Erspan);
    EXPECT_EQ(pkt.tunnel.vni, 9U);
}

TEST(DecodeErspan, HeaderTooSmallAndUnsupportedVersion) {
    test::GreOpts o;
    o.seq_present = true;
    const Packet small =
        decode_frame(LinkType::Ethernet, gre_frame(test::kTypeErspan, Bytes{0x10, 0, 0}, o));
    EXPECT_TRUE(small.events.has(DecodeEvent::ErspanHeaderTooSmall));
    EXPECT_EQ(small.ip_proto, kProtoGre);
    const Packet ver = decode_frame(
        LinkType::Ethernet,
        gre_frame(test::kTypeErspan, test::erspan2(1, 0, ether(kTypeIpv4, http_v4()), 3), o));
    EXPECT_TRUE(ver.events.has(DecodeEvent::ErspanUnsupportedVersion));
    EXPECT_FALSE(ver.tunnel.active());
}

TEST(DecodeErspan, TooManyVlanLayers) {
    test::GreOpts o;
    o.seq_present = true;
    const Bytes outer = ether(
        kTypeIpv4,
        ipv4(kProtoGre, kOuterA, kOuterB,
             test::gre(test::kTypeErspan, test::erspan2(1, 5, ether(kTypeIpv4, http_v4())), o)),
        {{0x8100, 1}, {0x8100, 2}, {0x8100, 3}});
    const Packet pkt = decode_frame(LinkType::Ethernet, outer);
    EXPECT_TRUE(pkt.events.has(DecodeEvent::ErspanTooManyVlanLayers));
    EXPECT_FALSE(pkt.tunnel.active());
}

// --- VXLAN -------------------------------------------------------------------------------------

TEST(DecodeVxlan, InnerEthernetFrame) {
    const Bytes frame = udp_frame(51000, 4789, test::vxlan(0x123456, ether(kTypeIpv4, http_v4())));
    const Packet pkt = decode_frame(LinkType::Ethernet, frame);
    expect_inner_http(pkt);
    EXPECT_EQ(pkt.tunnel.kind, TunnelKind::Vxlan);
    EXPECT_EQ(pkt.tunnel.vni, 0x123456U);
    expect_outer_v4(pkt.tunnel, kProtoUdp);
    EXPECT_EQ(pkt.tunnel.outer_sport, 51000);
    EXPECT_EQ(pkt.tunnel.outer_dport, 4789);
}

TEST(DecodeVxlan, BadFlagsLeaveTheUdpPacket) {
    const Bytes frame = udp_frame(51000, 4789, test::vxlan(1, ether(kTypeIpv4, http_v4()), 0x00));
    const Packet pkt = decode_frame(LinkType::Ethernet, frame);
    EXPECT_EQ(pkt.status, DecodeStatus::Ok);
    EXPECT_TRUE(pkt.has_udp());
    EXPECT_EQ(pkt.dport, 4789);
    EXPECT_EQ(pkt.src, IpAddr::from_v4(kOuterA.data()));
    EXPECT_EQ(pkt.payload, frame.data() + 14 + 20 + 8);
    EXPECT_FALSE(pkt.tunnel.active());
    EXPECT_FALSE(pkt.events.any());  // Suricata: simply not VXLAN
}

TEST(DecodeVxlan, UnknownPayloadTypeRaisesEvent) {
    const Packet pkt = decode_frame(
        LinkType::Ethernet, udp_frame(1, 4789, test::vxlan(1, ether(0x88cc, Bytes(30, 0)))));
    EXPECT_TRUE(pkt.events.has(DecodeEvent::VxlanUnknownPayloadType));
    EXPECT_TRUE(pkt.has_udp());
    EXPECT_FALSE(pkt.tunnel.active());
}

TEST(DecodeVxlan, InnerEthernetTruncatedLeavesOuter) {
    Bytes inner = ether(kTypeIpv4, http_v4());
    inner.resize(14 + 10);  // the inner IPv4 header is cut
    const Packet pkt = decode_frame(LinkType::Ethernet, udp_frame(1, 4789, test::vxlan(1, inner)));
    EXPECT_EQ(pkt.status, DecodeStatus::Ok);
    EXPECT_TRUE(pkt.has_udp());
    EXPECT_FALSE(pkt.tunnel.active());
}

TEST(DecodeVxlan, OtherPortIsPlainUdp) {
    const Packet pkt = decode_frame(
        LinkType::Ethernet, udp_frame(1000, 4790, test::vxlan(1, ether(kTypeIpv4, http_v4()))));
    EXPECT_TRUE(pkt.has_udp());
    EXPECT_FALSE(pkt.tunnel.active());
}

// --- Geneve ------------------------------------------------------------------------------------

TEST(DecodeGeneve, EthernetWithOptions) {
    Bytes opts = {0x01, 0x08, 0x00, 0x01, 0x11, 0x11, 0x11, 0x11};  // one option, 4 data bytes
    const Bytes frame = udp_frame(
        40000, 6081, test::geneve(test::kTypeTeb, 0x25, ether(kTypeIpv4, http_v4()), opts));
    const Packet pkt = decode_frame(LinkType::Ethernet, frame);
    expect_inner_http(pkt);
    EXPECT_EQ(pkt.tunnel.kind, TunnelKind::Geneve);
    EXPECT_EQ(pkt.tunnel.vni, 0x25U);
    EXPECT_EQ(pkt.tunnel.outer_dport, 6081);
}

TEST(DecodeGeneve, IpPayloadDirectly) {
    const Packet v4 =
        decode_frame(LinkType::Ethernet, udp_frame(1, 6081, test::geneve(kTypeIpv4, 7, http_v4())));
    expect_inner_http(v4);
    const Packet v6 = decode_frame(LinkType::Ethernet,
                                   udp_frame(1, 6081, test::geneve(kTypeIpv6, 7, udp_v6_inner())));
    EXPECT_EQ(v6.ip_version, 6);
    EXPECT_EQ(v6.tunnel.kind, TunnelKind::Geneve);
}

TEST(DecodeGeneve, InconsistentOptionLengthIsNotGeneve) {
    Bytes opts = {0x01, 0x08, 0x00, 0x02, 0x11, 0x11, 0x11, 0x11};  // option claims 8 data bytes
    const Packet pkt = decode_frame(
        LinkType::Ethernet,
        udp_frame(1, 6081, test::geneve(test::kTypeTeb, 1, ether(kTypeIpv4, http_v4()), opts)));
    EXPECT_TRUE(pkt.has_udp());
    EXPECT_FALSE(pkt.tunnel.active());
}

TEST(DecodeGeneve, UnknownPayloadTypeRaisesEvent) {
    const Packet pkt =
        decode_frame(LinkType::Ethernet, udp_frame(1, 6081, test::geneve(0x88cc, 1, Bytes(20, 0))));
    EXPECT_TRUE(pkt.events.has(DecodeEvent::GeneveUnknownPayloadType));
    EXPECT_TRUE(pkt.has_udp());
}

// --- Teredo ------------------------------------------------------------------------------------

Bytes teredo_inner() {
    return ipv6(kProtoTcp, kIp6A, kIp6B, tcp(40000, 80, kTcpAck, text("GET /t")));
}

TEST(DecodeTeredo, Ipv6InsideUdpEitherPort) {
    for (const auto& [sp, dp] : {std::pair<uint16_t, uint16_t>{3544, 50000}, {50000, 3544}}) {
        const Packet pkt = decode_frame(LinkType::Ethernet, udp_frame(sp, dp, teredo_inner()));
        ASSERT_EQ(pkt.status, DecodeStatus::Ok);
        EXPECT_EQ(pkt.ip_version, 6);
        EXPECT_EQ(pkt.src, IpAddr::from_v6(kIp6A.data()));
        EXPECT_TRUE(pkt.has_tcp());
        EXPECT_EQ(payload_str(pkt), "GET /t");
        EXPECT_EQ(pkt.tunnel.kind, TunnelKind::Teredo);
        expect_outer_v4(pkt.tunnel, kProtoUdp);
        EXPECT_EQ(pkt.tunnel.outer_sport, sp);
    }
}

TEST(DecodeTeredo, OriginIndicationIsSkipped) {
    const Bytes origin{0, 0, 0x12, 0x34, 1, 2, 3, 4};
    const Packet pkt =
        decode_frame(LinkType::Ethernet, udp_frame(3544, 1, concat({origin, teredo_inner()})));
    EXPECT_EQ(pkt.ip_version, 6);
    EXPECT_EQ(pkt.tunnel.kind, TunnelKind::Teredo);
}

TEST(DecodeTeredo, NotIpv6StaysUdp) {
    const Packet pkt = decode_frame(LinkType::Ethernet, udp_frame(3544, 1, Bytes(60, 0x45)));
    EXPECT_TRUE(pkt.has_udp());
    EXPECT_EQ(pkt.ip_version, 4);
    EXPECT_FALSE(pkt.tunnel.active());
    // A length that does not fill the UDP payload exactly is not Teredo either.
    Bytes padded = teredo_inner();
    padded.push_back(0);
    EXPECT_FALSE(decode_frame(LinkType::Ethernet, udp_frame(3544, 1, padded)).tunnel.active());
    // Nor is a qualification packet with an authentication header.
    const Bytes auth{0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    EXPECT_FALSE(
        decode_frame(LinkType::Ethernet, udp_frame(3544, 1, concat({auth, teredo_inner()})))
            .tunnel.active());
}

// --- IP in IP ----------------------------------------------------------------------------------

TEST(DecodeIpip, Ipv4InIpv4AndIpv6InIpv4) {
    const Packet four = decode_frame(
        LinkType::Ethernet, ether(kTypeIpv4, ipv4(kProtoIpip, kOuterA, kOuterB, http_v4())));
    expect_inner_http(four);
    EXPECT_EQ(four.tunnel.kind, TunnelKind::Ipip);
    expect_outer_v4(four.tunnel, kProtoIpip);
    const Packet six =
        decode_frame(LinkType::Ethernet,
                     ether(kTypeIpv4, ipv4(kProtoIpv6Encap, kOuterA, kOuterB, udp_v6_inner())));
    EXPECT_EQ(six.ip_version, 6);
    EXPECT_TRUE(six.has_udp());
    EXPECT_EQ(six.tunnel.outer_ip_proto, kProtoIpv6Encap);
}

TEST(DecodeIpip, InsideIpv6) {
    const Packet pkt = decode_frame(LinkType::Raw, ipv6(kProtoIpip, kOuter6A, kOuter6B, http_v4()));
    expect_inner_http(pkt);
    EXPECT_EQ(pkt.tunnel.outer_ip_version, 6);
    const Packet six =
        decode_frame(LinkType::Raw, ipv6(kProtoIpv6Encap, kOuter6A, kOuter6B, udp_v6_inner()));
    EXPECT_EQ(six.src, IpAddr::from_v6(kIp6A.data()));
    EXPECT_EQ(six.tunnel.kind, TunnelKind::Ipip);
}

TEST(DecodeIpip, MalformedInsideIpv6RaisesEvents) {
    const Packet small =
        decode_frame(LinkType::Raw, ipv6(kProtoIpip, kOuter6A, kOuter6B, Bytes(10, 0x45)));
    EXPECT_TRUE(small.events.has(DecodeEvent::Ipv6Ipv4InIpv6TooSmall));
    EXPECT_EQ(small.ip_proto, kProtoIpip);
    EXPECT_FALSE(small.tunnel.active());
    const Packet wrong4 =
        decode_frame(LinkType::Raw, ipv6(kProtoIpip, kOuter6A, kOuter6B, Bytes(20, 0x65)));
    EXPECT_TRUE(wrong4.events.has(DecodeEvent::Ipv6Ipv4InIpv6WrongVersion));
    const Packet small6 =
        decode_frame(LinkType::Raw, ipv6(kProtoIpv6Encap, kOuter6A, kOuter6B, Bytes(30, 0x60)));
    EXPECT_TRUE(small6.events.has(DecodeEvent::Ipv6Ipv6InIpv6TooSmall));
    const Packet wrong6 =
        decode_frame(LinkType::Raw, ipv6(kProtoIpv6Encap, kOuter6A, kOuter6B, Bytes(40, 0x45)));
    EXPECT_TRUE(wrong6.events.has(DecodeEvent::Ipv6Ipv6InIpv6WrongVersion));
    EXPECT_FALSE(wrong6.tunnel.active());
}

// --- NSH ---------------------------------------------------------------------------------------

TEST(DecodeNsh, Md1Ipv4AndMd2Ethernet) {
    const Packet v4 =
        decode_frame(LinkType::Ethernet, ether(test::kTypeNsh, test::nsh(1, http_v4())));
    expect_inner_http(v4);
    EXPECT_EQ(v4.tunnel.kind, TunnelKind::Nsh);
    EXPECT_EQ(v4.tunnel.depth, 0);  // not a tunnel layer in Suricata: no EVE tunnel object
    const Packet eth = decode_frame(
        LinkType::Ethernet, ether(test::kTypeNsh, test::nsh(3, ether(kTypeIpv4, http_v4()), 2, 2)));
    expect_inner_http(eth);
    const Packet v6 =
        decode_frame(LinkType::Ethernet, ether(test::kTypeNsh, test::nsh(2, udp_v6_inner())));
    EXPECT_EQ(v6.ip_version, 6);
}

TEST(DecodeNsh, Events) {
    const auto nsh_events = [](const Bytes& nsh_bytes) {
        return decode_frame(LinkType::Ethernet, ether(test::kTypeNsh, nsh_bytes));
    };
    const Packet small = nsh_events(Bytes{0, 6, 1});
    EXPECT_TRUE(small.events.has(DecodeEvent::NshHeaderTooSmall));
    EXPECT_EQ(small.status, DecodeStatus::EtherTypeUnsupported);
    EXPECT_TRUE(nsh_events(test::nsh(1, http_v4(), 1, 0, -1, 1))
                    .events.has(DecodeEvent::NshUnsupportedVersion));
    EXPECT_TRUE(
        nsh_events(test::nsh(1, http_v4(), 1, 0, 5)).events.has(DecodeEvent::NshBadHeaderLength));
    EXPECT_TRUE(nsh_events(test::nsh(1, {}, 1)).events.has(DecodeEvent::NshBadHeaderLength));
    EXPECT_TRUE(nsh_events(test::nsh(1, http_v4(), 0, 0)).events.has(DecodeEvent::NshReservedType));
    EXPECT_TRUE(
        nsh_events(test::nsh(1, http_v4(), 3, 0)).events.has(DecodeEvent::NshUnsupportedType));
    const Packet unknown = nsh_events(test::nsh(0x99, http_v4()));
    EXPECT_TRUE(unknown.events.has(DecodeEvent::NshUnknownPayload));
    EXPECT_EQ(unknown.ip_version, 0);
}

// --- nesting -----------------------------------------------------------------------------------

TEST(DecodeTunnel, VxlanInsideGreKeepsTheOutermostAddresses) {
    const Bytes vx = ipv4(kProtoUdp, {172, 16, 0, 1}, {172, 16, 0, 2},
                          udp(40000, 4789, test::vxlan(5, ether(kTypeIpv4, http_v4()))));
    const Packet pkt = decode_frame(LinkType::Ethernet, gre_frame(kTypeIpv4, vx));
    expect_inner_http(pkt);
    EXPECT_EQ(pkt.tunnel.depth, 2);
    EXPECT_EQ(pkt.tunnel.kind, TunnelKind::Vxlan);  // the innermost
    EXPECT_EQ(pkt.tunnel.vni, 5U);
    expect_outer_v4(pkt.tunnel, kProtoGre);  // the outermost
    EXPECT_EQ(pkt.tunnel.outer_dport, 0);
}

TEST(DecodeTunnel, NestingDepthIsBounded) {
    // 9 IP-in-IP layers around the HTTP packet: the 9th cannot be peeled.
    Bytes b = http_v4();
    for (int i = 0; i < 9; ++i) {
        const test::Ip4 a{10, 9, static_cast<uint8_t>(i), 1};
        b = ipv4(kProtoIpip, a, kOuterB, b);
    }
    const Packet pkt = decode_frame(LinkType::Raw, b);
    EXPECT_TRUE(pkt.events.has(DecodeEvent::TooManyLayers));
    EXPECT_EQ(pkt.tunnel.depth, 8);
    EXPECT_EQ(pkt.ip_proto, kProtoIpip);  // the deepest packet reached, seen as IP payload
    const test::Ip4 outermost{10, 9, 8, 1};
    EXPECT_EQ(pkt.tunnel.outer_src, IpAddr::from_v4(outermost.data()));
    // Eight layers are fine.
    Bytes ok = http_v4();
    for (int i = 0; i < 8; ++i) {
        ok = ipv4(kProtoIpip, kOuterA, kOuterB, ok);
    }
    const Packet eight = decode_frame(LinkType::Raw, ok);
    expect_inner_http(eight);
    EXPECT_EQ(eight.tunnel.depth, 8);
    EXPECT_FALSE(eight.events.has(DecodeEvent::TooManyLayers));
}

TEST(DecodeTunnel, ResetBetweenPackets) {
    const Bytes a = gre_frame(kTypeIpv4, http_v4());
    const Bytes b = ether(kTypeIpv4, ipv4(kProtoGre, kOuterA, kOuterB, Bytes{0}));
    Packet pkt;
    pkt.data = a.data();
    pkt.cap_len = static_cast<uint32_t>(a.size());
    decode(LinkType::Ethernet, pkt);
    ASSERT_TRUE(pkt.tunnel.active());
    pkt.data = b.data();
    pkt.cap_len = static_cast<uint32_t>(b.size());
    decode(LinkType::Ethernet, pkt);
    EXPECT_FALSE(pkt.tunnel.active());
    EXPECT_EQ(pkt.tunnel.outer_src, IpAddr{});
    EXPECT_TRUE(pkt.events.has(DecodeEvent::GrePktTooSmall));
    pkt.data = a.data();
    pkt.cap_len = static_cast<uint32_t>(a.size());
    decode(LinkType::Ethernet, pkt);
    EXPECT_FALSE(pkt.events.any());
}

// Decodes every prefix of each tunnel frame from an exactly sized heap copy (AddressSanitizer
// catches any read past the capture).
TEST(DecodeTunnel, EveryPrefixStaysInBounds) {
    test::GreOpts seq;
    seq.seq_present = true;
    seq.key_present = true;
    const std::vector<Bytes> frames = {
        gre_frame(kTypeIpv4, http_v4()),
        gre_frame(test::kTypeErspan, test::erspan2(1, 2, ether(kTypeIpv4, http_v4())), seq),
        gre_frame(test::kTypeErspan3, test::erspan3(1, 2, ether(kTypeIpv4, http_v4()), true)),
        udp_frame(1, 4789, test::vxlan(1, ether(kTypeIpv4, http_v4()))),
        udp_frame(1, 6081,
                  test::geneve(test::kTypeTeb, 1, ether(kTypeIpv4, http_v4()),
                               Bytes{0, 1, 2, 1, 9, 9, 9, 9})),
        udp_frame(3544, 1, concat({Bytes{0, 0, 1, 2, 3, 4, 5, 6}, teredo_inner()})),
        ether(kTypeIpv4, ipv4(kProtoIpip, kOuterA, kOuterB, http_v4())),
        ether(test::kTypeNsh, test::nsh(3, ether(kTypeIpv4, http_v4()), 2, 1)),
    };
    for (const Bytes& frame : frames) {
        ASSERT_TRUE(decode_frame(LinkType::Ethernet, frame).has_tcp());
        for (size_t n = 0; n <= frame.size(); ++n) {
            auto copy = std::make_unique<uint8_t[]>(n == 0 ? 1 : n);
            std::memcpy(copy.get(), frame.data(), n);
            Packet pkt;
            pkt.data = copy.get();
            pkt.cap_len = static_cast<uint32_t>(n);
            decode(LinkType::Ethernet, pkt);
            if (pkt.payload != nullptr) {
                EXPECT_GE(pkt.payload, copy.get());
                EXPECT_LE(pkt.payload + pkt.payload_len, copy.get() + n);
            }
            if (pkt.l4 != nullptr) {
                EXPECT_LE(pkt.l4 + pkt.l4_len, copy.get() + n);
            }
        }
    }
}

// --- decode events: names ----------------------------------------------------------------------

TEST(DecodeEventNames, UniqueAndRoundTrip) {
    std::set<std::string_view> seen;
    for (size_t i = 0; i < kDecodeEventCount; ++i) {
        const auto e = static_cast<DecodeEvent>(i);
        const std::string_view name = decode_event_name(e);
        EXPECT_NE(name, "unknown") << i;
        EXPECT_TRUE(seen.insert(name).second) << name;
        EXPECT_EQ(decode_event_by_name(name), e) << name;
    }
    for (std::string_view name : decode_events_not_raised()) {
        EXPECT_FALSE(decode_event_by_name(name).has_value()) << name;
        EXPECT_TRUE(seen.insert(name).second) << name;
    }
    EXPECT_EQ(decode_event_by_name("IPV6.Trunc_Exthdr"), DecodeEvent::Ipv6TruncExthdr);
    // Suricata 7 prepends "decoder." itself, so the prefixed form is not a valid argument.
    EXPECT_FALSE(decode_event_by_name("decoder.ipv6.trunc_exthdr").has_value());
    EXPECT_FALSE(decode_event_by_name("ipv6.nonsense").has_value());
    EXPECT_EQ(decode_event_name(DecodeEvent::TooManyLayers), "too_many_layers");
    EXPECT_EQ(decode_event_name(DecodeEvent::GreVersion0HdrTooBig), "gre.version0_hdr_too_big");
}

TEST(DecodeEventsSet, SetHasAny) {
    DecodeEvents ev;
    EXPECT_FALSE(ev.any());
    ev.set(DecodeEvent::TooManyLayers);  // in the second word
    ev.set(DecodeEvent::Ipv4PktTooSmall);
    EXPECT_TRUE(ev.has(DecodeEvent::TooManyLayers));
    EXPECT_TRUE(ev.has(DecodeEvent::Ipv4PktTooSmall));
    EXPECT_FALSE(ev.has(DecodeEvent::Ipv4TruncPkt));
    EXPECT_TRUE(ev.any());
}

// --- decode events: one case per event ---------------------------------------------------------

struct EventCase {
    DecodeEvent event;
    LinkType link;
    Bytes frame;
};

void PrintTo(const EventCase& c, std::ostream* os) {
    *os << decode_event_name(c.event);
}

Bytes v4(uint8_t proto, const Bytes& payload, const test::Ip4Opts& o = {}) {
    return ipv4(proto, kIpA, kIpB, payload, o);
}

Bytes v4_opts(const Bytes& options) {
    test::Ip4Opts o;
    o.options = options;
    return v4(kProtoUdp, udp(1, 2), o);
}

Bytes v6(uint8_t nh, const Bytes& payload) {
    return ipv6(nh, kIp6A, kIp6B, payload);
}

Bytes tcp_opts(const Bytes& options) {
    test::TcpOpts o;
    o.options = options;
    return v4(kProtoTcp, tcp(1, 2, kTcpSyn, {}, o));
}

Bytes gre_raw(const Bytes& gre_bytes) {
    return v4(kProtoGre, gre_bytes);
}

Bytes gre_v1(uint8_t flags, uint8_t ver, uint16_t proto, const Bytes& rest = Bytes(8, 0)) {
    Bytes b{flags, static_cast<uint8_t>(ver | 1)};
    test::put16(b, proto);
    test::append(b, rest);
    return gre_raw(b);
}

// Hop-by-hop / destination options header with the given option bytes (padded with Pad1).
Bytes opts_hdr(uint8_t next, const Bytes& opts) {
    Bytes b{next, 0};
    test::append(b, opts);
    while (b.size() % 8 != 0) {
        b.push_back(0);
    }
    b[1] = static_cast<uint8_t>(b.size() / 8 - 1);
    return b;
}

std::vector<EventCase> event_cases() {
    test::Ip4Opts bad_ihl;
    bad_ihl.ihl = 4;
    test::Ip4Opts short_total;
    short_total.total_len = 19;
    test::Ip4Opts bad_ver;
    bad_ver.version = 5;
    Bytes trunc4 = v4(kProtoTcp, tcp(1, 2, kTcpAck, Bytes(40, 'a')));
    trunc4.resize(50);
    Bytes trunc6 = v6(kProtoUdp, udp(1, 2, Bytes(40, 'a')));
    trunc6.resize(60);
    Bytes bad6 = v6(kProtoUdp, udp(1, 2));
    bad6[0] = 0x40;
    Bytes rh0{kProtoUdp, 0, 0, 0, 0, 0, 0, 0};  // routing header type 0
    Bytes rh2{kProtoUdp, 0, 2, 0, 0, 0, 0, 0};
    Bytes rh_dup{43, 0, 2, 0, 0, 0, 0, 0};
    Bytes ah{kProtoUdp, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};  // reserved field not zero
    Bytes ah_dup{51, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    Bytes ah_ok{kProtoUdp, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    Bytes frag_res = ip6_frag(kProtoUdp, 0, true);
    frag_res[1] = 1;
    test::TcpOpts doff4;
    doff4.data_offset = 4;
    test::TcpOpts doff15;
    doff15.data_offset = 15;
    Bytes mld = icmp(130, 0, 0, 0);
    return {
        {DecodeEvent::Ipv4PktTooSmall, LinkType::Ipv4, Bytes(10, 0x45)},
        {DecodeEvent::Ipv4HlenTooSmall, LinkType::Raw, v4(kProtoUdp, udp(1, 2), bad_ihl)},
        {DecodeEvent::Ipv4IplenSmallerThanHlen, LinkType::Raw, v4(kProtoUdp, udp(1, 2), short_total)},
        {DecodeEvent::Ipv4TruncPkt, LinkType::Raw, trunc4},
        {DecodeEvent::Ipv4OptInvalid, LinkType::Raw, v4_opts({99, 4, 0, 0})},
        {DecodeEvent::Ipv4OptInvalidLen, LinkType::Raw, v4_opts({1, 68, 40, 5})},
        {DecodeEvent::Ipv4OptMalformed, LinkType::Raw, v4_opts({7, 7, 5, 0, 0, 0, 0, 0})},
        {DecodeEvent::Ipv4OptEolRequired, LinkType::Raw, v4_opts({1, 1, 1, 7})},
        {DecodeEvent::Ipv4OptDuplicate, LinkType::Raw, v4_opts({136, 4, 0, 1, 136, 4, 0, 2})},
        {DecodeEvent::Ipv4WrongIpVersion, LinkType::Ipv4, v4(kProtoUdp, udp(1, 2), bad_ver)},
        {DecodeEvent::Ipv4Icmpv6, LinkType::Raw, v4(kProtoIcmpv6, icmp(128, 0, 1, 1))},
        {DecodeEvent::Icmpv4PktTooSmall, LinkType::Raw, v4(kProtoIcmp, Bytes{8, 0, 0})},
        {DecodeEvent::Icmpv4UnknownType, LinkType::Raw, v4(kProtoIcmp, icmp(42, 0, 0, 0))},
        {DecodeEvent::Icmpv4UnknownCode, LinkType::Raw, v4(kProtoIcmp, icmp(8, 3, 1, 1))},
        {DecodeEvent::Icmpv6UnknownType, LinkType::Raw, v6(kProtoIcmpv6, icmp(0, 0, 0, 0))},
        {DecodeEvent::Icmpv6UnknownCode, LinkType::Raw, v6(kProtoIcmpv6, icmp(1, 9, 0, 0))},
        {DecodeEvent::Icmpv6PktTooSmall, LinkType::Raw, v6(kProtoIcmpv6, Bytes{128, 0, 0})},
        {DecodeEvent::Icmpv6MldMessageWithInvalidHl, LinkType::Raw, v6(kProtoIcmpv6, mld)},
        {DecodeEvent::Icmpv6UnassignedType, LinkType::Raw, v6(kProtoIcmpv6, icmp(50, 0, 0, 0))},
        {DecodeEvent::Icmpv6ExperimentationType, LinkType::Raw,
         v6(kProtoIcmpv6, icmp(200, 0, 0, 0))},
        {DecodeEvent::Ipv6PktTooSmall, LinkType::Ipv6, Bytes(39, 0x60)},
        {DecodeEvent::Ipv6TruncPkt, LinkType::Raw, trunc6},
        {DecodeEvent::Ipv6TruncExthdr, LinkType::Raw, v6(43, Bytes{6})},
        {DecodeEvent::Ipv6ExthdrDuplFh, LinkType::Raw,
         v6(44, concat({ip6_frag(44, 0, true), ip6_frag(kProtoUdp, 0, true), udp(1, 2)}))},
        {DecodeEvent::Ipv6ExthdrUselessFh, LinkType::Raw,
         v6(44, concat({ip6_frag(kProtoUdp, 0, false), udp(1, 2)}))},
        // More fragments follow, but this one carries 8 + 3 bytes (not a multiple of 8).
        {DecodeEvent::Ipv6FragInvalidLength, LinkType::Raw,
         v6(44, concat({ip6_frag(kProtoUdp, 0, true), udp(1, 2, text("abc"))}))},
        {DecodeEvent::Ipv6ExthdrDuplRh, LinkType::Raw, v6(43, concat({rh_dup, rh2, udp(1, 2)}))},
        {DecodeEvent::Ipv6ExthdrDuplHh, LinkType::Raw,
         v6(0, concat({opts_hdr(0, {1, 0}), opts_hdr(kProtoUdp, {1, 0}), udp(1, 2)}))},
        {DecodeEvent::Ipv6ExthdrDuplDh, LinkType::Raw,
         v6(60, concat({opts_hdr(60, {1, 0}), opts_hdr(60, {1, 0}), opts_hdr(kProtoUdp, {1, 0}),
                        udp(1, 2)}))},
        {DecodeEvent::Ipv6ExthdrDuplAh, LinkType::Raw, v6(51, concat({ah_dup, ah_ok, udp(1, 2)}))},
        {DecodeEvent::Ipv6ExthdrInvalidOptlen, LinkType::Raw,
         v6(60, concat({opts_hdr(kProtoUdp, {0x1e, 9}), udp(1, 2)}))},
        {DecodeEvent::Ipv6WrongIpVersion, LinkType::Ipv6, bad6},
        {DecodeEvent::Ipv6ExthdrAhResNotNull, LinkType::Raw, v6(51, concat({ah, udp(1, 2)}))},
        {DecodeEvent::Ipv6HopoptsUnknownOpt, LinkType::Raw,
         v6(0, concat({opts_hdr(kProtoUdp, {0x1e, 2, 0, 0}), udp(1, 2)}))},
        {DecodeEvent::Ipv6HopoptsOnlyPadding, LinkType::Raw,
         v6(0, concat({opts_hdr(kProtoUdp, {1, 4, 0, 0, 0, 0}), udp(1, 2)}))},
        {DecodeEvent::Ipv6DstoptsUnknownOpt, LinkType::Raw,
         v6(60, concat({opts_hdr(kProtoUdp, {0x1e, 2, 0, 0}), udp(1, 2)}))},
        {DecodeEvent::Ipv6DstoptsOnlyPadding, LinkType::Raw,
         v6(60, concat({opts_hdr(kProtoUdp, {1, 4, 0, 0, 0, 0}), udp(1, 2)}))},
        {DecodeEvent::Ipv6RhType0, LinkType::Raw, v6(43, concat({rh0, udp(1, 2)}))},
        {DecodeEvent::Ipv6ZeroLenPadn, LinkType::Raw,
         v6(60, concat({opts_hdr(kProtoUdp, {1, 0, 5, 2, 0, 0}), udp(1, 2)}))},
        {DecodeEvent::Ipv6FhNonZeroReservedField, LinkType::Raw,
         v6(44, concat({frag_res, udp(1, 2)}))},
        {DecodeEvent::Ipv6DataAfterNoneHeader, LinkType::Raw, v6(59, Bytes(8, 'x'))},
        {DecodeEvent::Ipv6UnknownNextHeader, LinkType::Raw, v6(253, Bytes(8, 'x'))},
        {DecodeEvent::Ipv6Icmpv4, LinkType::Raw, v6(kProtoIcmp, icmp(8, 0, 1, 1))},
        {DecodeEvent::Ipv6Ipv4InIpv6TooSmall, LinkType::Raw, v6(kProtoIpip, Bytes(10, 0x45))},
        {DecodeEvent::Ipv6Ipv4InIpv6WrongVersion, LinkType::Raw, v6(kProtoIpip, Bytes(20, 0x65))},
        {DecodeEvent::Ipv6Ipv6InIpv6TooSmall, LinkType::Raw, v6(kProtoIpv6Encap, Bytes(30, 0x60))},
        {DecodeEvent::Ipv6Ipv6InIpv6WrongVersion, LinkType::Raw,
         v6(kProtoIpv6Encap, Bytes(40, 0x45))},
        {DecodeEvent::TcpPktTooSmall, LinkType::Raw, v4(kProtoTcp, Bytes(12, 0))},
        {DecodeEvent::TcpHlenTooSmall, LinkType::Raw, v4(kProtoTcp, tcp(1, 2, 0, text("ab"), doff15))},
        {DecodeEvent::TcpInvalidOptlen, LinkType::Raw, v4(kProtoTcp, tcp(1, 2, 0, {}, doff4))},
        {DecodeEvent::TcpOptInvalidLen, LinkType::Raw, tcp_opts({2, 3, 5, 1})},
        {DecodeEvent::TcpOptDuplicate, LinkType::Raw, tcp_opts({2, 4, 5, 0xb4, 2, 4, 5, 0xb4})},
        {DecodeEvent::UdpPktTooSmall, LinkType::Raw, v4(kProtoUdp, udp(1, 2, text("ab"), 200))},
        {DecodeEvent::UdpHlenTooSmall, LinkType::Raw, v4(kProtoUdp, Bytes{0, 1, 0, 2, 0})},
        {DecodeEvent::UdpHlenInvalid, LinkType::Raw, v4(kProtoUdp, udp(1, 2, text("abcdef"), 12))},
        {DecodeEvent::SllPktTooSmall, LinkType::LinuxSll, Bytes(15, 0)},
        {DecodeEvent::EthernetPktTooSmall, LinkType::Ethernet, Bytes(13, 0)},
        {DecodeEvent::PppPktTooSmall, LinkType::Ppp, Bytes{0xff, 0x03}},
        {DecodeEvent::VlanHeaderTooSmall, LinkType::Ethernet, ether(0x8100, {0x00, 0x64})},
        {DecodeEvent::VlanTooManyLayers, LinkType::Ethernet,
         ether(kTypeIpv4, v4(kProtoUdp, udp(1, 2)),
               {{0x8100, 1}, {0x8100, 2}, {0x8100, 3}, {0x8100, 4}})},
        {DecodeEvent::IprawInvalidIpVersion, LinkType::Raw, Bytes{0x50, 0, 0, 0}},
        {DecodeEvent::LtnullPktTooSmall, LinkType::Null, Bytes{2, 0, 0}},
        {DecodeEvent::LtnullUnsupportedType, LinkType::Null, test::null_hdr(7, Bytes(20, 0))},
        {DecodeEvent::ChdlcPktTooSmall, LinkType::CHdlc, Bytes(3, 0)},
        {DecodeEvent::MplsHeaderTooSmall, LinkType::Ethernet,
         ether(0x8847, test::mpls_label(100, false))},
        {DecodeEvent::MplsPktTooSmall, LinkType::Ethernet,
         ether(0x8847, test::mpls_label(100, true))},
        {DecodeEvent::MplsUnknownPayloadType, LinkType::Ethernet,
         ether(0x8847, concat({test::mpls_label(1000, true), Bytes(20, 0x55)}))},
        {DecodeEvent::GrePktTooSmall, LinkType::Raw, gre_raw(Bytes{0, 0})},
        {DecodeEvent::GreWrongVersion, LinkType::Raw, gre_raw(Bytes{0, 3, 8, 0})},
        {DecodeEvent::GreVersion0Recur, LinkType::Raw, gre_raw(Bytes{0x01, 0, 8, 0})},
        {DecodeEvent::GreVersion0Flags, LinkType::Raw, gre_raw(Bytes{0, 0x08, 8, 0})},
        {DecodeEvent::GreVersion0HdrTooBig, LinkType::Raw, gre_raw(Bytes{0x30, 0, 8, 0, 0, 0})},
        {DecodeEvent::GreVersion0MalformedSreHdr, LinkType::Raw,
         gre_raw(Bytes{0x40, 0, 8, 0, 0, 0, 0, 0, 0, 1, 0, 30})},
        {DecodeEvent::GreVersion1Chksum, LinkType::Raw, gre_v1(0x80, 0, 0x880b)},
        {DecodeEvent::GreVersion1Route, LinkType::Raw, gre_v1(0x40, 0, 0x880b)},
        {DecodeEvent::GreVersion1Ssr, LinkType::Raw, gre_v1(0x08, 0, 0x880b)},
        {DecodeEvent::GreVersion1Recur, LinkType::Raw, gre_v1(0x01, 0, 0x880b)},
        {DecodeEvent::GreVersion1Flags, LinkType::Raw, gre_v1(0x20, 0x08, 0x880b)},
        {DecodeEvent::GreVersion1NoKey, LinkType::Raw, gre_v1(0x00, 0, 0x880b)},
        {DecodeEvent::GreVersion1WrongProtocol, LinkType::Raw, gre_v1(0x20, 0, 0x0800)},
        {DecodeEvent::GreVersion1HdrTooBig, LinkType::Raw, gre_v1(0x30, 0x80, 0x880b, Bytes(6, 0))},
        {DecodeEvent::VxlanUnknownPayloadType, LinkType::Raw,
         v4(kProtoUdp, udp(1, 4789, test::vxlan(1, ether(0x88cc, Bytes(30, 0)))))},
        {DecodeEvent::GeneveUnknownPayloadType, LinkType::Raw,
         v4(kProtoUdp, udp(1, 6081, test::geneve(0x88cc, 1, Bytes(20, 0))))},
        {DecodeEvent::ErspanHeaderTooSmall, LinkType::Raw,
         gre_raw(Bytes{0x10, 0, 0x88, 0xbe, 0, 0, 0, 1, 0x10, 0})},
        {DecodeEvent::ErspanUnsupportedVersion, LinkType::Raw,
         gre_raw(concat({Bytes{0x10, 0, 0x88, 0xbe, 0, 0, 0, 1},
                         test::erspan2(1, 0, ether(kTypeIpv4, v4(kProtoUdp, udp(1, 2))), 2)}))},
        {DecodeEvent::ErspanTooManyVlanLayers, LinkType::Ethernet,
         ether(kTypeIpv4,
               gre_raw(concat({Bytes{0x10, 0, 0x88, 0xbe, 0, 0, 0, 1},
                               test::erspan2(1, 9, ether(kTypeIpv4, v4(kProtoUdp, udp(1, 2))))})),
               {{0x8100, 1}, {0x8100, 2}, {0x8100, 3}})},
        {DecodeEvent::NshHeaderTooSmall, LinkType::Ethernet, ether(test::kTypeNsh, Bytes{0, 6})},
        {DecodeEvent::NshUnsupportedVersion, LinkType::Ethernet,
         ether(test::kTypeNsh, test::nsh(1, v4(kProtoUdp, udp(1, 2)), 1, 0, -1, 2))},
        {DecodeEvent::NshBadHeaderLength, LinkType::Ethernet,
         ether(test::kTypeNsh, test::nsh(1, v4(kProtoUdp, udp(1, 2)), 1, 0, 4))},
        {DecodeEvent::NshReservedType, LinkType::Ethernet,
         ether(test::kTypeNsh, test::nsh(1, v4(kProtoUdp, udp(1, 2)), 15, 0))},
        {DecodeEvent::NshUnsupportedType, LinkType::Ethernet,
         ether(test::kTypeNsh, test::nsh(1, v4(kProtoUdp, udp(1, 2)), 4, 0))},
        {DecodeEvent::NshUnknownPayload, LinkType::Ethernet,
         ether(test::kTypeNsh, test::nsh(4, v4(kProtoUdp, udp(1, 2))))},
        {DecodeEvent::TooManyLayers, LinkType::Raw, [] {
             Bytes b = v4(kProtoUdp, udp(1, 2));
             for (int i = 0; i < 9; ++i) {
                 b = v4(kProtoIpip, b);
             }
             return b;
         }()},
    };
}

class DecodeEventRaised : public ::testing::TestWithParam<EventCase> {};

TEST_P(DecodeEventRaised, OnTheMalformedPacket) {
    const EventCase& c = GetParam();
    const Packet pkt = decode_frame(c.link, c.frame);
    EXPECT_TRUE(pkt.events.has(c.event)) << decode_event_name(c.event);
}

INSTANTIATE_TEST_SUITE_P(AllEvents, DecodeEventRaised, ::testing::ValuesIn(event_cases()),
                         [](const ::testing::TestParamInfo<EventCase>& info) {
                             std::string n(decode_event_name(info.param.event));
                             for (char& ch : n) {
                                 if (ch == '.') {
                                     ch = '_';
                                 }
                             }
                             return n;
                         });

TEST(DecodeEventRaised, EveryEventHasACase) {
    // The overlap events come from the defragmenter (the worker sets them on the fragment
    // before it is inspected): tests/sensor/detect_semantics_test.py covers them.
    std::set<DecodeEvent> covered{DecodeEvent::Ipv4FragOverlap, DecodeEvent::Ipv6FragOverlap};
    for (const EventCase& c : event_cases()) {
        covered.insert(c.event);
    }
    for (size_t i = 0; i < kDecodeEventCount; ++i) {
        EXPECT_TRUE(covered.count(static_cast<DecodeEvent>(i)) != 0)
            << decode_event_name(static_cast<DecodeEvent>(i));
    }
}

TEST(DecodeEventRaised, CleanPacketsRaiseNone) {
    const std::vector<Bytes> clean = {
        ether(kTypeIpv4, http_v4()),
        ether(kTypeIpv6, udp_v6_inner()),
        ether(kTypeIpv4, v4(kProtoIcmp, icmp(8, 0, 1, 1, text("ping")))),
        ether(kTypeIpv6, v6(kProtoIcmpv6, icmp(128, 0, 1, 1))),
        ether(kTypeIpv4, http_v4(), {{0x8100, 5}, {0x88a8, 6}}),
        gre_frame(kTypeIpv4, http_v4()),
        udp_frame(1, 4789, test::vxlan(1, ether(kTypeIpv4, http_v4()))),
    };
    for (const Bytes& f : clean) {
        const Packet pkt = decode_frame(LinkType::Ethernet, f);
        EXPECT_EQ(pkt.status, DecodeStatus::Ok);
        for (size_t i = 0; i < kDecodeEventCount; ++i) {
            EXPECT_FALSE(pkt.events.has(static_cast<DecodeEvent>(i)))
                << decode_event_name(static_cast<DecodeEvent>(i));
        }
    }
}

// Statuses and decoding stay as they were: an event is added, the packet goes on.
TEST(DecodeEventRaised, UselessFragmentHeaderStillDecodesL4) {
    const Packet pkt = decode_frame(
        LinkType::Raw, v6(44, concat({ip6_frag(kProtoUdp, 0, false), udp(1, 2, text("x"))})));
    EXPECT_EQ(pkt.status, DecodeStatus::Ok);
    EXPECT_TRUE(pkt.events.has(DecodeEvent::Ipv6ExthdrUselessFh));
    EXPECT_TRUE(pkt.has_udp());
    EXPECT_EQ(payload_str(pkt), "x");
}

}  // namespace
}  // namespace vigil::dataplane
