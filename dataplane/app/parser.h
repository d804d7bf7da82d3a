#pragma once
// What one application-layer protocol provides to the engine (AppLayer), and the table of
// protocols. A protocol lives in its own folder (http/, dns/, tls/): a parser behind the
// AppParser interface, its probes, its buffers, its EVE object and its counters, described
// by one AppProtoDef and registered once in registry.cc. The engine, protocol detection,
// the buffer table, the EVE stats and the replay summary all walk the table; nothing else
// names a protocol.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "dataplane/app/buffers.h"
#include "dataplane/flow_table.h"
#include "dataplane/packet.h"

#include <nlohmann/json_fwd.hpp>

namespace vigil::dataplane::app {

inline constexpr size_t kProtoCount = static_cast<size_t>(AppProto::Count);
// Progress stages of a transaction are 1..kAppStageMax (0: none); the matcher keeps one rule
// group per (protocol, stage).
inline constexpr uint8_t kAppStageMax = 4;
// Counters per protocol (AppStats::counters); each protocol names its own (AppProtoDef).
inline constexpr size_t kAppCounters = 6;

// app-layer.protocols.X.enabled: a protocol can be off (not detected: its flows stay
// unidentified, "failed"), detected only (no parser: no buffers, no EVE object), or on.
enum class ProtoMode : uint8_t { Off, DetectionOnly, On };

struct AppConfig {
    bool enabled = true;
    std::array<ProtoMode, kProtoCount> proto_mode = [] {
        std::array<ProtoMode, kProtoCount> a{};
        a.fill(ProtoMode::On);
        return a;
    }();
    uint32_t http_request_body_limit = 1 << 20;   // bytes kept of a request body (dechunked)
    uint32_t http_response_body_limit = 1 << 20;  // bytes kept of a response body (decoded)
    uint32_t http_header_limit = 64 << 10;        // request/response header block
    uint32_t detect_limit = 4096;  // bytes looked at per direction before giving up on detection
    // The buffers some loaded rule inspects (AppLayer::set_buffer_needs): a parser may skip
    // building a buffer nobody reads (HTTP bodies: no rule on a body, no copy). All by default.
    std::array<bool, kBufferCount> buffer_needed = [] {
        std::array<bool, kBufferCount> a{};
        a.fill(true);
        return a;
    }();

    bool needs(BufferId b) const { return buffer_needed[static_cast<size_t>(b)]; }
    ProtoMode mode(AppProto p) const { return proto_mode[static_cast<size_t>(p)]; }
};

struct AppStats {
    std::array<uint64_t, kProtoCount> flows{};  // by detected protocol
    // Per protocol; the meaning of each index is the protocol's (AppProtoDef::counters).
    std::array<std::array<uint64_t, kAppCounters>, kProtoCount> counters{};

    uint64_t& counter(AppProto p, size_t c) { return counters[static_cast<size_t>(p)][c]; }
    uint64_t counter(AppProto p, size_t c) const { return counters[static_cast<size_t>(p)][c]; }
    AppStats& operator+=(const AppStats& o);  // sums another worker's counters
};

// Writes a transaction's EVE object (Suricata's "http" / "dns" / "tls" alert object) as
// structured data; the sensor's EVE writer renders it.
using EveFn = void (*)(const void* obj, uint64_t tx_id, nlohmann::ordered_json& out);

// A transaction reached a stage with this packet: detection evaluates the rules whose
// buffers are complete at this stage.
struct AppEvent {
    AppProto proto = AppProto::Unknown;
    uint8_t stage = 0;   // 1..kAppStageMax (buffer_stage())
    uint64_t tx_id = 0;  // per flow, from 0
    const TxBuffers* tx = nullptr;
    // The EVE object of alerts on this transaction: its key and what builds it, on demand
    // (AppLayer::eve_object()), since most events raise no alert. `eve_obj` stays valid
    // until the next call on the engine.
    std::string_view eve_key;
    EveFn eve = nullptr;
    const void* eve_obj = nullptr;
};

// Where parsers report events during one engine call.
class AppSink {
public:
    AppSink(const AppConfig& config, AppStats& stats) : config_(config), stats_(stats) {}

