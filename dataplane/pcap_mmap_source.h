#pragma once
// MmapPcapSource: classic pcap files read through mmap, zero copy: frames point into the
// mapping and stay valid for the source's whole life (frames_stable()), so the replay path
// never copies packet bytes. open_pcap_file() picks it for classic pcap and falls back to
// libpcap (PcapFileSource) for pcapng.

#include <cstdint>
#include <string>

#include "common/result.h"
#include "dataplane/packet_source.h"

namespace vigil::dataplane {

class MmapPcapSource final : public PacketSource {
public:
    // Errors (BadInput): unreadable file, not classic pcap, unsupported link type.
    static Result<PacketSourcePtr> open(const std::string& path);
    ~MmapPcapSource() override;
    MmapPcapSource(const MmapPcapSource&) = delete;
    MmapPcapSource& operator=(const MmapPcapSource&) = delete;

    size_t next_burst(std::span<RawFrame> out) override;
    bool at_end() const override { return at_end_; }
    const std::string& error() const override { return error_; }
    std::string name() const override { return path_; }
    uint64_t bytes_read() const override { return pos_; }
    uint64_t bytes_total() const override { return size_; }
    bool frames_stable() const override { return true; }

private:
    MmapPcapSource() = default;
    uint32_t u32(const uint8_t* p) const;

    std::string path_;
    const uint8_t* base_ = nullptr;
    uint64_t size_ = 0;
    uint64_t pos_ = 0;
    bool swapped_ = false;
    bool nanos_ = false;
    LinkType link_ = LinkType::Ethernet;
    bool at_end_ = false;
    std::string error_;
};

// A classic pcap file through mmap, anything else (pcapng) through libpcap.
Result<PacketSourcePtr> open_pcap_file(const std::string& path);

}  // namespace vigil::dataplane
