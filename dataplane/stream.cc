#include "dataplane/stream.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

namespace vigil::dataplane {

// Design notes.
//
// Offsets. Each direction numbers its bytes from 0 (the byte after the ISN) with 64-bit
// offsets; a 32-bit sequence number is turned into an offset by its signed distance from the
// next expected byte (serial-number arithmetic), so wraparound needs no special case.
//
// Inspection at arrival (IPS style). Bytes are handed to detection as soon as they are
// contiguous, and what was delivered is final: a later segment that rewrites delivered bytes
// with different data only raises kStreamEvOverlapDiff (it is compared with the bytes still
// retained in the lookback window). The OS policy only decides between segments that are
// both still buffered out of order. This is a deliberate choice: we never re-inspect, so
// an evasion that relies on the receiver keeping the *later* copy of delivered bytes is
// reported as an event rather than reassembled.
//
// Overlap policies (new = the arriving segment, old = a buffered segment it overlaps; the
// new segment's bytes win over that old segment's range when the condition holds). These
// follow Suricata's TCP overlap handling, itself after Novak & Sturges, "Target-Based TCP
// Stream Reassembly" (2007):
//
//   policy                                          new data wins when
//   last                                            always
//   first, vista, bsd-right                         never (bsd-right is a defrag policy;
//                                                   for TCP it keeps the first copy)
//   bsd, hpux10, irix, macos, windows, windows2k3   new starts before old
//   linux                                           new starts before old, or at the same
//                                                   byte and ends after old
//   old-linux                                       new starts before old, or at the same
//                                                   byte and ends at or after old's end
//   solaris, hpux11                                 new ends after old, or ends with old and
//                                                   starts at or before it
//
// Memory. A session is one small struct; a direction allocates its window buffer on its
// first data and its out-of-order state (StreamOoo) only when a segment arrives ahead of a
// hole. Everything a session holds is counted in StreamStats::memory_bytes and returned by
// TcpSessionFree. The memcap is enforced when new bytes are admitted (out-of-order
// buffering, window growth for arriving data); moving already-held out-of-order bytes into
// the window may exceed it transiently.

namespace {

constexpr uint64_t kNoEnd = std::numeric_limits<uint64_t>::max();
// Beyond this distance from the next expected byte a segment is not plausible data of this
// connection (Suricata uses the receive window; we do not track window scaling).
constexpr int64_t kMaxSeqDistance = int64_t{1} << 30;
// A RST is believed only near the next expected byte: a blind RST must not end inspection.
constexpr int64_t kRstWindow = int64_t{1} << 20;
// Bounds the out-of-order bookkeeping (linear inserts) when segments are tiny.
constexpr size_t kMaxOooSegments = 4096;
constexpr uint32_t kMinWindowCap = 2048;
constexpr uint64_t kWindowGranule = 256;
// After a burst (a filled hole, a flush) the window may have grown large; give it back.
constexpr uint32_t kShrinkAbove = 64 * 1024;

// StreamDir::flags
constexpr uint8_t kDirStarted = 1 << 0;  // offset 0 is known (SYN, or midstream pickup)
constexpr uint8_t kDirData = 1 << 1;     // data accepted: the ISN is frozen
constexpr uint8_t kDirDepth = 1 << 2;    // depth reached: nothing more is inspected

// TcpSession::flags
constexpr uint8_t kSessUntracked = 1 << 0;  // midstream with midstream pickup off
constexpr uint8_t kSessReset = 1 << 1;      // RST seen: both directions are over

bool new_data_wins(OsPolicy policy, uint64_t ns, uint64_t ne, uint64_t os, uint64_t oe) {
    switch (policy) {
        case OsPolicy::Last:
            return true;
        case OsPolicy::First:
        case OsPolicy::Vista:
        case OsPolicy::BsdRight:
            return false;
        case OsPolicy::Bsd:
        case OsPolicy::HpUx10:
        case OsPolicy::Irix:
        case OsPolicy::MacOs:
        case OsPolicy::Windows:
        case OsPolicy::Windows2k3:
            return ns < os;
        case OsPolicy::Linux:
            return ns < os || (ns == os && ne > oe);
        case OsPolicy::OldLinux:
            return ns < os || (ns == os && ne >= oe);
        case OsPolicy::Solaris:
        case OsPolicy::HpUx11:
            return ne > oe || (ne == oe && ns <= os);
    }
    return false;
}

}  // namespace

// Buffered bytes of one out-of-order run, as the receiver would keep them. Chunks are
// disjoint and sorted; a chunk trimmed by later data keeps its allocation (counted).
struct StreamChunk {
    uint64_t off = 0;
    uint32_t len = 0;
    uint32_t skip = 0;  // bytes trimmed from the front of the allocation
    uint32_t alloc = 0;
    std::unique_ptr<uint8_t[]> data;

