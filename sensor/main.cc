// vigil-sensor: the sensor process. `replay` runs pcaps through the detection pipeline and
// writes EVE JSON; `check` validates rules (and a config) without touching traffic.

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/exit_codes.h"
#include "common/heap_hugepages.h"
#include "common/text.h"
#include "dataplane/dpdk.h"
#include "dataplane/pcap_source.h"
#include "rules/pack.h"
#include "rules/rule_parser.h"
#include "rules/ruleset.h"
#include "sensor/config.h"
#include "sensor/eve_writer.h"
#include "sensor/expect.h"
#include "sensor/live.h"
#include "sensor/nft.h"
#include "sensor/overrides.h"
#include "sensor/replay.h"
#include "sensor/zmq_output.h"

#include <CLI/CLI.hpp>

namespace {

using namespace vigil;

int fail(int code, const std::string& msg) {
    std::fprintf(stderr, "vigil-sensor: %s\n", msg.c_str());
    return code;
}

struct RulesArgs {
    std::vector<std::string> rules;
    std::string vars;
    std::string config;
    std::string known_rejected;
    std::string write_rejected;
    std::string rules_cache;
    int64_t allow_rejected = -1;  // -1: not given
};

// The load summary, every rejection in file and line order, then (when there are several)
// how many were rejected for each reason; on stderr.
void print_load_report(const rules::LoadReport& report) {
    std::fprintf(stderr, "%s\n", report.summary_line().c_str());
    for (const auto& w : report.warnings) {
        std::fprintf(stderr, "rules: warning: %s\n", w.c_str());
    }
    for (const auto& e : report.rejected_in_order()) {
        std::fprintf(stderr, "  rejected: %s\n", e.to_string().c_str());
    }
    if (report.rejected.size() > 1) {
        std::fprintf(stderr, "rejected by reason:\n");
        for (const auto& [reason, n] : report.rejected_by_reason()) {
            std::fprintf(stderr, "  %6zu  %s\n", n, reason.c_str());
        }
    }
}

// Loads the vars and rules named on the command line (or in the config) and prints the load
// report, and with a compile cache (`cache_dir`, "" for none) what the cache did. A path that
// cannot be read is only its error: nothing was loaded to report.
// Suricata's action-order as the compiler's ranks (empty: the default order).
std::array<uint8_t, 4> action_ranks(const std::vector<std::string>& order) {
    rules::CompileOptions defaults;
    if (order.empty()) {
        return defaults.action_rank;
    }
    std::array<uint8_t, 4> rank{};
    for (size_t i = 0; i < order.size() && i < 4; ++i) {
        const rules::Action a = order[i] == "pass"     ? rules::Action::Pass
                                : order[i] == "drop"   ? rules::Action::Drop
                                : order[i] == "reject" ? rules::Action::Reject
                                                       : rules::Action::Alert;
        rank[static_cast<size_t>(a)] = static_cast<uint8_t>(i);
    }
    return rank;
}

Result<rules::RuleSetPtr> load_rules(const std::vector<std::string>& paths, const rules::Vars& vars,
                                     rules::LoadReport& report, const std::string& cache_dir,
                                     const rules::RuleSetPtr& previous = nullptr,
                                     const std::vector<std::string>& action_order = {},
                                     const rules::DatasetRegistryPtr& datasets = nullptr) {
    rules::CompileOptions opts;
    opts.action_rank = action_ranks(action_order);
    opts.cache_dir = cache_dir;
    opts.previous = previous;
    opts.datasets = datasets;
    auto rs = rules::RuleSet::load(paths, vars, report, opts);
    if (rs) {
        print_load_report(report);
        if (!cache_dir.empty()) {
            std::fprintf(stderr, "%s\n", (*rs)->stats().cache_line().c_str());
        }
    }
    return rs;
}

// A load that replay, run and check can go on with: at least one rule (a run without rules
// would report any traffic as clean) and, when `fatal` (engine.init-failure-fatal), no
// rejection at all.
Status rules_usable(const rules::LoadReport& report, bool fatal) {
    const std::string n = std::to_string(report.rejected.size());
    if (report.loaded == 0) {
        if (!report.rejected.empty()) {
            return make_error(ErrorCode::BadInput,
                              "no rules loaded: all " + n +
                                  " rules were rejected (listed above); without rules no traffic "
                                  "can alert");
        }
        return make_error(ErrorCode::BadInput,
                          "no rules loaded: the " + std::to_string(report.file_names.size()) +
                              " rule file(s) hold no rules (only comments or blank lines)");
    }
    if (fatal && !report.rejected.empty()) {
        return make_error(ErrorCode::BadInput,
                          n + " rule(s) rejected (listed above) and rejections are fatal "
                              "(--init-errors-fatal or engine.init-failure-fatal)");
    }
    return Ok{};
}

// Loads rules for replay and run: the report, then the verdict of rules_usable.
// `beat` (when given) gets the rule set's id and counts for vigil-mgmtd's heartbeats.
Result<rules::RuleSetPtr> load_usable_rules(const std::vector<std::string>& paths,
                                            const rules::Vars& vars, bool fatal,
                                            const std::string& cache_dir,
                                            wire::Heartbeat* beat = nullptr,
                                            const std::vector<std::string>& action_order = {},
                                            const rules::DatasetRegistryPtr& datasets = nullptr) {
    rules::LoadReport report;
    auto rs = load_rules(paths, vars, report, cache_dir, nullptr, action_order, datasets);
    if (!rs) {
        return rs;
    }
    if (auto st = rules_usable(report, fatal); !st) {
        return st.error();
    }
    if (beat != nullptr) {
        beat->ruleset_id = (*rs)->id();
        beat->rules_loaded = report.loaded;
        beat->rules_rejected = report.rejected.size();
    }
    return rs;
}

// Writes the datasets that have a save or state file (Suricata does it at shutdown). A set
// that cannot be written is reported; the run's result stands.
void save_datasets(const rules::DatasetRegistry& datasets) {
    for (const std::string& e : datasets.save_all()) {
        std::fprintf(stderr, "datasets: %s\n", e.c_str());
    }
}

// outputs.zmq set: the spool and the link to vigil-mgmtd, attached to the EVE writer as a
// second sink. Nothing when the endpoint is not set.
Result<std::optional<sensor::MgmtLink>> attach_mgmt(const sensor::SensorConfig& cfg,
                                                    const std::string& sensor_id, const char* mode,
                                                    sensor::EveWriter& eve,
                                                    const wire::Heartbeat& beat) {
    if (cfg.zmq_endpoint.empty()) {
        return std::optional<sensor::MgmtLink>{};
    }
    auto link = sensor::open_mgmt_link(cfg, sensor_id, mode, VIGIL_VERSION, stderr);
    if (!link) {
        return link.error();
    }
    eve.add_sink(std::make_unique<sensor::ZmqSink>(*link->spool));
    link->out->set_heartbeat(beat);
    return std::optional<sensor::MgmtLink>(std::move(*link));
}

Result<rules::Vars> load_vars_arg(const std::string& path) {
    if (path.empty()) {
        return rules::default_vars();
    }
    return rules::load_vars(path);
}

// What a load reads: the rule paths as given with the vars file, or, when the one path is a
// rule pack's folder (vigil-mgmtd's rulepacks/active), the pack: every file's sha256 checked
// against its manifest, its rule files, its classification and threshold files applied to the
// site's vars (or its own vars.yaml when the sensor has none).
struct RuleInputs {
    std::vector<std::string> paths;
    rules::Vars vars;
    std::string pack_version;
    std::string pack_digest;
};

Result<RuleInputs> resolve_rule_inputs(const std::vector<std::string>& paths,
                                       const std::string& vars_path) {
    RuleInputs in;
    if (paths.size() == 1 && rules::is_pack_dir(paths[0])) {
        // rulepacks/active is a symlink that mgmtd swaps: resolved once, so that the whole
        // load reads one version even when it is swapped meanwhile.
        std::error_code ec;
        const std::string dir = std::filesystem::canonical(paths[0], ec).string();
        if (ec) {
            return make_error(ErrorCode::Io, paths[0] + ": " + ec.message());
        }
        auto pack = rules::read_pack(dir);
        if (!pack) {
            return pack.error();
        }
        auto v = rules::pack_vars(*pack, dir, vars_path);
        if (!v) {
            return v.error();
        }
        in.paths = rules::pack_rule_paths(*pack, dir);
        in.vars = std::move(*v);
        in.pack_version = pack->manifest.version;
        in.pack_digest = pack->digest;
        std::fprintf(stderr, "rules: pack %s version %s (manifest sha256 %.16s...), %zu file(s)\n",
                     pack->manifest.name.c_str(), in.pack_version.c_str(), in.pack_digest.c_str(),
                     in.paths.size());
        return in;
    }
    auto v = load_vars_arg(vars_path);
    if (!v) {
        return v.error();
    }
    in.paths = paths;
    in.vars = std::move(*v);
    return in;
}

// The --config file when given, else the defaults (with no EVE path: replay needs --eve).
Result<sensor::SensorConfig> config_arg(const std::string& path) {
    if (path.empty()) {
        sensor::SensorConfig cfg;
        cfg.eve_path.clear();
        return cfg;
    }
    return sensor::load_sensor_config(path);
}

struct ReplayArgs {
    std::vector<std::string> pcaps;
    std::vector<std::string> rules;
    std::string eve;
    std::string vars;
    std::string config;
    std::string expect;
    std::string sensor_id;
    std::string rules_cache;
    uint32_t workers = 0;
    bool ips = false;
    bool nft = false;
    bool stats = false;
    bool no_progress = false;
    bool init_errors_fatal = false;
    bool eve_flow = false;               // --eve-flow
    bool eve_payload = false;            // --eve-payload
    bool eve_payload_printable = false;  // --eve-payload-printable
    bool eve_packet = false;             // --eve-packet
    std::vector<std::string> sets;       // --set key=value
};

int cmd_replay(const ReplayArgs& a) {
    auto c = config_arg(a.config);
    if (!c) {
        return fail(kExitBadInput, c.error().message);
    }
    std::vector<std::string> notes;
    if (auto st = sensor::apply_overrides(a.sets, *c, notes); !st) {
        return fail(kExitBadInput, "replay: " + st.error().message);
    }
    for (const std::string& n : notes) {
        std::fprintf(stderr, "note: %s\n", n.c_str());
    }
    const sensor::SensorConfig& cfg = *c;
    const auto rule_paths = a.rules.empty() ? cfg.rules : a.rules;
    if (rule_paths.empty()) {
        return fail(kExitBadInput,
                    "replay: no rules: give --rules FILE|DIR (or rules: in --config)");
    }
    const std::string eve_path = a.eve.empty() ? cfg.eve_path : a.eve;
    if (eve_path.empty()) {
        return fail(kExitBadInput, "replay: no EVE output: give --eve FILE or --eve -");
    }
    // A rule pack's folder (rulepacks/active) as run reads it: checked, with its side files.
    auto inputs = resolve_rule_inputs(rule_paths, a.vars.empty() ? cfg.vars : a.vars);
    if (!inputs) {
        return fail(exit_code_for(inputs.error()), "replay: " + inputs.error().message);
    }
    if (!cfg.threshold_file.empty()) {  // --set threshold-file replaces the vars' file
        inputs->vars.threshold_overrides.clear();
        inputs->vars.suppressions.clear();
        inputs->vars.rate_filters.clear();
        if (auto st = rules::load_threshold_file(cfg.threshold_file, inputs->vars); !st) {
            return fail(kExitBadInput, "replay: --set threshold-file: " + st.error().message);
        }
    }
    auto pcaps = dataplane::expand_pcap_paths(a.pcaps);
    if (!pcaps) {
        return fail(kExitBadInput, pcaps.error().message);
    }
    // Expectations are read before the replay so a bad file fails fast.
    std::vector<sensor::ExpectFile> expects;
    if (!a.expect.empty()) {
        if (a.expect == "auto") {
            for (const auto& p : *pcaps) {
                const auto e = std::filesystem::path(p).replace_extension(".expect").string();
                auto f = sensor::load_expect_file(e);
                if (!f) {
                    return fail(kExitBadInput, "--expect auto: " + f.error().message);
                }
                expects.push_back(std::move(f.value()));
            }
        } else {
            auto f = sensor::load_expect_file(a.expect);
            if (!f) {
                return fail(kExitBadInput, f.error().message);
            }
            expects.push_back(std::move(f.value()));
        }
    }
    wire::Heartbeat beat;
    beat.rules_version = inputs->pack_version;
    beat.rules_digest = inputs->pack_digest;
    const auto datasets = std::make_shared<rules::DatasetRegistry>(cfg.datasets);
    auto rs = load_usable_rules(
        inputs->paths, inputs->vars, a.init_errors_fatal || cfg.init_failure_fatal,
        a.rules_cache.empty() ? cfg.rules_cache : a.rules_cache, &beat, cfg.action_order, datasets);
    if (!rs) {
        return fail(exit_code_for(rs.error()), "replay: " + rs.error().message);
    }
    const std::string sensor_id = a.sensor_id.empty() ? cfg.sensor_id : a.sensor_id;
    auto eve = sensor::EveWriter::open(eve_path, sensor_id);
    if (!eve) {
        return fail(kExitFailure, eve.error().message);
    }
    auto mgmt = attach_mgmt(cfg, sensor_id, "replay", **eve, beat);
    if (!mgmt) {
        return fail(exit_code_for(mgmt.error()), mgmt.error().message);
    }
    sensor::ReplayOptions opts;
    opts.pcaps = *pcaps;
    opts.workers = a.workers != 0 ? a.workers : cfg.workers;
    opts.ips = a.ips || cfg.ips_enabled;
    opts.packet_alert_max = cfg.packet_alert_max;
    opts.progress = !a.no_progress;
    opts.collect_alerts = !expects.empty();
    opts.pipeline = cfg.pipeline;
    opts.pipeline.ips = opts.ips;
    // The flags switch records on over --config; they never switch one off.
    opts.pipeline.flow_records = opts.pipeline.flow_records || a.eve_flow;
    sensor::EveAlertOptions& ea = opts.pipeline.eve_alert;
    ea.payload = ea.payload || a.eve_payload;
    ea.payload_printable = ea.payload_printable || a.eve_payload_printable;
    ea.packet = ea.packet || a.eve_packet;
    (*eve)->set_alert_options(ea);
    std::unique_ptr<sensor::Enforcer> enforcer;
    if (a.nft) {
        if (!opts.ips) {
            return fail(kExitBadInput, "replay: --nft needs --ips (or ips.enabled in --config)");
        }
        auto e = sensor::Enforcer::create(sensor::enforcer_config(cfg), stderr);
        if (!e) {
            return fail(kExitBadInput, e.error().message);
        }
        enforcer = std::move(e.value());
        opts.enforcer = enforcer.get();
    }
    auto res = sensor::run_replay(opts, *rs, inputs->vars, **eve);
    if (!res) {
        return fail(exit_code_for(res.error()), res.error().message);
    }
    save_datasets(*datasets);
    (*eve)->write_stats(res->counters, res->last_ts_sec, res->last_ts_usec);
    if (auto st = (*eve)->close(); !st) {
        return fail(kExitFailure, st.error().message);
    }
    bool undelivered = false;
    if (*mgmt) {
        beat.rx_packets = res->counters.packets;
        beat.rx_bytes = res->counters.bytes;
        beat.alerts = res->counters.alerts;
        beat.drops = res->counters.drops;
        beat.enforcement = res->enforcing ? (res->enforcement.healthy ? "ok" : "degraded") : "off";
        (*mgmt)->out->set_heartbeat(beat);
        undelivered =
            !sensor::drain_mgmt_link(**mgmt, std::chrono::seconds(cfg.zmq_drain_timeout_s), stderr);
    }
    for (const auto& f : res->files) {
        if (!f.error.empty()) {
            std::fprintf(stderr, "vigil-sensor: %s (%llu packets before it were processed)\n",
                         f.error.c_str(), static_cast<unsigned long long>(f.packets));
        }
    }
    if (res->enforcing && !res->enforcement.healthy) {
        std::fprintf(stderr, "%s", sensor::format_summary(*res).c_str());
        return fail(kExitFailure,
                    "replay --nft: enforcement failed: " + res->enforcement.last_error);
    }
    if (a.stats) {
        std::fprintf(stderr, "%s", sensor::format_summary(*res).c_str());
    } else {
        std::fprintf(stderr, "replay: %llu packets, %llu alerts, %zu file(s)\n",
                     static_cast<unsigned long long>(res->counters.packets),
                     static_cast<unsigned long long>(res->counters.alerts), res->files.size());
    }
    bool mismatch = false;
    if (!expects.empty()) {
        size_t ok = 0;
        for (size_t i = 0; i < expects.size(); ++i) {
            std::vector<sensor::ObservedAlert> got;
            if (a.expect == "auto") {
                got = res->files[i].alerts;
            } else {
                for (const auto& f : res->files) {
                    got.insert(got.end(), f.alerts.begin(), f.alerts.end());
                }
            }
            const auto r = sensor::check_expectations(expects[i], got);
            const std::string name = a.expect == "auto" ? res->files[i].path : a.expect;
            if (r.ok) {
                ++ok;
                std::fprintf(stderr, "expect: PASS %s\n", name.c_str());
                continue;
            }
            mismatch = true;
            std::fprintf(stderr, "expect: FAIL %s\n", name.c_str());
            for (const auto& d : r.diff) {
                std::fprintf(stderr, "    %s\n", d.c_str());
            }
        }
        std::fprintf(stderr, "expect: %zu passed, %zu failed\n", ok, expects.size() - ok);
    }
    if (res->input_error) {
        return kExitBadInput;
    }
    return mismatch || undelivered ? kExitFailure : kExitOk;
}

// A --known-rejected file: one sid a line; '#' starts a comment (as --write-rejected writes).
Result<std::set<uint32_t>> load_known_rejected(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        return make_error(ErrorCode::BadInput, path + ": cannot open the known-rejected list");
    }
    std::set<uint32_t> sids;
    std::string line;
    for (uint32_t n = 1; std::getline(in, line); ++n) {
        const std::string_view t = trim(std::string_view(line).substr(0, line.find('#')));
        if (t.empty()) {
            continue;
        }
        uint32_t sid = 0;
        const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), sid);
        if (ec != std::errc() || end != t.data() + t.size() || sid == 0) {
            return make_error(ErrorCode::BadInput,
                              path + ":" + std::to_string(n) +
                                  ": expected a sid (a positive number), got '" + std::string(t) +
                                  "'");
        }
        sids.insert(sid);
    }
    return sids;
}

