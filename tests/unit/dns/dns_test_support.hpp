// Helpers for the DNS unit tests: building queries and reading answers.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dns/message.hpp"
#include "dns/server.hpp"

namespace usernet::dns::test {

inline DomainName name(const std::string& text) {
  auto parsed = DomainName::from_text(text);
  REQUIRE(parsed.has_value());
  return *parsed;
}

/// A recursive query for (qname, type); EDNS with `udp_size` when given.
inline Message query_message(const std::string& qname, RecordType type, std::uint16_t id = 0x1234,
                             std::optional<std::uint16_t> udp_size = std::nullopt, bool dnssec_ok = false) {
  Message query;
  query.header.id = id;
  query.header.recursion_desired = true;
  query.questions.push_back(Question{name(qname), type, RecordClass::in});
  if (udp_size) query.edns = Edns{*udp_size, 0, 0, dnssec_ok, {}};
  return query;
}

inline std::vector<std::uint8_t> query_bytes(const std::string& qname, RecordType type, std::uint16_t id = 0x1234,
                                             std::optional<std::uint16_t> udp_size = std::nullopt,
                                             bool dnssec_ok = false) {
  return encode_message(query_message(qname, type, id, udp_size, dnssec_ok));
}

inline Message parse_ok(const std::vector<std::uint8_t>& bytes) {
  auto result = parse_message(bytes);
  REQUIRE_MESSAGE(result.message.has_value(), describe(result.error));
  return *result.message;
}

inline std::vector<std::uint8_t> ipv4_rdata(std::uint32_t ip) {
  return {static_cast<std::uint8_t>(ip >> 24), static_cast<std::uint8_t>(ip >> 16),
          static_cast<std::uint8_t>(ip >> 8), static_cast<std::uint8_t>(ip)};
}

/// A TXT record's RDATA made of `count` character-strings of `length` octets each.
inline std::vector<std::uint8_t> txt_rdata(std::size_t count, std::size_t length, char fill = 'x') {
  std::vector<std::uint8_t> rdata;
  for (std::size_t i = 0; i < count; ++i) {
    rdata.push_back(static_cast<std::uint8_t>(length));
    rdata.insert(rdata.end(), length, static_cast<std::uint8_t>(fill));
  }
  return rdata;
}

/// SOA RDATA with the given names and MINIMUM.
inline std::vector<std::uint8_t> soa_rdata(const std::string& mname, const std::string& rname, std::uint32_t minimum) {
  std::vector<std::uint8_t> rdata = name(mname).wire();
  auto r = name(rname).wire();
  rdata.insert(rdata.end(), r.begin(), r.end());
  for (std::uint32_t v : {1u, 3600u, 600u, 86400u, minimum}) {
    for (int shift = 24; shift >= 0; shift -= 8) rdata.push_back(static_cast<std::uint8_t>(v >> shift));
  }
  return rdata;
}

/// A response to `query` with `answers` (and the question copied).
inline Message response_to(const Message& query, std::vector<ResourceRecord> answers, Rcode rcode = Rcode::no_error) {
  Message response;
  response.header = query.header;
  response.header.response = true;
  response.header.recursion_available = true;
  response.questions = query.questions;
  response.answers = std::move(answers);
  response.edns = query.edns;
  response.set_rcode(rcode);
  return response;
}

/// The engine's decision, which must be a finished reply, parsed.
inline Message reply_of(const Decision& decision) {
  REQUIRE(std::holds_alternative<Reply>(decision));
  return parse_ok(std::get<Reply>(decision).bytes);
}

/// The engine's decision, which must be a forward upstream.
inline Forward forward_of(const Decision& decision) {
  REQUIRE(std::holds_alternative<Forward>(decision));
  return std::get<Forward>(decision);
}

}  // namespace usernet::dns::test