    uint64_t end() const { return off + len; }
    uint8_t* bytes() { return data.get() + skip; }
};

// The original extent of a buffered segment: the overlap policy compares segment edges, not
// the (already resolved) bytes.
struct StreamExtent {
    uint64_t off = 0;
    uint32_t len = 0;

    uint64_t end() const { return off + len; }
};

struct StreamOoo {
    std::vector<StreamChunk> chunks;
    std::vector<StreamExtent> extents;  // sorted by offset; exact duplicates kept once
    uint64_t bytes = 0;                 // chunk allocations (the per-flow limit)
    uint64_t meta = 0;                  // vector capacities, as last counted
    uint32_t max_extent = 0;            // bounds the backward search for overlapping extents
};

struct StreamDir {
    uint64_t next = 0;       // offset of the next expected byte
    uint64_t end = kNoEnd;   // offset after the last byte (FIN)
    uint8_t* win = nullptr;  // window: bytes [next - win_len, next)
    StreamOoo* ooo = nullptr;
    uint32_t isn1 = 0;  // sequence number of offset 0 (ISN + 1)
    uint32_t win_len = 0;
    uint32_t win_cap = 0;
    uint8_t flags = 0;
};

struct TcpSession {
    StreamEngine* engine = nullptr;
    std::array<StreamDir, 2> dir{};
    uint8_t flags = 0;
};

namespace {

void mem_add(StreamStats& st, uint64_t n) {
    st.memory_bytes += n;
    st.memory_peak = std::max(st.memory_peak, st.memory_bytes);
}

void mem_sub(StreamStats& st, uint64_t n) {
    st.memory_bytes -= n;
}

void free_window(StreamStats& st, StreamDir& d) {
    if (d.win != nullptr) {
        delete[] d.win;
        mem_sub(st, d.win_cap);
    }
    d.win = nullptr;
    d.win_len = 0;
    d.win_cap = 0;
}

void free_ooo(StreamStats& st, StreamDir& d) {
    if (d.ooo == nullptr) {
        return;
    }
    mem_sub(st, d.ooo->bytes + d.ooo->meta + sizeof(StreamOoo));
    delete d.ooo;
    d.ooo = nullptr;
}

void account_meta(StreamStats& st, StreamOoo& o) {
    const uint64_t meta =
        o.chunks.capacity() * sizeof(StreamChunk) + o.extents.capacity() * sizeof(StreamExtent);
    if (meta >= o.meta) {
        mem_add(st, meta - o.meta);
    } else {
        mem_sub(st, o.meta - meta);
    }
    o.meta = meta;
}

// Offset of `seq` in a started direction, or -1 when it is not plausible.
int64_t seq_offset(const StreamDir& d, uint32_t seq, int64_t max_distance) {
    const auto rel = static_cast<int32_t>(seq - (d.isn1 + static_cast<uint32_t>(d.next)));
    const int64_t off = static_cast<int64_t>(d.next) + rel;
    if (rel > max_distance || rel < -max_distance || off < 0) {
        return -1;
    }
    return off;
}

// One call's work on one direction. Built per process()/flush() call: references only.
class DirOps {
public:
    DirOps(const StreamConfig& cfg, StreamStats& st, std::vector<uint8_t>& scratch, StreamDir& d,
           StreamView& v)
        : cfg_(cfg), st_(st), scratch_(scratch), d_(d), v_(v) {}

    // Start of a call with data for this direction: keep only the lookback bytes. Returns
    // false when the direction is past its depth (its buffers are released here: the view
    // returned by the call that reached the depth pointed into them).
    bool begin() {
        if ((d_.flags & kDirDepth) != 0) {
            free_window(st_, d_);
            free_ooo(st_, d_);
            v_.inspect = false;
            return false;
        }
        const uint32_t keep = std::min(d_.win_len, cfg_.lookback);
        if (keep < d_.win_len) {
            std::memmove(d_.win, d_.win + (d_.win_len - keep), keep);
            d_.win_len = keep;
        }
        if (d_.win_cap > kShrinkAbove && d_.win_cap / 4 > keep + kMinWindowCap) {
            resize_window(std::max(kMinWindowCap, keep * 2));
        }
        retained_ = d_.win_len;
        return true;
    }

