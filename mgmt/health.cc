#include "mgmt/health.h"

#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <thread>

#include "common/clock.h"
#include "mgmt/sqlite_util.h"
#include "mgmt/store.h"

#include <nlohmann/json.hpp>

namespace vigil::mgmt {

namespace {

using nlohmann::json;

std::string sqlite_error(sqlite3* db, const std::string& what) {
    return what + ": " + sqlite3_errmsg(db);
}

constexpr const char* kColumns =
    "id, control, owner, detected_at_us, cause, restore_action, restored_at_us, gap, "
    "mitigation, enhanced_until_us, notified, restore_attempts, escalated, acked_by, acked_at_us, "
    "ack_note, acked_token";

Incident read_incident(sqlite3_stmt* s) {
    Incident i;
    i.id = static_cast<uint64_t>(sqlite3_column_int64(s, 0));
    i.control = col_text(s, 1);
    i.owner = col_text(s, 2);
    i.detected_at_us = sqlite3_column_int64(s, 3);
    i.cause = col_text(s, 4);
    i.restore_action = col_text(s, 5);
    i.restored_at_us = sqlite3_column_int64(s, 6);
    i.gap = col_text(s, 7);
    i.mitigation = col_text(s, 8);
    i.enhanced_until_us = sqlite3_column_int64(s, 9);
    i.notified = col_text(s, 10);
    i.restore_attempts = static_cast<uint32_t>(sqlite3_column_int64(s, 11));
    i.escalated = sqlite3_column_int64(s, 12) != 0;
    i.acked_by = col_text(s, 13);
    i.acked_at_us = sqlite3_column_int64(s, 14);
    i.ack_note = col_text(s, 15);
    i.acked_token = col_text(s, 16);
    return i;
}

// "2026-12-02T07:59:01Z" (UTC), for the lines of restore_action and mitigation.
std::string utc(int64_t us) {
    const std::time_t t = static_cast<std::time_t>(us / 1000000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string seconds(double s) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.1f", s);
    return buf;
}

}  // namespace

std::string describe_exit(int st) {
    if (WIFSIGNALED(st)) {
        const int sig = WTERMSIG(st);
        const char* abbrev = sigabbrev_np(sig);
        return "sensor exited on signal " + std::to_string(sig) +
               (abbrev != nullptr ? std::string(" (SIG") + abbrev + ")" : std::string());
    }
    if (WIFEXITED(st)) {
        return "sensor exited with status " + std::to_string(WEXITSTATUS(st));
    }
    return "sensor stopped (wait status " + std::to_string(st) + ")";
}

std::string incident_json(const Incident& i, const std::string& notified) {
    auto iso = [](int64_t us) -> json { return us > 0 ? json(iso8601_utc(us)) : json(nullptr); };
    auto parse_or = [](const std::string& s, json fallback) {
        json j = json::parse(s, nullptr, false);
        return j.is_discarded() ? fallback : j;
    };
    return json{{"id", i.id},
                {"control", i.control},
                {"owner", i.owner},
                {"state", i.restored_at_us == 0 ? "open" : "restored"},
                {"detected_at", iso(i.detected_at_us)},
                {"cause", i.cause},
                {"restore_action", i.restore_action},
                {"restore_attempts", i.restore_attempts},
                {"escalated", i.escalated},
                {"restored_at", iso(i.restored_at_us)},
                {"gap", parse_or(i.gap, json::object())},
                {"mitigation", i.mitigation},
                {"enhanced_until", iso(i.enhanced_until_us)},
                {"notified", parse_or(notified, json::array())},
                {"acknowledged", i.acked_at_us == 0 ? json(nullptr)
                                                    : json{{"by", i.acked_by},
                                                           {"at", iso(i.acked_at_us)},
                                                           {"note", i.ack_note},
                                                           {"token", i.acked_token}}}}
        .dump(-1, ' ', false, json::error_handler_t::replace);
}

// ---------------------------------------------------------------------------------------
// IncidentLog

Result<std::unique_ptr<IncidentLog>> IncidentLog::open(const std::string& path) {
    std::error_code ec;
    const auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) {
        std::filesystem::create_directories(parent, ec);
    }
    sqlite3* db = nullptr;
    // One connection shared by the health thread and the API's threads: serialized mode.
    if (sqlite3_open_v2(path.c_str(), &db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        nullptr) != SQLITE_OK) {
        std::string msg = path + ": " + (db != nullptr ? sqlite3_errmsg(db) : "cannot open");
        sqlite3_close(db);
        return make_error(ErrorCode::Io, msg);
    }
    sqlite3_busy_timeout(db, 5000);
    if (!exec(db, "PRAGMA journal_mode=WAL") || !exec(db, "PRAGMA synchronous=FULL") ||
        !exec(db,
              "CREATE TABLE IF NOT EXISTS incidents ("
              "id INTEGER PRIMARY KEY AUTOINCREMENT, control TEXT NOT NULL, owner TEXT NOT NULL, "
              "detected_at_us INTEGER NOT NULL, cause TEXT NOT NULL, restore_action TEXT NOT "
              "NULL, restored_at_us INTEGER NOT NULL, gap TEXT NOT NULL, mitigation TEXT NOT "
              "NULL, enhanced_until_us INTEGER NOT NULL, notified TEXT NOT NULL, "
              "restore_attempts INTEGER NOT NULL, escalated INTEGER NOT NULL, acked_by TEXT NOT "
              "NULL DEFAULT '', acked_at_us INTEGER NOT NULL DEFAULT 0, ack_note TEXT NOT NULL "
              "DEFAULT '', acked_token TEXT NOT NULL DEFAULT '')")) {
        std::string msg = sqlite_error(db, path);
        sqlite3_close(db);
        return make_error(ErrorCode::Io, msg);
    }
    ::chmod(path.c_str(), 0600);
    return std::unique_ptr<IncidentLog>(new IncidentLog(db));
}

IncidentLog::~IncidentLog() {
    sqlite3_close(db_);
}

Result<uint64_t> IncidentLog::add(const Incident& i) {
    Stmt s;
    sqlite3_prepare_v2(db_,
                       "INSERT INTO incidents (control, owner, detected_at_us, cause, "
                       "restore_action, restored_at_us, gap, mitigation, enhanced_until_us, "
                       "notified, restore_attempts, escalated) VALUES "
                       "(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)",
                       -1, &s.s, nullptr);
    if (!s) {
        return make_error(ErrorCode::Io, sqlite_error(db_, "incidents"));
    }
    bind_text(s.get(), 1, i.control);
    bind_text(s.get(), 2, i.owner);
    sqlite3_bind_int64(s.get(), 3, i.detected_at_us);
    bind_text(s.get(), 4, i.cause);
    bind_text(s.get(), 5, i.restore_action);
    sqlite3_bind_int64(s.get(), 6, i.restored_at_us);
    bind_text(s.get(), 7, i.gap.empty() ? "{}" : i.gap);
    bind_text(s.get(), 8, i.mitigation);
    sqlite3_bind_int64(s.get(), 9, i.enhanced_until_us);
    bind_text(s.get(), 10, i.notified.empty() ? "[]" : i.notified);
    sqlite3_bind_int64(s.get(), 11, i.restore_attempts);
    sqlite3_bind_int64(s.get(), 12, i.escalated ? 1 : 0);
    // The id comes from the same connection's last insert: take the mutex over both.
    sqlite3_mutex* mu = sqlite3_db_mutex(db_);
    sqlite3_mutex_enter(mu);
    const int rc = sqlite3_step(s.get());
    const auto id = static_cast<uint64_t>(sqlite3_last_insert_rowid(db_));
    sqlite3_mutex_leave(mu);
    if (rc != SQLITE_DONE) {
        return make_error(ErrorCode::Io, sqlite_error(db_, "incidents"));
    }
    return id;
}

Status IncidentLog::update(const Incident& i) {
    Stmt s;
    sqlite3_prepare_v2(db_,
                       "UPDATE incidents SET cause=?2, restore_action=?3, restored_at_us=?4, "
                       "gap=?5, mitigation=?6, enhanced_until_us=?7, notified=?8, "
                       "restore_attempts=?9, escalated=?10 WHERE id=?1",
                       -1, &s.s, nullptr);
    if (!s) {
        return make_error(ErrorCode::Io, sqlite_error(db_, "incidents"));
    }
    sqlite3_bind_int64(s.get(), 1, static_cast<int64_t>(i.id));
    bind_text(s.get(), 2, i.cause);
    bind_text(s.get(), 3, i.restore_action);
    sqlite3_bind_int64(s.get(), 4, i.restored_at_us);
    bind_text(s.get(), 5, i.gap.empty() ? "{}" : i.gap);
    bind_text(s.get(), 6, i.mitigation);
    sqlite3_bind_int64(s.get(), 7, i.enhanced_until_us);
    bind_text(s.get(), 8, i.notified.empty() ? "[]" : i.notified);
    sqlite3_bind_int64(s.get(), 9, i.restore_attempts);
    sqlite3_bind_int64(s.get(), 10, i.escalated ? 1 : 0);
    if (sqlite3_step(s.get()) != SQLITE_DONE) {
        return make_error(ErrorCode::Io, sqlite_error(db_, "incidents"));
    }
    return Ok{};
}

Result<std::vector<Incident>> IncidentLog::select(const std::string& where, int64_t arg) const {
    Stmt s;
    const std::string sql = std::string("SELECT ") + kColumns + " FROM incidents " + where;
    sqlite3_prepare_v2(db_, sql.c_str(), -1, &s.s, nullptr);
    if (!s) {
        return make_error(ErrorCode::Io, sqlite_error(db_, "incidents"));
    }
    if (sqlite3_bind_parameter_count(s.get()) > 0) {
        sqlite3_bind_int64(s.get(), 1, arg);
    }
    std::vector<Incident> out;
    int rc = 0;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
        out.push_back(read_incident(s.get()));
    }
    if (rc != SQLITE_DONE) {
        return make_error(ErrorCode::Io, sqlite_error(db_, "incidents"));
    }
    return out;
}

