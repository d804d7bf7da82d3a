#include "dataplane/decode.h"

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>

#include "tests/dataplane/packet_builder.h"

namespace vigil::dataplane {
namespace {

using test::Bytes;
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
using test::mpls_label;
using test::tcp;
using test::text;
using test::udp;

std::string payload_str(const Packet& pkt) {
    if (pkt.payload == nullptr) {
        return {};
    }
    return std::string(reinterpret_cast<const char*>(pkt.payload), pkt.payload_len);
}

// Every pointer the decoder exposes stays inside the captured bytes.
void expect_in_bounds(const Packet& pkt) {
    const uint8_t* begin = pkt.data;
    const uint8_t* end = pkt.data + pkt.cap_len;
    if (pkt.l3 != nullptr) {
        EXPECT_GE(pkt.l3, begin);
        EXPECT_LE(pkt.l3 + pkt.l3_len, end);
    }
    if (pkt.l4 != nullptr) {
        EXPECT_GE(pkt.l4, begin);
        EXPECT_LE(pkt.l4 + pkt.l4_len, end);
    }
    if (pkt.payload != nullptr) {
        EXPECT_GE(pkt.payload, begin);
        EXPECT_LE(pkt.payload + pkt.payload_len, end);
        EXPECT_GT(pkt.payload_len, 0U);
    } else {
        EXPECT_EQ(pkt.payload_len, 0U);
    }
}

Bytes tcp_v4(const Bytes& payload = text("hello")) {
    return ipv4(kProtoTcp, kIpA, kIpB, tcp(1234, 80, kTcpAck | kTcpPsh, payload));
}

Bytes udp_v4(const Bytes& payload = text("dns?")) {
    return ipv4(kProtoUdp, kIpA, kIpB, udp(5353, 53, payload));
}

Bytes udp_v6(const Bytes& payload = text("v6")) {
    return ipv6(kProtoUdp, kIp6A, kIp6B, udp(5353, 53, payload));
}

// --- Ethernet and TCP ----------------------------------------------------------------------

TEST(DecodeEthernet, TcpWithOptionsAndPayload) {
    test::TcpOpts o;
    o.seq = 0x01020304;
    o.ack = 0x0a0b0c0d;
    o.window = 29200;
    // MSS, NOP NOP SACK-permitted... padded: MSS(4) NOP NOP SACKPERM(2) NOP NOP TS(10) = 20
    o.options = {2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0};
    test::Ip4Opts io;
    io.ttl = 57;
    io.tos = 0x10;
    io.id = 0xbeef;
    io.frag = 0x4000;  // DF
    const Bytes frame = ether(
        kTypeIpv4,
        ipv4(kProtoTcp, kIpA, kIpB, tcp(40000, 443, kTcpAck | kTcpPsh, text("GET /"), o), io));
    const Packet pkt = decode_frame(LinkType::Ethernet, frame);
    ASSERT_EQ(pkt.status, DecodeStatus::Ok);
    EXPECT_EQ(pkt.ip_version, 4);
    EXPECT_EQ(pkt.l3, frame.data() + 14);
    EXPECT_EQ(pkt.l3_len, 20);
    EXPECT_EQ(pkt.src, IpAddr::from_v4(kIpA.data()));
    EXPECT_EQ(pkt.dst, IpAddr::from_v4(kIpB.data()));
    EXPECT_TRUE(pkt.src.is_v4());
    EXPECT_EQ(pkt.ttl, 57);
    EXPECT_EQ(pkt.tos, 0x10);
    EXPECT_EQ(pkt.ip_id, 0xbeef);
    EXPECT_TRUE(pkt.frag_df);
    EXPECT_FALSE(pkt.frag_mf);
    EXPECT_FALSE(pkt.is_fragment);
    EXPECT_EQ(pkt.ip_total_len, 20U + 40U + 5U);
    EXPECT_EQ(pkt.ip_proto, kProtoTcp);
    ASSERT_TRUE(pkt.has_tcp());
    EXPECT_EQ(pkt.l4, frame.data() + 34);
    EXPECT_EQ(pkt.l4_len, 40);
    EXPECT_EQ(pkt.sport, 40000);
    EXPECT_EQ(pkt.dport, 443);
    EXPECT_EQ(pkt.tcp_seq, 0x01020304U);
    EXPECT_EQ(pkt.tcp_ack, 0x0a0b0c0dU);
    EXPECT_EQ(pkt.tcp_window, 29200);
    EXPECT_EQ(pkt.tcp_flags, kTcpAck | kTcpPsh);
    EXPECT_EQ(pkt.payload, frame.data() + 74);
    EXPECT_EQ(payload_str(pkt), "GET /");
    EXPECT_EQ(pkt.vlan_count, 0);
    expect_in_bounds(pkt);
}

TEST(DecodeEthernet, Truncated) {
    const Bytes frame(13, 0);
    EXPECT_EQ(decode_frame(LinkType::Ethernet, frame).status, DecodeStatus::EthTruncated);
    EXPECT_EQ(decode_frame(LinkType::Ethernet, {}).status, DecodeStatus::EthTruncated);
}

TEST(DecodeEthernet, ArpIsUnsupportedNotMalformed) {
    const Packet pkt = decode_frame(LinkType::Ethernet, ether(0x0806, Bytes(28, 0)));
    EXPECT_EQ(pkt.status, DecodeStatus::EtherTypeUnsupported);
    EXPECT_EQ(pkt.ip_version, 0);
    EXPECT_EQ(pkt.l3, nullptr);
}

TEST(DecodeEthernet, PaddingIsNotPayload) {
    Bytes frame = ether(kTypeIpv4, tcp_v4(text("ab")));
    frame.resize(frame.size() + 10, 0xee);  // minimum frame size padding
    const Packet pkt = decode_frame(LinkType::Ethernet, frame);
    ASSERT_EQ(pkt.status, DecodeStatus::Ok);
    EXPECT_EQ(payload_str(pkt), "ab");
    EXPECT_EQ(pkt.ip_total_len, 42U);
}

TEST(DecodeEthernet, EmptyTcpPayloadHasNullPointer) {
    const Packet pkt = decode_frame(LinkType::Ethernet, ether(kTypeIpv4, tcp_v4({})));
    ASSERT_EQ(pkt.status, DecodeStatus::Ok);
    EXPECT_TRUE(pkt.has_tcp());
    EXPECT_EQ(pkt.payload, nullptr);
    EXPECT_EQ(pkt.payload_len, 0U);
}

// --- VLAN ------------------------------------------------------------------------------------

TEST(DecodeVlan, SingleTag) {
    const Bytes frame = ether(kTypeIpv4, tcp_v4(), {{0x8100, 0xe064}});  // PCP 7, id 100
    const Packet pkt = decode_frame(LinkType::Ethernet, frame);
    ASSERT_EQ(pkt.status, DecodeStatus::Ok);
    EXPECT_EQ(pkt.vlan_count, 1);
    EXPECT_EQ(pkt.vlan[0], 100);
    EXPECT_EQ(pkt.vlan[1], 0);
    EXPECT_EQ(pkt.l3, frame.data() + 18);
    EXPECT_TRUE(pkt.has_tcp());
}

TEST(DecodeVlan, DoubleTagOuterFirst) {
    const Packet pkt =
        decode_frame(LinkType::Ethernet, ether(kTypeIpv4, udp_v4(), {{0x8100, 10}, {0x8100, 20}}));
    ASSERT_EQ(pkt.status, DecodeStatus::Ok);
    EXPECT_EQ(pkt.vlan_count, 2);
    EXPECT_EQ(pkt.vlan[0], 10);
    EXPECT_EQ(pkt.vlan[1], 20);
    EXPECT_TRUE(pkt.has_udp());
}

TEST(DecodeVlan, QinQ88a8And9100) {
    const Packet a =
        decode_frame(LinkType::Ethernet, ether(kTypeIpv6, udp_v6(), {{0x88a8, 300}, {0x8100, 4}}));
    ASSERT_EQ(a.status, DecodeStatus::Ok);
    EXPECT_EQ(a.vlan_count, 2);
    EXPECT_EQ(a.vlan[0], 300);
    EXPECT_EQ(a.vlan[1], 4);
    EXPECT_EQ(a.ip_version, 6);
    const Packet b =
        decode_frame(LinkType::Ethernet, ether(kTypeIpv4, udp_v4(), {{0x9100, 7}, {0x8100, 8}}));
    ASSERT_EQ(b.status, DecodeStatus::Ok);
    EXPECT_EQ(b.vlan[0], 7);
    EXPECT_EQ(b.vlan[1], 8);
}

TEST(DecodeVlan, ThreeTagsCountedTwoKept) {
    const Packet pkt = decode_frame(
        LinkType::Ethernet, ether(kTypeIpv4, udp_v4(), {{0x88a8, 1}, {0x8100, 2}, {0x8100, 3}}));
    ASSERT_EQ(pkt.status, DecodeStatus::Ok);
    EXPECT_EQ(pkt.vlan_count, 3);
    EXPECT_EQ(pkt.vlan[0], 1);
    EXPECT_EQ(pkt.vlan[1], 2);
}

TEST(DecodeVlan, EightTagsOkNineTooMany) {
    const auto t = std::pair<uint16_t, uint16_t>{0x8100, 5};
    const Packet eight =
        decode_frame(LinkType::Ethernet, ether(kTypeIpv4, udp_v4(), {t, t, t, t, t, t, t, t}));
    EXPECT_EQ(eight.status, DecodeStatus::Ok);
    EXPECT_EQ(eight.vlan_count, 8);
    const Packet nine =
        decode_frame(LinkType::Ethernet, ether(kTypeIpv4, udp_v4(), {t, t, t, t, t, t, t, t, t}));
    EXPECT_EQ(nine.status, DecodeStatus::VlanTooMany);
    EXPECT_EQ(nine.ip_version, 0);
}

TEST(DecodeVlan, Truncated) {
    Bytes frame = ether(0x8100, {0x00, 0x64});
    EXPECT_EQ(decode_frame(LinkType::Ethernet, frame).status, DecodeStatus::VlanTruncated);
}

// --- MPLS ------------------------------------------------------------------------------------

TEST(DecodeMpls, TwoLabelsIntoIpv4) {
    const Bytes frame =
        ether(0x8847, test::concat({mpls_label(100, false), mpls_label(200, true), tcp_v4()}));
    const Packet pkt = decode_frame(LinkType::Ethernet, frame);
    ASSERT_EQ(pkt.status, DecodeStatus::Ok);
    EXPECT_EQ(pkt.mpls_count, 2);
    EXPECT_EQ(pkt.ip_version, 4);
    EXPECT_EQ(pkt.l3, frame.data() + 22);
    EXPECT_TRUE(pkt.has_tcp());
    EXPECT_EQ(payload_str(pkt), "hello");
}

TEST(DecodeMpls, TwoLabelsIntoIpv6Multicast) {
    const Bytes frame =
        ether(0x8848, test::concat({mpls_label(16, false), mpls_label(17, true), udp_v6()}));
    const Packet pkt = decode_frame(LinkType::Ethernet, frame);
    ASSERT_EQ(pkt.status, DecodeStatus::Ok);
    EXPECT_EQ(pkt.mpls_count, 2);
    EXPECT_EQ(pkt.ip_version, 6);
    EXPECT_TRUE(pkt.has_udp());
}

TEST(DecodeMpls, ExplicitNullLabelNamesTheFamily) {
    // Label 0 says IPv4 even though we could also guess it.
    const Packet pkt = decode_frame(LinkType::Ethernet,
                                    ether(0x8847, test::concat({mpls_label(0, true), udp_v4()})));
    ASSERT_EQ(pkt.status, DecodeStatus::Ok);
    EXPECT_EQ(pkt.ip_version, 4);
    // Label 2 (IPv6 explicit null) with an IPv4 packet behind it: decoded as IPv6 → bad version.
    const Packet bad =
        decode_frame(LinkType::Ethernet,
                     ether(0x8847, test::concat({mpls_label(2, true), udp_v4(Bytes(30, 'x'))})));
    EXPECT_EQ(bad.status, DecodeStatus::Ipv6BadVersion);
}

TEST(DecodeMpls, SixteenLabelsOkSeventeenTooMany) {
    Bytes sixteen;
    for (int i = 0; i < 15; ++i) {
        test::append(sixteen, mpls_label(100 + i, false));
    }
    Bytes seventeen = sixteen;
    test::append(seventeen, mpls_label(99, false));
    test::append(sixteen, mpls_label(200, true));
    test::append(seventeen, mpls_label(200, true));
    const Packet ok =
        decode_frame(LinkType::Ethernet, ether(0x8847, test::concat({sixteen, udp_v4()})));
    EXPECT_EQ(ok.status, DecodeStatus::Ok);
    EXPECT_EQ(ok.mpls_count, 16);
    const Packet bad =
        decode_frame(LinkType::Ethernet, ether(0x8847, test::concat({seventeen, udp_v4()})));
    EXPECT_EQ(bad.status, DecodeStatus::MplsTooMany);
    EXPECT_EQ(bad.ip_version, 0);
}

TEST(DecodeMpls, TruncatedWithoutBottomOfStack) {
    const Packet pkt = decode_frame(LinkType::Ethernet, ether(0x8847, mpls_label(100, false)));
    EXPECT_EQ(pkt.status, DecodeStatus::MplsTruncated);
    const Packet empty = decode_frame(LinkType::Ethernet, ether(0x8847, mpls_label(100, true)));
    EXPECT_EQ(empty.status, DecodeStatus::MplsTruncated);
}

TEST(DecodeMpls, EthernetPseudowire) {
    const Bytes inner = ether(kTypeIpv4, udp_v4(), {{0x8100, 42}});
    const Bytes frame =
        ether(0x8847, test::concat({mpls_label(1000, true), Bytes{0, 0, 0, 0}, inner}));
    const Packet pkt = decode_frame(LinkType::Ethernet, frame);
    ASSERT_EQ(pkt.status, DecodeStatus::Ok);
    EXPECT_EQ(pkt.vlan_count, 1);
    EXPECT_EQ(pkt.vlan[0], 42);
    EXPECT_TRUE(pkt.has_udp());
}

TEST(DecodeMpls, UnknownPayloadIsUnsupported) {
    const Packet pkt = decode_frame(
        LinkType::Ethernet, ether(0x8847, test::concat({mpls_label(1000, true), Bytes(20, 0x55)})));
    EXPECT_EQ(pkt.status, DecodeStatus::EtherTypeUnsupported);
}

// --- other link types ------------------------------------------------------------------------

TEST(DecodeLink, LinuxSll) {
    const Bytes frame = test::sll(kTypeIpv4, udp_v4());
    const Packet pkt = decode_frame(LinkType::LinuxSll, frame);
    ASSERT_EQ(pkt.status, DecodeStatus::Ok);
    EXPECT_EQ(pkt.l3, frame.data() + 16);
    EXPECT_TRUE(pkt.has_udp());
    EXPECT_EQ(decode_frame(LinkType::LinuxSll, Bytes(15, 0)).status, DecodeStatus::SllTruncated);
    // SLL carrying a VLAN-tagged frame goes through the same EtherType path.
    Bytes tagged = test::sll(0x8100, {0x00, 0x07, 0x08, 0x00});
    test::append(tagged, udp_v4());
    const Packet t = decode_frame(LinkType::LinuxSll, tagged);
    EXPECT_EQ(t.status, DecodeStatus::Ok);
    EXPECT_EQ(t.vlan[0], 7);
}

TEST(DecodeLink, LinuxSll2) {
    const Bytes frame = test::sll2(kTypeIpv6, udp_v6());
    const Packet pkt = decode_frame(LinkType::LinuxSll2, frame);
    ASSERT_EQ(pkt.status, DecodeStatus::Ok);
    EXPECT_EQ(pkt.l3, frame.data() + 20);
    EXPECT_EQ(pkt.ip_version, 6);
    EXPECT_TRUE(pkt.has_udp());
    EXPECT_EQ(decode_frame(LinkType::LinuxSll2, Bytes(19, 0)).status, DecodeStatus::SllTruncated);
}

TEST(DecodeLink, CiscoHdlc) {
    const Bytes v4 = test::concat({Bytes{0x0f, 0x00, 0x08, 0x00}, udp_v4()});
    const Packet pkt = decode_frame(LinkType::CHdlc, v4);
    ASSERT_EQ(pkt.status, DecodeStatus::Ok);
    EXPECT_EQ(pkt.l3, v4.data() + 4);
    EXPECT_TRUE(pkt.has_udp());
    const Bytes v6 = test::concat({Bytes{0x8f, 0x00, 0x86, 0xdd}, udp_v6()});
    EXPECT_EQ(decode_frame(LinkType::CHdlc, v6).ip_version, 6);
    EXPECT_EQ(decode_frame(LinkType::CHdlc, Bytes(3, 0)).status, DecodeStatus::CHdlcTruncated);
}

TEST(DecodeLink, PppWithAndWithoutAddressControlAndCompressedProtocol) {
    const Packet full =
        decode_frame(LinkType::Ppp, test::concat({Bytes{0xff, 0x03, 0x00, 0x21}, udp_v4()}));
    ASSERT_EQ(full.status, DecodeStatus::Ok);
    EXPECT_TRUE(full.has_udp());
    EXPECT_EQ(decode_frame(LinkType::Ppp, test::concat({Bytes{0x00, 0x57}, udp_v6()})).ip_version,
              6);
    EXPECT_EQ(decode_frame(LinkType::PppHdlc, test::concat({Bytes{0x21}, udp_v4()})).ip_version, 4);
    // LCP (0xc021) is not inspected; an empty frame after address/control is truncated.
    EXPECT_EQ(decode_frame(LinkType::Ppp, Bytes{0xff, 0x03, 0xc0, 0x21, 1, 1, 0, 4}).status,
              DecodeStatus::EtherTypeUnsupported);
    EXPECT_EQ(decode_frame(LinkType::Ppp, Bytes{0xff, 0x03}).status, DecodeStatus::PppTruncated);
}

TEST(DecodeLink, NullHostOrderFamilies) {
    EXPECT_EQ(decode_frame(LinkType::Null, test::null_hdr(2, udp_v4())).ip_version, 4);
    for (uint32_t af6 : {24U, 28U, 30U}) {
        const Packet pkt = decode_frame(LinkType::Null, test::null_hdr(af6, udp_v6()));
        EXPECT_EQ(pkt.status, DecodeStatus::Ok) << af6;
        EXPECT_EQ(pkt.ip_version, 6) << af6;
    }
    // Captured on a host of the other byte order.
    const Packet swapped = decode_frame(LinkType::Null, test::null_hdr(2, udp_v4(), true));
    EXPECT_EQ(swapped.status, DecodeStatus::Ok);
    EXPECT_EQ(swapped.ip_version, 4);
    EXPECT_EQ(decode_frame(LinkType::Null, test::null_hdr(7, udp_v4())).status,
              DecodeStatus::EtherTypeUnsupported);
    EXPECT_EQ(decode_frame(LinkType::Null, Bytes{2, 0, 0}).status, DecodeStatus::NullTruncated);
}

TEST(DecodeLink, LoopNetworkOrder) {
    const Packet v4 = decode_frame(LinkType::Loop, test::null_hdr(2, tcp_v4(), true));
    EXPECT_EQ(v4.status, DecodeStatus::Ok);
    EXPECT_TRUE(v4.has_tcp());
    const Packet v6 = decode_frame(LinkType::Loop, test::null_hdr(24, udp_v6(), true));
    EXPECT_EQ(v6.status, DecodeStatus::Ok);
    EXPECT_EQ(v6.ip_version, 6);
    EXPECT_EQ(decode_frame(LinkType::Loop, Bytes{0, 0}).status, DecodeStatus::NullTruncated);
}

TEST(DecodeLink, RawAndIpv4Ipv6LinkTypes) {
    const Bytes v4 = tcp_v4();
    const Bytes v6 = udp_v6();
    const Packet r4 = decode_frame(LinkType::Raw, v4);
    EXPECT_EQ(r4.status, DecodeStatus::Ok);
    EXPECT_EQ(r4.l3, v4.data());
    EXPECT_TRUE(r4.has_tcp());
    EXPECT_EQ(decode_frame(LinkType::Raw, v6).ip_version, 6);
    EXPECT_EQ(decode_frame(LinkType::Ipv4, v4).status, DecodeStatus::Ok);
    EXPECT_EQ(decode_frame(LinkType::Ipv6, v6).status, DecodeStatus::Ok);
    // The 228/229 link types do not guess: an IPv6 packet on an IPv4 link is a bad version.
    EXPECT_EQ(decode_frame(LinkType::Ipv4, v6).status, DecodeStatus::Ipv4BadVersion);
    EXPECT_EQ(decode_frame(LinkType::Raw, Bytes{0x50, 0, 0, 0}).status,
              DecodeStatus::Ipv4BadVersion);
    EXPECT_EQ(decode_frame(LinkType::Raw, {}).status, DecodeStatus::Ipv4Truncated);
}

TEST(DecodeLink, UnsupportedLinkType) {
    const Packet pkt = decode_frame(static_cast<LinkType>(105), tcp_v4());
    EXPECT_EQ(pkt.status, DecodeStatus::LinkTypeUnsupported);
    EXPECT_EQ(pkt.ip_version, 0);
}

// --- IPv4 ------------------------------------------------------------------------------------

TEST(DecodeIpv4, RecordRouteAndNop) {
    test::Ip4Opts o;
    o.options = {7, 11, 4, 1, 2, 3, 4, 5, 6, 7, 8, 1};  // RR with two slots, then NOP
    const Bytes frame = ether(kTypeIpv4, ipv4(kProtoTcp, kIpA, kIpB, tcp(1, 2, kTcpSyn), o));
    const Packet pkt = decode_frame(LinkType::Ethernet, frame);
    ASSERT_EQ(pkt.status, DecodeStatus::Ok);
    EXPECT_EQ(pkt.l3_len, 32);
    EXPECT_EQ(pkt.ip_opts, kIpOptRr | kIpOptNop | kIpOptAny);
    EXPECT_TRUE(pkt.has_tcp());
    EXPECT_EQ(pkt.l4, frame.data() + 14 + 32);
}

TEST(DecodeIpv4, TimestampAndEol) {
    test::Ip4Opts o;
    o.options = {68, 12, 5, 0, 0, 0, 0, 1, 0, 0, 0, 2, 1, 0, 0, 0};  // TS, NOP, EOL, pad
    const Packet pkt = decode_frame(LinkType::Raw, ipv4(kProtoUdp, kIpA, kIpB, udp(1, 2), o));
    ASSERT_EQ(pkt.status, DecodeStatus::Ok);
    EXPECT_EQ(pkt.ip_opts, kIpOptTs | kIpOptNop | kIpOptEol | kIpOptAny);
    EXPECT_TRUE(pkt.has_udp());
}

TEST(DecodeIpv4, NoOptionsNoBits) {
    EXPECT_EQ(decode_frame(LinkType::Raw, tcp_v4()).ip_opts, 0);
}

TEST(DecodeIpv4, BadOptionLengthFlaggedButL4Decoded) {
    test::Ip4Opts o;
    o.options = {7, 1, 0, 0};  // RR with length 1
    const Packet pkt =
        decode_frame(LinkType::Raw, ipv4(kProtoTcp, kIpA, kIpB, tcp(1, 2, kTcpSyn, text("x")), o));
    EXPECT_EQ(pkt.status, DecodeStatus::Ipv4OptMalformed);
    EXPECT_TRUE(pkt.has_tcp());
    EXPECT_EQ(payload_str(pkt), "x");

    test::Ip4Opts past;
    past.options = {1, 68, 40, 5};  // NOP, then TS claiming 40 bytes in a 4-byte option area
    const Packet p2 = decode_frame(LinkType::Raw, ipv4(kProtoUdp, kIpA, kIpB, udp(1, 2), past));
    EXPECT_EQ(p2.status, DecodeStatus::Ipv4OptMalformed);
    EXPECT_EQ(p2.ip_opts & kIpOptTs, 0);
    EXPECT_TRUE(p2.has_udp());

    test::Ip4Opts rr;
    rr.options = {7, 8, 4, 0, 0, 0, 0, 0};  // RR length not 3 + 4n
    EXPECT_EQ(decode_frame(LinkType::Raw, ipv4(kProtoUdp, kIpA, kIpB, udp(1, 2), rr)).status,
              DecodeStatus::Ipv4OptMalformed);
}

TEST(DecodeIpv4, FirstAnomalyWins) {
    test::Ip4Opts o;
    o.options = {7, 1, 0, 0};
    const Packet pkt =
        decode_frame(LinkType::Raw, ipv4(kProtoTcp, kIpA, kIpB, Bytes(10, 0), o));  // short TCP
    EXPECT_EQ(pkt.status, DecodeStatus::Ipv4OptMalformed);
    EXPECT_FALSE(pkt.has_tcp());
}

TEST(DecodeIpv4, BadVersion) {
    test::Ip4Opts o;
    o.version = 5;
    const Packet pkt = decode_frame(LinkType::Ethernet,
                                    ether(kTypeIpv4, ipv4(kProtoUdp, kIpA, kIpB, udp(1, 2), o)));
    EXPECT_EQ(pkt.status, DecodeStatus::Ipv4BadVersion);
    EXPECT_EQ(pkt.ip_version, 0);
    EXPECT_EQ(pkt.l3, nullptr);
}

TEST(DecodeIpv4, BadHeaderLen) {
    test::Ip4Opts o;
    o.ihl = 4;
    const Packet pkt = decode_frame(LinkType::Raw, ipv4(kProtoUdp, kIpA, kIpB, udp(1, 2), o));
    EXPECT_EQ(pkt.status, DecodeStatus::Ipv4BadHeaderLen);
    EXPECT_EQ(pkt.ip_version, 0);
}

TEST(DecodeIpv4, TotalLenSmallerThanHeader) {
    test::Ip4Opts o;
    o.total_len = 19;
    EXPECT_EQ(decode_frame(LinkType::Raw, ipv4(kProtoUdp, kIpA, kIpB, udp(1, 2), o)).status,
              DecodeStatus::Ipv4BadTotalLen);
}

TEST(DecodeIpv4, TotalLenBeyondCaptureIsTruncated) {
    Bytes ip = ipv4(kProtoTcp, kIpA, kIpB, tcp(1, 2, kTcpAck, Bytes(100, 'a')));
    ip.resize(60);  // snaplen cut
    const Packet pkt = decode_frame(LinkType::Raw, ip);
    EXPECT_EQ(pkt.status, DecodeStatus::Ipv4Truncated);
    EXPECT_EQ(pkt.ip_version, 4);  // L3 fields are there
    EXPECT_EQ(pkt.src, IpAddr::from_v4(kIpA.data()));
    EXPECT_EQ(pkt.ip_total_len, 140U);
    EXPECT_EQ(pkt.ip_proto, kProtoTcp);
    EXPECT_EQ(pkt.l4, nullptr);  // but no L4
    EXPECT_EQ(pkt.payload, nullptr);
    EXPECT_EQ(pkt.payload_len, 0U);
}

TEST(DecodeIpv4, HeaderShorterThanMinimumOrOptionsCut) {
    EXPECT_EQ(decode_frame(LinkType::Raw, Bytes{0x45, 0, 0, 20, 0, 0}).status,
              DecodeStatus::Ipv4Truncated);
    test::Ip4Opts o;
    o.options = Bytes(40, 1);
    Bytes ip = ipv4(kProtoUdp, kIpA, kIpB, {}, o);
    ip.resize(30);  // IHL 15 (60 bytes) but only 30 captured
    const Packet pkt = decode_frame(LinkType::Raw, ip);
    EXPECT_EQ(pkt.status, DecodeStatus::Ipv4Truncated);
    EXPECT_EQ(pkt.ip_version, 0);
}

TEST(DecodeIpv4, FirstFragmentHasL4) {
    test::Ip4Opts o;
    o.frag = 0x2000;  // MF, offset 0
    // UDP says 8 + 100 bytes; this fragment carries the header and 40 bytes.
    const Bytes dgram = udp(1000, 2000, Bytes(100, 'z'));
    const Bytes first(dgram.begin(), dgram.begin() + 48);
    const Packet pkt = decode_frame(LinkType::Raw, ipv4(kProtoUdp, kIpA, kIpB, first, o));
    EXPECT_EQ(pkt.status, DecodeStatus::Ok);
    EXPECT_TRUE(pkt.is_fragment);
    EXPECT_TRUE(pkt.frag_mf);
    EXPECT_EQ(pkt.frag_offset, 0);
    ASSERT_TRUE(pkt.has_udp());
    EXPECT_EQ(pkt.sport, 1000);
    EXPECT_EQ(pkt.payload_len, 40U);
}

TEST(DecodeIpv4, NonFirstFragmentHasNoL4) {
    test::Ip4Opts o;
    o.frag = 0x8000 | 6;  // RB (evil bit), last fragment at offset 48
    const Bytes ip = ipv4(kProtoUdp, kIpA, kIpB, Bytes(60, 'q'), o);
    const Packet pkt = decode_frame(LinkType::Raw, ip);
    EXPECT_EQ(pkt.status, DecodeStatus::Ok);
    EXPECT_TRUE(pkt.is_fragment);
    EXPECT_TRUE(pkt.frag_rb);
    EXPECT_FALSE(pkt.frag_mf);
    EXPECT_EQ(pkt.frag_offset, 6);
    EXPECT_EQ(pkt.ip_proto, kProtoUdp);
    EXPECT_EQ(pkt.l4, nullptr);
    EXPECT_FALSE(pkt.has_udp());
    EXPECT_EQ(pkt.sport, 0);
    EXPECT_EQ(pkt.payload, ip.data() + 20);
    EXPECT_EQ(pkt.payload_len, 60U);
}

TEST(DecodeIpv4, OtherProtocolPayloadIsIpPayload) {
    const Bytes ip = ipv4(47, kIpA, kIpB, Bytes(12, 'g'));  // GRE: not parsed
    const Packet pkt = decode_frame(LinkType::Raw, ip);
    EXPECT_EQ(pkt.status, DecodeStatus::Ok);
    EXPECT_EQ(pkt.ip_proto, 47);
    EXPECT_EQ(pkt.l4, nullptr);
    EXPECT_EQ(pkt.sport, 0);
    EXPECT_EQ(pkt.payload, ip.data() + 20);
    EXPECT_EQ(pkt.payload_len, 12U);
}

// --- IPv6 ------------------------------------------------------------------------------------

TEST(DecodeIpv6, TcpFields) {
    Bytes ip = ipv6(kProtoTcp, kIp6A, kIp6B, tcp(5555, 22, kTcpSyn), -1, 33);
    ip[0] = 0x6a;  // traffic class 0xab
    ip[1] = 0xb0;
    const Packet pkt = decode_frame(LinkType::Raw, ip);
    ASSERT_EQ(pkt.status, DecodeStatus::Ok);
    EXPECT_EQ(pkt.ip_version, 6);
    EXPECT_EQ(pkt.src, IpAddr::from_v6(kIp6A.data()));
    EXPECT_FALSE(pkt.src.is_v4());
    EXPECT_EQ(pkt.ttl, 33);
    EXPECT_EQ(pkt.tos, 0xab);
    EXPECT_EQ(pkt.l3_len, 40);
    EXPECT_EQ(pkt.ip_total_len, 60U);
    EXPECT_TRUE(pkt.has_tcp());
    EXPECT_EQ(pkt.dport, 22);
    EXPECT_EQ(pkt.tcp_flags, kTcpSyn);
}

TEST(DecodeIpv6, ExtensionChainToFirstFragment) {
    const Bytes dgram = udp(4000, 53, Bytes(100, 'd'));
    const Bytes part(dgram.begin(), dgram.begin() + 40);
    const Bytes chain = test::concat(
        {ip6_ext(43), ip6_ext(60, 1), ip6_ext(44), ip6_frag(kProtoUdp, 0, true), part});
    const Bytes ip = ipv6(0, kIp6A, kIp6B, chain);  // hop-by-hop first
    const Packet pkt = decode_frame(LinkType::Raw, ip);
    ASSERT_EQ(pkt.status, DecodeStatus::Ok);
    EXPECT_EQ(pkt.l3_len, 40 + 8 + 8 + 16 + 8);
    EXPECT_EQ(pkt.ip_proto, kProtoUdp);
    EXPECT_TRUE(pkt.is_fragment);
    EXPECT_TRUE(pkt.frag_mf);
    EXPECT_EQ(pkt.frag_offset, 0);
    ASSERT_TRUE(pkt.has_udp());
    EXPECT_EQ(pkt.l4, ip.data() + 80);
    EXPECT_EQ(pkt.payload_len, 32U);
    // Where defragmentation finds the fragment header: after hop-by-hop (8), routing (16) and
    // destination options (8); the destination options' first byte names it.
    EXPECT_EQ(pkt.ip6_frag_hdr, 40 + 8 + 16 + 8);
    EXPECT_EQ(pkt.ip6_frag_nh, 40 + 8 + 16);
    expect_in_bounds(pkt);
}

TEST(DecodeIpv6, NonFirstFragmentHasNoL4) {
    const Bytes ip =
        ipv6(44, kIp6A, kIp6B, test::concat({ip6_frag(kProtoTcp, 185, false), Bytes(30, 'f')}));
    const Packet pkt = decode_frame(LinkType::Raw, ip);
    ASSERT_EQ(pkt.status, DecodeStatus::Ok);
    EXPECT_TRUE(pkt.is_fragment);
    EXPECT_FALSE(pkt.frag_mf);
    EXPECT_EQ(pkt.frag_offset, 185);
    EXPECT_EQ(pkt.ip_proto, kProtoTcp);
    EXPECT_EQ(pkt.l4, nullptr);
    EXPECT_EQ(pkt.l3_len, 48);
    EXPECT_EQ(pkt.payload, ip.data() + 48);
    EXPECT_EQ(pkt.payload_len, 30U);
    EXPECT_EQ(pkt.ip6_frag_hdr, 40);
    EXPECT_EQ(pkt.ip6_frag_nh, 6);  // the fixed header's next-header byte
}

TEST(DecodeIpv6, AuthenticationHeaderLengthInFourByteUnits) {
    Bytes ah{kProtoTcp, 4, 0, 0};  // (4 + 2) * 4 = 24 bytes
    ah.resize(24, 0);
    const Packet pkt =
        decode_frame(LinkType::Raw, ipv6(51, kIp6A, kIp6B, test::concat({ah, tcp(1, 2, kTcpAck)})));
    ASSERT_EQ(pkt.status, DecodeStatus::Ok);
    EXPECT_EQ(pkt.l3_len, 64);
    EXPECT_TRUE(pkt.has_tcp());
}

TEST(DecodeIpv6, TruncatedExtensionHeader) {
    // Hop-by-hop claims 24 bytes; the payload length only covers 8.
    const Packet pkt = decode_frame(LinkType::Raw, ipv6(0, kIp6A, kIp6B, ip6_ext(6, 2), 8));
    EXPECT_EQ(pkt.status, DecodeStatus::Ipv6ExtTruncated);
    EXPECT_EQ(pkt.ip_version, 6);
    EXPECT_EQ(pkt.l3_len, 40);
    EXPECT_EQ(pkt.l4, nullptr);
    // One byte of a routing header.
    EXPECT_EQ(decode_frame(LinkType::Raw, ipv6(43, kIp6A, kIp6B, Bytes{6})).status,
              DecodeStatus::Ipv6ExtTruncated);
    // A fragment header cut short.
    EXPECT_EQ(decode_frame(LinkType::Raw, ipv6(44, kIp6A, kIp6B, Bytes{6, 0, 0, 0})).status,
              DecodeStatus::Ipv6ExtTruncated);
}

TEST(DecodeIpv6, SixteenExtensionHeadersOkSeventeenTooMany) {
    Bytes sixteen;
    for (int i = 0; i < 15; ++i) {
        test::append(sixteen, ip6_ext(60));
    }
    Bytes seventeen = sixteen;
    test::append(seventeen, ip6_ext(60));
    test::append(sixteen, ip6_ext(kProtoUdp));
    test::append(seventeen, ip6_ext(kProtoUdp));
    const Packet ok =
        decode_frame(LinkType::Raw, ipv6(60, kIp6A, kIp6B, test::concat({sixteen, udp(1, 2)})));
    EXPECT_EQ(ok.status, DecodeStatus::Ok);
    EXPECT_TRUE(ok.has_udp());
    const Packet bad =
        decode_frame(LinkType::Raw, ipv6(60, kIp6A, kIp6B, test::concat({seventeen, udp(1, 2)})));
    EXPECT_EQ(bad.status, DecodeStatus::Ipv6ExtTooMany);
    EXPECT_FALSE(bad.has_udp());
}

TEST(DecodeIpv6, NoNextHeader) {
    const Packet bare = decode_frame(LinkType::Raw, ipv6(59, kIp6A, kIp6B, {}));
    EXPECT_EQ(bare.status, DecodeStatus::Ok);
    EXPECT_EQ(bare.ip_proto, 59);
    EXPECT_EQ(bare.l4, nullptr);
    EXPECT_EQ(bare.payload, nullptr);
    const Packet after_opts = decode_frame(
        LinkType::Raw, ipv6(60, kIp6A, kIp6B, test::concat({ip6_ext(59), Bytes(8, 'x')})));
    EXPECT_EQ(after_opts.status, DecodeStatus::Ok);
    EXPECT_EQ(after_opts.ip_proto, 59);
    EXPECT_EQ(after_opts.l3_len, 48);
    EXPECT_EQ(after_opts.payload_len, 0U);
}

TEST(DecodeIpv6, PayloadLenBeyondCapture) {
    Bytes ip = udp_v6(Bytes(50, 'p'));
    ip.resize(60);
    const Packet pkt = decode_frame(LinkType::Raw, ip);
    EXPECT_EQ(pkt.status, DecodeStatus::Ipv6Truncated);
    EXPECT_EQ(pkt.ip_version, 6);
    EXPECT_EQ(pkt.dst, IpAddr::from_v6(kIp6B.data()));
    EXPECT_EQ(pkt.l4, nullptr);
}

TEST(DecodeIpv6, BadVersionShortAndZeroLength) {
    Bytes ip = udp_v6();
    ip[0] = 0x40;
    EXPECT_EQ(decode_frame(LinkType::Ipv6, ip).status, DecodeStatus::Ipv6BadVersion);
    EXPECT_EQ(decode_frame(LinkType::Ipv6, Bytes(39, 0x60)).status, DecodeStatus::Ipv6Truncated);
    EXPECT_EQ(decode_frame(LinkType::Ipv6, ipv6(kProtoTcp, kIp6A, kIp6B, {})).status,
              DecodeStatus::Ipv6BadPayloadLen);
}

TEST(DecodeIpv6, TrailingBytesIgnored) {
    Bytes frame = ether(kTypeIpv6, ipv6(kProtoTcp, kIp6A, kIp6B, tcp(1, 2, kTcpAck, text("abc"))));
    frame.resize(frame.size() + 6, 0);
    const Packet pkt = decode_frame(LinkType::Ethernet, frame);
    ASSERT_EQ(pkt.status, DecodeStatus::Ok);
    EXPECT_EQ(payload_str(pkt), "abc");
}

// --- TCP -------------------------------------------------------------------------------------

TEST(DecodeTcp, BadDataOffset) {
    test::TcpOpts small;
    small.data_offset = 4;
    const Packet a =
        decode_frame(LinkType::Raw, ipv4(kProtoTcp, kIpA, kIpB, tcp(1, 2, 0, {}, small)));
    EXPECT_EQ(a.status, DecodeStatus::TcpBadHeaderLen);
    EXPECT_FALSE(a.has_tcp());
    test::TcpOpts big;
    big.data_offset = 15;  // 60 bytes, only 24 in the IP payload
    const Packet b =
        decode_frame(LinkType::Raw, ipv4(kProtoTcp, kIpA, kIpB, tcp(1, 2, 0, text("abcd"), big)));
    EXPECT_EQ(b.status, DecodeStatus::TcpBadHeaderLen);
    EXPECT_FALSE(b.has_tcp());
    EXPECT_EQ(b.ip_version, 4);  // L3 stays decoded
}

TEST(DecodeTcp, Truncated) {
    Bytes seg = tcp(1, 2, kTcpSyn);
    seg.resize(12);
    const Packet pkt = decode_frame(LinkType::Raw, ipv4(kProtoTcp, kIpA, kIpB, seg));
    EXPECT_EQ(pkt.status, DecodeStatus::TcpTruncated);
    EXPECT_EQ(pkt.l4, nullptr);
    EXPECT_EQ(pkt.sport, 0);
}

TEST(DecodeTcp, MalformedOptionFlaggedButDecoded) {
    test::TcpOpts o;
    o.options = {2, 3, 5, 1};  // MSS with length 3
    const Packet pkt =
        decode_frame(LinkType::Raw, ipv4(kProtoTcp, kIpA, kIpB, tcp(1, 2, kTcpSyn, text("pl"), o)));
    EXPECT_EQ(pkt.status, DecodeStatus::TcpOptMalformed);
    EXPECT_TRUE(pkt.has_tcp());
    EXPECT_EQ(payload_str(pkt), "pl");
    test::TcpOpts past;
    past.options = {1, 1, 8, 10};  // timestamp running past the header
    EXPECT_EQ(
        decode_frame(LinkType::Raw, ipv4(kProtoTcp, kIpA, kIpB, tcp(1, 2, 0, {}, past))).status,
        DecodeStatus::TcpOptMalformed);
    test::TcpOpts zero;
    zero.options = {1, 1, 30, 0};  // length 0 would loop forever in a naive walk
    EXPECT_EQ(
        decode_frame(LinkType::Raw, ipv4(kProtoTcp, kIpA, kIpB, tcp(1, 2, 0, {}, zero))).status,
        DecodeStatus::TcpOptMalformed);
}

// --- UDP -------------------------------------------------------------------------------------

TEST(DecodeUdp, LengthShorterThanIpPayloadBoundsPayload) {
    // UDP says 8 + 4 bytes; the IP payload carries 10 after the header.
    const Bytes frame =
        ether(kTypeIpv4, ipv4(kProtoUdp, kIpA, kIpB, udp(1, 2, text("abcdXXXXXX"), 12)));
    const Packet pkt = decode_frame(LinkType::Ethernet, frame);
    ASSERT_EQ(pkt.status, DecodeStatus::Ok);
    ASSERT_TRUE(pkt.has_udp());
    EXPECT_EQ(pkt.l4_len, 8);
    EXPECT_EQ(payload_str(pkt), "abcd");
}

TEST(DecodeUdp, BadLength) {
    EXPECT_EQ(
        decode_frame(LinkType::Raw, ipv4(kProtoUdp, kIpA, kIpB, udp(1, 2, text("ab"), 4))).status,
        DecodeStatus::UdpBadLen);
    const Packet big =
        decode_frame(LinkType::Raw, ipv4(kProtoUdp, kIpA, kIpB, udp(1, 2, text("ab"), 200)));
    EXPECT_EQ(big.status, DecodeStatus::UdpBadLen);
    EXPECT_FALSE(big.has_udp());
    EXPECT_EQ(big.payload, nullptr);
}

TEST(DecodeUdp, Truncated) {
    const Packet pkt =
        decode_frame(LinkType::Raw, ipv4(kProtoUdp, kIpA, kIpB, Bytes{0, 1, 0, 2, 0}));
    EXPECT_EQ(pkt.status, DecodeStatus::UdpTruncated);
}

// --- ICMP ------------------------------------------------------------------------------------

TEST(DecodeIcmp, EchoIdSeqAndPayload) {
    const Bytes ip = ipv4(kProtoIcmp, kIpA, kIpB, icmp(8, 0, 0x1234, 7, text("ping")));
    const Packet pkt = decode_frame(LinkType::Raw, ip);
    ASSERT_EQ(pkt.status, DecodeStatus::Ok);
    ASSERT_TRUE(pkt.has_icmp());
    EXPECT_EQ(pkt.icmp_type, 8);
    EXPECT_EQ(pkt.icmp_code, 0);
    EXPECT_TRUE(pkt.icmp_has_id);
    EXPECT_EQ(pkt.icmp_id, 0x1234);
    EXPECT_EQ(pkt.icmp_seq, 7);
    EXPECT_EQ(pkt.l4_len, 8);
    EXPECT_EQ(pkt.payload, ip.data() + 28);
    EXPECT_EQ(payload_str(pkt), "ping");
    EXPECT_EQ(pkt.sport, 0);
}

TEST(DecodeIcmp, WhichTypesCarryIds) {
    for (uint8_t t : {0, 8, 13, 14, 15, 16, 17, 18}) {
        const Packet pkt =
            decode_frame(LinkType::Raw, ipv4(kProtoIcmp, kIpA, kIpB, icmp(t, 0, 9, 10)));
        EXPECT_TRUE(pkt.icmp_has_id) << int(t);
        EXPECT_EQ(pkt.icmp_id, 9) << int(t);
    }
    const Packet unreach =
        decode_frame(LinkType::Raw, ipv4(kProtoIcmp, kIpA, kIpB, icmp(3, 1, 0, 0, Bytes(28, 1))));
    EXPECT_EQ(unreach.status, DecodeStatus::Ok);
    EXPECT_FALSE(unreach.icmp_has_id);
    EXPECT_EQ(unreach.icmp_code, 1);
    EXPECT_EQ(unreach.payload_len, 28U);
}

TEST(DecodeIcmp, Truncated) {
    const Packet pkt = decode_frame(LinkType::Raw, ipv4(kProtoIcmp, kIpA, kIpB, Bytes{8, 0, 0, 0}));
    EXPECT_EQ(pkt.status, DecodeStatus::IcmpTruncated);
    EXPECT_FALSE(pkt.has_icmp());
}

TEST(DecodeIcmpv6, EchoAndOthers) {
    const Packet echo = decode_frame(
        LinkType::Raw, ipv6(kProtoIcmpv6, kIp6A, kIp6B, icmp(129, 0, 77, 3, text("pong"))));
    ASSERT_EQ(echo.status, DecodeStatus::Ok);
    ASSERT_TRUE(echo.has_icmp());
    EXPECT_EQ(echo.icmp_type, 129);
    EXPECT_TRUE(echo.icmp_has_id);
    EXPECT_EQ(echo.icmp_id, 77);
    EXPECT_EQ(echo.icmp_seq, 3);
    EXPECT_EQ(payload_str(echo), "pong");
    const Packet ns = decode_frame(
        LinkType::Raw, ipv6(kProtoIcmpv6, kIp6A, kIp6B, icmp(135, 0, 0, 0, Bytes(16, 0))));
    EXPECT_EQ(ns.status, DecodeStatus::Ok);
    EXPECT_FALSE(ns.icmp_has_id);
    EXPECT_EQ(
        decode_frame(LinkType::Raw, ipv6(kProtoIcmpv6, kIp6A, kIp6B, Bytes{128, 0, 0})).status,
        DecodeStatus::Icmpv6Truncated);
}

// --- whole-decoder properties ----------------------------------------------------------------

TEST(Decode, ResetsFieldsFromThePreviousPacket) {
    const Bytes a = ether(kTypeIpv4, tcp_v4(), {{0x8100, 5}});
    const Bytes b = ether(0x0806, Bytes(28, 0));
    Packet pkt;
    pkt.data = a.data();
    pkt.cap_len = static_cast<uint32_t>(a.size());
    ASSERT_EQ(decode(LinkType::Ethernet, pkt), DecodeStatus::Ok);
    pkt.dir = FlowDir::ToClient;
    pkt.flow_established = true;
    pkt.data = b.data();
    pkt.cap_len = static_cast<uint32_t>(b.size());
    pkt.seq = 99;
    EXPECT_EQ(decode(LinkType::Ethernet, pkt), DecodeStatus::EtherTypeUnsupported);
    EXPECT_EQ(pkt.seq, 99U);
    EXPECT_EQ(pkt.vlan_count, 0);
    EXPECT_EQ(pkt.ip_version, 0);
    EXPECT_EQ(pkt.l4, nullptr);
    EXPECT_EQ(pkt.sport, 0);
    EXPECT_EQ(pkt.payload, nullptr);
    EXPECT_EQ(pkt.dir, FlowDir::ToServer);
    EXPECT_FALSE(pkt.flow_established);
}

// Decodes every prefix of a set of good frames from an exactly sized heap copy, so that
// AddressSanitizer (VIGIL_SANITIZE=ON) reports any read past the captured bytes.
TEST(Decode, EveryPrefixStaysInBounds) {
    test::Ip4Opts opts;
    opts.options = {7, 7, 4, 1, 2, 3, 4, 1};
    test::TcpOpts topts;
    topts.options = {2, 4, 5, 0xb4, 1, 3, 3, 7};
    const std::vector<std::pair<LinkType, Bytes>> frames = {
        {LinkType::Ethernet,
         ether(kTypeIpv4, ipv4(kProtoTcp, kIpA, kIpB, tcp(1, 2, kTcpSyn, text("abc"), topts), opts),
               {{0x88a8, 1}, {0x8100, 2}})},
        {LinkType::Ethernet,
         ether(0x8847, test::concat({mpls_label(5, false), mpls_label(6, true), udp_v6()}))},
        {LinkType::Raw, ipv6(0, kIp6A, kIp6B,
                             test::concat({ip6_ext(44), ip6_frag(kProtoIcmpv6, 0, false),
                                           icmp(128, 0, 1, 2, text("x"))}))},
        {LinkType::LinuxSll, test::sll(kTypeIpv4, ipv4(kProtoIcmp, kIpA, kIpB, icmp(8, 0, 1, 1)))},
        {LinkType::LinuxSll2, test::sll2(kTypeIpv6, udp_v6())},
        {LinkType::Null, test::null_hdr(2, udp_v4())},
        {LinkType::Loop, test::null_hdr(30, udp_v6(), true)},
        {LinkType::CHdlc, test::concat({Bytes{0x0f, 0x00, 0x08, 0x00}, udp_v4()})},
        {LinkType::Ppp, test::concat({Bytes{0xff, 0x03, 0x00, 0x21}, udp_v4()})},
    };
    for (const auto& [link, frame] : frames) {
        ASSERT_EQ(decode_frame(link, frame).status, DecodeStatus::Ok);
        for (size_t n = 0; n <= frame.size(); ++n) {
            auto copy = std::make_unique<uint8_t[]>(n == 0 ? 1 : n);
            std::memcpy(copy.get(), frame.data(), n);
            Packet pkt;
            pkt.data = copy.get();
            pkt.cap_len = static_cast<uint32_t>(n);
            const DecodeStatus s = decode(link, pkt);
            EXPECT_EQ(s, pkt.status);
            if (n < frame.size()) {
                EXPECT_NE(s, DecodeStatus::Ok) << "prefix " << n << " of a " << frame.size()
                                               << "-byte frame decoded as complete";
            }
            expect_in_bounds(pkt);
        }
    }
}

TEST(DecodeStatusName, AllNamedUniquelyInSnakeCase) {
    std::set<std::string_view> seen;
    for (size_t i = 0; i < static_cast<size_t>(DecodeStatus::Count); ++i) {
        const std::string_view name = decode_status_name(static_cast<DecodeStatus>(i));
        EXPECT_NE(name, "unknown") << i;
        EXPECT_TRUE(seen.insert(name).second) << name;
        for (char c : name) {
            EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') << name;
        }
    }
    EXPECT_EQ(decode_status_name(DecodeStatus::Ok), "ok");
    EXPECT_EQ(decode_status_name(DecodeStatus::Ipv4Truncated), "ipv4_truncated");
    EXPECT_EQ(decode_status_name(DecodeStatus::Ipv6ExtTooMany), "ipv6_ext_too_many");
    EXPECT_EQ(decode_status_name(DecodeStatus::Icmpv6Truncated), "icmpv6_truncated");
}

TEST(DecodeStatsTest, CountsLayersAndStatuses) {
    DecodeStats a;
    const Bytes f1 = ether(kTypeIpv4, tcp_v4(), {{0x8100, 1}, {0x8100, 2}});
    const Bytes f2 = ether(0x8847, test::concat({mpls_label(3, true), udp_v6()}));
    const Bytes f3 = ether(kTypeIpv4, ipv4(kProtoIcmp, kIpA, kIpB, icmp(0, 0, 1, 1)));
    const Bytes f4 = ether(kTypeIpv4, Bytes(10, 0x45));
    a.count(decode_frame(LinkType::Ethernet, f1));
    a.count(decode_frame(LinkType::Ethernet, f2));
    a.count(decode_frame(LinkType::Ethernet, f3));
    a.count(decode_frame(LinkType::Ethernet, f4));
    EXPECT_EQ(a.ipv4, 2U);  // f4 never got an IP layer
    EXPECT_EQ(a.ipv6, 1U);
    EXPECT_EQ(a.tcp, 1U);
    EXPECT_EQ(a.udp, 1U);
    EXPECT_EQ(a.icmp, 1U);
    EXPECT_EQ(a.vlan, 2U);
    EXPECT_EQ(a.mpls, 1U);
    EXPECT_EQ(a.by_status[static_cast<size_t>(DecodeStatus::Ok)], 3U);
    EXPECT_EQ(a.by_status[static_cast<size_t>(DecodeStatus::Ipv4Truncated)], 1U);
    DecodeStats b;
    b.count(decode_frame(LinkType::Ethernet, f1));
    b += a;
    EXPECT_EQ(b.tcp, 2U);
    EXPECT_EQ(b.vlan, 4U);
    EXPECT_EQ(b.mpls, 1U);
    EXPECT_EQ(b.by_status[static_cast<size_t>(DecodeStatus::Ok)], 4U);
}

}  // namespace
}  // namespace vigil::dataplane
