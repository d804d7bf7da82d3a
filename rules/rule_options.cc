// Rule option keywords, following Suricata 7's parsers and their limits. Every rejection
// names the keyword and the offending value so a user can fix the rule from the message.

#include "rules/rule_options.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/text.h"
#include "rules/parse_util.h"

namespace vigil::rules::detail {

namespace {

// Suricata's DETECT_CONTENT_VALUE_MAX: the bound on offset, depth, distance and within.
constexpr int64_t kContentValueMax = 65535;

Error reject(std::string reason) {
    return make_error(ErrorCode::RuleParse, std::move(reason));
}

Error bad_value(std::string_view opt, std::string_view value, std::string_view what) {
    return reject(std::string(opt) + ": " + quote(value) + " is not " + std::string(what));
}

bool is_identifier(std::string_view s) {
    if (s.empty() ||
        !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_')) {
        return false;
    }
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_';
    });
}

// Strict unsigned value in [lo, hi].
Result<uint64_t> uint_in(std::string_view opt, std::string_view v, uint64_t lo, uint64_t hi,
                         bool allow_hex = false) {
    v = trim(v);
    const auto n = parse_u64(v, allow_hex);
    if (!n) {
        return bad_value(opt, v, lo > 0 ? "a positive integer" : "a non-negative integer");
    }
    if (*n < lo || *n > hi) {
        return reject(std::string(opt) + ": " + quote(v) + " is out of range (" +
                      std::to_string(lo) + "-" + std::to_string(hi) + ")");
    }
    return *n;
}

Result<int64_t> int_in(std::string_view opt, std::string_view v, int64_t lo, int64_t hi) {
    v = trim(v);
    const auto n = parse_i64(v);
    if (!n) {
        return bad_value(opt, v, "an integer");
    }
    if (*n < lo || *n > hi) {
        return reject(std::string(opt) + ": " + quote(v) + " is out of range (" +
                      std::to_string(lo) + " to " + std::to_string(hi) + ")");
    }
    return *n;
}

// A number or the name of an earlier byte_extract.
Result<Operand> operand(std::string_view opt, std::string_view v, const Rule& rule, int64_t lo,
                        int64_t hi, bool allow_hex = false) {
    v = trim(v);
    if (is_identifier(v)) {
        const auto it = std::find(rule.byte_vars.begin(), rule.byte_vars.end(), v);
        if (it == rule.byte_vars.end()) {
            return reject(std::string(opt) + ": unknown byte_extract variable " + quote(v));
        }
        Operand o;
        o.var = static_cast<int>(it - rule.byte_vars.begin());
        return o;
    }
    Operand o;
    if (lo >= 0) {
        const auto n = parse_u64(v, allow_hex);
        if (!n) {
            return bad_value(opt, v, lo > 0 ? "a positive integer" : "a non-negative integer");
        }
        if (*n < static_cast<uint64_t>(lo) || *n > static_cast<uint64_t>(hi)) {
            return reject(std::string(opt) + ": " + quote(v) + " is out of range (" +
                          std::to_string(lo) + "-" + std::to_string(hi) + ")");
        }
        o.value = static_cast<int64_t>(*n);
        return o;
    }
    const auto n = parse_i64(v, allow_hex);
    if (!n) {
        return bad_value(opt, v, "an integer");
    }
    if (*n < lo || *n > hi) {
        return reject(std::string(opt) + ": " + quote(v) + " is out of range (" +
                      std::to_string(lo) + " to " + std::to_string(hi) + ")");
    }
    o.value = *n;
    return o;
}

// Strips the surrounding quotes of msg-like values and resolves \" \\ \; escapes.
std::string unquote(std::string_view v) {
    v = trim(v);
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
        v = v.substr(1, v.size() - 2);
    }
    std::string out;
    out.reserve(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
        if (v[i] == '\\' && i + 1 < v.size()) {
            ++i;
        }
        out += v[i];
    }
    return out;
}

Status no_value(std::string_view name, const std::optional<std::string_view>& v) {
    if (v && !v->empty()) {
        return reject(std::string(name) + " takes no value");
    }
    return Ok{};
}

// content:[!]"text|41 42|\"more"
Status decode_content(std::string_view v, Content& c) {
    v = trim(v);
    if (!v.empty() && v[0] == '!') {
        c.negated = true;
        v = trim(v.substr(1));
    }
    if (v.empty() || v.front() != '"') {
        return reject("content: value must be a quoted string, got " + quote(v));
    }
    std::string& out = c.bytes;
    out.reserve(v.size());
    bool hex = false;
    bool closed = false;
    int hi_nibble = -1;
    size_t i = 1;
    for (; i < v.size(); ++i) {
        const char ch = v[i];
        if (hex) {
            if (ch == '|' || ch == '"' || is_space(ch)) {
                if (hi_nibble >= 0) {
                    return reject("content: odd number of hex digits in " + quote(v));
                }
                if (ch == '"') {
                    return reject("content: unterminated hex block in " + quote(v));
                }
                hex = ch != '|';
                continue;
            }
            const int d = hex_digit(ch);
            if (d < 0) {
                return reject("content: bad hex character " + quote(std::string(1, ch)) + " in " +
                              quote(v));
            }
            if (hi_nibble < 0) {
                hi_nibble = d;
            } else {
                out += static_cast<char>((hi_nibble << 4) | d);
                hi_nibble = -1;
            }
            continue;
        }
        if (ch == '|') {
            hex = true;
            continue;
        }
        if (ch == '\\') {
            if (i + 1 >= v.size()) {
                break;
            }
            const char e = v[++i];
            if (e != '"' && e != ';' && e != '\\' && e != ':' && e != ',') {
                return reject("content: bad escape " + quote(std::string("\\") + e) +
                              " (only \\\" \\; \\\\ \\: \\, are allowed)");
            }
            out += e;
            continue;
        }
        if (ch == '"') {
            closed = true;
            break;
        }
        out += ch;
    }
    if (hex) {
        return reject("content: unterminated hex block in " + quote(v));
    }
    if (!closed) {
        return reject("content: unterminated string " + quote(v));
    }
    if (i + 1 != v.size()) {
        return reject("content: unexpected text after the closing quote in " + quote(v));
    }
    if (out.empty()) {
        return reject("content: empty pattern");
    }
    return Ok{};
}

Result<Threshold::Track> parse_track(std::string_view opt, std::string_view v) {
    if (auto t = detail::parse_track(v)) {
        return *t;
    }
    return reject(std::string(opt) + ": bad track " + quote(v));
}

// threshold / detection_filter: "key value" pairs separated by commas, in any order.
Result<Threshold> parse_threshold(std::string_view opt, std::string_view v, bool with_type) {
    Threshold t;
    if (!with_type) {
        t.type = Threshold::Type::DetectionFilter;
    }
    bool have_type = false;
    bool have_track = false;
    bool have_count = false;
    bool have_seconds = false;
    const std::string o(opt);
    for (std::string_view item : split_trim(v, ',')) {
        const auto kv = split_ws(item);
        if (kv.size() != 2) {
            return reject(o + ": expected '<key> <value>', got " + quote(item));
        }
        const std::string_view key = kv[0];
        const std::string_view val = kv[1];
        if (key == "type" && with_type) {
            if (have_type) {
                return reject(o + ": duplicate type");
            }
            have_type = true;
            if (val == "limit") {
                t.type = Threshold::Type::Limit;
            } else if (val == "threshold") {
                t.type = Threshold::Type::Threshold;
            } else if (val == "both") {
                t.type = Threshold::Type::Both;
            } else {
                return reject(o + ": bad type " + quote(val));
            }
        } else if (key == "track") {
            if (have_track) {
                return reject(o + ": duplicate track");
            }
            have_track = true;
            auto tr = parse_track(opt, val);
            if (!tr) {
                return tr.error();
            }
            t.track = *tr;
        } else if (key == "count") {
            if (have_count) {
                return reject(o + ": duplicate count");
            }
            have_count = true;
            auto n = uint_in(o + " count", val, 1, UINT32_MAX);
            if (!n) {
                return n.error();
            }
            t.count = static_cast<uint32_t>(*n);
        } else if (key == "seconds") {
            if (have_seconds) {
                return reject(o + ": duplicate seconds");
            }
            have_seconds = true;
            auto n = uint_in(o + " seconds", val, 1, UINT32_MAX);
            if (!n) {
                return n.error();
            }
            t.seconds = static_cast<uint32_t>(*n);
        } else {
            return reject(o + ": unknown key " + quote(key));
        }
    }
    if (with_type && !have_type) {
        return reject(o + ": missing type");
    }
    if (!have_track) {
        return reject(o + ": missing track");
    }
    if (!have_count) {
        return reject(o + ": missing count");
    }
    if (!have_seconds) {
        return reject(o + ": missing seconds");
    }
    return t;
}

// Comparison grammar shared by dsize, ttl, itype, icode (Suricata's uint parser):
// N, =N, !N, !=N, <N, <=N, >N, >=N, N<>M and N-M (ranges exclusive: N < x < M).
Result<IntMatch> parse_int_match(std::string_view opt, std::string_view v, uint64_t max) {
    const std::string o(opt);
    v = trim(v);
    IntMatch m;
    auto number = [&](std::string_view s) -> Result<uint64_t> { return uint_in(o, s, 0, max); };
    struct Prefix {
        std::string_view text;
        IntMatch::Op op;
    };
    static constexpr std::array<Prefix, 7> kPrefixes{{{"<=", IntMatch::Op::Le},
                                                      {">=", IntMatch::Op::Ge},
                                                      {"!=", IntMatch::Op::Ne},
                                                      {"<", IntMatch::Op::Lt},
                                                      {">", IntMatch::Op::Gt},
                                                      {"!", IntMatch::Op::Ne},
                                                      {"=", IntMatch::Op::Eq}}};
    for (const Prefix& p : kPrefixes) {
        if (v.starts_with(p.text)) {
            auto n = number(v.substr(p.text.size()));
            if (!n) {
                return n.error();
            }
            m.op = p.op;
            m.lo = *n;
            return m;
        }
    }
    size_t sep = v.find("<>");
    size_t sep_len = 2;
    if (sep == std::string_view::npos) {
        sep = v.find('-');
        sep_len = 1;
    }
    if (sep != std::string_view::npos) {
        auto lo = number(v.substr(0, sep));
        if (!lo) {
            return lo.error();
        }
        auto hi = number(v.substr(sep + sep_len));
        if (!hi) {
            return hi.error();
        }
        if (*lo >= *hi) {
            return reject(o + ": bad range " + quote(v) + " (low must be below high)");
        }
        m.op = IntMatch::Op::Range;
        m.lo = *lo;
        m.hi = *hi;
        return m;
    }
    auto n = number(v);
    if (!n) {
        return n.error();
    }
    m.lo = *n;
    return m;
}

