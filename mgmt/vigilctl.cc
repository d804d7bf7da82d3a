// vigilctl: the operator's command line. Talks to vigil-mgmtd's HTTP API (mgmt/api.h), except
// `tokens ... --config` (the token file itself: how the first token is made), `keys gen` and
// `rules keygen|pack|validate|diff` (local files).

#include <httplib.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/exit_codes.h"
#include "common/heap_hugepages.h"
#include "mgmt/api.h"
#include "mgmt/audit.h"
#include "mgmt/backup.h"
#include "mgmt/config.h"
#include "mgmt/keys.h"
#include "mgmt/review.h"
#include "mgmt/rules_cmd.h"
#include "mgmt/tokens.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace {

using namespace vigil;
using Json = nlohmann::ordered_json;  // keeps the API's (and the EVE records') key order

constexpr uint32_t kPageMax = 1000;  // the API's largest page

constexpr const char* kFooter =
    "Exit codes: 0 success; 1 runtime failure (API unreachable, TLS verification failed, a "
    "server error 5xx, a file that cannot be written); 2 bad input (usage, unknown option, a "
    "request the API refused: 400/401/403/404/405/409/413 - its message is printed).\n"
    "The token comes from --token-file or $VIGIL_TOKEN. Documentation: docs/operator-guide.md "
    "(HTTP API, vigilctl).";

// A failure: message for stderr and exit code.
struct Failure {
    int code = kExitFailure;
    std::string message;
};

int report(const Failure& f) {
    std::fprintf(stderr, "vigilctl: %s\n", f.message.c_str());
    return f.code;
}

std::atomic<bool> g_stop{false};

extern "C" void on_signal(int) {
    g_stop.store(true);
}

// ---- the API client ----

std::string transport_error(httplib::Error e) {
    switch (e) {
        case httplib::Error::Connection:
            return "could not connect (is vigil-mgmtd running, and is this its api.listen?)";
        case httplib::Error::ConnectionTimeout:
            return "connection timed out";
        case httplib::Error::Read:
            return "the connection broke while reading the answer";
        case httplib::Error::Write:
            return "the connection broke while sending the request";
        case httplib::Error::SSLConnection:
            return "TLS handshake failed";
        case httplib::Error::SSLLoadingCerts:
            return "cannot load the CA certificates (--ca-file)";
        case httplib::Error::SSLServerVerification:
            return "the server's certificate did not verify (wrong CA, or not issued for this "
                   "host name; see --ca-file)";
        default:
            return httplib::to_string(e);
    }
}

struct ApiOptions {
    std::string url = "http://127.0.0.1:8440";
    std::string token_file;
    std::string ca_file;
};

class ApiClient {
public:
    static std::optional<Failure> make(const ApiOptions& o, std::unique_ptr<ApiClient>& out) {
        static const std::regex kUrl(
            R"(^(https?)://([^/:\[\]]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?/?$)");
        std::smatch m;
        if (!std::regex_match(o.url, m, kUrl)) {
            return Failure{kExitBadInput,
                           "--api: expected http://HOST[:PORT] or "
                           "https://HOST[:PORT], got '" +
                               o.url + "'"};
        }
        std::string token;
        if (!o.token_file.empty()) {
            std::ifstream in(o.token_file);
            if (!in) {
                return Failure{kExitBadInput, "--token-file: " + o.token_file + ": cannot read"};
            }
            std::getline(in, token);
        } else if (const char* env = std::getenv("VIGIL_TOKEN")) {
            token = env;
        }
        while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) {
            token.pop_back();
        }
        while (!token.empty() && std::isspace(static_cast<unsigned char>(token.front()))) {
            token.erase(0, 1);
        }
        auto c = std::unique_ptr<ApiClient>(
            new ApiClient(o.url.substr(0, o.url.size() - (o.url.back() == '/'))));
        c->token_ = token;
        if (m[1] == "https") {
            c->cli_.enable_server_certificate_verification(true);
            if (!o.ca_file.empty()) {
                if (access(o.ca_file.c_str(), R_OK) != 0) {
                    return Failure{kExitBadInput, "--ca-file: " + o.ca_file + ": cannot read"};
                }
                c->cli_.set_ca_cert_path(o.ca_file);
            }
        }
        c->cli_.set_connection_timeout(5);
        c->cli_.set_read_timeout(60);
        c->cli_.set_write_timeout(30);
        out = std::move(c);
        return std::nullopt;
    }

    // The response body as JSON, or the failure (with the API's own error message).
    // Activation waits for the sensors to compile: longer than other requests.
    void set_read_timeout(int seconds) { cli_.set_read_timeout(seconds); }

    std::optional<Failure> request(const std::string& method, const std::string& path,
                                   const httplib::Params& params, const std::string& body,
                                   Json& out, const char* content_type = "application/json") {
        httplib::Headers h;
        if (!token_.empty()) {
            h.emplace("Authorization", "Bearer " + token_);
        }
        httplib::Result res = [&] {
            if (method == "POST") {
                return cli_.Post(path, h, body, content_type);
            }
            if (method == "DELETE") {
                return cli_.Delete(path, h);
            }
            return cli_.Get(path, params, h);
        }();
        if (!res) {
            return Failure{kExitFailure,
                           "cannot reach the API at " + url_ + ": " + transport_error(res.error())};
        }
        Json j = Json::parse(res->body, nullptr, false);
        if (res->status >= 200 && res->status < 300) {
            if (j.is_discarded()) {
                return Failure{kExitFailure,
                               url_ + path + ": the API sent a body that is not JSON"};
            }
            out = std::move(j);
            return std::nullopt;
        }
        std::string msg = "HTTP " + std::to_string(res->status);
        if (!j.is_discarded() && j.is_object() && j.contains("error") && j["error"].is_string()) {
            msg = j["error"].get<std::string>() + " (" + msg + ")";
        }
        if (res->status == 401 && token_.empty()) {
            msg += "; no token given: use --token-file or set VIGIL_TOKEN";
        }
        return Failure{res->status >= 400 && res->status < 500 ? kExitBadInput : kExitFailure,
                       "API: " + msg};
    }

private:
    explicit ApiClient(const std::string& url) : url_(url), cli_(url) {}
    std::string url_;
    std::string token_;
    httplib::Client cli_;
};

// ---- output helpers ----

std::string str(const Json& j, const char* key) {
    if (!j.is_object() || !j.contains(key)) {
        return "";
    }
    const Json& v = j[key];
    if (v.is_string()) {
        return v.get<std::string>();
    }
    if (v.is_null()) {
        return "";
    }
    return v.dump();
}

