#pragma once
// The ingest: a ZeroMQ ROUTER the sensors' DEALERs connect to (DESIGN.md §4, common/wire.h).
// It accepts each sensor's records in seq order, commits them in batches (one transaction
// per batch, with the sensor's new committed seq) and only then acknowledges them, so a seq
// is stored exactly once across a crash of either side. With CURVE, a ZAP handler binds
// each sensor's public key to its sensor_id. Runs on a thread of its own.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/result.h"
#include "common/wire.h"
#include "mgmt/config.h"
#include "mgmt/ingest_stats.h"
#include "mgmt/store.h"

namespace vigil::mgmt {

struct IngestOptions {
    std::string listen;
    std::string curve_secret_key;                    // Z85; empty: no CURVE
    std::map<std::string, std::string> sensor_keys;  // Z85 public key → sensor_id
    uint32_t commit_ms = 50;
    uint32_t commit_batch = 16384;
    uint32_t retention_interval_s = 60;
};

// The options from the config: reads the CURVE keys (curve.secret-key-file, and
// curve.sensor-keys-dir/<sensor_id>.pub); errors name the file.
Result<IngestOptions> ingest_options(const MgmtConfig& cfg);

// The protocol without the sockets: takes one received message (the peer's routing id, the
// envelope frame, the body, the CURVE User-Id when CURVE is on), keeps the per-sensor seq
// state and the batch, commits, and says what to send back. The ingest thread drives it;
// tests and the fuzz target drive it directly.
class IngestCore {
public:
    struct Out {
        std::string rid;
        std::string envelope;
        std::string body;
    };
    IngestCore(Store& store, std::FILE* log, bool curve, uint32_t commit_batch);
    // Loads each sensor's committed seq from the store.
    Status load();
    // `frames` as received (the routing id first); `user_id` null without CURVE.
    void handle(const std::vector<std::string_view>& frames, const char* user_id,
                std::vector<Out>& out);
    // Commits the batch (when there is one) and queues the acknowledgements.
    void commit(std::vector<Out>& out);
    // Acknowledgements owed for duplicates, when nothing is left to commit.
    void send_acks(std::vector<Out>& out);
    bool batch_empty() const { return batch_.empty(); }
    int64_t batch_started_ns() const { return batch_started_; }
    size_t batch_events() const { return batch_.events.size(); }
    void count_reject(const std::string& reason);
    IngestSnapshot snapshot() const;
    // Control (mgmtd -> sensor): a request to every sensor with a session; returns whom it
    // went to, each with the request's id. Replies go to `on_reply` (set by the owner).
    std::vector<std::pair<std::string, uint64_t>> send_control(const wire::ControlRequest& req,
                                                               std::vector<Out>& out);
    std::function<void(uint64_t id, const std::string& sensor_id, wire::ControlReply)> on_reply;

private:
    struct SensorState {
        uint64_t committed = 0;  // in the store
        uint64_t accepted = 0;   // in the batch (committed <= accepted)
        std::string rid;         // the session's routing id ("" = none)
        bool ack_due = false;
        int64_t last_seen_ns = 0;  // its last message (heartbeats come every second)
    };
    void reply(std::vector<Out>& out, const std::string& rid, int type, const std::string& id,
               uint64_t seq, std::string body = "");
    void resync(std::vector<Out>& out, const std::string& rid, const std::string& id, uint64_t seq,
                const std::string& reason);
    void add_to_batch(const std::string& id);

    Store& store_;
    std::FILE* log_;
    bool curve_;
    uint32_t commit_batch_;
    std::map<std::string, SensorState> sensors_;
    std::map<std::string, std::string> sessions_;  // routing id -> sensor_id
    std::map<std::string, int64_t> last_resync_;   // routing id -> mono ns
    Batch batch_;
    std::set<std::string> in_batch_;
    int64_t batch_started_ = 0;
    uint64_t next_request_ = 0;
    mutable std::mutex mu_;
    IngestSnapshot snap_;
};

class Ingest {
public:
    // Binds the endpoint (errors: in use, bad address) and starts the thread.
    static Result<std::unique_ptr<Ingest>> start(const IngestOptions& o, Store& store,
                                                 std::FILE* log);
    ~Ingest();
    Ingest(const Ingest&) = delete;
    Ingest& operator=(const Ingest&) = delete;

    // Commits what was received, acknowledges it, closes the socket and joins the thread.
    void stop();
    IngestSnapshot snapshot() const;

    // A request to every sensor heard from in the last 5 s (sent by the ingest thread):
    // whom it went to, with each request's id. Empty when none is connected.
    std::vector<std::pair<std::string, uint64_t>> send_control(const wire::ControlRequest& req);
    // The reply to request `id`, waiting until `deadline` (nullopt: none came by then).
    std::optional<wire::ControlReply> wait_reply(uint64_t id,
                                                 std::chrono::steady_clock::time_point deadline);

private:
    struct Impl;
    explicit Ingest(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::mgmt