Status parse_flow(std::string_view v, FlowOpt& f) {
    for (std::string_view item : split_trim(v, ',')) {
        const std::string k = lower(item);
        if (k == "established") {
            f.established = true;
        } else if (k == "not_established") {
            f.not_established = true;
        } else if (k == "stateless") {
            f.stateless = true;
        } else if (k == "to_server" || k == "from_client") {
            f.to_server = true;
        } else if (k == "to_client" || k == "from_server") {
            f.to_client = true;
        } else if (k == "only_stream") {
            f.only_stream = true;
        } else if (k == "no_stream") {
            f.no_stream = true;
        } else if (k == "only_frag") {
            f.only_frag = true;
        } else if (k == "no_frag") {
            f.no_frag = true;
        } else {
            return reject("flow: unknown option " + quote(item));
        }
    }
    const std::array<std::pair<bool, const char*>, 5> conflicts{{
        {f.established && f.not_established, "established conflicts with not_established"},
        {f.stateless && (f.established || f.not_established),
         "stateless conflicts with established/not_established"},
        {f.to_server && f.to_client, "to_server conflicts with to_client"},
        {f.only_stream && f.no_stream, "only_stream conflicts with no_stream"},
        {f.only_frag && f.no_frag, "only_frag conflicts with no_frag"},
    }};
    for (const auto& [bad, why] : conflicts) {
        if (bad) {
            return reject(std::string("flow: ") + why);
        }
    }
    return Ok{};
}

struct ProtoName {
    std::string_view name;
    uint8_t number;
};
// The names getprotobyname() knows on a typical system (Suricata resolves ip_proto names
// through it), for the protocols rules actually name.
constexpr std::array<ProtoName, 24> kIpProtoNames{{
    {"ip", 0},          {"hopopt", 0},     {"icmp", 1},  {"igmp", 2},        {"ggp", 3},
    {"ipencap", 4},     {"st", 5},         {"tcp", 6},   {"egp", 8},         {"igp", 9},
    {"pup", 12},        {"udp", 17},       {"ipv6", 41}, {"ipv6-route", 43}, {"ipv6-frag", 44},
    {"rsvp", 46},       {"gre", 47},       {"esp", 50},  {"ah", 51},         {"ipv6-icmp", 58},
    {"ipv6-nonxt", 59}, {"ipv6-opts", 60}, {"pim", 103}, {"sctp", 132},
}};

Result<IntMatch> parse_ip_proto(std::string_view v) {
    v = trim(v);
    IntMatch m;
    if (!v.empty() && (v[0] == '!' || v[0] == '<' || v[0] == '>')) {
        m.op = v[0] == '!' ? IntMatch::Op::Ne : v[0] == '<' ? IntMatch::Op::Lt : IntMatch::Op::Gt;
        v = trim(v.substr(1));
    }
    if (const auto n = parse_u64(v)) {
        if (*n > 255) {
            return reject("ip_proto: " + quote(v) + " is out of range (0-255)");
        }
        m.lo = *n;
        return m;
    }
    const std::string name = lower(v);
    for (const ProtoName& p : kIpProtoNames) {
        if (p.name == name) {
            m.lo = p.number;
            return m;
        }
    }
    return reject("ip_proto: unknown protocol " + quote(v));
}

Result<uint16_t> parse_ipopts(std::string_view v) {
    struct Opt {
        std::string_view name;
        uint16_t bit;
    };
    static constexpr std::array<Opt, 10> kOpts{{{"rr", dataplane::kIpOptRr},
                                                {"eol", dataplane::kIpOptEol},
                                                {"nop", dataplane::kIpOptNop},
                                                {"ts", dataplane::kIpOptTs},
                                                {"sec", dataplane::kIpOptSec},
                                                {"esec", dataplane::kIpOptEsec},
                                                {"lsrr", dataplane::kIpOptLsrr},
                                                {"ssrr", dataplane::kIpOptSsrr},
                                                {"satid", dataplane::kIpOptSatid},
                                                {"any", dataplane::kIpOptAny}}};
    const std::string k = lower(trim(v));
    for (const Opt& o : kOpts) {
        if (o.name == k) {
            return o.bit;
        }
    }
    return reject("ipopts: unknown option " + quote(trim(v)));
}

// Peels a single + * ! modifier off either end of a flags/fragbits value.
Result<char> take_modifier(std::string_view opt, std::string_view& v) {
    char mod = 0;
    auto is_mod = [](char c) { return c == '+' || c == '*' || c == '!'; };
    v = trim(v);
    if (!v.empty() && is_mod(v.front())) {
        mod = v.front();
        v = trim(v.substr(1));
    }
    if (!v.empty() && is_mod(v.back())) {
        if (mod != 0) {
            return reject(std::string(opt) + ": more than one modifier");
        }
        mod = v.back();
        v = trim(v.substr(0, v.size() - 1));
    }
    return mod;
}

Result<uint8_t> tcp_flag_bits(std::string_view letters, bool allow_zero, std::string_view whole) {
    uint8_t bits = 0;
    bool zero = false;
    for (char c : letters) {
        switch (c) {
            case 'F':
            case 'f':
                bits |= dataplane::kTcpFin;
                break;
            case 'S':
            case 's':
                bits |= dataplane::kTcpSyn;
                break;
            case 'R':
            case 'r':
                bits |= dataplane::kTcpRst;
                break;
            case 'P':
            case 'p':
                bits |= dataplane::kTcpPsh;
                break;
            case 'A':
            case 'a':
                bits |= dataplane::kTcpAck;
                break;
            case 'U':
            case 'u':
                bits |= dataplane::kTcpUrg;
                break;
            case 'C':
            case 'c':
            case '1':
                bits |= dataplane::kTcpCwr;
                break;
            case 'E':
            case 'e':
            case '2':
                bits |= dataplane::kTcpEce;
                break;
            case '0':
                if (!allow_zero) {
                    return reject("flags: '0' is not allowed in the mask " + quote(whole));
                }
                zero = true;
                break;
            default:
                return reject("flags: unknown flag " + quote(std::string(1, c)) + " in " +
                              quote(whole));
        }
    }
    if (zero && bits != 0) {
        return reject("flags: '0' (no flags) combined with other flags in " + quote(whole));
    }
    return bits;
}

Result<TcpFlagsMatch> parse_tcp_flags(std::string_view v) {
    TcpFlagsMatch m;
    const std::string_view whole = trim(v);
    std::string_view main = whole;
    std::string_view mask;
    if (const size_t comma = whole.find(','); comma != std::string_view::npos) {
        main = whole.substr(0, comma);
        mask = trim(whole.substr(comma + 1));
        if (mask.empty()) {
            return reject("flags: empty mask in " + quote(whole));
        }
    }
    auto mod = take_modifier("flags", main);
    if (!mod) {
        return mod.error();
    }
    if (main.empty()) {
        return reject("flags: no flags in " + quote(whole));
    }
    auto bits = tcp_flag_bits(main, true, whole);
    if (!bits) {
        return bits.error();
    }
    m.modifier = *mod;
    m.flags = *bits;
    if (!mask.empty()) {
        auto mb = tcp_flag_bits(mask, false, whole);
        if (!mb) {
            return mb.error();
        }
        m.mask = *mb;
    }
    return m;
}

Result<FragBitsMatch> parse_fragbits(std::string_view v) {
    FragBitsMatch m;
    const std::string_view whole = trim(v);
    std::string_view letters = whole;
    auto mod = take_modifier("fragbits", letters);
    if (!mod) {
        return mod.error();
    }
    m.modifier = *mod;
    if (letters.empty()) {
        return reject("fragbits: no bits in " + quote(whole));
    }
    for (char c : letters) {
        switch (c) {
            case 'M':
            case 'm':
                m.m = true;
                break;
            case 'D':
            case 'd':
                m.d = true;
                break;
            case 'R':
            case 'r':
                m.r = true;
                break;
            default:
                return reject("fragbits: unknown bit " + quote(std::string(1, c)) + " in " +
                              quote(whole));
        }
    }
    return m;
}

// The comma-separated tail shared by byte_test, byte_jump and byte_extract.
struct ByteOpts {
    bool relative = false;
    bool big = false;
    bool little = false;
    bool string = false;
    NumBase base = NumBase::None;
    bool dce = false;
    bool align = false;               // byte_jump
    std::optional<uint64_t> align_n;  // byte_extract "align N"
    bool from_beginning = false;
    bool from_end = false;
    std::optional<uint64_t> multiplier;
    std::optional<int64_t> post_offset;
    std::optional<uint64_t> bitmask;
};

enum class ByteKw : uint8_t { Test, Jump, Extract };

