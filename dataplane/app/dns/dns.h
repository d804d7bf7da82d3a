#pragma once
// DNS message parser (UDP payloads and length-stripped TCP messages) for detection buffers
// (dns.query, dns.rrtype, ...) and the Suricata EVE "dns" object of alerts.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace vigil::dataplane::app {

// AppStats counters of DNS (AppProtoDef::counters).
enum DnsCounter : uint8_t {
    kDnsQueries,
    kDnsResponses,
    kDnsParseErrors,
};

struct DnsQuestion {
    std::string name;  // raw label bytes joined with '.', no trailing dot ("" = root)
    uint16_t type = 0;
    uint16_t cls = 0;
};

struct DnsAnswer {
    std::string name;
    uint16_t type = 0;
    uint32_t ttl = 0;
    std::string rdata;      // rdata text for A/AAAA/CNAME/PTR/NS/MX/TXT, else empty
    std::string soa_mname;  // SOA: the primary name server (dns.response.rrname)
};

struct DnsMessage {
    uint16_t id = 0;
    bool response = false;
    uint8_t opcode = 0;
    uint8_t rcode = 0;
    std::vector<DnsQuestion> questions;
    std::vector<DnsAnswer> answers;      // a TXT record with n strings gives n answers (Suricata)
    std::vector<DnsAnswer> authorities;  // as far as they parse (see parse_dns)
    std::vector<DnsAnswer> additionals;
    bool invalid_authorities = false;  // an authority record did not parse (the rest dropped)
    bool invalid_additionals = false;
    uint16_t flags = 0;  // raw header flags word: EVE prints it ("flags":"8180")
};

// One DNS message (a UDP payload, or one TCP message without its 2-byte length prefix).
// false when malformed: header truncated, bad label (>63), name > 255, pointer loop or
// forward pointer chains, counts beyond the data. Authority and additional records are kept
// as far as they parse: a malformed one ends them without failing the message. Never reads
// out of bounds.
// Reuses the capacity of `out` (strings and vectors) so a reused DnsMessage does not allocate
// once warmed up.
bool parse_dns(const uint8_t* data, size_t len, DnsMessage& out);

// Cheap plausibility check for protocol detection: header sane (opcode 0-5, qdcount 1..16
// for queries) and the first question parses.
bool looks_like_dns(const uint8_t* data, size_t len);

std::string dns_rrtype_name(uint16_t type);
// CNAME, PTR, MX and NS: their rdata (DnsAnswer::rdata) is a domain name.
bool dns_rdata_is_name(uint16_t type);  // "A", "AAAA", "MX", ... else the number

// Suricata's rcode name ("NOERROR", "NXDOMAIN", ...), else the number.
std::string dns_rcode_name(uint8_t rcode);

// Suricata's EVE "dns" object (version 3, the only form Suricata 8 logs on alerts and the one
// eve-schema.json requires) for this message, into `out`:
// {"version":3,"type":"request"|"response","tx_id":..,"id":..,"flags":"100","rd":true,
//  "opcode":0,"rcode":"NOERROR","queries":[{"rrname":..,"rrtype":..}],
//  "answers":[{"rrname":..,"rrtype":..,"ttl":..,"rdata":..}]}
// Names are printed as Suricata does: as-is when valid UTF-8, else bytes >= 0x80 as "\xHH".
void dns_eve(const DnsMessage& m, uint64_t tx_id, nlohmann::ordered_json& out);

// Suricata's rendering of protocol bytes in EVE strings (its JsonBuilder
// set_string_from_bytes): unchanged when valid UTF-8, else each byte >= 0x80 becomes the
// four characters "\xHH". Shared with the TLS SNI.
std::string eve_bytes_string(std::string_view bytes);

}  // namespace vigil::dataplane::app