// Left-aligned columns, two spaces apart; the last column is not padded.
class Table {
public:
    explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
    void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
    void print(std::FILE* f) const {
        std::vector<size_t> w;
        for (const auto& r : rows_) {
            w.resize(std::max(w.size(), r.size()), 0);
            for (size_t i = 0; i < r.size(); ++i) {
                w[i] = std::max(w[i], r[i].size());
            }
        }
        for (const auto& r : rows_) {
            std::string line;
            for (size_t i = 0; i < r.size(); ++i) {
                line += r[i];
                if (i + 1 < r.size()) {
                    line += std::string(w[i] - r[i].size() + 2, ' ');
                }
            }
            std::fprintf(f, "%s\n", line.c_str());
        }
    }

private:
    std::vector<std::vector<std::string>> rows_;
};

std::string age_text(const Json& v) {
    if (!v.is_number()) {
        return "never";
    }
    const double s = v.get<double>();
    char buf[32];
    if (s < 60) {
        std::snprintf(buf, sizeof(buf), "%.1fs ago", s);
    } else if (s < 3600) {
        std::snprintf(buf, sizeof(buf), "%.0fm%02.0fs ago", std::floor(s / 60), std::fmod(s, 60.0));
    } else {
        std::snprintf(buf, sizeof(buf), "%.1fh ago", s / 3600);
    }
    return buf;
}

std::string bytes_text(uint64_t b) {
    char buf[32];
    if (b >= (1ull << 30)) {
        std::snprintf(buf, sizeof(buf), "%.1f GiB", static_cast<double>(b) / (1ull << 30));
    } else if (b >= (1ull << 20)) {
        std::snprintf(buf, sizeof(buf), "%.1f MiB", static_cast<double>(b) / (1ull << 20));
    } else if (b >= 1024) {
        std::snprintf(buf, sizeof(buf), "%.1f KiB", static_cast<double>(b) / 1024);
    } else {
        std::snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(b));
    }
    return buf;
}

std::string endpoint(const Json& eve, const char* ip, const char* port) {
    std::string a = str(eve, ip);
    const std::string p = str(eve, port);
    if (a.find(':') != std::string::npos) {
        a = "[" + a + "]";
    }
    return p.empty() ? a : a + ":" + p;
}

std::vector<std::string> alert_row(const Json& item) {
    const Json& eve = item.contains("eve") ? item["eve"] : Json();
    const Json alert = eve.is_object() && eve.contains("alert") ? eve["alert"] : Json();
    std::string sig = str(alert, "signature");
    if (sig.size() > 60) {
        sig = sig.substr(0, 57) + "...";
    }
    return {str(eve, "timestamp"),
            str(item, "sensor_id"),
            str(alert, "action"),
            str(alert, "signature_id"),
            sig,
            endpoint(eve, "src_ip", "src_port") + " -> " + endpoint(eve, "dest_ip", "dest_port"),
            str(eve, "proto")};
}

const std::vector<std::string> kAlertHeader = {"TIME",      "SENSOR",     "ACTION", "SID",
                                               "SIGNATURE", "SRC -> DST", "PROTO"};

// ---- commands ----

struct AlertArgs {
    std::string since, until, sensor, src, dst, proto, action, type, order = "desc";
    std::optional<uint32_t> sid;
    uint64_t limit = 100;
    bool limit_given = false;
    bool json = false;
    bool follow = false;
    double interval_s = 1.0;
};

httplib::Params alert_params(const AlertArgs& a) {
    httplib::Params p;
    auto put = [&](const char* k, const std::string& v) {
        if (!v.empty()) {
            p.emplace(k, v);
        }
    };
    put("since", a.since);
    put("until", a.until);
    put("sensor", a.sensor);
    put("src", a.src);
    put("dst", a.dst);
    put("proto", a.proto);
    put("action", a.action);
    put("type", a.type);
    if (a.sid) {
        p.emplace("sid", std::to_string(*a.sid));
    }
    return p;
}

// Up to `want` alerts in `ascending` order, page after page.
std::optional<Failure> fetch_alerts(ApiClient& api, const AlertArgs& a, bool ascending,
                                    uint64_t want, std::vector<Json>& out) {
    std::string cursor;
    while (out.size() < want) {
        httplib::Params p = alert_params(a);
        p.emplace("order", ascending ? "asc" : "desc");
        p.emplace("limit", std::to_string(std::min<uint64_t>(kPageMax, want - out.size())));
        if (!cursor.empty()) {
            p.emplace("cursor", cursor);
        }
        Json page;
        if (auto f = api.request("GET", "/api/v1/alerts", p, "", page)) {
            return f;
        }
        if (!page.is_object() || !page.contains("alerts") || !page["alerts"].is_array()) {
            return Failure{kExitFailure, "the API's alert page has no \"alerts\" array"};
        }
        for (auto& item : page["alerts"]) {
            if (out.size() < want) {
                out.push_back(std::move(item));
            }
        }
        if (!page.contains("next_cursor") || !page["next_cursor"].is_string()) {
            break;
        }
        cursor = page["next_cursor"].get<std::string>();
    }
    return std::nullopt;
}

void print_alert_json(const Json& item) {
    const std::string line = item.contains("eve") ? item["eve"].dump() : "null";
    std::fprintf(stdout, "%s\n", line.c_str());
}

int64_t item_id(const Json& item) {
    return item.contains("id") && item["id"].is_number_integer() ? item["id"].get<int64_t>() : 0;
}

int cmd_alerts(ApiClient& api, const AlertArgs& a) {
    if (!a.follow) {
        std::vector<Json> items;
        if (auto f = fetch_alerts(api, a, a.order == "asc", a.limit, items)) {
            return report(*f);
        }
        if (a.json) {
            // One JSON array of the EVE records as stored, one record per line.
            std::fputs("[", stdout);
            for (size_t i = 0; i < items.size(); ++i) {
                std::fputs(i == 0 ? "\n" : ",\n", stdout);
                std::fputs(items[i].contains("eve") ? items[i]["eve"].dump().c_str() : "null",
                           stdout);
            }
            std::fputs(items.empty() ? "]\n" : "\n]\n", stdout);
            return kExitOk;
        }
        Table t(kAlertHeader);
        for (const auto& item : items) {
            t.add(alert_row(item));
        }
        t.print(stdout);
        return kExitOk;
    }
    // --follow: the newest --limit alerts (if given) oldest first, then every new one as it
    // arrives, polling oldest-first past the newest id seen, until SIGINT/SIGTERM.
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    std::vector<Json> first;
    if (auto f = fetch_alerts(api, a, false, a.limit_given ? a.limit : 1, first)) {
        return report(*f);
    }
    int64_t last = first.empty() ? 0 : item_id(first.front());
    std::reverse(first.begin(), first.end());
    if (!a.json) {
        std::string header;
        for (const auto& h : kAlertHeader) {
            header += (header.empty() ? "" : "  ") + h;
        }
        std::printf("%s\n", header.c_str());
    }
    auto print = [&](const Json& item) {
        if (a.json) {
            print_alert_json(item);
            return;
        }
        std::string line;
        for (const auto& col : alert_row(item)) {
            line += (line.empty() ? "" : "  ") + col;
        }
        std::printf("%s\n", line.c_str());
    };
    if (a.limit_given) {
        for (const auto& item : first) {
            print(item);
        }
    }
    std::fflush(stdout);
    bool warned = false;
    while (!g_stop.load()) {
        httplib::Params p = alert_params(a);
        p.emplace("order", "asc");
        p.emplace("limit", std::to_string(kPageMax));
        if (last > 0) {
            p.emplace("cursor", mgmt::encode_alert_cursor(true, last));
        }
        Json page;
        bool more = false;
        if (auto f = api.request("GET", "/api/v1/alerts", p, "", page)) {
            if (f->code == kExitBadInput) {
                return report(*f);
            }
            // Unreachable or a server error: said once, and polling goes on.
            if (!warned) {
                report(Failure{kExitFailure, f->message + " (still trying)"});
                warned = true;
            }
        } else {
            warned = false;
            if (page.contains("alerts") && page["alerts"].is_array()) {
                for (const auto& item : page["alerts"]) {
                    print(item);
                    last = std::max(last, item_id(item));
                }
            }
            more = page.contains("next_cursor") && page["next_cursor"].is_string();
            std::fflush(stdout);
        }
        if (more) {
            continue;
        }
        const auto until = std::chrono::steady_clock::now() +
                           std::chrono::milliseconds(static_cast<int64_t>(a.interval_s * 1000));
        while (!g_stop.load() && std::chrono::steady_clock::now() < until) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }
    return kExitOk;
}