Status parse_byte_opts(std::string_view opt, ByteKw kw, const std::vector<std::string_view>& parts,
                       size_t first, ByteOpts& b) {
    const std::string o(opt);
    for (size_t i = first; i < parts.size(); ++i) {
        const auto words = split_ws(parts[i]);
        if (words.empty()) {
            return reject(o + ": empty option");
        }
        const std::string k = lower(words[0]);
        const bool has_arg = k == "multiplier" || k == "post_offset" || k == "bitmask" ||
                             (k == "align" && kw == ByteKw::Extract);
        if (words.size() != (has_arg ? 2U : 1U)) {
            return reject(o + ": bad option " + quote(parts[i]));
        }
        if (k == "relative") {
            b.relative = true;
        } else if (k == "big" || k == "little") {
            // The last one wins (Suricata accepts both).
            b.big = k == "big";
            b.little = k == "little";
        } else if (k == "string") {
            b.string = true;
        } else if (k == "hex" || k == "dec" || k == "oct") {
            if (b.base != NumBase::None) {
                return reject(o + ": more than one number base");
            }
            b.base = k == "hex" ? NumBase::Hex : k == "dec" ? NumBase::Dec : NumBase::Oct;
        } else if (k == "dce") {
            b.dce = true;
        } else if (k == "bitmask") {
            const auto n = parse_u64(words[1], true);
            if (!n || *n == 0 || *n > UINT32_MAX) {
                return reject(o + ": bad bitmask " + quote(words[1]));
            }
            b.bitmask = *n;
        } else if (k == "multiplier" && kw != ByteKw::Test) {
            auto n = uint_in(o + " multiplier", words[1], 1, 65535);
            if (!n) {
                return n.error();
            }
            b.multiplier = *n;
        } else if (k == "align" && kw == ByteKw::Jump) {
            b.align = true;
        } else if (k == "align" && kw == ByteKw::Extract) {
            auto n = uint_in(o + " align", words[1], 2, 4);
            if (!n || *n == 3) {
                return reject(o + ": align must be 2 or 4, got " + quote(words[1]));
            }
            b.align_n = *n;
        } else if (k == "from_beginning" && kw == ByteKw::Jump) {
            b.from_beginning = true;
        } else if (k == "from_end" && kw == ByteKw::Jump) {
            b.from_end = true;
        } else if (k == "post_offset" && kw == ByteKw::Jump) {
            auto n = int_in(o + " post_offset", words[1], -kContentValueMax, kContentValueMax);
            if (!n) {
                return n.error();
            }
            b.post_offset = *n;
        } else {
            return reject(o + ": unknown option " + quote(parts[i]));
        }
    }
    if (b.dce && (b.big || b.little || b.string)) {
        return reject(o + ": dce can't be combined with big/little/string");
    }
    if (b.base != NumBase::None && !b.string) {
        return reject(o + ": number base given without 'string'");
    }
    if (b.string && b.base == NumBase::None) {
        b.base = NumBase::Dec;
    }
    if (b.from_beginning && b.from_end) {
        return reject(o + ": from_beginning conflicts with from_end");
    }
    return Ok{};
}

// nbytes: at most 8 for binary values and 23 for string conversions (the longest octal
// string that fits in 64 bits), as in Suricata. byte_jump also takes 0 (a pure cursor move
// by post_offset, which ET uses).
Result<uint8_t> parse_nbytes(std::string_view opt, std::string_view v, bool string,
                             uint64_t min = 1) {
    auto n = uint_in(std::string(opt) + " nbytes", v, min, 23);
    if (!n) {
        return n.error();
    }
    if (!string && *n > 8) {
        return reject(std::string(opt) +
                      ": can't convert more than 8 bytes without 'string' (got " +
                      std::to_string(*n) + ")");
    }
    return static_cast<uint8_t>(*n);
}

Result<ByteTest> parse_byte_test(std::string_view v, const Rule& rule) {
    const auto parts = split_trim(v, ',');
    if (parts.size() < 4) {
        return reject("byte_test: expected <nbytes>,<op>,<value>,<offset>[,options], got " +
                      quote(trim(v)));
    }
    ByteTest t;
    ByteOpts b;
    if (auto st = parse_byte_opts("byte_test", ByteKw::Test, parts, 4, b); !st) {
        return st.error();
    }
    if (trim(parts[0]) == "0") {
        // Suricata 7: the rest of the buffer, read as a number in text (nbytes 0).
        if (!b.string) {
            return reject("byte_test: nbytes 0 (the rest of the buffer) needs 'string'");
        }
        t.nbytes = 0;
    } else {
        auto nb = parse_nbytes("byte_test", parts[0], b.string);
        if (!nb) {
            return nb.error();
        }
        t.nbytes = *nb;
    }
    std::string_view op = parts[1];
    if (!op.empty() && op[0] == '!') {
        t.negated = true;
        op = trim(op.substr(1));
    }
    if (op.empty() || op == "=") {
        if (!t.negated && op.empty()) {
            return reject("byte_test: missing operator");
        }
        t.op = '=';
    } else if (op == "<" || op == ">" || op == "&" || op == "^") {
        t.op = op[0];
    } else if (op == "<=") {
        t.op = 'l';
    } else if (op == ">=") {
        t.op = 'g';
    } else {
        return reject("byte_test: bad operator " + quote(parts[1]));
    }
    auto value = operand("byte_test value", parts[2], rule, 0, INT64_MAX, true);
    if (!value) {
        // Values up to 2^64-1 are legal for 8-byte tests; keep their bit pattern.
        const auto big = parse_u64(parts[2], true);
        if (!big) {
            return value.error();
        }
        t.value.value = static_cast<int64_t>(*big);
    } else {
        t.value = *value;
    }
    auto off = operand("byte_test offset", parts[3], rule, -kContentValueMax, kContentValueMax);
    if (!off) {
        return off.error();
    }
    t.offset = *off;
    t.relative = b.relative;
    t.endian = b.little ? Endian::Little : Endian::Big;
    t.base = b.base;
    t.dce = b.dce;
    t.bitmask = b.bitmask;
    return t;
}

Result<ByteJump> parse_byte_jump(std::string_view v, const Rule& rule) {
    const auto parts = split_trim(v, ',');
    if (parts.size() < 2) {
        return reject("byte_jump: expected <nbytes>,<offset>[,options], got " + quote(trim(v)));
    }
    ByteJump j;
    ByteOpts b;
    if (auto st = parse_byte_opts("byte_jump", ByteKw::Jump, parts, 2, b); !st) {
        return st.error();
    }
    auto nb = parse_nbytes("byte_jump", parts[0], b.string, 0);
    if (!nb) {
        return nb.error();
    }
    j.nbytes = *nb;
    auto off = operand("byte_jump offset", parts[1], rule, -kContentValueMax, kContentValueMax);
    if (!off) {
        return off.error();
    }
    j.offset = *off;
    j.relative = b.relative;
    j.multiplier = static_cast<uint32_t>(b.multiplier.value_or(1));
    j.endian = b.little ? Endian::Little : Endian::Big;
    j.base = b.base;
    j.align = b.align;
    j.from_beginning = b.from_beginning;
    j.from_end = b.from_end;
    j.post_offset = static_cast<int32_t>(b.post_offset.value_or(0));
    j.dce = b.dce;
    j.bitmask = b.bitmask;
    return j;
}

Result<ByteExtract> parse_byte_extract(std::string_view v, Rule& rule) {
    const auto parts = split_trim(v, ',');
    if (parts.size() < 3) {
        return reject("byte_extract: expected <nbytes>,<offset>,<name>[,options], got " +
                      quote(trim(v)));
    }
    ByteExtract e;
    ByteOpts b;
    if (auto st = parse_byte_opts("byte_extract", ByteKw::Extract, parts, 3, b); !st) {
        return st.error();
    }
    auto nb = parse_nbytes("byte_extract", parts[0], b.string);
    if (!nb) {
        return nb.error();
    }
    e.nbytes = *nb;
    auto off = int_in("byte_extract offset", parts[1], -kContentValueMax, kContentValueMax);
    if (!off) {
        return off.error();
    }
    e.offset = static_cast<int32_t>(*off);
    const std::string_view name = parts[2];
    if (!is_identifier(name)) {
        return reject("byte_extract: bad variable name " + quote(name));
    }
    if (std::find(rule.byte_vars.begin(), rule.byte_vars.end(), name) != rule.byte_vars.end()) {
        return reject("byte_extract: variable " + quote(name) + " already defined");
    }
    e.relative = b.relative;
    e.multiplier = static_cast<uint32_t>(b.multiplier.value_or(1));
    e.endian = b.little ? Endian::Little : Endian::Big;
    e.base = b.base;
    e.align = static_cast<uint8_t>(b.align_n.value_or(0));
    e.dce = b.dce;
    e.bitmask = b.bitmask;
    rule.byte_vars.emplace_back(name);
    e.var = static_cast<int>(rule.byte_vars.size() - 1);
    return e;
}

Result<IsDataAt> parse_isdataat(std::string_view v, const Rule& rule) {
    const auto parts = split_trim(v, ',');
    IsDataAt d;
    std::string_view size = parts[0];
    if (!size.empty() && size[0] == '!') {
        d.negated = true;
        size = trim(size.substr(1));
    }
    auto n = operand("isdataat", size, rule, 0, kContentValueMax);
    if (!n) {
        return n.error();
    }
    d.size = *n;
    for (size_t i = 1; i < parts.size(); ++i) {
        if (iequals(parts[i], "relative")) {
            d.relative = true;
        } else if (iequals(parts[i], "rawbytes")) {
            d.rawbytes = true;
        } else {
            return reject("isdataat: unknown option " + quote(parts[i]));
        }
    }
    return d;
}