// The sids of the rejected rules, with file, line and reason as comments: a baseline for
// --known-rejected. Rejections without a sid cannot be listed; they are written as comments.
Status write_rejected_file(const std::string& path, const rules::LoadReport& report) {
    std::ofstream out(path);
    out << "# vigil-sensor check --write-rejected: " << report.summary_line() << "\n";
    for (const auto& e : report.rejected_in_order()) {
        if (e.sid == 0) {
            out << "# (no sid) " << e.to_string() << "\n";
        } else {
            out << e.sid << "  # " << e.to_string() << "\n";
        }
    }
    if (!out.flush()) {
        return make_error(ErrorCode::Io, path + ": cannot write the rejected list");
    }
    return Ok{};
}

int cmd_check(const RulesArgs& a) {
    auto c = config_arg(a.config);
    if (!c) {
        return fail(kExitBadInput, c.error().message);
    }
    const sensor::SensorConfig& cfg = *c;
    if (!a.config.empty()) {
        // A file with a capture section is a `run` config: check what `run` needs too.
        if (cfg.has_capture) {
            if (auto st = sensor::validate_for_run(cfg); !st) {
                return fail(kExitBadInput, st.error().message);
            }
        }
        std::fprintf(stderr, "config: %s ok\n", a.config.c_str());
    }
    const auto rule_paths = a.rules.empty() ? cfg.rules : a.rules;
    if (rule_paths.empty()) {
        return fail(kExitBadInput, "check: no rules: give --rules FILE|DIR or --config FILE");
    }
    // A rule pack's folder (rulepacks/active) as run reads it: what run would load is checked.
    auto inputs = resolve_rule_inputs(rule_paths, a.vars.empty() ? cfg.vars : a.vars);
    if (!inputs) {
        return fail(exit_code_for(inputs.error()), inputs.error().message);
    }
    // A bad list fails before minutes of compiling.
    std::set<uint32_t> known;
    if (!a.known_rejected.empty()) {
        auto k = load_known_rejected(a.known_rejected);
        if (!k) {
            return fail(kExitBadInput, k.error().message);
        }
        known = std::move(k.value());
    }
    rules::LoadReport report;
    auto rs = load_rules(inputs->paths, inputs->vars, report,
                         a.rules_cache.empty() ? cfg.rules_cache : a.rules_cache);
    if (!rs) {
        return fail(exit_code_for(rs.error()), rs.error().message);
    }
    const auto& st = (*rs)->stats();
    std::fprintf(stderr,
                 "compiled: %zu rules (%zu by fast pattern, %zu by pcre prefilter, %zu header "
                 "only of which %zu reached by address), %zu databases, %zu port groups, "
                 "%.1f KiB, %.2f s\n",
                 st.rules, st.prefiltered, st.pcre_prefilter, st.always_check,
                 st.address_indexed_rules, st.databases, st.port_groups,
                 static_cast<double>(st.database_bytes) / 1024.0, st.compile_seconds);
    std::fprintf(stderr, "time: parse %.2f s, hyperscan %s %.2f s, other compile %.2f s\n",
                 st.parse_seconds, st.cache_enabled ? "compile or cache load" : "compile",
                 st.hyperscan_seconds, st.compile_seconds - st.hyperscan_seconds);
    if (auto st = rules_usable(report, false); !st) {
        return fail(kExitBadInput, "check: " + st.error().message);
    }
    if (!a.write_rejected.empty()) {
        if (auto w = write_rejected_file(a.write_rejected, report); !w) {
            return fail(kExitFailure, w.error().message);
        }
        std::fprintf(stderr, "check: %zu rejected rule(s) written to %s (for --known-rejected)\n",
                     report.rejected.size(), a.write_rejected.c_str());
    }
    // Which rejections are accepted: those whose sid is on the --known-rejected list, then up
    // to --allow-rejected of the rest.
    std::vector<rules::RuleError> fresh;
    std::set<uint32_t> rejected_sids;
    for (auto& e : report.rejected_in_order()) {
        rejected_sids.insert(e.sid);
        if (e.sid == 0 || known.count(e.sid) == 0) {
            fresh.push_back(std::move(e));
        }
    }
    for (const uint32_t sid : known) {
        if (rejected_sids.count(sid) == 0) {
            std::fprintf(stderr,
                         "check: sid %u is listed in %s but was not rejected (it loads "
                         "now, or is gone): remove it from the list\n",
                         sid, a.known_rejected.c_str());
        }
    }
    const size_t allowed = a.allow_rejected < 0 ? 0 : static_cast<size_t>(a.allow_rejected);
    const size_t accepted_known = report.rejected.size() - fresh.size();
    std::string what = std::to_string(report.rejected.size()) + " rejected";
    if (!a.known_rejected.empty()) {
        what += ", " + std::to_string(accepted_known) + " of them known (" + a.known_rejected + ")";
    }
    if (fresh.size() > allowed) {
        if (!a.known_rejected.empty()) {
            std::fprintf(stderr, "check: rejected and not on the known list:\n");
            for (const auto& e : fresh) {
                std::fprintf(stderr, "  %s\n", e.to_string().c_str());
            }
        }
        std::fprintf(stderr, "check: FAIL: %s; %zu not accepted (--allow-rejected %zu)\n",
                     what.c_str(), fresh.size(), allowed);
        return kExitBadInput;
    }
    std::fprintf(stderr, "check: ok: %zu loaded, %s\n", report.loaded, what.c_str());
    return kExitOk;
}

