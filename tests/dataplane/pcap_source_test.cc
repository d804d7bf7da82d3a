#include "dataplane/pcap_source.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "dataplane/decode.h"
#include "dataplane/pcap_mmap_source.h"
#include "tests/dataplane/packet_builder.h"

namespace vigil::dataplane {
namespace {

namespace fs = std::filesystem;
using test::Bytes;

struct Record {
    uint32_t ts_sec = 0;
    uint32_t ts_usec = 0;
    Bytes data;
    uint32_t orig_len = 0;  // 0: same as data.size()
};

void le16(Bytes& b, uint16_t v) {
    b.push_back(static_cast<uint8_t>(v));
    b.push_back(static_cast<uint8_t>(v >> 8));
}

void le32(Bytes& b, uint32_t v) {
    le16(b, static_cast<uint16_t>(v));
    le16(b, static_cast<uint16_t>(v >> 16));
}

// Classic little-endian pcap. `offsets` receives the file offset of each record header.
Bytes make_pcap(uint32_t linktype, const std::vector<Record>& records,
                std::vector<size_t>* offsets = nullptr) {
    Bytes b;
    le32(b, 0xa1b2c3d4);
    le16(b, 2);
    le16(b, 4);
    le32(b, 0);  // thiszone
    le32(b, 0);  // sigfigs
    le32(b, 65535);
    le32(b, linktype);
    for (const Record& r : records) {
        if (offsets != nullptr) {
            offsets->push_back(b.size());
        }
        le32(b, r.ts_sec);
        le32(b, r.ts_usec);
        le32(b, static_cast<uint32_t>(r.data.size()));
        le32(b, r.orig_len != 0 ? r.orig_len : static_cast<uint32_t>(r.data.size()));
        test::append(b, r.data);
    }
    return b;
}

// Minimal pcapng: Section Header Block, one Interface Description Block (microsecond
// timestamps, the default), then one Enhanced Packet Block per record.
Bytes make_pcapng(uint16_t linktype, const std::vector<Record>& records,
                  std::vector<size_t>* offsets = nullptr) {
    Bytes b;
    le32(b, 0x0A0D0D0A);
    le32(b, 28);
    le32(b, 0x1A2B3C4D);
    le16(b, 1);
    le16(b, 0);
    le32(b, 0xffffffff);  // section length: unknown (-1, 64 bits)
    le32(b, 0xffffffff);
    le32(b, 28);
    le32(b, 1);
    le32(b, 20);
    le16(b, linktype);
    le16(b, 0);
    le32(b, 65535);
    le32(b, 20);
    for (const Record& r : records) {
        if (offsets != nullptr) {
            offsets->push_back(b.size());
        }
        const uint32_t padded = static_cast<uint32_t>((r.data.size() + 3) & ~size_t{3});
        const uint32_t total = 32 + padded;
        const uint64_t ts = uint64_t{r.ts_sec} * 1000000 + r.ts_usec;
        le32(b, 6);
        le32(b, total);
        le32(b, 0);  // interface id
        le32(b, static_cast<uint32_t>(ts >> 32));
        le32(b, static_cast<uint32_t>(ts));
        le32(b, static_cast<uint32_t>(r.data.size()));
        le32(b, r.orig_len != 0 ? r.orig_len : static_cast<uint32_t>(r.data.size()));
        test::append(b, r.data);
        b.resize(b.size() + (padded - r.data.size()), 0);
        le32(b, total);
    }
    return b;
}

std::vector<Record> three_records() {
    using test::ether;
    using test::ipv4;
    using test::kIpA;
    using test::kIpB;
    using test::kTypeIpv4;
    using test::tcp;
    using test::text;
    return {
        {1700000000, 1, ether(kTypeIpv4, ipv4(kProtoTcp, kIpA, kIpB, tcp(1, 80, kTcpSyn))), 0},
        {1700000000, 500000,
         ether(kTypeIpv4, ipv4(kProtoTcp, kIpB, kIpA, tcp(80, 1, kTcpSyn | kTcpAck))), 1514},
        {1700000001, 999999,
         ether(kTypeIpv4, ipv4(kProtoTcp, kIpA, kIpB, tcp(1, 80, kTcpAck, text("data")))), 0},
    };
}

class PcapSourceTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl = (fs::temp_directory_path() / "vigil_pcap_test_XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

    std::string write(const std::string& name, const Bytes& bytes) {
        std::string path = (dir_ / name).string();
        std::ofstream out(path, std::ios::binary);
        out.write(reinterpret_cast<const char*>(bytes.data()),
                  static_cast<std::streamsize>(bytes.size()));
        return path;
    }

    static PacketSourcePtr open_ok(const std::string& path) {
        auto r = PcapFileSource::open(path);
        EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
        return r.ok() ? std::move(r).value() : nullptr;
    }

    fs::path dir_;
};

TEST_F(PcapSourceTest, ReadsAllFramesOfAGoodFile) {
    const std::vector<Record> recs = three_records();
    const Bytes file = make_pcap(1, recs);
    const std::string path = write("good.pcap", file);
    PacketSourcePtr src = open_ok(path);
    ASSERT_NE(src, nullptr);
    EXPECT_EQ(src->name(), path);
    EXPECT_EQ(src->bytes_total(), file.size());
    EXPECT_FALSE(src->at_end());

    std::array<RawFrame, 8> burst{};
    const size_t n = src->next_burst(burst);
    ASSERT_EQ(n, 3U);
    for (size_t i = 0; i < n; ++i) {
        SCOPED_TRACE(i);
        EXPECT_EQ(burst[i].link, LinkType::Ethernet);
        EXPECT_EQ(burst[i].cap_len, recs[i].data.size());
        EXPECT_EQ(Bytes(burst[i].data, burst[i].data + burst[i].cap_len), recs[i].data);
        EXPECT_EQ(burst[i].ts_sec, recs[i].ts_sec);
        EXPECT_EQ(burst[i].ts_usec, recs[i].ts_usec);
    }
    EXPECT_EQ(burst[0].wire_len, recs[0].data.size());
    EXPECT_EQ(burst[1].wire_len, 1514U);
    // The frames decode.
    Packet pkt;
    pkt.data = burst[2].data;
    pkt.cap_len = burst[2].cap_len;
    EXPECT_EQ(decode(burst[2].link, pkt), DecodeStatus::Ok);
    EXPECT_EQ(pkt.payload_len, 4U);

    EXPECT_TRUE(src->at_end());
    EXPECT_EQ(src->next_burst(burst), 0U);
    EXPECT_TRUE(src->error().empty()) << src->error();
    EXPECT_EQ(src->bytes_read(), file.size());
}

TEST_F(PcapSourceTest, SmallBurstsKeepFramesValidUntilNextCall) {
    const std::vector<Record> recs = three_records();
    std::vector<size_t> offsets;
    const std::string path = write("small.pcap", make_pcap(1, recs, &offsets));
    PacketSourcePtr src = open_ok(path);
    ASSERT_NE(src, nullptr);
    std::array<RawFrame, 2> burst{};
    ASSERT_EQ(src->next_burst(burst), 2U);
    EXPECT_FALSE(src->at_end());
    EXPECT_EQ(Bytes(burst[0].data, burst[0].data + burst[0].cap_len), recs[0].data);
    EXPECT_EQ(Bytes(burst[1].data, burst[1].data + burst[1].cap_len), recs[1].data);
    EXPECT_EQ(src->bytes_read(), offsets[2]);
    ASSERT_EQ(src->next_burst(burst), 1U);
    EXPECT_EQ(Bytes(burst[0].data, burst[0].data + burst[0].cap_len), recs[2].data);
}

TEST_F(PcapSourceTest, LargeFramesSurviveArenaGrowth) {
    std::vector<Record> recs;
    for (uint8_t i = 0; i < 6; ++i) {
        recs.push_back({10, i, Bytes(60000 + i, static_cast<uint8_t>('a' + i)), 0});
    }
    const std::string path = write("big.pcap", make_pcap(1, recs));
    PacketSourcePtr src = open_ok(path);
    ASSERT_NE(src, nullptr);
    std::array<RawFrame, 8> burst{};
    ASSERT_EQ(src->next_burst(burst), 6U);
    for (size_t i = 0; i < 6; ++i) {
        EXPECT_EQ(Bytes(burst[i].data, burst[i].data + burst[i].cap_len), recs[i].data) << i;
    }
}

TEST_F(PcapSourceTest, TruncatedRecordEndsInputWithOffset) {
    const std::vector<Record> recs = three_records();
    std::vector<size_t> offsets;
    Bytes file = make_pcap(1, recs, &offsets);
    file.resize(offsets[2] + 16 + 10);  // header of the third record and 10 of its bytes
    const std::string path = write("cut.pcap", file);
    PacketSourcePtr src = open_ok(path);
    ASSERT_NE(src, nullptr);
    std::array<RawFrame, 8> burst{};
    ASSERT_EQ(src->next_burst(burst), 2U);
    EXPECT_EQ(Bytes(burst[1].data, burst[1].data + burst[1].cap_len), recs[1].data);
    EXPECT_TRUE(src->at_end());
    const std::string& err = src->error();
    EXPECT_NE(err.find(path), std::string::npos) << err;
    EXPECT_NE(err.find("at offset " + std::to_string(offsets[2])), std::string::npos) << err;
    EXPECT_NE(err.find("truncated"), std::string::npos) << err;
    EXPECT_EQ(src->next_burst(burst), 0U);
}

TEST_F(PcapSourceTest, TruncatedRecordHeader) {
    const std::vector<Record> recs = three_records();
    std::vector<size_t> offsets;
    Bytes file = make_pcap(1, recs, &offsets);
    file.resize(offsets[2] + 5);
    PacketSourcePtr src = open_ok(write("cut_header.pcap", file));
    ASSERT_NE(src, nullptr);
    std::array<RawFrame, 1> one{};
    EXPECT_EQ(src->next_burst(one), 1U);
    EXPECT_EQ(src->next_burst(one), 1U);
    EXPECT_TRUE(src->error().empty());
    EXPECT_EQ(src->next_burst(one), 0U);
    EXPECT_TRUE(src->at_end());
    EXPECT_NE(src->error().find("at offset " + std::to_string(offsets[2])), std::string::npos)
        << src->error();
}

TEST_F(PcapSourceTest, OpenErrorsNameTheFile) {
    const std::string text_file = write("notes.pcap", test::text("this is not a capture file"));
    auto r = PcapFileSource::open(text_file);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::BadInput);
    EXPECT_NE(r.error().message.find(text_file), std::string::npos) << r.error().message;

