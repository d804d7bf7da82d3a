// Address and port expressions: "[$HOME_NET,!10.0.0.0/8]", "![80,443]", "1024:". Both are
// parsed into sorted, disjoint interval lists with one algebra (union, difference,
// complement) so that negation and nesting follow Suricata: a list is the union of its
// positive members minus its negated members; a list of only negated members is `any` minus
// them.

#include "rules/address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "rules/parse_util.h"
#include "rules/rule_parser.h"

namespace vigil::rules {

namespace {

using detail::quote;
using U128 = unsigned __int128;

constexpr U128 kU128Max = ~static_cast<U128>(0);
constexpr U128 kV4Base = static_cast<U128>(0xffff) << 32;  // ::ffff:0.0.0.0
constexpr U128 kV4Last = kV4Base | 0xffffffffU;
// Variables nest ($EXTERNAL_NET -> $HOME_NET -> ...) a few levels deep; anything deeper is
// almost certainly a cycle the name check missed.
constexpr size_t kMaxVarDepth = 64;

// std::numeric_limits is not specialised for __int128 under -std=c++20 (no GNU extensions).
template <typename T>
constexpr T max_of() {
    return static_cast<T>(~static_cast<T>(0));
}

template <typename T>
struct Interval {
    T lo;
    T hi;
};

template <typename T>
using IntervalList = std::vector<Interval<T>>;

template <typename T>
void normalize(IntervalList<T>& v) {
    if (v.size() < 2) {
        return;
    }
    std::sort(v.begin(), v.end(),
              [](const Interval<T>& a, const Interval<T>& b) { return a.lo < b.lo; });
    size_t out = 0;
    for (size_t i = 1; i < v.size(); ++i) {
        Interval<T>& cur = v[out];
        // Merge overlapping and adjacent intervals (cur.hi + 1 == next.lo), minding overflow.
        if (cur.hi == max_of<T>() || v[i].lo <= cur.hi + 1) {
            cur.hi = std::max(cur.hi, v[i].hi);
            continue;
        }
        v[++out] = v[i];
    }
    v.resize(out + 1);
}

// a - b, both normalized.
template <typename T>
IntervalList<T> subtract(const IntervalList<T>& a, const IntervalList<T>& b) {
    IntervalList<T> out;
    size_t j = 0;
    for (Interval<T> cur : a) {
        while (j < b.size() && b[j].hi < cur.lo) {
            ++j;
        }
        bool alive = true;
        size_t k = j;
        while (k < b.size() && b[k].lo <= cur.hi) {
            if (b[k].lo > cur.lo) {
                out.push_back({cur.lo, static_cast<T>(b[k].lo - 1)});
            }
            if (b[k].hi >= cur.hi) {
                alive = false;
                break;
            }
            cur.lo = static_cast<T>(b[k].hi + 1);
            ++k;
        }
        if (alive) {
            out.push_back(cur);
        }
    }
    return out;
}

template <typename T>
IntervalList<T> unite(IntervalList<T> a, const IntervalList<T>& b) {
    a.insert(a.end(), b.begin(), b.end());
    normalize(a);
    return a;
}

U128 to_u128(const dataplane::IpAddr& a) {
    U128 v = 0;
    for (uint8_t byte : a.b) {
        v = (v << 8) | byte;
    }
    return v;
}

dataplane::IpAddr from_u128(U128 v) {
    dataplane::IpAddr a;
    for (int i = 15; i >= 0; --i) {
        a.b[static_cast<size_t>(i)] = static_cast<uint8_t>(v & 0xff);
        v >>= 8;
    }
    return a;
}

IntervalList<U128> from_ipset(const IpSet& s) {
    IntervalList<U128> out;
    out.reserve(s.ranges.size());
    for (const IpRange& r : s.ranges) {
        out.push_back({to_u128(r.lo), to_u128(r.hi)});
    }
    return out;
}

IpSet to_ipset(const IntervalList<U128>& v) {
    IpSet s;
    s.ranges.reserve(v.size());
    for (const auto& iv : v) {
        s.ranges.push_back({from_u128(iv.lo), from_u128(iv.hi)});
    }
    return s;
}

Error parse_error(std::string msg) {
    return make_error(ErrorCode::RuleParse, std::move(msg));
}

// Splits "[a,[b,c],!d]" (brackets included) into its top-level items. Returns false on
// unbalanced brackets or text after the closing bracket.
bool split_list(std::string_view s, std::vector<std::string_view>& items, std::string& err) {
    int depth = 0;
    size_t item_start = 1;
    for (size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '[') {
            ++depth;
        } else if (c == ']') {
            --depth;
            if (depth < 0) {
                err = "unbalanced ']' in " + quote(s);
                return false;
            }
            if (depth == 0) {
                if (!trim(s.substr(i + 1)).empty()) {
                    err = "unexpected text after ']' in " + quote(s);
                    return false;
                }
                items.push_back(trim(s.substr(item_start, i - item_start)));
                return true;
            }
        } else if (c == ',' && depth == 1) {
            items.push_back(trim(s.substr(item_start, i - item_start)));
            item_start = i + 1;
        }
    }
    err = "unbalanced '[' in " + quote(s);
    return false;
}

bool valid_var_name(std::string_view name) {
    if (name.empty()) {
        return false;
    }
    for (char c : name) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '_' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

// Shared recursive-descent parser for both expression kinds. `Leaf` supplies the kind.
template <typename T, typename Leaf>
class ExprParser {
public:
    ExprParser(const std::map<std::string, std::string>& groups,
               const std::map<std::string, std::string>& other_groups, const char* kind, Leaf leaf)
        : groups_(groups),
          other_groups_(other_groups),
          kind_(kind),
          article_(kind[0] == 'a' ? "an" : "a"),
          leaf_(leaf) {}

    Result<IntervalList<T>> parse(std::string_view s) {
        s = trim(s);
        if (s.empty()) {
            return parse_error(std::string("empty ") + kind_ + " expression");
        }
        if (s[0] == '!') {
            auto inner = parse(s.substr(1));
            if (!inner) {
                return inner;
            }
            return subtract(full(), *inner);
        }
        if (s[0] == '[') {
            return parse_list(s);
        }
        if (s[0] == '$') {
            return parse_var(s.substr(1));
        }
        if (detail::iequals(s, "any")) {
            return full();
        }
        return leaf_(s);
    }

private:
    static IntervalList<T> full() { return IntervalList<T>{{0, max_of<T>()}}; }

    Result<IntervalList<T>> parse_list(std::string_view s) {
        std::vector<std::string_view> items;
        std::string err;
        if (!split_list(s, items, err)) {
            return parse_error(err);
        }
        IntervalList<T> pos;
        IntervalList<T> neg;
        bool any_pos = false;
        for (std::string_view item : items) {
            if (item.empty()) {
                return parse_error("empty element in list " + quote(s));
            }
            const bool negated = item[0] == '!';
            auto r = parse(negated ? item.substr(1) : item);
            if (!r) {
                return r;
            }
            IntervalList<T>& dst = negated ? neg : pos;
            dst.insert(dst.end(), r->begin(), r->end());
            any_pos = any_pos || !negated;
        }
        normalize(pos);
        normalize(neg);
        return subtract(any_pos ? pos : full(), neg);
    }

    Result<IntervalList<T>> parse_var(std::string_view name) {
        if (!valid_var_name(name)) {
            return parse_error("bad variable name " + quote("$" + std::string(name)));
        }
        const std::string key(name);
        auto it = groups_.find(key);
        if (it == groups_.end()) {
            if (other_groups_.count(key) != 0) {
                return parse_error("variable $" + key + " is not " + article_ + " " + kind_ +
                                   " variable");
            }
            return parse_error("unknown variable $" + key);
        }
        if (std::find(stack_.begin(), stack_.end(), key) != stack_.end() ||
            stack_.size() >= kMaxVarDepth) {
            std::string chain;
            for (const std::string& v : stack_) {
                chain += "$" + v + " -> ";
            }
            return parse_error("variable cycle: " + chain + "$" + key);
        }
        stack_.push_back(key);
        auto r = parse(it->second);
        stack_.pop_back();
        if (!r) {
            return parse_error("in $" + key + ": " + r.error().message);
        }
        return r;
    }

    const std::map<std::string, std::string>& groups_;
    const std::map<std::string, std::string>& other_groups_;
    const char* kind_;
    const char* article_;
    Leaf leaf_;
    std::vector<std::string> stack_;
};

// a.b.c.d -> host-order value.
bool parse_v4(std::string_view s, uint32_t& out) {
    uint32_t v = 0;
    int parts = 0;
    size_t i = 0;
    while (parts < 4) {
        size_t b = i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
            ++i;
        }
        if (i == b || i - b > 3) {
            return false;
        }
        const auto n = detail::parse_u64(s.substr(b, i - b));
        if (!n || *n > 255) {
            return false;
        }
        v = (v << 8) | static_cast<uint32_t>(*n);
        ++parts;
        if (parts < 4) {
            if (i >= s.size() || s[i] != '.') {
                return false;
            }
            ++i;
        }
    }
    if (i != s.size()) {
        return false;
    }
    out = v;
    return true;
}

Result<IntervalList<U128>> parse_ip_leaf(std::string_view s) {
    const size_t slash = s.find('/');
    const std::string_view addr = s.substr(0, slash);
    const bool v6 = addr.find(':') != std::string_view::npos;
    U128 base = 0;
    int bits = 0;
    if (v6) {
        std::string tmp(addr);
        in6_addr a6{};
        if (inet_pton(AF_INET6, tmp.c_str(), &a6) != 1) {
            return parse_error("bad address " + quote(s));
        }
        dataplane::IpAddr a;
        std::memcpy(a.b.data(), &a6, 16);
        base = to_u128(a);
        bits = 128;
    } else {
        uint32_t v4 = 0;
        if (!parse_v4(addr, v4)) {
            return parse_error("bad address " + quote(s));
        }
        base = kV4Base | v4;
        bits = 32;
    }
    int prefix = bits;
    if (slash != std::string_view::npos) {
        const std::string_view p = s.substr(slash + 1);
        uint32_t mask = 0;
        if (!v6 && p.find('.') != std::string_view::npos) {
            // Netmask form: 10.0.0.0/255.0.0.0 (must be contiguous).
            if (!parse_v4(p, mask) || (mask != 0 && ((~mask + 1) & ~mask) != 0)) {
                return parse_error("bad CIDR " + quote(s));
            }
            prefix = mask == 0 ? 0 : 32 - __builtin_ctz(mask);
        } else {
            const auto n = detail::parse_u64(p);
            if (!n || *n > static_cast<uint64_t>(bits)) {
                return parse_error("bad CIDR " + quote(s));
            }
            prefix = static_cast<int>(*n);
        }
    }
    // Host bits are cleared, as Suricata does for 10.1.2.3/8.
    const int host_bits = bits - prefix;
    const U128 host_mask = host_bits == 128 ? kU128Max : ((static_cast<U128>(1) << host_bits) - 1);
    const U128 lo = base & ~host_mask;
    return IntervalList<U128>{{lo, lo | host_mask}};
}

Result<IntervalList<uint16_t>> parse_port_leaf(std::string_view s) {
    auto num = [&](std::string_view p, uint16_t& out) -> Status {
        p = trim(p);
        const auto n = detail::parse_u64(p);
        if (!n) {
            return parse_error("bad port " + quote(s));
        }
        if (*n > 65535) {
            return parse_error("port " + quote(p) + " out of range (0-65535)");
        }
        out = static_cast<uint16_t>(*n);
        return Ok{};
    };
    uint16_t lo = 0;
    uint16_t hi = 65535;
    const size_t colon = s.find(':');
    if (colon == std::string_view::npos) {
        if (auto st = num(s, lo); !st) {
            return st.error();
        }
        return IntervalList<uint16_t>{{lo, lo}};
    }
    const std::string_view a = trim(s.substr(0, colon));
    const std::string_view b = trim(s.substr(colon + 1));
    if (a.empty() && b.empty()) {
        return parse_error("bad port range " + quote(s));
    }
    if (!a.empty()) {
        if (auto st = num(a, lo); !st) {
            return st.error();
        }
    }
    if (!b.empty()) {
        if (auto st = num(b, hi); !st) {
            return st.error();
        }
    }
    if (lo > hi) {
        return parse_error("bad port range " + quote(s) + " (low > high)");
    }
    return IntervalList<uint16_t>{{lo, hi}};
}

}  // namespace

