// The incident notifier (mgmt/notify.h) against a real HTTP receiver on 127.0.0.1 and a real
// UDP socket for syslog: signature, retries, restart, refusals, RFC 5424, prompt shutdown.

#include "mgmt/notify.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace vigil::mgmt {
namespace {

using namespace std::chrono_literals;

const std::string kSecret = "0123456789abcdef-test-webhook-key";

class TempDir {
public:
    TempDir() {
        char tmpl[] = "/tmp/vigil-notify-test-XXXXXX";
        path_ = mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

// A socket of `type` bound to 127.0.0.1 on a free port, and that port.
int bind_loopback(int type, int& port) {
    const int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    return fd;
}

// A loopback TCP port nobody listens on (bound, read, closed): connecting is refused.
int closed_port() {
    int port = 0;
    ::close(bind_loopback(SOCK_STREAM, port));
    return port;
}

struct Received {
    std::string body;
    std::string signature;
    std::string delivery;
    std::string event;
    std::string content_type;
};

// The customer's receiver: records each POST to /hook; `status` picks each answer.
class Receiver {
public:
    // port 0: any free port.
    explicit Receiver(
        int port = 0, std::function<int(int)> status = [](int) { return 200; })
        : status_(std::move(status)) {
        srv_.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
            int n = 0;
            {
                std::lock_guard<std::mutex> lock(mu_);
                n = static_cast<int>(calls_++);
            }
            res.status = status_(n);  // unlocked: it may sleep
            std::lock_guard<std::mutex> lock(mu_);
            if (res.status >= 200 && res.status < 300) {
                got_.push_back({req.body, req.get_header_value("X-Vigil-Signature"),
                                req.get_header_value("X-Vigil-Delivery"),
                                req.get_header_value("X-Vigil-Event"),
                                req.get_header_value("Content-Type")});
            }
        });
        if (port == 0) {
            port_ = srv_.bind_to_any_port("127.0.0.1");
        } else {
            port_ = srv_.bind_to_port("127.0.0.1", port) ? port : -1;
        }
        EXPECT_GT(port_, 0);
        thread_ = std::thread([this] { srv_.listen_after_bind(); });
        while (!srv_.is_running()) {
            std::this_thread::sleep_for(1ms);
        }
    }
    ~Receiver() {
        srv_.stop();
        thread_.join();
    }
    int port() const { return port_; }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
    std::vector<Received> got() {
        std::lock_guard<std::mutex> lock(mu_);
        return got_;
    }
    size_t calls() {
        std::lock_guard<std::mutex> lock(mu_);
        return calls_;
    }
    // Waits up to `limit` for `n` delivered POSTs.
    bool wait_for(size_t n, std::chrono::milliseconds limit) {
        const auto end = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < end) {
            if (got().size() >= n) {
                return true;
            }
            std::this_thread::sleep_for(5ms);
        }
        return got().size() >= n;
    }

private:
    httplib::Server srv_;
    std::function<int(int)> status_;
    std::mutex mu_;
    size_t calls_ = 0;
    std::vector<Received> got_;
    int port_ = -1;
    std::thread thread_;
};

std::string hmac_hex(const std::string& key, const std::string& body) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
    static const char* kHex = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
        out += kHex[mac[i] >> 4];
        out += kHex[mac[i] & 15];
    }
    return out;
}

NotifyOptions options(const TempDir& dir, const std::string& url) {
    NotifyOptions o;
    o.webhook_url = url;
    o.webhook_secret = kSecret;
    o.outbox_path = dir.file("outbox.db");
    o.timeout_s = 2;
    o.backoff_initial_s = 0.1;
    o.backoff_max_s = 0.4;
    return o;
}

std::vector<DeliveryAttempt> webhook_attempts(Notifier& n, uint64_t incident) {
    auto d = n.deliveries(incident);
    EXPECT_TRUE(d.ok());
    std::vector<DeliveryAttempt> out;
    for (const Delivery& m : *d) {
        for (const DeliveryAttempt& a : m.attempts) {
            if (a.sink == "webhook") {
                out.push_back(a);
            }
        }
    }
    return out;
}

// Waits up to `limit` for `pred`.
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (pred()) {
            return true;
        }
        std::this_thread::sleep_for(5ms);
    }
    return pred();
}

const std::string kBody =
    R"({"id":7,"control":"sensor-alive","sensor":"edge-01","detected_at":"2026-12-02T07:00:00Z",)"
    R"("cause":"no heartbeat for 3 s","note":"caf\u00e9 \"quoted\""})";

