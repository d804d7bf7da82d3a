#pragma once
// PcapFileSource: replays a pcap or pcapng file through libpcap's offline reader, and
// expand_pcap_paths() turns command-line arguments (files, directories) into the file list.

#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "dataplane/packet_source.h"

struct pcap;  // pcap_t, kept out of this header so users do not need <pcap.h>

namespace vigil::dataplane {

// Each argument is a file or a directory; a directory expands to its *.pcap, *.pcapng and
// *.cap files (not recursive), sorted by name. Errors (BadInput): no arguments, a missing
// path, a directory without capture files.
Result<std::vector<std::string>> expand_pcap_paths(const std::vector<std::string>& args);

// Maps a pcap DLT value (as pcap_datalink() reports it) to the link types decode() handles.
// False when the link type is not supported.
bool link_type_from_dlt(int dlt, LinkType& out);

class PcapFileSource final : public PacketSource {
public:
    // Errors (BadInput, message names the file): missing or unreadable file, not a pcap or
    // pcapng file, unsupported link type (named with its number).
    static Result<PacketSourcePtr> open(const std::string& path);

    ~PcapFileSource() override;
    PcapFileSource(const PcapFileSource&) = delete;
    PcapFileSource& operator=(const PcapFileSource&) = delete;

    // Copies each frame into a per-source arena (libpcap reuses its buffer on every read):
    // frames stay valid until the next call. Allocates only while the arena grows.
    size_t next_burst(std::span<RawFrame> out) override;
    bool at_end() const override { return at_end_; }
    const std::string& error() const override { return error_; }
    std::string name() const override { return path_; }
    uint64_t bytes_read() const override;
    uint64_t bytes_total() const override { return file_size_; }

    LinkType link_type() const { return link_; }
    uint64_t frames_read() const { return frames_read_; }

private:
    struct PcapCloser {
        void operator()(pcap* p) const;
    };

    PcapFileSource(std::string path, std::unique_ptr<pcap, PcapCloser> handle, LinkType link,
                   bool pcapng, uint64_t file_size);
    // Offset in the file where the next record starts.
    uint64_t record_offset() const;

    std::string path_;
    std::unique_ptr<pcap, PcapCloser> pcap_;
    FILE* file_ = nullptr;  // libpcap's stream (pcap_file), for ftell; owned by pcap_
    LinkType link_;
    bool pcapng_;
    uint64_t file_size_;
    uint64_t next_offset_;  // computed for classic pcap: 24 + sum(16 + caplen)
    uint64_t frames_read_ = 0;
    bool at_end_ = false;
    std::string error_;
    std::vector<uint8_t> arena_;   // this burst's frame bytes
    std::vector<size_t> offsets_;  // frame start offsets in arena_ (it may move while filling)
};

}  // namespace vigil::dataplane
