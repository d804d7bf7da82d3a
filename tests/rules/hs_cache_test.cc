// The Hyperscan compile cache (rules/hs_cache.h) through RuleSet::load with real rule files
// and real cache entries: a second load hits and matches exactly as a compile does; a flipped
// byte, a truncated entry, an entry copied from another key and a file with the wrong magic
// are each detected, rebuilt and rewritten; a directory that cannot be used only turns the
// cache off.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "rules/rule_parser.h"
#include "rules/ruleset.h"
#include "tests/rules/test_packet.h"
#include "tests/rules/test_util.h"

namespace vigil::rules {
namespace {

namespace fs = std::filesystem;
using test::TestPacket;
using V = std::vector<uint32_t>;

// Rules spread over TCP (two port groups), UDP and ICMP, with a pcre prefilter and a
// header-only rule: several databases, so one entry can be damaged while the others hit.
constexpr const char* kRules =
    R"(alert tcp any any -> any 80 (msg:"a"; content:"GET /evil"; sid:1;)
alert tcp any any -> any any (msg:"b"; content:"cmd.exe"; nocase; sid:2;)
alert tcp any any -> any any (msg:"c"; content:"USER "; pcre:"/^USER\s+root/"; sid:3;)
alert udp any any -> any 53 (msg:"d"; content:"|07|example"; sid:4;)
alert udp any any -> any any (msg:"e"; pcre:"/x{3}y+z/"; sid:5;)
alert icmp any any -> any any (msg:"f"; content:"ping-payload"; sid:6;)
alert tcp any any -> any any (msg:"g"; dsize:>1000; sid:7;)
alert tcp any any -> any 22 (msg:"h"; content:"SSH-1."; depth:6; sid:8;)
)";

std::vector<TestPacket> packets() {
    std::vector<TestPacket> p;
    p.reserve(10);  // a TestPacket points into its own payload: never moved
    p.emplace_back("GET /evil HTTP/1.0\r\n", dataplane::kProtoTcp, 40000, 80);
    p.emplace_back("run CMD.EXE /c dir", dataplane::kProtoTcp, 40000, 445);
    p.emplace_back("USER root\r\n", dataplane::kProtoTcp, 40000, 21);
    p.emplace_back(std::string("\x07") + "example\x03com", dataplane::kProtoUdp, 5353, 53);
    p.emplace_back("aaxxxyyyz", dataplane::kProtoUdp, 5000, 6000);
    p.emplace_back("ping-payload", dataplane::kProtoIcmp, 0, 0);
    p.emplace_back(std::string(1200, 'A'), dataplane::kProtoTcp, 40000, 443);
    p.emplace_back("SSH-1.5-x", dataplane::kProtoTcp, 40000, 22);
    p.emplace_back("nothing to see", dataplane::kProtoTcp, 40000, 80);
    p.emplace_back("GET /evil HTTP/1.0\r\n", dataplane::kProtoTcp, 40000, 8080);
    return p;
}

// What packets() alerts on with kRules, one entry per packet.
std::vector<V> expected_alerts() {
    return {{1}, {2}, {3}, {4}, {5}, {6}, {7}, {8}, {}, {}};
}

class RuleSetCacheTest : public ::testing::Test {
protected:
    void SetUp() override {
        rules_file_ = dir_.write("t.rules", kRules);
        cache_ = (dir_.path() / "cache").string();
    }

    struct Loaded {
        RuleSetPtr rs;
        LoadReport report;
    };

    Loaded load(const std::string& cache_dir) const {
        Loaded l;
        CompileOptions opts;
        opts.cache_dir = cache_dir;
        auto rs = RuleSet::load({rules_file_}, default_vars(), l.report, opts);
        EXPECT_TRUE(rs.ok()) << rs.error().message;
        if (rs.ok()) {
            l.rs = *rs;
        }
        EXPECT_TRUE(l.report.rejected.empty()) << l.report.rejected[0].to_string();
        return l;
    }

    // The sids each packet (default: packets()) alerts on, each packet on a fresh flow.
    static std::vector<V> alerts(const RuleSetPtr& rs,
                                 const std::vector<TestPacket>& pkts = packets()) {
        auto m = Matcher::create(rs);
        EXPECT_TRUE(m.ok());
        std::vector<V> out;
        for (const auto& tp : pkts) {
            dataplane::Flow flow;
            V sids;
            for (uint32_t i : (*m)->inspect(tp.pkt, &flow)) {
                sids.push_back(rs->rule(i).sid);
            }
            out.push_back(sids);
        }
        return out;
    }

