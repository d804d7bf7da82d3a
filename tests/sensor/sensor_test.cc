// Sensor output stage: expectation files, EVE formatting, thresholds/suppress, config.

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/spsc_ring.h"
#include "rules/rule_parser.h"
#include "rules/ruleset.h"
#include "sensor/alert_filter.h"
#include "sensor/alert_output.h"
#include "sensor/config.h"
#include "sensor/eve_writer.h"
#include "sensor/expect.h"
#include "sensor/live.h"
#include "sensor/rate_filter.h"
#include "sensor/replay.h"

namespace vigil::sensor {
namespace {

namespace fs = std::filesystem;

dataplane::IpAddr v4(const char* s) {
    uint8_t b[4];
    inet_pton(AF_INET, s, b);
    return dataplane::IpAddr::from_v4(b);
}

class TempDir {
public:
    TempDir() {
        char tmpl[] = "/tmp/vigil-sensor-test-XXXXXX";
        path_ = mkdtemp(tmpl);
    }
    ~TempDir() { fs::remove_all(path_); }
    std::string file(const std::string& name, const std::string& content) const {
        const auto p = (fs::path(path_) / name).string();
        std::ofstream(p) << content;
        return p;
    }
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

ObservedAlert alert(uint32_t sid, const char* src, uint16_t sport, const char* dst, uint16_t dport,
                    const char* action = "allowed") {
    ObservedAlert a;
    a.sid = sid;
    a.src = v4(src);
    a.sport = sport;
    a.dst = v4(dst);
    a.dport = dport;
    a.has_ports = true;
    a.action = action;
    return a;
}

TEST(ExpectTest, ParsesAndMatchesCounts) {
    TempDir d;
    const auto p = d.file("x.expect",
                          "# comment\n\n9000001 2\n"
                          "9000002 1 src=10.0.0.1:1234 dst=10.0.0.2:80 action=allowed\n"
                          "9000003 0\n");
    auto f = load_expect_file(p);
    ASSERT_TRUE(f.ok()) << f.error().message;
    ASSERT_EQ(f->lines.size(), 3u);
    std::vector<ObservedAlert> got{alert(9000001, "1.1.1.1", 1, "2.2.2.2", 2),
                                   alert(9000001, "1.1.1.1", 1, "2.2.2.2", 2),
                                   alert(9000002, "10.0.0.1", 1234, "10.0.0.2", 80)};
    EXPECT_TRUE(check_expectations(*f, got).ok);

    got.pop_back();
    got.push_back(alert(9000002, "10.0.0.1", 1235, "10.0.0.2", 80));  // wrong port
    const auto r = check_expectations(*f, got);
    EXPECT_FALSE(r.ok);
    ASSERT_EQ(r.diff.size(), 2u);  // the count line and the unclaimed alert
    EXPECT_NE(r.diff[0].find("x.expect:4: expected 1, got 0"), std::string::npos) << r.diff[0];
    EXPECT_NE(r.diff[1].find("unexpected 1 alert(s) for sid 9000002"), std::string::npos);
}

TEST(ExpectTest, UnlistedSidIsAMismatch) {
    TempDir d;
    auto f = load_expect_file(d.file("x.expect", "5 1\n"));
    ASSERT_TRUE(f.ok());
    EXPECT_FALSE(check_expectations(*f, {alert(5, "1.1.1.1", 1, "2.2.2.2", 2),
                                         alert(6, "1.1.1.1", 1, "2.2.2.2", 2)})
                     .ok);
}

TEST(ExpectTest, Ipv6EndpointsAndErrorsNameTheLine) {
    TempDir d;
    auto ok = load_expect_file(d.file("a.expect", "7 1 src=[2001:db8::1]:80 dst=2001:db8::2\n"));
    ASSERT_TRUE(ok.ok()) << ok.error().message;
    EXPECT_EQ(*ok->lines[0].src->port, 80);
    EXPECT_FALSE(ok->lines[0].dst->port.has_value());

    auto bad = load_expect_file(d.file("b.expect", "# c\n7 one\n"));
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message.find("b.expect:2: bad count 'one'"), std::string::npos);
    auto bad2 = load_expect_file(d.file("c.expect", "7 1 action=dropped\n"));
    ASSERT_FALSE(bad2.ok());
    EXPECT_NE(bad2.error().message.find("c.expect:1"), std::string::npos);
    EXPECT_FALSE(load_expect_file(d.path() + "/missing.expect").ok());
}

TEST(EveTest, TimestampAndEscaping) {
    EXPECT_EQ(format_timestamp(1704067200, 42), "2024-01-01T00:00:00.000042+0000");
    std::string out;
    json_escape(out, "a\"b\\c\n\x01");
    EXPECT_EQ(out, "a\\\"b\\\\c\\n\\u0001");
    EXPECT_EQ(format_ip(v4("192.0.2.1")), "192.0.2.1");
    uint8_t b6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    EXPECT_EQ(format_ip(dataplane::IpAddr::from_v6(b6)), "2001:0db8:0000:0000:0000:0000:0000:0001");
}

// A TCP record from 10.0.0.1 to 10.0.0.2 at 2024-01-01T00:00:00.
AlertRecord tcp_record() {
    AlertRecord a;
    a.ts_sec = 1704067200;
    a.src = v4("10.0.0.1");
    a.dst = v4("10.0.0.2");
    a.ip_proto = 6;
    return a;
}

// A packet that came through an IP-in-IP tunnel: pkt_src names the decoder, the tunnel object
// the outer packet (Suricata's fields); an alert on a transaction carries its tx_id; the
// verdict is the packet's.
TEST(EveTest, TunnelTxIdAndVerdict) {
    TempDir d;
    const auto path = d.path() + "/eve.json";
    auto eve = EveWriter::open(path, "edge-01");
    ASSERT_TRUE(eve.ok());
    auto rule = rules::parse_rule(R"(alert tcp any any -> any any (content:"x"; sid:5;))",
                                  rules::default_vars());
    ASSERT_TRUE(rule.ok()) << rule.error().message;
    AlertRecord a = tcp_record();
    a.pkt_src = AlertRecord::PktSrc::Ipv4Tunnel;
    a.tunnel.depth = 1;
    a.tunnel.kind = dataplane::TunnelKind::Ipip;
    a.tunnel.outer_ip_version = 4;
    a.tunnel.outer_ip_proto = 4;
    a.tunnel.outer_src = v4("192.0.2.1");
    a.tunnel.outer_dst = v4("192.0.2.2");
    a.has_tx = true;
    a.tx_id = 3;
    (*eve)->write_alert(a, *rule, true, "drop");
    AlertRecord plain = tcp_record();
    (*eve)->write_alert(plain, *rule, false);
    ASSERT_TRUE((*eve)->close().ok());
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    for (const char* want :
         {"\"pkt_src\":\"ipv4 tunnel\"", "\"ip_v\":4",
          "\"tunnel\":{\"src_ip\":\"192.0.2.1\",\"dest_ip\":\"192.0.2.2\",\"proto\":\"IP-in-IP\","
          "\"depth\":1,\"pkt_src\":\"wire/pcap\"}",
          "\"tx_id\":3", "\"verdict\":{\"action\":\"drop\"}", "\"action\":\"blocked\""}) {
        EXPECT_NE(line.find(want), std::string::npos) << want << " in " << line;
    }
    std::getline(in, line);
    EXPECT_NE(line.find("\"pkt_src\":\"wire/pcap\""), std::string::npos) << line;
    EXPECT_EQ(line.find("\"tunnel\""), std::string::npos) << line;
    EXPECT_EQ(line.find("\"tx_id\""), std::string::npos) << line;
    EXPECT_EQ(line.find("\"verdict\""), std::string::npos) << line;  // none asked for
}

TEST(EveTest, AlertRecordHasSuricataFields) {
    TempDir d;
    const auto path = d.path() + "/eve.json";
    auto eve = EveWriter::open(path, "edge-01");
    ASSERT_TRUE(eve.ok());
    auto rule = rules::parse_rule(
        R"(alert tcp any any -> any any (msg:"Test \"quoted\""; content:"x"; classtype:trojan-activity; metadata:former_category MALWARE, tag c2; sid:42; rev:3;))",
        rules::default_vars());
    ASSERT_TRUE(rule.ok()) << rule.error().message;
    AlertRecord a = tcp_record();
    a.sport = 1234;
    a.dport = 80;
    a.has_ports = true;
    a.has_flow = true;
    a.flow_id = 77;
    a.pkts_toserver = 3;
    (*eve)->write_alert(a, *rule, false);
    ASSERT_TRUE((*eve)->close().ok());
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    for (const char* want :
         {"\"timestamp\":\"2024-01-01T00:00:00.000000+0000\"", "\"flow_id\":77",
          "\"event_type\":\"alert\"", "\"src_ip\":\"10.0.0.1\"", "\"src_port\":1234",
          "\"proto\":\"TCP\"", "\"host\":\"edge-01\"", "\"action\":\"allowed\"",
          "\"signature_id\":42", "\"rev\":3", "\"signature\":\"Test \\\"quoted\\\"\"",
          "\"category\":\"A Network Trojan was detected\"", "\"severity\":1",
          "\"former_category\":[\"MALWARE\"]", "\"pkts_toserver\":3",
          "\"direction\":\"to_server\""}) {
        EXPECT_NE(line.find(want), std::string::npos) << want << " not in " << line;
    }
}