Result<std::vector<Incident>> IncidentLog::list(size_t limit) const {
    return select("ORDER BY id DESC LIMIT ?1", static_cast<int64_t>(limit));
}

Result<std::optional<Incident>> IncidentLog::get(uint64_t id) const {
    auto rows = select("WHERE id = ?1", static_cast<int64_t>(id));
    if (!rows) {
        return rows.error();
    }
    if (rows->empty()) {
        return std::optional<Incident>();
    }
    return std::optional<Incident>(std::move(rows->front()));
}

Result<std::optional<Incident>> IncidentLog::acknowledge(uint64_t id, const std::string& by,
                                                         const std::string& note,
                                                         const std::string& token, int64_t at_us) {
    Stmt s;
    sqlite3_prepare_v2(db_,
                       "UPDATE incidents SET acked_by=?2, ack_note=?3, acked_token=?4, "
                       "acked_at_us=?5 WHERE id=?1",
                       -1, &s.s, nullptr);
    if (!s) {
        return make_error(ErrorCode::Io, sqlite_error(db_, "incidents"));
    }
    sqlite3_bind_int64(s.get(), 1, static_cast<int64_t>(id));
    bind_text(s.get(), 2, by);
    bind_text(s.get(), 3, note);
    bind_text(s.get(), 4, token);
    sqlite3_bind_int64(s.get(), 5, at_us);
    if (sqlite3_step(s.get()) != SQLITE_DONE) {
        return make_error(ErrorCode::Io, sqlite_error(db_, "incidents"));
    }
    return get(id);
}