int cmd_status(ApiClient& api, bool json) {
    Json j;
    if (auto f = api.request("GET", "/api/v1/status", {}, "", j)) {
        return report(*f);
    }
    if (json) {
        std::printf("%s\n", j.dump(2).c_str());
        return kExitOk;
    }
    const double up = j.value("uptime_s", 0.0);
    const auto secs = static_cast<uint64_t>(up);
    std::printf("vigil-mgmtd %s, up %llud %02lluh%02llum%02llus\n", str(j, "version").c_str(),
                static_cast<unsigned long long>(secs / 86400),
                static_cast<unsigned long long>(secs / 3600 % 24),
                static_cast<unsigned long long>(secs / 60 % 60),
                static_cast<unsigned long long>(secs % 60));
    const Json& st = j.contains("store") ? j["store"] : Json();
    if (st.is_object() && st.value("ok", false)) {
        std::printf("store:   %llu records (%llu alerts), %s on disk; oldest %s, newest %s\n",
                    static_cast<unsigned long long>(st.value("events", 0ull)),
                    static_cast<unsigned long long>(st.value("alerts", 0ull)),
                    bytes_text(st.value("bytes", 0ull)).c_str(),
                    st["oldest"].is_string() ? st["oldest"].get<std::string>().c_str() : "-",
                    st["newest"].is_string() ? st["newest"].get<std::string>().c_str() : "-");
    } else {
        std::printf("store:   UNAVAILABLE (see vigil-mgmtd's log)\n");
    }
    const Json& in = j.contains("ingest") ? j["ingest"] : Json();
    if (in.is_object()) {
        uint64_t rejected = 0;
        std::string reasons;
        if (in.contains("rejected") && in["rejected"].is_object()) {
            for (const auto& [reason, n] : in["rejected"].items()) {
                rejected += n.get<uint64_t>();
                reasons += (reasons.empty() ? "" : ", ") + reason + " " + n.dump();
            }
        }
        std::printf(
            "ingest:  %s%s, %llu sensor session(s); %llu messages, %llu stored, %llu "
            "duplicates, %llu rejected%s, %llu commit errors\n",
            str(in, "listen").c_str(), in.value("curve", false) ? " (CURVE)" : "",
            static_cast<unsigned long long>(in.value("sessions", 0ull)),
            static_cast<unsigned long long>(in.value("messages", 0ull)),
            static_cast<unsigned long long>(in.value("stored", 0ull)),
            static_cast<unsigned long long>(in.value("duplicates", 0ull)),
            static_cast<unsigned long long>(rejected),
            reasons.empty() ? "" : (" (" + reasons + ")").c_str(),
            static_cast<unsigned long long>(in.value("commit_errors", 0ull)));
    }
    const Json& sensors = j.contains("sensors") ? j["sensors"] : Json::array();
    std::printf("sensors: %zu\n", sensors.is_array() ? sensors.size() : 0);
    if (sensors.is_array() && !sensors.empty()) {
        Table t({"  SENSOR", "STATE", "LAST HEARTBEAT"});
        for (const auto& s : sensors) {
            t.add({"  " + str(s, "sensor_id"),
                   s.value("connected", false) ? "connected" : "NOT CONNECTED",
                   age_text(s.contains("heartbeat_age_s") ? s["heartbeat_age_s"] : Json())});
        }
        t.print(stdout);
    }
    return kExitOk;
}

int cmd_sensors(ApiClient& api, bool json) {
    Json j;
    if (auto f = api.request("GET", "/api/v1/sensors", {}, "", j)) {
        return report(*f);
    }
    if (json) {
        std::printf("%s\n", j.dump(2).c_str());
        return kExitOk;
    }
    Table t({"SENSOR", "STATE", "LAST HEARTBEAT", "VERSION", "COMMITTED SEQ", "RECORDS",
             "LOST (GAPS)"});
    for (const auto& s : j) {
        t.add({str(s, "sensor_id"), s.value("connected", false) ? "connected" : "NOT CONNECTED",
               age_text(s.contains("heartbeat_age_s") ? s["heartbeat_age_s"] : Json()),
               str(s, "version"), str(s, "committed_seq"), str(s, "events"),
               str(s, "gap_records")});
    }
    t.print(stdout);
    return kExitOk;
}

// ---- controls | incidents | incident show N ----

int cmd_controls(ApiClient& api, bool json) {
    Json j;
    if (auto f = api.request("GET", "/api/v1/controls", {}, "", j)) {
        return report(*f);
    }
    if (json) {
        std::printf("%s\n", j.dump(2).c_str());
        return kExitOk;
    }
    Table t({"CONTROL", "STATE", "OWNER", "EVERY", "INCIDENT", "DETAIL"});
    for (const auto& c : j) {
        const bool enhanced = c.contains("enhanced_until") && !c["enhanced_until"].is_null();
        char every[32];
        std::snprintf(every, sizeof(every), "%gs%s", c.value("interval_s", 0.0),
                      enhanced ? " (enhanced)" : "");
        t.add({str(c, "name"), str(c, "state"), str(c, "owner"), every,
               c["open_incident"].is_null() ? "-" : str(c, "open_incident"), str(c, "detail")});
    }
    t.print(stdout);
    return kExitOk;
}

int cmd_incidents(ApiClient& api, bool json) {
    Json j;
    if (auto f = api.request("GET", "/api/v1/incidents", {}, "", j)) {
        return report(*f);
    }
    if (json) {
        std::printf("%s\n", j.dump(2).c_str());
        return kExitOk;
    }
    Table t({"ID", "CONTROL", "STATE", "DETECTED", "RESTORED", "OWNER", "CAUSE"});
    for (const auto& i : j) {
        t.add({str(i, "id"), str(i, "control"), str(i, "state"), str(i, "detected_at"),
               i["restored_at"].is_null() ? "-" : str(i, "restored_at"), str(i, "owner"),
               str(i, "cause")});
    }
    t.print(stdout);
    return kExitOk;
}

