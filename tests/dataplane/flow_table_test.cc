#include "dataplane/flow_table.h"

#include <gtest/gtest.h>

#include <array>
#include <set>
#include <vector>

#include "tests/dataplane/packet_builder.h"

namespace vigil::dataplane {
namespace {

// A stand-in L4 header: the flow table only checks that one was decoded.
constexpr std::array<uint8_t, 20> kL4{};

Packet make_pkt(const test::Ip4& src, uint16_t sport, const test::Ip4& dst, uint16_t dport,
                uint8_t proto, uint8_t flags, int64_t ts, uint32_t wire_len = 100) {
    Packet p;
    p.ip_version = 4;
    p.src = IpAddr::from_v4(src.data());
    p.dst = IpAddr::from_v4(dst.data());
    p.sport = sport;
    p.dport = dport;
    p.ip_proto = proto;
    p.l4 = proto == kProtoTcp || proto == kProtoUdp || proto == kProtoIcmp ? kL4.data() : nullptr;
    p.tcp_flags = flags;
    p.ts_sec = ts;
    p.wire_len = wire_len;
    p.cap_len = wire_len;
    return p;
}

constexpr test::Ip4 kClient{192, 168, 1, 10};
constexpr test::Ip4 kServer{10, 0, 0, 80};  // lower than the client: key order differs

Packet c2s(uint8_t flags, int64_t ts = 100, uint32_t len = 100) {
    return make_pkt(kClient, 40000, kServer, 80, kProtoTcp, flags, ts, len);
}
Packet s2c(uint8_t flags, int64_t ts = 100, uint32_t len = 100) {
    return make_pkt(kServer, 80, kClient, 40000, kProtoTcp, flags, ts, len);
}

Packet udp_pkt(const test::Ip4& src, uint16_t sport, const test::Ip4& dst, uint16_t dport,
               int64_t ts = 100) {
    return make_pkt(src, sport, dst, dport, kProtoUdp, 0, ts);
}

TEST(FlowKeyTest, BothDirectionsGiveTheSameKeyAndHash) {
    const Packet a = c2s(kTcpSyn);
    const Packet b = s2c(kTcpSyn | kTcpAck);
    const FlowKey ka = FlowKey::from_packet(a);
    const FlowKey kb = FlowKey::from_packet(b);
    EXPECT_EQ(ka, kb);
    EXPECT_EQ(flow_hash(ka), flow_hash(kb));
    EXPECT_EQ(ka.addr_lo, IpAddr::from_v4(kServer.data()));
    EXPECT_EQ(ka.port_lo, 80);
    EXPECT_EQ(ka.proto, kProtoTcp);
    // Same address on both ends (loopback): the ports order the key.
    const Packet l1 = make_pkt(kClient, 5000, kClient, 6000, kProtoUdp, 0, 1);
    const Packet l2 = make_pkt(kClient, 6000, kClient, 5000, kProtoUdp, 0, 1);
    EXPECT_EQ(FlowKey::from_packet(l1), FlowKey::from_packet(l2));
}

TEST(FlowKeyTest, VlanAndProtoSeparateFlows) {
    Packet a = c2s(kTcpSyn);
    Packet b = c2s(kTcpSyn);
    b.vlan_count = 2;
    b.vlan = {7, 9};
    EXPECT_EQ(FlowKey::from_packet(b).vlan, 7);
    EXPECT_NE(FlowKey::from_packet(a), FlowKey::from_packet(b));
    EXPECT_NE(flow_hash(FlowKey::from_packet(a)), flow_hash(FlowKey::from_packet(b)));
    Packet u = udp_pkt(kClient, 40000, kServer, 80);
    EXPECT_NE(flow_hash(FlowKey::from_packet(a)), flow_hash(FlowKey::from_packet(u)));
}

TEST(FlowKeyTest, HashSpreadsSimilarKeys) {
    // Keys that differ in one port must land in many different buckets of a small table.
    std::set<uint64_t> low_bits;
    for (uint16_t port = 1; port <= 1024; ++port) {
        const Packet p = make_pkt(kClient, port, kServer, 80, kProtoTcp, 0, 1);
        low_bits.insert(flow_hash(FlowKey::from_packet(p)) & 1023);
    }
    EXPECT_GT(low_bits.size(), 550U);  // ~647 expected for a uniform hash
}

TEST(FlowTableTest, NoIpNoFlow) {
    FlowTable t;
    Packet p;
    EXPECT_EQ(t.lookup(p), nullptr);
    EXPECT_EQ(t.stats().created, 0U);
}

TEST(FlowTableTest, VlanTrackingOffJoinsDirectionsTaggedDifferently) {
    // A session whose directions carry different VLAN ids (a router between two VLANs).
    Packet a = c2s(kTcpSyn);
    a.vlan_count = 1;
    a.vlan = {3136, 0};
    Packet b = s2c(kTcpSyn | kTcpAck);
    b.vlan_count = 1;
    b.vlan = {3137, 0};
    FlowTable tracked;  // vlan.use-for-tracking: true (the default): two flows
    Flow* f1 = tracked.lookup(a);
    EXPECT_NE(tracked.lookup(b), f1);
    FlowTableConfig cfg;
    cfg.vlan_tracking = false;
    FlowTable t(cfg);
    a.flow_hash = flow_hash(FlowKey::from_packet(a));  // as the capture side hashes it
    b.flow_hash = flow_hash(FlowKey::from_packet(b));
    Flow* f = t.lookup(a);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(t.lookup(b), f);
    EXPECT_EQ(b.dir, FlowDir::ToClient);
    EXPECT_EQ(f->pkts_toserver, 1U);
    EXPECT_EQ(f->pkts_toclient, 1U);
}

TEST(FlowTableTest, BothDirectionsSameFlowWithDirectionAndCounters) {
    FlowTable t;
    Packet a = c2s(kTcpSyn, 100, 60);
    Flow* f1 = t.lookup(a);
    ASSERT_NE(f1, nullptr);
    EXPECT_EQ(a.dir, FlowDir::ToServer);
    Packet b = s2c(kTcpSyn | kTcpAck, 100, 64);
    Flow* f2 = t.lookup(b);
    EXPECT_EQ(f1, f2);
    EXPECT_EQ(b.dir, FlowDir::ToClient);
    Packet c = c2s(kTcpAck, 101, 52);
    EXPECT_EQ(t.lookup(c), f1);
    EXPECT_EQ(c.dir, FlowDir::ToServer);
    EXPECT_EQ(f1->pkts_toserver, 2U);
    EXPECT_EQ(f1->pkts_toclient, 1U);
    EXPECT_EQ(f1->bytes_toserver, 112U);
    EXPECT_EQ(f1->bytes_toclient, 64U);
    EXPECT_EQ(f1->client, IpAddr::from_v4(kClient.data()));
    EXPECT_EQ(f1->client_port, 40000);
    EXPECT_EQ(f1->start_sec, 100);
    EXPECT_EQ(f1->last_sec, 101);
    EXPECT_EQ(t.stats().created, 1U);
    EXPECT_EQ(t.stats().active, 1U);
}

TEST(FlowTableTest, ThreeWayHandshakeEstablishesOnlyAfterAck) {
    FlowTable t;
    Packet syn = c2s(kTcpSyn);
    Flow* f = t.lookup(syn);
    EXPECT_EQ(f->tcp_state, TcpState::SynSent);
    EXPECT_FALSE(syn.flow_established);
    Packet synack = s2c(kTcpSyn | kTcpAck);
    t.lookup(synack);
    EXPECT_EQ(f->tcp_state, TcpState::SynRecv);
    EXPECT_FALSE(synack.flow_established);
    Packet ack = c2s(kTcpAck);
    t.lookup(ack);
    EXPECT_EQ(f->tcp_state, TcpState::Established);
    EXPECT_TRUE(ack.flow_established);  // the handshake-completing ACK counts
    Packet data = s2c(kTcpAck | kTcpPsh);
    t.lookup(data);
    EXPECT_TRUE(data.flow_established);
    EXPECT_EQ(data.dir, FlowDir::ToClient);
}

TEST(FlowTableTest, ServerAckDoesNotCompleteHandshake) {
    FlowTable t;
    Packet syn = c2s(kTcpSyn);
    Flow* f = t.lookup(syn);
    Packet synack = s2c(kTcpSyn | kTcpAck);
    t.lookup(synack);
    Packet server_ack = s2c(kTcpAck);
    t.lookup(server_ack);
    EXPECT_EQ(f->tcp_state, TcpState::SynRecv);
    EXPECT_FALSE(server_ack.flow_established);
}

TEST(FlowTableTest, FinFromBothSidesCloses) {
    FlowTable t;
    Packet p = c2s(kTcpSyn);
    Flow* f = t.lookup(p);
    p = s2c(kTcpSyn | kTcpAck);
    t.lookup(p);
    p = c2s(kTcpAck);
    t.lookup(p);
    p = c2s(kTcpFin | kTcpAck);
    t.lookup(p);
    EXPECT_EQ(f->tcp_state, TcpState::Closing);
    EXPECT_TRUE(p.flow_established);
    EXPECT_TRUE(f->fin_toserver);
    p = s2c(kTcpFin | kTcpAck);
    t.lookup(p);
    EXPECT_EQ(f->tcp_state, TcpState::Closed);
    EXPECT_FALSE(p.flow_established);
}

TEST(FlowTableTest, MidstreamNeverEstablished) {
    FlowTable t;
    Packet p = c2s(kTcpAck | kTcpPsh);
    Flow* f = t.lookup(p);
    for (int i = 0; i < 3; ++i) {
        Packet q = s2c(kTcpAck);
        t.lookup(q);
        EXPECT_FALSE(q.flow_established);
        Packet r = c2s(kTcpAck);
        t.lookup(r);
        EXPECT_FALSE(r.flow_established);
    }
    // Even a SYN / SYN-ACK / ACK later does not revive a midstream flow.
    Packet syn = c2s(kTcpSyn);
    t.lookup(syn);
    Packet synack = s2c(kTcpSyn | kTcpAck);
    t.lookup(synack);
    Packet ack = c2s(kTcpAck);
    t.lookup(ack);
    EXPECT_EQ(f->tcp_state, TcpState::None);
    EXPECT_FALSE(ack.flow_established);
    EXPECT_EQ(t.stats().created, 1U);
}

TEST(FlowTableTest, SynAckFirstMakesTheDestinationTheClient) {
    FlowTable t;
    Packet synack = s2c(kTcpSyn | kTcpAck);
    Flow* f = t.lookup(synack);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->client, IpAddr::from_v4(kClient.data()));
    EXPECT_EQ(f->client_port, 40000);
    EXPECT_EQ(synack.dir, FlowDir::ToClient);
    EXPECT_EQ(f->pkts_toclient, 1U);
    EXPECT_EQ(f->tcp_state, TcpState::None);
    Packet ack = c2s(kTcpAck);
    t.lookup(ack);
    EXPECT_EQ(ack.dir, FlowDir::ToServer);
}

TEST(FlowTableTest, UdpEstablishedAfterReply) {
    FlowTable t;
    Packet q = udp_pkt(kClient, 5353, kServer, 53);
    Flow* f = t.lookup(q);
    EXPECT_FALSE(q.flow_established);
    EXPECT_EQ(q.dir, FlowDir::ToServer);
    Packet q2 = udp_pkt(kClient, 5353, kServer, 53);
    t.lookup(q2);
    EXPECT_FALSE(q2.flow_established);
    Packet r = udp_pkt(kServer, 53, kClient, 5353);
    t.lookup(r);
    EXPECT_TRUE(r.flow_established);  // the reply itself counts
    EXPECT_EQ(r.dir, FlowDir::ToClient);
    Packet q3 = udp_pkt(kClient, 5353, kServer, 53);
    t.lookup(q3);
    EXPECT_TRUE(q3.flow_established);
    EXPECT_TRUE(f->reply_seen);
    EXPECT_EQ(f->tcp_state, TcpState::None);
}

TEST(FlowTableTest, IcmpRepliesShareTheFlowOtherProtocolsApart) {
    FlowTable t;
    Packet echo = make_pkt(kClient, 0, kServer, 0, kProtoIcmp, 0, 1);
    Packet reply = make_pkt(kServer, 0, kClient, 0, kProtoIcmp, 0, 1);
    Flow* f = t.lookup(echo);
    EXPECT_EQ(t.lookup(reply), f);
    EXPECT_TRUE(reply.flow_established);
    Packet gre = make_pkt(kClient, 0, kServer, 0, 47, 0, 1);
    EXPECT_NE(t.lookup(gre), f);
    EXPECT_EQ(t.stats().created, 2U);
}

TEST(FlowTableTest, EvictsLeastRecentlyUsedWhenFull) {
    FlowTableConfig cfg;
    cfg.capacity = 3;
    FlowTable t(cfg);
    std::vector<uint16_t> removed_ports;
    t.set_on_remove([&](const Flow& f, FlowEnd) { removed_ports.push_back(f.client_port); });
    for (uint16_t port = 1; port <= 3; ++port) {
        Packet p = udp_pkt(kClient, port, kServer, 53, 10 + port);
        t.lookup(p);
    }
    // Touch port 1 again: port 2 becomes the least recently used.
    Packet again = udp_pkt(kClient, 1, kServer, 53, 20);
    t.lookup(again);
    Packet fourth = udp_pkt(kClient, 4, kServer, 53, 21);
    Flow* f4 = t.lookup(fourth);
    ASSERT_NE(f4, nullptr);
    EXPECT_EQ(f4->client_port, 4);
    ASSERT_EQ(removed_ports.size(), 1U);
    EXPECT_EQ(removed_ports[0], 2);
    EXPECT_EQ(t.stats().evicted, 1U);
    EXPECT_EQ(t.stats().active, 3U);
    EXPECT_EQ(t.stats().created, 4U);
    // Port 1 survived (same flow, counters kept); port 2 comes back as a new flow.
    Packet p1 = udp_pkt(kClient, 1, kServer, 53, 22);
    EXPECT_EQ(t.lookup(p1)->pkts_toserver, 3U);
    Packet p2 = udp_pkt(kClient, 2, kServer, 53, 23);
    EXPECT_EQ(t.lookup(p2)->pkts_toserver, 1U);
    EXPECT_EQ(t.stats().evicted, 2U);
    EXPECT_EQ(removed_ports[1], 3);
}

// What an EVE flow record reports: the TCP flags of each direction, the time of the latest
// packet (not moved back by an earlier one), and why the flow ended.
TEST(FlowTableTest, KeepsFlagsPerDirectionEndTimeAndEndReason) {
    FlowTableConfig cfg;
    cfg.capacity = 2;
    cfg.timeouts.udp_new = 30;
    FlowTable t(cfg);
    std::vector<std::pair<uint16_t, FlowEnd>> ended;
    t.set_on_remove([&](const Flow& f, FlowEnd why) {
        ended.emplace_back(f.client_port, why);
        if (f.key.proto == kProtoTcp && f.pkts_toserver == 3) {  // the first connection
            EXPECT_EQ(f.tcp_flags_ts, kTcpSyn | kTcpAck | kTcpFin);
            EXPECT_EQ(f.tcp_flags_tc, kTcpSyn | kTcpAck | kTcpFin);
            EXPECT_EQ(f.last_sec, 103);
            EXPECT_EQ(f.last_usec, 7U);
        }
    });
    Packet syn = c2s(kTcpSyn, 100);
    t.lookup(syn);
    Packet sa = s2c(kTcpSyn | kTcpAck, 101);
    t.lookup(sa);
    Packet ack = c2s(kTcpAck, 102);
    t.lookup(ack);
    Packet fin1 = c2s(kTcpFin | kTcpAck, 103);
    fin1.ts_usec = 7;
    t.lookup(fin1);
    Packet late = s2c(kTcpFin | kTcpAck, 102);  // captured out of order: earlier time
    Flow* f = t.lookup(late);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->tcp_state, TcpState::Closed);
    EXPECT_EQ(f->last_sec, 103);
    // A new SYN on the closed 5-tuple ends the old flow: Reused.
    Packet again = c2s(kTcpSyn, 104);
    t.lookup(again);
    ASSERT_EQ(ended.size(), 1U);
    EXPECT_EQ(ended[0].second, FlowEnd::Reused);
    // The table holds 2: a second UDP flow evicts the least recently used one.
    Packet u1 = udp_pkt(kClient, 1, kServer, 53, 105);
    t.lookup(u1);
    Packet u2 = udp_pkt(kClient, 2, kServer, 53, 106);
    t.lookup(u2);
    ASSERT_EQ(ended.size(), 2U);
    EXPECT_EQ(ended[1].second, FlowEnd::Evicted);
    t.expire(106 + 31);  // both UDP flows idle past their 30 s
    ASSERT_EQ(ended.size(), 4U);
    EXPECT_EQ(ended[2].second, FlowEnd::Timeout);
    EXPECT_EQ(ended[3].second, FlowEnd::Timeout);
    const size_t before = ended.size();
    Packet u3 = udp_pkt(kClient, 3, kServer, 53, 200);
    t.lookup(u3);
    t.flush();
    ASSERT_EQ(ended.size(), before + 1);
    EXPECT_EQ(ended.back().second, FlowEnd::Flush);
}

