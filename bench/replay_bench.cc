// replay_bench: measures, in one run on the same input, (1) raw hs_scan over the payload
// bytes of every packet with the exact database the pipeline would pick for it, and (2) the
// whole replay pipeline (read, decode, flows, Hyperscan + confirm, EVE to /dev/null) with 1..N
// workers. Prints throughputs and their ratio: shared noisy machines make absolute numbers
// unreliable, the ratio much less so.

#include <hs/hs.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "dataplane/app/dns/dns.h"
#include "dataplane/app/http/http.h"
#include "dataplane/app/tls/tls.h"
#include "dataplane/decode.h"
#include "dataplane/flow_table.h"
#include "dataplane/pcap_mmap_source.h"
#include "rules/compiled.h"
#include "rules/ruleset.h"
#include "sensor/eve_writer.h"
#include "sensor/replay.h"

#include "bench/bench_util.h"

using namespace vigil;
using Clock = std::chrono::steady_clock;

namespace {

int usage() {
    std::fprintf(stderr,
                 "usage: replay_bench --pcap FILE --rules FILE|DIR [--rules ...] [--vars FILE]\n"
                 "                    [--workers N[,N...]] [--repeat K] [--layers on|off|both]\n"
                 "  --layers: TCP reassembly, defragmentation and the application layer on,\n"
                 "            off (packets only, as before them), or both (default: both)\n");
    return 2;
}

int on_match(unsigned, unsigned long long, unsigned long long, unsigned, void*) {
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::string pcap;
    std::vector<std::string> rule_paths;
    std::string vars_path;
    std::vector<uint32_t> worker_counts{1, 2};
    int repeat = 3;
    std::string layers = "both";
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (a == "--pcap") {
            pcap = next();
        } else if (a == "--rules") {
            rule_paths.push_back(next());
        } else if (a == "--vars") {
            vars_path = next();
        } else if (a == "--workers") {
            worker_counts.clear();
            std::string s = next();
            for (size_t p = 0; p < s.size();) {
                worker_counts.push_back(static_cast<uint32_t>(std::atoi(s.c_str() + p)));
                p = s.find(',', p);
                p = p == std::string::npos ? s.size() : p + 1;
            }
        } else if (a == "--layers") {
            layers = next();
            if (layers != "on" && layers != "off" && layers != "both") {
                return usage();
            }
        } else if (a == "--repeat") {
            repeat = std::max(1, std::atoi(next().c_str()));
        } else {
            return usage();
        }
    }
    if (pcap.empty() || rule_paths.empty()) {
        return usage();
    }
    auto vars = vars_path.empty() ? Result<rules::Vars>(rules::default_vars())
                                  : rules::load_vars(vars_path);
    if (!vars) {
        std::fprintf(stderr, "%s\n", vars.error().message.c_str());
        return 2;
    }
    rules::LoadReport report;
    auto rs = rules::RuleSet::load(rule_paths, *vars, report);
    if (!rs) {
        std::fprintf(stderr, "%s\n", rs.error().message.c_str());
        return 2;
    }
    const auto& st = (*rs)->stats();
    bench::print_rules_summary(report, st);

    // Load every packet once: payload bytes and the group the pipeline would choose for it.
    // Direction matters for group choice, so run the packets through a flow table first.
    struct Item {
        std::vector<uint8_t> payload;
        const rules::RuleGroup* group;
    };
    std::vector<Item> items;
    uint64_t pcap_bytes = 0;
    uint64_t payload_bytes = 0;
    uint64_t packets = 0;
    const bool read_ok =
        bench::for_each_packet(pcap, [&](const dataplane::Packet& p, const dataplane::Flow*) {
            ++packets;
            pcap_bytes += p.cap_len;
            if (p.ip_version == 0 || p.payload_len == 0) {
                return;
            }
            payload_bytes += p.payload_len;
            items.push_back(Item{{p.payload, p.payload + p.payload_len}, &(*rs)->group_for(p)});
        });
    if (!read_ok) {
        return 2;
    }
    std::printf("input: %s: %llu packets, %.1f MB pcap, %.1f MB payload\n", pcap.c_str(),
                static_cast<unsigned long long>(packets), static_cast<double>(pcap_bytes) / 1e6,
                static_cast<double>(payload_bytes) / 1e6);

