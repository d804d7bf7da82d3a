// Header keywords: IP, TCP and ICMP header fields (ttl, tos, ipopts, fragbits, flags, seq,
// ack, window, ip_proto, itype, icode, icmp_id, icmp_seq). Each may appear once per rule.
// decode-event: the decoder events of the packet.

#include <algorithm>
#include <array>
#include <string>

#include "dataplane/decode_events.h"
#include "rules/options/parse.h"
#include "rules/options/registry.h"
#include "rules/rule_options.h"

namespace vigil::rules::detail {

namespace {

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

// ttl, itype, icode.
Status apply_u8_match(OptionParser& p, const KeywordUse& u) {
    Rule& r = p.rule();
    std::optional<IntMatch>& dst = u.kw.name == "ttl"     ? r.ttl
                                   : u.kw.name == "itype" ? r.itype
                                                          : r.icode;
    return set_int_match(dst, u.kw.name, u.v(), 255);
}

Status apply_icmp_u16(OptionParser& p, const KeywordUse& u) {
    Rule& r = p.rule();
    std::optional<uint16_t>& dst = u.kw.name == "icmp_id" ? r.icmp_id : r.icmp_seq;
    if (auto st = once(u.kw.name, dst.has_value()); !st) {
        return st;
    }
    auto n = uint_in(u.kw.name, unquote(u.v()), 0, 65535);
    if (!n) {
        return n.error();
    }
    dst = static_cast<uint16_t>(*n);
    return Ok{};
}

Status apply_tos(OptionParser& p, const KeywordUse& u) {
    Rule& r = p.rule();
    if (auto st = once(u.kw.name, r.tos.has_value()); !st) {
        return st;
    }
    auto t = parse_tos(u.v(), r.tos_negated);
    if (!t) {
        return t.error();
    }
    r.tos = *t;
    return Ok{};
}

Status apply_ipopts(OptionParser& p, const KeywordUse& u) {
    Rule& r = p.rule();
    if (auto st = once(u.kw.name, r.ipopts.has_value()); !st) {
        return st;
    }
    auto o = parse_ipopts(u.v());
    if (!o) {
        return o.error();
    }
    r.ipopts = *o;
    return Ok{};
}

Status apply_fragbits(OptionParser& p, const KeywordUse& u) {
    Rule& r = p.rule();
    if (auto st = once(u.kw.name, r.fragbits.has_value()); !st) {
        return st;
    }
    auto f = parse_fragbits(u.v());
    if (!f) {
        return f.error();
    }
    r.fragbits = *f;
    return Ok{};
}

Status apply_flags(OptionParser& p, const KeywordUse& u) {
    Rule& r = p.rule();
    if (auto st = once(u.kw.name, r.tcp_flags.has_value()); !st) {
        return st;
    }
    auto f = parse_tcp_flags(u.v());
    if (!f) {
        return f.error();
    }
    r.tcp_flags = *f;
    return Ok{};
}

// seq, ack.
Status apply_tcp_u32(OptionParser& p, const KeywordUse& u) {
    Rule& r = p.rule();
    std::optional<uint32_t>& dst = u.kw.name == "seq" ? r.tcp_seq : r.tcp_ack;
    if (auto st = once(u.kw.name, dst.has_value()); !st) {
        return st;
    }
    auto n = uint_in(u.kw.name, u.v(), 0, UINT32_MAX);
    if (!n) {
        return n.error();
    }
    dst = static_cast<uint32_t>(*n);
    return Ok{};
}

Status apply_window(OptionParser& p, const KeywordUse& u) {
    Rule& r = p.rule();
    if (auto st = once(u.kw.name, r.tcp_window.has_value()); !st) {
        return st;
    }
    std::string_view w = trim(u.v());
    if (!w.empty() && w[0] == '!') {
        r.tcp_window_negated = true;
        w = trim(w.substr(1));
    }
    auto n = uint_in("window", w, 0, 65535);
    if (!n) {
        return n.error();
    }
    r.tcp_window = static_cast<uint16_t>(*n);
    return Ok{};
}

Status apply_ip_proto(OptionParser& p, const KeywordUse& u) {
    Rule& r = p.rule();
    if (auto st = once(u.kw.name, r.ip_proto.has_value()); !st) {
        return st;
    }
    auto m = parse_ip_proto(u.v());
    if (!m) {
        return m.error();
    }
    r.ip_proto = *m;
    return Ok{};
}

constexpr KeywordFamily kHeader = KeywordFamily::Header;
constexpr ValueRule kRequired = ValueRule::Required;

// decode-event:<name>: Suricata's decoder event names without their "decoder." prefix
// (Suricata adds it), compared case-insensitively. Several in one rule must all be raised.
Status apply_decode_event(OptionParser& p, const KeywordUse& u) {
    const std::string_view name = trim(u.v());
    const std::string n = lower(name);
    if (n.starts_with("decoder.")) {
        return reject("decode-event " + quote(name) +
                      ": write the name without 'decoder.' (Suricata adds the prefix)");
    }
    if (const auto e = dataplane::decode_event_by_name(n)) {
        auto& evs = p.rule().decode_events;
        if (std::find(evs.begin(), evs.end(), *e) == evs.end()) {
            evs.push_back(*e);
        }
        return Ok{};
    }
    for (std::string_view nr : dataplane::decode_events_not_raised()) {
        if (nr == n) {
            return reject("decode-event " + quote(name) + ": Vigil's decoder never raises it");
        }
    }
    return reject("decode-event " + quote(name) + ": unknown decoder event");
}

constexpr std::array kKeywords{
    KeywordDef{"decode-event", kHeader, kRequired, apply_decode_event},
    KeywordDef{"ttl", kHeader, kRequired, apply_u8_match},
    KeywordDef{"tos", kHeader, kRequired, apply_tos},
    KeywordDef{"ipopts", kHeader, kRequired, apply_ipopts},
    KeywordDef{"fragbits", kHeader, kRequired, apply_fragbits},
    KeywordDef{"ip_proto", kHeader, kRequired, apply_ip_proto},
    KeywordDef{"flags", kHeader, kRequired, apply_flags},
    KeywordDef{"tcp.flags", kHeader, kRequired, apply_flags},  // Suricata 8 name
    KeywordDef{"seq", kHeader, kRequired, apply_tcp_u32},
    KeywordDef{"ack", kHeader, kRequired, apply_tcp_u32},
    KeywordDef{"window", kHeader, kRequired, apply_window},
    KeywordDef{"itype", kHeader, kRequired, apply_u8_match},
    KeywordDef{"icode", kHeader, kRequired, apply_u8_match},
    KeywordDef{"icmp_id", kHeader, kRequired, apply_icmp_u16},
    KeywordDef{"icmp_seq", kHeader, kRequired, apply_icmp_u16},
};

}  // namespace

std::span<const KeywordDef> header_keywords() {
    return kKeywords;
}

}  // namespace vigil::rules::detail
