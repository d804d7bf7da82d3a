// The keyword table: the family files' rows, indexed once by lower-case name, and the
// classifier for keywords Vigil does not implement (derived from the table, so the list of
// supported names cannot drift from what the parser applies).

#include "rules/options/registry.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_map>
#include <vector>

#include "rules/options/parse.h"
#include "rules/parse_util.h"

namespace vigil::rules::detail {

namespace {

struct Registry {
    std::vector<const KeywordDef*> all;
    std::unordered_map<std::string_view, const KeywordDef*> by_name;

    Registry() {
        for (auto family : {meta_keywords(), payload_keywords(), header_keywords(), flow_keywords(),
                            buffer_keywords(), dataset_keywords()}) {
            for (const KeywordDef& kw : family) {
                if (kw.name != lower(kw.name) || !by_name.emplace(kw.name, &kw).second) {
                    // A programming error in a family file: two handlers for one name.
                    std::fprintf(stderr,
                                 "rules: keyword '%.*s' is not lower case or is listed twice\n",
                                 static_cast<int>(kw.name.size()), kw.name.data());
                    std::abort();
                }
                all.push_back(&kw);
            }
        }
    }
};

// Built on first use (thread-safe: rules files are parsed on several threads).
const Registry& registry() {
    static const Registry r;
    return r;
}

// Keywords (or name prefixes) Vigil knows of but does not implement, by why. Rules are
// bucketed by these reasons in coverage reports (tests/rules/et_coverage.cc).
struct KnownUnsupported {
    std::string_view name;
    bool prefix;  // every keyword starting with `name` not in the table
    std::string_view reason;
};

constexpr std::string_view kAppLayer = "app-layer";
constexpr std::string_view kTransform = "transform";
constexpr std::string_view kLua = "lua scripts are not supported: Vigil runs no rule scripts";

// App-layer keywords inspect state or buffers not modelled (other protocols, file properties,
// events, ...); a name matching any of them is "(app-layer)" before the transform rows apply.
// lua, luajit and luaxform run scripts, which Vigil never does.
constexpr std::array<KnownUnsupported, 62> kKnownUnsupported{{
    {"app-layer-state", false, kAppLayer},
    {"filestore", false, kAppLayer},
    {"filemagic", false, kAppLayer},
    {"filename", false, kAppLayer},
    {"fileext", false, kAppLayer},
    {"filesize", false, kAppLayer},
    {"frame", false, kAppLayer},
    {"http", true, kAppLayer},
    {"file", true, kAppLayer},
    {"dns", true, kAppLayer},
    {"tls", true, kAppLayer},
    {"ssl_", true, kAppLayer},
    {"ja3", true, kAppLayer},
    {"ja4", true, kAppLayer},
    {"ssh", true, kAppLayer},
    {"smb", true, kAppLayer},
    {"dce", true, kAppLayer},
    {"dcerpc", true, kAppLayer},
    {"krb5", true, kAppLayer},
    {"snmp", true, kAppLayer},
    {"sip", true, kAppLayer},
    {"smtp", true, kAppLayer},
    {"email", true, kAppLayer},
    {"ftp", true, kAppLayer},
    {"ike", true, kAppLayer},
    {"nfs", true, kAppLayer},
    {"dhcp", true, kAppLayer},
    {"mqtt", true, kAppLayer},
    {"dnp3", true, kAppLayer},
    {"enip", true, kAppLayer},
    {"cip", true, kAppLayer},
    {"rfb", true, kAppLayer},
    {"quic", true, kAppLayer},
    {"rdp", true, kAppLayer},
    {"ldap", true, kAppLayer},
    {"pgsql", true, kAppLayer},
    {"websocket", true, kAppLayer},
    {"tftp", true, kAppLayer},
    {"ntp", true, kAppLayer},
    {"imap", true, kAppLayer},
    {"pop3", true, kAppLayer},
    {"template", true, kAppLayer},
    {"x509", true, kAppLayer},
    {"ssl", true, kAppLayer},
    {"app-layer", true, kAppLayer},
    {"sni", true, kAppLayer},
    {"uri", true, kAppLayer},
    {"mdns", true, kAppLayer},
    {"llmnr", true, kAppLayer},
    {"doh2", true, kAppLayer},
    {"bittorrent", true, kAppLayer},
    {"telnet", true, kAppLayer},
    {"irc", true, kAppLayer},
    {"modbus", true, kAppLayer},
    {"header_lowercase", false, kTransform},
    {"strip_pseudo_headers", false, kTransform},
    {"subslice", false, kTransform},
    {"zlib_deflate", false, kTransform},
    {"lua", false, kLua},
    {"luajit", false, kLua},
    {"luaxform", false, kLua},
}};

}  // namespace

std::span<const KeywordDef* const> all_keywords() {
    return registry().all;
}

const KeywordDef* find_keyword(std::string_view name) {
    const auto& by_name = registry().by_name;
    const auto it = by_name.find(lower(name));
    return it == by_name.end() ? nullptr : it->second;
}

Status check_value(const KeywordDef& kw, const std::optional<std::string_view>& value) {
    const bool empty = !value || value->empty();
    if (kw.value == ValueRule::None && !empty) {
        return reject(std::string(kw.name) + " takes no value");
    }
    if (kw.value == ValueRule::Required && empty) {
        return reject(std::string(kw.name) + " needs a value");
    }
    return Ok{};
}

std::optional<std::string> unsupported_keyword(std::string_view name) {
    if (find_keyword(name) != nullptr) {
        return std::nullopt;
    }
    const std::string k = lower(name);
    // Rows are in reason order (app-layer first), so the first match is the reason.
    for (const KnownUnsupported& u : kKnownUnsupported) {
        if (u.prefix ? k.starts_with(u.name) : k == u.name) {
            return "unsupported keyword " + quote(name) + " (" + std::string(u.reason) + ")";
        }
    }
    return "unsupported keyword " + quote(name);
}

}  // namespace vigil::rules::detail
