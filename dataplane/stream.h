#pragma once
// TCP reassembly: per flow and direction, the byte stream the end host sees. Tracks sequence
// numbers from the handshake (or picks a stream up midstream), buffers out-of-order segments
// within a per-flow and a per-engine memory cap, resolves overlapping data by the target
// host's OS policy, reports retransmissions that carry different data, records gaps, and
// stops at a stream depth. Every limit reached is counted, never fatal.
//
// One StreamEngine per worker (no locks). The worker calls process() for every TCP packet
// after the flow table lookup; the returned view is valid until the next call on the engine.
// Sessions (Flow::tcp) account their memory in the engine that created them: the engine must
// outlive every flow table whose flows it processed (or flush those tables first).

#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane/flow_table.h"
#include "dataplane/os_policy.h"
#include "dataplane/packet.h"

namespace vigil::dataplane {

struct StreamConfig {
    bool midstream = true;                // pick up streams whose handshake was not seen
    uint32_t depth = 1 << 20;             // bytes per direction inspected; 0 = unlimited
    uint32_t per_flow_ooo_max = 1 << 18;  // out-of-order bytes buffered per direction
    uint64_t memcap = 256ULL << 20;       // all buffered bytes of the engine (in-order + ooo)
    // Reassembled bytes kept before new data so that a match spanning segments is seen
    // (the detection window is: up to `lookback` old bytes + the new bytes).
    uint32_t lookback = 512;
    OsPolicyMap policy{OsPolicy::Bsd};  // overlap policy by destination (receiver) address
};

struct StreamStats {
    uint64_t sessions = 0;           // TCP sessions tracked
    uint64_t midstream_pickups = 0;  // sessions started without a handshake
    uint64_t midstream_ignored = 0;  // packets of untracked sessions (midstream off)
    uint64_t segments = 0;           // segments carrying data
    uint64_t in_order = 0;           // segments appended directly
    uint64_t out_of_order = 0;       // segments buffered ahead of a hole
    uint64_t retransmissions = 0;    // segments whose data was all seen before
    uint64_t overlaps = 0;           // segments overlapping data seen before
    uint64_t overlap_diff = 0;       // overlaps whose bytes differ (event)
    uint64_t gaps = 0;               // holes given up on (data never arrived)
    uint64_t gap_bytes = 0;
    uint64_t depth_reached = 0;   // directions that reached the stream depth
    uint64_t ooo_limit = 0;       // segments over the per-flow out-of-order limit (hole skipped)
    uint64_t memcap_reached = 0;  // segments dropped: engine memcap
    uint64_t bad_seq = 0;         // segments outside the receive window / before ISN
    uint64_t after_close = 0;     // data segments after a RST or past the FIN (ignored)
    uint64_t memory_bytes = 0;    // bytes held by sessions now (structs + buffers)
    uint64_t memory_peak = 0;

    StreamStats& operator+=(const StreamStats& o);  // sums another worker's counters
};

// Events of one packet (bits of StreamView::events).
inline constexpr uint32_t kStreamEvRetransmission = 1 << 0;  // data all seen before
inline constexpr uint32_t kStreamEvOverlapDiff = 1 << 1;     // overlap with different bytes
inline constexpr uint32_t kStreamEvGap = 1 << 2;             // a hole was skipped
inline constexpr uint32_t kStreamEvDepth = 1 << 3;           // depth reached by this packet
inline constexpr uint32_t kStreamEvOooLimit = 1 << 4;
inline constexpr uint32_t kStreamEvMemcap = 1 << 5;
inline constexpr uint32_t kStreamEvBadSeq = 1 << 6;
inline constexpr uint32_t kStreamEvBuffered = 1 << 7;  // data held out of order, delivered later

// What one packet did to its direction's stream.
struct StreamView {
    bool tracked = false;  // false: not part of a reassembled stream (inspect as a packet)
    bool inspect = true;   // false: past the stream depth, do not inspect the payload
    FlowDir dir = FlowDir::ToServer;
    uint32_t events = 0;  // kStreamEv* bits
    // The reassembled window of this direction: `len` bytes starting at stream offset
    // `base` (offset 0 = first byte after the ISN). Bytes [new_from, len) became available
    // with this packet (in-order data, plus any buffered segments it made contiguous);
    // new_from == len: nothing new. Bytes before new_from are at most `lookback` old bytes.
    const uint8_t* data = nullptr;
    uint32_t len = 0;
    uint64_t base = 0;
    uint32_t new_from = 0;
    // Where this packet's own payload lies in the window when it is all in-order new data
    // (pkt_len == 0 otherwise).
    uint32_t pkt_from = 0;
    uint32_t pkt_len = 0;
    bool has_new() const { return new_from < len; }
};

// Bytes a direction of a TCP flow has delivered in order so far (its stream offset), 0 when
// the flow has no session. For `stream_size`.
uint64_t stream_bytes(const Flow& flow, FlowDir dir);

class StreamEngine {
public:
    explicit StreamEngine(const StreamConfig& config = {});
    ~StreamEngine();
    StreamEngine(const StreamEngine&) = delete;
    StreamEngine& operator=(const StreamEngine&) = delete;

    // For a TCP packet (pkt.has_tcp()) after FlowTable::lookup (pkt.dir set). Creates the
    // flow's session on first use (flow.tcp), updates it, and returns the view.
    StreamView process(Flow& flow, const Packet& pkt);

    // The stream has ended for this direction (RST, FIN, or the flow is leaving the table):
    // flushes buffered out-of-order data past any hole (counted as a gap) and returns it as
    // new data, so that detection sees everything. Empty view when nothing is left.
    // A view is contiguous, so it crosses at most one hole: with several holes still
    // buffered, call again until the view has nothing new (has_new() false).
    StreamView flush(Flow& flow, FlowDir dir);

    const StreamStats& stats() const { return stats_; }
    const StreamConfig& config() const { return config_; }

private:
    friend struct TcpSession;
    friend struct TcpSessionFree;
    StreamConfig config_;
    StreamStats stats_{};
    // Overlap resolution builds the receiver's bytes here (reused: no per-packet allocation).
    // Engine-owned, not counted in memory_bytes.
    std::vector<uint8_t> scratch_;
};

}  // namespace vigil::dataplane
