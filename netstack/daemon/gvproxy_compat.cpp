#include "netstack/daemon/gvproxy_compat.hpp"

#include "netstack/base/text_file.hpp"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <optional>

#include "netstack/base/ipv4.hpp"

namespace usernet {

namespace {

/// What a gvproxy command line and config ask for, before it becomes usernetd options.
struct GvproxySettings {
  std::vector<std::string> listen, services, qemu, vfkit, bess;
  std::vector<std::string> forward_sock, forward_dest, forward_user, forward_identity;
  std::vector<std::string> zones, search, forwards, nat, leases;
  bool stdio = false, link_local = false;
  std::optional<std::string> mtu, ssh_port, pid_file, log_file, pcap, subnet, gateway_ip, host_ip, log_level,
      notification;
};

/// Thrown for a configuration we cannot translate; the message is the user's one line.
/// gvproxy refuses such configurations with log.Fatal, exit status 1.
struct Untranslatable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Thrown for a command line Go's flag package rejects (exit status 2).
struct BadFlag : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class FlagKind { text, list, boolean };

const std::map<std::string, FlagKind, std::less<>>& gvproxy_flags() {
  static const std::map<std::string, FlagKind, std::less<>> flags = {
      {"config", FlagKind::text},        {"listen", FlagKind::list},          {"services", FlagKind::list},
      {"listen-qemu", FlagKind::text},   {"listen-vfkit", FlagKind::text},    {"listen-bess", FlagKind::text},
      {"listen-vpnkit", FlagKind::text}, {"listen-stdio", FlagKind::text},    {"mtu", FlagKind::text},
      {"ssh-port", FlagKind::text},      {"forward-sock", FlagKind::list},    {"forward-dest", FlagKind::list},
      {"forward-user", FlagKind::list},  {"forward-identity", FlagKind::list}, {"pid-file", FlagKind::text},
      {"log-file", FlagKind::text},      {"pcap", FlagKind::text},            {"subnet", FlagKind::text},
      {"gatewayIP", FlagKind::text},     {"hostIP", FlagKind::text},          {"deviceIP", FlagKind::text},
      {"notification", FlagKind::text},  {"debug", FlagKind::boolean},        {"version", FlagKind::boolean},
      {"ec2-metadata-access", FlagKind::boolean}, {"gateway-allow-unexpose", FlagKind::boolean},
      {"guest-expose-loopback-only", FlagKind::boolean},
      {"no-ipv6", FlagKind::boolean},  // usernet's own: gvproxy mode is dual stack unless told
      {"help", FlagKind::boolean},       {"h", FlagKind::boolean},
  };
  return flags;
}

/// Go's strconv.ParseBool.
std::optional<bool> parse_go_bool(std::string_view text) {
  for (std::string_view t : {"1", "t", "T", "TRUE", "true", "True"})
    if (text == t) return true;
  for (std::string_view f : {"0", "f", "F", "FALSE", "false", "False"})
    if (text == f) return false;
  return std::nullopt;
}

/// gvproxy/logrus level names to ours.
std::string log_level_of(const std::string& level) {
  if (level == "warning") return "warn";
  if (level == "fatal" || level == "panic") return "critical";
  return level;
}

/// Escapes ',' in a --dns-zone field (see dns/zones.hpp).
std::string escape_zone_field(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == ',') out += '\\';
    out += c;
  }
  return out;
}

std::string scalar(const YAML::Node& node, const std::string& where) {
  if (!node.IsScalar()) throw Untranslatable("config: " + where + " must be a single value");
  return node.as<std::string>();
}

std::vector<std::string> scalar_list(const YAML::Node& node, const std::string& where) {
  std::vector<std::string> out;
  if (!node || node.IsNull()) return out;
  if (node.IsScalar()) return {node.as<std::string>()};
  if (!node.IsSequence()) throw Untranslatable("config: " + where + " must be a list");
  for (const auto& item : node) out.push_back(scalar(item, where));
  return out;
}

bool yaml_bool(const YAML::Node& node, const std::string& where) {
  if (!node || node.IsNull()) return false;
  auto value = parse_go_bool(scalar(node, where));
  if (!value) throw Untranslatable("config: " + where + " must be true or false");
  return *value;
}

