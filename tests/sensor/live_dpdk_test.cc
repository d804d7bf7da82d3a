// `run` over DPDK virtual devices, in one process (the EAL starts once per process): net_pcap
// ports give the same alerts as `replay` on the same pcap; inline pairs forward what the
// rules allow and drop the rest; start-up errors name the problem; overload is counted.
// Needs no NIC and no hugepages (--no-huge --no-pci). The process runs in a network namespace
// of its own: IPS runs block in nftables, and only that namespace sees it.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>
#include <tuple>

#include "dataplane/dpdk.h"
#include "dataplane/pcap_mmap_source.h"
#include "rules/rule_parser.h"
#include "rules/ruleset.h"
#include "sensor/config.h"
#include "sensor/eve_writer.h"
#include "sensor/live.h"
#include "sensor/nft.h"
#include "sensor/replay.h"
#include "tests/dataplane/packet_builder.h"
#include "tests/sensor/private_netns.h"

#include <nlohmann/json.hpp>

namespace vigil::sensor {
namespace {

namespace fs = std::filesystem;
using test::Bytes;

const std::string kRoot = VIGIL_ROOT;

class EalEnv : public ::testing::Environment {
public:
    void SetUp() override {
        // First, before the EAL starts its threads: namespaces are per thread.
        const std::string isolated = test::enter_private_netns();
        ASSERT_EQ(isolated, "") << "cannot enter a private network namespace";
        // Three lcores (main + 2 workers) over however many CPUs there are.
        const unsigned cpus = std::max(1U, std::thread::hardware_concurrency());
        const std::string workers_cpu = cpus > 1 ? "1" : "0";
        const std::vector<std::string> args = {"--no-huge",
                                               "-m",
                                               "1024",
                                               "--no-pci",
                                               "--no-shconf",
                                               "--no-telemetry",
                                               "--log-level=*:error",
                                               "--lcores=0@0,(1,2)@" + workers_cpu};
        auto st = dataplane::dpdk::init_eal(args);
        ASSERT_TRUE(st) << st.error().message;
    }
    void TearDown() override { dataplane::dpdk::cleanup_eal(); }
};
const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new EalEnv);

class TempDir {
public:
    TempDir() {
        char tmpl[] = "/tmp/vigil-live-test-XXXXXX";
        path_ = mkdtemp(tmpl);
    }
    ~TempDir() { fs::remove_all(path_); }
    std::string path(const std::string& name) const { return (fs::path(path_) / name).string(); }
    std::string write(const std::string& name, const std::string& content) const {
        std::ofstream(path(name)) << content;
        return path(name);
    }

private:
    std::string path_;
};

// Classic pcap, Ethernet, microsecond timestamps.
void write_pcap(const std::string& path, const std::vector<Bytes>& frames) {
    std::ofstream out(path, std::ios::binary);
    auto u32 = [&](uint32_t v) { out.write(reinterpret_cast<const char*>(&v), 4); };
    auto u16 = [&](uint16_t v) { out.write(reinterpret_cast<const char*>(&v), 2); };
    u32(0xa1b2c3d4);
    u16(2);
    u16(4);
    u32(0);
    u32(0);
    u32(65535);
    u32(1);
    uint32_t t = 1700000000;
    for (const auto& f : frames) {
        u32(t);
        u32(0);
        u32(static_cast<uint32_t>(f.size()));
        u32(static_cast<uint32_t>(f.size()));
        out.write(reinterpret_cast<const char*>(f.data()), static_cast<std::streamsize>(f.size()));
    }
}

bool is_ethernet(const std::string& path) {
    auto src = dataplane::open_pcap_file(path);
    std::array<dataplane::RawFrame, 1> fr{};
    return src && (*src)->next_burst(fr) == 1 && fr[0].link == dataplane::LinkType::Ethernet;
}

std::vector<Bytes> read_pcap_frames(const std::string& path) {
    std::vector<Bytes> out;
    auto src = dataplane::open_pcap_file(path);
    if (!src) {
        return out;
    }
    std::array<dataplane::RawFrame, 32> fr{};
    for (;;) {
        const size_t n = (*src)->next_burst(fr);
        if (n == 0) {
            break;
        }
        for (size_t i = 0; i < n; ++i) {
            out.emplace_back(fr[i].data, fr[i].data + fr[i].cap_len);
        }
    }
    return out;
}

Bytes udp_frame(const test::Ip4& src, const test::Ip4& dst, uint16_t sport, uint16_t dport,
                const char* payload) {
    return test::ether(test::kTypeIpv4,
                       test::ipv4(17, src, dst, test::udp(sport, dport, test::text(payload))));
}

// A midstream TCP segment (ACK|PSH, seq 1000, ack 5000).
Bytes tcp_frame(const test::Ip4& src, const test::Ip4& dst, uint16_t sport, uint16_t dport,
                const char* payload) {
    test::TcpOpts o;
    o.seq = 1000;
    o.ack = 5000;
    return test::ether(test::kTypeIpv4,
                       test::ipv4(6, src, dst,
                                  test::tcp(sport, dport, dataplane::kTcpAck | dataplane::kTcpPsh,
                                            test::text(payload), o)));
}

bool contains(const Bytes& b, const std::string& s) {
    return std::search(b.begin(), b.end(), s.begin(), s.end()) != b.end();
}

// (sid, src, sport, dst, dport, action) of every alert in an EVE file.
using AlertKey = std::tuple<uint32_t, std::string, int, std::string, int, std::string>;
std::multiset<AlertKey> eve_alerts(const std::string& path) {
    std::multiset<AlertKey> out;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        const auto j = nlohmann::json::parse(line);
        if (j["event_type"] != "alert") {
            continue;
        }
        out.emplace(j["alert"]["signature_id"].get<uint32_t>(), j["src_ip"].get<std::string>(),
                    j.value("src_port", 0), j["dest_ip"].get<std::string>(),
                    j.value("dest_port", 0), j["alert"]["action"].get<std::string>());
    }
    return out;
}

