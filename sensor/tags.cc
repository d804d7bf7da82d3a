#include "sensor/tags.h"

#include "common/text.h"

namespace vigil::sensor {

int64_t packet_time_us(const dataplane::Packet& pkt) {
    return pkt.ts_sec * 1000000 + pkt.ts_usec;
}

TagBudget TagBudget::start(const rules::Tag& t, const dataplane::Packet& pkt) {
    TagBudget b;
    b.metric = t.metric;
    b.count = t.count;
    b.start_us = packet_time_us(pkt);
    return b;
}

bool TagBudget::live(int64_t now_us) const {
    switch (metric) {
        case rules::Tag::Metric::Packets:
        case rules::Tag::Metric::Bytes:
            return used < count;
        case rules::Tag::Metric::Seconds:
            return now_us - start_us <= static_cast<int64_t>(count) * 1000000;
    }
    return false;
}

bool TagBudget::take(const dataplane::Packet& pkt) {
    if (!live(packet_time_us(pkt))) {
        return false;
    }
    switch (metric) {
        case rules::Tag::Metric::Packets:
            ++used;
            break;
        case rules::Tag::Metric::Bytes:
            used += pkt.cap_len;
            break;
        case rules::Tag::Metric::Seconds:
            break;
    }
    return true;
}

bool SessionTags::take(uint64_t flow_id, const dataplane::Packet& pkt) {
    const auto it = tags_.find(flow_id);
    if (it == tags_.end()) {
        return false;
    }
    if (!it->second.take(pkt)) {
        tags_.erase(it);  // spent
        return false;
    }
    return true;
}

size_t HostTags::AddrHash::operator()(const dataplane::IpAddr& a) const {
    uint64_t h = 0;
    for (size_t i = 0; i < a.b.size(); i += 8) {
        uint64_t w = 0;
        for (size_t j = 0; j < 8; ++j) {
            w = w << 8 | a.b[i + j];
        }
        h = fmix64(h ^ w);
    }
    return static_cast<size_t>(h);
}

void HostTags::add(const dataplane::IpAddr& host, const rules::Tag& t,
                   const dataplane::Packet& pkt) {
    std::lock_guard lock(mu_);
    if (tags_.size() >= kPruneAt) {
        const int64_t now = packet_time_us(pkt);
        std::erase_if(tags_, [now](const auto& e) { return !e.second.live(now); });
    }
    tags_[host] = TagBudget::start(t, pkt);
    any_.store(true, std::memory_order_release);
}

bool HostTags::take(const dataplane::Packet& pkt) {
    if (!any_.load(std::memory_order_acquire)) {
        return false;
    }
    std::lock_guard lock(mu_);
    bool tagged = false;
    for (const dataplane::IpAddr* host : {&pkt.src, &pkt.dst}) {
        const auto it = tags_.find(*host);
        if (it == tags_.end()) {
            continue;
        }
        if (it->second.take(pkt)) {
            tagged = true;
        } else {
            tags_.erase(it);
        }
        if (pkt.src == pkt.dst) {
            break;
        }
    }
    any_.store(!tags_.empty(), std::memory_order_release);
    return tagged;
}

}  // namespace vigil::sensor
