// Dataset keywords: dataset and datarep, which look the sticky buffer before them up in a named
// set (rules/dataset.h). The set is found or created, and its file loaded, when the rule is
// compiled; here only the value is checked.

#include <array>
#include <string>

#include "common/text.h"
#include "rules/options/parse.h"
#include "rules/options/registry.h"
#include "rules/rule_options.h"

namespace vigil::rules::detail {

namespace {

// Suricata's DATASET_NAME_MAX_LEN.
constexpr size_t kMaxNameLen = 63;

constexpr std::array<std::string_view, 6> kTypes{"string", "md5", "sha256", "ipv4", "ipv6", "ip"};

// Suricata's dataset / datarep value: comma-separated, the positional items first, then
// `key value` pairs.
struct KeyValue {
    std::string_view key;
    std::string_view value;  // empty for a bare word
};

std::vector<KeyValue> split_items(std::string_view v) {
    std::vector<KeyValue> out;
    for (std::string_view item : split_trim(v, ',')) {
        if (item.empty()) {
            continue;  // Suricata skips empty items ("a,,b")
        }
        const size_t sp = item.find_first_of(" \t");
        if (sp == std::string_view::npos) {
            out.push_back({item, {}});
        } else {
            out.push_back({item.substr(0, sp), trim(item.substr(sp + 1))});
        }
    }
    return out;
}

Status check_name(std::string_view kw, std::string_view name) {
    if (name.empty()) {
        return reject(std::string(kw) + ": missing set name");
    }
    if (name.size() > kMaxNameLen) {
        return reject(std::string(kw) + ": set name " + quote(name) + " is longer than " +
                      std::to_string(kMaxNameLen) + " characters");
    }
    return Ok{};
}

// A size value (memcap 10mb, hashsize 4096): a number with an optional kb/mb/gb suffix.
Result<uint64_t> size_value(std::string_view kw, std::string_view key, std::string_view v,
                            uint64_t max) {
    std::string_view digits = v;
    uint64_t mult = 1;
    const std::string lv = lower(v);
    for (const auto& [suffix, m] : {std::pair<std::string_view, uint64_t>{"kb", 1ULL << 10},
                                    {"mb", 1ULL << 20},
                                    {"gb", 1ULL << 30}}) {
        if (std::string_view(lv).ends_with(suffix)) {
            digits = trim(v.substr(0, v.size() - 2));
            mult = m;
            break;
        }
    }
    const auto n = parse_u64(digits);
    if (!n || *n == 0 || *n > max / mult) {
        return bad_value(std::string(kw) + " " + std::string(key), v,
                         "a size (a positive number with an optional kb, mb or gb)");
    }
    return *n * mult;
}

// The options after the positional items, shared by dataset and datarep.
struct SetOptions {
    std::string type;
    std::string load;
    std::string save;
    std::string state;
    uint64_t memcap = 0;
    uint32_t hashsize = 0;
};

Status apply_set_option(std::string_view kw, const KeyValue& kv, SetOptions& o, bool allow_save) {
    const std::string k(kw);
    if (kv.value.empty()) {
        return reject(k + ": option " + quote(kv.key) + " needs a value (" + std::string(kv.key) +
                      " <value>)");
    }
    if (kv.key == "type") {
        for (std::string_view t : kTypes) {
            if (kv.value == t) {
                o.type = std::string(t == "ipv6" ? "ip" : t);
                return Ok{};
            }
        }
        return reject(k + ": unknown type " + quote(kv.value) +
                      " (expected string, md5, sha256, ipv4, ipv6 or ip)");
    }
    if (kv.key == "load" || (allow_save && (kv.key == "save" || kv.key == "state"))) {
        std::string& dst = kv.key == "save" ? o.save : kv.key == "state" ? o.state : o.load;
        if (!dst.empty()) {
            return reject(k + ": '" + std::string(kv.key) + "' can only appear once");
        }
        dst = std::string(kv.value);
        return Ok{};
    }
    if (kv.key == "memcap") {
        auto n = size_value(kw, kv.key, kv.value, UINT64_MAX);
        if (!n) {
            return n.error();
        }
        o.memcap = *n;
        return Ok{};
    }
    if (kv.key == "hashsize") {
        auto n = size_value(kw, kv.key, kv.value, UINT32_MAX);
        if (!n) {
            return n.error();
        }
        o.hashsize = static_cast<uint32_t>(*n);
        return Ok{};
    }
    if (kv.key == "format") {
        if (kv.value == "csv") {
            return Ok{};
        }
        if (kv.value == "json" || kv.value == "ndjson" || kv.value == "jsonline") {
            return reject(k + ": format " + std::string(kv.value) +
                          " (Suricata 8's datajson: JSON sets with alert enrichment) is not "
                          "supported; Vigil loads csv sets only");
        }
        return reject(k + ": unknown format " + quote(kv.value) + " (expected csv)");
    }
    if (kv.key == "context_key" || kv.key == "enrichment_key" || kv.key == "value_key" ||
        kv.key == "array_key" || kv.key == "remove_key") {
        return reject(k + ": " + std::string(kv.key) +
                      " (Suricata 8's datajson alert enrichment) is not supported");
    }
    return reject(k + ": unknown option " + quote(kv.key));
}

// The sticky buffer the keyword applies to.
Result<int> sticky_list(OptionParser& p, std::string_view kw) {
    if (p.current_buffer() == nullptr) {
        return reject(std::string(kw) +
                      " needs a sticky buffer before it (e.g. http.uri, dns.query, ip.src)");
    }
    return p.current_list();
}

// dataset:<isset|isnotset|set|unset>,<name>[, type <t>, load <f>, save <f>, state <f>,
//         memcap <size>, hashsize <n>, format csv]
Status apply_dataset(OptionParser& p, const KeywordUse& u) {
    auto list = sticky_list(p, "dataset");
    if (!list) {
        return list.error();
    }
    const auto items = split_items(u.v());
    if (items.size() < 2 || !items[0].value.empty() || !items[1].value.empty()) {
        return reject("dataset: expected <isset|isnotset|set|unset>,<name>[, options], got " +
                      quote(u.v()));
    }
    DatasetMatch d;
    const std::string_view cmd = items[0].key;
    if (cmd == "isset") {
        d.cmd = DatasetMatch::Cmd::IsSet;
    } else if (cmd == "isnotset") {
        d.cmd = DatasetMatch::Cmd::IsNotSet;
    } else if (cmd == "set") {
        d.cmd = DatasetMatch::Cmd::Set;
    } else if (cmd == "unset") {
        d.cmd = DatasetMatch::Cmd::Unset;
    } else {
        return reject("dataset: unknown command " + quote(cmd) +
                      " (expected isset, isnotset, set or unset)");
    }
    if (auto st = check_name("dataset", items[1].key); !st) {
        return st;
    }
    d.name = std::string(items[1].key);
    SetOptions o;
    for (size_t i = 2; i < items.size(); ++i) {
        if (auto st = apply_set_option("dataset", items[i], o, true); !st) {
            return st;
        }
    }
    if (!o.state.empty() && (!o.load.empty() || !o.save.empty())) {
        return reject("dataset: 'state' can not be mixed with 'load' and 'save'");
    }
    d.type = std::move(o.type);
    d.state = !o.state.empty();
    d.load = d.state ? o.state : std::move(o.load);
    d.save = d.state ? std::move(o.state) : std::move(o.save);
    d.memcap = o.memcap;
    d.hashsize = o.hashsize;
    p.push_op(*list, PayloadOp{std::move(d)});
    return Ok{};
}

// datarep:<name>,<op>,<value>[, load <f>, type <t>, memcap <size>, hashsize <n>]
Status apply_datarep(OptionParser& p, const KeywordUse& u) {
    auto list = sticky_list(p, "datarep");
    if (!list) {
        return list.error();
    }
    const auto items = split_items(u.v());
    if (items.size() < 3 || !items[0].value.empty() || !items[1].value.empty() ||
        !items[2].value.empty()) {
        return reject("datarep: expected <name>,<op>,<value>[, options], got " + quote(u.v()));
    }
    DatarepMatch d;
    if (auto st = check_name("datarep", items[0].key); !st) {
        return st;
    }
    d.name = std::string(items[0].key);
    const std::string_view op = items[1].key;
    if (op == ">") {
        d.op = DatarepMatch::Op::Gt;
    } else if (op == "<") {
        d.op = DatarepMatch::Op::Lt;
    } else if (op == ">=") {
        d.op = DatarepMatch::Op::Ge;
    } else if (op == "<=") {
        d.op = DatarepMatch::Op::Le;
    } else if (op == "==") {
        d.op = DatarepMatch::Op::Eq;
    } else {
        return reject("datarep: unknown operator " + quote(op) + " (expected >, <, >=, <= or ==)");
    }
    auto v = uint_in("datarep", items[2].key, 0, 65535);
    if (!v) {
        return v.error();
    }
    d.value = static_cast<uint16_t>(*v);
    SetOptions o;
    for (size_t i = 3; i < items.size(); ++i) {
        if (auto st = apply_set_option("datarep", items[i], o, false); !st) {
            return st;
        }
    }
    if (!o.load.empty() && o.type.empty()) {
        return reject("datarep: 'load' needs 'type' as well");
    }
    d.type = std::move(o.type);
    d.load = std::move(o.load);
    d.memcap = o.memcap;
    d.hashsize = o.hashsize;
    p.push_op(*list, PayloadOp{std::move(d)});
    return Ok{};
}

constexpr std::array kKeywords{
    KeywordDef{"dataset", KeywordFamily::Dataset, ValueRule::Required, apply_dataset},
    KeywordDef{"datarep", KeywordFamily::Dataset, ValueRule::Required, apply_datarep},
};

}  // namespace

std::span<const KeywordDef> dataset_keywords() {
    return kKeywords;
}

}  // namespace vigil::rules::detail
