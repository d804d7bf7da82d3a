#include "rules/hs_cache.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "common/text.h"

namespace vigil::rules {

namespace {

// Entry file: a fixed 96-byte header, then the payload. Integers are little-endian.
//   0  magic "VIGILHS\0"       8
//   8  format version (u32)   4    kFormatVersion; anything else is rebuilt
//  12  reserved (u32, 0)      4
//  16  key                    32   must equal the key the file is named after
//  48  payload length (u64)   8    must equal file size - 96
//  56  payload sha256         32
//  88  compile time (u64 us)  8    for "seconds saved"
// Payload: u32 n, n x u32 dropped positions, u64 db length, hs_serialize_database bytes.
constexpr char kMagic[8] = {'V', 'I', 'G', 'I', 'L', 'H', 'S', '\0'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kHeaderSize = 96;
constexpr size_t kKeyOffset = 16;
constexpr size_t kLengthOffset = 48;
constexpr size_t kSumOffset = 56;
constexpr size_t kMicrosOffset = 88;
// Far above any real database (ET Open's largest is a few MB): a bigger header length is
// damage, and is refused before anything is allocated for it.
constexpr uint64_t kMaxPayload = uint64_t{1} << 31;

void put_u32(std::string& out, uint32_t v) {
    for (int i = 0; i < 4; ++i) {
        out.push_back(static_cast<char>(v >> (8 * i)));
    }
}
void put_u64(std::string& out, uint64_t v) {
    for (int i = 0; i < 8; ++i) {
        out.push_back(static_cast<char>(v >> (8 * i)));
    }
}
uint64_t get_le(const uint8_t* p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) {
        v = v << 8 | p[i];
    }
    return v;
}

bool sodium_ready() {
    static const int rc = sodium_init();  // 0 first time, 1 already done, -1 failure
    return rc >= 0;
}

std::array<uint8_t, 32> sha256(const uint8_t* data, size_t len) {
    std::array<uint8_t, 32> out{};
    crypto_hash_sha256(out.data(), data, len);
    return out;
}

std::string errno_text(int e) {
    return std::strerror(e);
}

// Closes a file descriptor at scope exit.
struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) {
            ::close(fd);
        }
    }
};

}  // namespace

HsCache::HsCache(const std::string& dir) : dir_(dir) {
    if (dir_.empty()) {
        return;
    }
    const std::string off = "hyperscan cache " + dir_ + " disabled: ";
    if (!sodium_ready()) {
        warning_ = off + "libsodium failed to initialise";
        return;
    }
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) {
        warning_ = off + "cannot create it: " + ec.message();
        return;
    }
    struct stat st {};
    if (::stat(dir_.c_str(), &st) != 0) {
        warning_ = off + errno_text(errno);
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        warning_ = off + "not a directory";
        return;
    }
    // Whoever can write here could plant a database the matcher would trust: only a
    // directory this user owns and nobody else can write is used.
    if (st.st_uid != ::geteuid()) {
        warning_ = off + "owned by uid " + std::to_string(st.st_uid) + ", not by this user";
        return;
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        warning_ = off + "writable by group or others";
        return;
    }
    if (::access(dir_.c_str(), W_OK | X_OK) != 0) {
        warning_ = off + "not writable: " + errno_text(errno);
        return;
    }
    enabled_ = true;
    writable_ = true;
}

HsCacheKey HsCache::key_for(const std::vector<std::string>& exprs,
                            const std::vector<unsigned>& flags, unsigned mode) {
    std::string in = "vigil-hs-cache/1";
    in.push_back('\0');
    in += hs_version();
    in.push_back('\0');
    hs_platform_info_t plat{};
    const hs_error_t prc = hs_populate_platform(&plat);
    put_u32(in, static_cast<uint32_t>(prc));
    put_u32(in, plat.tune);
    put_u64(in, plat.cpu_features);
    put_u64(in, plat.reserved1);
    put_u64(in, plat.reserved2);
    put_u32(in, mode);
    put_u64(in, exprs.size());
    for (size_t i = 0; i < exprs.size(); ++i) {
        put_u64(in, exprs[i].size());
        in += exprs[i];
        put_u32(in, i < flags.size() ? flags[i] : 0);
        put_u32(in, static_cast<uint32_t>(i));  // the id compile_db gives expression i
    }
    HsCacheKey key{};
    if (sodium_ready()) {
        key = sha256(reinterpret_cast<const uint8_t*>(in.data()), in.size());
    }
    return key;
}

