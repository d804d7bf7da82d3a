#include "sensor/zmq_output.h"

#include <zmq.h>

#include <algorithm>
#include <condition_variable>
#include <vector>

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "common/clock.h"
#include "common/endpoint.h"
#include "common/keyfile.h"
#include "sensor/config.h"

namespace vigil::sensor {

namespace {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kHelloEveryNs = 1000 * kMs;

// Log-spaced latency histogram: bucket i holds [2^(i/4), 2^((i+1)/4)) µs.
struct LatencyHistogram {
    static constexpr int kBuckets = 160;
    uint64_t counts[kBuckets] = {};
    uint64_t total = 0;
    void add(uint64_t us) {
        int b = 0;
        double edge = 1.0;
        while (b < kBuckets - 1 && static_cast<double>(us) >= edge * 1.189207115) {
            edge *= 1.189207115;  // 2^(1/4)
            ++b;
        }
        ++counts[b];
        ++total;
    }
    uint64_t percentile(double p) const {
        if (total == 0) {
            return 0;
        }
        const uint64_t want = static_cast<uint64_t>(p * static_cast<double>(total - 1)) + 1;
        uint64_t seen = 0;
        double edge = 1.0;
        for (int b = 0; b < kBuckets; ++b) {
            seen += counts[b];
            if (seen >= want) {
                return static_cast<uint64_t>(edge * 1.189207115);  // the bucket's upper edge
            }
            edge *= 1.189207115;
        }
        return static_cast<uint64_t>(edge);
    }
};

}  // namespace

Status check_zmq_endpoint(const std::string& endpoint, bool curve) {
    if (endpoint.rfind("ipc://", 0) != 0 && endpoint.rfind("tcp://", 0) != 0) {
        return make_error(ErrorCode::BadInput,
                          "outputs.zmq.endpoint: expected ipc://PATH or "
                          "tcp://HOST:PORT, got '" +
                              endpoint + "'");
    }
    if (!curve && !endpoint_is_local(endpoint)) {
        return make_error(ErrorCode::BadInput,
                          "outputs.zmq.endpoint: " + endpoint +
                              " is not a loopback address: plaintext ZeroMQ off this host is "
                              "refused; configure outputs.zmq.curve (vigilctl keys gen) or use "
                              "ipc://");
    }
    return Ok{};
}

struct ZmqOutput::Impl {
    ZmqOptions o;
    Spool& spool;
    std::FILE* log;
    zmq::context_t ctx{1};
    zmq::socket_t sock{ctx, zmq::socket_type::dealer};
    std::thread thread;
    std::atomic<bool> stopping{false};
    const int64_t started = mono_ns();

    // Transport state (its thread only).
    bool welcomed = false;
    uint64_t cursor = 1;  // next seq to send
    uint64_t acked = 0;
    uint64_t max_sent = 0;  // highest seq ever sent (resends below it)
    int64_t last_hello = 0;
    int64_t last_heard = 0;  // last ack / welcome
    int64_t last_beat = 0;
    std::vector<int64_t> sent_at;  // first-send time per seq (ring of window × 2)
    LatencyHistogram hist;
    std::string body;

    mutable std::mutex mu;
    std::condition_variable cv;
    wire::Heartbeat beat;
    ZmqStats st;
    std::vector<ZmqOutput::Request> requests;               // received, for the control loop
    std::vector<std::pair<uint64_t, std::string>> replies;  // to send (id, body)

    Impl(const ZmqOptions& opts, Spool& s, std::FILE* l) : o(opts), spool(s), log(l) {
        sent_at.assign(std::max<uint32_t>(o.window, 1) * 2, 0);
    }

