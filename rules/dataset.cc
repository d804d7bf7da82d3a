// Datasets: sharded hash sets with Suricata's file formats (dataset.h).

#include "rules/dataset.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/text.h"

namespace vigil::rules {

namespace {

constexpr std::string_view kB64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// The value of a base64 character; -1 outside the alphabet.
int b64_value(char c) {
    const size_t i = kB64.find(c);
    return i == std::string_view::npos ? -1 : static_cast<int>(i);
}

// Strict RFC 4648 base64: only the alphabet, '=' padding only at the end (it may be left
// out). nullopt on anything else.
std::optional<std::string> b64_decode(std::string_view in) {
    size_t end = in.size();
    size_t pad = 0;
    while (end > 0 && in[end - 1] == '=' && pad < 2) {
        --end;
        ++pad;
    }
    if (pad > 0 && in.size() % 4 != 0) {
        return std::nullopt;
    }
    std::string out;
    out.reserve(end * 3 / 4);
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < end; ++i) {
        const int v = b64_value(in[i]);
        if (v < 0) {
            return std::nullopt;
        }
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xff);
        }
    }
    if (end % 4 == 1) {
        return std::nullopt;  // a lone character carries no whole byte
    }
    return out;
}

std::string b64_encode(std::string_view in) {
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const uint32_t v = static_cast<uint8_t>(in[i]) << 16 |
                           static_cast<uint8_t>(in[i + 1]) << 8 | static_cast<uint8_t>(in[i + 2]);
        out += kB64[v >> 18];
        out += kB64[(v >> 12) & 63];
        out += kB64[(v >> 6) & 63];
        out += kB64[v & 63];
    }
    if (i < in.size()) {
        uint32_t v = static_cast<uint8_t>(in[i]) << 16;
        if (i + 1 < in.size()) {
            v |= static_cast<uint8_t>(in[i + 1]) << 8;
        }
        out += kB64[v >> 18];
        out += kB64[(v >> 12) & 63];
        out += i + 1 < in.size() ? kB64[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

size_t key_len(DatasetType t) {
    switch (t) {
        case DatasetType::Md5:
            return 16;
        case DatasetType::Sha256:
            return 32;
        case DatasetType::Ipv4:
            return 4;
        case DatasetType::Ipv6:
            return 16;
        case DatasetType::String:
            break;
    }
    return 0;
}

std::string lower_copy(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        c = ascii_lower(c);
    }
    return out;
}

}  // namespace

std::optional<DatasetType> dataset_type_by_name(std::string_view name) {
    if (name == "string") {
        return DatasetType::String;
    }
    if (name == "md5") {
        return DatasetType::Md5;
    }
    if (name == "sha256") {
        return DatasetType::Sha256;
    }
    if (name == "ipv4") {
        return DatasetType::Ipv4;
    }
    if (name == "ip" || name == "ipv6") {
        return DatasetType::Ipv6;
    }
    return std::nullopt;
}

std::string_view dataset_type_name(DatasetType t) {
    switch (t) {
        case DatasetType::String:
            return "string";
        case DatasetType::Md5:
            return "md5";
        case DatasetType::Sha256:
            return "sha256";
        case DatasetType::Ipv4:
            return "ipv4";
        case DatasetType::Ipv6:
            return "ip";
    }
    return "?";
}

// --- Dataset ---

Dataset::Dataset(std::string name, DatasetType type, uint64_t memcap, uint32_t hashsize)
    : name_(std::move(name)), type_(type), memcap_(memcap) {
    for (Shard& s : shards_) {
        s.map.reserve(std::max<size_t>(hashsize / kShards, 16));
    }
}

size_t Dataset::Hash::operator()(std::string_view s) const {
    // FNV-1a, then a final mix (fmix64) so that the shard bits are well spread.
    uint64_t h = 0xcbf29ce484222325ULL;
    for (char c : s) {
        h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ULL;
    }
    return static_cast<size_t>(fmix64(h));
}

Dataset::Shard& Dataset::shard(std::string_view key) const {
    const size_t h = Hash{}(key);
    return shards_[(h >> 56) % kShards];
}

uint64_t Dataset::entry_cost(size_t key_len) {
    // The key's bytes plus the node, bucket and string bookkeeping of the hash map.
    return key_len + 96;
}

