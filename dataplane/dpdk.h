#pragma once
// DPDK capture: EAL start-up, port bring-up (one RX and one TX queue per worker, RSS with a
// symmetric key), mempools per NUMA socket, worker launch on EAL lcores, port counters.
// DPDK's own headers stay inside dpdk.cc: nothing outside the dataplane sees rte_* types.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "dataplane/capture_queue.h"

namespace vigil::dataplane::dpdk {

// Starts the EAL with `args` (argv[0] is added). Works once per process (a DPDK limit): a
// second call returns Ok when the EAL is already up and ignores the new arguments. Errors
// explain the usual causes (no hugepages, no lcores, a vdev that failed to probe).
Status init_eal(const std::vector<std::string>& args);
bool eal_ready();
// Closes every port still open and releases the EAL's resources (hugepage files, lcore
// threads) at process exit.
void cleanup_eal();

// Adds a device after start-up ("net_pcap1,rx_pcap=x.pcap"), as --vdev would have: lets one
// process (a test) use fresh ports after the EAL is up. Sockets a device opens (af_packet)
// belong to the calling thread's network namespace.
Status probe_device(const std::string& devargs);

// Lcores the EAL gives to workers (all but the main lcore, which runs the control thread).
unsigned worker_lcore_count();

// Runs fns[i] on the i-th worker lcore and returns at once; error (nothing launched) when
// there are fewer worker lcores than functions.
Status launch_workers(std::vector<std::function<void()>> fns);
// Waits for every function started by launch_workers to return.
void wait_workers();

struct PortSetup {
    std::string name;  // "net_pcap0", "0000:03:00.0"
    uint16_t queues = 1;
    uint16_t rx_desc = 1024;
    uint16_t tx_desc = 1024;
    bool rss_l4 = false;  // hash the ports too (default: the IP pair only, keeps fragments
                          // with their flow)
    bool promiscuous = true;
    // Overload: a queue is "backlogged" above this fraction of its RX descriptors (drivers
    // that report their queue fill), or after this many full bursts in a row (others).
    double overload_watermark = 0.9;
    uint32_t overload_bursts = 64;
};

struct PortStats {
    bool link_up = false;
    uint32_t speed_mbps = 0;
    uint64_t ipackets = 0;
    uint64_t ibytes = 0;
    uint64_t imissed = 0;    // dropped by the NIC: RX queue full (workers too slow)
    uint64_t ierrors = 0;    // bad frames
    uint64_t rx_nombuf = 0;  // no mbuf to receive into (mempool too small)
    uint64_t opackets = 0;
    uint64_t obytes = 0;
    uint64_t oerrors = 0;
};

struct PortInfo {
    std::string name;
    std::string driver;
    uint16_t port_id = 0;
    int socket = 0;
    uint16_t queues = 0;
    uint16_t rx_desc = 0;  // after the driver's adjustment
    uint16_t tx_desc = 0;
    bool rss = false;               // the driver spreads flows over queues by our key
    bool queue_fill_known = false;  // rx_queue_count supported: precise overload detection
};

class PortSet {
public:
    // Brings up every port (configure, queues, start, promiscuous). `peers[i]` is the index of
    // the port that port i forwards to (inline pair), or -1. On error nothing stays started.
    static Result<std::unique_ptr<PortSet>> open(const std::vector<PortSetup>& ports,
                                                 const std::vector<int>& peers);
    ~PortSet();
    PortSet(const PortSet&) = delete;
    PortSet& operator=(const PortSet&) = delete;

    size_t size() const { return info_.size(); }
    const PortInfo& info(size_t port) const { return info_[port]; }
    // Worker `queue`'s share of `port`. Call once per (port, queue).
    CaptureQueuePtr queue(size_t port, uint16_t queue);
    PortStats stats(size_t port) const;
    // Stops and closes the ports (after the workers have returned).
    void close();

private:
    PortSet() = default;
    std::vector<PortInfo> info_;
    std::vector<PortSetup> setup_;
    std::vector<int> peers_;
    std::vector<void*> pools_;         // rte_mempool*, one per NUMA socket in use
    std::vector<void*> pool_of_port_;  // the pool each port receives into
    bool open_ = false;
};

}  // namespace vigil::dataplane::dpdk
