#pragma once
// Small character helpers shared by the rule parser, the matcher, the app-layer parsers and
// the sensor.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace vigil {

constexpr bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

// ASCII lower case of one character (protocol text: no locale).
constexpr char ascii_lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}

// Equal ignoring ASCII case (keyword, header and event names).
constexpr bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (size_t i = 0; i < a.size(); ++i) {
        if (ascii_lower(a[i]) != ascii_lower(b[i])) {
            return false;
        }
    }
    return true;
}

// `s` without leading and trailing whitespace.
constexpr std::string_view trim(std::string_view s) {
    size_t b = 0;
    while (b < s.size() && is_space(s[b])) {
        ++b;
    }
    size_t e = s.size();
    while (e > b && is_space(s[e - 1])) {
        --e;
    }
    return s.substr(b, e - b);
}

// A name of 1..max_len characters of [A-Za-z0-9._-] (sensor ids, token and key names: they
// name files and metric labels).
constexpr bool valid_name(std::string_view s, size_t max_len) {
    if (s.empty() || s.size() > max_len) {
        return false;
    }
    for (char c : s) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

// `n` bytes as lowercase hexadecimal (digests, keys, tokens, cache file names).
inline std::string to_hex(const uint8_t* p, size_t n) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string s;
    s.reserve(n * 2);
    for (size_t i = 0; i < n; ++i) {
        s.push_back(kDigits[p[i] >> 4]);
        s.push_back(kDigits[p[i] & 15]);
    }
    return s;
}

// Value of a hexadecimal digit, -1 when `c` is not one.
constexpr int hex_digit(uint8_t c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

// Value of a base64 character (RFC 4648 alphabet), -1 when `c` is not one ('=' included).
constexpr int base64_value(uint8_t c) {
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

// MurmurHash3's 64-bit finaliser: spreads the bits of a key for hash tables.
constexpr uint64_t fmix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

}  // namespace vigil
