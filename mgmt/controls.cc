#include "mgmt/controls.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "common/clock.h"
#include "common/sd_notify.h"
#include "mgmt/ingest_stats.h"
#include "mgmt/packs.h"
#include "mgmt/store.h"
#include "rules/pack.h"

namespace vigil::mgmt::controls {

namespace fs = std::filesystem;
using nlohmann::json;

std::string utc(int64_t us) {
    const std::time_t t = static_cast<std::time_t>(us / 1000000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string seconds(double s) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.1f", s);
    return buf;
}

uint64_t SensorView::num(const char* key) const {
    auto it = beat.find(key);
    return it != beat.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

std::string SensorView::text(const char* key) const {
    auto it = beat.find(key);
    return it != beat.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Control::Control(std::string k, std::string s, std::string o)
    : kind(std::move(k)), sensor(std::move(s)), owner(std::move(o)) {}

namespace {

std::string short_hash(const std::string& h) {
    return h.size() > 12 ? h.substr(0, 12) + "…" : h;
}

// Starts `argv` in its own process group, stdout and stderr appended to `log_path`.
// Returns the pid, or an error when fork fails (an exec failure shows as exit status 127).
Result<pid_t> spawn(const std::vector<std::string>& argv, const std::string& log_path) {
    std::vector<std::string> args = argv;
    std::vector<char*> cargs;
    for (auto& a : args) {
        cargs.push_back(a.data());
    }
    cargs.push_back(nullptr);
    const int log_fd = log_path.empty() ? ::open("/dev/null", O_WRONLY | O_CLOEXEC)
                                        : ::open(log_path.c_str(),
                                                 O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (log_fd < 0) {
        return make_error(ErrorCode::Io, log_path + ": " + std::strerror(errno));
    }
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) {
        const int e = errno;
        ::close(log_fd);
        return make_error(ErrorCode::Io, std::string("fork: ") + std::strerror(e));
    }
    if (pid == 0) {
        // Only async-signal-safe calls until exec. A sensor mgmtd started stops with mgmtd
        // (the next mgmtd starts it again): SIGTERM when the thread that forked it ends.
        ::setpgid(0, 0);
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != parent) {
            ::_exit(127);  // mgmtd ended before the line above
        }
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);  // mgmtd's threads block SIGTERM & co.
        const int devnull = ::open("/dev/null", O_RDONLY);
        if (devnull >= 0) {
            ::dup2(devnull, 0);
        }
        ::dup2(log_fd, 1);
        ::dup2(log_fd, 2);
        ::close_range(3, ~0U, 0);
        ::execv(cargs[0], cargs.data());
        ::_exit(127);
    }
    ::close(log_fd);
    return pid;
}

// Runs a short command to completion (systemctl restart), returning its wait status.
int run_and_wait(const std::vector<std::string>& argv) {
    auto pid = spawn(argv, "");
    if (!pid) {
        return -1;
    }
    int st = 0;
    while (::waitpid(*pid, &st, 0) < 0 && errno == EINTR) {
    }
    return st;
}

// ---------------------------------------------------------------------------------------
// sensor-alive: the process (when mgmtd supervises it) and its heartbeats.

class SensorAlive final : public Control {
public:
    SensorAlive(const SupervisedSensor& spec, const SensorView* view, const Env& env)
        : Control("sensor-alive", spec.id, spec.owner), spec_(spec), view_(view), env_(env) {
        start_process(wall_us());
    }

    pid_t pid() const override { return pid_; }

    Result<std::string> stop_for_drill() override {
        if (!spec_.command.empty() && pid_ > 0) {
            if (::kill(pid_, SIGKILL) != 0) {
                return make_error(ErrorCode::Io,
                                  "kill " + std::to_string(pid_) + ": " + std::strerror(errno));
            }
            return "SIGKILL to the sensor (pid " + std::to_string(pid_) + ")";
        }
        if (!spec_.systemd_unit.empty()) {
            const int st = run_and_wait(
                {"/usr/bin/systemctl", "kill", "--signal=SIGKILL", spec_.systemd_unit});
            if (st != 0) {
                return make_error(ErrorCode::Io, "systemctl kill " + spec_.systemd_unit +
                                                     ": wait status " + std::to_string(st));
            }
            return "systemctl kill --signal=SIGKILL " + spec_.systemd_unit;
        }
        return make_error(ErrorCode::BadInput, "sensor " + spec_.id +
                                                   " is not supervised by mgmtd "
                                                   "(sensors." +
                                                   spec_.id + ".supervise): no drill");
    }

    Verdict check(int64_t now) override {
        const HealthOptions& o = *env_.opts;
        if (!spec_.command.empty() && pid_ > 0) {
            int st = 0;
            if (::waitpid(pid_, &st, WNOHANG) == pid_) {
                pid_ = 0;
                return Verdict::failed(describe_exit(st));
            }
        }
        const int64_t beat_us = view_->beat_us;
        if (beat_us > 0 && beat_us >= started_us_) {
            beat_since_start_ = true;
        }
        const double age = beat_us > 0 ? static_cast<double>(now - beat_us) / 1e6 : -1;
        const bool beating = beat_since_start_ && age >= 0 && age <= o.heartbeat_timeout_s;
        const bool grace_over = now - started_us_ > static_cast<int64_t>(o.start_grace_s * 1e6);
        if (incident) {
            if (beating) {
                return Verdict::ok(ok_detail(age));
            }
            if (!spec_.command.empty() && pid_ == 0) {
                return Verdict::failed("the sensor is not running (" + start_error_ + ")");
            }
            if (grace_over) {
                return Verdict::failed("no heartbeat within " + seconds(o.start_grace_s) +
                                       " s of the restart");
            }
            return Verdict::pending("restarted, waiting for its first heartbeat");
        }
        if (!beat_since_start_ && !grace_over) {
            return Verdict::pending(pid_ > 0 ? "pid " + std::to_string(pid_) + ", no heartbeat yet"
                                             : "no heartbeat yet");
        }
        if (!beating) {
            std::string cause = age < 0 ? "no heartbeat since mgmtd started"
                                        : "no heartbeat for " + seconds(age) + " s (timeout " +
                                              seconds(o.heartbeat_timeout_s) + " s)";
            if (pid_ > 0) {
                cause += "; process " + std::to_string(pid_) + " still running (hung)";
            }
            return Verdict::failed(cause);
        }
        return Verdict::ok(ok_detail(age));
    }

    RestoreStep restore(Incident& /*inc*/, int64_t now) override {
        if (!spec_.command.empty()) {
            std::string line;
            if (pid_ > 0) {
                // Alive but failed (hung): end it for good first.
                ::kill(-pid_, SIGKILL);
                ::kill(pid_, SIGKILL);
                int st = 0;
                while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
                }
                line = "killed the hung sensor (pid " + std::to_string(pid_) + ", SIGKILL); ";
                pid_ = 0;
            }
            start_process(now);
            return {line + (pid_ > 0 ? "restarted the sensor: pid " + std::to_string(pid_)
                                     : "restart failed: " + start_error_)};
        }
        if (!spec_.systemd_unit.empty()) {
            started_us_ = now;
            beat_since_start_ = false;
            // --no-block: the job is queued and the health loop goes on (a sensor compiling a
            // large rule set takes longer to start than the watchdog allows); check() waits
            // for its first heartbeat, up to health.start-grace-s.
            const int st =
                run_and_wait({"/usr/bin/systemctl", "restart", "--no-block", spec_.systemd_unit});
            return {"systemctl restart --no-block " + spec_.systemd_unit + ": " +
                    (st == 0 ? std::string("queued")
                             : "failed (wait status " + std::to_string(st) + ")")};
        }
        return {
            "no restore action: the sensor is not supervised (sensors." + spec_.id + ".supervise)",
            false};
    }

    json gap_at_failure(int64_t /*now*/) override {
        json gap = json::object();
        if (view_->beat_us > 0) {
            gap["last_heartbeat_at"] = utc(view_->beat_us);
            const auto last_seq = view_->num("last_seq");
            const auto acked = view_->num("acked_seq");
            gap["alerts_unacknowledged_at_failure"] = last_seq - std::min(last_seq, acked);
            gap["last_seq_at_failure"] = last_seq;
            gap["rx_packets_at_failure"] = view_->num("rx_packets");
        }
        return gap;
    }

    void gap_at_restore(json& gap, int64_t /*now*/) override {
        const auto at_failure = gap.value("last_seq_at_failure", uint64_t{0});
        const auto acked = view_->num("acked_seq");
        gap["alerts_recovered_from_spool"] =
            gap.value("alerts_unacknowledged_at_failure", uint64_t{0}) > 0 && acked >= at_failure;
        gap["packets_not_inspected"] = "unknown: nothing captured while the sensor was down (" +
                                       seconds(gap.value("down_s", 0.0)) + " s)";
    }

    std::string resumed(int64_t /*now*/) override {
        return "vigil-mgmtd restarted" +
               (pid_ > 0 ? "; started the sensor: pid " + std::to_string(pid_) : std::string());
    }

    void stop(const Env& env) override {
        if (pid_ <= 0) {
            return;
        }
        // SIGTERM (the sensor drains its output), SIGKILL after 10 s.
        ::kill(pid_, SIGTERM);
        int st = 0;
        bool gone = false;
        for (int i = 0; i < 1000 && !gone; ++i) {
            gone = ::waitpid(pid_, &st, WNOHANG) == pid_;
            if (!gone) {
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
        }
        if (!gone) {
            ::kill(-pid_, SIGKILL);
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, &st, 0);
        }
        env.say("sensor " + spec_.id + ": stopped with vigil-mgmtd (" + describe_exit(st) + ")");
        pid_ = 0;
    }

private:
    std::string ok_detail(double age) const {
        return (pid_ > 0 ? "pid " + std::to_string(pid_) + ", " : std::string()) +
               "last heartbeat " + seconds(age) + " s ago";
    }

    void start_process(int64_t now) {
        started_us_ = now;
        beat_since_start_ = false;
        if (spec_.command.empty()) {
            return;
        }
        auto pid = spawn(spec_.command, spec_.log_path);
        if (!pid) {
            pid_ = 0;
            start_error_ = "cannot start: " + pid.error().message;
            return;
        }
        pid_ = *pid;
        start_error_ = "exited";
        env_.say("sensor " + spec_.id + ": started, pid " + std::to_string(pid_));
    }

    SupervisedSensor spec_;
    const SensorView* view_;
    Env env_;
    pid_t pid_ = 0;
    int64_t started_us_ = 0;
    bool beat_since_start_ = false;
    std::string start_error_;
};

// The checks below judge heartbeats; without a recent one they wait (sensor-alive reports).
Verdict no_beat() {
    return Verdict::pending("no recent heartbeat (see sensor-alive)");
}

// ---------------------------------------------------------------------------------------
// capture: the share of packets lost before inspection (heartbeat capture_drops vs rx).

class Capture final : public Control {
public:
    Capture(const SupervisedSensor& spec, const SensorView* view, const Env& env)
        : Control("capture", spec.id, spec.owner), view_(view), env_(env) {}

    Verdict check(int64_t now) override {
        const HealthOptions& o = *env_.opts;
        if (!view_->fresh(o.heartbeat_timeout_s, now)) {
            return no_beat();
        }
        if (view_->beat_us == seen_beat_us_) {
            return last_;
        }
        seen_beat_us_ = view_->beat_us;
        const uint64_t rx = view_->num("rx_packets");
        const uint64_t drops = view_->num("capture_drops");
        if (base_us_ == 0 || rx < base_rx_ || drops < base_drops_) {  // first, or restarted
            base_us_ = view_->beat_us;
            base_rx_ = rx;
            base_drops_ = drops;
            if (incident) {
                // An open incident (from before mgmtd or the sensor restarted) closes only
                // on a judged window.
                last_ = Verdict::pending("judging a new window");
            } else if (last_.kind == Verdict::Kind::Pending) {
                last_ = Verdict::ok("watching: " + std::to_string(rx) + " packets, " +
                                    std::to_string(drops) + " lost so far");
            }
            return last_;
        }
        const uint64_t d_rx = rx - base_rx_;
        const uint64_t d_drop = drops - base_drops_;
        if (d_rx + d_drop < o.capture_min_packets) {
            return last_;  // too few packets yet to judge: the window grows
        }
        const double ratio = static_cast<double>(d_drop) / static_cast<double>(d_rx + d_drop);
        const double secs = static_cast<double>(view_->beat_us - base_us_) / 1e6;
        window_drops_ = d_drop;
        window_start_drops_ = base_drops_;
        base_us_ = view_->beat_us;
        base_rx_ = rx;
        base_drops_ = drops;
        char buf[256];
        if (ratio > o.capture_max_drop_ratio) {
            std::snprintf(buf, sizeof(buf),
                          "capture lost %.1f%% of the packets (%llu of %llu) in %.1f s; the "
                          "limit is %.1f%%",
                          ratio * 100, static_cast<unsigned long long>(d_drop),
                          static_cast<unsigned long long>(d_rx + d_drop), secs,
                          o.capture_max_drop_ratio * 100);
            last_ = Verdict::failed(buf);
        } else {
            std::snprintf(buf, sizeof(buf), "%.2f%% lost in the last %.1f s (%llu packets)",
                          ratio * 100, secs, static_cast<unsigned long long>(d_rx + d_drop));
            last_ = Verdict::ok(buf);
        }
        return last_;
    }

    RestoreStep restore(Incident& /*inc*/, int64_t /*now*/) override {
        return {
            "no automatic restore: capture loss comes from load or the NIC "
            "(docs/runbooks/capture.md); watching",
            false};
    }

    json gap_at_failure(int64_t /*now*/) override {
        failing_from_drops_ = window_start_drops_;
        return json{{"capture_drops_at_failure", view_->num("capture_drops")},
                    {"packets_lost_in_failing_window", window_drops_}};
    }

    void gap_at_restore(json& gap, int64_t /*now*/) override {
        const uint64_t drops = view_->num("capture_drops");
        gap["packets_not_inspected"] =
            drops >= failing_from_drops_ ? drops - failing_from_drops_ : uint64_t{0};
    }

private:
    const SensorView* view_;
    Env env_;
    int64_t seen_beat_us_ = 0;
    int64_t base_us_ = 0;
    uint64_t base_rx_ = 0, base_drops_ = 0;
    uint64_t window_drops_ = 0, window_start_drops_ = 0, failing_from_drops_ = 0;
    Verdict last_ = Verdict::pending("no heartbeat yet");
};

// ---------------------------------------------------------------------------------------
// detection: the sensor runs the pack mgmtd activated (manifest digest and rule count).

class Detection final : public Control {
public:
    Detection(const SupervisedSensor& spec, const SensorView* view, const Env& env)
        : Control("detection", spec.id, spec.owner), view_(view), env_(env) {}

    Verdict check(int64_t now) override {
        const HealthOptions& o = *env_.opts;
        if (o.packs == nullptr) {
            return Verdict::not_applicable("mgmtd holds no rule packs");
        }
        auto want = o.packs->activated();
        if (!want) {
            return Verdict::pending("rule packs: " + want.error().message);
        }
        if (!*want) {
            return Verdict::not_applicable("no rule pack activated in mgmtd yet");
        }
        expected_ = **want;
        if (o.activation_in_flight && o.activation_in_flight()) {
            return Verdict::pending("an activation is in progress");
        }
        if (!view_->fresh(o.heartbeat_timeout_s, now)) {
            return no_beat();
        }
        auto listing = o.packs->list();
        link_ = listing ? listing->active : std::string();
        const std::string digest = view_->text("rules_digest");
        const std::string version = view_->text("rules_version");
        const uint64_t loaded = view_->num("rules_loaded");
        if (link_ != expected_.version) {
            return Verdict::failed("rulepacks/active points at '" + link_ +
                                   "', mgmtd activated pack " + expected_.version);
        }
        if (digest != expected_.digest) {
            return Verdict::failed(
                "the sensor runs " +
                (version.empty() ? std::string("rules that are not a pack")
                                 : "pack " + version + " (manifest " + short_hash(digest) + ")") +
                ", mgmtd activated pack " + expected_.version + " (manifest " +
                short_hash(expected_.digest) + ")");
        }
        if (loaded != expected_.rules_loaded) {
            return Verdict::failed("the sensor loaded " + std::to_string(loaded) +
                                   " rules of pack " + expected_.version + ", validation loaded " +
                                   std::to_string(expected_.rules_loaded));
        }
        return Verdict::ok("pack " + expected_.version + ": " + std::to_string(loaded) +
                           " rules (manifest " + short_hash(digest) + ")");
    }

    RestoreStep restore(Incident& /*inc*/, int64_t /*now*/) override {
        const HealthOptions& o = *env_.opts;
        std::string line;
        if (link_ != expected_.version) {
            auto a = o.packs->reactivate(expected_.version);
            line = a ? "re-activated pack " + expected_.version +
                           " (rulepacks/active pointed at '" + link_ + "'); "
                     : "re-activating pack " + expected_.version + " failed: " + a.error().message +
                           "; ";
        }
        if (!o.reload_sensors) {
            return {line + "no way to ask the sensor to reload", false};
        }
        o.reload_sensors(expected_.version);
        return {line + "asked the sensor to reload pack " + expected_.version};
    }

    json gap_at_failure(int64_t /*now*/) override {
        return json{{"rules_version_running", view_->text("rules_version")},
                    {"rules_digest_running", view_->text("rules_digest")},
                    {"rules_loaded_running", view_->num("rules_loaded")},
                    {"pack_activated", expected_.version}};
    }

    void gap_at_restore(json& gap, int64_t /*now*/) override {
        gap["inspected_with_other_rules_s"] = gap.value("down_s", 0.0);
    }

private:
    const SensorView* view_;
    Env env_;
    StoredPack expected_;
    std::string link_;
};

// ---------------------------------------------------------------------------------------
// enforcement: the sensor's nftables objects (its own check every ips.nft.check-ms repairs
// them; mgmtd sees the repairs and the degraded state in the heartbeats).

class Enforcement final : public Control {
public:
    Enforcement(const SupervisedSensor& spec, const SensorView* view, const Env& env)
        : Control("enforcement", spec.id, spec.owner), view_(view), env_(env) {}

    Verdict check(int64_t now) override {
        if (!view_->fresh(env_.opts->heartbeat_timeout_s, now)) {
            return no_beat();
        }
        const std::string enf = view_->text("enforcement");
        if (enf.empty() || enf == "off") {
            return Verdict::not_applicable("IPS enforcement is off on this sensor");
        }
        const uint64_t repairs = view_->num("enforcement_repairs");
        const uint64_t reapplied = view_->num("blocks_reapplied");
        if (!init_ || repairs < seen_repairs_) {  // first look, or the sensor restarted
            init_ = true;
            seen_repairs_ = repairs;
            seen_reapplied_ = reapplied;
        } else if (repairs > seen_repairs_) {
            const uint64_t n = repairs - seen_repairs_;
            reapplied_ = reapplied - std::min(reapplied, seen_reapplied_);
            seen_repairs_ = repairs;
            seen_reapplied_ = reapplied;
            std::string problem = view_->text("enforcement_problem");
            if (problem.empty()) {
                problem = "nftables objects changed";
            }
            repaired_ = "the sensor found " + problem + " and re-created its nftables objects (" +
                        std::to_string(n) + " repair" + (n == 1 ? "" : "s") + "), re-applying " +
                        std::to_string(reapplied_) + " block(s)";
            return Verdict::failed(problem);
        }
        if (enf.rfind("degraded", 0) == 0) {
            return Verdict::failed("enforcement " + enf);
        }
        return Verdict::ok("nftables objects present and as specified; " +
                           std::to_string(view_->num("blocks_active")) + " block(s) active, " +
                           std::to_string(repairs) + " repair(s) since the sensor started");
    }

    RestoreStep restore(Incident& /*inc*/, int64_t /*now*/) override {
        if (!repaired_.empty()) {
            std::string line;
            line.swap(repaired_);
            return {line};
        }
        return {
            "the sensor re-creates its nftables objects every ips.nft.check-ms; waiting "
            "(docs/runbooks/enforcement.md)"};
    }

    json gap_at_failure(int64_t /*now*/) override {
        return json{{"blocks_active_at_failure", view_->num("blocks_active")},
                    {"blocks_reapplied", reapplied_}};
    }

    void gap_at_restore(json& gap, int64_t /*now*/) override {
        gap["blocks_not_enforced"] = gap.value("blocks_active_at_failure", uint64_t{0});
    }

private:
    const SensorView* view_;
    Env env_;
    bool init_ = false;
    uint64_t seen_repairs_ = 0, seen_reapplied_ = 0, reapplied_ = 0;
    std::string repaired_;
};

// ---------------------------------------------------------------------------------------
// alert-path: nothing dropped by a full spool, the backlog bounded.

class AlertPath final : public Control {
public:
    AlertPath(const SupervisedSensor& spec, const SensorView* view, const Env& env)
        : Control("alert-path", spec.id, spec.owner), view_(view), env_(env) {}

    Verdict check(int64_t now) override {
        const HealthOptions& o = *env_.opts;
        if (!view_->fresh(o.heartbeat_timeout_s, now)) {
            return no_beat();
        }
        const uint64_t dropped = view_->num("spool_dropped");
        const uint64_t backlog = view_->num("spool_records");
        lost_now_ = 0;
        if (!init_ || dropped < seen_dropped_) {
            init_ = true;
            seen_dropped_ = dropped;
        } else if (dropped > seen_dropped_) {
            lost_now_ = dropped - seen_dropped_;
            lost_total_ += lost_now_;
            seen_dropped_ = dropped;
            return Verdict::failed("the sensor's spool was full: " + std::to_string(lost_now_) +
                                   " record(s) dropped, never delivered");
        }
        if (backlog > o.alert_max_backlog) {
            return Verdict::failed(std::to_string(backlog) +
                                   " records wait in the sensor's spool (limit " +
                                   std::to_string(o.alert_max_backlog) +
                                   "): mgmtd does not acknowledge them fast enough");
        }
        return Verdict::ok("seq " + std::to_string(view_->num("last_seq")) + ", acknowledged " +
                           std::to_string(view_->num("acked_seq")) + ", " +
                           std::to_string(backlog) + " in the spool");
    }

    RestoreStep restore(Incident& /*inc*/, int64_t /*now*/) override {
        if (lost_now_ > 0) {
            return {
                "no automatic restore for dropped records: they are gone (the store records "
                "the gap); see docs/runbooks/alert-path.md",
                false};
        }
        return {
            "the sensor resends its spool as mgmtd acknowledges; waiting (check the store "
            "control)"};
    }

    json gap_at_failure(int64_t /*now*/) override {
        lost_at_failure_ = lost_total_ - lost_now_;
        return json{{"spool_records_at_failure", view_->num("spool_records")},
                    {"last_seq_at_failure", view_->num("last_seq")},
                    {"acked_seq_at_failure", view_->num("acked_seq")}};
    }

    void gap_at_restore(json& gap, int64_t /*now*/) override {
        gap["records_lost"] = lost_total_ - lost_at_failure_;
        gap["spool_records_at_restore"] = view_->num("spool_records");
    }

private:
    const SensorView* view_;
    Env env_;
    bool init_ = false;
    uint64_t seen_dropped_ = 0, lost_now_ = 0, lost_total_ = 0, lost_at_failure_ = 0;
};

// ---------------------------------------------------------------------------------------
// store: mgmtd's own store can take writes and has room.

class StoreControl final : public Control {
public:
    StoreControl(const std::vector<SensorView>* views, const Env& env)
        : Control("store", "", env.opts->owner), views_(views), env_(env) {
        dir_ = fs::path(env.opts->store_path).parent_path().string();
        if (dir_.empty()) {
            dir_ = ".";
        }
    }

    Verdict check(int64_t /*now*/) override {
        const HealthOptions& o = *env_.opts;
        backlog_max_ = std::max(backlog_max_, backlog());
        struct statvfs vs {};
        if (::statvfs(dir_.c_str(), &vs) != 0) {
            return Verdict::failed("cannot look at the store's disk (" + dir_ +
                                   "): " + std::strerror(errno));
        }
        const uint64_t free_mb = static_cast<uint64_t>(vs.f_bavail) * vs.f_frsize >> 20;
        // A real write and fsync where the store lives (what a commit needs).
        const std::string probe = dir_ + "/.vigil-health-probe";
        const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        std::string write_error;
        if (fd < 0) {
            write_error = std::strerror(errno);
        } else {
            static const std::string block(64 * 1024, '\0');
            if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size()) ||
                ::fsync(fd) != 0) {
                write_error = errno != 0 ? std::strerror(errno) : "short write";
            }
            ::close(fd);
            ::unlink(probe.c_str());
        }
        if (!write_error.empty()) {
            return Verdict::failed("cannot write in the store's folder " + dir_ + ": " +
                                   write_error + " (" + std::to_string(free_mb) + " MB free)");
        }
        if (free_mb < o.store_min_free_mb) {
            return Verdict::failed(std::to_string(free_mb) + " MB free on the store's disk (" +
                                   dir_ + "); the minimum is " +
                                   std::to_string(o.store_min_free_mb) + " MB");
        }
        if (o.ingest) {
            const uint64_t errors = o.ingest().commit_errors;
            if (errors > seen_errors_ && init_) {
                const uint64_t n = errors - seen_errors_;
                seen_errors_ = errors;
                return Verdict::failed("the store refused " + std::to_string(n) +
                                       " commit(s) (mgmtd's log has the reason)");
            }
            seen_errors_ = errors;
            init_ = true;
        }
        return Verdict::ok(std::to_string(free_mb) + " MB free, writable");
    }

