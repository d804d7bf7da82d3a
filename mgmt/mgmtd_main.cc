// vigil-mgmtd: the management daemon. Takes the sensors' records over ZeroMQ into its store
// (mgmt/ingest.h, mgmt/store.h) and serves operators over HTTP (mgmt/api.h).

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "common/clock.h"
#include "common/exit_codes.h"
#include "common/heap_hugepages.h"
#include "common/sd_notify.h"
#include "mgmt/api.h"
#include "mgmt/audit.h"
#include "mgmt/config.h"
#include "mgmt/controls.h"
#include "mgmt/health.h"
#include "mgmt/ingest.h"
#include "mgmt/notify.h"
#include "mgmt/packs.h"
#include "mgmt/store.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace {

using namespace vigil;

int fail(int code, const std::string& msg) {
    std::fprintf(stderr, "vigil-mgmtd: %s\n", msg.c_str());
    return code;
}

constexpr const char* kFooter =
    "Exit codes: 0 stopped by SIGTERM/SIGINT after committing and acknowledging every record "
    "received; 1 runtime failure (store, socket, address in use, another mgmtd on the same "
    "store); 2 bad input (usage, configuration, key files).\n"
    "Signals: SIGTERM/SIGINT stop; SIGHUP is logged (nothing to reload yet).\n"
    "Documentation: docs/operator-guide.md (vigil-mgmtd, HTTP API, vigilctl).";

