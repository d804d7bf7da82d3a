#include "rules/parse_util.h"

#include <limits>

namespace vigil::rules::detail {

std::vector<std::string_view> split_trim(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    size_t start = 0;
    while (true) {
        const size_t pos = s.find(sep, start);
        if (pos == std::string_view::npos) {
            out.push_back(trim(s.substr(start)));
            return out;
        }
        out.push_back(trim(s.substr(start, pos - start)));
        start = pos + 1;
    }
}

std::vector<std::string_view> split_ws(std::string_view s) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && is_space(s[i])) {
            ++i;
        }
        const size_t b = i;
        while (i < s.size() && !is_space(s[i])) {
            ++i;
        }
        if (i > b) {
            out.push_back(s.substr(b, i - b));
        }
    }
    return out;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
    }
    return out;
}

namespace {

int digit_value(char c, int base) {
    int v = -1;
    if (c >= '0' && c <= '9') {
        v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
        v = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
        v = c - 'A' + 10;
    }
    return v < base ? v : -1;
}

}  // namespace

std::optional<uint64_t> parse_u64(std::string_view s, bool allow_hex) {
    int base = 10;
    if (allow_hex && s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s.remove_prefix(2);
    }
    if (s.empty()) {
        return std::nullopt;
    }
    uint64_t v = 0;
    constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
    for (char c : s) {
        const int d = digit_value(c, base);
        if (d < 0) {
            return std::nullopt;
        }
        if (v > (kMax - static_cast<uint64_t>(d)) / static_cast<uint64_t>(base)) {
            return std::nullopt;
        }
        v = v * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
    }
    return v;
}

std::optional<int64_t> parse_i64(std::string_view s, bool allow_hex) {
    bool neg = false;
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        s.remove_prefix(1);
    }
    const auto u = parse_u64(s, allow_hex);
    constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    if (!u || *u > kMax + (neg ? 1 : 0)) {
        return std::nullopt;
    }
    if (neg) {
        return *u == kMax + 1 ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(*u);
    }
    return static_cast<int64_t>(*u);
}

std::string quote(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    out += '\'';
    out += s;
    out += '\'';
    return out;
}

std::optional<Threshold::Track> parse_track(std::string_view v) {
    if (v == "by_src") {
        return Threshold::Track::BySrc;
    }
    if (v == "by_dst") {
        return Threshold::Track::ByDst;
    }
    if (v == "by_rule") {
        return Threshold::Track::ByRule;
    }
    if (v == "by_both") {
        return Threshold::Track::ByBoth;
    }
    if (v == "by_flow") {
        return Threshold::Track::ByFlow;
    }
    return std::nullopt;
}

}  // namespace vigil::rules::detail
