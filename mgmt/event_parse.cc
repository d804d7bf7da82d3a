// parse_event: the indexed fields of one EVE record, read by the ingest for every record it
// stores. simdjson validates the whole text (JSON grammar and UTF-8) at a few GB/s; the
// nlohmann SAX reader it replaces spent ~10 µs per 900-byte alert, 40% of the store's time
// (bench/mgmt_bench, store only). The rest of mgmtd builds and reads JSON with nlohmann.

#include <simdjson.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "mgmt/store.h"

namespace vigil::mgmt {

namespace {

// Days from 1970-01-01 to y-m-d (proleptic Gregorian).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// EVE's "2024-01-01T00:00:00.000000+0000" → µs since the epoch; -1 when malformed.
int64_t parse_eve_time(const std::string& s) {
    int y, mo, d, h, mi, se;
    char rest[32] = {0};
    if (s.size() < 19 || std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%31s", &y, &mo, &d, &h, &mi,
                                     &se, rest) < 6) {
        return -1;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) {
        return -1;
    }
    int64_t us = 0;
    const char* p = rest;
    if (*p == '.') {
        ++p;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            if (digits < 6) {
                us = us * 10 + (*p - '0');
            }
            ++digits;
            ++p;
        }
        for (; digits < 6; ++digits) {
            us *= 10;
        }
    }
    int64_t off_s = 0;
    if (*p == '+' || *p == '-') {
        const int sign = *p == '-' ? -1 : 1;
        ++p;
        int oh = 0, om = 0;
        if (std::sscanf(p, "%2d:%2d", &oh, &om) == 2 || std::sscanf(p, "%2d%2d", &oh, &om) == 2) {
            off_s = sign * (oh * 3600 + om * 60);
        }
    }
    const int64_t secs =
        days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 +
        mi * 60 + se - off_s;
    return secs * 1000000 + us;
}

constexpr const char* kWrongType = "record field of the wrong type";
constexpr const char* kAlertMalformed = "record alert object malformed";

// The fields of the record's "alert" object the store indexes; a later duplicate key wins,
// as in a DOM built from the text.
Status read_alert(const simdjson::dom::object& alert, EventRow& r) {
    for (auto field : alert) {
        const std::string_view k = field.key;
        if (k == "gid" || k == "signature_id") {
            uint64_t v = 0;
            if (field.value.get_uint64().get(v) || v > UINT32_MAX) {
                return make_error(ErrorCode::BadInput, kAlertMalformed);
            }
            (k == "gid" ? r.gid : r.sid) = static_cast<uint32_t>(v);
        } else if (k == "action") {
            std::string_view v;
            if (field.value.get_string().get(v)) {
                return make_error(ErrorCode::BadInput, kAlertMalformed);
            }
            r.action = v;
        }
    }
    return Ok{};
}

}  // namespace

Result<EventRow> parse_event(const std::string& sensor_id, uint64_t seq, std::string eve) {
    // One parser per thread, reused: its buffers grow to the largest record seen (≤ 1 MiB).
    thread_local simdjson::dom::parser parser;
    EventRow r;
    r.sensor_id = sensor_id;
    r.seq = seq;
    // simdjson reads up to SIMDJSON_PADDING bytes past the end: room made in the record's own
    // buffer, which the row keeps, rather than a copy per record.
    eve.reserve(eve.size() + simdjson::SIMDJSON_PADDING);
    simdjson::dom::element doc;
    if (const auto err = parser.parse(eve.data(), eve.size(), false).get(doc); err) {
        // Integers beyond 64 bits and doubles beyond its range among them: nothing the sensor
        // writes (its counters are u64), so refused rather than rounded.
        if (err == simdjson::NUMBER_ERROR || err == simdjson::NUMBER_OUT_OF_RANGE) {
            return make_error(ErrorCode::BadInput,
                              "record has a number that is malformed or beyond 64 bits");
        }
        if (err == simdjson::UTF8_ERROR) {
            return make_error(ErrorCode::BadInput, "record is not valid UTF-8");
        }
        if (err == simdjson::DEPTH_ERROR) {
            return make_error(ErrorCode::BadInput, "record nested too deeply");
        }
        return make_error(ErrorCode::BadInput, "record is not JSON");
    }
    simdjson::dom::object top;
    if (doc.get_object().get(top)) {
        return make_error(ErrorCode::BadInput, "record is not a JSON object");
    }
    std::string_view ts;
    bool have_ts = false;
    for (auto field : top) {
        const std::string_view k = field.key;
        const auto& v = field.value;
        std::string* text = nullptr;
        uint16_t* port = nullptr;
        if (k == "event_type") {
            text = &r.event_type;
        } else if (k == "src_ip") {
            text = &r.src_ip;
        } else if (k == "dest_ip") {
            text = &r.dest_ip;
        } else if (k == "proto") {
            text = &r.proto;
        } else if (k == "src_port") {
            port = &r.src_port;
        } else if (k == "dest_port") {
            port = &r.dest_port;
        } else if (k == "timestamp") {
            if (v.get_string().get(ts)) {
                return make_error(ErrorCode::BadInput, kWrongType);
            }
            have_ts = true;
            continue;
        } else if (k == "alert") {
            simdjson::dom::object alert;
            if (v.get_object().get(alert)) {
                return make_error(ErrorCode::BadInput, kWrongType);
            }
            if (auto st = read_alert(alert, r); !st) {
                return st.error();
            }
            continue;
        } else {
            continue;
        }
        if (text) {
            std::string_view s;
            if (v.get_string().get(s)) {
                return make_error(ErrorCode::BadInput, kWrongType);
            }
            *text = s;
        } else {
            uint64_t n = 0;
            if (v.get_uint64().get(n) || n > 65535) {
                return make_error(ErrorCode::BadInput, kWrongType);
            }
            *port = static_cast<uint16_t>(n);
        }
    }
    if (r.event_type.empty()) {
        return make_error(ErrorCode::BadInput, "record has no event_type");
    }
    if (have_ts && !ts.empty()) {
        const std::string t(ts);
        r.ts_us = parse_eve_time(t);
        if (r.ts_us < 0) {
            return make_error(ErrorCode::BadInput, "record timestamp '" + t + "' is malformed");
        }
    }
    r.eve = std::move(eve);
    return r;
}

}  // namespace vigil::mgmt