/// `stack.dns` zones as --dns-zone strings.
void read_zones(const YAML::Node& dns, GvproxySettings& s) {
  if (!dns || dns.IsNull()) return;
  if (!dns.IsSequence()) throw Untranslatable("config: stack.dns must be a list of zones");
  for (const auto& zone : dns) {
    if (!zone["name"]) throw Untranslatable("config: every stack.dns zone needs a name");
    std::string text = scalar(zone["name"], "stack.dns.name");
    if (zone["defaultIP"] && !zone["defaultIP"].IsNull()) text += ",default=" + scalar(zone["defaultIP"], "defaultIP");
    if (const auto records = zone["records"]; records && !records.IsNull()) {
      if (!records.IsSequence()) throw Untranslatable("config: stack.dns.records must be a list");
      for (const auto& record : records) {
        if (!record["ip"]) throw Untranslatable("config: every DNS record needs an ip");
        const std::string ip = scalar(record["ip"], "records.ip");
        if (record["regexp"] && !record["regexp"].IsNull())
          text += ",regexp=" + escape_zone_field(scalar(record["regexp"], "records.regexp")) + ":" + ip;
        else if (record["name"])
          text += ",record=" + escape_zone_field(scalar(record["name"], "records.name")) + ":" + ip;
        else
          throw Untranslatable("config: a DNS record needs a name or a regexp");
      }
    }
    s.zones.push_back(text);
  }
}

/// The `stack` section (gvproxy's types.Configuration).
void read_stack(const YAML::Node& stack, GvproxySettings& s) {
  if (!stack || stack.IsNull()) return;
  if (!stack.IsMap()) throw Untranslatable("config: stack must be a map");
  if (yaml_bool(stack["debug"], "stack.debug")) s.log_level = "debug";
  if (stack["capture-file"] && !stack["capture-file"].IsNull()) s.pcap = scalar(stack["capture-file"], "capture-file");
  if (stack["mtu"]) s.mtu = scalar(stack["mtu"], "stack.mtu");
  if (stack["subnet"]) s.subnet = scalar(stack["subnet"], "stack.subnet");
  if (stack["gatewayIP"]) s.gateway_ip = scalar(stack["gatewayIP"], "stack.gatewayIP");
  if (stack["hostIP"]) s.host_ip = scalar(stack["hostIP"], "stack.hostIP");
  const std::string subnet_text = s.subnet.value_or("192.168.127.0/24");
  const auto subnet = parse_ipv4_subnet(subnet_text);
  if (!subnet) throw Untranslatable("config: stack.subnet '" + subnet_text + "' is not a subnet");
  if (stack["deviceIP"]) {
    // usernetd gives the first guest the subnet's second address, as gvproxy's default.
    const std::string device = scalar(stack["deviceIP"], "stack.deviceIP");
    if (parse_ipv4(device) != subnet->host(2))
      throw Untranslatable("config: stack.deviceIP other than the subnet's second address is not supported");
  }
  if (stack["gatewayMacAddress"]) {
    const std::string mac = scalar(stack["gatewayMacAddress"], "stack.gatewayMacAddress");
    if (mac != "5a:94:ef:e4:0c:dd")
      throw Untranslatable("config: stack.gatewayMacAddress other than 5a:94:ef:e4:0c:dd is not supported");
  }
  read_zones(stack["dns"], s);
  for (const auto& domain : scalar_list(stack["dnsSearchDomains"], "stack.dnsSearchDomains")) s.search.push_back(domain);
  if (const auto forwards = stack["forwards"]; forwards && !forwards.IsNull()) {
    if (!forwards.IsMap()) throw Untranslatable("config: stack.forwards must map local to remote");
    for (const auto& item : forwards)
      s.forwards.push_back(scalar(item.first, "stack.forwards") + "=" + scalar(item.second, "stack.forwards"));
  }
  const std::string host_alias = s.host_ip.value_or(format_ipv4(subnet->broadcast() - 1));
  if (const auto nat = stack["nat"]; nat && !nat.IsNull()) {
    if (!nat.IsMap()) throw Untranslatable("config: stack.nat must map virtual to real addresses");
    for (const auto& item : nat) {
      const std::string virtual_ip = scalar(item.first, "stack.nat");
      const std::string real_ip = scalar(item.second, "stack.nat");
      if (virtual_ip == host_alias && real_ip == "127.0.0.1") continue;  // usernetd's host alias already
      s.nat.push_back(virtual_ip + "=" + real_ip);
    }
  }
  // gatewayVirtualIPs: addresses the gateway answers ARP for; usernetd answers for every
  // translated (nat) address and the host alias, which is what gvproxy configs list here.
  if (const auto leases = stack["dhcpStaticLeases"]; leases && !leases.IsNull()) {
    if (!leases.IsMap()) throw Untranslatable("config: stack.dhcpStaticLeases must map IP to MAC");
    for (const auto& item : leases) {
      const std::string ip = scalar(item.first, "dhcpStaticLeases");
      const std::string mac = scalar(item.second, "dhcpStaticLeases");
      // usernetd always leases the first guest's address to the first guest's MAC.
      if (mac == "5a:94:ef:e4:0c:ee" && parse_ipv4(ip) == subnet->host(2)) continue;
      s.leases.push_back(mac + "=" + ip);
    }
  }
  if (yaml_bool(stack["ec2MetadataAccess"], "stack.ec2MetadataAccess")) s.link_local = true;
}

