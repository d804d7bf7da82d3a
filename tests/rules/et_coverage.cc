// rules_coverage DIR [--vars FILE]: parses every *.rules file under DIR and reports, per
// file, how many rules loaded and how many were rejected, then a histogram of rejection
// reasons. Reasons are bucketed into categories by replacing quoted details and numbers
// ("unsupported keyword 'http.uri' (app-layer)" -> "unsupported keyword '*' (app-layer)");
// the most common exact unsupported keywords are listed too. Always exits 0 on a readable
// directory: it measures, it does not judge.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rules/rule_parser.h"

namespace {

namespace fs = std::filesystem;

std::string category(std::string_view reason) {
    std::string out;
    bool in_quote = false;
    bool last_digit = false;
    for (char c : reason) {
        if (c == '\'') {
            if (!in_quote) {
                out += "'*'";
            }
            in_quote = !in_quote;
            last_digit = false;
            continue;
        }
        if (in_quote) {
            continue;
        }
        const bool digit = c >= '0' && c <= '9';
        if (digit) {
            if (!last_digit) {
                out += 'N';
            }
        } else {
            out += c;
        }
        last_digit = digit;
    }
    return out;
}

// The quoted keyword of an "unsupported keyword 'x'" / "unsupported pcre flag 'x'" reason.
std::string detail_of(std::string_view reason) {
    if (!reason.starts_with("unsupported")) {
        return "";
    }
    const size_t a = reason.find('\'');
    const size_t b = a == std::string_view::npos ? a : reason.find('\'', a + 1);
    if (b == std::string_view::npos) {
        return "";
    }
    return std::string(reason.substr(0, b + 1));
}

void print_top(const char* title, const std::map<std::string, size_t>& counts, size_t total,
               size_t limit) {
    std::vector<std::pair<std::string, size_t>> v(counts.begin(), counts.end());
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    std::printf("\n%s\n", title);
    for (size_t i = 0; i < v.size() && i < limit; ++i) {
        std::printf("  %7zu  %5.1f%%  %s\n", v[i].second,
                    total == 0
                        ? 0.0
                        : 100.0 * static_cast<double>(v[i].second) / static_cast<double>(total),
                    v[i].first.c_str());
    }
    if (v.size() > limit) {
        std::printf("  ... %zu more\n", v.size() - limit);
    }
}

int run(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s DIR [--vars FILE]\n", argv[0]);
        return 2;
    }
    const fs::path dir = argv[1];
    vigil::rules::Vars vars = vigil::rules::default_vars();
    if (argc >= 4 && std::string_view(argv[2]) == "--vars") {
        auto v = vigil::rules::load_vars(argv[3]);
        if (!v) {
            std::fprintf(stderr, "%s\n", v.error().message.c_str());
            return 2;
        }
        vars = std::move(*v);
    }
    std::error_code ec;
    std::vector<fs::path> files;
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->is_regular_file() && it->path().extension() == ".rules") {
            files.push_back(it->path());
        }
    }
    if (ec) {
        std::fprintf(stderr, "%s: %s\n", dir.c_str(), ec.message().c_str());
        return 2;
    }
    std::sort(files.begin(), files.end());

    size_t loaded = 0;
    size_t rejected = 0;
    std::map<std::string, size_t> categories;
    std::map<std::string, size_t> details;
    const auto t0 = std::chrono::steady_clock::now();
    std::printf("%-45s %8s %8s\n", "file", "loaded", "rejected");
    for (const fs::path& f : files) {
        auto r = vigil::rules::parse_rules_file(f.string(), vars);
        if (!r) {
            std::printf("%-45s %s\n", f.filename().c_str(), r.error().message.c_str());
            continue;
        }
        std::printf("%-45s %8zu %8zu\n", fs::relative(f, dir).c_str(), r->rules.size(),
                    r->rejected.size());
        loaded += r->rules.size();
        rejected += r->rejected.size();
        for (const auto& e : r->rejected) {
            ++categories[category(e.reason)];
            if (auto d = detail_of(e.reason); !d.empty()) {
                ++details[d];
            }
        }
    }
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    const size_t total = loaded + rejected;
    std::printf("\nTOTAL %zu files: %zu rules, %zu loaded (%.1f%%), %zu rejected; %.0f ms\n",
                files.size(), total, loaded,
                total == 0 ? 0.0 : 100.0 * static_cast<double>(loaded) / static_cast<double>(total),
                rejected, ms);
    print_top("rejection reasons (by category):", categories, rejected, 40);
    print_top("unsupported keywords / flags (first one that rejected the rule):", details, rejected,
              40);
    return 0;
}
}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "rules_coverage: %s\n", e.what());
        return 1;
    }
}
