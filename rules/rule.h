#pragma once
// The parsed form of a Suricata 7 rule (the AST): produced by the parser (rule_parser.h),
// consumed by the compiler (ruleset.h). Variables are already resolved: address and port
// expressions are normalised interval sets.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "dataplane/app/buffers.h"
#include "dataplane/packet.h"
#include "rules/transform.h"

namespace vigil::rules {

enum class Action : uint8_t { Alert, Drop, Reject, Pass };

// Transport a rule applies to. App-layer protocol names (http, dns, tls, ...) map to their
// transport (TCP for http/tls, both TCP and UDP = Ip for dns) and bind the rule to the parsed
// protocol through Rule::app_bind.
// `icmp` covers ICMPv4 and ICMPv6 (as in Suricata); `icmpv4` / `icmpv6` one family each.
enum class Proto : uint8_t { Ip, Tcp, Udp, Icmp, Icmpv4, Icmpv6 };

// A set of addresses as sorted, disjoint, inclusive intervals over the 128-bit space where
// IPv4 is IPv4-mapped (::ffff:0:0/96). `any` is the full space.
struct IpRange {
    dataplane::IpAddr lo;
    dataplane::IpAddr hi;
};
struct IpSet {
    std::vector<IpRange> ranges;
    bool contains(const dataplane::IpAddr& a) const;
    bool is_any() const;
    static IpSet any();
};

struct PortRange {
    uint16_t lo = 0;
    uint16_t hi = 65535;
};
struct PortSet {
    std::vector<PortRange> ranges;  // sorted, disjoint
    bool contains(uint16_t p) const;
    bool is_any() const;
    static PortSet any();
};

// A number that is either a literal or the value of an earlier byte_extract in the same
// rule (var >= 0 is the index into Rule::byte_vars).
struct Operand {
    int64_t value = 0;
    int var = -1;
    bool is_var() const { return var >= 0; }
};

struct Content {
    std::string bytes;  // decoded (hex and escapes resolved)
    bool negated = false;
    bool nocase = false;
    bool rawbytes = false;
    bool startswith = false;
    bool endswith = false;
    std::optional<Operand> offset;
    std::optional<Operand> depth;
    std::optional<Operand> distance;
    std::optional<Operand> within;
    bool fast_pattern = false;  // explicitly chosen
    bool fast_pattern_only = false;
    std::optional<uint16_t> fp_chop_offset;  // fast_pattern:<offset>,<length>
    std::optional<uint16_t> fp_chop_len;
    bool relative() const { return distance.has_value() || within.has_value(); }
};

struct Pcre {
    std::string pattern;  // between the slashes, unescaped as written
    std::string flags;    // flags after the closing slash, as written (e.g. "smiR")
    bool negated = false;
    // Decoded flags.
    bool relative = false;        // R
    bool caseless = false;        // i
    bool dotall = false;          // s
    bool multiline = false;       // m
    bool extended = false;        // x
    bool anchored = false;        // A
    bool dollar_endonly = false;  // E
    bool ungreedy = false;        // G
    bool rawbytes = false;        // B
};

enum class Endian : uint8_t { Big, Little };
enum class NumBase : uint8_t { None, Hex, Dec, Oct };  // None = binary bytes

// byte_test:<n>,[!]<op>,<value>,<offset>[,relative][,<endian>][,string,<base>][,dce][,bitmask X]
struct ByteTest {
    uint8_t nbytes = 1;
    char op = '=';  // one of < > = & ^ and 'l' (<=), 'g' (>=)
    bool negated = false;
    Operand value;
    Operand offset;
    bool relative = false;
    Endian endian = Endian::Big;
    NumBase base = NumBase::None;
    bool dce = false;
    std::optional<uint64_t> bitmask;
};

// byte_jump:<n>,<offset>[,relative][,multiplier N][,<endian>][,string,<base>][,align]
//           [,from_beginning|from_end][,post_offset N][,dce][,bitmask X]
struct ByteJump {
    uint8_t nbytes = 1;
    Operand offset;
    bool relative = false;
    uint32_t multiplier = 1;
    Endian endian = Endian::Big;
    NumBase base = NumBase::None;
    bool align = false;
    bool from_beginning = false;
    bool from_end = false;
    int32_t post_offset = 0;
    bool dce = false;
    std::optional<uint64_t> bitmask;
};

// byte_extract:<n>,<offset>,<name>[,relative][,multiplier N][,<endian>][,string,<base>]
//              [,align N][,dce][,bitmask X]
struct ByteExtract {
    uint8_t nbytes = 1;
    int32_t offset = 0;
    int var = 0;  // index into Rule::byte_vars
    bool relative = false;
    uint32_t multiplier = 1;
    Endian endian = Endian::Big;
    NumBase base = NumBase::None;
    uint8_t align = 0;
    bool dce = false;
    std::optional<uint64_t> bitmask;
};

// byte_math:bytes <n|var>,offset <n|var>,oper <+|-|*|/|<<|>>>,rvalue <n|var>,result <name>
//           [,relative][,endian big|little][,string hex|dec|oct][,dce][,bitmask <m>]
// Reads a number like byte_extract, combines it with rvalue, applies the bitmask (and shifts
// right past its trailing zeros) and stores the result in a byte_extract variable. The cursor
// moves past the bytes read, as in Suricata.
struct ByteMath {
    Operand nbytes;
    Operand offset;
    char oper = '+';  // + - * / and '<' (<<), '>' (>>)
    Operand rvalue;
    int var = 0;  // index into Rule::byte_vars
    bool relative = false;
    Endian endian = Endian::Big;
    NumBase base = NumBase::None;
    bool dce = false;
    std::optional<uint64_t> bitmask;
};

// isdataat:[!]<n>[,relative][,rawbytes]
struct IsDataAt {
    Operand size;
    bool negated = false;
    bool relative = false;
    bool rawbytes = false;
};

// base64_decode[:bytes N][,offset N][,relative]: decodes base64 (RFC 4648, up to the first
// character outside the alphabet) at the cursor (relative) or the buffer start, plus offset;
// matches when at least one byte decodes. The cursor does not move.
struct Base64Decode {
    uint32_t bytes = 0;  // base64 characters to decode at most; 0: Suricata's 65535
    uint32_t offset = 0;
    bool relative = false;
};

// base64_data: the ops after it in the same program inspect the bytes the last
// base64_decode produced (Suricata's base64 data buffer), from a cursor at 0.
struct Base64Data {
    bool relative = false;  // never: the decoded buffer starts a new cursor
};

// entropy:[bytes <n>][,offset <n>],value <op><x>: the Shannon entropy (bits per byte, 0 to 8)
// of the buffer from `offset` (absolute), over `bytes` of it (0: to the end), compared like
// Suricata's float keywords: <, <=, >, >=, =, !=, x-y (exclusive), !x-y.
struct Entropy {
    uint32_t bytes = 0;
    uint32_t offset = 0;
    enum class Op : uint8_t { Lt, Le, Gt, Ge, Eq, Ne, Range, NotRange };
    Op op = Op::Gt;
    double lo = 0;
    double hi = 0;
    bool relative = false;  // never: entropy reads from the buffer's start
    bool matches(double e) const;
};

// dataset:<cmd>,<name>[,type <t>][,load <f>][,save <f>|state <f>][,memcap <n>][,hashsize <n>]:
// looks the whole (transformed) buffer up in a named set (rules/dataset.h), found or created
// when the rule is compiled. The cursor does not move.
struct DatasetMatch {
    enum class Cmd : uint8_t { IsSet, IsNotSet, Set, Unset };
    Cmd cmd = Cmd::IsSet;
    std::string name;
    std::string type;  // Suricata's type name ("ip" for ipv6 too); "" when not given
    std::string load;  // as written; with `state` the same file as save
    std::string save;
    bool state = false;
    uint64_t memcap = 0;    // 0: the default
    uint32_t hashsize = 0;  // 0: the default
    bool relative = false;  // never
};

// datarep:<name>,<op>,<value>[,load <f>][,type <t>][,memcap <n>][,hashsize <n>]: the buffer is
// in the set and its reputation compares with value.
struct DatarepMatch {
    enum class Op : uint8_t { Gt, Lt, Ge, Le, Eq };
    std::string name;
    Op op = Op::Gt;
    uint16_t value = 0;
    std::string type;
    std::string load;
    uint64_t memcap = 0;
    uint32_t hashsize = 0;
    bool relative = false;  // never
};

// asn1:[bitstring_overflow][,double_overflow][,oversize_length <n>][,absolute_offset <n>]
//      [,relative_offset <n>]: a BER object of the packet payload trips one of the checks
// (rules/asn1.h). relative_offset counts from the end of the previous match.
struct Asn1 {
    bool bitstring_overflow = false;
    bool double_overflow = false;
    std::optional<uint32_t> oversize_length;
    std::optional<uint16_t> absolute_offset;
    std::optional<int32_t> relative_offset;
    bool relative = false;  // the offset rule is its own (relative_offset), never a chain
};

// The payload program: evaluated in rule order with a moving cursor (Suricata semantics).
using PayloadOp = std::variant<Content, Pcre, ByteTest, ByteJump, ByteExtract, ByteMath, IsDataAt,
                               Base64Decode, Base64Data, Entropy, DatasetMatch, DatarepMatch, Asn1>;

// Numeric comparison used by dsize, ttl, itype, icode, ip_proto.
struct IntMatch {
    enum class Op : uint8_t { Eq, Ne, Lt, Le, Gt, Ge, Range };  // Range: lo < x < hi
    Op op = Op::Eq;
    uint64_t lo = 0;
    uint64_t hi = 0;
    bool matches(uint64_t x) const;
};

struct FlowOpt {
    bool established = false;
    bool not_established = false;
    bool stateless = false;
    bool to_server = false;  // to_server / from_client
    bool to_client = false;  // to_client / from_server
    bool only_stream = false;
    bool no_stream = false;
    bool only_frag = false;
    bool no_frag = false;
};

// flags:[modifier]<flags>[,<mask>]   (modifier: + all of, * any of, ! none of; none: exactly)
struct TcpFlagsMatch {
    uint8_t flags = 0;  // packet flags that must / may be set (see modifier)
    uint8_t mask = 0;   // flags to ignore
    char modifier = 0;  // 0, '+', '*', '!'
    bool matches(uint8_t pkt_flags) const;
};

// fragbits:[modifier]<M|D|R>   (same modifiers as flags)
struct FragBitsMatch {
    bool m = false;
    bool d = false;
    bool r = false;
    char modifier = 0;
};

struct Threshold {
    // Backoff: the count-th match alerts, then every time the matches reach count *
    // multiplier^k (no time window).
    enum class Type : uint8_t { Limit, Threshold, Both, DetectionFilter, Backoff };
    enum class Track : uint8_t { BySrc, ByDst, ByRule, ByBoth, ByFlow };
    Type type = Type::Limit;
    Track track = Track::BySrc;
    uint32_t count = 1;
    uint32_t seconds = 60;
    uint32_t multiplier = 1;  // backoff only
    // detection_filter ... unique_on src_port|dst_port: count distinct ports, not matches.
    enum class UniqueOn : uint8_t { None, SrcPort, DstPort };
    UniqueOn unique_on = UniqueOn::None;
};

// stream_size:<server|client|both|either>,<op>,<n>: bytes a TCP direction has carried
// (reassembled stream offset: payload bytes after the handshake).
struct StreamSize {
    enum class Side : uint8_t { Server, Client, Both, Either };
    Side side = Side::Both;
    IntMatch cmp;
};

struct FlowbitCmd {
    enum class Op : uint8_t { Set, IsSet, IsNotSet, Unset, Toggle, NoAlert };
    Op op = Op::Set;
    // Names (resolved to ids by the compiler). IsSet/IsNotSet may name several bits:
    // any_of = true for "a|b" (any), false for "a&b" (all).
    std::vector<std::string> names;
    bool any_of = false;
};

// flowint:<name>,<op>[,<value>|<var>]: a per-flow unsigned 32-bit integer (Suricata's flowint).
// Set/Add/Sub run after the rule matched; the others are conditions.
struct FlowintCmd {
    enum class Op : uint8_t { Set, Add, Sub, Eq, Ne, Lt, Le, Gt, Ge, IsSet, NotSet };
    Op op = Op::IsSet;
    std::string name;
    uint32_t value = 0;
    std::string var;  // the operand is this flowint (0 while unset), not `value`
    bool is_action() const { return op == Op::Set || op == Op::Add || op == Op::Sub; }
};

// xbits:<op>,<name>,track <ip_src|ip_dst|ip_pair>[,expire <seconds>]: bits per host or per
// address pair, expiring in packet time (Suricata's xbits; hostbits share the host store).
struct XbitCmd {
    enum class Op : uint8_t { Set, Unset, IsSet, IsNotSet, Toggle };
    enum class Track : uint8_t { IpSrc, IpDst, IpPair };
    Op op = Op::Set;
    std::string name;
    Track track = Track::IpSrc;
    uint32_t expire = 30;  // seconds after the set (Suricata's default)
    bool is_action() const { return op == Op::Set || op == Op::Unset || op == Op::Toggle; }
};

// The packet-header sticky buffers (ipv4.hdr, tcp.hdr, ...): the header's bytes as on the
// wire, options (IPv6: extension headers) included.
// ip.src / ip.dst (Suricata 8): the address itself, 4 bytes (IPv4) or 16 (IPv6).
enum class PacketHeader : uint8_t { None, Ipv4, Ipv6, Tcp, Udp, Icmpv4, Icmpv6, IpSrc, IpDst };

// Matches on one application-layer buffer (a sticky buffer such as `http.uri; content:...`,
// or contents moved there by a legacy modifier such as `content:...; http_uri;`), or on a
// packet header. All sections naming the same buffer are merged, in rule order.

struct BufferMatch {
    dataplane::app::BufferId buffer{};         // application-layer buffer (header == None)
    PacketHeader header = PacketHeader::None;  // else the packet header it inspects
    std::string keyword;                // first keyword that named it, as written (for messages)
    std::vector<Transform> transforms;  // in rule order (rules/transform.h)
    std::vector<PayloadOp> ops;         // the same program as Rule::payload, run on the buffer
    std::optional<IntMatch> bsize;      // length of the (transformed) buffer
};

// tag:<session|host>[,<count>,<packets|seconds|bytes>[,<src|dst>]]: after the rule alerts,
// the next packets of its flow (session) or of one of its hosts (host: the packet's source or
// destination, by `dir`; default dst) are logged as EVE `packet` records, until `count`
// packets, seconds or bytes have passed (Suricata's tag; packets at most 256).
struct Tag {
    enum class Type : uint8_t { Session, Host };
    enum class Metric : uint8_t { Packets, Seconds, Bytes };
    enum class Dir : uint8_t { Src, Dst };
    static constexpr uint32_t kMaxPackets = 256;  // Suricata's DETECT_TAG_MAX_PKTS
    Type type = Type::Session;
    uint32_t count = kMaxPackets;
    Metric metric = Metric::Packets;
    Dir dir = Dir::Dst;
};

struct Reference {
    std::string type;
    std::string value;
};

struct Rule {
    // Where it came from (for error messages: "file:line sid N: ...").
    std::string file;
    uint32_t line = 0;
    std::string text;  // the rule as written (single line)

