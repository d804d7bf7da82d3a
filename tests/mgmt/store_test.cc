// The SQLite store (mgmt/store.h) and the ingest protocol (IngestCore) on a real database file.

#include "mgmt/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>

#include "common/wire.h"
#include "mgmt/ingest.h"

namespace vigil::mgmt {
namespace {

class TempDir {
public:
    TempDir() {
        char tmpl[] = "/tmp/vigil-store-test-XXXXXX";
        path_ = mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

int64_t now_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string alert(uint32_t sid, const std::string& src, const std::string& ts,
                  const char* action = "allowed") {
    return R"({"timestamp":")" + ts + R"(","event_type":"alert","src_ip":")" + src +
           R"(","src_port":1234,"dest_ip":"10.9.0.1","dest_port":80,"proto":"TCP","alert":{"action":")" +
           action + R"(","gid":1,"signature_id":)" + std::to_string(sid) +
           R"(,"rev":1,"signature":"s"}})";
}

Batch batch_of(const std::string& sensor, uint64_t first, uint64_t n, uint32_t sid_mod = 3) {
    Batch b;
    for (uint64_t i = first; i < first + n; ++i) {
        auto r = parse_event(
            sensor, i,
            alert(static_cast<uint32_t>(1000 + i % sid_mod), "10.0.0." + std::to_string(i % 7),
                  "2024-01-01T00:00:" + std::string(i % 60 < 10 ? "0" : "") +
                      std::to_string(i % 60) + ".000000+0000",
                  i % 2 ? "allowed" : "blocked"));
        EXPECT_TRUE(r.ok()) << r.error().message;
        b.events.push_back(std::move(*r));
    }
    b.committed.emplace_back(sensor, first + n - 1);
    return b;
}

TEST(ParseEventTest, TakesTheIndexedFieldsAndRefusesWhatIsNotARecord) {
    auto r =
        parse_event("s", 7, alert(2001, "192.0.2.1", "2024-01-02T03:04:05.250000+0100", "blocked"));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->sid, 2001u);
    EXPECT_EQ(r->gid, 1u);
    EXPECT_EQ(r->src_ip, "192.0.2.1");
    EXPECT_EQ(r->action, "blocked");
    EXPECT_EQ(r->proto, "TCP");
    // 2024-01-02T02:04:05.25Z
    EXPECT_EQ(r->ts_us, (1704160800LL + 245) * 1000000 + 250000);
    EXPECT_EQ(parse_event("s", 1, "nope").error().message, "record is not JSON");
    EXPECT_EQ(parse_event("s", 1, "[1]").error().message, "record is not a JSON object");
    EXPECT_EQ(parse_event("s", 1, "{}").error().message, "record has no event_type");
    EXPECT_NE(parse_event("s", 1, R"({"event_type":"alert","timestamp":"yesterday"})")
                  .error()
                  .message.find("malformed"),
              std::string::npos);
    EXPECT_FALSE(parse_event("s", 1, R"({"event_type":"alert","src_port":70000})").ok());
    // The whole text is validated, not only the fields the store reads.
    auto msg = [](std::string eve) { return parse_event("s", 1, std::move(eve)).error().message; };
    EXPECT_EQ(msg(R"({"event_type":"alert"} trailing)"), "record is not JSON");
    EXPECT_EQ(msg(R"({"event_type":"alert","x":[1,2)"), "record is not JSON");
    EXPECT_EQ(msg("{\"event_type\":\"alert\",\"x\":\"\xff\"}"), "record is not valid UTF-8");
    EXPECT_EQ(msg(R"({"event_type":"alert","flow_id":123456789012345678901234})"),
              "record has a number that is malformed or beyond 64 bits");
    EXPECT_EQ(msg(R"({"event_type":"alert","src_ip":7})"), "record field of the wrong type");
    EXPECT_EQ(msg(R"({"event_type":"alert","alert":[]})"), "record field of the wrong type");
    EXPECT_EQ(msg(R"({"event_type":"alert","alert":{"signature_id":-1}})"),
              "record alert object malformed");
    EXPECT_EQ(msg(R"({"event_type":"alert","alert":{"gid":4294967296}})"),
              "record alert object malformed");
    EXPECT_EQ(msg(R"({"event_type":"alert","alert":{"action":true}})"),
              "record alert object malformed");
    // Fields the store does not read may hold anything; a repeated key: the last one counts.
    auto ok = parse_event("s", 1,
                          R"({"event_type":"dns","dns":{"x":[null,true,1.5,-3,{}]},)"
                          R"("src_port":1,"src_port":2,"alert":{"signature_id":9}})");
    ASSERT_TRUE(ok.ok()) << ok.error().message;
    EXPECT_EQ(ok->src_port, 2);
    EXPECT_EQ(ok->sid, 9u);
    EXPECT_EQ(ok->event_type, "dns");
}

TEST(SqliteStoreTest, CommitsQueriesAndPagesEveryRecordOnce) {
    TempDir d;
    auto st = open_sqlite_store({d.file("m.db"), 90, 0, false});
    ASSERT_TRUE(st.ok()) << st.error().message;
    Store& s = **st;
    ASSERT_TRUE(s.commit(batch_of("a", 1, 60)).ok());
    ASSERT_TRUE(s.commit(batch_of("b", 1, 40)).ok());
    auto seqs = s.committed_seqs();
    ASSERT_TRUE(seqs.ok());
    EXPECT_EQ(*seqs, (std::vector<std::pair<std::string, uint64_t>>{{"a", 60}, {"b", 40}}));

    EventQuery q;
    q.limit = 1000;
    q.sensor = "a";
    q.sid = 1001;
    auto p = s.query(q);
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_EQ(p->items.size(), 20u);
    for (const auto& e : p->items) {
        EXPECT_EQ(e.sensor_id, "a");
        EXPECT_EQ(e.seq % 3, 1u);
        EXPECT_NE(e.eve.find("\"signature_id\":1001"), std::string::npos);
    }
    q = EventQuery{};
    q.src_ip = "10.0.0.3";
    q.action = "blocked";
    q.proto = "tcp";
    q.limit = 1000;
    p = s.query(q);
    ASSERT_TRUE(p.ok());
    size_t want = 0;
    for (uint64_t i = 1; i <= 60; ++i)
        want += (i % 7 == 3 && i % 2 == 0);
    for (uint64_t i = 1; i <= 40; ++i)
        want += (i % 7 == 3 && i % 2 == 0);
    EXPECT_EQ(p->items.size(), want);

    // Paging newest first, then oldest first: every record exactly once.
    for (bool asc : {false, true}) {
        std::set<int64_t> seen;
        EventQuery pq;
        pq.limit = 7;
        pq.ascending = asc;
        for (int pages = 0; pages < 100; ++pages) {
            auto page = s.query(pq);
            ASSERT_TRUE(page.ok());
            for (const auto& e : page->items) {
                EXPECT_TRUE(seen.insert(e.id).second) << e.id;
            }
            if (!page->more) {
                break;
            }
            (asc ? pq.after_id : pq.before_id) = page->items.back().id;
        }
        EXPECT_EQ(seen.size(), 100u);
    }
    auto one = s.get(1);
    ASSERT_TRUE(one.ok() && one->has_value());
    EXPECT_EQ((*one)->seq, 1u);
    EXPECT_FALSE(s.get(100000)->has_value());
    auto stats = s.stats();
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->events, 100u);
    EXPECT_EQ(stats->alerts, 100u);
    EXPECT_TRUE(s.check_writable().ok());
}

// A sensor filter walks that sensor's records by seq: the same order, and pages, as by id.
TEST(SqliteStoreTest, SensorAndTimeFiltersPageLikeTheRest) {
    TempDir d;
    auto st = open_sqlite_store({d.file("m.db"), 90, 0, false});
    ASSERT_TRUE(st.ok());
    for (uint64_t i = 0; i < 5; ++i) {  // interleaved sensors
        ASSERT_TRUE((*st)->commit(batch_of("a", 1 + i * 10, 10)).ok());
        ASSERT_TRUE((*st)->commit(batch_of("b", 1 + i * 10, 10)).ok());
    }
    for (bool asc : {false, true}) {
        EventQuery q;
        q.sensor = "b";
        q.limit = 6;
        q.ascending = asc;
        std::vector<uint64_t> seqs;
        std::vector<int64_t> ids;
        for (int pages = 0; pages < 20; ++pages) {
            auto page = (*st)->query(q);
            ASSERT_TRUE(page.ok()) << page.error().message;
            for (const auto& e : page->items) {
                EXPECT_EQ(e.sensor_id, "b");
                seqs.push_back(e.seq);
                ids.push_back(e.id);
            }
            if (!page->more) {
                break;
            }
            (asc ? q.after_id : q.before_id) = page->items.back().id;
        }
        ASSERT_EQ(seqs.size(), 50u);
        EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()) == asc) << asc;
        EXPECT_EQ(asc ? seqs.front() : seqs.back(), 1u);
    }
    // since and until together (the records' second of the minute is seq % 60).
    EventQuery t;
    t.since_us = parse_event("x", 1, alert(1, "1.1.1.1", "2024-01-01T00:00:10.000000+0000"))->ts_us;
    t.until_us = parse_event("x", 1, alert(1, "1.1.1.1", "2024-01-01T00:00:19.000000+0000"))->ts_us;
    t.limit = 1000;
    auto page = (*st)->query(t);
    ASSERT_TRUE(page.ok());
    EXPECT_EQ(page->items.size(), 20u);  // seqs 10..19 of each sensor
}

