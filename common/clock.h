#pragma once
// The monotonic clock in nanoseconds (CLOCK_MONOTONIC): watchdogs, latencies, intervals;
// and the wall clock in microseconds since the epoch (timestamps stored and shown).

#include <time.h>

#include <cstdint>

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

}  // namespace vigil
