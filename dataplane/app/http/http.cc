#include "dataplane/app/http/http.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "common/text.h"

namespace vigil::dataplane::app {
namespace {

// Transactions waiting for their response: bounds the memory of a client that pipelines
// requests without reading the responses.
constexpr size_t kMaxActiveTxs = 256;
// A chunk-size line longer than this (extensions) is a parse error, as is a chunk larger
// than 2^40 bytes: nothing legitimate sends either.
constexpr uint32_t kMaxChunkLine = 1024;
constexpr uint64_t kMaxChunkSize = uint64_t{1} << 40;
// Compressed bytes kept until the first decoded byte, to retry them as raw deflate.
constexpr size_t kMaxDecodeHead = 4096;
// Content-Encoding layers decoded (Suricata's response-body-decompress-layer-limit default).
constexpr size_t kMaxDecodeLayers = 2;

bool istarts_with(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

bool icontains(std::string_view s, std::string_view needle) {
    if (needle.size() > s.size()) {
        return false;
    }
    for (size_t i = 0; i + needle.size() <= s.size(); ++i) {
        if (iequals(s.substr(i, needle.size()), needle)) {
            return true;
        }
    }
    return false;
}

bool is_ws(char c) {
    return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (is_ws(s.front()) || s.front() == '\r' || s.front() == '\n')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (is_ws(s.back()) || s.back() == '\r' || s.back() == '\n')) {
        s.remove_suffix(1);
    }
    return s;
}

std::string_view strip_eol(std::string_view line) {
    if (!line.empty() && line.back() == '\n') {
        line.remove_suffix(1);
    }
    if (!line.empty() && line.back() == '\r') {
        line.remove_suffix(1);
    }
    return line;
}

// RFC 7230 tchar: what a method or header name may be made of.
bool is_tchar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        return true;
    }
    return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

// libhtp's htp_is_space: what it trims around header names and skips around chunk sizes.
bool is_space(uint8_t c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

// Header names compare like libhtp's table lookups: case-insensitive, NUL bytes ignored.
bool name_equals(std::string_view name, std::string_view wanted) {
    size_t j = 0;
    for (char c : name) {
        if (c == '\0') {
            continue;
        }
        if (j == wanted.size() || ascii_lower(c) != ascii_lower(wanted[j])) {
            return false;
        }
        ++j;
    }
    return j == wanted.size();
}

// The end (exclusive) of the line starting at `pos`, npos when it is not complete. Lines
// end at LF; with `lone_cr` (response start line and headers, as in libhtp) also at a CR
// followed by anything but LF, except a CR opening the line (the tail of an "LF CR" end).
size_t line_end(std::string_view s, size_t pos, bool lone_cr) {
    for (size_t k = pos; k < s.size(); ++k) {
        if (s[k] == '\n') {
            return k + 1;
        }
        if (lone_cr && s[k] == '\r' && k > pos && k + 1 < s.size() && s[k + 1] != '\n') {
            return k + 1;
        }
    }
    return std::string_view::npos;
}

// libhtp's htp_treat_response_line_as_body() inverted: after whitespace and NULs, "http"
// in any case starts a status line; anything else is body.
bool looks_like_status_line(std::string_view line) {
    size_t k = 0;
    while (k < line.size() && (is_space(static_cast<uint8_t>(line[k])) || line[k] == '\0')) {
        ++k;
    }
    return istarts_with(line.substr(k), "http");
}

// Bytes following a response body in the same piece of data that cannot start a status
// line (at least four bytes after whitespace, not "http").
bool junk_follows(const uint8_t* p, size_t n) {
    size_t k = 0;
    while (k < n && (is_space(p[k]) || p[k] == 0)) {
        ++k;
    }
    if (n - k < 4) {
        return false;
    }
    return !looks_like_status_line(std::string_view(reinterpret_cast<const char*>(p + k), 4));
}

bool is_blank(std::string_view line) {
    return std::all_of(line.begin(), line.end(),
                       [](char c) { return is_space(static_cast<uint8_t>(c)); });
}

// Content-Length like libhtp's htp_parse_content_length(): junk before the number and after
// it is ignored; false when there is no digit at all.
bool parse_content_length(std::string_view v, uint64_t& out) {
    size_t k = 0;
    while (k < v.size() && (v[k] < '0' || v[k] > '9')) {
        ++k;
    }
    if (k == v.size()) {
        return false;
    }
    uint64_t n = 0;
    for (size_t digits = 0; k < v.size() && v[k] >= '0' && v[k] <= '9'; ++k, ++digits) {
        if (digits == 18) {
            return false;
        }
        n = n * 10 + static_cast<uint64_t>(v[k] - '0');
    }
    out = n;
    return true;
}

// A chunk-size line like libhtp's htp_parse_chunked_length(): whitespace (SP HT CR LF VT FF)
// before the size is skipped, the hex digits are the size, anything after them (extensions,
// junk) is ignored. -2: the line is blank (skipped, the size is on a later line); -1: invalid.
int64_t parse_chunk_line(std::string_view line) {
    size_t k = 0;
    while (k < line.size() && is_space(static_cast<uint8_t>(line[k]))) {
        ++k;
    }
    if (k == line.size()) {
        return -2;
    }
    uint64_t v = 0;
    size_t digits = 0;
    for (; k < line.size(); ++k, ++digits) {
        const int h = hex_digit(static_cast<uint8_t>(line[k]));
        if (h < 0) {
            break;
        }
        v = v * 16 + static_cast<uint64_t>(h);
        if (v > kMaxChunkSize) {
            return -1;
        }
    }
    return digits == 0 ? -1 : static_cast<int64_t>(v);
}

// Content-Length: digits only (surrounding whitespace allowed); false when invalid.
bool parse_length(std::string_view v, uint64_t& out) {
    v = trim(v);
    if (v.empty() || v.size() > 18) {
        return false;
    }
    uint64_t n = 0;
    for (char c : v) {
        if (c < '0' || c > '9') {
            return false;
        }
        n = n * 10 + static_cast<uint64_t>(c - '0');
    }
    out = n;
    return true;
}

// RFC 3986 5.2.4 remove_dot_segments over an index into `in` (no copies of the rest).
std::string remove_dot_segments(std::string_view in) {
    std::string out;
    out.reserve(in.size());
    auto pop_segment = [&out] {
        const size_t slash = out.rfind('/');
        out.resize(slash == std::string::npos ? 0 : slash);
    };
    size_t pos = 0;
    while (pos < in.size()) {
        const std::string_view rest = in.substr(pos);
        if (rest.starts_with("../")) {
            pos += 3;
        } else if (rest.starts_with("./")) {
            pos += 2;
        } else if (rest.starts_with("/./")) {
            pos += 2;
        } else if (rest == "/.") {
            out.push_back('/');
            break;
        } else if (rest.starts_with("/../")) {
            pos += 3;
            pop_segment();
        } else if (rest == "/..") {
            pop_segment();
            out.push_back('/');
            break;
        } else if (rest == "." || rest == "..") {
            break;
        } else {
            size_t end = rest.find('/', 1);
            end = end == std::string_view::npos ? rest.size() : end;
            out.append(rest.substr(0, end));
            pos += end;
        }
    }
    return out;
}

}  // namespace

std::string http_normalize_uri(std::string_view raw) {
    std::string_view rest = raw;
    // Absolute URI (proxy request): keep path and query only.
    const size_t scheme_end = rest.find("://");
    if (scheme_end != std::string_view::npos && scheme_end > 0 &&
        rest.find_first_of("/?#") > scheme_end) {
        rest.remove_prefix(scheme_end + 3);
        const size_t path_start = rest.find_first_of("/?#");
        rest = path_start == std::string_view::npos ? std::string_view{} : rest.substr(path_start);
        if (rest.empty() || rest[0] != '/') {
            std::string out = "/";
            out.append(rest);
            return out;
        }
    }
    if (rest.empty() || (rest[0] != '/' && rest.find('/') == std::string_view::npos)) {
        return std::string(rest);  // "*", "host:443", or a bare name
    }
    const size_t qpos = rest.find_first_of("?#");
    const std::string_view path = rest.substr(0, qpos);
    const std::string_view tail =
        qpos == std::string_view::npos ? std::string_view{} : rest.substr(qpos);
    std::string decoded;
    decoded.reserve(path.size());
    for (size_t i = 0; i < path.size(); ++i) {
        const auto c = static_cast<uint8_t>(path[i]);
        if (c == '%' && i + 2 < path.size()) {
            const int hi = hex_digit(static_cast<uint8_t>(path[i + 1]));
            const int lo = hex_digit(static_cast<uint8_t>(path[i + 2]));
            if (hi >= 0 && lo >= 0) {
                const char v = static_cast<char>(hi * 16 + lo);
                i += 2;
                if (v == '/' && !decoded.empty() && decoded.back() == '/') {
                    continue;
                }
                decoded.push_back(v);
                continue;
            }
        }
        // '/' runs are compressed as they are produced, so "%2f/" counts as well
        if (c == '/' && !decoded.empty() && decoded.back() == '/') {
            continue;
        }
        decoded.push_back(static_cast<char>(c));
    }
    std::string out = remove_dot_segments(decoded);
    // The query is %-decoded too (libhtp-rs, Suricata 8); the fragment is kept as sent.
    const size_t hash = tail.find('#');
    const std::string_view query = tail.substr(0, hash);
    for (size_t i = 0; i < query.size(); ++i) {
        if (query[i] == '%' && i + 2 < query.size()) {
            const int hi = hex_digit(static_cast<uint8_t>(query[i + 1]));
            const int lo = hex_digit(static_cast<uint8_t>(query[i + 2]));
            if (hi >= 0 && lo >= 0) {
                out.push_back(static_cast<char>(hi * 16 + lo));
                i += 2;
                continue;
            }
        }
        out.push_back(query[i]);
    }
    if (hash != std::string_view::npos) {
        out.append(tail.substr(hash));
    }
    return out;
}

std::string http_normalize_host(std::string_view raw) {
    std::string_view h = trim(raw);
    if (!h.empty() && h[0] == '[') {
        const size_t close = h.find(']');
        if (close != std::string_view::npos) {
            h = h.substr(0, close + 1);
        }
    } else {
        const size_t colon = h.find(':');
        if (colon != std::string_view::npos && h.find(':', colon + 1) == std::string_view::npos) {
            h = h.substr(0, colon);
        }
    }
    while (!h.empty() && h.back() == '.') {
        h.remove_suffix(1);
    }
    std::string out(h);
    for (char& c : out) {
        c = ascii_lower(c);
    }
    return out;
}

void HttpTx::reset(uint64_t tx_id) {
    buf.clear();
    id = tx_id;
    req_headers_done = false;
    req_done = false;
    req_end = false;
    resp_headers_done = false;
    resp_done = false;
    resp_end = false;
    head = false;
    connect = false;
    http09 = false;
    status = -1;
    resp_length = 0;
}

namespace {

// The length of the gzip header (RFC 1952) at the start of `s`: 0 when incomplete, -1 when `s`
// does not start with one. Parsed here rather than by zlib because libhtp ignores what
// zlib rejects: reserved flag bits and a wrong header CRC.
int64_t gzip_header_len(std::string_view s) {
    const auto at = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
    if ((!s.empty() && at(0) != 0x1f) || (s.size() > 1 && at(1) != 0x8b) ||
        (s.size() > 2 && at(2) != 8)) {
        return -1;
    }
    if (s.size() < 10) {
        return 0;
    }
    const uint8_t flags = at(3);
    size_t pos = 10;
    if ((flags & 0x04) != 0) {  // FEXTRA
        if (s.size() < pos + 2) {
            return 0;
        }
        pos += 2 + (at(pos) | (size_t{at(pos + 1)} << 8));
    }
    for (const uint8_t f : {uint8_t{0x08}, uint8_t{0x10}}) {  // FNAME, FCOMMENT
        if ((flags & f) != 0) {
            const size_t nul = pos < s.size() ? s.find('\0', pos) : std::string_view::npos;
            if (nul == std::string_view::npos) {
                return 0;
            }
            pos = nul + 1;
        }
    }
    if ((flags & 0x02) != 0) {  // FHCRC: skipped, not checked
        pos += 2;
    }
    return pos <= s.size() ? static_cast<int64_t>(pos) : 0;
}

bool zlib_header_ok(uint8_t cmf, uint8_t flg) {
    return (cmf & 0x0f) == 8 && (cmf >> 4) <= 7 && ((cmf << 8) | flg) % 31 == 0;
}

}  // namespace

// Streaming decoders of one body at a time: one layer per gzip/deflate Content-Encoding
// token (at most kMaxDecodeLayers), each finding its own format (libhtp restarts a layer
// with the other format when the declared one fails): a gzip header, a zlib header, or
// raw deflate. A layer that cannot decode passes its bytes on as they are.
struct HttpParser::Decoder {
    enum class Mode : uint8_t { Detect, Inflate, Passthrough, Finished };
    struct Layer {
        z_stream zs{};
        bool inited = false;
        Mode mode = Mode::Detect;
        bool retried = false;  // raw deflate already (tried)
        bool produced = false;
        bool head_ok = true;  // `head` holds every input byte so far (until the first output)
        std::string head;
        std::array<uint8_t, 16384> out{};

