#pragma once
// CURVE key files (`vigilctl keys gen`): one line, the 40-character Z85 text of a 32-byte
// key; NAME.key holds a secret key (mode 0600), NAME.pub a public one. Read by the sensor and
// by vigil-mgmtd alike.

#include <fstream>
#include <string>

#include "common/result.h"

namespace vigil {

inline constexpr size_t kZ85KeyChars = 40;

inline bool is_z85_char(char c) {
    static constexpr char kAlphabet[] =
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
    for (const char* p = kAlphabet; *p; ++p) {
        if (*p == c) {
            return true;
        }
    }
    return false;
}

// The key in `path`; the error names the file and what is wrong with it.
inline Result<std::string> read_key_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        return make_error(ErrorCode::BadInput, path + ": cannot read the key file");
    }
    std::string line;
    std::getline(in, line);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
        line.pop_back();
    }
    std::string extra;
    while (std::getline(in, extra)) {
        if (!extra.empty()) {
            return make_error(ErrorCode::BadInput, path + ": a key file holds one line");
        }
    }
    if (line.size() != kZ85KeyChars) {
        return make_error(ErrorCode::BadInput, path + ": expected a 40-character Z85 key, got " +
                                                   std::to_string(line.size()) + " characters");
    }
    for (char c : line) {
        if (!is_z85_char(c)) {
            return make_error(ErrorCode::BadInput,
                              path + ": not a Z85 key (character '" + std::string(1, c) + "')");
        }
    }
    return line;
}

}  // namespace vigil