    // Handles the payload of one segment starting at sequence number `seq`.
    void data(uint32_t seq, const uint8_t* payload, uint32_t len, const IpAddr& receiver) {
        ++st_.segments;
        d_.flags |= kDirData;
        // Serial-number distance from the next expected byte: wraparound needs no case.
        const int64_t off = seq_offset(d_, seq, kMaxSeqDistance);
        if (off < 0) {
            ++st_.bad_seq;
            v_.events |= kStreamEvBadSeq;
            return;
        }
        const auto s = static_cast<uint64_t>(off);
        uint64_t e = s + len;
        if (e > d_.end) {
            ++st_.after_close;
            if (s >= d_.end) {
                return;
            }
            e = d_.end;  // the bytes before the FIN still count
        }
        // Buffered bytes an earlier packet made contiguous but could not take (memcap).
        drain(true);
        if ((d_.flags & kDirDepth) != 0) {
            return;
        }
        if (s > d_.next && !ooo_fits(s, e)) {
            ++st_.ooo_limit;
            v_.events |= kStreamEvOooLimit;
            // Give up on the first hole (the data after it is delivered) until this segment
            // fits or is in order: the receiver would not wait for it forever either.
            while (s > d_.next && !ooo_fits(s, e)) {
                const uint64_t target = has_chunks() ? std::min(s, d_.ooo->chunks[0].off) : s;
                if (!skip_to(target)) {
                    return;  // this view already holds new bytes before the hole: drop it
                }
                if ((d_.flags & kDirDepth) != 0) {
                    return;
                }
            }
        }

        bool overlap = false;
        bool diff = false;
        if (s < d_.next) {
            overlap = true;
            diff = differs_from_window(s, std::min(e, d_.next), payload);
            if (e <= d_.next) {
                ++st_.retransmissions;
                ++st_.overlaps;
                v_.events |= kStreamEvRetransmission;
                note_diff(diff);
                return;
            }
        }
        const uint64_t ns = std::max(s, d_.next);
        const uint8_t* src = payload + (ns - s);
        const auto n = static_cast<uint32_t>(e - ns);
        uint64_t covered = 0;
        const uint8_t* bytes = resolve(s, ns, e, src, receiver, covered, diff);
        overlap = overlap || covered != 0;
        if (covered == n) {
            ++st_.retransmissions;  // every byte was seen before (delivered or buffered)
            v_.events |= kStreamEvRetransmission;
        }
        if (overlap) {
            ++st_.overlaps;
        }
        note_diff(diff);

        if (ns > d_.next) {
            const uint64_t need = ooo_need(ns, e);
            if (st_.memory_bytes + need > cfg_.memcap) {
                ++st_.memcap_reached;
                v_.events |= kStreamEvMemcap;
                return;
            }
            insert_ooo(ns, e, bytes);
            ++st_.out_of_order;
            v_.events |= kStreamEvBuffered;
            return;
        }
        ++st_.in_order;
        const uint32_t take = clip_to_depth(n);
        const uint32_t at = d_.win_len;
        if (!reserve(d_.win_len + take, false)) {
            if (d_.win_len != retained_) {
                reserve(d_.win_len + take, true);  // cannot split this view: over the cap
            } else {
                // Memcap: inspect this packet's bytes in place, without lookback.
                ++st_.memcap_reached;
                v_.events |= kStreamEvMemcap;
                direct_ = bytes;
                direct_len_ = take;
                direct_base_ = d_.next;
                d_.win_len = 0;
                d_.next += take;
                if (covered == 0 && s == ns && take == len) {
                    v_.pkt_from = 0;
                    v_.pkt_len = take;
                }
                check_depth();
                return;
            }
        }
        append(bytes, take);
        if (covered == 0 && s == ns && take == len) {
            v_.pkt_from = at;
            v_.pkt_len = take;
        }
        check_depth();
        drain(true);
    }

    // Skips holes until everything buffered is delivered, or the view would have to cross
    // a second hole.
    void flush() {
        drain(true);
        while (has_chunks() && (d_.flags & kDirDepth) == 0) {
            if (!skip_to(d_.ooo->chunks[0].off)) {
                break;
            }
        }
        if (d_.ooo != nullptr && !has_chunks()) {
            free_ooo(st_, d_);
        }
    }

