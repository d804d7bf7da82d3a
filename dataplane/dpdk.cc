#include "dataplane/dpdk.h"

#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mempool.h>
#include <rte_prefetch.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>

namespace vigil::dataplane::dpdk {

namespace {

bool g_eal_ready = false;
std::vector<std::function<void()>> g_launched;
std::vector<unsigned> g_launched_lcores;

// Symmetric RSS (Woo and Park): with the 16-bit pattern 0x6d5a repeated, the Toeplitz hash of
// (a, b) equals that of (b, a), so both directions of a flow reach the same queue.
std::vector<uint8_t> symmetric_key(size_t len) {
    std::vector<uint8_t> k(len);
    for (size_t i = 0; i < len; ++i) {
        k[i] = (i % 2 == 0) ? 0x6d : 0x5a;
    }
    return k;
}

bool hugepages_reserved() {
    std::ifstream in("/proc/meminfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("HugePages_Total:", 0) == 0) {
            return std::stoul(line.substr(16)) > 0;
        }
    }
    return false;
}

std::string err_text(int err) {
    return std::string(rte_strerror(err < 0 ? -err : err));
}

std::string available_ports() {
    std::string list;
    uint16_t pid = 0;
    RTE_ETH_FOREACH_DEV(pid) {
        char name[RTE_ETH_NAME_MAX_LEN];
        if (rte_eth_dev_get_name_by_port(pid, name) == 0) {
            list += list.empty() ? "" : ", ";
            list += name;
        }
    }
    return list.empty() ? "none" : list;
}

int lcore_tramp(void* arg) {
    (*static_cast<std::function<void()>*>(arg))();
    return 0;
}

class DpdkQueue final : public CaptureQueue {
public:
    DpdkQueue(uint16_t port, uint16_t q, int peer, std::string name, bool fill_known,
              uint32_t watermark, uint32_t overload_bursts, bool file_time, rte_mempool* pool)
        : pool_(pool),
          port_(port),
          q_(q),
          peer_(peer),
          name_(std::move(name)),
          fill_known_(fill_known),
          watermark_(watermark),
          overload_bursts_(overload_bursts) {
        if (file_time) {
            // net_pcap stores each record's pcap time (microseconds) in the RX timestamp field.
            if (rte_mbuf_dyn_rx_timestamp_register(&ts_offset_, &ts_flag_) != 0) {
                ts_offset_ = -1;
            }
        }
    }

    ~DpdkQueue() override {
        if (n_ > 0) {
            rte_pktmbuf_free_bulk(bufs_.data(), n_);
        }
    }

    size_t receive(std::span<RawFrame> out) override {
        const auto want = static_cast<uint16_t>(std::min(out.size(), kCaptureBurst));
        n_ = rte_eth_rx_burst(port_, q_, bufs_.data(), want);
        if (n_ == 0) {
            streak_ = 0;
            return 0;
        }
        streak_ = n_ == want ? streak_ + 1 : 0;
        timespec ts{};
        clock_gettime(CLOCK_REALTIME, &ts);  // vDSO, once per burst
        uint64_t bytes = 0;
        uint64_t trunc = 0;
        for (uint16_t i = 0; i < n_; ++i) {
            if (i + 1 < n_) {
                rte_prefetch0(rte_pktmbuf_mtod(bufs_[i + 1], void*));
            }
            const rte_mbuf* m = bufs_[i];
            RawFrame& f = out[i];
            f.data = rte_pktmbuf_mtod(m, const uint8_t*);
            f.cap_len = m->data_len;
            f.wire_len = m->pkt_len;
            if (ts_offset_ >= 0 && (m->ol_flags & ts_flag_) != 0) {
                const uint64_t us = *RTE_MBUF_DYNFIELD(m, ts_offset_, const rte_mbuf_timestamp_t*);
                f.ts_sec = static_cast<int64_t>(us / 1000000);
                f.ts_usec = static_cast<uint32_t>(us % 1000000);
            } else {
                f.ts_sec = ts.tv_sec;
                f.ts_usec = static_cast<uint32_t>(ts.tv_nsec / 1000);
            }
            f.link = LinkType::Ethernet;
            bytes += m->pkt_len;
            trunc += m->nb_segs > 1 ? 1 : 0;
        }
        CaptureQueueCounters::add(counters_.rx_packets, n_);
        CaptureQueueCounters::add(counters_.rx_bytes, bytes);
        if (trunc != 0) {
            CaptureQueueCounters::add(counters_.truncated, trunc);
        }
        return n_;
    }

