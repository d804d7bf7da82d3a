#include "dataplane/pcap_source.h"

#include <pcap/pcap.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

namespace vigil::dataplane {
namespace {

constexpr uint64_t kPcapFileHeaderLen = 24;
constexpr uint64_t kPcapRecordHeaderLen = 16;
constexpr uint32_t kPcapngShbType = 0x0A0D0D0A;  // palindromic: same in both byte orders
constexpr size_t kInitialArenaBytes = size_t{256} * 1024;

// LINKTYPE_RAW (101) is what files store for raw IP; libpcap reports it as DLT_RAW, which is
// 12 on most systems and 14 on some BSDs.
constexpr int kDltRaw12 = 12;
constexpr int kDltRaw14 = 14;
constexpr int kLinktypeRaw = 101;

bool has_capture_extension(const std::filesystem::path& p) {
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return ext == ".pcap" || ext == ".pcapng" || ext == ".cap";
}

// Reads the first 4 bytes: pcapng starts with a Section Header Block.
bool file_is_pcapng(const std::string& path) {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) {
        return false;
    }
    uint32_t magic = 0;
    const size_t n = std::fread(&magic, 1, sizeof(magic), f);
    std::fclose(f);
    return n == sizeof(magic) && magic == kPcapngShbType;
}

}  // namespace

bool link_type_from_dlt(int dlt, LinkType& out) {
    switch (dlt) {
        case DLT_NULL:
            out = LinkType::Null;
            return true;
        case DLT_EN10MB:
            out = LinkType::Ethernet;
            return true;
        case DLT_LOOP:
            out = LinkType::Loop;
            return true;
        case DLT_LINUX_SLL:
            out = LinkType::LinuxSll;
            return true;
        case DLT_LINUX_SLL2:
            out = LinkType::LinuxSll2;
            return true;
        case DLT_IPV4:
            out = LinkType::Ipv4;
            return true;
        case DLT_PPP:
            out = LinkType::Ppp;
            return true;
        case DLT_PPP_SERIAL:
            out = LinkType::PppHdlc;
            return true;
        case DLT_C_HDLC:
            out = LinkType::CHdlc;
            return true;
        case DLT_IPV6:
            out = LinkType::Ipv6;
            return true;
        default:
            break;
    }
    // Outside the switch: on OpenBSD DLT_LOOP is 12, which would collide with a case label.
    if (dlt == DLT_RAW || dlt == kDltRaw12 || dlt == kDltRaw14 || dlt == kLinktypeRaw) {
        out = LinkType::Raw;
        return true;
    }
    return false;
}

Result<std::vector<std::string>> expand_pcap_paths(const std::vector<std::string>& args) {
    namespace fs = std::filesystem;
    if (args.empty()) {
        return make_error(ErrorCode::BadInput, "no pcap file or directory given");
    }
    std::vector<std::string> out;
    for (const std::string& arg : args) {
        std::error_code ec;
        const fs::file_status st = fs::status(arg, ec);
        if (ec || !fs::exists(st)) {
            return make_error(ErrorCode::BadInput, arg + ": no such file or directory");
        }
        if (!fs::is_directory(st)) {
            out.push_back(arg);
            continue;
        }
        std::vector<std::string> found;
        fs::directory_iterator it(arg, ec);
        const fs::directory_iterator end;
        while (!ec && it != end) {
            const fs::directory_entry& entry = *it;
            std::error_code fec;
            if (entry.is_regular_file(fec) && has_capture_extension(entry.path())) {
                found.push_back(entry.path().string());
            }
            it.increment(ec);
        }
        if (ec) {
            return make_error(ErrorCode::BadInput,
                              arg + ": cannot list directory: " + ec.message());
        }
        if (found.empty()) {
            return make_error(ErrorCode::BadInput,
                              arg + ": directory has no .pcap, .pcapng or .cap files");
        }
        std::sort(found.begin(), found.end());
        out.insert(out.end(), found.begin(), found.end());
    }
    return out;
}

void PcapFileSource::PcapCloser::operator()(pcap* p) const {
    pcap_close(p);
}

