#include "rules/ruleset.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>

#include "rules/compiled.h"
#include "rules/hs_cache.h"

namespace vigil::rules {

namespace {

using dataplane::FlowDir;

// Transports a packet can be dispatched on; Ip rules apply to all of them.
enum Transport : uint8_t { kTcp = 0, kUdp, kIcmp, kIcmpv6, kOther, kTransports };  // NOLINT
constexpr size_t kDirs = 2;
// A port gets its own group (its own Hyperscan database) only when enough rules name it;
// the rest share the any-port group and have their ports checked by the confirm program.
constexpr size_t kMinRulesPerPortGroup = 8;
constexpr size_t kMaxPortGroups = 12;
// A rule whose port set is larger than this is treated as any-port for grouping.
constexpr uint32_t kMaxGroupedPorts = 64;

FlowbitsKind flowbits_kind(const Rule& r) {
    bool set = false;
    bool read = false;
    for (const auto& fb : r.flowbits) {
        switch (fb.op) {
            case FlowbitCmd::Op::Set:
            case FlowbitCmd::Op::Unset:
            case FlowbitCmd::Op::Toggle:
                set = true;
                break;
            case FlowbitCmd::Op::IsSet:
            case FlowbitCmd::Op::IsNotSet:
                read = true;
                break;
            case FlowbitCmd::Op::NoAlert:
                break;
        }
    }
    if (set && read) {
        return FlowbitsKind::SetRead;
    }
    if (set) {
        return FlowbitsKind::Set;
    }
    if (read) {
        return FlowbitsKind::Read;
    }
    return FlowbitsKind::None;
}

// Suricata orders flowint and xbits users like flowbits users, after them (flowint, then
// xbits): setters (4) before set-and-read (3) before readers (2) before the rest (1).
template <typename Cmds>
int set_read_kind(const Cmds& cmds) {
    bool set = false;
    bool read = false;
    for (const auto& c : cmds) {
        (c.is_action() ? set : read) = true;
    }
    return set && read ? 3 : set ? 4 : read ? 2 : 1;
}

std::vector<Transport> transports_of(Proto p) {
    switch (p) {
        case Proto::Tcp:
            return {kTcp};
        case Proto::Udp:
            return {kUdp};
        case Proto::Icmp:
            return {kIcmp, kIcmpv6};
        case Proto::Icmpv4:
            return {kIcmp};
        case Proto::Icmpv6:
            return {kIcmpv6};
        case Proto::Ip:
            return {kTcp, kUdp, kIcmp, kIcmpv6, kOther};
    }
    return {};
}

std::array<uint8_t, 256> horspool_table(const std::string& pat) {
    std::array<uint8_t, 256> t{};
    const size_t n = pat.size();
    const uint8_t def = static_cast<uint8_t>(std::min<size_t>(n, 255));
    t.fill(def);
    for (size_t i = 0; i + 1 < n; ++i) {
        const size_t shift = n - 1 - i;
        t[static_cast<uint8_t>(pat[i])] = static_cast<uint8_t>(std::min<size_t>(shift, 255));
    }
    return t;
}

std::string lower(std::string s) {
    for (auto& c : s) {
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
    }
    return s;
}

bool op_is_relative(const PayloadOp& op) {
    return std::visit(
        [](const auto& o) -> bool {
            using T = std::decay_t<decltype(o)>;
            if constexpr (std::is_same_v<T, Content>) {
                return o.relative();
            } else {
                return o.relative;
            }
        },
        op);
}

Result<Pcre2CodePtr> compile_pcre(const Pcre& p) {
    uint32_t opts = 0;
    if (p.caseless) {
        opts |= PCRE2_CASELESS;
    }
    if (p.dotall) {
        opts |= PCRE2_DOTALL;
    }
    if (p.multiline) {
        opts |= PCRE2_MULTILINE;
    }
    if (p.extended) {
        opts |= PCRE2_EXTENDED;
    }
    if (p.anchored) {
        opts |= PCRE2_ANCHORED;
    }
    if (p.dollar_endonly) {
        opts |= PCRE2_DOLLAR_ENDONLY;
    }
    if (p.ungreedy) {
        opts |= PCRE2_UNGREEDY;
    }
    int err = 0;
    PCRE2_SIZE off = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(p.pattern.data()),
                                     p.pattern.size(), opts, &err, &off, nullptr);
    if (code == nullptr) {
        std::array<PCRE2_UCHAR, 256> buf{};
        pcre2_get_error_message(err, buf.data(), buf.size());
        return make_error(ErrorCode::RuleCompile,
                          "pcre: " + std::string(reinterpret_cast<char*>(buf.data())) +
                              " at offset " + std::to_string(off));
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter if refused
    return Pcre2CodePtr(code);
}

std::string hs_escape(const std::string& bytes) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 4);
    for (unsigned char c : bytes) {
        out += "\\x";
        out += kHex[c >> 4];
        out += kHex[c & 15];
    }
    return out;
}

// What a rule contributes to its groups' Hyperscan databases.
struct Prefilter {
    enum class Kind { None, Literal, Regex } kind = Kind::None;
    std::string expr;  // Hyperscan expression
    unsigned flags = 0;
};

// Fast pattern of one program: the content marked fast_pattern, else the longest positive
// content; `explicit_fp` tells which.
Prefilter choose_prefilter(const std::vector<COp>& ops, bool* explicit_fp = nullptr) {
    Prefilter pf;
    int best = -1;
    size_t best_len = 0;
    // Matches after base64_data inspect the decoded bytes, not the scanned ones.
    const size_t end = static_cast<size_t>(
        std::find_if(ops.begin(), ops.end(),
                     [](const COp& op) { return std::holds_alternative<Base64Data>(op); }) -
        ops.begin());
    for (size_t i = 0; i < end; ++i) {
        const auto* c = std::get_if<CContent>(&ops[i]);
        if (c == nullptr || c->src.negated) {
            continue;
        }
        if (c->src.fast_pattern) {
            best = static_cast<int>(i);
            if (explicit_fp != nullptr) {
                *explicit_fp = true;
            }
            break;
        }
        if (c->src.bytes.size() > best_len) {
            best_len = c->src.bytes.size();
            best = static_cast<int>(i);
        }
    }
    if (best >= 0) {
        const Content& c = std::get<CContent>(ops[best]).src;
        std::string bytes = c.bytes;
        if (c.fp_chop_offset && c.fp_chop_len && *c.fp_chop_offset < bytes.size()) {
            bytes = bytes.substr(*c.fp_chop_offset, *c.fp_chop_len);
        }
        if (!bytes.empty()) {
            pf.kind = Prefilter::Kind::Literal;
            pf.expr = hs_escape(bytes);
            pf.flags = HS_FLAG_SINGLEMATCH | (c.nocase ? HS_FLAG_CASELESS : 0);
            return pf;
        }
    }
    // No content: a non-negated, non-relative pcre can prefilter in Hyperscan PREFILTER mode.
    for (size_t i = 0; i < end; ++i) {
        const auto* p = std::get_if<CPcre>(&ops[i]);
        if (p == nullptr || p->src.negated || p->src.relative || p->src.anchored ||
            p->src.extended || p->src.ungreedy || p->src.dollar_endonly) {
            continue;
        }
        pf.kind = Prefilter::Kind::Regex;
        pf.expr = p->src.pattern;
        pf.flags = HS_FLAG_SINGLEMATCH | HS_FLAG_PREFILTER | HS_FLAG_ALLOWEMPTY;
        if (p->src.caseless) {
            pf.flags |= HS_FLAG_CASELESS;
        }
        if (p->src.dotall) {
            pf.flags |= HS_FLAG_DOTALL;
        }
        if (p->src.multiline) {
            pf.flags |= HS_FLAG_MULTILINE;
        }
        return pf;
    }
    return pf;
}

