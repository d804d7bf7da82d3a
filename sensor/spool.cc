#include "sensor/spool.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "common/bytes.h"

namespace vigil::sensor {

namespace {

constexpr size_t kHeader = 16;
constexpr uint32_t kMaxFrame = 16u << 20;
constexpr size_t kFlushBytes = 256 << 10;  // buffered appends are written at this size

uint32_t frame_crc(const unsigned char* seq_le, const char* body, size_t n) {
    uLong c = crc32(0L, seq_le, 8);
    return static_cast<uint32_t>(
        crc32(c, reinterpret_cast<const Bytef*>(body), static_cast<uInt>(n)));
}

std::string seg_name(const std::string& dir, uint64_t first) {
    char name[32];
    std::snprintf(name, sizeof(name), "%020llu.seg", static_cast<unsigned long long>(first));
    return dir + "/" + name;
}

bool read_full(int fd, void* buf, size_t n, uint64_t off) {
    auto* p = static_cast<char*>(buf);
    while (n > 0) {
        const ssize_t r = ::pread(fd, p, n, static_cast<off_t>(off));
        if (r <= 0) {
            if (r < 0 && errno == EINTR) {
                continue;
            }
            return false;
        }
        p += r;
        n -= static_cast<size_t>(r);
        off += static_cast<uint64_t>(r);
    }
    return true;
}

}  // namespace

Spool::Spool(SpoolOptions o) : o_(std::move(o)) {}

Spool::~Spool() {
    if (write_fd_ >= 0) {
        flush_pending();
        ::fdatasync(write_fd_);
        ::close(write_fd_);
    }
    if (read_fd_ >= 0) {
        ::close(read_fd_);
    }
    if (lock_fd_ >= 0) {
        ::close(lock_fd_);
    }
}

Result<std::unique_ptr<Spool>> Spool::open(const SpoolOptions& opts) {
    SpoolOptions o = opts;
    if (o.segment_bytes == 0) {
        o.segment_bytes = std::clamp<uint64_t>(o.max_bytes / 8, 64 << 10, 64 << 20);
    }
    std::error_code ec;
    std::filesystem::create_directories(o.dir, ec);
    if (ec) {
        return make_error(ErrorCode::Io, o.dir + ": outputs.zmq.spool: " + ec.message());
    }
    std::unique_ptr<Spool> s(new Spool(o));
    const std::string lock = o.dir + "/lock";
    s->lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd_ < 0) {
        return make_error(ErrorCode::Io, lock + ": " + std::strerror(errno));
    }
    if (::flock(s->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
        return make_error(ErrorCode::Io,
                          o.dir +
                              ": the spool is in use by another vigil-sensor (each sensor "
                              "needs its own outputs.zmq.spool)");
    }
    if (auto st = s->recover(); !st) {
        return st.error();
    }
    return s;
}

// Reads every segment, checks its frames, cuts off a torn tail, and opens the newest for
// appending.
Status Spool::recover() {
    std::vector<std::pair<uint64_t, std::string>> files;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(o_.dir, ec)) {
        const std::string name = e.path().filename().string();
        if (name.size() == 24 && name.compare(20, 4, ".seg") == 0 &&
            std::all_of(name.begin(), name.begin() + 20,
                        [](char c) { return c >= '0' && c <= '9'; })) {
            files.emplace_back(std::stoull(name.substr(0, 20)), e.path().string());
        }
    }
    if (ec) {
        return make_error(ErrorCode::Io, o_.dir + ": " + ec.message());
    }
    std::sort(files.begin(), files.end());
    std::string body;
    for (size_t i = 0; i < files.size(); ++i) {
        const auto& [first, path] = files[i];
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            return make_error(ErrorCode::Io, path + ": " + std::strerror(errno));
        }
        const uint64_t size = std::filesystem::file_size(path, ec);
        Segment seg{first, first - 1, 0, path};
        uint64_t off = 0;
        unsigned char h[kHeader];
        while (off + kHeader <= size && read_full(fd, h, kHeader, off)) {
            const uint32_t len = load_le32(h);
            const uint64_t seq = load_le64(h + 8);
            if (len > kMaxFrame || off + kHeader + len > size || seq != seg.last + 1) {
                break;
            }
            body.resize(len);
            if (!read_full(fd, body.data(), len, off + kHeader) ||
                frame_crc(h + 8, body.data(), len) != load_le32(h + 4)) {
                break;
            }
            seg.last = seq;
            off += kHeader + len;
        }
        ::close(fd);
        if (off < size) {
            // A torn or damaged tail: what follows cannot be trusted.
            torn_ += size - off;
            if (::truncate(path.c_str(), static_cast<off_t>(off)) != 0) {
                return make_error(ErrorCode::Io, path + ": " + std::strerror(errno));
            }
        }
        seg.bytes = off;
        if (!segs_.empty() && seg.first <= segs_.back().last) {
            return make_error(ErrorCode::Io, path + ": overlaps the segment before it");
        }
        total_bytes_ += seg.bytes;
        segs_.push_back(seg);
    }
    if (segs_.empty()) {
        return start_segment(1);
    }
    last_seq_ = segs_.back().last;
    written_seq_ = last_seq_;
    write_fd_ = ::open(segs_.back().path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (write_fd_ < 0) {
        return make_error(ErrorCode::Io, segs_.back().path + ": " + std::strerror(errno));
    }
    return Ok{};
}