    std::vector<fs::path> entries() const {
        std::vector<fs::path> out;
        for (const auto& e : fs::directory_iterator(cache_)) {
            out.push_back(e.path());
        }
        std::sort(out.begin(), out.end());
        return out;
    }

    // Fills the cache, damages it with `damage` (which returns how many entries it damaged),
    // and checks that the next load rebuilds those with a warning containing `reason`, alerts
    // as before, and leaves a cache the load after that hits entirely.
    void expect_rebuilt(const std::function<size_t(const std::vector<fs::path>&)>& damage,
                        const std::string& reason) {
        const Loaded cold = load(cache_);
        const size_t dbs = cold.rs->stats().databases;
        ASSERT_GE(dbs, 2u);
        ASSERT_EQ(entries().size(), dbs);
        const size_t n_bad = damage(entries());

        const Loaded again = load(cache_);
        const auto& st = again.rs->stats();
        EXPECT_EQ(st.cache_rebuilt, n_bad);
        EXPECT_EQ(st.cache_hits, dbs - n_bad);
        EXPECT_EQ(st.cache_misses, 0u);
        ASSERT_EQ(again.report.warnings.size(), n_bad);
        for (const auto& w : again.report.warnings) {
            EXPECT_NE(w.find("corrupt: " + reason), std::string::npos) << w;
            EXPECT_NE(w.find("rebuilt"), std::string::npos) << w;
        }
        EXPECT_EQ(alerts(again.rs), expected_alerts());

        const Loaded healed = load(cache_);
        EXPECT_EQ(healed.rs->stats().cache_hits, dbs);
        EXPECT_EQ(healed.rs->stats().cache_rebuilt, 0u);
        EXPECT_TRUE(healed.report.warnings.empty());
        EXPECT_EQ(alerts(healed.rs), expected_alerts());
    }

    static std::string read(const fs::path& p) {
        std::ifstream in(p, std::ios::binary);
        return {std::istreambuf_iterator<char>(in), {}};
    }
    static void write(const fs::path& p, const std::string& bytes) {
        std::ofstream out(p, std::ios::binary | std::ios::trunc);
        out << bytes;
    }
    // Flips `mask` bits of the byte at `at` (counted from the end when negative).
    static size_t flip(const fs::path& p, std::ptrdiff_t at, uint8_t mask) {
        std::string b = read(p);
        const size_t i = at < 0 ? b.size() - static_cast<size_t>(-at) : static_cast<size_t>(at);
        b[i] = static_cast<char>(b[i] ^ mask);
        write(p, b);
        return 1;
    }

