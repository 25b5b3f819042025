#include "dns/dns64.hpp"

#include <algorithm>

namespace usernet::dns {

namespace {
constexpr std::size_t kSoaFixedTail = 20;  // SERIAL REFRESH RETRY EXPIRE MINIMUM after the two names

bool is_ipv4_mapped(const std::vector<std::uint8_t>& rdata) {
  return rdata.size() == 16 && std::all_of(rdata.begin(), rdata.begin() + 10, [](std::uint8_t b) { return b == 0; }) &&
         rdata[10] == 0xff && rdata[11] == 0xff;
}
}  // namespace

bool needs_synthesis(const Question& question, Rcode rcode, const std::vector<ResourceRecord>& answers,
                     bool dnssec_ok, bool checking_disabled) {
  if (question.type != RecordType::aaaa || question.klass != RecordClass::in || rcode != Rcode::no_error) return false;
  if (dnssec_ok && checking_disabled) return false;
  return std::none_of(answers.begin(), answers.end(), [](const ResourceRecord& r) {
    return r.type == RecordType::aaaa && r.klass == RecordClass::in && r.rdata.size() == 16 && !is_ipv4_mapped(r.rdata);
  });
}

std::optional<std::vector<ResourceRecord>> synthesize_aaaa(const Ipv6Bytes& prefix,
                                                           const std::vector<ResourceRecord>& a_answers,
                                                           std::optional<std::uint32_t> ttl_cap,
                                                           const std::function<bool(std::uint32_t)>& excluded) {
  std::vector<ResourceRecord> out;
  bool any = false;
  for (const ResourceRecord& record : a_answers) {
    if (record.type == RecordType::cname || record.type == RecordType::dname) {
      out.push_back(record);
      continue;
    }
    if (record.type != RecordType::a || record.klass != RecordClass::in || record.rdata.size() != 4) continue;
    const std::uint32_t address = (std::uint32_t{record.rdata[0]} << 24) | (std::uint32_t{record.rdata[1]} << 16) |
                                  (std::uint32_t{record.rdata[2]} << 8) | record.rdata[3];
    if (excluded && excluded(address)) continue;
    any = true;
    ResourceRecord aaaa = record;
    aaaa.type = RecordType::aaaa;
    aaaa.rdata.assign(prefix.begin(), prefix.begin() + 12);
    aaaa.rdata.insert(aaaa.rdata.end(), record.rdata.begin(), record.rdata.end());
    if (ttl_cap) aaaa.ttl = std::min(aaaa.ttl, *ttl_cap);
    out.push_back(std::move(aaaa));
  }
  if (!any) return std::nullopt;
  return out;
}

std::optional<std::uint32_t> negative_ttl(const std::vector<ResourceRecord>& authorities) {
  for (const ResourceRecord& record : authorities) {
    if (record.type != RecordType::soa || record.rdata.size() < kSoaFixedTail) continue;
    const std::uint8_t* minimum = record.rdata.data() + record.rdata.size() - 4;
    const std::uint32_t value = (std::uint32_t{minimum[0]} << 24) | (std::uint32_t{minimum[1]} << 16) |
                                (std::uint32_t{minimum[2]} << 8) | minimum[3];
    return std::min(record.ttl, value);
  }
  return std::nullopt;
}

}  // namespace usernet::dns
