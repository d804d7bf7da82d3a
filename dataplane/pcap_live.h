#pragma once
// Live capture through libpcap (capture.method: pcap), for machines without a DPDK NIC.
// Each worker gets its own handle on the interface; with several workers the handles join a
// PACKET_FANOUT group hashed by flow with kernel defragmentation, so both directions of a
// flow and all fragments of a datagram reach one worker. Inline pairs send the frames a
// worker allows on a raw socket bound to the peer interface.

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "dataplane/capture_queue.h"

namespace vigil::dataplane {

struct PcapLiveSetup {
    std::string iface;
    std::string peer;  // inline: forward allowed frames to this interface ("" = IDS)
    uint16_t queues = 1;
    uint32_t snaplen = 65535;
    bool promiscuous = true;
    uint32_t buffer_mb = 64;        // kernel ring per handle
    uint32_t overload_bursts = 64;  // full bursts in a row that count as backlogged
};

// Opens `queues` handles on setup.iface (non-blocking, immediate mode). Errors name the
// interface and what libpcap said (no such device, permission).
Result<std::vector<CaptureQueuePtr>> open_pcap_live(const PcapLiveSetup& setup);

}  // namespace vigil::dataplane
