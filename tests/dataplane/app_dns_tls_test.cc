#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <array>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "dataplane/app/dns/dns.h"
#include "dataplane/app/tls/tls.h"

#include <nlohmann/json.hpp>

namespace vigil::dataplane::app {
namespace {

using Bytes = std::vector<uint8_t>;

// The EVE objects as the sensor writes them: rendered to text, then read back.
nlohmann::json as_written(const nlohmann::ordered_json& o) {
    return nlohmann::json::parse(o.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                                 nullptr, false);
}
nlohmann::json dns_eve_object(const DnsMessage& m, uint64_t tx_id) {
    nlohmann::ordered_json o;
    dns_eve(m, tx_id, o);
    return as_written(o);
}
nlohmann::json tls_eve_object(const TlsParser& p) {
    nlohmann::ordered_json o;
    p.eve(o);
    return as_written(o);
}

void put16(Bytes& b, uint16_t v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
}

void put24(Bytes& b, uint32_t v) {
    b.push_back(static_cast<uint8_t>(v >> 16));
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
}

void put32(Bytes& b, uint32_t v) {
    put16(b, static_cast<uint16_t>(v >> 16));
    put16(b, static_cast<uint16_t>(v));
}

void append(Bytes& b, const Bytes& more) {
    b.insert(b.end(), more.begin(), more.end());
}

// ---------------------------------------------------------------------------------------
// DNS

void put_name(Bytes& b, const std::string& dotted) {
    size_t start = 0;
    while (start < dotted.size()) {
        size_t dot = dotted.find('.', start);
        if (dot == std::string::npos) {
            dot = dotted.size();
        }
        b.push_back(static_cast<uint8_t>(dot - start));
        b.insert(b.end(), dotted.begin() + static_cast<long>(start),
                 dotted.begin() + static_cast<long>(dot));
        start = dot + 1;
    }
    b.push_back(0);
}

Bytes dns_header(uint16_t id, uint16_t flags, uint16_t qd, uint16_t an) {
    Bytes b;
    put16(b, id);
    put16(b, flags);
    put16(b, qd);
    put16(b, an);
    put16(b, 0);
    put16(b, 0);
    return b;
}

Bytes simple_query(const std::string& name, uint16_t type = 1) {
    Bytes b = dns_header(0x1234, 0x0100, 1, 0);
    put_name(b, name);
    put16(b, type);
    put16(b, 1);
    return b;
}

// Response to "www.example.com A": CNAME -> example.com, A 93.184.216.34, AAAA 2001:db8::1,
// all names compressed against the question.
Bytes sample_response() {
    Bytes b = dns_header(0xbeef, 0x8180, 1, 3);
    put_name(b, "www.example.com");  // at offset 12; "example.com" at 16
    put16(b, 1);
    put16(b, 1);
    // CNAME
    put16(b, 0xc00c);
    put16(b, 5);
    put16(b, 1);
    put32(b, 3600);
    put16(b, 2);
    put16(b, 0xc010);
    // A
    put16(b, 0xc010);
    put16(b, 1);
    put16(b, 1);
    put32(b, 300);
    put16(b, 4);
    append(b, {93, 184, 216, 34});
    // AAAA
    put16(b, 0xc010);
    put16(b, 28);
    put16(b, 1);
    put32(b, 60);
    put16(b, 16);
    append(b, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
    return b;
}

TEST(DnsParse, QueryWithOneQuestion) {
    const Bytes q = simple_query("www.suricata.io");
    DnsMessage m;
    ASSERT_TRUE(parse_dns(q.data(), q.size(), m));
    EXPECT_EQ(m.id, 0x1234);
    EXPECT_FALSE(m.response);
    EXPECT_EQ(m.opcode, 0);
    ASSERT_EQ(m.questions.size(), 1u);
    EXPECT_EQ(m.questions[0].name, "www.suricata.io");
    EXPECT_EQ(m.questions[0].type, 1);
    EXPECT_EQ(m.questions[0].cls, 1);
    EXPECT_TRUE(m.answers.empty());
}

TEST(DnsParse, ThreeQuestionsWithCompressionPointers) {
    Bytes b = dns_header(7, 0x0100, 3, 0);
    put_name(b, "mail.example.org");  // offset 12; "example.org" at 17
    put16(b, 15);
    put16(b, 1);
    b.push_back(3);  // "www" + pointer to "example.org"
    append(b, {'w', 'w', 'w'});
    put16(b, 0xc011);
    put16(b, 1);
    put16(b, 1);
    put16(b, 0xc00c);  // the whole first name
    put16(b, 28);
    put16(b, 1);
    DnsMessage m;
    ASSERT_TRUE(parse_dns(b.data(), b.size(), m));
    ASSERT_EQ(m.questions.size(), 3u);
    EXPECT_EQ(m.questions[0].name, "mail.example.org");
    EXPECT_EQ(m.questions[0].type, 15);
    EXPECT_EQ(m.questions[1].name, "www.example.org");
    EXPECT_EQ(m.questions[2].name, "mail.example.org");
    EXPECT_EQ(m.questions[2].type, 28);

    // A reused message shrinks to the new counts.
    const Bytes q = simple_query("a.b");
    ASSERT_TRUE(parse_dns(q.data(), q.size(), m));
    ASSERT_EQ(m.questions.size(), 1u);
    EXPECT_EQ(m.questions[0].name, "a.b");
}

TEST(DnsParse, SingleForwardPointerAccepted) {
    // suricata-verify dns-forward-pointer: the first question points at the second.
    const Bytes b = {0x8e, 0x04, 0x01, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0,
                     0x12, 0x00, 0x01, 0x00, 0x01, 0x0a, 'c',  'o',  'd',  'e',  'm',  'o',  'n',
                     'k',  'e',  'y',  0x03, 'n',  'e',  't',  0x00, 0x00, 0x01, 0x00, 0x01};
    DnsMessage m;
    ASSERT_TRUE(parse_dns(b.data(), b.size(), m));
    ASSERT_EQ(m.questions.size(), 2u);
    EXPECT_EQ(m.questions[0].name, "codemonkey.net");
    EXPECT_EQ(m.questions[1].name, "codemonkey.net");
}

TEST(DnsParse, PointerLoopsRejected) {
    DnsMessage m;
    Bytes self = dns_header(1, 0x0100, 1, 0);
    put16(self, 0xc00c);  // points at itself
    put16(self, 1);
    put16(self, 1);
    EXPECT_FALSE(parse_dns(self.data(), self.size(), m));

    Bytes pair = dns_header(1, 0x0100, 1, 0);
    put16(pair, 0xc00e);  // 12 -> 14
    put16(pair, 0xc00c);  // 14 -> 12
    put16(pair, 1);
    put16(pair, 1);
    EXPECT_FALSE(parse_dns(pair.data(), pair.size(), m));

    Bytes labels = dns_header(1, 0x0100, 1, 0);
    append(labels, {1, 'a'});
    put16(labels, 0xc00c);  // "a" then back to itself: a.a.a.a...
    put16(labels, 1);
    put16(labels, 1);
    EXPECT_FALSE(parse_dns(labels.data(), labels.size(), m));

    Bytes out_of_range = dns_header(1, 0x0100, 1, 0);
    put16(out_of_range, 0xc0ff);
    put16(out_of_range, 1);
    put16(out_of_range, 1);
    EXPECT_FALSE(parse_dns(out_of_range.data(), out_of_range.size(), m));
}

TEST(DnsParse, LabelOver63Rejected) {
    Bytes b = dns_header(1, 0x0100, 1, 0);
    b.push_back(64);
    b.insert(b.end(), 64, 'x');
    b.push_back(0);
    put16(b, 1);
    put16(b, 1);
    DnsMessage m;
    EXPECT_FALSE(parse_dns(b.data(), b.size(), m));

    Bytes ok = dns_header(1, 0x0100, 1, 0);
    ok.push_back(63);
    ok.insert(ok.end(), 63, 'x');
    ok.push_back(0);
    put16(ok, 1);
    put16(ok, 1);
    ASSERT_TRUE(parse_dns(ok.data(), ok.size(), m));
    EXPECT_EQ(m.questions[0].name, std::string(63, 'x'));
}

TEST(DnsParse, NameOver255Rejected) {
    std::string name;
    for (int i = 0; i < 5; ++i) {  // 5 * 64 wire bytes > 255
        name += (i ? "." : "") + std::string(63, 'a' + i);
    }
    const Bytes b = simple_query(name);
    DnsMessage m;
    EXPECT_FALSE(parse_dns(b.data(), b.size(), m));
}

TEST(DnsParse, CountsBeyondDataRejected) {
    Bytes b = simple_query("example.com");
    b[5] = 2;  // qdcount 2, one question present
    DnsMessage m;
    EXPECT_FALSE(parse_dns(b.data(), b.size(), m));
    b[5] = 1;
    b[7] = 1;  // ancount 1, no answer present
    EXPECT_FALSE(parse_dns(b.data(), b.size(), m));
}

TEST(DnsParse, TruncatedAtEveryLengthFails) {
    const Bytes full = sample_response();
    DnsMessage m;
    ASSERT_TRUE(parse_dns(full.data(), full.size(), m));
    for (size_t n = 0; n < full.size(); ++n) {
        // An exact-size heap copy so ASan catches any read past the end.
        const auto copy = std::make_unique<uint8_t[]>(n + 1);
        std::copy(full.begin(), full.begin() + static_cast<long>(n), copy.get());
        EXPECT_FALSE(parse_dns(n == 0 ? nullptr : copy.get(), n, m)) << "length " << n;
        EXPECT_FALSE(looks_like_dns(n == 0 ? nullptr : copy.get(), std::min<size_t>(n, 16)));
    }
}

TEST(DnsParse, ResponseAnswers) {
    const Bytes b = sample_response();
    DnsMessage m;
    ASSERT_TRUE(parse_dns(b.data(), b.size(), m));
    EXPECT_TRUE(m.response);
    EXPECT_EQ(m.id, 0xbeef);
    EXPECT_EQ(m.rcode, 0);
    ASSERT_EQ(m.answers.size(), 3u);
    EXPECT_EQ(m.answers[0].name, "www.example.com");
    EXPECT_EQ(m.answers[0].type, 5);
    EXPECT_EQ(m.answers[0].ttl, 3600u);
    EXPECT_EQ(m.answers[0].rdata, "example.com");
    EXPECT_EQ(m.answers[1].name, "example.com");
    EXPECT_EQ(m.answers[1].rdata, "93.184.216.34");
    // Suricata's AAAA format: eight full groups, no "::".
    EXPECT_EQ(m.answers[2].rdata, "2001:0db8:0000:0000:0000:0000:0000:0001");
}

TEST(DnsParse, AuthorityAndAdditionalRecordsKeptAsFarAsTheyParse) {
    Bytes b = sample_response();
    b[9] = 1;          // one authority record
    b[11] = 2;         // two additional records
    put16(b, 0xc010);  // SOA example.com: mname ns1.example.com, rname, 5 numbers
    put16(b, 6);
    put16(b, 1);
    put32(b, 900);
    Bytes soa;
    soa.push_back(3);
    append(soa, {'n', 's', '1'});
    put16(soa, 0xc010);
    put16(soa, 0xc010);  // rname: example.com
    for (int i = 0; i < 5; ++i) {
        put32(soa, 1);
    }
    put16(b, static_cast<uint16_t>(soa.size()));
    append(b, soa);
    put16(b, 0xc010);  // A example.com 192.0.2.9
    put16(b, 1);
    put16(b, 1);
    put32(b, 30);
    put16(b, 4);
    append(b, {192, 0, 2, 9});
    append(b, {0xc0, 0x10, 0, 1});  // a truncated second additional record
    DnsMessage m;
    ASSERT_TRUE(parse_dns(b.data(), b.size(), m));
    EXPECT_EQ(m.answers.size(), 3u);  // the answers are intact
    ASSERT_EQ(m.authorities.size(), 1u);
    EXPECT_EQ(m.authorities[0].name, "example.com");
    EXPECT_EQ(m.authorities[0].soa_mname, "ns1.example.com");
    EXPECT_TRUE(m.authorities[0].rdata.empty());  // EVE prints no rdata for SOA
    ASSERT_EQ(m.additionals.size(), 1u);
    EXPECT_EQ(m.additionals[0].rdata, "192.0.2.9");
    EXPECT_FALSE(m.invalid_authorities);
    EXPECT_TRUE(m.invalid_additionals);  // app-layer-event:dns.invalid_additionals
    const auto eve = dns_eve_object(m, 0);
    EXPECT_EQ(eve["authorities"][0]["rrname"], "example.com");
    EXPECT_EQ(eve["additionals"][0]["rdata"], "192.0.2.9");

    // A reused message forgets the sections of the one before.
    const Bytes plain = sample_response();
    ASSERT_TRUE(parse_dns(plain.data(), plain.size(), m));
    EXPECT_TRUE(m.authorities.empty());
    EXPECT_TRUE(m.additionals.empty());
    EXPECT_FALSE(m.invalid_additionals);
}

TEST(DnsParse, MxAndTxtRdata) {
    Bytes b = dns_header(9, 0x8180, 1, 2);
    put_name(b, "example.net");
    put16(b, 15);
    put16(b, 1);
    put16(b, 0xc00c);  // MX 10 mx1.example.net
    put16(b, 15);
    put16(b, 1);
    put32(b, 10);
    put16(b, 2 + 4 + 2);
    put16(b, 10);
    append(b, {3, 'm', 'x', '1'});
    put16(b, 0xc00c);
    put16(b, 0xc00c);  // TXT with two strings
    put16(b, 16);
    put16(b, 1);
    put32(b, 20);
    put16(b, 3 + 4);
    append(b, {2, 'h', 'i', 3, 'y', 'o', 'u'});
    DnsMessage m;
    ASSERT_TRUE(parse_dns(b.data(), b.size(), m));
    ASSERT_EQ(m.answers.size(), 3u);  // Suricata logs each TXT string as its own answer
    EXPECT_EQ(m.answers[0].rdata, "mx1.example.net");
    EXPECT_EQ(m.answers[1].rdata, "hi");
    EXPECT_EQ(m.answers[2].rdata, "you");
    EXPECT_EQ(m.answers[2].name, "example.net");
    EXPECT_EQ(m.answers[2].ttl, 20u);
}

TEST(DnsEve, QueryJson) {
    const Bytes q = simple_query("www.suricata.io");
    DnsMessage m;
    ASSERT_TRUE(parse_dns(q.data(), q.size(), m));
    const auto j = dns_eve_object(m, 4);
    EXPECT_EQ(j["version"], 3);
    EXPECT_EQ(j["type"], "request");
    EXPECT_EQ(j["tx_id"], 4);
    EXPECT_EQ(j["id"], 0x1234);
    EXPECT_EQ(j["flags"], "100");
    EXPECT_EQ(j["rd"], true);
    EXPECT_FALSE(j.contains("qr"));
    EXPECT_EQ(j["opcode"], 0);
    EXPECT_EQ(j["rcode"], "NOERROR");
    ASSERT_EQ(j["queries"].size(), 1u);
    EXPECT_EQ(j["queries"][0]["rrname"], "www.suricata.io");
    EXPECT_EQ(j["queries"][0]["rrtype"], "A");
    EXPECT_FALSE(j.contains("answers"));
}

TEST(DnsEve, ResponseJson) {
    Bytes b = sample_response();
    b[3] = 0x83;  // NXDOMAIN
    DnsMessage m;
    ASSERT_TRUE(parse_dns(b.data(), b.size(), m));
    const auto j = dns_eve_object(m, 1);
    EXPECT_EQ(j["type"], "response");
    EXPECT_EQ(j["flags"], "8183");
    EXPECT_EQ(j["qr"], true);
    EXPECT_EQ(j["ra"], true);
    EXPECT_EQ(j["rcode"], "NXDOMAIN");
    EXPECT_EQ(j["queries"][0]["rrname"], "www.example.com");
    ASSERT_EQ(j["answers"].size(), 3u);
    EXPECT_EQ(j["answers"][0]["rrtype"], "CNAME");
    EXPECT_EQ(j["answers"][0]["rdata"], "example.com");
    EXPECT_EQ(j["answers"][0]["ttl"], 3600);
    EXPECT_EQ(j["answers"][1]["rrname"], "example.com");
    EXPECT_EQ(j["answers"][1]["rrtype"], "A");
    EXPECT_EQ(j["answers"][1]["rdata"], "93.184.216.34");
    EXPECT_EQ(j["answers"][2]["rrtype"], "AAAA");
}

TEST(DnsEve, NonUtf8NameEscapedLikeSuricata) {
    Bytes b = dns_header(1, 0x0100, 1, 0);
    append(b, {3, 'a', 0xff, 'b', 0});
    put16(b, 1);
    put16(b, 1);
    DnsMessage m;
    ASSERT_TRUE(parse_dns(b.data(), b.size(), m));
    EXPECT_EQ(m.questions[0].name, std::string("a\xff"
                                               "b"));  // raw for content matching
    const auto j = dns_eve_object(m, 0);
    EXPECT_EQ(j["queries"][0]["rrname"], "a\\xffb");
    // Valid UTF-8 is kept as is.
    EXPECT_EQ(eve_bytes_string("caf\xc3\xa9"), "caf\xc3\xa9");
}

TEST(DnsNames, RrtypeNames) {
    EXPECT_EQ(dns_rrtype_name(1), "A");
    EXPECT_EQ(dns_rrtype_name(28), "AAAA");
    EXPECT_EQ(dns_rrtype_name(15), "MX");
    EXPECT_EQ(dns_rrtype_name(255), "ANY");
    EXPECT_EQ(dns_rrtype_name(65000), "65000");
}

TEST(DnsDetect, LooksLikeDns) {
    const Bytes q = simple_query("example.com");
    EXPECT_TRUE(looks_like_dns(q.data(), q.size()));
    const Bytes r = sample_response();
    EXPECT_TRUE(looks_like_dns(r.data(), r.size()));
    Bytes bad_opcode = q;
    bad_opcode[2] = 0x78;  // opcode 15
    EXPECT_FALSE(looks_like_dns(bad_opcode.data(), bad_opcode.size()));
    const std::string http = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
    EXPECT_FALSE(looks_like_dns(reinterpret_cast<const uint8_t*>(http.data()), http.size()));

    std::mt19937 rng(42);
    int hits = 0;
    constexpr int kRuns = 20000;
    for (int i = 0; i < kRuns; ++i) {
        Bytes buf(12 + rng() % 200);
        for (auto& c : buf) {
            c = static_cast<uint8_t>(rng());
        }
        hits += looks_like_dns(buf.data(), buf.size()) ? 1 : 0;
        DnsMessage m;
        parse_dns(buf.data(), buf.size(), m);  // must not crash or read out of bounds
    }
    EXPECT_LT(hits, kRuns / 1000);
}

// ---------------------------------------------------------------------------------------
// TLS

Bytes record(uint8_t type, const Bytes& body, uint16_t version = 0x0303) {
    Bytes b{type};
    put16(b, version);
    put16(b, static_cast<uint16_t>(body.size()));
    append(b, body);
    return b;
}

Bytes handshake(uint8_t type, const Bytes& body) {
    Bytes b{type};
    put24(b, static_cast<uint32_t>(body.size()));
    append(b, body);
    return b;
}

void put_ext(Bytes& b, uint16_t type, const Bytes& data) {
    put16(b, type);
    put16(b, static_cast<uint16_t>(data.size()));
    append(b, data);
}

Bytes client_hello_body() {
    Bytes b;
    put16(b, 0x0303);
    b.insert(b.end(), 32, 0x11);  // random
    b.push_back(32);
    b.insert(b.end(), 32, 0x22);  // session id
    const std::vector<uint16_t> ciphers = {0x0a0a, 0x1301, 0x1302, 0xc02b, 0x002f};
    put16(b, static_cast<uint16_t>(ciphers.size() * 2));
    for (const uint16_t c : ciphers) {
        put16(b, c);
    }
    append(b, {1, 0});  // compression: null
    Bytes ext;
    put_ext(ext, 0x1a1a, {});  // GREASE
    Bytes sni;
    const std::string host = "vigil.example";
    put16(sni, static_cast<uint16_t>(host.size() + 3));
    sni.push_back(0);
    put16(sni, static_cast<uint16_t>(host.size()));
    sni.insert(sni.end(), host.begin(), host.end());
    put_ext(ext, 0, sni);
    Bytes groups;
    put16(groups, 8);
    for (const uint16_t g : {0x2a2a, 29, 23, 24}) {
        put16(groups, static_cast<uint16_t>(g));
    }
    put_ext(ext, 10, groups);
    put_ext(ext, 11, {1, 0});  // ec_point_formats: uncompressed
    put_ext(ext, 13, {0, 4, 0x04, 0x03, 0x08, 0x04});
    put_ext(ext, 43, {6, 0x3a, 0x3a, 0x03, 0x04, 0x03, 0x03});  // GREASE, 1.3, 1.2
    put_ext(ext, 0x4a4a, {0});                                  // GREASE
    put16(b, static_cast<uint16_t>(ext.size()));
    append(b, ext);
    return b;
}

Bytes client_hello_record() {
    return record(22, handshake(1, client_hello_body()), 0x0301);
}

constexpr char kExpectedJa3[] = "771,4865-4866-49195-47,0-10-11-13-43,29-23-24,0";

std::string md5_hex(const std::string& s) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    unsigned int n = 0;
    EVP_Digest(s.data(), s.size(), md.data(), &n, EVP_md5(), nullptr);
    std::string out;
    char buf[3];
    for (unsigned int i = 0; i < n; ++i) {
        std::snprintf(buf, sizeof(buf), "%02x", md[i]);
        out += buf;
    }
    return out;
}

Bytes server_hello_body(uint16_t supported_version = 0) {
    Bytes b;
    put16(b, 0x0303);
    b.insert(b.end(), 32, 0x33);
    b.push_back(0);    // no session id
    put16(b, 0xc02b);  // cipher
    b.push_back(0);    // compression
    Bytes ext;
    put_ext(ext, 65281, {0});
    put_ext(ext, 11, {1, 0});
    put_ext(ext, 35, {});
    if (supported_version != 0) {
        Bytes v;
        put16(v, supported_version);
        put_ext(ext, 43, v);
    }
    put16(b, static_cast<uint16_t>(ext.size()));
    append(b, ext);
    return b;
}

struct PkeyFree {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
    void operator()(X509* x) const { X509_free(x); }
};

// Self-signed C=US, O=Vigil Test, CN=vigil.example, serial 0x0A1B2C, valid 2024-2034.
Bytes make_cert(long serial = 0x0a1b2c) {
    std::unique_ptr<EVP_PKEY, PkeyFree> key(EVP_EC_gen("P-256"));
    std::unique_ptr<X509, X509Free> x(X509_new());
    EXPECT_TRUE(key && x);
    X509_set_version(x.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x.get()), serial);
    ASN1_TIME_set_string(X509_getm_notBefore(x.get()), "20240101000000Z");
    ASN1_TIME_set_string(X509_getm_notAfter(x.get()), "20341231235959Z");
    X509_NAME* name = X509_get_subject_name(x.get());
    const auto add = [&](const char* field, const char* value) {
        X509_NAME_add_entry_by_txt(name, field, MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(value), -1, -1, 0);
    };
    add("C", "US");
    add("O", "Vigil Test");
    add("CN", "vigil.example");
    X509_set_issuer_name(x.get(), name);
    X509_set_pubkey(x.get(), key.get());
    EXPECT_GT(X509_sign(x.get(), key.get(), EVP_sha256()), 0);
    const int n = i2d_X509(x.get(), nullptr);
    Bytes der(static_cast<size_t>(n));
    unsigned char* w = der.data();
    i2d_X509(x.get(), &w);
    return der;
}

Bytes certificate_body(const std::vector<Bytes>& certs) {
    Bytes list;
    for (const Bytes& c : certs) {
        put24(list, static_cast<uint32_t>(c.size()));
        append(list, c);
    }
    Bytes b;
    put24(b, static_cast<uint32_t>(list.size()));
    append(b, list);
    return b;
}

std::string sha1_colon_hex(const Bytes& der) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    unsigned int n = 0;
    EVP_Digest(der.data(), der.size(), md.data(), &n, EVP_sha1(), nullptr);
    std::string out;
    char buf[4];
    for (unsigned int i = 0; i < n; ++i) {
        std::snprintf(buf, sizeof(buf), i ? ":%02x" : "%02x", md[i]);
        out += buf;
    }
    return out;
}

