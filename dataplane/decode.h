#pragma once
// decode(): parses one captured frame into a Packet. Never fails hard: malformed input sets
// Packet::status to a named reason and leaves the layers decoded so far in place; Suricata's
// decoder events go to Packet::events. Tunnels are peeled: the Packet is the inner packet and
// Packet::tunnel describes the encapsulation.

#include <array>
#include <cstdint>

#include "dataplane/packet.h"

namespace vigil::dataplane {

// Fills the decode fields of `pkt` (pkt.data / cap_len / wire_len / ts / seq must be set).
// Returns pkt.status.
DecodeStatus decode(LinkType link, Packet& pkt);

// Per-reason decode counters; one per worker, summed by readers.
struct DecodeStats {
    std::array<uint64_t, static_cast<size_t>(DecodeStatus::Count)> by_status{};
    uint64_t ipv4 = 0;
    uint64_t ipv6 = 0;
    uint64_t tcp = 0;
    uint64_t udp = 0;
    uint64_t icmp = 0;
    uint64_t vlan = 0;
    uint64_t mpls = 0;

    void count(const Packet& pkt);  // adds one packet's layers and status
    DecodeStats& operator+=(const DecodeStats& o);
};

}  // namespace vigil::dataplane
