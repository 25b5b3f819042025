#include "dhcp/options.hpp"

#include <algorithm>
#include <map>

namespace usernet::dhcp {

namespace {

inline constexpr std::size_t kMaxLabelLength = 63;
inline constexpr std::size_t kMaxNameTextLength = 253;
/// A compression pointer holds a 14-bit offset (RFC 1035 §4.1.4).
inline constexpr std::size_t kMaxPointerOffset = 0x3fff;
inline constexpr std::uint8_t kPointerTag = 0xc0;

bool is_letter_or_digit(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/// Splits "a.b.c" / "a.b.c." into its labels (the caller has validated the name).
std::vector<std::string_view> split_labels(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::vector<std::string_view> labels;
  while (!name.empty()) {
    const std::size_t dot = name.find('.');
    labels.push_back(name.substr(0, dot));
    if (dot == std::string_view::npos) break;
    name.remove_prefix(dot + 1);
  }
  return labels;
}

/// Case-sensitive key of the labels from index `first` on, used to find reusable suffixes.
std::string suffix_key(const std::vector<std::string_view>& labels, std::size_t first) {
  std::string key;
  for (std::size_t i = first; i < labels.size(); ++i) {
    key += labels[i];
    key += '.';
  }
  return key;
}

}  // namespace

std::size_t encoded_option_size(std::size_t data_size) {
  const std::size_t instances =
      data_size == 0 ? 1 : (data_size + kMaxOptionInstance - 1) / kMaxOptionInstance;
  return data_size + 2 * instances;
}

void append_option(std::vector<std::uint8_t>& out, OptionCode code,
                   std::span<const std::uint8_t> data) {
  do {
    const std::size_t chunk = std::min(data.size(), kMaxOptionInstance);
    out.push_back(static_cast<std::uint8_t>(code));
    out.push_back(static_cast<std::uint8_t>(chunk));
    out.insert(out.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(chunk));
    data = data.subspan(chunk);
  } while (!data.empty());
}

std::vector<std::uint8_t> encode_ipv4_list(std::span<const std::uint32_t> addresses) {
  std::vector<std::uint8_t> out(addresses.size() * 4);
  for (std::size_t i = 0; i < addresses.size(); ++i) write_u32(out, i * 4, addresses[i]);
  return out;
}

std::vector<std::uint8_t> encode_u16(std::uint16_t value) {
  std::vector<std::uint8_t> out(2);
  write_u16(out, 0, value);
  return out;
}

std::vector<std::uint8_t> encode_u32(std::uint32_t value) {
  std::vector<std::uint8_t> out(4);
  write_u32(out, 0, value);
  return out;
}

bool is_valid_domain_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > kMaxNameTextLength) return false;
  std::size_t label_length = 0;
  for (const char c : name) {
    if (c == '.') {
      if (label_length == 0) return false;
      label_length = 0;
      continue;
    }
    if (!is_letter_or_digit(c) && c != '-' && c != '_') return false;
    if (++label_length > kMaxLabelLength) return false;
  }
  return label_length != 0;
}

std::optional<std::vector<std::uint8_t>> encode_domain_search(
    std::span<const std::string> domains) {
  std::vector<std::uint8_t> out;
  std::map<std::string, std::size_t> suffix_offsets;  // suffix already written -> its offset
  for (const std::string& domain : domains) {
    if (!is_valid_domain_name(domain)) return std::nullopt;
    const auto labels = split_labels(domain);
    bool pointed = false;
    for (std::size_t i = 0; i < labels.size(); ++i) {
      const std::string key = suffix_key(labels, i);
      if (const auto found = suffix_offsets.find(key); found != suffix_offsets.end()) {
        out.push_back(static_cast<std::uint8_t>(kPointerTag | (found->second >> 8)));
        out.push_back(static_cast<std::uint8_t>(found->second));
        pointed = true;
        break;
      }
      if (out.size() <= kMaxPointerOffset) suffix_offsets.emplace(key, out.size());
      out.push_back(static_cast<std::uint8_t>(labels[i].size()));
      out.insert(out.end(), labels[i].begin(), labels[i].end());
    }
    if (!pointed) out.push_back(0);
  }
  return out;
}

std::vector<std::uint8_t> encode_classless_routes(std::span<const ClasslessRoute> routes) {
  std::vector<std::uint8_t> out;
  for (const ClasslessRoute& route : routes) {
    out.push_back(route.prefix_length);
    const std::size_t significant = (route.prefix_length + 7u) / 8u;
    for (std::size_t i = 0; i < significant; ++i) {
      out.push_back(static_cast<std::uint8_t>(route.destination >> (24 - 8 * i)));
    }
    const auto router = encode_u32(route.router);
    out.insert(out.end(), router.begin(), router.end());
  }
  return out;
}

std::string host_name_label(std::span<const std::uint8_t> option_value) {
  std::string text(option_value.begin(), option_value.end());
  while (!text.empty() && text.back() == '\0') text.pop_back();
  text = text.substr(0, text.find('.'));
  if (text.empty() || text.size() > kMaxLabelLength) return {};
  if (text.front() == '-' || text.back() == '-') return {};
  for (const char c : text) {
    if (!is_letter_or_digit(c) && c != '-') return {};
  }
  return text;
}

}  // namespace usernet::dhcp
