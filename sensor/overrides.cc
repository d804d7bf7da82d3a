#include "sensor/overrides.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>

#include "dataplane/app/parser.h"

namespace vigil::sensor {

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

Error bad(std::string_view key, std::string_view value, std::string_view what) {
    return make_error(ErrorCode::BadInput, "--set " + std::string(key) + "=" + std::string(value) +
                                               ": " + std::string(what));
}

// Suricata's ConfValIsTrue / ConfValIsFalse.
Result<bool> to_bool(std::string_view key, std::string_view value) {
    const std::string v = lower(value);
    if (v == "1" || v == "yes" || v == "true" || v == "on") {
        return true;
    }
    if (v == "0" || v == "no" || v == "false" || v == "off") {
        return false;
    }
    return bad(key, value, "expected true or false (yes/no, on/off, 1/0)");
}

// A size: bytes, or a number with kb / mb / gb (1024 multiples, as suricata.yaml).
Result<uint32_t> to_size(std::string_view key, std::string_view value) {
    const std::string v = lower(value);
    uint64_t n = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    const std::string_view unit(end, static_cast<size_t>(v.data() + v.size() - end));
    uint64_t mult = 0;
    if (unit.empty() || unit == "b") {
        mult = 1;
    } else if (unit == "kb" || unit == "k" || unit == "kib") {
        mult = 1ULL << 10;
    } else if (unit == "mb" || unit == "m" || unit == "mib") {
        mult = 1ULL << 20;
    } else if (unit == "gb" || unit == "g" || unit == "gib") {
        mult = 1ULL << 30;
    }
    if (ec != std::errc() || end == v.data() || mult == 0) {
        return bad(key, value, "expected a size: bytes, or a number with kb, mb or gb");
    }
    if (n > UINT32_MAX / mult) {
        return bad(key, value, "too large (at most 4gb)");
    }
    return static_cast<uint32_t>(n * mult);
}

Result<uint32_t> to_uint(std::string_view key, std::string_view value, uint32_t lo, uint32_t hi) {
    uint32_t n = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc() || end != value.data() + value.size() || n < lo || n > hi) {
        return bad(
            key, value,
            "expected a whole number from " + std::to_string(lo) + " to " + std::to_string(hi));
    }
    return n;
}

// Suricata's application-layer protocol names (app-layer.protocols.<name>), beyond the ones
// Vigil's protocol table has. Setting one of these changes nothing: Vigil has no parser for
// it (and rejects rules that need one), which the note says.
constexpr std::string_view kSuricataProtocols[] = {
    "http2", "dcerpc", "nfs",    "ntp",       "tftp", "ike",  "ikev2",          "krb5",
    "dhcp",  "snmp",   "sip",    "rfb",       "mqtt", "rdp",  "modbus",         "enip",
    "dnp3",  "pgsql",  "telnet", "websocket", "ldap", "quic", "bittorrent-dht", "imap",
    "pop3",  "msn",    "irc",    "http1",     "ssl",  "mdns", "doh2",           "template",
};

// app-layer.protocols.<name>.enabled
Status set_protocol(std::string_view key, std::string_view name, std::string_view value,
                    SensorConfig& cfg, std::vector<std::string>& notes) {
    using dataplane::app::ProtoMode;
    ProtoMode mode = ProtoMode::On;
    if (lower(value) == "detection-only") {
        mode = ProtoMode::DetectionOnly;
    } else {
        auto b = to_bool(key, value);
        if (!b) {
            return bad(key, value, "expected yes, no or detection-only");
        }
        mode = *b ? ProtoMode::On : ProtoMode::Off;
    }
    const std::string n = lower(name) == "ssl"     ? "tls"
                          : lower(name) == "http1" ? "http"
                                                   : lower(name);
    for (const dataplane::app::AppProtoDef* d : dataplane::app::app_protocols()) {
        if (d->name != n) {
            continue;
        }
        if (mode == ProtoMode::On && d->make_tcp == nullptr && d->make_udp == nullptr) {
            notes.push_back("--set " + std::string(key) + ": Vigil identifies " + n +
                            " flows but has no " + n + " parser (no buffers, no EVE object)");
        }
        cfg.pipeline.app.proto_mode[static_cast<size_t>(d->proto)] = mode;
        return Ok{};
    }
    if (std::find(std::begin(kSuricataProtocols), std::end(kSuricataProtocols), n) ==
        std::end(kSuricataProtocols)) {
        return bad(key, value, "unknown application-layer protocol '" + std::string(name) + "'");
    }
    notes.push_back("--set " + std::string(key) + ": no effect, Vigil has no " + n +
                    " parser (rules that need one are rejected at load)");
    return Ok{};
}

