#include "dns/zones.hpp"

#include <arpa/inet.h>
#include <re2/re2.h>

#include <algorithm>

namespace usernet::dns {

namespace {

// Canonical zone name: lower case, trailing dot; nullopt for invalid names and the root.
std::optional<DomainName> normalize_zone_name(std::string_view text) {
  auto name = DomainName::from_text(text);
  if (!name || name->is_root()) return std::nullopt;
  return name->lowercase();
}

std::string lowercase_text(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return static_cast<char>(ascii_lower(static_cast<std::uint8_t>(c))); });
  return out;
}

// Program size bound for one record's pattern: RE2 refuses patterns that compile larger
// (e.g. nested counted repetitions), so API callers cannot make us allocate without limit.
constexpr std::int64_t kMaxPatternMemory = 1 << 20;

// Compiles a record's pattern, or gives RE2's reason for refusing it.
Result<std::shared_ptr<const re2::RE2>> compile_pattern(const std::string& text) {
  re2::RE2::Options options;
  options.set_log_errors(false);  // the caller reports the error; RE2 would print it too
  options.set_max_mem(kMaxPatternMemory);
  auto pattern = std::make_shared<const re2::RE2>(text, options);
  if (!pattern->ok()) return Error{pattern->error()};
  return pattern;
}

// True when `pattern` matches somewhere in `text` (Go's MatchString: unanchored).
bool regex_finds(const re2::RE2& pattern, const std::string& text) {
  return re2::RE2::PartialMatch(text, pattern);
}

// Splits an option string on ',' that is not escaped as '\,' (which becomes ',').
std::vector<std::string> split_option_fields(std::string_view text) {
  std::vector<std::string> fields(1);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == ',') {
      fields.back() += ',';
      ++i;
    } else if (text[i] == ',') {
      fields.emplace_back();
    } else {
      fields.back() += text[i];
    }
  }
  return fields;
}

}  // namespace

std::string format_ipv4(std::uint32_t ip) {
  return std::to_string(ip >> 24) + '.' + std::to_string((ip >> 16) & 0xff) + '.' +
         std::to_string((ip >> 8) & 0xff) + '.' + std::to_string(ip & 0xff);
}

std::optional<std::uint32_t> parse_ipv4(std::string_view text) {
  std::string copy(text);  // inet_pton wants a terminated string
  in_addr address{};
  if (inet_pton(AF_INET, copy.c_str(), &address) != 1) return std::nullopt;
  return ntohl(address.s_addr);
}

ZoneTable ZoneTable::with_defaults(std::uint32_t gateway_ip, std::uint32_t host_ip) {
  ZoneTable table;
  for (const char* name : {"containers.internal.", "docker.internal."}) {
    Zone zone;
    zone.name = name;
    zone.records = {ZoneRecord{"gateway", "", gateway_ip}, ZoneRecord{"host", "", host_ip}};
    static_cast<void>(table.add(zone));  // valid: fixed names and records
  }
  return table;
}

Result<ZoneTable::CompiledZone> ZoneTable::compile(const Zone& zone) {
  auto apex = normalize_zone_name(zone.name);
  if (!apex) return Error{"invalid zone name '" + zone.name + "'"};
  CompiledZone compiled{zone, *apex, {}};
  compiled.zone.name = apex->to_text();
  compiled.zone.records.clear();
  for (const ZoneRecord& record : zone.records) {
    CompiledRecord entry{record, nullptr};
    if (record.name.empty() == record.regexp.empty())
      return Error{"zone " + compiled.zone.name + ": a record needs exactly one of name and regexp"};
    if (!record.name.empty()) {
      auto relative = DomainName::from_text(record.name);
      if (!relative || relative->is_root() || record.name.back() == '.')
        return Error{"zone " + compiled.zone.name + ": invalid record name '" + record.name + "'"};
      entry.record.name = lowercase_text(record.name);
    } else {
      auto pattern = compile_pattern(record.regexp);
      if (!pattern)
        return Error{"zone " + compiled.zone.name + ": invalid regexp '" + record.regexp + "': " + pattern.error()};
      entry.pattern = std::move(*pattern);
    }
    compiled.zone.records.push_back(entry.record);
    compiled.records.push_back(std::move(entry));
  }
  return compiled;
}

