#include "vsock/forwarder/forwarder_options.hpp"

#include <charconv>
#include <sstream>
#include <stdexcept>

#include "netstack/base/ethernet.hpp"
#include "vsock/transport/transport_url.hpp"

namespace usernet {

namespace {

enum class Flag { url, iface, mac, mtu, preexisting, stop_if_exist, debug, version, help };

struct FlagInfo {
  const char* name;
  Flag flag;
  bool boolean;
};

constexpr FlagInfo kFlags[] = {
    {"url", Flag::url, false},           {"iface", Flag::iface, false},
    {"mac", Flag::mac, false},           {"mtu", Flag::mtu, false},
    {"preexisting", Flag::preexisting, true}, {"stop-if-exist", Flag::stop_if_exist, false},
    {"debug", Flag::debug, true},        {"version", Flag::version, true},
    {"help", Flag::help, true},          {"h", Flag::help, true},
};

[[noreturn]] void fail(const std::string& why) { throw std::runtime_error(why); }

bool parse_bool(const std::string& name, const std::string& value) {
  if (value == "true" || value == "1" || value == "t" || value == "T" || value == "TRUE" || value == "True")
    return true;
  if (value == "false" || value == "0" || value == "f" || value == "F" || value == "FALSE" || value == "False")
    return false;
  fail("invalid boolean value '" + value + "' for -" + name);
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

void apply(ForwarderOptions& options, const FlagInfo& info, const std::string& value) {
  switch (info.flag) {
    case Flag::url:
      parse_transport_url(value);  // validates; throws naming the URL
      options.url = value;
      break;
    case Flag::iface:
      if (value.empty() || value.size() > 15) fail("-iface must be 1 to 15 characters");
      options.iface = value;
      break;
    case Flag::mac:
      if (!value.empty() && !parse_mac(value)) fail("invalid MAC address '" + value + "' for -mac");
      options.mac = value;
      break;
    case Flag::mtu: {
      unsigned mtu = 0;
      const auto* end = value.data() + value.size();
      auto [ptr, ec] = std::from_chars(value.data(), end, mtu);
      if (ec != std::errc{} || ptr != end || mtu < 68 || mtu > 65535) fail("-mtu must be 68 to 65535");
      options.mtu = mtu;
      break;
    }
    case Flag::stop_if_exist:
      options.stop_if_exist = split_commas(value);
      break;
    case Flag::preexisting: options.preexisting = parse_bool(info.name, value); break;
    case Flag::debug: options.debug = parse_bool(info.name, value); break;
    case Flag::version: options.version = parse_bool(info.name, value); break;
    case Flag::help: options.help = parse_bool(info.name, value); break;
  }
}

}  // namespace

ForwarderOptions parse_forwarder_options(const std::vector<std::string>& args) {
  ForwarderOptions options;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.size() < 2 || arg[0] != '-') fail("unexpected argument '" + arg + "'");
    std::string body = arg.substr(arg[1] == '-' ? 2 : 1);
    std::string value;
    const auto equals = body.find('=');
    const bool has_value = equals != std::string::npos;
    if (has_value) {
      value = body.substr(equals + 1);
      body.resize(equals);
    }
    const FlagInfo* info = nullptr;
    for (const auto& candidate : kFlags)
      if (body == candidate.name) info = &candidate;
    if (info == nullptr) fail("flag provided but not defined: " + arg);
    if (!has_value) {
      if (info->boolean) {
        value = "true";
      } else {
        if (i + 1 >= args.size()) fail("flag needs an argument: " + arg);
        value = args[++i];
      }
    }
    apply(options, *info, value);
  }
  return options;
}

std::string forwarder_usage() {
  return "usage: usernet-forwarder [flags]\n"
         "  -url URL             host endpoint: vsock://CID:PORT/PATH or unix:///PATH\n"
         "                       (default vsock://2:1024/connect)\n"
         "  -iface NAME          TAP interface (default tap0)\n"
         "  -mac MAC             MAC address set on a TAP we create (default 5a:94:ef:e4:0c:ee)\n"
         "  -mtu N               accepted for gvforwarder compatibility (default 4000)\n"
         "  -preexisting         attach to an existing, configured TAP: no MAC, link or DHCP\n"
         "  -stop-if-exist LIST  exit at start if one of these interfaces exists\n"
         "                       (default eth0,ens3,enp0s1; empty to disable)\n"
         "  -debug               log every frame\n"
         "  -version             print the version\n"
         "Flags may also be written --flag and --flag=value.\n";
}

}  // namespace usernet