TEST(FlowTableTest, EvictionWorksAcrossTimeoutClasses) {
    FlowTableConfig cfg;
    cfg.capacity = 2;
    FlowTable t(cfg);
    Packet syn = c2s(kTcpSyn, 10);  // TCP new
    t.lookup(syn);
    Packet dns = udp_pkt(kClient, 1, kServer, 53, 11);  // UDP new, more recent
    t.lookup(dns);
    Packet third = udp_pkt(kClient, 2, kServer, 53, 12);
    t.lookup(third);
    EXPECT_EQ(t.stats().evicted, 1U);
    // The older TCP flow was the victim.
    Packet syn2 = c2s(kTcpAck, 13);
    EXPECT_EQ(t.lookup(syn2)->pkts_toserver, 1U);
}

TEST(FlowTableTest, ExpiresByPerStateTimeout) {
    FlowTableConfig cfg;
    cfg.timeouts.tcp_new = 30;
    cfg.timeouts.tcp_established = 600;
    cfg.timeouts.tcp_closed = 10;
    cfg.timeouts.udp_new = 20;
    cfg.timeouts.udp_established = 300;
    FlowTable t(cfg);
    size_t removed = 0;
    t.set_on_remove([&](const Flow&, FlowEnd) { ++removed; });

    // Established TCP at t=100 (oldest activity), then a closed TCP flow and a one-way UDP
    // flow with short timeouts that are more recent: they must not hide behind it.
    Packet p = c2s(kTcpSyn, 100);
    Flow* est = t.lookup(p);
    p = s2c(kTcpSyn | kTcpAck, 100);
    t.lookup(p);
    p = c2s(kTcpAck, 100);
    t.lookup(p);
    ASSERT_EQ(est->tcp_state, TcpState::Established);

    Packet rst_open = make_pkt(kClient, 41000, kServer, 80, kProtoTcp, kTcpSyn, 105);
    Flow* closed = t.lookup(rst_open);
    Packet rst = make_pkt(kServer, 80, kClient, 41000, kProtoTcp, kTcpRst | kTcpAck, 105);
    t.lookup(rst);
    ASSERT_EQ(closed->tcp_state, TcpState::Closed);

    Packet q = udp_pkt(kClient, 5000, kServer, 53, 106);
    t.lookup(q);
    Packet two_way = udp_pkt(kClient, 5001, kServer, 53, 106);
    t.lookup(two_way);
    Packet answer = udp_pkt(kServer, 53, kClient, 5001, 106);
    t.lookup(answer);
    EXPECT_EQ(t.stats().active, 4U);

    EXPECT_EQ(t.expire(114), 0U);  // closed is due at 115
    EXPECT_EQ(t.expire(115), 1U);
    EXPECT_EQ(t.stats().active, 3U);
    EXPECT_EQ(t.expire(126), 1U);  // one-way UDP: 106 + 20
    EXPECT_EQ(t.stats().active, 2U);
    EXPECT_EQ(t.expire(405), 0U);  // two-way UDP: 106 + 300 = 406
    EXPECT_EQ(t.expire(406), 1U);
    EXPECT_EQ(t.expire(699), 0U);  // established TCP: 100 + 600
    EXPECT_EQ(t.expire(700), 1U);
    EXPECT_EQ(t.stats().active, 0U);
    EXPECT_EQ(t.stats().expired, 4U);
    EXPECT_EQ(removed, 4U);
}

