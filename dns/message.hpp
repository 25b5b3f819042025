// DNS message codec (RFC 1035 section 4, EDNS0 OPT from RFC 6891): parse a message from
// bytes into sections of records, and encode sections back into bytes with name
// compression. Names inside RDATA of the types that may carry compressed names are
// expanded on input, so a parsed record is self-contained and can be re-encoded into any
// other message.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "dns/name.hpp"
#include "dns/protocol.hpp"

namespace usernet::dns {

/// The fixed 12-octet header minus the section counts (those come from the sections).
struct Header {
  std::uint16_t id = 0;
  bool response = false;             // QR
  Opcode opcode = Opcode::query;
  bool authoritative = false;        // AA
  bool truncated = false;            // TC
  bool recursion_desired = false;    // RD
  bool recursion_available = false;  // RA
  bool authentic_data = false;       // AD (RFC 4035)
  bool checking_disabled = false;    // CD (RFC 4035)
  std::uint8_t rcode = 0;            // low 4 bits of the RCODE
};

/// Header fields plus the four section counts, as they stand on the wire.
struct WireHeader {
  Header header;
  std::uint16_t question_count = 0;
  std::uint16_t answer_count = 0;
  std::uint16_t authority_count = 0;
  std::uint16_t additional_count = 0;
};

struct Question {
  DomainName name;
  RecordType type = RecordType::a;
  RecordClass klass = RecordClass::in;
  bool operator==(const Question&) const = default;
};

struct ResourceRecord {
  DomainName name;
  RecordType type = RecordType::a;
  RecordClass klass = RecordClass::in;
  std::uint32_t ttl = 0;
  std::vector<std::uint8_t> rdata;  // embedded names uncompressed
  bool operator==(const ResourceRecord&) const = default;
};

/// The OPT pseudo-record's contents (RFC 6891 6.1.3).
struct Edns {
  std::uint16_t udp_size = 512;
  std::uint8_t extended_rcode = 0;  // upper 8 bits of the 12-bit RCODE
  std::uint8_t version = 0;
  bool dnssec_ok = false;  // DO
  std::vector<std::uint8_t> options;  // raw option TLVs
  bool operator==(const Edns&) const = default;
};

struct Message {
  Header header;
  std::vector<Question> questions;
  std::vector<ResourceRecord> answers;
  std::vector<ResourceRecord> authorities;
  std::vector<ResourceRecord> additionals;  // without the OPT record
  std::optional<Edns> edns;                 // the OPT record, when present

  /// Full RCODE: header bits plus the EDNS extended bits.
  Rcode rcode() const;
  /// Sets header and EDNS RCODE bits; RCODEs above 15 need `edns` to be present.
  void set_rcode(Rcode code);
};

enum class ParseError {
  short_header,    // fewer than 12 octets: nothing can be answered
  truncated,       // a section runs past the end of the input
  bad_name,        // bad label type, forward/looping pointer, overlong name
  bad_rdata,       // RDATA length disagrees with the RDATA's own structure
  bad_opt,         // OPT not owned by the root, or more than one OPT
};

/// Short human-readable text for a parse error (logs, test messages).
std::string_view describe(ParseError error);

/// A parse result: the message, or the error (and, when the header was readable, the header
/// so that the caller can still answer FORMERR with the right id).
struct ParseResult {
  std::optional<Message> message;
  ParseError error = ParseError::short_header;
  std::optional<WireHeader> header;
};

/// Reads the fixed header; nullopt when fewer than 12 octets are given.
std::optional<WireHeader> parse_header(std::span<const std::uint8_t> bytes);

/// Parses a whole message. Octets after the last counted record are ignored.
ParseResult parse_message(std::span<const std::uint8_t> bytes);

/// Encodes a message (compressing owner names, question names and names in the RDATA of
/// RFC 1035 types). Sections with more than 65535 entries are an error of the caller.
std::vector<std::uint8_t> encode_message(const Message& message);

}  // namespace usernet::dns