int g_dev = 0;  // vdev names are never reused in a process

struct Loaded {
    rules::Vars vars;
    rules::RuleSetPtr rules;
};

Loaded load(const std::vector<std::string>& paths) {
    Loaded l;
    l.vars = rules::default_vars();
    rules::LoadReport report;
    auto rs = rules::RuleSet::load(paths, l.vars, report);
    EXPECT_TRUE(rs) << (rs ? "" : rs.error().message);
    EXPECT_TRUE(report.rejected.empty());
    if (rs) {
        l.rules = *rs;
    }
    return l;
}

SensorConfig base_config(const std::string& eve) {
    auto c = load_sensor_config(kRoot + "/pcaps/replay.yaml");  // the corpus' host-os-policy
    EXPECT_TRUE(c);
    SensorConfig cfg = *c;
    cfg.path = "test.yaml";
    cfg.has_capture = true;
    cfg.capture_method = "dpdk";
    cfg.eal = {"--no-huge"};  // the EAL is already up: ignored
    cfg.workers = 1;
    cfg.exit_on_idle_ms = 300;
    cfg.idle_sleep_us = 100;
    cfg.rules = {"(in memory)"};
    cfg.eve_path = eve;
    return cfg;
}

Result<LiveResult> run(const SensorConfig& cfg, const Loaded& l) {
    auto eve = EveWriter::open(cfg.eve_path, "test");
    EXPECT_TRUE(eve);
    LiveOptions o;
    o.config = &cfg;
    std::string log_path = cfg.eve_path + ".log";
    std::FILE* log = std::fopen(log_path.c_str(), "w");
    o.log = log;
    auto r = run_live(o, l.rules, l.vars, **eve);
    std::fclose(log);
    EXPECT_TRUE((*eve)->close());
    return r;
}

