// Address bookkeeping of the DHCPv6 server: which client identity association (DUID and
// IAID) holds or was offered which address of the pool, and which addresses a client
// declined. Time is passed in; nothing here reads a clock.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "netstack/base/ipv6.hpp"

namespace usernet::dhcp6 {

/// A client's identity association: its DUID bytes and the IAID.
using BindingKey = std::pair<std::vector<std::uint8_t>, std::uint32_t>;

struct Binding {
  Ipv6 address{};
  std::uint64_t expires_ms = 0;
  bool bound = false;  // false: only offered (ADVERTISE), held briefly
};

class LeasePool {
 public:
  /// Addresses first, first + 1, ... first + size - 1.
  LeasePool(Ipv6 first, std::uint32_t size);

  /// The address for `key` now: the one it holds or was offered; else the lowest free
  /// one. nullopt when every address is taken or declined.
  std::optional<Ipv6> choose(const BindingKey& key, std::uint64_t now_ms) const;
  /// True when `address` is in the pool and nobody else holds it now.
  bool available_to(const BindingKey& key, const Ipv6& address, std::uint64_t now_ms) const;
  /// Records `address` for `key` until now + duration; bound or only offered.
  /// Precondition: available_to().
  void assign(const BindingKey& key, const Ipv6& address, bool bound, std::uint64_t now_ms,
              std::uint64_t duration_ms);
  /// The binding of `key` if it is current.
  std::optional<Binding> binding_of(const BindingKey& key, std::uint64_t now_ms) const;
  /// Ends the binding of `key` on `address`; false when it held no such binding.
  bool release(const BindingKey& key, const Ipv6& address);
  /// Takes `address` out of the pool until now + hold (a client found it in use).
  /// Honoured only for the key's own binding; false otherwise.
  bool decline(const BindingKey& key, const Ipv6& address, std::uint64_t now_ms, std::uint64_t hold_ms);

  bool contains(const Ipv6& address) const;
  /// Current bound leases, by key.
  std::vector<std::pair<BindingKey, Binding>> bound(std::uint64_t now_ms) const;

 private:
  std::optional<std::uint32_t> index_of(const Ipv6& address) const;
  Ipv6 address_at(std::uint32_t index) const;
  bool taken(std::uint32_t index, const BindingKey* except, std::uint64_t now_ms) const;

  Ipv6 first_;
  std::uint32_t size_;
  std::map<BindingKey, Binding> bindings_;
  std::map<std::uint32_t, std::uint64_t> declined_until_;  // pool index -> time
};

}  // namespace usernet::dhcp6