    const std::string missing = (dir_ / "missing.pcap").string();
    auto m = PcapFileSource::open(missing);
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.error().code, ErrorCode::BadInput);
    EXPECT_NE(m.error().message.find(missing), std::string::npos) << m.error().message;

    auto e = PcapFileSource::open(write("empty.pcap", {}));
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.error().code, ErrorCode::BadInput);

    auto d = PcapFileSource::open(dir_.string());
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.error().code, ErrorCode::BadInput);
}

TEST_F(PcapSourceTest, UnsupportedLinkTypeNamesTheNumber) {
    const std::string path = write("wifi.pcap", make_pcap(105, three_records()));
    auto r = PcapFileSource::open(path);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::BadInput);
    EXPECT_NE(r.error().message.find(path), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("105"), std::string::npos) << r.error().message;
}

TEST_F(PcapSourceTest, MapsLinkTypes) {
    using test::kIpA;
    using test::kIpB;
    const Bytes ip = test::ipv4(kProtoUdp, kIpA, kIpB, test::udp(1, 2, test::text("x")));
    struct Case {
        uint32_t linktype;
        LinkType want;
        Bytes frame;
    };
    const std::vector<Case> cases = {
        {0, LinkType::Null, test::null_hdr(2, ip)},
        {1, LinkType::Ethernet, test::ether(test::kTypeIpv4, ip)},
        {101, LinkType::Raw, ip},
        {12, LinkType::Raw, ip},
        {108, LinkType::Loop, test::null_hdr(2, ip, true)},
        {113, LinkType::LinuxSll, test::sll(test::kTypeIpv4, ip)},
        {276, LinkType::LinuxSll2, test::sll2(test::kTypeIpv4, ip)},
        {228, LinkType::Ipv4, ip},
        {229, LinkType::Ipv6,
         test::ipv6(kProtoUdp, test::kIp6A, test::kIp6B, test::udp(1, 2, test::text("x")))},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.linktype);
        const std::string path = write("lt" + std::to_string(c.linktype) + ".pcap",
                                       make_pcap(c.linktype, {{1, 2, c.frame, 0}}));
        PacketSourcePtr src = open_ok(path);
        ASSERT_NE(src, nullptr);
        std::array<RawFrame, 2> burst{};
        ASSERT_EQ(src->next_burst(burst), 1U);
        EXPECT_EQ(burst[0].link, c.want);
        Packet pkt;
        pkt.data = burst[0].data;
        pkt.cap_len = burst[0].cap_len;
        EXPECT_EQ(decode(burst[0].link, pkt), DecodeStatus::Ok);
        EXPECT_TRUE(pkt.has_udp());
    }
}

