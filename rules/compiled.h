#pragma once
// Internal to rules/: the compiled form of a rule (its confirm program) and of a rule group
// (one Hyperscan database plus the rules to check without a pattern).

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "rules/dataset.h"
#include "rules/rule.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <hs/hs.h>
#include <pcre2.h>

namespace vigil::rules {

struct HsDatabaseFree {
    void operator()(hs_database_t* db) const { hs_free_database(db); }
};
using HsDatabasePtr = std::unique_ptr<hs_database_t, HsDatabaseFree>;

struct Pcre2CodeFree {
    void operator()(pcre2_code* c) const { pcre2_code_free(c); }
};
using Pcre2CodePtr = std::unique_ptr<pcre2_code, Pcre2CodeFree>;

// A content with its search table: Horspool skip table over the (case-folded) pattern.
struct CContent {
    Content src;
    std::string pat;  // lower-cased when nocase
    std::array<uint8_t, 256> skip{};
    bool relative_next = false;  // the next payload op is relative to this one
};

struct CPcre {
    Pcre src;
    Pcre2CodePtr code;
    bool relative_next = false;
};

// dataset / datarep with the set they name (shared by every rule and worker using it).
struct CDataset {
    DatasetMatch src;
    DatasetPtr set;
};
struct CDatarep {
    DatarepMatch src;
    DatasetPtr set;
};

using COp = std::variant<CContent, CPcre, ByteTest, ByteJump, ByteExtract, ByteMath, IsDataAt,
                         Base64Decode, Base64Data, Entropy, CDataset, CDatarep, Asn1>;

// Suricata's flowbits classification for rule ordering: set-only rules run first.
enum class FlowbitsKind : uint8_t { Set = 4, SetRead = 3, Read = 2, None = 1 };

struct CFlowbit {
    FlowbitCmd::Op op;
    std::vector<uint16_t> ids;
    bool any_of = false;
};

// A flowint with its process-wide id (and the id of the flowint it is compared with).
struct CFlowint {
    FlowintCmd::Op op = FlowintCmd::Op::IsSet;
    uint16_t id = 0;
    uint32_t value = 0;
    int32_t var = -1;  // id of the operand flowint; -1: `value`
};

// An xbit with its process-wide id (shared with hostbits of the same name).
struct CXbit {
    XbitCmd::Op op = XbitCmd::Op::Set;
    uint16_t id = 0;
    XbitCmd::Track track = XbitCmd::Track::IpSrc;
    uint32_t expire = 30;
};

// One application-layer buffer program of a rule.
struct CBuffer {
    dataplane::app::BufferId buffer{};
    std::vector<Transform> transforms;
    uint16_t view = 0;  // process-wide id of (buffer, transforms): RuleSet::views()[view]
    std::vector<COp> ops;
    std::optional<IntMatch> bsize;
};

// A program on one of the packet's own headers (ipv4.hdr, tcp.hdr, ...).
struct CHeaderBuffer {
    PacketHeader header = PacketHeader::None;
    std::vector<Transform> transforms;
    std::vector<COp> ops;
    std::optional<IntMatch> bsize;
};

// Everything here follows from the rule alone (flowbit and buffer-view ids are process-wide),
// never from the rule set it sits in: a reload shares an unchanged rule's CompiledRule with
// the set it replaces. Its position in RuleSet::compiled() is its evaluation order.
struct CompiledRule {
    Rule rule;
    std::vector<COp> ops;
    std::vector<CBuffer> bufs;           // application-layer buffer programs
    std::vector<CHeaderBuffer> headers;  // packet-header programs: all must match the packet
    // Application-layer rules (buffers or urilen) run on transaction events of their
    // protocol at `stage` (the latest stage among their buffers), never on packets.
    bool app_rule = false;
    dataplane::app::AppProto app_proto = dataplane::app::AppProto::Unknown;
    uint8_t stage = 0;
    bool stream_ok = true;                  // payload program may run on the reassembled stream
    bool packet_ok = true;                  // ... and on the packet payload
    std::vector<CFlowbit> flowbit_checks;   // isset / isnotset
    std::vector<CFlowbit> flowbit_actions;  // set / unset / toggle
    std::vector<CFlowint> flowint_checks;   // comparisons, isset / notset
    std::vector<CFlowint> flowint_actions;  // = + -
    std::vector<CXbit> xbit_checks;         // isset / isnotset
    std::vector<CXbit> xbit_actions;        // set / unset / toggle
    bool alerts = true;                     // false for pass or noalert
    bool needs_payload = false;             // has a positive content or pcre
    int fast_content = -1;                  // index in ops of the fast-pattern content
};

// 128-bit address as two integers, for fast ordered lookups.
struct AddrKey {
    uint64_t hi = 0;
    uint64_t lo = 0;
    auto operator<=>(const AddrKey&) const = default;
    static AddrKey from(const dataplane::IpAddr& a) {
        AddrKey k;
        for (int i = 0; i < 8; ++i) {
            k.hi = (k.hi << 8) | a.b[i];
            k.lo = (k.lo << 8) | a.b[8 + i];
        }
        return k;
    }
};

// Header-only rules whose source (or destination) set is small — IP reputation lists — found
// by address instead of being checked on every packet: the address space is cut into
// elementary segments, each listing the rules whose set covers it.
struct AddrIndex {
    std::vector<AddrKey> starts;               // segment i covers [starts[i], starts[i+1])
    std::vector<std::vector<uint32_t>> rules;  // rules covering segment i (sorted)
    bool empty() const { return starts.empty(); }
    const std::vector<uint32_t>* lookup(const dataplane::IpAddr& a) const;
};

// A buffer as rules see it: a transaction buffer after a chain of transforms. Rules naming
// the same buffer with the same transforms share one view (and one Hyperscan database).
struct BufferView {
    dataplane::app::BufferId buffer{};
    std::vector<Transform> transforms;
};

// One Hyperscan database and what its pattern ids mean.
struct RuleGroup {
    HsDatabasePtr db;                                  // null when no pattern
    std::vector<std::vector<uint32_t>> pattern_rules;  // pattern id -> rule indexes
    std::vector<uint32_t> always;                      // rules without a pattern, sorted
    AddrIndex by_src;  // rules without a pattern, reached by source address
    AddrIndex by_dst;  // rules without a pattern, reached by destination address
    size_t rule_count = 0;
};

// The application-layer rules of one protocol and stage: a prefilter database per buffer
// view holding the fast patterns found in that view, plus the rules without one.
struct AppGroup {
    struct ViewDb {
        uint16_t view = 0;
        HsDatabasePtr db;
        std::vector<std::vector<uint32_t>> pattern_rules;
    };
    std::vector<ViewDb> dbs;
    std::vector<uint32_t> always;
    size_t rule_count = 0;
};

}  // namespace vigil::rules
