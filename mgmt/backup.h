#pragma once
// `vigilctl backup` and `vigilctl restore`: mgmtd's state on this host, copied out and put
// back.
//
// A backup is a folder: backup.json (format, Vigil version, time, the config it was made
// from, and per file its role, original path, kind, mode, size and sha256) and files/ with
// the copies. The SQLite databases (store, tokens, incidents, notification outbox) are copied
// with SQLite's online backup, so a running mgmtd keeps running and each copy is one
// consistent snapshot; the audit log, the integrity baseline, the whole rule-pack folder
// (stored packs, their archives, the history, the `active` link) and the mgmtd.yaml itself
// are copied as files. The backup is itself recorded in the audit log.
//
// A restore checks every file against backup.json before it writes anything, refuses while a
// vigil-mgmtd holds the store's lock, refuses to replace existing files unless forced, and
// puts each file at the path the *current* config names for its role (the mgmtd.yaml of the
// backup is kept for reference, never written over /etc). Restored files belong to the owner
// of the folder they land in (vigil's /var/lib/vigil when run as root).

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "common/result.h"
#include "mgmt/config.h"

namespace vigil::mgmt {

struct BackupFile {
    std::string role;    // store | tokens | incidents | outbox | audit | baseline | config |
                         // rulepacks
    std::string path;    // where it was (absolute)
    std::string name;    // its copy under files/
    std::string kind;    // sqlite | file | dir | link
    std::string target;  // link: what it points at
    uint32_t mode = 0;
    uint64_t size = 0;
    std::string sha256;  // files and sqlite copies
};

struct BackupSummary {
    std::string dir;
    std::vector<BackupFile> files;
    uint64_t bytes = 0;
};

// Writes a backup of `cfg`'s state to `out_dir` (created 0700; refused when it exists and is
// not empty); `version` is the Vigil version recorded in it. Progress lines go to `log`
// (nullptr: none).
Result<BackupSummary> make_backup(const MgmtConfig& cfg, const std::string& out_dir,
                                  const std::string& version, std::FILE* log);

// Puts the backup in `dir` back at the places `cfg` names. `force`: replace what exists.
Result<BackupSummary> restore_backup(const MgmtConfig& cfg, const std::string& dir, bool force,
                                     std::FILE* log);

}  // namespace vigil::mgmt
