#pragma once
// RuleSet: an immutable, compiled set of rules (Hyperscan prefilter databases grouped by
// transport, direction and port group, plus one confirm program per rule), and Matcher: the
// per-worker object that runs it over packets. A RuleSet is shared (RuleSetPtr) and swapped
// atomically on reload; each worker owns a Matcher bound to one RuleSet.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "dataplane/flow_table.h"
#include "dataplane/packet.h"
#include "rules/rule.h"
#include "rules/rule_parser.h"

namespace vigil::rules {

// What a load did: every accepted rule counted, every rejected one with its reason.
struct LoadReport {
    size_t loaded = 0;
    std::vector<RuleError> rejected;
    size_t files = 0;
    // "rules: N loaded, M rejected"
    std::string summary_line() const;
};

struct RuleSetStats {
    size_t rules = 0;
    size_t prefiltered = 0;            // rules reached through a Hyperscan fast pattern
    size_t always_check = 0;           // rules without a usable pattern (header-only)
    size_t address_indexed_rules = 0;  // of those, rules found through an address index
    size_t pcre_prefilter = 0;         // rules prefiltered through Hyperscan PREFILTER mode
    size_t databases = 0;              // distinct Hyperscan databases
    size_t port_groups = 0;
    size_t flowbits = 0;  // distinct flowbit names
    size_t database_bytes = 0;
    double compile_seconds = 0;
};

struct CompiledRule;
struct RuleGroup;

class RuleSet {
public:
    // Compiles parsed rules. A rule Hyperscan or PCRE2 refuses is moved to report.rejected;
    // the rest still compile. Error only when nothing can be built at all (e.g. Hyperscan
    // out of memory).
    static Result<std::shared_ptr<const RuleSet>> compile(std::vector<Rule> rules,
                                                          LoadReport& report);

    // Parses and compiles rule files (FILE, or DIR: its *.rules in name order). Rejections go
    // to the report; an unreadable path is an error.
    static Result<std::shared_ptr<const RuleSet>> load(const std::vector<std::string>& paths,
                                                       const Vars& vars, LoadReport& report);

    ~RuleSet();
    RuleSet(const RuleSet&) = delete;
    RuleSet& operator=(const RuleSet&) = delete;

    // Rules in evaluation order (Suricata's: action, flowbits set before read, priority).
    size_t size() const;
    const Rule& rule(uint32_t index) const;
    const RuleSetStats& stats() const { return stats_; }

    // Internal, for Matcher and benchmarks.
    const std::vector<CompiledRule>& compiled() const { return *compiled_; }
    const RuleGroup& group_for(const dataplane::Packet& pkt) const;
    const std::vector<RuleGroup>& groups() const { return *groups_; }

private:
    RuleSet();
    std::unique_ptr<std::vector<CompiledRule>> compiled_;
    std::unique_ptr<std::vector<RuleGroup>> groups_;
    // group index lookup: [transport][dir] -> port -> group (for TCP/UDP), else single group
    std::vector<std::vector<uint16_t>> port_maps_;
    std::vector<uint16_t> default_group_;
    RuleSetStats stats_{};
    friend class RuleSetBuilder;
};
using RuleSetPtr = std::shared_ptr<const RuleSet>;

struct MatcherStats {
    uint64_t packets = 0;
    uint64_t scanned_bytes = 0;
    uint64_t candidates = 0;  // rules whose confirm program ran
    uint64_t matches = 0;     // rules that matched (incl. noalert and pass)
    uint64_t alerts = 0;
    uint64_t scan_errors = 0;
    uint64_t pcre_errors = 0;  // match limit / errors from PCRE2 (treated as no match)
};

struct MatcherScratch;

// One per worker: Hyperscan scratch, PCRE2 match data, candidate buffers. Not thread safe.
class Matcher {
public:
    static Result<std::unique_ptr<Matcher>> create(RuleSetPtr rules);
    ~Matcher();
    Matcher(const Matcher&) = delete;
    Matcher& operator=(const Matcher&) = delete;

    // Runs every applicable rule on one decoded packet (flow may be null: flowbits and flow
    // options then never match). Applies flowbit actions to the flow. Returns the indexes of
    // the rules that alert (action alert/drop/reject, not noalert), in evaluation order;
    // valid until the next call. A matching `pass` rule stops evaluation for the packet.
    std::span<const uint32_t> inspect(const dataplane::Packet& pkt, dataplane::Flow* flow);

    const RuleSet& rules() const { return *rules_; }
    const RuleSetPtr& rules_ptr() const { return rules_; }
    const MatcherStats& stats() const { return stats_; }

private:
    explicit Matcher(RuleSetPtr rules);
    RuleSetPtr rules_;
    std::unique_ptr<MatcherScratch> scratch_;
    MatcherStats stats_{};
};
using MatcherPtr = std::unique_ptr<Matcher>;

}  // namespace vigil::rules