TEST(Notify, DeliversSignedBodyWithDeliveryId) {
    TempDir dir;
    Receiver rx;
    auto n = Notifier::open(options(dir, rx.url()));
    ASSERT_TRUE(n.ok()) << n.error().message;
    const auto t0 = std::chrono::steady_clock::now();
    auto id = (*n)->enqueue(7, "incident.opened", kBody);
    ASSERT_TRUE(id.ok()) << id.error().message;
    ASSERT_TRUE(rx.wait_for(1, 1000ms));
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
    const Received r = rx.got().at(0);
    EXPECT_EQ(r.body, kBody);
    EXPECT_EQ(r.signature, "sha256=" + hmac_hex(kSecret, kBody));
    EXPECT_EQ(r.event, "incident.opened");
    EXPECT_EQ(r.content_type, "application/json");

    ASSERT_TRUE(eventually(
        [&] {
            auto d = (*n)->deliveries(7);
            return d.ok() && d->size() == 1 && d->at(0).webhook == SinkState::Delivered;
        },
        1000ms));
    const auto d = (*n)->deliveries(7);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->at(0).outbox_id, *id);
    EXPECT_EQ(r.delivery, d->at(0).delivery_id);
    EXPECT_TRUE(std::regex_match(r.delivery, std::regex("[0-9a-f]{16}-" + std::to_string(*id))))
        << r.delivery;
    ASSERT_EQ(d->at(0).attempts.size(), 1u);
    EXPECT_EQ(d->at(0).attempts[0].outcome, "HTTP 200");
    EXPECT_TRUE(d->at(0).attempts[0].delivered);
    EXPECT_EQ(d->at(0).syslog, SinkState::Off);
    EXPECT_TRUE((*n)->deliveries(8)->empty());
}

TEST(Notify, ReceiverDownThenUpDeliversOnce) {
    TempDir dir;
    const int port = closed_port();
    auto n = Notifier::open(options(dir, "http://127.0.0.1:" + std::to_string(port) + "/hook"));
    ASSERT_TRUE(n.ok()) << n.error().message;
    ASSERT_TRUE((*n)->enqueue(1, "incident.opened", kBody).ok());
    std::this_thread::sleep_for(2s);
    const auto failed = webhook_attempts(**n, 1);
    ASSERT_GE(failed.size(), 3u);  // 0, 0.1, 0.3, 0.7, 1.1, ... s
    for (const auto& a : failed) {
        EXPECT_FALSE(a.delivered);
        EXPECT_EQ(a.outcome, "connection refused");
    }
    auto st = (*n)->stats();
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->webhook_pending, 1u);
    EXPECT_EQ(st->webhook_failed_attempts, failed.size());

    Receiver rx(port);
    ASSERT_TRUE(rx.wait_for(1, 1500ms));  // the backoff is at most 0.4 s
    std::this_thread::sleep_for(500ms);   // nothing more comes
    EXPECT_EQ(rx.got().size(), 1u);
    EXPECT_EQ(rx.got().at(0).body, kBody);
    ASSERT_TRUE(eventually([&] { return (*n)->stats()->webhook_delivered == 1; }, 1000ms));
    EXPECT_EQ((*n)->stats()->webhook_pending, 0u);
}

TEST(Notify, ServerErrorsAreRetriedUntil2xx) {
    TempDir dir;
    Receiver rx(0, [](int call) { return call < 2 ? 503 : 200; });
    auto n = Notifier::open(options(dir, rx.url()));
    ASSERT_TRUE(n.ok()) << n.error().message;
    ASSERT_TRUE((*n)->enqueue(3, "incident.opened", kBody).ok());
    ASSERT_TRUE(rx.wait_for(1, 2000ms));
    ASSERT_TRUE(eventually([&] { return webhook_attempts(**n, 3).size() == 3; }, 1000ms));
    std::this_thread::sleep_for(300ms);
    const auto a = webhook_attempts(**n, 3);
    ASSERT_EQ(a.size(), 3u);
    EXPECT_EQ(a[0].outcome, "HTTP 503");
    EXPECT_FALSE(a[0].delivered);
    EXPECT_EQ(a[1].outcome, "HTTP 503");
    EXPECT_EQ(a[2].outcome, "HTTP 200");
    EXPECT_TRUE(a[2].delivered);
    EXPECT_LE(a[0].at_us, a[1].at_us);
    EXPECT_LE(a[1].at_us, a[2].at_us);
    EXPECT_EQ(rx.calls(), 3u);
    EXPECT_EQ(rx.got().size(), 1u);
    EXPECT_EQ((*n)->deliveries(3)->at(0).webhook, SinkState::Delivered);
}

