#pragma once
// Internal to rules/: the table of rule option keywords. One row per keyword (aliases are rows
// of their own), assembled from the family files in this folder; OptionParser::apply looks a
// keyword up here, checks its value and calls its handler.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/result.h"
#include "rules/rule.h"

namespace vigil::rules::detail {

class OptionParser;
struct KeywordDef;

// How a buffer keyword's BufferId depends on the rule's direction (resolved in finish()).
enum class BufDir : uint8_t {
    Fixed,     // as given
    Flow,      // request variant; the response variant under flow:to_client
    FileData,  // response body; the request body under flow:to_server
};

enum class KeywordFamily : uint8_t {
    Meta,             // meta.cc: msg, sid, classtype, ...
    Payload,          // payload.cc: content, pcre, byte_*, isdataat, dsize, ...
    ContentModifier,  // payload.cc: nocase, offset, ... (apply to the most recent content)
    Header,           // header.cc: ttl, flags, icmp_id, ...
    Flow,             // flow.cc: flow, flowbits, stream_size, threshold, ...
    StickyBuffer,     // buffers.cc: http.uri, file.data, dns.query, ...
    LegacyBuffer,     // buffers.cc: http_uri, http_header, ... (move the previous content)
    Transform,        // buffers.cc: dotprefix, to_lowercase, xor, ... (rules/transform.h)
    AppField,         // buffers.cc: dns.opcode, dns.rrtype, ... (integer tests on a tx field)
    Dataset,          // datasets.cc: dataset, datarep (the sticky buffer looked up in a set)
};

// Whether a keyword takes a value: `nocase;` (None), `sid:1;` (Required), `fast_pattern;` or
// `fast_pattern:only;` (Optional).
enum class ValueRule : uint8_t { None, Required, Optional };

// One use of a keyword in a rule.
struct KeywordUse {
    const KeywordDef& kw;                          // kw.name: the lower-case name
    std::string_view written;                      // the name as written in the rule
    const std::optional<std::string_view>& value;  // raw (escapes kept), trimmed

    // The value of a ValueRule::Required keyword (checked non-empty before the handler runs).
    std::string_view v() const { return value.value_or(std::string_view{}); }
};

// Applies one use of a keyword to the rule being parsed. Errors carry the rejection reason.
using KeywordHandler = Status (*)(OptionParser& p, const KeywordUse& use);

// The buffer a sticky buffer, legacy modifier or pcre buffer flag names.
struct BufferSpec {
    dataplane::app::BufferId id = dataplane::app::BufferId{};
    BufDir dir = BufDir::Fixed;
    PacketHeader header = PacketHeader::None;  // packet-header sticky buffers (id unused)
};

struct KeywordDef {
    std::string_view name;  // lower case
    KeywordFamily family;
    ValueRule value;
    KeywordHandler apply;
    BufferSpec buffer{};        // StickyBuffer and LegacyBuffer rows
    TransformKind transform{};  // Transform rows (the value is parsed by parse_transform)
};

// The rows of each family file.
std::span<const KeywordDef> meta_keywords();
std::span<const KeywordDef> payload_keywords();
std::span<const KeywordDef> header_keywords();
std::span<const KeywordDef> flow_keywords();
std::span<const KeywordDef> buffer_keywords();
std::span<const KeywordDef> dataset_keywords();

// Every keyword, in family order (meta, payload, header, flow, buffers, datasets).
std::span<const KeywordDef* const> all_keywords();

// The row of a keyword, case-insensitively; nullptr when Vigil does not implement it.
const KeywordDef* find_keyword(std::string_view name);

// The ValueRule check, with the messages rules are rejected with ("nocase takes no value",
// "sid needs a value").
Status check_value(const KeywordDef& kw, const std::optional<std::string_view>& value);

// Why a keyword the parser does not implement is rejected, or nullopt when it is in the table.
// App-layer keywords that are not modelled (other protocols' buffers, app-layer-event, ...)
// are marked "(app-layer)" and known transforms "(transform)" so coverage reports can bucket
// them.
std::optional<std::string> unsupported_keyword(std::string_view name);

// The buffer a pcre buffer flag (U, I, P, Q, H, D, M, C, S, Y, V, W, Z) stands for, with the
// legacy modifier it is named after; nullptr for other letters.
struct PcreBufferFlag {
    char flag;
    std::string_view keyword;
    BufferSpec buffer;
};
const PcreBufferFlag* find_pcre_buffer_flag(char flag);

}  // namespace vigil::rules::detail