// Prefilter of an application-layer rule: the buffer whose fast pattern is explicit, else
// the longest literal among its buffers, else a pcre prefilter. `view` gets the buffer view.
Prefilter choose_app_prefilter(const CompiledRule& cr, uint16_t& view) {
    Prefilter best;
    size_t best_len = 0;
    for (const auto& b : cr.bufs) {
        bool explicit_fp = false;
        Prefilter pf = choose_prefilter(b.ops, &explicit_fp);
        if (pf.kind == Prefilter::Kind::None) {
            continue;
        }
        const size_t len = pf.kind == Prefilter::Kind::Literal ? pf.expr.size() : 0;
        if (explicit_fp) {
            view = b.view;
            return pf;
        }
        if (best.kind == Prefilter::Kind::None || len > best_len) {
            best = pf;
            best_len = len;
            view = b.view;
        }
    }
    return best;
}

// The set a dataset / datarep op names, from the rule set's registry.
Result<DatasetPtr> find_set(DatasetRegistry& sets, const std::string& rule_file,
                            const std::string& name, const std::string& type,
                            const std::string& load, const std::string& save, bool state,
                            uint64_t memcap, uint32_t hashsize) {
    DatasetSpec spec;
    spec.name = name;
    if (!type.empty()) {
        spec.type = dataset_type_by_name(type);
    }
    spec.load = load;
    spec.save = save;
    spec.state = state;
    spec.memcap = memcap;
    spec.hashsize = hashsize;
    return sets.get(spec, rule_file);
}

// Compiles one payload program. Sets `needs_payload` when it has a positive content or pcre.
// Dataset ops get their set from `sets` (relative load files are next to `rule_file`).
std::string compile_ops(const std::vector<PayloadOp>& in, std::vector<COp>& out,
                        bool& needs_payload, DatasetRegistry& sets, const std::string& rule_file) {
    std::string err;
    for (size_t i = 0; i < in.size() && err.empty(); ++i) {
        const bool next_rel = i + 1 < in.size() && op_is_relative(in[i + 1]);
        std::visit(
            [&](const auto& o) {
                using T = std::decay_t<decltype(o)>;
                if constexpr (std::is_same_v<T, Content>) {
                    CContent c;
                    c.src = o;
                    c.pat = o.nocase ? lower(o.bytes) : o.bytes;
                    c.skip = horspool_table(c.pat);
                    c.relative_next = next_rel;
                    if (!o.negated) {
                        needs_payload = true;
                    }
                    out.emplace_back(std::move(c));
                } else if constexpr (std::is_same_v<T, Pcre>) {
                    auto code = compile_pcre(o);
                    if (!code) {
                        err = code.error().message;
                        return;
                    }
                    CPcre p;
                    p.src = o;
                    p.code = std::move(code.value());
                    p.relative_next = next_rel;
                    if (!o.negated) {
                        needs_payload = true;
                    }
                    out.emplace_back(std::move(p));
                } else if constexpr (std::is_same_v<T, DatasetMatch>) {
                    auto set = find_set(sets, rule_file, o.name, o.type, o.load, o.save, o.state,
                                        o.memcap, o.hashsize);
                    if (!set) {
                        err = set.error().message;
                        return;
                    }
                    out.emplace_back(CDataset{o, std::move(*set)});
                } else if constexpr (std::is_same_v<T, DatarepMatch>) {
                    auto set = find_set(sets, rule_file, o.name, o.type, o.load, "", false,
                                        o.memcap, o.hashsize);
                    if (!set) {
                        err = set.error().message;
                        return;
                    }
                    out.emplace_back(CDatarep{o, std::move(*set)});
                } else {
                    out.emplace_back(o);
                }
            },
            in[i]);
    }
    return err;
}