    void finish() {
        if (direct_ != nullptr) {
            v_.data = direct_;
            v_.len = direct_len_;
            v_.base = direct_base_;
            v_.new_from = 0;
            return;
        }
        v_.data = d_.win;
        v_.len = d_.win_len;
        v_.base = d_.next - d_.win_len;
        v_.new_from = retained_;
    }

    bool has_new() const { return direct_ != nullptr || d_.win_len != retained_; }

private:
    bool has_chunks() const { return d_.ooo != nullptr && !d_.ooo->chunks.empty(); }

    uint32_t clip_to_depth(uint64_t n) const {
        if (cfg_.depth != 0) {
            n = d_.next >= cfg_.depth ? 0 : std::min<uint64_t>(n, cfg_.depth - d_.next);
        }
        return static_cast<uint32_t>(n);
    }

    void check_depth() {
        if (cfg_.depth == 0 || d_.next < cfg_.depth || (d_.flags & kDirDepth) != 0) {
            return;
        }
        d_.flags |= kDirDepth;
        ++st_.depth_reached;
        v_.events |= kStreamEvDepth;
        free_ooo(st_, d_);  // the window is freed by the next call: the view points into it
    }

    void note_diff(bool diff) {
        if (diff) {
            ++st_.overlap_diff;
            v_.events |= kStreamEvOverlapDiff;
        }
    }

    void resize_window(uint32_t cap) {
        auto* p = new uint8_t[cap];
        if (d_.win_len != 0) {
            std::memcpy(p, d_.win, d_.win_len);
        }
        delete[] d_.win;
        mem_add(st_, cap);
        mem_sub(st_, d_.win_cap);
        d_.win = p;
        d_.win_cap = cap;
    }

    // Room for `total` window bytes. Doubles (amortised: no allocation per packet once the
    // window fits lookback + a segment). Without `force`, respects the memcap.
    bool reserve(uint64_t total, bool force) {
        if (total <= d_.win_cap) {
            return true;
        }
        // The first allocation fits the data (short flows stay small), later ones double.
        uint64_t cap = std::max<uint64_t>(total, uint64_t{d_.win_cap} * 2);
        cap = (cap + kWindowGranule - 1) / kWindowGranule * kWindowGranule;
        if (!force && st_.memory_bytes + (cap - d_.win_cap) > cfg_.memcap) {
            cap = total;
            if (st_.memory_bytes + (cap - d_.win_cap) > cfg_.memcap) {
                return false;
            }
        }
        resize_window(static_cast<uint32_t>(std::min<uint64_t>(cap, UINT32_MAX)));
        return true;
    }

    void append(const uint8_t* src, uint32_t n) {
        if (n == 0) {
            return;
        }
        std::memcpy(d_.win + d_.win_len, src, n);
        d_.win_len += n;
        d_.next += n;
    }

    // Compares old bytes [s, b) of a segment with the delivered bytes still retained.
    bool differs_from_window(uint64_t s, uint64_t b, const uint8_t* payload) const {
        const uint64_t base = d_.next - d_.win_len;
        const uint64_t a = std::max(s, base);
        if (a >= b) {
            return false;
        }
        return std::memcmp(d_.win + (a - base), payload + (a - s), b - a) != 0;
    }

    // Index of the first chunk ending after `off` (chunks are disjoint: ends are sorted).
    size_t first_chunk_after(uint64_t off) const {
        const auto& ch = d_.ooo->chunks;
        return std::partition_point(ch.begin(), ch.end(),
                                    [off](const StreamChunk& c) { return c.end() <= off; }) -
               ch.begin();
    }

    void copy_from_chunks(uint64_t a, uint64_t b, uint8_t* dst) const {
        auto& ch = d_.ooo->chunks;
        for (size_t i = first_chunk_after(a); i < ch.size() && ch[i].off < b; ++i) {
            const uint64_t x = std::max(a, ch[i].off);
            const uint64_t y = std::min(b, ch[i].end());
            std::memcpy(dst + (x - a), ch[i].bytes() + (x - ch[i].off), y - x);
        }
    }

