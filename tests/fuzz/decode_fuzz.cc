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
    return {
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
}

// xorshift64*: deterministic across runs and platforms.
struct Rng {
    uint64_t s;
    uint64_t next() {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        return s * 0x2545f4914f6cdd1dULL;
    }
    size_t below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(next() % n); }
};

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

// Runs one input from an exactly sized heap copy, so ASan catches a read one past the end.
void run_one(const Bytes& input) {
    const std::unique_ptr<uint8_t[]> exact(new uint8_t[input.empty() ? 1 : input.size()]);
    if (!input.empty()) {
        std::memcpy(exact.get(), input.data(), input.size());
    }
    LLVMFuzzerTestOneInput(exact.get(), input.size());
}

bool run_path(const std::filesystem::path& p, size_t& count) {
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) {
        std::vector<std::filesystem::path> files;
        for (std::filesystem::directory_iterator it(p, ec), end; !ec && it != end;
             it.increment(ec)) {
            files.push_back(it->path());
        }
        std::sort(files.begin(), files.end());
        for (const auto& f : files) {
            if (!run_path(f, count)) {
                return false;
            }
        }
        return !ec;
    }
    std::ifstream in(p, std::ios::binary);
    if (!in) {
        std::cerr << p << ": cannot read\n";
        return false;
    }
    const Bytes input((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    run_one(input);
    ++count;
    return true;
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

int usage() {
    std::cerr << "usage: decode_fuzz_replay FILE_OR_DIR...\n"
                 "       decode_fuzz_replay --random N [SEED]   N mutated built-in seeds\n"
                 "       decode_fuzz_replay --write-seeds DIR   write the seeds as a corpus\n";
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        return usage();
    }
    const std::string mode = argv[1];
    if (mode == "--random") {
        if (argc < 3) {
            return usage();
        }
        const size_t n = std::strtoull(argv[2], nullptr, 10);
        Rng rng{argc > 3 ? std::strtoull(argv[3], nullptr, 10) | 1 : 0x9e3779b97f4a7c15ULL};
        const std::vector<Bytes> seeds = seed_inputs();
        for (const Bytes& s : seeds) {
            run_one(s);
        }
        for (size_t i = 0; i < n; ++i) {
            Bytes input = seeds[rng.below(seeds.size())];
            // Stack mutations now and then, to get further from the seeds.
            const size_t generations = 1 + rng.below(2);
            for (size_t g = 0; g < generations; ++g) {
                input = mutate(input, rng);
            }
            run_one(input);
        }
        std::cout << "decode_fuzz_replay: " << n + seeds.size() << " inputs ok\n";
        print_stats();
        return 0;
    }
    if (mode == "--write-seeds") {
        if (argc < 3) {
            return usage();
        }
        const std::vector<Bytes> seeds = seed_inputs();
        std::filesystem::create_directories(argv[2]);
        for (size_t i = 0; i < seeds.size(); ++i) {
            std::ofstream out(std::filesystem::path(argv[2]) / ("seed" + std::to_string(i)),
                              std::ios::binary);
            out.write(reinterpret_cast<const char*>(seeds[i].data()),
                      static_cast<std::streamsize>(seeds[i].size()));
        }
        std::cout << "wrote " << seeds.size() << " seeds to " << argv[2] << "\n";
        return 0;
    }
    size_t count = 0;
    for (int i = 1; i < argc; ++i) {
        if (!run_path(argv[i], count)) {
            return 1;
        }
    }
    std::cout << "decode_fuzz_replay: " << count << " inputs ok\n";
    print_stats();
    return 0;
}

#endif  // VIGIL_LIBFUZZER
