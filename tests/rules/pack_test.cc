// Rule packs on real files and real .tar.zst archives: a round trip, tampering, signatures,
// versions, and hostile archives built here with libarchive, each refused with its reason.

#include "rules/pack.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace vigil::rules;

constexpr const char* kRulesA =
    "# a comment\n"
    "alert tcp any any -> any 80 (msg:\"a one\"; content:\"one\"; sid:1001; rev:1;)\n"
    "alert tcp any any -> any 80 (msg:\"a two\"; content:\"two\"; sid:1002; rev:2;)\n";
constexpr const char* kRulesB =
    "alert udp any any -> any 53 (msg:\"b\"; content:\"dns\"; sid:2001; rev:1;)\n";

void write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
}

std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

class PackTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl = (fs::temp_directory_path() / "pack_test.XXXXXX").string();
        ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
        src_ = dir_ / "src";
        write(src_ / "a.rules", kRulesA);
        write(src_ / "rules" / "b.rules", kRulesB);
        write(src_ / "classification.config",
              "config classification: misc-activity,Misc activity,3\n");
        write(src_ / "README", "not packed\n");
    }
    void TearDown() override { fs::remove_all(dir_); }

    PackSummary make_pack(const fs::path& out, const std::string& key = "",
                          const std::string& min_version = "0.1.0") {
        PackOptions o;
        o.name = "test";
        o.version = "2025.07.01";
        o.min_sensor_version = min_version;
        o.created = "2025-07-01T12:00:00Z";
        o.key_path = key;
        auto r = write_pack(src_.string(), out.string(), o);
        EXPECT_TRUE(r) << (r ? "" : r.error().message);
        return r ? *r : PackSummary{};
    }

    fs::path dir_, src_;
};

TEST_F(PackTest, RoundTripSignedPack) {
    auto key = generate_signing_key((dir_ / "keys").string());
    ASSERT_TRUE(key) << key.error().message;
    EXPECT_EQ(fs::status(key->secret_path).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write);
    const auto sum = make_pack(dir_ / "p.tar.zst", key->secret_path);
    EXPECT_EQ(sum.rule_files, 2u);
    EXPECT_EQ(sum.other_files, 1u);
    EXPECT_EQ(sum.ignored_files, 1u);
    EXPECT_EQ(sum.key_id, key->key_id);

    auto pack = read_pack((dir_ / "p.tar.zst").string());
    ASSERT_TRUE(pack) << pack.error().message;
    EXPECT_EQ(pack->manifest.name, "test");
    EXPECT_EQ(pack->manifest.version, "2025.07.01");
    EXPECT_EQ(pack->manifest.created, "2025-07-01T12:00:00Z");
    EXPECT_EQ(pack->manifest.min_sensor_version, "0.1.0");
    EXPECT_EQ(pack->rule_files(), (std::vector<std::string>{"rules/a.rules", "rules/b.rules"}));
    EXPECT_EQ(pack->files.at("rules/a.rules"), kRulesA);
    EXPECT_EQ(pack->files.count("classification.config"), 1u);
    EXPECT_EQ(pack->digest, sum.digest);
    EXPECT_EQ(pack->manifest.files.at("rules/b.rules"), sha256_hex(kRulesB));

    auto trusted = load_trusted_keys(key->public_path);
    ASSERT_TRUE(trusted) << trusted.error().message;
    auto who = verify_signature(*pack, *trusted);
    ASSERT_TRUE(who) << who.error().message;
    EXPECT_EQ(who->key_id, key->key_id);
    EXPECT_TRUE(check_min_version(*pack, "0.1.0"));
    EXPECT_TRUE(check_min_version(*pack, "0.10"));

    // The same pack as a folder reads the same.
    ASSERT_TRUE(extract_pack(*pack, (dir_ / "x").string()));
    auto again = read_pack((dir_ / "x").string());
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_EQ(again->digest, pack->digest);
    EXPECT_TRUE(verify_signature(*again, *trusted));

    // Packing again the same way gives the same manifest (a pack's digest names its content).
    make_pack(dir_ / "p2.tar.zst", key->secret_path);
    EXPECT_EQ(read_pack((dir_ / "p2.tar.zst").string())->digest, pack->digest);
}

TEST_F(PackTest, KeygenNeverOverwrites) {
    ASSERT_TRUE(generate_signing_key((dir_ / "keys").string()));
    auto again = generate_signing_key((dir_ / "keys").string());
    ASSERT_FALSE(again);
    EXPECT_NE(again.error().message.find("exists; not overwritten"), std::string::npos);
}

