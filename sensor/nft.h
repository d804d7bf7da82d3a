#pragma once
// nftables enforcement objects (DESIGN.md §5), spoken to through libnftnl + libmnl netlink
// batches (never by running `nft`):
//
//   table inet <table> {
//     set block4 { type ipv4_addr; flags timeout; }
//     set block6 { type ipv6_addr; flags timeout; }
//     chain prerouting { type filter hook prerouting priority -300; policy accept;
//       ip saddr @block4 counter drop
//       ip6 saddr @block6 counter drop }
//   }
//
// Used by the sensor's control thread (never by a worker) and by `vigil-sensor blocks`.
// Every call is synchronous: it returns when the kernel has acknowledged the batch.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "dataplane/packet.h"

struct nftnl_table;

namespace vigil::sensor::nft {

struct Element {
    dataplane::IpAddr addr{};
    uint64_t timeout_ms = 0;  // add: the element's timeout (0 = the set has no default: never)
    uint64_t expires_ms = 0;  // list: time left
    std::string comment;      // stored with the element (nft shows it): "sid 2001234"
};

struct RuleCounters {
    uint64_t packets4 = 0;  // the `ip saddr @block4 counter drop` rule
    uint64_t bytes4 = 0;
    uint64_t packets6 = 0;  // the `ip6 saddr @block6 counter drop` rule
    uint64_t bytes6 = 0;
};

// What check() found.
struct State {
    bool ok = false;      // everything as specified
    std::string problem;  // else what is missing or changed: "set block6 missing", ...
};

class Client {
public:
    // Opens a NETLINK_NETFILTER socket (send buffer raised like nft does, so large batches
    // fit). Errors say why in operator terms: no CAP_NET_ADMIN, nf_tables not in the
    // kernel, ... (ErrorCode::Io).
    static Result<std::unique_ptr<Client>> open(std::string table = "vigil");
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    const std::string& table() const { return table_; }

    // Creates the table, both sets, the chain and its two rules in one batch. Idempotent:
    // when check() says everything is as specified nothing is sent; when something is
    // missing or changed, the table is deleted and created again, and the elements that
    // were in the sets are put back with their remaining time. The repair deletes and creates
    // in the same batch, so the hook is never missing in between (elements beyond ~1 MiB of
    // messages follow in further batches).
    Status ensure();

    // Reads the table back: table, sets (key type, timeout flag), chain (hook, priority,
    // policy) and exactly the two rules (recognised by their expressions).
    Result<State> check();

    // Adds elements (to block4 or block6 by address family) with their timeouts, in as few
    // batches as the netlink size limit allows (~1 MiB each; when one fails, the batches
    // before it stay applied). An element already present is not an error; it keeps its
    // comment, and its expiry when the timeout is the same. Given a different timeout,
    // recent kernels (seen on 6.18) take the new timeout and restart the expiry; older
    // ones keep the element as it was.
    Status add(std::span<const Element> elems);

    // Removes addresses; an address that is not in its set is an error naming it
    // (ErrorCode::BadInput), and nothing is removed in that batch.
    Status remove(std::span<const dataplane::IpAddr> addrs);

    // Whether the table exists at all (on a host where nothing was ever blocked, it does not).
    Result<bool> table_exists();

    // Every element of both sets, with time left and comment. A listing that ran into the
    // kernel resizing a set's hash table (after large adds/removes) is taken again; if none
    // is consistent within a few seconds: ErrorCode::Io.
    Result<std::vector<Element>> list();

    // The drop rules' counters; ErrorCode::Io when a rule is not there (check() says why).
    Result<RuleCounters> counters();

    // Deletes the whole table (exit with `ips.nft.keep-on-exit: false`). Absent: Ok.
    Status remove_table();

private:
    Client(int fd, void* nl, std::string table);
    // check(), also telling whether the table exists (ensure() then deletes it first).
    Result<State> inspect(bool& table_exists);
    // Reads the table into `out`: 0, or the errno of the answer (ENOENT: no such table).
    int get_table(nftnl_table* out);
    // Elements of whichever sets exist (ensure() puts them back after re-creating).
    Result<std::vector<Element>> list_existing();

    std::string table_;
    void* nl_ = nullptr;  // struct mnl_socket*
    uint32_t portid_ = 0;
    uint32_t seq_ = 0;
    int fd_ = -1;
    size_t batch_bytes_ = 0;  // largest batch the send buffer takes (netlink: EMSGSIZE)
    size_t batch_msgs_ = 0;   // most messages per batch whose ACKs fit the receive buffer
};

// "198.51.100.0/24" style networks (IPv4 or IPv6) an address is checked against.
class Allowlist {
public:
    // Error names the bad entry.
    Status add(const std::string& cidr);
    bool contains(const dataplane::IpAddr& a) const;
    size_t size() const { return nets_.size(); }

private:
    struct Net {
        dataplane::IpAddr addr{};
        uint8_t prefix = 0;
    };
    std::vector<Net> nets_;
};

}  // namespace vigil::sensor::nft