TEST(TlsClientHello, SniAndJa3) {
    TlsParser p;
    const Bytes ch = client_hello_record();
    ASSERT_EQ(p.feed(true, ch.data(), ch.size()), TlsParser::Result::Ok);
    ASSERT_TRUE(p.client_hello().has_value());
    const TlsClientHello& h = *p.client_hello();
    EXPECT_EQ(h.sni, "vigil.example");
    EXPECT_EQ(h.ja3_string, kExpectedJa3);
    EXPECT_EQ(h.ja3_hash, md5_hex(kExpectedJa3));
    EXPECT_EQ(h.version, 0x0304);  // supported_versions' first real entry
    EXPECT_EQ(p.take_new(), kTlsNewClientHello);
    EXPECT_EQ(p.take_new(), 0u);
}

TEST(TlsClientHello, SplitAtEveryByteGivesSameResult) {
    const Bytes ch = client_hello_record();
    for (size_t cut = 1; cut < ch.size(); ++cut) {
        TlsParser p;
        ASSERT_EQ(p.feed(true, ch.data(), cut), TlsParser::Result::Ok) << cut;
        ASSERT_EQ(p.feed(true, ch.data() + cut, ch.size() - cut), TlsParser::Result::Ok) << cut;
        ASSERT_TRUE(p.client_hello().has_value()) << cut;
        EXPECT_EQ(p.client_hello()->ja3_string, kExpectedJa3) << cut;
        EXPECT_EQ(p.client_hello()->sni, "vigil.example") << cut;
    }
    TlsParser p;
    for (size_t i = 0; i < ch.size(); ++i) {
        ASSERT_EQ(p.feed(true, &ch[i], 1), TlsParser::Result::Ok) << i;
        EXPECT_EQ(p.client_hello().has_value(), i + 1 == ch.size()) << i;
    }
    EXPECT_EQ(p.client_hello()->ja3_string, kExpectedJa3);
    EXPECT_EQ(p.client_hello()->sni, "vigil.example");
}

