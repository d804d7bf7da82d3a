#pragma once
// Tags (the `tag` rule keyword): after a tagging rule alerts, the packets that follow in its
// flow (session) or to and from one of its hosts (host) are logged as EVE `packet` records,
// for a number of packets, seconds or bytes. The alerting packet counts as the first.
//
// Session tags live with the worker that owns the flow (SessionTags); host tags are shared by
// every worker (HostTags: flows of one host land on different workers), behind a lock taken
// only while some host is tagged.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "dataplane/packet.h"
#include "rules/rule.h"

namespace vigil::sensor {

// One tag's budget, counted in its metric.
struct TagBudget {
    rules::Tag::Metric metric = rules::Tag::Metric::Packets;
    uint32_t count = 0;
    uint64_t used = 0;     // packets or bytes seen so far
    int64_t start_us = 0;  // seconds: when the tag was set (packet time)

    static TagBudget start(const rules::Tag& t, const dataplane::Packet& pkt);
    // Counts `pkt` against the budget: true while it lasts (the packet is tagged).
    bool take(const dataplane::Packet& pkt);
    // Whether a packet at time `now_us` could still be tagged.
    bool live(int64_t now_us) const;
};

int64_t packet_time_us(const dataplane::Packet& pkt);

// Per worker: the session tags of its flows, by flow id. A new tag on a tagged flow restarts
// its budget (Suricata updates the entry).
class SessionTags {
public:
    void add(uint64_t flow_id, const rules::Tag& t, const dataplane::Packet& pkt) {
        tags_[flow_id] = TagBudget::start(t, pkt);
    }
    bool take(uint64_t flow_id, const dataplane::Packet& pkt);
    void erase(uint64_t flow_id) { tags_.erase(flow_id); }
    bool empty() const { return tags_.empty(); }

private:
    std::unordered_map<uint64_t, TagBudget> tags_;
};

class HostTags {
public:
    void add(const dataplane::IpAddr& host, const rules::Tag& t, const dataplane::Packet& pkt);
    // Counts `pkt` against the tags of its source and destination: true when one is live.
    bool take(const dataplane::Packet& pkt);

private:
    static constexpr size_t kPruneAt = 65536;  // hosts tagged before spent tags are dropped
    struct AddrHash {
        size_t operator()(const dataplane::IpAddr& a) const;
    };
    std::atomic<bool> any_{false};
    std::mutex mu_;
    std::unordered_map<dataplane::IpAddr, TagBudget, AddrHash> tags_;
};

}  // namespace vigil::sensor