    RestoreStep restore(Incident& /*inc*/, int64_t /*now*/) override {
        return {
            "no automatic restore: mgmtd deletes no alert to make room; sensors keep what is "
            "not acknowledged in their spools until the store takes it "
            "(docs/runbooks/store.md)",
            false};
    }

    json gap_at_failure(int64_t /*now*/) override {
        backlog_max_ = backlog();
        dropped_at_failure_ = dropped();
        return json{{"sensor_spool_records_at_failure", backlog_max_}};
    }

    void gap_at_restore(json& gap, int64_t /*now*/) override {
        gap["alerts_delayed_max"] = backlog_max_;
        gap["alerts_lost"] = dropped() - std::min(dropped(), dropped_at_failure_);
    }

private:
    uint64_t backlog() const {
        uint64_t n = 0;
        for (const auto& v : *views_) {
            n += v.num("spool_records");
        }
        return n;
    }
    uint64_t dropped() const {
        uint64_t n = 0;
        for (const auto& v : *views_) {
            n += v.num("spool_dropped");
        }
        return n;
    }

    const std::vector<SensorView>* views_;
    Env env_;
    std::string dir_;
    bool init_ = false;
    uint64_t seen_errors_ = 0, backlog_max_ = 0, dropped_at_failure_ = 0;
};

