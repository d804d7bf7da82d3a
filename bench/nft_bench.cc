// nft_bench: how fast a drop verdict becomes a kernel block. Runs in a network namespace of its
// own (unshare), so the host's nftables are never touched; needs CAP_NET_ADMIN (root).
//
//   1. latency: verdicts arrive one by one (every --gap-us), the control loop ticks every
//      millisecond as the sensor's does; per block, the time from the verdict to the kernel's
//      acknowledgement of the batch that carried it: p50, p99, max.
//   2. rate: --count distinct sources decided at once (an attack from many addresses); the
//      enforcer sends them in batches; elements per second until the last is acknowledged.
//   3. the same count through one nft::Client::add call (the netlink floor).

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "sensor/enforcer.h"
#include "sensor/nft.h"

using namespace vigil;

namespace {

using Clock = std::chrono::steady_clock;

int64_t mono_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

dataplane::IpAddr addr_of(uint32_t i) {
    // 10.0.0.0/8 hosts, then IPv6 for every 8th, so both sets are exercised.
    if (i % 8 == 7) {
        uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8};
        b[12] = static_cast<uint8_t>(i >> 24);
        b[13] = static_cast<uint8_t>(i >> 16);
        b[14] = static_cast<uint8_t>(i >> 8);
        b[15] = static_cast<uint8_t>(i);
        return dataplane::IpAddr::from_v6(b);
    }
    const uint8_t b[4] = {10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8),
                          static_cast<uint8_t>(i)};
    return dataplane::IpAddr::from_v4(b);
}

uint32_t pct(std::vector<uint32_t> v, double q) {
    if (v.empty()) {
        return 0;
    }
    const size_t k = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return v[k];
}

void usage() {
    std::fprintf(stderr,
                 "usage: nft_bench [--count N] [--latency-blocks N] [--gap-us U]\n"
                 "  Measures verdict-to-kernel latency and sustained insert rate of nftables\n"
                 "  blocks (table inet vigilbench) in a private network namespace (root).\n"
                 "  --count           sources for the rate tests (default 100000)\n"
                 "  --latency-blocks  verdicts for the latency test (default 2000)\n"
                 "  --gap-us          time between those verdicts (default 500)\n");
}

}  // namespace

int main(int argc, char** argv) {
    uint32_t count = 100000;
    uint32_t lat_blocks = 2000;
    uint32_t gap_us = 500;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> uint32_t {
            if (i + 1 >= argc) {
                usage();
                std::exit(2);
            }
            return static_cast<uint32_t>(std::strtoul(argv[++i], nullptr, 10));
        };
        if (a == "--count") {
            count = next();
        } else if (a == "--latency-blocks") {
            lat_blocks = next();
        } else if (a == "--gap-us") {
            gap_us = next();
        } else {
            usage();
            return a == "--help" ? 0 : 2;
        }
    }
    if (unshare(CLONE_NEWNET) != 0) {
        std::fprintf(stderr, "nft_bench: unshare(CLONE_NEWNET): %s (run as root)\n",
                     std::strerror(errno));
        return 1;
    }

    // 1. latency, verdicts one by one, 1 ms control tick
    sensor::EnforcerConfig cfg;
    cfg.table = "vigilbench";
    cfg.batch_ms = 1;
    cfg.max_elements = count + lat_blocks + 16;
    cfg.check_ms = 0;
    auto e = sensor::Enforcer::create(cfg, stderr);
    if (!e || !(*e)->stats().healthy) {
        std::fprintf(stderr, "nft_bench: enforcement not available\n");
        return 1;
    }
    sensor::Enforcer& enf = **e;
    int64_t next_tick = mono_ns();
    for (uint32_t i = 0; i < lat_blocks; ++i) {
        enf.block(addr_of(1000000 + i), 600, 1, mono_ns());
        const int64_t until = mono_ns() + static_cast<int64_t>(gap_us) * 1000;
        while (mono_ns() < until) {
            if (mono_ns() >= next_tick) {
                enf.tick();
                next_tick += 1000000;
            }
            std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
    }
    enf.flush();
    const auto lat = enf.stats().latency_us;
    std::printf("latency: %zu blocks, one verdict every %u us, control tick 1 ms, batch-ms 1\n",
                lat.size(), gap_us);
    std::printf("  verdict -> kernel ack: p50 %.3f ms  p99 %.3f ms  max %.3f ms  (%llu batches)\n",
                pct(lat, 0.5) / 1000.0, pct(lat, 0.99) / 1000.0,
                (lat.empty() ? 0 : *std::max_element(lat.begin(), lat.end())) / 1000.0,
                static_cast<unsigned long long>(enf.stats().batches));

    // 2. rate through the enforcer: all decided at once, ticks every ms until acknowledged
    const uint64_t before = enf.stats().added;
    const auto t0 = Clock::now();
    for (uint32_t i = 0; i < count; ++i) {
        enf.block(addr_of(i), 600, 2, 0);
    }
    while (enf.pending()) {
        enf.tick();
        if (enf.pending()) {
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
    }
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    const uint64_t added = enf.stats().added - before;
    std::printf("rate (enforcer): %llu blocks acknowledged in %.3f s: %.0f elements/s\n",
                static_cast<unsigned long long>(added), secs, static_cast<double>(added) / secs);

    // 3. netlink floor: one Client::add of as many new elements
    auto c = sensor::nft::Client::open("vigilbench");
    if (!c) {
        std::fprintf(stderr, "%s\n", c.error().message.c_str());
        return 1;
    }
    std::vector<sensor::nft::Element> elems(count);
    for (uint32_t i = 0; i < count; ++i) {
        elems[i].addr = addr_of(2000000 + i);
        elems[i].timeout_ms = 600000;
    }
    const auto t1 = Clock::now();
    if (auto st = (*c)->add(elems); !st) {
        std::fprintf(stderr, "%s\n", st.error().message.c_str());
        return 1;
    }
    const double s2 = std::chrono::duration<double>(Clock::now() - t1).count();
    std::printf("rate (one Client::add): %u elements in %.3f s: %.0f elements/s\n", count, s2,
                count / s2);
    auto listed = (*c)->list();
    std::printf("kernel holds %zu elements\n", listed ? listed->size() : 0);
    std::printf("targets: p99 < 5 ms, >= 50000 elements/s\n");
    return 0;
}