struct Setting {
    std::string_view key;
    std::string_view help;
    Status (*apply)(std::string_view key, std::string_view value, SensorConfig& cfg,
                    std::vector<std::string>& notes);
};

constexpr std::string_view kLibhtp = "app-layer.protocols.http.libhtp.default-config.";

const Setting kSettings[] = {
    {"simulate-ips", "true: IPS verdicts in replay, as --ips (drop/reject rules block)",
     [](std::string_view k, std::string_view v, SensorConfig& c, std::vector<std::string>&) {
         auto b = to_bool(k, v);
         if (!b) {
             return Status(b.error());
         }
         c.ips_enabled = *b;
         return Status(Ok{});
     }},
    {"stream.midstream", "pick up TCP sessions whose handshake was not seen (stream.midstream)",
     [](std::string_view k, std::string_view v, SensorConfig& c, std::vector<std::string>&) {
         auto b = to_bool(k, v);
         if (!b) {
             return Status(b.error());
         }
         c.pipeline.stream.midstream = *b;
         return Status(Ok{});
     }},
    {"stream.inline",
     "accepted: Vigil inspects stream data as it arrives in order (Suricata's inline mode)",
     [](std::string_view k, std::string_view v, SensorConfig&, std::vector<std::string>& n) {
         auto b = to_bool(k, v);
         if (!b) {
             return Status(b.error());
         }
         if (!*b) {
             n.push_back("--set stream.inline=" + std::string(v) +
                         ": Vigil has no ACK-based (IDS) reassembly; stream data is inspected "
                         "as it arrives in order, as in Suricata's inline mode");
         }
         return Status(Ok{});
     }},
    {"stream.reassembly.depth", "bytes per direction inspected, 0 = unlimited (stream.depth)",
     [](std::string_view k, std::string_view v, SensorConfig& c, std::vector<std::string>&) {
         auto n = to_size(k, v);
         if (!n) {
             return Status(n.error());
         }
         c.pipeline.stream.depth = *n;
         return Status(Ok{});
     }},
    {"packet-alert-max", "alerts written per packet at most, 1-65535 (default 15)",
     [](std::string_view k, std::string_view v, SensorConfig& c, std::vector<std::string>&) {
         auto n = to_uint(k, v, 1, 65535);
         if (!n) {
             return Status(n.error());
         }
         c.packet_alert_max = *n;
         return Status(Ok{});
     }},
    {"action-order", "rule evaluation order by action: a comma list of pass, drop, reject, alert",
     [](std::string_view k, std::string_view v, SensorConfig& c, std::vector<std::string>&) {
         std::vector<std::string> order;
         std::string_view rest = v;
         while (!rest.empty()) {
             const size_t comma = rest.find(',');
             std::string item = lower(rest.substr(0, comma));
             item.erase(0, item.find_first_not_of(" []'\""));
             item.erase(item.find_last_not_of(" []'\"") + 1);
             order.push_back(item);
             rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
         }
         std::vector<std::string> sorted = order;
         std::sort(sorted.begin(), sorted.end());
         if (sorted != std::vector<std::string>{"alert", "drop", "pass", "reject"}) {
             return Status(bad(k, v, "expected each of pass, drop, reject and alert once"));
         }
         c.action_order = order;
         return Status(Ok{});
     }},
    {"threshold-file", "a threshold.config replacing the one the vars name",
     [](std::string_view k, std::string_view v, SensorConfig& c, std::vector<std::string>&) {
         if (v.empty()) {
             return Status(bad(k, v, "expected a file"));
         }
         c.threshold_file = std::filesystem::absolute(std::string(v)).string();
         return Status(Ok{});
     }},
    {"datasets.enabled", "dataset and datarep rules load (yes, the default) or are rejected (no)",
     [](std::string_view k, std::string_view v, SensorConfig& c, std::vector<std::string>&) {
         auto b = to_bool(k, v);
         if (!b) {
             return Status(b.error());
         }
         c.datasets.enabled = *b;
         return Status(Ok{});
     }},
    {"datasets.defaults.memcap", "memory of a dataset without its own memcap (default 16mb)",
     [](std::string_view k, std::string_view v, SensorConfig& c, std::vector<std::string>&) {
         auto n = to_size(k, v);
         if (!n || *n == 0) {
             return Status(n ? bad(k, v, "must be above 0") : n.error());
         }
         c.datasets.default_memcap = *n;
         return Status(Ok{});
     }},
    {"datasets.defaults.hashsize", "hash rows of a dataset without its own hashsize (4096)",
     [](std::string_view k, std::string_view v, SensorConfig& c, std::vector<std::string>&) {
         auto n = to_uint(k, v, 1, UINT32_MAX);
         if (!n) {
             return Status(n.error());
         }
         c.datasets.default_hashsize = *n;
         return Status(Ok{});
     }},
    {"datasets.rules.allow-write", "rules may save datasets (save, state; default yes)",
     [](std::string_view k, std::string_view v, SensorConfig& c, std::vector<std::string>&) {
         auto b = to_bool(k, v);
         if (!b) {
             return Status(b.error());
         }
         c.datasets.allow_write = *b;
         return Status(Ok{});
     }},
    {"datasets.rules.allow-absolute-filenames",
     "save and state files may be absolute or leave the data directory (default no)",
     [](std::string_view k, std::string_view v, SensorConfig& c, std::vector<std::string>&) {
         auto b = to_bool(k, v);
         if (!b) {
             return Status(b.error());
         }
         c.datasets.allow_absolute = *b;
         return Status(Ok{});
     }},
    {"default-data-dir", "the data directory: where relative dataset save / state files go",
     [](std::string_view k, std::string_view v, SensorConfig& c, std::vector<std::string>&) {
         if (v.empty()) {
             return Status(bad(k, v, "expected a directory"));
         }
         c.datasets.data_dir = std::filesystem::absolute(std::string(v)).string();
         return Status(Ok{});
     }},
    {"app-layer.protocols.http.libhtp.default-config.request-body-limit",
     "bytes of a request body kept for inspection (app-layer.http.request-body-limit)",
     [](std::string_view k, std::string_view v, SensorConfig& c, std::vector<std::string>&) {
         auto n = to_size(k, v);
         if (!n) {
             return Status(n.error());
         }
         c.pipeline.app.http_request_body_limit = *n;
         return Status(Ok{});
     }},
    {"app-layer.protocols.http.libhtp.default-config.response-body-limit",
     "bytes of a response body kept for inspection (app-layer.http.response-body-limit)",
     [](std::string_view k, std::string_view v, SensorConfig& c, std::vector<std::string>&) {
         auto n = to_size(k, v);
         if (!n) {
             return Status(n.error());
         }
         c.pipeline.app.http_response_body_limit = *n;
         return Status(Ok{});
     }},
    {"exception-policy",
     "ignore only: Vigil goes on inspecting after an internal limit or error (memcaps, parse "
     "errors count and are logged)",
     [](std::string_view k, std::string_view v, SensorConfig&, std::vector<std::string>&) {
         if (lower(v) != "ignore") {
             return Status(bad(k, v,
                               "Vigil supports only 'ignore' (it never drops or bypasses a "
                               "flow on an internal exception)"));
         }
         return Status(Ok{});
     }},
    {"stream.midstream-policy", "ignore only: a midstream pickup is inspected like any session",
     [](std::string_view k, std::string_view v, SensorConfig&, std::vector<std::string>&) {
         if (lower(v) != "ignore") {
             return Status(bad(k, v, "Vigil supports only 'ignore'"));
         }
         return Status(Ok{});
     }},
    {"stream.checksum-validation",
     "no only: Vigil does not validate IP/TCP/UDP checksums "
     "(as Suricata with -k none)",
     [](std::string_view k, std::string_view v, SensorConfig&, std::vector<std::string>&) {
         auto b = to_bool(k, v);
         if (!b) {
             return Status(b.error());
         }
         if (*b) {
             return Status(bad(k, v,
                               "Vigil does not validate checksums: packets with a bad "
                               "checksum are inspected like any other"));
         }
         return Status(Ok{});
     }},
    {"detect.guess-applayer-tx",
     "accepted, no effect on detection: it picks which transaction's metadata the alert of a "
     "packet rule logs; Vigil logs a transaction only with alerts of transaction rules",
     [](std::string_view k, std::string_view v, SensorConfig&, std::vector<std::string>& n) {
         auto b = to_bool(k, v);
         if (!b) {
             return Status(b.error());
         }
         if (*b) {
             n.push_back(
                 "--set detect.guess-applayer-tx: no effect on which alerts fire; alerts "
                 "of packet rules carry no transaction object");
         }
         return Status(Ok{});
     }},
    {"stream.async-oneside", "false only (Suricata's default)",
     [](std::string_view k, std::string_view v, SensorConfig&, std::vector<std::string>&) {
         auto b = to_bool(k, v);
         if (!b) {
             return Status(b.error());
         }
         if (*b) {
             return Status(bad(k, v, "Vigil has no asynchronous one-sided stream mode"));
         }
         return Status(Ok{});
     }},
    {"vlan.use-for-tracking",
     "true (default) or false: whether the outer VLAN id is part of the flow key",
     [](std::string_view k, std::string_view v, SensorConfig& c, std::vector<std::string>&) {
         auto b = to_bool(k, v);
         if (!b) {
             return Status(b.error());
         }
         c.pipeline.flows.vlan_tracking = *b;
         return Status(Ok{});
     }},
    {"flow.hash-size", "accepted, no effect on detection (flow.capacity sizes Vigil's table)",
     [](std::string_view k, std::string_view v, SensorConfig&, std::vector<std::string>& n) {
         if (auto x = to_uint(k, v, 1, UINT32_MAX); !x) {
             return Status(x.error());
         }
         n.push_back(
             "--set flow.hash-size: no effect, Vigil's flow table is sized by "
             "flow.capacity");
         return Status(Ok{});
     }},
    {"app-layer.protocols.X.detection-ports.dp",
     "accepted, no effect: Vigil detects protocols by content on any port", nullptr},
    {"app-layer.protocols.X.enabled",
     "yes, no or detection-only, for X one of Vigil's protocols (http, tls, dns, ssh, smtp, ftp, "
     "smb); other Suricata protocols are accepted with no effect",
     nullptr},
};

