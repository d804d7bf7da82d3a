#include "mgmt/review.h"

#include <hs/hs.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <utility>

#include "common/clock.h"
#include "common/endpoint.h"
#include "mgmt/api.h"  // parse_api_time: a pack's `created`

#ifndef VIGIL_DPDK_VERSION
#define VIGIL_DPDK_VERSION "unknown"
#endif

namespace vigil::mgmt {

namespace {

using nlohmann::json;

constexpr int64_t kUsPerDay = 86'400'000'000;

// ---- text ----

// "2026-01-15": the day of `us`, UTC.
std::string date_utc(int64_t us) {
    return iso8601_utc(us).substr(0, 10);
}

json iso_or_null(int64_t us) {
    return us > 0 ? json(iso8601_utc(us)) : json(nullptr);
}

std::string mode_text(uint32_t mode) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "%04o", mode & 07777);
    return buf;
}

std::string duration_text(int64_t us) {
    int64_t s = us / 1'000'000;
    if (s < 60) {
        char buf[32];
        std::snprintf(buf, sizeof(buf), "%.1f s", static_cast<double>(us) / 1e6);
        return buf;
    }
    const int64_t d = s / 86400;
    s %= 86400;
    const int64_t h = s / 3600;
    s %= 3600;
    const int64_t m = s / 60;
    s %= 60;
    std::string out;
    for (const auto& [n, unit] :
         {std::pair{d, " d"}, std::pair{h, " h"}, std::pair{m, " min"}, std::pair{s, " s"}}) {
        if (n > 0) {
            out += (out.empty() ? "" : " ") + std::to_string(n) + unit;
        }
    }
    return out;
}

// Four decimals; a control that was down at all never shows as 100 %.
std::string percent_text(double fraction, bool was_down) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.4f %%", fraction * 100.0);
    if (was_down && std::strcmp(buf, "100.0000 %") == 0) {
        return "> 99.9999 %";
    }
    return buf;
}

// Text for a Markdown table cell: one line, no column break, no HTML.
std::string md(const std::string& s) {
    std::string out;
    out.reserve(s.size());
    for (const char c : s) {
        if (c == '\n' || c == '\r') {
            out += ' ';
        } else if (c == '|' || c == '\\' || c == '<' || c == '>') {
            out += '\\';
            out += c;
        } else {
            out += c;
        }
    }
    return out;
}

using Row = std::vector<std::string>;

std::string md_line(const Row& cells) {
    std::string out = "|";
    for (const auto& c : cells) {
        out += " " + md(c) + " |";
    }
    return out + "\n";
}

// A Markdown table of `items`, a row each (`row`), or the line `none` when there are none.
template <typename F>
std::string md_table(const nlohmann::json& items, const Row& header, F&& row, const char* none) {
    if (items.empty()) {
        return std::string(none) + "\n";
    }
    std::string out = md_line(header) + "|";
    for (size_t i = 0; i < header.size(); ++i) {
        out += "---|";
    }
    out += "\n";
    for (const auto& item : items) {
        out += md_line(row(item));
    }
    return out;
}

std::string str_or(const json& j, const char* key, const char* none = "-") {
    if (!j.contains(key) || j[key].is_null()) {
        return none;
    }
    return j[key].is_string() ? j[key].get<std::string>() : j[key].dump();
}

// ---- support status ----

enum class SupportKind {
    Dated,       // supported until the end of the month `ends`
    NoUpstream,  // no longer developed upstream: no fixes whatever the date
    Current,     // Vigil itself
};

// The components Vigil depends on and when their support ends. A version not listed here is
// reported as "unknown": the table is updated with each release.
struct SupportEntry {
    const char* component;  // vigil | dpdk | hyperscan | kernel
    const char* series;     // a version prefix: "22.11" matches 22.11.4; "" matches any
    const char* label;
    const char* ends;  // "YYYY-MM": support ends with this month (Dated)
    SupportKind kind;
    const char* note;
};

constexpr SupportEntry kSupport[] = {
    {"vigil", "", "Vigil", "", SupportKind::Current, "the release in use"},
    {"dpdk", "22.11", "DPDK 22.11 LTS", "2025-12", SupportKind::Dated,
     "LTS series; after its end no more stable releases (security fixes): move to a newer LTS "
     "(24.11)"},
    {"hyperscan", "5.4", "Hyperscan 5.4", "", SupportKind::NoUpstream,
     "Intel's open-source Hyperscan is no longer developed after 5.4: no upstream fixes. "
     "Vectorscan (a maintained fork with the same API) is the replacement"},
    {"kernel", "6.1", "Linux 6.1 LTS (Debian 12)", "2027-12", SupportKind::Dated,
     "upstream longterm kernel of Debian 12"},
};