std::string HsCache::entry_path(const HsCacheKey& key) const {
    return (std::filesystem::path(dir_) / (to_hex(key.data(), key.size()) + ".hsdb")).string();
}

void HsCache::corrupt(const std::string& path, const std::string& reason) {
    ++stats_.rebuilt;
    events_.push_back("hyperscan cache entry " + path + " corrupt: " + reason + "; rebuilt");
}

std::optional<HsCacheEntry> HsCache::lookup(const HsCacheKey& key, size_t n_exprs) {
    if (!enabled_) {
        return std::nullopt;
    }
    const auto t0 = std::chrono::steady_clock::now();
    const std::string path = entry_path(key);
    Fd f;
    f.fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (f.fd < 0) {
        if (errno == ENOENT) {
            ++stats_.misses;
        } else {
            corrupt(path, "cannot open: " + errno_text(errno));
        }
        return std::nullopt;
    }
    struct stat st {};
    if (::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        corrupt(path, "not a regular file");
        return std::nullopt;
    }
    const auto size = static_cast<uint64_t>(st.st_size);
    if (size < kHeaderSize) {
        corrupt(path, "truncated: " + std::to_string(size) + " bytes, shorter than the " +
                          std::to_string(kHeaderSize) + "-byte header");
        return std::nullopt;
    }
    if (size - kHeaderSize > kMaxPayload) {
        corrupt(path, "implausible size " + std::to_string(size));
        return std::nullopt;
    }
    std::vector<uint8_t> buf(size);
    size_t got = 0;
    while (got < size) {
        const ssize_t n = ::read(f.fd, buf.data() + got, size - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            corrupt(path, n < 0 ? "read failed: " + errno_text(errno) : "shrank while read");
            return std::nullopt;
        }
        got += static_cast<size_t>(n);
    }
    const uint8_t* h = buf.data();
    if (std::memcmp(h, kMagic, sizeof kMagic) != 0) {
        corrupt(path, "wrong magic (not a vigil hyperscan cache entry)");
        return std::nullopt;
    }
    const auto version = static_cast<uint32_t>(get_le(h + 8, 4));
    if (version != kFormatVersion) {
        corrupt(path, "format version " + std::to_string(version) + ", expected " +
                          std::to_string(kFormatVersion));
        return std::nullopt;
    }
    if (std::memcmp(h + kKeyOffset, key.data(), key.size()) != 0) {
        corrupt(path, "written for another key (" + to_hex(h + kKeyOffset, 8) + "...)");
        return std::nullopt;
    }
    const uint64_t plen = get_le(h + kLengthOffset, 8);
    if (plen != size - kHeaderSize) {
        corrupt(path, "truncated or padded: header says " + std::to_string(plen) +
                          " payload bytes, file has " + std::to_string(size - kHeaderSize));
        return std::nullopt;
    }
    const uint8_t* p = h + kHeaderSize;
    if (sha256(p, plen) != [&] {
            std::array<uint8_t, 32> s{};
            std::memcpy(s.data(), h + kSumOffset, s.size());
            return s;
        }()) {
        corrupt(path, "payload checksum mismatch");
        return std::nullopt;
    }
    // The checksum matched: what follows can only fail if the writer was broken, but it is
    // checked all the same rather than trusted.
    if (plen < 12) {
        corrupt(path, "payload too short");
        return std::nullopt;
    }
    const uint64_t ndrop = get_le(p, 4);
    if (ndrop > n_exprs || 4 + 4 * ndrop + 8 > plen) {
        corrupt(path, "bad refused-expression list");
        return std::nullopt;
    }
    HsCacheEntry e;
    size_t left = n_exprs;
    for (uint64_t i = 0; i < ndrop; ++i) {
        const auto d = static_cast<uint32_t>(get_le(p + 4 + 4 * i, 4));
        if (d >= left) {
            corrupt(path, "refused expression " + std::to_string(d) + " out of range");
            return std::nullopt;
        }
        e.dropped.push_back(d);
        --left;
    }
    const uint8_t* dbp = p + 4 + 4 * ndrop;
    const uint64_t dblen = get_le(dbp, 8);
    if (dblen != plen - (4 + 4 * ndrop + 8)) {
        corrupt(path, "database length mismatch");
        return std::nullopt;
    }
    if ((dblen == 0) != (left == 0)) {
        corrupt(path, "database presence does not match the expressions left");
        return std::nullopt;
    }
    if (dblen != 0) {
        const char* bytes = reinterpret_cast<const char*>(dbp + 8);
        char* info = nullptr;
        if (hs_serialized_database_info(bytes, dblen, &info) != HS_SUCCESS) {
            corrupt(path, "hyperscan does not recognise the serialized database");
            return std::nullopt;
        }
        std::free(info);  // NOLINT(cppcoreguidelines-no-malloc): allocated by Hyperscan
        hs_database_t* db = nullptr;
        const hs_error_t rc = hs_deserialize_database(bytes, dblen, &db);
        if (rc != HS_SUCCESS) {
            corrupt(path, "hyperscan refused to deserialize it (error " + std::to_string(rc) + ")");
            return std::nullopt;
        }
        e.db.reset(db);
    }
    ++stats_.hits;
    stats_.bytes_read += size;
    const double load =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    stats_.seconds_saved += static_cast<double>(get_le(h + kMicrosOffset, 8)) / 1e6 - load;
    return e;
}

