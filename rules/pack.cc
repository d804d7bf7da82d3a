// Rule packs: reading (directory or .tar.zst, every hostile case refused before anything is
// written), the manifest, Ed25519 signatures (libsodium) and writing a pack from a folder, a
// single rules file or an ET Open tarball.

#include "rules/pack.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

#include "common/text.h"
#include "rules/parse_util.h"

#include <yaml-cpp/yaml.h>

namespace vigil::rules {

namespace fs = std::filesystem;

namespace {

constexpr uint64_t kMaxManifestBytes = uint64_t{4} << 20;
constexpr size_t kKeyIdHex = 16;

Error bad(std::string message) {
    return make_error(ErrorCode::BadInput, std::move(message));
}

Error io(std::string message) {
    return make_error(ErrorCode::Io, std::move(message));
}

Status sodium_ready() {
    static const int rc = sodium_init();  // 0 first time, 1 already done, -1 failure
    if (rc < 0) {
        return make_error(ErrorCode::Internal, "libsodium failed to initialise");
    }
    return Ok{};
}

std::string to_base64(const unsigned char* p, size_t n) {
    const size_t len = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    std::string out(len, '\0');
    sodium_bin2base64(out.data(), out.size(), p, n, sodium_base64_VARIANT_ORIGINAL);
    out.resize(std::strlen(out.c_str()));
    return out;
}

// Exactly `want` bytes from base64 text, or nothing.
std::optional<std::string> from_base64(std::string_view text, size_t want) {
    std::string out(want + 3, '\0');
    size_t len = 0;
    const char* end = nullptr;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                          text.size(), nullptr, &len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != text.data() + text.size() || len != want) {
        return std::nullopt;
    }
    out.resize(len);
    return out;
}

std::string key_id_of(const std::string& raw_public) {
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, reinterpret_cast<const unsigned char*>(raw_public.data()),
                       raw_public.size());
    return to_hex(h, crypto_hash_sha256_BYTES).substr(0, kKeyIdHex);
}

// `s` cut at every `sep`, empty pieces kept ("a//b" -> a, "", b).
std::vector<std::string_view> split_on(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    size_t b = 0;
    for (size_t e; (e = s.find(sep, b)) != std::string_view::npos; b = e + 1) {
        out.push_back(s.substr(b, e - b));
    }
    out.push_back(s.substr(b));
    return out;
}

