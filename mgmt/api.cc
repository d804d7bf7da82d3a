#include "mgmt/api.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/text.h"
#include "common/wire.h"
#include "mgmt/audit.h"
#include "mgmt/health.h"
#include "mgmt/packs.h"
#include "mgmt/review.h"
#include "mgmt/tokens.h"

#include <nlohmann/json.hpp>

namespace vigil::mgmt {

namespace {

using nlohmann::json;

constexpr uint32_t kMaxLimit = 1000;
// A sensor that sent a heartbeat this recently counts as connected (it sends one a second).
constexpr int64_t kConnectedWithinUs = 5'000'000;
// Echoed user input is cut to this length in error messages.
constexpr size_t kEchoMax = 64;

std::string echo(std::string_view s) {
    std::string out(s.substr(0, kEchoMax));
    if (s.size() > kEchoMax) {
        out += "...";
    }
    return out;
}

Error bad(const std::string& param, const std::string& why) {
    return make_error(ErrorCode::BadInput, param + ": " + why);
}

bool all_digits(std::string_view s) {
    if (s.empty()) {
        return false;
    }
    for (const char c : s) {
        if (c < '0' || c > '9') {
            return false;
        }
    }
    return true;
}

template <typename T>
std::optional<T> parse_uint(std::string_view s) {
    T v{};
    if (!all_digits(s)) {
        return std::nullopt;
    }
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc{} || r.ptr != s.data() + s.size()) {
        return std::nullopt;
    }
    return v;
}

bool charset_ok(std::string_view s, size_t max, bool upper, const char* extra) {
    if (s.empty() || s.size() > max) {
        return false;
    }
    for (const char c : s) {
        const bool ok = (c >= 'a' && c <= 'z') || (upper && c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || std::strchr(extra, c) != nullptr;
        if (!ok || c == '\0') {
            return false;
        }
    }
    return true;
}

// --- base64url (RFC 4648 §5, no padding), for the cursor ---

constexpr std::string_view kB64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string b64url_encode(std::string_view in) {
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    for (const char ch : in) {
        acc = (acc << 8) | static_cast<unsigned char>(ch);
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += kB64[(acc >> bits) & 0x3f];
        }
    }
    if (bits > 0) {
        out += kB64[(acc << (6 - bits)) & 0x3f];
    }
    return out;
}

std::optional<std::string> b64url_decode(std::string_view in) {
    if (in.size() % 4 == 1) {
        return std::nullopt;
    }
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    for (const char ch : in) {
        const auto v = kB64.find(ch);
        if (v == std::string_view::npos) {
            return std::nullopt;
        }
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xff);
        }
    }
    // Leftover bits must be zero: one encoding per cursor.
    if ((acc & ((1U << bits) - 1)) != 0) {
        return std::nullopt;
    }
    return out;
}

struct Cursor {
    bool ascending = false;
    int64_t id = 0;
};

std::optional<Cursor> decode_cursor(std::string_view s) {
    const auto text = b64url_decode(s);
    if (!text) {
        return std::nullopt;
    }
    std::string_view t = *text;
    Cursor c;
    if (t.rfind("v1:asc:", 0) == 0) {
        c.ascending = true;
        t.remove_prefix(7);
    } else if (t.rfind("v1:desc:", 0) == 0) {
        t.remove_prefix(8);
    } else {
        return std::nullopt;
    }
    const auto id = parse_uint<uint64_t>(t);
    if (!id || *id == 0 || *id > static_cast<uint64_t>(INT64_MAX) ||
        (t.size() > 1 && t[0] == '0')) {
        return std::nullopt;
    }
    c.id = static_cast<int64_t>(*id);
    return c;
}

// --- addresses: the filter is compared with EVE's text, so it is written the way the sensor
// writes addresses (IPv4 dotted quad; IPv6 uncompressed, eight groups of four hex digits) ---

std::optional<std::string> normalize_ip(const std::string& s) {
    in_addr a4{};
    if (inet_pton(AF_INET, s.c_str(), &a4) == 1) {
        char buf[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &a4, buf, sizeof(buf));
        return std::string(buf);
    }
    in6_addr a6{};
    if (inet_pton(AF_INET6, s.c_str(), &a6) == 1) {
        const uint8_t* b = a6.s6_addr;
        char buf[40];
        std::snprintf(buf, sizeof(buf),
                      "%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x",
                      b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
                      b[12], b[13], b[14], b[15]);
        return std::string(buf);
    }
    return std::nullopt;
}

// --- times ---

bool leap(int y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int days_in_month(int y, int m) {
    static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : kDays[m - 1];
}

// Reads exactly `n` digits at `s[i]`.
bool digits(std::string_view s, size_t& i, size_t n, int& out) {
    if (i + n > s.size()) {
        return false;
    }
    int v = 0;
    for (size_t k = 0; k < n; ++k) {
        const char c = s[i + k];
        if (c < '0' || c > '9') {
            return false;
        }
        v = v * 10 + (c - '0');
    }
    i += n;
    out = v;
    return true;
}

constexpr int64_t kMaxEpochSeconds = 253402300799;  // 9999-12-31T23:59:59Z

std::optional<int64_t> parse_epoch(std::string_view s) {
    const auto dot = s.find('.');
    const std::string_view whole = s.substr(0, dot);
    const auto secs = parse_uint<uint64_t>(whole);
    if (!secs || *secs > static_cast<uint64_t>(kMaxEpochSeconds)) {
        return std::nullopt;
    }
    int64_t frac_us = 0;
    if (dot != std::string_view::npos) {
        const std::string_view frac = s.substr(dot + 1);
        if (frac.empty() || frac.size() > 9 || !all_digits(frac)) {
            return std::nullopt;
        }
        for (size_t k = 0; k < 6; ++k) {
            frac_us = frac_us * 10 + (k < frac.size() ? frac[k] - '0' : 0);
        }
    }
    return static_cast<int64_t>(*secs) * 1'000'000 + frac_us;
}

std::optional<int64_t> parse_iso(std::string_view s) {
    size_t i = 0;
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
    if (!digits(s, i, 4, y) || i >= s.size() || s[i++] != '-' || !digits(s, i, 2, mo) ||
        i >= s.size() || s[i++] != '-' || !digits(s, i, 2, d)) {
        return std::nullopt;
    }
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) {
        return std::nullopt;
    }
    int64_t frac_us = 0;
    int64_t offset_s = 0;
    if (i < s.size()) {
        if (s[i] != 'T' && s[i] != 't' && s[i] != ' ') {
            return std::nullopt;
        }
        ++i;
        if (!digits(s, i, 2, h) || i >= s.size() || s[i++] != ':' || !digits(s, i, 2, mi)) {
            return std::nullopt;
        }
        if (i < s.size() && s[i] == ':') {
            ++i;
            if (!digits(s, i, 2, se)) {
                return std::nullopt;
            }
            if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
                ++i;
                size_t n = 0;
                while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
                    if (n < 6) {
                        frac_us = frac_us * 10 + (s[i] - '0');
                    }
                    ++n;
                    ++i;
                }
                if (n == 0 || n > 9) {
                    return std::nullopt;
                }
                for (; n < 6; ++n) {
                    frac_us *= 10;
                }
            }
        }
        if (h > 23 || mi > 59 || se > 60) {
            return std::nullopt;
        }
        // The zone is required: a time without one means different instants on different
        // hosts.
        if (i >= s.size()) {
            return std::nullopt;
        }
        if (s[i] == 'Z' || s[i] == 'z') {
            ++i;
        } else if (s[i] == '+' || s[i] == '-' || s[i] == ' ') {
            const int sign = s[i] == '-' ? -1 : 1;
            ++i;
            int oh = 0, om = 0;
            if (!digits(s, i, 2, oh)) {
                return std::nullopt;
            }
            if (i < s.size()) {
                if (s[i] == ':') {
                    ++i;
                }
                if (!digits(s, i, 2, om)) {
                    return std::nullopt;
                }
            }
            if (oh > 23 || om > 59) {
                return std::nullopt;
            }
            offset_s = sign * (oh * 3600 + om * 60);
        } else {
            return std::nullopt;
        }
        if (i != s.size()) {
            return std::nullopt;
        }
    }
    tm t{};
    t.tm_year = y - 1900;
    t.tm_mon = mo - 1;
    t.tm_mday = d;
    t.tm_hour = h;
    t.tm_min = mi;
    t.tm_sec = se;
    const int64_t secs = static_cast<int64_t>(timegm(&t)) - offset_s;
    if (secs < 0) {
        return std::nullopt;
    }
    return secs * 1'000'000 + frac_us;
}

}  // namespace