    test::TempDir dir_;
    std::string rules_file_;
    std::string cache_;
};

TEST_F(RuleSetCacheTest, SecondLoadHitsEveryDatabaseAndMatchesAsACompile) {
    const Loaded plain = load("");
    EXPECT_FALSE(plain.rs->stats().cache_enabled);
    EXPECT_EQ(alerts(plain.rs), expected_alerts());

    const Loaded cold = load(cache_);
    const auto& cs = cold.rs->stats();
    EXPECT_TRUE(cs.cache_enabled);
    EXPECT_GE(cs.databases, 2u);
    EXPECT_EQ(cs.cache_misses, cs.databases);
    EXPECT_EQ(cs.cache_hits, 0u);
    EXPECT_GT(cs.cache_bytes_written, 0u);
    EXPECT_TRUE(cold.report.warnings.empty());
    EXPECT_EQ(alerts(cold.rs), expected_alerts());
    const auto files = entries();
    ASSERT_EQ(files.size(), cs.databases);
    for (const auto& f : files) {
        EXPECT_EQ(f.extension(), ".hsdb") << f;  // no temp file left behind
        struct stat st {};
        ASSERT_EQ(::stat(f.c_str(), &st), 0);
        EXPECT_EQ(st.st_mode & (S_IWGRP | S_IWOTH), 0u) << f;
    }

    const Loaded warm = load(cache_);
    const auto& ws = warm.rs->stats();
    EXPECT_EQ(ws.cache_hits, cs.databases);
    EXPECT_EQ(ws.cache_misses, 0u);
    EXPECT_EQ(ws.cache_rebuilt, 0u);
    EXPECT_EQ(ws.cache_bytes_written, 0u);
    EXPECT_EQ(ws.cache_bytes_read, cs.cache_bytes_written);
    EXPECT_EQ(ws.databases, cs.databases);
    EXPECT_EQ(ws.database_bytes, cs.database_bytes);
    EXPECT_EQ(ws.prefiltered, plain.rs->stats().prefiltered);
    EXPECT_EQ(ws.pcre_prefilter, plain.rs->stats().pcre_prefilter);
    EXPECT_EQ(alerts(warm.rs), expected_alerts());
    EXPECT_NE(ws.cache_line().find(std::to_string(cs.databases) + " hits, 0 misses, 0 rebuilt"),
              std::string::npos)
        << ws.cache_line();
}

TEST_F(RuleSetCacheTest, ChangedRulesMissOnlyTheirDatabases) {
    const Loaded cold = load(cache_);
    const size_t before = entries().size();
    // One more UDP rule: the UDP databases change, TCP and ICMP stay.
    dir_.write("t.rules",
               std::string(kRules) +
                   "alert udp any any -> any any (msg:\"i\"; content:\"zzq\"; sid:9;)\n");
    const Loaded changed = load(cache_);
    const auto& st = changed.rs->stats();
    EXPECT_GT(st.cache_hits, 0u);
    EXPECT_GT(st.cache_misses, 0u);
    EXPECT_EQ(st.cache_hits + st.cache_misses, st.databases);
    EXPECT_EQ(st.cache_rebuilt, 0u);
    EXPECT_EQ(entries().size(), before + st.cache_misses);
    EXPECT_EQ(alerts(changed.rs), expected_alerts());
}

// Hyperscan refuses recursion even as a prefilter: compile_db drops the expression and its
// rule is checked on every packet. A hit must drop the same expression, or the rule would
// point at the wrong pattern id.
TEST_F(RuleSetCacheTest, PatternHyperscanRefusesIsDroppedTheSameWayOnAHit) {
    dir_.write("t.rules",
               "alert tcp any any -> any any (msg:\"rec\"; pcre:\"/a(?R)?b/\"; sid:10;)\n"
               "alert tcp any any -> any any (msg:\"hello\"; content:\"hello\"; sid:11;)\n"
               "alert tcp any any -> any any (msg:\"pf\"; pcre:\"/x{3}y+z/\"; sid:12;)\n");
    std::vector<TestPacket> pkts;
    pkts.reserve(4);  // a TestPacket points into its own payload: never moved
    for (const char* payload : {"--aabb--", "say hello", "xxxyz", "nothing"}) {
        pkts.emplace_back(payload);
    }
    const std::vector<V> want = {{10}, {11}, {12}, {}};
    const Loaded cold = load(cache_);
    EXPECT_EQ(cold.rs->stats().always_check, 1u);  // the refused pcre
    EXPECT_EQ(cold.rs->stats().pcre_prefilter, 1u);
    EXPECT_EQ(cold.rs->stats().cache_misses, 1u);
    EXPECT_EQ(alerts(cold.rs, pkts), want);
    const Loaded warm = load(cache_);
    EXPECT_EQ(warm.rs->stats().cache_hits, 1u);
    EXPECT_EQ(warm.rs->stats().always_check, 1u);
    EXPECT_EQ(warm.rs->stats().pcre_prefilter, 1u);
    EXPECT_EQ(warm.rs->stats().prefiltered, 1u);
    EXPECT_EQ(alerts(warm.rs, pkts), want);
}

TEST_F(RuleSetCacheTest, FlippedByteIsRebuilt) {
    expect_rebuilt([](const std::vector<fs::path>& files) { return flip(files[0], -1, 0x01); },
                   "payload checksum mismatch");
}

TEST_F(RuleSetCacheTest, FlippedHeaderLengthIsRebuilt) {
    expect_rebuilt(
        // The payload length field (offset 48), low byte.
        [](const std::vector<fs::path>& files) { return flip(files[0], 48, 0x10); },
        "truncated or padded");
}

TEST_F(RuleSetCacheTest, TruncatedEntriesAreRebuilt) {
    expect_rebuilt(
        [](const std::vector<fs::path>& files) {
            for (const auto& f : files) {
                fs::resize_file(f, fs::file_size(f) / 2);
            }
            fs::resize_file(files[0], 10);  // shorter than the header too
            return files.size();
        },
        "truncated");
}

TEST_F(RuleSetCacheTest, EntryOfAnotherKeyIsRebuilt) {
    expect_rebuilt(
        [](const std::vector<fs::path>& files) {
            fs::copy_file(files[0], files[1], fs::copy_options::overwrite_existing);
            return size_t{1};
        },
        "written for another key");
}

TEST_F(RuleSetCacheTest, WrongMagicIsRebuilt) {
    expect_rebuilt(
        [](const std::vector<fs::path>& files) {
            std::string b = read(files[0]);
            b.replace(0, 8, "NOTVIGIL");
            write(files[0], b);
            write(files[1], std::string(200, '\0'));
            return size_t{2};
        },
        "wrong magic");
}

TEST_F(RuleSetCacheTest, DirectoryThatCannotBeCreatedOnlyTurnsTheCacheOff) {
    const std::string blocker = dir_.write("not-a-dir", "x");
    const Loaded l = load(blocker + "/cache");
    EXPECT_FALSE(l.rs->stats().cache_enabled);
    ASSERT_EQ(l.report.warnings.size(), 1u);
    EXPECT_NE(l.report.warnings[0].find("disabled: cannot create it"), std::string::npos)
        << l.report.warnings[0];
    EXPECT_EQ(alerts(l.rs), expected_alerts());
}

TEST_F(RuleSetCacheTest, DirectoryOthersCanWriteIsNotTrusted) {
    fs::create_directories(cache_);
    fs::permissions(cache_, fs::perms::group_write | fs::perms::others_write,
                    fs::perm_options::add);
    const Loaded l = load(cache_);
    EXPECT_FALSE(l.rs->stats().cache_enabled);
    ASSERT_EQ(l.report.warnings.size(), 1u);
    EXPECT_NE(l.report.warnings[0].find("writable by group or others"), std::string::npos)
        << l.report.warnings[0];
    EXPECT_TRUE(entries().empty());
    EXPECT_EQ(alerts(l.rs), expected_alerts());
}

// Runs as root too (where a read-only directory does not stop writes): a directory in the
// place of every entry makes each lookup fail and each rename fail.
TEST_F(RuleSetCacheTest, EntriesThatCannotBeWrittenOnlyStopWriting) {
    const std::string other = (dir_.path() / "other").string();
    {
        CompileOptions opts;
        opts.cache_dir = other;
        LoadReport report;
        ASSERT_TRUE(RuleSet::load({rules_file_}, default_vars(), report, opts).ok());
    }
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(other)) {
        fs::create_directories(fs::path(cache_) / e.path().filename() / "x");
        ++n;
    }
    const Loaded l = load(cache_);
    const auto& st = l.rs->stats();
    EXPECT_TRUE(st.cache_enabled);
    EXPECT_EQ(st.cache_rebuilt, n);
    EXPECT_EQ(st.cache_bytes_written, 0u);
    size_t write_warnings = 0;
    for (const auto& w : l.report.warnings) {
        write_warnings += w.find("cannot write entries") != std::string::npos ? 1 : 0;
    }
    EXPECT_EQ(write_warnings, 1u);  // once, not once per database
    EXPECT_EQ(l.report.warnings.size(), n + 1);
    for (const auto& e : fs::directory_iterator(cache_)) {
        EXPECT_TRUE(e.is_directory()) << e.path();  // no temp file left behind
    }
    EXPECT_EQ(alerts(l.rs), expected_alerts());
}

TEST_F(RuleSetCacheTest, UnwritableDirectoryOnlyTurnsTheCacheOff) {
    if (::geteuid() == 0) {
        GTEST_SKIP() << "root writes into a read-only directory";
    }
    fs::create_directories(cache_);
    fs::permissions(cache_, fs::perms::owner_read | fs::perms::owner_exec,
                    fs::perm_options::replace);
    const Loaded l = load(cache_);
    fs::permissions(cache_, fs::perms::owner_all, fs::perm_options::replace);
    EXPECT_FALSE(l.rs->stats().cache_enabled);
    ASSERT_EQ(l.report.warnings.size(), 1u);
    EXPECT_NE(l.report.warnings[0].find("not writable"), std::string::npos) << l.report.warnings[0];
    EXPECT_EQ(alerts(l.rs), expected_alerts());
}

}  // namespace
}  // namespace vigil::rules
