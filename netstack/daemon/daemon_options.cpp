#include "netstack/daemon/daemon_options.hpp"

#include <boost/program_options.hpp>
#include <spdlog/spdlog.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>

#include <cstring>

#include <sstream>
#include <string_view>

namespace po = boost::program_options;

namespace usernet {

namespace {

/// Thrown for a bad value; the message is the one line the user sees.
struct BadOption : std::runtime_error {
  using std::runtime_error::runtime_error;
};

Ipv4 ipv4_option(const po::variables_map& vm, const char* name) {
  const auto& text = vm[name].as<std::string>();
  auto ip = parse_ipv4(text);
  if (!ip) throw BadOption("--" + std::string(name) + ": '" + text + "' is not an IPv4 address");
  return *ip;
}

/// Help, the TAP device, and the addresses, MTU and NAT limits of the virtual network.
void add_network_options(po::options_description& all) {
  all.add_options()
      ("help,h", "show this help and exit")
      ("version", "print the version and exit")
      ("tap", po::value<std::string>(), "serve a TAP device with this name as a switch port")
      ("netns", po::value<std::string>(), "create the TAP in this network namespace (path or name in /run/netns)")
      ("userns", po::value<std::string>(), "join this user namespace (a path like /proc/PID/ns/user) to create the TAP in --netns")
      ("configure", "configure the TAP: guest address, MAC, MTU, default route (like slirp4netns --configure)")
      ("mtu", po::value<unsigned>()->default_value(1500), "MTU of the virtual network (576..65520)")
      ("subnet", po::value<std::string>(), "guest subnet (default 192.168.127.0/24)")
      ("gateway-ip", po::value<std::string>(), "gateway address (default: first host of the subnet)")
      ("host-ip", po::value<std::string>(), "address that reaches the host's 127.0.0.1 (default: last host)")
      ("router-ip", po::value<std::string>(), "default router DHCP and --configure give guests (default: the gateway; "
       "another address is answered by ARP, e.g. the host-ip)")
      ("no-host-loopback", "the host-ip and ipv6-host-ip do not reach the host's loopback (slirp4netns --disable-host-loopback)")
      ("guest-ip", po::value<std::string>(), "the first guest's address: its DHCP lease, the TAP's with --configure, "
       "the default of forwards (default: the gateway + 1)")
      ("guest-mac", po::value<std::string>(), "the first guest's MAC (its DHCP static lease, the TAP's with --configure); "
       "=tap: the MAC the --tap device has when usernetd attaches (a TAP its owner configured)")
      ("ipv6-gateway-ip", po::value<std::string>(), "the gateway's IPv6 address in fd00::/64, also the DNS server (default fd00::1)")
      ("ipv6-host-ip", po::value<std::string>(), "the IPv6 address that reaches the host's ::1 (default fd00::254)")
      ("allow-link-local", "let guests reach 169.254.0.0/16 (cloud metadata services)")
      ("outbound-addr", po::value<std::string>(), "host IPv4 address (or interface name) the NAT's host sockets bind to")
      ("outbound-addr6", po::value<std::string>(), "host IPv6 address (or interface name) the NAT's host sockets bind to")
      ("tcp-connect-timeout", po::value<unsigned>()->default_value(30), "seconds to wait for a host TCP connect")
      ("udp-idle-timeout", po::value<unsigned>()->default_value(60), "seconds before an idle UDP flow is closed")
      ("max-tcp-flows", po::value<std::uint64_t>()->default_value(0), "NAT TCP connections of all guests (0: from the fd limit)")
      ("max-tcp-flows-per-guest", po::value<std::uint64_t>()->default_value(0), "NAT TCP connections of one guest IP (0: 3/4 of --max-tcp-flows)")
      ("max-half-open", po::value<std::uint64_t>()->default_value(0), "host TCP connects in progress, all guests (0: from the fd limit)")
      ("max-half-open-per-guest", po::value<std::uint64_t>()->default_value(0), "host TCP connects in progress of one guest; at the cap its oldest is reset (0: auto)")
      ("max-udp-flows", po::value<std::uint64_t>()->default_value(0), "NAT UDP flows of all guests (0: from the fd limit)")
      ("max-udp-flows-per-guest", po::value<std::uint64_t>()->default_value(0), "NAT UDP flows of one guest; at the cap its least recently used closes (0: auto)")
      ("max-icmp-flows", po::value<std::uint64_t>()->default_value(0), "NAT ICMP echo flows (one per guest, identifier and destination) of all guests (0: from the fd limit)")
      ("max-icmp-flows-per-guest", po::value<std::uint64_t>()->default_value(0), "NAT ICMP echo flows of one guest; at the cap its least recently used closes (0: auto)");
}

/// Transports guests attach through.
void add_listener_options(po::options_description& all) {
  all.add_options()
      ("listen", po::value<std::vector<std::string>>()->composing(), "HTTP endpoint with POST /connect (unix://, tcp://, vsock://)")
      ("listen-qemu", po::value<std::vector<std::string>>()->composing(), "QEMU stream socket (unix://, tcp://)")
      ("listen-vfkit", po::value<std::vector<std::string>>()->composing(), "vfkit/QEMU dgram socket (unixgram://)")
      ("listen-bess", po::value<std::vector<std::string>>()->composing(), "bess seqpacket socket (unixpacket://)")
      ("listen-stdio", "exchange frames on stdin/stdout");
}

/// Forwards, the API, capture and notifications.
void add_service_options(po::options_description& all) {
  all.add_options()
      ("forward", po::value<std::vector<std::string>>()->composing(),
       "host -> guest port forward [udp:|unix:]LOCAL=REMOTE, e.g. 127.0.0.1:8080=192.168.127.2:80 or :2222=:22")
      ("forward-sock", po::value<std::vector<std::string>>()->composing(), "host unix socket forwarded over SSH to --forward-dest, repeatable")
      ("forward-dest", po::value<std::vector<std::string>>()->composing(), "guest unix socket for the matching --forward-sock")
      ("forward-user", po::value<std::vector<std::string>>()->composing(), "SSH user in the guest for the matching --forward-sock")
      ("forward-identity", po::value<std::vector<std::string>>()->composing(), "SSH private key file for the matching --forward-sock")
      ("services", po::value<std::vector<std::string>>()->composing(), "HTTP API endpoint without /connect (unix://, tcp://)")
      ("ssh-port", po::value<int>()->default_value(2222), "forward 127.0.0.1:PORT to the first guest's port 22 (-1: off)")
      ("guest-expose", po::value<std::string>()->implicit_value("loopback"),
       "=loopback (the default value): guests may expose ports on the host's 127.0.0.1 through "
       "http://GATEWAY/services/forwarder/expose; =any: on every host address; =off (default without --gvproxy-api)")
      ("gvproxy-api", "serve the API with gvproxy's rules: local \":P\" listens on every address and keeps its name, "
       "guests may expose (--guest-expose=any unless set), /stats in gvproxy's layout (gvproxy mode sets this)")
      ("nat", po::value<std::vector<std::string>>()->composing(), "extra virtual address that reaches a real one, VIRTUAL=REAL, repeatable")
      ("pcap", po::value<std::string>(), "capture every frame through the switch to this pcap file")
      ("slirp4netns-api", po::value<std::string>(), "serve slirp4netns's JSON API (add_hostfwd, list_hostfwd, "
       "remove_hostfwd) on this unix socket path")
      ("notification", po::value<std::string>(),
       "unix:///PATH: send gvproxy's JSON events (ready, connection_established/closed with the VM's MAC, "
       "hypervisor_error) to this socket, one connection each");
}

/// DHCP and DNS.
void add_dhcp_dns_options(po::options_description& all) {
  all.add_options()
      ("no-dhcp", "do not serve DHCP")
      ("no-ipv6", "IPv4 only: no router advertisements for fd00::/64, no DHCPv6, no IPv6 NAT or DNS over IPv6 "
                  "(IPv6 is on by default when the MTU is at least 1280)")
      ("ipv6", "IPv6 on (the default; an error with an MTU below 1280)")
      ("nat64", "NAT64: guests' IPv6 to 64:ff9b::/96 leaves as IPv4 (64:ff9b::192.168.127.254 is the host's "
                "127.0.0.1), so a guest with IPv6 alone reaches IPv4 services")
      ("dns64", "DNS64: AAAA answers in 64:ff9b::/96 for names with A records only (implies --nat64)")
      ("dhcp-lease-time", po::value<unsigned>()->default_value(3600), "DHCP lease time in seconds")
      ("dhcp-static-lease", po::value<std::vector<std::string>>()->composing(), "MAC=IP, repeatable")
      ("dhcp-route", po::value<std::vector<std::string>>()->composing(), "classless static route NET/LEN=ROUTER (option 121), repeatable")
      ("dhcp-range", po::value<std::string>(), "FIRST-LAST: the addresses DHCP leases dynamically (default: the whole subnet)")
      ("dns-search", po::value<std::vector<std::string>>()->composing(), "search domain for guests (default: the host's resolv.conf), repeatable")
      ("no-dns", "do not serve DNS")
      ("dns-upstream", po::value<std::vector<std::string>>()->composing(), "upstream DNS server IP[:PORT] (default: the host's resolv.conf), repeatable")
      ("dns-zone", po::value<std::vector<std::string>>()->composing(), "local zone ZONE[,default=IP][,record=NAME:IP][,regexp=RE:IP], repeatable")
      ("resolv-conf", po::value<std::string>()->default_value("/etc/resolv.conf"), "host resolver file followed for upstream servers and the search list (re-read every 2 s)")
      ("dns-max-pending", po::value<unsigned>()->default_value(1024), "forwarded DNS queries in flight at most; more are dropped (counted)");
}

/// Logging, the pid file, the user to switch to and the sandbox.
void add_process_options(po::options_description& all) {
  all.add_options()
      ("log-level", po::value<std::string>()->default_value("info"), "trace, debug, info, warn, error")
      ("log-file", po::value<std::string>(), "log to this file instead of stderr")
      ("pid-file", po::value<std::string>(), "write the process id to this file")
      ("ready-fd", po::value<int>(), "write \"1\" to this inherited descriptor once the network is up, then close it")
      ("exit-fd", po::value<int>(), "exit cleanly once this inherited descriptor becomes readable (or its writer closes)")
      ("user", po::value<std::string>(), "after set-up, switch to this user (NAME or UID); needs root")
      ("group", po::value<std::string>(), "after set-up, switch to this group only (NAME or GID; default: the user's)")
      ("sandbox", "after set-up: no_new_privs, no capabilities, Landlock, a seccomp system-call allow-list");
}

po::options_description describe_options() {
  po::options_description all("usernetd options");
  add_network_options(all);
  add_listener_options(all);
  add_service_options(all);
  add_dhcp_dns_options(all);
  add_process_options(all);
  return all;
}

/// The values of a repeatable option (none when it is absent).
std::vector<std::string> strings(const po::variables_map& vm, const char* name) {
  return vm.count(name) ? vm[name].as<std::vector<std::string>>() : std::vector<std::string>{};
}

/// --outbound-addr[6]: an address of `family`, or the first such address of an interface.
std::optional<IpAddress> outbound_address(const std::string& text, int family) {
  const std::string flag = family == AF_INET ? "--outbound-addr" : "--outbound-addr6";
  if (auto ip = parse_ip_address(text)) {
    if (ip->is_v4() != (family == AF_INET)) throw BadOption(flag + ": '" + text + "' is not of that address family");
    return ip;
  }
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) throw BadOption(flag + ": cannot list interfaces");
  std::optional<IpAddress> found;
  for (const ifaddrs* i = list; i != nullptr && !found; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != family || text != i->ifa_name) continue;
    if (family == AF_INET) {
      found = IpAddress::from_v4(ntohl(reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr.s_addr));
    } else {
      Ipv6 v6;
      std::memcpy(v6.data(), &reinterpret_cast<const sockaddr_in6*>(i->ifa_addr)->sin6_addr, 16);
      if (!is_link_local(v6)) found = IpAddress::from_v6(v6);
    }
  }
  ::freeifaddrs(list);
  if (!found) throw BadOption(flag + ": '" + text + "' is neither an address nor an interface with one");
  return found;
}