// "22.11" matches "22.11", "22.11.4" and "22.11.0-rc1", not "22.110".
bool in_series(const std::string& version, const std::string& series) {
    if (series.empty()) {
        return true;
    }
    if (version.compare(0, series.size(), series) != 0) {
        return false;
    }
    return version.size() == series.size() ||
           !(version[series.size()] >= '0' && version[series.size()] <= '9');
}

// The first instant after the month "YYYY-MM" (UTC).
int64_t month_end_us(const char* yyyy_mm) {
    int y = 0, m = 0;
    if (std::sscanf(yyyy_mm, "%d-%d", &y, &m) != 2) {
        return 0;
    }
    tm t{};
    t.tm_year = (m == 12 ? y + 1 : y) - 1900;
    t.tm_mon = m == 12 ? 0 : m;
    t.tm_mday = 1;
    return static_cast<int64_t>(timegm(&t)) * 1'000'000;
}

json support_of(const char* component, const char* name, const std::string& version,
                int64_t now_us) {
    json j{{"component", name},
           {"version", version},
           {"supported_until", nullptr},
           {"days_left", nullptr}};
    // hs_version(): "5.4.0 2023-01-01"; the version is the first word.
    const std::string v = version.substr(0, version.find(' '));
    for (const auto& e : kSupport) {
        if (std::strcmp(e.component, component) != 0 || !in_series(v, e.series)) {
            continue;
        }
        j["series"] = e.label;
        j["note"] = e.note;
        switch (e.kind) {
            case SupportKind::Current:
                j["status"] = "current";
                return j;
            case SupportKind::NoUpstream:
                j["status"] = "no-upstream-fixes";
                return j;
            case SupportKind::Dated: {
                const int64_t end = month_end_us(e.ends);
                j["supported_until"] = date_utc(end - 1);
                j["days_left"] = (end - now_us) / kUsPerDay;
                j["status"] = now_us < end ? "supported" : "out-of-support";
                return j;
            }
        }
    }
    j["series"] = nullptr;
    j["status"] = "unknown";
    j["note"] = "not in Vigil's support table: check this version's support with its vendor";
    return j;
}

// ---- hardening baseline ----

struct CheckResult {
    std::string status;  // pass | warn | fail
    std::string reason;
};

CheckResult pass(std::string r) {
    return {"pass", std::move(r)};
}
CheckResult warn(std::string r) {
    return {"warn", std::move(r)};
}
CheckResult fail(std::string r) {
    return {"fail", std::move(r)};
}

const FileFacts* facts_of(const ReviewInputs& in, const std::string& path) {
    const auto it = in.files.find(path);
    return it == in.files.end() ? nullptr : &it->second;
}

// A secret file: present, no permission for group or others, owned by mgmtd's user when
// `owner` is set.
CheckResult private_file(const ReviewInputs& in, const std::string& path, bool owner) {
    const FileFacts* f = facts_of(in, path);
    if (f == nullptr) {
        return warn(path + ": not examined");
    }
    if (!f->error.empty()) {
        return fail(path + ": " + f->error);
    }
    if (!f->exists) {
        return fail(path + ": does not exist");
    }
    if ((f->mode & 077) != 0) {
        return fail(path + " is mode " + mode_text(f->mode) +
                    ": group or others have access (want 0600)");
    }
    if (owner && f->uid != in.uid) {
        return fail(path + " is owned by uid " + std::to_string(f->uid) + ", mgmtd runs as uid " +
                    std::to_string(in.uid));
    }
    return pass(path + ": mode " + mode_text(f->mode) +
                (owner ? ", owned by mgmtd's user (uid " + std::to_string(in.uid) + ")" : ""));
}

CheckResult check_api(const ReviewInputs& in) {
    const MgmtConfig& c = in.config;
    if (!c.api_tls_cert.empty()) {
        return pass("api.listen " + c.api_listen + " with TLS (" + c.api_tls_cert + ")");
    }
    auto hp = parse_host_port(c.api_listen);
    if (hp && host_is_loopback(hp->host)) {
        return pass("api.listen " + c.api_listen + " is loopback (plain HTTP stays on the host)");
    }
    return fail("api.listen " + c.api_listen + " is not loopback and api.tls is not set");
}

CheckResult check_tokens(const ReviewInputs& in) {
    return private_file(in, in.config.api_tokens, true);
}

