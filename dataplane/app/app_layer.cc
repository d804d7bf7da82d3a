#include "dataplane/app/app_layer.h"

#include <deque>
#include <optional>
#include <vector>

#include "common/bytes.h"
#include "dataplane/app/detect.h"
#include "dataplane/app/dns.h"
#include "dataplane/app/http.h"
#include "dataplane/app/tls.h"

namespace vigil::dataplane::app {

// Per-flow application state (Flow::app). Only the parts of the detected protocol are
// created: an HTTP flow costs the parser and its live transactions, a TLS flow the parser
// and one TxBuffers, a DNS flow one TxBuffers per message of the current packet.
struct DnsTx {
    TxBuffers buf;
    DnsMessage msg;
};

// What an AppEvent's eve_src points at.
struct EveSource {
    AppProto proto = AppProto::Unknown;
    const void* obj = nullptr;  // HttpTx, TlsParser, DnsTx
    uint64_t tx_id = 0;
};

struct AppSession {
    std::vector<AppSession*>* pool = nullptr;  // the engine's free list
    std::optional<ProtoDetector> detector{std::in_place};
    std::unique_ptr<HttpParser> http;
    std::unique_ptr<TlsParser> tls;
    bool tls_stopped = false;
    std::unique_ptr<TxBuffers> tls_tx;  // made on the first TLS message (1 KiB: not per flow)
    // DNS
    std::array<std::string, 2> dns_tcp;  // partial TCP message (with its length prefix)
    std::array<bool, 2> dns_stopped{};
    uint64_t dns_next_id = 0;

    // Back to the state of a new session, keeping the memory of the light parts.
    void recycle() {
        detector.emplace();
        http.reset();
        tls.reset();
        tls_stopped = false;
        if (tls_tx) {
            tls_tx->clear();
        }
        dns_tcp[0].clear();
        dns_tcp[1].clear();
        dns_stopped = {};
        dns_next_id = 0;
    }
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

namespace {

// Appends `v` as a JSON string. Valid UTF-8 is kept; otherwise bytes >= 0x80 are written
// as "\xHH" (Suricata's rendering of protocol bytes in EVE).
void json_string(std::string& out, std::string_view v) {
    bool utf8 = true;
    for (size_t i = 0; i < v.size() && utf8;) {
        const auto c = static_cast<uint8_t>(v[i]);
        size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (n == 0 || i + n > v.size()) {
            utf8 = false;
            break;
        }
        for (size_t k = 1; k < n; ++k) {
            if ((static_cast<uint8_t>(v[i + k]) & 0xc0) != 0x80) {
                utf8 = false;
            }
        }
        i += n;
    }
    static constexpr char kHex[] = "0123456789abcdef";
    out.push_back('"');
    for (char ch : v) {
        const auto c = static_cast<uint8_t>(ch);
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(ch);
        } else if (c < 0x20) {
            out.append("\\u00");
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 15]);
        } else if (c >= 0x80 && !utf8) {
            out.append("\\\\x");
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 15]);
        } else {
            out.push_back(ch);
        }
    }
    out.push_back('"');
}

const std::string* first(const TxBuffers& b, BufferId id) {
    const auto& v = b.get(id);
    return v.empty() ? nullptr : &v[0];
}

// Suricata's alert "http" object (the fields its EVE alert logger writes for HTTP/1).
void http_eve_json(const HttpTx& tx, std::string& out) {
    const TxBuffers& b = tx.buf;
    out.assign("{");
    bool comma = false;
    auto key = [&](std::string_view k) {
        if (comma) {
            out.push_back(',');
        }
        comma = true;
        out.push_back('"');
        out.append(k);
        out.append("\":");
    };
    auto str = [&](std::string_view k, BufferId id) {
        if (const std::string* v = first(b, id)) {
            key(k);
            json_string(out, *v);
        }
    };
    str("hostname", BufferId::HttpHost);
    if (const std::string* raw = first(b, BufferId::HttpHostRaw)) {
        // The port of the Host header, when it has one.
        const size_t colon = raw->rfind(':');
        const size_t bracket = raw->rfind(']');
        if (colon != std::string::npos && (bracket == std::string::npos || bracket < colon) &&
            colon + 1 < raw->size() && colon + 6 >= raw->size()) {
            uint32_t port = 0;
            bool ok = true;
            for (size_t i = colon + 1; i < raw->size(); ++i) {
                const char c = (*raw)[i];
                ok = ok && c >= '0' && c <= '9';
                port = port * 10 + static_cast<uint32_t>(c - '0');
            }
            if (ok && port <= 65535) {
                key("http_port");
                out.append(std::to_string(port));
            }
        }
    }
    str("url", BufferId::HttpUriRaw);
    str("http_user_agent", BufferId::HttpUserAgent);
    if (const std::string* ct = first(b, BufferId::HttpContentTypeResp)) {
        key("http_content_type");  // media type only, like Suricata
        json_string(out, std::string_view(*ct).substr(0, ct->find(';')));
    }
    str("http_refer", BufferId::HttpReferer);
    str("http_method", BufferId::HttpMethod);
    str("protocol", BufferId::HttpProtocol);
    if (tx.status >= 0) {
        key("status");
        out.append(std::to_string(tx.status));
    } else if (const std::string* sc = first(b, BufferId::HttpStatCode);
               sc != nullptr && !sc->empty()) {
        key("status_string");
        json_string(out, *sc);
    }
    str("redirect", BufferId::HttpLocation);
    key("length");
    out.append(std::to_string(tx.resp_length));
    out.push_back('}');
}