struct BlocksArgs {
    std::string config;
    std::string table;
    std::vector<std::string> addrs;
    uint32_t timeout = 0;
    std::string comment = "manual (vigil-sensor blocks add)";
};

Result<dataplane::IpAddr> parse_addr(const std::string& s) {
    dataplane::IpAddr a;
    uint8_t b[16];
    if (inet_pton(AF_INET, s.c_str(), b) == 1) {
        return dataplane::IpAddr::from_v4(b);
    }
    if (inet_pton(AF_INET6, s.c_str(), b) == 1) {
        return dataplane::IpAddr::from_v6(b);
    }
    return make_error(ErrorCode::BadInput, "'" + s + "' is not an IPv4 or IPv6 address");
}

// The table and default timeout: --table, else the config's ips.nft, else the defaults.
Result<sensor::EnforcerConfig> blocks_config(const BlocksArgs& a) {
    sensor::SensorConfig cfg;
    if (!a.config.empty()) {
        auto c = sensor::load_sensor_config(a.config);
        if (!c) {
            return c.error();
        }
        cfg = *c;
    }
    auto e = sensor::enforcer_config(cfg);
    if (!a.table.empty()) {
        e.table = a.table;
    }
    return e;
}

std::string format_left(uint64_t ms) {
    const uint64_t s = ms / 1000;
    char buf[64];
    if (s >= 3600) {
        std::snprintf(
            buf, sizeof(buf), "%lluh %02llum %02llus", static_cast<unsigned long long>(s / 3600),
            static_cast<unsigned long long>(s / 60 % 60), static_cast<unsigned long long>(s % 60));
    } else if (s >= 60) {
        std::snprintf(buf, sizeof(buf), "%llum %02llus", static_cast<unsigned long long>(s / 60),
                      static_cast<unsigned long long>(s % 60));
    } else {
        std::snprintf(buf, sizeof(buf), "%llus", static_cast<unsigned long long>(s));
    }
    return buf;
}