std::vector<ZoneTable::CompiledZone>::iterator ZoneTable::find_zone(std::string_view normalized_name) {
  return std::find_if(zones_.begin(), zones_.end(),
                      [&](const CompiledZone& z) { return z.zone.name == normalized_name; });
}

Status ZoneTable::add(const Zone& zone) { return insert(zone, true); }

Status ZoneTable::replace(const Zone& zone) { return insert(zone, false); }

Status ZoneTable::insert(const Zone& zone, bool merge_records) {
  auto compiled = compile(zone);
  if (!compiled) return Error{compiled.error()};
  auto existing = find_zone(compiled->zone.name);
  if (existing == zones_.end()) {
    zones_.push_back(std::move(*compiled));
    return {};
  }
  if (merge_records) {
    // gvproxy order: the new records first, then the old ones.
    for (auto& old : existing->records) {
      compiled->zone.records.push_back(old.record);
      compiled->records.push_back(std::move(old));
    }
  }
  *existing = std::move(*compiled);
  return {};
}

bool ZoneTable::remove(std::string_view name) {
  auto apex = normalize_zone_name(name);
  if (!apex) return false;
  auto existing = find_zone(apex->to_text());
  if (existing == zones_.end()) return false;
  zones_.erase(existing);
  return true;
}

std::vector<Zone> ZoneTable::list() const {
  std::vector<Zone> out;
  for (const auto& compiled : zones_) out.push_back(compiled.zone);
  return out;
}

std::optional<ZoneMatch> ZoneTable::find(const DomainName& name) const {
  for (const auto& compiled : zones_) {
    auto below = name.labels_below(compiled.apex);
    if (!below) continue;
    ZoneMatch match{compiled.zone.name, compiled.apex, *below, "", std::nullopt, compiled.zone.default_ip};
    if (*below == 0) return match;
    match.relative_name = name.lowercase().leading_labels_text(*below);
    for (const auto& record : compiled.records) {
      bool hit = record.pattern ? regex_finds(*record.pattern, match.relative_name)
                                : record.record.name == match.relative_name;
      if (hit) {
        match.record_ip = record.record.ip;
        break;
      }
    }
    return match;
  }
  return std::nullopt;
}

Result<Zone> parse_zone_option(std::string_view text) {
  auto fields = split_option_fields(text);
  Zone zone;
  zone.name = fields.front();
  if (zone.name.empty() || zone.name.find('=') != std::string::npos)
    return Error{"--dns-zone '" + std::string(text) + "': must start with the zone name"};
  for (std::size_t i = 1; i < fields.size(); ++i) {
    const std::string& field = fields[i];
    auto equals = field.find('=');
    std::string key = field.substr(0, equals);
    std::string value = equals == std::string::npos ? "" : field.substr(equals + 1);
    if (key == "default") {
      zone.default_ip = parse_ipv4(value);
      if (!zone.default_ip) return Error{"--dns-zone: bad default address '" + value + "'"};
      continue;
    }
    if (key != "record" && key != "regexp")
      return Error{"--dns-zone: unknown field '" + field + "' (want default=, record=, regexp=)"};
    auto colon = value.rfind(':');
    auto ip = colon == std::string::npos ? std::nullopt : parse_ipv4(value.substr(colon + 1));
    if (!ip || colon == 0) return Error{"--dns-zone: " + key + " wants NAME:IP, got '" + value + "'"};
    ZoneRecord record;
    (key == "record" ? record.name : record.regexp) = value.substr(0, colon);
    record.ip = *ip;
    zone.records.push_back(std::move(record));
  }
  return zone;
}

}  // namespace usernet::dns
