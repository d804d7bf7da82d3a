#include "dataplane/decode_events.h"

#include "common/text.h"

namespace vigil::dataplane {
namespace {

// Indexed by DecodeEvent; names as in Suricata 7's src/decode-events.c minus "decoder.".
constexpr std::array<std::string_view, kDecodeEventCount> kNames = {
    "ipv4.pkt_too_small",
    "ipv4.hlen_too_small",
    "ipv4.iplen_smaller_than_hlen",
    "ipv4.trunc_pkt",
    "ipv4.opt_invalid",
    "ipv4.opt_invalid_len",
    "ipv4.opt_malformed",
    "ipv4.opt_eol_required",
    "ipv4.opt_duplicate",
    "ipv4.wrong_ip_version",
    "ipv4.icmpv6",
    "icmpv4.pkt_too_small",
    "icmpv4.unknown_type",
    "icmpv4.unknown_code",
    "icmpv6.unknown_type",
    "icmpv6.unknown_code",
    "icmpv6.pkt_too_small",
    "icmpv6.mld_message_with_invalid_hl",
    "icmpv6.unassigned_type",
    "icmpv6.experimentation_type",
    "ipv6.pkt_too_small",
    "ipv6.trunc_pkt",
    "ipv6.trunc_exthdr",
    "ipv6.exthdr_dupl_fh",
    "ipv6.exthdr_useless_fh",
    "ipv6.exthdr_dupl_rh",
    "ipv6.exthdr_dupl_hh",
    "ipv6.exthdr_dupl_dh",
    "ipv6.exthdr_dupl_ah",
    "ipv6.exthdr_invalid_optlen",
    "ipv6.wrong_ip_version",
    "ipv6.exthdr_ah_res_not_null",
    "ipv6.hopopts_unknown_opt",
    "ipv6.hopopts_only_padding",
    "ipv6.dstopts_unknown_opt",
    "ipv6.dstopts_only_padding",
    "ipv6.rh_type_0",
    "ipv6.zero_len_padn",
    "ipv6.fh_non_zero_reserved_field",
    "ipv6.data_after_none_header",
    "ipv6.unknown_next_header",
    "ipv6.icmpv4",
    "ipv6.ipv4_in_ipv6_too_small",
    "ipv6.ipv4_in_ipv6_wrong_version",
    "ipv6.ipv6_in_ipv6_too_small",
    "ipv6.ipv6_in_ipv6_wrong_version",
    "tcp.pkt_too_small",
    "tcp.hlen_too_small",
    "tcp.invalid_optlen",
    "tcp.opt_invalid_len",
    "tcp.opt_duplicate",
    "udp.pkt_too_small",
    "udp.hlen_too_small",
    "udp.hlen_invalid",
    "sll.pkt_too_small",
    "ethernet.pkt_too_small",
    "ppp.pkt_too_small",
    "vlan.header_too_small",
    "vlan.too_many_layers",
    "ipraw.invalid_ip_version",
    "ltnull.pkt_too_small",
    "ltnull.unsupported_type",
    "chdlc.pkt_too_small",
    "mpls.header_too_small",
    "mpls.pkt_too_small",
    "mpls.unknown_payload_type",
    "gre.pkt_too_small",
    "gre.wrong_version",
    "gre.version0_recur",
    "gre.version0_flags",
    "gre.version0_hdr_too_big",
    "gre.version0_malformed_sre_hdr",
    "gre.version1_chksum",
    "gre.version1_route",
    "gre.version1_ssr",
    "gre.version1_recur",
    "gre.version1_flags",
    "gre.version1_no_key",
    "gre.version1_wrong_protocol",
    "gre.version1_hdr_too_big",
    "vxlan.unknown_payload_type",
    "geneve.unknown_payload_type",
    "erspan.header_too_small",
    "erspan.unsupported_version",
    "erspan.too_many_vlan_layers",
    "nsh.header_too_small",
    "nsh.unsupported_version",
    "nsh.bad_header_length",
    "nsh.reserved_type",
    "nsh.unsupported_type",
    "nsh.unknown_payload",
    "too_many_layers",
    "ipv4.frag_overlap",
    "ipv6.frag_overlap",
    "ipv6.frag_invalid_length",
};

// Suricata 7 decoder events with no counterpart here: layers Vigil does not decode (PPPoE,
// VN-Tag, 802.1ah, SCTP, ESP, DCE), checks it does not make, and the defragmenter's events
// it does not raise (its overlap events are raised by the worker from Defragmenter::add).
constexpr std::array<std::string_view, 31> kNotRaised = {
    "ipv4.opt_pad_required",
    "ipv4.opt_unknown",
    "icmpv4.ipv4_trunc_pkt",
    "icmpv4.ipv4_unknown_ver",
    "icmpv6.ipv6_unknown_version",
    "icmpv6.ipv6_trunc_pkt",
    "ipv6.exthdr_dupl_eh",
    "ppp.vju_pkt_too_small",
    "ppp.ip4_pkt_too_small",
    "ppp.ip6_pkt_too_small",
    "ppp.wrong_type",
    "ppp.unsup_proto",
    "pppoe.pkt_too_small",
    "pppoe.wrong_code",
    "pppoe.malformed_tags",
    "gre.version1_malformed_sre_hdr",
    "vlan.unknown_type",
    "ieee8021ah.header_too_small",
    "vntag.header_too_small",
    "vntag.unknown_type",
    "sctp.pkt_too_small",
    "esp.pkt_too_small",
    "ipv4.frag_pkt_too_large",
    "ipv6.frag_pkt_too_large",
    "ipv4.frag_ignored",
    "ipv6.frag_ignored",
    "mpls.bad_label_router_alert",
    "mpls.bad_label_implicit_null",
    "mpls.bad_label_reserved",
    "dce.pkt_too_small",
    "udp.len_invalid",  // Suricata 8's name; Suricata 7 reports that case as udp.hlen_invalid
};

}  // namespace

std::string_view decode_event_name(DecodeEvent e) {
    const auto i = static_cast<size_t>(e);
    return i < kNames.size() ? kNames[i] : std::string_view{"unknown"};
}

std::optional<DecodeEvent> decode_event_by_name(std::string_view name) {
    for (size_t i = 0; i < kNames.size(); ++i) {
        if (iequals(kNames[i], name)) {
            return static_cast<DecodeEvent>(i);
        }
    }
    return std::nullopt;
}

std::span<const std::string_view> decode_events_not_raised() {
    return kNotRaised;
}

}  // namespace vigil::dataplane
