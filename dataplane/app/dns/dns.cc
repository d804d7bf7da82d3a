#include "dataplane/app/dns/dns.h"

#include <array>
#include <cstdio>

#include "common/bytes.h"

#include <nlohmann/json.hpp>

namespace vigil::dataplane::app {
namespace {

constexpr size_t kHeaderLen = 12;
constexpr size_t kMaxNameWireLen = 255;  // RFC 1035 3.1: length octets and labels, with root
constexpr size_t kMinQuestionLen = 5;    // root name + type + class
constexpr size_t kMinRecordLen = 11;     // root name + type, class, ttl, rdlength
constexpr int kMaxPointerHops = 32;      // far above any real name; bounds work per name
constexpr uint16_t kMaxDetectQuestions = 16;
constexpr uint8_t kMaxOpcode = 5;  // UPDATE; 6-15 are unassigned

constexpr uint16_t kTypeA = 1;
constexpr uint16_t kTypeNs = 2;
constexpr uint16_t kTypeCname = 5;
constexpr uint16_t kTypePtr = 12;
constexpr uint16_t kTypeSoa = 6;
constexpr uint16_t kTypeMx = 15;
constexpr uint16_t kTypeTxt = 16;
constexpr uint16_t kTypeAaaa = 28;

// Decodes the (possibly compressed) name at `pos` into `out`; `next` is the offset just past
// the name in the record that holds it. Compression pointers may point backwards freely.
// A single forward pointer per name is accepted (Suricata 8 accepts a question that points at
// a later one); a second forward jump is refused, which also rules out every loop because a
// cycle needs at least one forward (or self) pointer per turn. `out` may be null to only
// validate (no allocation).
bool read_name(const uint8_t* msg, size_t len, size_t pos, std::string* out, size_t& next) {
    if (out != nullptr) {
        out->clear();
    }
    size_t cur = pos;
    bool jumped = false;
    bool forward_used = false;
    int hops = 0;
    size_t wire_len = 1;  // the root label
    for (;;) {
        if (cur >= len) {
            return false;
        }
        const uint8_t b = msg[cur];
        if (b == 0) {
            if (!jumped) {
                next = cur + 1;
            }
            return true;
        }
        if ((b & 0xc0) == 0xc0) {
            if (cur + 1 >= len) {
                return false;
            }
            const size_t target = ((static_cast<size_t>(b) & 0x3f) << 8) | msg[cur + 1];
            if (!jumped) {
                next = cur + 2;
                jumped = true;
            }
            if (++hops > kMaxPointerHops || target < kHeaderLen || target >= len) {
                return false;
            }
            if (target >= cur) {
                if (forward_used) {
                    return false;
                }
                forward_used = true;
            }
            cur = target;
            continue;
        }
        if ((b & 0xc0) != 0) {
            return false;  // 0x40/0x80: label longer than 63 or obsolete extended label type
        }
        const size_t label_len = b;
        if (cur + 1 + label_len > len) {
            return false;
        }
        wire_len += label_len + 1;
        if (wire_len > kMaxNameWireLen) {
            return false;
        }
        if (out != nullptr) {
            if (!out->empty()) {
                out->push_back('.');
            }
            out->append(reinterpret_cast<const char*>(msg + cur + 1), label_len);
        }
        cur += 1 + label_len;
    }
}

void format_ipv4(const uint8_t* p, std::string& out) {
    char buf[16];
    const int n = std::snprintf(buf, sizeof(buf), "%u.%u.%u.%u", p[0], p[1], p[2], p[3]);
    out.assign(buf, static_cast<size_t>(n));
}

// Suricata prints AAAA rdata as eight 4-digit groups, without "::" compression.
void format_ipv6(const uint8_t* p, std::string& out) {
    static constexpr char kHex[] = "0123456789abcdef";
    out.clear();
    for (int i = 0; i < 16; ++i) {
        if (i > 0 && i % 2 == 0) {
            out.push_back(':');
        }
        out.push_back(kHex[p[i] >> 4]);
        out.push_back(kHex[p[i] & 0xf]);
    }
}

// Returns the slot at index i, growing the vector only when needed so that strings of a
// reused message keep their capacity.
template <typename T>
T& slot(std::vector<T>& v, size_t i) {
    if (v.size() <= i) {
        v.emplace_back();
    }
    return v[i];
}

bool valid_utf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<uint8_t>(s[i]);
        if (c < 0x80) {
            ++i;
            continue;
        }
        size_t n = 0;
        uint32_t cp = 0;
        uint32_t min = 0;
        if ((c & 0xe0) == 0xc0) {
            n = 1;
            cp = c & 0x1f;
            min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            cp = c & 0x0f;
            min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            return false;
        }
        if (i + n >= s.size()) {
            return false;
        }
        for (size_t k = 1; k <= n; ++k) {
            const auto cc = static_cast<uint8_t>(s[i + k]);
            if ((cc & 0xc0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (cc & 0x3f);
        }
        // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are invalid, as in
        // Rust's str::from_utf8 which Suricata uses.
        if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
            return false;
        }
        i += n + 1;
    }
    return true;
}

}  // namespace

