// Variables and side files: the --vars YAML (a subset of suricata.yaml), classification.config,
// reference.config and threshold.config. yaml-cpp throws; every exception is caught here and
// turned into an Error that names the file.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "rules/parse_util.h"
#include "rules/rule_parser.h"

#include <yaml-cpp/yaml.h>

namespace vigil::rules {

namespace {

using detail::quote;

Error bad_input(std::string msg) {
    return make_error(ErrorCode::BadInput, std::move(msg));
}

Error at(const std::string& file, uint32_t line, const std::string& msg) {
    return bad_input(file + ":" + std::to_string(line) + ": " + msg);
}

// Reads a text file into lines (without the newline; a trailing '\r' is dropped).
Result<std::vector<std::string>> read_lines(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        return make_error(ErrorCode::Io, "cannot open " + quote(path));
    }
    std::vector<std::string> lines;
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') {
            line.pop_back();
        }
        lines.push_back(std::move(line));
    }
    if (in.bad()) {
        return make_error(ErrorCode::Io, "cannot read " + quote(path));
    }
    return lines;
}

bool valid_name(std::string_view s) {
    if (s.empty()) {
        return false;
    }
    for (char c : s) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '_' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

// "config <what>: rest" -> rest, or nullopt when the line is not such a directive.
std::optional<std::string_view> config_directive(std::string_view line, std::string_view what) {
    auto words = trim(line);
    if (!words.starts_with("config")) {
        return std::nullopt;
    }
    words = trim(words.substr(6));
    if (!words.starts_with(what)) {
        return std::nullopt;
    }
    words = trim(words.substr(what.size()));
    if (!words.starts_with(':')) {
        return std::nullopt;
    }
    return trim(words.substr(1));
}

bool is_comment_or_blank(std::string_view line) {
    line = trim(line);
    return line.empty() || line[0] == '#';
}

// Calls fn(line, line_number) for every line of a side file that is not blank or a comment.
// Stops at the first error, which fn words without the file name ("at" adds file:line).
template <typename Fn>
Status for_each_config_line(const std::string& path, Fn&& fn) {
    auto lines = read_lines(path);
    if (!lines) {
        return lines.error();
    }
    for (size_t i = 0; i < lines->size(); ++i) {
        const std::string& line = (*lines)[i];
        if (is_comment_or_blank(line)) {
            continue;
        }
        if (Status st = fn(std::string_view(line), static_cast<uint32_t>(i + 1)); !st) {
            return st;
        }
    }
    return Ok{};
}

Status load_reference_file(const std::string& path, Vars& vars) {
    return for_each_config_line(path, [&](std::string_view line, uint32_t n) -> Status {
        const auto rest = config_directive(line, "reference");
        if (!rest) {
            return at(path, n, "expected 'config reference: <type> <url prefix>'");
        }
        size_t sp = 0;
        while (sp < rest->size() && !is_space((*rest)[sp])) {
            ++sp;
        }
        const std::string_view type = rest->substr(0, sp);
        if (!valid_name(type)) {
            return at(path, n, "bad reference type " + quote(type));
        }
        vars.reference_prefixes[detail::lower(type)] = std::string(trim(rest->substr(sp)));
        return Ok{};
    });
}

Result<Threshold::Track> parse_track(std::string_view v) {
    if (auto t = detail::parse_track(v)) {
        return *t;
    }
    return bad_input("bad track " + quote(v));
}

// Splits on commas outside brackets (suppress's `ip [a,b]` may hold a list).
std::vector<std::string_view> split_top_level(std::string_view s) {
    std::vector<std::string_view> out;
    int depth = 0;
    size_t start = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '[') {
            ++depth;
        } else if (s[i] == ']') {
            --depth;
        } else if (s[i] == ',' && depth == 0) {
            out.push_back(trim(s.substr(start, i - start)));
            start = i + 1;
        }
    }
    out.push_back(trim(s.substr(start)));
    return out;
}

