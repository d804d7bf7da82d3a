// Buffer transforms: parsing each keyword's value, and applying it to a buffer instance.
// Semantics follow Suricata's transforms (detect-transform-*.c and rust/src/detect/transforms):
// see docs/rules.md "Transforms" for each one and where Vigil differs.

#include "rules/transform.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <libpsl.h>
#include <openssl/evp.h>
#include <pcre2.h>
#include <zlib.h>

#include <array>
#include <charconv>

#include "common/text.h"
#include "rules/options/parse.h"

namespace vigil::rules {

class TransformRegex {
public:
    explicit TransformRegex(pcre2_code* c) : code_(c) {}
    ~TransformRegex() { pcre2_code_free(code_); }
    TransformRegex(const TransformRegex&) = delete;
    TransformRegex& operator=(const TransformRegex&) = delete;
    pcre2_code* code() const { return code_; }

private:
    pcre2_code* code_;
};

namespace {

Transform of(TransformKind kind) {
    Transform t;
    t.kind = kind;
    return t;
}

Error bad(std::string reason) {
    return make_error(ErrorCode::BadInput, std::move(reason));
}

std::string quoted(std::string_view v) {
    return "'" + std::string(v) + "'";
}

std::optional<uint32_t> to_u32(std::string_view s) {
    s = trim(s);
    uint32_t v = 0;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || p != s.data() + s.size()) {
        return std::nullopt;
    }
    return v;
}

// "<word> <rest>" when `s` starts with the word `w` followed by a space.
std::optional<std::string_view> after_word(std::string_view s, std::string_view w) {
    s = trim(s);
    if (s.size() > w.size() && iequals(s.substr(0, w.size()), w) && is_space(s[w.size()])) {
        return trim(s.substr(w.size()));
    }
    return std::nullopt;
}

// xor:[offset <n>,]<hex key> or xor:[offset <n>,]extract <nbytes> <offset> (the key read
// from the buffer itself; Suricata 9 also spells it `var`).
Result<Transform> parse_xor(std::string_view value) {
    Transform t = of(TransformKind::Xor);
    std::string v = detail::unquote(value, true);
    std::string_view rest = trim(v);
    if (auto r = after_word(rest, "offset")) {
        const size_t comma = r->find(',');
        if (comma == std::string_view::npos) {
            return bad("xor: 'offset' needs the form 'offset <n>,<key>'");
        }
        const auto off = to_u32(r->substr(0, comma));
        if (!off) {
            return bad("xor: offset " + quoted(trim(r->substr(0, comma))) +
                       " is not a non-negative integer");
        }
        t.offset = *off;
        rest = trim(r->substr(comma + 1));
    }
    std::optional<std::string_view> var = after_word(rest, "extract");
    if (!var) {
        var = after_word(rest, "var");
    }
    if (var) {
        const size_t sp = var->find_first_of(" \t");
        const auto n = sp == std::string_view::npos ? std::nullopt : to_u32(var->substr(0, sp));
        const auto at = sp == std::string_view::npos ? std::nullopt : to_u32(var->substr(sp));
        if (!n || !at || *n == 0 || *n > 255 || *at > 65535) {
            return bad("xor: " + quoted(rest) +
                       " is not 'extract <nbytes 1-255> <offset 0-65535>'");
        }
        t.key_in_buffer = true;
        t.nbytes = *n;
        t.key_offset = *at;
        return t;
    }
    if (rest.empty() || rest.size() % 2 != 0 || rest.size() / 2 > 255) {
        return bad("xor: " + quoted(rest) +
                   " is not a key of 1 to 255 bytes in hex (an even number of hex digits)");
    }
    for (size_t i = 0; i < rest.size(); i += 2) {
        const int h = hex_digit(static_cast<uint8_t>(rest[i]));
        const int l = hex_digit(static_cast<uint8_t>(rest[i + 1]));
        if (h < 0 || l < 0) {
            return bad("xor: " + quoted(rest) + " is not a key in hex");
        }
        t.key += static_cast<char>(h * 16 + l);
    }
    return t;
}

Result<Transform> parse_pcrexform(std::string_view value) {
    Transform t = of(TransformKind::Pcrexform);
    t.key = detail::unquote(value, true);
    if (t.key.empty()) {
        return bad("pcrexform: the regular expression is empty");
    }
    int err = 0;
    PCRE2_SIZE at = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(t.key.data()), t.key.size(), 0,
                                     &err, &at, nullptr);
    if (code == nullptr) {
        std::array<PCRE2_UCHAR, 256> msg{};
        pcre2_get_error_message(err, msg.data(), msg.size());
        return bad("pcrexform: " + std::string(reinterpret_cast<const char*>(msg.data())) +
                   " at offset " + std::to_string(at) + " of " + quoted(t.key));
    }
    auto re = std::make_shared<const TransformRegex>(code);
    uint32_t captures = 0;
    pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &captures);
    if (captures == 0) {
        return bad("pcrexform: " + quoted(t.key) +
                   " has no capture group (the buffer becomes the first group's text)");
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // the interpreter when JIT is refused
    t.re = std::move(re);
    return t;
}

