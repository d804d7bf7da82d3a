#include "dataplane/stream.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "tests/dataplane/packet_builder.h"

namespace vigil::dataplane {
namespace {

// A stand-in TCP header: the engine only reads the decoded fields.
constexpr std::array<uint8_t, 20> kL4{};

constexpr test::Ip4 kClient{192, 168, 1, 10};
constexpr test::Ip4 kServer{10, 0, 0, 80};

constexpr uint8_t kSynAck = kTcpSyn | kTcpAck;
constexpr uint32_t kCisn = 1000;  // client ISN: client offset 0 is seq 1001
constexpr uint32_t kSisn = 5000;

constexpr size_t idx(FlowDir d) {
    return d == FlowDir::ToServer ? 0 : 1;
}

std::string fresh(const StreamView& v) {
    if (!v.has_new()) {
        return {};
    }
    return {reinterpret_cast<const char*>(v.data) + v.new_from, v.len - v.new_from};
}

std::string window(const StreamView& v) {
    if (v.len == 0) {
        return {};
    }
    return {reinterpret_cast<const char*>(v.data), v.len};
}

// One TCP connection through a real flow table and stream engine. Keeps what each
// direction delivered (the new bytes of every view, in order) and checks that views are
// consecutive: a view's new bytes start where the previous one's ended, unless a gap was
// reported.
class Conn {
public:
    explicit Conn(const StreamConfig& cfg = {}) : engine_(cfg), table_(FlowTableConfig{64, {}}) {}

    StreamView send(FlowDir dir, uint8_t flags, uint32_t seq, std::string_view payload = {}) {
        Packet p;
        p.ip_version = 4;
        const bool to_server = dir == FlowDir::ToServer;
        p.src = IpAddr::from_v4(to_server ? kClient.data() : kServer.data());
        p.dst = IpAddr::from_v4(to_server ? kServer.data() : kClient.data());
        p.sport = to_server ? 40000 : 80;
        p.dport = to_server ? 80 : 40000;
        p.ip_proto = kProtoTcp;
        p.l4 = kL4.data();
        p.tcp_flags = flags;
        p.tcp_seq = seq;
        p.ts_sec = 100;
        p.wire_len = static_cast<uint32_t>(54 + payload.size());
        p.payload = payload.empty() ? nullptr : reinterpret_cast<const uint8_t*>(payload.data());
        p.payload_len = static_cast<uint32_t>(payload.size());
        flow_ = table_.lookup(p);
        EXPECT_NE(flow_, nullptr);
        EXPECT_EQ(p.dir, dir);
        const StreamView v = engine_.process(*flow_, p);
        record(v);
        return v;
    }

    StreamView c2s(uint32_t seq, std::string_view payload, uint8_t flags = kTcpAck | kTcpPsh) {
        return send(FlowDir::ToServer, flags, seq, payload);
    }
    StreamView s2c(uint32_t seq, std::string_view payload, uint8_t flags = kTcpAck | kTcpPsh) {
        return send(FlowDir::ToClient, flags, seq, payload);
    }
    // Client data at stream offset `off` (relative to the client ISN).
    StreamView at(uint64_t off, std::string_view payload) {
        return c2s(static_cast<uint32_t>(kCisn + 1 + off), payload);
    }

    void handshake(uint32_t cisn = kCisn, uint32_t sisn = kSisn) {
        send(FlowDir::ToServer, kTcpSyn, cisn);
        send(FlowDir::ToClient, kSynAck, sisn);
        send(FlowDir::ToServer, kTcpAck, cisn + 1);
    }

    StreamView flush(FlowDir dir) {
        EXPECT_NE(flow_, nullptr);
        const StreamView v = engine_.flush(*flow_, dir);
        record(v);
        return v;
    }

    const std::string& got(FlowDir dir = FlowDir::ToServer) const { return got_[idx(dir)]; }
    const StreamStats& stats() const { return engine_.stats(); }
    FlowTable& table() { return table_; }
    StreamEngine& engine() { return engine_; }

private:
    void record(const StreamView& v) {
        if (!v.has_new()) {
            return;
        }
        ASSERT_TRUE(v.tracked);
        ASSERT_LE(v.new_from, v.len);
        std::string& got = got_[idx(v.dir)];
        uint64_t& next = next_[idx(v.dir)];
        if ((v.events & kStreamEvGap) == 0 && !got.empty()) {
            EXPECT_EQ(v.base + v.new_from, next) << "views must be consecutive";
        }
        next = v.base + v.len;
        got += fresh(v);
        std::vector<int>& by_off = by_offset_[idx(v.dir)];
        for (uint32_t i = v.new_from; i < v.len; ++i) {
            const uint64_t off = v.base + i;
            if (by_off.size() <= off) {
                by_off.resize(off + 1, -1);
            }
            EXPECT_EQ(by_off[off], -1) << "offset " << off << " delivered twice";
            by_off[off] = v.data[i];
        }
    }

