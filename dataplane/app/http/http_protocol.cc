// HTTP/1 as an application-layer protocol: detection, the AppParser over HttpParser, the
// buffers, the EVE "http" object and the counters (registered in registry.cc).

#include "dataplane/app/detect.h"
#include "dataplane/app/dns/dns.h"
#include "dataplane/app/http/http.h"

#include <nlohmann/json.hpp>

namespace vigil::dataplane::app {

namespace {

constexpr std::array<std::string_view, 24> kMethods{
    "GET ",      "POST ",  "HEAD ",       "PUT ",      "DELETE ",    "OPTIONS ",
    "CONNECT ",  "TRACE ", "PATCH ",      "PROPFIND ", "PROPPATCH ", "MKCOL ",
    "COPY ",     "MOVE ",  "LOCK ",       "UNLOCK ",   "SEARCH ",    "REPORT ",
    "CHECKOUT ", "MERGE ", "MKACTIVITY ", "NOTIFY ",   "SUBSCRIBE ", "UNSUBSCRIBE "};

ProbeResult probe_http_result(const ProbeInput& in) {
    const std::string_view s(reinterpret_cast<const char*>(in.data), in.len);
    if (!in.to_server) {
        return probe_prefix(s, "HTTP/1.");
    }
    ProbeResult best = ProbeResult::NoMatch;
    for (std::string_view m : kMethods) {
        const ProbeResult r = probe_prefix(s, m);
        if (r == ProbeResult::Match) {
            return r;
        }
        if (r == ProbeResult::NeedMore) {
            best = r;
        }
    }
    return best;
}

const std::string* first(const TxBuffers& b, BufferId id) {
    const auto& v = b.get(id);
    return v.empty() ? nullptr : &v[0];
}

// Suricata's alert "http" object (the fields its EVE alert logger writes for HTTP/1).
void http_eve(const void* obj, uint64_t /*tx_id*/, nlohmann::ordered_json& j) {
    const auto& tx = *static_cast<const HttpTx*>(obj);
    const TxBuffers& b = tx.buf;
    j = nlohmann::ordered_json::object();
    auto str = [&](const char* k, BufferId id) {
        if (const std::string* v = first(b, id)) {
            j[k] = eve_bytes_string(*v);
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
                j["http_port"] = port;
            }
        }
    }
    str("url", BufferId::HttpUriRaw);
    str("http_user_agent", BufferId::HttpUserAgent);
    if (const std::string* ct = first(b, BufferId::HttpContentTypeResp)) {
        // media type only, like Suricata
        j["http_content_type"] = eve_bytes_string(std::string_view(*ct).substr(0, ct->find(';')));
    }
    str("http_refer", BufferId::HttpReferer);
    str("http_method", BufferId::HttpMethod);
    str("protocol", BufferId::HttpProtocol);
    if (tx.status >= 0) {
        j["status"] = tx.status;
    } else if (const std::string* sc = first(b, BufferId::HttpStatCode);
               sc != nullptr && !sc->empty()) {
        j["status_string"] = eve_bytes_string(*sc);
    }
    str("redirect", BufferId::HttpLocation);
    j["length"] = tx.resp_length;
}

class HttpAppParser final : public AppParser {
public:
    HttpAppParser(const AppConfig& config, AppStats& stats) : config_(config), stats_(stats) {
        reset();
    }
    void begin() override { parser_->begin(); }
    void data(FlowDir dir, const uint8_t* data, size_t len, AppSink& out) override {
        if (len == 0) {
            return;
        }
        parser_->feed(dir, data, len, events_);
        flush(out);
    }
    void gap(FlowDir dir) override { parser_->gap(dir); }
    void close(FlowDir dir, AppSink& out) override {
        parser_->close(dir, events_);
        flush(out);
    }
    void reset() override { parser_ = std::make_unique<HttpParser>(config_, stats_); }

private:
    void flush(AppSink& out) {
        for (const HttpEvent& e : events_) {
            out.push(AppProto::Http, e.stage, e.tx->id, &e.tx->buf, "http", http_eve, e.tx);
        }
        events_.clear();
    }

