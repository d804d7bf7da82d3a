#include "mgmt/notify.h"

#include <fcntl.h>
#include <httplib.h>
#include <netdb.h>
#include <poll.h>
#include <sodium.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "common/clock.h"
#include "common/endpoint.h"
#include "common/text.h"
#include "mgmt/sqlite_util.h"

#include <nlohmann/json.hpp>

namespace vigil::mgmt {

namespace {

constexpr int kBusyTimeoutMs = 5000;
constexpr size_t kMinSecretBytes = 16;
constexpr size_t kMaxKindLen = 32;  // RFC 5424 MSGID: 1*32 PRINTUSASCII
// An incident's JSON is a few kB; the cap keeps a runaway body out of the outbox and keeps the
// syslog line within one UDP datagram.
constexpr size_t kMaxBodyBytes = 60 * 1024;
constexpr size_t kSyslogBatch = 64;
constexpr int kSeverityErr = 3;
constexpr int kSeverityWarning = 4;
constexpr int kSeverityNotice = 5;

// SinkState as stored (the outbox's columns webhook and syslog).
int state_code(SinkState s) {
    return static_cast<int>(s);
}
SinkState state_from_code(int c) {
    return c >= 0 && c <= 3 ? static_cast<SinkState>(c) : SinkState::Pending;
}

bool ends_with(const std::string& s, std::string_view suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The port after a ':' in an authority: 1-65535, digits only.
std::optional<int> parse_port(std::string_view s) {
    if (s.empty() || s.size() > 5) {
        return std::nullopt;
    }
    int port = 0;
    for (char c : s) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        port = port * 10 + (c - '0');
    }
    if (port < 1 || port > 65535) {
        return std::nullopt;
    }
    return port;
}

// HOST[:PORT] with HOST a name, an IPv4 address or a bracketed IPv6 address.
struct HostPort {
    std::string host;
    std::optional<int> port;
};
Result<HostPort> split_host_port(const std::string& what, std::string_view authority) {
    HostPort hp;
    std::string_view rest;
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) {
            return make_error(ErrorCode::BadInput, what + ": unclosed '[' in the host");
        }
        hp.host = std::string(authority.substr(0, close + 1));
        rest = authority.substr(close + 1);
    } else {
        const auto colon = authority.find(':');
        hp.host = std::string(authority.substr(0, colon));
        rest = colon == std::string_view::npos ? std::string_view() : authority.substr(colon);
    }
    if (hp.host.empty() || hp.host == "[]") {
        return make_error(ErrorCode::BadInput, what + ": no host");
    }
    for (char c : hp.host) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_' || c == ':' ||
                        c == '[' || c == ']';
        if (!ok) {
            return make_error(ErrorCode::BadInput,
                              what + ": host '" + hp.host + "' has a character not allowed");
        }
    }
    if (!rest.empty()) {
        if (rest.front() != ':') {
            return make_error(ErrorCode::BadInput, what + ": expected ':PORT' after the host");
        }
        hp.port = parse_port(rest.substr(1));
        if (!hp.port) {
            return make_error(ErrorCode::BadInput, what + ": port '" + std::string(rest.substr(1)) +
                                                       "' is not a number from 1 to 65535");
        }
    }
    return hp;
}

std::string connect_errno_text(int err) {
    switch (err) {
        case ECONNREFUSED:
            return "connection refused";
        case ETIMEDOUT:
            return "connect timed out";
        case EHOSTUNREACH:
            return "host unreachable";
        case ENETUNREACH:
            return "network unreachable";
        default:
            return std::string("cannot connect: ") + std::strerror(err);
    }
}

// Why a connection failed. cpp-httplib 0.11 reports only "Connection", which does not tell a
// receiver that is down (refused) from a name that does not resolve or a network that is
// unreachable; the incident should say which, so one short connect of our own asks again.
struct AddrinfoFree {
    void operator()(addrinfo* p) const { freeaddrinfo(p); }
};
using AddrinfoPtr = std::unique_ptr<addrinfo, AddrinfoFree>;

// HOST (an IPv6 address may keep its brackets) and PORT as socket addresses of `socktype`.
Result<AddrinfoPtr> resolve(const std::string& bracketed_host, int port, int socktype) {
    std::string host = bracketed_host;
    if (host.size() >= 2 && host.front() == '[') {
        host = host.substr(1, host.size() - 2);
    }
    addrinfo hints{};
    hints.ai_socktype = socktype;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* res = nullptr;
    if (const int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
        rc != 0) {
        return make_error(ErrorCode::BadInput, "cannot resolve " + host + ": " + gai_strerror(rc));
    }
    return AddrinfoPtr(res);
}