    // The bytes the receiver keeps for [ns, e) of a segment that started at `s`: the new
    // bytes, except where a buffered segment wins by the receiver's policy. Counts the bytes
    // already buffered (`covered`) and whether any of them differ (`diff`). Returns `src`
    // when nothing overlaps, else the scratch buffer.
    const uint8_t* resolve(uint64_t s, uint64_t ns, uint64_t e, const uint8_t* src,
                           const IpAddr& receiver, uint64_t& covered, bool& diff) {
        if (!has_chunks()) {
            return src;
        }
        auto& ch = d_.ooo->chunks;
        for (size_t i = first_chunk_after(ns); i < ch.size() && ch[i].off < e; ++i) {
            const uint64_t x = std::max(ns, ch[i].off);
            const uint64_t y = std::min(e, ch[i].end());
            covered += y - x;
            if (!diff && std::memcmp(ch[i].bytes() + (x - ch[i].off), src + (x - ns), y - x) != 0) {
                diff = true;
            }
        }
        if (covered == 0) {
            return src;
        }
        scratch_.assign(src, src + (e - ns));
        if (!diff) {
            return scratch_.data();  // same bytes whoever wins
        }
        const OsPolicy policy = cfg_.policy.lookup(receiver);
        const auto& ex = d_.ooo->extents;
        // Extents overlapping [s, e) start before e and after s - max_extent.
        size_t i = std::partition_point(ex.begin(), ex.end(),
                                        [e](const StreamExtent& x) { return x.off < e; }) -
                   ex.begin();
        while (i > 0) {
            const StreamExtent& x = ex[--i];
            if (x.off + d_.ooo->max_extent <= ns) {
                break;
            }
            const uint64_t a = std::max({ns, x.off, d_.next});
            const uint64_t b = std::min(e, x.end());
            if (a >= b || new_data_wins(policy, s, e, x.off, x.end())) {
                continue;
            }
            copy_from_chunks(a, b, scratch_.data() + (a - ns));
        }
        return scratch_.data();
    }

    // New allocation needed to buffer [s, e) out of order (0 when it lies inside a chunk).
    uint64_t ooo_need(uint64_t s, uint64_t e) const {
        if (d_.ooo != nullptr) {
            const size_t i = first_chunk_after(s);
            const auto& ch = d_.ooo->chunks;
            if (i < ch.size() && ch[i].off <= s && ch[i].end() >= e) {
                return 0;
            }
        }
        return e - s;
    }

    bool ooo_fits(uint64_t s, uint64_t e) const {
        const uint64_t have = d_.ooo != nullptr ? d_.ooo->bytes : 0;
        if (have + ooo_need(s, e) > cfg_.per_flow_ooo_max) {
            return false;
        }
        return d_.ooo == nullptr || d_.ooo->extents.size() < kMaxOooSegments;
    }

    void insert_ooo(uint64_t s, uint64_t e, const uint8_t* bytes) {
        if (d_.ooo == nullptr) {
            d_.ooo = new StreamOoo;
            mem_add(st_, sizeof(StreamOoo));
        }
        StreamOoo& o = *d_.ooo;
        auto& ch = o.chunks;
        const auto n = static_cast<uint32_t>(e - s);
        size_t i = first_chunk_after(s);
        if (i < ch.size() && ch[i].off <= s && ch[i].end() >= e) {
            std::memcpy(ch[i].bytes() + (s - ch[i].off), bytes, n);  // inside one chunk
        } else {
            StreamChunk c;
            c.off = s;
            c.len = n;
            c.alloc = n;
            c.data = std::make_unique_for_overwrite<uint8_t[]>(n);
            std::memcpy(c.data.get(), bytes, n);
            mem_add(st_, n);
            o.bytes += n;
            if (i < ch.size() && ch[i].off < s) {
                ch[i].len = static_cast<uint32_t>(s - ch[i].off);  // keeps its head
                ++i;
            }
            size_t j = i;
            while (j < ch.size() && ch[j].end() <= e) {
                mem_sub(st_, ch[j].alloc);
                o.bytes -= ch[j].alloc;
                ++j;
            }
            if (j < ch.size() && ch[j].off < e) {
                const auto cut = static_cast<uint32_t>(e - ch[j].off);  // keeps its tail
                ch[j].skip += cut;
                ch[j].len -= cut;
                ch[j].off = e;
            }
            ch.erase(ch.begin() + static_cast<ptrdiff_t>(i),
                     ch.begin() + static_cast<ptrdiff_t>(j));
            ch.insert(ch.begin() + static_cast<ptrdiff_t>(i), std::move(c));
        }
        auto& ex = o.extents;
        const auto pos =
            std::lower_bound(ex.begin(), ex.end(), StreamExtent{s, n},
                             [](const StreamExtent& a, const StreamExtent& b) {
                                 return a.off < b.off || (a.off == b.off && a.len < b.len);
                             });
        if (pos == ex.end() || pos->off != s || pos->len != n) {
            ex.insert(pos, StreamExtent{s, n});
            o.max_extent = std::max(o.max_extent, n);
        }
        account_meta(st_, o);
    }

