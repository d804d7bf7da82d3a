#pragma once
// Live capture (`vigil-sensor run`): DPDK ports or libpcap interfaces, one worker per RX
// queue running to completion (receive a burst, decode, detect, forward or drop), and the
// control thread: drains the workers' alert rings into EVE, applies thresholds, watches the
// workers (watchdog), answers signals and stops on SIGTERM/SIGINT or when idle.

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <functional>
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
#include "sensor/zmq_output.h"

namespace vigil::sensor {

// Rules as a reload loads them from the configured paths (LiveOptions::reload_rules).
struct LoadedRules {
    rules::RuleSetPtr rules;
    rules::Vars vars;
    uint64_t loaded = 0;
    uint64_t rejected = 0;
    std::string pack_version;  // when the rules are a rule pack: its manifest version
    std::string pack_digest;   // and sha256 of its manifest.yaml
};

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
    // vigil-mgmtd (outputs.zmq): the control loop hands it a heartbeat every second, built
    // on `beat` (rule-set id and counts) with the counters snapshot.
    ZmqOutput* mgmt = nullptr;
    wire::Heartbeat beat{};
    // SIGHUP: loads the rules (and vars) again from the configured paths, on a helper thread
    // of the control loop, and prints the load report. `running`: the set in use, whose
    // unchanged rules the new set shares (CompileOptions::previous). Empty: SIGHUP is logged,
    // nothing more.
    std::function<Result<LoadedRules>(const rules::RuleSetPtr& running)> reload_rules;
};

struct LiveResult {
    SensorCounters counters{};  // with the ports, workers and watchdog reports
    std::map<uint32_t, SidCount> by_sid;
    std::string stop_reason;  // "SIGTERM", "idle for 500 ms", "stop requested"
    std::string capture;      // "dpdk: 2 port(s), 2 worker(s), RSS on the IP pair"
    bool enforcing = false;   // ips.enabled with ips.nft.enabled
    EnforcerStats enforcement{};
};

// Blocks SIGTERM, SIGINT, SIGUSR1 and SIGHUP in the calling thread and every thread it
// starts afterwards (call before the EAL starts its threads); the control loop takes them
// synchronously.
void block_control_signals();

// `rules` by value: after a reload nothing but the workers and the output hold a rule set, so
// the one loaded at start is freed once replaced (pass it with std::move).
Result<LiveResult> run_live(const LiveOptions& opts, rules::RuleSetPtr rules,
                            const rules::Vars& vars, EveWriter& eve);

// "  rules      rule set 3 (120 loaded, 0 rejected); 2 reload(s), ... by rule set: 1=... 3=..."
std::string format_rules_line(const SensorCounters& c);

std::string format_live_summary(const LiveResult& r);

}  // namespace vigil::sensor
