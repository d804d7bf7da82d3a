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
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "common/clock.h"
#include "common/sd_notify.h"
#include "mgmt/controls.h"
#include "mgmt/ingest_stats.h"
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

// Steps a prepared INSERT; the new row's id. The id comes from the connection's last insert,
// which the API's threads share: the connection's mutex is held over both.
Result<uint64_t> insert(sqlite3* db, sqlite3_stmt* s, const char* what) {
    sqlite3_mutex* mu = sqlite3_db_mutex(db);
    sqlite3_mutex_enter(mu);
    const int rc = sqlite3_step(s);
    const auto id = static_cast<uint64_t>(sqlite3_last_insert_rowid(db));
    sqlite3_mutex_leave(mu);
    if (rc != SQLITE_DONE) {
        return make_error(ErrorCode::Io, sqlite_error(db, what));
    }
    return id;
}

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
              "DEFAULT '', acked_token TEXT NOT NULL DEFAULT '')") ||
        !exec(db,
              "CREATE TABLE IF NOT EXISTS drills (id INTEGER PRIMARY KEY AUTOINCREMENT, "
              "at_us INTEGER NOT NULL, body TEXT NOT NULL)")) {
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
    return insert(db_, s.get(), "incidents");
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

Result<uint64_t> IncidentLog::add_drill(int64_t at_us, const std::string& body) {
    Stmt s;
    sqlite3_prepare_v2(db_, "INSERT INTO drills (at_us, body) VALUES (?1, ?2)", -1, &s.s, nullptr);
    if (!s) {
        return make_error(ErrorCode::Io, sqlite_error(db_, "drills"));
    }
    sqlite3_bind_int64(s.get(), 1, at_us);
    bind_text(s.get(), 2, body);
    return insert(db_, s.get(), "drills");
}

Status IncidentLog::update_drill(uint64_t id, const std::string& body) {
    Stmt s;
    sqlite3_prepare_v2(db_, "UPDATE drills SET body = ?2 WHERE id = ?1", -1, &s.s, nullptr);
    if (!s) {
        return make_error(ErrorCode::Io, sqlite_error(db_, "drills"));
    }
    sqlite3_bind_int64(s.get(), 1, static_cast<int64_t>(id));
    bind_text(s.get(), 2, body);
    if (sqlite3_step(s.get()) != SQLITE_DONE) {
        return make_error(ErrorCode::Io, sqlite_error(db_, "drills"));
    }
    return Ok{};
}

Result<std::vector<std::string>> IncidentLog::drills(size_t limit) const {
    Stmt s;
    sqlite3_prepare_v2(db_, "SELECT body FROM drills ORDER BY id DESC LIMIT ?1", -1, &s.s, nullptr);
    if (!s) {
        return make_error(ErrorCode::Io, sqlite_error(db_, "drills"));
    }
    sqlite3_bind_int64(s.get(), 1, static_cast<int64_t>(limit));
    std::vector<std::string> out;
    while (sqlite3_step(s.get()) == SQLITE_ROW) {
        out.push_back(col_text(s.get(), 0));
    }
    return out;
}

Result<std::vector<Incident>> IncidentLog::open_incidents() const {
    return select("WHERE restored_at_us = 0 ORDER BY id", 0);
}

// ---------------------------------------------------------------------------------------
// Health: the incident lifecycle around the controls (mgmt/controls.h).

using controls::Control;
using controls::Verdict;

struct Health::Impl {
    HealthOptions opts;
    std::unique_ptr<IncidentLog> log;
    controls::Env env;
    mutable std::mutex mu;                    // controls (the API reads them)
    std::vector<controls::SensorView> views;  // one per sensor; sized once (controls point in)
    std::vector<controls::ControlPtr> list;
    Control* integrity = nullptr;
    std::condition_variable cv;
    bool stopping = false;
    std::thread thread;
    int64_t watchdog_us = 0;  // systemd's WATCHDOG_USEC (0: none)
    int64_t last_ping_us = 0;
    int64_t last_touch_us = 0;

    void say(const std::string& line) const {
        if (opts.log != nullptr) {
            std::fprintf(opts.log, "vigil-mgmtd: %s\n", line.c_str());
            std::fflush(opts.log);
        }
    }

    double interval_for(const Control& c, int64_t now) const {
        return now < c.enhanced_until_us ? opts.enhanced_interval_s : opts.interval_s;
    }

    // The latest heartbeat of every sensor: the ingest's (in memory, current even when the
    // store cannot take writes) or the store's (from before this mgmtd started).
    void refresh_views() {
        std::map<std::string, std::pair<int64_t, std::string>> beats;
        if (opts.store != nullptr) {
            if (auto rows = opts.store->sensors(); rows) {
                for (const auto& r : *rows) {
                    beats[r.sensor_id] = {r.last_heartbeat_us, r.heartbeat};
                }
            }
        }
        if (opts.ingest) {
            for (auto& [id, b] : opts.ingest().heartbeats_by_sensor) {
                auto& cur = beats[id];
                if (b.first >= cur.first) {
                    cur = std::move(b);
                }
            }
        }
        for (auto& v : views) {
            auto it = beats.find(v.id);
            if (it == beats.end() || it->second.first <= v.beat_us) {
                continue;
            }
            v.beat_us = it->second.first;
            v.beat = json::parse(it->second.second, nullptr, false);
            if (v.beat.is_discarded() || !v.beat.is_object()) {
                v.beat = json::object();
            }
        }
    }

    void record(Control& c) {
        if (!c.incident) {
            return;
        }
        if (auto st = log->update(*c.incident); !st) {
            say("incident " + std::to_string(c.incident->id) + ": " + st.error().message);
        }
    }

    void notify(Control& c, const std::string& kind) {
        if (opts.notify && c.incident) {
            opts.notify(*c.incident, kind);
        }
    }

    void escalate(Control& c, int64_t now, const std::string& why) {
        Incident& inc = *c.incident;
        if (inc.escalated) {
            return;
        }
        inc.escalated = true;
        inc.restore_action += controls::utc(now) + " escalated: " + why + "\n";
        say("incident " + std::to_string(inc.id) + ": escalated to " + c.owner + ": " + why);
        notify(c, "incident.escalated");
    }

    void run_check(Control& c, int64_t now) {
        c.last_check_us = now;
        ++c.checks;
        const Verdict v = c.check(now);
        switch (v.kind) {
            case Verdict::Kind::Ok:
                if (c.incident) {
                    restored(c, now);
                }
                c.state = "ok";
                c.detail = v.detail;
                return;
            case Verdict::Kind::NotApplicable:
                c.state = "n/a";
                c.detail = v.detail;
                return;
            case Verdict::Kind::Pending:
                if (c.incident) {
                    c.state = "restoring";
                    c.detail = c.incident->cause + "; " + v.detail;
                } else {
                    c.state = "starting";
                    c.detail = v.detail;
                }
                return;
            case Verdict::Kind::Failed:
                ++c.failed_checks;
                fail(c, v.detail, now);
                return;
        }
    }

    // The control failed with `cause`: open the incident (once) and restore.
    void fail(Control& c, const std::string& cause, int64_t now) {
        c.state = "failed";
        c.detail = cause;
        if (!c.incident) {
            Incident inc;
            inc.control = c.name();
            inc.owner = c.owner;
            inc.detected_at_us = now;
            inc.cause = cause + c.cause_note;
            c.cause_note.clear();
            inc.gap = c.gap_at_failure(now).dump();
            auto id = log->add(inc);
            if (!id) {
                say("incident for " + inc.control + " not recorded: " + id.error().message);
            }
            inc.id = id ? *id : 0;
            c.incident = std::move(inc);
            c.last_failure = cause;
            c.last_action.clear();
            say("incident " + std::to_string(c.incident->id) + ": " + c.incident->control +
                " failed: " + cause + " (owner: " + c.owner + ")");
            notify(c, "incident.opened");
            c.next_restore_us = now;
        }
        if (now < c.next_restore_us) {
            c.state = "restoring";
            c.detail = cause + "; next restore in " +
                       controls::seconds(static_cast<double>(c.next_restore_us - now) / 1e6) + " s";
            return;
        }
        restore(c, cause, now);
    }

    void restore(Control& c, const std::string& cause, int64_t now) {
        Incident& inc = *c.incident;
        if (cause != c.last_failure) {
            inc.restore_action += controls::utc(now) + " still failing: " + cause + "\n";
            c.last_failure = cause;
        }
        ++inc.restore_attempts;
        // Back off after failed attempts: 1, 2, 4, ... 30 s; escalated after the third.
        const double backoff = std::min(30.0, std::pow(2.0, inc.restore_attempts - 1));
        c.next_restore_us = now + static_cast<int64_t>(backoff * 1e6);
        if (inc.restore_attempts > 3) {
            escalate(c, now,
                     std::to_string(inc.restore_attempts - 1) +
                         " restores did not bring the control back; retrying");
        }
        const controls::RestoreStep step = c.restore(inc, now);
        if (!step.action.empty() && step.action != c.last_action) {
            inc.restore_action += controls::utc(now) + " " + step.action + "\n";
            c.last_action = step.action;
        }
        if (!step.possible) {
            escalate(c, now, "no automatic restore: the owner must act");
        }
        c.state = "restoring";
        c.detail = inc.cause;
        record(c);
    }

    void restored(Control& c, int64_t now) {
        Incident& inc = *c.incident;
        inc.restored_at_us = now;
        json gap = json::parse(inc.gap.empty() ? "{}" : inc.gap, nullptr, false);
        if (gap.is_discarded() || !gap.is_object()) {
            gap = json::object();
        }
        gap["down_s"] = static_cast<double>(now - inc.detected_at_us) / 1e6;
        c.gap_at_restore(gap, now);
        inc.gap = gap.dump();
        c.enhanced_until_us = now + static_cast<int64_t>(opts.enhanced_for_s * 1e6);
        inc.enhanced_until_us = c.enhanced_until_us;
        inc.mitigation = "enhanced monitoring: " + c.name() + " checked every " +
                         controls::seconds(opts.enhanced_interval_s) + " s until " +
                         controls::utc(c.enhanced_until_us);
        record(c);
        say("incident " + std::to_string(inc.id) + ": " + inc.control + " restored after " +
            controls::seconds(static_cast<double>(now - inc.detected_at_us) / 1e6) + " s; " +
            inc.mitigation);
        notify(c, "incident.restored");
        c.incident.reset();
        c.last_failure.clear();
        c.last_action.clear();
    }

    // The last mgmtd's marker is still there: it did not stop cleanly. Recorded as an incident
    // of the watchdog control, restored at once (this mgmtd runs).
    void check_last_stop(int64_t now) {
        const std::string& marker = opts.alive_marker;
        struct stat st {};
        if (marker.empty() || ::stat(marker.c_str(), &st) != 0) {
            return;
        }
        Control* wd = nullptr;
        for (auto& c : list) {
            if (c->kind == "watchdog") {
                wd = c.get();
            }
        }
        std::ifstream in(marker);
        json m = json::parse(in, nullptr, false);
        if (wd == nullptr || m.is_discarded() || !m.is_object()) {
            return;
        }
        const int64_t last_alive_us =
            static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000 + st.st_mtim.tv_nsec / 1000;
        Incident inc;
        inc.control = wd->name();
        inc.owner = wd->owner;
        inc.detected_at_us = now;
        inc.cause = "the previous vigil-mgmtd (pid " + std::to_string(m.value("pid", 0)) +
                    ", started " + m.value("started", std::string("?")) +
                    ") ended without a clean stop: crashed, killed or stopped by the systemd "
                    "watchdog";
        inc.restore_action = controls::utc(now) + " vigil-mgmtd started again (pid " +
                             std::to_string(::getpid()) + ")\n";
        inc.gap = json{{"mgmtd_last_alive_at", controls::utc(last_alive_us)},
                       {"mgmtd_down_s", static_cast<double>(now - last_alive_us) / 1e6},
                       {"alerts",
                        "kept in the sensors' spools while mgmtd was down and sent "
                        "again on reconnect"}}
                      .dump();
        auto id = log->add(inc);
        inc.id = id ? *id : 0;
        wd->incident = std::move(inc);
        say("incident " + std::to_string(wd->incident->id) + ": " + wd->incident->cause);
        notify(*wd, "incident.opened");
        restored(*wd, now);
    }

    void write_marker(int64_t now) {
        if (opts.alive_marker.empty()) {
            return;
        }
        const std::string tmp = opts.alive_marker + ".new";
        {
            std::ofstream out(tmp, std::ios::trunc);
            out << json{{"pid", ::getpid()}, {"started", controls::utc(now)}}.dump() << "\n";
        }
        std::rename(tmp.c_str(), opts.alive_marker.c_str());
    }

    void touch_marker(int64_t now) {
        if (!opts.alive_marker.empty() && now - last_touch_us >= 1000000) {
            ::utimensat(AT_FDCWD, opts.alive_marker.c_str(), nullptr, 0);
            last_touch_us = now;
        }
    }

    void ping_watchdog(int64_t now) {
        if (watchdog_us > 0 && now - last_ping_us >= watchdog_us / 2) {
            systemd::notify("WATCHDOG=1");
            last_ping_us = now;
        }
    }

    void loop() {
        std::unique_lock lock(mu);
        while (!stopping) {
            int64_t now = wall_us();
            bool due = false;
            for (const auto& c : list) {
                due = due || now >= c->next_check_us;
            }
            if (due) {
                refresh_views();
                now = wall_us();
            }
            int64_t next = now + 1000000;
            for (auto& c : list) {
                if (now >= c->next_check_us) {
                    run_check(*c, now);
                    c->next_check_us = now + static_cast<int64_t>(interval_for(*c, now) * 1e6);
                }
                next = std::min(next, c->next_check_us);
            }
            ping_watchdog(wall_us());
            touch_marker(wall_us());
            if (watchdog_us > 0) {
                next = std::min(next, last_ping_us + watchdog_us / 2);
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
    Impl* p = impl.get();
    impl->env.opts = &impl->opts;
    impl->env.say = [p](const std::string& line) { p->say(line); };
    auto open = impl->log->open_incidents();
    if (!open) {
        return open.error();
    }
    const int64_t now = wall_us();
    impl->views.resize(impl->opts.sensors.size());
    for (size_t i = 0; i < impl->opts.sensors.size(); ++i) {
        impl->views[i].id = impl->opts.sensors[i].id;
    }
    impl->refresh_views();
    // The sensors start here (sensor-alive), in config order.
    for (size_t i = 0; i < impl->opts.sensors.size(); ++i) {
        for (auto& c :
             controls::sensor_controls(impl->opts.sensors[i], &impl->views[i], impl->env)) {
            impl->list.push_back(std::move(c));
        }
    }
    for (auto& c : controls::mgmtd_controls(&impl->views, impl->env)) {
        if (c->kind == "file-integrity") {
            impl->integrity = c.get();
        }
        impl->list.push_back(std::move(c));
    }
    impl->watchdog_us = systemd::watchdog_usec();
    for (auto& c : impl->list) {
        c->since_us = now;
        // An incident left open by the last mgmtd: still open, restored when the control works.
        for (const auto& inc : *open) {
            if (inc.control == c->name()) {
                c->incident = inc;
                c->state = "restoring";
                c->detail = inc.cause;
                c->last_failure = inc.cause;
                impl->say("incident " + std::to_string(inc.id) + ": " + inc.control +
                          " still open from before mgmtd started: " + inc.cause);
                const std::string line = c->resumed(now);
                c->incident->restore_action += controls::utc(now) + " " +
                                               (line.empty() ? "vigil-mgmtd restarted" : line) +
                                               "\n";
                impl->record(*c);
            }
        }
        c->next_check_us = now + static_cast<int64_t>(impl->opts.interval_s * 1e6);
    }
    impl->check_last_stop(now);
    impl->write_marker(now);
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
    // The supervised sensors stop with mgmtd.
    for (auto& c : impl_->list) {
        c->stop(impl_->env);
    }
    if (!impl_->opts.alive_marker.empty()) {
        ::unlink(impl_->opts.alive_marker.c_str());  // a clean stop
    }
}

std::vector<ControlState> Health::controls() const {
    std::lock_guard lock(impl_->mu);
    std::vector<ControlState> out;
    const int64_t now = wall_us();
    for (const auto& c : impl_->list) {
        ControlState s;
        s.name = c->name();
        s.kind = c->kind;
        s.sensor = c->sensor;
        s.owner = c->owner;
        s.state = c->state;
        s.detail = c->detail;
        s.interval_s = impl_->interval_for(*c, now);
        s.enhanced_until_us = c->enhanced_until_us > now ? c->enhanced_until_us : 0;
        s.open_incident = c->incident ? c->incident->id : 0;
        s.last_check_us = c->last_check_us;
        s.pid = c->pid();
        s.checks = c->checks;
        s.failed_checks = c->failed_checks;
        s.since_us = c->since_us;
        out.push_back(std::move(s));
    }
    return out;
}

Result<std::string> Health::drill(const DrillOptions& o) {
    Impl& im = *impl_;
    // One drill at a time.
    static std::mutex drill_mu;
    std::unique_lock busy(drill_mu, std::try_to_lock);
    if (!busy.owns_lock()) {
        return make_error(ErrorCode::Busy, "another drill is running");
    }
    Control* c = nullptr;
    controls::SensorView before;
    std::string how;
    json r = json::object();
    int64_t stopped_us = 0;
    uint64_t drill_id = 0;
    {
        std::lock_guard lock(im.mu);
        std::vector<Control*> alive;
        for (auto& x : im.list) {
            if (x->kind == "sensor-alive" && (o.sensor.empty() || x->sensor == o.sensor)) {
                alive.push_back(x.get());
            }
        }
        if (alive.empty()) {
            return make_error(ErrorCode::BadInput,
                              o.sensor.empty() ? "no sensor in mgmtd.yaml (sensors:) to drill"
                                               : "no sensor '" + o.sensor + "' in mgmtd.yaml");
        }
        if (alive.size() > 1) {
            return make_error(ErrorCode::BadInput, "several sensors: name the one to drill");
        }
        c = alive.front();
        if (c->state != "ok" || c->incident) {
            return make_error(ErrorCode::Busy, c->name() + " is " + c->state +
                                                   " now: a drill starts from a working control");
        }
        for (const auto& v : im.views) {
            if (v.id == c->sensor) {
                before = v;
            }
        }
        r = json{{"sensor", c->sensor},
                 {"control", c->name()},
                 {"by", o.by},
                 {"started_at", iso8601_utc(wall_us())},
                 {"objectives",
                  {{"detect_s", o.detect_objective_s}, {"restore_s", o.restore_objective_s}}},
                 {"state", "running"}};
        auto id = im.log->add_drill(wall_us(), r.dump());
        if (!id) {
            return id.error();
        }
        drill_id = *id;
        r["id"] = drill_id;
        c->cause_note = " (drill " + std::to_string(drill_id) + ")";
        auto stopped = c->stop_for_drill();
        if (!stopped) {
            c->cause_note.clear();
            r["state"] = "refused";
            r["error"] = stopped.error().message;
            (void)im.log->update_drill(drill_id, r.dump());
            return stopped.error();
        }
        how = *stopped;
        stopped_us = wall_us();
        im.say("drill " + std::to_string(drill_id) + ": " + how);
    }
    im.cv.notify_all();
    r["method"] = how;
    auto stored = [&](uint64_t SensorRow::*field) -> uint64_t {
        if (im.opts.store == nullptr) {
            return 0;
        }
        if (auto rows = im.opts.store->sensors(); rows) {
            for (const auto& row : *rows) {
                if (row.sensor_id == c->sensor) {
                    return row.*field;
                }
            }
        }
        return 0;
    };
    // The last seq the stopped process assigned, as far as mgmtd knows: its last heartbeat or
    // what the store holds, whichever is further.
    const uint64_t last_seq = std::max(before.num("last_seq"), stored(&SensorRow::committed_seq));
    r["last_seq_at_stop"] = last_seq;
    uint64_t gaps_before = 0;
    auto gap_records = [&] { return stored(&SensorRow::gap_records); };
    gaps_before = gap_records();
    const int64_t deadline = stopped_us + static_cast<int64_t>(o.timeout_s * 1e6);
    // Wait for the incident to open and close.
    std::optional<Incident> inc;
    while (wall_us() < deadline) {
        if (auto all = im.log->list(20); all) {
            for (const auto& i : *all) {
                if (i.control == c->name() && i.detected_at_us >= stopped_us) {
                    inc = i;
                }
            }
        }
        if (inc && inc->restored_at_us > 0) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::string failed;
    if (!inc) {
        failed = "not detected within " + controls::seconds(o.timeout_s) + " s";
    } else {
        r["incident"] = inc->id;
        const double detect = static_cast<double>(inc->detected_at_us - stopped_us) / 1e6;
        r["detected_after_s"] = detect;
        r["detect_met"] = detect <= o.detect_objective_s;
        if (detect > o.detect_objective_s) {
            failed = "detection took " + controls::seconds(detect) + " s (objective " +
                     controls::seconds(o.detect_objective_s) + " s)";
        }
        if (inc->restored_at_us == 0) {
            r["restored_after_s"] = nullptr;
            r["restore_met"] = false;
            failed += (failed.empty() ? "" : "; ") + std::string("not restored within ") +
                      controls::seconds(o.timeout_s) + " s";
        } else {
            const double restore = static_cast<double>(inc->restored_at_us - stopped_us) / 1e6;
            r["restored_after_s"] = restore;
            r["restore_met"] = restore <= o.restore_objective_s;
            if (restore > o.restore_objective_s) {
                failed += (failed.empty() ? "" : "; ") + std::string("restoration took ") +
                          controls::seconds(restore) + " s (objective " +
                          controls::seconds(o.restore_objective_s) + " s)";
            }
        }
    }
    // No alert lost: the restarted sensor's acknowledged seq reaches the last seq assigned
    // before the stop (its spool was resent), with no gap recorded meanwhile.
    uint64_t acked = 0;
    if (inc && inc->restored_at_us > 0) {
        while (wall_us() < deadline) {
            // The highest seq stored with every one before it (the store's committed seq).
            acked = std::max(acked, stored(&SensorRow::committed_seq));
            if (acked >= last_seq) {
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }
    const uint64_t gaps = gap_records() - std::min(gap_records(), gaps_before);
    r["acked_seq_after"] = acked;
    r["records_lost"] = gaps;
    const bool none_lost = acked >= last_seq && gaps == 0 && inc && inc->restored_at_us > 0;
    r["no_alert_lost"] = none_lost;
    if (!none_lost) {
        failed += (failed.empty() ? "" : "; ") +
                  (gaps > 0 ? std::to_string(gaps) + " record(s) lost"
                            : "alerts up to seq " + std::to_string(last_seq) +
                                  " not confirmed delivered (acknowledged " +
                                  std::to_string(acked) + ")");
    }
    {
        std::lock_guard lock(im.mu);
        c->cause_note.clear();  // not used when no incident opened
    }
    r["ended_at"] = iso8601_utc(wall_us());
    r["state"] = failed.empty() ? "passed" : "failed";
    r["result"] = failed.empty() ? "every objective met, no alert lost" : failed;
    if (auto st = im.log->update_drill(drill_id, r.dump()); !st) {
        im.say("drill " + std::to_string(drill_id) + ": not recorded: " + st.error().message);
    }
    im.say("drill " + std::to_string(drill_id) + ": " + r["state"].get<std::string>() + ": " +
           r["result"].get<std::string>());
    return r.dump();
}

Result<size_t> Health::accept_integrity_baseline() {
    std::lock_guard lock(impl_->mu);
    if (impl_->integrity == nullptr) {
        return make_error(ErrorCode::BadInput, "no file-integrity control");
    }
    auto n = controls::accept_baseline(*impl_->integrity);
    if (n) {
        impl_->say("file-integrity: new baseline of " + std::to_string(*n) + " file(s) accepted");
        impl_->integrity->next_check_us = 0;  // checked at the next pass
    }
    impl_->cv.notify_all();
    return n;
}

const IncidentLog& Health::incidents() const {
    return *impl_->log;
}

IncidentLog& Health::incidents() {
    return *impl_->log;
}

}  // namespace vigil::mgmt
