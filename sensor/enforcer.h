#pragma once
// Enforcer: turns drop verdicts into nftables blocks (DESIGN.md §5) from the control thread.
// Block requests are deduplicated (an address already blocked is not sent again while its
// block lasts), checked against the allowlist and the set-size cap, and sent in batches every
// batch interval. Every second the table is checked and repaired when missing or changed
// (tamper), with the active blocks put back with their remaining time. When netlink fails (no
// CAP_NET_ADMIN, no nf_tables, an error), enforcement is reported failed, detection goes on,
// and the enforcer retries; requests that arrive meanwhile are kept and sent on recovery.

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "dataplane/packet.h"
#include "sensor/nft.h"

namespace vigil::sensor {

struct EnforcerConfig {
    std::string table = "vigil";
    uint32_t block_timeout_s = 3600;
    std::vector<std::string> allowlist;
    uint32_t batch_ms = 1;          // send pending blocks at most this long after the verdict
    uint32_t max_elements = 65536;  // active blocks; more are refused (counted)
    bool keep_on_exit = true;       // leave the table and its blocks when the sensor stops
    uint32_t check_ms = 1000;       // tamper check interval
    uint32_t retry_ms = 5000;       // after a netlink failure
};

struct EnforcerStats {
    uint64_t requested = 0;     // drop verdicts that asked for a block
    uint64_t added = 0;         // elements the kernel acknowledged
    uint64_t deduplicated = 0;  // already blocked: not sent again
    uint64_t allowlisted = 0;   // never blocked
    uint64_t refused_full = 0;  // the set-size cap was reached
    uint64_t batches = 0;
    uint64_t failures = 0;     // netlink errors (connect, batch, check)
    uint64_t repairs = 0;      // table found missing or changed and re-created
    std::string last_problem;  // what the last repair found ("table inet vigil missing")
    uint64_t reapplied = 0;    // blocks the repairs put back
    bool healthy = false;      // enforcement works right now
    std::string last_error;
    // Verdict (worker) to kernel acknowledgement, microseconds, one sample per element.
    std::vector<uint32_t> latency_us;
};

class Enforcer {
public:
    // Validates the config (a bad allowlist entry is an error naming it) and tries to set up
    // the table; a netlink failure there is not an error: the enforcer starts failed, logs
    // why on `log`, and retries.
    static Result<std::unique_ptr<Enforcer>> create(const EnforcerConfig& cfg, std::FILE* log);
    ~Enforcer();

    // A drop verdict against `src`. timeout_s 0 = the configured default. verdict_ns: the
    // worker's CLOCK_MONOTONIC time of the verdict (latency), 0 when unknown.
    void block(const dataplane::IpAddr& src, uint32_t timeout_s, uint32_t sid, int64_t verdict_ns);

    // Control-thread heartbeat: sends due batches, checks the table, retries after a failure.
    void tick();
    // Sends what is pending now (end of a replay, shutdown).
    void flush();
    // Stop: flush, then remove the table unless keep_on_exit.
    void shutdown();

    const EnforcerStats& stats() const { return stats_; }
    bool pending() const { return !pending_.empty(); }
    // Blocks the sensor holds (kept in the table, re-applied after tampering).
    size_t active_blocks() const { return active_.size(); }

private:
    Enforcer(const EnforcerConfig& cfg, std::FILE* log);
    bool connect();  // open + ensure; false (logged) on failure
    void fail(const std::string& what, const Error& e);
    void check_table();

    struct Pending {
        nft::Element elem;
        int64_t verdict_ns = 0;
    };
    // A block the sensor decided: what it takes to put it back after a failure or tampering.
    struct Active {
        int64_t expiry_ns = 0;  // CLOCK_MONOTONIC
        uint32_t sid = 0;
    };
    // Its element, with the time left at `now`.
    static nft::Element element(const dataplane::IpAddr& addr, const Active& a, int64_t now);

    EnforcerConfig cfg_;
    std::FILE* log_;
    nft::Allowlist allow_;
    std::unique_ptr<nft::Client> client_;
    std::vector<Pending> pending_;
    int64_t first_pending_ns_ = 0;
    std::map<dataplane::IpAddr, Active> active_;
    int64_t next_check_ns_ = 0;
    int64_t next_retry_ns_ = 0;
    EnforcerStats stats_;
};

// The summary's enforcement lines.
std::string format_enforcement(const EnforcerStats& s, uint64_t drop_records);

// "vigil_block_timeout 600" in a rule's metadata: its blocks last 600 s; 0 when absent.
uint32_t rule_block_timeout(const std::vector<std::string>& metadata);

}  // namespace vigil::sensor
