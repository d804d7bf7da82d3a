#include "sensor/worker.h"

#include <algorithm>

#include "sensor/eve_writer.h"
#include "sensor/rate_filter.h"

#include <nlohmann/json.hpp>

namespace vigil::sensor {

using dataplane::Flow;
using dataplane::FlowDir;
using dataplane::Packet;
using dataplane::StreamView;
namespace app = dataplane::app;

Worker::Worker(uint32_t id, const PipelineConfig& config)
    : id_(id),
      config_(config),
      stream_(config.stream),
      app_(config.app),
      defrag_(config.defrag),
      flows_(config.flows) {
    flows_.set_on_remove([this](Flow& f, dataplane::FlowEnd why) { on_flow_removed(f, why); });
    ips_ = config.ips;
}

Worker::~Worker() {
    flows_.set_on_remove(nullptr);
    flows_.flush();  // free sessions while their engines are alive
}

Result<std::unique_ptr<Worker>> Worker::create(uint32_t id, rules::RuleSetPtr rules,
                                               const PipelineConfig& config) {
    std::unique_ptr<Worker> w(new Worker(id, config));
    auto m = rules::Matcher::create(std::move(rules));
    if (!m) {
        return m.error();
    }
    w->matcher_ = std::move(m.value());
    w->update_body_needs();
    return w;
}

// Parsers build only the buffers some rule inspects (HTTP bodies are copied and
// decompressed only for body rules).
void Worker::update_body_needs() {
    const auto& rs = matcher_->rules();
    std::array<bool, app::kBufferCount> needed{};
    for (size_t b = 0; b < app::kBufferCount; ++b) {
        needed[b] = rs.uses_buffer(static_cast<app::BufferId>(b));
    }
    app_.set_buffer_needs(needed);
}

void Worker::reset_flows(std::vector<AlertRecord>* out) {
    removal_out_ = out;
    flows_.flush();
    removal_out_ = nullptr;
    defrag_.clear();
}

// Flow entries are scattered over a large table: fetch them a few packets ahead (l3fwd).
constexpr size_t kPrefetchBucket = 8;
constexpr size_t kPrefetchFlow = 4;

void Worker::process(std::span<Packet> pkts, std::vector<AlertRecord>& out) {
    removal_out_ = &out;
    for (size_t i = 0; i < pkts.size(); ++i) {
        if (i + kPrefetchBucket < pkts.size() && pkts[i + kPrefetchBucket].flow_hash != 0) {
            flows_.prefetch_bucket(pkts[i + kPrefetchBucket].flow_hash);
        }
        if (i + kPrefetchFlow < pkts.size() && pkts[i + kPrefetchFlow].flow_hash != 0) {
            flows_.prefetch_flow(pkts[i + kPrefetchFlow].flow_hash);
        }
        Packet& pkt = pkts[i];
        ++stats_.packets;
        last_seq_ = pkt.seq;
        const size_t expired_from = out.size();
        flows_.expire(pkt.ts_sec);
        for (size_t k = expired_from; k < out.size(); ++k) {
            out[k].before_packet = true;
        }
        drop_hit_ = false;
        drop_flow_ = false;
        reject_hit_ = false;
        // A fragment goes to the defragmenter first, so that it carries the overlap event
        // when it is inspected (Suricata's decode-event ipv4/ipv6.frag_overlap: any overlap).
        const bool frag = pkt.is_fragment && config_.defrag_enabled;
        dataplane::DefragResult r{};
        if (frag) {
            r = defrag_.add(pkt);
            if ((r.events & dataplane::kDefragEvOverlap) != 0) {
                pkt.events.set(pkt.ip_version == 4 ? dataplane::DecodeEvent::Ipv4FragOverlap
                                                   : dataplane::DecodeEvent::Ipv6FragOverlap);
            }
        }
        handle(pkt, out);
        if (frag) {
            // The fragment was inspected as a packet; the datagram it completes is inspected
            // as what the end host sees.
            if (config_.anomalies && (r.events & dataplane::kDefragEvOverlapDiff) != 0) {
                anomaly(
                    pkt, nullptr, "decode",
                    pkt.ip_version == 4 ? "decoder.ipv4.frag_overlap" : "decoder.ipv6.frag_overlap",
                    out);
            }
            if (r.datagram != nullptr) {
                Packet d = *r.datagram;
                ++stats_.datagrams;
                handle(d, out);  // a drop verdict on the datagram drops its last fragment
            }
        }
        if (drop_hit_) {
            pkt.drop = true;
            pkt.reject = reject_hit_;
            ++stats_.dropped;
        }
    }
    removal_out_ = nullptr;
}

void Worker::idle(int64_t now_sec, std::vector<AlertRecord>& out) {
    removal_out_ = &out;
    flows_.expire(now_sec);
    removal_out_ = nullptr;
}

void Worker::handle(Packet& pkt, std::vector<AlertRecord>& out) {
    const size_t first = out.size();
    Flow* flow = flows_.lookup(pkt);  // flow (null for non-IP)
    if (flow != nullptr && flow->drop && ips_) {
        drop_hit_ = true;  // Suricata's flow drop: the rest of the flow is not inspected
        ++stats_.dropped_flow;
        return;
    }
    rules::PayloadView pv;
    StreamView sv;
    const bool tcp_stream =
        flow != nullptr && config_.stream_enabled && pkt.has_tcp() && !pkt.is_fragment;
    if (tcp_stream) {
        sv = stream_.process(*flow, pkt);
        pv.stream_events = sv.events;
        if (config_.anomalies && (sv.events & dataplane::kStreamEvOverlapDiff) != 0) {
            anomaly(pkt, flow, "stream", "stream.reassembly_overlap_different_data", out);
        }
        if (config_.anomalies && (sv.events & dataplane::kStreamEvGap) != 0) {
            anomaly(pkt, flow, "stream", "stream.reassembly_seq_gap", out);
        }
        if (sv.tracked) {
            pv.inspect = sv.inspect && (sv.events & dataplane::kStreamEvRetransmission) == 0;
            // Held out of order: the stream inspects these bytes when the hole fills.
            pv.pkt_deferred = (sv.events & dataplane::kStreamEvBuffered) != 0;
            if (sv.inspect && sv.has_new()) {
                pv.stream = sv.data;
                pv.stream_len = sv.len;
                pv.stream_base = sv.base;
                pv.new_from = sv.new_from;
                pv.pkt_in_stream = sv.pkt_len != 0 && sv.pkt_len == pkt.payload_len;
            }
        }
    }
    // The application layer runs before detection, so packet rules bound to a protocol
    // (`alert dns ...`) see the flow's protocol from its first packet on.
    std::span<const app::AppEvent> events;
    if (flow != nullptr && config_.app.enabled) {
        if (tcp_stream && sv.tracked && sv.inspect && sv.has_new()) {
            events = app_.on_tcp_data(*flow, sv.dir, sv.data + sv.new_from, sv.len - sv.new_from,
                                      (sv.events & dataplane::kStreamEvGap) != 0, pkt);
        } else if (pkt.has_udp() && !pkt.is_fragment) {
            events = app_.on_udp(*flow, pkt);
        }
    }
    emit(matcher_->inspect(pkt, flow, pv), pkt, flow, nullptr, out);
    if (!matcher_->passed()) {
        app_events(events, pkt, flow, out);
    }
    if (tcp_stream && sv.tracked) {
        if (pkt.tcp_flags & dataplane::kTcpRst) {
            end_stream(*flow, FlowDir::ToServer, pkt, out);
            end_stream(*flow, FlowDir::ToClient, pkt, out);
        } else if (pkt.tcp_flags & dataplane::kTcpFin) {
            end_stream(*flow, pkt.dir, pkt, out);
        }
    }
    if (drop_flow_ && flow != nullptr) {
        flow->drop = true;
    }
    if (drop_hit_) {
        for (size_t i = first; i < out.size(); ++i) {
            out[i].packet_dropped = true;
        }
    }
    tag_packet(pkt, flow, out, first);
    // A packet's alerts in rule evaluation order, as Suricata sorts them before it applies
    // packet-alert-max (anomaly and flow records keep their place).
    if (out.size() - first > 1) {
        sort_alerts(out, first);
    }
}

void Worker::sort_alerts(std::vector<AlertRecord>& out, size_t first) {
    bool sorted = true;
    uint32_t last = 0;
    for (size_t i = first; i < out.size(); ++i) {
        if (out[i].is_alert()) {
            sorted = sorted && out[i].rule_order >= last;
            last = out[i].rule_order;
        }
    }
    if (sorted) {
        return;  // the common case: one match, or matches already in order
    }
    std::vector<size_t>& pos = sort_pos_;
    std::vector<AlertRecord>& alerts = sort_tmp_;
    pos.clear();
    alerts.clear();
    for (size_t i = first; i < out.size(); ++i) {
        if (out[i].is_alert()) {
            pos.push_back(i);
            alerts.push_back(std::move(out[i]));
        }
    }
    std::stable_sort(alerts.begin(), alerts.end(), [](const AlertRecord& x, const AlertRecord& y) {
        return x.rule_order < y.rule_order;
    });
    for (size_t k = 0; k < pos.size(); ++k) {
        out[pos[k]] = std::move(alerts[k]);
    }
}

// A direction of a TCP stream has ended: what was held back (out-of-order data behind a
// hole) is inspected now, and the application layer completes what ends with the connection.
void Worker::end_stream(Flow& flow, FlowDir dir, const Packet& pkt, std::vector<AlertRecord>& out) {
    if (!flow.tcp) {
        return;
    }
    // One flush crosses at most one hole (a view is one contiguous range): repeat.
    for (int holes = 0; holes < 4096; ++holes) {
        const StreamView fv = stream_.flush(flow, dir);
        if (config_.anomalies && (fv.events & dataplane::kStreamEvGap) != 0) {
            anomaly(pkt, &flow, "stream", "stream.reassembly_seq_gap", out);
        }
        if (!fv.inspect || !fv.has_new()) {
            break;
        }
        rules::PayloadView pv;
        pv.stream = fv.data;
        pv.stream_len = fv.len;
        pv.stream_base = fv.base;
        pv.new_from = fv.new_from;
        pv.stream_only = true;
        emit(matcher_->inspect(pkt, &flow, pv), pkt, &flow, nullptr, out,
             {fv.data + fv.new_from, fv.len - fv.new_from});
        if (config_.app.enabled) {
            app_events(app_.on_tcp_data(flow, dir, fv.data + fv.new_from, fv.len - fv.new_from,
                                        (fv.events & dataplane::kStreamEvGap) != 0, pkt),
                       pkt, &flow, out);
        }
    }
    if (config_.app.enabled) {
        app_events(app_.on_tcp_close(flow, dir, pkt), pkt, &flow, out);
    }
}

void Worker::app_events(std::span<const app::AppEvent> events, const Packet& pkt, Flow* flow,
                        std::vector<AlertRecord>& out) {
    for (const auto& ev : events) {
        emit(matcher_->inspect_app(pkt, flow, ev), pkt, flow, &ev, out);
    }
}

// A flow leaves the table (timeout, eviction, end of input): its streams end, then its flow
// record (when configured) follows the alerts that raised.
void Worker::on_flow_removed(Flow& flow, dataplane::FlowEnd why) {
    session_tags_.erase(flow.flow_id);
    if (removal_out_ == nullptr) {
        return;
    }
    if (flow.tcp && config_.stream_enabled) {
        end_streams(flow);
    }
    if (config_.flow_records) {
        flow_record(flow, why, *removal_out_);
    }
}

namespace {

const char* flow_state_name(const Flow& f) {
    using dataplane::TcpState;
    if (f.key.proto == dataplane::kProtoTcp) {
        switch (f.tcp_state) {
            case TcpState::SynSent:
            case TcpState::SynRecv:
                return "new";
            case TcpState::Established:
            case TcpState::Closing:
                return "established";
            case TcpState::Closed:
                return "closed";
            case TcpState::None:  // picked up midstream
                break;
        }
    }
    return f.reply_seen ? "established" : "new";
}

// Suricata's TCP session state names, as far as the flow table follows the session.
const char* tcp_state_name(const Flow& f) {
    using dataplane::TcpState;
    switch (f.tcp_state) {
        case TcpState::None:
            return "none";
        case TcpState::SynSent:
            return "syn_sent";
        case TcpState::SynRecv:
            return "syn_recv";
        case TcpState::Established:
            return "established";
        case TcpState::Closing:  // one FIN: from the client the client waits, else the server
            return f.fin_toserver ? "fin_wait1" : "close_wait";
        case TcpState::Closed:
            return "closed";
    }
    return "none";
}

// The flow's identity, counters, start and protocol, as alerts and flow records show them.
void fill_flow(AlertRecord& a, const Flow& f) {
    a.has_flow = true;
    a.flow_id = f.flow_id;
    a.pkts_toserver = f.pkts_toserver;
    a.pkts_toclient = f.pkts_toclient;
    a.bytes_toserver = f.bytes_toserver;
    a.bytes_toclient = f.bytes_toclient;
    a.flow_start_sec = f.start_sec;
    a.flow_start_usec = f.start_usec;
    a.app_proto = f.app_proto;
}

const char* flow_reason_name(dataplane::FlowEnd why) {
    switch (why) {
        case dataplane::FlowEnd::Timeout:
            return "timeout";
        case dataplane::FlowEnd::Evicted:
        case dataplane::FlowEnd::Reused:
            return "forced";
        case dataplane::FlowEnd::Flush:
            return "shutdown";
    }
    return "shutdown";
}

}  // namespace

void Worker::flow_record(const Flow& flow, dataplane::FlowEnd why,
                         std::vector<AlertRecord>& out) const {
    AlertRecord& a = out.emplace_back();
    const bool client_lo = flow.key.addr_lo == flow.client && flow.key.port_lo == flow.client_port;
    a.seq = last_seq_;
    a.ts_sec = flow.last_sec;
    a.ts_usec = flow.last_usec;
    a.src = flow.client;
    a.sport = flow.client_port;
    a.dst = client_lo ? flow.key.addr_hi : flow.key.addr_lo;
    a.dport = client_lo ? flow.key.port_hi : flow.key.port_lo;
    a.ip_proto = flow.key.proto;
    a.has_ports = flow.key.proto == dataplane::kProtoTcp || flow.key.proto == dataplane::kProtoUdp;
    if (flow.key.vlan != 0) {
        a.vlan_count = 1;
        a.vlan[0] = flow.key.vlan;
    }
    fill_flow(a, flow);
    a.flow_src = a.src;
    a.flow_dst = a.dst;
    a.flow_sport = a.sport;
    a.flow_dport = a.dport;
    a.flow_reason = flow_reason_name(why);
    a.flow_state = flow_state_name(flow);
    if (flow.key.proto == dataplane::kProtoTcp) {
        a.tcp_state = tcp_state_name(flow);
        a.tcp_flags_ts = flow.tcp_flags_ts;
        a.tcp_flags_tc = flow.tcp_flags_tc;
    }
    a.flow_dropped = flow.drop;
}

// The flow's streams end: what they held back is inspected. The alerts are attributed to a
// packet rebuilt from the flow (its last direction's endpoints, last time).
void Worker::end_streams(Flow& flow) {
    static constexpr std::array<uint8_t, 20> kNoHeader{};
    for (FlowDir dir : {FlowDir::ToServer, FlowDir::ToClient}) {
        Packet p;
        const bool to_server = dir == FlowDir::ToServer;
        const bool client_lo =
            flow.key.addr_lo == flow.client && flow.key.port_lo == flow.client_port;
        const dataplane::IpAddr server = client_lo ? flow.key.addr_hi : flow.key.addr_lo;
        const uint16_t server_port = client_lo ? flow.key.port_hi : flow.key.port_lo;
        p.src = to_server ? flow.client : server;
        p.dst = to_server ? server : flow.client;
        p.sport = to_server ? flow.client_port : server_port;
        p.dport = to_server ? server_port : flow.client_port;
        p.ip_version = p.src.is_v4() ? 4 : 6;
        p.ip_proto = flow.key.proto;
        p.l4 = kNoHeader.data();
        p.ts_sec = flow.last_sec;
        p.seq = last_seq_;
        p.dir = dir;
        p.flow_established = flow.tcp_state == dataplane::TcpState::Established ||
                             flow.tcp_state == dataplane::TcpState::Closing;
        if (flow.key.vlan != 0) {
            p.vlan_count = 1;
            p.vlan[0] = flow.key.vlan;
        }
        const size_t before = removal_out_->size();
        end_stream(flow, dir, p, *removal_out_);
        for (size_t i = before; i < removal_out_->size(); ++i) {
            (*removal_out_)[i].pkt_src = AlertRecord::PktSrc::FlowTimeout;
        }
    }
}

namespace {

// Whether a drop/reject match drops the rest of its flow. As Suricata 7 applies a rule's
// action to the flow: a match in a transaction (app-layer), a payload match (Suricata: in the
// TCP stream; Vigil also for UDP payloads, docs/rules.md), an IP-only rule (addresses only),
// or a rule that names an application protocol and nothing else about the packet (Suricata's
// "app-layer" rule type: `drop http any any -> any any (sid:1;)`). A header match (dsize,
// flags, ttl, ...) drops that packet alone.
bool drops_flow(const rules::Rule& r, bool app_match) {
    if (app_match || !r.payload.empty()) {
        return true;
    }
    const bool header_only = r.buffers.empty() && !r.flow && !r.dsize && !r.ttl && !r.itype &&
                             !r.icode && !r.icmp_id && !r.icmp_seq && !r.tos && !r.ipopts &&
                             !r.fragbits && r.stream_size.empty() && !r.tcp_flags && !r.tcp_seq &&
                             !r.tcp_ack && !r.tcp_window && !r.ip_proto;
    if (!header_only) {
        return false;
    }
    if (r.app_bind != dataplane::app::AppProto::Unknown && !r.app_bind_negated) {
        return true;
    }
    return r.app_proto.empty() && r.sport.is_any() && r.dport.is_any();
}

void fill_record(AlertRecord& a, const Packet& pkt, const Flow* flow) {
    a.seq = pkt.seq;
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
    a.ip_len = pkt.ip_total_len;
    a.ttl = pkt.ttl;
    a.tos = pkt.tos;
    a.ip_id = pkt.ip_id;
    a.tcp_flags = pkt.tcp_flags;
    a.tcp_seq = pkt.tcp_seq;
    a.tcp_ack = pkt.tcp_ack;
    a.tcp_window = pkt.tcp_window;
    a.vlan_count = pkt.vlan_count;
    a.vlan = pkt.vlan;
    if (pkt.tunnel.active()) {
        a.tunnel = pkt.tunnel;
        using K = dataplane::TunnelKind;
        using S = AlertRecord::PktSrc;
        switch (pkt.tunnel.kind) {
            case K::Gre:
            case K::Erspan:
                a.pkt_src = S::GreTunnel;
                break;
            case K::Vxlan:
                a.pkt_src = S::VxlanEncap;
                break;
            case K::Geneve:
                a.pkt_src = S::GeneveEncap;
                break;
            case K::Teredo:
                a.pkt_src = S::TeredoTunnel;
                break;
            default:  // IP-in-IP: named after the decoder of the carrying IP packet
                a.pkt_src = pkt.tunnel.outer_ip_version == 6 ? S::Ipv6Tunnel : S::Ipv4Tunnel;
                break;
        }
    }
    a.dir = pkt.dir;
    if (flow != nullptr) {
        fill_flow(a, *flow);
        const bool from_client = pkt.dir == FlowDir::ToServer;
        a.flow_src = from_client ? pkt.src : pkt.dst;
        a.flow_dst = from_client ? pkt.dst : pkt.src;
        a.flow_sport = from_client ? pkt.sport : pkt.dport;
        a.flow_dport = from_client ? pkt.dport : pkt.sport;
    }
}

// Packet data for the EVE alert, only when configured (it is confidential): an allocation
// per alert, like the transaction object's text. Without a packet payload (the pseudo packet
// of a stream's end), the stream bytes that were inspected.
void copy_packet_data(AlertRecord& a, const Packet& pkt, std::span<const uint8_t> stream,
                      const EveAlertOptions& o) {
    if (o.wants_payload()) {
        const bool own = pkt.payload != nullptr && pkt.payload_len != 0;
        const uint8_t* p = own ? pkt.payload : stream.data();
        const size_t len = own ? pkt.payload_len : stream.size();
        if (p != nullptr && len != 0) {
            a.payload.assign(reinterpret_cast<const char*>(p),
                             std::min<size_t>(len, o.payload_buffer_size));
        }
    }
    if (o.packet && pkt.data != nullptr && pkt.cap_len != 0) {
        a.packet.assign(reinterpret_cast<const char*>(pkt.data), pkt.cap_len);
        a.linktype = static_cast<uint16_t>(pkt.link);
    }
}

}  // namespace

void Worker::emit(std::span<const uint32_t> hits, const Packet& pkt, const Flow* flow,
                  const app::AppEvent* ev, std::vector<AlertRecord>& out,
                  std::span<const uint8_t> stream) {
    for (uint32_t ri : hits) {  // output: records, formatted by the output stage
        AlertRecord& a = out.emplace_back();
        fill_record(a, pkt, flow);
        copy_packet_data(a, pkt, stream, config_.eve_alert);
        const rules::RuleSet& rs = matcher_->rules();
        const rules::Rule& r = rs.rule(ri);
        a.ruleset_id = rs.id();
        a.gid = r.gid;
        a.sid = r.sid;
        a.rev = r.rev;
        a.rule_order = ri;
        rules::Action action = r.action;
        if (config_.rate_filter) {
            if (const auto changed = config_.rate_filter->apply(r.gid, r.sid, pkt)) {
                action = *changed;
                a.rate_changed = true;
                a.rate_action = static_cast<uint8_t>(action);
            }
        }
        if (a.rate_changed && action == rules::Action::Pass) {
            // rate_filter new_action pass: no alert, and the packet's later matches neither
            // (a pass ends its inspection, as a pass rule does).
            out.pop_back();
            break;
        }
        if (r.tag) {  // the packets that follow are logged (tag_packet); this one counts
            if (r.tag->type == rules::Tag::Type::Session) {
                if (flow != nullptr) {
                    session_tags_.add(flow->flow_id, *r.tag, pkt);
                }
            } else if (config_.host_tags) {
                config_.host_tags->add(r.tag->dir == rules::Tag::Dir::Src ? pkt.src : pkt.dst,
                                       *r.tag, pkt);
            }
        }
        if (ips_) {
            if (action == rules::Action::Drop || action == rules::Action::Reject) {
                drop_hit_ = true;
                drop_flow_ = drop_flow_ || drops_flow(r, ev != nullptr);
            }
            reject_hit_ |= action == rules::Action::Reject;
        }
        if (ev != nullptr) {
            a.has_tx = true;
            a.tx_id = ev->tx_id;
            a.app_key = ev->eve_key;
            nlohmann::ordered_json j;  // built only for events that alert
            app_.eve_object(*ev, j);
            a.app_json = eve_object_text(j);
        }
    }
}

void Worker::tag_packet(const Packet& pkt, const Flow* flow, std::vector<AlertRecord>& out,
                        size_t first) {
    bool tagged = false;
    if (flow != nullptr && !session_tags_.empty()) {
        tagged = session_tags_.take(flow->flow_id, pkt);
    }
    if (config_.host_tags && config_.host_tags->take(pkt)) {  // counted even when a session
        tagged = true;                                        // tag already tagged it
    }
    if (!tagged) {
        return;
    }
    for (size_t i = first; i < out.size(); ++i) {
        if (out[i].is_alert()) {
            return;  // logged as its alert
        }
    }
    AlertRecord& a = out.emplace_back();
    fill_record(a, pkt, flow);
    a.tagged_packet = true;
    EveAlertOptions packet_only;
    packet_only.packet = config_.eve_alert.packet;
    copy_packet_data(a, pkt, {}, packet_only);
}

void Worker::anomaly(const Packet& pkt, const Flow* flow, const char* type, const char* event,
                     std::vector<AlertRecord>& out) {
    AlertRecord& a = out.emplace_back();
    fill_record(a, pkt, flow);
    a.anomaly_type = type;
    a.anomaly_event = event;
}

}  // namespace vigil::sensor
