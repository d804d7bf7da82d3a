#pragma once
// What application-layer parsers expose to detection: the sticky buffers of one transaction
// (an HTTP request/response pair, a DNS message, a TLS handshake). Parsers fill them; rules/
// maps keywords (`http.uri`, `dns.query`, ...) onto these ids.

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
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
    HttpRequestHeader,   // one instance per header line: "Name: value" (Cookie included)
    HttpEventsReq,       // app-layer events of the request, one name per instance
    // HTTP request body (stage 2: body complete, dechunked and decoded: gzip / deflate)
    HttpRequestBody,
    // HTTP response (stage 3)
    HttpProtocolResp,  // the status line's "HTTP/1.1" (http.protocol under flow:to_client)
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
    HttpResponseHeader,  // one instance per header line: "Name: value"
    HttpEventsResp,      // app-layer events of the response
    // HTTP response body (stage 4: dechunked and decompressed: gzip / deflate)
    HttpResponseBody,
    // DNS (stage 1: one message, a query or a response; one instance per entry)
    DnsQuery,              // the questions of a query (requests only)
    DnsQueriesRrname,      // the questions, of queries and responses
    DnsAnswersRrname,      // the names of the answer records
    DnsAuthoritiesRrname,  // ... of the authority records
    DnsAdditionalsRrname,  // ... of the additional records
    DnsResponseRrname,     // responses: every name above, and CNAME/PTR/MX/NS/SOA rdata names
    DnsRrtype,  // 2 bytes big endian: a query's question types, a response's answer types
    DnsOpcode,  // 1 byte: the header's opcode
    DnsRcode,   // 1 byte: the header's rcode
    DnsEvents,  // app-layer events of the message, one name per instance
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

// The buffers of one transaction. Multi-instance buffers (DnsQuery, TlsCerts, Http*Header) hold one
// entry per instance; all others at most one. A buffer that is absent (no such header) has no
// instance, which is different from an empty one. Clearing keeps the strings' memory, so a
// transaction object reused for the next request stops allocating (large bodies excepted).
class TxBuffers {
public:
    void clear() {
        for (size_t i = 0; i < kBufferCount; ++i) {
            clear(static_cast<BufferId>(i));
        }
    }
    void clear(BufferId id) {
        const auto i = static_cast<size_t>(id);
        if (count_[i] != 0 && store_[i][0].capacity() > kKeepCapacity) {
            std::string().swap(store_[i][0]);  // do not keep a big body per idle tx
        }
        count_[i] = 0;
    }
    // Appends an empty instance and returns it.
    std::string& add_empty(BufferId id) {
        const auto i = static_cast<size_t>(id);
        auto& v = store_[i];
        if (count_[i] == v.size()) {
            v.emplace_back();
        }
        std::string& s = v[count_[i]++];
        s.clear();
        return s;
    }
    void set(BufferId id, std::string_view v) {
        clear(id);
        add_empty(id).assign(v);
    }
    void add(BufferId id, std::string_view v) { add_empty(id).assign(v); }
    // The first instance, created empty when absent (bodies grow in place).
    std::string& first(BufferId id) {
        const auto i = static_cast<size_t>(id);
        return count_[i] != 0 ? store_[i][0] : add_empty(id);
    }
    std::span<const std::string> get(BufferId id) const {
        const auto i = static_cast<size_t>(id);
        return {store_[i].data(), count_[i]};
    }
    bool has(BufferId id) const { return count_[static_cast<size_t>(id)] != 0; }

    bool operator==(const TxBuffers& o) const {
        for (size_t i = 0; i < kBufferCount; ++i) {
            const auto a = get(static_cast<BufferId>(i));
            const auto b = o.get(static_cast<BufferId>(i));
            if (!std::equal(a.begin(), a.end(), b.begin(), b.end())) {
                return false;
            }
        }
        return true;
    }

private:
    static constexpr size_t kKeepCapacity = 64 << 10;
    std::array<std::vector<std::string>, kBufferCount> store_;
    std::array<uint32_t, kBufferCount> count_{};
};

}  // namespace vigil::dataplane::app
