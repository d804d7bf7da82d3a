#include "sensor/enforcer.h"

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <set>
#include <string_view>

#include "common/clock.h"

namespace vigil::sensor {

namespace {

constexpr int64_t kMs = 1000000;

}  // namespace

uint32_t rule_block_timeout(const std::vector<std::string>& metadata) {
    static constexpr std::string_view kKey = "vigil_block_timeout";
    for (const auto& m : metadata) {
        if (m.rfind(kKey, 0) != 0 || m.size() <= kKey.size() || m[kKey.size()] != ' ') {
            continue;
        }
        const std::string v = m.substr(kKey.size() + 1);
        char* end = nullptr;
        const unsigned long n = std::strtoul(v.c_str(), &end, 10);
        if (end != v.c_str() && *end == '\0' && n > 0 && n <= 31536000) {
            return static_cast<uint32_t>(n);
        }
    }
    return 0;
}

std::string format_enforcement(const EnforcerStats& s, uint64_t drop_records) {
    auto pct = [&](double q) -> uint32_t {
        if (s.latency_us.empty()) {
            return 0;
        }
        std::vector<uint32_t> v = s.latency_us;
        const size_t k =
            std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
        std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
        return v[k];
    };
    char line[640];
    std::snprintf(
        line, sizeof(line),
        "  nftables   %s; %llu block request(s) from %llu drop record(s): %llu added "
        "in %llu batch(es), %llu already blocked, %llu allowlisted, %llu refused (set "
        "full); %llu repair(s) after tampering, %llu netlink failure(s)\n",
        s.healthy ? "enforcing" : ("FAILED: " + s.last_error).c_str(),
        static_cast<unsigned long long>(s.requested), static_cast<unsigned long long>(drop_records),
        static_cast<unsigned long long>(s.added), static_cast<unsigned long long>(s.batches),
        static_cast<unsigned long long>(s.deduplicated),
        static_cast<unsigned long long>(s.allowlisted),
        static_cast<unsigned long long>(s.refused_full), static_cast<unsigned long long>(s.repairs),
        static_cast<unsigned long long>(s.failures));
    std::string out = line;
    if (!s.latency_us.empty()) {
        std::snprintf(line, sizeof(line),
                      "             verdict to kernel: p50 %.2f ms, p99 %.2f ms (%zu blocks)\n",
                      pct(0.5) / 1000.0, pct(0.99) / 1000.0, s.latency_us.size());
        out += line;
    }
    return out;
}

Enforcer::Enforcer(const EnforcerConfig& cfg, std::FILE* log) : cfg_(cfg), log_(log) {}

Enforcer::~Enforcer() = default;

Result<std::unique_ptr<Enforcer>> Enforcer::create(const EnforcerConfig& cfg, std::FILE* log) {
    std::unique_ptr<Enforcer> e(new Enforcer(cfg, log));
    for (const auto& cidr : cfg.allowlist) {
        if (auto st = e->allow_.add(cidr); !st) {
            return Error{ErrorCode::BadInput, "ips.nft.allowlist: " + st.error().message};
        }
    }
    e->connect();
    return e;
}

void Enforcer::fail(const std::string& what, const Error& e) {
    ++stats_.failures;
    const std::string msg = what + ": " + e.message;
    if (stats_.healthy || msg != stats_.last_error) {
        std::fprintf(log_,
                     "vigil-sensor: enforcement FAILED: %s; detection and alerts go on, blocks are "
                     "kept and retried every %u ms\n",
                     msg.c_str(), cfg_.retry_ms);
        std::fflush(log_);
    }
    stats_.healthy = false;
    stats_.last_error = msg;
    client_.reset();
    next_retry_ns_ = mono_ns() + static_cast<int64_t>(cfg_.retry_ms) * kMs;
}

nft::Element Enforcer::element(const dataplane::IpAddr& addr, const Active& a, int64_t now) {
    nft::Element e;
    e.addr = addr;
    e.timeout_ms = static_cast<uint64_t>((a.expiry_ns - now) / kMs) + 1;
    e.comment = "vigil sid " + std::to_string(a.sid);
    return e;
}

bool Enforcer::connect() {
    auto c = nft::Client::open(cfg_.table);
    if (!c) {
        fail("nftables", c.error());
        return false;
    }
    client_ = std::move(c.value());
    if (auto st = client_->ensure(); !st) {
        fail("creating table inet " + cfg_.table, st.error());
        return false;
    }
    if (!stats_.healthy && !stats_.last_error.empty()) {
        std::fprintf(log_, "vigil-sensor: enforcement restored (table inet %s)\n",
                     cfg_.table.c_str());
        std::fflush(log_);
    }
    stats_.healthy = true;
    stats_.last_error.clear();
    next_check_ns_ = mono_ns() + static_cast<int64_t>(cfg_.check_ms) * kMs;
    // Blocks decided while enforcement was down go out now, with their remaining time.
    const int64_t now = mono_ns();
    std::set<dataplane::IpAddr> queued;
    for (const auto& p : pending_) {
        queued.insert(p.elem.addr);
    }
    for (const auto& [addr, a] : active_) {
        if (a.expiry_ns > now && queued.count(addr) == 0) {
            Pending p;
            p.elem = element(addr, a, now);
            pending_.push_back(std::move(p));
        }
    }
    return true;
}

void Enforcer::block(const dataplane::IpAddr& src, uint32_t timeout_s, uint32_t sid,
                     int64_t verdict_ns) {
    ++stats_.requested;
    if (allow_.contains(src)) {
        ++stats_.allowlisted;
        return;
    }
    const int64_t now = mono_ns();
    auto it = active_.find(src);
    if (it != active_.end() && it->second.expiry_ns > now) {
        ++stats_.deduplicated;
        return;
    }
    if (it == active_.end() && active_.size() >= cfg_.max_elements) {
        // Make room from expired entries before refusing.
        std::erase_if(active_, [&](const auto& kv) { return kv.second.expiry_ns <= now; });
        if (active_.size() >= cfg_.max_elements) {
            ++stats_.refused_full;
            return;
        }
    }
    const uint32_t secs = timeout_s != 0 ? timeout_s : cfg_.block_timeout_s;
    const Active a{now + static_cast<int64_t>(secs) * 1000 * kMs, sid};
    active_[src] = a;
    Pending p;
    p.elem = element(src, a, now);
    p.elem.timeout_ms = static_cast<uint64_t>(secs) * 1000;  // exactly the block's length
    p.verdict_ns = verdict_ns != 0 ? verdict_ns : now;
    if (pending_.empty()) {
        first_pending_ns_ = now;
    }
    pending_.push_back(std::move(p));
}

void Enforcer::flush() {
    if (pending_.empty() || !client_) {
        return;
    }
    std::vector<nft::Element> elems;
    elems.reserve(pending_.size());
    for (const auto& p : pending_) {
        elems.push_back(p.elem);
    }
    ++stats_.batches;
    if (auto st = client_->add(elems); !st) {
        fail("adding " + std::to_string(elems.size()) + " block(s)", st.error());
        return;  // kept in active_: re-sent after reconnect
    }
    const int64_t done = mono_ns();
    stats_.added += elems.size();
    for (const auto& p : pending_) {
        if (p.verdict_ns != 0 && stats_.latency_us.size() < 1000000) {
            stats_.latency_us.push_back(static_cast<uint32_t>((done - p.verdict_ns) / 1000));
        }
    }
    pending_.clear();
}

void Enforcer::check_table() {
    auto st = client_->check();
    if (!st) {
        fail("checking table inet " + cfg_.table, st.error());
        return;
    }
    if (st->ok) {
        return;
    }
    ++stats_.repairs;
    stats_.last_problem = st->problem;
    std::fprintf(log_,
                 "vigil-sensor: enforcement tampered with: %s; re-creating table inet %s and "
                 "its %zu active block(s)\n",
                 st->problem.c_str(), cfg_.table.c_str(), active_.size());
    std::fflush(log_);
    // ensure() keeps what survived in the sets; our own record puts back what did not.
    if (auto e = client_->ensure(); !e) {
        fail("re-creating table inet " + cfg_.table, e.error());
        return;
    }
    const int64_t now = mono_ns();
    std::vector<nft::Element> back;
    for (const auto& [addr, a] : active_) {
        if (a.expiry_ns > now) {
            back.push_back(element(addr, a, now));
        }
    }
    if (!back.empty()) {
        if (auto a = client_->add(back); !a) {
            fail("re-adding blocks", a.error());
            return;
        }
        stats_.reapplied += back.size();
    }
}

void Enforcer::tick() {
    const int64_t now = mono_ns();
    if (!client_) {
        if (now >= next_retry_ns_) {
            connect();
        }
        return;
    }
    if (!pending_.empty() && now - first_pending_ns_ >= static_cast<int64_t>(cfg_.batch_ms) * kMs) {
        flush();
    }
    if (client_ && cfg_.check_ms != 0 && now >= next_check_ns_) {
        next_check_ns_ = now + static_cast<int64_t>(cfg_.check_ms) * kMs;
        check_table();
    }
}

void Enforcer::shutdown() {
    flush();
    if (client_ && !cfg_.keep_on_exit) {
        if (auto st = client_->remove_table(); !st) {
            fail("removing table inet " + cfg_.table, st.error());
        }
    }
}

}  // namespace vigil::sensor