    // Forgets buffered bytes below the next expected byte.
    void drop_below() {
        if (d_.ooo == nullptr) {
            return;
        }
        StreamOoo& o = *d_.ooo;
        auto& ch = o.chunks;
        size_t i = 0;
        while (i < ch.size() && ch[i].end() <= d_.next) {
            mem_sub(st_, ch[i].alloc);
            o.bytes -= ch[i].alloc;
            ++i;
        }
        ch.erase(ch.begin(), ch.begin() + static_cast<ptrdiff_t>(i));
        if (!ch.empty() && ch[0].off < d_.next) {
            const auto cut = static_cast<uint32_t>(d_.next - ch[0].off);
            ch[0].skip += cut;
            ch[0].len -= cut;
            ch[0].off = d_.next;
        }
        auto& ex = o.extents;
        const auto below = std::partition_point(
            ex.begin(), ex.end(), [this](const StreamExtent& x) { return x.off < d_.next; });
        ex.erase(std::remove_if(ex.begin(), below,
                                [this](const StreamExtent& x) { return x.end() <= d_.next; }),
                 below);
        if (ch.empty() && ex.empty()) {
            free_ooo(st_, d_);
            return;
        }
        account_meta(st_, o);
    }

    // Delivers buffered chunks that are contiguous with the next expected byte.
    void drain(bool force) {
        drop_below();
        while (has_chunks() && d_.ooo->chunks[0].off == d_.next && (d_.flags & kDirDepth) == 0) {
            StreamChunk& c = d_.ooo->chunks[0];
            const uint32_t take = clip_to_depth(c.len);
            if (!reserve(d_.win_len + take, force)) {
                return;
            }
            append(c.bytes(), take);
            check_depth();
            drop_below();
        }
    }

    // Gives up on the hole before `target`: the window restarts there (old bytes are not
    // contiguous with what follows), then the buffered run after it is delivered. Refused
    // when this view already holds new bytes: a view is one contiguous range.
    bool skip_to(uint64_t target) {
        if (d_.win_len != retained_ || direct_ != nullptr) {
            return false;
        }
        ++st_.gaps;
        st_.gap_bytes += target - d_.next;
        v_.events |= kStreamEvGap;
        d_.win_len = 0;
        retained_ = 0;
        d_.next = target;
        check_depth();
        drain(true);
        return true;
    }

