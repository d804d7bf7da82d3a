#pragma once
// The exit codes every Vigil program shares (DESIGN.md §2): 0 success, 1 runtime failure,
// 2 bad input (usage, config, rules, pcap, key files).

#include "common/result.h"

namespace vigil {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitBadInput = 2;

// The exit code an error stands for: bad input (and rules that do not parse or compile) 2,
// I/O and internal failures 1.
inline int exit_code_for(const Error& e) {
    return e.code == ErrorCode::Io || e.code == ErrorCode::Internal || e.code == ErrorCode::Busy
               ? kExitFailure
               : kExitBadInput;
}

}  // namespace vigil