namespace {

json iso_or_null(int64_t us) {
    return us > 0 ? json(iso8601_utc(us)) : json(nullptr);
}

}  // namespace

Result<int64_t> parse_api_time(std::string_view s) {
    if (all_digits(s.substr(0, s.find('.'))) && s.find('-') == std::string_view::npos) {
        if (const auto v = parse_epoch(s)) {
            return *v;
        }
        return make_error(ErrorCode::BadInput, "'" + echo(s) + "' is not epoch seconds from 0 to " +
                                                   std::to_string(kMaxEpochSeconds));
    }
    if (const auto v = parse_iso(s)) {
        return *v;
    }
    return make_error(ErrorCode::BadInput,
                      "'" + echo(s) +
                          "' is not a time: expected ISO 8601 with a zone "
                          "(2024-01-01T00:00:00.000000+0000, 2024-01-01T00:00:00Z), a date "
                          "(2024-01-01, UTC) or epoch seconds");
}

std::string encode_alert_cursor(bool ascending, int64_t id) {
    return b64url_encode(std::string(ascending ? "v1:asc:" : "v1:desc:") + std::to_string(id));
}

std::multimap<std::string, std::string> parse_query_string(std::string_view query) {
    auto decode = [](std::string_view s) {
        std::string out;
        out.reserve(s.size());
        for (size_t i = 0; i < s.size(); ++i) {
            if (s[i] == '+') {
                out += ' ';
            } else if (s[i] == '%' && i + 2 < s.size() &&
                       hex_digit(static_cast<uint8_t>(s[i + 1])) >= 0 &&
                       hex_digit(static_cast<uint8_t>(s[i + 2])) >= 0) {
                out += static_cast<char>(hex_digit(static_cast<uint8_t>(s[i + 1])) * 16 +
                                         hex_digit(static_cast<uint8_t>(s[i + 2])));
                i += 2;
            } else {
                out += s[i];  // a stray '%' stays as it is
            }
        }
        return out;
    };
    std::multimap<std::string, std::string> out;
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        if (pair.empty()) {
            continue;
        }
        const auto eq = pair.find('=');
        out.emplace(decode(pair.substr(0, eq)),
                    eq == std::string_view::npos ? std::string() : decode(pair.substr(eq + 1)));
    }
    return out;
}

Result<EventQuery> parse_alert_query(const std::multimap<std::string, std::string>& params) {
    static const std::set<std::string> kKnown = {"since", "until", "sensor", "sid",
                                                 "src",   "dst",   "proto",  "action",
                                                 "type",  "limit", "order",  "cursor"};
    for (auto it = params.begin(); it != params.end(); it = params.upper_bound(it->first)) {
        if (kKnown.count(it->first) == 0) {
            std::string list;
            for (const auto& k : kKnown) {
                list += (list.empty() ? "" : ", ") + k;
            }
            return make_error(ErrorCode::BadInput, "unknown parameter '" + echo(it->first) +
                                                       "' (expected one of: " + list + ")");
        }
        if (params.count(it->first) > 1) {
            return bad(it->first, "given more than once");
        }
        if (it->second.empty()) {
            return bad(it->first, "empty value");
        }
    }
    EventQuery q;
    std::optional<Cursor> cursor;
    std::optional<bool> ascending;
    for (const auto& [k, v] : params) {
        if (k == "since" || k == "until") {
            auto t = parse_api_time(v);
            if (!t) {
                return bad(k, t.error().message);
            }
            (k == "since" ? q.since_us : q.until_us) = *t;
        } else if (k == "sensor") {
            if (!wire::valid_sensor_id(v)) {
                return bad(k, "'" + echo(v) + "' is not a sensor id (1-64 of [A-Za-z0-9._-])");
            }
            q.sensor = v;
        } else if (k == "sid") {
            const auto sid = parse_uint<uint32_t>(v);
            if (!sid) {
                return bad(k, "'" + echo(v) + "' is not a rule id (a whole number up to " +
                                  std::to_string(UINT32_MAX) + ")");
            }
            q.sid = *sid;
        } else if (k == "src" || k == "dst") {
            const auto ip = normalize_ip(v);
            if (!ip) {
                return bad(k, "'" + echo(v) + "' is not an IPv4 or IPv6 address");
            }
            (k == "src" ? q.src_ip : q.dest_ip) = *ip;
        } else if (k == "proto") {
            if (!charset_ok(v, 16, true, "-")) {
                return bad(k, "'" + echo(v) + "' is not a protocol name (TCP, UDP, ICMP, ...)");
            }
            q.proto = v;
        } else if (k == "action") {
            if (v != "allowed" && v != "blocked") {
                return bad(k, "'" + echo(v) + "': expected allowed or blocked");
            }
            q.action = v;
        } else if (k == "type") {
            if (!charset_ok(v, 32, false, "_")) {
                return bad(k, "'" + echo(v) + "' is not an EVE event type (alert, drop, ...)");
            }
            q.event_type = v;
        } else if (k == "limit") {
            const auto n = parse_uint<uint32_t>(v);
            if (!n || *n < 1 || *n > kMaxLimit) {
                return bad(k, "'" + echo(v) + "': expected a whole number from 1 to " +
                                  std::to_string(kMaxLimit));
            }
            q.limit = *n;
        } else if (k == "order") {
            if (v != "asc" && v != "desc") {
                return bad(k, "'" + echo(v) + "': expected asc or desc");
            }
            ascending = v == "asc";
        } else if (k == "cursor") {
            cursor = decode_cursor(v);
            if (!cursor) {
                return bad(k, "not a cursor from a previous page's next_cursor");
            }
        }
    }
    if (q.since_us && q.until_us && *q.since_us > *q.until_us) {
        return bad("since", "later than until");
    }
    q.ascending = ascending.value_or(cursor ? cursor->ascending : false);
    if (cursor) {
        if (cursor->ascending != q.ascending) {
            return bad("cursor", std::string("made for order=") +
                                     (cursor->ascending ? "asc" : "desc") + ", not for this order");
        }
        (q.ascending ? q.after_id : q.before_id) = cursor->id;
    }
    return q;
}

