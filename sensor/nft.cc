#include "sensor/nft.h"

// <arpa/inet.h> (glibc's netinet/in.h) must come before the kernel's <linux/netfilter.h>.
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>

#include "common/text.h"

namespace vigil::sensor::nft {
namespace {

using dataplane::IpAddr;

constexpr uint16_t kFamily = NFPROTO_INET;
constexpr const char* kChain = "prerouting";
constexpr const char* kChainType = "filter";
// NF_IP_PRI_RAW: before conntrack, so a blocked source costs no connection-tracking state.
constexpr int32_t kPriority = -300;
constexpr uint32_t kTypeIpv4Addr = 7;  // nft's TYPE_IPADDR: `nft list` prints ipv4_addr
constexpr uint32_t kTypeIpv6Addr = 8;  // TYPE_IP6ADDR: ipv6_addr
constexpr uint32_t kByteorderBig = 2;  // nft's BYTEORDER_BIG_ENDIAN, kept in the set's userdata
constexpr size_t kCommentMax = 128;    // nft refuses longer comments (NFTNL_UDATA_COMMENT_MAXLEN)
constexpr size_t kUdataMax = 256;      // kernel limit of element userdata (NFT_USERDATA_MAXLEN)

// Socket buffers asked for (SO_*BUFFORCE; the kernel doubles the value). Without FORCE the
// kernel caps them at net.core.{w,r}mem_max (~208 KiB), and a batch above the send buffer
// fails with EMSGSIZE: batch_bytes_ is derived from what was really granted.
constexpr int kSendBuffer = 4 << 20;
constexpr int kRecvBuffer = 4 << 20;
constexpr size_t kMaxBatchBytes = 1 << 20;  // bigger batches gain nothing measurable
// A message never exceeds this (element messages stay near kElemMsgBudget), so a batch with
// this much room left can take any next message without bounds checks in libnftnl's builders.
constexpr size_t kMaxMsgBytes = size_t{64} * 1024;
// Elements per NEWSETELEM message are bounded by size: the element list is one netlink
// attribute, whose 16-bit length caps it at 64 KiB.
constexpr size_t kElemMsgBudget = size_t{32} * 1024;
// Upper bound of one element in a message: nest, key, timeout, userdata headers + comment.
constexpr size_t kElemOverhead = 64;
// ACK skbs are small but each costs ~1 KiB of receive buffer (truesize); ACKs that do not fit
// are dropped by the kernel, so a batch carries at most rcvbuf / kAckCost messages.
constexpr size_t kAckCost = 2048;
constexpr size_t kRecvBytes = size_t{64} * 1024;  // > the kernel's 32 KiB dump chunks
constexpr int kReplyTimeoutSec = 10;

constexpr const char* kPermissionText =
    "nftables: permission denied: the sensor needs CAP_NET_ADMIN (run as root or grant the "
    "capability)";
constexpr const char* kNoNfTablesText =
    "nftables: nf_tables is not available in this kernel (modprobe nf_tables)";

// One address family of the table: its set and its drop rule.
struct Family {
    const char* set;
    uint32_t set_id;  // batch-local id: lets the rule's lookup find a set created in its batch
    uint32_t key_type;
    uint32_t key_len;
    uint8_t nfproto;
    uint32_t saddr_offset;  // of the source address in the network header
    const char* rule_text;  // as `nft list` shows the rule
};
constexpr std::array<Family, 2> kFamilies{{
    {"block4", 1, kTypeIpv4Addr, 4, NFPROTO_IPV4, 12, "ip saddr @block4 counter drop"},
    {"block6", 2, kTypeIpv6Addr, 16, NFPROTO_IPV6, 8, "ip6 saddr @block6 counter drop"},
}};

const Family& family_of(const IpAddr& a) {
    return kFamilies[a.is_v4() ? 0 : 1];
}

// libnftnl objects, freed by their own functions.
struct NftnlFree {
    void operator()(nftnl_table* p) const { nftnl_table_free(p); }
    void operator()(nftnl_chain* p) const { nftnl_chain_free(p); }
    void operator()(nftnl_set* p) const { nftnl_set_free(p); }
    void operator()(nftnl_set_elem* p) const { nftnl_set_elem_free(p); }
    void operator()(nftnl_rule* p) const { nftnl_rule_free(p); }
    void operator()(nftnl_expr* p) const { nftnl_expr_free(p); }
    void operator()(nftnl_udata_buf* p) const { nftnl_udata_buf_free(p); }
    void operator()(nftnl_expr_iter* p) const { nftnl_expr_iter_destroy(p); }
    void operator()(nftnl_set_elems_iter* p) const { nftnl_set_elems_iter_destroy(p); }
};
template <typename T>
using NftnlPtr = std::unique_ptr<T, NftnlFree>;

// libnftnl allocates with calloc: NULL means out of memory, where the process cannot go on
// (operator new would terminate it just the same).
template <typename T>
NftnlPtr<T> own(T* p) {
    if (p == nullptr) {
        std::abort();
    }
    return NftnlPtr<T>(p);
}

std::string errno_text(int err) {
    char buf[128];
    return strerror_r(err, buf, sizeof(buf));  // GNU variant: returns the text
}

// An OS/kernel error in operator terms; EPERM is the missing capability.
Error os_error(const std::string& what, int err) {
    if (err == EPERM || err == EACCES) {
        return make_error(ErrorCode::Io, kPermissionText);
    }
    return make_error(ErrorCode::Io, "nftables: " + what + ": " + errno_text(err));
}

std::string addr_text(const IpAddr& a) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (a.is_v4()) {
        inet_ntop(AF_INET, &a.b[12], buf, sizeof(buf));
    } else {
        inet_ntop(AF_INET6, a.b.data(), buf, sizeof(buf));
    }
    return buf;
}

// ---------------------------------------------------------------------------------------
// Netlink I/O

// Reads and discards whatever is queued (answers to an earlier request that gave up).
void drain(int fd) {
    std::vector<char> buf(kRecvBytes);
    while (recv(fd, buf.data(), buf.size(), MSG_DONTWAIT) > 0) {
    }
}

uint32_t next_seq(uint32_t& seq) {
    ++seq;
    if (seq == 0) {  // 0 would match any answer
        ++seq;
    }
    return seq;
}

// Called for each data message of a GET answer; false = the message did not parse.
using MsgFn = std::function<bool(const nlmsghdr*)>;

// Sends one GET request and feeds the answer to on_msg: a dump (NLM_F_DUMP) ends with
// NLMSG_DONE, a plain get after its one message. Returns 0 or the kernel's errno. A dump that
// raced with a ruleset change (NLM_F_DUMP_INTR) is read to its end and returns EINTR: the
// kernel refuses a new dump on the socket while one is unfinished.
int query(mnl_socket* nl, const nlmsghdr* req, const MsgFn& on_msg) {
    const int fd = mnl_socket_get_fd(nl);
    drain(fd);
    if (mnl_socket_sendto(nl, req, req->nlmsg_len) < 0) {
        return errno;
    }
    const bool dump = (req->nlmsg_flags & NLM_F_DUMP) != 0;
    int result = 0;
    std::vector<char> buf(kRecvBytes);
    for (;;) {
        const ssize_t n = mnl_socket_recvfrom(nl, buf.data(), buf.size());
        if (n < 0) {
            return errno == EAGAIN || errno == EWOULDBLOCK ? ETIMEDOUT : errno;
        }
        int len = static_cast<int>(n);
        for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data()); mnl_nlmsg_ok(nlh, len);
             nlh = mnl_nlmsg_next(nlh, &len)) {
            if (nlh->nlmsg_seq != req->nlmsg_seq) {
                continue;  // stale answer to an earlier request
            }
            if ((nlh->nlmsg_flags & NLM_F_DUMP_INTR) != 0 && result == 0) {
                result = EINTR;
            }
            if (nlh->nlmsg_type == NLMSG_ERROR || nlh->nlmsg_type == NLMSG_DONE) {
                // Both carry an int first: the error (negative) or 0.
                int err = 0;
                if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int)) {
                    std::memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(int));
                }
                return err < 0 ? -err : result;
            }
            if (nlh->nlmsg_type < NLMSG_MIN_TYPE) {
                continue;  // NOOP, OVERRUN
            }
            if (result == 0 && !on_msg(nlh)) {
                result = EPROTO;
            }
            if (!dump) {
                return result;
            }
        }
    }
}

