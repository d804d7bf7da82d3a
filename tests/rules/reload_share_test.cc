// A reload's new rule set shares the running set's unchanged rules (CompileOptions::previous):
// unchanged text with the same variables is not parsed or compiled again and both sets hold
// one copy of it; a changed, added or removed rule, or other variables, are not shared; the
// new set orders, matches and rejects exactly as a set loaded from scratch.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "rules/rule_parser.h"
#include "rules/ruleset.h"
#include "tests/rules/test_packet.h"
#include "tests/rules/test_util.h"

namespace vigil::rules {
namespace {

using test::TestPacket;
using V = std::vector<uint32_t>;

constexpr const char* kBefore =
    R"(alert tcp any any -> any 80 (msg:"a"; content:"GET /evil"; sid:1;)
alert tcp any any -> any any (msg:"b"; content:"cmd.exe"; nocase; sid:2;)
alert tcp any any -> any any (msg:"c"; content:"USER "; pcre:"/^USER\s+root/"; sid:3;)
alert tcp any any -> any any (msg:"set"; content:"login"; flowbits:set,logged; flowbits:noalert; sid:4;)
alert tcp any any -> any any (msg:"isset"; content:"secret"; flowbits:isset,logged; sid:5;)
pass tcp any any -> any any (msg:"pass"; content:"trusted"; sid:6;)
alert tcp $HOME_NET any -> any any (msg:"home"; content:"home-data"; sid:7;)
alert http any any -> any any (msg:"uri"; http.uri; content:"/admin"; sid:8;)
)";

// sid 2 changed, sid 3 removed, sid 9 added, a comment moves every line down by two.
constexpr const char* kAfter =
    R"(# updated
# pack
alert tcp any any -> any 80 (msg:"a"; content:"GET /evil"; sid:1;)
alert tcp any any -> any any (msg:"b v2"; content:"powershell"; nocase; sid:2; rev:2;)
alert tcp any any -> any any (msg:"set"; content:"login"; flowbits:set,logged; flowbits:noalert; sid:4;)
alert tcp any any -> any any (msg:"isset"; content:"secret"; flowbits:isset,logged; sid:5;)
pass tcp any any -> any any (msg:"pass"; content:"trusted"; sid:6;)
alert tcp $HOME_NET any -> any any (msg:"home"; content:"home-data"; sid:7;)
alert http any any -> any any (msg:"uri"; http.uri; content:"/admin"; sid:8;)
alert tcp any any -> any any (msg:"new"; content:"wget "; sid:9;)
)";

std::vector<TestPacket> packets() {
    std::vector<TestPacket> p;
    p.reserve(8);  // a TestPacket points into its own payload: never moved
    p.emplace_back("GET /evil HTTP/1.0\r\n");
    p.emplace_back("run CMD.EXE /c dir", dataplane::kProtoTcp, 40000, 445);
    p.emplace_back("PowerShell -enc", dataplane::kProtoTcp, 40000, 445);
    p.emplace_back("USER root\r\n", dataplane::kProtoTcp, 40000, 21);
    p.emplace_back("wget http://x/", dataplane::kProtoTcp, 40000, 8080);
    p.emplace_back("home-data", dataplane::kProtoTcp, 40000, 9999);
    p.emplace_back("trusted GET /evil");
    return p;
}

// The sids each packet alerts on; the flowbit pair runs on one flow (login, then secret).
std::vector<V> alerts(const RuleSetPtr& rs) {
    auto m = Matcher::create(rs);
    EXPECT_TRUE(m.ok());
    std::vector<V> out;
    for (const auto& tp : packets()) {
        dataplane::Flow flow;
        V sids;
        for (uint32_t i : (*m)->inspect(tp.pkt, &flow)) {
            sids.push_back(rs->rule(i).sid);
        }
        out.push_back(sids);
    }
    dataplane::Flow flow;
    TestPacket login("login bob");
    TestPacket secret("the secret");
    (*m)->inspect(login.pkt, &flow);
    V sids;
    for (uint32_t i : (*m)->inspect(secret.pkt, &flow)) {
        sids.push_back(rs->rule(i).sid);
    }
    out.push_back(sids);
    return out;
}

V order_of(const RuleSet& rs) {
    V out;
    for (uint32_t i = 0; i < rs.size(); ++i) {
        out.push_back(rs.rule(i).sid);
    }
    return out;
}

class ReloadShareTest : public ::testing::Test {
protected:
    RuleSetPtr load(const Vars& vars, const RuleSetPtr& previous, LoadReport& report) {
        CompileOptions opts;
        opts.previous = previous;
        auto rs = RuleSet::load({path_}, vars, report, opts);
        EXPECT_TRUE(rs.ok()) << rs.error().message;
        return rs.ok() ? *rs : nullptr;
    }
    RuleSetPtr load(const Vars& vars, const RuleSetPtr& previous = nullptr) {
        LoadReport report;
        auto rs = load(vars, previous, report);
        EXPECT_TRUE(report.rejected.empty()) << report.rejected[0].to_string();
        return rs;
    }
    const Rule* rule_of(const RuleSetPtr& rs, uint32_t sid) const {
        const auto i = rs->index_of(1, sid);
        return i ? &rs->rule(*i) : nullptr;
    }

    test::TempDir dir_;
    std::string path_ = dir_.write("t.rules", kBefore);
};