// Hyperscan database from (expression, flags) pairs; an expression Hyperscan refuses is
// dropped and its rules go to `refused` (the caller checks them without a prefilter, so no
// rule is lost). With the cache on, a matching entry replaces the compile, refusals included.
Result<HsDatabasePtr> compile_db(std::vector<std::string>& exprs, std::vector<unsigned>& flags,
                                 std::vector<std::vector<uint32_t>>& pattern_rules,
                                 std::vector<uint32_t>& refused, HsCache& cache) {
    if (exprs.empty()) {
        return HsDatabasePtr();
    }
    auto drop = [&](size_t bad) {
        for (uint32_t ri : pattern_rules[bad]) {
            refused.push_back(ri);
        }
        exprs.erase(exprs.begin() + static_cast<std::ptrdiff_t>(bad));
        flags.erase(flags.begin() + static_cast<std::ptrdiff_t>(bad));
        pattern_rules.erase(pattern_rules.begin() + static_cast<std::ptrdiff_t>(bad));
    };
    HsCacheKey key{};
    if (cache.enabled()) {
        key = HsCache::key_for(exprs, flags, HS_MODE_BLOCK);
        if (auto hit = cache.lookup(key, exprs.size())) {
            for (uint32_t d : hit->dropped) {
                drop(d);  // lookup checked each position against the list left
            }
            return std::move(hit->db);
        }
    }
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<uint32_t> dropped;
    while (!exprs.empty()) {
        std::vector<const char*> cexprs;
        std::vector<unsigned> ids;
        for (size_t i = 0; i < exprs.size(); ++i) {
            cexprs.push_back(exprs[i].c_str());
            ids.push_back(static_cast<unsigned>(i));
        }
        hs_database_t* db = nullptr;
        hs_compile_error_t* cerr = nullptr;
        const hs_error_t rc = hs_compile_multi(cexprs.data(), flags.data(), ids.data(),
                                               static_cast<unsigned>(exprs.size()), HS_MODE_BLOCK,
                                               nullptr, &db, &cerr);
        if (rc == HS_SUCCESS) {
            HsDatabasePtr out(db);
            cache.store(
                key, out.get(), dropped,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
            return out;
        }
        const int bad = cerr != nullptr ? cerr->expression : -1;
        const std::string msg = cerr != nullptr ? cerr->message : "unknown error";
        hs_free_compile_error(cerr);
        if (bad < 0 || static_cast<size_t>(bad) >= exprs.size()) {
            return make_error(ErrorCode::RuleCompile, "hyperscan: " + msg);
        }
        dropped.push_back(static_cast<uint32_t>(bad));
        drop(static_cast<size_t>(bad));
    }
    cache.store(key, nullptr, dropped,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    return HsDatabasePtr();
}

// "Small" address sets (at most this many addresses) are worth indexing: reputation lists,
// single hosts, small subnets; $EXTERNAL_NET-like sets are not.
constexpr uint64_t kMaxIndexedAddresses = 1ull << 20;

bool small_set(const IpSet& s) {
    if (s.ranges.empty()) {
        return false;
    }
    uint64_t n = 0;
    for (const auto& r : s.ranges) {
        const AddrKey lo = AddrKey::from(r.lo);
        const AddrKey hi = AddrKey::from(r.hi);
        if (hi.hi != lo.hi || hi.lo - lo.lo >= kMaxIndexedAddresses) {
            return false;
        }
        n += hi.lo - lo.lo + 1;
        if (n > kMaxIndexedAddresses) {
            return false;
        }
    }
    return true;
}

// Builds the elementary-segment index for (rule, set) pairs.
AddrIndex build_index(const std::vector<std::pair<uint32_t, const IpSet*>>& entries) {
    AddrIndex idx;
    if (entries.empty()) {
        return idx;
    }
    struct Ev {
        AddrKey at;
        uint32_t rule;
        bool open;
    };
    std::vector<AddrKey> bounds;
    for (const auto& [ri, set] : entries) {
        for (const auto& r : set->ranges) {
            bounds.push_back(AddrKey::from(r.lo));
            AddrKey end = AddrKey::from(r.hi);
            if (++end.lo == 0 && ++end.hi == 0) {
                continue;  // range reaches the top of the address space
            }
            bounds.push_back(end);
        }
    }
    std::sort(bounds.begin(), bounds.end());
    bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
    idx.starts = bounds;
    idx.rules.assign(bounds.size(), {});
    for (const auto& [ri, set] : entries) {
        for (const auto& r : set->ranges) {
            const AddrKey lo = AddrKey::from(r.lo);
            const AddrKey hi = AddrKey::from(r.hi);
            auto it = std::lower_bound(idx.starts.begin(), idx.starts.end(), lo);
            for (; it != idx.starts.end() && *it <= hi; ++it) {
                idx.rules[static_cast<size_t>(it - idx.starts.begin())].push_back(ri);
            }
        }
    }
    for (auto& v : idx.rules) {
        std::sort(v.begin(), v.end());
        v.erase(std::unique(v.begin(), v.end()), v.end());
    }
    return idx;
}

uint32_t port_count(const PortSet& ps) {
    uint32_t n = 0;
    for (const auto& r : ps.ranges) {
        n += static_cast<uint32_t>(r.hi) - r.lo + 1;
    }
    return n;
}

// Flowbit ids are process-wide, not per rule set: flows outlive a rule reload, and the bits
// they carry must keep their names when a new RuleSet (compiled off the hot path) replaces
// the old one. Compile time only; the mutex never meets a packet.
// Buffer views, (buffer, transforms), are process-wide for the same reason as flowbits: a
// CompiledRule names its views by id and is shared by the rule sets of successive reloads.
std::mutex view_registry_mu;
std::vector<BufferView>& view_registry() {
    static std::vector<BufferView> views;
    return views;
}

Result<uint16_t> view_registry_id(dataplane::app::BufferId b, const std::vector<Transform>& t) {
    std::lock_guard lock(view_registry_mu);
    auto& views = view_registry();
    for (size_t i = 0; i < views.size(); ++i) {
        if (views[i].buffer == b && views[i].transforms == t) {
            return static_cast<uint16_t>(i);
        }
    }
    if (views.size() >= 65535) {
        return make_error(ErrorCode::RuleCompile, "too many distinct buffer views (65535)");
    }
    views.push_back(BufferView{b, t});
    return static_cast<uint16_t>(views.size() - 1);
}

std::vector<BufferView> view_registry_snapshot() {
    std::lock_guard lock(view_registry_mu);
    return view_registry();
}

Result<uint16_t> flowbit_registry_id(const std::string& name) {
    static std::mutex mu;
    static std::unordered_map<std::string, uint16_t> ids;
    std::lock_guard lock(mu);
    auto it = ids.find(name);
    if (it != ids.end()) {
        return it->second;
    }
    if (ids.size() >= 65535) {
        return make_error(ErrorCode::RuleCompile, "too many distinct flowbit names (65535)");
    }
    const auto id = static_cast<uint16_t>(ids.size());
    ids.emplace(name, id);
    return id;
}

// Flowint and xbit ids are process-wide like flowbit ids (flows keep their flowints across
// a reload); each keyword has its own names (xbits and hostbits share theirs in Suricata).
Result<uint16_t> var_registry_id(std::unordered_map<std::string, uint16_t>& ids,
                                 const std::string& name, const char* what) {
    static std::mutex mu;
    std::lock_guard lock(mu);
    auto it = ids.find(name);
    if (it != ids.end()) {
        return it->second;
    }
    if (ids.size() >= 65535) {
        return make_error(ErrorCode::RuleCompile,
                          std::string("too many distinct ") + what + " names (65535)");
    }
    const auto id = static_cast<uint16_t>(ids.size());
    ids.emplace(name, id);
    return id;
}

// A rule's flowints and xbits with their process-wide ids; the id error, or empty.
std::string compile_flowints_xbits(const Rule& r, CompiledRule& cr) {
    static std::unordered_map<std::string, uint16_t> flowint_ids;
    static std::unordered_map<std::string, uint16_t> xbit_ids;
    for (const auto& f : r.flowints) {
        CFlowint c;
        c.op = f.op;
        c.value = f.value;
        auto id = var_registry_id(flowint_ids, f.name, "flowint");
        if (!id) {
            return id.error().message;
        }
        c.id = *id;
        if (!f.var.empty()) {
            auto var = var_registry_id(flowint_ids, f.var, "flowint");
            if (!var) {
                return var.error().message;
            }
            c.var = *var;
        }
        (f.is_action() ? cr.flowint_actions : cr.flowint_checks).push_back(c);
    }
    for (const auto& x : r.xbits) {
        auto id = var_registry_id(xbit_ids, x.name, "xbits");
        if (!id) {
            return id.error().message;
        }
        const CXbit c{x.op, *id, x.track, x.expire};
        (x.is_action() ? cr.xbit_actions : cr.xbit_checks).push_back(c);
    }
    return {};
}

}  // namespace

const std::vector<uint32_t>* AddrIndex::lookup(const dataplane::IpAddr& a) const {
    if (starts.empty()) {
        return nullptr;
    }
    const AddrKey k = AddrKey::from(a);
    auto it = std::upper_bound(starts.begin(), starts.end(), k);
    if (it == starts.begin()) {
        return nullptr;
    }
    const auto& v = rules[static_cast<size_t>(it - starts.begin()) - 1];
    return v.empty() ? nullptr : &v;
}

std::string LoadReport::summary_line() const {
    return "rules: " + std::to_string(loaded) + " loaded, " + std::to_string(rejected.size()) +
           " rejected";
}

std::string RuleSetStats::cache_line() const {
    if (!cache_enabled) {
        return "rules: hyperscan cache: off";
    }
    char buf[200];
    std::snprintf(buf, sizeof buf,
                  "rules: hyperscan cache: %zu hits, %zu misses, %zu rebuilt, %.1f MiB read, "
                  "%.1f MiB written, %.2f s saved",
                  cache_hits, cache_misses, cache_rebuilt,
                  static_cast<double>(cache_bytes_read) / (1024.0 * 1024.0),
                  static_cast<double>(cache_bytes_written) / (1024.0 * 1024.0),
                  // tiny databases load about as fast as they compile: no "-0.00 s"
                  std::max(cache_seconds_saved, 0.0));
    return buf;
}

std::vector<RuleError> LoadReport::rejected_in_order() const {
    std::map<std::string_view, size_t> rank;
    for (size_t i = 0; i < file_names.size(); ++i) {
        rank.emplace(file_names[i], i);
    }
    auto rank_of = [&](const RuleError& e) {
        const auto it = rank.find(e.file);
        return it == rank.end() ? file_names.size() : it->second;
    };
    std::vector<RuleError> out = rejected;
    std::stable_sort(out.begin(), out.end(), [&](const RuleError& a, const RuleError& b) {
        const size_t ra = rank_of(a);
        const size_t rb = rank_of(b);
        return ra != rb ? ra < rb : a.line < b.line;
    });
    return out;
}

std::vector<std::pair<std::string, size_t>> LoadReport::rejected_by_reason() const {
    std::map<std::string, size_t> counts;
    for (const auto& e : rejected) {
        // Numbers are folded outside quotes and names: 'http2_header' stays itself.
        std::string key;
        bool quoted = false;
        bool in_number = false;
        char prev = ' ';
        for (const char ch : e.reason) {
            const bool digit = std::isdigit(static_cast<unsigned char>(ch)) != 0;
            quoted = ch == '\'' ? !quoted : quoted;
            if (digit &&
                (in_number || (!quoted && std::isalnum(static_cast<unsigned char>(prev)) == 0 &&
                               prev != '_' && prev != '.'))) {
                if (!in_number) {
                    key += 'N';
                }
                in_number = true;
            } else {
                in_number = false;
                key += ch;
            }
            prev = ch;
        }
        ++counts[key];
    }
    std::vector<std::pair<std::string, size_t>> out(counts.begin(), counts.end());
    std::stable_sort(out.begin(), out.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    return out;
}

// Compiles parsed rules into a RuleSet, one named step after the other (build() reads top to
// bottom); the builder holds what the steps share: the set being built, the report, the
// Hyperscan cache and timers, and the group and prefilter bookkeeping.
class RuleSetBuilder {
public:
    // `order` (empty: `rules` in order) lists the rules to build: rules[index], or the rule of
    // that index in opts.previous, whose CompiledRule is shared.
    static Result<std::shared_ptr<const RuleSet>> build(
        std::vector<Rule> rules, const std::vector<ParsedFiles::Entry>& order, LoadReport& report,
        const CompileOptions& opts, double parse_seconds);

private:
    RuleSetBuilder(std::vector<Rule>& rules, const std::vector<ParsedFiles::Entry>& entries,
                   LoadReport& report, const CompileOptions& opts);

    const RuleSet::CompiledRulePtr* shared_at(size_t i) const;
    const Rule& rule_at(size_t i) const;
    std::vector<size_t> evaluation_order() const;
    void compile_rules(const std::vector<size_t>& order);
    std::string compile_rule(const Rule& r, CompiledRule& cr);
    std::string compile_flowbits(const Rule& r, CompiledRule& cr);
    void index_rules();
    uint16_t intern_group(std::vector<uint32_t> members);
    void group_packet_rules();
    void group_slot(size_t t, size_t d);
    Status build_packet_databases();
    Status build_app_databases();
    Status build_app_group(size_t gi);
    void index_addresses(RuleGroup& g);
    void count_database(const hs_database_t* db);
    void finish_stats();

    std::vector<Rule>& rules_;
    const std::vector<ParsedFiles::Entry>& entries_;
    LoadReport& report_;
    const RuleSet* prev_;
    std::array<uint8_t, 4> action_rank_;  // CompileOptions::action_rank
    const std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
    std::shared_ptr<RuleSet> rs_;
    HsCache cache_;
    double hs_seconds_ = 0;                // the Hyperscan share of compile_seconds
    std::set<std::string> flowbit_names_;  // used by this rule set
    std::map<std::vector<uint32_t>, uint16_t> group_by_members_;  // dedupe identical groups
    std::vector<std::vector<uint32_t>> group_members_;
    std::set<uint32_t> prefiltered_;
    std::set<uint32_t> regex_prefiltered_;
    std::set<uint32_t> indexed_;
};

RuleSet::RuleSet()
    : groups_(std::make_unique<std::vector<RuleGroup>>()),
      app_groups_(std::make_unique<std::vector<AppGroup>>()),
      views_(std::make_unique<std::vector<BufferView>>()) {}
RuleSet::~RuleSet() = default;

size_t RuleSet::size() const {
    return compiled_.size();
}
const Rule& RuleSet::rule(uint32_t index) const {
    return compiled_[index]->rule;
}

std::optional<uint32_t> RuleSet::index_of(uint32_t gid, uint32_t sid) const {
    const auto it = by_gid_sid_.find(uint64_t{gid} << 32 | sid);
    if (it == by_gid_sid_.end()) {
        return std::nullopt;
    }
    return it->second;
}

bool RuleSet::uses_buffer(dataplane::app::BufferId b) const {
    const auto i = static_cast<size_t>(b);
    return i < buffer_used_.size() && buffer_used_[i] != 0;
}

const AppGroup& RuleSet::app_group(dataplane::app::AppProto p, uint8_t stage) const {
    return (*app_groups_)[static_cast<size_t>(p) * kAppStages + stage];
}

static Transport packet_transport(const dataplane::Packet& pkt) {
    if (pkt.l4 != nullptr) {
        switch (pkt.ip_proto) {
            case dataplane::kProtoTcp:
                return kTcp;
            case dataplane::kProtoUdp:
                return kUdp;
            case dataplane::kProtoIcmp:
                return kIcmp;
            case dataplane::kProtoIcmpv6:
                return kIcmpv6;
            default:
                break;
        }
    }
    return kOther;
}

const RuleGroup& RuleSet::group_for(const dataplane::Packet& pkt) const {
    const Transport t = packet_transport(pkt);
    const size_t d = pkt.dir == FlowDir::ToServer ? 0 : 1;
    const size_t slot = t * kDirs + d;
    const auto& pm = port_maps_[slot];
    if (!pm.empty()) {
        const uint16_t port = d == 0 ? pkt.dport : pkt.sport;
        return (*groups_)[pm[port]];
    }
    return (*groups_)[default_group_[slot]];
}

Result<std::shared_ptr<const RuleSet>> RuleSet::compile(std::vector<Rule> rules, LoadReport& report,
                                                        const CompileOptions& opts) {
    return RuleSetBuilder::build(std::move(rules), {}, report, opts, 0);
}

namespace {

// The rules of the set a reload replaces, by their text.
class PreviousRules final : public KnownRules {
public:
    explicit PreviousRules(const RuleSet& rs) : rs_(rs) {
        by_text_.reserve(rs.size());
        for (uint32_t i = 0; i < rs.size(); ++i) {
            by_text_.emplace(rs.rule(i).text, i);
        }
    }
    const Rule* find(std::string_view text, uint32_t& index) const override {
        const auto it = by_text_.find(text);
        if (it == by_text_.end()) {
            return nullptr;
        }
        index = it->second;
        return &rs_.rule(index);
    }

private:
    const RuleSet& rs_;
    std::unordered_map<std::string_view, uint32_t> by_text_;
};

}  // namespace

Result<std::shared_ptr<const RuleSet>> RuleSet::load(const std::vector<std::string>& paths,
                                                     const Vars& vars, LoadReport& report,
                                                     const CompileOptions& opts) {
    namespace fs = std::filesystem;
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::string> files;
    for (const auto& p : paths) {
        std::error_code ec;
        if (fs::is_directory(p, ec)) {
            std::vector<std::string> found;
            for (const auto& e : fs::directory_iterator(p, ec)) {
                if (e.is_regular_file() && e.path().extension() == ".rules") {
                    found.push_back(e.path().string());
                }
            }
            if (ec) {
                return make_error(ErrorCode::BadInput, p + ": " + ec.message());
            }
            if (found.empty()) {
                return make_error(ErrorCode::BadInput, p + ": no *.rules files in directory");
            }
            std::sort(found.begin(), found.end());
            files.insert(files.end(), found.begin(), found.end());
        } else if (fs::exists(p, ec)) {
            files.push_back(p);
        } else {
            return make_error(ErrorCode::BadInput, p + ": no such file or directory");
        }
    }
    // A reload with the same variables: the running set's rules are not parsed or compiled
    // again where their text is unchanged.
    std::optional<PreviousRules> known;
    if (opts.previous && opts.previous->parse_vars_ &&
        same_parse_vars(*opts.previous->parse_vars_, vars)) {
        known.emplace(*opts.previous);
    }
    auto parsed = parse_rules_flat(files, vars, 0, known ? &*known : nullptr);
    if (!parsed) {
        return parsed.error();
    }
    report.file_names.insert(report.file_names.end(), files.begin(), files.end());
    for (auto& e : parsed->rejected) {
        report.rejected.push_back(std::move(e));
    }
    const double parse_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    CompileOptions build_opts = opts;
    if (!build_opts.datasets && opts.previous) {
        build_opts.datasets = opts.previous->datasets_;  // kept even when nothing is shared
    }
    if (!known) {
        build_opts.previous.reset();
    }
    auto rs = RuleSetBuilder::build(std::move(parsed->rules), parsed->order, report, build_opts,
                                    parse_seconds);
    if (rs) {
        std::const_pointer_cast<RuleSet>(*rs)->parse_vars_ = vars;
    }
    return rs;
}

namespace {

// The ports of a slot that get their own group: the busiest, with enough rules to pay off.
std::set<uint16_t> busiest_ports(const std::map<uint16_t, std::vector<uint32_t>>& by_port) {
    std::vector<std::pair<size_t, uint16_t>> busiest;
    for (const auto& [port, v] : by_port) {
        if (v.size() >= kMinRulesPerPortGroup) {
            busiest.emplace_back(v.size(), port);
        }
    }
    std::sort(busiest.rbegin(), busiest.rend());
    if (busiest.size() > kMaxPortGroups) {
        busiest.resize(kMaxPortGroups);
    }
    std::set<uint16_t> own;
    for (const auto& b : busiest) {
        own.insert(b.second);
    }
    return own;
}

// compile_db with the cache, timed: adds to `seconds`.
Result<HsDatabasePtr> timed_compile_db(std::vector<std::string>& exprs,
                                       std::vector<unsigned>& flags,
                                       std::vector<std::vector<uint32_t>>& pattern_rules,
                                       std::vector<uint32_t>& refused, HsCache& cache,
                                       double& seconds) {
    const auto h0 = std::chrono::steady_clock::now();
    auto db = compile_db(exprs, flags, pattern_rules, refused, cache);
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - h0).count();
    return db;
}

}  // namespace

Result<std::shared_ptr<const RuleSet>> RuleSetBuilder::build(
    std::vector<Rule> rules, const std::vector<ParsedFiles::Entry>& entries, LoadReport& report,
    const CompileOptions& opts, double parse_seconds) {
    RuleSetBuilder b(rules, entries, report, opts);
    b.rs_->stats_.parse_seconds = parse_seconds;
    b.compile_rules(b.evaluation_order());  // per rule: programs, buffers, flowbits
    // Every rule was moved into its CompiledRule: the husks go now, before the databases are
    // built (a reload's peak memory).
    std::vector<Rule>().swap(rules);
    b.index_rules();
    b.group_packet_rules();
    if (auto st = b.build_packet_databases(); !st) {
        return st.error();
    }
    if (auto st = b.build_app_databases(); !st) {
        return st.error();
    }
    b.finish_stats();
    return std::shared_ptr<const RuleSet>(std::move(b.rs_));
}

RuleSetBuilder::RuleSetBuilder(std::vector<Rule>& rules,
                               const std::vector<ParsedFiles::Entry>& entries, LoadReport& report,
                               const CompileOptions& opts)
    : rules_(rules),
      entries_(entries),
      report_(report),
      prev_(opts.previous.get()),
      action_rank_(opts.action_rank),
      rs_(new RuleSet()),
      cache_(opts.cache_dir) {
    // A reload keeps the running set's datasets: what `dataset:set` learnt stays.
    rs_->datasets_ = opts.datasets                          ? opts.datasets
                     : prev_ != nullptr && prev_->datasets_ ? prev_->datasets_
                                                            : std::make_shared<DatasetRegistry>();
}

// Input i: a rule of the previous set whose program is shared, or null (parsed now).
const RuleSet::CompiledRulePtr* RuleSetBuilder::shared_at(size_t i) const {
    if (entries_.empty() || !entries_[i].known || prev_ == nullptr) {
        return nullptr;
    }
    return &prev_->compiled_[entries_[i].index];
}

// The rule of input i, shared or parsed now.
const Rule& RuleSetBuilder::rule_at(size_t i) const {
    if (const auto* sp = shared_at(i)) {
        return (*sp)->rule;
    }
    return rules_[entries_.empty() ? i : entries_[i].index];
}

// Evaluation order: Suricata's signature ordering (action, flowbits, priority), stable.
std::vector<size_t> RuleSetBuilder::evaluation_order() const {
    std::vector<size_t> order(entries_.empty() ? rules_.size() : entries_.size());
    for (size_t i = 0; i < order.size(); ++i) {
        order[i] = i;
    }
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        const Rule& ra = rule_at(a);
        const Rule& rb = rule_at(b);
        const uint8_t ka = action_rank_[static_cast<size_t>(ra.action)];
        const uint8_t kb = action_rank_[static_cast<size_t>(rb.action)];
        if (ka != kb) {
            return ka < kb;
        }
        const auto fa = static_cast<int>(flowbits_kind(ra));
        const auto fb = static_cast<int>(flowbits_kind(rb));
        if (fa != fb) {
            return fa > fb;
        }
        const int ia = set_read_kind(ra.flowints) * 8 + set_read_kind(ra.xbits);
        const int ib = set_read_kind(rb.flowints) * 8 + set_read_kind(rb.xbits);
        if (ia != ib) {
            return ia > ib;
        }
        return ra.priority < rb.priority;
    });
    return order;
}