Result<std::vector<Incident>> IncidentLog::open_incidents() const {
    return select("WHERE restored_at_us = 0 ORDER BY id", 0);
}

// ---------------------------------------------------------------------------------------
// Health

namespace {

// Starts `argv` in its own process group, stdout and stderr appended to `log_path`.
// Returns the pid, or an error when fork fails (an exec failure shows as exit status 127).
Result<pid_t> spawn(const std::vector<std::string>& argv, const std::string& log_path) {
    std::vector<std::string> args = argv;
    std::vector<char*> cargs;
    for (auto& a : args) {
        cargs.push_back(a.data());
    }
    cargs.push_back(nullptr);
    const int log_fd = log_path.empty() ? ::open("/dev/null", O_WRONLY | O_CLOEXEC)
                                        : ::open(log_path.c_str(),
                                                 O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (log_fd < 0) {
        return make_error(ErrorCode::Io, log_path + ": " + std::strerror(errno));
    }
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) {
        const int e = errno;
        ::close(log_fd);
        return make_error(ErrorCode::Io, std::string("fork: ") + std::strerror(e));
    }
    if (pid == 0) {
        // Only async-signal-safe calls until exec. A sensor mgmtd started stops with mgmtd
        // (the next mgmtd starts it again): SIGTERM when the thread that forked it ends.
        ::setpgid(0, 0);
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != parent) {
            ::_exit(127);  // mgmtd ended before the line above
        }
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);  // mgmtd's threads block SIGTERM & co.
        const int devnull = ::open("/dev/null", O_RDONLY);
        if (devnull >= 0) {
            ::dup2(devnull, 0);
        }
        ::dup2(log_fd, 1);
        ::dup2(log_fd, 2);
        ::close_range(3, ~0U, 0);
        ::execv(cargs[0], cargs.data());
        ::_exit(127);
    }
    ::close(log_fd);
    return pid;
}

