// The rule reader: splits a rule into header and options, parses the header (action,
// protocol, addresses, ports, direction) and hands each option to OptionParser
// (rule_options.cc). Also reads whole rules files (comments, continuations, duplicate sids).

#include "rules/rule_parser.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <fstream>
#include <istream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "rules/address.h"
#include "rules/parse_util.h"
#include "rules/rule_options.h"

namespace vigil::rules {

namespace {

using detail::quote;
using detail::RawOption;

// Why a rule was rejected, before file/line/sid are attached.
struct Rejection {
    std::string reason;
};

// Splits the header on whitespace, keeping bracketed lists ("[1.2.3.4, 5.6.7.8]") whole.
std::vector<std::string_view> header_tokens(std::string_view h) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < h.size()) {
        while (i < h.size() && is_space(h[i])) {
            ++i;
        }
        if (i >= h.size()) {
            break;
        }
        const size_t b = i;
        int depth = 0;
        while (i < h.size() && (depth > 0 || !is_space(h[i]))) {
            if (h[i] == '[') {
                ++depth;
            } else if (h[i] == ']' && depth > 0) {
                --depth;
            }
            ++i;
        }
        out.push_back(h.substr(b, i - b));
    }
    return out;
}

// Splits "msg:\"x\"; nocase; sid:1;" into options. A ';' ends an option unless escaped with
// a backslash (Suricata does not track quotes: a ';' inside a string must be written \;).
bool split_options(std::string_view body, std::vector<RawOption>& out, std::string& err) {
    size_t i = 0;
    while (true) {
        while (i < body.size() && is_space(body[i])) {
            ++i;
        }
        if (i >= body.size()) {
            return true;
        }
        const size_t name_start = i;
        while (i < body.size() && body[i] != ':' && body[i] != ';') {
            ++i;
        }
        const std::string_view name = trim(body.substr(name_start, i - name_start));
        if (name.empty()) {
            err = "empty option (stray ';' or ':')";
            return false;
        }
        if (name.find_first_of(" \t\"()") != std::string_view::npos) {
            err = "bad option name " + quote(name) + " (missing ';'?)";
            return false;
        }
        if (i >= body.size()) {
            err = "unterminated option " + quote(name) + " (missing ';')";
            return false;
        }
        if (body[i] == ';') {
            out.push_back(RawOption{name, std::nullopt});
            ++i;
            continue;
        }
        const size_t value_start = ++i;
        while (i < body.size() && body[i] != ';') {
            i += body[i] == '\\' ? 2 : 1;
        }
        const std::string_view value = trim(body.substr(value_start, i - value_start));
        out.push_back(RawOption{name, value});  // kept even when unterminated: it may be the sid
        if (i >= body.size()) {
            err = "unterminated option " + quote(name) + " (missing ';')";
            return false;
        }
        ++i;
    }
}

struct ProtoEntry {
    std::string_view name;
    Proto proto;
    bool app;  // an app-layer protocol: kept in Rule::app_proto
};

// App-layer names map to the transport Suricata's parsers use; protocols that run over both
// TCP and UDP (dns, sip, krb5, nfs, dcerpc, enip) map to Ip. Only the protocols the sensor
// detects (detail::app_proto_by_name) are accepted; the others are listed so the rejection
// can say why.
constexpr std::array<ProtoEntry, 48> kProtos{{
    {"ip", Proto::Ip, false},          {"pkthdr", Proto::Ip, false},
    {"tcp", Proto::Tcp, false},        {"tcp-pkt", Proto::Tcp, false},
    {"tcp-stream", Proto::Tcp, false}, {"udp", Proto::Udp, false},
    {"udp-pkt", Proto::Udp, false},    {"icmp", Proto::Icmp, false},
    {"icmpv4", Proto::Icmpv4, false},  {"icmpv6", Proto::Icmpv6, false},
    {"icmp6", Proto::Icmpv6, false},   {"http", Proto::Tcp, true},
    {"http1", Proto::Tcp, true},       {"http2", Proto::Tcp, true},
    {"ftp", Proto::Tcp, true},         {"ftp-data", Proto::Tcp, true},
    {"smtp", Proto::Tcp, true},        {"tls", Proto::Tcp, true},
    {"ssl", Proto::Tcp, true},         {"ssh", Proto::Tcp, true},
    {"imap", Proto::Tcp, true},        {"pop3", Proto::Tcp, true},
    {"smb", Proto::Tcp, true},         {"modbus", Proto::Tcp, true},
    {"dnp3", Proto::Tcp, true},        {"rfb", Proto::Tcp, true},
    {"mqtt", Proto::Tcp, true},        {"rdp", Proto::Tcp, true},
    {"websocket", Proto::Tcp, true},   {"ldap", Proto::Tcp, true},
    {"telnet", Proto::Tcp, true},      {"irc", Proto::Tcp, true},
    {"pgsql", Proto::Tcp, true},       {"msn", Proto::Tcp, true},
    {"jabber", Proto::Tcp, true},      {"dns", Proto::Ip, true},
    {"sip", Proto::Ip, true},          {"krb5", Proto::Ip, true},
    {"nfs", Proto::Ip, true},          {"dcerpc", Proto::Ip, true},
    {"enip", Proto::Ip, true},         {"dhcp", Proto::Udp, true},
    {"ntp", Proto::Udp, true},         {"snmp", Proto::Udp, true},
    {"tftp", Proto::Udp, true},        {"ikev2", Proto::Udp, true},
    {"ike", Proto::Udp, true},         {"quic", Proto::Udp, true},
}};