TEST_F(PackTest, SecretKeyReadableByOthersIsRefused) {
    auto key = generate_signing_key((dir_ / "keys").string());
    ASSERT_TRUE(key);
    chmod(key->secret_path.c_str(), 0644);
    PackOptions o;
    o.version = "1";
    o.key_path = key->secret_path;
    auto r = write_pack(src_.string(), (dir_ / "p.tar.zst").string(), o);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("chmod 600"), std::string::npos) << r.error().message;
}

TEST_F(PackTest, EditedFileNamesTheFile) {
    make_pack(dir_ / "p.tar.zst");
    auto pack = read_pack((dir_ / "p.tar.zst").string());
    ASSERT_TRUE(pack);
    ASSERT_TRUE(extract_pack(*pack, (dir_ / "x").string()));
    write(dir_ / "x" / "rules" / "b.rules", std::string(kRulesB) + "# one more line\n");
    auto r = read_pack((dir_ / "x").string());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, vigil::ErrorCode::BadInput);
    EXPECT_NE(r.error().message.find("rules/b.rules: sha256 mismatch"), std::string::npos)
        << r.error().message;
}

TEST_F(PackTest, SignatureRefusals) {
    auto key = generate_signing_key((dir_ / "keys").string());
    auto other = generate_signing_key((dir_ / "other").string());
    ASSERT_TRUE(key && other);
    auto trusted = load_trusted_keys((dir_ / "keys").string());  // a folder of *.pub
    auto untrusted = load_trusted_keys(other->public_path);
    ASSERT_TRUE(trusted && untrusted);

    make_pack(dir_ / "unsigned.tar.zst");
    auto u = read_pack((dir_ / "unsigned.tar.zst").string());
    ASSERT_TRUE(u);
    auto r = verify_signature(*u, *trusted);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("unsigned"), std::string::npos) << r.error().message;

    make_pack(dir_ / "signed.tar.zst", key->secret_path);
    auto s = read_pack((dir_ / "signed.tar.zst").string());
    ASSERT_TRUE(s);
    r = verify_signature(*s, *untrusted);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("signed by key " + key->key_id + ", which is not a trusted"),
              std::string::npos)
        << r.error().message;

    // The manifest changed after signing (its hashes still match the files).
    ASSERT_TRUE(extract_pack(*s, (dir_ / "x").string()));
    std::string m = read(dir_ / "x" / "manifest.yaml");
    m.replace(m.find("\"test\""), 6, "\"evil\"");
    write(dir_ / "x" / "manifest.yaml", m);
    auto edited = read_pack((dir_ / "x").string());
    ASSERT_TRUE(edited) << edited.error().message;
    r = verify_signature(*edited, *trusted);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("bad signature by key " + key->key_id), std::string::npos)
        << r.error().message;

    write(dir_ / "x" / "manifest.sig", "ed25519 nothex\n");
    auto garbled = read_pack((dir_ / "x").string());
    ASSERT_TRUE(garbled);
    r = verify_signature(*garbled, *trusted);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("manifest.sig: malformed"), std::string::npos);
}

TEST_F(PackTest, TooNewForTheSensor) {
    make_pack(dir_ / "p.tar.zst", "", "0.10.0");
    auto pack = read_pack((dir_ / "p.tar.zst").string());
    ASSERT_TRUE(pack);
    auto st = check_min_version(*pack, "0.9.9");
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message.find("needs sensor version 0.10.0 or later"), std::string::npos)
        << st.error().message;
    EXPECT_NE(st.error().message.find("this is 0.9.9"), std::string::npos);
    EXPECT_TRUE(check_min_version(*pack, "0.10.0"));
    EXPECT_TRUE(check_min_version(*pack, "1.0"));
}

TEST(PackManifest, ErrorsNameTheLine) {
    const std::string good =
        "format: 1\nname: n\nversion: v1\ncreated: 2025-07-01T12:00:00Z\n"
        "min-sensor-version: 0.1.0\nfiles:\n  rules/a.rules: " +
        std::string(64, 'a') + "\n";
    EXPECT_TRUE(parse_manifest(good, "manifest.yaml"));
    auto r = parse_manifest(good + "colour: blue\n", "manifest.yaml");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("manifest.yaml:8: unknown key 'colour'"), std::string::npos)
        << r.error().message;
    r = parse_manifest("name: [unclosed\n", "manifest.yaml");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("not valid YAML"), std::string::npos);
    std::string traversal = good;
    traversal.replace(traversal.find("rules/a.rules"), 13, "../a.rules");
    r = parse_manifest(traversal, "manifest.yaml");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("path traversal"), std::string::npos) << r.error().message;
    std::string bad_time = good;
    bad_time.replace(bad_time.find("2025-07-01T12:00:00Z"), 20, "yesterday");
    r = parse_manifest(bad_time, "manifest.yaml");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("RFC 3339"), std::string::npos);
}

// ---- Hostile archives ---------------------------------------------------------------------

