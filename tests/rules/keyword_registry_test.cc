// The keyword table (rules/options/registry.h) as a rule writer sees it: every keyword in the
// table is accepted by the parser, the unsupported-keyword classifier is derived from the
// table, known-unsupported keywords keep their family reason, and names are case-insensitive.

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <string_view>

#include "rules/options/registry.h"
#include "rules/parse_util.h"
#include "rules/rule_parser.h"

namespace vigil::rules {
namespace {

using detail::all_keywords;
using detail::find_keyword;
using detail::KeywordDef;
using detail::KeywordFamily;
using detail::unsupported_keyword;
using detail::ValueRule;

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (c >= 'a' && c <= 'z') {
            c = static_cast<char>(c - 'a' + 'A');
        }
    }
    return out;
}

// Why parse_rule refuses `alert tcp any any -> any any (<opts> sid:1;)`, empty when it parses.
std::string rejection(std::string_view opts) {
    static const Vars vars = default_vars();
    auto r = parse_rule("alert tcp any any -> any any (" + std::string(opts) + " sid:1;)", vars);
    return r.ok() ? std::string() : r.error().message;
}

// One use of the keyword in a rule, with what it needs before it and a value when it takes one.
std::string use_of(const KeywordDef& kw, std::string_view name) {
    std::string before;
    if (kw.family == KeywordFamily::ContentModifier || kw.family == KeywordFamily::LegacyBuffer) {
        before = "content:\"abcdef\"; ";
    }
    if (kw.family == KeywordFamily::Transform) {
        before = "http.uri; ";
    }
    const std::string value = kw.value == ValueRule::Required ? ":1" : "";
    return before + std::string(name) + value + ";";
}

TEST(KeywordRegistry, NamesAreLowerCaseAndUnique) {
    std::set<std::string_view> names;
    ASSERT_FALSE(all_keywords().empty());
    for (const KeywordDef* kw : all_keywords()) {
        EXPECT_TRUE(names.insert(kw->name).second) << "listed twice: " << kw->name;
        EXPECT_EQ(std::string(kw->name), detail::lower(kw->name));
        EXPECT_NE(kw->apply, nullptr) << kw->name;
    }
}

TEST(KeywordRegistry, EveryKeywordInTheTableIsAccepted) {
    for (const KeywordDef* kw : all_keywords()) {
        EXPECT_EQ(unsupported_keyword(kw->name), std::nullopt) << kw->name;
        // Whatever the handler thinks of the value, the keyword itself is never "unsupported".
        const std::string why = rejection(use_of(*kw, kw->name));
        EXPECT_EQ(why.find("unsupported keyword"), std::string::npos) << kw->name << ": " << why;
    }
}

TEST(KeywordRegistry, SampleUsesOfEachFamilyParse) {
    for (std::string_view opts :
         {"msg:\"m\"; rev:2; gid:1; classtype:trojan-activity; priority:2; metadata:a b; "
          "reference:url,x; target:src_ip; noalert;",
          "content:\"abcdef\"; nocase; offset:1; depth:6; content:\"x\"; distance:0; within:4; "
          "fast_pattern; pcre:\"/a/i\"; isdataat:1,relative; byte_test:1,>,1,0; dsize:>1;",
          "ttl:<64; tos:8; ipopts:rr; fragbits:M; flags:S,12; seq:1; ack:1; window:1024; "
          "ip_proto:6;",
          "flow:to_server,established; flowbits:set,a; stream_size:server,>,10; "
          "threshold:type limit, track by_src, count 1, seconds 60;",
          "http.uri; to_lowercase; content:\"a\"; bsize:>1; pkt_data; content:\"b\"; http_host;",
          "ip.src; dataset:isset,bad-hosts,type ip,load bad.lst; ip.dst; datarep:rep,>,10; "
          "asn1:oversize_length 100, relative_offset -2;"}) {
        EXPECT_EQ(rejection(opts), "") << opts;
    }
}

TEST(KeywordRegistry, UnsupportedExactlyForNamesOutsideTheTable) {
    for (std::string_view name :
         {"content",         "CONTENT",  "Http.Uri",     "nocase", "app-layer-protocol",
          "uricontent",      "http_uri", "url_decode",   "xbits",  "base64_decode",
          "hostbits",        "dataset",  "http2.header", "to_md5", "luajit",
          "datarep",         "asn1",     "ip.src",       "ip.dst", "tag",
          "app-layer-event", "lua",      "tag",          "sni",    "no_such_keyword"}) {
        EXPECT_EQ(unsupported_keyword(name).has_value(), find_keyword(name) == nullptr) << name;
    }
}

TEST(KeywordRegistry, KnownUnsupportedKeepTheirFamilyReason) {
    EXPECT_EQ(unsupported_keyword("http2.header"),
              "unsupported keyword 'http2.header' (app-layer)");
    EXPECT_EQ(unsupported_keyword("tls.cert_fingerprint"),
              "unsupported keyword 'tls.cert_fingerprint' (app-layer)");
    EXPECT_EQ(unsupported_keyword("filesize"), "unsupported keyword 'filesize' (app-layer)");
    EXPECT_EQ(unsupported_keyword("strip_pseudo_headers"),
              "unsupported keyword 'strip_pseudo_headers' (transform)");
    EXPECT_EQ(unsupported_keyword("HEADER_LOWERCASE"),
              "unsupported keyword 'HEADER_LOWERCASE' (transform)");
    for (std::string_view lua : {"lua", "LuaJIT", "luaxform"}) {
        EXPECT_EQ(unsupported_keyword(lua),
                  "unsupported keyword '" + std::string(lua) +
                      "' (lua scripts are not supported: Vigil runs no rule scripts)");
    }
    // The parser reports the same reason, app-layer first whatever the option order.
    EXPECT_EQ(rejection("content:\"a\"; xbits:set,a,track ip_src; tls.cert_chain_len:1;"),
              "sid 1: unsupported keyword 'tls.cert_chain_len' (app-layer)");
}

TEST(KeywordRegistry, LookupsAreCaseInsensitive) {
    for (const KeywordDef* kw : all_keywords()) {
        const std::string up = upper(kw->name);
        EXPECT_EQ(find_keyword(up), kw) << up;
        EXPECT_EQ(unsupported_keyword(up), std::nullopt) << up;
        const std::string why = rejection(use_of(*kw, up));
        EXPECT_EQ(why.find("unsupported keyword"), std::string::npos) << up << ": " << why;
    }
    EXPECT_EQ(rejection("CONTENT:\"abc\"; NoCase; Http_Uri;"), "");
}

TEST(KeywordRegistry, ValueRulesKeepTheirMessages) {
    EXPECT_EQ(rejection("content:\"a\"; nocase:1;"), "sid 1: nocase takes no value");
    EXPECT_EQ(rejection("http.uri:x; content:\"a\";"), "sid 1: http.uri takes no value");
    EXPECT_EQ(rejection("ttl;"), "sid 1: ttl needs a value");
    EXPECT_EQ(rejection("content:\"a\"; depth;"), "sid 1: depth needs a value");
    // A modifier without a content is refused for that first.
    EXPECT_EQ(rejection("nocase:1;"), "sid 1: nocase needs a preceding content");
    EXPECT_EQ(rejection("content:\"abc\"; fast_pattern;"), "");
    EXPECT_EQ(rejection("content:\"abc\"; fast_pattern:only;"), "");
}

}  // namespace
}  // namespace vigil::rules
