#pragma once
// Worker: one detection thread's state. Owns its defragmenter, flow table, TCP reassembly,
// application layer and Matcher (Hyperscan scratch), so nothing on the per-packet path is
// shared or locked.

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "common/result.h"
#include "dataplane/app/app_layer.h"
#include "dataplane/defrag.h"
#include "dataplane/flow_table.h"
#include "dataplane/packet.h"
#include "dataplane/stream.h"
#include "rules/ruleset.h"
#include "sensor/alert_record.h"
#include "sensor/tags.h"

namespace vigil::sensor {

class RateFilter;  // sensor/rate_filter.h

// The stages after decode, as configured (sensor.yaml `flow`, `stream`, `defrag`,
// `app-layer`, `host-os-policy`).
struct PipelineConfig {
    dataplane::FlowTableConfig flows{};
    bool stream_enabled = true;
    dataplane::StreamConfig stream{};
    bool defrag_enabled = true;
    dataplane::DefragConfig defrag{};
    dataplane::app::AppConfig app{};  // app.enabled
    // EVE anomaly records for evasion signals: TCP retransmission with different data,
    // reassembly gaps, overlapping fragments with different data.
    bool anomalies = true;
    // EVE flow records (outputs.eve.flow): each flow leaving the table (timeout, eviction,
    // TCP port reuse, end of input or run) becomes a record for the output stage.
    bool flow_records = false;
    // Packet data copied into alert records (outputs.eve.payload, packet, ...).
    EveAlertOptions eve_alert{};
    // IPS verdicts: a packet matching a drop/reject rule gets Packet::drop, and so does every
    // later packet of its flow (Suricata's flow drop), without inspection.
    bool ips = false;
    // threshold.config rate_filter lines (shared by every worker); null: none.
    std::shared_ptr<RateFilter> rate_filter;
    // Host tags (tag:host) shared by every worker; null: tag:host rules tag nothing.
    std::shared_ptr<HostTags> host_tags;
};

struct WorkerStats {
    uint64_t packets = 0;
    uint64_t datagrams = 0;     // reassembled IP datagrams inspected
    uint64_t dropped = 0;       // packets given the drop verdict (IPS), including:
    uint64_t dropped_flow = 0;  //   packets of an already dropped flow (not inspected)

    WorkerStats& operator+=(const WorkerStats& o) {
        packets += o.packets;
        datagrams += o.datagrams;
        dropped += o.dropped;
        dropped_flow += o.dropped_flow;
        return *this;
    }
};

class Worker {
public:
    static Result<std::unique_ptr<Worker>> create(uint32_t id, rules::RuleSetPtr rules,
                                                  const PipelineConfig& config);
    ~Worker();

    // Defragmentation, flow tracking, reassembly, application layer and detection for
    // decoded packets; alerts are appended to `out`. In IPS mode each packet's `drop` is set
    // when it must not be forwarded.
    void process(std::span<dataplane::Packet> pkts, std::vector<AlertRecord>& out);

    // Ends all flows (end of input, or a new independent capture file): streams are flushed
    // and inspected, open HTTP bodies completed, then the state is dropped. Alerts raised by
    // that go to `out` when given.
    void reset_flows(std::vector<AlertRecord>* out = nullptr);

    // Verdicts on or off for the next bursts (live: on for bursts from inline ports only;
    // an IDS port cannot drop, and must not stop inspecting a "dropped" flow).
    void set_ips(bool on) { ips_ = on; }

    // Expires idle flows by wall-clock time when no packets arrive (live capture): their
    // streams are flushed and inspected, alerts go to `out`.
    void idle(int64_t now_sec, std::vector<AlertRecord>& out);

    // Swaps in a matcher for a new rule set and returns the one it replaces (reload); call
    // between bursts only. Nothing is freed here: the caller disposes of the old matcher (and
    // perhaps the last reference to its rule set) off the packet path.
    rules::MatcherPtr swap_matcher(rules::MatcherPtr m) {
        std::swap(matcher_, m);
        update_body_needs();
        return m;
    }
    // The rule set the worker inspects with now.
    const rules::RuleSet& rules() const { return matcher_->rules(); }

    uint32_t id() const { return id_; }
    const WorkerStats& stats() const { return stats_; }
    const dataplane::FlowStats& flow_stats() const { return flows_.stats(); }
    const dataplane::StreamStats& stream_stats() const { return stream_.stats(); }
    const dataplane::DefragStats& defrag_stats() const { return defrag_.stats(); }
    const dataplane::app::AppStats& app_stats() const { return app_.stats(); }
    const rules::MatcherStats& matcher_stats() const { return matcher_->stats(); }
    // The rate_filter state all workers share (null: none); a reload rebinds it.
    RateFilter* rate_filter() const { return config_.rate_filter.get(); }

private:
    Worker(uint32_t id, const PipelineConfig& config);
    void handle(dataplane::Packet& pkt, std::vector<AlertRecord>& out);
    void end_stream(dataplane::Flow& flow, dataplane::FlowDir dir, const dataplane::Packet& pkt,
                    std::vector<AlertRecord>& out);
    void app_events(std::span<const dataplane::app::AppEvent> events, const dataplane::Packet& pkt,
                    dataplane::Flow* flow, std::vector<AlertRecord>& out);
    // `stream`: the stream bytes inspected when there is no packet payload (a stream's end),
    // the EVE payload of those alerts.
    void emit(std::span<const uint32_t> hits, const dataplane::Packet& pkt,
              const dataplane::Flow* flow, const dataplane::app::AppEvent* ev,
              std::vector<AlertRecord>& out, std::span<const uint8_t> stream = {});
    void anomaly(const dataplane::Packet& pkt, const dataplane::Flow* flow, const char* type,
                 const char* event, std::vector<AlertRecord>& out);
    // A packet that a tag asked for, and that has no alert of its own: an EVE packet record.
    void tag_packet(const dataplane::Packet& pkt, const dataplane::Flow* flow,
                    std::vector<AlertRecord>& out, size_t first);
    void on_flow_removed(dataplane::Flow& flow, dataplane::FlowEnd why);
    void end_streams(dataplane::Flow& flow);
    void flow_record(const dataplane::Flow& flow, dataplane::FlowEnd why,
                     std::vector<AlertRecord>& out) const;
    void update_body_needs();
    // A packet's alerts put in rule evaluation order (anomaly records stay in place).
    void sort_alerts(std::vector<AlertRecord>& out, size_t first);

    uint32_t id_;
    PipelineConfig config_;
    // Declared before the flow table: flows hold sessions that account their memory in
    // these engines, so the engines must outlive the table.
    dataplane::StreamEngine stream_;
    dataplane::app::AppLayer app_;
    dataplane::Defragmenter defrag_;
    dataplane::FlowTable flows_;
    rules::MatcherPtr matcher_;
    SessionTags session_tags_;
    WorkerStats stats_{};
    uint64_t last_seq_ = 0;
    bool drop_hit_ = false;
    bool reject_hit_ = false;  // ... and it was a reject rule
    bool drop_flow_ = false;   // ... and it drops the rest of the flow (drops_flow())
    bool ips_ = false;  // verdicts for the current burst  // IPS: the packet being handled matched
                        // a drop/reject rule
    std::vector<AlertRecord>* removal_out_ = nullptr;  // where flow-end alerts go
    std::vector<size_t> sort_pos_;                     // sort_alerts() scratch
    std::vector<AlertRecord> sort_tmp_;
};
using WorkerPtr = std::unique_ptr<Worker>;

}  // namespace vigil::sensor