// ---------------------------------------------------------------------------------------
// file-integrity: configured files and folders against a sha256 baseline; stored rule packs
// against their manifests. inotify marks a change so that the next check rescans.

class FileIntegrity final : public Control {
public:
    explicit FileIntegrity(const Env& env)
        : Control("file-integrity", "", env.opts->owner), env_(env) {
        const HealthOptions& o = *env.opts;
        if (o.packs != nullptr) {
            packs_dir_ = fs::path(o.packs->dir()).lexically_normal().string();
        }
        ifd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        std::vector<std::string> covered;
        if (!load_baseline(covered)) {
            baseline_ = scan_files();
            if (auto st = save_baseline(); !st) {
                env.say("file-integrity: " + st.error().message);
            } else {
                env.say("file-integrity: no baseline yet: took the " +
                        std::to_string(baseline_.size()) + " files as they are now (" +
                        o.integrity_baseline + ")");
            }
        } else if (covered != o.integrity_paths) {
            // Paths added to the config since the baseline was taken: their files as they are
            // now join it; files of paths no longer configured leave it.
            const auto now = scan_files();
            std::map<std::string, std::string> next;
            size_t added = 0;
            for (const auto& [path, sha] : now) {
                auto it = baseline_.find(path);
                if (it != baseline_.end()) {
                    next[path] = it->second;
                    continue;
                }
                bool was_covered = false;
                for (const auto& c : covered) {
                    was_covered = was_covered || path == c || path.rfind(c + "/", 0) == 0;
                }
                if (!was_covered) {
                    next[path] = sha;
                    ++added;
                }
            }
            for (const auto& [path, sha] : baseline_) {
                bool still = false;
                for (const auto& c : o.integrity_paths) {
                    still = still || path == c || path.rfind(c + "/", 0) == 0;
                }
                if (still && next.count(path) == 0) {
                    next[path] = sha;  // deleted since: compare() reports it
                }
            }
            baseline_ = std::move(next);
            if (auto st = save_baseline(); !st) {
                env.say("file-integrity: " + st.error().message);
            } else {
                env.say("file-integrity: the configured paths changed: " + std::to_string(added) +
                        " file(s) of the new paths taken into the baseline as they are now");
            }
        }
        watch_all();
    }

