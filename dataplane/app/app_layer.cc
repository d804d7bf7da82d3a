#include "dataplane/app/app_layer.h"

#include <optional>
#include <vector>

#include "dataplane/app/detect.h"

#include <nlohmann/json.hpp>

namespace vigil::dataplane::app {

// Per-flow application state (Flow::app): protocol detection while undecided, then the one
// parser of the detected protocol (none for protocols that are identified only).
struct AppSession {
    std::vector<AppSession*>* pool = nullptr;  // the engine's free list
    std::optional<ProtoDetector> detector{std::in_place};
    std::unique_ptr<AppParser> parser;
    AppProto parser_proto = AppProto::Unknown;
    // The engine's free parsers, by protocol (a parser goes back there with its session).
    std::array<std::vector<std::unique_ptr<AppParser>>, kProtoCount>* parser_pool = nullptr;

    // Back to the state of a new session; the parser goes back to the engine for the next
    // flow of its protocol.
    void recycle() {
        detector.emplace();
        if (parser) {
            auto& free = (*parser_pool)[static_cast<size_t>(parser_proto)];
            if (free.size() < kParserPoolMax) {
                parser->reset();
                free.push_back(std::move(parser));
            }
            parser.reset();
        }
        parser_proto = AppProto::Unknown;
    }

