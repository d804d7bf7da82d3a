#include "sensor/control_loop.h"

#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <mutex>
#include <thread>

#include "common/clock.h"
#include "common/sd_notify.h"
#include "sensor/rate_filter.h"

namespace vigil::sensor {

namespace {

constexpr int kControlTickMs = 20;

const char* signal_name(int sig) {
    switch (sig) {
        case SIGTERM:
            return "SIGTERM";
        case SIGINT:
            return "SIGINT";
        default:
            return "signal";
    }
}

sigset_t control_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGHUP);
    return set;
}

}  // namespace

void block_control_signals() {
    const sigset_t set = control_signals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

struct ControlLoop::Reload {
    std::thread thread;
    std::atomic<bool> ready{false};
    Result<LoadedRules> loaded = make_error(ErrorCode::Io, "not loaded");
    std::vector<rules::MatcherPtr> matchers;
    int64_t started_ns = 0;
    double seconds = 0;
    // After the hand-over: which workers have switched.
    bool published = false;
    std::vector<bool> switched;
    uint32_t old_id = 0;
    std::vector<uint64_t> requests;  // mgmtd's requests this reload answers
    ~Reload() {
        if (thread.joinable()) {
            thread.join();
        }
    }
};

ControlLoop::~ControlLoop() = default;

// On SIGHUP: the rules are loaded and compiled on a helper thread, one matcher (Hyperscan
// scratch) per worker built there too. The control loop goes on meanwhile.
void ControlLoop::start_reload() {
    reload_ = std::make_unique<Reload>();
    Reload* r = reload_.get();
    r->requests.swap(next_requests_);
    r->started_ns = mono_ns();
    const size_t nworkers = ctxs_.size();
    r->thread = std::thread([this, r, nworkers, running = output_.rules()] {
        r->loaded = opts_.reload_rules(running);
        if (r->loaded) {
            for (size_t i = 0; i < nworkers; ++i) {
                auto m = rules::Matcher::create(r->loaded->rules);
                if (!m) {
                    r->loaded = m.error();
                    r->matchers.clear();
                    break;
                }
                r->matchers.push_back(std::move(m.value()));
            }
        }
        r->seconds = static_cast<double>(mono_ns() - r->started_ns) / 1e9;
        r->ready.store(true, std::memory_order_release);
    });
}

void ControlLoop::poll_reload() {
    if (!reload_) {
        return;
    }
    Reload& r = *reload_;
    if (!r.published) {
        if (!r.ready.load(std::memory_order_acquire)) {
            return;
        }
        r.thread.join();
        const uint32_t cur = output_.rules()->id();
        if (!r.loaded) {
            ++reload_failures_;
            std::fprintf(log_,
                         "vigil-sensor: reload refused: %s; rule set %u keeps running "
                         "(%llu reload(s) refused so far)\n",
                         r.loaded.error().message.c_str(), cur,
                         static_cast<unsigned long long>(reload_failures_));
            std::fflush(log_);
            answer(r.requests, r.loaded.error().message, r.seconds);
            end_reload();
            return;
        }
        const LoadedRules& l = *r.loaded;
        // Each worker's mailbox gets its matcher; it switches at its next burst boundary.
        for (size_t i = 0; i < ctxs_.size(); ++i) {
            ctxs_[i]->next_matcher.store(r.matchers[i].release(), std::memory_order_release);
        }
        r.matchers.clear();
        r.published = true;
        r.switched.assign(ctxs_.size(), false);
        r.old_id = cur;
        output_.swap_rules(l.rules, l.vars);
        if (RateFilter* rf = ctxs_.empty() ? nullptr : ctxs_[0]->worker->rate_filter()) {
            rf->rebind(l.vars);  // one instance, shared by every worker
        }
        beat_.ruleset_id = l.rules->id();
        beat_.rules_loaded = l.loaded;
        beat_.rules_rejected = l.rejected;
        beat_.rules_version = l.pack_version;
        beat_.rules_digest = l.pack_digest;
        ++reloads_;
        last_reload_sec_ = static_cast<int64_t>(std::time(nullptr));
        std::fprintf(log_,
                     "vigil-sensor: reload: rule set %u -> %u (%llu rules loaded, %llu "
                     "rejected, %zu unchanged and shared with rule set %u; loaded and compiled "
                     "in %.2f s); workers switching\n",
                     cur, l.rules->id(), static_cast<unsigned long long>(l.loaded),
                     static_cast<unsigned long long>(l.rejected), l.rules->stats().shared, cur,
                     r.seconds);
        std::fflush(log_);
    }
    // Each worker hands its old matcher back once it switched: freed here, with the packets
    // the old set inspected on that worker counted.
    bool all = true;
    for (size_t i = 0; i < ctxs_.size(); ++i) {
        if (r.switched[i]) {
            continue;
        }
        rules::MatcherPtr old(
            ctxs_[i]->retired_matcher.exchange(nullptr, std::memory_order_acq_rel));
        if (!old) {
            all = false;
            continue;
        }
        const uint64_t at = ctxs_[i]->switched_at_packets.load(std::memory_order_relaxed);
        packets_by_set_[old->rules().id()] += at - set_start_packets_[i];
        set_start_packets_[i] = at;
        max_switch_ns_ =
            std::max(max_switch_ns_, ctxs_[i]->switch_ns.load(std::memory_order_relaxed));
        r.switched[i] = true;
    }
    if (!all) {
        return;
    }
    // Every alert raised with the old set is in a ring by now (pushed before the switch).
    drain();
    output_.release_earlier_sets();
    // The old set's Hyperscan databases and rules went back to malloc; give the free pages to
    // the system, or the sensor keeps the peak of both sets resident after every reload.
    malloc_trim(0);
    std::fprintf(log_,
                 "vigil-sensor: reload complete: every worker inspects with rule set %u (the "
                 "longest switch held a worker %.1f us); rule set %u freed\n",
                 output_.rules()->id(), static_cast<double>(max_switch_ns_) / 1e3, r.old_id);
    std::fflush(log_);
    answer(r.requests, "", static_cast<double>(mono_ns() - r.started_ns) / 1e9);
    end_reload();
}

// The reload in flight is over (swapped in, or refused): the one asked for meanwhile starts.
void ControlLoop::end_reload() {
    reload_.reset();
    if (reload_again_) {
        reload_again_ = false;
        start_reload();
    }
}

bool ControlLoop::request_reload() {
    if (reload_) {
        reload_again_ = true;
        return false;
    }
    start_reload();
    return true;
}

void ControlLoop::answer(std::vector<uint64_t>& ids, const std::string& error, double seconds) {
    if (opts_.mgmt == nullptr) {
        return;
    }
    wire::ControlReply rep;
    rep.op = "reload";
    rep.ok = error.empty();
    rep.error = error;
    rep.ruleset_id = output_.rules()->id();
    rep.rules_loaded = beat_.rules_loaded;
    rep.rules_rejected = beat_.rules_rejected;
    rep.rules_version = beat_.rules_version;
    rep.rules_digest = beat_.rules_digest;
    rep.seconds = seconds;
    for (uint64_t id : ids) {
        opts_.mgmt->reply(id, rep);
    }
    ids.clear();
}

// mgmtd's requests: a reload (after `vigilctl rules activate`), answered when it ends.
void ControlLoop::take_requests() {
    if (opts_.mgmt == nullptr) {
        return;
    }
    for (auto& q : opts_.mgmt->take_requests()) {
        if (!opts_.reload_rules) {
            std::vector<uint64_t> one{q.id};
            answer(one, "this sensor mode cannot reload", 0);
            continue;
        }
        std::fprintf(log_, "vigil-sensor: mgmtd asks for a reload (pack %s)\n",
                     q.req.version.empty() ? "any" : q.req.version.c_str());
        std::fflush(log_);
        next_requests_.push_back(q.id);
        request_reload();
    }
}

ControlLoop::ControlLoop(const LiveOptions& opts, const rules::RuleSetPtr& rules,
                         const rules::Vars& vars, EveWriter& eve,
                         std::unique_ptr<Enforcer> enforcer, const Capture& cap,
                         const WorkerCtxs& ctxs)
    : opts_(opts),
      cfg_(*opts.config),
      log_(opts.log),
      eve_(eve),
      enforcer_(std::move(enforcer)),
      output_(rules, vars, eve, cfg_.ips_enabled, /*only_enforced=*/true),
      cap_(cap),
      ctxs_(ctxs),
      stalls_(ctxs.size(), 0),
      stalled_since_(ctxs.size(), 0),
      ips_verdicts_(cfg_.ips_enabled && !cfg_.inline_pairs.empty()),
      beat_(opts.beat),
      set_start_packets_(ctxs.size(), 0) {
    eve_.set_pcap_cnt(false);
    output_.set_enforcer(enforcer_.get());
    output_.set_packet_alert_max(cfg_.packet_alert_max);
    output_.set_flow_records(cfg_.pipeline.flow_records);
}

void ControlLoop::drain() {
    AlertRecord a;
    for (const auto& c : ctxs_) {
        while (c->ring.pop(a)) {
            output_.write(a);
        }
    }
}

void ControlLoop::on_signal(int sig, std::string& stop_reason) {
    if (sig == SIGUSR1) {
        const SensorCounters c = snapshot();
        std::string s = "vigil-sensor: counters\n";
        s += format_ports(c.ports);
        s += format_workers(c.workers);
        s += format_rules_line(c);
        if (opts_.mgmt != nullptr) {
            wire::Heartbeat h;
            opts_.mgmt->fill_spool_fields(h);
            const ZmqStats z = opts_.mgmt->stats();
            char line[256];
            std::snprintf(line, sizeof(line),
                          "  mgmtd      %s, last seq %llu, acknowledged %llu, spool %llu records "
                          "(%llu bytes), dropped by a full spool %llu\n",
                          z.connected ? "connected" : "not connected",
                          static_cast<unsigned long long>(h.last_seq),
                          static_cast<unsigned long long>(h.acked_seq),
                          static_cast<unsigned long long>(h.spool_records),
                          static_cast<unsigned long long>(h.spool_bytes),
                          static_cast<unsigned long long>(h.spool_dropped));
            s += line;
        }
        std::fprintf(log_, "%s", s.c_str());
        std::fflush(log_);
    } else if (sig == SIGHUP) {
        if (!opts_.reload_rules) {
            std::fprintf(log_, "vigil-sensor: SIGHUP: no rule reload in this mode; carrying on\n");
        } else if (request_reload()) {
            std::fprintf(log_, "vigil-sensor: SIGHUP: reloading the rules from %s\n",
                         cfg_.path.c_str());
        } else {
            std::fprintf(log_,
                         "vigil-sensor: SIGHUP: a reload is in progress; another follows it\n");
        }
        std::fflush(log_);
    } else if (sig > 0) {
        stop_reason = signal_name(sig);
    }
}

// A worker holding a burst (packets in hand, more waiting behind them) for longer than
// capture.watchdog-ms is reported once per stall, and again when it recovers.
void ControlLoop::watchdog(int64_t now) {
    const int64_t watchdog_ns = static_cast<int64_t>(cfg_.watchdog_ms) * 1000000;
    for (size_t w = 0; w < ctxs_.size() && watchdog_ns > 0; ++w) {
        const int64_t b = ctxs_[w]->busy_since_ns.load(std::memory_order_relaxed);
        if (b != 0 && now - b > watchdog_ns && stalled_since_[w] != b) {
            stalled_since_[w] = b;
            ++stalls_[w];
            ++watchdog_stalls_;
            std::fprintf(log_,
                         "vigil-sensor: watchdog: worker %zu has made no progress for %lld ms "
                         "(stuck in one burst; its RX queues are not being served)\n",
                         w, static_cast<long long>((now - b) / 1000000));
            std::fflush(log_);
        } else if (stalled_since_[w] != 0 && b != stalled_since_[w]) {
            std::fprintf(log_, "vigil-sensor: watchdog: worker %zu is making progress again\n", w);
            stalled_since_[w] = 0;
        }
    }
}

// Whether every worker is serving its queues: none has left its loop, none holds one burst
// for longer than capture.watchdog-ms (or, with that check off, `limit_ns`).
bool ControlLoop::workers_alive(int64_t now, int64_t limit_ns) const {
    if (cfg_.watchdog_ms != 0) {
        limit_ns = static_cast<int64_t>(cfg_.watchdog_ms) * 1000000;
    }
    return std::none_of(ctxs_.begin(), ctxs_.end(), [&](const auto& c) {
        const int64_t b = c->busy_since_ns.load(std::memory_order_relaxed);
        return c->done.load(std::memory_order_acquire) || (b != 0 && now - b > limit_ns);
    });
}

std::string ControlLoop::run() {
    // With enforcement the control thread wakes every millisecond: a block reaches the kernel
    // within a few ms of the verdict.
    const long tick_ms = enforcer_ ? 1 : kControlTickMs;
    const sigset_t sigs = control_signals();
    std::string stop_reason;
    uint64_t last_total = 0;
    int64_t last_change = mono_ns();
    int64_t last_flush = last_change;
    // outputs.eve.stats-interval-s: the first record one interval after the start.
    const int64_t started = last_change;
    const int64_t stats_ns = static_cast<int64_t>(cfg_.stats_interval_s) * 1000000000;
    int64_t last_stats = started;
    int64_t last_progress = 0;
    const int64_t idle_ns = static_cast<int64_t>(cfg_.exit_on_idle_ms) * 1000000;
    const bool progress = opts_.progress && isatty(fileno(log_)) != 0;
    // Under systemd (Type=notify): ready now that the workers run; WATCHDOG=1 at half of
    // WatchdogSec, only while every worker makes progress, so systemd restarts a hung sensor.
    const int64_t ping_ns = systemd::watchdog_usec() * 1000 / 2;
    int64_t last_ping = 0;
    systemd::notify("READY=1\nSTATUS=inspecting: " + cap_.description);
    for (;;) {
        if (opts_.handle_signals) {
            timespec to{0, tick_ms * 1000000L};
            siginfo_t info{};
            on_signal(sigtimedwait(&sigs, &info, &to), stop_reason);
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(tick_ms));
        }
        drain();
        take_requests();
        poll_reload();
        if (enforcer_) {
            enforcer_->tick();
        }
        const int64_t now = mono_ns();
        uint64_t total = 0;
        for (const auto& c : ctxs_) {
            total += c->packets.load(std::memory_order_relaxed);
        }
        if (total != last_total) {
            last_total = total;
            last_change = now;
        }
        watchdog(now);
        if (ping_ns > 0 && now - last_ping >= ping_ns && workers_alive(now, ping_ns)) {
            last_ping = now;
            systemd::notify("WATCHDOG=1");
        }
        if (stats_ns > 0 && now - last_stats >= stats_ns) {
            last_stats = now;
            write_stats(now - started);
        }
        if (now - last_flush > 1000000000) {
            last_flush = now;
            eve_.flush();
            heartbeat();
        }
        if (progress && now - last_progress > 500000000) {
            last_progress = now;
            std::fprintf(log_, "\rrun: %llu packets, %llu alerts ",
                         static_cast<unsigned long long>(total),
                         static_cast<unsigned long long>(output_.alerts()));
            std::fflush(log_);
        }
        if (!stop_reason.empty()) {
            break;
        }
        if (opts_.stop != nullptr && opts_.stop->load()) {
            stop_reason = "stop requested";
            break;
        }
        if (idle_ns > 0 && now - last_change > idle_ns) {
            stop_reason = "no packets for " + std::to_string(cfg_.exit_on_idle_ms) +
                          " ms (capture.exit-on-idle-ms)";
            break;
        }
    }
    if (progress) {
        std::fprintf(log_, "\n");
    }
    systemd::notify("STOPPING=1\nSTATUS=stopping: " + stop_reason);
    return stop_reason;
}