// rulepacks.initial: the pack a fresh install starts with (the package's starter pack). It is
// stored and activated, through the same checks as an upload (signature, validation), only
// when no pack was ever activated here; afterwards the operators' history rules.
Status activate_initial_pack(const mgmt::MgmtConfig& cfg, mgmt::PackStore& packs) {
    if (cfg.rulepacks_initial.empty()) {
        return Ok{};
    }
    auto before = packs.activated();
    if (!before) {
        return before.error();
    }
    if (before->has_value()) {
        return Ok{};  // a pack was activated before: the operators' history rules
    }
    const std::string& path = cfg.rulepacks_initial;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return make_error(ErrorCode::BadInput,
                          "rulepacks.initial: cannot read " + path + ": " + std::strerror(errno));
    }
    const std::string archive((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
    auto stored = packs.add(archive, path);
    if (!stored) {
        return make_error(ErrorCode::BadInput,
                          "rulepacks.initial: " + path + " refused: " + stored.error().message);
    }
    auto act = packs.activate(stored->version);
    const mgmt::AuditEntry entry{
        "vigil-mgmtd",
        "local",
        "rulepack.activate",
        stored->version,
        nlohmann::json{{"initial", path}, {"digest", stored->digest}}.dump(),
        static_cast<bool>(act)};
    if (auto st = mgmt::append_audit(cfg.audit_log, entry); !st) {
        return st.error();
    }
    if (!act) {
        return make_error(act.error().code, "rulepacks.initial: " + path +
                                                ": cannot activate: " + act.error().message);
    }
    std::fprintf(stderr,
                 "vigil-mgmtd: rulepacks.initial: stored and activated pack %s (%llu rules) from "
                 "%s: no pack was activated before\n",
                 stored->version.c_str(), static_cast<unsigned long long>(stored->rules_loaded),
                 path.c_str());
    return Ok{};
}

int run(const std::string& config_path) {
    mgmt::MgmtConfig cfg;
    if (!config_path.empty()) {
        auto c = mgmt::load_mgmt_config(config_path);
        if (!c) {
            return fail(exit_code_for(c.error()), c.error().message);
        }
        cfg = *c;
    }
    if (cfg.audit_log.empty()) {  // no --config: the defaults, beside the store
        cfg.audit_log =
            (std::filesystem::path(cfg.store_path).parent_path() / "audit.log").string();
    }
    auto iopts = mgmt::ingest_options(cfg);
    if (!iopts) {
        return fail(exit_code_for(iopts.error()), iopts.error().message);
    }
    mgmt::StoreOptions so;
    so.path = cfg.store_path;
    so.retention_days = cfg.retention_days;
    so.max_bytes = cfg.max_mb * 1024 * 1024;
    auto store = mgmt::open_sqlite_store(so);
    if (!store) {
        return fail(kExitFailure, "store: " + store.error().message);
    }
    // One mgmtd per store: a second one would bind the same socket and take its sensors.
    const std::string lock_path = cfg.store_path + ".lock";
    const int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd < 0 || ::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
        return fail(kExitFailure, lock_path + ": another vigil-mgmtd uses this store");
    }

    // Signals are taken by this thread only (sigtimedwait below): block them before any
    // other thread starts.
    sigset_t sigs;
    sigemptyset(&sigs);
    for (int s : {SIGTERM, SIGINT, SIGHUP}) {
        sigaddset(&sigs, s);
    }
    pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

    auto packs =
        mgmt::PackStore::open(cfg.rulepacks_dir, cfg.rulepacks_trusted_keys, VIGIL_VERSION);
    if (!packs) {
        return fail(exit_code_for(packs.error()), packs.error().message);
    }
    if (auto st = activate_initial_pack(cfg, **packs); !st) {
        return fail(exit_code_for(st.error()), st.error().message);
    }
    auto ingest = mgmt::Ingest::start(*iopts, **store, stderr);
    if (!ingest) {
        return fail(kExitFailure, ingest.error().message);
    }
    // Notifications of incidents: the webhook and syslog sinks, when configured.
    mgmt::NotifierPtr notifier;
    // Incidents go only to sinks cleared for their classification.
    for (auto [sink, target] : {std::pair{"webhook", &cfg.notify_webhook_url},
                                std::pair{"syslog", &cfg.notify_syslog_address}}) {
        if (!target->empty() && !cfg.classification.allows(sink, "incidents")) {
            std::fprintf(stderr,
                         "vigil-mgmtd: classification: incidents are %s, the %s sink is cleared "
                         "for %s: incidents are not sent there\n",
                         cfg.classification.data.at("incidents").c_str(), sink,
                         cfg.classification.sinks.at(sink).c_str());
            target->clear();
        }
    }
    if (!cfg.notify_webhook_url.empty() || !cfg.notify_syslog_address.empty()) {
        mgmt::NotifyOptions no;
        no.webhook_url = cfg.notify_webhook_url;
        if (!cfg.notify_webhook_secret_file.empty()) {
            std::ifstream in(cfg.notify_webhook_secret_file, std::ios::binary);
            if (!in) {
                (*ingest)->stop();
                return fail(kExitBadInput, "notify.webhook.secret-file: cannot read " +
                                               cfg.notify_webhook_secret_file);
            }
            no.webhook_secret.assign(std::istreambuf_iterator<char>(in), {});
            while (!no.webhook_secret.empty() &&
                   (no.webhook_secret.back() == '\n' || no.webhook_secret.back() == '\r')) {
                no.webhook_secret.pop_back();
            }
        }
        no.webhook_ca_file = cfg.notify_webhook_ca_file;
        no.syslog_address = cfg.notify_syslog_address;
        no.outbox_path = cfg.notify_outbox;
        no.log = stderr;
        auto n = mgmt::Notifier::open(no);
        if (!n) {
            (*ingest)->stop();
            return fail(exit_code_for(n.error()), "notify: " + n.error().message);
        }
        notifier = std::move(*n);
    }
    mgmt::Notifier* nt = notifier.get();
    // Health controls: the supervised sensors start here.
    mgmt::HealthOptions hopts;
    if (nt != nullptr) {
        hopts.notify = [nt](const mgmt::Incident& inc, const std::string& kind) {
            if (auto r = nt->enqueue(inc.id, kind, mgmt::incident_json(inc)); !r) {
                std::fprintf(stderr, "vigil-mgmtd: incident %llu: notification not queued: %s\n",
                             static_cast<unsigned long long>(inc.id), r.error().message.c_str());
            }
        };
    }
    for (const auto& e : cfg.sensors) {
        hopts.sensors.push_back(
            mgmt::SupervisedSensor{e.id, e.owner, e.command, e.systemd_unit, e.log});
    }
    hopts.interval_s = cfg.health_interval_s;
    hopts.enhanced_interval_s = cfg.health_enhanced_interval_s;
    hopts.enhanced_for_s = cfg.health_enhanced_for_s;
    hopts.heartbeat_timeout_s = cfg.health_heartbeat_timeout_s;
    hopts.start_grace_s = cfg.health_start_grace_s;
    hopts.incidents_path =
        !cfg.health_incidents.empty()
            ? cfg.health_incidents
            : (std::filesystem::path(cfg.store_path).parent_path() / "incidents.db").string();
    hopts.store = store->get();
    hopts.store_path = cfg.store_path;
    hopts.alive_marker =
        (std::filesystem::path(cfg.store_path).parent_path() / "mgmtd.alive").string();
    hopts.log = stderr;
    hopts.owner = cfg.health_owner;
    hopts.capture_max_drop_ratio = cfg.health_capture_max_drop_ratio;
    hopts.capture_min_packets = cfg.health_capture_min_packets;
    hopts.alert_max_backlog = cfg.health_alert_max_backlog;
    hopts.store_min_free_mb = cfg.health_store_min_free_mb;
    hopts.integrity_paths = cfg.health_integrity_paths;
    hopts.integrity_baseline = cfg.health_integrity_baseline;
    hopts.integrity_scan_s = cfg.health_integrity_scan_s;
    hopts.packs = packs->get();
    mgmt::Ingest* in = ingest->get();
    hopts.ingest = [in] { return in->snapshot(); };
    // An activation waits for the sensors' answers; meanwhile detection is not judged.
    auto activating = std::make_shared<std::atomic<int>>(0);
    hopts.activation_in_flight = [activating] { return activating->load() > 0; };
    hopts.reload_sensors = [in](const std::string& version) {
        in->send_control(wire::ControlRequest{"reload", version});
    };
    auto health = mgmt::Health::start(std::move(hopts));
    if (!health) {
        (*ingest)->stop();
        return fail(kExitFailure, health.error().message);
    }
    mgmt::ApiContext actx;
    actx.config = &cfg;
    actx.store = store->get();
    actx.ingest = [in] { return in->snapshot(); };
    actx.packs = packs->get();
    actx.health = health->get();
    if (nt != nullptr) {
        actx.deliveries = [nt](uint64_t id) { return mgmt::deliveries_json(*nt, id); };
    }
    const auto reload_timeout = std::chrono::seconds(cfg.rulepacks_reload_timeout_s);
    actx.reload_sensors = [in, reload_timeout, activating](const std::string& version) {
        ++*activating;
        struct Done {
            std::atomic<int>& n;
            ~Done() { --n; }
        } done{*activating};
        std::vector<mgmt::SensorReload> out;
        const auto deadline = std::chrono::steady_clock::now() + reload_timeout;
        for (const auto& [sensor, id] : in->send_control(wire::ControlRequest{"reload", version})) {
            mgmt::SensorReload r;
            r.sensor_id = sensor;
            if (auto rep = in->wait_reply(id, deadline)) {
                r.answered = true;
                r.reply = std::move(*rep);
            }
            out.push_back(std::move(r));
        }
        return out;
    };
    actx.version = VIGIL_VERSION;
    actx.started_us = wall_us();
    auto api = mgmt::ApiServer::start(actx);
    if (!api) {
        (*health)->stop();
        (*ingest)->stop();
        return fail(exit_code_for(api.error()), "api: " + api.error().message);
    }
    std::fprintf(stderr, "vigil-mgmtd %s: sensors on %s%s, API on %s://%s (port %u), store %s\n",
                 VIGIL_VERSION, cfg.listen.c_str(),
                 iopts->curve_secret_key.empty() ? "" : " (CURVE)",
                 cfg.api_tls_cert.empty() ? "http" : "https", cfg.api_listen.c_str(),
                 static_cast<unsigned>((*api)->port()), cfg.store_path.c_str());
    std::fflush(stderr);
    systemd::notify("READY=1");

    for (;;) {
        siginfo_t si{};
        const int sig = sigwaitinfo(&sigs, &si);
        if (sig == SIGHUP) {
            std::fprintf(stderr, "vigil-mgmtd: SIGHUP: nothing to reload (ignored)\n");
            continue;
        }
        if (sig == SIGTERM || sig == SIGINT) {
            std::fprintf(stderr, "vigil-mgmtd: %s: committing and stopping\n",
                         sig == SIGTERM ? "SIGTERM" : "SIGINT");
            break;
        }
    }
    systemd::notify("STOPPING=1");
    (*api)->stop();
    (*health)->stop();  // stops the supervised sensors, which drain into the ingest first
    (*ingest)->stop();
    const auto snap = (*ingest)->snapshot();
    uint64_t rejected = 0;
    for (const auto& [reason, n] : snap.rejected) {
        rejected += n;
    }
    std::fprintf(stderr,
                 "vigil-mgmtd: stopped: %llu records stored, %llu duplicates ignored, %llu "
                 "messages rejected, %llu commit errors\n",
                 static_cast<unsigned long long>(snap.stored),
                 static_cast<unsigned long long>(snap.duplicates),
                 static_cast<unsigned long long>(rejected),
                 static_cast<unsigned long long>(snap.commit_errors));
    return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
    vigil::reexec_with_heap_hugepages(argv);  // before any allocation that matters
    CLI::App app{
        "vigil-mgmtd: the Vigil management daemon. Receives the sensors' alerts over "
        "ZeroMQ into a durable store (each record exactly once) and serves them over "
        "an HTTP API (vigilctl).",
        "vigil-mgmtd"};
    std::string config;
    app.add_option("--config", config,
                   "mgmtd.yaml (DESIGN.md §8); without it the defaults: listen "
                   "ipc:///run/vigil/mgmt.sock, store /var/lib/vigil/mgmt.db, API "
                   "127.0.0.1:8440");
    app.set_version_flag("--version", std::string("vigil-mgmtd ") + VIGIL_VERSION);
    app.footer(kFooter);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);
        return rc == 0 ? kExitOk : kExitBadInput;
    }
    return run(config);
}
