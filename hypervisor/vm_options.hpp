// usernet-vm's command line: vfkit-style VM flags (--cpus, --memory, --bootloader,
// --device, --restful-uri, --pidfile, --log-level) plus usernetd's network flags
// (--forward, --dns-upstream, --subnet, --mtu, DHCP options...) for the embedded network.
// Parsed into one struct so tools/usernet-vm.cpp only wires things together and every
// rule is testable without starting anything.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "hypervisor/vm_config.hpp"
#include "netstack/daemon/daemon_options.hpp"

namespace usernet {

/// Where the REST API listens (vfkit --restful-uri): none://, unix:///PATH, tcp://HOST:PORT.
struct RestEndpoint {
  enum class Kind { none, unix_socket, tcp } kind = Kind::none;
  std::string path;  // unix_socket
  std::string host;  // tcp (IPv4 literal or "localhost")
  std::uint16_t port = 0;
};

/// Parses a --restful-uri value; throws ConfigError (key "restful-uri") when malformed.
RestEndpoint parse_rest_uri(std::string_view text);

struct VmOptions {
  VmConfig vm;
  RestEndpoint rest;
  std::string log_level = "info";             // debug, info, error (vfkit's set)
  std::string qemu_binary = "qemu-system-x86_64";
  /// --ignition FILE: served over HTTP to guest connections to vsock port 1024, the port
  /// Ignition's applehv/vfkit provider fetches its config from (empty: none).
  std::string ignition_file;
  /// --accel auto (the default): the launcher picks vm.accel with probe_kvm() at start.
  bool accel_auto = false;
  /// --virtiofsd: the virtiofsd for virtio-fs devices; empty: search (find_virtiofsd).
  std::string virtiofsd_binary;
  /// The embedded network's settings (network, dhcp, dns and port forwards); its
  /// transport fields are unused: the launcher attaches the VM's NICs itself.
  DaemonOptions network;
};

struct ParsedVmOptions {
  enum class Action { run, print_and_exit, fail } action = Action::run;
  VmOptions options;
  std::string message;  // help/version text, or the one-line error
  std::string bad_key;  // on fail: the flag or device/bootloader key that is wrong
};

/// Parses argv (argv[0] is skipped). Never throws.
ParsedVmOptions parse_vm_options(int argc, const char* const argv[]);

}  // namespace usernet