// Parses `count` resource records from `pos` into recs (reusing its slots); false when one
// is malformed, with recs holding the records before it.
bool parse_records(const uint8_t* data, size_t len, size_t& pos, size_t count,
                   std::vector<DnsAnswer>& recs) {
    size_t n = 0;     // slots used
    size_t done = 0;  // slots of complete records
    auto fail = [&] {
        recs.resize(done);
        return false;
    };
    for (size_t i = 0; i < count; ++i) {
        DnsAnswer& a = slot(recs, n);
        size_t next = 0;
        if (!read_name(data, len, pos, &a.name, next) || next + 10 > len) {
            return fail();
        }
        a.type = load_be16(data + next);
        a.ttl = load_be32(data + next + 4);
        const size_t rdlen = load_be16(data + next + 8);
        const size_t rd = next + 10;
        if (rd + rdlen > len) {
            return fail();
        }
        pos = rd + rdlen;
        a.rdata.clear();
        a.soa_mname.clear();
        ++n;
        switch (a.type) {
            case kTypeA:
                if (rdlen == 4) {
                    format_ipv4(data + rd, a.rdata);
                }
                break;
            case kTypeAaaa:
                if (rdlen == 16) {
                    format_ipv6(data + rd, a.rdata);
                }
                break;
            case kTypeCname:
            case kTypeNs:
            case kTypePtr:
            case kTypeMx: {
                const size_t name_at = a.type == kTypeMx ? rd + 2 : rd;  // MX: skip preference
                size_t name_end = 0;
                // The name may point outside the rdata (compression), but must start in it.
                if (name_at >= rd + rdlen || !read_name(data, len, name_at, &a.rdata, name_end) ||
                    name_end > rd + rdlen) {
                    return fail();
                }
                break;
            }
            case kTypeSoa: {
                size_t name_end = 0;
                if (rdlen == 0 || !read_name(data, len, rd, &a.soa_mname, name_end) ||
                    name_end > rd + rdlen) {
                    return fail();
                }
                break;
            }
            case kTypeTxt: {
                // Suricata logs each character-string of a TXT record as its own answer.
                size_t p = rd;
                const size_t end = rd + rdlen;
                bool first = true;
                while (p < end) {
                    const size_t slen = data[p];
                    if (p + 1 + slen > end) {
                        return fail();
                    }
                    DnsAnswer* t = &a;
                    if (!first) {
                        t = &slot(recs, n);
                        // Copy before slot() can reallocate: re-fetch the first entry.
                        const DnsAnswer& base = recs[n - 1];
                        t->name = base.name;
                        t->type = base.type;
                        t->ttl = base.ttl;
                        ++n;
                    }
                    t->rdata.assign(reinterpret_cast<const char*>(data + p + 1), slen);
                    first = false;
                    p += 1 + slen;
                }
                break;
            }
            default:
                break;
        }
        done = n;
    }
    recs.resize(n);
    return true;
}