// Every sink attached to the writer gets every record, formatted once, in order, with its
// type; a sink that cannot write (a full disk) fails close() without taking a record from
// the others.
TEST(EveTest, EverySinkGetsEveryRecordAndAFailedSinkIsReported) {
    TempDir d;
    const auto path = d.path() + "/eve.json";
    auto eve = EveWriter::open(path, "edge-01");
    ASSERT_TRUE(eve.ok());
    MemorySink mem;
    (*eve)->add_sink(mem);
    auto full = EveFileSink::open("/dev/full");
    ASSERT_TRUE(full.ok()) << full.error().message;
    (*eve)->add_sink(std::move(full.value()));
    auto rule =
        rules::parse_rule(R"(drop tcp any any -> any any (msg:"m"; content:"x"; sid:7; rev:1;))",
                          rules::default_vars());
    ASSERT_TRUE(rule.ok()) << rule.error().message;
    AlertRecord a = tcp_record();
    a.anomaly_type = "stream";
    a.anomaly_event = "reassembly_overlap_different_data";
    (*eve)->write_anomaly(a);
    a.anomaly_type = a.anomaly_event = nullptr;
    (*eve)->write_alert(a, *rule, true);
    (*eve)->write_drop(a);
    (*eve)->write_stats(SensorCounters{}, a.ts_sec, 0);
    const Status closed = (*eve)->close();
    ASSERT_FALSE(closed.ok());
    EXPECT_NE(closed.error().message.find("/dev/full: write failed"), std::string::npos)
        << closed.error().message;
    EXPECT_EQ((*eve)->records(), 4U);
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string l; std::getline(in, l);) {
        lines.push_back(l);
    }
    ASSERT_EQ(mem.records.size(), 4U);
    ASSERT_EQ(lines.size(), 4U);
    const RecordType want[] = {RecordType::Anomaly, RecordType::Alert, RecordType::Drop,
                               RecordType::Stats};
    for (size_t i = 0; i < 4; ++i) {
        EXPECT_EQ(mem.records[i].json, lines[i]);
        EXPECT_EQ(mem.records[i].type, want[i]);
        const std::string type =
            std::string("\"event_type\":\"") + record_type_name(want[i]) + "\"";
        EXPECT_NE(lines[i].find(type), std::string::npos) << lines[i];
    }
}

