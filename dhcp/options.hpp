// Encoding of DHCP option values: the generic code/length framing with RFC 3396 splitting of
// long values, IPv4 address lists, the RFC 3397 domain search list (DNS wire format with
// compression) and RFC 3442 classless static routes. Also the name checks these rely on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dhcp/message.hpp"

namespace usernet::dhcp {

/// Longest value one option instance can carry; longer values are split (RFC 3396).
inline constexpr std::size_t kMaxOptionInstance = 255;

/// One RFC 3442 route: destination/prefix via router (all IPv4 in host order).
struct ClasslessRoute {
  std::uint32_t destination = 0;
  std::uint8_t prefix_length = 0;
  std::uint32_t router = 0;
};

/// Bytes that append_option writes for a value of `data_size` bytes (codes + lengths + data).
std::size_t encoded_option_size(std::size_t data_size);

/// Appends option `code` carrying `data` to `out`, as several consecutive instances of at
/// most 255 bytes when the value is longer (RFC 3396 §5); an empty value is one instance.
void append_option(std::vector<std::uint8_t>& out, OptionCode code,
                   std::span<const std::uint8_t> data);

/// Network-order bytes of IPv4 addresses (host order in), for options 3, 6, 28, 1, 54...
std::vector<std::uint8_t> encode_ipv4_list(std::span<const std::uint32_t> addresses);

/// Big-endian bytes of a 16- or 32-bit number.
std::vector<std::uint8_t> encode_u16(std::uint16_t value);
std::vector<std::uint8_t> encode_u32(std::uint32_t value);

/// True for a DNS name of letters, digits, '-' and '_' in dot-separated labels of 1..63 bytes,
/// at most 253 characters, with an optional trailing dot ("example.com", "corp.internal.").
bool is_valid_domain_name(std::string_view name);

/// Option 119 value for `domains` (RFC 3397): each name in DNS wire format, a suffix already
/// written earlier replaced by a compression pointer relative to the start of the value.
/// All names must pass is_valid_domain_name (nullopt otherwise).
std::optional<std::vector<std::uint8_t>> encode_domain_search(
    std::span<const std::string> domains);

/// Option 121 value (RFC 3442): per route the prefix width, the significant destination
/// octets, then the router.
std::vector<std::uint8_t> encode_classless_routes(std::span<const ClasslessRoute> routes);

/// The host name a client sent in option 12, reduced to a DNS label usable as
/// "<label>.containers.internal": the part before the first dot, trailing NULs removed; empty
/// when that is not 1..63 letters, digits and inner hyphens.
std::string host_name_label(std::span<const std::uint8_t> option_value);

}  // namespace usernet::dhcp
