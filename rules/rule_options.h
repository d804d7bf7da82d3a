#pragma once
// Internal to rules/: the rule option keywords (msg, content, pcre, flow, byte_test, ...).
// rule_parser.cc splits a rule into its header and raw options; this applies each option to
// the Rule in order and keeps the per-rule state that options depend on (the last content
// for modifiers, byte_extract names, whether priority was explicit).

#include <optional>
#include <string>
#include <string_view>

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

    // Checks that need the whole rule (sid present, fast_pattern:only constraints).
    Status finish();

private:
    Status apply_content(std::string_view v);
    Status apply_modifier(std::string_view name, const std::optional<std::string_view>& v);
    Status apply_pcre(std::string_view v);

    Rule& rule_;
    const Vars& vars_;
    bool explicit_priority_ = false;
    bool have_sid_ = false;
    bool have_rev_ = false;
    bool have_gid_ = false;
    bool have_msg_ = false;
    bool have_classtype_ = false;
    bool have_fast_pattern_ = false;
};

// Why a keyword the parser does not implement is rejected, or nullopt when it is supported.
// App-layer keywords (sticky buffers, http_* modifiers, app-layer-protocol, ...) are marked
// "(app-layer)" so coverage reports can bucket them.
std::optional<std::string> unsupported_keyword(std::string_view name);

}  // namespace vigil::rules::detail
