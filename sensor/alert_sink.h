#pragma once
// AlertSink: where the output stage's records go. EveWriter formats each record once, as
// Suricata's EVE JSON, and hands it to every sink: the EVE file (or stdout) is one sink,
// ZeroMQ to vigil-mgmtd another, and tests add an in-memory one. Sinks run on the output
// (control) thread, never on a worker.

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace vigil::sensor {

// The EVE event_type of a record.
enum class RecordType : uint8_t { Alert, Anomaly, Drop, Stats, Flow, Packet };
// "alert", "anomaly", "drop", "stats", "flow", "packet"
const char* record_type_name(RecordType t);

class AlertSink {
public:
    virtual ~AlertSink() = default;
    // One record: one JSON object, without a trailing newline.
    virtual void write(RecordType type, std::string_view json) = 0;
    // Hands what was written on (live capture: about once a second, so that `tail -f` and
    // log shippers see alerts promptly).
    virtual void flush() {}
    // Everything written is where it belongs (a file: flushed and fsynced); an error when
    // some of it could not be written.
    virtual Status close() { return Ok{}; }
};

// EVE JSON, one record a line, to a file ("-": stdout).
class EveFileSink final : public AlertSink {
public:
    // `append`: after what the file holds (a service's restarts keep the earlier records);
    // otherwise the file starts empty (a replay's output).
    static Result<std::unique_ptr<EveFileSink>> open(const std::string& path, bool append = false);
    ~EveFileSink() override;
    EveFileSink(const EveFileSink&) = delete;
    EveFileSink& operator=(const EveFileSink&) = delete;

    void write(RecordType type, std::string_view json) override;
    void flush() override;
    Status close() override;

private:
    EveFileSink(std::FILE* f, bool owned, std::string path);
    std::FILE* f_;
    bool owned_;
    std::string path_;
    bool failed_ = false;
};

// Keeps every record in memory, in order (tests).
class MemorySink final : public AlertSink {
public:
    struct Record {
        RecordType type;
        std::string json;
    };
    void write(RecordType type, std::string_view json) override {
        records.push_back(Record{type, std::string(json)});
    }
    std::vector<Record> records;
};

}  // namespace vigil::sensor
