#pragma once
// Health controls (DESIGN.md §7): vigil-mgmtd watches the sensor as a security control. This
// first control is "sensor alive": mgmtd supervises each configured sensor (starts it, sees it
// exit, restarts it: `supervise: {command: [...]}`, or `systemctl restart UNIT` for
// `supervise: {systemd-unit: ...}`) and watches its heartbeats. A failure opens an incident
// (what failed, when, the cause found, the restore action and when the control worked again,
// what happened during the gap, the mitigation: an enhanced-monitoring window with a shorter
// check interval). Incidents live in their own SQLite file and survive a restart of mgmtd.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

struct sqlite3;

namespace vigil::mgmt {

class Store;
class PackStore;
struct IngestSnapshot;

// One incident (vigilctl incidents --json: these fields, DESIGN.md §7).
struct Incident {
    uint64_t id = 0;
    std::string control;  // "sensor-alive:edge-01"
    std::string owner;    // the named responsible (sensors.<id>.owner)
    int64_t detected_at_us = 0;
    std::string cause;           // "sensor exited on signal 9 (SIGKILL)"
    std::string restore_action;  // what mgmtd did, each attempt on its own line
    int64_t restored_at_us = 0;  // 0: still open
    std::string gap;             // JSON object: what happened while the control was down
    std::string mitigation;
    int64_t enhanced_until_us = 0;
    std::string notified;  // JSON array of delivery attempts ([] until notifications exist)
    uint32_t restore_attempts = 0;
    bool escalated = false;  // restores failed repeatedly: a person must look
    // Acknowledged by a person (vigilctl incident ack): who, when, their note, and the API
    // token that did it.
    std::string acked_by;
    int64_t acked_at_us = 0;
    std::string ack_note;
    std::string acked_token;
};

// The incident file: one table, one writer (the health thread) and readers (the API).
class IncidentLog {
public:
    static Result<std::unique_ptr<IncidentLog>> open(const std::string& path);
    ~IncidentLog();
    IncidentLog(const IncidentLog&) = delete;
    IncidentLog& operator=(const IncidentLog&) = delete;

    Result<uint64_t> add(const Incident& i);  // sets nothing in `i`; returns the new id
    Status update(const Incident& i);         // by id
    Result<std::vector<Incident>> list(size_t limit) const;  // newest first
    Result<std::optional<Incident>> get(uint64_t id) const;
    Result<std::vector<Incident>> open_incidents() const;  // restored_at = 0, oldest first
    // Records who acknowledged incident `id` (a later ack replaces an earlier one); the
    // incident as stored after it, or none when there is no such incident.
    Result<std::optional<Incident>> acknowledge(uint64_t id, const std::string& by,
                                                const std::string& note, const std::string& token,
                                                int64_t at_us);