/// --router-ip, --no-host-loopback, --guest-ip, --guest-mac and --outbound-addr[6].
void router_guest_and_outbound(const po::variables_map& vm, NetworkConfig& n) {
  if (vm.count("router-ip")) n.router_ip = ipv4_option(vm, "router-ip");
  n.host_loopback = vm.count("no-host-loopback") == 0;
  if (vm.count("guest-ip")) n.first_guest_ip = ipv4_option(vm, "guest-ip");
  if (vm.count("guest-mac") && vm["guest-mac"].as<std::string>() != "tap") {
    const auto& text = vm["guest-mac"].as<std::string>();
    auto mac = parse_mac(text);
    if (!mac || is_group_address(*mac)) throw BadOption("--guest-mac: '" + text + "' is not a unicast MAC address");
    n.first_guest_mac = *mac;
  }
  if (vm.count("outbound-addr")) n.outbound.v4 = outbound_address(vm["outbound-addr"].as<std::string>(), AF_INET)->v4();
  if (vm.count("outbound-addr6")) n.outbound.v6 = outbound_address(vm["outbound-addr6"].as<std::string>(), AF_INET6)->v6();
}

/// --ipv6-gateway-ip and --ipv6-host-ip: addresses inside the guests' prefix.
void ipv6_addresses(const po::variables_map& vm, NetworkConfig& n) {
  for (const char* name : {"ipv6-gateway-ip", "ipv6-host-ip"}) {
    if (!vm.count(name)) continue;
    const auto& text = vm[name].as<std::string>();
    auto ip = parse_ipv6(text);
    if (!ip || !n.ipv6_prefix.contains(*ip))
      throw BadOption("--" + std::string(name) + ": '" + text + "' is not an address in " + n.ipv6_prefix.to_string());
    (std::string_view(name) == "ipv6-gateway-ip" ? n.ipv6_gateway_ip : n.ipv6_host_alias) = *ip;
  }
  if (n.ipv6_gateway_ip == n.ipv6_host_alias) throw BadOption("--ipv6-host-ip must differ from --ipv6-gateway-ip");
}

