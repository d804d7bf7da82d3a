#include "mgmt/rules_cmd.h"

#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "common/exit_codes.h"
#include "rules/pack.h"
#include "rules/rule_parser.h"
#include "rules/ruleset.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace vigil::mgmt {

namespace fs = std::filesystem;

struct RulesArgs {
    std::string version;  // this program's
    CLI::App* keygen = nullptr;
    CLI::App* pack = nullptr;
    CLI::App* validate = nullptr;
    CLI::App* diff = nullptr;

    std::string out;  // keygen --out, pack -o
    std::string src;
    rules::PackOptions pack_opts;
    std::string trusted_keys;
    bool no_signature_check = false;
    std::string vars;
    int64_t allow_rejected = -1;  // -1: any number
    std::string a, b;
    bool json = false;
};

namespace {

constexpr const char* kFooter =
    "Exit codes: 0 success (validate: the pack is usable and trusted; activate/rollback: every "
    "connected sensor loaded it); 1 runtime failure (a file that cannot be written, no "
    "temporary folder, the API unreachable, a sensor that did not load the pack); 2 bad input "
    "(usage; validate: a pack that is unusable, hostile, too new or untrusted; the API refused "
    "the request, e.g. an untrusted pack). Documentation: docs/rule-packs.md.";

int fail(const Error& e) {
    std::fprintf(stderr, "vigilctl: rules: %s\n", e.message.c_str());
    return exit_code_for(e);
}

int cmd_keygen(const RulesArgs& a) {
    auto r = rules::generate_signing_key(a.out);
    if (!r) {
        return fail(r.error());
    }
    std::printf(
        "secret key: %s (mode 0600; keep it where packs are made, never on a sensor)\n"
        "public key: %s (key id %s; give it to `rules validate --trusted-keys` and mgmtd)\n",
        r->secret_path.c_str(), r->public_path.c_str(), r->key_id.c_str());
    return kExitOk;
}

int cmd_pack(const RulesArgs& a) {
    auto r = rules::write_pack(a.src, a.out, a.pack_opts);
    if (!r) {
        return fail(r.error());
    }
    std::fprintf(
        stderr,
        "pack: %s: %s %s, %zu rule file(s), %zu side file(s), %zu ignored, %llu bytes, "
        "%s, manifest sha256 %s\n",
        r->out_path.c_str(), a.pack_opts.name.c_str(), a.pack_opts.version.c_str(), r->rule_files,
        r->other_files, r->ignored_files, static_cast<unsigned long long>(r->bytes),
        r->key_id.empty() ? "UNSIGNED" : ("signed by key " + r->key_id).c_str(), r->digest.c_str());
    return kExitOk;
}

// A private temporary folder, removed with everything in it when this goes out of scope.
class TempDir {
public:
    static std::optional<TempDir> make() {
        const char* base = std::getenv("TMPDIR");
        std::string tmpl =
            (fs::path(base != nullptr && *base ? base : "/tmp") / "vigilctl-rules.XXXXXX").string();
        if (mkdtemp(tmpl.data()) == nullptr) {
            return std::nullopt;
        }
        return TempDir(std::move(tmpl));
    }
    TempDir(TempDir&& o) noexcept : path_(std::exchange(o.path_, std::string())) {}
    TempDir& operator=(TempDir&&) = delete;
    ~TempDir() {
        if (!path_.empty()) {
            std::error_code ec;
            fs::remove_all(path_, ec);
        }
    }
    const std::string& path() const { return path_; }

private:
    explicit TempDir(std::string p) : path_(std::move(p)) {}
    std::string path_;
};

// Names in the report are the pack's own (rules/x.rules), not the temporary folder's.
std::string strip_dir(const std::string& path, const std::string& dir) {
    const std::string prefix = dir + "/";
    return path.starts_with(prefix) ? path.substr(prefix.size()) : path;
}

void strip_report(rules::LoadReport& report, const std::string& dir) {
    for (auto& f : report.file_names) {
        f = strip_dir(f, dir);
    }
    for (auto& e : report.rejected) {
        e.file = strip_dir(e.file, dir);
        // A message may carry the path too ("cannot open rules file '...'").
        for (size_t at; (at = e.reason.find(dir + "/")) != std::string::npos;) {
            e.reason.erase(at, dir.size() + 1);
        }
    }
}

int cmd_validate(const RulesArgs& a) {
    auto pack = rules::read_pack(a.src);
    if (!pack) {
        return fail(pack.error());
    }
    const auto& m = pack->manifest;
    std::printf("pack: %s %s, created %s, min-sensor-version %s, %zu file(s), manifest sha256 %s\n",
                m.name.c_str(), m.version.c_str(), m.created.c_str(), m.min_sensor_version.c_str(),
                pack->files.size(), pack->digest.c_str());
    std::printf("hashes: ok (every file matches manifest.yaml)\n");
    std::vector<std::string> problems;  // what makes the pack unusable or untrusted
    if (a.no_signature_check) {
        std::printf("signature: NOT CHECKED (--no-signature-check; for local testing only)\n");
    } else if (a.trusted_keys.empty()) {
        std::printf("signature: not verified: no --trusted-keys given\n");
        problems.push_back("untrusted: give --trusted-keys FILE|DIR to verify the signature");
    } else {
        auto keys = rules::load_trusted_keys(a.trusted_keys);
        if (!keys) {
            return fail(keys.error());
        }
        auto who = rules::verify_signature(*pack, *keys);
        if (who) {
            std::printf("signature: ok, key %s (%s)\n", who->key_id.c_str(), who->origin.c_str());
        } else {
            std::printf("signature: REFUSED\n");
            problems.push_back(who.error().message);
        }
    }
    if (auto st = rules::check_min_version(*pack, a.version); !st) {
        std::printf("version: REFUSED\n");
        problems.push_back(st.error().message);
    } else {
        std::printf("version: ok (needs %s, this is %s)\n", m.min_sensor_version.c_str(),
                    a.version.c_str());
    }

    auto tmp = TempDir::make();
    if (!tmp) {
        return fail(make_error(ErrorCode::Io, "cannot create a temporary folder (TMPDIR)"));
    }
    if (auto st = rules::extract_pack(*pack, tmp->path()); !st) {
        return fail(st.error());
    }
    auto vars = rules::pack_vars(*pack, tmp->path(), a.vars);
    if (!vars) {
        Error e = vars.error();
        e.message = strip_dir(e.message, tmp->path());
        return fail(e);
    }
    const std::vector<std::string> paths = rules::pack_rule_paths(*pack, tmp->path());
    rules::LoadReport report;
    auto rs = rules::RuleSet::load(paths, *vars, report);
    if (!rs) {
        Error e = rs.error();
        e.message = strip_dir(e.message, tmp->path());
        return fail(e);
    }
    strip_report(report, tmp->path());
    std::printf("%s\n", report.summary_line().c_str());
    for (const auto& e : report.rejected_in_order()) {
        std::printf("  rejected: %s\n", e.to_string().c_str());
    }
    if (report.rejected.size() > 1) {
        std::printf("rejected by reason:\n");
        for (const auto& [reason, n] : report.rejected_by_reason()) {
            std::printf("  %6zu  %s\n", n, reason.c_str());
        }
    }
    if (report.loaded == 0) {
        problems.push_back("unusable: no rule loads");
    }
    if (a.allow_rejected >= 0 && report.rejected.size() > static_cast<size_t>(a.allow_rejected)) {
        problems.push_back(std::to_string(report.rejected.size()) +
                           " rule(s) rejected, more than " + "--allow-rejected " +
                           std::to_string(a.allow_rejected));
    }
    if (!problems.empty()) {
        for (const auto& p : problems) {
            std::fprintf(stderr, "vigilctl: rules validate: %s\n", p.c_str());
        }
        std::printf("validate: FAIL\n");
        return kExitBadInput;
    }
    std::printf("validate: ok: %s %s is usable%s\n", m.name.c_str(), m.version.c_str(),
                a.no_signature_check ? " (signature not checked)" : " and trusted");
    return kExitOk;
}

// ---- diff ---------------------------------------------------------------------------------

struct DiffRule {
    rules::RuleLine line;
    std::string file;
};
using RuleMap = std::map<std::pair<uint32_t, uint32_t>, DiffRule>;  // (gid, sid)

struct DiffSide {
    RuleMap rules;
    size_t without_sid = 0;
    size_t duplicates = 0;
};

void add_rules(DiffSide& side, const std::string& file, const std::string& content) {
    for (auto& r : rules::scan_rule_lines(content)) {
        if (r.sid == 0) {
            ++side.without_sid;
            continue;
        }
        const auto key = std::make_pair(r.gid, r.sid);
        if (!side.rules.emplace(key, DiffRule{std::move(r), file}).second) {
            ++side.duplicates;  // the first one counts, as when loading
        }
    }
}

Result<std::string> slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return make_error(ErrorCode::BadInput, path + ": cannot read");
    }
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// A pack (a .tar.zst, or a folder with manifest.yaml), a rules file, or a folder of them (its
// *.rules and rules/*.rules).
Result<DiffSide> diff_side(const std::string& path) {
    DiffSide side;
    std::error_code ec;
    const bool dir = fs::is_directory(path, ec);
    if (path.ends_with(".tar.zst") || (dir && fs::exists(fs::path(path) / "manifest.yaml", ec))) {
        auto pack = rules::read_pack(path);
        if (!pack) {
            return pack.error();
        }
        for (const auto& f : pack->rule_files()) {
            add_rules(side, f, pack->files.at(f));
        }
        return side;
    }
    std::vector<std::string> files;
    if (dir) {
        for (const char* sub : {"", "rules"}) {
            const fs::path d = fs::path(path) / sub;
            for (fs::directory_iterator it(d, ec), end; !ec && it != end; it.increment(ec)) {
                if (it->path().extension() == ".rules") {
                    files.push_back(it->path().string());
                }
            }
            ec.clear();
        }
        std::sort(files.begin(), files.end());
        if (files.empty()) {
            return make_error(ErrorCode::BadInput, path + ": no *.rules file in the folder");
        }
    } else {
        files.push_back(path);
    }
    for (const auto& f : files) {
        auto content = slurp(f);
        if (!content) {
            return content.error();
        }
        add_rules(side, dir ? fs::path(f).lexically_relative(path).string() : f, *content);
    }
    return side;
}

