#pragma once
// The HTTP API of vigil-mgmtd (cpp-httplib): /api/v1/status, /api/v1/sensors, /api/v1/alerts,
// /api/v1/alerts/{id}, /api/v1/tokens, /metrics. Bearer tokens with roles viewer < operator <
// admin. 127.0.0.1 by default; anything but loopback requires TLS.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "common/clock.h"  // iso8601_utc, the API's time format
#include "common/result.h"
#include "common/wire.h"
#include "mgmt/config.h"
#include "mgmt/ingest_stats.h"
#include "mgmt/store.h"

namespace vigil::mgmt {

class PackStore;
class Health;

// One sensor's answer to a reload order (answered false: none within the timeout).
struct SensorReload {
    std::string sensor_id;
    bool answered = false;
    wire::ControlReply reply;
};

struct ApiContext {
    const MgmtConfig* config = nullptr;
    Store* store = nullptr;
    std::function<IngestSnapshot()> ingest;  // thread-safe snapshot of the ingest's counters
    PackStore* packs = nullptr;              // rule packs
    Health* health = nullptr;                // controls and incidents (null: none)
    // An incident's notification attempts, a JSON array ("[]" without notifications).
    std::function<std::string(uint64_t incident_id)> deliveries;
    // Orders every connected sensor to reload (expecting pack `version`), waits for them.
    std::function<std::vector<SensorReload>(const std::string& version)> reload_sensors;
    std::string version;
    int64_t started_us = 0;
};

class ApiServer {
public:
    // Binds (errors: address in use, TLS files unreadable, non-loopback without TLS) and
    // serves on its own threads until stop().
    static Result<std::unique_ptr<ApiServer>> start(const ApiContext& ctx);
    virtual ~ApiServer() = default;
    virtual void stop() = 0;
    virtual uint16_t port() const = 0;  // the bound port (listen on port 0: an ephemeral one)
};

// The query of GET /api/v1/alerts (decoded parameters, as cpp-httplib's Request::params) as an
// EventQuery. Parameters: since, until, sensor, sid, src, dst, proto, action, type, limit,
// order, cursor (docs/operator-guide.md, "HTTP API"). The error (BadInput) names the parameter
// and says what is wrong: unknown, given twice, empty, or a bad value; a cursor that does not
// decode or was made for the other order.
Result<EventQuery> parse_alert_query(const std::multimap<std::string, std::string>& params);

// The parameters of a query string (the part after '?'), percent-decoded ('+' is a space).
// Unlike cpp-httplib's own parsing, a repeated "k=v" pair stays repeated (so it is refused),
// and a request body is never read as parameters.
std::multimap<std::string, std::string> parse_query_string(std::string_view query);

// The opaque paging cursor of GET /api/v1/alerts: a page in `ascending` order continues past
// store id `id`. The API returns it as next_cursor; vigilctl --follow makes one to start
// polling from the newest id it has seen.
std::string encode_alert_cursor(bool ascending, int64_t id);

// A time as the API takes it (since, until): ISO 8601 with a zone (EVE's
// 2024-01-01T00:00:00.000000+0000, 2024-01-01T00:00:00Z, +01:00; a space for the T, or for the
// + as an unencoded query string gives it), a date alone (UTC midnight), or epoch seconds
// (with an optional fraction). Returns µs since the epoch.
Result<int64_t> parse_api_time(std::string_view s);

}  // namespace vigil::mgmt
