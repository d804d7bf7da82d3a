#pragma once
// PackStore: vigil-mgmtd's rule packs (docs/rule-packs.md). A pack sent to mgmtd is read with
// every check of rules/pack.h (hostile archives, sha256 of every file, the signature against
// the trusted keys, min-sensor-version) and parsed and compiled with the sensor's own code;
// only then is it stored, extracted and read-only, under DIR/<version>. DIR/active is a
// symlink to the version in use (the sensors' `rules:` path). Every event (stored, refused
// with its reason, activated, rolled back) is appended to DIR/history.jsonl, which `rules
// list` shows and rollback reads. Thread-safe (one mutex: the API's threads call it).

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace vigil::mgmt {

struct PackEvent {
    int64_t at_us = 0;
    std::string event;  // stored | refused | activated | rolled_back
    std::string version, name, digest, signer;
    uint64_t rules_loaded = 0, rules_rejected = 0;
    std::string reason;  // refused: why; activated / rolled_back: the version replaced
};

struct StoredPack {
    std::string version, name, digest, signer, created;
    int64_t stored_us = 0;
    uint64_t rules_loaded = 0, rules_rejected = 0;
};

struct PackListing {
    std::string active;    // "" = none
    std::string previous;  // what rollback would activate ("" = nothing)
    std::vector<StoredPack> packs;
    std::vector<PackEvent> refused;  // newest last
};

// A stored pack's file that no longer matches its manifest (the file-integrity control).
struct PackFileProblem {
    std::string version;
    std::string path;  // the file on disk
    std::string
        problem;  // "sha256 changed (manifest ab12…, now cd34…)", "missing", "not in the manifest"
};

struct Activation {
    std::string version;
    std::string replaced;  // the version active before ("" = none)
};

class PackStore {
public:
    // `dir` is created when missing; `trusted_keys` (FILE or DIR, rules/pack.h) may be empty:
    // then every pack is refused as untrusted. `sensor_version`: packs needing a newer Vigil
    // are refused.
    static Result<std::unique_ptr<PackStore>> open(const std::string& dir,
                                                   const std::string& trusted_keys,
                                                   const std::string& sensor_version);

    // A .tar.zst from a client: checked, compiled, stored. A refusal is BadInput with the
    // reason, and recorded. The same version with the same content again: returns it as is.
    Result<StoredPack> add(std::string_view archive, const std::string& origin);
    Result<PackListing> list() const;
    // Points DIR/active at a stored version (atomically: a new symlink renamed over it).
    Result<Activation> activate(const std::string& version);
    // Points DIR/active back at `version` after someone changed the link (the detection
    // control): recorded as "reactivated", which leaves what rollback goes back to unchanged.
    Result<Activation> reactivate(const std::string& version);
    // Activates the version that was active before the current one.
    Result<Activation> rollback();
    const std::string& dir() const { return dir_; }
    // The pack mgmtd activated last (activate or rollback in the history), whatever DIR/active
    // points at now; none before the first activation.
    Result<std::optional<StoredPack>> activated() const;
    // Checks every stored pack's files against its manifest, and the manifest against the
    // digest recorded when the pack was stored.
    Result<std::vector<PackFileProblem>> verify() const;
    // Puts stored pack `version` back as it was stored, from the archive kept beside it
    // (DIR/.archives/<version>.tar.zst, checked again); the tampered folder is moved to
    // DIR/.quarantine/ for inspection. Returns what was done.
    Result<std::string> repair(const std::string& version);

private:
    PackStore(std::string dir, std::string trusted, std::string version)
        : dir_(std::move(dir)), trusted_(std::move(trusted)), version_(std::move(version)) {}
    Status record(const PackEvent& e) const;
    Result<std::vector<PackEvent>> history() const;
    std::string active_locked() const;
    Result<Activation> activate_locked(const std::string& version, const char* event);

    std::string dir_;
    std::string trusted_;
    std::string version_;
    mutable std::mutex mu_;
};

}  // namespace vigil::mgmt
