// A domain name in DNS wire form (RFC 1035 §3.1), as router advertisements (DNSSL) and
// DHCPv6 (domain list) carry search domains: uncompressed labels, a zero at the end.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace usernet {

/// "example.test" (a trailing dot allowed) -> 7 example 4 test 0. nullopt for an empty
/// name or label, a label over 63 bytes, or a name over 255 bytes encoded.
std::optional<std::vector<std::uint8_t>> encode_domain_name(std::string_view name);

}  // namespace usernet