CheckResult check_store(const ReviewInputs& in) {
    const std::string& p = in.config.store_path;
    const FileFacts* f = facts_of(in, p);
    if (f == nullptr || !f->exists) {
        return warn(p + ": " + (f == nullptr ? "not examined" : "does not exist"));
    }
    std::string readable;
    for (const std::string& path : {p, p + "-wal", p + "-shm"}) {
        const FileFacts* g = facts_of(in, path);
        if (g != nullptr && g->exists && (g->mode & 04) != 0) {
            readable += (readable.empty() ? "" : ", ") + path + " (" + mode_text(g->mode) + ")";
        }
    }
    if (!readable.empty()) {
        return fail("world-readable: " + readable + ": every local user can read the alerts");
    }
    return pass(p + ": mode " + mode_text(f->mode) + ", not world-readable");
}

CheckResult check_webhook_secret(const ReviewInputs& in) {
    if (in.config.notify_webhook_url.empty()) {
        return pass("no webhook configured (nothing to check)");
    }
    return private_file(in, in.config.notify_webhook_secret_file, false);
}

CheckResult check_notifications(const ReviewInputs& in) {
    const MgmtConfig& c = in.config;
    if (c.notify_webhook_url.empty() && c.notify_syslog_address.empty()) {
        return warn("no notify: webhook or syslog: the customer is not told of incidents");
    }
    std::string what;
    if (!c.notify_webhook_url.empty()) {
        what = "webhook " + c.notify_webhook_url;
    }
    if (!c.notify_syslog_address.empty()) {
        what += (what.empty() ? "" : ", ") + std::string("syslog ") + c.notify_syslog_address;
    }
    return pass(what);
}

CheckResult check_curve(const ReviewInputs& in) {
    const MgmtConfig& c = in.config;
    if (endpoint_is_local(c.listen)) {
        return pass("listen " + c.listen + " stays on this host");
    }
    if (!c.curve_secret_key_file.empty() && !c.curve_sensor_keys_dir.empty()) {
        return pass("listen " + c.listen + " with CURVE (sensor keys in " +
                    c.curve_sensor_keys_dir + ")");
    }
    return fail("listen " + c.listen + " is reachable off this host without CURVE");
}

CheckResult check_pack_keys(const ReviewInputs& in) {
    const std::string& k = in.config.rulepacks_trusted_keys;
    if (k.empty()) {
        return fail(
            "rulepacks.trusted-keys is not set: every pack is refused, the rules cannot "
            "be updated through mgmtd");
    }
    const FileFacts* f = facts_of(in, k);
    if (f != nullptr && !f->exists) {
        return fail("rulepacks.trusted-keys " + k + " does not exist");
    }
    return pass("packs must be signed by a key in " + k);
}

CheckResult check_sensors(const ReviewInputs& in) {
    if (in.config.sensors.empty()) {
        return warn("no sensors: in mgmtd.yaml: no sensor is supervised or has a named owner");
    }
    std::string bad;
    for (const auto& s : in.config.sensors) {
        std::string why;
        if (s.owner.empty()) {
            why = "no owner";
        }
        if (s.command.empty() && s.systemd_unit.empty()) {
            why += (why.empty() ? "" : ", ") + std::string("not supervised");
        }
        if (!why.empty()) {
            bad += (bad.empty() ? "" : "; ") + s.id + ": " + why;
        }
    }
    if (!bad.empty()) {
        return fail(bad);
    }
    return pass(std::to_string(in.config.sensors.size()) +
                " sensor(s), each with an owner and supervised");
}

CheckResult check_audit(const ReviewInputs& in) {
    if (!in.audit) {
        return fail(in.audit_error.empty() ? "the audit log was not read" : in.audit_error);
    }
    if (!in.audit->ok) {
        return fail("chain broken at line " + std::to_string(in.audit->bad_line) + ": " +
                    in.audit->reason);
    }
    return pass(std::to_string(in.audit->lines) + " entries, the chain is intact");
}

struct HardeningCheck {
    const char* id;
    const char* what;
    CheckResult (*run)(const ReviewInputs&);
};

// The baseline (docs/operator-guide.md, "Periodic review", lists it).
constexpr HardeningCheck kHardening[] = {
    {"api-exposure", "API on loopback, or TLS configured", check_api},
    {"tokens-file", "API token file mode 0600, owned by mgmtd's user", check_tokens},
    {"store-file", "Alert store (and its -wal, -shm) not world-readable", check_store},
    {"webhook-secret", "Webhook secret file mode 0600 (when a webhook is set)",
     check_webhook_secret},
    {"notifications", "Incident notifications configured (webhook or syslog)", check_notifications},
    {"sensor-transport", "CURVE configured when listen is tcp:// off loopback", check_curve},
    {"rulepack-keys", "Rule-pack trusted keys configured", check_pack_keys},
    {"sensor-owners", "Every sensor has an owner and is supervised", check_sensors},
    {"audit-log", "Audit log present, its hash chain intact", check_audit},
};

