// Matcher semantics: the confirm program (content modifier chains, relative pcre, byte_* with
// extracted values, isdataat), flowbits across packets, pass, header options and the
// Hyperscan grouping (port groups, pcre prefilter) all behave as Suricata does.

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dataplane/stream.h"
#include "rules/rule_parser.h"
#include "rules/ruleset.h"
#include "tests/rules/test_packet.h"

namespace vigil::rules {
namespace {

using dataplane::Flow;
using dataplane::FlowDir;
using dataplane::Packet;
using test::TestPacket;
using test::v4;

class MatcherTest : public ::testing::Test {
protected:
    void load(const std::vector<std::string>& texts) {
        std::vector<Rule> rules;
        const Vars vars = default_vars();
        for (const auto& t : texts) {
            auto r = parse_rule(t, vars, "test.rules", 1);
            ASSERT_TRUE(r.ok()) << t << ": " << r.error().message;
            rules.push_back(std::move(r.value()));
        }
        LoadReport report;
        auto rs = RuleSet::compile(std::move(rules), report);
        ASSERT_TRUE(rs.ok()) << rs.error().message;
        ASSERT_TRUE(report.rejected.empty()) << report.rejected[0].to_string();
        rules_ = *rs;
        auto m = Matcher::create(rules_);
        ASSERT_TRUE(m.ok());
        matcher_ = std::move(m.value());
    }

    // sids that alert for this packet, in evaluation order.
    std::vector<uint32_t> sids(const TestPacket& tp, Flow* flow = nullptr) {
        Flow local;
        auto hits = matcher_->inspect(tp.pkt, flow != nullptr ? flow : &local);
        std::vector<uint32_t> out;
        for (uint32_t i : hits) {
            out.push_back(rules_->rule(i).sid);
        }
        return out;
    }
    // sids for a packet carrying the tail of a reassembled stream window: `window` holds
    // old bytes [0, new_from) then the packet's new bytes; `base` = stream offset of window[0].
    std::vector<uint32_t> stream_sids(const std::string& window, uint32_t new_from,
                                      uint64_t base = 0, bool pkt_inspect = true,
                                      Flow* flow = nullptr) {
        TestPacket tp(window.substr(new_from));
        PayloadView pv;
        pv.inspect = pkt_inspect;
        pv.stream = reinterpret_cast<const uint8_t*>(window.data());
        pv.stream_len = static_cast<uint32_t>(window.size());
        pv.stream_base = base;
        pv.new_from = new_from;
        pv.pkt_in_stream = true;
        Flow local;
        auto hits = matcher_->inspect(tp.pkt, flow != nullptr ? flow : &local, pv);
        std::vector<uint32_t> out;
        for (uint32_t i : hits) {
            out.push_back(rules_->rule(i).sid);
        }
        return out;
    }
    bool fires(const std::string& rule, const std::string& payload) {
        load({rule});
        return !sids(TestPacket(payload)).empty();
    }