std::string connect_failure(const std::string& host, int port, double timeout_s) {
    auto res = resolve(host, port, SOCK_STREAM);
    if (!res) {
        return res.error().message;
    }
    int err = 0;
    for (addrinfo* ai = res->get(); ai != nullptr; ai = ai->ai_next) {
        const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                                ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        err = 0;
        if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            err = errno;
        }
        if (err == EINPROGRESS) {
            // Short: this runs on the sender thread, which shutdown waits for.
            pollfd p{fd, POLLOUT, 0};
            const int ms = static_cast<int>(std::min(timeout_s, 0.5) * 1000);
            if (::poll(&p, 1, ms) == 1) {
                socklen_t len = sizeof err;
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
            } else {
                err = ETIMEDOUT;
            }
        }
        ::close(fd);
        if (err == 0) {
            break;
        }
    }
    return err == 0 ? "cannot connect (a second try connected)" : connect_errno_text(err);
}

// The outcome of a POST that got no HTTP answer.
std::string http_error_text(httplib::Error e, const WebhookUrl& url, double timeout_s) {
    switch (e) {
        case httplib::Error::Connection:
            return connect_failure(url.host, url.port, timeout_s);
        case httplib::Error::ConnectionTimeout:
            return "connect timed out";
        case httplib::Error::Read:
            return "no answer (read failed or timed out)";
        case httplib::Error::Write:
            return "sending the request failed";
        case httplib::Error::SSLConnection:
            return "TLS handshake failed";
        case httplib::Error::SSLLoadingCerts:
            return "TLS: cannot load the CA certificates";
        case httplib::Error::SSLServerVerification:
            return "TLS: the server's certificate was not verified";
        case httplib::Error::Canceled:
            return "canceled (shutting down)";
        default:
            return "HTTP client error: " + httplib::to_string(e);
    }
}

int severity_for(const std::string& kind) {
    if (ends_with(kind, ".opened")) {
        return kSeverityErr;
    }
    if (ends_with(kind, ".restored")) {
        return kSeverityNotice;
    }
    return kSeverityWarning;
}

// RFC 5424 TIMESTAMP: RFC 3339 in UTC with microseconds.
std::string rfc3339_utc(int64_t at_us) {
    const time_t secs = static_cast<time_t>(at_us / 1000000);
    tm t{};
    gmtime_r(&secs, &t);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", t.tm_year + 1900,
                  t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                  static_cast<int>(at_us % 1000000));
    return buf;
}

// RFC 5424 HOSTNAME: 1*255 PRINTUSASCII, "-" when unknown.
std::string syslog_hostname(const std::string& configured) {
    std::string h = configured;
    if (h.empty()) {
        char buf[256] = {};
        if (gethostname(buf, sizeof buf - 1) == 0) {
            h = buf;
        }
    }
    if (h.size() > 255) {
        h.resize(255);
    }
    for (char& c : h) {
        if (c < 33 || c > 126) {
            c = '-';
        }
    }
    return h.empty() ? "-" : h;
}

std::string syslog_line(int facility, const std::string& hostname, int64_t at_us,
                        const std::string& kind, const std::string& body) {
    std::string msg = body;
    // Raw CR/LF in valid JSON are whitespace (inside strings they are escaped): a space keeps
    // the JSON and the line one line for receivers that split on newlines.
    std::replace(msg.begin(), msg.end(), '\n', ' ');
    std::replace(msg.begin(), msg.end(), '\r', ' ');
    return "<" + std::to_string(facility * 8 + severity_for(kind)) + ">1 " + rfc3339_utc(at_us) +
           " " + hostname + " vigil-mgmtd - " + kind + " - " + msg;
}

std::string signature(const std::string& key, const std::string& body) {
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()),
                                key.size());
    crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(body.data()),
                                  body.size());
    std::array<unsigned char, crypto_auth_hmacsha256_BYTES> mac{};
    crypto_auth_hmacsha256_final(&st, mac.data());
    return "sha256=" + to_hex(mac.data(), mac.size());
}

struct SyslogTarget {
    sockaddr_storage addr{};
    socklen_t len = 0;
};

Result<SyslogTarget> parse_syslog_address(const std::string& address) {
    const std::string what = "syslog address '" + address + "'";
    constexpr std::string_view kScheme = "udp://";
    if (address.rfind(kScheme, 0) != 0) {
        return make_error(ErrorCode::BadInput, what + ": expected udp://HOST:PORT");
    }
    auto hp = split_host_port(what, std::string_view(address).substr(kScheme.size()));
    if (!hp) {
        return hp.error();
    }
    if (!hp->port) {
        return make_error(ErrorCode::BadInput, what + ": no port (the standard one is 514)");
    }
    if (!host_is_loopback(hp->host)) {
        return make_error(ErrorCode::BadInput,
                          what +
                              ": syslog over UDP is plaintext, so only a loopback host is "
                              "allowed; let the local syslog daemon relay it (with TLS)");
    }
    auto res = resolve(hp->host, *hp->port, SOCK_DGRAM);
    if (!res) {
        return make_error(ErrorCode::BadInput, what + ": " + res.error().message);
    }
    SyslogTarget t;
    std::memcpy(&t.addr, (*res)->ai_addr, (*res)->ai_addrlen);
    t.len = (*res)->ai_addrlen;
    return t;
}