    ~FileIntegrity() override {
        if (ifd_ >= 0) {
            ::close(ifd_);
        }
    }

    Verdict check(int64_t now) override {
        if (env_.opts->integrity_paths.empty() && packs_dir_.empty()) {
            return Verdict::not_applicable("no paths (health.file-integrity.paths)");
        }
        drain_events();
        if (dirty_ || now >= next_scan_us_) {
            dirty_ = false;
            next_scan_us_ = now + static_cast<int64_t>(env_.opts->integrity_scan_s * 1e6);
            problems_ = compare();
            watch_all();  // folders created since
            ++scans_;
        }
        if (problems_.empty()) {
            return Verdict::ok(
                std::to_string(baseline_.size()) + " file(s) match the baseline" +
                (packs_dir_.empty() ? std::string() : "; stored rule packs match their manifests"));
        }
        std::string cause;
        for (size_t i = 0; i < problems_.size() && i < 3; ++i) {
            cause += (i > 0 ? "; " : "") + problems_[i].path + ": " + problems_[i].problem;
        }
        if (problems_.size() > 3) {
            cause += "; and " + std::to_string(problems_.size() - 3) + " more";
        }
        return Verdict::failed(cause);
    }

    RestoreStep restore(Incident& /*inc*/, int64_t /*now*/) override {
        std::set<std::string> versions;
        std::vector<std::string> others;
        for (const auto& p : problems_) {
            if (!p.version.empty()) {
                versions.insert(p.version);
            } else {
                others.push_back(p.path);
            }
        }
        std::string line;
        bool possible = true;
        for (const auto& v : versions) {
            auto r = env_.opts->packs->repair(v);
            line += (line.empty() ? "" : "; ") + (r ? *r : "pack " + v + ": " + r.error().message);
            if (r) {
                for (const auto& p : problems_) {
                    if (p.version == v) {
                        restored_.push_back(p.path);
                    }
                }
            } else {
                possible = false;
            }
        }
        if (!others.empty()) {
            possible = false;
            line +=
                (line.empty() ? "" : "; ") + std::string("no automatic restore for ") +
                others.front() +
                (others.size() > 1 ? " and " + std::to_string(others.size() - 1) + " more" : "") +
                ": reinstall it, or accept a wanted change with `vigilctl integrity accept`";
        }
        dirty_ = true;
        return {line, possible};
    }

