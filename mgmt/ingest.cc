#include "mgmt/ingest.h"

#include <zmq.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <set>
#include <vector>

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "common/clock.h"
#include "common/keyfile.h"
#include "common/wire.h"

namespace vigil::mgmt {

namespace {

constexpr int64_t kResyncEveryNs = 200'000'000;  // at most one resync per peer per 200 ms

}  // namespace

Result<IngestOptions> ingest_options(const MgmtConfig& cfg) {
    IngestOptions o;
    o.listen = cfg.listen;
    o.commit_ms = cfg.commit_ms;
    o.commit_batch = cfg.commit_batch;
    if (cfg.curve_secret_key_file.empty()) {
        return o;
    }
    auto sk = read_key_file(cfg.curve_secret_key_file);
    if (!sk) {
        return sk.error();
    }
    o.curve_secret_key = *sk;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(cfg.curve_sensor_keys_dir, ec)) {
        if (e.path().extension() != ".pub") {
            continue;
        }
        const std::string id = e.path().stem().string();
        if (!wire::valid_sensor_id(id)) {
            return make_error(ErrorCode::BadInput,
                              e.path().string() + ": the file name is not a valid sensor id");
        }
        auto pk = read_key_file(e.path().string());
        if (!pk) {
            return pk.error();
        }
        if (auto [it, fresh] = o.sensor_keys.emplace(*pk, id); !fresh) {
            return make_error(ErrorCode::BadInput,
                              e.path().string() + ": the same key as " + it->second + ".pub");
        }
    }
    if (ec) {
        return make_error(ErrorCode::BadInput,
                          cfg.curve_sensor_keys_dir + ": curve.sensor-keys-dir: " + ec.message());
    }
    return o;
}

IngestCore::IngestCore(Store& store, std::FILE* log, bool curve, uint32_t commit_batch)
    : store_(store), log_(log), curve_(curve), commit_batch_(commit_batch) {}

Status IngestCore::load() {
    auto committed = store_.committed_seqs();
    if (!committed) {
        return committed.error();
    }
    for (const auto& [id, seq] : *committed) {
        sensors_[id].committed = seq;
        sensors_[id].accepted = seq;
    }
    return Ok{};
}

void IngestCore::count_reject(const std::string& reason) {
    std::lock_guard lk(mu_);
    ++snap_.rejected[reason];
}

IngestSnapshot IngestCore::snapshot() const {
    std::lock_guard lk(mu_);
    IngestSnapshot s = snap_;
    s.sessions = sessions_.size();
    return s;
}

void IngestCore::reply(std::vector<Out>& out, const std::string& rid, int type,
                       const std::string& id, uint64_t seq, std::string body) {
    out.push_back(Out{rid, wire::encode_envelope({static_cast<wire::MsgType>(type), seq, id}),
                      std::move(body)});
}

void IngestCore::resync(std::vector<Out>& out, const std::string& rid, const std::string& id,
                        uint64_t seq, const std::string& reason) {
    const int64_t now = mono_ns();
    auto& last = last_resync_[rid];
    if (last != 0 && now - last < kResyncEveryNs) {
        return;
    }
    last = now;
    reply(out, rid, static_cast<int>(wire::MsgType::Resync), id, seq,
          "{\"reason\":\"" + reason + "\"}");
}

void IngestCore::add_to_batch(const std::string& id) {
    if (batch_.empty()) {
        batch_started_ = mono_ns();
    }
    in_batch_.insert(id);
}

