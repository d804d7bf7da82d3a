// Datasets and the asn1 keyword: dataset / datarep values parsed and refused with a reason,
// set files in Suricata's formats loaded and saved, sets shared across packets, rules and
// threads, reputation comparisons, and the BER decoder on crafted encodings.

#include "rules/dataset.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "rules/asn1.h"
#include "rules/rule_parser.h"
#include "rules/ruleset.h"
#include "tests/rules/test_packet.h"
#include "tests/rules/test_util.h"

namespace vigil::rules {
namespace {

using test::TempDir;
using test::TestPacket;
using test::v4;

std::span<const uint8_t> bytes(std::string_view s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

Result<Rule> parse(const std::string& opts) {
    return parse_rule("alert dns any any -> any any (" + opts + " sid:1;)", default_vars(),
                      "test.rules", 7);
}

std::string parse_error(const std::string& opts) {
    auto r = parse(opts);
    return r ? std::string("(parsed)") : r.error().message;
}

// --- parsing ---

TEST(DatasetParse, DatasetTakesCommandNameAndOptions) {
    auto r = parse(
        "dns.query; dataset:set,seen-dns, type string, state seen.lst, memcap 10mb, hashsize "
        "1024;");
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_EQ(r->buffers.size(), 1U);
    ASSERT_EQ(r->buffers[0].ops.size(), 1U);
    const auto& d = std::get<DatasetMatch>(r->buffers[0].ops[0]);
    EXPECT_EQ(d.cmd, DatasetMatch::Cmd::Set);
    EXPECT_EQ(d.name, "seen-dns");
    EXPECT_EQ(d.type, "string");
    EXPECT_TRUE(d.state);
    EXPECT_EQ(d.load, "seen.lst");
    EXPECT_EQ(d.save, "seen.lst");
    EXPECT_EQ(d.memcap, 10U << 20);
    EXPECT_EQ(d.hashsize, 1024U);
}

TEST(DatasetParse, BadValuesAreRefusedNamingTheProblem) {
    EXPECT_NE(parse_error("dataset:isset,a,type string;").find("needs a sticky buffer"),
              std::string::npos);
    EXPECT_NE(
        parse_error("dns.query; dataset:check,a,type string;").find("unknown command 'check'"),
        std::string::npos);
    EXPECT_NE(parse_error("dns.query; dataset:isset;").find("expected <isset"), std::string::npos);
    EXPECT_NE(parse_error("dns.query; dataset:isset,a,type blob;").find("unknown type 'blob'"),
              std::string::npos);
    EXPECT_NE(parse_error("dns.query; dataset:isset,a,type string,colour red;")
                  .find("unknown option 'colour'"),
              std::string::npos);
    EXPECT_NE(parse_error("dns.query; dataset:set,a,type string,state x,load y;")
                  .find("'state' can not be mixed"),
              std::string::npos);
    EXPECT_NE(parse_error("dns.query; dataset:isset,a,type string,load x,load y;")
                  .find("'load' can only appear once"),
              std::string::npos);
    EXPECT_NE(
        parse_error("dns.query; dataset:isset,a,type string,memcap lots;").find("memcap: 'lots'"),
        std::string::npos);
    EXPECT_NE(parse_error("dns.query; dataset:isset,a,type string,load x,format json,value_key h;")
                  .find("datajson"),
              std::string::npos);
    EXPECT_NE(parse_error("dns.query; dataset:isset," + std::string(64, 'n') + ",type string;")
                  .find("longer than 63"),
              std::string::npos);
}

TEST(DatasetParse, DatarepTakesNameOperatorValue) {
    auto r = parse("dns.query; datarep:dns_rep, >=, 200, load rep.csv, type string;");
    ASSERT_TRUE(r.ok()) << r.error().message;
    const auto& d = std::get<DatarepMatch>(r->buffers[0].ops[0]);
    EXPECT_EQ(d.name, "dns_rep");
    EXPECT_EQ(d.op, DatarepMatch::Op::Ge);
    EXPECT_EQ(d.value, 200);
    EXPECT_EQ(d.load, "rep.csv");
    EXPECT_EQ(d.type, "string");

    EXPECT_NE(
        parse_error("dns.query; datarep:r, !=, 2, type string;").find("unknown operator '!='"),
        std::string::npos);
    EXPECT_NE(parse_error("dns.query; datarep:r, >, 70000, type string;").find("70000"),
              std::string::npos);
    EXPECT_NE(parse_error("dns.query; datarep:r, >, 1, load x;").find("'load' needs 'type'"),
              std::string::npos);
    EXPECT_NE(parse_error("dns.query; datarep:r, >, 1, type string, save x;")
                  .find("unknown option 'save'"),
              std::string::npos);
    EXPECT_NE(parse_error("datarep:r, >, 1, type string;").find("needs a sticky buffer"),
              std::string::npos);
}

TEST(DatasetParse, Asn1OptionsAndErrors) {
    auto r = parse("asn1:bitstring_overflow, oversize_length 132 absolute_offset 0;");
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_EQ(r->payload.size(), 1U);
    const auto& a = std::get<Asn1>(r->payload[0]);
    EXPECT_TRUE(a.bitstring_overflow);
    EXPECT_FALSE(a.double_overflow);
    EXPECT_EQ(a.oversize_length, 132U);
    EXPECT_EQ(a.absolute_offset, 0);
    EXPECT_FALSE(a.relative_offset.has_value());

    auto rel = parse("asn1:relative_offset -10, double_overflow;");
    ASSERT_TRUE(rel.ok()) << rel.error().message;
    EXPECT_EQ(std::get<Asn1>(rel->payload[0]).relative_offset, -10);

    EXPECT_NE(parse_error("asn1:oversize_length;").find("oversize_length needs a number"),
              std::string::npos);
    EXPECT_NE(parse_error("asn1:absolute_offset 65536;").find("65536"), std::string::npos);
    EXPECT_NE(parse_error("asn1:relative_offset 70000;").find("70000"), std::string::npos);
    EXPECT_NE(parse_error("asn1:some_other 3;").find("unknown option 'some_other'"),
              std::string::npos);
}

// --- the set itself ---

TEST(Dataset, LoadsSuricataFormatsPerType) {
    TempDir dir;
    // "example.com", "bad.org" (with a reputation) in base64.
    const auto strings = dir.write("s.lst", "ZXhhbXBsZS5jb20=\nYmFkLm9yZw==,250\n\n");
    Dataset s("s", DatasetType::String, 1 << 20, 64);
    ASSERT_TRUE(s.load_file(strings).ok());
    EXPECT_TRUE(s.contains(bytes("example.com")));
    EXPECT_FALSE(s.contains(bytes("example.org")));
    EXPECT_EQ(s.reputation(bytes("bad.org")), 250);
    EXPECT_EQ(s.reputation(bytes("example.com")), 0);

    const auto md5 = dir.write("m.lst", "d41d8cd98f00b204e9800998ecf8427e\n");
    Dataset m("m", DatasetType::Md5, 1 << 20, 64);
    ASSERT_TRUE(m.load_file(md5).ok());
    const std::string empty_md5("\xd4\x1d\x8c\xd9\x8f\x00\xb2\x04\xe9\x80\x09\x98\xec\xf8\x42\x7e",
                                16);
    EXPECT_TRUE(m.contains(bytes(empty_md5)));
    EXPECT_FALSE(m.contains(bytes("short")));

    const auto ips = dir.write("ip.lst", "10.16.1.11\n2001:db8::1\n::ffff:192.0.2.1\n");
    Dataset ip("ip", DatasetType::Ipv6, 1 << 20, 64);
    ASSERT_TRUE(ip.load_file(ips).ok());
    EXPECT_TRUE(ip.contains(bytes(std::string("\x0a\x10\x01\x0b", 4))));  // IPv4 in an ip set
    EXPECT_TRUE(ip.contains(bytes(std::string("\xc0\x00\x02\x01", 4))));  // mapped, stored as v4
    EXPECT_EQ(ip.size(), 3U);

    Dataset v4set("v4", DatasetType::Ipv4, 1 << 20, 64);
    const auto bad = dir.write("bad.lst", "10.0.0.1\nnot-an-ip\n");
    auto st = v4set.load_file(bad);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message.find("bad.lst:2: 'not-an-ip' is not an IPv4 address"),
              std::string::npos)
        << st.error().message;

    Dataset sha("sha", DatasetType::Sha256, 1 << 20, 64);
    const auto badsha = dir.write("sha.lst", "abcd\n");
    EXPECT_FALSE(sha.load_file(badsha).ok());
    Dataset str("str", DatasetType::String, 1 << 20, 64);
    const auto badb64 = dir.write("b.lst", "not base64!\n");
    auto sb = str.load_file(badb64);
    ASSERT_FALSE(sb.ok());
    EXPECT_NE(sb.error().message.find("is not base64"), std::string::npos);
    const auto badrep = dir.write("r.lst", "ZXhhbXBsZS5jb20=,70000\n");
    EXPECT_NE(str.load_file(badrep).error().message.find("not a valid reputation"),
              std::string::npos);
}

TEST(Dataset, AddRemoveAndMemcap) {
    Dataset s("s", DatasetType::String, 300, 16);
    EXPECT_EQ(s.add(bytes("a")), Dataset::AddResult::Added);
    EXPECT_EQ(s.add(bytes("a")), Dataset::AddResult::Present);
    EXPECT_EQ(s.add(bytes("")), Dataset::AddResult::BadLength);
    EXPECT_TRUE(s.remove(bytes("a")));
    EXPECT_FALSE(s.remove(bytes("a")));
    // The memcap bounds the set: entries past it are refused, not added.
    size_t added = 0;
    for (int i = 0; i < 10; ++i) {
        if (s.add(bytes("key" + std::to_string(i))) == Dataset::AddResult::Added) {
            ++added;
        }
    }
    EXPECT_GT(added, 0U);
    EXPECT_LT(added, 10U);
    EXPECT_LE(s.memory(), s.memcap());
}

TEST(Dataset, SavesInTheFormatItLoads) {
    TempDir dir;
    Dataset s("s", DatasetType::String, 1 << 20, 64);
    ASSERT_EQ(s.add(bytes("www.testmyids.com")), Dataset::AddResult::Added);
    ASSERT_EQ(s.add(bytes("a"), 7), Dataset::AddResult::Added);
    const auto path = (dir.path() / "out.lst").string();
    ASSERT_TRUE(s.save_file(path).ok());
    EXPECT_EQ(read_file(path), "YQ==,7\nd3d3LnRlc3RteWlkcy5jb20=\n");
    Dataset back("b", DatasetType::String, 1 << 20, 64);
    ASSERT_TRUE(back.load_file(path).ok());
    EXPECT_TRUE(back.contains(bytes("www.testmyids.com")));
    EXPECT_EQ(back.reputation(bytes("a")), 7);

    Dataset ip("ip", DatasetType::Ipv6, 1 << 20, 64);
    ASSERT_EQ(ip.add(bytes(std::string("\x0a\x00\x00\x01", 4))), Dataset::AddResult::Added);
    std::string v6(16, '\0');
    v6[0] = '\x20';
    v6[1] = '\x01';
    v6[15] = '\x01';
    ASSERT_EQ(ip.add(bytes(v6)), Dataset::AddResult::Added);
    ASSERT_TRUE(ip.save_file(path).ok());
    EXPECT_EQ(read_file(path), "10.0.0.1\n2001::1\n");
}

TEST(Dataset, ConcurrentSetsAddEachValueOnce) {
    Dataset s("s", DatasetType::String, 64 << 20, 1024);
    std::atomic<int> added{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&]() {
            for (int i = 0; i < 2000; ++i) {
                if (s.add(bytes("v" + std::to_string(i))) == Dataset::AddResult::Added) {
                    ++added;
                }
            }
        });
    }
    for (auto& th : threads) {
        th.join();
    }
    EXPECT_EQ(added.load(), 2000);
    EXPECT_EQ(s.size(), 2000U);
}

