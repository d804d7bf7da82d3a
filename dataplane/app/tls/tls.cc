#include "dataplane/app/tls/tls.h"

#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>

#include "common/bytes.h"
#include "dataplane/app/dns/dns.h"

#include <nlohmann/json.hpp>

namespace vigil::dataplane::app {
namespace {

constexpr size_t kRecordHeaderLen = 5;
constexpr size_t kMaxRecordLen = (1u << 14) + 2048;  // TLSCiphertext limit (RFC 5246 6.2.3)
constexpr size_t kHandshakeHeaderLen = 4;
constexpr size_t kRandomLen = 32;
constexpr size_t kMaxSessionIdLen = 32;

constexpr uint8_t kContentChangeCipherSpec = 20;
constexpr uint8_t kContentAlert = 21;
constexpr uint8_t kContentHandshake = 22;
constexpr uint8_t kContentApplicationData = 23;
constexpr uint8_t kContentHeartbeat = 24;

constexpr uint8_t kHsClientHello = 1;
constexpr uint8_t kHsServerHello = 2;
constexpr uint8_t kHsCertificate = 11;

constexpr uint16_t kExtServerName = 0;
constexpr uint16_t kExtSupportedGroups = 10;
constexpr uint16_t kExtEcPointFormats = 11;
constexpr uint16_t kExtSupportedVersions = 43;
constexpr uint8_t kSniHostName = 0;

constexpr uint16_t kSsl2 = 0x0002;
constexpr uint16_t kSsl3 = 0x0300;
constexpr uint16_t kTls10 = 0x0301;
constexpr uint16_t kTls11 = 0x0302;
constexpr uint16_t kTls12 = 0x0303;
constexpr uint16_t kTls13 = 0x0304;

// RFC 8446 4.1.3: a ServerHello with this random is a HelloRetryRequest, after which the
// client sends a second, plaintext ClientHello.
constexpr std::array<uint8_t, kRandomLen> kHelloRetryRandom{
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};

// RFC 8701 GREASE values: 0x0a0a, 0x1a1a, ..., 0xfafa. JA3 leaves them out of every list.
inline bool is_grease(uint16_t v) {
    return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

// TLS 1.3 and its drafts (0x7fNN): after such a ServerHello the rest is encrypted.
inline bool is_tls13(uint16_t v) {
    return v == kTls13 || (v >> 8) == 0x7f;
}

void append_list(std::string& out, const std::vector<uint16_t>& values) {
    bool first = true;
    for (const uint16_t v : values) {
        if (!first) {
            out.push_back('-');
        }
        out += std::to_string(v);
        first = false;
    }
}

std::string hex_digest(const EVP_MD* md, const void* data, size_t len, const char* sep,
                       bool upper) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> buf{};
    unsigned int n = 0;
    if (EVP_Digest(data, len, buf.data(), &n, md, nullptr) != 1) {
        return {};
    }
    const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < n; ++i) {
        if (i > 0) {
            out += sep;
        }
        out.push_back(digits[buf[i] >> 4]);
        out.push_back(digits[buf[i] & 0xf]);
    }
    return out;
}

struct X509Free {
    void operator()(X509* x) const { X509_free(x); }
};

std::string asn1_string_text(const ASN1_STRING* s) {
    unsigned char* utf8 = nullptr;
    const int n = ASN1_STRING_to_UTF8(&utf8, s);
    if (n < 0) {
        // Not a string type: print the value bytes as hex, as x509-parser does.
        std::string out;
        const unsigned char* d = ASN1_STRING_get0_data(s);
        static constexpr char kHex[] = "0123456789abcdef";
        for (int i = 0; i < ASN1_STRING_length(s); ++i) {
            out.push_back(kHex[d[i] >> 4]);
            out.push_back(kHex[d[i] & 0xf]);
        }
        return out;
    }
    std::string out(reinterpret_cast<const char*>(utf8), static_cast<size_t>(n));
    OPENSSL_free(utf8);
    return out;
}

// Suricata (x509-parser) prints a name as "C=US, O=Let's Encrypt, CN=R3": attributes in the
// certificate's order, short names, ", " between RDNs and " + " inside a multi-valued RDN.
std::string format_name(const X509_NAME* name) {
    std::string out;
    const int count = X509_NAME_entry_count(name);
    int prev_set = -1;
    for (int i = 0; i < count; ++i) {
        const X509_NAME_ENTRY* e = X509_NAME_get_entry(name, i);
        const ASN1_OBJECT* obj = X509_NAME_ENTRY_get_object(e);
        const int set = X509_NAME_ENTRY_set(e);
        if (i > 0) {
            out += set == prev_set ? " + " : ", ";
        }
        prev_set = set;
        const int nid = OBJ_obj2nid(obj);
        const char* sn = nid != NID_undef ? OBJ_nid2sn(nid) : nullptr;
        if (sn != nullptr) {
            out += sn;
        } else {
            std::array<char, 128> oid{};
            OBJ_obj2txt(oid.data(), static_cast<int>(oid.size()), obj, 1);
            out += oid.data();
        }
        out.push_back('=');
        out += asn1_string_text(X509_NAME_ENTRY_get_data(e));
    }
    return out;
}

// The serialNumber INTEGER's content octets as on the wire (a leading 0x00 pad included),
// upper-case hex joined with ':' like Suricata.
std::string format_serial(const ASN1_INTEGER* serial) {
    const int n = i2d_ASN1_INTEGER(serial, nullptr);
    if (n <= 2) {
        return {};
    }
    std::vector<unsigned char> der(static_cast<size_t>(n));
    unsigned char* w = der.data();
    i2d_ASN1_INTEGER(serial, &w);
    size_t off = 2;  // tag, short-form length
    if ((der[1] & 0x80) != 0) {
        off += der[1] & 0x7f;
    }
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (size_t i = off; i < der.size(); ++i) {
        if (i > off) {
            out.push_back(':');
        }
        out.push_back(kHex[der[i] >> 4]);
        out.push_back(kHex[der[i] & 0xf]);
    }
    return out;
}

std::string format_time(const ASN1_TIME* t) {
    std::tm tm{};
    if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
        return {};
    }
    std::array<char, 32> buf{};
    const size_t n = std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%S", &tm);
    return std::string(buf.data(), n);
}

