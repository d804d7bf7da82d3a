#pragma once
// The alert store behind an interface: SQLite (mgmt/sqlite_store.cc) is the embedded default;
// a PostgreSQL backend for fleets implements the same calls. The ingest thread is the only
// writer (commit); the API's threads read concurrently.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace vigil::mgmt {

// One EVE record as the ingest received it, with the fields the store indexes.
struct EventRow {
    std::string sensor_id;
    uint64_t seq = 0;
    int64_t ts_us = 0;       // EVE timestamp, µs since the epoch (0 when absent)
    std::string event_type;  // alert | anomaly | drop | stats | …
    uint32_t gid = 0;        // alerts and drops: the rule
    uint32_t sid = 0;
    std::string src_ip, dest_ip;
    uint16_t src_port = 0, dest_port = 0;
    std::string proto;   // as EVE: TCP, UDP, ICMP, …
    std::string action;  // allowed | blocked (alerts)
    std::string eve;     // the record, unchanged
};

// Fills the indexed fields from `eve`; the error says what is wrong with the record
// (not JSON, not an object, no event_type, a field of the wrong type).
Result<EventRow> parse_event(const std::string& sensor_id, uint64_t seq, std::string eve);

struct GapRow {
    std::string sensor_id;
    uint64_t from = 0, to = 0;
    std::string reason;
};

struct HeartbeatRow {
    std::string sensor_id;
    std::string body;  // wire::Heartbeat JSON
    std::string version;
    int64_t received_us = 0;
};

// One transaction's worth of ingest: events, gaps, heartbeats and the new committed seq of
// each sensor, all committed together (so a seq is stored exactly once).
struct Batch {
    std::vector<EventRow> events;
    std::vector<GapRow> gaps;
    std::vector<HeartbeatRow> heartbeats;
    std::vector<std::pair<std::string, uint64_t>> committed;  // sensor_id → highest contiguous seq
    bool empty() const { return events.empty() && gaps.empty() && heartbeats.empty(); }
};

struct SensorRow {
    std::string sensor_id;
    int64_t first_seen_us = 0;
    int64_t last_heartbeat_us = 0;  // 0: none yet
    std::string version;
    uint64_t committed_seq = 0;
    uint64_t events = 0;       // records stored
    uint64_t gap_records = 0;  // seqs the sensor reported lost (spool full)
    std::string heartbeat;     // the last heartbeat body (JSON), "" when none
};

// GET /api/v1/alerts filters; empty / absent = any.
struct EventQuery {
    std::optional<int64_t> since_us, until_us;  // EVE timestamp range, inclusive
    std::string sensor;
    std::optional<uint32_t> sid;
    std::string src_ip, dest_ip;
    std::string proto;   // matched case-insensitively (tcp = TCP)
    std::string action;  // allowed | blocked
    std::string event_type = "alert";
    // Paging by store id: newest first, ids below `before_id` (0: from the newest); or, with
    // `ascending`, oldest first, ids above `after_id`.
    bool ascending = false;
    int64_t before_id = 0;
    int64_t after_id = 0;
    uint32_t limit = 100;
};

struct StoredEvent {
    int64_t id = 0;
    std::string sensor_id;
    uint64_t seq = 0;
    std::string eve;
};

struct QueryPage {
    std::vector<StoredEvent> items;
    bool more = false;  // another page exists past the last item
};

struct StoreStats {
    uint64_t events = 0;
    uint64_t alerts = 0;
    uint64_t bytes = 0;       // database file(s) on disk
    uint64_t used_bytes = 0;  // pages in use
    uint64_t deleted_by_retention = 0;
    int64_t oldest_us = 0, newest_us = 0;
};

class Store {
public:
    virtual ~Store() = default;

    // Ingest (one thread).
    virtual Status commit(const Batch& b) = 0;
    // Committed seq per sensor, as the store has it (the ingest's state after a restart).
    virtual Result<std::vector<std::pair<std::string, uint64_t>>> committed_seqs() = 0;
    // Deletes records older than the retention age and, past the size limit, the oldest.
    virtual Status apply_retention(int64_t now_us) = 0;
    // Whether the store can still take writes (for health checks and /api/v1/status).
    virtual Status check_writable() = 0;

    // Readers (any thread).
    virtual Result<QueryPage> query(const EventQuery& q) = 0;
    virtual Result<std::optional<StoredEvent>> get(int64_t id) = 0;
    virtual Result<std::vector<SensorRow>> sensors() = 0;
    virtual Result<StoreStats> stats() = 0;
    // Alerts stored per sensor (for /metrics).
    virtual Result<std::vector<std::pair<std::string, uint64_t>>> alerts_per_sensor() = 0;
};

struct StoreOptions {
    std::string path;
    uint32_t retention_days = 90;
    uint64_t max_bytes = 0;  // 0: no size limit
    bool read_only = false;  // readers only (vigilctl, tools)
};

Result<std::unique_ptr<Store>> open_sqlite_store(const StoreOptions& o);

}  // namespace vigil::mgmt
