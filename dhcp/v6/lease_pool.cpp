#include "dhcp/v6/lease_pool.hpp"

namespace usernet::dhcp6 {

namespace {
/// The low 32 bits of an address (the pool never spans more).
std::uint32_t low32(const Ipv6& a) {
  return (std::uint32_t{a[12]} << 24) | (std::uint32_t{a[13]} << 16) | (std::uint32_t{a[14]} << 8) | a[15];
}
}  // namespace

LeasePool::LeasePool(Ipv6 first, std::uint32_t size) : first_(first), size_(size) {}

bool LeasePool::contains(const Ipv6& address) const { return index_of(address).has_value(); }

std::optional<std::uint32_t> LeasePool::index_of(const Ipv6& address) const {
  for (std::size_t i = 0; i < 12; ++i)
    if (address[i] != first_[i]) return std::nullopt;
  if (low32(address) < low32(first_)) return std::nullopt;
  const std::uint32_t offset = low32(address) - low32(first_);
  if (offset >= size_) return std::nullopt;
  return offset;
}

Ipv6 LeasePool::address_at(std::uint32_t index) const {
  Ipv6 a = first_;
  const std::uint32_t value = low32(first_) + index;
  for (int i = 0; i < 4; ++i) a[15 - i] = static_cast<std::uint8_t>(value >> (8 * i));
  return a;
}

bool LeasePool::taken(std::uint32_t index, const BindingKey* except, std::uint64_t now_ms) const {
  if (auto d = declined_until_.find(index); d != declined_until_.end() && d->second > now_ms) return true;
  const Ipv6 address = address_at(index);
  for (const auto& [key, binding] : bindings_) {
    if (except != nullptr && key == *except) continue;
    if (binding.address == address && binding.expires_ms > now_ms) return true;
  }
  return false;
}

std::optional<Ipv6> LeasePool::choose(const BindingKey& key, std::uint64_t now_ms) const {
  if (auto it = bindings_.find(key); it != bindings_.end()) {
    const auto index = index_of(it->second.address);
    if (index && !taken(*index, &key, now_ms)) return it->second.address;
  }
  for (std::uint32_t i = 0; i < size_; ++i)
    if (!taken(i, &key, now_ms)) return address_at(i);
  return std::nullopt;
}

bool LeasePool::available_to(const BindingKey& key, const Ipv6& address, std::uint64_t now_ms) const {
  const auto index = index_of(address);
  return index && !taken(*index, &key, now_ms);
}

void LeasePool::assign(const BindingKey& key, const Ipv6& address, bool bound, std::uint64_t now_ms,
                       std::uint64_t duration_ms) {
  if (!bindings_.contains(key))  // a new client: forget expired ones, so the table stays pool-sized
    std::erase_if(bindings_, [now_ms](const auto& item) { return item.second.expires_ms <= now_ms; });
  Binding& binding = bindings_[key];
  const bool keeps_bound = binding.bound && binding.address == address && binding.expires_ms > now_ms;
  binding.address = address;
  binding.bound = bound || keeps_bound;
  if (bound || !keeps_bound) binding.expires_ms = now_ms + duration_ms;
}

std::optional<Binding> LeasePool::binding_of(const BindingKey& key, std::uint64_t now_ms) const {
  auto it = bindings_.find(key);
  if (it == bindings_.end() || it->second.expires_ms <= now_ms) return std::nullopt;
  return it->second;
}

bool LeasePool::release(const BindingKey& key, const Ipv6& address) {
  auto it = bindings_.find(key);
  if (it == bindings_.end() || it->second.address != address) return false;
  bindings_.erase(it);
  return true;
}

bool LeasePool::decline(const BindingKey& key, const Ipv6& address, std::uint64_t now_ms, std::uint64_t hold_ms) {
  auto it = bindings_.find(key);
  const auto index = index_of(address);
  if (it == bindings_.end() || it->second.address != address || !index) return false;
  bindings_.erase(it);
  declined_until_[*index] = now_ms + hold_ms;
  return true;
}

std::vector<std::pair<BindingKey, Binding>> LeasePool::bound(std::uint64_t now_ms) const {
  std::vector<std::pair<BindingKey, Binding>> out;
  for (const auto& [key, binding] : bindings_)
    if (binding.bound && binding.expires_ms > now_ms) out.emplace_back(key, binding);
  return out;
}

}  // namespace usernet::dhcp6