// Runs a short command to completion (systemctl restart), returning its wait status.
int run_and_wait(const std::vector<std::string>& argv) {
    auto pid = spawn(argv, "");
    if (!pid) {
        return -1;
    }
    int st = 0;
    while (::waitpid(*pid, &st, 0) < 0 && errno == EINTR) {
    }
    return st;
}

}  // namespace

struct Health::Impl {
    struct Sensor {
        SupervisedSensor spec;
        pid_t pid = 0;
        int64_t started_us = 0;  // the last (re)start by mgmtd, or mgmtd's start
        bool beat_since_start = false;
        std::string state = "starting";
        std::string detail;
        int64_t last_check_us = 0;
        int64_t next_check_us = 0;
        int64_t enhanced_until_us = 0;
        std::optional<Incident> incident;  // open
        int64_t next_restore_us = 0;
        // The last heartbeat seen (store row), for the gap.
        int64_t last_beat_us = 0;
        json last_beat;
    };

    HealthOptions opts;
    std::unique_ptr<IncidentLog> log;
    mutable std::mutex mu;  // sensors (the API reads them)
    std::vector<Sensor> sensors;
    std::condition_variable cv;
    bool stopping = false;
    std::thread thread;

    void say(const std::string& line) const {
        if (opts.log != nullptr) {
            std::fprintf(opts.log, "vigil-mgmtd: %s\n", line.c_str());
            std::fflush(opts.log);
        }
    }

    double interval_for(const Sensor& s, int64_t now) const {
        return now < s.enhanced_until_us ? opts.enhanced_interval_s : opts.interval_s;
    }

    void start_process(Sensor& s, int64_t now) {
        s.started_us = now;
        s.beat_since_start = false;
        if (s.spec.command.empty()) {
            return;
        }
        auto pid = spawn(s.spec.command, s.spec.log_path);
        if (!pid) {
            s.pid = 0;
            s.detail = "cannot start: " + pid.error().message;
            return;
        }
        s.pid = *pid;
        say("sensor " + s.spec.id + ": started, pid " + std::to_string(s.pid));
    }

    void record(Sensor& s) {
        if (!s.incident) {
            return;
        }
        if (auto st = log->update(*s.incident); !st) {
            say("incident " + std::to_string(s.incident->id) + ": " + st.error().message);
        }
    }

    void notify(Sensor& s, const std::string& kind) {
        if (opts.notify && s.incident) {
            opts.notify(*s.incident, kind);
        }
    }