int cmd_blocks(const std::string& verb, const BlocksArgs& a) {
    auto ec = blocks_config(a);
    if (!ec) {
        return fail(kExitBadInput, ec.error().message);
    }
    std::vector<dataplane::IpAddr> addrs;
    for (const auto& s : a.addrs) {
        auto ip = parse_addr(s);
        if (!ip) {
            return fail(kExitBadInput, "blocks " + verb + ": " + ip.error().message);
        }
        addrs.push_back(*ip);
    }
    auto client = sensor::nft::Client::open(ec->table);
    if (!client) {
        return fail(kExitFailure, client.error().message);
    }
    auto& c = **client;
    if (verb == "list") {
        auto exists = c.table_exists();
        if (!exists) {
            return fail(kExitFailure, exists.error().message);
        }
        if (!*exists) {
            // Nothing was ever blocked here (or the table was removed): an empty list.
            std::printf("%-40s %-36s %s\n", "ADDRESS", "RULE", "TIME LEFT");
            std::fprintf(stderr,
                         "blocks: 0: table inet %s does not exist (no block has been made on "
                         "this host since it was last removed)\n",
                         ec->table.c_str());
            return kExitOk;
        }
        auto elems = c.list();
        if (!elems) {
            return fail(kExitFailure, elems.error().message);
        }
        std::printf("%-40s %-36s %s\n", "ADDRESS", "RULE", "TIME LEFT");
        for (const auto& e : *elems) {
            std::string rule = e.comment;
            if (rule.rfind("vigil ", 0) == 0) {
                rule = rule.substr(6);
            }
            char text[64];
            if (e.addr.is_v4()) {
                inet_ntop(AF_INET, &e.addr.b[12], text, sizeof(text));
            } else {
                inet_ntop(AF_INET6, e.addr.b.data(), text, sizeof(text));
            }
            std::printf("%-40s %-36s %s\n", text, rule.empty() ? "-" : rule.c_str(),
                        e.expires_ms == 0 ? "no timeout" : format_left(e.expires_ms).c_str());
        }
        std::fprintf(stderr, "blocks: %zu in table inet %s\n", elems->size(), ec->table.c_str());
        return kExitOk;
    }
    if (verb == "add") {
        if (auto st = c.ensure(); !st) {
            return fail(kExitFailure, st.error().message);
        }
        std::vector<sensor::nft::Element> elems;
        for (const auto& ip : addrs) {
            sensor::nft::Element e;
            e.addr = ip;
            e.timeout_ms =
                static_cast<uint64_t>(a.timeout != 0 ? a.timeout : ec->block_timeout_s) * 1000;
            e.comment = a.comment;
            elems.push_back(e);
        }
        if (auto st = c.add(elems); !st) {
            return fail(kExitFailure, st.error().message);
        }
        std::fprintf(stderr, "blocks: %zu added to table inet %s (%u s)\n", elems.size(),
                     ec->table.c_str(), a.timeout != 0 ? a.timeout : ec->block_timeout_s);
        return kExitOk;
    }
    // remove
    if (auto st = c.remove(addrs); !st) {
        return fail(st.error().code == ErrorCode::BadInput ? kExitBadInput : kExitFailure,
                    st.error().message);
    }
    std::fprintf(stderr, "blocks: %zu removed from table inet %s\n", addrs.size(),
                 ec->table.c_str());
    return kExitOk;
}

