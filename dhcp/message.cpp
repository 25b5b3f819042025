#include "dhcp/message.hpp"

#include <algorithm>

namespace usernet::dhcp {

namespace {

/// Option 52 values (RFC 2132 §9.3): which header fields also carry options.
enum class Overload : std::uint8_t { file = 1, sname = 2, both = 3 };

/// Walks one options field, adding every option to `options`. Stops at the End option or
/// at the end of the field; an option whose length runs past the field is an error.
bool parse_options_field(std::span<const std::uint8_t> field_bytes, OptionSet& options) {
  std::size_t at = 0;
  while (at < field_bytes.size()) {
    const std::uint8_t code = field_bytes[at];
    if (code == static_cast<std::uint8_t>(OptionCode::end)) return true;
    if (code == static_cast<std::uint8_t>(OptionCode::pad)) {
      ++at;
      continue;
    }
    if (at + 1 >= field_bytes.size()) return false;  // code without a length byte
    const std::size_t length = field_bytes[at + 1];
    if (at + 2 + length > field_bytes.size()) return false;
    options.append(code, field_bytes.subspan(at + 2, length));
    at += 2 + length;
  }
  return true;  // no End option: tolerated, many clients pad to the end instead
}

bool is_client_message(MessageType type) {
  switch (type) {
    case MessageType::discover:
    case MessageType::request:
    case MessageType::decline:
    case MessageType::release:
    case MessageType::inform:
      return true;
    case MessageType::offer:
    case MessageType::ack:
    case MessageType::nak:
      return false;
  }
  return false;
}

/// True when option `code` is absent or exactly `size` bytes long.
bool has_expected_size(const OptionSet& options, OptionCode code, std::size_t size) {
  const auto data = options.find(code);
  return !data || data->size() == size;
}

}  // namespace

std::string_view drop_reason_name(DropReason reason) {
  switch (reason) {
    case DropReason::truncated: return "truncated";
    case DropReason::not_boot_request: return "not_boot_request";
    case DropReason::unsupported_hardware: return "unsupported_hardware";
    case DropReason::bad_magic_cookie: return "bad_magic_cookie";
    case DropReason::malformed_options: return "malformed_options";
    case DropReason::missing_message_type: return "missing_message_type";
    case DropReason::bad_message_type: return "bad_message_type";
    case DropReason::server_message: return "server_message";
    case DropReason::bad_client_address: return "bad_client_address";
    case DropReason::other_server: return "other_server";
    case DropReason::missing_address: return "missing_address";
    case DropReason::pool_exhausted: return "pool_exhausted";
    case DropReason::unknown_lease: return "unknown_lease";
    case DropReason::count_: break;
  }
  return "unknown";
}

std::uint16_t read_u16(std::span<const std::uint8_t> bytes, std::size_t offset) {
  return static_cast<std::uint16_t>((bytes[offset] << 8) | bytes[offset + 1]);
}

std::uint32_t read_u32(std::span<const std::uint8_t> bytes, std::size_t offset) {
  return (std::uint32_t{bytes[offset]} << 24) | (std::uint32_t{bytes[offset + 1]} << 16) |
         (std::uint32_t{bytes[offset + 2]} << 8) | std::uint32_t{bytes[offset + 3]};
}

void write_u16(std::span<std::uint8_t> bytes, std::size_t offset, std::uint16_t value) {
  bytes[offset] = static_cast<std::uint8_t>(value >> 8);
  bytes[offset + 1] = static_cast<std::uint8_t>(value);
}

void write_u32(std::span<std::uint8_t> bytes, std::size_t offset, std::uint32_t value) {
  bytes[offset] = static_cast<std::uint8_t>(value >> 24);
  bytes[offset + 1] = static_cast<std::uint8_t>(value >> 16);
  bytes[offset + 2] = static_cast<std::uint8_t>(value >> 8);
  bytes[offset + 3] = static_cast<std::uint8_t>(value);
}

MacAddress Header::client_mac() const {
  MacAddress mac;
  std::copy_n(chaddr.begin(), mac.size(), mac.begin());
  return mac;
}

void OptionSet::append(std::uint8_t code, std::span<const std::uint8_t> data) {
  for (auto& [existing, bytes] : entries_) {
    if (existing == code) {
      bytes.insert(bytes.end(), data.begin(), data.end());
      return;
    }
  }
  entries_.emplace_back(code, std::vector<std::uint8_t>(data.begin(), data.end()));
}

std::optional<std::span<const std::uint8_t>> OptionSet::find(std::uint8_t code) const {
  for (const auto& [existing, bytes] : entries_) {
    if (existing == code) return std::span<const std::uint8_t>(bytes);
  }
  return std::nullopt;
}

std::optional<std::span<const std::uint8_t>> OptionSet::find(OptionCode code) const {
  return find(static_cast<std::uint8_t>(code));
}

std::optional<std::uint32_t> OptionSet::find_ipv4(OptionCode code) const {
  const auto data = find(code);
  if (!data || data->size() != 4) return std::nullopt;
  return read_u32(*data, 0);
}

std::optional<std::uint16_t> OptionSet::find_u16(OptionCode code) const {
  const auto data = find(code);
  if (!data || data->size() != 2) return std::nullopt;
  return read_u16(*data, 0);
}

std::variant<Message, DropReason> parse_message(std::span<const std::uint8_t> payload) {
  if (payload.size() < field::options) return DropReason::truncated;
  Message message;
  Header& h = message.header;
  h.op = payload[field::op];
  h.htype = payload[field::htype];
  h.hlen = payload[field::hlen];
  h.hops = payload[field::hops];
  h.xid = read_u32(payload, field::xid);
  h.secs = read_u16(payload, field::secs);
  h.flags = read_u16(payload, field::flags);
  h.ciaddr = read_u32(payload, field::ciaddr);
  h.yiaddr = read_u32(payload, field::yiaddr);
  h.siaddr = read_u32(payload, field::siaddr);
  h.giaddr = read_u32(payload, field::giaddr);
  std::copy_n(payload.begin() + field::chaddr, kChaddrSize, h.chaddr.begin());
  if (h.htype != kHardwareTypeEthernet || h.hlen != kEthernetAddressLength) {
    return DropReason::unsupported_hardware;
  }
  if (read_u32(payload, field::magic_cookie) != kMagicCookie) return DropReason::bad_magic_cookie;

  if (!parse_options_field(payload.subspan(field::options), message.options)) {
    return DropReason::malformed_options;
  }
  // RFC 2131 §4.1: with option 52, "file" and then "sname" hold more options.
  if (const auto overload = message.options.find(OptionCode::overload)) {
    if (overload->size() != 1 || (*overload)[0] < 1 || (*overload)[0] > 3) {
      return DropReason::malformed_options;
    }
    const auto which = static_cast<Overload>((*overload)[0]);
    if (which == Overload::file || which == Overload::both) {
      if (!parse_options_field(payload.subspan(field::file, kFileSize), message.options)) {
        return DropReason::malformed_options;
      }
    }
    if (which == Overload::sname || which == Overload::both) {
      if (!parse_options_field(payload.subspan(field::sname, kSnameSize), message.options)) {
        return DropReason::malformed_options;
      }
    }
  }

  const auto type = message.options.find(OptionCode::message_type);
  if (!type) return DropReason::missing_message_type;
  if (type->size() != 1 || (*type)[0] < 1 || (*type)[0] > 8) return DropReason::bad_message_type;
  message.type = static_cast<MessageType>((*type)[0]);
  return message;
}

std::variant<Message, DropReason> parse_request(std::span<const std::uint8_t> payload) {
  if (payload.size() < field::options) return DropReason::truncated;
  if (payload[field::op] != static_cast<std::uint8_t>(BootOp::request)) {
    return DropReason::not_boot_request;
  }
  auto parsed = parse_message(payload);
  if (auto* message = std::get_if<Message>(&parsed)) {
    if (!is_client_message(message->type)) return DropReason::server_message;
    if (!has_expected_size(message->options, OptionCode::requested_ip, 4) ||
        !has_expected_size(message->options, OptionCode::server_id, 4) ||
        !has_expected_size(message->options, OptionCode::max_message_size, 2)) {
      return DropReason::malformed_options;
    }
    const MacAddress mac = message->header.client_mac();
    if (mac == MacAddress{} || is_group_address(mac)) return DropReason::bad_client_address;
  }
  return parsed;
}

void write_header(const Header& header, std::span<std::uint8_t> out) {
  std::fill_n(out.begin(), field::options, std::uint8_t{0});
  out[field::op] = header.op;
  out[field::htype] = header.htype;
  out[field::hlen] = header.hlen;
  out[field::hops] = header.hops;
  write_u32(out, field::xid, header.xid);
  write_u16(out, field::secs, header.secs);
  write_u16(out, field::flags, header.flags);
  write_u32(out, field::ciaddr, header.ciaddr);
  write_u32(out, field::yiaddr, header.yiaddr);
  write_u32(out, field::siaddr, header.siaddr);
  write_u32(out, field::giaddr, header.giaddr);
  std::copy(header.chaddr.begin(), header.chaddr.end(), out.begin() + field::chaddr);
  write_u32(out, field::magic_cookie, kMagicCookie);
}

}  // namespace usernet::dhcp