TEST(FlowTableTest, ActivityPostponesExpiry) {
    FlowTableConfig cfg;
    cfg.timeouts.udp_new = 30;
    FlowTable t(cfg);
    Packet a = udp_pkt(kClient, 1, kServer, 2, 0);
    t.lookup(a);
    Packet b = udp_pkt(kClient, 1, kServer, 2, 20);
    t.lookup(b);
    EXPECT_EQ(t.expire(49), 0U);
    EXPECT_EQ(t.expire(50), 1U);
}

TEST(FlowTableTest, ExpireRunsAtMostOncePerSecond) {
    FlowTableConfig cfg;
    cfg.timeouts.udp_new = 5;
    FlowTable t(cfg);
    EXPECT_EQ(t.expire(0), 0U);  // first call at time 0 scans (and finds nothing)
    Packet a = udp_pkt(kClient, 1, kServer, 2, 0);
    t.lookup(a);
    EXPECT_EQ(t.expire(10), 1U);
    Packet b = udp_pkt(kClient, 3, kServer, 4, 0);
    t.lookup(b);
    EXPECT_EQ(t.expire(10), 0U);  // same second: no work
    EXPECT_EQ(t.stats().active, 1U);
    EXPECT_EQ(t.expire(11), 1U);
}

TEST(FlowTableTest, TcpReuseAfterRst) {
    FlowTable t;
    std::vector<uint64_t> removed_ids;
    t.set_on_remove([&](const Flow& f, FlowEnd) { removed_ids.push_back(f.flow_id); });
    Packet p = c2s(kTcpSyn, 100);
    Flow* f = t.lookup(p);
    const uint64_t first_id = f->flow_id;
    p = s2c(kTcpSyn | kTcpAck, 100);
    t.lookup(p);
    p = c2s(kTcpAck, 100);
    t.lookup(p);
    p = c2s(kTcpRst, 101);
    t.lookup(p);
    EXPECT_EQ(f->tcp_state, TcpState::Closed);
    EXPECT_FALSE(p.flow_established);
    // A retransmitted RST or an ACK does not reopen it.
    p = s2c(kTcpAck, 101);
    t.lookup(p);
    EXPECT_EQ(f->tcp_state, TcpState::Closed);
    EXPECT_EQ(t.stats().reused, 0U);

    Packet syn = c2s(kTcpSyn, 102);
    Flow* g = t.lookup(syn);
    EXPECT_EQ(t.stats().reused, 1U);
    EXPECT_EQ(t.stats().created, 2U);
    EXPECT_EQ(t.stats().active, 1U);
    ASSERT_EQ(removed_ids.size(), 1U);
    EXPECT_EQ(removed_ids[0], first_id);
    EXPECT_EQ(g->tcp_state, TcpState::SynSent);
    EXPECT_EQ(g->pkts_toserver, 1U);
    EXPECT_EQ(g->pkts_toclient, 0U);
    EXPECT_EQ(g->start_sec, 102);
    EXPECT_NE(g->flow_id, first_id);
}

