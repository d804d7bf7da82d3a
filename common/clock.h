#pragma once
// The monotonic clock in nanoseconds (CLOCK_MONOTONIC): watchdogs, latencies, intervals;
// and the wall clock in microseconds since the epoch (timestamps stored and shown).

#include <time.h>

#include <cstdint>
#include <cstdio>
#include <string>

namespace vigil {

inline int64_t mono_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

inline int64_t wall_us() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

// "2024-01-01T00:00:00.000000Z": wall-clock microseconds as ISO 8601 UTC (API, incidents).
inline std::string iso8601_utc(int64_t us) {
    const time_t secs = static_cast<time_t>(us / 1'000'000);
    tm t{};
    gmtime_r(&secs, &t);
    char buf[48];
    std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", t.tm_year + 1900,
                  t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                  static_cast<int>(us % 1'000'000));
    return buf;
}

}  // namespace vigil