Result<FlowbitCmd> parse_flowbits(std::string_view v) {
    const auto parts = split_trim(v, ',');
    FlowbitCmd f;
    const std::string cmd = lower(parts[0]);
    if (cmd == "noalert") {
        if (parts.size() != 1) {
            return reject("flowbits: noalert takes no name");
        }
        f.op = FlowbitCmd::Op::NoAlert;
        return f;
    }
    if (cmd == "set") {
        f.op = FlowbitCmd::Op::Set;
    } else if (cmd == "isset") {
        f.op = FlowbitCmd::Op::IsSet;
    } else if (cmd == "isnotset") {
        f.op = FlowbitCmd::Op::IsNotSet;
    } else if (cmd == "unset") {
        f.op = FlowbitCmd::Op::Unset;
    } else if (cmd == "toggle") {
        f.op = FlowbitCmd::Op::Toggle;
    } else {
        return reject("flowbits: unknown command " + quote(parts[0]));
    }
    if (parts.size() != 2 || parts[1].empty()) {
        return reject("flowbits: expected <command>,<name>, got " + quote(trim(v)));
    }
    const std::string_view names = parts[1];
    const bool has_or = names.find('|') != std::string_view::npos;
    const bool has_and = names.find('&') != std::string_view::npos;
    if (has_or && has_and) {
        return reject("flowbits: can't mix '|' and '&' in " + quote(names));
    }
    if ((has_or || has_and) && f.op != FlowbitCmd::Op::IsSet && f.op != FlowbitCmd::Op::IsNotSet) {
        return reject("flowbits: '|' and '&' only work with isset/isnotset");
    }
    f.any_of = has_or;
    for (std::string_view n : split_trim(names, has_or ? '|' : '&')) {
        if (n.empty() || std::any_of(n.begin(), n.end(), is_space)) {
            return reject("flowbits: bad name " + quote(n));
        }
        f.names.emplace_back(n);
    }
    return f;
}

// Hex / decimal value for tos (Suricata also accepts "x10").
Result<uint8_t> parse_tos(std::string_view v, bool& negated) {
    v = trim(v);
    if (!v.empty() && v[0] == '!') {
        negated = true;
        v = trim(v.substr(1));
    }
    std::optional<uint64_t> n;
    if (!v.empty() && (v[0] == 'x' || v[0] == 'X')) {
        n = parse_u64("0x" + std::string(v.substr(1)), true);
    } else {
        n = parse_u64(v, true);
    }
    if (!n || *n > 255) {
        return bad_value("tos", v, "a value in 0-255");
    }
    return static_cast<uint8_t>(*n);
}

bool starts_with_any(std::string_view s, std::initializer_list<std::string_view> prefixes) {
    return std::any_of(prefixes.begin(), prefixes.end(),
                       [&](std::string_view p) { return s.starts_with(p); });
}

using dataplane::app::AppProto;
using dataplane::app::BufferId;
using BufDir = OptionParser::BufDir;

struct BufferKeyword {
    std::string_view name;
    BufferId id;
    BufDir dir;
};

// Suricata 7 sticky buffers, with their pre-6 names kept as aliases. Buffers that exist on
// both sides of an HTTP transaction are named by their request variant here and resolved
// from the rule's flow direction in finish().
constexpr BufferKeyword kStickyBuffers[] = {
    {"http.uri", BufferId::HttpUri, BufDir::Fixed},
    {"http.uri.raw", BufferId::HttpUriRaw, BufDir::Fixed},
    {"http.method", BufferId::HttpMethod, BufDir::Fixed},
    {"http.protocol", BufferId::HttpProtocol, BufDir::Fixed},
    {"http_protocol", BufferId::HttpProtocol, BufDir::Fixed},
    {"http.request_line", BufferId::HttpRequestLine, BufDir::Fixed},
    {"http_request_line", BufferId::HttpRequestLine, BufDir::Fixed},
    {"http.host", BufferId::HttpHost, BufDir::Fixed},
    {"http.host.raw", BufferId::HttpHostRaw, BufDir::Fixed},
    {"http.user_agent", BufferId::HttpUserAgent, BufDir::Fixed},
    {"http.referer", BufferId::HttpReferer, BufDir::Fixed},
    {"http_referer", BufferId::HttpReferer, BufDir::Fixed},
    {"http.cookie", BufferId::HttpCookie, BufDir::Flow},
    {"http.accept", BufferId::HttpAccept, BufDir::Fixed},
    {"http_accept", BufferId::HttpAccept, BufDir::Fixed},
    {"http.accept_enc", BufferId::HttpAcceptEnc, BufDir::Fixed},
    {"http_accept_enc", BufferId::HttpAcceptEnc, BufDir::Fixed},
    {"http.accept_lang", BufferId::HttpAcceptLang, BufDir::Fixed},
    {"http_accept_lang", BufferId::HttpAcceptLang, BufDir::Fixed},
    {"http.content_type", BufferId::HttpContentTypeReq, BufDir::Flow},
    {"http_content_type", BufferId::HttpContentTypeReq, BufDir::Flow},
    {"http.content_len", BufferId::HttpContentLenReq, BufDir::Flow},
    {"http_content_len", BufferId::HttpContentLenReq, BufDir::Flow},
    {"http.connection", BufferId::HttpConnectionReq, BufDir::Flow},
    {"http_connection", BufferId::HttpConnectionReq, BufDir::Flow},
    {"http.header", BufferId::HttpHeaderReq, BufDir::Flow},
    {"http.header.raw", BufferId::HttpHeaderRawReq, BufDir::Flow},
    {"http.header_names", BufferId::HttpHeaderNamesReq, BufDir::Flow},
    {"http_header_names", BufferId::HttpHeaderNamesReq, BufDir::Flow},
    {"http.start", BufferId::HttpStartReq, BufDir::Flow},
    {"http_start", BufferId::HttpStartReq, BufDir::Flow},
    // Suricata inspects these one header ("Name: value") at a time; here they see the whole
    // normalised header block of their side, which finds the same contents but differs for
    // startswith / endswith / bsize / depth.
    {"http.request_header", BufferId::HttpHeaderReq, BufDir::Fixed},
    {"http.response_header", BufferId::HttpHeaderResp, BufDir::Fixed},
    {"http.request_body", BufferId::HttpRequestBody, BufDir::Fixed},
    {"http.stat_code", BufferId::HttpStatCode, BufDir::Fixed},
    {"http.stat_msg", BufferId::HttpStatMsg, BufDir::Fixed},
    {"http.response_line", BufferId::HttpResponseLine, BufDir::Fixed},
    {"http_response_line", BufferId::HttpResponseLine, BufDir::Fixed},
    {"http.server", BufferId::HttpServer, BufDir::Fixed},
    {"http.location", BufferId::HttpLocation, BufDir::Fixed},
    // Suricata inspects http.response_body / http_server_body in the file_data list, so they
    // follow file.data's direction rule.
    {"http.response_body", BufferId::HttpResponseBody, BufDir::FileData},
    {"file.data", BufferId::HttpResponseBody, BufDir::FileData},
    {"file_data", BufferId::HttpResponseBody, BufDir::FileData},
    {"dns.query", BufferId::DnsQuery, BufDir::Fixed},
    {"dns_query", BufferId::DnsQuery, BufDir::Fixed},
    {"tls.sni", BufferId::TlsSni, BufDir::Fixed},
    {"tls_sni", BufferId::TlsSni, BufDir::Fixed},
    {"tls.cert_subject", BufferId::TlsCertSubject, BufDir::Fixed},
    {"tls_cert_subject", BufferId::TlsCertSubject, BufDir::Fixed},
    {"tls.cert_issuer", BufferId::TlsCertIssuer, BufDir::Fixed},
    {"tls_cert_issuer", BufferId::TlsCertIssuer, BufDir::Fixed},
    {"tls.cert_serial", BufferId::TlsCertSerial, BufDir::Fixed},
    {"tls_cert_serial", BufferId::TlsCertSerial, BufDir::Fixed},
    {"tls.certs", BufferId::TlsCerts, BufDir::Fixed},
    {"ja3.hash", BufferId::Ja3Hash, BufDir::Fixed},
    {"ja3_hash", BufferId::Ja3Hash, BufDir::Fixed},
    {"ja3.string", BufferId::Ja3String, BufDir::Fixed},
    {"ja3_string", BufferId::Ja3String, BufDir::Fixed},
    {"ja3s.hash", BufferId::Ja3sHash, BufDir::Fixed},
    {"ja3s_hash", BufferId::Ja3sHash, BufDir::Fixed},
    {"ja3s.string", BufferId::Ja3sString, BufDir::Fixed},
    {"ja3s_string", BufferId::Ja3sString, BufDir::Fixed},
};

// Legacy content modifiers: they move the content before them into a buffer.
constexpr BufferKeyword kLegacyModifiers[] = {
    {"http_uri", BufferId::HttpUri, BufDir::Fixed},
    {"http_raw_uri", BufferId::HttpUriRaw, BufDir::Fixed},
    {"http_method", BufferId::HttpMethod, BufDir::Fixed},
    {"http_header", BufferId::HttpHeaderReq, BufDir::Flow},
    {"http_raw_header", BufferId::HttpHeaderRawReq, BufDir::Flow},
    {"http_cookie", BufferId::HttpCookie, BufDir::Flow},
    {"http_user_agent", BufferId::HttpUserAgent, BufDir::Fixed},
    {"http_host", BufferId::HttpHost, BufDir::Fixed},
    {"http_raw_host", BufferId::HttpHostRaw, BufDir::Fixed},
    {"http_client_body", BufferId::HttpRequestBody, BufDir::Fixed},
    {"http_server_body", BufferId::HttpResponseBody, BufDir::FileData},
    {"http_stat_code", BufferId::HttpStatCode, BufDir::Fixed},
    {"http_stat_msg", BufferId::HttpStatMsg, BufDir::Fixed},
};