// Runs a dump again when it raced with a ruleset change; reset() clears partial results.
int query_retry(mnl_socket* nl, uint32_t& seq,
                const std::function<nlmsghdr*(char*, uint32_t)>& build, const MsgFn& on_msg,
                const std::function<void()>& reset) {
    std::vector<char> req(MNL_SOCKET_BUFFER_SIZE);
    int err = EINTR;
    for (int attempt = 0; attempt < 5 && err == EINTR; ++attempt) {
        reset();
        err = query(nl, build(req.data(), next_seq(seq)), on_msg);
    }
    return err;
}

// The bytes of one transaction: BATCH_BEGIN, the messages, BATCH_END, sent with one
// sendmsg. The kernel applies all messages or none. Every message asks for an ACK, and the
// kernel answers each one (it processes the whole batch even after a failure, to report
// every error), so the answers tell which message failed.
class Batch {
public:
    Batch(uint32_t& seq, size_t limit, size_t max_msgs)
        : seq_(seq), limit_(limit), max_msgs_(max_msgs), buf_(2 * kMaxMsgBytes) {
        reset();
    }

    // Room for one more message of any size we build (and BATCH_END)?
    bool has_room() const {
        return len_ + kMaxMsgBytes + NLMSG_SPACE(sizeof(nfgenmsg)) <= limit_ &&
               labels_.size() < max_msgs_;
    }
    bool empty() const { return labels_.empty(); }
    size_t messages() const { return labels_.size(); }
    uint32_t begin_seq() const { return begin_seq_; }

    // Header of the next message (inet family, NLM_F_ACK added). Fill in the payload, then
    // call done() with a label naming the message in errors.
    nlmsghdr* next(uint16_t type, uint16_t flags) {
        // Grows on demand (a one-element add stays small); has_room() bounds it by limit_.
        const size_t need = len_ + kMaxMsgBytes + NLMSG_SPACE(sizeof(nfgenmsg));
        if (buf_.size() < need) {
            buf_.resize(std::max(need, std::min(2 * buf_.size(), limit_)));
        }
        return nftnl_nlmsg_build_hdr(buf_.data() + len_, type, kFamily, flags | NLM_F_ACK,
                                     next_seq(seq_));
    }
    void done(nlmsghdr* nlh, std::string label) {
        len_ += NLMSG_ALIGN(nlh->nlmsg_len);
        labels_.emplace_back(nlh->nlmsg_seq, std::move(label));
    }

    // Closes the batch: the bytes to send.
    std::span<const char> finish() {
        nlmsghdr* end = nftnl_batch_end(buf_.data() + len_, next_seq(seq_));
        return {buf_.data(), len_ + NLMSG_ALIGN(end->nlmsg_len)};
    }

    // Label of the message with this sequence number, nullptr when not one of ours.
    const std::string* label(uint32_t seq) const {
        // Sequence numbers run consecutively (but for the wrap past 0).
        if (!labels_.empty()) {
            const size_t i = seq - labels_.front().first;
            if (i < labels_.size() && labels_[i].first == seq) {
                return &labels_[i].second;
            }
        }
        for (const auto& [s, text] : labels_) {
            if (s == seq) {
                return &text;
            }
        }
        return nullptr;
    }

    void reset() {
        labels_.clear();
        begin_seq_ = next_seq(seq_);
        nlmsghdr* begin = nftnl_batch_begin(buf_.data(), begin_seq_);
        len_ = NLMSG_ALIGN(begin->nlmsg_len);
    }

private:
    uint32_t& seq_;
    size_t limit_;
    size_t max_msgs_;
    std::vector<char> buf_;
    size_t len_ = 0;
    uint32_t begin_seq_ = 0;
    std::vector<std::pair<uint32_t, std::string>> labels_;
};

// Turns a failed message's errno into the error to return (nullopt: not an error for this
// caller); label names the message.
using ErrorFn = std::function<std::optional<Error>(const std::string& label, int err)>;

std::optional<Error> default_error(const std::string& label, int err) {
    return os_error(label, err);
}

