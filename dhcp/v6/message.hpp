// DHCPv6 wire format (RFC 8415 §8, §21): the four-byte header, type-length-value options
// (nested inside IA_NA and IAADDR), and a writer that builds them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "netstack/base/ethernet.hpp"
#include "netstack/base/ipv6.hpp"

namespace usernet::dhcp6 {

inline constexpr std::uint16_t kServerPort = 547;
inline constexpr std::uint16_t kClientPort = 546;
/// ff02::1:2, where clients send (All_DHCP_Relay_Agents_and_Servers).
inline constexpr Ipv6 kAllServersAndRelays{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0x02};

enum class MessageType : std::uint8_t {
  solicit = 1,
  advertise = 2,
  request = 3,
  confirm = 4,
  renew = 5,
  rebind = 6,
  reply = 7,
  release = 8,
  decline = 9,
  reconfigure = 10,
  information_request = 11,
};

enum class OptionCode : std::uint16_t {
  client_id = 1,
  server_id = 2,
  ia_na = 3,
  ia_ta = 4,
  ia_address = 5,
  option_request = 6,
  preference = 7,
  elapsed_time = 8,
  status_code = 13,
  rapid_commit = 14,
  dns_servers = 23,
  domain_list = 24,
  information_refresh_time = 32,
};

enum class StatusCode : std::uint16_t {
  success = 0,
  unspecified_failure = 1,
  no_addresses_available = 2,
  no_binding = 3,
  not_on_link = 4,
};

/// One option: its code and body (pointing into the parsed buffer).
struct Option {
  std::uint16_t code = 0;
  ByteSpan body;
};

/// Splits a run of options; nullopt when one runs past the end (or a header is cut).
std::optional<std::vector<Option>> parse_options(ByteSpan bytes);

/// A client message: header fields and its top-level options.
struct Message {
  std::uint8_t type = 0;
  std::uint32_t transaction_id = 0;  // 24 bits
  std::vector<Option> options;

  /// The first option with `code`, if any.
  const Option* find(OptionCode code) const;
  /// How many options with `code` there are.
  std::size_t count(OptionCode code) const;
};

/// Parses a UDP payload; nullopt when shorter than the header or an option overruns.
std::optional<Message> parse_message(ByteSpan payload);

/// An IA_NA option's fixed part and its sub-options.
struct IdentityAssociation {
  std::uint32_t iaid = 0;
  std::uint32_t t1 = 0, t2 = 0;
  std::vector<Option> options;
};
/// nullopt when the body is shorter than 12 bytes or a sub-option overruns.
std::optional<IdentityAssociation> parse_ia_na(ByteSpan body);

/// Builds a message: header first, then options, nested ones through begin/end.
class Writer {
 public:
  Writer(MessageType type, std::uint32_t transaction_id);

  void option(OptionCode code, ByteSpan body);
  /// Opens an option whose body is written next (its length is set by end()).
  void begin(OptionCode code);
  void end();
  void u16(std::uint16_t value);
  void u32(std::uint32_t value);
  void bytes(ByteSpan value);

  std::vector<std::uint8_t> take();

 private:
  std::vector<std::uint8_t> out_;
  std::vector<std::size_t> open_;
};

/// A client's DUID for people: the MAC of a DUID-LLT or DUID-LL on Ethernet
/// ("5a:94:ef:e4:0c:ee"), else "duid:" and its bytes in hex.
std::string describe_client(const std::vector<std::uint8_t>& duid);

/// A domain name list in DNS wire form (RFC 8415 §10); nullopt when a name is not valid.
std::optional<std::vector<std::uint8_t>> encode_domain_list(const std::vector<std::string>& domains);

}  // namespace usernet::dhcp6