int cmd_incident_ack(ApiClient& api, const std::string& id, const std::string& by,
                     const std::string& note, bool json) {
    Json j;
    const Json body = {{"by", by}, {"note", note}};
    if (auto f = api.request("POST", "/api/v1/incidents/" + id + "/ack", {}, body.dump(), j)) {
        return report(*f);
    }
    if (json) {
        std::printf("%s\n", j.dump(2).c_str());
        return kExitOk;
    }
    std::printf("incident %s acknowledged by %s\n", str(j, "id").c_str(), by.c_str());
    return kExitOk;
}

int cmd_integrity_accept(ApiClient& api, bool json) {
    Json j;
    if (auto f = api.request("POST", "/api/v1/controls/file-integrity/accept", {}, "{}", j)) {
        return report(*f);
    }
    if (json) {
        std::printf("%s\n", j.dump(2).c_str());
        return kExitOk;
    }
    std::printf("file-integrity: the %s file(s) as they are now are the new baseline\n",
                str(j, "accepted_files").c_str());
    return kExitOk;
}

int cmd_drill(ApiClient& api, const std::string& sensor, bool json) {
    Json j;
    const Json body = sensor.empty() ? Json::object() : Json{{"sensor", sensor}};
    std::fprintf(stderr,
                 "vigilctl: drill: mgmtd stops the sensor hard and waits for detection, "
                 "restoration and the delivery of every alert (up to 120 s)...\n");
    if (auto f = api.request("POST", "/api/v1/drills", {}, body.dump(), j)) {
        return report(*f);
    }
    if (json) {
        std::printf("%s\n", j.dump(2).c_str());
    } else {
        auto secs = [&](const char* k) {
            return j.contains(k) && j[k].is_number() ? str(j, k) + " s" : std::string("-");
        };
        std::printf("drill %s on %s: %s\n", str(j, "id").c_str(), str(j, "sensor").c_str(),
                    str(j, "state").c_str());
        std::printf("  stopped:        %s (%s)\n", str(j, "started_at").c_str(),
                    str(j, "method").c_str());
        std::printf("  incident:       %s\n", str(j, "incident").c_str());
        std::printf("  detected after: %s (objective %s s)\n", secs("detected_after_s").c_str(),
                    str(j["objectives"], "detect_s").c_str());
        std::printf("  restored after: %s (objective %s s)\n", secs("restored_after_s").c_str(),
                    str(j["objectives"], "restore_s").c_str());
        std::printf("  alerts:         %s (seq %s at the stop, %s acknowledged after)\n",
                    j.value("no_alert_lost", false) ? "none lost" : "NOT CONFIRMED",
                    str(j, "last_seq_at_stop").c_str(), str(j, "acked_seq_after").c_str());
        std::printf("  result:         %s\n", str(j, "result").c_str());
    }
    return j.value("state", "") == "passed" ? kExitOk : kExitFailure;
}

int cmd_drills(ApiClient& api, bool json) {
    Json j;
    if (auto f = api.request("GET", "/api/v1/drills", {}, "", j)) {
        return report(*f);
    }
    if (json) {
        std::printf("%s\n", j.dump(2).c_str());
        return kExitOk;
    }
    Table t({"ID", "SENSOR", "STARTED", "STATE", "DETECT", "RESTORE", "BY", "RESULT"});
    for (const auto& d : j) {
        t.add({str(d, "id"), str(d, "sensor"), str(d, "started_at"), str(d, "state"),
               d.contains("detected_after_s") ? str(d, "detected_after_s") : "-",
               d.contains("restored_after_s") ? str(d, "restored_after_s") : "-", str(d, "by"),
               str(d, "result")});
    }
    t.print(stdout);
    return kExitOk;
}

int cmd_backup(const std::string& config, const std::string& out) {
    auto cfg = mgmt::load_mgmt_config(config);
    if (!cfg) {
        return report({exit_code_for(cfg.error()), cfg.error().message});
    }
    auto b = mgmt::make_backup(*cfg, out, VIGIL_VERSION, stderr);
    if (!b) {
        return report({exit_code_for(b.error()), "backup: " + b.error().message});
    }
    std::printf("backup %s: %zu entries, %llu bytes (backup.json lists each with its sha256)\n",
                b->dir.c_str(), b->files.size(), static_cast<unsigned long long>(b->bytes));
    return kExitOk;
}

int cmd_restore(const std::string& config, const std::string& dir, bool force) {
    auto cfg = mgmt::load_mgmt_config(config);
    if (!cfg) {
        return report({exit_code_for(cfg.error()), cfg.error().message});
    }
    auto r = mgmt::restore_backup(*cfg, dir, force, stderr);
    if (!r) {
        return report({exit_code_for(r.error()), "restore: " + r.error().message});
    }
    std::printf(
        "restored %s: %zu entries, %llu bytes; start vigil-mgmtd (systemctl start "
        "vigil-mgmtd)\n",
        r->dir.c_str(), r->files.size(), static_cast<unsigned long long>(r->bytes));
    return kExitOk;
}

int cmd_audit_verify(const std::string& config, const std::string& file) {
    std::string path = file;
    if (path.empty()) {
        auto cfg = mgmt::load_mgmt_config(config);
        if (!cfg) {
            return report({exit_code_for(cfg.error()), cfg.error().message});
        }
        path = cfg->audit_log;
    }
    auto c = mgmt::verify_audit_log(path);
    if (!c) {
        return report({exit_code_for(c.error()), c.error().message});
    }
    if (!c->ok) {
        std::printf("audit log %s: BROKEN at line %llu: %s\n", path.c_str(),
                    static_cast<unsigned long long>(c->bad_line), c->reason.c_str());
        return kExitFailure;
    }
    std::printf("audit log %s: %llu entries, the chain is intact\n", path.c_str(),
                static_cast<unsigned long long>(c->lines));
    return kExitOk;
}