    bool send(wire::MsgType t, uint64_t seq, std::string_view b) {
        const std::string env = wire::encode_envelope({t, seq, o.sensor_id});
        try {
            // ZMQ_IMMEDIATE: with no connection the send fails (EAGAIN) instead of queueing
            // for a peer that may never come; the spool keeps the record.
            if (!sock.send(zmq::buffer(env),
                           zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
                return false;
            }
            sock.send(zmq::const_buffer(b.data(), b.size()), zmq::send_flags::dontwait);
            return true;
        } catch (const zmq::error_t&) {
            return false;
        }
    }

    void hello(int64_t now) {
        welcomed = false;
        last_hello = now;
        const wire::HelloInfo h{o.version, spool.first_seq()};
        send(wire::MsgType::Hello, spool.last_seq() + 1, wire::encode_hello(h));
    }

    void on_ack(uint64_t seq, int64_t now) {
        if (seq <= acked) {
            return;
        }
        for (uint64_t s = acked + 1; s <= seq && s <= max_sent; ++s) {
            int64_t& t = sent_at[s % sent_at.size()];
            if (t != 0) {
                hist.add(static_cast<uint64_t>(std::max<int64_t>(0, now - t) / 1000));
                t = 0;
            }
        }
        acked = seq;
        spool.ack(seq);
        last_heard = now;
        std::lock_guard lk(mu);
        st.acked_seq = acked;
        st.ack_p50_us = hist.percentile(0.50);
        st.ack_p99_us = hist.percentile(0.99);
        st.ack_samples = hist.total;
        cv.notify_all();
    }

    void receive(int64_t now) {
        for (;;) {
            std::vector<zmq::message_t> f;
            std::optional<size_t> got;
            try {
                got = zmq::recv_multipart(sock, std::back_inserter(f), zmq::recv_flags::dontwait);
            } catch (const zmq::error_t&) {
                return;
            }
            if (!got) {
                return;
            }
            if (f.empty()) {
                continue;
            }
            auto env = wire::decode_envelope(f[0].to_string_view());
            if (!env || env->sensor_id != o.sensor_id) {
                continue;
            }
            switch (env->type) {
                case wire::MsgType::Welcome: {
                    if (env->seq > spool.last_seq()) {
                        // mgmtd has more than this spool ever numbered: renumber what is here.
                        const uint64_t n = spool.rebase(env->seq);
                        std::fprintf(
                            log,
                            "vigil-sensor: mgmtd has committed up to seq %llu, beyond this "
                            "spool (%s was replaced?): %llu spooled records renumbered "
                            "after it\n",
                            static_cast<unsigned long long>(env->seq), spool.dir().c_str(),
                            static_cast<unsigned long long>(n));
                        std::fill(sent_at.begin(), sent_at.end(), 0);
                        max_sent = env->seq;
                    }
                    welcomed = true;
                    // mgmtd's committed seq is the truth, also when it is behind what it
                    // acknowledged before (its store was replaced).
                    acked = std::min(acked, env->seq);
                    on_ack(env->seq, now);
                    cursor = env->seq + 1;
                    last_heard = now;
                    std::lock_guard lk(mu);
                    ++st.welcomes;
                    st.connected = true;
                    st.acked_seq = acked;
                    cv.notify_all();
                    break;
                }
                case wire::MsgType::Ack:
                    if (welcomed) {
                        on_ack(env->seq, now);
                    }
                    break;
                case wire::MsgType::Control: {
                    auto req = f.size() > 1 ? wire::decode_control(f[1].to_string_view())
                                            : wire::decode_control("");
                    if (!req) {
                        wire::ControlReply r;
                        r.error = "request refused: " + req.error().message;
                        send(wire::MsgType::Reply, env->seq, wire::encode_reply(r));
                        break;
                    }
                    std::lock_guard lk(mu);
                    if (requests.size() < 64) {
                        requests.push_back({env->seq, std::move(*req)});
                    }
                    break;
                }
                case wire::MsgType::Resync: {
                    // mgmtd lost our session (it restarted) or a record: start over with hello.
                    {
                        std::lock_guard lk(mu);
                        ++st.resyncs;
                    }
                    if (now - last_hello > 100 * kMs) {
                        hello(now);
                    } else {
                        welcomed = false;
                    }
                    break;
                }
                default:
                    break;
            }
        }
    }

    // Sends what the window allows; whether anything was sent.
    bool pump(int64_t now) {
        if (!welcomed) {
            return false;
        }
        const uint64_t start = cursor;
        const uint64_t window = o.window;
        while (cursor <= spool.last_seq() && cursor - acked <= window) {
            const uint64_t first = spool.first_seq();
            if (first == 0 || cursor < first) {
                // Dropped by a full spool (drop-oldest) before mgmtd had them: say so.
                const uint64_t to = first == 0 ? spool.last_seq() : first - 1;
                const wire::GapInfo g{cursor, to, "spool full"};
                if (!send(wire::MsgType::Gap, to, wire::encode_gap(g))) {
                    break;
                }
                std::lock_guard lk(mu);
                ++st.gaps_sent;
                cursor = to + 1;
                continue;
            }
            if (!spool.read(cursor, body)) {
                break;  // not readable now (just dropped): next turn sends the gap
            }
            if (!send(wire::MsgType::Record, cursor, body)) {
                break;
            }
            const bool resend = cursor <= max_sent;
            if (!resend) {
                sent_at[cursor % sent_at.size()] = now;
                max_sent = cursor;
            }
            {
                std::lock_guard lk(mu);
                ++st.sent;
                st.resent += resend ? 1 : 0;
            }
            ++cursor;
        }
        return cursor != start;
    }

    // Answers the control loop has made; one that cannot be sent now (no connection) waits.
    void send_replies() {
        std::vector<std::pair<uint64_t, std::string>> out;
        {
            std::lock_guard lk(mu);
            if (replies.empty()) {
                return;
            }
            out.swap(replies);
        }
        size_t sent = 0;
        while (sent < out.size() && send(wire::MsgType::Reply, out[sent].first, out[sent].second)) {
            ++sent;
        }
        if (sent < out.size()) {
            std::lock_guard lk(mu);
            replies.insert(replies.begin(), out.begin() + static_cast<ptrdiff_t>(sent), out.end());
        }
    }

    void heartbeat(int64_t now) {
        wire::Heartbeat h;
        {
            std::lock_guard lk(mu);
            h = beat;
        }
        h.version = o.version;
        h.mode = o.mode;
        h.uptime_s = static_cast<double>(now - started) / 1e9;
        fill(h);
        if (send(wire::MsgType::Heartbeat, h.last_seq, wire::encode_heartbeat(h))) {
            std::lock_guard lk(mu);
            ++st.heartbeats;
        }
    }

    void fill(wire::Heartbeat& h) const {
        const SpoolStats s = spool.stats();
        h.last_seq = s.last_seq;
        h.acked_seq = s.acked_seq;
        h.spool_records = s.backlog;
        h.spool_bytes = s.bytes;
        h.spool_dropped = s.dropped;
    }

    void run() {
        zmq::pollitem_t item{sock.handle(), 0, ZMQ_POLLIN, 0};
        hello(mono_ns());
        bool busy = false;  // the last turn sent something: more may be ready at once
        while (!stopping.load()) {
            try {
                zmq::poll(&item, 1, std::chrono::milliseconds(busy ? 0 : 2));
            } catch (const zmq::error_t&) {
            }
            const int64_t now = mono_ns();
            receive(now);
            if (!welcomed && now - last_hello >= kHelloEveryNs) {
                hello(now);
            }
            // Records in flight and nothing heard for a while: mgmtd may be gone or may have
            // lost them with a restart. Hello again; the welcome says where to resume.
            if (welcomed && cursor > acked + 1 &&
                now - last_heard > static_cast<int64_t>(o.ack_timeout_ms) * kMs) {
                {
                    std::lock_guard lk(mu);
                    st.connected = false;
                }
                hello(now);
            }
            busy = pump(now);
            send_replies();
            if (now - last_beat >= static_cast<int64_t>(o.heartbeat_ms) * kMs) {
                last_beat = now;
                heartbeat(now);
            }
        }
    }
};

ZmqOutput::ZmqOutput(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ZmqOutput::~ZmqOutput() {
    stop();
}

Result<std::unique_ptr<ZmqOutput>> ZmqOutput::start(const ZmqOptions& o, Spool& spool,
                                                    std::FILE* log) {
    if (auto st = check_zmq_endpoint(o.endpoint, !o.curve_secret_key.empty()); !st) {
        return st.error();
    }
    auto impl = std::make_unique<Impl>(o, spool, log);
    try {
        auto& s = impl->sock;
        s.set(zmq::sockopt::linger, 0);  // what is unsent stays in the spool
        s.set(zmq::sockopt::immediate, 1);
        s.set(zmq::sockopt::sndhwm, static_cast<int>(o.window * 2 + 100));
        s.set(zmq::sockopt::reconnect_ivl, 100);
        s.set(zmq::sockopt::reconnect_ivl_max, 2000);
        if (!o.curve_secret_key.empty()) {
            char pub[41];
            if (zmq_curve_public(pub, o.curve_secret_key.c_str()) != 0) {
                return make_error(ErrorCode::BadInput,
                                  "outputs.zmq.curve: the secret key is not valid");
            }
            s.set(zmq::sockopt::curve_secretkey, o.curve_secret_key);
            s.set(zmq::sockopt::curve_publickey, std::string(pub));
            s.set(zmq::sockopt::curve_serverkey, o.curve_server_key);
        }
        s.connect(o.endpoint);
    } catch (const zmq::error_t& e) {
        return make_error(ErrorCode::BadInput,
                          "outputs.zmq.endpoint " + o.endpoint + ": " + e.what());
    }
    Impl* p = impl.get();
    impl->thread = std::thread([p] { p->run(); });
    return std::unique_ptr<ZmqOutput>(new ZmqOutput(std::move(impl)));
}

void ZmqOutput::set_heartbeat(const wire::Heartbeat& h) {
    std::lock_guard lk(impl_->mu);
    impl_->beat = h;
}

bool ZmqOutput::wait_drained(std::chrono::milliseconds timeout) {
    const uint64_t want = impl_->spool.last_seq();
    std::unique_lock lk(impl_->mu);
    return impl_->cv.wait_for(lk, timeout, [&] { return impl_->st.acked_seq >= want; });
}

void ZmqOutput::stop() {
    if (!impl_ || !impl_->thread.joinable()) {
        return;
    }
    impl_->stopping.store(true);
    impl_->thread.join();
    impl_->sock.close();
}

ZmqStats ZmqOutput::stats() const {
    std::lock_guard lk(impl_->mu);
    return impl_->st;
}

void ZmqOutput::fill_spool_fields(wire::Heartbeat& h) const {
    impl_->fill(h);
}

std::vector<ZmqOutput::Request> ZmqOutput::take_requests() {
    std::lock_guard lk(impl_->mu);
    std::vector<Request> out;
    out.swap(impl_->requests);
    return out;
}

void ZmqOutput::reply(uint64_t id, const wire::ControlReply& r) {
    std::lock_guard lk(impl_->mu);
    impl_->replies.emplace_back(id, wire::encode_reply(r));
}

Result<MgmtLink> open_mgmt_link(const SensorConfig& cfg, const std::string& sensor_id,
                                const std::string& mode, const std::string& version,
                                std::FILE* log) {
    if (!wire::valid_sensor_id(sensor_id)) {
        return make_error(
            ErrorCode::BadInput,
            cfg.path + ": sensor-id '" + sensor_id +
                "': with outputs.zmq it must be 1-64 characters of A-Z a-z 0-9 . _ -");
    }
    ZmqOptions zo;
    zo.endpoint = cfg.zmq_endpoint;
    zo.sensor_id = sensor_id;
    zo.version = version;
    zo.mode = mode;
    if (!cfg.zmq_curve_secret_key_file.empty()) {
        auto sk = read_key_file(cfg.zmq_curve_secret_key_file);
        if (!sk) {
            return sk.error();
        }
        auto pk = read_key_file(cfg.zmq_curve_server_key_file);
        if (!pk) {
            return pk.error();
        }
        zo.curve_secret_key = *sk;
        zo.curve_server_key = *pk;
    }
    SpoolOptions so;
    so.dir = cfg.zmq_spool;
    so.max_bytes = static_cast<uint64_t>(cfg.zmq_spool_max_mb) << 20;
    so.when_full =
        cfg.zmq_spool_full == "drop-newest" ? SpoolFull::DropNewest : SpoolFull::DropOldest;
    MgmtLink link;
    auto spool = Spool::open(so);
    if (!spool) {
        return spool.error();
    }
    link.spool = std::move(*spool);
    const SpoolStats st = link.spool->stats();
    if (st.recovered_torn > 0) {
        std::fprintf(log,
                     "vigil-sensor: spool %s: a torn record at the end (%llu bytes) was cut off\n",
                     so.dir.c_str(), static_cast<unsigned long long>(st.recovered_torn));
    }
    if (st.backlog > 0) {
        std::fprintf(log,
                     "vigil-sensor: spool %s: %llu records from an earlier run wait for mgmtd\n",
                     so.dir.c_str(), static_cast<unsigned long long>(st.backlog));
    }
    auto out = ZmqOutput::start(zo, *link.spool, log);
    if (!out) {
        return Error{out.error().code, cfg.path + ": " + out.error().message};
    }
    link.out = std::move(*out);
    return link;
}

bool drain_mgmt_link(MgmtLink& link, std::chrono::milliseconds timeout, std::FILE* log) {
    link.spool->sync();
    const bool all = link.out->wait_drained(timeout);
    link.out->stop();
    const SpoolStats s = link.spool->stats();
    const ZmqStats z = link.out->stats();
    if (all) {
        std::fprintf(log, "mgmtd: every record acknowledged (up to seq %llu)",
                     static_cast<unsigned long long>(s.acked_seq));
    } else {
        std::fprintf(log,
                     "mgmtd: not every record was acknowledged within %lld s: %llu records stay in "
                     "the spool %s and are sent at the next start",
                     static_cast<long long>(timeout.count() / 1000),
                     static_cast<unsigned long long>(s.backlog), link.spool->dir().c_str());
    }
    if (s.dropped > 0) {
        std::fprintf(log, "; %llu records dropped by the full spool",
                     static_cast<unsigned long long>(s.dropped));
    }
    if (z.welcomes > 1) {
        std::fprintf(log, "; %llu reconnects, %llu records resent",
                     static_cast<unsigned long long>(z.welcomes - 1),
                     static_cast<unsigned long long>(z.resent));
    }
    std::fprintf(log, "\n");
    return all;
}

}  // namespace vigil::sensor