// One threshold.config line (not blank, not a comment).
Status parse_threshold_line(std::string_view line, Vars& vars) {
    line = trim(line);
    size_t sp = 0;
    while (sp < line.size() && !is_space(line[sp])) {
        ++sp;
    }
    const std::string_view directive = line.substr(0, sp);
    const bool is_threshold = directive == "threshold" || directive == "event_filter";
    const bool is_suppress = directive == "suppress";
    const bool is_rate = directive == "rate_filter";
    if (!is_threshold && !is_suppress && !is_rate) {
        return bad_input("unknown directive " + quote(directive) +
                         " (expected threshold, event_filter, rate_filter or suppress)");
    }
    std::map<std::string, std::string_view> kv;
    for (std::string_view item : split_top_level(line.substr(sp))) {
        size_t k = 0;
        while (k < item.size() && !is_space(item[k])) {
            ++k;
        }
        const std::string key(item.substr(0, k));
        const std::string_view value = trim(item.substr(k));
        if (key.empty() || value.empty()) {
            return bad_input("expected '<key> <value>', got " + quote(item));
        }
        if (!kv.emplace(key, value).second) {
            return bad_input("duplicate " + quote(key));
        }
    }
    auto take_u32 = [&](const char* key, uint32_t& out) -> Status {
        auto it = kv.find(key);
        if (it == kv.end()) {
            return bad_input(std::string("missing ") + key);
        }
        const auto v = detail::parse_u64(it->second);
        if (!v || *v > UINT32_MAX) {
            return bad_input(std::string(key) + ": " + quote(it->second) +
                             " is not an unsigned 32-bit integer");
        }
        out = static_cast<uint32_t>(*v);
        kv.erase(it);
        return Ok{};
    };
    uint32_t gid = 0;
    uint32_t sid = 0;
    if (auto st = take_u32("gen_id", gid); !st) {
        return st;
    }
    if (auto st = take_u32("sig_id", sid); !st) {
        return st;
    }
    if (is_rate) {
        RateFilter rf;
        auto track = kv.find("track");
        if (track == kv.end()) {
            return bad_input("missing track");
        }
        auto tr = parse_track(track->second);
        if (!tr || *tr == Threshold::Track::ByFlow) {
            return bad_input("rate_filter: bad track " + quote(track->second) +
                             " (expected by_src, by_dst, by_rule or by_both)");
        }
        rf.track = *tr;
        kv.erase(track);
        auto action = kv.find("new_action");
        if (action == kv.end()) {
            return bad_input("missing new_action");
        }
        if (action->second == "alert") {
            rf.new_action = Action::Alert;
        } else if (action->second == "drop") {
            rf.new_action = Action::Drop;
        } else if (action->second == "reject") {
            rf.new_action = Action::Reject;
        } else if (action->second == "pass") {
            rf.new_action = Action::Pass;
        } else {
            return bad_input("rate_filter: bad new_action " + quote(action->second) +
                             " (expected alert, drop, reject or pass)");
        }
        kv.erase(action);
        for (auto [key, out] : {std::pair{"count", &rf.count}, std::pair{"seconds", &rf.seconds},
                                std::pair{"timeout", &rf.timeout}}) {
            if (auto st = take_u32(key, *out); !st) {
                return st;
            }
        }
        if (rf.count == 0 || rf.seconds == 0) {
            return bad_input("rate_filter: count and seconds must be at least 1");
        }
        if (!kv.empty()) {
            return bad_input("unknown key " + quote(kv.begin()->first));
        }
        if (!vars.rate_filters.emplace(std::pair{gid, sid}, rf).second) {
            return bad_input("a second rate_filter for gen_id " + std::to_string(gid) +
                             ", sig_id " + std::to_string(sid));
        }
        return Ok{};
    }
    if (is_threshold) {
        Threshold t;
        auto type = kv.find("type");
        if (type == kv.end()) {
            return bad_input("missing type");
        }
        if (type->second == "limit") {
            t.type = Threshold::Type::Limit;
        } else if (type->second == "threshold") {
            t.type = Threshold::Type::Threshold;
        } else if (type->second == "both") {
            t.type = Threshold::Type::Both;
        } else {
            return bad_input("bad type " + quote(type->second));
        }
        kv.erase(type);
        auto track = kv.find("track");
        if (track == kv.end()) {
            return bad_input("missing track");
        }
        auto tr = parse_track(track->second);
        if (!tr) {
            return tr.error();
        }
        t.track = *tr;
        kv.erase(track);
        if (auto st = take_u32("count", t.count); !st) {
            return st;
        }
        if (auto st = take_u32("seconds", t.seconds); !st) {
            return st;
        }
        if (!kv.empty()) {
            return bad_input("unknown key " + quote(kv.begin()->first));
        }
        vars.threshold_overrides[{gid, sid}] = t;
        return Ok{};
    }
    Suppression s;
    s.gid = gid;
    s.sid = sid;
    auto track = kv.find("track");
    auto ip = kv.find("ip");
    if ((track == kv.end()) != (ip == kv.end())) {
        return bad_input("suppress needs both track and ip, or neither");
    }
    if (track != kv.end()) {
        s.has_track = true;
        if (track->second == "by_src") {
            s.track = Threshold::Track::BySrc;
        } else if (track->second == "by_dst") {
            s.track = Threshold::Track::ByDst;
        } else if (track->second == "by_either") {
            s.track = Threshold::Track::ByBoth;
        } else {
            return bad_input("bad track " + quote(track->second) +
                             " (expected by_src, by_dst or by_either)");
        }
        auto ips = parse_address(ip->second, vars);
        if (!ips) {
            return bad_input("ip: " + ips.error().message);
        }
        s.ips = std::move(*ips);
        kv.erase(track);
        kv.erase(ip);
    }
    if (!kv.empty()) {
        return bad_input("unknown key " + quote(kv.begin()->first));
    }
    vars.suppressions.push_back(std::move(s));
    return Ok{};
}

