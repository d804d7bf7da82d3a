#include "dataplane/defrag.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "common/bytes.h"
#include "common/text.h"
#include "dataplane/decode.h"

namespace vigil::dataplane {
namespace {

constexpr uint32_t kMaxIpLen = 65535;  // IPv4 total length / IPv6 payload length
constexpr uint32_t kIpv4HeaderLen = 20;
constexpr uint32_t kIpv6HeaderLen = 40;
constexpr uint32_t kIpv6FragHeaderLen = 8;

// Bookkeeping charged per held fragment on top of the data bytes, so that a flood of tiny
// overlapping fragments (which add no data bytes) still runs into the memcap.
constexpr uint64_t kFragOverhead = 32;
constexpr uint32_t kNil = std::numeric_limits<uint32_t>::max();
constexpr uint32_t kInitialSlots = 1024;
// Reassembly buffers bigger than this are freed when their datagram ends instead of being
// kept for reuse: one 64 KB datagram should not pin 64 KB per pooled slot forever.
constexpr size_t kKeepBufCapacity = 16 * 1024;

// The seven overlap behaviours of target-based defragmentation (Novak; Suricata's defrag
// policies). Every OsPolicy maps to one of them.
enum class FragPolicy : uint8_t { First, Last, Bsd, BsdRight, Linux, Windows, Solaris };

// The host-os-policy mapping Suricata uses for defrag: HP-UX 10 and IRIX reassemble like BSD,
// HP-UX 11 and Mac OS keep the first data, every Windows flavour behaves the same for
// fragments, and old Linux like Linux.
FragPolicy frag_policy(OsPolicy p) {
    switch (p) {
        case OsPolicy::First:
        case OsPolicy::HpUx11:
        case OsPolicy::MacOs:
            return FragPolicy::First;
        case OsPolicy::Last:
            return FragPolicy::Last;
        case OsPolicy::Bsd:
        case OsPolicy::HpUx10:
        case OsPolicy::Irix:
            return FragPolicy::Bsd;
        case OsPolicy::BsdRight:
            return FragPolicy::BsdRight;
        case OsPolicy::Linux:
        case OsPolicy::OldLinux:
            return FragPolicy::Linux;
        case OsPolicy::Windows:
        case OsPolicy::Windows2k3:
        case OsPolicy::Vista:
            return FragPolicy::Windows;
        case OsPolicy::Solaris:
            return FragPolicy::Solaris;
    }
    return FragPolicy::Bsd;
}

// Whether bytes of a newly arrived fragment [ns, ne) replace bytes the host already holds
// from an earlier fragment [os, oe) (both in bytes of the fragmentable part). Written as a
// pairwise rule between the new fragment and the fragment that currently owns each byte;
// this reproduces the Sturges/Novak test pattern results for every policy.
bool new_data_wins(FragPolicy p, uint32_t ns, uint32_t ne, uint32_t os, uint32_t oe) {
    switch (p) {
        case FragPolicy::First:
            return false;
        case FragPolicy::Last:
            return true;
        case FragPolicy::Bsd:
            return ns < os;  // old data wins unless the new fragment starts before it
        case FragPolicy::BsdRight:
            return ns >= os;  // mirror of BSD: the fragment starting further right wins
        case FragPolicy::Linux:
            return ns <= os;  // as BSD, but a new fragment at the same offset wins
        case FragPolicy::Windows:
            return ns < os && ne > oe;  // only a new fragment strictly around the old one
        case FragPolicy::Solaris:
            return ns < os && ne >= oe;  // as Windows, but ending at the same byte suffices
    }
    return false;
}

struct Key {
    IpAddr src;
    IpAddr dst;
    uint32_t id = 0;  // IPv4 16-bit id / IPv6 32-bit identification
    uint16_t vlan = 0;
    uint8_t version = 0;
    uint8_t proto = 0;  // IPv4 protocol / next header of the IPv6 fragment header
    bool operator==(const Key&) const = default;
};

uint64_t hash_key(const Key& k) {
    uint64_t h = 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; i < 16; i += 8) {
        uint64_t a = 0;
        uint64_t b = 0;
        std::memcpy(&a, k.src.b.data() + i, 8);
        std::memcpy(&b, k.dst.b.data() + i, 8);
        h = fmix64(h ^ a) ^ fmix64(b + i);
    }
    const uint64_t tail = (static_cast<uint64_t>(k.id) << 32) |
                          (static_cast<uint64_t>(k.vlan) << 16) |
                          (static_cast<uint64_t>(k.version) << 8) | k.proto;
    return fmix64(h ^ tail);
}

// One fragment, parsed from the packet bytes (not from the capture buffer's lifetime: every
// pointer is only read during add()).
struct FragView {
    Key key;
    const uint8_t* hdr = nullptr;  // IPv4 header / IPv6 fixed + unfragmentable headers
    uint32_t hdr_len = 0;
    uint32_t nh_pos = 0;  // IPv6: index in hdr of the next-header byte naming the frag header
    const uint8_t* data = nullptr;
    uint32_t len = 0;
    uint32_t offset = 0;  // bytes
    bool more = false;
};

bool parse_ipv4(const Packet& pkt, uint32_t avail, FragView& f) {
    if (pkt.ip_total_len > avail || pkt.ip_total_len < pkt.l3_len) {
        return false;  // snaplen cut: the fragment's data is not all here
    }
    f.hdr = pkt.l3;
    f.hdr_len = pkt.l3_len;
    f.data = pkt.l3 + pkt.l3_len;
    f.len = pkt.ip_total_len - pkt.l3_len;
    f.offset = static_cast<uint32_t>(pkt.frag_offset) * 8;
    f.more = pkt.frag_mf;
    f.key.id = pkt.ip_id;
    f.key.proto = pkt.l3[9];
    return true;
}

// The decoder recorded where the fragment header is (and which byte names it).
bool parse_ipv6(const Packet& pkt, uint32_t avail, FragView& f) {
    const uint8_t* p = pkt.l3;
    const uint32_t off = pkt.ip6_frag_hdr;
    if (pkt.ip_total_len > avail || off < kIpv6HeaderLen ||
        pkt.ip_total_len < off + kIpv6FragHeaderLen) {
        return false;  // no fragment header, or the capture cut the fragment
    }
    const uint32_t end = pkt.ip_total_len;
    const uint16_t fo = load_be16(p + off + 2);
    f.hdr = p;
    f.hdr_len = off;
    f.nh_pos = pkt.ip6_frag_nh;
    f.data = p + off + kIpv6FragHeaderLen;
    f.len = end - off - kIpv6FragHeaderLen;
    f.offset = fo & 0xfff8U;
    f.more = (fo & 1U) != 0;
    f.key.id = load_be32(p + off + 4);
    f.key.proto = p[off];
    return true;
}

}  // namespace