class FilterTest : public ::testing::Test {
protected:
    void load(const std::string& text, const rules::Vars& vars = rules::default_vars()) {
        auto r = rules::parse_rule(text, vars);
        ASSERT_TRUE(r.ok()) << r.error().message;
        std::vector<rules::Rule> v;
        v.push_back(std::move(r.value()));
        rules::LoadReport rep;
        auto rs = rules::RuleSet::compile(std::move(v), rep);
        ASSERT_TRUE(rs.ok());
        rs_ = *rs;
        filter_ = std::make_unique<AlertFilter>(*rs_, vars);
    }
    // How many of `n` alerts (one per second from `src`) pass.
    int passed(int n, const char* src = "10.0.0.1", int64_t step = 1) {
        int k = 0;
        for (int i = 0; i < n; ++i) {
            AlertRecord a;
            const rules::Rule& r = rs_->rule(0);
            a.ruleset_id = rs_->id();
            a.gid = r.gid;
            a.sid = r.sid;
            a.rev = r.rev;
            a.ts_sec = 1000 + i * step;
            a.src = v4(src);
            a.dst = v4("10.9.9.9");
            k += filter_->pass(a) ? 1 : 0;
        }
        return k;
    }
    rules::RuleSetPtr rs_;
    std::unique_ptr<AlertFilter> filter_;
};

