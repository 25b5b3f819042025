#include "netstack/base/ipv4.hpp"

#include <charconv>

namespace usernet {

std::optional<Ipv4> parse_ipv4(std::string_view text) {
  Ipv4 address = 0;
  const char* p = text.data();
  const char* end = text.data() + text.size();
  for (int i = 0; i < 4; ++i) {
    if (p == end || *p < '0' || *p > '9') return std::nullopt;
    unsigned octet = 0;
    auto [next, ec] = std::from_chars(p, end, octet);
    if (ec != std::errc{} || octet > 255 || next - p > 3) return std::nullopt;
    if (next - p > 1 && *p == '0') return std::nullopt;  // no octal-looking octets
    address = (address << 8) | octet;
    p = next;
    if (i < 3) {
      if (p == end || *p != '.') return std::nullopt;
      ++p;
    }
  }
  if (p != end) return std::nullopt;
  return address;
}

std::string format_ipv4(Ipv4 a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 0xff) + "." +
         std::to_string((a >> 8) & 0xff) + "." + std::to_string(a & 0xff);
}

std::string Ipv4Subnet::to_string() const {
  return format_ipv4(network) + "/" + std::to_string(prefix_length);
}

std::optional<Ipv4Subnet> parse_ipv4_subnet(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto address = parse_ipv4(text.substr(0, slash));
  if (!address) return std::nullopt;
  const auto len_text = text.substr(slash + 1);
  unsigned length = 0;
  auto [next, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), length);
  if (ec != std::errc{} || next != len_text.data() + len_text.size() || len_text.empty() || length > 32)
    return std::nullopt;
  Ipv4Subnet subnet{*address, length};
  if ((*address & subnet.netmask()) != *address) return std::nullopt;
  return subnet;
}

}  // namespace usernet
