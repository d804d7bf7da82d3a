// stream_mode_bench: how to find patterns that span TCP segments — the measurement behind
// Vigil's choice (docs/design.md, "Streams"). On the same TCP payloads, in stream order per
// flow direction, with one Hyperscan database built from the rules' fast patterns:
//   (a) block mode on each segment alone (no cross-segment matches: the baseline),
//   (b) block mode on a window: up to LOOKBACK old bytes + the segment (what Vigil does),
//   (c) Hyperscan streaming mode: one stream per flow direction, each segment scanned into it.
// Prints times, the ratio of each to (a), matches found, and streaming mode's state per stream.

#include <hs/hs.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "dataplane/decode.h"
#include "dataplane/flow_table.h"
#include "dataplane/pcap_mmap_source.h"
#include "rules/compiled.h"
#include "rules/ruleset.h"

#include "bench/bench_util.h"

using namespace vigil;
using Clock = std::chrono::steady_clock;

namespace {

struct Segment {
    uint32_t stream;  // flow direction index
    std::vector<uint8_t> data;
};

int count_match(unsigned, unsigned long long, unsigned long long, unsigned, void* ctx) {
    ++*static_cast<uint64_t*>(ctx);
    return 0;
}

std::string hex_escape(const std::string& bytes) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out += "\\x";
        out += kHex[c >> 4];
        out += kHex[c & 15];
    }
    return out;
}

hs_database_t* compile(const std::vector<std::string>& exprs, const std::vector<unsigned>& flags,
                       unsigned mode) {
    std::vector<const char*> c;
    std::vector<unsigned> ids;
    for (size_t i = 0; i < exprs.size(); ++i) {
        c.push_back(exprs[i].c_str());
        ids.push_back(static_cast<unsigned>(i));
    }
    hs_database_t* db = nullptr;
    hs_compile_error_t* err = nullptr;
    if (hs_compile_multi(c.data(), flags.data(), ids.data(), static_cast<unsigned>(c.size()), mode,
                         nullptr, &db, &err) != HS_SUCCESS) {
        std::fprintf(stderr, "hyperscan: %s\n", err != nullptr ? err->message : "?");
        hs_free_compile_error(err);
        std::exit(1);
    }
    return db;
}

}  // namespace