TEST(DatasetRegistry, PathsTypesAndPermissions) {
    TempDir dir;
    dir.write("rules/list.lst", "ZXhhbXBsZS5jb20=\n");
    const std::string rule_file = (dir.path() / "rules" / "a.rules").string();
    DatasetConfig cfg;
    cfg.data_dir = (dir.path() / "data").string();
    DatasetRegistry reg(cfg);

    DatasetSpec spec{"List", DatasetType::String, "list.lst", "", false, 0, 0};
    auto a = reg.get(spec, rule_file);
    ASSERT_TRUE(a.ok()) << a.error().message;
    EXPECT_TRUE((*a)->contains(bytes("example.com")));
    // The same name (any case) without options is the same set.
    auto b = reg.get(DatasetSpec{"list", std::nullopt, "", "", false, 0, 0}, rule_file);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(a->get(), b->get());
    // A different type is refused.
    auto c = reg.get(DatasetSpec{"list", DatasetType::Md5, "", "", false, 0, 0}, rule_file);
    ASSERT_FALSE(c.ok());
    EXPECT_NE(c.error().message.find("already declared with type string"), std::string::npos);
    // A set nobody declared needs a type.
    auto d = reg.get(DatasetSpec{"nope", std::nullopt, "", "", false, 0, 0}, rule_file);
    ASSERT_FALSE(d.ok());
    EXPECT_NE(d.error().message.find("no type given"), std::string::npos);
    // A missing load file is an error naming it.
    auto e =
        reg.get(DatasetSpec{"e", DatasetType::String, "missing.lst", "", false, 0, 0}, rule_file);
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.error().message.find("missing.lst"), std::string::npos);
    // save / state stay inside the data directory unless allowed.
    auto f = reg.get(DatasetSpec{"f", DatasetType::String, "", "/etc/x", false, 0, 0}, rule_file);
    ASSERT_FALSE(f.ok());
    EXPECT_NE(f.error().message.find("absolute path"), std::string::npos);
    auto g = reg.get(DatasetSpec{"g", DatasetType::String, "", "../x", false, 0, 0}, rule_file);
    EXPECT_FALSE(g.ok());

    // A state file that does not exist yet starts empty and is written by save_all.
    auto h = reg.get(DatasetSpec{"h", DatasetType::Md5, "h.lst", "h.lst", true, 0, 0}, rule_file);
    ASSERT_TRUE(h.ok()) << h.error().message;
    ASSERT_EQ((*h)->add(bytes(std::string(16, '\x11'))), Dataset::AddResult::Added);
    EXPECT_TRUE(reg.save_all().empty());
    EXPECT_EQ(read_file((dir.path() / "data" / "h.lst").string()),
              "11111111111111111111111111111111\n");

    DatasetConfig off = cfg;
    off.allow_write = false;
    DatasetRegistry ro(off);
    auto i = ro.get(DatasetSpec{"i", DatasetType::String, "", "i.lst", false, 0, 0}, rule_file);
    ASSERT_FALSE(i.ok());
    EXPECT_NE(i.error().message.find("allow-write"), std::string::npos);
    off.enabled = false;
    DatasetRegistry disabled(off);
    auto j = disabled.get(spec, rule_file);
    ASSERT_FALSE(j.ok());
    EXPECT_NE(j.error().message.find("datasets.enabled"), std::string::npos);
}

