#include "mgmt/tokens.h"

#include <fcntl.h>
#include <sodium.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/clock.h"
#include "common/text.h"
#include "mgmt/sqlite_util.h"

namespace vigil::mgmt {

namespace {

constexpr size_t kTokenBytes = 32;
constexpr size_t kHashBytes = crypto_generichash_BYTES;  // 32: BLAKE2b-256
constexpr size_t kKeyBytes = crypto_generichash_KEYBYTES;
constexpr int kBusyTimeoutMs = 5000;
// last_used is a write: once a minute per token is enough to see which tokens are in use.
constexpr int64_t kLastUsedResolutionUs = 60'000'000;
// Longer strings cannot be tokens; refusing them bounds the hashing work per request.
constexpr size_t kMaxTokenLen = 256;

}  // namespace

const char* role_name(Role r) {
    switch (r) {
        case Role::Viewer:
            return "viewer";
        case Role::Operator:
            return "operator";
        case Role::Admin:
            return "admin";
    }
    return "viewer";
}

std::optional<Role> parse_role(std::string_view s) {
    if (s == "viewer") {
        return Role::Viewer;
    }
    if (s == "operator") {
        return Role::Operator;
    }
    if (s == "admin") {
        return Role::Admin;
    }
    return std::nullopt;
}

bool valid_token_name(std::string_view n) {
    return valid_name(n, 64);
}

TokenStore::TokenStore(sqlite3* db, std::string path, std::string key)
    : db_(db), path_(std::move(path)), key_(std::move(key)) {}

TokenStore::~TokenStore() {
    sodium_memzero(key_.data(), key_.size());
    sqlite3_close_v2(db_);
}

Status TokenStore::exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = path_ + ": " + (err ? err : sqlite3_errmsg(db_));
        sqlite3_free(err);
        return make_error(ErrorCode::Io, msg);
    }
    return Ok{};
}

Result<std::unique_ptr<TokenStore>> TokenStore::open(const std::string& path) {
    if (sodium_init() < 0) {
        return make_error(ErrorCode::Internal, "libsodium failed to initialise");
    }
    // Create the file 0600 ourselves: SQLite would use 0644 (less the umask), and its -wal and
    // -shm files copy the database file's mode.
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        return make_error(ErrorCode::Io, path + ": cannot open: " + std::strerror(errno));
    }
    ::close(fd);
    sqlite3* db = nullptr;
    const int rc =
        sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = path + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close_v2(db);
        return make_error(ErrorCode::Io, msg);
    }
    sqlite3_busy_timeout(db, kBusyTimeoutMs);
    std::unique_ptr<TokenStore> ts(new TokenStore(db, path, ""));
    if (auto s = ts->exec("PRAGMA journal_mode=WAL;"
                          "PRAGMA synchronous=NORMAL;"
                          "BEGIN IMMEDIATE;"
                          "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value BLOB NOT "
                          "NULL);"
                          "CREATE TABLE IF NOT EXISTS tokens("
                          " name TEXT PRIMARY KEY, role TEXT NOT NULL, hash BLOB NOT NULL,"
                          " created_us INTEGER NOT NULL, last_used_us INTEGER NOT NULL DEFAULT 0,"
                          " revoked_us INTEGER NOT NULL DEFAULT 0);"
                          "PRAGMA user_version=1;");
        !s) {
        return s.error();
    }
    // The hash key: made once, by whichever process creates the file first (the IMMEDIATE
    // transaction serialises two creators).
    std::array<unsigned char, kKeyBytes> fresh{};
    randombytes_buf(fresh.data(), fresh.size());
    {
        sqlite3_stmt* raw = nullptr;
        sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO meta(key, value) VALUES('hash_key', ?)", -1,
                           &raw, nullptr);
        Stmt st(raw);
        if (!st ||
            sqlite3_bind_blob(raw, 1, fresh.data(), static_cast<int>(fresh.size()),
                              SQLITE_TRANSIENT) != SQLITE_OK ||
            sqlite3_step(raw) != SQLITE_DONE) {
            std::string msg = path + ": " + sqlite3_errmsg(db);
            (void)ts->exec("ROLLBACK");
            return make_error(ErrorCode::Io, msg);
        }
    }
    sodium_memzero(fresh.data(), fresh.size());
    {
        sqlite3_stmt* raw = nullptr;
        sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key='hash_key'", -1, &raw, nullptr);
        Stmt st(raw);
        if (!st || sqlite3_step(raw) != SQLITE_ROW ||
            sqlite3_column_bytes(raw, 0) != static_cast<int>(kKeyBytes)) {
            std::string msg = path + ": no valid hash key in the token file";
            (void)ts->exec("ROLLBACK");
            return make_error(ErrorCode::Io, msg);
        }
        ts->key_.assign(static_cast<const char*>(sqlite3_column_blob(raw, 0)), kKeyBytes);
    }
    if (auto s = ts->exec("COMMIT"); !s) {
        return s.error();
    }
    return ts;
}

