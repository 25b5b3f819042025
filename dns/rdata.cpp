#include "dns/rdata.hpp"

#include <array>

namespace usernet::dns {

namespace {

// One RDATA field: a domain name, or a run of fixed-size octets.
struct Field {
  bool is_name;
  std::uint8_t size;  // octets, for fixed fields
};

constexpr Field kName{true, 0};
constexpr Field fixed(std::uint8_t size) { return Field{false, size}; }

// The fields of an RDATA that embeds names; only types with names have a layout.
struct Layout {
  std::array<Field, 3> fields;
  std::size_t count;
  bool compressible;  // RFC 1035 types; RFC 3597 forbids compressing the others
};

std::optional<Layout> layout_of(RecordType type) {
  switch (type) {
    case RecordType::ns:
    case RecordType::md:
    case RecordType::mf:
    case RecordType::cname:
    case RecordType::mb:
    case RecordType::mg:
    case RecordType::mr:
    case RecordType::ptr:
      return Layout{{kName}, 1, true};
    case RecordType::soa:
      return Layout{{kName, kName, fixed(20)}, 3, true};
    case RecordType::minfo:
      return Layout{{kName, kName}, 2, true};
    case RecordType::mx:
      return Layout{{fixed(2), kName}, 2, true};
    case RecordType::rp:
      return Layout{{kName, kName}, 2, false};
    case RecordType::afsdb:
    case RecordType::rt:
      return Layout{{fixed(2), kName}, 2, false};
    case RecordType::px:
      return Layout{{fixed(2), kName, kName}, 3, false};
    case RecordType::srv:
      return Layout{{fixed(6), kName}, 2, false};
    default:
      return std::nullopt;
  }
}

}  // namespace

std::optional<std::vector<std::uint8_t>> expand_rdata(RecordType type, std::span<const std::uint8_t> message,
                                                      std::size_t offset, std::size_t length) {
  if (offset + length > message.size()) return std::nullopt;
  auto layout = layout_of(type);
  auto begin = message.begin() + static_cast<std::ptrdiff_t>(offset);
  if (!layout) return std::vector<std::uint8_t>(begin, begin + static_cast<std::ptrdiff_t>(length));
  const std::size_t end = offset + length;
  // A name may point anywhere earlier in the message, but its in-place octets must stay
  // inside this RDATA.
  auto bounded = message.first(end);
  std::vector<std::uint8_t> out;
  std::size_t position = offset;
  for (std::size_t i = 0; i < layout->count; ++i) {
    const Field& field = layout->fields[i];
    if (field.is_name) {
      auto name = read_name(bounded, position);
      if (!name) return std::nullopt;
      out.insert(out.end(), name->wire().begin(), name->wire().end());
    } else {
      if (position + field.size > end) return std::nullopt;
      auto from = message.begin() + static_cast<std::ptrdiff_t>(position);
      out.insert(out.end(), from, from + field.size);
      position += field.size;
    }
  }
  if (position != end) return std::nullopt;
  return out;
}

void write_rdata(RecordType type, std::span<const std::uint8_t> rdata, std::vector<std::uint8_t>& out,
                 NameCompressor& compressor) {
  auto layout = layout_of(type);
  if (!layout) {
    out.insert(out.end(), rdata.begin(), rdata.end());
    return;
  }
  // Re-read the fields first so that malformed stored RDATA is written verbatim, whole.
  std::vector<std::optional<DomainName>> names;
  std::size_t position = 0;
  for (std::size_t i = 0; i < layout->count; ++i) {
    const Field& field = layout->fields[i];
    if (field.is_name) {
      std::size_t before = position;
      names.push_back(read_name(rdata, position));
      // Stored RDATA is uncompressed: a pointer here means it is not ours to rewrite.
      if (names.back() && names.back()->wire().size() != position - before) names.back().reset();
      if (!names.back()) break;
    } else {
      position += field.size;
      if (position > rdata.size()) break;
    }
  }
  if (position != rdata.size() || (!names.empty() && !names.back())) {
    out.insert(out.end(), rdata.begin(), rdata.end());
    return;
  }
  position = 0;
  std::size_t name_index = 0;
  for (std::size_t i = 0; i < layout->count; ++i) {
    const Field& field = layout->fields[i];
    if (field.is_name) {
      const DomainName& name = *names[name_index++];
      compressor.write(out, name, layout->compressible);
      position += name.wire().size();
    } else {
      out.insert(out.end(), rdata.begin() + static_cast<std::ptrdiff_t>(position),
                 rdata.begin() + static_cast<std::ptrdiff_t>(position + field.size));
      position += field.size;
    }
  }
}

}  // namespace usernet::dns