Status Spool::start_segment(uint64_t first) {
    if (write_fd_ >= 0) {
        ::fdatasync(write_fd_);
        ::close(write_fd_);
        write_fd_ = -1;
    }
    const std::string path = seg_name(o_.dir, first);
    write_fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (write_fd_ < 0) {
        return make_error(ErrorCode::Io, path + ": " + std::strerror(errno));
    }
    segs_.push_back(Segment{first, first - 1, 0, path});
    return Ok{};
}

void Spool::close_reader() {
    if (read_fd_ >= 0) {
        ::close(read_fd_);
        read_fd_ = -1;
    }
}

void Spool::drop_oldest() {
    const Segment s = segs_.front();
    const uint64_t from = std::max(s.first, acked_ + 1);
    if (s.last >= from) {
        dropped_ += s.last - from + 1;
    }
    if (read_fd_ >= 0 && read_first_ == s.first) {
        close_reader();
    }
    ::unlink(s.path.c_str());
    total_bytes_ -= s.bytes;
    segs_.pop_front();
}

uint64_t Spool::append(std::string_view body) {
    std::lock_guard lk(mu_);
    return append_locked(body);
}

uint64_t Spool::append_locked(std::string_view body) {
    const uint64_t frame_bytes = kHeader + body.size();
    if (body.size() > kMaxFrame || frame_bytes > o_.max_bytes) {
        ++dropped_;
        return 0;
    }
    while (total_bytes_ + frame_bytes > o_.max_bytes) {
        if (o_.when_full == SpoolFull::DropNewest || segs_.size() < 2) {
            ++dropped_;
            return 0;
        }
        drop_oldest();
    }
    if (segs_.back().bytes + pending_.size() >= o_.segment_bytes) {
        flush_pending();
        if (auto st = start_segment(last_seq_ + 1); !st) {
            error_ = st.error().message;
            ++dropped_;
            return 0;
        }
    }
    // Appended to a buffer, written in batches (one write(2) for many records): the control
    // thread stays fast. Only written records are ever read and sent, so a record lost from
    // the buffer (the sensor killed) was never seen by mgmtd, and its seq is simply reused.
    const uint64_t seq = last_seq_ + 1;
    const size_t at = pending_.size();
    pending_.resize(at + frame_bytes);
    auto* p = reinterpret_cast<unsigned char*>(pending_.data() + at);
    store_le32(p, static_cast<uint32_t>(body.size()));
    store_le64(p + 8, seq);
    store_le32(p + 4, frame_crc(p + 8, body.data(), body.size()));
    std::memcpy(p + kHeader, body.data(), body.size());
    segs_.back().last = seq;
    total_bytes_ += frame_bytes;
    last_seq_ = seq;
    if (pending_.size() >= kFlushBytes) {
        flush_pending();
    }
    return seq;
}

void Spool::flush_pending() {
    size_t done = 0;
    while (done < pending_.size()) {
        const ssize_t w = ::write(write_fd_, pending_.data() + done, pending_.size() - done);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            // Disk full or an I/O error: cut the partial write off so the file stays valid,
            // and take back the seqs of what was not written (never sent: nothing to skip).
            error_ = segs_.back().path + ": " + std::strerror(errno);
            if (::ftruncate(write_fd_, static_cast<off_t>(segs_.back().bytes)) != 0) {
                error_ += " (and truncate failed)";
            }
            dropped_ += last_seq_ - written_seq_;
            total_bytes_ -= pending_.size();
            last_seq_ = written_seq_;
            segs_.back().last = written_seq_;
            pending_.clear();
            return;
        }
        done += static_cast<size_t>(w);
    }
    segs_.back().bytes += pending_.size();
    written_seq_ = last_seq_;
    pending_.clear();
}

