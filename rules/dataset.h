#pragma once
// Datasets (Suricata's dataset and datarep keywords): named sets of strings, hashes or
// addresses shared by every worker, with an optional reputation value per entry; loaded from
// and saved to Suricata's file formats. A DatasetRegistry belongs to a rule set and is handed
// on to the set a reload builds, so that what `dataset:set` learnt survives the reload.

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"

namespace vigil::rules {

// Suricata's set types. `ip` is Ipv6 (Suricata's name for the mixed type): IPv4 addresses in
// it are kept as their 4 bytes followed by 12 zero bytes, as Suricata stores them.
enum class DatasetType : uint8_t { String, Md5, Sha256, Ipv4, Ipv6 };

// "string", "md5", "sha256", "ipv4", "ipv6" / "ip"; nullopt for anything else.
std::optional<DatasetType> dataset_type_by_name(std::string_view name);
std::string_view dataset_type_name(DatasetType t);

// The datasets section of the sensor configuration (suricata.yaml's `datasets:` and
// `default-data-dir`).
struct DatasetConfig {
    bool enabled = true;                           // datasets.enabled: off rejects the keywords
    std::string data_dir = "/var/lib/vigil/data";  // where relative save / state files go
    uint64_t default_memcap = 16ULL << 20;         // datasets.defaults.memcap (Suricata's 16 MiB)
    uint32_t default_hashsize = 4096;              // datasets.defaults.hashsize
    bool allow_write = true;                       // datasets.rules.allow-write
    bool allow_absolute = false;                   // datasets.rules.allow-absolute-filenames
};

// A set as a rule declares it (dataset:<cmd>,<name>,type ...,load ...).
struct DatasetSpec {
    std::string name;
    std::optional<DatasetType> type;  // none: the set must already exist
    std::string load;                 // as written ("" none)
    std::string save;                 // as written; with `state` the same as load
    bool state = false;
    uint64_t memcap = 0;    // 0: the default
    uint32_t hashsize = 0;  // 0: the default
};

// One set. Lookups and changes are thread safe: entries are spread over shards, each behind
// its own mutex, so workers rarely wait on each other.
class Dataset {
public:
    Dataset(std::string name, DatasetType type, uint64_t memcap, uint32_t hashsize);

    const std::string& name() const { return name_; }
    DatasetType type() const { return type_; }
    const std::string& load_path() const { return load_; }
    const std::string& save_path() const { return save_; }

    // A buffer as the set's key: strings as they are, md5 16 bytes, sha256 32, ipv4 4 and
    // ip 16 (or 4, an IPv4 address). Other lengths never match and cannot be added.
    bool contains(std::span<const uint8_t> data) const;
    // The entry's reputation (0 when it was added without one); nullopt when absent.
    std::optional<uint16_t> reputation(std::span<const uint8_t> data) const;

    enum class AddResult : uint8_t { Added, Present, Full, BadLength };
    AddResult add(std::span<const uint8_t> data, std::optional<uint16_t> rep = std::nullopt);
    // True when the entry was there (and is gone).
    bool remove(std::span<const uint8_t> data);

    size_t size() const;
    uint64_t memory() const { return bytes_.load(std::memory_order_relaxed); }
    uint64_t memcap() const { return memcap_; }

    // Reads a file in Suricata's format (one entry per line, optionally ",<reputation>":
    // strings base64, hashes hex, addresses as text). Errors name the file and line.
    Status load_file(const std::string& path);
    // Writes every entry to `path` in the same format, sorted (atomically: a temporary file
    // renamed over it).
    Status save_file(const std::string& path) const;

    // One entry as a file line (without the newline), and back.
    std::string format_entry(std::string_view key, std::optional<uint16_t> rep) const;
    Result<std::string> parse_value(std::string_view text) const;

private:
    friend class DatasetRegistry;
    struct Entry {
        uint16_t rep = 0;
        bool has_rep = false;
    };
    struct Hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const;
    };
    struct Eq {
        using is_transparent = void;
        bool operator()(std::string_view a, std::string_view b) const { return a == b; }
    };
    static constexpr size_t kShards = 16;
    struct Shard {
        mutable std::mutex mu;
        std::unordered_map<std::string, Entry, Hash, Eq> map;
    };
    // The key of a buffer (ip: an IPv4 address padded to 16 bytes in `tmp`); nullopt when the
    // length does not fit the type.
    std::optional<std::string_view> key_of(std::span<const uint8_t> data,
                                           std::array<uint8_t, 16>& tmp) const;
    Shard& shard(std::string_view key) const;
    static uint64_t entry_cost(size_t key_len);

    std::string name_;
    DatasetType type_;
    std::string load_;
    std::string save_;
    uint64_t memcap_;
    mutable std::array<Shard, kShards> shards_;
    std::atomic<uint64_t> bytes_{0};
};
using DatasetPtr = std::shared_ptr<Dataset>;

// The sets of a rule set, by name (case-insensitive, as Suricata).
class DatasetRegistry {
public:
    explicit DatasetRegistry(DatasetConfig cfg = {}) : cfg_(std::move(cfg)) {}

    const DatasetConfig& config() const { return cfg_; }

    // The set a rule names: found by name (its type, load and save must agree with the
    // rule's when the rule gives them), or created and loaded. `rule_file`: relative load
    // paths are relative to its folder; save and state go to the data directory.
    Result<DatasetPtr> get(const DatasetSpec& spec, const std::string& rule_file);

    // Writes every set that has a save or state file. One message per failure.
    std::vector<std::string> save_all() const;

    size_t size() const;

private:
    Result<std::string> save_path(const std::string& written) const;

    DatasetConfig cfg_;
    mutable std::mutex mu_;
    std::map<std::string, DatasetPtr> sets_;  // by lower-case name
};
using DatasetRegistryPtr = std::shared_ptr<DatasetRegistry>;

}  // namespace vigil::rules