std::optional<std::string_view> Dataset::key_of(std::span<const uint8_t> data,
                                                std::array<uint8_t, 16>& tmp) const {
    const auto* p = reinterpret_cast<const char*>(data.data());
    if (type_ == DatasetType::String) {
        if (data.empty()) {
            return std::nullopt;  // an empty buffer never matches (Suricata)
        }
        return std::string_view(p, data.size());
    }
    if (type_ == DatasetType::Ipv6 && data.size() == 4) {
        tmp.fill(0);
        std::copy(data.begin(), data.end(), tmp.begin());
        return std::string_view(reinterpret_cast<const char*>(tmp.data()), tmp.size());
    }
    if (data.size() != key_len(type_)) {
        return std::nullopt;
    }
    return std::string_view(p, data.size());
}

bool Dataset::contains(std::span<const uint8_t> data) const {
    return reputation(data).has_value();
}

std::optional<uint16_t> Dataset::reputation(std::span<const uint8_t> data) const {
    std::array<uint8_t, 16> tmp{};
    const auto key = key_of(data, tmp);
    if (!key) {
        return std::nullopt;
    }
    Shard& s = shard(*key);
    std::lock_guard lock(s.mu);
    const auto it = s.map.find(*key);
    if (it == s.map.end()) {
        return std::nullopt;
    }
    return it->second.rep;
}

Dataset::AddResult Dataset::add(std::span<const uint8_t> data, std::optional<uint16_t> rep) {
    std::array<uint8_t, 16> tmp{};
    const auto key = key_of(data, tmp);
    if (!key) {
        return AddResult::BadLength;
    }
    Shard& s = shard(*key);
    std::lock_guard lock(s.mu);
    if (s.map.find(*key) != s.map.end()) {
        return AddResult::Present;
    }
    const uint64_t cost = entry_cost(key->size());
    // Reserve the memory first: two workers adding to different shards cannot both take
    // the last of the memcap.
    uint64_t cur = bytes_.load(std::memory_order_relaxed);
    do {
        if (cur + cost > memcap_) {
            return AddResult::Full;
        }
    } while (!bytes_.compare_exchange_weak(cur, cur + cost, std::memory_order_relaxed));
    s.map.emplace(std::string(*key), Entry{rep.value_or(0), rep.has_value()});
    return AddResult::Added;
}

bool Dataset::remove(std::span<const uint8_t> data) {
    std::array<uint8_t, 16> tmp{};
    const auto key = key_of(data, tmp);
    if (!key) {
        return false;
    }
    Shard& s = shard(*key);
    std::lock_guard lock(s.mu);
    const auto it = s.map.find(*key);
    if (it == s.map.end()) {
        return false;
    }
    bytes_.fetch_sub(entry_cost(it->first.size()), std::memory_order_relaxed);
    s.map.erase(it);
    return true;
}

size_t Dataset::size() const {
    size_t n = 0;
    for (const Shard& s : shards_) {
        std::lock_guard lock(s.mu);
        n += s.map.size();
    }
    return n;
}

Result<std::string> Dataset::parse_value(std::string_view text) const {
    const auto bad = [&](std::string_view what) {
        return make_error(ErrorCode::BadInput,
                          "'" + std::string(text) + "' is not " + std::string(what));
    };
    switch (type_) {
        case DatasetType::String: {
            auto d = b64_decode(text);
            if (!d) {
                return bad("base64 (string sets hold one base64-encoded value per line)");
            }
            if (d->empty()) {
                return bad("a non-empty base64 value");
            }
            return std::move(*d);
        }
        case DatasetType::Md5:
        case DatasetType::Sha256: {
            const size_t n = key_len(type_);
            if (text.size() != n * 2) {
                return bad(type_ == DatasetType::Md5 ? "an md5 hash (32 hex digits)"
                                                     : "a sha256 hash (64 hex digits)");
            }
            std::string out(n, '\0');
            for (size_t i = 0; i < n; ++i) {
                const int h = hex_digit(static_cast<uint8_t>(text[2 * i]));
                const int l = hex_digit(static_cast<uint8_t>(text[2 * i + 1]));
                if (h < 0 || l < 0) {
                    return bad("a hex hash");
                }
                out[i] = static_cast<char>(h * 16 + l);
            }
            return out;
        }
        case DatasetType::Ipv4: {
            const std::string s(text);
            std::array<uint8_t, 4> a{};
            if (inet_pton(AF_INET, s.c_str(), a.data()) != 1) {
                return bad("an IPv4 address");
            }
            return std::string(reinterpret_cast<const char*>(a.data()), a.size());
        }
        case DatasetType::Ipv6: {
            const std::string s(text);
            std::array<uint8_t, 16> a{};
            if (s.find(':') == std::string::npos) {
                if (inet_pton(AF_INET, s.c_str(), a.data()) != 1) {
                    return bad("an IP address");
                }
            } else {
                if (inet_pton(AF_INET6, s.c_str(), a.data()) != 1) {
                    return bad("an IP address");
                }
                // ::ffff:a.b.c.d is stored as the IPv4 address it maps (Suricata).
                static constexpr std::array<uint8_t, 12> kMapped{0, 0, 0, 0, 0,    0,
                                                                 0, 0, 0, 0, 0xff, 0xff};
                if (std::equal(kMapped.begin(), kMapped.end(), a.begin())) {
                    std::copy(a.begin() + 12, a.end(), a.begin());
                    std::fill(a.begin() + 4, a.end(), 0);
                }
            }
            return std::string(reinterpret_cast<const char*>(a.data()), a.size());
        }
    }
    return bad("a value");
}