    json gap_at_failure(int64_t /*now*/) override {
        restored_.clear();
        json files = json::array();
        for (const auto& p : problems_) {
            files.push_back(json{{"path", p.path}, {"problem", p.problem}});
        }
        return json{{"files", files}};
    }

    void gap_at_restore(json& gap, int64_t /*now*/) override {
        gap["files_restored_from_store"] = restored_;
    }

    Result<size_t> accept() {
        baseline_ = scan_files();
        if (auto st = save_baseline(); !st) {
            return st.error();
        }
        dirty_ = true;
        return baseline_.size();
    }

private:
    struct Problem {
        std::string path, problem, version;  // version: a stored pack's file
    };

    bool under_packs(const std::string& p) const {
        return !packs_dir_.empty() && (p == packs_dir_ || p.rfind(packs_dir_ + "/", 0) == 0);
    }

    // Every regular file below the configured paths (symlinks recorded as their target),
    // except the rule pack store.
    std::map<std::string, std::string> scan_files() const {
        std::map<std::string, std::string> out;
        auto add = [&](const fs::path& f) {
            const std::string key = f.lexically_normal().string();
            if (under_packs(key)) {
                return;
            }
            std::error_code ec;
            if (fs::is_symlink(f, ec)) {
                out[key] = "link:" + fs::read_symlink(f, ec).string();
                return;
            }
            out[key] = hash_file(f);
        };
        for (const auto& p : env_.opts->integrity_paths) {
            std::error_code ec;
            if (fs::is_directory(p, ec) && !fs::is_symlink(p, ec)) {
                for (auto it = fs::recursive_directory_iterator(p, ec);
                     !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
                    if (!it->is_directory(ec) || it->is_symlink(ec)) {
                        add(it->path());
                    }
                }
            } else {
                add(p);
            }
        }
        return out;
    }