TEST_F(FilterTest, LimitPerSourceAndWindow) {
    load(
        R"(alert tcp any any -> any any (msg:"x"; threshold:type limit, track by_src, count 2, seconds 60; sid:1;))");
    EXPECT_EQ(passed(10), 2);
    EXPECT_EQ(passed(10, "10.0.0.2"), 2);  // another source has its own count
    // One alert every 20 s; a window opens at its first alert and lasts 60 s: t=0, 20 pass,
    // 40 is held, 60 opens the next window (60, 80 pass), 100 is held.
    load(
        R"(alert tcp any any -> any any (msg:"x"; threshold:type limit, track by_src, count 2, seconds 60; sid:1;))");
    EXPECT_EQ(passed(6, "10.0.0.1", 20), 4);
}

TEST_F(FilterTest, ThresholdEveryNth) {
    load(
        R"(alert tcp any any -> any any (msg:"x"; threshold:type threshold, track by_rule, count 3, seconds 600; sid:1;))");
    EXPECT_EQ(passed(10), 3);  // the 3rd, 6th and 9th
}

TEST_F(FilterTest, BothOncePerWindowAfterCount) {
    load(
        R"(alert tcp any any -> any any (msg:"x"; threshold:type both, track by_src, count 3, seconds 600; sid:1;))");
    EXPECT_EQ(passed(10), 1);
}

TEST_F(FilterTest, BackoffAlertsAtCountTimesPowersOfTheMultiplier) {
    load(
        R"(alert tcp any any -> any any (msg:"x"; threshold:type backoff, track by_flow, count 1, multiplier 10; sid:1;))");
    EXPECT_EQ(passed(1000), 4);  // the 1st, 10th, 100th and 1000th
    load(
        R"(alert tcp any any -> any any (msg:"x"; threshold:type backoff, track by_flow, count 2, multiplier 3; sid:1;))");
    EXPECT_EQ(passed(53), 3);  // the 2nd, 6th, 18th; the 54th would be next
    EXPECT_EQ(passed(1), 1);
    // Backoff has no window: a month between matches changes nothing.
    load(
        R"(alert tcp any any -> any any (msg:"x"; threshold:type backoff, track by_flow, count 2, multiplier 2; sid:1;))");
    EXPECT_EQ(passed(4, "10.0.0.1", 30 * 86400), 2);  // the 2nd and 4th
}

TEST_F(FilterTest, DetectionFilterUniqueOnCountsDistinctPorts) {
    load(
        R"(alert tcp any any -> any any (msg:"x"; detection_filter:track by_dst, count 2, seconds 60, unique_on dst_port; sid:1;))");
    const auto pass = [&](uint16_t dport, int64_t t) {
        AlertRecord a;
        const rules::Rule& r = rs_->rule(0);
        a.ruleset_id = rs_->id();
        a.gid = r.gid;
        a.sid = r.sid;
        a.ts_sec = t;
        a.src = v4("10.0.0.1");
        a.dst = v4("10.9.9.9");
        a.sport = 40000;
        a.dport = dport;
        a.has_ports = true;
        return filter_->pass(a);
    };
    EXPECT_FALSE(pass(80, 1000));
    EXPECT_FALSE(pass(80, 1001));  // the same port again: still one
    EXPECT_FALSE(pass(81, 1002));  // two distinct ports: not more than 2
    EXPECT_FALSE(pass(81, 1003));
    EXPECT_TRUE(pass(82, 1004));   // the third distinct port
    EXPECT_TRUE(pass(80, 1005));   // past the count, every match in the window
    EXPECT_FALSE(pass(83, 1100));  // a new window starts counting again
}

TEST_F(FilterTest, DetectionFilterAfterCount) {
    load(
        R"(alert tcp any any -> any any (msg:"x"; detection_filter:track by_src, count 3, seconds 600; sid:1;))");
    EXPECT_EQ(passed(10), 7);  // the 4th onwards
}

