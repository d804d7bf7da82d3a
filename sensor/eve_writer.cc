#include "sensor/eve_writer.h"

#include <arpa/inet.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cinttypes>
#include <ctime>

#include "dataplane/app/parser.h"

#include <nlohmann/json.hpp>

namespace vigil::sensor {

namespace {

void add_kv(std::string& o, const char* key, const std::string& val) {
    o += '"';
    o += key;
    o += "\":\"";
    json_escape(o, val);
    o += "\",";
}

void add_num(std::string& o, const char* key, uint64_t v) {
    o += '"';
    o += key;
    o += "\":";
    o += std::to_string(v);
    o += ',';
}

void close_obj(std::string& o) {
    if (!o.empty() && o.back() == ',') {
        o.back() = '}';
    } else {
        o += '}';
    }
}

// Suricata's decoder event names (stats.decoder.event.<layer>.<name>) for our reasons;
// nullptr where Suricata has no such event (those appear only in the replay summary).
const char* suricata_event(dataplane::DecodeStatus s, const char** layer) {
    using D = dataplane::DecodeStatus;
    switch (s) {
        case D::EthTruncated:
            *layer = "ethernet";
            return "pkt_too_small";
        case D::PppTruncated:
            *layer = "ppp";
            return "pkt_too_small";
        case D::CHdlcTruncated:
            *layer = "chdlc";
            return "pkt_too_small";
        case D::VlanTruncated:
            *layer = "vlan";
            return "header_too_small";
        case D::VlanTooMany:
            *layer = "vlan";
            return "too_many_layers";
        case D::MplsTruncated:
            *layer = "mpls";
            return "header_too_small";
        case D::SllTruncated:
            *layer = "sll";
            return "pkt_too_small";
        case D::Ipv4Truncated:
            *layer = "ipv4";
            return "trunc_pkt";
        case D::Ipv4BadVersion:
            *layer = "ipv4";
            return "wrong_ip_version";
        case D::Ipv4BadHeaderLen:
            *layer = "ipv4";
            return "hlen_too_small";
        case D::Ipv4BadTotalLen:
            *layer = "ipv4";
            return "iplen_smaller_than_hlen";
        case D::Ipv4OptMalformed:
            *layer = "ipv4";
            return "opt_malformed";
        case D::Ipv6Truncated:
            *layer = "ipv6";
            return "trunc_pkt";
        case D::Ipv6BadVersion:
            *layer = "ipv6";
            return "wrong_ip_version";
        case D::Ipv6ExtTruncated:
            *layer = "ipv6";
            return "trunc_exthdr";
        case D::TcpTruncated:
            *layer = "tcp";
            return "pkt_too_small";
        case D::TcpBadHeaderLen:
            *layer = "tcp";
            return "hlen_too_small";
        case D::TcpOptMalformed:
            *layer = "tcp";
            return "invalid_optlen";
        case D::UdpTruncated:
            *layer = "udp";
            return "pkt_too_small";
        case D::UdpBadLen:
            *layer = "udp";
            return "len_invalid";
        case D::IcmpTruncated:
            *layer = "icmpv4";
            return "pkt_too_small";
        case D::Icmpv6Truncated:
            *layer = "icmpv6";
            return "pkt_too_small";
        default:
            return nullptr;
    }
}

}  // namespace

std::string format_timestamp(int64_t sec, uint32_t usec) {
    std::tm tm{};
    const time_t t = static_cast<time_t>(sec);
    gmtime_r(&t, &tm);
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06u+0000", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, usec);
    return buf;
}

std::string format_ip(const dataplane::IpAddr& a) {
    char buf[INET6_ADDRSTRLEN];
    if (a.is_v4()) {
        inet_ntop(AF_INET, &a.b[12], buf, sizeof(buf));
    } else {
        // Suricata writes IPv6 addresses uncompressed (all eight groups, four digits each);
        // EVE consumers written for it compare these strings.
        std::snprintf(buf, sizeof(buf),
                      "%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x",
                      a.b[0], a.b[1], a.b[2], a.b[3], a.b[4], a.b[5], a.b[6], a.b[7], a.b[8],
                      a.b[9], a.b[10], a.b[11], a.b[12], a.b[13], a.b[14], a.b[15]);
    }
    return buf;
}

std::string eve_object_text(const nlohmann::ordered_json& j) {
    if (j.is_null()) {
        return {};
    }
    return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

void json_escape(std::string& out, const std::string& s) {
    static constexpr char kHex[] = "0123456789abcdef";
    for (unsigned char c : s) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20) {
                    out += "\\u00";
                    out += kHex[c >> 4];
                    out += kHex[c & 15];
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
}

namespace {

// Suricata's pkt_src names, and its "tunnel" object for a packet that came through one.
void add_pkt_src(std::string& o, const AlertRecord& a) {
    using S = AlertRecord::PktSrc;
    const char* src = "wire/pcap";
    switch (a.pkt_src) {
        case S::Wire:
            break;
        case S::Ipv4Tunnel:
            src = "ipv4 tunnel";
            break;
        case S::Ipv6Tunnel:
            src = "ipv6 tunnel";
            break;
        case S::GreTunnel:
            src = "gre tunnel";
            break;
        case S::TeredoTunnel:
            src = "teredo tunnel";
            break;
        case S::VxlanEncap:
            src = "vxlan encapsulation";
            break;
        case S::GeneveEncap:
            src = "geneve encapsulation";
            break;
        case S::FlowTimeout:
            src = "stream (flow timeout)";
            break;
    }
    add_kv(o, "pkt_src", src);
    if (a.tunnel.active()) {
        const dataplane::TunnelInfo& t = a.tunnel;
        o += "\"tunnel\":{";
        add_kv(o, "src_ip", format_ip(t.outer_src));
        add_kv(o, "dest_ip", format_ip(t.outer_dst));
        if (t.outer_ip_proto == dataplane::kProtoUdp) {
            add_num(o, "src_port", t.outer_sport);
            add_num(o, "dest_port", t.outer_dport);
        }
        // Suricata's names of the carrying protocol (its known-protocol table).
        std::string buf;
        const char* proto = t.outer_ip_proto == 4    ? "IP-in-IP"
                            : t.outer_ip_proto == 41 ? "IPv6"
                            : t.outer_ip_proto == 47 ? "GRE"
                                                     : proto_name(t.outer_ip_proto, buf);
        add_kv(o, "proto", proto);
        add_num(o, "depth", t.depth);
        add_kv(o, "pkt_src", "wire/pcap");
        close_obj(o);
        o += ',';
    }
}

}  // namespace

const char* proto_name(uint8_t p, std::string& buf) {
    switch (p) {
        case dataplane::kProtoTcp:
            return "TCP";
        case dataplane::kProtoUdp:
            return "UDP";
        case dataplane::kProtoIcmp:
            return "ICMP";
        case dataplane::kProtoIcmpv6:
            return "IPv6-ICMP";
        default:
            buf = std::to_string(p);
            return buf.c_str();
    }
}

EveWriter::EveWriter(std::string sensor_id) : sensor_id_(std::move(sensor_id)) {
    line_.reserve(2048);
}

Result<std::unique_ptr<EveWriter>> EveWriter::open(const std::string& path, std::string sensor_id,
                                                   bool append) {
    auto sink = EveFileSink::open(path, append);
    if (!sink) {
        return sink.error();
    }
    auto w = std::make_unique<EveWriter>(std::move(sensor_id));
    w->add_sink(std::move(sink.value()));
    return w;
}

void EveWriter::add_sink(std::unique_ptr<AlertSink> sink) {
    sinks_.push_back(sink.get());
    owned_.push_back(std::move(sink));
}

void EveWriter::add_sink(AlertSink& sink) {
    sinks_.push_back(&sink);
}

void EveWriter::emit(RecordType type, const std::string& json) {
    for (AlertSink* s : sinks_) {
        s->write(type, json);
    }
    ++records_;
}

// Suricata's anomaly record: the packet's addresses, anomaly{type, event}.
// The fields every packet-based record starts with: time, flow, position, event type,
// addresses and ports, protocol.
void EveWriter::begin_packet_record(const AlertRecord& a, const char* event_type, bool pcap_cnt) {
    std::string& o = line_;
    std::string pbuf;
    o.clear();
    o += '{';
    add_kv(o, "timestamp", format_timestamp(a.ts_sec, a.ts_usec));
    if (a.has_flow) {
        add_num(o, "flow_id", a.flow_id);
    }
    if (pcap_cnt_ && pcap_cnt) {
        add_num(o, "pcap_cnt", a.seq + 1);
    }
    add_kv(o, "event_type", event_type);
    add_kv(o, "src_ip", format_ip(a.src));
    if (a.has_ports) {
        add_num(o, "src_port", a.sport);
    }
    add_kv(o, "dest_ip", format_ip(a.dst));
    if (a.has_ports) {
        add_num(o, "dest_port", a.dport);
    }
    add_kv(o, "proto", proto_name(a.ip_proto, pbuf));
    add_num(o, "ip_v", a.src.is_v4() ? 4 : 6);
}

// Suricata's drop record: the dropped packet's header fields, reason "rules".
void EveWriter::write_drop(const AlertRecord& a) {
    begin_packet_record(a, "drop");
    std::string& o = line_;
    add_pkt_src(o, a);
    if (!sensor_id_.empty()) {
        add_kv(o, "host", sensor_id_);
    }
    o += "\"drop\":{";
    add_num(o, "len", a.ip_len);
    add_num(o, "tos", a.tos);
    add_num(o, "ttl", a.ttl);
    add_num(o, "ipid", a.ip_id);
    if (a.ip_proto == dataplane::kProtoTcp && a.has_ports) {
        add_num(o, "tcpseq", a.tcp_seq);
        add_num(o, "tcpack", a.tcp_ack);
        add_num(o, "tcpwin", a.tcp_window);
        auto flag = [&](const char* name, uint8_t bit) {
            o += '"';
            o += name;
            o += (a.tcp_flags & bit) != 0 ? "\":true," : "\":false,";
        };
        flag("syn", dataplane::kTcpSyn);
        flag("ack", dataplane::kTcpAck);
        flag("psh", dataplane::kTcpPsh);
        flag("rst", dataplane::kTcpRst);
        flag("urg", dataplane::kTcpUrg);
        flag("fin", dataplane::kTcpFin);
    }
    add_kv(o, "reason", "rules");
    close_obj(o);
    o += ',';
    close_obj(o);
    emit(RecordType::Drop, o);
}

void EveWriter::write_anomaly(const AlertRecord& a) {
    begin_packet_record(a, "anomaly");
    std::string& o = line_;
    add_pkt_src(o, a);
    if (!sensor_id_.empty()) {
        add_kv(o, "host", sensor_id_);
    }
    o += "\"anomaly\":{";
    add_kv(o, "type", a.anomaly_type);
    add_kv(o, "event", a.anomaly_event);
    close_obj(o);
    o += ',';
    close_obj(o);
    emit(RecordType::Anomaly, o);
}

// Suricata's record of a tagged packet (tag keyword): the packet's addresses, and the
// packet itself when packet data is configured (outputs.eve.packet).
void EveWriter::write_packet(const AlertRecord& a) {
    begin_packet_record(a, "packet");
    std::string& o = line_;
    add_pkt_src(o, a);
    if (!sensor_id_.empty()) {
        add_kv(o, "host", sensor_id_);
    }
    add_packet_data(o, a);
    close_obj(o);
    emit(RecordType::Packet, o);
}

namespace {

void add_vlan(std::string& o, const AlertRecord& a) {
    if (a.vlan_count == 0) {
        return;
    }
    o += "\"vlan\":[";
    for (uint8_t i = 0; i < a.vlan_count && i < 2; ++i) {
        if (i > 0) {
            o += ',';
        }
        o += std::to_string(a.vlan[i]);
    }
    o += "],";
}

void add_app_proto(std::string& o, const AlertRecord& a) {
    if (a.app_proto != 0) {
        add_kv(o, "app_proto",
               std::string(dataplane::app::app_proto_name(
                   static_cast<dataplane::app::AppProto>(a.app_proto))));
    }
}

void add_flow_counters(std::string& o, const AlertRecord& a) {
    add_num(o, "pkts_toserver", a.pkts_toserver);
    add_num(o, "pkts_toclient", a.pkts_toclient);
    add_num(o, "bytes_toserver", a.bytes_toserver);
    add_num(o, "bytes_toclient", a.bytes_toclient);
    add_kv(o, "start", format_timestamp(a.flow_start_sec, a.flow_start_usec));
}

void add_bool(std::string& o, const char* key, bool v) {
    o += '"';
    o += key;
    o += v ? "\":true," : "\":false,";
}

std::string hex_flags(uint8_t f) {
    char buf[3];
    std::snprintf(buf, sizeof(buf), "%02x", f);
    return buf;
}

}  // namespace

std::string base64(std::string_view bytes) {
    std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                      bytes.size(), sodium_base64_VARIANT_ORIGINAL);
    out.resize(out.size() - 1);  // the terminating NUL
    return out;
}

std::string printable(std::string_view bytes) {
    std::string out(bytes);
    for (char& c : out) {
        const auto u = static_cast<unsigned char>(c);
        if (!(u >= 0x20 && u < 0x7f) && u != '\n' && u != '\r') {
            c = '.';
        }
    }
    return out;
}

namespace {

// libpcap's names of the link types Vigil decodes (EVE packet_info.linktype_name).
const char* linktype_name(uint16_t dlt) {
    switch (static_cast<dataplane::LinkType>(dlt)) {
        case dataplane::LinkType::Null:
            return "NULL";
        case dataplane::LinkType::Ethernet:
            return "EN10MB";
        case dataplane::LinkType::Ppp:
            return "PPP";
        case dataplane::LinkType::PppHdlc:
            return "PPP_HDLC";
        case dataplane::LinkType::CHdlc:
            return "C_HDLC";
        case dataplane::LinkType::Raw:
            return "RAW";
        case dataplane::LinkType::Loop:
            return "LOOP";
        case dataplane::LinkType::LinuxSll:
            return "LINUX_SLL";
        case dataplane::LinkType::Ipv4:
            return "IPV4";
        case dataplane::LinkType::Ipv6:
            return "IPV6";
        case dataplane::LinkType::LinuxSll2:
            return "LINUX_SLL2";
    }
    return nullptr;
}

}  // namespace

// Suricata's flow record: the flow's tuple (client to server), its counters and times, how
// it ended; for TCP the flags each side sent and the session state.
void EveWriter::write_flow(const AlertRecord& a, bool alerted) {
    begin_packet_record(a, "flow", /*pcap_cnt=*/false);
    std::string& o = line_;
    add_vlan(o, a);
    if (!sensor_id_.empty()) {
        add_kv(o, "host", sensor_id_);
    }
    add_app_proto(o, a);
    o += "\"flow\":{";
    add_flow_counters(o, a);
    add_kv(o, "end", format_timestamp(a.ts_sec, a.ts_usec));
    add_num(o, "age", static_cast<uint64_t>(std::max<int64_t>(0, a.ts_sec - a.flow_start_sec)));
    add_kv(o, "state", a.flow_state);
    add_kv(o, "reason", a.flow_reason);
    add_bool(o, "alerted", alerted);
    if (a.flow_dropped) {
        add_kv(o, "action", "drop");
    }
    close_obj(o);
    o += ',';
    if (a.ip_proto == dataplane::kProtoTcp) {
        const uint8_t all = a.tcp_flags_ts | a.tcp_flags_tc;
        o += "\"tcp\":{";
        add_kv(o, "tcp_flags", hex_flags(all));
        add_kv(o, "tcp_flags_ts", hex_flags(a.tcp_flags_ts));
        add_kv(o, "tcp_flags_tc", hex_flags(a.tcp_flags_tc));
        // Only the flags seen, as Suricata writes them.
        static constexpr std::array<std::pair<const char*, uint8_t>, 8> kFlags{{
            {"syn", dataplane::kTcpSyn},
            {"fin", dataplane::kTcpFin},
            {"rst", dataplane::kTcpRst},
            {"psh", dataplane::kTcpPsh},
            {"ack", dataplane::kTcpAck},
            {"urg", dataplane::kTcpUrg},
            {"ecn", dataplane::kTcpEce},
            {"cwr", dataplane::kTcpCwr},
        }};
        for (const auto& [name, bit] : kFlags) {
            if ((all & bit) != 0) {
                add_bool(o, name, true);
            }
        }
        if (a.tcp_state != nullptr) {
            add_kv(o, "state", a.tcp_state);
        }
        close_obj(o);
        o += ',';
    }
    close_obj(o);
    emit(RecordType::Flow, o);
}

void EveWriter::write_alert(const AlertRecord& a, const rules::Rule& rule, bool blocked,
                            const char* verdict) {
    begin_packet_record(a, "alert");
    std::string& o = line_;
    if (a.has_icmp) {
        add_num(o, "icmp_type", a.icmp_type);
        add_num(o, "icmp_code", a.icmp_code);
    }
    add_vlan(o, a);
    add_pkt_src(o, a);
    if (a.has_flow) {
        add_kv(o, "direction", a.dir == dataplane::FlowDir::ToServer ? "to_server" : "to_client");
    }
    if (!sensor_id_.empty()) {
        add_kv(o, "host", sensor_id_);
    }
    if (a.has_tx) {
        add_num(o, "tx_id", a.tx_id);
    }
    if (verdict != nullptr) {
        o += "\"verdict\":{";
        add_kv(o, "action", verdict);
        close_obj(o);
        o += ',';
    }
    o += "\"alert\":{";
    add_kv(o, "action", blocked ? "blocked" : "allowed");
    add_num(o, "gid", rule.gid);
    add_num(o, "signature_id", rule.sid);
    add_num(o, "rev", rule.rev);
    add_kv(o, "signature", rule.msg);
    add_kv(o, "category", rule.category);
    add_num(o, "severity", rule.priority);
    if (!rule.metadata.empty()) {
        // "key value" entries grouped by key, as Suricata does.
        std::map<std::string, std::vector<std::string>> md;
        for (const auto& e : rule.metadata) {
            const auto sp = e.find(' ');
            if (sp == std::string::npos) {
                md[e].emplace_back("");
            } else {
                md[e.substr(0, sp)].push_back(e.substr(sp + 1));
            }
        }
        o += "\"metadata\":{";
        for (const auto& [k, vs] : md) {
            o += '"';
            json_escape(o, k);
            o += "\":[";
            for (size_t i = 0; i < vs.size(); ++i) {
                if (i > 0) {
                    o += ',';
                }
                o += '"';
                json_escape(o, vs[i]);
                o += '"';
            }
            o += "],";
        }
        close_obj(o);
        o += ',';
    }
    close_obj(o);
    o += ',';
    add_app_proto(o, a);
    if (!a.app_key.empty() && !a.app_json.empty()) {
        o += '"';
        o += a.app_key;
        o += "\":";
        o += a.app_json;
        o += ',';
    }
    if (a.has_flow) {
        o += "\"flow\":{";
        add_flow_counters(o, a);
        add_kv(o, "src_ip", format_ip(a.flow_src));
        add_kv(o, "dest_ip", format_ip(a.flow_dst));
        if (a.has_ports) {
            add_num(o, "src_port", a.flow_sport);
            add_num(o, "dest_port", a.flow_dport);
        }
        close_obj(o);
        o += ',';
    }
    // Packet data, when configured (Suricata's eve-log alert payload / packet options).
    if (!a.payload.empty()) {
        if (alert_opts_.payload) {
            add_kv(o, "payload", base64(a.payload));
        }
        if (alert_opts_.payload_printable) {
            add_kv(o, "payload_printable", printable(a.payload));
        }
    }
    add_packet_data(o, a);
    close_obj(o);
    emit(RecordType::Alert, o);
}

void EveWriter::add_packet_data(std::string& o, const AlertRecord& a) const {
    if (alert_opts_.packet && !a.packet.empty()) {
        add_kv(o, "packet", base64(a.packet));
        o += "\"packet_info\":{";
        add_num(o, "linktype", a.linktype);
        if (const char* name = linktype_name(a.linktype); name != nullptr) {
            add_kv(o, "linktype_name", name);
        }
        close_obj(o);
        o += ',';
    }
}

void EveWriter::write_stats(const SensorCounters& c, int64_t ts_sec, uint32_t ts_usec) {
    std::string o;
    o += '{';
    add_kv(o, "timestamp", format_timestamp(ts_sec, ts_usec));
    add_kv(o, "event_type", "stats");
    if (!sensor_id_.empty()) {
        add_kv(o, "host", sensor_id_);
    }
    o += "\"stats\":{";
    add_num(o, "uptime", static_cast<uint64_t>(c.seconds));
    o += "\"decoder\":{";
    add_num(o, "pkts", c.packets);
    add_num(o, "bytes", c.bytes);
    add_num(o, "invalid", [&] {
        uint64_t n = 0;
        for (size_t i = 1; i < c.decode.by_status.size(); ++i) {
            const auto s = static_cast<dataplane::DecodeStatus>(i);
            if (s != dataplane::DecodeStatus::EtherTypeUnsupported &&
                s != dataplane::DecodeStatus::LinkTypeUnsupported) {
                n += c.decode.by_status[i];
            }
        }
        return n;
    }());
    add_num(o, "ipv4", c.decode.ipv4);
    add_num(o, "ipv6", c.decode.ipv6);
    add_num(o, "tcp", c.decode.tcp);
    add_num(o, "udp", c.decode.udp);
    add_num(o, "icmpv4", c.decode.icmp);
    add_num(o, "vlan", c.decode.vlan);
    add_num(o, "mpls", c.decode.mpls);
    add_num(o, "unknown_ethertype",
            c.decode.by_status[static_cast<size_t>(dataplane::DecodeStatus::EtherTypeUnsupported)]);
    // decoder.event.<layer>.<name>, Suricata's names.
    std::map<std::string, std::map<std::string, uint64_t>> ev;
    for (size_t i = 1; i < c.decode.by_status.size(); ++i) {
        const char* layer = nullptr;
        const char* name = suricata_event(static_cast<dataplane::DecodeStatus>(i), &layer);
        if (name != nullptr) {
            ev[layer][name] += c.decode.by_status[i];
        }
    }
    o += "\"event\":{";
    for (const auto& [layer, names] : ev) {
        o += '"' + layer + "\":{";
        for (const auto& [name, n] : names) {
            add_num(o, name.c_str(), n);
        }
        close_obj(o);
        o += ',';
    }
    close_obj(o);
    o += ',';
    close_obj(o);
    o += ',';
    o += "\"flow\":{";
    add_num(o, "total", c.flows.created);
    add_num(o, "active", c.flows.active);
    add_num(o, "tcp", c.flows.created_tcp);
    add_num(o, "udp", c.flows.created_udp);
    add_num(o, "tcp_reuse", c.flows.reused);
    o += "\"mgr\":{";
    add_num(o, "flows_timeout", c.flows.expired);
    add_num(o, "flows_evicted", c.flows.evicted);
    close_obj(o);
    o += ',';
    close_obj(o);
    o += ',';
    o += "\"tcp\":{";
    add_num(o, "sessions", c.stream.sessions);
    add_num(o, "midstream_pickups", c.stream.midstream_pickups);
    add_num(o, "overlap", c.stream.overlaps);
    add_num(o, "overlap_diff_data", c.stream.overlap_diff);
    add_num(o, "reassembly_gap", c.stream.gaps);
    add_num(o, "segment_memcap_drop", c.stream.memcap_reached);
    add_num(o, "stream_depth_reached", c.stream.depth_reached);
    add_num(o, "reassembly_memuse", c.stream.memory_bytes);
    close_obj(o);
    o += ',';
    o += "\"defrag\":{\"ipv4\":{";
    add_num(o, "fragments", c.defrag.ipv4_fragments);
    add_num(o, "timeouts", c.defrag.timeouts);
    close_obj(o);
    o += ",\"ipv6\":{";
    add_num(o, "fragments", c.defrag.ipv6_fragments);
    close_obj(o);
    o += ',';
    add_num(o, "max_frags_reached", c.defrag.too_many_frags);
    add_num(o, "memuse", c.defrag.memory_bytes);
    close_obj(o);
    o += ',';
    // app_layer.flow: flows per detected protocol (Suricata's names; DNS is not split by
    // transport here, so it is left out rather than misreported).
    o += "\"app_layer\":{\"flow\":{";
    for (size_t pi = 0; pi < dataplane::app::kProtoCount; ++pi) {
        const auto* d = dataplane::app::app_protocol(static_cast<dataplane::app::AppProto>(pi));
        if (d != nullptr && d->eve_flow_stats) {
            const std::string name(d->name);
            add_num(o, name.c_str(), c.app.flows[static_cast<size_t>(d->proto)]);
        }
    }
    close_obj(o);
    o += ",\"tx\":{";
    for (size_t pi = 0; pi < dataplane::app::kProtoCount; ++pi) {
        const auto* d = dataplane::app::app_protocol(static_cast<dataplane::app::AppProto>(pi));
        if (d != nullptr && d->eve_tx_counter >= 0) {
            const std::string name(d->name);
            add_num(o, name.c_str(),
                    c.app.counter(d->proto, static_cast<size_t>(d->eve_tx_counter)));
        }
    }
    close_obj(o);
    o += ',';
    close_obj(o);
    o += ',';
    if (c.live) {
        o += "\"capture\":{";
        add_num(o, "kernel_packets", c.capture_packets);
        add_num(o, "kernel_drops", c.capture_drops);
        add_num(o, "errors", c.capture_errors);
        close_obj(o);
        o += ',';
    }
    if (c.ips) {
        o += "\"ips\":{";
        add_num(o, "accepted", c.ips_accepted);
        add_num(o, "blocked", c.ips_blocked);
        close_obj(o);
        o += ',';
    }
    o += "\"detect\":{";
    add_num(o, "alert", c.alerts);
    add_num(o, "alerts_suppressed", c.alerts_suppressed);
    add_num(o, "alert_queue_overflow", c.alert_queue_overflow);
    if (c.rules_loaded != 0) {
        // Suricata's shape (one engine; `id` is its tenant id, 0 without multi-tenancy).
        o += "\"engines\":[{";
        add_num(o, "id", 0);
        if (c.last_reload_sec != 0) {
            add_kv(o, "last_reload", format_timestamp(c.last_reload_sec, 0));
        }
        add_num(o, "rules_loaded", c.rules_loaded);
        add_num(o, "rules_failed", c.rules_failed);
        close_obj(o);
        o += "],";
    }
    close_obj(o);
    o += ',';
    close_obj(o);
    o += ',';
    close_obj(o);
    emit(RecordType::Stats, o);
}

void EveWriter::flush() {
    for (AlertSink* s : sinks_) {
        s->flush();
    }
}

Status EveWriter::close() {
    Status first = Ok{};
    for (AlertSink* s : sinks_) {
        if (Status st = s->close(); !st && first) {
            first = st;
        }
    }
    return first;
}

}  // namespace vigil::sensor
