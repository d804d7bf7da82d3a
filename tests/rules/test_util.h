#pragma once
// Helpers shared by the rule-language tests: address literals and a scratch directory.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "dataplane/packet.h"

namespace vigil::rules::test {

inline dataplane::IpAddr ip(const char* text) {
    uint8_t buf[16];
    if (inet_pton(AF_INET, text, buf) == 1) {
        return dataplane::IpAddr::from_v4(buf);
    }
    EXPECT_EQ(inet_pton(AF_INET6, text, buf), 1) << text;
    return dataplane::IpAddr::from_v6(buf);
}

// A fresh directory under the system temp dir, removed with its contents at scope exit.
class TempDir {
public:
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "vigil-rules-XXXXXX").string();
        char* p = mkdtemp(tmpl.data());
        EXPECT_NE(p, nullptr);
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }

    // Writes `text` to `name` (relative to the directory) and returns the full path.
    std::string write(const std::string& name, const std::string& text) const {
        const auto p = path_ / name;
        std::filesystem::create_directories(p.parent_path());
        std::ofstream out(p, std::ios::binary);
        out << text;
        return p.string();
    }

private:
    std::filesystem::path path_;
};

}  // namespace vigil::rules::test