TEST_F(PcapSourceTest, ReadsPcapng) {
    const std::vector<Record> recs = three_records();
    const std::vector<Record> two(recs.begin(), recs.begin() + 2);
    const Bytes file = make_pcapng(1, two);
    const std::string path = write("two.pcapng", file);
    PacketSourcePtr src = open_ok(path);
    ASSERT_NE(src, nullptr);
    std::array<RawFrame, 8> burst{};
    ASSERT_EQ(src->next_burst(burst), 2U);
    for (size_t i = 0; i < 2; ++i) {
        SCOPED_TRACE(i);
        EXPECT_EQ(Bytes(burst[i].data, burst[i].data + burst[i].cap_len), two[i].data);
        EXPECT_EQ(burst[i].ts_sec, two[i].ts_sec);
        EXPECT_EQ(burst[i].ts_usec, two[i].ts_usec);
        Packet pkt;
        pkt.data = burst[i].data;
        pkt.cap_len = burst[i].cap_len;
        EXPECT_EQ(decode(burst[i].link, pkt), DecodeStatus::Ok);
        EXPECT_TRUE(pkt.has_tcp());
    }
    EXPECT_EQ(burst[1].wire_len, 1514U);
    EXPECT_TRUE(src->at_end());
    EXPECT_TRUE(src->error().empty()) << src->error();
    EXPECT_EQ(src->bytes_read(), file.size());
}

