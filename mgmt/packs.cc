#include "mgmt/packs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "common/clock.h"
#include "rules/pack.h"
#include "rules/ruleset.h"

#include <nlohmann/json.hpp>

namespace vigil::mgmt {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Files 0444, folders 0555: a stored pack is not edited in place (a change is a new version).
void make_read_only(const fs::path& root) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        ::chmod(it->path().c_str(), it->is_directory(ec) ? 0555 : 0444);
    }
    ::chmod(root.c_str(), 0555);
}

// Undoes make_read_only so that a folder can be removed.
void remove_tree(const fs::path& root) {
    std::error_code ec;
    ::chmod(root.c_str(), 0755);
    for (auto it = fs::recursive_directory_iterator(root, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_directory(ec)) {
            ::chmod(it->path().c_str(), 0755);
        }
    }
    fs::remove_all(root, ec);
}

json to_json(const PackEvent& e) {
    return json{{"at_us", e.at_us},
                {"event", e.event},
                {"version", e.version},
                {"name", e.name},
                {"digest", e.digest},
                {"signer", e.signer},
                {"rules_loaded", e.rules_loaded},
                {"rules_rejected", e.rules_rejected},
                {"reason", e.reason}};
}

}  // namespace

Result<std::unique_ptr<PackStore>> PackStore::open(const std::string& dir,
                                                   const std::string& trusted_keys,
                                                   const std::string& sensor_version) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
        return make_error(ErrorCode::Io, "rulepacks.dir " + dir + ": " + ec.message());
    }
    if (::access(dir.c_str(), W_OK) != 0) {
        return make_error(ErrorCode::Io, "rulepacks.dir " + dir + ": not writable");
    }
    if (!trusted_keys.empty()) {
        // Read now so that a broken key file stops the start, not the first upload.
        if (auto k = rules::load_trusted_keys(trusted_keys); !k) {
            return make_error(k.error().code, "rulepacks.trusted-keys: " + k.error().message);
        }
    }
    return std::unique_ptr<PackStore>(new PackStore(dir, trusted_keys, sensor_version));
}

Status PackStore::record(const PackEvent& e) const {
    const std::string path = (fs::path(dir_) / "history.jsonl").string();
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        return make_error(ErrorCode::Io, path + ": " + std::strerror(errno));
    }
    const std::string line = to_json(e).dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                    ::fsync(fd) == 0;
    const int err = errno;
    ::close(fd);
    if (!ok) {
        return make_error(ErrorCode::Io, path + ": " + std::strerror(err));
    }
    return Ok{};
}

Result<std::vector<PackEvent>> PackStore::history() const {
    std::vector<PackEvent> out;
    std::ifstream in(fs::path(dir_) / "history.jsonl");
    std::string line;
    while (std::getline(in, line)) {
        const json j = json::parse(line, nullptr, false);
        if (!j.is_object()) {
            continue;  // a line torn by a crash mid-write
        }
        PackEvent e;
        e.at_us = j.value("at_us", int64_t{0});
        e.event = j.value("event", "");
        e.version = j.value("version", "");
        e.name = j.value("name", "");
        e.digest = j.value("digest", "");
        e.signer = j.value("signer", "");
        e.rules_loaded = j.value("rules_loaded", uint64_t{0});
        e.rules_rejected = j.value("rules_rejected", uint64_t{0});
        e.reason = j.value("reason", "");
        out.push_back(std::move(e));
    }
    return out;
}

std::string PackStore::active_locked() const {
    std::error_code ec;
    const fs::path target = fs::read_symlink(fs::path(dir_) / "active", ec);
    return ec ? std::string() : target.filename().string();
}