std::string Dataset::format_entry(std::string_view key, std::optional<uint16_t> rep) const {
    std::string out;
    switch (type_) {
        case DatasetType::String:
            out = b64_encode(key);
            break;
        case DatasetType::Md5:
        case DatasetType::Sha256:
            out = to_hex(reinterpret_cast<const uint8_t*>(key.data()), key.size());
            break;
        case DatasetType::Ipv4:
        case DatasetType::Ipv6: {
            std::array<char, INET6_ADDRSTRLEN> buf{};
            const bool v4 = key.size() == 4 ||
                            std::all_of(key.begin() + 4, key.end(), [](char c) { return c == 0; });
            inet_ntop(v4 ? AF_INET : AF_INET6, key.data(), buf.data(), buf.size());
            out = buf.data();
            break;
        }
    }
    if (rep) {
        out += "," + std::to_string(*rep);
    }
    return out;
}

Status Dataset::load_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return make_error(ErrorCode::Io, "cannot open '" + path + "'");
    }
    std::string line;
    uint32_t n = 0;
    while (std::getline(in, line)) {
        ++n;
        if (!line.empty() && line.back() == '\r') {
            line.pop_back();
        }
        if (line.empty()) {
            continue;
        }
        const auto where = [&]() { return path + ":" + std::to_string(n) + ": "; };
        std::string_view text = line;
        std::optional<uint16_t> rep;
        if (const size_t comma = text.find(','); comma != std::string_view::npos) {
            const std::string_view r = text.substr(comma + 1);
            uint32_t v = 0;
            bool ok = !r.empty() && r.size() <= 5;
            for (char c : r) {
                ok = ok && c >= '0' && c <= '9';
                v = v * 10 + static_cast<uint32_t>(c - '0');
            }
            if (!ok || v > 65535) {
                return make_error(
                    ErrorCode::BadInput,
                    where() + "'" + std::string(r) + "' is not a valid reputation value (0-65535)");
            }
            rep = static_cast<uint16_t>(v);
            text = text.substr(0, comma);
        }
        auto key = parse_value(text);
        if (!key) {
            return make_error(ErrorCode::BadInput, where() + key.error().message);
        }
        const auto* p = reinterpret_cast<const uint8_t*>(key->data());
        if (add({p, key->size()}, rep) == AddResult::Full) {
            return make_error(ErrorCode::BadInput, where() + "the set is over its memcap (" +
                                                       std::to_string(memcap_) +
                                                       " bytes); raise memcap");
        }
    }
    if (in.bad()) {
        return make_error(ErrorCode::Io, "cannot read '" + path + "'");
    }
    return Ok{};
}

Status Dataset::save_file(const std::string& path) const {
    std::vector<std::string> lines;
    for (const Shard& s : shards_) {
        std::lock_guard lock(s.mu);
        for (const auto& [key, e] : s.map) {
            lines.push_back(format_entry(key, e.has_rep ? std::optional(e.rep) : std::nullopt));
        }
    }
    std::sort(lines.begin(), lines.end());
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) {
            return make_error(ErrorCode::Io, "dataset '" + name_ + "': cannot write '" + tmp + "'");
        }
        for (const std::string& l : lines) {
            out << l << '\n';
        }
        out.flush();
        if (!out) {
            return make_error(ErrorCode::Io, "dataset '" + name_ + "': cannot write '" + tmp + "'");
        }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        return make_error(ErrorCode::Io, "dataset '" + name_ + "': cannot rename to '" + path +
                                             "': " + ec.message());
    }
    return Ok{};
}

