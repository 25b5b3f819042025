// Domain names: an owned, validated, uncompressed wire-format name (length-prefixed labels
// ending in the root label), reading names with decompression out of a message, and
// writing names with compression into one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace usernet::dns {

/// A domain name kept in uncompressed wire format. Always valid: labels of 1..63 octets,
/// at most 255 octets in total. Comparisons that matter for DNS are case-insensitive
/// (ASCII only, RFC 4343); operator== compares exact octets.
class DomainName {
 public:
  /// The root name ".".
  DomainName();

  /// Parses presentation text ("www.example.com", trailing dot optional, "\." and "\DDD"
  /// escapes); nullopt on empty labels, overlong labels/names or bad escapes.
  static std::optional<DomainName> from_text(std::string_view text);
  /// Validates uncompressed wire octets that must hold exactly one name.
  static std::optional<DomainName> from_wire(std::span<const std::uint8_t> octets);

  /// Presentation form with a trailing dot; unprintable octets, '.' and '\' are escaped.
  std::string to_text() const;
  /// The first `count` labels joined by '.', without trailing dot (name relative to a zone).
  std::string leading_labels_text(std::size_t count) const;

  const std::vector<std::uint8_t>& wire() const { return wire_; }
  std::size_t label_count() const;
  bool is_root() const { return wire_.size() == 1; }

  /// Copy with ASCII letters lower-cased (cache keys, zone matching).
  DomainName lowercase() const;
  bool equals_ignore_case(const DomainName& other) const;
  /// Labels this name has above `zone` when it equals `zone` (0) or lies below it;
  /// nullopt when it is not inside `zone`. Case-insensitive.
  std::optional<std::size_t> labels_below(const DomainName& zone) const;
  /// Prepends one label (1..63 octets); nullopt when the result would be invalid.
  std::optional<DomainName> prepend(std::string_view label) const;

  bool operator==(const DomainName&) const = default;

 private:
  explicit DomainName(std::vector<std::uint8_t> wire) : wire_(std::move(wire)) {}
  std::vector<std::uint8_t> wire_;
};

/// Reads a name that starts at `offset` in `message`, following compression pointers.
/// Pointers must point strictly before the label that holds them, which rules out loops;
/// the expanded name must stay within 255 octets. On success `offset` moves past the
/// octets the name occupies in place (up to and including the first pointer).
std::optional<DomainName> read_name(std::span<const std::uint8_t> message, std::size_t& offset);

/// Writes names into one message, pointing repeated suffixes at their first copy
/// (RFC 1035 4.1.4). One compressor per message being built.
class NameCompressor {
 public:
  /// Appends `name` to `out`; with `compress` false the name is written in full (but its
  /// suffixes still become targets for later names).
  void write(std::vector<std::uint8_t>& out, const DomainName& name, bool compress = true);

 private:
  std::unordered_map<std::string, std::uint16_t> suffix_offsets_;  // wire suffix, case kept
};

/// ASCII lower-casing of one octet (DNS case-insensitivity, RFC 4343).
inline std::uint8_t ascii_lower(std::uint8_t c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<std::uint8_t>(c + ('a' - 'A')) : c;
}

}  // namespace usernet::dns