Result<StoredPack> PackStore::add(std::string_view archive, const std::string& origin) {
    std::lock_guard lk(mu_);
    PackEvent ev;
    ev.at_us = wall_us();
    auto refuse = [&](const std::string& reason) -> Error {
        ev.event = "refused";
        ev.reason = reason;
        if (auto st = record(ev); !st) {
            std::fprintf(stderr, "vigil-mgmtd: rule packs: %s (refusal of %s not recorded)\n",
                         st.error().message.c_str(), origin.c_str());
        }
        return Error{ErrorCode::BadInput, reason};
    };
    auto pack = rules::read_pack_archive(archive, origin);
    if (!pack) {
        return refuse(pack.error().message);
    }
    ev.version = pack->manifest.version;
    ev.name = pack->manifest.name;
    ev.digest = pack->digest;
    if (trusted_.empty()) {
        return refuse(
            "no trusted keys (rulepacks.trusted-keys in mgmtd.yaml): every pack is "
            "refused");
    }
    auto keys = rules::load_trusted_keys(trusted_);
    if (!keys) {
        return refuse("trusted keys: " + keys.error().message);
    }
    auto signer = rules::verify_signature(*pack, *keys);
    if (!signer) {
        return refuse(signer.error().message);
    }
    ev.signer = signer->key_id;
    if (auto st = rules::check_min_version(*pack, version_); !st) {
        return refuse(st.error().message);
    }
    const fs::path final_dir = fs::path(dir_) / pack->manifest.version;
    std::error_code ec;
    if (fs::exists(final_dir, ec)) {
        auto h = history();
        if (h) {
            for (auto it = h->rbegin(); it != h->rend(); ++it) {
                if (it->event == "stored" && it->version == ev.version) {
                    if (it->digest != ev.digest) {
                        return refuse("version " + ev.version +
                                      " is already stored with different content (a changed "
                                      "pack needs a new version)");
                    }
                    return StoredPack{it->version, it->name,  it->digest,       it->signer,
                                      "",          it->at_us, it->rules_loaded, it->rules_rejected};
                }
            }
        }
        return refuse("version " + ev.version + ": " + final_dir.string() +
                      " exists but is not a stored pack");
    }
    // Extracted beside its final place, compiled there, then renamed into place.
    const fs::path tmp = fs::path(dir_) / (".incoming-" + ev.version);
    remove_tree(tmp);
    if (auto st = rules::extract_pack(*pack, tmp.string()); !st) {
        remove_tree(tmp);
        return make_error(ErrorCode::Io, st.error().message);
    }
    auto vars = rules::pack_vars(*pack, tmp.string(), "");
    if (!vars) {
        remove_tree(tmp);
        return refuse(vars.error().message);
    }
    rules::LoadReport report;
    auto rs = rules::RuleSet::load(rules::pack_rule_paths(*pack, tmp.string()), *vars, report);
    if (!rs || report.loaded == 0) {
        remove_tree(tmp);
        return refuse(!rs ? rs.error().message
                          : "no rule of the pack loads (" + std::to_string(report.rejected.size()) +
                                " rejected; vigilctl rules validate lists them)");
    }
    ev.rules_loaded = report.loaded;
    ev.rules_rejected = report.rejected.size();
    make_read_only(tmp);
    fs::rename(tmp, final_dir, ec);
    if (ec) {
        remove_tree(tmp);
        return make_error(ErrorCode::Io, final_dir.string() + ": " + ec.message());
    }
    // The archive is kept (read-only) so that tampered files can be put back (repair()).
    const fs::path archives = fs::path(dir_) / ".archives";
    fs::create_directories(archives, ec);
    const fs::path kept = archives / (ev.version + ".tar.zst");
    {
        std::ofstream out(kept, std::ios::binary | std::ios::trunc);
        out.write(archive.data(), static_cast<std::streamsize>(archive.size()));
        if (!out.flush()) {
            return make_error(ErrorCode::Io, kept.string() + ": cannot write");
        }
    }
    ::chmod(kept.c_str(), 0444);
    ev.event = "stored";
    if (auto st = record(ev); !st) {
        return st.error();
    }
    return StoredPack{
        ev.version, ev.name,         ev.digest,        ev.signer, pack->manifest.created,
        ev.at_us,   ev.rules_loaded, ev.rules_rejected};
}

