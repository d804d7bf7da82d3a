#pragma once
// Small character helpers shared by the rule parser, the matcher and the app-layer parsers.

#include <cstdint>

namespace vigil {

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
