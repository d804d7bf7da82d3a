#include "sensor/replay.h"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>

#include "dataplane/decode.h"
#include "dataplane/pcap_mmap_source.h"
#include "sensor/alert_output.h"
#include "sensor/rate_filter.h"
#include "sensor/tags.h"
#include "sensor/worker.h"

namespace vigil::sensor {

namespace {

using dataplane::Packet;
using Clock = std::chrono::steady_clock;

constexpr size_t kBurst = 32;
constexpr size_t kBatchPackets = 512;            // per worker per tick
constexpr size_t kBatchBytes = size_t{2} << 20;  // >= largest pcap record (256 KiB)
constexpr size_t kTicksInFlight = 4;

// Packets for one worker: frames copied into one buffer, decoded views pointing into it.
struct Batch {
    std::vector<uint8_t> data;  // sized on first copy: mmap replays never copy
    size_t used = 0;
    std::vector<Packet> pkts;
    std::vector<AlertRecord> alerts;
    bool reset_flows = false;
    bool done = false;

    Batch() {
        pkts.reserve(kBatchPackets);
        alerts.reserve(256);
    }
    void clear() {
        used = 0;
        pkts.clear();
        alerts.clear();
        reset_flows = false;
        done = false;
    }
    // len = bytes to copy (0 when the frame stays valid where it is).
    bool fits(uint32_t len) const {
        return pkts.size() < kBatchPackets && used + len <= kBatchBytes;
    }
};

struct Tick {
    std::vector<Batch> batches;
    size_t file = 0;
};

// Moves a decoded packet's pointers from the source frame to its copy in the batch.
void rebase(Packet& p, const uint8_t* from, uint8_t* to) {
    auto fix = [&](const uint8_t*& ptr) {
        if (ptr != nullptr) {
            ptr = to + (ptr - from);
        }
    };
    fix(p.data);
    fix(p.l3);
    fix(p.l4);
    fix(p.payload);
}

class WorkerThread {
public:
    WorkerThread(WorkerPtr w, std::mutex& done_mu, std::condition_variable& done_cv)
        : w_(std::move(w)), done_mu_(done_mu), done_cv_(done_cv), t_([this] { loop(); }) {
        // "vigil-w3" in top -H / perf: per-thread CPU is what an operator sizes workers by.
        const std::string name = "vigil-w" + std::to_string(w_->id());
        pthread_setname_np(t_.native_handle(), name.c_str());
    }
    ~WorkerThread() {
        push(nullptr);
        t_.join();
    }
    void push(Batch* b) {
        {
            std::lock_guard lk(mu_);
            q_.push_back(b);
        }
        cv_.notify_one();
    }
    Worker& worker() { return *w_; }

private:
    void loop() {
        for (;;) {
            Batch* b = nullptr;
            {
                std::unique_lock lk(mu_);
                cv_.wait(lk, [&] { return !q_.empty(); });
                b = q_.front();
                q_.pop_front();
            }
            if (b == nullptr) {
                return;
            }
            w_->process({b->pkts.data(), b->pkts.size()}, b->alerts);
            if (b->reset_flows) {
                w_->reset_flows(&b->alerts);  // end of a file: streams end, state is dropped
            }
            {
                std::lock_guard lk(done_mu_);
                b->done = true;
            }
            done_cv_.notify_all();
        }
    }

