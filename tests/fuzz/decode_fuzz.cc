// decode_fuzz: feeds arbitrary bytes to decode() and the flow table. The first input byte picks
// the link type, the rest is the frame. Built two ways:
//  - with libFuzzer (clang, -fsanitize=fuzzer, VIGIL_LIBFUZZER defined): the usual fuzzer;
//  - without (any compiler): a replay driver with its own main(), which runs files and
//    directories of inputs, or N mutated inputs from built-in seed frames (--random), so
//    g++ builds can run the same body under ASan/UBSan as a smoke test.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "dataplane/decode.h"
#include "dataplane/flow_table.h"

namespace {

using vigil::dataplane::DecodeStats;
using vigil::dataplane::FlowTable;
using vigil::dataplane::FlowTableConfig;
using vigil::dataplane::LinkType;
using vigil::dataplane::Packet;

constexpr std::array<LinkType, 9> kLinks = {
    LinkType::Ethernet,
    LinkType::Raw,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::Null,
    LinkType::Loop,
    LinkType::Ipv4,
    LinkType::Ipv6,
    static_cast<LinkType>(105),  // unsupported: must be refused cleanly
};

// Pointer comparisons on uintptr_t: comparing unrelated pointers is unspecified.
bool within(const uint8_t* begin, uint32_t cap, const uint8_t* p, uint32_t len) {
    const auto b = reinterpret_cast<uintptr_t>(begin);
    const auto q = reinterpret_cast<uintptr_t>(p);
    return q >= b && q - b <= cap && len <= cap - (q - b);
}

// Aborts (a fuzzer finding) when a decoded view escapes the captured bytes or contradicts
// itself.
void check_invariants(const Packet& pkt) {
    bool ok = true;
    if (pkt.l3 != nullptr) {
        ok &= within(pkt.data, pkt.cap_len, pkt.l3, pkt.l3_len);
    }
    if (pkt.l4 != nullptr) {
        ok &= within(pkt.data, pkt.cap_len, pkt.l4, pkt.l4_len);
        ok &= pkt.ip_version != 0;
    }
    if (pkt.payload != nullptr) {
        ok &= within(pkt.data, pkt.cap_len, pkt.payload, pkt.payload_len);
        ok &= pkt.payload_len != 0;
    } else {
        ok &= pkt.payload_len == 0;
    }
    if (pkt.has_tcp()) {
        ok &= pkt.l4_len >= 20 && pkt.l4_len <= 60;
    }
    if (pkt.has_udp() || pkt.has_icmp()) {
        ok &= pkt.l4_len == 8;
    }
    ok &= static_cast<size_t>(pkt.status) <
          static_cast<size_t>(vigil::dataplane::DecodeStatus::Count);
    ok &= pkt.ip_version == 0 || pkt.ip_version == 4 || pkt.ip_version == 6;
    if (!ok) {
        std::abort();
    }
}

DecodeStats g_stats;  // printed by the replay driver: shows which paths the inputs reached

}  // namespace

// NOLINTNEXTLINE(readability-identifier-naming): the name libFuzzer calls
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) {
        return 0;
    }
    // Small table so eviction, expiry and reuse paths all run.
    static FlowTable table([] {
        FlowTableConfig c;
        c.capacity = 32;
        c.timeouts.tcp_new = 2;
        c.timeouts.udp_new = 1;
        c.timeouts.other_new = 1;
        return c;
    }());
    static int64_t now = 0;

    Packet pkt;
    pkt.data = size > 1 ? data + 1 : nullptr;
    pkt.cap_len = static_cast<uint32_t>(size - 1);
    pkt.wire_len = pkt.cap_len;
    pkt.ts_sec = now;
    now += data[0] & 1;  // time moves on every other input
    vigil::dataplane::decode(kLinks[data[0] % kLinks.size()], pkt);
    check_invariants(pkt);
    g_stats.count(pkt);
    if (table.lookup(pkt) == nullptr && pkt.ip_version != 0) {
        std::abort();  // every IP packet gets a flow
    }
    table.expire(now);
    if (table.stats().active > table.capacity()) {
        std::abort();
    }
    return 0;
}

#ifndef VIGIL_LIBFUZZER

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "tests/dataplane/packet_builder.h"
#include "tests/fuzz/fuzz_driver.h"