TEST(TlsClientHello, HelloSplitAcrossTwoRecords) {
    const Bytes hs = handshake(1, client_hello_body());
    const size_t half = hs.size() / 2;
    Bytes stream = record(22, Bytes(hs.begin(), hs.begin() + static_cast<long>(half)));
    append(stream, record(22, Bytes(hs.begin() + static_cast<long>(half), hs.end())));
    TlsParser p;
    ASSERT_EQ(p.feed(true, stream.data(), stream.size()), TlsParser::Result::Ok);
    ASSERT_TRUE(p.client_hello().has_value());
    EXPECT_EQ(p.client_hello()->ja3_string, kExpectedJa3);
}

TEST(TlsServerHello, Ja3s) {
    TlsParser p;
    const Bytes sh = record(22, handshake(2, server_hello_body()));
    ASSERT_EQ(p.feed(false, sh.data(), sh.size()), TlsParser::Result::Ok);
    ASSERT_TRUE(p.server_hello().has_value());
    EXPECT_EQ(p.server_hello()->ja3s_string, "771,49195,65281-11-35");
    EXPECT_EQ(p.server_hello()->ja3s_hash, md5_hex("771,49195,65281-11-35"));
    EXPECT_EQ(p.server_hello()->version, 0x0303);
    EXPECT_EQ(p.take_new(), kTlsNewServerHello);
}