bool is_lower_hex(std::string_view s, size_t n) {
    return s.size() == n && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

// ---- Entry names ----------------------------------------------------------------------------

// A name inside a pack, normalised (leading "./" and a folder's trailing '/' dropped), or why
// it is refused: absolute, `..` or `.` components, empty components, odd characters.
Result<std::string> entry_name(std::string_view raw, bool is_dir) {
    const std::string shown(raw);
    while (raw.starts_with("./")) {
        raw.remove_prefix(2);
    }
    if (is_dir) {
        while (raw.ends_with('/')) {
            raw.remove_suffix(1);
        }
    }
    if (raw.empty() || raw == ".") {
        return std::string();  // the archive's root folder
    }
    if (raw.front() == '/') {
        return bad("'" + shown + "': absolute path refused");
    }
    if (raw.size() > 255) {
        return bad("'" + shown.substr(0, 64) + "...': name longer than 255 characters");
    }
    for (const std::string_view part : split_on(raw, '/')) {
        if (part == "..") {
            return bad("'" + shown + "': '..' in the path refused (path traversal)");
        }
        if (part.empty() || part == ".") {
            return bad("'" + shown + "': empty or '.' path component refused");
        }
        if (!valid_name(part, 255)) {
            return bad("'" + shown + "': characters outside [A-Za-z0-9._-] refused");
        }
    }
    return std::string(raw);
}

// Files a pack may list: at its top or one level down in rules/.
bool placed_well(const std::string& name) {
    const size_t slash = name.find('/');
    return slash == std::string::npos ||
           (name.compare(0, slash, "rules") == 0 && name.find('/', slash + 1) == std::string::npos);
}

// What an archive or a folder held: name -> content, plus the checks on the way in.
class EntryCollector {
public:
    EntryCollector(std::string label, const PackLimits& limits)
        : label_(std::move(label)), limits_(limits) {}

    Status count_entry() {
        if (++entries_ > limits_.max_entries) {
            return bad(label_ + ": more than " + std::to_string(limits_.max_entries) +
                       " entries (the limit)");
        }
        return Ok{};
    }

    // A declared size checked before reading.
    Status check_size(const std::string& name, uint64_t size) const {
        if (size > limits_.max_file_bytes) {
            return bad(name + ": " + std::to_string(size) + " bytes, over the limit of " +
                       std::to_string(limits_.max_file_bytes) + " per file");
        }
        if (total_ + size > limits_.max_total_bytes) {
            return bad(name + ": the pack's files exceed the limit of " +
                       std::to_string(limits_.max_total_bytes) + " bytes in all");
        }
        return Ok{};
    }

    Status add(const std::string& name, std::string content) {
        if (auto st = check_size(name, content.size()); !st) {
            return st;
        }
        total_ += content.size();
        if (!files_.emplace(name, std::move(content)).second) {
            return bad(name + ": appears twice in " + label_);
        }
        return Ok{};
    }

    std::map<std::string, std::string>& files() { return files_; }

private:
    std::string label_;
    PackLimits limits_;
    size_t entries_ = 0;
    uint64_t total_ = 0;
    std::map<std::string, std::string> files_;
};

struct ArchiveReadFree {
    void operator()(archive* a) const { archive_read_free(a); }
};
using ArchiveReader = std::unique_ptr<archive, ArchiveReadFree>;

enum class Compression { Zstd, Gzip };

ArchiveReader new_reader(Compression c) {
    ArchiveReader a(archive_read_new());
    if (!a) {
        return a;
    }
    // Only the one filter and tar: no other parser of the library sees hostile bytes.
    if (c == Compression::Zstd) {
        archive_read_support_filter_zstd(a.get());
    } else {
        archive_read_support_filter_gzip(a.get());
    }
    archive_read_support_format_tar(a.get());
    return a;
}

std::string archive_why(archive* a) {
    const char* s = archive_error_string(a);
    return s != nullptr ? s : "unknown libarchive error";
}

// Reads every entry of an opened archive into `out`, refusing what a pack may not hold.
Status read_entries(archive* a, const std::string& label, EntryCollector& out) {
    for (;;) {
        archive_entry* e = nullptr;
        const int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF) {
            return Ok{};
        }
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            return bad(label + ": not a readable tar archive: " + archive_why(a));
        }
        if (auto st = out.count_entry(); !st) {
            return st;
        }
        const char* raw = archive_entry_pathname(e);
        const std::string shown = raw != nullptr ? raw : "";
        if (raw == nullptr) {
            return bad(label + ": an entry without a (readable) name");
        }
        const mode_t type = archive_entry_filetype(e);
        if (archive_entry_hardlink(e) != nullptr) {
            return bad(label + ": '" + shown + "': hard link refused (a pack holds regular files)");
        }
        if (type == AE_IFLNK) {
            return bad(label + ": '" + shown +
                       "': symbolic link refused (a pack holds regular files)");
        }
        if (type != AE_IFREG && type != AE_IFDIR) {
            return bad(label + ": '" + shown +
                       "': device, FIFO or socket entry refused (a pack holds regular files)");
        }
        auto name = entry_name(shown, type == AE_IFDIR);
        if (!name) {
            return bad(label + ": " + name.error().message);
        }
        if (type == AE_IFDIR) {
            continue;
        }
        if (name->empty()) {
            return bad(label + ": a file entry without a name");
        }
        if (archive_entry_size_is_set(e)) {
            const int64_t size = archive_entry_size(e);
            if (auto st = out.check_size(*name, size < 0 ? 0 : static_cast<uint64_t>(size)); !st) {
                return st;
            }
        }
        std::string content;
        char buf[64 * 1024];
        for (;;) {
            const la_ssize_t n = archive_read_data(a, buf, sizeof(buf));
            if (n < 0) {
                return bad(label + ": " + *name + ": cannot read the entry: " + archive_why(a));
            }
            if (n == 0) {
                break;
            }
            content.append(buf, static_cast<size_t>(n));
            // A size the header did not state is checked as the bytes come.
            if (auto st = out.check_size(*name, content.size()); !st) {
                return st;
            }
        }
        if (auto st = out.add(*name, std::move(content)); !st) {
            return st;
        }
    }
}

Result<std::map<std::string, std::string>> read_archive_file(const std::string& path, Compression c,
                                                             const PackLimits& limits) {
    ArchiveReader a = new_reader(c);
    if (!a) {
        return make_error(ErrorCode::Internal, "archive_read_new failed");
    }
    if (archive_read_open_filename(a.get(), path.c_str(), 64 * 1024) != ARCHIVE_OK) {
        const int e = archive_errno(a.get());
        const std::string why = archive_why(a.get());
        if (e == ENOENT || e == EACCES || e == EISDIR) {
            return io(path + ": cannot open: " + why);
        }
        return bad(path + ": not a readable archive: " + why);
    }
    EntryCollector out(path, limits);
    if (auto st = read_entries(a.get(), path, out); !st) {
        return st.error();
    }
    return std::move(out.files());
}

Result<std::string> read_file(const std::string& path, uint64_t max_bytes) {
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    if (ec) {
        return io(path + ": cannot read: " + ec.message());
    }
    if (size > max_bytes) {
        return bad(path + ": " + std::to_string(size) + " bytes, over the limit of " +
                   std::to_string(max_bytes) + " per file");
    }
    std::ifstream in(path, std::ios::binary);
    std::string content(size, '\0');
    if (!in || !in.read(content.data(), static_cast<std::streamsize>(size))) {
        return io(path + ": cannot read");
    }
    return content;
}