// Compiles the rules in evaluation order (sharing a reload's unchanged ones); a rule that
// does not compile goes to the report's rejections, in that order.
void RuleSetBuilder::compile_rules(const std::vector<size_t>& order) {
    auto& compiled = rs_->compiled_;
    compiled.reserve(order.size());
    for (size_t oi : order) {
        if (const auto* sp = shared_at(oi)) {
            for (const auto& fb : (*sp)->rule.flowbits) {
                flowbit_names_.insert(fb.names.begin(), fb.names.end());
            }
            compiled.push_back(*sp);  // unchanged: its program is shared, not rebuilt
            ++rs_->stats_.shared;
            continue;
        }
        Rule& r = rules_[entries_.empty() ? oi : entries_[oi].index];
        auto crp = std::make_shared<CompiledRule>();
        if (std::string err = compile_rule(r, *crp); !err.empty()) {
            report_.rejected.push_back(RuleError{r.file, r.line, r.sid, err});
            continue;
        }
        crp->alerts = (r.action != Action::Pass || r.alert) && !r.noalert;
        crp->rule = std::move(r);
        compiled.push_back(std::move(crp));
    }
}

// A buffer section's transforms, bsize and program (CBuffer or CHeaderBuffer).
template <class Section>
std::string compile_section(const BufferMatch& bm, Section& out, bool& needs_payload,
                            DatasetRegistry& sets, const std::string& rule_file) {
    out.transforms = bm.transforms;
    out.bsize = bm.bsize;
    return compile_ops(bm.ops, out.ops, needs_payload, sets, rule_file);
}