// One outbox row as the sender needs it.
struct Message {
    uint64_t id = 0;
    std::string kind;
    std::string body;
    int64_t created_us = 0;
};

int64_t seconds_to_ns(double s) {
    return static_cast<int64_t>(s * 1e9);
}

}  // namespace

const char* sink_state_name(SinkState s) {
    switch (s) {
        case SinkState::Off:
            return "off";
        case SinkState::Pending:
            return "pending";
        case SinkState::Delivered:
            return "delivered";
        case SinkState::Failed:
            return "failed";
    }
    return "pending";
}

Result<WebhookUrl> parse_webhook_url(const std::string& url) {
    const std::string what = "webhook url '" + url + "'";
    WebhookUrl u;
    std::string_view rest = url;
    if (rest.rfind("https://", 0) == 0) {
        u.tls = true;
        u.port = 443;
        rest.remove_prefix(8);
    } else if (rest.rfind("http://", 0) == 0) {
        u.tls = false;
        u.port = 80;
        rest.remove_prefix(7);
    } else {
        return make_error(ErrorCode::BadInput,
                          what + ": expected https://HOST[:PORT]/PATH (or http:// to loopback)");
    }
    for (char c : url) {
        if (static_cast<unsigned char>(c) <= 32 || c == 127) {
            return make_error(ErrorCode::BadInput, what + ": spaces or control characters");
        }
    }
    if (url.find('#') != std::string::npos) {
        return make_error(ErrorCode::BadInput, what + ": a fragment ('#') is not sent in HTTP");
    }
    const auto slash = rest.find_first_of("/?");
    const std::string_view authority = rest.substr(0, slash);
    if (authority.find('@') != std::string_view::npos) {
        return make_error(ErrorCode::BadInput,
                          what +
                              ": no user or password in the url (the body is signed with "
                              "the webhook secret)");
    }
    auto hp = split_host_port(what, authority);
    if (!hp) {
        return hp.error();
    }
    u.host = hp->host;
    if (hp->port) {
        u.port = *hp->port;
    }
    u.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
    if (u.path.front() == '?') {
        u.path.insert(0, "/");
    }
    if (!u.tls && !host_is_loopback(u.host)) {
        return make_error(ErrorCode::BadInput,
                          what + ": plaintext http only to a loopback host; use https://");
    }
    return u;
}

struct Notifier::State {
    NotifyOptions opts;
    std::optional<WebhookUrl> url;
    std::optional<SyslogTarget> syslog;
    std::string hostname;    // syslog HOSTNAME
    std::string outbox_key;  // the delivery ids' prefix

    std::mutex db_mu;  // the connection
    sqlite3* db = nullptr;

    std::mutex mu;  // stop, wake
    std::condition_variable cv;
    bool stop = false;
    bool wake = false;

    std::mutex client_mu;  // the POST in flight, stopped by the destructor
    httplib::Client* in_flight = nullptr;

    int syslog_fd = -1;
    std::thread sender;

    ~State() {
        if (syslog_fd >= 0) {
            ::close(syslog_fd);
        }
        sqlite3_close_v2(db);
    }

    Error db_error(const std::string& doing) const {
        return make_error(ErrorCode::Io,
                          opts.outbox_path + ": " + doing + ": " + sqlite3_errmsg(db));
    }
    Stmt prepare(const char* sql) const {
        sqlite3_stmt* p = nullptr;
        sqlite3_prepare_v2(db, sql, -1, &p, nullptr);
        return Stmt(p);
    }
    Status exec_sql(const char* sql) const {
        char* err = nullptr;
        if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
            std::string msg = opts.outbox_path + ": " + (err ? err : sqlite3_errmsg(db));
            sqlite3_free(err);
            return make_error(ErrorCode::Io, msg);
        }
        return Ok{};
    }

    Status create_schema();
    // Runs `sql` with ?1 bound to `arg`, calling `row` for each row; `doing` names a failure.
    Status each_row(const std::string& sql, int64_t arg,
                    const std::function<void(sqlite3_stmt*)>& row, const char* doing) const;
    std::string delivery_id(uint64_t id) const { return outbox_key + "-" + std::to_string(id); }

    // The sender's side.
    void run();
    // The oldest `limit` messages pending at a sink ("webhook" or "syslog").
    Result<std::vector<Message>> pending(const char* sink_column, size_t limit);
    // The attempt and, when delivered (or failed for good), the message's new state; one
    // transaction.
    Status record(uint64_t id, const char* sink, const DeliveryAttempt& a, SinkState after);
    DeliveryAttempt post(const Message& m);
    DeliveryAttempt send_syslog(const Message& m) const;
    // Each line once; an outbox left with more than a batch is finished on the next wake.
    void send_pending_syslog();
    void log(const std::string& line) const {
        if (opts.log != nullptr) {
            std::fprintf(opts.log, "vigil-mgmtd: notify: %s\n", line.c_str());
            std::fflush(opts.log);
        }
    }
    bool stopping() {
        std::lock_guard<std::mutex> lock(mu);
        return stop;
    }
    // Sleeps until `deadline_ns` (mono), a wake or stop; false on stop.
    bool wait(int64_t deadline_ns);
};

