#pragma once
// Internal to rules/: small string helpers shared by the rule, address and vars parsers.
// Integer parsing is strict (whole token, range-checked) because a lenient strtol would let
// "10x" or "-3" through as a valid depth or sid.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/text.h"
#include "rules/rule.h"

namespace vigil::rules::detail {

// Splits on `sep` (no quoting) and trims each piece. "a, b,,c" -> {"a", "b", "", "c"}.
std::vector<std::string_view> split_trim(std::string_view s, char sep);

// Splits on runs of whitespace.
std::vector<std::string_view> split_ws(std::string_view s);

// ASCII lower-case copy.
std::string lower(std::string_view s);

using vigil::iequals;  // common/text.h

// Decimal, or hex with a 0x prefix when allow_hex. No sign, no spaces, no trailing junk.
std::optional<uint64_t> parse_u64(std::string_view s, bool allow_hex = false);

// Optional leading '-' (or '+'), then decimal digits (or 0x hex when allow_hex).
std::optional<int64_t> parse_i64(std::string_view s, bool allow_hex = false);

// "'<value>' is not <what>" helpers build uniform messages: "depth: '-3' is not a positive
// integer".
std::string quote(std::string_view s);

// Threshold track names shared by rule options and threshold.config: by_src, by_dst,
// by_rule, by_both, by_flow. nullopt for anything else (the caller words the error).
std::optional<Threshold::Track> parse_track(std::string_view v);

}  // namespace vigil::rules::detail
