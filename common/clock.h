#pragma once
// The monotonic clock in nanoseconds (CLOCK_MONOTONIC): watchdogs, latencies, intervals.

#include <time.h>

#include <cstdint>

namespace vigil {

inline int64_t mono_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace vigil
