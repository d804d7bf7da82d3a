#include "sensor/rate_filter.h"

#include "common/text.h"

namespace vigil::sensor {

size_t RateFilter::KeyHash::operator()(const Key& k) const {
    uint64_t h = fmix64((static_cast<uint64_t>(k.gid) << 32) | k.sid);
    for (size_t i = 0; i < k.a.b.size(); i += 8) {
        uint64_t wa = 0;
        uint64_t wb = 0;
        for (size_t j = 0; j < 8; ++j) {
            wa = wa << 8 | k.a.b[i + j];
            wb = wb << 8 | k.b.b[i + j];
        }
        h = fmix64(h ^ wa) + fmix64(wb);
    }
    return static_cast<size_t>(h);
}

void RateFilter::rebind(const rules::Vars& vars) {
    std::lock_guard lock(mu_);
    filters_ = vars.rate_filters;
    std::erase_if(state_, [&](const auto& e) {
        return filters_.find({e.first.gid, e.first.sid}) == filters_.end();
    });
    any_.store(!filters_.empty(), std::memory_order_release);
}

void RateFilter::prune(int64_t now) {
    // Entries whose window is over and whose new_action is not in effect count for nothing.
    std::erase_if(state_, [&](const auto& e) {
        const auto f = filters_.find({e.first.gid, e.first.sid});
        if (f == filters_.end()) {
            return true;
        }
        const State& s = e.second;
        const int64_t window = static_cast<int64_t>(f->second.seconds) * 1000000;
        const int64_t timeout = static_cast<int64_t>(f->second.timeout) * 1000000;
        return s.action_since_us >= 0 ? now - s.action_since_us > timeout
                                      : now - s.window_start_us >= window;
    });
}

std::optional<rules::Action> RateFilter::apply(uint32_t gid, uint32_t sid,
                                               const dataplane::Packet& pkt) {
    if (!any_.load(std::memory_order_acquire)) {
        return std::nullopt;
    }
    std::lock_guard lock(mu_);
    const auto f = filters_.find({gid, sid});
    if (f == filters_.end()) {
        return std::nullopt;
    }
    const rules::RateFilter& rf = f->second;
    Key k{gid, sid, {}, {}};
    using Track = rules::Threshold::Track;
    switch (rf.track) {
        case Track::BySrc:
            k.a = pkt.src;
            break;
        case Track::ByDst:
            k.a = pkt.dst;
            break;
        case Track::ByBoth:  // the address pair, whichever way the packet goes
            k.a = pkt.src < pkt.dst ? pkt.src : pkt.dst;
            k.b = pkt.src < pkt.dst ? pkt.dst : pkt.src;
            break;
        default:  // by_rule
            break;
    }
    const int64_t now = pkt.ts_sec * 1000000 + pkt.ts_usec;
    if (state_.size() >= kPruneAt) {
        prune(now);
    }
    auto [it, fresh] = state_.try_emplace(k);
    State& s = it->second;
    if (fresh) {  // the first match counts, with the rule's own action
        s.window_start_us = now;
        s.count = 1;
        return std::nullopt;
    }
    if (s.action_since_us >= 0) {
        if (now - s.action_since_us > static_cast<int64_t>(rf.timeout) * 1000000) {
            s.action_since_us = -1;  // timeout over: the rule's own action again
            s.window_start_us = now;
            s.count = 1;
            return std::nullopt;
        }
        changed_.fetch_add(1, std::memory_order_relaxed);
        return rf.new_action;
    }
    if (now - s.window_start_us < static_cast<int64_t>(rf.seconds) * 1000000) {
        if (++s.count > rf.count) {
            s.action_since_us = now;
            changed_.fetch_add(1, std::memory_order_relaxed);
            return rf.new_action;
        }
        return std::nullopt;
    }
    s.window_start_us = now;  // a new window
    s.count = 1;
    return std::nullopt;
}

}  // namespace vigil::sensor