PcapFileSource::PcapFileSource(std::string path, std::unique_ptr<pcap, PcapCloser> handle,
                               LinkType link, bool pcapng, uint64_t file_size)
    : path_(std::move(path)),
      pcap_(std::move(handle)),
      file_(pcap_file(pcap_.get())),
      link_(link),
      pcapng_(pcapng),
      file_size_(file_size),
      next_offset_(kPcapFileHeaderLen) {
    arena_.reserve(kInitialArenaBytes);
}

PcapFileSource::~PcapFileSource() = default;

Result<PacketSourcePtr> PcapFileSource::open(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        return make_error(ErrorCode::BadInput, path + ": " + std::strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) {
        return make_error(ErrorCode::BadInput, path + ": is a directory, not a pcap file");
    }
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    pcap_t* raw =
        pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_MICRO, errbuf);
    if (raw == nullptr) {
        return make_error(ErrorCode::BadInput,
                          path + ": not a readable pcap or pcapng file (" + errbuf + ")");
    }
    std::unique_ptr<pcap, PcapCloser> handle(raw);
    const int dlt = pcap_datalink(raw);
    LinkType link = LinkType::Ethernet;
    if (!link_type_from_dlt(dlt, link)) {
        const char* dlt_name = pcap_datalink_val_to_name(dlt);
        return make_error(ErrorCode::BadInput,
                          path + ": unsupported link type " + std::to_string(dlt) + " (" +
                              (dlt_name != nullptr ? dlt_name : "unknown") + ")");
    }
    return PacketSourcePtr(new PcapFileSource(path, std::move(handle), link, file_is_pcapng(path),
                                              static_cast<uint64_t>(st.st_size)));
}

uint64_t PcapFileSource::record_offset() const {
    // ftell on libpcap's stream is exact for both formats (it also accounts for records longer
    // than the snaplen, whose tail libpcap skips). The offset computed from the record headers
    // is the fallback for classic pcap; pcapng blocks vary too much to recompute here.
    if (file_ != nullptr) {
        const long pos = std::ftell(file_);
        if (pos >= 0) {
            return static_cast<uint64_t>(pos);
        }
    }
    return pcapng_ ? 0 : next_offset_;
}

uint64_t PcapFileSource::bytes_read() const {
    if (at_end_ && error_.empty()) {
        return file_size_;
    }
    return record_offset();
}

size_t PcapFileSource::next_burst(std::span<RawFrame> out) {
    if (at_end_ || out.empty()) {
        return 0;
    }
    if (offsets_.size() < out.size()) {
        offsets_.resize(out.size());
    }
    arena_.clear();  // the previous burst's frames are released here, as documented
    size_t n = 0;
    while (n < out.size()) {
        const uint64_t offset = record_offset();
        pcap_pkthdr* hdr = nullptr;
        const u_char* data = nullptr;
        const int rc = pcap_next_ex(pcap_.get(), &hdr, &data);
        if (rc == 1) {
            offsets_[n] = arena_.size();
            arena_.insert(arena_.end(), data, data + hdr->caplen);
            RawFrame& f = out[n];
            f.cap_len = hdr->caplen;
            f.wire_len = hdr->len;
            f.ts_sec = hdr->ts.tv_sec;
            f.ts_usec = static_cast<uint32_t>(hdr->ts.tv_usec);
            f.link = link_;
            next_offset_ += kPcapRecordHeaderLen + hdr->caplen;
            ++frames_read_;
            ++n;
            continue;
        }
        if (rc == PCAP_ERROR_BREAK) {
            at_end_ = true;  // clean end of file
            break;
        }
        if (rc == 0) {
            break;  // live-capture timeout; never happens for files, but do not spin
        }
        at_end_ = true;
        error_ = path_ + ": " + pcap_geterr(pcap_.get()) + " at offset " + std::to_string(offset);
        break;
    }
    for (size_t i = 0; i < n; ++i) {
        out[i].data = arena_.data() + offsets_[i];
    }
    return n;
}

}  // namespace vigil::dataplane
