#include "sensor/config.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <set>

#include "common/config_check.h"
#include "sensor/zmq_output.h"

#include <yaml-cpp/yaml.h>

namespace vigil::sensor {

namespace {

using Ctx = ConfigCheck;

std::string resolve(const std::string& base_dir, const std::string& p) {
    if (p.empty() || p[0] == '/') {
        return p;
    }
    return (std::filesystem::path(base_dir) / p).lexically_normal().string();
}

// ipc://relative/path resolves like any other path in the file.
std::string resolve_ipc(const std::string& base_dir, const std::string& ep) {
    if (ep.rfind("ipc://", 0) == 0 && ep.size() > 6 && ep[6] != '/' && ep[6] != '@') {
        return "ipc://" + resolve(base_dir, ep.substr(6));
    }
    return ep;
}

// net_pcap's file arguments in a --vdev value ("net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap").
std::string resolve_devargs(const std::string& base_dir, const std::string& devargs) {
    std::string out;
    size_t start = 0;
    while (start <= devargs.size()) {
        size_t end = devargs.find(',', start);
        if (end == std::string::npos) {
            end = devargs.size();
        }
        std::string kv = devargs.substr(start, end - start);
        for (const char* key : {"rx_pcap=", "tx_pcap="}) {
            if (kv.rfind(key, 0) == 0) {
                const size_t k = std::strlen(key);
                kv = key + resolve(base_dir, kv.substr(k));
            }
        }
        out += (start == 0 ? "" : ",") + kv;
        start = end + 1;
    }
    return out;
}

// The file paths among EAL arguments, resolved like every other path in the file: the
// rx_pcap=/tx_pcap= files of --vdev, and the values of -d (driver) and --huge-dir, in both
// "--opt=value" and "--opt value" forms.
std::vector<std::string> resolve_eal_paths(const std::string& base_dir,
                                           std::vector<std::string> eal) {
    enum class Next { Other, Path, Devargs } next = Next::Other;
    for (auto& a : eal) {
        if (next == Next::Path) {
            a = resolve(base_dir, a);
        } else if (next == Next::Devargs) {
            a = resolve_devargs(base_dir, a);
        }
        next = Next::Other;
        if (a == "-d" || a == "--huge-dir") {
            next = Next::Path;
        } else if (a == "--vdev") {
            next = Next::Devargs;
        } else if (a.rfind("--vdev=", 0) == 0) {
            a = "--vdev=" + resolve_devargs(base_dir, a.substr(7));
        } else if (a.rfind("--huge-dir=", 0) == 0) {
            a = "--huge-dir=" + resolve(base_dir, a.substr(11));
        }
    }
    return eal;
}

std::vector<std::string> str_list(Ctx& c, const YAML::Node& n, const std::string& key) {
    std::vector<std::string> out;
    if (!n.IsSequence()) {
        c.fail(n, key + ": expected a list");
        return out;
    }
    for (const auto& e : n) {
        out.push_back(e.as<std::string>());
    }
    return out;
}

uint32_t to_u32(Ctx& c, const YAML::Node& n, const std::string& key) {
    try {
        const auto v = n.as<int64_t>();
        if (v < 0 || v > UINT32_MAX) {
            c.fail(n, key + ": out of range");
            return 0;
        }
        return static_cast<uint32_t>(v);
    } catch (const YAML::Exception&) {
        c.fail(n, key + ": expected a non-negative integer, got '" + n.as<std::string>() + "'");
        return 0;
    }
}

// A size in bytes: an integer, or with a kb / mb / gb suffix (as in suricata.yaml).
uint64_t to_bytes(Ctx& c, const YAML::Node& n, const std::string& key) {
    const auto text = n.as<std::string>();
    size_t i = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        ++i;
    }
    std::string unit = text.substr(i);
    for (auto& ch : unit) {
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
    uint64_t mult = 0;
    if (unit.empty() || unit == "b") {
        mult = 1;
    } else if (unit == "kb" || unit == "k") {
        mult = 1ULL << 10;
    } else if (unit == "mb" || unit == "m") {
        mult = 1ULL << 20;
    } else if (unit == "gb" || unit == "g") {
        mult = 1ULL << 30;
    }
    if (i == 0 || i > 12 || mult == 0) {
        c.fail(n, key + ": expected a size (bytes, or a number with kb/mb/gb), got '" + text + "'");
        return 0;
    }
    return std::stoull(text.substr(0, i)) * mult;
}

uint32_t to_u32_bytes(Ctx& c, const YAML::Node& n, const std::string& key) {
    const uint64_t v = to_bytes(c, n, key);
    if (v > UINT32_MAX) {
        c.fail(n, key + ": too large (at most 4gb)");
        return 0;
    }
    return static_cast<uint32_t>(v);
}

bool to_bool(Ctx& c, const YAML::Node& n, const std::string& key) {
    try {
        return n.as<bool>();
    } catch (const YAML::Exception&) {
        c.fail(n, key + ": expected true or false, got '" + n.as<std::string>() + "'");
        return false;
    }
}

void load_pipeline(Ctx& c, const YAML::Node& root, PipelineConfig& p) {
    if (const auto st = root["stream"]) {
        c.check_keys(st, "stream",
                     {"enabled", "midstream", "depth", "memcap", "lookback", "ooo-max"});
        if (st["enabled"]) {
            p.stream_enabled = to_bool(c, st["enabled"], "stream.enabled");
        }
        if (st["midstream"]) {
            p.stream.midstream = to_bool(c, st["midstream"], "stream.midstream");
        }
        if (st["depth"]) {
            p.stream.depth = to_u32_bytes(c, st["depth"], "stream.depth");
        }
        if (st["memcap"]) {
            p.stream.memcap = to_bytes(c, st["memcap"], "stream.memcap");
        }
        if (st["lookback"]) {
            p.stream.lookback = to_u32_bytes(c, st["lookback"], "stream.lookback");
            if (p.stream.lookback > (1U << 20)) {
                c.fail(st["lookback"], "stream.lookback: at most 1mb");
            }
        }
        if (st["ooo-max"]) {
            p.stream.per_flow_ooo_max = to_u32_bytes(c, st["ooo-max"], "stream.ooo-max");
        }
    }
    if (const auto df = root["defrag"]) {
        c.check_keys(df, "defrag", {"enabled", "memcap", "timeout", "max-frags", "max-datagrams"});
        if (df["enabled"]) {
            p.defrag_enabled = to_bool(c, df["enabled"], "defrag.enabled");
        }
        if (df["memcap"]) {
            p.defrag.memcap = to_bytes(c, df["memcap"], "defrag.memcap");
        }
        if (df["timeout"]) {
            p.defrag.timeout_s = to_u32(c, df["timeout"], "defrag.timeout");
        }
        if (df["max-frags"]) {
            p.defrag.max_frags = to_u32(c, df["max-frags"], "defrag.max-frags");
        }
        if (df["max-datagrams"]) {
            p.defrag.max_datagrams = to_u32(c, df["max-datagrams"], "defrag.max-datagrams");
        }
    }
    if (const auto al = root["app-layer"]) {
        c.check_keys(al, "app-layer", {"enabled", "detect-limit", "http"});
        if (al["enabled"]) {
            p.app.enabled = to_bool(c, al["enabled"], "app-layer.enabled");
        }
        if (al["detect-limit"]) {
            p.app.detect_limit = to_u32_bytes(c, al["detect-limit"], "app-layer.detect-limit");
        }
        if (const auto h = al["http"]) {
            c.check_keys(h, "app-layer.http",
                         {"request-body-limit", "response-body-limit", "header-limit"});
            if (h["request-body-limit"]) {
                p.app.http_request_body_limit =
                    to_u32_bytes(c, h["request-body-limit"], "app-layer.http.request-body-limit");
            }
            if (h["response-body-limit"]) {
                p.app.http_response_body_limit =
                    to_u32_bytes(c, h["response-body-limit"], "app-layer.http.response-body-limit");
            }
            if (h["header-limit"]) {
                p.app.http_header_limit =
                    to_u32_bytes(c, h["header-limit"], "app-layer.http.header-limit");
            }
        }
    }
    // host-os-policy: {default: bsd, windows: [10.0.0.0/8], linux: [...], ...}: the overlap
    // policy of TCP reassembly and defragmentation, by destination network.
    if (const auto hp = root["host-os-policy"]) {
        if (!hp.IsMap()) {
            c.fail(hp, "host-os-policy: expected a mapping of policy names to address lists");
            return;
        }
        dataplane::OsPolicyMap map;
        for (const auto& kv : hp) {
            const auto name = kv.first.as<std::string>();
            if (name == "default") {
                const auto v = kv.second.as<std::string>();
                const auto pol = dataplane::os_policy_from_name(v);
                if (!pol) {
                    c.fail(kv.second, "host-os-policy.default: unknown policy '" + v + "'");
                    return;
                }
                map.set_default(*pol);
                continue;
            }
            const auto pol = dataplane::os_policy_from_name(name);
            if (!pol) {
                c.fail(kv.first, "host-os-policy: unknown policy '" + name +
                                     "' (expected first, last, linux, old-linux, bsd, "
                                     "bsd-right, windows, windows2k3, vista, solaris, hpux10, "
                                     "hpux11, irix, macos or default)");
                return;
            }
            for (const auto& cidr : str_list(c, kv.second, "host-os-policy." + name)) {
                if (auto st = map.add(cidr, *pol); !st) {
                    c.fail(kv.second, "host-os-policy." + name + ": " + st.error().message);
                    return;
                }
            }
        }
        p.stream.policy = map;
        p.defrag.policy = map;
    }
}

// datasets: enabled, data-dir, defaults (memcap, hashsize), rules (allow-write,
// allow-absolute-filenames): Suricata's keys, plus data-dir (its default-data-dir).
void load_datasets(Ctx& c, const YAML::Node& ds, const std::string& dir,
                   rules::DatasetConfig& out) {
    c.check_keys(ds, "datasets", {"enabled", "data-dir", "defaults", "rules"});
    if (ds["enabled"]) {
        out.enabled = to_bool(c, ds["enabled"], "datasets.enabled");
    }
    if (ds["data-dir"]) {
        const auto p = ds["data-dir"].as<std::string>();
        if (p.empty()) {
            c.fail(ds["data-dir"], "datasets.data-dir: empty path");
        }
        out.data_dir = resolve(dir, p);
    }
    if (const auto d = ds["defaults"]) {
        c.check_keys(d, "datasets.defaults", {"memcap", "hashsize"});
        if (d["memcap"]) {
            out.default_memcap = to_bytes(c, d["memcap"], "datasets.defaults.memcap");
        }
        if (d["hashsize"]) {
            out.default_hashsize = to_u32(c, d["hashsize"], "datasets.defaults.hashsize");
        }
    }
    if (const auto r = ds["rules"]) {
        c.check_keys(r, "datasets.rules", {"allow-write", "allow-absolute-filenames"});
        if (r["allow-write"]) {
            out.allow_write = to_bool(c, r["allow-write"], "datasets.rules.allow-write");
        }
        if (r["allow-absolute-filenames"]) {
            out.allow_absolute = to_bool(c, r["allow-absolute-filenames"],
                                         "datasets.rules.allow-absolute-filenames");
        }
    }
}

}  // namespace

Result<SensorConfig> load_sensor_config(const std::string& path) {
    SensorConfig cfg;
    cfg.path = path;
    Ctx c{path, ""};
    const std::string dir = std::filesystem::path(path).parent_path().string();
    try {
        if (!std::filesystem::exists(path)) {
            return make_error(ErrorCode::BadInput, path + ": no such file");
        }
        const YAML::Node root = YAML::LoadFile(path);
        if (!root || root.IsNull()) {
            return make_error(ErrorCode::BadInput, path + ": empty configuration");
        }
        c.check_keys(root, "",
                     {"sensor-id", "capture", "rules", "vars", "engine", "outputs", "ips", "flow",
                      "stream", "defrag", "app-layer", "host-os-policy", "datasets"});
        load_pipeline(c, root, cfg.pipeline);
        if (root["sensor-id"]) {
            cfg.sensor_id = root["sensor-id"].as<std::string>();
        }
        if (const auto cap = root["capture"]) {
            c.check_keys(cap, "capture",
                         {"method", "eal", "ports", "inline-pairs", "workers", "exit-on-idle-ms",
                          "rx-descriptors", "tx-descriptors", "rss-hash", "overload-policy",
                          "overload-watermark", "overload-bursts", "idle-sleep-us", "watchdog-ms",
                          "snaplen", "promiscuous"});
            cfg.has_capture = true;
            cfg.capture_line = cap.Mark().line + 1;
            if (cap["method"]) {
                cfg.capture_method = cap["method"].as<std::string>();
                if (cfg.capture_method != "dpdk" && cfg.capture_method != "pcap") {
                    c.fail(cap["method"], "capture.method: expected 'dpdk' or 'pcap', got '" +
                                              cfg.capture_method + "'");
                }
            }
            if (cap["eal"]) {
                cfg.eal = resolve_eal_paths(dir, str_list(c, cap["eal"], "capture.eal"));
            }
            if (cap["ports"]) {
                cfg.ports = str_list(c, cap["ports"], "capture.ports");
            }
            if (cap["inline-pairs"]) {
                for (const auto& p : cap["inline-pairs"]) {
                    auto pair = str_list(c, p, "capture.inline-pairs[]");
                    if (pair.size() != 2) {
                        c.fail(p, "capture.inline-pairs: each entry is a pair [in, out]");
                    }
                    cfg.inline_pairs.push_back(pair);
                }
            }
            if (cap["workers"]) {
                cfg.workers = to_u32(c, cap["workers"], "capture.workers");
                if (cfg.workers == 0 || cfg.workers > 64) {
                    c.fail(cap["workers"], "capture.workers: must be 1..64");
                }
            }
            if (cap["exit-on-idle-ms"]) {
                cfg.exit_on_idle_ms = to_u32(c, cap["exit-on-idle-ms"], "capture.exit-on-idle-ms");
            }
            auto desc = [&](const char* key, uint16_t& out) {
                if (!cap[key]) {
                    return;
                }
                const uint32_t v = to_u32(c, cap[key], std::string("capture.") + key);
                if (v < 64 || v > 16384 || (v & (v - 1)) != 0) {
                    c.fail(cap[key], std::string("capture.") + key +
                                         ": must be a power of two from 64 to 16384");
                }
                out = static_cast<uint16_t>(v);
            };
            desc("rx-descriptors", cfg.rx_descriptors);
            desc("tx-descriptors", cfg.tx_descriptors);
            if (cap["rss-hash"]) {
                cfg.rss_hash = cap["rss-hash"].as<std::string>();
                if (cfg.rss_hash != "ip" && cfg.rss_hash != "ip-port") {
                    c.fail(cap["rss-hash"], "capture.rss-hash: expected 'ip' or 'ip-port', got '" +
                                                cfg.rss_hash + "'");
                }
            }
            if (cap["overload-policy"]) {
                cfg.overload_policy = cap["overload-policy"].as<std::string>();
                if (cfg.overload_policy != "none" && cfg.overload_policy != "drop" &&
                    cfg.overload_policy != "pass") {
                    c.fail(cap["overload-policy"],
                           "capture.overload-policy: expected 'none', 'drop' or 'pass', got '" +
                               cfg.overload_policy + "'");
                }
            }
            if (cap["overload-watermark"]) {
                try {
                    cfg.overload_watermark = cap["overload-watermark"].as<double>();
                } catch (const YAML::Exception&) {
                    cfg.overload_watermark = -1;
                }
                if (!(cfg.overload_watermark > 0 && cfg.overload_watermark <= 1)) {
                    c.fail(cap["overload-watermark"],
                           "capture.overload-watermark: expected a fraction of the RX queue, "
                           "above 0 and at most 1 (e.g. 0.9)");
                }
            }
            if (cap["overload-bursts"]) {
                cfg.overload_bursts = to_u32(c, cap["overload-bursts"], "capture.overload-bursts");
                if (cfg.overload_bursts == 0) {
                    c.fail(cap["overload-bursts"], "capture.overload-bursts: at least 1");
                }
            }
            if (cap["idle-sleep-us"]) {
                cfg.idle_sleep_us = to_u32(c, cap["idle-sleep-us"], "capture.idle-sleep-us");
                if (cfg.idle_sleep_us > 100000) {
                    c.fail(cap["idle-sleep-us"], "capture.idle-sleep-us: at most 100000");
                }
            }
            if (cap["watchdog-ms"]) {
                cfg.watchdog_ms = to_u32(c, cap["watchdog-ms"], "capture.watchdog-ms");
                if (cfg.watchdog_ms != 0 && cfg.watchdog_ms < 100) {
                    c.fail(cap["watchdog-ms"],
                           "capture.watchdog-ms: at least 100 (or 0 to turn the watchdog off)");
                }
            }
            if (cap["snaplen"]) {
                cfg.snaplen = to_u32(c, cap["snaplen"], "capture.snaplen");
                if (cfg.snaplen < 64 || cfg.snaplen > 262144) {
                    c.fail(cap["snaplen"], "capture.snaplen: must be 64..262144");
                }
            }
            if (cap["promiscuous"]) {
                cfg.promiscuous = to_bool(c, cap["promiscuous"], "capture.promiscuous");
            }
            // A port is captured once: listed in ports or in one inline pair.
            std::set<std::string> seen;
            auto once = [&](const std::string& port, const YAML::Node& at) {
                if (!seen.insert(port).second) {
                    c.fail(at, "capture: port '" + port +
                                   "' is listed twice (each port goes in ports or in one "
                                   "inline pair)");
                }
            };
            for (const auto& p : cfg.ports) {
                once(p, cap["ports"]);
            }
            for (const auto& pair : cfg.inline_pairs) {
                for (const auto& p : pair) {
                    once(p, cap["inline-pairs"]);
                }
            }
            if (cfg.capture_method == "pcap" && !cfg.eal.empty()) {
                c.fail(cap["eal"],
                       "capture.eal: EAL arguments apply to method 'dpdk' only; "
                       "remove them for method 'pcap'");
            }
        }
        if (const auto r = root["rules"]) {
            for (auto& p : str_list(c, r, "rules")) {
                cfg.rules.push_back(resolve(dir, p));
            }
        }
        if (const auto eng = root["engine"]) {
            c.check_keys(eng, "engine", {"init-failure-fatal", "rules-cache"});
            if (eng["init-failure-fatal"]) {
                cfg.init_failure_fatal =
                    to_bool(c, eng["init-failure-fatal"], "engine.init-failure-fatal");
            }
            if (eng["rules-cache"]) {
                const auto p = eng["rules-cache"].as<std::string>();
                if (p.empty()) {
                    c.fail(eng["rules-cache"], "engine.rules-cache: empty path");
                } else {
                    cfg.rules_cache = resolve(dir, p);
                }
            }
        }
        if (root["vars"]) {
            cfg.vars = resolve(dir, root["vars"].as<std::string>());
        }
        if (const auto ds = root["datasets"]) {
            load_datasets(c, ds, dir, cfg.datasets);
        }
        if (const auto out = root["outputs"]) {
            c.check_keys(out, "outputs", {"eve", "zmq"});
            if (const auto eve = out["eve"]) {
                c.check_keys(eve, "outputs.eve",
                             {"path", "anomalies", "flow", "stats-interval-s", "payload",
                              "payload-printable", "payload-buffer-size", "packet"});
                if (eve["anomalies"]) {
                    cfg.pipeline.anomalies = to_bool(c, eve["anomalies"], "outputs.eve.anomalies");
                }
                if (eve["flow"]) {
                    cfg.pipeline.flow_records = to_bool(c, eve["flow"], "outputs.eve.flow");
                }
                if (eve["stats-interval-s"]) {
                    cfg.stats_interval_s =
                        to_u32(c, eve["stats-interval-s"], "outputs.eve.stats-interval-s");
                }
                if (eve["payload"]) {
                    cfg.pipeline.eve_alert.payload =
                        to_bool(c, eve["payload"], "outputs.eve.payload");
                }
                if (eve["payload-printable"]) {
                    cfg.pipeline.eve_alert.payload_printable =
                        to_bool(c, eve["payload-printable"], "outputs.eve.payload-printable");
                }
                if (eve["payload-buffer-size"]) {
                    cfg.pipeline.eve_alert.payload_buffer_size = to_u32_bytes(
                        c, eve["payload-buffer-size"], "outputs.eve.payload-buffer-size");
                }
                if (eve["packet"]) {
                    cfg.pipeline.eve_alert.packet = to_bool(c, eve["packet"], "outputs.eve.packet");
                }
                if (eve["path"]) {
                    const auto p = eve["path"].as<std::string>();
                    cfg.eve_path = p == "-" ? p : resolve(dir, p);
                }
            }
            if (const auto z = out["zmq"]) {
                c.check_keys(z, "outputs.zmq",
                             {"endpoint", "spool", "spool-max-mb", "spool-full", "drain-timeout-s",
                              "curve"});
                if (z["endpoint"]) {
                    cfg.zmq_endpoint = resolve_ipc(dir, z["endpoint"].as<std::string>());
                    cfg.zmq_line = z["endpoint"].Mark().line + 1;
                }
                if (z["spool"]) {
                    cfg.zmq_spool = resolve(dir, z["spool"].as<std::string>());
                }
                if (z["spool-max-mb"]) {
                    cfg.zmq_spool_max_mb = to_u32(c, z["spool-max-mb"], "outputs.zmq.spool-max-mb");
                    if (cfg.zmq_spool_max_mb == 0) {
                        c.fail(z["spool-max-mb"], "outputs.zmq.spool-max-mb: must be at least 1");
                    }
                }
                if (z["spool-full"]) {
                    cfg.zmq_spool_full = z["spool-full"].as<std::string>();
                    if (cfg.zmq_spool_full != "drop-oldest" &&
                        cfg.zmq_spool_full != "drop-newest") {
                        c.fail(z["spool-full"],
                               "outputs.zmq.spool-full: expected 'drop-oldest' or "
                               "'drop-newest', got '" +
                                   cfg.zmq_spool_full + "'");
                    }
                }
                if (z["drain-timeout-s"]) {
                    cfg.zmq_drain_timeout_s =
                        to_u32(c, z["drain-timeout-s"], "outputs.zmq.drain-timeout-s");
                }
                if (const auto cv = z["curve"]) {
                    c.check_keys(cv, "outputs.zmq.curve",
                                 {"secret-key-file", "server-public-key-file"});
                    if (cv["secret-key-file"]) {
                        cfg.zmq_curve_secret_key_file =
                            resolve(dir, cv["secret-key-file"].as<std::string>());
                    }
                    if (cv["server-public-key-file"]) {
                        cfg.zmq_curve_server_key_file =
                            resolve(dir, cv["server-public-key-file"].as<std::string>());
                    }
                    if (cfg.zmq_curve_secret_key_file.empty() ||
                        cfg.zmq_curve_server_key_file.empty()) {
                        c.fail(cv,
                               "outputs.zmq.curve: give both secret-key-file and "
                               "server-public-key-file");
                    }
                }
                if (!cfg.zmq_endpoint.empty() && c.err.empty()) {
                    if (auto st = check_zmq_endpoint(cfg.zmq_endpoint,
                                                     !cfg.zmq_curve_secret_key_file.empty());
                        !st) {
                        c.fail(z["endpoint"], st.error().message);
                    }
                }
            }
        }
        if (const auto ips = root["ips"]) {
            c.check_keys(ips, "ips", {"enabled", "nft"});
            if (ips["enabled"]) {
                cfg.ips_enabled = ips["enabled"].as<bool>();
            }
            if (const auto nft = ips["nft"]) {
                c.check_keys(nft, "ips.nft",
                             {"enabled", "table", "block-timeout-s", "allowlist", "batch-ms",
                              "max-elements", "keep-on-exit", "check-ms"});
                if (nft["enabled"]) {
                    cfg.nft_enabled = to_bool(c, nft["enabled"], "ips.nft.enabled");
                }
                if (nft["batch-ms"]) {
                    cfg.nft_batch_ms = to_u32(c, nft["batch-ms"], "ips.nft.batch-ms");
                    if (cfg.nft_batch_ms > 10000) {
                        c.fail(nft["batch-ms"], "ips.nft.batch-ms: at most 10000");
                    }
                }
                if (nft["max-elements"]) {
                    cfg.nft_max_elements = to_u32(c, nft["max-elements"], "ips.nft.max-elements");
                    if (cfg.nft_max_elements == 0) {
                        c.fail(nft["max-elements"], "ips.nft.max-elements: at least 1");
                    }
                }
                if (nft["keep-on-exit"]) {
                    cfg.nft_keep_on_exit = to_bool(c, nft["keep-on-exit"], "ips.nft.keep-on-exit");
                }
                if (nft["check-ms"]) {
                    cfg.nft_check_ms = to_u32(c, nft["check-ms"], "ips.nft.check-ms");
                    if (cfg.nft_check_ms != 0 && cfg.nft_check_ms < 100) {
                        c.fail(nft["check-ms"], "ips.nft.check-ms: at least 100 (0 = no check)");
                    }
                }
                if (nft["table"]) {
                    cfg.nft_table = nft["table"].as<std::string>();
                    const bool ok =
                        !cfg.nft_table.empty() && cfg.nft_table.size() < 64 &&
                        std::all_of(cfg.nft_table.begin(), cfg.nft_table.end(), [](char ch) {
                            return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '_' ||
                                   ch == '-';
                        });
                    if (!ok) {
                        c.fail(nft["table"],
                               "ips.nft.table: a name of letters, digits, '_' or "
                               "'-' (at most 63)");
                    }
                }
                if (nft["block-timeout-s"]) {
                    cfg.block_timeout_s =
                        to_u32(c, nft["block-timeout-s"], "ips.nft.block-timeout-s");
                    if (cfg.block_timeout_s == 0 || cfg.block_timeout_s > 31536000) {
                        c.fail(nft["block-timeout-s"],
                               "ips.nft.block-timeout-s: 1 to 31536000 (a year)");
                    }
                }
                if (nft["allowlist"]) {
                    cfg.allowlist = str_list(c, nft["allowlist"], "ips.nft.allowlist");
                }
            }
        }
        if (const auto fl = root["flow"]) {
            c.check_keys(fl, "flow", {"capacity"});
            if (fl["capacity"]) {
                cfg.flow_capacity = to_u32(c, fl["capacity"], "flow.capacity");
                if (cfg.flow_capacity < 16) {
                    c.fail(fl["capacity"], "flow.capacity: must be at least 16");
                }
            }
        }
    } catch (const YAML::Exception& e) {
        return make_error(ErrorCode::BadInput,
                          path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
    }
    if (!c.err.empty()) {
        return make_error(ErrorCode::BadInput, c.err);
    }
    cfg.pipeline.flows.capacity = cfg.flow_capacity;
    return cfg;
}

EnforcerConfig enforcer_config(const SensorConfig& cfg) {
    EnforcerConfig e;
    e.table = cfg.nft_table;
    e.block_timeout_s = cfg.block_timeout_s;
    e.allowlist = cfg.allowlist;
    e.batch_ms = cfg.nft_batch_ms;
    e.max_elements = cfg.nft_max_elements;
    e.keep_on_exit = cfg.nft_keep_on_exit;
    e.check_ms = cfg.nft_check_ms;
    return e;
}

Status validate_for_run(const SensorConfig& cfg) {
    const std::string at =
        cfg.path + (cfg.capture_line > 0 ? ":" + std::to_string(cfg.capture_line) : "") + ": ";
    if (!cfg.has_capture) {
        return make_error(ErrorCode::BadInput,
                          cfg.path +
                              ": no capture section: `run` needs capture.method and "
                              "capture.ports (docs/operator-guide.md)");
    }
    if (cfg.ports.empty() && cfg.inline_pairs.empty()) {
        return make_error(ErrorCode::BadInput,
                          at + "capture: no ports to capture from: give capture.ports (IDS) or "
                               "capture.inline-pairs (IPS)");
    }
    if (cfg.capture_method == "dpdk" && cfg.eal.empty()) {
        return make_error(ErrorCode::BadInput,
                          at + "capture.eal: method 'dpdk' needs EAL arguments (at least the "
                               "lcores, e.g. [\"-l\", \"0-2\"]; docs/operations.md)");
    }
    if (cfg.rules.empty()) {
        return make_error(ErrorCode::BadInput, cfg.path + ": rules: no rule files or packs given");
    }
    if (cfg.eve_path.empty()) {
        return make_error(ErrorCode::BadInput, cfg.path + ": outputs.eve.path is empty");
    }
    return Ok();
}

}  // namespace vigil::sensor
