// pack_fuzz: rule packs from outside (rules/pack.h) - manifest.yaml text, tar archives and
// .tar.zst bytes - through the pack reader, then the signature and version checks on
// whatever it accepts. Besides not crashing: an accepted pack's files all hash to what its
// manifest says, and the limits hold.
//
// Input: u8 mode | bytes
//   mode % 3 == 0: bytes are manifest.yaml's text (parse_manifest)
//   mode % 3 == 1: bytes are a .tar.zst (read_pack_archive)
//   mode % 3 == 2: bytes are a plain tar, compressed here with zstd first, so that mutations
//                  reach the tar reader and the manifest checks instead of zstd's checksums
// Built with libFuzzer (clang, VIGIL_LIBFUZZER) or as a replay driver (tests/fuzz/fuzz_driver.h).

#include <sodium.h>
#include <unistd.h>
#include <zstd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "rules/pack.h"

namespace {

using namespace vigil::rules;

struct Stats {
    uint64_t inputs = 0, manifests_ok = 0, packs_ok = 0, signed_ok = 0, refused = 0;
} g_stats;

constexpr unsigned char kSeed[crypto_sign_SEEDBYTES] = {7, 7, 7, 7, 1, 2, 3, 4};

// The one trusted key (a fixed seed, so the seeds' signatures verify).
const std::vector<PublicKey>& trusted() {
    static const std::vector<PublicKey> keys = [] {
        if (sodium_init() < 0) {
            std::abort();
        }
        unsigned char pk[crypto_sign_PUBLICKEYBYTES];
        unsigned char sk[crypto_sign_SECRETKEYBYTES];
        crypto_sign_seed_keypair(pk, sk, kSeed);
        const std::string raw(reinterpret_cast<char*>(pk), sizeof(pk));
        return std::vector<PublicKey>{{sha256_hex(raw).substr(0, 16), raw, "fuzz"}};
    }();
    return keys;
}

PackLimits small_limits() {
    PackLimits l;
    l.max_file_bytes = 1 << 20;
    l.max_total_bytes = 4 << 20;
    l.max_entries = 64;
    return l;
}

void check_pack(const Pack& p) {
    const PackLimits l = small_limits();
    uint64_t total = 0;
    for (const auto& [name, content] : p.files) {
        if (sha256_hex(content) != p.manifest.files.at(name) || content.size() > l.max_file_bytes) {
            std::fprintf(stderr, "pack_fuzz: %s accepted with a wrong hash or size\n",
                         name.c_str());
            std::abort();
        }
        total += content.size();
    }
    if (total > l.max_total_bytes || p.files.size() != p.manifest.files.size()) {
        std::fprintf(stderr, "pack_fuzz: accepted past the limits or the manifest\n");
        std::abort();
    }
    ++g_stats.packs_ok;
    if (verify_signature(p, trusted())) {
        ++g_stats.signed_ok;
    }
    (void)check_min_version(p, "0.1.0");
}

void run(const uint8_t* data, size_t size) {
    ++g_stats.inputs;
    if (size == 0) {
        return;
    }
    const uint8_t mode = data[0] % 3;
    const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
    if (mode == 0) {
        if (parse_manifest(bytes, "manifest.yaml")) {
            ++g_stats.manifests_ok;
        } else {
            ++g_stats.refused;
        }
        return;
    }
    std::string zst;
    std::string_view archive = bytes;
    if (mode == 2) {
        zst.resize(ZSTD_compressBound(bytes.size()));
        const size_t n = ZSTD_compress(zst.data(), zst.size(), bytes.data(), bytes.size(), 1);
        if (ZSTD_isError(n)) {
            std::abort();
        }
        zst.resize(n);
        archive = zst;
    }
    auto p = read_pack_archive(archive, "fuzz.tar.zst", small_limits());
    if (!p) {
        ++g_stats.refused;
        return;
    }
    check_pack(*p);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    run(data, size);
    return 0;
}

#ifndef VIGIL_LIBFUZZER

#include <archive.h>
#include <archive_entry.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/fuzz/fuzz_driver.h"

namespace {

using vigil::fuzz::Input;
using vigil::fuzz::Rng;
namespace fs = std::filesystem;

Input with_mode(uint8_t mode, const std::string& bytes) {
    Input in{mode};
    in.insert(in.end(), bytes.begin(), bytes.end());
    return in;
}

// A plain tar of `files` (in order), as libarchive writes it.
std::string tar_of(const std::vector<std::pair<std::string, std::string>>& files) {
    std::vector<char> buf(1 << 20);
    size_t used = 0;
    archive* a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_open_memory(a, buf.data(), buf.size(), &used);
    for (const auto& [name, content] : files) {
        archive_entry* e = archive_entry_new();
        archive_entry_set_pathname(e, name.c_str());
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
        archive_write_header(a, e);
        archive_write_data(a, content.data(), content.size());
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    return std::string(buf.data(), used);
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::vector<Input> seeds() {
    std::vector<Input> s;
    trusted();
    const fs::path dir = fs::temp_directory_path() / ("pack_fuzz." + std::to_string(getpid()));
    fs::create_directories(dir / "src");
    std::ofstream(dir / "src" / "a.rules")
        << "alert tcp any any -> any 80 (msg:\"a\"; content:\"x\"; sid:1; rev:1;)\n";
    std::ofstream(dir / "src" / "classification.config") << "config classification: x,X,1\n";
    char b64[sodium_base64_ENCODED_LEN(crypto_sign_SEEDBYTES, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof(b64), kSeed, sizeof(kSeed), sodium_base64_VARIANT_ORIGINAL);
    std::ofstream(dir / "signing.key") << "ed25519-secret " << b64 << "\n";
    fs::permissions(dir / "signing.key", fs::perms::owner_read | fs::perms::owner_write);
    PackOptions o;
    o.version = "1";
    o.min_sensor_version = "0.1";
    o.created = "2025-07-01T12:00:00Z";
    o.key_path = (dir / "signing.key").string();
    auto w = write_pack((dir / "src").string(), (dir / "p.tar.zst").string(), o);
    auto p = w ? read_pack((dir / "p.tar.zst").string()) : w.error();
    if (!p) {
        std::fprintf(stderr, "pack_fuzz: seeds: %s\n", p.error().message.c_str());
        std::abort();
    }
    s.push_back(with_mode(1, slurp(dir / "p.tar.zst")));
    s.push_back(with_mode(0, p->manifest_text));
    std::vector<std::pair<std::string, std::string>> files{{kManifestName, p->manifest_text},
                                                           {kSignatureName, *p->signature_text}};
    for (const auto& [name, content] : p->files) {
        files.emplace_back(name, content);
    }
    s.push_back(with_mode(2, tar_of(files)));
    files.emplace_back("../evil.rules", "x");
    s.push_back(with_mode(2, tar_of(files)));
    fs::remove_all(dir);
    return s;
}

Input mutate(const Input& in, Rng& rng) {
    Input b = in;
    const size_t what = rng.below(100);
    const size_t at = 1 + rng.below(b.size());
    if (b.size() < 2 || what < 55) {
        const size_t flips = 1 + rng.below(4);
        for (size_t i = 0; i < flips && b.size() > 1; ++i) {
            b[1 + rng.below(b.size() - 1)] ^= static_cast<uint8_t>(1u << rng.below(8));
        }
    } else if (what < 70) {
        b.resize(1 + rng.below(b.size()));
    } else if (what < 85) {
        static const char* kTokens[] = {"..", "/", ": ", "\n", "files:", "\"",        "0000",
                                        "ff", "[", "{",  "&a", "*a",     "!!binary ", "- "};
        const std::string t = kTokens[rng.below(sizeof(kTokens) / sizeof(kTokens[0]))];
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(std::min(at, b.size())), t.begin(),
                 t.end());
    } else if (at < b.size()) {
        const size_t n = std::min(b.size() - at, 1 + rng.below(64));
        b.erase(b.begin() + static_cast<std::ptrdiff_t>(at),
                b.begin() + static_cast<std::ptrdiff_t>(at + n));
    }
    return b;
}

void report() {
    std::printf(
        "pack: %llu inputs, %llu manifests parsed, %llu packs accepted (%llu signed by "
        "the trusted key), %llu refused\n",
        static_cast<unsigned long long>(g_stats.inputs),
        static_cast<unsigned long long>(g_stats.manifests_ok),
        static_cast<unsigned long long>(g_stats.packs_ok),
        static_cast<unsigned long long>(g_stats.signed_ok),
        static_cast<unsigned long long>(g_stats.refused));
}

}  // namespace

int main(int argc, char** argv) {
    return vigil::fuzz::replay_main(argc, argv, {"pack_fuzz_replay", seeds(), mutate, report});
}

#endif  // VIGIL_LIBFUZZER