/// Addresses, MTU, NAT timeouts and flow caps of the virtual network.
NetworkConfig network_options(const po::variables_map& vm) {
  NetworkConfig n;
  n.mtu = vm["mtu"].as<unsigned>();
  if (n.mtu < 576 || n.mtu > 65520) throw BadOption("--mtu: must be between 576 and 65520");
  if (vm.count("subnet")) {
    const auto& text = vm["subnet"].as<std::string>();
    auto subnet = parse_ipv4_subnet(text);
    if (!subnet) throw BadOption("--subnet: '" + text + "' is not a subnet like 192.168.127.0/24");
    if (subnet->prefix_length > 29) throw BadOption("--subnet: must be /29 or larger");
    n.subnet = *subnet;
    n.gateway_ip = subnet->host(1);
    n.first_guest_ip = subnet->host(2);
    n.host_alias = subnet->broadcast() - 1;
  }
  if (vm.count("gateway-ip")) n.gateway_ip = ipv4_option(vm, "gateway-ip");
  if (vm.count("host-ip")) n.host_alias = ipv4_option(vm, "host-ip");
  router_guest_and_outbound(vm, n);
  ipv6_addresses(vm, n);
  if (!vm.count("guest-ip") && (n.first_guest_ip == n.gateway_ip || n.first_guest_ip == n.host_alias)) {
    // Keep the first guest on a free address when the user moved the gateway onto it.
    for (std::uint32_t i = 1; i < (1u << (32 - n.subnet.prefix_length)) - 1; ++i) {
      const Ipv4 candidate = n.subnet.host(i);
      if (candidate != n.gateway_ip && candidate != n.host_alias) {
        n.first_guest_ip = candidate;
        break;
      }
    }
  }
  n.allow_link_local = vm.count("allow-link-local") > 0;
  if (vm.count("nat")) {
    for (const auto& text : vm["nat"].as<std::vector<std::string>>()) {
      const auto eq = text.find('=');
      auto virtual_ip = parse_ipv4(text.substr(0, eq));
      auto real_ip = eq == std::string::npos ? std::nullopt : parse_ipv4(text.substr(eq + 1));
      if (!virtual_ip || !real_ip) throw BadOption("--nat: '" + text + "' is not VIRTUAL=REAL");
      n.extra_translations[*virtual_ip] = *real_ip;
    }
  }
  n.nat.tcp_connect_timeout_ms = std::uint64_t{vm["tcp-connect-timeout"].as<unsigned>()} * 1000;
  n.nat.udp_idle_timeout_ms = std::uint64_t{vm["udp-idle-timeout"].as<unsigned>()} * 1000;
  if (n.nat.tcp_connect_timeout_ms == 0) throw BadOption("--tcp-connect-timeout: must be at least 1");
  if (n.nat.udp_idle_timeout_ms == 0) throw BadOption("--udp-idle-timeout: must be at least 1");
  auto& caps = n.nat.caps;
  caps.tcp = vm["max-tcp-flows"].as<std::uint64_t>();
  caps.tcp_per_guest = vm["max-tcp-flows-per-guest"].as<std::uint64_t>();
  caps.half_open = vm["max-half-open"].as<std::uint64_t>();
  caps.half_open_per_guest = vm["max-half-open-per-guest"].as<std::uint64_t>();
  caps.udp = vm["max-udp-flows"].as<std::uint64_t>();
  caps.udp_per_guest = vm["max-udp-flows-per-guest"].as<std::uint64_t>();
  caps.icmp = vm["max-icmp-flows"].as<std::uint64_t>();
  caps.icmp_per_guest = vm["max-icmp-flows-per-guest"].as<std::uint64_t>();
  if (const Status valid = validate(n); !valid) throw BadOption(valid.error());
  return n;
}