/// A whole gvproxy YAML config.
GvproxySettings read_config(const std::string& text) {
  GvproxySettings s;
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw Untranslatable("config: " + std::string(e.what()));
  }
  if (root.IsNull()) return s;
  if (!root.IsMap()) throw Untranslatable("config: the top level must be a map");
  try {
    s.listen = scalar_list(root["listen"], "listen");
    s.services = scalar_list(root["services"], "services");
    if (root["log-level"]) s.log_level = log_level_of(scalar(root["log-level"], "log-level"));
    if (root["pid-file"]) s.pid_file = scalar(root["pid-file"], "pid-file");
    if (root["log-file"]) s.log_file = scalar(root["log-file"], "log-file");
    if (yaml_bool(root["ec2-metadata-access"], "ec2-metadata-access")) s.link_local = true;
    if (root["notification"]) {
      if (auto v = scalar(root["notification"], "notification"); !v.empty()) s.notification = v;
    }
    if (const auto interfaces = root["interfaces"]; interfaces && !interfaces.IsNull()) {
      if (!interfaces.IsMap()) throw Untranslatable("config: interfaces must be a map");
      auto one = [&](const char* key) {
        return interfaces[key] && !interfaces[key].IsNull() ? scalar(interfaces[key], key) : std::string();
      };
      if (!one("vpnkit").empty()) throw Untranslatable("config: the vpnkit transport is not supported");
      if (auto v = one("qemu"); !v.empty()) s.qemu.push_back(v);
      if (auto v = one("bess"); !v.empty()) s.bess.push_back(v);
      if (auto v = one("vfkit"); !v.empty()) s.vfkit.push_back(v);
      if (!one("stdio").empty()) s.stdio = true;
    }
    if (const auto forwards = root["forwards"]; forwards && !forwards.IsNull()) {
      if (!forwards.IsSequence()) throw Untranslatable("config: forwards must be a list");
      for (const auto& f : forwards) {
        auto field = [&](const char* key) { return f[key] ? scalar(f[key], key) : std::string(); };
        s.forward_sock.push_back(field("socket"));
        s.forward_dest.push_back(field("dest"));
        s.forward_user.push_back(field("user"));
        s.forward_identity.push_back(field("identity"));
      }
    }
    read_stack(root["stack"], s);
  } catch (const YAML::Exception& e) {
    throw Untranslatable("config: " + std::string(e.what()));
  }
  return s;
}

/// usernetd options for the settings.
std::vector<std::string> to_usernetd_args(const GvproxySettings& s) {
  std::vector<std::string> out;
  auto each = [&](const char* flag, const std::vector<std::string>& values) {
    for (const auto& v : values) {
      out.emplace_back(flag);
      out.emplace_back(v);
    }
  };
  auto maybe = [&](const char* flag, const std::optional<std::string>& value) {
    if (value) {
      out.emplace_back(flag);
      out.emplace_back(*value);
    }
  };
  each("--listen", s.listen);
  each("--services", s.services);
  each("--listen-qemu", s.qemu);
  each("--listen-vfkit", s.vfkit);
  each("--listen-bess", s.bess);
  if (s.stdio) out.emplace_back("--listen-stdio");
  maybe("--mtu", s.mtu);
  maybe("--subnet", s.subnet);
  maybe("--gateway-ip", s.gateway_ip);
  maybe("--host-ip", s.host_ip);
  maybe("--ssh-port", s.ssh_port);
  maybe("--pid-file", s.pid_file);
  maybe("--log-file", s.log_file);
  maybe("--log-level", s.log_level);
  maybe("--pcap", s.pcap);
  maybe("--notification", s.notification);
  if (s.link_local) out.emplace_back("--allow-link-local");
  each("--dns-zone", s.zones);
  each("--dns-search", s.search);
  each("--forward", s.forwards);
  each("--nat", s.nat);
  each("--dhcp-static-lease", s.leases);
  each("--forward-sock", s.forward_sock);
  each("--forward-dest", s.forward_dest);
  each("--forward-user", s.forward_user);
  each("--forward-identity", s.forward_identity);
  return out;
}