TEST(FlowTableTest, FlowIdDeterministicAndBelow2To53) {
    std::vector<uint64_t> ids;
    for (int run = 0; run < 2; ++run) {
        FlowTable t;
        for (uint16_t port = 1; port <= 200; ++port) {
            Packet p = make_pkt(kClient, port, kServer, 80, kProtoTcp, kTcpSyn, 1700000000 + port);
            p.ts_usec = port * 3;
            const Flow* f = t.lookup(p);
            EXPECT_NE(f->flow_id, 0U);
            EXPECT_LT(f->flow_id, uint64_t{1} << 53);
            if (run == 0) {
                ids.push_back(f->flow_id);
            } else {
                EXPECT_EQ(f->flow_id, ids[port - 1]);
            }
        }
    }
    EXPECT_EQ(std::set<uint64_t>(ids.begin(), ids.end()).size(), ids.size());
    // Same key, different start time: a different id.
    FlowTable t1;
    FlowTable t2;
    Packet a = c2s(kTcpSyn, 100);
    Packet b = c2s(kTcpSyn, 101);
    EXPECT_NE(t1.lookup(a)->flow_id, t2.lookup(b)->flow_id);
}

TEST(FlowTableTest, FlushRemovesEverything) {
    FlowTable t;
    size_t removed = 0;
    t.set_on_remove([&](const Flow&, FlowEnd) { ++removed; });
    for (uint16_t port = 1; port <= 10; ++port) {
        Packet p = udp_pkt(kClient, port, kServer, 53, 1);
        t.lookup(p);
    }
    Packet syn = c2s(kTcpSyn, 1);
    t.lookup(syn);
    t.flush();
    EXPECT_EQ(removed, 11U);
    EXPECT_EQ(t.stats().active, 0U);
    EXPECT_EQ(t.stats().expired, 0U);
    // The table is usable again and the old flows are gone.
    Packet again = udp_pkt(kClient, 1, kServer, 53, 2);
    EXPECT_EQ(t.lookup(again)->pkts_toserver, 1U);
}