// --- rules over packets ---

class DatasetRuleTest : public ::testing::Test {
protected:
    void load(const std::vector<std::string>& texts, const std::string& file = "test.rules") {
        std::vector<Rule> rules;
        for (const auto& t : texts) {
            auto r = parse_rule(t, default_vars(), file, 1);
            ASSERT_TRUE(r.ok()) << t << ": " << r.error().message;
            rules.push_back(std::move(r.value()));
        }
        CompileOptions opts;
        opts.datasets = std::make_shared<DatasetRegistry>(cfg_);
        auto rs = RuleSet::compile(std::move(rules), report_, opts);
        ASSERT_TRUE(rs.ok()) << rs.error().message;
        rules_ = *rs;
        auto m = Matcher::create(rules_);
        ASSERT_TRUE(m.ok());
        matcher_ = std::move(m.value());
    }
    std::vector<uint32_t> sids(const TestPacket& tp) {
        dataplane::Flow flow;
        std::vector<uint32_t> out;
        for (uint32_t i : matcher_->inspect(tp.pkt, &flow)) {
            out.push_back(rules_->rule(i).sid);
        }
        return out;
    }
    static TestPacket from(const char* src, std::string payload = "x") {
        TestPacket tp(std::move(payload));
        tp.pkt.src = v4(src);
        return tp;
    }
    DatasetConfig cfg_;
    LoadReport report_;
    RuleSetPtr rules_;
    MatcherPtr matcher_;
};

