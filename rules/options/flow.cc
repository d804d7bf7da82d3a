// Flow keywords: flow state and direction, flowbits, stream_size, app-layer-protocol, and the
// alert rate keywords threshold and detection_filter.

#include <algorithm>
#include <array>
#include <string>
#include <utility>

#include "rules/options/parse.h"
#include "rules/options/registry.h"
#include "rules/rule_options.h"

namespace vigil::rules::detail {

namespace {

Result<Threshold::Track> parse_track(std::string_view opt, std::string_view v) {
    if (auto t = detail::parse_track(v)) {
        return *t;
    }
    return reject(std::string(opt) + ": bad track " + quote(v));
}

// threshold / detection_filter: "key value" pairs separated by commas, in any order.
Result<Threshold> parse_threshold(std::string_view opt, std::string_view v, bool with_type) {
    Threshold t;
    if (!with_type) {
        t.type = Threshold::Type::DetectionFilter;
    }
    bool have_type = false;
    bool have_track = false;
    bool have_count = false;
    bool have_seconds = false;
    const std::string o(opt);
    for (std::string_view item : split_trim(v, ',')) {
        const auto kv = split_ws(item);
        if (kv.size() != 2) {
            return reject(o + ": expected '<key> <value>', got " + quote(item));
        }
        const std::string_view key = kv[0];
        const std::string_view val = kv[1];
        if (key == "type" && with_type) {
            if (have_type) {
                return reject(o + ": duplicate type");
            }
            have_type = true;
            if (val == "limit") {
                t.type = Threshold::Type::Limit;
            } else if (val == "threshold") {
                t.type = Threshold::Type::Threshold;
            } else if (val == "both") {
                t.type = Threshold::Type::Both;
            } else {
                return reject(o + ": bad type " + quote(val));
            }
        } else if (key == "track") {
            if (have_track) {
                return reject(o + ": duplicate track");
            }
            have_track = true;
            auto tr = parse_track(opt, val);
            if (!tr) {
                return tr.error();
            }
            t.track = *tr;
        } else if (key == "count") {
            if (have_count) {
                return reject(o + ": duplicate count");
            }
            have_count = true;
            auto n = uint_in(o + " count", val, 1, UINT32_MAX);
            if (!n) {
                return n.error();
            }
            t.count = static_cast<uint32_t>(*n);
        } else if (key == "seconds") {
            if (have_seconds) {
                return reject(o + ": duplicate seconds");
            }
            have_seconds = true;
            auto n = uint_in(o + " seconds", val, 1, UINT32_MAX);
            if (!n) {
                return n.error();
            }
            t.seconds = static_cast<uint32_t>(*n);
        } else {
            return reject(o + ": unknown key " + quote(key));
        }
    }
    if (with_type && !have_type) {
        return reject(o + ": missing type");
    }
    if (!have_track) {
        return reject(o + ": missing track");
    }
    if (!have_count) {
        return reject(o + ": missing count");
    }
    if (!have_seconds) {
        return reject(o + ": missing seconds");
    }
    return t;
}

Status parse_flow(std::string_view v, FlowOpt& f) {
    for (std::string_view item : split_trim(v, ',')) {
        const std::string k = lower(item);
        if (k == "established") {
            f.established = true;
        } else if (k == "not_established") {
            f.not_established = true;
        } else if (k == "stateless") {
            f.stateless = true;
        } else if (k == "to_server" || k == "from_client") {
            f.to_server = true;
        } else if (k == "to_client" || k == "from_server") {
            f.to_client = true;
        } else if (k == "only_stream") {
            f.only_stream = true;
        } else if (k == "no_stream") {
            f.no_stream = true;
        } else if (k == "only_frag") {
            f.only_frag = true;
        } else if (k == "no_frag") {
            f.no_frag = true;
        } else {
            return reject("flow: unknown option " + quote(item));
        }
    }
    const std::array<std::pair<bool, const char*>, 5> conflicts{{
        {f.established && f.not_established, "established conflicts with not_established"},
        {f.stateless && (f.established || f.not_established),
         "stateless conflicts with established/not_established"},
        {f.to_server && f.to_client, "to_server conflicts with to_client"},
        {f.only_stream && f.no_stream, "only_stream conflicts with no_stream"},
        {f.only_frag && f.no_frag, "only_frag conflicts with no_frag"},
    }};
    for (const auto& [bad, why] : conflicts) {
        if (bad) {
            return reject(std::string("flow: ") + why);
        }
    }
    return Ok{};
}

Result<FlowbitCmd> parse_flowbits(std::string_view v) {
    const auto parts = split_trim(v, ',');
    FlowbitCmd f;
    const std::string cmd = lower(parts[0]);
    if (cmd == "noalert") {
        if (parts.size() != 1) {
            return reject("flowbits: noalert takes no name");
        }
        f.op = FlowbitCmd::Op::NoAlert;
        return f;
    }
    if (cmd == "set") {
        f.op = FlowbitCmd::Op::Set;
    } else if (cmd == "isset") {
        f.op = FlowbitCmd::Op::IsSet;
    } else if (cmd == "isnotset") {
        f.op = FlowbitCmd::Op::IsNotSet;
    } else if (cmd == "unset") {
        f.op = FlowbitCmd::Op::Unset;
    } else if (cmd == "toggle") {
        f.op = FlowbitCmd::Op::Toggle;
    } else {
        return reject("flowbits: unknown command " + quote(parts[0]));
    }
    if (parts.size() != 2 || parts[1].empty()) {
        return reject("flowbits: expected <command>,<name>, got " + quote(trim(v)));
    }
    const std::string_view names = parts[1];
    const bool has_or = names.find('|') != std::string_view::npos;
    const bool has_and = names.find('&') != std::string_view::npos;
    if (has_or && has_and) {
        return reject("flowbits: can't mix '|' and '&' in " + quote(names));
    }
    if ((has_or || has_and) && f.op != FlowbitCmd::Op::IsSet && f.op != FlowbitCmd::Op::IsNotSet) {
        return reject("flowbits: '|' and '&' only work with isset/isnotset");
    }
    f.any_of = has_or;
    for (std::string_view n : split_trim(names, has_or ? '|' : '&')) {
        if (n.empty() || std::any_of(n.begin(), n.end(), is_space)) {
            return reject("flowbits: bad name " + quote(n));
        }
        f.names.emplace_back(n);
    }
    return f;
}

Status apply_flow(OptionParser& p, const KeywordUse& u) {
    Rule& r = p.rule();
    if (auto st = once(u.kw.name, r.flow.has_value()); !st) {
        return st;
    }
    FlowOpt f;
    if (auto st = parse_flow(u.v(), f); !st) {
        return st;
    }
    r.flow = f;
    return Ok{};
}

Status apply_flowbits(OptionParser& p, const KeywordUse& u) {
    auto f = parse_flowbits(u.v());
    if (!f) {
        return f.error();
    }
    if (f->op == FlowbitCmd::Op::NoAlert) {
        p.rule().noalert = true;
    }
    p.rule().flowbits.push_back(std::move(*f));
    return Ok{};
}

// stream_size:<server|client|both|either>,<op>,<n>   (op: < > = != <= >=)
Status apply_stream_size(OptionParser& p, const KeywordUse& u) {
    const std::string_view v = u.v();
    const auto parts = split_trim(v, ',');
    if (parts.size() != 3) {
        return reject("stream_size: expected <server|client|both|either>,<op>,<number>, got " +
                      quote(trim(v)));
    }
    StreamSize ss;
    const std::string side = lower(parts[0]);
    if (side == "server") {
        ss.side = StreamSize::Side::Server;
    } else if (side == "client") {
        ss.side = StreamSize::Side::Client;
    } else if (side == "both") {
        ss.side = StreamSize::Side::Both;
    } else if (side == "either") {
        ss.side = StreamSize::Side::Either;
    } else {
        return reject("stream_size: unknown side " + quote(parts[0]) +
                      " (expected server, client, both or either)");
    }
    static constexpr std::array<std::string_view, 6> kOps{"<", ">", "=", "!=", "<=", ">="};
    if (std::find(kOps.begin(), kOps.end(), parts[1]) == kOps.end()) {
        return reject("stream_size: bad operator " + quote(parts[1]) +
                      " (expected <, >, =, !=, <= or >=)");
    }
    auto m =
        parse_int_match("stream_size", std::string(parts[1]) + std::string(parts[2]), UINT32_MAX);
    if (!m) {
        return m.error();
    }
    ss.cmp = *m;
    p.rule().stream_size.push_back(ss);  // several are all required, as in Suricata
    return Ok{};
}

Status apply_app_layer_protocol(OptionParser& p, const KeywordUse& u) {
    if (p.seen().app_layer_protocol) {
        return reject("duplicate app-layer-protocol");
    }
    std::string_view name = trim(u.v());
    bool negated = false;
    if (!name.empty() && name[0] == '!') {
        negated = true;
        name = trim(name.substr(1));
    }
    const std::string n = lower(name);
    const auto proto = app_proto_by_name(n);
    if (!proto) {
        return reject("app-layer-protocol: protocol " + quote(name) +
                      " is not detected by this sensor (known: http, dns, tls, ssh, smtp, "
                      "ftp, smb, failed)");
    }
    p.set_app_layer_protocol(*proto, negated);
    return Ok{};
}

// threshold, detection_filter: one of them per rule.
Status apply_threshold(OptionParser& p, const KeywordUse& u) {
    Rule& r = p.rule();
    const bool threshold = u.kw.name == "threshold";
    if (r.threshold || r.detection_filter) {
        return reject("only one threshold or detection_filter per rule");
    }
    auto t = parse_threshold(u.kw.name, u.v(), threshold);
    if (!t) {
        return t.error();
    }
    (threshold ? r.threshold : r.detection_filter) = *t;
    return Ok{};
}

constexpr KeywordFamily kFlow = KeywordFamily::Flow;
constexpr ValueRule kRequired = ValueRule::Required;

constexpr std::array kKeywords{
    KeywordDef{"flow", kFlow, kRequired, apply_flow},
    KeywordDef{"flowbits", kFlow, kRequired, apply_flowbits},
    KeywordDef{"stream_size", kFlow, kRequired, apply_stream_size},
    KeywordDef{"app-layer-protocol", kFlow, kRequired, apply_app_layer_protocol},
    KeywordDef{"threshold", kFlow, kRequired, apply_threshold},
    KeywordDef{"detection_filter", kFlow, kRequired, apply_threshold},
};

}  // namespace

std::span<const KeywordDef> flow_keywords() {
    return kKeywords;
}

}  // namespace vigil::rules::detail