// A pack folder: every entry below it, symbolic links and special files refused.
Result<std::map<std::string, std::string>> read_pack_dir(const std::string& path,
                                                         const PackLimits& limits) {
    EntryCollector out(path, limits);
    std::error_code ec;
    fs::recursive_directory_iterator it(path, fs::directory_options::none, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
        if (auto st = out.count_entry(); !st) {
            return st.error();
        }
        const fs::path rel = it->path().lexically_relative(path);
        const fs::file_status s = it->symlink_status(ec);
        if (ec) {
            break;
        }
        if (fs::is_symlink(s)) {
            return bad(path + ": '" + rel.string() +
                       "': symbolic link refused (a pack holds regular files)");
        }
        const bool dir = fs::is_directory(s);
        if (!dir && !fs::is_regular_file(s)) {
            return bad(path + ": '" + rel.string() +
                       "': device, FIFO or socket refused (a pack holds regular files)");
        }
        auto name = entry_name(rel.string(), dir);
        if (!name) {
            return bad(path + ": " + name.error().message);
        }
        if (dir) {
            continue;
        }
        if (auto st = out.check_size(*name, it->file_size(ec)); !st || ec) {
            if (ec) {
                return io(it->path().string() + ": cannot read: " + ec.message());
            }
            return st.error();
        }
        auto content = read_file(it->path().string(), limits.max_file_bytes);
        if (!content) {
            return content.error();
        }
        if (auto st = out.add(*name, std::move(*content)); !st) {
            return st.error();
        }
    }
    if (ec) {
        return io(path + ": cannot list the folder: " + ec.message());
    }
    return std::move(out.files());
}

// Checks entries against their manifest and builds the Pack.
Result<Pack> assemble(const std::string& source, std::map<std::string, std::string> entries) {
    auto m = entries.find(kManifestName);
    if (m == entries.end()) {
        return bad(source + ": no manifest.yaml (not a rule pack)");
    }
    Pack pack;
    pack.source = source;
    pack.manifest_text = std::move(m->second);
    entries.erase(m);
    auto manifest = parse_manifest(pack.manifest_text, kManifestName);
    if (!manifest) {
        return bad(source + ": " + manifest.error().message);
    }
    pack.manifest = std::move(*manifest);
    if (auto s = entries.find(kSignatureName); s != entries.end()) {
        pack.signature_text = std::move(s->second);
        entries.erase(s);
    }
    for (const auto& [name, content] : entries) {
        if (pack.manifest.files.count(name) == 0) {
            return bad(source + ": " + name + ": in the pack but not listed in manifest.yaml");
        }
    }
    for (const auto& [name, want] : pack.manifest.files) {
        auto f = entries.find(name);
        if (f == entries.end()) {
            return bad(source + ": " + name +
                       ": listed in manifest.yaml but missing from the pack");
        }
        const std::string got = sha256_hex(f->second);
        if (got != want) {
            return bad(source + ": " + name + ": sha256 mismatch: manifest.yaml says " + want +
                       ", the file has " + got + " (changed after packing?)");
        }
        pack.files.emplace(name, std::move(f->second));
    }
    if (pack.rule_files().empty()) {
        return bad(source + ": manifest.yaml lists no *.rules file");
    }
    pack.digest = sha256_hex(pack.manifest_text);
    return pack;
}

// ---- Manifest -------------------------------------------------------------------------------

std::string at_line(const std::string& name, const YAML::Node& n) {
    return name + ":" + std::to_string(n.Mark().line + 1);
}

bool valid_version_text(std::string_view v) {
    // 1 to 4 dot-separated numbers of up to 9 digits.
    const auto parts = split_on(v, '.');
    return parts.size() <= 4 && std::all_of(parts.begin(), parts.end(), [](std::string_view p) {
               return !p.empty() && p.size() <= 9 &&
                      std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; });
           });
}

// A valid version's numbers, padded to 4.
std::vector<uint64_t> version_parts(std::string_view v) {
    std::vector<uint64_t> out;
    for (const std::string_view p : split_on(v, '.')) {
        uint64_t n = 0;
        for (char c : p) {
            n = n * 10 + static_cast<uint64_t>(c - '0');
        }
        out.push_back(n);
    }
    out.resize(4, 0);
    return out;
}

// 2025-07-01T12:00:00Z, optionally with a fraction of a second before the Z.
bool valid_rfc3339_utc(std::string_view t) {
    static constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd";
    if (t.size() < kShape.size() + 1 || t.back() != 'Z') {
        return false;
    }
    for (size_t i = 0; i < kShape.size(); ++i) {
        const bool ok = kShape[i] == 'd' ? (t[i] >= '0' && t[i] <= '9') : t[i] == kShape[i];
        if (!ok) {
            return false;
        }
    }
    std::string_view rest = t.substr(kShape.size(), t.size() - kShape.size() - 1);
    if (!rest.empty()) {
        if (rest.front() != '.' || rest.size() < 2 ||
            !std::all_of(rest.begin() + 1, rest.end(),
                         [](char c) { return c >= '0' && c <= '9'; })) {
            return false;
        }
    }
    std::tm tm{};
    const std::string s(t.substr(0, kShape.size()));
    return strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) != nullptr && tm.tm_mon < 12 &&
           tm.tm_mday >= 1 && tm.tm_hour < 24 && tm.tm_min < 60 && tm.tm_sec < 61;
}

Result<std::string> scalar(const YAML::Node& n, const std::string& name, const char* key) {
    if (!n.IsScalar()) {
        return bad(at_line(name, n) + ": '" + key + "' must be a single value");
    }
    return n.Scalar();
}