int cmd_incident_show(ApiClient& api, const std::string& id, bool json) {
    Json j;
    if (auto f = api.request("GET", "/api/v1/incidents/" + id, {}, "", j)) {
        return report(*f);
    }
    if (json) {
        std::printf("%s\n", j.dump(2).c_str());
        return kExitOk;
    }
    std::printf("incident %s: %s (%s)\n", str(j, "id").c_str(), str(j, "control").c_str(),
                str(j, "state").c_str());
    std::printf("  owner:          %s\n", str(j, "owner").c_str());
    std::printf("  detected at:    %s\n", str(j, "detected_at").c_str());
    std::printf("  cause:          %s\n", str(j, "cause").c_str());
    std::printf("  restored at:    %s\n",
                j["restored_at"].is_null() ? "- (open)" : str(j, "restored_at").c_str());
    std::printf("  restore action:%s\n", j.value("escalated", false) ? " (ESCALATED)" : "");
    std::string actions = str(j, "restore_action");
    size_t pos = 0;
    while (pos < actions.size()) {
        const size_t nl = actions.find('\n', pos);
        std::printf("    %s\n", actions.substr(pos, nl - pos).c_str());
        pos = nl == std::string::npos ? actions.size() : nl + 1;
    }
    std::printf("  during the gap: %s\n", j.value("gap", Json::object()).dump().c_str());
    std::printf("  mitigation:     %s\n", str(j, "mitigation").c_str());
    if (j.contains("acknowledged") && j["acknowledged"].is_object()) {
        const Json& a = j["acknowledged"];
        std::printf("  acknowledged:   by %s at %s (token %s): %s\n", str(a, "by").c_str(),
                    str(a, "at").c_str(), str(a, "token").c_str(), str(a, "note").c_str());
    } else {
        std::printf("  acknowledged:   no\n");
    }
    return kExitOk;
}

// ---- review ----

// Writes DIR/review-DATE.md and DIR/review-DATE.json (DATE: the report's, UTC), or prints the
// report's JSON with --json.
int cmd_review(ApiClient& api, uint32_t days, const std::string& dir, bool json) {
    Json j;
    if (auto f = api.request("GET", "/api/v1/review", {{"days", std::to_string(days)}}, "", j)) {
        return report(*f);
    }
    if (!j.is_object() || !j.contains("report") || !j["report"].is_object() ||
        !j.contains("markdown") || !j["markdown"].is_string()) {
        return report({kExitFailure, "the API's review has no report and markdown"});
    }
    const Json& r = j["report"];
    if (json) {
        std::printf("%s\n", r.dump(2).c_str());
        return kExitOk;
    }
    // The date names the files: only YYYY-MM-DD, whatever the server sent.
    const std::string date = str(r, "date");
    if (!std::regex_match(date, std::regex("[0-9]{4}-[0-9]{2}-[0-9]{2}"))) {
        return report({kExitFailure, "the API's review has no date (YYYY-MM-DD)"});
    }
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
        return report({kExitFailure, "--out " + dir + ": " + ec.message()});
    }
    const std::filesystem::path base = std::filesystem::path(dir) / ("review-" + date);
    for (const auto& [ext, text] : {std::pair{".md", j["markdown"].get<std::string>()},
                                    std::pair{".json", r.dump(2) + "\n"}}) {
        const std::string path = base.string() + ext;
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << text;
        out.close();
        if (!out) {
            return report({kExitFailure, path + ": cannot write"});
        }
        std::printf("%s\n", path.c_str());
    }
    return kExitOk;
}

// ---- rules list | activate | rollback (through the API; pack files: rules_cmd.cc) ----

int cmd_rules_list(ApiClient& api, bool json) {
    Json j;
    if (auto f = api.request("GET", "/api/v1/rulepacks", {}, "", j)) {
        return report(*f);
    }
    if (json) {
        std::printf("%s\n", j.dump(2).c_str());
        return kExitOk;
    }
    Table t({"VERSION", "NAME", "STATE", "RULES", "REJECTED", "SIGNED BY", "DIGEST"});
    for (const auto& p : j.value("packs", Json::array())) {
        const std::string v = str(p, "version");
        t.add({v, str(p, "name"),
               p.value("active", false)  ? "ACTIVE"
               : v == str(j, "previous") ? "previous (rollback)"
                                         : "stored",
               str(p, "rules_loaded"), str(p, "rules_rejected"), str(p, "signer"),
               str(p, "digest").substr(0, 16)});
    }
    t.print(stdout);
    const Json refused = j.value("refused", Json::array());
    if (!refused.empty()) {
        std::printf("\nrefused packs (newest last):\n");
        for (const auto& r : refused) {
            std::printf("  %s %s: %s\n", str(r, "name").c_str(),
                        str(r, "version").empty() ? "(unreadable)" : str(r, "version").c_str(),
                        str(r, "reason").c_str());
        }
    }
    return kExitOk;
}

// The activation's outcome per sensor; 0 when every connected sensor loaded the pack.
int print_activation(const Json& j, bool json) {
    if (json) {
        std::printf("%s\n", j.dump(2).c_str());
    } else {
        const std::string was = str(j, "replaced");
        std::printf("rule pack %s active (was %s)\n", str(j, "version").c_str(),
                    was.empty() ? "none" : was.c_str());
        const Json sensors = j.value("sensors", Json::array());
        if (sensors.empty()) {
            std::printf("  no sensor connected: each loads it at its next start or SIGHUP\n");
        }
        for (const auto& s : sensors) {
            if (s.value("ok", false)) {
                std::printf("  %s: ok, %s rules loaded, %s rejected, in %.1f s\n",
                            str(s, "sensor_id").c_str(), str(s, "rules_loaded").c_str(),
                            str(s, "rules_rejected").c_str(), s.value("seconds", 0.0));
            } else {
                std::printf("  %s: FAILED: %s\n", str(s, "sensor_id").c_str(),
                            str(s, "error").c_str());
            }
        }
    }
    return j.value("ok", false) ? kExitOk : kExitFailure;
}

