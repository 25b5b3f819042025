// DHCPv4 wire format (RFC 2131 §2, RFC 2132): the fixed BOOTP header, the option codes we use,
// and parsing of a received message into a header plus its (RFC 3396-concatenated) options.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "netstack/base/ethernet.hpp"

namespace usernet::dhcp {

/// BOOTP "op" field.
enum class BootOp : std::uint8_t { request = 1, reply = 2 };

/// BOOTP "htype" for Ethernet and its hardware address length.
inline constexpr std::uint8_t kHardwareTypeEthernet = 1;
inline constexpr std::uint8_t kEthernetAddressLength = 6;

/// Option 53 values (RFC 2132 §9.6).
enum class MessageType : std::uint8_t {
  discover = 1,
  offer = 2,
  request = 3,
  decline = 4,
  ack = 5,
  nak = 6,
  release = 7,
  inform = 8,
};

/// The option codes this server reads or writes (RFC 2132 unless noted).
enum class OptionCode : std::uint8_t {
  pad = 0,
  subnet_mask = 1,
  router = 3,
  domain_name_server = 6,
  host_name = 12,
  domain_name = 15,
  interface_mtu = 26,
  broadcast_address = 28,
  requested_ip = 50,
  lease_time = 51,
  overload = 52,
  message_type = 53,
  server_id = 54,
  parameter_request_list = 55,
  message = 56,
  max_message_size = 57,
  renewal_time = 58,
  rebinding_time = 59,
  client_id = 61,
  domain_search = 119,          // RFC 3397
  classless_static_route = 121, // RFC 3442
  end = 255,
};

/// Byte offsets of the fixed header fields (RFC 2131 figure 1).
namespace field {
inline constexpr std::size_t op = 0;
inline constexpr std::size_t htype = 1;
inline constexpr std::size_t hlen = 2;
inline constexpr std::size_t hops = 3;
inline constexpr std::size_t xid = 4;
inline constexpr std::size_t secs = 8;
inline constexpr std::size_t flags = 10;
inline constexpr std::size_t ciaddr = 12;
inline constexpr std::size_t yiaddr = 16;
inline constexpr std::size_t siaddr = 20;
inline constexpr std::size_t giaddr = 24;
inline constexpr std::size_t chaddr = 28;
inline constexpr std::size_t sname = 44;
inline constexpr std::size_t file = 108;
inline constexpr std::size_t magic_cookie = 236;
inline constexpr std::size_t options = 240;
}  // namespace field

inline constexpr std::size_t kSnameSize = 64;
inline constexpr std::size_t kFileSize = 128;
inline constexpr std::size_t kChaddrSize = 16;
inline constexpr std::uint32_t kMagicCookie = 0x63825363;  // 99.130.83.99
inline constexpr std::uint16_t kBroadcastFlag = 0x8000;
/// Smallest message a BOOTP relay or old client must be sent (RFC 1542 §2.1).
inline constexpr std::size_t kMinimumBootpSize = 300;
/// IPv4 (no options) + UDP header bytes in front of every DHCP payload.
inline constexpr std::size_t kIpUdpHeaderSize = 28;
/// Every host must accept an IP datagram of this size, so a DHCP reply always fits in it.
inline constexpr std::size_t kMinimumDatagramSize = 576;

/// Why a received payload was not answered. Every drop is counted under one of these.
enum class DropReason : std::uint8_t {
  truncated,                // shorter than the fixed header plus magic cookie
  not_boot_request,         // op is not BOOTREQUEST
  unsupported_hardware,     // htype/hlen is not Ethernet/6
  bad_magic_cookie,         // not a DHCP message (plain BOOTP or garbage)
  malformed_options,        // an option runs past the end of its field, bad overload value
  missing_message_type,     // no option 53
  bad_message_type,         // option 53 of the wrong length or an unknown value
  server_message,           // OFFER/ACK/NAK sent to a server
  bad_client_address,       // chaddr is zero, broadcast or multicast
  other_server,             // server identifier names another server: not for us
  missing_address,          // REQUEST/DECLINE without the address it is about
  pool_exhausted,           // DISCOVER while no address is free
  unknown_lease,            // RELEASE of an address this client does not hold
  count_,                   // number of reasons (not a reason)
};
inline constexpr std::size_t kDropReasonCount = static_cast<std::size_t>(DropReason::count_);

/// Short stable name of a drop reason, for logs and stats ("malformed_options").
std::string_view drop_reason_name(DropReason reason);

/// The fixed BOOTP header in host byte order.
struct Header {
  std::uint8_t op = 0;
  std::uint8_t htype = 0;
  std::uint8_t hlen = 0;
  std::uint8_t hops = 0;
  std::uint32_t xid = 0;
  std::uint16_t secs = 0;
  std::uint16_t flags = 0;
  std::uint32_t ciaddr = 0;
  std::uint32_t yiaddr = 0;
  std::uint32_t siaddr = 0;
  std::uint32_t giaddr = 0;
  std::array<std::uint8_t, kChaddrSize> chaddr{};

  /// The first 6 chaddr bytes (the client's Ethernet address when htype/hlen are 1/6).
  MacAddress client_mac() const;
};

/// Options of one message. A code that appears several times is stored once with its data
/// concatenated in order (RFC 3396).
class OptionSet {
 public:
  /// Appends `data` to option `code` (creating it).
  void append(std::uint8_t code, std::span<const std::uint8_t> data);
  /// The data of `code`, or nullopt when absent (present with length 0 gives an empty span).
  std::optional<std::span<const std::uint8_t>> find(OptionCode code) const;
  std::optional<std::span<const std::uint8_t>> find(std::uint8_t code) const;
  /// An option that must be exactly 4 bytes (an IPv4 address), host order; nullopt otherwise.
  std::optional<std::uint32_t> find_ipv4(OptionCode code) const;
  /// An option that must be exactly 2 bytes, host order; nullopt otherwise.
  std::optional<std::uint16_t> find_u16(OptionCode code) const;
  /// Number of distinct codes.
  std::size_t size() const { return entries_.size(); }

 private:
  std::vector<std::pair<std::uint8_t, std::vector<std::uint8_t>>> entries_;
};

/// A parsed, validated DHCP message.
struct Message {
  Header header;
  OptionSet options;
  MessageType type = MessageType::discover;
};

/// Parses a DHCP message (either direction) and checks what every message must satisfy:
/// Ethernet hardware type, magic cookie, options inside their fields, a known message type.
/// Options overloaded into sname/file (option 52) are read too. Never reads out of bounds.
std::variant<Message, DropReason> parse_message(std::span<const std::uint8_t> payload);

/// parse_message plus the checks for something a client sent to a server: op = BOOTREQUEST, a
/// client-side message type, a usable unicast client hardware address, and options 50, 54
/// (4 bytes) and 57 (2 bytes) of their fixed size when present.
std::variant<Message, DropReason> parse_request(std::span<const std::uint8_t> payload);

/// Big-endian reads/writes used for the header and option values.
std::uint16_t read_u16(std::span<const std::uint8_t> bytes, std::size_t offset);
std::uint32_t read_u32(std::span<const std::uint8_t> bytes, std::size_t offset);
void write_u16(std::span<std::uint8_t> bytes, std::size_t offset, std::uint16_t value);
void write_u32(std::span<std::uint8_t> bytes, std::size_t offset, std::uint32_t value);

/// Serialises the fixed header and magic cookie (240 bytes) into the start of `out`.
void write_header(const Header& header, std::span<std::uint8_t> out);

}  // namespace usernet::dhcp