// One rule's confirm programs (payload, then each buffer with its view), its app binding and
// packet/stream scope, then its flowbits. The error that rejects it, or empty.
std::string RuleSetBuilder::compile_rule(const Rule& r, CompiledRule& cr) {
    DatasetRegistry& sets = *rs_->datasets_;
    std::string err = compile_ops(r.payload, cr.ops, cr.needs_payload, sets, r.file);
    bool buf_payload = false;
    for (size_t bi = 0; bi < r.buffers.size() && err.empty(); ++bi) {
        const BufferMatch& bm = r.buffers[bi];
        CBuffer cb;
        cb.buffer = bm.buffer;
        err = compile_section(bm, cb, buf_payload, sets, r.file);
        if (auto v = view_registry_id(bm.buffer, bm.transforms); v) {
            cb.view = *v;
        } else if (err.empty()) {
            err = v.error().message;
        }
        cr.stage = std::max(cr.stage, dataplane::app::buffer_stage(bm.buffer));
        cr.bufs.push_back(std::move(cb));
    }
    for (size_t hi = 0; hi < r.header_buffers.size() && err.empty(); ++hi) {
        CHeaderBuffer ch;
        ch.header = r.header_buffers[hi].header;
        err = compile_section(r.header_buffers[hi], ch, buf_payload, sets, r.file);
        cr.headers.push_back(std::move(ch));
    }
    if (r.urilen) {
        cr.stage = std::max<uint8_t>(cr.stage, 1);
    }
    cr.app_rule = !cr.bufs.empty() || r.urilen.has_value();
    cr.app_proto = r.app_bind;
    if (cr.app_rule && (r.app_bind == dataplane::app::AppProto::Unknown || r.app_bind_negated)) {
        err = "application-layer buffers without an application protocol";
    }
    if (r.flow && r.flow->only_stream) {
        cr.packet_ok = false;
    }
    // dsize describes one packet, and asn1 decodes the packet's payload, as in Suricata.
    const bool asn1 = std::any_of(r.payload.begin(), r.payload.end(), [](const PayloadOp& op) {
        return std::holds_alternative<Asn1>(op);
    });
    if ((r.flow && r.flow->no_stream) || r.packet_only || r.dsize || asn1) {
        cr.stream_ok = false;
    }
    // Flowbits get their ids even when the rule is already rejected (as before the split: the
    // process-wide ids and the set's flowbit count depend on it).
    if (std::string fb_err = compile_flowbits(r, cr); !fb_err.empty()) {
        err = std::move(fb_err);
    }
    if (std::string var_err = compile_flowints_xbits(r, cr); !var_err.empty()) {
        err = std::move(var_err);
    }
    return err;
}

