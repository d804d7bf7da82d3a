// Payload keywords: content and its modifiers, pcre, isdataat, byte_test / byte_jump /
// byte_extract, base64_decode / base64_data, bsize, dsize, urilen, uricontent, pkt_data and
// prefilter. They build the match
// programs of Rule::payload and Rule::buffers through the parser's per-rule state.

#include <algorithm>
#include <array>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "rules/options/parse.h"
#include "rules/options/registry.h"
#include "rules/rule_options.h"

namespace vigil::rules::detail {

namespace {

// content:[!]"text|41 42|\"more"
Status decode_content(std::string_view v, Content& c) {
    v = trim(v);
    if (!v.empty() && v[0] == '!') {
        c.negated = true;
        v = trim(v.substr(1));
    }
    if (v.empty() || v.front() != '"') {
        return reject("content: value must be a quoted string, got " + quote(v));
    }
    std::string& out = c.bytes;
    out.reserve(v.size());
    bool hex = false;
    bool closed = false;
    int hi_nibble = -1;
    size_t i = 1;
    for (; i < v.size(); ++i) {
        const char ch = v[i];
        if (hex) {
            if (ch == '|' || ch == '"' || is_space(ch)) {
                if (hi_nibble >= 0) {
                    return reject("content: odd number of hex digits in " + quote(v));
                }
                if (ch == '"') {
                    return reject("content: unterminated hex block in " + quote(v));
                }
                hex = ch != '|';
                continue;
            }
            const int d = hex_digit(ch);
            if (d < 0) {
                return reject("content: bad hex character " + quote(std::string(1, ch)) + " in " +
                              quote(v));
            }
            if (hi_nibble < 0) {
                hi_nibble = d;
            } else {
                out += static_cast<char>((hi_nibble << 4) | d);
                hi_nibble = -1;
            }
            continue;
        }
        if (ch == '|') {
            hex = true;
            continue;
        }
        if (ch == '\\') {
            if (i + 1 >= v.size()) {
                break;
            }
            const char e = v[++i];
            if (e != '"' && e != ';' && e != '\\' && e != ':' && e != ',') {
                return reject("content: bad escape " + quote(std::string("\\") + e) +
                              " (only \\\" \\; \\\\ \\: \\, are allowed)");
            }
            out += e;
            continue;
        }
        if (ch == '"') {
            closed = true;
            break;
        }
        out += ch;
    }
    if (hex) {
        return reject("content: unterminated hex block in " + quote(v));
    }
    if (!closed) {
        return reject("content: unterminated string " + quote(v));
    }
    if (i + 1 != v.size()) {
        return reject("content: unexpected text after the closing quote in " + quote(v));
    }
    if (out.empty()) {
        return reject("content: empty pattern");
    }
    return Ok{};
}

// The comma-separated tail shared by byte_test, byte_jump and byte_extract.
struct ByteOpts {
    bool relative = false;
    bool big = false;
    bool little = false;
    bool string = false;
    NumBase base = NumBase::None;
    bool dce = false;
    bool align = false;               // byte_jump
    std::optional<uint64_t> align_n;  // byte_extract "align N"
    bool from_beginning = false;
    bool from_end = false;
    std::optional<uint64_t> multiplier;
    std::optional<int64_t> post_offset;
    std::optional<uint64_t> bitmask;
};

enum class ByteKw : uint8_t { Test, Jump, Extract };

Status parse_byte_opts(std::string_view opt, ByteKw kw, const std::vector<std::string_view>& parts,
                       size_t first, ByteOpts& b) {
    const std::string o(opt);
    for (size_t i = first; i < parts.size(); ++i) {
        const auto words = split_ws(parts[i]);
        if (words.empty()) {
            return reject(o + ": empty option");
        }
        const std::string k = lower(words[0]);
        const bool has_arg = k == "multiplier" || k == "post_offset" || k == "bitmask" ||
                             (k == "align" && kw == ByteKw::Extract);
        if (words.size() != (has_arg ? 2U : 1U)) {
            return reject(o + ": bad option " + quote(parts[i]));
        }
        if (k == "relative") {
            b.relative = true;
        } else if (k == "big" || k == "little") {
            // The last one wins (Suricata accepts both).
            b.big = k == "big";
            b.little = k == "little";
        } else if (k == "string") {
            b.string = true;
        } else if (k == "hex" || k == "dec" || k == "oct") {
            if (b.base != NumBase::None) {
                return reject(o + ": more than one number base");
            }
            b.base = k == "hex" ? NumBase::Hex : k == "dec" ? NumBase::Dec : NumBase::Oct;
        } else if (k == "dce") {
            b.dce = true;
        } else if (k == "bitmask") {
            const auto n = parse_u64(words[1], true);
            if (!n || *n == 0 || *n > UINT32_MAX) {
                return reject(o + ": bad bitmask " + quote(words[1]));
            }
            b.bitmask = *n;
        } else if (k == "multiplier" && kw != ByteKw::Test) {
            auto n = uint_in(o + " multiplier", words[1], 1, 65535);
            if (!n) {
                return n.error();
            }
            b.multiplier = *n;
        } else if (k == "align" && kw == ByteKw::Jump) {
            b.align = true;
        } else if (k == "align" && kw == ByteKw::Extract) {
            auto n = uint_in(o + " align", words[1], 2, 4);
            if (!n || *n == 3) {
                return reject(o + ": align must be 2 or 4, got " + quote(words[1]));
            }
            b.align_n = *n;
        } else if (k == "from_beginning" && kw == ByteKw::Jump) {
            b.from_beginning = true;
        } else if (k == "from_end" && kw == ByteKw::Jump) {
            b.from_end = true;
        } else if (k == "post_offset" && kw == ByteKw::Jump) {
            auto n = int_in(o + " post_offset", words[1], -kContentValueMax, kContentValueMax);
            if (!n) {
                return n.error();
            }
            b.post_offset = *n;
        } else {
            return reject(o + ": unknown option " + quote(parts[i]));
        }
    }
    if (b.dce && (b.big || b.little || b.string)) {
        return reject(o + ": dce can't be combined with big/little/string");
    }
    if (b.base != NumBase::None && !b.string) {
        return reject(o + ": number base given without 'string'");
    }
    if (b.string && b.base == NumBase::None) {
        b.base = NumBase::Dec;
    }
    if (b.from_beginning && b.from_end) {
        return reject(o + ": from_beginning conflicts with from_end");
    }
    return Ok{};
}

// nbytes: at most 8 for binary values and 23 for string conversions (the longest octal
// string that fits in 64 bits), as in Suricata. byte_jump also takes 0 (a pure cursor move
// by post_offset, which ET uses).
Result<uint8_t> parse_nbytes(std::string_view opt, std::string_view v, bool string,
                             uint64_t min = 1) {
    auto n = uint_in(std::string(opt) + " nbytes", v, min, 23);
    if (!n) {
        return n.error();
    }
    if (!string && *n > 8) {
        return reject(std::string(opt) +
                      ": can't convert more than 8 bytes without 'string' (got " +
                      std::to_string(*n) + ")");
    }
    return static_cast<uint8_t>(*n);
}

Result<ByteTest> parse_byte_test(std::string_view v, const Rule& rule) {
    const auto parts = split_trim(v, ',');
    if (parts.size() < 4) {
        return reject("byte_test: expected <nbytes>,<op>,<value>,<offset>[,options], got " +
                      quote(trim(v)));
    }
    ByteTest t;
    ByteOpts b;
    if (auto st = parse_byte_opts("byte_test", ByteKw::Test, parts, 4, b); !st) {
        return st.error();
    }
    if (trim(parts[0]) == "0") {
        // Suricata 7: the rest of the buffer, read as a number in text (nbytes 0).
        if (!b.string) {
            return reject("byte_test: nbytes 0 (the rest of the buffer) needs 'string'");
        }
        t.nbytes = 0;
    } else {
        auto nb = parse_nbytes("byte_test", parts[0], b.string);
        if (!nb) {
            return nb.error();
        }
        t.nbytes = *nb;
    }
    std::string_view op = parts[1];
    if (!op.empty() && op[0] == '!') {
        t.negated = true;
        op = trim(op.substr(1));
    }
    if (op.empty() || op == "=") {
        if (!t.negated && op.empty()) {
            return reject("byte_test: missing operator");
        }
        t.op = '=';
    } else if (op == "<" || op == ">" || op == "&" || op == "^") {
        t.op = op[0];
    } else if (op == "<=") {
        t.op = 'l';
    } else if (op == ">=") {
        t.op = 'g';
    } else {
        return reject("byte_test: bad operator " + quote(parts[1]));
    }
    auto value = operand("byte_test value", parts[2], rule, 0, INT64_MAX, true);
    if (!value) {
        // Values up to 2^64-1 are legal for 8-byte tests; keep their bit pattern.
        const auto big = parse_u64(parts[2], true);
        if (!big) {
            return value.error();
        }
        t.value.value = static_cast<int64_t>(*big);
    } else {
        t.value = *value;
    }
    auto off = operand("byte_test offset", parts[3], rule, -kContentValueMax, kContentValueMax);
    if (!off) {
        return off.error();
    }
    t.offset = *off;
    t.relative = b.relative;
    t.endian = b.little ? Endian::Little : Endian::Big;
    t.base = b.base;
    t.dce = b.dce;
    t.bitmask = b.bitmask;
    return t;
}

Result<ByteJump> parse_byte_jump(std::string_view v, const Rule& rule) {
    const auto parts = split_trim(v, ',');
    if (parts.size() < 2) {
        return reject("byte_jump: expected <nbytes>,<offset>[,options], got " + quote(trim(v)));
    }
    ByteJump j;
    ByteOpts b;
    if (auto st = parse_byte_opts("byte_jump", ByteKw::Jump, parts, 2, b); !st) {
        return st.error();
    }
    auto nb = parse_nbytes("byte_jump", parts[0], b.string, 0);
    if (!nb) {
        return nb.error();
    }
    j.nbytes = *nb;
    auto off = operand("byte_jump offset", parts[1], rule, -kContentValueMax, kContentValueMax);
    if (!off) {
        return off.error();
    }
    j.offset = *off;
    j.relative = b.relative;
    j.multiplier = static_cast<uint32_t>(b.multiplier.value_or(1));
    j.endian = b.little ? Endian::Little : Endian::Big;
    j.base = b.base;
    j.align = b.align;
    j.from_beginning = b.from_beginning;
    j.from_end = b.from_end;
    j.post_offset = static_cast<int32_t>(b.post_offset.value_or(0));
    j.dce = b.dce;
    j.bitmask = b.bitmask;
    return j;
}

Result<ByteExtract> parse_byte_extract(std::string_view v, Rule& rule) {
    const auto parts = split_trim(v, ',');
    if (parts.size() < 3) {
        return reject("byte_extract: expected <nbytes>,<offset>,<name>[,options], got " +
                      quote(trim(v)));
    }
    ByteExtract e;
    ByteOpts b;
    if (auto st = parse_byte_opts("byte_extract", ByteKw::Extract, parts, 3, b); !st) {
        return st.error();
    }
    auto nb = parse_nbytes("byte_extract", parts[0], b.string);
    if (!nb) {
        return nb.error();
    }
    e.nbytes = *nb;
    auto off = int_in("byte_extract offset", parts[1], -kContentValueMax, kContentValueMax);
    if (!off) {
        return off.error();
    }
    e.offset = static_cast<int32_t>(*off);
    const std::string_view name = parts[2];
    if (!is_identifier(name)) {
        return reject("byte_extract: bad variable name " + quote(name));
    }
    if (std::find(rule.byte_vars.begin(), rule.byte_vars.end(), name) != rule.byte_vars.end()) {
        return reject("byte_extract: variable " + quote(name) + " already defined");
    }
    e.relative = b.relative;
    e.multiplier = static_cast<uint32_t>(b.multiplier.value_or(1));
    e.endian = b.little ? Endian::Little : Endian::Big;
    e.base = b.base;
    e.align = static_cast<uint8_t>(b.align_n.value_or(0));
    e.dce = b.dce;
    e.bitmask = b.bitmask;
    rule.byte_vars.emplace_back(name);
    e.var = static_cast<int>(rule.byte_vars.size() - 1);
    return e;
}

Result<ByteMath> parse_byte_math(std::string_view v, Rule& rule) {
    const std::string o = "byte_math";
    ByteMath m;
    std::optional<std::string_view> nbytes, offset, oper, rvalue, result;
    bool string = false;
    for (std::string_view part : split_trim(v, ',')) {
        const auto words = split_ws(part);
        if (words.empty()) {
            return reject(o + ": empty option");
        }
        const std::string k = lower(words[0]);
        const auto one_value = [&](std::optional<std::string_view>& dst) -> Status {
            if (words.size() != 2) {
                return reject(o + ": expected '" + k + " <value>', got " + quote(part));
            }
            if (dst) {
                return reject(o + ": duplicate " + k);
            }
            dst = words[1];
            return Ok{};
        };
        Status st = Ok{};
        if (k == "bytes") {
            st = one_value(nbytes);
        } else if (k == "offset") {
            st = one_value(offset);
        } else if (k == "oper") {
            st = one_value(oper);
        } else if (k == "rvalue") {
            st = one_value(rvalue);
        } else if (k == "result") {
            st = one_value(result);
        } else if (k == "relative" && words.size() == 1) {
            m.relative = true;
        } else if (k == "dce" && words.size() == 1) {
            m.dce = true;
        } else if (k == "endian" && words.size() == 2 &&
                   (words[1] == "big" || words[1] == "little")) {
            m.endian = words[1] == "big" ? Endian::Big : Endian::Little;
        } else if (k == "string" && words.size() == 2 &&
                   (words[1] == "hex" || words[1] == "dec" || words[1] == "oct")) {
            string = true;
            m.base = words[1] == "hex"   ? NumBase::Hex
                     : words[1] == "dec" ? NumBase::Dec
                                         : NumBase::Oct;
        } else if (k == "bitmask" && words.size() == 2) {
            const auto n = parse_u64(words[1], true);
            if (!n || *n == 0 || *n > UINT32_MAX) {
                return reject(o + ": bad bitmask " + quote(words[1]));
            }
            m.bitmask = *n;
        } else {
            return reject(o + ": unknown option " + quote(part));
        }
        if (!st) {
            return st.error();
        }
    }
    for (const auto& [have, key] :
         {std::pair{&nbytes, "bytes"}, std::pair{&offset, "offset"}, std::pair{&oper, "oper"},
          std::pair{&rvalue, "rvalue"}, std::pair{&result, "result"}}) {
        if (!*have) {
            return reject(o + ": missing " + key);
        }
    }
    // Binary values up to 4 bytes, strings up to 10 (Suricata); a variable is checked when
    // the rule runs.
    auto nb = operand(o + " bytes", *nbytes, rule, 1, string ? 10 : 4);
    if (!nb) {
        return nb.error();
    }
    m.nbytes = *nb;
    auto off = operand(o + " offset", *offset, rule, -kContentValueMax, kContentValueMax);
    if (!off) {
        return off.error();
    }
    m.offset = *off;
    static constexpr std::pair<std::string_view, char> kOpers[] = {
        {"+", '+'}, {"-", '-'}, {"*", '*'}, {"/", '/'}, {"<<", '<'}, {">>", '>'}};
    const auto op = std::find_if(std::begin(kOpers), std::end(kOpers),
                                 [&](const auto& p) { return p.first == *oper; });
    if (op == std::end(kOpers)) {
        return reject(o + ": oper must be one of + - * / << >>, got " + quote(*oper));
    }
    m.oper = op->second;
    auto rv = operand(o + " rvalue", *rvalue, rule, 0, UINT32_MAX);
    if (!rv) {
        return rv.error();
    }
    m.rvalue = *rv;
    if (m.dce && string) {
        return reject(o + ": dce can't be combined with string");
    }
    if ((m.oper == '<' || m.oper == '>') && !m.nbytes.is_var() && m.nbytes.value > 4) {
        return reject(o + ": bytes must be 1 to 4 with << or >>");
    }
    if (!is_identifier(*result)) {
        return reject(o + ": bad variable name " + quote(*result));
    }
    if (std::find(rule.byte_vars.begin(), rule.byte_vars.end(), *result) != rule.byte_vars.end()) {
        return reject(o + ": variable " + quote(*result) + " already defined");
    }
    rule.byte_vars.emplace_back(*result);
    m.var = static_cast<int>(rule.byte_vars.size() - 1);
    return m;
}

// entropy:[bytes <n>][,offset <n>],value <op><x> (see Entropy).
Result<Entropy> parse_entropy(std::string_view v) {
    const std::string o = "entropy";
    Entropy e;
    bool have_value = false;
    for (std::string_view part : split_trim(v, ',')) {
        const size_t sp = part.find_first_of(" \t");
        const std::string k = lower(part.substr(0, sp));
        const std::string_view val = sp == std::string_view::npos ? "" : trim(part.substr(sp));
        if (k == "bytes" || k == "offset") {
            auto n = uint_in(o + " " + k, val, k == "bytes" ? 1 : 0, kContentValueMax);
            if (!n) {
                return n.error();
            }
            (k == "bytes" ? e.bytes : e.offset) = static_cast<uint32_t>(*n);
        } else if (k == "value" && !have_value) {
            have_value = true;
            std::string_view x = val;
            static constexpr std::pair<std::string_view, Entropy::Op> kOps[] = {
                {"<=", Entropy::Op::Le},     {">=", Entropy::Op::Ge}, {"!=", Entropy::Op::Ne},
                {"<", Entropy::Op::Lt},      {">", Entropy::Op::Gt},  {"=", Entropy::Op::Eq},
                {"!", Entropy::Op::NotRange}};
            e.op = Entropy::Op::Eq;
            bool prefixed = false;
            for (const auto& [text, op] : kOps) {
                if (x.starts_with(text)) {
                    e.op = op;
                    x = trim(x.substr(text.size()));
                    prefixed = true;
                    break;
                }
            }
            const auto number = [&](std::string_view s, double& out) -> Status {
                const std::string t(trim(s));
                char* end = nullptr;
                out = std::strtod(t.c_str(), &end);
                if (t.empty() || end != t.c_str() + t.size() || out < 0 || out > 8) {
                    return reject(o + ": expected an entropy from 0 to 8, got " + quote(s));
                }
                return Ok{};
            };
            const size_t dash = x.find('-');
            if (dash != std::string_view::npos && (!prefixed || e.op == Entropy::Op::NotRange)) {
                e.op = e.op == Entropy::Op::NotRange ? Entropy::Op::NotRange : Entropy::Op::Range;
                if (auto st = number(x.substr(0, dash), e.lo); !st) {
                    return st.error();
                }
                if (auto st = number(x.substr(dash + 1), e.hi); !st) {
                    return st.error();
                }
                if (e.lo >= e.hi) {
                    return reject(o + ": bad range " + quote(x) + " (low must be below high)");
                }
            } else if (e.op == Entropy::Op::NotRange) {
                return reject(o + ": '!' needs a range x-y (use != for one value)");
            } else if (auto st = number(x, e.lo); !st) {
                return st.error();
            }
        } else {
            return reject(o + ": unknown or repeated option " + quote(part));
        }
    }
    if (!have_value) {
        return reject(o + ": missing value");
    }
    return e;
}

Result<IsDataAt> parse_isdataat(std::string_view v, const Rule& rule) {
    const auto parts = split_trim(v, ',');
    IsDataAt d;
    std::string_view size = parts[0];
    if (!size.empty() && size[0] == '!') {
        d.negated = true;
        size = trim(size.substr(1));
    }
    auto n = operand("isdataat", size, rule, 0, kContentValueMax);
    if (!n) {
        return n.error();
    }
    d.size = *n;
    for (size_t i = 1; i < parts.size(); ++i) {
        if (iequals(parts[i], "relative")) {
            d.relative = true;
        } else if (iequals(parts[i], "rawbytes")) {
            d.rawbytes = true;
        } else {
            return reject("isdataat: unknown option " + quote(parts[i]));
        }
    }
    return d;
}

// Suricata refuses a case-sensitive W (host) pcre with an upper-case letter: the host buffer
// is lower-cased, so it could never match. Escapes (\S, \x4A) are not letters of the subject.
bool pcre_has_uppercase(std::string_view re) {
    for (size_t i = 0; i < re.size(); ++i) {
        if (re[i] == '\\') {
            if (i + 1 < re.size() && re[i + 1] == 'x') {
                i += 3;  // \xHH
            } else {
                ++i;
            }
            continue;
        }
        if (re[i] >= 'A' && re[i] <= 'Z') {
            return true;
        }
    }
    return false;
}

Status apply_content(OptionParser& p, const KeywordUse& u) {
    Content c;
    if (auto st = decode_content(u.v(), c); !st) {
        return st;
    }
    p.push_op(p.current_list(), std::move(c));
    return Ok{};
}

// Suricata's deprecated spelling of content + http_uri.
Status apply_uricontent(OptionParser& p, const KeywordUse& u) {
    if (auto st = apply_content(p, u); !st) {
        return st;
    }
    return p.move_last_content("uricontent", {dataplane::app::BufferId::HttpUri, BufDir::Fixed});
}

Status apply_pcre(OptionParser& parser, const KeywordUse& u) {
    std::string_view v = u.v();
    Pcre p;
    v = trim(v);
    if (!v.empty() && v[0] == '!') {
        p.negated = true;
        v = trim(v.substr(1));
    }
    // Quotes are customary but Suricata also takes pcre:/x/i;
    std::string_view in = v;
    if (!v.empty() && v.front() == '"') {
        if (v.size() < 2 || v.back() != '"') {
            return reject("pcre: unterminated string " + quote(v));
        }
        in = v.substr(1, v.size() - 2);
    }
    const size_t last = in.rfind('/');
    if (in.empty() || in[0] != '/' || last == 0) {
        return reject("pcre: expected \"/pattern/flags\", got " + quote(v));
    }
    p.pattern = std::string(in.substr(1, last - 1));
    p.flags = std::string(trim(in.substr(last + 1)));
    if (p.pattern.empty()) {
        return reject("pcre: empty pattern");
    }
    if (const size_t comma = p.flags.find(','); comma != std::string::npos) {
        return reject("unsupported pcre capture into variables " +
                      quote(trim(std::string_view(p.flags).substr(comma + 1))));
    }
    const PcreBufferFlag* buf_flag = nullptr;
    for (char f : p.flags) {
        switch (f) {
            case 'i':
                p.caseless = true;
                break;
            case 's':
                p.dotall = true;
                break;
            case 'm':
                p.multiline = true;
                break;
            case 'x':
                p.extended = true;
                break;
            case 'A':
                p.anchored = true;
                break;
            case 'E':
                p.dollar_endonly = true;
                break;
            case 'G':
                p.ungreedy = true;
                break;
            case 'R':
                p.relative = true;
                break;
            case 'B':
                p.rawbytes = true;
                break;
            case 'O':  // override the configured match limits: no limits to override here
                break;
            default: {
                const PcreBufferFlag* hit = find_pcre_buffer_flag(f);
                if (hit == nullptr) {
                    return reject("pcre: unknown flag " + quote(std::string(1, f)));
                }
                if (buf_flag != nullptr) {
                    return reject("pcre: more than one buffer flag in " + quote(p.flags));
                }
                buf_flag = hit;
            }
        }
    }
    if (buf_flag != nullptr && buf_flag->flag == 'W' && !p.caseless &&
        pcre_has_uppercase(p.pattern)) {
        return reject(
            "pcre: flag 'W' (http_host) with an upper-case letter in the pattern "
            "can never match the lower-cased host (add 'i' or use 'Z')");
    }
    return parser.place_pcre(std::move(p), buf_flag);
}

// A relative isdataat / byte_* outside a sticky buffer goes to the buffer of the match it
// is relative to (content:"x"; http_uri; isdataat:1,relative; inspects the URI).
Status apply_isdataat(OptionParser& p, const KeywordUse& u) {
    auto d = parse_isdataat(u.v(), p.rule());
    if (!d) {
        return d.error();
    }
    p.push_op(d->relative ? p.relative_target(true) : p.current_list(), *d);
    return Ok{};
}

// A parsed byte_* op goes where its relative flag says: after the previous match, or into
// the active buffer.
template <class Op>
Status push_byte_op(OptionParser& p, Result<Op> op) {
    if (!op) {
        return op.error();
    }
    p.push_op(op->relative ? p.relative_target(false) : p.current_list(), std::move(*op));
    return Ok{};
}

Status apply_byte_test(OptionParser& p, const KeywordUse& u) {
    return push_byte_op(p, parse_byte_test(u.v(), p.rule()));
}

Status apply_byte_jump(OptionParser& p, const KeywordUse& u) {
    return push_byte_op(p, parse_byte_jump(u.v(), p.rule()));
}

Status apply_byte_extract(OptionParser& p, const KeywordUse& u) {
    return push_byte_op(p, parse_byte_extract(u.v(), p.rule()));
}

Status apply_byte_math(OptionParser& p, const KeywordUse& u) {
    return push_byte_op(p, parse_byte_math(u.v(), p.rule()));
}

Status apply_entropy(OptionParser& p, const KeywordUse& u) {
    auto e = parse_entropy(u.v());
    if (!e) {
        return e.error();
    }
    p.push_op(p.current_list(), *e);
    return Ok{};
}

// base64_decode[:bytes <n>][,offset <n>][,relative]   (Suricata: bytes 1-65535, offset
// 0-4294967295, each at most once, in any order here)
Result<Base64Decode> parse_base64_decode(const std::optional<std::string_view>& value) {
    Base64Decode d;
    if (!value || trim(*value).empty()) {
        return d;
    }
    bool have_bytes = false;
    bool have_offset = false;
    for (std::string_view item : split_trim(*value, ',')) {
        const auto words = split_ws(item);
        const std::string k = words.empty() ? std::string() : lower(words[0]);
        if (k == "relative" && words.size() == 1) {
            if (d.relative) {
                return reject("base64_decode: duplicate relative");
            }
            d.relative = true;
        } else if (k == "bytes" && words.size() == 2) {
            if (have_bytes) {
                return reject("base64_decode: duplicate bytes");
            }
            have_bytes = true;
            auto n = uint_in("base64_decode bytes", words[1], 1, 65535);
            if (!n) {
                return n.error();
            }
            d.bytes = static_cast<uint32_t>(*n);
        } else if (k == "offset" && words.size() == 2) {
            if (have_offset) {
                return reject("base64_decode: duplicate offset");
            }
            have_offset = true;
            auto n = uint_in("base64_decode offset", words[1], 0, UINT32_MAX);
            if (!n) {
                return n.error();
            }
            d.offset = static_cast<uint32_t>(*n);
        } else {
            return reject("base64_decode: unknown option " + quote(item) +
                          " (expected bytes <n>, offset <n> or relative)");
        }
    }
    return d;
}

// Like Suricata, base64_decode joins the active sticky buffer, else the buffer of the last
// content / pcre / byte_* / isdataat, else the payload.
Status apply_base64_decode(OptionParser& p, const KeywordUse& u) {
    auto d = parse_base64_decode(u.value);
    if (!d) {
        return d.error();
    }
    p.push_op(p.relative_target(false), *d);
    return Ok{};
}

// asn1:<option>[, <option>...], options separated by commas or spaces: bitstring_overflow,
// double_overflow, oversize_length <0-4294967295>, absolute_offset <0-65535>,
// relative_offset <-65535..65535> (Suricata's grammar and bounds).
Result<Asn1> parse_asn1(std::string_view v) {
    std::vector<std::string_view> words;
    for (std::string_view item : split_trim(v, ',')) {
        for (std::string_view w : split_ws(item)) {
            words.push_back(w);
        }
    }
    if (words.empty()) {
        return reject(
            "asn1: expected at least one of bitstring_overflow, double_overflow, "
            "oversize_length <n>, absolute_offset <n>, relative_offset <n>");
    }
    Asn1 a;
    for (size_t i = 0; i < words.size(); ++i) {
        const std::string k = lower(words[i]);
        if (k == "bitstring_overflow") {
            a.bitstring_overflow = true;
            continue;
        }
        if (k == "double_overflow") {
            a.double_overflow = true;
            continue;
        }
        if (k != "oversize_length" && k != "absolute_offset" && k != "relative_offset") {
            return reject("asn1: unknown option " + quote(words[i]) +
                          " (expected bitstring_overflow, double_overflow, oversize_length, "
                          "absolute_offset or relative_offset)");
        }
        if (i + 1 == words.size()) {
            return reject("asn1: " + k + " needs a number");
        }
        const std::string_view n = words[++i];
        const std::string opt = "asn1 " + k;
        if (k == "oversize_length") {
            auto x = uint_in(opt, n, 0, UINT32_MAX);
            if (!x) {
                return x.error();
            }
            a.oversize_length = static_cast<uint32_t>(*x);
        } else if (k == "absolute_offset") {
            auto x = uint_in(opt, n, 0, 65535);
            if (!x) {
                return x.error();
            }
            a.absolute_offset = static_cast<uint16_t>(*x);
        } else {
            auto x = int_in(opt, n, -65535, 65535);
            if (!x) {
                return x.error();
            }
            a.relative_offset = static_cast<int32_t>(*x);
        }
    }
    return a;
}

// Like Suricata, asn1 inspects the packet payload whatever sticky buffer is active.
Status apply_asn1(OptionParser& p, const KeywordUse& u) {
    auto a = parse_asn1(u.v());
    if (!a) {
        return a.error();
    }
    p.push_op(-1, *a);
    return Ok{};
}

Status apply_base64_data(OptionParser& p, const KeywordUse& /*u*/) {
    return p.open_base64_data();
}

Status apply_bsize(OptionParser& p, const KeywordUse& u) {
    BufferMatch* b = p.current_buffer();
    if (b == nullptr) {
        return reject("bsize needs a sticky buffer before it");
    }
    if (b->bsize) {
        return reject("duplicate bsize for " + quote(b->keyword));
    }
    auto m = parse_int_match("bsize", u.v(), UINT64_MAX);
    if (!m) {
        return m.error();
    }
    b->bsize = *m;
    return Ok{};
}

Status apply_dsize(OptionParser& p, const KeywordUse& u) {
    return set_int_match(p.rule().dsize, u.kw.name, u.v(), 65535);
}

Status apply_urilen(OptionParser& p, const KeywordUse& u) {
    Rule& r = p.rule();
    const std::string_view v = u.v();
    if (r.urilen) {
        return reject("duplicate urilen");
    }
    const auto parts = split_trim(v, ',');
    if (parts.size() > 2) {
        return reject("urilen: expected [<|>]<n> or <n><><m>, then optional norm|raw, got " +
                      quote(trim(v)));
    }
    auto m = parse_int_match("urilen", parts[0], 65535);
    if (!m) {
        return m.error();
    }
    bool raw = false;
    if (parts.size() == 2) {
        const std::string kind = lower(parts[1]);
        if (kind != "norm" && kind != "raw") {
            return reject("urilen: expected norm or raw, got " + quote(parts[1]));
        }
        raw = kind == "raw";
    }
    r.urilen = *m;
    r.urilen_raw = raw;
    return Ok{};
}

// pkt_data ends the sticky buffer: what follows inspects the packet payload again.
Status apply_pkt_data(OptionParser& p, const KeywordUse& /*u*/) {
    p.end_sticky();
    return Ok{};
}

// prefilter only steers Suricata's prefilter engine choice.
Status apply_prefilter(OptionParser& /*p*/, const KeywordUse& /*u*/) {
    return Ok{};
}

// --- Content modifiers: they apply to the most recent content (OptionParser::last_content).

// The content a modifier applies to, then the modifier's value check (in that order).
Result<Content*> modifier_target(OptionParser& p, const KeywordUse& u) {
    Content* c = p.last_content();
    if (c == nullptr) {
        return reject(std::string(u.kw.name) + " needs a preceding content");
    }
    if (auto st = check_value(u.kw, u.value); !st) {
        return st.error();
    }
    return c;
}

Status startswith_conflict(const char* other) {
    return reject(std::string("startswith can't be combined with ") + other);
}

Status apply_nocase(OptionParser& p, const KeywordUse& u) {
    auto c = modifier_target(p, u);
    if (!c) {
        return c.error();
    }
    if ((*c)->nocase) {
        return reject("duplicate nocase on one content");
    }
    (*c)->nocase = true;
    return Ok{};
}

Status apply_rawbytes(OptionParser& p, const KeywordUse& u) {
    auto c = modifier_target(p, u);
    if (!c) {
        return c.error();
    }
    (*c)->rawbytes = true;
    return Ok{};
}

Status apply_startswith(OptionParser& p, const KeywordUse& u) {
    auto cp = modifier_target(p, u);
    if (!cp) {
        return cp.error();
    }
    Content& c = **cp;
    if (c.startswith) {
        return reject("duplicate startswith on one content");
    }
    if (c.offset) {
        return startswith_conflict("offset");
    }
    if (c.depth) {
        return startswith_conflict("depth");
    }
    if (c.distance) {
        return startswith_conflict("distance");
    }
    if (c.within) {
        return startswith_conflict("within");
    }
    c.startswith = true;
    return Ok{};
}

Status apply_endswith(OptionParser& p, const KeywordUse& u) {
    auto c = modifier_target(p, u);
    if (!c) {
        return c.error();
    }
    if ((*c)->endswith) {
        return reject("duplicate endswith on one content");
    }
    (*c)->endswith = true;
    return Ok{};
}

// fast_pattern[:only | :<offset>,<length>], once per rule.
Status apply_fast_pattern(OptionParser& p, const KeywordUse& u) {
    auto cp = modifier_target(p, u);
    if (!cp) {
        return cp.error();
    }
    Content& c = **cp;
    const auto len = static_cast<int64_t>(c.bytes.size());
    if (p.seen().fast_pattern) {
        return reject("fast_pattern may only be used once per rule");
    }
    p.seen().fast_pattern = true;
    c.fast_pattern = true;
    if (!u.value || u.value->empty()) {
        return Ok{};
    }
    const std::string_view fv = trim(*u.value);
    if (fv == "only") {
        c.fast_pattern_only = true;
        return Ok{};
    }
    const auto parts = split_trim(fv, ',');
    if (parts.size() != 2) {
        return reject("fast_pattern: expected 'only' or <offset>,<length>, got " + quote(fv));
    }
    auto off = uint_in("fast_pattern offset", parts[0], 0, 65535);
    if (!off) {
        return off.error();
    }
    auto flen = uint_in("fast_pattern length", parts[1], 1, 65535);
    if (!flen) {
        return flen.error();
    }
    if (static_cast<int64_t>(*off + *flen) > len) {
        return reject("fast_pattern: " + quote(fv) + " goes past the end of the content (" +
                      std::to_string(len) + " bytes)");
    }
    c.fp_chop_offset = static_cast<uint16_t>(*off);
    c.fp_chop_len = static_cast<uint16_t>(*flen);
    return Ok{};
}

// offset, depth (absolute) and distance, within (relative to the previous match).
Status apply_position(OptionParser& p, const KeywordUse& u) {
    auto cp = modifier_target(p, u);
    if (!cp) {
        return cp.error();
    }
    Content& c = **cp;
    const std::string_view name = u.kw.name;
    const std::string n(name);
    const auto len = static_cast<int64_t>(c.bytes.size());
    const bool absolute = name == "offset" || name == "depth";
    std::optional<Operand>& slot = name == "offset"     ? c.offset
                                   : name == "depth"    ? c.depth
                                   : name == "distance" ? c.distance
                                                        : c.within;
    if (slot) {
        return reject("duplicate " + n + " on one content");
    }
    if (c.startswith) {
        return startswith_conflict(n.c_str());
    }
    if (absolute ? c.relative() : (c.offset || c.depth)) {
        return reject(n + ": can't mix offset/depth with distance/within on one content");
    }
    const int64_t lo = name == "offset" ? 0 : name == "distance" ? -kContentValueMax : 1;
    auto o = operand(n, *u.value, p.rule(), lo, kContentValueMax);
    if (!o) {
        return o.error();
    }
    if (!o->is_var() && (name == "depth" || name == "within") && o->value < len) {
        return reject(n + " " + std::to_string(o->value) + " is smaller than the content length " +
                      std::to_string(len));
    }
    slot = *o;
    return Ok{};
}

constexpr KeywordFamily kPayload = KeywordFamily::Payload;
constexpr KeywordFamily kModifier = KeywordFamily::ContentModifier;
constexpr ValueRule kNone = ValueRule::None;
constexpr ValueRule kRequired = ValueRule::Required;
constexpr ValueRule kOptional = ValueRule::Optional;

constexpr std::array kKeywords{
    KeywordDef{"content", kPayload, kRequired, apply_content},
    KeywordDef{"uricontent", kPayload, kRequired, apply_uricontent},
    KeywordDef{"pcre", kPayload, kRequired, apply_pcre},
    KeywordDef{"isdataat", kPayload, kRequired, apply_isdataat},
    KeywordDef{"byte_test", kPayload, kRequired, apply_byte_test},
    KeywordDef{"byte_jump", kPayload, kRequired, apply_byte_jump},
    KeywordDef{"byte_extract", kPayload, kRequired, apply_byte_extract},
    KeywordDef{"byte_math", kPayload, kRequired, apply_byte_math},
    KeywordDef{"entropy", kPayload, kRequired, apply_entropy},
    KeywordDef{"asn1", kPayload, kRequired, apply_asn1},
    KeywordDef{"base64_decode", kPayload, kOptional, apply_base64_decode},
    KeywordDef{"base64_data", kPayload, kNone, apply_base64_data},
    KeywordDef{"bsize", kPayload, kRequired, apply_bsize},
    KeywordDef{"dsize", kPayload, kRequired, apply_dsize},
    KeywordDef{"urilen", kPayload, kRequired, apply_urilen},
    KeywordDef{"pkt_data", kPayload, kNone, apply_pkt_data},
    KeywordDef{"prefilter", kPayload, kNone, apply_prefilter},
    KeywordDef{"nocase", kModifier, kNone, apply_nocase},
    KeywordDef{"rawbytes", kModifier, kNone, apply_rawbytes},
    KeywordDef{"startswith", kModifier, kNone, apply_startswith},
    KeywordDef{"endswith", kModifier, kNone, apply_endswith},
    KeywordDef{"fast_pattern", kModifier, kOptional, apply_fast_pattern},
    KeywordDef{"offset", kModifier, kRequired, apply_position},
    KeywordDef{"depth", kModifier, kRequired, apply_position},
    KeywordDef{"distance", kModifier, kRequired, apply_position},
    KeywordDef{"within", kModifier, kRequired, apply_position},
};

}  // namespace

std::span<const KeywordDef> payload_keywords() {
    return kKeywords;
}

}  // namespace vigil::rules::detail