Result<PackListing> PackStore::list() const {
    std::lock_guard lk(mu_);
    auto h = history();
    if (!h) {
        return h.error();
    }
    PackListing l;
    l.active = active_locked();
    std::error_code ec;
    for (const auto& e : *h) {
        if (e.event == "refused") {
            l.refused.push_back(e);
        } else if (e.event == "stored" && fs::is_directory(fs::path(dir_) / e.version, ec)) {
            bool dup = false;
            for (const auto& p : l.packs) {
                dup = dup || p.version == e.version;
            }
            if (!dup) {
                l.packs.push_back(StoredPack{e.version, e.name, e.digest, e.signer, "", e.at_us,
                                             e.rules_loaded, e.rules_rejected});
            }
        } else if ((e.event == "activated" || e.event == "rolled_back") && !e.reason.empty()) {
            l.previous = e.reason;  // what the last activation replaced
        }
    }
    if (l.previous == l.active) {
        l.previous.clear();
    }
    return l;
}

Result<Activation> PackStore::activate_locked(const std::string& version, const char* event) {
    std::error_code ec;
    if (version.empty() || version.find('/') != std::string::npos || version[0] == '.' ||
        !fs::is_directory(fs::path(dir_) / version, ec) ||
        !fs::is_regular_file(fs::path(dir_) / version / "manifest.yaml", ec)) {
        return make_error(ErrorCode::BadInput, "no stored pack has version '" + version +
                                                   "' (vigilctl rules list shows them)");
    }
    Activation a;
    a.version = version;
    a.replaced = active_locked();
    // A new link renamed over the old one: the sensors see the old pack or the new, never none.
    const fs::path link = fs::path(dir_) / "active";
    const fs::path tmp = fs::path(dir_) / ".active.new";
    fs::remove(tmp, ec);
    fs::create_directory_symlink(version, tmp, ec);
    if (!ec) {
        fs::rename(tmp, link, ec);
    }
    if (ec) {
        return make_error(ErrorCode::Io, link.string() + ": " + ec.message());
    }
    PackEvent e;
    e.at_us = wall_us();
    e.event = event;
    e.version = version;
    e.reason = a.replaced;
    if (auto st = record(e); !st) {
        return st.error();
    }
    return a;
}

Result<Activation> PackStore::activate(const std::string& version) {
    std::lock_guard lk(mu_);
    return activate_locked(version, "activated");
}

Result<Activation> PackStore::reactivate(const std::string& version) {
    std::lock_guard lk(mu_);
    return activate_locked(version, "reactivated");
}

Result<Activation> PackStore::rollback() {
    std::string previous;
    {
        auto l = list();
        if (!l) {
            return l.error();
        }
        previous = l->previous;
    }
    if (previous.empty()) {
        return make_error(ErrorCode::BadInput,
                          "nothing to roll back to: no pack was active before the current one");
    }
    std::lock_guard lk(mu_);
    return activate_locked(previous, "rolled_back");
}

Result<std::optional<StoredPack>> PackStore::activated() const {
    auto l = list();
    if (!l) {
        return l.error();
    }
    std::string version;
    {
        std::lock_guard lk(mu_);
        auto h = history();
        if (!h) {
            return h.error();
        }
        for (const auto& e : *h) {
            if (e.event == "activated" || e.event == "rolled_back") {
                version = e.version;
            }
        }
    }
    for (const auto& p : l->packs) {
        if (p.version == version) {
            return std::optional<StoredPack>(p);
        }
    }
    return std::optional<StoredPack>();
}

namespace {

std::string short_hash(const std::string& h) {
    return h.size() > 12 ? h.substr(0, 12) + "…" : h;
}

Result<std::string> slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) {
        return make_error(ErrorCode::Io, p.string() + ": cannot read");
    }
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return data;
}

}  // namespace