    // The control failed with `cause`: open the incident (once) and restore.
    void fail(Sensor& s, const std::string& cause, int64_t now) {
        s.state = "failed";
        s.detail = cause;
        if (!s.incident) {
            Incident inc;
            inc.control = "sensor-alive:" + s.spec.id;
            inc.owner = s.spec.owner;
            inc.detected_at_us = now;
            inc.cause = cause;
            json gap = json::object();
            if (s.last_beat_us > 0) {
                gap["last_heartbeat_at"] = utc(s.last_beat_us);
                const auto last_seq = s.last_beat.value("last_seq", uint64_t{0});
                const auto acked = s.last_beat.value("acked_seq", uint64_t{0});
                gap["alerts_unacknowledged_at_failure"] = last_seq - std::min(last_seq, acked);
                gap["last_seq_at_failure"] = last_seq;
                gap["rx_packets_at_failure"] = s.last_beat.value("rx_packets", uint64_t{0});
            }
            inc.gap = gap.dump();
            auto id = log->add(inc);
            if (!id) {
                say("incident for " + inc.control + " not recorded: " + id.error().message);
            }
            inc.id = id ? *id : 0;
            s.incident = std::move(inc);
            say("incident " + std::to_string(s.incident->id) + ": " + s.incident->control +
                " failed: " + cause + " (owner: " + s.spec.owner + ")");
            notify(s, "incident.opened");
            s.next_restore_us = now;
        } else if (s.incident->cause.find(cause) == std::string::npos) {
            s.incident->restore_action += utc(now) + " restore failed: " + cause + "\n";
            record(s);
        }
        restore(s, now);
    }

    void restore(Sensor& s, int64_t now) {
        if (now < s.next_restore_us) {
            s.state = "restoring";
            s.detail = s.incident->cause + "; next restore in " +
                       seconds(static_cast<double>(s.next_restore_us - now) / 1e6) + " s";
            return;
        }
        Incident& inc = *s.incident;
        ++inc.restore_attempts;
        // Back off after failed attempts: 1, 2, 4, ... 30 s; escalated after the third.
        const double backoff = std::min(30.0, std::pow(2.0, inc.restore_attempts - 1));
        s.next_restore_us = now + static_cast<int64_t>(backoff * 1e6);
        if (inc.restore_attempts > 3 && !inc.escalated) {
            inc.escalated = true;
            inc.restore_action += utc(now) +
                                  " escalated: " + std::to_string(inc.restore_attempts - 1) +
                                  " restores did not bring the control back; retrying\n";
            say("incident " + std::to_string(inc.id) + ": escalated to " + s.spec.owner);
            notify(s, "incident.escalated");
        }
        if (!s.spec.command.empty()) {
            if (s.pid > 0) {
                // Alive but failed (hung): end it for good first.
                ::kill(-s.pid, SIGKILL);
                ::kill(s.pid, SIGKILL);
                int st = 0;
                while (::waitpid(s.pid, &st, 0) < 0 && errno == EINTR) {
                }
                inc.restore_action += utc(now) + " killed the hung sensor (pid " +
                                      std::to_string(s.pid) + ", SIGKILL)\n";
                s.pid = 0;
            }
            start_process(s, now);
            inc.restore_action += utc(now) +
                                  (s.pid > 0 ? " restarted the sensor: pid " + std::to_string(s.pid)
                                             : " restart failed: " + s.detail) +
                                  "\n";
        } else if (!s.spec.systemd_unit.empty()) {
            s.started_us = now;
            s.beat_since_start = false;
            const int st = run_and_wait({"/usr/bin/systemctl", "restart", s.spec.systemd_unit});
            inc.restore_action +=
                utc(now) + " systemctl restart " + s.spec.systemd_unit + ": " +
                (st == 0 ? std::string("ok") : "failed (wait status " + std::to_string(st) + ")") +
                "\n";
        } else {
            if (!inc.escalated) {
                inc.escalated = true;
                inc.restore_action += utc(now) +
                                      " no restore action: the sensor is not supervised "
                                      "(sensors." +
                                      s.spec.id + ".supervise); escalated\n";
                notify(s, "incident.escalated");
            }
        }
        s.state = "restoring";
        s.detail = inc.cause;
        record(s);
    }