// Sends the batch, reads one answer per message and starts the batch afresh. Returns the
// first failure (the kernel then applied none of the batch).
Status commit(mnl_socket* nl, Batch& batch, const ErrorFn& on_error = default_error) {
    if (batch.empty()) {
        return Ok{};
    }
    const std::span<const char> bytes = batch.finish();
    drain(mnl_socket_get_fd(nl));
    if (mnl_socket_sendto(nl, bytes.data(), bytes.size()) < 0) {
        const int err = errno;
        batch.reset();
        return os_error("sending a batch of " + std::to_string(bytes.size()) + " bytes", err);
    }
    size_t pending = batch.messages();
    std::optional<Error> failure;
    std::vector<char> buf(kRecvBytes);
    while (pending > 0) {
        const ssize_t n = mnl_socket_recvfrom(nl, buf.data(), buf.size());
        if (n < 0) {
            const int err = errno;
            batch.reset();
            if (err == EAGAIN || err == EWOULDBLOCK) {
                return make_error(ErrorCode::Io, "nftables: no answer from the kernel within " +
                                                     std::to_string(kReplyTimeoutSec) + " s");
            }
            return os_error("reading the kernel's answers", err);
        }
        int len = static_cast<int>(n);
        for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data()); mnl_nlmsg_ok(nlh, len);
             nlh = mnl_nlmsg_next(nlh, &len)) {
            if (nlh->nlmsg_type != NLMSG_ERROR ||
                mnl_nlmsg_get_payload_len(nlh) < sizeof(nlmsgerr)) {
                continue;
            }
            nlmsgerr answer{};
            std::memcpy(&answer, mnl_nlmsg_get_payload(nlh), sizeof(answer));
            const std::string* label = batch.label(nlh->nlmsg_seq);
            if (label == nullptr) {
                // An error on BATCH_BEGIN refuses the whole batch (no CAP_NET_ADMIN, ...):
                // nothing else will come.
                if (nlh->nlmsg_seq == batch.begin_seq() && answer.error != 0) {
                    batch.reset();
                    return os_error("batch refused", -answer.error);
                }
                continue;  // stale answer to an earlier request
            }
            --pending;
            if (answer.error != 0 && !failure) {
                failure = on_error(*label, -answer.error);
            }
        }
    }
    batch.reset();
    if (failure) {
        return *failure;
    }
    return Ok{};
}

// ---------------------------------------------------------------------------------------
// Building the objects, exactly as `nft -f` builds DESIGN.md §5

void add_expr(nftnl_rule* r, NftnlPtr<nftnl_expr> e) {
    nftnl_rule_add_expr(r, e.release());
}

NftnlPtr<nftnl_expr> make_expr(const char* name) {
    return own(nftnl_expr_alloc(name));
}

// `ip saddr @block4 counter drop` in an inet table: nft first checks the family (meta
// nfproto), then loads the source address and looks it up in the set.
NftnlPtr<nftnl_rule> make_rule(const std::string& table, const Family& f) {
    auto r = own(nftnl_rule_alloc());
    nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, kFamily);
    nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, table.c_str());
    nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, kChain);

    auto meta = make_expr("meta");
    nftnl_expr_set_u32(meta.get(), NFTNL_EXPR_META_KEY, NFT_META_NFPROTO);
    nftnl_expr_set_u32(meta.get(), NFTNL_EXPR_META_DREG, NFT_REG_1);
    add_expr(r.get(), std::move(meta));

    auto cmp = make_expr("cmp");
    nftnl_expr_set_u32(cmp.get(), NFTNL_EXPR_CMP_SREG, NFT_REG_1);
    nftnl_expr_set_u32(cmp.get(), NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
    nftnl_expr_set(cmp.get(), NFTNL_EXPR_CMP_DATA, &f.nfproto, sizeof(f.nfproto));
    add_expr(r.get(), std::move(cmp));

    auto payload = make_expr("payload");
    nftnl_expr_set_u32(payload.get(), NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
    nftnl_expr_set_u32(payload.get(), NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_NETWORK_HEADER);
    nftnl_expr_set_u32(payload.get(), NFTNL_EXPR_PAYLOAD_OFFSET, f.saddr_offset);
    nftnl_expr_set_u32(payload.get(), NFTNL_EXPR_PAYLOAD_LEN, f.key_len);
    add_expr(r.get(), std::move(payload));

    auto lookup = make_expr("lookup");
    nftnl_expr_set_u32(lookup.get(), NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
    nftnl_expr_set_str(lookup.get(), NFTNL_EXPR_LOOKUP_SET, f.set);
    nftnl_expr_set_u32(lookup.get(), NFTNL_EXPR_LOOKUP_SET_ID, f.set_id);
    add_expr(r.get(), std::move(lookup));

    add_expr(r.get(), make_expr("counter"));

    auto verdict = make_expr("immediate");
    nftnl_expr_set_u32(verdict.get(), NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
    nftnl_expr_set_u32(verdict.get(), NFTNL_EXPR_IMM_VERDICT, NF_DROP);
    add_expr(r.get(), std::move(verdict));
    return r;
}

NftnlPtr<nftnl_set> make_set(const std::string& table, const Family& f) {
    auto s = own(nftnl_set_alloc());
    nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, table.c_str());
    nftnl_set_set_str(s.get(), NFTNL_SET_NAME, f.set);
    return s;
}

// The set as created: key type and length, timeout flag, and the key byte order nft keeps
// in userdata (so `nft list` prints addresses, not hex).
NftnlPtr<nftnl_set> make_full_set(const std::string& table, const Family& f) {
    auto s = make_set(table, f);
    nftnl_set_set_u32(s.get(), NFTNL_SET_FAMILY, kFamily);
    nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, NFT_SET_TIMEOUT);
    nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_TYPE, f.key_type);
    nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_LEN, f.key_len);
    nftnl_set_set_u32(s.get(), NFTNL_SET_ID, f.set_id);
    auto ud = own(nftnl_udata_buf_alloc(kUdataMax));
    nftnl_udata_put_u32(ud.get(), NFTNL_UDATA_SET_KEYBYTEORDER, kByteorderBig);
    nftnl_set_set_data(s.get(), NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud.get()),
                       nftnl_udata_buf_len(ud.get()));
    return s;
}

NftnlPtr<nftnl_chain> make_chain(const std::string& table) {
    auto c = own(nftnl_chain_alloc());
    nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, table.c_str());
    nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, kChain);
    return c;
}

NftnlPtr<nftnl_table> make_table(const std::string& table) {
    auto t = own(nftnl_table_alloc());
    nftnl_table_set_u32(t.get(), NFTNL_TABLE_FAMILY, kFamily);
    nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, table.c_str());
    return t;
}