TEST_F(PcapSourceTest, TruncatedPcapngReportsBlockOffset) {
    std::vector<size_t> offsets;
    Bytes file = make_pcapng(1, three_records(), &offsets);
    file.resize(offsets[2] + 20);
    const std::string path = write("cut.pcapng", file);
    PacketSourcePtr src = open_ok(path);
    ASSERT_NE(src, nullptr);
    std::array<RawFrame, 8> burst{};
    EXPECT_EQ(src->next_burst(burst), 2U);
    EXPECT_TRUE(src->at_end());
    EXPECT_NE(src->error().find(path), std::string::npos) << src->error();
    EXPECT_NE(src->error().find("at offset " + std::to_string(offsets[2])), std::string::npos)
        << src->error();
}

TEST_F(PcapSourceTest, ExpandPathsSortsDirectoryEntries) {
    const Bytes file = make_pcap(1, three_records());
    fs::create_directory(dir_ / "caps");
    write("caps/b.pcap", file);
    write("caps/a.pcapng", make_pcapng(1, three_records()));
    write("caps/c.cap", file);
    write("caps/notes.txt", test::text("x"));
    fs::create_directory(dir_ / "caps" / "sub.pcap");  // a directory, not a file
    write("caps/sub.pcap/deep.pcap", file);
    const std::string single = write("single.pcap", file);

    auto r = expand_pcap_paths({single, (dir_ / "caps").string()});
    ASSERT_TRUE(r.ok()) << r.error().message;
    const std::vector<std::string> want = {single, (dir_ / "caps" / "a.pcapng").string(),
                                           (dir_ / "caps" / "b.pcap").string(),
                                           (dir_ / "caps" / "c.cap").string()};
    EXPECT_EQ(*r, want);
}

