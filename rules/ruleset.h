#pragma once
// RuleSet: an immutable, compiled set of rules (Hyperscan prefilter databases grouped by
// transport, direction and port group, plus one confirm program per rule), and Matcher: the
// per-worker object that runs it over packets. A RuleSet is shared (RuleSetPtr) and swapped
// atomically on reload; each worker owns a Matcher bound to one RuleSet.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/result.h"
#include "dataplane/app/app_layer.h"
#include "dataplane/flow_table.h"
#include "dataplane/packet.h"
#include "rules/dataset.h"
#include "rules/rule.h"
#include "rules/rule_parser.h"

struct hs_database;

namespace vigil::rules {

// What a load did: every accepted rule counted, every rejected one with its reason.
struct LoadReport {
    size_t loaded = 0;
    std::vector<RuleError> rejected;
    std::vector<std::string> file_names;  // the files read, in load order
    // Problems that did not stop the load: the compile cache off or not writable, a cache
    // entry found corrupt and rebuilt. One line each, for the loader to print.
    std::vector<std::string> warnings;
    // "rules: N loaded, M rejected"
    std::string summary_line() const;
    // The rejections in load order of their files, then by line (a rule the compiler refuses
    // is found after every parse error; this puts it back in its place).
    std::vector<RuleError> rejected_in_order() const;
    // Rejections counted by reason, most frequent first (then by reason). Numbers in a
    // reason are folded to "N", so "duplicate sid (gid 1), first defined at line 12" and
    // "... line 40" count as one reason.
    std::vector<std::pair<std::string, size_t>> rejected_by_reason() const;
};

struct RuleSetStats {
    size_t rules = 0;
    size_t prefiltered = 0;            // rules reached through a Hyperscan fast pattern
    size_t always_check = 0;           // rules without a usable pattern (header-only)
    size_t address_indexed_rules = 0;  // of those, rules found through an address index
    size_t pcre_prefilter = 0;         // rules prefiltered through Hyperscan PREFILTER mode
    size_t databases = 0;              // distinct Hyperscan databases
    size_t port_groups = 0;
    size_t flowbits = 0;   // distinct flowbit names
    size_t app_rules = 0;  // rules on application-layer buffers (run on transactions)
    size_t database_bytes = 0;
    double compile_seconds = 0;    // RuleSet::compile, Hyperscan included
    double parse_seconds = 0;      // RuleSet::load: reading and parsing the files
    double hyperscan_seconds = 0;  // of compile_seconds: compiling or loading the databases
    // The Hyperscan compile cache (CompileOptions::cache_dir); all 0 when it is off.
    bool cache_enabled = false;
    size_t cache_hits = 0;
    size_t cache_misses = 0;   // compiled and stored
    size_t cache_rebuilt = 0;  // a corrupt or foreign entry: compiled and stored again
    uint64_t cache_bytes_read = 0;
    uint64_t cache_bytes_written = 0;
    double cache_seconds_saved = 0;
    // Rules shared with CompileOptions::previous (not parsed or compiled again).
    size_t shared = 0;
    // "rules: hyperscan cache: 12 hits, 0 misses, 0 rebuilt, 2.1 MiB read, 14.20 s saved"
    std::string cache_line() const;
};

// How RuleSet::compile builds. The defaults are what every caller had before options.
class RuleSet;

struct CompileOptions {
    // The set a reload replaces (RuleSet::load only): a rule whose text is unchanged, loaded
    // with the same variables (same_parse_vars), shares that set's CompiledRule instead of
    // being parsed and compiled again; two sets then hold one copy of it. Null: no sharing.
    std::shared_ptr<const RuleSet> previous;
    // Directory of serialized Hyperscan databases (rules/hs_cache.h): a database whose
    // inputs, Hyperscan version and platform match an entry is loaded instead of compiled.
    // Empty: no cache. A directory that cannot be used is a warning, never an error.
    std::string cache_dir;
    // Suricata's action-order: the rank of each action in the evaluation order, indexed by
    // Action (Alert, Drop, Reject, Pass). Default pass, drop, reject, alert.
    std::array<uint8_t, 4> action_rank{3, 1, 2, 0};
    // The datasets the rules name (dataset, datarep). Null: the previous set's, else a new
    // registry with the default DatasetConfig.
    std::shared_ptr<DatasetRegistry> datasets;
};

struct CompiledRule;
struct RuleGroup;
struct AppGroup;
struct BufferView;

class RuleSet {
public:
    // Compiles parsed rules. A rule Hyperscan or PCRE2 refuses is moved to report.rejected;
    // the rest still compile. Error only when nothing can be built at all (e.g. Hyperscan
    // out of memory).
    static Result<std::shared_ptr<const RuleSet>> compile(std::vector<Rule> rules,
                                                          LoadReport& report,
                                                          const CompileOptions& opts = {});

    // Parses and compiles rule files (FILE, or DIR: its *.rules in name order). Rejections go
    // to the report; an unreadable path is an error.
    static Result<std::shared_ptr<const RuleSet>> load(const std::vector<std::string>& paths,
                                                       const Vars& vars, LoadReport& report,
                                                       const CompileOptions& opts = {});

    ~RuleSet();
    RuleSet(const RuleSet&) = delete;
    RuleSet& operator=(const RuleSet&) = delete;

    // Rules in evaluation order (Suricata's: action, flowbits set before read, priority).
    size_t size() const;
    const Rule& rule(uint32_t index) const;
    const RuleSetStats& stats() const { return stats_; }
    // Unique among the rule sets this process compiled (1, 2, ...): what an alert record
    // names with the rule's (gid, sid), so that records in flight survive a rule swap.
    uint32_t id() const { return id_; }
    // The index of rule (gid, sid), if this set has it.
    std::optional<uint32_t> index_of(uint32_t gid, uint32_t sid) const;

