// The identity of a guest flow: (guest ip:port, destination ip:port), host byte order.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "netstack/base/ipv4.hpp"

namespace usernet {

struct FlowKey {
  Ipv4 guest_ip = 0;
  std::uint16_t guest_port = 0;  // ICMP echo: the guest's identifier
  Ipv4 remote_ip = 0;
  std::uint16_t remote_port = 0;  // ICMP echo: 0

  bool operator==(const FlowKey&) const = default;
  std::string to_string() const {
    return format_ipv4(guest_ip) + ":" + std::to_string(guest_port) + " -> " +
           format_ipv4(remote_ip) + ":" + std::to_string(remote_port);
  }
};

struct FlowKeyHash {
  std::size_t operator()(const FlowKey& k) const noexcept {
    const std::uint64_t a = (std::uint64_t{k.guest_ip} << 32) | k.remote_ip;
    const std::uint64_t b = (std::uint64_t{k.guest_port} << 16) | k.remote_port;
    return std::hash<std::uint64_t>{}(a * 0x9e3779b97f4a7c15ULL ^ b);
  }
};

}  // namespace usernet
