#pragma once
// Data classification (issue 13, the policy's data handling): each kind of data mgmtd handles
// has a level, each output and notification sink a clearance; a record above a sink's
// clearance is not sent there. Levels, lowest first: public, internal, confidential,
// restricted. Packet payloads are confidential by default and every sink is cleared for
// internal, so payloads leave mgmtd nowhere unless an operator raises a clearance.

#include <array>
#include <map>
#include <string>
#include <string_view>

namespace vigil::mgmt {

inline constexpr std::array<std::string_view, 4> kClassLevels = {"public", "internal",
                                                                 "confidential", "restricted"};
// The kinds of data (mgmtd.yaml classification.data) and sinks (classification.sinks).
inline constexpr std::array<std::string_view, 4> kDataKinds = {"alerts", "payloads",
                                                               "configuration", "incidents"};
inline constexpr std::array<std::string_view, 3> kSinks = {"api", "webhook", "syslog"};

// The level's rank (0 = public), or -1 for a name that is not a level.
inline int class_rank(std::string_view level) {
    for (size_t i = 0; i < kClassLevels.size(); ++i) {
        if (kClassLevels[i] == level) {
            return static_cast<int>(i);
        }
    }
    return -1;
}

struct Classification {
    std::map<std::string, std::string> data = {{"alerts", "internal"},
                                               {"payloads", "confidential"},
                                               {"configuration", "internal"},
                                               {"incidents", "internal"}};
    std::map<std::string, std::string> sinks = {
        {"api", "internal"}, {"webhook", "internal"}, {"syslog", "internal"}};

    // Whether data of `kind` may go to `sink`.
    bool allows(const std::string& sink, const std::string& kind) const {
        auto d = data.find(kind);
        auto s = sinks.find(sink);
        return d != data.end() && s != sinks.end() &&
               class_rank(d->second) <= class_rank(s->second);
    }
};

}  // namespace vigil::mgmt
