#pragma once
// The periodic review report (DESIGN.md §7, `vigilctl review`, GET /api/v1/review): each
// control's history and availability over a period, the incidents and whether a person reviewed
// (acknowledged) them, mgmtd's configuration against a hardening baseline, the versions of Vigil,
// DPDK, Hyperscan and the kernel with their support status, the active rule pack's age, the
// audit log's state and the owners. build_review() is a pure function of ReviewInputs (the API
// gathers them with the helpers below), so any `now` can be tested.

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "mgmt/audit.h"
#include "mgmt/config.h"
#include "mgmt/health.h"
#include "mgmt/packs.h"

#include <nlohmann/json.hpp>

namespace vigil::mgmt {

constexpr uint32_t kDefaultReviewDays = 90;
constexpr uint32_t kMaxReviewDays = 3650;
// ET Open publishes daily: an active pack older than this is reported.
constexpr int64_t kPackMaxAgeDays = 7;

// What the hardening checks need to know of a file the configuration names.
struct FileFacts {
    bool exists = false;
    uint32_t mode = 0;  // permission bits (st_mode & 07777)
    uid_t uid = 0;
    std::string error;  // stat failed for another reason than "no such file"
};

struct ComponentVersions {
    std::string vigil;
    // The DPDK this build was compiled against (pkg-config libdpdk at configure time): mgmtd
    // does not link DPDK and the sensors' heartbeats do not carry it.
    std::string dpdk;
    std::string hyperscan;  // hs_version() of the libhs mgmtd runs with
    std::string kernel;     // uname -r
};

// The audit log since the last `review.run` entry.
struct AuditSinceReview {
    uint64_t lines_since = 0;    // entries after the previous review (all: none before)
    uint64_t previous_line = 0;  // the previous review's line (0: none)
    std::string previous_at;     // its time, as written in the log
    std::string previous_by;     // its actor
};

struct ReviewInputs {
    int64_t from_us = 0;  // the period reviewed
    int64_t to_us = 0;
    int64_t now_us = 0;  // what "today" is: support dates and ages are measured from it
    std::vector<ControlState> controls;
    std::vector<Incident> incidents;  // every incident known (IncidentLog::list), any order
    MgmtConfig config;
    std::optional<PackListing> packs;  // none: rule packs unavailable, packs_error says why
    std::string packs_error;
    std::optional<AuditCheck> audit;  // none: the log could not be read, audit_error says why
    std::string audit_error;
    AuditSinceReview audit_since;
    std::map<std::string, FileFacts> files;  // by path (stat_review_files)
    uid_t uid = 0;                           // the user mgmtd runs as
    ComponentVersions versions;
    std::vector<nlohmann::json> drills;  // IncidentLog::drills, any order
};

struct ReviewReport {
    nlohmann::json json;
    std::string markdown;
};

ReviewReport build_review(const ReviewInputs& in);

// The hardening baseline's checks, in report order: id and what each one asks.
struct HardeningCheckInfo {
    const char* id;
    const char* what;
};
std::vector<HardeningCheckInfo> hardening_checks();

// stat() of every file the hardening checks look at (tokens, store and its -wal/-shm, webhook
// secret, rule-pack trusted keys, audit log).
std::map<std::string, FileFacts> stat_review_files(const MgmtConfig& cfg);

// Vigil's version as given, Hyperscan's from hs_version(), DPDK's from the build, the kernel's
// from uname().
ComponentVersions running_versions(const std::string& vigil_version);

// Reads the audit log for its last `review.run` entry. A missing file is no entries.
Result<AuditSinceReview> audit_since_last_review(const std::string& path);

}  // namespace vigil::mgmt