TEST(TlsCertificate, SeveralMessagesInOneRecord) {
    const Bytes der = make_cert();
    Bytes flight = handshake(2, server_hello_body());
    append(flight, handshake(11, certificate_body({der, der})));
    append(flight, handshake(14, {}));  // ServerHelloDone
    const Bytes rec = record(22, flight);
    TlsParser p;
    ASSERT_EQ(p.feed(false, rec.data(), rec.size()), TlsParser::Result::Ok);
    EXPECT_EQ(p.take_new(), kTlsNewServerHello | kTlsNewCertificate);
    ASSERT_EQ(p.certs().size(), 2u);
    const TlsCertInfo& c = p.certs()[0];
    EXPECT_EQ(c.subject, "C=US, O=Vigil Test, CN=vigil.example");
    EXPECT_EQ(c.issuer, "C=US, O=Vigil Test, CN=vigil.example");
    EXPECT_EQ(c.serial, "0A:1B:2C");
    EXPECT_EQ(c.fingerprint, sha1_colon_hex(der));
    EXPECT_EQ(c.fingerprint.size(), 59u);
    EXPECT_EQ(c.not_before, "2024-01-01T00:00:00");
    EXPECT_EQ(c.not_after, "2034-12-31T23:59:59");
    EXPECT_EQ(c.der, std::string(der.begin(), der.end()));
}