TEST_F(DatasetRuleTest, SetThenIsSetAcrossPackets) {
    load({"alert tcp any any -> any any (ip.src; dataset:set,seen,type ipv4; sid:1;)",
          "alert tcp any any -> any any (ip.src; dataset:isset,seen; sid:2;)",
          "alert tcp any any -> any any (ip.src; dataset:isnotset,seen; sid:3;)"});
    ASSERT_TRUE(report_.rejected.empty()) << report_.rejected[0].to_string();
    // First packet: the set adds it (sid 1); rules after it in the same packet see it.
    EXPECT_EQ(sids(from("10.0.0.1")), (std::vector<uint32_t>{1, 2}));
    // Again: already there, so set does not match.
    EXPECT_EQ(sids(from("10.0.0.1")), (std::vector<uint32_t>{2}));
    EXPECT_EQ(sids(from("10.0.0.2")), (std::vector<uint32_t>{1, 2}));
}

TEST_F(DatasetRuleTest, LoadedListAndUnset) {
    TempDir dir;
    dir.write("bad.csv", "10.0.0.9\n");
    const auto file = (dir.path() / "x.rules").string();
    load({"alert tcp any any -> any any (ip.src; dataset:isset,bad,type ipv4,load bad.csv; "
          "sid:1;)",
          "alert tcp any any -> any any (content:\"forget\"; ip.src; dataset:unset,bad; sid:2;)"},
         file);
    ASSERT_TRUE(report_.rejected.empty()) << report_.rejected[0].to_string();
    EXPECT_EQ(sids(from("10.0.0.9")), (std::vector<uint32_t>{1}));
    EXPECT_TRUE(sids(from("10.0.0.8")).empty());
    EXPECT_EQ(sids(from("10.0.0.9", "forget")), (std::vector<uint32_t>{1, 2}));
    EXPECT_TRUE(sids(from("10.0.0.9")).empty());
}

