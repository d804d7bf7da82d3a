#pragma once
// The wire format between vigil-sensor and vigil-mgmtd (DESIGN.md §4), the one contract the
// two processes share: neither includes the other's headers, both include this.
//
// Every ZeroMQ message is two frames (the ROUTER adds the peer's routing id in front):
//   frame 1, the envelope (binary, little-endian, 16 + id bytes):
//     "VGW1" | type u8 | flags u8 (0) | id_len u16 | seq u64 | sensor_id (id_len bytes)
//   frame 2, the body: the EVE JSON record unchanged (Record), or a small JSON object
//     (Hello, Gap, Heartbeat, Resync), or empty (Ack).
//
// sensor → mgmtd: Hello (on connect and to resynchronise; seq = the next seq it will assign),
//   Record (seq: 1, 2, 3 … per sensor, never reused), Gap (seq = the last seq of a range the
//   sensor no longer has, body {"from":A,"to":B,"reason":…}), Heartbeat (every second; seq =
//   the last seq assigned; body: Heartbeat below).
// mgmtd → sensor: Welcome (answer to Hello; seq = the highest contiguous seq committed for
//   this sensor), Ack (seq = the same, after each commit), Resync (seq: the sensor must
//   resend from seq + 1; body {"reason":…}).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace vigil::wire {

enum class MsgType : uint8_t {
    Hello = 1,
    Record = 2,
    Gap = 3,
    Heartbeat = 4,
    Welcome = 5,
    Ack = 6,
    Resync = 7,
    Control = 8,  // mgmtd -> sensor: a request (seq: its id), body ControlRequest
    Reply = 9,    // sensor -> mgmtd: the answer (seq: the request's id), body ControlReply
};
const char* msg_type_name(MsgType t);  // "hello", "record", … ; "unknown" otherwise

inline constexpr size_t kEnvelopeFixed = 16;
inline constexpr size_t kMaxSensorId = 64;
// A body larger than this is refused by mgmtd (and the sensor never sends one): an EVE
// record with a full packet and payload is well under it.
inline constexpr size_t kMaxBody = 1 << 20;

struct Envelope {
    MsgType type = MsgType::Record;
    uint64_t seq = 0;
    std::string sensor_id;
};

// A sensor id: 1–64 characters of [A-Za-z0-9._-] (it names files and metric labels).
bool valid_sensor_id(std::string_view id);

std::string encode_envelope(const Envelope& e);
// The reason when `frame` is not an envelope: "short frame", "bad magic", "unknown type 9",
// "flags set", "sensor id length 70", "bad sensor id".
Result<Envelope> decode_envelope(std::string_view frame);

// Heartbeat body: the sensor's counters snapshot, as mgmtd stores and serves it.
struct WorkerBeat {
    uint32_t id = 0;
    bool alive = true;  // no burst in its hands longer than the watchdog allows
    uint64_t packets = 0;
};

struct Heartbeat {
    std::string version;
    std::string mode;  // "run" | "replay"
    double uptime_s = 0;
    uint64_t rx_packets = 0;
    uint64_t rx_bytes = 0;
    uint64_t capture_drops = 0;  // lost before inspection (NIC queue, no buffer, kernel)
    uint64_t alerts = 0;
    uint64_t drops = 0;          // IPS drop records
    uint64_t blocks_active = 0;  // nftables set elements the sensor holds
    uint64_t blocks_added = 0;
    std::string enforcement;  // "off" | "ok" | "degraded: …"
    // The sensor's own tamper check of its nftables objects (DESIGN.md §5): how often it found
    // them missing or changed and re-created them, what it found the last time, and how many
    // blocks those repairs put back.
    uint64_t enforcement_repairs = 0;
    std::string enforcement_problem;
    uint64_t blocks_reapplied = 0;
    uint64_t ruleset_id = 0;
    uint64_t rules_loaded = 0;
    uint64_t rules_rejected = 0;
    std::string rules_version;  // the rule pack's manifest version ("" when not a pack)
    std::string rules_digest;   // sha256 of its manifest.yaml
    std::vector<WorkerBeat> workers;
    // The output path to mgmtd.
    uint64_t last_seq = 0;       // the last seq assigned
    uint64_t acked_seq = 0;      // the highest seq mgmtd acknowledged
    uint64_t spool_records = 0;  // in the spool, not yet acknowledged
    uint64_t spool_bytes = 0;
    uint64_t spool_dropped = 0;  // records the full spool dropped (never delivered)
};

std::string encode_heartbeat(const Heartbeat& h);
Result<Heartbeat> decode_heartbeat(std::string_view body);

// Gap body.
struct GapInfo {
    uint64_t from = 0;
    uint64_t to = 0;
    std::string reason;
};
std::string encode_gap(const GapInfo& g);
Result<GapInfo> decode_gap(std::string_view body);

// Hello body: what the sensor has (its oldest spooled seq; 0 when the spool is empty).
struct HelloInfo {
    std::string version;
    uint64_t oldest_seq = 0;
};
std::string encode_hello(const HelloInfo& h);
Result<HelloInfo> decode_hello(std::string_view body);

// Control body (mgmtd -> sensor). op "reload": load the configured rules again (mgmtd has
// just pointed them at pack `version`; the reply says which pack was loaded).
struct ControlRequest {
    std::string op;       // "reload"
    std::string version;  // the pack version mgmtd expects after a reload ("" = any)
};
std::string encode_control(const ControlRequest& c);
// The reason when the body is not a request this sensor knows ("unknown op 'x'").
Result<ControlRequest> decode_control(std::string_view body);

// Reply body (sensor -> mgmtd).
struct ControlReply {
    std::string op;
    bool ok = false;
    std::string error;  // why not, when !ok
    uint64_t ruleset_id = 0;
    uint64_t rules_loaded = 0;
    uint64_t rules_rejected = 0;
    std::string rules_version;
    std::string rules_digest;
    double seconds = 0;  // load, compile and switch
};
std::string encode_reply(const ControlReply& r);
Result<ControlReply> decode_reply(std::string_view body);

}  // namespace vigil::wire
