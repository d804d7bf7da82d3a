// Protocols Vigil identifies by content but does not parse (yet): SSH, SMB, SMTP, FTP. Their
// flows get an app_proto for EVE and `app-layer-protocol`; rules on their buffers are
// refused at load. A parser for one of them moves it into its own folder.

#include <algorithm>
#include <cctype>

#include "dataplane/app/detect.h"
#include "dataplane/app/registry.h"

namespace vigil::dataplane::app {

namespace {

std::string_view view(const ProbeInput& in) {
    return {reinterpret_cast<const char*>(in.data), in.len};
}

bool icontains(std::string_view s, std::string_view needle) {
    auto it = std::search(s.begin(), s.end(), needle.begin(), needle.end(), [](char a, char b) {
        return std::toupper(static_cast<unsigned char>(a)) ==
               std::toupper(static_cast<unsigned char>(b));
    });
    return it != s.end();
}

void probe_ssh(const ProbeInput& in, Probe& acc) {
    merge_probe(acc, probe_prefix(view(in), "SSH-"), AppProto::Ssh);
}

// NetBIOS session message (type 0, 3-byte length) carrying SMB1 or SMB2/3.
ProbeResult probe_smb_result(const uint8_t* d, size_t n) {
    if (n >= 1 && d[0] != 0x00) {
        return ProbeResult::NoMatch;
    }
    if (n >= 5 && d[4] != 0xff && d[4] != 0xfe) {
        return ProbeResult::NoMatch;
    }
    if (n < 5) {
        return ProbeResult::NeedMore;
    }
    return probe_prefix(std::string_view(reinterpret_cast<const char*>(d + 5), n - 5), "SMB");
}

void probe_smb(const ProbeInput& in, Probe& acc) {
    merge_probe(acc, probe_smb_result(in.data, in.len), AppProto::Smb);
}

// SMTP and FTP servers both greet with "220": the port, then the banner text, then the
// client's first command decide. One probe answers for both protocols.
void probe_mail_ftp(const ProbeInput& in, Probe& acc) {
    const std::string_view s = view(in);
    if (in.to_server) {
        merge_probe(acc, probe_prefix(s, "EHLO ", true), AppProto::Smtp);
        merge_probe(acc, probe_prefix(s, "HELO ", true), AppProto::Smtp);
        merge_probe(acc, probe_prefix(s, "USER ", true), AppProto::Ftp);
        return;
    }
    ProbeResult r = probe_prefix(s, "220");
    if (r != ProbeResult::Match) {
        merge_probe(acc, r, AppProto::Unknown);
        return;
    }
    if (s.size() < 4) {
        merge_probe(acc, ProbeResult::NeedMore, AppProto::Unknown);
        return;
    }
    if (s[3] != ' ' && s[3] != '-') {
        return;
    }
    if (in.server_port == 21) {
        merge_probe(acc, ProbeResult::Match, AppProto::Ftp);
        return;
    }
    if (in.server_port == 25 || in.server_port == 587 || in.server_port == 465) {
        merge_probe(acc, ProbeResult::Match, AppProto::Smtp);
        return;
    }
    // The banner text decides only once the whole line is here (split-independent).
    const size_t eol = s.find('\n');
    if (eol == std::string_view::npos) {
        if (s.size() < in.limit) {
            merge_probe(acc, ProbeResult::NeedMore, AppProto::Unknown);
        }
        return;
    }
    const std::string_view line = s.substr(0, eol);
    if (icontains(line, "SMTP")) {
        merge_probe(acc, ProbeResult::Match, AppProto::Smtp);
    } else if (icontains(line, "FTP")) {
        merge_probe(acc, ProbeResult::Match, AppProto::Ftp);
    } else {
        acc.banner_220 = true;
    }
}

}  // namespace

const AppProtoDef& ssh_protocol() {
    static constexpr AppProtoDef kDef{
        .proto = AppProto::Ssh, .name = "ssh", .probe_tcp = probe_ssh};
    return kDef;
}

const AppProtoDef& smb_protocol() {
    static constexpr AppProtoDef kDef{
        .proto = AppProto::Smb, .name = "smb", .probe_tcp = probe_smb};
    return kDef;
}

const AppProtoDef& smtp_protocol() {
    static constexpr AppProtoDef kDef{
        .proto = AppProto::Smtp, .name = "smtp", .probe_tcp = probe_mail_ftp};
    return kDef;
}

const AppProtoDef& ftp_protocol() {
    // Detected by SMTP's "220" probe, which answers for both.
    static constexpr AppProtoDef kDef{.proto = AppProto::Ftp, .name = "ftp"};
    return kDef;
}

}  // namespace vigil::dataplane::app
