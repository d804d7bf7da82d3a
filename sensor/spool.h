#pragma once
// The on-disk spool of records on their way to vigil-mgmtd (outputs.zmq.spool). Every record
// gets its seq here, as it is appended, and stays until mgmtd acknowledges it, so what has a
// seq survives a crash of the sensor (it is in the file) and of mgmtd (it is resent).
//
// Layout: DIR/<first seq, 20 digits>.seg segment files, each a run of frames
//   u32 length | u32 crc32(seq, body) | u64 seq | body   (little-endian)
// with contiguous seqs. A torn frame at the end (the sensor was killed mid-write) is cut off
// when the spool is opened. Segments wholly acknowledged are deleted, except the newest one,
// which also carries the seq counter across restarts. DIR/lock (flock) keeps a second
// sensor out.
//
// Bounded by max_bytes: when full, either the oldest segment goes (drop-oldest: its records
// that mgmtd has not acknowledged are counted as dropped, and mgmtd hears of the gap) or the
// new record is refused (drop-newest: counted; it never gets a seq). Appends come from the
// control thread, reads and acknowledgements from the transport thread.

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/result.h"

namespace vigil::sensor {

enum class SpoolFull : uint8_t { DropOldest, DropNewest };

struct SpoolOptions {
    std::string dir;
    uint64_t max_bytes = 1024ull << 20;
    SpoolFull when_full = SpoolFull::DropOldest;
    uint64_t segment_bytes = 0;  // 0: max_bytes / 8, between 64 KiB and 64 MiB
};

struct SpoolStats {
    uint64_t first_seq = 0;       // oldest record present (0: none)
    uint64_t last_seq = 0;        // last seq assigned
    uint64_t acked_seq = 0;       // highest acknowledged
    uint64_t backlog = 0;         // records present and not acknowledged
    uint64_t bytes = 0;           // segment files on disk
    uint64_t dropped = 0;         // records lost to a full spool since start
    uint64_t recovered_torn = 0;  // bytes of a torn last frame cut off at open
};

class Spool {
public:
    static Result<std::unique_ptr<Spool>> open(const SpoolOptions& o);
    ~Spool();
    Spool(const Spool&) = delete;
    Spool& operator=(const Spool&) = delete;

    // Appends one record; its seq, or 0 when the full spool refused it (drop-newest) or the
    // write failed (counted as dropped; the error is kept for the summary).
    uint64_t append(std::string_view body);
    // Writes what was appended and forces it to disk (fdatasync); about once a second.
    // (Appends are buffered and written in batches; the sender flushes the buffer whenever
    // it has caught up, so buffering never delays delivery.)
    void sync();

    // The record with `seq`, when it is still present. Sequential reads are cheap.
    bool read(uint64_t seq, std::string& body);
    // mgmtd has committed everything up to `seq`.
    void ack(uint64_t seq);
    // mgmtd has committed up to `committed`, beyond the last seq this spool assigned (it was
    // wiped or replaced): the records present are renumbered after it, so none passes for a
    // duplicate. Returns how many were renumbered.
    uint64_t rebase(uint64_t committed);
    SpoolStats stats() const;
    uint64_t first_seq() const;
    uint64_t last_seq() const;
    std::string last_error() const;
    const std::string& dir() const { return o_.dir; }

private:
    struct Segment {
        uint64_t first = 0;  // seq of its first frame (also its name)
        uint64_t last = 0;   // seq of its last frame (first - 1 when empty)
        uint64_t bytes = 0;  // complete frames
        std::string path;
    };
    explicit Spool(SpoolOptions o);
    Status recover();
    Status start_segment(uint64_t first);  // mu_ held
    void drop_oldest();                    // mu_ held
    void close_reader();                   // mu_ held
    uint64_t append_locked(std::string_view body);
    void flush_pending();            // mu_ held
    uint64_t first_present() const;  // mu_ held: the oldest record's seq, 0 when none

    SpoolOptions o_;
    mutable std::mutex mu_;
    std::deque<Segment> segs_;
    int lock_fd_ = -1;
    int write_fd_ = -1;  // the newest segment, O_APPEND
    uint64_t total_bytes_ = 0;
    uint64_t last_seq_ = 0;
    uint64_t acked_ = 0;
    uint64_t dropped_ = 0;
    uint64_t torn_ = 0;
    std::string error_;
    uint64_t written_seq_ = 0;  // the last seq in the file (readable)
    std::string pending_;       // appended frames not yet written
    // The reader's position: an open segment file, the offset and seq of its next frame.
    int read_fd_ = -1;
    uint64_t read_first_ = 0;
    uint64_t read_off_ = 0;
    uint64_t read_seq_ = 0;
};

}  // namespace vigil::sensor