// Appends the table, both sets, the chain and its two rules to the batch.
void add_objects(Batch& b, const std::string& table) {
    auto t = make_table(table);
    nftnl_table_set_u32(t.get(), NFTNL_TABLE_FLAGS, 0);
    nlmsghdr* nlh = b.next(NFT_MSG_NEWTABLE, NLM_F_CREATE);
    nftnl_table_nlmsg_build_payload(nlh, t.get());
    b.done(nlh, "creating table inet " + table);

    for (const Family& f : kFamilies) {
        auto s = make_full_set(table, f);
        nlh = b.next(NFT_MSG_NEWSET, NLM_F_CREATE);
        nftnl_set_nlmsg_build_payload(nlh, s.get());
        b.done(nlh, std::string("creating set ") + f.set);
    }

    auto c = make_chain(table);
    nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TYPE, kChainType);
    nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_HOOKNUM, NF_INET_PRE_ROUTING);
    nftnl_chain_set_s32(c.get(), NFTNL_CHAIN_PRIO, kPriority);
    nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_POLICY, NF_ACCEPT);
    nlh = b.next(NFT_MSG_NEWCHAIN, NLM_F_CREATE);
    nftnl_chain_nlmsg_build_payload(nlh, c.get());
    b.done(nlh, std::string("creating chain ") + kChain);

    for (const Family& f : kFamilies) {
        auto r = make_rule(table, f);
        nlh = b.next(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);
        nftnl_rule_nlmsg_build_payload(nlh, r.get());
        b.done(nlh, std::string("adding rule `") + f.rule_text + "`");
    }
}

std::span<const uint8_t> key_of(const IpAddr& a) {
    if (a.is_v4()) {
        return {&a.b[12], 4};
    }
    return {a.b.data(), 16};
}

NftnlPtr<nftnl_set_elem> make_elem(const IpAddr& addr) {
    auto e = own(nftnl_set_elem_alloc());
    const std::span<const uint8_t> key = key_of(addr);
    nftnl_set_elem_set(e.get(), NFTNL_SET_ELEM_KEY, key.data(), key.size());
    return e;
}

// The comment goes into element userdata as nft writes it (NUL-terminated TLV), so `nft list`
// shows `comment "..."`.
void set_comment(nftnl_set_elem* e, const std::string& comment) {
    if (comment.empty()) {
        return;
    }
    const std::string text = comment.substr(0, std::min(comment.find('\0'), kCommentMax));
    auto ud = own(nftnl_udata_buf_alloc(kUdataMax));
    if (!nftnl_udata_put_strz(ud.get(), NFTNL_UDATA_SET_ELEM_COMMENT, text.c_str())) {
        return;  // cannot happen: kCommentMax + TLV header < kUdataMax
    }
    nftnl_set_elem_set(e, NFTNL_SET_ELEM_USERDATA, nftnl_udata_buf_data(ud.get()),
                       nftnl_udata_buf_len(ud.get()));
}

// Errors of element batches: ENOENT means the set (or its table) is not there.
ErrorFn element_errors(const std::string& table) {
    return [table](const std::string& label, int err) -> std::optional<Error> {
        if (err == ENOENT) {
            return make_error(ErrorCode::Io, "nftables: " + label + ": no such set in table inet " +
                                                 table + " (not created yet, or deleted)");
        }
        return os_error(label, err);
    };
}

// Appends NEWSETELEM messages for elems (all of family f), committing full batches.
Status add_elements(mnl_socket* nl, Batch& b, const std::string& table, const Family& f,
                    std::span<const Element* const> elems) {
    size_t i = 0;
    while (i < elems.size()) {
        if (!b.has_room()) {
            if (Status st = commit(nl, b, element_errors(table)); !st) {
                return st;
            }
        }
        auto s = make_set(table, f);
        const size_t first = i;
        for (size_t budget = 0; i < elems.size() && budget < kElemMsgBudget; ++i) {
            const Element& el = *elems[i];
            auto e = make_elem(el.addr);
            if (el.timeout_ms != 0) {
                nftnl_set_elem_set_u64(e.get(), NFTNL_SET_ELEM_TIMEOUT, el.timeout_ms);
            }
            set_comment(e.get(), el.comment);
            budget += kElemOverhead + std::min(el.comment.size(), kCommentMax);
            nftnl_set_elem_add(s.get(), e.release());
        }
        // No NLM_F_EXCL: an element already present is not an error (nft.h: its expiry).
        nlmsghdr* nlh = b.next(NFT_MSG_NEWSETELEM, NLM_F_CREATE);
        nftnl_set_elems_nlmsg_build_payload(nlh, s.get());
        const size_t n = i - first;
        b.done(nlh, "adding " + std::to_string(n) + (n == 1 ? " element" : " elements") +
                        " to set " + f.set);
    }
    return Ok{};
}

// ---------------------------------------------------------------------------------------
// Reading back

const char* hook_name(uint32_t hook) {
    static constexpr std::array<const char*, 6> kNames{"prerouting", "input",       "forward",
                                                       "output",     "postrouting", "ingress"};
    return hook < kNames.size() ? kNames[hook] : "unknown";
}

std::string hex(const void* data, uint32_t len) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    const auto* p = static_cast<const uint8_t*>(data);
    for (uint32_t i = 0; i < len; ++i) {
        out += kDigits[p[i] >> 4];
        out += kDigits[p[i] & 0xf];
    }
    return out;
}

// The attributes of an expression that decide what the rule does (not counter values,
// not batch-local ids), in a fixed text form: two rules behave alike iff these match.
std::string describe(const nftnl_expr* e) {
    std::string name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
    auto u32 = [e](uint16_t attr) { return std::to_string(nftnl_expr_get_u32(e, attr)); };
    auto data = [e](uint16_t attr) {
        uint32_t len = 0;
        const void* d = nftnl_expr_get(e, attr, &len);
        return d == nullptr ? std::string("-") : hex(d, len);
    };
    if (name == "meta") {
        return "meta key " + u32(NFTNL_EXPR_META_KEY) + " dreg " + u32(NFTNL_EXPR_META_DREG) +
               " sreg " + u32(NFTNL_EXPR_META_SREG);
    }
    if (name == "cmp") {
        return "cmp sreg " + u32(NFTNL_EXPR_CMP_SREG) + " op " + u32(NFTNL_EXPR_CMP_OP) + " data " +
               data(NFTNL_EXPR_CMP_DATA);
    }
    if (name == "payload") {
        return "payload base " + u32(NFTNL_EXPR_PAYLOAD_BASE) + " offset " +
               u32(NFTNL_EXPR_PAYLOAD_OFFSET) + " len " + u32(NFTNL_EXPR_PAYLOAD_LEN) + " dreg " +
               u32(NFTNL_EXPR_PAYLOAD_DREG) + " sreg " + u32(NFTNL_EXPR_PAYLOAD_SREG);
    }
    if (name == "lookup") {
        const char* set = nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET);
        return std::string("lookup set ") + (set != nullptr ? set : "-") + " sreg " +
               u32(NFTNL_EXPR_LOOKUP_SREG) + " dreg " + u32(NFTNL_EXPR_LOOKUP_DREG) + " flags " +
               u32(NFTNL_EXPR_LOOKUP_FLAGS);
    }
    if (name == "immediate") {
        const char* chain = nftnl_expr_get_str(e, NFTNL_EXPR_IMM_CHAIN);
        return "immediate dreg " + u32(NFTNL_EXPR_IMM_DREG) + " verdict " +
               u32(NFTNL_EXPR_IMM_VERDICT) + " chain " + (chain != nullptr ? chain : "-") +
               " data " + data(NFTNL_EXPR_IMM_DATA);
    }
    return name;  // counter (its values change), or something we never add
}

