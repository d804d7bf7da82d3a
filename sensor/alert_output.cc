#include "sensor/alert_output.h"

namespace vigil::sensor {

AlertOutput::AlertOutput(const rules::RuleSetPtr& rules, const rules::Vars& vars, EveWriter& eve,
                         bool ips, bool only_enforced)
    : rules_(rules), eve_(eve), filter_(*rules, vars), ips_(ips), only_enforced_(only_enforced) {}

void AlertOutput::swap_rules(const rules::RuleSetPtr& rules, const rules::Vars& vars) {
    earlier_.push_back(rules_);
    rules_ = rules;
    filter_.rebind(*rules_, vars);
}

AlertOutput::Written AlertOutput::write(const AlertRecord& a) {
    Written w;
    if (a.is_anomaly()) {
        eve_.write_anomaly(a);
        ++anomalies_;
        return w;
    }
    if (a.is_flow_end()) {
        // A flow's alerts come before its record: the same worker raised them, in order.
        eve_.write_flow(a, alerted_flows_.erase(a.flow_id) != 0);
        ++flows_;
        return w;
    }
    if (a.tagged_packet) {
        eve_.write_packet(a);
        ++tagged_;
        return w;
    }
    if (!filter_.pass(a)) {
        return w;
    }
    if (a.seq != cap_seq_ || a.ts_sec != cap_sec_ || a.ts_usec != cap_usec_) {
        cap_seq_ = a.seq;
        cap_sec_ = a.ts_sec;
        cap_usec_ = a.ts_usec;
        cap_count_ = 0;
    }
    if (cap_count_ >= packet_alert_max_) {
        ++overflow_;
        return w;
    }
    ++cap_count_;
    // The rule as it was in the set it matched in, when that set is still here (a record in
    // flight across a reload); else the current set's rule of the same (gid, sid).
    const rules::RuleSet* set = rules_.get();
    std::optional<uint32_t> ri;
    for (const auto& e : earlier_) {
        if (e->id() == a.ruleset_id && a.rule_order < e->size()) {
            set = e.get();
            ri = a.rule_order;
            break;
        }
    }
    if (!ri) {
        ri = rule_index(*rules_, a);
    }
    if (!ri) {
        ++unknown_rules_;  // matched in a rule set that is gone, by a rule it no longer has
        return w;
    }
    const rules::Rule& r = set->rule(*ri);
    w.rule = &r;
    // A rate_filter may have changed the action of this match (decided on the worker).
    const auto action = a.rate_changed ? static_cast<rules::Action>(a.rate_action) : r.action;
    const bool drops = action == rules::Action::Drop || action == rules::Action::Reject;
    w.blocked = ips_ && (a.enforced || !only_enforced_) && drops;
    const bool dropped = a.packet_dropped && (a.enforced || !only_enforced_);
    eve_.write_alert(a, r, w.blocked, dropped && ips_ ? "drop" : "alert");
    ++alerts_;
    if (flow_records_ && a.has_flow) {
        alerted_flows_.insert(a.flow_id);
    }
    if (w.blocked) {
        eve_.write_drop(a);
        ++drops_;
    }
    // The source is blocked in nftables on a drop/reject match even where the packet itself
    // could not be dropped (an IDS port on the host that routes the traffic).
    if (enforcer_ != nullptr && ips_ && drops) {
        enforcer_->block(a.src, rule_block_timeout(r.metadata), r.sid, a.verdict_ns);
    }
    auto& sc = by_sid_[r.sid];
    sc.msg = r.msg;
    ++sc.count;
    return w;
}

}  // namespace vigil::sensor
