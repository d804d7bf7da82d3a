// Value grammars shared by the keyword families. Integer parsing is strict (whole token,
// range-checked) and every rejection names the keyword and the offending value.

#include "rules/options/parse.h"

#include <algorithm>
#include <array>
#include <utility>

namespace vigil::rules::detail {

Error reject(std::string reason) {
    return make_error(ErrorCode::RuleParse, std::move(reason));
}

Error bad_value(std::string_view opt, std::string_view value, std::string_view what) {
    return reject(std::string(opt) + ": " + quote(value) + " is not " + std::string(what));
}

bool is_identifier(std::string_view s) {
    if (s.empty() ||
        !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_')) {
        return false;
    }
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_';
    });
}

// Strict unsigned value in [lo, hi].
Result<uint64_t> uint_in(std::string_view opt, std::string_view v, uint64_t lo, uint64_t hi,
                         bool allow_hex) {
    v = trim(v);
    const auto n = parse_u64(v, allow_hex);
    if (!n) {
        return bad_value(opt, v, lo > 0 ? "a positive integer" : "a non-negative integer");
    }
    if (*n < lo || *n > hi) {
        return reject(std::string(opt) + ": " + quote(v) + " is out of range (" +
                      std::to_string(lo) + "-" + std::to_string(hi) + ")");
    }
    return *n;
}

Result<int64_t> int_in(std::string_view opt, std::string_view v, int64_t lo, int64_t hi) {
    v = trim(v);
    const auto n = parse_i64(v);
    if (!n) {
        return bad_value(opt, v, "an integer");
    }
    if (*n < lo || *n > hi) {
        return reject(std::string(opt) + ": " + quote(v) + " is out of range (" +
                      std::to_string(lo) + " to " + std::to_string(hi) + ")");
    }
    return *n;
}

// A number or the name of an earlier byte_extract.
Result<Operand> operand(std::string_view opt, std::string_view v, const Rule& rule, int64_t lo,
                        int64_t hi, bool allow_hex) {
    v = trim(v);
    if (is_identifier(v)) {
        const auto it = std::find(rule.byte_vars.begin(), rule.byte_vars.end(), v);
        if (it == rule.byte_vars.end()) {
            return reject(std::string(opt) + ": unknown byte_extract variable " + quote(v));
        }
        Operand o;
        o.var = static_cast<int>(it - rule.byte_vars.begin());
        return o;
    }
    Operand o;
    if (lo >= 0) {
        const auto n = parse_u64(v, allow_hex);
        if (!n) {
            return bad_value(opt, v, lo > 0 ? "a positive integer" : "a non-negative integer");
        }
        if (*n < static_cast<uint64_t>(lo) || *n > static_cast<uint64_t>(hi)) {
            return reject(std::string(opt) + ": " + quote(v) + " is out of range (" +
                          std::to_string(lo) + "-" + std::to_string(hi) + ")");
        }
        o.value = static_cast<int64_t>(*n);
        return o;
    }
    const auto n = parse_i64(v, allow_hex);
    if (!n) {
        return bad_value(opt, v, "an integer");
    }
    if (*n < lo || *n > hi) {
        return reject(std::string(opt) + ": " + quote(v) + " is out of range (" +
                      std::to_string(lo) + " to " + std::to_string(hi) + ")");
    }
    o.value = *n;
    return o;
}

// Strips the surrounding quotes of msg-like values and resolves \" \\ \; escapes.
std::string unquote(std::string_view v, bool keep_other_escapes) {
    v = trim(v);
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
        v = v.substr(1, v.size() - 2);
    }
    std::string out;
    out.reserve(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
        if (v[i] == '\\' && i + 1 < v.size() &&
            (!keep_other_escapes || v[i + 1] == '"' || v[i + 1] == ';')) {
            ++i;
        }
        out += v[i];
    }
    return out;
}

// Ranges are exclusive: N < x < M.
Result<IntMatch> parse_int_match(std::string_view opt, std::string_view v, uint64_t max) {
    const std::string o(opt);
    v = trim(v);
    IntMatch m;
    auto number = [&](std::string_view s) -> Result<uint64_t> { return uint_in(o, s, 0, max); };
    struct Prefix {
        std::string_view text;
        IntMatch::Op op;
    };
    static constexpr std::array<Prefix, 7> kPrefixes{{{"<=", IntMatch::Op::Le},
                                                      {">=", IntMatch::Op::Ge},
                                                      {"!=", IntMatch::Op::Ne},
                                                      {"<", IntMatch::Op::Lt},
                                                      {">", IntMatch::Op::Gt},
                                                      {"!", IntMatch::Op::Ne},
                                                      {"=", IntMatch::Op::Eq}}};
    for (const Prefix& p : kPrefixes) {
        if (v.starts_with(p.text)) {
            auto n = number(v.substr(p.text.size()));
            if (!n) {
                return n.error();
            }
            m.op = p.op;
            m.lo = *n;
            return m;
        }
    }
    size_t sep = v.find("<>");
    size_t sep_len = 2;
    if (sep == std::string_view::npos) {
        sep = v.find('-');
        sep_len = 1;
    }
    if (sep != std::string_view::npos) {
        auto lo = number(v.substr(0, sep));
        if (!lo) {
            return lo.error();
        }
        auto hi = number(v.substr(sep + sep_len));
        if (!hi) {
            return hi.error();
        }
        if (*lo >= *hi) {
            return reject(o + ": bad range " + quote(v) + " (low must be below high)");
        }
        m.op = IntMatch::Op::Range;
        m.lo = *lo;
        m.hi = *hi;
        return m;
    }
    auto n = number(v);
    if (!n) {
        return n.error();
    }
    m.lo = *n;
    return m;
}

Status once(std::string_view name, bool present) {
    if (present) {
        return reject("duplicate " + std::string(name));
    }
    return Ok{};
}

Status set_int_match(std::optional<IntMatch>& dst, std::string_view name, std::string_view v,
                     uint64_t max) {
    if (auto st = once(name, dst.has_value()); !st) {
        return st;
    }
    auto m = parse_int_match(name, v, max);
    if (!m) {
        return m.error();
    }
    dst = *m;
    return Ok{};
}

}  // namespace vigil::rules::detail
