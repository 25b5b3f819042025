// Builds OFFER/ACK/NAK payloads: the reply header derived from the request (RFC 2131 table 3)
// and the options, chosen by the client's parameter request list and fitted into the size
// the client can take, dropping low-priority options rather than overflowing.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "dhcp/config.hpp"
#include "dhcp/message.hpp"

namespace usernet::dhcp {

/// What kind of reply to build and for which address.
struct ReplySpec {
  MessageType type = MessageType::ack;
  /// Address given to the client (0 for NAK and for the ACK of an INFORM).
  std::uint32_t your_ip = 0;
  /// Whether to send lease time, T1 and T2 (not for INFORM, not for NAK).
  bool with_lease = true;
  /// Option 56 text for a NAK (empty: none).
  std::string message;
};

class ReplyBuilder {
 public:
  /// Encodes the configured option values once. `config` must have passed validate().
  explicit ReplyBuilder(const Config& config);

  /// The reply payload to `request` (never longer than the client accepts, at least 300
  /// bytes).
  std::vector<std::uint8_t> build(const Message& request, const ReplySpec& spec) const;

  /// Largest reply payload `request` allows: its option 57 (an IP datagram size, at least
  /// 576) capped by the link MTU, minus the IP and UDP headers.
  std::size_t max_payload(const Message& request) const;

 private:
  /// Appends the OFFER/ACK options to `out` in priority order while they fit `budget`.
  void append_configuration(const Message& request, const ReplySpec& spec, std::size_t budget,
                            std::vector<std::uint8_t>& out) const;

  std::uint32_t server_id_;
  std::uint16_t mtu_;
  std::uint32_t lease_time_s_;
  std::vector<std::string> search_domains_;
  std::vector<std::uint8_t> subnet_mask_;
  std::vector<std::uint8_t> router_;
  std::vector<std::uint8_t> dns_servers_;
  std::vector<std::uint8_t> domain_name_;
  std::vector<std::uint8_t> interface_mtu_;
  std::vector<std::uint8_t> broadcast_address_;
  std::vector<std::uint8_t> domain_search_;
  std::vector<std::uint8_t> classless_routes_;
};

}  // namespace usernet::dhcp
