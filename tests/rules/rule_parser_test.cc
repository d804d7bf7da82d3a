#include "rules/rule_parser.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>

#include "dataplane/stream.h"
#include "tests/rules/test_util.h"

namespace vigil::rules {
namespace {

using test::ip;
using test::TempDir;

const Vars& vars() {
    static const Vars v = default_vars();
    return v;
}

Rule parse_ok(std::string_view text) {
    auto r = parse_rule(text, vars());
    EXPECT_TRUE(r.ok()) << text << "\n  -> " << (r.ok() ? "" : r.error().message);
    return r.ok() ? std::move(*r) : Rule{};
}

std::string parse_err(std::string_view text) {
    auto r = parse_rule(text, vars());
    EXPECT_FALSE(r.ok()) << "unexpectedly parsed: " << text;
    return r.ok() ? std::string() : r.error().message;
}

// A tcp any -> any rule with the given options, then sid:1.
std::string with(std::string_view opts) {
    return "alert tcp any any -> any any (" + std::string(opts) + " sid:1;)";
}

Rule opts_ok(std::string_view opts) {
    return parse_ok(with(opts));
}
std::string opts_err(std::string_view opts) {
    return parse_err(with(opts));
}

const Content& content_at(const Rule& r, size_t i) {
    static const Content empty;
    if (i >= r.payload.size() || !std::holds_alternative<Content>(r.payload[i])) {
        ADD_FAILURE() << "payload[" << i << "] is not a content";
        return empty;
    }
    return std::get<Content>(r.payload[i]);
}

template <typename T>
const T& op_at(const Rule& r, size_t i) {
    static const T empty{};
    if (i >= r.payload.size() || !std::holds_alternative<T>(r.payload[i])) {
        ADD_FAILURE() << "payload[" << i << "] has the wrong kind";
        return empty;
    }
    return std::get<T>(r.payload[i]);
}

#define EXPECT_HAS(haystack, needle) \
    EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << (haystack)

// ---------------------------------------------------------------------------------------
// Header

TEST(RuleHeader, Actions) {
    EXPECT_EQ(parse_ok("alert tcp any any -> any any (sid:1;)").action, Action::Alert);
    EXPECT_EQ(parse_ok("drop tcp any any -> any any (sid:1;)").action, Action::Drop);
    EXPECT_EQ(parse_ok("pass tcp any any -> any any (sid:1;)").action, Action::Pass);
    EXPECT_EQ(parse_ok("reject tcp any any -> any any (sid:1;)").action, Action::Reject);
    EXPECT_EQ(parse_ok("rejectsrc tcp any any -> any any (sid:1;)").action, Action::Reject);
    EXPECT_EQ(parse_ok("rejectdst tcp any any -> any any (sid:1;)").action, Action::Reject);
    EXPECT_EQ(parse_ok("rejectboth tcp any any -> any any (sid:1;)").action, Action::Reject);
    EXPECT_HAS(parse_err("config tcp any any -> any any (sid:1;)"),
               "action 'config' is not supported");
    EXPECT_HAS(parse_err("alarm tcp any any -> any any (sid:1;)"), "unknown action 'alarm'");
}

TEST(RuleHeader, Protocols) {
    struct Case {
        const char* name;
        Proto proto;
        const char* app;
    };
    const Case cases[] = {
        {"ip", Proto::Ip, ""},         {"pkthdr", Proto::Ip, ""},     {"tcp", Proto::Tcp, ""},
        {"tcp-pkt", Proto::Tcp, ""},   {"udp", Proto::Udp, ""},       {"icmp", Proto::Icmp, ""},
        {"icmpv4", Proto::Icmpv4, ""}, {"icmpv6", Proto::Icmpv6, ""}, {"icmp6", Proto::Icmpv6, ""},
        {"http", Proto::Tcp, "http"},  {"HTTP", Proto::Tcp, "http"},  {"tls", Proto::Tcp, "tls"},
        {"smb", Proto::Tcp, "smb"},    {"dns", Proto::Ip, "dns"},
    };
    for (const Case& c : cases) {
        const Rule r = parse_ok(std::string("alert ") + c.name + " any any -> any any (sid:1;)");
        EXPECT_EQ(r.proto, c.proto) << c.name;
        EXPECT_EQ(r.app_proto, c.app) << c.name;
    }
    EXPECT_HAS(parse_err("alert xyz any any -> any any (sid:1;)"), "unknown protocol 'xyz'");
}

TEST(RuleHeader, AppProtocolsBindTheRule) {
    using dataplane::app::AppProto;
    struct Case {
        const char* name;
        Proto proto;
        AppProto app;
    };
    const Case cases[] = {
        {"http", Proto::Tcp, AppProto::Http}, {"http1", Proto::Tcp, AppProto::Http},
        {"tls", Proto::Tcp, AppProto::Tls},   {"ssl", Proto::Tcp, AppProto::Tls},
        {"dns", Proto::Ip, AppProto::Dns},    {"ssh", Proto::Tcp, AppProto::Ssh},
        {"smtp", Proto::Tcp, AppProto::Smtp}, {"ftp", Proto::Tcp, AppProto::Ftp},
        {"smb", Proto::Tcp, AppProto::Smb},   {"tcp", Proto::Tcp, AppProto::Unknown},
    };
    for (const Case& c : cases) {
        const Rule r = parse_ok(std::string("alert ") + c.name + " any any -> any any (sid:1;)");
        EXPECT_EQ(r.proto, c.proto) << c.name;
        EXPECT_EQ(r.app_bind, c.app) << c.name;
        EXPECT_FALSE(r.app_bind_negated) << c.name;
    }
    // dns keeps the ports it was given (both transports).
    const Rule d = parse_ok("alert dns any any -> any 53 (sid:1;)");
    EXPECT_TRUE(d.dport.contains(53));
    EXPECT_FALSE(d.dport.contains(54));
    for (const char* p : {"sip", "dhcp", "ntp", "quic", "ftp-data", "http2", "dcerpc", "krb5",
                          "snmp", "nfs", "ikev2", "rdp"}) {
        EXPECT_EQ(
            parse_err(std::string("alert ") + p + " any any -> any any (sid:1;)"),
            std::string("sid 1: app-layer protocol '") + p + "' is not detected by this sensor");
    }
}

TEST(RuleHeader, PacketOnlyProtocols) {
    const Rule t = parse_ok("alert tcp-pkt any any -> any any (sid:1;)");
    EXPECT_EQ(t.proto, Proto::Tcp);
    EXPECT_TRUE(t.packet_only);
    const Rule u = parse_ok("alert udp-pkt any any -> any any (sid:1;)");
    EXPECT_EQ(u.proto, Proto::Udp);
    EXPECT_TRUE(u.packet_only);
    EXPECT_FALSE(parse_ok("alert tcp any any -> any any (sid:1;)").packet_only);
}

TEST(RuleHeader, Ipv4AndIpv6ProtocolsRestrictAddresses) {
    const Rule v4 = parse_ok("alert ipv4 any any -> any any (sid:1;)");
    EXPECT_EQ(v4.proto, Proto::Ip);
    EXPECT_TRUE(v4.src.contains(ip("1.2.3.4")));
    EXPECT_FALSE(v4.src.contains(ip("2001:db8::1")));
    const Rule v6 = parse_ok("alert ip6 any any -> any any (sid:1;)");
    EXPECT_FALSE(v6.dst.contains(ip("1.2.3.4")));
    EXPECT_TRUE(v6.dst.contains(ip("2001:db8::1")));
    EXPECT_HAS(parse_err("alert ipv6 1.2.3.4 any -> any any (sid:1;)"), "match nothing");
}

TEST(RuleHeader, Direction) {
    EXPECT_FALSE(parse_ok("alert tcp any any -> any any (sid:1;)").bidirectional);
    EXPECT_TRUE(parse_ok("alert tcp any any <> any any (sid:1;)").bidirectional);
    EXPECT_HAS(parse_err("alert tcp any any <- any any (sid:1;)"), "bad direction '<-'");
    EXPECT_HAS(parse_err("alert tcp any any => any any (sid:1;)"), "bad direction '=>'");
}

TEST(RuleHeader, FieldCountAndListsWithSpaces) {
    EXPECT_HAS(parse_err("alert tcp any any -> any (sid:1;)"), "bad rule header");
    const Rule r = parse_ok("alert tcp [1.1.1.1, 2.2.2.2] [80, 443] -> any any (sid:1;)");
    EXPECT_TRUE(r.src.contains(ip("2.2.2.2")));
    EXPECT_TRUE(r.sport.contains(443));
    EXPECT_FALSE(r.sport.contains(444));
}

TEST(RuleHeader, HeaderErrorsNameTheSid) {
    EXPECT_HAS(parse_err("alert tcp $NOPE any -> any any (msg:\"x\"; sid:77;)"),
               "sid 77: source address: unknown variable $NOPE");
    EXPECT_HAS(parse_err("alert tcp any 99999 -> any any (sid:78;)"),
               "sid 78: source port: port '99999' out of range");
    EXPECT_HAS(parse_err("alert tcp any any -> 1.2.3.0/40 any (sid:79;)"),
               "sid 79: destination address: bad CIDR '1.2.3.0/40'");
    EXPECT_HAS(parse_err("alert tcp any any -> any 5:1 (sid:80;)"),
               "sid 80: destination port: bad port range '5:1'");
}

// ---------------------------------------------------------------------------------------
// Addresses

TEST(Address, AnyAndSingle) {
    auto any = parse_address("any", vars());
    ASSERT_TRUE(any.ok());
    EXPECT_TRUE(any->is_any());
    EXPECT_TRUE(any->contains(ip("0.0.0.0")));
    EXPECT_TRUE(any->contains(ip("::")));
    EXPECT_TRUE(any->contains(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")));

    auto one = parse_address("192.0.2.7", vars());
    ASSERT_TRUE(one.ok());
    ASSERT_EQ(one->ranges.size(), 1U);
    EXPECT_EQ(one->ranges[0].lo, ip("192.0.2.7"));
    EXPECT_EQ(one->ranges[0].hi, ip("192.0.2.7"));
    EXPECT_FALSE(one->is_any());
    EXPECT_FALSE(one->contains(ip("192.0.2.8")));
}

TEST(Address, Ipv4Cidr) {
    auto s = parse_address("10.1.2.3/8", vars());  // host bits are cleared, as in Suricata
    ASSERT_TRUE(s.ok());
    ASSERT_EQ(s->ranges.size(), 1U);
    EXPECT_EQ(s->ranges[0].lo, ip("10.0.0.0"));
    EXPECT_EQ(s->ranges[0].hi, ip("10.255.255.255"));
    auto mask = parse_address("10.0.0.0/255.255.0.0", vars());
    ASSERT_TRUE(mask.ok());
    EXPECT_EQ(mask->ranges[0].hi, ip("10.0.255.255"));
    // A v4 prefix covers only the IPv4-mapped space.
    auto all4 = parse_address("0.0.0.0/0", vars());
    ASSERT_TRUE(all4.ok());
    EXPECT_TRUE(all4->contains(ip("255.255.255.255")));
    EXPECT_FALSE(all4->contains(ip("::1")));
    EXPECT_FALSE(all4->is_any());
}

TEST(Address, Ipv6) {
    auto s = parse_address("[2001:db8::/32,::1]", vars());
    ASSERT_TRUE(s.ok());
    EXPECT_TRUE(s->contains(ip("2001:db8:ffff::1")));
    EXPECT_TRUE(s->contains(ip("::1")));
    EXPECT_FALSE(s->contains(ip("2001:db9::")));
    EXPECT_FALSE(s->contains(ip("1.2.3.4")));
    auto all = parse_address("::/0", vars());
    ASSERT_TRUE(all.ok());
    EXPECT_TRUE(all->is_any());
}

TEST(Address, Variables) {
    auto home = parse_address("$HOME_NET", vars());
    ASSERT_TRUE(home.ok());
    EXPECT_TRUE(home->contains(ip("192.168.1.1")));
    EXPECT_TRUE(home->contains(ip("10.9.9.9")));
    EXPECT_TRUE(home->contains(ip("172.31.0.1")));
    EXPECT_FALSE(home->contains(ip("172.32.0.1")));
    EXPECT_FALSE(home->contains(ip("8.8.8.8")));
    auto ext = parse_address("$EXTERNAL_NET", vars());
    ASSERT_TRUE(ext.ok());
    EXPECT_FALSE(ext->contains(ip("192.168.1.1")));
    EXPECT_TRUE(ext->contains(ip("8.8.8.8")));
    EXPECT_TRUE(ext->contains(ip("2001:db8::1")));
    // AIM_SERVERS -> EXTERNAL_NET -> HOME_NET.
    auto aim = parse_address("$AIM_SERVERS", vars());
    ASSERT_TRUE(aim.ok());
    EXPECT_TRUE(aim->contains(ip("8.8.8.8")));
}

TEST(Address, ListsNegationAndNesting) {
    auto a = parse_address("[$HOME_NET,!192.168.1.1]", vars());
    ASSERT_TRUE(a.ok());
    EXPECT_FALSE(a->contains(ip("192.168.1.1")));
    EXPECT_TRUE(a->contains(ip("192.168.1.2")));
    EXPECT_TRUE(a->contains(ip("192.168.1.0")));
    EXPECT_FALSE(a->contains(ip("8.8.8.8")));

    // Only negated members: any minus them.
    auto b = parse_address("[!1.2.3.4,!5.6.7.0/24]", vars());
    ASSERT_TRUE(b.ok());
    EXPECT_FALSE(b->contains(ip("1.2.3.4")));
    EXPECT_FALSE(b->contains(ip("5.6.7.200")));
    EXPECT_TRUE(b->contains(ip("1.2.3.5")));
    EXPECT_TRUE(b->contains(ip("::1")));

    // Nested: 1/8 minus (1.2/16 minus 1.2.3/24).
    auto c = parse_address("[1.0.0.0/8,![1.2.0.0/16,!1.2.3.0/24]]", vars());
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE(c->contains(ip("1.1.1.1")));
    EXPECT_FALSE(c->contains(ip("1.2.4.4")));
    EXPECT_TRUE(c->contains(ip("1.2.3.4")));
    EXPECT_FALSE(c->contains(ip("2.0.0.0")));

    auto d = parse_address("![10.0.0.0/8,$HOME_NET]", vars());
    ASSERT_TRUE(d.ok());
    EXPECT_FALSE(d->contains(ip("10.0.0.1")));
    EXPECT_TRUE(d->contains(ip("11.0.0.1")));
}

TEST(Address, RangesAreSortedDisjointAndMerged) {
    auto s = parse_address("[11.0.0.0/8, 10.1.0.0/16, 10.0.0.0/8, 9.0.0.0/8, 1.1.1.1]", vars());
    ASSERT_TRUE(s.ok());
    ASSERT_EQ(s->ranges.size(), 2U);
    EXPECT_EQ(s->ranges[0].lo, ip("1.1.1.1"));
    EXPECT_EQ(s->ranges[1].lo, ip("9.0.0.0"));
    EXPECT_EQ(s->ranges[1].hi, ip("11.255.255.255"));
    auto hole = parse_address("[10.0.0.0/8,!10.0.0.5]", vars());
    ASSERT_TRUE(hole.ok());
    ASSERT_EQ(hole->ranges.size(), 2U);
    EXPECT_EQ(hole->ranges[0].hi, ip("10.0.0.4"));
    EXPECT_EQ(hole->ranges[1].lo, ip("10.0.0.6"));
    EXPECT_FALSE(IpSet{}.contains(ip("1.1.1.1")));
}

TEST(Address, Errors) {
    auto err = [](std::string_view e) {
        auto r = parse_address(e, vars());
        EXPECT_FALSE(r.ok()) << e;
        return r.ok() ? std::string() : r.error().message;
    };
    EXPECT_HAS(err("1.2.3.0/33"), "bad CIDR '1.2.3.0/33'");
    EXPECT_HAS(err("::/129"), "bad CIDR");
    EXPECT_HAS(err("10.0.0.0/255.0.255.0"), "bad CIDR");
    EXPECT_HAS(err("1.2.3"), "bad address '1.2.3'");
    EXPECT_HAS(err("256.1.1.1"), "bad address");
    EXPECT_HAS(err("1.2.3.4-1.2.3.9"), "bad address");
    EXPECT_HAS(err("$NOPE"), "unknown variable $NOPE");
    EXPECT_HAS(err("$HTTP_PORTS"), "not an address variable");
    EXPECT_HAS(err("!any"), "matches nothing");
    EXPECT_HAS(err("[1.1.1.1,!1.1.1.1]"), "matches nothing");
    EXPECT_HAS(err("[1.1.1.1"), "unbalanced");
    EXPECT_HAS(err("[1.1.1.1]]"), "unexpected text after ']'");
    EXPECT_HAS(err("[1.1.1.1,]"), "empty element");
    EXPECT_HAS(err(""), "empty");
    Vars v = default_vars();
    v.address_groups["A"] = "[$B,1.1.1.1]";
    v.address_groups["B"] = "$A";
    auto cyc = parse_address("$A", v);
    ASSERT_FALSE(cyc.ok());
    EXPECT_HAS(cyc.error().message, "variable cycle");
}

// ---------------------------------------------------------------------------------------
// Ports

TEST(Ports, Forms) {
    auto p = [](std::string_view e) {
        auto r = parse_ports(e, vars());
        EXPECT_TRUE(r.ok()) << e << ": " << (r.ok() ? "" : r.error().message);
        return r.ok() ? *r : PortSet{};
    };
    EXPECT_TRUE(p("any").is_any());
    EXPECT_TRUE(p("0:").is_any());
    EXPECT_TRUE(p("80").contains(80));
    EXPECT_FALSE(p("80").contains(81));
    EXPECT_TRUE(p("1024:").contains(65535));
    EXPECT_FALSE(p("1024:").contains(1023));
    EXPECT_TRUE(p(":1024").contains(0));
    EXPECT_FALSE(p(":1024").contains(1025));
    const PortSet r = p("1000:2000");
    EXPECT_TRUE(r.contains(1000) && r.contains(2000));
    EXPECT_FALSE(r.contains(999) || r.contains(2001));
    const PortSet list = p("[80,443,8000:8100]");
    EXPECT_EQ(list.ranges.size(), 3U);
    EXPECT_TRUE(list.contains(8050));
    const PortSet neg = p("![80,443]");
    EXPECT_FALSE(neg.contains(80));
    EXPECT_TRUE(neg.contains(81));
    const PortSet nested = p("[1:100,![50,[60:70]]]");
    EXPECT_FALSE(nested.contains(50));
    EXPECT_FALSE(nested.contains(65));
    EXPECT_TRUE(nested.contains(71));
    EXPECT_FALSE(nested.contains(101));
    EXPECT_TRUE(p("$HTTP_PORTS").contains(80));
    EXPECT_FALSE(p("$SHELLCODE_PORTS").contains(80));
    EXPECT_TRUE(p("$SHELLCODE_PORTS").contains(81));
    const PortSet fd = p("$FILE_DATA_PORTS");
    EXPECT_TRUE(fd.contains(80) && fd.contains(110) && fd.contains(143));
    EXPECT_FALSE(fd.contains(111));
    EXPECT_TRUE(p("$SIP_PORTS").contains(5061));
    const PortSet merged = p("[1:10,11:20,5]");
    ASSERT_EQ(merged.ranges.size(), 1U);
    EXPECT_EQ(merged.ranges[0].hi, 20);
}

TEST(Ports, Errors) {
    auto err = [](std::string_view e) {
        auto r = parse_ports(e, vars());
        EXPECT_FALSE(r.ok()) << e;
        return r.ok() ? std::string() : r.error().message;
    };
    EXPECT_HAS(err("70000"), "port '70000' out of range");
    EXPECT_HAS(err("1:65536"), "out of range");
    EXPECT_HAS(err("2000:1000"), "bad port range '2000:1000'");
    EXPECT_HAS(err("http"), "bad port 'http'");
    EXPECT_HAS(err("-1"), "bad port");
    EXPECT_HAS(err(":"), "bad port range");
    EXPECT_HAS(err("$NOPE"), "unknown variable $NOPE");
    EXPECT_HAS(err("$HOME_NET"), "not a port variable");
    EXPECT_HAS(err("!any"), "matches nothing");
    EXPECT_HAS(err("[80"), "unbalanced");
}

// ---------------------------------------------------------------------------------------
// Meta options

TEST(MetaOptions, MsgSidRevGid) {
    const Rule r = parse_ok(
        R"(alert tcp any any -> any any (msg:"a \"quoted\" \; semi \\ back"; sid:2001; rev:7; gid:3;))");
    EXPECT_EQ(r.msg, "a \"quoted\" ; semi \\ back");
    EXPECT_EQ(r.sid, 2001U);
    EXPECT_EQ(r.rev, 7U);
    EXPECT_EQ(r.gid, 3U);
    const Rule d = opts_ok("");
    EXPECT_EQ(d.gid, 1U);
    EXPECT_EQ(d.rev, 0U);
    EXPECT_EQ(d.priority, 3U);
    EXPECT_EQ(d.msg, "");  // msg is optional, as in Suricata
    EXPECT_HAS(opts_err("sid:2;"), "duplicate sid");
    EXPECT_HAS(opts_err("rev:1; rev:2;"), "duplicate rev");
    EXPECT_HAS(opts_err("msg:\"a\"; msg:\"b\";"), "duplicate msg");
    EXPECT_HAS(parse_err("alert tcp any any -> any any (sid:0;)"), "sid: '0' is out of range");
    EXPECT_HAS(parse_err("alert tcp any any -> any any (sid:12x;)"),
               "sid: '12x' is not a positive integer");
    EXPECT_HAS(parse_err("alert tcp any any -> any any (sid:4294967296;)"), "out of range");
    EXPECT_HAS(opts_err("rev:-1;"), "rev: '-1' is not a non-negative integer");
}

TEST(MetaOptions, ClasstypeAndPriority) {
    const Rule r = opts_ok("classtype:trojan-activity;");
    EXPECT_EQ(r.classtype, "trojan-activity");
    EXPECT_EQ(r.category, "A Network Trojan was detected");
    EXPECT_EQ(r.priority, 1U);
    // An explicit priority wins wherever it appears.
    EXPECT_EQ(opts_ok("priority:4; classtype:trojan-activity;").priority, 4U);
    EXPECT_EQ(opts_ok("classtype:trojan-activity; priority:4;").priority, 4U);
    EXPECT_EQ(opts_ok("priority:2;").priority, 2U);
    EXPECT_HAS(opts_err("classtype:no-such-class;"), "unknown classtype 'no-such-class'");
    EXPECT_HAS(opts_err("priority:0;"), "priority: '0' is out of range");
    EXPECT_HAS(opts_err("priority:high;"), "priority: 'high' is not a positive integer");
}

TEST(MetaOptions, MetadataReferenceTarget) {
    const Rule r = opts_ok(
        "metadata: created_at 2020_01_01, former_category MALWARE ,, tag x; metadata:a b; "
        "reference:url,example.com/x; reference: cve , 2020-1234; target:dest_ip;");
    ASSERT_EQ(r.metadata.size(), 4U);
    EXPECT_EQ(r.metadata[0], "created_at 2020_01_01");
    EXPECT_EQ(r.metadata[1], "former_category MALWARE");
    EXPECT_EQ(r.metadata[3], "a b");
    ASSERT_EQ(r.references.size(), 2U);
    EXPECT_EQ(r.references[0].type, "url");
    EXPECT_EQ(r.references[0].value, "example.com/x");
    EXPECT_EQ(r.references[1].type, "cve");
    EXPECT_EQ(r.references[1].value, "2020-1234");
    EXPECT_EQ(r.target, "dest_ip");
    EXPECT_EQ(opts_ok("target:src_ip;").target, "src_ip");
    EXPECT_HAS(opts_err("target:both;"), "target: expected src_ip or dest_ip");
    EXPECT_HAS(opts_err("reference:nocomma;"), "reference: expected <type>,<value>");
}

// ---------------------------------------------------------------------------------------
// content and its modifiers

TEST(Content, DecodingHexAndEscapes) {
    const Rule r = opts_ok(
        R"(content:"GET |20 2f|x"; content:"a\"b\;c\\d\:e"; content:!"neg"; content:"|0d0a|";)");
    ASSERT_EQ(r.payload.size(), 4U);
    EXPECT_EQ(content_at(r, 0).bytes, "GET  /x");
    EXPECT_FALSE(content_at(r, 0).negated);
    EXPECT_EQ(content_at(r, 1).bytes, "a\"b;c\\d:e");
    EXPECT_EQ(content_at(r, 2).bytes, "neg");
    EXPECT_TRUE(content_at(r, 2).negated);
    EXPECT_EQ(content_at(r, 3).bytes, "\r\n");
    EXPECT_EQ(content_at(opts_ok(R"(content: ! "x";)"), 0).negated, true);
    EXPECT_EQ(content_at(opts_ok(R"(content:"|00 FF ab|";)"), 0).bytes,
              std::string("\0\xff\xab", 3));
}

TEST(Content, DecodingErrors) {
    EXPECT_HAS(opts_err(R"(content:"abc;)"), "unterminated string");
    EXPECT_HAS(opts_err(R"(content:"a|41 4|b";)"), "odd number of hex digits");
    EXPECT_HAS(opts_err(R"(content:"a|41 42";)"), "unterminated hex block");
    EXPECT_HAS(opts_err(R"(content:"a|4G|";)"), "bad hex character 'G'");
    EXPECT_HAS(opts_err(R"(content:abc;)"), "content: value must be a quoted string");
    EXPECT_HAS(opts_err(R"(content:"";)"), "content: empty pattern");
    EXPECT_HAS(opts_err(R"(content:"a"b";)"), "unexpected text after the closing quote");
    EXPECT_HAS(opts_err(R"(content:"a\nb";)"), "bad escape '\\n'");
}

TEST(Content, Modifiers) {
    const Rule r = opts_ok(
        R"(content:"abc"; nocase; offset:2; depth:10; rawbytes; content:"de"; distance:-3; )"
        R"(within:5; content:"xyz"; startswith; endswith; content:"q"; fast_pattern;)");
    const Content& a = content_at(r, 0);
    EXPECT_TRUE(a.nocase);
    EXPECT_TRUE(a.rawbytes);
    ASSERT_TRUE(a.offset && a.depth);
    EXPECT_EQ(a.offset->value, 2);
    EXPECT_EQ(a.depth->value, 10);
    EXPECT_FALSE(a.relative());
    const Content& b = content_at(r, 1);
    ASSERT_TRUE(b.distance && b.within);
    EXPECT_EQ(b.distance->value, -3);
    EXPECT_EQ(b.within->value, 5);
    EXPECT_TRUE(b.relative());
    EXPECT_TRUE(content_at(r, 2).startswith);
    EXPECT_TRUE(content_at(r, 2).endswith);
    EXPECT_TRUE(content_at(r, 3).fast_pattern);
    EXPECT_FALSE(content_at(r, 3).fast_pattern_only);
}

TEST(Content, FastPatternForms) {
    const Rule only_rule = opts_ok(R"(content:"abcd"; fast_pattern:only;)");
    const Content& only = content_at(only_rule, 0);
    EXPECT_TRUE(only.fast_pattern && only.fast_pattern_only);
    const Rule chop = opts_ok(R"(content:"abcdef"; fast_pattern:1,3;)");
    ASSERT_TRUE(content_at(chop, 0).fp_chop_offset.has_value());
    EXPECT_EQ(*content_at(chop, 0).fp_chop_offset, 1);
    EXPECT_EQ(*content_at(chop, 0).fp_chop_len, 3);
    EXPECT_HAS(opts_err(R"(content:"abc"; fast_pattern:2,3;)"), "past the end of the content");
    EXPECT_HAS(opts_err(R"(content:"a"; fast_pattern; content:"b"; fast_pattern;)"),
               "fast_pattern may only be used once per rule");
    EXPECT_HAS(opts_err(R"(content:!"a"; fast_pattern:only;)"), "negated content");
    EXPECT_HAS(opts_err(R"(content:"ab"; fast_pattern:only; depth:4;)"),
               "fast_pattern:only can't be combined");
    EXPECT_HAS(opts_err(R"(content:"ab"; fast_pattern:sometimes;)"), "fast_pattern: expected");
}

TEST(Content, ModifierConflictsAndBadValues) {
    EXPECT_HAS(opts_err(R"(nocase;)"), "nocase needs a preceding content");
    EXPECT_HAS(opts_err(R"(pcre:"/x/"; depth:3;)"), "depth needs a preceding content");
    EXPECT_HAS(opts_err(R"(content:"ab"; depth:4; distance:1;)"),
               "can't mix offset/depth with distance/within");
    EXPECT_HAS(opts_err(R"(content:"ab"; within:4; offset:1;)"),
               "can't mix offset/depth with distance/within");
    EXPECT_HAS(opts_err(R"(content:"ab"; startswith; depth:4;)"),
               "startswith can't be combined with depth");
    EXPECT_HAS(opts_err(R"(content:"ab"; offset:1; startswith;)"),
               "startswith can't be combined with offset");
    EXPECT_HAS(opts_err(R"(content:"ab"; distance:0; startswith;)"),
               "startswith can't be combined with distance");
    EXPECT_HAS(opts_err(R"(content:"ab"; depth:4; depth:5;)"), "duplicate depth");
    EXPECT_HAS(opts_err(R"(content:"ab"; nocase; nocase;)"), "duplicate nocase");
    EXPECT_HAS(opts_err(R"(content:"abcdef"; depth:3;)"),
               "depth 3 is smaller than the content length 6");
    EXPECT_HAS(opts_err(R"(content:"abcdef"; within:3;)"), "within 3 is smaller");
    EXPECT_HAS(opts_err(R"(content:"ab"; offset:-1;)"),
               "offset: '-1' is not a non-negative integer");
    EXPECT_HAS(opts_err(R"(content:"ab"; offset:70000;)"), "offset: '70000' is out of range");
    EXPECT_HAS(opts_err(R"(content:"ab"; distance:x1;)"), "unknown byte_extract variable 'x1'");
    EXPECT_HAS(opts_err(R"(content:"ab"; depth;)"), "depth needs a value");
    EXPECT_HAS(opts_err(R"(content:"ab"; nocase:1;)"), "nocase takes no value");
    // The brief's canonical message, with the sid in front.
    EXPECT_EQ(parse_err(R"(alert tcp any any -> any any (content:"ab"; depth:-3; sid:5;))"),
              "sid 5: depth: '-3' is not a positive integer");
}

TEST(Content, ModifierAppliesToLastContentAcrossOtherPayloadOps) {
    // Suricata applies a modifier to the most recent content even after isdataat/pcre.
    const Rule r = opts_ok(R"(content:"abc"; isdataat:!1,relative; nocase; pcre:"/x/"; depth:5;)");
    ASSERT_EQ(r.payload.size(), 3U);
    EXPECT_TRUE(content_at(r, 0).nocase);
    ASSERT_TRUE(content_at(r, 0).depth.has_value());
    EXPECT_EQ(content_at(r, 0).depth->value, 5);
}

// ---------------------------------------------------------------------------------------
// pcre

TEST(Pcre, PatternAndFlags) {
    const Rule r =
        opts_ok(R"(content:"z"; pcre:"/^a.b\;c$/smixAEGRBO"; pcre:!"/x/"; pcre:/bare/i;)");
    ASSERT_EQ(r.payload.size(), 4U);
    const Pcre& p = op_at<Pcre>(r, 1);
    EXPECT_EQ(p.pattern, R"(^a.b\;c$)");
    EXPECT_EQ(p.flags, "smixAEGRBO");
    EXPECT_TRUE(p.dotall && p.multiline && p.caseless && p.extended && p.anchored &&
                p.dollar_endonly && p.ungreedy && p.relative && p.rawbytes);
    EXPECT_FALSE(p.negated);
    EXPECT_TRUE(op_at<Pcre>(r, 2).negated);
    EXPECT_EQ(op_at<Pcre>(r, 3).pattern, "bare");
    EXPECT_TRUE(op_at<Pcre>(r, 3).caseless);
    EXPECT_EQ(op_at<Pcre>(opts_ok(R"(pcre:"/a/b/c/";)"), 0).pattern, "a/b/c");
}

TEST(Pcre, Errors) {
    // As in Suricata, /R needs an earlier match in the same buffer (unless sticky).
    EXPECT_HAS(opts_err(R"(pcre:"/x/R";)"),
               "pcre: /R needs a preceding content or pcre in the same buffer (packet payload)");
    EXPECT_HAS(opts_err(R"(pcre:"/x/q";)"), "pcre: unknown flag 'q'");
    EXPECT_HAS(opts_err(R"(pcre:"x";)"), "pcre: expected");
    EXPECT_HAS(opts_err(R"(pcre:"//";)"), "pcre: empty pattern");
    EXPECT_HAS(opts_err(R"(pcre:"/x/;)"), "pcre: unterminated string");
    EXPECT_HAS(opts_err(R"(pcre:"/(a)/, pkt:v";)"), "unsupported pcre capture into variables");
}

// ---------------------------------------------------------------------------------------
// Non-payload options

TEST(Flow, Options) {
    const Rule r = opts_ok("flow:established,to_server,no_frag;");
    ASSERT_TRUE(r.flow.has_value());
    EXPECT_TRUE(r.flow->established && r.flow->to_server && r.flow->no_frag);
    EXPECT_FALSE(r.flow->to_client);
    const FlowOpt f = *opts_ok("flow: not_established , from_server, only_stream;").flow;
    EXPECT_TRUE(f.not_established && f.to_client && f.only_stream);
    EXPECT_TRUE(opts_ok("flow:stateless,from_client;").flow->to_server);
    EXPECT_TRUE(opts_ok("flow:only_frag;").flow->only_frag);
    EXPECT_HAS(opts_err("flow:to_server,to_client;"), "to_server conflicts with to_client");
    EXPECT_HAS(opts_err("flow:established,not_established;"), "conflicts");
    EXPECT_HAS(opts_err("flow:stateless,established;"), "stateless conflicts");
    EXPECT_HAS(opts_err("flow:only_stream,no_stream;"), "conflicts");
    EXPECT_HAS(opts_err("flow:only_frag,no_frag;"), "conflicts");
    EXPECT_HAS(opts_err("flow:sideways;"), "flow: unknown option 'sideways'");
    EXPECT_HAS(opts_err("flow:to_server; flow:established;"), "duplicate flow");
}

TEST(IntMatch, Grammar) {
    struct Case {
        const char* text;
        IntMatch::Op op;
        uint64_t lo;
        uint64_t hi;
    };
    const Case cases[] = {
        {"10", IntMatch::Op::Eq, 10, 0},     {"=10", IntMatch::Op::Eq, 10, 0},
        {"<10", IntMatch::Op::Lt, 10, 0},    {">10", IntMatch::Op::Gt, 10, 0},
        {"<=10", IntMatch::Op::Le, 10, 0},   {">=10", IntMatch::Op::Ge, 10, 0},
        {"!10", IntMatch::Op::Ne, 10, 0},    {"!=10", IntMatch::Op::Ne, 10, 0},
        {"5<>9", IntMatch::Op::Range, 5, 9}, {" 5 <> 9 ", IntMatch::Op::Range, 5, 9},
        {"5-9", IntMatch::Op::Range, 5, 9},  {"> 300", IntMatch::Op::Gt, 300, 0},
    };
    for (const Case& c : cases) {
        const Rule r = opts_ok(std::string("dsize:") + c.text + ";");
        ASSERT_TRUE(r.dsize.has_value()) << c.text;
        EXPECT_EQ(r.dsize->op, c.op) << c.text;
        EXPECT_EQ(r.dsize->lo, c.lo) << c.text;
        EXPECT_EQ(r.dsize->hi, c.hi) << c.text;
    }
    EXPECT_HAS(opts_err("dsize:9<>5;"), "dsize: bad range '9<>5'");
    EXPECT_HAS(opts_err("dsize:5<>5;"), "bad range");
    EXPECT_HAS(opts_err("dsize:big;"), "dsize: 'big' is not a non-negative integer");
    EXPECT_HAS(opts_err("dsize:70000;"), "dsize: '70000' is out of range");
    EXPECT_HAS(opts_err("dsize:<>;"), "dsize");
    EXPECT_HAS(opts_err("dsize:1; dsize:2;"), "duplicate dsize");
}

TEST(IntMatch, Matches) {
    IntMatch m;
    m.op = IntMatch::Op::Range;
    m.lo = 5;
    m.hi = 9;
    EXPECT_FALSE(m.matches(5));
    EXPECT_TRUE(m.matches(6));
    EXPECT_TRUE(m.matches(8));
    EXPECT_FALSE(m.matches(9));
    m.op = IntMatch::Op::Le;
    EXPECT_TRUE(m.matches(5));
    EXPECT_FALSE(m.matches(6));
    m.op = IntMatch::Op::Ne;
    EXPECT_FALSE(m.matches(5));
    EXPECT_TRUE(m.matches(4));
    m.op = IntMatch::Op::Ge;
    EXPECT_TRUE(m.matches(5));
    EXPECT_FALSE(m.matches(4));
}

TEST(IpAndIcmp, Options) {
    const Rule r = parse_ok(
        "alert icmp any any -> any any (itype:8; icode:<2; icmp_id:1234; icmp_seq:\"7\"; "
        "ttl:>=64; tos:!0x10; ipopts:lsrr; fragbits:+MD; ip_proto:!6; sid:1;)");
    ASSERT_TRUE(r.itype && r.icode && r.ttl && r.ip_proto);
    EXPECT_EQ(r.itype->op, IntMatch::Op::Eq);
    EXPECT_EQ(r.itype->lo, 8U);
    EXPECT_EQ(r.icode->op, IntMatch::Op::Lt);
    EXPECT_EQ(r.icmp_id, 1234);
    EXPECT_EQ(r.icmp_seq, 7);
    EXPECT_EQ(r.ttl->op, IntMatch::Op::Ge);
    EXPECT_EQ(r.tos, 0x10);
    EXPECT_TRUE(r.tos_negated);
    EXPECT_EQ(r.ipopts, dataplane::kIpOptLsrr);
    ASSERT_TRUE(r.fragbits.has_value());
    EXPECT_TRUE(r.fragbits->m && r.fragbits->d && !r.fragbits->r);
    EXPECT_EQ(r.fragbits->modifier, '+');
    EXPECT_EQ(r.ip_proto->op, IntMatch::Op::Ne);
    EXPECT_EQ(r.ip_proto->lo, 6U);

    EXPECT_EQ(opts_ok("tos:8;").tos, 8);
    EXPECT_EQ(opts_ok("tos:x1f;").tos, 0x1f);
    EXPECT_EQ(opts_ok("ip_proto:igmp;").ip_proto->lo, 2U);
    EXPECT_EQ(opts_ok("ip_proto:>100;").ip_proto->op, IntMatch::Op::Gt);
    EXPECT_EQ(opts_ok("ip_proto:ipv6-icmp;").ip_proto->lo, 58U);
    EXPECT_EQ(opts_ok("ipopts:any;").ipopts, dataplane::kIpOptAny);
    EXPECT_EQ(opts_ok("fragbits:R!;").fragbits->modifier, '!');
    EXPECT_EQ(opts_ok("fragbits:*D;").fragbits->modifier, '*');

    EXPECT_HAS(opts_err("ttl:256;"), "ttl: '256' is out of range");
    EXPECT_HAS(opts_err("itype:-1;"), "itype");
    EXPECT_HAS(opts_err("icmp_id:65536;"), "icmp_id: '65536' is out of range");
    EXPECT_HAS(opts_err("tos:300;"), "tos: '300' is not a value in 0-255");
    EXPECT_HAS(opts_err("ipopts:bogus;"), "ipopts: unknown option 'bogus'");
    EXPECT_HAS(opts_err("fragbits:MX;"), "fragbits: unknown bit 'X'");
    EXPECT_HAS(opts_err("fragbits:+;"), "fragbits: no bits");
    EXPECT_HAS(opts_err("ip_proto:nosuch;"), "ip_proto: unknown protocol 'nosuch'");
    EXPECT_HAS(opts_err("ip_proto:256;"), "ip_proto: '256' is out of range");
}

TEST(Tcp, FlagsSeqAckWindow) {
    const TcpFlagsMatch sa = *opts_ok("flags:SA;").tcp_flags;
    EXPECT_EQ(sa.flags, dataplane::kTcpSyn | dataplane::kTcpAck);
    EXPECT_EQ(sa.modifier, 0);
    const TcpFlagsMatch plus = *opts_ok("flags:+S,CE;").tcp_flags;
    EXPECT_EQ(plus.modifier, '+');
    EXPECT_EQ(plus.flags, dataplane::kTcpSyn);
    EXPECT_EQ(plus.mask, dataplane::kTcpCwr | dataplane::kTcpEce);
    EXPECT_EQ(opts_ok("flags:S+;").tcp_flags->modifier, '+');
    EXPECT_EQ(opts_ok("flags:*FPU;").tcp_flags->flags,
              dataplane::kTcpFin | dataplane::kTcpPsh | dataplane::kTcpUrg);
    EXPECT_EQ(opts_ok("flags:12;").tcp_flags->flags, dataplane::kTcpCwr | dataplane::kTcpEce);
    EXPECT_EQ(opts_ok("flags:0;").tcp_flags->flags, 0);
    EXPECT_EQ(opts_ok("flags:!R;").tcp_flags->modifier, '!');
    EXPECT_HAS(opts_err("flags:SX;"), "flags: unknown flag 'X'");
    EXPECT_HAS(opts_err("flags:0S;"), "'0' (no flags) combined");
    EXPECT_HAS(opts_err("flags:S,0;"), "'0' is not allowed in the mask");
    EXPECT_HAS(opts_err("flags:+S*;"), "more than one modifier");
    EXPECT_HAS(opts_err("flags:S,;"), "empty mask");

    const Rule r = opts_ok("seq:4294967295; ack:0; window:!1024;");
    EXPECT_EQ(r.tcp_seq, 4294967295U);
    EXPECT_EQ(r.tcp_ack, 0U);
    EXPECT_EQ(r.tcp_window, 1024);
    EXPECT_TRUE(r.tcp_window_negated);
    EXPECT_FALSE(opts_ok("window:55808;").tcp_window_negated);
    EXPECT_HAS(opts_err("seq:4294967296;"), "seq: '4294967296' is out of range");
    EXPECT_HAS(opts_err("window:65536;"), "window");
    EXPECT_HAS(opts_err("ack:0x10;"), "ack: '0x10' is not a non-negative integer");
}

TEST(Tcp, FlagsMatchSemantics) {
    auto m = [](const char* spec) {
        return *opts_ok(std::string("flags:") + spec + ";").tcp_flags;
    };
    const uint8_t syn = dataplane::kTcpSyn;
    const uint8_t synack = dataplane::kTcpSyn | dataplane::kTcpAck;
    const uint8_t syn_ece = dataplane::kTcpSyn | dataplane::kTcpEce | dataplane::kTcpCwr;
    EXPECT_TRUE(m("S").matches(syn));
    EXPECT_FALSE(m("S").matches(synack));     // exactly these flags
    EXPECT_TRUE(m("S,CE").matches(syn_ece));  // CWR/ECE ignored
    EXPECT_TRUE(m("+S").matches(synack));     // at least these
    EXPECT_FALSE(m("+SA").matches(syn));
    EXPECT_TRUE(m("*SF").matches(syn));  // any of these
    EXPECT_FALSE(m("*RF").matches(syn));
    EXPECT_TRUE(m("!R").matches(syn));  // not (all of) these
    EXPECT_FALSE(m("!S").matches(synack));
    EXPECT_TRUE(m("0").matches(0));
    EXPECT_FALSE(m("0").matches(syn));
}

TEST(PayloadOps, Isdataat) {
    const Rule r = opts_ok(R"(content:"a"; isdataat:!10,relative; isdataat:5, rawbytes;)");
    const IsDataAt& a = op_at<IsDataAt>(r, 1);
    EXPECT_TRUE(a.negated && a.relative && !a.rawbytes);
    EXPECT_EQ(a.size.value, 10);
    const IsDataAt& b = op_at<IsDataAt>(r, 2);
    EXPECT_TRUE(!b.negated && !b.relative && b.rawbytes);
    EXPECT_HAS(opts_err("isdataat:1,sideways;"), "isdataat: unknown option 'sideways'");
    EXPECT_HAS(opts_err("isdataat:-1;"), "isdataat: '-1' is not a non-negative integer");
    EXPECT_HAS(opts_err("isdataat:len;"), "unknown byte_extract variable 'len'");
}

TEST(PayloadOps, ByteTest) {
    const Rule r = opts_ok(
        "byte_test:4,>,1000,20; byte_test:2,!&,0x8000,-2,relative,little; "
        "byte_test:3,<=,100,0,string,dec; byte_test: 1 , ! , 5 , 0; "
        "byte_test:4,>=,1,0,relative,big,bitmask 0xff00; byte_test:8,=,18446744073709551615,0; "
        "byte_test:2,^,3,0,string,hex; byte_test:2,!=,3,0,string; byte_test:1,=,1,0,dce;");
    const ByteTest& a = op_at<ByteTest>(r, 0);
    EXPECT_EQ(a.nbytes, 4);
    EXPECT_EQ(a.op, '>');
    EXPECT_FALSE(a.negated);
    EXPECT_EQ(a.value.value, 1000);
    EXPECT_EQ(a.offset.value, 20);
    EXPECT_EQ(a.endian, Endian::Big);
    EXPECT_EQ(a.base, NumBase::None);
    const ByteTest& b = op_at<ByteTest>(r, 1);
    EXPECT_EQ(b.op, '&');
    EXPECT_TRUE(b.negated && b.relative);
    EXPECT_EQ(b.value.value, 0x8000);
    EXPECT_EQ(b.offset.value, -2);
    EXPECT_EQ(b.endian, Endian::Little);
    const ByteTest& c = op_at<ByteTest>(r, 2);
    EXPECT_EQ(c.op, 'l');
    EXPECT_EQ(c.base, NumBase::Dec);
    const ByteTest& d = op_at<ByteTest>(r, 3);
    EXPECT_EQ(d.op, '=');
    EXPECT_TRUE(d.negated);
    const ByteTest& e = op_at<ByteTest>(r, 4);
    EXPECT_EQ(e.op, 'g');
    ASSERT_TRUE(e.bitmask.has_value());
    EXPECT_EQ(*e.bitmask, 0xff00U);
    EXPECT_EQ(static_cast<uint64_t>(op_at<ByteTest>(r, 5).value.value), UINT64_MAX);
    EXPECT_EQ(op_at<ByteTest>(r, 6).base, NumBase::Hex);
    EXPECT_EQ(op_at<ByteTest>(r, 6).op, '^');
    EXPECT_EQ(op_at<ByteTest>(r, 7).base, NumBase::Dec);  // string defaults to dec
    EXPECT_TRUE(op_at<ByteTest>(r, 7).negated);
    EXPECT_TRUE(op_at<ByteTest>(r, 8).dce);

    EXPECT_HAS(opts_err("byte_test:9,=,1,0;"), "can't convert more than 8 bytes without 'string'");
    EXPECT_HAS(opts_err("byte_test:24,=,1,0,string;"), "byte_test nbytes: '24' is out of range");
    EXPECT_HAS(opts_err("byte_test:0,=,1,0;"), "nbytes 0 (the rest of the buffer) needs 'string'");
    EXPECT_HAS(opts_err("byte_test:4,~,1,0;"), "byte_test: bad operator '~'");
    EXPECT_HAS(opts_err("byte_test:4,=,1;"), "byte_test: expected");
    EXPECT_HAS(opts_err("byte_test:4,=,1,0,hex;"), "number base given without 'string'");
    EXPECT_HAS(opts_err("byte_test:4,=,1,0,sideways;"), "byte_test: unknown option 'sideways'");
    EXPECT_HAS(opts_err("byte_test:4,=,1,0,dce,little;"), "dce can't be combined");
    EXPECT_HAS(opts_err("byte_test:4,=,1,0,bitmask 0;"), "bad bitmask");
    EXPECT_HAS(opts_err("byte_test:4,=,nope,0;"), "unknown byte_extract variable 'nope'");
    EXPECT_HAS(opts_err("byte_test:4,=,1,70000;"), "byte_test offset: '70000' is out of range");
}

TEST(PayloadOps, ByteJump) {
    const Rule r = opts_ok(
        "byte_jump:4,12,relative,little,align,multiplier 2,post_offset -4,from_beginning; "
        "byte_jump:2,0,string,hex,from_end; byte_jump:0,0,relative,post_offset -13;");
    const ByteJump& a = op_at<ByteJump>(r, 0);
    EXPECT_EQ(a.nbytes, 4);
    EXPECT_EQ(a.offset.value, 12);
    EXPECT_TRUE(a.relative && a.align && a.from_beginning && !a.from_end);
    EXPECT_EQ(a.endian, Endian::Little);
    EXPECT_EQ(a.multiplier, 2U);
    EXPECT_EQ(a.post_offset, -4);
    const ByteJump& b = op_at<ByteJump>(r, 1);
    EXPECT_EQ(b.base, NumBase::Hex);
    EXPECT_TRUE(b.from_end);
    EXPECT_EQ(op_at<ByteJump>(r, 2).nbytes, 0);  // a pure cursor move, as ET writes it
    EXPECT_HAS(opts_err("byte_jump:4,0,from_beginning,from_end;"),
               "from_beginning conflicts with from_end");
    EXPECT_HAS(opts_err("byte_jump:4,0,multiplier 0;"),
               "byte_jump multiplier: '0' is out of range");
    EXPECT_HAS(opts_err("byte_jump:4,0,post_offset x;"), "byte_jump post_offset: 'x' is not");
    EXPECT_HAS(opts_err("byte_jump:4;"), "byte_jump: expected");
    EXPECT_HAS(opts_err("byte_jump:4,0,string,dce;"), "dce can't be combined");
    EXPECT_TRUE(op_at<ByteJump>(opts_ok("byte_jump:4,0,dce;"), 0).dce);
    EXPECT_HAS(opts_err("byte_jump:4,0,align 4;"), "byte_jump: bad option 'align 4'");
}

TEST(PayloadOps, ByteExtractAndVariables) {
    const Rule r =
        opts_ok(R"(content:"len"; byte_extract:2,0,size,relative,little,multiplier 4,align 4; )"
                R"(byte_extract:3,1,str,string,dec; content:"x"; distance:size; within:str; )"
                R"(isdataat:size,relative; byte_test:2,>,str,size; byte_jump:2,size;)");
    ASSERT_EQ(r.byte_vars.size(), 2U);
    EXPECT_EQ(r.byte_vars[0], "size");
    EXPECT_EQ(r.byte_vars[1], "str");
    const ByteExtract& e = op_at<ByteExtract>(r, 1);
    EXPECT_EQ(e.nbytes, 2);
    EXPECT_EQ(e.var, 0);
    EXPECT_TRUE(e.relative);
    EXPECT_EQ(e.endian, Endian::Little);
    EXPECT_EQ(e.multiplier, 4U);
    EXPECT_EQ(e.align, 4);
    EXPECT_EQ(op_at<ByteExtract>(r, 2).var, 1);
    EXPECT_EQ(op_at<ByteExtract>(r, 2).base, NumBase::Dec);
    const Content& x = content_at(r, 3);
    ASSERT_TRUE(x.distance && x.within);
    EXPECT_TRUE(x.distance->is_var());
    EXPECT_EQ(x.distance->var, 0);
    EXPECT_EQ(x.within->var, 1);
    EXPECT_EQ(op_at<IsDataAt>(r, 4).size.var, 0);
    EXPECT_EQ(op_at<ByteTest>(r, 5).value.var, 1);
    EXPECT_EQ(op_at<ByteTest>(r, 5).offset.var, 0);
    EXPECT_EQ(op_at<ByteJump>(r, 6).offset.var, 0);

    EXPECT_HAS(opts_err("byte_extract:2,0,v; byte_extract:2,0,v;"),
               "byte_extract: variable 'v' already defined");
    EXPECT_HAS(opts_err(R"(content:"a"; depth:v; byte_extract:2,0,v;)"),
               "depth: unknown byte_extract variable 'v'");
    EXPECT_HAS(opts_err("byte_extract:2,0,9v;"), "byte_extract: bad variable name '9v'");
    EXPECT_HAS(opts_err("byte_extract:2,0,v,align 3;"), "align must be 2 or 4");
    EXPECT_HAS(opts_err("byte_extract:2,0;"), "byte_extract: expected");
    EXPECT_HAS(opts_err("byte_extract:9,0,v;"), "can't convert more than 8 bytes");
}

TEST(Payload, EntropyOptionsAndErrors) {
    const Rule r = opts_ok("file.data; entropy:bytes 100, offset 10, value >= 4.5;");
    const auto& e = std::get<Entropy>(r.buffers.at(0).ops.at(0));
    EXPECT_EQ(e.bytes, 100U);
    EXPECT_EQ(e.offset, 10U);
    EXPECT_EQ(e.op, Entropy::Op::Ge);
    EXPECT_DOUBLE_EQ(e.lo, 4.5);
    EXPECT_HAS(opts_err("entropy:value > 9;"), "expected an entropy from 0 to 8, got '9'");
    EXPECT_HAS(opts_err("entropy:bytes 4;"), "entropy: missing value");
    EXPECT_HAS(opts_err("entropy:value !4;"), "'!' needs a range");
    EXPECT_HAS(opts_err("entropy:value 5-4;"), "low must be below high");
}

TEST(Payload, ByteMathOptionsAndErrors) {
    const Rule r = opts_ok(
        "byte_extract:1,0,n; byte_math:bytes n, offset 2, oper <<, rvalue 3, "
        "result v, endian little, bitmask 0x0f;");
    ASSERT_EQ(r.payload.size(), 2U);
    const auto& m = std::get<ByteMath>(r.payload[1]);
    EXPECT_TRUE(m.nbytes.is_var());
    EXPECT_EQ(m.oper, '<');
    EXPECT_EQ(m.endian, Endian::Little);
    EXPECT_EQ(r.byte_vars, (std::vector<std::string>{"n", "v"}));
    EXPECT_HAS(opts_err("byte_math:bytes 1, offset 0, oper %, rvalue 1, result v;"),
               "oper must be one of + - * / << >>, got '%'");
    EXPECT_HAS(opts_err("byte_math:bytes 1, offset 0, oper +, rvalue 1;"), "missing result");
    EXPECT_HAS(opts_err("byte_math:bytes 5, offset 0, oper +, rvalue 1, result v;"), "bytes");
    EXPECT_HAS(opts_err("byte_math:bytes 1, offset 0, oper +, rvalue x, result v;"), "rvalue");
    EXPECT_HAS(opts_err("byte_math:bytes 1, offset 0, offset 1, oper +, rvalue 1, result v;"),
               "duplicate offset");
}

TEST(Thresholds, ThresholdAndDetectionFilter) {
    const Threshold t =
        *opts_ok("threshold: type both, track by_dst, count 5, seconds 60;").threshold;
    EXPECT_EQ(t.type, Threshold::Type::Both);
    EXPECT_EQ(t.track, Threshold::Track::ByDst);
    EXPECT_EQ(t.count, 5U);
    EXPECT_EQ(t.seconds, 60U);
    const Threshold any_order =
        *opts_ok("threshold:seconds 300,count 2,track by_src,type limit;").threshold;
    EXPECT_EQ(any_order.type, Threshold::Type::Limit);
    EXPECT_EQ(any_order.seconds, 300U);
    EXPECT_EQ(opts_ok("threshold:type threshold,track by_flow,count 1,seconds 1;").threshold->track,
              Threshold::Track::ByFlow);
    EXPECT_EQ(opts_ok("threshold:type limit,track by_both,count 1,seconds 1;").threshold->track,
              Threshold::Track::ByBoth);
    EXPECT_EQ(opts_ok("threshold:type limit,track by_rule,count 1,seconds 1;").threshold->track,
              Threshold::Track::ByRule);
    const Threshold df =
        *opts_ok("detection_filter: track by_src, count 3, seconds 10;").detection_filter;
    EXPECT_EQ(df.type, Threshold::Type::DetectionFilter);
    EXPECT_EQ(df.count, 3U);

    EXPECT_HAS(opts_err("threshold:type limit,track by_src,count 1;"),
               "threshold: missing seconds");
    EXPECT_HAS(opts_err("threshold:track by_src,count 1,seconds 1;"), "threshold: missing type");
    EXPECT_HAS(opts_err("threshold:type sometimes,track by_src,count 1,seconds 1;"),
               "threshold: bad type 'sometimes'");
    EXPECT_HAS(opts_err("threshold:type limit,track by_ip,count 1,seconds 1;"),
               "threshold: bad track 'by_ip'");
    EXPECT_HAS(opts_err("threshold:type limit,track by_src,count x,seconds 1;"),
               "threshold count: 'x' is not a positive integer");
    EXPECT_HAS(opts_err("threshold:type limit,track by_src,count 1,seconds 1,extra 2;"),
               "threshold: unknown key 'extra'");
    EXPECT_HAS(opts_err("detection_filter:type limit,track by_src,count 1,seconds 1;"),
               "detection_filter: unknown key 'type'");
    EXPECT_HAS(opts_err("threshold:type limit,track by_src,count 1,seconds 1; "
                        "detection_filter:track by_src,count 1,seconds 1;"),
               "only one threshold or detection_filter");
    const Rule u =
        opts_ok("detection_filter:track by_dst, count 3, seconds 60, unique_on dst_port;");
    EXPECT_EQ(u.detection_filter->unique_on, Threshold::UniqueOn::DstPort);
    EXPECT_EQ(opts_err("detection_filter:track by_dst, count 3, seconds 60, unique_on ip;"),
              "sid 1: detection_filter: unique_on takes src_port or dst_port, got 'ip'");
    EXPECT_EQ(opts_err("threshold:type limit, track by_dst, count 3, seconds 60, unique_on "
                       "dst_port;"),
              "sid 1: threshold: unknown key 'unique_on'");
    const Rule b = opts_ok("threshold:type backoff, track by_flow, count 1, multiplier 10;");
    ASSERT_TRUE(b.threshold);
    EXPECT_EQ(b.threshold->type, Threshold::Type::Backoff);
    EXPECT_EQ(b.threshold->multiplier, 10U);
    EXPECT_EQ(opts_err("threshold:type backoff, track by_flow, count 1;"),
              "sid 1: threshold: type backoff needs a multiplier");
    EXPECT_EQ(opts_err("threshold:type backoff, track by_src, count 1, multiplier 2;"),
              "sid 1: threshold: type backoff supports only track by_flow");
    EXPECT_EQ(opts_err("threshold:type backoff, track by_flow, count 1, multiplier 2, seconds 5;"),
              "sid 1: threshold: type backoff takes no seconds");
    EXPECT_EQ(opts_err("threshold:type limit, track by_src, count 1, seconds 5, multiplier 2;"),
              "sid 1: threshold: multiplier is only for type backoff");
}

TEST(Flowbits, Commands) {
    const Rule r = opts_ok(
        "flowbits:set,ET.a; flowbits:isset, b; flowbits:isnotset,c|d; flowbits:isset,e&f; "
        "flowbits:unset,g; flowbits:toggle,h; flowbits:noalert;");
    ASSERT_EQ(r.flowbits.size(), 7U);
    EXPECT_EQ(r.flowbits[0].op, FlowbitCmd::Op::Set);
    EXPECT_EQ(r.flowbits[0].names, std::vector<std::string>{"ET.a"});
    EXPECT_EQ(r.flowbits[1].op, FlowbitCmd::Op::IsSet);
    EXPECT_EQ(r.flowbits[1].names, std::vector<std::string>{"b"});
    EXPECT_EQ(r.flowbits[2].op, FlowbitCmd::Op::IsNotSet);
    EXPECT_EQ(r.flowbits[2].names, (std::vector<std::string>{"c", "d"}));
    EXPECT_TRUE(r.flowbits[2].any_of);
    EXPECT_EQ(r.flowbits[3].names, (std::vector<std::string>{"e", "f"}));
    EXPECT_FALSE(r.flowbits[3].any_of);
    EXPECT_EQ(r.flowbits[4].op, FlowbitCmd::Op::Unset);
    EXPECT_EQ(r.flowbits[5].op, FlowbitCmd::Op::Toggle);
    EXPECT_EQ(r.flowbits[6].op, FlowbitCmd::Op::NoAlert);
    EXPECT_TRUE(r.noalert);
    EXPECT_FALSE(opts_ok("flowbits:set,x;").noalert);

    EXPECT_HAS(opts_err("flowbits:set,a|b;"), "'|' and '&' only work with isset/isnotset");
    EXPECT_HAS(opts_err("flowbits:isset,a|b&c;"), "can't mix '|' and '&'");
    EXPECT_HAS(opts_err("flowbits:flip,a;"), "flowbits: unknown command 'flip'");
    EXPECT_HAS(opts_err("flowbits:set;"), "flowbits: expected <command>,<name>");
    EXPECT_HAS(opts_err("flowbits:noalert,a;"), "noalert takes no name");
    EXPECT_HAS(opts_err("flowbits:isset,a||b;"), "flowbits: bad name");
}

TEST(MiscOptions, NoalertPktDataPrefilter) {
    EXPECT_TRUE(opts_ok("noalert;").noalert);
    const Rule r = opts_ok(R"(pkt_data; content:"a"; prefilter;)");
    EXPECT_EQ(r.payload.size(), 1U);
    EXPECT_HAS(opts_err("noalert:1;"), "noalert takes no value");
}

// ---------------------------------------------------------------------------------------
// Application-layer buffers

using dataplane::app::AppProto;
using dataplane::app::BufferId;

const BufferMatch& buffer_at(const Rule& r, size_t i) {
    static const BufferMatch empty;
    if (i >= r.buffers.size()) {
        ADD_FAILURE() << "no buffers[" << i << "] (" << r.buffers.size() << " buffers)";
        return empty;
    }
    return r.buffers[i];
}

template <typename T>
const T& buf_op(const Rule& r, size_t b, size_t i) {
    static const T empty{};
    const BufferMatch& bm = buffer_at(r, b);
    if (i >= bm.ops.size() || !std::holds_alternative<T>(bm.ops[i])) {
        ADD_FAILURE() << "buffers[" << b << "].ops[" << i << "] has the wrong kind";
        return empty;
    }
    return std::get<T>(bm.ops[i]);
}

TEST(StickyBuffers, KeywordsAndAliasesMapToBuffers) {
    struct Case {
        const char* kw;
        BufferId id;
        AppProto app;
    };
    const Case cases[] = {
        {"http.uri", BufferId::HttpUri, AppProto::Http},
        {"http.uri.raw", BufferId::HttpUriRaw, AppProto::Http},
        {"http.method", BufferId::HttpMethod, AppProto::Http},
        {"http.protocol", BufferId::HttpProtocol, AppProto::Http},
        {"http_protocol", BufferId::HttpProtocol, AppProto::Http},
        {"http.request_line", BufferId::HttpRequestLine, AppProto::Http},
        {"http_request_line", BufferId::HttpRequestLine, AppProto::Http},
        {"http.host", BufferId::HttpHost, AppProto::Http},
        {"http.host.raw", BufferId::HttpHostRaw, AppProto::Http},
        {"http.user_agent", BufferId::HttpUserAgent, AppProto::Http},
        {"http.referer", BufferId::HttpReferer, AppProto::Http},
        {"http_referer", BufferId::HttpReferer, AppProto::Http},
        {"http.cookie", BufferId::HttpCookie, AppProto::Http},
        {"http.accept", BufferId::HttpAccept, AppProto::Http},
        {"http_accept", BufferId::HttpAccept, AppProto::Http},
        {"http.accept_enc", BufferId::HttpAcceptEnc, AppProto::Http},
        {"http_accept_enc", BufferId::HttpAcceptEnc, AppProto::Http},
        {"http.accept_lang", BufferId::HttpAcceptLang, AppProto::Http},
        {"http_accept_lang", BufferId::HttpAcceptLang, AppProto::Http},
        {"http.content_type", BufferId::HttpContentTypeReq, AppProto::Http},
        {"http_content_type", BufferId::HttpContentTypeReq, AppProto::Http},
        {"http.content_len", BufferId::HttpContentLenReq, AppProto::Http},
        {"http_content_len", BufferId::HttpContentLenReq, AppProto::Http},
        {"http.connection", BufferId::HttpConnectionReq, AppProto::Http},
        {"http_connection", BufferId::HttpConnectionReq, AppProto::Http},
        {"http.header", BufferId::HttpHeaderReq, AppProto::Http},
        {"http.header.raw", BufferId::HttpHeaderRawReq, AppProto::Http},
        {"http.header_names", BufferId::HttpHeaderNamesReq, AppProto::Http},
        {"http_header_names", BufferId::HttpHeaderNamesReq, AppProto::Http},
        {"http.start", BufferId::HttpStartReq, AppProto::Http},
        {"http_start", BufferId::HttpStartReq, AppProto::Http},
        {"http.request_header", BufferId::HttpRequestHeader, AppProto::Http},
        {"http.response_header", BufferId::HttpResponseHeader, AppProto::Http},
        {"http.request_body", BufferId::HttpRequestBody, AppProto::Http},
        {"http.stat_code", BufferId::HttpStatCode, AppProto::Http},
        {"http.stat_msg", BufferId::HttpStatMsg, AppProto::Http},
        {"http.response_line", BufferId::HttpResponseLine, AppProto::Http},
        {"http_response_line", BufferId::HttpResponseLine, AppProto::Http},
        {"http.server", BufferId::HttpServer, AppProto::Http},
        {"http.location", BufferId::HttpLocation, AppProto::Http},
        {"http.response_body", BufferId::HttpResponseBody, AppProto::Http},
        {"file.data", BufferId::HttpResponseBody, AppProto::Http},
        {"file_data", BufferId::HttpResponseBody, AppProto::Http},
        {"dns.query", BufferId::DnsQuery, AppProto::Dns},
        {"dns_query", BufferId::DnsQuery, AppProto::Dns},
        {"tls.sni", BufferId::TlsSni, AppProto::Tls},
        {"tls_sni", BufferId::TlsSni, AppProto::Tls},
        {"tls.cert_subject", BufferId::TlsCertSubject, AppProto::Tls},
        {"tls_cert_subject", BufferId::TlsCertSubject, AppProto::Tls},
        {"tls.cert_issuer", BufferId::TlsCertIssuer, AppProto::Tls},
        {"tls_cert_issuer", BufferId::TlsCertIssuer, AppProto::Tls},
        {"tls.cert_serial", BufferId::TlsCertSerial, AppProto::Tls},
        {"tls_cert_serial", BufferId::TlsCertSerial, AppProto::Tls},
        {"tls.certs", BufferId::TlsCerts, AppProto::Tls},
        {"ja3.hash", BufferId::Ja3Hash, AppProto::Tls},
        {"ja3_hash", BufferId::Ja3Hash, AppProto::Tls},
        {"ja3.string", BufferId::Ja3String, AppProto::Tls},
        {"ja3_string", BufferId::Ja3String, AppProto::Tls},
        {"ja3s.hash", BufferId::Ja3sHash, AppProto::Tls},
        {"ja3s_hash", BufferId::Ja3sHash, AppProto::Tls},
        {"ja3s.string", BufferId::Ja3sString, AppProto::Tls},
        {"ja3s_string", BufferId::Ja3sString, AppProto::Tls},
    };
    for (const Case& c : cases) {
        const Rule r = opts_ok(std::string(c.kw) + R"(; content:"x";)");
        ASSERT_EQ(r.buffers.size(), 1U) << c.kw;
        EXPECT_EQ(r.buffers[0].buffer, c.id) << c.kw;
        EXPECT_EQ(r.buffers[0].keyword, c.kw);
        EXPECT_EQ(buf_op<Content>(r, 0, 0).bytes, "x") << c.kw;
        EXPECT_TRUE(r.payload.empty()) << c.kw;
        EXPECT_EQ(r.app_bind, c.app) << c.kw;  // implied by the buffer on a tcp rule
        EXPECT_EQ(r.proto, Proto::Tcp) << c.kw;
        EXPECT_TRUE(r.app_proto.empty()) << c.kw;
    }
    EXPECT_HAS(opts_err(R"(http.uri:1; content:"x";)"), "http.uri takes no value");
}

TEST(StickyBuffers, OptionsApplyUntilTheNextBufferOrPktData) {
    const Rule r =
        opts_ok(R"(content:"p1"; http.uri; content:"a"; nocase; depth:5; pcre:"/b/R"; )"
                R"(byte_test:1,=,1,0,relative; isdataat:1,relative; byte_jump:1,0,relative; )"
                R"(byte_extract:1,0,v,relative; http.host; content:"h"; pkt_data; content:"p2"; )"
                R"(within:v;)");
    ASSERT_EQ(r.payload.size(), 2U);
    EXPECT_EQ(content_at(r, 0).bytes, "p1");
    EXPECT_EQ(content_at(r, 1).bytes, "p2");
    ASSERT_EQ(r.buffers.size(), 2U);
    EXPECT_EQ(r.buffers[0].buffer, BufferId::HttpUri);
    ASSERT_EQ(r.buffers[0].ops.size(), 6U);
    EXPECT_TRUE(buf_op<Content>(r, 0, 0).nocase);
    EXPECT_EQ(buf_op<Content>(r, 0, 0).depth->value, 5);
    EXPECT_TRUE(buf_op<Pcre>(r, 0, 1).relative);
    EXPECT_TRUE(buf_op<ByteTest>(r, 0, 2).relative);
    EXPECT_TRUE(buf_op<IsDataAt>(r, 0, 3).relative);
    EXPECT_TRUE(buf_op<ByteJump>(r, 0, 4).relative);
    EXPECT_EQ(buf_op<ByteExtract>(r, 0, 5).var, 0);
    EXPECT_EQ(r.buffers[1].buffer, BufferId::HttpHost);
    EXPECT_EQ(buf_op<Content>(r, 1, 0).bytes, "h");
    // A byte_extract variable from a buffer can drive a payload content.
    EXPECT_EQ(content_at(r, 1).within->var, 0);
    EXPECT_FALSE(content_at(r, 0).nocase);
}

TEST(StickyBuffers, SectionsNamingTheSameBufferMerge) {
    const Rule r = opts_ok(
        R"(http.uri; content:"a"; http.host; content:"h"; http.uri; content:"b"; distance:0;)");
    ASSERT_EQ(r.buffers.size(), 2U);
    EXPECT_EQ(r.buffers[0].buffer, BufferId::HttpUri);
    ASSERT_EQ(r.buffers[0].ops.size(), 2U);
    EXPECT_EQ(buf_op<Content>(r, 0, 0).bytes, "a");
    EXPECT_EQ(buf_op<Content>(r, 0, 1).bytes, "b");
    EXPECT_EQ(r.buffers[1].buffer, BufferId::HttpHost);
    // Aliases are the same buffer.
    const Rule a = opts_ok(R"(dns.query; content:"a"; dns_query; content:"b";)");
    ASSERT_EQ(a.buffers.size(), 1U);
    EXPECT_EQ(a.buffers[0].ops.size(), 2U);
    EXPECT_EQ(a.buffers[0].keyword, "dns.query");
}

TEST(StickyBuffers, PacketHeaderBuffersArePacketProgramsNotTransactions) {
    const Rule r =
        parse_ok(R"(alert tcp any any -> any any (ipv4.hdr; content:"|06|"; offset:9; tcp.hdr; )"
                 R"(content:"|00 50|"; depth:2; ipv4.hdr; content:"|45|"; startswith; sid:1;))");
    EXPECT_TRUE(r.buffers.empty());
    EXPECT_EQ(r.app_bind, AppProto::Unknown);
    ASSERT_EQ(r.header_buffers.size(), 2U);  // the two ipv4.hdr sections merged
    EXPECT_EQ(r.header_buffers[0].header, PacketHeader::Ipv4);
    EXPECT_EQ(r.header_buffers[0].ops.size(), 2U);
    EXPECT_EQ(r.header_buffers[1].header, PacketHeader::Tcp);
    // Beside an application-layer buffer, and not confused with http.method (BufferId 0).
    const Rule h = parse_ok(
        R"(alert http any any -> any any (http.method; content:"GET"; tcp.hdr; content:"|00|"; sid:2;))");
    ASSERT_EQ(h.buffers.size(), 1U);
    EXPECT_EQ(h.buffers[0].buffer, BufferId::HttpMethod);
    ASSERT_EQ(h.header_buffers.size(), 1U);
    EXPECT_EQ(parse_err(R"(alert udp any any -> any any (tcp.hdr; content:"|00|"; sid:3;))"),
              "sid 3: 'tcp.hdr' needs a rule for protocol ip or tcp");
    EXPECT_EQ(parse_err(R"(alert tcp any any -> any any (icmpv6.hdr; content:"|00|"; sid:4;))"),
              "sid 4: 'icmpv6.hdr' needs a rule for protocol ip or icmpv6");
}

TEST(StickyBuffers, CertificateStringKeywordsAreContainsTests) {
    const Rule r = parse_ok(
        R"(alert tls any any -> any any (tls.subject:"CN=evil"; tls.issuerdn:!"O=Good CA"; sid:1;))");
    ASSERT_EQ(r.buffers.size(), 2U);
    EXPECT_EQ(r.buffers[0].buffer, BufferId::TlsCertSubject);
    const auto& subject = std::get<Content>(r.buffers[0].ops.at(0));
    EXPECT_EQ(subject.bytes, "CN=evil");
    EXPECT_FALSE(subject.negated);
    EXPECT_EQ(r.buffers[1].buffer, BufferId::TlsCertIssuer);
    const auto& issuer = std::get<Content>(r.buffers[1].ops.at(0));
    EXPECT_EQ(issuer.bytes, "O=Good CA");
    EXPECT_TRUE(issuer.negated);
    EXPECT_EQ(r.app_bind, AppProto::Tls);
    EXPECT_EQ(parse_err(R"(alert tls any any -> any any (tls.subject:""; sid:2;))"),
              "sid 2: tls.subject: expected a non-empty string");
}

TEST(StickyBuffers, AppLayerEventsVigilRaisesAndRefusesTheRest) {
    const Rule r =
        parse_ok(R"(alert dns any any -> any any (app-layer-event:dns.z_flag_set; sid:1;))");
    ASSERT_EQ(r.buffers.size(), 1U);
    EXPECT_EQ(r.buffers[0].buffer, BufferId::DnsEvents);
    EXPECT_EQ(r.app_bind, AppProto::Dns);
    const Rule h = parse_ok(R"(alert http any any -> any any (flow:to_server; )"
                            R"(app-layer-event:HTTP.request_auth_unrecognized; sid:2;))");
    ASSERT_EQ(h.buffers.size(), 1U);
    EXPECT_EQ(h.buffers[0].buffer, BufferId::HttpEventsReq);
    EXPECT_EQ(
        parse_err(R"(alert dns any any -> any any (app-layer-event:dns.malformed_data; sid:3;))"),
        "sid 3: app-layer-event 'dns.malformed_data': Vigil's dns parser does not raise "
        "it (it raises: not_a_request, not_a_response, z_flag_set, invalid_opcode, "
        "invalid_authorities, invalid_additionals)");
    EXPECT_EQ(
        parse_err(R"(alert tls any any -> any any (app-layer-event:tls.invalid_sni_type; sid:4;))"),
        "sid 4: app-layer-event 'tls.invalid_sni_type': Vigil's tls parser raises no events");
    EXPECT_NE(parse_err(R"(alert ip any any -> any any )"
                        R"((app-layer-event:applayer_mismatch_protocol_both_directions; sid:5;))")
                  .find("no generic app-layer events"),
              std::string::npos);
}

TEST(StickyBuffers, DirectionFollowsFlow) {
    struct Case {
        const char* kw;
        BufferId req;
        BufferId resp;
    };
    const Case cases[] = {
        {"http.header", BufferId::HttpHeaderReq, BufferId::HttpHeaderResp},
        {"http.header.raw", BufferId::HttpHeaderRawReq, BufferId::HttpHeaderRawResp},
        {"http.header_names", BufferId::HttpHeaderNamesReq, BufferId::HttpHeaderNamesResp},
        {"http.start", BufferId::HttpStartReq, BufferId::HttpStartResp},
        {"http.protocol", BufferId::HttpProtocol, BufferId::HttpProtocolResp},
        {"http.content_type", BufferId::HttpContentTypeReq, BufferId::HttpContentTypeResp},
        {"http.content_len", BufferId::HttpContentLenReq, BufferId::HttpContentLenResp},
        {"http.connection", BufferId::HttpConnectionReq, BufferId::HttpConnectionResp},
        {"http.cookie", BufferId::HttpCookie, BufferId::HttpSetCookie},
        {"http.uri", BufferId::HttpUri, BufferId::HttpUri},
        {"http.request_header", BufferId::HttpRequestHeader, BufferId::HttpRequestHeader},
        {"http.response_header", BufferId::HttpResponseHeader, BufferId::HttpResponseHeader},
        {"file.data", BufferId::HttpRequestBody, BufferId::HttpResponseBody},
        {"file_data", BufferId::HttpRequestBody, BufferId::HttpResponseBody},
    };
    for (const Case& c : cases) {
        const std::string body = std::string(c.kw) + R"(; content:"x";)";
        EXPECT_EQ(buffer_at(opts_ok("flow:established,to_server; " + body), 0).buffer, c.req)
            << c.kw;
        EXPECT_EQ(buffer_at(opts_ok("flow:to_client,established; " + body), 0).buffer, c.resp)
            << c.kw;
        EXPECT_EQ(buffer_at(opts_ok(body + " flow:from_server;"), 0).buffer, c.resp) << c.kw;
    }
    // Without a flow direction: request variants, and file.data is the response body.
    EXPECT_EQ(buffer_at(opts_ok(R"(http.header; content:"x";)"), 0).buffer,
              BufferId::HttpHeaderReq);
    EXPECT_EQ(buffer_at(opts_ok(R"(file.data; content:"x";)"), 0).buffer,
              BufferId::HttpResponseBody);
    // After resolution, sections naming the same buffer merge.
    const Rule m =
        opts_ok(R"(flow:to_client; http.header; content:"a"; pkt_data; content:"b"; http_header;)");
    ASSERT_EQ(m.buffers.size(), 1U);
    EXPECT_EQ(m.buffers[0].buffer, BufferId::HttpHeaderResp);
    EXPECT_EQ(m.buffers[0].ops.size(), 2U);
    EXPECT_EQ(buffer_at(opts_ok(R"(flow:to_client; http.protocol; content:"HTTP/1.1";)"), 0).buffer,
              BufferId::HttpProtocolResp);
}

TEST(StickyBuffers, Errors) {
    EXPECT_EQ(opts_err(R"(http.uri; http.host; content:"a";)"),
              "sid 1: sticky buffer 'http.uri' has nothing to match (no content, pcre, byte_*, "
              "isdataat or bsize)");
    EXPECT_HAS(opts_err(R"(http.uri; content:"a"; fast_pattern:only; offset:1;)"),
               "fast_pattern:only can't be combined");
}

TEST(LegacyModifiers, MoveTheContentIntoTheBuffer) {
    struct Case {
        const char* kw;
        BufferId id;
    };
    const Case cases[] = {
        {"http_uri", BufferId::HttpUri},
        {"http_raw_uri", BufferId::HttpUriRaw},
        {"http_method", BufferId::HttpMethod},
        {"http_header", BufferId::HttpHeaderReq},
        {"http_raw_header", BufferId::HttpHeaderRawReq},
        {"http_cookie", BufferId::HttpCookie},
        {"http_user_agent", BufferId::HttpUserAgent},
        {"http_host", BufferId::HttpHost},
        {"http_raw_host", BufferId::HttpHostRaw},
        {"http_client_body", BufferId::HttpRequestBody},
        {"http_server_body", BufferId::HttpResponseBody},
        {"http_stat_code", BufferId::HttpStatCode},
        {"http_stat_msg", BufferId::HttpStatMsg},
    };
    for (const Case& c : cases) {
        const Rule r = opts_ok(std::string(R"(content:"p"; content:"x"; )") + c.kw + ";");
        ASSERT_EQ(r.payload.size(), 1U) << c.kw;
        EXPECT_EQ(content_at(r, 0).bytes, "p");
        ASSERT_EQ(r.buffers.size(), 1U) << c.kw;
        EXPECT_EQ(r.buffers[0].buffer, c.id) << c.kw;
        EXPECT_EQ(r.buffers[0].keyword, c.kw);
        EXPECT_EQ(buf_op<Content>(r, 0, 0).bytes, "x") << c.kw;
        EXPECT_EQ(r.app_bind, AppProto::Http) << c.kw;
    }
    // Modifiers before and after the http_* keyword both apply; further contents join it.
    const Rule r =
        opts_ok(R"(content:"GET"; depth:3; http_method; nocase; content:"/a"; http_uri; )"
                R"(content:"b"; distance:0; http_uri; isdataat:!1,relative;)");
    EXPECT_TRUE(r.payload.empty());
    ASSERT_EQ(r.buffers.size(), 2U);
    EXPECT_EQ(buf_op<Content>(r, 0, 0).depth->value, 3);
    EXPECT_TRUE(buf_op<Content>(r, 0, 0).nocase);
    ASSERT_EQ(r.buffers[1].ops.size(), 3U);
    EXPECT_EQ(buf_op<Content>(r, 1, 1).bytes, "b");
    EXPECT_EQ(buf_op<Content>(r, 1, 1).distance->value, 0);
    // A relative isdataat goes to the buffer of the match before it, as in Suricata.
    EXPECT_TRUE(buf_op<IsDataAt>(r, 1, 2).negated);
    // Flow direction applies as for sticky buffers.
    const Rule resp =
        opts_ok(R"(flow:to_client; content:"a"; http_header; content:"s"; http_cookie;)");
    EXPECT_EQ(buffer_at(resp, 0).buffer, BufferId::HttpHeaderResp);
    EXPECT_EQ(buffer_at(resp, 1).buffer, BufferId::HttpSetCookie);
    // uricontent is content + http_uri.
    const Rule u = opts_ok(R"(uricontent:"/x.php"; nocase;)");
    EXPECT_TRUE(u.payload.empty());
    EXPECT_EQ(buffer_at(u, 0).buffer, BufferId::HttpUri);
    EXPECT_EQ(buffer_at(u, 0).keyword, "uricontent");
    EXPECT_TRUE(buf_op<Content>(u, 0, 0).nocase);
}

TEST(LegacyModifiers, Errors) {
    EXPECT_EQ(opts_err("http_uri;"), "sid 1: http_uri needs a preceding content");
    EXPECT_EQ(opts_err(R"(http.header; content:"a"; http_uri;)"),
              "sid 1: http_uri can't be used while the sticky buffer 'http.header' is active "
              "(reset it with pkt_data first)");
    EXPECT_EQ(opts_err(R"(content:"a"; http_uri; http_header;)"),
              "sid 1: http_header: the preceding content is already in buffer 'http_uri'");
    EXPECT_EQ(opts_err(R"(content:"a"; rawbytes; http_uri;)"),
              "sid 1: http_uri can't be combined with rawbytes");
    EXPECT_HAS(opts_err(R"(content:"a"; http_uri:1;)"), "http_uri takes no value");
    // After pkt_data the modifier works again.
    const Rule r = opts_ok(R"(http.header; content:"a"; pkt_data; content:"b"; http_uri;)");
    EXPECT_EQ(r.buffers.size(), 2U);
}

TEST(PcreBufferFlags, MoveThePcreIntoTheBuffer) {
    struct Case {
        char flag;
        BufferId id;
    };
    const Case cases[] = {
        {'U', BufferId::HttpUri},         {'I', BufferId::HttpUriRaw},
        {'P', BufferId::HttpRequestBody}, {'Q', BufferId::HttpResponseBody},
        {'H', BufferId::HttpHeaderReq},   {'D', BufferId::HttpHeaderRawReq},
        {'M', BufferId::HttpMethod},      {'C', BufferId::HttpCookie},
        {'S', BufferId::HttpStatCode},    {'Y', BufferId::HttpStatMsg},
        {'V', BufferId::HttpUserAgent},   {'W', BufferId::HttpHost},
        {'Z', BufferId::HttpHostRaw},
    };
    for (const Case& c : cases) {
        const Rule r = opts_ok(std::string(R"(pcre:"/x/i)") + c.flag + R"(";)");
        EXPECT_TRUE(r.payload.empty()) << c.flag;
        ASSERT_EQ(r.buffers.size(), 1U) << c.flag;
        EXPECT_EQ(r.buffers[0].buffer, c.id) << c.flag;
        EXPECT_TRUE(buf_op<Pcre>(r, 0, 0).caseless) << c.flag;
        EXPECT_EQ(r.app_bind, AppProto::Http) << c.flag;
    }
    // R is relative within that buffer: after a content moved there by http_uri.
    const Rule r = opts_ok(R"(content:"p"; content:"/a"; http_uri; pcre:"/b/UR";)");
    ASSERT_EQ(r.payload.size(), 1U);
    ASSERT_EQ(buffer_at(r, 0).ops.size(), 2U);
    EXPECT_TRUE(buf_op<Pcre>(r, 0, 1).relative);
    // The flag may name the active sticky buffer (Q is file_data, which http.response_body
    // shares).
    const Rule s = opts_ok(R"(http.response_body; content:"a"; pcre:"/b/Q";)");
    ASSERT_EQ(s.buffers.size(), 1U);
    EXPECT_EQ(s.buffers[0].ops.size(), 2U);
    // H follows the flow direction.
    EXPECT_EQ(buffer_at(opts_ok(R"(flow:to_client; pcre:"/x/H";)"), 0).buffer,
              BufferId::HttpHeaderResp);
    // W with an upper-case escape or with i is fine.
    opts_ok(R"(pcre:"/^www\S+\x2E/W";)");
    opts_ok(R"(pcre:"/Example/Wi";)");
}

TEST(PcreBufferFlags, Errors) {
    EXPECT_EQ(opts_err(R"(content:"p"; pcre:"/b/UR";)"),
              "sid 1: pcre: /R needs a preceding content or pcre in the same buffer (http_uri)");
    EXPECT_EQ(opts_err(R"(pcre:"/b/UH";)"), "sid 1: pcre: more than one buffer flag in 'UH'");
    EXPECT_EQ(opts_err(R"(http.header; content:"a"; pcre:"/b/U";)"),
              "sid 1: pcre: flag 'U' (http_uri) while the sticky buffer 'http.header' is active "
              "(reset it with pkt_data first)");
    EXPECT_HAS(opts_err(R"(pcre:"/Example/W";)"), "pcre: flag 'W' (http_host) with an upper-case");
    EXPECT_HAS(opts_err(R"(pcre:"/x/q";)"), "pcre: unknown flag 'q'");
}

TEST(Bsize, Forms) {
    struct Case {
        const char* v;
        IntMatch::Op op;
        uint64_t lo;
        uint64_t hi;
    };
    const Case cases[] = {
        {"10", IntMatch::Op::Eq, 10, 0},       {"<10", IntMatch::Op::Lt, 10, 0},
        {">10", IntMatch::Op::Gt, 10, 0},      {"<=10", IntMatch::Op::Le, 10, 0},
        {">=10", IntMatch::Op::Ge, 10, 0},     {"!10", IntMatch::Op::Ne, 10, 0},
        {"5<>10", IntMatch::Op::Range, 5, 10}, {"5-10", IntMatch::Op::Range, 5, 10},
    };
    for (const Case& c : cases) {
        const Rule r = opts_ok(std::string(R"(http.uri; content:"a"; bsize:)") + c.v + ";");
        ASSERT_TRUE(buffer_at(r, 0).bsize.has_value()) << c.v;
        EXPECT_EQ(r.buffers[0].bsize->op, c.op) << c.v;
        EXPECT_EQ(r.buffers[0].bsize->lo, c.lo) << c.v;
        EXPECT_EQ(r.buffers[0].bsize->hi, c.hi) << c.v;
    }
    // bsize alone is a match; it goes with the section it is in.
    const Rule r = opts_ok(R"(http.host; bsize:>60; http.uri; content:"a";)");
    EXPECT_EQ(buffer_at(r, 0).bsize->op, IntMatch::Op::Gt);
    EXPECT_FALSE(buffer_at(r, 1).bsize.has_value());

    EXPECT_EQ(opts_err(R"(content:"a"; bsize:3;)"), "sid 1: bsize needs a sticky buffer before it");
    EXPECT_EQ(opts_err(R"(http.uri; bsize:3; bsize:4;)"), "sid 1: duplicate bsize for 'http.uri'");
    EXPECT_EQ(opts_err(R"(http.uri; bsize:3; http.uri; bsize:4;)"),
              "sid 1: duplicate bsize for 'http.uri'");
    EXPECT_HAS(opts_err(R"(http.uri; bsize:abc;)"), "bsize: 'abc' is not");
    EXPECT_HAS(opts_err(R"(http.uri; bsize:10<>5;)"), "bsize: bad range");
}

std::vector<TransformKind> kinds(const BufferMatch& b) {
    std::vector<TransformKind> k;
    for (const Transform& t : b.transforms) {
        k.push_back(t.kind);
    }
    return k;
}

TEST(Transforms, RecordedOnTheBufferInOrder) {
    const Rule d = opts_ok(R"(dns.query; dotprefix; to_lowercase; content:".evil.com"; endswith;)");
    ASSERT_EQ(d.buffers.size(), 1U);
    EXPECT_EQ(kinds(d.buffers[0]),
              (std::vector<TransformKind>{TransformKind::DotPrefix, TransformKind::ToLowercase}));
    const Rule r = opts_ok(R"(http.host; content:"a"; http.uri; to_uppercase; strip_whitespace; )"
                           R"(compress_whitespace; url_decode; content:"A";)");
    ASSERT_EQ(r.buffers.size(), 2U);
    EXPECT_TRUE(r.buffers[0].transforms.empty());
    EXPECT_EQ(
        kinds(r.buffers[1]),
        (std::vector<TransformKind>{TransformKind::ToUppercase, TransformKind::StripWhitespace,
                                    TransformKind::CompressWhitespace, TransformKind::UrlDecode}));
    // The same transforms on two sections of one buffer merge.
    const Rule m = opts_ok(R"(tls.sni; to_lowercase; content:"a"; tls.sni; to_lowercase; )"
                           R"(content:"b";)");
    ASSERT_EQ(m.buffers.size(), 1U);
    EXPECT_EQ(m.buffers[0].ops.size(), 2U);
    // Other transforms make another buffer: both programs must match (Suricata's lists).
    const Rule two = opts_ok(R"(http.uri; content:"/get?data="; startswith; http.uri; )"
                             R"x(pcrexform:"/get\?data=(.*)"; xor:"0d0ac8ff"; content:"pw=";)x");
    ASSERT_EQ(two.buffers.size(), 2U);
    EXPECT_TRUE(two.buffers[0].transforms.empty());
    EXPECT_EQ(kinds(two.buffers[1]),
              (std::vector<TransformKind>{TransformKind::Pcrexform, TransformKind::Xor}));
    const Rule legacy = opts_ok(R"(http.uri; to_lowercase; content:"a"; pkt_data; content:"b"; )"
                                R"(http_uri;)");
    ASSERT_EQ(legacy.buffers.size(), 2U);
    EXPECT_TRUE(legacy.buffers[1].transforms.empty());  // http_uri: the untransformed buffer
}

TEST(Transforms, AfterMatchesTheyMakeANewSection) {
    // transform-gunzip: the content before from_base64 sees the URI as sent; what follows
    // sees it decoded (Suricata 8).
    const Rule r = opts_ok(R"(http.uri; content:"gzb64?value="; from_base64: offset 13; gunzip; )"
                           R"(content:"This is"; startswith; bsize:<20;)");
    ASSERT_EQ(r.buffers.size(), 2U);
    EXPECT_TRUE(r.buffers[0].transforms.empty());
    EXPECT_EQ(r.buffers[0].ops.size(), 1U);
    EXPECT_EQ(kinds(r.buffers[1]),
              (std::vector<TransformKind>{TransformKind::FromBase64, TransformKind::Gunzip}));
    EXPECT_EQ(r.buffers[1].ops.size(), 1U);
    EXPECT_TRUE(r.buffers[1].bsize.has_value());
    EXPECT_FALSE(r.buffers[0].bsize.has_value());
    // A transform after bsize too: bsize stays with the untransformed buffer.
    const Rule s = opts_ok(R"(dns.query; bsize:>3; dotprefix; content:".a";)");
    ASSERT_EQ(s.buffers.size(), 2U);
    EXPECT_TRUE(s.buffers[0].bsize.has_value());
    EXPECT_TRUE(s.buffers[0].ops.empty());
}

TEST(Transforms, Arguments) {
    const auto one = [](std::string_view opts) {
        const Rule r = opts_ok(std::string("http.uri; ") + std::string(opts) + R"( content:"a";)");
        return r.buffers.at(0).transforms.at(0);
    };
    Transform x = one(R"(xor:"0d0AC8ff";)");
    EXPECT_EQ(x.key, std::string("\x0d\x0a\xc8\xff"));
    EXPECT_EQ(x.offset, 0U);
    x = one("xor:offset   1,  extract 1 0;");
    EXPECT_TRUE(x.key_in_buffer);
    EXPECT_EQ(x.offset, 1U);
    EXPECT_EQ(x.nbytes, 1U);
    EXPECT_EQ(x.key_offset, 0U);
    EXPECT_EQ(one("xor:var 4 16;").key_offset, 16U);
    const Transform b = one("from_base64: bytes 12, offset 3, mode rfc2045;");
    EXPECT_EQ(b.nbytes, 12U);
    EXPECT_EQ(b.offset, 3U);
    EXPECT_EQ(b.mode, Base64Mode::Rfc2045);
    EXPECT_EQ(one("from_base64;").mode, Base64Mode::Rfc4648);
    EXPECT_EQ(one("gunzip;").nbytes, kGunzipDefaultMaxSize);
    EXPECT_EQ(one("gunzip: max-size 8;").nbytes, 8U);
    EXPECT_EQ(one(R"(pcrexform:"a(b+)c";)").key, "a(b+)c");
    EXPECT_EQ(one("to_sha256;").kind, TransformKind::ToSha256);
    EXPECT_EQ(one("tld;").kind, TransformKind::Tld);
}

TEST(Transforms, Errors) {
    EXPECT_EQ(opts_err(R"(dotprefix; content:"a";)"),
              "sid 1: dotprefix: transforms need a sticky buffer before them");
    EXPECT_HAS(opts_err(R"(dns.query; dotprefix:1; content:"a";)"), "dotprefix takes no value");
    EXPECT_HAS(opts_err(R"(http.uri; xor:"abc"; content:"a";)"), "even number of hex digits");
    EXPECT_HAS(opts_err(R"(http.uri; xor:"zz"; content:"a";)"), "not a key in hex");
    EXPECT_HAS(opts_err(R"(http.uri; xor:offset 1; content:"a";)"), "'offset <n>,<key>'");
    EXPECT_HAS(opts_err(R"(http.uri; xor:extract 0 1; content:"a";)"), "extract <nbytes 1-255>");
    EXPECT_HAS(opts_err(R"(http.uri; xor; content:"a";)"), "xor needs a value");
    EXPECT_HAS(opts_err(R"(http.uri; pcrexform:"abc"; content:"a";)"), "has no capture group");
    EXPECT_HAS(opts_err(R"(http.uri; pcrexform:"a(b"; content:"a";)"), "pcrexform: missing");
    EXPECT_HAS(opts_err(R"(http.uri; from_base64: mode base32; content:"a";)"),
               "mode 'base32' is not one of strict, rfc4648, rfc2045");
    EXPECT_HAS(opts_err(R"(http.uri; from_base64: bytes 0; content:"a";)"),
               "bytes '0' is not in 1-65535");
    EXPECT_HAS(opts_err(R"(http.uri; from_base64: size 4; content:"a";)"),
               "'size 4' is not 'bytes <n>'");
    EXPECT_HAS(opts_err(R"(http.uri; gunzip: max-size x; content:"a";)"), "gunzip: 'max-size x'");
}

TEST(Tag, FormsAndDefaults) {
    Tag t = *opts_ok("tag:session;").tag;  // Suricata's defaults: 256 packets
    EXPECT_EQ(t.type, Tag::Type::Session);
    EXPECT_EQ(t.count, 256U);
    EXPECT_EQ(t.metric, Tag::Metric::Packets);
    t = *opts_ok("tag:host;").tag;
    EXPECT_EQ(t.type, Tag::Type::Host);
    EXPECT_EQ(t.dir, Tag::Dir::Dst);
    t = *opts_ok("tag: Host, 200, bytes, src;").tag;
    EXPECT_EQ(t.count, 200U);
    EXPECT_EQ(t.metric, Tag::Metric::Bytes);
    EXPECT_EQ(t.dir, Tag::Dir::Src);
    EXPECT_EQ(opts_ok("tag:session,5,seconds;").tag->metric, Tag::Metric::Seconds);
    EXPECT_EQ(opts_ok("tag:session,1000,packets;").tag->count, 256U);  // held to 256
    EXPECT_EQ(opts_ok("tag:session,1000,bytes;").tag->count, 1000U);

    EXPECT_HAS(opts_err("tag:flow;"), "tag: type 'flow' is not session or host");
    EXPECT_HAS(opts_err("tag:session,5;"), "tag: expected <session|host>");
    EXPECT_HAS(opts_err("tag:session,0,packets;"), "tag: '0'");
    EXPECT_HAS(opts_err("tag:session,5,frames;"), "metric 'frames' is not packets");
    EXPECT_HAS(opts_err("tag:host,5,packets,both;"), "direction 'both' is not src or dst");
    EXPECT_HAS(opts_err("tag:host; tag:session;"), "duplicate tag");
}

TEST(Urilen, Forms) {
    const Rule r = opts_ok("urilen:> 80;");
    ASSERT_TRUE(r.urilen.has_value());
    EXPECT_EQ(r.urilen->op, IntMatch::Op::Gt);
    EXPECT_EQ(r.urilen->lo, 80U);
    EXPECT_FALSE(r.urilen_raw);
    EXPECT_EQ(r.app_bind, AppProto::Http);  // implied, like a buffer
    const Rule range = opts_ok("urilen:10<>20,raw;");
    EXPECT_EQ(range.urilen->op, IntMatch::Op::Range);
    EXPECT_EQ(range.urilen->hi, 20U);
    EXPECT_TRUE(range.urilen_raw);
    EXPECT_FALSE(opts_ok("urilen:<5, norm;").urilen_raw);
    EXPECT_EQ(opts_ok("urilen:7;").urilen->op, IntMatch::Op::Eq);

    EXPECT_EQ(opts_err("urilen:5,cooked;"), "sid 1: urilen: expected norm or raw, got 'cooked'");
    EXPECT_HAS(opts_err("urilen:70000;"), "urilen: '70000' is out of range");
    EXPECT_EQ(opts_err("urilen:1; urilen:2;"), "sid 1: duplicate urilen");
    EXPECT_HAS(parse_err("alert dns any any -> any any (urilen:1; sid:1;)"),
               "buffer 'urilen' (http) conflicts with protocol 'dns' of the rule header");
}

TEST(AppLayerProtocol, BindsTheRule) {
    struct Case {
        const char* v;
        AppProto app;
        bool negated;
    };
    const Case cases[] = {
        {"http", AppProto::Http, false}, {"dns", AppProto::Dns, false},
        {"tls", AppProto::Tls, false},   {"ssh", AppProto::Ssh, false},
        {"smtp", AppProto::Smtp, false}, {"ftp", AppProto::Ftp, false},
        {"smb", AppProto::Smb, false},   {"failed", AppProto::Failed, false},
        {"!tls", AppProto::Tls, true},   {" ! http", AppProto::Http, true},
    };
    for (const Case& c : cases) {
        const Rule r = opts_ok(std::string("app-layer-protocol:") + c.v + ";");
        EXPECT_EQ(r.app_bind, c.app) << c.v;
        EXPECT_EQ(r.app_bind_negated, c.negated) << c.v;
    }
    // Same as the header: fine.
    EXPECT_EQ(parse_ok("alert http any any -> any any (app-layer-protocol:http; sid:1;)").app_bind,
              AppProto::Http);
    // A negated other protocol is implied by an http buffer.
    const Rule r = opts_ok(R"(app-layer-protocol:!tls; http.uri; content:"a";)");
    EXPECT_EQ(r.app_bind, AppProto::Http);
    EXPECT_FALSE(r.app_bind_negated);
}

TEST(AppLayerProtocol, Errors) {
    EXPECT_EQ(opts_err("app-layer-protocol:krb5;"),
              "sid 1: app-layer-protocol: protocol 'krb5' is not detected by this sensor "
              "(known: http, dns, tls, ssh, smtp, ftp, smb, failed)");
    EXPECT_EQ(opts_err("app-layer-protocol:http; app-layer-protocol:dns;"),
              "sid 1: duplicate app-layer-protocol");
    EXPECT_EQ(parse_err("alert http any any -> any any (app-layer-protocol:tls; sid:1;)"),
              "sid 1: app-layer-protocol:tls conflicts with protocol 'http' of the rule header");
    EXPECT_EQ(parse_err("alert http any any -> any any (app-layer-protocol:!http; sid:1;)"),
              "sid 1: app-layer-protocol:!http conflicts with protocol 'http' of the rule header");
    EXPECT_EQ(opts_err(R"(app-layer-protocol:!http; http.uri; content:"a";)"),
              "sid 1: app-layer-protocol:!http conflicts with buffer 'http.uri'");
    EXPECT_EQ(opts_err(R"(app-layer-protocol:tls; http.uri; content:"a";)"),
              "sid 1: buffer 'http.uri' (http) conflicts with protocol 'tls' of "
              "app-layer-protocol");
}

TEST(AppBinding, ImpliedByBuffersAndConflicts) {
    EXPECT_EQ(parse_ok(R"(alert udp any any -> any 53 (dns.query; content:"a"; sid:1;))").app_bind,
              AppProto::Dns);
    const Rule h = parse_ok(R"(alert http any any -> any any (http.uri; content:"a"; sid:1;))");
    EXPECT_EQ(h.app_bind, AppProto::Http);
    EXPECT_EQ(h.app_proto, "http");
    EXPECT_EQ(parse_ok(R"(alert tls any any -> any any (tls.sni; content:"a"; sid:1;))").app_bind,
              AppProto::Tls);
    EXPECT_EQ(parse_err(R"(alert dns any any -> any any (http.uri; content:"a"; sid:1;))"),
              "sid 1: buffer 'http.uri' (http) conflicts with protocol 'dns' of the rule header");
    EXPECT_EQ(opts_err(R"(http.uri; content:"a"; dns.query; content:"b";)"),
              "sid 1: buffer 'dns.query' (dns) conflicts with buffer 'http.uri' (http)");
    EXPECT_EQ(opts_err(R"(ja3.hash; content:"a"; pkt_data; content:"b"; http_uri;)"),
              "sid 1: buffer 'http_uri' (http) conflicts with buffer 'ja3.hash' (tls)");
    EXPECT_EQ(parse_err(R"(alert smtp any any -> any any (file.data; content:"a"; sid:1;))"),
              "sid 1: unsupported 'file.data' for 'smtp': only http bodies are inspected");
}

TEST(AppBinding, ErrorsNameFileLineAndSid) {
    auto r = parse_rule(R"(alert dns any any -> any any (http.uri; content:"a"; sid:7;))", vars(),
                        "x.rules", 12);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message,
              "x.rules:12: sid 7: buffer 'http.uri' (http) conflicts with protocol 'dns' of the "
              "rule header");
}

// ---------------------------------------------------------------------------------------
// Rejection classes

TEST(Rejections, UnsupportedKeywords) {
    EXPECT_HAS(opts_err("ftpbounce;"), "unsupported keyword 'ftpbounce'");
    EXPECT_HAS(opts_err("lua:script.lua;"),
               "unsupported keyword 'lua' (lua scripts are not supported: Vigil runs no rule "
               "scripts)");
    EXPECT_HAS(opts_err("luajit:script.lua;"), "'luajit' (lua scripts are not supported");
    EXPECT_HAS(opts_err(R"(http.uri; luaxform:x.lua; content:"a";)"),
               "'luaxform' (lua scripts are not supported");
    EXPECT_HAS(opts_err(R"(tls.cert_fingerprint; content:"a";)"),
               "unsupported keyword 'tls.cert_fingerprint' (app-layer)");
    EXPECT_HAS(opts_err(R"(http2.header; content:"a";)"), "'http2.header' (app-layer)");
    EXPECT_HAS(opts_err(R"(ja4.hash; content:"a";)"), "(app-layer)");
    EXPECT_HAS(opts_err("app-layer-event:http.bad;"), "Vigil's http parser does not raise it");
    EXPECT_HAS(opts_err(R"(filename; content:"a";)"), "'filename' (app-layer)");
    EXPECT_HAS(opts_err(R"(http.header; header_lowercase; content:"a";)"),
               "'header_lowercase' (transform)");
    // The app-layer keyword is reported even when an unsupported non-app keyword comes first.
    EXPECT_HAS(opts_err(R"(stream_size:server,>,1; tls.cert_fingerprint; content:"a";)"),
               "'tls.cert_fingerprint' (app-layer)");
    // ... and even when an earlier option is also wrong.
    EXPECT_HAS(opts_err(R"(content:"a"; depth:-1; tls.version:1.2;)"), "'tls.version' (app-layer)");
}

TEST(Rejections, StructureErrors) {
    EXPECT_HAS(parse_err("alert tcp any any -> any any"), "rule has no option list");
    EXPECT_HAS(parse_err("alert tcp any any -> any any (msg:\"x\"; sid:1;"),
               "unterminated option list (missing ')')");
    EXPECT_HAS(parse_err("alert tcp any any -> any any (msg:\"x\"; sid:1)"),
               "sid 1: unterminated option 'sid' (missing ';')");
    EXPECT_HAS(parse_err("alert tcp any any -> any any (msg:\"x\"; sid:1;) junk"),
               "unexpected text after the option list");
    EXPECT_HAS(parse_err("alert tcp any any -> any any (msg:\"x\";; sid:1;)"), "empty option");
    EXPECT_HAS(parse_err("alert tcp any any -> any any (msg:\"x\" sid:1;)"), "missing sid");
    EXPECT_HAS(parse_err("alert tcp any any -> any any (msg:\"x\";)"), "missing sid");
    // Escaped semicolons stay inside the value.
    EXPECT_EQ(opts_ok(R"(msg:"a\;b";)").msg, "a;b");
}

TEST(Rejections, ErrorCarriesFileLineAndSid) {
    auto r = parse_rule("alert tcp any any -> any any (content:\"a\"; depth:0; sid:9;)", vars(),
                        "x.rules", 12);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::RuleParse);
    EXPECT_EQ(r.error().message, "x.rules:12: sid 9: depth: '0' is out of range (1-65535)");
    const Rule ok = *parse_rule("  alert tcp any any -> any any (sid:9;)  ", vars(), "y.rules", 3);
    EXPECT_EQ(ok.file, "y.rules");
    EXPECT_EQ(ok.line, 3U);
    EXPECT_EQ(ok.text, "alert tcp any any -> any any (sid:9;)");
}

TEST(RuleErrorFormat, ToString) {
    RuleError e{"a.rules", 4, 2001, "bad thing"};
    EXPECT_EQ(e.to_string(), "a.rules:4: sid 2001: bad thing");
    e.sid = 0;
    EXPECT_EQ(e.to_string(), "a.rules:4: bad thing");
    e.file.clear();
    EXPECT_EQ(e.to_string(), "line 4: bad thing");
    e.line = 0;
    EXPECT_EQ(e.to_string(), "bad thing");
}

// ---------------------------------------------------------------------------------------
// Rules files

TEST(RulesFile, CommentsContinuationsErrorsAndDuplicates) {
    TempDir dir;
    const std::string path =
        dir.write("t.rules",
                  "# a comment\n"
                  "\n"
                  "   # indented comment\n"
                  "#alert tcp any any -> any any (msg:\"disabled\"; sid:50;)\n"
                  "alert tcp any any -> any any (msg:\"one\"; sid:1; rev:1;)\n"
                  "alert tcp any any -> any any (msg:\"two\"; \\\n"
                  "    content:\"x\"; \\\n"
                  "    sid:2;)\n"
                  "alert tcp any any -> any any (msg:\"bad\"; depth:3; sid:3;)\n"
                  "this is not a rule\n"
                  "alert tcp any any -> any any (msg:\"dup\"; sid:1;)\n"
                  "alert tcp any any -> any any (msg:\"other gid\"; sid:1; gid:2;)\r\n"
                  "alert udp any any -> any any (msg:\"last\"; sid:4;)");
    auto r = parse_rules_file(path, vars());
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->rules.size(), 4U);
    EXPECT_EQ(r->rules[0].sid, 1U);
    EXPECT_EQ(r->rules[0].line, 5U);
    EXPECT_EQ(r->rules[0].file, path);
    EXPECT_EQ(r->rules[1].sid, 2U);
    EXPECT_EQ(r->rules[1].line, 6U);
    EXPECT_EQ(r->rules[1].text,
              "alert tcp any any -> any any (msg:\"two\";     content:\"x\";     sid:2;)");
    EXPECT_EQ(content_at(r->rules[1], 0).bytes, "x");
    EXPECT_EQ(r->rules[2].gid, 2U);
    EXPECT_EQ(r->rules[3].sid, 4U);
    EXPECT_EQ(r->rules[3].line, 13U);

    ASSERT_EQ(r->rejected.size(), 3U);
    EXPECT_EQ(r->rejected[0].line, 9U);
    EXPECT_EQ(r->rejected[0].sid, 3U);
    EXPECT_EQ(r->rejected[0].file, path);
    EXPECT_HAS(r->rejected[0].reason, "depth needs a preceding content");
    EXPECT_EQ(r->rejected[1].line, 10U);
    EXPECT_EQ(r->rejected[1].sid, 0U);
    EXPECT_HAS(r->rejected[1].reason, "no option list");
    EXPECT_EQ(r->rejected[2].line, 11U);
    EXPECT_EQ(r->rejected[2].sid, 1U);
    EXPECT_HAS(r->rejected[2].reason, "duplicate sid");
    EXPECT_HAS(r->rejected[2].reason, "first defined at line 5");
    EXPECT_EQ(r->rejected[2].to_string(), path + ":11: sid 1: " + r->rejected[2].reason);
}

// Large files are parsed on several threads: the result (rules, their order, every rejection
// in its place, duplicates refused after the first) must not depend on the thread count.
TEST(RulesFile, ParallelParseGivesTheSameResultAsOneThread) {
    TempDir dir;
    std::string a;
    std::string b;
    for (uint32_t i = 1; i <= 6000; ++i) {
        a += "alert tcp any any -> any any (msg:\"a" + std::to_string(i) + "\"; content:\"x" +
             std::to_string(i) + "\"; sid:" + std::to_string(i) + ";)\n";
        if (i % 997 == 0) {
            a += "alert tcp any any -> any any (msg:\"bad\"; depth:3; sid:" +
                 std::to_string(100000 + i) + ";)\n";
        }
        if (i % 1499 == 0) {  // a duplicate far from its first definition
            a += "alert tcp any any -> any any (msg:\"dup\"; sid:" + std::to_string(i / 2) + ";)\n";
        }
    }
    for (uint32_t i = 5990; i <= 9000; ++i) {  // sids 5990..6000 were loaded from a.rules
        b += "alert udp any any -> any any (msg:\"b" + std::to_string(i) +
             "\"; sid:" + std::to_string(i) + ";)\n";
    }
    const std::vector<std::string> paths{dir.write("a.rules", a), dir.write("b.rules", b)};

    auto one = parse_rules_files(paths, vars(), 1);
    auto four = parse_rules_files(paths, vars(), 4);
    ASSERT_TRUE(one.ok());
    ASSERT_TRUE(four.ok());
    ASSERT_EQ(one->size(), 2U);
    ASSERT_EQ(four->size(), 2U);
    EXPECT_EQ((*one)[0].rules.size(), 6000U);
    EXPECT_EQ((*one)[0].rejected.size(), 6U + 4U);  // 6 bad depth, 4 duplicates
    EXPECT_EQ((*one)[1].rules.size(), 3011U);       // each file checks its own duplicates
    for (size_t f = 0; f < 2; ++f) {
        const auto& x = (*one)[f];
        const auto& y = (*four)[f];
        ASSERT_EQ(x.rules.size(), y.rules.size());
        for (size_t i = 0; i < x.rules.size(); ++i) {
            ASSERT_EQ(x.rules[i].sid, y.rules[i].sid) << i;
            ASSERT_EQ(x.rules[i].line, y.rules[i].line) << i;
            ASSERT_EQ(x.rules[i].text, y.rules[i].text) << i;
        }
        ASSERT_EQ(x.rejected.size(), y.rejected.size());
        for (size_t i = 0; i < x.rejected.size(); ++i) {
            EXPECT_EQ(x.rejected[i].to_string(), y.rejected[i].to_string());
        }
    }
    const auto& rej = (*one)[0].rejected;
    EXPECT_HAS(rej[0].reason, "depth needs a preceding content");
    EXPECT_EQ(rej[0].sid, 100997U);
    EXPECT_HAS(rej[1].reason, "duplicate sid (gid 1), first defined at line 749");
    EXPECT_EQ(rej[1].line, 1501U);  // after rule 1499 (line 1500: a bad rule came before it)

    // As one list: b.rules' sids 5990..6000 are refused as loaded before, after b's own
    // rejections (none), and in the same order with any thread count.
    auto flat1 = parse_rules_flat(paths, vars(), 1);
    auto flat3 = parse_rules_flat(paths, vars(), 3);
    ASSERT_TRUE(flat1.ok());
    ASSERT_TRUE(flat3.ok());
    EXPECT_EQ(flat1->rules.size(), 6000U + 3000U);
    ASSERT_EQ(flat1->rejected.size(), 10U + 11U);
    EXPECT_EQ(flat1->rejected[10].sid, 5990U);
    EXPECT_EQ(flat1->rejected[10].file, paths[1]);
    EXPECT_EQ(flat1->rejected[10].reason, "duplicate sid (already loaded)");
    ASSERT_EQ(flat3->rejected.size(), flat1->rejected.size());
    for (size_t i = 0; i < flat1->rejected.size(); ++i) {
        EXPECT_EQ(flat1->rejected[i].to_string(), flat3->rejected[i].to_string());
    }
    ASSERT_EQ(flat3->rules.size(), flat1->rules.size());
    EXPECT_EQ(flat3->rules.back().sid, 9000U);
    EXPECT_EQ(flat3->rules[6000].sid, 6001U);
}

TEST(RulesFile, UnreadableFileIsAnError) {
    auto r = parse_rules_file("/nonexistent/dir/x.rules", vars());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::Io);
    EXPECT_HAS(r.error().message, "/nonexistent/dir/x.rules");
}

TEST(RuleOptions, StreamSize) {
    const Vars v = default_vars();
    auto ok = parse_rule(
        R"(alert tcp any any -> any any (msg:"x"; flow:established; stream_size:server,>=,4096; sid:1;))",
        v, "t.rules", 1);
    ASSERT_TRUE(ok.ok()) << ok.error().message;
    ASSERT_EQ(ok->stream_size.size(), 1U);
    EXPECT_EQ(ok->stream_size[0].side, StreamSize::Side::Server);
    EXPECT_EQ(ok->stream_size[0].cmp.op, IntMatch::Op::Ge);
    EXPECT_EQ(ok->stream_size[0].cmp.lo, 4096U);
    auto two = parse_rule(
        R"(alert tcp any any -> any any (msg:"x"; stream_size:client,=,1; stream_size:server,=,10; sid:1;))",
        v, "t.rules", 1);
    ASSERT_TRUE(two.ok()) << two.error().message;
    EXPECT_EQ(two->stream_size.size(), 2U);
    for (const char* bad : {"stream_size:up,>,1;", "stream_size:both,~,1;", "stream_size:both,>;",
                            "stream_size:both,>,x;"}) {
        auto r =
            parse_rule(std::string("alert tcp any any -> any any (msg:\"x\"; ") + bad + " sid:1;)",
                       v, "t.rules", 1);
        EXPECT_FALSE(r.ok()) << bad;
        if (!r.ok()) {
            EXPECT_NE(r.error().message.find("stream_size"), std::string::npos)
                << r.error().message;
        }
    }
}

TEST(RulesFile, EtOpenParsesQuickly) {
    const std::filesystem::path dir =
        std::filesystem::path(VIGIL_SHARED_DIR) / "rulesets/et-open-2025-07";
    if (!std::filesystem::is_directory(dir)) {
        GTEST_SKIP() << dir << " not present";
    }
    size_t loaded = 0;
    size_t rejected = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        if (e.path().extension() != ".rules") {
            continue;
        }
        auto r = parse_rules_file(e.path().string(), vars());
        ASSERT_TRUE(r.ok()) << r.error().message;
        loaded += r->rules.size();
        rejected += r->rejected.size();
        for (const RuleError& err : r->rejected) {
            // Every ET rejection is about a feature Vigil lacks, never a parse slip.
            EXPECT_TRUE(err.reason.starts_with("unsupported") ||
                        err.reason.starts_with("app-layer protocol"))
                << err.to_string();
        }
    }
    const auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_GT(loaded + rejected, 14000U);
    EXPECT_GE(loaded * 100, (loaded + rejected) * 95) << loaded << " of " << loaded + rejected;
#if defined(__SANITIZE_ADDRESS__)
    // ASan + Debug: 6-9 s alone, 19 s once with both cores busy with other builds and tests.
    const double limit = 40.0;
#else
    const double limit = 3.0;
#endif
    EXPECT_LT(secs, limit);
}

// ---------------------------------------------------------------------------------------
// decode-event, stream-event, flowint, xbits, base64_decode / base64_data

TEST(EventKeywords, DecodeEvent) {
    const Rule r = opts_ok("decode-event:ipv4.trunc_pkt; decode-event:TCP.PKT_TOO_SMALL;");
    ASSERT_EQ(r.decode_events.size(), 2U);
    EXPECT_EQ(r.decode_events[0], dataplane::DecodeEvent::Ipv4TruncPkt);
    EXPECT_EQ(r.decode_events[1], dataplane::DecodeEvent::TcpPktTooSmall);
    EXPECT_TRUE(r.payload.empty());
    EXPECT_EQ(opts_ok("decode-event:ipv6.frag_overlap;").decode_events[0],
              dataplane::DecodeEvent::Ipv6FragOverlap);
    EXPECT_HAS(opts_err("decode-event:ipv4.frag_pkt_too_large;"),
               "decode-event 'ipv4.frag_pkt_too_large': Vigil's decoder never raises it");
    EXPECT_HAS(opts_err("decode-event:ppp.wrong_type;"), "Vigil's decoder never raises it");
    EXPECT_HAS(opts_err("decode-event:ipv4.no_such_event;"),
               "decode-event 'ipv4.no_such_event': unknown decoder event");
    EXPECT_HAS(opts_err("decode-event:decoder.ipv4.trunc_pkt;"),
               "decode-event 'decoder.ipv4.trunc_pkt': write the name without 'decoder.'");
    EXPECT_HAS(opts_err("decode-event;"), "decode-event needs a value");
}

TEST(EventKeywords, StreamEvent) {
    const Rule r = opts_ok("stream-event:reassembly_seq_gap; stream-event:pkt_retransmission;");
    EXPECT_EQ(r.stream_events, dataplane::kStreamEvGap | dataplane::kStreamEvRetransmission);
    EXPECT_EQ(opts_ok("stream-event:Reassembly_Overlap_Different_Data;").stream_events,
              dataplane::kStreamEvOverlapDiff);
    EXPECT_EQ(opts_ok("stream-event:est_packet_out_of_window;").stream_events,
              dataplane::kStreamEvBadSeq);
    EXPECT_HAS(opts_err("stream-event:3whs_async_wrong_seq;"),
               "stream-event '3whs_async_wrong_seq': Vigil's stream engine never raises it");
    EXPECT_HAS(opts_err("stream-event:no_such;"), "stream-event 'no_such': unknown stream event");
    EXPECT_HAS(opts_err("stream-event:stream.reassembly_seq_gap;"),
               "write the name without 'stream.'");
    EXPECT_HAS(parse_err("alert http any any -> any any (stream-event:reassembly_seq_gap; "
                         "http.uri; content:\"a\"; sid:1;)"),
               "stream-event can't be combined with application-layer buffers");
}

TEST(FlowKeywords, Flowint) {
    const Rule r = opts_ok(
        "flowint:cnt,notset; flowint: ET.a.b , +, 1; flowint:cnt,>=,other; flowint:x,isnotset; "
        "flowint:x,=,4294967295;");
    ASSERT_EQ(r.flowints.size(), 5U);
    EXPECT_EQ(r.flowints[0].op, FlowintCmd::Op::NotSet);
    EXPECT_EQ(r.flowints[1].name, "ET.a.b");
    EXPECT_EQ(r.flowints[1].op, FlowintCmd::Op::Add);
    EXPECT_EQ(r.flowints[1].value, 1U);
    EXPECT_EQ(r.flowints[2].op, FlowintCmd::Op::Ge);
    EXPECT_EQ(r.flowints[2].var, "other");
    EXPECT_EQ(r.flowints[3].op, FlowintCmd::Op::NotSet);
    EXPECT_EQ(r.flowints[4].value, 4294967295U);
    EXPECT_HAS(opts_err("flowint:a,*,1;"), "flowint: unknown operator '*'");
    EXPECT_HAS(opts_err("flowint:a,+;"), "flowint: operator '+' needs a value");
    EXPECT_HAS(opts_err("flowint:a,isset,3;"), "flowint: isset takes no value, got '3'");
    EXPECT_HAS(opts_err("flowint:a,=,4294967296;"), "flowint: '4294967296' is out of range");
    EXPECT_HAS(opts_err("flowint:1a,isset;"), "flowint: bad variable name '1a'");
    EXPECT_HAS(opts_err("flowint:a;"), "flowint: expected <name>,<operator>");
    EXPECT_HAS(opts_err("flowint:a,==,-1;"), "is neither a number");
}

TEST(FlowKeywords, Xbits) {
    const Rule r = opts_ok(
        "xbits:set,ET.x,track ip_pair,expire 15; xbits:isset,ET.y,track ip_src; "
        "xbits:toggle,z,track ip_dst, expire 10;");
    ASSERT_EQ(r.xbits.size(), 3U);
    EXPECT_EQ(r.xbits[0].op, XbitCmd::Op::Set);
    EXPECT_EQ(r.xbits[0].track, XbitCmd::Track::IpPair);
    EXPECT_EQ(r.xbits[0].expire, 15U);
    EXPECT_EQ(r.xbits[1].op, XbitCmd::Op::IsSet);
    EXPECT_EQ(r.xbits[1].expire, 30U);  // Suricata's default
    EXPECT_EQ(r.xbits[2].track, XbitCmd::Track::IpDst);
    EXPECT_TRUE(opts_ok("xbits:noalert;").noalert);
    EXPECT_HAS(opts_err("xbits:set,a;"), "xbits: expected <command>,<name>,track");
    EXPECT_HAS(opts_err("xbits:set,a,track ip_both;"), "xbits: unknown track 'ip_both'");
    EXPECT_HAS(opts_err("xbits:set,a,track tx;"), "xbits: track tx is not supported");
    EXPECT_HAS(opts_err("xbits:flip,a,track ip_src;"), "xbits: unknown command 'flip'");
    EXPECT_HAS(opts_err("xbits:set,a,track ip_src,expire 0;"), "xbits expire: '0' is out of range");
    EXPECT_HAS(opts_err("xbits:set,a,track ip_src,ttl 5;"), "xbits: expected 'expire <seconds>'");
}

TEST(FlowKeywords, Hostbits) {
    const Rule r = opts_ok("hostbits:set,abc; hostbits:isset, abc ,dst; hostbits:toggle,x,src;");
    ASSERT_EQ(r.xbits.size(), 3U);
    EXPECT_EQ(r.xbits[0].track, XbitCmd::Track::IpSrc);  // Suricata's default
    EXPECT_EQ(r.xbits[0].expire, 300U);
    EXPECT_EQ(r.xbits[1].op, XbitCmd::Op::IsSet);
    EXPECT_EQ(r.xbits[1].name, "abc");
    EXPECT_EQ(r.xbits[1].track, XbitCmd::Track::IpDst);
    EXPECT_TRUE(opts_ok("hostbits:noalert;").noalert);
    EXPECT_HAS(opts_err("hostbits:set,abc,both;"), "hostbits: direction 'both' is not implemented");
    EXPECT_HAS(opts_err("hostbits:!isset,abc;"), "hostbits: unknown command '!isset'");
    EXPECT_HAS(opts_err("hostbits:noalert,abc;"), "hostbits: noalert takes no name");
    EXPECT_HAS(opts_err("hostbits:set,abc,up;"), "hostbits: unknown direction 'up'");
    EXPECT_HAS(opts_err("hostbits:set,name withspace;"), "hostbits: expected <command>,<name>");
}

TEST(PayloadOps, Base64) {
    const Rule r =
        opts_ok(R"(content:"foo="; base64_decode:bytes 12, offset 2, relative; base64_data; )"
                R"(content:"bar"; startswith;)");
    ASSERT_EQ(r.payload.size(), 4U);
    const auto& d = op_at<Base64Decode>(r, 1);
    EXPECT_EQ(d.bytes, 12U);
    EXPECT_EQ(d.offset, 2U);
    EXPECT_TRUE(d.relative);
    EXPECT_TRUE(std::holds_alternative<Base64Data>(r.payload[2]));
    EXPECT_TRUE(content_at(r, 3).startswith);
    const Rule plain = opts_ok("base64_decode; base64_data; content:\"x\";");
    EXPECT_EQ(op_at<Base64Decode>(plain, 0).bytes, 0U);  // the rest of the buffer
    // In a sticky buffer, the decode and its data stay in that buffer.
    const Rule sticky = parse_ok(
        R"(alert http any any -> any any (http.cookie; content:"a="; base64_decode:relative; )"
        R"(base64_data; content:"|9e|"; sid:1;))");
    ASSERT_EQ(sticky.buffers.size(), 1U);
    EXPECT_EQ(sticky.buffers[0].ops.size(), 4U);
    EXPECT_TRUE(sticky.payload.empty());
    EXPECT_HAS(opts_err("base64_data; content:\"x\";"),
               "base64_data needs a preceding base64_decode");
    EXPECT_HAS(opts_err("base64_decode:bytes 0;"), "base64_decode bytes: '0' is out of range");
    EXPECT_HAS(opts_err("base64_decode:bytes 70000;"), "base64_decode bytes: '70000' is out of");
    EXPECT_HAS(opts_err("base64_decode:relatve;"), "base64_decode: unknown option 'relatve'");
    EXPECT_HAS(opts_err("base64_decode:offset 1, offset 2;"), "base64_decode: duplicate offset");
    EXPECT_HAS(opts_err("base64_data:x;"), "base64_data takes no value");
    EXPECT_HAS(opts_err(R"(base64_decode; base64_data; content:"x"; pkt_data; content:"y";)"),
               "base64_data: a match after leaving base64_data");
}

}  // namespace
}  // namespace vigil::rules