TEST_F(DatasetRuleTest, DatarepComparesTheReputation) {
    TempDir dir;
    dir.write("rep.csv", "10.0.0.1,100\n10.0.0.2,200\n10.0.0.3,201\n");
    const auto file = (dir.path() / "x.rules").string();
    load({"alert tcp any any -> any any (ip.src; datarep:r, >, 200, load rep.csv, type ipv4; "
          "sid:1;)",
          "alert tcp any any -> any any (ip.src; datarep:r, <, 200; sid:2;)",
          "alert tcp any any -> any any (ip.src; datarep:r, ==, 200; sid:3;)",
          "alert tcp any any -> any any (ip.src; datarep:r, >=, 200; sid:4;)",
          "alert tcp any any -> any any (ip.src; datarep:r, <=, 200; sid:5;)"},
         file);
    ASSERT_TRUE(report_.rejected.empty()) << report_.rejected[0].to_string();
    EXPECT_EQ(sids(from("10.0.0.1")), (std::vector<uint32_t>{2, 5}));
    EXPECT_EQ(sids(from("10.0.0.2")), (std::vector<uint32_t>{3, 4, 5}));
    EXPECT_EQ(sids(from("10.0.0.3")), (std::vector<uint32_t>{1, 4}));
    EXPECT_TRUE(sids(from("10.0.0.4")).empty());  // not in the list: no comparison holds
}