    RuleSetPtr rules_;
    MatcherPtr matcher_;
};

using V = std::vector<uint32_t>;

TEST_F(MatcherTest, ContentAndNocase) {
    EXPECT_TRUE(fires(R"(alert tcp any any -> any any (msg:"a"; content:"evil"; sid:1;))",
                      "this is evil stuff"));
    EXPECT_FALSE(fires(R"(alert tcp any any -> any any (msg:"a"; content:"evil"; sid:1;))",
                       "this is EVIL stuff"));
    EXPECT_TRUE(fires(R"(alert tcp any any -> any any (msg:"a"; content:"evil"; nocase; sid:1;))",
                      "this is EvIL stuff"));
    EXPECT_TRUE(fires(R"(alert tcp any any -> any any (msg:"a"; content:"|de ad|be"; sid:1;))",
                      std::string("x\xde\xad"
                                  "be",
                                  5)));
}

TEST_F(MatcherTest, OffsetAndDepthAreAbsolute) {
    const std::string r =
        R"(alert tcp any any -> any any (msg:"a"; content:"GET"; offset:2; depth:3; sid:1;))";
    EXPECT_TRUE(fires(r, "xxGET /"));
    EXPECT_FALSE(fires(r, "GET /"));     // before offset
    EXPECT_FALSE(fires(r, "xxxGET /"));  // depth counts from the offset: window [2,5)
}

TEST_F(MatcherTest, DistanceWithinBacktracks) {
    // The first "AB" leaves no "CD" two bytes on; Suricata retries at the next "AB".
    const std::string r = R"(alert tcp any any -> any any (msg:"a"; content:"AB"; )"
                          R"(content:"CD"; distance:2; within:2; sid:1;))";
    EXPECT_TRUE(fires(r, "xxAByyABzzCD"));
    EXPECT_FALSE(fires(r, "xxAByyyCD"));
    EXPECT_TRUE(fires(r, "ABzzCD"));
}

TEST_F(MatcherTest, NegativeDistanceLooksBack) {
    const std::string r = R"(alert tcp any any -> any any (msg:"a"; content:"BC"; )"
                          R"(content:"AB"; distance:-3; within:2; sid:1;))";
    EXPECT_TRUE(fires(r, "xABC"));
}

TEST_F(MatcherTest, NegatedContent) {
    const std::string r = R"(alert tcp any any -> any any (msg:"a"; content:"GET "; )"
                          R"(content:!"Host|3a|"; sid:1;))";
    EXPECT_TRUE(fires(r, "GET / HTTP/1.0\r\n\r\n"));
    EXPECT_FALSE(fires(r, "GET / HTTP/1.1\r\nHost: a\r\n"));
    // A negated relative content only looks in its window.
    const std::string r2 = R"(alert tcp any any -> any any (msg:"a"; content:"user"; )"
                           R"(content:!"root"; distance:1; within:4; sid:1;))";
    EXPECT_TRUE(fires(r2, "user bob root"));
    EXPECT_FALSE(fires(r2, "user root"));
}

TEST_F(MatcherTest, StartsWithEndsWith) {
    const std::string r =
        R"(alert tcp any any -> any any (msg:"a"; content:"GET"; startswith; sid:1;))";
    EXPECT_TRUE(fires(r, "GET /x"));
    EXPECT_FALSE(fires(r, " GET /x"));
    const std::string r2 =
        R"(alert tcp any any -> any any (msg:"a"; content:".exe"; endswith; sid:1;))";
    EXPECT_TRUE(fires(r2, "file.exe"));
    EXPECT_FALSE(fires(r2, "file.exe "));
}

TEST_F(MatcherTest, PcreAbsoluteAndRelative) {
    EXPECT_TRUE(fires(R"(alert tcp any any -> any any (msg:"a"; pcre:"/id=[0-9]{3}&/"; sid:1;))",
                      "GET /?id=123&x"));
    EXPECT_FALSE(fires(R"(alert tcp any any -> any any (msg:"a"; pcre:"/id=[0-9]{3}&/"; sid:1;))",
                       "GET /?id=12&x"));
    // Relative: ^ anchors at the end of the previous match.
    const std::string r = R"(alert tcp any any -> any any (msg:"a"; content:"user="; )"
                          R"(pcre:"/^adm[a-z]+/R"; sid:1;))";
    EXPECT_TRUE(fires(r, "x user=admin"));
    EXPECT_FALSE(fires(r, "x user=root admin"));
    EXPECT_TRUE(
        fires(R"(alert tcp any any -> any any (msg:"a"; pcre:"/ADMIN/i"; sid:1;))", "hello admin"));
    EXPECT_FALSE(
        fires(R"(alert tcp any any -> any any (msg:"a"; content:"a"; pcre:!"/b/"; sid:1;))", "ab"));
}

TEST_F(MatcherTest, ByteExtractFeedsLaterOptions) {
    // Length-prefixed field: a 1-byte length at offset 0 decides where "END" must be.
    const std::string r = R"(alert tcp any any -> any any (msg:"a"; byte_extract:1,0,len; )"
                          R"(content:"END"; offset:len; depth:3; sid:1;))";
    EXPECT_TRUE(fires(r, std::string("\x04xyzEND", 7)));
    EXPECT_FALSE(fires(r, std::string("\x05xyzEND", 7)));
    const std::string r2 = R"(alert tcp any any -> any any (msg:"a"; byte_extract:2,0,v; )"
                           R"(byte_test:2,=,v,2; sid:1;))";
    EXPECT_TRUE(fires(r2, std::string("\x01\x02\x01\x02", 4)));
    EXPECT_FALSE(fires(r2, std::string("\x01\x02\x01\x03", 4)));
}

TEST_F(MatcherTest, ByteMathComputesIntoAVariable) {
    // A 2-byte length at offset 0, plus a 4-byte header: "END" sits right after the body.
    const std::string r =
        R"(alert tcp any any -> any any (msg:"a"; byte_math:bytes 2, offset 0, oper +, )"
        R"(rvalue 4, result end; content:"END"; offset:end; depth:3; sid:1;))";
    EXPECT_TRUE(fires(r, std::string("\x00\x02"
                                     "abcdEND",
                                     9)));
    EXPECT_FALSE(fires(r, std::string("\x00\x03"
                                      "abcdEND",
                                      9)));
    // Every operator, with a variable rvalue and a relative read that leaves the cursor.
    const auto calc = [&](const char* oper, uint8_t want) {
        return fires(std::string(R"(alert tcp any any -> any any (msg:"a"; content:"N"; )"
                                 R"(byte_extract:1,0,k,relative; byte_math:bytes 1, )"
                                 R"(offset 0, oper )") +
                         oper + R"(, rvalue k, result v, relative; byte_test:1,=,v,3; sid:1;))",
                     std::string("N\x02\x08") + static_cast<char>(want));
    };
    EXPECT_TRUE(calc("+", 10));
    EXPECT_TRUE(calc("-", 6));
    EXPECT_TRUE(calc("*", 16));
    EXPECT_TRUE(calc("/", 4));
    EXPECT_TRUE(calc("<<", 32));
    EXPECT_TRUE(calc(">>", 2));
    EXPECT_FALSE(calc("+", 11));
    // The cursor moves past the bytes read; the bitmask applies to the result.
    EXPECT_TRUE(fires(R"(alert tcp any any -> any any (msg:"a"; byte_math:bytes 1, offset 0, )"
                      R"(oper +, rvalue 17, result v, bitmask 0xf0; byte_test:1,=,v,0,relative; )"
                      R"(sid:1;))",
                      "\x0f\x02"));  // (15 + 17) & 0xf0 >> 4 = 2, read right after
    EXPECT_FALSE(fires(R"(alert tcp any any -> any any (msg:"a"; byte_math:bytes 1, offset 0, )"
                       R"(oper +, rvalue 17, result v, bitmask 0xf0; byte_test:1,=,v,0,relative; )"
                       R"(sid:1;))",
                       "\x0f\x11"));
    // Division by zero never matches.
    EXPECT_FALSE(fires(R"(alert tcp any any -> any any (msg:"a"; byte_math:bytes 1, offset 0, )"
                       R"(oper /, rvalue 0, result v; sid:1;))",
                       "\x05"));
    // A string number and a bitmask.
    EXPECT_TRUE(fires(R"(alert tcp any any -> any any (msg:"a"; byte_math:bytes 3, offset 0, )"
                      R"(oper *, rvalue 2, result v, string dec; byte_test:1,=,v,3,string,dec; )"
                      R"(sid:1;))",
                      std::string("002") + "4"));
}

TEST_F(MatcherTest, EntropyOfTheBufferOrASlice) {
    const auto rule = [](const std::string& opts) {
        return R"(alert tcp any any -> any any (msg:"a"; content:"x"; entropy:)" + opts +
               "; sid:1;)";
    };
    const std::string two = "xyxyxyxy";                 // 1 bit per byte
    const std::string four = "xyzwxyzw";                // 2 bits
    const std::string eight = std::string("xabcdefg");  // 3 bits
    EXPECT_TRUE(fires(rule("value = 1"), two));
    EXPECT_FALSE(fires(rule("value > 1"), two));
    EXPECT_TRUE(fires(rule("value >= 2"), four));
    EXPECT_TRUE(fires(rule("value 2.5-3.5"), eight));
    EXPECT_FALSE(fires(rule("value !2.5-3.5"), eight));
    EXPECT_TRUE(fires(rule("value != 3"), four));
    // From offset 4, over 2 bytes of "xyzwxyzw": "xy", 1 bit.
    EXPECT_TRUE(fires(rule("offset 4, bytes 2, value = 1"), four));
    EXPECT_FALSE(fires(rule("offset 8, value < 8"), four));  // nothing there: no match
}

TEST_F(MatcherTest, ByteTestOperatorsAndStrings) {
    EXPECT_TRUE(fires(R"(alert tcp any any -> any any (msg:"a"; byte_test:2,>,1000,0; sid:1;))",
                      std::string("\x03\xe9", 2)));  // 1001
    EXPECT_FALSE(fires(R"(alert tcp any any -> any any (msg:"a"; byte_test:2,>,1000,0; sid:1;))",
                       std::string("\x03\xe8", 2)));  // 1000
    EXPECT_TRUE(
        fires(R"(alert tcp any any -> any any (msg:"a"; byte_test:2,>,1000,0,little; sid:1;))",
              std::string("\xe9\x03", 2)));
    EXPECT_TRUE(fires(
        R"(alert tcp any any -> any any (msg:"a"; content:"len="; byte_test:3,=,123,0,relative,string,dec; sid:1;))",
        "len=123;"));
    EXPECT_TRUE(
        fires(R"(alert tcp any any -> any any (msg:"a"; byte_test:1,&,0x80,0; sid:1;))", "\x81"));
    EXPECT_TRUE(
        fires(R"(alert tcp any any -> any any (msg:"a"; byte_test:1,!=,5,0; sid:1;))", "\x06"));
}

TEST_F(MatcherTest, ByteJumpMovesTheCursor) {
    // 1-byte length 3 at offset 0: skip 3 bytes after it, then "XY" must follow at once.
    const std::string r = R"(alert tcp any any -> any any (msg:"a"; byte_jump:1,0; )"
                          R"(content:"XY"; distance:0; within:2; sid:1;))";
    EXPECT_TRUE(fires(r, std::string("\x03"
                                     "abcXY",
                                     6)));
    EXPECT_FALSE(fires(r, std::string("\x02"
                                      "abcXY",
                                      6)));
    const std::string r2 =
        R"(alert tcp any any -> any any (msg:"a"; byte_jump:1,0,from_beginning,post_offset 2; )"
        R"(content:"Z"; distance:0; within:1; sid:1;))";
    EXPECT_TRUE(fires(r2, std::string("\x01"
                                      "xxZ",
                                      4)));
}

TEST_F(MatcherTest, IsDataAtAbsoluteAndRelative) {
    const std::string payload(32, 'a');
    EXPECT_TRUE(fires(R"(alert tcp any any -> any any (msg:"a"; isdataat:31; sid:1;))", payload));
    EXPECT_FALSE(fires(R"(alert tcp any any -> any any (msg:"a"; isdataat:32; sid:1;))", payload));
    // Relative is "cursor + n <= length" (Suricata), one more than absolute.
    EXPECT_TRUE(
        fires(R"(alert tcp any any -> any any (msg:"a"; isdataat:32,relative; sid:1;))", payload));
    EXPECT_FALSE(fires(
        R"(alert tcp any any -> any any (msg:"a"; content:"a"; depth:1; isdataat:32,relative; sid:1;))",
        payload));
    EXPECT_TRUE(fires(R"(alert tcp any any -> any any (msg:"a"; isdataat:!40; sid:1;))", payload));
}

TEST_F(MatcherTest, FlowbitsAcrossPacketsAndNoalert) {
    load(
        {R"(alert tcp any any -> any any (msg:"login"; content:"USER"; flowbits:set,logged; flowbits:noalert; sid:1;))",
         R"(alert tcp any any -> any any (msg:"cmd"; content:"RETR"; flowbits:isset,logged; sid:2;))",
         R"(alert tcp any any -> any any (msg:"anon"; content:"RETR"; flowbits:isnotset,logged; sid:3;))"});
    Flow flow;
    EXPECT_EQ(sids(TestPacket("RETR x"), &flow), V({3}));
    EXPECT_EQ(sids(TestPacket("USER bob"), &flow), V{});  // noalert, but the bit is set
    EXPECT_EQ(sids(TestPacket("RETR x"), &flow), V({2}));
    Flow other;
    EXPECT_EQ(sids(TestPacket("RETR x"), &other), V({3}));  // bits are per flow
}

TEST_F(MatcherTest, FlowbitsKeepTheirMeaningAcrossARuleReload) {
    // A flow outlives a reload: bits set under the old rule set must still be found by name.
    // (Per-rule-set numbering would give reload.bit id 1 here and id 0 after the reload.)
    load(
        {R"(alert tcp any any -> any any (msg:"other"; content:"q"; flowbits:set,zzz.unrelated; sid:9;))",
         R"(alert tcp any any -> any any (msg:"set"; content:"a"; flowbits:set,reload.bit; sid:1;))"});
    Flow flow;
    EXPECT_EQ(sids(TestPacket("a"), &flow), V({1}));
    load(
        {R"(alert tcp any any -> any any (msg:"check"; content:"b"; flowbits:isset,reload.bit; sid:2;))"});
    EXPECT_EQ(sids(TestPacket("b"), &flow), V({2}));
}

TEST_F(MatcherTest, FlowbitSettersRunBeforeReadersOnTheSamePacket) {
    // Suricata orders set-only rules before readers whatever the file order.
    load({R"(alert tcp any any -> any any (msg:"reader"; flowbits:isset,x; sid:2;))",
          R"(alert tcp any any -> any any (msg:"setter"; content:"a"; flowbits:set,x; sid:1;))"});
    Flow flow;
    EXPECT_EQ(sids(TestPacket("a"), &flow), V({1, 2}));
}

TEST_F(MatcherTest, PassStopsInspection) {
    load({R"(alert tcp any any -> any any (msg:"bad"; content:"bad"; sid:1;))",
          R"(pass tcp 10.0.0.1 any -> any any (msg:"trusted"; content:"bad"; sid:2;))"});
    EXPECT_EQ(sids(TestPacket("bad")), V{});
    TestPacket other("bad");
    other.pkt.src = v4("10.0.0.2");
    EXPECT_EQ(sids(other), V({1}));
}

TEST_F(MatcherTest, HeaderOptions) {
    load(
        {R"(alert tcp any any -> any 80 (msg:"p80"; content:"x"; sid:1;))",
         R"(alert tcp any any -> any !80 (msg:"not80"; content:"x"; sid:2;))",
         R"(alert tcp any any -> any any (msg:"est"; flow:established,to_server; content:"x"; sid:3;))",
         R"(alert tcp any any -> any any (msg:"toclient"; flow:to_client; content:"x"; sid:4;))",
         R"(alert tcp any any -> any any (msg:"dsize"; dsize:>2; sid:5;))",
         R"(alert tcp any any -> any any (msg:"syn"; flags:S,12; sid:6;))",
         R"(alert tcp any any -> any any (msg:"ttl"; ttl:<10; sid:7;))",
         R"(alert udp any any -> any any (msg:"udp"; content:"x"; sid:8;))"});
    EXPECT_EQ(sids(TestPacket("x")), V({1, 3}));
    TestPacket p2("xyz", dataplane::kProtoTcp, 40000, 8080);
    EXPECT_EQ(sids(p2), V({2, 3, 5}));
    TestPacket p3("x", dataplane::kProtoTcp, 80, 40000);
    p3.pkt.dir = FlowDir::ToClient;
    EXPECT_EQ(sids(p3), V({2, 4}));
    TestPacket syn("", dataplane::kProtoTcp);
    syn.pkt.tcp_flags = dataplane::kTcpSyn | dataplane::kTcpEce;  // ECE ignored by mask 12
    syn.pkt.ttl = 5;
    EXPECT_EQ(sids(syn), V({6, 7}));
    TestPacket u("x", dataplane::kProtoUdp, 5000, 53);
    EXPECT_EQ(sids(u), V({8}));
}

TEST_F(MatcherTest, DsizeNotEqualNeedsPayload) {
    load({R"(alert tcp any any -> any any (msg:"lt"; dsize:<10; sid:1;))",
          R"(alert tcp any any -> any any (msg:"ne"; dsize:!9; sid:2;))"});
    EXPECT_EQ(sids(TestPacket("")), V({1}));
    EXPECT_EQ(sids(TestPacket("12345678")), V({1, 2}));
    EXPECT_EQ(sids(TestPacket("123456789")), V({1}));
}

TEST_F(MatcherTest, AddressesAndBidirectional) {
    load({R"(alert tcp 10.0.0.0/8 any -> 192.0.2.0/24 80 (msg:"a"; content:"x"; sid:1;))",
          R"(alert tcp 192.0.2.10 80 <> 10.0.0.1 any (msg:"b"; content:"x"; sid:2;))",
          R"(alert tcp !10.0.0.0/8 any -> any any (msg:"c"; content:"x"; sid:3;))"});
    EXPECT_EQ(sids(TestPacket("x")), V({1, 2}));
}

TEST_F(MatcherTest, PortGroupsAndPcrePrefilter) {
    // Enough port-80 rules to give port 80 its own Hyperscan database.
    std::vector<std::string> rules;
    for (int i = 0; i < 20; ++i) {
        rules.push_back("alert tcp any any -> any 80 (msg:\"p80-" + std::to_string(i) +
                        "\"; content:\"word" + std::to_string(i) +
                        "x\"; sid:" + std::to_string(100 + i) + ";)");
    }
    rules.push_back(R"(alert tcp any any -> any any (msg:"any"; content:"word7x"; sid:1;))");
    rules.push_back(R"(alert tcp any any -> any 443 (msg:"p443"; content:"word7x"; sid:2;))");
    rules.push_back(R"(alert tcp any any -> any any (msg:"re"; pcre:"/ab+c[0-9]/"; sid:3;))");
    load(rules);
    EXPECT_GE(rules_->stats().port_groups, 1u);
    EXPECT_EQ(rules_->stats().pcre_prefilter, 1u);
    // Same priority: evaluation keeps file order.
    EXPECT_EQ(sids(TestPacket("..word7x..")), V({107, 1}));
    EXPECT_EQ(sids(TestPacket("..word7x..", dataplane::kProtoTcp, 1, 443)), V({1, 2}));
    EXPECT_EQ(sids(TestPacket("..word19x abbbc7")), V({119, 3}));
    EXPECT_EQ(sids(TestPacket("..word19x abbbc7", dataplane::kProtoTcp, 1, 81)), V({3}));
}

TEST_F(MatcherTest, ReputationListsAreFoundByAddress) {
    // Header-only rules with small address sets go through the address index.
    load(
        {R"(alert ip [198.51.100.1,198.51.100.7,203.0.113.0/28] any -> any any (msg:"bad src"; sid:1;))",
         R"(alert ip any any -> [192.0.2.10,192.0.2.11] any (msg:"bad dst"; sid:2;))",
         R"(alert ip [203.0.113.8/29] any -> any any (msg:"overlap"; sid:3;))",
         R"(alert tcp any any -> any any (msg:"all"; dsize:>1000; sid:4;))"});
    EXPECT_EQ(rules_->stats().address_indexed_rules, 3u);
    TestPacket p("x");
    p.pkt.src = v4("198.51.100.7");
    EXPECT_EQ(sids(p), V({1, 2}));
    p.pkt.src = v4("198.51.100.8");
    EXPECT_EQ(sids(p), V({2}));
    p.pkt.src = v4("203.0.113.9");
    p.pkt.dst = v4("192.0.2.12");
    EXPECT_EQ(sids(p), V({1, 3}));
    p.pkt.src = v4("203.0.113.16");  // just past the /28
    EXPECT_EQ(sids(p), V{});
}

TEST_F(MatcherTest, IcmpCoversBothFamiliesIcmpv4OnlyOne) {
    load({R"(alert icmp any any -> any any (msg:"any icmp"; itype:8; sid:1;))",
          R"(alert icmpv4 any any -> any any (msg:"v4"; itype:8; sid:2;))",
          R"(alert icmpv6 any any -> any any (msg:"v6"; itype:8; sid:3;))"});
    TestPacket p("", dataplane::kProtoIcmp);
    p.pkt.icmp_type = 8;
    EXPECT_EQ(sids(p), V({1, 2}));
    p.pkt.ip_proto = dataplane::kProtoIcmpv6;
    EXPECT_EQ(sids(p), V({1, 3}));
}

TEST_F(MatcherTest, RuleWithoutContentIsCheckedOnHeaderAlone) {
    load({R"(alert icmp any any -> any any (msg:"ping"; itype:8; icode:0; sid:1;))"});
    TestPacket p("", dataplane::kProtoIcmp);
    p.pkt.icmp_type = 8;
    EXPECT_EQ(sids(p), V({1}));
    p.pkt.icmp_type = 0;
    EXPECT_EQ(sids(p), V{});
}

// --- TCP stream windows (the worker passes the reassembled window of the direction) ---

TEST_F(MatcherTest, StreamMatchAcrossSegmentsAlertsOnTheCompletingPacket) {
    load({R"(alert tcp any any -> any any (msg:"a"; content:"attack"; sid:1;))"});
    // "att" arrived with the previous packet, "ack" completes the match now.
    EXPECT_EQ(stream_sids("GET /att"
                          "ack HTTP",
                          8),
              V{1});
    // The whole match lies in old bytes: it alerted with the packet that completed it.
    EXPECT_EQ(stream_sids("GET /attack"
                          " HTTP/1.1",
                          11),
              V{});
    // A later, second occurrence that ends in the new bytes alerts again.
    EXPECT_EQ(stream_sids("attack "
                          "attack",
                          7),
              V{1});
}

TEST_F(MatcherTest, StreamAbsoluteOffsetsCountFromTheStreamStart) {
    load({R"(alert tcp any any -> any any (msg:"a"; content:"GET"; depth:3; sid:1;))"});
    // "G" then "ET": the window starts at stream offset 0.
    EXPECT_EQ(stream_sids("GET /", 1, 0), V{1});
    // The same bytes deep in the stream (window base 1000) are not at depth 3.
    EXPECT_EQ(stream_sids("xGET /", 2, 1000), V{});
}

TEST_F(MatcherTest, OnlyStreamAndNoStream) {
    load({R"(alert tcp any any -> any any (msg:"s"; content:"split"; flow:only_stream; sid:1;))",
          R"(alert tcp any any -> any any (msg:"p"; content:"split"; flow:no_stream; sid:2;))",
          R"(alert tcp any any -> any any (msg:"d"; content:"split"; sid:3;))"});
    // Across segments: only the stream sees it.
    EXPECT_EQ(stream_sids("spl"
                          "it",
                          3),
              (V{1, 3}));
    // Inside one packet: both see it, each rule alerts once.
    EXPECT_EQ(stream_sids("xx"
                          "split",
                          2),
              (V{1, 2, 3}));
}

TEST_F(MatcherTest, UninspectedPayloadOnlyRunsHeaderRules) {
    load({R"(alert tcp any any -> any any (msg:"c"; content:"again"; sid:1;))",
          R"(alert tcp any any -> any any (msg:"h"; flags:A+; sid:2;))"});
    // A retransmission: the worker marks the payload as not to be inspected.
    TestPacket tp("again");
    PayloadView pv;
    pv.inspect = false;
    Flow f;
    std::vector<uint32_t> got;
    for (uint32_t i : matcher_->inspect(tp.pkt, &f, pv)) {
        got.push_back(rules_->rule(i).sid);
    }
    EXPECT_EQ(got, V{2});
}

TEST_F(MatcherTest, DsizeRulesAreNotStreamRules) {
    load({R"(alert tcp any any -> any any (msg:"d"; dsize:>2; content:"abcd"; sid:1;))"});
    EXPECT_EQ(stream_sids("ab"
                          "cd",
                          2),
              V{});  // only on the stream
    EXPECT_EQ(stream_sids("x"
                          "abcd",
                          1),
              V{1});  // in the packet
}

TEST_F(MatcherTest, ByteTestZeroBytesReadsTheRestOfTheBuffer) {
    const std::string r =
        R"(alert tcp any any -> any any (msg:"a"; content:"len="; byte_test:0,>,1000,0,relative,string,dec; sid:1;))";
    EXPECT_TRUE(fires(r, "len=123456"));
    EXPECT_FALSE(fires(r, "len=999"));
    EXPECT_FALSE(fires(r, "len="));  // nothing left to read
}

TEST_F(MatcherTest, StreamSizeComparesTheBytesEachSideSent) {
    load({R"(alert tcp any any -> any any (msg:"c"; stream_size:client,>,5; sid:1;))",
          R"(alert tcp any any -> any any (msg:"e"; stream_size:either,=,0; sid:2;))",
          R"(alert tcp any any -> any any (msg:"b"; stream_size:both,>=,1; sid:3;))",
          R"(alert tcp any any -> any any (msg:"s"; stream_size:client,=,9; sid:4;))"});
    dataplane::StreamEngine engine;  // before the table: sessions account in it
    dataplane::FlowTable table;
    TestPacket syn("");
    syn.pkt.tcp_flags = dataplane::kTcpSyn;
    syn.pkt.tcp_seq = 100;
    Flow* f = table.lookup(syn.pkt);
    ASSERT_NE(f, nullptr);
    engine.process(*f, syn.pkt);
    TestPacket data("abcdefgh");
    data.pkt.tcp_seq = 101;
    table.lookup(data.pkt);
    engine.process(*f, data.pkt);
    // client sent 8 bytes (9 as Suricata counts: next_seq - isn includes the SYN), the
    // server nothing yet (0: no SYN/ACK either)
    EXPECT_EQ(sids(data, f), (V{1, 2, 4}));
    // without a TCP session the keyword never matches
    EXPECT_EQ(sids(data), V{});
}

TEST_F(MatcherTest, OutOfOrderPayloadWaitsForTheStream) {
    load({R"(alert tcp any any -> any any (msg:"d"; content:"canary"; sid:1;))",
          R"(alert tcp any any -> any any (msg:"p"; content:"canary"; flow:no_stream; sid:2;))"});
    // A segment buffered out of order: its bytes reach the stream later, and the default
    // rule alerts then (once); a packet-only rule matches the packet now.
    TestPacket tp("xx canary xx");
    PayloadView pv;
    pv.pkt_deferred = true;
    Flow f;
    std::vector<uint32_t> got;
    for (uint32_t i : matcher_->inspect(tp.pkt, &f, pv)) {
        got.push_back(rules_->rule(i).sid);
    }
    EXPECT_EQ(got, V{2});
}

TEST_F(MatcherTest, FastPatternInAnEarlierSegmentStillCompletesOnTheWindow) {
    // The fast pattern (the longest content, "cmd=exec") arrived with the previous packet;
    // "/bin/sh" completes the match now. The window holds both (docs/design.md, "Streams").
    load(
        {R"(alert tcp any any -> any any (msg:"a"; content:"cmd=exec"; content:"/bin/sh"; distance:0; sid:1;))"});
    EXPECT_EQ(stream_sids("GET /?cmd=exec&x="
                          "/bin/sh HTTP/1.0",
                          17),
              V{1});
    // Neither packet alone matches.
    EXPECT_EQ(sids(TestPacket("GET /?cmd=exec&x=")), V{});
    EXPECT_EQ(sids(TestPacket("/bin/sh HTTP/1.0")), V{});
}

// ---------------------------------------------------------------------------------------
// decode-event, stream-event, flowint, xbits, base64, byte_jump backwards

TEST_F(MatcherTest, DecodeEventMatchesThePacketsEvents) {
    load(
        {R"(alert tcp any any -> any any (msg:"small"; decode-event:tcp.pkt_too_small; sid:1;))",
         R"(alert ip any any -> any any (msg:"opt"; decode-event:ipv4.opt_invalid; sid:2;))",
         R"(alert pkthdr any any -> any any (msg:"eth"; decode-event:ethernet.pkt_too_small; sid:3;))",
         R"(alert udp any any -> any any (msg:"udp"; decode-event:udp.hlen_too_small; sid:4;))"});
    TestPacket plain("x");
    EXPECT_EQ(sids(plain), V{});
    // A TCP header too short to decode: no l4, but still a TCP packet for the rule.
    TestPacket trunc("");
    trunc.pkt.l4 = nullptr;
    trunc.pkt.events.set(dataplane::DecodeEvent::TcpPktTooSmall);
    EXPECT_EQ(sids(trunc), V({1}));
    TestPacket opt("x");
    opt.pkt.events.set(dataplane::DecodeEvent::Ipv4OptInvalid);
    EXPECT_EQ(sids(opt), V({2}));
    // No IP layer at all: only pkthdr/ip decode-event rules can match.
    TestPacket eth("");
    eth.pkt.ip_version = 0;
    eth.pkt.l4 = nullptr;
    eth.pkt.ip_proto = 0;
    eth.pkt.events.set(dataplane::DecodeEvent::EthernetPktTooSmall);
    EXPECT_EQ(sids(eth), V({3}));
    // The event alone is not enough when the protocol differs.
    TestPacket udp_ev("x");
    udp_ev.pkt.events.set(dataplane::DecodeEvent::UdpHlenTooSmall);
    EXPECT_EQ(sids(udp_ev), V{});
}

TEST_F(MatcherTest, StreamEventMatchesThePayloadViewsEvents) {
    load({R"(alert tcp any any -> any any (msg:"gap"; stream-event:reassembly_seq_gap; sid:1;))",
          R"(alert tcp any any -> any any (msg:"both"; stream-event:reassembly_seq_gap; )"
          R"(stream-event:reassembly_overlap_different_data; sid:2;))"});
    TestPacket tp("x");
    Flow flow;
    PayloadView pv;
    EXPECT_TRUE(matcher_->inspect(tp.pkt, &flow, pv).empty());
    pv.stream_events = dataplane::kStreamEvGap;
    auto hits = matcher_->inspect(tp.pkt, &flow, pv);
    ASSERT_EQ(hits.size(), 1U);
    EXPECT_EQ(rules_->rule(hits[0]).sid, 1U);
    pv.stream_events = dataplane::kStreamEvGap | dataplane::kStreamEvOverlapDiff;
    EXPECT_EQ(matcher_->inspect(tp.pkt, &flow, pv).size(), 2U);
    // A retransmission is not inspected for payload, but header rules still see its event.
    load({R"(alert tcp any any -> any any (msg:"re"; stream-event:pkt_retransmission; sid:3;))"});
    pv = PayloadView{};
    pv.inspect = false;
    pv.stream_events = dataplane::kStreamEvRetransmission;
    EXPECT_EQ(matcher_->inspect(tp.pkt, &flow, pv).size(), 1U);
}

TEST_F(MatcherTest, FlowintCountsPerFlow) {
    // Suricata's stream-events.rules pattern: count, then alert once past a threshold.
    load(
        {R"(alert tcp any any -> any any (msg:"count"; content:"R"; flowint:n,+,1; noalert; sid:1;))",
         R"(alert tcp any any -> any any (msg:"many"; flowint:n,>=,3; flowint:alerted,notset; )"
         R"(flowint:alerted,=,1; sid:2;))",
         R"(alert tcp any any -> any any (msg:"eq"; content:"Q"; flowint:n,==,m; sid:3;))",
         R"(alert tcp any any -> any any (msg:"setm"; content:"M"; flowint:m,=,2; noalert; sid:4;))",
         R"(alert tcp any any -> any any (msg:"sub"; content:"S"; flowint:n,-,1; noalert; sid:5;))"});
    Flow flow;
    EXPECT_EQ(sids(TestPacket("R"), &flow), V{});
    EXPECT_EQ(sids(TestPacket("R"), &flow), V{});
    EXPECT_EQ(sids(TestPacket("R"), &flow), V({2}));  // n = 3
    EXPECT_EQ(sids(TestPacket("R"), &flow), V{});     // alerted is set now
    EXPECT_EQ(sids(TestPacket("Q"), &flow), V{});     // m unset: compared as 0
    EXPECT_EQ(sids(TestPacket("M"), &flow), V{});
    EXPECT_EQ(sids(TestPacket("S"), &flow), V{});  // n = 3
    EXPECT_EQ(sids(TestPacket("S"), &flow), V{});  // n = 2
    EXPECT_EQ(sids(TestPacket("Q"), &flow), V({3}));
    Flow other;
    EXPECT_EQ(sids(TestPacket("S"), &other), V{});  // no n: subtracting does not create it
    EXPECT_EQ(sids(TestPacket("Q"), &other), V{});  // comparisons need n set
}

TEST_F(MatcherTest, FlowintAndXbitsSettersRunBeforeReaders) {
    // As flowbits: Suricata orders setters before readers whatever the file order.
    load(
        {R"(alert tcp any any -> any any (msg:"r1"; flowint:x,isset; sid:2;))",
         R"(alert tcp any any -> any any (msg:"r2"; xbits:isset,y,track ip_src; sid:4;))",
         R"(alert tcp any any -> any any (msg:"s1"; content:"a"; flowint:x,=,1; sid:1;))",
         R"(alert tcp any any -> any any (msg:"s2"; content:"a"; xbits:set,y,track ip_src; sid:3;))"});
    Flow flow;
    EXPECT_EQ(sids(TestPacket("a"), &flow), V({1, 2, 3, 4}));  // flowint order, then xbits
}

TEST_F(MatcherTest, XbitsPerHostAndPairExpireInPacketTime) {
    load(
        {R"(alert tcp any any -> any any (msg:"set"; content:"SET"; xbits:set,seen,track ip_src,expire 10; noalert; sid:1;))",
         R"(alert tcp any any -> any any (msg:"chk"; content:"CHK"; xbits:isset,seen,track ip_dst; sid:2;))",
         R"(alert tcp any any -> any any (msg:"pair"; content:"PAIR"; xbits:set,p,track ip_pair; noalert; sid:3;))",
         R"(alert tcp any any -> any any (msg:"pchk"; content:"PCHK"; xbits:isset,p,track ip_pair; sid:4;))",
         R"(alert tcp any any -> any any (msg:"not"; content:"NOT"; xbits:isnotset,seen,track ip_src; sid:5;))",
         R"(alert tcp any any -> any any (msg:"tog"; content:"TOG"; xbits:toggle,seen,track ip_src; noalert; sid:6;))"});
    auto at = [](const char* payload, int64_t ts, bool reply) {
        TestPacket tp(payload);
        tp.pkt.ts_sec = ts;
        if (reply) {
            std::swap(tp.pkt.src, tp.pkt.dst);
        }
        return tp;
    };
    Flow flow;  // xbits do not live in the flow: another flow sees them too
    Flow other;
    EXPECT_EQ(sids(at("NOT", 100, false), &flow), V({5}));
    EXPECT_EQ(sids(at("SET", 100, false), &flow), V{});     // 10.0.0.1 has "seen"
    EXPECT_EQ(sids(at("NOT", 101, false), &other), V{});    // set for the source host
    EXPECT_EQ(sids(at("CHK", 105, true), &other), V({2}));  // reply: 10.0.0.1 is ip_dst
    EXPECT_EQ(sids(at("CHK", 105, false), &other), V{});    // 192.0.2.10 has nothing
    EXPECT_EQ(sids(at("CHK", 110, true), &other), V{});     // expired at 100 + 10
    EXPECT_EQ(sids(at("TOG", 120, false), &flow), V{});     // toggle sets ...
    EXPECT_EQ(sids(at("NOT", 121, false), &flow), V{});
    EXPECT_EQ(sids(at("TOG", 122, false), &flow), V{});  // ... and clears
    EXPECT_EQ(sids(at("NOT", 123, false), &flow), V({5}));
    EXPECT_EQ(sids(at("PAIR", 200, false), &flow), V{});
    EXPECT_EQ(sids(at("PCHK", 201, true), &other), V({4}));  // either direction, 30 s default
    EXPECT_EQ(sids(at("PCHK", 231, true), &other), V{});
}

TEST_F(MatcherTest, HostbitsShareTheHostStoreWithXbits) {
    load(
        {R"(alert ip any any -> any any (msg:"set"; content:"SET"; hostbits:set,h; noalert; sid:1;))",
         R"(alert ip any any -> any any (msg:"x"; content:"CHK"; xbits:isset,h,track ip_dst; sid:2;))",
         R"(alert ip any any -> any any (msg:"h"; content:"CHK"; hostbits:isset,h,dst; sid:3;))"});
    Flow flow;
    TestPacket set("SET");
    EXPECT_EQ(sids(set, &flow), V{});
    TestPacket reply("CHK");
    std::swap(reply.pkt.src, reply.pkt.dst);
    reply.pkt.ts_sec = 299;  // hostbits expire after 300 s
    EXPECT_EQ(sids(reply, &flow), V({2, 3}));
    reply.pkt.ts_sec = 300;
    EXPECT_EQ(sids(reply, &flow), V{});
}

TEST_F(MatcherTest, Base64DecodeAndData) {
    // "SGVsbG8gV29ybGQ=" is "Hello World".
    const std::string r =
        R"(alert tcp any any -> any any (msg:"b"; content:"auth="; base64_decode:relative; )"
        R"(base64_data; content:"World"; sid:1;))";
    EXPECT_TRUE(fires(r, "x auth=SGVsbG8gV29ybGQ= y"));
    EXPECT_TRUE(fires(r, "x auth=SGVsbG8gV29ybGQ"));  // unpadded: the last 3 characters give "ld"
    EXPECT_FALSE(fires(r, "x auth=SGVsbG8gV29yb"));   // "Hello Wor": a lone 'b' gives nothing
    EXPECT_FALSE(fires(r, "x auth=%%%"));
    // Decoding stops at the first character outside the alphabet; a final group of 2 or 3
    // characters still gives its whole bytes ("np" -> 0x9e, as in Suricata's issue 5223).
    const std::string first =
        R"(alert tcp any any -> any any (msg:"b"; content:"foobar="; base64_decode:relative; )"
        R"(base64_data; content:"|9e|"; startswith; sid:1;))";
    EXPECT_TRUE(fires(first, "foobar=np%2BA%2BbSdU3SD33cQXeLxh9gXqjV4t2Q0cOWQ20vCv74%3D"));
    const std::string two =
        R"(alert tcp any any -> any any (msg:"b"; content:"foobar="; base64_decode:bytes 2,relative; )"
        R"(base64_data; content:"|9e|"; startswith; isdataat:!1,relative; sid:1;))";
    EXPECT_TRUE(fires(two, "foobar=npA+bSdU"));
    // offset and bytes, without relative: from the buffer start.
    const std::string off =
        R"(alert tcp any any -> any any (msg:"b"; content:"Hel"; base64_decode:bytes 8, offset 4; )"
        R"(base64_data; content:"Hello"; depth:5; isdataat:!1,relative; sid:1;))";
    EXPECT_FALSE(fires(off, "xxxxSGVsbG8gV29ybGQ="));  // "Hel" is not in the raw bytes
    const std::string off2 =
        R"(alert tcp any any -> any any (msg:"b"; content:"SGVs"; base64_decode:bytes 8, offset 4; )"
        R"(base64_data; content:"Hello"; depth:5; isdataat:!2,relative; sid:1;))";
    EXPECT_TRUE(fires(off2, "xxxxSGVsbG8gV29ybGQ="));  // 8 characters: "Hello " (6 bytes)
    EXPECT_FALSE(fires(off2, "xxxxSGVs"));             // only "Hel" decodes
    // Without base64_data, base64_decode only requires something to decode.
    EXPECT_TRUE(fires(
        R"(alert tcp any any -> any any (msg:"b"; content:"a="; base64_decode:relative; sid:1;))",
        "a=QQ"));
    EXPECT_FALSE(fires(
        R"(alert tcp any any -> any any (msg:"b"; content:"a="; base64_decode:relative; sid:1;))",
        "a=Q"));
    // The fast pattern never comes from the decoded bytes.
    EXPECT_TRUE(fires(
        R"(alert tcp any any -> any any (msg:"b"; base64_decode; base64_data; content:"World"; fast_pattern; sid:1;))",
        "SGVsbG8gV29ybGQ="));
}

TEST_F(MatcherTest, Base64OnTheStreamAlertsWhereTheBase64TextEnds) {
    load({R"(alert tcp any any -> any any (msg:"b"; content:"auth="; base64_decode:relative; )"
          R"(base64_data; content:"World"; sid:1;))"});
    // The base64 text completes in the new bytes: a match.
    EXPECT_EQ(stream_sids("auth=SGVsbG8gV29ybGQ=", 13), V{1});
    // All of it was in the old bytes (seen by an earlier packet): no second alert.
    EXPECT_EQ(stream_sids("auth=SGVsbG8gV29ybGQ= tail", 21), V{});
}

TEST_F(MatcherTest, ByteJumpNegativePostOffsetStopsAtTheBufferStart) {
    // Suricata's detect-bytejump-06: "13" - bitmask 0xfe = 6 ... from_end, post_offset -26.
    const std::string sv =
        R"(alert tcp any any -> any any (msg:"j"; content:"Question?"; byte_jump:2,0,relative,)"
        R"(string,from_end,post_offset -26, bitmask 0xfe; content:"ll the pandemic end";)"
        R"(distance:0; sid:1;))";
    EXPECT_TRUE(fires(sv, "Question?13When will the pandemic end?"));
    // A jump to before the start lands on the start (not a failure).
    const std::string back =
        R"(alert tcp any any -> any any (msg:"j"; content:"XY"; byte_jump:1,0,relative,post_offset -100; )"
        R"(content:"AB"; distance:0; within:2; sid:1;))";
    EXPECT_TRUE(fires(back, std::string("ABXY\x01z", 6)));
    EXPECT_FALSE(fires(back, std::string("CDXY\x01z", 6)));
    // Backwards within the buffer: to 5 (1 byte read, 1 skipped), then 4 back.
    const std::string mid =
        R"(alert tcp any any -> any any (msg:"j"; content:"|ff|"; byte_jump:1,0,relative,post_offset -4; )"
        R"(content:"K"; distance:0; within:1; sid:1;))";
    EXPECT_TRUE(fires(mid, std::string("aK\xff\x01zz", 6)));
    EXPECT_FALSE(fires(mid, std::string("aQ\xff\x01zz", 6)));
}

// The load report an operator reads: rejections in the order of their files and lines (a
// compile-time rejection is found after every parse error), counted by reason with numbers
// folded, but not the digits of a quoted or named keyword.
TEST(LoadReportTest, RejectionsInFileOrderAndCountedByReason) {
    LoadReport r;
    r.file_names = {"b.rules", "a.rules"};
    r.rejected = {
        {"a.rules", 9, 5, "duplicate sid (gid 1), first defined at line 3"},
        {"b.rules", 7, 1, "unsupported keyword 'http2.header'"},
        {"a.rules", 2, 4, "duplicate sid (gid 1), first defined at line 1"},
        {"b.rules", 2, 2, "unsupported keyword 'http2.header'"},
        {"b.rules", 4, 3, "pcre: number too big in {} quantifier at offset 17"},
        {"a.rules", 5, 6, "unsupported keyword 'base64_decode'"},
    };
    std::vector<std::string> order;
    for (const auto& e : r.rejected_in_order()) {
        order.push_back(e.file + ":" + std::to_string(e.line));
    }
    EXPECT_EQ(order, (std::vector<std::string>{"b.rules:2", "b.rules:4", "b.rules:7", "a.rules:2",
                                               "a.rules:5", "a.rules:9"}));
    EXPECT_EQ(r.rejected_by_reason(), (std::vector<std::pair<std::string, size_t>>{
                                          {"duplicate sid (gid N), first defined at line N", 2},
                                          {"unsupported keyword 'http2.header'", 2},
                                          {"pcre: number too big in {} quantifier at offset N", 1},
                                          {"unsupported keyword 'base64_decode'", 1}}));
}

}  // namespace
}  // namespace vigil::rules