struct Defragmenter::Impl {
    // A run of held bytes that came from one fragment; `owner_*` are that fragment's
    // original bounds, which the overlap policies compare against.
    struct Piece {
        uint32_t start;
        uint32_t end;
        uint32_t owner_start;
        uint32_t owner_end;
    };

    struct Datagram {
        Key key;
        uint64_t hash = 0;
        int64_t created = 0;
        uint32_t older = kNil;  // age list, oldest at head
        uint32_t newer = kNil;
        bool in_use = false;
        FragPolicy policy = FragPolicy::Bsd;
        bool have_last = false;
        uint32_t end = 0;      // fragmentable length, known once the last fragment arrived
        uint32_t covered = 0;  // bytes held (pieces never overlap)
        uint32_t frags = 0;
        uint32_t nh_pos = 0;
        uint64_t mem = 0;
        std::vector<uint8_t> hdr;   // empty until the offset-0 fragment arrives
        std::vector<uint8_t> buf;   // data bytes by offset; size = highest byte seen
        std::vector<Piece> pieces;  // sorted, non-overlapping
    };

    std::vector<Datagram> dgrams;
    std::vector<uint32_t> free_list;
    std::vector<uint32_t> slots;  // open addressing, linear probing: datagram index or kNil
    uint32_t head = kNil;         // oldest
    uint32_t tail = kNil;         // newest
    std::vector<Piece> scratch;
    std::vector<uint8_t> out_buf;
    Packet out_pkt;