bool parsed_proto(AppProto p) {
    return p == AppProto::Http || p == AppProto::Dns || p == AppProto::Tls;
}

// Events of one engine call.
struct EventSink {
    std::vector<AppEvent> events;
    // What each event's EVE object describes. A deque: growing it never moves the entries
    // earlier events point at; slots are reused between calls.
    std::deque<EveSource> sources;
    size_t sources_used = 0;
    std::vector<HttpEvent> http_events;
    std::vector<AppSession*> pool;  // recycled sessions
    // DNS transactions of this call: a DNS message is a whole transaction, so nothing of it
    // outlives the call and the storage is the engine's, not each flow's.
    std::vector<std::unique_ptr<DnsTx>> dns_txs;
    size_t dns_used = 0;

    void begin() {
        events.clear();
        sources_used = 0;
        http_events.clear();
        dns_used = 0;
    }
    void push(AppProto proto, uint8_t stage, uint64_t tx_id, const TxBuffers* tx,
              std::string_view key, const void* obj) {
        if (sources_used == sources.size()) {
            sources.emplace_back();
        }
        EveSource& src = sources[sources_used++];
        src.proto = proto;
        src.obj = obj;
        src.tx_id = tx_id;
        AppEvent ev;
        ev.proto = proto;
        ev.stage = stage;
        ev.tx_id = tx_id;
        ev.tx = tx;
        ev.eve_key = key;
        ev.eve_src = &src;
        events.push_back(ev);
    }
};

}  // namespace

struct AppLayer::Impl : EventSink {
    ~Impl() {
        for (AppSession* s : pool) {
            delete s;
        }
    }
};

AppLayer::AppLayer(const AppConfig& config) : impl_(std::make_unique<Impl>()), config_(config) {}

AppLayer::~AppLayer() = default;

std::string AppLayer::eve_json(const AppEvent& ev) const {
    std::string out;
    const auto* src = static_cast<const EveSource*>(ev.eve_src);
    if (src == nullptr || src->obj == nullptr) {
        return out;
    }
    switch (src->proto) {
        case AppProto::Http:
            http_eve_json(*static_cast<const HttpTx*>(src->obj), out);
            break;
        case AppProto::Dns:
            out = dns_eve_json(static_cast<const DnsTx*>(src->obj)->msg, src->tx_id);
            break;
        case AppProto::Tls:
            out = static_cast<const TlsParser*>(src->obj)->eve_json();
            break;
        default:
            break;
    }
    return out;
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

AppSession& session_of(Flow& flow, std::vector<AppSession*>& pool) {
    if (!flow.app) {
        AppSession* s = nullptr;
        if (!pool.empty()) {
            s = pool.back();
            pool.pop_back();
        } else {
            s = new AppSession();
            s->pool = &pool;
        }
        flow.app.reset(s);
    }
    return *flow.app;
}

}  // namespace

// --- per-protocol dispatch ------------------------------------------------------------------