// from_base64:[bytes <n>][, offset <n>][, mode strict|rfc4648|rfc2045]
Result<Transform> parse_from_base64(std::optional<std::string_view> value) {
    Transform t = of(TransformKind::FromBase64);
    if (!value || trim(*value).empty()) {
        return t;
    }
    bool seen_bytes = false;
    bool seen_offset = false;
    bool seen_mode = false;
    std::string_view rest = trim(*value);
    while (!rest.empty()) {
        const size_t comma = rest.find(',');
        const std::string_view part = trim(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        if (auto n = after_word(part, "bytes")) {
            const auto b = to_u32(*n);
            if (seen_bytes || !b || *b == 0 || *b > 65535) {
                return bad("from_base64: bytes " + quoted(*n) +
                           (seen_bytes ? " given twice" : " is not in 1-65535"));
            }
            seen_bytes = true;
            t.nbytes = *b;
        } else if (auto o = after_word(part, "offset")) {
            const auto b = to_u32(*o);
            if (seen_offset || !b || *b > 65535) {
                return bad("from_base64: offset " + quoted(*o) +
                           (seen_offset ? " given twice" : " is not in 0-65535"));
            }
            seen_offset = true;
            t.offset = *b;
        } else if (auto m = after_word(part, "mode")) {
            if (seen_mode) {
                return bad("from_base64: mode given twice");
            }
            seen_mode = true;
            if (iequals(*m, "rfc4648")) {
                t.mode = Base64Mode::Rfc4648;
            } else if (iequals(*m, "rfc2045")) {
                t.mode = Base64Mode::Rfc2045;
            } else if (iequals(*m, "strict")) {
                t.mode = Base64Mode::Strict;
            } else {
                return bad("from_base64: mode " + quoted(*m) +
                           " is not one of strict, rfc4648, rfc2045");
            }
        } else {
            return bad("from_base64: " + quoted(part) +
                       " is not 'bytes <n>', 'offset <n>' or 'mode <strict|rfc4648|rfc2045>'");
        }
    }
    return t;
}

Result<Transform> parse_gunzip(std::optional<std::string_view> value) {
    Transform t = of(TransformKind::Gunzip);
    t.nbytes = kGunzipDefaultMaxSize;
    if (!value || trim(*value).empty()) {
        return t;
    }
    const auto m = after_word(*value, "max-size");
    const auto n = m ? to_u32(*m) : std::nullopt;
    if (!n || *n == 0) {
        return bad("gunzip: " + quoted(trim(*value)) +
                   " is not 'max-size <n>' with n a positive integer");
    }
    t.nbytes = *n;
    return t;
}

// Decodes `in` as `mode` says; a final group of 2 or 3 characters yields its whole bytes.
// False when strict decoding met a character outside the alphabet.
bool base64_decode(std::string_view in, Base64Mode mode, std::string& out) {
    uint32_t acc = 0;
    int k = 0;
    for (char ch : in) {
        const int v = base64_value(static_cast<uint8_t>(ch));
        if (v < 0) {
            if (ch == '=' || mode == Base64Mode::Rfc4648) {
                break;  // padding ends the data; RFC 4648 stops at anything else too
            }
            if (mode == Base64Mode::Strict) {
                return false;
            }
            continue;  // RFC 2045: characters outside the alphabet are ignored
        }
        acc = acc << 6 | static_cast<uint32_t>(v);
        if (++k == 4) {
            out += static_cast<char>(acc >> 16);
            out += static_cast<char>(acc >> 8);
            out += static_cast<char>(acc);
            acc = 0;
            k = 0;
        }
    }
    if (k >= 2) {
        acc <<= 6 * (4 - k);
        out += static_cast<char>(acc >> 16);
        if (k == 3) {
            out += static_cast<char>(acc >> 8);
        }
    }
    return true;
}

void digest(const EVP_MD* md, std::string& b) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> h{};
    unsigned int n = 0;
    if (EVP_Digest(b.data(), b.size(), h.data(), &n, md, nullptr) != 1) {
        return;
    }
    b.assign(reinterpret_cast<const char*>(h.data()), n);
}

