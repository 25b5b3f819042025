#include "dns/local_answers.hpp"

#include <charconv>

namespace usernet::dns {

namespace {

// SOA timers of the synthesized zones (RFC 1912 ranges; nobody transfers these zones).
constexpr std::uint32_t kSoaSerial = 1;
constexpr std::uint32_t kSoaRefresh = 3600;
constexpr std::uint32_t kSoaRetry = 600;
constexpr std::uint32_t kSoaExpire = 86400;

void append_u32(std::vector<std::uint8_t>& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>((value >> shift) & 0xff));
}

// Name of a host below `zone`, from a label ("gateway") or from an FQDN ending in '.'.
std::optional<DomainName> name_in_zone(const std::string& host, const DomainName& zone) {
  if (!host.empty() && host.back() == '.') return DomainName::from_text(host);
  return zone.prepend(host);
}

bool wants_address(RecordType type) { return type == RecordType::a || type == RecordType::any; }

}  // namespace

ResourceRecord make_a_record(const DomainName& owner, std::uint32_t ip, std::uint32_t ttl) {
  ResourceRecord record{owner, RecordType::a, RecordClass::in, ttl, {}};
  append_u32(record.rdata, ip);
  return record;
}

ResourceRecord make_aaaa_record(const DomainName& owner, const std::array<std::uint8_t, 16>& ip, std::uint32_t ttl) {
  return ResourceRecord{owner, RecordType::aaaa, RecordClass::in, ttl, {ip.begin(), ip.end()}};
}

std::optional<std::uint32_t> address_from_reverse_name(const DomainName& name) {
  static const auto arpa = *DomainName::from_text("in-addr.arpa.");
  if (name.labels_below(arpa) != 4) return std::nullopt;
  std::uint32_t ip = 0;
  const auto& wire = name.wire();
  std::size_t at = 0;
  for (int octet = 0; octet < 4; ++octet) {
    std::size_t length = wire[at];
    const char* begin = reinterpret_cast<const char*>(wire.data() + at + 1);
    unsigned value = 256;
    auto [end, error] = std::from_chars(begin, begin + length, value);
    // Plain decimal only: no sign, no leading zeros ("01"), in range.
    if (error != std::errc() || end != begin + length || value > 255 || (length > 1 && begin[0] == '0')) {
      return std::nullopt;
    }
    ip |= value << (8 * octet);  // least significant octet comes first
    at += 1 + length;
  }
  return ip;
}

LocalAnswers::LocalAnswers(LocalConfig config, const ZoneTable& zones, LeaseHooks hooks)
    : config_(std::move(config)), zones_(zones), hooks_(std::move(hooks)) {
  auto zone = DomainName::from_text(config_.lease_zone);
  lease_zone_ = zone ? zone->lowercase() : *DomainName::from_text("containers.internal.");
}

bool LocalAnswers::in_subnet(std::uint32_t ip) const {
  if (config_.prefix_length == 0) return true;
  std::uint32_t mask = config_.prefix_length >= 32 ? 0xffffffffu : ~(0xffffffffu >> config_.prefix_length);
  return (ip & mask) == (config_.subnet & mask);
}

ResourceRecord LocalAnswers::soa_record(const DomainName& apex) const {
  ResourceRecord soa{apex, RecordType::soa, RecordClass::in, config_.negative_ttl, {}};
  // MNAME and RNAME are informational; fall back to the apex if a label does not fit.
  auto mname = apex.prepend("gateway").value_or(apex);
  auto rname = apex.prepend("hostmaster").value_or(apex);
  soa.rdata.insert(soa.rdata.end(), mname.wire().begin(), mname.wire().end());
  soa.rdata.insert(soa.rdata.end(), rname.wire().begin(), rname.wire().end());
  for (std::uint32_t value : {kSoaSerial, kSoaRefresh, kSoaRetry, kSoaExpire, config_.negative_ttl}) {
    append_u32(soa.rdata, value);
  }
  return soa;
}

