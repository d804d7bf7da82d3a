#pragma once
// Buffer transforms (Suricata's transform keywords): what a rule does to a sticky buffer
// before matching it — `http.uri; url_decode; to_lowercase; content:"/admin";`. A transform
// takes the whole buffer instance and gives a new one; transforms run in rule order.
//
// Parsing (parse_transform) checks the keyword's value at rule load time, so a bad key or
// regex rejects the rule with its reason; apply_transform runs on the worker threads and
// never fails: when a transform cannot apply (a key outside the buffer, input that does not
// decode), the buffer passes unchanged, as in Suricata.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace vigil::rules {

enum class TransformKind : uint8_t {
    DotPrefix,           // dotprefix: prepend "."
    ToLowercase,         // to_lowercase
    ToUppercase,         // to_uppercase
    StripWhitespace,     // strip_whitespace
    CompressWhitespace,  // compress_whitespace
    UrlDecode,           // url_decode
    Xor,                 // xor:[offset <n>,]<hex key>|extract <nbytes> <offset>
    Pcrexform,           // pcrexform:"<regex>": the first capture group
    FromBase64,          // from_base64:[bytes <n>][, offset <n>][, mode strict|rfc4648|rfc2045]
    ToMd5,               // to_md5: the 16 raw bytes of the buffer's MD5
    ToSha1,              // to_sha1: 20 raw bytes
    ToSha256,            // to_sha256: 32 raw bytes
    Gunzip,              // gunzip[:max-size <n>]: the gzip member decompressed
    Domain,              // domain: the registrable domain (public suffix list)
    Tld,                 // tld: the public suffix
};

enum class Base64Mode : uint8_t {
    Rfc4648,  // stops at the first character outside the alphabet (the default)
    Rfc2045,  // skips characters outside the alphabet (MIME)
    Strict,   // any character outside the alphabet: nothing decoded, buffer unchanged
};

class TransformRegex;  // pcrexform's compiled expression (transform.cc)

struct Transform {
    TransformKind kind = TransformKind::DotPrefix;
    std::string key;             // xor: the key's bytes; pcrexform: the expression
    uint32_t offset = 0;         // xor: first byte XORed; from_base64: first byte decoded
    uint32_t nbytes = 0;         // from_base64: bytes decoded (0: to the end)
                                 // gunzip: max-size; xor extract: the key's length
    uint32_t key_offset = 0;     // xor extract: where the key sits in the buffer
    bool key_in_buffer = false;  // xor extract
    Base64Mode mode = Base64Mode::Rfc4648;
    std::shared_ptr<const TransformRegex> re;  // pcrexform, compiled once at load

    // Two transforms are the same when their keyword and arguments are (the compiled
    // expression follows from the arguments): rules naming the same buffer with the same
    // transforms share one buffer view.
    bool operator==(const Transform& o) const {
        return kind == o.kind && key == o.key && offset == o.offset && nbytes == o.nbytes &&
               key_offset == o.key_offset && key_in_buffer == o.key_in_buffer && mode == o.mode;
    }
};

// The transform `kind` with the keyword's value (nullopt: written without one), checked:
// errors carry the rejection reason ("xor: 'abc' is not a hex key of whole bytes").
Result<Transform> parse_transform(TransformKind kind, std::string_view keyword,
                                  std::optional<std::string_view> value);

// Applies one transform to a buffer instance, in place.
void apply_transform(const Transform& t, std::string& b);
inline void apply_transforms(const std::vector<Transform>& ts, std::string& b) {
    for (const Transform& t : ts) {
        apply_transform(t, b);
    }
}

// gunzip's output bound when no max-size is given.
inline constexpr uint32_t kGunzipDefaultMaxSize = 1024;

}  // namespace vigil::rules