void HsCache::store(const HsCacheKey& key, const hs_database_t* db,
                    const std::vector<uint32_t>& dropped, double compile_seconds) {
    if (!enabled_ || !writable_) {
        return;
    }
    char* bytes = nullptr;
    size_t len = 0;
    if (db != nullptr && hs_serialize_database(db, &bytes, &len) != HS_SUCCESS) {
        return;  // nothing to cache; the database itself is fine
    }
    std::string payload;
    put_u32(payload, static_cast<uint32_t>(dropped.size()));
    for (uint32_t d : dropped) {
        put_u32(payload, d);
    }
    put_u64(payload, len);
    if (bytes != nullptr) {
        payload.append(bytes, len);
        std::free(bytes);  // NOLINT(cppcoreguidelines-no-malloc): allocated by Hyperscan
    }
    std::string out(kMagic, sizeof kMagic);
    put_u32(out, kFormatVersion);
    put_u32(out, 0);
    out.append(reinterpret_cast<const char*>(key.data()), key.size());
    put_u64(out, payload.size());
    const auto sum = sha256(reinterpret_cast<const uint8_t*>(payload.data()), payload.size());
    out.append(reinterpret_cast<const char*>(sum.data()), sum.size());
    put_u64(out, static_cast<uint64_t>(compile_seconds * 1e6));
    out += payload;

    // Temp file in the same directory, then rename: a reader sees the old entry, no entry or
    // the whole new one. A crash before the data reaches the disk leaves at worst a short
    // entry, which the length and checksum checks catch.
    static std::atomic<uint64_t> seq{0};
    const std::string final_path = entry_path(key);
    const std::string tmp = final_path + ".tmp." + std::to_string(::getpid()) + "." +
                            std::to_string(seq.fetch_add(1, std::memory_order_relaxed));
    auto fail = [&](const std::string& what, int e) {
        ::unlink(tmp.c_str());
        writable_ = false;
        warning_ = "hyperscan cache " + dir_ + ": cannot write entries (" + what + ": " +
                   errno_text(e) + "); compiled databases are not cached";
    };
    Fd f;
    f.fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (f.fd < 0) {
        fail("create " + tmp, errno);
        return;
    }
    size_t put = 0;
    while (put < out.size()) {
        const ssize_t n = ::write(f.fd, out.data() + put, out.size() - put);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            fail("write " + tmp, n < 0 ? errno : ENOSPC);
            return;
        }
        put += static_cast<size_t>(n);
    }
    const int fd = f.fd;
    f.fd = -1;
    if (::close(fd) != 0) {
        fail("close " + tmp, errno);
        return;
    }
    if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
        fail("rename to " + final_path, errno);
        return;
    }
    stats_.bytes_written += out.size();
}

}  // namespace vigil::rules
