#pragma once
// Internal to rules/: applying rule options (msg, content, pcre, flow, byte_test, ...) to a Rule.
// rule_parser.cc splits a rule into its header and raw options; OptionParser looks each option
// up in the keyword table (rules/options/registry.h), runs its handler, and keeps the per-rule
// state that options depend on (the last content for modifiers, the active sticky buffer,
// byte_extract names, which once-per-rule keywords were seen).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "rules/options/registry.h"
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

    using BufDir = detail::BufDir;

    // --- The per-rule state keyword handlers (rules/options/*.cc) work on. ---

    // Once-per-rule keywords already seen.
    struct Seen {
        bool msg = false;
        bool sid = false;
        bool rev = false;
        bool gid = false;
        bool classtype = false;
        bool priority = false;  // explicit: a later classtype keeps it
        bool fast_pattern = false;
        bool app_layer_protocol = false;
    };

    Rule& rule() { return rule_; }
    const Vars& vars() const { return vars_; }
    Seen& seen() { return seen_; }

    // The active sticky buffer section (-1: the packet payload) and its BufferMatch.
    int current_list() const { return cur_list_; }
    BufferMatch* current_buffer();
    // pkt_data: what follows inspects the packet payload again.
    void end_sticky() {
        cur_list_ = -1;
        b64_open_ = false;
    }

    // Appends an op to a list (-1: Rule::payload, else Rule::buffers[list]) and remembers it
    // for modifiers and relative keywords.
    void push_op(int list, PayloadOp op);
    // Where a relative isdataat / byte_* goes when no sticky buffer is active: the list of
    // the previous match (Suricata's rule), else the payload.
    int relative_target(bool content_pcre_only) const;
    // The target of content modifiers: the most recent content, wherever it moved since.
    Content* last_content();

    // A sticky buffer keyword opens a section (`written`: the keyword as written).
    void open_sticky(std::string_view written, const BufferSpec& buf);
    // A transform after the active section's matches (Suricata 8): those matches keep
    // inspecting the buffer as it was; a new section of the same buffer, with the
    // transforms so far, becomes active for the transform and what follows it.
    BufferMatch* reopen_for_transform();
    // An integer keyword on a transaction field (dns.opcode, ...): a program on the field's
    // buffer, beside the active sticky buffer (which stays active).
    void add_field_test(std::string_view keyword, dataplane::app::BufferId id,
                        std::vector<PayloadOp> ops);
    // A legacy modifier (http_uri, uricontent) moves the preceding payload content.
    Status move_last_content(std::string_view keyword, const BufferSpec& buf);
    // A pcre goes to the active sticky buffer, or to the buffer its flag names (`flag`,
    // nullptr for none); /R outside a sticky buffer needs an earlier match in that buffer.
    Status place_pcre(Pcre p, const PcreBufferFlag* flag);
    // base64_data: what follows inspects the bytes of the last base64_decode, in its program
    // (after a Base64Data op there). Refused without a preceding base64_decode.
    Status open_base64_data();
    // app-layer-protocol:[!]proto, checked against the header and buffers in finish().
    void set_app_layer_protocol(dataplane::app::AppProto p, bool negated);

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

    Status resolve_buffers();
    Status check_header_proto(const BufferMatch& b) const;
    Status bind_app_proto();

    std::vector<PayloadOp>& ops(int list);
    // The last section for a legacy modifier / pcre flag target, created when needed.
    int legacy_section(std::string_view keyword, dataplane::app::BufferId id, BufDir dir);

    Rule& rule_;
    const Vars& vars_;
    Seen seen_;

    std::vector<Section> sections_;  // parallel to rule_.buffers until finish()
    int cur_list_ = -1;              // active sticky buffer section, -1 = payload
    OpRef last_content_;             // target of content modifiers
    OpRef last_match_;               // last content / pcre (relative isdataat)
    OpRef last_any_;                 // last content / pcre / byte_* / isdataat (byte_*)
    OpRef last_b64_decode_;          // the last base64_decode (where base64_data goes)
    int b64_list_ = -2;              // the program holding a Base64Data op (-2: none)
    bool b64_open_ = false;          // base64_data is the active buffer
    bool b64_misplaced_ = false;     // an op joined b64_list_ after base64_data was left
    dataplane::app::AppProto alp_ = dataplane::app::AppProto::Unknown;
    bool alp_negated_ = false;
};

// Application protocols the sensor detects, by their rule names (header protocol and
// app-layer-protocol): http, dns, tls, ssh, smtp, ftp, smb, failed, and Suricata's aliases
// http1 and ssl. nullopt for anything else.
std::optional<dataplane::app::AppProto> app_proto_by_name(std::string_view name);

}  // namespace vigil::rules::detail