/// The TAP device, logging and the pid file.
void tap_and_log_options(const po::variables_map& vm, DaemonOptions& o) {
  if (vm.count("tap")) o.tap = vm["tap"].as<std::string>();
  if (o.tap.size() > 15) throw BadOption("--tap: interface names have at most 15 characters");
  if (vm.count("netns")) {
    o.netns = vm["netns"].as<std::string>();
    if (o.tap.empty()) throw BadOption("--netns: needs --tap");
    if (o.netns.find('/') == std::string::npos) o.netns = "/run/netns/" + o.netns;
  }
  if (vm.count("userns")) {
    o.userns = vm["userns"].as<std::string>();
    if (o.netns.empty()) throw BadOption("--userns: needs --netns");
  }
  o.configure = vm.count("configure") > 0;
  if (o.configure && o.tap.empty()) throw BadOption("--configure: needs --tap");
  o.guest_mac_from_tap = vm.count("guest-mac") && vm["guest-mac"].as<std::string>() == "tap";
  if (o.guest_mac_from_tap && (o.tap.empty() || o.configure))
    throw BadOption("--guest-mac=tap: needs --tap without --configure");
  for (const char* name : {"ready-fd", "exit-fd"}) {
    if (!vm.count(name)) continue;
    const int fd = vm[name].as<int>();
    if (fd < 0 || ::fcntl(fd, F_GETFD) < 0)
      throw BadOption("--" + std::string(name) + ": " + std::to_string(fd) + " is not an open file descriptor");
    (std::string_view(name) == "ready-fd" ? o.ready_fd : o.exit_fd) = fd;
  }

  o.log_level = vm["log-level"].as<std::string>();
  if (spdlog::level::from_str(o.log_level) == spdlog::level::off && o.log_level != "off")
    throw BadOption("--log-level: '" + o.log_level + "' is not one of trace, debug, info, warn, error");
  if (vm.count("log-file")) o.log_file = vm["log-file"].as<std::string>();
  if (vm.count("pid-file")) o.pid_file = vm["pid-file"].as<std::string>();
}

