#include "mgmt/keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string_view>

#include "common/keyfile.h"
#include "common/text.h"

namespace vigil::mgmt {

namespace {

bool valid_key_name(std::string_view n) {
    return n != "." && n != ".." && valid_name(n, 64);
}

bool is_z85(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return is_z85_char(c); });
}

std::string errno_text(int e) {
    return std::strerror(e);
}

// Writes `text` to a new temporary file in `dir` with `mode`, synced; returns its path.
Result<std::string> write_temp(const std::string& dir, const std::string& text, mode_t mode) {
    std::string tmpl = (std::filesystem::path(dir) / ".vigil-key.XXXXXX").string();
    const int fd = mkstemp(tmpl.data());  // created 0600: the secret is never readable by others
    if (fd < 0) {
        return make_error(ErrorCode::Io, dir + ": cannot create a file: " + errno_text(errno));
    }
    bool ok = fchmod(fd, mode) == 0;
    size_t done = 0;
    while (ok && done < text.size()) {
        const ssize_t n = write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        ok = n > 0;
        done += ok ? static_cast<size_t>(n) : 0;
    }
    ok = ok && fsync(fd) == 0;
    const int saved = errno;
    if (close(fd) != 0) {
        ok = false;
    }
    if (!ok) {
        unlink(tmpl.c_str());
        return make_error(ErrorCode::Io, tmpl + ": cannot write: " + errno_text(saved));
    }
    return tmpl;
}

// Moves `tmp` to `final`: without `force` only when `final` does not exist (link() fails with
// EEXIST atomically, so a concurrent writer cannot be overwritten either).
Status install(const std::string& tmp, const std::string& final, bool force) {
    if (force) {
        if (rename(tmp.c_str(), final.c_str()) != 0) {
            const int e = errno;
            unlink(tmp.c_str());
            return make_error(ErrorCode::Io, final + ": cannot write: " + errno_text(e));
        }
        return Ok{};
    }
    if (link(tmp.c_str(), final.c_str()) != 0) {
        const int e = errno;
        unlink(tmp.c_str());
        if (e == EEXIST) {
            return make_error(ErrorCode::BadInput,
                              final + ": exists; not overwritten (use --force to replace it)");
        }
        return make_error(ErrorCode::Io, final + ": cannot write: " + errno_text(e));
    }
    unlink(tmp.c_str());
    return Ok{};
}

}  // namespace

Result<KeyPairPaths> generate_key_files(const std::string& dir, const std::string& name,
                                        bool force) {
    if (!valid_key_name(name)) {
        return make_error(ErrorCode::BadInput, "key name '" + name +
                                                   "': expected 1-64 characters of "
                                                   "[A-Za-z0-9._-]");
    }
    if (dir.empty()) {
        return make_error(ErrorCode::BadInput, "no output folder given");
    }
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec || !std::filesystem::is_directory(dir, ec)) {
        return make_error(ErrorCode::Io, dir + ": cannot create the folder" +
                                             (ec ? ": " + ec.message() : std::string()));
    }
    KeyPairPaths out;
    out.secret_path = (std::filesystem::path(dir) / (name + ".key")).string();
    out.public_path = (std::filesystem::path(dir) / (name + ".pub")).string();
    if (!force) {
        for (const auto* p : {&out.secret_path, &out.public_path}) {
            if (std::filesystem::symlink_status(*p, ec).type() !=
                std::filesystem::file_type::not_found) {
                return make_error(ErrorCode::BadInput,
                                  *p + ": exists; not overwritten (use --force to replace it)");
            }
        }
    }
    char pub[kZ85KeyLen + 1] = {};
    char sec[kZ85KeyLen + 1] = {};
    if (zmq_curve_keypair(pub, sec) != 0) {
        return make_error(ErrorCode::Internal,
                          "zmq_curve_keypair: " + std::string(zmq_strerror(zmq_errno())) +
                              " (libzmq built without CURVE?)");
    }
    out.public_z85 = pub;
    auto sec_tmp = write_temp(dir, std::string(sec) + "\n", 0600);
    // The secret's bytes leave this stack frame only through the file.
    std::memset(sec, 0, sizeof(sec));
    if (!sec_tmp) {
        return sec_tmp.error();
    }
    auto pub_tmp = write_temp(dir, out.public_z85 + "\n", 0644);
    if (!pub_tmp) {
        unlink(sec_tmp->c_str());
        return pub_tmp.error();
    }
    if (auto s = install(*sec_tmp, out.secret_path, force); !s) {
        unlink(pub_tmp->c_str());
        return s.error();
    }
    if (auto s = install(*pub_tmp, out.public_path, force); !s) {
        if (!force) {
            unlink(out.secret_path.c_str());  // do not leave half a pair behind
        }
        return s.error();
    }
    return out;
}

Result<std::string> public_from_secret(const std::string& secret_z85) {
    if (secret_z85.size() != kZ85KeyLen || !is_z85(secret_z85)) {
        return make_error(ErrorCode::BadInput, "expected a secret key of 40 Z85 characters");
    }
    char pub[kZ85KeyLen + 1] = {};
    if (zmq_curve_public(pub, secret_z85.c_str()) != 0) {
        return make_error(ErrorCode::BadInput,
                          "zmq_curve_public: " + std::string(zmq_strerror(zmq_errno())));
    }
    return std::string(pub);
}

}  // namespace vigil::mgmt
