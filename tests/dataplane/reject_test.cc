// The answers a reject rule sends on an inline port: built from a decoded packet, they must
// decode as what the sender's stack accepts (addresses swapped, right sequence numbers,
// valid checksums), and never answer an answer.

#include "dataplane/reject.h"

#include <gtest/gtest.h>

#include "tests/dataplane/packet_builder.h"

namespace vigil::dataplane {
namespace {

using test::Bytes;

// Ones' complement sum over a header with its checksum in place: 0xffff when valid.
uint16_t csum(const uint8_t* p, size_t n, uint32_t acc = 0) {
    for (size_t i = 0; i + 1 < n; i += 2) {
        acc += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
    }
    if (n % 2 != 0) {
        acc += static_cast<uint32_t>(p[n - 1] << 8);
    }
    while (acc >> 16 != 0) {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    return static_cast<uint16_t>(acc);
}

uint32_t pseudo(const Packet& p, size_t l4_len) {
    uint32_t acc = 0;
    const size_t off = p.ip_version == 4 ? 12 : 0;
    const size_t n = p.ip_version == 4 ? 4 : 16;
    for (size_t i = 0; i < n; i += 2) {
        acc += static_cast<uint32_t>(p.src.b[off + i] << 8 | p.src.b[off + i + 1]);
        acc += static_cast<uint32_t>(p.dst.b[off + i] << 8 | p.dst.b[off + i + 1]);
    }
    return acc + p.ip_proto + static_cast<uint32_t>(l4_len);
}

Bytes answer(const Packet& p) {
    Bytes out(kRejectFrameMax);
    out.resize(build_reject(p, out.data(), out.size()));
    return out;
}

TEST(RejectTest, TcpResetAcknowledgesTheSegment) {
    test::TcpOpts o;
    o.seq = 1000;
    o.ack = 5000;
    const Packet p = test::decode_frame(
        LinkType::Ethernet, test::ether(test::kTypeIpv4,
                                        test::ipv4(6, test::kIpA, test::kIpB,
                                                   test::tcp(40000, 80, kTcpAck | kTcpPsh,
                                                             test::text("GET /x\r\n\r\n"), o)),
                                        {{0x8100, 7}}));
    const Bytes a = answer(p);
    ASSERT_FALSE(a.empty());
    const Packet r = test::decode_frame(LinkType::Ethernet, a);
    ASSERT_EQ(r.status, DecodeStatus::Ok);
    EXPECT_TRUE(std::equal(a.begin(), a.begin() + 6, p.data + 6));  // to the sender's MAC
    EXPECT_EQ(r.vlan_count, 1);
    EXPECT_EQ(r.vlan[0], 7);
    EXPECT_EQ(r.src, p.dst);
    EXPECT_EQ(r.dst, p.src);
    EXPECT_EQ(r.sport, 80);
    EXPECT_EQ(r.dport, 40000);
    EXPECT_EQ(r.tcp_flags, kTcpRst | kTcpAck);
    EXPECT_EQ(r.tcp_seq, 5000U);        // the sender's acknowledgement
    EXPECT_EQ(r.tcp_ack, 1000U + 10U);  // everything the segment carried
    EXPECT_EQ(r.payload_len, 0U);
    EXPECT_EQ(csum(r.l3, r.l3_len), 0xffff);
    EXPECT_EQ(csum(r.l4, 20, pseudo(r, 20)), 0xffff);
}

TEST(RejectTest, SynWithoutAckGetsSequenceZero) {
    test::TcpOpts o;
    o.seq = 77;
    const Packet p = test::decode_frame(
        LinkType::Ethernet,
        test::ether(test::kTypeIpv6, test::ipv6(6, test::kIp6A, test::kIp6B,
                                                test::tcp(40001, 443, kTcpSyn, {}, o))));
    const Packet r = test::decode_frame(LinkType::Ethernet, answer(p));
    ASSERT_EQ(r.ip_version, 6);
    EXPECT_EQ(r.src, p.dst);
    EXPECT_EQ(r.tcp_flags, kTcpRst | kTcpAck);
    EXPECT_EQ(r.tcp_seq, 0U);
    EXPECT_EQ(r.tcp_ack, 78U);  // the SYN occupies one
    EXPECT_EQ(csum(r.l4, 20, pseudo(r, 20)), 0xffff);
}

TEST(RejectTest, UdpGetsPortUnreachableQuotingIt) {
    const Packet p = test::decode_frame(
        LinkType::Ethernet,
        test::ether(test::kTypeIpv4,
                    test::ipv4(17, test::kIpA, test::kIpB, test::udp(5000, 53, test::text("q")))));
    const Bytes a = answer(p);
    const Packet r = test::decode_frame(LinkType::Ethernet, a);
    ASSERT_TRUE(r.has_icmp());
    EXPECT_EQ(r.icmp_type, 3);
    EXPECT_EQ(r.icmp_code, 3);
    EXPECT_EQ(r.src, p.dst);
    EXPECT_EQ(csum(r.l3, r.l3_len), 0xffff);
    const size_t icmp_len = a.size() - static_cast<size_t>(r.l4 - a.data());
    EXPECT_EQ(icmp_len, 8U + 20U + 8U);  // the IP header and 8 bytes of what followed
    EXPECT_EQ(csum(r.l4, icmp_len), 0xffff);
    EXPECT_TRUE(std::equal(r.l4 + 8, r.l4 + 8 + 28, p.l3));
}

TEST(RejectTest, Udp6GetsIcmp6PortUnreachable) {
    const Packet p = test::decode_frame(
        LinkType::Ethernet,
        test::ether(test::kTypeIpv6, test::ipv6(17, test::kIp6A, test::kIp6B,
                                                test::udp(5000, 53, test::text("query")))));
    const Bytes a = answer(p);
    const Packet r = test::decode_frame(LinkType::Ethernet, a);
    ASSERT_TRUE(r.has_icmp());
    EXPECT_EQ(r.ip_proto, kProtoIcmpv6);
    EXPECT_EQ(r.icmp_type, 1);
    EXPECT_EQ(r.icmp_code, 4);
    const size_t icmp_len = a.size() - static_cast<size_t>(r.l4 - a.data());
    EXPECT_EQ(csum(r.l4, icmp_len, pseudo(r, icmp_len)), 0xffff);
}

TEST(RejectTest, NeverAnswersAnAnswer) {
    const Packet rst = test::decode_frame(
        LinkType::Ethernet,
        test::ether(test::kTypeIpv4,
                    test::ipv4(6, test::kIpA, test::kIpB, test::tcp(1, 2, kTcpRst | kTcpAck))));
    EXPECT_TRUE(answer(rst).empty());
    const Packet unreach = test::decode_frame(
        LinkType::Ethernet,
        test::ether(test::kTypeIpv4,
                    test::ipv4(1, test::kIpA, test::kIpB, test::icmp(3, 3, 0, 0, Bytes(28)))));
    EXPECT_TRUE(answer(unreach).empty());
    test::Ip4Opts frag;
    frag.frag = 10;  // a later fragment: no transport header to answer
    const Packet later = test::decode_frame(
        LinkType::Ethernet,
        test::ether(test::kTypeIpv4, test::ipv4(17, test::kIpA, test::kIpB, Bytes(16), frag)));
    EXPECT_TRUE(answer(later).empty());
}

}  // namespace
}  // namespace vigil::dataplane