// `replay` of `pcap` with cfg's pipeline, into cfg.eve_path.
void replay_to(const SensorConfig& cfg, const std::string& pcap, const Loaded& l) {
    auto eve = EveWriter::open(cfg.eve_path, "test");
    ASSERT_TRUE(eve);
    ReplayOptions ro;
    ro.pcaps = {pcap};
    ro.pipeline = cfg.pipeline;
    auto r = run_replay(ro, l.rules, l.vars, **eve);
    ASSERT_TRUE(r);
    ASSERT_TRUE((*eve)->close());
}

std::string probe_pcap(const std::string& rx, const std::string& tx = "") {
    const std::string name = "net_pcap" + std::to_string(g_dev++);
    std::string args = name + ",rx_pcap=" + rx;
    if (!tx.empty()) {
        args += ",tx_pcap=" + tx;
    }
    auto st = dataplane::dpdk::probe_device(args);
    EXPECT_TRUE(st) << (st ? "" : st.error().message);
    return name;
}

// Every Ethernet pcap of the replay corpus, through a net_pcap port: the alerts `replay`
// raises on it. net_pcap hands over each record's file time, so time-based rules (thresholds,
// detection_filter, flow timeouts) see what replay sees.
TEST(LiveDpdk, NetPcapGivesTheAlertsOfReplay) {
    TempDir d;
    const Loaded l = load({kRoot + "/rules/default"});
    std::vector<std::string> pcaps;
    for (const auto& e : fs::directory_iterator(kRoot + "/pcaps")) {
        // A DPDK port is Ethernet: the corpus' Linux SLL and raw-IP captures are replay-only.
        if (e.path().extension() == ".pcap" && is_ethernet(e.path().string())) {
            pcaps.push_back(e.path().string());
        }
    }
    std::sort(pcaps.begin(), pcaps.end());
    ASSERT_GE(pcaps.size(), 48U);
    size_t total_alerts = 0;
    for (const auto& pcap : pcaps) {
        SCOPED_TRACE(pcap);
        SensorConfig cfg = base_config(d.path("replay.json"));
        replay_to(cfg, pcap, l);
        // run, net_pcap
        cfg.eve_path = d.path("live.json");
        cfg.ports = {probe_pcap(pcap)};
        auto r = run(cfg, l);
        ASSERT_TRUE(r) << r.error().message;
        const auto want = eve_alerts(d.path("replay.json"));
        EXPECT_EQ(eve_alerts(d.path("live.json")), want);
        EXPECT_EQ(r->counters.packets, read_pcap_frames(pcap).size());
        EXPECT_EQ(r->counters.ports.at(0).ipackets, r->counters.packets);
        EXPECT_NE(r->stop_reason.find("exit-on-idle"), std::string::npos) << r->stop_reason;
        total_alerts += want.size();
    }
    EXPECT_GE(total_alerts, 50U);  // the corpus alerts: the comparison is not vacuous
}

std::vector<nlohmann::json> eve_records(const std::string& path, const std::string& type) {
    std::vector<nlohmann::json> out;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        auto j = nlohmann::json::parse(line);
        if (j["event_type"] == type) {
            out.push_back(std::move(j));
        }
    }
    return out;
}

