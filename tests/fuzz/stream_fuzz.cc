// stream_fuzz: one TCP conversation (and one UDP datagram) described by arbitrary bytes, run
// through the flow table, TCP reassembly (small limits, a random overlap policy) and the
// application layer (protocol detection, HTTP/DNS/TLS parsers). It checks what a user relies
// on: no crash or out-of-bounds read (run under ASan/UBSan), views that stay inside their
// window, new bytes never delivered twice, and memory accounting back to zero once the flow
// is gone. Built two ways, like decode_fuzz: libFuzzer with clang, or a replay driver
// (`stream_fuzz_replay --random N`, tests/fuzz/fuzz_driver.h) that mutates built-in HTTP, TLS and
// DNS conversations.
//
// Input: byte 0 picks policy and midstream; then records of
//   [flags: bit0 from server, bit1 SYN, bit2 FIN, bit3 RST, bit4 UDP]
//   [seq delta: int16, relative to the direction's next sequence number] [len] [len bytes].

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "dataplane/app/app_layer.h"
#include "dataplane/app/dns/dns.h"
#include "dataplane/app/http/http.h"
#include "dataplane/app/tls/tls.h"
#include "dataplane/flow_table.h"
#include "dataplane/stream.h"

namespace {

using vigil::dataplane::FlowDir;
using vigil::dataplane::FlowTable;
using vigil::dataplane::IpAddr;
using vigil::dataplane::OsPolicy;
using vigil::dataplane::Packet;
using vigil::dataplane::StreamConfig;
using vigil::dataplane::StreamEngine;
using vigil::dataplane::StreamView;
using vigil::dataplane::app::AppLayer;

constexpr std::array<OsPolicy, 6> kPolicies = {OsPolicy::First,   OsPolicy::Last,
                                               OsPolicy::Linux,   OsPolicy::Bsd,
                                               OsPolicy::Windows, OsPolicy::Solaris};

void check(bool ok) {
    if (!ok) {
        std::abort();  // a fuzzer finding
    }
}

void check_view(const StreamView& v) {
    check(v.new_from <= v.len);
    check(v.len == 0 || v.data != nullptr);
    check(v.pkt_len == 0 || v.pkt_from + v.pkt_len <= v.len);
}

struct Engines {
    explicit Engines(const StreamConfig& sc)
        : stream(sc), flows([] {
              vigil::dataplane::FlowTableConfig c;
              c.capacity = 8;
              return c;
          }()) {}
    // Engines before the table: flows hand their sessions back to them.
    StreamEngine stream;
    AppLayer app;
    FlowTable flows;
};

// What the inputs reached (printed by the replay driver).
struct Reached {
    uint64_t segments = 0, out_of_order = 0, overlap_diff = 0, gaps = 0, http = 0, tls = 0, dns = 0;
} g_reached;

IpAddr v4(uint8_t last) {
    const uint8_t b[4] = {192, 0, 2, last};
    return IpAddr::from_v4(b);
}

}  // namespace

