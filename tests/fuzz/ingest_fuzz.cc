// ingest_fuzz: arbitrary message sequences through vigil-mgmtd's ingest (mgmt/ingest.h
// IngestCore) into a SQLite store in memory: garbage envelopes, bodies of any kind, seqs out
// of order, forged sensor ids, peers that never said hello. Besides not crashing, the ingest
// must never try to store a seq twice (the store's unique index would refuse the commit).
//
// Input: a run of messages, each
//   u8 peer (0..3) | u16 envelope length | envelope | u16 body length | body
// Built with libFuzzer (clang, VIGIL_LIBFUZZER) or as a replay driver (tests/fuzz/fuzz_driver.h).

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/wire.h"
#include "mgmt/ingest.h"
#include "mgmt/store.h"

namespace {

using vigil::mgmt::IngestCore;
namespace wire = vigil::wire;

struct Stats {
    uint64_t inputs = 0, messages = 0, stored = 0, rejected = 0, duplicates = 0;
} g_stats;

std::FILE* devnull() {
    static std::FILE* f = std::fopen("/dev/null", "w");
    return f;
}

void run(const uint8_t* data, size_t size) {
    auto store = vigil::mgmt::open_sqlite_store({":memory:", 0, 0, false});
    if (!store) {
        std::fprintf(stderr, "store: %s\n", store.error().message.c_str());
        std::abort();
    }
    IngestCore core(**store, devnull(), /*curve=*/false, /*commit_batch=*/8);
    if (!core.load()) {
        std::abort();
    }
    std::vector<IngestCore::Out> out;
    size_t at = 0;
    auto take16 = [&](uint16_t& v) {
        if (at + 2 > size) {
            return false;
        }
        v = static_cast<uint16_t>(data[at] | data[at + 1] << 8);
        at += 2;
        return true;
    };
    static const std::string kPeers[4] = {std::string("\0peer-a", 7), std::string("\0peer-b", 7),
                                          std::string("\0peer-c", 7), std::string("\0peer-d", 7)};
    while (at < size) {
        const std::string& rid = kPeers[data[at++] & 3];
        uint16_t n = 0;
        if (!take16(n) || at + n > size) {
            break;
        }
        const std::string_view env(reinterpret_cast<const char*>(data + at), n);
        at += n;
        if (!take16(n) || at + n > size) {
            break;
        }
        const std::string_view body(reinterpret_cast<const char*>(data + at), n);
        at += n;
        core.handle({rid, env, body}, nullptr, out);
        ++g_stats.messages;
        if (out.size() > 4096) {
            out.clear();
        }
    }
    core.commit(out);
    const auto snap = core.snapshot();
    if (snap.commit_errors != 0) {
        std::fprintf(stderr, "ingest_fuzz: a commit failed: the ingest stored a seq twice\n");
        std::abort();
    }
    ++g_stats.inputs;
    g_stats.stored += snap.stored;
    g_stats.duplicates += snap.duplicates;
    for (const auto& [reason, count] : snap.rejected) {
        g_stats.rejected += count;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    run(data, size);
    return 0;
}

#ifndef VIGIL_LIBFUZZER

#include "tests/fuzz/fuzz_driver.h"

namespace {

using vigil::fuzz::Input;
using vigil::fuzz::Rng;

void put_msg(Input& in, uint8_t peer, const std::string& env, const std::string& body) {
    in.push_back(peer);
    in.push_back(static_cast<uint8_t>(env.size()));
    in.push_back(static_cast<uint8_t>(env.size() >> 8));
    in.insert(in.end(), env.begin(), env.end());
    in.push_back(static_cast<uint8_t>(body.size()));
    in.push_back(static_cast<uint8_t>(body.size() >> 8));
    in.insert(in.end(), body.begin(), body.end());
}

std::string env(wire::MsgType t, uint64_t seq, const std::string& id) {
    return wire::encode_envelope({t, seq, id});
}

const char* kAlert =
    R"({"timestamp":"2024-01-01T00:00:00.000000+0000","flow_id":1,"event_type":"alert",)"
    R"("src_ip":"10.0.0.1","src_port":1234,"dest_ip":"10.0.0.2","dest_port":80,"proto":"TCP",)"
    R"("alert":{"action":"allowed","gid":1,"signature_id":2000001,"rev":1,"signature":"x"}})";

std::vector<Input> seeds() {
    std::vector<Input> s;
    const std::string hello = wire::encode_hello({"test", 0});
    {  // a sensor's normal life: hello, records, a heartbeat, a gap, more records
        Input in;
        put_msg(in, 0, env(wire::MsgType::Hello, 1, "edge-a"), hello);
        for (uint64_t i = 1; i <= 12; ++i) {
            put_msg(in, 0, env(wire::MsgType::Record, i, "edge-a"), kAlert);
        }
        wire::Heartbeat h;
        h.version = "test";
        h.workers.push_back({0, true, 100});
        put_msg(in, 0, env(wire::MsgType::Heartbeat, 12, "edge-a"), wire::encode_heartbeat(h));
        put_msg(in, 0, env(wire::MsgType::Gap, 20, "edge-a"),
                wire::encode_gap({13, 20, "spool full"}));
        put_msg(in, 0, env(wire::MsgType::Record, 21, "edge-a"), kAlert);
        s.push_back(in);
    }
    {  // two sensors, a takeover, resends and a forged id
        Input in;
        put_msg(in, 0, env(wire::MsgType::Hello, 1, "edge-a"), hello);
        put_msg(in, 1, env(wire::MsgType::Hello, 1, "edge-b"), hello);
        for (uint64_t i = 1; i <= 5; ++i) {
            put_msg(in, 0, env(wire::MsgType::Record, i, "edge-a"), kAlert);
            put_msg(in, 1, env(wire::MsgType::Record, i, "edge-b"), kAlert);
        }
        put_msg(in, 2, env(wire::MsgType::Hello, 1, "edge-a"), hello);  // restarted elsewhere
        for (uint64_t i = 3; i <= 8; ++i) {
            put_msg(in, 2, env(wire::MsgType::Record, i, "edge-a"), kAlert);
        }
        put_msg(in, 1, env(wire::MsgType::Record, 6, "edge-a"), kAlert);  // forged
        put_msg(in, 3, env(wire::MsgType::Record, 1, "edge-c"), kAlert);  // no hello
        put_msg(in, 1, env(wire::MsgType::Record, 6, "edge-b"), "not json");
        s.push_back(in);
    }
    return s;
}

Input mutate(const Input& in, Rng& rng) {
    Input b = in;
    const size_t what = rng.below(100);
    const size_t at = rng.below(b.size() + 1);
    if (b.empty() || what < 50) {
        const size_t flips = 1 + rng.below(4);
        for (size_t i = 0; i < flips && !b.empty(); ++i) {
            b[rng.below(b.size())] ^= static_cast<uint8_t>(1u << rng.below(8));
        }
    } else if (what < 65) {
        b.resize(rng.below(b.size() + 1));
    } else if (what < 80) {
        // Duplicate a stretch (resends, replays).
        const size_t from = rng.below(b.size());
        const size_t n = std::min(b.size() - from, 1 + rng.below(200));
        Input piece(b.begin() + static_cast<std::ptrdiff_t>(from),
                    b.begin() + static_cast<std::ptrdiff_t>(from + n));
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(std::min(at, b.size())), piece.begin(),
                 piece.end());
    } else if (what < 90) {
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(std::min(at, b.size())), rng.below(16),
                 static_cast<uint8_t>(rng.next()));
    } else if (at < b.size()) {
        const size_t n = std::min(b.size() - at, 1 + rng.below(16));
        b.erase(b.begin() + static_cast<std::ptrdiff_t>(at),
                b.begin() + static_cast<std::ptrdiff_t>(at + n));
    }
    return b;
}

void report() {
    std::printf(
        "ingest: %llu inputs, %llu messages, %llu records stored, %llu rejected, %llu "
        "duplicates\n",
        static_cast<unsigned long long>(g_stats.inputs),
        static_cast<unsigned long long>(g_stats.messages),
        static_cast<unsigned long long>(g_stats.stored),
        static_cast<unsigned long long>(g_stats.rejected),
        static_cast<unsigned long long>(g_stats.duplicates));
}

}  // namespace

int main(int argc, char** argv) {
    return vigil::fuzz::replay_main(argc, argv, {"ingest_fuzz_replay", seeds(), mutate, report});
}

#endif  // VIGIL_LIBFUZZER
