#pragma once
// Rule packs (DESIGN.md §6, docs/rule-packs.md): a directory or a .tar.zst holding
// manifest.yaml (name, version, created, min-sensor-version, sha256 of every other file), rule
// files, optional side files and manifest.sig (Ed25519 over manifest.yaml's exact bytes).
// Reading refuses hostile input with its reason; signing keys are plain one-line text files.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "rules/rule_parser.h"

namespace vigil::rules {

inline constexpr const char* kManifestName = "manifest.yaml";
inline constexpr const char* kSignatureName = "manifest.sig";
inline constexpr int kPackFormat = 1;  // manifest.yaml `format:`

// What a pack may hold: a pack from outside is refused past these (before it is unpacked).
struct PackLimits {
    uint64_t max_file_bytes = uint64_t{256} << 20;  // one file, uncompressed
    uint64_t max_total_bytes = uint64_t{1} << 30;   // all files, uncompressed
    size_t max_entries = 10000;                     // archive entries, folders included
};

struct PackManifest {
    int format = kPackFormat;
    std::string name;                // 1-64 of [A-Za-z0-9._-]
    std::string version;             // 1-64 of [A-Za-z0-9._-]: names the stored pack's folder
    std::string created;             // RFC 3339 UTC: 2025-07-01T12:00:00Z
    std::string min_sensor_version;  // dotted numbers: 0.1.0
    std::map<std::string, std::string> files;  // relative path -> lowercase sha256 hex
};

// A pack read into memory, every file's hash checked against the manifest.
struct Pack {
    std::string source;         // the path it was read from
    std::string manifest_text;  // manifest.yaml's exact bytes (what the signature covers)
    PackManifest manifest;
    std::optional<std::string> signature_text;  // manifest.sig, when present
    std::map<std::string, std::string> files;   // relative path -> content (manifest order)
    std::string digest;  // sha256 hex of manifest.yaml: names the pack's whole content

    // The rule files (*.rules), in path order.
    std::vector<std::string> rule_files() const;
};

// Reads a pack (a directory, or a .tar.zst file) and checks it: entry names (relative, no
// `..`), entry types (regular files and folders only), sizes, that manifest.yaml parses and
// lists exactly the files present, and every sha256. Errors name the file (and the line, for
// manifest.yaml) and what is wrong; hostile or broken input is BadInput, I/O failure Io.
Result<Pack> read_pack(const std::string& path, const PackLimits& limits = {});

// The same checks on a .tar.zst held in memory (fuzzing, packs received over the network).
Result<Pack> read_pack_archive(std::string_view bytes, const std::string& name,
                               const PackLimits& limits = {});

// Parses manifest.yaml's text; `name` prefixes the errors ("NAME:LINE: ...").
Result<PackManifest> parse_manifest(std::string_view text, const std::string& name);

// Writes the pack's checked files below `dir` (created, must be empty or absent), so that the
// sensor's loader can read them: manifest.yaml, manifest.sig and every listed file.
Status extract_pack(const Pack& pack, const std::string& dir);

// ---- Signing keys -------------------------------------------------------------------------
// signing.pub: one line "ed25519 <base64 of the 32-byte public key>" (a trailing comment
// after a third space-separated field is allowed). signing.key: one line
// "ed25519-secret <base64 of the 32-byte seed>", mode 0600. The key id is the first 16 hex
// digits of the public key's sha256. manifest.sig: one line
// "ed25519 <key id> <base64 of the 64-byte detached signature over manifest.yaml>".

struct PublicKey {
    std::string key_id;  // 16 lowercase hex digits
    std::string raw;     // 32 bytes
    std::string origin;  // "FILE:LINE" it was read from
};

struct KeyPairFiles {
    std::string secret_path;
    std::string public_path;
    std::string key_id;
};

// Makes a new Ed25519 key pair as DIR/signing.key (0600) and DIR/signing.pub; DIR is created
// when missing; an existing file is never overwritten (BadInput).
Result<KeyPairFiles> generate_signing_key(const std::string& dir);

// Trusted keys: a file of signing.pub lines (blank lines and '#' comments allowed), or a
// folder whose *.pub files are read in name order.
Result<std::vector<PublicKey>> load_trusted_keys(const std::string& path);

// The key that signed the pack, or why it cannot be trusted: unsigned, malformed
// manifest.sig, a key not among `trusted`, or a signature that does not verify.
Result<PublicKey> verify_signature(const Pack& pack, const std::vector<PublicKey>& trusted);

// The pack's min-sensor-version is at most `sensor_version` (dotted numbers compared as
// numbers); otherwise BadInput naming both.
Status check_min_version(const Pack& pack, const std::string& sensor_version);

// ---- Writing ------------------------------------------------------------------------------

struct PackOptions {
    std::string name = "rules";
    std::string version;
    std::string min_sensor_version = "0.0.0";
    std::string created;   // empty: now
    std::string key_path;  // signing.key; empty: unsigned
    bool force = false;    // replace an existing output file
};

struct PackSummary {
    std::string out_path;
    std::string digest;  // sha256 of manifest.yaml
    std::string key_id;  // empty when unsigned
    size_t rule_files = 0;
    size_t other_files = 0;    // side files packed (classification.config, ...)
    size_t ignored_files = 0;  // files of the source that are not packed
    uint64_t bytes = 0;        // uncompressed content
};

// Packs SRC into OUT (.tar.zst): SRC is a folder of rule files (*.rules at its top or in
// rules/, with classification.config, threshold.config, reference.config and vars.yaml
// beside them), a single rules file (suricata.rules), or a .tar.gz whose rules/ folder holds
// them (ET Open). Rule files go to rules/, side files to the top. Signs when a key is given.
Result<PackSummary> write_pack(const std::string& src, const std::string& out,
                               const PackOptions& opts, const PackLimits& limits = {});

// sha256 of `data`, lowercase hex.
std::string sha256_hex(std::string_view data);

// ---- Loading a stored pack ------------------------------------------------------------------
// A folder holding manifest.yaml: a pack as `extract_pack` (and vigil-mgmtd's pack store)
// leaves it, which the sensor loads as one (its `rules:` path, e.g. rulepacks/active).
bool is_pack_dir(const std::string& path);

// The variables a pack's rules compile with. `site_vars` (a vars YAML: the site's HOME_NET
// and friends) when given, with the pack's classification.config and threshold.config applied
// on top; else the pack's vars.yaml; else Suricata's defaults plus those side files. `dir`
// holds the pack's files (extracted or the pack folder itself).
Result<Vars> pack_vars(const Pack& pack, const std::string& dir, const std::string& site_vars);

// The pack's rule files as paths below `dir`, in load order.
std::vector<std::string> pack_rule_paths(const Pack& pack, const std::string& dir);

}  // namespace vigil::rules