std::string rule_id(const std::pair<uint32_t, uint32_t>& k) {
    return std::to_string(k.first) + ":" + std::to_string(k.second);
}

int cmd_diff(const RulesArgs& a) {
    auto sa = diff_side(a.a);
    if (!sa) {
        return fail(sa.error());
    }
    auto sb = diff_side(a.b);
    if (!sb) {
        return fail(sb.error());
    }
    using Json = nlohmann::ordered_json;
    Json added = Json::array(), removed = Json::array(), changed = Json::array();
    std::vector<std::string> lines;
    size_t unchanged = 0;
    auto entry = [](const std::pair<uint32_t, uint32_t>& k, const DiffRule& r) {
        return Json{{"gid", k.first},    {"sid", k.second}, {"rev", r.line.rev},
                    {"msg", r.line.msg}, {"file", r.file},  {"line", r.line.line}};
    };
    for (const auto& [k, r] : sa->rules) {
        auto other = sb->rules.find(k);
        if (other == sb->rules.end()) {
            removed.push_back(entry(k, r));
            lines.push_back("removed " + rule_id(k) + " rev " + std::to_string(r.line.rev) + "  " +
                            r.line.msg);
            continue;
        }
        const DiffRule& n = other->second;
        if (n.line.rev == r.line.rev && n.line.text == r.line.text) {
            ++unchanged;
            continue;
        }
        Json c = entry(k, n);
        c["rev_before"] = r.line.rev;
        c["text_changed"] = n.line.text != r.line.text;
        changed.push_back(std::move(c));
        lines.push_back("changed " + rule_id(k) + " rev " + std::to_string(r.line.rev) + " -> " +
                        std::to_string(n.line.rev) +
                        (n.line.text != r.line.text ? "" : " (text unchanged)") + "  " +
                        n.line.msg);
    }
    for (const auto& [k, r] : sb->rules) {
        if (sa->rules.count(k) == 0) {
            added.push_back(entry(k, r));
            lines.push_back("added   " + rule_id(k) + " rev " + std::to_string(r.line.rev) + "  " +
                            r.line.msg);
        }
    }
    if (a.json) {
        Json out{{"a", a.a},
                 {"b", a.b},
                 {"added", added},
                 {"removed", removed},
                 {"changed", changed},
                 {"counts",
                  {{"added", added.size()},
                   {"removed", removed.size()},
                   {"changed", changed.size()},
                   {"unchanged", unchanged}}}};
        std::printf("%s\n", out.dump(2).c_str());
        return kExitOk;
    }
    for (const auto& l : lines) {
        std::printf("%s\n", l.c_str());
    }
    std::printf("added %zu, removed %zu, changed %zu, unchanged %zu\n", added.size(),
                removed.size(), changed.size(), unchanged);
    for (const auto* s : {&*sa, &*sb}) {
        const std::string& name = s == &*sa ? a.a : a.b;
        if (s->without_sid != 0 || s->duplicates != 0) {
            std::fprintf(stderr,
                         "diff: %s: %zu rule(s) without a sid and %zu duplicate sid(s) "
                         "not compared\n",
                         name.c_str(), s->without_sid, s->duplicates);
        }
    }
    return kExitOk;
}

}  // namespace

