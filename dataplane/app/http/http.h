#pragma once
// HTTP/1.x parser: incremental over the in-order bytes of each direction of one connection.
// Turns requests and responses into transactions (TxBuffers filled like Suricata's HTTP
// sticky buffers) and reports their progress stages. Internal to dataplane/app.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dataplane/app/buffers.h"
#include "dataplane/app/parser.h"

namespace vigil::dataplane::app {

// AppStats counters of HTTP (AppProtoDef::counters).
enum HttpCounter : uint8_t {
    kHttpRequests,
    kHttpResponses,
    kHttpParseErrors,
    kHttpBodyTruncated,
    kHttpGzipErrors,
};

// The protocol's definition (registry.cc).
const AppProtoDef& http_protocol();
// Detection: an HTTP/1 request line (a known method) or status line.
void probe_http(const ProbeInput& in, Probe& acc);

// One request/response pair.
struct HttpTx {
    TxBuffers buf;
    uint64_t id = 0;
    bool req_headers_done = false;
    bool req_done = false;  // stage 2 reported
    bool req_end = false;   // the request parser is finished with this tx
    bool resp_headers_done = false;
    bool resp_done = false;    // stage 4 reported
    bool resp_end = false;     // the response parser is finished with this tx
    bool head = false;         // HEAD request: the response has no body
    bool connect = false;      // CONNECT request: a 2xx response starts a tunnel
    bool http09 = false;       // request line without protocol: response has no headers
    int status = -1;           // -1: no (valid) status code
    uint64_t resp_length = 0;  // response body bytes on the wire (EVE "length")

    void reset(uint64_t tx_id);
};

struct HttpEvent {
    HttpTx* tx = nullptr;
    uint8_t stage = 0;  // 1..4, see buffer_stage()
};

// http.uri from http.uri.raw, like libhtp with Suricata's default settings: the path is
// %-decoded (invalid escapes are kept as sent; %2f becomes a separator), runs of '/' are
// compressed to one, dot segments are removed (RFC 3986 5.2.4); the query is %-decoded
// (libhtp-rs, Suricata 8: no '+' to space) and the fragment kept as sent; an absolute URI
// ("http://host/p") keeps only its path and query (Suricata's uri-include-all: no). Other forms
// (authority "host:443", "*") are returned unchanged.
std::string http_normalize_uri(std::string_view raw);
// http.host: lower-case, without port and trailing dots.
std::string http_normalize_host(std::string_view raw);

class HttpParser {
public:
    HttpParser(const AppConfig& config, AppStats& stats);
    ~HttpParser();
    HttpParser(const HttpParser&) = delete;
    HttpParser& operator=(const HttpParser&) = delete;

    // Once per engine call, before feed()/close()/gap(): recycles the transactions that
    // finished during the previous call. Event tx pointers stay valid until then, so several
    // feeds in one call (detection replaying both directions) never reuse a reported tx.
    void begin() { recycle(); }
    // New in-order bytes of one direction. Appends the stages reached to `out`.
    void feed(FlowDir dir, const uint8_t* data, size_t len, std::vector<HttpEvent>& out);
    // Bytes were lost before the next data of `dir`: that direction stops being parsed.
    void gap(FlowDir dir);
    // The direction has ended: completes a close-delimited response body, and reports the
    // final stage of a message cut short so that its buffers are still inspected.
    void close(FlowDir dir, std::vector<HttpEvent>& out);

