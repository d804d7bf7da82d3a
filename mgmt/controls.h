#pragma once
// The health controls mgmtd runs (DESIGN.md §7), internal to mgmt/health.cc. Each control
// checks one thing and knows how to restore it; Health (health.cc) owns the incident
// lifecycle around them: open on a failed check, restore with backoff and escalation, close
// when the check passes again, then watch that control harder for a while.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mgmt/health.h"

#include <nlohmann/json.hpp>

namespace vigil::mgmt::controls {

// What one check found.
struct Verdict {
    enum class Kind { Ok, Failed, Pending, NotApplicable };
    Kind kind = Kind::Ok;
    std::string detail;  // Ok: the state; Failed: the cause; Pending: why nothing is known yet

    static Verdict ok(std::string d) { return {Kind::Ok, std::move(d)}; }
    static Verdict failed(std::string d) { return {Kind::Failed, std::move(d)}; }
    static Verdict pending(std::string d) { return {Kind::Pending, std::move(d)}; }
    static Verdict not_applicable(std::string d) { return {Kind::NotApplicable, std::move(d)}; }
};

// What one restore attempt did.
struct RestoreStep {
    std::string action;    // the line for Incident::restore_action
    bool possible = true;  // false: nothing automatic can restore this: escalate at once
};

// One sensor's latest heartbeat as the store has it (read once per pass of the checks).
struct SensorView {
    std::string id;
    int64_t beat_us = 0;  // 0: none yet
    nlohmann::json beat = nlohmann::json::object();

    uint64_t num(const char* key) const;
    std::string text(const char* key) const;
    bool fresh(double timeout_s, int64_t now_us) const {
        return beat_us > 0 && now_us - beat_us <= static_cast<int64_t>(timeout_s * 1e6);
    }
};

struct Env {
    const HealthOptions* opts = nullptr;
    std::function<void(const std::string&)> say;  // mgmtd's log
};

class Control {
public:
    Control(std::string kind, std::string sensor, std::string owner);
    virtual ~Control() = default;
    Control(const Control&) = delete;
    Control& operator=(const Control&) = delete;

    virtual Verdict check(int64_t now) = 0;
    // Called after a failed check once the backoff allows; acts for real.
    virtual RestoreStep restore(Incident& inc, int64_t now) = 0;
    // What to record about the gap when the incident opens, and to add when it closes.
    virtual nlohmann::json gap_at_failure(int64_t /*now*/) { return nlohmann::json::object(); }
    virtual void gap_at_restore(nlohmann::json& /*gap*/, int64_t /*now*/) {}
    // mgmtd starts with this control's incident still open (from its last run).
    virtual std::string resumed(int64_t /*now*/) { return ""; }
    virtual void stop(const Env& /*env*/) {}
    virtual pid_t pid() const { return 0; }
    // A drill stops what this control watches hard (sensor-alive: SIGKILL); returns how.
    virtual Result<std::string> stop_for_drill() {
        return make_error(ErrorCode::BadInput, name() + " cannot be drilled");
    }

    std::string name() const { return sensor.empty() ? kind : kind + ":" + sensor; }

    const std::string kind;
    const std::string sensor;  // "" for mgmtd's own controls
    const std::string owner;

    // Health's bookkeeping (under its mutex).
    std::string state = "starting";  // ok | failed | restoring | starting | n/a
    std::string detail;
    std::string last_failure;  // the last cause recorded, so a repeat is not recorded again
    std::string last_action;
    std::string cause_note;  // appended to the cause of the next incident (" (drill 3)")
    int64_t since_us = 0;
    int64_t last_check_us = 0;
    int64_t next_check_us = 0;
    int64_t enhanced_until_us = 0;
    int64_t next_restore_us = 0;
    uint64_t checks = 0;
    uint64_t failed_checks = 0;
    std::optional<Incident> incident;
};

using ControlPtr = std::unique_ptr<Control>;

// The controls of one supervised sensor: sensor-alive (also starts the process), capture,
// detection, enforcement, alert-path. `view` is refreshed by Health before each pass.
std::vector<ControlPtr> sensor_controls(const SupervisedSensor& spec, const SensorView* view,
                                        const Env& env);
// mgmtd's own: store, file-integrity, watchdog. `views`: every sensor (the gap of a store
// failure counts what waits in their spools).
std::vector<ControlPtr> mgmtd_controls(const std::vector<SensorView>* views, const Env& env);

// The file-integrity control's accept: a new baseline from the files as they are now.
Result<size_t> accept_baseline(Control& file_integrity);

// "2026-12-02T07:59:01Z"
std::string utc(int64_t us);
std::string seconds(double s);

}  // namespace vigil::mgmt::controls
