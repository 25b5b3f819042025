#include "netstack/base/domain_name.hpp"

namespace usernet {

namespace {
constexpr std::size_t kMaxLabel = 63;
constexpr std::size_t kMaxName = 255;
}  // namespace

std::optional<std::vector<std::uint8_t>> encode_domain_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty()) return std::nullopt;
  std::vector<std::uint8_t> wire;
  std::size_t begin = 0;
  while (begin <= name.size()) {
    std::size_t end = name.find('.', begin);
    if (end == std::string_view::npos) end = name.size();
    const std::string_view label = name.substr(begin, end - begin);
    if (label.empty() || label.size() > kMaxLabel) return std::nullopt;
    wire.push_back(static_cast<std::uint8_t>(label.size()));
    wire.insert(wire.end(), label.begin(), label.end());
    begin = end + 1;
  }
  wire.push_back(0);
  if (wire.size() > kMaxName) return std::nullopt;
  return wire;
}

}  // namespace usernet
