#pragma once
// Internal to rules/: value grammars shared by the keyword families (strict integers in a
// range, byte_extract operands, quoted strings, Suricata's integer comparisons) and the
// uniform rejection messages ("depth: '-3' is not a positive integer").

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "rules/parse_util.h"
#include "rules/rule.h"

namespace vigil::rules::detail {

// Suricata's DETECT_CONTENT_VALUE_MAX: the bound on offset, depth, distance and within.
inline constexpr int64_t kContentValueMax = 65535;

Error reject(std::string reason);

// "<opt>: '<value>' is not <what>".
Error bad_value(std::string_view opt, std::string_view value, std::string_view what);

// A C identifier (byte_extract variable names).
bool is_identifier(std::string_view s);

// Strict unsigned value in [lo, hi].
Result<uint64_t> uint_in(std::string_view opt, std::string_view v, uint64_t lo, uint64_t hi,
                         bool allow_hex = false);

// Strict signed value in [lo, hi].
Result<int64_t> int_in(std::string_view opt, std::string_view v, int64_t lo, int64_t hi);

// A number in [lo, hi] or the name of an earlier byte_extract.
Result<Operand> operand(std::string_view opt, std::string_view v, const Rule& rule, int64_t lo,
                        int64_t hi, bool allow_hex = false);

// Strips the surrounding quotes of msg-like values and resolves \" \\ \; escapes; with
// `keep_other_escapes` only \" and \; (a regular expression keeps its own escapes).
std::string unquote(std::string_view v, bool keep_other_escapes = false);

// Comparison grammar shared by dsize, ttl, itype, icode, bsize, urilen, stream_size
// (Suricata's uint parser): N, =N, !N, !=N, <N, <=N, >N, >=N, N<>M and N-M (ranges exclusive).
Result<IntMatch> parse_int_match(std::string_view opt, std::string_view v, uint64_t max);

// Non-payload options may appear once per rule (Suricata rejects duplicates of most):
// "duplicate <name>" when `present`.
Status once(std::string_view name, bool present);

// A once-per-rule comparison keyword (dsize, ttl, itype, icode) into `dst`.
Status set_int_match(std::optional<IntMatch>& dst, std::string_view name, std::string_view v,
                     uint64_t max);

}  // namespace vigil::rules::detail
