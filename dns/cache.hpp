// Answer cache for forwarded queries: bounded by entry count and by bytes (least recently
// used entries go first), keyed by (lower-cased name, type, class, DO, CD). Entries expire
// with the smallest TTL they hold (capped); lookups return records with TTLs decremented by
// the time spent in the cache. Negative answers (NXDOMAIN, NODATA) are cached per RFC 2308
// for min(SOA TTL, SOA MINIMUM), capped, and only when an SOA came with them. Time is passed
// in (milliseconds of a monotonic clock, e.g. uv_now()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "dns/message.hpp"

namespace usernet::dns {

struct CacheLimits {
  std::size_t max_entries = 4096;
  std::size_t max_bytes = std::size_t{4} * 1024 * 1024;
  std::uint32_t max_ttl = 86400;          // seconds; longer TTLs are cut to this
  std::uint32_t max_negative_ttl = 3600;  // seconds; RFC 2308 suggests 1-3 hours at most
};

/// What identifies a cached answer.
struct CacheKey {
  Question question;  // name lower-cased by make_cache_key
  bool dnssec_ok = false;
  bool checking_disabled = false;
};

/// Builds the key for a question (lower-cases the name).
CacheKey make_cache_key(const Question& question, bool dnssec_ok, bool checking_disabled);

/// A cached answer, as returned by lookup: header bits and sections with current TTLs.
struct CachedAnswer {
  Rcode rcode = Rcode::no_error;
  bool authentic_data = false;
  std::vector<ResourceRecord> answers;
  std::vector<ResourceRecord> authorities;
  std::vector<ResourceRecord> additionals;
};

class AnswerCache {
 public:
  explicit AnswerCache(CacheLimits limits = {}) : limits_(limits) {}

  /// Stores an upstream response if it may be cached (NOERROR/NXDOMAIN, not truncated,
  /// nonzero lifetime, negative answers only with an SOA). Returns whether it was stored.
  bool store(const CacheKey& key, const Message& response, std::uint64_t now_ms);
  /// The live entry for `key` with decremented TTLs; expired entries are removed.
  std::optional<CachedAnswer> lookup(const CacheKey& key, std::uint64_t now_ms);
  void clear();

  std::size_t entries() const { return index_.size(); }
  std::size_t bytes() const { return bytes_; }
  const CacheLimits& limits() const { return limits_; }

 private:
  struct Entry {
    std::string key;
    CachedAnswer answer;  // TTLs as stored (capped)
    std::uint64_t stored_ms = 0;
    std::uint64_t expires_ms = 0;
    std::size_t bytes = 0;
  };
  using Lru = std::list<Entry>;  // front: most recently used

  void erase(Lru::iterator entry);
  void evict_to_fit(std::size_t incoming_bytes);

  CacheLimits limits_;
  Lru lru_;
  std::unordered_map<std::string, Lru::iterator> index_;
  std::size_t bytes_ = 0;
};

}  // namespace usernet::dns