TlsCertInfo parse_cert(const uint8_t* der, size_t len) {
    TlsCertInfo info;
    info.der.assign(reinterpret_cast<const char*>(der), len);
    info.fingerprint = hex_digest(EVP_sha1(), der, len, ":", false);
    const unsigned char* p = der;
    std::unique_ptr<X509, X509Free> x(d2i_X509(nullptr, &p, static_cast<long>(len)));
    if (!x) {
        return info;  // kept (der, fingerprint) so tls.certs still sees it
    }
    info.subject = format_name(X509_get_subject_name(x.get()));
    info.issuer = format_name(X509_get_issuer_name(x.get()));
    info.serial = format_serial(X509_get0_serialNumber(x.get()));
    info.not_before = format_time(X509_get0_notBefore(x.get()));
    info.not_after = format_time(X509_get0_notAfter(x.get()));
    return info;
}

}  // namespace

std::string tls_version_name(uint16_t version) {
    switch (version) {
        case 0:
            return "UNDETERMINED";
        case kSsl2:
            return "SSLv2";
        case kSsl3:
            return "SSLv3";
        case kTls10:
            return "TLSv1";
        case kTls11:
            return "TLS 1.1";
        case kTls12:
            return "TLS 1.2";
        case kTls13:
            return "TLS 1.3";
        default:
            break;
    }
    if ((version >> 8) == 0x7f) {
        return "TLS 1.3 draft-" + std::to_string(version & 0xff);
    }
    std::array<char, 8> buf{};
    std::snprintf(buf.data(), buf.size(), "0x%04x", version);
    return buf.data();
}