int cmd_rules_activate(ApiClient& api, const std::string& what, bool json) {
    std::string version = what;
    std::error_code ec;
    if (std::filesystem::is_regular_file(what, ec)) {
        // A pack file: sent to mgmtd (which checks, compiles and stores it) first.
        std::ifstream in(what, std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (!in.good() && !in.eof()) {
            return report(Failure{kExitBadInput, what + ": cannot read"});
        }
        Json stored;
        if (auto f =
                api.request("POST", "/api/v1/rulepacks", {}, bytes, stored, "application/zstd")) {
            return report(*f);
        }
        version = str(stored, "version");
        if (!json) {
            std::printf("rule pack %s (%s) stored: %s rules, signed by %s\n", version.c_str(),
                        str(stored, "name").c_str(), str(stored, "rules_loaded").c_str(),
                        str(stored, "signer").c_str());
        }
    }
    Json j;
    if (auto f = api.request("POST", "/api/v1/rulepacks/" + version + "/activate", {}, "", j)) {
        return report(*f);
    }
    return print_activation(j, json);
}

int cmd_rules_rollback(ApiClient& api, bool json) {
    Json j;
    if (auto f = api.request("POST", "/api/v1/rulepacks/rollback", {}, "", j)) {
        return report(*f);
    }
    return print_activation(j, json);
}

void print_tokens(const Json& arr, bool json) {
    if (json) {
        std::printf("%s\n", arr.dump(2).c_str());
        return;
    }
    Table t({"NAME", "ROLE", "CREATED", "LAST USED", "STATE"});
    for (const auto& tok : arr) {
        const std::string revoked = str(tok, "revoked");
        t.add({str(tok, "name"), str(tok, "role"), str(tok, "created"),
               str(tok, "last_used").empty() ? "never" : str(tok, "last_used"),
               revoked.empty() ? "active" : "revoked " + revoked});
    }
    t.print(stdout);
}

struct TokenArgs {
    std::string name;
    std::string role;
    std::string config;
    bool json = false;
};

std::optional<Failure> open_local_tokens(const std::string& config, mgmt::TokenStorePtr& out) {
    auto cfg = mgmt::load_mgmt_config(config);
    if (!cfg) {
        return Failure{exit_code_for(cfg.error()), cfg.error().message};
    }
    auto ts = mgmt::TokenStore::open(cfg->api_tokens);
    if (!ts) {
        return Failure{exit_code_for(ts.error()), "api.tokens: " + ts.error().message};
    }
    out = std::move(*ts);
    return std::nullopt;
}

// A token made or revoked on the host (--config, not through the API) is an admin action too:
// into the audit log, as the local user.
std::optional<Failure> audit_local(const std::string& config, const std::string& action,
                                   const std::string& target) {
    auto cfg = mgmt::load_mgmt_config(config);
    if (!cfg) {
        return Failure{exit_code_for(cfg.error()), cfg.error().message};
    }
    mgmt::AuditEntry e;
    const char* sudo = std::getenv("SUDO_USER");
    const passwd* pw = ::getpwuid(::getuid());
    e.actor = sudo != nullptr ? sudo : pw != nullptr ? pw->pw_name : std::to_string(::getuid());
    e.role = "local";
    e.action = action;
    e.target = target;
    if (auto st = mgmt::append_audit(cfg->audit_log, e); !st) {
        return Failure{kExitFailure, st.error().message};
    }
    return std::nullopt;
}

int cmd_tokens_add(const ApiOptions& ao, const TokenArgs& a) {
    if (!mgmt::valid_token_name(a.name)) {
        return report({kExitBadInput,
                       "token name '" + a.name + "': expected 1-64 characters of [A-Za-z0-9._-]"});
    }
    const auto role = mgmt::parse_role(a.role);
    if (!role) {
        return report(
            {kExitBadInput, "--role: expected viewer, operator or admin, got '" + a.role + "'"});
    }
    if (!a.config.empty()) {
        mgmt::TokenStorePtr ts;
        if (auto f = open_local_tokens(a.config, ts)) {
            return report(*f);
        }
        auto tok = ts->add(a.name, *role);
        if (!tok) {
            return report({exit_code_for(tok.error()), tok.error().message});
        }
        if (auto f = audit_local(a.config, "local token.add " + a.role, a.name)) {
            return report(*f);
        }
        std::printf("%s\n", tok->c_str());
        return kExitOk;
    }
    std::unique_ptr<ApiClient> api;
    if (auto f = ApiClient::make(ao, api)) {
        return report(*f);
    }
    Json j;
    const Json body = {{"name", a.name}, {"role", a.role}};
    if (auto f = api->request("POST", "/api/v1/tokens", {}, body.dump(), j)) {
        return report(*f);
    }
    std::printf("%s\n", str(j, "token").c_str());
    return kExitOk;
}

int cmd_tokens_list(const ApiOptions& ao, const TokenArgs& a) {
    if (!a.config.empty()) {
        mgmt::TokenStorePtr ts;
        if (auto f = open_local_tokens(a.config, ts)) {
            return report(*f);
        }
        auto list = ts->list();
        if (!list) {
            return report({exit_code_for(list.error()), list.error().message});
        }
        Json arr = Json::array();
        auto iso = [](int64_t us) { return us > 0 ? Json(iso8601_utc(us)) : Json(); };
        for (const auto& t : *list) {
            arr.push_back({{"name", t.name},
                           {"role", mgmt::role_name(t.role)},
                           {"created", iso(t.created_us)},
                           {"last_used", iso(t.last_used_us)},
                           {"revoked", iso(t.revoked_us)}});
        }
        print_tokens(arr, a.json);
        return kExitOk;
    }
    std::unique_ptr<ApiClient> api;
    if (auto f = ApiClient::make(ao, api)) {
        return report(*f);
    }
    Json j;
    if (auto f = api->request("GET", "/api/v1/tokens", {}, "", j)) {
        return report(*f);
    }
    print_tokens(j, a.json);
    return kExitOk;
}

int cmd_tokens_revoke(const ApiOptions& ao, const TokenArgs& a) {
    if (!mgmt::valid_token_name(a.name)) {
        return report({kExitBadInput,
                       "token name '" + a.name + "': expected 1-64 characters of [A-Za-z0-9._-]"});
    }
    if (!a.config.empty()) {
        mgmt::TokenStorePtr ts;
        if (auto f = open_local_tokens(a.config, ts)) {
            return report(*f);
        }
        auto r = ts->revoke(a.name);
        if (!r) {
            return report({exit_code_for(r.error()), r.error().message});
        }
        if (!*r) {
            return report({kExitBadInput, "no active token named '" + a.name + "'"});
        }
        if (auto f = audit_local(a.config, "local token.revoke", a.name)) {
            return report(*f);
        }
    } else {
        std::unique_ptr<ApiClient> api;
        if (auto f = ApiClient::make(ao, api)) {
            return report(*f);
        }
        Json j;
        if (auto f = api->request("DELETE", "/api/v1/tokens/" + a.name, {}, "", j)) {
            return report(*f);
        }
    }
    std::fprintf(stderr, "vigilctl: token '%s' revoked\n", a.name.c_str());
    return kExitOk;
}

int cmd_keys_gen(const std::string& name, const std::string& dir, bool force) {
    auto r = mgmt::generate_key_files(dir, name, force);
    if (!r) {
        return report({exit_code_for(r.error()), r.error().message});
    }
    std::printf("secret key: %s (mode 0600; keep it on this host)\npublic key: %s (%s)\n",
                r->secret_path.c_str(), r->public_path.c_str(), r->public_z85.c_str());
    return kExitOk;
}

template <typename F>
int with_api(const ApiOptions& ao, F&& f) {
    std::unique_ptr<ApiClient> api;
    if (auto fail = ApiClient::make(ao, api)) {
        return report(*fail);
    }
    return f(*api);
}

}  // namespace