// pcre buffer flags, by the legacy modifier they stand for (Q is file_data in Suricata).
struct PcreBufferFlag {
    char flag;
    BufferKeyword kw;
};
constexpr PcreBufferFlag kPcreBufferFlags[] = {
    {'U', {"http_uri", BufferId::HttpUri, BufDir::Fixed}},
    {'I', {"http_raw_uri", BufferId::HttpUriRaw, BufDir::Fixed}},
    {'P', {"http_client_body", BufferId::HttpRequestBody, BufDir::Fixed}},
    {'Q', {"file_data", BufferId::HttpResponseBody, BufDir::FileData}},
    {'H', {"http_header", BufferId::HttpHeaderReq, BufDir::Flow}},
    {'D', {"http_raw_header", BufferId::HttpHeaderRawReq, BufDir::Flow}},
    {'M', {"http_method", BufferId::HttpMethod, BufDir::Fixed}},
    {'C', {"http_cookie", BufferId::HttpCookie, BufDir::Flow}},
    {'S', {"http_stat_code", BufferId::HttpStatCode, BufDir::Fixed}},
    {'Y', {"http_stat_msg", BufferId::HttpStatMsg, BufDir::Fixed}},
    {'V', {"http_user_agent", BufferId::HttpUserAgent, BufDir::Fixed}},
    {'W', {"http_host", BufferId::HttpHost, BufDir::Fixed}},
    {'Z', {"http_raw_host", BufferId::HttpHostRaw, BufDir::Fixed}},
};

struct TransformKeyword {
    std::string_view name;
    Transform t;
};
constexpr TransformKeyword kTransformKeywords[] = {
    {"dotprefix", Transform::DotPrefix},
    {"to_lowercase", Transform::ToLowercase},
    {"to_uppercase", Transform::ToUppercase},
    {"strip_whitespace", Transform::StripWhitespace},
    {"compress_whitespace", Transform::CompressWhitespace},
    {"url_decode", Transform::UrlDecode},
};

template <typename T, size_t N>
const T* find_keyword(const T (&table)[N], std::string_view name) {
    for (const T& e : table) {
        if (e.name == name) {
            return &e;
        }
    }
    return nullptr;
}

}  // namespace

std::optional<dataplane::app::AppProto> app_proto_by_name(std::string_view name) {
    if (name == "ssl") {
        return AppProto::Tls;
    }
    if (name == "http1") {
        return AppProto::Http;
    }
    for (size_t i = 1; i < static_cast<size_t>(AppProto::Count); ++i) {
        const auto p = static_cast<AppProto>(i);
        if (dataplane::app::app_proto_name(p) == name) {
            return p;
        }
    }
    return std::nullopt;
}

namespace {

// The response variant of a buffer named by its request variant (flow:to_client).
BufferId response_variant(BufferId id) {
    switch (id) {
        case BufferId::HttpHeaderReq:
            return BufferId::HttpHeaderResp;
        case BufferId::HttpHeaderRawReq:
            return BufferId::HttpHeaderRawResp;
        case BufferId::HttpHeaderNamesReq:
            return BufferId::HttpHeaderNamesResp;
        case BufferId::HttpStartReq:
            return BufferId::HttpStartResp;
        case BufferId::HttpContentTypeReq:
            return BufferId::HttpContentTypeResp;
        case BufferId::HttpContentLenReq:
            return BufferId::HttpContentLenResp;
        case BufferId::HttpConnectionReq:
            return BufferId::HttpConnectionResp;
        case BufferId::HttpCookie:
            return BufferId::HttpSetCookie;
        default:
            return id;
    }
}

// Suricata refuses a case-sensitive W (host) pcre with an upper-case letter: the host buffer
// is lower-cased, so it could never match. Escapes (\S, \x4A) are not letters of the subject.
bool pcre_has_uppercase(std::string_view re) {
    for (size_t i = 0; i < re.size(); ++i) {
        if (re[i] == '\\') {
            if (i + 1 < re.size() && re[i + 1] == 'x') {
                i += 3;  // \xHH
            } else {
                ++i;
            }
            continue;
        }
        if (re[i] >= 'A' && re[i] <= 'Z') {
            return true;
        }
    }
    return false;
}

}  // namespace

std::optional<std::string> unsupported_keyword(std::string_view name) {
    static constexpr std::array<std::string_view, 41> kSupported{
        "msg",       "sid",       "rev",          "gid",        "classtype",       "priority",
        "metadata",  "reference", "target",       "content",    "nocase",          "offset",
        "depth",     "distance",  "within",       "startswith", "endswith",        "fast_pattern",
        "rawbytes",  "pcre",      "flow",         "dsize",      "itype",           "icode",
        "icmp_id",   "icmp_seq",  "ttl",          "tos",        "ipopts",          "fragbits",
        "flags",     "seq",       "ack",          "window",     "ip_proto",        "isdataat",
        "byte_test", "byte_jump", "byte_extract", "threshold",  "detection_filter"};
    static constexpr std::array<std::string_view, 9> kSupportedMore{
        "flowbits", "noalert", "pkt_data",           "prefilter",  "uricontent",
        "urilen",   "bsize",   "app-layer-protocol", "stream_size"};
    const std::string k = lower(name);
    if (std::find(kSupported.begin(), kSupported.end(), k) != kSupported.end() ||
        std::find(kSupportedMore.begin(), kSupportedMore.end(), k) != kSupportedMore.end() ||
        find_keyword(kStickyBuffers, k) != nullptr ||
        find_keyword(kLegacyModifiers, k) != nullptr ||
        find_keyword(kTransformKeywords, k) != nullptr) {
        return std::nullopt;
    }
    // Keywords that inspect app-layer state or buffers we do not model (other protocols,
    // file properties, events, ...).
    static constexpr std::array<std::string_view, 8> kAppLayer{
        "app-layer-event", "app-layer-state", "filestore", "filemagic",
        "filename",        "fileext",         "filesize",  "frame"};
    const bool app =
        std::find(kAppLayer.begin(), kAppLayer.end(), k) != kAppLayer.end() ||
        starts_with_any(
            k, {"http", "file",  "dns",      "tls",        "ssl_",   "ja3",       "ja4",   "ssh",
                "smb",  "dce",   "dcerpc",   "krb5",       "snmp",   "sip",       "smtp",  "email",
                "ftp",  "ike",   "nfs",      "dhcp",       "mqtt",   "dnp3",      "enip",  "cip",
                "rfb",  "quic",  "rdp",      "ldap",       "pgsql",  "websocket", "tftp",  "ntp",
                "imap", "pop3",  "template", "x509",       "ssl",    "app-layer", "sni",   "uri",
                "mdns", "llmnr", "doh2",     "bittorrent", "telnet", "irc",       "modbus"});
    if (app) {
        return "unsupported keyword " + quote(name) + " (app-layer)";
    }
    static constexpr std::array<std::string_view, 9> kTransforms{"to_md5",
                                                                 "to_sha1",
                                                                 "to_sha256",
                                                                 "pcrexform",
                                                                 "xor",
                                                                 "header_lowercase",
                                                                 "strip_pseudo_headers",
                                                                 "from_base64",
                                                                 "luaxform"};
    if (std::find(kTransforms.begin(), kTransforms.end(), k) != kTransforms.end()) {
        return "unsupported keyword " + quote(name) + " (transform)";
    }
    return "unsupported keyword " + quote(name);
}

