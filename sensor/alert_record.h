#pragma once
// AlertRecord: what a worker hands to the output stage for one rule match, anomaly or ended
// flow. Fixed size except for the application-layer object of alerts on a transaction: the
// output stage looks up rule metadata and formats EVE JSON off the hot path.

#include <array>
#include <cstdint>
#include <string>

#include "dataplane/packet.h"

namespace vigil::sensor {

// Packet data in EVE alerts (outputs.eve.payload, payload-printable, payload-buffer-size,
// packet; Suricata's eve-log alert options). Off by default: packet data is classified
// confidential. The worker copies what is asked for into the record; the output stage
// encodes it.
struct EveAlertOptions {
    bool payload = false;                 // `payload`: the payload, base64
    bool payload_printable = false;       // `payload_printable`: printable bytes, others '.'
    uint32_t payload_buffer_size = 4096;  // payload bytes kept at most (Suricata's 4kb)
    bool packet = false;                  // `packet` (the frame, base64), `packet_info`
    bool wants_payload() const { return payload || payload_printable; }
};

struct AlertRecord {
    uint64_t seq = 0;  // packet position in the input: output order across workers
    // Raised by flows that the packet `seq`'s time expired (their streams' last alerts, their
    // flow records): written before the packet's own records.
    bool before_packet = false;
    // The rule that matched, by identity rather than by its place in one rule set, so that
    // a record in flight survives a rule swap. Unused for anomalies.
    uint32_t ruleset_id = 0;  // rules::RuleSet::id() of the set the rule matched in
    uint32_t gid = 0;
    uint32_t sid = 0;
    uint32_t rev = 0;
    uint32_t rule_order = 0;  // its place in that set's evaluation order (orders a packet's
                              // alerts; the index to look it up by in that same set)
    // An evasion signal seen by reassembly rather than a rule match: EVE event_type
    // "anomaly" with anomaly.type / anomaly.event (static strings, Suricata's names).
    const char* anomaly_type = nullptr;
    const char* anomaly_event = nullptr;
    bool is_anomaly() const { return anomaly_event != nullptr; }
    // A flow left the worker's table (outputs.eve.flow): EVE event_type "flow". The packet
    // fields hold the flow's client-to-server tuple, the time its last packet; flow.reason
    // and flow.state are static strings (Suricata's names).
    const char* flow_reason = nullptr;
    bool is_flow_end() const { return flow_reason != nullptr; }
    const char* flow_state = nullptr;
    const char* tcp_state = nullptr;  // TCP: Suricata's session state name
    uint8_t tcp_flags_ts = 0;
    uint8_t tcp_flags_tc = 0;
    bool flow_dropped = false;  // IPS: the flow got the drop verdict (EVE flow.action "drop")
    // A packet a `tag` rule asked for (EVE event_type "packet"), when it has no alert.
    bool tagged_packet = false;
    bool is_alert() const { return !is_anomaly() && !is_flow_end() && !tagged_packet; }
    int64_t ts_sec = 0;
    uint32_t ts_usec = 0;
    dataplane::IpAddr src{};
    dataplane::IpAddr dst{};
    uint16_t sport = 0;
    uint16_t dport = 0;
    uint8_t ip_proto = 0;
    bool has_ports = false;
    uint8_t icmp_type = 0;
    uint8_t icmp_code = 0;
    bool has_icmp = false;
    uint8_t vlan_count = 0;
    std::array<uint16_t, 2> vlan{};
    dataplane::FlowDir dir = dataplane::FlowDir::ToServer;
    bool has_flow = false;
    uint64_t flow_id = 0;
    uint64_t pkts_toserver = 0;
    uint64_t pkts_toclient = 0;
    uint64_t bytes_toserver = 0;
    uint64_t bytes_toclient = 0;
    int64_t flow_start_sec = 0;
    uint32_t flow_start_usec = 0;
    dataplane::IpAddr flow_src{};  // the flow's client side
    dataplane::IpAddr flow_dst{};
    uint16_t flow_sport = 0;
    uint16_t flow_dport = 0;
    // Live capture: the packet came in on an inline port, so a drop verdict was enforced
    // (EVE alert.action "blocked"); replay --ips computes verdicts and always sets it.
    bool enforced = false;
    int64_t verdict_ns = 0;  // live: CLOCK_MONOTONIC when the worker decided (block latency)
    // The packet's header fields, for the EVE `drop` record of a blocked alert.
    uint32_t ip_len = 0;
    uint8_t ttl = 0;
    uint8_t tos = 0;
    uint16_t ip_id = 0;
    uint8_t tcp_flags = 0;
    uint32_t tcp_seq = 0;
    uint32_t tcp_ack = 0;
    uint16_t tcp_window = 0;
    // Where the packet came from (EVE pkt_src): the capture, a tunnel's decoder, or the
    // stream flushed when its flow ended.
    enum class PktSrc : uint8_t {
        Wire,
        Ipv4Tunnel,
        Ipv6Tunnel,
        GreTunnel,
        TeredoTunnel,
        VxlanEncap,
        GeneveEncap,
        FlowTimeout
    };
    PktSrc pkt_src = PktSrc::Wire;
    dataplane::TunnelInfo tunnel{};  // the outer packet, when it came through a tunnel
    // A rate_filter changed this match's action (rate_action: a rules::Action value).
    bool rate_changed = false;
    uint8_t rate_action = 0;
    // IPS: the packet got the drop verdict (from any rule), for EVE verdict.action.
    bool packet_dropped = false;
    bool has_tx = false;  // an alert on a transaction: its id (EVE tx_id)
    uint64_t tx_id = 0;
    uint8_t app_proto = 0;  // dataplane::app::AppProto of the flow (0 = unknown)
    std::string app_key;    // "http" / "dns" / "tls" for alerts on a transaction, else empty
    std::string app_json;   // that object, as JSON text
    // EveAlertOptions: the payload (up to payload-buffer-size bytes) and the whole frame with
    // its link type; empty when not configured, or when there is no packet (flow timeout).
    std::string payload;
    std::string packet;
    uint16_t linktype = 0;
};

}  // namespace vigil::sensor