Result<PackManifest> parse_manifest_yaml(const YAML::Node& root, const std::string& name) {
    if (!root.IsMap()) {
        return bad(name + ": expected a mapping of manifest keys");
    }
    PackManifest m;
    std::set<std::string> seen;
    const YAML::Node* files = nullptr;
    YAML::Node files_node;
    for (const auto& kv : root) {
        const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
        if (!seen.insert(key).second) {
            return bad(at_line(name, kv.first) + ": key '" + key + "' given twice");
        }
        std::string* text = nullptr;
        if (key == "name") {
            text = &m.name;
        } else if (key == "version") {
            text = &m.version;
        } else if (key == "created") {
            text = &m.created;
        } else if (key == "min-sensor-version") {
            text = &m.min_sensor_version;
        } else if (key == "format") {
            auto v = scalar(kv.second, name, "format");
            if (!v) {
                return v.error();
            }
            if (*v != std::to_string(kPackFormat)) {
                return bad(at_line(name, kv.second) + ": format '" + *v +
                           "' is not supported (this version reads format " +
                           std::to_string(kPackFormat) + ")");
            }
            continue;
        } else if (key == "files") {
            files_node = kv.second;
            files = &files_node;
            continue;
        } else {
            return bad(at_line(name, kv.first) + ": unknown key '" + key +
                       "' (expected format, name, version, created, min-sensor-version, files)");
        }
        auto v = scalar(kv.second, name, key.c_str());
        if (!v) {
            return v.error();
        }
        *text = std::move(*v);
    }
    for (const char* key : {"name", "version", "created", "min-sensor-version", "files"}) {
        if (seen.count(key) == 0) {
            return bad(name + ": missing key '" + key + "'");
        }
    }
    if (!valid_name(m.name, 64)) {
        return bad(name + ": name '" + m.name + "': expected 1-64 of [A-Za-z0-9._-]");
    }
    if (!valid_name(m.version, 64) || m.version == "." || m.version == "..") {
        return bad(name + ": version '" + m.version + "': expected 1-64 of [A-Za-z0-9._-]");
    }
    if (!valid_rfc3339_utc(m.created)) {
        return bad(name + ": created '" + m.created +
                   "': expected an RFC 3339 UTC time such as 2025-07-01T12:00:00Z");
    }
    if (!valid_version_text(m.min_sensor_version)) {
        return bad(name + ": min-sensor-version '" + m.min_sensor_version +
                   "': expected dotted numbers such as 0.1.0");
    }
    if (!files->IsMap() || files->size() == 0) {
        return bad(at_line(name, *files) + ": 'files' must map each file's path to its sha256");
    }
    for (const auto& kv : *files) {
        const std::string path = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
        auto norm = entry_name(path, false);
        if (!norm) {
            return bad(at_line(name, kv.first) + ": " + norm.error().message);
        }
        if (*norm != path || path.empty()) {
            return bad(at_line(name, kv.first) + ": '" + path +
                       "': write paths without './' (relative to the pack's top)");
        }
        if (path == kManifestName || path == kSignatureName || !placed_well(path)) {
            return bad(at_line(name, kv.first) + ": '" + path +
                       "': a pack lists files at its top or in rules/, never manifest.yaml "
                       "or manifest.sig");
        }
        const std::string hash = kv.second.IsScalar() ? kv.second.Scalar() : std::string();
        if (!is_lower_hex(hash, 64)) {
            return bad(at_line(name, kv.second) + ": " + path +
                       ": expected a sha256 of 64 lowercase hex digits");
        }
        if (!m.files.emplace(path, hash).second) {
            return bad(at_line(name, kv.first) + ": '" + path + "' listed twice");
        }
    }
    return m;
}

// ---- Files written ----------------------------------------------------------------------------

// Creates `path` (never replacing anything, never following a link) with `mode` and writes.
Status write_new_file(const std::string& path, std::string_view content, mode_t mode) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        const int e = errno;
        if (e == EEXIST) {
            return bad(path + ": exists; not overwritten");
        }
        return io(path + ": cannot create: " + std::strerror(e));
    }
    bool ok = fchmod(fd, mode) == 0;  // the umask does not widen or narrow the key's mode
    size_t done = 0;
    while (ok && done < content.size()) {
        const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        ok = n > 0;
        done += ok ? static_cast<size_t>(n) : 0;
    }
    ok = ok && fsync(fd) == 0;
    const int e = errno;
    ok = ::close(fd) == 0 && ok;
    if (!ok) {
        ::unlink(path.c_str());
        return io(path + ": cannot write: " + std::strerror(e));
    }
    return Ok{};
}

// The one line of a key or signature file, or why not.
Result<std::string> one_line(const std::string& path, const std::string& text) {
    std::string line;
    std::istringstream in(text);
    std::string extra;
    std::getline(in, line);
    while (std::getline(in, extra)) {
        if (!trim(extra).empty()) {
            return bad(path + ": expected one line");
        }
    }
    return std::string(trim(line));
}

struct SecretKey {
    std::string key_id;
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
};

