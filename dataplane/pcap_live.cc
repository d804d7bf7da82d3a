#include "dataplane/pcap_live.h"

#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "dataplane/pcap_source.h"

namespace vigil::dataplane {

namespace {

class PcapLiveQueue final : public CaptureQueue {
public:
    PcapLiveQueue(pcap_t* h, LinkType link, int tx_fd, int back_fd, std::string name,
                  uint32_t snaplen, uint32_t overload_bursts)
        : back_fd_(back_fd),
          h_(h),
          link_(link),
          fd_(pcap_get_selectable_fd(h)),
          tx_fd_(tx_fd),
          name_(std::move(name)),
          snaplen_(snaplen),
          overload_bursts_(overload_bursts),
          buf_(static_cast<size_t>(snaplen) * kCaptureBurst) {}

    ~PcapLiveQueue() override {
        pcap_close(h_);
        if (tx_fd_ >= 0) {
            ::close(tx_fd_);
        }
        if (back_fd_ >= 0) {
            ::close(back_fd_);
        }
    }

    bool send_back(std::span<const uint8_t> frame) override {
        if (back_fd_ < 0 || ::send(back_fd_, frame.data(), frame.size(), MSG_DONTWAIT) !=
                                static_cast<ssize_t>(frame.size())) {
            return false;
        }
        CaptureQueueCounters::add(counters_.rejects, 1);
        return true;
    }

    // libpcap's frame is valid only until its next call: a burst is copied into buf_.
    size_t receive(std::span<RawFrame> out) override {
        const size_t want = std::min(out.size(), kCaptureBurst);
        n_ = 0;
        uint64_t bytes = 0;
        while (n_ < want) {
            pcap_pkthdr* hdr = nullptr;
            const u_char* data = nullptr;
            const int rc = pcap_next_ex(h_, &hdr, &data);
            if (rc != 1) {
                break;  // 0: nothing waiting (non-blocking); <0: error, reported by refresh
            }
            const uint32_t len = std::min(hdr->caplen, snaplen_);
            uint8_t* dst = buf_.data() + n_ * snaplen_;
            std::memcpy(dst, data, len);
            frame_len_[n_] = len;
            RawFrame& f = out[n_];
            f.data = dst;
            f.cap_len = len;
            f.wire_len = hdr->len;
            f.ts_sec = hdr->ts.tv_sec;
            f.ts_usec = static_cast<uint32_t>(hdr->ts.tv_usec);
            f.link = link_;
            bytes += hdr->len;
            ++n_;
        }
        streak_ = n_ == want ? streak_ + 1 : 0;
        if (n_ > 0) {
            CaptureQueueCounters::add(counters_.rx_packets, n_);
            CaptureQueueCounters::add(counters_.rx_bytes, bytes);
        }
        return n_;
    }

    void release(std::span<const uint8_t> drop) override {
        if (tx_fd_ < 0) {
            n_ = 0;
            return;
        }
        uint64_t sent = 0;
        uint64_t failed = 0;
        uint64_t dropped = 0;
        for (size_t i = 0; i < n_; ++i) {
            if (i < drop.size() && drop[i] != 0) {
                ++dropped;
                continue;
            }
            const uint8_t* p = buf_.data() + i * snaplen_;
            const auto len = static_cast<size_t>(std::min(frame_len_[i], snaplen_));
            if (::send(tx_fd_, p, len, MSG_DONTWAIT) == static_cast<ssize_t>(len)) {
                ++sent;
            } else {
                ++failed;
            }
        }
        CaptureQueueCounters::add(counters_.forwarded, sent);
        CaptureQueueCounters::add(counters_.tx_failed, failed);
        CaptureQueueCounters::add(counters_.dropped, dropped);
        n_ = 0;
    }

    bool backlogged() override { return streak_ >= overload_bursts_; }

    bool wait(int timeout_ms) override {
        if (fd_ < 0) {
            return false;
        }
        pollfd p{fd_, POLLIN, 0};
        return ::poll(&p, 1, timeout_ms) > 0;
    }

    bool can_wait() const override { return fd_ >= 0; }

    void refresh() override {
        pcap_stat st{};
        if (pcap_stats(h_, &st) == 0) {
            // ps_drop counts since open: store, not add.
            counters_.missed.store(st.ps_drop, std::memory_order_relaxed);
        }
    }