    void release(std::span<const uint8_t> drop) override {
        if (peer_ < 0) {
            rte_pktmbuf_free_bulk(bufs_.data(), n_);
            n_ = 0;
            return;
        }
        std::array<rte_mbuf*, kCaptureBurst> tx{};
        std::array<rte_mbuf*, kCaptureBurst> fr{};
        uint16_t k = 0;
        uint16_t d = 0;
        for (uint16_t i = 0; i < n_; ++i) {
            if (i < drop.size() && drop[i] != 0) {
                fr[d++] = bufs_[i];
            } else {
                tx[k++] = bufs_[i];
            }
        }
        uint16_t sent = 0;
        // A full TX ring drains as the NIC sends: retry a little before giving up.
        for (int attempt = 0; attempt < 4 && sent < k; ++attempt) {
            sent += rte_eth_tx_burst(static_cast<uint16_t>(peer_), q_, tx.data() + sent,
                                     static_cast<uint16_t>(k - sent));
        }
        if (sent < k) {
            rte_pktmbuf_free_bulk(tx.data() + sent, k - sent);
            CaptureQueueCounters::add(counters_.tx_failed, k - sent);
        }
        if (d > 0) {
            rte_pktmbuf_free_bulk(fr.data(), d);
            CaptureQueueCounters::add(counters_.dropped, d);
        }
        CaptureQueueCounters::add(counters_.forwarded, sent);
        n_ = 0;
    }

    bool send_back(std::span<const uint8_t> frame) override {
        if (peer_ < 0 || pool_ == nullptr) {
            return false;
        }
        rte_mbuf* m = rte_pktmbuf_alloc(pool_);
        if (m == nullptr) {
            return false;
        }
        char* dst = rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size()));
        if (dst == nullptr) {
            rte_pktmbuf_free(m);
            return false;
        }
        std::memcpy(dst, frame.data(), frame.size());
        if (rte_eth_tx_burst(port_, q_, &m, 1) != 1) {
            rte_pktmbuf_free(m);
            CaptureQueueCounters::add(counters_.tx_failed, 1);
            return false;
        }
        CaptureQueueCounters::add(counters_.rejects, 1);
        return true;
    }

    bool backlogged() override {
        if (fill_known_) {
            const int used = rte_eth_rx_queue_count(port_, q_);
            return used >= 0 && static_cast<uint32_t>(used) >= watermark_;
        }
        return streak_ >= overload_bursts_;
    }

    bool is_inline() const override { return peer_ >= 0; }
    std::string name() const override { return name_; }

private:
    rte_mempool* pool_;  // for frames the queue makes itself (reject answers)
    uint16_t port_;
    uint16_t q_;
    int peer_;
    std::string name_;
    bool fill_known_;
    uint32_t watermark_;
    uint32_t overload_bursts_;
    uint32_t streak_ = 0;  // full bursts in a row
    int ts_offset_ = -1;   // file time from the driver (net_pcap), else the wall clock
    uint64_t ts_flag_ = 0;
    uint16_t n_ = 0;
    std::array<rte_mbuf*, kCaptureBurst> bufs_{};
};

}  // namespace

