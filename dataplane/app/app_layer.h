#pragma once
// Application-layer engine: identifies the protocol of a flow by content (not only by port)
// and runs its parser over reassembled TCP data (or UDP payloads), producing transaction
// progress events for detection. One AppLayer per worker (no locks); per-flow state lives in
// Flow::app.

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "dataplane/app/buffers.h"
#include "dataplane/flow_table.h"
#include "dataplane/packet.h"

namespace vigil::dataplane::app {

struct AppConfig {
    bool enabled = true;
    uint32_t http_request_body_limit = 1 << 20;   // bytes kept of a request body (dechunked)
    uint32_t http_response_body_limit = 1 << 20;  // bytes kept of a response body (decoded)
    uint32_t http_header_limit = 64 << 10;        // request/response header block
    uint32_t detect_limit = 4096;  // bytes looked at per direction before giving up on detection
    // Keep HTTP bodies for inspection (set from the rules: no rule on a body, no copy).
    bool store_request_body = true;
    bool store_response_body = true;
};

struct AppStats {
    std::array<uint64_t, static_cast<size_t>(AppProto::Count)> flows{};  // by detected proto
    uint64_t http_requests = 0;
    uint64_t http_responses = 0;
    uint64_t http_parse_errors = 0;
    uint64_t http_body_truncated = 0;
    uint64_t http_gzip_errors = 0;
    uint64_t dns_queries = 0;
    uint64_t dns_responses = 0;
    uint64_t dns_parse_errors = 0;
    uint64_t tls_client_hellos = 0;
    uint64_t tls_server_hellos = 0;
    uint64_t tls_certificates = 0;
    uint64_t tls_parse_errors = 0;

    AppStats& operator+=(const AppStats& o);  // sums another worker's counters
};

// A transaction reached a stage with this packet: detection evaluates the rules whose
// buffers are complete at this stage.
struct AppEvent {
    AppProto proto = AppProto::Unknown;
    uint8_t stage = 0;   // buffer_stage() values
    uint64_t tx_id = 0;  // per flow, from 0
    const TxBuffers* tx = nullptr;
    // EVE object for alerts on this transaction: its key ("http"/"dns"/"tls"); the JSON text
    // (Suricata's alert fields: http: hostname, url, http_user_agent, http_method, protocol,
    // status, length, ...; dns: version 3 request/response; tls: subject, issuerdn, serial,
    // sni, version, ja3{hash,string}, ja3s{...}) is built on demand by AppLayer::eve_json(),
    // since most events raise no alert.
    std::string_view eve_key;
    const void* eve_src = nullptr;  // what eve_json() describes (internal)
};

class AppLayer {
public:
    explicit AppLayer(const AppConfig& config = {});
    ~AppLayer();
    AppLayer(const AppLayer&) = delete;
    AppLayer& operator=(const AppLayer&) = delete;

    // New in-order stream bytes of one direction of a TCP flow (the StreamView's
    // [new_from, len)), or `gap` when bytes were lost before them. Returns the events this
    // data caused; valid until the next call on the engine.
    std::span<const AppEvent> on_tcp_data(Flow& flow, FlowDir dir, const uint8_t* data,
                                          uint32_t len, bool gap, const Packet& pkt);
    // One UDP datagram's payload.
    std::span<const AppEvent> on_udp(Flow& flow, const Packet& pkt);
    // The TCP direction has closed (FIN/RST/flow end): completes bodies that end with the
    // connection (HTTP/1.0 without Content-Length).
    std::span<const AppEvent> on_tcp_close(Flow& flow, FlowDir dir, const Packet& pkt);

    AppProto proto(const Flow& flow) const;  // Unknown when not identified (yet)

    // The EVE object of an event of the last call, as JSON text.
    std::string eve_json(const AppEvent& ev) const;

    // Whether HTTP bodies are kept for inspection (a rule set without body rules needs none).
    void set_body_needs(bool request, bool response) {
        config_.store_request_body = request;
        config_.store_response_body = response;
    }

    const AppStats& stats() const { return stats_; }

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    AppConfig config_;
    AppStats stats_{};
    // Sessions freed with their flows, kept for the next flows (allocation churn: most
    // flows are short DNS exchanges). The engine must outlive the flows it served.
    friend struct AppSessionFree;
};

}  // namespace vigil::dataplane::app