Result<SecretKey> read_secret_key(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        return bad(path + ": cannot read the signing key: " + std::strerror(errno));
    }
    if ((st.st_mode & 077) != 0) {
        return bad(path + ": mode " + std::to_string((st.st_mode >> 6) & 7) +
                   std::to_string((st.st_mode >> 3) & 7) + std::to_string(st.st_mode & 7) +
                   " lets other users read the secret key; chmod 600 it");
    }
    auto text = read_file(path, 4096);
    if (!text) {
        return bad(text.error().message);
    }
    auto line = one_line(path, *text);
    if (!line) {
        return line.error();
    }
    const auto w = detail::split_ws(*line);
    if (w.size() != 2 || w[0] != "ed25519-secret") {
        return bad(path + ": expected one line 'ed25519-secret <base64>' (vigilctl rules keygen)");
    }
    auto seed = from_base64(w[1], crypto_sign_SEEDBYTES);
    if (!seed) {
        return bad(path + ": the key is not 32 bytes of base64");
    }
    SecretKey k{};
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    crypto_sign_seed_keypair(pk, k.sk, reinterpret_cast<const unsigned char*>(seed->data()));
    sodium_memzero(seed->data(), seed->size());
    k.key_id = key_id_of(std::string(reinterpret_cast<char*>(pk), sizeof(pk)));
    return k;
}

// Public keys in one file's text.
Status parse_public_keys(const std::string& path, const std::string& text,
                         std::vector<PublicKey>& out) {
    std::istringstream in(text);
    std::string line;
    size_t no = 0;
    while (std::getline(in, line)) {
        ++no;
        const std::string_view t = trim(line);
        if (t.empty() || t.front() == '#') {
            continue;
        }
        const std::string where = path + ":" + std::to_string(no);
        const auto w = detail::split_ws(t);
        if (w.size() < 2 || w[0] != "ed25519") {
            return bad(where + ": expected 'ed25519 <base64 public key>' (a signing.pub line)");
        }
        auto raw = from_base64(w[1], crypto_sign_PUBLICKEYBYTES);
        if (!raw) {
            return bad(where + ": the public key is not 32 bytes of base64");
        }
        out.push_back({key_id_of(*raw), std::move(*raw), where});
    }
    return Ok{};
}

std::string utc_now() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::time_t parse_utc(const std::string& t) {
    std::tm tm{};
    if (strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) {
        return 0;
    }
    return timegm(&tm);
}

// A YAML double-quoted scalar (the manifest's values are plain names, but quoting keeps
// "1.10" a string).
std::string quoted(const std::string& s) {
    return "\"" + s + "\"";
}

std::string manifest_text(const PackManifest& m) {
    std::string out =
        "# Vigil rule pack manifest (docs/rule-packs.md). manifest.sig signs these exact "
        "bytes.\n";
    out += "format: " + std::to_string(m.format) + "\n";
    out += "name: " + quoted(m.name) + "\n";
    out += "version: " + quoted(m.version) + "\n";
    out += "created: " + quoted(m.created) + "\n";
    out += "min-sensor-version: " + quoted(m.min_sensor_version) + "\n";
    out += "files:\n";
    for (const auto& [path, hash] : m.files) {
        out += "  " + quoted(path) + ": " + hash + "\n";
    }
    return out;
}

bool is_side_file(const std::string& base) {
    return base == "classification.config" || base == "threshold.config" ||
           base == "reference.config" || base == "vars.yaml";
}

// Source entries (relative path -> content) placed as a pack lays them out: rule files in
// rules/, side files at the top; everything else is counted as ignored.
Result<std::map<std::string, std::string>> lay_out(const std::string& src,
                                                   std::map<std::string, std::string> entries,
                                                   PackSummary& sum) {
    std::map<std::string, std::string> out;
    for (auto& [path, content] : entries) {
        const size_t slash = path.rfind('/');
        const std::string dir = slash == std::string::npos ? "" : path.substr(0, slash);
        const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
        const bool rules_file = base.ends_with(".rules");
        if ((dir != "" && dir != "rules") || (!rules_file && !is_side_file(base))) {
            ++sum.ignored_files;
            continue;
        }
        const std::string target = rules_file ? "rules/" + base : base;
        if (out.count(target) != 0) {
            return bad(src + ": " + base + " is both at the top and in rules/; keep one");
        }
        ++(rules_file ? sum.rule_files : sum.other_files);
        sum.bytes += content.size();
        out.emplace(target, std::move(content));
    }
    if (sum.rule_files == 0) {
        return bad(src + ": no *.rules file found (at the top or in rules/)");
    }
    return out;
}

// The files of a pack source: a folder, a .tar.gz (ET Open) or one rules file.
Result<std::map<std::string, std::string>> source_entries(const std::string& src,
                                                          const PackLimits& limits) {
    std::error_code ec;
    const auto st = fs::status(src, ec);
    if (ec) {
        return io(src + ": cannot read: " + ec.message());
    }
    if (fs::is_directory(st)) {
        std::map<std::string, std::string> out;
        for (const std::string& sub : {std::string(), std::string("rules")}) {
            const fs::path dir = sub.empty() ? fs::path(src) : fs::path(src) / sub;
            if (!fs::is_directory(dir, ec)) {
                continue;
            }
            for (const auto& e : fs::directory_iterator(dir, ec)) {
                if (!e.is_regular_file(ec)) {
                    continue;
                }
                const std::string base = e.path().filename().string();
                auto content = read_file(e.path().string(), limits.max_file_bytes);
                if (!content) {
                    return content.error();
                }
                out.emplace(sub.empty() ? base : sub + "/" + base, std::move(*content));
            }
            if (ec) {
                return io(dir.string() + ": cannot list the folder: " + ec.message());
            }
        }
        return out;
    }
    if (src.ends_with(".tar.gz") || src.ends_with(".tgz")) {
        return read_archive_file(src, Compression::Gzip, limits);
    }
    const std::string base = fs::path(src).filename().string();
    if (!base.ends_with(".rules")) {
        return bad(src + ": expected a folder, a .tar.gz or a rules file named *.rules");
    }
    auto content = read_file(src, limits.max_file_bytes);
    if (!content) {
        return content.error();
    }
    std::map<std::string, std::string> out;
    out.emplace(base, std::move(*content));
    return out;
}

