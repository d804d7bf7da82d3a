#include "sensor/worker_loop.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <thread>

#include "common/clock.h"
#include "dataplane/flow_table.h"
#include "dataplane/reject.h"
#include "sensor/replay.h"

namespace vigil::sensor {

namespace {

using dataplane::CaptureQueue;
using dataplane::CaptureQueueCounters;
using dataplane::CaptureQueuePtr;
using dataplane::kCaptureBurst;
using dataplane::Packet;
using dataplane::RawFrame;

constexpr uint32_t kEmptyPollsBeforeSleep = 256;

void add(std::atomic<uint64_t>& c, uint64_t n) {
    CaptureQueueCounters::add(c, n);
}

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

// A reload's hand-over, at a burst boundary: a pointer swap, nothing allocated or freed.
void switch_matcher(WorkerCtx& c) {
    const int64_t t0 = mono_ns();
    rules::MatcherPtr next(c.next_matcher.exchange(nullptr, std::memory_order_acquire));
    rules::MatcherPtr old = c.worker->swap_matcher(std::move(next));
    c.switched_at_packets.store(c.packets.load(std::memory_order_relaxed),
                                std::memory_order_relaxed);
    c.switch_ns.store(mono_ns() - t0, std::memory_order_relaxed);
    c.retired_matcher.store(old.release(), std::memory_order_release);
}

// Once a second, off the per-packet path; skipped (never waited for) while the control
// thread is copying the last one.
void publish_counters(WorkerCtx& c) {
    std::unique_lock lk(c.published_mu, std::try_to_lock);
    if (lk.owns_lock()) {
        c.published = pipeline_counters(c);
    }
}

}  // namespace

PipelineCounters pipeline_counters(const WorkerCtx& c) {
    const Worker& w = *c.worker;
    PipelineCounters p;
    p.decode = c.decode;
    p.flows = w.flow_stats();
    p.stream = w.stream_stats();
    p.defrag = w.defrag_stats();
    p.app = w.app_stats();
    p.datagrams = w.stats().datagrams;
    p.dropped = w.stats().dropped;
    p.dropped_flow = w.stats().dropped_flow;
    return p;
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
        if (c.next_matcher.load(std::memory_order_relaxed) != nullptr) {
            switch_matcher(c);
        }
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
            publish_counters(c);
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

CaptureQueuePtr stall_first_burst(CaptureQueuePtr q, uint32_t ms) {
    return std::make_unique<StallFirstBurst>(std::move(q), ms);
}

std::vector<WorkerCounters> sample_workers(const WorkerCtxs& ctxs,
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

}  // namespace vigil::sensor
