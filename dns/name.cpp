#include "dns/name.hpp"

#include <algorithm>

#include "dns/protocol.hpp"

namespace usernet::dns {

namespace {

constexpr std::uint8_t kPointerTag = 0xc0;  // top two bits 11: compression pointer
constexpr std::size_t kMaxPointerHops = 127;  // > labels a 255-octet name can hold

// Offsets of the labels of an uncompressed, valid wire name (root label excluded).
std::vector<std::size_t> label_offsets(const std::vector<std::uint8_t>& wire) {
  std::vector<std::size_t> offsets;
  for (std::size_t i = 0; wire[i] != 0; i += 1 + wire[i]) offsets.push_back(i);
  return offsets;
}

// Appends the presentation form of one label's octets, escaping what needs it.
void append_label_text(std::string& out, std::span<const std::uint8_t> label) {
  for (std::uint8_t c : label) {
    if (c == '.' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c > 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += '\\';
      out += static_cast<char>('0' + c / 100);
      out += static_cast<char>('0' + (c / 10) % 10);
      out += static_cast<char>('0' + c % 10);
    }
  }
}

}  // namespace

DomainName::DomainName() : wire_{0} {}

std::optional<DomainName> DomainName::from_text(std::string_view text) {
  if (text.empty() || text == ".") return DomainName();
  std::vector<std::uint8_t> wire;
  std::vector<std::uint8_t> label;
  // Closes the current label; false when it is empty or too long.
  auto finish_label = [&]() {
    if (label.empty() || label.size() > kMaxLabelLength) return false;
    wire.push_back(static_cast<std::uint8_t>(label.size()));
    wire.insert(wire.end(), label.begin(), label.end());
    label.clear();
    return true;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.') {
      if (!finish_label()) return std::nullopt;
      continue;
    }
    if (c != '\\') {
      label.push_back(static_cast<std::uint8_t>(c));
      continue;
    }
    if (++i >= text.size()) return std::nullopt;
    if (text[i] >= '0' && text[i] <= '9') {
      if (i + 2 >= text.size()) return std::nullopt;
      unsigned value = 0;
      for (std::size_t k = 0; k < 3; ++k) {
        char d = text[i + k];
        if (d < '0' || d > '9') return std::nullopt;
        value = value * 10 + static_cast<unsigned>(d - '0');
      }
      if (value > 255) return std::nullopt;
      label.push_back(static_cast<std::uint8_t>(value));
      i += 2;
    } else {
      label.push_back(static_cast<std::uint8_t>(text[i]));
    }
  }
  if (!label.empty() && !finish_label()) return std::nullopt;
  wire.push_back(0);
  if (wire.size() > kMaxNameLength) return std::nullopt;
  return DomainName(std::move(wire));
}

std::optional<DomainName> DomainName::from_wire(std::span<const std::uint8_t> octets) {
  std::size_t i = 0;
  while (i < octets.size() && octets[i] != 0) {
    if (octets[i] > kMaxLabelLength) return std::nullopt;
    i += 1 + octets[i];
  }
  if (i + 1 != octets.size() || octets.size() > kMaxNameLength) return std::nullopt;
  return DomainName(std::vector<std::uint8_t>(octets.begin(), octets.end()));
}

std::string DomainName::to_text() const {
  if (is_root()) return ".";
  std::string out;
  for (std::size_t i : label_offsets(wire_)) {
    append_label_text(out, std::span(wire_).subspan(i + 1, wire_[i]));
    out += '.';
  }
  return out;
}

std::string DomainName::leading_labels_text(std::size_t count) const {
  std::string out;
  auto offsets = label_offsets(wire_);
  for (std::size_t n = 0; n < count && n < offsets.size(); ++n) {
    if (n > 0) out += '.';
    append_label_text(out, std::span(wire_).subspan(offsets[n] + 1, wire_[offsets[n]]));
  }
  return out;
}

std::size_t DomainName::label_count() const { return label_offsets(wire_).size(); }

DomainName DomainName::lowercase() const {
  std::vector<std::uint8_t> lowered(wire_);
  // Length octets are <= 63, below 'A', so lower-casing every octet is safe.
  std::transform(lowered.begin(), lowered.end(), lowered.begin(), ascii_lower);
  return DomainName(std::move(lowered));
}