std::string describe(const nftnl_rule* r) {
    std::string out;
    auto it = own(nftnl_expr_iter_create(r));
    for (nftnl_expr* e = nftnl_expr_iter_next(it.get()); e != nullptr;
         e = nftnl_expr_iter_next(it.get())) {
        out += out.empty() ? "" : "; ";
        out += describe(e);
    }
    return out;
}

// Packets and bytes of the rule's counter expression.
std::pair<uint64_t, uint64_t> counter_of(const nftnl_rule* r) {
    auto it = own(nftnl_expr_iter_create(r));
    for (nftnl_expr* e = nftnl_expr_iter_next(it.get()); e != nullptr;
         e = nftnl_expr_iter_next(it.get())) {
        if (std::strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), "counter") == 0) {
            return {nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS),
                    nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES)};
        }
    }
    return {0, 0};
}

// What each expected rule looks like in describe() form.
const std::array<std::string, 2>& expected_rules() {
    static const std::array<std::string, 2> rules{describe(make_rule("t", kFamilies[0]).get()),
                                                  describe(make_rule("t", kFamilies[1]).get())};
    return rules;
}

// All rules of the chain, parsed.
int dump_rules(mnl_socket* nl, uint32_t& seq, const std::string& table,
               std::vector<NftnlPtr<nftnl_rule>>& out) {
    auto filter = own(nftnl_rule_alloc());
    nftnl_rule_set_str(filter.get(), NFTNL_RULE_TABLE, table.c_str());
    nftnl_rule_set_str(filter.get(), NFTNL_RULE_CHAIN, kChain);
    auto build = [&](char* buf, uint32_t s) {
        nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, kFamily, NLM_F_DUMP, s);
        nftnl_rule_nlmsg_build_payload(nlh, filter.get());
        return nlh;
    };
    auto on_msg = [&](const nlmsghdr* nlh) {
        auto r = own(nftnl_rule_alloc());
        if (nftnl_rule_nlmsg_parse(nlh, r.get()) < 0) {
            return false;
        }
        // Older kernels ignore the dump filter: keep only this chain's rules.
        const char* t = nftnl_rule_get_str(r.get(), NFTNL_RULE_TABLE);
        const char* c = nftnl_rule_get_str(r.get(), NFTNL_RULE_CHAIN);
        if (t != nullptr && c != nullptr && table == t && std::strcmp(c, kChain) == 0) {
            out.push_back(std::move(r));
        }
        return true;
    };
    return query_retry(nl, seq, build, on_msg, [&] { out.clear(); });
}

int udata_comment_cb(const nftnl_udata* attr, void* data) {
    if (nftnl_udata_type(attr) == NFTNL_UDATA_SET_ELEM_COMMENT) {
        const auto* text = static_cast<const char*>(nftnl_udata_get(attr));
        const uint8_t len = nftnl_udata_len(attr);
        *static_cast<std::string*>(data) = std::string(text, strnlen(text, len));
    }
    return 0;
}

// One element as listed; false when its key is not an address (not one of ours).
bool to_element(nftnl_set_elem* e, Element& out) {
    uint32_t klen = 0;
    const auto* key = static_cast<const uint8_t*>(nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &klen));
    if (key == nullptr || (klen != 4 && klen != 16)) {
        return false;
    }
    out.addr = klen == 4 ? IpAddr::from_v4(key) : IpAddr::from_v6(key);
    if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_TIMEOUT)) {
        out.timeout_ms = nftnl_set_elem_get_u64(e, NFTNL_SET_ELEM_TIMEOUT);
    }
    if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_EXPIRATION)) {
        out.expires_ms = nftnl_set_elem_get_u64(e, NFTNL_SET_ELEM_EXPIRATION);
    }
    uint32_t ulen = 0;
    const void* ud = nftnl_set_elem_get(e, NFTNL_SET_ELEM_USERDATA, &ulen);
    if (ud != nullptr) {
        nftnl_udata_parse(ud, ulen, udata_comment_cb, &out.comment);
    }
    return true;
}

// Does the list name an address twice?
bool has_duplicates(std::span<const Element> elems) {
    std::vector<IpAddr> addrs;
    addrs.reserve(elems.size());
    for (const Element& e : elems) {
        addrs.push_back(e.addr);
    }
    std::sort(addrs.begin(), addrs.end());
    return std::adjacent_find(addrs.begin(), addrs.end()) != addrs.end();
}

// One GETSETELEM dump of a set, appended to out. Returns 0 or errno (ENOENT: no such set).
int dump_elements_once(mnl_socket* nl, uint32_t& seq, const std::string& table, const Family& f,
                       std::vector<Element>& out) {
    auto s = make_set(table, f);
    const size_t base = out.size();
    auto build = [&](char* buf, uint32_t sq) {
        nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, kFamily, NLM_F_DUMP, sq);
        nftnl_set_elems_nlmsg_build_payload(nlh, s.get());
        return nlh;
    };
    auto on_msg = [&](const nlmsghdr* nlh) {
        auto got = own(nftnl_set_alloc());
        if (nftnl_set_elems_nlmsg_parse(nlh, got.get()) < 0) {
            return false;
        }
        auto it = own(nftnl_set_elems_iter_create(got.get()));
        for (nftnl_set_elem* e = nftnl_set_elems_iter_next(it.get()); e != nullptr;
             e = nftnl_set_elems_iter_next(it.get())) {
            Element el;
            if (to_element(e, el)) {
                out.push_back(std::move(el));
            }
        }
        return true;
    };
    return query_retry(nl, seq, build, on_msg, [&] { out.resize(base); });
}

// The elements of one set, appended to out. Returns 0 or errno: ENOENT (no such set), EBUSY
// (no consistent listing within a few seconds).
//
// The kernel continues a set dump by skipping as many elements as it already sent, and its
// hash sets resize in the background after large inserts or removals. A dump that runs into
// a resize repeats some elements and misses as many others (seen with 100k elements: ~10%),
// without flagging the dump as interrupted. Repeated addresses give it away: dump again,
// once the resize is over.
int dump_elements(mnl_socket* nl, uint32_t& seq, const std::string& table, const Family& f,
                  std::vector<Element>& out) {
    const size_t base = out.size();
    for (int attempt = 1; attempt <= 12; ++attempt) {
        out.resize(base);
        if (const int err = dump_elements_once(nl, seq, table, f, out); err != 0) {
            return err;
        }
        if (!has_duplicates(std::span<const Element>(out).subspan(base))) {
            return 0;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50 * attempt));
    }
    out.resize(base);
    return EBUSY;
}

