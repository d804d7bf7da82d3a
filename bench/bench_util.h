#pragma once
// Shared by the benchmark programs: every packet of a pcap, decoded and given its flow
// direction (a flow table of its own), handed to a callback.

#include <array>
#include <cstdio>
#include <string>

#include "dataplane/decode.h"
#include "dataplane/flow_table.h"
#include "dataplane/pcap_mmap_source.h"
#include "rules/rule_parser.h"
#include "rules/ruleset.h"

namespace vigil::bench {

// One line: what loaded, how it compiled.
inline void print_rules_summary(const rules::LoadReport& report, const rules::RuleSetStats& st) {
    std::printf(
        "rules: %zu loaded, %zu rejected; %zu by fast pattern, %zu pcre prefilter, "
        "%zu header-only (%zu by address); %zu databases (%.1f MiB), compile %.2f s\n",
        report.loaded, report.rejected.size(), st.prefiltered, st.pcre_prefilter, st.always_check,
        st.address_indexed_rules, st.databases, static_cast<double>(st.database_bytes) / 1048576.0,
        st.compile_seconds);
}

// fn(const dataplane::Packet&, const dataplane::Flow* flow) for each frame (flow null for
// non-IP). False (message printed) when the file cannot be opened.
template <typename Fn>
bool for_each_packet(const std::string& pcap, Fn&& fn) {
    auto src = dataplane::open_pcap_file(pcap);
    if (!src) {
        std::fprintf(stderr, "%s\n", src.error().message.c_str());
        return false;
    }
    dataplane::FlowTable flows(dataplane::FlowTableConfig{1u << 20, {}});
    std::array<dataplane::RawFrame, 32> frames{};
    for (;;) {
        const size_t n = (*src)->next_burst(frames);
        if (n == 0) {
            return true;
        }
        for (size_t i = 0; i < n; ++i) {
            dataplane::Packet p = dataplane::packet_from_frame(frames[i], 0);
            dataplane::decode(frames[i].link, p);
            const dataplane::Flow* f = p.ip_version != 0 ? flows.lookup(p) : nullptr;
            fn(p, f);
        }
    }
}

}  // namespace vigil::bench
