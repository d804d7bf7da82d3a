// nft::Client against the real kernel. Every test process first moves into a network
// namespace of its own (unshare(CLONE_NEWNET); unprivileged: a user namespace too), so the
// host's nftables ruleset is never touched. The `nft` binary, when installed, is used to
// read the result as an operator would and to tamper with the table.

#include "sensor/nft.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/sensor/private_netns.h"

namespace vigil::sensor::nft {
namespace {

using dataplane::IpAddr;
using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------
// Isolation

bool g_isolated = false;
std::string g_isolation_error;

class NetnsEnvironment : public ::testing::Environment {
public:
    void SetUp() override {
        g_isolation_error = test::enter_private_netns();
        g_isolated = g_isolation_error.empty();
    }
};

[[maybe_unused]] const auto* const netns_env =
    ::testing::AddGlobalTestEnvironment(new NetnsEnvironment);

// ---------------------------------------------------------------------------------------
// Helpers

IpAddr ip(const char* text) {
    std::array<uint8_t, 16> raw{};
    if (inet_pton(AF_INET, text, raw.data()) == 1) {
        return IpAddr::from_v4(raw.data());
    }
    EXPECT_EQ(inet_pton(AF_INET6, text, raw.data()), 1) << text;
    return IpAddr::from_v6(raw.data());
}

std::optional<std::string> find_nft() {
    for (const char* p : {"/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft", "/usr/local/sbin/nft"}) {
        if (access(p, X_OK) == 0) {
            return std::string(p);
        }
    }
    return std::nullopt;
}

// Runs a shell command (inside this process's namespaces); its stdout, or nullopt on failure.
std::optional<std::string> run(const std::string& cmd) {
    FILE* p = popen((cmd + " 2>&1").c_str(), "r");
    if (p == nullptr) {
        return std::nullopt;
    }
    std::string out;
    std::array<char, 4096> buf{};
    size_t n = 0;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) {
        out.append(buf.data(), n);
    }
    const int status = pclose(p);
    if (status != 0) {
        ADD_FAILURE() << "`" << cmd << "` failed: " << out;
        return std::nullopt;
    }
    return out;
}

const Element* find(const std::vector<Element>& elems, const IpAddr& a) {
    auto it =
        std::find_if(elems.begin(), elems.end(), [&a](const Element& e) { return e.addr == a; });
    return it == elems.end() ? nullptr : &*it;
}

class NftTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (!g_isolated) {
            GTEST_SKIP() << "no private network namespace: " << g_isolation_error;
        }
        auto c = Client::open();
        ASSERT_TRUE(c) << c.error().message;
        client_ = std::move(*c);
        // Tests of one process share its namespace when run without ctest.
        ASSERT_TRUE(client_->remove_table());
        nft_ = find_nft();
    }

    void ensure_ok() {
        Status st = client_->ensure();
        ASSERT_TRUE(st) << st.error().message;
        Result<State> s = client_->check();
        ASSERT_TRUE(s) << s.error().message;
        ASSERT_TRUE(s->ok) << s->problem;
    }

    std::vector<Element> list_ok() {
        Result<std::vector<Element>> l = client_->list();
        EXPECT_TRUE(l) << l.error().message;
        return l ? *l : std::vector<Element>{};
    }

    std::string problem() {
        Result<State> s = client_->check();
        EXPECT_TRUE(s) << s.error().message;
        EXPECT_FALSE(s->ok);
        return s ? s->problem : "";
    }

    std::string nft(const std::string& args) {
        return run(*nft_ + " " + args).value_or("<failed>");
    }

    std::unique_ptr<Client> client_;
    std::optional<std::string> nft_;
};

#define REQUIRE_NFT()                                                  \
    do {                                                               \
        if (!nft_) {                                                   \
            GTEST_SKIP() << "nft binary not installed (apt nftables)"; \
        }                                                              \
    } while (0)

// ---------------------------------------------------------------------------------------
// Creating the table

constexpr const char* kListed = R"(table inet vigil {
	set block4 {
		type ipv4_addr
		flags timeout
	}

	set block6 {
		type ipv6_addr
		flags timeout
	}

	chain prerouting {
		type filter hook prerouting priority raw; policy accept;
		ip saddr @block4 counter packets 0 bytes 0 drop
		ip6 saddr @block6 counter packets 0 bytes 0 drop
	}
}
)";

