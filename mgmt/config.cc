#include "mgmt/config.h"

#include <charconv>
#include <filesystem>
#include <set>

#include "common/config_check.h"
#include "common/endpoint.h"
#include "mgmt/notify.h"

#include <yaml-cpp/yaml.h>

namespace vigil::mgmt {

namespace {

// Collects the first error with the file and line of the node it is about.
// The shared checks, and the two value kinds mgmtd.yaml has.
struct Ctx : ConfigCheck {
    std::string str(const YAML::Node& n, const std::string& key) {
        if (!n.IsScalar()) {
            fail(n, key + ": expected a string");
            return {};
        }
        return n.as<std::string>();
    }
    uint64_t num(const YAML::Node& n, const std::string& key, uint64_t max) {
        const std::string s = n.IsScalar() ? n.as<std::string>() : "";
        uint64_t v = 0;
        const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
        if (s.empty() || r.ec != std::errc{} || r.ptr != s.data() + s.size() || v > max) {
            fail(n, key + ": expected a whole number from 0 to " + std::to_string(max) + ", got '" +
                        s + "'");
            return 0;
        }
        return v;
    }
    double dbl(const YAML::Node& n, const std::string& key, double min, double max) {
        const std::string s = n.IsScalar() ? n.as<std::string>() : "";
        double v = 0;
        const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
        if (s.empty() || r.ec != std::errc{} || r.ptr != s.data() + s.size() || !(v >= min) ||
            !(v <= max)) {
            char range[64];
            std::snprintf(range, sizeof(range), "%g to %g", min, max);
            fail(n, key + ": expected a number from " + range + ", got '" + s + "'");
            return min;
        }
        return v;
    }
};

std::string resolve(const std::string& dir, const std::string& p) {
    if (p.empty() || p[0] == '/') {
        return p;
    }
    return (std::filesystem::path(dir) / p).lexically_normal().string();
}

// ipc://relative/path resolves like any other path in the file.
std::string resolve_endpoint(const std::string& dir, const std::string& ep) {
    if (ep.rfind("ipc://", 0) == 0 && ep.size() > 6 && ep[6] != '/' && ep[6] != '@') {
        return "ipc://" + resolve(dir, ep.substr(6));
    }
    return ep;
}

}  // namespace

Result<HostPort> parse_host_port(const std::string& s) {
    const auto colon = s.rfind(':');
    if (colon == std::string::npos || colon == 0) {
        return make_error(ErrorCode::BadInput, "expected HOST:PORT, got '" + s + "'");
    }
    HostPort hp;
    hp.host = s.substr(0, colon);
    if (hp.host.size() >= 2 && hp.host.front() == '[' && hp.host.back() == ']') {
        hp.host = hp.host.substr(1, hp.host.size() - 2);
    }
    const std::string port = s.substr(colon + 1);
    unsigned v = 0;
    const auto r = std::from_chars(port.data(), port.data() + port.size(), v);
    if (port.empty() || r.ec != std::errc{} || r.ptr != port.data() + port.size() || v > 65535) {
        return make_error(ErrorCode::BadInput, "bad port in '" + s + "'");
    }
    hp.port = static_cast<uint16_t>(v);
    return hp;
}

Result<MgmtConfig> load_mgmt_config(const std::string& path) {
    MgmtConfig cfg;
    cfg.path = path;
    Ctx c{{path, ""}};
    const std::string dir = std::filesystem::path(path).parent_path().string();
    YAML::Node root;
    try {
        if (!std::filesystem::exists(path)) {
            return make_error(ErrorCode::BadInput, path + ": no such file");
        }
        root = YAML::LoadFile(path);
    } catch (const YAML::Exception& e) {
        return make_error(ErrorCode::BadInput,
                          path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
    }
    if (!root || root.IsNull()) {
        return cfg;  // an empty file: the defaults
    }
    // Sections later issues fill are not known yet: naming one is an error, not silently
    // ignored.
    if (!c.check_keys(root, "",
                      {"listen", "curve", "store", "api", "rulepacks", "sensors", "health",
                       "notify", "audit", "classification"})) {
        return make_error(ErrorCode::BadInput, c.err);
    }
    if (root["listen"]) {
        cfg.listen = resolve_endpoint(dir, c.str(root["listen"], "listen"));
    }
    if (const auto cv = root["curve"];
        cv && c.check_keys(cv, "curve", {"secret-key-file", "sensor-keys-dir"})) {
        if (cv["secret-key-file"]) {
            cfg.curve_secret_key_file =
                resolve(dir, c.str(cv["secret-key-file"], "curve.secret-key-file"));
        }
        if (cv["sensor-keys-dir"]) {
            cfg.curve_sensor_keys_dir =
                resolve(dir, c.str(cv["sensor-keys-dir"], "curve.sensor-keys-dir"));
        }
        if (c.err.empty() &&
            (cfg.curve_secret_key_file.empty() != cfg.curve_sensor_keys_dir.empty())) {
            c.fail(cv, "curve: give both secret-key-file and sensor-keys-dir");
        }
    }
    if (const auto rp = root["rulepacks"];
        rp &&
        c.check_keys(rp, "rulepacks",
                     {"dir", "trusted-keys", "max-upload-mb", "reload-timeout-s", "initial"})) {
        if (rp["dir"]) {
            cfg.rulepacks_dir = resolve(dir, c.str(rp["dir"], "rulepacks.dir"));
        }
        if (rp["trusted-keys"]) {
            cfg.rulepacks_trusted_keys =
                resolve(dir, c.str(rp["trusted-keys"], "rulepacks.trusted-keys"));
        }
        if (rp["initial"]) {
            cfg.rulepacks_initial = resolve(dir, c.str(rp["initial"], "rulepacks.initial"));
        }
        if (rp["max-upload-mb"]) {
            cfg.rulepacks_max_upload = c.num(rp["max-upload-mb"], "rulepacks.max-upload-mb", 4096)
                                       << 20;
        }
        if (rp["reload-timeout-s"]) {
            cfg.rulepacks_reload_timeout_s = static_cast<uint32_t>(
                c.num(rp["reload-timeout-s"], "rulepacks.reload-timeout-s", 3600));
        }
    }
    if (const auto st = root["store"];
        st && c.check_keys(
                  st, "store",
                  {"backend", "path", "retention-days", "max-mb", "commit-ms", "commit-batch"})) {
        if (st["backend"]) {
            cfg.store_backend = c.str(st["backend"], "store.backend");
            if (c.err.empty() && cfg.store_backend != "sqlite") {
                c.fail(st["backend"],
                       "store.backend: only 'sqlite' is built in, got '" + cfg.store_backend + "'");
            }
        }
        if (st["path"]) {
            cfg.store_path = resolve(dir, c.str(st["path"], "store.path"));
        }
        if (st["retention-days"]) {
            cfg.retention_days =
                static_cast<uint32_t>(c.num(st["retention-days"], "store.retention-days", 36500));
        }
        if (st["max-mb"]) {
            cfg.max_mb = c.num(st["max-mb"], "store.max-mb", 1ull << 30);
        }
        if (st["commit-ms"]) {
            cfg.commit_ms = static_cast<uint32_t>(c.num(st["commit-ms"], "store.commit-ms", 10000));
        }
        if (st["commit-batch"]) {
            cfg.commit_batch =
                static_cast<uint32_t>(c.num(st["commit-batch"], "store.commit-batch", 1000000));
            if (c.err.empty() && cfg.commit_batch == 0) {
                c.fail(st["commit-batch"], "store.commit-batch: must be at least 1");
            }
        }
    }
    if (const auto api = root["api"];
        api && c.check_keys(api, "api", {"listen", "tls", "tokens", "max-body"})) {
        if (api["listen"]) {
            cfg.api_listen = c.str(api["listen"], "api.listen");
            if (c.err.empty()) {
                if (auto hp = parse_host_port(cfg.api_listen); !hp) {
                    c.fail(api["listen"], "api.listen: " + hp.error().message);
                }
            }
        }
        if (const auto tls = api["tls"]; tls && c.check_keys(tls, "api.tls", {"cert", "key"})) {
            if (tls["cert"]) {
                cfg.api_tls_cert = resolve(dir, c.str(tls["cert"], "api.tls.cert"));
            }
            if (tls["key"]) {
                cfg.api_tls_key = resolve(dir, c.str(tls["key"], "api.tls.key"));
            }
            if (c.err.empty() && cfg.api_tls_cert.empty() != cfg.api_tls_key.empty()) {
                c.fail(tls, "api.tls: give both cert and key");
            }
        }
        if (api["tokens"]) {
            cfg.api_tokens = resolve(dir, c.str(api["tokens"], "api.tokens"));
        }
        if (api["max-body"]) {
            cfg.api_max_body = c.num(api["max-body"], "api.max-body", 64ull << 20);
        }
    }
    if (const auto ss = root["sensors"]; ss && c.err.empty()) {
        if (!ss.IsMap()) {
            c.fail(ss, "sensors: expected a map of sensor ids");
        }
        for (auto it = ss.begin(); c.err.empty() && ss.IsMap() && it != ss.end(); ++it) {
            SensorEntry e;
            e.id = it->first.as<std::string>();
            const std::string key = "sensors." + e.id;
            const YAML::Node n = it->second;
            if (!n.IsMap()) {
                c.fail(n, key + ": expected a map (owner, supervise)");
                break;
            }
            if (!c.check_keys(n, key, {"owner", "supervise"})) {
                break;
            }
            if (!n["owner"]) {
                c.fail(n, key + ".owner: required (the person or function responsible)");
                break;
            }
            e.owner = c.str(n["owner"], key + ".owner");
            if (const auto sv = n["supervise"];
                sv && c.check_keys(sv, key + ".supervise", {"command", "systemd-unit", "log"})) {
                if (sv["command"]) {
                    if (!sv["command"].IsSequence() || sv["command"].size() == 0) {
                        c.fail(sv["command"], key +
                                                  ".supervise.command: expected a list "
                                                  "[program, arguments...]");
                        break;
                    }
                    for (const auto& a : sv["command"]) {
                        e.command.push_back(c.str(a, key + ".supervise.command"));
                    }
                    if (c.err.empty() && e.command[0].find('/') != std::string::npos) {
                        e.command[0] = resolve(dir, e.command[0]);
                    }
                    if (c.err.empty() && (e.command[0].empty() || e.command[0][0] != '/')) {
                        c.fail(sv["command"], key +
                                                  ".supervise.command: the program needs a "
                                                  "path ('" +
                                                  e.command[0] + "')");
                    }
                }
                if (sv["systemd-unit"]) {
                    e.systemd_unit = c.str(sv["systemd-unit"], key + ".supervise.systemd-unit");
                }
                if (sv["log"]) {
                    e.log = resolve(dir, c.str(sv["log"], key + ".supervise.log"));
                }
                if (c.err.empty() && !e.command.empty() && !e.systemd_unit.empty()) {
                    c.fail(sv, key + ".supervise: give command or systemd-unit, not both");
                }
            }
            cfg.sensors.push_back(std::move(e));
        }
    }
    if (const auto h = root["health"];
        h && c.err.empty() &&
        c.check_keys(h, "health",
                     {"interval-s", "enhanced", "heartbeat-timeout-s", "start-grace-s", "incidents",
                      "owner", "capture", "alert-path", "store", "file-integrity", "drill"})) {
        if (const auto dr = h["drill"];
            dr && c.check_keys(dr, "health.drill", {"detect-objective-s", "restore-objective-s"})) {
            if (dr["detect-objective-s"]) {
                cfg.health_drill_detect_objective_s =
                    c.dbl(dr["detect-objective-s"], "health.drill.detect-objective-s", 0.1, 3600);
            }
            if (dr["restore-objective-s"]) {
                cfg.health_drill_restore_objective_s =
                    c.dbl(dr["restore-objective-s"], "health.drill.restore-objective-s", 0.1, 3600);
            }
        }
        if (h["owner"]) {
            cfg.health_owner = c.str(h["owner"], "health.owner");
        }
        if (const auto cp = h["capture"];
            cp && c.check_keys(cp, "health.capture", {"max-drop-ratio", "min-packets"})) {
            if (cp["max-drop-ratio"]) {
                cfg.health_capture_max_drop_ratio =
                    c.dbl(cp["max-drop-ratio"], "health.capture.max-drop-ratio", 0, 1);
            }
            if (cp["min-packets"]) {
                cfg.health_capture_min_packets =
                    c.num(cp["min-packets"], "health.capture.min-packets", 1ull << 40);
            }
        }
        if (const auto ap = h["alert-path"];
            ap && c.check_keys(ap, "health.alert-path", {"max-backlog"})) {
            if (ap["max-backlog"]) {
                cfg.health_alert_max_backlog =
                    c.num(ap["max-backlog"], "health.alert-path.max-backlog", 1ull << 40);
            }
        }
        if (const auto st = h["store"]; st && c.check_keys(st, "health.store", {"min-free-mb"})) {
            if (st["min-free-mb"]) {
                cfg.health_store_min_free_mb =
                    c.num(st["min-free-mb"], "health.store.min-free-mb", 1ull << 30);
            }
        }
        if (const auto fi = h["file-integrity"];
            fi && c.check_keys(fi, "health.file-integrity", {"paths", "baseline", "scan-s"})) {
            if (const auto ps = fi["paths"]; ps) {
                if (!ps.IsSequence()) {
                    c.fail(ps, "health.file-integrity.paths: expected a list of files and folders");
                } else {
                    for (const auto& p : ps) {
                        cfg.health_integrity_paths.push_back(
                            resolve(dir, c.str(p, "health.file-integrity.paths")));
                    }
                }
            }
            if (fi["baseline"]) {
                cfg.health_integrity_baseline =
                    resolve(dir, c.str(fi["baseline"], "health.file-integrity.baseline"));
            }
            if (fi["scan-s"]) {
                cfg.health_integrity_scan_s =
                    c.dbl(fi["scan-s"], "health.file-integrity.scan-s", 1, 86400);
            }
        }
        if (h["interval-s"]) {
            cfg.health_interval_s = c.dbl(h["interval-s"], "health.interval-s", 0.05, 3600);
        }
        if (const auto en = h["enhanced"];
            en && c.check_keys(en, "health.enhanced", {"interval-s", "for-s"})) {
            if (en["interval-s"]) {
                cfg.health_enhanced_interval_s =
                    c.dbl(en["interval-s"], "health.enhanced.interval-s", 0.05, 3600);
            }
            if (en["for-s"]) {
                cfg.health_enhanced_for_s =
                    c.dbl(en["for-s"], "health.enhanced.for-s", 0, 30 * 86400);
            }
        }
        if (h["heartbeat-timeout-s"]) {
            cfg.health_heartbeat_timeout_s =
                c.dbl(h["heartbeat-timeout-s"], "health.heartbeat-timeout-s", 2, 3600);
        }
        if (h["start-grace-s"]) {
            cfg.health_start_grace_s = c.dbl(h["start-grace-s"], "health.start-grace-s", 1, 3600);
        }
        if (h["incidents"]) {
            cfg.health_incidents = resolve(dir, c.str(h["incidents"], "health.incidents"));
        }
    }
    if (const auto nt = root["notify"];
        nt && c.err.empty() && c.check_keys(nt, "notify", {"webhook", "syslog", "outbox"})) {
        if (const auto wh = nt["webhook"];
            wh && c.check_keys(wh, "notify.webhook", {"url", "secret-file", "ca-file"})) {
            if (!wh["url"] || !wh["secret-file"]) {
                c.fail(wh, "notify.webhook: give url and secret-file (the HMAC key)");
            } else {
                cfg.notify_webhook_url = c.str(wh["url"], "notify.webhook.url");
                if (auto u = parse_webhook_url(cfg.notify_webhook_url); c.err.empty() && !u) {
                    c.fail(wh["url"], "notify.webhook.url: " + u.error().message);
                }
                cfg.notify_webhook_secret_file =
                    resolve(dir, c.str(wh["secret-file"], "notify.webhook.secret-file"));
            }
            if (wh["ca-file"]) {
                cfg.notify_webhook_ca_file =
                    resolve(dir, c.str(wh["ca-file"], "notify.webhook.ca-file"));
            }
        }
        if (const auto sl = nt["syslog"]; sl && c.check_keys(sl, "notify.syslog", {"address"})) {
            if (!sl["address"]) {
                c.fail(sl, "notify.syslog: give address (udp://127.0.0.1:514)");
            } else {
                cfg.notify_syslog_address = c.str(sl["address"], "notify.syslog.address");
            }
        }
        if (nt["outbox"]) {
            cfg.notify_outbox = resolve(dir, c.str(nt["outbox"], "notify.outbox"));
        }
    }
    if (const auto au = root["audit"]; au && c.err.empty() && c.check_keys(au, "audit", {"path"})) {
        if (au["path"]) {
            cfg.audit_log = resolve(dir, c.str(au["path"], "audit.path"));
        }
    }
    if (const auto cl = root["classification"];
        cl && c.err.empty() && c.check_keys(cl, "classification", {"data", "sinks"})) {
        auto levels = [&](const YAML::Node& n, const std::string& key, auto names,
                          std::map<std::string, std::string>& out) {
            if (!n) {
                return;
            }
            const std::set<std::string> allowed(names.begin(), names.end());
            if (!c.check_keys(n, key, allowed)) {
                return;
            }
            for (const auto& name : allowed) {
                if (n[name] && c.err.empty()) {
                    const std::string v = c.str(n[name], key + "." + name);
                    if (class_rank(v) < 0) {
                        c.fail(n[name], key + "." + name + ": '" + v +
                                            "' is not a level (public, internal, confidential, "
                                            "restricted)");
                        return;
                    }
                    out[name] = v;
                }
            }
        };
        levels(cl["data"], "classification.data", kDataKinds, cfg.classification.data);
        levels(cl["sinks"], "classification.sinks", kSinks, cfg.classification.sinks);
    }
    if (!c.err.empty()) {
        return make_error(ErrorCode::BadInput, c.err);
    }
    const auto store_dir = std::filesystem::path(cfg.store_path).parent_path();
    if (cfg.health_incidents.empty()) {
        cfg.health_incidents = (store_dir / "incidents.db").string();
    }
    if (cfg.health_integrity_baseline.empty()) {
        cfg.health_integrity_baseline = (store_dir / "integrity-baseline.json").string();
    }
    if (cfg.audit_log.empty()) {
        cfg.audit_log = (store_dir / "audit.log").string();
    }
    if (cfg.notify_outbox.empty()) {
        cfg.notify_outbox = (store_dir / "notify-outbox.db").string();
    }
    for (auto& e : cfg.sensors) {
        if (e.log.empty() && !e.command.empty()) {
            e.log = (store_dir / ("sensor-" + e.id + ".log")).string();
        }
    }
    if (!root["rulepacks"] || !root["rulepacks"]["dir"]) {
        cfg.rulepacks_dir =
            (std::filesystem::path(cfg.store_path).parent_path() / "rulepacks").string();
    }
    // The transport and the API refuse plaintext off this host.
    if (cfg.listen.rfind("tcp://", 0) == 0 && !endpoint_is_local(cfg.listen) &&
        cfg.curve_secret_key_file.empty()) {
        return make_error(ErrorCode::BadInput,
                          path + ": listen: " + cfg.listen +
                              " is not a loopback address: plaintext ZeroMQ off this host is "
                              "refused; configure curve (vigilctl keys gen) or use ipc://");
    }
    if (cfg.listen.rfind("tcp://", 0) != 0 && cfg.listen.rfind("ipc://", 0) != 0) {
        return make_error(ErrorCode::BadInput, path +
                                                   ": listen: expected ipc://PATH or "
                                                   "tcp://HOST:PORT, got '" +
                                                   cfg.listen + "'");
    }
    if (auto hp = parse_host_port(cfg.api_listen);
        hp && !host_is_loopback(hp->host) && cfg.api_tls_cert.empty()) {
        return make_error(ErrorCode::BadInput,
                          path + ": api.listen: " + cfg.api_listen +
                              " is not a loopback address: the API needs api.tls (cert and key) "
                              "there");
    }
    return cfg;
}

}  // namespace vigil::mgmt
