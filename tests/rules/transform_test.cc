// Buffer transforms (rules/transform.h) on real bytes: what a rule writer's content sees after
// xor, pcrexform, from_base64, the digests, gunzip, domain and tld — and that a transform
// which cannot apply leaves the buffer as it was, as Suricata does.

#include "rules/transform.h"

#include <gtest/gtest.h>

#include <string>

#include "common/text.h"

namespace vigil::rules {
namespace {

std::string run(std::string_view keyword, TransformKind kind, std::optional<std::string_view> value,
                std::string buf) {
    auto t = parse_transform(kind, keyword, value);
    EXPECT_TRUE(t.ok()) << keyword << ": " << t.error().message;
    if (t.ok()) {
        apply_transform(*t, buf);
    }
    return buf;
}

std::string xored(std::string_view s, uint8_t key) {
    std::string out(s);
    for (char& c : out) {
        c = static_cast<char>(c ^ key);
    }
    return out;
}

TEST(Transform, XorStaticKeyRepeatsOverTheBuffer) {
    // "0d0ac8ff" against "password=": each byte XORed with key[i % 4].
    const std::string plain = "password=secret";
    std::string enc = plain;
    const uint8_t key[] = {0x0d, 0x0a, 0xc8, 0xff};
    for (size_t i = 0; i < enc.size(); ++i) {
        enc[i] = static_cast<char>(enc[i] ^ key[i % 4]);
    }
    EXPECT_EQ(run("xor", TransformKind::Xor, "\"0d0ac8ff\"", enc), plain);
    // From an offset: the bytes before it pass unchanged.
    EXPECT_EQ(run("xor", TransformKind::Xor, "offset 2,42", "ab" + xored("hello", 0x42)),
              "abhello");
    // Past the end: unchanged.
    EXPECT_EQ(run("xor", TransformKind::Xor, "offset 9,42", "abc"), "abc");
}

TEST(Transform, XorKeyExtractedFromTheBuffer) {
    // The first byte is the key; the data after it is XORed with it (detect-xor-key-01).
    const std::string body = "B" + xored("password=hunter2", 'B');
    EXPECT_EQ(run("xor", TransformKind::Xor, "offset 1,extract 1 0", body), "Bpassword=hunter2");
    // Two keys at two places (detect-xor-key-12): each rule decodes its own part.
    const std::string two = "B" + xored("hello", 'B') + "7" + xored("world", '7');
    EXPECT_NE(run("xor", TransformKind::Xor, "offset 1,extract 1 0", two).find("hello"),
              std::string::npos);
    EXPECT_NE(run("xor", TransformKind::Xor, "offset 7,extract 1 6", two).find("world"),
              std::string::npos);
    // A key outside the buffer: the buffer passes unchanged (detect-xor-key-13).
    EXPECT_EQ(run("xor", TransformKind::Xor, "extract 1 200", body), body);
}

TEST(Transform, PcrexformKeepsTheFirstGroup) {
    EXPECT_EQ(
        run("pcrexform", TransformKind::Pcrexform, R"x("/get\?data=(.*)")x", "/get?data=abc&x=1"),
        "abc&x=1");
    EXPECT_EQ(run("pcrexform", TransformKind::Pcrexform, R"x("id=([0-9]+)")x", "a id=42 b"), "42");
    // No match, or the group unset: unchanged.
    EXPECT_EQ(run("pcrexform", TransformKind::Pcrexform, R"x("id=([0-9]+)")x", "nothing"),
              "nothing");
    EXPECT_EQ(run("pcrexform", TransformKind::Pcrexform, R"x("x|(y)")x", "x"), "x");
}

TEST(Transform, FromBase64OffsetBytesAndModes) {
    EXPECT_EQ(run("from_base64", TransformKind::FromBase64, std::nullopt, "dGhpc2lzYXRlc3QK"),
              "thisisatest\n");
    EXPECT_EQ(run("from_base64", TransformKind::FromBase64, "offset 6", "/?arg=dGhpc2lzYXRlc3QK"),
              "thisisatest\n");
    EXPECT_EQ(run("from_base64", TransformKind::FromBase64, "bytes 8", "dGhpc2lzYXRlc3QK"),
              "thisis");
    // RFC 4648 stops at the first character outside the alphabet; RFC 2045 skips it; strict
    // refuses the input (unchanged).
    EXPECT_EQ(run("from_base64", TransformKind::FromBase64, "mode rfc4648", "dGhp c2lz"), "thi");
    EXPECT_EQ(run("from_base64", TransformKind::FromBase64, "mode rfc2045", "dGhp\r\nc2lz"),
              "thisis");
    EXPECT_EQ(run("from_base64", TransformKind::FromBase64, "mode strict", "dGhp c2lz"),
              "dGhp c2lz");
    // Padding ends the data; an offset past the end leaves the buffer.
    EXPECT_EQ(run("from_base64", TransformKind::FromBase64, std::nullopt, "YWI=Y2Q="), "ab");
    EXPECT_EQ(run("from_base64", TransformKind::FromBase64, "offset 40", "YWI="), "YWI=");
}

TEST(Transform, DigestsAreRawBytes) {
    const auto hex = [](const std::string& s) {
        return to_hex(reinterpret_cast<const uint8_t*>(s.data()), s.size());
    };
    EXPECT_EQ(hex(run("to_md5", TransformKind::ToMd5, std::nullopt, "abc")),
              "900150983cd24fb0d6963f7d28e17f72");
    EXPECT_EQ(hex(run("to_sha1", TransformKind::ToSha1, std::nullopt, "abc")),
              "a9993e364706816aba3e25717850c26c9cd0d89d");
    EXPECT_EQ(hex(run("to_sha256", TransformKind::ToSha256, std::nullopt, "abc")),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Transform, GunzipWithItsSizeBound) {
    // gzip of "This is compressed then base64-encoded\n" (transform-gunzip's payload).
    const std::string gz(
        "\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03\x0b\xc9\xc8\x2c\x56\x00\xa2\xe4\xfc\xdc\x82\xa2"
        "\xd4\xe2\xe2\xd4\x14\x85\x92\x8c\xd4\x3c\x85\xa4\xc4\xe2\x54\x33\x13\xdd\xd4\xbc\xe4\xfc"
        "\x94\xd4\x14\x2e\x00\x5b\x66\x82\xc8\x27\x00\x00\x00",
        57);
    EXPECT_EQ(run("gunzip", TransformKind::Gunzip, std::nullopt, gz),
              "This is compressed then base64-encoded\n");
    EXPECT_EQ(run("gunzip", TransformKind::Gunzip, "max-size 8", gz), "This is ");
    // Not gzip: unchanged.
    EXPECT_EQ(run("gunzip", TransformKind::Gunzip, std::nullopt, "plain text"), "plain text");
}

TEST(Transform, DomainAndTldFollowThePublicSuffixList) {
    EXPECT_EQ(run("domain", TransformKind::Domain, std::nullopt, "www.bbc.co.uk"), "bbc.co.uk");
    EXPECT_EQ(run("domain", TransformKind::Domain, std::nullopt, "a.b.suricata.io"), "suricata.io");
    EXPECT_EQ(run("tld", TransformKind::Tld, std::nullopt, "www.bbc.co.uk"), "co.uk");
    EXPECT_EQ(run("tld", TransformKind::Tld, std::nullopt, "suricata.io"), "io");
}

TEST(Transform, SameArgumentsMeanTheSameTransform) {
    const auto a = parse_transform(TransformKind::Pcrexform, "pcrexform", "\"a(b)\"");
    const auto b = parse_transform(TransformKind::Pcrexform, "pcrexform", "\"a(b)\"");
    const auto c = parse_transform(TransformKind::Pcrexform, "pcrexform", "\"a(c)\"");
    ASSERT_TRUE(a.ok() && b.ok() && c.ok());
    EXPECT_EQ(*a, *b);  // one buffer view for both rules
    EXPECT_FALSE(*a == *c);
}

}  // namespace
}  // namespace vigil::rules
