#include "dataplane/app/buffers.h"

namespace vigil::dataplane::app {

namespace {

struct BufferInfo {
    std::string_view name;
    AppProto proto;
    uint8_t stage;
};

constexpr std::array<BufferInfo, kBufferCount> kInfo{{
    {"http.method", AppProto::Http, 1},
    {"http.uri", AppProto::Http, 1},
    {"http.uri.raw", AppProto::Http, 1},
    {"http.protocol", AppProto::Http, 1},
    {"http.request_line", AppProto::Http, 1},
    {"http.host", AppProto::Http, 1},
    {"http.host.raw", AppProto::Http, 1},
    {"http.user_agent", AppProto::Http, 1},
    {"http.referer", AppProto::Http, 1},
    {"http.cookie", AppProto::Http, 1},
    {"http.accept", AppProto::Http, 1},
    {"http.accept_enc", AppProto::Http, 1},
    {"http.accept_lang", AppProto::Http, 1},
    {"http.content_type (request)", AppProto::Http, 1},
    {"http.content_len (request)", AppProto::Http, 1},
    {"http.connection (request)", AppProto::Http, 1},
    {"http.header (request)", AppProto::Http, 1},
    {"http.header.raw (request)", AppProto::Http, 1},
    {"http.header_names (request)", AppProto::Http, 1},
    {"http.start (request)", AppProto::Http, 1},
    {"http.request_body", AppProto::Http, 2},
    {"http.stat_code", AppProto::Http, 3},
    {"http.stat_msg", AppProto::Http, 3},
    {"http.response_line", AppProto::Http, 3},
    {"http.server", AppProto::Http, 3},
    {"http.location", AppProto::Http, 3},
    {"http.cookie (response)", AppProto::Http, 3},
    {"http.content_type (response)", AppProto::Http, 3},
    {"http.content_len (response)", AppProto::Http, 3},
    {"http.connection (response)", AppProto::Http, 3},
    {"http.header (response)", AppProto::Http, 3},
    {"http.header.raw (response)", AppProto::Http, 3},
    {"http.header_names (response)", AppProto::Http, 3},
    {"http.start (response)", AppProto::Http, 3},
    {"http.response_body", AppProto::Http, 4},
    {"dns.query", AppProto::Dns, 1},
    {"tls.sni", AppProto::Tls, 1},
    {"ja3.hash", AppProto::Tls, 1},
    {"ja3.string", AppProto::Tls, 1},
    {"ja3s.hash", AppProto::Tls, 2},
    {"ja3s.string", AppProto::Tls, 2},
    {"tls.cert_subject", AppProto::Tls, 3},
    {"tls.cert_issuer", AppProto::Tls, 3},
    {"tls.cert_serial", AppProto::Tls, 3},
    {"tls.certs", AppProto::Tls, 3},
}};

constexpr std::array<std::string_view, static_cast<size_t>(AppProto::Count)> kProtoNames{
    "", "failed", "http", "dns", "tls", "ssh", "smtp", "ftp", "smb"};

}  // namespace

std::string_view app_proto_name(AppProto p) {
    return kProtoNames[static_cast<size_t>(p)];
}

AppProto buffer_proto(BufferId b) {
    return kInfo[static_cast<size_t>(b)].proto;
}

uint8_t buffer_stage(BufferId b) {
    return kInfo[static_cast<size_t>(b)].stage;
}

std::string_view buffer_name(BufferId b) {
    return kInfo[static_cast<size_t>(b)].name;
}

}  // namespace vigil::dataplane::app