struct RunArgs {
    std::string config;
    bool no_progress = false;
    bool init_errors_fatal = false;
    uint32_t test_stall_ms = 0;
};

int cmd_run(const RunArgs& a) {
    auto c = sensor::load_sensor_config(a.config);
    if (!c) {
        return fail(kExitBadInput, c.error().message);
    }
    const sensor::SensorConfig& cfg = *c;
    if (auto st = sensor::validate_for_run(cfg); !st) {
        return fail(kExitBadInput, st.error().message);
    }
    auto inputs = resolve_rule_inputs(cfg.rules, cfg.vars);
    if (!inputs) {
        return fail(exit_code_for(inputs.error()), "run: " + inputs.error().message);
    }
    wire::Heartbeat beat;
    beat.rules_version = inputs->pack_version;
    beat.rules_digest = inputs->pack_digest;
    // One registry for the whole run: a reload builds on the running set's (what `dataset:set`
    // learnt stays), and what it holds at the end is saved.
    const auto datasets = std::make_shared<rules::DatasetRegistry>(cfg.datasets);
    auto rs = load_usable_rules(inputs->paths, inputs->vars,
                                a.init_errors_fatal || cfg.init_failure_fatal, cfg.rules_cache,
                                &beat, {}, datasets);
    if (!rs) {
        return fail(exit_code_for(rs.error()), "run: " + rs.error().message);
    }
    // A service appends: what earlier runs wrote (before a restart) stays in the file.
    auto eve = sensor::EveWriter::open(cfg.eve_path, cfg.sensor_id, /*append=*/true);
    if (!eve) {
        return fail(kExitFailure, eve.error().message);
    }
    // Before any thread exists (the link to mgmtd and the EAL start their own): signals are
    // taken by the control loop only. A thread started earlier would take a SIGUSR1 or SIGHUP
    // itself, and its default action ends the process.
    sensor::block_control_signals();
    auto mgmt = attach_mgmt(cfg, cfg.sensor_id, "run", **eve, beat);
    if (!mgmt) {
        return fail(exit_code_for(mgmt.error()), mgmt.error().message);
    }
    sensor::LiveOptions opts;
    opts.config = &cfg;
    opts.handle_signals = true;
    opts.progress = !a.no_progress;
    opts.test_stall_ms = a.test_stall_ms;
    if (*mgmt) {
        opts.mgmt = (*mgmt)->out.get();
    }
    opts.beat = beat;
    // SIGHUP: the rule files and vars of the config, loaded again with the same checks as at
    // start; a set that would not start the sensor is refused and the running one stays.
    const bool fatal = a.init_errors_fatal || cfg.init_failure_fatal;
    opts.reload_rules = [&cfg,
                         fatal](const rules::RuleSetPtr& running) -> Result<sensor::LoadedRules> {
        auto in = resolve_rule_inputs(cfg.rules, cfg.vars);
        if (!in) {
            return in.error();
        }
        rules::LoadReport report;
        auto set = load_rules(in->paths, in->vars, report, cfg.rules_cache, running);
        if (!set) {
            return set.error();
        }
        if (auto st = rules_usable(report, fatal); !st) {
            return st.error();
        }
        return sensor::LoadedRules{
            std::move(*set),        std::move(in->vars),         report.loaded,
            report.rejected.size(), std::move(in->pack_version), std::move(in->pack_digest)};
    };
    (*eve)->set_alert_options(cfg.pipeline.eve_alert);
    auto res = sensor::run_live(opts, std::move(*rs), inputs->vars, **eve);
    dataplane::dpdk::cleanup_eal();
    save_datasets(*datasets);
    if (!res) {
        return fail(exit_code_for(res.error()), res.error().message);
    }
    const auto now = std::time(nullptr);
    (*eve)->write_stats(res->counters, static_cast<int64_t>(now), 0);
    if (auto st = (*eve)->close(); !st) {
        return fail(kExitFailure, st.error().message);
    }
    std::fprintf(stderr, "%s", sensor::format_live_summary(*res).c_str());
    if (*mgmt) {
        // Waits for mgmtd's acknowledgements up to outputs.zmq.drain-timeout-s; what is not
        // acknowledged by then stays spooled for the next start.
        sensor::drain_mgmt_link(**mgmt, std::chrono::seconds(cfg.zmq_drain_timeout_s), stderr);
    }
    return kExitOk;
}

