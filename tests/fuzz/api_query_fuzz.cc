// api_query_fuzz: feeds arbitrary bytes, as a query string, to the parsing of
// GET /api/v1/alerts (parse_query_string, then parse_alert_query) and checks that what it
// accepts is a query the store can run. Built like decode_fuzz.cc: with libFuzzer (clang,
// VIGIL_LIBFUZZER) or, with any compiler, as a replay driver (tests/fuzz/fuzz_driver.h).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "mgmt/api.h"

namespace {

struct Reached {
    uint64_t ok = 0;
    uint64_t refused = 0;
    uint64_t with_cursor = 0;
    uint64_t with_time = 0;
};
Reached g_reached;

// Aborts (a fuzzer finding) when an accepted query breaks what the store relies on.
void check(const vigil::mgmt::EventQuery& q) {
    bool ok = q.limit >= 1 && q.limit <= 1000;
    ok &= !q.event_type.empty();
    ok &= q.before_id >= 0 && q.after_id >= 0;
    ok &= !(q.ascending && q.before_id != 0) && !(!q.ascending && q.after_id != 0);
    ok &= !(q.since_us && q.until_us && *q.since_us > *q.until_us);
    ok &= !q.since_us || *q.since_us >= 0;
    ok &= q.action.empty() || q.action == "allowed" || q.action == "blocked";
    if (!ok) {
        std::abort();
    }
}

}  // namespace

// NOLINTNEXTLINE(readability-identifier-naming): the name libFuzzer calls
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto params = vigil::mgmt::parse_query_string(text);
    auto q = vigil::mgmt::parse_alert_query(params);
    if (!q) {
        ++g_reached.refused;
        if (q.error().message.empty()) {
            std::abort();  // every refusal says why
        }
    } else {
        ++g_reached.ok;
        check(*q);
        g_reached.with_cursor += (q->after_id != 0 || q->before_id != 0);
        g_reached.with_time += q->since_us.has_value() || q->until_us.has_value();
        // A cursor the API hands out for this page decodes to the same position.
        const int64_t id = q->ascending ? q->after_id : q->before_id;
        if (id > 0) {
            auto again = vigil::mgmt::parse_alert_query(
                {{"cursor", vigil::mgmt::encode_alert_cursor(q->ascending, id)}});
            if (!again || again->ascending != q->ascending ||
                (again->ascending ? again->after_id : again->before_id) != id) {
                std::abort();
            }
        }
    }
    // The time parser on its own, on the raw bytes too.
    if (auto t = vigil::mgmt::parse_api_time(text); t && *t < 0) {
        std::abort();
    }
    return 0;
}

#ifndef VIGIL_LIBFUZZER

#include <iostream>
#include <iterator>
#include <vector>

#include "tests/fuzz/fuzz_driver.h"

namespace {

using vigil::fuzz::Input;
using vigil::fuzz::Rng;

Input bytes(std::string_view s) {
    return Input(s.begin(), s.end());
}

std::vector<Input> seed_inputs() {
    return {
        bytes(""),
        bytes("limit=7&order=asc"),
        bytes("since=2024-01-01T00:00:00.000000%2B0000&until=2024-01-02T00:00:00Z"),
        bytes("since=2024-01-01T00:00:00.000000+0000&until=1704153600.5"),
        bytes("since=2024-02-29&until=2024-03-01T01:02:03,5-05:30"),
        bytes("sensor=edge-01&sid=2000001&src=10.0.0.1&dst=2001:db8::1&proto=tcp"),
        bytes("action=blocked&type=drop&limit=1000&order=desc"),
        bytes("cursor=djE6YXNjOjEyMw&order=asc"),  // v1:asc:123
        bytes("cursor=djE6ZGVzYzo5OTk"),           // v1:desc:999
        bytes("limit=0&limit=5000&sid=abc&src=not-an-ip&cursor=garbage&x=1"),
        bytes("limit=5&limit=5"),
        bytes("src=%3A%3Affff%3A1.2.3.4&dst=fe80%3A%3A1%25eth0"),
        bytes("until=9999-12-31T23:59:59.999999999Z&since=1970-01-01T00:00Z"),
    };
}

Input mutate(const Input& seed, Rng& rng) {
    static constexpr std::string_view kTokens[] = {
        "&", "=", "%", "%2B", "+", "since=",       "until=", "cursor=", "limit=", "order=asc",
        "T", ":", ".", "-",   "Z", "999999999999", "0",      "::",      "v1:",    "sid=4294967296",
    };
    Input b = seed;
    const size_t rounds = 1 + rng.below(4);
    for (size_t r = 0; r < rounds; ++r) {
        const size_t at = rng.below(b.size() + 1);
        const size_t what = rng.below(100);
        if (what < 30 && at < b.size()) {
            b[at] = static_cast<uint8_t>(rng.next());
        } else if (what < 50 && at < b.size()) {
            b[at] = static_cast<uint8_t>('0' + rng.below(10));
        } else if (what < 70) {
            const auto tok = kTokens[rng.below(std::size(kTokens))];
            b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), tok.begin(), tok.end());
        } else if (what < 85 && at < b.size()) {
            const size_t n = std::min(b.size() - at, 1 + rng.below(8));
            b.erase(b.begin() + static_cast<std::ptrdiff_t>(at),
                    b.begin() + static_cast<std::ptrdiff_t>(at + n));
        } else {
            b.resize(rng.below(b.size() + 1));
        }
    }
    return b;
}

void print_reached() {
    std::cout << "accepted=" << g_reached.ok << " refused=" << g_reached.refused
              << " with_cursor=" << g_reached.with_cursor << " with_time=" << g_reached.with_time
              << "\n";
}

}  // namespace

int main(int argc, char** argv) {
    return vigil::fuzz::replay_main(
        argc, argv, {"api_query_fuzz_replay", seed_inputs(), mutate, print_reached});
}

#endif  // VIGIL_LIBFUZZER
