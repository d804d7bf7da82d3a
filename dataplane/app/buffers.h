#pragma once
// What application-layer parsers expose to detection: the sticky buffers of one transaction
// (an HTTP request/response pair, a DNS message, a TLS handshake). Parsers fill them; rules/
// maps keywords (`http.uri`, `dns.query`, ...) onto these ids.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::dataplane::app {

enum class AppProto : uint8_t {
    Unknown = 0,  // not (yet) identified
    Failed,       // detection gave up: not a protocol we know
    Http,
    Dns,
    Tls,
    Ssh,   // identified only (no parser, no buffers)
    Smtp,  // identified only
    Ftp,   // identified only
    Smb,   // identified only
    Count
};
// EVE / rule names: "http", "dns", "tls", "ssh", "smtp", "ftp", "smb"; "failed"; "" unknown.
std::string_view app_proto_name(AppProto p);

// Buffers, per direction where a protocol has both (Req = to server, Resp = to client).
enum class BufferId : uint8_t {
    // HTTP request (stage 1: request line and headers complete)
    HttpMethod,
    HttpUri,       // normalised: %-decoded, dot segments and // removed
    HttpUriRaw,    // as sent
    HttpProtocol,  // "HTTP/1.1"
    HttpRequestLine,
    HttpHost,     // Host header, lower-cased, without port
    HttpHostRaw,  // Host header as sent
    HttpUserAgent,
    HttpReferer,
    HttpCookie,  // request Cookie header
    HttpAccept,
    HttpAcceptEnc,
    HttpAcceptLang,
    HttpContentTypeReq,
    HttpContentLenReq,
    HttpConnectionReq,
    HttpHeaderReq,       // normalised headers "Name: value\r\n" (no Cookie), request
    HttpHeaderRawReq,    // header block as sent
    HttpHeaderNamesReq,  // "\r\nName1\r\nName2\r\n\r\n"
    HttpStartReq,        // request line + "\r\n" + raw headers + "\r\n"
    // HTTP request body (stage 2: body complete, dechunked and decoded: gzip / deflate)
    HttpRequestBody,
    // HTTP response (stage 3)
    HttpStatCode,
    HttpStatMsg,
    HttpResponseLine,
    HttpServer,
    HttpLocation,
    HttpSetCookie,  // http.cookie on responses
    HttpContentTypeResp,
    HttpContentLenResp,
    HttpConnectionResp,
    HttpHeaderResp,
    HttpHeaderRawResp,
    HttpHeaderNamesResp,
    HttpStartResp,
    // HTTP response body (stage 4: dechunked and decompressed: gzip / deflate)
    HttpResponseBody,
    // DNS (stage 1: a query message; one instance per question)
    DnsQuery,
    // TLS (stage 1: ClientHello)
    TlsSni,
    Ja3Hash,  // md5 hex of Ja3String
    Ja3String,
    // TLS (stage 2: ServerHello)
    Ja3sHash,
    Ja3sString,
    // TLS (stage 3: server Certificate message)
    TlsCertSubject,  // "C=US, O=Example, CN=example.com"
    TlsCertIssuer,
    TlsCertSerial,  // "0A:1B:..."
    TlsCerts,       // one instance per DER certificate in the chain
    Count
};
inline constexpr size_t kBufferCount = static_cast<size_t>(BufferId::Count);

AppProto buffer_proto(BufferId b);
// Progress stage of the transaction at which the buffer is complete (see above).
uint8_t buffer_stage(BufferId b);
std::string_view buffer_name(BufferId b);  // "http.uri", "http.header (response)", ...

// The buffers of one transaction. Multi-instance buffers (DnsQuery, TlsCerts) hold one entry
// per instance; all others at most one. A buffer that is absent (no such header) has no
// instance, which is different from an empty one.
struct TxBuffers {
    std::array<std::vector<std::string>, kBufferCount> bufs;

    void clear() {
        for (auto& b : bufs) {
            b.clear();
        }
    }
    void set(BufferId id, std::string_view v) {
        auto& b = bufs[static_cast<size_t>(id)];
        b.clear();
        b.emplace_back(v);
    }
    void add(BufferId id, std::string_view v) { bufs[static_cast<size_t>(id)].emplace_back(v); }
    const std::vector<std::string>& get(BufferId id) const { return bufs[static_cast<size_t>(id)]; }
    bool has(BufferId id) const { return !bufs[static_cast<size_t>(id)].empty(); }
};

}  // namespace vigil::dataplane::app