TEST_F(NftTest, EnsureCreatesWhatCheckAccepts) {
    EXPECT_EQ(problem(), "table inet vigil missing");
    ensure_ok();
    if (nft_) {
        // nft prints priority -300 by its name; -y prints the number.
        EXPECT_EQ(nft("list table inet vigil"), kListed);
        EXPECT_NE(nft("-y list table inet vigil")
                      .find("type filter hook prerouting priority -300; policy accept;"),
                  std::string::npos);
    }
    Result<RuleCounters> c = client_->counters();
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(c->packets4 + c->packets6, 0u);
}

TEST_F(NftTest, EnsureTwiceChangesNothing) {
    ensure_ok();
    const Element el{ip("192.0.2.10"), 600'000, 0, "sid 1"};
    ASSERT_TRUE(client_->add({&el, 1}));
    // The listing with handles, minus the time left (which runs).
    auto listing = [this] {
        return std::regex_replace(nft("-a list table inet vigil"), std::regex(" expires \\S+"), "");
    };
    const std::string before = nft_ ? listing() : "";
    ensure_ok();
    ensure_ok();
    if (nft_) {
        // Same handles: nothing was deleted or created again.
        EXPECT_EQ(listing(), before);
        const std::string rules = nft("list chain inet vigil prerouting");
        EXPECT_EQ(std::count(rules.begin(), rules.end(), '@'), 2) << rules;
    }
    const std::vector<Element> l = list_ok();
    ASSERT_EQ(l.size(), 1u);
    EXPECT_EQ(l[0].addr, el.addr);
}

TEST_F(NftTest, RemoveTableWhenAbsentIsOk) {
    EXPECT_TRUE(client_->remove_table());
    ensure_ok();
    EXPECT_TRUE(client_->remove_table());
    EXPECT_EQ(problem(), "table inet vigil missing");
    EXPECT_TRUE(client_->remove_table());
}

TEST_F(NftTest, OtherTableName) {
    auto c = Client::open("vigil_test2");
    ASSERT_TRUE(c) << c.error().message;
    ASSERT_TRUE((*c)->ensure());
    Result<State> s = (*c)->check();
    ASSERT_TRUE(s);
    EXPECT_TRUE(s->ok) << s->problem;
    EXPECT_EQ(problem(), "table inet vigil missing");  // the other table is separate
    EXPECT_TRUE((*c)->remove_table());
}

// ---------------------------------------------------------------------------------------
// Elements

TEST_F(NftTest, AddListRemoveBothFamilies) {
    ensure_ok();
    const std::vector<Element> in{
        {ip("198.51.100.7"), 60'000, 0, "sid 2001234"},
        {ip("2001:db8::7"), 120'000, 0, "sid 2001235"},
        {ip("198.51.100.8"), 30'000, 0, ""},
    };
    ASSERT_TRUE(client_->add(in));
    // Adding what is already there is not an error.
    ASSERT_TRUE(client_->add({&in[0], 1}));

    const std::vector<Element> l = list_ok();
    ASSERT_EQ(l.size(), 3u);
    for (const Element& want : in) {
        const Element* got = find(l, want.addr);
        ASSERT_NE(got, nullptr);
        EXPECT_EQ(got->timeout_ms, want.timeout_ms);
        EXPECT_GT(got->expires_ms, 0u);
        EXPECT_LE(got->expires_ms, want.timeout_ms);
        EXPECT_GT(got->expires_ms + 10'000, want.timeout_ms);  // just added
        EXPECT_EQ(got->comment, want.comment);
    }
    if (nft_) {
        const std::string s4 = nft("list set inet vigil block4");
        EXPECT_NE(s4.find("198.51.100.7 timeout 1m expires"), std::string::npos) << s4;
        EXPECT_NE(s4.find("comment \"sid 2001234\""), std::string::npos) << s4;
        const std::string s6 = nft("list set inet vigil block6");
        EXPECT_NE(s6.find("2001:db8::7 timeout 2m expires"), std::string::npos) << s6;
        EXPECT_NE(s6.find("comment \"sid 2001235\""), std::string::npos) << s6;
    }

    const std::vector<IpAddr> gone{ip("198.51.100.7"), ip("2001:db8::7")};
    Status st = client_->remove(gone);
    ASSERT_TRUE(st) << st.error().message;
    const std::vector<Element> left = list_ok();
    ASSERT_EQ(left.size(), 1u);
    EXPECT_EQ(left[0].addr, ip("198.51.100.8"));
}

TEST_F(NftTest, ElementExpires) {
    ensure_ok();
    const Element el{ip("203.0.113.1"), 1'000, 0, "short"};
    ASSERT_TRUE(client_->add({&el, 1}));
    EXPECT_EQ(list_ok().size(), 1u);
    std::this_thread::sleep_for(1500ms);
    EXPECT_TRUE(list_ok().empty());
}

TEST_F(NftTest, ReAddingKeepsExpiryAndComment) {
    ensure_ok();
    const Element first{ip("198.51.100.50"), 60'000, 0, "sid 1"};
    ASSERT_TRUE(client_->add({&first, 1}));
    std::this_thread::sleep_for(1100ms);
    const Element again{ip("198.51.100.50"), 60'000, 0, "sid 2"};
    ASSERT_TRUE(client_->add({&again, 1}));
    const std::vector<Element> l = list_ok();
    ASSERT_EQ(l.size(), 1u);
    EXPECT_LE(l[0].expires_ms, 59'000u);  // not restarted
    EXPECT_EQ(l[0].comment, "sid 1");
}

TEST_F(NftTest, RemovingAnAbsentAddressNamesIt) {
    ensure_ok();
    const Element el{ip("192.0.2.1"), 60'000, 0, ""};
    ASSERT_TRUE(client_->add({&el, 1}));

    const std::vector<IpAddr> absent{ip("203.0.113.9")};
    Status st = client_->remove(absent);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, ErrorCode::BadInput);
    EXPECT_NE(st.error().message.find("203.0.113.9"), std::string::npos) << st.error().message;

    const std::vector<IpAddr> absent6{ip("2001:db8::99")};
    st = client_->remove(absent6);
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message.find("2001:db8::99"), std::string::npos) << st.error().message;

    // One batch: the present address is not removed either.
    const std::vector<IpAddr> mixed{ip("192.0.2.1"), ip("203.0.113.9")};
    st = client_->remove(mixed);
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message.find("203.0.113.9"), std::string::npos) << st.error().message;
    EXPECT_EQ(list_ok().size(), 1u);
}

TEST_F(NftTest, AddWithoutTableFails) {
    const Element el{ip("192.0.2.1"), 60'000, 0, ""};
    Status st = client_->add({&el, 1});
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message.find("block4"), std::string::npos) << st.error().message;
}

TEST_F(NftTest, HundredThousandElementsInOneCall) {
    ensure_ok();
    constexpr uint32_t kCount = 100'000;
    std::vector<Element> in(kCount);
    for (uint32_t i = 0; i < kCount; ++i) {
        const uint32_t be = htonl((10u << 24) + 1 + i);
        in[i].addr = IpAddr::from_v4(reinterpret_cast<const uint8_t*>(&be));
        in[i].timeout_ms = 3'600'000;
        in[i].comment = "sid " + std::to_string(2'000'000 + i);
    }
    const auto t0 = std::chrono::steady_clock::now();
    Status st = client_->add(in);
    const auto t1 = std::chrono::steady_clock::now();
    ASSERT_TRUE(st) << st.error().message;
    const std::vector<Element> l = list_ok();
    const auto t2 = std::chrono::steady_clock::now();
    const auto ms = [](auto d) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    };
    std::printf("[ timing   ] add(100000 elements): %lld ms; list(): %lld ms\n",
                static_cast<long long>(ms(t1 - t0)), static_cast<long long>(ms(t2 - t1)));
    RecordProperty("add_100k_ms", std::to_string(ms(t1 - t0)));
    ASSERT_EQ(l.size(), kCount);
    std::vector<IpAddr> listed;
    listed.reserve(l.size());
    for (const Element& x : l) {
        listed.push_back(x.addr);
    }
    std::sort(listed.begin(), listed.end());
    EXPECT_TRUE(std::adjacent_find(listed.begin(), listed.end()) == listed.end())
        << "an address listed twice";
    const Element* last = find(l, in.back().addr);
    ASSERT_NE(last, nullptr);
    EXPECT_EQ(last->comment, in.back().comment);

    // Removing many addresses goes through several batches as well.
    std::vector<IpAddr> gone;
    for (uint32_t i = 0; i < kCount; i += 2) {
        gone.push_back(in[i].addr);
    }
    const auto t3 = std::chrono::steady_clock::now();
    st = client_->remove(gone);
    const auto t4 = std::chrono::steady_clock::now();
    ASSERT_TRUE(st) << st.error().message;
    std::printf("[ timing   ] remove(50000 addresses): %lld ms\n",
                static_cast<long long>(ms(t4 - t3)));
    EXPECT_EQ(list_ok().size(), kCount / 2);

    // A repair with more elements than one batch holds: the first batch re-creates the
    // table, the rest follow.
    if (nft_) {
        nft("flush chain inet vigil prerouting");
        const auto t5 = std::chrono::steady_clock::now();
        ensure_ok();
        const auto t6 = std::chrono::steady_clock::now();
        std::printf("[ timing   ] ensure() repairing with 50000 elements: %lld ms\n",
                    static_cast<long long>(ms(t6 - t5)));
        const std::vector<Element> back = list_ok();
        EXPECT_EQ(back.size(), kCount / 2);
        // Exactly the odd ones, each once.
        std::vector<IpAddr> got;
        got.reserve(back.size());
        for (const Element& x : back) {
            got.push_back(x.addr);
        }
        std::sort(got.begin(), got.end());
        std::vector<IpAddr> want;
        for (uint32_t i = 1; i < kCount; i += 2) {
            want.push_back(in[i].addr);
        }
        std::sort(want.begin(), want.end());
        EXPECT_TRUE(got == want);
        const Element* e = find(back, in[1].addr);
        ASSERT_NE(e, nullptr);
        EXPECT_EQ(e->comment, in[1].comment);
        EXPECT_LE(e->timeout_ms, in[1].timeout_ms);
    }
}

// ---------------------------------------------------------------------------------------
// Tampering: check() says what, ensure() repairs and keeps the elements

class NftTamperTest : public NftTest {
protected:
    void SetUp() override {
        NftTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) {
            return;
        }
        ensure_ok();
        ASSERT_TRUE(client_->add(elems_));
        before_ = list_ok();
        ASSERT_EQ(before_.size(), elems_.size());
    }

    // After ensure(): these elements are back, with no more than the time they had left.
    void expect_restored(const std::vector<IpAddr>& addrs) {
        ensure_ok();
        const std::vector<Element> after = list_ok();
        EXPECT_EQ(after.size(), addrs.size());
        for (const IpAddr& a : addrs) {
            const Element* was = find(before_, a);
            const Element* now = find(after, a);
            ASSERT_NE(was, nullptr);
            ASSERT_NE(now, nullptr);
            EXPECT_GT(now->expires_ms, 0u);
            EXPECT_LE(now->expires_ms, was->expires_ms);
            EXPECT_LE(now->timeout_ms, was->expires_ms);  // the new timeout is the time left
            EXPECT_EQ(now->comment, was->comment);
        }
    }

    const std::vector<Element> elems_{
        {ip("192.0.2.20"), 600'000, 0, "sid 10"},
        {ip("192.0.2.21"), 900'000, 0, "sid 11"},
        {ip("2001:db8::20"), 600'000, 0, "sid 12"},
    };
    const std::vector<IpAddr> all_{ip("192.0.2.20"), ip("192.0.2.21"), ip("2001:db8::20")};
    std::vector<Element> before_;
};

TEST_F(NftTamperTest, SetDeleted) {
    REQUIRE_NFT();
    // A set in use by a rule cannot be deleted: flush the chain first.
    nft("flush chain inet vigil prerouting");
    nft("delete set inet vigil block6");
    EXPECT_EQ(problem(), "set block6 missing");
    expect_restored({ip("192.0.2.20"), ip("192.0.2.21")});
}

TEST_F(NftTamperTest, ChainFlushed) {
    REQUIRE_NFT();
    nft("flush chain inet vigil prerouting");
    EXPECT_EQ(problem(), "chain prerouting has 0 rules, expected 2");
    expect_restored(all_);
}

TEST_F(NftTamperTest, ExtraRule) {
    REQUIRE_NFT();
    nft("insert rule inet vigil prerouting ip saddr 192.0.2.20 accept");
    EXPECT_EQ(problem(), "chain prerouting has 3 rules, expected 2");
    expect_restored(all_);
}

TEST_F(NftTamperTest, RuleInverted) {
    REQUIRE_NFT();
    nft("flush chain inet vigil prerouting");
    nft("add rule inet vigil prerouting ip saddr != @block4 counter drop");
    nft("add rule inet vigil prerouting ip6 saddr @block6 counter drop");
    EXPECT_EQ(
        problem(),
        "chain prerouting changed (rule `ip saddr @block4 counter drop` missing or modified)");
    expect_restored(all_);
}

TEST_F(NftTamperTest, ChainPriority) {
    REQUIRE_NFT();
    nft("flush chain inet vigil prerouting");
    nft("delete chain inet vigil prerouting");
    nft("add chain inet vigil prerouting '{ type filter hook prerouting priority 0; policy accept; "
        "}'");
    EXPECT_EQ(problem(), "chain prerouting changed (priority 0)");
    expect_restored(all_);
}

TEST_F(NftTamperTest, ChainPolicyDrop) {
    REQUIRE_NFT();
    nft("add chain inet vigil prerouting '{ policy drop; }'");
    EXPECT_EQ(problem(), "chain prerouting changed (policy drop)");
    expect_restored(all_);
}

TEST_F(NftTamperTest, TableDeleted) {
    REQUIRE_NFT();
    nft("delete table inet vigil");
    EXPECT_EQ(problem(), "table inet vigil missing");
    expect_restored({});
}

TEST_F(NftTamperTest, TableDeletedThroughClient) {
    // Without nft: the client's own DELTABLE.
    ASSERT_TRUE(client_->remove_table());
    EXPECT_EQ(problem(), "table inet vigil missing");
    expect_restored({});
}

// ---------------------------------------------------------------------------------------
// Traffic through the hook

// A second network namespace held by a child process, joined to ours by a veth pair
// (vnft0 here, vnft1 there). Everything disappears when the child exits.
class Peer {
public:
    bool start() {
        int ready[2];
        if (pipe(ready) != 0 || pipe(hold_) != 0) {
            return false;
        }
        pid_ = fork();
        if (pid_ == 0) {
            close(ready[0]);
            close(hold_[1]);
            const char ok = unshare(CLONE_NEWNET) == 0 ? '1' : '0';
            (void)!write(ready[1], &ok, 1);
            char c;
            (void)!read(hold_[0], &c, 1);  // until the parent closes its end
            _exit(0);
        }
        close(ready[1]);
        close(hold_[0]);
        char ok = '0';
        (void)!read(ready[0], &ok, 1);
        close(ready[0]);
        return pid_ > 0 && ok == '1';
    }

    ~Peer() {
        if (pid_ > 0) {
            close(hold_[1]);
            waitpid(pid_, nullptr, 0);
        }
    }

    // A command run inside the peer's namespace.
    std::string in(const std::string& cmd) const {
        return "nsenter --net=/proc/" + std::to_string(pid_) + "/ns/net " + cmd;
    }
    pid_t pid() const { return pid_; }

private:
    pid_t pid_ = -1;
    int hold_[2] = {-1, -1};
};

// A UDP socket here; receive() says whether a datagram arrived within the timeout.
class Receiver {
public:
    Receiver(int family, const char* addr, uint16_t port) {
        fd_ = socket(family, SOCK_DGRAM, 0);
        sockaddr_storage ss{};
        socklen_t len = 0;
        if (family == AF_INET) {
            auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
            sin->sin_family = AF_INET;
            sin->sin_port = htons(port);
            inet_pton(AF_INET, addr, &sin->sin_addr);
            len = sizeof(*sin);
        } else {
            auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
            sin6->sin6_family = AF_INET6;
            sin6->sin6_port = htons(port);
            inet_pton(AF_INET6, addr, &sin6->sin6_addr);
            len = sizeof(*sin6);
        }
        bound_ = bind(fd_, reinterpret_cast<sockaddr*>(&ss), len) == 0;
        timeval tv{0, 700'000};
        setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    }
    ~Receiver() { close(fd_); }
    bool bound() const { return bound_; }
    bool receive() {
        char buf[64];
        return recv(fd_, buf, sizeof(buf), 0) > 0;
    }
    // Discards what has arrived: probes that waited for ARP/ND arrive together, and one of
    // them read later would look like a packet that got through a block.
    void drain() {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        char buf[64];
        while (recv(fd_, buf, sizeof(buf), MSG_DONTWAIT) > 0) {
        }
    }

private:
    int fd_ = -1;
    bool bound_ = false;
};

TEST_F(NftTest, CountersCountDroppedTraffic) {
    ensure_ok();
    Peer peer;
    ASSERT_TRUE(peer.start());
    const std::string pid = std::to_string(peer.pid());
    ASSERT_TRUE(run("ip link add vnft0 type veth peer name vnft1 netns " + pid));
    ASSERT_TRUE(run("ip addr add 10.213.0.1/24 dev vnft0"));
    ASSERT_TRUE(run("ip -6 addr add fd00:213::1/64 dev vnft0 nodad"));
    ASSERT_TRUE(run("ip link set vnft0 up"));
    ASSERT_TRUE(run(peer.in("ip addr add 10.213.0.2/24 dev vnft1")));
    ASSERT_TRUE(run(peer.in("ip -6 addr add fd00:213::2/64 dev vnft1 nodad")));
    ASSERT_TRUE(run(peer.in("ip link set vnft1 up")));

    struct Case {
        int family;
        const char* here;
        const char* there;
    };
    for (const Case& c : {Case{AF_INET, "10.213.0.1", "10.213.0.2"},
                          Case{AF_INET6, "fd00:213::1", "fd00:213::2"}}) {
        SCOPED_TRACE(c.there);
        Receiver rx(c.family, c.here, 40000);
        ASSERT_TRUE(rx.bound());
        const std::string send =
            peer.in(std::string("bash -c 'echo probe >/dev/udp/") + c.here + "/40000'");
        // Not blocked yet: probes arrive (the first ones may wait for the link and ARP/ND).
        bool arrived = false;
        for (int i = 0; i < 10 && !arrived; ++i) {
            ASSERT_TRUE(run(send));
            arrived = rx.receive();
        }
        ASSERT_TRUE(arrived) << "no traffic over the veth pair at all";
        rx.drain();

        Result<RuleCounters> before = client_->counters();
        ASSERT_TRUE(before) << before.error().message;
        const Element el{ip(c.there), 60'000, 0, "test"};
        ASSERT_TRUE(client_->add({&el, 1}));
        ASSERT_TRUE(run(send));
        ASSERT_TRUE(run(send));
        EXPECT_FALSE(rx.receive()) << "a blocked source got through";
        Result<RuleCounters> after = client_->counters();
        ASSERT_TRUE(after) << after.error().message;
        if (c.family == AF_INET) {
            EXPECT_GE(after->packets4, before->packets4 + 2);
            EXPECT_GT(after->bytes4, before->bytes4);
        } else {
            EXPECT_GE(after->packets6, before->packets6 + 2);
            EXPECT_GT(after->bytes6, before->bytes6);
        }

        // Unblocked again: traffic flows.
        ASSERT_TRUE(client_->remove({&el.addr, 1}));
        arrived = false;
        for (int i = 0; i < 10 && !arrived; ++i) {
            ASSERT_TRUE(run(send));
            arrived = rx.receive();
        }
        EXPECT_TRUE(arrived);
    }
}

// ---------------------------------------------------------------------------------------
// Errors in operator terms

TEST(NftOpenTest, WithoutCapNetAdminSaysSo) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        // Drop every capability, then try.
        __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
        std::array<__user_cap_data_struct, 2> data{};
        if (syscall(SYS_capset, &hdr, data.data()) != 0) {
            _exit(2);
        }
        auto c = Client::open();
        const bool says_why =
            !c && c.error().code == ErrorCode::Io &&
            c.error().message ==
                "nftables: permission denied: the sensor needs CAP_NET_ADMIN (run as root or "
                "grant the capability)";
        _exit(says_why ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

// ---------------------------------------------------------------------------------------
// Allowlist

TEST(AllowlistTest, ParsesNetworksAndAddresses) {
    Allowlist al;
    ASSERT_TRUE(al.add("198.51.100.0/24"));
    ASSERT_TRUE(al.add("192.0.2.7"));
    ASSERT_TRUE(al.add("2001:db8:1::/48"));
    ASSERT_TRUE(al.add("2001:db8::5"));
    ASSERT_TRUE(al.add(" 10.1.2.3/8 "));  // host bits and spaces are tolerated
    EXPECT_EQ(al.size(), 5u);

    EXPECT_TRUE(al.contains(ip("198.51.100.0")));
    EXPECT_TRUE(al.contains(ip("198.51.100.255")));
    EXPECT_FALSE(al.contains(ip("198.51.101.0")));
    EXPECT_TRUE(al.contains(ip("192.0.2.7")));
    EXPECT_FALSE(al.contains(ip("192.0.2.8")));
    EXPECT_TRUE(al.contains(ip("2001:db8:1:ffff::1")));
    EXPECT_FALSE(al.contains(ip("2001:db8:2::1")));
    EXPECT_TRUE(al.contains(ip("2001:db8::5")));
    EXPECT_FALSE(al.contains(ip("2001:db8::6")));
    EXPECT_TRUE(al.contains(ip("10.200.0.1")));
    EXPECT_FALSE(al.contains(ip("11.0.0.1")));
}

TEST(AllowlistTest, PrefixEdges) {
    Allowlist v4all;
    ASSERT_TRUE(v4all.add("0.0.0.0/0"));
    EXPECT_TRUE(v4all.contains(ip("203.0.113.1")));
    EXPECT_FALSE(v4all.contains(ip("2001:db8::1")));  // IPv4 networks are IPv4 only

    Allowlist v6all;
    ASSERT_TRUE(v6all.add("::/0"));
    EXPECT_TRUE(v6all.contains(ip("2001:db8::1")));
    EXPECT_FALSE(v6all.contains(ip("203.0.113.1")));  // nor do IPv6 networks cover IPv4

    Allowlist mapped;  // explicitly v4-mapped: covers those IPv4 addresses
    ASSERT_TRUE(mapped.add("::ffff:10.0.0.0/104"));
    EXPECT_TRUE(mapped.contains(ip("10.9.8.7")));
    EXPECT_FALSE(mapped.contains(ip("11.0.0.1")));

    Allowlist odd;
    ASSERT_TRUE(odd.add("192.0.2.128/25"));
    EXPECT_TRUE(odd.contains(ip("192.0.2.200")));
    EXPECT_FALSE(odd.contains(ip("192.0.2.127")));
    ASSERT_TRUE(odd.add("2001:db8::/127"));
    EXPECT_TRUE(odd.contains(ip("2001:db8::1")));
    EXPECT_FALSE(odd.contains(ip("2001:db8::2")));
}

TEST(AllowlistTest, RejectsBadEntriesByName) {
    Allowlist al;
    for (const char* bad :
         {"", "foo", "10.0.0.0/33", "10.0.0.1/", "/24", "2001:db8::/129", "10.0.0.0/2a",
          "10.0.0.0/-1", "300.1.1.1", "10.0.0.0/24/1", "2001:db8::/+5"}) {
        Status st = al.add(bad);
        ASSERT_FALSE(st) << bad;
        EXPECT_EQ(st.error().code, ErrorCode::BadInput);
        EXPECT_NE(st.error().message.find(std::string("\"") + bad + "\""), std::string::npos)
            << st.error().message;
    }
    EXPECT_EQ(al.size(), 0u);
}

}  // namespace
}  // namespace vigil::sensor::nft