/// Transport listeners, the API and its guest-expose policy, capture and notifications.
void listen_and_api_options(const po::variables_map& vm, DaemonOptions& o) {
  o.listen = strings(vm, "listen");
  o.listen_qemu = strings(vm, "listen-qemu");
  o.listen_vfkit = strings(vm, "listen-vfkit");
  o.listen_bess = strings(vm, "listen-bess");
  o.listen_stdio = vm.count("listen-stdio") > 0;
  o.services = strings(vm, "services");
  o.ssh_port = vm["ssh-port"].as<int>();
  o.ssh_port_given = !vm["ssh-port"].defaulted();
  if (o.ssh_port != -1 && (o.ssh_port < 1024 || o.ssh_port > 65535))
    throw BadOption("--ssh-port: must be between 1024 and 65535, or -1 to disable");
  o.gvproxy_api = vm.count("gvproxy-api") > 0;
  o.guest_expose = o.gvproxy_api ? GuestExposePolicy::any_address : GuestExposePolicy::refused;
  if (vm.count("guest-expose")) {
    const auto policy = vm["guest-expose"].as<std::string>();
    if (policy == "loopback") o.guest_expose = GuestExposePolicy::loopback_only;
    else if (policy == "any") o.guest_expose = GuestExposePolicy::any_address;
    else if (policy == "off") o.guest_expose = GuestExposePolicy::refused;
    else throw BadOption("--guest-expose: '" + policy + "' is not loopback, any or off");
  }
  if (vm.count("pcap")) o.pcap = vm["pcap"].as<std::string>();
  if (vm.count("slirp4netns-api")) {
    o.slirp4netns_api = vm["slirp4netns-api"].as<std::string>();
    if (o.slirp4netns_api.empty() || o.slirp4netns_api.size() >= 108)
      throw BadOption("--slirp4netns-api: a socket path of 1 to 107 bytes");
  }
  if (vm.count("notification")) {
    const auto url = vm["notification"].as<std::string>();
    if (!url.starts_with("unix://") || url.size() == 7 || url.size() - 7 >= 108)
      throw BadOption("--notification: '" + url + "' is not unix:///PATH (a socket path of at most 107 bytes)");
    o.notification = url.substr(7);
  }
}

