#include "sensor/capture.h"

#include <pthread.h>

#include <functional>

#include "dataplane/pcap_live.h"

namespace vigil::sensor {

Result<Capture> open_capture(const SensorConfig& cfg, WorkerCtxs& ctxs, std::FILE* log) {
    const auto nworkers = static_cast<uint32_t>(ctxs.size());
    // Ports: IDS ports first, then the inline pairs (each side forwards to the other).
    std::vector<std::string> port_names = cfg.ports;
    std::vector<int> peers(cfg.ports.size(), -1);
    for (const auto& pair : cfg.inline_pairs) {
        const int a = static_cast<int>(port_names.size());
        port_names.push_back(pair[0]);
        port_names.push_back(pair[1]);
        peers.push_back(a + 1);
        peers.push_back(a);
    }
    Capture cap;
    cap.names = port_names;
    cap.queue_port.resize(nworkers);
    if (cfg.capture_method == "dpdk") {
        cap.dpdk = true;
        if (auto st = dataplane::dpdk::init_eal(cfg.eal); !st) {
            return st.error();
        }
        if (dataplane::dpdk::worker_lcore_count() < nworkers) {
            return make_error(ErrorCode::BadInput,
                              cfg.path + ": capture.workers is " + std::to_string(nworkers) +
                                  " but capture.eal gives " +
                                  std::to_string(dataplane::dpdk::worker_lcore_count()) +
                                  " worker lcore(s): each worker needs an lcore besides the "
                                  "main one, e.g. \"-l\", \"0-" +
                                  std::to_string(nworkers) + "\" (or \"--lcores\" to share CPUs)");
        }
        std::vector<dataplane::dpdk::PortSetup> setups;
        for (const auto& name : port_names) {
            dataplane::dpdk::PortSetup s;
            s.name = name;
            s.queues = static_cast<uint16_t>(nworkers);
            s.rx_desc = cfg.rx_descriptors;
            s.tx_desc = cfg.tx_descriptors;
            s.rss_l4 = cfg.rss_hash == "ip-port";
            s.promiscuous = cfg.promiscuous;
            s.overload_watermark = cfg.overload_watermark;
            s.overload_bursts = cfg.overload_bursts;
            setups.push_back(s);
        }
        auto ps = dataplane::dpdk::PortSet::open(setups, peers);
        if (!ps) {
            return Error{ps.error().code, cfg.path + ": " + ps.error().message};
        }
        cap.dpdk_ports = std::move(ps.value());
        for (size_t p = 0; p < port_names.size(); ++p) {
            const auto& info = cap.dpdk_ports->info(p);
            if (nworkers > 1 && !info.rss) {
                std::fprintf(log,
                             "vigil-sensor: warning: port %s (%s) has no RSS: its driver "
                             "decides which queue a packet reaches, so both directions of a "
                             "flow may not meet in one worker\n",
                             info.name.c_str(), info.driver.c_str());
            }
            for (uint32_t w = 0; w < nworkers; ++w) {
                ctxs[w]->queues.push_back(cap.dpdk_ports->queue(p, static_cast<uint16_t>(w)));
                cap.queue_port[w].push_back(p);
            }
        }
    } else {
        for (size_t p = 0; p < port_names.size(); ++p) {
            dataplane::PcapLiveSetup s;
            s.iface = port_names[p];
            s.peer = peers[p] >= 0 ? port_names[static_cast<size_t>(peers[p])] : "";
            s.queues = static_cast<uint16_t>(nworkers);
            s.snaplen = cfg.snaplen;
            s.promiscuous = cfg.promiscuous;
            s.overload_bursts = cfg.overload_bursts;
            auto qs = dataplane::open_pcap_live(s);
            if (!qs) {
                return Error{qs.error().code, cfg.path + ": " + qs.error().message};
            }
            for (uint32_t w = 0; w < nworkers; ++w) {
                ctxs[w]->queues.push_back(std::move((*qs)[w]));
                cap.queue_port[w].push_back(p);
            }
        }
    }
    {
        char buf[256];
        // How packets reach the workers, as it turned out (a driver may lack RSS).
        std::string spread;
        if (nworkers > 1 && cap.dpdk) {
            size_t rss = 0;
            for (size_t p = 0; p < port_names.size(); ++p) {
                rss += cap.dpdk_ports->info(p).rss ? 1 : 0;
            }
            spread =
                rss == port_names.size()
                    ? (cfg.rss_hash == "ip" ? ", RSS on the IP pair" : ", RSS on IP pair and ports")
                    : ", RSS on " + std::to_string(rss) + " of " +
                          std::to_string(port_names.size()) +
                          " port(s), the driver's own spread on the others";
        } else if (nworkers > 1) {
            spread = ", kernel fanout by flow (defragmented)";
        }
        std::snprintf(buf, sizeof(buf), "%s: %zu port(s) (%zu inline pair(s)), %u worker(s)%s",
                      cfg.capture_method.c_str(), port_names.size(), cfg.inline_pairs.size(),
                      nworkers, spread.c_str());
        cap.description = buf;
    }

    return cap;
}

Status start_workers(Capture& cap, WorkerCtxs& ctxs, const LoopParams& lp,
                     const std::atomic<bool>& stop) {
    if (cap.dpdk) {
        std::vector<std::function<void()>> fns;
        for (auto& c : ctxs) {
            WorkerCtx* cp = c.get();
            fns.emplace_back([cp, &lp, &stop] { worker_loop(*cp, lp, stop); });
        }
        if (auto st = dataplane::dpdk::launch_workers(std::move(fns)); !st) {
            return st;
        }
    } else {
        for (auto& c : ctxs) {
            WorkerCtx* cp = c.get();
            cap.threads.push_back(
                std::make_unique<std::thread>([cp, &lp, &stop] { worker_loop(*cp, lp, stop); }));
            const std::string name = "vigil-w" + std::to_string(cp->worker->id());
            pthread_setname_np(cap.threads.back()->native_handle(), name.c_str());
        }
    }
    return Ok{};
}

void join_workers(Capture& cap) {
    if (cap.dpdk) {
        dataplane::dpdk::wait_workers();
    } else {
        for (auto& t : cap.threads) {
            t->join();
        }
    }
}

std::vector<PortCounters> sample_ports(const Capture& cap, const WorkerCtxs& ctxs) {
    std::vector<PortCounters> out(cap.names.size());
    for (size_t p = 0; p < out.size(); ++p) {
        out[p].name = cap.names[p];
        out[p].driver = "libpcap";
        if (cap.dpdk_ports) {
            const auto st = cap.dpdk_ports->stats(p);
            out[p].driver = cap.dpdk_ports->info(p).driver;
            out[p].link_up = st.link_up;
            out[p].speed_mbps = st.speed_mbps;
            out[p].ipackets = st.ipackets;
            out[p].imissed = st.imissed;
            out[p].ierrors = st.ierrors;
            out[p].rx_nombuf = st.rx_nombuf;
            out[p].opackets = st.opackets;
            out[p].oerrors = st.oerrors;
        } else {
            out[p].link_up = true;
        }
    }
    for (size_t w = 0; w < ctxs.size(); ++w) {
        for (size_t i = 0; i < ctxs[w]->queues.size(); ++i) {
            const auto& qc = ctxs[w]->queues[i]->counters();
            PortCounters& pc = out[cap.queue_port[w][i]];
            pc.forwarded += qc.forwarded.load(std::memory_order_relaxed);
            pc.tx_failed += qc.tx_failed.load(std::memory_order_relaxed);
            pc.dropped += qc.dropped.load(std::memory_order_relaxed);
            pc.truncated += qc.truncated.load(std::memory_order_relaxed);
            pc.rejects += qc.rejects.load(std::memory_order_relaxed);
            if (!cap.dpdk_ports) {
                pc.ipackets += qc.rx_packets.load(std::memory_order_relaxed);
                pc.imissed += qc.missed.load(std::memory_order_relaxed);
            }
        }
    }
    return out;
}

std::string format_ports(const std::vector<PortCounters>& ports) {
    std::string s;
    char line[512];
    for (const auto& p : ports) {
        std::snprintf(
            line, sizeof(line),
            "    %-14s %-10s link %s  rx %llu  missed %llu  errors %llu  no-mbuf %llu"
            "  forwarded %llu  tx-failed %llu  dropped %llu  rejects %llu  truncated "
            "%llu\n",
            p.name.c_str(), p.driver.c_str(), p.link_up ? "up" : "down",
            static_cast<unsigned long long>(p.ipackets), static_cast<unsigned long long>(p.imissed),
            static_cast<unsigned long long>(p.ierrors),
            static_cast<unsigned long long>(p.rx_nombuf),
            static_cast<unsigned long long>(p.forwarded),
            static_cast<unsigned long long>(p.tx_failed),
            static_cast<unsigned long long>(p.dropped), static_cast<unsigned long long>(p.rejects),
            static_cast<unsigned long long>(p.truncated));
        s += line;
    }
    return s;
}

}  // namespace vigil::sensor