// Each command's exit codes, shown by its --help.
constexpr const char* kReplayExits =
    "Exit codes: 0 replayed, every alert written (and every expectation met); 1 runtime failure "
    "(cannot write output; with --nft, enforcement failed; with outputs.zmq, the spool is in use "
    "or mgmtd did not acknowledge every record within drain-timeout-s: the rest stay spooled "
    "for the next start) or an --expect mismatch; 2 bad input: "
    "usage, config, vars, expectation file, unreadable/truncated/corrupt pcap, no rule loaded "
    "(all rejected or none given), a rejected rule with --init-errors-fatal.\n";
constexpr const char* kRunExits =
    "Exit codes: 0 stopped by SIGTERM/SIGINT or capture.exit-on-idle-ms, every alert written "
    "(records mgmtd has not acknowledged by then stay spooled for the next start); 1 "
    "runtime failure (cannot write output, the spool is in use); 2 bad input: usage, config, vars, "
    "no rule loaded "
    "(all rejected or none given), a rejected rule with --init-errors-fatal, a port or "
    "interface that cannot be opened, too few lcores, a queue count the driver refuses, no "
    "hugepages. SIGHUP reloads the rules (and vars) from the config's paths without a restart:\n"
    "they are compiled off the packet path and each worker switches between bursts; a set that\n"
    "fails to load is refused and the running one keeps running.\n";