void ControlLoop::drain_until_done() {
    for (;;) {
        drain();
        const bool all = std::all_of(ctxs_.begin(), ctxs_.end(), [](const auto& c) {
            return c->done.load(std::memory_order_acquire);
        });
        if (all) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

// A periodic EVE stats record: the control thread's snapshot plus each worker's pipeline
// counters as it last published them (at most a second old), totals since the start.
void ControlLoop::write_stats(int64_t uptime_ns) {
    SensorCounters c = snapshot();
    for (const auto& ctx : ctxs_) {
        std::lock_guard lk(ctx->published_mu);
        ctx->published.add_to(c);
    }
    c.seconds = static_cast<double>(uptime_ns) / 1e9;
    eve_.write_stats(c, static_cast<int64_t>(std::time(nullptr)), 0);
}

// The counters for vigil-mgmtd's heartbeats (the transport adds its spool fields and sends
// them every second).
void ControlLoop::heartbeat() {
    if (opts_.mgmt == nullptr) {
        return;
    }
    const SensorCounters c = snapshot();
    wire::Heartbeat h = beat_;
    h.rx_packets = c.packets;
    h.rx_bytes = c.bytes;
    h.capture_drops = c.capture_drops;
    h.alerts = c.alerts;
    h.drops = c.drops;
    if (enforcer_) {
        const auto& es = enforcer_->stats();
        h.blocks_added = es.added;
        h.blocks_active = enforcer_->active_blocks();
        h.enforcement = es.healthy ? "ok" : "degraded: " + es.last_error;
        h.enforcement_repairs = es.repairs;
        h.enforcement_problem = es.last_problem;
        h.blocks_reapplied = es.reapplied;
    } else {
        h.enforcement = "off";
    }
    for (size_t i = 0; i < c.workers.size(); ++i) {
        const auto& w = c.workers[i];
        h.workers.push_back(
            wire::WorkerBeat{static_cast<uint32_t>(i), stalled_since_[i] == 0, w.packets});
    }
    opts_.mgmt->set_heartbeat(h);
}

SensorCounters ControlLoop::snapshot() const {
    SensorCounters c;
    c.live = true;
    c.ips = ips_verdicts_;
    for (const auto& ctx : ctxs_) {
        c.packets += ctx->packets.load(std::memory_order_relaxed);
        for (const auto& q : ctx->queues) {
            c.bytes += q->counters().rx_bytes.load(std::memory_order_relaxed);
        }
    }
    c.ports = sample_ports(cap_, ctxs_);
    c.workers = sample_workers(ctxs_, stalls_);
    c.watchdog_stalls = watchdog_stalls_;
    for (const auto& p : c.ports) {
        c.capture_packets += p.ipackets;
        c.capture_drops += p.imissed + p.rx_nombuf;
        c.capture_errors += p.ierrors;
        c.ips_accepted += p.forwarded;
        c.ips_blocked += p.dropped;
    }
    c.alerts = output_.alerts();
    c.anomalies = output_.anomalies();
    c.alerts_suppressed = output_.suppressed();
    c.alert_queue_overflow = output_.alert_queue_overflow();
    c.drops = output_.drops();
    c.ruleset_id = output_.rules()->id();
    c.rules_loaded = beat_.rules_loaded;
    c.rules_failed = beat_.rules_rejected;
    c.reloads = reloads_;
    c.reload_failures = reload_failures_;
    c.last_reload_sec = last_reload_sec_;
    c.max_switch_ns = max_switch_ns_;
    c.packets_by_ruleset = packets_by_set_;
    // Packets since each worker's current set began (a worker that has not switched yet
    // still counts for the old one).
    for (size_t i = 0; i < ctxs_.size(); ++i) {
        const bool pending = reload_ && reload_->published && !reload_->switched[i];
        const uint32_t id = pending ? reload_->old_id : c.ruleset_id;
        c.packets_by_ruleset[id] +=
            ctxs_[i]->packets.load(std::memory_order_relaxed) - set_start_packets_[i];
    }
    return c;
}

void ControlLoop::finish(LiveResult& res) {
    // The workers have returned: a switch they made is collected, one they did not make is
    // dropped (its matcher is freed with the worker's mailbox).
    if (reload_ && reload_->published) {
        poll_reload();
    }
    drain();
    if (enforcer_) {
        enforcer_->shutdown();
        res.enforcing = true;
        res.enforcement = enforcer_->stats();
    }
    res.counters = snapshot();
    res.by_sid = output_.by_sid();
}

}  // namespace vigil::sensor