Result<IpSet> parse_address(std::string_view expr, const Vars& vars) {
    ExprParser<U128, decltype(&parse_ip_leaf)> p(vars.address_groups, vars.port_groups, "address",
                                                 &parse_ip_leaf);
    auto r = p.parse(expr);
    if (!r) {
        return r.error();
    }
    if (r->empty()) {
        return parse_error("address expression " + quote(trim(expr)) + " matches nothing");
    }
    return to_ipset(*r);
}

Result<PortSet> parse_ports(std::string_view expr, const Vars& vars) {
    ExprParser<uint16_t, decltype(&parse_port_leaf)> p(vars.port_groups, vars.address_groups,
                                                       "port", &parse_port_leaf);
    auto r = p.parse(expr);
    if (!r) {
        return r.error();
    }
    if (r->empty()) {
        return parse_error("port expression " + quote(trim(expr)) + " matches nothing");
    }
    PortSet s;
    s.ranges.reserve(r->size());
    for (const auto& iv : *r) {
        s.ranges.push_back({iv.lo, iv.hi});
    }
    return s;
}

namespace detail {

IpSet restrict_to_v4(const IpSet& s) {
    const IntervalList<U128> all{{0, kU128Max}};
    const IntervalList<U128> v4{{kV4Base, kV4Last}};
    return to_ipset(subtract(from_ipset(s), subtract(all, v4)));
}

IpSet restrict_to_v6(const IpSet& s) {
    const IntervalList<U128> v4{{kV4Base, kV4Last}};
    return to_ipset(subtract(from_ipset(s), v4));
}

}  // namespace detail

}  // namespace vigil::rules
