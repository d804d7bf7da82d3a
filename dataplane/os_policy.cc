#include "dataplane/os_policy.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <charconv>

namespace vigil::dataplane {

namespace {

struct PolicyName {
    std::string_view name;
    OsPolicy policy;
};

constexpr std::array<PolicyName, 14> kNames{{
    {"first", OsPolicy::First},
    {"last", OsPolicy::Last},
    {"linux", OsPolicy::Linux},
    {"old-linux", OsPolicy::OldLinux},
    {"bsd", OsPolicy::Bsd},
    {"bsd-right", OsPolicy::BsdRight},
    {"windows", OsPolicy::Windows},
    {"windows2k3", OsPolicy::Windows2k3},
    {"vista", OsPolicy::Vista},
    {"solaris", OsPolicy::Solaris},
    {"hpux10", OsPolicy::HpUx10},
    {"hpux11", OsPolicy::HpUx11},
    {"irix", OsPolicy::Irix},
    {"macos", OsPolicy::MacOs},
}};

}  // namespace

std::optional<OsPolicy> os_policy_from_name(std::string_view name) {
    for (const auto& n : kNames) {
        if (n.name == name) {
            return n.policy;
        }
    }
    return std::nullopt;
}

std::string_view os_policy_name(OsPolicy p) {
    for (const auto& n : kNames) {
        if (n.policy == p) {
            return n.name;
        }
    }
    return "?";
}

Status OsPolicyMap::add(std::string_view cidr, OsPolicy policy) {
    const auto slash = cidr.find('/');
    const std::string addr(cidr.substr(0, slash));
    Entry e{};
    e.policy = policy;
    int max_len = 0;
    std::array<uint8_t, 16> buf{};
    if (inet_pton(AF_INET, addr.c_str(), buf.data()) == 1) {
        e.net = IpAddr::from_v4(buf.data());
        max_len = 32;
    } else if (inet_pton(AF_INET6, addr.c_str(), buf.data()) == 1) {
        e.net = IpAddr::from_v6(buf.data());
        max_len = 128;
    } else {
        return make_error(ErrorCode::BadInput,
                          "'" + std::string(cidr) + "' is not an IPv4 or IPv6 address");
    }
    int len = max_len;
    if (slash != std::string_view::npos) {
        const std::string_view l = cidr.substr(slash + 1);
        const auto r = std::from_chars(l.data(), l.data() + l.size(), len);
        if (r.ec != std::errc{} || r.ptr != l.data() + l.size() || len < 0 || len > max_len) {
            return make_error(ErrorCode::BadInput, "'" + std::string(cidr) +
                                                       "': bad prefix length (0-" +
                                                       std::to_string(max_len) + ")");
        }
    }
    e.prefix = static_cast<uint8_t>(max_len == 32 ? len + 96 : len);
    entries_.push_back(e);
    std::stable_sort(entries_.begin(), entries_.end(),
                     [](const Entry& a, const Entry& b) { return a.prefix > b.prefix; });
    return Ok();
}

OsPolicy OsPolicyMap::lookup(const IpAddr& dst) const {
    for (const auto& e : entries_) {
        if (dst.in_prefix(e.net, e.prefix)) {
            return e.policy;
        }
    }
    return fallback_;
}

}  // namespace vigil::dataplane
