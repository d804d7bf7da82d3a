#pragma once
// Internal to rules/: address-set helpers used by the rule header parser for the ip4/ip6
// protocol keywords (parse_address and parse_ports themselves are in rule_parser.h).

#include "rules/rule.h"

namespace vigil::rules::detail {

// Keeps only IPv4 (::ffff:0:0/96) / only non-IPv4 addresses of `s`. May return an empty set.
IpSet restrict_to_v4(const IpSet& s);
IpSet restrict_to_v6(const IpSet& s);

}  // namespace vigil::rules::detail
