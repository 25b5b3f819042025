// What the host's resolver configuration (resolv.conf(5)) says that usernet follows: the
// nameserver lines (the upstream servers) and the last search/domain line (the guests'
// search list). Pure text parsing; netstack/resolv_conf_watcher.* reads the file.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace usernet::dns {

struct ResolvConf {
  std::vector<std::string> nameservers;  // literal IPv4/IPv6 addresses, in file order
  std::vector<std::string> search;       // the domains of the last search/domain line
  bool operator==(const ResolvConf&) const = default;
};

/// Parses resolv.conf text. Nameservers that are not literal addresses (or carry an IPv6
/// zone, which the upstream list cannot express) are skipped; comments start with # or ;.
ResolvConf parse_resolv_conf(std::string_view text);

}  // namespace usernet::dns