    static std::string hash_file(const fs::path& f) {
        std::ifstream in(f, std::ios::binary);
        if (!in) {
            return "missing";
        }
        std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        return rules::sha256_hex(data);
    }

    std::vector<Problem> compare() const {
        std::vector<Problem> out;
        const auto now = scan_files();
        for (const auto& [path, sha] : baseline_) {
            auto it = now.find(path);
            if (it == now.end() || it->second == "missing") {
                out.push_back({path, "deleted", ""});
            } else if (it->second != sha) {
                out.push_back({path,
                               "sha256 changed (baseline " + short_hash(sha) + ", now " +
                                   short_hash(it->second) + ")",
                               ""});
            }
        }
        for (const auto& [path, sha] : now) {
            if (baseline_.count(path) == 0) {
                out.push_back({path, "new file, not in the baseline", ""});
            }
        }
        if (env_.opts->packs != nullptr) {
            if (auto v = env_.opts->packs->verify(); v) {
                for (auto& p : *v) {
                    out.push_back({p.path, p.problem, p.version});
                }
            } else {
                out.push_back({packs_dir_, v.error().message, ""});
            }
        }
        return out;
    }

    bool load_baseline(std::vector<std::string>& covered) {
        std::ifstream in(env_.opts->integrity_baseline);
        if (!in) {
            return false;
        }
        json j = json::parse(in, nullptr, false);
        if (j.is_discarded() || !j.contains("files") || !j["files"].is_object()) {
            env_.say("file-integrity: " + env_.opts->integrity_baseline +
                     " is not a baseline (taken anew)");
            return false;
        }
        baseline_.clear();
        covered.clear();
        if (j.contains("paths") && j["paths"].is_array()) {
            for (const auto& p : j["paths"]) {
                if (p.is_string()) {
                    covered.push_back(p.get<std::string>());
                }
            }
        }
        for (auto& [k, v] : j["files"].items()) {
            baseline_[k] = v.is_string() ? v.get<std::string>() : "";
        }
        return true;
    }

