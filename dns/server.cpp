#include "dns/server.hpp"

#include <algorithm>

#include "dns/dns64.hpp"

namespace usernet::dns {

namespace {

// A meta-type that must not appear as a question, or a zone transfer we do not serve.
bool refused_type(RecordType type) { return type == RecordType::axfr || type == RecordType::ixfr; }

// AD may only be set for clients that asked for DNSSEC data (RFC 6840 section 5.8).
bool client_wants_ad(const PendingQuery& pending) {
  return pending.query_header.authentic_data || pending.client_dnssec_ok();
}

}  // namespace

DnsServer::DnsServer(ServerConfig config)
    : config_(std::move(config)),
      zones_(ZoneTable::with_defaults(config_.local.gateway_ip, config_.local.host_ip)),
      local_(config_.local, zones_, {}),
      cache_(config_.cache) {}

std::size_t DnsServer::size_limit(const PendingQuery& pending) const {
  if (pending.transport == Transport::tcp) return kMaxMessageSize;
  if (!pending.client_edns) return kClassicUdpSize;
  return std::clamp<std::size_t>(pending.client_edns->udp_size, kClassicUdpSize, config_.max_udp_size);
}

Message DnsServer::start_reply(const PendingQuery& pending) const {
  Message reply;
  reply.header.id = pending.query_header.id;
  reply.header.response = true;
  reply.header.opcode = pending.query_header.opcode;
  reply.header.recursion_desired = pending.query_header.recursion_desired;
  reply.header.checking_disabled = pending.query_header.checking_disabled;
  reply.header.recursion_available = true;
  if (pending.has_question) reply.questions.push_back(pending.question);
  if (pending.client_edns) {
    Edns edns;
    edns.udp_size = config_.max_udp_size;
    edns.dnssec_ok = pending.client_edns->dnssec_ok;
    reply.edns = edns;
  }
  return reply;
}

std::vector<std::uint8_t> DnsServer::finalize(Message& reply, const PendingQuery& pending) {
  auto bytes = encode_message(reply);
  if (bytes.size() <= size_limit(pending)) return bytes;
  if (pending.transport == Transport::tcp) {
    // Cannot happen for sane data (the upstream's answer fitted in 64 KiB too); fail cleanly.
    return error_reply(pending, Rcode::server_failure);
  }
  // Header and question only, TC set: the client retries over TCP (RFC 2181 section 9).
  ++counters_.truncated;
  reply.answers.clear();
  reply.authorities.clear();
  reply.additionals.clear();
  reply.header.truncated = true;
  return encode_message(reply);
}

std::vector<std::uint8_t> DnsServer::error_reply(const PendingQuery& pending, Rcode rcode) {
  Message reply = start_reply(pending);
  if (static_cast<unsigned>(rcode) > 15 && !reply.edns) reply.edns = Edns{config_.max_udp_size, 0, 0, false, {}};
  reply.set_rcode(rcode);
  return encode_message(reply);
}

Decision DnsServer::handle(std::span<const std::uint8_t> query, Transport transport, std::uint64_t now_ms) {
  ++counters_.queries;
  auto header = parse_header(query);
  if (!header || header->header.response) {
    ++counters_.drops;  // unreadable, or a response: answering responses invites loops
    return Drop{};
  }
  PendingQuery pending;
  pending.query_header = header->header;
  pending.transport = transport;

  auto parsed = parse_message(query);
  if (!parsed.message) {
    ++counters_.malformed;
    return Reply{error_reply(pending, Rcode::format_error)};
  }
  Message& message = *parsed.message;
  if (message.questions.size() == 1) {
    pending.question = message.questions.front();
    pending.has_question = true;
  }
  if (header->header.opcode != Opcode::query) return Reply{error_reply(pending, Rcode::not_implemented)};
  if (!pending.has_question || pending.question.type == RecordType::opt) {
    ++counters_.malformed;
    return Reply{error_reply(pending, Rcode::format_error)};
  }
  pending.client_edns = message.edns;
  if (message.edns && message.edns->version != 0) return Reply{error_reply(pending, Rcode::bad_version)};
  if (refused_type(pending.question.type)) {
    ++counters_.refused;
    return Reply{error_reply(pending, Rcode::refused)};
  }

  if (auto local = local_.answer(pending.question)) {
    ++counters_.local_answers;
    Message reply = start_reply(pending);
    reply.header.authoritative = true;
    reply.set_rcode(local->rcode);
    reply.answers = std::move(local->answers);
    reply.authorities = std::move(local->authorities);
    if (dns64_applies(pending, local->rcode, reply.answers)) return dns64_or_reply(std::move(pending), std::move(reply), now_ms);
    return Reply{finalize(reply, pending)};
  }

  pending.cache_key = make_cache_key(pending.question, pending.client_dnssec_ok(), pending.query_header.checking_disabled);
  if (auto cached = cache_.lookup(pending.cache_key, now_ms)) {
    ++counters_.cache_hits;
    Message reply = start_reply(pending);
    reply.set_rcode(cached->rcode);
    reply.header.authentic_data = cached->authentic_data && client_wants_ad(pending);
    reply.answers = std::move(cached->answers);
    reply.authorities = std::move(cached->authorities);
    reply.additionals = std::move(cached->additionals);
    if (dns64_applies(pending, cached->rcode, reply.answers)) return dns64_or_reply(std::move(pending), std::move(reply), now_ms);
    return Reply{finalize(reply, pending)};
  }

  ++counters_.upstream_queries;
  return Forward{std::vector<std::uint8_t>(query.begin(), query.end()), std::move(pending)};
}

Decision DnsServer::finish(const PendingQuery& pending, std::optional<std::span<const std::uint8_t>> upstream_answer,
                           std::uint64_t now_ms) {
  std::optional<Message> upstream;
  if (upstream_answer) upstream = parse_message(*upstream_answer).message;
  // What went upstream: the client's question, or the A question of a DNS64 lookup.
  const Question& asked = pending.dns64_aaaa_answer ? pending.cache_key.question : pending.question;
  // Usable: a response to our question with a final RCODE; anything else is a failure.
  bool usable = upstream && upstream->header.response && upstream->questions.size() == 1 &&
                upstream->questions.front().type == asked.type && upstream->questions.front().klass == asked.klass &&
                upstream->questions.front().name.equals_ignore_case(asked.name) &&
                (upstream->rcode() == Rcode::no_error || upstream->rcode() == Rcode::name_error);
  if (pending.dns64_aaaa_answer) {
    // No A records (or no answer) leaves the AAAA answer as it was, never a failure.
    if (!usable) ++counters_.upstream_failures;
    if (usable) cache_.store(pending.cache_key, *upstream, now_ms);
    if (usable && upstream->rcode() == Rcode::no_error)
      if (auto synthesized = synthesized_reply(pending, *pending.dns64_aaaa_answer, upstream->answers))
        return Reply{std::move(*synthesized)};
    Message aaaa = *pending.dns64_aaaa_answer;
    return Reply{finalize(aaaa, pending)};
  }
  if (!usable) {
    ++counters_.upstream_failures;
    // DNS64 treats an AAAA error (SERVFAIL, REFUSED, ...) as an empty answer (RFC 6147
    // §5.1.2): the A records may still exist. Without them the failure stands. c-ares
    // reports an error RCODE from every server as a failure without the message, so any
    // failure counts as one.
    if (dns64_applies(pending, Rcode::no_error, {})) {
      Message failure = start_reply(pending);
      failure.set_rcode(Rcode::server_failure);
      return dns64_or_reply(pending, std::move(failure), now_ms);
    }
    return Reply{error_reply(pending, Rcode::server_failure)};
  }
  cache_.store(pending.cache_key, *upstream, now_ms);
  Message reply = start_reply(pending);
  reply.set_rcode(upstream->rcode());
  reply.header.authoritative = upstream->header.authoritative;
  reply.header.truncated = upstream->header.truncated;
  reply.header.authentic_data = upstream->header.authentic_data && client_wants_ad(pending);
  reply.answers = std::move(upstream->answers);
  reply.authorities = std::move(upstream->authorities);
  reply.additionals = std::move(upstream->additionals);
  if (dns64_applies(pending, reply.rcode(), reply.answers)) return dns64_or_reply(pending, std::move(reply), now_ms);
  return Reply{finalize(reply, pending)};
}

bool DnsServer::dns64_applies(const PendingQuery& pending, Rcode rcode, const std::vector<ResourceRecord>& answers) const {
  return config_.dns64_prefix && !pending.dns64_aaaa_answer &&
         needs_synthesis(pending.question, rcode, answers, pending.client_dnssec_ok(),
                         pending.query_header.checking_disabled);
}

Decision DnsServer::dns64_or_reply(PendingQuery pending, Message aaaa, std::uint64_t now_ms) {
  const Question a_question{pending.question.name, RecordType::a, RecordClass::in};
  std::optional<std::vector<ResourceRecord>> a_answers;
  if (auto local = local_.answer(a_question)) {
    if (local->rcode == Rcode::no_error) a_answers = std::move(local->answers);
  } else {
    const bool dnssec_ok = pending.client_dnssec_ok();
    CacheKey a_key = make_cache_key(a_question, dnssec_ok, pending.query_header.checking_disabled);
    if (auto cached = cache_.lookup(a_key, now_ms)) {
      ++counters_.cache_hits;
      if (cached->rcode == Rcode::no_error) a_answers = std::move(cached->answers);
    } else {
      // Ask upstream for the A records; finish() completes the AAAA answer from them.
      Message query;
      query.header.recursion_desired = true;
      query.header.checking_disabled = pending.query_header.checking_disabled;
      query.questions.push_back(a_question);
      query.edns = Edns{config_.max_udp_size, 0, 0, dnssec_ok, {}};
      pending.cache_key = std::move(a_key);
      pending.dns64_aaaa_answer = std::move(aaaa);
      ++counters_.upstream_queries;
      return Forward{encode_message(query), std::move(pending)};
    }
  }
  if (a_answers)
    if (auto synthesized = synthesized_reply(pending, aaaa, *a_answers)) return Reply{std::move(*synthesized)};
  return Reply{finalize(aaaa, pending)};
}

std::optional<std::vector<std::uint8_t>> DnsServer::synthesized_reply(const PendingQuery& pending, const Message& aaaa,
                                                                      const std::vector<ResourceRecord>& a_answers) {
  // The guests' own subnet is on the link, not behind NAT64; the host alias is translated.
  auto unreachable = [&](std::uint32_t address) {
    return local_.in_subnet(address) && address != config_.local.host_ip;
  };
  auto answers = synthesize_aaaa(*config_.dns64_prefix, a_answers, negative_ttl(aaaa.authorities), unreachable);
  if (!answers) return std::nullopt;
  ++counters_.dns64_synthesized;
  Message reply = start_reply(pending);
  reply.answers = std::move(*answers);
  return finalize(reply, pending);
}

}  // namespace usernet::dns