// Header: action proto src sport dir dst dport.
bool parse_header(std::string_view header, const Vars& vars, Rule& rule, std::string& err) {
    const auto tok = header_tokens(header);
    if (tok.size() != 7) {
        err = "bad rule header " + quote(trim(header)) +
              " (expected: action proto src_addr src_port -> dst_addr dst_port)";
        return false;
    }
    const std::string action = detail::lower(tok[0]);
    if (action == "alert") {
        rule.action = Action::Alert;
    } else if (action == "drop") {
        rule.action = Action::Drop;
    } else if (action == "pass") {
        rule.action = Action::Pass;
    } else if (action == "reject" || action == "rejectsrc" || action == "rejectdst" ||
               action == "rejectboth") {
        rule.action = Action::Reject;
    } else if (action == "config") {
        err = "action " + quote(tok[0]) + " is not supported";
        return false;
    } else {
        err = "unknown action " + quote(tok[0]);
        return false;
    }
    const std::string proto = detail::lower(tok[1]);
    int family = 0;  // 4 or 6 for ipv4/ip4, ipv6/ip6
    if (proto == "ipv4" || proto == "ip4") {
        rule.proto = Proto::Ip;
        family = 4;
    } else if (proto == "ipv6" || proto == "ip6") {
        rule.proto = Proto::Ip;
        family = 6;
    } else {
        bool found = false;
        for (const ProtoEntry& p : kProtos) {
            if (p.name == proto) {
                rule.proto = p.proto;
                if (p.app) {
                    const auto app = detail::app_proto_by_name(proto);
                    if (!app) {
                        err = "app-layer protocol " + quote(tok[1]) +
                              " is not detected by this sensor";
                        return false;
                    }
                    rule.app_proto = proto;
                    rule.app_bind = *app;
                }
                // tcp-pkt / udp-pkt: the packet payload only, never the reassembled stream.
                rule.packet_only = proto == "tcp-pkt" || proto == "udp-pkt";
                found = true;
                break;
            }
        }
        if (!found) {
            err = "unknown protocol " + quote(tok[1]);
            return false;
        }
    }
    auto src = parse_address(tok[2], vars);
    if (!src) {
        err = "source address: " + src.error().message;
        return false;
    }
    auto sport = parse_ports(tok[3], vars);
    if (!sport) {
        err = "source port: " + sport.error().message;
        return false;
    }
    if (tok[4] == "<>") {
        rule.bidirectional = true;
    } else if (tok[4] != "->") {
        err = "bad direction " + quote(tok[4]) + " (expected -> or <>)";
        return false;
    }
    auto dst = parse_address(tok[5], vars);
    if (!dst) {
        err = "destination address: " + dst.error().message;
        return false;
    }
    auto dport = parse_ports(tok[6], vars);
    if (!dport) {
        err = "destination port: " + dport.error().message;
        return false;
    }
    rule.src = std::move(*src);
    rule.sport = std::move(*sport);
    rule.dst = std::move(*dst);
    rule.dport = std::move(*dport);
    if (family != 0) {
        // ipv4/ipv6 keep only addresses of that family; the sets stay exact intervals.
        rule.src =
            family == 4 ? detail::restrict_to_v4(rule.src) : detail::restrict_to_v6(rule.src);
        rule.dst =
            family == 4 ? detail::restrict_to_v4(rule.dst) : detail::restrict_to_v6(rule.dst);
        if (rule.src.ranges.empty() || rule.dst.ranges.empty()) {
            err = "addresses match nothing for protocol " + quote(tok[1]);
            return false;
        }
    }
    return true;
}