    uint64_t cost(const Datagram& d) const {
        return sizeof(Datagram) + d.hdr.size() + d.buf.size() + d.frags * kFragOverhead;
    }

    uint32_t find(const Key& k, uint64_t h) const {
        if (slots.empty()) {
            return kNil;
        }
        const size_t mask = slots.size() - 1;
        for (size_t i = h & mask;; i = (i + 1) & mask) {
            const uint32_t idx = slots[i];
            if (idx == kNil) {
                return kNil;
            }
            if (dgrams[idx].hash == h && dgrams[idx].key == k) {
                return idx;
            }
        }
    }

    void slot_insert(uint32_t idx) {
        const size_t mask = slots.size() - 1;
        size_t i = dgrams[idx].hash & mask;
        while (slots[i] != kNil) {
            i = (i + 1) & mask;
        }
        slots[i] = idx;
    }

    // Backward-shift deletion keeps probe chains intact without tombstones.
    void slot_erase(uint32_t idx) {
        const size_t mask = slots.size() - 1;
        size_t i = dgrams[idx].hash & mask;
        while (slots[i] != idx) {
            i = (i + 1) & mask;
        }
        size_t hole = i;
        for (size_t j = (hole + 1) & mask; slots[j] != kNil; j = (j + 1) & mask) {
            const size_t home = dgrams[slots[j]].hash & mask;
            // Move j into the hole unless its home lies cyclically in (hole, j].
            const bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
            if (!stays) {
                slots[hole] = slots[j];
                hole = j;
            }
        }
        slots[hole] = kNil;
    }

    // Keeps the load factor at or below one half (amortised growth, no per-packet allocation).
    void reserve_slot(uint64_t active) {
        if (!slots.empty() && (active + 1) * 2 <= slots.size()) {
            return;
        }
        size_t n = slots.empty() ? kInitialSlots : slots.size() * 2;
        while ((active + 1) * 2 > n) {
            n *= 2;
        }
        slots.assign(n, kNil);
        for (uint32_t i = 0; i < dgrams.size(); ++i) {
            if (dgrams[i].in_use) {
                slot_insert(i);
            }
        }
    }

    uint32_t create(const Key& k, uint64_t h, int64_t now, FragPolicy policy) {
        uint32_t idx = 0;
        if (!free_list.empty()) {
            idx = free_list.back();
            free_list.pop_back();
        } else {
            idx = static_cast<uint32_t>(dgrams.size());
            dgrams.emplace_back();
        }
        Datagram& d = dgrams[idx];
        d.key = k;
        d.hash = h;
        d.created = now;
        d.in_use = true;
        d.policy = policy;
        d.have_last = false;
        d.end = 0;
        d.covered = 0;
        d.frags = 0;
        d.nh_pos = 0;
        d.mem = 0;
        d.older = tail;
        d.newer = kNil;
        if (tail != kNil) {
            dgrams[tail].newer = idx;
        } else {
            head = idx;
        }
        tail = idx;
        slot_insert(idx);
        return idx;
    }

    void release(uint32_t idx, DefragStats& stats) {
        Datagram& d = dgrams[idx];
        slot_erase(idx);
        if (d.older != kNil) {
            dgrams[d.older].newer = d.newer;
        } else {
            head = d.newer;
        }
        if (d.newer != kNil) {
            dgrams[d.newer].older = d.older;
        } else {
            tail = d.older;
        }
        stats.memory_bytes -= d.mem;
        --stats.datagrams_active;
        d.in_use = false;
        d.hdr.clear();
        d.buf.clear();
        d.pieces.clear();
        if (d.buf.capacity() > kKeepBufCapacity) {
            std::vector<uint8_t>().swap(d.buf);
        }
        free_list.push_back(idx);
    }

