// --vars loading (DESIGN.md §2), classification/reference/threshold.config.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "rules/rule_parser.h"
#include "tests/rules/test_util.h"

namespace vigil::rules {
namespace {

using test::ip;
using test::TempDir;

#define EXPECT_HAS(haystack, needle) \
    EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << (haystack)

TEST(DefaultVars, GroupsAndClassifications) {
    const Vars v = default_vars();
    EXPECT_EQ(v.address_groups.at("HOME_NET"), "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]");
    EXPECT_EQ(v.address_groups.at("EXTERNAL_NET"), "!$HOME_NET");
    for (const char* name : {"HTTP_SERVERS", "SMTP_SERVERS", "SQL_SERVERS", "DNS_SERVERS",
                             "TELNET_SERVERS", "DC_SERVERS", "DNP3_SERVER", "DNP3_CLIENT",
                             "MODBUS_CLIENT", "MODBUS_SERVER", "ENIP_CLIENT", "ENIP_SERVER"}) {
        EXPECT_EQ(v.address_groups.at(name), "$HOME_NET") << name;
    }
    EXPECT_EQ(v.address_groups.at("AIM_SERVERS"), "$EXTERNAL_NET");
    EXPECT_EQ(v.port_groups.at("HTTP_PORTS"), "80");
    EXPECT_EQ(v.port_groups.at("SHELLCODE_PORTS"), "!80");
    EXPECT_EQ(v.port_groups.at("ORACLE_PORTS"), "1521");
    EXPECT_EQ(v.port_groups.at("SSH_PORTS"), "22");
    EXPECT_EQ(v.port_groups.at("DNP3_PORTS"), "20000");
    EXPECT_EQ(v.port_groups.at("MODBUS_PORTS"), "502");
    EXPECT_EQ(v.port_groups.at("FILE_DATA_PORTS"), "[$HTTP_PORTS,110,143]");
    EXPECT_EQ(v.port_groups.at("FTP_PORTS"), "21");
    EXPECT_EQ(v.port_groups.at("GENEVE_PORTS"), "6081");
    EXPECT_EQ(v.port_groups.at("VXLAN_PORTS"), "4789");
    EXPECT_EQ(v.port_groups.at("TEREDO_PORTS"), "3544");
    EXPECT_EQ(v.port_groups.at("SIP_PORTS"), "[5060, 5061]");
    // Every default group resolves.
    for (const auto& [name, expr] : v.address_groups) {
        EXPECT_TRUE(parse_address("$" + name, v).ok()) << name;
    }
    for (const auto& [name, expr] : v.port_groups) {
        EXPECT_TRUE(parse_ports("$" + name, v).ok()) << name;
    }
    EXPECT_GE(v.classifications.size(), 43U);
    EXPECT_EQ(v.classifications.at("not-suspicious").description, "Not Suspicious Traffic");
    EXPECT_EQ(v.classifications.at("not-suspicious").priority, 3U);
    EXPECT_EQ(v.classifications.at("bad-unknown").description, "Potentially Bad Traffic");
    EXPECT_EQ(v.classifications.at("bad-unknown").priority, 2U);
    EXPECT_EQ(v.classifications.at("trojan-activity").priority, 1U);
    EXPECT_EQ(v.classifications.at("tcp-connection").priority, 4U);
    EXPECT_EQ(v.classifications.at("command-and-control").priority, 1U);
    EXPECT_EQ(v.classifications.at("coin-mining").priority, 2U);
    EXPECT_TRUE(v.threshold_overrides.empty());
    EXPECT_TRUE(v.suppressions.empty());
}

TEST(LoadVars, OverridesKeepDefaultsAndIgnoreOtherSections) {
    TempDir dir;
    const std::string path = dir.write("vars.yaml", R"(%YAML 1.1
---
# A suricata.yaml-like file: other sections are ignored.
vars:
  address-groups:
    HOME_NET: "[10.10.0.0/16]"
    EXTRA_NET: "[$HOME_NET, 192.0.2.1]"
  port-groups:
    HTTP_PORTS: 8080
    WEB_PORTS: [80, 443]
outputs:
  - eve-log:
      enabled: yes
af-packet:
  - interface: eth0
)");
    auto v = load_vars(path);
    ASSERT_TRUE(v.ok()) << v.error().message;
    EXPECT_EQ(v->address_groups.at("HOME_NET"), "[10.10.0.0/16]");
    EXPECT_EQ(v->port_groups.at("HTTP_PORTS"), "8080");
    EXPECT_EQ(v->port_groups.at("WEB_PORTS"), "[80,443]");
    EXPECT_EQ(v->port_groups.at("SSH_PORTS"), "22");  // default kept
    EXPECT_GE(v->classifications.size(), 43U);        // built-in table kept
    // EXTERNAL_NET follows the new HOME_NET.
    auto ext = parse_address("$EXTERNAL_NET", *v);
    ASSERT_TRUE(ext.ok());
    EXPECT_TRUE(ext->contains(ip("192.168.1.1")));
    EXPECT_FALSE(ext->contains(ip("10.10.3.3")));
    auto extra = parse_address("$EXTRA_NET", *v);
    ASSERT_TRUE(extra.ok());
    EXPECT_TRUE(extra->contains(ip("192.0.2.1")));
    auto file_ports = parse_ports("$FILE_DATA_PORTS", *v);
    ASSERT_TRUE(file_ports.ok());
    EXPECT_TRUE(file_ports->contains(8080));
    EXPECT_FALSE(file_ports->contains(80));
    // Rules see the loaded vars.
    auto rule = parse_rule("alert tcp $HOME_NET any -> any $WEB_PORTS (sid:1;)", *v);
    ASSERT_TRUE(rule.ok()) << rule.error().message;
    EXPECT_TRUE(rule->dport.contains(443));
}

TEST(LoadVars, EmptyFileAndEmptyGroupsKeepDefaults) {
    TempDir dir;
    auto empty = load_vars(dir.write("empty.yaml", ""));
    ASSERT_TRUE(empty.ok()) << empty.error().message;
    EXPECT_EQ(empty->address_groups.size(), default_vars().address_groups.size());
    auto braces = load_vars(
        dir.write("b.yaml", "%YAML 1.1\n---\nvars:\n  address-groups: {}\n  port-groups: {}\n"));
    ASSERT_TRUE(braces.ok()) << braces.error().message;
    EXPECT_EQ(braces->port_groups.at("HTTP_PORTS"), "80");
}

TEST(LoadVars, RelativeSideFiles) {
    TempDir dir;
    dir.write("shared/classification.config",
              "# comment\n"
              "config classification: my-class,My class, with a comma,2\n"
              "config classification:trojan-activity,A Network Trojan was detected, 1\n");
    dir.write("shared/reference.config",
              "# config reference: system URL\n"
              "config reference: cve       https://cve.mitre.org/cgi-bin/cvename.cgi?name=\n"
              "config reference: url\thttps://\n");
    dir.write("case/threshold.config",
              "threshold gen_id 1, sig_id 7, type limit, track by_src, "
              "count 1, seconds 60\n");
    const std::string path = dir.write("case/vars.yaml",
                                       "vars:\n"
                                       "  address-groups: {}\n"
                                       "classification-file: ../shared/classification.config\n"
                                       "reference-config-file: ../shared/reference.config\n"
                                       "threshold-file: threshold.config\n");
    auto v = load_vars(path);
    ASSERT_TRUE(v.ok()) << v.error().message;
    // The file replaces the built-in table, as in Suricata.
    ASSERT_EQ(v->classifications.size(), 2U);
    EXPECT_EQ(v->classifications.at("my-class").description, "My class, with a comma");
    EXPECT_EQ(v->classifications.at("my-class").priority, 2U);
    EXPECT_EQ(v->classifications.at("trojan-activity").priority, 1U);
    EXPECT_EQ(v->reference_prefixes.at("cve"), "https://cve.mitre.org/cgi-bin/cvename.cgi?name=");
    EXPECT_EQ(v->reference_prefixes.at("url"), "https://");
    ASSERT_EQ(v->threshold_overrides.count({1, 7}), 1U);
    auto rule = parse_rule("alert tcp any any -> any any (classtype:my-class; sid:1;)", *v);
    ASSERT_TRUE(rule.ok());
    EXPECT_EQ(rule->category, "My class, with a comma");
    EXPECT_EQ(rule->priority, 2U);
    EXPECT_FALSE(
        parse_rule("alert tcp any any -> any any (classtype:misc-attack; sid:1;)", *v).ok());
}

TEST(LoadVars, Errors) {
    TempDir dir;
    auto missing = load_vars((dir.path() / "nope.yaml").string());
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().code, ErrorCode::Io);
    EXPECT_HAS(missing.error().message, "nope.yaml");

