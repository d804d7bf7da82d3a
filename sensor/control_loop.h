#pragma once
// The control thread of `run`. It owns the output stage (AlertOutput, and through the
// EveWriter its sinks), the enforcer and the watchdog; it takes the signals (SIGTERM/SIGINT
// stop, SIGUSR1 prints the counters, SIGHUP reloads the rules), drains the workers' alert
// rings, flushes the output about once a second, writes an EVE stats record every
// outputs.eve.stats-interval-s, hands vigil-mgmtd's link a heartbeat every second, shows
// progress, and decides when the run ends.
//
// A reload: a helper thread loads and compiles the rules and builds one Matcher per worker
// (nothing of it on a worker); a set that fails to load is refused and the running one keeps
// running. Then each worker's mailbox gets its matcher, the worker switches at its next burst
// boundary and hands the old one back; when all have, their alerts from before the switch
// are written and the old set is freed here. Flowbits carry over (their ids are
// process-wide), thresholds too (AlertFilter keys them by gid and sid).

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "rules/ruleset.h"
#include "sensor/alert_output.h"
#include "sensor/capture.h"
#include "sensor/enforcer.h"
#include "sensor/eve_writer.h"
#include "sensor/live.h"
#include "sensor/worker_loop.h"

namespace vigil::sensor {

class ControlLoop {
public:
    // The workers are running; `cap` and `ctxs` outlive the loop.
    ControlLoop(const LiveOptions& opts, const rules::RuleSetPtr& rules, const rules::Vars& vars,
                EveWriter& eve, std::unique_ptr<Enforcer> enforcer, const Capture& cap,
                const WorkerCtxs& ctxs);

    // Until a stop signal, LiveOptions::stop or capture.exit-on-idle-ms; returns why it
    // stopped ("SIGTERM", "stop requested", "no packets for 500 ms ...").
    std::string run();
    // After the workers were told to stop: drains their rings until every one is done.
    void drain_until_done();
    // After the workers returned: the last alerts, the enforcer's shutdown, and the
    // snapshot, into `res` (the workers' own pipeline counters are the caller's to add).
    void finish(LiveResult& res);

    // What can be read while the workers run: packets and bytes, ports, workers, the watchdog's
    // reports, the output stage's counts. SIGUSR1 prints it; heartbeats will send it.
    SensorCounters snapshot() const;

    ~ControlLoop();

private:
    struct Reload;
    void start_reload();
    // Starts a reload, or queues one when a reload is in flight; whether it started now.
    bool request_reload();
    void poll_reload();
    void end_reload();
    void take_requests();
    // Answers the requests waiting on the reload that just ended (refused when `error`).
    void answer(std::vector<uint64_t>& ids, const std::string& error, double seconds);
    void drain();
    void on_signal(int sig, std::string& stop_reason);
    void watchdog(int64_t now);
    bool workers_alive(int64_t now, int64_t limit_ns) const;
    void heartbeat();
    void write_stats(int64_t uptime_ns);

    const LiveOptions& opts_;
    const SensorConfig& cfg_;
    std::FILE* log_;
    EveWriter& eve_;
    std::unique_ptr<Enforcer> enforcer_;
    AlertOutput output_;
    const Capture& cap_;
    const WorkerCtxs& ctxs_;
    std::vector<uint64_t> stalls_;
    std::vector<int64_t> stalled_since_;  // busy_since of the reported burst
    uint64_t watchdog_stalls_ = 0;
    bool ips_verdicts_;     // ips.enabled with inline pairs: EVE stats.ips
    wire::Heartbeat beat_;  // LiveOptions::beat, with the rule set inspecting now
    std::unique_ptr<Reload> reload_;
    bool reload_again_ = false;            // a SIGHUP came during a reload
    std::vector<uint64_t> next_requests_;  // mgmtd's reload requests for the next reload
    uint64_t reloads_ = 0;
    uint64_t reload_failures_ = 0;
    int64_t last_reload_sec_ = 0;
    int64_t max_switch_ns_ = 0;
    std::vector<uint64_t> set_start_packets_;  // per worker: its packet count when its set began
    std::map<uint32_t, uint64_t> packets_by_set_;  // of sets no longer inspecting
};

}  // namespace vigil::sensor
