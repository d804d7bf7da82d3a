// The SQLite store: one file in WAL mode. The ingest thread is the only writer and commits a
// batch per transaction; readers (the API's threads) take a connection of their own from a
// small pool, so they never wait on a commit.

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <mutex>

#include "common/clock.h"
#include "mgmt/sqlite_util.h"
#include "mgmt/store.h"

namespace vigil::mgmt {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS events(
    id INTEGER PRIMARY KEY,
    sensor_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    received INTEGER NOT NULL,
    event_type TEXT NOT NULL,
    gid INTEGER, sid INTEGER,
    src_ip TEXT, dest_ip TEXT, src_port INTEGER, dest_port INTEGER,
    proto TEXT, action TEXT,
    eve TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS events_sensor_seq ON events(sensor_id, seq);
CREATE INDEX IF NOT EXISTS events_ts ON events(ts);
CREATE INDEX IF NOT EXISTS events_sid ON events(sid);
CREATE INDEX IF NOT EXISTS events_src ON events(src_ip);
CREATE INDEX IF NOT EXISTS events_dst ON events(dest_ip);
CREATE TABLE IF NOT EXISTS sensors(
    sensor_id TEXT PRIMARY KEY,
    first_seen INTEGER NOT NULL,
    last_heartbeat INTEGER NOT NULL DEFAULT 0,
    version TEXT NOT NULL DEFAULT '',
    committed_seq INTEGER NOT NULL DEFAULT 0,
    events INTEGER NOT NULL DEFAULT 0,
    alerts INTEGER NOT NULL DEFAULT 0,
    gap_records INTEGER NOT NULL DEFAULT 0,
    heartbeat TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS gaps(
    sensor_id TEXT NOT NULL, from_seq INTEGER NOT NULL, to_seq INTEGER NOT NULL,
    reason TEXT NOT NULL, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
)sql";

Error store_error(sqlite3* db, const std::string& what) {
    return make_error(ErrorCode::Io, what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

void bind_opt_text(sqlite3_stmt* s, int i, const std::string& v) {
    if (v.empty()) {
        sqlite3_bind_null(s, i);
    } else {
        bind_text(s, i, v);
    }
}
Result<sqlite3*> open_db(const std::string& path, bool read_only) {
    if (!read_only) {
        // Alerts are classified: the store is the owner's alone (SQLite gives its -wal and
        // -shm files the database file's mode).
        const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0) {
            ::fchmod(fd, 0600);
            ::close(fd);
        }
    }
    sqlite3* db = nullptr;
    const int flags =
        (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
        SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
        Error e = store_error(db, path);
        sqlite3_close(db);
        return e;
    }
    sqlite3_busy_timeout(db, 5000);
    exec(db, "PRAGMA foreign_keys=OFF");
    return db;
}

class SqliteStore final : public Store {
public:
    SqliteStore(StoreOptions o, sqlite3* w) : o_(std::move(o)), w_(w) {}
    ~SqliteStore() override {
        for (auto* s : {ins_event_, up_sensor_, new_sensor_, ins_gap_, hb_, gap_count_}) {
            sqlite3_finalize(s);
        }
        sqlite3_close(w_);
        for (auto* db : readers_) {
            sqlite3_close(db);
        }
    }

    Status init() {
        if (!o_.read_only) {
            // 16 KB pages (a new store only): fewer page writes per record appended, and
            // fewer index pages dirtied per batch; +20-50% committed alerts/s in mgmt_bench.
            exec(w_, "PRAGMA page_size=16384");
            if (!exec(w_, "PRAGMA journal_mode=WAL") || !exec(w_, "PRAGMA synchronous=NORMAL") ||
                !exec(w_, kSchema)) {
                return store_error(w_, o_.path);
            }
            if (auto st = migrate(); !st) {
                return st;
            }
            // ~64 MB of page cache for the writer: the indexes' hot pages stay in memory.
            exec(w_, "PRAGMA cache_size=-262144");     // 256 MB: the indexes' hot pages
            exec(w_, "PRAGMA mmap_size=17179869184");  // reads without a syscall each
            // The WAL is folded into the database every ~40 MB (a page updated many times
            // between checkpoints is written back once) and kept at most 64 MB on disk.
            exec(w_, "PRAGMA wal_autocheckpoint=10000");
            exec(w_, "PRAGMA journal_size_limit=67108864");
            const char* sql[] = {
                "INSERT INTO events(sensor_id,seq,ts,event_type,gid,sid,src_ip,dest_ip,src_port,"
                "dest_port,proto,action,eve,received) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                "UPDATE sensors SET committed_seq=?2, events=events+?3, alerts=alerts+?4 WHERE "
                "sensor_id=?1",
                "INSERT OR IGNORE INTO sensors(sensor_id, first_seen) VALUES(?1, ?2)",
                "INSERT INTO gaps(sensor_id,from_seq,to_seq,reason,at) VALUES(?,?,?,?,?)",
                "UPDATE sensors SET last_heartbeat=?2, heartbeat=?3, version=?4 WHERE sensor_id=?1",
                "UPDATE sensors SET gap_records=gap_records+?2 WHERE sensor_id=?1",
            };
            sqlite3_stmt** out[] = {&ins_event_, &up_sensor_, &new_sensor_,
                                    &ins_gap_,   &hb_,        &gap_count_};
            for (size_t i = 0; i < std::size(sql); ++i) {
                if (sqlite3_prepare_v3(w_, sql[i], -1, SQLITE_PREPARE_PERSISTENT, out[i],
                                       nullptr) != SQLITE_OK) {
                    return store_error(w_, o_.path);
                }
            }
        }
        return Ok{};
    }

    // Schema versions (PRAGMA user_version): 0/1 before sensors.alerts existed; 2 now.
    Status migrate() {
        Stmt v;
        if (sqlite3_prepare_v2(w_, "PRAGMA user_version", -1, &v.s, nullptr) != SQLITE_OK ||
            sqlite3_step(v.s) != SQLITE_ROW) {
            return store_error(w_, o_.path);
        }
        const int version = sqlite3_column_int(v.s, 0);
        v.reset();
        if (version >= 2) {
            return Ok{};
        }
        Stmt cols;
        bool has_alerts = false;
        sqlite3_prepare_v2(w_, "PRAGMA table_info(sensors)", -1, &cols.s, nullptr);
        while (cols.s != nullptr && sqlite3_step(cols.s) == SQLITE_ROW) {
            has_alerts = has_alerts || col_text(cols.s, 1) == "alerts";
        }
        cols.reset();
        const bool ok =
            exec(w_, "BEGIN IMMEDIATE") &&
            (has_alerts ||
             exec(w_, "ALTER TABLE sensors ADD COLUMN alerts INTEGER NOT NULL DEFAULT 0")) &&
            exec(w_,
                 "UPDATE sensors SET alerts = (SELECT COUNT(*) FROM events WHERE "
                 "events.sensor_id = sensors.sensor_id AND event_type = 'alert')") &&
            exec(w_, "PRAGMA user_version=2") && exec(w_, "COMMIT");
        if (!ok) {
            Error e = store_error(w_, o_.path + ": schema upgrade");
            exec(w_, "ROLLBACK");
            return e;
        }
        return Ok{};
    }

    Status commit(const Batch& b) override {
        if (!exec(w_, "BEGIN IMMEDIATE")) {
            return store_error(w_, "begin");
        }
        auto fail = [&](const char* what) -> Status {
            Error e = store_error(w_, what);
            exec(w_, "ROLLBACK");
            // A full disk: what is committed may sit in the WAL only, which cannot shrink
            // until it is checkpointed. Try now, so that freed space is usable at once.
            exec(w_, "PRAGMA wal_checkpoint(TRUNCATE)");
            return e;
        };
        const int64_t now = wall_us();
        std::map<std::string, uint64_t> added;
        std::map<std::string, uint64_t> alerts_added;
        auto ensure_sensor = [&](const std::string& id) {
            if (added.emplace(id, 0).second) {
                sqlite3_reset(new_sensor_);
                bind_text(new_sensor_, 1, id);
                sqlite3_bind_int64(new_sensor_, 2, now);
                return sqlite3_step(new_sensor_) == SQLITE_DONE;
            }
            return true;
        };
        for (const auto& e : b.events) {
            if (!ensure_sensor(e.sensor_id)) {
                return fail("sensor");
            }
            sqlite3_stmt* s = ins_event_;
            sqlite3_reset(s);
            bind_text(s, 1, e.sensor_id);
            sqlite3_bind_int64(s, 2, static_cast<int64_t>(e.seq));
            sqlite3_bind_int64(s, 3, e.ts_us);
            bind_text(s, 4, e.event_type);
            if (e.sid != 0) {
                sqlite3_bind_int64(s, 5, e.gid);
                sqlite3_bind_int64(s, 6, e.sid);
            } else {
                sqlite3_bind_null(s, 5);
                sqlite3_bind_null(s, 6);
            }
            bind_opt_text(s, 7, e.src_ip);
            bind_opt_text(s, 8, e.dest_ip);
            sqlite3_bind_int(s, 9, e.src_port);
            sqlite3_bind_int(s, 10, e.dest_port);
            bind_opt_text(s, 11, e.proto);
            bind_opt_text(s, 12, e.action);
            // The record's text stays put until the step is done: bound without a copy.
            sqlite3_bind_text(s, 13, e.eve.data(), static_cast<int>(e.eve.size()), SQLITE_STATIC);
            sqlite3_bind_int64(s, 14, now);
            if (sqlite3_step(s) != SQLITE_DONE) {
                return fail("insert");
            }
            ++added[e.sensor_id];
            if (e.event_type == "alert") {
                ++alerts_added[e.sensor_id];
            }
        }
        for (const auto& g : b.gaps) {
            if (!ensure_sensor(g.sensor_id)) {
                return fail("sensor");
            }
            sqlite3_reset(ins_gap_);
            bind_text(ins_gap_, 1, g.sensor_id);
            sqlite3_bind_int64(ins_gap_, 2, static_cast<int64_t>(g.from));
            sqlite3_bind_int64(ins_gap_, 3, static_cast<int64_t>(g.to));
            bind_text(ins_gap_, 4, g.reason);
            sqlite3_bind_int64(ins_gap_, 5, now);
            sqlite3_reset(gap_count_);
            bind_text(gap_count_, 1, g.sensor_id);
            sqlite3_bind_int64(gap_count_, 2, static_cast<int64_t>(g.to - g.from + 1));
            if (sqlite3_step(ins_gap_) != SQLITE_DONE || sqlite3_step(gap_count_) != SQLITE_DONE) {
                return fail("gap");
            }
        }
        for (const auto& h : b.heartbeats) {
            if (!ensure_sensor(h.sensor_id)) {
                return fail("sensor");
            }
            sqlite3_reset(hb_);
            bind_text(hb_, 1, h.sensor_id);
            sqlite3_bind_int64(hb_, 2, h.received_us);
            bind_text(hb_, 3, h.body);
            bind_text(hb_, 4, h.version);
            if (sqlite3_step(hb_) != SQLITE_DONE) {
                return fail("heartbeat");
            }
        }
        for (const auto& [id, seq] : b.committed) {
            if (!ensure_sensor(id)) {
                return fail("sensor");
            }
            sqlite3_reset(up_sensor_);
            bind_text(up_sensor_, 1, id);
            sqlite3_bind_int64(up_sensor_, 2, static_cast<int64_t>(seq));
            sqlite3_bind_int64(up_sensor_, 3, static_cast<int64_t>(added[id]));
            sqlite3_bind_int64(up_sensor_, 4, static_cast<int64_t>(alerts_added[id]));
            if (sqlite3_step(up_sensor_) != SQLITE_DONE) {
                return fail("sensor");
            }
        }
        if (!exec(w_, "COMMIT")) {
            return fail("commit");
        }
        return Ok{};
    }

    Result<std::vector<std::pair<std::string, uint64_t>>> committed_seqs() override {
        std::vector<std::pair<std::string, uint64_t>> out;
        Stmt st;
        if (sqlite3_prepare_v2(w_, "SELECT sensor_id, committed_seq FROM sensors", -1, &st.s,
                               nullptr) != SQLITE_OK) {
            return store_error(w_, "sensors");
        }
        while (sqlite3_step(st.s) == SQLITE_ROW) {
            out.emplace_back(col_text(st.s, 0),
                             static_cast<uint64_t>(sqlite3_column_int64(st.s, 1)));
        }
        return out;
    }

    Status apply_retention(int64_t now) override {
        if (o_.retention_days > 0) {
            // By the time mgmtd received a record, not its EVE timestamp: a replay of last
            // year's capture is kept as long as today's traffic. Ids grow with the time
            // received, so the oldest are the lowest ids (no index needed).
            const int64_t cutoff = now - static_cast<int64_t>(o_.retention_days) * 86400 * 1000000;
            for (;;) {
                auto n = delete_chunk(
                    "DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id LIMIT "
                    "10000) AND received < ? RETURNING sensor_id, event_type",
                    cutoff);
                if (!n) {
                    return n.error();
                }
                if (*n < 10000) {
                    break;
                }
            }
        }
        if (o_.max_bytes > 0) {
            // Pages in use (a deleted row's pages are reused, the file does not shrink). The
            // oldest go, about as many as the excess holds at the average row size.
            for (int round = 0; round < 1000; ++round) {
                const uint64_t used = used_bytes(w_);
                if (used <= o_.max_bytes) {
                    break;
                }
                const uint64_t rows = std::max<uint64_t>(1, event_count(w_));
                const uint64_t per_row = std::max<uint64_t>(1, used / rows);
                const uint64_t chunk =
                    std::clamp<uint64_t>((used - o_.max_bytes) / per_row + 1, 1, 10000);
                const std::string sql =
                    "DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id LIMIT " +
                    std::to_string(chunk) + ") RETURNING sensor_id, event_type";
                auto n = delete_chunk(sql.c_str(), std::nullopt);
                if (!n) {
                    return n.error();
                }
                if (*n == 0) {
                    break;
                }
            }
        }
        return Ok{};
    }

    Status check_writable() override {
        if (!exec(w_,
                  "BEGIN IMMEDIATE; INSERT OR REPLACE INTO meta(key,value) VALUES('probe', 1); "
                  "COMMIT")) {
            Error e = store_error(w_, o_.path);
            exec(w_, "ROLLBACK");
            return e;
        }
        return Ok{};
    }

    Result<QueryPage> query(const EventQuery& q) override {
        std::string sql = "SELECT id, sensor_id, seq, eve FROM events WHERE event_type = ?";
        std::vector<std::pair<int, std::string>> texts;  // (index, value)
        std::vector<std::pair<int, int64_t>> ints;
        int n = 1;
        texts.emplace_back(n++, q.event_type);
        auto add_text = [&](const char* clause, const std::string& v) {
            sql += clause;
            texts.emplace_back(n++, v);
        };
        auto add_int = [&](const char* clause, int64_t v) {
            sql += clause;
            ints.emplace_back(n++, v);
        };
        // Time bounds filter a walk in id order (+ts: not through the ts index, which would
        // read the whole range and sort it to return the newest page).
        if (q.since_us) {
            add_int(" AND +ts >= ?", *q.since_us);
        }
        if (q.until_us) {
            add_int(" AND +ts <= ?", *q.until_us);
        }
        if (!q.sensor.empty()) {
            add_text(" AND sensor_id = ?", q.sensor);
        }
        if (q.sid) {
            add_int(" AND sid = ?", *q.sid);
        }
        if (!q.src_ip.empty()) {
            add_text(" AND src_ip = ?", q.src_ip);
        }
        if (!q.dest_ip.empty()) {
            add_text(" AND dest_ip = ?", q.dest_ip);
        }
        if (!q.proto.empty()) {
            add_text(" AND proto = ? COLLATE NOCASE", q.proto);
        }
        if (!q.action.empty()) {
            add_text(" AND action = ?", q.action);
        }
        // One sensor's records are in seq order as they are in id order (committed in seq
        // order): ordering by seq walks the (sensor_id, seq) index instead of sorting.
        const char* order = q.sensor.empty() ? "id" : "seq";
        if (q.ascending) {
            add_int(" AND id > ?", q.after_id);
            sql += std::string(" ORDER BY ") + order + " ASC";
        } else {
            add_int(" AND id < ?", q.before_id > 0 ? q.before_id : INT64_MAX);
            sql += std::string(" ORDER BY ") + order + " DESC";
        }
        const uint32_t limit = std::clamp<uint32_t>(q.limit, 1, 10000);
        add_int(" LIMIT ?", static_cast<int64_t>(limit) + 1);

        Reader r(*this);
        if (!r.db) {
            return r.error;
        }
        Stmt st;
        if (sqlite3_prepare_v2(r.db, sql.c_str(), -1, &st.s, nullptr) != SQLITE_OK) {
            return store_error(r.db, "query");
        }
        for (const auto& [i, v] : texts) {
            bind_text(st.s, i, v);
        }
        for (const auto& [i, v] : ints) {
            sqlite3_bind_int64(st.s, i, v);
        }
        QueryPage page;
        int rc;
        while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) {
            if (page.items.size() == limit) {
                page.more = true;
                break;
            }
            page.items.push_back(StoredEvent{sqlite3_column_int64(st.s, 0), col_text(st.s, 1),
                                             static_cast<uint64_t>(sqlite3_column_int64(st.s, 2)),
                                             col_text(st.s, 3)});
        }
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
            return store_error(r.db, "query");
        }
        return page;
    }

    Result<std::optional<StoredEvent>> get(int64_t id) override {
        Reader r(*this);
        if (!r.db) {
            return r.error;
        }
        Stmt st;
        if (sqlite3_prepare_v2(r.db, "SELECT id, sensor_id, seq, eve FROM events WHERE id = ?", -1,
                               &st.s, nullptr) != SQLITE_OK) {
            return store_error(r.db, "get");
        }
        sqlite3_bind_int64(st.s, 1, id);
        const int rc = sqlite3_step(st.s);
        if (rc == SQLITE_DONE) {
            return std::optional<StoredEvent>{};
        }
        if (rc != SQLITE_ROW) {
            return store_error(r.db, "get");
        }
        return std::optional<StoredEvent>(
            StoredEvent{sqlite3_column_int64(st.s, 0), col_text(st.s, 1),
                        static_cast<uint64_t>(sqlite3_column_int64(st.s, 2)), col_text(st.s, 3)});
    }

    Result<std::vector<SensorRow>> sensors() override {
        Reader r(*this);
        if (!r.db) {
            return r.error;
        }
        Stmt st;
        if (sqlite3_prepare_v2(r.db,
                               "SELECT sensor_id, first_seen, last_heartbeat, version, "
                               "committed_seq, events, gap_records, heartbeat FROM sensors ORDER "
                               "BY sensor_id",
                               -1, &st.s, nullptr) != SQLITE_OK) {
            return store_error(r.db, "sensors");
        }
        std::vector<SensorRow> out;
        while (sqlite3_step(st.s) == SQLITE_ROW) {
            SensorRow s;
            s.sensor_id = col_text(st.s, 0);
            s.first_seen_us = sqlite3_column_int64(st.s, 1);
            s.last_heartbeat_us = sqlite3_column_int64(st.s, 2);
            s.version = col_text(st.s, 3);
            s.committed_seq = static_cast<uint64_t>(sqlite3_column_int64(st.s, 4));
            s.events = static_cast<uint64_t>(sqlite3_column_int64(st.s, 5));
            s.gap_records = static_cast<uint64_t>(sqlite3_column_int64(st.s, 6));
            s.heartbeat = col_text(st.s, 7);
            out.push_back(std::move(s));
        }
        return out;
    }

    Result<StoreStats> stats() override {
        Reader r(*this);
        if (!r.db) {
            return r.error;
        }
        StoreStats s;
        s.used_bytes = used_bytes(r.db);
        std::error_code ec;
        for (const char* suffix : {"", "-wal", "-shm"}) {
            const auto sz = std::filesystem::file_size(o_.path + suffix, ec);
            if (!ec) {
                s.bytes += sz;
            }
        }
        Stmt st;
        // The sensors table keeps the per-sensor count, so no full scan of events.
        if (sqlite3_prepare_v2(r.db, "SELECT COALESCE(SUM(events),0) FROM sensors", -1, &st.s,
                               nullptr) == SQLITE_OK &&
            sqlite3_step(st.s) == SQLITE_ROW) {
            s.events = static_cast<uint64_t>(sqlite3_column_int64(st.s, 0));
        }
        Stmt mm;
        if (sqlite3_prepare_v2(r.db,
                               "SELECT (SELECT MIN(ts) FROM events), (SELECT MAX(ts) FROM events)",
                               -1, &mm.s, nullptr) == SQLITE_OK &&
            sqlite3_step(mm.s) == SQLITE_ROW) {
            s.oldest_us = sqlite3_column_int64(mm.s, 0);
            s.newest_us = sqlite3_column_int64(mm.s, 1);
        }
        s.deleted_by_retention = deleted_;
        auto per = alerts_per_sensor_on(r.db);
        if (per) {
            for (const auto& [id, n] : *per) {
                s.alerts += n;
            }
        }
        return s;
    }

    Result<std::vector<std::pair<std::string, uint64_t>>> alerts_per_sensor() override {
        Reader r(*this);
        if (!r.db) {
            return r.error;
        }
        return alerts_per_sensor_on(r.db);
    }

private:
    // One transaction: the rows `sql` deletes (it returns their sensor_id) and the sensors'
    // counts, so the per-sensor counts stay what the table holds.
    Result<size_t> delete_chunk(const char* sql, std::optional<int64_t> arg) {
        if (!exec(w_, "BEGIN IMMEDIATE")) {
            return store_error(w_, "retention");
        }
        std::map<std::string, std::pair<int64_t, int64_t>> per;  // events, alerts
        size_t n = 0;
        {
            Stmt st;
            if (sqlite3_prepare_v2(w_, sql, -1, &st.s, nullptr) != SQLITE_OK) {
                Error e = store_error(w_, "retention");
                exec(w_, "ROLLBACK");
                return e;
            }
            if (arg) {
                sqlite3_bind_int64(st.s, 1, *arg);
            }
            int rc;
            while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) {
                auto& p = per[col_text(st.s, 0)];
                ++p.first;
                p.second += col_text(st.s, 1) == "alert" ? 1 : 0;
                ++n;
            }
            if (rc != SQLITE_DONE) {
                Error e = store_error(w_, "retention");
                exec(w_, "ROLLBACK");
                return e;
            }
        }
        for (const auto& [id, count] : per) {
            Stmt up;
            sqlite3_prepare_v2(w_,
                               "UPDATE sensors SET events = MAX(0, events - ?2), alerts = MAX(0, "
                               "alerts - ?3) WHERE sensor_id = ?1",
                               -1, &up.s, nullptr);
            bind_text(up.s, 1, id);
            sqlite3_bind_int64(up.s, 2, count.first);
            sqlite3_bind_int64(up.s, 3, count.second);
            if (sqlite3_step(up.s) != SQLITE_DONE) {
                Error e = store_error(w_, "retention");
                exec(w_, "ROLLBACK");
                return e;
            }
        }
        if (!exec(w_, "COMMIT")) {
            Error e = store_error(w_, "retention");
            exec(w_, "ROLLBACK");
            return e;
        }
        deleted_ += n;
        return n;
    }

    // A pooled read connection for the duration of one call.
    struct Reader {
        SqliteStore& s;
        sqlite3* db = nullptr;
        Error error;
        explicit Reader(SqliteStore& st) : s(st) {
            {
                std::lock_guard lk(s.mu_);
                if (!s.readers_.empty()) {
                    db = s.readers_.back();
                    s.readers_.pop_back();
                    return;
                }
            }
            auto r = open_db(s.o_.path, true);
            if (!r) {
                error = r.error();
                return;
            }
            db = *r;
            exec(db, "PRAGMA cache_size=-16384");
            exec(db, "PRAGMA mmap_size=17179869184");
        }
        ~Reader() {
            if (db) {
                std::lock_guard lk(s.mu_);
                s.readers_.push_back(db);
            }
        }
    };

    static uint64_t event_count(sqlite3* db) {
        Stmt st;
        if (sqlite3_prepare_v2(db, "SELECT COALESCE(SUM(events),0) FROM sensors", -1, &st.s,
                               nullptr) != SQLITE_OK ||
            sqlite3_step(st.s) != SQLITE_ROW) {
            return 0;
        }
        return static_cast<uint64_t>(sqlite3_column_int64(st.s, 0));
    }

    static uint64_t used_bytes(sqlite3* db) {
        auto one = [&](const char* sql) -> int64_t {
            Stmt st;
            if (sqlite3_prepare_v2(db, sql, -1, &st.s, nullptr) != SQLITE_OK ||
                sqlite3_step(st.s) != SQLITE_ROW) {
                return 0;
            }
            return sqlite3_column_int64(st.s, 0);
        };
        const int64_t pages = one("PRAGMA page_count") - one("PRAGMA freelist_count");
        return static_cast<uint64_t>(std::max<int64_t>(0, pages) * one("PRAGMA page_size"));
    }

    Result<std::vector<std::pair<std::string, uint64_t>>> alerts_per_sensor_on(sqlite3* db) {
        // Kept per sensor at commit and retention: no scan of the events.
        Stmt st;
        if (sqlite3_prepare_v2(db, "SELECT sensor_id, alerts FROM sensors ORDER BY sensor_id", -1,
                               &st.s, nullptr) != SQLITE_OK) {
            return store_error(db, "alerts per sensor");
        }
        std::vector<std::pair<std::string, uint64_t>> out;
        while (sqlite3_step(st.s) == SQLITE_ROW) {
            out.emplace_back(col_text(st.s, 0),
                             static_cast<uint64_t>(sqlite3_column_int64(st.s, 1)));
        }
        return out;
    }

    StoreOptions o_;
    sqlite3* w_;
    sqlite3_stmt* ins_event_ = nullptr;
    sqlite3_stmt* up_sensor_ = nullptr;
    sqlite3_stmt* new_sensor_ = nullptr;
    sqlite3_stmt* ins_gap_ = nullptr;
    sqlite3_stmt* hb_ = nullptr;
    sqlite3_stmt* gap_count_ = nullptr;
    std::mutex mu_;
    std::vector<sqlite3*> readers_;
    uint64_t deleted_ = 0;
};

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const StoreOptions& o) {
    if (!o.read_only) {
        std::error_code ec;
        const auto dir = std::filesystem::path(o.path).parent_path();
        if (!dir.empty()) {
            std::filesystem::create_directories(dir, ec);
            if (ec) {
                return make_error(ErrorCode::Io, dir.string() + ": " + ec.message());
            }
        }
    }
    auto db = open_db(o.path, o.read_only);
    if (!db) {
        return db.error();
    }
    auto s = std::make_unique<SqliteStore>(o, *db);
    if (auto st = s->init(); !st) {
        return st.error();
    }
    return std::unique_ptr<Store>(std::move(s));
}

}  // namespace vigil::mgmt