struct ArchiveWriteFree {
    void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryFree {
    void operator()(archive_entry* e) const { archive_entry_free(e); }
};

Status write_tar_zst(const std::string& path,
                     const std::vector<std::pair<std::string, const std::string*>>& files,
                     std::time_t mtime) {
    std::unique_ptr<archive, ArchiveWriteFree> a(archive_write_new());
    if (!a || archive_write_add_filter_zstd(a.get()) != ARCHIVE_OK ||
        archive_write_set_format_pax_restricted(a.get()) != ARCHIVE_OK) {
        return make_error(ErrorCode::Internal,
                          "libarchive cannot write .tar.zst: " + archive_why(a.get()));
    }
    if (archive_write_open_filename(a.get(), path.c_str()) != ARCHIVE_OK) {
        return io(path + ": cannot write: " + archive_why(a.get()));
    }
    for (const auto& [name, content] : files) {
        std::unique_ptr<archive_entry, EntryFree> e(archive_entry_new());
        archive_entry_set_pathname(e.get(), name.c_str());
        archive_entry_set_filetype(e.get(), AE_IFREG);
        archive_entry_set_perm(e.get(), 0644);
        archive_entry_set_size(e.get(), static_cast<la_int64_t>(content->size()));
        archive_entry_set_mtime(e.get(), mtime, 0);
        if (archive_write_header(a.get(), e.get()) != ARCHIVE_OK ||
            archive_write_data(a.get(), content->data(), content->size()) !=
                static_cast<la_ssize_t>(content->size())) {
            return io(path + ": cannot write " + name + ": " + archive_why(a.get()));
        }
    }
    if (archive_write_close(a.get()) != ARCHIVE_OK) {
        return io(path + ": cannot write: " + archive_why(a.get()));
    }
    return Ok{};
}

}  // namespace

std::vector<std::string> Pack::rule_files() const {
    std::vector<std::string> out;
    for (const auto& [name, content] : files) {
        if (name.ends_with(".rules")) {
            out.push_back(name);
        }
    }
    return out;
}

std::string sha256_hex(std::string_view data) {
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, reinterpret_cast<const unsigned char*>(data.data()), data.size());
    return to_hex(h, sizeof(h));
}

Result<PackManifest> parse_manifest(std::string_view text, const std::string& name) {
    if (text.size() > kMaxManifestBytes) {
        return bad(name + ": " + std::to_string(text.size()) + " bytes, more than the " +
                   std::to_string(kMaxManifestBytes) + " a manifest may have");
    }
    try {
        return parse_manifest_yaml(YAML::Load(std::string(text)), name);
    } catch (const YAML::Exception& e) {
        return bad(name + ":" + std::to_string(e.mark.line + 1) + ": not valid YAML: " + e.msg);
    }
}

Result<Pack> read_pack(const std::string& path, const PackLimits& limits) {
    if (auto st = sodium_ready(); !st) {
        return st.error();
    }
    std::error_code ec;
    const auto st = fs::symlink_status(path, ec);
    if (st.type() == fs::file_type::not_found) {
        return bad(path + ": no such file or folder");
    }
    if (ec) {
        return io(path + ": cannot read: " + ec.message());
    }
    if (fs::is_directory(st)) {
        auto entries = read_pack_dir(path, limits);
        if (!entries) {
            return entries.error();
        }
        return assemble(path, std::move(*entries));
    }
    auto entries = read_archive_file(path, Compression::Zstd, limits);
    if (!entries) {
        return entries.error();
    }
    return assemble(path, std::move(*entries));
}

Result<Pack> read_pack_archive(std::string_view bytes, const std::string& name,
                               const PackLimits& limits) {
    if (auto st = sodium_ready(); !st) {
        return st.error();
    }
    ArchiveReader a = new_reader(Compression::Zstd);
    if (!a) {
        return make_error(ErrorCode::Internal, "archive_read_new failed");
    }
    if (archive_read_open_memory(a.get(), bytes.data(), bytes.size()) != ARCHIVE_OK) {
        return bad(name + ": not a readable archive: " + archive_why(a.get()));
    }
    EntryCollector out(name, limits);
    if (auto st = read_entries(a.get(), name, out); !st) {
        return st.error();
    }
    return assemble(name, std::move(out.files()));
}

