#pragma once
// Live capture (`vigil-sensor run`): DPDK ports or libpcap interfaces, one worker per RX
// queue running to completion (receive a burst, decode, detect, forward or drop), and the
// control thread: drains the workers' alert rings into EVE, applies thresholds, watches the
// workers (watchdog), answers signals and stops on SIGTERM/SIGINT or when idle.

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "rules/rule_parser.h"
#include "rules/ruleset.h"
#include "sensor/config.h"
#include "sensor/enforcer.h"
#include "sensor/eve_writer.h"
#include "sensor/replay.h"

namespace vigil::sensor {

struct LiveOptions {
    const SensorConfig* config = nullptr;
    // SIGTERM/SIGINT stop the sensor, SIGUSR1 prints the counters (call block_control_signals
    // first). Off: only `stop` and capture.exit-on-idle-ms end the run (tests).
    bool handle_signals = false;
    const std::atomic<bool>* stop = nullptr;
    bool progress = false;  // a status line on stderr (a terminal only)
    std::FILE* log = stderr;
    // Tests (the watchdog's): worker 0 holds its first burst this long (`run
    // --test-stall-ms`, a hidden option).
    uint32_t test_stall_ms = 0;
};

struct PortCounters {
    std::string name;
    std::string driver;  // DPDK driver, or "libpcap"
    bool link_up = false;
    uint32_t speed_mbps = 0;
    uint64_t ipackets = 0;  // DPDK: the port's count; libpcap: what the workers received
    uint64_t imissed = 0;   // DPDK: RX queue full; libpcap: the kernel's drops
    uint64_t ierrors = 0;
    uint64_t rx_nombuf = 0;
    uint64_t opackets = 0;
    uint64_t oerrors = 0;
    uint64_t forwarded = 0;  // inline: frames sent on the peer
    uint64_t tx_failed = 0;  // inline: the peer refused them
    uint64_t dropped = 0;    // inline: not forwarded (verdict or overload)
    uint64_t truncated = 0;  // multi-segment frames: only the first segment was inspected
    uint64_t rejects = 0;    // inline: TCP resets / ICMP unreachables sent to senders
};

struct WorkerCounters {
    uint64_t packets = 0;
    uint64_t overload_passed = 0;   // passed uninspected (overload-policy: pass)
    uint64_t overload_dropped = 0;  // dropped uninspected (overload-policy: drop)
    uint64_t ring_waits = 0;        // the alert ring was full: the worker waited for output
    uint64_t stalls = 0;            // watchdog reports
    // From the first burst received to the end of the last one processed (at exit): with
    // packets, the rate while traffic flowed.
    double active_seconds = 0;
};

struct LiveResult {
    ReplayCounters counters{};
    std::map<uint32_t, SidCount> by_sid;
    std::vector<PortCounters> ports;
    std::vector<WorkerCounters> workers;
    uint64_t watchdog_stalls = 0;
    std::string stop_reason;  // "SIGTERM", "idle for 500 ms", "stop requested"
    std::string capture;      // "dpdk: 2 port(s), 2 worker(s), RSS on the IP pair"
    bool enforcing = false;   // ips.enabled with ips.nft.enabled
    EnforcerStats enforcement{};
};

// Blocks SIGTERM, SIGINT, SIGUSR1 and SIGHUP in the calling thread and every thread it
// starts afterwards (call before the EAL starts its threads); the control loop takes them
// synchronously.
void block_control_signals();

Result<LiveResult> run_live(const LiveOptions& opts, const rules::RuleSetPtr& rules,
                            const rules::Vars& vars, EveWriter& eve);

std::string format_live_summary(const LiveResult& r);

}  // namespace vigil::sensor
