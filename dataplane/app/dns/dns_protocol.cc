// DNS as an application-layer protocol: detection over UDP and TCP, the UDP datagram handler
// and the TCP parser (2-byte length prefixed messages), the dns.query buffer, the EVE "dns"
// object and the counters (registered in registry.cc).

#include "common/bytes.h"
#include "dataplane/app/detect.h"
#include "dataplane/app/dns/dns.h"
#include "dataplane/app/registry.h"

#include <nlohmann/json.hpp>

namespace vigil::dataplane::app {

namespace {

// A DNS message is a whole transaction: parsed straight into a slot that lives until the
// next engine call (EVE objects are built after detection, so a message must outlive later
// messages of the same call).
struct DnsTx {
    TxBuffers buf;
    DnsMessage msg;
};

void dns_eve_of(const void* obj, uint64_t tx_id, nlohmann::ordered_json& out) {
    dns_eve(static_cast<const DnsTx*>(obj)->msg, tx_id, out);
}

// The detection buffers of one message (see BufferId::Dns*) that some rule inspects; false
// when none of them has an instance (no rule can match the message: no event).
bool fill_buffers(const DnsMessage& m, bool to_client, const AppConfig& config, TxBuffers& b) {
    bool any = false;
    const auto add = [&](BufferId id, std::string_view v) {
        if (config.needs(id)) {
            b.add(id, v);
            any = true;
        }
    };
    const auto add_u16 = [&](BufferId id, uint16_t v) {
        const char be[2] = {static_cast<char>(v >> 8), static_cast<char>(v & 0xff)};
        add(id, std::string_view(be, 2));
    };
    for (BufferId id : {BufferId::DnsQuery, BufferId::DnsQueriesRrname, BufferId::DnsAnswersRrname,
                        BufferId::DnsAuthoritiesRrname, BufferId::DnsAdditionalsRrname,
                        BufferId::DnsResponseRrname, BufferId::DnsRrtype, BufferId::DnsOpcode,
                        BufferId::DnsRcode, BufferId::DnsEvents}) {
        b.clear(id);
    }
    for (const DnsQuestion& q : m.questions) {
        if (!m.response) {
            add(BufferId::DnsQuery, q.name);
            add_u16(BufferId::DnsRrtype, q.type);
        } else {
            add(BufferId::DnsResponseRrname, q.name);
        }
        add(BufferId::DnsQueriesRrname, q.name);
    }
    if (m.response) {
        for (const DnsAnswer& a : m.answers) {
            add_u16(BufferId::DnsRrtype, a.type);
        }
    }
    const auto section = [&](BufferId id, const std::vector<DnsAnswer>& recs) {
        for (const DnsAnswer& a : recs) {
            add(id, a.name);
            if (!m.response) {
                continue;
            }
            add(BufferId::DnsResponseRrname, a.name);
            if (!a.soa_mname.empty()) {
                add(BufferId::DnsResponseRrname, a.soa_mname);
            } else if (dns_rdata_is_name(a.type)) {
                add(BufferId::DnsResponseRrname, a.rdata);
            }
        }
    };
    section(BufferId::DnsAnswersRrname, m.answers);
    section(BufferId::DnsAuthoritiesRrname, m.authorities);
    section(BufferId::DnsAdditionalsRrname, m.additionals);
    // app-layer events Suricata's DNS parser raises (app-layer-event:dns.*).
    if (m.response != to_client) {
        add(BufferId::DnsEvents, to_client ? "not_a_response" : "not_a_request");
    }
    if ((m.flags & 0x0040) != 0) {
        add(BufferId::DnsEvents, "z_flag_set");
    }
    if (m.opcode >= 7) {  // as Suricata: 0-6 are taken as valid
        add(BufferId::DnsEvents, "invalid_opcode");
    }
    if (m.invalid_authorities) {
        add(BufferId::DnsEvents, "invalid_authorities");
    }
    if (m.invalid_additionals) {
        add(BufferId::DnsEvents, "invalid_additionals");
    }
    add(BufferId::DnsOpcode, std::string_view(reinterpret_cast<const char*>(&m.opcode), 1));
    add(BufferId::DnsRcode, std::string_view(reinterpret_cast<const char*>(&m.rcode), 1));
    return any;
}

// The transactions of one engine call, reused between calls.
class DnsTxSlots {
public:
    explicit DnsTxSlots(const AppConfig& config) : config_(config) {}
    void begin() { used_ = 0; }
    // Parses one message into the next slot; reports it (query or response) as a stage-1
    // event when it fills a buffer some rule inspects.
    void message(AppSink& out, uint64_t& next_id, const uint8_t* data, size_t len, bool to_client) {
        if (used_ == txs_.size()) {
            txs_.push_back(std::make_unique<DnsTx>());
        }
        DnsTx& tx = *txs_[used_];
        DnsMessage& m = tx.msg;
        if (!parse_dns(data, len, m)) {
            ++out.counter(AppProto::Dns, kDnsParseErrors);
            return;
        }
        ++out.counter(AppProto::Dns, m.response ? kDnsResponses : kDnsQueries);
        // Every message is a transaction of its own, as in Suricata 8 (a response is not
        // merged into its query's transaction): ids count messages.
        const uint64_t id = next_id++;
        if (!fill_buffers(m, to_client, config_, tx.buf)) {
            return;  // no rule inspects anything this message has: no event
        }
        ++used_;
        out.push(AppProto::Dns, 1, id, &tx.buf, "dns", dns_eve_of, &tx);
    }

private:
    const AppConfig& config_;
    std::vector<std::unique_ptr<DnsTx>> txs_;
    size_t used_ = 0;
};

// No session for UDP: detection looks at each datagram alone and a DNS message is a whole
// transaction, so the flow's transaction counter is all the state there is (most UDP flows
// are one query and one answer: no allocation for them).
class DnsUdpParser final : public UdpAppParser {
public:
    explicit DnsUdpParser(const AppConfig& config) : slots_(config) {}
    void begin() override { slots_.begin(); }
    void datagram(Flow& flow, const Packet& pkt, AppSink& out) override {
        uint64_t next = flow.app_udp_txs;
        slots_.message(out, next, pkt.payload, pkt.payload_len, pkt.dir == FlowDir::ToClient);
        flow.app_udp_txs = static_cast<uint32_t>(next);
    }

private:
    DnsTxSlots slots_;
};

// DNS over TCP: 2-byte length prefixed messages, reassembled per direction.
class DnsTcpParser final : public AppParser {
public:
    explicit DnsTcpParser(const AppConfig& config) : slots_(config) {}
    void begin() override { slots_.begin(); }
    void data(FlowDir dir, const uint8_t* data, size_t len, AppSink& out) override {
        const auto di = static_cast<size_t>(dir);
        if (stopped_[di]) {
            return;
        }
        std::string& buf = partial_[di];
        size_t i = 0;
        while (i < len) {
            if (buf.size() < 2) {
                buf.push_back(static_cast<char>(data[i++]));
                continue;
            }
            const size_t msg = load_be16(reinterpret_cast<const uint8_t*>(buf.data()));
            const size_t want = msg + 2 - buf.size();
            // Whole messages inside this segment are parsed in place, without copying.
            if (buf.size() == 2 && len - i >= msg) {
                slots_.message(out, next_id_, data + i, msg, dir == FlowDir::ToClient);
                i += msg;
                buf.clear();
                continue;
            }
            const size_t take = std::min(want, len - i);
            buf.append(reinterpret_cast<const char*>(data + i), take);
            i += take;
            if (buf.size() == msg + 2) {
                slots_.message(out, next_id_, reinterpret_cast<const uint8_t*>(buf.data()) + 2, msg,
                               dir == FlowDir::ToClient);
                buf.clear();
            }
        }
    }
    void gap(FlowDir dir) override { stopped_[static_cast<size_t>(dir)] = true; }
    void reset() override {
        partial_[0].clear();
        partial_[1].clear();
        stopped_ = {};
        next_id_ = 0;
    }

private:
    std::array<std::string, 2> partial_;  // partial message (with its length prefix)
    std::array<bool, 2> stopped_{};
    uint64_t next_id_ = 0;
    DnsTxSlots slots_;
};

std::unique_ptr<AppParser> make_dns_tcp(const AppConfig& config, AppStats& /*stats*/) {
    return std::make_unique<DnsTcpParser>(config);
}

std::unique_ptr<UdpAppParser> make_dns_udp(const AppConfig& config, AppStats& /*stats*/) {
    return std::make_unique<DnsUdpParser>(config);
}

// DNS over TCP: 2-byte length, then a message that looks like DNS. Waits for the whole
// message (bounded by `limit`).
ProbeResult probe_dns_tcp_result(const uint8_t* d, size_t n, size_t limit) {
    if (n < 2) {
        return ProbeResult::NeedMore;
    }
    const size_t msg = load_be16(d);
    if (msg < 12 || msg + 2 > limit) {
        return ProbeResult::NoMatch;
    }
    if (n < msg + 2) {
        return ProbeResult::NeedMore;
    }
    return looks_like_dns(d + 2, msg) ? ProbeResult::Match : ProbeResult::NoMatch;
}

void probe_dns_tcp(const ProbeInput& in, Probe& acc) {
    merge_probe(acc, probe_dns_tcp_result(in.data, in.len, in.limit), AppProto::Dns);
}

// Stage 1: one message, query or response.
constexpr BufferDef kBuffers[] = {
    {BufferId::DnsQuery, "dns.query", 1},
    {BufferId::DnsQueriesRrname, "dns.queries.rrname", 1},
    {BufferId::DnsAnswersRrname, "dns.answers.rrname", 1},
    {BufferId::DnsAuthoritiesRrname, "dns.authorities.rrname", 1},
    {BufferId::DnsAdditionalsRrname, "dns.additionals.rrname", 1},
    {BufferId::DnsResponseRrname, "dns.response.rrname", 1},
    {BufferId::DnsRrtype, "dns.rrtype", 1},
    {BufferId::DnsOpcode, "dns.opcode", 1},
    {BufferId::DnsRcode, "dns.rcode", 1},
    {BufferId::DnsEvents, "app-layer-event (dns)", 1},
};

constexpr std::string_view kCounters[] = {"queries", "responses", "parse errors"};

}  // namespace

const AppProtoDef& dns_protocol() {
    static constexpr AppProtoDef kDef{
        .proto = AppProto::Dns,
        .name = "dns",
        .probe_tcp = probe_dns_tcp,
        .probe_udp = looks_like_dns,
        .make_tcp = make_dns_tcp,
        .make_udp = make_dns_udp,
        .eve_key = "dns",
        .buffers = kBuffers,
        .counters = kCounters,
        .summary_counters = 1U << kDnsQueries,
        // EVE stats split DNS flows by transport (dns_udp / dns_tcp); Vigil does not, so
        // it leaves them out rather than misreport them.
        .eve_flow_stats = false,
    };
    return kDef;
}

}  // namespace vigil::dataplane::app