// outputs.eve.stats-interval-s and outputs.eve.flow in `run`: a stats record every second
// while the sensor idles after the capture, whose counters reach what was captured, and the
// flow records `replay` writes for the same pcap.
TEST(LiveDpdk, PeriodicStatsAndFlowRecords) {
    TempDir d;
    const Loaded l = load({kRoot + "/rules/default"});
    const std::string pcap = kRoot + "/pcaps/01-http-established.pcap";
    const size_t frames = read_pcap_frames(pcap).size();
    SensorConfig cfg = base_config(d.path("replay.json"));
    cfg.pipeline.flow_records = true;
    cfg.stats_interval_s = 1;
    cfg.exit_on_idle_ms = 2600;  // two records at least, after the packets
    replay_to(cfg, pcap, l);
    cfg.eve_path = d.path("live.json");
    cfg.ports = {probe_pcap(pcap)};
    auto r = run(cfg, l);
    ASSERT_TRUE(r) << r.error().message;
    const auto stats = eve_records(d.path("live.json"), "stats");
    ASSERT_GE(stats.size(), 2U);
    // Totals since the start: never going down; the last one has every packet and flow.
    for (size_t i = 1; i < stats.size(); ++i) {
        EXPECT_GE(stats[i]["stats"]["decoder"]["pkts"], stats[i - 1]["stats"]["decoder"]["pkts"]);
        EXPECT_GE(stats[i]["stats"]["uptime"], stats[i - 1]["stats"]["uptime"]);
    }
    const auto& last = stats.back()["stats"];
    EXPECT_EQ(last["decoder"]["pkts"].get<size_t>(), frames);
    EXPECT_EQ(last["decoder"]["ipv4"].get<size_t>(), frames);
    EXPECT_EQ(last["decoder"]["tcp"].get<size_t>(), frames);
    EXPECT_EQ(last["flow"]["total"], 1);
    EXPECT_EQ(last["capture"]["kernel_packets"].get<size_t>(), frames);
    EXPECT_GE(last["uptime"], 1);
    // The flow record of run is replay's (ended by the stop rather than the input's end).
    auto flows_of = [](std::vector<nlohmann::json> v) {
        for (auto& f : v) {
            f.erase("timestamp");  // the same packet times (net_pcap), kept in flow.end
            f.erase("host");
            f["flow"].erase("reason");
        }
        return v;
    };
    const auto live_flows = flows_of(eve_records(d.path("live.json"), "flow"));
    ASSERT_EQ(live_flows.size(), 1U);
    EXPECT_EQ(live_flows, flows_of(eve_records(d.path("replay.json"), "flow")));
    EXPECT_EQ(live_flows[0]["flow"]["state"], "closed");
    EXPECT_EQ(live_flows[0]["flow"]["pkts_toserver"].get<size_t>() +
                  live_flows[0]["flow"]["pkts_toclient"].get<size_t>(),
              frames);
}

