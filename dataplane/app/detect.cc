#include "dataplane/app/detect.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string_view>

#include "common/bytes.h"
#include "dataplane/app/dns.h"

namespace vigil::dataplane::app {
namespace {

constexpr std::array<std::string_view, 24> kMethods{
    "GET ",      "POST ",  "HEAD ",       "PUT ",      "DELETE ",    "OPTIONS ",
    "CONNECT ",  "TRACE ", "PATCH ",      "PROPFIND ", "PROPPATCH ", "MKCOL ",
    "COPY ",     "MOVE ",  "LOCK ",       "UNLOCK ",   "SEARCH ",    "REPORT ",
    "CHECKOUT ", "MERGE ", "MKACTIVITY ", "NOTIFY ",   "SUBSCRIBE ", "UNSUBSCRIBE "};

std::string_view view(const uint8_t* data, size_t len) {
    return {reinterpret_cast<const char*>(data), len};
}

// Match when `s` starts with `prefix`, NeedMore when `s` is a shorter prefix of it.
ProbeResult prefix(std::string_view s, std::string_view prefix, bool nocase = false) {
    const size_t n = std::min(s.size(), prefix.size());
    for (size_t i = 0; i < n; ++i) {
        char a = s[i];
        char b = prefix[i];
        if (nocase) {
            a = static_cast<char>(std::toupper(static_cast<unsigned char>(a)));
            b = static_cast<char>(std::toupper(static_cast<unsigned char>(b)));
        }
        if (a != b) {
            return ProbeResult::NoMatch;
        }
    }
    return s.size() >= prefix.size() ? ProbeResult::Match : ProbeResult::NeedMore;
}

bool icontains(std::string_view s, std::string_view needle) {
    auto it = std::search(s.begin(), s.end(), needle.begin(), needle.end(), [](char a, char b) {
        return std::toupper(static_cast<unsigned char>(a)) ==
               std::toupper(static_cast<unsigned char>(b));
    });
    return it != s.end();
}

// Folds one prober's answer into the direction's: a match wins, then "need more".
void merge(Probe& acc, ProbeResult r, AppProto p) {
    if (acc.result == ProbeResult::Match) {
        return;
    }
    if (r == ProbeResult::Match) {
        acc.result = ProbeResult::Match;
        acc.proto = p;
    } else if (r == ProbeResult::NeedMore) {
        acc.result = ProbeResult::NeedMore;
    }
}

ProbeResult probe_http(bool to_server, std::string_view s) {
    if (!to_server) {
        return prefix(s, "HTTP/1.");
    }
    ProbeResult best = ProbeResult::NoMatch;
    for (std::string_view m : kMethods) {
        const ProbeResult r = prefix(s, m);
        if (r == ProbeResult::Match) {
            return r;
        }
        if (r == ProbeResult::NeedMore) {
            best = r;
        }
    }
    return best;
}

// A TLS handshake record carrying a ClientHello or ServerHello (SSLv3 .. TLS 1.3 record
// versions).
ProbeResult probe_tls(const uint8_t* d, size_t n) {
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

// NetBIOS session message (type 0, 3-byte length) carrying SMB1 or SMB2/3.
ProbeResult probe_smb(const uint8_t* d, size_t n) {
    if (n >= 1 && d[0] != 0x00) {
        return ProbeResult::NoMatch;
    }
    if (n >= 5 && d[4] != 0xff && d[4] != 0xfe) {
        return ProbeResult::NoMatch;
    }
    if (n < 5) {
        return ProbeResult::NeedMore;
    }
    return prefix(view(d + 5, n - 5), "SMB");
}

// DNS over TCP: 2-byte length, then a message that looks like DNS. Waits for the whole
// message (bounded by `limit`).
ProbeResult probe_dns_tcp(const uint8_t* d, size_t n, size_t limit) {
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

// SMTP and FTP servers both greet with "220": the port, then the banner text, then the
// client's first command decide.
void probe_mail_ftp(bool to_server, std::string_view s, uint16_t server_port, size_t limit,
                    Probe& acc) {
    if (to_server) {
        merge(acc, prefix(s, "EHLO ", true), AppProto::Smtp);
        merge(acc, prefix(s, "HELO ", true), AppProto::Smtp);
        merge(acc, prefix(s, "USER ", true), AppProto::Ftp);
        return;
    }
    ProbeResult r = prefix(s, "220");
    if (r != ProbeResult::Match) {
        merge(acc, r, AppProto::Unknown);
        return;
    }
    if (s.size() < 4) {
        merge(acc, ProbeResult::NeedMore, AppProto::Unknown);
        return;
    }
    if (s[3] != ' ' && s[3] != '-') {
        return;
    }
    if (server_port == 21) {
        merge(acc, ProbeResult::Match, AppProto::Ftp);
        return;
    }
    if (server_port == 25 || server_port == 587 || server_port == 465) {
        merge(acc, ProbeResult::Match, AppProto::Smtp);
        return;
    }
    // The banner text decides only once the whole line is here (split-independent).
    const size_t eol = s.find('\n');
    if (eol == std::string_view::npos) {
        if (s.size() < limit) {
            merge(acc, ProbeResult::NeedMore, AppProto::Unknown);
        }
        return;
    }
    const std::string_view line = s.substr(0, eol);
    if (icontains(line, "SMTP")) {
        merge(acc, ProbeResult::Match, AppProto::Smtp);
    } else if (icontains(line, "FTP")) {
        merge(acc, ProbeResult::Match, AppProto::Ftp);
    } else {
        acc.banner_220 = true;
    }
}

}  // namespace

Probe probe_tcp(bool to_server, const uint8_t* data, size_t len, uint16_t server_port,
                size_t limit) {
    Probe acc;
    const std::string_view s = view(data, len);
    merge(acc, probe_http(to_server, s), AppProto::Http);
    merge(acc, probe_tls(data, len), AppProto::Tls);
    merge(acc, prefix(s, "SSH-"), AppProto::Ssh);
    merge(acc, probe_smb(data, len), AppProto::Smb);
    probe_mail_ftp(to_server, s, server_port, limit, acc);
    merge(acc, probe_dns_tcp(data, len, limit), AppProto::Dns);
    return acc;
}

Probe probe_udp(const uint8_t* data, size_t len) {
    Probe p;
    if (looks_like_dns(data, len)) {
        p.result = ProbeResult::Match;
        p.proto = AppProto::Dns;
    }
    return p;
}

AppProto ProtoDetector::decide(uint32_t limit) const {
    const Dir& a = dirs_[0];
    const Dir& b = dirs_[1];
    if (a.done && b.done) {
        return AppProto::Failed;
    }
    // One direction gave up after a full window and the other never spoke: one-way junk.
    for (size_t i = 0; i < 2; ++i) {
        if (dirs_[i].done && dirs_[i].seen >= limit && dirs_[1 - i].seen == 0) {
            return AppProto::Failed;
        }
    }
    return AppProto::Unknown;
}

AppProto ProtoDetector::add_tcp(FlowDir dir, const uint8_t* data, size_t len, uint16_t server_port,
                                uint32_t limit, size_t& buffered) {
    buffered = 0;
    Dir& d = dirs_[static_cast<size_t>(dir)];
    d.seen += len;
    if (d.done) {
        return decide(limit);
    }
    const size_t room = limit > d.buf.size() ? limit - d.buf.size() : 0;
    buffered = std::min(room, len);
    d.buf.insert(d.buf.end(), data, data + buffered);
    const Probe p =
        probe_tcp(dir == FlowDir::ToServer, d.buf.data(), d.buf.size(), server_port, limit);
    if (p.result == ProbeResult::Match) {
        return p.proto;
    }
    if (p.result == ProbeResult::NoMatch || d.buf.size() >= limit) {
        d.done = true;
        std::vector<uint8_t>().swap(d.buf);
    }
    return decide(limit);
}

AppProto detect_udp_datagram(const uint8_t* data, size_t len) {
    return probe_udp(data, len).result == ProbeResult::Match ? AppProto::Dns : AppProto::Unknown;
}

AppProto ProtoDetector::add_udp(FlowDir dir, const uint8_t* data, size_t len) {
    Dir& d = dirs_[static_cast<size_t>(dir)];
    d.seen += len;
    if (probe_udp(data, len).result == ProbeResult::Match) {
        return AppProto::Dns;
    }
    d.done = true;
    // Both sides spoke, or a few datagrams one way, and none looked like anything we know.
    if (++udp_datagrams_ >= 4 || (dirs_[0].done && dirs_[1].done)) {
        return AppProto::Failed;
    }
    return AppProto::Unknown;
}

AppProto ProtoDetector::end_dir(FlowDir dir, uint32_t limit) {
    Dir& d = dirs_[static_cast<size_t>(dir)];
    d.done = true;
    std::vector<uint8_t>().swap(d.buf);
    return decide(limit);
}

void ProtoDetector::release() {
    for (Dir& d : dirs_) {
        std::vector<uint8_t>().swap(d.buf);
    }
}

}  // namespace vigil::dataplane::app