// A group value: a scalar as written, or a YAML sequence turned into a "[a,b]" list.
std::string group_value(const YAML::Node& node) {
    if (node.IsSequence()) {
        std::string out = "[";
        for (size_t i = 0; i < node.size(); ++i) {
            if (i > 0) {
                out += ',';
            }
            out += group_value(node[i]);
        }
        return out + "]";
    }
    return node.as<std::string>();
}

Status load_groups(const YAML::Node& node, const std::string& file, const char* key,
                   std::map<std::string, std::string>& out) {
    if (!node || node.IsNull()) {
        return Ok{};
    }
    if (!node.IsMap()) {
        return bad_input(file + ": vars." + key + " must be a mapping");
    }
    for (const auto& kv : node) {
        const auto name = kv.first.as<std::string>();
        if (!kv.second.IsScalar() && !kv.second.IsSequence()) {
            std::string msg = file;
            msg += ":" + std::to_string(kv.second.Mark().line + 1);
            msg += std::string(": vars.") + key + "." + name + " must be a string";
            return bad_input(std::move(msg));
        }
        out[name] = group_value(kv.second);
    }
    return Ok{};
}

std::string side_path(const std::string& vars_file, const std::string& p) {
    const std::filesystem::path fp(p);
    if (fp.is_absolute()) {
        return p;
    }
    return (std::filesystem::path(vars_file).parent_path() / fp).string();
}

Result<std::string> side_file(const YAML::Node& root, const char* key, const std::string& file) {
    const YAML::Node n = root[key];
    if (!n || n.IsNull()) {
        return std::string();
    }
    if (!n.IsScalar()) {
        return bad_input(file + ":" + std::to_string(n.Mark().line + 1) + ": " + key +
                         " must be a path");
    }
    return side_path(file, n.as<std::string>());
}