    // Drills (vigilctl drill): each result a JSON object, kept for the periodic review.
    Result<uint64_t> add_drill(int64_t at_us, const std::string& body_json);
    Status update_drill(uint64_t id, const std::string& body_json);
    Result<std::vector<std::string>> drills(size_t limit) const;  // newest first

private:
    explicit IncidentLog(sqlite3* db) : db_(db) {}
    // SELECT of every column, then `where` (may hold ?1, bound to `arg`).
    Result<std::vector<Incident>> select(const std::string& where, int64_t arg) const;
    sqlite3* db_ = nullptr;
};

// A sensor mgmtd supervises (mgmtd.yaml sensors.<id>).
struct SupervisedSensor {
    std::string id;
    std::string owner;
    std::vector<std::string> command;  // started and restarted by mgmtd itself
    std::string systemd_unit;          // or restarted with `systemctl restart UNIT`
    std::string log_path;              // the command's stdout and stderr (appended)
};

struct HealthOptions {
    std::vector<SupervisedSensor> sensors;
    double interval_s = 1;             // check interval
    double enhanced_interval_s = 0.2;  // during an enhanced-monitoring window
    double enhanced_for_s = 3600;
    double heartbeat_timeout_s = 5;  // no heartbeat for this long: hung (sensors beat every 1 s)
    double start_grace_s = 60;       // after a start: time to load rules before the first beat
    double drill_detect_objective_s = 5;
    double drill_restore_objective_s = 30;
    std::string incidents_path;
    Store* store = nullptr;  // heartbeats (SensorRow::last_heartbeat_us and the body)
    std::string store_path;  // the store's file: its folder's disk is checked
    // Present while mgmtd runs (touched every second, removed at a clean stop): found at start,
    // the last mgmtd ended without one (crash, kill -9, the systemd watchdog): an incident of
    // the watchdog control. Default: mgmtd.alive beside the store.
    std::string alive_marker;
    std::string owner = "unassigned";  // owner of mgmtd's own controls (store, file integrity)
    double capture_max_drop_ratio = 0.01;
    uint64_t capture_min_packets = 1000;
    uint64_t alert_max_backlog = 100000;
    uint64_t store_min_free_mb = 64;
    std::vector<std::string> integrity_paths;
    std::string integrity_baseline;
    double integrity_scan_s = 60;
    PackStore* packs = nullptr;  // detection loaded: what mgmtd activated; pack file integrity
    // Asks the sensors to reload (the detection-loaded restore); does not wait for the answer.
    std::function<void(const std::string& version)> reload_sensors;
    // True while `vigilctl rules activate` waits for the sensors (detection is not judged then).
    std::function<bool()> activation_in_flight;
    // The ingest's counters (commit errors: the store control).
    std::function<IngestSnapshot()> ingest;
    std::FILE* log = nullptr;
    // Called (on the health thread) when an incident opens ("incident.opened") or its control
    // works again ("incident.restored"); returns what to record in Incident::notified.
    std::function<void(const Incident&, const std::string& kind)> notify;
};

// A contingency drill (vigilctl drill): the sensor is stopped hard, and mgmtd measures how
// long detection and restoration took against the objectives and whether an alert was lost.
struct DrillOptions {
    std::string sensor;               // "" = the only supervised sensor
    std::string by;                   // who started it (the API token's name)
    double detect_objective_s = 5;    // health.drill.detect-objective-s
    double restore_objective_s = 30;  // health.drill.restore-objective-s
    double timeout_s = 120;           // give up waiting after this long
};

// What `vigilctl controls` shows for one control.
struct ControlState {
    std::string name;  // "sensor-alive:edge-01"
    std::string sensor;
    std::string owner;
    std::string state;   // "ok" | "failed" | "restoring" | "starting"
    std::string detail;  // "pid 4242, last heartbeat 0.4 s ago", the cause when failed
    double interval_s = 0;
    int64_t enhanced_until_us = 0;
    uint64_t open_incident = 0;
    int64_t last_check_us = 0;
    int64_t pid = 0;      // the supervised process (0: none or systemd)
    std::string kind;     // "sensor-alive", "capture", "detection", "enforcement", "alert-path",
                          // "store", "file-integrity", "watchdog"
    uint64_t checks = 0;  // since mgmtd started
    uint64_t failed_checks = 0;
    int64_t since_us = 0;  // mgmtd started watching it
};

class Health {
public:
    // Opens the incident log, starts every supervised sensor and the check thread.
    static Result<std::unique_ptr<Health>> start(HealthOptions opts);
    ~Health();  // stop()
    // Stops the checks, then the supervised sensors (SIGTERM, SIGKILL after 10 s).
    void stop();
    std::vector<ControlState> controls() const;
    const IncidentLog& incidents() const;
    IncidentLog& incidents();
    // file-integrity: takes the files as they are now as the new baseline (after a wanted
    // change: an upgrade, an edited config). Returns how many files the baseline holds.
    Result<size_t> accept_integrity_baseline();
    // Runs a drill to its end (blocking, up to opts.timeout_s) and records it; returns the
    // result as a JSON object. BadInput: no such sensor, or it cannot be stopped by mgmtd;
    // Busy: the control is not ok now or another drill runs.
    Result<std::string> drill(const DrillOptions& opts);

    struct Impl;

private:
    explicit Health(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// The incident as the API, vigilctl and the notifications show it: a JSON object (times ISO 8601
// UTC with microseconds, null when unset; gap an object). `notified`: the delivery attempts, a
// JSON array (Notifier::deliveries), "[]" when none.
std::string incident_json(const Incident& i, const std::string& notified = "[]");

// "sensor exited on signal 9 (SIGKILL)" / "sensor exited with status 2" from waitpid's status.
std::string describe_exit(int wait_status);

}  // namespace vigil::mgmt