// NOLINTNEXTLINE(readability-identifier-naming): the name libFuzzer calls
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) {
        return 0;
    }
    StreamConfig sc;
    sc.policy.set_default(kPolicies[data[0] % kPolicies.size()]);
    sc.midstream = (data[0] & 0x80) == 0;
    sc.per_flow_ooo_max = 2048;  // limits small enough for inputs to reach them
    sc.memcap = 64 << 10;
    sc.depth = 8192;
    sc.lookback = 64;
    auto e = std::make_unique<Engines>(sc);

    static const std::array<uint8_t, 20> kHdr{};
    std::array<uint32_t, 2> next{1000, 500000};  // next sequence number per direction
    std::array<uint64_t, 2> delivered{};         // new bytes delivered per direction
    size_t i = 1;
    int64_t ts = 1;
    while (i + 4 <= size) {
        const uint8_t flags = data[i];
        const auto delta = static_cast<int16_t>((data[i + 1] << 8) | data[i + 2]);
        const size_t want = data[i + 3];
        i += 4;
        const size_t len = want < size - i ? want : size - i;
        const bool from_server = (flags & 1) != 0;
        Packet p;
        p.ip_version = 4;
        p.src = v4(from_server ? 2 : 1);
        p.dst = v4(from_server ? 1 : 2);
        p.sport = from_server ? 80 : 40000;
        p.dport = from_server ? 40000 : 80;
        p.l3 = kHdr.data();
        p.l4 = kHdr.data();
        p.ts_sec = ts++;
        p.payload = len != 0 ? data + i : nullptr;
        p.payload_len = static_cast<uint32_t>(len);
        i += len;
        if ((flags & 0x10) != 0) {  // a UDP datagram (DNS and detection paths)
            p.ip_proto = vigil::dataplane::kProtoUdp;
            p.sport = from_server ? 53 : 40001;
            p.dport = from_server ? 40001 : 53;
            if (auto* f = e->flows.lookup(p); f != nullptr) {
                e->app.on_udp(*f, p);
            }
            continue;
        }
        p.ip_proto = vigil::dataplane::kProtoTcp;
        // A client SYN carries no ACK (it opens the handshake); everything else does.
        uint8_t tcp = (flags & 3) == 2 ? 0 : vigil::dataplane::kTcpAck;
        tcp |= (flags & 2) != 0 ? vigil::dataplane::kTcpSyn : 0;
        tcp |= (flags & 4) != 0 ? vigil::dataplane::kTcpFin : 0;
        tcp |= (flags & 8) != 0 ? vigil::dataplane::kTcpRst : 0;
        p.tcp_flags = tcp;
        const size_t d = from_server ? 1 : 0;
        p.tcp_seq = next[d] + static_cast<uint32_t>(static_cast<int32_t>(delta));
        if (delta >= 0) {  // the SYN takes one sequence number
            next[d] = p.tcp_seq + static_cast<uint32_t>(len) +
                      ((tcp & vigil::dataplane::kTcpSyn) != 0 ? 1 : 0);
        }
        auto* f = e->flows.lookup(p);
        check(f != nullptr);
        const StreamView v = e->stream.process(*f, p);
        check_view(v);
        if (v.tracked && v.inspect && v.has_new()) {
            delivered[d] += v.len - v.new_from;
            e->app.on_tcp_data(*f, v.dir, v.data + v.new_from, v.len - v.new_from,
                               (v.events & vigil::dataplane::kStreamEvGap) != 0, p);
        }
        if ((tcp & (vigil::dataplane::kTcpFin | vigil::dataplane::kTcpRst)) != 0) {
            for (int holes = 0; holes < 4096; ++holes) {
                const StreamView fv = e->stream.flush(*f, p.dir);
                check_view(fv);
                if (!fv.inspect || !fv.has_new()) {
                    break;
                }
                delivered[d] += fv.len - fv.new_from;
            }
            e->app.on_tcp_close(*f, p.dir, p);
        }
    }
    // Never more new bytes than the depth per direction (each byte is delivered once).
    check(delivered[0] <= sc.depth && delivered[1] <= sc.depth);
    e->flows.flush();
    const auto& st = e->stream.stats();
    check(st.memory_bytes == 0);
    g_reached.segments += st.segments;
    g_reached.out_of_order += st.out_of_order;
    g_reached.overlap_diff += st.overlap_diff;
    g_reached.gaps += st.gaps;
    g_reached.http += e->app.stats().counter(vigil::dataplane::app::AppProto::Http,
                                             vigil::dataplane::app::kHttpRequests);
    g_reached.tls += e->app.stats().counter(vigil::dataplane::app::AppProto::Tls,
                                            vigil::dataplane::app::kTlsClientHellos);
    g_reached.dns += e->app.stats().counter(vigil::dataplane::app::AppProto::Dns,
                                            vigil::dataplane::app::kDnsQueries);
    return 0;
}

#ifndef VIGIL_LIBFUZZER

#include <iostream>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_driver.h"

