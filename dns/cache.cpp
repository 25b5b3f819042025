#include "dns/cache.hpp"

#include <algorithm>
#include <limits>

namespace usernet::dns {

namespace {

constexpr std::size_t kEntryOverhead = 128;   // bookkeeping per entry, roughly
constexpr std::size_t kRecordOverhead = 48;   // vectors and fields per record, roughly

// Flattened key: name wire octets, then type, class and the two flag bits.
std::string key_string(const CacheKey& key) {
  const auto& wire = key.question.name.wire();
  std::string out(wire.begin(), wire.end());
  auto type = static_cast<std::uint16_t>(key.question.type);
  auto klass = static_cast<std::uint16_t>(key.question.klass);
  out += static_cast<char>(type >> 8);
  out += static_cast<char>(type & 0xff);
  out += static_cast<char>(klass >> 8);
  out += static_cast<char>(klass & 0xff);
  out += static_cast<char>((key.dnssec_ok ? 1 : 0) | (key.checking_disabled ? 2 : 0));
  return out;
}

std::size_t records_bytes(const std::vector<ResourceRecord>& records) {
  std::size_t total = 0;
  for (const auto& r : records) total += kRecordOverhead + r.name.wire().size() + r.rdata.size();
  return total;
}

// The negative-caching TTL from the first SOA in the authority section (RFC 2308 section 5).
std::optional<std::uint32_t> negative_ttl(const std::vector<ResourceRecord>& authorities) {
  for (const auto& record : authorities) {
    if (record.type != RecordType::soa || record.rdata.size() < 4) continue;
    const auto* m = record.rdata.data() + record.rdata.size() - 4;  // MINIMUM ends the RDATA
    std::uint32_t minimum = (std::uint32_t{m[0]} << 24) | (std::uint32_t{m[1]} << 16) |
                            (std::uint32_t{m[2]} << 8) | std::uint32_t{m[3]};
    return std::min(record.ttl, minimum);
  }
  return std::nullopt;
}

// Caps every record's TTL at `cap` and returns the smallest TTL seen.
std::uint32_t cap_ttls(std::vector<ResourceRecord>& records, std::uint32_t cap, std::uint32_t smallest) {
  for (auto& record : records) {
    record.ttl = std::min(record.ttl, cap);
    smallest = std::min(smallest, record.ttl);
  }
  return smallest;
}

void age_records(std::vector<ResourceRecord>& records, std::uint32_t elapsed_s) {
  for (auto& record : records) record.ttl = record.ttl > elapsed_s ? record.ttl - elapsed_s : 0;
}

}  // namespace

CacheKey make_cache_key(const Question& question, bool dnssec_ok, bool checking_disabled) {
  return CacheKey{Question{question.name.lowercase(), question.type, question.klass}, dnssec_ok,
                  checking_disabled};
}

bool AnswerCache::store(const CacheKey& key, const Message& response, std::uint64_t now_ms) {
  const Rcode rcode = response.rcode();
  if (response.header.truncated || (rcode != Rcode::no_error && rcode != Rcode::name_error)) return false;
  Entry entry;
  entry.key = key_string(key);
  entry.answer.rcode = rcode;
  entry.answer.authentic_data = response.header.authentic_data;
  entry.answer.answers = response.answers;
  entry.answer.authorities = response.authorities;
  entry.answer.additionals = response.additionals;

  std::uint32_t lifetime = std::numeric_limits<std::uint32_t>::max();
  const bool negative = rcode == Rcode::name_error || response.answers.empty();
  if (negative) {
    auto ttl = negative_ttl(response.authorities);
    if (!ttl) return false;  // no SOA: RFC 2308 says do not cache
    lifetime = std::min(*ttl, limits_.max_negative_ttl);
    // The SOA is served with the negative TTL so downstream caches agree (RFC 2308 section 5).
    for (auto& record : entry.answer.authorities) {
      record.ttl = std::min(record.ttl, lifetime);
    }
  }
  lifetime = cap_ttls(entry.answer.answers, limits_.max_ttl, lifetime);
  lifetime = cap_ttls(entry.answer.authorities, limits_.max_ttl, lifetime);
  lifetime = cap_ttls(entry.answer.additionals, limits_.max_ttl, lifetime);
  if (lifetime == 0) return false;

  entry.bytes = kEntryOverhead + entry.key.size() + records_bytes(entry.answer.answers) +
                records_bytes(entry.answer.authorities) + records_bytes(entry.answer.additionals);
  if (entry.bytes > limits_.max_bytes || limits_.max_entries == 0) return false;
  entry.stored_ms = now_ms;
  entry.expires_ms = now_ms + std::uint64_t{lifetime} * 1000;

  if (auto old = index_.find(entry.key); old != index_.end()) erase(old->second);
  evict_to_fit(entry.bytes);
  bytes_ += entry.bytes;
  lru_.push_front(std::move(entry));
  index_[lru_.front().key] = lru_.begin();
  return true;
}

std::optional<CachedAnswer> AnswerCache::lookup(const CacheKey& key, std::uint64_t now_ms) {
  auto found = index_.find(key_string(key));
  if (found == index_.end()) return std::nullopt;
  auto entry = found->second;
  if (now_ms >= entry->expires_ms) {
    erase(entry);
    return std::nullopt;
  }
  lru_.splice(lru_.begin(), lru_, entry);
  CachedAnswer answer = entry->answer;
  auto elapsed_s = static_cast<std::uint32_t>(now_ms > entry->stored_ms ? (now_ms - entry->stored_ms) / 1000 : 0);
  age_records(answer.answers, elapsed_s);
  age_records(answer.authorities, elapsed_s);
  age_records(answer.additionals, elapsed_s);
  return answer;
}

void AnswerCache::clear() {
  lru_.clear();
  index_.clear();
  bytes_ = 0;
}

void AnswerCache::erase(Lru::iterator entry) {
  bytes_ -= entry->bytes;
  index_.erase(entry->key);
  lru_.erase(entry);
}

void AnswerCache::evict_to_fit(std::size_t incoming_bytes) {
  while (!lru_.empty() && (index_.size() + 1 > limits_.max_entries || bytes_ + incoming_bytes > limits_.max_bytes)) {
    erase(std::prev(lru_.end()));
  }
}

}  // namespace usernet::dns