TlsParser::Result TlsParser::feed(bool to_server, const uint8_t* data, size_t len) {
    if (error_) {
        return Result::Error;
    }
    Direction& d = dirs_[to_server ? 1 : 0];
    while (len > 0) {
        if (d.header_len < kRecordHeaderLen) {
            const size_t take = std::min(kRecordHeaderLen - d.header_len, len);
            std::memcpy(d.header.data() + d.header_len, data, take);
            d.header_len = static_cast<uint8_t>(d.header_len + take);
            data += take;
            len -= take;
            if (d.header_len < kRecordHeaderLen) {
                return Result::Ok;
            }
            const uint8_t type = d.header[0];
            const size_t record_len = load_be16(d.header.data() + 3);
            // SSLv2-compatible hellos (high bit set) and other protocols land here too.
            if (type < kContentChangeCipherSpec || type > kContentHeartbeat || d.header[1] != 3 ||
                d.header[2] > 4 || record_len > kMaxRecordLen) {
                error_ = true;
                return Result::Error;
            }
            d.content_type = type;
            d.body_left = static_cast<uint32_t>(record_len);
            if (type == kContentChangeCipherSpec) {
                d.encrypted = true;
                d.hs.clear();
                d.hs.shrink_to_fit();  // the handshake of this direction is over
            }
            if (record_len == 0) {
                d.header_len = 0;
            }
            continue;
        }
        const size_t take = std::min<size_t>(d.body_left, len);
        if (d.content_type == kContentHandshake && !d.encrypted) {
            if (!on_handshake_bytes(to_server, data, take)) {
                error_ = true;
                return Result::Error;
            }
        }
        // Alert, ApplicationData, Heartbeat and post-ChangeCipherSpec records: skipped.
        data += take;
        len -= take;
        d.body_left -= static_cast<uint32_t>(take);
        if (d.body_left == 0) {
            d.header_len = 0;
        }
    }
    return Result::Ok;
}

bool TlsParser::on_handshake_bytes(bool to_server, const uint8_t* data, size_t len) {
    Direction& d = dirs_[to_server ? 1 : 0];
    const uint8_t* p = data;
    size_t n = len;
    // Common case: nothing buffered, so complete messages are parsed straight from the input
    // and only a trailing partial message is copied.
    if (!d.hs.empty()) {
        d.hs.insert(d.hs.end(), data, data + len);
        p = d.hs.data();
        n = d.hs.size();
    }
    size_t off = 0;
    while (n - off >= kHandshakeHeaderLen && !d.encrypted) {
        const uint8_t type = p[off];
        const size_t msg_len = load_be24(p + off + 1);
        if (msg_len > kMaxHandshakeMessage) {
            return false;
        }
        if (n - off - kHandshakeHeaderLen < msg_len) {
            break;
        }
        if (!on_handshake_message(to_server, type, p + off + kHandshakeHeaderLen, msg_len)) {
            return false;
        }
        off += kHandshakeHeaderLen + msg_len;
    }
    if (d.encrypted) {
        // A TLS 1.3 ServerHello: anything after it in this direction is ciphertext.
        d.hs.clear();
        d.hs.shrink_to_fit();
        return true;
    }
    if (d.hs.empty()) {
        d.hs.assign(p + off, p + n);
    } else {
        d.hs.erase(d.hs.begin(), d.hs.begin() + static_cast<std::ptrdiff_t>(off));
    }
    return true;
}

bool TlsParser::on_handshake_message(bool to_server, uint8_t type, const uint8_t* body,
                                     size_t len) {
    if (to_server && type == kHsClientHello) {
        return parse_client_hello(body, len);
    }
    if (!to_server && type == kHsServerHello) {
        return parse_server_hello(body, len);
    }
    if (!to_server && type == kHsCertificate) {
        return parse_certificate(body, len);
    }
    return true;  // other handshake messages carry nothing logged or matched
}

namespace {

// Walks the extension block of a hello starting at p[off] (absent when off == len) and calls
// on_ext(type, data, length) for each extension that is not GREASE, in order. False when the
// block is malformed or on_ext refuses an extension.
template <typename OnExt>
bool for_each_extension(const uint8_t* p, size_t len, size_t off, OnExt&& on_ext) {
    if (off >= len) {
        return off == len;
    }
    if (off + 2 > len) {
        return false;
    }
    const size_t ext_end = off + 2 + load_be16(p + off);
    off += 2;
    if (ext_end > len) {
        return false;
    }
    while (off < ext_end) {
        if (ext_end - off < 4) {
            return false;
        }
        const uint16_t ext = load_be16(p + off);
        const size_t elen = load_be16(p + off + 2);
        const uint8_t* e = p + off + 4;
        off += 4;
        if (elen > ext_end - off) {
            return false;
        }
        off += elen;
        if (!is_grease(ext) && !on_ext(ext, e, elen)) {
            return false;
        }
    }
    return true;
}

}  // namespace