    const AppConfig& config_;
    AppStats& stats_;
    std::unique_ptr<HttpParser> parser_;
    std::vector<HttpEvent> events_;
};

std::unique_ptr<AppParser> make_http(const AppConfig& config, AppStats& stats) {
    return std::make_unique<HttpAppParser>(config, stats);
}

constexpr std::string_view kAliases[] = {"http1"};

// Stage 1: request line and headers; 2: request body (dechunked, decoded); 3: response line
// and headers; 4: response body (dechunked, decompressed).
constexpr BufferDef kBuffers[] = {
    {BufferId::HttpMethod, "http.method", 1},
    {BufferId::HttpUri, "http.uri", 1},
    {BufferId::HttpUriRaw, "http.uri.raw", 1},
    {BufferId::HttpProtocol, "http.protocol", 1},
    {BufferId::HttpRequestLine, "http.request_line", 1},
    {BufferId::HttpHost, "http.host", 1},
    {BufferId::HttpHostRaw, "http.host.raw", 1},
    {BufferId::HttpUserAgent, "http.user_agent", 1},
    {BufferId::HttpReferer, "http.referer", 1},
    {BufferId::HttpCookie, "http.cookie", 1},
    {BufferId::HttpAccept, "http.accept", 1},
    {BufferId::HttpAcceptEnc, "http.accept_enc", 1},
    {BufferId::HttpAcceptLang, "http.accept_lang", 1},
    {BufferId::HttpContentTypeReq, "http.content_type (request)", 1},
    {BufferId::HttpContentLenReq, "http.content_len (request)", 1},
    {BufferId::HttpConnectionReq, "http.connection (request)", 1},
    {BufferId::HttpHeaderReq, "http.header (request)", 1},
    {BufferId::HttpHeaderRawReq, "http.header.raw (request)", 1},
    {BufferId::HttpHeaderNamesReq, "http.header_names (request)", 1},
    {BufferId::HttpStartReq, "http.start (request)", 1},
    {BufferId::HttpRequestHeader, "http.request_header", 1},
    {BufferId::HttpEventsReq, "app-layer-event (http request)", 1},
    {BufferId::HttpRequestBody, "http.request_body", 2},
    {BufferId::HttpProtocolResp, "http.protocol (response)", 3},
    {BufferId::HttpStatCode, "http.stat_code", 3},
    {BufferId::HttpStatMsg, "http.stat_msg", 3},
    {BufferId::HttpResponseLine, "http.response_line", 3},
    {BufferId::HttpServer, "http.server", 3},
    {BufferId::HttpLocation, "http.location", 3},
    {BufferId::HttpSetCookie, "http.cookie (response)", 3},
    {BufferId::HttpContentTypeResp, "http.content_type (response)", 3},
    {BufferId::HttpContentLenResp, "http.content_len (response)", 3},
    {BufferId::HttpConnectionResp, "http.connection (response)", 3},
    {BufferId::HttpHeaderResp, "http.header (response)", 3},
    {BufferId::HttpHeaderRawResp, "http.header.raw (response)", 3},
    {BufferId::HttpHeaderNamesResp, "http.header_names (response)", 3},
    {BufferId::HttpStartResp, "http.start (response)", 3},
    {BufferId::HttpResponseHeader, "http.response_header", 3},
    {BufferId::HttpEventsResp, "app-layer-event (http response)", 3},
    {BufferId::HttpResponseBody, "http.response_body", 4},
};

constexpr std::string_view kCounters[] = {"requests", "responses", "parse errors",
                                          "bodies truncated", "gzip errors"};

}  // namespace

void probe_http(const ProbeInput& in, Probe& acc) {
    merge_probe(acc, probe_http_result(in), AppProto::Http);
}

const AppProtoDef& http_protocol() {
    static constexpr AppProtoDef kDef{
        .proto = AppProto::Http,
        .name = "http",
        .aliases = kAliases,
        .probe_tcp = probe_http,
        .make_tcp = make_http,
        .eve_key = "http",
        .buffers = kBuffers,
        .counters = kCounters,
        .summary_counters =
            (1U << kHttpRequests) | (1U << kHttpResponses) | (1U << kHttpParseErrors),
        .eve_tx_counter = kHttpRequests,
    };
    return kDef;
}

}  // namespace vigil::dataplane::app