Status init_eal(const std::vector<std::string>& args) {
    if (g_eal_ready) {
        return Ok();
    }
    const bool no_huge = std::find(args.begin(), args.end(), "--no-huge") != args.end();
    if (!no_huge && !hugepages_reserved()) {
        return make_error(ErrorCode::BadInput,
                          "capture.eal: no hugepages are reserved on this machine "
                          "(HugePages_Total is 0 in /proc/meminfo). Reserve them (docs/"
                          "operations.md, e.g. 'echo 1024 > /sys/kernel/mm/hugepages/"
                          "hugepages-2048kB/nr_hugepages') or, for tests only, add "
                          "\"--no-huge\", \"-m\", \"512\" to capture.eal");
    }
    std::vector<std::string> store;
    store.emplace_back("vigil-sensor");
    store.insert(store.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : store) {
        argv.push_back(s.data());
    }
    argv.push_back(nullptr);
    const int rc = rte_eal_init(static_cast<int>(store.size()), argv.data());
    if (rc < 0) {
        const int e = rte_errno;
        if (e == EALREADY) {
            g_eal_ready = true;
            return Ok();
        }
        std::string hint;
        switch (e) {
            case EACCES:
                hint =
                    " (permission denied: run as root or give the user access to hugepages "
                    "and /dev/vfio)";
                break;
            case ENOMEM:
                hint = " (not enough memory: more hugepages, or a larger -m)";
                break;
            case EINVAL:
                hint = " (an argument in capture.eal is wrong: see the EAL messages above)";
                break;
            case ENODEV:
                hint = " (a --vdev or device could not be probed: see the EAL messages above)";
                break;
            default:
                break;
        }
        return make_error(ErrorCode::BadInput,
                          "capture.eal: DPDK EAL initialisation failed: " + err_text(e) + hint);
    }
    g_eal_ready = true;
    return Ok();
}

bool eal_ready() {
    return g_eal_ready;
}

void cleanup_eal() {
    if (g_eal_ready) {
        // Devices probed but never used (or left by a failed start) hold driver resources
        // (net_pcap: pcap handles) that the EAL does not release by itself.
        uint16_t pid = 0;
        RTE_ETH_FOREACH_DEV(pid) {
            rte_eth_dev_close(pid);
        }
        rte_eal_cleanup();
        g_eal_ready = false;
    }
}

Status probe_device(const std::string& devargs) {
    if (!g_eal_ready) {
        return make_error(ErrorCode::Internal, "device probed before the EAL");
    }
    if (const int rc = rte_dev_probe(devargs.c_str()); rc != 0) {
        return make_error(ErrorCode::BadInput,
                          "cannot add device '" + devargs + "': " + err_text(rc));
    }
    return Ok();
}

unsigned worker_lcore_count() {
    return g_eal_ready ? rte_lcore_count() - 1 : 0;
}

Status launch_workers(std::vector<std::function<void()>> fns) {
    std::vector<unsigned> lcores;
    unsigned lc = 0;
    RTE_LCORE_FOREACH_WORKER(lc) {
        lcores.push_back(lc);
    }
    if (lcores.size() < fns.size()) {
        return make_error(ErrorCode::BadInput,
                          "capture.workers is " + std::to_string(fns.size()) + " but the EAL has " +
                              std::to_string(lcores.size()) +
                              " worker lcore(s): give one lcore per worker plus one for the "
                              "control thread, e.g. \"-l\", \"0-" +
                              std::to_string(fns.size()) + "\" in capture.eal (or --lcores to " +
                              "map several lcores onto fewer CPUs)");
    }
    g_launched = std::move(fns);
    g_launched_lcores.clear();
    for (size_t i = 0; i < g_launched.size(); ++i) {
        const int rc = rte_eal_remote_launch(lcore_tramp, &g_launched[i], lcores[i]);
        if (rc != 0) {
            wait_workers();
            return make_error(
                ErrorCode::Internal,
                "cannot launch worker on lcore " + std::to_string(lcores[i]) + ": " + err_text(rc));
        }
        g_launched_lcores.push_back(lcores[i]);
    }
    return Ok();
}

void wait_workers() {
    for (unsigned lc : g_launched_lcores) {
        rte_eal_wait_lcore(lc);
    }
    g_launched_lcores.clear();
}