// A rule's flowbit checks and actions with their process-wide ids; the last id error, or empty.
std::string RuleSetBuilder::compile_flowbits(const Rule& r, CompiledRule& cr) {
    std::string err;
    for (const auto& fb : r.flowbits) {
        if (fb.op == FlowbitCmd::Op::NoAlert) {
            continue;
        }
        CFlowbit c;
        c.op = fb.op;
        c.any_of = fb.any_of;
        for (const auto& n : fb.names) {
            flowbit_names_.insert(n);
            auto id = flowbit_registry_id(n);
            if (!id) {
                err = id.error().message;
                break;
            }
            c.ids.push_back(*id);
        }
        if (fb.op == FlowbitCmd::Op::IsSet || fb.op == FlowbitCmd::Op::IsNotSet) {
            cr.flowbit_checks.push_back(std::move(c));
        } else {
            cr.flowbit_actions.push_back(std::move(c));
        }
    }
    return err;
}

// The loaded count, the set's id, the (gid, sid) index and the rule / flowbit counts.
void RuleSetBuilder::index_rules() {
    const auto& compiled = rs_->compiled_;
    report_.loaded = compiled.size();
    static std::atomic<uint32_t> next_id{1};
    rs_->id_ = next_id.fetch_add(1, std::memory_order_relaxed);
    rs_->by_gid_sid_.reserve(compiled.size());
    for (uint32_t i = 0; i < compiled.size(); ++i) {
        rs_->by_gid_sid_.emplace(uint64_t{compiled[i]->rule.gid} << 32 | compiled[i]->rule.sid, i);
    }
    rs_->stats_.rules = compiled.size();
    rs_->stats_.flowbits = flowbit_names_.size();
}