struct Entry {
    Entry(std::string n, std::string c, mode_t t = AE_IFREG, std::string l = "")
        : name(std::move(n)), content(std::move(c)), type(t), link(std::move(l)) {}
    std::string name;
    std::string content;
    mode_t type;
    std::string link;  // symlink target or hard link source
};

void write_tar_zst(const fs::path& out, const std::vector<Entry>& entries) {
    archive* a = archive_write_new();
    archive_write_add_filter_zstd(a);
    archive_write_set_format_pax_restricted(a);
    ASSERT_EQ(archive_write_open_filename(a, out.c_str()), ARCHIVE_OK);
    for (const auto& e : entries) {
        archive_entry* ae = archive_entry_new();
        archive_entry_set_pathname(ae, e.name.c_str());
        archive_entry_set_filetype(ae, e.type);
        archive_entry_set_perm(ae, 0644);
        if (e.type == AE_IFLNK) {
            archive_entry_set_symlink(ae, e.link.c_str());
        } else if (!e.link.empty()) {
            archive_entry_set_hardlink(ae, e.link.c_str());
        } else {
            archive_entry_set_size(ae, static_cast<la_int64_t>(e.content.size()));
        }
        ASSERT_EQ(archive_write_header(a, ae), ARCHIVE_OK) << archive_error_string(a);
        if (!e.content.empty()) {
            archive_write_data(a, e.content.data(), e.content.size());
        }
        archive_entry_free(ae);
    }
    archive_write_close(a);
    archive_write_free(a);
}

// A manifest listing `files` (name -> content) with their true hashes.
Entry manifest_for(const std::vector<std::pair<std::string, std::string>>& files) {
    std::string m =
        "format: 1\nname: hostile\nversion: \"1\"\ncreated: \"2025-07-01T12:00:00Z\"\n"
        "min-sensor-version: \"0.1.0\"\nfiles:\n";
    for (const auto& [name, content] : files) {
        m += "  \"" + name + "\": " + sha256_hex(content) + "\n";
    }
    return {kManifestName, m};
}

class HostilePack : public PackTest {
protected:
    // The error reading an archive of `entries` (plus a good manifest and rule file).
    std::string refusal(std::vector<Entry> entries, const PackLimits& limits = {}) {
        entries.insert(entries.begin(), manifest_for({{"rules/a.rules", kRulesA}}));
        entries.push_back({"rules/a.rules", kRulesA});
        const fs::path p = dir_ / "hostile.tar.zst";
        fs::remove(p);
        write_tar_zst(p, entries);
        auto r = read_pack(p.string(), limits);
        if (r) {
            return "(accepted)";
        }
        EXPECT_EQ(r.error().code, vigil::ErrorCode::BadInput) << r.error().message;
        return r.error().message;
    }
};

TEST_F(HostilePack, GoodArchiveIsAccepted) {
    EXPECT_EQ(refusal({}), "(accepted)");
    EXPECT_EQ(refusal({{"rules", "", AE_IFDIR}, {"./", "", AE_IFDIR}}), "(accepted)");
}

TEST_F(HostilePack, PathTraversal) {
    const auto why = refusal({{"../evil.rules", "x"}});
    EXPECT_NE(why.find("'../evil.rules': '..' in the path refused"), std::string::npos) << why;
    const auto deep = refusal({{"rules/../../evil.rules", "x"}});
    EXPECT_NE(deep.find("path traversal"), std::string::npos) << deep;
}

TEST_F(HostilePack, AbsolutePath) {
    const auto why = refusal({{"/etc/cron.d/evil", "x"}});
    EXPECT_NE(why.find("'/etc/cron.d/evil': absolute path refused"), std::string::npos) << why;
}

TEST_F(HostilePack, SymlinkAndHardlink) {
    const auto sym = refusal({{"rules/passwd.rules", "", AE_IFLNK, "/etc/passwd"}});
    EXPECT_NE(sym.find("'rules/passwd.rules': symbolic link refused"), std::string::npos) << sym;
    const auto hard = refusal({{"rules/hard.rules", "", AE_IFREG, "/etc/shadow"}});
    EXPECT_NE(hard.find("'rules/hard.rules': hard link refused"), std::string::npos) << hard;
    const auto dev = refusal({{"rules/null", "", AE_IFCHR}});
    EXPECT_NE(dev.find("device, FIFO or socket"), std::string::npos) << dev;
}

TEST_F(HostilePack, FileOverTheSizeLimit) {
    PackLimits small;
    small.max_file_bytes = 1024;
    const auto why = refusal({{"rules/big.rules", std::string(4096, '#')}}, small);
    EXPECT_NE(why.find("rules/big.rules: 4096 bytes, over the limit of 1024 per file"),
              std::string::npos)
        << why;
    PackLimits total;
    total.max_total_bytes = 1024;
    const auto all = refusal({{"rules/x.rules", std::string(800, '#')}}, total);
    EXPECT_NE(all.find("exceed the limit of 1024 bytes in all"), std::string::npos) << all;
    PackLimits few;
    few.max_entries = 2;
    const auto many = refusal({{"rules/x.rules", "#"}}, few);
    EXPECT_NE(many.find("more than 2 entries"), std::string::npos) << many;
}

