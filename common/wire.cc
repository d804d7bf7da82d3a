#include "common/wire.h"

#include <cstring>

#include "common/bytes.h"
#include "common/text.h"

#include <nlohmann/json.hpp>

namespace vigil::wire {

namespace {

constexpr char kMagic[4] = {'V', 'G', 'W', '1'};

Error bad(const std::string& what) {
    return make_error(ErrorCode::BadInput, what);
}

// Parses `body` as one JSON object; the error names what is wrong.
Result<nlohmann::json> parse_object(std::string_view body, const char* what) {
    auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
        return bad(std::string(what) + " body is not a JSON object");
    }
    return j;
}

template <typename T>
bool get_to(const nlohmann::json& j, const char* key, T& out) {
    auto it = j.find(key);
    if (it == j.end()) {
        return true;  // absent: the default (older senders)
    }
    try {
        it->get_to(out);
        return true;
    } catch (const nlohmann::json::exception&) {
        return false;
    }
}

}  // namespace

const char* msg_type_name(MsgType t) {
    switch (t) {
        case MsgType::Hello:
            return "hello";
        case MsgType::Record:
            return "record";
        case MsgType::Gap:
            return "gap";
        case MsgType::Heartbeat:
            return "heartbeat";
        case MsgType::Welcome:
            return "welcome";
        case MsgType::Ack:
            return "ack";
        case MsgType::Resync:
            return "resync";
        case MsgType::Control:
            return "control";
        case MsgType::Reply:
            return "reply";
    }
    return "unknown";
}

bool valid_sensor_id(std::string_view id) {
    return valid_name(id, kMaxSensorId);
}

std::string encode_envelope(const Envelope& e) {
    std::string out;
    out.reserve(kEnvelopeFixed + e.sensor_id.size());
    uint8_t fixed[kEnvelopeFixed];
    std::memcpy(fixed, kMagic, 4);
    fixed[4] = static_cast<uint8_t>(e.type);
    fixed[5] = 0;
    store_le16(fixed + 6, static_cast<uint16_t>(e.sensor_id.size()));
    store_le64(fixed + 8, e.seq);
    out.append(reinterpret_cast<const char*>(fixed), kEnvelopeFixed);
    out += e.sensor_id;
    return out;
}

Result<Envelope> decode_envelope(std::string_view frame) {
    if (frame.size() < kEnvelopeFixed) {
        return bad("short frame (" + std::to_string(frame.size()) + " bytes)");
    }
    const auto* p = reinterpret_cast<const unsigned char*>(frame.data());
    if (std::memcmp(p, kMagic, 4) != 0) {
        return bad("bad magic");
    }
    const uint8_t type = p[4];
    if (type < static_cast<uint8_t>(MsgType::Hello) ||
        type > static_cast<uint8_t>(MsgType::Reply)) {
        return bad("unknown type " + std::to_string(type));
    }
    if (p[5] != 0) {
        return bad("flags set");
    }
    const size_t id_len = load_le16(p + 6);
    if (id_len > kMaxSensorId || frame.size() != kEnvelopeFixed + id_len) {
        return bad("sensor id length " + std::to_string(id_len) + " in a frame of " +
                   std::to_string(frame.size()) + " bytes");
    }
    Envelope e;
    e.type = static_cast<MsgType>(type);
    e.seq = load_le64(p + 8);
    e.sensor_id.assign(frame.substr(kEnvelopeFixed));
    if (!valid_sensor_id(e.sensor_id)) {
        return bad("bad sensor id");
    }
    return e;
}

std::string encode_heartbeat(const Heartbeat& h) {
    nlohmann::json j = {
        {"version", h.version},
        {"mode", h.mode},
        {"uptime_s", h.uptime_s},
        {"rx_packets", h.rx_packets},
        {"rx_bytes", h.rx_bytes},
        {"capture_drops", h.capture_drops},
        {"alerts", h.alerts},
        {"drops", h.drops},
        {"blocks_active", h.blocks_active},
        {"blocks_added", h.blocks_added},
        {"enforcement", h.enforcement},
        {"enforcement_repairs", h.enforcement_repairs},
        {"enforcement_problem", h.enforcement_problem},
        {"blocks_reapplied", h.blocks_reapplied},
        {"ruleset_id", h.ruleset_id},
        {"rules_loaded", h.rules_loaded},
        {"rules_rejected", h.rules_rejected},
        {"rules_version", h.rules_version},
        {"rules_digest", h.rules_digest},
        {"last_seq", h.last_seq},
        {"acked_seq", h.acked_seq},
        {"spool_records", h.spool_records},
        {"spool_bytes", h.spool_bytes},
        {"spool_dropped", h.spool_dropped},
    };
    auto& workers = j["workers"] = nlohmann::json::array();
    for (const auto& w : h.workers) {
        workers.push_back({{"id", w.id}, {"alive", w.alive}, {"packets", w.packets}});
    }
    return j.dump();
}

