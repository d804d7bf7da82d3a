#pragma once
// The customer's notification of incidents (DESIGN.md §7, `notify:` in mgmtd.yaml): a durable
// SQLite outbox, a signed webhook retried until it is delivered, and an RFC 5424 syslog line.

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

namespace vigil::mgmt {

struct NotifyOptions {
    // "https://HOST[:PORT][/PATH]" ("" = no webhook; no path means "/"). Plaintext http:// only
    // to a loopback HOST (a local relay), like every other plaintext endpoint of mgmtd.
    std::string webhook_url;
    // The HMAC-SHA256 key signing each body (the bytes of notify.webhook.secret-file, read by
    // the caller); at least 16 bytes when there is a webhook.
    std::string webhook_secret;
    // A PEM file of CA certificates verifying an https receiver ("" = the system's store).
    std::string webhook_ca_file;
    // "udp://HOST:PORT" ("" = no syslog). HOST must be loopback: syslog over UDP is
    // plaintext, so a remote collector is reached through the local syslog daemon.
    std::string syslog_address;
    // The syslog facility code: 16 = local0 (default), 4 = auth, 10 = authpriv.
    int syslog_facility = 16;
    // HOSTNAME in the syslog line ("" = gethostname()).
    std::string syslog_hostname;
    // The outbox, an SQLite file created 0600 when missing (bodies describe incidents).
    std::string outbox_path;
    // One webhook POST: connect, send and read each bounded by this.
    double timeout_s = 5;
    // Retry wait after a failed POST: initial, doubled per failure of the same message, capped.
    double backoff_initial_s = 0.5;
    double backoff_max_s = 60;
    // Where the sender says that delivery failed and when it works again (nullptr = quiet).
    std::FILE* log = nullptr;
};

// A message's state at one sink. A webhook message is Pending until a 2xx (never dropped);
// a syslog line is sent once (UDP has no answer): Delivered when sendto took it, else Failed.
// Off: the sink was not configured when the message was enqueued.
enum class SinkState { Off, Pending, Delivered, Failed };
const char* sink_state_name(SinkState s);  // "off" | "pending" | "delivered" | "failed"

struct DeliveryAttempt {
    std::string sink;     // "webhook" | "syslog"
    int64_t at_us = 0;    // wall clock
    std::string outcome;  // "HTTP 200", "HTTP 503", "connection refused", "timed out", ...
    bool delivered = false;
};

// One enqueued message with its attempts, for the incident's `notified`.
struct Delivery {
    uint64_t outbox_id = 0;
    std::string delivery_id;  // X-Vigil-Delivery
    std::string kind;         // "incident.opened", ...
    int64_t created_us = 0;
    SinkState webhook = SinkState::Off;
    int64_t webhook_delivered_us = 0;
    SinkState syslog = SinkState::Off;
    std::vector<DeliveryAttempt> attempts;  // oldest first
};

struct NotifyStats {
    uint64_t webhook_pending = 0;
    uint64_t webhook_delivered = 0;
    uint64_t webhook_failed_attempts = 0;
    uint64_t syslog_sent = 0;
    uint64_t syslog_failed = 0;
};

// A checked webhook URL.
struct WebhookUrl {
    bool tls = true;
    std::string host;  // as written (an IPv6 address keeps its brackets)
    int port = 443;
    std::string path;  // starts with '/'
};
// Refusals say why: scheme, host, port, userinfo, fragment, plaintext off loopback.
Result<WebhookUrl> parse_webhook_url(const std::string& url);

// Sends the outbox's messages from its own thread, in enqueue order.
//
// Webhook: POST PATH with the body as given and the headers Content-Type: application/json,
// X-Vigil-Event: KIND, X-Vigil-Delivery: ID (`<outbox key>-<outbox id>`: the outbox key is
// 16 random hex digits made with the file, so a recreated outbox never repeats an id) and
// X-Vigil-Signature: sha256=HEX (lowercase HMAC-SHA256 of the body with the secret). The
// oldest pending message goes first and later ones wait behind it: the receiver sees the
// incidents in order. A failure (no connection, a timeout, any non-2xx answer) is recorded and
// retried after the backoff. Delivery is at least once: a POST whose 2xx arrives just as the
// process dies is sent again, with the same delivery id, after the next open.
//
// Syslog: `<PRI>1 TIMESTAMP HOSTNAME vigil-mgmtd - KIND - JSON` (RFC 5424; the JSON, with any
// raw CR/LF turned into spaces, as MSG-ANY), severity from KIND: *.opened err, *.restored
// notice, anything else warning.
//
// Thread-safe: enqueue, deliveries and stats may be called from any thread.
class Notifier {
public:
    // Opens (creating) the outbox and starts the sender; messages left pending by the last
    // process are sent at once. Errors: BadInput for the options, Io for the outbox.
    static Result<std::unique_ptr<Notifier>> open(const NotifyOptions& opts);
    // Stops the sender without waiting for a pending retry (a POST in flight is aborted).
    ~Notifier();
    Notifier(const Notifier&) = delete;
    Notifier& operator=(const Notifier&) = delete;

    // Stores the message (committed, synchronous=FULL, before it returns) and wakes the
    // sender; returns its outbox id. Errors: BadInput when KIND is not 1-32 characters of
    // [A-Za-z0-9._-] or the body is not JSON; Io when the outbox cannot be written.
    Result<uint64_t> enqueue(uint64_t incident_id, const std::string& kind,
                             const std::string& json_body);
    // Every message enqueued for the incident, oldest first, with its attempts.
    Result<std::vector<Delivery>> deliveries(uint64_t incident_id);
    Result<NotifyStats> stats();

private:
    struct State;
    explicit Notifier(std::unique_ptr<State>&& s);
    std::unique_ptr<State> s_;
};
using NotifierPtr = std::unique_ptr<Notifier>;

// An incident's deliveries as a JSON array (the incident's `notified`): per message its
// delivery_id, kind, created, webhook and syslog state, webhook_delivered and attempts (sink,
// at, outcome, delivered); on an outbox error one object with "error".
std::string deliveries_json(Notifier& n, uint64_t incident_id);

}  // namespace vigil::mgmt