    bool stopped(FlowDir dir) const;
    size_t active_txs() const { return txs_.size(); }

private:
    enum class State : uint8_t {
        Start,         // start line (leading empty lines are skipped)
        Headers,       // header lines up to the empty line
        Body,          // Content-Length body
        ChunkSize,     // chunk-size line (libhtp's leniency: see parse_chunk_line())
        ChunkData,     // chunk bytes
        ChunkDataEnd,  // up to the LF after the chunk bytes (anything before it is ignored)
        Trailers,      // trailer lines after the last chunk
        BodyClose,     // response body ending with the connection
        Stopped,       // error, gap, tunnel or close: bytes are ignored
    };
    struct Decoder;
    struct Dir {
        State state = State::Start;
        std::string hdr;         // start line + header lines of the current message
                                 // (ChunkSize: the chunk-size line so far)
        size_t line_start = 0;   // offset of the current line in hdr
        size_t start_len = 0;    // length of the start line in hdr (with its line end)
        uint64_t remaining = 0;  // Body / ChunkData bytes left
        uint64_t chunk_size = 0;
        uint32_t line_len = 0;             // bytes of the current chunk-size / trailer line
        bool line_has_data = false;        // ChunkSize: a byte other than whitespace seen
        bool body_stored_full = false;     // body limit reached for the current message
        bool decoding = false;             // Content-Encoding gzip / deflate (both directions)
        std::unique_ptr<Decoder> decoder;  // this direction's inflaters, made on first use
        HttpTx* tx = nullptr;              // transaction of the current message
    };

    using TxPtr = std::unique_ptr<HttpTx>;

    Dir& dir_state(FlowDir d) { return d == FlowDir::ToServer ? req_ : resp_; }
    void recycle();
    HttpTx* new_tx();
    void retire_done();
    void stop(Dir& d, bool error);
    size_t parse_start_headers(Dir& d, bool to_server, const uint8_t* p, size_t n,
                               std::vector<HttpEvent>& out);
    // One complete line of the start/header block, hdr[line_start, end); `next` is the byte
    // after it (-1: not seen yet). Next: go on with the next line; Wait: the line needs the
    // next byte (nothing consumed); Done: the block is over (or the direction stopped).
    enum class LineResult : uint8_t { Next, Wait, Done };
    LineResult on_line(Dir& d, bool to_server, size_t end, int next, std::vector<HttpEvent>& out);
    void unexpected_body(Dir& d, std::vector<HttpEvent>& out);
    bool on_start_line(Dir& d, bool to_server, std::vector<HttpEvent>& out);
    void on_headers_done(Dir& d, bool to_server, std::vector<HttpEvent>& out);
    void split_headers(const Dir& d);
    void add_header(std::string_view line);
    void fill_request(HttpTx& tx, std::string_view line);
    void fill_response(HttpTx& tx, std::string_view line);
    void fill_common(HttpTx& tx, std::string_view line, std::string_view raw_headers,
                     bool to_server);
    size_t parse_body(Dir& d, bool to_server, const uint8_t* p, size_t n,
                      std::vector<HttpEvent>& out);
    void not_chunked(Dir& d, bool to_server, std::vector<HttpEvent>& out);
    void body_bytes(Dir& d, bool to_server, const uint8_t* p, size_t n,
                    std::vector<HttpEvent>& out);
    void store_body(Dir& d, bool to_server, const uint8_t* p, size_t n,
                    std::vector<HttpEvent>& out);
    void decode_body(Dir& d, bool to_server, size_t layer, const uint8_t* p, size_t n,
                     std::vector<HttpEvent>& out);
    void decoded_bytes(Dir& d, bool to_server, size_t layer, const uint8_t* p, size_t n,
                       std::vector<HttpEvent>& out);
    void finish_decoding(Dir& d, bool to_server, std::vector<HttpEvent>& out);
    void start_decoding(Dir& d);
    void message_done(Dir& d, bool to_server, std::vector<HttpEvent>& out);
    void report_body_stage(Dir& d, bool to_server, std::vector<HttpEvent>& out);

    const AppConfig& config_;
    AppStats& stats_;
    Dir req_;
    Dir resp_;
    std::vector<HttpTx*> txs_;  // unfinished transactions, oldest first (few: a vector)
    std::vector<TxPtr> all_;    // owns every tx
    std::vector<HttpTx*> free_;
    std::vector<HttpTx*> retired_;  // finished in the last call: freed at the next one
    uint64_t next_id_ = 0;
    // Parsed header fields of the message being completed (reused between messages).
    std::vector<std::pair<std::string, std::string>> headers_;
    size_t header_count_ = 0;
    std::string scratch_;
    std::string line_;  // a header line with its folded continuations (split_headers)
};

}  // namespace vigil::dataplane::app