TEST_F(FilterTest, SuppressFromThresholdConfig) {
    rules::Vars vars = rules::default_vars();
    TempDir d;
    const auto p =
        d.file("threshold.config", "suppress gen_id 1, sig_id 1, track by_src, ip 10.0.0.1\n");
    ASSERT_TRUE(rules::load_threshold_file(p, vars).ok());
    load(R"(alert tcp any any -> any any (msg:"x"; sid:1;))", vars);
    EXPECT_EQ(passed(5, "10.0.0.1"), 0);
    EXPECT_EQ(passed(5, "10.0.0.2"), 5);
}

// Alert records name their rule by (gid, sid) and the rule set it matched in, not by its
// place in one set: a record from another set (after a swap, the same rule at another
// place) finds its rule, thresholds follow the rule, and a rule the set no longer has is
// counted instead of being written under another rule's name.
TEST(AlertOutputTest, RecordsNameTheirRuleByIdentity) {
    auto compile = [](const std::vector<std::string>& texts) {
        std::vector<rules::Rule> v;
        for (const auto& t : texts) {
            auto r = rules::parse_rule(t, rules::default_vars());
            EXPECT_TRUE(r.ok()) << r.error().message;
            v.push_back(std::move(r.value()));
        }
        rules::LoadReport rep;
        auto rs = rules::RuleSet::compile(std::move(v), rep);
        EXPECT_TRUE(rs.ok());
        return *rs;
    };
    const std::string limited =
        R"(alert tcp any any -> any any (msg:"limited"; content:"x"; threshold:type limit, track by_src, count 1, seconds 60; sid:1; rev:2;))";
    const auto current = compile({limited});
    const auto older = compile(
        {R"(alert tcp any any -> any any (msg:"other"; content:"y"; sid:5; rev:1;))", limited});
    ASSERT_NE(current->id(), older->id());
    const uint32_t older_index = *older->index_of(1, 1);
    ASSERT_NE(older_index, 0U);  // not its place in `current`
    EveWriter eve("t");
    MemorySink mem;
    eve.add_sink(mem);
    AlertOutput out(current, rules::default_vars(), eve, false, false);
    AlertRecord a;
    a.ts_sec = 1000;
    a.src = v4("10.0.0.1");
    a.ruleset_id = older->id();
    a.gid = 1;
    a.sid = 1;
    a.rev = 2;
    a.rule_order = older_index;
    EXPECT_EQ(out.write(a).rule, &current->rule(0));
    a.ts_sec = 1001;
    EXPECT_EQ(out.write(a).rule, nullptr);  // the rule's threshold (limit 1) holds it
    a.sid = 5;
    a.rule_order = 0;
    EXPECT_EQ(out.write(a).rule, nullptr);
    EXPECT_EQ(out.unknown_rules(), 1U);
    ASSERT_EQ(mem.records.size(), 1U);
    EXPECT_NE(mem.records[0].json.find("\"signature_id\":1,"), std::string::npos)
        << mem.records[0].json;
}

TEST(ConfigTest, LoadsDesignExampleAndResolvesPaths) {
    TempDir d;
    const auto p = d.file("sensor.yaml", R"(sensor-id: edge-01
capture:
  method: dpdk
  eal: ["--no-huge", "-m", "512"]
  ports: [net_pcap0]
  inline-pairs: []
  workers: 2
  exit-on-idle-ms: 0
rules: [packs/active]
vars: vars.yaml
outputs:
  eve: {path: eve.json}
  zmq: {endpoint: "ipc:///run/vigil/mgmt.sock", spool: /var/lib/vigil/spool, spool-max-mb: 1024}
ips:
  enabled: false
  nft: {table: vigil, block-timeout-s: 3600, allowlist: ["198.51.100.0/24"]}
)");
    auto c = load_sensor_config(p);
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_EQ(c->sensor_id, "edge-01");
    EXPECT_EQ(c->workers, 2u);
    EXPECT_EQ(c->rules[0], d.path() + "/packs/active");
    EXPECT_EQ(c->eve_path, d.path() + "/eve.json");
    EXPECT_EQ(c->allowlist[0], "198.51.100.0/24");
}

