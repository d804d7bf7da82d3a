// mgmt_bench: the management plane, measured in one run (the machines are shared and noisy:
// compare the ratios, not the absolute numbers).
//
//   1. sustained: N realistic EVE alerts appended as fast as possible to a sensor::Spool (in a
//      temp dir) with a sensor::ZmqOutput sending them to a real vigil-mgmtd child process over
//      ipc://; time from the first append until ZmqOutput::wait_drained (every record
//      acknowledged, so committed): alerts/s and MB/s of EVE.
//   2. ack latency (first send -> ack, ZmqOutput::stats) of that run and of a paced run
//      (--paced-rate alerts/s for --paced-seconds) where queueing does not dominate.
//   3. bytes stored per alert: the store's files after mgmtd's SIGTERM / alerts, against the
//      average EVE record.
//   4. store only: the same records through mgmt::parse_event into mgmt::open_sqlite_store
//      in batches of store.commit-batch (as the ingest does), in-process; the ratio end-to-end /
//      store-only.
//   5. queries over a store of M alerts (built once with SqliteStore::commit and cached): GET
//      /api/v1/alerts by sid, its second page (next_cursor), by src; p50/p99/max.

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "mgmt/config.h"
#include "mgmt/store.h"
#include "sensor/spool.h"
#include "sensor/zmq_output.h"

#include <nlohmann/json.hpp>

using namespace vigil;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

const uint32_t kBatch = vigil::mgmt::MgmtConfig{}.commit_batch;     // the ingest's commit batch
const uint32_t kSensorWindow = vigil::sensor::ZmqOptions{}.window;  // vigil-sensor's
constexpr double kTargetAlertsPerSec = 100000;
constexpr double kTargetQueryP99Ms = 50;

double secs_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

int64_t wall_now_us() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

// ---------------------------------------------------------------------------------------------
// Realistic EVE alert records, as vigil-sensor's EveWriter writes them (field order included),
// with the app-layer object of the flow and the rule's ET-style metadata.

void put_num(std::string& o, const char* key, uint64_t v) {
    o += '"';
    o += key;
    o += "\":";
    o += std::to_string(v);
    o += ',';
}
void put_str(std::string& o, const char* key, std::string_view v) {
    o += '"';
    o += key;
    o += "\":\"";
    o += v;
    o += "\",";
}
void close_obj(std::string& o) {
    if (o.back() == ',') {
        o.back() = '}';
    } else {
        o += '}';
    }
}

