#include "netstack/daemon/slirp4netns_compat.hpp"

#include <sys/stat.h>

#include <array>
#include <charconv>
#include <optional>
#include <stdexcept>

#include "netstack/base/ethernet.hpp"
#include "netstack/base/ipv4.hpp"

namespace usernet {

namespace {

/// A refused command line: the message is slirp4netns's line; `usage` adds its usage text.
struct Refused : std::runtime_error {
  Refused(const std::string& message, bool with_usage) : std::runtime_error(message), usage(with_usage) {}
  bool usage;
};

enum class Takes { nothing, value };

struct LongOption {
  std::string_view name;
  char short_name;  // 0: long only
  Takes takes;
};

// Every option slirp4netns 1.2 knows, with its deprecated spellings.
constexpr std::array<LongOption, 21> kOptions{{
    {"configure", 'c', Takes::nothing},        {"exit-fd", 'e', Takes::value},
    {"ready-fd", 'r', Takes::value},           {"mtu", 'm', Takes::value},
    {"cidr", 0, Takes::value},                 {"disable-host-loopback", 0, Takes::nothing},
    {"no-host-loopback", 0, Takes::nothing},   {"netns-type", 0, Takes::value},
    {"userns-path", 0, Takes::value},          {"api-socket", 'a', Takes::value},
    {"enable-ipv6", '6', Takes::nothing},      {"enable-sandbox", 0, Takes::nothing},
    {"create-sandbox", 0, Takes::nothing},     {"enable-seccomp", 0, Takes::nothing},
    {"outbound-addr", 0, Takes::value},        {"outbound-addr6", 0, Takes::value},
    {"disable-dns", 0, Takes::nothing},        {"macaddress", 0, Takes::value},
    {"target-type", 0, Takes::value},          {"help", 'h', Takes::nothing},
    {"version", 'v', Takes::nothing},
}};

/// What the command line asks for, before it becomes usernetd options.
struct Settings {
  bool configure = false, no_host_loopback = false, ipv6 = false, sandbox = false, no_dns = false;
  std::optional<int> exit_fd, ready_fd;
  unsigned mtu = 1500;
  std::string cidr = "10.0.2.0/24", netns_type = "pid", userns_path, api_socket, mac, target_type = "netns";
  std::string outbound4, outbound6;
  std::vector<std::string> positionals;
  std::string early_exit;  // --help or --version text, when reached first
};

std::optional<long> parse_long(std::string_view text) {
  long value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::string version_text() {
  return std::string("slirp4netns version 1.2.0\ncommit: usernet-") + USERNET_VERSION +
         "\nlibslirp: none (usernetd " + USERNET_VERSION + ")\nSLIRP_CONFIG_VERSION_MAX: 4\n";
}

/// Applies one option and its value (empty for Takes::nothing).
void apply(Settings& s, const LongOption& option, const std::string& value) {
  const std::string_view name = option.name;
  if (name == "configure") s.configure = true;
  else if (name == "exit-fd" || name == "ready-fd") {
    const auto fd = parse_long(value);
    if (!fd || *fd < 0 || *fd > 1 << 20) throw Refused(std::string(name) + " must be a non-negative integer", true);
    (name == "exit-fd" ? s.exit_fd : s.ready_fd) = static_cast<int>(*fd);
  } else if (name == "mtu") {
    const auto mtu = parse_long(value);
    if (!mtu || *mtu <= 0 || *mtu > 65521) throw Refused("MTU must be a positive integer (< 65522)", true);
    s.mtu = static_cast<unsigned>(*mtu);
  } else if (name == "cidr") s.cidr = value;
  else if (name == "disable-host-loopback" || name == "no-host-loopback") s.no_host_loopback = true;
  else if (name == "netns-type") s.netns_type = value;
  else if (name == "userns-path") s.userns_path = value;
  else if (name == "api-socket") s.api_socket = value;
  else if (name == "enable-ipv6") s.ipv6 = true;
  else if (name == "enable-sandbox" || name == "create-sandbox" || name == "enable-seccomp") s.sandbox = true;
  else if (name == "outbound-addr") s.outbound4 = value;
  else if (name == "outbound-addr6") s.outbound6 = value;
  else if (name == "disable-dns") s.no_dns = true;
  else if (name == "macaddress") s.mac = value;
  else if (name == "target-type") s.target_type = value;
  else if (name == "help") s.early_exit = slirp4netns_usage();
  else if (name == "version") s.early_exit = version_text();
}

/// The long option `name` names: exact, or a unique prefix (getopt_long's rule).
const LongOption& find_long(std::string_view name, const std::string& as_written) {
  for (const auto& option : kOptions)
    if (option.name == name) return option;
  const LongOption* match = nullptr;
  for (const auto& option : kOptions) {
    if (!option.name.starts_with(name)) continue;
    if (match != nullptr) throw Refused("option '" + as_written + "' is ambiguous", true);
    match = &option;
  }
  if (match == nullptr) throw Refused("unrecognized option '" + as_written + "'", true);
  return *match;
}

const LongOption& find_short(char name) {
  for (const auto& option : kOptions)
    if (option.short_name == name) return option;
  throw Refused(std::string("invalid option -- '") + name + "'", true);
}

/// Reads the arguments the way getopt_long does; stops at --help or --version.
Settings read_arguments(const std::vector<std::string>& args) {
  Settings s;
  bool only_positionals = false;
  for (std::size_t i = 0; i < args.size() && s.early_exit.empty(); ++i) {
    const std::string& arg = args[i];
    if (only_positionals || arg.size() < 2 || arg[0] != '-') {
      s.positionals.push_back(arg);
    } else if (arg == "--") {
      only_positionals = true;
    } else if (arg.starts_with("--")) {
      const auto eq = arg.find('=');
      const std::string_view name = std::string_view(arg).substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      const LongOption& option = find_long(name, eq == std::string::npos ? arg : arg.substr(0, eq));
      std::string value;
      if (option.takes == Takes::nothing && eq != std::string::npos)
        throw Refused("option '--" + std::string(option.name) + "' doesn't allow an argument", true);
      if (option.takes == Takes::value) {
        if (eq != std::string::npos) value = arg.substr(eq + 1);
        else if (i + 1 < args.size()) value = args[++i];
        else throw Refused("option '--" + std::string(option.name) + "' requires an argument", true);
      }
      apply(s, option, value);
    } else {
      for (std::size_t j = 1; j < arg.size() && s.early_exit.empty(); ++j) {
        const LongOption& option = find_short(arg[j]);
        if (option.takes == Takes::nothing) {
          apply(s, option, {});
          continue;
        }
        std::string value = arg.substr(j + 1);
        if (value.empty()) {
          if (i + 1 >= args.size()) throw Refused(std::string("option requires an argument -- '") + arg[j] + "'", true);
          value = args[++i];
        }
        apply(s, option, value);
        break;
      }
    }
  }
  return s;
}

bool path_exists(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0;
}

/// The namespace paths the positionals name: PID (its /proc entries) or PATH.
void namespace_args(const Settings& s, std::vector<std::string>& out) {
  const std::string& target = s.positionals[0];
  std::string netns = target, userns = s.userns_path;
  if (s.netns_type == "pid") {
    const auto pid = parse_long(target);
    if (!pid || *pid <= 0) throw Refused("PID must be a positive integer", true);
    netns = "/proc/" + target + "/ns/net";
    if (userns.empty()) userns = "/proc/" + target + "/ns/user";
    if (!path_exists(netns)) throw Refused(netns + ": No such file or directory", false);
  } else if (s.netns_type == "path") {
    if (!path_exists(target)) throw Refused("existing path expected when --netns-type=path: No such file or directory", false);
  } else {
    throw Refused("--netns-type must be pid or path, not '" + s.netns_type + "'", true);
  }
  out.insert(out.end(), {"--tap", s.positionals[1], "--netns", netns});
  if (!userns.empty()) out.insert(out.end(), {"--userns", userns});
}

/// --cidr: a network address with a prefix of 1 to 25 bits, slirp4netns's rules.
Ipv4Subnet checked_cidr(const std::string& text) {
  const auto slash = text.find('/');
  const auto prefix = slash == std::string::npos ? std::nullopt : parse_long(std::string_view(text).substr(slash + 1));
  const auto network = slash == std::string::npos ? std::nullopt : parse_ipv4(text.substr(0, slash));
  if (!prefix || !network) throw Refused("invalid CIDR: " + text, false);
  if (*prefix < 1 || *prefix > 25) throw Refused("prefix length needs to be 1-25", false);
  const Ipv4Subnet subnet{*network, static_cast<unsigned>(*prefix)};
  const Ipv4 mask = ~Ipv4{0} << (32 - subnet.prefix_length);
  if ((*network & mask) != *network)
    throw Refused("CIDR needs to be a network address like 10.0.2.0/24, not like 10.0.2.100/24", false);
  return subnet;
}

std::vector<std::string> to_usernetd_args(const Settings& s) {
  if (s.positionals.size() < 2) throw Refused("", true);  // slirp4netns: usage alone
  if (!s.userns_path.empty() && !path_exists(s.userns_path))
    throw Refused("userns path doesn't exist: " + s.userns_path, true);
  if (s.target_type == "bess")
    throw Refused("--target-type=bess is not supported here: use usernetd --listen-bess", false);
  if (s.target_type != "netns") throw Refused(R"(--target-type must be either "netns" or "bess")", true);
  if (!s.mac.empty() && !s.configure)
    throw Refused("--macaddr cannot be specified when --configure or -c is not specified", true);
  if (!s.mac.empty() && !parse_mac(s.mac))
    throw Refused("macaddress has to be a valid MAC address (hex string, 6 bytes, each byte separated by a ':').", false);
  const Ipv4Subnet subnet = checked_cidr(s.cidr);
  std::vector<std::string> out;
  namespace_args(s, out);
  const std::string host = format_ipv4(subnet.host(2));
  out.insert(out.end(), {"--subnet", subnet.to_string(), "--gateway-ip", format_ipv4(subnet.host(3)), "--host-ip", host,
                         "--router-ip", host, "--guest-ip", format_ipv4(subnet.host(100)), "--dhcp-range",
                         format_ipv4(subnet.host(15)) + "-" + format_ipv4(subnet.host(30)), "--mtu",
                         std::to_string(s.mtu), "--ssh-port", "-1"});
  // Without -c the caller made and configured the TAP (RootlessKit): +100 is its address.
  if (s.configure) out.emplace_back("--configure");
  else out.insert(out.end(), {"--guest-mac", "tap"});
  if (!s.mac.empty()) out.insert(out.end(), {"--guest-mac", s.mac});
  if (s.no_host_loopback) out.emplace_back("--no-host-loopback");
  if (s.ipv6) out.insert(out.end(), {"--ipv6", "--ipv6-gateway-ip", "fd00::3", "--ipv6-host-ip", "fd00::2"});
  else out.emplace_back("--no-ipv6");
  if (s.no_dns) out.emplace_back("--no-dns");
  if (s.sandbox) out.emplace_back("--sandbox");
  if (s.ready_fd) out.insert(out.end(), {"--ready-fd", std::to_string(*s.ready_fd)});
  if (s.exit_fd) out.insert(out.end(), {"--exit-fd", std::to_string(*s.exit_fd)});
  if (!s.api_socket.empty()) out.insert(out.end(), {"--slirp4netns-api", s.api_socket});
  if (!s.outbound4.empty()) out.insert(out.end(), {"--outbound-addr", s.outbound4});
  if (!s.outbound6.empty()) out.insert(out.end(), {"--outbound-addr6", s.outbound6});
  return out;
}

}  // namespace

bool invoked_as_slirp4netns(std::string_view argv0) {
  const auto slash = argv0.rfind('/');
  return (slash == std::string_view::npos ? argv0 : argv0.substr(slash + 1)) == "slirp4netns";
}

std::string slirp4netns_usage() {
  return "Usage: slirp4netns [OPTION]... PID|PATH [TAPNAME]\n"
         "User-mode networking for unprivileged network namespaces (usernetd in slirp4netns mode).\n"
         "\n"
         "-c, --configure          configure the interface: address, MTU, default route, lo up\n"
         "-e, --exit-fd=FD         exit once this descriptor is readable or its writer closed\n"
         "-r, --ready-fd=FD        write \"1\" to this descriptor once the network is up\n"
         "-m, --mtu=MTU            MTU of the TAP (default=1500, max=65520)\n"
         "-6, --enable-ipv6        IPv6 too: fd00::/64 by router advertisement, DNS at fd00::3\n"
         "-a, --api-socket=PATH    serve the JSON API (add_hostfwd, list_hostfwd, remove_hostfwd) here\n"
         "--cidr=CIDR              network address CIDR (default=10.0.2.0/24)\n"
         "--disable-host-loopback  the host alias (+2) does not reach 127.0.0.1:* on the host\n"
         "--netns-type=TYPE        what the first argument is ([path|pid], default=pid)\n"
         "--userns-path=PATH       user namespace to join to create the TAP\n"
         "--enable-sandbox         drop privileges and confine the process once set up\n"
         "--enable-seccomp         limit system calls to an allow-list once set up\n"
         "--outbound-addr=IPv4     bind outgoing IPv4 connections to this address\n"
         "--outbound-addr6=IPv6    bind outgoing IPv6 connections to this address\n"
         "--disable-dns            do not serve DNS at the CIDR's +3 (and fd00::3)\n"
         "--macaddress=MAC         MAC address of the TAP (only valid with -c)\n"
         "--target-type=TYPE       target type ([netns], default=netns)\n"
         "-h, --help               show this help and exit\n"
         "-v, --version            show version and exit\n";
}

Slirp4netnsTranslation translate_slirp4netns_command_line(const std::vector<std::string>& args) {
  Slirp4netnsTranslation result;
  try {
    const Settings settings = read_arguments(args);
    if (!settings.early_exit.empty()) {
      result.action = Slirp4netnsTranslation::Action::print_and_exit;
      result.message = settings.early_exit;
      return result;
    }
    if (settings.positionals.size() > 2) result.warnings.emplace_back("WARNING: too many arguments");
    result.args = to_usernetd_args(settings);
  } catch (const Refused& refused) {
    result.action = Slirp4netnsTranslation::Action::fail;
    result.message = refused.what();
    result.show_usage = refused.usage;
  }
  return result;
}

}  // namespace usernet
