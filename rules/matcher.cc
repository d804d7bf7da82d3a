// Matcher: the per-packet detection path. Hyperscan finds candidate rules by fast pattern
// (callbacks only record), then each candidate's confirm program runs in rule order with
// Suricata's content-inspection semantics (moving cursor, relative options, backtracking).
// Per-flow state (flowbits, flowints) lives in the flow; xbits in a per-worker store here.

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "common/text.h"
#include "dataplane/stream.h"
#include "rules/asn1.h"
#include "rules/compiled.h"
#include "rules/ruleset.h"

namespace vigil::rules {

using dataplane::Flow;
using dataplane::FlowDir;
using dataplane::Packet;

struct HsScratchFree {
    void operator()(hs_scratch_t* s) const { hs_free_scratch(s); }
};
struct Pcre2MatchDataFree {
    void operator()(pcre2_match_data* m) const { pcre2_match_data_free(m); }
};

// xbits of one worker: (bit, host) and (bit, address pair) entries with an expiry in packet
// seconds. Open addressing over a fixed table, sized once: a lookup probes a short window,
// an expired entry is free, and a set on a full window replaces the entry expiring first.
struct XbitStore {
    struct Key {
        AddrKey a;
        AddrKey b;  // the pair's higher address; zero for a host
        uint16_t id = 0;
        bool pair = false;
        bool operator==(const Key&) const = default;
    };
    struct Entry {
        Key key;
        int64_t expire = 0;  // valid while the packet time is below it; 0: free
    };
    static constexpr size_t kSlots = 8192;  // power of two
    static constexpr size_t kProbe = 16;
    std::vector<Entry> slots;
    uint64_t replaced = 0;  // live entries dropped for room

