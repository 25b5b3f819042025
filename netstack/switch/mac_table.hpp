// The switch's MAC → port table, bounded so random source MACs cannot grow it without
// limit: a total and a per-port cap with least-recently-used eviction, ageing of idle
// entries, no takeover of a MAC that is still active on another port, and reserved MACs
// (the gateway's) that no other port may claim.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "netstack/base/ethernet.hpp"

namespace usernet {

using PortId = std::uint32_t;

struct MacTableLimits {
  std::size_t total = 8192;
  std::size_t per_port = 1024;
  std::chrono::milliseconds ageing{300'000};
};

struct MacTableCounters {
  std::uint64_t evicted = 0;           // pushed out by a cap (LRU)
  std::uint64_t aged = 0;              // idle longer than the ageing time
  std::uint64_t takeover_refused = 0;  // a port sent a MAC active on another port
  std::uint64_t reserved_refused = 0;  // a port sent a reserved MAC
};

class MacTable {
 public:
  /// `now` returns a monotonic time in milliseconds (injected so tests control ageing).
  using Clock = std::function<std::uint64_t()>;
  explicit MacTable(MacTableLimits limits = {}, Clock now = {});

  /// Records that `port` sent a frame from `mac`. False (counted) when the MAC is reserved
  /// for another port or active on another port: the frame must be dropped.
  bool learn(const MacAddress& mac, PortId port);
  /// The port `mac` was learned on, unless unknown or aged out.
  std::optional<PortId> lookup(const MacAddress& mac);
  /// Only `port` may send from `mac` from now on (the gateway's own MAC).
  void reserve(const MacAddress& mac, PortId port);
  void forget_port(PortId port);

  std::size_t size() const { return entries_.size(); }
  std::vector<std::pair<MacAddress, PortId>> entries() const;
  const MacTableCounters& counters() const { return counters_; }

 private:
  struct Learned {
    MacAddress mac;
    PortId port;
    std::uint64_t last_seen_ms;
  };
  using Order = std::list<Learned>;  // most recently seen first
  struct MacHash {
    std::size_t operator()(const MacAddress& m) const noexcept;
  };
  bool expired(const Learned& entry, std::uint64_t now) const;
  void erase(Order::iterator entry);
  void evict_oldest(std::optional<PortId> of_port);

  MacTableLimits limits_;
  Clock now_;
  Order order_;
  std::unordered_map<MacAddress, Order::iterator, MacHash> entries_;
  std::unordered_map<PortId, std::size_t> per_port_;
  std::unordered_map<MacAddress, PortId, MacHash> reserved_;
  MacTableCounters counters_;
};

}  // namespace usernet
