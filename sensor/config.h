#pragma once
// The sensor configuration file (/etc/vigil/sensor.yaml, DESIGN.md §8). Unknown keys are an
// error that names them, so a typo never silently falls back to a default.

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "rules/dataset.h"
#include "sensor/enforcer.h"
#include "sensor/worker.h"

namespace vigil::sensor {

struct SensorConfig {
    std::string path;  // where it was loaded from
    std::string sensor_id = "vigil";
    // capture
    std::string capture_method = "dpdk";
    std::vector<std::string> eal;
    std::vector<std::string> ports;
    std::vector<std::vector<std::string>> inline_pairs;
    uint32_t workers = 1;
    uint32_t exit_on_idle_ms = 0;
    bool has_capture = false;              // the file has a capture section
    int capture_line = 0;                  // its line (for errors found later)
    uint16_t rx_descriptors = 1024;        // per RX queue (DPDK)
    uint16_t tx_descriptors = 1024;        // per TX queue (DPDK)
    std::string rss_hash = "ip";           // ip (IP pair: fragments stay with their flow) | ip-port
    std::string overload_policy = "none";  // none | drop | pass (when a worker falls behind)
    double overload_watermark = 0.9;       // RX queue fill that counts as behind
    uint32_t overload_bursts = 64;         // or, where the fill is unknown, full bursts in a row
    uint32_t idle_sleep_us = 50;           // sleep when a worker's queues are empty (0: busy-poll)
    uint32_t watchdog_ms = 2000;  // a burst in a worker's hands longer than this is reported
    uint32_t snaplen = 65535;     // pcap method
    bool promiscuous = true;
    // detection
    std::vector<std::string> rules;
    std::string vars;  // "" = Suricata defaults
    // A rejected rule stops replay and run (Suricata's engine.init-failure-fatal); off: the
    // rest load and the rejections are reported. A load with no rule at all always stops.
    bool init_failure_fatal = false;
    // engine.rules-cache: directory of serialized Hyperscan databases (empty: no cache).
    std::string rules_cache;
    // outputs
    std::string eve_path = "/var/log/vigil/eve.json";
    // outputs.eve.stats-interval-s: `run` writes a stats record this often (0: at the end only).
    uint32_t stats_interval_s = 0;
    // ZeroMQ to vigil-mgmtd: on when the endpoint is set (DESIGN.md §4).
    std::string zmq_endpoint;
    int zmq_line = 0;
    std::string zmq_spool = "/var/lib/vigil/spool";
    uint32_t zmq_spool_max_mb = 1024;
    std::string zmq_spool_full = "drop-oldest";  // drop-oldest | drop-newest
    uint32_t zmq_drain_timeout_s = 30;           // replay: wait this long for mgmtd's acks
    std::string zmq_curve_secret_key_file;       // the sensor's CURVE secret key (Z85)
    std::string zmq_curve_server_key_file;       // mgmtd's CURVE public key (Z85)
    // ips
    bool ips_enabled = false;
    std::string nft_table = "vigil";
    uint32_t block_timeout_s = 3600;
    std::vector<std::string> allowlist;
    bool nft_enabled = true;            // with ips.enabled: block drop-verdict sources in nftables
    uint32_t nft_batch_ms = 1;          // longest wait before pending blocks are sent
    uint32_t nft_max_elements = 65536;  // active blocks at most; more are refused (counted)
    bool nft_keep_on_exit = true;       // leave the table and its blocks when the sensor stops
    uint32_t nft_check_ms = 1000;       // tamper check interval
    // flows
    uint32_t flow_capacity = 65536;
    // detection (top-level packet-alert-max and action-order, as in suricata.yaml; replay --set)
    uint32_t packet_alert_max = 15;         // alerts written per packet at most (Suricata's 15)
    std::vector<std::string> action_order;  // empty: Suricata's pass, drop, reject, alert
    std::string threshold_file;             // replay --set threshold-file: replaces the vars'
    // datasets (suricata.yaml's datasets: section; the data directory for save / state files)
    rules::DatasetConfig datasets{};
    // defrag, stream, app-layer, host-os-policy (pipeline.flows.capacity = flow_capacity)
    PipelineConfig pipeline{};
};

// Every relative path in the file is resolved against the file's directory, whatever the
// working directory: rules, vars, outputs.eve.path, outputs.zmq.spool, and the file paths in
// capture.eal (--vdev rx_pcap=/tx_pcap=, -d, --huge-dir).
Result<SensorConfig> load_sensor_config(const std::string& path);

// The ips.nft section as the enforcer takes it.
EnforcerConfig enforcer_config(const SensorConfig& cfg);

// What `run` needs beyond a well-formed file (replay ignores the capture section): ports to
// capture from, rules. Errors name the file and key.
Status validate_for_run(const SensorConfig& cfg);

}  // namespace vigil::sensor