namespace {

struct Ctx {
    EventSink* impl;
    const AppConfig* config;
    AppStats* stats;
};

void http_data(Ctx c, AppSession& s, FlowDir dir, const uint8_t* data, size_t len) {
    if (len == 0) {
        return;
    }
    s.http->feed(dir, data, len, c.impl->http_events);
}

void flush_http_events(Ctx c) {
    for (const HttpEvent& e : c.impl->http_events) {
        c.impl->push(AppProto::Http, e.stage, e.tx->id, &e.tx->buf, "http", e.tx);
    }
    c.impl->http_events.clear();
}

void dns_message(Ctx c, uint64_t& next_id, const uint8_t* data, size_t len) {
    // Parsed straight into the transaction's slot: its message must outlive later messages
    // of the same call (EVE objects are built after detection).
    auto& txs = c.impl->dns_txs;
    if (c.impl->dns_used == txs.size()) {
        txs.push_back(std::make_unique<DnsTx>());
    }
    DnsTx& tx = *txs[c.impl->dns_used];
    DnsMessage& m = tx.msg;
    if (!parse_dns(data, len, m)) {
        ++c.stats->dns_parse_errors;
        return;
    }
    if (m.response) {
        ++c.stats->dns_responses;
        return;
    }
    ++c.stats->dns_queries;
    ++c.impl->dns_used;
    tx.buf.clear(BufferId::DnsQuery);
    for (const DnsQuestion& q : m.questions) {
        tx.buf.add(BufferId::DnsQuery, q.name);
    }
    const uint64_t id = next_id++;
    c.impl->push(AppProto::Dns, 1, id, &tx.buf, "dns", &tx);
}

// DNS over TCP: 2-byte length prefixed messages, reassembled per direction.
void dns_tcp_data(Ctx c, AppSession& s, FlowDir dir, const uint8_t* data, size_t len) {
    const auto di = static_cast<size_t>(dir);
    if (s.dns_stopped[di]) {
        return;
    }
    std::string& buf = s.dns_tcp[di];
    size_t i = 0;
    while (i < len) {
        if (buf.size() < 2) {
            buf.push_back(static_cast<char>(data[i++]));
            continue;
        }
        const size_t msg = load_be16(reinterpret_cast<const uint8_t*>(buf.data()));
        const size_t want = msg + 2 - buf.size();
        // Whole messages inside this segment are parsed in place, without copying.
        if (buf.size() == 2 && len - i >= msg) {
            dns_message(c, s.dns_next_id, data + i, msg);
            i += msg;
            buf.clear();
            continue;
        }
        const size_t take = std::min(want, len - i);
        buf.append(reinterpret_cast<const char*>(data + i), take);
        i += take;
        if (buf.size() == msg + 2) {
            dns_message(c, s.dns_next_id, reinterpret_cast<const uint8_t*>(buf.data()) + 2, msg);
            buf.clear();
        }
    }
}

void tls_data(Ctx c, AppSession& s, FlowDir dir, const uint8_t* data, size_t len) {
    if (s.tls_stopped || len == 0) {
        return;
    }
    if (s.tls->feed(dir == FlowDir::ToServer, data, len) == TlsParser::Result::Error) {
        ++c.stats->tls_parse_errors;
        s.tls_stopped = true;
    }
    const uint32_t bits = s.tls->take_new();
    if (bits == 0) {
        return;
    }
    if (!s.tls_tx) {
        s.tls_tx = std::make_unique<TxBuffers>();
    }
    TxBuffers& tx = *s.tls_tx;
    auto emit = [&](uint8_t stage) {
        c.impl->push(AppProto::Tls, stage, 0, &tx, "tls", s.tls.get());
    };
    if ((bits & kTlsNewClientHello) != 0 && s.tls->client_hello()) {
        const TlsClientHello& ch = *s.tls->client_hello();
        ++c.stats->tls_client_hellos;
        tx.clear(BufferId::TlsSni);
        if (!ch.sni.empty()) {
            tx.set(BufferId::TlsSni, ch.sni);
        }
        tx.set(BufferId::Ja3Hash, ch.ja3_hash);
        tx.set(BufferId::Ja3String, ch.ja3_string);
        emit(1);
    }
    if ((bits & kTlsNewServerHello) != 0 && s.tls->server_hello()) {
        const TlsServerHello& sh = *s.tls->server_hello();
        ++c.stats->tls_server_hellos;
        tx.set(BufferId::Ja3sHash, sh.ja3s_hash);
        tx.set(BufferId::Ja3sString, sh.ja3s_string);
        emit(2);
    }
    if ((bits & kTlsNewCertificate) != 0 && !s.tls->certs().empty()) {
        const auto& certs = s.tls->certs();
        ++c.stats->tls_certificates;
        tx.set(BufferId::TlsCertSubject, certs[0].subject);
        tx.set(BufferId::TlsCertIssuer, certs[0].issuer);
        tx.set(BufferId::TlsCertSerial, certs[0].serial);
        tx.clear(BufferId::TlsCerts);
        for (const TlsCertInfo& cert : certs) {
            tx.add(BufferId::TlsCerts, cert.der);
        }
        emit(3);
    }
}

void tcp_data(Ctx c, AppSession& s, AppProto p, FlowDir dir, const uint8_t* data, size_t len) {
    switch (p) {
        case AppProto::Http:
            http_data(c, s, dir, data, len);
            break;
        case AppProto::Dns:
            dns_tcp_data(c, s, dir, data, len);
            break;
        case AppProto::Tls:
            tls_data(c, s, dir, data, len);
            break;
        default:
            break;
    }
}

}  // namespace