    // Declared before the table: sessions give their memory back to the engine when the
    // table frees its flows, so the engine must outlive the table.
    StreamEngine engine_;
    FlowTable table_;
    Flow* flow_ = nullptr;
    std::array<std::string, 2> got_;
    std::array<uint64_t, 2> next_{};
    std::array<std::vector<int>, 2> by_offset_;  // byte delivered at each offset, -1: none

public:
    // The byte delivered at stream offset `off`, -1 when none was.
    int delivered_at(uint64_t off, FlowDir dir = FlowDir::ToServer) const {
        const std::vector<int>& b = by_offset_[idx(dir)];
        return off < b.size() ? b[off] : -1;
    }
};

StreamConfig config_with(OsPolicy policy) {
    StreamConfig c;
    c.policy = OsPolicyMap(policy);
    return c;
}

// --- handshake, in order ----------------------------------------------------------------

TEST(StreamTest, HandshakeThenInOrderDataBothDirections) {
    Conn c;
    c.handshake();
    const StreamView a = c.c2s(kCisn + 1, "GET / HTTP/1.1\r\n");
    EXPECT_TRUE(a.tracked);
    EXPECT_TRUE(a.inspect);
    EXPECT_EQ(a.dir, FlowDir::ToServer);
    EXPECT_EQ(a.base, 0U);
    EXPECT_EQ(a.new_from, 0U);
    EXPECT_EQ(fresh(a), "GET / HTTP/1.1\r\n");
    EXPECT_EQ(a.pkt_from, 0U);
    EXPECT_EQ(a.pkt_len, 16U);
    const StreamView b = c.c2s(kCisn + 17, "Host: x\r\n\r\n");
    EXPECT_EQ(fresh(b), "Host: x\r\n\r\n");
    EXPECT_EQ(b.base + b.pkt_from, 16U);  // this packet's bytes follow the first request line
    EXPECT_EQ(b.pkt_len, 11U);
    const StreamView r = c.s2c(kSisn + 1, "HTTP/1.1 200 OK\r\n");
    EXPECT_EQ(r.dir, FlowDir::ToClient);
    EXPECT_EQ(r.base, 0U);
    EXPECT_EQ(fresh(r), "HTTP/1.1 200 OK\r\n");
    EXPECT_EQ(c.got(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(c.stats().sessions, 1U);
    EXPECT_EQ(c.stats().midstream_pickups, 0U);
    EXPECT_EQ(c.stats().segments, 3U);
    EXPECT_EQ(c.stats().in_order, 3U);
    EXPECT_EQ(c.stats().out_of_order, 0U);
}

TEST(StreamTest, PureAcksCarryNoViewData) {
    Conn c;
    c.handshake();
    const StreamView v = c.c2s(kCisn + 1, "", kTcpAck);
    EXPECT_TRUE(v.tracked);
    EXPECT_FALSE(v.has_new());
    EXPECT_EQ(v.len, 0U);
    EXPECT_EQ(c.stats().segments, 0U);
}

TEST(StreamTest, SteadyInOrderStreamDoesNotGrowMemory) {
    Conn c;
    c.handshake();
    const std::string seg(1000, 'x');
    uint32_t seq = kCisn + 1;
    for (int i = 0; i < 4; ++i, seq += 1000) {
        c.c2s(seq, seg);
    }
    const uint64_t warm = c.stats().memory_bytes;
    for (int i = 0; i < 200; ++i, seq += 1000) {
        c.c2s(seq, seg);
    }
    EXPECT_EQ(c.stats().memory_bytes, warm);
    EXPECT_EQ(c.got().size(), 204U * 1000U);
}

TEST(StreamTest, DataOnSynStartsAtOffsetZero) {
    Conn c;
    c.send(FlowDir::ToServer, kTcpSyn, kCisn, "early");
    EXPECT_EQ(c.got(), "early");
    // SYN retransmission: same ISN and data, nothing new.
    const StreamView again = c.send(FlowDir::ToServer, kTcpSyn, kCisn, "early");
    EXPECT_FALSE(again.has_new());
    EXPECT_NE(again.events & kStreamEvRetransmission, 0U);
    c.send(FlowDir::ToClient, kSynAck, kSisn);
    c.c2s(kCisn + 6, " data");
    EXPECT_EQ(c.got(), "early data");
}

TEST(StreamTest, SynRetransmittedWithNewIsnBeforeDataTakesTheNewIsn) {
    Conn c;
    c.send(FlowDir::ToServer, kTcpSyn, 7000);
    c.send(FlowDir::ToServer, kTcpSyn, kCisn);  // the client retried with another ISN
    c.send(FlowDir::ToClient, kSynAck, kSisn);
    const StreamView v = c.c2s(kCisn + 1, "abc");
    EXPECT_EQ(v.base, 0U);
    EXPECT_EQ(c.got(), "abc");
    EXPECT_EQ(c.stats().bad_seq, 0U);
}

// --- out of order -------------------------------------------------------------------------

TEST(StreamTest, OutOfOrderSegmentsAreDeliveredTogetherWhenTheHoleFills) {
    Conn c;
    c.handshake();
    const StreamView held = c.at(5, "world");
    EXPECT_FALSE(held.has_new());
    EXPECT_NE(held.events & kStreamEvBuffered, 0U);  // delivered later: not inspected now
    EXPECT_FALSE(c.at(10, "!!").has_new());
    EXPECT_EQ(c.stats().out_of_order, 2U);
    EXPECT_GT(c.stats().memory_bytes, 0U);
    const StreamView v = c.at(0, "hello");
    EXPECT_EQ(v.events & kStreamEvBuffered, 0U);
    EXPECT_EQ(v.base, 0U);
    EXPECT_EQ(fresh(v), "helloworld!!");  // one view: the filled hole and all it released
    EXPECT_EQ(v.pkt_from, 0U);
    EXPECT_EQ(v.pkt_len, 5U);
    EXPECT_EQ(c.stats().in_order, 1U);
    EXPECT_EQ(c.stats().gaps, 0U);
    EXPECT_EQ(c.got(), "helloworld!!");
}

TEST(StreamTest, OneByteSegmentsInReverseOrder) {
    Conn c;
    c.handshake();
    const std::string text = "abcdefghijklmnop";
    for (size_t i = text.size() - 1; i >= 1; --i) {
        EXPECT_FALSE(c.at(i, text.substr(i, 1)).has_new());
    }
    const StreamView v = c.at(0, "a");
    EXPECT_EQ(fresh(v), text);
    EXPECT_EQ(c.stats().out_of_order, text.size() - 1);
    // 1-byte retransmission of an old byte.
    const StreamView r = c.at(3, "d");
    EXPECT_NE(r.events & kStreamEvRetransmission, 0U);
    EXPECT_EQ(r.events & kStreamEvOverlapDiff, 0U);
    EXPECT_EQ(c.got(), text);
}

TEST(StreamTest, SequenceNumbersWrapAround) {
    Conn c;
    const uint32_t isn = 0xFFFFFFF0U;  // offset 0 is seq 0xFFFFFFF1; offset 15 is seq 0
    c.handshake(isn, 0xFFFFFFFFU);     // server offset 0 is seq 0
    c.c2s(isn + 1, "0123456789");
    c.c2s(isn + 21, "KLMNOPQRST");                       // seq 5: past the wrap, ahead of a hole
    const StreamView v = c.c2s(isn + 11, "abcdefghij");  // crosses the wrap, fills the hole
    EXPECT_EQ(v.base + v.new_from, 10U);
    EXPECT_EQ(c.got(), "0123456789abcdefghijKLMNOPQRST");
    const StreamView s = c.s2c(0, "pong");
    EXPECT_EQ(s.base, 0U);
    EXPECT_EQ(fresh(s), "pong");
    EXPECT_EQ(c.stats().bad_seq, 0U);
}

// --- retransmissions and overlaps with delivered data -----------------------------------

TEST(StreamTest, RetransmissionWithSameDataIsAnEventWithoutNewData) {
    Conn c;
    c.handshake();
    c.at(0, "hello world");
    const StreamView r = c.at(0, "hello world");
    EXPECT_FALSE(r.has_new());
    EXPECT_NE(r.events & kStreamEvRetransmission, 0U);
    EXPECT_EQ(r.events & kStreamEvOverlapDiff, 0U);
    EXPECT_EQ(r.pkt_len, 0U);
    EXPECT_EQ(c.stats().retransmissions, 1U);
    EXPECT_EQ(c.stats().overlap_diff, 0U);
    EXPECT_EQ(c.got(), "hello world");
}

TEST(StreamTest, RetransmissionWithDifferentDataRaisesOverlapDiffAndKeepsDeliveredBytes) {
    Conn c;
    c.handshake();
    c.at(0, "hello world");
    const StreamView r = c.at(6, "WORLD");
    EXPECT_FALSE(r.has_new());
    EXPECT_NE(r.events & kStreamEvRetransmission, 0U);
    EXPECT_NE(r.events & kStreamEvOverlapDiff, 0U);
    EXPECT_EQ(c.stats().overlap_diff, 1U);
    EXPECT_EQ(window(r), "hello world");  // delivered bytes are final
    EXPECT_EQ(c.got(), "hello world");
}

TEST(StreamTest, PartlyOldSegmentDeliversOnlyItsNewPart) {
    Conn c;
    c.handshake();
    c.at(0, "hello");
    const StreamView same = c.at(3, "lo there");
    EXPECT_EQ(fresh(same), " there");
    EXPECT_EQ(same.events & kStreamEvOverlapDiff, 0U);
    EXPECT_EQ(same.pkt_len, 0U);  // the packet is not all new data
    const StreamView diff = c.at(9, "RE, you");
    EXPECT_EQ(fresh(diff), ", you");
    EXPECT_NE(diff.events & kStreamEvOverlapDiff, 0U);
    EXPECT_EQ(c.got(), "hello there, you");
    EXPECT_EQ(c.stats().overlaps, 2U);
    EXPECT_EQ(c.stats().retransmissions, 0U);
}

TEST(StreamTest, OldBytesOutsideTheLookbackAreNotCompared) {
    StreamConfig cfg;
    cfg.lookback = 4;
    Conn c(cfg);
    c.handshake();
    c.at(0, "abcdefgh");
    c.at(8, "ij");  // the next call keeps the last 4 bytes: "ghij" at offset 6
    const StreamView r = c.at(0, "XXXXXXXX");
    EXPECT_NE(r.events & kStreamEvRetransmission, 0U);
    EXPECT_NE(r.events & kStreamEvOverlapDiff, 0U);  // "gh" is still retained
    const StreamView r2 = c.at(0, "XXXXXX");         // only bytes no longer retained
    EXPECT_NE(r2.events & kStreamEvRetransmission, 0U);
    EXPECT_EQ(r2.events & kStreamEvOverlapDiff, 0U);
}

// --- overlap policies ---------------------------------------------------------------------

// Eight overlap shapes, each in its own region of the stream, behind a hole at offset 0:
// an "old" segment is buffered first, then a "new" one overlaps it. Which copy the receiver
// keeps in the overlap depends on its OS.
struct Shape {
    const char* name;
    uint64_t old_off;
    const char* old_data;
    uint64_t new_off;
    const char* new_data;
};
constexpr std::array<Shape, 8> kShapes{{
    {"new starts before, ends inside", 10, "AAAA", 8, "bbbb"},
    {"same start, new ends after", 20, "CC", 20, "ddd"},
    {"same start and end", 30, "EE", 30, "ff"},
    {"new starts after, ends after", 40, "GG", 41, "hh"},
    {"new starts before, same end", 50, "II", 49, "jjj"},
    {"new inside old", 60, "KKK", 61, "l"},
    {"same start, new ends inside", 70, "MMM", 70, "n"},
    {"new starts before, ends after", 80, "O", 79, "ppp"},
}};
constexpr uint64_t kShapeStreamLen = 90;

// Per shape (in kShapes order): 'N' the new segment's bytes win, 'O' the old ones do.
struct PolicyCase {
    OsPolicy policy;
    const char* wins;
};
constexpr std::array<PolicyCase, 14> kPolicyCases{{
    {OsPolicy::First, "OOOOOOOO"},
    {OsPolicy::Last, "NNNNNNNN"},
    {OsPolicy::Bsd, "NOOONOON"},
    {OsPolicy::BsdRight, "OOOOOOOO"},
    {OsPolicy::Linux, "NNOONOON"},
    {OsPolicy::OldLinux, "NNNONOON"},
    {OsPolicy::Windows, "NOOONOON"},
    {OsPolicy::Windows2k3, "NOOONOON"},
    {OsPolicy::Vista, "OOOOOOOO"},
    {OsPolicy::Solaris, "ONNNNOON"},
    {OsPolicy::HpUx10, "NOOONOON"},
    {OsPolicy::HpUx11, "ONNNNOON"},
    {OsPolicy::Irix, "NOOONOON"},
    {OsPolicy::MacOs, "NOOONOON"},
}};

std::string expected_overlap_stream(const char* wins) {
    std::string s(kShapeStreamLen, '.');
    s[0] = '#';
    for (size_t i = 0; i < kShapes.size(); ++i) {
        const Shape& sh = kShapes[i];
        const std::string o = sh.old_data;
        const std::string n = sh.new_data;
        s.replace(sh.old_off, o.size(), o);
        for (size_t k = 0; k < n.size(); ++k) {
            const uint64_t off = sh.new_off + k;
            const bool in_old = off >= sh.old_off && off < sh.old_off + o.size();
            if (!in_old || wins[i] == 'N') {
                s[off] = n[k];
            }
        }
    }
    return s;
}

TEST(StreamTest, OverlapPoliciesDecideWhichBufferedCopyIsDelivered) {
    for (const PolicyCase& pc : kPolicyCases) {
        SCOPED_TRACE(std::string(os_policy_name(pc.policy)));
        Conn c(config_with(pc.policy));
        c.handshake();
        std::vector<std::string> keep;  // payloads outlive the calls
        for (const Shape& sh : kShapes) {
            c.at(sh.old_off, sh.old_data);
        }
        for (const Shape& sh : kShapes) {
            c.at(sh.new_off, sh.new_data);
        }
        // Fill every byte no shape covers with '.', after the shapes (no overlap).
        const std::string expect = expected_overlap_stream(pc.wins);
        std::vector<bool> covered(kShapeStreamLen, false);
        covered[0] = true;
        for (const Shape& sh : kShapes) {
            for (size_t k = 0; k < std::strlen(sh.old_data); ++k) {
                covered[sh.old_off + k] = true;
            }
            for (size_t k = 0; k < std::strlen(sh.new_data); ++k) {
                covered[sh.new_off + k] = true;
            }
        }
        keep.reserve(kShapeStreamLen);
        for (uint64_t off = 1; off < kShapeStreamLen;) {
            if (covered[off]) {
                ++off;
                continue;
            }
            uint64_t end = off;
            while (end < kShapeStreamLen && !covered[end]) {
                ++end;
            }
            keep.emplace_back(end - off, '.');
            c.at(off, keep.back());
            off = end;
        }
        EXPECT_EQ(c.got(), "");
        const StreamView v = c.at(0, "#");
        EXPECT_EQ(fresh(v), expect);
        // Every shape had different bytes in its overlap.
        EXPECT_EQ(c.stats().overlap_diff, kShapes.size());
        EXPECT_EQ(c.stats().gaps, 0U);
    }
}

TEST(StreamTest, PolicyIsChosenByTheReceiverAddress) {
    StreamConfig cfg = config_with(OsPolicy::First);
    ASSERT_TRUE(cfg.policy.add("10.0.0.80/32", OsPolicy::Last).ok());  // the server
    Conn c(cfg);
    c.handshake();
    // Client -> server: the server (Last) keeps the later copy.
    c.at(2, "aa");
    c.at(2, "BB");
    c.at(0, "xx");
    EXPECT_EQ(c.got(FlowDir::ToServer), "xxBB");
    // Server -> client: the client falls back to First.
    c.s2c(kSisn + 3, "aa");
    c.s2c(kSisn + 3, "BB");
    c.s2c(kSisn + 1, "yy");
    EXPECT_EQ(c.got(FlowDir::ToClient), "yyaa");
}

TEST(StreamTest, DuplicateOfBufferedSegmentIsARetransmission) {
    Conn c;
    c.handshake();
    c.at(4, "efgh");
    const StreamView dup = c.at(4, "efgh");
    EXPECT_NE(dup.events & kStreamEvRetransmission, 0U);
    EXPECT_EQ(dup.events & kStreamEvOverlapDiff, 0U);
    const StreamView diff = c.at(4, "EFGH");  // Bsd: same start, the first copy stays
    EXPECT_NE(diff.events & kStreamEvOverlapDiff, 0U);
    c.at(0, "abcd");
    EXPECT_EQ(c.got(), "abcdefgh");
}

// --- midstream ------------------------------------------------------------------------------

TEST(StreamTest, MidstreamPickupStartsAtTheFirstDataByte) {
    Conn c;  // midstream on by default
    const StreamView a = c.c2s(777777, "middle of ");
    EXPECT_TRUE(a.tracked);
    EXPECT_EQ(a.base, 0U);
    c.s2c(4242, "reply");
    c.c2s(777787, "a stream");
    EXPECT_EQ(c.got(), "middle of a stream");
    EXPECT_EQ(c.got(FlowDir::ToClient), "reply");
    EXPECT_EQ(c.stats().midstream_pickups, 1U);
    EXPECT_EQ(c.stats().sessions, 1U);
    // Data from before the pickup point cannot be placed.
    const StreamView old = c.c2s(777770, "xx");
    EXPECT_NE(old.events & kStreamEvBadSeq, 0U);
}

TEST(StreamTest, MidstreamOffLeavesTheSessionUntracked) {
    StreamConfig cfg;
    cfg.midstream = false;
    Conn c(cfg);
    const StreamView a = c.c2s(777777, "middle");
    EXPECT_FALSE(a.tracked);
    const StreamView b = c.s2c(4242, "reply");
    EXPECT_FALSE(b.tracked);
    EXPECT_EQ(c.stats().midstream_ignored, 2U);
    EXPECT_EQ(c.stats().sessions, 0U);
    EXPECT_EQ(c.stats().segments, 0U);
    EXPECT_FALSE(c.flush(FlowDir::ToServer).tracked);
    // With the handshake the same engine tracks.
    StreamConfig cfg2 = cfg;
    Conn h(cfg2);
    h.handshake();
    EXPECT_TRUE(h.c2s(kCisn + 1, "x").tracked);
}

// --- depth --------------------------------------------------------------------------------

TEST(StreamTest, DepthStopsInspectionOfThatDirection) {
    StreamConfig cfg;
    cfg.depth = 10;
    Conn c(cfg);
    c.handshake();
    EXPECT_TRUE(c.at(0, "012345").inspect);
    c.at(12, "zz");  // buffered: freed at depth
    const StreamView v = c.at(6, "6789ab");
    EXPECT_TRUE(v.inspect);
    EXPECT_NE(v.events & kStreamEvDepth, 0U);
    EXPECT_EQ(fresh(v), "6789");
    EXPECT_EQ(c.stats().depth_reached, 1U);
    const StreamView after = c.at(12, "cdef");
    EXPECT_FALSE(after.inspect);
    EXPECT_FALSE(after.has_new());
    EXPECT_EQ(c.got(), "0123456789");
    // The other direction is not affected.
    EXPECT_TRUE(c.s2c(kSisn + 1, "fine").inspect);
    EXPECT_EQ(c.stats().depth_reached, 1U);
    EXPECT_FALSE(c.flush(FlowDir::ToServer).inspect);
}

TEST(StreamTest, DepthZeroIsUnlimited) {
    StreamConfig cfg;
    cfg.depth = 0;
    Conn c(cfg);
    c.handshake();
    const std::string big(70000, 'q');
    c.at(0, big);
    c.at(70000, big);
    EXPECT_EQ(c.got().size(), 140000U);
    EXPECT_EQ(c.stats().depth_reached, 0U);
}

// --- limits and gaps ----------------------------------------------------------------------

TEST(StreamTest, PerFlowOutOfOrderLimitSkipsTheHole) {
    StreamConfig cfg;
    cfg.per_flow_ooo_max = 10;
    Conn c(cfg);
    c.handshake();
    c.at(5, "bbbbb");
    const StreamView v = c.at(12, "dddddddd");  // 5 + 8 > 10: give up on [0, 5)
    EXPECT_NE(v.events & kStreamEvOooLimit, 0U);
    EXPECT_NE(v.events & kStreamEvGap, 0U);
    EXPECT_EQ(v.base, 5U);
    EXPECT_EQ(fresh(v), "bbbbb");
    EXPECT_EQ(c.stats().ooo_limit, 1U);
    EXPECT_EQ(c.stats().gaps, 1U);
    EXPECT_EQ(c.stats().gap_bytes, 5U);
    c.at(10, "cc");
    EXPECT_EQ(c.got(), "bbbbbccdddddddd");
    // Data for the skipped hole is now old.
    const StreamView late = c.at(0, "aaaaa");
    EXPECT_NE(late.events & kStreamEvRetransmission, 0U);
    EXPECT_FALSE(late.has_new());
}

TEST(StreamTest, SegmentLargerThanTheOutOfOrderLimitIsDeliveredAfterAGap) {
    StreamConfig cfg;
    cfg.per_flow_ooo_max = 4;
    Conn c(cfg);
    c.handshake();
    const StreamView v = c.at(3, "too big");
    EXPECT_NE(v.events & kStreamEvGap, 0U);
    EXPECT_EQ(v.base, 3U);
    EXPECT_EQ(fresh(v), "too big");
    EXPECT_EQ(c.stats().gap_bytes, 3U);
}

TEST(StreamTest, MemcapDropsOutOfOrderDataAndNeverStopsTheStream) {
    StreamConfig cfg;
    cfg.memcap = 4096;
    Conn c(cfg);
    c.handshake();
    c.at(0, "hello");
    const std::string big(4000, 'z');
    const StreamView v = c.at(100, big);  // would pass the memcap: dropped
    EXPECT_NE(v.events & kStreamEvMemcap, 0U);
    EXPECT_EQ(c.stats().memcap_reached, 1U);
    EXPECT_LE(c.stats().memory_bytes, cfg.memcap);
    // In-order data larger than the memcap: inspected in place, without lookback.
    const std::string huge(5000, 'h');
    const StreamView w = c.at(5, huge);
    EXPECT_NE(w.events & kStreamEvMemcap, 0U);
    EXPECT_EQ(w.base, 5U);
    EXPECT_EQ(fresh(w), huge);
    EXPECT_EQ(w.pkt_len, 5000U);
    EXPECT_LE(c.stats().memory_bytes, cfg.memcap);
    const StreamView x = c.at(5005, "more");
    EXPECT_EQ(fresh(x), "more");
    EXPECT_EQ(c.got(), "hello" + huge + "more");
    // The dropped segment's range was never delivered: a flush has nothing for it.
    EXPECT_FALSE(c.flush(FlowDir::ToServer).has_new());
}

TEST(StreamTest, FlushSkipsHolesOneViewPerRun) {
    Conn c;
    c.handshake();
    c.at(0, "abc");
    c.at(6, "ghi");
    c.at(13, "nop");
    const StreamView f1 = c.flush(FlowDir::ToServer);
    EXPECT_NE(f1.events & kStreamEvGap, 0U);
    EXPECT_EQ(f1.base, 6U);
    EXPECT_EQ(fresh(f1), "ghi");
    const StreamView f2 = c.flush(FlowDir::ToServer);
    EXPECT_EQ(f2.base, 13U);
    EXPECT_EQ(fresh(f2), "nop");
    const StreamView f3 = c.flush(FlowDir::ToServer);
    EXPECT_TRUE(f3.tracked);
    EXPECT_FALSE(f3.has_new());
    EXPECT_EQ(c.stats().gaps, 2U);
    EXPECT_EQ(c.stats().gap_bytes, 3U + 4U);
    EXPECT_EQ(c.got(), "abcghinop");
}

TEST(StreamTest, FlushWithNothingBufferedIsEmpty) {
    Conn c;
    c.handshake();
    c.at(0, "abc");
    const StreamView f = c.flush(FlowDir::ToServer);
    EXPECT_FALSE(f.has_new());
    EXPECT_EQ(c.stats().gaps, 0U);
    EXPECT_FALSE(c.flush(FlowDir::ToClient).has_new());
}

TEST(StreamTest, BadSequenceNumbersAreIgnored) {
    Conn c;
    c.handshake();
    c.at(0, "ok");
    const StreamView far = c.at(uint64_t{1} << 31, "far");
    EXPECT_NE(far.events & kStreamEvBadSeq, 0U);
    const StreamView before_isn = c.c2s(kCisn - 10, "before");
    EXPECT_NE(before_isn.events & kStreamEvBadSeq, 0U);
    EXPECT_EQ(c.stats().bad_seq, 2U);
    c.at(2, "ay");
    EXPECT_EQ(c.got(), "okay");
}

// --- lookback window ----------------------------------------------------------------------

TEST(StreamTest, WindowKeepsLookbackBytesBeforeTheNewData) {
    StreamConfig cfg;
    cfg.lookback = 4;
    Conn c(cfg);
    c.handshake();
    c.at(0, "abcdef");
    const StreamView v = c.at(6, "ghi");
    EXPECT_EQ(window(v), "cdefghi");
    EXPECT_EQ(v.base, 2U);
    EXPECT_EQ(v.new_from, 4U);
    EXPECT_EQ(v.pkt_from, 4U);
    EXPECT_EQ(v.pkt_len, 3U);
    const StreamView w = c.at(9, "j");
    EXPECT_EQ(window(w), "fghij");
    EXPECT_EQ(w.base, 5U);
    // A match spanning the two segments is in the window.
    EXPECT_NE(window(w).find("ghij"), std::string::npos);
}

TEST(StreamTest, NoLookbackShowsOnlyNewBytes) {
    StreamConfig cfg;
    cfg.lookback = 0;
    Conn c(cfg);
    c.handshake();
    c.at(0, "abc");
    const StreamView v = c.at(3, "def");
    EXPECT_EQ(window(v), "def");
    EXPECT_EQ(v.base, 3U);
    EXPECT_EQ(v.new_from, 0U);
}

// --- RST / FIN ----------------------------------------------------------------------------

TEST(StreamTest, RstEndsBothDirections) {
    Conn c;
    c.handshake();
    c.at(0, "abc");
    c.at(5, "fg");  // buffered behind a hole
    c.s2c(kSisn + 1, "", kTcpRst | kTcpAck);
    EXPECT_FALSE(c.at(3, "de").has_new());
    EXPECT_FALSE(c.s2c(kSisn + 1, "late").has_new());
    EXPECT_EQ(c.stats().after_close, 2U);
    // What was buffered is still handed over by the flush at RST.
    const StreamView f = c.flush(FlowDir::ToServer);
    EXPECT_EQ(fresh(f), "fg");
    EXPECT_EQ(c.got(), "abcfg");
}

TEST(StreamTest, RstFarFromTheStreamIsNotBelieved) {
    Conn c;
    c.handshake();
    c.at(0, "abc");
    const StreamView r = c.c2s(kCisn + 1 + (1U << 28), "", kTcpRst);
    EXPECT_NE(r.events & kStreamEvBadSeq, 0U);
    EXPECT_EQ(fresh(c.at(3, "def")), "def");
}

TEST(StreamTest, FinEndsTheDirection) {
    Conn c;
    c.handshake();
    c.c2s(kCisn + 1, "last words", kTcpAck | kTcpFin);
    const StreamView past = c.at(11, "ghost");  // after the FIN's sequence number
    EXPECT_FALSE(past.has_new());
    EXPECT_EQ(c.stats().after_close, 1U);
    const StreamView straddle = c.c2s(kCisn + 8, "rds!!");  // partly before the end
    EXPECT_FALSE(straddle.has_new());
    EXPECT_EQ(c.got(), "last words");
    // The server's direction is still open.
    EXPECT_EQ(fresh(c.s2c(kSisn + 1, "bye")), "bye");
}

TEST(StreamTest, FinBeforeTheDataItEnds) {
    Conn c;
    c.handshake();
    c.c2s(kCisn + 1 + 4, "", kTcpAck | kTcpFin);  // the stream is 4 bytes long
    c.at(0, "abcdef");
    EXPECT_EQ(c.got(), "abcd");
}

// --- memory -------------------------------------------------------------------------------

TEST(StreamTest, MemoryReturnsToZeroWhenFlowsLeave) {
    Conn c;
    c.handshake();
    const uint64_t session_only = c.stats().memory_bytes;
    EXPECT_GT(session_only, 0U);
    c.s2c(kSisn + 1, "", kTcpAck);
    EXPECT_EQ(c.stats().memory_bytes, session_only);  // no data: nothing beyond the session
    c.at(0, "GET / HTTP/1.1\r\n\r\n");
    c.at(100, "ahead");
    c.s2c(kSisn + 1, "HTTP/1.1 200 OK\r\n\r\n");
    EXPECT_GT(c.stats().memory_bytes, session_only);
    c.table().flush();
    EXPECT_EQ(c.stats().memory_bytes, 0U);
    EXPECT_GT(c.stats().memory_peak, session_only);
}

TEST(StreamTest, ShortHttpLikeFlowMemory) {
    Conn c;
    c.handshake();
    c.at(0, "GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n");
    c.s2c(kSisn + 1, std::string(1400, 'r'));
    c.s2c(kSisn + 1401, std::string(600, 'r'));
    const uint64_t bytes = c.stats().memory_bytes;
    RecordProperty("short_http_flow_bytes", std::to_string(bytes));
    // The session and two windows sized to what was sent (granules of 256 bytes).
    EXPECT_LE(bytes, 2560U);
}

// --- property ------------------------------------------------------------------------------

// A known stream cut into random segments, sent in a random order with random duplicates
// and random same-content overlapping resends, must come out exactly once, in order,
// whatever the policy (the copies agree, so the policy cannot change the bytes).
TEST(StreamTest, RandomPermutationDeliversTheOriginalStreamExactlyOnce) {
    std::mt19937 rng(12345);
    for (int round = 0; round < 60; ++round) {
        SCOPED_TRACE(round);
        const auto policy = static_cast<OsPolicy>(round % 14);
        StreamConfig cfg = config_with(policy);
        cfg.lookback = static_cast<uint32_t>(rng() % 64);
        Conn c(cfg);
        const uint32_t isn = round % 3 == 0 ? 0xFFFFFF00U + (rng() % 200) : rng();
        c.handshake(isn, kSisn);
        const size_t len = 200 + rng() % 3000;
        std::string stream(len, '\0');
        for (char& ch : stream) {
            ch = static_cast<char>('a' + rng() % 26);
        }
        std::vector<std::pair<size_t, size_t>> segs;  // offset, length
        for (size_t off = 0; off < len;) {
            const size_t n = std::min(len - off, size_t{1} + rng() % 120);
            segs.emplace_back(off, n);
            off += n;
        }
        std::vector<std::pair<size_t, size_t>> sends = segs;
        const size_t extra = rng() % (segs.size() + 1);
        for (size_t i = 0; i < extra; ++i) {
            if (rng() % 2 == 0) {
                sends.push_back(segs[rng() % segs.size()]);  // exact duplicate
            } else {
                const size_t off = rng() % len;  // arbitrary range, same content
                sends.emplace_back(off, std::min(len - off, size_t{1} + rng() % 200));
            }
        }
        std::shuffle(sends.begin(), sends.end(), rng);
        for (const auto& [off, n] : sends) {
            c.c2s(static_cast<uint32_t>(isn + 1 + off), std::string_view(stream).substr(off, n));
        }
        EXPECT_FALSE(c.flush(FlowDir::ToServer).has_new());
        EXPECT_EQ(c.got(), stream);
        EXPECT_EQ(c.stats().overlap_diff, 0U);
        EXPECT_EQ(c.stats().gaps, 0U);
        EXPECT_EQ(c.stats().bad_seq, 0U);
        c.table().flush();
        EXPECT_EQ(c.stats().memory_bytes, 0U);
    }
}

// Conflicting copies under random limits: whatever is lost to limits, every delivered byte
// was sent for that offset, no offset is delivered twice, views stay consecutive, and all
// memory comes back. Under the First policy with no limit hit, each offset carries the copy
// that arrived first (delivered bytes are final, buffered ones keep the first copy).
TEST(StreamTest, RandomConflictingOverlapsKeepTheInvariants) {
    std::mt19937 rng(777);
    for (int round = 0; round < 200; ++round) {
        SCOPED_TRACE(round);
        const bool limited = round % 2 == 1;
        StreamConfig cfg =
            config_with(limited ? static_cast<OsPolicy>(rng() % 14) : OsPolicy::First);
        cfg.lookback = static_cast<uint32_t>(rng() % 40);
        if (limited) {
            cfg.per_flow_ooo_max = 16 + rng() % 400;
            cfg.memcap = 600 + rng() % 3000;
            cfg.depth = rng() % 3 == 0 ? 0 : 50 + rng() % 1500;
        }
        Conn c(cfg);
        const uint32_t isn = rng();
        c.handshake(isn, kSisn);
        const size_t len = 50 + rng() % 1500;
        std::vector<std::string> sent;
        std::vector<std::vector<int>> copies(len);  // bytes sent per offset, in send order
        const size_t count = 5 + rng() % 80;
        for (size_t k = 0; k < count; ++k) {
            const size_t off = rng() % len;
            const size_t n = std::min(len - off, size_t{1} + rng() % 60);
            std::string data(n, '\0');
            for (size_t i = 0; i < n; ++i) {
                data[i] = static_cast<char>('A' + rng() % 4);
                copies[off + i].push_back(data[i]);
            }
            c.c2s(static_cast<uint32_t>(isn + 1 + off), data);
        }
        for (int f = 0; f < 100 && c.flush(FlowDir::ToServer).has_new(); ++f) {
        }
        for (size_t off = 0; off < len; ++off) {
            const int b = c.delivered_at(off);
            if (b == -1) {
                continue;
            }
            ASSERT_FALSE(copies[off].empty()) << "offset " << off << " was never sent";
            EXPECT_NE(std::find(copies[off].begin(), copies[off].end(), b), copies[off].end());
            if (!limited) {
                EXPECT_EQ(b, copies[off].front()) << "offset " << off;
            }
        }
        if (!limited) {
            // Nothing was lost: every sent offset was delivered.
            for (size_t off = 0; off < len; ++off) {
                EXPECT_EQ(c.delivered_at(off) != -1, !copies[off].empty()) << "offset " << off;
            }
        }
        c.table().flush();
        EXPECT_EQ(c.stats().memory_bytes, 0U);
    }
}

}  // namespace
}  // namespace vigil::dataplane