bool TlsParser::parse_client_hello(const uint8_t* p, size_t len) {
    if (len < 2 + kRandomLen + 1) {
        return false;
    }
    TlsClientHello hello;
    const uint16_t legacy_version = load_be16(p);
    hello.version = legacy_version;
    size_t off = 2 + kRandomLen;
    const size_t sid_len = p[off];
    off += 1 + sid_len;
    if (sid_len > kMaxSessionIdLen || off + 2 > len) {
        return false;
    }
    const size_t cs_len = load_be16(p + off);
    off += 2;
    if (cs_len % 2 != 0 || off + cs_len > len) {
        return false;
    }
    std::vector<uint16_t> ciphers;
    for (size_t i = 0; i < cs_len; i += 2) {
        const uint16_t c = load_be16(p + off + i);
        if (!is_grease(c)) {
            ciphers.push_back(c);
        }
    }
    off += cs_len;
    if (off + 1 > len) {
        return false;
    }
    off += 1 + p[off];  // compression methods
    if (off > len) {
        return false;
    }
    std::vector<uint16_t> extensions;
    std::vector<uint16_t> groups;
    std::vector<uint16_t> point_formats;
    const bool ext_ok =
        for_each_extension(p, len, off, [&](uint16_t ext, const uint8_t* e, size_t elen) {
            extensions.push_back(ext);
            if (ext == kExtServerName) {
                if (elen < 2 || load_be16(e) > elen - 2) {
                    return false;
                }
                const size_t list_end = 2 + static_cast<size_t>(load_be16(e));
                size_t i = 2;
                while (i + 3 <= list_end) {
                    const uint8_t name_type = e[i];
                    const size_t name_len = load_be16(e + i + 1);
                    if (i + 3 + name_len > list_end) {
                        return false;
                    }
                    if (name_type == kSniHostName) {
                        hello.sni.assign(reinterpret_cast<const char*>(e + i + 3), name_len);
                        break;
                    }
                    i += 3 + name_len;
                }
            } else if (ext == kExtSupportedGroups) {
                if (elen < 2 || load_be16(e) > elen - 2 || load_be16(e) % 2 != 0) {
                    return false;
                }
                const size_t list_len = load_be16(e);
                for (size_t i = 0; i < list_len; i += 2) {
                    const uint16_t g = load_be16(e + 2 + i);
                    if (!is_grease(g)) {
                        groups.push_back(g);
                    }
                }
            } else if (ext == kExtEcPointFormats) {
                if (elen < 1 || e[0] > elen - 1) {
                    return false;
                }
                for (size_t i = 0; i < e[0]; ++i) {
                    point_formats.push_back(e[1 + i]);
                }
            } else if (ext == kExtSupportedVersions) {
                if (elen < 1 || e[0] > elen - 1 || e[0] % 2 != 0) {
                    return false;
                }
                // Suricata takes the client's first (preferred) real version.
                for (size_t i = 0; i < e[0]; i += 2) {
                    const uint16_t v = load_be16(e + 1 + i);
                    if (!is_grease(v)) {
                        hello.version = v;
                        break;
                    }
                }
            }
            return true;
        });
    if (!ext_ok) {
        return false;
    }

    // JA3: SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats.
    std::string& ja3 = hello.ja3_string;
    ja3 = std::to_string(legacy_version);
    ja3.push_back(',');
    append_list(ja3, ciphers);
    ja3.push_back(',');
    append_list(ja3, extensions);
    ja3.push_back(',');
    append_list(ja3, groups);
    ja3.push_back(',');
    append_list(ja3, point_formats);
    hello.ja3_hash = hex_digest(EVP_md5(), ja3.data(), ja3.size(), "", false);

    client_hello_ = std::move(hello);
    new_ |= kTlsNewClientHello;
    return true;
}