// Error for a failed listing of set `set`.
Error list_error(const char* set, int err) {
    if (err == EBUSY) {
        return make_error(ErrorCode::Io, std::string("nftables: set ") + set +
                                             " kept changing while being listed (try again)");
    }
    return os_error(std::string("listing set ") + set, err);
}

// One object by name (GETTABLE/GETSET/GETCHAIN without NLM_F_DUMP): payload() names it,
// parse() reads the answer. Returns 0 or errno (ENOENT: no such object).
int get_object(mnl_socket* nl, uint32_t& seq, uint16_t type,
               const std::function<void(nlmsghdr*)>& payload, const MsgFn& parse) {
    auto build = [&](char* buf, uint32_t s) {
        nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf, type, kFamily, 0, s);
        payload(nlh);
        return nlh;
    };
    return query_retry(nl, seq, build, parse, [] {});
}

// What is wrong with a set as found, "" when nothing.
std::string set_problem(const nftnl_set* s, const Family& f) {
    const uint32_t type = nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE);
    const uint32_t len = nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN);
    const uint32_t flags = nftnl_set_get_u32(s, NFTNL_SET_FLAGS);
    // These change what the set is (a map, ranges, ...) or forbid updates.
    constexpr uint32_t kForbidden =
        NFT_SET_MAP | NFT_SET_INTERVAL | NFT_SET_OBJECT | NFT_SET_CONSTANT | NFT_SET_CONCAT;
    if (type != f.key_type || len != f.key_len) {
        return std::string("set ") + f.set + " changed (key type " + std::to_string(type) +
               " length " + std::to_string(len) + ", expected " + std::to_string(f.key_type) +
               " length " + std::to_string(f.key_len) + ")";
    }
    if ((flags & NFT_SET_TIMEOUT) == 0 || (flags & kForbidden) != 0) {
        std::array<char, 16> hexbuf{};
        std::to_chars(hexbuf.data(), hexbuf.data() + hexbuf.size(), flags, 16);
        return std::string("set ") + f.set + " changed (flags 0x" + hexbuf.data() +
               ", expected timeout)";
    }
    return "";
}

// What is wrong with the chain as found, "" when nothing.
std::string chain_problem(const nftnl_chain* c) {
    const std::string what = std::string("chain ") + kChain + " changed (";
    if (!nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM)) {
        return what + "not a base chain)";
    }
    const char* type = nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE);
    if (type == nullptr || std::strcmp(type, kChainType) != 0) {
        return what + "type " + (type != nullptr ? type : "none") + ")";
    }
    const uint32_t hook = nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM);
    if (hook != NF_INET_PRE_ROUTING) {
        return what + "hook " + hook_name(hook) + ")";
    }
    const int32_t prio = nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO);
    if (prio != kPriority) {
        return what + "priority " + std::to_string(prio) + ")";
    }
    const uint32_t policy = nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY);
    if (policy != NF_ACCEPT) {
        return what + "policy " + (policy == NF_DROP ? "drop" : std::to_string(policy)) + ")";
    }
    return "";
}

// What is wrong with the chain's rules, "" when nothing.
std::string rules_problem(const std::vector<NftnlPtr<nftnl_rule>>& rules) {
    if (rules.size() != kFamilies.size()) {
        return std::string("chain ") + kChain + " has " + std::to_string(rules.size()) +
               " rules, expected " + std::to_string(kFamilies.size());
    }
    for (size_t i = 0; i < kFamilies.size(); ++i) {
        const bool found = std::any_of(rules.begin(), rules.end(), [i](const auto& r) {
            return describe(r.get()) == expected_rules()[i];
        });
        if (!found) {
            return std::string("chain ") + kChain + " changed (rule `" + kFamilies[i].rule_text +
                   "` missing or modified)";
        }
    }
    return "";
}

State problem(std::string text) {
    return State{false, std::move(text)};
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Client

Client::Client(int fd, void* nl, std::string table) : table_(std::move(table)), nl_(nl), fd_(fd) {
    // Sequence numbers only need to differ between requests; start somewhere arbitrary so
    // answers meant for an earlier socket user never match.
    seq_ = static_cast<uint32_t>(time(nullptr));
}

Client::~Client() {
    if (nl_ != nullptr) {
        mnl_socket_close(static_cast<mnl_socket*>(nl_));
    }
}

namespace {

// Asks for a socket buffer size with the *FORCE option (CAP_NET_ADMIN: beyond the sysctl
// maximum), else the plain one; returns what the kernel granted.
size_t raise_buffer(int fd, int force_opt, int opt, int bytes) {
    if (setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof(bytes)) != 0) {
        setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof(bytes));  // capped: still usable
    }
    int granted = 0;
    socklen_t len = sizeof(granted);
    if (getsockopt(fd, SOL_SOCKET, opt, &granted, &len) != 0 || granted < 0) {
        return 0;
    }
    return static_cast<size_t>(granted);
}

// The socket options every request relies on.
Status configure_socket(mnl_socket* nl, size_t& batch_bytes, size_t& batch_msgs) {
    const int fd = mnl_socket_get_fd(nl);
    const size_t sndbuf = raise_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, kSendBuffer);
    const size_t rcvbuf = raise_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, kRecvBuffer);
    // netlink refuses a message above sk_sndbuf - 32 with EMSGSIZE.
    batch_bytes = sndbuf > 1024 ? std::min(kMaxBatchBytes, sndbuf - 1024) : 0;
    batch_msgs = std::clamp<size_t>(rcvbuf / kAckCost, 16, 8192);
    if (batch_bytes < 2 * kMaxMsgBytes) {
        return make_error(ErrorCode::Io, "nftables: netlink send buffer too small (" +
                                             std::to_string(sndbuf) + " bytes)");
    }
    // An error answer quotes only the failed message's header, not the whole message
    // (which could be a 32 KiB element list).
    int one = 1;
    setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
    timeval tv{kReplyTimeoutSec, 0};
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0) {
        return os_error("setting the receive timeout", errno);
    }
    return Ok{};
}