Result<std::vector<PackFileProblem>> PackStore::verify() const {
    auto l = list();
    if (!l) {
        return l.error();
    }
    std::vector<PackFileProblem> out;
    {
        // A stored pack whose whole folder is gone (list() shows only those present).
        std::lock_guard lk(mu_);
        auto h = history();
        if (!h) {
            return h.error();
        }
        std::error_code ec;
        std::set<std::string> seen;
        for (const auto& e : *h) {
            if (e.event == "stored" && seen.insert(e.version).second &&
                !fs::is_directory(fs::path(dir_) / e.version, ec)) {
                out.push_back(PackFileProblem{e.version, (fs::path(dir_) / e.version).string(),
                                              "folder missing"});
            }
        }
    }
    for (const auto& p : l->packs) {
        const fs::path root = fs::path(dir_) / p.version;
        auto bad = [&](const fs::path& f, std::string what) {
            out.push_back(PackFileProblem{p.version, f.string(), std::move(what)});
        };
        auto manifest_text = slurp(root / "manifest.yaml");
        if (!manifest_text) {
            bad(root / "manifest.yaml", "missing or unreadable");
            continue;
        }
        const std::string digest = rules::sha256_hex(*manifest_text);
        if (digest != p.digest) {
            bad(root / "manifest.yaml", "sha256 changed (stored " + short_hash(p.digest) +
                                            ", now " + short_hash(digest) + ")");
            continue;
        }
        auto manifest = rules::parse_manifest(*manifest_text, (root / "manifest.yaml").string());
        if (!manifest) {
            bad(root / "manifest.yaml", manifest.error().message);
            continue;
        }
        std::error_code ec;
        for (const auto& [rel, sha] : manifest->files) {
            const fs::path f = root / rel;
            if (!fs::is_regular_file(f, ec) || fs::is_symlink(f, ec)) {
                bad(f, "missing");
                continue;
            }
            auto data = slurp(f);
            if (!data) {
                bad(f, "unreadable");
                continue;
            }
            const std::string now = rules::sha256_hex(*data);
            if (now != sha) {
                bad(f, "sha256 changed (manifest " + short_hash(sha) + ", now " + short_hash(now) +
                           ")");
            }
        }
        for (auto it = fs::recursive_directory_iterator(root, ec);
             !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
            if (it->is_directory(ec)) {
                continue;
            }
            const std::string rel = fs::relative(it->path(), root, ec).generic_string();
            if (rel != "manifest.yaml" && rel != "manifest.sig" &&
                manifest->files.count(rel) == 0) {
                bad(it->path(), "not in the manifest (added)");
            }
        }
    }
    return out;
}

Result<std::string> PackStore::repair(const std::string& version) {
    std::lock_guard lk(mu_);
    auto h = history();
    if (!h) {
        return h.error();
    }
    std::string digest;
    for (const auto& e : *h) {
        if (e.event == "stored" && e.version == version) {
            digest = e.digest;
        }
    }
    if (digest.empty()) {
        return make_error(ErrorCode::BadInput, "no stored pack has version '" + version + "'");
    }
    const fs::path kept = fs::path(dir_) / ".archives" / (version + ".tar.zst");
    auto bytes = slurp(kept);
    if (!bytes) {
        return make_error(ErrorCode::Io, "pack " + version + ": no archive kept (" + kept.string() +
                                             "); store the pack again");
    }
    auto pack = rules::read_pack_archive(*bytes, kept.string());
    if (!pack) {
        return make_error(ErrorCode::Io, "pack " + version + ": the kept archive is damaged: " +
                                             pack.error().message);
    }
    if (pack->digest != digest) {
        return make_error(ErrorCode::Io,
                          "pack " + version + ": the kept archive is not the pack stored (digest " +
                              short_hash(pack->digest) + ", stored " + short_hash(digest) + ")");
    }
    const fs::path final_dir = fs::path(dir_) / version;
    const fs::path tmp = fs::path(dir_) / (".repair-" + version);
    remove_tree(tmp);
    if (auto st = rules::extract_pack(*pack, tmp.string()); !st) {
        remove_tree(tmp);
        return make_error(ErrorCode::Io, st.error().message);
    }
    make_read_only(tmp);
    std::error_code ec;
    const fs::path quarantine = fs::path(dir_) / ".quarantine";
    fs::create_directories(quarantine, ec);
    const fs::path aside = quarantine / (version + "-" + std::to_string(wall_us()));
    const bool present = fs::exists(final_dir, ec);
    fs::rename(final_dir, aside, ec);
    if (ec && fs::exists(final_dir)) {
        remove_tree(tmp);
        return make_error(ErrorCode::Io, final_dir.string() + ": " + ec.message());
    }
    fs::rename(tmp, final_dir, ec);
    if (ec) {
        return make_error(ErrorCode::Io, final_dir.string() + ": " + ec.message());
    }
    return "put pack " + version + " back from its stored archive" +
           (present ? "; the tampered copy is in " + aside.string()
                    : std::string(" (its folder was gone)"));
}

}  // namespace vigil::mgmt