// The inspect windows decide when Suricata looks at a partial body; Vigil inspects a body
// once, whole (up to its limit), when it is complete: what matches at the end is the same.
constexpr std::string_view kBodyWindows[] = {
    "request-body-minimal-inspect-size",
    "request-body-inspect-window",
    "response-body-minimal-inspect-size",
    "response-body-inspect-window",
};

}  // namespace

std::string override_keys_help() {
    std::string out;
    for (const Setting& s : kSettings) {
        out += "  " + std::string(s.key) + ": " + std::string(s.help) + "\n";
    }
    out += "  " + std::string(kLibhtp) +
           "{request,response}-body-{minimal-inspect-size,inspect-window}: accepted, no effect "
           "(bodies are inspected whole once complete)\n";
    return out;
}

Status apply_overrides(const std::vector<std::string>& sets, SensorConfig& cfg,
                       std::vector<std::string>& notes) {
    for (const std::string& s : sets) {
        const size_t eq = s.find('=');
        if (eq == std::string::npos || eq == 0) {
            return make_error(ErrorCode::BadInput, "--set " + s +
                                                       ": expected key=value (for example "
                                                       "--set stream.midstream=true)");
        }
        const std::string_view key = std::string_view(s).substr(0, eq);
        const std::string_view value = std::string_view(s).substr(eq + 1);
        if (key.starts_with("app-layer.protocols.") && key.ends_with(".enabled") &&
            std::count(key.begin(), key.end(), '.') == 3) {
            const std::string_view name =
                key.substr(20, key.size() - 20 - std::string_view(".enabled").size());
            if (auto st = set_protocol(key, name, value, cfg, notes); !st) {
                return st;
            }
            continue;
        }
        if (key.starts_with("app-layer.protocols.") &&
            (key.ends_with(".detection-ports.dp") || key.ends_with(".detection-ports.sp"))) {
            notes.push_back("--set " + std::string(key) +
                            ": no effect, Vigil detects protocols by content on any port");
            continue;
        }
        if (key.starts_with(kLibhtp) &&
            std::find(std::begin(kBodyWindows), std::end(kBodyWindows),
                      key.substr(kLibhtp.size())) != std::end(kBodyWindows)) {
            if (auto n = to_size(key, value); !n) {
                return n.error();
            }
            notes.push_back("--set " + std::string(key) +
                            ": no effect, Vigil inspects an HTTP body whole (up to its limit) "
                            "once it is complete");
            continue;
        }
        const Setting* found = nullptr;
        for (const Setting& st : kSettings) {
            if (st.key == key && st.apply != nullptr) {
                found = &st;
            }
        }
        if (found == nullptr) {
            return make_error(ErrorCode::BadInput,
                              "--set " + std::string(key) +
                                  ": unknown or unsupported setting; --set takes:\n" +
                                  override_keys_help());
        }
        if (auto st = found->apply(key, value, cfg, notes); !st) {
            return st;
        }
    }
    return Ok{};
}

}  // namespace vigil::sensor