RulesCommand::RulesCommand(CLI::App& app, std::string version) : a_(std::make_unique<RulesArgs>()) {
    RulesArgs& a = *a_;
    a.version = std::move(version);
    a.pack_opts.min_sensor_version = a.version;
    auto* rules =
        app.add_subcommand("rules",
                           "rule packs: keygen, pack, validate, diff on local files; list, "
                           "activate, rollback through vigil-mgmtd's API (docs/rule-packs.md)");
    rules->require_subcommand(1);
    rules->footer(kFooter);

    a.keygen = rules->add_subcommand(
        "keygen",
        "make an Ed25519 signing key: DIR/signing.key (secret, mode 0600) and "
        "DIR/signing.pub (public); never overwrites");
    a.keygen->add_option("--out", a.out, "folder for the two files (created if missing)")
        ->required();

    a.pack = rules->add_subcommand(
        "pack", "make a pack (.tar.zst) with a manifest of sha256s; signs it when given --key");
    a.pack
        ->add_option("SRC", a.src,
                     "a folder of *.rules (at its top or in rules/) with optional "
                     "classification.config, threshold.config, reference.config, vars.yaml; "
                     "or one rules file (suricata.rules); or a .tar.gz with a rules/ folder "
                     "(ET Open)")
        ->required();
    a.pack->add_option("-o,--out", a.out, "the pack to write (PACK.tar.zst)")->required();
    a.pack
        ->add_option("--version", a.pack_opts.version,
                     "the pack's version: 1-64 of [A-Za-z0-9._-] (names its folder on mgmtd)")
        ->required();
    a.pack->add_option("--name", a.pack_opts.name, "the pack's name (default: rules)");
    a.pack->add_option(
        "--min-sensor-version", a.pack_opts.min_sensor_version,
        "the oldest sensor that may load it (default: this vigilctl's version, " + a.version + ")");
    a.pack->add_option("--key", a.pack_opts.key_path,
                       "sign with this signing.key (from `rules keygen`); without it the pack "
                       "is unsigned and validate refuses it");
    a.pack->add_flag("--force", a.pack_opts.force, "replace an existing output file");

    a.validate = rules->add_subcommand(
        "validate",
        "check a pack as mgmtd would: hashes, hostile content, signature, "
        "min-sensor-version, then parse and compile every rule with the sensor's "
        "code; lists each rejected rule (file:line: sid N: reason). Exit 0 usable "
        "and trusted, 2 otherwise");
    a.validate->add_option("PACK", a.src, "a .tar.zst pack or a pack folder")->required();
    a.validate->add_option("--trusted-keys", a.trusted_keys,
                           "a file of signing.pub lines, or a folder of *.pub files; without it "
                           "the pack cannot be trusted (exit 2)");
    a.validate->add_flag("--no-signature-check", a.no_signature_check,
                         "skip the signature (local testing only): exit 0 when the pack is "
                         "usable, signed or not");
    a.validate->add_option("--vars", a.vars,
                           "compile with this vars YAML (the site's HOME_NET...) instead of the "
                           "pack's vars.yaml or the defaults; the pack's classification.config "
                           "and threshold.config still apply on top");
    a.validate
        ->add_option("--allow-rejected", a.allow_rejected,
                     "fail (exit 2) when more than N rules are rejected (default: any "
                     "number, as long as one loads)")
        ->check(CLI::NonNegativeNumber);

    a.diff = rules->add_subcommand(
        "diff",
        "the sids added, removed and changed (rev or text) from A to B, one line each, "
        "then counts; active rules only (commented-out rules are not compared)");
    a.diff->add_option("A", a.a, "a pack (.tar.zst or folder), a rules file or a folder of them")
        ->required();
    a.diff->add_option("B", a.b, "the same kinds as A")->required();
    a.diff->add_flag("--json", a.json, "one JSON object: added, removed, changed, counts");
    for (auto* sub : {a.keygen, a.pack, a.validate, a.diff}) {
        sub->footer(kFooter);
    }
}

RulesCommand::~RulesCommand() = default;

bool RulesCommand::selected() const {
    return *a_->keygen || *a_->pack || *a_->validate || *a_->diff;
}

int RulesCommand::run() const {
    if (*a_->keygen) {
        return cmd_keygen(*a_);
    }
    if (*a_->pack) {
        return cmd_pack(*a_);
    }
    if (*a_->validate) {
        return cmd_validate(*a_);
    }
    if (*a_->diff) {
        return cmd_diff(*a_);
    }
    return kExitBadInput;
}

}  // namespace vigil::mgmt
