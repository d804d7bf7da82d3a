#pragma once
// Internal to rules/: the BER decoder behind Suricata's asn1 keyword. It walks the objects of a
// buffer with bounded nesting (no recursion deeper than kAsn1MaxDepth) and reports whether any
// of them trips one of the keyword's checks (oversize_length, bitstring_overflow,
// double_overflow).

#include <cstdint>
#include <span>

#include "rules/rule.h"

namespace vigil::rules {

// Suricata's asn1-max-frames default: top-level objects decoded at most (more makes the
// whole decode fail), and nesting depth.
inline constexpr uint32_t kAsn1MaxFrames = 30;
inline constexpr uint32_t kAsn1MaxDepth = 30;

// Decodes the BER objects of `buf` from the keyword's offset (absolute_offset, or
// relative_offset from `cursor`, the end of the previous match) and runs its checks. False
// when the offset lies outside the buffer, when nothing decodes, or when no check trips. An
// object that does not decode ends the walk; the objects before it still count.
bool asn1_matches(const Asn1& a, std::span<const uint8_t> buf, uint32_t cursor);

}  // namespace vigil::rules
