#include "sensor/worker.h"

namespace vigil::sensor {

using dataplane::Flow;
using dataplane::Packet;

Worker::Worker(uint32_t id, const dataplane::FlowTableConfig& flows) : id_(id), flows_(flows) {}

Result<std::unique_ptr<Worker>> Worker::create(uint32_t id, rules::RuleSetPtr rules,
                                               const dataplane::FlowTableConfig& flows) {
    std::unique_ptr<Worker> w(new Worker(id, flows));
    auto m = rules::Matcher::create(std::move(rules));
    if (!m) {
        return m.error();
    }
    w->matcher_ = std::move(m.value());
    return w;
}

void Worker::reset_flows() {
    flows_.flush();
}

// Flow entries are scattered over a large table: fetch them a few packets ahead (l3fwd).
constexpr size_t kPrefetchBucket = 8;
constexpr size_t kPrefetchFlow = 4;

void Worker::process(std::span<Packet> pkts, std::vector<AlertRecord>& out) {
    for (size_t i = 0; i < pkts.size(); ++i) {
        if (i + kPrefetchBucket < pkts.size() && pkts[i + kPrefetchBucket].flow_hash != 0) {
            flows_.prefetch_bucket(pkts[i + kPrefetchBucket].flow_hash);
        }
        if (i + kPrefetchFlow < pkts.size() && pkts[i + kPrefetchFlow].flow_hash != 0) {
            flows_.prefetch_flow(pkts[i + kPrefetchFlow].flow_hash);
        }
        Packet& pkt = pkts[i];
        ++stats_.packets;
        flows_.expire(pkt.ts_sec);
        Flow* flow = flows_.lookup(pkt);                 // flow (null for non-IP)
        const auto hits = matcher_->inspect(pkt, flow);  // detect
        for (uint32_t ri : hits) {                       // output: records, no formatting
            AlertRecord& a = out.emplace_back();
            a.seq = pkt.seq;
            a.rule = ri;
            a.ts_sec = pkt.ts_sec;
            a.ts_usec = pkt.ts_usec;
            a.src = pkt.src;
            a.dst = pkt.dst;
            a.has_ports = pkt.has_tcp() || pkt.has_udp();
            a.sport = pkt.sport;
            a.dport = pkt.dport;
            a.ip_proto = pkt.ip_proto;
            a.has_icmp = pkt.has_icmp();
            a.icmp_type = pkt.icmp_type;
            a.icmp_code = pkt.icmp_code;
            a.vlan_count = pkt.vlan_count;
            a.vlan = pkt.vlan;
            a.dir = pkt.dir;
            if (flow != nullptr) {
                a.has_flow = true;
                a.flow_id = flow->flow_id;
                a.pkts_toserver = flow->pkts_toserver;
                a.pkts_toclient = flow->pkts_toclient;
                a.bytes_toserver = flow->bytes_toserver;
                a.bytes_toclient = flow->bytes_toclient;
                a.flow_start_sec = flow->start_sec;
                a.flow_start_usec = flow->start_usec;
                const bool from_client = pkt.dir == dataplane::FlowDir::ToServer;
                a.flow_src = from_client ? pkt.src : pkt.dst;
                a.flow_dst = from_client ? pkt.dst : pkt.src;
                a.flow_sport = from_client ? pkt.sport : pkt.dport;
                a.flow_dport = from_client ? pkt.dport : pkt.sport;
            }
        }
    }
}

}  // namespace vigil::sensor
