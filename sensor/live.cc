#include "sensor/live.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>

#include "dataplane/dpdk.h"
#include "sensor/capture.h"
#include "sensor/control_loop.h"
#include "sensor/enforcer.h"
#include "sensor/rate_filter.h"
#include "sensor/tags.h"
#include "sensor/worker.h"
#include "sensor/worker_loop.h"

namespace vigil::sensor {

// Capture set-up (capture.cc), the workers (worker_loop.cc), the control loop
// (control_loop.cc); here they are put together and their counters collected.
Result<LiveResult> run_live(const LiveOptions& opts, rules::RuleSetPtr rules,
                            const rules::Vars& vars, EveWriter& eve) {
    const SensorConfig& cfg = *opts.config;
    std::FILE* log = opts.log;
    const auto t0 = std::chrono::steady_clock::now();
    LiveResult res;
    const uint32_t nworkers = std::max<uint32_t>(1, cfg.workers);
    if (auto st = validate_for_run(cfg); !st) {
        return st.error();
    }

    WorkerCtxs ctxs;
    PipelineConfig pipeline = cfg.pipeline;
    pipeline.ips = cfg.ips_enabled;
    pipeline.rate_filter = std::make_shared<RateFilter>(vars);  // rebound on reload
    pipeline.host_tags = std::make_shared<HostTags>();
    for (uint32_t i = 0; i < nworkers; ++i) {
        auto w = Worker::create(i, rules, pipeline);
        if (!w) {
            return w.error();
        }
        auto c = std::make_unique<WorkerCtx>();
        c->worker = std::move(w.value());
        ctxs.push_back(std::move(c));
    }
    // nftables enforcement: set up before capture starts (a bad allowlist stops the start; a
    // netlink failure does not: detection runs, enforcement retries).
    std::unique_ptr<Enforcer> enforcer;
    if (cfg.ips_enabled && cfg.nft_enabled) {
        auto e = Enforcer::create(enforcer_config(cfg), log);
        if (!e) {
            return Error{e.error().code, cfg.path + ": " + e.error().message};
        }
        enforcer = std::move(e.value());
    }

    auto opened = open_capture(cfg, ctxs, log);
    if (!opened) {
        return opened.error();
    }
    Capture& cap = *opened;
    if (opts.test_stall_ms != 0 && !ctxs[0]->queues.empty()) {
        ctxs[0]->queues[0] = stall_first_burst(std::move(ctxs[0]->queues[0]), opts.test_stall_ms);
    }
    res.capture = cap.description;

    LoopParams lp;
    lp.overload = cfg.overload_policy == "drop"   ? Overload::Drop
                  : cfg.overload_policy == "pass" ? Overload::Pass
                                                  : Overload::None;
    lp.idle_sleep_us = cfg.idle_sleep_us;
    lp.ips = cfg.ips_enabled;
    std::atomic<bool> stop{false};
    if (auto st = start_workers(cap, ctxs, lp, stop); !st) {
        return st.error();
    }
    std::fprintf(log, "vigil-sensor: running: %s\n", res.capture.c_str());

    ControlLoop control(opts, rules, vars, eve, std::move(enforcer), cap, ctxs);
    rules.reset();  // the workers and the output hold it now (freed after a reload)
    res.stop_reason = control.run();
    // Stop: workers leave their loops, flush their flows; keep draining until all are done.
    stop.store(true);
    control.drain_until_done();
    join_workers(cap);
    control.finish(res);

    // The workers have returned: what only they could read.
    for (size_t i = 0; i < ctxs.size(); ++i) {
        res.counters.workers[i].active_seconds =
            static_cast<double>(ctxs[i]->last_rx_ns - ctxs[i]->first_rx_ns) / 1e9;
    }
    for (const auto& c : ctxs) {
        pipeline_counters(*c).add_to(res.counters);
    }
    ctxs.clear();  // queues hold mbufs from the ports' pools: release them first
    if (cap.dpdk_ports) {
        cap.dpdk_ports->close();
    }
    res.counters.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return res;
}

std::string format_rules_line(const SensorCounters& c) {
    std::string s = "  rules      rule set " + std::to_string(c.ruleset_id) + " (" +
                    std::to_string(c.rules_loaded) + " loaded, " + std::to_string(c.rules_failed) +
                    " rejected); " + std::to_string(c.reloads) + " reload(s), " +
                    std::to_string(c.reload_failures) + " refused";
    if (c.reloads != 0) {
        char pause[64];
        std::snprintf(pause, sizeof(pause), "; longest switch %.1f us",
                      static_cast<double>(c.max_switch_ns) / 1e3);
        s += pause;
    }
    s += "; packets inspected by rule set:";
    for (const auto& [id, n] : c.packets_by_ruleset) {
        s += " " + std::to_string(id) + "=" + std::to_string(n);
    }
    return s + "\n";
}

std::string format_live_summary(const LiveResult& r) {
    const auto& c = r.counters;
    char line[512];
    std::snprintf(line, sizeof(line),
                  "run summary (stopped: %s)\n"
                  "  capture    %s\n"
                  "  packets    %llu (%llu bytes) in %.3f s",
                  r.stop_reason.c_str(), r.capture.c_str(),
                  static_cast<unsigned long long>(c.packets),
                  static_cast<unsigned long long>(c.bytes), c.seconds);
    std::string s = line;
    // As in replay: a rate only for a run long enough to measure one (each worker's rate
    // while traffic flowed is in the workers section).
    if (c.seconds >= kMinThroughputSeconds) {
        std::snprintf(line, sizeof(line), ", %.0f packets/s",
                      static_cast<double>(c.packets) / c.seconds);
        s += line;
    }
    s += "\n" + format_pipeline_summary(c, r.by_sid);
    s += format_rules_line(c);
    s += "  ports\n" + format_ports(c.ports);
    s += "  workers\n" + format_workers(c.workers);
    if (r.enforcing) {
        s += format_enforcement(r.enforcement, r.counters.drops);
    }
    if (c.watchdog_stalls > 0) {
        s += "  watchdog   " + std::to_string(c.watchdog_stalls) + " stall(s) reported\n";
    }
    return s;
}

}  // namespace vigil::sensor