Status Notifier::State::each_row(const std::string& sql, int64_t arg,
                                 const std::function<void(sqlite3_stmt*)>& row,
                                 const char* doing) const {
    Stmt st = prepare(sql.c_str());
    if (!st) {
        return db_error("preparing");
    }
    sqlite3_bind_int64(st.get(), 1, arg);
    int rc = 0;
    while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
        row(st.get());
    }
    if (rc != SQLITE_DONE) {
        return db_error(doing);
    }
    return Ok{};
}

Status Notifier::State::create_schema() {
    if (auto s = exec_sql("PRAGMA journal_mode=WAL;"
                          "PRAGMA synchronous=FULL;"
                          "PRAGMA foreign_keys=ON;");
        !s) {
        return s;
    }
    Stmt v = prepare("PRAGMA user_version");
    if (!v || sqlite3_step(v.get()) != SQLITE_ROW) {
        return db_error("reading the schema version");
    }
    const int version = sqlite3_column_int(v.get(), 0);
    v.reset();
    if (version > 1) {
        return make_error(ErrorCode::Io, opts.outbox_path + ": outbox schema version " +
                                             std::to_string(version) +
                                             " is newer than this vigil-mgmtd (1)");
    }
    // Migration 1. The state columns hold SinkState (0 off, 1 pending, 2 delivered, 3 failed).
    if (auto s = exec_sql("BEGIN IMMEDIATE;"
                          "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY,"
                          " value TEXT NOT NULL);"
                          "CREATE TABLE IF NOT EXISTS outbox("
                          " id INTEGER PRIMARY KEY AUTOINCREMENT,"
                          " incident_id INTEGER NOT NULL, kind TEXT NOT NULL,"
                          " body TEXT NOT NULL, created_us INTEGER NOT NULL,"
                          " webhook INTEGER NOT NULL,"
                          " webhook_delivered_us INTEGER NOT NULL DEFAULT 0,"
                          " syslog INTEGER NOT NULL);"
                          "CREATE INDEX IF NOT EXISTS outbox_incident ON outbox(incident_id);"
                          "CREATE INDEX IF NOT EXISTS outbox_webhook_pending ON outbox(id)"
                          " WHERE webhook = 1;"
                          "CREATE INDEX IF NOT EXISTS outbox_syslog_pending ON outbox(id)"
                          " WHERE syslog = 1;"
                          "CREATE TABLE IF NOT EXISTS attempts("
                          " id INTEGER PRIMARY KEY,"
                          " outbox_id INTEGER NOT NULL REFERENCES outbox(id),"
                          " sink TEXT NOT NULL, at_us INTEGER NOT NULL,"
                          " outcome TEXT NOT NULL, delivered INTEGER NOT NULL);"
                          "CREATE INDEX IF NOT EXISTS attempts_outbox ON attempts(outbox_id);"
                          "PRAGMA user_version=1;");
        !s) {
        return s;
    }
    // The delivery ids' prefix: made once, with the file.
    std::array<unsigned char, 8> raw{};
    randombytes_buf(raw.data(), raw.size());
    {
        Stmt ins = prepare("INSERT OR IGNORE INTO meta(key, value) VALUES('outbox_key', ?1)");
        if (!ins) {
            (void)exec_sql("ROLLBACK");
            return db_error("preparing");
        }
        bind_text(ins.get(), 1, to_hex(raw.data(), raw.size()));
        if (sqlite3_step(ins.get()) != SQLITE_DONE) {
            Error e = db_error("storing the outbox key");
            (void)exec_sql("ROLLBACK");
            return e;
        }
    }
    {
        Stmt sel = prepare("SELECT value FROM meta WHERE key='outbox_key'");
        if (!sel || sqlite3_step(sel.get()) != SQLITE_ROW) {
            Error e = db_error("reading the outbox key");
            (void)exec_sql("ROLLBACK");
            return e;
        }
        outbox_key = col_text(sel.get(), 0);
    }
    return exec_sql("COMMIT");
}