std::string eve_time(int64_t us) {
    const time_t t = static_cast<time_t>(us / 1000000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06u+0000", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<unsigned>(us % 1000000));
    return buf;
}

std::string ipv4(uint32_t a) {
    char buf[16];
    std::snprintf(buf, sizeof(buf), "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255,
                  a & 255);
    return buf;
}

uint64_t mix64(uint64_t x) {  // splitmix64's finaliser
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

class EveGen {
public:
    static constexpr uint32_t kSids = 5000;
    static constexpr uint32_t kInternal = 20000;  // protected hosts, 10.0.0.0/8
    static constexpr uint32_t kExternal = 50000;  // hosts on the other side

    explicit EveGen(uint64_t seed) : rng_(seed) {
        static const char* kCats[][2] = {
            {"MALWARE", "A Network Trojan was detected"},
            {"POLICY", "Potential Corporate Privacy Violation"},
            {"SCAN", "Detection of a Network Scan"},
            {"EXPLOIT", "Attempted Administrator Privilege Gain"},
            {"WEB_SERVER", "Web Application Attack"},
            {"INFO", "Misc activity"},
            {"HUNTING", "Potentially Bad Traffic"},
            {"PHISHING", "Successful Credential Theft Detected"},
            {"DNS", "Potentially Bad Traffic"},
            {"USER_AGENTS", "A suspicious string was detected"},
        };
        static const char* kWords[] = {
            "Possible", "Suspicious", "Observed", "Inbound", "Outbound", "CnC",      "Checkin",
            "Request",  "Response",   "Win32",    "Linux",   "Trojan",   "Loader",   "Stealer",
            "Beacon",   "Activity",   "Domain",   "Lookup",  "POST",     "GET",      "to",
            "Known",    "Malicious",  "SSL",      "Cert",    "Exploit",  "Attempt",  "CVE-2023",
            "Shell",    "Upload",     "Download", "Payload", "Agent",    "Backdoor", "Scanner"};
        static const char* kTargets[] = {"Client_Endpoint", "Web_Server", "Server", "Networking"};
        static const char* kSeverity[] = {"Major", "Minor", "Informational", "Critical"};
        sigs_.reserve(kSids);
        for (uint32_t k = 0; k < kSids; ++k) {
            const uint64_t h = mix64(k);
            const auto& cat = kCats[h % std::size(kCats)];
            Sig s;
            s.sid = 2010000 + 9 * k;
            s.rev = 1 + static_cast<uint32_t>((h >> 8) % 12);
            s.severity = 1 + static_cast<uint32_t>((h >> 16) % 3);
            s.signature = std::string("ET ") + cat[0];
            const int words = 3 + static_cast<int>((h >> 20) % 4);
            for (int w = 0; w < words; ++w) {
                s.signature += ' ';
                s.signature += kWords[(h >> (24 + 3 * w)) % std::size(kWords)];
            }
            s.signature += " M" + std::to_string(1 + (h >> 50) % 4);
            s.category = cat[1];
            const unsigned created_y = 2015 + static_cast<unsigned>((h >> 40) % 9);
            char md[512];
            std::snprintf(
                md, sizeof(md),
                "\"metadata\":{\"attack_target\":[\"%s\"],\"created_at\":[\"%u_%02u_%02u\"],"
                "\"signature_severity\":[\"%s\"],\"updated_at\":[\"%u_%02u_%02u\"]},",
                kTargets[(h >> 47) % std::size(kTargets)], created_y,
                1 + static_cast<unsigned>((h >> 52) % 12),
                1 + static_cast<unsigned>((h >> 56) % 28),
                kSeverity[(h >> 60) % std::size(kSeverity)], created_y + 1,
                1 + static_cast<unsigned>((h >> 33) % 12),
                1 + static_cast<unsigned>((h >> 37) % 28));
            if ((h >> 62) % 2 == 0) {  // half the rules carry metadata
                s.metadata = md;
            }
            sigs_.push_back(std::move(s));
        }
    }

    // One alert record of sensor `host` at `ts_us`, in `o`; with `row`, also the fields the
    // store indexes, as mgmt::parse_event would find them (eve left empty).
    void alert(std::string& o, const std::string& host, int64_t ts_us,
               mgmt::EventRow* row = nullptr) {
        // A few rules fire most of the alerts: rule k with density ~ k^(-2/3).
        const double u = uni(rng_);
        const Sig& s =
            sigs_[std::min<uint32_t>(kSids - 1, static_cast<uint32_t>(u * u * u * kSids))];
        const bool inbound = uni(rng_) < 0.6;
        const std::string inside = internal(static_cast<uint32_t>(pow2(uni(rng_)) * kInternal));
        const std::string outside = external(static_cast<uint32_t>(pow2(uni(rng_)) * kExternal));
        const uint32_t app = static_cast<uint32_t>(rng_() % 10);  // 0-3 http, 4-6 tls, 7 dns
        static const uint16_t kPorts[] = {8080, 80, 80, 80, 443, 443, 443, 53, 445, 22};
        const uint16_t server_port = kPorts[app];
        const uint16_t client_port = static_cast<uint16_t>(1024 + rng_() % 64000);
        const bool to_server = uni(rng_) < 0.8;
        // The flow: client `inbound ? outside : inside` to the server on the other side.
        const std::string& client = inbound ? outside : inside;
        const std::string& server = inbound ? inside : outside;
        const std::string& src = to_server ? client : server;
        const std::string& dst = to_server ? server : client;
        const uint16_t sport = to_server ? client_port : server_port;
        const uint16_t dport = to_server ? server_port : client_port;
        const char* proto = app == 7 ? "UDP" : "TCP";

        o.clear();
        o += '{';
        put_str(o, "timestamp", eve_time(ts_us));
        put_num(o, "flow_id", rng_() & ((1ull << 51) - 1));
        put_str(o, "in_iface", "ens1f0");
        put_str(o, "event_type", "alert");
        put_str(o, "src_ip", src);
        put_num(o, "src_port", sport);
        put_str(o, "dest_ip", dst);
        put_num(o, "dest_port", dport);
        put_str(o, "proto", proto);
        put_str(o, "pkt_src", "wire/pcap");
        put_str(o, "direction", to_server ? "to_server" : "to_client");
        put_str(o, "host", host);
        o += "\"alert\":{";
        put_str(o, "action", "allowed");
        put_num(o, "gid", 1);
        put_num(o, "signature_id", s.sid);
        put_num(o, "rev", s.rev);
        put_str(o, "signature", s.signature);
        put_str(o, "category", s.category);
        put_num(o, "severity", s.severity);
        o += s.metadata;
        close_obj(o);
        o += ',';
        const uint64_t r = rng_();
        if (app < 4) {
            static const char* kUa[] = {
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
                "Gecko) Chrome/120.0.0.0 Safari/537.36",
                "curl/7.88.1",
                "python-requests/2.31.0",
                "Go-http-client/1.1",
                "Wget/1.21.3",
                "Microsoft-CryptoAPI/10.0"};
            static const char* kPath[] = {"/",
                                          "/index.php",
                                          "/wp-login.php",
                                          "/api/v2/update",
                                          "/static/js/app.js",
                                          "/gate.php",
                                          "/images/logo.png"};
            put_str(o, "app_proto", "http");
            o += "\"http\":{";
            put_str(o, "hostname",
                    "www" + std::to_string(r % 97) + ".example-" + std::to_string((r >> 8) % 5000) +
                        ".com");
            put_str(o, "url",
                    std::string(kPath[(r >> 20) % std::size(kPath)]) +
                        "?id=" + std::to_string((r >> 24) % 1000000));
            put_str(o, "http_user_agent", kUa[(r >> 44) % std::size(kUa)]);
            put_str(o, "http_method", (r >> 48) % 4 == 0 ? "POST" : "GET");
            put_num(o, "status", (r >> 50) % 5 == 0 ? 404 : 200);
            put_num(o, "length", (r >> 32) % 60000);
            close_obj(o);
            o += ',';
        } else if (app < 7) {
            put_str(o, "app_proto", "tls");
            o += "\"tls\":{";
            const std::string name = "srv" + std::to_string(r % 500) + ".cdn-" +
                                     std::to_string((r >> 12) % 3000) + ".net";
            put_str(o, "subject", "CN=" + name);
            put_str(o, "issuerdn", "C=US, O=Let's Encrypt, CN=R3");
            put_str(o, "sni", name);
            put_str(o, "version", (r >> 30) % 3 == 0 ? "TLS 1.2" : "TLS 1.3");
            char ja3[40];
            std::snprintf(ja3, sizeof(ja3), "%016llx%016llx",
                          static_cast<unsigned long long>(mix64(r % 300)),
                          static_cast<unsigned long long>(mix64(r % 300 + 1)));
            o += "\"ja3\":{";
            put_str(o, "hash", ja3);
            close_obj(o);
            o += ',';
            close_obj(o);
            o += ',';
        } else if (app == 7) {
            put_str(o, "app_proto", "dns");
            o += "\"dns\":{";
            put_str(o, "type", "query");
            put_num(o, "id", r % 65536);
            put_str(o, "rrname",
                    "x" + std::to_string((r >> 16) % 100000) + ".badzone-" +
                        std::to_string((r >> 40) % 200) + ".org");
            put_str(o, "rrtype", "A");
            put_num(o, "tx_id", 0);
            close_obj(o);
            o += ',';
        }
        o += "\"flow\":{";
        const uint64_t f = rng_();
        put_num(o, "pkts_toserver", 1 + f % 40);
        put_num(o, "pkts_toclient", (f >> 8) % 40);
        put_num(o, "bytes_toserver", 60 + (f >> 16) % 40000);
        put_num(o, "bytes_toclient", (f >> 32) % 400000);
        put_str(o, "start", eve_time(ts_us - static_cast<int64_t>((f >> 48) % 30000000)));
        put_str(o, "src_ip", client);
        put_str(o, "dest_ip", server);
        put_num(o, "src_port", client_port);
        put_num(o, "dest_port", server_port);
        close_obj(o);
        o += ',';
        close_obj(o);
        if (row) {
            row->ts_us = ts_us;
            row->event_type = "alert";
            row->gid = 1;
            row->sid = s.sid;
            row->src_ip = src;
            row->dest_ip = dst;
            row->src_port = sport;
            row->dest_port = dport;
            row->proto = proto;
            row->action = "allowed";
        }
    }

    // For queries: a sid of the catalogue, a source address that alerts may carry.
    uint32_t random_sid(std::mt19937_64& r) const { return sigs_[r() % kSids].sid; }
    static std::string random_src(std::mt19937_64& r) {
        return r() % 2 == 0 ? internal(static_cast<uint32_t>(r() % kInternal))
                            : external(static_cast<uint32_t>(r() % kExternal));
    }

private:
    struct Sig {
        uint32_t sid = 0, rev = 0, severity = 0;
        std::string signature, category, metadata;
    };
    static double pow2(double x) { return x * x; }
    static std::string internal(uint32_t i) { return ipv4((10u << 24) | (i * 37 % (1u << 20))); }
    static std::string external(uint32_t i) {
        const uint32_t h = static_cast<uint32_t>(mix64(i + 1000003));
        const uint32_t first = 11 + (h >> 24) % 212;  // 11..222
        return ipv4((first == 127 ? 128u : first) << 24 | (h & 0xffffff));
    }

    std::mt19937_64 rng_;
    std::uniform_real_distribution<double> uni{0.0, 1.0};
    std::vector<Sig> sigs_;
};

// N records in one buffer.
struct Records {
    std::string blob;
    std::vector<size_t> off{0};
    size_t size() const { return off.size() - 1; }
    std::string_view at(size_t i) const { return {blob.data() + off[i], off[i + 1] - off[i]}; }
};

// ---------------------------------------------------------------------------------------------
// Child processes: vigil-mgmtd (its output to a log file) and vigilctl (stdout captured).

std::vector<pid_t> g_children;

pid_t start_mgmtd(const std::string& bin, const std::string& config, const std::string& log) {
    const pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);  // the bench dies: so does its mgmtd
        const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(bin.c_str(), "vigil-mgmtd", "--config", config.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    if (pid > 0) {
        g_children.push_back(pid);
    }
    return pid;
}

// SIGTERM (mgmtd commits and exits), waits up to `timeout_s`, then SIGKILL. The exit status
// (-1 when killed).
int stop_child(pid_t pid, int timeout_s) {
    std::erase(g_children, pid);
    kill(pid, SIGTERM);
    int status = 0;
    for (int i = 0; i < timeout_s * 100; ++i) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

std::string tail_of(const std::string& path) {
    std::ifstream f(path);
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    return s.size() > 2000 ? s.substr(s.size() - 2000) : s;
}

// Until the API answers (any status: 401 without a token); false when mgmtd exited.
bool wait_ready(pid_t pid, uint16_t port, const std::string& log) {
    for (int i = 0; i < 600; ++i) {
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            std::erase(g_children, pid);
            std::fprintf(stderr, "mgmt_bench: vigil-mgmtd exited at start:\n%s\n",
                         tail_of(log).c_str());
            return false;
        }
        httplib::Client c("127.0.0.1", port);
        c.set_connection_timeout(0, 200000);
        if (auto r = c.Get("/api/v1/status")) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::fprintf(stderr, "mgmt_bench: vigil-mgmtd not answering on port %u after 60 s\n", port);
    return false;
}

// Runs argv; its stdout in `out`; the exit status (-1: did not run or was killed).
int run_capture(const std::vector<std::string>& argv, std::string& out) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        return -1;
    }
    const pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        std::vector<char*> a;
        for (const auto& s : argv) {
            a.push_back(const_cast<char*>(s.c_str()));
        }
        a.push_back(nullptr);
        execv(a[0], a.data());
        _exit(127);
    }
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        return -1;
    }
    char buf[4096];
    ssize_t n;
    while ((n = read(p[0], buf, sizeof(buf))) > 0) {
        out.append(buf, static_cast<size_t>(n));
    }
    close(p[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) {
        out.pop_back();
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

uint16_t free_port() {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    uint16_t port = 0;
    if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
        port = ntohs(a.sin_port);
    }
    if (fd >= 0) {
        close(fd);
    }
    return port;
}

// Kills what is left of the children and removes the temp dir, however main returns.
struct Cleanup {
    std::string tmp;
    ~Cleanup() {
        while (!g_children.empty()) {
            stop_child(g_children.back(), 30);
        }
        if (!tmp.empty()) {
            std::error_code ec;
            fs::remove_all(tmp, ec);
        }
    }
};

struct MgmtdConf {
    std::string dir;  // where mgmtd.yaml, the socket, tokens.db and the log go
    std::string store;
    uint16_t port = 0;
    uint32_t commit_ms = 0;        // 0: mgmtd's default
    bool keep_everything = false;  // retention-days 0, max-mb 0 (the cached query store)
    std::string config() const { return dir + "/mgmtd.yaml"; }
    std::string log() const { return dir + "/mgmtd.log"; }
    std::string endpoint() const { return "ipc://" + dir + "/mgmt.sock"; }
};

bool write_config(const MgmtdConf& c) {
    fs::create_directories(c.dir);
    std::ofstream f(c.config());
    f << "listen: \"" << c.endpoint() << "\"\n"
      << "store:\n  path: \"" << c.store << "\"\n";
    if (c.commit_ms > 0) {
        f << "  commit-ms: " << c.commit_ms << "\n";
    }
    if (c.keep_everything) {
        f << "  retention-days: 0\n  max-mb: 0\n";
    }
    f << "api:\n  listen: \"127.0.0.1:" << c.port << "\"\n  tokens: \"" << c.dir
      << "/tokens.db\"\n";
    return static_cast<bool>(f);
}

uint64_t file_size_or_0(const std::string& p) {
    std::error_code ec;
    const auto n = fs::file_size(p, ec);
    return ec ? 0 : n;
}
uint64_t store_bytes(const std::string& db) {
    return file_size_or_0(db) + file_size_or_0(db + "-wal");
}

// ---------------------------------------------------------------------------------------------

struct Pct {
    double p50 = 0, p99 = 0, max = 0;
};
Pct pct(std::vector<double> v) {
    Pct p;
    if (v.empty()) {
        return p;
    }
    std::sort(v.begin(), v.end());
    auto at = [&](double q) {
        const size_t k = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
        return v[std::min(v.size() - 1, k == 0 ? 0 : k - 1)];
    };
    p.p50 = at(0.50);
    p.p99 = at(0.99);
    p.max = v.back();
    return p;
}

const char* verdict(bool ok) {
    return ok ? "PASS" : "MISS";
}

// Sensor side of one run: a spool in `dir`, a ZmqOutput to `endpoint`, welcomed.
struct SensorSide {
    std::unique_ptr<sensor::Spool> spool;
    std::unique_ptr<sensor::ZmqOutput> out;
};
bool start_sensor(SensorSide& s, const std::string& dir, const std::string& endpoint,
                  const std::string& id, uint64_t spool_bytes, uint32_t window) {
    sensor::SpoolOptions so;
    so.dir = dir;
    so.max_bytes = std::max<uint64_t>(so.max_bytes, spool_bytes);
    auto sp = sensor::Spool::open(so);
    if (!sp) {
        std::fprintf(stderr, "mgmt_bench: spool: %s\n", sp.error().message.c_str());
        return false;
    }
    s.spool = std::move(*sp);
    sensor::ZmqOptions zo;
    zo.endpoint = endpoint;
    zo.sensor_id = id;
    zo.version = "mgmt_bench";
    zo.window = window;
    auto out = sensor::ZmqOutput::start(zo, *s.spool, stderr);
    if (!out) {
        std::fprintf(stderr, "mgmt_bench: zmq: %s\n", out.error().message.c_str());
        return false;
    }
    s.out = std::move(*out);
    for (int i = 0; i < 1000 && s.out->stats().welcomes == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (s.out->stats().welcomes == 0) {
        std::fprintf(stderr, "mgmt_bench: no welcome from vigil-mgmtd within 10 s\n");
        return false;
    }
    return true;
}

std::string pct_encode(std::string_view s) {
    std::string o;
    for (const unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            o += static_cast<char>(c);
        } else {
            char b[4];
            std::snprintf(b, sizeof(b), "%%%02X", c);
            o += b;
        }
    }
    return o;
}

// The number of alerts a store holds (its sensors' counts), 0 when there is no store.
uint64_t stored_alerts(const std::string& path) {
    if (!fs::exists(path)) {
        return 0;
    }
    mgmt::StoreOptions so;
    so.path = path;
    so.retention_days = 0;
    auto st = mgmt::open_sqlite_store(so);
    if (!st) {
        return 0;
    }
    auto rows = (*st)->sensors();
    uint64_t n = 0;
    if (rows) {
        for (const auto& r : *rows) {
            n += r.events;
        }
    }
    return n;
}

bool same_fields(const mgmt::EventRow& a, const mgmt::EventRow& b) {
    return a.sensor_id == b.sensor_id && a.seq == b.seq && a.ts_us == b.ts_us &&
           a.event_type == b.event_type && a.gid == b.gid && a.sid == b.sid &&
           a.src_ip == b.src_ip && a.dest_ip == b.dest_ip && a.src_port == b.src_port &&
           a.dest_port == b.dest_port && a.proto == b.proto && a.action == b.action &&
           a.eve == b.eve;
}

// M alerts from 8 sensors (interleaved as the ingest would batch them), timestamps over 30
// days, committed with SqliteStore::commit in batches of `batch`. The rows' indexed fields come
// from the generator (the first 10,000 are checked against mgmt::parse_event): parsing 10M
// records would only slow the build down. False (message printed) on an error.
bool build_query_store(const std::string& path, uint64_t m, uint32_t batch) {
    for (const char* suffix : {"", "-wal", "-shm"}) {
        std::error_code ec;
        fs::remove(path + suffix, ec);
    }
    mgmt::StoreOptions so;
    so.path = path;
    so.retention_days = 0;
    auto st = mgmt::open_sqlite_store(so);
    if (!st) {
        std::fprintf(stderr, "mgmt_bench: %s: %s\n", path.c_str(), st.error().message.c_str());
        return false;
    }
    constexpr int kSensors = 8;
    std::vector<std::string> ids;
    std::vector<uint64_t> seq(kSensors, 0);
    for (int s = 0; s < kSensors; ++s) {
        char b[32];
        std::snprintf(b, sizeof(b), "sensor-%02d", s + 1);
        ids.emplace_back(b);
    }
    EveGen gen(7);
    const int64_t span_us = 30ll * 86400 * 1000000;
    const int64_t ts0 = wall_now_us() - span_us;
    mgmt::Batch b;
    const auto t0 = Clock::now();
    auto tm = t0;
    for (uint64_t k = 0; k < m; ++k) {
        const int s = static_cast<int>(k % kSensors);
        mgmt::EventRow row;
        row.sensor_id = ids[s];
        row.seq = ++seq[s];
        gen.alert(row.eve, ids[s],
                  ts0 + static_cast<int64_t>(static_cast<double>(span_us) * static_cast<double>(k) /
                                             static_cast<double>(m)),
                  &row);
        if (k < 10000) {
            auto parsed = mgmt::parse_event(row.sensor_id, row.seq, row.eve);
            if (!parsed || !same_fields(*parsed, row)) {
                std::fprintf(stderr, "mgmt_bench: generated record %llu: parse_event %s\n",
                             static_cast<unsigned long long>(k),
                             parsed ? "gives other fields" : parsed.error().message.c_str());
                return false;
            }
        }
        b.events.push_back(std::move(row));
        if (b.events.size() == batch || k + 1 == m) {
            for (int i = 0; i < kSensors; ++i) {
                if (seq[i] > 0) {
                    b.committed.emplace_back(ids[i], seq[i]);
                }
            }
            if (auto c = (*st)->commit(b); !c) {
                std::fprintf(stderr, "mgmt_bench: commit: %s\n", c.error().message.c_str());
                return false;
            }
            b = mgmt::Batch{};
        }
        if ((k + 1) % 1000000 == 0) {
            std::fprintf(stderr,
                         "  query store: %llu / %llu alerts, %.0f s, %.0f alerts/s (this million "
                         "%.0f/s)\n",
                         static_cast<unsigned long long>(k + 1), static_cast<unsigned long long>(m),
                         secs_since(t0), static_cast<double>(k + 1) / secs_since(t0),
                         1e6 / secs_since(tm));
            tm = Clock::now();
        }
    }
    return true;
}

// A viewer token for the mgmtd of `config` (vigilctl tokens add --config); "" on failure.
std::string make_token(const std::string& vigilctl, const std::string& config) {
    std::string token;
    const int rc = run_capture(
        {vigilctl, "tokens", "add", "bench-viewer", "--role", "viewer", "--config", config}, token);
    if (rc != 0 || token.empty()) {
        std::fprintf(stderr, "mgmt_bench: vigilctl tokens add: exit %d\n", rc);
        return "";
    }
    return token;
}

// mgmtd's ingest counters, from GET /api/v1/status.
struct IngestCounts {
    bool ok = false;
    uint64_t commits = 0, stored = 0;
    double last_commit_ms = 0, request_ms = 0;
};
IngestCounts ingest_counts(uint16_t port, const std::string& token) {
    IngestCounts c;
    httplib::Client cli("127.0.0.1", port);
    cli.set_read_timeout(600);
    const auto t0 = Clock::now();
    auto res = cli.Get("/api/v1/status", {{"Authorization", "Bearer " + token}});
    c.request_ms = secs_since(t0) * 1e3;
    if (!res || res->status != 200) {
        return c;
    }
    const auto j = nlohmann::json::parse(res->body, nullptr, false);
    if (!j.is_object() || !j["ingest"].is_object()) {
        return c;
    }
    const auto& in = j["ingest"];
    c.commits = in.value("commits", uint64_t{0});
    c.stored = in.value("stored", uint64_t{0});
    c.last_commit_ms = in.value("last_commit_ms", 0.0);
    c.ok = true;
    return c;
}

int usage() {
    std::fprintf(
        stderr,
        "usage: mgmt_bench [--quick] [--alerts N] [--query-alerts M] [--query-store PATH]\n"
        "                  [--mgmtd PATH] [--vigilctl PATH] [--paced-rate R] [--paced-seconds S]\n"
        "                  [--window W] [--commit-ms MS] [--queries Q] [--extra-requests K]\n"
        "                  [--build-batch B]\n"
        "  --alerts         alerts for the sustained and store-only runs (default 1000000)\n"
        "  --query-alerts   alerts in the query store (default 10000000; 0: no query test)\n"
        "  --query-store    where the query store is cached (default\n"
        "                   bench/data/mgmt-query-M.db; reused when it holds M alerts)\n"
        "  --quick          N 100000, M 1000000 (a smoke check)\n"
        "  --paced-rate     alerts/s of the paced latency run (default 10000), for\n"
        "  --paced-seconds  (default 3)\n"
        "  --window         the sensor's records in flight (default %u, vigil-sensor's)\n"
        "  --commit-ms      mgmtd's store.commit-ms (default: mgmtd's own, 50)\n"
        "  --queries        sid queries (default 500; page-2 and src: 100 each)\n"
        "  --extra-requests sensor=, /api/v1/status and /metrics requests (default 1 each;\n"
        "                   slow on a large store)\n"
        "  --build-batch    alerts per SqliteStore::commit while building the query store\n"
        "                   (default 65536: fewer rewrites of the same index pages)\n",
        kSensorWindow);
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // in order with the progress on stderr
    uint64_t n_alerts = 0, m_alerts = 0;
    bool n_set = false, m_set = false, quick = false;
    std::string query_store, mgmtd_bin = VIGIL_MGMTD_PATH, vigilctl_bin = VIGIL_VIGILCTL_PATH;
    uint32_t paced_rate = 10000, paced_seconds = 3, window = kSensorWindow, commit_ms = 0;
    uint32_t n_queries = 500;
    int n_extra = 1;
    uint32_t build_batch = 65536;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::exit(usage());
            }
            return argv[++i];
        };
        auto num = [&]() { return std::strtoull(next().c_str(), nullptr, 10); };
        if (a == "--alerts") {
            n_alerts = num();
            n_set = true;
        } else if (a == "--query-alerts") {
            m_alerts = num();
            m_set = true;
        } else if (a == "--query-store") {
            query_store = next();
        } else if (a == "--mgmtd") {
            mgmtd_bin = next();
        } else if (a == "--vigilctl") {
            vigilctl_bin = next();
        } else if (a == "--quick") {
            quick = true;
        } else if (a == "--paced-rate") {
            paced_rate = static_cast<uint32_t>(std::max<uint64_t>(1, num()));
        } else if (a == "--paced-seconds") {
            paced_seconds = static_cast<uint32_t>(num());
        } else if (a == "--window") {
            window = static_cast<uint32_t>(std::max<uint64_t>(1, num()));
        } else if (a == "--commit-ms") {
            commit_ms = static_cast<uint32_t>(num());
        } else if (a == "--build-batch") {
            build_batch = static_cast<uint32_t>(std::max<uint64_t>(1, num()));
        } else if (a == "--extra-requests") {
            n_extra = static_cast<int>(num());
        } else if (a == "--queries") {
            n_queries = static_cast<uint32_t>(std::max<uint64_t>(1, num()));
        } else {
            const int rc = usage();
            return a == "--help" ? 0 : rc;
        }
    }
    if (!n_set) {
        n_alerts = quick ? 100000 : 1000000;
    }
    if (!m_set) {
        m_alerts = quick ? 1000000 : 10000000;
    }
    if (n_alerts == 0) {
        return usage();
    }
    if (query_store.empty()) {
        query_store = std::string(VIGIL_SOURCE_DIR) + "/bench/data/mgmt-query-" +
                      std::to_string(m_alerts) + ".db";
    }
    for (const auto& bin : {mgmtd_bin, vigilctl_bin}) {
        if (access(bin.c_str(), X_OK) != 0) {
            std::fprintf(stderr, "mgmt_bench: %s: not an executable (--mgmtd / --vigilctl)\n",
                         bin.c_str());
            return 2;
        }
    }

    Cleanup cleanup;
    {
        const char* t = std::getenv("TMPDIR");
        std::string tmpl = std::string(t && *t ? t : "/tmp") + "/mgmt_bench.XXXXXX";
        if (!mkdtemp(tmpl.data())) {
            std::fprintf(stderr, "mgmt_bench: mkdtemp %s: %s\n", tmpl.c_str(),
                         std::strerror(errno));
            return 1;
        }
        cleanup.tmp = tmpl;
    }
    const std::string tmp = cleanup.tmp;

    // The records, generated once (not timed).
    Records recs;
    {
        EveGen gen(1);
        std::string rec;
        const int64_t ts0 = wall_now_us();
        recs.off.reserve(n_alerts + 1);
        recs.blob.reserve(n_alerts * 800);
        for (uint64_t i = 0; i < n_alerts; ++i) {
            gen.alert(rec, "bench-01", ts0 + static_cast<int64_t>(i) * 5);
            recs.blob += rec;
            recs.off.push_back(recs.blob.size());
        }
    }
    const double eve_avg = static_cast<double>(recs.blob.size()) / static_cast<double>(n_alerts);
    std::printf(
        "mgmt_bench: %llu EVE alert records, %.0f bytes on average (%.1f MB), 5000 sids; "
        "temp dir %s\n",
        static_cast<unsigned long long>(n_alerts), eve_avg,
        static_cast<double>(recs.blob.size()) / 1e6, tmp.c_str());
    std::printf("  e.g. %.*s\n", static_cast<int>(recs.at(0).size()), recs.at(0).data());

    // 4. store only (run first: the same records, same batches, in-process).
    double store_only_rate = 0;
    {
        mgmt::StoreOptions so;
        so.path = tmp + "/store-only.db";
        auto st = mgmt::open_sqlite_store(so);
        if (!st) {
            std::fprintf(stderr, "mgmt_bench: %s\n", st.error().message.c_str());
            return 1;
        }
        const std::string id = "bench-01";
        mgmt::Batch b;
        double commit_s = 0;
        const auto t0 = Clock::now();
        for (uint64_t i = 0; i < n_alerts; ++i) {
            auto row = mgmt::parse_event(id, i + 1, std::string(recs.at(i)));
            if (!row) {
                std::fprintf(stderr, "mgmt_bench: record %llu: %s\n",
                             static_cast<unsigned long long>(i), row.error().message.c_str());
                return 1;
            }
            b.events.push_back(std::move(*row));
            if (b.events.size() == kBatch || i + 1 == n_alerts) {
                b.committed.emplace_back(id, i + 1);
                const auto tc = Clock::now();
                if (auto c = (*st)->commit(b); !c) {
                    std::fprintf(stderr, "mgmt_bench: commit: %s\n", c.error().message.c_str());
                    return 1;
                }
                commit_s += secs_since(tc);
                b = mgmt::Batch{};
            }
        }
        const double s = secs_since(t0);
        store_only_rate = static_cast<double>(n_alerts) / s;
        std::printf(
            "\nstore only (parse_event + SqliteStore::commit, batches of %u, in-process):\n"
            "  %llu alerts in %.2f s: %.0f alerts/s, %.1f MB/s of EVE (commit %.0f%% of the "
            "time, parse_event and batching the rest)\n",
            kBatch, static_cast<unsigned long long>(n_alerts), s, store_only_rate,
            static_cast<double>(recs.blob.size()) / s / 1e6, commit_s / s * 100);
        st->reset();
        for (const char* suffix : {"", "-wal", "-shm"}) {
            std::error_code ec;
            fs::remove(so.path + suffix, ec);
        }
    }

    // 1-3. end to end through a real vigil-mgmtd.
    MgmtdConf mc;
    mc.dir = tmp + "/mgmtd";
    mc.store = tmp + "/mgmtd/mgmt.db";
    mc.port = free_port();
    mc.commit_ms = commit_ms;
    if (mc.port == 0 || !write_config(mc)) {
        std::fprintf(stderr, "mgmt_bench: cannot write %s\n", mc.config().c_str());
        return 1;
    }
    const std::string e2e_token = make_token(vigilctl_bin, mc.config());
    if (e2e_token.empty()) {
        return 1;
    }
    const pid_t mgmtd = start_mgmtd(mgmtd_bin, mc.config(), mc.log());
    if (mgmtd <= 0 || !wait_ready(mgmtd, mc.port, mc.log())) {
        return 1;
    }
    const IngestCounts before = ingest_counts(mc.port, e2e_token);
    double e2e_rate = 0;
    sensor::ZmqStats sus{}, paced{};
    uint64_t paced_n = 0;
    double paced_actual = 0;
    {
        SensorSide s;
        if (!start_sensor(s, tmp + "/spool", mc.endpoint(), "bench-01", recs.blob.size() * 2,
                          window)) {
            return 1;
        }
        uint64_t refused = 0;
        const auto t0 = Clock::now();
        auto last_sync = t0;
        for (uint64_t i = 0; i < n_alerts; ++i) {
            refused += s.spool->append(recs.at(i)) == 0 ? 1 : 0;
            if ((i & 1023) == 0 && Clock::now() - last_sync >= std::chrono::seconds(1)) {
                s.spool->sync();  // as the control loop does, about once a second
                last_sync = Clock::now();
            }
        }
        s.spool->sync();
        const double append_s = secs_since(t0);
        const bool drained = s.out->wait_drained(std::chrono::minutes(30));
        const double secs = secs_since(t0);
        sus = s.out->stats();
        const auto sp = s.spool->stats();
        if (!drained || refused > 0 || sp.dropped > 0) {
            std::fprintf(stderr,
                         "mgmt_bench: sustained run incomplete: drained %d, refused %llu, dropped "
                         "%llu, acked %llu of %llu\n",
                         drained, static_cast<unsigned long long>(refused),
                         static_cast<unsigned long long>(sp.dropped),
                         static_cast<unsigned long long>(sus.acked_seq),
                         static_cast<unsigned long long>(sp.last_seq));
            return 1;
        }
        e2e_rate = static_cast<double>(n_alerts) / secs;
        std::printf(
            "\nsustained, sensor::Spool + ZmqOutput (window %u) -> vigil-mgmtd (ipc://, "
            "commit-ms %s):\n"
            "  appended %llu in %.2f s (%.0f/s); all acknowledged (committed) after %.2f s\n"
            "  %.0f alerts/s, %.1f MB/s of EVE; sent %llu (resent %llu), welcomes %llu, "
            "heartbeats %llu\n"
            "  ack latency (first send -> ack): p50 %.1f ms  p99 %.1f ms  (%llu samples)\n",
            window, commit_ms ? std::to_string(commit_ms).c_str() : "default",
            static_cast<unsigned long long>(n_alerts), append_s,
            static_cast<double>(n_alerts) / append_s, secs, e2e_rate,
            static_cast<double>(recs.blob.size()) / secs / 1e6,
            static_cast<unsigned long long>(sus.sent), static_cast<unsigned long long>(sus.resent),
            static_cast<unsigned long long>(sus.welcomes),
            static_cast<unsigned long long>(sus.heartbeats), sus.ack_p50_us / 1000.0,
            sus.ack_p99_us / 1000.0, static_cast<unsigned long long>(sus.ack_samples));
        // How mgmtd batched them (its counters, after the timing).
        const IngestCounts after = ingest_counts(mc.port, e2e_token);
        if (before.ok && after.ok && after.commits > before.commits) {
            std::printf(
                "  mgmtd: %llu commits for %llu records: %.0f records per commit (batch "
                "%u), last commit %.1f ms; GET /api/v1/status took %.0f ms\n",
                static_cast<unsigned long long>(after.commits - before.commits),
                static_cast<unsigned long long>(after.stored - before.stored),
                static_cast<double>(after.stored - before.stored) /
                    static_cast<double>(after.commits - before.commits),
                kBatch, after.last_commit_ms, after.request_ms);
        }
    }
    if (paced_seconds > 0) {
        // A second sensor, paced: latency without a queue in front of it.
        SensorSide s;
        if (!start_sensor(s, tmp + "/spool-paced", mc.endpoint(), "bench-02", 0, window)) {
            return 1;
        }
        const uint64_t total = static_cast<uint64_t>(paced_rate) * paced_seconds;
        const auto t0 = Clock::now();
        auto last_sync = t0;
        while (paced_n < total) {
            const uint64_t due =
                std::min<uint64_t>(total, static_cast<uint64_t>(secs_since(t0) * paced_rate) + 1);
            for (; paced_n < due; ++paced_n) {
                s.spool->append(recs.at(paced_n % n_alerts));
            }
            if (Clock::now() - last_sync >= std::chrono::seconds(1)) {
                s.spool->sync();
                last_sync = Clock::now();
            }
            std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
        paced_actual = static_cast<double>(paced_n) / secs_since(t0);
        s.spool->sync();
        if (!s.out->wait_drained(std::chrono::minutes(5))) {
            std::fprintf(stderr, "mgmt_bench: paced run not acknowledged within 5 min\n");
            return 1;
        }
        paced = s.out->stats();
        std::printf(
            "paced, %u alerts/s for %u s (%.0f/s achieved), a second sensor:\n"
            "  ack latency (first send -> ack): p50 %.1f ms  p99 %.1f ms  (%llu samples)\n",
            paced_rate, paced_seconds, paced_actual, paced.ack_p50_us / 1000.0,
            paced.ack_p99_us / 1000.0, static_cast<unsigned long long>(paced.ack_samples));
    }
    const int rc = stop_child(mgmtd, 120);
    const uint64_t stored = n_alerts + paced_n;
    const uint64_t bytes = store_bytes(mc.store);
    const double per_alert = static_cast<double>(bytes) / static_cast<double>(stored);
    std::printf(
        "store after SIGTERM (exit %d): %.1f MB (db + wal) for %llu alerts: %.0f bytes "
        "per alert, %.2f x the EVE record (%.0f bytes)\n",
        rc, static_cast<double>(bytes) / 1e6, static_cast<unsigned long long>(stored), per_alert,
        per_alert / eve_avg, eve_avg);
    if (rc != 0) {
        std::fprintf(stderr, "mgmt_bench: vigil-mgmtd exit %d:\n%s\n", rc,
                     tail_of(mc.log()).c_str());
    }

    // 5. queries over a large store.
    struct Kind {
        const char* name;
        std::vector<double> ms;
        uint64_t items = 0;
    };
    std::vector<Kind> kinds;
    std::string qstore_note;
    if (m_alerts > 0) {
        std::printf("\nquery store %s:\n", query_store.c_str());
        std::fflush(stdout);
        const uint64_t have = stored_alerts(query_store);
        if (have == m_alerts) {
            qstore_note = "reused";
        } else {
            std::fprintf(stderr, "  building the query store (%llu alerts; it had %llu)\n",
                         static_cast<unsigned long long>(m_alerts),
                         static_cast<unsigned long long>(have));
            const auto t0 = Clock::now();
            if (!build_query_store(query_store, m_alerts, build_batch)) {
                return 1;
            }
            const double s = secs_since(t0);
            char b[128];
            std::snprintf(b, sizeof(b), "built in %.0f s, %.0f alerts/s", s,
                          static_cast<double>(m_alerts) / s);
            qstore_note = b;
        }
        std::printf("  %llu alerts from 8 sensors over 30 days (%s), %.1f GB\n",
                    static_cast<unsigned long long>(m_alerts), qstore_note.c_str(),
                    static_cast<double>(store_bytes(query_store)) / 1e9);
        MgmtdConf qc;
        qc.dir = tmp + "/mgmtd-query";
        qc.store = query_store;
        qc.port = free_port();
        qc.keep_everything = true;
        if (qc.port == 0 || !write_config(qc)) {
            std::fprintf(stderr, "mgmt_bench: cannot write %s\n", qc.config().c_str());
            return 1;
        }
        const std::string token = make_token(vigilctl_bin, qc.config());
        if (token.empty()) {
            return 1;
        }
        const pid_t q = start_mgmtd(mgmtd_bin, qc.config(), qc.log());
        if (q <= 0 || !wait_ready(q, qc.port, qc.log())) {
            return 1;
        }
        // One connection per request, as vigilctl makes them; plus one kept-alive connection
        // for comparison (a dashboard, vigilctl alerts --follow).
        httplib::Client cli("127.0.0.1", qc.port);
        cli.set_keep_alive(false);
        cli.set_read_timeout(600);
        httplib::Client kept("127.0.0.1", qc.port);
        kept.set_keep_alive(true);
        kept.set_read_timeout(600);
        const httplib::Headers auth{{"Authorization", "Bearer " + token}};
        EveGen cat(7);
        std::mt19937_64 r(42);
        bool failed = false;
        // GET `target`; its time in ms (pushed to `k`) and the parsed body.
        auto get_on = [&](httplib::Client& c, const std::string& target, Kind* k,
                          nlohmann::json* body) {
            const auto t0 = Clock::now();
            auto res = c.Get(target, auth);
            const double ms = secs_since(t0) * 1e3;
            if (!res || res->status != 200) {
                std::fprintf(stderr, "mgmt_bench: GET %s: %s\n", target.c_str(),
                             res ? std::to_string(res->status).c_str()
                                 : httplib::to_string(res.error()).c_str());
                failed = true;
                return;
            }
            if (k) {
                k->ms.push_back(ms);
            }
            if (body) {
                *body = nlohmann::json::parse(res->body, nullptr, false);
                if (k && body->is_object() && (*body)["alerts"].is_array()) {
                    k->items += (*body)["alerts"].size();
                }
            }
        };
        auto get = [&](const std::string& target, Kind* k, nlohmann::json* body) {
            get_on(cli, target, k, body);
        };
        auto by_sid = [&] {
            return "/api/v1/alerts?sid=" + std::to_string(cat.random_sid(r)) + "&limit=100";
        };
        nlohmann::json j;
        for (int i = 0; i < 10; ++i) {  // warm-up: pooled readers, token store (not counted)
            get(by_sid(), nullptr, nullptr);
        }
        kinds.push_back({"GET /api/v1/alerts?sid=S&limit=100", {}, 0});
        for (uint32_t i = 0; i < n_queries && !failed; ++i) {
            get(by_sid(), &kinds.back(), &j);
        }
        kinds.push_back({"  the same, page 2 (cursor=next_cursor)", {}, 0});
        for (uint32_t i = 0; i < 100 && !failed; ++i) {
            for (int tries = 0; tries < 50 && !failed; ++tries) {
                const std::string base = by_sid();
                get(base, nullptr, &j);
                if (j.is_object() && j["next_cursor"].is_string()) {
                    get(base + "&cursor=" + pct_encode(j["next_cursor"].get<std::string>()),
                        &kinds.back(), &j);
                    break;
                }
            }
        }
        kinds.push_back({"GET /api/v1/alerts?src=IP&limit=100", {}, 0});
        for (uint32_t i = 0; i < 100 && !failed; ++i) {
            get("/api/v1/alerts?src=" + EveGen::random_src(r) + "&limit=100", &kinds.back(), &j);
        }
        // For comparison, not targets: the sid query on one kept-alive connection, a sensor
        // filter, the status page and the metrics (both read store statistics).
        kinds.push_back({"  sid=S, one kept-alive connection", {}, 0});
        for (uint32_t i = 0; i < 100 && !failed; ++i) {
            get_on(kept, by_sid(), &kinds.back(), &j);
        }
        std::fprintf(stderr, "  timing sensor=, /api/v1/status, /metrics (%d each)\n", n_extra);
        kinds.push_back({"GET /api/v1/alerts?sensor=ID&limit=100", {}, 0});
        for (int i = 0; i < n_extra && !failed; ++i) {
            char id[32];
            std::snprintf(id, sizeof(id), "sensor-%02d", 1 + static_cast<int>(r() % 8));
            get(std::string("/api/v1/alerts?sensor=") + id + "&limit=100", &kinds.back(), &j);
        }
        kinds.push_back({"GET /api/v1/status", {}, 0});
        for (int i = 0; i < n_extra && !failed; ++i) {
            get("/api/v1/status", &kinds.back(), nullptr);
        }
        kinds.push_back({"GET /metrics", {}, 0});
        for (int i = 0; i < n_extra && !failed; ++i) {
            get("/metrics", &kinds.back(), nullptr);
        }
        stop_child(q, 120);
        std::error_code ec;
        fs::remove(query_store + ".lock", ec);  // mgmtd's, not part of the cache
        if (failed) {
            std::fprintf(stderr, "%s\n", tail_of(qc.log()).c_str());
            return 1;
        }
        for (const auto& k : kinds) {
            const Pct p = pct(k.ms);
            std::printf("  %-42s %4zu requests: p50 %8.2f ms  p99 %8.2f ms  max %8.2f ms", k.name,
                        k.ms.size(), p.p50, p.p99, p.max);
            if (k.items > 0) {
                std::printf("  (%.0f alerts per page)",
                            static_cast<double>(k.items) / static_cast<double>(k.ms.size()));
            }
            std::printf("\n");
        }
    }

    // Headlines.
    std::printf("\n== mgmt_bench: %llu alerts end to end, query store %llu alerts ==\n",
                static_cast<unsigned long long>(n_alerts),
                static_cast<unsigned long long>(m_alerts));
    std::printf("end-to-end committed:      %9.0f alerts/s  %6.1f MB/s   target >= %.0f: %s\n",
                e2e_rate, e2e_rate * eve_avg / 1e6, kTargetAlertsPerSec,
                verdict(e2e_rate >= kTargetAlertsPerSec));
    std::printf("store only:                %9.0f alerts/s  ratio end-to-end / store-only %.2f\n",
                store_only_rate, e2e_rate / store_only_rate);
    std::printf("ack latency sustained:     p50 %7.1f ms  p99 %7.1f ms\n", sus.ack_p50_us / 1000.0,
                sus.ack_p99_us / 1000.0);
    if (paced_seconds > 0) {
        std::printf("ack latency paced %5u/s: p50 %7.1f ms  p99 %7.1f ms\n", paced_rate,
                    paced.ack_p50_us / 1000.0, paced.ack_p99_us / 1000.0);
    }
    std::printf("bytes stored per alert:    %9.0f  (EVE record %.0f: ratio %.2f)\n", per_alert,
                eve_avg, per_alert / eve_avg);
    for (size_t i = 0; i < kinds.size() && i < 3; ++i) {
        const Pct p = pct(kinds[i].ms);
        std::printf(
            "query %-6s p50 %6.2f ms  p99 %6.2f ms  max %6.2f ms   p99 target < %.0f ms: %s\n",
            i == 0   ? "sid"
            : i == 1 ? "page2"
                     : "src",
            p.p50, p.p99, p.max, kTargetQueryP99Ms, verdict(p.p99 < kTargetQueryP99Ms));
    }
    return 0;
}
