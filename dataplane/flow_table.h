#pragma once
// FlowTable: a worker's preallocated table of bidirectional flows, keyed by the 5-tuple plus
// VLAN. Tracks TCP state enough for `flow:established,to_server`, counts packets and bytes
// per direction, expires idle flows by protocol/state timeouts and evicts the least recently
// used flow when full. One per worker: no locks.

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "dataplane/packet.h"

namespace vigil::dataplane {

// Symmetric: both directions of a conversation give the same key (lower endpoint first).
struct FlowKey {
    IpAddr addr_lo{};
    IpAddr addr_hi{};
    uint16_t port_lo = 0;
    uint16_t port_hi = 0;
    uint16_t vlan = 0;  // outermost VLAN id, 0 when untagged
    uint8_t proto = 0;

    static FlowKey from_packet(const Packet& pkt);
    bool operator==(const FlowKey&) const = default;
};

// Symmetric hash of a packet's flow: same value for both directions. Spreads flows over
// workers (`--workers N`) and indexes the table.
uint64_t flow_hash(const FlowKey& key);

enum class TcpState : uint8_t {
    None,         // not TCP, or no SYN seen (midstream pickup: never "established")
    SynSent,      // client SYN seen
    SynRecv,      // server SYN/ACK seen
    Established,  // handshake completed
    Closing,      // FIN seen
    Closed,       // RST, or FIN from both sides
};

// Why a flow left the table (EVE flow.reason: timeout, forced, shutdown).
enum class FlowEnd : uint8_t {
    Timeout,  // idle longer than its timeout
    Evicted,  // the table was full: least recently used
    Reused,   // a SYN on a closed TCP flow's 5-tuple started a new one
    Flush,    // end of the input or of the run
};

// Per-flow flowbit storage: the ids (assigned by the rule compiler) of the bits that are set.
// Fixed size so flows never allocate; a set on a full store is counted as an overflow.
struct FlowBits {
    static constexpr size_t kMax = 16;
    std::array<uint16_t, kMax> ids{};
    uint8_t count = 0;

    bool isset(uint16_t id) const;
    bool set(uint16_t id);  // false when the store is full (the bit is not set)
    void unset(uint16_t id);
    void toggle(uint16_t id);
};

// Per-flow flowint storage (Suricata's flowint): ids (assigned by the rule compiler) and their
// unsigned 32-bit values. Fixed size like FlowBits; a set on a full store is an overflow.
struct FlowInts {
    static constexpr size_t kMax = 8;
    std::array<uint16_t, kMax> ids{};
    std::array<uint32_t, kMax> values{};
    uint8_t count = 0;

    const uint32_t* get(uint16_t id) const {
        for (uint8_t i = 0; i < count; ++i) {
            if (ids[i] == id) {
                return &values[i];
            }
        }
        return nullptr;
    }
    bool set(uint16_t id, uint32_t v) {  // false when the store is full (nothing is set)
        for (uint8_t i = 0; i < count; ++i) {
            if (ids[i] == id) {
                values[i] = v;
                return true;
            }
        }
        if (count == kMax) {
            return false;
        }
        ids[count] = id;
        values[count] = v;
        ++count;
        return true;
    }
};

// Per-flow state of later stages, owned by the flow and freed when it leaves the table:
// TCP reassembly (stream.h) and the application layer (app/app_layer.h).
struct TcpSession;
struct TcpSessionFree {
    void operator()(TcpSession* s) const;
};
namespace app {
struct AppSession;
struct AppSessionFree {
    void operator()(AppSession* s) const;
};
}  // namespace app

struct Flow {
    // The key and the table's bookkeeping (private to FlowTable: hash chain and LRU list, as
    // slot indexes) come first: a lookup compares hash_ and key and follows hash_next_, and
    // all of them share the cache line FlowTable::prefetch_flow fetches.
    FlowKey key{};
    uint64_t hash_ = 0;
    uint32_t hash_next_ = 0;
    uint32_t lru_prev_ = 0;
    uint32_t lru_next_ = 0;
    bool in_use_ = false;
    IpAddr client{};  // the initiator: packets from it are to_server
    uint16_t client_port = 0;
    uint64_t flow_id = 0;  // deterministic (key + start time), below 2^53 like Suricata's
    int64_t start_sec = 0;
    uint32_t start_usec = 0;
    int64_t last_sec = 0;  // the latest packet time seen (a capture may be out of order)
    uint32_t last_usec = 0;
    uint64_t pkts_toserver = 0;
    uint64_t pkts_toclient = 0;
    uint64_t bytes_toserver = 0;
    uint64_t bytes_toclient = 0;
    TcpState tcp_state = TcpState::None;
    bool fin_toserver = false;
    bool fin_toclient = false;
    bool reply_seen = false;
    uint8_t tcp_flags_ts = 0;  // TCP flags seen to the server, ORed (EVE tcp.tcp_flags_ts)
    uint8_t tcp_flags_tc = 0;  // ... and to the client
    FlowBits bits{};
    FlowInts ints{};
    // Flowbit and flowint sets that found their store full.
    uint32_t flowbit_overflows = 0;
    uint8_t app_proto = 0;     // app::AppProto, set by the application layer (0 = unknown)
    uint32_t app_udp_txs = 0;  // transactions of a UDP flow (its app layer keeps no session)
    bool drop = false;  // IPS: a drop/reject rule matched; later packets are dropped uninspected
    std::unique_ptr<TcpSession, TcpSessionFree> tcp;
    std::unique_ptr<app::AppSession, app::AppSessionFree> app;
};

struct FlowTimeouts {
    // Seconds of inactivity before a flow is expired (Suricata's defaults).
    uint32_t tcp_new = 60;
    uint32_t tcp_established = 600;
    uint32_t tcp_closed = 60;
    uint32_t udp_new = 30;
    uint32_t udp_established = 300;
    uint32_t other_new = 30;
    uint32_t other_established = 300;
};

struct FlowTableConfig {
    uint32_t capacity = 65536;  // flows; preallocated
    FlowTimeouts timeouts{};
    // The outer VLAN id is part of the flow key (Suricata's vlan.use-for-tracking); off: the
    // two directions of a session tagged with different VLANs are one flow.
    bool vlan_tracking = true;
};

struct FlowStats {
    uint64_t created = 0;
    uint64_t created_tcp = 0;  // of created: TCP flows
    uint64_t created_udp = 0;  // of created: UDP flows
    uint64_t expired = 0;      // idle timeout
    uint64_t evicted = 0;      // table full: least recently used flow dropped
    uint64_t reused = 0;       // TCP SYN on a closed flow started a new one
    uint64_t active = 0;       // flows in the table now
    uint64_t flowbit_overflows = 0;