TEST_F(DatasetRuleTest, ProblemsRejectTheRuleWithAReason) {
    load({"alert tcp any any -> any any (ip.src; dataset:isset,a,type ipv4,load nope.csv; sid:1;)",
          "alert tcp any any -> any any (ip.src; dataset:isset,b; sid:2;)",
          "alert tcp any any -> any any (ip.src; dataset:set,c,type ipv4; sid:3;)",
          "alert tcp any any -> any any (ip.src; dataset:set,c,type string; sid:4;)"});
    ASSERT_EQ(report_.rejected.size(), 3U);
    std::vector<std::string> reasons;
    for (const auto& e : report_.rejected_in_order()) {
        reasons.push_back(std::to_string(e.sid) + " " + e.reason);
    }
    EXPECT_NE(reasons[0].find("1 dataset 'a': load: cannot open"), std::string::npos) << reasons[0];
    EXPECT_NE(reasons[1].find("2 dataset 'b': not declared"), std::string::npos) << reasons[1];
    EXPECT_NE(reasons[2].find("4 dataset 'c': already declared with type ipv4"), std::string::npos)
        << reasons[2];
}

TEST_F(DatasetRuleTest, DisabledDatasetsRejectTheirRules) {
    cfg_.enabled = false;
    load({"alert tcp any any -> any any (ip.src; dataset:set,a,type ipv4; sid:1;)",
          "alert tcp any any -> any any (content:\"x\"; sid:2;)"});
    ASSERT_EQ(report_.rejected.size(), 1U);
    EXPECT_NE(report_.rejected[0].reason.find("datasets.enabled"), std::string::npos);
}

TEST_F(DatasetRuleTest, Asn1OnThePayload) {
    load({"alert tcp any any -> any any (asn1:bitstring_overflow, absolute_offset 0; sid:1;)",
          "alert tcp any any -> any any (content:\"AB\"; asn1:oversize_length 2, relative_offset "
          "0; sid:2;)"});
    ASSERT_TRUE(report_.rejected.empty()) << report_.rejected[0].to_string();
    EXPECT_EQ(sids(from("10.0.0.1", std::string("\x03\x01\xff", 3))), (std::vector<uint32_t>{1}));
    EXPECT_TRUE(sids(from("10.0.0.1", std::string("\x03\x01\x07", 3))).empty());
    // After "AB": an octet string of 3 bytes (over 2); before it, nothing decodes as too long.
    EXPECT_EQ(sids(from("10.0.0.1", std::string("AB\x04\x03xyz", 7))), (std::vector<uint32_t>{2}));
    EXPECT_TRUE(sids(from("10.0.0.1", std::string("AB\x04\x02xy", 6))).empty());
}

// --- the BER decoder ---

bool asn1(const std::string& opts_text, const std::string& ber, uint32_t cursor = 0) {
    auto r = parse("asn1:" + opts_text + ";");
    EXPECT_TRUE(r.ok()) << r.error().message;
    if (!r) {
        return false;
    }
    return asn1_matches(std::get<Asn1>(r->payload[0]), bytes(ber), cursor);
}

// X.690 (07/2002) A.3: a personnel record, 133 bytes of content in a 3-byte header.
const std::string kPersonnel = std::string(
    "\x60\x81\x85\x61\x10\x1a\x04John\x1a\x01P\x1a\x05Smith\xa0\x0a\x1a\x08"
    "Director\x42\x01\x33\xa1\x0a\x43\x08"
    "19710917\xa2\x12\x61\x10\x1a\x04Mary\x1a\x01T\x1a\x05Smith\xa3\x42\x31\x1f\x61\x11\x1a\x05"
    "Ralph\x1a\x01T\x1a\x05Smith\xa0\x0a\x43\x08"
    "19571111\x31\x1f\x61\x11\x1a\x05Susan\x1a\x01"
    "B\x1a\x05Jones\xa0\x0a\x43\x08"
    "19590717",
    136);