int main(int argc, char** argv) {
    std::string pcap;
    std::string rules_path;
    uint32_t lookback = 512;
    int repeat = 3;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (a == "--pcap") {
            pcap = next();
        } else if (a == "--rules") {
            rules_path = next();
        } else if (a == "--lookback") {
            lookback = static_cast<uint32_t>(std::atoi(next().c_str()));
        } else if (a == "--repeat") {
            repeat = std::max(1, std::atoi(next().c_str()));
        } else {
            pcap.clear();
            break;
        }
    }
    if (pcap.empty() || rules_path.empty()) {
        std::fprintf(stderr,
                     "usage: stream_mode_bench --pcap FILE --rules FILE|DIR [--lookback N] "
                     "[--repeat K]\n");
        return 2;
    }

    // The fast patterns of the TCP-capable rules with payload: one database, both modes.
    rules::LoadReport report;
    auto rs = rules::RuleSet::load({rules_path}, rules::default_vars(), report);
    if (!rs) {
        std::fprintf(stderr, "%s\n", rs.error().message.c_str());
        return 2;
    }
    std::map<std::pair<std::string, unsigned>, bool> seen;
    std::vector<std::string> exprs;
    std::vector<unsigned> flags;
    for (const auto& crp : (*rs)->compiled()) {
        const rules::CompiledRule& cr = *crp;
        if (cr.app_rule) {
            continue;
        }
        const rules::CContent* best = nullptr;
        for (const auto& op : cr.ops) {
            const auto* c = std::get_if<rules::CContent>(&op);
            if (c != nullptr && !c->src.negated &&
                (best == nullptr || c->src.bytes.size() > best->src.bytes.size())) {
                best = c;
            }
        }
        if (best == nullptr || best->src.bytes.empty()) {
            continue;
        }
        const unsigned f = HS_FLAG_SINGLEMATCH | (best->src.nocase ? HS_FLAG_CASELESS : 0);
        if (seen.emplace(std::make_pair(best->src.bytes, f), true).second) {
            exprs.push_back(hex_escape(best->src.bytes));
            flags.push_back(f);
        }
    }
    hs_database_t* block = compile(exprs, flags, HS_MODE_BLOCK);
    hs_database_t* streaming = compile(exprs, flags, HS_MODE_STREAM);
    hs_scratch_t* scratch = nullptr;
    hs_alloc_scratch(block, &scratch);
    hs_alloc_scratch(streaming, &scratch);
    size_t stream_state = 0;
    hs_stream_size(streaming, &stream_state);

    // TCP payloads in order, tagged with their flow direction.
    std::vector<Segment> segs;
    std::map<std::pair<uint64_t, int>, uint32_t> stream_ids;
    uint64_t bytes = 0;
    const bool read_ok =
        bench::for_each_packet(pcap, [&](const dataplane::Packet& p, const dataplane::Flow* f) {
            if (!p.has_tcp() || p.payload_len == 0 || f == nullptr) {
                return;
            }
            const auto key = std::make_pair(f->flow_id, static_cast<int>(p.dir));
            auto it = stream_ids.try_emplace(key, static_cast<uint32_t>(stream_ids.size()));
            segs.push_back(Segment{it.first->second, {p.payload, p.payload + p.payload_len}});
            bytes += p.payload_len;
        });
    if (!read_ok) {
        return 2;
    }
    const size_t nstreams = stream_ids.size();
    std::printf("input: %zu TCP segments, %.1f MB payload, %zu flow directions; %zu patterns\n",
                segs.size(), static_cast<double>(bytes) / 1e6, nstreams, exprs.size());

    auto best_of = [&](auto&& fn) {
        double best = 1e30;
        uint64_t matches = 0;
        for (int r = 0; r < repeat; ++r) {
            matches = 0;
            const auto t0 = Clock::now();
            fn(matches);
            best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
        }
        return std::make_pair(best, matches);
    };

    // (a) each segment alone
    const auto [t_seg, m_seg] = best_of([&](uint64_t& m) {
        for (const auto& s : segs) {
            hs_scan(block, reinterpret_cast<const char*>(s.data.data()),
                    static_cast<unsigned>(s.data.size()), 0, scratch, count_match, &m);
        }
    });
    // (b) window: lookback old bytes + the segment, copied together (as the stream engine's
    // window buffer holds them)
    const auto [t_win, m_win] = best_of([&](uint64_t& m) {
        std::vector<std::vector<uint8_t>> tails(nstreams);
        std::vector<uint8_t> win;
        for (const auto& s : segs) {
            auto& tail = tails[s.stream];
            win.assign(tail.begin(), tail.end());
            win.insert(win.end(), s.data.begin(), s.data.end());
            hs_scan(block, reinterpret_cast<const char*>(win.data()),
                    static_cast<unsigned>(win.size()), 0, scratch, count_match, &m);
            const size_t keep = std::min<size_t>(lookback, win.size());
            tail.assign(win.end() - static_cast<std::ptrdiff_t>(keep), win.end());
        }
    });
    // (b') the same windows built beforehand: the scan alone (Vigil's stream engine builds
    // the window for reassembly anyway, so this is what choosing windows costs detection)
    std::vector<std::vector<uint8_t>> windows;
    {
        std::vector<std::vector<uint8_t>> tails(nstreams);
        for (const auto& s : segs) {
            auto& tail = tails[s.stream];
            std::vector<uint8_t> win(tail.begin(), tail.end());
            win.insert(win.end(), s.data.begin(), s.data.end());
            const size_t keep = std::min<size_t>(lookback, win.size());
            tail.assign(win.end() - static_cast<std::ptrdiff_t>(keep), win.end());
            windows.push_back(std::move(win));
        }
    }
    const auto [t_scan, m_scan] = best_of([&](uint64_t& m) {
        for (const auto& w : windows) {
            hs_scan(block, reinterpret_cast<const char*>(w.data()), static_cast<unsigned>(w.size()),
                    0, scratch, count_match, &m);
        }
    });
    // (c) streaming mode: one open stream per flow direction, all open at once (as they would
    // be for concurrent flows)
    const auto [t_str, m_str] = best_of([&](uint64_t& m) {
        std::vector<hs_stream_t*> streams(nstreams, nullptr);
        for (const auto& s : segs) {
            hs_stream_t*& st = streams[s.stream];
            if (st == nullptr) {
                hs_open_stream(streaming, 0, &st);
            }
            hs_scan_stream(st, reinterpret_cast<const char*>(s.data.data()),
                           static_cast<unsigned>(s.data.size()), 0, scratch, count_match, &m);
        }
        for (hs_stream_t* st : streams) {
            hs_close_stream(st, scratch, count_match, &m);
        }
    });
    std::printf("(a) block, each segment alone:        %7.3f s  %6.2f Gbit/s  %8llu matches\n",
                t_seg, static_cast<double>(bytes) * 8 / t_seg / 1e9,
                static_cast<unsigned long long>(m_seg));
    std::printf(
        "(b) block, %4u-byte lookback window:  %7.3f s  %6.2f Gbit/s  %8llu matches  "
        "time x%.2f of (a)\n",
        lookback, t_win, static_cast<double>(bytes) * 8 / t_win / 1e9,
        static_cast<unsigned long long>(m_win), t_win / t_seg);
    std::printf(
        "(b') the same windows, scan only:     %7.3f s  %6.2f Gbit/s  %8llu matches  "
        "time x%.2f of (a)\n",
        t_scan, static_cast<double>(bytes) * 8 / t_scan / 1e9,
        static_cast<unsigned long long>(m_scan), t_scan / t_seg);
    std::printf(
        "(c) streaming mode:                   %7.3f s  %6.2f Gbit/s  %8llu matches  "
        "time x%.2f of (a)\n",
        t_str, static_cast<double>(bytes) * 8 / t_str / 1e9, static_cast<unsigned long long>(m_str),
        t_str / t_seg);
    std::printf(
        "streaming state: %zu bytes per stream per database; %zu flow directions open "
        "-> %.1f MiB (x databases in use: Vigil has one per port group and buffer)\n",
        stream_state, nstreams, static_cast<double>(stream_state * nstreams) / 1048576.0);
    std::printf(
        "(b) finds matches again in retained bytes (Vigil drops those that end before "
        "the new bytes); (c) needs the bytes kept anyway for confirm programs.\n");
    hs_free_scratch(scratch);
    hs_free_database(block);
    hs_free_database(streaming);
    return 0;
}