TEST(TlsCertificate, SerialWithSignPaddingKeepsLeadingZero) {
    const Bytes der = make_cert(0x80);  // DER INTEGER 00 80: Suricata prints the raw bytes
    const Bytes rec = record(22, handshake(11, certificate_body({der})));
    TlsParser p;
    ASSERT_EQ(p.feed(false, rec.data(), rec.size()), TlsParser::Result::Ok);
    ASSERT_EQ(p.certs().size(), 1u);
    EXPECT_EQ(p.certs()[0].serial, "00:80");
}

TEST(TlsCertificate, MessageSplitAcrossRecordsAndCalls) {
    const Bytes der = make_cert();
    const Bytes hs = handshake(11, certificate_body({der}));
    const size_t cut = 100;
    Bytes stream = record(22, Bytes(hs.begin(), hs.begin() + cut));
    append(stream, record(22, Bytes(hs.begin() + cut, hs.end())));
    for (size_t split = 1; split < stream.size(); split += 37) {
        TlsParser p;
        ASSERT_EQ(p.feed(false, stream.data(), split), TlsParser::Result::Ok);
        EXPECT_TRUE(p.certs().empty() || split == stream.size());
        ASSERT_EQ(p.feed(false, stream.data() + split, stream.size() - split),
                  TlsParser::Result::Ok);
        ASSERT_EQ(p.certs().size(), 1u) << split;
        EXPECT_EQ(p.certs()[0].subject, "C=US, O=Vigil Test, CN=vigil.example");
    }
}