Status OptionParser::apply(const RawOption& opt) {
    const std::string name = lower(opt.name);
    const std::optional<std::string_view>& val = opt.value;
    static constexpr std::array<std::string_view, 9> kModifiers{
        "nocase",     "offset",   "depth",        "distance", "within",
        "startswith", "endswith", "fast_pattern", "rawbytes"};
    if (std::find(kModifiers.begin(), kModifiers.end(), name) != kModifiers.end()) {
        return apply_modifier(name, val);
    }
    if (const auto* b = find_keyword(kStickyBuffers, name)) {
        if (auto st = no_value(name, val); !st) {
            return st;
        }
        return apply_sticky(opt.name, b->id, b->dir);
    }
    if (const auto* b = find_keyword(kLegacyModifiers, name)) {
        if (auto st = no_value(name, val); !st) {
            return st;
        }
        return apply_legacy_buffer(name, b->id, b->dir);
    }
    if (const auto* t = find_keyword(kTransformKeywords, name)) {
        if (auto st = no_value(name, val); !st) {
            return st;
        }
        return apply_transform(name, t->t);
    }
    // pkt_data ends the sticky buffer: what follows inspects the packet payload again;
    // prefilter only steers Suricata's prefilter engine choice.
    if (name == "noalert" || name == "pkt_data" || name == "prefilter") {
        if (auto st = no_value(name, val); !st) {
            return st;
        }
        if (name == "noalert") {
            rule_.noalert = true;
        }
        if (name == "pkt_data") {
            cur_list_ = -1;
        }
        return Ok{};
    }
    if (!val || val->empty()) {
        return reject(name + " needs a value");
    }
    const std::string_view v = *val;
    if (name == "msg") {
        if (have_msg_) {
            return reject("duplicate msg");
        }
        have_msg_ = true;
        rule_.msg = unquote(v);
        return Ok{};
    }
    if (name == "sid" || name == "rev" || name == "gid") {
        bool& seen = name == "sid" ? have_sid_ : name == "rev" ? have_rev_ : have_gid_;
        if (seen) {
            return reject("duplicate " + name);
        }
        seen = true;
        auto n = uint_in(name, unquote(v), name == "sid" ? 1 : 0, UINT32_MAX);
        if (!n) {
            return n.error();
        }
        uint32_t& dst = name == "sid" ? rule_.sid : name == "rev" ? rule_.rev : rule_.gid;
        dst = static_cast<uint32_t>(*n);
        return Ok{};
    }
    if (name == "classtype") {
        if (have_classtype_) {
            return reject("duplicate classtype");
        }
        have_classtype_ = true;
        const std::string ct = lower(trim(v));
        const auto it = vars_.classifications.find(ct);
        if (it == vars_.classifications.end()) {
            return reject("unknown classtype " + quote(trim(v)));
        }
        rule_.classtype = ct;
        rule_.category = it->second.description;
        if (!explicit_priority_) {
            rule_.priority = it->second.priority;
        }
        return Ok{};
    }
    if (name == "priority") {
        if (explicit_priority_) {
            return reject("duplicate priority");
        }
        auto n = uint_in("priority", v, 1, 255);
        if (!n) {
            return n.error();
        }
        explicit_priority_ = true;
        rule_.priority = static_cast<uint32_t>(*n);
        return Ok{};
    }
    if (name == "metadata") {
        for (std::string_view m : split_trim(v, ',')) {
            if (!m.empty()) {
                rule_.metadata.emplace_back(m);
            }
        }
        return Ok{};
    }
    if (name == "reference") {
        const size_t comma = v.find(',');
        if (comma == std::string_view::npos) {
            return reject("reference: expected <type>,<value>, got " + quote(v));
        }
        Reference r{std::string(trim(v.substr(0, comma))), unquote(v.substr(comma + 1))};
        if (r.type.empty() || r.value.empty()) {
            return reject("reference: expected <type>,<value>, got " + quote(v));
        }
        rule_.references.push_back(std::move(r));
        return Ok{};
    }
    if (name == "target") {
        const std::string t = lower(trim(v));
        if (t != "src_ip" && t != "dest_ip") {
            return reject("target: expected src_ip or dest_ip, got " + quote(v));
        }
        rule_.target = t;
        return Ok{};
    }
    if (name == "content") {
        return apply_content(v);
    }
    if (name == "uricontent") {
        // Suricata's deprecated spelling of content + http_uri.
        if (auto st = apply_content(v); !st) {
            return st;
        }
        return apply_legacy_buffer("uricontent", BufferId::HttpUri, BufDir::Fixed);
    }
    if (name == "pcre") {
        return apply_pcre(v);
    }
    if (name == "bsize") {
        return apply_bsize(v);
    }
    if (name == "urilen") {
        return apply_urilen(v);
    }
    if (name == "app-layer-protocol") {
        return apply_app_layer_protocol(v);
    }
    // Non-payload options may appear once per rule (Suricata rejects duplicates of most).
    auto once = [&](bool present) -> Status {
        if (present) {
            return reject("duplicate " + name);
        }
        return Ok{};
    };
    if (name == "flow") {
        if (auto st = once(rule_.flow.has_value()); !st) {
            return st;
        }
        FlowOpt f;
        if (auto st = parse_flow(v, f); !st) {
            return st;
        }
        rule_.flow = f;
        return Ok{};
    }
    if (name == "dsize" || name == "ttl" || name == "itype" || name == "icode") {
        std::optional<IntMatch>& dst = name == "dsize"   ? rule_.dsize
                                       : name == "ttl"   ? rule_.ttl
                                       : name == "itype" ? rule_.itype
                                                         : rule_.icode;
        if (auto st = once(dst.has_value()); !st) {
            return st;
        }
        auto m = parse_int_match(name, v, name == "dsize" ? 65535 : 255);
        if (!m) {
            return m.error();
        }
        dst = *m;
        return Ok{};
    }
    if (name == "stream_size") {
        // stream_size:<server|client|both|either>,<op>,<n>   (op: < > = != <= >=)
        const auto parts = split_trim(v, ',');
        if (parts.size() != 3) {
            return reject("stream_size: expected <server|client|both|either>,<op>,<number>, got " +
                          quote(trim(v)));
        }
        StreamSize ss;
        const std::string side = lower(parts[0]);
        if (side == "server") {
            ss.side = StreamSize::Side::Server;
        } else if (side == "client") {
            ss.side = StreamSize::Side::Client;
        } else if (side == "both") {
            ss.side = StreamSize::Side::Both;
        } else if (side == "either") {
            ss.side = StreamSize::Side::Either;
        } else {
            return reject("stream_size: unknown side " + quote(parts[0]) +
                          " (expected server, client, both or either)");
        }
        static constexpr std::array<std::string_view, 6> kOps{"<", ">", "=", "!=", "<=", ">="};
        if (std::find(kOps.begin(), kOps.end(), parts[1]) == kOps.end()) {
            return reject("stream_size: bad operator " + quote(parts[1]) +
                          " (expected <, >, =, !=, <= or >=)");
        }
        auto m = parse_int_match("stream_size", std::string(parts[1]) + std::string(parts[2]),
                                 UINT32_MAX);
        if (!m) {
            return m.error();
        }
        ss.cmp = *m;
        rule_.stream_size.push_back(ss);  // several are all required, as in Suricata
        return Ok{};
    }
    if (name == "icmp_id" || name == "icmp_seq") {
        std::optional<uint16_t>& dst = name == "icmp_id" ? rule_.icmp_id : rule_.icmp_seq;
        if (auto st = once(dst.has_value()); !st) {
            return st;
        }
        auto n = uint_in(name, unquote(v), 0, 65535);
        if (!n) {
            return n.error();
        }
        dst = static_cast<uint16_t>(*n);
        return Ok{};
    }
    if (name == "tos") {
        if (auto st = once(rule_.tos.has_value()); !st) {
            return st;
        }
        auto t = parse_tos(v, rule_.tos_negated);
        if (!t) {
            return t.error();
        }
        rule_.tos = *t;
        return Ok{};
    }
    if (name == "ipopts") {
        if (auto st = once(rule_.ipopts.has_value()); !st) {
            return st;
        }
        auto o = parse_ipopts(v);
        if (!o) {
            return o.error();
        }
        rule_.ipopts = *o;
        return Ok{};
    }
    if (name == "fragbits") {
        if (auto st = once(rule_.fragbits.has_value()); !st) {
            return st;
        }
        auto f = parse_fragbits(v);
        if (!f) {
            return f.error();
        }
        rule_.fragbits = *f;
        return Ok{};
    }
    if (name == "flags") {
        if (auto st = once(rule_.tcp_flags.has_value()); !st) {
            return st;
        }
        auto f = parse_tcp_flags(v);
        if (!f) {
            return f.error();
        }
        rule_.tcp_flags = *f;
        return Ok{};
    }
    if (name == "seq" || name == "ack") {
        std::optional<uint32_t>& dst = name == "seq" ? rule_.tcp_seq : rule_.tcp_ack;
        if (auto st = once(dst.has_value()); !st) {
            return st;
        }
        auto n = uint_in(name, v, 0, UINT32_MAX);
        if (!n) {
            return n.error();
        }
        dst = static_cast<uint32_t>(*n);
        return Ok{};
    }
    if (name == "window") {
        if (auto st = once(rule_.tcp_window.has_value()); !st) {
            return st;
        }
        std::string_view w = trim(v);
        if (!w.empty() && w[0] == '!') {
            rule_.tcp_window_negated = true;
            w = trim(w.substr(1));
        }
        auto n = uint_in("window", w, 0, 65535);
        if (!n) {
            return n.error();
        }
        rule_.tcp_window = static_cast<uint16_t>(*n);
        return Ok{};
    }
    if (name == "ip_proto") {
        if (auto st = once(rule_.ip_proto.has_value()); !st) {
            return st;
        }
        auto m = parse_ip_proto(v);
        if (!m) {
            return m.error();
        }
        rule_.ip_proto = *m;
        return Ok{};
    }
    // A relative isdataat / byte_* outside a sticky buffer goes to the buffer of the match it
    // is relative to (content:"x"; http_uri; isdataat:1,relative; inspects the URI).
    if (name == "isdataat") {
        auto d = parse_isdataat(v, rule_);
        if (!d) {
            return d.error();
        }
        push_op(d->relative ? relative_target(true) : cur_list_, *d);
        return Ok{};
    }
    if (name == "byte_test") {
        auto t = parse_byte_test(v, rule_);
        if (!t) {
            return t.error();
        }
        push_op(t->relative ? relative_target(false) : cur_list_, *t);
        return Ok{};
    }
    if (name == "byte_jump") {
        auto j = parse_byte_jump(v, rule_);
        if (!j) {
            return j.error();
        }
        push_op(j->relative ? relative_target(false) : cur_list_, *j);
        return Ok{};
    }
    if (name == "byte_extract") {
        auto e = parse_byte_extract(v, rule_);
        if (!e) {
            return e.error();
        }
        push_op(e->relative ? relative_target(false) : cur_list_, *e);
        return Ok{};
    }
    if (name == "threshold" || name == "detection_filter") {
        if (rule_.threshold || rule_.detection_filter) {
            return reject("only one threshold or detection_filter per rule");
        }
        auto t = parse_threshold(name, v, name == "threshold");
        if (!t) {
            return t.error();
        }
        (name == "threshold" ? rule_.threshold : rule_.detection_filter) = *t;
        return Ok{};
    }
    if (name == "flowbits") {
        auto f = parse_flowbits(v);
        if (!f) {
            return f.error();
        }
        if (f->op == FlowbitCmd::Op::NoAlert) {
            rule_.noalert = true;
        }
        rule_.flowbits.push_back(std::move(*f));
        return Ok{};
    }
    // rule_parser.cc screens keywords with unsupported_keyword() first.
    return reject(unsupported_keyword(opt.name).value_or("unsupported keyword " + quote(opt.name)));
}

Status OptionParser::apply_content(std::string_view v) {
    Content c;
    if (auto st = decode_content(v, c); !st) {
        return st;
    }
    push_op(cur_list_, std::move(c));
    return Ok{};
}

std::vector<PayloadOp>& OptionParser::ops(int list) {
    return list < 0 ? rule_.payload : rule_.buffers[static_cast<size_t>(list)].ops;
}

void OptionParser::push_op(int list, PayloadOp op) {
    std::vector<PayloadOp>& v = ops(list);
    const bool is_content = std::holds_alternative<Content>(op);
    const bool is_match = is_content || std::holds_alternative<Pcre>(op);
    v.push_back(std::move(op));
    const OpRef ref{list, v.size() - 1, true};
    if (is_content) {
        last_content_ = ref;
    }
    if (is_match) {
        last_match_ = ref;
    }
    last_any_ = ref;
}