Status extract_pack(const Pack& pack, const std::string& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec || !fs::is_directory(dir, ec)) {
        return io(dir + ": cannot create the folder" + (ec ? ": " + ec.message() : ""));
    }
    if (!fs::is_empty(dir, ec)) {
        return bad(dir + ": not empty; a pack is extracted into an empty folder");
    }
    auto put = [&](const std::string& name, const std::string& content) -> Status {
        const fs::path p = fs::path(dir) / name;
        fs::create_directories(p.parent_path(), ec);
        if (ec) {
            return io(p.parent_path().string() + ": cannot create: " + ec.message());
        }
        return write_new_file(p.string(), content, 0644);
    };
    if (auto st = put(kManifestName, pack.manifest_text); !st) {
        return st;
    }
    if (pack.signature_text) {
        if (auto st = put(kSignatureName, *pack.signature_text); !st) {
            return st;
        }
    }
    for (const auto& [name, content] : pack.files) {
        if (auto st = put(name, content); !st) {
            return st;
        }
    }
    return Ok{};
}

Result<KeyPairFiles> generate_signing_key(const std::string& dir) {
    if (auto st = sodium_ready(); !st) {
        return st.error();
    }
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec || !fs::is_directory(dir, ec)) {
        return io(dir + ": cannot create the folder" + (ec ? ": " + ec.message() : ""));
    }
    KeyPairFiles out;
    out.secret_path = (fs::path(dir) / "signing.key").string();
    out.public_path = (fs::path(dir) / "signing.pub").string();
    for (const auto* p : {&out.secret_path, &out.public_path}) {
        if (fs::symlink_status(*p, ec).type() != fs::file_type::not_found) {
            return bad(*p +
                       ": exists; not overwritten (a new key would orphan the packs "
                       "signed with the old one)");
        }
    }
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
    crypto_sign_keypair(pk, sk);
    unsigned char seed[crypto_sign_SEEDBYTES];
    crypto_sign_ed25519_sk_to_seed(seed, sk);
    std::string secret_line = "ed25519-secret " + to_base64(seed, sizeof(seed)) + "\n";
    sodium_memzero(seed, sizeof(seed));
    sodium_memzero(sk, sizeof(sk));
    const std::string raw_pk(reinterpret_cast<char*>(pk), sizeof(pk));
    out.key_id = key_id_of(raw_pk);
    const std::string public_line =
        "ed25519 " + to_base64(pk, sizeof(pk)) + " vigil-rules-key-" + out.key_id + "\n";
    const Status s = write_new_file(out.secret_path, secret_line, 0600);
    sodium_memzero(secret_line.data(), secret_line.size());
    if (!s) {
        return s.error();
    }
    if (auto p = write_new_file(out.public_path, public_line, 0644); !p) {
        ::unlink(out.secret_path.c_str());  // never half a pair
        return p.error();
    }
    return out;
}

Result<std::vector<PublicKey>> load_trusted_keys(const std::string& path) {
    if (auto st = sodium_ready(); !st) {
        return st.error();
    }
    std::error_code ec;
    std::vector<std::string> files;
    if (fs::is_directory(path, ec)) {
        for (const auto& e : fs::directory_iterator(path, ec)) {
            if (e.path().extension() == ".pub") {
                files.push_back(e.path().string());
            }
        }
        std::sort(files.begin(), files.end());
        if (files.empty()) {
            return bad(path + ": no *.pub file in the folder");
        }
    } else {
        files.push_back(path);
    }
    std::vector<PublicKey> keys;
    for (const auto& f : files) {
        auto text = read_file(f, 1 << 20);
        if (!text) {
            return bad(text.error().message);
        }
        if (auto st = parse_public_keys(f, *text, keys); !st) {
            return st.error();
        }
    }
    if (keys.empty()) {
        return bad(path + ": holds no public key");
    }
    return keys;
}

Result<PublicKey> verify_signature(const Pack& pack, const std::vector<PublicKey>& trusted) {
    if (auto st = sodium_ready(); !st) {
        return st.error();
    }
    if (!pack.signature_text) {
        return bad(pack.source + ": unsigned: the pack has no manifest.sig");
    }
    const std::string where = pack.source + ": manifest.sig";
    auto line = one_line(where, *pack.signature_text);
    if (!line) {
        return line.error();
    }
    const auto w = detail::split_ws(*line);
    if (w.size() != 3 || w[0] != "ed25519" || !is_lower_hex(w[1], kKeyIdHex)) {
        return bad(where + ": malformed: expected 'ed25519 <key id> <base64 signature>'");
    }
    auto sig = from_base64(w[2], crypto_sign_BYTES);
    if (!sig) {
        return bad(where + ": malformed: the signature is not 64 bytes of base64");
    }
    const std::string key_id(w[1]);
    const auto key = std::find_if(trusted.begin(), trusted.end(),
                                  [&](const PublicKey& k) { return k.key_id == key_id; });
    if (key == trusted.end()) {
        return bad(where + ": signed by key " + key_id + ", which is not a trusted key");
    }
    if (crypto_sign_verify_detached(
            reinterpret_cast<const unsigned char*>(sig->data()),
            reinterpret_cast<const unsigned char*>(pack.manifest_text.data()),
            pack.manifest_text.size(),
            reinterpret_cast<const unsigned char*>(key->raw.data())) != 0) {
        return bad(where + ": bad signature by key " + key_id +
                   ": manifest.yaml was changed after signing, or the signature is corrupt");
    }
    return *key;
}