Result<NotifierPtr> Notifier::open(const NotifyOptions& opts) {
    if (sodium_init() < 0) {
        return make_error(ErrorCode::Internal, "libsodium failed to initialise");
    }
    auto st = std::make_unique<State>();
    st->opts = opts;
    if (opts.outbox_path.empty()) {
        return make_error(ErrorCode::BadInput, "notify: no outbox file");
    }
    if (!(opts.timeout_s > 0) || !(opts.backoff_initial_s > 0) ||
        !(opts.backoff_max_s >= opts.backoff_initial_s)) {
        return make_error(ErrorCode::BadInput,
                          "notify: timeout and backoff must be positive, the maximum backoff "
                          "at least the initial one");
    }
    if (opts.syslog_facility < 0 || opts.syslog_facility > 23) {
        return make_error(
            ErrorCode::BadInput,
            "notify: syslog facility " + std::to_string(opts.syslog_facility) + " is not 0-23");
    }
    if (!opts.webhook_url.empty()) {
        auto u = parse_webhook_url(opts.webhook_url);
        if (!u) {
            return u.error();
        }
        if (opts.webhook_secret.size() < kMinSecretBytes) {
            return make_error(ErrorCode::BadInput,
                              "webhook secret: " + std::to_string(opts.webhook_secret.size()) +
                                  " bytes, at least 16 needed (32 random bytes are best)");
        }
        st->url = *u;
    }
    if (!opts.syslog_address.empty()) {
        auto t = parse_syslog_address(opts.syslog_address);
        if (!t) {
            return t.error();
        }
        st->syslog = *t;
        st->syslog_fd = ::socket(t->addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (st->syslog_fd < 0) {
            return make_error(ErrorCode::Io,
                              "syslog: cannot open a UDP socket: " + std::string(strerror(errno)));
        }
        st->hostname = syslog_hostname(opts.syslog_hostname);
    }

    // Created 0600 here: SQLite would use 0644 (less the umask), and its -wal and -shm files
    // copy the database file's mode.
    const int fd = ::open(opts.outbox_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        return make_error(ErrorCode::Io,
                          opts.outbox_path + ": cannot open: " + std::strerror(errno));
    }
    ::close(fd);
    const int rc = sqlite3_open_v2(opts.outbox_path.c_str(), &st->db,
                                   SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        return make_error(
            ErrorCode::Io,
            opts.outbox_path + ": " + (st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc)));
    }
    sqlite3_busy_timeout(st->db, kBusyTimeoutMs);
    if (auto s = st->create_schema(); !s) {
        return s.error();
    }
    State* raw = st.get();
    st->sender = std::thread([raw] { raw->run(); });
    return NotifierPtr(new Notifier(std::move(st)));
}

Notifier::Notifier(std::unique_ptr<State>&& s) : s_(std::move(s)) {}

Notifier::~Notifier() {
    {
        std::lock_guard<std::mutex> lock(s_->mu);
        s_->stop = true;
    }
    s_->cv.notify_all();
    {
        std::lock_guard<std::mutex> lock(s_->client_mu);
        if (s_->in_flight != nullptr) {
            s_->in_flight->stop();
        }
    }
    s_->sender.join();
}

