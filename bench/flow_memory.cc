// flow_memory: heap held by N concurrent TCP flows in the middle of an HTTP exchange (three-
// way handshake, a request, the response headers and the first body segment), through the
// worker's flow table, TCP reassembly and application layer. Prints bytes per flow and the
// total for 100k flows. Measured with mallinfo2 (heap in use), so it counts everything the
// stages allocate, not what they think they hold.

#include <arpa/inet.h>
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "dataplane/app/app_layer.h"
#include "dataplane/app/dns/dns.h"
#include "dataplane/app/http/http.h"
#include "dataplane/app/tls/tls.h"
#include "dataplane/flow_table.h"
#include "dataplane/stream.h"

using namespace vigil;

namespace {

size_t heap_in_use() {
    const struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

struct Sender {
    dataplane::FlowTable& flows;
    dataplane::StreamEngine& stream;
    dataplane::app::AppLayer& app;
    bool app_on = true;
    std::vector<uint8_t> hdr = std::vector<uint8_t>(20);

    void send(const dataplane::IpAddr& src, uint16_t sport, const dataplane::IpAddr& dst,
              uint16_t dport, uint8_t flags, uint32_t seq, uint32_t ack, const std::string& data) {
        dataplane::Packet p;
        p.ip_version = 4;
        p.src = src;
        p.dst = dst;
        p.sport = sport;
        p.dport = dport;
        p.ip_proto = dataplane::kProtoTcp;
        p.l3 = hdr.data();
        p.l4 = hdr.data();
        p.tcp_flags = flags;
        p.tcp_seq = seq;
        p.tcp_ack = ack;
        p.payload = reinterpret_cast<const uint8_t*>(data.data());
        p.payload_len = static_cast<uint32_t>(data.size());
        p.ts_sec = 1704067200;
        dataplane::Flow* f = flows.lookup(p);
        const auto v = stream.process(*f, p);
        if (app_on && v.tracked && v.inspect && v.has_new()) {
            app.on_tcp_data(*f, v.dir, v.data + v.new_from, v.len - v.new_from, false, p);
        }
    }
};

}  // namespace

int main(int argc, char** argv) {
    uint32_t n = 100000;
    bool app_on = true;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--no-app") {
            app_on = false;
        } else {
            n = static_cast<uint32_t>(std::atoi(argv[i]));
        }
    }
    if (n == 0) {
        std::fprintf(stderr,
                     "usage: flow_memory [FLOWS] [--no-app]   (default 100000, app layer on)\n");
        return 2;
    }
    const std::string req =
        "GET /index/page.html?id=12345 HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: "
        "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0\r\nAccept: */*\r\n"
        "Cookie: session=0123456789abcdef\r\n\r\n";
    const std::string resp_hdr =
        "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html\r\nContent-Length: "
        "100000\r\n\r\n";
    const std::string body(1460 - resp_hdr.size(), 'x');

    const size_t base = heap_in_use();
    dataplane::FlowTableConfig fc;
    fc.capacity = n + 16;
    dataplane::StreamEngine stream;
    dataplane::app::AppLayer app;
    dataplane::FlowTable flows(fc);
    const size_t table = heap_in_use() - base;
    Sender s{flows, stream, app};
    s.app_on = app_on;
    uint8_t srv[4] = {198, 51, 100, 10};
    const auto server = dataplane::IpAddr::from_v4(srv);
    for (uint32_t i = 0; i < n; ++i) {
        uint8_t cli[4] = {10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8),
                          static_cast<uint8_t>(i)};
        const auto client = dataplane::IpAddr::from_v4(cli);
        const uint16_t cport = static_cast<uint16_t>(10000 + (i % 50000));
        const uint32_t cs = 1000 + i;
        const uint32_t ss = 900000 + i;
        s.send(client, cport, server, 80, dataplane::kTcpSyn, cs, 0, "");
        s.send(server, 80, client, cport, dataplane::kTcpSyn | dataplane::kTcpAck, ss, cs + 1, "");
        s.send(client, cport, server, 80, dataplane::kTcpAck, cs + 1, ss + 1, "");
        s.send(client, cport, server, 80, dataplane::kTcpAck | dataplane::kTcpPsh, cs + 1, ss + 1,
               req);
        s.send(server, 80, client, cport, dataplane::kTcpAck, ss + 1,
               cs + 1 + static_cast<uint32_t>(req.size()), resp_hdr + body);
    }
    const size_t total = heap_in_use() - base;
    const size_t per_flow = (total - table) / n;
    std::printf("flows: %u concurrent TCP flows (HTTP request sent, first response segment in)%s\n",
                n, app_on ? "" : ", app layer off");
    std::printf("flow table (preallocated, %u slots): %.1f MiB, %zu bytes per slot\n", fc.capacity,
                static_cast<double>(table) / 1048576.0, table / fc.capacity);
    std::printf("stream + app-layer state: %zu bytes per flow (stream buffers held: %.1f MiB)\n",
                per_flow, static_cast<double>(stream.stats().memory_bytes) / 1048576.0);
    std::printf("total per 100k flows: %.1f MiB (table slot + session state)\n",
                static_cast<double>(table / fc.capacity + per_flow) * 100000 / 1048576.0);
    std::printf("active flows: %llu, http requests parsed: %llu\n",
                static_cast<unsigned long long>(flows.stats().active),
                static_cast<unsigned long long>(app.stats().counter(
                    dataplane::app::AppProto::Http, dataplane::app::kHttpRequests)));
    return 0;
}
