// Flow keywords: flow state and direction, flowbits, flowint, xbits, hostbits, stream_size,
// stream-event, app-layer-protocol, and the alert rate keywords threshold and detection_filter.

#include <algorithm>
#include <array>
#include <string>
#include <utility>

#include "dataplane/stream.h"
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
    bool have_multiplier = false;
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
            } else if (val == "backoff") {
                t.type = Threshold::Type::Backoff;
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
        } else if (key == "count" || key == "seconds" || (key == "multiplier" && with_type)) {
            auto [have, dst] = key == "count"     ? std::pair{&have_count, &t.count}
                               : key == "seconds" ? std::pair{&have_seconds, &t.seconds}
                                                  : std::pair{&have_multiplier, &t.multiplier};
            if (*have) {
                return reject(o + ": duplicate " + std::string(key));
            }
            *have = true;
            auto n = uint_in(o + " " + std::string(key), val, 1, UINT32_MAX);
            if (!n) {
                return n.error();
            }
            *dst = static_cast<uint32_t>(*n);
        } else if (key == "unique_on" && !with_type) {
            if (t.unique_on != Threshold::UniqueOn::None) {
                return reject(o + ": duplicate unique_on");
            }
            if (val == "src_port") {
                t.unique_on = Threshold::UniqueOn::SrcPort;
            } else if (val == "dst_port") {
                t.unique_on = Threshold::UniqueOn::DstPort;
            } else {
                return reject(o + ": unique_on takes src_port or dst_port, got " + quote(val));
            }
        } else {
            return reject(o + ": unknown key " + quote(key));
        }
    }
    if (t.type == Threshold::Type::Backoff) {
        // Suricata: backoff counts per flow, with a multiplier and no time window.
        if (!have_multiplier) {
            return reject(o + ": type backoff needs a multiplier");
        }
        if (have_seconds) {
            return reject(o + ": type backoff takes no seconds");
        }
        if (have_track && t.track != Threshold::Track::ByFlow) {
            return reject(o + ": type backoff supports only track by_flow");
        }
        have_seconds = true;
    } else if (have_multiplier) {
        return reject(o + ": multiplier is only for type backoff");
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

// Suricata's stream event names (stream-event takes them without "stream."): the ones Vigil's
// stream engine raises, with their kStreamEv* bit, then the ones it never raises.
struct StreamEventName {
    std::string_view name;
    uint32_t bit;
};
constexpr std::array<StreamEventName, 4> kStreamEventsRaised{{
    {"pkt_retransmission", dataplane::kStreamEvRetransmission},
    {"reassembly_overlap_different_data", dataplane::kStreamEvOverlapDiff},
    {"reassembly_seq_gap", dataplane::kStreamEvGap},
    // Vigil's "outside the receive window" (any state; also a RST far from the stream).
    {"est_packet_out_of_window", dataplane::kStreamEvBadSeq},
}};
constexpr std::array<std::string_view, 63> kStreamEventsNotRaised{
    "3whs_ack_in_wrong_dir",
    "3whs_async_wrong_seq",
    "3whs_right_seq_wrong_ack_evasion",
    "3whs_synack_in_wrong_direction",
    "3whs_synack_resend_with_diff_ack",
    "3whs_synack_resend_with_different_ack",
    "3whs_synack_resend_with_diff_seq",
    "3whs_synack_toserver_on_syn_recv",
    "3whs_synack_with_wrong_ack",
    "3whs_synack_flood",
    "3whs_synack_tfo_data_ignored",
    "3whs_syn_resend_diff_seq_on_syn_recv",
    "3whs_syn_toclient_on_syn_recv",
    "3whs_wrong_seq_wrong_ack",
    "3whs_ack_data_inject",
    "4whs_synack_with_wrong_ack",
    "4whs_synack_with_wrong_syn",
    "4whs_wrong_seq",
    "4whs_invalid_ack",
    "closewait_ack_out_of_window",
    "closewait_fin_out_of_window",
    "closewait_pkt_before_last_ack",
    "closewait_invalid_ack",
    "closing_ack_wrong_seq",
    "closing_invalid_ack",
    "est_pkt_before_last_ack",
    "est_synack_resend",
    "est_synack_resend_with_diff_ack",
    "est_synack_resend_with_different_ack",
    "est_synack_resend_with_diff_seq",
    "est_synack_toserver",
    "est_syn_resend",
    "est_syn_resend_diff_seq",
    "est_syn_toclient",
    "est_invalid_ack",
    "fin_invalid_ack",
    "fin1_ack_wrong_seq",
    "fin1_fin_wrong_seq",
    "fin1_invalid_ack",
    "fin2_ack_wrong_seq",
    "fin2_fin_wrong_seq",
    "fin2_invalid_ack",
    "fin_but_no_session",
    "fin_out_of_window",
    "fin_syn",
    "lastack_ack_wrong_seq",
    "lastack_invalid_ack",
    "rst_but_no_session",
    "timewait_ack_wrong_seq",
    "timewait_invalid_ack",
    "shutdown_syn_resend",
    "pkt_invalid_timestamp",
    "pkt_invalid_ack",
    "pkt_broken_ack",
    "rst_invalid_ack",
    "pkt_spurious_retransmission",
    "pkt_bad_window_update",
    "suspected_rst_inject",
    "wrong_thread",
    "reassembly_segment_before_base_seq",
    "reassembly_no_segment",
    "reassembly_depth_reached",
    "reassembly_insert_memcap",
};

// stream-event:<name>: the packet's stream update raised that event. Several must all hold.
Status apply_stream_event(OptionParser& p, const KeywordUse& u) {
    const std::string_view name = trim(u.v());
    const std::string n = lower(name);
    if (n.starts_with("stream.")) {
        return reject("stream-event " + quote(name) +
                      ": write the name without 'stream.' (Suricata adds the prefix)");
    }
    for (const auto& e : kStreamEventsRaised) {
        if (e.name == n) {
            p.rule().stream_events |= e.bit;
            return Ok{};
        }
    }
    if (std::find(kStreamEventsNotRaised.begin(), kStreamEventsNotRaised.end(), n) !=
        kStreamEventsNotRaised.end()) {
        return reject("stream-event " + quote(name) + ": Vigil's stream engine never raises it");
    }
    return reject("stream-event " + quote(name) + ": unknown stream event");
}

// Variable names of flowint and xbits: a letter, then letters, digits, '_', '.' or '-'.
bool is_var_name(std::string_view s) {
    if (s.empty() || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) {
        return false;
    }
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '.' || c == '-';
    });
}

