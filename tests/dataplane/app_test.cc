// Application layer: HTTP/1.x parsing into Suricata-style buffers, protocol detection, and
// the AppLayer engine's events.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "dataplane/app/app_layer.h"
#include "dataplane/app/detect.h"
#include "dataplane/app/dns/dns.h"
#include "dataplane/app/http/http.h"
#include "dataplane/app/tls/tls.h"

#include <nlohmann/json.hpp>

namespace vigil::dataplane::app {
namespace {

// The EVE object of an event, as the sensor's EVE writer renders it.
std::string eve_text(const AppLayer& app, const AppEvent& ev) {
    nlohmann::ordered_json j;
    app.eve_object(ev, j);
    return j.is_null() ? "" : j.dump();
}

std::string buf(const TxBuffers& b, BufferId id) {
    const auto v = b.get(id);
    return v.empty() ? std::string("<absent>") : v[0];
}

const uint8_t* u8(const std::string& s) {
    return reinterpret_cast<const uint8_t*>(s.data());
}

// Drives an HttpParser directly and keeps a copy of each tx's buffers as of its last event.
struct HttpHarness {
    AppConfig config;
    AppStats stats;
    HttpParser parser{config, stats};
    std::vector<HttpEvent> events;
    std::vector<std::pair<uint64_t, uint8_t>> stages;  // (tx id, stage) in order
    std::map<uint64_t, TxBuffers> txs;

    explicit HttpHarness(const AppConfig& c = {}) : config(c) {}