bool dns_rdata_is_name(uint16_t type) {
    return type == kTypeCname || type == kTypePtr || type == kTypeMx || type == kTypeNs;
}

bool parse_dns(const uint8_t* data, size_t len, DnsMessage& out) {
    if (data == nullptr || len < kHeaderLen) {
        return false;
    }
    const uint16_t flags = load_be16(data + 2);
    const uint16_t qdcount = load_be16(data + 4);
    const uint16_t ancount = load_be16(data + 6);
    // Reject impossible counts before doing any work: every question and record has a
    // minimum wire size.
    if (static_cast<size_t>(qdcount) * kMinQuestionLen +
            static_cast<size_t>(ancount) * kMinRecordLen >
        len - kHeaderLen) {
        return false;
    }
    out.id = load_be16(data);
    out.flags = flags;
    out.response = (flags & 0x8000) != 0;
    out.opcode = static_cast<uint8_t>((flags >> 11) & 0xf);
    out.rcode = static_cast<uint8_t>(flags & 0xf);

    size_t pos = kHeaderLen;
    for (size_t i = 0; i < qdcount; ++i) {
        DnsQuestion& q = slot(out.questions, i);
        size_t next = 0;
        if (!read_name(data, len, pos, &q.name, next) || next + 4 > len) {
            return false;
        }
        q.type = load_be16(data + next);
        q.cls = load_be16(data + next + 2);
        pos = next + 4;
    }
    out.questions.resize(qdcount);

    if (!parse_records(data, len, pos, ancount, out.answers)) {
        return false;
    }
    // Authority and additional records are kept as far as they parse: a malformed one (EDNS
    // options, truncation) must not hide the questions and answers from detection.
    out.invalid_authorities = !parse_records(data, len, pos, load_be16(data + 8), out.authorities);
    out.invalid_additionals = !out.invalid_authorities &&
                              !parse_records(data, len, pos, load_be16(data + 10), out.additionals);
    if (out.invalid_authorities) {
        out.additionals.clear();
    }
    return true;
}

bool looks_like_dns(const uint8_t* data, size_t len) {
    if (data == nullptr || len < kHeaderLen + kMinQuestionLen) {
        return false;
    }
    const uint16_t flags = load_be16(data + 2);
    const auto opcode = static_cast<uint8_t>((flags >> 11) & 0xf);
    const uint16_t qdcount = load_be16(data + 4);
    const size_t rrs =
        static_cast<size_t>(load_be16(data + 6)) + load_be16(data + 8) + load_be16(data + 10);
    if (opcode > kMaxOpcode || qdcount == 0 || qdcount > kMaxDetectQuestions) {
        return false;
    }
    if (qdcount * kMinQuestionLen + rrs * kMinRecordLen > len - kHeaderLen) {
        return false;
    }
    size_t next = 0;
    return read_name(data, len, kHeaderLen, nullptr, next) && next + 4 <= len;
}

