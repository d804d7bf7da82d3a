// Applying rule options: the keyword table lookup and the per-rule state the keyword handlers
// (rules/options/*.cc) work on, then the whole-rule checks of finish(): buffer directions,
// section merging and the application protocol binding.

#include "rules/rule_options.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "common/text.h"
#include "rules/options/parse.h"
#include "rules/parse_util.h"

namespace vigil::rules::detail {

using dataplane::app::AppProto;
using dataplane::app::BufferId;

std::optional<dataplane::app::AppProto> app_proto_by_name(std::string_view name) {
    if (name == "ssl") {
        return AppProto::Tls;
    }
    if (name == "http1") {
        return AppProto::Http;
    }
    for (size_t i = 1; i < static_cast<size_t>(AppProto::Count); ++i) {
        const auto p = static_cast<AppProto>(i);
        if (dataplane::app::app_proto_name(p) == name) {
            return p;
        }
    }
    return std::nullopt;
}

namespace {

// The response variant of a buffer named by its request variant (flow:to_client).
BufferId response_variant(BufferId id) {
    switch (id) {
        case BufferId::HttpHeaderReq:
            return BufferId::HttpHeaderResp;
        case BufferId::HttpHeaderRawReq:
            return BufferId::HttpHeaderRawResp;
        case BufferId::HttpHeaderNamesReq:
            return BufferId::HttpHeaderNamesResp;
        case BufferId::HttpStartReq:
            return BufferId::HttpStartResp;
        case BufferId::HttpContentTypeReq:
            return BufferId::HttpContentTypeResp;
        case BufferId::HttpContentLenReq:
            return BufferId::HttpContentLenResp;
        case BufferId::HttpConnectionReq:
            return BufferId::HttpConnectionResp;
        case BufferId::HttpCookie:
            return BufferId::HttpSetCookie;
        case BufferId::HttpProtocol:
            return BufferId::HttpProtocolResp;
        default:
            return id;
    }
}

}  // namespace

Status OptionParser::apply(const RawOption& opt) {
    const KeywordDef* kw = find_keyword(opt.name);
    if (kw == nullptr) {
        // rule_parser.cc screens keywords with unsupported_keyword() first.
        return reject(
            unsupported_keyword(opt.name).value_or("unsupported keyword " + quote(opt.name)));
    }
    // A content modifier without a content is refused for that before its value is checked.
    if (kw->family != KeywordFamily::ContentModifier) {
        if (auto st = check_value(*kw, opt.value); !st) {
            return st;
        }
    }
    return kw->apply(*this, KeywordUse{*kw, opt.name, opt.value});
}

BufferMatch* OptionParser::current_buffer() {
    return cur_list_ < 0 ? nullptr : &rule_.buffers[static_cast<size_t>(cur_list_)];
}

Content* OptionParser::last_content() {
    // Like Suricata, a modifier applies to the most recent content even when a pcre, byte_*
    // or isdataat came in between (ET writes `content:"x"; isdataat:!1,relative; nocase;`).
    // The content may since have moved into a buffer (content:"x"; http_uri; nocase;).
    if (!last_content_.valid) {
        return nullptr;
    }
    return std::get_if<Content>(&ops(last_content_.list)[last_content_.idx]);
}

std::vector<PayloadOp>& OptionParser::ops(int list) {
    return list < 0 ? rule_.payload : rule_.buffers[static_cast<size_t>(list)].ops;
}

void OptionParser::push_op(int list, PayloadOp op) {
    std::vector<PayloadOp>& v = ops(list);
    const bool is_content = std::holds_alternative<Content>(op);
    const bool is_match = is_content || std::holds_alternative<Pcre>(op);
    const bool is_b64 = std::holds_alternative<Base64Decode>(op);
    if (list == b64_list_ && !b64_open_) {
        b64_misplaced_ = true;  // would run on the decoded bytes: refused in finish()
    }
    v.push_back(std::move(op));
    const OpRef ref{list, v.size() - 1, true};
    if (is_b64) {
        last_b64_decode_ = ref;
    }
    if (is_content) {
        last_content_ = ref;
    }
    if (is_match) {
        last_match_ = ref;
    }
    last_any_ = ref;
}

int OptionParser::relative_target(bool content_pcre_only) const {
    if (cur_list_ >= 0) {
        return cur_list_;
    }
    const OpRef& prev = content_pcre_only ? last_match_ : last_any_;
    return prev.valid ? prev.list : -1;
}

int OptionParser::legacy_section(std::string_view keyword, BufferId id, BufDir dir) {
    // Contents moved by modifiers join the latest untransformed section of that buffer; a
    // transformed one is a different buffer in Suricata.
    for (size_t i = rule_.buffers.size(); i-- > 0;) {
        const BufferMatch& b = rule_.buffers[i];
        if (b.buffer == id && b.header == PacketHeader::None && sections_[i].dir == dir &&
            b.transforms.empty()) {
            return static_cast<int>(i);
        }
    }
    BufferMatch b;
    b.buffer = id;
    b.keyword = std::string(keyword);
    rule_.buffers.push_back(std::move(b));
    sections_.push_back(Section{dir, false});
    return static_cast<int>(rule_.buffers.size() - 1);
}

Status OptionParser::open_base64_data() {
    if (!last_b64_decode_.valid) {
        return reject("base64_data needs a preceding base64_decode");
    }
    if (b64_list_ != -2) {
        return reject("base64_data: only one per rule");
    }
    const int list = last_b64_decode_.list;
    if (cur_list_ >= 0 && cur_list_ != list) {
        return reject("base64_data: its base64_decode is in another buffer than the active " +
                      quote(rule_.buffers[static_cast<size_t>(cur_list_)].keyword));
    }
    push_op(list, Base64Data{});
    b64_list_ = list;
    b64_open_ = true;
    cur_list_ = list;
    return Ok{};
}

void OptionParser::open_sticky(std::string_view written, const BufferSpec& buf) {
    // Every sticky keyword opens a section; finish() merges sections naming the same buffer.
    b64_open_ = false;
    BufferMatch b;
    b.buffer = buf.id;
    b.header = buf.header;
    b.keyword = std::string(written);
    rule_.buffers.push_back(std::move(b));
    sections_.push_back(Section{buf.dir, true});
    cur_list_ = static_cast<int>(rule_.buffers.size() - 1);
}

BufferMatch* OptionParser::reopen_for_transform() {
    const auto cur = static_cast<size_t>(cur_list_);
    BufferMatch b;
    b.buffer = rule_.buffers[cur].buffer;
    b.header = rule_.buffers[cur].header;
    b.keyword = rule_.buffers[cur].keyword;
    b.transforms = rule_.buffers[cur].transforms;
    const Section sec = sections_[cur];
    rule_.buffers.push_back(std::move(b));
    sections_.push_back(sec);
    b64_open_ = false;
    cur_list_ = static_cast<int>(rule_.buffers.size() - 1);
    return &rule_.buffers.back();
}

void OptionParser::add_field_test(std::string_view keyword, BufferId id,
                                  std::vector<PayloadOp> ops) {
    BufferMatch b;
    b.buffer = id;
    b.keyword = std::string(keyword);
    b.ops = std::move(ops);
    rule_.buffers.push_back(std::move(b));
    sections_.push_back(Section{BufDir::Fixed, false});
}

Status OptionParser::move_last_content(std::string_view name, const BufferSpec& buf) {
    const BufferId id = buf.id;
    const BufDir dir = buf.dir;
    const std::string n(name);
    if (cur_list_ >= 0) {
        return reject(n + " can't be used while the sticky buffer " +
                      quote(rule_.buffers[static_cast<size_t>(cur_list_)].keyword) +
                      " is active (reset it with pkt_data first)");
    }
    if (!last_content_.valid) {
        return reject(n + " needs a preceding content");
    }
    if (last_content_.list >= 0) {
        return reject(n + ": the preceding content is already in buffer " +
                      quote(rule_.buffers[static_cast<size_t>(last_content_.list)].keyword));
    }
    const size_t idx = last_content_.idx;
    Content c = std::get<Content>(rule_.payload[idx]);
    if (c.rawbytes) {
        return reject(n + " can't be combined with rawbytes");
    }
    rule_.payload.erase(rule_.payload.begin() + static_cast<std::ptrdiff_t>(idx));
    const int list = legacy_section(name, id, dir);
    std::vector<PayloadOp>& dst = ops(list);
    dst.emplace_back(std::move(c));
    const OpRef moved{list, dst.size() - 1, true};
    // Keep the other references pointing at the same ops after the erase.
    for (OpRef* r : {&last_match_, &last_any_, &last_b64_decode_}) {
        if (r->valid && r->list == -1) {
            if (r->idx == idx) {
                *r = moved;
            } else if (r->idx > idx) {
                --r->idx;
            }
        }
    }
    last_content_ = moved;
    return Ok{};
}

Status OptionParser::place_pcre(Pcre p, const PcreBufferFlag* buf_flag) {
    int list = cur_list_;
    if (buf_flag != nullptr) {
        const BufferSpec& kw = buf_flag->buffer;
        const std::string flag = quote(std::string(1, buf_flag->flag));
        if (cur_list_ >= 0) {
            const BufferMatch& cur = rule_.buffers[static_cast<size_t>(cur_list_)];
            if (cur.buffer != kw.id || cur.header != PacketHeader::None ||
                sections_[static_cast<size_t>(cur_list_)].dir != kw.dir) {
                return reject("pcre: flag " + flag + " (" + std::string(buf_flag->keyword) +
                              ") while the sticky buffer " + quote(cur.keyword) +
                              " is active (reset it with pkt_data first)");
            }
        } else {
            list = legacy_section(buf_flag->keyword, kw.id, kw.dir);
        }
    }
    if (p.relative && cur_list_ < 0) {
        // Without a sticky buffer, /R needs an earlier content or pcre in the same buffer.
        const auto& prev = ops(list);
        const bool has_match = std::any_of(prev.begin(), prev.end(), [](const PayloadOp& op) {
            return std::holds_alternative<Content>(op) || std::holds_alternative<Pcre>(op);
        });
        if (!has_match) {
            return reject("pcre: /R needs a preceding content or pcre in the same buffer (" +
                          std::string(list < 0 ? "packet payload"
                                               : rule_.buffers[static_cast<size_t>(list)].keyword) +
                          ")");
        }
    }
    push_op(list, std::move(p));
    return Ok{};
}

void OptionParser::set_app_layer_protocol(AppProto p, bool negated) {
    seen_.app_layer_protocol = true;
    alp_ = p;
    alp_negated_ = negated;
}

Status OptionParser::finish() {
    if (!seen_.sid) {
        return reject("missing sid");
    }
    auto check_fp_only = [](const std::vector<PayloadOp>& prog) -> Status {
        for (const PayloadOp& op : prog) {
            const auto* c = std::get_if<Content>(&op);
            if (c == nullptr || !c->fast_pattern_only) {
                continue;
            }
            if (c->negated) {
                return reject("fast_pattern:only can't be used on a negated content");
            }
            if (c->offset || c->depth || c->distance || c->within) {
                return reject(
                    "fast_pattern:only can't be combined with offset/depth/distance/within");
            }
        }
        return Ok{};
    };
    if (auto st = check_fp_only(rule_.payload); !st) {
        return st;
    }
    for (const BufferMatch& b : rule_.buffers) {
        if (auto st = check_fp_only(b.ops); !st) {
            return st;
        }
    }
    if (b64_misplaced_) {
        return reject(
            "base64_data: a match after leaving base64_data returns to its buffer, "
            "which Vigil does not support (put base64_data's matches last)");
    }
    if (rule_.stream_events != 0 && !rule_.buffers.empty()) {
        return reject("stream-event can't be combined with application-layer buffers");
    }
    if (auto st = resolve_buffers(); !st) {
        return st;
    }
    return bind_app_proto();
}

// A packet-header buffer of a transport the rule's protocol excludes can never be present.
Status OptionParser::check_header_proto(const BufferMatch& b) const {
    const Proto p = rule_.proto;
    bool ok = true;
    std::string_view transport;
    switch (b.header) {
        case PacketHeader::Tcp:
            ok = p == Proto::Ip || p == Proto::Tcp;
            transport = "tcp";
            break;
        case PacketHeader::Udp:
            ok = p == Proto::Ip || p == Proto::Udp;
            transport = "udp";
            break;
        case PacketHeader::Icmpv4:
            ok = p == Proto::Ip || p == Proto::Icmp || p == Proto::Icmpv4;
            transport = "icmp";
            break;
        case PacketHeader::Icmpv6:
            ok = p == Proto::Ip || p == Proto::Icmp || p == Proto::Icmpv6;
            transport = "icmpv6";
            break;
        default:
            break;
    }
    if (!ok) {
        return reject(quote(b.keyword) + " needs a rule for protocol ip or " +
                      std::string(transport));
    }
    return Ok{};
}

Status OptionParser::resolve_buffers() {
    const bool to_client = rule_.flow && rule_.flow->to_client;
    const bool to_server = rule_.flow && rule_.flow->to_server;
    for (size_t i = 0; i < rule_.buffers.size(); ++i) {
        BufferMatch& b = rule_.buffers[i];
        if (b.ops.empty() && !b.bsize) {
            return reject("sticky buffer " + quote(b.keyword) +
                          " has nothing to match (no content, pcre, byte_*, isdataat or bsize)");
        }
        if (b.header != PacketHeader::None) {
            if (auto st = check_header_proto(b); !st) {
                return st;
            }
            continue;
        }
        switch (sections_[i].dir) {
            case BufDir::Fixed:
                break;
            case BufDir::Flow:
                if (to_client) {
                    b.buffer = response_variant(b.buffer);
                }
                break;
            case BufDir::FileData:
                b.buffer = to_server ? BufferId::HttpRequestBody : BufferId::HttpResponseBody;
                break;
        }
    }
    // Sections naming the same buffer with the same transforms become one program, in rule
    // order. With other transforms it is another buffer (Suricata's transformed list): each
    // program must match an instance of its own, all in the same transaction.
    std::vector<BufferMatch> merged;
    for (BufferMatch& b : rule_.buffers) {
        auto it = std::find_if(merged.begin(), merged.end(), [&](const BufferMatch& m) {
            return m.buffer == b.buffer && m.header == b.header && m.transforms == b.transforms;
        });
        if (it == merged.end()) {
            merged.push_back(std::move(b));
            continue;
        }
        if (it->bsize && b.bsize) {
            return reject("duplicate bsize for " + quote(b.keyword));
        }
        if (b.bsize) {
            it->bsize = b.bsize;
        }
        const bool after_b64 = std::any_of(it->ops.begin(), it->ops.end(), [](const PayloadOp& op) {
            return std::holds_alternative<Base64Data>(op);
        });
        if (after_b64 && !b.ops.empty()) {
            return reject(quote(b.keyword) +
                          ": a later section of the buffer holding base64_data is not "
                          "supported (put base64_data's matches last)");
        }
        for (PayloadOp& op : b.ops) {
            it->ops.push_back(std::move(op));
        }
    }
    // Packet-header buffers are programs on the packet, not on a transaction.
    rule_.buffers.clear();
    for (BufferMatch& b : merged) {
        (b.header == PacketHeader::None ? rule_.buffers : rule_.header_buffers)
            .push_back(std::move(b));
    }
    sections_.clear();
    cur_list_ = -1;
    last_content_ = last_match_ = last_any_ = OpRef{};
    return Ok{};
}

Status OptionParser::bind_app_proto() {
    const AppProto header = rule_.app_bind;  // set by the rule header (`alert http ...`)
    auto pname = [](AppProto p) { return quote(dataplane::app::app_proto_name(p)); };
    AppProto bind = header;
    bool negated = false;
    if (seen_.app_layer_protocol) {
        if (header != AppProto::Unknown && (alp_negated_ || alp_ != header)) {
            return reject("app-layer-protocol:" + std::string(alp_negated_ ? "!" : "") +
                          std::string(dataplane::app::app_proto_name(alp_)) +
                          " conflicts with protocol " + pname(header) + " of the rule header");
        }
        bind = alp_;
        negated = alp_negated_;
    }
    // What the buffers (and urilen) imply: all of them must belong to one protocol.
    AppProto implied = AppProto::Unknown;
    std::string implied_by;
    auto imply = [&](AppProto p, const std::string& keyword) -> Status {
        if (implied == AppProto::Unknown) {
            implied = p;
            implied_by = keyword;
        } else if (implied != p) {
            return reject("buffer " + quote(keyword) + " (" +
                          std::string(dataplane::app::app_proto_name(p)) +
                          ") conflicts with buffer " + quote(implied_by) + " (" +
                          std::string(dataplane::app::app_proto_name(implied)) + ")");
        }
        return Ok{};
    };
    for (const BufferMatch& b : rule_.buffers) {
        if (auto st = imply(dataplane::app::buffer_proto(b.buffer), b.keyword); !st) {
            return st;
        }
    }
    if (rule_.urilen) {
        if (auto st = imply(AppProto::Http, "urilen"); !st) {
            return st;
        }
    }
    if (implied != AppProto::Unknown) {
        const bool file_data = implied_by == "file.data" || implied_by == "file_data";
        if (bind != AppProto::Unknown && !negated && bind != implied) {
            if (file_data) {
                return reject("unsupported " + quote(implied_by) + " for " + pname(bind) +
                              ": only http bodies are inspected");
            }
            return reject(
                "buffer " + quote(implied_by) + " (" +
                std::string(dataplane::app::app_proto_name(implied)) +
                ") conflicts with protocol " + pname(bind) +
                (seen_.app_layer_protocol ? " of app-layer-protocol" : " of the rule header"));
        }
        if (negated && bind == implied) {
            return reject("app-layer-protocol:!" +
                          std::string(dataplane::app::app_proto_name(bind)) +
                          " conflicts with buffer " + quote(implied_by));
        }
        // The buffer's protocol already excludes a negated other one.
        bind = implied;
        negated = false;
    }
    rule_.app_bind = bind;
    rule_.app_bind_negated = negated;
    return Ok{};
}

}  // namespace vigil::rules::detail