std::optional<LocalAnswer> LocalAnswers::answer(const Question& question) const {
  if (auto ip = address_from_reverse_name(question.name)) return answer_reverse(question, *ip);
  return answer_forward(question);
}

std::optional<LocalAnswer> LocalAnswers::answer_forward(const Question& question) const {
  auto match = zones_.find(question.name);
  if (!match) return std::nullopt;
  LocalAnswer out;
  const bool internet = question.klass == RecordClass::in || question.klass == RecordClass::any;
  if (match->labels_below == 0) {
    // The apex itself: its SOA, nothing else.
    if (internet && (question.type == RecordType::soa || question.type == RecordType::any)) {
      out.answers.push_back(soa_record(match->apex));
    } else if (internet) {
      out.authorities.push_back(soa_record(match->apex));
    }
    return out;
  }
  std::optional<std::uint32_t> address = match->record_ip;
  if (!address && match->labels_below == 1 && match->apex == lease_zone_ && hooks_.address_of_name) {
    address = hooks_.address_of_name(match->relative_name);
  }
  if (!address) address = match->default_ip;
  if (!address) {
    out.rcode = Rcode::name_error;
    out.authorities.push_back(soa_record(match->apex));
    return out;
  }
  if (!internet) return out;  // another class: no data, nothing to say about it
  if (wants_address(question.type)) out.answers.push_back(make_a_record(question.name, *address, config_.ttl));
  const auto address6 = ipv6_twin(*address);
  if (address6 && (question.type == RecordType::aaaa || question.type == RecordType::any))
    out.answers.push_back(make_aaaa_record(question.name, *address6, config_.ttl));
  if (out.answers.empty()) out.authorities.push_back(soa_record(match->apex));
  return out;
}

std::optional<std::array<std::uint8_t, 16>> LocalAnswers::ipv6_twin(std::uint32_t ip) const {
  if (ip == config_.gateway_ip) return config_.gateway_ip6;
  if (ip == config_.host_ip) return config_.host_ip6;
  return std::nullopt;
}

std::optional<DomainName> LocalAnswers::reverse_name_of(std::uint32_t ip) const {
  if (ip == config_.gateway_ip) return lease_zone_.prepend("gateway");
  if (ip == config_.host_ip) return lease_zone_.prepend("host");
  if (!hooks_.name_of_address) return std::nullopt;
  auto host = hooks_.name_of_address(ip);
  if (!host) return std::nullopt;
  return name_in_zone(*host, lease_zone_);
}

std::optional<LocalAnswer> LocalAnswers::answer_reverse(const Question& question, std::uint32_t ip) const {
  auto target = reverse_name_of(ip);
  if (!target && !in_subnet(ip)) return std::nullopt;  // someone else's address: upstream
  // The authority for our reverse names is the subnet's in-addr.arpa zone (whole octets).
  DomainName apex = question.name;
  std::size_t strip = 4 - std::min<std::size_t>(config_.prefix_length / 8, 3);
  for (std::size_t i = 0; i < strip; ++i) {
    auto shorter = DomainName::from_wire(std::span(apex.wire()).subspan(1 + apex.wire()[0]));
    if (shorter) apex = *shorter;
  }
  apex = apex.lowercase();
  LocalAnswer out;
  if (!target) {
    out.rcode = Rcode::name_error;
    out.authorities.push_back(soa_record(apex));
    return out;
  }
  const bool internet = question.klass == RecordClass::in || question.klass == RecordClass::any;
  if (internet && (question.type == RecordType::ptr || question.type == RecordType::any)) {
    out.answers.push_back(ResourceRecord{question.name, RecordType::ptr, RecordClass::in, config_.ttl, target->wire()});
  } else if (internet) {
    out.authorities.push_back(soa_record(apex));
  }
  return out;
}

}  // namespace usernet::dns
