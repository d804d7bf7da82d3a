#include "dataplane/app/detect.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string_view>

namespace vigil::dataplane::app {

ProbeResult probe_prefix(std::string_view s, std::string_view prefix, bool nocase) {
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

void merge_probe(Probe& acc, ProbeResult r, AppProto p) {
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

Probe probe_tcp(bool to_server, const uint8_t* data, size_t len, uint16_t server_port,
                size_t limit) {
    Probe acc;
    const ProbeInput in{to_server, data, len, server_port, limit};
    for (const AppProtoDef* def : app_protocols()) {
        if (def->probe_tcp != nullptr) {
            def->probe_tcp(in, acc);
        }
    }
    return acc;
}

Probe probe_udp(const uint8_t* data, size_t len) {
    Probe p;
    for (const AppProtoDef* def : app_protocols()) {
        if (def->probe_udp != nullptr && def->probe_udp(data, len)) {
            p.result = ProbeResult::Match;
            p.proto = def->proto;
            break;
        }
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
    const Probe p = probe_udp(data, len);
    return p.result == ProbeResult::Match ? p.proto : AppProto::Unknown;
}

AppProto ProtoDetector::add_udp(FlowDir dir, const uint8_t* data, size_t len) {
    Dir& d = dirs_[static_cast<size_t>(dir)];
    d.seen += len;
    if (const Probe p = probe_udp(data, len); p.result == ProbeResult::Match) {
        return p.proto;
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