int main(int argc, char** argv) {
    vigil::reexec_with_heap_hugepages(argv);  // before any allocation that matters
    CLI::App app{
        "vigilctl: the Vigil operator's command line. Talks to vigil-mgmtd's HTTP API "
        "with a bearer token; `tokens ... --config`, `keys gen`, `rules ...`, `audit verify`, "
        "`backup` and `restore` work on local files.",
        "vigilctl"};
    app.fallthrough();  // the global options may also follow the command
    app.require_subcommand(1);
    app.footer(kFooter);
    app.set_version_flag("--version", std::string("vigilctl ") + VIGIL_VERSION);
    ApiOptions ao;
    app.add_option("--api", ao.url, "vigil-mgmtd's API: http://HOST:PORT or https://HOST:PORT")
        ->default_str(ao.url);
    app.add_option("--token-file", ao.token_file,
                   "file holding the API token (first line); default: $VIGIL_TOKEN");
    app.add_option("--ca-file", ao.ca_file,
                   "https: PEM file of the CA(s) that signed the API's certificate (default: the "
                   "system's CAs); the certificate and its host name are always verified");

    bool json = false;
    auto* status = app.add_subcommand("status",
                                      "mgmtd's version, uptime, store, ingest and "
                                      "each sensor's state");
    status->add_flag("--json", json, "print the API's JSON object");

    auto* sensors = app.add_subcommand("sensors", "the sensors known to mgmtd (table)");
    sensors->add_flag("--json", json, "print one JSON array");

    auto* controls = app.add_subcommand(
        "controls", "the health controls mgmtd runs: state, owner, check interval, open incident");
    controls->add_flag("--json", json, "print one JSON array");
    auto* drill = app.add_subcommand(
        "drill",
        "test the contingency plan: mgmtd stops the sensor hard (SIGKILL), measures the time to "
        "detection and to restoration against health.drill objectives, checks that no alert "
        "was lost, and records the result for the review (admin; exit 0 passed, 1 failed)");
    std::string drill_sensor;
    drill->add_option("--sensor", drill_sensor, "the sensor (needed when mgmtd has several)");
    drill->add_flag("--json", json, "print the API's JSON object");
    auto* drills = app.add_subcommand("drills", "the drills run so far, newest first (table)");
    drills->add_flag("--json", json, "print one JSON array");
    auto* incidents =
        app.add_subcommand("incidents", "the incidents of failed controls, newest first (table)");
    incidents->add_flag("--json", json, "print one JSON array");
    auto* incident = app.add_subcommand("incident", "one incident");
    incident->require_subcommand(1);
    std::string incident_id;
    auto* ishow = incident->add_subcommand(
        "show", "an incident in full: cause, each restore action, the gap, the mitigation");
    ishow->add_option("N", incident_id, "the incident's id")->required();
    ishow->add_flag("--json", json, "print the API's JSON object");
    std::string ack_by;
    std::string ack_note;
    auto* iack = incident->add_subcommand(
        "ack",
        "acknowledge an incident: who looked at it and what they found (operator role; "
        "recorded in the incident and the audit log)");
    iack->add_option("N", incident_id, "the incident's id")->required();
    iack->add_option("--by", ack_by, "the person acknowledging")->required();
    iack->add_option("--note", ack_note, "what was found or done");
    iack->add_flag("--json", json, "print the API's JSON object");
    auto* integrity = app.add_subcommand("integrity", "the file-integrity control's baseline");
    integrity->require_subcommand(1);
    auto* iaccept = integrity->add_subcommand(
        "accept",
        "take the watched files as they are now as the new sha256 baseline, after a wanted "
        "change (an upgrade, an edited config); closes a file-integrity incident at the next "
        "check (admin; recorded in the audit log)");
    iaccept->add_flag("--json", json, "print the API's JSON object");
    auto* audit = app.add_subcommand("audit", "the audit log of operator and admin actions");
    audit->require_subcommand(1);
    std::string audit_config = "/etc/vigil/mgmtd.yaml";
    std::string audit_file;
    auto* averify = audit->add_subcommand(
        "verify",
        "walk the log's hash chain on this host: exit 0 when intact; 1 at the first line "
        "that does not chain (changed, inserted or removed) or when the log cannot be read");
    averify->add_option("--config", audit_config, "mgmtd.yaml, for audit.path")
        ->capture_default_str();
    averify->add_option("--file", audit_file, "the log itself (instead of --config)");

    std::string backup_config = "/etc/vigil/mgmtd.yaml";
    std::string backup_out;
    auto* backup = app.add_subcommand(
        "backup",
        "copy mgmtd's state on this host to a new folder, while mgmtd runs: the store, tokens, "
        "incidents and notification outbox (SQLite online backups: each one consistent "
        "snapshot), the audit log, the integrity baseline, every stored rule pack with the "
        "active link, and mgmtd.yaml; DIR/backup.json lists each file with its sha256. "
        "Recorded in the audit log. /etc/vigil's keys and certificates are not included");
    backup->add_option("--config", backup_config, "mgmtd.yaml: where the state is")
        ->capture_default_str();
    backup->add_option("--out", backup_out, "the backup folder (new, or empty)")->required();
    std::string restore_dir;
    bool restore_force = false;
    auto* restore = app.add_subcommand(
        "restore",
        "put a backup back at the paths --config names: every file is checked against "
        "backup.json first (a damaged backup restores nothing); refused while vigil-mgmtd runs "
        "on the store (stop it first) and when files exist (--force replaces them). The "
        "backup's mgmtd.yaml is not written. Exit 0 restored, 1 mgmtd running or I/O error, 2 "
        "bad backup or files in the way");
    restore->add_option("DIR", restore_dir, "a folder `vigilctl backup` wrote")->required();
    restore->add_option("--config", backup_config, "mgmtd.yaml: where the state goes")
        ->capture_default_str();
    restore->add_flag("--force", restore_force, "replace the store, packs, ... that exist");

    uint32_t review_days = mgmt::kDefaultReviewDays;
    std::string review_dir = ".";
    auto* review = app.add_subcommand(
        "review",
        "the periodic review report (operator role): each control's availability and "
        "incidents, the incidents no one has acknowledged, mgmtd's configuration against the "
        "hardening baseline, the versions of Vigil, DPDK, Hyperscan and the kernel with their "
        "support status, the rule pack's age, the audit log, the owners. Writes "
        "DIR/review-YYYY-MM-DD.md and .json (the date of the report, UTC; files of the same day "
        "are replaced) and prints their paths. mgmtd records the review in its audit log");
    review
        ->add_option("--days", review_days,
                     "the period: the last N days (1-" + std::to_string(mgmt::kMaxReviewDays) + ")")
        ->check(CLI::Range(uint32_t{1}, mgmt::kMaxReviewDays))
        ->capture_default_str();
    review->add_option("--out", review_dir, "the folder for the two files (made when missing)")
        ->capture_default_str();
    review->add_flag("--json", json, "print the report's JSON object instead of writing files");

    AlertArgs aa;
    auto* alerts = app.add_subcommand(
        "alerts", "stored alerts, newest first (table; --json for the EVE records)");
    alerts->add_option("--since", aa.since,
                       "only records at or after this time: ISO 8601 with a zone "
                       "(2024-01-01T00:00:00Z, EVE's ...+0000), a date (UTC) or epoch seconds");
    alerts->add_option("--until", aa.until, "only records at or before this time (as --since)");
    alerts->add_option("--sensor", aa.sensor, "only this sensor id");
    alerts->add_option("--sid", aa.sid, "only this rule (signature id)");
    alerts->add_option("--src", aa.src, "only this source address (IPv4 or IPv6)");
    alerts->add_option("--dst", aa.dst, "only this destination address (IPv4 or IPv6)");
    alerts->add_option("--proto", aa.proto, "only this protocol (TCP, UDP, ICMP, ...)");
    alerts->add_option("--action", aa.action, "only allowed or blocked")
        ->check(CLI::IsMember({"allowed", "blocked"}));
    alerts->add_option("--type", aa.type,
                       "EVE event type (default alert; drop, anomaly, stats, ...)");
    auto* limit_opt =
        alerts
            ->add_option("--limit", aa.limit,
                         "how many records in all (default 100; fetched in pages of up to "
                         "1000); with --follow: print the newest N first")
            ->check(CLI::Range(uint64_t{1}, uint64_t{100000000}));
    alerts->add_option("--order", aa.order, "desc (newest first, default) or asc")
        ->check(CLI::IsMember({"asc", "desc"}));
    alerts->add_flag("--json", aa.json,
                     "print one JSON array of the EVE records as stored (with --follow: one "
                     "record per line)");
    alerts->add_flag("--follow", aa.follow,
                     "keep polling and print new records as they arrive, until Ctrl-C");
    alerts->add_option("--interval", aa.interval_s, "--follow: seconds between polls (default 1)")
        ->check(CLI::Range(0.05, 3600.0));

    TokenArgs ta;
    auto* tokens = app.add_subcommand("tokens", "API tokens (admin)");
    tokens->require_subcommand(1);
    const std::string config_help =
        "work on the token file of this mgmtd.yaml (api.tokens) directly, without the API: how "
        "the first token is made";
    auto* tadd = tokens->add_subcommand(
        "add", "make a token NAME with a role; prints only the token (shown once) on stdout");
    tadd->add_option("NAME", ta.name, "token name: 1-64 of [A-Za-z0-9._-]")->required();
    tadd->add_option("--role", ta.role, "viewer (read), operator or admin (tokens)")->required();
    tadd->add_option("--config", ta.config, config_help);
    auto* tlist = tokens->add_subcommand("list", "the tokens (never their secrets)");
    tlist->add_flag("--json", ta.json, "print one JSON array");
    tlist->add_option("--config", ta.config, config_help);
    auto* trevoke = tokens->add_subcommand("revoke", "revoke token NAME (at once)");
    trevoke->add_option("NAME", ta.name, "token name")->required();
    trevoke->add_option("--config", ta.config, config_help);

    std::string key_name, key_dir;
    bool key_force = false;
    auto* keys = app.add_subcommand("keys", "CURVE keys for the sensor-mgmtd transport");
    keys->require_subcommand(1);
    auto* kgen = keys->add_subcommand(
        "gen", "write DIR/NAME.key (secret, mode 0600) and DIR/NAME.pub (public)");
    kgen->add_option("NAME", key_name, "key name (a sensor id, or mgmtd)")->required();
    kgen->add_option("--out-dir", key_dir, "folder for the two files (created if missing)")
        ->required();
    kgen->add_flag("--force", key_force, "replace existing files");

    const mgmt::RulesCommand rules_cmd(app, VIGIL_VERSION);
    // The pack store's commands, through the API (admin for activate and rollback).
    CLI::App* rules_app = app.get_subcommand("rules");
    auto* rlist = rules_app->add_subcommand(
        "list", "the packs vigil-mgmtd holds (active, previous, stored) and the refused ones");
    rlist->add_flag("--json", json, "print the API's JSON object");
    std::string activate_what;
    auto* ractivate = rules_app->add_subcommand(
        "activate",
        "activate a stored pack VERSION, or send a PACK file (.tar.zst) to vigil-mgmtd, which "
        "checks its signature and compiles it before storing it, then activate it; every "
        "connected sensor reloads. Exit 0 when all loaded it, 1 when one did not");
    ractivate->add_option("VERSION|PACK", activate_what, "a stored version or a pack file")
        ->required();
    ractivate->add_flag("--json", json, "print the API's JSON object");
    auto* rrollback = rules_app->add_subcommand(
        "rollback", "activate the pack that was active before the current one; sensors reload");
    rrollback->add_flag("--json", json, "print the API's JSON object");

    for (auto* sub : {status,  sensors, controls, incidents, ishow,  iack,      iaccept,
                      averify, review,  drill,    drills,    alerts, tokens,    tadd,
                      tlist,   trevoke, keys,     kgen,      rlist,  ractivate, rrollback}) {
        sub->footer(kFooter);
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);
        return rc == 0 ? kExitOk : kExitBadInput;
    }
    aa.limit_given = limit_opt->count() > 0;

    if (*status) {
        return with_api(ao, [&](ApiClient& api) { return cmd_status(api, json); });
    }
    if (*sensors) {
        return with_api(ao, [&](ApiClient& api) { return cmd_sensors(api, json); });
    }
    if (*alerts) {
        return with_api(ao, [&](ApiClient& api) { return cmd_alerts(api, aa); });
    }
    if (*controls) {
        return with_api(ao, [&](ApiClient& api) { return cmd_controls(api, json); });
    }
    if (*incidents) {
        return with_api(ao, [&](ApiClient& api) { return cmd_incidents(api, json); });
    }
    if (*iack) {
        return with_api(ao, [&](ApiClient& api) {
            return cmd_incident_ack(api, incident_id, ack_by, ack_note, json);
        });
    }
    if (*drill) {
        return with_api(ao, [&](ApiClient& api) {
            api.set_read_timeout(300);
            return cmd_drill(api, drill_sensor, json);
        });
    }
    if (*drills) {
        return with_api(ao, [&](ApiClient& api) { return cmd_drills(api, json); });
    }
    if (*iaccept) {
        return with_api(ao, [&](ApiClient& api) { return cmd_integrity_accept(api, json); });
    }
    if (*backup) {
        return cmd_backup(backup_config, backup_out);
    }
    if (*restore) {
        return cmd_restore(backup_config, restore_dir, restore_force);
    }
    if (*averify) {
        return cmd_audit_verify(audit_config, audit_file);
    }
    if (*review) {
        return with_api(
            ao, [&](ApiClient& api) { return cmd_review(api, review_days, review_dir, json); });
    }
    if (*ishow) {
        return with_api(ao,
                        [&](ApiClient& api) { return cmd_incident_show(api, incident_id, json); });
    }
    if (*tadd) {
        return cmd_tokens_add(ao, ta);
    }
    if (*tlist) {
        return cmd_tokens_list(ao, ta);
    }
    if (*trevoke) {
        return cmd_tokens_revoke(ao, ta);
    }
    if (*kgen) {
        return cmd_keys_gen(key_name, key_dir, key_force);
    }
    if (rules_cmd.selected()) {
        return rules_cmd.run();
    }
    if (*rlist) {
        return with_api(ao, [&](ApiClient& api) { return cmd_rules_list(api, json); });
    }
    if (*ractivate || *rrollback) {
        return with_api(ao, [&](ApiClient& api) {
            api.set_read_timeout(3600);
            return *ractivate ? cmd_rules_activate(api, activate_what, json)
                              : cmd_rules_rollback(api, json);
        });
    }
    return kExitBadInput;
}