Result<std::unique_ptr<PortSet>> PortSet::open(const std::vector<PortSetup>& ports,
                                               const std::vector<int>& peers) {
    if (!g_eal_ready) {
        return make_error(ErrorCode::Internal, "DPDK ports opened before the EAL");
    }
    std::unique_ptr<PortSet> ps(new PortSet());
    ps->setup_ = ports;
    ps->peers_ = peers;
    std::vector<uint16_t> configured;
    auto fail = [&](const std::string& msg) -> Error {
        for (uint16_t pid : configured) {
            rte_eth_dev_stop(pid);
        }
        for (void* p : ps->pools_) {
            rte_mempool_free(static_cast<rte_mempool*>(p));
        }
        ps->pools_.clear();
        return Error{ErrorCode::BadInput, msg};
    };

    // 1. find and configure every port
    for (const auto& s : ports) {
        uint16_t pid = 0;
        if (rte_eth_dev_get_port_by_name(s.name.c_str(), &pid) != 0) {
            return fail("capture.ports: DPDK port '" + s.name +
                        "' not found (ports the EAL probed: " + available_ports() +
                        "). A PCI NIC must be bound to vfio-pci (dpdk-devbind.py --status) and "
                        "not hidden by --no-pci or -a; a virtual device needs --vdev in "
                        "capture.eal");
        }
        rte_eth_dev_info dev{};
        if (const int rc = rte_eth_dev_info_get(pid, &dev); rc != 0) {
            return fail("port " + s.name + ": cannot read device info: " + err_text(rc));
        }
        if (s.queues > dev.max_rx_queues || s.queues > dev.max_tx_queues) {
            return fail("port " + s.name + ": driver " + dev.driver_name + " allows at most " +
                        std::to_string(std::min(dev.max_rx_queues, dev.max_tx_queues)) +
                        " RX/TX queue(s), but capture.workers needs " + std::to_string(s.queues) +
                        " (one per worker)" +
                        (std::string(dev.driver_name) == "net_pcap"
                             ? "; net_pcap has one queue per rx_pcap= argument"
                             : ""));
        }
        PortInfo info;
        info.name = s.name;
        info.driver = dev.driver_name;
        info.port_id = pid;
        info.queues = s.queues;
        const int sock = rte_eth_dev_socket_id(pid);
        info.socket = sock < 0 ? static_cast<int>(rte_socket_id()) : sock;

        rte_eth_conf conf{};
        std::vector<uint8_t> key;
        const uint64_t want_hf =
            RTE_ETH_RSS_IP | (s.rss_l4 ? (RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) : 0);
        if (s.queues > 1 && (dev.flow_type_rss_offloads & want_hf) != 0) {
            key = symmetric_key(dev.hash_key_size != 0 ? dev.hash_key_size : 40);
            conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_key = key.data();
            conf.rx_adv_conf.rss_conf.rss_key_len = static_cast<uint8_t>(key.size());
            conf.rx_adv_conf.rss_conf.rss_hf = want_hf & dev.flow_type_rss_offloads;
            info.rss = true;
        }
        if (const int rc = rte_eth_dev_configure(pid, s.queues, s.queues, &conf); rc != 0) {
            return fail("port " + s.name + ": driver " + dev.driver_name + " refused " +
                        std::to_string(s.queues) + " RX/TX queue(s): " + err_text(rc));
        }
        uint16_t rxd = s.rx_desc;
        uint16_t txd = s.tx_desc;
        if (const int rc = rte_eth_dev_adjust_nb_rx_tx_desc(pid, &rxd, &txd); rc != 0) {
            return fail("port " + s.name + ": descriptor counts refused: " + err_text(rc));
        }
        info.rx_desc = rxd;
        info.tx_desc = txd;
        ps->info_.push_back(info);
        configured.push_back(pid);
    }

    // 2. one mempool per NUMA socket, sized for every descriptor that can hold an mbuf plus
    //    the bursts in the workers' hands and the per-lcore caches
    constexpr unsigned kCache = 256;
    std::map<int, uint64_t> need;
    for (const auto& info : ps->info_) {
        need[info.socket] +=
            static_cast<uint64_t>(info.queues) * (info.rx_desc + info.tx_desc + 2 * kCaptureBurst);
    }
    std::map<int, rte_mempool*> pool_of;
    for (auto& [sock, n] : need) {
        n += static_cast<uint64_t>(kCache) * (rte_lcore_count() + 1) + 1024;
        const std::string name = "vigil_mb_s" + std::to_string(sock);
        rte_mempool* mp = rte_pktmbuf_pool_create(name.c_str(), static_cast<unsigned>(n), kCache, 0,
                                                  RTE_MBUF_DEFAULT_BUF_SIZE, sock);
        if (mp == nullptr) {
            const double mb = static_cast<double>(n) *
                              (RTE_MBUF_DEFAULT_BUF_SIZE + sizeof(rte_mbuf) + 64) / 1048576.0;
            return fail("cannot create a mempool of " + std::to_string(n) + " mbufs (~" +
                        std::to_string(static_cast<int>(mb)) + " MiB) on NUMA socket " +
                        std::to_string(sock) + ": " + err_text(rte_errno) +
                        "; reserve more hugepages (or raise -m) or lower the descriptor counts");
        }
        pool_of[sock] = mp;
        ps->pools_.push_back(mp);
    }

    // 3. queues, start, promiscuous
    for (auto& info : ps->info_) {
        const uint16_t pid = info.port_id;
        rte_mempool* mp = pool_of[info.socket];
        ps->pool_of_port_.push_back(mp);
        for (uint16_t q = 0; q < info.queues; ++q) {
            if (const int rc = rte_eth_rx_queue_setup(
                    pid, q, info.rx_desc, static_cast<unsigned>(info.socket), nullptr, mp);
                rc != 0) {
                return fail("port " + info.name + ": RX queue " + std::to_string(q) +
                            " setup failed: " + err_text(rc));
            }
            if (const int rc = rte_eth_tx_queue_setup(pid, q, info.tx_desc,
                                                      static_cast<unsigned>(info.socket), nullptr);
                rc != 0) {
                return fail("port " + info.name + ": TX queue " + std::to_string(q) +
                            " setup failed: " + err_text(rc));
            }
        }
        if (const int rc = rte_eth_dev_start(pid); rc != 0) {
            return fail("port " + info.name + ": start failed: " + err_text(rc));
        }
        if (ps->setup_[&info - ps->info_.data()].promiscuous) {
            rte_eth_promiscuous_enable(pid);  // -ENOTSUP on some virtual devices: harmless
        }
        info.queue_fill_known = rte_eth_rx_queue_count(pid, 0) >= 0;
    }
    ps->open_ = true;
    return ps;
}