// The index of the group with these members, added when new (identical groups share one).
uint16_t RuleSetBuilder::intern_group(std::vector<uint32_t> members) {
    std::sort(members.begin(), members.end());
    auto it = group_by_members_.find(members);
    if (it != group_by_members_.end()) {
        return it->second;
    }
    const auto gi = static_cast<uint16_t>(group_members_.size());
    group_by_members_.emplace(members, gi);
    group_members_.push_back(std::move(members));
    return gi;
}

// Membership: for each (transport, dir) slot, which packet rules apply, and under which port.
void RuleSetBuilder::group_packet_rules() {
    const size_t nslots = kTransports * kDirs;
    rs_->port_maps_.assign(nslots, {});
    rs_->default_group_.assign(nslots, 0);
    for (size_t t = 0; t < kTransports; ++t) {
        for (size_t d = 0; d < kDirs; ++d) {
            group_slot(t, d);
        }
    }
}

// One (transport, dir) slot: rules on any port in the base group; the busiest ports get their
// own groups (base plus that port's rules), the others fold into the base group.
void RuleSetBuilder::group_slot(size_t t, size_t d) {
    const auto& compiled = rs_->compiled_;
    std::vector<uint32_t> any_port;
    std::map<uint16_t, std::vector<uint32_t>> by_port;
    for (uint32_t ci = 0; ci < compiled.size(); ++ci) {
        const CompiledRule& cr = *compiled[ci];
        const Rule& r = cr.rule;
        if (cr.app_rule) {
            continue;  // run on transaction events (app groups)
        }
        auto ts = transports_of(r.proto);
        if (!r.decode_events.empty() && r.proto != Proto::Ip) {
            // Its event may come with a transport header that did not decode (no l4): such
            // packets go to the "other" slot.
            ts.push_back(kOther);
        }
        if (std::find(ts.begin(), ts.end(), static_cast<Transport>(t)) == ts.end()) {
            continue;
        }
        if (r.flow && ((r.flow->to_server && d != 0) || (r.flow->to_client && d != 1))) {
            continue;
        }
        const PortSet& key_ports = d == 0 ? r.dport : r.sport;
        const bool groupable = (t == kTcp || t == kUdp) && !r.bidirectional &&
                               !key_ports.is_any() && port_count(key_ports) <= kMaxGroupedPorts;
        if (!groupable) {
            any_port.push_back(ci);
            continue;
        }
        for (const auto& pr : key_ports.ranges) {
            for (uint32_t p = pr.lo; p <= pr.hi; ++p) {
                by_port[static_cast<uint16_t>(p)].push_back(ci);
            }
        }
    }
    const std::set<uint16_t> own = busiest_ports(by_port);
    std::vector<uint32_t> base = any_port;
    std::set<uint32_t> in_base(any_port.begin(), any_port.end());
    for (const auto& [port, v] : by_port) {
        if (own.count(port) != 0) {
            continue;
        }
        for (uint32_t ri : v) {
            if (in_base.insert(ri).second) {
                base.push_back(ri);
            }
        }
    }
    const size_t slot = t * kDirs + d;
    const uint16_t base_group = intern_group(base);
    rs_->default_group_[slot] = base_group;
    if (own.empty()) {
        return;
    }
    auto& pm = rs_->port_maps_[slot];
    pm.assign(65536, base_group);
    for (uint16_t port : own) {
        std::vector<uint32_t> members = any_port;
        members.insert(members.end(), by_port[port].begin(), by_port[port].end());
        pm[port] = intern_group(std::move(members));
    }
    rs_->stats_.port_groups += own.size();
}

// One Hyperscan database per distinct packet group, from each member's fast pattern; rules
// without one are checked always or through the address index.
Status RuleSetBuilder::build_packet_databases() {
    const auto& compiled = rs_->compiled_;
    std::vector<Prefilter> pfs(compiled.size());
    for (size_t i = 0; i < compiled.size(); ++i) {
        if (!compiled[i]->app_rule) {
            pfs[i] = choose_prefilter(compiled[i]->ops);
        }
    }
    auto& groups = *rs_->groups_;
    groups.resize(group_members_.size());
    for (size_t gi = 0; gi < group_members_.size(); ++gi) {
        RuleGroup& g = groups[gi];
        const auto& members = group_members_[gi];
        g.rule_count = members.size();
        std::map<std::pair<std::string, unsigned>, uint32_t> pattern_ids;
        std::vector<std::string> exprs;
        std::vector<unsigned> flags;
        std::vector<std::vector<uint32_t>> pattern_rules;
        for (uint32_t ri : members) {
            const Prefilter& pf = pfs[ri];
            if (pf.kind == Prefilter::Kind::None) {
                g.always.push_back(ri);
                continue;
            }
            auto key = std::make_pair(pf.expr, pf.flags);
            auto it = pattern_ids.find(key);
            if (it == pattern_ids.end()) {
                it = pattern_ids.emplace(key, static_cast<uint32_t>(exprs.size())).first;
                exprs.push_back(pf.expr);
                flags.push_back(pf.flags);
                pattern_rules.emplace_back();
            }
            pattern_rules[it->second].push_back(ri);
        }
        auto db = timed_compile_db(exprs, flags, pattern_rules, g.always, cache_, hs_seconds_);
        if (!db) {
            return db.error();
        }
        g.db = std::move(db.value());
        for (size_t i = 0; i < pattern_rules.size(); ++i) {
            for (uint32_t ri : pattern_rules[i]) {
                (flags[i] & HS_FLAG_PREFILTER ? regex_prefiltered_ : prefiltered_).insert(ri);
            }
        }
        g.pattern_rules = std::move(pattern_rules);
        index_addresses(g);
        count_database(g.db.get());
    }
    return Ok{};
}

