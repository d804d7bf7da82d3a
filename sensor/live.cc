#include "sensor/live.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <thread>

#include "common/spsc_ring.h"
#include "dataplane/decode.h"
#include "dataplane/dpdk.h"
#include "dataplane/flow_table.h"
#include "dataplane/pcap_live.h"
#include "dataplane/reject.h"
#include "sensor/alert_output.h"
#include "sensor/enforcer.h"
#include "sensor/worker.h"

namespace vigil::sensor {

namespace {

using dataplane::CaptureQueue;
using dataplane::CaptureQueueCounters;
using dataplane::CaptureQueuePtr;
using dataplane::kCaptureBurst;
using dataplane::Packet;
using dataplane::RawFrame;

constexpr size_t kAlertRing = 16384;
constexpr int kControlTickMs = 20;
constexpr uint32_t kEmptyPollsBeforeSleep = 256;

enum class Overload : uint8_t { None, Drop, Pass };

int64_t mono_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void add(std::atomic<uint64_t>& c, uint64_t n) {
    CaptureQueueCounters::add(c, n);
}

// One worker's state, shared with the control thread only through atomics and the ring.
struct alignas(64) WorkerCtx {
    WorkerPtr worker;
    std::vector<CaptureQueuePtr> queues;
    SpscRing<AlertRecord> ring{kAlertRing};
    std::atomic<int64_t> busy_since_ns{0};  // 0: not holding packets
    std::atomic<uint64_t> packets{0};
    std::atomic<uint64_t> overload_passed{0};
    std::atomic<uint64_t> overload_dropped{0};
    std::atomic<uint64_t> ring_waits{0};
    std::atomic<bool> done{false};
    int64_t first_rx_ns = 0;          // start of the first burst, end of the last (read after the
    int64_t last_rx_ns = 0;           // worker returned): packets/s while traffic flowed
    dataplane::DecodeStats decode{};  // read after the worker has returned
};

// Test hook (LiveOptions::test_stall_ms): wraps a queue and holds its first burst that long
// before releasing it, so that the worker is stuck in one burst as far as the watchdog can
// tell. The worker loop knows nothing of it.
class StallFirstBurst final : public CaptureQueue {
public:
    StallFirstBurst(CaptureQueuePtr inner, uint32_t ms) : inner_(std::move(inner)), ms_(ms) {}
    size_t receive(std::span<RawFrame> out) override { return inner_->receive(out); }
    void release(std::span<const uint8_t> drop) override {
        if (ms_ != 0 && !drop.empty()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(ms_));
            ms_ = 0;
        }
        inner_->release(drop);
    }
    bool backlogged() override { return inner_->backlogged(); }
    bool wait(int timeout_ms) override { return inner_->wait(timeout_ms); }
    bool can_wait() const override { return inner_->can_wait(); }
    bool send_back(std::span<const uint8_t> frame) override { return inner_->send_back(frame); }
    void refresh() override { inner_->refresh(); }
    bool is_inline() const override { return inner_->is_inline(); }
    std::string name() const override { return inner_->name(); }
    const dataplane::CaptureQueueCounters& counters() const override { return inner_->counters(); }

private:
    CaptureQueuePtr inner_;
    uint32_t ms_;
};

struct LoopParams {
    Overload overload = Overload::None;
    bool ips = false;  // ips.enabled: drop verdicts on inline ports
    uint32_t idle_sleep_us = 50;
};

void push_alerts(WorkerCtx& c, std::vector<AlertRecord>& alerts) {
    for (auto& a : alerts) {
        // Never lose an alert: when output falls behind, the worker waits (and says so).
        while (!c.ring.push(a)) {
            add(c.ring_waits, 1);
            std::this_thread::yield();
        }
    }
    alerts.clear();
}

void worker_loop(WorkerCtx& c, const LoopParams& p, const std::atomic<bool>& stop) {
    std::array<RawFrame, kCaptureBurst> frames{};
    std::array<Packet, kCaptureBurst> pkts{};
    std::array<uint8_t, kCaptureBurst> drop{};
    std::vector<AlertRecord> alerts;
    alerts.reserve(1024);
    uint64_t seq = 0;
    uint32_t empty_polls = 0;
    int64_t last_housekeeping = mono_ns();
    const bool can_wait = c.queues.size() == 1 && c.queues[0]->can_wait();

    while (!stop.load(std::memory_order_relaxed)) {
        bool got = false;
        for (auto& qp : c.queues) {
            CaptureQueue& q = *qp;
            const size_t n = q.receive(frames);
            if (n == 0) {
                continue;
            }
            got = true;
            const int64_t start = mono_ns();
            c.busy_since_ns.store(start, std::memory_order_relaxed);
            if (c.first_rx_ns == 0) {
                c.first_rx_ns = start;
            }
            if (p.overload != Overload::None && q.backlogged()) {
                // Behind: this burst skips inspection and gets the configured verdict.
                const bool d = p.overload == Overload::Drop;
                std::fill_n(drop.begin(), n, static_cast<uint8_t>(d ? 1 : 0));
                q.release({drop.data(), n});
                add(d ? c.overload_dropped : c.overload_passed, n);
                add(c.packets, n);
                c.last_rx_ns = mono_ns();
                c.busy_since_ns.store(0, std::memory_order_relaxed);
                continue;
            }
            for (size_t i = 0; i < n; ++i) {
                const RawFrame& f = frames[i];
                Packet& pkt = pkts[i];
                pkt = dataplane::packet_from_frame(f, seq++);
                dataplane::decode(f.link, pkt);
                c.decode.count(pkt);
                if (pkt.ip_version != 0) {
                    pkt.flow_hash = dataplane::flow_hash(dataplane::FlowKey::from_packet(pkt));
                }
            }
            const size_t first_alert = alerts.size();
            c.worker->set_ips(p.ips && q.is_inline());
            c.worker->process({pkts.data(), n}, alerts);
            for (size_t i = 0; i < n; ++i) {
                drop[i] = pkts[i].drop ? 1 : 0;
                if (pkts[i].reject) {  // rare: a reject rule matched on an inline port
                    std::array<uint8_t, dataplane::kRejectFrameMax> answer{};
                    const size_t len =
                        dataplane::build_reject(pkts[i], answer.data(), answer.size());
                    if (len != 0) {
                        q.send_back({answer.data(), len});
                    }
                }
            }
            q.release({drop.data(), n});
            if (alerts.size() > first_alert) {
                const int64_t decided = mono_ns();
                for (size_t i = first_alert; i < alerts.size(); ++i) {
                    alerts[i].enforced = q.is_inline();
                    alerts[i].verdict_ns = decided;
                }
            }
            add(c.packets, n);
            if (!alerts.empty()) {
                push_alerts(c, alerts);
            }
            c.last_rx_ns = mono_ns();
            c.busy_since_ns.store(0, std::memory_order_relaxed);
        }
        // Once a second: refresh the source counters (libpcap's kernel drops) and, when no
        // traffic came, expire idle flows by the wall clock (with traffic, packet times do).
        const int64_t now = got ? c.last_rx_ns : mono_ns();
        if (now - last_housekeeping > 1000000000) {
            last_housekeeping = now;
            c.busy_since_ns.store(now, std::memory_order_relaxed);
            if (!got) {
                c.worker->idle(static_cast<int64_t>(std::time(nullptr)), alerts);
                push_alerts(c, alerts);
            }
            for (auto& q : c.queues) {
                q->refresh();
            }
            c.busy_since_ns.store(0, std::memory_order_relaxed);
        }
        if (got) {
            empty_polls = 0;
            continue;
        }
        // After a while without traffic, sleep instead of spinning.
        if (++empty_polls >= kEmptyPollsBeforeSleep && p.idle_sleep_us != 0) {
            if (can_wait) {
                c.queues[0]->wait(10);
            } else {
                std::this_thread::sleep_for(std::chrono::microseconds(p.idle_sleep_us));
            }
        }
    }
    // Stop: streams end and are inspected, their alerts go out, then the worker is done.
    c.busy_since_ns.store(mono_ns(), std::memory_order_relaxed);
    c.worker->reset_flows(&alerts);
    push_alerts(c, alerts);
    for (auto& q : c.queues) {
        q->refresh();
    }
    c.busy_since_ns.store(0, std::memory_order_relaxed);
    c.done.store(true, std::memory_order_release);
}

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

// Everything the control thread needs to sample counters while the workers run.
struct Capture {
    std::unique_ptr<dataplane::dpdk::PortSet> dpdk_ports;
    std::vector<std::string> names;  // per port: name
    // queue_port[w][i]: the port index of worker w's i-th queue
    std::vector<std::vector<size_t>> queue_port;
    std::vector<std::unique_ptr<std::thread>> threads;  // pcap method
    bool dpdk = false;
};

std::vector<PortCounters> sample_ports(const Capture& cap,
                                       const std::vector<std::unique_ptr<WorkerCtx>>& ctxs) {
    std::vector<PortCounters> out(cap.names.size());
    for (size_t p = 0; p < out.size(); ++p) {
        out[p].name = cap.names[p];
        out[p].driver = "libpcap";
        if (cap.dpdk_ports) {
            const auto st = cap.dpdk_ports->stats(p);
            out[p].driver = cap.dpdk_ports->info(p).driver;
            out[p].link_up = st.link_up;
            out[p].speed_mbps = st.speed_mbps;
            out[p].ipackets = st.ipackets;
            out[p].imissed = st.imissed;
            out[p].ierrors = st.ierrors;
            out[p].rx_nombuf = st.rx_nombuf;
            out[p].opackets = st.opackets;
            out[p].oerrors = st.oerrors;
        } else {
            out[p].link_up = true;
        }
    }
    for (size_t w = 0; w < ctxs.size(); ++w) {
        for (size_t i = 0; i < ctxs[w]->queues.size(); ++i) {
            const auto& qc = ctxs[w]->queues[i]->counters();
            PortCounters& pc = out[cap.queue_port[w][i]];
            pc.forwarded += qc.forwarded.load(std::memory_order_relaxed);
            pc.tx_failed += qc.tx_failed.load(std::memory_order_relaxed);
            pc.dropped += qc.dropped.load(std::memory_order_relaxed);
            pc.truncated += qc.truncated.load(std::memory_order_relaxed);
            pc.rejects += qc.rejects.load(std::memory_order_relaxed);
            if (!cap.dpdk_ports) {
                pc.ipackets += qc.rx_packets.load(std::memory_order_relaxed);
                pc.imissed += qc.missed.load(std::memory_order_relaxed);
            }
        }
    }
    return out;
}

std::string format_ports(const std::vector<PortCounters>& ports) {
    std::string s;
    char line[512];
    for (const auto& p : ports) {
        std::snprintf(
            line, sizeof(line),
            "    %-14s %-10s link %s  rx %llu  missed %llu  errors %llu  no-mbuf %llu"
            "  forwarded %llu  tx-failed %llu  dropped %llu  rejects %llu  truncated "
            "%llu\n",
            p.name.c_str(), p.driver.c_str(), p.link_up ? "up" : "down",
            static_cast<unsigned long long>(p.ipackets), static_cast<unsigned long long>(p.imissed),
            static_cast<unsigned long long>(p.ierrors),
            static_cast<unsigned long long>(p.rx_nombuf),
            static_cast<unsigned long long>(p.forwarded),
            static_cast<unsigned long long>(p.tx_failed),
            static_cast<unsigned long long>(p.dropped), static_cast<unsigned long long>(p.rejects),
            static_cast<unsigned long long>(p.truncated));
        s += line;
    }
    return s;
}

std::string format_workers(const std::vector<WorkerCounters>& ws) {
    std::string s;
    char line[320];
    for (size_t i = 0; i < ws.size(); ++i) {
        const auto& w = ws[i];
        std::snprintf(line, sizeof(line),
                      "    worker %-3zu packets %llu  overload passed %llu  overload dropped %llu"
                      "  alert-ring waits %llu  stalls %llu",
                      i, static_cast<unsigned long long>(w.packets),
                      static_cast<unsigned long long>(w.overload_passed),
                      static_cast<unsigned long long>(w.overload_dropped),
                      static_cast<unsigned long long>(w.ring_waits),
                      static_cast<unsigned long long>(w.stalls));
        s += line;
        if (w.active_seconds >= kMinThroughputSeconds) {
            std::snprintf(line, sizeof(line), "  (%.0f packets/s while active)",
                          static_cast<double>(w.packets) / w.active_seconds);
            s += line;
        }
        s += "\n";
    }
    return s;
}

std::vector<WorkerCounters> sample_workers(const std::vector<std::unique_ptr<WorkerCtx>>& ctxs,
                                           const std::vector<uint64_t>& stalls) {
    std::vector<WorkerCounters> out(ctxs.size());
    for (size_t i = 0; i < ctxs.size(); ++i) {
        out[i].packets = ctxs[i]->packets.load(std::memory_order_relaxed);
        out[i].overload_passed = ctxs[i]->overload_passed.load(std::memory_order_relaxed);
        out[i].overload_dropped = ctxs[i]->overload_dropped.load(std::memory_order_relaxed);
        out[i].ring_waits = ctxs[i]->ring_waits.load(std::memory_order_relaxed);
        out[i].stalls = stalls[i];
    }
    return out;
}

}  // namespace