TEST(Notify, PendingMessageSurvivesRestartInOrder) {
    TempDir dir;
    const int port = closed_port();
    const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/hook";
    uint64_t first = 0;
    {
        auto n = Notifier::open(options(dir, url));
        ASSERT_TRUE(n.ok()) << n.error().message;
        first = *(*n)->enqueue(4, "incident.opened", kBody);
        ASSERT_TRUE((*n)->enqueue(4, "incident.restored", R"({"id":4,"restored":true})").ok());
        ASSERT_TRUE(eventually([&] { return !webhook_attempts(**n, 4).empty(); }, 1000ms));
    }
    Receiver rx(port);
    auto n = Notifier::open(options(dir, url));
    ASSERT_TRUE(n.ok()) << n.error().message;
    ASSERT_TRUE(rx.wait_for(2, 1000ms));
    std::this_thread::sleep_for(300ms);
    const auto got = rx.got();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].body, kBody);
    EXPECT_EQ(got[0].event, "incident.opened");
    EXPECT_EQ(got[1].event, "incident.restored");
    ASSERT_TRUE(eventually([&] { return (*n)->stats()->webhook_delivered == 2; }, 1000ms));
    const auto d = (*n)->deliveries(4);
    ASSERT_TRUE(d.ok());
    ASSERT_EQ(d->size(), 2u);
    EXPECT_EQ(d->at(0).outbox_id, first);
    EXPECT_EQ(got[0].delivery, d->at(0).delivery_id);
    // The first process's refused attempts are kept, then the delivery.
    ASSERT_GE(d->at(0).attempts.size(), 2u);
    EXPECT_EQ(d->at(0).attempts.front().outcome, "connection refused");
    EXPECT_TRUE(d->at(0).attempts.back().delivered);
}

TEST(Notify, BadOptionsAreRefusedWithReasons) {
    TempDir dir;
    const auto refused = [&](const std::string& url, const std::string& why) {
        auto n = Notifier::open(options(dir, url));
        ASSERT_FALSE(n.ok()) << url;
        EXPECT_EQ(n.error().code, ErrorCode::BadInput);
        EXPECT_NE(n.error().message.find(why), std::string::npos)
            << url << ": " << n.error().message;
    };
    refused("ftp://127.0.0.1/hook", "expected https://");
    refused("http://soc.example.org/vigil", "plaintext http only to a loopback host");
    refused("http://10.0.0.1:8080/vigil", "plaintext http only to a loopback host");
    refused("https:///vigil", "no host");
    refused("https://", "no host");
    refused("https://:8443/vigil", "no host");
    refused("https://soc.example.org:99999/vigil", "port '99999'");
    refused("https://user:pw@soc.example.org/vigil", "no user or password");
    refused("https://soc.example.org/vigil#x", "fragment");
    refused("https://soc example.org/vigil", "spaces");

    auto ok = parse_webhook_url("https://soc.example.org/vigil");
    ASSERT_TRUE(ok.ok());
    EXPECT_TRUE(ok->tls);
    EXPECT_EQ(ok->host, "soc.example.org");
    EXPECT_EQ(ok->port, 443);
    EXPECT_EQ(ok->path, "/vigil");
    auto v6 = parse_webhook_url("http://[::1]:8080");
    ASSERT_TRUE(v6.ok()) << v6.error().message;
    EXPECT_EQ(v6->host, "[::1]");
    EXPECT_EQ(v6->port, 8080);
    EXPECT_EQ(v6->path, "/");

    NotifyOptions o = options(dir, "https://soc.example.org/vigil");
    o.webhook_secret = "short";
    auto weak = Notifier::open(o);
    ASSERT_FALSE(weak.ok());
    EXPECT_NE(weak.error().message.find("at least 16"), std::string::npos);
    o = options(dir, "");
    o.syslog_address = "udp://192.0.2.1:514";
    auto remote = Notifier::open(o);
    ASSERT_FALSE(remote.ok());
    EXPECT_NE(remote.error().message.find("only a loopback host"), std::string::npos);
    o.syslog_address = "tcp://127.0.0.1:514";
    EXPECT_FALSE(Notifier::open(o).ok());

    auto n = Notifier::open(options(dir, ""));
    ASSERT_TRUE(n.ok());
    EXPECT_EQ((*n)->enqueue(1, "incident opened", "{}").error().code, ErrorCode::BadInput);
    EXPECT_EQ((*n)->enqueue(1, "incident.opened", "{not json").error().code, ErrorCode::BadInput);
}