        Layer() = default;
        Layer(const Layer&) = delete;
        Layer& operator=(const Layer&) = delete;
        ~Layer() {
            if (inited) {
                inflateEnd(&zs);
            }
        }
        void start() {
            mode = Mode::Detect;
            retried = false;
            produced = false;
            head_ok = true;
            head.clear();
        }
        bool init(int window_bits) {
            if (!inited) {
                inited = inflateInit2(&zs, window_bits) == Z_OK;
                return inited;
            }
            return inflateReset2(&zs, window_bits) == Z_OK;
        }
    };
    std::array<Layer, kMaxDecodeLayers> layers;
    size_t count = 0;
};

HttpParser::HttpParser(const AppConfig& config, AppStats& stats) : config_(config), stats_(stats) {}

HttpParser::~HttpParser() = default;

bool HttpParser::stopped(FlowDir dir) const {
    return (dir == FlowDir::ToServer ? req_ : resp_).state == State::Stopped;
}

void HttpParser::recycle() {
    for (HttpTx* tx : retired_) {
        free_.push_back(tx);
    }
    retired_.clear();
}

HttpTx* HttpParser::new_tx() {
    HttpTx* tx = nullptr;
    if (!free_.empty()) {
        tx = free_.back();
        free_.pop_back();
    } else {
        all_.push_back(std::make_unique<HttpTx>());
        tx = all_.back().get();
    }
    tx->reset(next_id_++);
    txs_.push_back(tx);
    return tx;
}

void HttpParser::retire_done() {
    for (size_t i = 0; i < txs_.size();) {
        HttpTx* tx = txs_[i];
        if (tx->req_end && tx->resp_end && tx != req_.tx && tx != resp_.tx) {
            retired_.push_back(tx);
            txs_.erase(txs_.begin() + static_cast<std::ptrdiff_t>(i));
            continue;
        }
        ++i;
    }
}

void HttpParser::stop(Dir& d, bool error) {
    if (d.state == State::Stopped) {
        return;
    }
    if (error) {
        ++stats_.counter(AppProto::Http, kHttpParseErrors);
    }
    d.state = State::Stopped;
    d.tx = nullptr;
    std::string().swap(d.hdr);
    d.line_start = 0;
    const bool to_server = &d == &req_;
    for (HttpTx* tx : txs_) {
        (to_server ? tx->req_end : tx->resp_end) = true;
    }
    retire_done();
}

void HttpParser::gap(FlowDir dir) {
    stop(dir_state(dir), true);
}

void HttpParser::feed(FlowDir dir, const uint8_t* data, size_t len, std::vector<HttpEvent>& out) {
    Dir& d = dir_state(dir);
    const bool to_server = dir == FlowDir::ToServer;
    size_t i = 0;
    while (i < len && d.state != State::Stopped) {
        if (d.state == State::Start || d.state == State::Headers) {
            i += parse_start_headers(d, to_server, data + i, len - i, out);
        } else {
            i += parse_body(d, to_server, data + i, len - i, out);
        }
    }
    retire_done();
}

void HttpParser::close(FlowDir dir, std::vector<HttpEvent>& out) {
    Dir& d = dir_state(dir);
    if (d.state == State::Stopped) {
        return;
    }
    const bool to_server = dir == FlowDir::ToServer;
    if (!to_server && d.state == State::Start && !is_blank(d.hdr) &&
        !looks_like_status_line(d.hdr)) {
        // A last line without status line (or its LF): body, as libhtp has it.
        unexpected_body(d, out);
    }
    if (d.state == State::Headers) {
        // A header block cut short by the end of the connection is complete as it stands
        // (libhtp does the same), so its headers are still inspected.
        if (d.hdr.size() > d.line_start) {
            d.hdr += "\r\n";
            d.line_start = d.hdr.size();
        }
        d.hdr += "\r\n";
        on_headers_done(d, to_server, out);
    }
    if (d.tx != nullptr && (to_server ? d.tx->req_headers_done : d.tx->resp_headers_done)) {
        if (d.decoding) {
            finish_decoding(d, to_server, out);
        }
        report_body_stage(d, to_server, out);
    }
    stop(d, false);
}

size_t HttpParser::parse_start_headers(Dir& d, bool to_server, const uint8_t* p, size_t n,
                                       std::vector<HttpEvent>& out) {
    // A response to an HTTP/0.9 request is all body, without status line or headers.
    if (!to_server && d.state == State::Start && d.hdr.empty()) {
        for (HttpTx* tx : txs_) {
            if (tx->resp_headers_done || tx->resp_end) {
                continue;
            }
            if (tx->http09) {
                d.tx = tx;
                tx->resp_headers_done = true;
                out.push_back({tx, 3});
                d.state = State::BodyClose;
                return 0;
            }
            break;
        }
    }
    const uint32_t limit = config_.http_header_limit;
    const bool lone_cr = !to_server;
    size_t i = 0;
    for (;;) {
        // The complete lines buffered first (a lone CR can end several lines in one piece).
        for (;;) {
            const size_t end = line_end(d.hdr, d.line_start, lone_cr);
            if (end == std::string_view::npos) {
                break;
            }
            int next = -1;
            if (end < d.hdr.size()) {
                next = static_cast<uint8_t>(d.hdr[end]);
            } else if (i < n) {
                next = p[i];
            }
            const LineResult r = on_line(d, to_server, end, next, out);
            if (r != LineResult::Next) {
                return i;
            }
        }
        if (i >= n) {
            return i;
        }
        // Buffer up to the next LF.
        const auto* nl = static_cast<const uint8_t*>(std::memchr(p + i, '\n', n - i));
        const size_t end = nl != nullptr ? static_cast<size_t>(nl - p) + 1 : n;
        if (d.hdr.size() + (end - i) > limit) {
            stop(d, true);
            return n;
        }
        d.hdr.append(reinterpret_cast<const char*>(p + i), end - i);
        i = end;
    }
}

HttpParser::LineResult HttpParser::on_line(Dir& d, bool to_server, size_t end, int next,
                                           std::vector<HttpEvent>& out) {
    const std::string_view raw(d.hdr.data() + d.line_start, end - d.line_start);
    const std::string_view line = strip_eol(raw);
    if (d.state == State::Start) {
        // Blank lines between messages are skipped (libhtp: empty ones before a request,
        // whitespace-only ones before a response).
        if (line.empty() || (!to_server && is_blank(line))) {
            d.hdr.erase(0, end);
            d.line_start = 0;
            return LineResult::Next;
        }
        if (!to_server && !looks_like_status_line(line)) {
            // libhtp: a junk line right before a line starting with 'H' is skipped; otherwise
            // the response has no status line and headers, and everything is body.
            if (next < 0) {
                return LineResult::Wait;
            }
            if (next == 'H' || next == 'h') {
                d.hdr.erase(0, end);
                d.line_start = 0;
                return LineResult::Next;
            }
            unexpected_body(d, out);
            return LineResult::Done;
        }
        d.state = State::Headers;
        d.start_len = end;
        d.line_start = end;
        return on_start_line(d, to_server, out) ? LineResult::Next : LineResult::Done;
    }
    bool terminator = line.empty();
    if (!to_server && !terminator && raw.size() == 2 && is_ws(raw[0]) && raw[1] == '\n') {
        // libhtp: a lone " \n" ends the headers unless another LF follows right away.
        if (next < 0) {
            return LineResult::Wait;
        }
        terminator = next != '\n';
    }
    if (terminator) {
        on_headers_done(d, to_server, out);
        return LineResult::Done;
    }
    d.line_start = end;
    return LineResult::Next;
}

void HttpParser::unexpected_body(Dir& d, std::vector<HttpEvent>& out) {
    // A response without status line (libhtp: "response line as body"): its bytes are the
    // body, up to the end of the connection, of the oldest request waiting for a response.
    ++stats_.counter(AppProto::Http, kHttpParseErrors);
    if (d.tx == nullptr) {
        for (HttpTx* tx : txs_) {
            if (!tx->resp_headers_done && !tx->resp_end) {
                d.tx = tx;
                break;
            }
        }
    }
    if (d.tx == nullptr) {
        if (txs_.size() >= kMaxActiveTxs) {
            stop(d, true);
            return;
        }
        d.tx = new_tx();
        d.tx->req_done = true;
        d.tx->req_end = true;
    }
    d.tx->resp_headers_done = true;
    out.push_back({d.tx, 3});
    d.state = State::BodyClose;
    d.decoding = false;
    d.body_stored_full = false;
    scratch_.swap(d.hdr);
    d.hdr.clear();
    d.line_start = 0;
    d.start_len = 0;
    body_bytes(d, false, reinterpret_cast<const uint8_t*>(scratch_.data()), scratch_.size(), out);
}

bool HttpParser::on_start_line(Dir& d, bool to_server, std::vector<HttpEvent>& out) {
    const std::string_view line = strip_eol(std::string_view(d.hdr).substr(0, d.start_len));
    if (!to_server) {
        return true;  // on_line() checked that it is a status line
    }
    size_t m = 0;
    while (m < line.size() && is_tchar(line[m])) {
        ++m;
    }
    if (m == 0 || m == line.size() || !is_ws(line[m])) {
        stop(d, true);
        return false;
    }
    if (txs_.size() >= kMaxActiveTxs) {
        stop(d, true);
        return false;
    }
    d.tx = new_tx();
    d.tx->resp_end = resp_.state == State::Stopped;
    fill_request(*d.tx, line);
    if (!d.tx->http09) {
        return true;
    }
    // HTTP/0.9: the request is the line alone.
    d.tx->req_headers_done = true;
    ++stats_.counter(AppProto::Http, kHttpRequests);
    out.push_back({d.tx, 1});
    report_body_stage(d, true, out);
    d.tx->req_end = true;
    d.tx = nullptr;
    d.state = State::Start;
    d.hdr.clear();
    d.line_start = 0;
    d.start_len = 0;
    return false;
}

void HttpParser::fill_request(HttpTx& tx, std::string_view line) {
    size_t m = 0;
    while (m < line.size() && !is_ws(line[m])) {
        ++m;
    }
    const std::string_view method = line.substr(0, m);
    std::string_view rest = trim(line.substr(m));
    std::string_view uri = rest;
    std::string_view proto;
    const size_t last_ws = rest.find_last_of(" \t");
    if (last_ws != std::string_view::npos && istarts_with(rest.substr(last_ws + 1), "HTTP/")) {
        proto = rest.substr(last_ws + 1);
        uri = trim(rest.substr(0, last_ws));
    } else if (istarts_with(rest, "HTTP/") && rest.find_first_of(" \t") == std::string_view::npos) {
        // "GET HTTP/1.1": no URI at all
        proto = rest;
        uri = {};
    }
    tx.http09 = proto.empty();
    tx.head = iequals(method, "HEAD");
    tx.connect = iequals(method, "CONNECT");
    tx.buf.set(BufferId::HttpMethod, method);
    tx.buf.set(BufferId::HttpUriRaw, uri);
    tx.buf.set(BufferId::HttpUri, http_normalize_uri(uri));
    if (!proto.empty()) {
        tx.buf.set(BufferId::HttpProtocol, proto);
    }
    tx.buf.set(BufferId::HttpRequestLine, line);
    // Host from an absolute URI wins over the Host header (Suricata).
    const size_t scheme_end = uri.find("://");
    if (scheme_end != std::string_view::npos && uri.find_first_of("/?#") > scheme_end) {
        std::string_view auth = uri.substr(scheme_end + 3);
        auth = auth.substr(0, auth.find_first_of("/?#"));
        const size_t at = auth.rfind('@');
        if (at != std::string_view::npos) {
            auth.remove_prefix(at + 1);
        }
        const std::string host = http_normalize_host(auth);
        // host.raw is the host part as sent (without port), like libhtp's parsed URI
        std::string_view raw_host = auth;
        if (!raw_host.empty() && raw_host[0] != '[') {
            raw_host = raw_host.substr(0, raw_host.find(':'));
        } else if (!raw_host.empty()) {
            raw_host = raw_host.substr(0, raw_host.find(']') + 1);
        }
        tx.buf.set(BufferId::HttpHostRaw, raw_host);
        tx.buf.set(BufferId::HttpHost, host);
    }
}

void HttpParser::split_headers(const Dir& d) {
    header_count_ = 0;
    const bool lone_cr = &d == &resp_;
    const std::string_view block(d.hdr);
    size_t pos = std::min(d.start_len, block.size());
    bool pending = false;
    while (pos < block.size()) {
        size_t end = line_end(block, pos, lone_cr);
        end = end == std::string_view::npos ? block.size() : end;
        const std::string_view line = strip_eol(block.substr(pos, end - pos));
        pos = end;
        if (line.empty()) {
            break;
        }
        if (is_ws(line[0]) && pending) {
            // Obsolete line folding continues the previous line, even one without a colon
            // yet (libhtp joins the lines, then splits name and value).
            const std::string_view more = trim(line);
            if (!more.empty()) {
                line_.push_back(' ');
                line_.append(more);
            }
            continue;
        }
        if (pending) {
            add_header(line_);
        }
        line_.assign(line);
        pending = true;
    }
    if (pending) {
        add_header(line_);
    }
}

void HttpParser::add_header(std::string_view line) {
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
        return;  // not a header: kept in the raw buffer only
    }
    // libhtp trims any whitespace (VT and FF too) around the name.
    std::string_view name = line.substr(0, colon);
    while (!name.empty() && is_space(static_cast<uint8_t>(name.back()))) {
        name.remove_suffix(1);
    }
    while (!name.empty() && is_space(static_cast<uint8_t>(name.front()))) {
        name.remove_prefix(1);
    }
    const std::string_view value = trim(line.substr(colon + 1));
    // Repeated headers are merged into the first, ", "-separated, except Content-Length,
    // where the first wins (libhtp).
    for (size_t h = 0; h < header_count_; ++h) {
        if (name_equals(headers_[h].first, name) || name_equals(name, headers_[h].first)) {
            if (!name_equals(name, "content-length")) {
                headers_[h].second.append(", ");
                headers_[h].second.append(value);
            }
            return;
        }
    }
    if (header_count_ == headers_.size()) {
        headers_.emplace_back();
    }
    headers_[header_count_].first.assign(name);
    headers_[header_count_].second.assign(value);
    ++header_count_;
}

