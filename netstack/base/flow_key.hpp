// The identity of a guest flow: (guest ip:port, destination ip:port), either family.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>

#include "netstack/base/ip_address.hpp"

namespace usernet {

struct FlowKey {
  IpAddress guest_ip;
  std::uint16_t guest_port = 0;  // ICMP echo: the guest's identifier
  IpAddress remote_ip;
  std::uint16_t remote_port = 0;  // ICMP echo: 0

  bool operator==(const FlowKey&) const = default;
  std::string to_string() const { return guest_ip.with_port(guest_port) + " -> " + remote_ip.with_port(remote_port); }
};

struct FlowKeyHash {
  std::size_t operator()(const FlowKey& k) const noexcept {
    // Both addresses and ports, packed without padding, hashed as one string.
    char bytes[16 + 16 + 2 + 2];
    std::memcpy(bytes, k.guest_ip.v6().data(), 16);
    std::memcpy(bytes + 16, k.remote_ip.v6().data(), 16);
    std::memcpy(bytes + 32, &k.guest_port, 2);
    std::memcpy(bytes + 34, &k.remote_port, 2);
    return std::hash<std::string_view>{}(std::string_view(bytes, sizeof bytes));
  }
};

}  // namespace usernet
