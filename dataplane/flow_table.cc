#include "dataplane/flow_table.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "common/text.h"

namespace vigil::dataplane {
namespace {

// Capacity cap keeps the bucket count (next power of two) and slot indexes in 32 bits.
constexpr uint32_t kMaxCapacity = 1U << 30;
// Suricata's flow ids fit a JSON number exactly (below 2^53); we keep 51 bits like it does.
constexpr uint64_t kFlowIdMask = (uint64_t{1} << 51) - 1;

constexpr uint64_t kSeed0 = 0xa0761d6478bd642fULL;
constexpr uint64_t kSeed1 = 0xe7037ed1a0b428dbULL;
constexpr uint64_t kSeed2 = 0x8ebc6af09c88c6e3ULL;
constexpr uint64_t kSeed3 = 0x589965cc75374cc3ULL;

// 64x64 -> 128 multiply folded to 64 bits (wyhash's mixer): every input bit reaches every
// output bit in one multiply.
inline uint64_t mum(uint64_t a, uint64_t b) {
    const unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
    return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

inline uint64_t load64(const uint8_t* p) {
    uint64_t v = 0;
    std::memcpy(&v, p, sizeof(v));
    return v;
}

}  // namespace

// --- FlowKey / hash ----------------------------------------------------------------------

FlowKey FlowKey::from_packet(const Packet& pkt) {
    FlowKey k;
    k.proto = pkt.ip_proto;
    k.vlan = pkt.vlan_count != 0 ? pkt.vlan[0] : 0;
    const int c = std::memcmp(pkt.src.b.data(), pkt.dst.b.data(), pkt.src.b.size());
    if (c < 0 || (c == 0 && pkt.sport <= pkt.dport)) {
        k.addr_lo = pkt.src;
        k.port_lo = pkt.sport;
        k.addr_hi = pkt.dst;
        k.port_hi = pkt.dport;
    } else {
        k.addr_lo = pkt.dst;
        k.port_lo = pkt.dport;
        k.addr_hi = pkt.src;
        k.port_hi = pkt.sport;
    }
    return k;
}

// Symmetric because the key is already ordered. Field by field: the struct has padding.
uint64_t flow_hash(const FlowKey& key) {
    const uint64_t tail =
        static_cast<uint64_t>(key.port_lo) | (static_cast<uint64_t>(key.port_hi) << 16) |
        (static_cast<uint64_t>(key.vlan) << 32) | (static_cast<uint64_t>(key.proto) << 48);
    uint64_t h = mum(load64(key.addr_lo.b.data()) ^ kSeed0, load64(&key.addr_lo.b[8]) ^ kSeed1);
    h = mum(h ^ load64(key.addr_hi.b.data()), load64(&key.addr_hi.b[8]) ^ kSeed2);
    h = mum(h ^ tail, kSeed3);
    return fmix64(h);
}

// --- FlowBits ----------------------------------------------------------------------------

bool FlowBits::isset(uint16_t id) const {
    for (uint8_t i = 0; i < count; ++i) {
        if (ids[i] == id) {
            return true;
        }
    }
    return false;
}

bool FlowBits::set(uint16_t id) {
    if (isset(id)) {
        return true;
    }
    if (count >= kMax) {
        return false;
    }
    ids[count++] = id;
    return true;
}

void FlowBits::unset(uint16_t id) {
    for (uint8_t i = 0; i < count; ++i) {
        if (ids[i] == id) {
            ids[i] = ids[count - 1];  // order does not matter: swap-remove
            --count;
            return;
        }
    }
}

void FlowBits::toggle(uint16_t id) {
    if (isset(id)) {
        unset(id);
        return;
    }
    (void)set(id);
}

// --- FlowTable ---------------------------------------------------------------------------

FlowTable::FlowTable(const FlowTableConfig& config)
    : capacity_(std::clamp<uint32_t>(config.capacity, 1, kMaxCapacity)),
      timeouts_(config.timeouts),
      vlan_tracking_(config.vlan_tracking) {
    flows_.resize(static_cast<size_t>(capacity_) + 1);
    // Free list threaded through hash_next_; ascending slots so the first flows are 1, 2, ...
    for (uint32_t i = 1; i < capacity_; ++i) {
        flows_[i].hash_next_ = i + 1;
    }
    free_head_ = 1;
    buckets_.assign(std::bit_ceil(capacity_), 0);
    bucket_mask_ = buckets_.size() - 1;
    // Nothing has expired yet: the first expire() call always scans.
    last_expire_sec_ = std::numeric_limits<int64_t>::min();
    class_timeout_[kClassTcpNew] = timeouts_.tcp_new;
    class_timeout_[kClassTcpEstablished] = timeouts_.tcp_established;
    class_timeout_[kClassTcpClosed] = timeouts_.tcp_closed;
    class_timeout_[kClassUdpNew] = timeouts_.udp_new;
    class_timeout_[kClassUdpEstablished] = timeouts_.udp_established;
    class_timeout_[kClassOtherNew] = timeouts_.other_new;
    class_timeout_[kClassOtherEstablished] = timeouts_.other_established;
}

FlowTable::~FlowTable() = default;

uint8_t FlowTable::timeout_class(const Flow& f) const {
    if (f.key.proto == kProtoTcp) {
        switch (f.tcp_state) {
            case TcpState::Established:
            case TcpState::Closing:
                return kClassTcpEstablished;
            case TcpState::Closed:
                return kClassTcpClosed;
            default:
                return kClassTcpNew;
        }
    }
    if (f.key.proto == kProtoUdp) {
        return f.reply_seen ? kClassUdpEstablished : kClassUdpNew;
    }
    return f.reply_seen ? kClassOtherEstablished : kClassOtherNew;
}

uint32_t FlowTable::find(const FlowKey& key, uint64_t hash) const {
    uint32_t slot = buckets_[hash & bucket_mask_];
    while (slot != 0) {
        const Flow& f = flows_[slot];
        if (f.hash_ == hash && f.key == key) {
            return slot;
        }
        slot = f.hash_next_;
    }
    return 0;
}

void FlowTable::lru_unlink(uint32_t slot, uint8_t cls) {
    Flow& f = flows_[slot];
    if (f.lru_prev_ != 0) {
        flows_[f.lru_prev_].lru_next_ = f.lru_next_;
    } else {
        lru_head_[cls] = f.lru_next_;
    }
    if (f.lru_next_ != 0) {
        flows_[f.lru_next_].lru_prev_ = f.lru_prev_;
    } else {
        lru_tail_[cls] = f.lru_prev_;
    }
    f.lru_prev_ = 0;
    f.lru_next_ = 0;
}

void FlowTable::lru_push_tail(uint32_t slot, uint8_t cls) {
    Flow& f = flows_[slot];
    f.lru_prev_ = lru_tail_[cls];
    f.lru_next_ = 0;
    if (lru_tail_[cls] != 0) {
        flows_[lru_tail_[cls]].lru_next_ = slot;
    } else {
        lru_head_[cls] = slot;
    }
    lru_tail_[cls] = slot;
}

void FlowTable::remove(uint32_t slot, FlowEnd why) {
    Flow& f = flows_[slot];
    if (on_remove_) {
        on_remove_(f, why);
    }
    stats_.flowbit_overflows += f.flowbit_overflows;
    f.tcp.reset();
    f.app.reset();
    lru_unlink(slot, timeout_class(f));
    uint32_t* link = &buckets_[f.hash_ & bucket_mask_];
    while (*link != slot) {
        link = &flows_[*link].hash_next_;  // holds: an in-use flow is on its bucket chain
    }
    *link = f.hash_next_;
    f.in_use_ = false;
    f.hash_next_ = free_head_;
    free_head_ = slot;
    --stats_.active;
}

uint32_t FlowTable::create(const Packet& pkt, const FlowKey& key, uint64_t hash) {
    if (free_head_ == 0) {
        // Full: drop the least recently active flow, the oldest of the list heads.
        uint32_t victim = 0;
        for (uint8_t c = 0; c < kClassCount; ++c) {
            const uint32_t head = lru_head_[c];
            if (head != 0 && (victim == 0 || flows_[head].last_sec < flows_[victim].last_sec)) {
                victim = head;
            }
        }
        remove(victim,
               FlowEnd::Evicted);  // capacity >= 1 and the table is full, so a victim exists
        ++stats_.evicted;
    }
    const uint32_t slot = free_head_;
    Flow& f = flows_[slot];
    free_head_ = f.hash_next_;
    f = Flow{};
    f.key = key;
    f.hash_ = hash;
    f.in_use_ = true;
    // A SYN/ACK first means we missed the SYN: the sender is the server.
    const uint8_t sa = pkt.tcp_flags & (kTcpSyn | kTcpAck);
    if (pkt.has_tcp() && sa == (kTcpSyn | kTcpAck)) {
        f.client = pkt.dst;
        f.client_port = pkt.dport;
    } else {
        f.client = pkt.src;
        f.client_port = pkt.sport;
    }
    if (pkt.has_tcp() && (pkt.tcp_flags & (kTcpSyn | kTcpAck | kTcpRst)) == kTcpSyn) {
        f.tcp_state = TcpState::SynSent;  // only a flow opened by a SYN can become established
    }
    f.start_sec = pkt.ts_sec;
    f.start_usec = pkt.ts_usec;
    f.last_sec = pkt.ts_sec;
    f.last_usec = pkt.ts_usec;
    const uint64_t t = static_cast<uint64_t>(pkt.ts_sec) * 1000000U + pkt.ts_usec;
    f.flow_id = fmix64(hash ^ fmix64(t ^ kSeed1)) & kFlowIdMask;
    if (f.flow_id == 0) {
        f.flow_id = 1;
    }
    uint32_t& bucket = buckets_[hash & bucket_mask_];
    f.hash_next_ = bucket;
    bucket = slot;
    ++stats_.created;
    stats_.created_tcp += pkt.ip_proto == kProtoTcp ? 1 : 0;
    stats_.created_udp += pkt.ip_proto == kProtoUdp ? 1 : 0;
    ++stats_.active;
    return slot;
}

namespace {

void update_tcp_state(Flow& f, uint8_t flags, bool to_server) {
    switch (f.tcp_state) {
        case TcpState::None:    // midstream pickup: never established
        case TcpState::Closed:  // only a new SYN (handled by lookup) reopens it
            return;
        default:
            break;
    }
    if ((flags & kTcpRst) != 0) {
        f.tcp_state = TcpState::Closed;
        return;
    }
    const uint8_t sa = flags & (kTcpSyn | kTcpAck);
    if (f.tcp_state == TcpState::SynSent) {
        if (!to_server && sa == (kTcpSyn | kTcpAck)) {
            f.tcp_state = TcpState::SynRecv;
        }
        return;
    }
    if (f.tcp_state == TcpState::SynRecv) {
        if (!(to_server && sa == kTcpAck)) {
            return;
        }
        f.tcp_state = TcpState::Established;  // the same packet may also carry a FIN
    }
    if ((flags & kTcpFin) != 0) {
        (to_server ? f.fin_toserver : f.fin_toclient) = true;
        f.tcp_state = f.fin_toserver && f.fin_toclient ? TcpState::Closed : TcpState::Closing;
    }
}

}  // namespace

Flow* FlowTable::lookup(Packet& pkt) {
    if (pkt.ip_version == 0) {
        return nullptr;
    }
    FlowKey key = FlowKey::from_packet(pkt);
    if (!vlan_tracking_ && key.vlan != 0) {
        key.vlan = 0;
        pkt.flow_hash = 0;  // the capture side hashed the VLAN in
    }
    const uint64_t hash = pkt.flow_hash != 0 ? pkt.flow_hash : flow_hash(key);
    const bool tcp = pkt.has_tcp();
    const uint8_t flags = tcp ? pkt.tcp_flags : 0;
    uint32_t slot = find(key, hash);
    if (slot != 0 && tcp && flows_[slot].tcp_state == TcpState::Closed &&
        (flags & (kTcpSyn | kTcpAck | kTcpRst)) == kTcpSyn) {
        // Port reuse: a fresh SYN on a finished connection starts a new flow.
        remove(slot, FlowEnd::Reused);
        ++stats_.reused;
        slot = 0;
    }
    bool created = false;
    if (slot == 0) {
        slot = create(pkt, key, hash);
        created = true;
    } else {
        lru_unlink(slot, timeout_class(flows_[slot]));  // the class may change below
    }
    Flow& f = flows_[slot];
    const bool to_server = pkt.src == f.client && pkt.sport == f.client_port;
    const uint64_t bytes = pkt.wire_len != 0 ? pkt.wire_len : pkt.cap_len;
    if (to_server) {
        ++f.pkts_toserver;
        f.bytes_toserver += bytes;
    } else {
        ++f.pkts_toclient;
        f.bytes_toclient += bytes;
        f.reply_seen = true;
    }
    // Out-of-order capture time must not move a flow back: keep the latest activity.
    if (pkt.ts_sec > f.last_sec || (pkt.ts_sec == f.last_sec && pkt.ts_usec > f.last_usec)) {
        f.last_sec = pkt.ts_sec;
        f.last_usec = pkt.ts_usec;
    }
    if (tcp) {
        (to_server ? f.tcp_flags_ts : f.tcp_flags_tc) |= flags;
        if (!created) {
            update_tcp_state(f, flags, to_server);
        }
    }
    lru_push_tail(slot, timeout_class(f));

    pkt.dir = to_server ? FlowDir::ToServer : FlowDir::ToClient;
    if (f.key.proto == kProtoTcp) {
        pkt.flow_established =
            f.tcp_state == TcpState::Established || f.tcp_state == TcpState::Closing;
    } else {
        pkt.flow_established = f.reply_seen;
    }
    return &f;
}

size_t FlowTable::expire(int64_t now_sec) {
    // Once per second of capture time at most: callers may call this every burst.
    if (now_sec <= last_expire_sec_) {
        return 0;
    }
    last_expire_sec_ = now_sec;
    size_t n = 0;
    for (uint8_t c = 0; c < kClassCount; ++c) {
        const int64_t timeout = class_timeout_[c];
        while (lru_head_[c] != 0) {
            const uint32_t slot = lru_head_[c];
            // 128-bit sum: capture times come from untrusted files and must not overflow.
            if (static_cast<__int128>(flows_[slot].last_sec) + timeout > now_sec) {
                break;  // the rest of this list was active later
            }
            remove(slot, FlowEnd::Timeout);
            ++stats_.expired;
            ++n;
        }
    }
    return n;
}

void FlowTable::flush() {
    for (uint8_t c = 0; c < kClassCount; ++c) {
        while (lru_head_[c] != 0) {
            remove(lru_head_[c], FlowEnd::Flush);
        }
    }
}

FlowStats& FlowStats::operator+=(const FlowStats& o) {
    created += o.created;
    created_tcp += o.created_tcp;
    created_udp += o.created_udp;
    expired += o.expired;
    evicted += o.evicted;
    reused += o.reused;
    active += o.active;
    flowbit_overflows += o.flowbit_overflows;
    return *this;
}

}  // namespace vigil::dataplane