// ---- controls and incidents ----

int64_t incident_end(const Incident& i, int64_t now_us) {
    return i.restored_at_us > 0 ? i.restored_at_us : now_us;
}

bool in_period(const Incident& i, const ReviewInputs& in) {
    return i.detected_at_us <= in.to_us && incident_end(i, in.now_us) >= in.from_us;
}

// Time the control was down within the period: its incidents' spans clipped to the period,
// overlaps counted once.
int64_t downtime_us(const std::string& control, const ReviewInputs& in) {
    std::vector<std::pair<int64_t, int64_t>> spans;
    for (const auto& i : in.incidents) {
        if (i.control != control) {
            continue;
        }
        const int64_t s = std::max(i.detected_at_us, in.from_us);
        const int64_t e = std::min(incident_end(i, in.now_us), in.to_us);
        if (e > s) {
            spans.emplace_back(s, e);
        }
    }
    std::sort(spans.begin(), spans.end());
    int64_t total = 0;
    int64_t reach = INT64_MIN;
    for (const auto& [s, e] : spans) {
        const int64_t from = std::max(s, reach);
        if (e > from) {
            total += e - from;
        }
        reach = std::max(reach, e);
    }
    return total;
}

json incident_entry(const Incident& i, const ReviewInputs& in) {
    json j{{"id", i.id},
           {"control", i.control},
           {"owner", i.owner},
           {"cause", i.cause},
           {"detected", iso_or_null(i.detected_at_us)},
           {"restored", iso_or_null(i.restored_at_us)},
           {"state", i.restored_at_us > 0 ? "restored" : "open"},
           {"escalated", i.escalated},
           {"in_period", in_period(i, in)},
           {"reviewed", i.acked_at_us > 0}};
    j["acknowledged"] =
        i.acked_at_us > 0
            ? json{{"by", i.acked_by}, {"at", iso8601_utc(i.acked_at_us)}, {"note", i.ack_note}}
            : json(nullptr);
    return j;
}

json controls_section(const ReviewInputs& in) {
    // The configured controls, then any control only the incidents still name (a sensor
    // removed from the configuration).
    std::vector<const ControlState*> states;
    std::vector<std::string> names;
    std::set<std::string> seen;
    for (const auto& c : in.controls) {
        names.push_back(c.name);
        states.push_back(&c);
        seen.insert(c.name);
    }
    std::set<std::string> former;
    for (const auto& i : in.incidents) {
        if (seen.count(i.control) == 0) {
            former.insert(i.control);
        }
    }
    for (const auto& n : former) {
        names.push_back(n);
        states.push_back(nullptr);
    }
    const int64_t period = std::max<int64_t>(1, in.to_us - in.from_us);
    json arr = json::array();
    for (size_t k = 0; k < names.size(); ++k) {
        uint64_t count = 0, open = 0, escalated = 0;
        std::string owner = states[k] != nullptr ? states[k]->owner : "";
        for (const auto& i : in.incidents) {
            if (i.control != names[k] || !in_period(i, in)) {
                continue;
            }
            ++count;
            open += i.restored_at_us == 0 ? 1 : 0;
            escalated += i.escalated ? 1 : 0;
            if (owner.empty()) {
                owner = i.owner;
            }
        }
        const int64_t down = downtime_us(names[k], in);
        arr.push_back({{"name", names[k]},
                       {"owner", owner},
                       {"configured", states[k] != nullptr},
                       {"state", states[k] != nullptr ? json(states[k]->state) : json(nullptr)},
                       {"availability", 1.0 - static_cast<double>(down) / period},
                       {"downtime_s", static_cast<double>(down) / 1e6},
                       {"incidents", count},
                       {"open", open},
                       {"escalated", escalated}});
    }
    return arr;
}

// ---- rule pack, audit log, owners ----

