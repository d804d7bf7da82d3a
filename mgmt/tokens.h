#pragma once
// The API's bearer tokens (api.tokens in mgmtd.yaml): a small SQLite file, mode 0600, WAL.
// A token is shown once (`vgl_` + 64 hex digits: 32 random bytes) and stored only as a keyed
// BLAKE2b-256 hash (see TokenStore), with its name, role and times.

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

struct sqlite3;

namespace vigil::mgmt {

// Ordered: a higher role may do everything a lower one may.
enum class Role : int { Viewer = 1, Operator = 2, Admin = 3 };
const char* role_name(Role r);                       // "viewer" | "operator" | "admin"
std::optional<Role> parse_role(std::string_view s);  // exact, lower case

// A token name: 1–64 characters of [A-Za-z0-9._-].
bool valid_token_name(std::string_view name);

struct TokenInfo {
    std::string name;
    Role role = Role::Viewer;
    int64_t created_us = 0;
    int64_t last_used_us = 0;  // 0: never (updated at most once a minute)
    int64_t revoked_us = 0;    // 0: active
};

// Hashing: BLAKE2b-256 (crypto_generichash) of the token string, keyed with a 32-byte random
// key made when the file is created and kept in it (table meta). A token has 256 bits of
// entropy, so the hash needs no stretching; the per-file key means equal tokens in two files
// hash differently and a leaked file cannot be matched against hashes precomputed elsewhere.
// Verification hashes the presented token and compares it with every active hash with
// sodium_memcmp, without stopping at a match.
//
// Thread-safe: one connection behind a mutex. Several processes may share the file (mgmtd
// serving the API while `vigilctl tokens add --config` writes): SQLite's locking, with a
// busy timeout.
class TokenStore {
public:
    // Opens `path`, creating it (0600) and its schema when missing.
    static Result<std::unique_ptr<TokenStore>> open(const std::string& path);
    ~TokenStore();
    TokenStore(const TokenStore&) = delete;
    TokenStore& operator=(const TokenStore&) = delete;

    // A new token for `name`; the only time the token itself is available. Errors: BadInput
    // for a bad name or an active token of that name; a revoked token's name may be reused.
    Result<std::string> add(const std::string& name, Role role);
    Result<std::vector<TokenInfo>> list();
    // false: no active token of that name.
    Result<bool> revoke(const std::string& name);
    // The token's entry when it is known and not revoked; nullopt otherwise.
    Result<std::optional<TokenInfo>> verify(std::string_view token);

private:
    TokenStore(sqlite3* db, std::string path, std::string key);
    Status exec(const char* sql);

    std::mutex mu_;
    sqlite3* db_;
    std::string path_;
    std::string key_;  // the hash key (32 bytes)
};
using TokenStorePtr = std::unique_ptr<TokenStore>;

inline constexpr std::string_view kTokenPrefix = "vgl_";

}  // namespace vigil::mgmt