// An inline pair of net_pcap ports: what comes in on one goes out of the other, except the
// packets a drop rule matches and the rest of their flow.
TEST(LiveDpdk, InlinePairForwardsAllowedAndDropsMatched) {
    TempDir d;
    const std::string rules = d.write("ips.rules",
                                      "drop udp any any -> any 5353 (msg:\"drop canary\"; "
                                      "content:\"VIGIL-DROP\"; sid:1; rev:1;)\n"
                                      "alert udp any any -> any 53 (msg:\"alert canary\"; "
                                      "content:\"VIGIL-ALERT\"; sid:2; rev:1;)\n"
                                      "reject tcp any any -> any 80 (msg:\"reject canary\"; "
                                      "content:\"VIGIL-REJECT\"; sid:4; rev:1;)\n");
    const Loaded l = load({rules});
    const test::Ip4 a{10, 1, 0, 1};
    const test::Ip4 b{10, 2, 0, 1};
    const std::vector<Bytes> in = {
        udp_frame(a, b, 1000, 5353, "hello-1"),     // same flow, before the match: forwarded
        udp_frame(a, b, 1000, 5353, "VIGIL-DROP"),  // dropped
        udp_frame(a, b, 1000, 5353, "after-drop"),  // the flow is dropped: dropped too
        udp_frame(b, a, 5353, 1000, "reply"),       // its reply direction: dropped
        udp_frame(a, b, 2000, 53, "VIGIL-ALERT"),   // alert rule: forwarded
        udp_frame(a, b, 2001, 5353, "other-flow"),  // another flow: forwarded
        tcp_frame(a, b, 3000, 80, "VIGIL-REJECT"),  // rejected: dropped, a reset goes back
    };
    write_pcap(d.path("in.pcap"), in);
    write_pcap(d.path("empty.pcap"), {});
    for (const bool ips : {true, false}) {
        SCOPED_TRACE(ips ? "ips.enabled" : "ips disabled");
        SensorConfig cfg = base_config(d.path("eve.json"));
        cfg.ips_enabled = ips;
        const std::string out_b = d.path(ips ? "b-ips.pcap" : "b-ids.pcap");
        const std::string out_a = d.path(ips ? "a-ips.pcap" : "a-ids.pcap");
        const std::string pa = probe_pcap(d.path("in.pcap"), out_a);
        const std::string pb = probe_pcap(d.path("empty.pcap"), out_b);
        cfg.inline_pairs = {{pa, pb}};
        auto r = run(cfg, l);
        ASSERT_TRUE(r) << r.error().message;
        const auto got = read_pcap_frames(out_b);
        std::vector<std::string> seen;
        for (const auto& f : got) {
            for (const char* s : {"hello-1", "VIGIL-DROP", "after-drop", "reply", "VIGIL-ALERT",
                                  "other-flow", "VIGIL-REJECT"}) {
                if (contains(f, s)) {
                    seen.emplace_back(s);
                }
            }
        }
        if (ips) {
            EXPECT_EQ(seen, (std::vector<std::string>{"hello-1", "VIGIL-ALERT", "other-flow"}));
            EXPECT_EQ(r->counters.dropped, 4U);
            EXPECT_EQ(r->counters.ports.at(0).dropped, 4U);
            EXPECT_EQ(r->counters.ports.at(0).forwarded, 3U);
            EXPECT_EQ(r->counters.ports.at(0).rejects, 1U);
            // The reset went back out of the port the segment came in on, to its sender.
            const auto back = read_pcap_frames(out_a);
            ASSERT_EQ(back.size(), 1U);
            const auto rst = test::decode_frame(dataplane::LinkType::Ethernet, back[0]);
            EXPECT_EQ(rst.tcp_flags, dataplane::kTcpRst | dataplane::kTcpAck);
            EXPECT_EQ(rst.src, dataplane::IpAddr::from_v4(b.data()));
            EXPECT_EQ(rst.dst, dataplane::IpAddr::from_v4(a.data()));
            EXPECT_EQ(rst.sport, 80);
            EXPECT_EQ(rst.dport, 3000);
            EXPECT_EQ(rst.tcp_seq, 5000U);
            EXPECT_EQ(rst.tcp_ack, 1000U + 12U);
            // The sources of the drop and the reject are blocked in nftables, in this test's
            // own namespace (the table is kept on exit, as by default).
            ASSERT_TRUE(r->enforcing);
            EXPECT_TRUE(r->enforcement.healthy) << r->enforcement.last_error;
            auto client = nft::Client::open(cfg.nft_table);
            ASSERT_TRUE(client) << client.error().message;
            auto blocks = (*client)->list();
            ASSERT_TRUE(blocks) << blocks.error().message;
            ASSERT_EQ(blocks->size(), 1U);
            EXPECT_EQ(blocks->front().addr, dataplane::IpAddr::from_v4(a.data()));
        } else {
            // IDS: a drop rule only alerts; everything is forwarded.
            EXPECT_EQ(seen.size(), in.size());
            EXPECT_EQ(r->counters.dropped, 0U);
        }
        EXPECT_EQ(r->counters.ports.at(0).tx_failed, 0U);
        if (!ips) {
            EXPECT_TRUE(read_pcap_frames(out_a).empty());  // nothing came in on b, no reset
        }
        const auto alerts = eve_alerts(d.path("eve.json"));
        ASSERT_EQ(alerts.size(), 3U);
        std::set<std::string> actions;
        for (const auto& al : alerts) {
            actions.insert(std::to_string(std::get<0>(al)) + ":" + std::get<5>(al));
        }
        EXPECT_EQ(actions, (std::set<std::string>{ips ? "1:blocked" : "1:allowed", "2:allowed",
                                                  ips ? "4:blocked" : "4:allowed"}));
    }
}