    // Internal, for Matcher and benchmarks.
    using CompiledRulePtr = std::shared_ptr<const CompiledRule>;
    const std::vector<CompiledRulePtr>& compiled() const { return compiled_; }
    const RuleGroup& group_for(const dataplane::Packet& pkt) const;
    const std::vector<RuleGroup>& groups() const { return *groups_; }
    static constexpr size_t kAppProtos = static_cast<size_t>(dataplane::app::AppProto::Count);
    static constexpr size_t kAppStages = dataplane::app::kAppStageMax + 1;  // stages 0..max
    const AppGroup& app_group(dataplane::app::AppProto p, uint8_t stage) const;
    const std::vector<AppGroup>& app_groups() const { return *app_groups_; }
    // Buffer views by their process-wide id (CBuffer::view); every view registered so far,
    // including some this set does not use.
    const std::vector<BufferView>& views() const { return *views_; }
    // Some rule inspects this application-layer buffer.
    bool uses_buffer(dataplane::app::BufferId b) const;
    // The datasets of this set (shared with the set a reload builds from it): what to save
    // at shutdown.
    const std::shared_ptr<DatasetRegistry>& datasets() const { return datasets_; }

private:
    RuleSet();
    std::vector<CompiledRulePtr> compiled_;
    std::unique_ptr<std::vector<RuleGroup>> groups_;
    std::unique_ptr<std::vector<AppGroup>> app_groups_;
    std::unique_ptr<std::vector<BufferView>> views_;
    std::vector<uint8_t> buffer_used_;  // by BufferId: some rule of this set inspects it
    // group index lookup: [transport][dir] -> port -> group (for TCP/UDP), else single group
    std::vector<std::vector<uint16_t>> port_maps_;
    std::vector<uint16_t> default_group_;
    std::unordered_map<uint64_t, uint32_t> by_gid_sid_;  // (gid << 32 | sid) -> index
    uint32_t id_ = 0;
    RuleSetStats stats_{};
    std::optional<Vars> parse_vars_;  // what RuleSet::load parsed with (for sharing)
    std::shared_ptr<DatasetRegistry> datasets_;
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
    uint64_t pcre_errors = 0;   // match limit / errors from PCRE2 (treated as no match)
    uint64_t stream_scans = 0;  // reassembled windows scanned
    uint64_t app_events = 0;    // transaction events inspected
};

struct MatcherScratch;

// What the worker knows about a packet's payload beyond the packet itself (TCP reassembly).
struct PayloadView {
    bool inspect = true;  // false: the payload is not inspected (retransmission, past depth)
    // The reassembled window of the packet's direction when it received new in-order data:
    // `stream_len` bytes at stream offset `stream_base`; bytes from `new_from` on are new.
    // A rule matches on the stream only where its match ends in the new bytes, so each match
    // position alerts once. Null when the packet is not part of a reassembled stream.
    const uint8_t* stream = nullptr;
    uint32_t stream_len = 0;
    uint64_t stream_base = 0;
    uint32_t new_from = 0;
    bool pkt_in_stream = false;  // the packet's payload lies inside the window
    // The packet belongs to a reassembled stream but its payload is not (all) new in-order
    // data (buffered out of order, or partly seen before): rules that match on the stream
    // see those bytes when they are delivered, so only packet-only rules (no_stream, dsize,
    // tcp-pkt) inspect the packet now. One match position, one alert.
    bool pkt_deferred = false;
    // Only the stream window, for data released at the end of a stream (the packet itself
    // was inspected already): rules without payload matches are skipped.
    bool stream_only = false;
    // What the packet did to its TCP stream (dataplane::kStreamEv* bits, for stream-event).
    uint32_t stream_events = 0;
};

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
    std::span<const uint32_t> inspect(const dataplane::Packet& pkt, dataplane::Flow* flow,
                                      const PayloadView& pv = {});

    // Runs the application-layer rules of a transaction event (protocol, stage) with `pkt`,
    // the packet that completed the stage, for header, flow and payload checks. Same
    // return contract as inspect().
    std::span<const uint32_t> inspect_app(const dataplane::Packet& pkt, dataplane::Flow* flow,
                                          const dataplane::app::AppEvent& ev);

    // The last inspect() matched a `pass` rule: the packet is not inspected further.
    bool passed() const { return passed_; }

    const RuleSet& rules() const { return *rules_; }
    const RuleSetPtr& rules_ptr() const { return rules_; }
    const MatcherStats& stats() const { return stats_; }

private:
    explicit Matcher(RuleSetPtr rules);
    struct RuleGroupDb {
        const ::hs_database* db;
        const std::vector<std::vector<uint32_t>>* pattern_rules;
    };
    // Scans with one database and adds the rules of the hit patterns to the candidates.
    void scan(const RuleGroupDb& g, const uint8_t* data, uint32_t len);
    // A buffer view's instances for a transaction (transformed once per event).
    std::span<const std::string> view(uint16_t v, const dataplane::app::TxBuffers& tx);
    // The rule's packet-header programs (ipv4.hdr, tcp.hdr, ...) on this packet: all match.
    bool headers_match(const CompiledRule& cr, const dataplane::Packet& pkt);
    RuleSetPtr rules_;
    std::unique_ptr<MatcherScratch> scratch_;
    MatcherStats stats_{};
    bool passed_ = false;
};
using MatcherPtr = std::unique_ptr<Matcher>;

}  // namespace vigil::rules