int OptionParser::relative_target(bool content_pcre_only) const {
    if (cur_list_ >= 0) {
        return cur_list_;
    }
    const OpRef& prev = content_pcre_only ? last_match_ : last_any_;
    return prev.valid ? prev.list : -1;
}

int OptionParser::legacy_section(std::string_view keyword, BufferId id, BufDir dir) {
    // Contents moved by modifiers join the latest untransformed section of that buffer; a
    // transformed one is a different buffer in Suricata.
    for (size_t i = rule_.buffers.size(); i-- > 0;) {
        const BufferMatch& b = rule_.buffers[i];
        if (b.buffer == id && sections_[i].dir == dir && b.transforms.empty()) {
            return static_cast<int>(i);
        }
    }
    BufferMatch b;
    b.buffer = id;
    b.keyword = std::string(keyword);
    rule_.buffers.push_back(std::move(b));
    sections_.push_back(Section{dir, false});
    return static_cast<int>(rule_.buffers.size() - 1);
}

Status OptionParser::apply_sticky(std::string_view name, BufferId id, BufDir dir) {
    // Every sticky keyword opens a section; finish() merges sections naming the same buffer.
    BufferMatch b;
    b.buffer = id;
    b.keyword = std::string(name);
    rule_.buffers.push_back(std::move(b));
    sections_.push_back(Section{dir, true});
    cur_list_ = static_cast<int>(rule_.buffers.size() - 1);
    return Ok{};
}

Status OptionParser::apply_legacy_buffer(std::string_view name, BufferId id, BufDir dir) {
    const std::string n(name);
    if (cur_list_ >= 0) {
        return reject(n + " can't be used while the sticky buffer " +
                      quote(rule_.buffers[static_cast<size_t>(cur_list_)].keyword) +
                      " is active (reset it with pkt_data first)");
    }
    if (!last_content_.valid) {
        return reject(n + " needs a preceding content");
    }
    if (last_content_.list >= 0) {
        return reject(n + ": the preceding content is already in buffer " +
                      quote(rule_.buffers[static_cast<size_t>(last_content_.list)].keyword));
    }
    const size_t idx = last_content_.idx;
    Content c = std::get<Content>(rule_.payload[idx]);
    if (c.rawbytes) {
        return reject(n + " can't be combined with rawbytes");
    }
    rule_.payload.erase(rule_.payload.begin() + static_cast<std::ptrdiff_t>(idx));
    const int list = legacy_section(name, id, dir);
    std::vector<PayloadOp>& dst = ops(list);
    dst.emplace_back(std::move(c));
    const OpRef moved{list, dst.size() - 1, true};
    // Keep the other references pointing at the same ops after the erase.
    for (OpRef* r : {&last_match_, &last_any_}) {
        if (r->valid && r->list == -1) {
            if (r->idx == idx) {
                *r = moved;
            } else if (r->idx > idx) {
                --r->idx;
            }
        }
    }
    last_content_ = moved;
    return Ok{};
}

Status OptionParser::apply_transform(std::string_view name, Transform t) {
    const std::string n(name);
    if (cur_list_ < 0) {
        return reject(n + ": transforms need a sticky buffer before them");
    }
    BufferMatch& b = rule_.buffers[static_cast<size_t>(cur_list_)];
    if (!b.ops.empty()) {
        return reject(n + ": transforms must directly follow the sticky buffer " +
                      quote(b.keyword) + " (before its content)");
    }
    b.transforms.push_back(t);
    return Ok{};
}

Status OptionParser::apply_bsize(std::string_view v) {
    if (cur_list_ < 0) {
        return reject("bsize needs a sticky buffer before it");
    }
    BufferMatch& b = rule_.buffers[static_cast<size_t>(cur_list_)];
    if (b.bsize) {
        return reject("duplicate bsize for " + quote(b.keyword));
    }
    auto m = parse_int_match("bsize", v, UINT64_MAX);
    if (!m) {
        return m.error();
    }
    b.bsize = *m;
    return Ok{};
}

Status OptionParser::apply_urilen(std::string_view v) {
    if (rule_.urilen) {
        return reject("duplicate urilen");
    }
    const auto parts = split_trim(v, ',');
    if (parts.size() > 2) {
        return reject("urilen: expected [<|>]<n> or <n><><m>, then optional norm|raw, got " +
                      quote(trim(v)));
    }
    auto m = parse_int_match("urilen", parts[0], 65535);
    if (!m) {
        return m.error();
    }
    bool raw = false;
    if (parts.size() == 2) {
        const std::string kind = lower(parts[1]);
        if (kind != "norm" && kind != "raw") {
            return reject("urilen: expected norm or raw, got " + quote(parts[1]));
        }
        raw = kind == "raw";
    }
    rule_.urilen = *m;
    rule_.urilen_raw = raw;
    return Ok{};
}

Status OptionParser::apply_app_layer_protocol(std::string_view v) {
    if (have_app_layer_protocol_) {
        return reject("duplicate app-layer-protocol");
    }
    std::string_view name = trim(v);
    bool negated = false;
    if (!name.empty() && name[0] == '!') {
        negated = true;
        name = trim(name.substr(1));
    }
    const std::string n = lower(name);
    const auto p = app_proto_by_name(n);
    if (!p) {
        return reject("app-layer-protocol: protocol " + quote(name) +
                      " is not detected by this sensor (known: http, dns, tls, ssh, smtp, "
                      "ftp, smb, failed)");
    }
    have_app_layer_protocol_ = true;
    alp_ = *p;
    alp_negated_ = negated;
    return Ok{};
}

Status OptionParser::apply_pcre(std::string_view v) {
    Pcre p;
    v = trim(v);
    if (!v.empty() && v[0] == '!') {
        p.negated = true;
        v = trim(v.substr(1));
    }
    // Quotes are customary but Suricata also takes pcre:/x/i;
    std::string_view in = v;
    if (!v.empty() && v.front() == '"') {
        if (v.size() < 2 || v.back() != '"') {
            return reject("pcre: unterminated string " + quote(v));
        }
        in = v.substr(1, v.size() - 2);
    }
    const size_t last = in.rfind('/');
    if (in.empty() || in[0] != '/' || last == 0) {
        return reject("pcre: expected \"/pattern/flags\", got " + quote(v));
    }
    p.pattern = std::string(in.substr(1, last - 1));
    p.flags = std::string(trim(in.substr(last + 1)));
    if (p.pattern.empty()) {
        return reject("pcre: empty pattern");
    }
    if (const size_t comma = p.flags.find(','); comma != std::string::npos) {
        return reject("unsupported pcre capture into variables " +
                      quote(trim(std::string_view(p.flags).substr(comma + 1))));
    }
    const PcreBufferFlag* buf_flag = nullptr;
    for (char f : p.flags) {
        switch (f) {
            case 'i':
                p.caseless = true;
                break;
            case 's':
                p.dotall = true;
                break;
            case 'm':
                p.multiline = true;
                break;
            case 'x':
                p.extended = true;
                break;
            case 'A':
                p.anchored = true;
                break;
            case 'E':
                p.dollar_endonly = true;
                break;
            case 'G':
                p.ungreedy = true;
                break;
            case 'R':
                p.relative = true;
                break;
            case 'B':
                p.rawbytes = true;
                break;
            case 'O':  // override the configured match limits: no limits to override here
                break;
            default: {
                const PcreBufferFlag* hit = nullptr;
                for (const PcreBufferFlag& b : kPcreBufferFlags) {
                    if (b.flag == f) {
                        hit = &b;
                    }
                }
                if (hit == nullptr) {
                    return reject("pcre: unknown flag " + quote(std::string(1, f)));
                }
                if (buf_flag != nullptr) {
                    return reject("pcre: more than one buffer flag in " + quote(p.flags));
                }
                buf_flag = hit;
            }
        }
    }
    int list = cur_list_;
    if (buf_flag != nullptr) {
        const BufferKeyword& kw = buf_flag->kw;
        const std::string flag = quote(std::string(1, buf_flag->flag));
        if (buf_flag->flag == 'W' && !p.caseless && pcre_has_uppercase(p.pattern)) {
            return reject(
                "pcre: flag 'W' (http_host) with an upper-case letter in the pattern "
                "can never match the lower-cased host (add 'i' or use 'Z')");
        }
        if (cur_list_ >= 0) {
            const BufferMatch& cur = rule_.buffers[static_cast<size_t>(cur_list_)];
            if (cur.buffer != kw.id || sections_[static_cast<size_t>(cur_list_)].dir != kw.dir) {
                return reject("pcre: flag " + flag + " (" + std::string(kw.name) +
                              ") while the sticky buffer " + quote(cur.keyword) +
                              " is active (reset it with pkt_data first)");
            }
        } else {
            list = legacy_section(kw.name, kw.id, kw.dir);
        }
    }
    if (p.relative && cur_list_ < 0) {
        // Without a sticky buffer, /R needs an earlier content or pcre in the same buffer.
        const auto& prev = ops(list);
        const bool has_match = std::any_of(prev.begin(), prev.end(), [](const PayloadOp& op) {
            return std::holds_alternative<Content>(op) || std::holds_alternative<Pcre>(op);
        });
        if (!has_match) {
            return reject("pcre: /R needs a preceding content or pcre in the same buffer (" +
                          std::string(list < 0 ? "packet payload"
                                               : rule_.buffers[static_cast<size_t>(list)].keyword) +
                          ")");
        }
    }
    push_op(list, std::move(p));
    return Ok{};
}