    Action action = Action::Alert;
    Proto proto = Proto::Ip;
    std::string app_proto;  // "http", "dns", ... when the rule named an app-layer protocol
    // Application protocol the rule is bound to: from the header (`alert http`), from
    // app-layer-protocol, or implied by its buffers (http.* binds to http). Unknown = none.
    dataplane::app::AppProto app_bind = dataplane::app::AppProto::Unknown;
    bool app_bind_negated = false;  // app-layer-protocol:!proto
    bool packet_only = false;       // tcp-pkt / udp-pkt header: packet payload, never stream
    IpSet src;
    PortSet sport;
    IpSet dst;
    PortSet dport;
    bool bidirectional = false;  // "<>"

    std::string msg;
    uint32_t sid = 0;
    uint32_t rev = 0;
    uint32_t gid = 1;
    std::string classtype;              // short name; "" when none
    std::string category;               // classtype description (from classification.config)
    uint32_t priority = 3;              // explicit priority, else the classtype's, else 3
    std::vector<std::string> metadata;  // "key value" entries, as written
    std::vector<Reference> references;
    std::string target;  // "src_ip" / "dest_ip" / ""

    std::vector<PayloadOp> payload;           // packet / stream payload program
    std::vector<BufferMatch> buffers;         // application-layer buffer programs
    std::vector<BufferMatch> header_buffers;  // ipv4.hdr, tcp.hdr, ...: on the packet's headers
    std::vector<std::string> byte_vars;       // byte_extract names, by index
    std::optional<IntMatch> urilen;           // length of http.uri (urilen:...,norm) ...
    bool urilen_raw = false;                  // ... or of http.uri.raw (urilen:...,raw)

