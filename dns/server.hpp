// The gateway's DNS server engine, pure (no sockets): a query in, and either a finished
// answer, a forward request for the upstream resolver, or a counted drop. Order of
// resolution: local names (zones, leases, PTR) -> cache -> upstream. The lwIP glue owns the
// sockets: for UDP it passes the datagram's payload, for TCP one message without its
// two-byte length prefix, and it prefixes TCP answers with their length.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <variant>
#include <vector>

#include "dns/cache.hpp"
#include "dns/local_answers.hpp"
#include "dns/message.hpp"
#include "dns/zones.hpp"

namespace usernet::dns {

struct ServerConfig {
  LocalConfig local;
  CacheLimits cache;
  /// Largest UDP answer we send (and advertise in our OPT); a client's larger EDNS size is
  /// cut to this. lwIP fragments, so this may exceed the MTU.
  std::uint16_t max_udp_size = 4096;
  /// DNS64 (dns/dns64.hpp): AAAA answers without AAAA records are synthesized from the
  /// name's A records in this /96 prefix (its first 12 bytes count). nullopt: off.
  std::optional<std::array<std::uint8_t, 16>> dns64_prefix;
};

struct ServerCounters {
  std::uint64_t queries = 0;            // every handle() call
  std::uint64_t local_answers = 0;      // answered from zones, leases, PTR
  std::uint64_t cache_hits = 0;
  std::uint64_t upstream_queries = 0;   // forward requests handed out
  std::uint64_t upstream_failures = 0;  // finish() without a usable upstream answer
  std::uint64_t drops = 0;              // no answer at all (unreadable header, responses)
  std::uint64_t malformed = 0;          // answered FORMERR
  std::uint64_t refused = 0;            // answered REFUSED (types we do not forward)
  std::uint64_t truncated = 0;          // answers cut to fit with TC set
  std::uint64_t dns64_synthesized = 0;  // AAAA answers made from A records (DNS64)
};

/// What a forwarded query needs to be finished later.
struct PendingQuery {
  Header query_header;  // id, opcode, RD, CD, AD as the client sent them
  Question question;    // as the client sent it (case preserved), when has_question
  bool has_question = false;
  Transport transport = Transport::udp;
  std::optional<Edns> client_edns;
  CacheKey cache_key;
  /// Set while DNS64 looks up the A records of an AAAA question (cache_key is then the A
  /// question's): the AAAA answer without AAAA records, returned if there are none.
  std::optional<Message> dns64_aaaa_answer;

  /// The client's EDNS DO bit: it asked for DNSSEC records.
  bool client_dnssec_ok() const { return client_edns && client_edns->dnssec_ok; }
};

/// A finished answer to send back to the client.
struct Reply {
  std::vector<std::uint8_t> bytes;
};
/// Send `query` upstream, then call DnsServer::finish with `pending` and the result.
struct Forward {
  std::vector<std::uint8_t> query;
  PendingQuery pending;
};
/// Nothing to send (counted in ServerCounters::drops).
struct Drop {};

using Decision = std::variant<Reply, Forward, Drop>;

class DnsServer {
 public:
  explicit DnsServer(ServerConfig config = {});
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  /// Handles one query message that arrived over `transport` at time `now_ms`.
  Decision handle(std::span<const std::uint8_t> query, Transport transport, std::uint64_t now_ms);

  /// Finishes a forwarded query with the upstream's answer (nullopt: the upstream failed).
  /// The answer gets the client's id and question, updates the cache, and is truncated for
  /// UDP when needed. A failure or an unusable answer becomes SERVFAIL (never NXDOMAIN).
  /// With DNS64 an AAAA answer without AAAA records may need the A records first: then
  /// the decision is another Forward, finished the same way.
  Decision finish(const PendingQuery& pending, std::optional<std::span<const std::uint8_t>> upstream_answer,
                  std::uint64_t now_ms);

  ZoneTable& zones() { return zones_; }
  const ZoneTable& zones() const { return zones_; }
  void set_lease_hooks(LeaseHooks hooks) { local_.set_hooks(std::move(hooks)); }
  AnswerCache& cache() { return cache_; }
  const ServerCounters& counters() const { return counters_; }

 private:
  // A response skeleton: client's id, opcode, RD, CD and question; RA; our OPT if it sent one.
  Message start_reply(const PendingQuery& pending) const;
  // Encodes `reply`, cutting it to header+question with TC when it exceeds the size limit.
  std::vector<std::uint8_t> finalize(Message& reply, const PendingQuery& pending);
  // An answer with no records and the given RCODE (FORMERR, SERVFAIL, NOTIMP, ...).
  std::vector<std::uint8_t> error_reply(const PendingQuery& pending, Rcode rcode);
  // DNS64: the reply to an AAAA question whose answer `aaaa` has no AAAA records, from the
  // A records (cached, local or forwarded), or `aaaa` itself when synthesis does not apply.
  Decision dns64_or_reply(PendingQuery pending, Message aaaa, std::uint64_t now_ms);
  // The AAAA reply synthesized from `a_answers`, or nullopt when none of them can be.
  std::optional<std::vector<std::uint8_t>> synthesized_reply(const PendingQuery& pending, const Message& aaaa,
                                                             const std::vector<ResourceRecord>& a_answers);
  bool dns64_applies(const PendingQuery& pending, Rcode rcode, const std::vector<ResourceRecord>& answers) const;
  // Largest answer for this client: 512 on UDP, its EDNS size (capped) with EDNS, 64 KiB on TCP.
  std::size_t size_limit(const PendingQuery& pending) const;

  ServerConfig config_;
  ZoneTable zones_;
  LocalAnswers local_;
  AnswerCache cache_;
  ServerCounters counters_;
};

}  // namespace usernet::dns