Result<Heartbeat> decode_heartbeat(std::string_view body) {
    auto j = parse_object(body, "heartbeat");
    if (!j) {
        return j.error();
    }
    Heartbeat h;
    bool ok =
        get_to(*j, "version", h.version) && get_to(*j, "mode", h.mode) &&
        get_to(*j, "uptime_s", h.uptime_s) && get_to(*j, "rx_packets", h.rx_packets) &&
        get_to(*j, "rx_bytes", h.rx_bytes) && get_to(*j, "capture_drops", h.capture_drops) &&
        get_to(*j, "alerts", h.alerts) && get_to(*j, "drops", h.drops) &&
        get_to(*j, "blocks_active", h.blocks_active) &&
        get_to(*j, "blocks_added", h.blocks_added) && get_to(*j, "enforcement", h.enforcement) &&
        get_to(*j, "enforcement_repairs", h.enforcement_repairs) &&
        get_to(*j, "enforcement_problem", h.enforcement_problem) &&
        get_to(*j, "blocks_reapplied", h.blocks_reapplied) &&
        get_to(*j, "ruleset_id", h.ruleset_id) && get_to(*j, "rules_loaded", h.rules_loaded) &&
        get_to(*j, "rules_rejected", h.rules_rejected) &&
        get_to(*j, "rules_version", h.rules_version) &&
        get_to(*j, "rules_digest", h.rules_digest) && get_to(*j, "last_seq", h.last_seq) &&
        get_to(*j, "acked_seq", h.acked_seq) && get_to(*j, "spool_records", h.spool_records) &&
        get_to(*j, "spool_bytes", h.spool_bytes) && get_to(*j, "spool_dropped", h.spool_dropped);
    if (!ok) {
        return bad("heartbeat field of the wrong type");
    }
    if (auto it = j->find("workers"); it != j->end()) {
        if (!it->is_array() || it->size() > 4096) {
            return bad("heartbeat workers is not an array");
        }
        for (const auto& w : *it) {
            if (!w.is_object()) {
                return bad("heartbeat worker is not an object");
            }
            WorkerBeat b;
            if (!get_to(w, "id", b.id) || !get_to(w, "alive", b.alive) ||
                !get_to(w, "packets", b.packets)) {
                return bad("heartbeat worker field of the wrong type");
            }
            h.workers.push_back(b);
        }
    }
    return h;
}

std::string encode_gap(const GapInfo& g) {
    return nlohmann::json{{"from", g.from}, {"to", g.to}, {"reason", g.reason}}.dump();
}

Result<GapInfo> decode_gap(std::string_view body) {
    auto j = parse_object(body, "gap");
    if (!j) {
        return j.error();
    }
    GapInfo g;
    if (!j->contains("from") || !j->contains("to") || !get_to(*j, "from", g.from) ||
        !get_to(*j, "to", g.to) || !get_to(*j, "reason", g.reason)) {
        return bad("gap needs numbers from and to");
    }
    if (g.from == 0 || g.to < g.from) {
        return bad("gap range " + std::to_string(g.from) + ".." + std::to_string(g.to) +
                   " is empty");
    }
    return g;
}

std::string encode_hello(const HelloInfo& h) {
    return nlohmann::json{{"version", h.version}, {"oldest_seq", h.oldest_seq}}.dump();
}

Result<HelloInfo> decode_hello(std::string_view body) {
    auto j = parse_object(body, "hello");
    if (!j) {
        return j.error();
    }
    HelloInfo h;
    if (!get_to(*j, "version", h.version) || !get_to(*j, "oldest_seq", h.oldest_seq)) {
        return bad("hello field of the wrong type");
    }
    return h;
}

std::string encode_control(const ControlRequest& c) {
    return nlohmann::json{{"op", c.op}, {"version", c.version}}.dump();
}

Result<ControlRequest> decode_control(std::string_view body) {
    auto j = parse_object(body, "control");
    if (!j) {
        return j.error();
    }
    ControlRequest c;
    if (!get_to(*j, "op", c.op) || !get_to(*j, "version", c.version)) {
        return bad("control field of the wrong type");
    }
    if (c.op != "reload") {
        return bad("unknown op '" + c.op.substr(0, 32) + "'");
    }
    if (!c.version.empty() && !valid_name(c.version, 64)) {
        return bad("control version is not a pack version");
    }
    return c;
}

std::string encode_reply(const ControlReply& r) {
    return nlohmann::json{{"op", r.op},
                          {"ok", r.ok},
                          {"error", r.error},
                          {"ruleset_id", r.ruleset_id},
                          {"rules_loaded", r.rules_loaded},
                          {"rules_rejected", r.rules_rejected},
                          {"rules_version", r.rules_version},
                          {"rules_digest", r.rules_digest},
                          {"seconds", r.seconds}}
        .dump();
}

Result<ControlReply> decode_reply(std::string_view body) {
    auto j = parse_object(body, "reply");
    if (!j) {
        return j.error();
    }
    ControlReply r;
    const bool ok = get_to(*j, "op", r.op) && get_to(*j, "ok", r.ok) &&
                    get_to(*j, "error", r.error) && get_to(*j, "ruleset_id", r.ruleset_id) &&
                    get_to(*j, "rules_loaded", r.rules_loaded) &&
                    get_to(*j, "rules_rejected", r.rules_rejected) &&
                    get_to(*j, "rules_version", r.rules_version) &&
                    get_to(*j, "rules_digest", r.rules_digest) && get_to(*j, "seconds", r.seconds);
    if (!ok) {
        return bad("reply field of the wrong type");
    }
    return r;
}

}  // namespace vigil::wire