uint64_t Spool::rebase(uint64_t committed) {
    std::lock_guard lk(mu_);
    if (committed <= last_seq_) {
        return 0;
    }
    flush_pending();
    // mgmtd has more than this spool ever assigned (the spool was wiped, or moved): what is
    // here would pass for duplicates. Renumber it after what mgmtd has.
    std::vector<std::string> bodies;
    for (const auto& seg : segs_) {
        const int fd = ::open(seg.path.c_str(), O_RDONLY | O_CLOEXEC);
        uint64_t off = 0;
        unsigned char h[kHeader];
        for (uint64_t seq = seg.first; fd >= 0 && seq <= seg.last; ++seq) {
            if (!read_full(fd, h, kHeader, off)) {
                break;
            }
            std::string b(load_le32(h), '\0');
            if (!read_full(fd, b.data(), b.size(), off + kHeader)) {
                break;
            }
            off += kHeader + b.size();
            if (seq > acked_) {
                bodies.push_back(std::move(b));
            }
        }
        if (fd >= 0) {
            ::close(fd);
        }
    }
    close_reader();
    for (const auto& seg : segs_) {
        ::unlink(seg.path.c_str());
    }
    segs_.clear();
    total_bytes_ = 0;
    last_seq_ = committed;
    written_seq_ = committed;
    acked_ = committed;
    if (auto st = start_segment(committed + 1); !st) {
        error_ = st.error().message;
        dropped_ += bodies.size();
        return 0;
    }
    for (const auto& b : bodies) {
        append_locked(b);
    }
    return bodies.size();
}

void Spool::sync() {
    std::lock_guard lk(mu_);
    flush_pending();
    if (write_fd_ >= 0) {
        ::fdatasync(write_fd_);
    }
}

bool Spool::read(uint64_t seq, std::string& body) {
    std::lock_guard lk(mu_);
    if (seq > written_seq_) {
        flush_pending();  // the sender caught up with the buffer: write it now
    }
    if (seq == 0 || seq > written_seq_) {
        return false;
    }
    if (read_fd_ < 0 || read_seq_ != seq) {
        // Reposition: the segment holding seq, scanned from its start.
        auto it = std::find_if(segs_.begin(), segs_.end(),
                               [&](const Segment& s) { return seq >= s.first && seq <= s.last; });
        if (it == segs_.end()) {
            return false;
        }
        if (read_fd_ < 0 || read_first_ != it->first) {
            close_reader();
            read_fd_ = ::open(it->path.c_str(), O_RDONLY | O_CLOEXEC);
            if (read_fd_ < 0) {
                return false;
            }
            read_first_ = it->first;
        }
        read_off_ = 0;
        read_seq_ = it->first;
        unsigned char h[kHeader];
        while (read_seq_ < seq) {
            if (!read_full(read_fd_, h, kHeader, read_off_)) {
                close_reader();
                return false;
            }
            read_off_ += kHeader + load_le32(h);
            ++read_seq_;
        }
    }
    // The next frame may be in the following segment.
    auto it = std::find_if(segs_.begin(), segs_.end(),
                           [&](const Segment& s) { return s.first == read_first_; });
    if (it == segs_.end()) {
        close_reader();
        return false;
    }
    if (seq > it->last) {
        auto next = it + 1;
        if (next == segs_.end() || next->first != seq) {
            close_reader();
            return false;
        }
        close_reader();
        read_fd_ = ::open(next->path.c_str(), O_RDONLY | O_CLOEXEC);
        if (read_fd_ < 0) {
            return false;
        }
        read_first_ = next->first;
        read_off_ = 0;
    }
    unsigned char h[kHeader];
    if (!read_full(read_fd_, h, kHeader, read_off_)) {
        close_reader();
        return false;
    }
    const uint32_t len = load_le32(h);
    body.resize(len);
    if (load_le64(h + 8) != seq || !read_full(read_fd_, body.data(), len, read_off_ + kHeader)) {
        close_reader();
        return false;
    }
    read_off_ += kHeader + len;
    read_seq_ = seq + 1;
    return true;
}

void Spool::ack(uint64_t seq) {
    std::lock_guard lk(mu_);
    acked_ = std::max(acked_, std::min(seq, last_seq_));
    while (segs_.size() > 1 && segs_.front().last <= acked_) {
        const Segment& s = segs_.front();
        if (read_fd_ >= 0 && read_first_ == s.first) {
            close_reader();
        }
        ::unlink(s.path.c_str());
        total_bytes_ -= s.bytes;
        segs_.pop_front();
    }
}

uint64_t Spool::first_seq() const {
    std::lock_guard lk(mu_);
    return first_present();
}

uint64_t Spool::first_present() const {
    for (const auto& s : segs_) {
        if (s.last >= s.first) {
            return s.first;
        }
    }
    return 0;
}

uint64_t Spool::last_seq() const {
    std::lock_guard lk(mu_);
    return last_seq_;
}

std::string Spool::last_error() const {
    std::lock_guard lk(mu_);
    return error_;
}

SpoolStats Spool::stats() const {
    std::lock_guard lk(mu_);
    SpoolStats s;
    s.first_seq = first_present();
    s.last_seq = last_seq_;
    s.acked_seq = acked_;
    if (s.first_seq != 0) {
        const uint64_t from = std::max(s.first_seq, acked_ + 1);
        s.backlog = last_seq_ >= from ? last_seq_ - from + 1 : 0;
    }
    s.bytes = total_bytes_;
    s.dropped = dropped_;
    s.recovered_torn = torn_;
    return s;
}

}  // namespace vigil::sensor
