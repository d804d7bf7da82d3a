#pragma once
// A hand-built decoded packet for matcher tests: IPv4 10.0.0.1 -> 192.0.2.10, an established
// flow, the given payload, protocol and ports (no real headers: rules see only the fields).

#include <arpa/inet.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "dataplane/packet.h"

namespace vigil::rules::test {

inline dataplane::IpAddr v4(const char* s) {
    uint8_t b[4];
    inet_pton(AF_INET, s, b);
    return dataplane::IpAddr::from_v4(b);
}

struct TestPacket {
    std::string payload;
    std::vector<uint8_t> hdr = std::vector<uint8_t>(20);
    dataplane::Packet pkt;

    TestPacket(std::string p, uint8_t proto = dataplane::kProtoTcp, uint16_t sport = 40000,
               uint16_t dport = 80)
        : payload(std::move(p)) {
        pkt.ip_version = 4;
        pkt.src = v4("10.0.0.1");
        pkt.dst = v4("192.0.2.10");
        pkt.ip_proto = proto;
        pkt.l3 = hdr.data();
        pkt.l4 = hdr.data();
        pkt.sport = sport;
        pkt.dport = dport;
        pkt.ttl = 64;
        pkt.tcp_flags = dataplane::kTcpAck | dataplane::kTcpPsh;
        pkt.payload = reinterpret_cast<const uint8_t*>(payload.data());
        pkt.payload_len = static_cast<uint32_t>(payload.size());
        pkt.dir = dataplane::FlowDir::ToServer;
        pkt.flow_established = true;
    }
};

}  // namespace vigil::rules::test
