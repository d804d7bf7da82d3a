// Meta keywords: what an alert says about the rule (msg, sid, rev, gid, classtype, priority,
// metadata, reference, target) and noalert.

#include <array>
#include <string>

#include "rules/options/parse.h"
#include "rules/options/registry.h"
#include "rules/rule_options.h"

namespace vigil::rules::detail {

namespace {

Status apply_msg(OptionParser& p, const KeywordUse& u) {
    if (p.seen().msg) {
        return reject("duplicate msg");
    }
    p.seen().msg = true;
    p.rule().msg = unquote(u.v());
    return Ok{};
}

// sid, rev, gid: once each; sid starts at 1.
Status apply_id(OptionParser& p, const KeywordUse& u) {
    const std::string name(u.kw.name);
    OptionParser::Seen& s = p.seen();
    Rule& r = p.rule();
    bool& seen = name == "sid" ? s.sid : name == "rev" ? s.rev : s.gid;
    if (seen) {
        return reject("duplicate " + name);
    }
    seen = true;
    auto n = uint_in(name, unquote(u.v()), name == "sid" ? 1 : 0, UINT32_MAX);
    if (!n) {
        return n.error();
    }
    uint32_t& dst = name == "sid" ? r.sid : name == "rev" ? r.rev : r.gid;
    dst = static_cast<uint32_t>(*n);
    return Ok{};
}

Status apply_classtype(OptionParser& p, const KeywordUse& u) {
    if (p.seen().classtype) {
        return reject("duplicate classtype");
    }
    p.seen().classtype = true;
    const std::string ct = lower(trim(u.v()));
    const auto it = p.vars().classifications.find(ct);
    if (it == p.vars().classifications.end()) {
        return reject("unknown classtype " + quote(trim(u.v())));
    }
    Rule& r = p.rule();
    r.classtype = ct;
    r.category = it->second.description;
    if (!p.seen().priority) {
        r.priority = it->second.priority;
    }
    return Ok{};
}

Status apply_priority(OptionParser& p, const KeywordUse& u) {
    if (p.seen().priority) {
        return reject("duplicate priority");
    }
    auto n = uint_in("priority", u.v(), 1, 255);
    if (!n) {
        return n.error();
    }
    p.seen().priority = true;
    p.rule().priority = static_cast<uint32_t>(*n);
    return Ok{};
}

Status apply_metadata(OptionParser& p, const KeywordUse& u) {
    for (std::string_view m : split_trim(u.v(), ',')) {
        if (!m.empty()) {
            p.rule().metadata.emplace_back(m);
        }
    }
    return Ok{};
}

Status apply_reference(OptionParser& p, const KeywordUse& u) {
    const std::string_view v = u.v();
    const size_t comma = v.find(',');
    if (comma == std::string_view::npos) {
        return reject("reference: expected <type>,<value>, got " + quote(v));
    }
    Reference r{std::string(trim(v.substr(0, comma))), unquote(v.substr(comma + 1))};
    if (r.type.empty() || r.value.empty()) {
        return reject("reference: expected <type>,<value>, got " + quote(v));
    }
    p.rule().references.push_back(std::move(r));
    return Ok{};
}

Status apply_target(OptionParser& p, const KeywordUse& u) {
    const std::string t = lower(trim(u.v()));
    if (t != "src_ip" && t != "dest_ip") {
        return reject("target: expected src_ip or dest_ip, got " + quote(u.v()));
    }
    p.rule().target = t;
    return Ok{};
}

Status apply_noalert(OptionParser& p, const KeywordUse& /*u*/) {
    p.rule().noalert = true;
    return Ok{};
}

Status apply_alert(OptionParser& p, const KeywordUse& /*u*/) {
    p.rule().alert = true;
    return Ok{};
}

// tag:<session|host>[, <count>, <packets|seconds|bytes>[, <src|dst>]] (Suricata's defaults:
// 256 packets; host: dst). A packet count above 256 is held to 256, as Suricata does.
Status apply_tag(OptionParser& p, const KeywordUse& u) {
    if (auto st = once("tag", p.rule().tag.has_value()); !st) {
        return st;
    }
    std::vector<std::string_view> parts;
    std::string_view rest = u.v();
    while (true) {
        const size_t comma = rest.find(',');
        parts.push_back(trim(rest.substr(0, comma)));
        if (comma == std::string_view::npos) {
            break;
        }
        rest = rest.substr(comma + 1);
    }
    Tag t;
    const std::string type = lower(parts[0]);
    if (type == "session") {
        t.type = Tag::Type::Session;
    } else if (type == "host") {
        t.type = Tag::Type::Host;
    } else {
        return reject("tag: type " + quote(parts[0]) + " is not session or host");
    }
    if (parts.size() == 2 || parts.size() > 4) {
        return reject(
            "tag: expected <session|host>[, <count>, <packets|seconds|bytes>[, "
            "<src|dst>]], got " +
            quote(u.v()));
    }
    if (parts.size() >= 3) {
        auto n = uint_in("tag", parts[1], 1, UINT32_MAX);
        if (!n) {
            return n.error();
        }
        t.count = static_cast<uint32_t>(*n);
        const std::string metric = lower(parts[2]);
        if (metric == "packets") {
            t.metric = Tag::Metric::Packets;
            t.count = std::min(t.count, Tag::kMaxPackets);
        } else if (metric == "seconds") {
            t.metric = Tag::Metric::Seconds;
        } else if (metric == "bytes") {
            t.metric = Tag::Metric::Bytes;
        } else {
            return reject("tag: metric " + quote(parts[2]) + " is not packets, seconds or bytes");
        }
    }
    if (parts.size() == 4) {
        const std::string dir = lower(parts[3]);
        if (dir != "src" && dir != "dst") {
            return reject("tag: direction " + quote(parts[3]) + " is not src or dst");
        }
        t.dir = dir == "src" ? Tag::Dir::Src : Tag::Dir::Dst;
    }
    p.rule().tag = t;
    return Ok{};
}

constexpr KeywordFamily kMeta = KeywordFamily::Meta;
constexpr ValueRule kNone = ValueRule::None;
constexpr ValueRule kRequired = ValueRule::Required;

constexpr std::array kKeywords{
    KeywordDef{"msg", kMeta, kRequired, apply_msg},
    KeywordDef{"sid", kMeta, kRequired, apply_id},
    KeywordDef{"rev", kMeta, kRequired, apply_id},
    KeywordDef{"gid", kMeta, kRequired, apply_id},
    KeywordDef{"classtype", kMeta, kRequired, apply_classtype},
    KeywordDef{"priority", kMeta, kRequired, apply_priority},
    KeywordDef{"metadata", kMeta, kRequired, apply_metadata},
    KeywordDef{"reference", kMeta, kRequired, apply_reference},
    KeywordDef{"target", kMeta, kRequired, apply_target},
    KeywordDef{"noalert", kMeta, kNone, apply_noalert},
    KeywordDef{"alert", kMeta, kNone, apply_alert},
    KeywordDef{"tag", kMeta, kRequired, apply_tag},
};

}  // namespace

std::span<const KeywordDef> meta_keywords() {
    return kKeywords;
}

}  // namespace vigil::rules::detail
