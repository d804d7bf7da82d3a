#include "mgmt/backup.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <thread>

#include "common/clock.h"
#include "mgmt/audit.h"

#include <nlohmann/json.hpp>

namespace vigil::mgmt {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kFormat = 1;

Error io_error(const std::string& what, const std::string& path, int err = errno) {
    return Error{ErrorCode::Io, what + " " + path + ": " + std::strerror(err)};
}

Result<std::string> sha256_file(const std::string& path, uint64_t& size) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return io_error("cannot read", path);
    }
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
    std::vector<char> buf(1 << 20);
    size = 0;
    while (in) {
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        const auto n = static_cast<size_t>(in.gcount());
        EVP_DigestUpdate(ctx.get(), buf.data(), n);
        size += n;
    }
    if (in.bad()) {
        return io_error("cannot read", path);
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx.get(), md, &len);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    for (unsigned i = 0; i < len; ++i) {
        hex += kHex[md[i] >> 4];
        hex += kHex[md[i] & 15];
    }
    return hex;
}

// SQLite's online backup: one consistent snapshot, while mgmtd goes on writing.
Status sqlite_copy(const std::string& src, const std::string& dst) {
    sqlite3* from = nullptr;
    sqlite3* to = nullptr;
    auto close = [&] {
        sqlite3_close(from);
        sqlite3_close(to);
    };
    if (sqlite3_open_v2(src.c_str(), &from, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
        const std::string msg = from ? sqlite3_errmsg(from) : "out of memory";
        close();
        return make_error(ErrorCode::Io, "cannot open " + src + ": " + msg);
    }
    sqlite3_busy_timeout(from, 10000);
    if (sqlite3_open_v2(dst.c_str(), &to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
        SQLITE_OK) {
        const std::string msg = to ? sqlite3_errmsg(to) : "out of memory";
        close();
        return make_error(ErrorCode::Io, "cannot create " + dst + ": " + msg);
    }
    sqlite3_backup* b = sqlite3_backup_init(to, "main", from, "main");
    if (b == nullptr) {
        const std::string msg = sqlite3_errmsg(to);
        close();
        return make_error(ErrorCode::Io, "cannot back up " + src + ": " + msg);
    }
    int rc = SQLITE_OK;
    for (int tries = 0; tries < 1000; ++tries) {
        rc = sqlite3_backup_step(b, -1);
        if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    sqlite3_backup_finish(b);
    const std::string msg = sqlite3_errmsg(to);
    close();
    if (rc != SQLITE_DONE) {
        return make_error(ErrorCode::Io, "backup of " + src + " failed: " + msg);
    }
    return Ok{};
}

// The single files of mgmtd's state, by role, as `cfg` names them.
struct Place {
    const char* role;
    std::string path;
    bool sqlite;
};

std::vector<Place> places(const MgmtConfig& cfg) {
    return {{"store", cfg.store_path, true},
            {"tokens", cfg.api_tokens, true},
            {"incidents", cfg.health_incidents, true},
            {"outbox", cfg.notify_outbox, true},
            {"audit", cfg.audit_log, false},
            {"baseline", cfg.health_integrity_baseline, false},
            {"config", cfg.path, false}};
}

void say(std::FILE* log, const char* fmt, const std::string& a, uint64_t n = 0) {
    if (log != nullptr) {
        std::fprintf(log, fmt, a.c_str(), static_cast<unsigned long long>(n));
        std::fflush(log);
    }
}

json to_json(const BackupFile& f) {
    json j{
        {"role", f.role}, {"path", f.path}, {"name", f.name}, {"kind", f.kind}, {"mode", f.mode}};
    if (f.kind == "link") {
        j["target"] = f.target;
    }
    if (f.kind == "file" || f.kind == "sqlite") {
        j["size"] = f.size;
        j["sha256"] = f.sha256;
    }
    return j;
}

// A name under files/: relative, without "..", so a crafted backup.json cannot write
// elsewhere.
bool safe_name(const std::string& name) {
    const fs::path p(name);
    if (name.empty() || p.is_absolute()) {
        return false;
    }
    return std::none_of(p.begin(), p.end(), [](const fs::path& c) { return c == ".."; });
}

// The owner of the folder a restored file lands in (root restoring vigil's state).
void own_like_parent(const std::string& path) {
    if (::geteuid() != 0) {
        return;
    }
    struct stat st {};
    if (::stat(fs::path(path).parent_path().c_str(), &st) == 0) {
        (void)::lchown(path.c_str(), st.st_uid, st.st_gid);
    }
}

Result<BackupSummary> copy_state(const MgmtConfig& cfg, const std::string& out_dir,
                                 const std::string& version, std::FILE* log);

// One file into the backup (SQLite's online backup for a database), readable by its owner
// only, its size and sha256 into `f`.
Status copy_and_hash(const std::string& src, const fs::path& copy, bool sqlite, BackupFile& f) {
    std::error_code ec;
    fs::create_directories(copy.parent_path(), ec);
    if (sqlite) {
        if (auto st = sqlite_copy(src, copy.string()); !st) {
            return st;
        }
    } else if (!fs::copy_file(src, copy, fs::copy_options::overwrite_existing, ec)) {
        return make_error(ErrorCode::Io, "cannot copy " + src + ": " + ec.message());
    }
    ::chmod(copy.c_str(), 0600);
    auto sha = sha256_file(copy.string(), f.size);
    if (!sha) {
        return sha.error();
    }
    f.sha256 = *sha;
    return Ok{};
}

}  // namespace

Result<BackupSummary> make_backup(const MgmtConfig& cfg, const std::string& out_dir,
                                  const std::string& version, std::FILE* log) {
    std::error_code ec;
    if (fs::exists(out_dir, ec) && !fs::is_empty(out_dir, ec)) {
        return make_error(ErrorCode::BadInput,
                          out_dir + ": exists and is not empty: give a new folder");
    }
    fs::create_directories(fs::path(out_dir) / "files", ec);
    if (ec) {
        return make_error(ErrorCode::Io, "cannot create " + out_dir + ": " + ec.message());
    }
    fs::permissions(out_dir, fs::perms::owner_all, ec);
    // Recorded first, so that the backup holds its own record; a failure is recorded too.
    if (auto st =
            append_audit(cfg.audit_log, {"local", "local", "backup.create", out_dir, "{}", true});
        !st) {
        return st.error();
    }
    auto r = copy_state(cfg, out_dir, version, log);
    if (!r) {
        (void)append_audit(cfg.audit_log, {"local", "local", "backup.create", out_dir,
                                           json{{"error", r.error().message}}.dump(), false});
    }
    return r;
}

namespace {

Result<BackupSummary> copy_state(const MgmtConfig& cfg, const std::string& out_dir,
                                 const std::string& version, std::FILE* log) {
    std::error_code ec;
    BackupSummary sum;
    sum.dir = out_dir;
    const fs::path files = fs::path(out_dir) / "files";

    for (const auto& pl : places(cfg)) {
        if (pl.path.empty() || !fs::exists(pl.path, ec)) {
            say(log, "backup: %s: not present, skipped\n", std::string(pl.role) + " " + pl.path);
            continue;
        }
        BackupFile f;
        f.role = pl.role;
        f.path = fs::absolute(pl.path).string();
        f.name = std::string(pl.role) + "/" + fs::path(pl.path).filename().string();
        f.kind = pl.sqlite ? "sqlite" : "file";
        f.mode = static_cast<uint32_t>(fs::status(pl.path, ec).permissions() & fs::perms::mask);
        const fs::path copy = files / f.name;
        if (auto st = copy_and_hash(pl.path, copy, pl.sqlite, f); !st) {
            return st.error();
        }
        sum.bytes += f.size;
        say(log, "backup: %s (%llu bytes)\n", std::string(pl.role) + " " + pl.path, f.size);
        sum.files.push_back(std::move(f));
    }

    // The rule packs: every stored pack, its archive, the history and the `active` link.
    if (fs::is_directory(cfg.rulepacks_dir, ec)) {
        uint64_t n = 0;
        std::vector<fs::path> entries;
        for (auto it = fs::recursive_directory_iterator(cfg.rulepacks_dir, ec);
             !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
            entries.push_back(it->path());
        }
        if (ec) {
            return make_error(ErrorCode::Io,
                              "cannot read " + cfg.rulepacks_dir + ": " + ec.message());
        }
        std::sort(entries.begin(), entries.end());
        for (const auto& p : entries) {
            BackupFile f;
            f.role = "rulepacks";
            f.path = fs::absolute(p).string();
            // lexically: fs::relative would resolve the `active` link to its pack
            f.name = "rulepacks/" + p.lexically_relative(cfg.rulepacks_dir).string();
            const auto st = fs::symlink_status(p, ec);
            f.mode = static_cast<uint32_t>(st.permissions() & fs::perms::mask);
            const fs::path copy = files / f.name;
            if (fs::is_symlink(st)) {
                f.kind = "link";
                f.target = fs::read_symlink(p, ec).string();
            } else if (fs::is_directory(st)) {
                f.kind = "dir";
                fs::create_directories(copy, ec);
            } else if (fs::is_regular_file(st)) {
                f.kind = "file";
                if (auto st = copy_and_hash(p.string(), copy, false, f); !st) {
                    return st.error();
                }
                sum.bytes += f.size;
                ++n;
            } else {
                continue;  // sockets, fifos: not mgmtd's
            }
            sum.files.push_back(std::move(f));
        }
        say(log, "backup: rulepacks %s (%llu files)\n", cfg.rulepacks_dir, n);
    }

    json files_json = json::array();
    for (const auto& f : sum.files) {
        files_json.push_back(to_json(f));
    }
    const json manifest{{"format", kFormat},
                        {"vigil_version", version},
                        {"created", iso8601_utc(wall_us())},
                        {"config", cfg.path},
                        {"files", files_json}};
    const std::string mpath = (fs::path(out_dir) / "backup.json").string();
    {
        std::ofstream out(mpath, std::ios::trunc);
        out << manifest.dump(2) << "\n";
        if (!out) {
            return io_error("cannot write", mpath);
        }
    }
    ::chmod(mpath.c_str(), 0600);
    return sum;
}

}  // namespace

Result<BackupSummary> restore_backup(const MgmtConfig& cfg, const std::string& dir, bool force,
                                     std::FILE* log) {
    // 1. The backup: readable, of a format this version knows, every copy as recorded.
    const std::string mpath = (fs::path(dir) / "backup.json").string();
    json manifest;
    {
        std::ifstream in(mpath);
        if (!in) {
            return make_error(ErrorCode::BadInput,
                              mpath + ": cannot read: " + std::strerror(errno) +
                                  " (is this a folder `vigilctl backup` wrote?)");
        }
        manifest = json::parse(in, nullptr, false);
    }
    if (manifest.is_discarded() || !manifest.is_object() || !manifest.contains("files")) {
        return make_error(ErrorCode::BadInput, mpath + ": not a backup manifest");
    }
    if (manifest.value("format", 0) != kFormat) {
        return make_error(ErrorCode::BadInput, mpath + ": format " + manifest["format"].dump() +
                                                   " is not one this vigilctl restores (" +
                                                   std::to_string(kFormat) + ")");
    }
    BackupSummary sum;
    sum.dir = dir;
    const fs::path files = fs::path(dir) / "files";
    for (const auto& j : manifest["files"]) {
        BackupFile f;
        f.role = j.value("role", "");
        f.path = j.value("path", "");
        f.name = j.value("name", "");
        f.kind = j.value("kind", "");
        f.target = j.value("target", "");
        f.mode = j.value("mode", 0u);
        f.sha256 = j.value("sha256", "");
        f.size = j.value("size", uint64_t{0});
        if (!safe_name(f.name) || (f.kind == "link" && !safe_name(f.target))) {
            return make_error(ErrorCode::BadInput, mpath + ": unsafe name '" + f.name + "'");
        }
        if (f.kind == "file" || f.kind == "sqlite") {
            uint64_t size = 0;
            auto sha = sha256_file((files / f.name).string(), size);
            if (!sha) {
                return make_error(ErrorCode::BadInput, "backup incomplete: " + sha.error().message);
            }
            if (*sha != f.sha256 || size != f.size) {
                return make_error(ErrorCode::BadInput,
                                  "backup damaged: files/" + f.name +
                                      " does not match backup.json (sha256 or size): nothing "
                                      "was restored");
            }
            sum.bytes += size;
        }
        sum.files.push_back(std::move(f));
    }

    // 2. No mgmtd on this store while its files are replaced (the lock mgmtd holds).
    std::error_code ec;
    fs::create_directories(fs::path(cfg.store_path).parent_path(), ec);
    const std::string lock_path = cfg.store_path + ".lock";
    const int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd < 0) {
        return io_error("cannot open", lock_path);
    }
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{lock_fd};
    if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
        return make_error(ErrorCode::Busy, "vigil-mgmtd is running on " + cfg.store_path +
                                               ": stop it first (systemctl stop vigil-mgmtd)");
    }

    // 3. Where each file goes now, and what is already there.
    std::map<std::string, std::string> single;  // role -> path in cfg
    for (const auto& pl : places(cfg)) {
        single[pl.role] = pl.path;
    }
    std::vector<std::string> existing;
    std::vector<std::pair<const BackupFile*, std::string>> plan;
    for (const auto& f : sum.files) {
        std::string to;
        if (f.role == "config") {
            say(log,
                "restore: %s: kept in the backup for reference, not written (the config "
                "in use stays)\n",
                (files / f.name).string());
            continue;
        }
        if (f.role == "rulepacks") {
            to = (fs::path(cfg.rulepacks_dir) / fs::path(f.name).lexically_relative("rulepacks"))
                     .string();
        } else if (auto it = single.find(f.role); it != single.end() && !it->second.empty()) {
            to = it->second;
            if (fs::exists(to, ec)) {
                existing.push_back(to);
            }
        } else {
            return make_error(ErrorCode::BadInput, mpath + ": unknown role '" + f.role + "'");
        }
        plan.emplace_back(&f, to);
    }
    if (fs::exists(cfg.rulepacks_dir, ec) && !fs::is_empty(cfg.rulepacks_dir, ec)) {
        existing.push_back(cfg.rulepacks_dir);
    }
    if (!existing.empty() && !force) {
        std::string list;
        for (const auto& e : existing) {
            list += (list.empty() ? "" : ", ") + e;
        }
        return make_error(ErrorCode::BadInput,
                          "would replace what exists: " + list +
                              " (--force replaces them; nothing was restored)");
    }

    // 4. Write: single files through a temporary name and a rename; SQLite's -wal/-shm of the
    //    replaced database go (a stale WAL would be replayed into the restored file).
    if (force) {
        fs::remove_all(cfg.rulepacks_dir, ec);
        if (ec) {
            return make_error(ErrorCode::Io,
                              "cannot remove " + cfg.rulepacks_dir + ": " + ec.message());
        }
    }
    std::vector<std::pair<std::string, uint32_t>> dirs;  // modes set last (packs are 0555)
    std::string replaced_audit;
    for (const auto& [f, to] : plan) {
        const fs::path from = files / f->name;
        fs::create_directories(fs::path(to).parent_path(), ec);
        if (f->kind == "dir") {
            fs::create_directories(to, ec);
            dirs.emplace_back(to, f->mode);
            continue;
        }
        if (f->kind == "link") {
            fs::remove(to, ec);
            fs::create_symlink(f->target, to, ec);
            if (ec) {
                return make_error(ErrorCode::Io, "cannot link " + to + ": " + ec.message());
            }
            own_like_parent(to);
            continue;
        }
        if (f->kind == "sqlite") {
            fs::remove(to + "-wal", ec);
            fs::remove(to + "-shm", ec);
        }
        if (f->role == "audit" && fs::exists(to, ec)) {
            // The entries since the backup are evidence: kept beside it, not overwritten.
            std::string stamp = iso8601_utc(wall_us());
            stamp.erase(std::remove(stamp.begin(), stamp.end(), ':'), stamp.end());
            replaced_audit = to + ".replaced-" + stamp;
            if (::rename(to.c_str(), replaced_audit.c_str()) != 0) {
                return io_error("cannot keep the replaced audit log as", replaced_audit);
            }
            say(log, "restore: the audit log in place is kept as %s\n", replaced_audit);
        }
        const std::string tmp = to + ".restore-tmp";
        if (!fs::copy_file(from, tmp, fs::copy_options::overwrite_existing, ec)) {
            return make_error(ErrorCode::Io, "cannot write " + tmp + ": " + ec.message());
        }
        ::chmod(tmp.c_str(), f->mode != 0 ? f->mode : 0600);
        if (::rename(tmp.c_str(), to.c_str()) != 0) {
            return io_error("cannot rename onto", to);
        }
        own_like_parent(to);
        if (f->role != "rulepacks") {
            say(log, "restore: %s (%llu bytes)\n", f->role + " " + to, f->size);
        }
    }
    std::sort(dirs.begin(), dirs.end(),
              [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
    for (const auto& [d, mode] : dirs) {
        own_like_parent(d);
        ::chmod(d.c_str(), mode);
    }
    own_like_parent(cfg.rulepacks_dir);
    say(log, "restore: rulepacks %s\n", cfg.rulepacks_dir);

    const AuditEntry e{"local",
                       "local",
                       "backup.restore",
                       dir,
                       json{{"files", sum.files.size()},
                            {"bytes", sum.bytes},
                            {"created", manifest.value("created", "")},
                            {"force", force},
                            {"replaced_audit_log", replaced_audit}}
                           .dump(),
                       true};
    if (auto st = append_audit(cfg.audit_log, e); !st) {
        return st.error();
    }
    return sum;
}

}  // namespace vigil::mgmt
