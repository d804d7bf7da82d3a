#pragma once
// Internal to rules/: the rule option keywords (msg, content, pcre, flow, byte_test, ...).
// rule_parser.cc splits a rule into its header and raw options; this applies each option to
// the Rule in order and keeps the per-rule state that options depend on (the last content
// for modifiers, byte_extract names, whether priority was explicit).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "rules/rule.h"
#include "rules/rule_parser.h"

namespace vigil::rules::detail {

struct RawOption {
    std::string_view name;                  // as written
    std::optional<std::string_view> value;  // raw (escapes kept), trimmed; none for `nocase;`
};

class OptionParser {
public:
    OptionParser(Rule& rule, const Vars& vars) : rule_(rule), vars_(vars) {}

    // Applies one option. Errors carry the rejection reason only (no file/line/sid).
    Status apply(const RawOption& opt);

    // Checks that need the whole rule (sid present, fast_pattern:only constraints), then
    // resolves buffer directions from flow, merges sections naming the same buffer and binds
    // the rule to the application protocol its header, app-layer-protocol and buffers name.
    Status finish();

    // How a buffer keyword's BufferId depends on the rule's direction (resolved in finish()).
    enum class BufDir : uint8_t {
        Fixed,     // as given
        Flow,      // request variant; the response variant under flow:to_client
        FileData,  // response body; the request body under flow:to_server
    };

private:
    // A place in the rule's programs: list -1 is Rule::payload, else Rule::buffers[list].
    struct OpRef {
        int list = -1;
        size_t idx = 0;
        bool valid = false;
    };
    // Per entry of Rule::buffers (one per sticky-buffer section or legacy-modifier target),
    // until finish() resolves and merges them.
    struct Section {
        BufDir dir = BufDir::Fixed;
        bool sticky = false;  // opened by a sticky buffer keyword (not a legacy modifier)
    };

    Status apply_content(std::string_view v);
    Status apply_modifier(std::string_view name, const std::optional<std::string_view>& v);
    Status apply_pcre(std::string_view v);
    Status apply_sticky(std::string_view name, dataplane::app::BufferId id, BufDir dir);
    Status apply_legacy_buffer(std::string_view name, dataplane::app::BufferId id, BufDir dir);
    Status apply_transform(std::string_view name, Transform t);
    Status apply_bsize(std::string_view v);
    Status apply_urilen(std::string_view v);
    Status apply_app_layer_protocol(std::string_view v);
    Status resolve_buffers();
    Status bind_app_proto();

    std::vector<PayloadOp>& ops(int list);
    // Appends an op to a list and remembers it for modifiers and relative keywords.
    void push_op(int list, PayloadOp op);
    // The last section for a legacy modifier / pcre flag target, created when needed.
    int legacy_section(std::string_view keyword, dataplane::app::BufferId id, BufDir dir);
    // Where a relative isdataat / byte_* goes when no sticky buffer is active: the list of
    // the previous match (Suricata's rule), else the payload.
    int relative_target(bool content_pcre_only) const;

    Rule& rule_;
    const Vars& vars_;
    bool explicit_priority_ = false;
    bool have_sid_ = false;
    bool have_rev_ = false;
    bool have_gid_ = false;
    bool have_msg_ = false;
    bool have_classtype_ = false;
    bool have_fast_pattern_ = false;

    std::vector<Section> sections_;  // parallel to rule_.buffers until finish()
    int cur_list_ = -1;              // active sticky buffer section, -1 = payload
    OpRef last_content_;             // target of content modifiers
    OpRef last_match_;               // last content / pcre (relative isdataat)
    OpRef last_any_;                 // last content / pcre / byte_* / isdataat (byte_*)
    bool have_app_layer_protocol_ = false;
    dataplane::app::AppProto alp_ = dataplane::app::AppProto::Unknown;
    bool alp_negated_ = false;
};

// Why a keyword the parser does not implement is rejected, or nullopt when it is supported.
// App-layer keywords that are not modelled (other protocols' buffers, app-layer-event, ...)
// are marked "(app-layer)" so coverage reports can bucket them.
std::optional<std::string> unsupported_keyword(std::string_view name);

// Application protocols the sensor detects, by their rule names (header protocol and
// app-layer-protocol): http, dns, tls, ssh, smtp, ftp, smb, failed, and Suricata's aliases
// http1 and ssl. nullopt for anything else.
std::optional<dataplane::app::AppProto> app_proto_by_name(std::string_view name);

}  // namespace vigil::rules::detail