// flowint:<name>,<op>[,<value>|<var>]   (op: = + - == != < <= > >= isset notset isnotset)
Result<FlowintCmd> parse_flowint(std::string_view v) {
    using Op = FlowintCmd::Op;
    const auto parts = split_trim(v, ',');
    if (parts.size() < 2 || parts.size() > 3) {
        return reject("flowint: expected <name>,<operator>[,<value>], got " + quote(trim(v)));
    }
    FlowintCmd f;
    if (!is_var_name(parts[0])) {
        return reject("flowint: bad variable name " + quote(parts[0]));
    }
    f.name = std::string(parts[0]);
    struct OpName {
        std::string_view s;
        Op op;
    };
    static constexpr std::array<OpName, 12> kOps{{
        {"=", Op::Set},
        {"+", Op::Add},
        {"-", Op::Sub},
        {"==", Op::Eq},
        {"!=", Op::Ne},
        {"<", Op::Lt},
        {"<=", Op::Le},
        {">", Op::Gt},
        {">=", Op::Ge},
        {"isset", Op::IsSet},
        {"notset", Op::NotSet},
        {"isnotset", Op::NotSet},
    }};
    const std::string op = lower(parts[1]);
    const auto* it =
        std::find_if(kOps.begin(), kOps.end(), [&](const OpName& o) { return o.s == op; });
    if (it == kOps.end()) {
        return reject("flowint: unknown operator " + quote(parts[1]) +
                      " (expected =, +, -, ==, !=, <, <=, >, >=, isset, notset or isnotset)");
    }
    f.op = it->op;
    const bool unary = f.op == Op::IsSet || f.op == Op::NotSet;
    if (unary) {
        if (parts.size() == 3 && !parts[2].empty()) {
            return reject("flowint: " + std::string(parts[1]) + " takes no value, got " +
                          quote(parts[2]));
        }
        return f;
    }
    if (parts.size() != 3 || parts[2].empty()) {
        return reject("flowint: operator " + quote(parts[1]) + " needs a value");
    }
    const std::string_view val = parts[2];
    if (val[0] >= '0' && val[0] <= '9') {
        auto n = uint_in("flowint", val, 0, UINT32_MAX);
        if (!n) {
            return n.error();
        }
        f.value = static_cast<uint32_t>(*n);
    } else if (is_var_name(val)) {
        f.var = std::string(val);
    } else {
        return reject("flowint: " + quote(val) +
                      " is neither a number (0-4294967295) nor a flowint name");
    }
    return f;
}

Status apply_flowint(OptionParser& p, const KeywordUse& u) {
    auto f = parse_flowint(u.v());
    if (!f) {
        return f.error();
    }
    p.rule().flowints.push_back(std::move(*f));
    return Ok{};
}

// The command of xbits and hostbits (lower case), or nullopt.
std::optional<XbitCmd::Op> xbit_op(std::string_view cmd) {
    using Op = XbitCmd::Op;
    static constexpr std::pair<std::string_view, Op> kOps[] = {
        {"set", Op::Set},           {"unset", Op::Unset},   {"isset", Op::IsSet},
        {"isnotset", Op::IsNotSet}, {"toggle", Op::Toggle},
    };
    for (const auto& [name, op] : kOps) {
        if (cmd == name) {
            return op;
        }
    }
    return std::nullopt;
}