void gunzip(uint32_t max_size, std::string& b) {
    z_stream zs{};
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {  // gzip framing only
        return;
    }
    std::string out(max_size, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(b.data());
    zs.avail_in = static_cast<uInt>(b.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    const int rc = inflate(&zs, Z_FINISH);
    const size_t produced = out.size() - zs.avail_out;
    inflateEnd(&zs);
    if (rc == Z_STREAM_END || rc == Z_BUF_ERROR || (rc == Z_OK && produced > 0)) {
        out.resize(produced);  // a truncated member still yields what it decoded
        b = std::move(out);
    }
}

const psl_ctx_t* public_suffixes() {
    // The newest of libpsl's built-in list and the system's (Debian's publicsuffix).
    static const psl_ctx_t* psl = psl_latest(nullptr);
    return psl != nullptr ? psl : psl_builtin();
}

void to_domain(bool tld, std::string& b) {
    const psl_ctx_t* psl = public_suffixes();
    if (psl == nullptr || b.empty() || b.find('\0') != std::string::npos) {
        return;
    }
    const char* r =
        tld ? psl_unregistrable_domain(psl, b.c_str()) : psl_registrable_domain(psl, b.c_str());
    if (r != nullptr) {
        b.assign(r);
    }
}

uint8_t fold(uint8_t c) {
    return c >= 'A' && c <= 'Z' ? static_cast<uint8_t>(c + 32) : c;
}

}  // namespace

Result<Transform> parse_transform(TransformKind kind, std::string_view keyword,
                                  std::optional<std::string_view> value) {
    switch (kind) {
        case TransformKind::Xor:
        case TransformKind::Pcrexform:
            if (!value || trim(*value).empty()) {
                return bad(std::string(keyword) + " needs a value");
            }
            return kind == TransformKind::Xor ? parse_xor(*value) : parse_pcrexform(*value);
        case TransformKind::FromBase64:
            return parse_from_base64(value);
        case TransformKind::Gunzip:
            return parse_gunzip(value);
        default:
            if (value) {
                return bad(std::string(keyword) + " takes no value");
            }
            return of(kind);
    }
}

void apply_transform(const Transform& t, std::string& b) {
    switch (t.kind) {
        case TransformKind::DotPrefix:
            b.insert(b.begin(), '.');
            break;
        case TransformKind::ToLowercase:
            for (auto& c : b) {
                c = static_cast<char>(fold(static_cast<uint8_t>(c)));
            }
            break;
        case TransformKind::ToUppercase:
            for (auto& c : b) {
                if (c >= 'a' && c <= 'z') {
                    c = static_cast<char>(c - 32);
                }
            }
            break;
        case TransformKind::StripWhitespace:
            std::erase_if(b, [](char c) { return is_space(c); });
            break;
        case TransformKind::CompressWhitespace: {
            std::string out;
            out.reserve(b.size());
            for (char c : b) {
                if (is_space(c)) {
                    if (!out.empty() && out.back() == ' ') {
                        continue;
                    }
                    c = ' ';
                }
                out += c;
            }
            b = std::move(out);
            break;
        }
        case TransformKind::UrlDecode: {
            std::string out;
            out.reserve(b.size());
            for (size_t i = 0; i < b.size(); ++i) {
                if (b[i] == '%' && i + 2 < b.size()) {
                    const int h = hex_digit(static_cast<uint8_t>(b[i + 1]));
                    const int l = hex_digit(static_cast<uint8_t>(b[i + 2]));
                    if (h >= 0 && l >= 0) {
                        out += static_cast<char>(h * 16 + l);
                        i += 2;
                        continue;
                    }
                }
                out += b[i] == '+' ? ' ' : b[i];
            }
            b = std::move(out);
            break;
        }
        case TransformKind::Xor: {
            if (t.offset > b.size()) {
                break;
            }
            std::string key = t.key;
            if (t.key_in_buffer) {
                if (static_cast<uint64_t>(t.key_offset) + t.nbytes > b.size()) {
                    break;  // the key is not in this buffer: unchanged
                }
                key = b.substr(t.key_offset, t.nbytes);
            }
            for (size_t i = t.offset; i < b.size(); ++i) {
                b[i] = static_cast<char>(b[i] ^ key[(i - t.offset) % key.size()]);
            }
            break;
        }
        case TransformKind::Pcrexform: {
            thread_local std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> md(
                pcre2_match_data_create(32, nullptr), &pcre2_match_data_free);
            const int rc = pcre2_match(t.re->code(), reinterpret_cast<PCRE2_SPTR>(b.data()),
                                       b.size(), 0, 0, md.get(), nullptr);
            if (rc < 2 && rc != 0) {
                break;  // no match, or group 1 unset: unchanged
            }
            const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
            if (ov[2] == PCRE2_UNSET || ov[3] < ov[2]) {
                break;
            }
            b = b.substr(ov[2], ov[3] - ov[2]);
            break;
        }
        case TransformKind::FromBase64: {
            if (t.offset >= b.size()) {
                break;
            }
            size_t n = b.size() - t.offset;
            if (t.nbytes != 0 && t.nbytes < n) {
                n = t.nbytes;
            }
            std::string out;
            out.reserve(n * 3 / 4 + 3);
            if (base64_decode(std::string_view(b).substr(t.offset, n), t.mode, out) &&
                !out.empty()) {
                b = std::move(out);
            }
            break;
        }
        case TransformKind::ToMd5:
            digest(EVP_md5(), b);
            break;
        case TransformKind::ToSha1:
            digest(EVP_sha1(), b);
            break;
        case TransformKind::ToSha256:
            digest(EVP_sha256(), b);
            break;
        case TransformKind::Gunzip:
            gunzip(t.nbytes, b);
            break;
        case TransformKind::Domain:
            to_domain(false, b);
            break;
        case TransformKind::Tld:
            to_domain(true, b);
            break;
    }
}

}  // namespace vigil::rules
