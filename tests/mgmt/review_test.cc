// The periodic review report (mgmt/review.h): availability over a period with incidents clipped
// to it, support status measured from `now`, hardening checks on real files, unreviewed
// incidents, the rule pack's age, the audit log since the previous review, the owners in the
// Markdown.

#include "mgmt/review.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "mgmt/api.h"  // parse_api_time

namespace vigil::mgmt {
namespace {

using nlohmann::json;

constexpr int64_t kDay = 86'400'000'000;
constexpr int64_t kHour = 3'600'000'000;
const std::string kOwner = "NOC on-call <noc@example.org>";

int64_t at(const char* iso) {
    auto t = parse_api_time(iso);
    EXPECT_TRUE(t.ok()) << iso;
    return t.ok() ? *t : 0;
}

class TempDir {
public:
    TempDir() {
        char tmpl[] = "/tmp/vigil-review-test-XXXXXX";
        path_ = mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    std::string file(const std::string& name, const std::string& text, mode_t mode) const {
        const std::string p = path_ + "/" + name;
        std::ofstream(p) << text;
        ::chmod(p.c_str(), mode);
        return p;
    }

private:
    std::string path_;
};

Incident incident(uint64_t id, const std::string& control, int64_t detected, int64_t restored) {
    Incident i;
    i.id = id;
    i.control = control;
    i.owner = kOwner;
    i.detected_at_us = detected;
    i.restored_at_us = restored;
    i.cause = "sensor exited on signal 9 (SIGKILL)";
    return i;
}

// A period of 10 days ending now, one configured control and one sensor with an owner.
ReviewInputs base_inputs(int64_t now) {
    ReviewInputs in;
    in.now_us = now;
    in.to_us = now;
    in.from_us = now - 10 * kDay;
    ControlState c;
    c.name = "sensor-alive:edge-01";
    c.sensor = "edge-01";
    c.owner = kOwner;
    c.state = "ok";
    in.controls.push_back(c);
    SensorEntry s;
    s.id = "edge-01";
    s.owner = kOwner;
    s.command = {"/usr/bin/vigil-sensor", "run"};
    in.config.sensors.push_back(s);
    in.uid = ::geteuid();
    in.versions = {"0.1.0", "22.11.4", "5.4.0 2023-01-01", "6.1.0-18-amd64"};
    return in;
}

const json& by(const json& arr, const char* key, const std::string& value) {
    for (const auto& e : arr) {
        if (e[key] == value) {
            return e;
        }
    }
    ADD_FAILURE() << "no " << key << "=" << value << " in " << arr.dump();
    static const json kNone;
    return kNone;
}

TEST(Review, AvailabilityCountsIncidentsClippedToThePeriodAndOverlapsOnce) {
    const int64_t now = at("2026-01-15T00:00:00Z");
    ReviewInputs in = base_inputs(now);
    const int64_t from = in.from_us;
    const std::string x = "sensor-alive:edge-01";
    // Began a day before the period: one day of it counts.
    in.incidents.push_back(incident(1, x, from - kDay, from + kDay));
    // 12 h, and an overlapping 12 h six hours later: 18 h together.
    in.incidents.push_back(incident(2, x, from + 5 * kDay, from + 5 * kDay + 12 * kHour));
    in.incidents.push_back(
        incident(3, x, from + 5 * kDay + 6 * kHour, from + 5 * kDay + 18 * kHour));
    // Still open: down until now, the end of the period (one day).
    in.incidents.push_back(incident(4, x, now - kDay, 0));
    in.incidents.back().escalated = true;
    // Before the period: not counted.
    in.incidents.push_back(incident(5, x, from - 3 * kDay, from - 2 * kDay));
    // A control no longer configured (a sensor removed): still reported.
    in.incidents.push_back(incident(6, "sensor-alive:old", from + 2 * kDay, from + 3 * kDay));

    const ReviewReport r = build_review(in);
    const json& c = by(r.json["controls"], "name", x);
    const double down_days = 1 + 0.75 + 1;
    EXPECT_NEAR(c["availability"].get<double>(), 1 - down_days / 10, 1e-9);
    EXPECT_NEAR(c["downtime_s"].get<double>(), down_days * 86400, 1e-6);
    EXPECT_EQ(c["incidents"], 4);
    EXPECT_EQ(c["open"], 1);
    EXPECT_EQ(c["escalated"], 1);
    EXPECT_EQ(c["configured"], true);
    const json& old = by(r.json["controls"], "name", "sensor-alive:old");
    EXPECT_EQ(old["configured"], false);
    EXPECT_NEAR(old["availability"].get<double>(), 0.9, 1e-9);
    EXPECT_EQ(r.json["period"]["days"], 10);
    EXPECT_EQ(r.json["incidents"].size(), 5u);   // not #5
    EXPECT_EQ(r.json["incidents"][0]["id"], 6);  // newest first
    EXPECT_NE(r.markdown.find("| sensor-alive:edge-01 | NOC on-call \\<noc@example.org\\> | ok | "
                              "72.5000 % | 2 d 18 h | 4 | 1 | 1 |"),
              std::string::npos)
        << r.markdown;
}

TEST(Review, AControlThatWasDownNeverShowsAsFullyAvailable) {
    const int64_t now = at("2026-01-15T00:00:00Z");
    ReviewInputs in = base_inputs(now);
    // 0.4 s in 10 days: 99.99995 %, which four decimals would round up to 100.
    in.incidents.push_back(incident(1, "sensor-alive:edge-01", now - kDay, now - kDay + 400'000));
    const ReviewReport r = build_review(in);
    EXPECT_LT(r.json["controls"][0]["availability"].get<double>(), 1.0);
    EXPECT_NE(r.markdown.find("| \\> 99.9999 % | 0.4 s |"), std::string::npos) << r.markdown;
}

TEST(Review, SupportStatusIsMeasuredFromNow) {
    ReviewInputs in = base_inputs(at("2026-01-15T00:00:00Z"));
    ReviewReport r = build_review(in);
    const json& dpdk = by(r.json["versions"], "component", "DPDK");
    EXPECT_EQ(dpdk["status"], "out-of-support");
    EXPECT_EQ(dpdk["supported_until"], "2025-12-31");
    EXPECT_NE(r.markdown.find("DPDK 22.11.4 is out of support since 2025-12-31"), std::string::npos)
        << r.markdown;
    const json& hs = by(r.json["versions"], "component", "Hyperscan");
    EXPECT_EQ(hs["status"], "no-upstream-fixes");
    EXPECT_NE(hs["note"].get<std::string>().find("Vectorscan"), std::string::npos);
    const json& kernel = by(r.json["versions"], "component", "Linux kernel");
    EXPECT_EQ(kernel["status"], "supported");
    EXPECT_EQ(kernel["supported_until"], "2027-12-31");
    EXPECT_EQ(by(r.json["versions"], "component", "Vigil")["status"], "current");

    in = base_inputs(at("2025-06-15T00:00:00Z"));
    r = build_review(in);
    EXPECT_EQ(by(r.json["versions"], "component", "DPDK")["status"], "supported");
    EXPECT_EQ(by(r.json["versions"], "component", "DPDK")["days_left"], 200);
    EXPECT_EQ(r.markdown.find("out of support"), std::string::npos);

    // 6.18 is not the 6.1 series: unknown, and said so.
    in.versions.kernel = "6.18.44";
    r = build_review(in);
    EXPECT_EQ(by(r.json["versions"], "component", "Linux kernel")["status"], "unknown");
}

TEST(Review, HardeningChecksTheFilesTheConfigurationNames) {
    TempDir d;
    ReviewInputs in = base_inputs(at("2026-01-15T00:00:00Z"));
    in.config.api_tokens = d.file("tokens.db", "x", 0644);
    in.config.store_path = d.file("mgmt.db", "x", 0640);
    in.config.audit_log = d.file("audit.log", "", 0600);
    in.config.rulepacks_trusted_keys = d.file("signing.pub", "k", 0644);
    in.config.notify_webhook_url = "https://soc.example.org/vigil";
    in.config.notify_webhook_secret_file = d.file("webhook.key", "s", 0600);
    in.files = stat_review_files(in.config);
    in.audit = AuditCheck{};
    ReviewReport r = build_review(in);
    const json& tokens = by(r.json["hardening"], "id", "tokens-file");
    EXPECT_EQ(tokens["status"], "fail");
    EXPECT_NE(tokens["reason"].get<std::string>().find("mode 0644"), std::string::npos);
    EXPECT_NE(r.markdown.find("| tokens-file: API token file mode 0600, owned by mgmtd's user | "
                              "FAIL |"),
              std::string::npos)
        << r.markdown;
    for (const char* id : {"api-exposure", "store-file", "webhook-secret", "notifications",
                           "sensor-transport", "rulepack-keys", "sensor-owners", "audit-log"}) {
        EXPECT_EQ(by(r.json["hardening"], "id", id)["status"], "pass") << id;
    }
    EXPECT_EQ(r.json["hardening"].size(), hardening_checks().size());

    // 0600 but owned by someone else; a world-readable store; no notifications; tcp:// off
    // loopback without CURVE; a sensor nobody supervises; a broken audit chain.
    ::chmod(in.config.api_tokens.c_str(), 0600);
    ::chmod(in.config.store_path.c_str(), 0644);
    in.files = stat_review_files(in.config);
    in.uid = ::geteuid() + 1;
    in.config.notify_webhook_url.clear();
    in.config.listen = "tcp://192.0.2.1:7700";
    in.config.sensors[0].command.clear();
    in.audit->ok = false;
    in.audit->bad_line = 4;
    in.audit->reason = "prev does not match";
    r = build_review(in);
    EXPECT_NE(by(r.json["hardening"], "id", "tokens-file")["reason"].get<std::string>().find(
                  "mgmtd runs as uid"),
              std::string::npos);
    EXPECT_EQ(by(r.json["hardening"], "id", "store-file")["status"], "fail");
    EXPECT_EQ(by(r.json["hardening"], "id", "notifications")["status"], "warn");
    EXPECT_EQ(by(r.json["hardening"], "id", "webhook-secret")["status"], "pass");
    EXPECT_EQ(by(r.json["hardening"], "id", "sensor-transport")["status"], "fail");
    EXPECT_EQ(by(r.json["hardening"], "id", "sensor-owners")["reason"], "edge-01: not supervised");
    EXPECT_EQ(by(r.json["hardening"], "id", "audit-log")["status"], "fail");
    EXPECT_EQ(r.json["audit"]["broken_at_line"], 4);
    EXPECT_NE(r.markdown.find("chain broken at line 4"), std::string::npos);
}

TEST(Review, UnreviewedIncidentsAreListedFirstAndOwnersNamed) {
    const int64_t now = at("2026-01-15T00:00:00Z");
    ReviewInputs in = base_inputs(now);
    const std::string x = "sensor-alive:edge-01";
    in.incidents.push_back(incident(7, x, now - 2 * kDay, now - 2 * kDay + kHour));
    in.incidents.push_back(incident(8, x, now - kDay, now - kDay + kHour));
    in.incidents.back().acked_by = "Alice (NOC)";
    in.incidents.back().acked_at_us = now - kDay + 2 * kHour;
    in.incidents.back().ack_note = "OOM killer";
    // Unreviewed from long before the period: still listed.
    in.incidents.push_back(incident(3, x, now - 200 * kDay, now - 200 * kDay + kHour));
    const ReviewReport r = build_review(in);
    ASSERT_EQ(r.json["unreviewed"].size(), 2u);
    EXPECT_EQ(r.json["unreviewed"][0]["id"], 3);
    EXPECT_EQ(r.json["unreviewed"][0]["in_period"], false);
    EXPECT_EQ(r.json["unreviewed"][1]["id"], 7);
    const json& acked = by(r.json["incidents"], "control", x);  // #8, the newest
    EXPECT_EQ(acked["reviewed"], true);
    EXPECT_EQ(acked["acknowledged"]["by"], "Alice (NOC)");
    EXPECT_EQ(r.json["attention"][0],
              "2 incident(s) not reviewed: #3 (sensor-alive:edge-01), #7 (sensor-alive:edge-01)");
    const auto attention = r.markdown.find("## Needs attention");
    const auto controls = r.markdown.find("## Controls");
    const auto listed = r.markdown.find("2 incident(s) not reviewed: #3");
    EXPECT_TRUE(attention < listed && listed < controls) << r.markdown;
    EXPECT_NE(r.markdown.find("| #7 | sensor-alive:edge-01 |"), std::string::npos);
    EXPECT_NE(r.markdown.find("by Alice (NOC) at "), std::string::npos);
    EXPECT_NE(r.markdown.find("| #7 | sensor-alive:edge-01 | 2026-01-13T00:00:00.000000Z | "
                              "2026-01-13T01:00:00.000000Z | sensor exited on signal 9 (SIGKILL) "
                              "| NO |"),
              std::string::npos)
        << r.markdown;
    // The owners: the sensor's (with how it is supervised) and the control's.
    EXPECT_NE(r.markdown.find("| edge-01 | NOC on-call \\<noc@example.org\\> | command "
                              "/usr/bin/vigil-sensor |"),
              std::string::npos)
        << r.markdown;
    EXPECT_NE(r.markdown.find("| sensor-alive:edge-01 | NOC on-call \\<noc@example.org\\> |\n"),
              std::string::npos);
    EXPECT_EQ(r.json["owners"]["sensors"][0]["owner"], kOwner);
}

TEST(Review, RulePackOlderThanAWeekIsReported) {
    const int64_t now = at("2026-01-15T00:00:00Z");
    ReviewInputs in = base_inputs(now);
    PackListing l;
    l.active = "2026.01.01";
    StoredPack p;
    p.version = "2026.01.01";
    p.name = "et-open";
    p.created = "2026-01-01T06:00:00Z";
    p.stored_us = now - 3 * kDay;
    l.packs.push_back(p);
    in.packs = l;
    ReviewReport r = build_review(in);
    EXPECT_EQ(r.json["rule_pack"]["status"], "warn");
    EXPECT_EQ(r.json["rule_pack"]["days_since_stored"], 3);
    EXPECT_EQ(r.json["rule_pack"]["days_since_created"], 13);
    EXPECT_NE(r.markdown.find("pack 2026.01.01 is 13 days old"), std::string::npos);

    in.packs->packs[0].created = "2026-01-13T06:00:00Z";
    r = build_review(in);
    EXPECT_EQ(r.json["rule_pack"]["status"], "pass");

    in.packs->active.clear();
    r = build_review(in);
    EXPECT_EQ(r.json["rule_pack"]["status"], "warn");
    EXPECT_EQ(r.json["rule_pack"]["active"], nullptr);
}

TEST(Review, AuditLinesAreCountedSinceThePreviousReview) {
    TempDir d;
    const std::string log = d.file("audit.log", "", 0600);
    auto since = audit_since_last_review(log + ".none");
    ASSERT_TRUE(since.ok());
    EXPECT_EQ(since->lines_since, 0u);
    for (const char* action : {"token.add", "review.run", "incident.ack", "token.add"}) {
        AuditEntry e;
        e.actor = "alice";
        e.role = "operator";
        e.action = action;
        ASSERT_TRUE(append_audit(log, e).ok());
    }
    since = audit_since_last_review(log);
    ASSERT_TRUE(since.ok());
    EXPECT_EQ(since->previous_line, 2u);
    EXPECT_EQ(since->previous_by, "alice");
    EXPECT_EQ(since->lines_since, 2u);
}

}  // namespace
}  // namespace vigil::mgmt