// A first request that tells missing nf_tables or missing privileges apart from the rest.
Status probe(mnl_socket* nl, uint32_t& seq) {
    auto build = [](char* buf, uint32_t s) {
        return nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, kFamily, NLM_F_DUMP, s);
    };
    const int err = query_retry(
        nl, seq, build, [](const nlmsghdr*) { return true; }, [] {});
    if (err == 0) {
        return Ok{};
    }
    // nfnetlink answers EINVAL when no nf_tables subsystem is registered (and it cannot be
    // loaded); this request is otherwise always valid.
    if (err == EPROTONOSUPPORT || err == ENOENT || err == EAFNOSUPPORT || err == EOPNOTSUPP ||
        err == EINVAL) {
        return make_error(ErrorCode::Io, kNoNfTablesText);
    }
    return os_error("listing tables", err);
}

}  // namespace

Result<std::unique_ptr<Client>> Client::open(std::string table) {
    mnl_socket* nl = mnl_socket_open(NETLINK_NETFILTER);
    if (nl == nullptr) {
        const int err = errno;
        if (err == EPROTONOSUPPORT || err == EAFNOSUPPORT) {
            return make_error(ErrorCode::Io, kNoNfTablesText);
        }
        return os_error("opening a netlink socket", err);
    }
    // Owned from here: the destructor closes it on every error path.
    std::unique_ptr<Client> c(new Client(mnl_socket_get_fd(nl), nl, std::move(table)));
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        return os_error("binding the netlink socket", errno);
    }
    c->portid_ = mnl_socket_get_portid(nl);
    if (Status st = configure_socket(nl, c->batch_bytes_, c->batch_msgs_); !st) {
        return st.error();
    }
    if (Status st = probe(nl, c->seq_); !st) {
        return st.error();
    }
    return c;
}

Result<State> Client::check() {
    bool exists = false;
    return inspect(exists);
}

int Client::get_table(nftnl_table* out) {
    auto tkey = make_table(table_);
    return get_object(
        static_cast<mnl_socket*>(nl_), seq_, NFT_MSG_GETTABLE,
        [&](nlmsghdr* nlh) { nftnl_table_nlmsg_build_payload(nlh, tkey.get()); },
        [&](const nlmsghdr* nlh) { return nftnl_table_nlmsg_parse(nlh, out) >= 0; });
}

Result<bool> Client::table_exists() {
    auto t = own(nftnl_table_alloc());
    const int err = get_table(t.get());
    if (err == ENOENT) {
        return false;
    }
    if (err != 0) {
        return os_error("reading table inet " + table_, err);
    }
    return true;
}

Result<State> Client::inspect(bool& table_exists) {
    auto* nl = static_cast<mnl_socket*>(nl_);
    table_exists = false;

    auto t = own(nftnl_table_alloc());
    int err = get_table(t.get());
    if (err == ENOENT) {
        return problem("table inet " + table_ + " missing");
    }
    if (err != 0) {
        return os_error("reading table inet " + table_, err);
    }
    table_exists = true;
    // An object found missing after the table was read: the table may have been deleted in
    // between (`nft delete table` while this runs). Said as what it is, the table missing,
    // so that the cause reported is the one the operator acted on.
    auto missing = [&](std::string what) -> Result<State> {
        auto again = own(nftnl_table_alloc());
        if (get_table(again.get()) == ENOENT) {
            table_exists = false;
            return problem("table inet " + table_ + " missing");
        }
        return problem(std::move(what));
    };
    if ((nftnl_table_get_u32(t.get(), NFTNL_TABLE_FLAGS) & NFT_TABLE_F_DORMANT) != 0) {
        return problem("table inet " + table_ + " changed (dormant)");
    }

    for (const Family& f : kFamilies) {
        auto key = make_set(table_, f);
        auto s = own(nftnl_set_alloc());
        err = get_object(
            nl, seq_, NFT_MSG_GETSET,
            [&](nlmsghdr* nlh) { nftnl_set_nlmsg_build_payload(nlh, key.get()); },
            [&](const nlmsghdr* nlh) { return nftnl_set_nlmsg_parse(nlh, s.get()) >= 0; });
        if (err == ENOENT) {
            return missing(std::string("set ") + f.set + " missing");
        }
        if (err != 0) {
            return os_error(std::string("reading set ") + f.set, err);
        }
        if (std::string p = set_problem(s.get(), f); !p.empty()) {
            return problem(std::move(p));
        }
    }

    auto ckey = make_chain(table_);
    auto c = own(nftnl_chain_alloc());
    err = get_object(
        nl, seq_, NFT_MSG_GETCHAIN,
        [&](nlmsghdr* nlh) { nftnl_chain_nlmsg_build_payload(nlh, ckey.get()); },
        [&](const nlmsghdr* nlh) { return nftnl_chain_nlmsg_parse(nlh, c.get()) >= 0; });
    if (err == ENOENT) {
        return missing(std::string("chain ") + kChain + " missing");
    }
    if (err != 0) {
        return os_error(std::string("reading chain ") + kChain, err);
    }
    if (std::string p = chain_problem(c.get()); !p.empty()) {
        return problem(std::move(p));
    }

    std::vector<NftnlPtr<nftnl_rule>> rules;
    if (err = dump_rules(nl, seq_, table_, rules); err != 0) {
        return os_error(std::string("reading the rules of chain ") + kChain, err);
    }
    if (std::string p = rules_problem(rules); !p.empty()) {
        return problem(std::move(p));
    }
    return State{true, ""};
}

Result<std::vector<Element>> Client::list_existing() {
    std::vector<Element> out;
    for (const Family& f : kFamilies) {
        const int err = dump_elements(static_cast<mnl_socket*>(nl_), seq_, table_, f, out);
        if (err != 0 && err != ENOENT) {
            return list_error(f.set, err);
        }
    }
    return out;
}

Status Client::ensure() {
    bool exists = false;
    Result<State> st = inspect(exists);
    if (!st) {
        return st.error();
    }
    if (st->ok) {
        return Ok{};
    }
    // Keep what was blocked: it goes back with its remaining time.
    std::vector<Element> keep;
    if (exists) {
        Result<std::vector<Element>> old = list_existing();
        if (!old) {
            return old.error();
        }
        for (Element& el : *old) {
            if (el.timeout_ms != 0 && el.expires_ms == 0) {
                continue;  // expiring right now
            }
            el.timeout_ms = el.expires_ms;
            keep.push_back(std::move(el));
        }
    }

    // Delete and create in one transaction (when the elements fit too, the whole repair is
    // atomic): the hook is never missing in between.
    auto* nl = static_cast<mnl_socket*>(nl_);
    Batch b(seq_, batch_bytes_, batch_msgs_);
    if (exists) {
        auto t = make_table(table_);
        nlmsghdr* nlh = b.next(NFT_MSG_DELTABLE, 0);
        nftnl_table_nlmsg_build_payload(nlh, t.get());
        b.done(nlh, "deleting table inet " + table_);
    }
    add_objects(b, table_);
    for (const Family& f : kFamilies) {
        std::vector<const Element*> of_family;
        for (const Element& el : keep) {
            if (&family_of(el.addr) == &f) {
                of_family.push_back(&el);
            }
        }
        if (Status s = add_elements(nl, b, table_, f, of_family); !s) {
            return s;
        }
    }
    return commit(nl, b);
}

