#pragma once
// Suricata's engine settings given on the command line: `replay --set key=value` takes the
// suricata.yaml keys that change what a replay detects (stream.midstream, simulate-ips,
// packet-alert-max, action-order, the libhtp body limits, app-layer.protocols.X.enabled, ...)
// and applies them to the sensor configuration. An unknown key, or a setting Vigil cannot
// honour, is an error naming it; a setting that changes nothing in Vigil is accepted with a
// note saying why.

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "sensor/config.h"

namespace vigil::sensor {

// Applies each "key=value" in order (a later one wins). `notes` gets one line per setting
// that was accepted without effect. `base_dir`: what relative paths (threshold-file) are
// relative to (the working directory, as Suricata's --set).
Status apply_overrides(const std::vector<std::string>& sets, SensorConfig& cfg,
                       std::vector<std::string>& notes);

// The keys --set takes, one per line with what they do (for --help and the error on an
// unknown key).
std::string override_keys_help();

}  // namespace vigil::sensor
