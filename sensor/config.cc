#include "sensor/config.h"

#include <filesystem>
#include <set>

#include <yaml-cpp/yaml.h>

namespace vigil::sensor {

namespace {

struct Ctx {
    std::string file;
    std::string err;
    void fail(const YAML::Node& n, const std::string& what) {
        if (!err.empty()) {
            return;
        }
        const auto m = n.Mark();
        err = file + (m.line >= 0 ? ":" + std::to_string(m.line + 1) : "") + ": " + what;
    }
    void check_keys(const YAML::Node& map, const std::string& where,
                    const std::set<std::string>& allowed) {
        if (!map.IsMap()) {
            fail(map, where + ": expected a mapping");
            return;
        }
        for (const auto& kv : map) {
            const auto k = kv.first.as<std::string>();
            if (allowed.count(k) == 0) {
                std::string list;
                for (const auto& a : allowed) {
                    list += list.empty() ? "" : ", ";
                    list += a;
                }
                const std::string full = where.empty() ? k : where + "." + k;
                fail(kv.first, "unknown key '" + full + "' (expected one of: " + list + ")");
            }
        }
    }
};

std::string resolve(const std::string& base_dir, const std::string& p) {
    if (p.empty() || p[0] == '/') {
        return p;
    }
    return (std::filesystem::path(base_dir) / p).lexically_normal().string();
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
        c.check_keys(root, "", {"sensor-id", "capture", "rules", "vars", "outputs", "ips", "flow"});
        if (root["sensor-id"]) {
            cfg.sensor_id = root["sensor-id"].as<std::string>();
        }
        if (const auto cap = root["capture"]) {
            c.check_keys(cap, "capture",
                         {"method", "eal", "ports", "inline-pairs", "workers", "exit-on-idle-ms"});
            if (cap["method"]) {
                cfg.capture_method = cap["method"].as<std::string>();
                if (cfg.capture_method != "dpdk" && cfg.capture_method != "pcap") {
                    c.fail(cap["method"], "capture.method: expected 'dpdk' or 'pcap', got '" +
                                              cfg.capture_method + "'");
                }
            }
            if (cap["eal"]) {
                cfg.eal = str_list(c, cap["eal"], "capture.eal");
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
        }
        if (const auto r = root["rules"]) {
            for (auto& p : str_list(c, r, "rules")) {
                cfg.rules.push_back(resolve(dir, p));
            }
        }
        if (root["vars"]) {
            cfg.vars = resolve(dir, root["vars"].as<std::string>());
        }
        if (const auto out = root["outputs"]) {
            c.check_keys(out, "outputs", {"eve", "zmq"});
            if (const auto eve = out["eve"]) {
                c.check_keys(eve, "outputs.eve", {"path"});
                if (eve["path"]) {
                    const auto p = eve["path"].as<std::string>();
                    cfg.eve_path = p == "-" ? p : resolve(dir, p);
                }
            }
            if (const auto z = out["zmq"]) {
                c.check_keys(z, "outputs.zmq", {"endpoint", "spool", "spool-max-mb"});
                if (z["endpoint"]) {
                    cfg.zmq_endpoint = z["endpoint"].as<std::string>();
                }
                if (z["spool"]) {
                    cfg.zmq_spool = resolve(dir, z["spool"].as<std::string>());
                }
                if (z["spool-max-mb"]) {
                    cfg.zmq_spool_max_mb = to_u32(c, z["spool-max-mb"], "outputs.zmq.spool-max-mb");
                }
            }
        }
        if (const auto ips = root["ips"]) {
            c.check_keys(ips, "ips", {"enabled", "nft"});
            if (ips["enabled"]) {
                cfg.ips_enabled = ips["enabled"].as<bool>();
            }
            if (const auto nft = ips["nft"]) {
                c.check_keys(nft, "ips.nft", {"table", "block-timeout-s", "allowlist"});
                if (nft["table"]) {
                    cfg.nft_table = nft["table"].as<std::string>();
                }
                if (nft["block-timeout-s"]) {
                    cfg.block_timeout_s =
                        to_u32(c, nft["block-timeout-s"], "ips.nft.block-timeout-s");
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
    return cfg;
}

}  // namespace vigil::sensor