void block_control_signals() {
    const sigset_t set = control_signals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

Result<LiveResult> run_live(const LiveOptions& opts, const rules::RuleSetPtr& rules,
                            const rules::Vars& vars, EveWriter& eve) {
    const SensorConfig& cfg = *opts.config;
    std::FILE* log = opts.log;
    const auto t0 = std::chrono::steady_clock::now();
    LiveResult res;
    const uint32_t nworkers = std::max<uint32_t>(1, cfg.workers);
    if (auto st = validate_for_run(cfg); !st) {
        return st.error();
    }

    std::vector<std::unique_ptr<WorkerCtx>> ctxs;
    PipelineConfig pipeline = cfg.pipeline;
    pipeline.ips = cfg.ips_enabled;
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

    // Ports: IDS ports first, then the inline pairs (each side forwards to the other).
    std::vector<std::string> port_names = cfg.ports;
    std::vector<int> peers(cfg.ports.size(), -1);
    for (const auto& pair : cfg.inline_pairs) {
        const int a = static_cast<int>(port_names.size());
        port_names.push_back(pair[0]);
        port_names.push_back(pair[1]);
        peers.push_back(a + 1);
        peers.push_back(a);
    }
    Capture cap;
    cap.names = port_names;
    cap.queue_port.resize(nworkers);
    if (cfg.capture_method == "dpdk") {
        cap.dpdk = true;
        if (auto st = dataplane::dpdk::init_eal(cfg.eal); !st) {
            return st.error();
        }
        if (dataplane::dpdk::worker_lcore_count() < nworkers) {
            return make_error(ErrorCode::BadInput,
                              cfg.path + ": capture.workers is " + std::to_string(nworkers) +
                                  " but capture.eal gives " +
                                  std::to_string(dataplane::dpdk::worker_lcore_count()) +
                                  " worker lcore(s): each worker needs an lcore besides the "
                                  "main one, e.g. \"-l\", \"0-" +
                                  std::to_string(nworkers) + "\" (or \"--lcores\" to share CPUs)");
        }
        std::vector<dataplane::dpdk::PortSetup> setups;
        for (const auto& name : port_names) {
            dataplane::dpdk::PortSetup s;
            s.name = name;
            s.queues = static_cast<uint16_t>(nworkers);
            s.rx_desc = cfg.rx_descriptors;
            s.tx_desc = cfg.tx_descriptors;
            s.rss_l4 = cfg.rss_hash == "ip-port";
            s.promiscuous = cfg.promiscuous;
            s.overload_watermark = cfg.overload_watermark;
            s.overload_bursts = cfg.overload_bursts;
            setups.push_back(s);
        }
        auto ps = dataplane::dpdk::PortSet::open(setups, peers);
        if (!ps) {
            return Error{ps.error().code, cfg.path + ": " + ps.error().message};
        }
        cap.dpdk_ports = std::move(ps.value());
        for (size_t p = 0; p < port_names.size(); ++p) {
            const auto& info = cap.dpdk_ports->info(p);
            if (nworkers > 1 && !info.rss) {
                std::fprintf(log,
                             "vigil-sensor: warning: port %s (%s) has no RSS: its driver "
                             "decides which queue a packet reaches, so both directions of a "
                             "flow may not meet in one worker\n",
                             info.name.c_str(), info.driver.c_str());
            }
            for (uint32_t w = 0; w < nworkers; ++w) {
                ctxs[w]->queues.push_back(cap.dpdk_ports->queue(p, static_cast<uint16_t>(w)));
                cap.queue_port[w].push_back(p);
            }
        }
    } else {
        for (size_t p = 0; p < port_names.size(); ++p) {
            dataplane::PcapLiveSetup s;
            s.iface = port_names[p];
            s.peer = peers[p] >= 0 ? port_names[static_cast<size_t>(peers[p])] : "";
            s.queues = static_cast<uint16_t>(nworkers);
            s.snaplen = cfg.snaplen;
            s.promiscuous = cfg.promiscuous;
            s.overload_bursts = cfg.overload_bursts;
            auto qs = dataplane::open_pcap_live(s);
            if (!qs) {
                return Error{qs.error().code, cfg.path + ": " + qs.error().message};
            }
            for (uint32_t w = 0; w < nworkers; ++w) {
                ctxs[w]->queues.push_back(std::move((*qs)[w]));
                cap.queue_port[w].push_back(p);
            }
        }
    }
    if (opts.test_stall_ms != 0 && !ctxs[0]->queues.empty()) {
        ctxs[0]->queues[0] =
            std::make_unique<StallFirstBurst>(std::move(ctxs[0]->queues[0]), opts.test_stall_ms);
    }
    {
        char buf[256];
        // How packets reach the workers, as it turned out (a driver may lack RSS).
        std::string spread;
        if (nworkers > 1 && cap.dpdk) {
            size_t rss = 0;
            for (size_t p = 0; p < port_names.size(); ++p) {
                rss += cap.dpdk_ports->info(p).rss ? 1 : 0;
            }
            spread =
                rss == port_names.size()
                    ? (cfg.rss_hash == "ip" ? ", RSS on the IP pair" : ", RSS on IP pair and ports")
                    : ", RSS on " + std::to_string(rss) + " of " +
                          std::to_string(port_names.size()) +
                          " port(s), the driver's own spread on the others";
        } else if (nworkers > 1) {
            spread = ", kernel fanout by flow (defragmented)";
        }
        std::snprintf(buf, sizeof(buf), "%s: %zu port(s) (%zu inline pair(s)), %u worker(s)%s",
                      cfg.capture_method.c_str(), port_names.size(), cfg.inline_pairs.size(),
                      nworkers, spread.c_str());
        res.capture = buf;
    }

    // Workers.
    LoopParams lp;
    lp.overload = cfg.overload_policy == "drop"   ? Overload::Drop
                  : cfg.overload_policy == "pass" ? Overload::Pass
                                                  : Overload::None;
    lp.idle_sleep_us = cfg.idle_sleep_us;
    lp.ips = cfg.ips_enabled;
    std::atomic<bool> stop{false};
    if (cap.dpdk) {
        std::vector<std::function<void()>> fns;
        for (auto& c : ctxs) {
            WorkerCtx* cp = c.get();
            fns.emplace_back([cp, &lp, &stop] { worker_loop(*cp, lp, stop); });
        }
        if (auto st = dataplane::dpdk::launch_workers(std::move(fns)); !st) {
            return st.error();
        }
    } else {
        for (auto& c : ctxs) {
            WorkerCtx* cp = c.get();
            cap.threads.push_back(
                std::make_unique<std::thread>([cp, &lp, &stop] { worker_loop(*cp, lp, stop); }));
            const std::string name = "vigil-w" + std::to_string(cp->worker->id());
            pthread_setname_np(cap.threads.back()->native_handle(), name.c_str());
        }
    }
    std::fprintf(log, "vigil-sensor: running: %s\n", res.capture.c_str());

    // Control loop.
    eve.set_pcap_cnt(false);
    AlertOutput output(rules, vars, eve, cfg.ips_enabled, /*only_enforced=*/true);
    output.set_enforcer(enforcer.get());
    // With enforcement the control thread wakes every millisecond: a block reaches the kernel
    // within a few ms of the verdict.
    const long tick_ms = enforcer ? 1 : kControlTickMs;
    AlertRecord a;
    auto drain = [&] {
        for (auto& c : ctxs) {
            while (c->ring.pop(a)) {
                output.write(a);
            }
        }
    };
    const sigset_t sigs = control_signals();
    std::vector<uint64_t> stalls(nworkers, 0);
    std::vector<int64_t> stalled_since(nworkers, 0);  // busy_since of the reported burst
    uint64_t last_total = 0;
    int64_t last_change = mono_ns();
    int64_t last_flush = last_change;
    int64_t last_progress = 0;
    const int64_t idle_ns = static_cast<int64_t>(cfg.exit_on_idle_ms) * 1000000;
    const int64_t watchdog_ns = static_cast<int64_t>(cfg.watchdog_ms) * 1000000;
    const bool progress = opts.progress && isatty(fileno(log)) != 0;
    for (;;) {
        if (opts.handle_signals) {
            timespec to{0, tick_ms * 1000000L};
            siginfo_t info{};
            const int sig = sigtimedwait(&sigs, &info, &to);
            if (sig == SIGUSR1) {
                std::string s = "vigil-sensor: counters\n";
                s += format_ports(sample_ports(cap, ctxs));
                s += format_workers(sample_workers(ctxs, stalls));
                std::fprintf(log, "%s", s.c_str());
                std::fflush(log);
            } else if (sig == SIGHUP) {
                // Reload is not built yet: a HUP (logrotate, an operator used to Suricata)
                // must not take detection down.
                std::fprintf(log,
                             "vigil-sensor: SIGHUP: rule reload is not available in this "
                             "version; carrying on with the rules loaded at start (restart to "
                             "load new rules)\n");
                std::fflush(log);
            } else if (sig > 0) {
                res.stop_reason = signal_name(sig);
            }
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(tick_ms));
        }
        drain();
        if (enforcer) {
            enforcer->tick();
        }
        const int64_t now = mono_ns();
        uint64_t total = 0;
        for (auto& c : ctxs) {
            total += c->packets.load(std::memory_order_relaxed);
        }
        if (total != last_total) {
            last_total = total;
            last_change = now;
        }
        // Watchdog: a worker holding a burst (packets in hand, more waiting behind them) for
        // longer than capture.watchdog-ms is reported once per stall, and again when it
        // recovers.
        for (uint32_t w = 0; w < nworkers && watchdog_ns > 0; ++w) {
            const int64_t b = ctxs[w]->busy_since_ns.load(std::memory_order_relaxed);
            if (b != 0 && now - b > watchdog_ns && stalled_since[w] != b) {
                stalled_since[w] = b;
                ++stalls[w];
                ++res.watchdog_stalls;
                std::fprintf(log,
                             "vigil-sensor: watchdog: worker %u has made no progress for %lld "
                             "ms (stuck in one burst; its RX queues are not being served)\n",
                             w, static_cast<long long>((now - b) / 1000000));
                std::fflush(log);
            } else if (stalled_since[w] != 0 && b != stalled_since[w]) {
                std::fprintf(log, "vigil-sensor: watchdog: worker %u is making progress again\n",
                             w);
                stalled_since[w] = 0;
            }
        }
        if (now - last_flush > 1000000000) {
            last_flush = now;
            eve.flush();
        }
        if (progress && now - last_progress > 500000000) {
            last_progress = now;
            std::fprintf(log, "\rrun: %llu packets, %llu alerts ",
                         static_cast<unsigned long long>(total),
                         static_cast<unsigned long long>(output.alerts()));
            std::fflush(log);
        }
        if (!res.stop_reason.empty()) {
            break;
        }
        if (opts.stop != nullptr && opts.stop->load()) {
            res.stop_reason = "stop requested";
            break;
        }
        if (idle_ns > 0 && now - last_change > idle_ns) {
            res.stop_reason = "no packets for " + std::to_string(cfg.exit_on_idle_ms) +
                              " ms (capture.exit-on-idle-ms)";
            break;
        }
    }
    if (progress) {
        std::fprintf(log, "\n");
    }

    // Stop: workers leave their loops, flush their flows; keep draining until all are done.
    stop.store(true);
    for (;;) {
        drain();
        const bool all = std::all_of(ctxs.begin(), ctxs.end(), [](const auto& c) {
            return c->done.load(std::memory_order_acquire);
        });
        if (all) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (cap.dpdk) {
        dataplane::dpdk::wait_workers();
    } else {
        for (auto& t : cap.threads) {
            t->join();
        }
    }
    drain();
    if (enforcer) {
        enforcer->shutdown();
        res.enforcing = true;
        res.enforcement = enforcer->stats();
    }

    res.ports = sample_ports(cap, ctxs);
    res.workers = sample_workers(ctxs, stalls);
    for (size_t i = 0; i < ctxs.size(); ++i) {
        res.workers[i].active_seconds =
            static_cast<double>(ctxs[i]->last_rx_ns - ctxs[i]->first_rx_ns) / 1e9;
    }
    for (auto& c : ctxs) {
        const Worker& w = *c->worker;
        res.counters.packets += c->packets.load();
        res.counters.decode += c->decode;
        res.counters.flows += w.flow_stats();
        res.counters.stream += w.stream_stats();
        res.counters.defrag += w.defrag_stats();
        res.counters.app += w.app_stats();
        res.counters.datagrams += w.stats().datagrams;
        res.counters.dropped += w.stats().dropped;
        res.counters.dropped_flow += w.stats().dropped_flow;
        for (const auto& q : c->queues) {
            res.counters.bytes += q->counters().rx_bytes.load();
        }
    }
    res.counters.alerts = output.alerts();
    res.counters.anomalies = output.anomalies();
    res.counters.alerts_suppressed = output.suppressed();
    res.counters.drops = output.drops();
    res.by_sid = output.by_sid();
    res.counters.live = true;
    for (const auto& p : res.ports) {
        res.counters.capture_packets += p.ipackets;
        res.counters.capture_drops += p.imissed + p.rx_nombuf;
        res.counters.capture_errors += p.ierrors;
        res.counters.ips_accepted += p.forwarded;
        res.counters.ips_blocked += p.dropped;
    }
    res.counters.ips = cfg.ips_enabled && !cfg.inline_pairs.empty();
    ctxs.clear();  // queues hold mbufs from the ports' pools: release them first
    if (cap.dpdk_ports) {
        cap.dpdk_ports->close();
    }
    res.counters.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return res;
}

std::string format_live_summary(const LiveResult& r) {
    const auto& c = r.counters;
    char line[512];
    const double secs = c.seconds > 0 ? c.seconds : 1e-9;
    std::snprintf(
        line, sizeof(line),
        "run summary (stopped: %s)\n"
        "  capture    %s\n"
        "  packets    %llu (%llu bytes) in %.3f s, %.0f packets/s\n",
        r.stop_reason.c_str(), r.capture.c_str(), static_cast<unsigned long long>(c.packets),
        static_cast<unsigned long long>(c.bytes), c.seconds, static_cast<double>(c.packets) / secs);
    std::string s = line + format_pipeline_summary(c, r.by_sid);
    s += "  ports\n" + format_ports(r.ports);
    s += "  workers\n" + format_workers(r.workers);
    if (r.enforcing) {
        s += format_enforcement(r.enforcement, r.counters.drops);
    }
    if (r.watchdog_stalls > 0) {
        s += "  watchdog   " + std::to_string(r.watchdog_stalls) + " stall(s) reported\n";
    }
    return s;
}

}  // namespace vigil::sensor