bool TlsParser::parse_server_hello(const uint8_t* p, size_t len) {
    if (len < 2 + kRandomLen + 1) {
        return false;
    }
    TlsServerHello hello;
    const uint16_t legacy_version = load_be16(p);
    hello.version = legacy_version;
    const bool retry = std::memcmp(p + 2, kHelloRetryRandom.data(), kRandomLen) == 0;
    size_t off = 2 + kRandomLen;
    const size_t sid_len = p[off];
    off += 1 + sid_len;
    if (sid_len > kMaxSessionIdLen || off + 3 > len) {
        return false;
    }
    const uint16_t cipher = load_be16(p + off);
    off += 3;  // cipher suite, compression method
    std::vector<uint16_t> extensions;
    const bool ext_ok =
        for_each_extension(p, len, off, [&](uint16_t ext, const uint8_t* e, size_t elen) {
            extensions.push_back(ext);
            if (ext == kExtSupportedVersions) {
                if (elen != 2) {
                    return false;
                }
                hello.version = load_be16(e);
            }
            return true;
        });
    if (!ext_ok) {
        return false;
    }
    // JA3S: SSLVersion,Cipher,Extensions.
    std::string& ja3s = hello.ja3s_string;
    ja3s = std::to_string(legacy_version);
    ja3s.push_back(',');
    ja3s += std::to_string(cipher);
    ja3s.push_back(',');
    append_list(ja3s, extensions);
    hello.ja3s_hash = hex_digest(EVP_md5(), ja3s.data(), ja3s.size(), "", false);

    const bool tls13 = is_tls13(hello.version);
    server_hello_ = std::move(hello);
    new_ |= kTlsNewServerHello;
    if (tls13 && !retry) {
        dirs_[0].encrypted = true;  // EncryptedExtensions, Certificate, ... are ciphertext
    }
    return true;
}

bool TlsParser::parse_certificate(const uint8_t* p, size_t len) {
    if (len < 3 || load_be24(p) != len - 3) {
        return false;
    }
    std::vector<TlsCertInfo> chain;
    size_t off = 3;
    while (off < len) {
        if (len - off < 3) {
            return false;
        }
        const size_t cert_len = load_be24(p + off);
        off += 3;
        if (cert_len > len - off) {
            return false;
        }
        chain.push_back(parse_cert(p + off, cert_len));
        off += cert_len;
    }
    certs_ = std::move(chain);
    new_ |= kTlsNewCertificate;
    return true;
}

uint32_t TlsParser::take_new() {
    const uint32_t bits = new_;
    new_ = 0;
    return bits;
}

void TlsParser::eve(nlohmann::ordered_json& j) const {
    j = nlohmann::ordered_json::object();
    if (!certs_.empty()) {
        const TlsCertInfo& leaf = certs_.front();
        const std::pair<const char*, const std::string*> fields[] = {
            {"subject", &leaf.subject},
            {"issuerdn", &leaf.issuer},
            {"serial", &leaf.serial},
            {"fingerprint", &leaf.fingerprint},
        };
        for (const auto& [key, value] : fields) {
            if (!value->empty()) {
                j[key] = eve_bytes_string(*value);
            }
        }
    }
    if (client_hello_ && !client_hello_->sni.empty()) {
        j["sni"] = eve_bytes_string(client_hello_->sni);
    }
    if (client_hello_ || server_hello_) {
        j["version"] = tls_version_name(server_hello_ ? server_hello_->version : 0);
    }
    if (!certs_.empty()) {
        if (!certs_.front().not_before.empty()) {
            j["notbefore"] = certs_.front().not_before;
        }
        if (!certs_.front().not_after.empty()) {
            j["notafter"] = certs_.front().not_after;
        }
    }
    if (client_hello_) {
        j["ja3"] = {{"hash", client_hello_->ja3_hash}, {"string", client_hello_->ja3_string}};
    }
    if (server_hello_) {
        j["ja3s"] = {{"hash", server_hello_->ja3s_hash}, {"string", server_hello_->ja3s_string}};
    }
}

}  // namespace vigil::dataplane::app
