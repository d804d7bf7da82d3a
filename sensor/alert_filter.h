#pragma once
// AlertFilter: threshold, detection_filter and suppress, applied to alerts in packet order on
// the output thread. Doing it after the merge (not per worker) keeps the result identical
// for any number of workers: flows of one source address may land on different workers.

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "rules/rule_parser.h"
#include "rules/ruleset.h"
#include "sensor/alert_record.h"

namespace vigil::sensor {

// The index of a record's rule in `rules`: its evaluation-order place when it matched in
// this same set, else looked up by (gid, sid); nullopt when the set has no such rule.
std::optional<uint32_t> rule_index(const rules::RuleSet& rules, const AlertRecord& a);

class AlertFilter {
public:
    AlertFilter(const rules::RuleSet& rules, const rules::Vars& vars);
    // A reload: the thresholds and suppressions of the new set (and vars) from now on. The
    // counting state carries over for rules that still exist: it is keyed by (gid, sid).
    void rebind(const rules::RuleSet& rules, const rules::Vars& vars);

    // True when the alert is to be written; false when a threshold or suppression holds it.
    bool pass(const AlertRecord& a);

    uint64_t suppressed() const { return suppressed_; }

private:
    struct Key {
        uint32_t gid;  // threshold state follows the rule, not its place in one set
        uint32_t sid;
        uint8_t kind;  // 0 threshold, 1 detection_filter
        dataplane::IpAddr a;
        dataplane::IpAddr b;
        uint64_t flow;
        bool operator==(const Key&) const = default;
    };
    struct KeyHash {
        size_t operator()(const Key& k) const;
    };
    struct State {
        int64_t first_sec = 0;
        uint32_t first_usec = 0;
        uint32_t count = 0;
        uint32_t next = 0;            // backoff: the match count that alerts next
        std::vector<uint16_t> ports;  // detection_filter unique_on: the ports seen (sorted)
    };

    bool apply(const rules::Threshold& t, uint8_t kind, const AlertRecord& a);

    const rules::RuleSet* rules_;
    std::vector<const rules::Threshold*> threshold_;         // by rule index, may be null
    std::vector<const rules::Threshold*> detection_filter_;  // by rule index, may be null
    std::vector<std::vector<const rules::Suppression*>> suppress_;
    std::vector<rules::Threshold> overrides_;
    std::vector<rules::Suppression> suppressions_;
    std::unordered_map<Key, State, KeyHash> state_;
    uint64_t suppressed_ = 0;
};

}  // namespace vigil::sensor
