#pragma once
// The live worker loop of `run`: each worker takes bursts from the capture queues it owns,
// decodes and inspects them and releases them (inline ports: forward what is allowed); its
// alerts go to the control thread through a ring. Nothing here allocates, locks or makes a
// system call per packet. The control thread reads the atomics of WorkerCtx, nothing else.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/spsc_ring.h"
#include "dataplane/capture_queue.h"
#include "dataplane/decode.h"
#include "sensor/alert_record.h"
#include "sensor/counters.h"
#include "sensor/live.h"
#include "sensor/worker.h"

namespace vigil::sensor {

inline constexpr size_t kAlertRing = 16384;

enum class Overload : uint8_t { None, Drop, Pass };

struct LoopParams {
    Overload overload = Overload::None;
    bool ips = false;  // ips.enabled: drop verdicts on inline ports
    uint32_t idle_sleep_us = 50;
};

// One worker's state, shared with the control thread only through atomics and the ring.
struct alignas(64) WorkerCtx {
    WorkerPtr worker;
    std::vector<dataplane::CaptureQueuePtr> queues;
    SpscRing<AlertRecord> ring{kAlertRing};
    std::atomic<int64_t> busy_since_ns{0};  // 0: not holding packets
    std::atomic<uint64_t> packets{0};
    std::atomic<uint64_t> overload_passed{0};
    std::atomic<uint64_t> overload_dropped{0};
    std::atomic<uint64_t> ring_waits{0};
    std::atomic<bool> done{false};
    // Rule reload (ControlLoop): the control thread leaves a Matcher for the new rule set in
    // `next_matcher`; the worker takes it at its next burst boundary and leaves the one it
    // replaced in `retired_matcher`, with its packet count at the switch and how long the
    // switch held it. The control thread frees the old matcher, never the worker.
    std::atomic<rules::Matcher*> next_matcher{nullptr};
    std::atomic<rules::Matcher*> retired_matcher{nullptr};
    std::atomic<uint64_t> switched_at_packets{0};
    std::atomic<int64_t> switch_ns{0};
    WorkerCtx() = default;
    WorkerCtx(const WorkerCtx&) = delete;
    WorkerCtx& operator=(const WorkerCtx&) = delete;
    ~WorkerCtx() {
        delete next_matcher.load();
        delete retired_matcher.load();
    }
    int64_t first_rx_ns = 0;          // start of the first burst, end of the last (read after the
    int64_t last_rx_ns = 0;           // worker returned): packets/s while traffic flowed
    dataplane::DecodeStats decode{};  // read after the worker has returned
    // The worker's pipeline counters as of its last housekeeping (about once a second), for
    // the periodic EVE stats record: the worker only try_locks (it never waits for the
    // control thread), the control thread copies under the lock.
    std::mutex published_mu;
    PipelineCounters published{};
};

// The worker's pipeline counters now: from the worker thread, or once it has returned.
PipelineCounters pipeline_counters(const WorkerCtx& c);

using WorkerCtxs = std::vector<std::unique_ptr<WorkerCtx>>;

// Runs until `stop`, then ends the worker's flows (their alerts go out too) and sets `done`.
void worker_loop(WorkerCtx& c, const LoopParams& p, const std::atomic<bool>& stop);

// Test hook (LiveOptions::test_stall_ms): `q`, except that its first burst is held `ms`
// before it is released, so that the worker is stuck in one burst as far as the watchdog can
// tell. The worker loop knows nothing of it.
dataplane::CaptureQueuePtr stall_first_burst(dataplane::CaptureQueuePtr q, uint32_t ms);

// The workers' counters now (`stalls`: the watchdog's reports per worker).
std::vector<WorkerCounters> sample_workers(const WorkerCtxs& ctxs,
                                           const std::vector<uint64_t>& stalls);
std::string format_workers(const std::vector<WorkerCounters>& ws);

}  // namespace vigil::sensor