void IngestCore::handle(const std::vector<std::string_view>& f, const char* user_id,
                        std::vector<Out>& out) {
    {
        std::lock_guard lk(mu_);
        ++snap_.messages;
    }
    if (f.size() != 3) {
        count_reject("malformed");
        return;
    }
    const std::string rid(f[0]);
    auto env = wire::decode_envelope(f[1]);
    if (!env) {
        count_reject("malformed");
        return;
    }
    if (f[2].size() > wire::kMaxBody) {
        count_reject("oversized");
        return;
    }
    const std::string& id = env->sensor_id;
    // With CURVE, the key the peer authenticated with names the only sensor it may speak for.
    if (curve_ && (user_id == nullptr || id != user_id)) {
        count_reject("forged sensor_id");
        return;
    }
    constexpr int kWelcome = static_cast<int>(wire::MsgType::Welcome);
    if (env->type == wire::MsgType::Hello) {
        auto h = wire::decode_hello(f[2]);
        if (!h) {
            count_reject("malformed");
            return;
        }
        // Welcome carries what is committed: commit what is pending first.
        if (in_batch_.count(id)) {
            commit(out);
        }
        auto& s = sensors_[id];
        if (!s.rid.empty() && s.rid != rid) {
            sessions_.erase(s.rid);  // the sensor restarted (or reconnected): taken over
        }
        s.rid = rid;
        s.last_seen_ns = mono_ns();
        s.accepted = s.committed;
        sessions_[rid] = id;
        reply(out, rid, kWelcome, id, s.committed);
        std::fprintf(log_, "vigil-mgmtd: sensor %s connected (version %s, committed seq %llu)\n",
                     id.c_str(), h->version.c_str(), static_cast<unsigned long long>(s.committed));
        return;
    }
    auto sess = sessions_.find(rid);
    if (sess == sessions_.end()) {
        // Records from a peer that has not said hello (mgmtd restarted under it): it must
        // start over from what is committed.
        count_reject("no session");
        auto it = sensors_.find(id);
        resync(out, rid, id, it == sensors_.end() ? 0 : it->second.committed, "hello first");
        return;
    }
    if (sess->second != id) {
        count_reject("forged sensor_id");
        return;
    }
    auto& s = sensors_[id];
    s.last_seen_ns = mono_ns();
    switch (env->type) {
        case wire::MsgType::Record: {
            const uint64_t seq = env->seq;
            if (seq <= s.accepted) {
                std::lock_guard lk(mu_);
                ++snap_.duplicates;
                s.ack_due = true;
                return;
            }
            if (seq != s.accepted + 1) {
                count_reject("seq out of range");
                resync(out, rid, id, s.accepted, "expected seq " + std::to_string(s.accepted + 1));
                return;
            }
            auto row = parse_event(id, seq, std::string(f[2]));
            add_to_batch(id);
            if (!row) {
                // Not lost silently and not blocking the stream: recorded as a gap.
                count_reject("bad record");
                batch_.gaps.push_back(
                    GapRow{id, seq, seq, "record rejected: " + row.error().message});
            } else {
                batch_.events.push_back(std::move(*row));
            }
            s.accepted = seq;
            if (batch_.events.size() >= commit_batch_) {
                commit(out);
            }
            return;
        }
        case wire::MsgType::Gap: {
            auto g = wire::decode_gap(f[2]);
            if (!g) {
                count_reject("malformed");
                return;
            }
            if (g->to <= s.accepted) {
                std::lock_guard lk(mu_);
                ++snap_.duplicates;
                s.ack_due = true;
                return;
            }
            if (g->from != s.accepted + 1 || g->to != env->seq) {
                count_reject("seq out of range");
                resync(out, rid, id, s.accepted, "expected seq " + std::to_string(s.accepted + 1));
                return;
            }
            add_to_batch(id);
            batch_.gaps.push_back(GapRow{id, g->from, g->to, g->reason});
            s.accepted = g->to;
            {
                std::lock_guard lk(mu_);
                ++snap_.gaps;
                snap_.gap_records += g->to - g->from + 1;
            }
            std::fprintf(log_, "vigil-mgmtd: sensor %s lost records %llu..%llu (%s)\n", id.c_str(),
                         static_cast<unsigned long long>(g->from),
                         static_cast<unsigned long long>(g->to), g->reason.c_str());
            return;
        }
        case wire::MsgType::Heartbeat: {
            auto h = wire::decode_heartbeat(f[2]);
            if (!h) {
                count_reject("bad heartbeat");
                return;
            }
            {
                std::lock_guard lk(mu_);
                ++snap_.heartbeats;
                snap_.heartbeats_by_sensor[id] = {wall_us(), std::string(f[2])};
            }
            add_to_batch(id);
            HeartbeatRow row{id, std::string(f[2]), h->version, wall_us()};
            for (auto& hb : batch_.heartbeats) {
                if (hb.sensor_id == id) {
                    hb = std::move(row);
                    return;
                }
            }
            batch_.heartbeats.push_back(std::move(row));
            return;
        }
        case wire::MsgType::Reply: {
            auto r = wire::decode_reply(f[2]);
            if (!r) {
                count_reject("bad reply");
                return;
            }
            if (on_reply) {
                on_reply(env->seq, id, std::move(*r));
            }
            return;
        }
        default:
            count_reject("unexpected type");
            return;
    }
}