namespace {

std::array<unsigned char, kHashBytes> token_hash(const std::string& key, std::string_view token) {
    std::array<unsigned char, kHashBytes> h{};
    crypto_generichash(h.data(), h.size(), reinterpret_cast<const unsigned char*>(token.data()),
                       token.size(), reinterpret_cast<const unsigned char*>(key.data()),
                       key.size());
    return h;
}

}  // namespace

Result<std::string> TokenStore::add(const std::string& name, Role role) {
    if (!valid_token_name(name)) {
        return make_error(ErrorCode::BadInput,
                          "token name '" + name + "': expected 1-64 characters of [A-Za-z0-9._-]");
    }
    std::array<unsigned char, kTokenBytes> raw{};
    randombytes_buf(raw.data(), raw.size());
    std::string token = std::string(kTokenPrefix) + to_hex(raw.data(), raw.size());
    sodium_memzero(raw.data(), raw.size());
    const auto h = token_hash(key_, token);

    std::lock_guard<std::mutex> lock(mu_);
    // A revoked token's row is replaced; an active one is kept (the insert does nothing).
    sqlite3_stmt* p = nullptr;
    sqlite3_prepare_v2(db_,
                       "INSERT INTO tokens(name, role, hash, created_us) VALUES(?1, ?2, ?3, ?4) "
                       "ON CONFLICT(name) DO UPDATE SET role=excluded.role, hash=excluded.hash, "
                       "created_us=excluded.created_us, last_used_us=0, revoked_us=0 "
                       "WHERE tokens.revoked_us != 0",
                       -1, &p, nullptr);
    Stmt st(p);
    if (!st) {
        return make_error(ErrorCode::Io, path_ + ": " + sqlite3_errmsg(db_));
    }
    sqlite3_bind_text(p, 1, name.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(p, 2, role_name(role), -1, SQLITE_STATIC);
    sqlite3_bind_blob(p, 3, h.data(), static_cast<int>(h.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(p, 4, wall_us());
    if (sqlite3_step(p) != SQLITE_DONE) {
        return make_error(ErrorCode::Io, path_ + ": " + sqlite3_errmsg(db_));
    }
    if (sqlite3_changes(db_) == 0) {
        return make_error(ErrorCode::BadInput,
                          "a token named '" + name + "' exists (revoke it first)");
    }
    return token;
}

Result<std::vector<TokenInfo>> TokenStore::list() {
    std::lock_guard<std::mutex> lock(mu_);
    sqlite3_stmt* p = nullptr;
    sqlite3_prepare_v2(db_,
                       "SELECT name, role, created_us, last_used_us, revoked_us FROM tokens "
                       "ORDER BY name",
                       -1, &p, nullptr);
    Stmt st(p);
    if (!st) {
        return make_error(ErrorCode::Io, path_ + ": " + sqlite3_errmsg(db_));
    }
    std::vector<TokenInfo> out;
    int rc = 0;
    while ((rc = sqlite3_step(p)) == SQLITE_ROW) {
        TokenInfo t;
        t.name = reinterpret_cast<const char*>(sqlite3_column_text(p, 0));
        const auto* role = reinterpret_cast<const char*>(sqlite3_column_text(p, 1));
        t.role = parse_role(role ? role : "").value_or(Role::Viewer);
        t.created_us = sqlite3_column_int64(p, 2);
        t.last_used_us = sqlite3_column_int64(p, 3);
        t.revoked_us = sqlite3_column_int64(p, 4);
        out.push_back(std::move(t));
    }
    if (rc != SQLITE_DONE) {
        return make_error(ErrorCode::Io, path_ + ": " + sqlite3_errmsg(db_));
    }
    return out;
}

Result<bool> TokenStore::revoke(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    sqlite3_stmt* p = nullptr;
    sqlite3_prepare_v2(db_, "UPDATE tokens SET revoked_us=?2 WHERE name=?1 AND revoked_us=0", -1,
                       &p, nullptr);
    Stmt st(p);
    if (!st) {
        return make_error(ErrorCode::Io, path_ + ": " + sqlite3_errmsg(db_));
    }
    sqlite3_bind_text(p, 1, name.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(p, 2, wall_us());
    if (sqlite3_step(p) != SQLITE_DONE) {
        return make_error(ErrorCode::Io, path_ + ": " + sqlite3_errmsg(db_));
    }
    return sqlite3_changes(db_) > 0;
}

Result<std::optional<TokenInfo>> TokenStore::verify(std::string_view token) {
    if (token.empty() || token.size() > kMaxTokenLen) {
        return std::optional<TokenInfo>{};
    }
    const auto h = token_hash(key_, token);
    std::lock_guard<std::mutex> lock(mu_);
    sqlite3_stmt* p = nullptr;
    sqlite3_prepare_v2(db_,
                       "SELECT name, role, created_us, last_used_us, hash FROM tokens "
                       "WHERE revoked_us=0",
                       -1, &p, nullptr);
    Stmt st(p);
    if (!st) {
        return make_error(ErrorCode::Io, path_ + ": " + sqlite3_errmsg(db_));
    }
    std::optional<TokenInfo> found;
    int rc = 0;
    // Every active hash is compared, in constant time each, match or not.
    while ((rc = sqlite3_step(p)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(p, 4) != static_cast<int>(kHashBytes)) {
            continue;
        }
        const void* stored = sqlite3_column_blob(p, 4);
        if (sodium_memcmp(stored, h.data(), kHashBytes) == 0 && !found) {
            TokenInfo t;
            t.name = reinterpret_cast<const char*>(sqlite3_column_text(p, 0));
            const auto* role = reinterpret_cast<const char*>(sqlite3_column_text(p, 1));
            t.role = parse_role(role ? role : "").value_or(Role::Viewer);
            t.created_us = sqlite3_column_int64(p, 2);
            t.last_used_us = sqlite3_column_int64(p, 3);
            found = std::move(t);
        }
    }
    if (rc != SQLITE_DONE) {
        return make_error(ErrorCode::Io, path_ + ": " + sqlite3_errmsg(db_));
    }
    st.reset();
    const int64_t now = wall_us();
    if (found && now - found->last_used_us >= kLastUsedResolutionUs) {
        sqlite3_stmt* u = nullptr;
        sqlite3_prepare_v2(db_, "UPDATE tokens SET last_used_us=?2 WHERE name=?1", -1, &u, nullptr);
        Stmt ust(u);
        if (ust) {
            sqlite3_bind_text(u, 1, found->name.c_str(), -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(u, 2, now);
            // Best effort: a busy file must not refuse a valid token.
            (void)sqlite3_step(u);
        }
        found->last_used_us = now;
    }
    return found;
}

}  // namespace vigil::mgmt