Status Client::add(std::span<const Element> elems) {
    auto* nl = static_cast<mnl_socket*>(nl_);
    Batch b(seq_, batch_bytes_, batch_msgs_);
    for (const Family& f : kFamilies) {
        std::vector<const Element*> of_family;
        for (const Element& el : elems) {
            if (&family_of(el.addr) == &f) {
                of_family.push_back(&el);
            }
        }
        if (Status st = add_elements(nl, b, table_, f, of_family); !st) {
            return st;
        }
    }
    return commit(nl, b, element_errors(table_));
}

Status Client::remove(std::span<const dataplane::IpAddr> addrs) {
    auto* nl = static_cast<mnl_socket*>(nl_);
    Batch b(seq_, batch_bytes_, batch_msgs_);
    // ENOENT on a DELSETELEM does not say which element was absent, so each address gets its
    // own message, whose answer names it.
    auto on_error = [](const std::string& label, int err) -> std::optional<Error> {
        if (err == ENOENT) {
            return make_error(ErrorCode::BadInput,
                              "nftables: cannot remove " + label + ": the address is not blocked");
        }
        return os_error("removing " + label, err);
    };
    for (const IpAddr& a : addrs) {
        if (!b.has_room()) {
            if (Status st = commit(nl, b, on_error); !st) {
                return st;
            }
        }
        const Family& f = family_of(a);
        auto s = make_set(table_, f);
        nftnl_set_elem_add(s.get(), make_elem(a).release());
        nlmsghdr* nlh = b.next(NFT_MSG_DELSETELEM, 0);
        nftnl_set_elems_nlmsg_build_payload(nlh, s.get());
        b.done(nlh, addr_text(a) + " from set " + f.set);
    }
    return commit(nl, b, on_error);
}

Result<std::vector<Element>> Client::list() {
    std::vector<Element> out;
    for (const Family& f : kFamilies) {
        const int err = dump_elements(static_cast<mnl_socket*>(nl_), seq_, table_, f, out);
        if (err == ENOENT) {
            return make_error(ErrorCode::Io,
                              std::string("nftables: set ") + f.set + " missing in table inet " +
                                  table_ +
                                  ": the table is damaged (a running sensor with IPS repairs it; "
                                  "`vigil-sensor blocks add` re-creates it)");
        }
        if (err != 0) {
            return list_error(f.set, err);
        }
    }
    return out;
}

Result<RuleCounters> Client::counters() {
    std::vector<NftnlPtr<nftnl_rule>> rules;
    if (int err = dump_rules(static_cast<mnl_socket*>(nl_), seq_, table_, rules); err != 0) {
        return os_error(std::string("reading the rules of chain ") + kChain, err);
    }
    RuleCounters out;
    std::array<bool, 2> found{};
    for (const auto& r : rules) {
        const std::string d = describe(r.get());
        for (size_t i = 0; i < kFamilies.size(); ++i) {
            if (d != expected_rules()[i]) {
                continue;
            }
            found[i] = true;
            const auto [packets, bytes] = counter_of(r.get());
            (i == 0 ? out.packets4 : out.packets6) += packets;
            (i == 0 ? out.bytes4 : out.bytes6) += bytes;
        }
    }
    for (size_t i = 0; i < kFamilies.size(); ++i) {
        if (!found[i]) {
            return make_error(ErrorCode::Io, std::string("nftables: rule `") +
                                                 kFamilies[i].rule_text +
                                                 "` not found in table inet " + table_);
        }
    }
    return out;
}

Status Client::remove_table() {
    auto* nl = static_cast<mnl_socket*>(nl_);
    Batch b(seq_, batch_bytes_, batch_msgs_);
    auto t = make_table(table_);
    nlmsghdr* nlh = b.next(NFT_MSG_DELTABLE, 0);
    nftnl_table_nlmsg_build_payload(nlh, t.get());
    b.done(nlh, "deleting table inet " + table_);
    return commit(nl, b, [](const std::string& label, int err) -> std::optional<Error> {
        if (err == ENOENT) {
            return std::nullopt;  // already absent
        }
        return os_error(label, err);
    });
}

// ---------------------------------------------------------------------------------------
// Allowlist

namespace {

IpAddr masked(IpAddr a, unsigned prefix) {
    for (unsigned bit = prefix; bit < 128; ++bit) {
        a.b[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
    }
    return a;
}

}  // namespace

Status Allowlist::add(const std::string& cidr) {
    const std::string_view text = trim(cidr);
    const size_t slash = text.find('/');
    const std::string host(text.substr(0, slash));
    auto bad = [&cidr](const std::string& why) {
        return make_error(ErrorCode::BadInput, "allowlist entry \"" + cidr + "\": " + why);
    };

    Net net;
    unsigned bits = 0;    // of the address family
    unsigned offset = 0;  // where it starts in the 128-bit form (IPv4 is v4-mapped)
    std::array<uint8_t, 16> raw{};
    if (inet_pton(AF_INET, host.c_str(), raw.data()) == 1) {
        net.addr = IpAddr::from_v4(raw.data());
        bits = 32;
        offset = 96;
    } else if (inet_pton(AF_INET6, host.c_str(), raw.data()) == 1) {
        net.addr = IpAddr::from_v6(raw.data());
        bits = 128;
    } else {
        return bad("not an IPv4 or IPv6 address");
    }

    unsigned prefix = bits;
    if (slash != std::string_view::npos) {
        const std::string_view p = text.substr(slash + 1);
        const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
        if (p.empty() || ec != std::errc() || end != p.data() + p.size() || prefix > bits) {
            return bad("prefix length must be 0-" + std::to_string(bits));
        }
    }
    net.prefix = static_cast<uint8_t>(offset + prefix);
    net.addr = masked(net.addr, net.prefix);
    nets_.push_back(net);
    return Ok{};
}

bool Allowlist::contains(const dataplane::IpAddr& a) const {
    return std::any_of(nets_.begin(), nets_.end(), [&a](const Net& n) {
        // An IPv6 network shorter than /96 (::/0, 2000::/3) is about IPv6: it does not cover
        // the v4-mapped form IPv4 addresses are kept in.
        if (n.prefix < 96 && a.is_v4()) {
            return false;
        }
        return a.in_prefix(n.addr, n.prefix);
    });
}

}  // namespace vigil::sensor::nft