namespace {

using Bytes = std::vector<uint8_t>;

void record(Bytes& b, uint8_t flags, int16_t delta, const std::string& payload) {
    b.push_back(flags);
    b.push_back(static_cast<uint8_t>(static_cast<uint16_t>(delta) >> 8));
    b.push_back(static_cast<uint8_t>(delta & 0xff));
    b.push_back(static_cast<uint8_t>(payload.size()));
    b.insert(b.end(), payload.begin(), payload.end());
}

// Conversations the mutations start from: an HTTP exchange with a chunked gzip-less body, a
// TLS ClientHello, DNS over TCP and UDP, and an out-of-order overlapping TCP stream.
std::vector<Bytes> seed_inputs() {
    std::vector<Bytes> seeds;
    {
        Bytes b{3};
        record(b, 2, 0, "");
        record(b, 3, 0, "");
        record(b, 0, 0, "GET /a/../b?x=%41 HTTP/1.1\r\nHost: Example.COM:8080\r\n");
        record(b, 0, 0, "Cookie: a=b\r\nContent-Length: 3\r\n\r\nabc");
        record(b, 1, 0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        record(b, 1, 0, "4\r\nbody\r\n0\r\n\r\n");
        record(b, 5, 0, "");
        seeds.push_back(b);
    }
    {
        using namespace std::string_literals;  // "..."s keeps the embedded NULs
        const std::string hello = "\x16\x03\x01\x00\x3d\x01\x00\x00\x39\x03\x03"s +
                                  std::string(32, 'R') +
                                  "\x00\x00\x02\x13\x01\x01\x00\x00\x0e\x00\x00\x00\x0a"
                                  "\x00\x08\x00\x00\x05"
                                  "a.com"s;
        Bytes b{1};
        record(b, 2, 0, "");
        record(b, 0, 0, hello.substr(0, 20));
        record(b, 0, 0, hello.substr(20));
        seeds.push_back(b);
    }
    {
        using namespace std::string_literals;
        const std::string q =
            "\x00\x1d\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
            "\x03www\x07\x65xample\x03\x63om\x00\x00\x01\x00\x01"s;
        Bytes b{2};
        record(b, 2, 0, "");
        record(b, 0, 0, q.substr(0, 7));
        record(b, 0, 0, q.substr(7));
        record(b, 0x10, 0, q.substr(2));
        seeds.push_back(b);
    }
    {
        Bytes b{4};
        record(b, 2, 0, "");
        record(b, 0, 10, "KLMNOPQRST");   // ahead of a hole
        record(b, 0, -12, "xxxxxxxxxx");  // overlapping, different bytes
        record(b, 0, -20, "ABCDEFGHIJ");  // fills the hole
        record(b, 0, -10, "abcdefghij");  // retransmission with new bytes
        record(b, 4, 0, "");
        seeds.push_back(b);
    }
    return seeds;
}

using vigil::fuzz::Rng;

Bytes mutate(const Bytes& seed, Rng& rng) {
    Bytes b = seed;
    const size_t edits = 1 + rng.below(8);
    for (size_t k = 0; k < edits && !b.empty(); ++k) {
        const size_t at = rng.below(b.size());
        switch (rng.below(16)) {  // mostly in-place edits: the record framing survives
            case 0:
            case 1:
            case 2:
            case 3:
            case 4:
            case 5:
            case 6:
                b[at] = static_cast<uint8_t>(rng.next());
                break;
            case 7:
            case 8:
            case 9:
            case 10:
            case 11:
            case 12:
            case 13:
                b[at] ^= static_cast<uint8_t>(1U << rng.below(8));
                break;
            case 14:
                b.insert(b.begin() + static_cast<std::ptrdiff_t>(at),
                         static_cast<uint8_t>(rng.next()));
                break;
            default:
                b.erase(b.begin() + static_cast<std::ptrdiff_t>(at));
                break;
        }
    }
    return b;
}

void report() {
    std::cout << "reached " << g_reached.segments << " segments (" << g_reached.out_of_order
              << " out of order, " << g_reached.overlap_diff << " overlaps with different data, "
              << g_reached.gaps << " gaps), " << g_reached.http << " HTTP requests, "
              << g_reached.tls << " TLS hellos, " << g_reached.dns << " DNS queries\n";
}

}  // namespace

int main(int argc, char** argv) {
    return vigil::fuzz::replay_main(argc, argv,
                                    {"stream_fuzz_replay", seed_inputs(), mutate, report});
}

#endif  // VIGIL_LIBFUZZER
