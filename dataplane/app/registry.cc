// The table of application-layer protocols, and what derives from it: names, buffer
// properties, counter sums.

#include "dataplane/app/registry.h"

#include <cstdlib>

namespace vigil::dataplane::app {

namespace {

// Every protocol, in detection order: the first protocol whose probe matches wins (HTTP
// before TLS before SSH before SMB before the "220" greetings, DNS over TCP last: its length
// prefix is the weakest signature).
constexpr const AppProtoDef& (*kRegistered[])() = {
    http_protocol, tls_protocol, ssh_protocol, smb_protocol,
    smtp_protocol, ftp_protocol, dns_protocol,
};

struct Table {
    std::array<const AppProtoDef*, std::size(kRegistered)> order{};
    std::array<const AppProtoDef*, kProtoCount> by_proto{};
    std::array<const BufferDef*, kBufferCount> buffers{};
    std::array<AppProto, kBufferCount> buffer_proto{};

    Table() {
        for (size_t i = 0; i < order.size(); ++i) {
            order[i] = &kRegistered[i]();
        }
        for (const AppProtoDef* d : order) {
            by_proto[static_cast<size_t>(d->proto)] = d;
            for (const BufferDef& b : d->buffers) {
                buffers[static_cast<size_t>(b.id)] = &b;
                buffer_proto[static_cast<size_t>(b.id)] = d->proto;
                if (b.stage == 0 || b.stage > kAppStageMax) {
                    std::abort();  // a definition error, caught by any test
                }
            }
        }
        for (size_t i = 0; i < kBufferCount; ++i) {
            if (buffers[i] == nullptr) {
                std::abort();  // a BufferId no protocol defines
            }
        }
    }
};

const Table& table() {
    static const Table t;
    return t;
}

}  // namespace

std::span<const AppProtoDef* const> app_protocols() {
    return table().order;
}

const AppProtoDef* app_protocol(AppProto p) {
    return static_cast<size_t>(p) < kProtoCount ? table().by_proto[static_cast<size_t>(p)]
                                                : nullptr;
}

std::string_view app_proto_name(AppProto p) {
    if (p == AppProto::Failed) {
        return "failed";
    }
    const AppProtoDef* d = app_protocol(p);
    return d != nullptr ? d->name : std::string_view();
}

AppProto buffer_proto(BufferId b) {
    return table().buffer_proto[static_cast<size_t>(b)];
}

uint8_t buffer_stage(BufferId b) {
    return table().buffers[static_cast<size_t>(b)]->stage;
}

std::string_view buffer_name(BufferId b) {
    return table().buffers[static_cast<size_t>(b)]->name;
}

AppStats& AppStats::operator+=(const AppStats& o) {
    for (size_t i = 0; i < flows.size(); ++i) {
        flows[i] += o.flows[i];
        for (size_t c = 0; c < kAppCounters; ++c) {
            counters[i][c] += o.counters[i][c];
        }
    }
    return *this;
}

}  // namespace vigil::dataplane::app
