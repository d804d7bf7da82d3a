#pragma once
// The replay driver shared by the fuzz targets when they are built without libFuzzer (any
// compiler, e.g. g++ under ASan/UBSan in ctest): runs files and directories of inputs, or N
// mutations of the target's built-in seeds, through its LLVMFuzzerTestOneInput.
//
//   NAME FILE_OR_DIR...          run saved inputs (a libFuzzer corpus, a crash file)
//   NAME --random N [SEED]       the seeds, then N mutated seeds
//   NAME --write-seeds DIR       write the seeds as a starting corpus for libFuzzer

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace vigil::fuzz {

using Input = std::vector<uint8_t>;

// xorshift64*: deterministic across runs and platforms.
struct Rng {
    uint64_t s;
    uint64_t next() {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        return s * 0x2545f4914f6cdd1dULL;
    }
    size_t below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(next() % n); }
};

struct Target {
    std::string name;
    std::vector<Input> seeds;
    std::function<Input(const Input&, Rng&)> mutate;
    std::function<void()> report;  // what the inputs reached, printed at the end
};

// Runs one input from an exactly sized heap copy, so ASan catches a read one past the end.
inline void run_one(const Input& input) {
    const std::unique_ptr<uint8_t[]> exact(new uint8_t[input.empty() ? 1 : input.size()]);
    if (!input.empty()) {
        std::memcpy(exact.get(), input.data(), input.size());
    }
    LLVMFuzzerTestOneInput(exact.get(), input.size());
}

inline bool run_path(const std::filesystem::path& p, size_t& count) {
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) {
        std::vector<std::filesystem::path> files;
        for (std::filesystem::directory_iterator it(p, ec), end; !ec && it != end;
             it.increment(ec)) {
            files.push_back(it->path());
        }
        std::sort(files.begin(), files.end());
        for (const auto& f : files) {
            if (!run_path(f, count)) {
                return false;
            }
        }
        return !ec;
    }
    std::ifstream in(p, std::ios::binary);
    if (!in) {
        std::cerr << p << ": cannot read\n";
        return false;
    }
    const Input input((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    run_one(input);
    ++count;
    return true;
}

inline int replay_main(int argc, char** argv, const Target& t) {
    auto usage = [&] {
        std::cerr << "usage: " << t.name << " FILE_OR_DIR...\n"
                  << "       " << t.name << " --random N [SEED]   N mutated built-in seeds\n"
                  << "       " << t.name << " --write-seeds DIR   write the seeds as a corpus\n";
        return 2;
    };
    if (argc < 2) {
        return usage();
    }
    const std::string mode = argv[1];
    if (mode == "--random") {
        if (argc < 3) {
            return usage();
        }
        const size_t n = std::strtoull(argv[2], nullptr, 10);
        Rng rng{argc > 3 ? std::strtoull(argv[3], nullptr, 10) | 1 : 0x9e3779b97f4a7c15ULL};
        for (const Input& s : t.seeds) {
            run_one(s);
        }
        for (size_t i = 0; i < n; ++i) {
            Input input = t.seeds[rng.below(t.seeds.size())];
            // Stack mutations now and then, to get further from the seeds.
            const size_t generations = 1 + rng.below(2);
            for (size_t g = 0; g < generations; ++g) {
                input = t.mutate(input, rng);
            }
            run_one(input);
        }
        std::cout << t.name << ": " << n + t.seeds.size() << " inputs ok\n";
        t.report();
        return 0;
    }
    if (mode == "--write-seeds") {
        if (argc < 3) {
            return usage();
        }
        std::filesystem::create_directories(argv[2]);
        for (size_t i = 0; i < t.seeds.size(); ++i) {
            std::ofstream out(std::filesystem::path(argv[2]) / ("seed" + std::to_string(i)),
                              std::ios::binary);
            out.write(reinterpret_cast<const char*>(t.seeds[i].data()),
                      static_cast<std::streamsize>(t.seeds[i].size()));
        }
        std::cout << "wrote " << t.seeds.size() << " seeds to " << argv[2] << "\n";
        return 0;
    }
    size_t count = 0;
    for (int i = 1; i < argc; ++i) {
        if (!run_path(argv[i], count)) {
            return 1;
        }
    }
    std::cout << t.name << ": " << count << " inputs ok\n";
    t.report();
    return 0;
}

}  // namespace vigil::fuzz