// One rule for every path in the file: relative to the file's folder, including the files
// named inside EAL arguments; absolute paths and what is not a path stay as written.
TEST(ConfigTest, EalFilePathsResolveAgainstTheConfigFolder) {
    TempDir d;
    const auto p = d.file("sensor.yaml", R"(capture:
  method: dpdk
  eal: ["--no-huge", "-l", "0-1", "--vdev=net_pcap0,rx_pcap=in.pcap,tx_pcap=/abs/out.pcap",
        "--vdev", "net_pcap1,rx_pcap=../x/in2.pcap", "--vdev=net_ring0",
        "--vdev=net_af_packet0,iface=eth1", "-d", "drivers/librte_x.so", "--huge-dir=huge",
        "--file-prefix", "vigil"]
  ports: [net_pcap0]
rules: [r.rules]
engine: {init-failure-fatal: true, rules-cache: cache/hs}
)");
    auto c = load_sensor_config(p);
    ASSERT_TRUE(c.ok()) << c.error().message;
    const std::string dir = d.path();
    const std::string parent = fs::path(dir).parent_path().string();
    EXPECT_EQ(c->eal,
              (std::vector<std::string>{
                  "--no-huge", "-l", "0-1",
                  "--vdev=net_pcap0,rx_pcap=" + dir + "/in.pcap,tx_pcap=/abs/out.pcap", "--vdev",
                  "net_pcap1,rx_pcap=" + parent + "/x/in2.pcap", "--vdev=net_ring0",
                  "--vdev=net_af_packet0,iface=eth1", "-d", dir + "/drivers/librte_x.so",
                  "--huge-dir=" + dir + "/huge", "--file-prefix", "vigil"}));
    EXPECT_TRUE(c->init_failure_fatal);
    EXPECT_EQ(c->rules_cache, dir + "/cache/hs");
    auto dflt = load_sensor_config(d.file("s2.yaml", "sensor-id: x\n"));
    ASSERT_TRUE(dflt.ok());
    EXPECT_FALSE(dflt->init_failure_fatal);
    EXPECT_EQ(dflt->rules_cache, "");  // off unless configured
    auto empty = load_sensor_config(d.file("s3.yaml", "engine: {rules-cache: \"\"}\n"));
    ASSERT_FALSE(empty.ok());
    EXPECT_NE(empty.error().message.find("engine.rules-cache: empty path"), std::string::npos)
        << empty.error().message;
}

// The replay summary: a rate only for a run long enough to measure one; flows whose
// protocol was not identified said so in words; the 20 most frequent signatures.
TEST(SummaryTest, ThroughputOnlyWhenMeasurableAndSignaturesCapped) {
    ReplayResult r;
    r.counters.packets = 2000000;
    r.counters.bytes = 250000000;
    r.counters.seconds = 2.0;
    r.counters.app.flows[static_cast<size_t>(dataplane::app::AppProto::Failed)] = 40;
    r.counters.app.flows[static_cast<size_t>(dataplane::app::AppProto::Http)] = 27;
    for (uint32_t sid = 1; sid <= 25; ++sid) {
        r.by_sid[sid] = SidCount{"sig " + std::to_string(sid), 100 - sid};
    }
    std::string s = format_summary(r);
    EXPECT_NE(s.find("throughput 1.000 Gbit/s, 1000000 packets/s (2.000 s)"), std::string::npos)
        << s;
    EXPECT_NE(s.find("flows: http 27; protocol not identified 40"), std::string::npos) << s;
    EXPECT_EQ(s.find("failed"), std::string::npos) << s;
    EXPECT_NE(s.find("sig 20\n"), std::string::npos) << s;
    EXPECT_EQ(s.find("sig 21\n"), std::string::npos) << s;
    // sids 21..25: 79 + 78 + 77 + 76 + 75 alerts
    EXPECT_NE(s.find("385  alerts of 5 more signatures (all in the EVE output)"), std::string::npos)
        << s;
    r.counters.seconds = 0.061;
    s = format_summary(r);
    EXPECT_EQ(s.find("Gbit/s"), std::string::npos) << s;
    EXPECT_NE(s.find("time       0.061 s (too short a replay for a throughput figure)"),
              std::string::npos)
        << s;
}

// The run summary: its overall rate only for a run of at least a second.
TEST(SummaryTest, RunRateOnlyWhenMeasurable) {
    LiveResult r;
    r.stop_reason = "SIGTERM";
    r.counters.packets = 4000;
    r.counters.bytes = 400000;
    r.counters.seconds = 2.0;
    std::string s = format_live_summary(r);
    EXPECT_NE(s.find("packets    4000 (400000 bytes) in 2.000 s, 2000 packets/s\n"),
              std::string::npos)
        << s;
    r.counters.seconds = 0.4;
    s = format_live_summary(r);
    EXPECT_NE(s.find("packets    4000 (400000 bytes) in 0.400 s\n"), std::string::npos) << s;
    EXPECT_EQ(s.find("packets/s"), std::string::npos) << s;
}