json rule_pack_section(const ReviewInputs& in) {
    json j{{"active", nullptr},
           {"name", nullptr},
           {"created", nullptr},
           {"stored", nullptr},
           {"days_since_created", nullptr},
           {"days_since_stored", nullptr},
           {"max_age_days", kPackMaxAgeDays}};
    if (!in.packs) {
        j["status"] = "warn";
        j["reason"] = "rule packs unavailable" +
                      (in.packs_error.empty() ? std::string() : ": " + in.packs_error);
        return j;
    }
    if (in.packs->active.empty()) {
        j["status"] = "warn";
        j["reason"] = "no rule pack is active: the sensors run the rules their configuration names";
        return j;
    }
    j["active"] = in.packs->active;
    const auto it =
        std::find_if(in.packs->packs.begin(), in.packs->packs.end(),
                     [&](const StoredPack& p) { return p.version == in.packs->active; });
    if (it == in.packs->packs.end()) {
        j["status"] = "warn";
        j["reason"] = "the active version " + in.packs->active + " is not among the stored packs";
        return j;
    }
    j["name"] = it->name;
    j["created"] = it->created.empty() ? json(nullptr) : json(it->created);
    j["stored"] = iso_or_null(it->stored_us);
    int64_t age = -1;
    if (it->stored_us > 0) {
        const int64_t d = (in.now_us - it->stored_us) / kUsPerDay;
        j["days_since_stored"] = d;
        age = std::max(age, d);
    }
    if (auto created = parse_api_time(it->created); created) {
        const int64_t d = (in.now_us - *created) / kUsPerDay;
        j["days_since_created"] = d;
        age = std::max(age, d);
    }
    if (age > kPackMaxAgeDays) {
        j["status"] = "warn";
        j["reason"] = "pack " + it->version + " is " + std::to_string(age) +
                      " days old (ET Open publishes daily; more than " +
                      std::to_string(kPackMaxAgeDays) + " days is stale)";
    } else {
        j["status"] = "pass";
        j["reason"] = "pack " + it->version + " is " + std::to_string(std::max<int64_t>(age, 0)) +
                      " day(s) old";
    }
    return j;
}

json audit_section(const ReviewInputs& in) {
    json j{{"path", in.config.audit_log},
           {"entries", nullptr},
           {"chain_ok", nullptr},
           {"broken_at_line", nullptr},
           {"lines_since_previous_review", in.audit_since.lines_since}};
    j["previous_review"] = in.audit_since.previous_line > 0
                               ? json{{"line", in.audit_since.previous_line},
                                      {"at", in.audit_since.previous_at},
                                      {"by", in.audit_since.previous_by}}
                               : json(nullptr);
    const CheckResult r = check_audit(in);
    j["status"] = r.status;
    j["reason"] = r.reason;
    if (in.audit) {
        j["entries"] = in.audit->lines;
        j["chain_ok"] = in.audit->ok;
        if (!in.audit->ok) {
            j["broken_at_line"] = in.audit->bad_line;
        }
    }
    return j;
}

json owners_section(const ReviewInputs& in) {
    json sensors = json::array();
    for (const auto& s : in.config.sensors) {
        std::string how = "not supervised";
        if (!s.command.empty()) {
            how = "command " + s.command.front();
        } else if (!s.systemd_unit.empty()) {
            how = "systemd unit " + s.systemd_unit;
        }
        sensors.push_back({{"sensor", s.id}, {"owner", s.owner}, {"supervised_by", how}});
    }
    json controls = json::array();
    for (const auto& c : in.controls) {
        controls.push_back({{"control", c.name}, {"owner", c.owner}});
    }
    return json{{"sensors", sensors}, {"controls", controls}};
}

// ---- the Markdown ----