// xbits:<set|unset|isset|isnotset|toggle>,<name>,track <ip_src|ip_dst|ip_pair>
//       [,expire <seconds>]   (xbits:noalert as flowbits)
Result<XbitCmd> parse_xbits(std::string_view v, bool& noalert) {
    const auto parts = split_trim(v, ',');
    XbitCmd x;
    const std::string cmd = lower(parts[0]);
    if (cmd == "noalert" && parts.size() == 1) {
        noalert = true;
        return x;
    }
    if (auto op = xbit_op(cmd); op) {
        x.op = *op;
    } else {
        return reject("xbits: unknown command " + quote(parts[0]) +
                      " (expected set, unset, isset, isnotset or toggle)");
    }
    if (parts.size() < 3 || parts.size() > 4) {
        return reject(
            "xbits: expected <command>,<name>,track <ip_src|ip_dst|ip_pair>"
            "[,expire <seconds>], got " +
            quote(trim(v)));
    }
    if (!is_var_name(parts[1])) {
        return reject("xbits: bad name " + quote(parts[1]));
    }
    x.name = std::string(parts[1]);
    const auto track = split_ws(parts[2]);
    if (track.size() != 2 || lower(track[0]) != "track") {
        return reject("xbits: expected 'track <ip_src|ip_dst|ip_pair>', got " + quote(parts[2]));
    }
    const std::string t = lower(track[1]);
    if (t == "ip_src") {
        x.track = XbitCmd::Track::IpSrc;
    } else if (t == "ip_dst") {
        x.track = XbitCmd::Track::IpDst;
    } else if (t == "ip_pair") {
        x.track = XbitCmd::Track::IpPair;
    } else if (t == "tx") {
        return reject("xbits: track tx is not supported (Vigil keeps no per-transaction bits)");
    } else {
        return reject("xbits: unknown track " + quote(track[1]) +
                      " (expected ip_src, ip_dst or ip_pair)");
    }
    if (parts.size() == 4) {
        const auto exp = split_ws(parts[3]);
        if (exp.size() != 2 || lower(exp[0]) != "expire") {
            return reject("xbits: expected 'expire <seconds>', got " + quote(parts[3]));
        }
        auto n = uint_in("xbits expire", exp[1], 1, UINT32_MAX);
        if (!n) {
            return n.error();
        }
        x.expire = static_cast<uint32_t>(*n);
    }
    return x;
}

Status apply_xbits(OptionParser& p, const KeywordUse& u) {
    bool noalert = false;
    auto x = parse_xbits(u.v(), noalert);
    if (!x) {
        return x.error();
    }
    if (noalert) {
        p.rule().noalert = true;
        return Ok{};
    }
    p.rule().xbits.push_back(std::move(*x));
    return Ok{};
}

// hostbits:<set|unset|isset|isnotset|toggle>,<name>[,<src|dst>]   (hostbits:noalert)
// Suricata's host bits: xbits on ip_src (default) or ip_dst, same store, 300 s expiry.
Status apply_hostbits(OptionParser& p, const KeywordUse& u) {
    const auto parts = split_trim(u.v(), ',');
    const std::string cmd = lower(parts[0]);
    if (cmd == "noalert") {
        if (parts.size() != 1) {
            return reject("hostbits: noalert takes no name");
        }
        p.rule().noalert = true;
        return Ok{};
    }
    XbitCmd x;
    x.expire = 300;
    if (auto op = xbit_op(cmd); op) {
        x.op = *op;
    } else {
        return reject("hostbits: unknown command " + quote(parts[0]) +
                      " (expected set, unset, isset, isnotset, toggle or noalert)");
    }
    if (parts.size() < 2 || parts.size() > 3 || !is_var_name(parts[1])) {
        return reject("hostbits: expected <command>,<name>[,<src|dst>], got " + quote(trim(u.v())));
    }
    x.name = std::string(parts[1]);
    x.track = XbitCmd::Track::IpSrc;
    if (parts.size() == 3) {
        const std::string dir = lower(parts[2]);
        if (dir == "dst") {
            x.track = XbitCmd::Track::IpDst;
        } else if (dir == "both") {
            return reject("hostbits: direction 'both' is not implemented (nor in Suricata)");
        } else if (dir != "src") {
            return reject("hostbits: unknown direction " + quote(parts[2]) +
                          " (expected src or dst)");
        }
    }
    p.rule().xbits.push_back(std::move(x));
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
    KeywordDef{"flowint", kFlow, kRequired, apply_flowint},
    KeywordDef{"xbits", kFlow, kRequired, apply_xbits},
    KeywordDef{"hostbits", kFlow, kRequired, apply_hostbits},
    KeywordDef{"stream_size", kFlow, kRequired, apply_stream_size},
    KeywordDef{"stream-event", kFlow, kRequired, apply_stream_event},
    KeywordDef{"app-layer-protocol", kFlow, kRequired, apply_app_layer_protocol},
    KeywordDef{"threshold", kFlow, kRequired, apply_threshold},
    KeywordDef{"detection_filter", kFlow, kRequired, apply_threshold},
};

}  // namespace

std::span<const KeywordDef> flow_keywords() {
    return kKeywords;
}

}  // namespace vigil::rules::detail