Status check_min_version(const Pack& pack, const std::string& sensor_version) {
    if (!valid_version_text(sensor_version)) {
        return make_error(ErrorCode::Internal,
                          "sensor version '" + sensor_version + "' is not dotted numbers");
    }
    if (version_parts(pack.manifest.min_sensor_version) > version_parts(sensor_version)) {
        return bad(pack.source + ": needs sensor version " + pack.manifest.min_sensor_version +
                   " or later (min-sensor-version); this is " + sensor_version);
    }
    return Ok{};
}

Result<PackSummary> write_pack(const std::string& src, const std::string& out,
                               const PackOptions& opts, const PackLimits& limits) {
    if (auto st = sodium_ready(); !st) {
        return st.error();
    }
    PackManifest m;
    m.name = opts.name;
    m.version = opts.version;
    m.created = opts.created.empty() ? utc_now() : opts.created;
    m.min_sensor_version = opts.min_sensor_version;
    if (!valid_name(m.version, 64) || m.version == "." || m.version == "..") {
        return bad("version '" + m.version + "': expected 1-64 of [A-Za-z0-9._-]");
    }
    if (!valid_name(m.name, 64)) {
        return bad("name '" + m.name + "': expected 1-64 of [A-Za-z0-9._-]");
    }
    if (!valid_version_text(m.min_sensor_version)) {
        return bad("min-sensor-version '" + m.min_sensor_version +
                   "': expected dotted numbers such as 0.1.0");
    }
    if (!valid_rfc3339_utc(m.created)) {
        return bad("created '" + m.created + "': expected RFC 3339 UTC (2025-07-01T12:00:00Z)");
    }
    std::optional<SecretKey> key;
    if (!opts.key_path.empty()) {
        auto k = read_secret_key(opts.key_path);
        if (!k) {
            return k.error();
        }
        key = *k;
        sodium_memzero(k->sk, sizeof(k->sk));
    }
    PackSummary sum;
    sum.out_path = out;
    auto entries = source_entries(src, limits);
    if (!entries) {
        return entries.error();
    }
    auto files = lay_out(src, std::move(*entries), sum);
    if (!files) {
        return files.error();
    }
    for (const auto& [path, content] : *files) {
        m.files.emplace(path, sha256_hex(content));
    }
    const std::string manifest = manifest_text(m);
    // What this writes, this reads: a manifest the reader would refuse is a bug here.
    if (auto check = parse_manifest(manifest, kManifestName); !check) {
        return make_error(ErrorCode::Internal, check.error().message);
    }
    std::string sig_line;
    if (key) {
        unsigned char sig[crypto_sign_BYTES];
        crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(manifest.data()),
                             manifest.size(), key->sk);
        sodium_memzero(key->sk, sizeof(key->sk));
        sig_line = "ed25519 " + key->key_id + " " + to_base64(sig, sizeof(sig)) + "\n";
        sum.key_id = key->key_id;
    }
    std::vector<std::pair<std::string, const std::string*>> order;
    order.emplace_back(kManifestName, &manifest);
    if (key) {
        order.emplace_back(kSignatureName, &sig_line);
    }
    for (const auto& [path, content] : *files) {
        order.emplace_back(path, &content);
    }
    std::error_code ec;
    if (!opts.force && fs::symlink_status(out, ec).type() != fs::file_type::not_found) {
        return bad(out + ": exists; not overwritten (--force replaces it)");
    }
    const std::string tmp = out + ".tmp." + std::to_string(::getpid());
    if (auto st = write_tar_zst(tmp, order, parse_utc(m.created)); !st) {
        ::unlink(tmp.c_str());
        return st.error();
    }
    if (std::rename(tmp.c_str(), out.c_str()) != 0) {
        const int e = errno;
        ::unlink(tmp.c_str());
        return io(out + ": cannot write: " + std::strerror(e));
    }
    sum.digest = sha256_hex(manifest);
    return sum;
}

bool is_pack_dir(const std::string& path) {
    std::error_code ec;
    return fs::is_directory(path, ec) && fs::is_regular_file(fs::path(path) / "manifest.yaml", ec);
}

Result<Vars> pack_vars(const Pack& pack, const std::string& dir, const std::string& site_vars) {
    Vars vars;
    if (!site_vars.empty()) {
        auto v = load_vars(site_vars);
        if (!v) {
            return v.error();
        }
        vars = std::move(*v);
    } else if (pack.files.count("vars.yaml") != 0) {
        return load_vars((fs::path(dir) / "vars.yaml").string());
    } else {
        vars = default_vars();
    }
    if (pack.files.count("classification.config") != 0) {
        auto st =
            load_classification_file((fs::path(dir) / "classification.config").string(), vars);
        if (!st) {
            return st.error();
        }
    }
    if (pack.files.count("threshold.config") != 0) {
        auto st = load_threshold_file((fs::path(dir) / "threshold.config").string(), vars);
        if (!st) {
            return st.error();
        }
    }
    return vars;
}

std::vector<std::string> pack_rule_paths(const Pack& pack, const std::string& dir) {
    std::vector<std::string> paths;
    for (const auto& f : pack.rule_files()) {
        paths.push_back((fs::path(dir) / f).string());
    }
    return paths;
}

}  // namespace vigil::rules