    void restored(Sensor& s, int64_t now) {
        Incident& inc = *s.incident;
        inc.restored_at_us = now;
        json gap = json::parse(inc.gap.empty() ? "{}" : inc.gap, nullptr, false);
        if (gap.is_discarded()) {
            gap = json::object();
        }
        gap["down_s"] = static_cast<double>(now - inc.detected_at_us) / 1e6;
        const auto at_failure = gap.value("last_seq_at_failure", uint64_t{0});
        const auto acked = s.last_beat.value("acked_seq", uint64_t{0});
        gap["alerts_recovered_from_spool"] =
            gap.value("alerts_unacknowledged_at_failure", uint64_t{0}) > 0 && acked >= at_failure;
        gap["packets_not_inspected"] =
            "unknown: nothing captured while the sensor was down (" +
            seconds(static_cast<double>(now - inc.detected_at_us) / 1e6) + " s)";
        inc.gap = gap.dump();
        s.enhanced_until_us = now + static_cast<int64_t>(opts.enhanced_for_s * 1e6);
        inc.enhanced_until_us = s.enhanced_until_us;
        inc.mitigation = "enhanced monitoring: checked every " + seconds(opts.enhanced_interval_s) +
                         " s until " + utc(s.enhanced_until_us);
        record(s);
        say("incident " + std::to_string(inc.id) + ": " + inc.control + " restored after " +
            seconds(static_cast<double>(now - inc.detected_at_us) / 1e6) + " s; " + inc.mitigation);
        notify(s, "incident.restored");
        s.incident.reset();
        s.state = "ok";
    }

    void check(Sensor& s, int64_t now) {
        s.last_check_us = now;
        // The supervised process.
        if (!s.spec.command.empty() && s.pid > 0) {
            int st = 0;
            const pid_t r = ::waitpid(s.pid, &st, WNOHANG);
            if (r == s.pid) {
                s.pid = 0;
                fail(s, describe_exit(st), now);
                return;
            }
        }
        // Its heartbeats.
        int64_t beat_us = 0;
        if (opts.store != nullptr) {
            if (auto rows = opts.store->sensors(); rows) {
                for (const auto& row : *rows) {
                    if (row.sensor_id == s.spec.id) {
                        beat_us = row.last_heartbeat_us;
                        if (beat_us > s.last_beat_us) {
                            s.last_beat_us = beat_us;
                            s.last_beat = json::parse(row.heartbeat, nullptr, false);
                            if (s.last_beat.is_discarded()) {
                                s.last_beat = json::object();
                            }
                        }
                    }
                }
            }
        }
        if (beat_us >= s.started_us && beat_us > 0) {
            s.beat_since_start = true;
        }
        const double age = beat_us > 0 ? static_cast<double>(now - beat_us) / 1e6 : -1;
        if (s.incident) {
            if (s.beat_since_start && age >= 0 && age <= opts.heartbeat_timeout_s) {
                restored(s, now);
                return;
            }
            if (now < s.next_restore_us) {
                return;  // a restore is running or backing off
            }
            if (!s.spec.command.empty() && s.pid == 0) {
                restore(s, now);  // the restart failed: again
            } else if (now - s.started_us > static_cast<int64_t>(opts.start_grace_s * 1e6)) {
                fail(s, "no heartbeat within " + seconds(opts.start_grace_s) + " s of the restart",
                     now);
            }
            return;
        }
        const bool in_grace = !s.beat_since_start &&
                              now - s.started_us < static_cast<int64_t>(opts.start_grace_s * 1e6);
        if (in_grace) {
            s.state = "starting";
            s.detail = s.pid > 0 ? "pid " + std::to_string(s.pid) + ", no heartbeat yet"
                                 : "no heartbeat yet";
            return;
        }
        if (age < 0 || age > opts.heartbeat_timeout_s) {
            std::string cause = age < 0 ? "no heartbeat since mgmtd started"
                                        : "no heartbeat for " + seconds(age) + " s (timeout " +
                                              seconds(opts.heartbeat_timeout_s) + " s)";
            if (s.pid > 0) {
                cause += "; process " + std::to_string(s.pid) + " still running (hung)";
            }
            fail(s, cause, now);
            return;
        }
        s.state = "ok";
        s.detail = (s.pid > 0 ? "pid " + std::to_string(s.pid) + ", " : std::string()) +
                   "last heartbeat " + seconds(age) + " s ago";
    }