std::string markdown_of(const json& r) {
    std::string out = "# Vigil periodic review, " + str_or(r, "date") + "\n\n";
    out += "Period: " + str_or(r["period"], "from") + " to " + str_or(r["period"], "to") + " (" +
           str_or(r["period"], "days") + " days). Generated " + str_or(r, "generated") + ".\n\n";

    out += "## Needs attention\n\n";
    if (r["attention"].empty()) {
        out += "Nothing: every control reviewed, every check passed.\n";
    }
    for (const auto& a : r["attention"]) {
        out += "- " + md(a.get<std::string>()) + "\n";
    }

    out +=
        "\n## Controls\n\nAvailability over the period: 1 - (time with an incident open, "
        "clipped to the period) / the period.\n\n";
    out += md_table(
        r["controls"],
        {"control", "owner", "state now", "availability", "downtime", "incidents", "open",
         "escalated"},
        [](const json& c) {
            const double down_s = c["downtime_s"].get<double>();
            return Row{str_or(c, "name"),
                       str_or(c, "owner"),
                       c["configured"].get<bool>() ? str_or(c, "state") : "no longer configured",
                       percent_text(c["availability"].get<double>(), down_s > 0),
                       duration_text(static_cast<int64_t>(down_s * 1e6)),
                       str_or(c, "incidents"),
                       str_or(c, "open"),
                       str_or(c, "escalated")};
        },
        "No controls.");

    out +=
        "\n## Incidents\n\n### Not reviewed\n\nIncidents no one has acknowledged (`vigilctl "
        "incident ack N --by NAME --note TEXT`), from any time.\n\n";
    out += md_table(
        r["unreviewed"], {"id", "control", "owner", "detected", "restored", "escalated", "cause"},
        [](const json& i) {
            return Row{"#" + str_or(i, "id"),
                       str_or(i, "control"),
                       str_or(i, "owner"),
                       str_or(i, "detected"),
                       str_or(i, "restored", "open"),
                       i["escalated"].get<bool>() ? "yes" : "no",
                       str_or(i, "cause")};
        },
        "None: every incident has been reviewed.");
    out += "\n### In the period\n\n";
    out += md_table(
        r["incidents"], {"id", "control", "detected", "restored", "cause", "reviewed"},
        [](const json& i) {
            std::string reviewed = "NO";
            if (i["acknowledged"].is_object()) {
                const json& a = i["acknowledged"];
                const std::string note = str_or(a, "note", "");
                reviewed = "by " + str_or(a, "by") + " at " + str_or(a, "at") +
                           (note.empty() ? "" : ": " + note);
            }
            return Row{"#" + str_or(i, "id"),         str_or(i, "control"), str_or(i, "detected"),
                       str_or(i, "restored", "open"), str_or(i, "cause"),   reviewed};
        },
        "No incidents in the period.");

    out += "\n## Hardening baseline\n\n";
    out += md_table(
        r["hardening"], {"check", "result", "reason"},
        [](const json& h) {
            std::string result = str_or(h, "status");
            for (auto& ch : result) {
                ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
            }
            return Row{str_or(h, "id") + ": " + str_or(h, "check"), result, str_or(h, "reason")};
        },
        "No checks.");

    out += "\n## Versions and support\n\n";
    out += md_table(
        r["versions"], {"component", "version", "status", "supported until", "note"},
        [](const json& v) {
            return Row{str_or(v, "component"), str_or(v, "version"), str_or(v, "status"),
                       str_or(v, "supported_until"), str_or(v, "note", "")};
        },
        "No versions.");
    out += "\nDPDK: " + str_or(r, "versions_note") + "\n";

    const json& p = r["rule_pack"];
    out += "\n## Rule pack\n\n";
    if (!p["active"].is_null()) {
        out += "- Active: " + md(str_or(p, "active")) + " (" + md(str_or(p, "name")) + ")\n";
        out += "- Created: " + md(str_or(p, "created")) + " (" + str_or(p, "days_since_created") +
               " days ago)\n";
        out += "- Stored: " + md(str_or(p, "stored")) + " (" + str_or(p, "days_since_stored") +
               " days ago)\n";
    }
    out += "- Result: " + str_or(p, "status") + ": " + md(str_or(p, "reason")) + "\n";

    const json& a = r["audit"];
    out += "\n## Audit log\n\n";
    out += "- File: " + md(str_or(a, "path")) + "\n";
    out += "- Chain: " + str_or(a, "status") + ": " + md(str_or(a, "reason")) + "\n";
    out += "- Entries since the previous review: " + str_or(a, "lines_since_previous_review");
    if (a["previous_review"].is_object()) {
        const json& prev = a["previous_review"];
        out += " (previous review at " + md(str_or(prev, "at")) + " by " + md(str_or(prev, "by")) +
               ", line " + str_or(prev, "line") + ")\n";
    } else {
        out += " (no previous review in the log)\n";
    }

    out += "\n## Contingency drills\n\n";
    out += md_table(
        r["drills"],
        {"drill", "sensor", "started", "state", "detected after", "restored after", "alerts",
         "result"},
        [](const json& d) {
            auto secs = [&](const char* k) {
                return d.contains(k) && d[k].is_number() ? d[k].dump() + " s" : std::string("-");
            };
            return Row{str_or(d, "id"),
                       str_or(d, "sensor"),
                       str_or(d, "started_at"),
                       str_or(d, "state"),
                       secs("detected_after_s"),
                       secs("restored_after_s"),
                       d.value("no_alert_lost", false) ? "none lost" : "not confirmed",
                       str_or(d, "result")};
        },
        "No drill recorded: run `vigilctl drill`.");

    out += "\n## Data classification\n\n";
    {
        const json& c = r["classification"];
        out += "Levels, lowest first: public, internal, confidential, restricted.\n\n";
        out += "| data | level |\n|---|---|\n";
        for (const auto& [k, v] : c["data"].items()) {
            out += "| " + md(k) + " | " + md(v.get<std::string>()) + " |\n";
        }
        out += "\n| sink | clearance |\n|---|---|\n";
        for (const auto& [k, v] : c["sinks"].items()) {
            out += "| " + md(k) + " | " + md(v.get<std::string>()) + " |\n";
        }
        out += "\nWithheld (data above the sink's clearance is not sent there):\n\n";
        if (c["withheld"].empty()) {
            out += "- nothing\n";
        }
        for (const auto& w : c["withheld"]) {
            out += "- " + md(str_or(w, "data")) + " (" + md(str_or(w, "level")) + ") from " +
                   md(str_or(w, "sink")) + " (cleared for " + md(str_or(w, "clearance")) + ")\n";
        }
    }

    out += "\n## Owners\n\n### Sensors\n\n";
    out += md_table(
        r["owners"]["sensors"], {"sensor", "owner", "supervised by"},
        [](const json& s) {
            return Row{str_or(s, "sensor"), str_or(s, "owner"), str_or(s, "supervised_by")};
        },
        "No sensors configured.");
    out += "\n### Controls\n\n";
    out += md_table(
        r["owners"]["controls"], {"control", "owner"},
        [](const json& c) {
            return Row{str_or(c, "control"), str_or(c, "owner")};
        },
        "No controls.");
    return out;
}

}  // namespace