PortSet::~PortSet() {
    close();
}

CaptureQueuePtr PortSet::queue(size_t port, uint16_t q) {
    const PortInfo& info = info_[port];
    const PortSetup& s = setup_[port];
    const int peer = peers_.size() > port && peers_[port] >= 0
                         ? static_cast<int>(info_[static_cast<size_t>(peers_[port])].port_id)
                         : -1;
    std::string name = info.name + " q" + std::to_string(q);
    if (peer >= 0) {
        name += " -> " + info_[static_cast<size_t>(peers_[port])].name;
    }
    const auto watermark = static_cast<uint32_t>(s.overload_watermark * info.rx_desc);
    return std::make_unique<DpdkQueue>(
        info.port_id, q, peer, std::move(name), info.queue_fill_known, watermark, s.overload_bursts,
        info.driver == "net_pcap", static_cast<rte_mempool*>(pool_of_port_[port]));
}

PortStats PortSet::stats(size_t port) const {
    PortStats out;
    const uint16_t pid = info_[port].port_id;
    rte_eth_stats st{};
    if (rte_eth_stats_get(pid, &st) == 0) {
        out.ipackets = st.ipackets;
        out.ibytes = st.ibytes;
        out.imissed = st.imissed;
        out.ierrors = st.ierrors;
        out.rx_nombuf = st.rx_nombuf;
        out.opackets = st.opackets;
        out.obytes = st.obytes;
        out.oerrors = st.oerrors;
    }
    rte_eth_link link{};
    if (rte_eth_link_get_nowait(pid, &link) == 0) {
        out.link_up = link.link_status == RTE_ETH_LINK_UP;
        out.speed_mbps = link.link_speed;
    }
    return out;
}

void PortSet::close() {
    if (!open_) {
        return;
    }
    open_ = false;
    for (const auto& info : info_) {
        rte_eth_dev_stop(info.port_id);
        rte_eth_dev_close(info.port_id);
    }
    for (void* p : pools_) {
        rte_mempool_free(static_cast<rte_mempool*>(p));
    }
    pools_.clear();
}

}  // namespace vigil::dataplane::dpdk
