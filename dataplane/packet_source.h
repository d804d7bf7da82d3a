#pragma once
// PacketSource: where captured frames come from (pcap file now; DPDK ethdev and libpcap live
// later). Sources hand out frames in bursts; the frame bytes stay valid until the next call.

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "common/result.h"
#include "dataplane/packet.h"

namespace vigil::dataplane {

struct RawFrame {
    const uint8_t* data = nullptr;
    uint32_t cap_len = 0;
    uint32_t wire_len = 0;
    int64_t ts_sec = 0;
    uint32_t ts_usec = 0;
    LinkType link = LinkType::Ethernet;
};

// The Packet of a captured frame, ready for decode(): its bytes, lengths, capture time and
// position in the input.
inline Packet packet_from_frame(const RawFrame& f, uint64_t seq) {
    Packet p;
    p.data = f.data;
    p.link = f.link;
    p.cap_len = f.cap_len;
    p.wire_len = f.wire_len;
    p.ts_sec = f.ts_sec;
    p.ts_usec = f.ts_usec;
    p.seq = seq;
    return p;
}

class PacketSource {
public:
    virtual ~PacketSource() = default;

    // Fills up to out.size() frames. Returns the number filled; 0 means end of input (or, for
    // live sources, nothing right now: check at_end()). Frames stay valid until the next call.
    // A read error (truncated or corrupt file) ends the input: at_end() becomes true and
    // error() says what happened; frames returned before it are good.
    virtual size_t next_burst(std::span<RawFrame> out) = 0;
    virtual bool at_end() const = 0;
    // Empty when no error occurred. Otherwise: "<file>: <what> at offset <n>".
    virtual const std::string& error() const = 0;
    // Human name for progress and errors (file name, port name).
    virtual std::string name() const = 0;
    // Bytes consumed so far and total (0 when unknown): progress display.
    virtual uint64_t bytes_read() const = 0;
    virtual uint64_t bytes_total() const = 0;
    // True when frames stay valid for the source's whole life (not just until the next
    // call), so consumers may keep pointers instead of copying (mmap'd files).
    virtual bool frames_stable() const { return false; }
};
using PacketSourcePtr = std::unique_ptr<PacketSource>;

}  // namespace vigil::dataplane
