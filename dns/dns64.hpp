// DNS64 (RFC 6147) as pure functions: when an AAAA question gets an answer without AAAA
// records, the A records of the same name become AAAA records in the NAT64 prefix
// (RFC 6052 §2.2, a /96: the IPv4 address is the last 32 bits), so a guest with IPv6
// alone reaches IPv4-only names through the gateway's NAT64.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "dns/message.hpp"

namespace usernet::dns {

using Ipv6Bytes = std::array<std::uint8_t, 16>;

/// True when the answer to an AAAA question calls for synthesis: NOERROR and no usable
/// AAAA record (one in ::ffff:0:0/96 is not usable, RFC 6147 §5.1.4). NXDOMAIN and
/// failures pass through unchanged, as do clients validating DNSSEC themselves (DO and CD
/// set, §5.5).
bool needs_synthesis(const Question& question, Rcode rcode, const std::vector<ResourceRecord>& answers,
                     bool dnssec_ok, bool checking_disabled);

/// The answer section for the AAAA question: the A answer's CNAME/DNAME chain as it
/// came, each A record as an AAAA record in `prefix`, except addresses `excluded` says
/// NAT64 cannot reach (§5.1.4). The TTL of a synthesized record is at most `ttl_cap`
/// (the AAAA answer's negative TTL, §5.1.7), when there is one. nullopt when no AAAA
/// record results.
std::optional<std::vector<ResourceRecord>> synthesize_aaaa(const Ipv6Bytes& prefix,
                                                           const std::vector<ResourceRecord>& a_answers,
                                                           std::optional<std::uint32_t> ttl_cap,
                                                           const std::function<bool(std::uint32_t)>& excluded);

/// The negative-caching TTL of an answer (RFC 2308 §5): min(SOA TTL, SOA MINIMUM) of the
/// first SOA in `authorities`, or nullopt without one.
std::optional<std::uint32_t> negative_ttl(const std::vector<ResourceRecord>& authorities);

}  // namespace usernet::dns
