#pragma once
// Protocol detection by content: probes the first bytes of each direction of a flow for the
// protocols we know (ports only break ties) and buffers them until a decision, so that the
// chosen parser can be given the stream from its start. Internal to dataplane/app.

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "dataplane/app/buffers.h"
#include "dataplane/packet.h"

namespace vigil::dataplane::app {

enum class ProbeResult : uint8_t { NeedMore, NoMatch, Match };

struct Probe {
    ProbeResult result = ProbeResult::NoMatch;
    AppProto proto = AppProto::Unknown;
    bool banner_220 = false;  // server greeting "220": SMTP or FTP, not decided by itself
};

// The first bytes of one direction of a TCP stream (`server_port`: the responder's port).
// `limit`: the most bytes that will ever be given, so a probe that needs more gives up.
Probe probe_tcp(bool to_server, const uint8_t* data, size_t len, uint16_t server_port,
                size_t limit);
// One UDP datagram.
Probe probe_udp(const uint8_t* data, size_t len);

// Per-flow detection state (lives in the flow's AppSession while undecided).
// One UDP datagram on its own: Dns when it looks like DNS, else Unknown. UDP detection needs
// no per-flow state (the flow's packet counters say when to give up).
AppProto detect_udp_datagram(const uint8_t* data, size_t len);

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
