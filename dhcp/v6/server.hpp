// The DHCPv6 server engine (RFC 8415 §18.3): a UDP payload a client sent to port 547 goes
// in, the reply payload comes out (the caller sends it to the client's address, port 546).
// Stateless: INFORMATION-REQUEST gets DNS servers and the domain list. Stateful: IA_NA
// addresses from a pool in the guest prefix (SOLICIT/ADVERTISE/REQUEST/REPLY, Rapid Commit,
// RENEW, REBIND, RELEASE, DECLINE, CONFIRM). Like the DHCPv4 engine it is authoritative:
// a RENEW or REBIND for an address it has no record of (usernetd restarted) is honoured
// when the address is free. No sockets, no clock: the caller passes the time.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dhcp/v6/lease_pool.hpp"
#include "dhcp/v6/message.hpp"
#include "netstack/base/ethernet.hpp"
#include "netstack/base/ipv6.hpp"
#include "netstack/base/result.hpp"

namespace usernet::dhcp6 {

struct Config {
  /// The server's DUID is DUID-LL of this MAC (RFC 8415 §11.4).
  MacAddress server_mac{};
  Ipv6Prefix prefix{*parse_ipv6("fd00::"), 64};
  /// Stateful leases from here upward; pool_size 0 turns stateful service off.
  Ipv6 pool_first = *parse_ipv6("fd00::100");
  std::uint32_t pool_size = 256;
  std::vector<Ipv6> dns_servers{*parse_ipv6("fd00::1")};
  std::vector<std::string> search_domains;
  std::uint32_t preferred_lifetime_s = 3600;
  std::uint32_t valid_lifetime_s = 7200;
  /// How long an address stays reserved for a client after an ADVERTISE.
  std::uint64_t offer_hold_ms = 60'000;
  /// How long a declined address stays out of the pool.
  std::uint64_t decline_hold_ms = 600'000;
  /// INFORMATION_REFRESH_TIME in stateless replies (RFC 8415 §21.23).
  std::uint32_t information_refresh_s = 86'400;

  /// An error sentence when the values cannot serve (pool outside the prefix, bad names).
  Status validate() const;
};

/// A bound lease, for the leases API.
struct Lease {
  Ipv6 address{};
  std::vector<std::uint8_t> duid;
  std::uint32_t iaid = 0;
  std::uint64_t expires_ms = 0;
};

enum class Drop : std::uint8_t {
  malformed,         // shorter than the header, an option or sub-option overruns
  server_message,    // ADVERTISE, REPLY, RECONFIGURE, relay messages: not from a client
  unknown_type,      //
  missing_client_id, // a message that needs the client's DUID lacks it
  bad_server_id,     // a server identifier where none belongs, or someone else's
  missing_server_id, // REQUEST/RENEW/RELEASE/DECLINE without ours
  unexpected_ia,     // INFORMATION-REQUEST carrying an IA option
  nothing_to_confirm,// CONFIRM without addresses
};
inline constexpr std::size_t kDropCount = 8;

struct Counters {
  std::uint64_t received = 0;
  std::array<std::uint64_t, 12> by_type{};  // index = message type, for 1..11
  std::uint64_t advertises = 0;
  std::uint64_t replies = 0;
  std::uint64_t addresses_bound = 0;
  std::uint64_t no_addresses = 0;  // IAs answered NoAddrsAvail
  std::array<std::uint64_t, kDropCount> drops{};

  std::uint64_t drops_of(Drop reason) const { return drops[static_cast<std::size_t>(reason)]; }
};

class Server {
 public:
  /// Throws std::invalid_argument with validate()'s message when `config` is unusable.
  explicit Server(Config config);

  /// Handles one UDP payload from a client at time `now_ms`; nullopt when nothing is sent.
  std::optional<std::vector<std::uint8_t>> handle(ByteSpan payload, std::uint64_t now_ms);

  std::vector<Lease> leases(std::uint64_t now_ms) const;
  const Counters& counters() const { return counters_; }
  const std::vector<std::uint8_t>& duid() const { return duid_; }

 private:
  std::optional<std::vector<std::uint8_t>> drop(Drop reason);
  std::optional<Drop> check_identifiers(const Message& m, MessageType type) const;
  void add_common(Writer& w, const Message& m) const;
  /// Answers each IA_NA of the message: `bind` as for REQUEST, else as an offer.
  void answer_addresses(Writer& w, const Message& m, bool bind, std::uint64_t now_ms);
  void answer_extend(Writer& w, const Message& m, std::uint64_t now_ms);
  void answer_release(Writer& w, const Message& m, bool decline, std::uint64_t now_ms);
  std::optional<std::vector<std::uint8_t>> answer_confirm(Writer& w, const Message& m);
  void write_ia(Writer& w, std::uint32_t iaid, const std::optional<Ipv6>& address, StatusCode status);

  Config config_;
  std::vector<std::uint8_t> duid_;
  std::vector<std::uint8_t> domain_list_;
  LeasePool pool_;
  Counters counters_;
};

}  // namespace usernet::dhcp6
