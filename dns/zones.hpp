// Local DNS zones served by the gateway (gvproxy's types.Zone model): each zone has
// records that map a name relative to the zone, either exactly or by regular expression,
// to an IPv4 address, and an optional default address for every other name in the zone.
//
// Matching follows gvproxy's pkg/services/dns: a query name belongs to the first zone (in
// table order) it lies strictly below; the name relative to the zone ("host" for
// "host.containers.internal.") is compared with each record in order: equal to the record's
// name, or the record's regexp matches somewhere in it (a search, not a full match, as Go's
// MatchString). Unlike gvproxy, names compare case-insensitively: exact names and the text a
// regexp sees are lower-cased. Regexps are RE2 (Go's regexp syntax, which gvproxy uses):
// matching takes time linear in the name whatever the pattern, so a hostile zone such as
// `(a+)+$` cannot stall the loop; what RE2 does not support (backreferences, lookaround)
// is refused when the zone is added.
//
// Option syntax (`--dns-zone`, repeatable):
//   ZONE[,default=IP][,record=NAME:IP]...[,regexp=RE:IP]...
// e.g. `dev.internal.,default=192.168.127.254,record=gateway:192.168.127.1,regexp=^web-[0-9]+$:192.168.127.5`.
// Fields are split on ','; write '\,' for a literal comma inside a regexp. NAME/RE and IP are
// split at the last ':'. The trailing dot of ZONE is optional.
#pragma once

#include <cstdint>
#include <optional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dns/name.hpp"
#include "netstack/base/result.hpp"

namespace re2 {
class RE2;
}

namespace usernet::dns {

/// One record: exactly one of `name` and `regexp` is set (non-empty).
struct ZoneRecord {
  std::string name;
  std::string regexp;
  std::uint32_t ip = 0;  // host byte order
  bool operator==(const ZoneRecord&) const = default;
};

struct Zone {
  std::string name;  // "containers.internal." (lower case, trailing dot once in a table)
  std::vector<ZoneRecord> records;
  std::optional<std::uint32_t> default_ip;
  bool operator==(const Zone&) const = default;
};

/// Where a name falls in the zone table.
struct ZoneMatch {
  std::string zone_name;                      // the zone's normalized name
  DomainName apex;                            // the zone's name as a DomainName
  std::size_t labels_below = 0;               // 0: the name is the apex itself
  std::string relative_name;                  // lower-cased, no trailing dot; "" at the apex
  std::optional<std::uint32_t> record_ip;     // the first record that matched
  std::optional<std::uint32_t> default_ip;    // the zone's default address
};

/// The zones in lookup order. Mutated at run time from the API; single-threaded (the loop).
class ZoneTable {
 public:
  /// gvproxy's default zones: `containers.internal.` and `docker.internal.`, each with
  /// `gateway` -> gateway_ip and `host` -> host_ip.
  static ZoneTable with_defaults(std::uint32_t gateway_ip, std::uint32_t host_ip);

  /// gvproxy's POST /services/dns/add: a new zone is appended; for an existing zone the
  /// new records go before the old ones and the default address is replaced.
  /// An error names what makes the zone invalid (bad name, bad regexp, empty record).
  Status add(const Zone& zone);
  /// Replaces an existing zone (keeping its place) or appends a new one.
  Status replace(const Zone& zone);
  /// Removes a zone by name; false when there is none.
  bool remove(std::string_view name);
  /// The zones, normalized, in lookup order (for GET /services/dns/all).
  std::vector<Zone> list() const;

  /// Finds the zone `name` belongs to and the first record that matches it.
  std::optional<ZoneMatch> find(const DomainName& name) const;

 private:
  struct CompiledRecord {
    ZoneRecord record;
    std::shared_ptr<const re2::RE2> pattern;  // set for regexp records; shared: RE2 cannot be copied
  };
  struct CompiledZone {
    Zone zone;
    DomainName apex;
    std::vector<CompiledRecord> records;
  };
  // Validates and compiles a zone, or says why it is invalid.
  static Result<CompiledZone> compile(const Zone& zone);
  std::vector<CompiledZone>::iterator find_zone(std::string_view normalized_name);
  // Adds a zone, or updates the one with its name (merging records or replacing them).
  Status insert(const Zone& zone, bool merge_records);

  std::vector<CompiledZone> zones_;
};

/// Parses the `--dns-zone` option syntax above (syntax only; ZoneTable validates regexps).
Result<Zone> parse_zone_option(std::string_view text);

/// Dotted-quad text of a host-order IPv4 address.
std::string format_ipv4(std::uint32_t ip);
/// Parses a dotted-quad IPv4 address into host order; nullopt on anything else.
std::optional<std::uint32_t> parse_ipv4(std::string_view text);

}  // namespace usernet::dns