TEST(FlowTableTest, ManyFlowsChurnKeepsTableConsistent) {
    FlowTableConfig cfg;
    cfg.capacity = 64;
    cfg.timeouts.udp_new = 3;
    FlowTable t(cfg);
    uint64_t removed = 0;
    t.set_on_remove([&](const Flow&, FlowEnd) { ++removed; });
    for (int i = 0; i < 5000; ++i) {
        const uint16_t port = static_cast<uint16_t>(i % 300);
        Packet p = udp_pkt(kClient, port, kServer, 53, i / 50);
        Flow* f = t.lookup(p);
        ASSERT_NE(f, nullptr);
        ASSERT_EQ(f->client_port, port);
        t.expire(i / 50);
    }
    const FlowStats& s = t.stats();
    EXPECT_LE(s.active, 64U);
    EXPECT_EQ(s.created - s.expired - s.evicted, s.active);
    EXPECT_EQ(removed, s.expired + s.evicted);
}

TEST(FlowTableTest, CountsFlowbitOverflowsOnRemoval) {
    FlowTable t;
    Packet p = udp_pkt(kClient, 1, kServer, 2, 1);
    Flow* f = t.lookup(p);
    f->flowbit_overflows = 3;
    t.flush();
    EXPECT_EQ(t.stats().flowbit_overflows, 3U);
}

