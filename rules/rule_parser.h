#pragma once
// The Suricata 7 rule language: variables (--vars), classification.config and the rule
// parser. Turns rule text into rules::Rule (rule.h) or a precise rejection reason.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "rules/rule.h"

namespace vigil::rules {

struct Classification {
    std::string description;
    uint32_t priority = 3;
};

// Suppress entry from threshold.config: `suppress gen_id G, sig_id S[, track by_src|by_dst|
// by_either, ip ADDR]`.
struct Suppression {
    uint32_t gid = 1;
    uint32_t sid = 0;
    bool has_track = false;
    Threshold::Track track = Threshold::Track::BySrc;  // BySrc, ByDst, ByBoth (= by_either)
    IpSet ips;
};

// rate_filter from threshold.config: `rate_filter gen_id G, sig_id S, track by_src|by_dst|
// by_rule|by_both, count N, seconds T, new_action alert|drop|pass|reject, timeout T2`. When a
// rule matches more than `count` times within `seconds` (per tracked address, address pair,
// or for the rule), its action becomes `new_action` for `timeout` seconds (packet time). The
// alert is still written (pass: not written); only its action changes.
struct RateFilter {
    Threshold::Track track = Threshold::Track::ByRule;  // BySrc, ByDst, ByRule, ByBoth
    uint32_t count = 1;
    uint32_t seconds = 60;
    Action new_action = Action::Alert;
    uint32_t timeout = 0;
};

// The --vars file (a subset of suricata.yaml) and the side files it names.
struct Vars {
    std::map<std::string, std::string> address_groups;  // name without '$' -> expression
    std::map<std::string, std::string> port_groups;
    std::map<std::string, Classification> classifications;  // short name -> entry
    std::map<std::string, std::string> reference_prefixes;  // "url" -> "http://"
    // From threshold.config: threshold/event_filter lines override a rule's own threshold
    // (by gid:sid); suppress lines drop alerts.
    std::map<std::pair<uint32_t, uint32_t>, Threshold> threshold_overrides;
    std::vector<Suppression> suppressions;
    std::map<std::pair<uint32_t, uint32_t>, RateFilter> rate_filters;  // by (gid, sid)
};

// Suricata's defaults: the address/port groups of suricata.yaml and its built-in
// classification table.
Vars default_vars();

// Loads a --vars YAML file. Missing keys keep the defaults; relative side-file paths are
// relative to the file's directory. Errors name the file (and line, when YAML says).
Result<Vars> load_vars(const std::string& path);

// Parses classification.config lines ("config classification: name,description,priority")
// into vars.classifications. Errors name file:line.
Status load_classification_file(const std::string& path, Vars& vars);
Status load_threshold_file(const std::string& path, Vars& vars);

struct RuleError {
    std::string file;
    uint32_t line = 0;
    uint32_t sid = 0;  // 0 when the sid could not be read
    std::string reason;
    // "file:line: sid N: reason"
    std::string to_string() const;
};

struct ParseResult {
    std::vector<Rule> rules;
    std::vector<RuleError> rejected;
};

// Parses one rule (one logical line). `file`/`line` are recorded in the Rule and the error.
Result<Rule> parse_rule(std::string_view text, const Vars& vars, const std::string& file = "",
                        uint32_t line = 0);

// Parses a rules file: skips blank lines and comments (including commented-out rules, as ET
// ships them), joins lines continued with a trailing backslash, and collects every rule that
// parses and every rejection. Duplicate sids (same gid) are rejected after the first.
// Error (not a rejection) only when the file cannot be read.
Result<ParseResult> parse_rules_file(const std::string& path, const Vars& vars);

// Parses several rules files, the rules spread over up to `threads` threads (0: one per core,
// at most 8; small inputs use one). The same results as parse_rules_file on each file, in the
// order of `paths`. Error when a file cannot be read (the first such file).
Result<std::vector<ParseResult>> parse_rules_files(const std::vector<std::string>& paths,
                                                   const Vars& vars, unsigned threads = 0);

// Rules parsed before (the set a reload replaces): a logical rule whose text is known is not
// parsed again. find() returns the known rule whose Rule::text is exactly `text` (a logical
// rule, trimmed) and sets `index` to its index among the known rules; null when none.
class KnownRules {
public:
    virtual ~KnownRules() = default;
    virtual const Rule* find(std::string_view text, uint32_t& index) const = 0;
};

// The rules of several files as one list (what a rule set loads), parsed as parse_rules_files
// does. A sid (with its gid) already loaded from an earlier file is rejected as "duplicate sid
// (already loaded)". `rejected` holds, file by file, that file's rejections in line order and
// then its rules refused as duplicates of earlier files.
struct ParsedFiles {
    std::vector<Rule> rules;  // parsed now
    std::vector<RuleError> rejected;
    // Every rule kept, in load order: rules[index], or (known) the known rule of that index.
    struct Entry {
        uint32_t index = 0;
        bool known = false;
    };
    std::vector<Entry> order;
};
// `known` (may be null): rules to take as they are instead of parsing them; only valid when
// they were parsed with variables for which same_parse_vars() holds.
Result<ParsedFiles> parse_rules_flat(const std::vector<std::string>& paths, const Vars& vars,
                                     unsigned threads = 0, const KnownRules* known = nullptr);

// Whether a rule parses the same with `a` as with `b`: the address and port groups and the
// classifications are equal (the rest of Vars is applied to alerts, not to rules).
bool same_parse_vars(const Vars& a, const Vars& b);

// One rule of a rules file as written, read without parsing it (`vigilctl rules diff`): its
// identity and its text, whether or not Vigil accepts it.
struct RuleLine {
    uint32_t line = 0;  // first line of the rule in the file
    uint32_t gid = 1;
    uint32_t sid = 0;  // 0 when the rule has no readable sid
    uint32_t rev = 0;
    std::string msg;
    std::string text;  // the logical line (continuations joined), trimmed
};

// The active rules in the text of a rules file, in file order: comments and commented-out
// rules are skipped and continuations joined, as parse_rules_file does.
std::vector<RuleLine> scan_rule_lines(std::string_view content);

// Resolves an address / port expression ("[$HOME_NET,!10.0.0.0/8]", "!80", "[1024:]") with
// the vars. Errors say what is wrong ("unknown variable $FOO", "bad CIDR '1.2.3/33'").
Result<IpSet> parse_address(std::string_view expr, const Vars& vars);
Result<PortSet> parse_ports(std::string_view expr, const Vars& vars);

}  // namespace vigil::rules
