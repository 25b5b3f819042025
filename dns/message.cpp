#include "dns/message.hpp"

#include "dns/rdata.hpp"
#include "netstack/base/byte_order.hpp"

namespace usernet::dns {

namespace {

constexpr std::size_t kQuestionTrailer = 4;  // QTYPE, QCLASS
constexpr std::size_t kRecordTrailer = 10;   // TYPE, CLASS, TTL, RDLENGTH

std::uint16_t read_u16(std::span<const std::uint8_t> bytes, std::size_t at) {
  return static_cast<std::uint16_t>((bytes[at] << 8) | bytes[at + 1]);
}

std::uint32_t read_u32(std::span<const std::uint8_t> bytes, std::size_t at) {
  return (std::uint32_t{bytes[at]} << 24) | (std::uint32_t{bytes[at + 1]} << 16) |
         (std::uint32_t{bytes[at + 2]} << 8) | std::uint32_t{bytes[at + 3]};
}

// Second and third header octets: QR|Opcode|AA|TC|RD and RA|Z|AD|CD|RCODE.
std::uint16_t pack_flags(const Header& h) {
  unsigned flags = (h.response ? 0x8000u : 0u) | ((static_cast<unsigned>(h.opcode) & 0xfu) << 11) |
                   (h.authoritative ? 0x0400u : 0u) | (h.truncated ? 0x0200u : 0u) |
                   (h.recursion_desired ? 0x0100u : 0u) | (h.recursion_available ? 0x0080u : 0u) |
                   (h.authentic_data ? 0x0020u : 0u) | (h.checking_disabled ? 0x0010u : 0u) |
                   (h.rcode & 0xfu);
  return static_cast<std::uint16_t>(flags);
}

Header unpack_header(std::uint16_t id, std::uint16_t flags) {
  Header h;
  h.id = id;
  h.response = (flags & 0x8000) != 0;
  h.opcode = static_cast<Opcode>((flags >> 11) & 0xf);
  h.authoritative = (flags & 0x0400) != 0;
  h.truncated = (flags & 0x0200) != 0;
  h.recursion_desired = (flags & 0x0100) != 0;
  h.recursion_available = (flags & 0x0080) != 0;
  h.authentic_data = (flags & 0x0020) != 0;
  h.checking_disabled = (flags & 0x0010) != 0;
  h.rcode = static_cast<std::uint8_t>(flags & 0xf);
  return h;
}

// Parses one resource record at `offset`; sets `error` and returns nullopt on failure.
std::optional<ResourceRecord> parse_record(std::span<const std::uint8_t> bytes, std::size_t& offset,
                                           ParseError& error) {
  auto name = read_name(bytes, offset);
  if (!name) {
    error = offset >= bytes.size() ? ParseError::truncated : ParseError::bad_name;
    return std::nullopt;
  }
  if (offset + kRecordTrailer > bytes.size()) {
    error = ParseError::truncated;
    return std::nullopt;
  }
  ResourceRecord record;
  record.name = std::move(*name);
  record.type = static_cast<RecordType>(read_u16(bytes, offset));
  record.klass = static_cast<RecordClass>(read_u16(bytes, offset + 2));
  record.ttl = read_u32(bytes, offset + 4);
  std::size_t length = read_u16(bytes, offset + 8);
  offset += kRecordTrailer;
  if (offset + length > bytes.size()) {
    error = ParseError::truncated;
    return std::nullopt;
  }
  auto rdata = expand_rdata(record.type, bytes, offset, length);
  if (!rdata) {
    error = ParseError::bad_rdata;
    return std::nullopt;
  }
  record.rdata = std::move(*rdata);
  offset += length;
  return record;
}

// Turns an OPT record into Edns; only the root may own it (RFC 6891 6.1.1).
std::optional<Edns> edns_from_record(const ResourceRecord& record) {
  if (!record.name.is_root()) return std::nullopt;
  Edns edns;
  edns.udp_size = static_cast<std::uint16_t>(record.klass);
  edns.extended_rcode = static_cast<std::uint8_t>(record.ttl >> 24);
  edns.version = static_cast<std::uint8_t>((record.ttl >> 16) & 0xff);
  edns.dnssec_ok = (record.ttl & 0x8000) != 0;
  edns.options = record.rdata;
  return edns;
}

void write_record(std::vector<std::uint8_t>& out, const ResourceRecord& record, NameCompressor& compressor) {
  compressor.write(out, record.name);
  append_be16(out, static_cast<std::uint16_t>(record.type));
  append_be16(out, static_cast<std::uint16_t>(record.klass));
  append_be32(out, record.ttl);
  std::size_t length_at = out.size();
  append_be16(out, 0);
  write_rdata(record.type, record.rdata, out, compressor);
  std::size_t length = out.size() - length_at - 2;
  out[length_at] = static_cast<std::uint8_t>(length >> 8);
  out[length_at + 1] = static_cast<std::uint8_t>(length & 0xff);
}

}  // namespace

Rcode Message::rcode() const {
  unsigned high = edns ? edns->extended_rcode : 0u;
  return static_cast<Rcode>((high << 4) | header.rcode);
}

void Message::set_rcode(Rcode code) {
  auto value = static_cast<unsigned>(code);
  header.rcode = static_cast<std::uint8_t>(value & 0xf);
  if (edns) edns->extended_rcode = static_cast<std::uint8_t>((value >> 4) & 0xff);
}

std::string_view describe(ParseError error) {
  switch (error) {
    case ParseError::short_header: return "shorter than a DNS header";
    case ParseError::truncated: return "section runs past the end of the message";
    case ParseError::bad_name: return "malformed or looping domain name";
    case ParseError::bad_rdata: return "RDATA does not match its type's layout";
    case ParseError::bad_opt: return "misplaced or repeated OPT record";
  }
  return "unknown parse error";
}

std::optional<WireHeader> parse_header(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kHeaderSize) return std::nullopt;
  WireHeader wire;
  wire.header = unpack_header(read_u16(bytes, 0), read_u16(bytes, 2));
  wire.question_count = read_u16(bytes, 4);
  wire.answer_count = read_u16(bytes, 6);
  wire.authority_count = read_u16(bytes, 8);
  wire.additional_count = read_u16(bytes, 10);
  return wire;
}

