#pragma once
// EveWriter: formats Suricata-compatible EVE JSON records, once each, and hands them to its
// sinks (sensor/alert_sink.h): the EVE file, and whatever else is attached. Runs on the
// output (control) thread, never on a worker.

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "dataplane/app/app_layer.h"
#include "dataplane/decode.h"
#include "dataplane/defrag.h"
#include "dataplane/stream.h"
#include "rules/ruleset.h"
#include "sensor/alert_record.h"
#include "sensor/alert_sink.h"
#include "sensor/counters.h"

#include <nlohmann/json_fwd.hpp>

namespace vigil::sensor {

class EveWriter {
public:
    // `host` of every record. Records go to the sinks added (none yet: nowhere).
    explicit EveWriter(std::string sensor_id);
    // A writer with one sink, the EVE file at `path` ("-": stdout).
    static Result<std::unique_ptr<EveWriter>> open(const std::string& path, std::string sensor_id,
                                                   bool append = false);
    EveWriter(const EveWriter&) = delete;
    EveWriter& operator=(const EveWriter&) = delete;

    // Every record written from now on also goes to `sink`, in order.
    void add_sink(std::unique_ptr<AlertSink> sink);
    void add_sink(AlertSink& sink);  // not owned: it must outlive the writer's use

    // `verdict`: the packet's final action, Suricata's verdict.action ("drop" in IPS mode when
    // the packet was dropped, else "alert"); null: none written.
    void write_alert(const AlertRecord& a, const rules::Rule& rule, bool blocked,
                     const char* verdict = nullptr);
    void write_anomaly(const AlertRecord& a);
    // event_type "packet": a packet a `tag` rule asked for (its bytes with outputs.eve.packet).
    void write_packet(const AlertRecord& a);
    // event_type "flow": a flow that ended (AlertRecord::is_flow_end), Suricata's flow record;
    // `alerted`: an alert of the flow was written (after thresholds).
    void write_flow(const AlertRecord& a, bool alerted);
    // event_type "drop": the packet a drop/reject rule blocked (IPS).
    void write_drop(const AlertRecord& a);
    void write_stats(const SensorCounters& c, int64_t ts_sec, uint32_t ts_usec);
    // Every sink's flush(): live capture calls it about once a second.
    void flush();
    // Every sink's close(); the first error when a sink could not take everything.
    Status close();

    uint64_t records() const { return records_; }
    // `pcap_cnt` (the packet's position in the input) is written by replay; live capture
    // has no such position and leaves it out, as Suricata does.
    void set_pcap_cnt(bool on) { pcap_cnt_ = on; }
    // Which packet data alerts show (the records carry what the workers copied for them).
    void set_alert_options(const EveAlertOptions& o) { alert_opts_ = o; }

private:
    void emit(RecordType type, const std::string& json);
    // `packet` and `packet_info`, when configured and the record carries the packet.
    void add_packet_data(std::string& o, const AlertRecord& a) const;
    // pcap_cnt: written when the writer writes it at all and the record is about a packet.
    void begin_packet_record(const AlertRecord& a, const char* event_type, bool pcap_cnt = true);

    std::string sensor_id_;
    std::vector<std::unique_ptr<AlertSink>> owned_;
    std::vector<AlertSink*> sinks_;
    std::string line_;
    uint64_t records_ = 0;
    bool pcap_cnt_ = true;
    EveAlertOptions alert_opts_{};
};

// Helpers shared with tests.
std::string format_timestamp(int64_t sec, uint32_t usec);  // 2024-01-01T00:00:00.000000+0000
std::string format_ip(const dataplane::IpAddr& a);  // dotted quad, or IPv6 uncompressed as Suricata
void json_escape(std::string& out, const std::string& s);
// An application-layer EVE object (AppLayer::eve_object) as JSON text; "" for none. Bytes
// that are not UTF-8 never throw: they were rendered by the parsers as Suricata does ("\xHH").
std::string eve_object_text(const nlohmann::ordered_json& j);
const char* proto_name(uint8_t ip_proto, std::string& buf);  // "TCP", "UDP", "ICMP", "17"...
std::string base64(std::string_view bytes);                  // standard alphabet, padded
// Suricata's payload_printable: printable ASCII, CR and LF as they are, anything else '.'.
std::string printable(std::string_view bytes);

}  // namespace vigil::sensor