    void push(AppProto proto, uint8_t stage, uint64_t tx_id, const TxBuffers* tx,
              std::string_view eve_key, EveFn eve, const void* obj) {
        events_.push_back(AppEvent{proto, stage, tx_id, tx, eve_key, eve, obj});
    }
    const AppConfig& config() const { return config_; }
    AppStats& stats() { return stats_; }
    uint64_t& counter(AppProto p, size_t c) { return stats_.counter(p, c); }

    // The engine's side.
    void begin() { events_.clear(); }
    std::span<const AppEvent> events() const { return events_; }

private:
    const AppConfig& config_;
    AppStats& stats_;
    std::vector<AppEvent> events_;
};

// One TCP connection's parser (made when detection picks the protocol; it is given the
// bytes detection held back first, the client's before the server's).
class AppParser {
public:
    virtual ~AppParser() = default;
    // Once per engine call on this flow, before data()/gap()/close(). Event objects of the
    // previous call may be reused from here on.
    virtual void begin() {}
    // New in-order bytes of one direction.
    virtual void data(FlowDir dir, const uint8_t* data, size_t len, AppSink& out) = 0;
    // Bytes were lost before the next data of `dir`.
    virtual void gap(FlowDir dir) = 0;
    // The direction has ended (FIN/RST/flow end).
    virtual void close(FlowDir /*dir*/, AppSink& /*out*/) {}
    // Back to the state of a new connection, keeping what memory is cheap to keep (the
    // engine reuses parsers of ended flows).
    virtual void reset() = 0;
};

// A UDP protocol's datagram handler: one per engine, not per flow (a datagram is a whole
// message; per-flow state is the flow's transaction counter).
class UdpAppParser {
public:
    virtual ~UdpAppParser() = default;
    virtual void begin() {}  // once per engine call
    virtual void datagram(Flow& flow, const Packet& pkt, AppSink& out) = 0;
};

// --- detection ---

enum class ProbeResult : uint8_t { NeedMore, NoMatch, Match };

struct Probe {
    ProbeResult result = ProbeResult::NoMatch;
    AppProto proto = AppProto::Unknown;
    bool banner_220 = false;  // server greeting "220": SMTP or FTP, not decided by itself
};

struct ProbeInput {
    bool to_server = false;
    const uint8_t* data = nullptr;  // the first bytes of one direction
    size_t len = 0;
    uint16_t server_port = 0;  // the responder's port
    size_t limit = 0;          // the most bytes ever given: a probe needing more gives up
};

// Folds one prober's answer into the direction's: a match wins, then "need more".
void merge_probe(Probe& acc, ProbeResult r, AppProto p);

// --- the table ---

struct BufferDef {
    BufferId id;
    std::string_view name;  // "http.uri", "http.header (response)", ...
    uint8_t stage;          // the transaction stage at which it is complete
};

struct AppProtoDef {
    AppProto proto = AppProto::Unknown;
    std::string_view name{};                      // EVE app_proto and rule name: "http"
    std::span<const std::string_view> aliases{};  // other rule names ("http1", "ssl")
    // Detection by content (in table order; the first match wins); null: none.
    void (*probe_tcp)(const ProbeInput& in, Probe& acc) = nullptr;
    bool (*probe_udp)(const uint8_t* data, size_t len) = nullptr;
    // Parsers; null: the protocol is identified only.
    std::unique_ptr<AppParser> (*make_tcp)(const AppConfig& config, AppStats& stats) = nullptr;
    std::unique_ptr<UdpAppParser> (*make_udp)(const AppConfig& config, AppStats& stats) = nullptr;
    std::string_view eve_key{};  // the EVE object of its alerts ("" none)
    std::span<const BufferDef> buffers{};
    // Counter names (summary wording: "requests", "parse errors"), by index.
    std::span<const std::string_view> counters{};
    uint8_t summary_counters = 0;  // bit i: counter i appears in the replay summary
    int8_t eve_tx_counter = -1;    // the counter EVE stats print as app_layer.tx.<name>
    bool eve_flow_stats = true;    // printed in EVE stats app_layer.flow
};

// Every protocol, in detection order.
std::span<const AppProtoDef* const> app_protocols();
// The definition of a protocol; null for Unknown / Failed.
const AppProtoDef* app_protocol(AppProto p);

}  // namespace vigil::dataplane::app