/// Reads a whole file; Untranslatable naming it on failure.
std::string read_file(const std::string& path) {
  auto text = read_text_file(path);
  if (!text) throw Untranslatable("failed to read config file: open " + path + ": " + std::strerror(errno));
  return std::move(*text);
}

/// Applies one command-line flag: lists grow, single values override the config.
void apply_flag(GvproxySettings& s, const std::string& name, const std::string& value) {
  using List = std::vector<std::string> GvproxySettings::*;
  using Single = std::optional<std::string> GvproxySettings::*;
  static const std::map<std::string, List, std::less<>> lists = {
      {"listen", &GvproxySettings::listen},           {"services", &GvproxySettings::services},
      {"listen-qemu", &GvproxySettings::qemu},        {"listen-vfkit", &GvproxySettings::vfkit},
      {"listen-bess", &GvproxySettings::bess},        {"forward-sock", &GvproxySettings::forward_sock},
      {"forward-dest", &GvproxySettings::forward_dest}, {"forward-user", &GvproxySettings::forward_user},
      {"forward-identity", &GvproxySettings::forward_identity}};
  static const std::map<std::string, Single, std::less<>> singles = {
      {"mtu", &GvproxySettings::mtu},           {"ssh-port", &GvproxySettings::ssh_port},
      {"pid-file", &GvproxySettings::pid_file}, {"log-file", &GvproxySettings::log_file},
      {"pcap", &GvproxySettings::pcap},         {"subnet", &GvproxySettings::subnet},
      {"gatewayIP", &GvproxySettings::gateway_ip}, {"hostIP", &GvproxySettings::host_ip},
      {"notification", &GvproxySettings::notification}};
  if (auto it = lists.find(name); it != lists.end()) return (s.*(it->second)).push_back(value);
  if (auto it = singles.find(name); it != singles.end()) {
    s.*(it->second) = value;
    return;
  }
  if (name == "listen-stdio") s.stdio = !value.empty();
  else if (name == "listen-vpnkit") throw Untranslatable("-listen-vpnkit: the vpnkit transport is not supported");
  else if (name == "deviceIP") {
    const auto subnet = parse_ipv4_subnet(s.subnet.value_or("192.168.127.0/24"));
    if (!subnet || parse_ipv4(value) != subnet->host(2))
      throw Untranslatable("-deviceIP: only the subnet's second address is supported (usernet's first guest)");
  }
}

/// Go's flag package parses -mtu and -ssh-port as int: anything else is a flag error.
void check_int_flag(const std::string& name, const std::string& value) {
  if (name != "mtu" && name != "ssh-port") return;
  std::size_t used = 0;
  try {
    (void)std::stoll(value, &used, 0);
  } catch (const std::exception&) {
    used = 0;
  }
  if (value.empty() || used != value.size())
    throw BadFlag("invalid value \"" + value + "\" for flag -" + name + ": parse error");
}

std::string usage() {
  std::string text = "usage: gvproxy [flags]  (usernetd " USERNET_VERSION " in gvproxy mode)\nflags:";
  for (const auto& [name, kind] : gvproxy_flags())
    if (name != "h") text += " -" + name + (kind == FlagKind::boolean ? "" : " VALUE");
  return text + "\n";
}

/// gvproxy's flags as given on one command line, before translation.
struct GivenFlags {
  std::vector<std::pair<std::string, std::string>> values;  // in order, values as text
  bool debug = false, version = false, help = false, link_local = false, loopback_only = false, no_ipv6 = false;
  std::string config_path;
};

