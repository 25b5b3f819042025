#include "dhcp/lease_table.hpp"

#include <algorithm>

namespace usernet::dhcp {

LeaseTable::LeaseTable(const Config& config)
    : first_host_(config.network + 1),
      last_host_(config.broadcast() - 1),
      pool_first_(config.pool_first != 0 ? config.pool_first : first_host_),
      pool_last_(config.pool_last != 0 ? config.pool_last : last_host_) {
  reserved_.insert(config.gateway);
  reserved_.insert(config.server_id);
  reserved_.insert(config.excluded.begin(), config.excluded.end());
  for (const StaticLease& lease : config.static_leases) add_static(lease);
}

bool LeaseTable::is_live(const Record& record, std::uint64_t now_ms) {
  return record.state != State::released && record.expires_ms > now_ms;
}

bool LeaseTable::is_reserved(std::uint32_t ip) const {
  return ip < first_host_ || ip > last_host_ || reserved_.count(ip) != 0;
}

bool LeaseTable::is_declined(std::uint32_t ip, std::uint64_t now_ms) const {
  const auto found = declined_until_.find(ip);
  return found != declined_until_.end() && found->second > now_ms;
}

bool LeaseTable::is_available_to(const MacAddress& mac, std::uint32_t ip, std::uint64_t now_ms) const {
  if (is_reserved(ip) || is_declined(ip, now_ms)) return false;
  const auto fixed = static_by_ip_.find(ip);
  if (fixed != static_by_ip_.end() && fixed->second != mac) return false;
  if (fixed == static_by_ip_.end() && (ip < pool_first_ || ip > pool_last_)) return false;  // outside the pool
  const auto record = records_.find(ip);
  return record == records_.end() || record->second.mac == mac || !is_live(record->second, now_ms);
}

std::optional<std::uint32_t> LeaseTable::usable_static(const MacAddress& mac, std::uint64_t now_ms) const {
  const auto fixed = static_by_mac_.find(mac);
  if (fixed == static_by_mac_.end() || is_declined(fixed->second, now_ms)) return std::nullopt;
  return fixed->second;
}

std::optional<std::uint32_t> LeaseTable::lowest_unused(std::uint64_t now_ms) const {
  // Every address skipped here is a key of one of these sets, so the loop is bounded by
  // their sizes, not by the size of the subnet.
  for (std::uint64_t ip = pool_first_; ip <= pool_last_; ++ip) {
    const auto address = static_cast<std::uint32_t>(ip);
    if (records_.count(address) || static_by_ip_.count(address) || is_reserved(address) ||
        is_declined(address, now_ms)) {
      continue;
    }
    return address;
  }
  return std::nullopt;
}

std::optional<std::uint32_t> LeaseTable::longest_lost(const MacAddress& mac, std::uint64_t now_ms) const {
  std::optional<std::uint32_t> best;
  std::uint64_t best_expiry = 0;
  for (const auto& [ip, record] : records_) {
    if (!is_available_to(mac, ip, now_ms)) continue;
    if (!best || record.expires_ms < best_expiry) {
      best = ip;
      best_expiry = record.expires_ms;
    }
  }
  return best;
}

std::optional<std::uint32_t> LeaseTable::choose(const MacAddress& mac,
                                                std::optional<std::uint32_t> requested,
                                                std::uint64_t now_ms) const {
  if (const auto fixed = usable_static(mac, now_ms); fixed && is_available_to(mac, *fixed, now_ms)) {
    return fixed;
  }
  if (const auto held = address_of_mac_.find(mac);
      held != address_of_mac_.end() && is_available_to(mac, held->second, now_ms)) {
    return held->second;
  }
  if (requested && is_available_to(mac, *requested, now_ms)) {
    const auto record = records_.find(*requested);
    if (record == records_.end() || record->second.mac == mac) return requested;
  }
  if (const auto fresh = lowest_unused(now_ms)) return fresh;
  return longest_lost(mac, now_ms);
}

bool LeaseTable::can_bind(const MacAddress& mac, std::uint32_t ip, std::uint64_t now_ms) const {
  if (const auto fixed = usable_static(mac, now_ms)) return ip == *fixed;
  return is_available_to(mac, ip, now_ms);
}

void LeaseTable::erase(std::uint32_t ip) {
  const auto record = records_.find(ip);
  if (record == records_.end()) return;
  address_of_mac_.erase(record->second.mac);
  records_.erase(record);
}

LeaseTable::Record& LeaseTable::place(const MacAddress& mac, std::uint32_t ip) {
  if (const auto held = address_of_mac_.find(mac); held != address_of_mac_.end() && held->second != ip) {
    erase(held->second);
  }
  if (const auto other = records_.find(ip); other != records_.end() && other->second.mac != mac) {
    erase(ip);
  }
  address_of_mac_[mac] = ip;
  Record& record = records_[ip];
  record.mac = mac;
  return record;
}

void LeaseTable::reserve(const MacAddress& mac, std::uint32_t ip, std::uint64_t now_ms,
                         std::uint64_t hold_ms) {
  Record& record = place(mac, ip);
  if (record.state == State::bound && is_live(record, now_ms)) {
    record.expires_ms = std::max(record.expires_ms, now_ms + hold_ms);
    return;
  }
  record.state = State::offered;
  record.expires_ms = now_ms + hold_ms;
}

void LeaseTable::bind(const MacAddress& mac, std::uint32_t ip, const std::string& hostname,
                      std::uint64_t now_ms, std::uint64_t duration_ms) {
  Record& record = place(mac, ip);
  record.state = State::bound;
  record.expires_ms = now_ms + duration_ms;
  if (!hostname.empty()) record.hostname = hostname;
}

bool LeaseTable::release(const MacAddress& mac, std::uint32_t ip, std::uint64_t now_ms) {
  const auto record = records_.find(ip);
  if (record == records_.end() || record->second.mac != mac || record->second.state != State::bound) {
    return false;
  }
  record->second.state = State::released;
  record->second.expires_ms = now_ms;
  return true;
}

bool LeaseTable::decline(const MacAddress& mac, std::uint32_t ip, std::uint64_t now_ms,
                         std::uint64_t hold_ms) {
  const auto record = records_.find(ip);
  if (record == records_.end() || record->second.mac != mac) return false;
  erase(ip);
  std::erase_if(declined_until_, [now_ms](const auto& entry) { return entry.second <= now_ms; });
  declined_until_[ip] = now_ms + hold_ms;
  return true;
}

void LeaseTable::withdraw_offer(const MacAddress& mac, std::uint64_t now_ms) {
  const auto held = address_of_mac_.find(mac);
  if (held == address_of_mac_.end()) return;
  Record& record = records_.at(held->second);
  if (record.state != State::offered) return;
  record.state = State::released;
  record.expires_ms = now_ms;
}

void LeaseTable::add_static(const StaticLease& lease) {
  remove_static(lease.mac);
  static_by_mac_[lease.mac] = lease.ip;
  static_by_ip_[lease.ip] = lease.mac;
  if (const auto other = records_.find(lease.ip); other != records_.end() && other->second.mac != lease.mac) {
    erase(lease.ip);
  }
}

bool LeaseTable::remove_static(const MacAddress& mac) {
  const auto fixed = static_by_mac_.find(mac);
  if (fixed == static_by_mac_.end()) return false;
  static_by_ip_.erase(fixed->second);
  static_by_mac_.erase(fixed);
  return true;
}

std::vector<StaticLease> LeaseTable::static_leases() const {
  std::vector<StaticLease> leases;
  for (const auto& [ip, mac] : static_by_ip_) leases.push_back({mac, ip});
  return leases;
}

std::vector<Lease> LeaseTable::active(std::uint64_t now_ms) const {
  std::vector<Lease> leases;
  for (const auto& [ip, record] : records_) {
    if (record.state != State::bound || !is_live(record, now_ms)) continue;
    const auto fixed = static_by_mac_.find(record.mac);
    const bool is_static = fixed != static_by_mac_.end() && fixed->second == ip;
    leases.push_back({ip, record.mac, record.hostname, record.expires_ms, is_static});
  }
  return leases;
}

std::optional<MacAddress> LeaseTable::holder_of(std::uint32_t ip, std::uint64_t now_ms) const {
  if (const auto fixed = static_by_ip_.find(ip); fixed != static_by_ip_.end()) return fixed->second;
  const auto record = records_.find(ip);
  if (record == records_.end() || record->second.state != State::bound || !is_live(record->second, now_ms))
    return std::nullopt;
  return record->second.mac;
}

std::size_t LeaseTable::capacity() const {
  std::size_t reserved_in_range = 0;
  for (const std::uint32_t ip : reserved_) {
    if (ip >= pool_first_ && ip <= pool_last_) ++reserved_in_range;
  }
  return std::size_t{pool_last_} - pool_first_ + 1 - reserved_in_range;
}

}  // namespace usernet::dhcp
