#pragma once
// CaptureQueue: one worker's share of a live capture port (a DPDK RX queue, or a libpcap
// handle in a fanout group). The worker owns it exclusively: receive a burst, decide, then
// release it, which forwards the allowed frames to the peer port when the port is inline.
// Nothing here allocates or makes a system call per packet.

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "dataplane/packet_source.h"

namespace vigil::dataplane {

constexpr size_t kCaptureBurst = 32;

// Written by the owning worker only, read by the control thread.
struct CaptureQueueCounters {
    std::atomic<uint64_t> rx_packets{0};
    std::atomic<uint64_t> rx_bytes{0};
    std::atomic<uint64_t> truncated{0};  // frames longer than one buffer: only the first is seen
    std::atomic<uint64_t> forwarded{0};  // inline: sent on the peer port
    std::atomic<uint64_t> tx_failed{0};  // inline: the peer port refused them (queue full)
    std::atomic<uint64_t> dropped{0};    // inline: not forwarded (verdict or overload policy)
    std::atomic<uint64_t> rejects{0};    // inline: TCP resets / ICMP unreachables sent back
    std::atomic<uint64_t> missed{0};     // lost before we saw them, where the queue knows
                                         // (libpcap: the kernel's drop count)

    // Single writer: a relaxed load + store is enough and avoids a locked instruction.
    static void add(std::atomic<uint64_t>& c, uint64_t n) {
        c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
};

class CaptureQueue {
public:
    virtual ~CaptureQueue() = default;

    // Up to out.size() (<= kCaptureBurst) frames; 0 when nothing is waiting. Frames stay valid
    // until release(). Timestamps are the capture time (wall clock).
    virtual size_t receive(std::span<RawFrame> out) = 0;
    // Ends the burst of the last receive(): frame i is forwarded to the peer port when the
    // queue is inline and drop[i] is 0, else freed. drop.size() is what receive() returned.
    virtual void release(std::span<const uint8_t> drop) = 0;
    // True when the queue holds more than its overload watermark (the worker is behind).
    virtual bool backlogged() = 0;
    // Blocks up to timeout_ms for traffic when the source supports it (libpcap); returns
    // false at once when it does not (DPDK polls).
    virtual bool wait(int timeout_ms) {
        (void)timeout_ms;
        return false;
    }
    virtual bool can_wait() const { return false; }
    // Sends a frame back out of the port this queue receives on (a reject's answer to the
    // sender). False when the queue cannot send (not inline, no buffer, TX full).
    virtual bool send_back(std::span<const uint8_t> frame) {
        (void)frame;
        return false;
    }
    // Refreshes counters that must be read from the source (libpcap's kernel drops); the
    // worker calls it about once a second.
    virtual void refresh() {}
    virtual bool is_inline() const = 0;
    // "net_pcap0 q1", "eth0 -> eth1"
    virtual std::string name() const = 0;

    // Read by the control thread about once a second (virtual: a wrapping queue reports the
    // counters of the queue it wraps).
    virtual const CaptureQueueCounters& counters() const { return counters_; }

protected:
    CaptureQueueCounters counters_;
};
using CaptureQueuePtr = std::unique_ptr<CaptureQueue>;

}  // namespace vigil::dataplane