// The optional EVE records: off by default (packet data is confidential; flow and periodic
// stats records are Suricata options), each switched on by its outputs.eve key.
TEST(ConfigTest, OptionalEveRecordsAreOffByDefaultAndTakeTheirKeys) {
    TempDir d;
    auto plain = load_sensor_config(d.file("a.yaml", "outputs:\n  eve: {path: eve.json}\n"));
    ASSERT_TRUE(plain.ok()) << plain.error().message;
    EXPECT_FALSE(plain->pipeline.flow_records);
    EXPECT_EQ(plain->stats_interval_s, 0U);
    EXPECT_FALSE(plain->pipeline.eve_alert.wants_payload());
    EXPECT_FALSE(plain->pipeline.eve_alert.packet);
    auto c = load_sensor_config(d.file("b.yaml", R"(outputs:
  eve:
    path: eve.json
    flow: true
    stats-interval-s: 8
    payload: yes
    payload-printable: true
    payload-buffer-size: 1kb
    packet: true
)"));
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_TRUE(c->pipeline.flow_records);
    EXPECT_EQ(c->stats_interval_s, 8U);
    EXPECT_TRUE(c->pipeline.eve_alert.payload);
    EXPECT_TRUE(c->pipeline.eve_alert.payload_printable);
    EXPECT_EQ(c->pipeline.eve_alert.payload_buffer_size, 1024U);
    EXPECT_TRUE(c->pipeline.eve_alert.packet);
    auto bad = load_sensor_config(d.file("c.yaml", "outputs:\n  eve:\n    stats-interval-s: x\n"));
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message.find("outputs.eve.stats-interval-s"), std::string::npos)
        << bad.error().message;
}

TEST(ConfigTest, UnknownKeyIsAnErrorWithLine) {
    TempDir d;
    auto c = load_sensor_config(d.file("s.yaml", "sensor-id: a\ncapture:\n  wrokers: 2\n"));
    ASSERT_FALSE(c.ok());
    EXPECT_NE(c.error().message.find("s.yaml:3: unknown key 'capture.wrokers'"), std::string::npos)
        << c.error().message;
    auto c2 = load_sensor_config(d.file("t.yaml", "capture:\n  workers: two\n"));
    ASSERT_FALSE(c2.ok());
    EXPECT_NE(c2.error().message.find("t.yaml:2"), std::string::npos) << c2.error().message;
}

// The worker -> control thread ring: bounded, nothing lost, nothing reordered, under real
// concurrency (a producer faster than the consumer keeps finding it full).
TEST(SpscRingTest, BoundedAndLosesNothingAcrossThreads) {
    SpscRing<std::string> ring(5);  // rounded up to 8
    EXPECT_EQ(ring.capacity(), 8U);
    for (int i = 0; i < 8; ++i) {
        std::string v = std::to_string(i);
        ASSERT_TRUE(ring.push(v));
    }
    std::string extra = "x";
    EXPECT_FALSE(ring.push(extra));
    EXPECT_EQ(extra, "x");  // a refused value is left to the caller
    std::string out;
    for (int i = 0; i < 8; ++i) {
        ASSERT_TRUE(ring.pop(out));
        EXPECT_EQ(out, std::to_string(i));
    }
    EXPECT_FALSE(ring.pop(out));

    constexpr int kItems = 200000;
    uint64_t full = 0;
    std::thread producer([&] {
        for (int i = 0; i < kItems; ++i) {
            std::string v = "alert-" + std::to_string(i);
            while (!ring.push(v)) {
                ++full;
                std::this_thread::yield();
            }
        }
    });
    // The consumer starts late: the producer meets a full ring for certain.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    int next = 0;
    while (next < kItems) {
        if (ring.pop(out)) {
            ASSERT_EQ(out, "alert-" + std::to_string(next));
            ++next;
        }
    }
    producer.join();
    EXPECT_FALSE(ring.pop(out));
    EXPECT_GT(full, 0U);  // the bound was really exercised
}