// The numeric value of option `name` (quotes allowed), 0 when absent or unreadable.
uint32_t peek_u32(const std::vector<RawOption>& opts, std::string_view name) {
    for (const RawOption& o : opts) {
        if (detail::iequals(o.name, name) && o.value) {
            std::string_view v = trim(*o.value);
            if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
                v = v.substr(1, v.size() - 2);
            }
            const auto n = detail::parse_u64(v);
            if (n && *n <= UINT32_MAX) {
                return static_cast<uint32_t>(*n);
            }
            return 0;
        }
    }
    return 0;
}

// Reads the sid before anything else so that every rejection can name it.
uint32_t peek_sid(const std::vector<RawOption>& opts) {
    return peek_u32(opts, "sid");
}

// Parses one logical rule line. On failure fills err (reason and, when readable, sid).
bool parse_rule_impl(std::string_view text, const Vars& vars, const std::string& file,
                     uint32_t line, Rule& rule, RuleError& err) {
    err.file = file;
    err.line = line;
    text = trim(text);
    rule.file = file;
    rule.line = line;
    rule.text = std::string(text);
    auto fail = [&](std::string reason) {
        err.reason = std::move(reason);
        return false;
    };
    const size_t open = text.find('(');
    if (open == std::string_view::npos) {
        return fail("rule has no option list '(...)'");
    }
    const size_t close = text.rfind(')');
    if (close == std::string_view::npos || close < open) {
        return fail("unterminated option list (missing ')')");
    }
    if (!trim(text.substr(close + 1)).empty()) {
        return fail("unexpected text after the option list: " +
                    quote(trim(text.substr(close + 1))));
    }
    std::vector<RawOption> opts;
    std::string split_err;
    const bool split_ok = split_options(text.substr(open + 1, close - open - 1), opts, split_err);
    err.sid = peek_sid(opts);
    if (!split_ok) {
        return fail(split_err);
    }
    std::string header_err;
    if (!parse_header(text.substr(0, open), vars, rule, header_err)) {
        return fail(header_err);
    }
    // Screen keywords first, so a rule is bucketed by what we lack (an app-layer buffer, say)
    // rather than by whichever option happened to come first.
    std::optional<std::string> unsupported;
    for (const RawOption& o : opts) {
        auto why = detail::unsupported_keyword(o.name);
        if (why && (!unsupported ||
                    (why->ends_with("(app-layer)") && !unsupported->ends_with("(app-layer)")))) {
            unsupported = std::move(why);
        }
    }
    if (unsupported) {
        return fail(*unsupported);
    }
    detail::OptionParser parser(rule, vars);
    for (const RawOption& o : opts) {
        if (auto st = parser.apply(o); !st) {
            return fail(st.error().message);
        }
    }
    if (auto st = parser.finish(); !st) {
        return fail(st.error().message);
    }
    return true;
}

