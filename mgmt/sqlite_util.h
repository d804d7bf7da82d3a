#pragma once
// Small helpers over the SQLite C API shared by the store and the token database.

#include <sqlite3.h>

#include <string>

namespace vigil::mgmt {

// A prepared statement, finalized when it goes out of scope.
struct Stmt {
    sqlite3_stmt* s = nullptr;
    Stmt() = default;
    explicit Stmt(sqlite3_stmt* p) : s(p) {}
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;
    ~Stmt() { sqlite3_finalize(s); }
    explicit operator bool() const { return s != nullptr; }
    // Finalizes now (ends the statement's read before a write on the same connection).
    void reset() {
        sqlite3_finalize(s);
        s = nullptr;
    }
    sqlite3_stmt* get() const { return s; }
};

inline bool exec(sqlite3* db, const char* sql) {
    return sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
}

inline void bind_text(sqlite3_stmt* s, int i, const std::string& v) {
    sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

inline std::string col_text(sqlite3_stmt* s, int i) {
    const auto* p = sqlite3_column_text(s, i);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<size_t>(sqlite3_column_bytes(s, i)))
             : std::string();
}

}  // namespace vigil::mgmt
