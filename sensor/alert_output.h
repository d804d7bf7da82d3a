#pragma once
// AlertOutput: the output stage every pipeline shares. Anomaly and flow records are written
// as they are; alerts go through thresholds and suppressions, then are written with their action
// and counted per signature. Runs on the output (control) thread only.

#include <cstdint>
#include <map>
#include <string>
#include <unordered_set>
#include <vector>

#include "rules/rule_parser.h"
#include "rules/ruleset.h"
#include "sensor/alert_filter.h"
#include "sensor/alert_record.h"
#include "sensor/enforcer.h"
#include "sensor/eve_writer.h"

namespace vigil::sensor {

struct SidCount {
    std::string msg;
    uint64_t count = 0;
};

class AlertOutput {
public:
    // ips: drop/reject rules report "blocked". only_enforced: only for records whose packet
    // came in on an inline port (live capture); replay --ips computes verdicts for all.
    AlertOutput(const rules::RuleSetPtr& rules, const rules::Vars& vars, EveWriter& eve, bool ips,
                bool only_enforced);

    struct Written {
        const rules::Rule* rule = nullptr;  // null: an anomaly record, or held back
        bool blocked = false;
    };
    // A blocked alert is followed by a `drop` record. The source of every drop/reject match
    // (in IPS mode) goes to the enforcer, when there is one, with the rule's block timeout.
    Written write(const AlertRecord& a);
    void set_enforcer(Enforcer* e) { enforcer_ = e; }
    // Flow records are written (outputs.eve.flow): remember which flows had an alert written
    // until their record says so (flow.alerted), then forget them.
    void set_flow_records(bool on) { flow_records_ = on; }
    // Suricata's packet-alert-max: at most this many alerts of one packet are written (the
    // first in rule evaluation order, after thresholds); the rest are counted in
    // alert_queue_overflow(). A drop verdict stands whether or not its alert is written.
    void set_packet_alert_max(uint32_t n) { packet_alert_max_ = n; }
    // A reload: alerts are filtered and written with `rules` (and `vars`) from now on, the
    // threshold state carrying over. Records that matched in an earlier set and are still in
    // flight find their rule in it until release_earlier_sets().
    void swap_rules(const rules::RuleSetPtr& rules, const rules::Vars& vars);
    // Every worker has switched and its alerts from before the switch were written.
    void release_earlier_sets() { earlier_.clear(); }
    const rules::RuleSetPtr& rules() const { return rules_; }

    uint64_t alerts() const { return alerts_; }
    uint64_t anomalies() const { return anomalies_; }
    uint64_t tagged_packets() const { return tagged_; }
    uint64_t flows() const { return flows_; }  // flow records written
    uint64_t drops() const { return drops_; }
    uint64_t suppressed() const { return filter_.suppressed(); }
    uint64_t alert_queue_overflow() const { return overflow_; }
    const std::map<uint32_t, SidCount>& by_sid() const { return by_sid_; }
    // Alerts whose rule (gid, sid) the current rule set does not have (after a swap).
    uint64_t unknown_rules() const { return unknown_rules_; }

private:
    rules::RuleSetPtr rules_;
    std::vector<rules::RuleSetPtr> earlier_;  // sets replaced by a reload still in flight
    EveWriter& eve_;
    AlertFilter filter_;
    bool ips_;
    bool only_enforced_;
    Enforcer* enforcer_ = nullptr;
    uint64_t alerts_ = 0;
    uint64_t anomalies_ = 0;
    uint64_t tagged_ = 0;
    uint64_t flows_ = 0;
    bool flow_records_ = false;
    std::unordered_set<uint64_t> alerted_flows_;  // flow ids, while flow records are on
    uint64_t drops_ = 0;
    uint64_t unknown_rules_ = 0;
    std::map<uint32_t, SidCount> by_sid_;
    uint32_t packet_alert_max_ = 15;
    uint64_t overflow_ = 0;
    // The packet whose alerts are being written (records of one packet are consecutive).
    uint64_t cap_seq_ = UINT64_MAX;
    int64_t cap_sec_ = 0;
    uint32_t cap_usec_ = 0;
    uint32_t cap_count_ = 0;
};

}  // namespace vigil::sensor
