#include "sensor/alert_sink.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vigil::sensor {

const char* record_type_name(RecordType t) {
    switch (t) {
        case RecordType::Alert:
            return "alert";
        case RecordType::Anomaly:
            return "anomaly";
        case RecordType::Drop:
            return "drop";
        case RecordType::Stats:
            return "stats";
        case RecordType::Flow:
            return "flow";
        case RecordType::Packet:
            return "packet";
    }
    return "?";
}

Result<std::unique_ptr<EveFileSink>> EveFileSink::open(const std::string& path, bool append) {
    if (path == "-") {
        return std::unique_ptr<EveFileSink>(new EveFileSink(stdout, false, path));
    }
    std::FILE* f = std::fopen(path.c_str(), append ? "a" : "w");
    if (f == nullptr) {
        return make_error(ErrorCode::Io,
                          path + ": cannot open for writing: " + std::strerror(errno));
    }
    static constexpr size_t kBuf = 1 << 20;
    std::setvbuf(f, nullptr, _IOFBF, kBuf);
    return std::unique_ptr<EveFileSink>(new EveFileSink(f, true, path));
}

EveFileSink::EveFileSink(std::FILE* f, bool owned, std::string path)
    : f_(f), owned_(owned), path_(std::move(path)) {}

EveFileSink::~EveFileSink() {
    if (owned_ && f_ != nullptr) {
        std::fclose(f_);
    }
}

void EveFileSink::write(RecordType /*type*/, std::string_view json) {
    if (std::fwrite(json.data(), 1, json.size(), f_) != json.size() ||
        std::fputc('\n', f_) == EOF) {
        failed_ = true;
    }
}

void EveFileSink::flush() {
    if (f_ != nullptr && std::fflush(f_) != 0) {
        failed_ = true;
    }
}

Status EveFileSink::close() {
    if (f_ == nullptr) {
        return failed_ ? make_error(ErrorCode::Io, path_ + ": write failed") : Status(Ok{});
    }
    if (std::fflush(f_) != 0) {
        failed_ = true;
    }
    if (owned_) {
        if (fsync(fileno(f_)) != 0 && errno != EINVAL) {
            failed_ = true;
        }
        if (std::fclose(f_) != 0) {
            failed_ = true;
        }
        f_ = nullptr;
        owned_ = false;
    }
    if (failed_) {
        return make_error(ErrorCode::Io, path_ + ": write failed: " + std::strerror(errno));
    }
    return Ok{};
}

}  // namespace vigil::sensor
