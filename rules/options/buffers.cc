// Buffer keywords: Suricata 7 sticky buffers (with their pre-6 names as aliases), the legacy
// content modifiers that move the content before them into a buffer, the buffer transforms,
// and the pcre flags that stand for a legacy modifier.

#include <array>
#include <string>
#include <utility>

#include "common/text.h"
#include "rules/options/parse.h"
#include "rules/options/registry.h"
#include "rules/rule_options.h"

namespace vigil::rules::detail {

namespace {

using dataplane::app::BufferId;

Status apply_sticky(OptionParser& p, const KeywordUse& u) {
    p.open_sticky(u.written, u.kw.buffer);
    return Ok{};
}

Status apply_legacy(OptionParser& p, const KeywordUse& u) {
    return p.move_last_content(u.kw.name, u.kw.buffer);
}

Status apply_transform(OptionParser& p, const KeywordUse& u) {
    const std::string n(u.kw.name);
    BufferMatch* b = p.current_buffer();
    if (b == nullptr) {
        return reject(n + ": transforms need a sticky buffer before them");
    }
    if (!b->ops.empty() || b->bsize) {
        b = p.reopen_for_transform();  // the matches so far see the untransformed buffer
    }
    auto t = parse_transform(u.kw.transform, u.kw.name, u.value);
    if (!t) {
        return reject(t.error().message);
    }
    b->transforms.push_back(std::move(*t));
    return Ok{};
}

constexpr KeywordDef sticky(std::string_view name, BufferId id, BufDir dir = BufDir::Fixed) {
    return {name, KeywordFamily::StickyBuffer, ValueRule::None, apply_sticky, {id, dir}};
}

constexpr KeywordDef header_sticky(std::string_view name, PacketHeader h) {
    return {name,
            KeywordFamily::StickyBuffer,
            ValueRule::None,
            apply_sticky,
            {BufferId{}, BufDir::Fixed, h}};
}

// An integer keyword on a transaction field (Suricata's unsigned integer syntax: n, !n, <n,
// <=n, >n, >=n, n-m): byte_test programs on the field's buffer, whose instances hold the
// field big endian (2 bytes: dns.rrtype; 1 byte: dns.opcode, dns.rcode).
Status apply_field(OptionParser& p, const KeywordUse& u) {
    const bool wide = u.kw.buffer.id == BufferId::DnsRrtype;
    std::string value(trim(u.v()));
    if (u.kw.buffer.id == BufferId::DnsRcode) {
        // dns.rcode also takes the code's name (RFC 1035, 2136), with an optional '!'.
        static constexpr std::string_view kRcodes[] = {"noerror", "formerr", "servfail", "nxdomain",
                                                       "notimp",  "refused", "yxdomain", "yxrrset",
                                                       "nxrrset", "notauth", "notzone"};
        const size_t neg = value.starts_with('!') ? 1 : 0;
        std::string name = value.substr(neg);
        for (char& ch : name) {
            ch = ascii_lower(ch);
        }
        for (size_t code = 0; code < std::size(kRcodes); ++code) {
            if (name == kRcodes[code]) {
                value = std::string(neg ? "!" : "") + std::to_string(code);
            }
        }
    }
    auto m = parse_int_match(u.kw.name, value, wide ? 0xffff : 0xff);
    if (!m) {
        return m.error();
    }
    const auto test = [wide](char op, uint64_t v, bool negated = false) {
        ByteTest t;
        t.nbytes = wide ? 2 : 1;
        t.op = op;
        t.negated = negated;
        t.value.value = static_cast<int64_t>(v);
        return PayloadOp{t};
    };
    std::vector<PayloadOp> ops;
    if (m->op == IntMatch::Op::Range) {  // exclusive: lo < x < hi
        ops.push_back(test('>', m->lo));
        ops.push_back(test('<', m->hi));
    } else {
        // byte_test operator and negation for Eq, Ne, Lt, Le, Gt, Ge (IntMatch::Op order).
        static constexpr std::array<std::pair<char, bool>, 6> kOps{
            {{'=', false}, {'=', true}, {'<', false}, {'l', false}, {'>', false}, {'g', false}}};
        const auto [op, negated] = kOps[static_cast<size_t>(m->op)];
        ops.push_back(test(op, m->lo, negated));
    }
    p.add_field_test(u.written, u.kw.buffer.id, std::move(ops));
    return Ok{};
}

// Suricata's older certificate keywords, `tls.subject:"CN=x"` / `tls.issuerdn:!"CN=y"`: the
// leaf certificate's field contains (or, negated, does not contain) the string.
Status apply_cert_field(OptionParser& p, const KeywordUse& u) {
    std::string_view v = trim(u.v());
    Content c;
    if (!v.empty() && v.front() == '!') {
        c.negated = true;
        v = trim(v.substr(1));
    }
    c.bytes = unquote(v);
    if (c.bytes.empty()) {
        return reject(std::string(u.kw.name) + ": expected a non-empty string");
    }
    p.add_field_test(u.written, u.kw.buffer.id, {PayloadOp{std::move(c)}});
    return Ok{};
}

// The app-layer events Vigil's parsers raise, by `proto.event` name, and the buffer of
// event names each lands in.
struct AppEventDef {
    std::string_view name;
    BufferId buffer;
    std::string_view raised = {};  // the name the parser raises, when `name` is an alias
};
constexpr AppEventDef kAppEvents[] = {
    {"dns.not_a_request", BufferId::DnsEvents},
    {"dns.not_a_response", BufferId::DnsEvents},
    {"dns.not_request", BufferId::DnsEvents, "not_a_request"},  // Suricata 8's names
    {"dns.not_response", BufferId::DnsEvents, "not_a_response"},
    {"dns.z_flag_set", BufferId::DnsEvents},
    {"dns.invalid_opcode", BufferId::DnsEvents},
    {"dns.invalid_authorities", BufferId::DnsEvents},
    {"dns.invalid_additionals", BufferId::DnsEvents},
    {"http.request_auth_unrecognized", BufferId::HttpEventsReq},
    {"http.invalid_transfer_encoding_value_in_request", BufferId::HttpEventsReq},
    {"http.invalid_transfer_encoding_value_in_response", BufferId::HttpEventsResp},
};

// app-layer-event:<proto>.<event>: the transaction raised that event. An event Vigil's
// parsers never raise is refused, so a rule never silently waits for it.
Status apply_app_layer_event(OptionParser& p, const KeywordUse& u) {
    const std::string v(trim(u.v()));
    const size_t dot = v.find('.');
    if (dot == std::string::npos) {
        return reject("app-layer-event " + quote(v) +
                      ": Vigil raises no generic app-layer events (applayer_*); only "
                      "<proto>.<event> events of its parsers");
    }
    std::string lower = v;
    for (char& ch : lower) {
        ch = ascii_lower(ch);
    }
    for (const AppEventDef& e : kAppEvents) {
        if (e.name == lower) {
            Content c;
            c.bytes = e.raised.empty() ? lower.substr(dot + 1) : std::string(e.raised);
            c.startswith = true;
            c.endswith = true;
            p.add_field_test(u.written, e.buffer, {PayloadOp{std::move(c)}});
            return Ok{};
        }
    }
    std::string known;
    for (const AppEventDef& e : kAppEvents) {
        if (e.raised.empty() && e.name.substr(0, dot + 1) == lower.substr(0, dot + 1)) {
            known += (known.empty() ? "" : ", ") + std::string(e.name.substr(dot + 1));
        }
    }
    return reject("app-layer-event " + quote(v) + ": Vigil's " + lower.substr(0, dot) +
                  (known.empty() ? " parser raises no events"
                                 : " parser does not raise it (it raises: " + known + ")"));
}

constexpr KeywordDef field(std::string_view name, BufferId id) {
    return {name, KeywordFamily::AppField, ValueRule::Required, apply_field, {id}};
}

constexpr KeywordDef legacy(std::string_view name, BufferId id, BufDir dir = BufDir::Fixed) {
    return {name, KeywordFamily::LegacyBuffer, ValueRule::None, apply_legacy, {id, dir}};
}

constexpr KeywordDef transform(std::string_view name, TransformKind t,
                               ValueRule value = ValueRule::None) {
    return {name, KeywordFamily::Transform, value, apply_transform, {}, t};
}

constexpr std::array kKeywords{
    // Sticky buffers. Buffers that exist on both sides of an HTTP transaction are named by
    // their request variant here and resolved from the rule's flow direction in finish().
    sticky("http.uri", BufferId::HttpUri),
    sticky("http.uri.raw", BufferId::HttpUriRaw),
    sticky("http.method", BufferId::HttpMethod),
    sticky("http.protocol", BufferId::HttpProtocol, BufDir::Flow),
    sticky("http_protocol", BufferId::HttpProtocol, BufDir::Flow),
    sticky("http.request_line", BufferId::HttpRequestLine),
    sticky("http_request_line", BufferId::HttpRequestLine),
    sticky("http.host", BufferId::HttpHost),
    sticky("http.host.raw", BufferId::HttpHostRaw),
    sticky("http.user_agent", BufferId::HttpUserAgent),
    sticky("http.referer", BufferId::HttpReferer),
    sticky("http_referer", BufferId::HttpReferer),
    sticky("http.cookie", BufferId::HttpCookie, BufDir::Flow),
    sticky("http.accept", BufferId::HttpAccept),
    sticky("http_accept", BufferId::HttpAccept),
    sticky("http.accept_enc", BufferId::HttpAcceptEnc),
    sticky("http_accept_enc", BufferId::HttpAcceptEnc),
    sticky("http.accept_lang", BufferId::HttpAcceptLang),
    sticky("http_accept_lang", BufferId::HttpAcceptLang),
    sticky("http.content_type", BufferId::HttpContentTypeReq, BufDir::Flow),
    sticky("http_content_type", BufferId::HttpContentTypeReq, BufDir::Flow),
    sticky("http.content_len", BufferId::HttpContentLenReq, BufDir::Flow),
    sticky("http_content_len", BufferId::HttpContentLenReq, BufDir::Flow),
    sticky("http.connection", BufferId::HttpConnectionReq, BufDir::Flow),
    sticky("http_connection", BufferId::HttpConnectionReq, BufDir::Flow),
    sticky("http.header", BufferId::HttpHeaderReq, BufDir::Flow),
    sticky("http.header.raw", BufferId::HttpHeaderRawReq, BufDir::Flow),
    sticky("http.header_names", BufferId::HttpHeaderNamesReq, BufDir::Flow),
    sticky("http_header_names", BufferId::HttpHeaderNamesReq, BufDir::Flow),
    sticky("http.start", BufferId::HttpStartReq, BufDir::Flow),
    sticky("http_start", BufferId::HttpStartReq, BufDir::Flow),
    // One header line ("Name: value", the name as sent) at a time, as Suricata does.
    sticky("http.request_header", BufferId::HttpRequestHeader),
    sticky("http.response_header", BufferId::HttpResponseHeader),
    sticky("http.request_body", BufferId::HttpRequestBody),
    sticky("http.stat_code", BufferId::HttpStatCode),
    sticky("http.stat_msg", BufferId::HttpStatMsg),
    sticky("http.response_line", BufferId::HttpResponseLine),
    sticky("http_response_line", BufferId::HttpResponseLine),
    sticky("http.server", BufferId::HttpServer),
    sticky("http.location", BufferId::HttpLocation),
    // Suricata inspects http.response_body / http_server_body in the file_data list, so they
    // follow file.data's direction rule.
    sticky("http.response_body", BufferId::HttpResponseBody, BufDir::FileData),
    sticky("file.data", BufferId::HttpResponseBody, BufDir::FileData),
    sticky("file_data", BufferId::HttpResponseBody, BufDir::FileData),
    sticky("dns.query", BufferId::DnsQuery),
    sticky("dns_query", BufferId::DnsQuery),
    // Suricata 8's per-section buffers: both directions unless named for responses.
    sticky("dns.queries.rrname", BufferId::DnsQueriesRrname),
    sticky("dns.answers.rrname", BufferId::DnsAnswersRrname),
    sticky("dns.authorities.rrname", BufferId::DnsAuthoritiesRrname),
    sticky("dns.additionals.rrname", BufferId::DnsAdditionalsRrname),
    sticky("dns.response.rrname", BufferId::DnsResponseRrname),
    field("dns.rrtype", BufferId::DnsRrtype),
    field("dns.opcode", BufferId::DnsOpcode),
    field("dns.rcode", BufferId::DnsRcode),
    KeywordDef{"app-layer-event", KeywordFamily::AppField, ValueRule::Required,
               apply_app_layer_event},
    KeywordDef{"tls.subject",
               KeywordFamily::AppField,
               ValueRule::Required,
               apply_cert_field,
               {BufferId::TlsCertSubject}},
    KeywordDef{"tls.issuerdn",
               KeywordFamily::AppField,
               ValueRule::Required,
               apply_cert_field,
               {BufferId::TlsCertIssuer}},
    // The packet's own headers, as on the wire (options and IPv6 extension headers included).
    header_sticky("ipv4.hdr", PacketHeader::Ipv4),
    header_sticky("ipv6.hdr", PacketHeader::Ipv6),
    header_sticky("tcp.hdr", PacketHeader::Tcp),
    header_sticky("udp.hdr", PacketHeader::Udp),
    header_sticky("icmpv4.hdr", PacketHeader::Icmpv4),
    header_sticky("icmpv6.hdr", PacketHeader::Icmpv6),
    // Suricata 8's address buffers (for datasets): 4 bytes for IPv4, 16 for IPv6.
    header_sticky("ip.src", PacketHeader::IpSrc),
    header_sticky("ip.dst", PacketHeader::IpDst),
    sticky("tls.sni", BufferId::TlsSni),
    sticky("tls_sni", BufferId::TlsSni),
    sticky("tls.cert_subject", BufferId::TlsCertSubject),
    sticky("tls_cert_subject", BufferId::TlsCertSubject),
    sticky("tls.cert_issuer", BufferId::TlsCertIssuer),
    sticky("tls_cert_issuer", BufferId::TlsCertIssuer),
    sticky("tls.cert_serial", BufferId::TlsCertSerial),
    sticky("tls_cert_serial", BufferId::TlsCertSerial),
    sticky("tls.certs", BufferId::TlsCerts),
    sticky("ja3.hash", BufferId::Ja3Hash),
    sticky("ja3_hash", BufferId::Ja3Hash),
    sticky("ja3.string", BufferId::Ja3String),
    sticky("ja3_string", BufferId::Ja3String),
    sticky("ja3s.hash", BufferId::Ja3sHash),
    sticky("ja3s_hash", BufferId::Ja3sHash),
    sticky("ja3s.string", BufferId::Ja3sString),
    sticky("ja3s_string", BufferId::Ja3sString),
    // Legacy content modifiers: they move the content before them into a buffer.
    legacy("http_uri", BufferId::HttpUri),
    legacy("http_raw_uri", BufferId::HttpUriRaw),
    legacy("http_method", BufferId::HttpMethod),
    legacy("http_header", BufferId::HttpHeaderReq, BufDir::Flow),
    legacy("http_raw_header", BufferId::HttpHeaderRawReq, BufDir::Flow),
    legacy("http_cookie", BufferId::HttpCookie, BufDir::Flow),
    legacy("http_user_agent", BufferId::HttpUserAgent),
    legacy("http_host", BufferId::HttpHost),
    legacy("http_raw_host", BufferId::HttpHostRaw),
    legacy("http_client_body", BufferId::HttpRequestBody),
    legacy("http_server_body", BufferId::HttpResponseBody, BufDir::FileData),
    legacy("http_stat_code", BufferId::HttpStatCode),
    legacy("http_stat_msg", BufferId::HttpStatMsg),
    // Transforms: they follow a sticky buffer directly, before its first match.
    transform("dotprefix", TransformKind::DotPrefix),
    transform("to_lowercase", TransformKind::ToLowercase),
    transform("to_uppercase", TransformKind::ToUppercase),
    transform("strip_whitespace", TransformKind::StripWhitespace),
    transform("compress_whitespace", TransformKind::CompressWhitespace),
    transform("url_decode", TransformKind::UrlDecode),
    transform("xor", TransformKind::Xor, ValueRule::Required),
    transform("pcrexform", TransformKind::Pcrexform, ValueRule::Required),
    transform("from_base64", TransformKind::FromBase64, ValueRule::Optional),
    transform("to_md5", TransformKind::ToMd5),
    transform("to_sha1", TransformKind::ToSha1),
    transform("to_sha256", TransformKind::ToSha256),
    transform("gunzip", TransformKind::Gunzip, ValueRule::Optional),
    transform("domain", TransformKind::Domain),
    transform("tld", TransformKind::Tld),
};

// pcre buffer flags, by the legacy modifier they stand for (Q is file_data in Suricata).
constexpr std::array<PcreBufferFlag, 13> kPcreBufferFlags{{
    {'U', "http_uri", {BufferId::HttpUri, BufDir::Fixed}},
    {'I', "http_raw_uri", {BufferId::HttpUriRaw, BufDir::Fixed}},
    {'P', "http_client_body", {BufferId::HttpRequestBody, BufDir::Fixed}},
    {'Q', "file_data", {BufferId::HttpResponseBody, BufDir::FileData}},
    {'H', "http_header", {BufferId::HttpHeaderReq, BufDir::Flow}},
    {'D', "http_raw_header", {BufferId::HttpHeaderRawReq, BufDir::Flow}},
    {'M', "http_method", {BufferId::HttpMethod, BufDir::Fixed}},
    {'C', "http_cookie", {BufferId::HttpCookie, BufDir::Flow}},
    {'S', "http_stat_code", {BufferId::HttpStatCode, BufDir::Fixed}},
    {'Y', "http_stat_msg", {BufferId::HttpStatMsg, BufDir::Fixed}},
    {'V', "http_user_agent", {BufferId::HttpUserAgent, BufDir::Fixed}},
    {'W', "http_host", {BufferId::HttpHost, BufDir::Fixed}},
    {'Z', "http_raw_host", {BufferId::HttpHostRaw, BufDir::Fixed}},
}};

}  // namespace

std::span<const KeywordDef> buffer_keywords() {
    return kKeywords;
}

const PcreBufferFlag* find_pcre_buffer_flag(char flag) {
    for (const PcreBufferFlag& f : kPcreBufferFlags) {
        if (f.flag == flag) {
            return &f;
        }
    }
    return nullptr;
}

}  // namespace vigil::rules::detail
