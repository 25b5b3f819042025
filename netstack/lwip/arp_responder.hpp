// Answers ARP requests for extra addresses the gateway owns besides its own IP (the
// host alias, gvproxy's "virtual IPs"): lwIP's etharp only answers for the netif address.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "netstack/base/ethernet.hpp"
#include "netstack/base/ipv4.hpp"

namespace usernet {

enum class ArpOperation : std::uint16_t { request = 1, reply = 2 };

/// If `frame` is a well-formed ARP request for an address `owns` accepts, returns the
/// reply frame (from `our_mac`), else nullopt.
std::optional<std::vector<std::uint8_t>> arp_reply_for(ByteSpan frame, const MacAddress& our_mac,
                                                        const std::function<bool(Ipv4)>& owns);

}  // namespace usernet
