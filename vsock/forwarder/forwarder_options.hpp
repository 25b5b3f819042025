// usernet-forwarder's command line, gvforwarder-compatible: -url, -iface, -mac, -mtu,
// -preexisting, -stop-if-exist, -debug, -version, -help; every flag also as --flag, values
// as "-flag value" or "-flag=value", booleans as "-flag" or "-flag=true|false" (Go's
// flag package rules). Pure code.
#pragma once

#include <string>
#include <vector>

namespace usernet {

struct ForwarderOptions {
  std::string url = "vsock://2:1024/connect";
  std::string iface = "tap0";
  std::string mac = "5a:94:ef:e4:0c:ee";
  unsigned mtu = 4000;  // gvforwarder's default; only bounds buffers there and here
  bool preexisting = false;
  std::vector<std::string> stop_if_exist{"eth0", "ens3", "enp0s1"};
  bool debug = false;
  bool version = false;
  bool help = false;
};

/// Parses argv[1..]; throws std::runtime_error with a one-line message on an unknown flag,
/// a missing or malformed value (bad URL, bad MAC, MTU outside 68..65535).
ForwarderOptions parse_forwarder_options(const std::vector<std::string>& args);

/// The usage text printed for -help and on errors.
std::string forwarder_usage();

}  // namespace usernet