    auto no_side = load_vars(dir.write("a.yaml", "classification-file: missing.config\n"));
    ASSERT_FALSE(no_side.ok());
    EXPECT_HAS(no_side.error().message, "a.yaml: classification-file:");
    EXPECT_HAS(no_side.error().message, "missing.config");

    auto no_thr = load_vars(dir.write("t.yaml", "threshold-file: /nonexistent/threshold.config\n"));
    ASSERT_FALSE(no_thr.ok());
    EXPECT_HAS(no_thr.error().message, "/nonexistent/threshold.config");

    auto bad_yaml = load_vars(dir.write("bad.yaml", "vars:\n  address-groups: [unclosed\n"));
    ASSERT_FALSE(bad_yaml.ok());
    EXPECT_EQ(bad_yaml.error().code, ErrorCode::BadInput);
    EXPECT_HAS(bad_yaml.error().message, "bad.yaml:");

    auto bad_var = load_vars(dir.write("v.yaml",
                                       "vars:\n  address-groups:\n"
                                       "    HOME_NET: \"[10.0.0.0/33]\"\n"));
    ASSERT_FALSE(bad_var.ok());
    EXPECT_HAS(bad_var.error().message, "vars.address-groups.HOME_NET");
    EXPECT_HAS(bad_var.error().message, "bad CIDR '10.0.0.0/33'");

