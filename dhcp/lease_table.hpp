// Address bookkeeping of the DHCP server: which MAC holds (or was offered, or last held)
// which address, static bindings, declined addresses, and the allocation policy. Time is
// always passed in (milliseconds on any monotonic clock); nothing here reads a clock.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "dhcp/config.hpp"
#include "netstack/base/ethernet.hpp"

namespace usernet::dhcp {

/// A bound lease as reported to the rest of the daemon (API, DNS names).
struct Lease {
  std::uint32_t ip = 0;
  MacAddress mac{};
  /// The client's host name (option 12) as a DNS label; empty when it sent none usable.
  std::string hostname;
  std::uint64_t expires_ms = 0;
  bool is_static = false;
};

class LeaseTable {
 public:
  /// Takes the pool shape (subnet, reserved addresses) and static leases from `config`,
  /// which must have passed validate().
  explicit LeaseTable(const Config& config);

  /// The address `mac` should be offered now, in this order: its static lease; the address
  /// it holds or held last, if nobody else took it since; `requested` if nobody else holds
  /// or held it; the lowest never-used address; the address whose last holder lost it
  /// longest ago. nullopt: the pool is full.
  std::optional<std::uint32_t> choose(const MacAddress& mac, std::optional<std::uint32_t> requested,
                                      std::uint64_t now_ms) const;
  /// True when `mac` may hold `ip` now (what a REQUEST is ACKed or NAKed on).
  bool can_bind(const MacAddress& mac, std::uint32_t ip, std::uint64_t now_ms) const;

  /// Reserves `ip` for `mac` until now + hold (after an OFFER). A lease `mac` already holds
  /// on `ip` stays bound. Precondition: the address came from choose() for this MAC.
  void reserve(const MacAddress& mac, std::uint32_t ip, std::uint64_t now_ms, std::uint64_t hold_ms);
  /// Binds `ip` to `mac` until now + duration (after an ACK), moving the MAC off any other
  /// address. An empty `hostname` keeps the one stored before. Precondition: can_bind().
  void bind(const MacAddress& mac, std::uint32_t ip, const std::string& hostname,
            std::uint64_t now_ms, std::uint64_t duration_ms);
  /// Ends the lease of `mac` on `ip` (RELEASE); the MAC still gets `ip` back first later.
  /// False when `mac` holds no lease on `ip`.
  bool release(const MacAddress& mac, std::uint32_t ip, std::uint64_t now_ms);
  /// Takes `ip` out of the pool until now + hold because `mac` found it in use (DECLINE).
  /// Honoured only for an address offered or leased to that MAC; false otherwise.
  bool decline(const MacAddress& mac, std::uint32_t ip, std::uint64_t now_ms, std::uint64_t hold_ms);
  /// Drops an outstanding offer to `mac` (it chose another server); a bound lease stays.
  void withdraw_offer(const MacAddress& mac, std::uint64_t now_ms);

  /// Adds or replaces the static lease of `lease.mac`. A dynamic lease another MAC holds on
  /// the address is dropped (that client gets a NAK when it renews). Precondition: the
  /// lease passed validate_static_lease against the current static leases.
  void add_static(const StaticLease& lease);
  /// Removes the static lease of `mac`; a lease it currently holds runs on as a dynamic one.
  bool remove_static(const MacAddress& mac);
  std::vector<StaticLease> static_leases() const;

  /// Bound, unexpired leases, by address.
  std::vector<Lease> active(std::uint64_t now_ms) const;
  /// The MAC `ip` belongs to now: its static binding, else a bound unexpired lease.
  /// nullopt when the address is free (offers do not count: the client is not using it yet).
  std::optional<MacAddress> holder_of(std::uint32_t ip, std::uint64_t now_ms) const;
  /// Number of addresses the pool can hand out (static ones inside it included).
  std::size_t capacity() const;

 private:
  enum class State : std::uint8_t { offered, bound, released };
  struct Record {
    MacAddress mac{};
    std::string hostname;
    std::uint64_t expires_ms = 0;
    State state = State::released;
  };

  /// True while the record still keeps its address from everyone else.
  static bool is_live(const Record& record, std::uint64_t now_ms);
  bool is_reserved(std::uint32_t ip) const;
  bool is_declined(std::uint32_t ip, std::uint64_t now_ms) const;
  /// True when nothing stops `mac` from getting `ip` (static leases of `mac` aside).
  bool is_available_to(const MacAddress& mac, std::uint32_t ip, std::uint64_t now_ms) const;
  /// The static address of `mac` unless it is declined at the moment.
  std::optional<std::uint32_t> usable_static(const MacAddress& mac, std::uint64_t now_ms) const;
  std::optional<std::uint32_t> lowest_unused(std::uint64_t now_ms) const;
  std::optional<std::uint32_t> longest_lost(const MacAddress& mac, std::uint64_t now_ms) const;
  /// Makes `ip` the record of `mac`: removes the MAC's record elsewhere and any other
  /// MAC's record on `ip`. Returns the record (new ones start released with no name).
  Record& place(const MacAddress& mac, std::uint32_t ip);
  void erase(std::uint32_t ip);

  std::uint32_t first_host_;
  std::uint32_t last_host_;
  std::uint32_t pool_first_;  // where lowest_unused looks: the pool within the hosts
  std::uint32_t pool_last_;
  std::set<std::uint32_t> reserved_;
  std::map<std::uint32_t, Record> records_;
  std::map<MacAddress, std::uint32_t> address_of_mac_;
  std::map<std::uint32_t, std::uint64_t> declined_until_;
  std::map<MacAddress, std::uint32_t> static_by_mac_;
  std::map<std::uint32_t, MacAddress> static_by_ip_;
};

}  // namespace usernet::dhcp
