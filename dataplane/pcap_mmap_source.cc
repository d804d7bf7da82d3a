#include "dataplane/pcap_mmap_source.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "dataplane/pcap_source.h"

namespace vigil::dataplane {

namespace {

constexpr uint32_t kMagicUsec = 0xa1b2c3d4;
constexpr uint32_t kMagicNsec = 0xa1b23c4d;
constexpr uint64_t kFileHeaderLen = 24;
constexpr uint64_t kRecordHeaderLen = 16;
// libpcap refuses records larger than this (its maximum snapshot length).
constexpr uint32_t kMaxRecord = 262144;

uint32_t bswap(uint32_t v) {
    return __builtin_bswap32(v);
}

// LINKTYPE_* values as stored in a pcap file header.
bool link_from_linktype(uint32_t lt, LinkType& out) {
    switch (lt) {
        case 0:
            out = LinkType::Null;
            return true;
        case 1:
            out = LinkType::Ethernet;
            return true;
        case 9:
            out = LinkType::Ppp;
            return true;
        case 50:
            out = LinkType::PppHdlc;
            return true;
        case 104:
            out = LinkType::CHdlc;
            return true;
        case 12:
        case 14:
        case 101:
            out = LinkType::Raw;
            return true;
        case 108:
            out = LinkType::Loop;
            return true;
        case 113:
            out = LinkType::LinuxSll;
            return true;
        case 228:
            out = LinkType::Ipv4;
            return true;
        case 229:
            out = LinkType::Ipv6;
            return true;
        case 276:
            out = LinkType::LinuxSll2;
            return true;
        default:
            return false;
    }
}

// Classic pcap magic in either byte order.
bool is_classic_pcap(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    uint32_t magic = 0;
    const bool ok = ::read(fd, &magic, sizeof(magic)) == sizeof(magic);
    ::close(fd);
    return ok && (magic == kMagicUsec || magic == kMagicNsec || bswap(magic) == kMagicUsec ||
                  bswap(magic) == kMagicNsec);
}

}  // namespace

uint32_t MmapPcapSource::u32(const uint8_t* p) const {
    uint32_t v = 0;
    std::memcpy(&v, p, 4);
    return swapped_ ? bswap(v) : v;
}

MmapPcapSource::~MmapPcapSource() {
    if (base_ != nullptr) {
        ::munmap(const_cast<uint8_t*>(base_), size_);
    }
}

Result<PacketSourcePtr> MmapPcapSource::open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return make_error(ErrorCode::BadInput, path + ": " + std::strerror(errno));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return make_error(ErrorCode::BadInput, path + ": not a regular file");
    }
    const auto size = static_cast<uint64_t>(st.st_size);
    if (size < kFileHeaderLen) {
        ::close(fd);
        return make_error(ErrorCode::BadInput,
                          path + ": not a pcap file (shorter than a pcap file header)");
    }
    void* m = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (m == MAP_FAILED) {
        return make_error(ErrorCode::BadInput, path + ": mmap: " + std::strerror(errno));
    }
    ::madvise(m, size, MADV_SEQUENTIAL);
    std::unique_ptr<MmapPcapSource> s(new MmapPcapSource());
    s->path_ = path;
    s->base_ = static_cast<const uint8_t*>(m);
    s->size_ = size;
    uint32_t magic = 0;
    std::memcpy(&magic, s->base_, 4);
    if (magic == kMagicUsec || magic == kMagicNsec) {
        s->nanos_ = magic == kMagicNsec;
    } else if (bswap(magic) == kMagicUsec || bswap(magic) == kMagicNsec) {
        s->swapped_ = true;
        s->nanos_ = bswap(magic) == kMagicNsec;
    } else {
        return make_error(ErrorCode::BadInput, path + ": not a classic pcap file");
    }
    const uint32_t linktype = s->u32(s->base_ + 20) & 0x03ffffff;  // upper bits: FCS info
    if (!link_from_linktype(linktype, s->link_)) {
        return make_error(ErrorCode::BadInput,
                          path + ": unsupported link type " + std::to_string(linktype));
    }
    s->pos_ = kFileHeaderLen;
    return PacketSourcePtr(std::move(s));
}

size_t MmapPcapSource::next_burst(std::span<RawFrame> out) {
    size_t n = 0;
    while (n < out.size() && !at_end_) {
        if (pos_ == size_) {
            at_end_ = true;
            break;
        }
        if (size_ - pos_ < kRecordHeaderLen) {
            at_end_ = true;
            error_ = path_ + ": truncated dump file; record header cut short at offset " +
                     std::to_string(pos_);
            break;
        }
        const uint8_t* h = base_ + pos_;
        const uint32_t caplen = u32(h + 8);
        if (caplen > kMaxRecord) {
            at_end_ = true;
            error_ = path_ + ": invalid packet capture length " + std::to_string(caplen) +
                     " at offset " + std::to_string(pos_);
            break;
        }
        if (size_ - pos_ - kRecordHeaderLen < caplen) {
            at_end_ = true;
            error_ = path_ + ": truncated dump file; tried to read " + std::to_string(caplen) +
                     " captured bytes, only got " +
                     std::to_string(size_ - pos_ - kRecordHeaderLen) + " at offset " +
                     std::to_string(pos_);
            break;
        }
        RawFrame& f = out[n++];
        f.data = h + kRecordHeaderLen;
        f.cap_len = caplen;
        f.wire_len = u32(h + 12);
        f.ts_sec = u32(h);
        f.ts_usec = nanos_ ? u32(h + 4) / 1000 : u32(h + 4);
        f.link = link_;
        pos_ += kRecordHeaderLen + caplen;
    }
    return n;
}

Result<PacketSourcePtr> open_pcap_file(const std::string& path) {
    if (is_classic_pcap(path)) {
        return MmapPcapSource::open(path);
    }
    return PcapFileSource::open(path);
}

}  // namespace vigil::dataplane
