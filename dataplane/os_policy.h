#pragma once
// Target-based reassembly: how the end host resolves overlapping TCP segments and IP
// fragments depends on its operating system. OsPolicyMap picks the policy by destination
// address (longest prefix wins), like Suricata's `host-os-policy`.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "dataplane/packet.h"

namespace vigil::dataplane {

enum class OsPolicy : uint8_t {
    First,       // the first data received for a byte wins
    Last,        // the last data received wins
    Linux,       // TCP: old data wins except a new segment starting before it; frags: linux
    OldLinux,    // Linux 2.2 and older
    Bsd,         // TCP: old data wins unless the new segment starts before the old one
    BsdRight,    // defrag: favours later fragments at the same offset (HP JetDirect)
    Windows,     // TCP/frags: old data wins (Windows XP, 2000)
    Windows2k3,  // Windows 2003: as Windows for frags, new data for TCP overlaps at the head
    Vista,       // Windows Vista and later
    Solaris,
    HpUx10,
    HpUx11,
    Irix,
    MacOs,
};

// "first", "last", "linux", "old-linux", "bsd", "bsd-right", "windows", "windows2k3",
// "vista", "solaris", "hpux10", "hpux11", "irix", "macos" (Suricata's names).
std::optional<OsPolicy> os_policy_from_name(std::string_view name);
std::string_view os_policy_name(OsPolicy p);

class OsPolicyMap {
public:
    explicit OsPolicyMap(OsPolicy fallback = OsPolicy::Bsd) : fallback_(fallback) {}

    // Adds "ADDR[/LEN]" (IPv4 or IPv6). Error names the bad text.
    Status add(std::string_view cidr, OsPolicy policy);
    void set_default(OsPolicy p) { fallback_ = p; }

    // Policy of the host `dst` (longest matching prefix, else the default).
    OsPolicy lookup(const IpAddr& dst) const;
    OsPolicy fallback() const { return fallback_; }

private:
    struct Entry {
        IpAddr net;
        uint8_t prefix = 0;  // over the 128-bit (IPv4-mapped) space
        OsPolicy policy;
    };
    std::vector<Entry> entries_;  // longest prefix first
    OsPolicy fallback_;
};

}  // namespace vigil::dataplane