/// DHCP: lease time, static leases, routes and search domains, checked against the network.
void dhcp_options(const po::variables_map& vm, DaemonOptions& o) {
  const NetworkConfig& n = o.network;
  o.dhcp.enabled = vm.count("no-dhcp") == 0;
  o.dhcp.lease_time_s = vm["dhcp-lease-time"].as<unsigned>();
  if (o.dhcp.lease_time_s < 60) throw BadOption("--dhcp-lease-time: must be at least 60 seconds");
  for (const auto& text : strings(vm, "dhcp-static-lease")) {
    auto lease = parse_static_lease(text);
    if (!lease) throw BadOption("--dhcp-static-lease: '" + text + "' is not MAC=IP");
    o.dhcp.static_leases.push_back(*lease);
  }
  for (const auto& text : strings(vm, "dhcp-route")) {
    auto route = parse_classless_route(text);
    if (!route) throw BadOption("--dhcp-route: '" + text + "' is not NET/LEN=ROUTER");
    o.dhcp.routes.push_back(*route);
  }
  if (vm.count("dhcp-range")) {
    const auto& text = vm["dhcp-range"].as<std::string>();
    const auto dash = text.find('-');
    const auto first = parse_ipv4(text.substr(0, dash));
    const auto last = dash == std::string::npos ? std::nullopt : parse_ipv4(text.substr(dash + 1));
    if (!first || !last) throw BadOption("--dhcp-range: '" + text + "' is not FIRST-LAST");
    o.dhcp.pool_first = *first;
    o.dhcp.pool_last = *last;
  }
  if (vm.count("dns-search")) {
    o.search_from_host = false;
    o.dhcp.search_domains = strings(vm, "dns-search");
  }
  if (const Status valid = dhcp::validate(make_dhcp_config(n, o.dhcp)); !valid)
    throw BadOption("DHCP: " + valid.error());
  const bool ipv6_asked = vm.count("ipv6") != 0;
  const bool ipv6_refused = vm.count("no-ipv6") != 0;
  if (ipv6_asked && ipv6_refused) throw BadOption("--ipv6 and --no-ipv6 contradict each other");
  if (ipv6_asked && n.mtu < 1280) throw BadOption("--ipv6: IPv6 needs an MTU of at least 1280");
  // IPv6 links need 1280 (RFC 8200 §5): below it the network is IPv4 only, and says so.
  o.ipv6.enabled = !ipv6_refused && n.mtu >= 1280;
  if (!ipv6_refused && n.mtu < 1280) o.ipv6.off_reason = "an MTU below 1280";
}