std::vector<std::pair<std::string, uint64_t>> IngestCore::send_control(
    const wire::ControlRequest& req, std::vector<Out>& out) {
    std::vector<std::pair<std::string, uint64_t>> sent;
    const std::string body = wire::encode_control(req);
    const int64_t now = mono_ns();
    for (const auto& [rid, id] : sessions_) {
        // Only sensors heard from lately (a heartbeat a second): a session whose sensor is
        // gone would never answer.
        if (now - sensors_[id].last_seen_ns > 5'000'000'000) {
            continue;
        }
        const uint64_t n = ++next_request_;
        reply(out, rid, static_cast<int>(wire::MsgType::Control), id, n, body);
        sent.emplace_back(id, n);
    }
    return sent;
}

void IngestCore::commit(std::vector<Out>& out) {
    if (batch_.empty()) {
        in_batch_.clear();
        return;
    }
    for (const auto& id : in_batch_) {
        batch_.committed.emplace_back(id, sensors_[id].accepted);
    }
    const int64_t t0 = mono_ns();
    const auto st = store_.commit(batch_);
    const double ms = static_cast<double>(mono_ns() - t0) / 1e6;
    const size_t n = batch_.events.size();
    for (const auto& id : in_batch_) {
        auto& s = sensors_[id];
        if (st) {
            s.committed = s.accepted;
            s.ack_due = true;
        } else {
            // Nothing of the batch is stored: the sensor resends it.
            s.accepted = s.committed;
            if (!s.rid.empty()) {
                last_resync_.erase(s.rid);
                resync(out, s.rid, id, s.committed, "store error");
            }
        }
    }
    {
        std::lock_guard lk(mu_);
        if (st) {
            ++snap_.commits;
            snap_.stored += n;
            snap_.last_commit_ms = ms;
        } else {
            ++snap_.commit_errors;
        }
    }
    if (!st) {
        std::fprintf(log_,
                     "vigil-mgmtd: store: %s (%zu records not acknowledged; the sensors resend "
                     "them)\n",
                     st.error().message.c_str(), n);
    }
    // Emptied, keeping the vectors' capacity for the next batch.
    batch_.events.clear();
    batch_.gaps.clear();
    batch_.heartbeats.clear();
    batch_.committed.clear();
    in_batch_.clear();
    send_acks(out);
}

void IngestCore::send_acks(std::vector<Out>& out) {
    for (auto& [id, s] : sensors_) {
        if (s.ack_due && !s.rid.empty()) {
            reply(out, s.rid, static_cast<int>(wire::MsgType::Ack), id, s.committed);
        }
        s.ack_due = false;
    }
}

struct Ingest::Impl {
    IngestOptions o;
    Store& store;
    std::FILE* log;
    IngestCore core;
    zmq::context_t ctx{1};
    zmq::socket_t router{ctx, zmq::socket_type::router};
    std::unique_ptr<zmq::socket_t> zap;
    std::map<std::string, std::string> zap_keys;  // raw 32-byte key -> sensor_id
    std::thread thread;
    std::atomic<bool> stopping{false};
    int64_t last_retention = 0;
    std::vector<IngestCore::Out> out;
    // Control requests from the API's threads, sent by this thread; the sensors' replies.
    using Sent = std::vector<std::pair<std::string, uint64_t>>;
    std::mutex cmu;
    std::condition_variable ccv;
    std::vector<std::pair<wire::ControlRequest, std::promise<Sent>>> orders;
    std::map<uint64_t, wire::ControlReply> replies;

    void send_orders() {
        std::vector<std::pair<wire::ControlRequest, std::promise<Sent>>> todo;
        {
            std::lock_guard lk(cmu);
            todo.swap(orders);
        }
        for (auto& [req, done] : todo) {
            done.set_value(core.send_control(req, out));
        }
    }