TEST(TlsRecords, EncryptedRecordsAfterChangeCipherSpecSkipped) {
    TlsParser p;
    Bytes s = record(22, handshake(2, server_hello_body()));
    append(s, record(20, {1}));
    append(s, record(22, Bytes(40, 0xff)));  // encrypted Finished: not a handshake message
    append(s, record(23, Bytes(300, 0x5a)));
    ASSERT_EQ(p.feed(false, s.data(), s.size()), TlsParser::Result::Ok);
    EXPECT_TRUE(p.server_hello().has_value());
    EXPECT_TRUE(p.certs().empty());
}

TEST(TlsRecords, Tls13HasNoCertificates) {
    TlsParser p;
    const Bytes ch = client_hello_record();
    ASSERT_EQ(p.feed(true, ch.data(), ch.size()), TlsParser::Result::Ok);
    Bytes s = record(22, handshake(2, server_hello_body(0x0304)));
    append(s, record(22, Bytes(64, 0xee)));  // would be malformed if parsed
    append(s, record(23, Bytes(500, 0x01)));
    ASSERT_EQ(p.feed(false, s.data(), s.size()), TlsParser::Result::Ok);
    EXPECT_EQ(p.server_hello()->version, 0x0304);
    EXPECT_TRUE(p.certs().empty());
    const auto j = tls_eve_object(p);
    EXPECT_EQ(j["version"], "TLS 1.3");
    EXPECT_FALSE(j.contains("subject"));
}

