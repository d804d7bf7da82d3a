#pragma once
// Worker: one detection thread's state. Owns its flow table and Matcher (Hyperscan scratch),
// so nothing on the per-packet path is shared, locked or allocated.

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "common/result.h"
#include "dataplane/flow_table.h"
#include "dataplane/packet.h"
#include "rules/ruleset.h"
#include "sensor/alert_record.h"

namespace vigil::sensor {

struct WorkerStats {
    uint64_t packets = 0;
};

class Worker {
public:
    static Result<std::unique_ptr<Worker>> create(uint32_t id, rules::RuleSetPtr rules,
                                                  const dataplane::FlowTableConfig& flows);

    // Flow tracking and detection for decoded packets; alerts are appended to `out`.
    void process(std::span<dataplane::Packet> pkts, std::vector<AlertRecord>& out);

    // Drops all flow state (end of input, or a new independent capture file).
    void reset_flows();

    // Swaps in a matcher for a new rule set; call between bursts only (reload).
    void set_matcher(rules::MatcherPtr&& m) { matcher_ = std::move(m); }

    uint32_t id() const { return id_; }
    const WorkerStats& stats() const { return stats_; }
    const dataplane::FlowStats& flow_stats() const { return flows_.stats(); }
    const rules::MatcherStats& matcher_stats() const { return matcher_->stats(); }

private:
    Worker(uint32_t id, const dataplane::FlowTableConfig& flows);

    uint32_t id_;
    dataplane::FlowTable flows_;
    rules::MatcherPtr matcher_;
    WorkerStats stats_{};
};
using WorkerPtr = std::unique_ptr<Worker>;

}  // namespace vigil::sensor
