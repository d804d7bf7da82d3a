#pragma once
// The sensor's counters: per port, per worker, and the snapshot everything reports from.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "dataplane/app/app_layer.h"
#include "dataplane/decode.h"
#include "dataplane/defrag.h"
#include "dataplane/flow_table.h"
#include "dataplane/stream.h"

namespace vigil::sensor {

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

// One snapshot of what the sensor counted: the summary, SIGUSR1, the EVE `stats` record
// (and the heartbeats to mgmtd) all read this. Summed over workers by the caller. While a
// live run goes on, a snapshot holds what the control thread can read without stopping the
// workers (packets, ports, workers, alerts); the per-worker pipeline counters (flows,
// streams, defrag, app layer) are added when the workers have returned, or, for a periodic
// EVE stats record, as the workers last published them.
struct SensorCounters {
    uint64_t packets = 0;
    uint64_t bytes = 0;
    dataplane::DecodeStats decode{};
    dataplane::FlowStats flows{};
    dataplane::StreamStats stream{};
    dataplane::DefragStats defrag{};
    dataplane::app::AppStats app{};
    uint64_t datagrams = 0;     // reassembled IP datagrams inspected
    uint64_t dropped = 0;       // IPS: packets given the drop verdict
    uint64_t dropped_flow = 0;  //   of which packets of an already dropped flow
    // Live capture (EVE stats.capture): packets the ports received, lost before inspection
    // (NIC queue full, no buffer, kernel drops), bad frames.
    bool live = false;
    uint64_t capture_packets = 0;
    uint64_t capture_drops = 0;
    uint64_t capture_errors = 0;
    // IPS verdicts (EVE stats.ips): replay --ips, or live inline pairs.
    bool ips = false;
    uint64_t ips_accepted = 0;
    uint64_t ips_blocked = 0;
    uint64_t alerts = 0;
    uint64_t anomalies = 0;             // anomaly records written (stream / defrag evasion signals)
    uint64_t drops = 0;                 // drop records written (blocked alerts)
    uint64_t alerts_suppressed = 0;     // by threshold / suppress
    uint64_t alert_queue_overflow = 0;  // over packet-alert-max (Suricata's counter name)
    double seconds = 0;
    // Live capture: per port and per worker, and the watchdog's reports.
    std::vector<PortCounters> ports;
    std::vector<WorkerCounters> workers;
    uint64_t watchdog_stalls = 0;
    // The rule set inspecting now and its reloads (live `run`; EVE stats.detect.engines,
    // SIGUSR1, the summary).
    uint32_t ruleset_id = 0;
    uint64_t rules_loaded = 0;
    uint64_t rules_failed = 0;
    uint64_t reloads = 0;          // rule sets swapped in by SIGHUP
    uint64_t reload_failures = 0;  // reloads refused (the running set kept running)
    int64_t last_reload_sec = 0;   // wall clock of the last swap; 0: none
    int64_t max_switch_ns = 0;     // the longest a worker was held by a switch
    std::map<uint32_t, uint64_t> packets_by_ruleset;  // packets each rule set inspected
};

// A worker's own pipeline counters: what only the worker may read while it runs. Added into a
// SensorCounters when the workers have returned; live capture also publishes a copy about once
// a second (WorkerCtx) for the periodic EVE stats record.
struct PipelineCounters {
    dataplane::DecodeStats decode{};
    dataplane::FlowStats flows{};
    dataplane::StreamStats stream{};
    dataplane::DefragStats defrag{};
    dataplane::app::AppStats app{};
    uint64_t datagrams = 0;
    uint64_t dropped = 0;
    uint64_t dropped_flow = 0;

    void add_to(SensorCounters& c) const {
        c.decode += decode;
        c.flows += flows;
        c.stream += stream;
        c.defrag += defrag;
        c.app += app;
        c.datagrams += datagrams;
        c.dropped += dropped;
        c.dropped_flow += dropped_flow;
    }
};

}  // namespace vigil::sensor
