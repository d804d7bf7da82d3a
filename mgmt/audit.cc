#include "mgmt/audit.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "common/clock.h"
#include "rules/pack.h"  // sha256_hex

#include <nlohmann/json.hpp>

namespace vigil::mgmt {

namespace {

using nlohmann::json;

const std::string kGenesis(64, '0');

}  // namespace

Status append_audit(const std::string& path, const AuditEntry& e) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        return make_error(ErrorCode::Io, "audit log " + path + ": " + std::strerror(errno));
    }
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    if (::flock(fd, LOCK_EX) != 0) {
        return make_error(ErrorCode::Io, "audit log " + path + ": lock: " + std::strerror(errno));
    }
    // The last line: read the file's tail (lines are short; 64 KiB holds many).
    const off_t size = ::lseek(fd, 0, SEEK_END);
    std::string tail;
    if (size > 0) {
        const off_t from = size > 65536 ? size - 65536 : 0;
        tail.resize(static_cast<size_t>(size - from));
        if (::pread(fd, tail.data(), tail.size(), from) != static_cast<ssize_t>(tail.size())) {
            return make_error(ErrorCode::Io,
                              "audit log " + path + ": read: " + std::strerror(errno));
        }
    }
    std::string prev = kGenesis;
    uint64_t seq = 1;
    if (!tail.empty()) {
        if (tail.back() != '\n') {
            return make_error(ErrorCode::Io, "audit log " + path +
                                                 ": the last line is incomplete; run `vigilctl "
                                                 "audit verify`");
        }
        const size_t start = tail.rfind('\n', tail.size() - 2);
        const std::string last =
            tail.substr(start == std::string::npos ? 0 : start + 1,
                        tail.size() - 1 - (start == std::string::npos ? 0 : start + 1));
        prev = rules::sha256_hex(last);
        const json j = json::parse(last, nullptr, false);
        if (j.is_discarded() || !j.contains("seq") || !j["seq"].is_number_unsigned()) {
            return make_error(ErrorCode::Io, "audit log " + path +
                                                 ": the last line is not an entry; run `vigilctl "
                                                 "audit verify`");
        }
        seq = j["seq"].get<uint64_t>() + 1;
    }
    json detail = json::parse(e.detail.empty() ? "{}" : e.detail, nullptr, false);
    if (detail.is_discarded()) {
        detail = json{{"text", e.detail}};
    }
    const json line{{"seq", seq},         {"at", iso8601_utc(wall_us())},
                    {"actor", e.actor},   {"role", e.role},
                    {"action", e.action}, {"target", e.target},
                    {"ok", e.ok},         {"detail", detail},
                    {"prev", prev}};
    const std::string text = line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
        ::fsync(fd) != 0) {
        return make_error(ErrorCode::Io, "audit log " + path + ": write: " + std::strerror(errno));
    }
    return Ok{};
}

Result<AuditCheck> verify_audit_log(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return make_error(ErrorCode::Io, "audit log " + path + ": cannot read");
    }
    AuditCheck c;
    std::string prev = kGenesis;
    std::string line;
    auto broken = [&](const std::string& why) {
        c.ok = false;
        c.bad_line = c.lines;
        c.reason = why;
        return c;
    };
    while (std::getline(in, line)) {
        ++c.lines;
        const json j = json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object()) {
            return broken("not a JSON object");
        }
        if (!j.contains("seq") || !j["seq"].is_number_unsigned() ||
            j["seq"].get<uint64_t>() != c.lines) {
            return broken("seq is not " + std::to_string(c.lines) +
                          " (a line removed or inserted?)");
        }
        if (!j.contains("prev") || !j["prev"].is_string() || j["prev"].get<std::string>() != prev) {
            return broken("prev does not match the sha256 of line " + std::to_string(c.lines - 1) +
                          " (that line or this one was changed)");
        }
        prev = rules::sha256_hex(line);
    }
    if (in.bad()) {
        return make_error(ErrorCode::Io, "audit log " + path + ": read error");
    }
    return c;
}

}  // namespace vigil::mgmt