    Impl(const IngestOptions& opts, Store& s, std::FILE* l)
        : o(opts), store(s), log(l), core(s, l, !opts.curve_secret_key.empty(), opts.commit_batch) {
        core.on_reply = [this](uint64_t id, const std::string&, wire::ControlReply r) {
            std::lock_guard lk(cmu);
            if (replies.size() < 4096) {
                replies[id] = std::move(r);
            }
            ccv.notify_all();
        };
    }

    void flush_out() {
        for (const auto& m : out) {
            try {
                router.send(zmq::buffer(m.rid),
                            zmq::send_flags::sndmore | zmq::send_flags::dontwait);
                router.send(zmq::buffer(m.envelope),
                            zmq::send_flags::sndmore | zmq::send_flags::dontwait);
                router.send(zmq::buffer(m.body), zmq::send_flags::dontwait);
            } catch (const zmq::error_t&) {
                // The peer is gone or its queue is full: it resynchronises on its own.
            }
        }
        out.clear();
    }

    void handle_zap() {
        std::vector<zmq::message_t> req;
        if (!zmq::recv_multipart(*zap, std::back_inserter(req), zmq::recv_flags::dontwait)) {
            return;
        }
        // version, request id, domain, address, identity, mechanism, credentials...
        std::string status = "400", text = "unknown key", user;
        if (req.size() >= 7 && req[5].to_string() == "CURVE" && req[6].size() == 32) {
            auto it = zap_keys.find(req[6].to_string());
            if (it != zap_keys.end()) {
                status = "200";
                text = "OK";
                user = it->second;
            }
        }
        if (status != "200") {
            core.count_reject("unknown curve key");
        }
        const std::string version = req.empty() ? "1.0" : req[0].to_string();
        const std::string id = req.size() > 1 ? req[1].to_string() : "";
        zap->send(zmq::buffer(version), zmq::send_flags::sndmore);
        zap->send(zmq::buffer(id), zmq::send_flags::sndmore);
        zap->send(zmq::buffer(status), zmq::send_flags::sndmore);
        zap->send(zmq::buffer(text), zmq::send_flags::sndmore);
        zap->send(zmq::buffer(user), zmq::send_flags::sndmore);
        zap->send(zmq::buffer(std::string()), zmq::send_flags::none);
    }

    void receive_one(std::vector<zmq::message_t>& f) {
        std::vector<std::string_view> views;
        views.reserve(f.size());
        for (const auto& m : f) {
            views.push_back(m.to_string_view());
        }
        const char* user = nullptr;
        if (!o.curve_secret_key.empty() && f.size() >= 2) {
            try {
                user = f[1].gets("User-Id");
            } catch (const zmq::error_t&) {
            }
        }
        core.handle(views, user, out);
    }

    void run() {
        std::vector<zmq::pollitem_t> items = {{router.handle(), 0, ZMQ_POLLIN, 0}};
        if (zap) {
            items.push_back({zap->handle(), 0, ZMQ_POLLIN, 0});
        }
        const int64_t commit_ns = static_cast<int64_t>(o.commit_ms) * 1000000;
        for (;;) {
            const bool stop = stopping.load();
            // At most 100 ms, so that stop() is seen promptly whatever commit-ms is.
            int64_t timeout_ms = 100;
            if (!core.batch_empty()) {
                timeout_ms = std::clamp<int64_t>(
                    (core.batch_started_ns() + commit_ns - mono_ns()) / 1000000, 0, 100);
            }
            if (stop) {
                timeout_ms = 0;
            }
            try {
                zmq::poll(items.data(), items.size(), std::chrono::milliseconds(timeout_ms));
            } catch (const zmq::error_t& e) {
                if (e.num() != EINTR) {
                    std::fprintf(log, "vigil-mgmtd: ingest: poll: %s\n", e.what());
                }
            }
            if (zap && (items[1].revents & ZMQ_POLLIN)) {
                handle_zap();
            }
            // A bounded burst per turn, so commits keep their pace under load.
            for (uint32_t i = 0; i < o.commit_batch * 2; ++i) {
                std::vector<zmq::message_t> f;
                std::optional<size_t> got;
                try {
                    got = zmq::recv_multipart(router, std::back_inserter(f),
                                              zmq::recv_flags::dontwait);
                } catch (const zmq::error_t&) {
                    break;
                }
                if (!got) {
                    break;
                }
                receive_one(f);
                if (!out.empty()) {
                    flush_out();
                }
            }
            send_orders();
            const int64_t now = mono_ns();
            if (!core.batch_empty() && (stop || now - core.batch_started_ns() >= commit_ns)) {
                core.commit(out);
            } else if (core.batch_empty()) {
                core.send_acks(out);  // duplicates seen: tell the sender where it stands
            }
            flush_out();
            if (now - last_retention >= static_cast<int64_t>(o.retention_interval_s) * 1000000000) {
                last_retention = now;
                if (auto st = store.apply_retention(wall_us()); !st) {
                    std::fprintf(log, "vigil-mgmtd: retention: %s\n", st.error().message.c_str());
                }
            }
            if (stop) {
                core.commit(out);
                flush_out();
                return;
            }
        }
    }
};

