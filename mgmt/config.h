#pragma once
// vigil-mgmtd's configuration (/etc/vigil/mgmtd.yaml, DESIGN.md §8). Every path is
// configurable and relative paths resolve against the file's folder; an unknown key is an
// error naming the file, its line and the key.

#include <cstdint>
#include <string>
#include <vector>

#include "common/endpoint.h"  // host_is_loopback, endpoint_is_local
#include "common/result.h"
#include "mgmt/classification.h"

namespace vigil::mgmt {

// sensors.<id> (DESIGN.md §7): the named responsible and how mgmtd restarts the sensor.
struct SensorEntry {
    std::string id;
    std::string owner;                 // required: the policy names a responsible per control
    std::vector<std::string> command;  // supervise.command: mgmtd starts and restarts it
    std::string systemd_unit;          // supervise.systemd-unit: `systemctl restart UNIT`
    std::string log;                   // supervise.log: the command's output (default beside
                                       // the store: sensor-<id>.log)
};

struct MgmtConfig {
    std::string path;  // where it was loaded from ("" = defaults)
    // ZeroMQ ROUTER the sensors connect to. tcp:// needs curve (refused otherwise, unless the
    // address is loopback).
    std::string listen = "ipc:///run/vigil/mgmt.sock";
    std::string curve_secret_key_file;  // mgmtd's CURVE secret key (Z85, from `vigilctl keys gen`)
    std::string curve_sensor_keys_dir;  // <sensor_id>.pub: the public key each sensor must use
    // store
    std::string store_backend = "sqlite";
    std::string store_path = "/var/lib/vigil/mgmt.db";
    uint32_t retention_days = 90;   // 0: keep forever
    uint64_t max_mb = 10240;        // 0: no size limit
    uint32_t commit_ms = 50;        // longest wait before received records are committed
    uint32_t commit_batch = 16384;  // or this many records, whichever comes first
    // HTTP API
    std::string api_listen = "127.0.0.1:8440";  // host:port; anything but loopback needs tls
    std::string api_tls_cert;
    std::string api_tls_key;
    std::string api_tokens = "/var/lib/vigil/tokens.db";
    uint64_t api_max_body = 64 * 1024;  // larger requests: 413
    // rule packs (docs/rule-packs.md): stored under dir/<version>, dir/active the one in use
    // default: rulepacks/ beside the store (/var/lib/vigil/rulepacks)
    std::string rulepacks_dir = "/var/lib/vigil/rulepacks";
    std::string rulepacks_trusted_keys;  // FILE of signing.pub lines, or DIR of *.pub; "" = none
    uint64_t rulepacks_max_upload = 256ull << 20;  // POST /api/v1/rulepacks body, bytes
    uint32_t rulepacks_reload_timeout_s = 300;     // how long activate waits for the sensors
    // A pack archive stored and activated at start when no pack was ever activated (the
    // package's starter pack); "" = none.
    std::string rulepacks_initial;
    // health controls (mgmt/health.h)
    std::vector<SensorEntry> sensors;
    double health_interval_s = 1;
    double health_enhanced_interval_s = 0.2;
    double health_enhanced_for_s = 3600;
    double health_heartbeat_timeout_s = 5;
    double health_start_grace_s = 60;
    std::string health_incidents;                 // default: incidents.db beside the store
    std::string health_owner = "unassigned";      // owner of mgmtd's own controls (store, files)
    double health_capture_max_drop_ratio = 0.01;  // capture: more lost than this fails
    uint64_t health_capture_min_packets = 1000;   // judged once this many packets were seen
    uint64_t health_alert_max_backlog = 100000;   // alert path: records waiting in a spool
    uint64_t health_store_min_free_mb = 64;       // store: free disk below this fails
    std::vector<std::string> health_integrity_paths;  // file-integrity: files and folders
    std::string health_integrity_baseline;  // default: integrity-baseline.json beside the store
    double health_integrity_scan_s = 60;    // full rescan; inotify triggers one in between
    double health_drill_detect_objective_s = 5;    // vigilctl drill: time to detection
    double health_drill_restore_objective_s = 30;  // and to restoration
    // notifications of incidents (mgmt/notify.h)
    std::string notify_webhook_url;          // https://... (http:// only to loopback)
    std::string notify_webhook_secret_file;  // the HMAC key (required with a url)
    std::string notify_webhook_ca_file;
    std::string notify_syslog_address;  // udp://HOST:PORT (loopback)
    std::string notify_outbox;          // default: notify-outbox.db beside the store
    // the audit log of operator and admin actions (mgmt/audit.h); default: audit.log beside
    // the store
    std::string audit_log;
    // data classification (mgmt/classification.h)
    Classification classification;
};

Result<MgmtConfig> load_mgmt_config(const std::string& path);

// "HOST:PORT" of the API, split; the error names the key.
struct HostPort {
    std::string host;
    uint16_t port = 0;
};
Result<HostPort> parse_host_port(const std::string& s);

}  // namespace vigil::mgmt