TEST_F(HostilePack, FilesNotMatchingTheManifest) {
    const auto extra = refusal({{"rules/extra.rules", "alert"}});
    EXPECT_NE(extra.find("rules/extra.rules: in the pack but not listed in manifest.yaml"),
              std::string::npos)
        << extra;

    const fs::path p = dir_ / "missing.tar.zst";
    write_tar_zst(p, {manifest_for({{"rules/a.rules", kRulesA}, {"rules/gone.rules", "x"}}),
                      {"rules/a.rules", kRulesA}});
    auto r = read_pack(p.string());
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("rules/gone.rules: listed in manifest.yaml but missing"),
              std::string::npos)
        << r.error().message;

    write_tar_zst(p, {manifest_for({{"rules/a.rules", kRulesA}}), {"rules/a.rules", "changed"}});
    r = read_pack(p.string());
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("rules/a.rules: sha256 mismatch"), std::string::npos);

    write_tar_zst(p, {{"rules/a.rules", kRulesA}});
    r = read_pack(p.string());
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("no manifest.yaml"), std::string::npos);

    const auto twice = refusal({{"rules/a.rules", kRulesA}});
    EXPECT_NE(twice.find("rules/a.rules: appears twice"), std::string::npos) << twice;
}

TEST_F(HostilePack, NotAnArchive) {
    write(dir_ / "junk.tar.zst", "this is not zstd");
    auto r = read_pack((dir_ / "junk.tar.zst").string());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, vigil::ErrorCode::BadInput);
    EXPECT_NE(r.error().message.find("not a readable"), std::string::npos) << r.error().message;
    auto missing = read_pack((dir_ / "nope.tar.zst").string());
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message.find("no such file"), std::string::npos);
}

TEST_F(PackTest, SymlinkInAPackFolderIsRefused) {
    make_pack(dir_ / "p.tar.zst");
    auto pack = read_pack((dir_ / "p.tar.zst").string());
    ASSERT_TRUE(pack);
    ASSERT_TRUE(extract_pack(*pack, (dir_ / "x").string()));
    fs::create_symlink("/etc/passwd", dir_ / "x" / "rules" / "passwd.rules");
    auto r = read_pack((dir_ / "x").string());
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("'rules/passwd.rules': symbolic link refused"),
              std::string::npos)
        << r.error().message;
}

TEST_F(PackTest, SourcesSingleFileAndTarball) {
    // One suricata.rules, as suricata-update writes it.
    write(dir_ / "suricata.rules", std::string(kRulesA) + kRulesB);
    PackOptions o;
    o.version = "1";
    auto one = write_pack((dir_ / "suricata.rules").string(), (dir_ / "one.tar.zst").string(), o);
    ASSERT_TRUE(one) << one.error().message;
    auto p1 = read_pack((dir_ / "one.tar.zst").string());
    ASSERT_TRUE(p1);
    EXPECT_EQ(p1->rule_files(), std::vector<std::string>{"rules/suricata.rules"});

    // A tarball with a rules/ folder, as ET Open ships (gzip).
    archive* a = archive_write_new();
    archive_write_add_filter_gzip(a);
    archive_write_set_format_pax_restricted(a);
    ASSERT_EQ(archive_write_open_filename(a, (dir_ / "et.tar.gz").c_str()), ARCHIVE_OK);
    for (const auto& [name, content] : std::vector<std::pair<std::string, std::string>>{
             {"rules/emerging-a.rules", kRulesA},
             {"rules/classification.config", "config classification: x,X,1\n"},
             {"rules/LICENSE", "text\n"}}) {
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
    auto et = write_pack((dir_ / "et.tar.gz").string(), (dir_ / "et.tar.zst").string(), o);
    ASSERT_TRUE(et) << et.error().message;
    EXPECT_EQ(et->rule_files, 1u);
    EXPECT_EQ(et->other_files, 1u);
    EXPECT_EQ(et->ignored_files, 1u);
    auto p2 = read_pack((dir_ / "et.tar.zst").string());
    ASSERT_TRUE(p2);
    EXPECT_EQ(p2->files.count("classification.config"), 1u);

    // Not overwritten without force.
    auto again = write_pack((dir_ / "et.tar.gz").string(), (dir_ / "et.tar.zst").string(), o);
    ASSERT_FALSE(again);
    EXPECT_NE(again.error().message.find("exists; not overwritten"), std::string::npos);
}

}  // namespace
