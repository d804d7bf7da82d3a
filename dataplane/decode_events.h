#pragma once
// DecodeEvent: the Suricata 7 decoder events that decode() raises, by their exact Suricata name,
// and DecodeEvents, the fixed-size set of them a Packet carries (read by `decode-event`).

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace vigil::dataplane {

// One enumerator per Suricata 7 event Vigil's decoder raises; the name (decode_event_name) is
// Suricata's `decode-event` argument, e.g. "ipv6.trunc_exthdr". Append only before Count.
enum class DecodeEvent : uint8_t {
    // IPv4
    Ipv4PktTooSmall = 0,
    Ipv4HlenTooSmall,
    Ipv4IplenSmallerThanHlen,
    Ipv4TruncPkt,
    Ipv4OptInvalid,
    Ipv4OptInvalidLen,
    Ipv4OptMalformed,
    Ipv4OptEolRequired,
    Ipv4OptDuplicate,
    Ipv4WrongIpVersion,
    Ipv4Icmpv6,
    // ICMPv4
    Icmpv4PktTooSmall,
    Icmpv4UnknownType,
    Icmpv4UnknownCode,
    // ICMPv6
    Icmpv6UnknownType,
    Icmpv6UnknownCode,
    Icmpv6PktTooSmall,
    Icmpv6MldMessageWithInvalidHl,
    Icmpv6UnassignedType,
    Icmpv6ExperimentationType,
    // IPv6
    Ipv6PktTooSmall,
    Ipv6TruncPkt,
    Ipv6TruncExthdr,
    Ipv6ExthdrDuplFh,
    Ipv6ExthdrUselessFh,
    Ipv6ExthdrDuplRh,
    Ipv6ExthdrDuplHh,
    Ipv6ExthdrDuplDh,
    Ipv6ExthdrDuplAh,
    Ipv6ExthdrInvalidOptlen,
    Ipv6WrongIpVersion,
    Ipv6ExthdrAhResNotNull,
    Ipv6HopoptsUnknownOpt,
    Ipv6HopoptsOnlyPadding,
    Ipv6DstoptsUnknownOpt,
    Ipv6DstoptsOnlyPadding,
    Ipv6RhType0,
    Ipv6ZeroLenPadn,
    Ipv6FhNonZeroReservedField,
    Ipv6DataAfterNoneHeader,
    Ipv6UnknownNextHeader,
    Ipv6Icmpv4,
    Ipv6Ipv4InIpv6TooSmall,
    Ipv6Ipv4InIpv6WrongVersion,
    Ipv6Ipv6InIpv6TooSmall,
    Ipv6Ipv6InIpv6WrongVersion,
    // TCP / UDP
    TcpPktTooSmall,
    TcpHlenTooSmall,
    TcpInvalidOptlen,
    TcpOptInvalidLen,
    TcpOptDuplicate,
    UdpPktTooSmall,
    UdpHlenTooSmall,
    UdpHlenInvalid,
    // link layers
    SllPktTooSmall,
    EthernetPktTooSmall,
    PppPktTooSmall,
    VlanHeaderTooSmall,
    VlanTooManyLayers,
    IprawInvalidIpVersion,
    LtnullPktTooSmall,
    LtnullUnsupportedType,
    ChdlcPktTooSmall,
    MplsHeaderTooSmall,
    MplsPktTooSmall,
    MplsUnknownPayloadType,
    // GRE
    GrePktTooSmall,
    GreWrongVersion,
    GreVersion0Recur,
    GreVersion0Flags,
    GreVersion0HdrTooBig,
    GreVersion0MalformedSreHdr,
    GreVersion1Chksum,
    GreVersion1Route,
    GreVersion1Ssr,
    GreVersion1Recur,
    GreVersion1Flags,
    GreVersion1NoKey,
    GreVersion1WrongProtocol,
    GreVersion1HdrTooBig,
    // tunnels
    VxlanUnknownPayloadType,
    GeneveUnknownPayloadType,
    ErspanHeaderTooSmall,
    ErspanUnsupportedVersion,
    ErspanTooManyVlanLayers,
    NshHeaderTooSmall,
    NshUnsupportedVersion,
    NshBadHeaderLength,
    NshReservedType,
    NshUnsupportedType,
    NshUnknownPayload,
    TooManyLayers,
    // fragments (raised by the defragmenter, or the decoder for the length check)
    Ipv4FragOverlap,
    Ipv6FragOverlap,
    Ipv6FragInvalidLength,
    Count  // keep last
};

inline constexpr size_t kDecodeEventCount = static_cast<size_t>(DecodeEvent::Count);

// The events raised on one packet: a fixed bitset, reset by decode() with the other fields.
class DecodeEvents {
public:
    void set(DecodeEvent e) {
        const auto i = static_cast<size_t>(e);
        bits_[i / 64] |= uint64_t{1} << (i % 64);
    }
    bool has(DecodeEvent e) const {
        const auto i = static_cast<size_t>(e);
        return (bits_[i / 64] >> (i % 64) & 1U) != 0;
    }
    bool any() const {
        for (uint64_t w : bits_) {
            if (w != 0) {
                return true;
            }
        }
        return false;
    }
    DecodeEvents& operator|=(const DecodeEvents& o) {
        for (size_t i = 0; i < bits_.size(); ++i) {
            bits_[i] |= o.bits_[i];
        }
        return *this;
    }
    bool operator==(const DecodeEvents&) const = default;

private:
    std::array<uint64_t, (kDecodeEventCount + 63) / 64> bits_{};
};

// Suricata's name, without its internal "decoder." prefix: "ipv4.pkt_too_small".
std::string_view decode_event_name(DecodeEvent e);

// The event a `decode-event` argument names, case-insensitively as Suricata compares. Suricata 7
// prepends "decoder." itself, so "decoder.ipv4.trunc_pkt" is not a valid argument there and is
// refused here too. nullopt for names Vigil does not raise (see decode_events_not_raised()).
std::optional<DecodeEvent> decode_event_by_name(std::string_view name);

// Suricata 7 decoder event names (same form) that Vigil's decoder never raises, so the rule
// parser can refuse them with a clear message instead of loading a rule that cannot match.
std::span<const std::string_view> decode_events_not_raised();

}  // namespace vigil::dataplane