    auto bad_port = load_vars(dir.write("p.yaml", "vars:\n  port-groups:\n    X: \"99999\"\n"));
    ASSERT_FALSE(bad_port.ok());
    EXPECT_HAS(bad_port.error().message, "vars.port-groups.X");

    auto not_map = load_vars(dir.write("m.yaml", "vars: [1, 2]\n"));
    ASSERT_FALSE(not_map.ok());
    EXPECT_HAS(not_map.error().message, "vars must be a mapping");

    auto group_map = load_vars(dir.write("g.yaml", "vars:\n  address-groups:\n    A: {x: 1}\n"));
    ASSERT_FALSE(group_map.ok());
    EXPECT_HAS(group_map.error().message, "vars.address-groups.A must be a string");
}

TEST(ClassificationFile, BadLineNamesFileAndLine) {
    TempDir dir;
    Vars v;
    const std::string p1 = dir.write("c1.config", "# ok\nconfig classification: a,A,1\nnonsense\n");
    auto st = load_classification_file(p1, v);
    ASSERT_FALSE(st.ok());
    EXPECT_HAS(st.error().message, p1 + ":3:");
    const std::string p2 = dir.write("c2.config", "config classification: a,A,high\n");
    st = load_classification_file(p2, v);
    ASSERT_FALSE(st.ok());
    EXPECT_HAS(st.error().message, p2 + ":1: bad priority 'high'");
    const std::string p3 = dir.write("c3.config", "config classification: a only\n");
    EXPECT_FALSE(load_classification_file(p3, v).ok());
    EXPECT_FALSE(load_classification_file((dir.path() / "none").string(), v).ok());
}

TEST(ThresholdFile, Directives) {
    TempDir dir;
    Vars v = default_vars();
    v.address_groups["SUPPRESS"] = "[10.0.0.0/8,20.0.0.0/16]";
    const std::string path = dir.write(
        "threshold.config",
        "# comment\n"
        "\n"
        "threshold gen_id 1, sig_id 100, type threshold, track by_flow, count 5, seconds 60\n"
        "event_filter gen_id 1, sig_id 101, type both, track by_dst, count 2, seconds 10\n"
        "suppress gen_id 1, sig_id 102\n"
        "suppress gen_id 1, sig_id 103, track by_dst, ip 145.254.160.0/24\n"
        "suppress gen_id 1, sig_id 104, track by_either, ip $SUPPRESS\n"
        "suppress gen_id 1, sig_id 105, track by_src, ip [1.1.1.1,2.2.2.2]\n"
        "rate_filter gen_id 1, sig_id 106, track by_both, count 10, seconds 30, "
        "new_action reject, timeout 300\n");
    auto st = load_threshold_file(path, v);
    ASSERT_TRUE(st.ok()) << st.error().message;
    ASSERT_EQ(v.rate_filters.size(), 1U);
    const RateFilter& rf = v.rate_filters.at({1, 106});
    EXPECT_EQ(rf.track, Threshold::Track::ByBoth);
    EXPECT_EQ(rf.count, 10U);
    EXPECT_EQ(rf.seconds, 30U);
    EXPECT_EQ(rf.new_action, Action::Reject);
    EXPECT_EQ(rf.timeout, 300U);
    ASSERT_EQ(v.threshold_overrides.size(), 2U);
    const Threshold& t = v.threshold_overrides.at({1, 100});
    EXPECT_EQ(t.type, Threshold::Type::Threshold);
    EXPECT_EQ(t.track, Threshold::Track::ByFlow);
    EXPECT_EQ(t.count, 5U);
    EXPECT_EQ(t.seconds, 60U);
    EXPECT_EQ(v.threshold_overrides.at({1, 101}).type, Threshold::Type::Both);
    ASSERT_EQ(v.suppressions.size(), 4U);
    EXPECT_EQ(v.suppressions[0].sid, 102U);
    EXPECT_FALSE(v.suppressions[0].has_track);
    EXPECT_TRUE(v.suppressions[1].has_track);
    EXPECT_EQ(v.suppressions[1].track, Threshold::Track::ByDst);
    EXPECT_TRUE(v.suppressions[1].ips.contains(ip("145.254.160.237")));
    EXPECT_FALSE(v.suppressions[1].ips.contains(ip("145.254.161.1")));
    EXPECT_EQ(v.suppressions[2].track, Threshold::Track::ByBoth);
    EXPECT_TRUE(v.suppressions[2].ips.contains(ip("20.0.1.1")));
    EXPECT_TRUE(v.suppressions[3].ips.contains(ip("2.2.2.2")));
}

TEST(ThresholdFile, Errors) {
    TempDir dir;
    auto err = [&](const std::string& line) {
        Vars v = default_vars();
        const std::string p = dir.write("t.config", "# first\n" + line + "\n");
        auto st = load_threshold_file(p, v);
        EXPECT_FALSE(st.ok()) << line;
        return st.ok() ? std::string() : st.error().message;
    };
    EXPECT_HAS(err("rate_filter gen_id 1, sig_id 1, track by_flow, count 1, seconds 60, "
                   "new_action drop, timeout 10"),
               "t.config:2: rate_filter: bad track 'by_flow'");
    EXPECT_HAS(err("rate_filter gen_id 1, sig_id 1, track by_rule, count 1, seconds 60, "
                   "new_action log, timeout 10"),
               "bad new_action 'log' (expected alert, drop, reject or pass)");
    EXPECT_HAS(err("rate_filter gen_id 1, sig_id 1, track by_rule, count 1, seconds 60, "
                   "new_action drop"),
               "missing timeout");
    EXPECT_HAS(err("rate_filter gen_id 1, sig_id 1, track by_rule, count 0, seconds 60, "
                   "new_action drop, timeout 1"),
               "count and seconds must be at least 1");
    EXPECT_HAS(err("rate_filter gen_id 1, sig_id 1, track by_rule, count 1, seconds 60, "
                   "new_action drop, timeout 1\n"
                   "rate_filter gen_id 1, sig_id 1, track by_src, count 1, seconds 60, "
                   "new_action pass, timeout 1"),
               ":3: a second rate_filter for gen_id 1, sig_id 1");
    EXPECT_HAS(err("limit gen_id 1, sig_id 1"), ":2: unknown directive 'limit'");
    EXPECT_HAS(err("threshold gen_id 1, sig_id 1, type limit, track by_src, count 1"),
               "missing seconds");
    EXPECT_HAS(err("threshold sig_id 1, type limit, track by_src, count 1, seconds 1"),
               "missing gen_id");
    EXPECT_HAS(err("threshold gen_id 1, sig_id x, type limit, track by_src, count 1, seconds 1"),
               "sig_id: 'x'");
    EXPECT_HAS(err("threshold gen_id 1, sig_id 1, type often, track by_src, count 1, seconds 1"),
               "bad type 'often'");
    EXPECT_HAS(err("suppress gen_id 1, sig_id 1, track by_src"), "needs both track and ip");
    EXPECT_HAS(err("suppress gen_id 1, sig_id 1, track by_flow, ip 1.2.3.4"), "bad track");
    EXPECT_HAS(err("suppress gen_id 1, sig_id 1, track by_src, ip $NOPE"),
               "unknown variable $NOPE");
    EXPECT_HAS(err("suppress gen_id 1, sig_id 1, colour red"), "unknown key 'colour'");
}

// Every vars.yaml of the acceptance corpus loads, the four with rate_filter lines included.
TEST(AcceptanceCorpus, AllVarsFilesLoad) {
    const std::filesystem::path root =
        std::filesystem::path(VIGIL_SHARED_DIR) / "acceptance/suricata-verify";
    if (!std::filesystem::is_directory(root)) {
        GTEST_SKIP() << root << " not present";
    }
    size_t loaded = 0;
    size_t rate_filter = 0;
    for (const auto& e : std::filesystem::directory_iterator(root)) {
        const auto vars_file = e.path() / "vars.yaml";
        if (!std::filesystem::exists(vars_file)) {
            continue;
        }
        auto v = load_vars(vars_file.string());
        ASSERT_TRUE(v.ok()) << v.error().message;
        EXPECT_FALSE(v->classifications.empty()) << vars_file;
        rate_filter += v->rate_filters.size();
        // Rules in the case parse or are rejected with a reason; the file itself reads.
        auto rules = parse_rules_file((e.path() / "test.rules").string(), *v);
        EXPECT_TRUE(rules.ok()) << e.path();
        ++loaded;
    }
    EXPECT_GT(loaded, 500U);
    EXPECT_EQ(rate_filter, 4U);
}

}  // namespace
}  // namespace vigil::rules
