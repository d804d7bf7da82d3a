#pragma once
// Internal to rules/: the Hyperscan compile cache. Serialized databases keyed by a sha256 of
// the exact compile inputs, the Hyperscan version and the host platform; an entry that fails
// any check is counted, reported and rebuilt, never used.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "rules/compiled.h"

namespace vigil::rules {

using HsCacheKey = std::array<uint8_t, 32>;

// What one RuleSet build did with the cache (copied into RuleSetStats).
struct HsCacheStats {
    size_t hits = 0;
    size_t misses = 0;   // no entry: compiled and stored
    size_t rebuilt = 0;  // an entry failed a check: compiled and stored again
    uint64_t bytes_read = 0;
    uint64_t bytes_written = 0;
    double seconds_saved = 0;  // compile time recorded in the hit entries minus load time
};

// A cached compile outcome: the database, plus the expressions Hyperscan refused, as the
// positions compile_db erased them at (each relative to the list left by the previous one),
// so that a hit reproduces the fallback exactly.
struct HsCacheEntry {
    HsDatabasePtr db;  // null when every expression was refused
    std::vector<uint32_t> dropped;
};

class HsCache {
public:
    // An empty `dir` disables the cache. A directory that cannot be created, is not owned by
    // this user or is writable by others disables it too, with warning() set: a cache is an
    // optimisation and never stops a load.
    explicit HsCache(const std::string& dir);

    bool enabled() const { return enabled_; }
    // Why the cache is off or stopped writing (empty when it is fine); reported once.
    const std::string& warning() const { return warning_; }
    // Entries found unusable, one line each ("cache entry PATH corrupt: REASON; rebuilt").
    const std::vector<std::string>& events() const { return events_; }
    const HsCacheStats& stats() const { return stats_; }

    // sha256 over the compile inputs (expressions, flags, ids 0..n-1, mode), hs_version() and
    // the host platform (hs_populate_platform).
    static HsCacheKey key_for(const std::vector<std::string>& exprs,
                              const std::vector<unsigned>& flags, unsigned mode);

    // The entry for `key` when it passes every check (header, length, checksum, key,
    // Hyperscan's own deserialisation, `dropped` consistent with `n_exprs`). A failed check
    // is recorded in events(); the caller compiles and store()s, which replaces the entry.
    std::optional<HsCacheEntry> lookup(const HsCacheKey& key, size_t n_exprs);
    // Writes the entry atomically (temp file, rename). A failed write is one warning and
    // turns writing off for the rest of this cache's life.
    void store(const HsCacheKey& key, const hs_database_t* db, const std::vector<uint32_t>& dropped,
               double compile_seconds);

    std::string entry_path(const HsCacheKey& key) const;

private:
    void corrupt(const std::string& path, const std::string& reason);
    std::string dir_;
    bool enabled_ = false;
    bool writable_ = false;
    std::string warning_;
    std::vector<std::string> events_;
    HsCacheStats stats_{};
};

}  // namespace vigil::rules
