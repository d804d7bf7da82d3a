#pragma once
// Expectation files for replay checks (`replay --expect`): per sid an expected alert count,
// optionally restricted to addresses, ports and action. Format in docs/testing.md.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "dataplane/packet.h"

namespace vigil::sensor {

struct Endpoint {
    dataplane::IpAddr addr{};
    std::optional<uint16_t> port;
};

struct Expectation {
    uint32_t sid = 0;
    uint64_t count = 0;
    std::optional<Endpoint> src;
    std::optional<Endpoint> dst;
    std::string action;  // "" (any), "allowed", "blocked"
    uint32_t line = 0;
    std::string text;  // the line as written, for the diff
};

struct ExpectFile {
    std::string path;
    std::vector<Expectation> lines;
};

Result<ExpectFile> load_expect_file(const std::string& path);

// One alert as the check sees it.
struct ObservedAlert {
    uint32_t sid = 0;
    dataplane::IpAddr src{};
    uint16_t sport = 0;
    dataplane::IpAddr dst{};
    uint16_t dport = 0;
    bool has_ports = false;
    std::string action;
    uint64_t pcap_cnt = 0;
};

struct ExpectResult {
    bool ok = true;
    std::vector<std::string> diff;  // readable lines, empty when ok
};

ExpectResult check_expectations(const ExpectFile& exp, const std::vector<ObservedAlert>& got);

}  // namespace vigil::sensor