constexpr const char* kBlocksExits =
    "Exit codes: 0 done (list: also when the table does not exist); 1 netlink failure, no "
    "CAP_NET_ADMIN, or a damaged table; 2 bad input: usage, config, not an IPv4/IPv6 address, "
    "removing an address that is not blocked.\n";
constexpr const char* kCheckExits =
    "Exit codes: 0 the config is valid and every rule loads, or every rejection is accepted "
    "(--known-rejected, --allow-rejected); 1 cannot write --write-rejected; 2 a rejection not "
    "accepted, no rule loaded, or bad input (usage, config, vars, a list file).\n";

// An option the command cannot go without. Checked after parsing (not with CLI11's
// required()), so that a mistyped option is reported as unknown rather than as the missing
// one it was meant to be.
struct RequiredOption {
    CLI::App* command;
    CLI::Option* option;
};

}  // namespace

static int run(int argc, char** argv) {
    CLI::App app{"vigil-sensor: network IDS/IPS sensor (Suricata rule syntax, EVE JSON output)"};
    app.require_subcommand(1);
    app.footer(
        "Exit codes: 0 success; 1 runtime failure; 2 bad input. Each command's --help lists "
        "its own.\n"
        "Docs: docs/operator-guide.md, docs/operations.md, docs/rules.md, docs/testing.md");
    app.set_version_flag("--version", std::string("vigil-sensor ") + VIGIL_VERSION);
    std::vector<RequiredOption> required;

    ReplayArgs ra;
    auto* replay =
        app.add_subcommand("replay",
                           "Replay pcap files through decode, defrag, flows, TCP reassembly, "
                           "HTTP/DNS/TLS parsing and detection; write EVE JSON");
    replay->footer(kReplayExits);
    required.push_back(
        {replay, replay->add_option("--pcap", ra.pcaps,
                                    "pcap/pcapng files or directories (name order); required")});
    replay->add_option(
        "--rules", ra.rules,
        "rule files or directories of *.rules (required unless --config names them)");
    replay->add_option("--eve", ra.eve,
                       "EVE JSON output file, '-' for stdout (required unless --config names it)");
    replay->add_option("--vars", ra.vars, "variables file (suricata.yaml subset)");
    replay->add_option("--config", ra.config,
                       "sensor.yaml: defaults for rules, vars, eve, workers; stream, defrag, "
                       "app-layer, host-os-policy settings");
    replay
        ->add_option("--workers", ra.workers,
                     "worker threads, 1 to 64 (traffic spread by a hash of the host pair)")
        ->check(CLI::Range(1, 64).description(""))
        ->type_name("N");
    replay->add_flag("--ips", ra.ips,
                     "IPS mode: packets matching drop/reject rules (and the rest of their flow) "
                     "get the drop verdict; their alerts say 'blocked', followed by a drop record");
    replay->add_flag("--nft", ra.nft,
                     "with --ips: also block the sources of drop verdicts in nftables (table "
                     "inet vigil, ips.nft.* in --config; needs CAP_NET_ADMIN)");
    replay->add_flag("--stats", ra.stats,
                     "print a summary on stderr: packets, flows, reassembly, app-layer, alerts by "
                     "signature, throughput");
    replay->add_option("--expect", ra.expect,
                       "expectations file to compare alerts with, or 'auto' (X.pcap vs X.expect); "
                       "exit 1 on mismatch");
    replay->add_option("--sensor-id", ra.sensor_id, "value of the EVE 'host' field");
    replay->add_flag("--init-errors-fatal", ra.init_errors_fatal,
                     "stop (exit 2) when any rule is rejected, as engine.init-failure-fatal in "
                     "--config; by default the other rules load and the rejections are listed");
    replay->add_flag("--no-progress", ra.no_progress, "no progress line on stderr");
    replay->add_flag("--eve-flow", ra.eve_flow,
                     "write an EVE flow record for every flow when it ends (as outputs.eve.flow "
                     "in --config)");
    replay->add_flag("--eve-payload", ra.eve_payload,
                     "alerts carry the packet payload, base64 (outputs.eve.payload; packet data "
                     "is confidential)");
    replay->add_flag("--eve-payload-printable", ra.eve_payload_printable,
                     "alerts carry the payload's printable bytes (outputs.eve.payload-printable)");
    replay->add_flag("--eve-packet", ra.eve_packet,
                     "alerts carry the whole frame, base64, and its link type "
                     "(outputs.eve.packet)");
    replay
        ->add_option("--set", ra.sets,
                     "KEY=VALUE: a Suricata engine setting (repeatable); an unknown key is an "
                     "error. Keys:\n" +
                         sensor::override_keys_help())
        ->type_name("KEY=VALUE")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    replay
        ->add_option("--rules-cache", ra.rules_cache,
                     "directory of compiled Hyperscan databases (created if missing), as "
                     "engine.rules-cache in --config: unchanged rules load without compiling")
        ->type_name("DIR");

    RunArgs ua;
    auto* runc = app.add_subcommand(
        "run",
        "Capture live traffic (DPDK ports, or libpcap interfaces with capture.method: pcap) and "
        "detect; inline pairs forward what the rules allow. Runs until SIGTERM/SIGINT (or "
        "capture.exit-on-idle-ms); SIGUSR1 prints the counters");
    runc->footer(kRunExits);
    required.push_back({runc, runc->add_option("--config", ua.config,
                                               "sensor.yaml (docs/operator-guide.md, "
                                               "docs/operations.md); required")});
    runc->add_flag("--init-errors-fatal", ua.init_errors_fatal,
                   "do not start (exit 2) when any rule is rejected, as "
                   "engine.init-failure-fatal");
    runc->add_flag("--no-progress", ua.no_progress, "no status line on stderr");
    // Tests only (not in --help): worker 0 holds its first burst this long (the watchdog).
    runc->add_option("--test-stall-ms", ua.test_stall_ms)->group("");

    BlocksArgs ba;
    auto* blocks = app.add_subcommand(
        "blocks",
        "Show and change the addresses blocked in nftables (table inet vigil, sets block4 and "
        "block6), directly in the kernel: undo a false positive in seconds");
    blocks->require_subcommand(1);
    blocks->footer(kBlocksExits);
    auto add_common = [&](CLI::App* sc) {
        sc->footer(kBlocksExits);
        sc->add_option("--config", ba.config,
                       "sensor.yaml: take the table and default timeout from ips.nft");
        sc->add_option("--table", ba.table, "nftables table (inet family; default vigil)");
    };
    auto* blist =
        blocks->add_subcommand("list", "address, rule (sid) and time left of every block");
    add_common(blist);
    auto* badd = blocks->add_subcommand("add", "block addresses (creates the table if missing)");
    add_common(badd);
    required.push_back(
        {badd, badd->add_option("addresses", ba.addrs, "IPv4 or IPv6 addresses; at least one")});
    badd->add_option("--timeout", ba.timeout,
                     "seconds the block lasts, 1 to 31536000 (default ips.nft.block-timeout-s, "
                     "3600)")
        ->check(CLI::Range(1, 31536000).description(""))
        ->type_name("S");
    badd->add_option("--comment", ba.comment, "stored with the block (shown by list)");
    auto* bremove = blocks->add_subcommand("remove", "unblock addresses now");
    add_common(bremove);
    required.push_back({bremove, bremove->add_option("addresses", ba.addrs,
                                                     "IPv4 or IPv6 addresses; at least one")});

    RulesArgs ca;
    auto* check = app.add_subcommand(
        "check",
        "Validate rules (and a config) as the sensor loads them; exit 2 if a rule is rejected "
        "that is not accepted (--known-rejected, --allow-rejected): a gate for rule updates");
    check->footer(kCheckExits);
    check->add_option("--rules", ca.rules, "rule files or directories of *.rules");
    check->add_option("--vars", ca.vars, "variables file (suricata.yaml subset)");
    check->add_option("--config", ca.config, "sensor.yaml to validate (and take rules/vars from)");
    check
        ->add_option("--known-rejected", ca.known_rejected,
                     "file of sids (one a line, '#' comments) whose rejection is accepted, as "
                     "--write-rejected writes it")
        ->type_name("FILE");
    check
        ->add_option("--allow-rejected", ca.allow_rejected,
                     "accept up to N rejections (besides the known ones); default 0")
        ->check(CLI::NonNegativeNumber.description(""))
        ->type_name("N");
    check
        ->add_option("--write-rejected", ca.write_rejected,
                     "write the sids of the rejected rules (with file, line and reason) to "
                     "FILE: the baseline for --known-rejected")
        ->type_name("FILE");
    check
        ->add_option("--rules-cache", ca.rules_cache,
                     "directory of compiled Hyperscan databases (created if missing), as "
                     "engine.rules-cache in --config; check fills it for the next start")
        ->type_name("DIR");

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ExtrasError&) {
        std::string extras;
        for (const auto& x : app.remaining(true)) {
            extras += (extras.empty() ? "" : " ") + x;
        }
        std::fprintf(stderr,
                     "vigil-sensor: unknown option or argument: %s\nRun with --help for the "
                     "options of each command.\n",
                     extras.c_str());
        return kExitBadInput;
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return kExitBadInput;
    }
    for (const auto& r : required) {
        if (r.command->parsed() && r.option->count() == 0) {
            std::fprintf(stderr,
                         "vigil-sensor %s: %s is required\nRun with --help for more "
                         "information.\n",
                         r.command->get_name().c_str(), r.option->get_name().c_str());
            return kExitBadInput;
        }
    }
    if (replay->parsed()) {
        return cmd_replay(ra);
    }
    if (blocks->parsed()) {
        return cmd_blocks(blist->parsed() ? "list" : badd->parsed() ? "add" : "remove", ba);
    }
    if (runc->parsed()) {
        return cmd_run(ua);
    }
    if (check->parsed()) {
        return cmd_check(ca);
    }
    return kExitBadInput;
}

int main(int argc, char** argv) {
    vigil::reexec_with_heap_hugepages(argv);  // before any allocation that matters
    // Library code returns errors; this only catches what a third-party library throws
    // unexpectedly (std::bad_alloc, yaml-cpp), so the user gets a message, not an abort.
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "vigil-sensor: internal error: %s\n", e.what());
        return 1;
    }
}
