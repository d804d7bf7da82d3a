#pragma once
// RateFilter: threshold.config's rate_filter, decided on the workers because it changes a
// match's action, which the packet's verdict (IPS) depends on. One instance is shared by all
// workers (flows of one address may land on different workers); its lock is taken only for
// matches of rules that have a rate_filter.

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "dataplane/packet.h"
#include "rules/rule_parser.h"

namespace vigil::sensor {

class RateFilter {
public:
    explicit RateFilter(const rules::Vars& vars) { rebind(vars); }
    // A reload: the rate_filter lines of the new vars from now on; the state of filters
    // that remain (same gid, sid) carries over.
    void rebind(const rules::Vars& vars);

    // A match of rule (gid, sid) on `pkt`: the action it takes instead of the rule's own
    // (nullopt: no rate_filter for the rule, or not in effect). Counts the match.
    std::optional<rules::Action> apply(uint32_t gid, uint32_t sid, const dataplane::Packet& pkt);

    // Matches whose action a rate_filter changed.
    uint64_t changed() const { return changed_.load(std::memory_order_relaxed); }

private:
    struct Key {
        uint32_t gid;
        uint32_t sid;
        dataplane::IpAddr a;
        dataplane::IpAddr b;
        bool operator==(const Key&) const = default;
    };
    struct KeyHash {
        size_t operator()(const Key& k) const;
    };
    struct State {
        int64_t window_start_us = 0;   // first match of the current `seconds` window
        uint32_t count = 0;            // matches in that window
        int64_t action_since_us = -1;  // new_action in effect since (-1: not in effect)
    };

    // Past this many tracked keys, those that no longer count anything are dropped.
    static constexpr size_t kPruneAt = 65536;
    void prune(int64_t now);

    std::atomic<bool> any_{false};
    std::atomic<uint64_t> changed_{0};
    std::mutex mu_;
    std::map<std::pair<uint32_t, uint32_t>, rules::RateFilter> filters_;
    std::unordered_map<Key, State, KeyHash> state_;
};

}  // namespace vigil::sensor