    // Merges [s, e) of the new fragment into the held pieces. Returns kDefragEvOverlap /
    // kDefragEvOverlapDiff bits.
    uint32_t insert(Datagram& d, uint32_t s, uint32_t e, const uint8_t* data) {
        if (d.buf.size() < e) {
            d.buf.resize(e);
        }
        uint32_t ev = 0;
        scratch.clear();
        uint32_t cur = s;  // new-fragment bytes below cur are placed
        auto place_new = [&](uint32_t a, uint32_t b) {
            std::memcpy(d.buf.data() + a, data + (a - s), b - a);
            scratch.push_back({a, b, s, e});
            d.covered += b - a;
        };
        for (const Piece& p : d.pieces) {
            if (p.end <= s) {
                scratch.push_back(p);
                continue;
            }
            if (p.start >= e) {
                if (cur < e) {
                    place_new(cur, e);
                    cur = e;
                }
                scratch.push_back(p);
                continue;
            }
            if (p.start > cur) {
                place_new(cur, p.start);  // hole before this piece
            }
            if (p.start < s) {
                scratch.push_back({p.start, s, p.owner_start, p.owner_end});
            }
            const uint32_t os = std::max(p.start, s);
            const uint32_t oe = std::min(p.end, e);
            ev |= kDefragEvOverlap;
            if (std::memcmp(d.buf.data() + os, data + (os - s), oe - os) != 0) {
                ev |= kDefragEvOverlapDiff;
            }
            if (new_data_wins(d.policy, s, e, p.owner_start, p.owner_end)) {
                std::memcpy(d.buf.data() + os, data + (os - s), oe - os);
                scratch.push_back({os, oe, s, e});
            } else {
                scratch.push_back({os, oe, p.owner_start, p.owner_end});
            }
            if (p.end > e) {
                scratch.push_back({e, p.end, p.owner_start, p.owner_end});
            }
            cur = oe;
        }
        if (cur < e) {
            place_new(cur, e);
        }
        d.pieces.swap(scratch);
        return ev;
    }

    const Packet* rebuild(const uint8_t* hdr, uint32_t hdr_len, uint32_t nh_pos, uint8_t frag_next,
                          const uint8_t* data, uint32_t len, const Packet& frag) {
        out_buf.resize(hdr_len + len);
        std::memcpy(out_buf.data(), hdr, hdr_len);
        if (len != 0) {
            std::memcpy(out_buf.data() + hdr_len, data, len);
        }
        uint8_t* ip = out_buf.data();
        if ((ip[0] >> 4) == 4) {
            store_be16(ip + 2, static_cast<uint16_t>(hdr_len + len));
            store_be16(ip + 6, load_be16(ip + 6) & 0xc000);  // keep RB/DF, clear MF + offset
            store_be16(ip + 10, 0);
            store_be16(ip + 10, inet_checksum(inet_sum(ip, hdr_len)));
        } else {
            store_be16(ip + 4, static_cast<uint16_t>(hdr_len - kIpv6HeaderLen + len));
            ip[nh_pos] = frag_next;  // the fragment header is gone: skip over it
        }
        out_pkt = Packet{};
        out_pkt.data = out_buf.data();
        out_pkt.cap_len = static_cast<uint32_t>(out_buf.size());
        out_pkt.wire_len = out_pkt.cap_len;
        out_pkt.ts_sec = frag.ts_sec;
        out_pkt.ts_usec = frag.ts_usec;
        out_pkt.seq = frag.seq;
        decode(LinkType::Raw, out_pkt);
        out_pkt.vlan_count = frag.vlan_count;
        out_pkt.vlan = frag.vlan;
        out_pkt.flow_hash = 0;
        return &out_pkt;
    }
};