Result<Vars> load_vars_impl(const std::string& path) {
    Vars vars = default_vars();
    YAML::Node root;
    try {
        root = YAML::LoadFile(path);
    } catch (const YAML::BadFile&) {
        return make_error(ErrorCode::Io, "cannot open vars file " + quote(path));
    } catch (const YAML::Exception& e) {
        return bad_input(path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
    }
    if (!root || root.IsNull()) {
        return vars;
    }
    if (!root.IsMap()) {
        return bad_input(path + ": expected a mapping at the top level");
    }
    // Other suricata.yaml sections (outputs, af-packet, ...) are ignored so that a user's
    // existing suricata.yaml works as a vars file.
    const YAML::Node v = root["vars"];
    if (v && !v.IsNull()) {
        if (!v.IsMap()) {
            return bad_input(path + ": vars must be a mapping");
        }
        if (auto st = load_groups(v["address-groups"], path, "address-groups", vars.address_groups);
            !st) {
            return st.error();
        }
        if (auto st = load_groups(v["port-groups"], path, "port-groups", vars.port_groups); !st) {
            return st.error();
        }
    }
    // Resolve every group now, as Suricata does at start-up: a bad HOME_NET is reported once,
    // naming the vars file, instead of once per rule. Report the group that is itself wrong
    // rather than one that merely refers to it ("in $HOME_NET: ...").
    std::vector<std::string> errors;
    for (const auto& [name, expr] : vars.address_groups) {
        if (auto r = parse_address(expr, vars); !r) {
            errors.push_back("vars.address-groups." + name + ": " + r.error().message);
        }
    }
    for (const auto& [name, expr] : vars.port_groups) {
        if (auto r = parse_ports(expr, vars); !r) {
            errors.push_back("vars.port-groups." + name + ": " + r.error().message);
        }
    }
    if (!errors.empty()) {
        const auto root = std::find_if(errors.begin(), errors.end(), [](const std::string& e) {
            return e.find(": in $") == std::string::npos;
        });
        return bad_input(path + ": " + (root != errors.end() ? *root : errors.front()));
    }
    auto cls = side_file(root, "classification-file", path);
    auto ref = side_file(root, "reference-config-file", path);
    auto thr = side_file(root, "threshold-file", path);
    for (const auto* r : {&cls, &ref, &thr}) {
        if (!*r) {
            return r->error();
        }
    }
    if (!cls->empty()) {
        // A classification file replaces the built-in table, as in Suricata.
        vars.classifications.clear();
        if (auto st = load_classification_file(*cls, vars); !st) {
            return bad_input(path + ": classification-file: " + st.error().message);
        }
    }
    if (!ref->empty()) {
        vars.reference_prefixes.clear();
        if (auto st = load_reference_file(*ref, vars); !st) {
            return bad_input(path + ": reference-config-file: " + st.error().message);
        }
    }
    if (!thr->empty()) {
        if (auto st = load_threshold_file(*thr, vars); !st) {
            return bad_input(path + ": threshold-file: " + st.error().message);
        }
    }
    return vars;
}

}  // namespace

Vars default_vars() {
    Vars v;
    v.address_groups = {
        {"HOME_NET", "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]"},
        {"EXTERNAL_NET", "!$HOME_NET"},
        {"HTTP_SERVERS", "$HOME_NET"},
        {"SMTP_SERVERS", "$HOME_NET"},
        {"SQL_SERVERS", "$HOME_NET"},
        {"DNS_SERVERS", "$HOME_NET"},
        {"TELNET_SERVERS", "$HOME_NET"},
        {"AIM_SERVERS", "$EXTERNAL_NET"},
        {"DC_SERVERS", "$HOME_NET"},
        {"DNP3_SERVER", "$HOME_NET"},
        {"DNP3_CLIENT", "$HOME_NET"},
        {"MODBUS_CLIENT", "$HOME_NET"},
        {"MODBUS_SERVER", "$HOME_NET"},
        {"ENIP_CLIENT", "$HOME_NET"},
        {"ENIP_SERVER", "$HOME_NET"},
    };
    v.port_groups = {
        {"HTTP_PORTS", "80"},
        {"SHELLCODE_PORTS", "!80"},
        {"ORACLE_PORTS", "1521"},
        {"SSH_PORTS", "22"},
        {"DNP3_PORTS", "20000"},
        {"MODBUS_PORTS", "502"},
        {"FILE_DATA_PORTS", "[$HTTP_PORTS,110,143]"},
        {"FTP_PORTS", "21"},
        {"GENEVE_PORTS", "6081"},
        {"VXLAN_PORTS", "4789"},
        {"TEREDO_PORTS", "3544"},
        {"SIP_PORTS", "[5060, 5061]"},
    };
    // Suricata's shipped classification.config (short name, description, priority).
    v.classifications = {
        {"not-suspicious", {"Not Suspicious Traffic", 3}},
        {"unknown", {"Unknown Traffic", 3}},
        {"bad-unknown", {"Potentially Bad Traffic", 2}},
        {"attempted-recon", {"Attempted Information Leak", 2}},
        {"successful-recon-limited", {"Information Leak", 2}},
        {"successful-recon-largescale", {"Large Scale Information Leak", 2}},
        {"attempted-dos", {"Attempted Denial of Service", 2}},
        {"successful-dos", {"Denial of Service", 2}},
        {"attempted-user", {"Attempted User Privilege Gain", 1}},
        {"unsuccessful-user", {"Unsuccessful User Privilege Gain", 1}},
        {"successful-user", {"Successful User Privilege Gain", 1}},
        {"attempted-admin", {"Attempted Administrator Privilege Gain", 1}},
        {"successful-admin", {"Successful Administrator Privilege Gain", 1}},
        {"rpc-portmap-decode", {"Decode of an RPC Query", 2}},
        {"shellcode-detect", {"Executable code was detected", 1}},
        {"string-detect", {"A suspicious string was detected", 3}},
        {"suspicious-filename-detect", {"A suspicious filename was detected", 2}},
        {"suspicious-login", {"An attempted login using a suspicious username was detected", 2}},
        {"system-call-detect", {"A system call was detected", 2}},
        {"tcp-connection", {"A TCP connection was detected", 4}},
        {"trojan-activity", {"A Network Trojan was detected", 1}},
        {"unusual-client-port-connection", {"A client was using an unusual port", 2}},
        {"network-scan", {"Detection of a Network Scan", 3}},
        {"denial-of-service", {"Detection of a Denial of Service Attack", 2}},
        {"non-standard-protocol", {"Detection of a non-standard protocol or event", 2}},
        {"protocol-command-decode", {"Generic Protocol Command Decode", 3}},
        {"web-application-activity", {"access to a potentially vulnerable web application", 2}},
        {"web-application-attack", {"Web Application Attack", 1}},
        {"misc-activity", {"Misc activity", 3}},
        {"misc-attack", {"Misc Attack", 2}},
        {"icmp-event", {"Generic ICMP event", 3}},
        {"inappropriate-content", {"Inappropriate Content was Detected", 1}},
        {"policy-violation", {"Potential Corporate Privacy Violation", 1}},
        {"default-login-attempt", {"Attempt to login by a default username and password", 2}},
        {"targeted-activity", {"Targeted Malicious Activity was Detected", 1}},
        {"exploit-kit", {"Exploit Kit Activity Detected", 1}},
        {"external-ip-check", {"Device Retrieving External IP Address Detected", 2}},
        {"domain-c2", {"Domain Observed Used for C2 Detected", 1}},
        {"pup-activity", {"Possibly Unwanted Program Detected", 2}},
        {"credential-theft", {"Successful Credential Theft Detected", 1}},
        {"social-engineering", {"Possible Social Engineering Attempted", 2}},
        {"coin-mining", {"Crypto Currency Mining Activity Detected", 2}},
        {"command-and-control", {"Malware Command and Control Activity Detected", 1}},
    };
    return v;
}

