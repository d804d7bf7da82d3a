#include "rules/rule.h"

#include <algorithm>
#include <cmath>

namespace vigil::rules {

bool IpSet::contains(const dataplane::IpAddr& a) const {
    // First range whose upper bound is >= a; it holds a iff its lower bound is <= a.
    auto it =
        std::lower_bound(ranges.begin(), ranges.end(), a,
                         [](const IpRange& r, const dataplane::IpAddr& x) { return r.hi < x; });
    return it != ranges.end() && it->lo <= a;
}

bool IpSet::is_any() const {
    const IpSet all = any();
    return ranges.size() == 1 && ranges[0].lo == all.ranges[0].lo &&
           ranges[0].hi == all.ranges[0].hi;
}

IpSet IpSet::any() {
    IpRange r;
    r.lo.b.fill(0);
    r.hi.b.fill(0xff);
    return IpSet{{r}};
}

bool PortSet::contains(uint16_t p) const {
    auto it = std::lower_bound(ranges.begin(), ranges.end(), p,
                               [](const PortRange& r, uint16_t x) { return r.hi < x; });
    return it != ranges.end() && it->lo <= p;
}

bool PortSet::is_any() const {
    return ranges.size() == 1 && ranges[0].lo == 0 && ranges[0].hi == 65535;
}

PortSet PortSet::any() {
    return PortSet{{PortRange{0, 65535}}};
}

bool IntMatch::matches(uint64_t x) const {
    switch (op) {
        case Op::Eq:
            return x == lo;
        case Op::Ne:
            return x != lo;
        case Op::Lt:
            return x < lo;
        case Op::Le:
            return x <= lo;
        case Op::Gt:
            return x > lo;
        case Op::Ge:
            return x >= lo;
        case Op::Range:
            return lo < x && x < hi;
    }
    return false;
}

bool Entropy::matches(double e) const {
    constexpr double kEps = 1e-9;  // equality of computed values
    switch (op) {
        case Op::Lt:
            return e < lo;
        case Op::Le:
            return e <= lo + kEps;
        case Op::Gt:
            return e > lo;
        case Op::Ge:
            return e >= lo - kEps;
        case Op::Eq:
            return std::abs(e - lo) < kEps;
        case Op::Ne:
            return std::abs(e - lo) >= kEps;
        case Op::Range:
            return lo < e && e < hi;
        case Op::NotRange:
            return !(lo < e && e < hi);
    }
    return false;
}

// Suricata's FlagsMatch (detect-tcp-flags.c): `mask` names flags to ignore; `!` means "not all
// of the listed flags", and flags:0 (no flags) only matches a packet with no flags at all
// (or, with `!`, any packet that has some).
bool TcpFlagsMatch::matches(uint8_t pkt_flags) const {
    if (flags == 0 && pkt_flags != 0) {
        return modifier == '!';
    }
    const uint8_t considered = pkt_flags & static_cast<uint8_t>(~mask);
    switch (modifier) {
        case '*':
            return (considered & flags) != 0;
        case '+':
            return (considered & flags) == flags;
        case '!':
            return (considered & flags) != flags;
        default:
            return considered == flags;
    }
}

}  // namespace vigil::rules
