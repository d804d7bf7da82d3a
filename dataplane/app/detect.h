#pragma once
// Protocol detection by content: runs the probes of the protocol table (parser.h) over the
// first bytes of each direction of a flow (ports only break ties) and buffers them until a
// decision, so that the chosen parser can be given the stream from its start. Internal to
// dataplane/app.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "dataplane/app/parser.h"

namespace vigil::dataplane::app {

// For probes: Match when `s` starts with `prefix`, NeedMore when `s` is a shorter prefix of
// it, else NoMatch.
ProbeResult probe_prefix(std::string_view s, std::string_view prefix, bool nocase = false);

// The first bytes of one direction of a TCP stream (`server_port`: the responder's port).
// `limit`: the most bytes that will ever be given, so a probe that needs more gives up.
Probe probe_tcp(bool to_server, const uint8_t* data, size_t len, uint16_t server_port,
                size_t limit);
// One UDP datagram.
Probe probe_udp(const uint8_t* data, size_t len);

// One UDP datagram on its own: the protocol it looks like, else Unknown. UDP detection needs
// no per-flow state (the flow's packet counters say when to give up).
AppProto detect_udp_datagram(const uint8_t* data, size_t len);

// Per-flow detection state (lives in the flow's AppSession while undecided).
class ProtoDetector {
public:
    // New in-order bytes of one TCP direction. Returns the protocol once decided, Failed when
    // nothing can match any more, Unknown while undecided. `buffered` is set to how many of
    // the bytes were kept (the rest must be given to the parser after the buffers).
    AppProto add_tcp(FlowDir dir, const uint8_t* data, size_t len, uint16_t server_port,
                     uint32_t limit, size_t& buffered);
    // One UDP datagram.
    AppProto add_udp(FlowDir dir, const uint8_t* data, size_t len);
    // The direction lost bytes or ended: it cannot be probed any further.
    AppProto end_dir(FlowDir dir, uint32_t limit);

    const std::vector<uint8_t>& buffered(FlowDir dir) const {
        return dirs_[static_cast<size_t>(dir)].buf;
    }
    void release();  // frees the buffers once decided

private:
    struct Dir {
        std::vector<uint8_t> buf;
        uint64_t seen = 0;
        bool done = false;  // no match possible in this direction
    };
    AppProto decide(uint32_t limit) const;

    std::array<Dir, 2> dirs_;
    uint16_t server_port_ = 0;
    uint8_t udp_datagrams_ = 0;
};

}  // namespace vigil::dataplane::app
