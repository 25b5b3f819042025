// Test helpers for the DHCP engine: a builder for client messages, an independent decoder of
// RFC 1035 name lists (to check option 119 without trusting the encoder), reply accessors.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "dhcp/config.hpp"
#include "dhcp/message.hpp"

namespace usernet::dhcp::test {

inline const MacAddress kMacA{0x02, 0x00, 0x00, 0x00, 0x00, 0x0a};
inline const MacAddress kMacB{0x02, 0x00, 0x00, 0x00, 0x00, 0x0b};
inline const MacAddress kMacC{0x02, 0x00, 0x00, 0x00, 0x00, 0x0c};
/// gvproxy's default guest MAC, statically bound to 192.168.127.2 by default.
inline const MacAddress kDefaultGuestMac{0x5a, 0x94, 0xef, 0xe4, 0x0c, 0xee};

/// Builds the UDP payload of a client message byte by byte (not through the engine's code).
class RequestBuilder {
 public:
  /// Starts with option 53 = `type` (none when nullopt).
  RequestBuilder(std::optional<MessageType> type, const MacAddress& mac) : mac_(mac) {
    if (type) option(53, {static_cast<std::uint8_t>(*type)});
  }
  RequestBuilder& op(std::uint8_t value) { op_ = value; return *this; }
  RequestBuilder& xid(std::uint32_t value) { xid_ = value; return *this; }
  RequestBuilder& flags(std::uint16_t value) { flags_ = value; return *this; }
  RequestBuilder& ciaddr(std::uint32_t value) { ciaddr_ = value; return *this; }
  RequestBuilder& cookie(std::uint32_t value) { cookie_ = value; return *this; }
  RequestBuilder& no_end() { end_ = false; return *this; }
  /// Raw option bytes: code, length, data (several calls for the same code give instances).
  RequestBuilder& option(std::uint8_t code, std::vector<std::uint8_t> data) {
    options_.push_back(code);
    options_.push_back(static_cast<std::uint8_t>(data.size()));
    options_.insert(options_.end(), data.begin(), data.end());
    return *this;
  }
  RequestBuilder& raw_options(std::vector<std::uint8_t> bytes) {
    options_.insert(options_.end(), bytes.begin(), bytes.end());
    return *this;
  }
  RequestBuilder& requested_ip(std::uint32_t ip) { return option(50, be32(ip)); }
  RequestBuilder& server_id(std::uint32_t ip) { return option(54, be32(ip)); }
  RequestBuilder& host_name(const std::string& name) {
    return option(12, std::vector<std::uint8_t>(name.begin(), name.end()));
  }
  RequestBuilder& parameter_list(std::vector<std::uint8_t> codes) { return option(55, std::move(codes)); }
  RequestBuilder& max_message_size(std::uint16_t size) {
    return option(57, {static_cast<std::uint8_t>(size >> 8), static_cast<std::uint8_t>(size)});
  }
  /// Raw bytes for the sname/file fields (for option overload tests).
  RequestBuilder& file_field(std::vector<std::uint8_t> bytes) { file_ = std::move(bytes); return *this; }

  std::vector<std::uint8_t> bytes() const {
    std::vector<std::uint8_t> out(240, 0);
    out[0] = op_;
    out[1] = 1;
    out[2] = 6;
    put32(out, 4, xid_);
    out[10] = static_cast<std::uint8_t>(flags_ >> 8);
    out[11] = static_cast<std::uint8_t>(flags_);
    put32(out, 12, ciaddr_);
    for (std::size_t i = 0; i < 6; ++i) out[28 + i] = mac_[i];
    for (std::size_t i = 0; i < file_.size() && i < 128; ++i) out[108 + i] = file_[i];
    put32(out, 236, cookie_);
    out.insert(out.end(), options_.begin(), options_.end());
    if (end_) out.push_back(255);
    return out;
  }

  static std::vector<std::uint8_t> be32(std::uint32_t v) {
    return {static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
            static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
  }

 private:
  static void put32(std::vector<std::uint8_t>& out, std::size_t at, std::uint32_t v) {
    const auto b = be32(v);
    std::copy(b.begin(), b.end(), out.begin() + static_cast<std::ptrdiff_t>(at));
  }

  MacAddress mac_;
  std::uint8_t op_ = 1;
  std::uint32_t xid_ = 0x12345678;
  std::uint16_t flags_ = 0;
  std::uint32_t ciaddr_ = 0;
  std::uint32_t cookie_ = 0x63825363;
  bool end_ = true;
  std::vector<std::uint8_t> file_;
  std::vector<std::uint8_t> options_;
};

/// Decodes a list of RFC 1035 names with compression pointers; nullopt on any error
/// (pointer forward or out of range, label past the end, loops).
inline std::optional<std::vector<std::string>> decode_names(const std::vector<std::uint8_t>& data) {
  std::vector<std::string> names;
  std::size_t at = 0;
  while (at < data.size()) {
    std::string name;
    std::size_t cursor = at;
    bool jumped = false;
    int hops = 0;
    while (true) {
      if (cursor >= data.size()) return std::nullopt;
      const std::uint8_t length = data[cursor];
      if (length == 0) {
        if (!jumped) at = cursor + 1;
        break;
      }
      if ((length & 0xc0) == 0xc0) {
        if (cursor + 1 >= data.size() || ++hops > 64) return std::nullopt;
        const std::size_t target = static_cast<std::size_t>((length & 0x3f) << 8) | data[cursor + 1];
        if (target >= cursor) return std::nullopt;
        if (!jumped) at = cursor + 2;
        jumped = true;
        cursor = target;
        continue;
      }
      if (cursor + 1 + length > data.size()) return std::nullopt;
      if (!name.empty()) name += '.';
      name.append(data.begin() + static_cast<std::ptrdiff_t>(cursor + 1),
                  data.begin() + static_cast<std::ptrdiff_t>(cursor + 1 + length));
      cursor += 1 + length;
    }
    names.push_back(name);
  }
  return names;
}

/// Parses a reply produced by the engine, failing the test if it is not a valid message.
inline Message parse_reply(const std::vector<std::uint8_t>& payload) {
  auto parsed = parse_message(payload);
  REQUIRE(std::holds_alternative<Message>(parsed));
  const Message& message = std::get<Message>(parsed);
  REQUIRE(message.header.op == 2);
  return message;
}

/// Option data of a parsed reply as a vector (empty optional when absent).
inline std::optional<std::vector<std::uint8_t>> option_bytes(const Message& message, std::uint8_t code) {
  const auto data = message.options.find(code);
  if (!data) return std::nullopt;
  return std::vector<std::uint8_t>(data->begin(), data->end());
}

/// Number of separate instances of option `code` in a raw reply payload (walks the options
/// field itself, so RFC 3396 splitting can be observed).
inline std::size_t count_instances(const std::vector<std::uint8_t>& payload, std::uint8_t code) {
  std::size_t count = 0;
  for (std::size_t at = 240; at < payload.size();) {
    if (payload[at] == 0) { ++at; continue; }
    if (payload[at] == 255) break;
    if (payload[at] == code) ++count;
    at += 2 + payload[at + 1];
  }
  return count;
}

}  // namespace usernet::dhcp::test