    void loop() {
        std::unique_lock lock(mu);
        while (!stopping) {
            const int64_t now = wall_us();
            int64_t next = now + 1000000;
            for (auto& s : sensors) {
                if (now >= s.next_check_us) {
                    check(s, now);
                    s.next_check_us = now + static_cast<int64_t>(interval_for(s, now) * 1e6);
                }
                next = std::min(next, s.next_check_us);
            }
            cv.wait_for(lock, std::chrono::microseconds(std::max<int64_t>(next - wall_us(), 1000)),
                        [this] { return stopping; });
        }
    }
};

Health::Health(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<Health>> Health::start(HealthOptions opts) {
    auto impl = std::make_unique<Impl>();
    auto log = IncidentLog::open(opts.incidents_path);
    if (!log) {
        return make_error(log.error().code, "health: incidents: " + log.error().message);
    }
    impl->log = std::move(*log);
    impl->opts = std::move(opts);
    auto open = impl->log->open_incidents();
    if (!open) {
        return open.error();
    }
    const int64_t now = wall_us();
    for (const auto& spec : impl->opts.sensors) {
        Impl::Sensor s;
        s.spec = spec;
        // An incident left open by the last mgmtd: still open, restored when the control works.
        for (const auto& inc : *open) {
            if (inc.control == "sensor-alive:" + spec.id) {
                s.incident = inc;
                s.state = "restoring";
                s.detail = inc.cause;
                impl->say("incident " + std::to_string(inc.id) + ": " + inc.control +
                          " still open from before mgmtd started: " + inc.cause);
            }
        }
        impl->start_process(s, now);
        if (s.incident) {
            s.incident->restore_action +=
                utc(now) + " vigil-mgmtd restarted" +
                (s.pid > 0 ? "; started the sensor: pid " + std::to_string(s.pid) : std::string()) +
                "\n";
            impl->record(s);
        }
        s.next_check_us = now + static_cast<int64_t>(impl->opts.interval_s * 1e6);
        impl->sensors.push_back(std::move(s));
    }
    Impl* p = impl.get();
    impl->thread = std::thread([p] { p->loop(); });
    return std::unique_ptr<Health>(new Health(std::move(impl)));
}

Health::~Health() {
    stop();
}

void Health::stop() {
    if (!impl_) {
        return;
    }
    {
        std::lock_guard lock(impl_->mu);
        if (impl_->stopping) {
            return;
        }
        impl_->stopping = true;
    }
    impl_->cv.notify_all();
    if (impl_->thread.joinable()) {
        impl_->thread.join();
    }
    // The supervised sensors stop with mgmtd: SIGTERM (they drain their output), SIGKILL
    // after 10 s.
    for (auto& s : impl_->sensors) {
        if (s.pid <= 0) {
            continue;
        }
        ::kill(s.pid, SIGTERM);
        int st = 0;
        bool gone = false;
        for (int i = 0; i < 1000 && !gone; ++i) {
            gone = ::waitpid(s.pid, &st, WNOHANG) == s.pid;
            if (!gone) {
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
        }
        if (!gone) {
            ::kill(-s.pid, SIGKILL);
            ::kill(s.pid, SIGKILL);
            ::waitpid(s.pid, &st, 0);
        }
        impl_->say("sensor " + s.spec.id + ": stopped with vigil-mgmtd (" + describe_exit(st) +
                   ")");
        s.pid = 0;
    }
}

std::vector<ControlState> Health::controls() const {
    std::lock_guard lock(impl_->mu);
    std::vector<ControlState> out;
    const int64_t now = wall_us();
    for (const auto& s : impl_->sensors) {
        ControlState c;
        c.name = "sensor-alive:" + s.spec.id;
        c.sensor = s.spec.id;
        c.owner = s.spec.owner;
        c.state = s.state;
        c.detail = s.detail;
        c.interval_s = impl_->interval_for(s, now);
        c.enhanced_until_us = s.enhanced_until_us;
        c.open_incident = s.incident ? s.incident->id : 0;
        c.last_check_us = s.last_check_us;
        c.pid = s.pid;
        out.push_back(std::move(c));
    }
    return out;
}

const IncidentLog& Health::incidents() const {
    return *impl_->log;
}

IncidentLog& Health::incidents() {
    return *impl_->log;
}

}  // namespace vigil::mgmt