// rate_filter (threshold.config): the action of a rule's matches changes once it matched more
// than `count` times in `seconds`, for `timeout` seconds, per tracked address or pair.
dataplane::Packet rate_pkt(const char* src, const char* dst, int64_t sec) {
    dataplane::Packet p;
    p.src = v4(src);
    p.dst = v4(dst);
    p.ts_sec = sec;
    return p;
}

rules::Vars rate_vars(rules::Threshold::Track track, rules::Action action, uint32_t count = 1,
                      uint32_t seconds = 60, uint32_t timeout = 100) {
    rules::Vars v = rules::default_vars();
    rules::RateFilter rf;
    rf.track = track;
    rf.count = count;
    rf.seconds = seconds;
    rf.new_action = action;
    rf.timeout = timeout;
    v.rate_filters[{1, 7}] = rf;
    return v;
}

TEST(RateFilterTest, ActionChangesPastTheCountForTheTimeout) {
    using T = rules::Threshold::Track;
    RateFilter f(rate_vars(T::ByRule, rules::Action::Drop, /*count=*/2));
    EXPECT_FALSE(f.apply(1, 7, rate_pkt("10.0.0.1", "10.0.0.2", 0)));  // 1st: the rule's own
    EXPECT_FALSE(f.apply(1, 7, rate_pkt("10.0.0.3", "10.0.0.2", 1)));  // 2nd: still within
    EXPECT_EQ(f.apply(1, 7, rate_pkt("10.0.0.4", "10.0.0.2", 2)), rules::Action::Drop);
    EXPECT_EQ(f.apply(1, 7, rate_pkt("10.0.0.4", "10.0.0.2", 50)), rules::Action::Drop);
    EXPECT_EQ(f.changed(), 2U);
    // Another rule is not filtered.
    EXPECT_FALSE(f.apply(1, 8, rate_pkt("10.0.0.4", "10.0.0.2", 50)));
    // After the timeout (100 s from the change at t=2) the rule's action comes back.
    EXPECT_FALSE(f.apply(1, 7, rate_pkt("10.0.0.4", "10.0.0.2", 103)));
}

TEST(RateFilterTest, CountsPerTrackedAddress) {
    using T = rules::Threshold::Track;
    RateFilter src(rate_vars(T::BySrc, rules::Action::Pass));
    EXPECT_FALSE(src.apply(1, 7, rate_pkt("10.0.0.1", "10.0.0.2", 0)));
    EXPECT_FALSE(src.apply(1, 7, rate_pkt("10.0.0.2", "10.0.0.1", 0)));  // the other side
    EXPECT_EQ(src.apply(1, 7, rate_pkt("10.0.0.1", "10.0.0.9", 1)), rules::Action::Pass);
    EXPECT_EQ(src.apply(1, 7, rate_pkt("10.0.0.2", "10.0.0.1", 1)), rules::Action::Pass);
    // by_both: one pair, whichever way the packet goes.
    RateFilter both(rate_vars(T::ByBoth, rules::Action::Alert));
    EXPECT_FALSE(both.apply(1, 7, rate_pkt("10.0.0.1", "10.0.0.2", 0)));
    EXPECT_EQ(both.apply(1, 7, rate_pkt("10.0.0.2", "10.0.0.1", 0)), rules::Action::Alert);
    EXPECT_FALSE(both.apply(1, 7, rate_pkt("10.0.0.1", "10.0.0.3", 0)));
}

TEST(RateFilterTest, TheWindowRestartsAndAReloadRebinds) {
    using T = rules::Threshold::Track;
    RateFilter f(rate_vars(T::ByDst, rules::Action::Reject, /*count=*/1, /*seconds=*/10));
    EXPECT_FALSE(f.apply(1, 7, rate_pkt("10.0.0.1", "10.0.0.2", 0)));
    EXPECT_FALSE(f.apply(1, 7, rate_pkt("10.0.0.1", "10.0.0.2", 20)));  // a new window
    EXPECT_EQ(f.apply(1, 7, rate_pkt("10.0.0.1", "10.0.0.2", 25)), rules::Action::Reject);
    f.rebind(rules::default_vars());  // the reloaded vars have no rate_filter
    EXPECT_FALSE(f.apply(1, 7, rate_pkt("10.0.0.1", "10.0.0.2", 26)));
}

}  // namespace
}  // namespace vigil::sensor