Result<Vars> load_vars(const std::string& path) {
    try {
        return load_vars_impl(path);
    } catch (const YAML::Exception& e) {
        // Conversions (as<std::string>) on malformed nodes.
        return bad_input(path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
    } catch (const std::exception& e) {
        return make_error(ErrorCode::Internal, path + ": " + e.what());
    }
}

Status load_classification_file(const std::string& path, Vars& vars) {
    return for_each_config_line(path, [&](std::string_view line, uint32_t n) -> Status {
        static constexpr const char* kExpected =
            "expected 'config classification: <name>,<description>,<priority>'";
        const auto rest = config_directive(line, "classification");
        if (!rest) {
            return at(path, n, kExpected);
        }
        // The description may itself hold commas: the name ends at the first comma and the
        // priority starts after the last one.
        const size_t first = rest->find(',');
        const size_t last = rest->rfind(',');
        if (first == std::string_view::npos || first == last) {
            return at(path, n, kExpected);
        }
        const std::string_view name = trim(rest->substr(0, first));
        const std::string_view desc = trim(rest->substr(first + 1, last - first - 1));
        const std::string_view prio = trim(rest->substr(last + 1));
        if (!valid_name(name)) {
            return at(path, n, "bad classification name " + quote(name));
        }
        const auto p = detail::parse_u64(prio);
        if (!p || *p > 255) {
            return at(path, n, "bad priority " + quote(prio) + " (expected 0-255)");
        }
        vars.classifications[detail::lower(name)] =
            Classification{std::string(desc), static_cast<uint32_t>(*p)};
        return Ok{};
    });
}

Status load_threshold_file(const std::string& path, Vars& vars) {
    return for_each_config_line(path, [&](std::string_view line, uint32_t n) -> Status {
        if (auto st = parse_threshold_line(line, vars); !st) {
            return at(path, n, st.error().message);
        }
        return Ok{};
    });
}

}  // namespace vigil::rules