    std::optional<FlowOpt> flow;
    std::optional<IntMatch> dsize;
    std::optional<IntMatch> ttl;
    std::optional<IntMatch> itype;
    std::optional<IntMatch> icode;
    std::optional<uint16_t> icmp_id;
    std::optional<uint16_t> icmp_seq;
    std::optional<uint8_t> tos;
    bool tos_negated = false;
    std::optional<uint16_t> ipopts;  // kIpOpt* bits the packet must carry
    std::optional<FragBitsMatch> fragbits;
    std::vector<StreamSize> stream_size;  // all must hold
    std::optional<TcpFlagsMatch> tcp_flags;
    std::optional<uint32_t> tcp_seq;
    std::optional<uint32_t> tcp_ack;
    std::optional<uint16_t> tcp_window;
    bool tcp_window_negated = false;
    std::optional<IntMatch> ip_proto;
    std::optional<Threshold> threshold;
    std::optional<Threshold> detection_filter;
    std::vector<FlowbitCmd> flowbits;
    std::vector<FlowintCmd> flowints;
    std::vector<XbitCmd> xbits;
    std::optional<Tag> tag;
    bool noalert = false;  // flowbits:noalert, noalert
    bool alert = false;    // `alert`: a pass rule that matches also alerts (Suricata 8)
    // decode-event: decoder events the packet must carry (all of them).
    std::vector<dataplane::DecodeEvent> decode_events;
    // stream-event: dataplane::kStreamEv* bits the packet's stream update must carry (all).
    uint32_t stream_events = 0;
};

}  // namespace vigil::rules