Result<uint64_t> Notifier::enqueue(uint64_t incident_id, const std::string& kind,
                                   const std::string& json_body) {
    if (!valid_name(kind, kMaxKindLen)) {
        return make_error(ErrorCode::BadInput, "notification kind '" + kind +
                                                   "': expected 1-32 characters of [A-Za-z0-9._-]");
    }
    if (json_body.size() > kMaxBodyBytes) {
        return make_error(ErrorCode::BadInput,
                          "notification body: " + std::to_string(json_body.size()) +
                              " bytes, at most " + std::to_string(kMaxBodyBytes));
    }
    if (!nlohmann::json::accept(json_body)) {
        return make_error(ErrorCode::BadInput, "notification body: not JSON");
    }
    const SinkState webhook = s_->url ? SinkState::Pending : SinkState::Off;
    const SinkState syslog = s_->syslog ? SinkState::Pending : SinkState::Off;
    uint64_t id = 0;
    {
        std::lock_guard<std::mutex> lock(s_->db_mu);
        Stmt st = s_->prepare(
            "INSERT INTO outbox(incident_id, kind, body, created_us, webhook, syslog)"
            " VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
        if (!st) {
            return s_->db_error("preparing");
        }
        sqlite3_bind_int64(st.get(), 1, static_cast<int64_t>(incident_id));
        bind_text(st.get(), 2, kind);
        bind_text(st.get(), 3, json_body);
        sqlite3_bind_int64(st.get(), 4, wall_us());
        sqlite3_bind_int(st.get(), 5, state_code(webhook));
        sqlite3_bind_int(st.get(), 6, state_code(syslog));
        // Autocommit: durable (synchronous=FULL) when the step returns.
        if (sqlite3_step(st.get()) != SQLITE_DONE) {
            return s_->db_error("storing a notification");
        }
        id = static_cast<uint64_t>(sqlite3_last_insert_rowid(s_->db));
    }
    {
        std::lock_guard<std::mutex> lock(s_->mu);
        s_->wake = true;
    }
    s_->cv.notify_all();
    return id;
}

Result<std::vector<Delivery>> Notifier::deliveries(uint64_t incident_id) {
    std::lock_guard<std::mutex> lock(s_->db_mu);
    std::vector<Delivery> out;
    std::map<uint64_t, size_t> index;
    const auto message = [&](sqlite3_stmt* st) {
        Delivery d;
        d.outbox_id = static_cast<uint64_t>(sqlite3_column_int64(st, 0));
        d.delivery_id = s_->delivery_id(d.outbox_id);
        d.kind = col_text(st, 1);
        d.created_us = sqlite3_column_int64(st, 2);
        d.webhook = state_from_code(sqlite3_column_int(st, 3));
        d.webhook_delivered_us = sqlite3_column_int64(st, 4);
        d.syslog = state_from_code(sqlite3_column_int(st, 5));
        index[d.outbox_id] = out.size();
        out.push_back(std::move(d));
    };
    if (auto s = s_->each_row(
            "SELECT id, kind, created_us, webhook, webhook_delivered_us, syslog FROM outbox"
            " WHERE incident_id = ?1 ORDER BY id",
            static_cast<int64_t>(incident_id), message, "reading the outbox");
        !s) {
        return s.error();
    }
    const auto attempt = [&](sqlite3_stmt* st) {
        const auto it = index.find(static_cast<uint64_t>(sqlite3_column_int64(st, 0)));
        if (it == index.end()) {
            return;
        }
        DeliveryAttempt a;
        a.sink = col_text(st, 1);
        a.at_us = sqlite3_column_int64(st, 2);
        a.outcome = col_text(st, 3);
        a.delivered = sqlite3_column_int(st, 4) != 0;
        out[it->second].attempts.push_back(std::move(a));
    };
    if (auto s = s_->each_row(
            "SELECT a.outbox_id, a.sink, a.at_us, a.outcome, a.delivered FROM attempts a"
            " JOIN outbox o ON o.id = a.outbox_id WHERE o.incident_id = ?1 ORDER BY a.id",
            static_cast<int64_t>(incident_id), attempt, "reading the attempts");
        !s) {
        return s.error();
    }
    return out;
}

Result<NotifyStats> Notifier::stats() {
    std::lock_guard<std::mutex> lock(s_->db_mu);
    Stmt st = s_->prepare(
        "SELECT (SELECT COUNT(*) FROM outbox WHERE webhook = 1),"
        " (SELECT COUNT(*) FROM outbox WHERE webhook = 2),"
        " (SELECT COUNT(*) FROM attempts WHERE sink = 'webhook' AND delivered = 0),"
        " (SELECT COUNT(*) FROM outbox WHERE syslog = 2),"
        " (SELECT COUNT(*) FROM outbox WHERE syslog = 3)");
    if (!st || sqlite3_step(st.get()) != SQLITE_ROW) {
        return s_->db_error("counting");
    }
    NotifyStats n;
    n.webhook_pending = static_cast<uint64_t>(sqlite3_column_int64(st.get(), 0));
    n.webhook_delivered = static_cast<uint64_t>(sqlite3_column_int64(st.get(), 1));
    n.webhook_failed_attempts = static_cast<uint64_t>(sqlite3_column_int64(st.get(), 2));
    n.syslog_sent = static_cast<uint64_t>(sqlite3_column_int64(st.get(), 3));
    n.syslog_failed = static_cast<uint64_t>(sqlite3_column_int64(st.get(), 4));
    return n;
}

// ---- the sender thread ----

Result<std::vector<Message>> Notifier::State::pending(const char* sink_column, size_t limit) {
    std::lock_guard<std::mutex> lock(db_mu);
    std::vector<Message> out;
    const auto message = [&](sqlite3_stmt* st) {
        Message m;
        m.id = static_cast<uint64_t>(sqlite3_column_int64(st, 0));
        m.kind = col_text(st, 1);
        m.body = col_text(st, 2);
        m.created_us = sqlite3_column_int64(st, 3);
        out.push_back(std::move(m));
    };
    if (auto s = each_row(std::string("SELECT id, kind, body, created_us FROM outbox WHERE ") +
                              sink_column + " = 1 ORDER BY id LIMIT ?1",
                          static_cast<int64_t>(limit), message, "reading the outbox");
        !s) {
        return s.error();
    }
    return out;
}

Status Notifier::State::record(uint64_t id, const char* sink, const DeliveryAttempt& a,
                               SinkState after) {
    std::lock_guard<std::mutex> lock(db_mu);
    if (auto s = exec_sql("BEGIN IMMEDIATE"); !s) {
        return s;
    }
    Stmt ins = prepare(
        "INSERT INTO attempts(outbox_id, sink, at_us, outcome, delivered)"
        " VALUES(?1, ?2, ?3, ?4, ?5)");
    bool ok = static_cast<bool>(ins);
    if (ok) {
        sqlite3_bind_int64(ins.get(), 1, static_cast<int64_t>(id));
        bind_text(ins.get(), 2, sink);
        sqlite3_bind_int64(ins.get(), 3, a.at_us);
        bind_text(ins.get(), 4, a.outcome);
        sqlite3_bind_int(ins.get(), 5, a.delivered ? 1 : 0);
        ok = sqlite3_step(ins.get()) == SQLITE_DONE;
    }
    if (ok && after != SinkState::Pending) {
        const bool is_webhook = std::strcmp(sink, "webhook") == 0;
        Stmt up = prepare(is_webhook ? "UPDATE outbox SET webhook = ?1, webhook_delivered_us = ?2"
                                       " WHERE id = ?3"
                                     : "UPDATE outbox SET syslog = ?1 WHERE id = ?3");
        ok = static_cast<bool>(up);
        if (ok) {
            sqlite3_bind_int(up.get(), 1, state_code(after));
            if (is_webhook) {
                sqlite3_bind_int64(up.get(), 2, a.at_us);
            }
            sqlite3_bind_int64(up.get(), 3, static_cast<int64_t>(id));
            ok = sqlite3_step(up.get()) == SQLITE_DONE;
        }
    }
    if (!ok) {
        Error e = db_error("recording a delivery attempt");
        (void)exec_sql("ROLLBACK");
        return e;
    }
    return exec_sql("COMMIT");
}

DeliveryAttempt Notifier::State::post(const Message& m) {
    DeliveryAttempt a;
    const int64_t timeout_us = static_cast<int64_t>(opts.timeout_s * 1e6);
    const time_t sec = static_cast<time_t>(timeout_us / 1000000);
    const time_t usec = static_cast<time_t>(timeout_us % 1000000);
    const std::string base = std::string(url->tls ? "https://" : "http://") + url->host + ":" +
                             std::to_string(url->port);
    try {
        httplib::Client cli(base);
        cli.set_connection_timeout(sec, usec);
        cli.set_read_timeout(sec, usec);
        cli.set_write_timeout(sec, usec);
        cli.set_follow_location(false);
        if (url->tls) {
            cli.enable_server_certificate_verification(true);
            if (!opts.webhook_ca_file.empty()) {
                cli.set_ca_cert_path(opts.webhook_ca_file);
            }
        }
        const httplib::Headers headers = {
            {"User-Agent", "vigil-mgmtd"},
            {"X-Vigil-Event", m.kind},
            {"X-Vigil-Delivery", delivery_id(m.id)},
            {"X-Vigil-Signature", signature(opts.webhook_secret, m.body)},
        };
        {
            std::lock_guard<std::mutex> lock(client_mu);
            std::lock_guard<std::mutex> stop_lock(mu);
            if (stop) {
                a.at_us = wall_us();
                a.outcome = "canceled (shutting down)";
                return a;
            }
            in_flight = &cli;
        }
        const auto res = cli.Post(url->path, headers, m.body, "application/json");
        {
            std::lock_guard<std::mutex> lock(client_mu);
            in_flight = nullptr;
        }
        a.at_us = wall_us();
        if (!res) {
            a.outcome = http_error_text(res.error(), *url, opts.timeout_s);
            return a;
        }
        a.outcome = "HTTP " + std::to_string(res->status);
        a.delivered = res->status >= 200 && res->status < 300;
    } catch (const std::exception& e) {
        {
            std::lock_guard<std::mutex> lock(client_mu);
            in_flight = nullptr;
        }
        a.at_us = wall_us();
        a.outcome = std::string("HTTP client error: ") + e.what();
    }
    return a;
}

DeliveryAttempt Notifier::State::send_syslog(const Message& m) const {
    const std::string line =
        syslog_line(opts.syslog_facility, hostname, m.created_us, m.kind, m.body);
    DeliveryAttempt a;
    const ssize_t n = ::sendto(syslog_fd, line.data(), line.size(), 0,
                               reinterpret_cast<const sockaddr*>(&syslog->addr), syslog->len);
    a.at_us = wall_us();
    if (n == static_cast<ssize_t>(line.size())) {
        a.outcome = "sent";
        a.delivered = true;
    } else {
        a.outcome = n < 0 ? std::string("sendto: ") + std::strerror(errno) : "sendto: short";
    }
    return a;
}

void Notifier::State::send_pending_syslog() {
    auto lines = pending("syslog", kSyslogBatch);
    if (!lines) {
        log(lines.error().message);
        return;
    }
    for (const Message& m : *lines) {
        const DeliveryAttempt a = send_syslog(m);
        const SinkState after = a.delivered ? SinkState::Delivered : SinkState::Failed;
        if (auto s = record(m.id, "syslog", a, after); !s) {
            log(s.error().message);
        }
    }
}

bool Notifier::State::wait(int64_t deadline_ns) {
    std::unique_lock<std::mutex> lock(mu);
    const auto pred = [this] { return stop || wake; };
    if (deadline_ns == INT64_MAX) {
        cv.wait(lock, pred);
    } else {
        const int64_t left = std::max<int64_t>(0, deadline_ns - mono_ns());
        cv.wait_for(lock, std::chrono::nanoseconds(left), pred);
    }
    wake = false;
    return !stop;
}

void Notifier::State::run() {
    uint64_t head_id = 0;     // the message the backoff belongs to
    int failures = 0;         // its failed attempts in this process
    int64_t next_try_ns = 0;  // mono
    bool failing = false;     // for the log: said once per outage
    for (;;) {
        {
            std::lock_guard<std::mutex> lock(mu);
            if (stop) {
                return;
            }
            wake = false;
        }
        if (syslog) {
            send_pending_syslog();
        }
        int64_t deadline = INT64_MAX;
        Result<std::vector<Message>> heads =
            url ? pending("webhook", 1) : Result<std::vector<Message>>(std::vector<Message>{});
        if (!heads) {
            // The outbox could not be read: try again later rather than wait for an enqueue.
            log(heads.error().message);
            deadline = mono_ns() + seconds_to_ns(opts.backoff_max_s);
        }
        const std::optional<Message> head =
            heads && !heads->empty() ? std::optional<Message>(heads->front()) : std::nullopt;
        if (head) {
            if (head->id != head_id) {
                head_id = head->id;
                failures = 0;
                next_try_ns = 0;
            }
            if (mono_ns() >= next_try_ns) {
                const DeliveryAttempt a = post(*head);
                if (!a.delivered && stopping()) {
                    return;  // aborted by shutdown: no attempt; still pending for the next start
                }
                const Status s = record(head->id, "webhook", a,
                                        a.delivered ? SinkState::Delivered : SinkState::Pending);
                if (!s) {
                    log(s.error().message);
                }
                if (a.delivered && s) {
                    if (failing) {
                        log("webhook delivering again (" + delivery_id(head->id) + ": " +
                            a.outcome + ")");
                        failing = false;
                    }
                    continue;  // the next message at once
                }
                if (!a.delivered && !failing) {
                    log("webhook delivery failing (" + delivery_id(head->id) + ": " + a.outcome +
                        "); retrying with backoff");
                    failing = true;
                }
                ++failures;
                const double backoff =
                    std::min(opts.backoff_max_s,
                             opts.backoff_initial_s *
                                 static_cast<double>(1ULL << std::min(failures - 1, 30)));
                next_try_ns = mono_ns() + seconds_to_ns(backoff);
            }
            deadline = next_try_ns;
        }
        if (!wait(deadline)) {
            return;
        }
    }
}

std::string deliveries_json(Notifier& n, uint64_t incident_id) {
    using nlohmann::json;
    auto iso = [](int64_t us) -> json { return us > 0 ? json(iso8601_utc(us)) : json(nullptr); };
    auto ds = n.deliveries(incident_id);
    json arr = json::array();
    if (!ds) {
        arr.push_back({{"error", ds.error().message}});
        return arr.dump();
    }
    for (const auto& d : *ds) {
        json attempts = json::array();
        for (const auto& a : d.attempts) {
            attempts.push_back({{"sink", a.sink},
                                {"at", iso(a.at_us)},
                                {"outcome", a.outcome},
                                {"delivered", a.delivered}});
        }
        arr.push_back({{"delivery_id", d.delivery_id},
                       {"kind", d.kind},
                       {"created", iso(d.created_us)},
                       {"webhook", sink_state_name(d.webhook)},
                       {"webhook_delivered", iso(d.webhook_delivered_us)},
                       {"syslog", sink_state_name(d.syslog)},
                       {"attempts", std::move(attempts)}});
    }
    return arr.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace vigil::mgmt