// Rules of a group without a pattern: the small-address ones indexed by source or destination,
// the rest checked always.
void RuleSetBuilder::index_addresses(RuleGroup& g) {
    std::vector<std::pair<uint32_t, const IpSet*>> by_src;
    std::vector<std::pair<uint32_t, const IpSet*>> by_dst;
    std::vector<uint32_t> always;
    for (uint32_t ri : g.always) {
        const Rule& r = rs_->compiled_[ri]->rule;
        if (!r.bidirectional && small_set(r.src)) {
            by_src.emplace_back(ri, &r.src);
        } else if (!r.bidirectional && small_set(r.dst)) {
            by_dst.emplace_back(ri, &r.dst);
        } else {
            always.push_back(ri);
        }
    }
    g.by_src = build_index(by_src);
    g.by_dst = build_index(by_dst);
    for (const auto& e : by_src) {
        indexed_.insert(e.first);
    }
    for (const auto& e : by_dst) {
        indexed_.insert(e.first);
    }
    g.always = std::move(always);
    std::sort(g.always.begin(), g.always.end());
}

// A built database in the stats (none: a group without patterns).
void RuleSetBuilder::count_database(const hs_database_t* db) {
    if (db == nullptr) {
        return;
    }
    size_t sz = 0;
    if (hs_database_size(db, &sz) == HS_SUCCESS) {
        rs_->stats_.database_bytes += sz;
    }
    ++rs_->stats_.databases;
}

// Application-layer rules: one group per (protocol, stage), one database per buffer view.
Status RuleSetBuilder::build_app_databases() {
    auto& app_groups = *rs_->app_groups_;
    app_groups.resize(RuleSet::kAppProtos * RuleSet::kAppStages);
    for (size_t gi = 0; gi < app_groups.size(); ++gi) {
        if (auto st = build_app_group(gi); !st) {
            return st;
        }
    }
    return Ok{};
}

// One (protocol, stage) group: its rules' prefilters by buffer view, a database per view.
Status RuleSetBuilder::build_app_group(size_t gi) {
    const auto& compiled = rs_->compiled_;
    AppGroup& ag = (*rs_->app_groups_)[gi];
    std::map<uint16_t, std::map<std::pair<std::string, unsigned>, uint32_t>> ids;
    std::map<uint16_t, std::vector<std::string>> exprs;
    std::map<uint16_t, std::vector<unsigned>> flags;
    std::map<uint16_t, std::vector<std::vector<uint32_t>>> prules;
    for (uint32_t ci = 0; ci < compiled.size(); ++ci) {
        const CompiledRule& cr = *compiled[ci];
        if (!cr.app_rule ||
            static_cast<size_t>(cr.app_proto) * RuleSet::kAppStages + cr.stage != gi) {
            continue;
        }
        ++ag.rule_count;
        ++rs_->stats_.app_rules;
        uint16_t view = 0;
        const Prefilter pf = choose_app_prefilter(cr, view);
        if (pf.kind == Prefilter::Kind::None) {
            ag.always.push_back(ci);
            continue;
        }
        auto key = std::make_pair(pf.expr, pf.flags);
        auto& vid = ids[view];
        auto it = vid.find(key);
        if (it == vid.end()) {
            it = vid.emplace(key, static_cast<uint32_t>(exprs[view].size())).first;
            exprs[view].push_back(pf.expr);
            flags[view].push_back(pf.flags);
            prules[view].emplace_back();
        }
        prules[view][it->second].push_back(ci);
        (pf.flags & HS_FLAG_PREFILTER ? regex_prefiltered_ : prefiltered_).insert(ci);
    }
    for (auto& [view, ex] : exprs) {
        AppGroup::ViewDb vd;
        vd.view = view;
        std::vector<uint32_t> refused;
        auto db = timed_compile_db(ex, flags[view], prules[view], refused, cache_, hs_seconds_);
        if (!db) {
            return db.error();
        }
        for (uint32_t ri : refused) {
            prefiltered_.erase(ri);
            regex_prefiltered_.erase(ri);
            ag.always.push_back(ri);
        }
        vd.db = std::move(db.value());
        vd.pattern_rules = std::move(prules[view]);
        if (vd.db) {
            count_database(vd.db.get());
            ag.dbs.push_back(std::move(vd));
        }
    }
    std::sort(ag.always.begin(), ag.always.end());
    return Ok{};
}

// Prefilter counts, buffer views and buffer-usage flags, timings, cache stats and warnings.
void RuleSetBuilder::finish_stats() {
    const auto& compiled = rs_->compiled_;
    RuleSetStats& st = rs_->stats_;
    st.prefiltered = prefiltered_.size();
    st.pcre_prefilter = regex_prefiltered_.size();
    st.address_indexed_rules = indexed_.size();
    st.always_check = compiled.size() - prefiltered_.size() - regex_prefiltered_.size();
    *rs_->views_ = view_registry_snapshot();
    for (const auto& c : compiled) {
        for (const auto& b : c->bufs) {
            const auto bi = static_cast<size_t>(b.buffer);
            if (rs_->buffer_used_.size() <= bi) {
                rs_->buffer_used_.resize(bi + 1, 0);
            }
            rs_->buffer_used_[bi] = 1;
        }
    }
    st.compile_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    st.hyperscan_seconds = hs_seconds_;
    st.cache_enabled = cache_.enabled();
    const HsCacheStats& cs = cache_.stats();
    st.cache_hits = cs.hits;
    st.cache_misses = cs.misses;
    st.cache_rebuilt = cs.rebuilt;
    st.cache_bytes_read = cs.bytes_read;
    st.cache_bytes_written = cs.bytes_written;
    st.cache_seconds_saved = cs.seconds_saved;
    for (const auto& e : cache_.events()) {
        report_.warnings.push_back(e);
    }
    if (!cache_.warning().empty()) {
        report_.warnings.push_back(cache_.warning());
    }
}

}  // namespace vigil::rules