TEST_F(PcapSourceTest, ExpandPathsErrors) {
    const std::string missing = (dir_ / "nope").string();
    auto m = expand_pcap_paths({missing});
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.error().code, ErrorCode::BadInput);
    EXPECT_NE(m.error().message.find(missing), std::string::npos) << m.error().message;

    fs::create_directory(dir_ / "empty");
    write("empty/readme.txt", test::text("no captures here"));
    auto e = expand_pcap_paths({(dir_ / "empty").string()});
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.error().message.find((dir_ / "empty").string()), std::string::npos);

    EXPECT_FALSE(expand_pcap_paths({}).ok());
}

// --- MmapPcapSource: classic pcap without copies -----------------------------------------

void be32(Bytes& b, uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) {
        b.push_back(static_cast<uint8_t>(v >> s));
    }
}

TEST_F(PcapSourceTest, MmapSourceReadsClassicPcapInPlace) {
    const std::vector<Record> recs = three_records();
    const Bytes file = make_pcap(1, recs);
    const std::string path = write("good.pcap", file);
    auto r = open_pcap_file(path);
    ASSERT_TRUE(r.ok()) << r.error().message;
    PacketSource& src = *r.value();
    EXPECT_TRUE(src.frames_stable());  // the mmap source was chosen
    std::array<RawFrame, 2> burst{};
    ASSERT_EQ(src.next_burst(burst), 2U);
    const RawFrame first = burst[0];
    ASSERT_EQ(src.next_burst(burst), 1U);
    // Frames of an earlier burst are still valid.
    EXPECT_EQ(Bytes(first.data, first.data + first.cap_len), recs[0].data);
    EXPECT_EQ(Bytes(burst[0].data, burst[0].data + burst[0].cap_len), recs[2].data);
    EXPECT_EQ(burst[0].ts_sec, recs[2].ts_sec);
    EXPECT_EQ(burst[0].ts_usec, recs[2].ts_usec);
    EXPECT_EQ(src.next_burst(burst), 0U);
    EXPECT_TRUE(src.at_end());
    EXPECT_TRUE(src.error().empty()) << src.error();
    EXPECT_EQ(src.bytes_read(), file.size());
}

TEST_F(PcapSourceTest, MmapSourceReportsTruncationWithOffset) {
    const std::vector<Record> recs = three_records();
    std::vector<size_t> offsets;
    Bytes file = make_pcap(1, recs, &offsets);
    file.resize(offsets[2] + 16 + 10);
    const std::string path = write("cut.pcap", file);
    auto r = MmapPcapSource::open(path);
    ASSERT_TRUE(r.ok());
    std::array<RawFrame, 8> burst{};
    ASSERT_EQ(r.value()->next_burst(burst), 2U);
    EXPECT_EQ(Bytes(burst[1].data, burst[1].data + burst[1].cap_len), recs[1].data);
    const std::string err = r.value()->error();
    EXPECT_NE(err.find(path), std::string::npos) << err;
    EXPECT_NE(err.find("truncated"), std::string::npos) << err;
    EXPECT_NE(err.find("at offset " + std::to_string(offsets[2])), std::string::npos) << err;

    file.resize(offsets[2] + 5);  // cut inside the record header
    auto r2 = MmapPcapSource::open(write("cut2.pcap", file));
    ASSERT_TRUE(r2.ok());
    EXPECT_EQ(r2.value()->next_burst(burst), 2U);
    EXPECT_NE(r2.value()->error().find("at offset " + std::to_string(offsets[2])),
              std::string::npos);
}