ParseResult parse_message(std::span<const std::uint8_t> bytes) {
  ParseResult result;
  result.header = parse_header(bytes);
  if (!result.header) {
    result.error = ParseError::short_header;
    return result;
  }
  Message message;
  message.header = result.header->header;
  std::size_t offset = kHeaderSize;
  for (unsigned i = 0; i < result.header->question_count; ++i) {
    auto name = read_name(bytes, offset);
    if (!name) {
      result.error = offset >= bytes.size() ? ParseError::truncated : ParseError::bad_name;
      return result;
    }
    if (offset + kQuestionTrailer > bytes.size()) {
      result.error = ParseError::truncated;
      return result;
    }
    message.questions.push_back(Question{std::move(*name), static_cast<RecordType>(read_u16(bytes, offset)),
                                         static_cast<RecordClass>(read_u16(bytes, offset + 2))});
    offset += kQuestionTrailer;
  }
  struct Section {
    std::uint16_t count;
    std::vector<ResourceRecord>* records;
  };
  const Section sections[] = {{result.header->answer_count, &message.answers},
                              {result.header->authority_count, &message.authorities},
                              {result.header->additional_count, &message.additionals}};
  for (const Section& section : sections) {
    for (unsigned i = 0; i < section.count; ++i) {
      auto record = parse_record(bytes, offset, result.error);
      if (!record) return result;
      if (record->type != RecordType::opt) {
        section.records->push_back(std::move(*record));
        continue;
      }
      // OPT belongs in the additional section, once, owned by the root.
      if (section.records != &message.additionals || message.edns) {
        result.error = ParseError::bad_opt;
        return result;
      }
      message.edns = edns_from_record(*record);
      if (!message.edns) {
        result.error = ParseError::bad_opt;
        return result;
      }
    }
  }
  result.message = std::move(message);
  return result;
}

std::vector<std::uint8_t> encode_message(const Message& message) {
  std::vector<std::uint8_t> out;
  out.reserve(512);
  NameCompressor compressor;
  append_be16(out, message.header.id);
  append_be16(out, pack_flags(message.header));
  append_be16(out, static_cast<std::uint16_t>(message.questions.size()));
  append_be16(out, static_cast<std::uint16_t>(message.answers.size()));
  append_be16(out, static_cast<std::uint16_t>(message.authorities.size()));
  append_be16(out, static_cast<std::uint16_t>(message.additionals.size() + (message.edns ? 1 : 0)));
  for (const Question& question : message.questions) {
    compressor.write(out, question.name);
    append_be16(out, static_cast<std::uint16_t>(question.type));
    append_be16(out, static_cast<std::uint16_t>(question.klass));
  }
  for (const auto* section : {&message.answers, &message.authorities, &message.additionals}) {
    for (const ResourceRecord& record : *section) write_record(out, record, compressor);
  }
  if (message.edns) {
    const Edns& edns = *message.edns;
    ResourceRecord opt;
    opt.type = RecordType::opt;
    opt.klass = static_cast<RecordClass>(edns.udp_size);
    opt.ttl = (std::uint32_t{edns.extended_rcode} << 24) | (std::uint32_t{edns.version} << 16) |
              (edns.dnssec_ok ? 0x8000u : 0u);
    opt.rdata = edns.options;
    write_record(out, opt, compressor);
  }
  return out;
}

}  // namespace usernet::dns
