#pragma once
// The audit log: every operator and admin action (tokens, rule packs, incident
// acknowledgements), one JSON object per line, append-only and hash-chained: each line holds
// "prev", the sha256 of the line before it (64 zeros for the first), so an edited, inserted or
// removed line breaks the chain at the line after it. verify_audit_log() walks the chain
// (`vigilctl audit verify`). Writers (mgmtd's API, `vigilctl tokens add`) take an exclusive
// flock on the file for read-last-line-then-append, so two processes never fork the chain.

#include <cstdint>
#include <string>

#include "common/result.h"

namespace vigil::mgmt {

struct AuditEntry {
    std::string actor;   // the token's name ("local" for vigilctl on the host)
    std::string role;    // viewer | operator | admin | local
    std::string action;  // "token.add", "rulepack.activate", "incident.ack", ...
    std::string target;  // what it acted on: a token name, a pack version, an incident id
    std::string detail;  // a JSON object text ("{}" when nothing more)
    bool ok = true;      // the action succeeded (refusals are recorded too)
};

// Appends one entry (with seq, time and prev) to the file at `path` (created 0600).
Status append_audit(const std::string& path, const AuditEntry& e);

struct AuditCheck {
    uint64_t lines = 0;
    bool ok = true;
    uint64_t bad_line = 0;  // the first line that does not chain (1-based)
    std::string reason;
};

// Walks the chain. An unreadable file is an error; a broken chain is ok = false.
Result<AuditCheck> verify_audit_log(const std::string& path);

}  // namespace vigil::mgmt