    // (1) raw Hyperscan over the same bytes with the same databases.
    auto m = rules::Matcher::create(*rs);  // only for a scratch sized for every database
    hs_scratch_t* scratch = nullptr;
    for (const auto& g : (*rs)->groups()) {
        if (g.db) {
            hs_alloc_scratch(g.db.get(), &scratch);
        }
    }
    double best_hs = 1e30;
    for (int r = 0; r < repeat; ++r) {
        const auto t0 = Clock::now();
        for (const auto& it : items) {
            if (it.group->db) {
                hs_scan(it.group->db.get(), reinterpret_cast<const char*>(it.payload.data()),
                        static_cast<unsigned>(it.payload.size()), 0, scratch, on_match, nullptr);
            }
        }
        best_hs = std::min(best_hs, std::chrono::duration<double>(Clock::now() - t0).count());
    }
    hs_free_scratch(scratch);
    std::printf("raw hs_scan:   %7.3f s  %6.2f Gbit/s of pcap bytes (%6.2f Gbit/s of payload)\n",
                best_hs, static_cast<double>(pcap_bytes) * 8 / best_hs / 1e9,
                static_cast<double>(payload_bytes) * 8 / best_hs / 1e9);

    // (2) the full replay pipeline, best of `repeat`; with the stream layers (reassembly,
    // defrag, app layer) on and off, so their cost is a ratio measured in this run.
    std::vector<bool> modes;
    if (layers != "off") {
        modes.push_back(true);
    }
    if (layers != "on") {
        modes.push_back(false);
    }
    for (uint32_t w : worker_counts) {
        double on_s = 0;
        double off_s = 0;
        for (bool on : modes) {
            double best = 1e30;
            uint64_t alerts = 0;
            sensor::SensorCounters c{};
            for (int r = 0; r < repeat; ++r) {
                auto eve = sensor::EveWriter::open("/dev/null", "bench");
                sensor::ReplayOptions opts;
                opts.pcaps = {pcap};
                opts.workers = w;
                opts.pipeline.stream_enabled = on;
                opts.pipeline.defrag_enabled = on;
                opts.pipeline.app.enabled = on;
                auto res = sensor::run_replay(opts, *rs, *vars, **eve);
                if (!res) {
                    std::fprintf(stderr, "%s\n", res.error().message.c_str());
                    return 1;
                }
                best = std::min(best, res->counters.seconds);
                alerts = res->counters.alerts;
                c = res->counters;
            }
            (on ? on_s : off_s) = best;
            std::printf(
                "replay %u worker%s, layers %-3s: %7.3f s  %6.2f Gbit/s  %8.0f packets/s  alerts "
                "%llu  ratio to raw hs_scan %.2f\n",
                w, w == 1 ? " " : "s", on ? "on" : "off", best,
                static_cast<double>(pcap_bytes) * 8 / best / 1e9,
                static_cast<double>(packets) / best, static_cast<unsigned long long>(alerts),
                best_hs / best);
            if (on) {
                std::printf(
                    "    stream: %llu sessions, %llu segments, %llu out of order, peak %.1f MiB; "
                    "app: http %llu req, dns %llu, tls %llu hellos\n",
                    static_cast<unsigned long long>(c.stream.sessions),
                    static_cast<unsigned long long>(c.stream.segments),
                    static_cast<unsigned long long>(c.stream.out_of_order),
                    static_cast<double>(c.stream.memory_peak) / 1048576.0,
                    static_cast<unsigned long long>(c.app.counter(dataplane::app::AppProto::Http,
                                                                  dataplane::app::kHttpRequests)),
                    static_cast<unsigned long long>(
                        c.app.counter(dataplane::app::AppProto::Dns, dataplane::app::kDnsQueries)),
                    static_cast<unsigned long long>(c.app.counter(
                        dataplane::app::AppProto::Tls, dataplane::app::kTlsClientHellos)));
            }
        }
        if (on_s > 0 && off_s > 0) {
            std::printf(
                "    cost of reassembly + app layer with %u worker%s: %.0f%% of throughput "
                "(on/off time ratio %.2f)\n",
                w, w == 1 ? "" : "s", (1.0 - off_s / on_s) * 100.0, on_s / off_s);
        }
    }
    return 0;
}