TEST(Notify, SyslogLineIsRfc5424) {
    TempDir dir;
    int port = 0;
    const int fd = bind_loopback(SOCK_DGRAM, port);
    timeval tv{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

    NotifyOptions o = options(dir, "");
    o.syslog_address = "udp://127.0.0.1:" + std::to_string(port);
    o.syslog_hostname = "mgmt-01";
    auto n = Notifier::open(o);
    ASSERT_TRUE(n.ok()) << n.error().message;
    const std::string multiline = "{\n  \"id\": 9,\n  \"restored\": true\n}";
    ASSERT_TRUE((*n)->enqueue(9, "incident.opened", kBody).ok());
    ASSERT_TRUE((*n)->enqueue(9, "incident.restored", multiline).ok());

    const std::regex rfc5424(
        R"(<(\d{1,3})>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z) (\S+) vigil-mgmtd - (\S+) - (.*))");
    std::vector<std::string> raw(2);
    for (std::string& line : raw) {
        char buf[65536];
        const ssize_t got = ::recv(fd, buf, sizeof buf, 0);
        ASSERT_GT(got, 0) << "no syslog datagram";
        line.assign(buf, static_cast<size_t>(got));
    }
    ::close(fd);
    std::smatch m0;
    ASSERT_TRUE(std::regex_match(raw[0], m0, rfc5424)) << raw[0];
    EXPECT_EQ(m0[1], "131");  // local0 (16) * 8 + err (3)
    EXPECT_EQ(m0[3], "mgmt-01");
    EXPECT_EQ(m0[4], "incident.opened");
    EXPECT_EQ(m0[5], kBody);
    std::smatch m1;
    ASSERT_TRUE(std::regex_match(raw[1], m1, rfc5424)) << raw[1];
    EXPECT_EQ(m1[1], "133");  // local0 * 8 + notice (5)
    EXPECT_EQ(m1[4], "incident.restored");
    EXPECT_EQ(m1[5], "{   \"id\": 9,   \"restored\": true }");

    ASSERT_TRUE(eventually([&] { return (*n)->stats()->syslog_sent == 2; }, 1000ms));
    const auto d = (*n)->deliveries(9);
    ASSERT_TRUE(d.ok());
    ASSERT_EQ(d->size(), 2u);
    EXPECT_EQ(d->at(0).syslog, SinkState::Delivered);
    EXPECT_EQ(d->at(0).webhook, SinkState::Off);
    ASSERT_EQ(d->at(0).attempts.size(), 1u);
    EXPECT_EQ(d->at(0).attempts[0].sink, "syslog");
    EXPECT_TRUE(d->at(0).attempts[0].delivered);
}

TEST(Notify, DestructionDuringLongBackoffIsPrompt) {
    TempDir dir;
    NotifyOptions o = options(dir, "http://127.0.0.1:" + std::to_string(closed_port()) + "/hook");
    o.backoff_initial_s = 30;
    o.backoff_max_s = 60;
    auto n = Notifier::open(o);
    ASSERT_TRUE(n.ok()) << n.error().message;
    ASSERT_TRUE((*n)->enqueue(5, "incident.opened", kBody).ok());
    ASSERT_TRUE(eventually([&] { return webhook_attempts(**n, 5).size() == 1; }, 1000ms));
    const auto t0 = std::chrono::steady_clock::now();
    n->reset();
    const auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_LT(took, 100ms) << std::chrono::duration<double>(took).count() << " s";
}

TEST(Notify, DestructionAbortsPostInFlightWithoutAnAttempt) {
    TempDir dir;
    // Answers after 2 s; the Notifier waits up to 5 s for it.
    Receiver rx(0, [](int) {
        std::this_thread::sleep_for(2s);
        return 200;
    });
    NotifyOptions o = options(dir, rx.url());
    o.timeout_s = 5;
    {
        auto n = Notifier::open(o);
        ASSERT_TRUE(n.ok()) << n.error().message;
        ASSERT_TRUE((*n)->enqueue(6, "incident.opened", kBody).ok());
        ASSERT_TRUE(eventually([&] { return rx.calls() == 1; }, 1000ms));
        const auto t0 = std::chrono::steady_clock::now();
        n->reset();
        const auto took = std::chrono::steady_clock::now() - t0;
        EXPECT_LT(took, 500ms) << std::chrono::duration<double>(took).count() << " s";
    }
    NotifyOptions quiet = options(dir, "");  // reopen without sending, to read the outbox
    auto n = Notifier::open(quiet);
    ASSERT_TRUE(n.ok()) << n.error().message;
    const auto d = (*n)->deliveries(6);
    ASSERT_TRUE(d.ok());
    ASSERT_EQ(d->size(), 1u);
    EXPECT_EQ(d->at(0).webhook, SinkState::Pending);
    EXPECT_TRUE(d->at(0).attempts.empty());
}

}  // namespace
}  // namespace vigil::mgmt