    void collect() {
        for (const HttpEvent& e : events) {
            stages.emplace_back(e.tx->id, e.stage);
            txs[e.tx->id] = e.tx->buf;
        }
        events.clear();
    }
    void feed(FlowDir d, std::string_view s, size_t step = 0) {
        if (step == 0) {
            step = s.size() == 0 ? 1 : s.size();
        }
        for (size_t i = 0; i < s.size(); i += step) {
            const size_t n = std::min(step, s.size() - i);
            parser.begin();
            parser.feed(d, reinterpret_cast<const uint8_t*>(s.data() + i), n, events);
            collect();
        }
    }
    void req(std::string_view s, size_t step = 0) { feed(FlowDir::ToServer, s, step); }
    void resp(std::string_view s, size_t step = 0) { feed(FlowDir::ToClient, s, step); }
    void close(FlowDir d) {
        parser.begin();
        parser.close(d, events);
        collect();
    }
};

const std::string kRequest =
    "GET /a/b/../c//d%41.php?x=%41&y=1 HTTP/1.1\r\n"
    "Host: Example.COM:8080\r\n"
    "User-Agent: Mozilla/5.0\r\n"
    "Cookie: sid=1\r\n"
    "Accept: */*\r\n"
    "Accept-Encoding: gzip\r\n"
    "Accept-Language: en\r\n"
    "Referer: http://ref/\r\n"
    "X-Folded: one\r\n"
    "  two\r\n"
    "X-Rep: a\r\n"
    "X-Rep: b\r\n"
    "Connection: keep-alive\r\n"
    "\r\n";

const std::string kResponse =
    "HTTP/1.1 302 Found\r\n"
    "Server: nginx\r\n"
    "Location: /next\r\n"
    "Set-Cookie: k=v\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "Content-Length: 5\r\n"
    "Connection: close\r\n"
    "\r\n"
    "hello";

TEST(HttpParser, HeaderEventsAsLibhtpRaisesThem) {
    HttpHarness h;
    h.req("GET /1 HTTP/1.1\r\nHost: a\r\nAuthorization: NTLM TlRMTVNTUAAB\r\n\r\n");
    h.req("GET /2 HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer x\r\n\r\n");
    h.req(
        "POST /3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
        "Content-Length: 0\r\n\r\n");
    h.resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\nContent-Length: 0\r\n\r\n");
    const auto events = [&](uint64_t tx, BufferId id) {
        const auto v = h.txs[tx].get(id);
        return std::vector<std::string>(v.begin(), v.end());
    };
    EXPECT_EQ(events(0, BufferId::HttpEventsReq),
              std::vector<std::string>{"request_auth_unrecognized"});
    EXPECT_TRUE(events(1, BufferId::HttpEventsReq).empty());  // Basic, Digest, Bearer known
    EXPECT_EQ(events(2, BufferId::HttpEventsReq),
              std::vector<std::string>{"invalid_transfer_encoding_value_in_request"});
    EXPECT_EQ(events(0, BufferId::HttpEventsResp),
              std::vector<std::string>{"invalid_transfer_encoding_value_in_response"});
}

TEST(HttpParser, SampleRequestResponseFillsEveryBuffer) {
    HttpHarness h;
    h.req(kRequest);
    h.resp(kResponse);
    ASSERT_EQ(h.txs.size(), 1U);
    const TxBuffers& b = h.txs[0];
    EXPECT_EQ(buf(b, BufferId::HttpMethod), "GET");
    EXPECT_EQ(buf(b, BufferId::HttpUri), "/a/c/dA.php?x=A&y=1");
    EXPECT_EQ(buf(b, BufferId::HttpUriRaw), "/a/b/../c//d%41.php?x=%41&y=1");
    EXPECT_EQ(buf(b, BufferId::HttpProtocol), "HTTP/1.1");
    EXPECT_EQ(buf(b, BufferId::HttpRequestLine), "GET /a/b/../c//d%41.php?x=%41&y=1 HTTP/1.1");
    EXPECT_EQ(buf(b, BufferId::HttpHost), "example.com");
    EXPECT_EQ(buf(b, BufferId::HttpHostRaw), "Example.COM:8080");
    EXPECT_EQ(buf(b, BufferId::HttpUserAgent), "Mozilla/5.0");
    EXPECT_EQ(buf(b, BufferId::HttpReferer), "http://ref/");
    EXPECT_EQ(buf(b, BufferId::HttpCookie), "sid=1");
    EXPECT_EQ(buf(b, BufferId::HttpAccept), "*/*");
    EXPECT_EQ(buf(b, BufferId::HttpAcceptEnc), "gzip");
    EXPECT_EQ(buf(b, BufferId::HttpAcceptLang), "en");
    EXPECT_EQ(buf(b, BufferId::HttpContentTypeReq), "<absent>");
    EXPECT_EQ(buf(b, BufferId::HttpContentLenReq), "<absent>");
    EXPECT_EQ(buf(b, BufferId::HttpConnectionReq), "keep-alive");
    const std::string norm_headers =
        "Host: Example.COM:8080\r\n"
        "User-Agent: Mozilla/5.0\r\n"
        "Accept: */*\r\n"
        "Accept-Encoding: gzip\r\n"
        "Accept-Language: en\r\n"
        "Referer: http://ref/\r\n"
        "X-Folded: one two\r\n"
        "X-Rep: a, b\r\n"
        "Connection: keep-alive\r\n";
    EXPECT_EQ(buf(b, BufferId::HttpHeaderReq), norm_headers);  // no Cookie (Suricata)
    EXPECT_EQ(buf(b, BufferId::HttpHeaderRawReq), kRequest.substr(kRequest.find('\n') + 1));
    EXPECT_EQ(buf(b, BufferId::HttpHeaderNamesReq),
              "\r\nHost\r\nUser-Agent\r\nCookie\r\nAccept\r\nAccept-Encoding\r\n"
              "Accept-Language\r\nReferer\r\nX-Folded\r\nX-Rep\r\nConnection\r\n\r\n");
    EXPECT_EQ(buf(b, BufferId::HttpStartReq),
              "GET /a/b/../c//d%41.php?x=%41&y=1 HTTP/1.1\r\n"
              "Host: Example.COM:8080\r\nUser-Agent: Mozilla/5.0\r\nCookie: sid=1\r\n"
              "Accept: */*\r\nAccept-Encoding: gzip\r\nAccept-Language: en\r\n"
              "Referer: http://ref/\r\nX-Folded: one two\r\nX-Rep: a, b\r\n"
              "Connection: keep-alive\r\n\r\n");
    EXPECT_EQ(buf(b, BufferId::HttpRequestBody), "<absent>");

    EXPECT_EQ(buf(b, BufferId::HttpProtocolResp), "HTTP/1.1");
    EXPECT_EQ(buf(b, BufferId::HttpStatCode), "302");
    EXPECT_EQ(buf(b, BufferId::HttpStatMsg), "Found");
    EXPECT_EQ(buf(b, BufferId::HttpResponseLine), "HTTP/1.1 302 Found");
    EXPECT_EQ(buf(b, BufferId::HttpServer), "nginx");
    EXPECT_EQ(buf(b, BufferId::HttpLocation), "/next");
    EXPECT_EQ(buf(b, BufferId::HttpSetCookie), "k=v");
    EXPECT_EQ(buf(b, BufferId::HttpContentTypeResp), "text/html; charset=utf-8");
    EXPECT_EQ(buf(b, BufferId::HttpContentLenResp), "5");
    EXPECT_EQ(buf(b, BufferId::HttpConnectionResp), "close");
    EXPECT_EQ(buf(b, BufferId::HttpHeaderResp),
              "Server: nginx\r\nLocation: /next\r\nContent-Type: text/html; charset=utf-8\r\n"
              "Content-Length: 5\r\nConnection: close\r\n");
    const size_t resp_hdr_start = kResponse.find('\n') + 1;
    EXPECT_EQ(buf(b, BufferId::HttpHeaderRawResp),
              kResponse.substr(resp_hdr_start, kResponse.find("hello") - resp_hdr_start));
    EXPECT_EQ(buf(b, BufferId::HttpHeaderNamesResp),
              "\r\nServer\r\nLocation\r\nSet-Cookie\r\nContent-Type\r\nContent-Length\r\n"
              "Connection\r\n\r\n");
    EXPECT_EQ(buf(b, BufferId::HttpStartResp),
              "HTTP/1.1 302 Found\r\nServer: nginx\r\nLocation: /next\r\nSet-Cookie: k=v\r\n"
              "Content-Type: text/html; charset=utf-8\r\nContent-Length: 5\r\n"
              "Connection: close\r\n\r\n");
    EXPECT_EQ(buf(b, BufferId::HttpResponseBody), "hello");

    // One instance per header line, cookies included, the name as sent.
    const auto req_lines = b.get(BufferId::HttpRequestHeader);
    const std::vector<std::string> want_req{"Host: Example.COM:8080",
                                            "User-Agent: Mozilla/5.0",
                                            "Cookie: sid=1",
                                            "Accept: */*",
                                            "Accept-Encoding: gzip",
                                            "Accept-Language: en",
                                            "Referer: http://ref/",
                                            "X-Folded: one two",
                                            "X-Rep: a, b",
                                            "Connection: keep-alive"};
    EXPECT_EQ(std::vector<std::string>(req_lines.begin(), req_lines.end()), want_req);
    const auto resp_lines = b.get(BufferId::HttpResponseHeader);
    const std::vector<std::string> want_resp{
        "Server: nginx",     "Location: /next",
        "Set-Cookie: k=v",   "Content-Type: text/html; charset=utf-8",
        "Content-Length: 5", "Connection: close"};
    EXPECT_EQ(std::vector<std::string>(resp_lines.begin(), resp_lines.end()), want_resp);

    const std::vector<std::pair<uint64_t, uint8_t>> want{{0, 1}, {0, 2}, {0, 3}, {0, 4}};
    EXPECT_EQ(h.stages, want);
    EXPECT_EQ(h.stats.counter(AppProto::Http, kHttpRequests), 1U);
    EXPECT_EQ(h.stats.counter(AppProto::Http, kHttpResponses), 1U);
    EXPECT_EQ(h.stats.counter(AppProto::Http, kHttpParseErrors), 0U);
}

TEST(HttpParser, EverySplitPointGivesTheSameBuffers) {
    const std::string req = "POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nabcd";
    const std::string resp =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nxyz\r\n0\r\nT: 1\r\n\r\n";
    HttpHarness base;
    base.req(req);
    base.resp(resp);
    ASSERT_EQ(base.txs.size(), 1U);
    EXPECT_EQ(buf(base.txs[0], BufferId::HttpRequestBody), "abcd");
    EXPECT_EQ(buf(base.txs[0], BufferId::HttpResponseBody), "xyz");
    for (size_t k = 0; k <= req.size(); ++k) {
        HttpHarness h;
        h.req(req.substr(0, k));
        h.req(req.substr(k));
        h.resp(resp);
        ASSERT_EQ(h.txs.size(), 1U) << "request split at " << k;
        EXPECT_TRUE(h.txs[0] == base.txs[0]) << "request split at " << k;
        EXPECT_EQ(h.stages, base.stages) << "request split at " << k;
    }
    for (size_t k = 0; k <= resp.size(); ++k) {
        HttpHarness h;
        h.req(req);
        h.resp(resp.substr(0, k));
        h.resp(resp.substr(k));
        ASSERT_EQ(h.txs.size(), 1U) << "response split at " << k;
        EXPECT_TRUE(h.txs[0] == base.txs[0]) << "response split at " << k;
        EXPECT_EQ(h.stages, base.stages) << "response split at " << k;
    }
    HttpHarness one;
    one.req(kRequest, 1);
    one.resp(kResponse, 1);
    HttpHarness whole;
    whole.req(kRequest);
    whole.resp(kResponse);
    EXPECT_TRUE(one.txs[0] == whole.txs[0]);
    EXPECT_EQ(one.stages, whole.stages);
}

TEST(HttpParser, PipelinedRequestsMatchResponsesInOrder) {
    HttpHarness h;
    h.req(
        "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n"
        "POST /3 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi");
    h.resp(
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nAHTTP/1.1 404 NF\r\nContent-Length: 1\r\n"
        "\r\nBHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nC");
    ASSERT_EQ(h.txs.size(), 3U);
    EXPECT_EQ(buf(h.txs[0], BufferId::HttpUri), "/1");
    EXPECT_EQ(buf(h.txs[0], BufferId::HttpResponseBody), "A");
    EXPECT_EQ(buf(h.txs[1], BufferId::HttpUri), "/2");
    EXPECT_EQ(buf(h.txs[1], BufferId::HttpStatCode), "404");
    EXPECT_EQ(buf(h.txs[1], BufferId::HttpResponseBody), "B");
    EXPECT_EQ(buf(h.txs[2], BufferId::HttpRequestBody), "hi");
    EXPECT_EQ(buf(h.txs[2], BufferId::HttpStatCode), "201");
    EXPECT_EQ(buf(h.txs[2], BufferId::HttpResponseBody), "C");
    EXPECT_EQ(h.parser.active_txs(), 0U);  // all finished and recycled
}

TEST(HttpParser, ChunkedRequestAndResponseWithExtensionsAndTrailers) {
    HttpHarness h;
    h.req(
        "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        "4;name=val\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Trailer: 1\r\n\r\n"
        "GET /after HTTP/1.1\r\n\r\n");
    h.resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n0\r\n\r\n");
    ASSERT_EQ(h.txs.size(), 2U);
    EXPECT_EQ(buf(h.txs[0], BufferId::HttpRequestBody), "Wikipedia");
    EXPECT_EQ(buf(h.txs[0], BufferId::HttpResponseBody), "0123456789");
    EXPECT_EQ(buf(h.txs[1], BufferId::HttpUri), "/after");
    EXPECT_EQ(h.stats.counter(AppProto::Http, kHttpParseErrors), 0U);
}

std::string compress(const std::string& in, int window_bits) {
    z_stream zs{};
    EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    std::string out(compressBound(in.size()) + 64, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
}

std::string gz_response(const std::string& encoding, const std::string& body) {
    return "HTTP/1.1 200 OK\r\nContent-Encoding: " + encoding +
           "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

TEST(HttpParser, GzipAndDeflateResponsesAreDecoded) {
    const std::string text(3000, 'x');
    const std::string plain = "<html>" + text + "</html>";
    struct Case {
        const char* encoding;
        int window_bits;
    };
    for (const Case& c : {Case{"gzip", 15 + 16}, Case{"deflate", 15}, Case{"deflate", -15}}) {
        for (size_t step : {size_t{0}, size_t{1}, size_t{7}}) {
            HttpHarness h;
            h.req("GET / HTTP/1.1\r\n\r\n");
            h.resp(gz_response(c.encoding, compress(plain, c.window_bits)), step);
            ASSERT_EQ(h.txs.size(), 1U);
            EXPECT_EQ(buf(h.txs[0], BufferId::HttpResponseBody), plain)
                << c.encoding << " " << c.window_bits << " step " << step;
            EXPECT_EQ(h.stats.counter(AppProto::Http, kHttpGzipErrors), 0U);
        }
    }
    // Not really gzip: counted, and the raw bytes are inspected instead.
    HttpHarness bad;
    bad.req("GET / HTTP/1.1\r\n\r\n");
    bad.resp(gz_response("gzip", "plain text, not gzip"));
    EXPECT_EQ(buf(bad.txs[0], BufferId::HttpResponseBody), "plain text, not gzip");
    EXPECT_EQ(bad.stats.counter(AppProto::Http, kHttpGzipErrors), 1U);
}

TEST(HttpParser, GzipRequestBodyIsDecoded) {
    // suricata-verify http-post-data-decompression: a gzip POST body is inspected decoded.
    const std::string plain = "name=john&dauny=mladshiy";
    const std::string gz = compress(plain, 15 + 16);
    HttpHarness h;
    h.req("POST /hi.php HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: " +
          std::to_string(gz.size()) + "\r\n\r\n" + gz);
    ASSERT_EQ(h.txs.size(), 1U);
    EXPECT_EQ(buf(h.txs[0], BufferId::HttpRequestBody), plain);
}

TEST(HttpParser, CloseDelimitedBodyCompletesAtClose) {
    HttpHarness h;
    h.req("GET / HTTP/1.0\r\n\r\n");
    h.resp("HTTP/1.0 200 OK\r\nServer: x\r\n\r\npart1 ");
    h.resp("part2");
    const std::vector<std::pair<uint64_t, uint8_t>> before{{0, 1}, {0, 2}, {0, 3}};
    EXPECT_EQ(h.stages, before);
    h.close(FlowDir::ToClient);
    ASSERT_EQ(h.stages.size(), 4U);
    EXPECT_EQ(h.stages.back(), (std::pair<uint64_t, uint8_t>{0, 4}));
    EXPECT_EQ(buf(h.txs[0], BufferId::HttpResponseBody), "part1 part2");
}

TEST(HttpParser, InterimContinueThenRealResponse) {
    HttpHarness h;
    h.req("POST /u HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
    h.resp("HTTP/1.1 100 Continue\r\n\r\n");
    EXPECT_EQ(h.stages.size(), 1U);  // only the request headers
    h.req("abc");
    h.resp("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    ASSERT_EQ(h.txs.size(), 1U);
    EXPECT_EQ(buf(h.txs[0], BufferId::HttpStatCode), "200");
    EXPECT_EQ(buf(h.txs[0], BufferId::HttpRequestBody), "abc");
    EXPECT_EQ(buf(h.txs[0], BufferId::HttpResponseBody), "ok");
    EXPECT_EQ(h.stats.counter(AppProto::Http, kHttpResponses), 1U);
}

TEST(HttpParser, HeadAnd204And304HaveNoBody) {
    HttpHarness h;
    h.req(
        "HEAD /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n"
        "GET /d HTTP/1.1\r\n\r\n");
    h.resp(
        "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
        "HTTP/1.1 204 No Content\r\n\r\n"
        "HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n"
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nD");
    ASSERT_EQ(h.txs.size(), 4U);
    EXPECT_EQ(buf(h.txs[0], BufferId::HttpResponseBody), "<absent>");
    EXPECT_EQ(buf(h.txs[1], BufferId::HttpStatCode), "204");
    EXPECT_EQ(buf(h.txs[2], BufferId::HttpStatCode), "304");
    EXPECT_EQ(buf(h.txs[3], BufferId::HttpResponseBody), "D");
    EXPECT_EQ(h.stats.counter(AppProto::Http, kHttpParseErrors), 0U);
}

TEST(HttpParser, BodyLimitTruncatesAndReportsEarly) {
    AppConfig c;
    c.http_response_body_limit = 4;
    HttpHarness h(c);
    h.req("GET / HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n");
    h.resp("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456");
    EXPECT_EQ(h.stages.back(), (std::pair<uint64_t, uint8_t>{0, 4}));  // limit reached
    h.resp("789HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    EXPECT_EQ(buf(h.txs[0], BufferId::HttpResponseBody), "0123");
    EXPECT_EQ(buf(h.txs[1], BufferId::HttpResponseBody), "ok");
    EXPECT_EQ(h.stats.counter(AppProto::Http, kHttpBodyTruncated), 1U);
    EXPECT_EQ(std::count(h.stages.begin(), h.stages.end(), std::pair<uint64_t, uint8_t>{0, 4}), 1);
}

TEST(HttpParser, HeaderLimitAndGarbageAreParseErrors) {
    AppConfig c;
    c.http_header_limit = 64;
    HttpHarness h(c);
    h.req("GET / HTTP/1.1\r\nX: " + std::string(100, 'a') + "\r\n\r\n");
    EXPECT_EQ(h.stats.counter(AppProto::Http, kHttpParseErrors), 1U);
    EXPECT_TRUE(h.parser.stopped(FlowDir::ToServer));
    EXPECT_TRUE(h.stages.empty());

    HttpHarness g;
    g.resp("NOT HTTP AT ALL\r\n\r\n");
    EXPECT_EQ(g.stats.counter(AppProto::Http, kHttpParseErrors), 1U);
    HttpHarness cl;  // no digit at all ("12x" is 12, as in libhtp)
    cl.req("POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n");
    EXPECT_EQ(cl.stats.counter(AppProto::Http, kHttpParseErrors), 1U);
    HttpHarness chunk;
    chunk.req("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    EXPECT_EQ(chunk.stats.counter(AppProto::Http, kHttpParseErrors), 1U);
}

// --- http-evader: constructs libhtp normalises (suricata-verify http-evader-*) ---

const std::string kEicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

// The response body of the first transaction after a GET and `response` (whole, then
// byte by byte unless `whole_only`), with the server closing at the end.
std::string evader_body(const std::string& response, size_t tx = 0, bool whole_only = false) {
    std::string first;
    for (size_t step : {size_t{0}, size_t{1}}) {
        if (step == 1 && whole_only) {
            break;
        }
        HttpHarness h;
        h.req("GET /eicar.txt HTTP/1.1\r\nHost: evader.example.com\r\n\r\n");
        h.resp(response, step);
        h.close(FlowDir::ToClient);
        const std::string body =
            h.txs.count(tx) != 0 ? buf(h.txs[tx], BufferId::HttpResponseBody) : "<no tx>";
        if (step == 0) {
            first = body;
        } else {
            EXPECT_EQ(body, first) << "byte by byte differs";
        }
    }
    return first;
}

std::string chunks(const std::string& prefix, const std::string& data, size_t size) {
    std::string out;
    for (size_t i = 0; i < data.size(); i += size) {
        const std::string c = data.substr(i, size);
        char len[16];
        std::snprintf(len, sizeof(len), "%zx", c.size());
        out += prefix + len + "\r\n" + c + "\r\n";
    }
    return out + "0\r\n\r\n";
}

TEST(HttpEvasion, ChunkSizeLinesAreParsedLikeLibhtp) {
    const std::string head = "HTTP/1.1 200 ok\r\nTransfer-Encoding: chunked\r\n\r\n";
    // evader 021/022: VT / FF before the size; 101: an empty line before the first chunk
    EXPECT_EQ(evader_body(head + chunks("\x0b", kEicar, 15)), kEicar);
    EXPECT_EQ(evader_body(head + chunks("\x0c", kEicar, 15)), kEicar);
    EXPECT_EQ(evader_body(head + "\n" + chunks("", kEicar, 5)), kEicar);
    // junk after the size, and junk before the LF that ends the chunk data
    EXPECT_EQ(evader_body(head + "5 junk\r\nX5O!P junk\r\n0\r\n\r\n"), "X5O!P");
}

TEST(HttpEvasion, ResponseThatIsNotChunkedAfterAllRunsToClose) {
    // evader 052/067/073/086/089/093: Transfer-Encoding says chunked (or contains it, or its
    // name is padded) but the body is not: libhtp falls back to a body ending at close.
    for (const char* te :
         {"Transfer-Encoding: chunked\r\nContent-length: 68\r\n",
          "Transfer-Encoding: chunked x\r\n", "Transfer-Encoding: \r\n chunked\r\n",
          "Transfer-Encoding: lalala\r\nTransfer-Encoding: chunked\r\n",
          "Transfer-Encoding : chunked\r\n", "Transfer-Encoding:: chunked\r\n"}) {
        EXPECT_EQ(evader_body(std::string("HTTP/1.01 200 ok\r\n") + te +
                              "Connection: close\r\n\r\n" + kEicar),
                  kEicar)
            << te;
    }
}

TEST(HttpEvasion, ResponseHeaderLinesLikeLibhtp) {
    const std::string body = chunks("", kEicar, 4);
    // evader 094/378/382: a lone CR ends a line (also the status line)
    EXPECT_EQ(evader_body("HTTP/1.1 200 ok\r\nX: y\rTransfer-Encoding: chunked\r\n\r\n" + body),
              kEicar);
    EXPECT_EQ(evader_body("HTTP/1.1\rTransfer-Encoding:chunked\r\nX: y\r\n\r\n" + body), kEicar);
    // 405: LF CR line ends
    EXPECT_EQ(
        evader_body("HTTP/1.1 200 ok\n\rX: y\n\rTransfer-Encoding: chunked\n\rZ: 1\r\n\r\n" + body),
        kEicar);
    // 293/294/296/299: NUL or VT in the name, the name folded away from its colon
    for (const std::string& te :
         {std::string("Transfer-Encoding\0:chunked", 26),
          std::string("Transfer-Encoding\v:chunked"), std::string("Transfer-Encoding\n :chunked"),
          std::string("Transfer-Encoding\r\n :\r\n chunked")}) {
        EXPECT_EQ(evader_body("HTTP/1.1 200 ok\r\nConnection: close\r\n" + te +
                              "\r\nY: foo\r\n\r\n" + body),
                  kEicar);
    }
    // 425: " \n" (or "\t\n") not followed by LF ends the headers
    EXPECT_EQ(evader_body("HTTP/1.1 200 ok\r\nContent-length: 68\n\t\n" + kEicar), kEicar);
    // 483/487/488/491: blank lines, and a junk line followed by 'H', before the status line
    for (const char* junk : {" \r\n\t\r\n", " foobar\r\n", " SIP/2.0 200 ok\r\n", " \r"}) {
        EXPECT_EQ(evader_body(std::string(junk) +
                              "HTTP/1.1 200 ok\r\nTransfer-Encoding: chunked\r\n\r\n" + body),
                  kEicar)
            << junk;
    }
}

TEST(HttpEvasion, ContentLengthLikeLibhtp) {
    const std::string head = "HTTP/1.1 200 ok\r\nConnection: close\r\n";
    const std::string junk(68, 'X');
    // evader 240/242/246: the first Content-Length wins; 256/257/259/261/262: the first
    // number, with junk around it
    for (const char* cl :
         {"Content-length: 68\r\nContent-length: 68\r\n",
          "Content-length: 68\r\nContent-length: 34\r\n", "Content-length: 68;\r\n",
          "Content-length: ,68\r\n", "Content-length: 68,68\r\n", "Content-length: 68 A\r\n",
          "Content-length: 68\xa0\r\n"}) {
        // the junk after the body, in the same data, is more body (see below)
        EXPECT_EQ(evader_body(head + cl + "\r\n" + kEicar + junk, 0, true), kEicar + junk) << cl;
        EXPECT_EQ(evader_body(head + cl + "\r\n" + kEicar), kEicar) << cl;
    }
    // 248/250: Content-Length 34; the rest, in the same data and not a status line, is
    // more body of the same response (libhtp); arriving later, it is a body of its own
    EXPECT_EQ(evader_body(head + "Content-length: 34\r\n 68\r\n\r\n" + kEicar.substr(0, 36) +
                              "\r\n" + kEicar.substr(36),
                          0, true),
              kEicar.substr(0, 36) + "\r\n" + kEicar.substr(36));
    HttpHarness h;
    h.req("GET / HTTP/1.1\r\n\r\n");
    h.resp(head + "Content-length: 34( 68)\r\n\r\n" + kEicar.substr(0, 34));
    h.resp(kEicar.substr(34));
    h.close(FlowDir::ToClient);
    ASSERT_EQ(h.txs.size(), 2U);
    EXPECT_EQ(buf(h.txs[0], BufferId::HttpResponseBody), kEicar.substr(0, 34));
    EXPECT_EQ(buf(h.txs[1], BufferId::HttpResponseBody), kEicar.substr(34));
}

TEST(HttpEvasion, StackedAndOddContentEncodings) {
    const std::string deflated = compress(kEicar, -15);
    const std::string gzipped = compress(kEicar, 15 + 16);
    // evader 126/128/134/131: two layers, each finding its own format
    EXPECT_EQ(evader_body(gz_response("gzip,gzip", compress(gzipped, 15 + 16))), kEicar);
    EXPECT_EQ(evader_body(gz_response("deflate,deflate", compress(deflated, -15))), kEicar);
    EXPECT_EQ(evader_body(gz_response("deflate,gzip", compress(deflated, 15 + 16))), kEicar);
    std::string two = gz_response("gzip", compress(gzipped, -15));
    two.insert(two.find("\r\n\r\n"), "\r\nContent-Encoding: deflate");
    EXPECT_EQ(evader_body(two), kEicar);
    // 200/218/225: reserved gzip flags and a wrong header CRC are ignored (zlib refuses them)
    for (const uint8_t flags : {uint8_t{0x20}, uint8_t{0x40}, uint8_t{0x02}}) {
        std::string g = gzipped;
        g[3] = static_cast<char>(flags);
        if (flags == 0x02) {
            g.insert(10, std::string(2, '\0'));
        }
        EXPECT_EQ(evader_body(gz_response("gzip", g)), kEicar) << int{flags};
    }
    // 129/217/335/337: folded and padded Content-Encoding
    EXPECT_EQ(evader_body(gz_response("deflate\r\n ,\r\n deflate", compress(deflated, -15))),
              kEicar);
    std::string nul = gz_response("deflate", deflated);
    nul.replace(nul.find("Content-Encoding"), 16, std::string("Content\0-encoding", 17));
    EXPECT_EQ(evader_body(nul), kEicar);
}

TEST(HttpParser, ConnectAndUpgradeStopParsing) {
    HttpHarness h;
    h.req("CONNECT host:443 HTTP/1.1\r\nHost: host:443\r\n\r\n");
    h.resp("HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01garbage");
    h.req("\x16\x03\x01 tls bytes");
    EXPECT_EQ(buf(h.txs[0], BufferId::HttpUri), "host:443");
    EXPECT_EQ(h.stats.counter(AppProto::Http, kHttpParseErrors), 0U);
    EXPECT_TRUE(h.parser.stopped(FlowDir::ToServer));
    EXPECT_TRUE(h.parser.stopped(FlowDir::ToClient));

    HttpHarness u;
    u.req("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n");
    u.resp("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello");
    EXPECT_EQ(u.stats.counter(AppProto::Http, kHttpParseErrors), 0U);
    EXPECT_EQ(u.stages.back(), (std::pair<uint64_t, uint8_t>{0, 4}));
}

TEST(HttpParser, RandomAndMutatedInputNeverCrashes) {
    std::mt19937 rng(1234);
    const std::string valid = kRequest +
                              "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "5\r\nhello\r\n0\r\n\r\n";
    const std::string valid_resp =
        kResponse + gz_response("gzip", compress("zzzzzzzzzzzz", 31)) +
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n";
    const std::string alphabet = "GET /HTP1.\r\n: 0123456789abcdefchunked;Content-Length\x1f\x8b";
    AppConfig small;
    small.http_header_limit = 256;
    small.http_request_body_limit = 8;
    small.http_response_body_limit = 8;
    for (int iter = 0; iter < 3000; ++iter) {
        HttpHarness h(iter % 2 == 0 ? AppConfig{} : small);
        std::string req = valid;
        std::string resp = valid_resp;
        const int mode = iter % 3;
        if (mode == 0) {  // fully random bytes
            req.assign(rng() % 300, '\0');
            for (char& ch : req) {
                ch = static_cast<char>(rng());
            }
            resp.assign(rng() % 300, '\0');
            for (char& ch : resp) {
                ch = static_cast<char>(rng());
            }
        } else {  // valid traffic with bytes replaced from an HTTP-ish alphabet
            for (int m = 0; m < 1 + static_cast<int>(rng() % 8); ++m) {
                req[rng() % req.size()] = alphabet[rng() % alphabet.size()];
                resp[rng() % resp.size()] = alphabet[rng() % alphabet.size()];
            }
        }
        const size_t step = 1 + rng() % 17;
        h.req(req, step);
        h.resp(resp, step);
        if (mode == 2) {
            h.close(FlowDir::ToServer);
            h.close(FlowDir::ToClient);
        }
        EXPECT_LE(h.parser.active_txs(), 256U);
    }
}

TEST(HttpUri, NormalisationLikeSuricataDefaults) {
    EXPECT_EQ(http_normalize_uri("/a/./b/../c"), "/a/c");
    EXPECT_EQ(http_normalize_uri("//a///b"), "/a/b");
    EXPECT_EQ(http_normalize_uri("/%61%2e%2E/b"), "/a../b");
    EXPECT_EQ(http_normalize_uri("/x/%2e%2e/y"), "/y");
    EXPECT_EQ(http_normalize_uri("/a%2fb"), "/a/b");
    EXPECT_EQ(http_normalize_uri("/bad%zz%4"), "/bad%zz%4");
    EXPECT_EQ(http_normalize_uri("/../../etc/passwd"), "/etc/passwd");
    // The query is %-decoded (Suricata 8) but keeps its dot segments and '+'; the fragment
    // stays as sent.
    EXPECT_EQ(http_normalize_uri("/p?q=%41/../x"), "/p?q=A/../x");
    EXPECT_EQ(http_normalize_uri("/p?a+b=%7Dk%zz#f%41"), "/p?a+b=}k%zz#f%41");
    EXPECT_EQ(http_normalize_uri("http://Host:81/a/../b?c"), "/b?c");
    EXPECT_EQ(http_normalize_uri("http://host"), "/");
    EXPECT_EQ(http_normalize_uri("*"), "*");
    EXPECT_EQ(http_normalize_host(" WWW.Example.com.:8080"), "www.example.com");
    EXPECT_EQ(http_normalize_host("[::1]:80"), "[::1]");

    HttpHarness h;
    h.req("GET http://Proxy.Example:3128/x HTTP/1.1\r\nHost: other\r\n\r\n");
    EXPECT_EQ(buf(h.txs[0], BufferId::HttpHost), "proxy.example");
    EXPECT_EQ(buf(h.txs[0], BufferId::HttpHostRaw), "Proxy.Example");
    EXPECT_EQ(buf(h.txs[0], BufferId::HttpUri), "/x");
}

// --- engine ---------------------------------------------------------------------------------

uint8_t g_l4[20];  // Packet::l4 must be non-null for has_tcp()/has_udp()

Packet make_packet(uint8_t proto, bool from_client, uint16_t cport, uint16_t sport,
                   const std::string& payload, uint8_t flags = kTcpAck) {
    static const uint8_t kClient[4] = {10, 0, 0, 1};
    static const uint8_t kServer[4] = {10, 0, 0, 2};
    Packet p;
    p.ip_version = 4;
    p.ip_proto = proto;
    p.src = IpAddr::from_v4(from_client ? kClient : kServer);
    p.dst = IpAddr::from_v4(from_client ? kServer : kClient);
    p.sport = from_client ? cport : sport;
    p.dport = from_client ? sport : cport;
    p.l4 = g_l4;
    p.tcp_flags = flags;
    p.payload = u8(payload);
    p.payload_len = static_cast<uint32_t>(payload.size());
    p.ts_sec = 1;
    return p;
}

struct Engine {
    AppLayer app;  // before the table: flows return their sessions to the engine
    FlowTable flows;
    Flow* flow = nullptr;
    std::vector<AppEvent> events;  // copies (views only valid until the next call)

    explicit Engine(const AppConfig& c = {}) : app(c) {}

    void tcp(bool from_client, uint16_t port, const std::string& data, size_t step = 0) {
        if (flow == nullptr) {  // the client's SYN sets who is the client
            Packet syn = make_packet(kProtoTcp, true, 40000, port, "", kTcpSyn);
            flow = flows.lookup(syn);
        }
        if (step == 0) {
            step = std::max<size_t>(data.size(), 1);
        }
        for (size_t i = 0; i < data.size(); i += step) {
            const std::string part = data.substr(i, step);
            Packet p = make_packet(kProtoTcp, from_client, 40000, port, part);
            Flow* f = flows.lookup(p);
            EXPECT_EQ(f, flow);
            for (const AppEvent& e : app.on_tcp_data(
                     *f, p.dir, u8(part), static_cast<uint32_t>(part.size()), false, p)) {
                events.push_back(e);
            }
        }
    }
    std::span<const AppEvent> udp(bool from_client, uint16_t port, const std::string& data) {
        Packet p = make_packet(kProtoUdp, from_client, 40001, port, data);
        flow = flows.lookup(p);
        return app.on_udp(*flow, p);
    }
};

std::string random_bytes(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (char& c : s) {
        c = static_cast<char>(rng());
    }
    s[0] = '\x7f';  // not a first byte any protocol starts with
    return s;
}

std::string tls_client_hello(const std::string& sni) {
    std::string ext;
    const std::string name = std::string("\x00", 1) + char(0) + char(sni.size()) + sni;
    const std::string list = std::string(1, char(0)) + char(name.size()) + name;
    ext += std::string("\x00\x00", 2) + char(0) + char(list.size()) + list;
    std::string body = "\x03\x03" + std::string(32, 'r') + std::string(1, '\0') +
                       std::string("\x00\x02\x00\x2f", 4) + std::string("\x01\x00", 2) + char(0) +
                       char(ext.size()) + ext;
    std::string hs =
        std::string(1, '\x01') + char(0) + char(body.size() >> 8) + char(body.size() & 0xff) + body;
    return std::string("\x16\x03\x01", 3) + char(hs.size() >> 8) + char(hs.size() & 0xff) + hs;
}

std::string dns_query(const std::string& labels_wire) {
    return std::string("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12) + labels_wire +
           std::string("\x00\x00\x01\x00\x01", 5);
}

TEST(AppLayer, HttpOnOddPortDetectedByContentWithStagesInOrder) {
    Engine e;
    e.tcp(true, 8081, "GET /x HTTP/1.1\r\nHost: a.example\r\nUser-Agent: t\r\n\r\n", 1);
    ASSERT_EQ(e.app.proto(*e.flow), AppProto::Http);
    EXPECT_EQ(e.flow->app_proto, static_cast<uint8_t>(AppProto::Http));
    EXPECT_EQ(e.app.stats().flows[static_cast<size_t>(AppProto::Http)], 1U);
    e.tcp(false, 8081,
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain; q=1\r\n"
          "Content-Length: 2\r\n\r\nhi");
    ASSERT_EQ(e.events.size(), 4U);
    for (uint8_t i = 0; i < 4; ++i) {
        EXPECT_EQ(e.events[i].stage, i + 1);
        EXPECT_EQ(e.events[i].proto, AppProto::Http);
        EXPECT_EQ(e.events[i].tx_id, 0U);
        EXPECT_EQ(e.events[i].eve_key, "http");
    }
    // The last call's views are still valid: the tx keeps stage-1 buffers at stage 4.
    const AppEvent& last = e.events.back();
    EXPECT_EQ(buf(*last.tx, BufferId::HttpHost), "a.example");
    EXPECT_EQ(buf(*last.tx, BufferId::HttpResponseBody), "hi");
    EXPECT_EQ(eve_text(e.app, last),
              "{\"hostname\":\"a.example\",\"url\":\"/x\",\"http_user_agent\":\"t\","
              "\"http_content_type\":\"text/plain\",\"http_method\":\"GET\","
              "\"protocol\":\"HTTP/1.1\",\"status\":200,\"length\":2}");
}

TEST(AppLayer, PipelinedEventsPointAtTheirOwnTransactions) {
    Engine e;
    e.tcp(true, 80, "GET /0 HTTP/1.1\r\n\r\nGET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n");
    const std::string resp =
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n0"
        "HTTP/1.1 201 OK\r\nContent-Length: 1\r\n\r\n1"
        "HTTP/1.1 202 OK\r\nContent-Length: 1\r\n\r\n2";
    Packet p = make_packet(kProtoTcp, false, 40000, 80, resp);
    e.flows.lookup(p);
    const auto evs =
        e.app.on_tcp_data(*e.flow, FlowDir::ToClient, p.payload, p.payload_len, false, p);
    ASSERT_EQ(evs.size(), 6U);
    for (size_t i = 0; i < evs.size(); ++i) {
        const uint64_t id = i / 2;
        EXPECT_EQ(evs[i].tx_id, id);
        EXPECT_EQ(evs[i].stage, i % 2 == 0 ? 3 : 4);
        EXPECT_EQ(buf(*evs[i].tx, BufferId::HttpUri), "/" + std::to_string(id));
        EXPECT_EQ(buf(*evs[i].tx, BufferId::HttpStatCode), std::to_string(200 + id));
        EXPECT_NE(eve_text(e.app, evs[i]).find("\"status\":" + std::to_string(200 + id)),
                  std::string::npos);
    }
}

TEST(AppLayer, TlsOnPort80IsTls) {
    Engine e;
    e.tcp(true, 80, tls_client_hello("example.com"), 3);
    EXPECT_EQ(e.app.proto(*e.flow), AppProto::Tls);
    EXPECT_EQ(e.app.stats().flows[static_cast<size_t>(AppProto::Tls)], 1U);
    ASSERT_EQ(e.events.size(), 1U);
    EXPECT_EQ(e.events[0].stage, 1);
    EXPECT_EQ(e.events[0].eve_key, "tls");
}

TEST(AppLayer, RandomBytesOnPort80Fail) {
    Engine e;
    e.tcp(true, 80, random_bytes(200, 1));
    EXPECT_EQ(e.app.proto(*e.flow), AppProto::Unknown);  // the server has not spoken yet
    e.tcp(false, 80, random_bytes(200, 2));
    EXPECT_EQ(e.app.proto(*e.flow), AppProto::Failed);
    EXPECT_EQ(e.app.stats().flows[static_cast<size_t>(AppProto::Failed)], 1U);
    EXPECT_TRUE(e.events.empty());
}

TEST(AppLayer, OtherProtocolsIdentified) {
    struct Case {
        bool from_client;
        uint16_t port;
        std::string data;
        AppProto want;
    };
    const std::vector<Case> cases{
        {false, 2222, "SSH-2.0-OpenSSH_9.0\r\n", AppProto::Ssh},
        {false, 25, "220 mx ready\r\n", AppProto::Smtp},
        {false, 21, "220 hello\r\n", AppProto::Ftp},
        {false, 9999, "220 mail.example ESMTP Postfix\r\n", AppProto::Smtp},
        {true, 9999, "EHLO client\r\n", AppProto::Smtp},
        {true, 445, std::string("\x00\x00\x00\x40\xfeSMB", 8) + std::string(60, '\0'),
         AppProto::Smb},
        {false, 8080, "HTTP/1.1 200 OK\r\n", AppProto::Http},
    };
    for (const Case& c : cases) {
        Engine e;
        e.tcp(c.from_client, c.port, c.data, 1);
        EXPECT_EQ(e.app.proto(*e.flow), c.want) << c.data;
    }
}

TEST(AppLayer, DnsOverUdpOnOddPortAndOverTcp) {
    Engine e;
    const std::string q =
        dns_query(std::string("\x03www\x07"
                              "example\x03"
                              "com",
                              17));
    const auto evs = e.udp(true, 5353, q);
    EXPECT_EQ(e.app.proto(*e.flow), AppProto::Dns);
    ASSERT_EQ(evs.size(), 1U);
    EXPECT_EQ(evs[0].stage, 1);
    EXPECT_EQ(evs[0].eve_key, "dns");
    const auto qs = evs[0].tx->get(BufferId::DnsQuery);
    EXPECT_EQ(std::vector<std::string>(qs.begin(), qs.end()),
              std::vector<std::string>{"www.example.com"});
    EXPECT_EQ(e.app.stats().counter(AppProto::Dns, kDnsQueries), 1U);

    Engine t;
    const std::string framed = std::string(1, '\0') + char(q.size()) + q;
    t.tcp(true, 53, framed + framed, 1);
    EXPECT_EQ(t.app.proto(*t.flow), AppProto::Dns);
    ASSERT_EQ(t.events.size(), 2U);
    EXPECT_EQ(t.events[0].tx_id, 0U);
    EXPECT_EQ(t.events[1].tx_id, 1U);
}

TEST(AppLayer, CloseCompletesCloseDelimitedResponse) {
    Engine e;
    e.tcp(true, 80, "GET / HTTP/1.0\r\n\r\n");
    e.tcp(false, 80, "HTTP/1.0 200 OK\r\n\r\nbody bytes");
    ASSERT_EQ(e.events.size(), 3U);
    Packet fin = make_packet(kProtoTcp, false, 40000, 80, "", kTcpFin | kTcpAck);
    e.flows.lookup(fin);
    const auto evs = e.app.on_tcp_close(*e.flow, FlowDir::ToClient, fin);
    ASSERT_EQ(evs.size(), 1U);
    EXPECT_EQ(evs[0].stage, 4);
    EXPECT_EQ(buf(*evs[0].tx, BufferId::HttpResponseBody), "body bytes");
}

TEST(AppLayer, CloseCompletesAHeaderBlockCutShort) {
    // suricata-verify http-close-headers: the server closes before the empty line.
    Engine e;
    e.tcp(true, 80, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    e.tcp(false, 80, "HTTP/1.0 200 OK\nServer:ng1nx\r\n");
    ASSERT_EQ(e.events.size(), 2U);  // request headers and (empty) request body only
    Packet fin = make_packet(kProtoTcp, false, 40000, 80, "", kTcpFin | kTcpAck);
    e.flows.lookup(fin);
    const auto evs = e.app.on_tcp_close(*e.flow, FlowDir::ToClient, fin);
    ASSERT_EQ(evs.size(), 2U);
    EXPECT_EQ(evs[0].stage, 3);
    EXPECT_EQ(buf(*evs[0].tx, BufferId::HttpServer), "ng1nx");
    EXPECT_EQ(buf(*evs[0].tx, BufferId::HttpStatCode), "200");
    EXPECT_EQ(evs[1].stage, 4);
}

TEST(AppLayer, GapStopsHttpDirection) {
    Engine e;
    e.tcp(true, 80, "GET /1 HTTP/1.1\r\n\r\n");
    Packet p = make_packet(kProtoTcp, true, 40000, 80, "GET /2 HTTP/1.1\r\n\r\n");
    e.flows.lookup(p);
    const auto evs =
        e.app.on_tcp_data(*e.flow, FlowDir::ToServer, p.payload, p.payload_len, true, p);
    EXPECT_TRUE(evs.empty());
    EXPECT_EQ(e.app.stats().counter(AppProto::Http, kHttpRequests), 1U);
}

}  // namespace
}  // namespace vigil::dataplane::app