TEST_F(ReloadShareTest, UnchangedRulesAreSharedAndTheSetMatchesAsAFreshLoad) {
    RuleSetPtr before = load(default_vars());
    ASSERT_TRUE(before);
    EXPECT_EQ(before->stats().shared, 0U);
    EXPECT_EQ(alerts(before), (std::vector<V>{{1}, {2}, {}, {3}, {}, {7}, {}, {5}}));

    dir_.write("t.rules", kAfter);
    RuleSetPtr after = load(default_vars(), before);
    RuleSetPtr fresh = load(default_vars());
    ASSERT_TRUE(after);
    ASSERT_TRUE(fresh);
    EXPECT_EQ(after->stats().shared, 6U);  // 1, 4, 5, 6, 7, 8
    EXPECT_EQ(fresh->stats().shared, 0U);
    for (uint32_t sid : {1U, 4U, 5U, 6U, 7U, 8U}) {
        EXPECT_EQ(rule_of(after, sid), rule_of(before, sid)) << "sid " << sid << " not shared";
        EXPECT_NE(rule_of(fresh, sid), rule_of(before, sid));
    }
    ASSERT_NE(rule_of(after, 2), nullptr);
    EXPECT_NE(rule_of(after, 2), rule_of(before, 2));
    EXPECT_EQ(rule_of(after, 2)->msg, "b v2");
    EXPECT_EQ(rule_of(after, 3), nullptr);
    ASSERT_NE(rule_of(after, 9), nullptr);
    EXPECT_EQ(rule_of(after, 9)->line, 10U);

    // The same evaluation order (pass first, flowbit setters before readers) and alerts.
    EXPECT_EQ(order_of(*after), order_of(*fresh));
    const std::vector<V> want{{1}, {}, {2}, {}, {9}, {7}, {}, {5}};
    EXPECT_EQ(alerts(fresh), want);
    EXPECT_EQ(alerts(after), want);
    EXPECT_TRUE(after->uses_buffer(dataplane::app::BufferId::HttpUri));

    // The new set owns what it shares: it runs on after the old one is gone.
    const Rule* shared = rule_of(after, 1);
    before.reset();
    EXPECT_EQ(rule_of(after, 1), shared);
    EXPECT_EQ(alerts(after), want);
}

TEST_F(ReloadShareTest, OtherVariablesShareNothing) {
    RuleSetPtr before = load(default_vars());
    ASSERT_TRUE(before);
    Vars other = default_vars();
    other.address_groups["HOME_NET"] = "[192.168.0.0/16]";  // the test packets come from 10.0.0.1
    RuleSetPtr after = load(other, before);
    ASSERT_TRUE(after);
    EXPECT_EQ(after->stats().shared, 0U);
    EXPECT_NE(rule_of(after, 1), rule_of(before, 1));
    EXPECT_EQ(alerts(after)[5], V{});  // sid 7 is no longer about this source

    Vars classes = default_vars();
    classes.classifications["trojan-activity"].priority = 9;
    EXPECT_EQ(load(classes, before)->stats().shared, 0U);

    // Variables a rule's parse does not read (suppressions, thresholds) change nothing.
    Vars thresholds = default_vars();
    thresholds.threshold_overrides[{1, 1}] = Threshold{};
    EXPECT_EQ(load(thresholds, before)->stats().shared, 8U);
}

TEST_F(ReloadShareTest, SetsBuiltWithoutVariablesShareNothing) {
    auto parsed = parse_rules_file(path_, default_vars());
    ASSERT_TRUE(parsed.ok());
    LoadReport report;
    auto compiled = RuleSet::compile(std::move(parsed->rules), report);
    ASSERT_TRUE(compiled.ok());
    RuleSetPtr after = load(default_vars(), *compiled);
    ASSERT_TRUE(after);
    EXPECT_EQ(after->stats().shared, 0U);
}

TEST_F(ReloadShareTest, DuplicatesAndRejectionsAreReportedAsWithoutSharing) {
    RuleSetPtr before = load(default_vars());
    ASSERT_TRUE(before);
    // A second file repeats sid 1 word for word and adds a broken rule; the first file gains
    // an in-file duplicate of sid 4.
    dir_.write("t.rules",
               std::string(kBefore) +
                   "alert tcp any any -> any any (msg:\"dup\"; content:\"x\"; sid:4;)\n");
    const std::string second =
        dir_.write("u.rules",
                   "alert tcp any any -> any 80 (msg:\"a\"; content:\"GET /evil\"; sid:1;)\n"
                   "alert tcp any any -> any any (msg:\"bad\"; depth:3; sid:30;)\n");
    auto load_both = [&](const RuleSetPtr& previous, LoadReport& report) {
        CompileOptions opts;
        opts.previous = previous;
        auto rs = RuleSet::load({path_, second}, default_vars(), report, opts);
        EXPECT_TRUE(rs.ok());
        return rs.ok() ? *rs : nullptr;
    };
    LoadReport shared_report;
    LoadReport fresh_report;
    RuleSetPtr shared = load_both(before, shared_report);
    RuleSetPtr fresh = load_both(nullptr, fresh_report);
    ASSERT_TRUE(shared);
    ASSERT_TRUE(fresh);
    EXPECT_EQ(shared->stats().shared, 8U);
    ASSERT_EQ(shared_report.rejected.size(), 3U);
    ASSERT_EQ(fresh_report.rejected.size(), 3U);
    for (size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(shared_report.rejected[i].to_string(), fresh_report.rejected[i].to_string());
    }
    EXPECT_EQ(shared_report.rejected[0].to_string(),
              path_ + ":9: sid 4: duplicate sid (gid 1), first defined at line 4");
    EXPECT_EQ(shared_report.rejected[2].to_string(),
              second + ":1: sid 1: duplicate sid (already loaded)");
    EXPECT_EQ(order_of(*shared), order_of(*fresh));
}

}  // namespace
}  // namespace vigil::rules