    static constexpr size_t kParserPoolMax = 1024;
};

namespace {
constexpr size_t kSessionPoolMax = 4096;
}  // namespace

void AppSessionFree::operator()(AppSession* s) const {
    if (s->pool != nullptr && s->pool->size() < kSessionPoolMax) {
        s->recycle();
        s->pool->push_back(s);
        return;
    }
    delete s;
}

struct AppLayer::Impl {
    Impl(const AppConfig& config, AppStats& stats) : sink(config, stats) {}
    ~Impl() {
        for (AppSession* s : pool) {
            delete s;
        }
    }
    AppSink sink;
    std::vector<AppSession*> pool;                                             // recycled sessions
    std::array<std::vector<std::unique_ptr<AppParser>>, kProtoCount> parsers;  // free ones
    std::array<std::unique_ptr<UdpAppParser>, kProtoCount> udp;                // made on first use
};

AppLayer::AppLayer(const AppConfig& config)
    : impl_(std::make_unique<Impl>(config_, stats_)), config_(config) {}

AppLayer::~AppLayer() = default;

void AppLayer::eve_object(const AppEvent& ev, nlohmann::ordered_json& out) const {
    if (ev.eve == nullptr || ev.eve_obj == nullptr) {
        out = nullptr;
        return;
    }
    ev.eve(ev.eve_obj, ev.tx_id, out);
}

AppProto AppLayer::proto(const Flow& flow) const {
    return static_cast<AppProto>(flow.app_proto);
}

namespace {

uint16_t server_port(const Flow& flow) {
    const bool client_is_lo =
        flow.key.addr_lo == flow.client && flow.key.port_lo == flow.client_port;
    return client_is_lo ? flow.key.port_hi : flow.key.port_lo;
}

}  // namespace

std::span<const AppEvent> AppLayer::on_tcp_data(Flow& flow, FlowDir dir, const uint8_t* data,
                                                uint32_t len, bool gap, const Packet& /*pkt*/) {
    Impl& im = *impl_;
    im.sink.begin();
    if (!config_.enabled) {
        return {};
    }
    if (!flow.app) {
        AppSession* s = nullptr;
        if (!im.pool.empty()) {
            s = im.pool.back();
            im.pool.pop_back();
        } else {
            s = new AppSession();
            s->pool = &im.pool;
            s->parser_pool = &im.parsers;
        }
        flow.app.reset(s);
    }
    AppSession& s = *flow.app;
    if (s.parser) {
        s.parser->begin();
    }
    const AppProto p = proto(flow);
    if (p != AppProto::Unknown) {
        if (!s.parser) {
            return {};  // identified only, or detection failed
        }
        if (gap) {
            s.parser->gap(dir);
            return {};
        }
        s.parser->data(dir, data, len, im.sink);
        return im.sink.events();
    }
    if (!s.detector) {
        return {};
    }
    size_t buffered = 0;
    AppProto d = AppProto::Unknown;
    if (gap) {
        d = s.detector->end_dir(dir, config_.detect_limit);
    }
    if (len > 0 && d == AppProto::Unknown) {
        d = s.detector->add_tcp(dir, data, len, server_port(flow), config_.detect_limit, buffered);
    }
    if (d == AppProto::Unknown) {
        return {};
    }
    if (d != AppProto::Failed && config_.mode(d) == ProtoMode::Off) {
        d = AppProto::Failed;  // app-layer.protocols.X.enabled: no
    }
    flow.app_proto = static_cast<uint8_t>(d);
    ++stats_.flows[static_cast<size_t>(d)];
    const AppProtoDef* def = app_protocol(d);
    if (def != nullptr && def->make_tcp != nullptr && config_.mode(d) == ProtoMode::On) {
        auto& free = im.parsers[static_cast<size_t>(d)];
        if (!free.empty()) {
            s.parser = std::move(free.back());
            free.pop_back();
        } else {
            s.parser = def->make_tcp(config_, stats_);
        }
        s.parser_proto = d;
        s.parser->begin();
        // Replay what detection held back: the client's bytes first, so that responses
        // find their requests.
        for (FlowDir fd : {FlowDir::ToServer, FlowDir::ToClient}) {
            const auto& b = s.detector->buffered(fd);
            if (!b.empty()) {
                s.parser->data(fd, b.data(), b.size(), im.sink);
            }
        }
        if (len > buffered) {
            s.parser->data(dir, data + buffered, len - buffered, im.sink);
        }
    }
    s.detector.reset();
    return im.sink.events();
}

std::span<const AppEvent> AppLayer::on_udp(Flow& flow, const Packet& pkt) {
    Impl& im = *impl_;
    im.sink.begin();
    if (!config_.enabled || pkt.payload == nullptr || pkt.payload_len == 0) {
        return {};
    }
    AppProto p = proto(flow);
    if (p == AppProto::Unknown) {
        p = detect_udp_datagram(pkt.payload, pkt.payload_len);
        if (p == AppProto::Unknown) {
            // Both sides spoke, or a few datagrams one way, and none looked like anything
            // we know.
            const bool both = flow.pkts_toserver > 0 && flow.pkts_toclient > 0;
            if (!both && flow.pkts_toserver + flow.pkts_toclient < 4) {
                return {};
            }
            p = AppProto::Failed;
        } else if (config_.mode(p) == ProtoMode::Off) {
            p = AppProto::Failed;
        }
        flow.app_proto = static_cast<uint8_t>(p);
        ++stats_.flows[static_cast<size_t>(p)];
    }
    const AppProtoDef* def = app_protocol(p);
    if (def == nullptr || def->make_udp == nullptr || config_.mode(p) != ProtoMode::On) {
        return {};
    }
    auto& udp = im.udp[static_cast<size_t>(p)];
    if (!udp) {
        udp = def->make_udp(config_, stats_);
    }
    udp->begin();
    udp->datagram(flow, pkt, im.sink);
    return im.sink.events();
}

std::span<const AppEvent> AppLayer::on_tcp_close(Flow& flow, FlowDir dir, const Packet& /*pkt*/) {
    Impl& im = *impl_;
    im.sink.begin();
    if (!config_.enabled || !flow.app) {
        return {};
    }
    AppSession& s = *flow.app;
    const AppProto p = proto(flow);
    if (p == AppProto::Unknown && s.detector) {
        const AppProto d = s.detector->end_dir(dir, config_.detect_limit);
        if (d == AppProto::Failed) {
            flow.app_proto = static_cast<uint8_t>(d);
            ++stats_.flows[static_cast<size_t>(d)];
            s.detector.reset();
        }
        return {};
    }
    if (s.parser) {
        s.parser->begin();
        s.parser->close(dir, im.sink);
    }
    return im.sink.events();
}

}  // namespace vigil::dataplane::app
