#pragma once
// The sensor's link to vigil-mgmtd (DESIGN.md §4, common/wire.h): a DEALER on a thread of
// its own sends the spool's records in seq order (a window of them in flight), takes mgmtd's
// acknowledgements (which free the spool), resends after a reconnect or a restart of either
// side, reports records a full spool lost as a gap, and sends a heartbeat every second. The
// workers never wait on it: the control thread only appends to the spool (ZmqSink).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/result.h"
#include "common/wire.h"
#include "sensor/alert_sink.h"
#include "sensor/spool.h"

namespace vigil::sensor {

struct ZmqOptions {
    std::string endpoint;
    std::string sensor_id;
    std::string version;
    std::string mode = "run";  // heartbeats: "run" | "replay"
    // CURVE (tcp:// off this host): the sensor's secret key and mgmtd's public key, Z85.
    std::string curve_secret_key;
    std::string curve_server_key;
    // Records in flight before an ack: more than mgmtd's commit batch (store.commit-batch,
    // 16384), so a commit is not held back waiting for a sender that has stopped.
    uint32_t window = 32768;
    uint32_t heartbeat_ms = 1000;
    uint32_t ack_timeout_ms = 5000;  // in flight and no ack this long: say hello again
};

// Refuses what must not start: a bad endpoint, plaintext tcp:// to a non-loopback address.
Status check_zmq_endpoint(const std::string& endpoint, bool curve);

struct ZmqStats {
    bool connected = false;  // welcomed by mgmtd, and heard from within the ack timeout
    uint64_t acked_seq = 0;
    uint64_t sent = 0;      // record sends (resends included)
    uint64_t resent = 0;    // sends of a seq sent before
    uint64_t welcomes = 0;  // sessions mgmtd opened (reconnects + 1)
    uint64_t resyncs = 0;
    uint64_t gaps_sent = 0;
    uint64_t heartbeats = 0;
    // Ack latency (from a record's first send to its acknowledgement), µs.
    uint64_t ack_p50_us = 0, ack_p99_us = 0, ack_samples = 0;
};

class ZmqOutput {
public:
    static Result<std::unique_ptr<ZmqOutput>> start(const ZmqOptions& o, Spool& spool,
                                                    std::FILE* log);
    ~ZmqOutput();
    ZmqOutput(const ZmqOutput&) = delete;
    ZmqOutput& operator=(const ZmqOutput&) = delete;

    // The counters for the next heartbeats (the transport adds the spool's own fields).
    void set_heartbeat(const wire::Heartbeat& h);
    // Waits until mgmtd has acknowledged every record appended so far, or `timeout`; true
    // when all were.
    bool wait_drained(std::chrono::milliseconds timeout);
    void stop();
    ZmqStats stats() const;
    // Heartbeat fields the transport owns (spool and seq), filled into `h`.
    void fill_spool_fields(wire::Heartbeat& h) const;
    // mgmtd's requests received since the last call (the control loop acts on them), each
    // with its id, and the answer to one, sent by the transport's thread.
    struct Request {
        uint64_t id = 0;
        wire::ControlRequest req;
    };
    std::vector<Request> take_requests();
    void reply(uint64_t id, const wire::ControlReply& r);

private:
    struct Impl;
    explicit ZmqOutput(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

struct SensorConfig;

// The link to vigil-mgmtd as outputs.zmq configures it: the spool (opened, recovered) and the
// transport (started). Errors name the key and the file.
struct MgmtLink {
    std::unique_ptr<Spool> spool;
    std::unique_ptr<ZmqOutput> out;
};
Result<MgmtLink> open_mgmt_link(const SensorConfig& cfg, const std::string& sensor_id,
                                const std::string& mode, const std::string& version,
                                std::FILE* log);
// After a run: waits for mgmtd's acknowledgements (up to `timeout`), stops the transport and
// says on `log` how it ended ("mgmtd: 52 records acknowledged" or what stays in the spool).
// True when everything was acknowledged.
bool drain_mgmt_link(MgmtLink& link, std::chrono::milliseconds timeout, std::FILE* log);

// The AlertSink in front of the spool: every EVE record written gets a seq and waits there
// for mgmtd. Runs on the output (control) thread; never blocks on the network.
class ZmqSink final : public AlertSink {
public:
    explicit ZmqSink(Spool& spool) : spool_(spool) {}
    void write(RecordType, std::string_view json) override { spool_.append(json); }
    void flush() override { spool_.sync(); }
    Status close() override {
        spool_.sync();
        return Ok{};
    }

private:
    Spool& spool_;
};

}  // namespace vigil::sensor