std::vector<HardeningCheckInfo> hardening_checks() {
    std::vector<HardeningCheckInfo> out;
    for (const auto& c : kHardening) {
        out.push_back({c.id, c.what});
    }
    return out;
}

ReviewReport build_review(const ReviewInputs& in) {
    json r;
    r["date"] = date_utc(in.now_us);
    r["generated"] = iso8601_utc(in.now_us);
    r["period"] = {{"from", iso8601_utc(in.from_us)},
                   {"to", iso8601_utc(in.to_us)},
                   {"days", (in.to_us - in.from_us + kUsPerDay / 2) / kUsPerDay}};
    json attention = json::array();

    r["controls"] = controls_section(in);

    std::vector<const Incident*> sorted;
    for (const auto& i : in.incidents) {
        sorted.push_back(&i);
    }
    std::sort(sorted.begin(), sorted.end(),
              [](const Incident* a, const Incident* b) { return a->id < b->id; });
    json incidents = json::array();
    json unreviewed = json::array();
    std::string unreviewed_ids;
    for (const Incident* i : sorted) {
        const json e = incident_entry(*i, in);
        if (e["in_period"].get<bool>()) {
            incidents.insert(incidents.begin(), e);  // newest first
        }
        if (i->acked_at_us == 0) {
            unreviewed.push_back(e);  // oldest first
            unreviewed_ids += (unreviewed_ids.empty() ? "#" : ", #") + std::to_string(i->id) +
                              " (" + i->control + ")";
        }
        if (i->restored_at_us == 0) {
            attention.push_back("incident #" + std::to_string(i->id) + " on " + i->control +
                                " is still open (detected " + iso8601_utc(i->detected_at_us) +
                                (i->escalated ? ", escalated)" : ")"));
        }
    }
    if (!unreviewed.empty()) {
        attention.insert(attention.begin(), std::to_string(unreviewed.size()) +
                                                " incident(s) not reviewed: " + unreviewed_ids);
    }
    r["incidents"] = incidents;
    r["unreviewed"] = unreviewed;

    json hardening = json::array();
    for (const auto& c : kHardening) {
        const CheckResult res = c.run(in);
        hardening.push_back(
            {{"id", c.id}, {"check", c.what}, {"status", res.status}, {"reason", res.reason}});
        if (res.status != "pass") {
            attention.push_back(std::string("hardening ") + c.id + " " +
                                (res.status == "fail" ? "FAILS" : "warns") + ": " + res.reason);
        }
    }
    r["hardening"] = hardening;

    json versions = json::array();
    versions.push_back(support_of("vigil", "Vigil", in.versions.vigil, in.now_us));
    versions.push_back(support_of("dpdk", "DPDK", in.versions.dpdk, in.now_us));
    versions.push_back(support_of("hyperscan", "Hyperscan", in.versions.hyperscan, in.now_us));
    versions.push_back(support_of("kernel", "Linux kernel", in.versions.kernel, in.now_us));
    for (const auto& v : versions) {
        const std::string s = v["status"].get<std::string>();
        if (s == "out-of-support") {
            attention.push_back(v["component"].get<std::string>() + " " +
                                v["version"].get<std::string>() + " is out of support since " +
                                v["supported_until"].get<std::string>());
        } else if (s == "no-upstream-fixes") {
            attention.push_back(v["component"].get<std::string>() + " " +
                                v["version"].get<std::string>() +
                                ": no upstream fixes (consider Vectorscan)");
        } else if (s == "unknown") {
            attention.push_back(v["component"].get<std::string>() + " " +
                                v["version"].get<std::string>() +
                                ": support status unknown (not in Vigil's support table)");
        }
    }
    r["versions"] = versions;
    r["versions_note"] =
        "the version this build of Vigil was compiled against (pkg-config libdpdk), which the "
        "sensor from the same build links; not read from a running sensor";

    r["rule_pack"] = rule_pack_section(in);
    if (r["rule_pack"]["status"] != "pass") {
        attention.push_back("rule pack: " + r["rule_pack"]["reason"].get<std::string>());
    }
    r["audit"] = audit_section(in);
    if (r["audit"]["status"] != "pass") {
        attention.push_back("audit log: " + r["audit"]["reason"].get<std::string>());
    }
    r["owners"] = owners_section(in);

    // Data classification: each kind's level, each sink's clearance, what is withheld where.
    json cls = {{"levels", json::array()},
                {"data", json::object()},
                {"sinks", json::object()},
                {"withheld", json::array()}};
    for (auto l : kClassLevels) {
        cls["levels"].push_back(std::string(l));
    }
    for (const auto& [k, v] : in.config.classification.data) {
        cls["data"][k] = v;
    }
    for (const auto& [k, v] : in.config.classification.sinks) {
        cls["sinks"][k] = v;
    }
    for (const auto& [sink, clearance] : in.config.classification.sinks) {
        for (const auto& [kind, level] : in.config.classification.data) {
            if (!in.config.classification.allows(sink, kind)) {
                cls["withheld"].push_back(json{
                    {"data", kind}, {"level", level}, {"sink", sink}, {"clearance", clearance}});
            }
        }
    }
    r["classification"] = cls;

    // Contingency drills in the period (vigilctl drill).
    json drills = json::array();
    for (const auto& d : in.drills) {
        // The period's drills (times are ISO 8601 UTC: they compare as text).
        const std::string at = d.value("started_at", "");
        if (at >= iso8601_utc(in.from_us) && at <= iso8601_utc(in.to_us)) {
            drills.push_back(d);
        }
    }
    std::sort(drills.begin(), drills.end(), [](const json& a, const json& b) {
        return a.value("started_at", "") > b.value("started_at", "");
    });
    r["drills"] = drills;
    if (drills.empty()) {
        attention.push_back("contingency plan: no drill recorded (vigilctl drill)");
    } else if (drills.front().value("state", "") != "passed") {
        attention.push_back("contingency plan: the last drill (" +
                            drills.front().value("started_at", "") +
                            ") did not pass: " + drills.front().value("result", ""));
    }
    r["attention"] = attention;

    ReviewReport out;
    out.markdown = markdown_of(r);
    out.json = std::move(r);
    return out;
}