// Two workers on a port whose driver (net_pcap, one rx_pcap) has one queue: refused with
// the reason.
TEST(LiveDpdk, QueueCountTheDriverRefusesIsAClearError) {
    TempDir d;
    const Loaded l = load({kRoot + "/rules/default"});
    SensorConfig cfg = base_config(d.path("eve.json"));
    cfg.workers = 2;
    cfg.ports = {probe_pcap(kRoot + "/pcaps/01-http-established.pcap")};
    auto r = run(cfg, l);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("allows at most 1 RX/TX queue"), std::string::npos)
        << r.error().message;
    EXPECT_NE(r.error().message.find("rx_pcap"), std::string::npos) << r.error().message;
}

TEST(LiveDpdk, UnknownPortNamesTheAvailableOnes) {
    TempDir d;
    const Loaded l = load({kRoot + "/rules/default"});
    SensorConfig cfg = base_config(d.path("eve.json"));
    const std::string real = probe_pcap(kRoot + "/pcaps/01-http-established.pcap");
    cfg.ports = {"0000:03:00.0"};
    auto r = run(cfg, l);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("'0000:03:00.0' not found"), std::string::npos)
        << r.error().message;
    EXPECT_NE(r.error().message.find(real), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("dpdk-devbind"), std::string::npos) << r.error().message;
}

TEST(LiveDpdk, TooFewLcoresIsAClearError) {
    TempDir d;
    const Loaded l = load({kRoot + "/rules/default"});
    SensorConfig cfg = base_config(d.path("eve.json"));
    cfg.workers = 3;  // the environment gives 2 worker lcores
    cfg.ports = {"whatever"};
    auto r = run(cfg, l);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("2 worker lcore(s)"), std::string::npos) << r.error().message;
}

// overload-policy: a worker that is behind (its queue never empties: a pcap port always
// returns full bursts) skips inspection; `pass` forwards, `drop` drops, both are counted.
TEST(LiveDpdk, OverloadPolicyIsAppliedAndCounted) {
    TempDir d;
    const std::string rules = d.write("r.rules",
                                      "alert udp any any -> any any (msg:\"every packet\"; "
                                      "content:\"pkt\"; sid:7; rev:1;)\n");
    const Loaded l = load({rules});
    std::vector<Bytes> in;
    for (int i = 0; i < 20000; ++i) {
        in.push_back(udp_frame({10, 0, 0, 1}, {10, 0, 0, 2}, static_cast<uint16_t>(1024 + i % 500),
                               53, "pkt"));
    }
    write_pcap(d.path("in.pcap"), in);
    write_pcap(d.path("empty.pcap"), {});
    for (const std::string policy : {"none", "pass", "drop"}) {
        SCOPED_TRACE(policy);
        SensorConfig cfg = base_config(d.path("eve.json"));
        cfg.overload_policy = policy;
        const std::string out = d.path("out-" + policy + ".pcap");
        cfg.inline_pairs = {{probe_pcap(d.path("in.pcap")), probe_pcap(d.path("empty.pcap"), out)}};
        auto r = run(cfg, l);
        ASSERT_TRUE(r) << r.error().message;
        const auto& w = r->counters.workers.at(0);
        EXPECT_EQ(w.packets, in.size());
        const size_t forwarded = read_pcap_frames(out).size();
        if (policy == "none") {
            EXPECT_EQ(w.overload_passed + w.overload_dropped, 0U);
            EXPECT_EQ(r->counters.alerts, in.size());
            EXPECT_EQ(forwarded, in.size());
        } else if (policy == "pass") {
            EXPECT_GT(w.overload_passed, in.size() / 2);
            EXPECT_EQ(r->counters.alerts, in.size() - w.overload_passed);
            EXPECT_EQ(forwarded, in.size());
        } else {
            EXPECT_GT(w.overload_dropped, in.size() / 2);
            EXPECT_EQ(forwarded, in.size() - w.overload_dropped);
            EXPECT_EQ(r->counters.ports.at(0).dropped, w.overload_dropped);
        }
    }
}

}  // namespace
}  // namespace vigil::sensor