namespace {

using vigil::test::Bytes;

// One input = link selector byte + frame.
Bytes with_link(LinkType link, const Bytes& frame) {
    Bytes b;
    for (size_t i = 0; i < kLinks.size(); ++i) {
        if (kLinks[i] == link) {
            b.push_back(static_cast<uint8_t>(i));
        }
    }
    vigil::test::append(b, frame);
    return b;
}

std::vector<Bytes> seed_inputs() {
    namespace t = vigil::test;
    using vigil::dataplane::kProtoIcmp;
    using vigil::dataplane::kProtoIcmpv6;
    using vigil::dataplane::kProtoTcp;
    using vigil::dataplane::kProtoUdp;
    using vigil::dataplane::kTcpAck;
    using vigil::dataplane::kTcpSyn;
    t::TcpOpts topts;
    topts.options = {2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0};
    t::Ip4Opts iopts;
    iopts.options = {7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 1, 68, 8, 5, 0, 0, 0, 0, 0};
    t::Ip4Opts frag;
    frag.frag = 0x2000;
    const Bytes tcp4 = t::ipv4(kProtoTcp, t::kIpA, t::kIpB,
                               t::tcp(1, 80, kTcpSyn, t::text("GET /"), topts), iopts);
    const Bytes udp4 = t::ipv4(kProtoUdp, t::kIpA, t::kIpB, t::udp(53, 53, t::text("q")), frag);
    const Bytes icmp4 = t::ipv4(kProtoIcmp, t::kIpA, t::kIpB, t::icmp(8, 0, 1, 2, t::text("p")));
    const Bytes v6chain =
        t::ipv6(0, t::kIp6A, t::kIp6B,
                t::concat({t::ip6_ext(43), t::ip6_ext(60, 1), t::ip6_ext(51),
                           Bytes{44, 1, 0, 0, 0, 0, 0, 0}, t::ip6_frag(kProtoTcp, 0, true),
                           t::tcp(2, 3, kTcpAck, t::text("x"))}));
    const Bytes icmp6 =
        t::ipv6(kProtoIcmpv6, t::kIp6A, t::kIp6B, t::icmp(128, 0, 1, 1, t::text("e")));
    // Tunnels: GRE with key/sequence, ERSPAN II, VXLAN, Geneve with an option, Teredo, IPv6 in
    // IPv4, NSH; each around one of the packets above.
    t::GreOpts gre_ks;
    gre_ks.key_present = true;
    gre_ks.seq_present = true;
    const t::Ip4 outer_a{192, 0, 2, 1};
    const t::Ip4 outer_b{192, 0, 2, 2};
    const auto over_udp = [&](uint16_t dport, const Bytes& payload) {
        return t::ipv4(kProtoUdp, outer_a, outer_b, t::udp(40000, dport, payload));
    };
    const Bytes tcp6 = t::ipv6(kProtoTcp, t::kIp6A, t::kIp6B, t::tcp(4, 80, kTcpAck, t::text("t")));
    const Bytes tunnels[] = {
        t::ipv4(vigil::dataplane::kProtoGre, outer_a, outer_b, t::gre(t::kTypeIpv4, tcp4, gre_ks)),
        t::ipv4(vigil::dataplane::kProtoGre, outer_a, outer_b,
                t::gre(t::kTypeErspan, t::erspan2(3, 4, t::ether(t::kTypeIpv6, v6chain)), gre_ks)),
        over_udp(4789, t::vxlan(7, t::ether(t::kTypeIpv4, icmp4))),
        over_udp(6081, t::geneve(t::kTypeTeb, 8, t::ether(t::kTypeIpv4, udp4),
                                 Bytes{0, 1, 2, 1, 9, 9, 9, 9})),
        over_udp(3544, t::concat({Bytes{0, 0, 1, 2, 3, 4, 5, 6}, tcp6})),
        t::ipv4(vigil::dataplane::kProtoIpv6Encap, outer_a, outer_b, icmp6),
    };
    std::vector<Bytes> seeds;
    for (const Bytes& tun : tunnels) {
        seeds.push_back(with_link(LinkType::Ethernet, t::ether(t::kTypeIpv4, tun)));
    }
    seeds.push_back(with_link(LinkType::Ethernet,
                              t::ether(t::kTypeNsh, t::nsh(3, t::ether(t::kTypeIpv4, tcp4)))));
    std::vector<Bytes> plain = {
        with_link(LinkType::Ethernet, t::ether(t::kTypeIpv4, tcp4, {{0x88a8, 1}, {0x8100, 2}})),
        with_link(LinkType::Ethernet,
                  t::ether(0x8847,
                           t::concat({t::mpls_label(5, false), t::mpls_label(6, true), v6chain}))),
        with_link(LinkType::Ethernet,
                  t::ether(0x8847, t::concat({t::mpls_label(9, true), Bytes{0, 0, 0, 0},
                                              t::ether(t::kTypeIpv4, udp4)}))),
        with_link(LinkType::Raw, icmp4),
        with_link(LinkType::Raw, icmp6),
        with_link(LinkType::LinuxSll, t::sll(t::kTypeIpv4, udp4)),
        with_link(LinkType::LinuxSll2, t::sll2(t::kTypeIpv6, v6chain)),
        with_link(LinkType::Null, t::null_hdr(30, icmp6)),
        with_link(LinkType::Loop, t::null_hdr(2, tcp4, true)),
        with_link(LinkType::Ipv4, tcp4),
        with_link(LinkType::Ipv6, v6chain),
    };
    seeds.insert(seeds.end(), plain.begin(), plain.end());
    return seeds;
}

using vigil::fuzz::Rng;

Bytes mutate(const Bytes& seed, Rng& rng) {
    Bytes b = seed;
    static constexpr std::array<uint8_t, 10> kInteresting = {0,    1,    2,    4,    5,
                                                             0x0f, 0x40, 0x7f, 0x80, 0xff};
    const size_t rounds = 1 + rng.below(4);
    for (size_t r = 0; r < rounds && !b.empty(); ++r) {
        // Mostly small edits inside the frame, so most inputs get past the outer layers.
        const size_t what = rng.below(100);
        const size_t at = 1 + rng.below(b.size() - 1 == 0 ? 1 : b.size() - 1);
        if (what < 30) {
            if (at < b.size()) {
                b[at] ^= static_cast<uint8_t>(1U << rng.below(8));
            }
        } else if (what < 50) {
            if (at < b.size()) {
                b[at] = static_cast<uint8_t>(rng.next());
            }
        } else if (what < 65) {
            if (at < b.size()) {
                b[at] = kInteresting[rng.below(kInteresting.size())];
            }
        } else if (what < 75) {
            b.resize(rng.below(b.size() + 1));  // truncate
        } else if (what < 85) {
            b.insert(b.begin() + static_cast<std::ptrdiff_t>(std::min(at, b.size())), rng.below(16),
                     static_cast<uint8_t>(rng.next()));
        } else if (what < 95) {
            if (at < b.size()) {
                const size_t n = std::min(b.size() - at, 1 + rng.below(16));
                b.erase(b.begin() + static_cast<std::ptrdiff_t>(at),
                        b.begin() + static_cast<std::ptrdiff_t>(at + n));
            }
        } else {
            b[0] = static_cast<uint8_t>(rng.next());  // another link type
        }
    }
    return b;
}

void print_stats() {
    std::cout << "layers: ipv4=" << g_stats.ipv4 << " ipv6=" << g_stats.ipv6
              << " tcp=" << g_stats.tcp << " udp=" << g_stats.udp << " icmp=" << g_stats.icmp
              << " vlan=" << g_stats.vlan << " mpls=" << g_stats.mpls << "\nstatus:";
    for (size_t i = 0; i < g_stats.by_status.size(); ++i) {
        if (g_stats.by_status[i] != 0) {
            std::cout << " "
                      << vigil::dataplane::decode_status_name(
                             static_cast<vigil::dataplane::DecodeStatus>(i))
                      << "=" << g_stats.by_status[i];
        }
    }
    std::cout << "\n";
}

}  // namespace

int main(int argc, char** argv) {
    return vigil::fuzz::replay_main(argc, argv,
                                    {"decode_fuzz_replay", seed_inputs(), mutate, print_stats});
}

#endif  // VIGIL_LIBFUZZER
