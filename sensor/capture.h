#pragma once
// Capture set-up for `run`: opens the configured ports (DPDK ports with one RX/TX queue pair
// per worker, or libpcap handles in a fanout group), gives each worker its queues, starts and
// joins the worker threads, and samples the ports' counters for the control thread.

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "dataplane/dpdk.h"
#include "sensor/config.h"
#include "sensor/live.h"
#include "sensor/worker_loop.h"

namespace vigil::sensor {

struct Capture {
    std::unique_ptr<dataplane::dpdk::PortSet> dpdk_ports;
    std::vector<std::string> names;  // per port: name
    // queue_port[w][i]: the port index of worker w's i-th queue
    std::vector<std::vector<size_t>> queue_port;
    std::vector<std::unique_ptr<std::thread>> threads;  // pcap method
    bool dpdk = false;
    // How packets reach the workers, as it turned out (a driver may lack RSS):
    // "dpdk: 2 port(s) (1 inline pair(s)), 2 worker(s), RSS on the IP pair"
    std::string description;
};

// Opens the ports of cfg's capture section (starting the EAL for DPDK) and appends each
// worker's queues to ctxs[w]->queues. Errors name the config file.
Result<Capture> open_capture(const SensorConfig& cfg, WorkerCtxs& ctxs, std::FILE* log);

// Starts one worker per context (DPDK: on the EAL's worker lcores; pcap: threads named
// vigil-wN) running worker_loop until `stop`; `lp` and `stop` must outlive them.
Status start_workers(Capture& cap, WorkerCtxs& ctxs, const LoopParams& lp,
                     const std::atomic<bool>& stop);
// Waits for every worker to return.
void join_workers(Capture& cap);

// The ports' counters now: the driver's (DPDK) and the workers' queue counters.
std::vector<PortCounters> sample_ports(const Capture& cap, const WorkerCtxs& ctxs);
std::string format_ports(const std::vector<PortCounters>& ports);

}  // namespace vigil::sensor
