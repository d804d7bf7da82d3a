#include "dataplane/defrag.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "dataplane/decode.h"
#include "tests/dataplane/packet_builder.h"

namespace vigil::dataplane {
namespace {

using test::Bytes;
using test::concat;
using test::ether;
using test::icmp;
using test::Ip4;
using test::Ip4Opts;
using test::ip6_ext;
using test::ip6_frag;
using test::ipv4;
using test::ipv6;
using test::kIp6A;
using test::kIp6B;
using test::kIpA;
using test::kIpB;
using test::kTypeIpv4;
using test::tcp;
using test::udp;

constexpr uint8_t kProtoOther = 200;  // a protocol the decoder does not parse

Bytes slice(const Bytes& b, size_t off, size_t len) {
    return Bytes(b.begin() + static_cast<std::ptrdiff_t>(off),
                 b.begin() + static_cast<std::ptrdiff_t>(off + len));
}

Bytes filled(char c, size_t n) {
    return Bytes(n, static_cast<uint8_t>(c));
}

// An IPv4 fragment: `data` is this fragment's share of the IP payload, at `off` bytes.
Bytes v4_frag(uint8_t proto, const Bytes& data, uint32_t off, bool more, uint16_t id = 0x4242,
              const Ip4& dst = kIpB, const Bytes& options = {}) {
    Ip4Opts o;
    o.id = id;
    o.frag = static_cast<uint16_t>((more ? 0x2000 : 0) | (off / 8));
    o.options = options;
    return ipv4(proto, kIpA, dst, data, o);
}

// An IPv6 fragment, optionally with a hop-by-hop header before the fragment header.
Bytes v6_frag(uint8_t next, const Bytes& data, uint32_t off, bool more, uint32_t id = 0x424242,
              bool hop_by_hop = false) {
    const Bytes fh = ip6_frag(next, static_cast<uint16_t>(off / 8), more, id);
    if (hop_by_hop) {
        return ipv6(0, kIp6A, kIp6B, concat({ip6_ext(44), fh, data}));
    }
    return ipv6(44, kIp6A, kIp6B, concat({fh, data}));
}

uint16_t fold_checksum(const uint8_t* p, size_t len) {
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2) {
        sum += static_cast<uint32_t>((p[i] << 8) | p[i + 1]);
    }
    while ((sum >> 16) != 0) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return static_cast<uint16_t>(sum);
}

std::string str(const uint8_t* p, size_t n) {
    return std::string(reinterpret_cast<const char*>(p), n);
}

// Feeds frames through one capture buffer that is overwritten after every call, as a packet
// source reuses its buffers: the engine must hold copies.
class Feeder {
public:
    explicit Feeder(const DefragConfig& config = {}) : defrag(config) {}

    DefragResult feed(const Bytes& frame, int64_t ts = 1000, LinkType link = LinkType::Raw) {
        buf_.assign(frame.begin(), frame.end());
        Packet pkt;
        pkt.data = buf_.data();
        pkt.cap_len = static_cast<uint32_t>(buf_.size());
        pkt.wire_len = pkt.cap_len;
        pkt.ts_sec = ts;
        pkt.ts_usec = 77;
        pkt.seq = seq_++;
        decode(link, pkt);
        EXPECT_TRUE(pkt.is_fragment);
        const DefragResult r = defrag.add(pkt);
        std::fill(buf_.begin(), buf_.end(), 0xee);
        return r;
    }

    // The whole reassembled datagram (from the IP header), as bytes.
    static Bytes bytes(const Packet& pkt) { return Bytes(pkt.l3, pkt.data + pkt.cap_len); }