TEST(TlsRecords, NonTlsAndMalformedAreErrors) {
    const auto feed = [](const Bytes& b) {
        TlsParser p;
        return p.feed(true, b.data(), b.size());
    };
    const std::string http = "GET / HTTP/1.1\r\n";
    EXPECT_EQ(feed(Bytes(http.begin(), http.end())), TlsParser::Result::Error);
    // SSLv2-compatible ClientHello.
    EXPECT_EQ(feed({0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15}), TlsParser::Result::Error);
    // Record longer than 2^14 + 2048.
    EXPECT_EQ(feed({22, 3, 3, 0x48, 0x01}), TlsParser::Result::Error);
    // A ClientHello whose cipher list runs past the message.
    Bytes body = client_hello_body();
    body[2 + 32 + 1 + 32] = 0x7f;
    EXPECT_EQ(feed(record(22, handshake(1, body))), TlsParser::Result::Error);

    TlsParser p;
    const Bytes junk = {'x', 'y', 'z', 'w', 'v'};
    EXPECT_EQ(p.feed(true, junk.data(), junk.size()), TlsParser::Result::Error);
    const Bytes ch = client_hello_record();
    EXPECT_EQ(p.feed(true, ch.data(), ch.size()), TlsParser::Result::Error);  // sticky
    EXPECT_FALSE(p.client_hello().has_value());
}