    WorkerPtr w_;
    std::mutex& done_mu_;
    std::condition_variable& done_cv_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Batch*> q_;
    std::thread t_;  // last: starts after the members it uses
};

class Progress {
public:
    explicit Progress(bool on) : on_(on && isatty(STDERR_FILENO) != 0) {}
    void update(uint64_t pkts, uint64_t bytes, uint64_t done, uint64_t total, bool force) {
        if (!on_) {
            return;
        }
        const auto now = Clock::now();
        if (!force && now - last_ < std::chrono::milliseconds(500)) {
            return;
        }
        last_ = now;
        const double secs = std::chrono::duration<double>(now - start_).count();
        const double gbps = secs > 0 ? static_cast<double>(bytes) * 8.0 / secs / 1e9 : 0;
        if (total > 0) {
            std::fprintf(stderr, "\rreplay: %llu packets  %.2f Gbit/s  %5.1f%% ",
                         static_cast<unsigned long long>(pkts), gbps,
                         100.0 * static_cast<double>(done) / static_cast<double>(total));
        } else {
            std::fprintf(stderr, "\rreplay: %llu packets  %.2f Gbit/s ",
                         static_cast<unsigned long long>(pkts), gbps);
        }
        shown_ = true;
    }
    void end() {
        if (shown_) {
            std::fprintf(stderr, "\n");
        }
    }

private:
    bool on_;
    bool shown_ = false;
    Clock::time_point start_ = Clock::now();
    Clock::time_point last_ = Clock::now();
};

}  // namespace

Result<ReplayResult> run_replay(const ReplayOptions& opts, const rules::RuleSetPtr& rules,
                                const rules::Vars& vars, EveWriter& eve) {
    const auto t0 = Clock::now();
    ReplayResult res;
    const uint32_t nworkers = std::max<uint32_t>(1, opts.workers);

    std::mutex done_mu;
    std::condition_variable done_cv;
    std::vector<std::unique_ptr<WorkerThread>> workers;
    PipelineConfig pipeline = opts.pipeline;
    pipeline.rate_filter = std::make_shared<RateFilter>(vars);  // shared by the workers
    pipeline.host_tags = std::make_shared<HostTags>();
    for (uint32_t i = 0; i < nworkers; ++i) {
        auto w = Worker::create(i, rules, pipeline);
        if (!w) {
            return w.error();
        }
        workers.push_back(std::make_unique<WorkerThread>(std::move(w.value()), done_mu, done_cv));
    }

    std::vector<std::unique_ptr<Tick>> pool;
    for (size_t i = 0; i < kTicksInFlight + 1; ++i) {
        auto t = std::make_unique<Tick>();
        t->batches.resize(nworkers);
        pool.push_back(std::move(t));
    }
    std::deque<std::unique_ptr<Tick>> in_flight;
    std::unique_ptr<Tick> cur = std::move(pool.back());
    pool.pop_back();

    AlertOutput output(rules, vars, eve, opts.ips, /*only_enforced=*/false);
    output.set_enforcer(opts.enforcer);
    output.set_packet_alert_max(opts.packet_alert_max);
    output.set_flow_records(opts.pipeline.flow_records);
    std::vector<AlertRecord> merged;
    uint64_t total_bytes = 0;
    for (const auto& p : opts.pcaps) {
        std::error_code ec;
        total_bytes += std::filesystem::file_size(p, ec);
    }
    uint64_t bytes_before_file = 0;
    Progress progress(opts.progress);

    // Output stage: wait for a tick, merge its alerts into packet order, filter, write.
    auto complete = [&](std::unique_ptr<Tick> t) {
        {
            std::unique_lock lk(done_mu);
            done_cv.wait(lk, [&] {
                return std::all_of(t->batches.begin(), t->batches.end(),
                                   [](const Batch& b) { return b.done; });
            });
        }
        merged.clear();
        for (auto& b : t->batches) {
            merged.insert(merged.end(), b.alerts.begin(), b.alerts.end());
        }
        // Per packet: what the flows its time expired raised, then its anomalies, its alerts
        // in rule order, and the flows that ended on it (after the alerts their streams'
        // flush raised), by flow id.
        auto rank = [](const AlertRecord& r) {
            return r.is_anomaly() ? 0 : r.is_flow_end() ? 2 : 1;
        };
        std::stable_sort(
            merged.begin(), merged.end(), [&](const AlertRecord& a, const AlertRecord& b) {
                if (a.seq != b.seq) {
                    return a.seq < b.seq;
                }
                if (a.before_packet != b.before_packet) {
                    return a.before_packet;
                }
                if (rank(a) != rank(b)) {
                    return rank(a) < rank(b);
                }
                return a.is_flow_end() ? a.flow_id < b.flow_id : a.rule_order < b.rule_order;
            });
        for (const auto& a : merged) {
            const auto w = output.write(a);
            if (w.rule == nullptr) {
                continue;
            }
            const rules::Rule& r = *w.rule;
            const bool blocked = w.blocked;
            if (opts.collect_alerts) {
                ObservedAlert o;
                o.sid = r.sid;
                o.src = a.src;
                o.dst = a.dst;
                o.sport = a.sport;
                o.dport = a.dport;
                o.has_ports = a.has_ports;
                o.action = blocked ? "blocked" : "allowed";
                o.pcap_cnt = a.seq + 1;
                res.files[t->file].alerts.push_back(o);
            }
        }
        for (auto& b : t->batches) {
            b.clear();
        }
        pool.push_back(std::move(t));
        if (opts.enforcer != nullptr) {
            opts.enforcer->tick();
        }
    };
    auto submit = [&] {
        for (uint32_t i = 0; i < nworkers; ++i) {
            workers[i]->push(&cur->batches[i]);
        }
        in_flight.push_back(std::move(cur));
        if (in_flight.size() >= kTicksInFlight || pool.empty()) {
            auto oldest = std::move(in_flight.front());
            in_flight.pop_front();
            complete(std::move(oldest));
        }
        cur = std::move(pool.back());
        pool.pop_back();
    };

    std::array<dataplane::RawFrame, kBurst> frames{};
    uint64_t seq = 0;
    // Sources stay open until every tick referring to their (mmap'd) frames is written.
    std::vector<dataplane::PacketSourcePtr> sources;
    for (size_t fi = 0; fi < opts.pcaps.size(); ++fi) {
        const std::string& path = opts.pcaps[fi];
        res.files.push_back(FileResult{path, 0, "", {}});
        auto src = dataplane::open_pcap_file(path);
        if (!src) {
            res.files.back().error = src.error().message;
            res.input_error = true;
            continue;
        }
        cur->file = fi;
        sources.push_back(std::move(src.value()));
        dataplane::PacketSource& source = *sources.back();
        const bool stable = source.frames_stable();
        for (;;) {
            const size_t n = source.next_burst(frames);
            if (n == 0) {
                break;
            }
            for (size_t i = 0; i < n; ++i) {
                const auto& f = frames[i];
                Packet pkt = dataplane::packet_from_frame(f, seq++);
                dataplane::decode(f.link, pkt);  // decode
                res.counters.decode.count(pkt);
                ++res.counters.packets;
                res.counters.bytes += f.cap_len;
                ++res.files[fi].packets;
                res.last_ts_sec = f.ts_sec;
                res.last_ts_usec = f.ts_usec;
                // The flow hash lets the worker prefetch the flow. The worker is picked by
                // host pair, so that the fragments of a datagram (which carry no ports after
                // the first) and the flow they belong to meet in one worker.
                uint32_t w = 0;
                if (pkt.ip_version != 0) {
                    auto key = dataplane::FlowKey::from_packet(pkt);
                    if (!opts.pipeline.flows.vlan_tracking) {
                        key.vlan = 0;  // vlan.use-for-tracking: false
                    }
                    pkt.flow_hash = dataplane::flow_hash(key);
                    if (nworkers > 1) {
                        key.port_lo = key.port_hi = 0;
                        key.proto = 0;
                        w = static_cast<uint32_t>(dataplane::flow_hash(key) % nworkers);
                    }
                }
                const uint32_t copy_len = stable ? 0 : f.cap_len;
                if (!cur->batches[w].fits(copy_len)) {
                    submit();
                    cur->file = fi;
                }
                Batch& b = cur->batches[w];
                if (!stable) {
                    if (b.data.empty()) {
                        b.data.resize(kBatchBytes);
                    }
                    uint8_t* dst = b.data.data() + b.used;
                    std::memcpy(dst, f.data, f.cap_len);
                    b.used += f.cap_len;
                    rebase(pkt, f.data, dst);
                }
                b.pkts.push_back(pkt);
            }
            progress.update(res.counters.packets, res.counters.bytes,
                            bytes_before_file + source.bytes_read(), total_bytes, false);
        }
        if (!source.error().empty()) {
            res.files[fi].error = source.error();
            res.input_error = true;
        }
        bytes_before_file += source.bytes_total();
        // Each file is an independent capture: its flows end with it (streams are flushed and
        // inspected, alerts attributed to this file), and the next starts afresh.
        for (auto& b : cur->batches) {
            b.reset_flows = true;
        }
        submit();  // a tick never spans two files: keeps per-file alert attribution exact
    }
    while (!in_flight.empty()) {
        auto t = std::move(in_flight.front());
        in_flight.pop_front();
        complete(std::move(t));
    }
    progress.update(res.counters.packets, res.counters.bytes, total_bytes, total_bytes, true);
    progress.end();

    for (auto& wt : workers) {
        wt->worker().reset_flows();
        res.counters.flows += wt->worker().flow_stats();
        res.counters.stream += wt->worker().stream_stats();
        res.counters.defrag += wt->worker().defrag_stats();
        res.counters.app += wt->worker().app_stats();
        res.counters.datagrams += wt->worker().stats().datagrams;
        res.counters.dropped += wt->worker().stats().dropped;
        res.counters.dropped_flow += wt->worker().stats().dropped_flow;
    }
    workers.clear();
    res.counters.alerts = output.alerts();
    res.counters.anomalies = output.anomalies();
    res.counters.alerts_suppressed = output.suppressed();
    res.counters.alert_queue_overflow = output.alert_queue_overflow();
    res.counters.drops = output.drops();
    if (opts.enforcer != nullptr) {
        opts.enforcer->shutdown();  // what is pending goes out now
        res.enforcing = true;
        res.enforcement = opts.enforcer->stats();
    }
    res.by_sid = output.by_sid();
    if (opts.ips) {
        res.counters.ips = true;
        res.counters.ips_blocked = res.counters.dropped;
        res.counters.ips_accepted = res.counters.packets - res.counters.dropped;
    }
    res.counters.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    return res;
}

std::string format_summary(const ReplayResult& r) {
    const auto& c = r.counters;
    char line[512];
    std::snprintf(line, sizeof(line),
                  "replay summary\n"
                  "  files      %zu\n"
                  "  packets    %llu (%llu bytes)\n",
                  r.files.size(), static_cast<unsigned long long>(c.packets),
                  static_cast<unsigned long long>(c.bytes));
    std::string s = line;
    // A rate over a few milliseconds measures start-up and file opening, not the pipeline.
    if (c.seconds >= kMinThroughputSeconds) {
        std::snprintf(line, sizeof(line), "  throughput %.3f Gbit/s, %.0f packets/s (%.3f s)\n",
                      static_cast<double>(c.bytes) * 8.0 / c.seconds / 1e9,
                      static_cast<double>(c.packets) / c.seconds, c.seconds);
    } else {
        std::snprintf(line, sizeof(line),
                      "  time       %.3f s (too short a replay for a throughput figure)\n",
                      c.seconds);
    }
    s += line + format_pipeline_summary(c, r.by_sid);
    if (r.enforcing) {
        s += format_enforcement(r.enforcement, c.drops);
    }
    return s;
}

std::string format_pipeline_summary(const SensorCounters& c,
                                    const std::map<uint32_t, SidCount>& by_sid) {
    std::string s;
    char line[512];
    std::snprintf(line, sizeof(line),
                  "  decoded    ipv4 %llu, ipv6 %llu, tcp %llu, udp %llu, icmp %llu, "
                  "vlan %llu, mpls %llu\n",
                  static_cast<unsigned long long>(c.decode.ipv4),
                  static_cast<unsigned long long>(c.decode.ipv6),
                  static_cast<unsigned long long>(c.decode.tcp),
                  static_cast<unsigned long long>(c.decode.udp),
                  static_cast<unsigned long long>(c.decode.icmp),
                  static_cast<unsigned long long>(c.decode.vlan),
                  static_cast<unsigned long long>(c.decode.mpls));
    s += line;
    std::string events;
    for (size_t i = 1; i < c.decode.by_status.size(); ++i) {
        if (c.decode.by_status[i] == 0) {
            continue;
        }
        const auto name = dataplane::decode_status_name(static_cast<dataplane::DecodeStatus>(i));
        events += "    " + std::string(name) + " " + std::to_string(c.decode.by_status[i]) + "\n";
    }
    if (!events.empty()) {
        s += "  decode events\n" + events;
    }
    std::snprintf(line, sizeof(line),
                  "  flows      %llu (tcp %llu, udp %llu), timed out %llu, evicted %llu\n"
                  "  alerts     %llu (%llu held back by threshold/suppress); %llu anomaly "
                  "records\n",
                  static_cast<unsigned long long>(c.flows.created),
                  static_cast<unsigned long long>(c.flows.created_tcp),
                  static_cast<unsigned long long>(c.flows.created_udp),
                  static_cast<unsigned long long>(c.flows.expired),
                  static_cast<unsigned long long>(c.flows.evicted),
                  static_cast<unsigned long long>(c.alerts),
                  static_cast<unsigned long long>(c.alerts_suppressed),
                  static_cast<unsigned long long>(c.anomalies));
    s += line;
    if (c.alert_queue_overflow > 0) {
        s += "             " + std::to_string(c.alert_queue_overflow) +
             " more not written: over packet-alert-max per packet\n";
    }
    if (c.dropped > 0) {
        std::snprintf(line, sizeof(line),
                      "  ips        %llu packets dropped (%llu of them in flows already "
                      "dropped)\n",
                      static_cast<unsigned long long>(c.dropped),
                      static_cast<unsigned long long>(c.dropped_flow));
        s += line;
    }
    const auto& st = c.stream;
    std::snprintf(line, sizeof(line),
                  "  stream     %llu sessions (%llu midstream), %llu segments: %llu out of "
                  "order, %llu retransmitted, %llu overlapping (%llu with different data), "
                  "%llu gaps, %llu at depth\n",
                  static_cast<unsigned long long>(st.sessions),
                  static_cast<unsigned long long>(st.midstream_pickups),
                  static_cast<unsigned long long>(st.segments),
                  static_cast<unsigned long long>(st.out_of_order),
                  static_cast<unsigned long long>(st.retransmissions),
                  static_cast<unsigned long long>(st.overlaps),
                  static_cast<unsigned long long>(st.overlap_diff),
                  static_cast<unsigned long long>(st.gaps),
                  static_cast<unsigned long long>(st.depth_reached));
    s += line;
    if (st.memcap_reached + st.ooo_limit + st.bad_seq > 0) {
        std::snprintf(line, sizeof(line),
                      "    limits: %llu segments refused at memcap, %llu at the out-of-order "
                      "limit, %llu with a bad sequence number\n",
                      static_cast<unsigned long long>(st.memcap_reached),
                      static_cast<unsigned long long>(st.ooo_limit),
                      static_cast<unsigned long long>(st.bad_seq));
        s += line;
    }
    const auto& dt = c.defrag;
    if (dt.fragments > 0) {
        std::snprintf(
            line, sizeof(line),
            "  defrag     %llu fragments, %llu datagrams reassembled, %llu overlaps "
            "(%llu with different data), %llu tiny, %llu timed out, %llu dropped at "
            "limits, %llu invalid\n",
            static_cast<unsigned long long>(dt.fragments),
            static_cast<unsigned long long>(dt.reassembled),
            static_cast<unsigned long long>(dt.overlaps),
            static_cast<unsigned long long>(dt.overlap_diff),
            static_cast<unsigned long long>(dt.tiny), static_cast<unsigned long long>(dt.timeouts),
            static_cast<unsigned long long>(dt.memcap_drops + dt.too_many_frags + dt.too_large),
            static_cast<unsigned long long>(dt.invalid));
        s += line;
    }
    // Flows per identified protocol, then those whose protocol detection gave up (EVE's
    // app_proto "failed": not a protocol Vigil knows, or too little data to tell).
    constexpr auto kFailed = static_cast<size_t>(dataplane::app::AppProto::Failed);
    std::string protos;
    for (size_t i = kFailed + 1; i < c.app.flows.size(); ++i) {
        if (c.app.flows[i] == 0) {
            continue;
        }
        protos += protos.empty() ? "" : ", ";
        protos +=
            std::string(dataplane::app::app_proto_name(static_cast<dataplane::app::AppProto>(i))) +
            " " + std::to_string(c.app.flows[i]);
    }
    if (c.app.flows[kFailed] > 0) {
        protos += (protos.empty() ? "" : "; ") + std::string("protocol not identified ") +
                  std::to_string(c.app.flows[kFailed]);
    }
    if (!protos.empty()) {
        // Each parsed protocol's summary counters, as its definition names them:
        // "http 3 requests, 3 responses, 0 parse errors; dns 2 queries; ...".
        std::string counts;
        for (size_t pi = 0; pi < dataplane::app::kProtoCount; ++pi) {
            const auto* d = dataplane::app::app_protocol(static_cast<dataplane::app::AppProto>(pi));
            if (d == nullptr || d->summary_counters == 0) {
                continue;
            }
            counts += counts.empty() ? "" : "; ";
            counts += d->name;
            bool first = true;
            for (size_t i = 0; i < d->counters.size(); ++i) {
                if ((d->summary_counters & (1U << i)) == 0) {
                    continue;
                }
                counts += first ? " " : ", ";
                first = false;
                counts += std::to_string(c.app.counter(d->proto, i)) + " ";
                counts += d->counters[i];
            }
        }
        s += "  app-layer  flows: " + protos + "\n";
        if (!counts.empty()) {
            s += "             " + counts + "\n";
        }
    }
    if (!by_sid.empty()) {
        // Most frequent first.
        std::vector<std::pair<uint32_t, const SidCount*>> v;
        for (const auto& [sid, sc] : by_sid) {
            v.emplace_back(sid, &sc);
        }
        std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
            return a.second->count > b.second->count;
        });
        // The most frequent ones: a summary, not a listing (every alert is in the EVE output).
        constexpr size_t kShown = 20;
        s += "  alerts by signature\n";
        uint64_t rest = 0;
        for (size_t i = 0; i < v.size(); ++i) {
            const auto& [sid, sc] = v[i];
            if (i >= kShown) {
                rest += sc->count;
                continue;
            }
            std::snprintf(line, sizeof(line), "    %8llu  %-10u %s\n",
                          static_cast<unsigned long long>(sc->count), sid, sc->msg.c_str());
            s += line;
        }
        if (v.size() > kShown) {
            std::snprintf(line, sizeof(line),
                          "    %8llu  alerts of %zu more signatures (all in the EVE output)\n",
                          static_cast<unsigned long long>(rest), v.size() - kShown);
            s += line;
        }
    }
    return s;
}

}  // namespace vigil::sensor