TEST(Asn1Decoder, OversizeLengthOnTheX690Example) {
    ASSERT_EQ(kPersonnel.size(), 136U);
    EXPECT_TRUE(asn1("oversize_length 132 absolute_offset 0", kPersonnel));
    EXPECT_FALSE(asn1("oversize_length 133 absolute_offset 0", kPersonnel));
    // A nested object over the limit: the 0x42-byte SEQUENCE OF children.
    EXPECT_TRUE(asn1("oversize_length 65 absolute_offset 3", kPersonnel));
}

TEST(Asn1Decoder, BitstringAndDoubleOverflow) {
    EXPECT_TRUE(asn1("bitstring_overflow", std::string("\x03\x01\xff", 3)));
    EXPECT_FALSE(asn1("bitstring_overflow", std::string("\x03\x01\x07", 3)));
    // Inside a constructed SEQUENCE.
    EXPECT_TRUE(asn1("bitstring_overflow", std::string("\x30\x03\x03\x01\xff", 5)));
    std::string real(261, '\x05');
    real[0] = '\x09';
    real[1] = '\x82';
    real[2] = '\x01';
    real[3] = '\x01';  // 257 bytes of ISO 6093 text
    EXPECT_TRUE(asn1("double_overflow", real));
    real[3] = '\x00';  // 256: fine
    EXPECT_FALSE(asn1("double_overflow", real.substr(0, 260)));
}

TEST(Asn1Decoder, TruncatedAndHostileInputIsBounded) {
    // A length past the end of the data: the object does not decode, so it never matches.
    EXPECT_FALSE(asn1("oversize_length 10", std::string("\x04\x84\x7f\xff\xff\xffxx", 8)));
    // An object that decodes, then garbage: the first still counts.
    EXPECT_TRUE(asn1("oversize_length 1", std::string("\x04\x02xy\xff", 5)));
    // Deep nesting: 10000 levels of indefinite-length SEQUENCEs stop at the depth bound.
    std::string deep;
    for (int i = 0; i < 10000; ++i) {
        deep += "\x30\x80";
    }
    EXPECT_FALSE(asn1("oversize_length 0", deep));
    // 29 nested definite SEQUENCEs around a bit string still decode.
    std::string nest("\x03\x01\xff", 3);
    for (int i = 0; i < 28; ++i) {
        nest = std::string("\x30", 1) + static_cast<char>(nest.size()) + nest;
    }
    EXPECT_TRUE(asn1("bitstring_overflow", nest));
    // More top-level objects than asn1-max-frames: the decode fails as a whole.
    std::string frames;
    for (int i = 0; i < 31; ++i) {
        frames += std::string("\x04\x01x", 3);
    }
    frames += std::string("\x03\x01\xff", 3);
    EXPECT_FALSE(asn1("bitstring_overflow", frames));
    EXPECT_TRUE(asn1("bitstring_overflow", frames.substr(frames.size() - 30)));
}

TEST(Asn1Decoder, Offsets) {
    const std::string b = std::string("junk\x03\x01\xff", 7);
    EXPECT_FALSE(asn1("bitstring_overflow, absolute_offset 0", b));
    EXPECT_TRUE(asn1("bitstring_overflow, absolute_offset 4", b));
    EXPECT_TRUE(asn1("bitstring_overflow, relative_offset 2", b, 2));
    EXPECT_TRUE(asn1("bitstring_overflow, relative_offset -2", b, 6));
    EXPECT_FALSE(asn1("bitstring_overflow, relative_offset -8", b, 6));  // before the start
    EXPECT_FALSE(asn1("bitstring_overflow, absolute_offset 7", b));      // at the end
}

}  // namespace
}  // namespace vigil::rules