namespace {

const std::string* find_header(const std::vector<std::pair<std::string, std::string>>& hs,
                               size_t count, std::string_view name) {
    for (size_t i = 0; i < count; ++i) {
        if (name_equals(hs[i].first, name)) {
            return &hs[i].second;
        }
    }
    return nullptr;
}

}  // namespace

void HttpParser::fill_common(HttpTx& tx, std::string_view line, std::string_view raw_headers,
                             bool to_server) {
    const BufferId header = to_server ? BufferId::HttpHeaderReq : BufferId::HttpHeaderResp;
    const BufferId raw = to_server ? BufferId::HttpHeaderRawReq : BufferId::HttpHeaderRawResp;
    const BufferId names = to_server ? BufferId::HttpHeaderNamesReq : BufferId::HttpHeaderNamesResp;
    const BufferId start = to_server ? BufferId::HttpStartReq : BufferId::HttpStartResp;
    // http.header leaves out the cookies (they have http.cookie); http.start keeps them.
    const std::string_view cookie = to_server ? "cookie" : "set-cookie";
    std::string& s = scratch_;
    s.clear();
    for (size_t i = 0; i < header_count_; ++i) {
        if (iequals(headers_[i].first, cookie)) {
            continue;
        }
        s.append(headers_[i].first).append(": ").append(headers_[i].second).append("\r\n");
    }
    tx.buf.set(header, s);
    tx.buf.set(raw, raw_headers);
    s.assign("\r\n");
    for (size_t i = 0; i < header_count_; ++i) {
        s.append(headers_[i].first).append("\r\n");
    }
    s.append("\r\n");
    tx.buf.set(names, s);
    s.assign(line).append("\r\n");
    for (size_t i = 0; i < header_count_; ++i) {
        s.append(headers_[i].first).append(": ").append(headers_[i].second).append("\r\n");
    }
    s.append("\r\n");
    tx.buf.set(start, s);
    // http.request_header / http.response_header: one instance per header, cookies included
    // (duplicates were joined with ", " above, as libhtp joins them).
    // app-layer events libhtp raises on a header block (app-layer-event:http.*).
    const BufferId events = to_server ? BufferId::HttpEventsReq : BufferId::HttpEventsResp;
    tx.buf.clear(events);
    if (const std::string* te = find_header(headers_, header_count_, "transfer-encoding");
        config_.needs(events) && te != nullptr && !icontains(*te, "chunked")) {
        tx.buf.add(events, to_server ? "invalid_transfer_encoding_value_in_request"
                                     : "invalid_transfer_encoding_value_in_response");
    }
    if (const std::string* auth = find_header(headers_, header_count_, "authorization");
        config_.needs(events) && to_server && auth != nullptr) {
        const std::string_view a = trim(*auth);
        const std::string_view scheme = a.substr(0, std::min(a.find(' '), a.size()));
        if (!iequals(scheme, "basic") && !iequals(scheme, "digest") && !iequals(scheme, "bearer")) {
            tx.buf.add(events, "request_auth_unrecognized");
        }
    }
    const BufferId lines = to_server ? BufferId::HttpRequestHeader : BufferId::HttpResponseHeader;
    tx.buf.clear(lines);
    for (size_t i = 0; config_.needs(lines) && i < header_count_; ++i) {
        tx.buf.add_empty(lines).append(headers_[i].first).append(": ").append(headers_[i].second);
    }
}