std::map<std::string, FileFacts> stat_review_files(const MgmtConfig& cfg) {
    std::map<std::string, FileFacts> out;
    for (const std::string& p :
         {cfg.api_tokens, cfg.store_path, cfg.store_path + "-wal", cfg.store_path + "-shm",
          cfg.notify_webhook_secret_file, cfg.rulepacks_trusted_keys, cfg.audit_log}) {
        if (p.empty() || out.count(p) != 0) {
            continue;
        }
        FileFacts f;
        struct stat st {};
        if (::stat(p.c_str(), &st) == 0) {
            f.exists = true;
            f.mode = st.st_mode & 07777;
            f.uid = st.st_uid;
        } else if (errno != ENOENT) {
            f.error = std::strerror(errno);
        }
        out.emplace(p, std::move(f));
    }
    return out;
}

ComponentVersions running_versions(const std::string& vigil_version) {
    ComponentVersions v;
    v.vigil = vigil_version;
    v.dpdk = VIGIL_DPDK_VERSION;
    v.hyperscan = hs_version();
    utsname u{};
    v.kernel = ::uname(&u) == 0 ? u.release : "unknown";
    return v;
}

Result<AuditSinceReview> audit_since_last_review(const std::string& path) {
    AuditSinceReview out;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 && errno == ENOENT) {
        return out;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return make_error(ErrorCode::Io, "audit log " + path + ": cannot read");
    }
    std::string line;
    uint64_t n = 0;
    while (std::getline(in, line)) {
        ++n;
        // Cheap test first: most lines are not reviews.
        if (line.find("\"review.run\"") == std::string::npos) {
            continue;
        }
        const json j = json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object() || j.value("action", "") != "review.run") {
            continue;
        }
        out.previous_line = n;
        out.previous_at = j.value("at", "");
        out.previous_by = j.value("actor", "");
    }
    out.lines_since = n - out.previous_line;
    return out;
}

}  // namespace vigil::mgmt