TEST_F(PcapSourceTest, MmapSourceRejectsAbsurdCaptureLength) {
    std::vector<size_t> offsets;
    Bytes file = make_pcap(1, three_records(), &offsets);
    file[offsets[1] + 8] = 0xff;  // caplen of the second record: 0x....ff -> huge
    file[offsets[1] + 11] = 0x7f;
    auto r = MmapPcapSource::open(write("bad.pcap", file));
    ASSERT_TRUE(r.ok());
    std::array<RawFrame, 8> burst{};
    EXPECT_EQ(r.value()->next_burst(burst), 1U);
    EXPECT_NE(r.value()->error().find("invalid packet capture length"), std::string::npos);
    EXPECT_NE(r.value()->error().find("at offset " + std::to_string(offsets[1])),
              std::string::npos);
}

TEST_F(PcapSourceTest, MmapSourceBigEndianNanosecondFile) {
    const Bytes frame = three_records()[2].data;
    Bytes b;
    be32(b, 0xa1b23c4d);  // nanosecond magic, big-endian writer
    b.insert(b.end(), {0, 2, 0, 4});
    be32(b, 0);
    be32(b, 0);
    be32(b, 65535);
    be32(b, 1);
    be32(b, 1700000000);
    be32(b, 123456789);  // ns
    be32(b, static_cast<uint32_t>(frame.size()));
    be32(b, static_cast<uint32_t>(frame.size()));
    test::append(b, frame);
    auto r = open_pcap_file(write("be.pcap", b));
    ASSERT_TRUE(r.ok()) << r.error().message;
    std::array<RawFrame, 4> burst{};
    ASSERT_EQ(r.value()->next_burst(burst), 1U);
    EXPECT_EQ(burst[0].ts_sec, 1700000000);
    EXPECT_EQ(burst[0].ts_usec, 123456U);
    EXPECT_EQ(burst[0].cap_len, frame.size());
    EXPECT_EQ(burst[0].link, LinkType::Ethernet);
}

TEST_F(PcapSourceTest, OpenPcapFileFallsBackToLibpcapForPcapng) {
    auto r = open_pcap_file(write("x.pcapng", make_pcapng(1, three_records())));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_FALSE(r.value()->frames_stable());
    std::array<RawFrame, 8> burst{};
    EXPECT_EQ(r.value()->next_burst(burst), 3U);
    auto bad = open_pcap_file(write("text.pcap", Bytes{'h', 'e', 'l', 'l', 'o', '\n'}));
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message.find("text.pcap"), std::string::npos);
    auto lt = MmapPcapSource::open(write("lt.pcap", make_pcap(147, three_records())));
    ASSERT_FALSE(lt.ok());
    EXPECT_NE(lt.error().message.find("unsupported link type 147"), std::string::npos);
}

TEST(LinkTypeFromDlt, KnownAndUnknown) {
    LinkType lt = LinkType::Ethernet;
    EXPECT_TRUE(link_type_from_dlt(14, lt));
    EXPECT_EQ(lt, LinkType::Raw);
    EXPECT_TRUE(link_type_from_dlt(113, lt));
    EXPECT_EQ(lt, LinkType::LinuxSll);
    EXPECT_FALSE(link_type_from_dlt(105, lt));
    EXPECT_FALSE(link_type_from_dlt(147, lt));
}

}  // namespace
}  // namespace vigil::dataplane