namespace {

// --- the server ---

struct Reply {
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
    bool auth_challenge = false;  // 401: WWW-Authenticate
    std::string allow;            // 405: the methods the endpoint takes
};

std::string error_body(const std::string& message) {
    return json{{"error", message}}.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

Reply error_reply(int status, const std::string& message) {
    Reply r;
    r.status = status;
    r.body = error_body(message);
    r.auth_challenge = status == 401;
    return r;
}

Reply json_reply(const json& j, int status = 200) {
    Reply r;
    r.status = status;
    r.body = j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    return r;
}

// The one place that turns an error into a status: a BadInput names the parameter (400); a
// store or token-file failure is logged here and shown as a generic message (500), never
// with its text (paths, SQL).
Reply from_error(const Error& e, const char* what) {
    if (e.code == ErrorCode::BadInput) {
        return error_reply(400, e.message);
    }
    if (e.code == ErrorCode::Busy) {
        return error_reply(409, e.message);
    }
    std::fprintf(stderr, "vigil-mgmtd: api: %s: %s\n", what, e.message.c_str());
    return error_reply(500, std::string(what) + " unavailable");
}

// A JSON value to embed as is (the stored EVE record keeps its bytes and key order); a record
// that is not valid JSON (it should never be) is embedded as a string instead of breaking
// the whole response.
std::string raw_or_string(const std::string& text) {
    if (!text.empty() && (text.front() == '{' || text.front() == '[') && json::accept(text)) {
        return text;
    }
    return json(text).dump(-1, ' ', false, json::error_handler_t::replace);
}

// The EVE fields that carry packet data (classification.data.payloads).
constexpr std::array<const char*, 3> kPayloadFields = {"payload", "payload_printable", "packet"};

// The record without its packet data, when the API is not cleared for payloads.
std::string without_payload(const std::string& eve) {
    bool has = false;
    for (const char* f : kPayloadFields) {
        has = has || eve.find(std::string("\"") + f + "\"") != std::string::npos;
    }
    if (!has) {
        return eve;
    }
    json j = json::parse(eve, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        return eve;
    }
    for (const char* f : kPayloadFields) {
        j.erase(f);
    }
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string wrap_event(const StoredEvent& e, bool strip_payloads) {
    std::string out = "{\"id\":" + std::to_string(e.id) + ",\"sensor_id\":" +
                      json(e.sensor_id).dump(-1, ' ', false, json::error_handler_t::replace) +
                      ",\"seq\":" + std::to_string(e.seq) + ",\"eve\":";
    out += raw_or_string(strip_payloads ? without_payload(e.eve) : e.eve);
    out += '}';
    return out;
}

// Prometheus text format 0.0.4.
class Metrics {
public:
    void family(const char* name, const char* type, const char* help) {
        out_ += "# HELP ";
        out_ += name;
        out_ += ' ';
        out_ += help;
        out_ += "\n# TYPE ";
        out_ += name;
        out_ += ' ';
        out_ += type;
        out_ += '\n';
    }
    void sample(const char* name, const char* label, const std::string& value, double v) {
        char buf[64];
        if (v == static_cast<double>(static_cast<int64_t>(v)) && v < 9.0e15 && v > -9.0e15) {
            std::snprintf(buf, sizeof(buf), "%" PRId64, static_cast<int64_t>(v));
        } else {
            std::snprintf(buf, sizeof(buf), "%.6g", v);
        }
        line(name, label, value, buf);
    }
    void sample_u(const char* name, const char* label, const std::string& value, uint64_t v) {
        line(name, label, value, std::to_string(v));
    }
    std::string take() { return std::move(out_); }

private:
    // NAME{LABEL="VALUE"} NUMBER, or NAME NUMBER without a label.
    void line(const char* name, const char* label, const std::string& value,
              const std::string& number) {
        out_ += name;
        if (label != nullptr) {
            out_ += '{';
            out_ += label;
            out_ += "=\"";
            escape(value);
            out_ += "\"}";
        }
        out_ += ' ';
        out_ += number;
        out_ += '\n';
    }
    // Label values escape backslash, double quote and line feed (the format's three).
    void escape(const std::string& v) {
        for (const char c : v) {
            if (c == '\\') {
                out_ += "\\\\";
            } else if (c == '"') {
                out_ += "\\\"";
            } else if (c == '\n') {
                out_ += "\\n";
            } else {
                out_ += c;
            }
        }
    }
    std::string out_;
};

enum class Endpoint {
    Status,
    Sensors,
    Alerts,
    Alert,
    Tokens,
    Token,
    Metrics,
    RulePacks,
    RulePackActivate,
    RulePackRollback,
    Controls,
    Incidents,
    IncidentOne,
    IncidentAck,
    IntegrityAccept,
    Review,
    Drills
};

struct Route {
    Endpoint ep;
    std::string arg;  // {id} or {name}
};

std::optional<Route> match_route(const std::string& path) {
    static constexpr std::string_view kAlerts = "/api/v1/alerts/";
    static constexpr std::string_view kTokens = "/api/v1/tokens/";
    if (path == "/api/v1/status") {
        return Route{Endpoint::Status, {}};
    }
    if (path == "/api/v1/sensors") {
        return Route{Endpoint::Sensors, {}};
    }
    if (path == "/api/v1/alerts") {
        return Route{Endpoint::Alerts, {}};
    }
    if (path == "/api/v1/tokens") {
        return Route{Endpoint::Tokens, {}};
    }
    if (path == "/metrics") {
        return Route{Endpoint::Metrics, {}};
    }
    if (path == "/api/v1/rulepacks") {
        return Route{Endpoint::RulePacks, {}};
    }
    if (path == "/api/v1/controls") {
        return Route{Endpoint::Controls, {}};
    }
    if (path == "/api/v1/incidents") {
        return Route{Endpoint::Incidents, {}};
    }
    if (path == "/api/v1/controls/file-integrity/accept") {
        return Route{Endpoint::IntegrityAccept, {}};
    }
    if (path == "/api/v1/drills") {
        return Route{Endpoint::Drills, {}};
    }
    if (path == "/api/v1/review") {
        return Route{Endpoint::Review, {}};
    }
    if (path == "/api/v1/rulepacks/rollback") {
        return Route{Endpoint::RulePackRollback, {}};
    }
    static constexpr std::string_view kPacks = "/api/v1/rulepacks/";
    static constexpr std::string_view kActivate = "/activate";
    if (path.size() > kPacks.size() + kActivate.size() && path.starts_with(kPacks) &&
        path.ends_with(kActivate)) {
        std::string v = path.substr(kPacks.size(), path.size() - kPacks.size() - kActivate.size());
        if (v.find('/') == std::string::npos) {
            return Route{Endpoint::RulePackActivate, std::move(v)};
        }
    }
    static constexpr std::string_view kIncidents = "/api/v1/incidents/";
    static constexpr std::string_view kAck = "/ack";
    if (path.size() > kIncidents.size() + kAck.size() && path.starts_with(kIncidents) &&
        path.ends_with(kAck)) {
        std::string v =
            path.substr(kIncidents.size(), path.size() - kIncidents.size() - kAck.size());
        if (v.find('/') == std::string::npos) {
            return Route{Endpoint::IncidentAck, std::move(v)};
        }
    }
    for (const auto& [prefix, ep] :
         {std::pair{kAlerts, Endpoint::Alert}, std::pair{kTokens, Endpoint::Token},
          std::pair{kIncidents, Endpoint::IncidentOne}}) {
        if (path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0 &&
            path.find('/', prefix.size()) == std::string::npos) {
            return Route{ep, path.substr(prefix.size())};
        }
    }
    return std::nullopt;
}

// The methods each endpoint takes, and the role each needs.
struct MethodRule {
    const char* method;
    Role role;
};

std::vector<MethodRule> methods_of(Endpoint ep) {
    switch (ep) {
        case Endpoint::Status:
        case Endpoint::Sensors:
        case Endpoint::Alerts:
        case Endpoint::Alert:
        case Endpoint::Metrics:
        case Endpoint::Controls:
        case Endpoint::Incidents:
        case Endpoint::IncidentOne:
            return {{"GET", Role::Viewer}};
        case Endpoint::IncidentAck:
            return {{"POST", Role::Operator}};
        case Endpoint::Review:
            return {{"GET", Role::Operator}};
        case Endpoint::Tokens:
            return {{"GET", Role::Admin}, {"POST", Role::Admin}};
        case Endpoint::Token:
            return {{"DELETE", Role::Admin}};
        case Endpoint::RulePacks:
            return {{"GET", Role::Viewer}, {"POST", Role::Admin}};
        case Endpoint::RulePackActivate:
        case Endpoint::RulePackRollback:
        case Endpoint::IntegrityAccept:
            return {{"POST", Role::Admin}};
        case Endpoint::Drills:
            return {{"GET", Role::Viewer}, {"POST", Role::Admin}};
    }
    return {};
}

const char* status_text(int status) {
    switch (status) {
        case 400:
            return "bad request";
        case 401:
            return "unauthorized";
        case 403:
            return "forbidden";
        case 404:
            return "no such endpoint";
        case 405:
            return "method not allowed";
        case 408:
            return "request timeout";
        case 413:
            return "request body too large";
        case 414:
            return "request URI too long";
        case 416:
            return "range not satisfiable";
        default:
            return status >= 500 ? "internal error" : "request refused";
    }
}

class Api final : public ApiServer {
public:
    Api(const ApiContext& ctx, TokenStorePtr&& tokens, std::unique_ptr<httplib::Server>&& srv)
        : ctx_(ctx), tokens_(std::move(tokens)), srv_(std::move(srv)) {}
    ~Api() override { stop(); }

    Status bind_and_run(const HostPort& hp);
    void stop() override {
        if (thread_.joinable()) {
            srv_->stop();
            thread_.join();
        }
    }
    uint16_t port() const override { return port_; }

private:
    void install_handlers();
    Reply dispatch(const httplib::Request& req);
    Reply serve(const httplib::Request& req, const Route& route, const std::string& method,
                const TokenInfo& who);
    Reply ack_incident(const std::string& id, const httplib::Request& req, const TokenInfo& who);
    std::optional<Reply> authorize(const httplib::Request& req, Role need, TokenInfo& who);
    static std::optional<Reply> refuse_params(const httplib::Request& req);

    Reply get_status();
    Reply get_sensors();
    Reply get_controls();
    Reply accept_integrity();
    Reply post_drill(const httplib::Request& req, const TokenInfo& who);
    Reply get_drills();
    Reply get_incidents();
    Reply get_incident(const std::string& id);
    Reply get_alerts(const httplib::Request& req);
    Reply get_alert(const std::string& id);
    Reply get_tokens();
    Reply post_token(const httplib::Request& req, const TokenInfo& who);
    Reply delete_token(const std::string& name, const TokenInfo& who);
    Reply get_metrics();
    Reply get_packs();
    Reply post_pack(const httplib::Request& req, const TokenInfo& who);
    Reply activate_pack(const std::string& version, bool rollback);

    ApiContext ctx_;
    TokenStorePtr tokens_;
    std::unique_ptr<httplib::Server> srv_;
    std::thread thread_;
    uint16_t port_ = 0;
};

Status Api::bind_and_run(const HostPort& hp) {
    install_handlers();
    // SO_REUSEADDR only: cpp-httplib's default adds SO_REUSEPORT, which would let a second
    // mgmtd bind the same port silently instead of failing with "address in use".
    srv_->set_socket_options([](int sock) {
        const int yes = 1;
        setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    errno = 0;
    int bound = -1;
    if (hp.port == 0) {
        bound = srv_->bind_to_any_port(hp.host);
    } else if (srv_->bind_to_port(hp.host, hp.port)) {
        bound = hp.port;
    }
    if (bound <= 0) {
        const int e = errno;
        return make_error(ErrorCode::Io, "api.listen: cannot listen on " + ctx_.config->api_listen +
                                             (e != 0 ? std::string(": ") + std::strerror(e)
                                                     : std::string(" (address in use, or not "
                                                                   "an address of this host)")));
    }
    port_ = static_cast<uint16_t>(bound);
    thread_ = std::thread([this] { srv_->listen_after_bind(); });
    // cpp-httplib's stop() does nothing before the serving thread has marked the server
    // running, and the join in stop() would then wait forever: start() returns only after.
    for (int i = 0; i < 5000 && !srv_->is_running(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return Ok{};
}

void Api::install_handlers() {
    auto handler = [this](const httplib::Request& req, httplib::Response& res) {
        Reply r = dispatch(req);
        res.status = r.status;
        if (r.auth_challenge) {
            res.set_header("WWW-Authenticate", "Bearer realm=\"vigil\"");
        }
        if (!r.allow.empty()) {
            res.set_header("Allow", r.allow);
        }
        res.set_content(r.body, r.content_type);
    };
    // Every method reaches one dispatcher, so an unknown path is 404 and a known one with the
    // wrong method 405 (cpp-httplib alone answers 404 to both).
    srv_->Get(".*", handler);
    srv_->Post(".*", handler);
    srv_->Put(".*", handler);
    srv_->Patch(".*", handler);
    srv_->Delete(".*", handler);
    srv_->Options(".*", handler);
    // Errors cpp-httplib answers itself (413 over api.max-body, 400 malformed requests) get
    // the API's JSON error body too.
    srv_->set_error_handler(httplib::Server::HandlerWithResponse(
        [this](const httplib::Request&, httplib::Response& res) {
            if (!res.body.empty()) {
                return httplib::Server::HandlerResponse::Unhandled;
            }
            std::string msg = status_text(res.status);
            if (res.status == 413) {
                msg += " (api.max-body is " + std::to_string(ctx_.config->api_max_body) + " bytes)";
            }
            res.set_content(error_body(msg), "application/json");
            return httplib::Server::HandlerResponse::Handled;
        }));
    // Nothing of an exception reaches the client (cpp-httplib's default puts what() in a
    // header).
    srv_->set_exception_handler(
        [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
            std::string what = "unknown exception";
            try {
                if (ep) {
                    std::rethrow_exception(ep);
                }
            } catch (const std::exception& e) {
                what = e.what();
            } catch (...) {
            }
            std::fprintf(stderr, "vigil-mgmtd: api: %s %s: %s\n", req.method.c_str(),
                         req.path.c_str(), what.c_str());
            res.status = 500;
            res.headers.clear();
            res.set_content(error_body("internal error"), "application/json");
        });
    // Rule packs are the one large body (POST /api/v1/rulepacks, rulepacks.max-upload-mb);
    // dispatch holds every other endpoint to api.max-body.
    srv_->set_payload_max_length(
        std::max(ctx_.config->api_max_body, ctx_.config->rulepacks_max_upload));
    // Headers and body go out in separate writes: without TCP_NODELAY a kept-alive client
    // waits ~40 ms (delayed ACK) for every small response.
    srv_->set_tcp_nodelay(true);
    srv_->set_default_headers(
        {{"Cache-Control", "no-store"}, {"X-Content-Type-Options", "nosniff"}});
    srv_->set_read_timeout(10);
    srv_->set_write_timeout(10);
}

// The query string's parameters; cpp-httplib's req.params also holds a form body's fields and
// drops repeated identical pairs.
std::multimap<std::string, std::string> query_of(const httplib::Request& req) {
    const auto q = req.target.find('?');
    if (q == std::string::npos) {
        return {};
    }
    std::string_view query(req.target);
    query.remove_prefix(q + 1);
    return parse_query_string(query.substr(0, query.find('#')));
}

std::optional<Reply> Api::refuse_params(const httplib::Request& req) {
    const auto params = query_of(req);
    if (!params.empty()) {
        return error_reply(400, "unknown parameter '" + echo(params.begin()->first) +
                                    "' (this endpoint takes none)");
    }
    return std::nullopt;
}

// The refusal (401, 403, 500), or nullopt when the token may do this.
std::optional<Reply> Api::authorize(const httplib::Request& req, Role need, TokenInfo& who) {
    const std::string h = req.get_header_value("Authorization");
    if (h.empty()) {
        return error_reply(401, "missing bearer token (Authorization: Bearer TOKEN)");
    }
    const auto sp = h.find(' ');
    std::string scheme = h.substr(0, sp);
    for (auto& c : scheme) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (scheme != "bearer" || sp == std::string::npos) {
        return error_reply(401, "expected Authorization: Bearer TOKEN");
    }
    std::string_view token(h);
    token.remove_prefix(sp + 1);
    while (!token.empty() && token.front() == ' ') {
        token.remove_prefix(1);
    }
    while (!token.empty() && token.back() == ' ') {
        token.remove_suffix(1);
    }
    auto v = tokens_->verify(token);
    if (!v) {
        return from_error(v.error(), "token store");
    }
    if (!v->has_value()) {
        return error_reply(401, "unknown or revoked token");
    }
    who = **v;
    if (static_cast<int>(who.role) < static_cast<int>(need)) {
        return error_reply(403, std::string("this needs the ") + role_name(need) +
                                    " role; token '" + who.name + "' has " + role_name(who.role));
    }
    return std::nullopt;
}

Reply Api::dispatch(const httplib::Request& req) {
    const auto route = match_route(req.path);
    if (!route) {
        return error_reply(404, "no such endpoint: " + echo(req.path));
    }
    const std::string method = req.method == "HEAD" ? "GET" : req.method;
    const auto rules = methods_of(route->ep);
    const MethodRule* rule = nullptr;
    std::string allowed;
    for (const auto& r : rules) {
        allowed += (allowed.empty() ? "" : ", ") + std::string(r.method);
        if (method == r.method) {
            rule = &r;
        }
    }
    if (rule == nullptr) {
        Reply r = error_reply(405, req.method + " is not allowed here (allowed: " + allowed + ")");
        r.allow = allowed;
        return r;
    }
    const uint64_t max_body = route->ep == Endpoint::RulePacks ? ctx_.config->rulepacks_max_upload
                                                               : ctx_.config->api_max_body;
    if (req.body.size() > max_body) {
        return error_reply(413, std::string(status_text(413)) + " (" +
                                    (route->ep == Endpoint::RulePacks ? "rulepacks.max-upload-mb"
                                                                      : "api.max-body") +
                                    " is " + std::to_string(max_body) + " bytes)");
    }
    TokenInfo who;
    if (auto refused = authorize(req, rule->role, who)) {
        return *refused;
    }
    Reply r = serve(req, *route, method, who);
    // Every action that changes something goes into the audit log, refused ones too.
    if (method != "GET" && !ctx_.config->audit_log.empty()) {
        AuditEntry e;
        e.actor = who.name;
        e.role = role_name(who.role);
        e.action = method + " " + req.path;
        e.target = route->arg;
        e.ok = r.status < 400;
        json detail{{"status", r.status}};
        if (!e.ok) {
            const json body = json::parse(r.body, nullptr, false);
            if (!body.is_discarded() && body.contains("error")) {
                detail["error"] = body["error"];
            }
        }
        e.detail = detail.dump();
        if (auto st = append_audit(ctx_.config->audit_log, e); !st) {
            std::fprintf(stderr, "vigil-mgmtd: %s\n", st.error().message.c_str());
        }
    }
    return r;
}

// ---- GET /api/v1/review: the periodic review report (mgmt/review.h) ----
// Gathers what build_review() needs, builds the report, and records the review in the audit log
// (a GET is not audited otherwise) so that the next review counts the entries since this one.

constexpr size_t kReviewIncidentLimit = 100000;

Reply get_review(const ApiContext& ctx, const httplib::Request& req, const TokenInfo& who) {
    const auto params = query_of(req);
    for (const auto& [k, v] : params) {
        if (k != "days") {
            return error_reply(400, "unknown parameter '" + echo(k) + "' (expected days)");
        }
    }
    uint32_t days = kDefaultReviewDays;
    if (params.count("days") > 1) {
        return error_reply(400, "days: given more than once");
    }
    if (const auto it = params.find("days"); it != params.end()) {
        const auto n = parse_uint<uint32_t>(it->second);
        if (!n || *n < 1 || *n > kMaxReviewDays) {
            return error_reply(400, "days: '" + echo(it->second) +
                                        "': expected a whole number from 1 to " +
                                        std::to_string(kMaxReviewDays));
        }
        days = *n;
    }
    const MgmtConfig& cfg = *ctx.config;
    auto record = [&](bool ok, json detail) {
        if (cfg.audit_log.empty() || req.method == "HEAD") {
            return;
        }
        AuditEntry e;
        e.actor = who.name;
        e.role = role_name(who.role);
        e.action = "review.run";
        e.ok = ok;
        e.detail = detail.dump();
        if (auto st = append_audit(cfg.audit_log, e); !st) {
            std::fprintf(stderr, "vigil-mgmtd: %s\n", st.error().message.c_str());
        }
    };
    ReviewInputs in;
    in.now_us = wall_us();
    in.to_us = in.now_us;
    in.from_us = in.now_us - static_cast<int64_t>(days) * 86'400'000'000;
    in.config = cfg;
    if (ctx.health != nullptr) {
        in.controls = ctx.health->controls();
        auto list = ctx.health->incidents().list(kReviewIncidentLimit);
        if (!list) {
            record(false, json{{"days", days}, {"status", 500}});
            return from_error(list.error(), "incidents");
        }
        in.incidents = std::move(*list);
        if (auto d = ctx.health->incidents().drills(1000); d) {
            for (const auto& body : *d) {
                json j = json::parse(body, nullptr, false);
                if (j.is_object()) {
                    in.drills.push_back(std::move(j));
                }
            }
        }
    }
    if (ctx.packs == nullptr) {
        in.packs_error = "rulepacks.dir is not in use";
    } else if (auto l = ctx.packs->list(); l) {
        in.packs = std::move(*l);
    } else {
        std::fprintf(stderr, "vigil-mgmtd: review: rule packs: %s\n", l.error().message.c_str());
        in.packs_error = "the pack store cannot be read (mgmtd's log says why)";
    }
    if (auto c = verify_audit_log(cfg.audit_log); c) {
        in.audit = *c;
    } else {
        in.audit_error = c.error().message;
    }
    if (auto since = audit_since_last_review(cfg.audit_log); since) {
        in.audit_since = *since;
    }
    in.files = stat_review_files(cfg);
    in.uid = ::geteuid();
    in.versions = running_versions(ctx.version);
    ReviewReport rep = build_review(in);
    record(true, json{{"days", days},
                      {"status", 200},
                      {"needs_attention", rep.json["attention"].size()},
                      {"audit_lines_since_previous_review", in.audit_since.lines_since}});
    return json_reply(json{{"report", std::move(rep.json)}, {"markdown", std::move(rep.markdown)}});
}

// ---- end of GET /api/v1/review ----

Reply Api::serve(const httplib::Request& req, const Route& route_, const std::string& method,
                 const TokenInfo& who) {
    const Route* route = &route_;
    if (ctx_.store == nullptr) {
        return error_reply(500, "store unavailable");
    }
    if ((route->ep == Endpoint::Alerts || route->ep == Endpoint::Alert) &&
        !ctx_.config->classification.allows("api", "alerts")) {
        const auto& cl = ctx_.config->classification;
        return error_reply(403, "alerts are classified " + cl.data.at("alerts") +
                                    "; the API is cleared for " + cl.sinks.at("api") +
                                    " (classification.sinks.api)");
    }
    if (route->ep == Endpoint::Alerts) {
        return get_alerts(req);
    }
    if (route->ep == Endpoint::Review) {
        return get_review(ctx_, req, who);
    }
    // The other endpoints take no query parameters: one given is a mistake, said so.
    if (auto r = refuse_params(req)) {
        return *r;
    }
    switch (route->ep) {
        case Endpoint::Token:
            return delete_token(route->arg, who);
        case Endpoint::Tokens:
            return method == "POST" ? post_token(req, who) : get_tokens();
        case Endpoint::Status:
            return get_status();
        case Endpoint::Sensors:
            return get_sensors();
        case Endpoint::Alert:
            return get_alert(route->arg);
        case Endpoint::Metrics:
            return get_metrics();
        case Endpoint::RulePacks:
            return method == "POST" ? post_pack(req, who) : get_packs();
        case Endpoint::RulePackActivate:
            return activate_pack(route->arg, false);
        case Endpoint::RulePackRollback:
            return activate_pack("", true);
        case Endpoint::Controls:
            return get_controls();
        case Endpoint::Incidents:
            return get_incidents();
        case Endpoint::IncidentOne:
            return get_incident(route->arg);
        case Endpoint::IncidentAck:
            return ack_incident(route->arg, req, who);
        case Endpoint::IntegrityAccept:
            return accept_integrity();
        case Endpoint::Drills:
            return method == "POST" ? post_drill(req, who) : get_drills();
        default:
            break;
    }
    return error_reply(404, "no such endpoint: " + echo(req.path));
}

json ingest_json(const IngestSnapshot& s) {
    return json{{"listen", s.listen},
                {"curve", s.curve},
                {"messages", s.messages},
                {"stored", s.stored},
                {"duplicates", s.duplicates},
                {"heartbeats", s.heartbeats},
                {"gaps", s.gaps},
                {"gap_records", s.gap_records},
                {"commits", s.commits},
                {"commit_errors", s.commit_errors},
                {"rejected", s.rejected},
                {"sessions", s.sessions},
                {"last_commit_ms", s.last_commit_ms}};
}

json age_s(int64_t now, int64_t then_us) {
    if (then_us <= 0) {
        return nullptr;
    }
    return static_cast<double>(std::max<int64_t>(0, now - then_us)) / 1e6;
}

Reply Api::get_status() {
    const int64_t now = wall_us();
    json j;
    j["version"] = ctx_.version;
    j["uptime_s"] = ctx_.started_us > 0 ? static_cast<double>(now - ctx_.started_us) / 1e6 : 0.0;
    // The status page is what an operator reads when something is broken: a failing store is
    // reported in it, not as a failed request.
    if (auto st = ctx_.store->stats(); st) {
        j["store"] = {{"ok", true},
                      {"events", st->events},
                      {"alerts", st->alerts},
                      {"bytes", st->bytes},
                      {"used_bytes", st->used_bytes},
                      {"deleted_by_retention", st->deleted_by_retention},
                      {"oldest", iso_or_null(st->oldest_us)},
                      {"newest", iso_or_null(st->newest_us)}};
    } else {
        (void)from_error(st.error(), "store");
        j["store"] = {{"ok", false}, {"error", "store unavailable"}};
    }
    j["ingest"] = ctx_.ingest ? ingest_json(ctx_.ingest()) : json(nullptr);
    json sensors = json::array();
    if (auto rows = ctx_.store->sensors(); rows) {
        for (const auto& s : *rows) {
            const bool connected =
                s.last_heartbeat_us > 0 && now - s.last_heartbeat_us <= kConnectedWithinUs;
            sensors.push_back({{"sensor_id", s.sensor_id},
                               {"connected", connected},
                               {"heartbeat_age_s", age_s(now, s.last_heartbeat_us)}});
        }
    } else {
        (void)from_error(rows.error(), "store");
    }
    j["sensors_count"] = sensors.size();
    j["sensors"] = std::move(sensors);
    return json_reply(j);
}

Reply Api::get_sensors() {
    auto rows = ctx_.store->sensors();
    if (!rows) {
        return from_error(rows.error(), "store");
    }
    const int64_t now = wall_us();
    std::string out = "[";
    bool first = true;
    for (const auto& s : *rows) {
        json j{{"sensor_id", s.sensor_id},
               {"first_seen", iso_or_null(s.first_seen_us)},
               {"last_heartbeat", iso_or_null(s.last_heartbeat_us)},
               {"heartbeat_age_s", age_s(now, s.last_heartbeat_us)},
               {"connected",
                s.last_heartbeat_us > 0 && now - s.last_heartbeat_us <= kConnectedWithinUs},
               {"version", s.version},
               {"committed_seq", s.committed_seq},
               {"events", s.events},
               {"gap_records", s.gap_records}};
        std::string obj = j.dump(-1, ' ', false, json::error_handler_t::replace);
        obj.pop_back();  // '}': the heartbeat body goes in as the sensor sent it
        obj += ",\"heartbeat\":";
        obj += s.heartbeat.empty() ? "null" : raw_or_string(s.heartbeat);
        obj += '}';
        out += (first ? "" : ",") + obj;
        first = false;
    }
    out += "]\n";
    Reply r;
    r.body = std::move(out);
    return r;
}

namespace {

// "12" -> 12; nothing for 0, a sign, spaces or anything else.
std::optional<uint64_t> incident_id(const std::string& id) {
    uint64_t n = 0;
    const auto r = std::from_chars(id.data(), id.data() + id.size(), n);
    if (id.empty() || r.ec != std::errc{} || r.ptr != id.data() + id.size() || n == 0) {
        return std::nullopt;
    }
    return n;
}

json incident_object(const Incident& i, const ApiContext& ctx) {
    const std::string notified = ctx.deliveries ? ctx.deliveries(i.id) : std::string("[]");
    return json::parse(incident_json(i, notified));
}

}  // namespace

Reply Api::get_controls() {
    json arr = json::array();
    if (ctx_.health != nullptr) {
        for (const auto& c : ctx_.health->controls()) {
            arr.push_back(
                {{"name", c.name},
                 {"sensor", c.sensor},
                 {"owner", c.owner},
                 {"state", c.state},
                 {"detail", c.detail},
                 {"interval_s", c.interval_s},
                 {"enhanced_until", iso_or_null(c.enhanced_until_us)},
                 {"open_incident", c.open_incident == 0 ? json(nullptr) : json(c.open_incident)},
                 {"last_check", iso_or_null(c.last_check_us)},
                 {"pid", c.pid == 0 ? json(nullptr) : json(c.pid)},
                 {"kind", c.kind},
                 {"checks", c.checks},
                 {"failed_checks", c.failed_checks},
                 {"since", iso_or_null(c.since_us)}});
        }
    }
    return json_reply(arr);
}

// The files as they are now become the file-integrity baseline (after a wanted change).
Reply Api::accept_integrity() {
    if (ctx_.health == nullptr) {
        return error_reply(404, "no health controls");
    }
    auto n = ctx_.health->accept_integrity_baseline();
    if (!n) {
        return from_error(n.error(), "file-integrity");
    }
    return json_reply(json{{"accepted_files", *n}});
}

// A contingency drill (Health::drill): runs to its end, then answers with the result.
Reply Api::post_drill(const httplib::Request& req, const TokenInfo& who) {
    if (ctx_.health == nullptr) {
        return error_reply(404, "no health controls");
    }
    DrillOptions o;
    if (!req.body.empty()) {
        const json body = json::parse(req.body, nullptr, false);
        if (body.is_discarded() || !body.is_object()) {
            return error_reply(400, "body: expected a JSON object {\"sensor\": ID}");
        }
        for (const auto& [k, v] : body.items()) {
            if (k != "sensor" || !v.is_string()) {
                return error_reply(400, "body: " + echo(k) + ": expected only sensor (a string)");
            }
        }
        o.sensor = body.value("sensor", "");
    }
    o.by = who.name;
    o.detect_objective_s = ctx_.config->health_drill_detect_objective_s;
    o.restore_objective_s = ctx_.config->health_drill_restore_objective_s;
    auto r = ctx_.health->drill(o);
    if (!r) {
        return from_error(r.error(), "drill");
    }
    return json_reply(json::parse(*r));
}

Reply Api::get_drills() {
    json arr = json::array();
    if (ctx_.health != nullptr) {
        auto d = ctx_.health->incidents().drills(1000);
        if (!d) {
            return from_error(d.error(), "drills");
        }
        for (const auto& body : *d) {
            arr.push_back(json::parse(body, nullptr, false));
        }
    }
    return json_reply(arr);
}

Reply Api::get_incidents() {
    if (ctx_.health == nullptr) {
        return json_reply(json::array());
    }
    auto list = ctx_.health->incidents().list(1000);
    if (!list) {
        return from_error(list.error(), "incidents");
    }
    json arr = json::array();
    for (const auto& i : *list) {
        arr.push_back(incident_object(i, ctx_));
    }
    return json_reply(arr);
}

Reply Api::get_incident(const std::string& id) {
    const auto n = incident_id(id);
    if (!n) {
        return error_reply(400, "incident id: expected a positive whole number, got " + echo(id));
    }
    if (ctx_.health == nullptr) {
        return error_reply(404, "no incident " + id);
    }
    auto inc = ctx_.health->incidents().get(*n);
    if (!inc) {
        return from_error(inc.error(), "incidents");
    }
    if (!*inc) {
        return error_reply(404, "no incident " + id);
    }
    return json_reply(incident_object(**inc, ctx_));
}

Reply Api::ack_incident(const std::string& id, const httplib::Request& req, const TokenInfo& who) {
    const auto n = incident_id(id);
    if (!n) {
        return error_reply(400, "incident id: expected a positive whole number, got " + echo(id));
    }
    if (ctx_.health == nullptr) {
        return error_reply(404, "no incident " + id);
    }
    const json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
        return error_reply(400, "body: expected a JSON object {\"by\": NAME, \"note\": TEXT}");
    }
    for (const auto& [k, v] : body.items()) {
        if (k != "by" && k != "note") {
            return error_reply(400, "body: unknown key " + echo(k) + " (by, note)");
        }
        if (!v.is_string()) {
            return error_reply(400, "body: " + k + ": expected a string");
        }
    }
    const std::string by = body.value("by", "");
    const std::string note = body.value("note", "");
    if (by.empty() || by.size() > 200 || note.size() > 4000) {
        return error_reply(400,
                           "body: by (1-200 characters, the person acknowledging) and note "
                           "(up to 4000) are needed");
    }
    auto acked = ctx_.health->incidents().acknowledge(*n, by, note, who.name, wall_us());
    if (!acked) {
        return from_error(acked.error(), "incidents");
    }
    if (!*acked) {
        return error_reply(404, "no incident " + id);
    }
    return json_reply(incident_object(**acked, ctx_));
}

Reply Api::get_alerts(const httplib::Request& req) {
    auto q = parse_alert_query(query_of(req));
    if (!q) {
        return error_reply(400, q.error().message);
    }
    auto page = ctx_.store->query(*q);
    if (!page) {
        return from_error(page.error(), "store");
    }
    std::string out = "{\"alerts\":[";
    for (size_t i = 0; i < page->items.size(); ++i) {
        if (i > 0) {
            out += ',';
        }
        out += wrap_event(page->items[i], !ctx_.config->classification.allows("api", "payloads"));
    }
    out += "],\"next_cursor\":";
    if (page->more && !page->items.empty()) {
        out += '"' + encode_alert_cursor(q->ascending, page->items.back().id) + '"';
    } else {
        out += "null";
    }
    out += "}\n";
    Reply r;
    r.body = std::move(out);
    return r;
}

Reply Api::get_alert(const std::string& id_text) {
    const auto id = parse_uint<uint64_t>(id_text);
    if (!id || *id == 0 || *id > static_cast<uint64_t>(INT64_MAX)) {
        return error_reply(400, "id: '" + echo(id_text) + "' is not an alert id (a whole number)");
    }
    auto e = ctx_.store->get(static_cast<int64_t>(*id));
    if (!e) {
        return from_error(e.error(), "store");
    }
    if (!e->has_value()) {
        return error_reply(404, "no alert with id " + std::to_string(*id));
    }
    Reply r;
    r.body = wrap_event(**e, !ctx_.config->classification.allows("api", "payloads")) + "\n";
    return r;
}

json token_json(const TokenInfo& t) {
    return json{{"name", t.name},
                {"role", role_name(t.role)},
                {"created", iso_or_null(t.created_us)},
                {"last_used", iso_or_null(t.last_used_us)},
                {"revoked", iso_or_null(t.revoked_us)}};
}

void audit(const TokenInfo& who, const std::string& what, const std::string& result) {
    // TODO(api): into the audit store once there is one (STYLE.md §10); stderr until then.
    std::fprintf(stderr, "vigil-mgmtd: audit: token=%s role=%s action=%s result=%s\n",
                 who.name.c_str(), role_name(who.role), what.c_str(), result.c_str());
}

Reply Api::get_tokens() {
    auto list = tokens_->list();
    if (!list) {
        return from_error(list.error(), "token store");
    }
    json arr = json::array();
    for (const auto& t : *list) {
        arr.push_back(token_json(t));
    }
    return json_reply(arr);
}

Reply Api::post_token(const httplib::Request& req, const TokenInfo& who) {
    const json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
        return error_reply(400, "body: expected a JSON object {\"name\":..., \"role\":...}");
    }
    for (const auto& [k, v] : body.items()) {
        if (k != "name" && k != "role") {
            return error_reply(400, "body: unknown key '" + echo(k) + "' (expected name, role)");
        }
    }
    if (!body.contains("name") || !body["name"].is_string() ||
        !valid_token_name(body["name"].get<std::string>())) {
        return error_reply(400, "name: expected 1-64 characters of [A-Za-z0-9._-]");
    }
    if (!body.contains("role") || !body["role"].is_string() ||
        !parse_role(body["role"].get<std::string>())) {
        return error_reply(400, "role: expected viewer, operator or admin");
    }
    const std::string name = body["name"].get<std::string>();
    const Role role = *parse_role(body["role"].get<std::string>());
    const std::string what = "tokens.add name=" + name + " role=" + role_name(role);
    auto token = tokens_->add(name, role);
    if (!token) {
        if (token.error().code == ErrorCode::BadInput) {
            audit(who, what, "refused (exists)");
            return error_reply(409, token.error().message);
        }
        audit(who, what, "failed");
        return from_error(token.error(), "token store");
    }
    audit(who, what, "ok");
    return json_reply({{"name", name}, {"role", role_name(role)}, {"token", *token}}, 201);
}

Reply Api::delete_token(const std::string& name, const TokenInfo& who) {
    if (!valid_token_name(name)) {
        return error_reply(
            400, "name: '" + echo(name) + "' is not a token name (1-64 of [A-Za-z0-9._-])");
    }
    const std::string what = "tokens.revoke name=" + name;
    auto r = tokens_->revoke(name);
    if (!r) {
        audit(who, what, "failed");
        return from_error(r.error(), "token store");
    }
    if (!*r) {
        audit(who, what, "refused (no such active token)");
        return error_reply(404, "no active token named '" + name + "'");
    }
    audit(who, what, "ok");
    return json_reply({{"name", name}, {"revoked", true}});
}

json pack_json(const StoredPack& p, const std::string& active) {
    return json{{"version", p.version},
                {"name", p.name},
                {"digest", p.digest},
                {"signer", p.signer},
                {"stored_at_us", p.stored_us},
                {"rules_loaded", p.rules_loaded},
                {"rules_rejected", p.rules_rejected},
                {"active", p.version == active}};
}

Reply Api::get_packs() {
    if (ctx_.packs == nullptr) {
        return error_reply(503, "rule packs unavailable (rulepacks.dir)");
    }
    auto l = ctx_.packs->list();
    if (!l) {
        return from_error(l.error(), "rule packs");
    }
    json packs = json::array();
    for (const auto& p : l->packs) {
        packs.push_back(pack_json(p, l->active));
    }
    json refused = json::array();
    for (const auto& e : l->refused) {
        refused.push_back(json{{"at_us", e.at_us},
                               {"version", e.version},
                               {"name", e.name},
                               {"digest", e.digest},
                               {"reason", e.reason}});
    }
    return json_reply(json{
        {"active", l->active}, {"previous", l->previous}, {"packs", packs}, {"refused", refused}});
}

Reply Api::post_pack(const httplib::Request& req, const TokenInfo& who) {
    if (ctx_.packs == nullptr) {
        return error_reply(503, "rule packs unavailable (rulepacks.dir)");
    }
    if (req.body.empty()) {
        return error_reply(400, "the body must be a rule pack (.tar.zst, vigilctl rules pack)");
    }
    auto p = ctx_.packs->add(req.body, "upload by token '" + who.name + "'");
    if (!p) {
        if (p.error().code == ErrorCode::BadInput) {
            return error_reply(422, "pack refused: " + p.error().message);
        }
        return from_error(p.error(), "rule packs");
    }
    std::fprintf(stderr, "vigil-mgmtd: rule pack %s (%s) stored, signed by %s, %llu rules\n",
                 p->version.c_str(), p->name.c_str(), p->signer.c_str(),
                 static_cast<unsigned long long>(p->rules_loaded));
    return json_reply(pack_json(*p, ""), 201);
}

// Points rulepacks/active at the version, then has every connected sensor reload and says
// what each one loaded. The activation stands whatever the sensors answer: a sensor that
// refused keeps its running set, and `rollback` goes back.
Reply Api::activate_pack(const std::string& version, bool rollback) {
    if (ctx_.packs == nullptr) {
        return error_reply(503, "rule packs unavailable (rulepacks.dir)");
    }
    auto a = rollback ? ctx_.packs->rollback() : ctx_.packs->activate(version);
    if (!a) {
        if (a.error().code == ErrorCode::BadInput) {
            return error_reply(409, a.error().message);
        }
        return from_error(a.error(), "rule packs");
    }
    std::fprintf(stderr, "vigil-mgmtd: rule pack %s %s (was %s); ordering the sensors to reload\n",
                 a->version.c_str(), rollback ? "rolled back to" : "activated",
                 a->replaced.empty() ? "none" : a->replaced.c_str());
    std::vector<SensorReload> results;
    if (ctx_.reload_sensors) {
        results = ctx_.reload_sensors(a->version);
    }
    json sensors = json::array();
    bool all_ok = true;
    for (const auto& r : results) {
        json s{{"sensor_id", r.sensor_id}, {"answered", r.answered}};
        std::string error;
        if (!r.answered) {
            error = "no answer within rulepacks.reload-timeout-s";
        } else if (!r.reply.ok) {
            error = "reload refused: " + r.reply.error;
        } else if (r.reply.rules_version != a->version) {
            error = "the sensor loaded " +
                    (r.reply.rules_version.empty() ? std::string("rules that are not a pack")
                                                   : "pack " + r.reply.rules_version) +
                    ", not " + a->version + ": its rules: path is not rulepacks.dir/active";
        }
        s["ok"] = error.empty();
        if (!error.empty()) {
            s["error"] = error;
            all_ok = false;
        }
        if (r.answered) {
            s["rules_version"] = r.reply.rules_version;
            s["ruleset_id"] = r.reply.ruleset_id;
            s["rules_loaded"] = r.reply.rules_loaded;
            s["rules_rejected"] = r.reply.rules_rejected;
            s["seconds"] = r.reply.seconds;
        }
        std::fprintf(stderr, "vigil-mgmtd: sensor %s: %s\n", r.sensor_id.c_str(),
                     error.empty() ? ("pack " + a->version + " in use").c_str() : error.c_str());
        sensors.push_back(std::move(s));
    }
    return json_reply(json{
        {"version", a->version}, {"replaced", a->replaced}, {"ok", all_ok}, {"sensors", sensors}});
}

Reply Api::get_metrics() {
    auto per_sensor = ctx_.store->alerts_per_sensor();
    if (!per_sensor) {
        return from_error(per_sensor.error(), "store");
    }
    auto sensors = ctx_.store->sensors();
    if (!sensors) {
        return from_error(sensors.error(), "store");
    }
    auto stats = ctx_.store->stats();
    if (!stats) {
        return from_error(stats.error(), "store");
    }
    const IngestSnapshot ing = ctx_.ingest ? ctx_.ingest() : IngestSnapshot{};
    const int64_t now = wall_us();

    // Each sensor's last heartbeat, decoded once.
    std::vector<std::pair<std::string, wire::Heartbeat>> beats;
    for (const auto& s : *sensors) {
        if (s.heartbeat.empty()) {
            continue;
        }
        if (auto hb = wire::decode_heartbeat(s.heartbeat); hb) {
            beats.emplace_back(s.sensor_id, std::move(*hb));
        }
    }
    Metrics m;
    m.family("vigil_up", "gauge", "1 while vigil-mgmtd is serving.");
    m.sample_u("vigil_up", nullptr, "", 1);
    m.family("vigil_alerts_stored", "gauge",
             "Alerts in the store now, per sensor (retention removes the oldest).");
    for (const auto& [id, n] : *per_sensor) {
        m.sample_u("vigil_alerts_stored", "sensor", id, n);
    }
    struct SensorCounter {
        const char* name;
        const char* type;
        const char* help;
        uint64_t wire::Heartbeat::*field;
    };
    static constexpr SensorCounter kSensorCounters[] = {
        {"vigil_sensor_rx_packets_total", "counter",
         "Packets the sensor received (its last heartbeat).", &wire::Heartbeat::rx_packets},
        {"vigil_sensor_capture_drops_total", "counter",
         "Packets lost before inspection (its last heartbeat).", &wire::Heartbeat::capture_drops},
        {"vigil_sensor_alerts_total", "counter", "Alerts the sensor raised (its last heartbeat).",
         &wire::Heartbeat::alerts},
        {"vigil_sensor_blocks_active", "gauge",
         "Addresses the sensor holds blocked in nftables (its last heartbeat).",
         &wire::Heartbeat::blocks_active},
        {"vigil_sensor_spool_records", "gauge",
         "Records in the sensor's spool, not yet acknowledged (its last heartbeat).",
         &wire::Heartbeat::spool_records},
        {"vigil_sensor_spool_dropped_total", "counter",
         "Records the sensor's full spool dropped, never delivered (its last heartbeat).",
         &wire::Heartbeat::spool_dropped},
    };
    for (const auto& c : kSensorCounters) {
        m.family(c.name, c.type, c.help);
        for (const auto& [id, hb] : beats) {
            m.sample_u(c.name, "sensor", id, hb.*(c.field));
        }
    }
    m.family("vigil_sensor_last_heartbeat_age_seconds", "gauge",
             "Seconds since the sensor's last heartbeat.");
    for (const auto& s : *sensors) {
        if (s.last_heartbeat_us > 0) {
            m.sample("vigil_sensor_last_heartbeat_age_seconds", "sensor", s.sensor_id,
                     static_cast<double>(std::max<int64_t>(0, now - s.last_heartbeat_us)) / 1e6);
        }
    }
    m.family("vigil_store_bytes", "gauge", "Size of the alert store on disk, in bytes.");
    m.sample_u("vigil_store_bytes", nullptr, "", stats->bytes);
    m.family("vigil_store_events", "gauge", "EVE records in the alert store.");
    m.sample_u("vigil_store_events", nullptr, "", stats->events);
    m.family("vigil_ingest_messages_total", "counter", "Messages received from sensors.");
    m.sample_u("vigil_ingest_messages_total", nullptr, "", ing.messages);
    m.family("vigil_ingest_rejected_total", "counter", "Messages refused, by reason.");
    for (const auto& [reason, n] : ing.rejected) {
        m.sample_u("vigil_ingest_rejected_total", "reason", reason, n);
    }
    m.family("vigil_ingest_duplicates_total", "counter",
             "Records received again after a reconnect (stored once).");
    m.sample_u("vigil_ingest_duplicates_total", nullptr, "", ing.duplicates);
    m.family("vigil_ingest_commit_errors_total", "counter",
             "Batches the store refused (not acknowledged).");
    m.sample_u("vigil_ingest_commit_errors_total", nullptr, "", ing.commit_errors);
    Reply r;
    r.body = m.take();
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return r;
}

bool readable_file(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
           ::access(path.c_str(), R_OK) == 0;
}

}  // namespace

Result<std::unique_ptr<ApiServer>> ApiServer::start(const ApiContext& ctx) {
    if (ctx.config == nullptr) {
        return make_error(ErrorCode::Internal, "api: no configuration");
    }
    const MgmtConfig& cfg = *ctx.config;
    auto hp = parse_host_port(cfg.api_listen);
    if (!hp) {
        return make_error(ErrorCode::BadInput, "api.listen: " + hp.error().message);
    }
    const bool tls = !cfg.api_tls_cert.empty();
    // load_mgmt_config refuses this too; a config built another way must not slip through.
    if (!tls && !host_is_loopback(hp->host)) {
        return make_error(ErrorCode::BadInput,
                          "api.listen: " + cfg.api_listen +
                              " is not a loopback address: the API needs api.tls there");
    }
    auto tokens = TokenStore::open(cfg.api_tokens);
    if (!tokens) {
        return make_error(tokens.error().code, "api.tokens: " + tokens.error().message);
    }
    std::unique_ptr<httplib::Server> srv;
    if (tls) {
        for (const auto& [key, path] : {std::pair{"api.tls.cert", cfg.api_tls_cert},
                                        std::pair{"api.tls.key", cfg.api_tls_key}}) {
            if (!readable_file(path)) {
                return make_error(ErrorCode::BadInput,
                                  std::string(key) + ": " + path + ": cannot read");
            }
        }
        srv =
            std::make_unique<httplib::SSLServer>(cfg.api_tls_cert.c_str(), cfg.api_tls_key.c_str());
        if (!srv->is_valid()) {
            return make_error(ErrorCode::BadInput,
                              "api.tls: cannot load the certificate " + cfg.api_tls_cert +
                                  " with the key " + cfg.api_tls_key +
                                  " (PEM files, and the key must match the certificate)");
        }
    } else {
        srv = std::make_unique<httplib::Server>();
    }
    auto api = std::make_unique<Api>(ctx, std::move(*tokens), std::move(srv));
    if (auto s = api->bind_and_run(*hp); !s) {
        return s.error();
    }
    return std::unique_ptr<ApiServer>(std::move(api));
}

}  // namespace vigil::mgmt