std::string dns_rrtype_name(uint16_t type) {
    struct Entry {
        uint16_t type;
        const char* name;
    };
    // Suricata's spellings, including its "NSAPPT", "CDSNKEY" and "ND" (MD).
    static constexpr std::array<Entry, 63> kNames{{
        {1, "A"},      {2, "NS"},        {3, "ND"},          {4, "MF"},     {5, "CNAME"},
        {6, "SOA"},    {7, "MB"},        {8, "MG"},          {9, "MR"},     {10, "NULL"},
        {11, "WKS"},   {12, "PTR"},      {13, "HINFO"},      {14, "MINFO"}, {15, "MX"},
        {16, "TXT"},   {17, "RP"},       {18, "AFSDB"},      {19, "X25"},   {20, "ISDN"},
        {21, "RT"},    {22, "NSAP"},     {23, "NSAPPT"},     {24, "SIG"},   {25, "KEY"},
        {26, "PX"},    {27, "GPOS"},     {28, "AAAA"},       {29, "LOC"},   {30, "NXT"},
        {33, "SRV"},   {34, "ATMA"},     {35, "NAPTR"},      {36, "KX"},    {37, "CERT"},
        {38, "A6"},    {39, "DNAME"},    {41, "OPT"},        {42, "APL"},   {43, "DS"},
        {44, "SSHFP"}, {45, "IPSECKEY"}, {46, "RRSIG"},      {47, "NSEC"},  {48, "DNSKEY"},
        {49, "DHCID"}, {50, "NSEC3"},    {51, "NSEC3PARAM"}, {52, "TLSA"},  {55, "HIP"},
        {59, "CDS"},   {60, "CDSNKEY"},  {65, "HTTPS"},      {99, "SPF"},   {249, "TKEY"},
        {250, "TSIG"}, {253, "MAILB"},   {254, "MAILA"},     {255, "ANY"},  {256, "URI"},
        {64, "SVCB"},  {257, "CAA"},     {32769, "DLV"},
    }};
    for (const Entry& e : kNames) {
        if (e.type == type) {
            return e.name;
        }
    }
    return std::to_string(type);
}

std::string dns_rcode_name(uint8_t rcode) {
    static constexpr std::array<const char*, 11> kNames{
        "NOERROR",  "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
        "YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE"};
    if (rcode < kNames.size()) {
        return kNames[rcode];
    }
    return std::to_string(rcode);
}

std::string eve_bytes_string(std::string_view bytes) {
    if (valid_utf8(bytes)) {
        return std::string(bytes);
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() + 16);
    for (const char ch : bytes) {
        const auto c = static_cast<uint8_t>(ch);
        if (c < 0x80) {
            out.push_back(ch);
            continue;
        }
        out += "\\x";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xf]);
    }
    return out;
}

void dns_eve(const DnsMessage& m, uint64_t tx_id, nlohmann::ordered_json& j) {
    j = nlohmann::ordered_json::object();
    j["version"] = 3;
    j["type"] = m.response ? "response" : "request";
    j["tx_id"] = tx_id;
    j["id"] = m.id;
    char flags[8];
    std::snprintf(flags, sizeof(flags), "%x", m.flags);
    j["flags"] = flags;
    // Suricata prints only the header bits that are set.
    static constexpr std::array<std::pair<uint16_t, const char*>, 6> kBits{{
        {0x8000, "qr"},
        {0x0400, "aa"},
        {0x0200, "tc"},
        {0x0100, "rd"},
        {0x0080, "ra"},
        {0x0040, "z"},
    }};
    for (const auto& [bit, key] : kBits) {
        if ((m.flags & bit) != 0) {
            j[key] = true;
        }
    }
    j["opcode"] = m.opcode;
    j["rcode"] = dns_rcode_name(m.rcode);
    if (!m.questions.empty()) {
        auto& qs = j["queries"] = nlohmann::ordered_json::array();
        for (const DnsQuestion& q : m.questions) {
            qs.push_back(
                {{"rrname", eve_bytes_string(q.name)}, {"rrtype", dns_rrtype_name(q.type)}});
        }
    }
    const auto section = [&j](const char* key, const std::vector<DnsAnswer>& recs) {
        if (recs.empty()) {
            return;
        }
        auto& as = j[key] = nlohmann::ordered_json::array();
        for (const DnsAnswer& a : recs) {
            nlohmann::ordered_json e;
            e["rrname"] = eve_bytes_string(a.name);
            e["rrtype"] = dns_rrtype_name(a.type);
            e["ttl"] = a.ttl;
            if (!a.rdata.empty()) {
                e["rdata"] = eve_bytes_string(a.rdata);
            }
            as.push_back(std::move(e));
        }
    };
    section("answers", m.answers);
    section("authorities", m.authorities);
    section("additionals", m.additionals);
}

}  // namespace vigil::dataplane::app