    FlowStats& operator+=(const FlowStats& o);  // sums another worker's counters
};

class FlowTable {
public:
    explicit FlowTable(const FlowTableConfig& config = {});
    ~FlowTable();
    FlowTable(const FlowTable&) = delete;
    FlowTable& operator=(const FlowTable&) = delete;

    // Finds or creates the flow of an IP packet with a decoded L4 header (or any IP packet:
    // ports 0 when there is none), updates its counters and TCP state, and sets pkt.dir and
    // pkt.flow_established. Never fails: a full table evicts its least recently used flow
    // (on_evict is called for it first). Returns nullptr only for packets without IP.
    Flow* lookup(Packet& pkt);

    // Cache warm-up for a packet a few places ahead in the burst (Packet::flow_hash):
    // prefetch_bucket() first, prefetch_flow() a little later, once the bucket is cached.
    void prefetch_bucket(uint64_t hash) const {
        __builtin_prefetch(&buckets_[hash & bucket_mask_]);
    }
    void prefetch_flow(uint64_t hash) const {
        const uint32_t slot = buckets_[hash & bucket_mask_];
        if (slot != 0) {
            // Key and chain fields are the first 64 bytes of the Flow, which may straddle
            // two cache lines (a Flow is not line-aligned).
            const char* p = reinterpret_cast<const char*>(&flows_[slot]);
            __builtin_prefetch(p);
            __builtin_prefetch(p + 63);
        }
    }

    // Expires flows idle longer than their timeout at time `now_sec` (capture time), calling
    // on_expire for each before it is freed. Cheap when nothing is due: call once per burst.
    size_t expire(int64_t now_sec);

    // Calls on_expire for every remaining flow and empties the table (end of a replay).
    void flush();

    // Called for each flow leaving the table (expiry, eviction, flush, reuse), with the
    // reason, before its per-flow state (tcp, app) is freed.
    void set_on_remove(std::function<void(Flow&, FlowEnd)> cb) { on_remove_ = std::move(cb); }

    const FlowStats& stats() const { return stats_; }
    uint32_t capacity() const { return capacity_; }

private:
    // One LRU list per timeout class: within a list every flow has the same timeout, so
    // expiry pops due flows from the heads and stops at the first one that is not due.
    // Ordered so that, on equal idle time, eviction prefers closed and new flows.
    static constexpr uint8_t kClassTcpClosed = 0;
    static constexpr uint8_t kClassTcpNew = 1;
    static constexpr uint8_t kClassUdpNew = 2;
    static constexpr uint8_t kClassOtherNew = 3;
    static constexpr uint8_t kClassUdpEstablished = 4;
    static constexpr uint8_t kClassOtherEstablished = 5;
    static constexpr uint8_t kClassTcpEstablished = 6;
    static constexpr uint8_t kClassCount = 7;

    uint8_t timeout_class(const Flow& f) const;
    uint32_t find(const FlowKey& key, uint64_t hash) const;
    uint32_t create(const Packet& pkt, const FlowKey& key, uint64_t hash);
    void remove(uint32_t slot, FlowEnd why);
    void lru_unlink(uint32_t slot, uint8_t cls);
    void lru_push_tail(uint32_t slot, uint8_t cls);

    uint32_t capacity_;
    FlowTimeouts timeouts_;
    bool vlan_tracking_ = true;
    FlowStats stats_{};
    std::vector<Flow> flows_;        // slot 0 is the list sentinel / null index
    std::vector<uint32_t> buckets_;  // hash heads (slot indexes), power of two
    uint32_t free_head_ = 0;
    std::function<void(Flow&, FlowEnd)> on_remove_;
    int64_t last_expire_sec_ = 0;
    uint64_t bucket_mask_ = 0;
    std::array<uint32_t, kClassCount> lru_head_{};  // oldest activity (slot index, 0 = empty)
    std::array<uint32_t, kClassCount> lru_tail_{};  // most recent activity
    std::array<int64_t, kClassCount> class_timeout_{};
    // implementation helpers live in flow_table.cc
    friend struct FlowTableAccess;
};

}  // namespace vigil::dataplane
