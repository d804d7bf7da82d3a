#pragma once
// IPv4 and IPv6 defragmentation. Fragments are held per datagram (source, destination, IP id,
// protocol, VLAN) until the datagram is complete; overlapping fragments are resolved by the
// destination host's OS policy (the classic evasions: overlap, tiny first fragments); a
// timeout and a memory cap bound what is held. The reassembled datagram is decoded again and
// is what detection sees. One Defragmenter per worker (no locks).

#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane/os_policy.h"
#include "dataplane/packet.h"

namespace vigil::dataplane {

struct DefragConfig {
    uint64_t memcap = 32ULL << 20;      // bytes held over all datagrams
    uint32_t timeout_s = 60;            // a datagram incomplete this long is dropped
    uint32_t max_frags = 512;           // fragments held per datagram
    uint32_t max_datagrams = 65536;     // datagrams in reassembly at once
    uint16_t min_first_frag = 0;        // first fragment payload below this: event "tiny"
    OsPolicyMap policy{OsPolicy::Bsd};  // overlap policy by destination address
};

struct DefragStats {
    uint64_t fragments = 0;  // fragments received (IPv4 + IPv6)
    uint64_t ipv4_fragments = 0;
    uint64_t ipv6_fragments = 0;
    uint64_t reassembled = 0;     // datagrams completed
    uint64_t overlaps = 0;        // fragments overlapping earlier data
    uint64_t overlap_diff = 0;    // ... with different bytes (event)
    uint64_t tiny = 0;            // first fragments below min_first_frag / no full L4 header
    uint64_t timeouts = 0;        // datagrams dropped incomplete
    uint64_t memcap_drops = 0;    // fragments dropped: memcap or datagram table full
    uint64_t too_many_frags = 0;  // datagrams dropped: max_frags
    uint64_t too_large = 0;       // datagrams dropped: would exceed 65535 bytes
    uint64_t invalid = 0;         // bad fragment (offset/length inconsistent)
    uint64_t memory_bytes = 0;    // bytes held now
    uint64_t datagrams_active = 0;

    DefragStats& operator+=(const DefragStats& o);  // sums another worker's counters
};

// Events of the fragment just added (bits of DefragResult::events).
inline constexpr uint32_t kDefragEvOverlap = 1 << 0;
inline constexpr uint32_t kDefragEvOverlapDiff = 1 << 1;
inline constexpr uint32_t kDefragEvTiny = 1 << 2;
inline constexpr uint32_t kDefragEvInvalid = 1 << 3;
inline constexpr uint32_t kDefragEvDropped = 1 << 4;  // memcap / limits

struct DefragResult {
    // Non-null when this fragment completed its datagram: the reassembled packet, decoded
    // (LinkType::Raw: l3 points at the rebuilt IP header, is_fragment false), with ts/seq of
    // the completing fragment and its VLAN tags. Valid until the next call on the engine.
    const Packet* datagram = nullptr;
    uint32_t events = 0;
};

class Defragmenter {
public:
    explicit Defragmenter(const DefragConfig& config = {});
    ~Defragmenter();
    Defragmenter(const Defragmenter&) = delete;
    Defragmenter& operator=(const Defragmenter&) = delete;

    // For a decoded packet with pkt.is_fragment. Expires timed-out datagrams first (by
    // pkt.ts_sec).
    DefragResult add(const Packet& frag);

    // Drops everything held (end of a capture file).
    void clear();

    const DefragStats& stats() const { return stats_; }

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    DefragConfig config_;
    DefragStats stats_{};
};

}  // namespace vigil::dataplane
