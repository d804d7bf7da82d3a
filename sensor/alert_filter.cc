#include "sensor/alert_filter.h"

#include <algorithm>
#include <cstring>

namespace vigil::sensor {

using rules::Threshold;

size_t AlertFilter::KeyHash::operator()(const Key& k) const {
    uint64_t h = 1469598103934665603ULL;
    auto mix = [&h](const void* p, size_t n) {
        const auto* b = static_cast<const uint8_t*>(p);
        for (size_t i = 0; i < n; ++i) {
            h = (h ^ b[i]) * 1099511628211ULL;
        }
    };
    mix(&k.gid, sizeof(k.gid));
    mix(&k.sid, sizeof(k.sid));
    mix(&k.kind, sizeof(k.kind));
    mix(k.a.b.data(), 16);
    mix(k.b.b.data(), 16);
    mix(&k.flow, sizeof(k.flow));
    return h;
}

std::optional<uint32_t> rule_index(const rules::RuleSet& rules, const AlertRecord& a) {
    if (a.ruleset_id == rules.id() && a.rule_order < rules.size()) {
        return a.rule_order;
    }
    return rules.index_of(a.gid, a.sid);
}

AlertFilter::AlertFilter(const rules::RuleSet& rules, const rules::Vars& vars) {
    rebind(rules, vars);
}

void AlertFilter::rebind(const rules::RuleSet& rules, const rules::Vars& vars) {
    rules_ = &rules;
    const size_t n = rules.size();
    threshold_.assign(n, nullptr);
    detection_filter_.assign(n, nullptr);
    suppress_.assign(n, {});
    overrides_.clear();
    overrides_.reserve(vars.threshold_overrides.size());
    suppressions_ = vars.suppressions;
    for (uint32_t i = 0; i < n; ++i) {
        const rules::Rule& r = rules.rule(i);
        if (r.threshold) {
            threshold_[i] = &*r.threshold;
        }
        if (r.detection_filter) {
            detection_filter_[i] = &*r.detection_filter;
        }
        auto it = vars.threshold_overrides.find({r.gid, r.sid});
        if (it != vars.threshold_overrides.end()) {
            overrides_.push_back(it->second);
        }
    }
    // Second pass: pointers into overrides_ are stable now that it is filled.
    size_t oi = 0;
    for (uint32_t i = 0; i < n; ++i) {
        const rules::Rule& r = rules.rule(i);
        if (vars.threshold_overrides.count({r.gid, r.sid}) != 0) {
            threshold_[i] = &overrides_[oi++];
        }
        for (const auto& s : suppressions_) {
            if (s.sid == r.sid && s.gid == r.gid) {
                suppress_[i].push_back(&s);
            }
        }
    }
}

bool AlertFilter::apply(const Threshold& t, uint8_t kind, const AlertRecord& a) {
    Key k{};
    k.gid = a.gid;
    k.sid = a.sid;
    k.kind = kind;
    switch (t.track) {
        case Threshold::Track::BySrc:
            k.a = a.src;
            break;
        case Threshold::Track::ByDst:
            k.a = a.dst;
            break;
        case Threshold::Track::ByBoth:
            k.a = a.src;
            k.b = a.dst;
            break;
        case Threshold::Track::ByFlow:
            k.flow = a.flow_id;
            break;
        case Threshold::Track::ByRule:
            break;
    }
    auto [it, created] = state_.try_emplace(k);
    State& s = it->second;
    if (t.type == Threshold::Type::Backoff) {
        // The count-th match alerts, then count * multiplier, count * multiplier^2, ...
        if (created) {
            s.next = t.count;
        }
        if (++s.count != s.next) {
            return false;
        }
        const uint64_t next = static_cast<uint64_t>(s.next) * t.multiplier;
        s.next = next > UINT32_MAX || t.multiplier == 1 ? UINT32_MAX : static_cast<uint32_t>(next);
        return true;
    }
    // Windows are anchored at their first match and compared in whole seconds (Suricata).
    const bool in_window = !created && a.ts_sec - s.first_sec < static_cast<int64_t>(t.seconds);
    if (!in_window) {
        s.first_sec = a.ts_sec;
        s.first_usec = a.ts_usec;
        s.count = 0;
        s.ports.clear();
    }
    if (t.unique_on != Threshold::UniqueOn::None) {
        // Count distinct ports: a port already seen in this window adds nothing.
        const uint16_t port = t.unique_on == Threshold::UniqueOn::SrcPort ? a.sport : a.dport;
        const auto at = std::lower_bound(s.ports.begin(), s.ports.end(), port);
        if (at == s.ports.end() || *at != port) {
            s.ports.insert(at, port);
        }
        s.count = static_cast<uint32_t>(s.ports.size());
    } else {
        ++s.count;
    }
    switch (t.type) {
        case Threshold::Type::Limit:
            return s.count <= t.count;
        case Threshold::Type::Threshold:
            if (s.count >= t.count) {
                s.count = 0;
                // the next match starts a new count inside the same window
                return true;
            }
            return false;
        case Threshold::Type::Both:
            return s.count == t.count;
        case Threshold::Type::DetectionFilter:
            return s.count > t.count;
        case Threshold::Type::Backoff:
            break;  // handled above
    }
    return true;
}

bool AlertFilter::pass(const AlertRecord& a) {
    const std::optional<uint32_t> ri = rule_index(*rules_, a);
    if (!ri) {
        return true;  // a rule this set does not have: no threshold of its applies
    }
    for (const rules::Suppression* s : suppress_[*ri]) {
        bool hit = true;
        if (s->has_track) {
            switch (s->track) {
                case Threshold::Track::BySrc:
                    hit = s->ips.contains(a.src);
                    break;
                case Threshold::Track::ByDst:
                    hit = s->ips.contains(a.dst);
                    break;
                default:
                    hit = s->ips.contains(a.src) || s->ips.contains(a.dst);
                    break;
            }
        }
        if (hit) {
            ++suppressed_;
            return false;
        }
    }
    if (const Threshold* df = detection_filter_[*ri]; df != nullptr) {
        if (!apply(*df, 1, a)) {
            ++suppressed_;
            return false;
        }
    }
    if (const Threshold* t = threshold_[*ri]; t != nullptr) {
        if (!apply(*t, 0, a)) {
            ++suppressed_;
            return false;
        }
    }
    return true;
}

}  // namespace vigil::sensor