    static size_t hash(const Key& k) {
        uint64_t h = k.a.hi * 0x9E3779B97F4A7C15ULL ^ k.a.lo;
        h = (h ^ (h >> 29)) * 0xBF58476D1CE4E5B9ULL ^ k.b.hi;
        h = (h ^ (h >> 31)) * 0x94D049BB133111EBULL ^ k.b.lo;
        h ^= (uint64_t{k.id} << 1 | (k.pair ? 1U : 0U)) * 0xD6E8FEB86659FD93ULL;
        return static_cast<size_t>(h ^ (h >> 32));
    }
    Entry* find(const Key& k, int64_t now) {
        const size_t h = hash(k);
        for (size_t i = 0; i < kProbe; ++i) {
            Entry& e = slots[(h + i) & (kSlots - 1)];
            if (e.expire > now && e.key == k) {
                return &e;
            }
        }
        return nullptr;
    }
    void set(const Key& k, int64_t now, int64_t expire) {
        if (Entry* e = find(k, now)) {
            e->expire = expire;
            return;
        }
        const size_t h = hash(k);
        Entry* victim = nullptr;
        for (size_t i = 0; i < kProbe; ++i) {
            Entry& e = slots[(h + i) & (kSlots - 1)];
            if (e.expire <= now) {  // free or expired: pruned here
                victim = &e;
                break;
            }
            if (victim == nullptr || e.expire < victim->expire) {
                victim = &e;
            }
        }
        if (victim->expire > now) {
            ++replaced;
        }
        victim->key = k;
        victim->expire = expire;
    }
};

struct MatcherScratch {
    std::unique_ptr<hs_scratch_t, HsScratchFree> hs;
    std::unique_ptr<pcre2_match_data, Pcre2MatchDataFree> md;
    std::vector<uint32_t> hit_patterns;  // pattern ids from the last scan (may repeat across
                                         // scans of one packet: window + packet, instances)
    std::vector<uint32_t> candidates;    // rule indexes
    std::vector<uint64_t> seen;          // per rule: last packet generation it was queued
    std::vector<uint32_t> alerts;
    std::vector<int64_t> vars;  // byte_extract values of the rule being evaluated
    uint64_t generation = 0;
    std::vector<std::vector<std::string>> views;  // transformed buffer instances, per view
    std::vector<uint64_t> view_gen;               // generation each view was computed for
    std::vector<uint8_t> b64;                     // base64_decode output (sized once)
    std::string header;                           // a transformed packet header
    uint32_t b64_len = 0;
    XbitStore xbits;
};

namespace {

constexpr int kMaxRecursion = 64;  // bounds backtracking on hostile payloads

// The bytes a program runs on. On a reassembled stream window, absolute positions (offset,
// depth, byte_* without `relative`) count from the start of the stream: `base` is the stream
// offset of p[0]; and a match only counts when it ends after `min_end` (in the new bytes).
struct Buf {
    const uint8_t* p;
    uint32_t len;
    uint64_t base = 0;
    bool stream = false;
    uint32_t min_end = 0;
};

inline uint8_t fold(uint8_t c) {
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

// Horspool search for pattern in [from, to); returns the match position or -1.
int64_t find(const CContent& c, Buf b, uint32_t from, uint32_t to) {
    const auto* pat = reinterpret_cast<const uint8_t*>(c.pat.data());
    const uint32_t n = static_cast<uint32_t>(c.pat.size());
    if (to > b.len) {
        to = b.len;
    }
    if (n == 0 || from > to || to - from < n) {
        return -1;
    }
    const bool nc = c.src.nocase;
    uint32_t i = from;
    while (i + n <= to) {
        const uint8_t last = nc ? fold(b.p[i + n - 1]) : b.p[i + n - 1];
        if (last == pat[n - 1]) {
            uint32_t j = 0;
            if (nc) {
                while (j + 1 < n && fold(b.p[i + j]) == pat[j]) {
                    ++j;
                }
            } else {
                while (j + 1 < n && b.p[i + j] == pat[j]) {
                    ++j;
                }
            }
            if (j + 1 >= n) {
                return i;
            }
        }
        const uint32_t s = c.skip[last];
        i += s == 0 ? 1 : s;
    }
    return -1;
}

int64_t operand(const Operand& o, const std::vector<int64_t>& vars) {
    return o.is_var() ? vars[static_cast<size_t>(o.var)] : o.value;
}

// Reads nbytes at pos as a number (binary with endianness, or text in a base). nbytes 0 (text
// only): the rest of the buffer.
bool extract_number(Buf b, int64_t pos, uint8_t nbytes, Endian endian, NumBase base,
                    uint64_t& out) {
    if (nbytes == 0 && base != NumBase::None && pos >= 0 && static_cast<uint64_t>(pos) < b.len) {
        nbytes = static_cast<uint8_t>(std::min<uint64_t>(b.len - pos, 20));  // 2^64 has 20 digits
    }
    if (pos < 0 || nbytes == 0 || static_cast<uint64_t>(pos) + nbytes > b.len) {
        return false;
    }
    const uint8_t* p = b.p + pos;
    if (base == NumBase::None) {
        uint64_t v = 0;
        if (endian == Endian::Big) {
            for (uint8_t i = 0; i < nbytes; ++i) {
                v = (v << 8) | p[i];
            }
        } else {
            for (int i = nbytes - 1; i >= 0; --i) {
                v = (v << 8) | p[i];
            }
        }
        out = v;
        return true;
    }
    char tmp[32];
    const size_t n = std::min<size_t>(nbytes, sizeof(tmp) - 1);
    std::memcpy(tmp, p, n);
    tmp[n] = '\0';
    const int radix = base == NumBase::Hex ? 16 : base == NumBase::Oct ? 8 : 10;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(tmp, &end, radix);
    if (end == tmp) {
        return false;
    }
    out = v;
    return true;
}

uint64_t apply_bitmask(uint64_t v, const std::optional<uint64_t>& mask) {
    if (!mask || *mask == 0) {
        return v;
    }
    v &= *mask;
    uint64_t m = *mask;
    while ((m & 1) == 0) {
        m >>= 1;
        v >>= 1;
    }
    return v;
}

// Suricata's base64_decode limit: characters decoded per use.
constexpr uint32_t kBase64MaxBytes = 65535;

// RFC 4648 decoding as Suricata's base64_decode does it: stops at the first character outside
// the alphabet (padding included), and a final partial group of 2 or 3 characters still yields
// its 1 or 2 whole bytes. Returns the bytes written to `out` (room for n * 3 / 4 + 3);
// `used` gets the characters read.
uint32_t base64_decode(const uint8_t* in, uint32_t n, uint8_t* out, uint32_t& used) {
    uint32_t len = 0;
    uint32_t acc = 0;
    int k = 0;
    used = n;
    for (uint32_t i = 0; i < n; ++i) {
        const int v = base64_value(in[i]);
        if (v < 0) {
            used = i;
            break;
        }
        acc = acc << 6 | static_cast<uint32_t>(v);
        if (++k == 4) {
            out[len++] = static_cast<uint8_t>(acc >> 16);
            out[len++] = static_cast<uint8_t>(acc >> 8);
            out[len++] = static_cast<uint8_t>(acc);
            acc = 0;
            k = 0;
        }
    }
    if (k >= 2) {
        acc <<= 6 * (4 - k);
        out[len++] = static_cast<uint8_t>(acc >> 16);
        if (k == 3) {
            out[len++] = static_cast<uint8_t>(acc >> 8);
        }
    }
    return len;
}

class Program {
public:
    Program(const std::vector<COp>& ops, MatcherScratch& s, MatcherStats& st, Buf b)
        : ops_(ops), s_(s), st_(st), b_(b), origin_(b) {}

    bool run() { return step(0, 0, 0, 0); }

private:
    // Evaluates ops[i..] with the cursor at `cur` (end of the previous match); `hi` is the
    // furthest end of a positive match so far.
    bool step(size_t i, uint32_t cur, uint32_t hi, int depth) {
        if (i == ops_.size()) {
            return !origin_.stream || hi > origin_.min_end;
        }
        if (depth > kMaxRecursion) {
            return false;
        }
        return std::visit([&](const auto& op) { return eval(op, i, cur, hi, depth); }, ops_[i]);
    }

    // The furthest match end so far, in the program's own buffer: positions in base64_data's
    // decoded bytes say nothing about where the match lies in a stream window.
    uint32_t raise(uint32_t hi, uint32_t end) const { return in_b64_ ? hi : std::max(hi, end); }

    // Absolute position `pos` (from the start of the buffer or stream) in this buffer.
    int64_t abs_pos(int64_t pos) const { return pos - static_cast<int64_t>(b_.base); }

    bool eval(const CContent& c, size_t i, uint32_t cur, uint32_t hi, int depth) {
        const Content& k = c.src;
        const uint32_t n = static_cast<uint32_t>(c.pat.size());
        int64_t from = 0;
        int64_t to = b_.len;
        if (k.relative()) {
            from = cur;
            if (k.distance) {
                from += operand(*k.distance, s_.vars);
            }
            if (from < 0) {
                from = 0;
            }
            if (k.within) {
                const int64_t lim = static_cast<int64_t>(cur) +
                                    (k.distance ? operand(*k.distance, s_.vars) : 0) +
                                    operand(*k.within, s_.vars);
                to = std::min<int64_t>(to, lim);
            }
        } else {
            int64_t abs_from = 0;
            if (k.offset) {
                abs_from = operand(*k.offset, s_.vars);
            }
            from = abs_pos(abs_from);
            if (k.depth) {
                to = std::min<int64_t>(to, abs_pos(abs_from + operand(*k.depth, s_.vars)));
            }
            if (k.startswith) {
                from = abs_pos(0);
                to = std::min<int64_t>(to, abs_pos(n));
            }
        }
        if (from < 0) {
            from = 0;
        }
        if (k.endswith) {
            // The match must end at the end of the buffer.
            from = std::max<int64_t>(from, static_cast<int64_t>(b_.len) - n);
        }
        if (to < 0 || from > to) {
            return k.negated ? step(i + 1, cur, hi, depth + 1) : false;
        }
        auto lo = static_cast<uint32_t>(from);
        const auto end = static_cast<uint32_t>(to);
        if (k.negated) {
            if (find(c, b_, lo, end) >= 0) {
                return false;
            }
            return step(i + 1, cur, hi, depth + 1);
        }
        for (;;) {
            const int64_t pos = find(c, b_, lo, end);
            if (pos < 0) {
                return false;
            }
            const auto match_end = static_cast<uint32_t>(pos) + n;
            if (step(i + 1, match_end, raise(hi, match_end), depth + 1)) {
                return true;
            }
            // What follows does not depend on where this matched, unless a later match may
            // still end in the new stream bytes.
            if (!c.relative_next && !b_.stream) {
                return false;
            }
            lo = static_cast<uint32_t>(pos) + 1;
        }
    }

    bool eval(const CPcre& p, size_t i, uint32_t cur, uint32_t hi, int depth) {
        const uint32_t base = p.src.relative ? cur : 0;
        if (base > b_.len) {
            return p.src.negated ? step(i + 1, cur, hi, depth + 1) : false;
        }
        const auto* subj = reinterpret_cast<PCRE2_SPTR>(b_.p + base);
        const PCRE2_SIZE len = b_.len - base;
        PCRE2_SIZE start = 0;
        for (;;) {
            const int rc = pcre2_match(p.code.get(), subj, len, start, 0, s_.md.get(), nullptr);
            if (rc < 0) {
                if (rc != PCRE2_ERROR_NOMATCH) {
                    ++st_.pcre_errors;
                }
                return p.src.negated ? step(i + 1, cur, hi, depth + 1) : false;
            }
            if (p.src.negated) {
                return false;
            }
            const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(s_.md.get());
            const auto end = static_cast<uint32_t>(base + ov[1]);
            if (step(i + 1, end, raise(hi, end), depth + 1)) {
                return true;
            }
            if ((!p.relative_next && !b_.stream) || ov[0] + 1 > len) {
                return false;
            }
            start = ov[0] + 1;
        }
    }

    bool eval(const ByteTest& t, size_t i, uint32_t cur, uint32_t hi, int depth) {
        const int64_t pos =
            t.relative ? cur + operand(t.offset, s_.vars) : abs_pos(operand(t.offset, s_.vars));
        uint64_t v = 0;
        if (!extract_number(b_, pos, t.nbytes, t.endian, t.base, v)) {
            return false;
        }
        v = apply_bitmask(v, t.bitmask);
        const auto want = static_cast<uint64_t>(operand(t.value, s_.vars));
        bool m = false;
        switch (t.op) {
            case '<':
                m = v < want;
                break;
            case '>':
                m = v > want;
                break;
            case '=':
                m = v == want;
                break;
            case 'l':
                m = v <= want;
                break;
            case 'g':
                m = v >= want;
                break;
            case '&':
                m = (v & want) != 0;
                break;
            case '^':
                m = (v ^ want) != 0;
                break;
            default:
                m = false;
        }
        if (t.negated) {
            m = !m;
        }
        return m && step(i + 1, cur, hi, depth + 1);
    }

    bool eval(const ByteJump& j, size_t i, uint32_t cur, uint32_t hi, int depth) {
        const int64_t pos =
            j.relative ? cur + operand(j.offset, s_.vars) : abs_pos(operand(j.offset, s_.vars));
        uint64_t v = 0;
        if (!extract_number(b_, pos, j.nbytes, j.endian, j.base, v)) {
            return false;
        }
        v = apply_bitmask(v, j.bitmask);
        int64_t val = static_cast<int64_t>(v) * j.multiplier;
        if (j.align && (val % 4) != 0) {
            val += 4 - (val % 4);
        }
        int64_t target = 0;
        if (j.from_beginning) {
            target = abs_pos(val);
        } else if (j.from_end) {
            target = static_cast<int64_t>(b_.len) + val;
        } else {
            target = pos + j.nbytes + val;
        }
        target += j.post_offset;
        if (target > static_cast<int64_t>(b_.len)) {
            return false;
        }
        // Suricata: a jump before the start of the buffer lands on its start (a negative
        // post_offset may move the cursor backwards, never out of the buffer).
        target = std::max<int64_t>(target, 0);
        return step(i + 1, static_cast<uint32_t>(target), hi, depth + 1);
    }

    bool eval(const ByteExtract& e, size_t i, uint32_t cur, uint32_t hi, int depth) {
        const int64_t pos = e.relative ? cur + e.offset : abs_pos(e.offset);
        uint64_t v = 0;
        if (!extract_number(b_, pos, e.nbytes, e.endian, e.base, v)) {
            return false;
        }
        v = apply_bitmask(v, e.bitmask);
        int64_t val = static_cast<int64_t>(v) * e.multiplier;
        if (e.align != 0 && (val % e.align) != 0) {
            val += e.align - (val % e.align);
        }
        s_.vars[static_cast<size_t>(e.var)] = val;
        return step(i + 1, static_cast<uint32_t>(pos + e.nbytes), hi, depth + 1);
    }

    bool eval(const ByteMath& m, size_t i, uint32_t cur, uint32_t hi, int depth) {
        const int64_t nbytes = operand(m.nbytes, s_.vars);
        if (nbytes < 1 || nbytes > (m.base == NumBase::None ? 4 : 10)) {
            return false;  // a variable byte count out of range
        }
        const int64_t pos =
            m.relative ? cur + operand(m.offset, s_.vars) : abs_pos(operand(m.offset, s_.vars));
        uint64_t v = 0;
        if (!extract_number(b_, pos, static_cast<uint8_t>(nbytes), m.endian, m.base, v)) {
            return false;
        }
        const auto r = static_cast<uint64_t>(operand(m.rvalue, s_.vars));
        switch (m.oper) {
            case '+':
                v += r;
                break;
            case '-':
                v -= r;
                break;
            case '*':
                v *= r;
                break;
            case '/':
                if (r == 0) {
                    return false;  // Suricata: division by zero does not match
                }
                v /= r;
                break;
            case '<':
                v = r >= 64 ? 0 : v << r;
                break;
            default:
                v = r >= 64 ? 0 : v >> r;
                break;
        }
        v = apply_bitmask(v, m.bitmask);  // after the operation (Suricata)
        s_.vars[static_cast<size_t>(m.var)] = static_cast<int64_t>(v);
        return step(i + 1, static_cast<uint32_t>(pos + nbytes), hi, depth + 1);
    }

    bool eval(const Entropy& e, size_t i, uint32_t cur, uint32_t hi, int depth) {
        const int64_t from = abs_pos(e.offset);
        if (from < 0 || from >= static_cast<int64_t>(b_.len)) {
            return false;
        }
        uint32_t n = b_.len - static_cast<uint32_t>(from);
        if (e.bytes != 0) {
            n = std::min(n, e.bytes);
        }
        std::array<uint32_t, 256> counts{};
        const uint8_t* p = b_.p + from;
        for (uint32_t k = 0; k < n; ++k) {
            ++counts[p[k]];
        }
        double h = 0;
        for (uint32_t c : counts) {
            if (c != 0) {
                const double q = static_cast<double>(c) / n;
                h -= q * std::log2(q);
            }
        }
        return e.matches(h) && step(i + 1, cur, hi, depth + 1);
    }

    bool eval(const IsDataAt& d, size_t i, uint32_t cur, uint32_t hi, int depth) {
        const int64_t n = operand(d.size, s_.vars);
        bool m = false;
        if (d.relative) {
            m = static_cast<int64_t>(cur) + n <= static_cast<int64_t>(b_.len);
        } else {
            m = abs_pos(n) < static_cast<int64_t>(b_.len);
        }
        if (d.negated) {
            m = !m;
        }
        return m && step(i + 1, cur, hi, depth + 1);
    }

    bool eval(const Base64Decode& d, size_t i, uint32_t cur, uint32_t hi, int depth) {
        int64_t from = d.relative ? cur : 0;
        if (d.offset != 0) {
            // Suricata: an offset at or past the end of the (remaining) buffer fails.
            if (from + d.offset >= static_cast<int64_t>(b_.len)) {
                return false;
            }
            from += d.offset;
        }
        if (from > static_cast<int64_t>(b_.len)) {
            return false;
        }
        const uint32_t avail = b_.len - static_cast<uint32_t>(from);
        const uint32_t n = std::min(avail, d.bytes == 0 ? kBase64MaxBytes : d.bytes);
        uint32_t used = 0;
        s_.b64_len = base64_decode(b_.p + from, n, s_.b64.data(), used);
        // On a stream window the decoded text counts as matched bytes: new base64 characters
        // make a new match.
        const auto end = static_cast<uint32_t>(from) + used;
        return s_.b64_len > 0 && step(i + 1, cur, raise(hi, end), depth + 1);
    }

    // dataset / datarep look the whole buffer up (Suricata: not from the cursor, which does
    // not move). A set op changes the set as it runs, before the rest of the program.
    bool eval(const CDataset& d, size_t i, uint32_t cur, uint32_t hi, int depth) {
        const std::span<const uint8_t> data(b_.p, b_.len);
        bool m = false;
        if (b_.len != 0) {
            switch (d.src.cmd) {
                case DatasetMatch::Cmd::IsSet:
                    m = d.set->contains(data);
                    break;
                case DatasetMatch::Cmd::IsNotSet:
                    m = !d.set->contains(data);
                    break;
                case DatasetMatch::Cmd::Set:
                    m = d.set->add(data) == Dataset::AddResult::Added;
                    break;
                case DatasetMatch::Cmd::Unset:
                    m = d.set->remove(data);
                    break;
            }
        }
        return m && step(i + 1, cur, hi, depth + 1);
    }

    bool eval(const CDatarep& d, size_t i, uint32_t cur, uint32_t hi, int depth) {
        const auto rep = b_.len != 0 ? d.set->reputation({b_.p, b_.len}) : std::nullopt;
        if (!rep) {
            return false;
        }
        const uint16_t v = d.src.value;
        bool m = false;
        switch (d.src.op) {
            case DatarepMatch::Op::Gt:
                m = *rep > v;
                break;
            case DatarepMatch::Op::Lt:
                m = *rep < v;
                break;
            case DatarepMatch::Op::Ge:
                m = *rep >= v;
                break;
            case DatarepMatch::Op::Le:
                m = *rep <= v;
                break;
            case DatarepMatch::Op::Eq:
                m = *rep == v;
                break;
        }
        return m && step(i + 1, cur, hi, depth + 1);
    }

    bool eval(const Asn1& a, size_t i, uint32_t cur, uint32_t hi, int depth) {
        return asn1_matches(a, {b_.p, b_.len}, cur) && step(i + 1, cur, hi, depth + 1);
    }

    // What follows inspects the decoded bytes, from their start.
    bool eval(const Base64Data& /*d*/, size_t i, uint32_t /*cur*/, uint32_t hi, int depth) {
        const Buf saved = b_;
        b_ = Buf{s_.b64.data(), s_.b64_len};
        in_b64_ = true;
        const bool m = step(i + 1, 0, hi, depth + 1);
        in_b64_ = false;
        b_ = saved;
        return m;
    }

    const std::vector<COp>& ops_;
    MatcherScratch& s_;
    MatcherStats& st_;
    Buf b_;
    const Buf origin_;     // the buffer the program started on (stream end check)
    bool in_b64_ = false;  // evaluating after base64_data, on the decoded bytes
};

bool ports_match(const Rule& r, const Packet& pkt, bool swapped) {
    const bool has_ports = pkt.has_tcp() || pkt.has_udp();
    const uint16_t sp = swapped ? pkt.dport : pkt.sport;
    const uint16_t dp = swapped ? pkt.sport : pkt.dport;
    if (!has_ports) {
        return r.sport.is_any() && r.dport.is_any();
    }
    return r.sport.contains(sp) && r.dport.contains(dp);
}

bool addresses_match(const Rule& r, const Packet& pkt) {
    if (r.src.contains(pkt.src) && r.dst.contains(pkt.dst) && ports_match(r, pkt, false)) {
        return true;
    }
    return r.bidirectional && r.src.contains(pkt.dst) && r.dst.contains(pkt.src) &&
           ports_match(r, pkt, true);
}

bool proto_match(const Rule& r, const Packet& pkt) {
    if (!r.decode_events.empty() && pkt.l4 == nullptr) {
        // A decoder event often means the transport header did not decode: like Suricata,
        // `alert tcp ... decode-event:tcp.pkt_too_small` goes by the IP protocol (and
        // `alert ip` / `pkthdr` by the packet alone, IP layer or not).
        switch (r.proto) {
            case Proto::Ip:
                return true;
            case Proto::Tcp:
                return pkt.ip_proto == dataplane::kProtoTcp;
            case Proto::Udp:
                return pkt.ip_proto == dataplane::kProtoUdp;
            case Proto::Icmp:
                return pkt.ip_proto == dataplane::kProtoIcmp ||
                       pkt.ip_proto == dataplane::kProtoIcmpv6;
            case Proto::Icmpv4:
                return pkt.ip_proto == dataplane::kProtoIcmp;
            case Proto::Icmpv6:
                return pkt.ip_proto == dataplane::kProtoIcmpv6;
        }
        return false;
    }
    switch (r.proto) {
        case Proto::Ip:
            return pkt.ip_version != 0;
        case Proto::Tcp:
            return pkt.has_tcp();
        case Proto::Udp:
            return pkt.has_udp();
        case Proto::Icmp:
            return pkt.has_icmp();
        case Proto::Icmpv4:
            return pkt.l4 != nullptr && pkt.ip_proto == dataplane::kProtoIcmp;
        case Proto::Icmpv6:
            return pkt.l4 != nullptr && pkt.ip_proto == dataplane::kProtoIcmpv6;
    }
    return false;
}

bool fragbits_match(const FragBitsMatch& f, const Packet& pkt) {
    const uint8_t want = (f.m ? 1 : 0) | (f.d ? 2 : 0) | (f.r ? 4 : 0);
    const uint8_t have = (pkt.frag_mf ? 1 : 0) | (pkt.frag_df ? 2 : 0) | (pkt.frag_rb ? 4 : 0);
    switch (f.modifier) {
        case '+':
            return (have & want) == want;
        case '*':
            return (have & want) != 0;
        case '!':
            return (have & want) == 0;
        default:
            return have == want;
    }
}

// stream_size's value, as Suricata computes it (next_seq - isn): the bytes a direction
// delivered, plus one for its SYN (a midstream pickup counts as one too) once that direction
// has sent anything, plus one for its FIN.
uint64_t stream_size_of(const Flow& flow, FlowDir dir) {
    const bool to_server = dir == FlowDir::ToServer;
    const uint64_t pkts = to_server ? flow.pkts_toserver : flow.pkts_toclient;
    const bool fin = to_server ? flow.fin_toserver : flow.fin_toclient;
    return dataplane::stream_bytes(flow, dir) + (pkts > 0 ? 1 : 0) + (fin ? 1 : 0);
}

// Everything but the payload program and flowbits: cheap checks first.
bool header_match(const Rule& r, const Packet& pkt, const Flow* flow) {
    for (dataplane::DecodeEvent e : r.decode_events) {
        if (!pkt.events.has(e)) {
            return false;
        }
    }
    if (!proto_match(r, pkt) || !addresses_match(r, pkt)) {
        return false;
    }
    if (r.flow) {
        const FlowOpt& f = *r.flow;
        if ((f.established || f.not_established || f.to_server || f.to_client) && flow == nullptr) {
            return false;
        }
        if (f.established && !pkt.flow_established) {
            return false;
        }
        if (f.not_established && pkt.flow_established) {
            return false;
        }
        if (f.to_server && pkt.dir != FlowDir::ToServer) {
            return false;
        }
        if (f.to_client && pkt.dir != FlowDir::ToClient) {
            return false;
        }
        if (f.only_frag && !pkt.is_fragment) {
            return false;
        }
        if (f.no_frag && pkt.is_fragment) {
            return false;
        }
    }
    if (r.dsize) {
        // Suricata requires a payload for `dsize:!N` (its test suite's test-dsize-values:
        // empty packets do not match `!9`, though they match `<10`).
        if (!r.dsize->matches(pkt.payload_len) ||
            (r.dsize->op == IntMatch::Op::Ne && pkt.payload_len == 0)) {
            return false;
        }
    }
    if (r.ttl && !r.ttl->matches(pkt.ttl)) {
        return false;
    }
    if (r.tos && ((pkt.tos == *r.tos) == r.tos_negated)) {
        return false;
    }
    if (r.ip_proto && !r.ip_proto->matches(pkt.ip_proto)) {
        return false;
    }
    if (r.ipopts && (pkt.ip_opts & *r.ipopts) == 0) {
        return false;
    }
    if (r.fragbits && !fragbits_match(*r.fragbits, pkt)) {
        return false;
    }
    for (const StreamSize& ss : r.stream_size) {
        if (flow == nullptr || !flow->tcp) {
            return false;
        }
        const bool server = ss.cmp.matches(stream_size_of(*flow, FlowDir::ToClient));
        const bool client = ss.cmp.matches(stream_size_of(*flow, FlowDir::ToServer));
        bool ok = false;
        switch (ss.side) {
            case StreamSize::Side::Server:
                ok = server;
                break;
            case StreamSize::Side::Client:
                ok = client;
                break;
            case StreamSize::Side::Both:
                ok = server && client;
                break;
            case StreamSize::Side::Either:
                ok = server || client;
                break;
        }
        if (!ok) {
            return false;
        }
    }
    if (r.itype || r.icode || r.icmp_id || r.icmp_seq) {
        if (!pkt.has_icmp()) {
            return false;
        }
        if (r.itype && !r.itype->matches(pkt.icmp_type)) {
            return false;
        }
        if (r.icode && !r.icode->matches(pkt.icmp_code)) {
            return false;
        }
        if ((r.icmp_id || r.icmp_seq) && !pkt.icmp_has_id) {
            return false;
        }
        if (r.icmp_id && pkt.icmp_id != *r.icmp_id) {
            return false;
        }
        if (r.icmp_seq && pkt.icmp_seq != *r.icmp_seq) {
            return false;
        }
    }
    if (r.tcp_flags || r.tcp_seq || r.tcp_ack || r.tcp_window) {
        if (!pkt.has_tcp()) {
            return false;
        }
        if (r.tcp_flags && !r.tcp_flags->matches(pkt.tcp_flags)) {
            return false;
        }
        if (r.tcp_seq && pkt.tcp_seq != *r.tcp_seq) {
            return false;
        }
        if (r.tcp_ack && pkt.tcp_ack != *r.tcp_ack) {
            return false;
        }
        if (r.tcp_window && ((pkt.tcp_window == *r.tcp_window) == r.tcp_window_negated)) {
            return false;
        }
    }
    return true;
}

bool flowbit_checks_match(const CompiledRule& cr, const Flow* flow) {
    for (const auto& c : cr.flowbit_checks) {
        if (flow == nullptr) {
            return false;
        }
        const bool want_set = c.op == FlowbitCmd::Op::IsSet;
        bool ok = !c.any_of;  // all-of starts true, any-of starts false
        for (uint16_t id : c.ids) {
            const bool m = flow->bits.isset(id) == want_set;
            if (c.any_of) {
                ok = ok || m;
            } else {
                ok = ok && m;
            }
        }
        if (!ok) {
            return false;
        }
    }
    return true;
}

void apply_flowbit_actions(const CompiledRule& cr, Flow* flow) {
    if (flow == nullptr) {
        return;
    }
    for (const auto& a : cr.flowbit_actions) {
        for (uint16_t id : a.ids) {
            switch (a.op) {
                case FlowbitCmd::Op::Set:
                    if (!flow->bits.set(id)) {
                        ++flow->flowbit_overflows;
                    }
                    break;
                case FlowbitCmd::Op::Unset:
                    flow->bits.unset(id);
                    break;
                case FlowbitCmd::Op::Toggle:
                    flow->bits.toggle(id);
                    break;
                default:
                    break;
            }
        }
    }
}

// A flowint's value, or null while unset.
const uint32_t* flowint_value(const Flow& flow, uint16_t id) {
    return flow.ints.get(id);
}

uint32_t flowint_operand(const CFlowint& c, const Flow& flow) {
    if (c.var < 0) {
        return c.value;
    }
    const uint32_t* v = flowint_value(flow, static_cast<uint16_t>(c.var));
    return v != nullptr ? *v : 0;  // Suricata: an unset operand counts as 0
}

bool flowint_checks_match(const CompiledRule& cr, const Flow* flow) {
    using Op = FlowintCmd::Op;
    for (const auto& c : cr.flowint_checks) {
        if (flow == nullptr) {
            return false;
        }
        const uint32_t* v = flowint_value(*flow, c.id);
        if (c.op == Op::IsSet || c.op == Op::NotSet) {
            if ((v != nullptr) != (c.op == Op::IsSet)) {
                return false;
            }
            continue;
        }
        if (v == nullptr) {
            return false;  // a comparison needs the variable set
        }
        const uint32_t t = flowint_operand(c, *flow);
        bool m = false;
        switch (c.op) {
            case Op::Eq:
                m = *v == t;
                break;
            case Op::Ne:
                m = *v != t;
                break;
            case Op::Lt:
                m = *v < t;
                break;
            case Op::Le:
                m = *v <= t;
                break;
            case Op::Gt:
                m = *v > t;
                break;
            case Op::Ge:
                m = *v >= t;
                break;
            default:
                break;
        }
        if (!m) {
            return false;
        }
    }
    return true;
}

void apply_flowint_actions(const CompiledRule& cr, Flow* flow) {
    using Op = FlowintCmd::Op;
    if (flow == nullptr) {
        return;
    }
    for (const auto& a : cr.flowint_actions) {
        const uint32_t t = flowint_operand(a, *flow);
        const uint32_t* v = flowint_value(*flow, a.id);
        uint32_t nv = t;
        if (a.op == Op::Add && v != nullptr) {
            nv = *v + t;  // unsigned: wraps like Suricata's uint32
        } else if (a.op == Op::Sub) {
            if (v == nullptr) {
                continue;  // Suricata: subtracting from an unset flowint does nothing
            }
            nv = *v - t;
        }
        if (!flow->ints.set(a.id, nv)) {
            ++flow->flowbit_overflows;
        }
    }
}

XbitStore::Key xbit_key(const CXbit& x, const Packet& pkt) {
    XbitStore::Key k;
    k.id = x.id;
    switch (x.track) {
        case XbitCmd::Track::IpSrc:
            k.a = AddrKey::from(pkt.src);
            break;
        case XbitCmd::Track::IpDst:
            k.a = AddrKey::from(pkt.dst);
            break;
        case XbitCmd::Track::IpPair: {
            // Either direction names the same pair.
            const AddrKey s = AddrKey::from(pkt.src);
            const AddrKey d = AddrKey::from(pkt.dst);
            k.a = std::min(s, d);
            k.b = std::max(s, d);
            k.pair = true;
            break;
        }
    }
    return k;
}

bool xbit_checks_match(const CompiledRule& cr, XbitStore& store, const Packet& pkt) {
    for (const auto& c : cr.xbit_checks) {
        const bool set = store.find(xbit_key(c, pkt), pkt.ts_sec) != nullptr;
        if (set != (c.op == XbitCmd::Op::IsSet)) {
            return false;
        }
    }
    return true;
}

void apply_xbit_actions(const CompiledRule& cr, XbitStore& store, const Packet& pkt) {
    for (const auto& a : cr.xbit_actions) {
        const XbitStore::Key k = xbit_key(a, pkt);
        XbitStore::Entry* e = store.find(k, pkt.ts_sec);
        switch (a.op) {
            case XbitCmd::Op::Set:
                store.set(k, pkt.ts_sec, pkt.ts_sec + a.expire);
                break;
            case XbitCmd::Op::Unset:
                if (e != nullptr) {
                    e->expire = 0;
                }
                break;
            case XbitCmd::Op::Toggle:
                if (e != nullptr) {
                    e->expire = 0;
                } else {
                    store.set(k, pkt.ts_sec, pkt.ts_sec + a.expire);
                }
                break;
            default:
                break;
        }
    }
}

int on_hs_match(unsigned int id, unsigned long long /*from*/, unsigned long long /*to*/,
                unsigned int /*flags*/, void* ctx) {
    static_cast<MatcherScratch*>(ctx)->hit_patterns.push_back(id);
    return 0;
}

}  // namespace

Matcher::Matcher(RuleSetPtr rules) : rules_(std::move(rules)) {}
Matcher::~Matcher() = default;

Result<std::unique_ptr<Matcher>> Matcher::create(RuleSetPtr rules_in) {
    std::unique_ptr<Matcher> m(new Matcher(std::move(rules_in)));
    const RuleSet* rules = m->rules_.get();
    m->scratch_ = std::make_unique<MatcherScratch>();
    auto& s = *m->scratch_;
    hs_scratch_t* scratch = nullptr;
    size_t max_patterns = 0;
    auto add_db = [&](const hs_database_t* db, size_t npatterns) {
        max_patterns = std::max(max_patterns, npatterns);
        if (db == nullptr) {
            return true;
        }
        if (hs_alloc_scratch(db, &scratch) != HS_SUCCESS) {
            if (scratch != nullptr) {
                hs_free_scratch(scratch);
            }
            return false;
        }
        return true;
    };
    bool ok = true;
    for (const auto& g : rules->groups()) {
        ok = ok && add_db(g.db.get(), g.pattern_rules.size());
    }
    for (const auto& ag : rules->app_groups()) {
        for (const auto& vd : ag.dbs) {
            ok = ok && add_db(vd.db.get(), vd.pattern_rules.size());
        }
    }
    if (!ok) {
        return make_error(ErrorCode::Internal, "hyperscan: cannot allocate scratch");
    }
    s.hs.reset(scratch);
    s.md.reset(pcre2_match_data_create(64, nullptr));
    if (!s.md) {
        return make_error(ErrorCode::Internal, "pcre2: cannot allocate match data");
    }
    // Sized once: SINGLEMATCH reports each pattern at most once per scan, so the hot path
    // never grows these.
    s.hit_patterns.reserve(max_patterns);
    s.candidates.reserve(rules->size());
    s.alerts.reserve(rules->size());
    s.seen.assign(rules->size(), 0);
    size_t max_vars = 0;
    for (const auto& cr : rules->compiled()) {
        max_vars = std::max(max_vars, cr->rule.byte_vars.size());
    }
    s.vars.assign(max_vars, 0);
    s.b64.assign(kBase64MaxBytes / 4 * 3 + 3, 0);
    bool xbits = false;
    for (const auto& cr : rules->compiled()) {
        xbits = xbits || !cr->xbit_checks.empty() || !cr->xbit_actions.empty();
    }
    if (xbits) {
        s.xbits.slots.assign(XbitStore::kSlots, {});
    }
    s.views.assign(rules->views().size(), {});
    s.view_gen.assign(rules->views().size(), 0);
    return m;
}

namespace {

// The flow's application protocol against the rule's binding (header protocol or
// app-layer-protocol). Unbound rules always pass.
bool app_bind_match(const CompiledRule& cr, const Flow* flow) {
    const auto want = cr.rule.app_bind;
    if (want == dataplane::app::AppProto::Unknown) {
        return true;
    }
    const auto have = flow != nullptr ? static_cast<dataplane::app::AppProto>(flow->app_proto)
                                      : dataplane::app::AppProto::Unknown;
    if (cr.rule.app_bind_negated) {
        return have != dataplane::app::AppProto::Unknown && have != want;
    }
    return have == want;
}

}  // namespace

void Matcher::scan(const RuleGroupDb& g, const uint8_t* data, uint32_t len) {
    auto& s = *scratch_;
    s.hit_patterns.clear();
    const hs_error_t rc =
        hs_scan(g.db, reinterpret_cast<const char*>(data), len, 0, s.hs.get(), on_hs_match, &s);
    stats_.scanned_bytes += len;
    if (rc != HS_SUCCESS) {
        ++stats_.scan_errors;
    }
    for (uint32_t pid : s.hit_patterns) {
        for (uint32_t ri : (*g.pattern_rules)[pid]) {
            if (s.seen[ri] != s.generation) {
                s.seen[ri] = s.generation;
                s.candidates.push_back(ri);
            }
        }
    }
}

std::span<const uint32_t> Matcher::inspect(const Packet& pkt, Flow* flow, const PayloadView& pv) {
    auto& s = *scratch_;
    s.alerts.clear();
    passed_ = false;
    // Without an IP layer only decode-event rules can match (alert pkthdr/ip).
    const bool no_ip = pkt.ip_version == 0;
    if (no_ip && !pkt.events.any()) {
        return {};
    }
    ++stats_.packets;
    ++s.generation;
    const RuleGroup& g = rules_->group_for(pkt);
    s.candidates.clear();
    const bool pkt_payload = pv.inspect && !pv.stream_only && pkt.payload_len > 0;
    const bool stream = pv.inspect && pv.stream != nullptr && pv.new_from < pv.stream_len;
    if (g.db) {
        const RuleGroupDb gdb{g.db.get(), &g.pattern_rules};
        if (stream) {
            ++stats_.stream_scans;
            scan(gdb, pv.stream, pv.stream_len);
        }
        if (pkt_payload && !(stream && pv.pkt_in_stream)) {
            scan(gdb, pkt.payload, pkt.payload_len);
        }
    }
    auto add_indexed = [&](const std::vector<uint32_t>* v) {
        if (v == nullptr) {
            return;
        }
        for (uint32_t ri : *v) {
            if (s.seen[ri] != s.generation) {
                s.seen[ri] = s.generation;
                s.candidates.push_back(ri);
            }
        }
    };
    add_indexed(g.by_src.lookup(pkt.src));
    add_indexed(g.by_dst.lookup(pkt.dst));
    const size_t nhits = s.candidates.size();
    s.candidates.insert(s.candidates.end(), g.always.begin(), g.always.end());
    if (nhits > 0) {
        std::sort(s.candidates.begin(), s.candidates.end());
    }

    const auto& compiled = rules_->compiled();
    const Buf pbuf{pkt.payload, pkt.payload_len};
    Buf sbuf{pv.stream, pv.stream_len, pv.stream_base, true, pv.new_from};
    // The window is exactly this packet at the start of the stream (first data of a
    // direction): the stream program would repeat the packet program.
    const bool window_is_packet = stream && pv.pkt_in_stream && pv.new_from == 0 &&
                                  pv.stream_base == 0 && pkt_payload &&
                                  pv.stream_len == pkt.payload_len;
    for (uint32_t ri : s.candidates) {
        const CompiledRule& cr = *compiled[ri];
        const Rule& r = cr.rule;
        if ((cr.needs_payload && !pkt_payload && !stream) ||
            (pv.stream_only && !cr.needs_payload) || (no_ip && r.decode_events.empty())) {
            continue;
        }
        if ((r.stream_events & pv.stream_events) != r.stream_events) {
            continue;
        }
        if (!header_match(r, pkt, flow) || !app_bind_match(cr, flow)) {
            continue;
        }
        if (!flowbit_checks_match(cr, flow) || !flowint_checks_match(cr, flow) ||
            !xbit_checks_match(cr, s.xbits, pkt)) {
            continue;
        }
        ++stats_.candidates;
        if (!cr.headers.empty() && !headers_match(cr, pkt)) {
            continue;
        }
        if (!cr.ops.empty()) {
            // On the packet, then (for a match across segments) on the reassembled stream.
            bool m = false;
            if (cr.packet_ok && !pv.stream_only &&
                !(pv.pkt_deferred && cr.stream_ok && cr.needs_payload) &&
                (pkt_payload || !cr.needs_payload)) {
                m = Program(cr.ops, s, stats_, pbuf).run();
            }
            if (!m && cr.stream_ok && stream && cr.needs_payload &&
                !(window_is_packet && cr.packet_ok)) {
                m = Program(cr.ops, s, stats_, sbuf).run();
            }
            if (!m) {
                continue;
            }
        }
        ++stats_.matches;
        apply_flowbit_actions(cr, flow);
        apply_flowint_actions(cr, flow);
        apply_xbit_actions(cr, s.xbits, pkt);
        if (cr.alerts) {
            s.alerts.push_back(ri);  // a pass rule only with the `alert` keyword
        }
        if (r.action == Action::Pass) {
            passed_ = true;
            break;  // pass: no further inspection of this packet
        }
    }
    stats_.alerts += s.alerts.size();
    return {s.alerts.data(), s.alerts.size()};
}

namespace {

// The bytes of one of the packet's headers; empty data when the packet has no such header.
Buf packet_header(PacketHeader h, const Packet& pkt) {
    switch (h) {
        case PacketHeader::Ipv4:
            return pkt.ip_version == 4 ? Buf{pkt.l3, pkt.l3_len} : Buf{nullptr, 0};
        case PacketHeader::Ipv6:
            return pkt.ip_version == 6 ? Buf{pkt.l3, pkt.l3_len} : Buf{nullptr, 0};
        case PacketHeader::Tcp:
            return pkt.has_tcp() ? Buf{pkt.l4, pkt.l4_len} : Buf{nullptr, 0};
        case PacketHeader::Udp:
            return pkt.has_udp() ? Buf{pkt.l4, pkt.l4_len} : Buf{nullptr, 0};
        case PacketHeader::Icmpv4:
            return pkt.l4 != nullptr && pkt.ip_proto == dataplane::kProtoIcmp
                       ? Buf{pkt.l4, pkt.l4_len}
                       : Buf{nullptr, 0};
        case PacketHeader::Icmpv6:
            return pkt.l4 != nullptr && pkt.ip_proto == dataplane::kProtoIcmpv6
                       ? Buf{pkt.l4, pkt.l4_len}
                       : Buf{nullptr, 0};
        case PacketHeader::IpSrc:
        case PacketHeader::IpDst: {
            const dataplane::IpAddr& a = h == PacketHeader::IpSrc ? pkt.src : pkt.dst;
            if (pkt.ip_version == 4) {
                return Buf{a.b.data() + 12, 4};
            }
            return pkt.ip_version == 6 ? Buf{a.b.data(), 16} : Buf{nullptr, 0};
        }
        case PacketHeader::None:
            break;
    }
    return Buf{nullptr, 0};
}

}  // namespace

bool Matcher::headers_match(const CompiledRule& cr, const Packet& pkt) {
    for (const CHeaderBuffer& h : cr.headers) {
        Buf b = packet_header(h.header, pkt);
        if (b.p == nullptr) {
            return false;  // an absent header matches nothing, as in Suricata
        }
        if (!h.transforms.empty()) {
            std::string& t = scratch_->header;
            t.assign(reinterpret_cast<const char*>(b.p), b.len);
            apply_transforms(h.transforms, t);
            b = Buf{reinterpret_cast<const uint8_t*>(t.data()), static_cast<uint32_t>(t.size())};
        }
        if (h.bsize && !h.bsize->matches(b.len)) {
            return false;
        }
        if (!h.ops.empty() && !Program(h.ops, *scratch_, stats_, b).run()) {
            return false;
        }
    }
    return true;
}

std::span<const std::string> Matcher::view(uint16_t v, const dataplane::app::TxBuffers& tx) {
    auto& s = *scratch_;
    const BufferView& bv = rules_->views()[v];
    const auto src = tx.get(bv.buffer);
    if (bv.transforms.empty()) {
        return src;
    }
    auto& slot = s.views[v];
    if (s.view_gen[v] != s.generation) {
        s.view_gen[v] = s.generation;
        slot.assign(src.begin(), src.end());
        for (auto& b : slot) {
            apply_transforms(bv.transforms, b);
        }
    }
    return slot;
}

std::span<const uint32_t> Matcher::inspect_app(const Packet& pkt, Flow* flow,
                                               const dataplane::app::AppEvent& ev) {
    auto& s = *scratch_;
    s.alerts.clear();
    if (ev.tx == nullptr || ev.stage >= RuleSet::kAppStages) {
        return {};
    }
    ++stats_.app_events;
    ++s.generation;
    const AppGroup& g = rules_->app_group(ev.proto, ev.stage);
    if (g.rule_count == 0) {
        return {};
    }
    s.candidates.clear();
    for (const auto& vd : g.dbs) {
        const RuleGroupDb gdb{vd.db.get(), &vd.pattern_rules};
        for (const auto& inst : view(vd.view, *ev.tx)) {
            scan(gdb, reinterpret_cast<const uint8_t*>(inst.data()),
                 static_cast<uint32_t>(inst.size()));
        }
    }
    s.candidates.insert(s.candidates.end(), g.always.begin(), g.always.end());
    std::sort(s.candidates.begin(), s.candidates.end());

    const auto& compiled = rules_->compiled();
    const Buf pbuf{pkt.payload, pkt.payload_len};
    for (uint32_t ri : s.candidates) {
        const CompiledRule& cr = *compiled[ri];
        const Rule& r = cr.rule;
        if (!header_match(r, pkt, flow) || !flowbit_checks_match(cr, flow) ||
            !flowint_checks_match(cr, flow) || !xbit_checks_match(cr, s.xbits, pkt)) {
            continue;
        }
        ++stats_.candidates;
        if (!cr.headers.empty() && !headers_match(cr, pkt)) {
            continue;
        }
        if (r.urilen) {
            const auto u = ev.tx->get(r.urilen_raw ? dataplane::app::BufferId::HttpUriRaw
                                                   : dataplane::app::BufferId::HttpUri);
            if (u.empty() || !r.urilen->matches(u.front().size())) {
                continue;
            }
        }
        bool ok = true;
        for (const auto& cb : cr.bufs) {
            bool any = false;
            for (const auto& inst : view(cb.view, *ev.tx)) {
                if (cb.bsize && !cb.bsize->matches(inst.size())) {
                    continue;
                }
                const Buf b{reinterpret_cast<const uint8_t*>(inst.data()),
                            static_cast<uint32_t>(inst.size())};
                if (cb.ops.empty() || Program(cb.ops, s, stats_, b).run()) {
                    any = true;
                    break;
                }
            }
            if (!any) {
                ok = false;
                break;
            }
        }
        if (!ok || (!cr.ops.empty() && !Program(cr.ops, s, stats_, pbuf).run())) {
            continue;
        }
        ++stats_.matches;
        apply_flowbit_actions(cr, flow);
        apply_flowint_actions(cr, flow);
        apply_xbit_actions(cr, s.xbits, pkt);
        if (cr.alerts) {
            s.alerts.push_back(ri);
        }
        if (r.action == Action::Pass) {
            break;
        }
    }
    stats_.alerts += s.alerts.size();
    return {s.alerts.data(), s.alerts.size()};
}

}  // namespace vigil::rules
