// Answers for names the gateway owns: the local zones (ZoneTable), guests that leased an
// address with a host name (`<name>.containers.internal.`), and reverse lookups (PTR) for
// the gateway, the host alias and leased guests. Local names never go upstream: a type
// other than A (and AAAA for the gateway and host alias, with IPv6) gets NOERROR without data, an unknown name NXDOMAIN, both with the zone's
// SOA in the authority section (RFC 2308) so resolvers can cache the negative answer.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dns/message.hpp"
#include "dns/zones.hpp"

namespace usernet::dns {

struct LocalConfig {
  std::uint32_t gateway_ip = 0xc0a87f01;     // 192.168.127.1
  std::uint32_t host_ip = 0xc0a87ffe;        // 192.168.127.254
  std::uint32_t subnet = 0xc0a87f00;         // 192.168.127.0
  std::uint8_t prefix_length = 24;
  std::string lease_zone = "containers.internal.";  // where leased guests' names live
  // The gateway's and the host alias's IPv6 addresses (with IPv6 on): AAAA records for the
  // names whose A record is the gateway or the host alias.
  std::optional<std::array<std::uint8_t, 16>> gateway_ip6;
  std::optional<std::array<std::uint8_t, 16>> host_ip6;
  std::uint32_t ttl = 0;                      // TTL of local answers (gvproxy uses 0)
  std::uint32_t negative_ttl = 0;             // SOA MINIMUM: how long NXDOMAIN may be cached
};

/// What the DHCP lease table tells the DNS (set by the glue; either may be empty).
struct LeaseHooks {
  /// Host name of the guest holding `ip`: a bare name ("web1", placed in the lease zone)
  /// or a fully qualified one ending in '.'.
  std::function<std::optional<std::string>(std::uint32_t ip)> name_of_address;
  /// Address leased to the guest whose host name is `name` (lower case, one label).
  std::function<std::optional<std::uint32_t>(std::string_view name)> address_of_name;
};

/// The answer content for a local name (the server adds header, question and EDNS).
struct LocalAnswer {
  Rcode rcode = Rcode::no_error;
  std::vector<ResourceRecord> answers;
  std::vector<ResourceRecord> authorities;
};

/// Decides whether a question is local and builds its answer.
class LocalAnswers {
 public:
  LocalAnswers(LocalConfig config, const ZoneTable& zones, LeaseHooks hooks);

  /// The answer for a local question, or nullopt when the name is not local.
  std::optional<LocalAnswer> answer(const Question& question) const;

  void set_hooks(LeaseHooks hooks) { hooks_ = std::move(hooks); }
  const LocalConfig& config() const { return config_; }
  /// True when `ip` is in the guests' subnet (LocalConfig::subnet/prefix_length).
  bool in_subnet(std::uint32_t ip) const;

 private:
  std::optional<LocalAnswer> answer_forward(const Question& question) const;
  std::optional<LocalAnswer> answer_reverse(const Question& question, std::uint32_t ip) const;
  std::optional<DomainName> reverse_name_of(std::uint32_t ip) const;
  ResourceRecord soa_record(const DomainName& apex) const;
  /// The IPv6 address configured for the same host as IPv4 `ip` (gateway, host alias).
  std::optional<std::array<std::uint8_t, 16>> ipv6_twin(std::uint32_t ip) const;

  LocalConfig config_;
  const ZoneTable& zones_;
  LeaseHooks hooks_;
  DomainName lease_zone_;
};

/// The IPv4 address named by a full reverse name ("4.3.2.1.in-addr.arpa." -> 1.2.3.4).
std::optional<std::uint32_t> address_from_reverse_name(const DomainName& name);

/// An A record with `ip` (host order) as its address.
ResourceRecord make_a_record(const DomainName& owner, std::uint32_t ip, std::uint32_t ttl);
/// An AAAA record with `ip` (network order) as its address.
ResourceRecord make_aaaa_record(const DomainName& owner, const std::array<std::uint8_t, 16>& ip, std::uint32_t ttl);

}  // namespace usernet::dns
