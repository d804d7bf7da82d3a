// TLS as an application-layer protocol: detection, the AppParser over TlsParser, the
// handshake buffers, the EVE "tls" object and the counters (registered in registry.cc).

#include "common/bytes.h"
#include "dataplane/app/detect.h"
#include "dataplane/app/registry.h"
#include "dataplane/app/tls/tls.h"

#include <nlohmann/json.hpp>

namespace vigil::dataplane::app {

namespace {

void tls_eve(const void* obj, uint64_t /*tx_id*/, nlohmann::ordered_json& out) {
    static_cast<const TlsParser*>(obj)->eve(out);
}

// The handshake is one transaction (tx_id 0) that reaches stage 1 (ClientHello), 2
// (ServerHello) and 3 (the server's Certificate message).
class TlsAppParser final : public AppParser {
public:
    void data(FlowDir dir, const uint8_t* data, size_t len, AppSink& out) override {
        if (stopped_ || len == 0) {
            return;
        }
        if (parser_.feed(dir == FlowDir::ToServer, data, len) == TlsParser::Result::Error) {
            ++out.counter(AppProto::Tls, kTlsParseErrors);
            stopped_ = true;
        }
        const uint32_t bits = parser_.take_new();
        if (bits == 0) {
            return;
        }
        if (!tx_) {
            tx_ = std::make_unique<TxBuffers>();  // 1 KiB: made on the first message only
        }
        TxBuffers& tx = *tx_;
        auto emit = [&](uint8_t stage) {
            out.push(AppProto::Tls, stage, 0, &tx, "tls", tls_eve, &parser_);
        };
        if ((bits & kTlsNewClientHello) != 0 && parser_.client_hello()) {
            const TlsClientHello& ch = *parser_.client_hello();
            ++out.counter(AppProto::Tls, kTlsClientHellos);
            tx.clear(BufferId::TlsSni);
            if (!ch.sni.empty()) {
                tx.set(BufferId::TlsSni, ch.sni);
            }
            tx.set(BufferId::Ja3Hash, ch.ja3_hash);
            tx.set(BufferId::Ja3String, ch.ja3_string);
            emit(1);
        }
        if ((bits & kTlsNewServerHello) != 0 && parser_.server_hello()) {
            const TlsServerHello& sh = *parser_.server_hello();
            ++out.counter(AppProto::Tls, kTlsServerHellos);
            tx.set(BufferId::Ja3sHash, sh.ja3s_hash);
            tx.set(BufferId::Ja3sString, sh.ja3s_string);
            emit(2);
        }
        if ((bits & kTlsNewCertificate) != 0 && !parser_.certs().empty()) {
            const auto& certs = parser_.certs();
            ++out.counter(AppProto::Tls, kTlsCertificates);
            tx.set(BufferId::TlsCertSubject, certs[0].subject);
            tx.set(BufferId::TlsCertIssuer, certs[0].issuer);
            tx.set(BufferId::TlsCertSerial, certs[0].serial);
            tx.clear(BufferId::TlsCerts);
            for (const TlsCertInfo& cert : certs) {
                tx.add(BufferId::TlsCerts, cert.der);
            }
            emit(3);
        }
    }
    // Records cannot be resynchronised after lost bytes: the handshake is over for us.
    void gap(FlowDir /*dir*/) override { stopped_ = true; }
    void reset() override {
        parser_ = TlsParser();
        stopped_ = false;
        if (tx_) {
            tx_->clear();
        }
    }

private:
    TlsParser parser_;
    bool stopped_ = false;
    std::unique_ptr<TxBuffers> tx_;
};

std::unique_ptr<AppParser> make_tls(const AppConfig& /*config*/, AppStats& /*stats*/) {
    return std::make_unique<TlsAppParser>();
}

// A TLS handshake record carrying a ClientHello or ServerHello (SSLv3 .. TLS 1.3 record
// versions).
ProbeResult probe_tls_result(const uint8_t* d, size_t n) {
    if (n >= 1 && d[0] != 0x16) {
        return ProbeResult::NoMatch;
    }
    if (n >= 2 && d[1] != 0x03) {
        return ProbeResult::NoMatch;
    }
    if (n >= 3 && d[2] > 0x04) {
        return ProbeResult::NoMatch;
    }
    if (n >= 5 && load_be16(d + 3) < 4) {
        return ProbeResult::NoMatch;
    }
    if (n >= 6) {
        return d[5] == 1 || d[5] == 2 ? ProbeResult::Match : ProbeResult::NoMatch;
    }
    return ProbeResult::NeedMore;
}

void probe_tls(const ProbeInput& in, Probe& acc) {
    merge_probe(acc, probe_tls_result(in.data, in.len), AppProto::Tls);
}

constexpr std::string_view kAliases[] = {"ssl"};

constexpr BufferDef kBuffers[] = {
    {BufferId::TlsSni, "tls.sni", 1},
    {BufferId::Ja3Hash, "ja3.hash", 1},
    {BufferId::Ja3String, "ja3.string", 1},
    {BufferId::Ja3sHash, "ja3s.hash", 2},
    {BufferId::Ja3sString, "ja3s.string", 2},
    {BufferId::TlsCertSubject, "tls.cert_subject", 3},
    {BufferId::TlsCertIssuer, "tls.cert_issuer", 3},
    {BufferId::TlsCertSerial, "tls.cert_serial", 3},
    {BufferId::TlsCerts, "tls.certs", 3},
};

constexpr std::string_view kCounters[] = {"client hellos", "server hellos", "certificates",
                                          "parse errors"};

}  // namespace

const AppProtoDef& tls_protocol() {
    static constexpr AppProtoDef kDef{
        .proto = AppProto::Tls,
        .name = "tls",
        .aliases = kAliases,
        .probe_tcp = probe_tls,
        .make_tcp = make_tls,
        .eve_key = "tls",
        .buffers = kBuffers,
        .counters = kCounters,
        .summary_counters = (1U << kTlsClientHellos) | (1U << kTlsCertificates),
    };
    return kDef;
}

}  // namespace vigil::dataplane::app