Defragmenter::Defragmenter(const DefragConfig& config)
    : impl_(std::make_unique<Impl>()), config_(config) {}

Defragmenter::~Defragmenter() = default;

DefragResult Defragmenter::add(const Packet& frag) {
    DefragResult res;
    if (!frag.is_fragment) {
        return res;
    }
    ++stats_.fragments;
    if (frag.ip_version == 4) {
        ++stats_.ipv4_fragments;
    } else if (frag.ip_version == 6) {
        ++stats_.ipv6_fragments;
    }
    Impl& im = *impl_;

    // Expire first: the age list is in arrival order, so this stops at the first datagram
    // that is not due (one comparison when nothing is).
    while (im.head != kNil &&
           frag.ts_sec - im.dgrams[im.head].created > static_cast<int64_t>(config_.timeout_s)) {
        im.release(im.head, stats_);
        ++stats_.timeouts;
    }

    FragView f;
    bool ok = false;
    if (frag.l3 != nullptr && frag.data != nullptr && frag.l3 >= frag.data &&
        frag.l3 < frag.data + frag.cap_len) {
        const auto avail = static_cast<uint32_t>(frag.data + frag.cap_len - frag.l3);
        if (frag.ip_version == 4) {
            ok = parse_ipv4(frag, avail, f);
        } else if (frag.ip_version == 6) {
            ok = parse_ipv6(frag, avail, f);
        }
    }
    // RFC 791 / 8200: all but the last fragment carry a multiple of 8 bytes, and no fragment
    // reaches past the largest datagram; an empty fragment fills nothing.
    if (!ok || f.len == 0 || (f.more && f.len % 8 != 0) || f.offset + f.len > kMaxIpLen) {
        ++stats_.invalid;
        res.events |= kDefragEvInvalid;
        return res;
    }
    f.key.src = frag.src;
    f.key.dst = frag.dst;
    f.key.version = frag.ip_version;
    f.key.vlan = frag.vlan_count != 0 ? frag.vlan[0] : 0;
    const uint32_t fend = f.offset + f.len;

    if (f.offset == 0) {
        const uint8_t p = frag.ip_proto;
        const bool l4_known =
            p == kProtoTcp || p == kProtoUdp || p == kProtoIcmp || p == kProtoIcmpv6;
        if ((l4_known && frag.l4 == nullptr) || f.len < config_.min_first_frag) {
            ++stats_.tiny;
            res.events |= kDefragEvTiny;
        }
    }

    // An IPv6 atomic fragment (offset 0, no more) is a whole datagram (RFC 6946): it is not
    // mixed with fragments that share its identification.
    if (f.offset == 0 && !f.more) {
        if (f.hdr_len - (f.key.version == 6 ? kIpv6HeaderLen : 0) + f.len > kMaxIpLen) {
            ++stats_.too_large;
            res.events |= kDefragEvDropped;
            return res;
        }
        ++stats_.reassembled;
        res.datagram = im.rebuild(f.hdr, f.hdr_len, f.nh_pos, f.key.proto, f.data, f.len, frag);
        return res;
    }

    const uint64_t h = hash_key(f.key);
    uint32_t idx = im.find(f.key, h);
    Impl::Datagram* d = idx != kNil ? &im.dgrams[idx] : nullptr;

    // The end of the datagram is fixed by its last fragment: data beyond it, or a second last
    // fragment that disagrees, is inconsistent and ignored.
    if (d != nullptr) {
        const bool bad_end = d->have_last ? fend > d->end || (!f.more && fend != d->end)
                                          : !f.more && fend < d->buf.size();
        if (bad_end) {
            ++stats_.invalid;
            res.events |= kDefragEvInvalid;
            return res;
        }
    }

    // Header bytes that will precede the data: the first fragment's when known.
    const uint32_t v6_fixed = f.key.version == 6 ? kIpv6HeaderLen : 0;
    uint32_t hdr_len = f.key.version == 6 ? kIpv6HeaderLen : kIpv4HeaderLen;
    if (d != nullptr && !d->hdr.empty()) {
        hdr_len = static_cast<uint32_t>(d->hdr.size());
    } else if (f.offset == 0) {
        hdr_len = f.hdr_len;
    }
    const uint32_t extent = std::max<uint32_t>(fend, d != nullptr ? d->buf.size() : 0);
    if (hdr_len - v6_fixed + extent > kMaxIpLen) {
        ++stats_.too_large;
        res.events |= kDefragEvDropped;
        if (d != nullptr) {
            im.release(idx, stats_);
        }
        return res;
    }

    if (d != nullptr && d->frags >= config_.max_frags) {
        ++stats_.too_many_frags;
        res.events |= kDefragEvDropped;
        im.release(idx, stats_);
        return res;
    }
    if (d == nullptr && config_.max_frags == 0) {
        ++stats_.too_many_frags;
        res.events |= kDefragEvDropped;
        return res;
    }

    // Memcap: refuse the fragment when what it would add does not fit.
    const bool take_hdr = f.offset == 0 && (d == nullptr || d->hdr.empty());
    uint64_t growth = kFragOverhead + (take_hdr ? f.hdr_len : 0);
    if (d == nullptr) {
        growth += sizeof(Impl::Datagram) + fend;
    } else if (fend > d->buf.size()) {
        growth += fend - d->buf.size();
    }
    if (stats_.memory_bytes + growth > config_.memcap ||
        (d == nullptr && stats_.datagrams_active >= config_.max_datagrams)) {
        ++stats_.memcap_drops;
        res.events |= kDefragEvDropped;
        return res;
    }

    if (d == nullptr) {
        im.reserve_slot(stats_.datagrams_active);
        idx = im.create(f.key, h, frag.ts_sec, frag_policy(config_.policy.lookup(frag.dst)));
        d = &im.dgrams[idx];
        ++stats_.datagrams_active;
    }
    if (take_hdr) {
        // The first offset-0 fragment's header is kept (options included).
        d->hdr.assign(f.hdr, f.hdr + f.hdr_len);
        d->nh_pos = f.nh_pos;
    }
    if (!f.more) {
        d->have_last = true;
        d->end = fend;
    }
    ++d->frags;
    const uint32_t ev = im.insert(*d, f.offset, fend, f.data);
    res.events |= ev;
    stats_.overlaps += (ev & kDefragEvOverlap) != 0 ? 1 : 0;
    stats_.overlap_diff += (ev & kDefragEvOverlapDiff) != 0 ? 1 : 0;

    const uint64_t mem = im.cost(*d);
    stats_.memory_bytes += mem - d->mem;
    d->mem = mem;

    if (!d->have_last || d->covered != d->end || d->hdr.empty()) {
        return res;
    }
    ++stats_.reassembled;
    res.datagram = im.rebuild(d->hdr.data(), static_cast<uint32_t>(d->hdr.size()), d->nh_pos,
                              d->key.proto, d->buf.data(), d->end, frag);
    im.release(idx, stats_);
    return res;
}

void Defragmenter::clear() {
    Impl& im = *impl_;
    while (im.head != kNil) {
        im.release(im.head, stats_);
    }
    im.dgrams.clear();
    im.dgrams.shrink_to_fit();
    im.free_list.clear();
    im.slots.clear();
}

DefragStats& DefragStats::operator+=(const DefragStats& o) {
    fragments += o.fragments;
    ipv4_fragments += o.ipv4_fragments;
    ipv6_fragments += o.ipv6_fragments;
    reassembled += o.reassembled;
    overlaps += o.overlaps;
    overlap_diff += o.overlap_diff;
    tiny += o.tiny;
    timeouts += o.timeouts;
    memcap_drops += o.memcap_drops;
    too_many_frags += o.too_many_frags;
    too_large += o.too_large;
    invalid += o.invalid;
    memory_bytes += o.memory_bytes;
    datagrams_active += o.datagrams_active;
    return *this;
}

}  // namespace vigil::dataplane