// --- DatasetRegistry ---

Result<std::string> DatasetRegistry::save_path(const std::string& written) const {
    namespace fs = std::filesystem;
    if (!cfg_.allow_write) {
        return make_error(ErrorCode::BadInput,
                          "save and state files are disabled (datasets.rules.allow-write: no)");
    }
    const fs::path p(written);
    if (!cfg_.allow_absolute) {
        if (p.is_absolute()) {
            return make_error(ErrorCode::BadInput,
                              "absolute path '" + written +
                                  "' not allowed (datasets.rules.allow-absolute-filenames)");
        }
        for (const auto& part : p) {
            if (part == "..") {
                return make_error(ErrorCode::BadInput,
                                  "'" + written +
                                      "' leaves the data directory (datasets.rules."
                                      "allow-absolute-filenames)");
            }
        }
    }
    if (p.is_absolute()) {
        return written;
    }
    return (fs::path(cfg_.data_dir) / p).string();
}

Result<DatasetPtr> DatasetRegistry::get(const DatasetSpec& spec, const std::string& rule_file) {
    namespace fs = std::filesystem;
    const std::string q = "dataset '" + spec.name + "': ";
    auto err = [&](const std::string& m) { return make_error(ErrorCode::BadInput, q + m); };
    if (!cfg_.enabled) {
        return err("datasets are disabled (datasets.enabled: no)");
    }
    // Resolve the paths as Suricata: load next to the rule file, save and state in the data
    // directory.
    std::string load;
    std::string save;
    if (!spec.save.empty()) {
        auto sp = save_path(spec.save);
        if (!sp) {
            return err(sp.error().message);
        }
        save = std::move(*sp);
        if (spec.state) {
            load = save;
        }
    }
    if (!spec.load.empty() && !spec.state) {
        const fs::path p(spec.load);
        if (p.is_absolute() || rule_file.empty()) {
            load = spec.load;
        } else {
            load = (fs::path(rule_file).parent_path() / p).string();
        }
    }
    std::lock_guard lock(mu_);
    const std::string key = lower_copy(spec.name);
    if (const auto it = sets_.find(key); it != sets_.end()) {
        const DatasetPtr& set = it->second;
        if (spec.type && *spec.type != set->type()) {
            return err("already declared with type " + std::string(dataset_type_name(set->type())) +
                       ", not " + std::string(dataset_type_name(*spec.type)));
        }
        if (!load.empty() || !save.empty()) {
            if (load != set->load_path()) {
                return err("load file '" + load + "' differs from '" + set->load_path() +
                           "' declared before");
            }
            if (save != set->save_path()) {
                return err("save file '" + save + "' differs from '" + set->save_path() +
                           "' declared before");
            }
        }
        return set;
    }
    if (!spec.type) {
        return err(
            "not declared before and no type given (add 'type <string|md5|sha256|ipv4|ip>')");
    }
    auto set = std::make_shared<Dataset>(
        spec.name, *spec.type, spec.memcap != 0 ? spec.memcap : cfg_.default_memcap,
        spec.hashsize != 0 ? spec.hashsize : cfg_.default_hashsize);
    set->load_ = load;
    set->save_ = save;
    if (!load.empty()) {
        std::error_code ec;
        // A state file that does not exist yet is an empty set (it is written at shutdown).
        if (!(spec.state && !fs::exists(load, ec))) {
            if (auto st = set->load_file(load); !st) {
                return err("load: " + st.error().message);
            }
        }
    }
    sets_.emplace(key, set);
    return set;
}

std::vector<std::string> DatasetRegistry::save_all() const {
    std::vector<std::string> errors;
    std::lock_guard lock(mu_);
    for (const auto& [key, set] : sets_) {
        if (set->save_path().empty()) {
            continue;
        }
        std::error_code ec;
        const auto dir = std::filesystem::path(set->save_path()).parent_path();
        if (!dir.empty()) {
            std::filesystem::create_directories(dir, ec);
        }
        if (auto st = set->save_file(set->save_path()); !st) {
            errors.push_back(st.error().message);
        }
    }
    return errors;
}

size_t DatasetRegistry::size() const {
    std::lock_guard lock(mu_);
    return sets_.size();
}

}  // namespace vigil::rules