    Defragmenter defrag;
    uint64_t seq_ = 0;

private:
    Bytes buf_;
};

// --- basic reassembly ----------------------------------------------------------------------

struct UdpCase {
    Bytes l4;       // UDP header + payload: the fragmented IP payload
    Bytes payload;  // application data
};

UdpCase udp_case(size_t n) {
    UdpCase c;
    for (size_t i = 0; i < n; ++i) {
        c.payload.push_back(static_cast<uint8_t>('a' + i % 26));
    }
    c.l4 = udp(5353, 53, c.payload);
    return c;
}

TEST(Defrag, Ipv4InOrderRebuildsDatagram) {
    const UdpCase c = udp_case(100);  // 108 bytes of IP payload: 48 + 48 + 12
    Feeder f;
    const Bytes opts{1, 1, 1, 0};  // NOP NOP NOP EOL: the first fragment's options are kept
    EXPECT_EQ(f.feed(v4_frag(kProtoUdp, slice(c.l4, 0, 48), 0, true, 0x4242, kIpB, opts)).datagram,
              nullptr);
    EXPECT_EQ(f.feed(v4_frag(kProtoUdp, slice(c.l4, 48, 48), 48, true)).datagram, nullptr);
    EXPECT_EQ(f.defrag.stats().datagrams_active, 1U);
    EXPECT_GT(f.defrag.stats().memory_bytes, 0U);
    const DefragResult r = f.feed(v4_frag(kProtoUdp, slice(c.l4, 96, 12), 96, false), 1010);
    ASSERT_NE(r.datagram, nullptr);
    EXPECT_EQ(r.events, 0U);
    const Packet& p = *r.datagram;
    EXPECT_EQ(p.status, DecodeStatus::Ok);
    EXPECT_FALSE(p.is_fragment);
    EXPECT_FALSE(p.frag_mf);
    EXPECT_EQ(p.frag_offset, 0);
    EXPECT_EQ(p.ip_version, 4);
    EXPECT_EQ(p.ip_proto, kProtoUdp);
    EXPECT_EQ(p.l3_len, 24);
    EXPECT_EQ(p.ip_opts & kIpOptNop, kIpOptNop);
    EXPECT_EQ(p.ip_total_len, 24U + 108U);
    EXPECT_EQ(p.ip_id, 0x4242);
    EXPECT_EQ(fold_checksum(p.l3, p.l3_len), 0xffff);  // header checksum recomputed
    ASSERT_TRUE(p.has_udp());
    EXPECT_EQ(p.sport, 5353);
    EXPECT_EQ(p.dport, 53);
    EXPECT_EQ(str(p.payload, p.payload_len), str(c.payload.data(), c.payload.size()));
    EXPECT_EQ(p.ts_sec, 1010);
    EXPECT_EQ(p.ts_usec, 77U);
    EXPECT_EQ(p.seq, 2U);  // the completing fragment's
    EXPECT_EQ(p.flow_hash, 0U);
    EXPECT_EQ(f.defrag.stats().reassembled, 1U);
    EXPECT_EQ(f.defrag.stats().fragments, 3U);
    EXPECT_EQ(f.defrag.stats().ipv4_fragments, 3U);
    EXPECT_EQ(f.defrag.stats().memory_bytes, 0U);
    EXPECT_EQ(f.defrag.stats().datagrams_active, 0U);
}

TEST(Defrag, Ipv4ReverseOrder) {
    const Bytes payload = filled('x', 70);
    const Bytes l4 = tcp(40000, 80, kTcpAck | kTcpPsh, payload);  // 90 bytes
    Feeder f;
    EXPECT_EQ(f.feed(v4_frag(kProtoTcp, slice(l4, 64, 26), 64, false)).datagram, nullptr);
    EXPECT_EQ(f.feed(v4_frag(kProtoTcp, slice(l4, 32, 32), 32, true)).datagram, nullptr);
    const DefragResult r = f.feed(v4_frag(kProtoTcp, slice(l4, 0, 32), 0, true));
    ASSERT_NE(r.datagram, nullptr);
    ASSERT_TRUE(r.datagram->has_tcp());
    EXPECT_EQ(r.datagram->sport, 40000);
    EXPECT_EQ(r.datagram->dport, 80);
    EXPECT_EQ(r.datagram->tcp_flags, kTcpAck | kTcpPsh);
    EXPECT_EQ(str(r.datagram->payload, r.datagram->payload_len), std::string(70, 'x'));
    EXPECT_EQ(f.defrag.stats().memory_bytes, 0U);
}

TEST(Defrag, DuplicateFragmentIsAnOverlapWithoutDifference) {
    const UdpCase c = udp_case(40);  // 48 bytes
    Feeder f;
    EXPECT_EQ(f.feed(v4_frag(kProtoUdp, slice(c.l4, 0, 24), 0, true)).events, 0U);
    const DefragResult dup = f.feed(v4_frag(kProtoUdp, slice(c.l4, 0, 24), 0, true));
    EXPECT_EQ(dup.events, kDefragEvOverlap);
    EXPECT_EQ(dup.datagram, nullptr);
    const DefragResult r = f.feed(v4_frag(kProtoUdp, slice(c.l4, 24, 24), 24, false));
    ASSERT_NE(r.datagram, nullptr);
    EXPECT_EQ(str(r.datagram->payload, r.datagram->payload_len),
              str(c.payload.data(), c.payload.size()));
    EXPECT_EQ(f.defrag.stats().overlaps, 1U);
    EXPECT_EQ(f.defrag.stats().overlap_diff, 0U);
}

TEST(Defrag, IcmpEchoReassembled) {
    const Bytes l4 = icmp(8, 0, 0x1111, 7, filled('p', 56));  // 64 bytes
    Feeder f;
    f.feed(v4_frag(kProtoIcmp, slice(l4, 0, 32), 0, true));
    const DefragResult r = f.feed(v4_frag(kProtoIcmp, slice(l4, 32, 32), 32, false));
    ASSERT_NE(r.datagram, nullptr);
    ASSERT_TRUE(r.datagram->has_icmp());
    EXPECT_EQ(r.datagram->icmp_type, 8);
    EXPECT_EQ(r.datagram->icmp_id, 0x1111);
    EXPECT_EQ(r.datagram->payload_len, 56U);
}

TEST(Defrag, DifferentIdsSourcesAndVlansDoNotMix) {
    const UdpCase c = udp_case(40);
    Feeder f;
    f.feed(v4_frag(kProtoUdp, slice(c.l4, 0, 24), 0, true, 1));
    EXPECT_EQ(f.feed(v4_frag(kProtoUdp, slice(c.l4, 24, 24), 24, false, 2)).datagram, nullptr);
    // Same id, different protocol.
    EXPECT_EQ(f.feed(v4_frag(kProtoTcp, slice(c.l4, 24, 24), 24, false, 1)).datagram, nullptr);
    // Same id over VLAN 10 and VLAN 20.
    f.feed(ether(kTypeIpv4, v4_frag(kProtoUdp, slice(c.l4, 0, 24), 0, true, 9), {{0x8100, 10}}),
           1000, LinkType::Ethernet);
    EXPECT_EQ(f.feed(ether(kTypeIpv4, v4_frag(kProtoUdp, slice(c.l4, 24, 24), 24, false, 9),
                           {{0x8100, 20}}),
                     1000, LinkType::Ethernet)
                  .datagram,
              nullptr);
    const DefragResult r = f.feed(
        ether(kTypeIpv4, v4_frag(kProtoUdp, slice(c.l4, 24, 24), 24, false, 9), {{0x8100, 10}}),
        1000, LinkType::Ethernet);
    ASSERT_NE(r.datagram, nullptr);
    EXPECT_EQ(r.datagram->vlan_count, 1);
    EXPECT_EQ(r.datagram->vlan[0], 10);
    EXPECT_EQ(r.datagram->sport, 5353);
    EXPECT_EQ(f.defrag.stats().reassembled, 1U);
    EXPECT_EQ(f.defrag.stats().datagrams_active, 4U);
}

// --- IPv6 ---------------------------------------------------------------------------------

TEST(Defrag, Ipv6WithoutExtensionHeaders) {
    const UdpCase c = udp_case(100);  // 108
    Feeder f;
    EXPECT_EQ(f.feed(v6_frag(kProtoUdp, slice(c.l4, 56, 52), 56, false)).datagram, nullptr);
    const DefragResult r = f.feed(v6_frag(kProtoUdp, slice(c.l4, 0, 56), 0, true));
    ASSERT_NE(r.datagram, nullptr);
    const Packet& p = *r.datagram;
    EXPECT_EQ(p.status, DecodeStatus::Ok);
    EXPECT_FALSE(p.is_fragment);
    EXPECT_EQ(p.ip_version, 6);
    EXPECT_EQ(p.ip_proto, kProtoUdp);
    EXPECT_EQ(p.l3_len, 40);
    EXPECT_EQ(p.l3[6], kProtoUdp);  // the fragment header is gone
    EXPECT_EQ(p.ip_total_len, 40U + 108U);
    EXPECT_EQ(p.cap_len, 40U + 108U);
    EXPECT_EQ(p.sport, 5353);
    EXPECT_EQ(str(p.payload, p.payload_len), str(c.payload.data(), c.payload.size()));
    EXPECT_EQ(Feeder::bytes(p), ipv6(kProtoUdp, kIp6A, kIp6B, c.l4));
    EXPECT_EQ(f.defrag.stats().ipv6_fragments, 2U);
    EXPECT_EQ(f.defrag.stats().memory_bytes, 0U);
}

TEST(Defrag, Ipv6HopByHopBeforeFragmentHeaderIsKept) {
    const Bytes payload = filled('z', 80);
    const Bytes l4 = tcp(1234, 443, kTcpAck, payload);  // 100 bytes
    Feeder f;
    f.feed(v6_frag(kProtoTcp, slice(l4, 0, 48), 0, true, 99, true));
    const DefragResult r = f.feed(v6_frag(kProtoTcp, slice(l4, 48, 52), 48, false, 99, true));
    ASSERT_NE(r.datagram, nullptr);
    const Packet& p = *r.datagram;
    EXPECT_FALSE(p.is_fragment);
    EXPECT_EQ(p.l3[6], 0);           // still hop-by-hop first
    EXPECT_EQ(p.l3[40], kProtoTcp);  // which now names TCP instead of the fragment header
    EXPECT_EQ(p.l3_len, 48);
    EXPECT_EQ(p.ip_total_len, 40U + 8U + 100U);
    ASSERT_TRUE(p.has_tcp());
    EXPECT_EQ(p.dport, 443);
    EXPECT_EQ(str(p.payload, p.payload_len), std::string(80, 'z'));
    EXPECT_EQ(Feeder::bytes(p), ipv6(0, kIp6A, kIp6B, concat({ip6_ext(kProtoTcp), l4})));
}

TEST(Defrag, Ipv6IdentificationIs32Bits) {
    const UdpCase c = udp_case(40);
    Feeder f;
    f.feed(v6_frag(kProtoUdp, slice(c.l4, 0, 24), 0, true, 0x00010005));
    EXPECT_EQ(f.feed(v6_frag(kProtoUdp, slice(c.l4, 24, 24), 24, false, 0x00020005)).datagram,
              nullptr);
    EXPECT_NE(f.feed(v6_frag(kProtoUdp, slice(c.l4, 24, 24), 24, false, 0x00010005)).datagram,
              nullptr);
}

TEST(Defrag, Ipv6AtomicFragmentIsItsOwnDatagram) {
    const UdpCase c = udp_case(20);
    Feeder f;
    const DefragResult r = f.feed(v6_frag(kProtoUdp, c.l4, 0, false));
    ASSERT_NE(r.datagram, nullptr);
    EXPECT_EQ(Feeder::bytes(*r.datagram), ipv6(kProtoUdp, kIp6A, kIp6B, c.l4));
    EXPECT_EQ(f.defrag.stats().datagrams_active, 0U);
}

// --- overlap policies: the Sturges/Novak pattern -------------------------------------------

struct NovakFrag {
    uint32_t off;
    uint32_t len;
    char fill;
};

// Nine original fragments, then seven that overlap them in every way (starting before, at,
// inside; ending before, at, after), then the last fragment.
constexpr NovakFrag kNovak[] = {
    {0, 24, 'A'},   {32, 16, 'B'},  {48, 24, 'C'}, {80, 8, 'D'},  {104, 16, 'E'}, {120, 24, 'F'},
    {144, 16, 'G'}, {160, 16, 'H'}, {176, 8, 'I'}, {8, 32, 'J'},  {48, 24, 'K'},  {72, 24, 'L'},
    {96, 24, 'M'},  {128, 8, 'N'},  {152, 8, 'O'}, {160, 8, 'P'}, {176, 16, 'Q'},
};

struct PolicyCase {
    OsPolicy policy;
    const char* blocks;  // one letter per 8-byte block of the 192-byte result
};

void PrintTo(const PolicyCase& c, std::ostream* os) {
    *os << os_policy_name(c.policy);
}

class DefragPolicy : public ::testing::TestWithParam<PolicyCase> {
protected:
    void run(int version) {
        DefragConfig cfg;
        cfg.policy = OsPolicyMap(GetParam().policy);
        Feeder f(cfg);
        const DefragResult* last = nullptr;
        DefragResult r;
        int overlapping = 0;
        for (size_t i = 0; i < std::size(kNovak); ++i) {
            const NovakFrag& nf = kNovak[i];
            const bool more = i + 1 < std::size(kNovak);
            const Bytes data = filled(nf.fill, nf.len);
            r = version == 4 ? f.feed(v4_frag(kProtoIcmp, data, nf.off, more))
                             : f.feed(v6_frag(kProtoIcmpv6, data, nf.off, more));
            if (i < 9) {
                EXPECT_EQ(r.events, 0U) << "fragment " << nf.fill;
            } else if (i < 16) {
                // Every late fragment overlaps an original one with different letters.
                EXPECT_EQ(r.events, kDefragEvOverlap | kDefragEvOverlapDiff) << nf.fill;
                ++overlapping;
            }
            if (more) {
                EXPECT_EQ(r.datagram, nullptr);
            } else {
                last = &r;
            }
        }
        ASSERT_NE(last, nullptr);
        ASSERT_NE(last->datagram, nullptr);
        const Packet& p = *last->datagram;
        const size_t hlen = version == 4 ? 20 : 40;
        ASSERT_EQ(p.cap_len, hlen + 192);
        std::string expected;
        for (const char* b = GetParam().blocks; *b != '\0'; ++b) {
            expected.append(8, *b);
        }
        EXPECT_EQ(str(p.data + hlen, 192), expected);
        EXPECT_EQ(f.defrag.stats().overlaps, 8U);  // J..P and Q (Q overlaps I)
        EXPECT_EQ(overlapping, 7);
        EXPECT_EQ(f.defrag.stats().memory_bytes, 0U);
        EXPECT_EQ(f.defrag.stats().datagrams_active, 0U);
    }
};

TEST_P(DefragPolicy, Ipv4) {
    run(4);
}

TEST_P(DefragPolicy, Ipv6) {
    run(6);
}

constexpr const char* kBsd = "AAAJJBCCCLLLMMMFFFGGHHIQ";
constexpr const char* kLinux = "AAAJJBKKKLLLMMMFFFGGPHQQ";
constexpr const char* kWindows = "AAAJBBCCCLLLMEEFFFGGHHIQ";
constexpr const char* kSolaris = "AAAJBBCCCLLLMMMFFFGGHHIQ";
constexpr const char* kFirst = "AAAJBBCCCLDLMEEFFFGGHHIQ";
constexpr const char* kLast = "AJJJJBKKKLLLMMMFNFGOPHQQ";
constexpr const char* kBsdRight = "AJJJBBKKKLDLMEEFNFGOPHQQ";

INSTANTIATE_TEST_SUITE_P(
    Novak, DefragPolicy,
    ::testing::Values(PolicyCase{OsPolicy::Bsd, kBsd}, PolicyCase{OsPolicy::Linux, kLinux},
                      PolicyCase{OsPolicy::Windows, kWindows},
                      PolicyCase{OsPolicy::Solaris, kSolaris}, PolicyCase{OsPolicy::First, kFirst},
                      PolicyCase{OsPolicy::Last, kLast}, PolicyCase{OsPolicy::BsdRight, kBsdRight},
                      // Mapped like Suricata's host-os-policy for defrag:
                      PolicyCase{OsPolicy::OldLinux, kLinux}, PolicyCase{OsPolicy::HpUx10, kBsd},
                      PolicyCase{OsPolicy::Irix, kBsd}, PolicyCase{OsPolicy::HpUx11, kFirst},
                      PolicyCase{OsPolicy::MacOs, kFirst}, PolicyCase{OsPolicy::Vista, kWindows},
                      PolicyCase{OsPolicy::Windows2k3, kWindows}),
    [](const ::testing::TestParamInfo<PolicyCase>& info) {
        std::string n(os_policy_name(info.param.policy));
        std::replace(n.begin(), n.end(), '-', '_');
        return n;
    });

TEST(Defrag, PolicyIsChosenByDestination) {
    DefragConfig cfg;
    cfg.policy = OsPolicyMap(OsPolicy::First);
    ASSERT_TRUE(cfg.policy.add("10.0.0.9/32", OsPolicy::Last).ok());
    Feeder f(cfg);
    const Ip4 last_host{10, 0, 0, 9};
    for (const Ip4& dst : {kIpB, last_host}) {
        f.feed(v4_frag(kProtoOther, filled('A', 16), 0, true, 5, dst));
        f.feed(v4_frag(kProtoOther, filled('B', 16), 0, true, 5, dst));
        const DefragResult r = f.feed(v4_frag(kProtoOther, filled('C', 8), 16, false, 5, dst));
        ASSERT_NE(r.datagram, nullptr);
        EXPECT_EQ(str(r.datagram->payload, 16), std::string(16, dst == kIpB ? 'A' : 'B'));
    }
}

// --- tiny first fragments -----------------------------------------------------------------

TEST(Defrag, TinyFirstFragmentWithoutFullTcpHeader) {
    const Bytes l4 = tcp(1111, 22, kTcpSyn, filled('s', 12));  // 32 bytes
    Feeder f;
    const DefragResult first = f.feed(v4_frag(kProtoTcp, slice(l4, 0, 8), 0, true));
    EXPECT_EQ(first.events, kDefragEvTiny);
    EXPECT_EQ(f.defrag.stats().tiny, 1U);
    const DefragResult r = f.feed(v4_frag(kProtoTcp, slice(l4, 8, 24), 8, false));
    EXPECT_EQ(r.events, 0U);
    ASSERT_NE(r.datagram, nullptr);  // still reassembled: the ports were split, not hidden
    ASSERT_TRUE(r.datagram->has_tcp());
    EXPECT_EQ(r.datagram->dport, 22);
    EXPECT_EQ(r.datagram->tcp_flags, kTcpSyn);
}

TEST(Defrag, TinyWhenTcpOptionsAreCutOff) {
    test::TcpOpts o;
    o.options = Bytes(12, 1);  // NOPs: header of 32 bytes
    const Bytes l4 = tcp(1111, 22, kTcpSyn, {}, o);
    Feeder f;
    // 24 bytes hold the fixed header but not its options.
    EXPECT_EQ(f.feed(v4_frag(kProtoTcp, slice(l4, 0, 24), 0, true)).events, kDefragEvTiny);
    // A first fragment with the whole header is not tiny.
    EXPECT_EQ(f.feed(v4_frag(kProtoTcp, l4, 0, true, 77)).events, 0U);
}

TEST(Defrag, TinyBelowConfiguredMinimum) {
    DefragConfig cfg;
    cfg.min_first_frag = 64;
    const UdpCase c = udp_case(100);
    Feeder f(cfg);
    EXPECT_EQ(f.feed(v4_frag(kProtoUdp, slice(c.l4, 0, 32), 0, true)).events, kDefragEvTiny);
    EXPECT_EQ(f.feed(v4_frag(kProtoUdp, slice(c.l4, 0, 64), 0, true, 3)).events, 0U);
    EXPECT_EQ(f.feed(v6_frag(kProtoUdp, slice(c.l4, 0, 16), 0, true)).events, kDefragEvTiny);
    EXPECT_EQ(f.defrag.stats().tiny, 2U);
}

// --- limits -------------------------------------------------------------------------------

TEST(Defrag, TimeoutExpiresOldestIncompleteDatagram) {
    DefragConfig cfg;
    cfg.timeout_s = 30;
    const UdpCase c = udp_case(40);
    Feeder f(cfg);
    f.feed(v4_frag(kProtoUdp, slice(c.l4, 0, 24), 0, true, 1), 100);
    f.feed(v4_frag(kProtoUdp, slice(c.l4, 0, 24), 0, true, 2), 120);
    // Exactly the timeout later: still held; the datagram completes.
    EXPECT_NE(f.feed(v4_frag(kProtoUdp, slice(c.l4, 24, 24), 24, false, 2), 130).datagram, nullptr);
    f.feed(v4_frag(kProtoUdp, slice(c.l4, 0, 24), 0, true, 3), 130);
    EXPECT_EQ(f.defrag.stats().timeouts, 0U);
    EXPECT_EQ(f.defrag.stats().datagrams_active, 2U);
    // One second later datagram 1 is gone: its last fragment starts a new, incomplete one.
    EXPECT_EQ(f.feed(v4_frag(kProtoUdp, slice(c.l4, 24, 24), 24, false, 1), 131).datagram, nullptr);
    EXPECT_EQ(f.defrag.stats().timeouts, 1U);
    EXPECT_EQ(f.defrag.stats().datagrams_active, 2U);  // 3 and the new 1
    // Much later both expire.
    f.feed(v4_frag(kProtoUdp, slice(c.l4, 0, 24), 0, true, 4), 1000);
    EXPECT_EQ(f.defrag.stats().timeouts, 3U);
    EXPECT_EQ(f.defrag.stats().datagrams_active, 1U);
}

TEST(Defrag, MemcapRefusesFragmentsAndKeepsAccountingExact) {
    DefragConfig cfg;
    cfg.memcap = 4096;
    Feeder f(cfg);
    uint32_t dropped = 0;
    for (uint16_t id = 0; id < 64; ++id) {
        const DefragResult r = f.feed(v4_frag(kProtoOther, filled('m', 512), 0, true, id));
        if ((r.events & kDefragEvDropped) != 0) {
            ++dropped;
        }
        EXPECT_LE(f.defrag.stats().memory_bytes, cfg.memcap);
    }
    EXPECT_GT(dropped, 0U);
    EXPECT_EQ(f.defrag.stats().memcap_drops, dropped);
    EXPECT_EQ(f.defrag.stats().datagrams_active, 64U - dropped);
    f.defrag.clear();
    EXPECT_EQ(f.defrag.stats().memory_bytes, 0U);
    EXPECT_EQ(f.defrag.stats().datagrams_active, 0U);
    // After clear() there is room again.
    EXPECT_EQ(f.feed(v4_frag(kProtoOther, filled('m', 512), 0, true, 1)).events, 0U);
}

TEST(Defrag, MaxFragsDropsTheDatagram) {
    DefragConfig cfg;
    cfg.max_frags = 3;
    Feeder f(cfg);
    for (uint32_t i = 0; i < 3; ++i) {
        EXPECT_EQ(f.feed(v4_frag(kProtoOther, filled('a', 8), i * 16, true)).events, 0U);
    }
    const DefragResult r = f.feed(v4_frag(kProtoOther, filled('a', 8), 64, true));
    EXPECT_EQ(r.events, kDefragEvDropped);
    EXPECT_EQ(f.defrag.stats().too_many_frags, 1U);
    EXPECT_EQ(f.defrag.stats().datagrams_active, 0U);
    EXPECT_EQ(f.defrag.stats().memory_bytes, 0U);
}

TEST(Defrag, MaxDatagramsRefusesNewOnes) {
    DefragConfig cfg;
    cfg.max_datagrams = 2;
    const UdpCase c = udp_case(40);
    Feeder f(cfg);
    f.feed(v4_frag(kProtoUdp, slice(c.l4, 0, 24), 0, true, 1));
    f.feed(v4_frag(kProtoUdp, slice(c.l4, 0, 24), 0, true, 2));
    EXPECT_EQ(f.feed(v4_frag(kProtoUdp, slice(c.l4, 0, 24), 0, true, 3)).events, kDefragEvDropped);
    EXPECT_EQ(f.defrag.stats().memcap_drops, 1U);
    // Datagrams already held still complete.
    EXPECT_NE(f.feed(v4_frag(kProtoUdp, slice(c.l4, 24, 24), 24, false, 2)).datagram, nullptr);
    EXPECT_EQ(f.defrag.stats().datagrams_active, 1U);
}

TEST(Defrag, InvalidFragmentsAreCountedAndNotHeld) {
    Feeder f;
    // MF set with a length that is not a multiple of 8.
    EXPECT_EQ(f.feed(v4_frag(kProtoOther, filled('a', 10), 0, true)).events, kDefragEvInvalid);
    // Offset + length beyond 65535.
    EXPECT_EQ(f.feed(v4_frag(kProtoOther, filled('a', 24), 8190 * 8, false)).events,
              kDefragEvInvalid);
    // No data.
    EXPECT_EQ(f.feed(v4_frag(kProtoOther, {}, 8, false)).events, kDefragEvInvalid);
    EXPECT_EQ(f.feed(v6_frag(kProtoUdp, {}, 8, false)).events, kDefragEvInvalid);
    EXPECT_EQ(f.defrag.stats().invalid, 4U);
    EXPECT_EQ(f.defrag.stats().datagrams_active, 0U);
    EXPECT_EQ(f.defrag.stats().memory_bytes, 0U);
}

TEST(Defrag, DataBeyondTheLastFragmentIsInvalid) {
    Feeder f;
    f.feed(v4_frag(kProtoOther, filled('a', 16), 0, true));
    f.feed(v4_frag(kProtoOther, filled('b', 8), 32, false));  // end = 40
    EXPECT_EQ(f.feed(v4_frag(kProtoOther, filled('c', 16), 32, true)).events, kDefragEvInvalid);
    EXPECT_EQ(f.feed(v4_frag(kProtoOther, filled('c', 16), 40, false)).events, kDefragEvInvalid);
    const DefragResult r = f.feed(v4_frag(kProtoOther, filled('d', 16), 16, true));
    ASSERT_NE(r.datagram, nullptr);
    EXPECT_EQ(str(r.datagram->payload, r.datagram->payload_len),
              std::string(16, 'a') + std::string(16, 'd') + std::string(8, 'b'));
}

TEST(Defrag, TooLargeDatagramIsDropped) {
    Feeder f;
    f.feed(v4_frag(kProtoOther, filled('a', 16), 0, true));
    // 65512 + 16 bytes of data fit 65535, but not with the 20-byte header.
    const DefragResult r = f.feed(v4_frag(kProtoOther, filled('b', 16), 65512, false));
    EXPECT_EQ(r.events, kDefragEvDropped);
    EXPECT_EQ(f.defrag.stats().too_large, 1U);
    EXPECT_EQ(f.defrag.stats().datagrams_active, 0U);
    EXPECT_EQ(f.defrag.stats().memory_bytes, 0U);
}

TEST(Defrag, MemoryAccountingReturnsToZero) {
    Feeder f;
    const UdpCase c = udp_case(200);
    for (uint16_t id = 0; id < 50; ++id) {
        f.feed(v4_frag(kProtoUdp, slice(c.l4, 0, 64), 0, true, id));
        f.feed(v6_frag(kProtoUdp, slice(c.l4, 64, 64), 64, true, id));
    }
    EXPECT_EQ(f.defrag.stats().datagrams_active, 100U);
    EXPECT_GE(f.defrag.stats().memory_bytes, 100U * 64U);
    for (uint16_t id = 0; id < 25; ++id) {  // complete half of the IPv4 ones
        EXPECT_NE(f.feed(v4_frag(kProtoUdp, slice(c.l4, 64, 144), 64, false, id)).datagram,
                  nullptr);
    }
    EXPECT_EQ(f.defrag.stats().datagrams_active, 75U);
    f.defrag.clear();
    EXPECT_EQ(f.defrag.stats().memory_bytes, 0U);
    EXPECT_EQ(f.defrag.stats().datagrams_active, 0U);
}

// --- randomized -------------------------------------------------------------------------

TEST(Defrag, RandomFragmentationInRandomOrderReassemblesTheOriginal) {
    std::mt19937 rng(12345);
    Feeder f;
    for (int iter = 0; iter < 400; ++iter) {
        const bool v6 = (rng() & 1) != 0;
        const uint32_t n = 1 + rng() % 4000;
        Bytes data(n);
        for (auto& b : data) {
            b = static_cast<uint8_t>(rng());
        }
        uint8_t proto = kProtoOther;
        Bytes l4 = data;
        switch (rng() % 3) {
            case 0:
                proto = kProtoUdp;
                l4 = udp(static_cast<uint16_t>(rng()), 53, data);
                break;
            case 1:
                proto = kProtoTcp;
                l4 = tcp(static_cast<uint16_t>(rng()), 80, kTcpAck, data);
                break;
            default:
                break;
        }
        const auto id = static_cast<uint16_t>(iter);
        Ip4Opts o;
        o.id = id;
        const Bytes original = v6 ? ipv6(proto, kIp6A, kIp6B, l4) : ipv4(proto, kIpA, kIpB, l4, o);

        std::vector<Bytes> frags;
        for (uint32_t off = 0; off < l4.size();) {
            uint32_t len = 8 * (1 + rng() % 64);
            const bool more = off + len < l4.size();
            if (!more) {
                len = static_cast<uint32_t>(l4.size()) - off;
            }
            const Bytes part = slice(l4, off, len);
            frags.push_back(v6 ? v6_frag(proto, part, off, more, id)
                               : v4_frag(proto, part, off, more, id));
            off += len;
        }
        std::shuffle(frags.begin(), frags.end(), rng);
        if (frags.size() == 1 && !v6) {
            continue;  // one IPv4 "fragment" with offset 0 and no MF is not a fragment
        }
        for (size_t i = 0; i < frags.size(); ++i) {
            const DefragResult r = f.feed(frags[i]);
            EXPECT_EQ(r.events & (kDefragEvOverlap | kDefragEvInvalid | kDefragEvDropped), 0U);
            if (i + 1 < frags.size()) {
                ASSERT_EQ(r.datagram, nullptr) << "iteration " << iter;
                continue;
            }
            ASSERT_NE(r.datagram, nullptr) << "iteration " << iter;
            Bytes got = Feeder::bytes(*r.datagram);
            if (!v6) {
                EXPECT_EQ(fold_checksum(got.data(), 20), 0xffff);
                got[10] = 0;  // the builder leaves the checksum zero
                got[11] = 0;
            }
            ASSERT_EQ(got, original) << "iteration " << iter;
            EXPECT_FALSE(r.datagram->is_fragment);
            EXPECT_EQ(r.datagram->ip_proto, proto);
        }
        ASSERT_EQ(f.defrag.stats().datagrams_active, 0U);
        ASSERT_EQ(f.defrag.stats().memory_bytes, 0U);
    }
}

TEST(Defrag, RandomGarbageFragmentsNeverBreakTheLimits) {
    std::mt19937 rng(777);
    DefragConfig cfg;
    cfg.memcap = 256 * 1024;
    cfg.max_datagrams = 32;
    cfg.max_frags = 16;
    cfg.timeout_s = 5;
    cfg.policy = OsPolicyMap(OsPolicy::Linux);
    Defragmenter d(cfg);
    uint64_t completed = 0;
    for (int iter = 0; iter < 20000; ++iter) {
        const bool v6 = (rng() & 1) != 0;
        Bytes data(rng() % 300);
        for (auto& b : data) {
            b = static_cast<uint8_t>('a' + rng() % 4);  // few values: overlaps often agree
        }
        const auto off = static_cast<uint32_t>(8 * (rng() % 40));
        const bool more = (rng() % 4) != 0;
        const auto id = static_cast<uint16_t>(rng() % 8);
        Bytes frame = v6 ? v6_frag(kProtoOther, data, off, more, id, (rng() & 1) != 0)
                         : v4_frag(kProtoOther, data, off, more, id);
        // Corrupt a few bytes: lengths, offsets, options, next headers.
        const uint32_t flips = rng() % 3;
        for (uint32_t k = 0; k < flips && !frame.empty(); ++k) {
            frame[rng() % std::min<size_t>(frame.size(), 56)] = static_cast<uint8_t>(rng());
        }
        // Sometimes the capture is cut short.
        if (!frame.empty() && rng() % 8 == 0) {
            frame.resize(rng() % frame.size());
        }
        Packet pkt;
        pkt.data = frame.data();
        pkt.cap_len = static_cast<uint32_t>(frame.size());
        pkt.wire_len = pkt.cap_len;
        pkt.ts_sec = iter / 200;
        decode(LinkType::Raw, pkt);
        if (!pkt.is_fragment) {
            continue;
        }
        const DefragResult r = d.add(pkt);
        if (r.datagram != nullptr) {
            ++completed;
            const Packet& p = *r.datagram;
            ASSERT_LE(p.cap_len, 65535U + 40U);
            ASSERT_EQ(p.l3, p.data);  // rebuilt from the IP header (LinkType::Raw)
            ASSERT_GE(p.cap_len, p.ip_version == 6 ? 40U : 20U);
            // Every payload byte is readable: an out-of-bounds read shows under ASan.
            volatile uint32_t sink = 0;
            for (uint32_t i = 0; i < p.payload_len; ++i) {
                sink = sink + p.payload[i];
            }
        }
        ASSERT_LE(d.stats().memory_bytes, cfg.memcap);
        ASSERT_LE(d.stats().datagrams_active, cfg.max_datagrams);
    }
    EXPECT_GT(completed, 0U);
    EXPECT_GT(d.stats().overlaps, 0U);
    EXPECT_GT(d.stats().invalid, 0U);
    d.clear();
    EXPECT_EQ(d.stats().memory_bytes, 0U);
    EXPECT_EQ(d.stats().datagrams_active, 0U);
}

}  // namespace
}  // namespace vigil::dataplane
