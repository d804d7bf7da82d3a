#pragma once
// TLS handshake parser for one connection: record-layer reassembly of both directions,
// ClientHello (SNI, JA3), ServerHello (JA3S) and the server certificate chain (TLS <= 1.2),
// for detection buffers (tls.sni, tls.cert_subject, ja3.hash, ...) and the EVE "tls" object.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace vigil::dataplane::app {

struct TlsClientHello {
    // supported_versions' first non-GREASE TLS version when the extension is present (what
    // Suricata records), else the hello's legacy_version.
    uint16_t version = 0;
    std::string sni;  // raw server_name host_name bytes
    std::string ja3_string;
    std::string ja3_hash;
};

struct TlsServerHello {
    uint16_t version = 0;  // supported_versions' selected version (TLS 1.3), else legacy_version
    std::string ja3s_string;
    std::string ja3s_hash;
};

struct TlsCertInfo {
    std::string subject;  // "C=US, ST=California, O=Example, CN=example.com" (Suricata's format)
    std::string issuer;
    std::string serial;       // "0A:1B:2C" upper-case hex bytes
    std::string fingerprint;  // SHA-1 of the DER, "aa:bb:..." lower-case
    std::string not_before;   // "2024-01-01T00:00:00"
    std::string not_after;
    std::string der;  // the certificate as received
};

// AppStats counters of TLS (AppProtoDef::counters).
enum TlsCounter : uint8_t {
    kTlsClientHellos,
    kTlsServerHellos,
    kTlsCertificates,
    kTlsParseErrors,
};

inline constexpr uint32_t kTlsNewClientHello = 1;
inline constexpr uint32_t kTlsNewServerHello = 2;
inline constexpr uint32_t kTlsNewCertificate = 4;

// Suricata's name of a TLS version: "TLS 1.2", "TLS 1.3", "TLSv1", "SSLv3", "TLS 1.3 draft-28",
// "UNDETERMINED" for 0, else "0x%04x".
std::string tls_version_name(uint16_t version);

class TlsParser {
public:
    enum class Result { Ok, Error };

    // In-order bytes of one direction (to_server = from the client). Handles TLS records split
    // across calls at any byte, handshake messages split across records and several messages
    // in one record; stops parsing (Error, and every later call returns Error) on malformed
    // data or non-TLS records. ChangeCipherSpec/encrypted records after the handshake are
    // skipped cheaply (only the 5-byte record header is examined).
    Result feed(bool to_server, const uint8_t* data, size_t len);

    const std::optional<TlsClientHello>& client_hello() const { return client_hello_; }
    const std::optional<TlsServerHello>& server_hello() const { return server_hello_; }
    const std::vector<TlsCertInfo>& certs() const { return certs_; }  // server chain, leaf first
    uint32_t take_new();  // kTlsNew* bits completed since the last call

    // Suricata's alert "tls" object, schema-valid: subject, issuerdn, serial,
    // fingerprint, sni, version ("TLS 1.2", "TLS 1.3", ...), notbefore, notafter,
    // ja3 {hash, string}, ja3s {hash, string}: only the fields known. "version" is the
    // server's (Suricata logs server_connp.version): "UNDETERMINED" before a ServerHello.
    void eve(nlohmann::ordered_json& out) const;

    // Largest handshake message accepted (a certificate chain): bounds memory per direction.
    static constexpr size_t kMaxHandshakeMessage = 128 * 1024;

private:
    struct Direction {
        std::array<uint8_t, 5> header{};
        uint8_t header_len = 0;
        uint8_t content_type = 0;
        uint32_t body_left = 0;
        bool encrypted = false;   // after ChangeCipherSpec: handshake records are ciphertext
        std::vector<uint8_t> hs;  // handshake bytes not yet forming a complete message
    };

    bool on_handshake_bytes(bool to_server, const uint8_t* data, size_t len);
    bool on_handshake_message(bool to_server, uint8_t type, const uint8_t* body, size_t len);
    bool parse_client_hello(const uint8_t* p, size_t len);
    bool parse_server_hello(const uint8_t* p, size_t len);
    bool parse_certificate(const uint8_t* p, size_t len);

    std::array<Direction, 2> dirs_;  // [0] = to_client, [1] = to_server
    bool error_ = false;
    uint32_t new_ = 0;
    std::optional<TlsClientHello> client_hello_;
    std::optional<TlsServerHello> server_hello_;
    std::vector<TlsCertInfo> certs_;
};

}  // namespace vigil::dataplane::app