/// Port forwards and SSH unix-socket forwards (their default guest is the first guest).
void forward_options(const po::variables_map& vm, DaemonOptions& o) {
  const NetworkConfig& n = o.network;
  for (const auto& text : strings(vm, "forward")) {
    auto spec = parse_forward(text, n.first_guest_ip);
    if (!spec) throw BadOption("--forward '" + text + "': " + spec.error());
    o.forwards.push_back(*spec);
  }
  auto ssh_forwards = make_ssh_forwards(
      {strings(vm, "forward-sock"), strings(vm, "forward-dest"), strings(vm, "forward-user"), strings(vm, "forward-identity")},
      n.first_guest_ip);
  if (!ssh_forwards) throw BadOption(ssh_forwards.error());
  o.ssh_forwards = std::move(*ssh_forwards);
}

/// The DNS service, the user to switch to and the sandbox.
void dns_and_process_options(const po::variables_map& vm, DaemonOptions& o) {
  o.dns.enabled = vm.count("no-dns") == 0;
  o.dns.upstream = strings(vm, "dns-upstream");
  o.dns.zones = strings(vm, "dns-zone");
  o.dns.resolv_conf = vm["resolv-conf"].as<std::string>();
  o.dns.max_pending = vm["dns-max-pending"].as<unsigned>();
  o.dns.ipv6 = o.ipv6.enabled;
  o.dns.dns64 = vm.count("dns64") != 0;
  if (vm.count("nat64") || o.dns.dns64) {
    if (!o.ipv6.enabled)
      throw BadOption(std::string(o.dns.dns64 ? "--dns64" : "--nat64") + " needs IPv6 (" +
                      (o.ipv6.off_reason.empty() ? "--no-ipv6 was given" : o.ipv6.off_reason) + ")");
    o.network.nat64_prefix = kNat64WellKnownPrefix;
  }
  if (o.dns.max_pending == 0) throw BadOption("--dns-max-pending must be at least 1");
  if (vm.count("user") || vm.count("group")) {
    auto run_as = resolve_user_switch(vm.count("user") ? vm["user"].as<std::string>() : std::string(),
                                      vm.count("group") ? vm["group"].as<std::string>() : std::string());
    if (!run_as) throw BadOption(run_as.error());
    o.run_as = std::move(*run_as);
  }
  o.sandbox = vm.count("sandbox") > 0;
}

DaemonOptions build(const po::variables_map& vm) {
  DaemonOptions o;
  o.network = network_options(vm);
  tap_and_log_options(vm, o);
  listen_and_api_options(vm, o);
  dhcp_options(vm, o);
  forward_options(vm, o);
  dns_and_process_options(vm, o);
  if (o.tap.empty() && o.listen.empty() && o.listen_qemu.empty() && o.listen_vfkit.empty() &&
      o.listen_bess.empty() && !o.listen_stdio && o.services.empty())
    throw BadOption("nothing to serve: give --tap or a --listen* option");
  return o;
}

}  // namespace

ParsedDaemonOptions parse_daemon_options(int argc, const char* const argv[]) {
  ParsedDaemonOptions result;
  const auto description = describe_options();
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(description).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    result.action = ParsedDaemonOptions::Action::fail;
    result.message = e.what();
    return result;
  }
  if (vm.count("help")) {
    std::ostringstream text;
    text << "usage: usernetd [options]\n"
            "A user-mode network for virtual machines: DHCP, DNS and NAT on a virtual Ethernet.\n\n"
         << description;
    result.action = ParsedDaemonOptions::Action::print_and_exit;
    result.message = text.str();
    return result;
  }
  if (vm.count("version")) {
    result.action = ParsedDaemonOptions::Action::print_and_exit;
    result.message = std::string("usernetd ") + USERNET_VERSION + "\n";
    return result;
  }
  try {
    result.options = build(vm);
  } catch (const BadOption& e) {
    result.action = ParsedDaemonOptions::Action::fail;
    result.message = e.what();
  }
  return result;
}

}  // namespace usernet