TEST(FlowBitsTest, SetIssetUnsetToggle) {
    FlowBits b;
    EXPECT_FALSE(b.isset(5));
    EXPECT_TRUE(b.set(5));
    EXPECT_TRUE(b.set(5));  // idempotent, no duplicate
    EXPECT_EQ(b.count, 1);
    EXPECT_TRUE(b.isset(5));
    b.toggle(6);
    EXPECT_TRUE(b.isset(6));
    b.toggle(5);
    EXPECT_FALSE(b.isset(5));
    EXPECT_TRUE(b.isset(6));
    b.unset(6);
    EXPECT_EQ(b.count, 0);
    b.unset(42);  // absent: no-op
    EXPECT_EQ(b.count, 0);
}

TEST(FlowBitsTest, FullStoreRefusesNewBits) {
    FlowBits b;
    for (uint16_t id = 0; id < FlowBits::kMax; ++id) {
        ASSERT_TRUE(b.set(id));
    }
    EXPECT_FALSE(b.set(1000));
    EXPECT_FALSE(b.isset(1000));
    EXPECT_TRUE(b.set(3));  // already set: fine
    b.toggle(1000);         // cannot set: stays unset
    EXPECT_FALSE(b.isset(1000));
    b.unset(0);
    EXPECT_TRUE(b.set(1000));
    for (uint16_t id = 1; id < FlowBits::kMax; ++id) {
        EXPECT_TRUE(b.isset(id)) << id;
    }
}

}  // namespace
}  // namespace vigil::dataplane