    const StreamConfig& cfg_;
    StreamStats& st_;
    std::vector<uint8_t>& scratch_;
    StreamDir& d_;
    StreamView& v_;
    uint32_t retained_ = 0;  // window bytes that were delivered by earlier calls
    // Memcap fallback: the view shows the packet's bytes in place.
    const uint8_t* direct_ = nullptr;
    uint32_t direct_len_ = 0;
    uint64_t direct_base_ = 0;
};

}  // namespace

void TcpSessionFree::operator()(TcpSession* s) const {
    StreamStats& st = s->engine->stats_;
    for (StreamDir& d : s->dir) {
        free_window(st, d);
        free_ooo(st, d);
    }
    mem_sub(st, sizeof(TcpSession));
    delete s;
}

StreamEngine::StreamEngine(const StreamConfig& config) : config_(config) {}

StreamEngine::~StreamEngine() = default;

StreamView StreamEngine::process(Flow& flow, const Packet& pkt) {
    StreamView v;
    v.dir = pkt.dir;
    const uint8_t flags = pkt.tcp_flags;
    TcpSession* s = flow.tcp.get();
    if (s == nullptr) {
        s = new TcpSession;
        s->engine = this;
        flow.tcp.reset(s);
        mem_add(stats_, sizeof(TcpSession));
        // Handshake seen: the flow starts with the client's SYN. Anything else (SYN/ACK
        // included) is a pickup in the middle of the connection.
        const bool handshake = (flags & (kTcpSyn | kTcpAck)) == kTcpSyn;
        if (!handshake && !config_.midstream) {
            s->flags |= kSessUntracked;
        } else {
            ++stats_.sessions;
            stats_.midstream_pickups += handshake ? 0 : 1;
        }
    }
    if ((s->flags & kSessUntracked) != 0) {
        ++stats_.midstream_ignored;
        return v;
    }
    v.tracked = true;
    StreamDir& d = s->dir[pkt.dir == FlowDir::ToServer ? 0 : 1];
    if ((s->flags & kSessReset) != 0) {
        stats_.after_close += pkt.payload_len != 0 ? 1 : 0;
        return v;
    }
    if ((flags & kTcpRst) != 0) {
        // Receivers drop data carried by a RST; a RST far from the stream is not believed.
        if ((d.flags & kDirStarted) != 0 && seq_offset(d, pkt.tcp_seq, kRstWindow) < 0) {
            ++stats_.bad_seq;
            v.events |= kStreamEvBadSeq;
            return v;
        }
        s->flags |= kSessReset;
        stats_.after_close += pkt.payload_len != 0 ? 1 : 0;
        return v;
    }
    uint32_t data_seq = pkt.tcp_seq;
    if ((flags & kTcpSyn) != 0) {
        data_seq += 1;  // the SYN takes one sequence number; its data (if any) follows
        // SYN retransmissions may carry a new ISN; once data flowed the ISN is kept.
        if ((d.flags & kDirData) == 0) {
            d.isn1 = data_seq;
            d.next = 0;
            d.flags |= kDirStarted;
        }
    }
    if (pkt.payload_len != 0 && pkt.payload != nullptr) {
        if ((d.flags & kDirStarted) == 0) {
            d.isn1 = data_seq;  // midstream (or SYN/ACK not seen): offset 0 is this byte
            d.flags |= kDirStarted;
        }
        DirOps ops(config_, stats_, scratch_, d, v);
        if (ops.begin()) {
            ops.data(data_seq, pkt.payload, pkt.payload_len, pkt.dst);
            ops.finish();
        }
    }
    if ((flags & kTcpFin) != 0 && (d.flags & kDirStarted) != 0 && d.end == kNoEnd) {
        const int64_t fin = seq_offset(d, data_seq + pkt.payload_len, kMaxSeqDistance);
        if (fin >= 0 && static_cast<uint64_t>(fin) >= d.next) {
            d.end = static_cast<uint64_t>(fin);
        }
    }
    return v;
}

uint64_t stream_bytes(const Flow& flow, FlowDir dir) {
    const TcpSession* s = flow.tcp.get();
    return s == nullptr ? 0 : s->dir[dir == FlowDir::ToServer ? 0 : 1].next;
}

StreamView StreamEngine::flush(Flow& flow, FlowDir dir) {
    StreamView v;
    v.dir = dir;
    TcpSession* s = flow.tcp.get();
    if (s == nullptr || (s->flags & kSessUntracked) != 0) {
        return v;
    }
    v.tracked = true;
    StreamDir& d = s->dir[dir == FlowDir::ToServer ? 0 : 1];
    if (d.win == nullptr && d.ooo == nullptr && (d.flags & kDirDepth) == 0) {
        return v;  // nothing was ever buffered
    }
    DirOps ops(config_, stats_, scratch_, d, v);
    if (!ops.begin()) {
        return v;
    }
    ops.flush();
    if (ops.has_new()) {
        ops.finish();
    }
    return v;
}

StreamStats& StreamStats::operator+=(const StreamStats& o) {
    sessions += o.sessions;
    midstream_pickups += o.midstream_pickups;
    midstream_ignored += o.midstream_ignored;
    segments += o.segments;
    in_order += o.in_order;
    out_of_order += o.out_of_order;
    retransmissions += o.retransmissions;
    overlaps += o.overlaps;
    overlap_diff += o.overlap_diff;
    gaps += o.gaps;
    gap_bytes += o.gap_bytes;
    depth_reached += o.depth_reached;
    ooo_limit += o.ooo_limit;
    memcap_reached += o.memcap_reached;
    bad_seq += o.bad_seq;
    after_close += o.after_close;
    memory_bytes += o.memory_bytes;
    memory_peak += o.memory_peak;
    return *this;
}

}  // namespace vigil::dataplane