// A store written before sensors.alerts existed is upgraded in place, its counts filled.
TEST(SqliteStoreTest, UpgradesAStoreWithoutPerSensorAlertCounts) {
    TempDir d;
    {
        auto st = open_sqlite_store({d.file("m.db"), 90, 0, false});
        ASSERT_TRUE(st.ok());
        ASSERT_TRUE((*st)->commit(batch_of("a", 1, 30)).ok());
    }
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(d.file("m.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "ALTER TABLE sensors DROP COLUMN alerts; PRAGMA user_version=0;",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
    auto st = open_sqlite_store({d.file("m.db"), 90, 0, false});
    ASSERT_TRUE(st.ok()) << st.error().message;
    auto per = (*st)->alerts_per_sensor();
    ASSERT_TRUE(per.ok());
    EXPECT_EQ(*per, (std::vector<std::pair<std::string, uint64_t>>{{"a", 30}}));
    ASSERT_TRUE((*st)->commit(batch_of("a", 31, 5)).ok());
    EXPECT_EQ((*st)->alerts_per_sensor()->at(0).second, 35u);
}

TEST(SqliteStoreTest, CommittedSeqsSurviveReopenAndASeqIsNeverStoredTwice) {
    TempDir d;
    {
        auto st = open_sqlite_store({d.file("m.db"), 90, 0, false});
        ASSERT_TRUE(st.ok());
        ASSERT_TRUE((*st)->commit(batch_of("a", 1, 10)).ok());
    }
    auto st = open_sqlite_store({d.file("m.db"), 90, 0, false});
    ASSERT_TRUE(st.ok());
    EXPECT_EQ((*st)->committed_seqs()->at(0).second, 10u);
    // The same seq again: the whole batch is refused, nothing of it stored.
    auto again = (*st)->commit(batch_of("a", 10, 2));
    EXPECT_FALSE(again.ok());
    EXPECT_EQ((*st)->stats()->events, 10u);
    EXPECT_EQ((*st)->committed_seqs()->at(0).second, 10u);
}

TEST(SqliteStoreTest, RetentionByAgeOfReceiptAndBySize) {
    TempDir d;
    auto st = open_sqlite_store({d.file("m.db"), 1, 0, false});
    ASSERT_TRUE(st.ok());
    ASSERT_TRUE((*st)->commit(batch_of("a", 1, 500)).ok());
    // The records' EVE timestamps are from 2024: age counts from receipt, so they stay.
    ASSERT_TRUE((*st)->apply_retention(now_us()).ok());
    EXPECT_EQ((*st)->stats()->events, 500u);
    // Two days later they are past the one-day retention.
    ASSERT_TRUE((*st)->apply_retention(now_us() + 2LL * 86400 * 1000000).ok());
    EXPECT_EQ((*st)->stats()->events, 0u);
    EXPECT_EQ((*st)->stats()->deleted_by_retention, 500u);
    EXPECT_EQ((*st)->sensors()->at(0).events, 0u);

    auto sz = open_sqlite_store({d.file("s.db"), 0, 256 * 1024, false});
    ASSERT_TRUE(sz.ok());
    for (uint64_t i = 0; i < 10; ++i) {
        ASSERT_TRUE((*sz)->commit(batch_of("a", 1 + i * 1000, 1000)).ok());
    }
    const auto before = (*sz)->stats();
    ASSERT_GT(before->used_bytes, 256u * 1024);
    ASSERT_TRUE((*sz)->apply_retention(now_us()).ok());
    const auto after = (*sz)->stats();
    EXPECT_LE(after->used_bytes, 256u * 1024);
    EXPECT_GT(after->events, 0u);
    // The oldest went first: the newest record is still there.
    EventQuery q;
    q.limit = 1;
    EXPECT_EQ((*sz)->query(q)->items.at(0).seq, 10000u);
    EXPECT_EQ((*sz)->sensors()->at(0).events, after->events);
}

// The protocol on a real store: hello, in-order records, a resend after a reconnect,
// an out-of-range seq, a gap.
TEST(IngestCoreTest, AcknowledgesOnlyWhatIsCommittedAndStoresEachSeqOnce) {
    TempDir d;
    auto st = open_sqlite_store({d.file("m.db"), 90, 0, false});
    ASSERT_TRUE(st.ok());
    std::FILE* log = std::fopen("/dev/null", "w");
    IngestCore core(**st, log, false, 1000);
    ASSERT_TRUE(core.load().ok());
    std::vector<IngestCore::Out> out;
    auto env = [](wire::MsgType t, uint64_t seq) {
        return wire::encode_envelope({t, seq, "edge"});
    };
    auto last = [&](wire::MsgType t) -> std::optional<uint64_t> {
        for (auto it = out.rbegin(); it != out.rend(); ++it) {
            auto e = wire::decode_envelope(it->envelope);
            if (e && e->type == t)
                return e->seq;
        }
        return std::nullopt;
    };
    const std::string hello = wire::encode_hello({"t", 0});
    const std::string rec = alert(1, "10.0.0.1", "2024-01-01T00:00:00.000000+0000");
    core.handle({"r1", env(wire::MsgType::Hello, 1), hello}, nullptr, out);
    EXPECT_EQ(last(wire::MsgType::Welcome), 0u);
    for (uint64_t i = 1; i <= 5; ++i) {
        core.handle({"r1", env(wire::MsgType::Record, i), rec}, nullptr, out);
    }
    EXPECT_FALSE(last(wire::MsgType::Ack).has_value());  // nothing committed yet
    core.commit(out);
    EXPECT_EQ(last(wire::MsgType::Ack), 5u);
    // Reconnect on another routing id; the sensor resends 3..5 and goes on.
    out.clear();
    core.handle({"r2", env(wire::MsgType::Hello, 6), hello}, nullptr, out);
    EXPECT_EQ(last(wire::MsgType::Welcome), 5u);
    for (uint64_t i = 3; i <= 7; ++i) {
        core.handle({"r2", env(wire::MsgType::Record, i), rec}, nullptr, out);
    }
    // The old session is gone.
    core.handle({"r1", env(wire::MsgType::Record, 8), rec}, nullptr, out);
    // Out of range: refused, the sensor is told where to resume.
    core.handle({"r2", env(wire::MsgType::Record, 20), rec}, nullptr, out);
    EXPECT_EQ(last(wire::MsgType::Resync), 7u);
    core.handle({"r2", env(wire::MsgType::Gap, 10), wire::encode_gap({8, 10, "spool full"})},
                nullptr, out);
    core.commit(out);
    EXPECT_EQ(last(wire::MsgType::Ack), 10u);
    const auto snap = core.snapshot();
    EXPECT_EQ(snap.stored, 7u);
    EXPECT_EQ(snap.duplicates, 3u);
    EXPECT_EQ(snap.gap_records, 3u);
    EXPECT_EQ(snap.rejected.at("no session"), 1u);
    EXPECT_EQ(snap.rejected.at("seq out of range"), 1u);
    EXPECT_EQ((*st)->stats()->events, 7u);
    EXPECT_EQ((*st)->sensors()->at(0).gap_records, 3u);
    EXPECT_EQ((*st)->committed_seqs()->at(0).second, 10u);
    std::fclose(log);
}

}  // namespace
}  // namespace vigil::mgmt