/// Records one boolean flag (-name or -name=value, Go's spellings).
void read_bool_flag(GivenFlags& flags, const std::string& name, std::string_view arg, std::size_t eq) {
  auto parsed = eq == std::string_view::npos ? std::optional<bool>(true) : parse_go_bool(arg.substr(eq + 1));
  if (!parsed) throw BadFlag("invalid boolean value \"" + std::string(arg.substr(eq + 1)) + "\" for -" + name + ": parse error");
  if (name == "debug") flags.debug = *parsed;
  if (name == "version") flags.version = *parsed;
  if (name == "help" || name == "h") flags.help = *parsed;
  if (name == "ec2-metadata-access") flags.link_local = *parsed;
  if (name == "guest-expose-loopback-only") flags.loopback_only = *parsed;
  if (name == "no-ipv6") flags.no_ipv6 = *parsed;
  // gateway-allow-unexpose (older releases) is accepted and ignored: guests may always unexpose their own.
}

/// Reads the command line as Go's flag package does; throws BadFlag with its message.
GivenFlags read_flags(const std::vector<std::string>& args) {
  GivenFlags flags;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--") {
      if (i + 1 < args.size()) throw BadFlag("unexpected argument '" + args[i + 1] + "'");
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') throw BadFlag("unexpected argument '" + args[i] + "'");
    arg.remove_prefix(arg[1] == '-' ? 2 : 1);
    const auto eq = arg.find('=');
    const std::string name(arg.substr(0, eq));
    const auto flag = gvproxy_flags().find(name);
    if (name.empty() || flag == gvproxy_flags().end()) throw BadFlag("flag provided but not defined: -" + name);
    if (flag->second == FlagKind::boolean) {
      read_bool_flag(flags, name, arg, eq);
      continue;
    }
    std::string value;
    if (eq != std::string_view::npos) {
      value = std::string(arg.substr(eq + 1));
    } else {
      if (i + 1 >= args.size()) throw BadFlag("flag needs an argument: -" + name);
      value = args[++i];
    }
    check_int_flag(name, value);
    if (name == "config") flags.config_path = value;
    else flags.values.emplace_back(name, value);
  }
  return flags;
}

/// usernetd's arguments for what gvproxy was given; throws Untranslatable.
std::vector<std::string> usernetd_args_for(const GivenFlags& flags) {
  GvproxySettings settings = flags.config_path.empty() ? GvproxySettings{} : read_config(read_file(flags.config_path));
  // gvproxy installs its SSH forward only without -config (a config carries its own).
  if (!flags.config_path.empty()) settings.ssh_port = "-1";
  for (const auto& [name, value] : flags.values) apply_flag(settings, name, value);
  if (flags.debug) settings.log_level = "debug";
  if (flags.link_local) settings.link_local = true;
  auto args = to_usernetd_args(settings);
  // The API keeps gvproxy's rules: guests may expose, ":P" is every address.
  args.emplace_back("--gvproxy-api");
  if (flags.loopback_only) args.emplace_back("--guest-expose=loopback");
  if (flags.no_ipv6) args.emplace_back("--no-ipv6");
  return args;
}

}  // namespace

bool invoked_as_gvproxy(std::string_view argv0) {
  const auto slash = argv0.rfind('/');
  const std::string_view base = slash == std::string_view::npos ? argv0 : argv0.substr(slash + 1);
  return base == "gvproxy" || base == "gvproxy.exe";
}

Result<std::vector<std::string>> translate_gvproxy_config(const std::string& yaml_text) {
  try {
    return to_usernetd_args(read_config(yaml_text));
  } catch (const Untranslatable& e) {
    return Error{e.what()};
  }
}

GvproxyTranslation translate_gvproxy_command_line(const std::vector<std::string>& args) {
  GvproxyTranslation result;
  try {
    const GivenFlags flags = read_flags(args);
    if (flags.help || flags.version) {
      result.action = GvproxyTranslation::Action::print_and_exit;
      result.message = flags.help ? usage() : "gvproxy version usernet-" USERNET_VERSION "\n";
      return result;
    }
    result.args = usernetd_args_for(flags);
  } catch (const BadFlag& e) {
    result.action = GvproxyTranslation::Action::fail;
    result.message = e.what();
    result.exit_code = 2;
  } catch (const Untranslatable& e) {
    result.action = GvproxyTranslation::Action::fail;
    result.message = e.what();
    result.exit_code = 1;
  }
  return result;
}

}  // namespace usernet