bool DomainName::equals_ignore_case(const DomainName& other) const {
  return wire_.size() == other.wire_.size() &&
         std::equal(wire_.begin(), wire_.end(), other.wire_.begin(),
                    [](std::uint8_t a, std::uint8_t b) { return ascii_lower(a) == ascii_lower(b); });
}

std::optional<std::size_t> DomainName::labels_below(const DomainName& zone) const {
  if (zone.wire_.size() > wire_.size()) return std::nullopt;
  // The zone must match a suffix that starts on a label boundary.
  auto offsets = label_offsets(wire_);
  std::size_t start = wire_.size() - zone.wire_.size();
  for (std::size_t n = 0; n <= offsets.size(); ++n) {
    std::size_t at = n < offsets.size() ? offsets[n] : wire_.size() - 1;
    if (at != start) continue;
    bool same = std::equal(zone.wire_.begin(), zone.wire_.end(), wire_.begin() + static_cast<std::ptrdiff_t>(at),
                           [](std::uint8_t a, std::uint8_t b) { return ascii_lower(a) == ascii_lower(b); });
    if (same) return n;
    return std::nullopt;
  }
  return std::nullopt;
}

std::optional<DomainName> DomainName::prepend(std::string_view label) const {
  if (label.empty() || label.size() > kMaxLabelLength) return std::nullopt;
  if (wire_.size() + 1 + label.size() > kMaxNameLength) return std::nullopt;
  std::vector<std::uint8_t> wire;
  wire.reserve(wire_.size() + 1 + label.size());
  wire.push_back(static_cast<std::uint8_t>(label.size()));
  wire.insert(wire.end(), label.begin(), label.end());
  wire.insert(wire.end(), wire_.begin(), wire_.end());
  return DomainName(std::move(wire));
}

std::optional<DomainName> read_name(std::span<const std::uint8_t> message, std::size_t& offset) {
  std::vector<std::uint8_t> wire;
  std::size_t position = offset;
  std::size_t end_in_place = 0;  // set once the first pointer is followed
  std::size_t hops = 0;
  while (true) {
    if (position >= message.size()) return std::nullopt;
    std::uint8_t length = message[position];
    if ((length & kPointerTag) == kPointerTag) {
      if (position + 1 >= message.size() || ++hops > kMaxPointerHops) return std::nullopt;
      const auto target = static_cast<std::size_t>(((length & 0x3f) << 8) | message[position + 1]);
      if (target >= position) return std::nullopt;  // only backwards: no loops
      if (end_in_place == 0) end_in_place = position + 2;
      position = target;
      continue;
    }
    if ((length & kPointerTag) != 0) return std::nullopt;  // 01/10 label types are reserved
    if (length == 0) break;
    if (position + 1 + length > message.size()) return std::nullopt;
    if (wire.size() + 1 + length + 1 > kMaxNameLength) return std::nullopt;
    wire.insert(wire.end(), message.begin() + static_cast<std::ptrdiff_t>(position),
                message.begin() + static_cast<std::ptrdiff_t>(position + 1 + length));
    position += 1 + length;
  }
  wire.push_back(0);
  offset = end_in_place != 0 ? end_in_place : position + 1;
  return DomainName::from_wire(wire);
}

void NameCompressor::write(std::vector<std::uint8_t>& out, const DomainName& name, bool compress) {
  // Suffixes match octet for octet, not case-insensitively: a pointer to a differently
  // cased copy would change the name's case, which 0x20-randomising resolvers check.
  const auto& wire = name.wire();
  std::size_t i = 0;
  while (wire[i] != 0) {
    std::string suffix(wire.begin() + static_cast<std::ptrdiff_t>(i), wire.end());
    if (compress) {
      auto found = suffix_offsets_.find(suffix);
      if (found != suffix_offsets_.end()) {
        out.push_back(static_cast<std::uint8_t>(kPointerTag | (found->second >> 8)));
        out.push_back(static_cast<std::uint8_t>(found->second & 0xff));
        return;
      }
    }
    if (out.size() <= kCompressionPointerLimit) {
      suffix_offsets_.emplace(std::move(suffix), static_cast<std::uint16_t>(out.size()));
    }
    out.insert(out.end(), wire.begin() + static_cast<std::ptrdiff_t>(i),
               wire.begin() + static_cast<std::ptrdiff_t>(i + 1 + wire[i]));
    i += 1 + wire[i];
  }
  out.push_back(0);
}

}  // namespace usernet::dns