void HttpParser::fill_response(HttpTx& tx, std::string_view line) {
    for (size_t b = static_cast<size_t>(BufferId::HttpProtocolResp);
         b <= static_cast<size_t>(BufferId::HttpResponseBody); ++b) {
        tx.buf.clear(static_cast<BufferId>(b));
    }
    tx.buf.set(BufferId::HttpResponseLine, line);
    size_t p = 0;
    while (p < line.size() && !is_ws(line[p])) {
        ++p;
    }
    std::string_view rest = line.substr(p);
    while (!rest.empty() && is_ws(rest.front())) {
        rest.remove_prefix(1);
    }
    size_t c = 0;
    while (c < rest.size() && !is_ws(rest[c])) {
        ++c;
    }
    const std::string_view code = rest.substr(0, c);
    tx.buf.set(BufferId::HttpStatCode, code);
    tx.buf.set(BufferId::HttpProtocolResp, line.substr(0, p));
    tx.buf.set(BufferId::HttpStatMsg, trim(rest.substr(c)));
    tx.status = -1;
    if (code.size() == 3 &&
        std::all_of(code.begin(), code.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
        tx.status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
    }
}

void HttpParser::on_headers_done(Dir& d, bool to_server, std::vector<HttpEvent>& out) {
    split_headers(d);
    const size_t first_len = std::min(d.start_len, d.hdr.size());
    std::string_view line = strip_eol(std::string_view(d.hdr).substr(0, first_len));
    while (!to_server && !line.empty() &&
           (is_space(static_cast<uint8_t>(line[0])) || line[0] == '\0')) {
        line.remove_prefix(1);  // whitespace before a status line (libhtp skips it)
    }
    const std::string_view raw_headers = std::string_view(d.hdr).substr(first_len);
    const std::string* te = find_header(headers_, header_count_, "transfer-encoding");
    const std::string* cl = find_header(headers_, header_count_, "content-length");
    const bool chunked = te != nullptr && icontains(*te, "chunked");
    uint64_t length = 0;
    const bool has_length = !chunked && cl != nullptr;
    if (has_length && !parse_content_length(*cl, length)) {
        stop(d, true);
        return;
    }
    d.body_stored_full = false;
    d.decoding = false;
    d.remaining = 0;
    d.chunk_size = 0;
    d.line_len = 0;
    d.line_has_data = false;

    auto set_header = [&](BufferId id, std::string_view name) {
        const std::string* v = find_header(headers_, header_count_, name);
        if (v != nullptr) {
            d.tx->buf.set(id, *v);
        }
    };

    if (to_server) {
        HttpTx& tx = *d.tx;
        fill_common(tx, line, raw_headers, true);
        if (!tx.buf.has(BufferId::HttpHost)) {
            const std::string* host = find_header(headers_, header_count_, "host");
            if (host != nullptr) {
                tx.buf.set(BufferId::HttpHostRaw, *host);
                tx.buf.set(BufferId::HttpHost, http_normalize_host(*host));
            }
        }
        set_header(BufferId::HttpUserAgent, "user-agent");
        set_header(BufferId::HttpReferer, "referer");
        set_header(BufferId::HttpCookie, "cookie");
        set_header(BufferId::HttpAccept, "accept");
        set_header(BufferId::HttpAcceptEnc, "accept-encoding");
        set_header(BufferId::HttpAcceptLang, "accept-language");
        set_header(BufferId::HttpContentTypeReq, "content-type");
        set_header(BufferId::HttpContentLenReq, "content-length");
        set_header(BufferId::HttpConnectionReq, "connection");
        // Request bodies are decompressed too (Suricata 7 / libhtp: suricata-verify
        // http-post-data-decompression).
        start_decoding(d);
        tx.req_headers_done = true;
        ++stats_.counter(AppProto::Http, kHttpRequests);
        out.push_back({&tx, 1});
        d.hdr.clear();
        d.line_start = 0;
        if (chunked) {
            d.state = State::ChunkSize;
        } else if (length > 0) {
            d.state = State::Body;
            d.remaining = length;
        } else {
            message_done(d, true, out);
        }
        return;
    }

    // Response: pick the oldest transaction still waiting for one.
    if (d.tx == nullptr) {
        for (HttpTx* tx : txs_) {
            if (!tx->resp_headers_done && !tx->resp_end) {
                d.tx = tx;
                break;
            }
        }
    }
    uint64_t status = 0;
    {
        std::string_view rest = line.substr(std::min(line.size(), line.find_first_of(" \t")));
        rest = trim(rest);
        parse_length(rest.substr(0, rest.find_first_of(" \t")), status);
    }
    if (status >= 100 && status < 200 && status != 101) {
        // Interim response (100 Continue): the real response follows for the same request.
        d.hdr.clear();
        d.line_start = 0;
        d.state = State::Start;
        return;
    }
    if (d.tx == nullptr) {  // no request seen for it (lost, or midstream): response only
        if (txs_.size() >= kMaxActiveTxs) {
            stop(d, true);
            return;
        }
        d.tx = new_tx();
        d.tx->req_done = true;
        d.tx->req_end = true;
    }
    HttpTx& tx = *d.tx;
    fill_response(tx, line);
    fill_common(tx, line, raw_headers, false);
    set_header(BufferId::HttpServer, "server");
    set_header(BufferId::HttpLocation, "location");
    set_header(BufferId::HttpSetCookie, "set-cookie");
    set_header(BufferId::HttpContentTypeResp, "content-type");
    set_header(BufferId::HttpContentLenResp, "content-length");
    set_header(BufferId::HttpConnectionResp, "connection");
    tx.resp_headers_done = true;
    ++stats_.counter(AppProto::Http, kHttpResponses);
    out.push_back({&tx, 3});
    d.hdr.clear();
    d.line_start = 0;

    if (status == 101 || (tx.connect && status >= 200 && status < 300)) {
        // The connection becomes a tunnel (Upgrade / CONNECT): not HTTP any more.
        report_body_stage(d, false, out);
        tx.resp_end = true;
        d.tx = nullptr;
        stop(req_, false);
        stop(resp_, false);
        return;
    }
    start_decoding(d);
    if (tx.head || status == 204 || status == 304) {
        message_done(d, false, out);
    } else if (chunked) {
        d.state = State::ChunkSize;
    } else if (has_length) {
        d.state = State::Body;
        d.remaining = length;
        if (length == 0) {
            message_done(d, false, out);
        }
    } else {
        d.state = State::BodyClose;
    }
}

size_t HttpParser::parse_body(Dir& d, bool to_server, const uint8_t* p, size_t n,
                              std::vector<HttpEvent>& out) {
    size_t i = 0;
    const State s0 = d.state;
    switch (d.state) {
        case State::Body:
        case State::ChunkData: {
            const size_t take = static_cast<size_t>(std::min<uint64_t>(d.remaining, n));
            body_bytes(d, to_server, p, take, out);
            d.remaining -= take;
            i = take;
            if (d.remaining == 0) {
                if (d.state == State::Body && !to_server && junk_follows(p + take, n - take)) {
                    // libhtp (RES_FINALIZE): bytes right after the body that do not start
                    // a status line are more body of the same response.
                    d.state = State::BodyClose;
                } else if (d.state == State::Body) {
                    message_done(d, to_server, out);
                } else {
                    d.state = State::ChunkDataEnd;
                }
            }
            break;
        }
        case State::BodyClose:
            body_bytes(d, to_server, p, n, out);
            i = n;
            break;
        case State::ChunkSize:
            for (; i < n; ++i) {
                const uint8_t c = p[i];
                if (d.hdr.size() >= kMaxChunkLine) {
                    stop(d, true);
                    return n;
                }
                d.hdr.push_back(static_cast<char>(c));
                if (c != '\n') {
                    // libhtp gives up on chunking at once when the line starts (after
                    // whitespace) with something that is not a hex digit.
                    if (!d.line_has_data && !is_space(c)) {
                        d.line_has_data = true;
                        if (hex_digit(c) < 0 && d.hdr.size() <= 8) {
                            not_chunked(d, to_server, out);
                            return i + 1;
                        }
                    }
                    continue;
                }
                const int64_t size = parse_chunk_line(d.hdr);
                if (size == -2) {  // a blank line: the size comes on a later one
                    d.hdr.clear();
                    d.line_has_data = false;
                    continue;
                }
                if (size < 0) {
                    not_chunked(d, to_server, out);
                    return i + 1;
                }
                d.hdr.clear();
                d.line_has_data = false;
                if (size == 0) {
                    d.state = State::Trailers;
                    d.line_len = 0;
                } else {
                    d.state = State::ChunkData;
                    d.remaining = static_cast<uint64_t>(size);
                }
                ++i;
                break;
            }
            break;
        case State::ChunkDataEnd: {
            // Up to the LF: libhtp ignores whatever comes before it.
            const auto* nl = static_cast<const uint8_t*>(std::memchr(p, '\n', n));
            i = nl == nullptr ? n : static_cast<size_t>(nl - p) + 1;
            if (nl != nullptr) {
                d.state = State::ChunkSize;
                d.hdr.clear();
                d.line_has_data = false;
            }
            break;
        }
        case State::Trailers:
            for (; i < n; ++i) {
                const uint8_t c = p[i];
                if (++d.line_len > config_.http_header_limit) {
                    stop(d, true);
                    return n;
                }
                if (c == '\n') {
                    if (!d.line_has_data) {
                        ++i;
                        if (!to_server && d.tx != nullptr) {
                            d.tx->resp_length += i;
                        }
                        message_done(d, to_server, out);
                        return i;
                    }
                    d.line_has_data = false;
                } else if (c != '\r') {
                    d.line_has_data = true;
                }
            }
            break;
        default:
            return n;
    }
    if (!to_server && d.tx != nullptr &&
        (s0 == State::ChunkSize || s0 == State::ChunkDataEnd || s0 == State::Trailers)) {
        d.tx->resp_length += i;  // chunk framing counts toward the message length
    }
    return i;
}

void HttpParser::not_chunked(Dir& d, bool to_server, std::vector<HttpEvent>& out) {
    if (to_server) {
        stop(d, true);
        return;
    }
    // libhtp: a response whose chunk size is invalid is not chunked after all; the body runs
    // to the end of the connection, from the start of that line.
    ++stats_.counter(AppProto::Http, kHttpParseErrors);
    d.state = State::BodyClose;
    scratch_.swap(d.hdr);
    d.hdr.clear();
    d.line_has_data = false;
    body_bytes(d, false, reinterpret_cast<const uint8_t*>(scratch_.data()), scratch_.size(), out);
}

void HttpParser::body_bytes(Dir& d, bool to_server, const uint8_t* p, size_t n,
                            std::vector<HttpEvent>& out) {
    if (n == 0 || d.tx == nullptr) {
        return;
    }
    if (!to_server) {
        d.tx->resp_length += n;
    }
    if (!config_.needs(to_server ? BufferId::HttpRequestBody : BufferId::HttpResponseBody)) {
        return;  // no rule inspects this body: not copied, not decompressed
    }
    if (d.decoding) {
        decode_body(d, to_server, 0, p, n, out);
        return;
    }
    store_body(d, to_server, p, n, out);
}

void HttpParser::store_body(Dir& d, bool to_server, const uint8_t* p, size_t n,
                            std::vector<HttpEvent>& out) {
    if (d.body_stored_full || n == 0) {
        return;
    }
    const uint32_t limit =
        to_server ? config_.http_request_body_limit : config_.http_response_body_limit;
    std::string& body =
        d.tx->buf.first(to_server ? BufferId::HttpRequestBody : BufferId::HttpResponseBody);
    size_t take = n;
    bool full = false;
    if (limit != 0 && body.size() + n > limit) {  // 0: no limit
        take = limit - std::min<size_t>(limit, body.size());
        full = true;
    }
    body.append(reinterpret_cast<const char*>(p), take);
    if (full) {
        d.body_stored_full = true;
        ++stats_.counter(AppProto::Http, kHttpBodyTruncated);
        report_body_stage(d, to_server, out);
    }
}

void HttpParser::decoded_bytes(Dir& d, bool to_server, size_t layer, const uint8_t* p, size_t n,
                               std::vector<HttpEvent>& out) {
    if (layer + 1 < d.decoder->count) {
        decode_body(d, to_server, layer + 1, p, n, out);
    } else {
        store_body(d, to_server, p, n, out);
    }
}

void HttpParser::decode_body(Dir& d, bool to_server, size_t layer, const uint8_t* p, size_t n,
                             std::vector<HttpEvent>& out) {
    using Mode = Decoder::Mode;
    Decoder::Layer& z = d.decoder->layers[layer];
    if (n == 0 || z.mode == Mode::Finished) {
        return;
    }
    if (z.mode == Mode::Passthrough) {
        decoded_bytes(d, to_server, layer, p, n, out);
        return;
    }
    // Inflates [q, q+m); false on a stream error.
    auto inflate_some = [&](const uint8_t* q, size_t m) {
        z.zs.next_in = const_cast<Bytef*>(q);
        z.zs.avail_in = static_cast<uInt>(m);
        for (;;) {
            z.zs.next_out = z.out.data();
            z.zs.avail_out = static_cast<uInt>(z.out.size());
            const int rc = inflate(&z.zs, Z_NO_FLUSH);
            const size_t got = z.out.size() - z.zs.avail_out;
            if (got > 0) {
                z.produced = true;
                z.head_ok = false;
                z.head.clear();
                decoded_bytes(d, to_server, layer, z.out.data(), got, out);
            }
            if (rc == Z_STREAM_END) {
                z.mode = Mode::Finished;  // trailing bytes are ignored
                return true;
            }
            if (rc == Z_BUF_ERROR) {
                return true;  // no progress possible: wait for more input
            }
            if (rc != Z_OK) {
                return false;
            }
            if ((z.zs.avail_in == 0 && got < z.out.size()) || d.body_stored_full) {
                return true;
            }
        }
    };
    auto give_up = [&](const uint8_t* q, size_t m) {
        ++stats_.counter(AppProto::Http, kHttpGzipErrors);
        z.mode = Mode::Passthrough;
        if (z.head_ok) {
            const std::string head = std::move(z.head);
            z.head.clear();
            decoded_bytes(d, to_server, layer, reinterpret_cast<const uint8_t*>(head.data()),
                          head.size(), out);
        } else {
            decoded_bytes(d, to_server, layer, q, m, out);
        }
    };
    if (z.head_ok) {
        if (z.head.size() + n > kMaxDecodeHead) {
            z.head_ok = false;
            z.head.clear();
            if (z.mode == Mode::Detect) {  // never decided: the bytes go on as they are
                z.mode = Mode::Passthrough;
                ++stats_.counter(AppProto::Http, kHttpGzipErrors);
                decoded_bytes(d, to_server, layer, p, n, out);
                return;
            }
        } else {
            z.head.append(reinterpret_cast<const char*>(p), n);
        }
    }
    if (z.mode == Mode::Detect) {
        const int64_t gz = gzip_header_len(z.head);
        if (gz == 0 || z.head.size() < 2) {
            return;  // wait for the whole gzip header (or two bytes)
        }
        size_t skip = 0;
        int bits = -15;
        if (gz > 0) {
            skip = static_cast<size_t>(gz);
            z.retried = true;
        } else if (zlib_header_ok(static_cast<uint8_t>(z.head[0]),
                                  static_cast<uint8_t>(z.head[1]))) {
            bits = 15;
        } else {
            z.retried = true;
        }
        if (!z.init(bits)) {
            give_up(p, n);
            return;
        }
        z.mode = Mode::Inflate;
        const std::string head = z.head.substr(skip);  // inflate_some clears z.head on output
        if (inflate_some(reinterpret_cast<const uint8_t*>(head.data()), head.size())) {
            return;
        }
    } else if (inflate_some(p, n)) {
        return;
    }
    // A "deflate" body is often raw deflate without the zlib header: retry once as raw.
    if (!z.produced && z.head_ok && !z.retried) {
        z.retried = true;
        if (z.init(-15)) {
            const std::string head = z.head;  // inflate_some clears z.head on output
            if (inflate_some(reinterpret_cast<const uint8_t*>(head.data()), head.size())) {
                return;
            }
        }
    }
    give_up(p, n);
}

void HttpParser::finish_decoding(Dir& d, bool to_server, std::vector<HttpEvent>& out) {
    // A layer still finding its format at the end of the body passes its bytes on.
    for (size_t l = 0; l < d.decoder->count; ++l) {
        Decoder::Layer& z = d.decoder->layers[l];
        if (z.mode == Decoder::Mode::Detect) {
            z.mode = Decoder::Mode::Passthrough;
            const std::string head = std::move(z.head);
            z.head.clear();
            decoded_bytes(d, to_server, l, reinterpret_cast<const uint8_t*>(head.data()),
                          head.size(), out);
        }
    }
    d.decoding = false;
}

void HttpParser::start_decoding(Dir& d) {
    const std::string* ce = find_header(headers_, header_count_, "content-encoding");
    if (ce == nullptr) {
        return;
    }
    // One layer per token naming gzip or deflate ("gzip, gzip"; libhtp splits on ',' and
    // ' ', and takes any token containing the name).
    size_t layers = 0;
    std::string_view rest(*ce);
    while (!rest.empty()) {
        const size_t sep = rest.find_first_of(", \t");
        const std::string_view tok = rest.substr(0, sep);
        rest.remove_prefix(sep == std::string_view::npos ? rest.size() : sep + 1);
        if (icontains(tok, "gzip") || icontains(tok, "deflate")) {
            ++layers;
        }
    }
    if (layers == 0) {
        return;
    }
    if (!d.decoder) {
        d.decoder = std::make_unique<Decoder>();
    }
    d.decoder->count = std::min(layers, kMaxDecodeLayers);
    for (size_t l = 0; l < d.decoder->count; ++l) {
        d.decoder->layers[l].start();
    }
    d.decoding = true;
}

void HttpParser::report_body_stage(Dir& d, bool to_server, std::vector<HttpEvent>& out) {
    HttpTx* tx = d.tx;
    if (tx == nullptr) {
        return;
    }
    bool& done = to_server ? tx->req_done : tx->resp_done;
    if (!done) {
        done = true;
        out.push_back({tx, static_cast<uint8_t>(to_server ? 2 : 4)});
    }
}

void HttpParser::message_done(Dir& d, bool to_server, std::vector<HttpEvent>& out) {
    if (d.decoding) {
        finish_decoding(d, to_server, out);
    }
    report_body_stage(d, to_server, out);
    if (d.tx != nullptr) {
        (to_server ? d.tx->req_end : d.tx->resp_end) = true;
    }
    d.tx = nullptr;
    d.state = State::Start;
    d.decoding = false;
    d.hdr.clear();
    d.line_start = 0;
}

}  // namespace vigil::dataplane::app