    bool is_inline() const override { return tx_fd_ >= 0; }
    std::string name() const override { return name_; }

private:
    int back_fd_;  // inline: sends out of the receiving interface (reject answers)
    pcap_t* h_;
    LinkType link_;
    int fd_;
    int tx_fd_;
    std::string name_;
    uint32_t snaplen_;
    uint32_t overload_bursts_;
    uint32_t streak_ = 0;
    size_t n_ = 0;
    std::vector<uint8_t> buf_;
    std::array<uint32_t, kCaptureBurst> frame_len_{};  // bytes of each frame in buf_
};

// A socket that sends whole link-layer frames out of `iface` and receives nothing.
Result<int> open_tx_socket(const std::string& iface) {
    const unsigned idx = if_nametoindex(iface.c_str());
    if (idx == 0) {
        return make_error(ErrorCode::BadInput,
                          "capture.inline-pairs: no interface '" + iface + "'");
    }
    const int fd = ::socket(AF_PACKET, SOCK_RAW, 0);  // protocol 0: receives nothing
    if (fd < 0) {
        return make_error(ErrorCode::Io, "cannot open a packet socket to send on " + iface + ": " +
                                             std::strerror(errno) + " (needs CAP_NET_RAW)");
    }
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = static_cast<int>(idx);
    sll.sll_protocol = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof(sll)) != 0) {
        const std::string err = std::strerror(errno);
        ::close(fd);
        return make_error(ErrorCode::Io, "cannot bind a packet socket to " + iface + ": " + err);
    }
    return fd;
}

}  // namespace

Result<std::vector<CaptureQueuePtr>> open_pcap_live(const PcapLiveSetup& s) {
    std::vector<CaptureQueuePtr> out;
    // One fanout group per (process, interface).
    const int group = static_cast<int>(
        (static_cast<unsigned>(getpid()) * 31U + if_nametoindex(s.iface.c_str())) & 0xffffU);
    for (uint16_t q = 0; q < s.queues; ++q) {
        char err[PCAP_ERRBUF_SIZE] = {};
        pcap_t* h = pcap_create(s.iface.c_str(), err);
        if (h == nullptr) {
            return make_error(ErrorCode::BadInput, "capture.ports: " + s.iface + ": " + err);
        }
        pcap_set_snaplen(h, static_cast<int>(s.snaplen));
        pcap_set_promisc(h, s.promiscuous ? 1 : 0);
        pcap_set_immediate_mode(h, 1);
        pcap_set_buffer_size(h, static_cast<int>(s.buffer_mb) << 20);
        const int rc = pcap_activate(h);
        if (rc < 0) {
            std::string why = pcap_geterr(h);
            if (rc == PCAP_ERROR_NO_SUCH_DEVICE) {
                why = "no such interface";
            } else if (rc == PCAP_ERROR_PERM_DENIED) {
                why = "permission denied (needs root or CAP_NET_RAW): " + why;
            }
            pcap_close(h);
            return make_error(ErrorCode::BadInput, "capture.ports: " + s.iface + ": " + why);
        }
        if (!s.peer.empty()) {
            // Inline: what we send out of the peer must not come back in through its handle.
            pcap_setdirection(h, PCAP_D_IN);
        }
        if (pcap_setnonblock(h, 1, err) != 0) {
            pcap_close(h);
            return make_error(ErrorCode::Io, s.iface + ": cannot set non-blocking: " + err);
        }
        LinkType link = LinkType::Ethernet;
        if (!link_type_from_dlt(pcap_datalink(h), link)) {
            const int dlt = pcap_datalink(h);
            pcap_close(h);
            return make_error(
                ErrorCode::BadInput,
                "capture.ports: " + s.iface + ": unsupported link type " + std::to_string(dlt));
        }
        if (s.queues > 1) {
            const int fd = pcap_get_selectable_fd(h);
            const int arg = group | ((PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG) << 16);
            if (::setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) != 0) {
                const std::string why = std::strerror(errno);
                pcap_close(h);
                return make_error(ErrorCode::Io, s.iface +
                                                     ": cannot join a PACKET_FANOUT "
                                                     "group for " +
                                                     std::to_string(s.queues) + " workers: " + why);
            }
        }
        int tx_fd = -1;
        int back_fd = -1;
        if (!s.peer.empty()) {
            auto fd = open_tx_socket(s.peer);
            if (!fd) {
                pcap_close(h);
                return fd.error();
            }
            tx_fd = *fd;
            auto bfd = open_tx_socket(s.iface);
            if (!bfd) {
                pcap_close(h);
                ::close(tx_fd);
                return bfd.error();
            }
            back_fd = *bfd;
        }
        std::string name = s.iface + " q" + std::to_string(q);
        if (!s.peer.empty()) {
            name += " -> " + s.peer;
        }
        out.push_back(std::make_unique<PcapLiveQueue>(h, link, tx_fd, back_fd, std::move(name),
                                                      s.snaplen, s.overload_bursts));
    }
    return out;
}

}  // namespace vigil::dataplane
