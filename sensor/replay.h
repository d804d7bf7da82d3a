#pragma once
// Replay: reads pcap files, decodes, spreads flows over N worker threads by a symmetric
// hash, merges their alerts back into packet order, applies thresholds and writes EVE JSON.
// The same alerts come out for any number of workers.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "rules/rule_parser.h"
#include "rules/ruleset.h"
#include "sensor/alert_output.h"
#include "sensor/enforcer.h"
#include "sensor/eve_writer.h"
#include "sensor/expect.h"
#include "sensor/worker.h"

namespace vigil::sensor {

struct ReplayOptions {
    std::vector<std::string> pcaps;  // files, in replay order
    uint32_t workers = 1;
    bool ips = false;                // drop/reject rules report action "blocked"
    uint32_t packet_alert_max = 15;  // alerts written per packet at most
    bool progress = false;           // progress line on stderr
    bool collect_alerts = false;     // keep ObservedAlert per file (for --expect)
    PipelineConfig pipeline{};
    Enforcer* enforcer = nullptr;  // --nft: blocked sources go to nftables
};

struct FileResult {
    std::string path;
    uint64_t packets = 0;
    std::string error;  // truncated/corrupt: "<file>: ... at offset N"
    std::vector<ObservedAlert> alerts;
};

struct ReplayResult {
    SensorCounters counters{};
    std::map<uint32_t, SidCount> by_sid;  // alerts written, per sid
    std::vector<FileResult> files;
    bool input_error = false;  // some file was unreadable, truncated or corrupt
    bool enforcing = false;
    EnforcerStats enforcement{};
    int64_t last_ts_sec = 0;
    uint32_t last_ts_usec = 0;
};

Result<ReplayResult> run_replay(const ReplayOptions& opts, const rules::RuleSetPtr& rules,
                                const rules::Vars& vars, EveWriter& eve);

// Rates are shown only for runs at least this long: over a few milliseconds they measure
// start-up and file opening, not the pipeline.
inline constexpr double kMinThroughputSeconds = 1.0;

// Human summary (packets, flows, alerts by signature, throughput).
std::string format_summary(const ReplayResult& r);
// Its part after the packet and throughput lines (decode, flows, alerts, stream, defrag,
// app layer, alerts by signature): shared with `run`.
std::string format_pipeline_summary(const SensorCounters& c,
                                    const std::map<uint32_t, SidCount>& by_sid);

}  // namespace vigil::sensor
