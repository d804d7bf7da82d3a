#pragma once
// The answer a `reject` rule sends back to a packet's sender on an inline port: a TCP reset
// for TCP (RST|ACK, acknowledging what the packet carried), an ICMP / ICMPv6 destination
// unreachable (port unreachable) quoting the packet for anything else. The frame has the
// packet's Ethernet header with the addresses swapped (VLAN tags kept), IP addresses
// swapped, and correct checksums.

#include <cstddef>
#include <cstdint>

#include "dataplane/packet.h"

namespace vigil::dataplane {

// Largest frame build_reject writes.
constexpr size_t kRejectFrameMax = 14 + 8 + 40 + 8 + 40 + 8 + 64;

// Writes the answer to `p` (a decoded Ethernet packet with an IP layer) into `out`; returns
// its length, or 0 when there is nothing to answer (not Ethernet, not IP, a fragment after
// the first, a TCP reset, an ICMP error: never answer those).
size_t build_reject(const Packet& p, uint8_t* out, size_t cap);

}  // namespace vigil::dataplane
