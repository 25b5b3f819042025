// usernetd's command line: parsed and validated into one struct, so tools/usernetd.cpp
// only wires things together and tests can check every rule without starting a daemon.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "netstack/api/expose_request.hpp"
#include "netstack/services/forward_spec.hpp"
#include "netstack/services/gateway_dhcp.hpp"
#include "netstack/services/gateway_ipv6.hpp"
#include "netstack/services/gateway_dns.hpp"
#include "netstack/ssh/ssh_forward_spec.hpp"
#include "netstack/daemon/user_switch.hpp"
#include "netstack/services/virtual_network.hpp"

namespace usernet {

struct DaemonOptions {
  NetworkConfig network;
  std::string tap;      // --tap NAME
  std::string netns;    // --netns PATH or NAME (/run/netns/NAME)
  std::string userns;   // --userns PATH: joined (in a child) to create the TAP in netns
  bool configure = false;
  bool guest_mac_from_tap = false;  // --guest-mac=tap: the first guest is the TAP, with its own MAC
  std::string log_level = "info";
  std::string log_file;
  std::string pid_file;
  int ready_fd = -1;  // --ready-fd: "1" once the network is up (slirp4netns -r)
  int exit_fd = -1;   // --exit-fd: readable or closed means exit (slirp4netns -e)
  // Frame transports (issue: transports); strings are URLs, validated when opened.
  std::vector<std::string> listen, listen_qemu, listen_vfkit, listen_bess;
  bool listen_stdio = false;
  DhcpOptions dhcp;
  Ipv6Options ipv6;  // --ipv6: router advertisements and DHCPv6 (no IPv6 NAT yet)
  bool search_from_host = true;  // no --dns-search: use the host's resolv.conf search line
  DnsOptions dns;
  std::vector<ForwardSpec> forwards;  // host -> guest port forwards
  std::vector<SshForwardSpec> ssh_forwards;  // --forward-sock & co.: host unix socket -> guest unix socket over SSH
  // Control API, capture (issue: API).
  std::vector<std::string> services;  // --services: HTTP API without /connect
  int ssh_port = 2222;                // 127.0.0.1:PORT -> first guest :22; -1 = off
  bool ssh_port_given = false;        // an explicit --ssh-port makes a bind failure fatal
  /// What guests may expose through the in-guest API; gvproxy mode defaults to any address.
  GuestExposePolicy guest_expose = GuestExposePolicy::refused;
  bool gvproxy_api = false;           // --gvproxy-api: the API keeps gvproxy's meaning of ":P" and its /stats
  std::string pcap;                   // --pcap FILE
  std::string slirp4netns_api;        // --slirp4netns-api PATH: slirp4netns's JSON API socket
  std::string notification;           // --notification unix:///PATH (gvproxy's events; empty: none)
  // Sandbox (issue: hardening), applied after set-up.
  std::optional<UserSwitchTarget> run_as;  // --user/--group
  bool sandbox = false;                    // --sandbox
};

/// What main() should do after parsing.
struct ParsedDaemonOptions {
  enum class Action { run, print_and_exit, fail } action = Action::run;
  DaemonOptions options;
  std::string message;  // help/version text, or the one-line error
};

/// Parses argv (argv[0] is skipped). Never throws; errors name the bad flag or value.
ParsedDaemonOptions parse_daemon_options(int argc, const char* const argv[]);

}  // namespace usernet
