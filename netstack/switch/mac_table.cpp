#include "netstack/switch/mac_table.hpp"

namespace usernet {

namespace {
std::uint64_t steady_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}
}  // namespace

MacTable::MacTable(MacTableLimits limits, Clock now) : limits_(limits), now_(now ? std::move(now) : steady_ms) {}

std::size_t MacTable::MacHash::operator()(const MacAddress& m) const noexcept {
  std::uint64_t v = 0;
  for (auto b : m) v = (v << 8) | b;
  return std::hash<std::uint64_t>{}(v);
}

bool MacTable::expired(const Learned& entry, std::uint64_t now) const {
  return now - entry.last_seen_ms >= static_cast<std::uint64_t>(limits_.ageing.count());
}

void MacTable::erase(Order::iterator entry) {
  if (--per_port_[entry->port] == 0) per_port_.erase(entry->port);
  entries_.erase(entry->mac);
  order_.erase(entry);
}

void MacTable::evict_oldest(std::optional<PortId> of_port) {
  for (auto it = order_.end(); it != order_.begin();) {
    --it;
    if (!of_port || it->port == *of_port) {
      erase(it);
      counters_.evicted++;
      return;
    }
  }
}

bool MacTable::learn(const MacAddress& mac, PortId port) {
  if (auto owner = reserved_.find(mac); owner != reserved_.end() && owner->second != port) {
    counters_.reserved_refused++;
    return false;
  }
  const std::uint64_t now = now_();
  if (auto known = entries_.find(mac); known != entries_.end()) {
    const auto entry = known->second;
    if (entry->port != port) {
      if (!expired(*entry, now)) {
        counters_.takeover_refused++;
        return false;
      }
      counters_.aged++;
      erase(entry);
    } else {
      entry->last_seen_ms = now;
      order_.splice(order_.begin(), order_, entry);
      return true;
    }
  }
  // Old entries at the tail first: ageing frees room before any live entry is evicted.
  while (!order_.empty() && expired(order_.back(), now)) {
    counters_.aged++;
    erase(std::prev(order_.end()));
  }
  if (per_port_[port] >= limits_.per_port) evict_oldest(port);
  if (entries_.size() >= limits_.total) evict_oldest(std::nullopt);
  order_.push_front(Learned{mac, port, now});
  entries_.emplace(mac, order_.begin());
  per_port_[port]++;
  return true;
}

std::optional<PortId> MacTable::lookup(const MacAddress& mac) {
  auto known = entries_.find(mac);
  if (known == entries_.end()) return std::nullopt;
  if (expired(*known->second, now_())) {
    counters_.aged++;
    erase(known->second);
    return std::nullopt;
  }
  return known->second->port;
}

void MacTable::reserve(const MacAddress& mac, PortId port) {
  reserved_[mac] = port;
  if (auto known = entries_.find(mac); known != entries_.end() && known->second->port != port) erase(known->second);
}

void MacTable::forget_port(PortId port) {
  for (auto it = order_.begin(); it != order_.end();) {
    auto next = std::next(it);
    if (it->port == port) erase(it);
    it = next;
  }
  for (auto it = reserved_.begin(); it != reserved_.end();)
    it = it->second == port ? reserved_.erase(it) : std::next(it);
}

std::vector<std::pair<MacAddress, PortId>> MacTable::entries() const {
  std::vector<std::pair<MacAddress, PortId>> out;
  out.reserve(order_.size());
  for (const auto& entry : order_) out.emplace_back(entry.mac, entry.port);
  return out;
}

}  // namespace usernet
