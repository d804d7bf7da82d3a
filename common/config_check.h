#pragma once
// Checking a YAML configuration file (sensor.yaml, mgmtd.yaml) with yaml-cpp: the first error
// is kept with the file and line of the node it is about, and unknown keys are errors that
// name the key and list the ones expected (a typo never falls back to a default silently).

#include <set>
#include <string>

#include <yaml-cpp/yaml.h>

namespace vigil {

struct ConfigCheck {
    std::string file;
    std::string err;  // the first error ("" while there is none)

    void fail(const YAML::Node& n, const std::string& what) {
        if (!err.empty()) {
            return;
        }
        const auto m = n.Mark();
        err = file + (m.line >= 0 ? ":" + std::to_string(m.line + 1) : "") + ": " + what;
    }
    // False (with the error kept) when `map` is not a mapping or has a key not in `allowed`.
    bool check_keys(const YAML::Node& map, const std::string& where,
                    const std::set<std::string>& allowed) {
        if (!map.IsMap()) {
            fail(map, (where.empty() ? "the file" : where) + ": expected a mapping");
            return false;
        }
        for (const auto& kv : map) {
            const auto k = kv.first.as<std::string>();
            if (allowed.count(k) == 0) {
                std::string list;
                for (const auto& a : allowed) {
                    list += (list.empty() ? "" : ", ") + a;
                }
                fail(kv.first, "unknown key '" + (where.empty() ? k : where + "." + k) +
                                   "' (expected one of: " + list + ")");
            }
        }
        return err.empty();
    }
};

}  // namespace vigil