    Status save_baseline() const {
        json files = json::object();
        for (const auto& [k, v] : baseline_) {
            files[k] = v;
        }
        const std::string path = env_.opts->integrity_baseline;
        const std::string tmp = path + ".new";
        {
            std::ofstream out(tmp, std::ios::trunc);
            out << json{{"created", utc(wall_us())},
                        {"paths", env_.opts->integrity_paths},
                        {"files", files}}
                       .dump(1)
                << "\n";
            if (!out.flush()) {
                return make_error(ErrorCode::Io, tmp + ": cannot write");
            }
        }
        ::chmod(tmp.c_str(), 0600);
        if (std::rename(tmp.c_str(), path.c_str()) != 0) {
            return make_error(ErrorCode::Io, path + ": " + std::strerror(errno));
        }
        return Ok{};
    }

    void watch(const fs::path& dir) {
        if (ifd_ < 0) {
            return;
        }
        ::inotify_add_watch(ifd_, dir.c_str(),
                            IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE |
                                IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF);
    }

    void watch_tree(const fs::path& root) {
        std::error_code ec;
        if (!fs::is_directory(root, ec)) {
            watch(root.parent_path().empty() ? fs::path(".") : root.parent_path());
            return;
        }
        watch(root);
        for (auto it = fs::recursive_directory_iterator(root, ec);
             !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
            if (it->is_directory(ec) && !it->is_symlink(ec)) {
                watch(it->path());
            }
        }
    }