std::string_view rtrim(std::string_view s) {
    while (!s.empty() && is_space(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

bool is_blank_or_comment(std::string_view line) {
    line = trim(line);
    return line.empty() || line[0] == '#';
}

// Calls fn(text, first line) for each logical rule of a rules file: skips blank lines and
// comments (including ET's commented-out rules) and joins lines continued with a trailing
// backslash. False when the stream failed (not at its end).
template <typename Fn>
bool for_each_logical_rule(std::istream& in, Fn&& fn) {
    std::string raw;
    std::string logical;
    uint32_t line_no = 0;
    uint32_t start_line = 0;
    while (std::getline(in, raw)) {
        ++line_no;
        std::string_view l = raw;
        if (logical.empty() && is_blank_or_comment(l)) {
            continue;
        }
        // A continuation line keeps its leading whitespace, as in Suricata's loader.
        const bool first = logical.empty();
        const std::string_view t = first ? trim(l) : rtrim(l);
        if (first) {
            start_line = line_no;
        }
        if (!t.empty() && t.back() == '\\') {
            logical.append(t.substr(0, t.size() - 1));
            continue;
        }
        logical.append(t);
        fn(logical, start_line);
        logical.clear();
    }
    if (in.bad()) {
        return false;
    }
    if (!logical.empty()) {
        // The file ended inside a continued rule: parse what there is (it will usually fail
        // with a precise reason).
        fn(logical, start_line);
    }
    return true;
}

}  // namespace

std::string RuleError::to_string() const {
    std::string out;
    if (!file.empty()) {
        out += file;
        out += ':';
        out += std::to_string(line);
        out += ": ";
    } else if (line != 0) {
        out += "line " + std::to_string(line) + ": ";
    }
    if (sid != 0) {
        out += "sid " + std::to_string(sid) + ": ";
    }
    out += reason;
    return out;
}

Result<Rule> parse_rule(std::string_view text, const Vars& vars, const std::string& file,
                        uint32_t line) {
    Rule rule;
    RuleError err;
    if (!parse_rule_impl(text, vars, file, line, rule, err)) {
        return make_error(ErrorCode::RuleParse, err.to_string());
    }
    return rule;
}

Result<ParseResult> parse_rules_file(const std::string& path, const Vars& vars) {
    auto all = parse_rules_files({path}, vars);
    if (!all) {
        return all.error();
    }
    return std::move(all->front());
}

namespace {

// Parses the logical rules of `paths` in parallel; keeps in `rules`, compacted in place and in
// order, those that parse and are not duplicates, and in `order` every rule kept (parsed or
// `known`). `on_reject(file, error)` is called in order. `cross_file`: also refuse a (gid, sid)
// loaded from an earlier file. `known` (may be null): rules not to parse again.
template <typename OnReject>
Status parse_files_impl(const std::vector<std::string>& paths, const Vars& vars, unsigned threads,
                        bool cross_file, const KnownRules* known, std::vector<Rule>& rules,
                        std::vector<uint32_t>& rule_file, std::vector<ParsedFiles::Entry>& order,
                        OnReject&& on_reject) {
    // Read every logical rule first (cheap), parse them in parallel, then apply the duplicate
    // checks in order, so the result does not depend on the thread count.
    struct Job {
        uint32_t file = 0;
        uint32_t line = 0;
        std::string text;
        const Rule* known = nullptr;  // the same text, parsed before
        uint32_t index = 0;           // in `known`, or in the parsed rules
    };
    std::vector<Job> jobs;
    for (size_t fi = 0; fi < paths.size(); ++fi) {
        std::ifstream in(paths[fi]);
        if (!in) {
            return make_error(ErrorCode::Io, "cannot open rules file " + quote(paths[fi]));
        }
        const bool read_ok =
            for_each_logical_rule(in, [&](const std::string& logical, uint32_t start_line) {
                Job j{static_cast<uint32_t>(fi), start_line, logical};
                if (known != nullptr) {
                    j.known = known->find(trim(logical), j.index);
                }
                jobs.push_back(std::move(j));
            });
        if (!read_ok) {
            return make_error(ErrorCode::Io, "cannot read rules file " + quote(paths[fi]));
        }
    }
    std::vector<uint32_t> to_parse;  // job indexes
    for (uint32_t i = 0; i < jobs.size(); ++i) {
        if (jobs[i].known == nullptr) {
            jobs[i].index = static_cast<uint32_t>(to_parse.size());
            to_parse.push_back(i);
        } else {
            std::string().swap(jobs[i].text);
        }
    }

    rules.clear();
    rules.resize(to_parse.size());
    std::vector<RuleError> errors(to_parse.size());
    std::vector<uint8_t> ok(to_parse.size(), 0);
    constexpr size_t kChunk = 256;
    std::atomic<size_t> next{0};
    auto work = [&] {
        for (;;) {
            const size_t from = next.fetch_add(kChunk, std::memory_order_relaxed);
            if (from >= to_parse.size()) {
                return;
            }
            const size_t to = std::min(to_parse.size(), from + kChunk);
            for (size_t k = from; k < to; ++k) {
                Job& j = jobs[to_parse[k]];
                ok[k] = parse_rule_impl(j.text, vars, paths[j.file], j.line, rules[k], errors[k])
                            ? 1
                            : 0;
                std::string().swap(j.text);  // the Rule keeps its own copy
            }
        }
    };
    if (threads == 0) {
        threads = std::clamp(std::thread::hardware_concurrency(), 1U, 8U);
    }
    // A thread is worth starting for a few thousand rules, not for a test's handful.
    const size_t useful = to_parse.size() / 2048 + 1;
    const auto n = static_cast<unsigned>(std::min<size_t>(threads, useful));
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < n; ++t) {
        pool.emplace_back(work);
    }
    work();
    for (auto& t : pool) {
        t.join();
    }

    using Key = std::pair<uint32_t, uint32_t>;
    std::map<Key, uint32_t> first_line;  // in this file: -> line
    std::set<Key> earlier;               // loaded from earlier files
    std::vector<Key> file_keys;          // kept from this file
    std::vector<RuleError> cross_dups;   // this file's rules refused as loaded before
    rule_file.clear();
    order.clear();
    size_t kept = 0;  // parsed rules kept
    uint32_t cur_file = UINT32_MAX;
    auto end_file = [&] {
        for (auto& e : cross_dups) {
            on_reject(cur_file, std::move(e));
        }
        cross_dups.clear();
        if (cross_file) {
            earlier.insert(file_keys.begin(), file_keys.end());
        }
        file_keys.clear();
    };
    for (const Job& job : jobs) {
        if (job.file != cur_file) {
            if (cur_file != UINT32_MAX) {
                end_file();
            }
            cur_file = job.file;
            first_line.clear();
        }
        if (job.known == nullptr && ok[job.index] == 0) {
            on_reject(cur_file, std::move(errors[job.index]));
            continue;
        }
        const Rule& rule = job.known != nullptr ? *job.known : rules[job.index];
        const Key key{rule.gid, rule.sid};
        const auto [it, fresh] = first_line.emplace(key, job.line);
        if (!fresh) {
            RuleError err{paths[cur_file], job.line, rule.sid,
                          "duplicate sid (gid " + std::to_string(rule.gid) +
                              "), first defined at line " + std::to_string(it->second)};
            on_reject(cur_file, std::move(err));
            continue;
        }
        if (cross_file && earlier.count(key) != 0) {
            cross_dups.push_back(
                RuleError{paths[cur_file], job.line, rule.sid, "duplicate sid (already loaded)"});
            continue;
        }
        file_keys.push_back(key);
        if (job.known != nullptr) {
            order.push_back(ParsedFiles::Entry{job.index, true});
            continue;
        }
        if (kept != job.index) {
            rules[kept] = std::move(rules[job.index]);
        }
        order.push_back(ParsedFiles::Entry{static_cast<uint32_t>(kept), false});
        rule_file.push_back(cur_file);
        ++kept;
    }
    if (cur_file != UINT32_MAX) {
        end_file();
    }
    rules.resize(kept);
    return Ok{};
}

}  // namespace

Result<std::vector<ParseResult>> parse_rules_files(const std::vector<std::string>& paths,
                                                   const Vars& vars, unsigned threads) {
    std::vector<ParseResult> out(paths.size());
    std::vector<Rule> rules;
    std::vector<uint32_t> rule_file;
    std::vector<ParsedFiles::Entry> order;
    auto st = parse_files_impl(
        paths, vars, threads, false, nullptr, rules, rule_file, order,
        [&](uint32_t f, RuleError&& e) { out[f].rejected.push_back(std::move(e)); });
    if (!st) {
        return st.error();
    }
    for (size_t i = 0; i < rules.size(); ++i) {
        out[rule_file[i]].rules.push_back(std::move(rules[i]));
    }
    return out;
}

Result<ParsedFiles> parse_rules_flat(const std::vector<std::string>& paths, const Vars& vars,
                                     unsigned threads, const KnownRules* known) {
    ParsedFiles out;
    std::vector<uint32_t> rule_file;
    auto st =
        parse_files_impl(paths, vars, threads, true, known, out.rules, rule_file, out.order,
                         [&](uint32_t, RuleError&& e) { out.rejected.push_back(std::move(e)); });
    if (!st) {
        return st.error();
    }
    return out;
}

bool same_parse_vars(const Vars& a, const Vars& b) {
    if (a.address_groups != b.address_groups || a.port_groups != b.port_groups ||
        a.classifications.size() != b.classifications.size()) {
        return false;
    }
    return std::equal(a.classifications.begin(), a.classifications.end(), b.classifications.begin(),
                      [](const auto& x, const auto& y) {
                          return x.first == y.first &&
                                 x.second.description == y.second.description &&
                                 x.second.priority == y.second.priority;
                      });
}

std::vector<RuleLine> scan_rule_lines(std::string_view content) {
    std::istringstream in{std::string(content)};
    std::vector<RuleLine> out;
    for_each_logical_rule(in, [&](const std::string& logical, uint32_t start_line) {
        RuleLine r;
        r.line = start_line;
        r.text = std::string(trim(logical));
        const size_t open = r.text.find('(');
        const size_t close = r.text.rfind(')');
        std::vector<RawOption> opts;
        std::string err;
        if (open != std::string::npos && close != std::string::npos && close > open) {
            const std::string_view body =
                std::string_view(r.text).substr(open + 1, close - open - 1);
            split_options(body, opts, err);
        }
        r.sid = peek_sid(opts);
        r.rev = peek_u32(opts, "rev");
        if (const uint32_t gid = peek_u32(opts, "gid"); gid != 0) {
            r.gid = gid;
        }
        for (const RawOption& o : opts) {
            if (detail::iequals(o.name, "msg") && o.value) {
                std::string_view v = trim(*o.value);
                if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
                    v = v.substr(1, v.size() - 2);
                }
                r.msg = std::string(v);
                break;
            }
        }
        out.push_back(std::move(r));
    });
    return out;
}

}  // namespace vigil::rules
