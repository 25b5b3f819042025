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

// Compiles a record's pattern; nullptr with `error` set when RE2 refuses it.
std::shared_ptr<const re2::RE2> compile_pattern(const std::string& text, std::string& error) {
  re2::RE2::Options options;
  options.set_log_errors(false);  // the caller reports the error; RE2 would print it too
  options.set_max_mem(kMaxPatternMemory);
  auto pattern = std::make_shared<const re2::RE2>(text, options);
  if (!pattern->ok()) {
    error = pattern->error();
    return nullptr;
  }
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
    table.add(zone);
  }
  return table;
}

std::optional<ZoneTable::CompiledZone> ZoneTable::compile(const Zone& zone, std::string& error) {
  auto apex = normalize_zone_name(zone.name);
  if (!apex) {
    error = "invalid zone name '" + zone.name + "'";
    return std::nullopt;
  }
  CompiledZone compiled{zone, *apex, {}};
  compiled.zone.name = apex->to_text();
  compiled.zone.records.clear();
  for (const ZoneRecord& record : zone.records) {
    CompiledRecord entry{record, nullptr};
    if (record.name.empty() == record.regexp.empty()) {
      error = "zone " + compiled.zone.name + ": a record needs exactly one of name and regexp";
      return std::nullopt;
    }
    if (!record.name.empty()) {
      auto relative = DomainName::from_text(record.name);
      if (!relative || relative->is_root() || record.name.back() == '.') {
        error = "zone " + compiled.zone.name + ": invalid record name '" + record.name + "'";
        return std::nullopt;
      }
      entry.record.name = lowercase_text(record.name);
    } else {
      std::string why;
      entry.pattern = compile_pattern(record.regexp, why);
      if (!entry.pattern) {
        error = "zone " + compiled.zone.name + ": invalid regexp '" + record.regexp + "': " + why;
        return std::nullopt;
      }
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

std::optional<std::string> ZoneTable::add(const Zone& zone) { return insert(zone, true); }

std::optional<std::string> ZoneTable::replace(const Zone& zone) { return insert(zone, false); }

std::optional<std::string> ZoneTable::insert(const Zone& zone, bool merge_records) {
  std::string error;
  auto compiled = compile(zone, error);
  if (!compiled) return error;
  auto existing = find_zone(compiled->zone.name);
  if (existing == zones_.end()) {
    zones_.push_back(std::move(*compiled));
    return std::nullopt;
  }
  if (merge_records) {
    // gvproxy order: the new records first, then the old ones.
    for (auto& old : existing->records) {
      compiled->zone.records.push_back(old.record);
      compiled->records.push_back(std::move(old));
    }
  }
  *existing = std::move(*compiled);
  return std::nullopt;
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

ZoneResult parse_zone_option(std::string_view text) {
  auto fields = split_option_fields(text);
  ZoneResult result;
  Zone zone;
  zone.name = fields.front();
  if (zone.name.empty() || zone.name.find('=') != std::string::npos) {
    result.error = "--dns-zone '" + std::string(text) + "': must start with the zone name";
    return result;
  }
  for (std::size_t i = 1; i < fields.size(); ++i) {
    const std::string& field = fields[i];
    auto equals = field.find('=');
    std::string key = field.substr(0, equals);
    std::string value = equals == std::string::npos ? "" : field.substr(equals + 1);
    if (key == "default") {
      zone.default_ip = parse_ipv4(value);
      if (!zone.default_ip) {
        result.error = "--dns-zone: bad default address '" + value + "'";
        return result;
      }
      continue;
    }
    if (key != "record" && key != "regexp") {
      result.error = "--dns-zone: unknown field '" + field + "' (want default=, record=, regexp=)";
      return result;
    }
    auto colon = value.rfind(':');
    auto ip = colon == std::string::npos ? std::nullopt : parse_ipv4(value.substr(colon + 1));
    if (!ip || colon == 0) {
      result.error = "--dns-zone: " + key + " wants NAME:IP, got '" + value + "'";
      return result;
    }
    ZoneRecord record;
    (key == "record" ? record.name : record.regexp) = value.substr(0, colon);
    record.ip = *ip;
    zone.records.push_back(std::move(record));
  }
  result.zone = std::move(zone);
  return result;
}

}  // namespace usernet::dns