    void watch_all() {
        for (const auto& p : env_.opts->integrity_paths) {
            watch_tree(p);
        }
        if (!packs_dir_.empty()) {
            watch_tree(packs_dir_);
        }
    }

    void drain_events() {
        if (ifd_ < 0) {
            return;
        }
        alignas(inotify_event) char buf[8192];
        for (;;) {
            const ssize_t n = ::read(ifd_, buf, sizeof(buf));
            if (n <= 0) {
                break;
            }
            // Any event below a watched folder: rescan at this check.
            dirty_ = true;
        }
    }

    Env env_;
    std::string packs_dir_;
    int ifd_ = -1;
    bool dirty_ = true;
    int64_t next_scan_us_ = 0;
    uint64_t scans_ = 0;
    std::map<std::string, std::string> baseline_;
    std::vector<Problem> problems_;
    std::vector<std::string> restored_;
};

// ---------------------------------------------------------------------------------------
// watchdog: systemd's, pinged by Health's loop (so a hung check loop is a dead mgmtd).

class Watchdog final : public Control {
public:
    explicit Watchdog(const Env& env) : Control("watchdog", "", env.opts->owner) {}

    Verdict check(int64_t /*now*/) override {
        const char* sock = std::getenv("NOTIFY_SOCKET");
        if (sock == nullptr || *sock == '\0') {
            return Verdict::not_applicable("not started by systemd (no NOTIFY_SOCKET)");
        }
        // The same reading Health pings by (common/sd_notify.h).
        const auto usec = static_cast<double>(systemd::watchdog_usec());
        if (usec == 0) {
            return Verdict::ok("systemd notified; the unit sets no WatchdogSec");
        }
        return Verdict::ok("systemd watchdog: pinged every " + seconds(usec / 2e6) +
                           " s (WatchdogSec " + seconds(usec / 1e6) + " s)");
    }

    RestoreStep restore(Incident& /*inc*/, int64_t /*now*/) override {
        return {"systemd restarts vigil-mgmtd when the pings stop", false};
    }
};

}  // namespace

std::vector<ControlPtr> sensor_controls(const SupervisedSensor& spec, const SensorView* view,
                                        const Env& env) {
    std::vector<ControlPtr> out;
    out.push_back(std::make_unique<SensorAlive>(spec, view, env));
    out.push_back(std::make_unique<Capture>(spec, view, env));
    out.push_back(std::make_unique<Detection>(spec, view, env));
    out.push_back(std::make_unique<Enforcement>(spec, view, env));
    out.push_back(std::make_unique<AlertPath>(spec, view, env));
    return out;
}

std::vector<ControlPtr> mgmtd_controls(const std::vector<SensorView>* views, const Env& env) {
    std::vector<ControlPtr> out;
    out.push_back(std::make_unique<StoreControl>(views, env));
    out.push_back(std::make_unique<FileIntegrity>(env));
    out.push_back(std::make_unique<Watchdog>(env));
    return out;
}

Result<size_t> accept_baseline(Control& c) {
    auto* fi = dynamic_cast<FileIntegrity*>(&c);
    if (fi == nullptr) {
        return make_error(ErrorCode::BadInput, c.name() + " is not the file-integrity control");
    }
    return fi->accept();
}

}  // namespace vigil::mgmt::controls