Status OptionParser::apply_modifier(std::string_view name,
                                    const std::optional<std::string_view>& val) {
    const std::string n(name);
    // Like Suricata, a modifier applies to the most recent content even when a pcre, byte_*
    // or isdataat came in between (ET writes `content:"x"; isdataat:!1,relative; nocase;`).
    // The content may since have moved into a buffer (content:"x"; http_uri; nocase;).
    Content* c = nullptr;
    if (last_content_.valid) {
        c = std::get_if<Content>(&ops(last_content_.list)[last_content_.idx]);
    }
    if (c == nullptr) {
        return reject(n + " needs a preceding content");
    }
    const auto len = static_cast<int64_t>(c->bytes.size());
    const bool flag_kw =
        name == "nocase" || name == "rawbytes" || name == "startswith" || name == "endswith";
    if (flag_kw) {
        if (auto st = no_value(name, val); !st) {
            return st;
        }
    } else if (name != "fast_pattern" && (!val || val->empty())) {
        return reject(n + " needs a value");
    }
    auto relative_conflict = [&]() -> Status {
        return reject(n + ": can't mix offset/depth with distance/within on one content");
    };
    auto startswith_conflict = [&](const char* other) -> Status {
        return reject(std::string("startswith can't be combined with ") + other);
    };
    if (name == "nocase") {
        if (c->nocase) {
            return reject("duplicate nocase on one content");
        }
        c->nocase = true;
        return Ok{};
    }
    if (name == "rawbytes") {
        c->rawbytes = true;
        return Ok{};
    }
    if (name == "startswith") {
        if (c->startswith) {
            return reject("duplicate startswith on one content");
        }
        if (c->offset) {
            return startswith_conflict("offset");
        }
        if (c->depth) {
            return startswith_conflict("depth");
        }
        if (c->distance) {
            return startswith_conflict("distance");
        }
        if (c->within) {
            return startswith_conflict("within");
        }
        c->startswith = true;
        return Ok{};
    }
    if (name == "endswith") {
        if (c->endswith) {
            return reject("duplicate endswith on one content");
        }
        c->endswith = true;
        return Ok{};
    }
    if (name == "fast_pattern") {
        if (have_fast_pattern_) {
            return reject("fast_pattern may only be used once per rule");
        }
        have_fast_pattern_ = true;
        c->fast_pattern = true;
        if (!val || val->empty()) {
            return Ok{};
        }
        const std::string_view fv = trim(*val);
        if (fv == "only") {
            c->fast_pattern_only = true;
            return Ok{};
        }
        const auto parts = split_trim(fv, ',');
        if (parts.size() != 2) {
            return reject("fast_pattern: expected 'only' or <offset>,<length>, got " + quote(fv));
        }
        auto off = uint_in("fast_pattern offset", parts[0], 0, 65535);
        if (!off) {
            return off.error();
        }
        auto flen = uint_in("fast_pattern length", parts[1], 1, 65535);
        if (!flen) {
            return flen.error();
        }
        if (static_cast<int64_t>(*off + *flen) > len) {
            return reject("fast_pattern: " + quote(fv) + " goes past the end of the content (" +
                          std::to_string(len) + " bytes)");
        }
        c->fp_chop_offset = static_cast<uint16_t>(*off);
        c->fp_chop_len = static_cast<uint16_t>(*flen);
        return Ok{};
    }
    // offset, depth, distance, within.
    const bool absolute = name == "offset" || name == "depth";
    std::optional<Operand>& slot = name == "offset"     ? c->offset
                                   : name == "depth"    ? c->depth
                                   : name == "distance" ? c->distance
                                                        : c->within;
    if (slot) {
        return reject("duplicate " + n + " on one content");
    }
    if (c->startswith) {
        return startswith_conflict(n.c_str());
    }
    if (absolute ? c->relative() : (c->offset || c->depth)) {
        return relative_conflict();
    }
    const int64_t lo = name == "offset" ? 0 : name == "distance" ? -kContentValueMax : 1;
    auto o = operand(n, *val, rule_, lo, kContentValueMax);
    if (!o) {
        return o.error();
    }
    if (!o->is_var() && (name == "depth" || name == "within") && o->value < len) {
        return reject(n + " " + std::to_string(o->value) + " is smaller than the content length " +
                      std::to_string(len));
    }
    slot = *o;
    return Ok{};
}

Status OptionParser::finish() {
    if (!have_sid_) {
        return reject("missing sid");
    }
    auto check_fp_only = [](const std::vector<PayloadOp>& prog) -> Status {
        for (const PayloadOp& op : prog) {
            const auto* c = std::get_if<Content>(&op);
            if (c == nullptr || !c->fast_pattern_only) {
                continue;
            }
            if (c->negated) {
                return reject("fast_pattern:only can't be used on a negated content");
            }
            if (c->offset || c->depth || c->distance || c->within) {
                return reject(
                    "fast_pattern:only can't be combined with offset/depth/distance/within");
            }
        }
        return Ok{};
    };
    if (auto st = check_fp_only(rule_.payload); !st) {
        return st;
    }
    for (const BufferMatch& b : rule_.buffers) {
        if (auto st = check_fp_only(b.ops); !st) {
            return st;
        }
    }
    if (auto st = resolve_buffers(); !st) {
        return st;
    }
    return bind_app_proto();
}

Status OptionParser::resolve_buffers() {
    const bool to_client = rule_.flow && rule_.flow->to_client;
    const bool to_server = rule_.flow && rule_.flow->to_server;
    for (size_t i = 0; i < rule_.buffers.size(); ++i) {
        BufferMatch& b = rule_.buffers[i];
        if (b.ops.empty() && !b.bsize) {
            return reject("sticky buffer " + quote(b.keyword) +
                          " has nothing to match (no content, pcre, byte_*, isdataat or bsize)");
        }
        switch (sections_[i].dir) {
            case BufDir::Fixed:
                break;
            case BufDir::Flow:
                if (to_client) {
                    b.buffer = response_variant(b.buffer);
                }
                break;
            case BufDir::FileData:
                b.buffer = to_server ? BufferId::HttpRequestBody : BufferId::HttpResponseBody;
                break;
        }
        if (b.buffer == BufferId::HttpProtocol && to_client) {
            return reject(quote(b.keyword) +
                          " on responses (flow:to_client) is not supported: only the request's "
                          "protocol is available");
        }
    }
    // Sections naming the same buffer become one program, in rule order.
    std::vector<BufferMatch> merged;
    for (BufferMatch& b : rule_.buffers) {
        auto it = std::find_if(merged.begin(), merged.end(),
                               [&](const BufferMatch& m) { return m.buffer == b.buffer; });
        if (it == merged.end()) {
            merged.push_back(std::move(b));
            continue;
        }
        if (it->transforms != b.transforms) {
            return reject(quote(b.keyword) +
                          ": the same buffer with different transforms in one rule is not "
                          "supported");
        }
        if (it->bsize && b.bsize) {
            return reject("duplicate bsize for " + quote(b.keyword));
        }
        if (b.bsize) {
            it->bsize = b.bsize;
        }
        for (PayloadOp& op : b.ops) {
            it->ops.push_back(std::move(op));
        }
    }
    rule_.buffers = std::move(merged);
    sections_.clear();
    cur_list_ = -1;
    last_content_ = last_match_ = last_any_ = OpRef{};
    return Ok{};
}

Status OptionParser::bind_app_proto() {
    const AppProto header = rule_.app_bind;  // set by the rule header (`alert http ...`)
    auto pname = [](AppProto p) { return quote(dataplane::app::app_proto_name(p)); };
    AppProto bind = header;
    bool negated = false;
    if (have_app_layer_protocol_) {
        if (header != AppProto::Unknown && (alp_negated_ || alp_ != header)) {
            return reject("app-layer-protocol:" + std::string(alp_negated_ ? "!" : "") +
                          std::string(dataplane::app::app_proto_name(alp_)) +
                          " conflicts with protocol " + pname(header) + " of the rule header");
        }
        bind = alp_;
        negated = alp_negated_;
    }
    // What the buffers (and urilen) imply: all of them must belong to one protocol.
    AppProto implied = AppProto::Unknown;
    std::string implied_by;
    auto imply = [&](AppProto p, const std::string& keyword) -> Status {
        if (implied == AppProto::Unknown) {
            implied = p;
            implied_by = keyword;
        } else if (implied != p) {
            return reject("buffer " + quote(keyword) + " (" +
                          std::string(dataplane::app::app_proto_name(p)) +
                          ") conflicts with buffer " + quote(implied_by) + " (" +
                          std::string(dataplane::app::app_proto_name(implied)) + ")");
        }
        return Ok{};
    };
    for (const BufferMatch& b : rule_.buffers) {
        if (auto st = imply(dataplane::app::buffer_proto(b.buffer), b.keyword); !st) {
            return st;
        }
    }
    if (rule_.urilen) {
        if (auto st = imply(AppProto::Http, "urilen"); !st) {
            return st;
        }
    }
    if (implied != AppProto::Unknown) {
        const bool file_data = implied_by == "file.data" || implied_by == "file_data";
        if (bind != AppProto::Unknown && !negated && bind != implied) {
            if (file_data) {
                return reject("unsupported " + quote(implied_by) + " for " + pname(bind) +
                              ": only http bodies are inspected");
            }
            return reject(
                "buffer " + quote(implied_by) + " (" +
                std::string(dataplane::app::app_proto_name(implied)) +
                ") conflicts with protocol " + pname(bind) +
                (have_app_layer_protocol_ ? " of app-layer-protocol" : " of the rule header"));
        }
        if (negated && bind == implied) {
            return reject("app-layer-protocol:!" +
                          std::string(dataplane::app::app_proto_name(bind)) +
                          " conflicts with buffer " + quote(implied_by));
        }
        // The buffer's protocol already excludes a negated other one.
        bind = implied;
        negated = false;
    }
    rule_.app_bind = bind;
    rule_.app_bind_negated = negated;
    return Ok{};
}

}  // namespace vigil::rules::detail
