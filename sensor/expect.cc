#include "sensor/expect.h"

#include <arpa/inet.h>

#include <fstream>
#include <map>
#include <sstream>

#include "sensor/eve_writer.h"

namespace vigil::sensor {

namespace {

bool parse_u64(const std::string& s, uint64_t& out) {
    if (s.empty() || s.size() > 19) {
        return false;
    }
    uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') {
            return false;
        }
        v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    out = v;
    return true;
}

bool parse_addr(const std::string& s, dataplane::IpAddr& out) {
    uint8_t buf[16];
    if (inet_pton(AF_INET, s.c_str(), buf) == 1) {
        out = dataplane::IpAddr::from_v4(buf);
        return true;
    }
    if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
        out = dataplane::IpAddr::from_v6(buf);
        return true;
    }
    return false;
}

// "1.2.3.4", "1.2.3.4:80", "2001:db8::1", "[2001:db8::1]:80"
Result<Endpoint> parse_endpoint(const std::string& s) {
    Endpoint ep;
    std::string addr = s;
    std::string port;
    if (!s.empty() && s[0] == '[') {
        const auto close = s.find(']');
        if (close == std::string::npos) {
            return make_error(ErrorCode::BadInput, "missing ']' in '" + s + "'");
        }
        addr = s.substr(1, close - 1);
        if (close + 1 < s.size()) {
            if (s[close + 1] != ':') {
                return make_error(ErrorCode::BadInput, "expected ':PORT' after ']' in '" + s + "'");
            }
            port = s.substr(close + 2);
        }
    } else if (std::count(s.begin(), s.end(), ':') == 1) {
        const auto colon = s.find(':');
        addr = s.substr(0, colon);
        port = s.substr(colon + 1);
    }
    if (!parse_addr(addr, ep.addr)) {
        return make_error(ErrorCode::BadInput, "bad address '" + addr + "'");
    }
    if (!port.empty() || (!s.empty() && s.back() == ':')) {
        uint64_t p = 0;
        if (!parse_u64(port, p) || p > 65535) {
            return make_error(ErrorCode::BadInput, "bad port '" + port + "'");
        }
        ep.port = static_cast<uint16_t>(p);
    }
    return ep;
}

bool endpoint_matches(const Endpoint& e, const dataplane::IpAddr& a, uint16_t port,
                      bool has_ports) {
    if (e.addr != a) {
        return false;
    }
    if (e.port && (!has_ports || *e.port != port)) {
        return false;
    }
    return true;
}

bool line_matches(const Expectation& e, const ObservedAlert& a) {
    if (e.sid != a.sid) {
        return false;
    }
    if (e.src && !endpoint_matches(*e.src, a.src, a.sport, a.has_ports)) {
        return false;
    }
    if (e.dst && !endpoint_matches(*e.dst, a.dst, a.dport, a.has_ports)) {
        return false;
    }
    return e.action.empty() || e.action == a.action;
}

std::string describe(const ObservedAlert& a) {
    std::string s = "sid " + std::to_string(a.sid) + " " + format_ip(a.src);
    if (a.has_ports) {
        s += ":" + std::to_string(a.sport);
    }
    s += " -> " + format_ip(a.dst);
    if (a.has_ports) {
        s += ":" + std::to_string(a.dport);
    }
    s += " action=" + a.action + " (packet " + std::to_string(a.pcap_cnt) + ")";
    return s;
}

}  // namespace

Result<ExpectFile> load_expect_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        return make_error(ErrorCode::BadInput, path + ": cannot open expectation file");
    }
    ExpectFile f;
    f.path = path;
    std::string line;
    uint32_t ln = 0;
    while (std::getline(in, line)) {
        ++ln;
        const auto first = line.find_first_not_of(" \t\r");
        if (first == std::string::npos || line[first] == '#') {
            continue;
        }
        std::istringstream ss(line);
        std::string tok;
        std::vector<std::string> toks;
        while (ss >> tok) {
            toks.push_back(tok);
        }
        auto fail = [&](const std::string& what) {
            std::string msg = path;
            msg += ':';
            msg += std::to_string(ln);
            msg += ": ";
            msg += what;
            return make_error(ErrorCode::BadInput, std::move(msg));
        };
        if (toks.size() < 2) {
            return fail("expected '<sid> <count> [src=..] [dst=..] [action=..]'");
        }
        Expectation e;
        e.line = ln;
        e.text = line.substr(first);
        uint64_t sid = 0;
        if (!parse_u64(toks[0], sid) || sid == 0 || sid > UINT32_MAX) {
            return fail("bad sid '" + toks[0] + "'");
        }
        e.sid = static_cast<uint32_t>(sid);
        if (!parse_u64(toks[1], e.count)) {
            return fail("bad count '" + toks[1] + "'");
        }
        for (size_t i = 2; i < toks.size(); ++i) {
            const auto eq = toks[i].find('=');
            if (eq == std::string::npos) {
                return fail("expected key=value, got '" + toks[i] + "'");
            }
            const std::string key = toks[i].substr(0, eq);
            const std::string val = toks[i].substr(eq + 1);
            if (key == "src" || key == "dst") {
                auto ep = parse_endpoint(val);
                if (!ep) {
                    return fail(key + ": " + ep.error().message);
                }
                (key == "src" ? e.src : e.dst) = *ep;
            } else if (key == "action") {
                if (val != "allowed" && val != "blocked") {
                    return fail("action must be 'allowed' or 'blocked', got '" + val + "'");
                }
                e.action = val;
            } else {
                return fail("unknown key '" + key + "' (src, dst, action)");
            }
        }
        f.lines.push_back(std::move(e));
    }
    return f;
}

ExpectResult check_expectations(const ExpectFile& exp, const std::vector<ObservedAlert>& got) {
    ExpectResult r;
    std::vector<bool> claimed(got.size(), false);
    for (const auto& e : exp.lines) {
        uint64_t n = 0;
        for (size_t i = 0; i < got.size(); ++i) {
            if (line_matches(e, got[i])) {
                ++n;
                claimed[i] = true;
            }
        }
        if (n != e.count) {
            r.ok = false;
            r.diff.push_back(exp.path + ":" + std::to_string(e.line) + ": expected " +
                             std::to_string(e.count) + ", got " + std::to_string(n) + "   [" +
                             e.text + "]");
        }
    }
    // Alerts no line accounts for.
    std::map<uint32_t, std::vector<size_t>> unexpected;
    for (size_t i = 0; i < got.size(); ++i) {
        if (!claimed[i]) {
            unexpected[got[i].sid].push_back(i);
        }
    }
    for (const auto& [sid, idx] : unexpected) {
        r.ok = false;
        r.diff.push_back(exp.path + ": unexpected " + std::to_string(idx.size()) +
                         " alert(s) for sid " + std::to_string(sid) +
                         ", first: " + describe(got[idx.front()]));
    }
    return r;
}

}  // namespace vigil::sensor