Ingest::Ingest(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Ingest::~Ingest() {
    stop();
}

Result<std::unique_ptr<Ingest>> Ingest::start(const IngestOptions& o, Store& store,
                                              std::FILE* log) {
    auto impl = std::make_unique<Impl>(o, store, log);
    if (auto st = impl->core.load(); !st) {
        return st.error();
    }
    try {
        auto& r = impl->router;
        r.set(zmq::sockopt::linger, 1000);
        r.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(wire::kMaxBody + 4096));
        r.set(zmq::sockopt::rcvhwm, 100000);
        r.set(zmq::sockopt::sndhwm, 100000);
        if (!o.curve_secret_key.empty()) {
            // The ZAP handler must be bound before the first CURVE handshake.
            impl->zap = std::make_unique<zmq::socket_t>(impl->ctx, zmq::socket_type::rep);
            impl->zap->bind("inproc://zeromq.zap.01");
            for (const auto& [z85, id] : o.sensor_keys) {
                uint8_t raw[32];
                if (zmq_z85_decode(raw, z85.c_str()) == nullptr) {
                    return make_error(ErrorCode::BadInput, "sensor key of " + id + " is not Z85");
                }
                impl->zap_keys.emplace(std::string(reinterpret_cast<char*>(raw), 32), id);
            }
            r.set(zmq::sockopt::curve_server, 1);
            r.set(zmq::sockopt::curve_secretkey, o.curve_secret_key);
            r.set(zmq::sockopt::zap_domain, "vigil");
        }
        if (o.listen.rfind("ipc://", 0) == 0) {
            std::error_code ec;
            const auto dir = std::filesystem::path(o.listen.substr(6)).parent_path();
            if (!dir.empty()) {
                std::filesystem::create_directories(dir, ec);
            }
        }
        r.bind(o.listen);
    } catch (const zmq::error_t& e) {
        return make_error(ErrorCode::Io, "listen " + o.listen + ": " + e.what());
    }
    Impl* p = impl.get();
    impl->thread = std::thread([p] { p->run(); });
    return std::unique_ptr<Ingest>(new Ingest(std::move(impl)));
}

std::vector<std::pair<std::string, uint64_t>> Ingest::send_control(
    const wire::ControlRequest& req) {
    std::future<Impl::Sent> sent;
    {
        std::lock_guard lk(impl_->cmu);
        std::promise<Impl::Sent> p;
        sent = p.get_future();
        impl_->orders.emplace_back(req, std::move(p));
    }
    // The ingest thread turns at least every 100 ms.
    if (sent.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
        return {};
    }
    return sent.get();
}

std::optional<wire::ControlReply> Ingest::wait_reply(
    uint64_t id, std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lk(impl_->cmu);
    if (!impl_->ccv.wait_until(lk, deadline, [&] { return impl_->replies.count(id) != 0; })) {
        return std::nullopt;
    }
    auto r = std::move(impl_->replies[id]);
    impl_->replies.erase(id);
    return r;
}

void Ingest::stop() {
    if (!impl_ || !impl_->thread.joinable()) {
        return;
    }
    impl_->stopping.store(true);
    impl_->thread.join();
    impl_->router.close();
    if (impl_->zap) {
        impl_->zap->close();
    }
}

IngestSnapshot Ingest::snapshot() const {
    IngestSnapshot s = impl_->core.snapshot();
    s.listen = impl_->o.listen;
    s.curve = !impl_->o.curve_secret_key.empty();
    return s;
}

}  // namespace vigil::mgmt