TEST(TlsRecords, RandomAndMutatedInputNeverCrash) {
    std::mt19937 rng(7);
    const Bytes ch = client_hello_record();
    Bytes server = record(22, handshake(2, server_hello_body()));
    append(server, record(22, handshake(11, certificate_body({make_cert()}))));
    int ok = 0;
    for (int i = 0; i < 4000; ++i) {
        Bytes input;
        const bool to_server = (i % 2) == 0;
        switch (i % 4) {
            case 0: {  // random bytes behind a plausible record header
                input = {22, 3, 3};
                const size_t n = rng() % 600;
                put16(input, static_cast<uint16_t>(n));
                for (size_t k = 0; k < n; ++k) {
                    input.push_back(static_cast<uint8_t>(rng()));
                }
                break;
            }
            case 1:  // truncated record
                input.assign(ch.begin(), ch.begin() + static_cast<long>(rng() % ch.size()));
                break;
            default: {  // mutated valid flight
                input = to_server ? ch : server;
                for (int k = 0; k < 1 + static_cast<int>(rng() % 6); ++k) {
                    input[rng() % input.size()] = static_cast<uint8_t>(rng());
                }
                break;
            }
        }
        TlsParser p;
        // Feed in random chunks, from an exact-size copy so ASan sees overreads.
        size_t off = 0;
        while (off < input.size()) {
            const size_t n = std::min<size_t>(1 + rng() % 64, input.size() - off);
            const auto chunk = std::make_unique<uint8_t[]>(n);
            std::copy(input.begin() + static_cast<long>(off),
                      input.begin() + static_cast<long>(off + n), chunk.get());
            if (p.feed(to_server, chunk.get(), n) == TlsParser::Result::Error) {
                break;
            }
            off += n;
        }
        ok += off == input.size() ? 1 : 0;
        EXPECT_FALSE(tls_eve_object(p).is_discarded());
    }
    EXPECT_GT(ok, 0);
}

TEST(TlsEve, JsonHasExpectedKeys) {
    TlsParser p;
    EXPECT_EQ(tls_eve_object(p).dump(), "{}");
    const Bytes ch = client_hello_record();
    ASSERT_EQ(p.feed(true, ch.data(), ch.size()), TlsParser::Result::Ok);
    auto j = tls_eve_object(p);
    EXPECT_EQ(j["sni"], "vigil.example");
    EXPECT_EQ(j["version"], "UNDETERMINED");  // Suricata logs the server's version
    EXPECT_EQ(j["ja3"]["string"], kExpectedJa3);
    EXPECT_EQ(j["ja3"]["hash"], md5_hex(kExpectedJa3));
    EXPECT_FALSE(j.contains("ja3s"));

    const Bytes der = make_cert();
    Bytes flight = handshake(2, server_hello_body());
    append(flight, handshake(11, certificate_body({der})));
    const Bytes rec = record(22, flight);
    ASSERT_EQ(p.feed(false, rec.data(), rec.size()), TlsParser::Result::Ok);
    j = tls_eve_object(p);
    EXPECT_EQ(j["subject"], "C=US, O=Vigil Test, CN=vigil.example");
    EXPECT_EQ(j["issuerdn"], "C=US, O=Vigil Test, CN=vigil.example");
    EXPECT_EQ(j["serial"], "0A:1B:2C");
    EXPECT_EQ(j["fingerprint"], sha1_colon_hex(der));
    EXPECT_EQ(j["version"], "TLS 1.2");
    EXPECT_EQ(j["notbefore"], "2024-01-01T00:00:00");
    EXPECT_EQ(j["notafter"], "2034-12-31T23:59:59");
    EXPECT_EQ(j["ja3s"]["string"], "771,49195,65281-11-35");
}

TEST(TlsNames, VersionNames) {
    EXPECT_EQ(tls_version_name(0x0301), "TLSv1");
    EXPECT_EQ(tls_version_name(0x0303), "TLS 1.2");
    EXPECT_EQ(tls_version_name(0x0304), "TLS 1.3");
    EXPECT_EQ(tls_version_name(0x7f1c), "TLS 1.3 draft-28");
    EXPECT_EQ(tls_version_name(0), "UNDETERMINED");
}

}  // namespace
}  // namespace vigil::dataplane::app
