#pragma once
// What the ingest (mgmt/ingest.h) counted: /api/v1/status and /metrics read a snapshot.

#include <cstdint>
#include <map>
#include <string>

namespace vigil::mgmt {

struct IngestSnapshot {
    std::string listen;  // the ZeroMQ endpoint
    bool curve = false;
    uint64_t messages = 0;    // frames sets received
    uint64_t stored = 0;      // records committed
    uint64_t duplicates = 0;  // seq already committed (resent after a reconnect): not stored again
    uint64_t heartbeats = 0;
    uint64_t gaps = 0;  // gap notices (records a sensor's full spool dropped)
    uint64_t gap_records = 0;
    uint64_t commits = 0;
    uint64_t commit_errors = 0;  // the store refused a batch (disk full, …): not acknowledged
    std::map<std::string, uint64_t> rejected;  // reason → messages refused
    uint64_t sessions = 0;                     // sensors connected now
    double last_commit_ms = 0;
    // Each sensor's latest heartbeat as received (wall-clock us, body), kept in memory so that
    // the health checks see the sensors even while the store cannot take writes.
    std::map<std::string, std::pair<int64_t, std::string>> heartbeats_by_sensor;
};

}  // namespace vigil::mgmt
