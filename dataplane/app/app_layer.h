#pragma once
// Application-layer engine: identifies the protocol of a flow by content (not only by port)
// and runs its parser over reassembled TCP data (or UDP payloads), producing transaction
// progress events for detection. One AppLayer per worker (no locks); per-flow state lives in
// Flow::app. The protocols themselves are the table in parser.h / registry.cc.

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "dataplane/app/buffers.h"
#include "dataplane/app/parser.h"
#include "dataplane/flow_table.h"
#include "dataplane/packet.h"

#include <nlohmann/json_fwd.hpp>

namespace vigil::dataplane::app {

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

    // The EVE object of an event of the last call (Suricata's "http" / "dns" / "tls"
    // object), as structured data for the EVE writer; null when the event has none.
    void eve_object(const AppEvent& ev, nlohmann::ordered_json& out) const;

    // The buffers some loaded rule inspects: parsers may skip the others (HTTP bodies).
    void set_buffer_needs(const std::array<bool, kBufferCount>& needed) {
        config_.buffer_needed = needed;
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