std::span<const AppEvent> AppLayer::on_tcp_data(Flow& flow, FlowDir dir, const uint8_t* data,
                                                uint32_t len, bool gap, const Packet& /*pkt*/) {
    Impl& im = *impl_;
    im.begin();
    if (!config_.enabled) {
        return {};
    }
    AppSession& s = session_of(flow, im.pool);
    if (s.http) {
        s.http->begin();
    }
    const Ctx c{&im, &config_, &stats_};
    AppProto p = proto(flow);
    if (p == AppProto::Unknown) {
        if (!s.detector) {
            return {};
        }
        size_t buffered = 0;
        AppProto d = AppProto::Unknown;
        if (gap) {
            d = s.detector->end_dir(dir, config_.detect_limit);
        }
        if (len > 0 && (d == AppProto::Unknown)) {
            d = s.detector->add_tcp(dir, data, len, server_port(flow), config_.detect_limit,
                                    buffered);
        }
        if (d == AppProto::Unknown) {
            return {};
        }
        flow.app_proto = static_cast<uint8_t>(d);
        ++stats_.flows[static_cast<size_t>(d)];
        if (d == AppProto::Http) {
            s.http = std::make_unique<HttpParser>(config_, stats_);
        } else if (d == AppProto::Tls) {
            s.tls = std::make_unique<TlsParser>();
        }
        if (parsed_proto(d)) {
            // Replay what detection held back: the client's bytes first, so that responses
            // find their requests.
            for (FlowDir fd : {FlowDir::ToServer, FlowDir::ToClient}) {
                const auto& b = s.detector->buffered(fd);
                tcp_data(c, s, d, fd, b.data(), b.size());
            }
            tcp_data(c, s, d, dir, data + buffered, len - buffered);
        }
        s.detector.reset();
        flush_http_events(c);
        return im.events;
    }
    if (gap) {
        if (p == AppProto::Http && s.http) {
            s.http->gap(dir);
        } else if (p == AppProto::Dns) {
            s.dns_stopped[static_cast<size_t>(dir)] = true;
        } else if (p == AppProto::Tls) {
            s.tls_stopped = true;
        }
        return {};
    }
    if (p == AppProto::Http && !s.http) {
        return {};
    }
    if (p == AppProto::Tls && !s.tls) {
        return {};
    }
    tcp_data(c, s, p, dir, data, len);
    flush_http_events(c);
    return im.events;
}

std::span<const AppEvent> AppLayer::on_udp(Flow& flow, const Packet& pkt) {
    Impl& im = *impl_;
    im.begin();
    if (!config_.enabled || pkt.payload == nullptr || pkt.payload_len == 0) {
        return {};
    }
    // No session for UDP: detection looks at each datagram alone and a DNS message is a whole
    // transaction, so the flow's protocol and transaction counter are all the state there is
    // (most UDP flows are one query and one answer: no allocation for them).
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
        }
        flow.app_proto = static_cast<uint8_t>(p);
        ++stats_.flows[static_cast<size_t>(p)];
    }
    if (p == AppProto::Dns) {
        uint64_t next = flow.app_udp_txs;
        dns_message(Ctx{&im, &config_, &stats_}, next, pkt.payload, pkt.payload_len);
        flow.app_udp_txs = static_cast<uint32_t>(next);
    }
    return im.events;
}

std::span<const AppEvent> AppLayer::on_tcp_close(Flow& flow, FlowDir dir, const Packet& /*pkt*/) {
    Impl& im = *impl_;
    im.begin();
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
    if (p == AppProto::Http && s.http) {
        s.http->begin();
        s.http->close(dir, im.http_events);
        flush_http_events(Ctx{&im, &config_, &stats_});
    }
    return im.events;
}

AppStats& AppStats::operator+=(const AppStats& o) {
    for (size_t i = 0; i < flows.size(); ++i) {
        flows[i] += o.flows[i];
    }
    http_requests += o.http_requests;
    http_responses += o.http_responses;
    http_parse_errors += o.http_parse_errors;
    http_body_truncated += o.http_body_truncated;
    http_gzip_errors += o.http_gzip_errors;
    dns_queries += o.dns_queries;
    dns_responses += o.dns_responses;
    dns_parse_errors += o.dns_parse_errors;
    tls_client_hellos += o.tls_client_hellos;
    tls_server_hellos += o.tls_server_hellos;
    tls_certificates += o.tls_certificates;
    tls_parse_errors += o.tls_parse_errors;
    return *this;
}

}  // namespace vigil::dataplane::app
