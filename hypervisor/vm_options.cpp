#include "hypervisor/vm_options.hpp"

#include <boost/program_options.hpp>

#include <array>
#include <sstream>

#include "hypervisor/config_error.hpp"
#include "hypervisor/device_parser.hpp"
#include "netstack/base/ipv4.hpp"
#include "netstack/base/port_number.hpp"

namespace po = boost::program_options;

namespace usernet {

namespace {

/// usernetd flags that make no sense inside the launcher: it attaches the VM's NICs
/// itself and has its own --pidfile and --log-level.
constexpr std::array<std::string_view, 10> kDaemonOnlyFlags = {
    "--tap", "--netns", "--configure", "--listen", "--listen-qemu", "--listen-vfkit",
    "--listen-bess", "--listen-stdio", "--pid-file", "--log-file"};

/// The launcher's own flags.
po::options_description describe_vm_options() {
  po::options_description all("usernet-vm options");
  all.add_options()
      ("help,h", "show this help (and the network flags) and exit")
      ("version", "print the version and exit")
      ("cpus,c", po::value<unsigned>()->default_value(1), "virtual CPUs")
      ("memory,m", po::value<std::uint64_t>()->default_value(512), "guest RAM in MiB")
      ("bootloader,b", po::value<std::string>(),
       "linux,kernel=K[,initrd=I][,cmdline=C] or efi,variable-store=V[,create]")
      ("kernel", po::value<std::string>(), "deprecated vfkit form of --bootloader linux,kernel=K")
      ("initrd", po::value<std::string>(), "deprecated vfkit form of --bootloader linux,...,initrd=I")
      ("kernel-cmdline", po::value<std::string>(), "deprecated vfkit form of --bootloader linux,...,cmdline=C")
      ("device,d", po::value<std::vector<std::string>>()->composing(),
       "virtio-net[,mac=M][,transport=stream|dgram] | virtio-net,unixSocketPath=P[,vfkitMagic=off] | "
       "virtio-net,type=unixgram,path=P | virtio-net,nat | virtio-blk,path=D | "
       "virtio-serial,stdio|pty|logFilePath=F | serial,... | virtio-rng | virtio-balloon | "
       "virtio-vsock,port=N,socketURL=P[,listen|connect] | virtio-fs,sharedDir=D,mountTag=T (repeatable)")
      ("restful-uri", po::value<std::string>()->default_value("none://"), "REST API: none://, unix:///PATH or tcp://HOST:PORT")
      ("pidfile", po::value<std::string>(), "write QEMU's process id to this file")
      ("ignition", po::value<std::string>(),
       "serve this Ignition config over HTTP to the guest on vsock port 1024 (vfkit's --ignition)")
      ("log-level", po::value<std::string>()->default_value("info"), "debug, info or error")
      ("accel", po::value<std::string>()->default_value("auto"), "auto (KVM when it works, else TCG), tcg or kvm")
      ("qemu", po::value<std::string>()->default_value("qemu-system-x86_64"), "the QEMU binary to run")
      ("virtiofsd", po::value<std::string>(),
       "virtiofsd for virtio-fs devices (default: PATH, /usr/lib/qemu/virtiofsd, /usr/libexec/virtiofsd)");
  return all;
}

/// Thrown for a bad flag value: the flag's name and the one-line message.
struct BadFlag : std::runtime_error {
  BadFlag(std::string flag, const std::string& message) : std::runtime_error(message), key(std::move(flag)) {}
  std::string key;
};

/// Parses the network flags with usernetd's parser. "--listen-stdio" only satisfies its
/// "something to serve" rule; the launcher ignores the transport fields.
DaemonOptions parse_network_flags(const std::vector<std::string>& flags, const std::string& log_level) {
  for (const auto& flag : flags) {
    for (const auto forbidden : kDaemonOnlyFlags) {
      if (flag == forbidden || flag.starts_with(std::string(forbidden) + "=")) {
        throw BadFlag(std::string(forbidden.substr(2)), std::string(forbidden) + ": not supported by usernet-vm");
      }
    }
  }
  std::vector<const char*> argv{"usernet-vm"};
  for (const auto& flag : flags) argv.push_back(flag.c_str());
  argv.push_back("--listen-stdio");
  auto parsed = parse_daemon_options(static_cast<int>(argv.size()), argv.data());
  if (parsed.action != ParsedDaemonOptions::Action::run) {
    // The daemon parser names the flag at the start of its message ("--mtu: ...") or in it.
    std::string key = "network";
    if (parsed.message.starts_with("--")) key = parsed.message.substr(2, parsed.message.find_first_of(": ") - 2);
    throw BadFlag(key, parsed.message);
  }
  parsed.options.listen_stdio = false;
  parsed.options.log_level = log_level == "error" ? "err" : log_level;
  return parsed.options;
}

/// --bootloader, or vfkit's deprecated --kernel/--initrd/--kernel-cmdline (not both forms).
Bootloader parse_boot_flags(const po::variables_map& vm) {
  const bool legacy = vm.count("kernel") || vm.count("initrd") || vm.count("kernel-cmdline");
  if (vm.count("bootloader")) {
    if (legacy) throw BadFlag("kernel", "--kernel/--initrd/--kernel-cmdline: not together with --bootloader");
    return parse_bootloader(vm["bootloader"].as<std::string>());
  }
  if (!legacy) throw BadFlag("bootloader", "--bootloader: required (linux,kernel=...)");
  if (!vm.count("kernel")) throw BadFlag("kernel", "--kernel: required with --initrd/--kernel-cmdline");
  LinuxBootloader boot;
  boot.kernel = vm["kernel"].as<std::string>();
  if (vm.count("initrd")) boot.initrd = vm["initrd"].as<std::string>();
  if (vm.count("kernel-cmdline")) boot.cmdline = vm["kernel-cmdline"].as<std::string>();
  return boot;
}

/// Builds the options from the parsed launcher flags and the leftover network flags.
VmOptions build(const po::variables_map& vm, const std::vector<std::string>& network_flags) {
  VmOptions o;
  o.vm.cpus = vm["cpus"].as<unsigned>();
  if (o.vm.cpus == 0 || o.vm.cpus > 255) throw BadFlag("cpus", "--cpus: must be between 1 and 255");
  o.vm.memory_mib = vm["memory"].as<std::uint64_t>();
  if (o.vm.memory_mib < 16 || o.vm.memory_mib > (1u << 22)) throw BadFlag("memory", "--memory: must be between 16 and 4194304 MiB");
  o.vm.bootloader = parse_boot_flags(vm);
  if (vm.count("device")) {
    for (const auto& text : vm["device"].as<std::vector<std::string>>()) o.vm.devices.push_back(parse_device(text));
    check_device_set(o.vm.devices);
  }
  o.rest = parse_rest_uri(vm["restful-uri"].as<std::string>());
  if (vm.count("pidfile")) o.vm.pidfile = vm["pidfile"].as<std::string>();
  if (vm.count("ignition")) {
    o.ignition_file = vm["ignition"].as<std::string>();
    if (o.ignition_file.empty()) throw BadFlag("ignition", "--ignition: needs a file");
  }
  o.log_level = vm["log-level"].as<std::string>();
  if (o.log_level != "debug" && o.log_level != "info" && o.log_level != "error") {
    throw BadFlag("log-level", "--log-level: '" + o.log_level + "' is not one of debug, info, error");
  }
  const auto& accel = vm["accel"].as<std::string>();
  if (accel == "auto") {
    o.accel_auto = true;
  } else if (accel == "tcg") {
    o.vm.accel = Accel::tcg;
  } else if (accel == "kvm") {
    o.vm.accel = Accel::kvm;
  } else {
    throw BadFlag("accel", "--accel: '" + accel + "' is not auto, tcg or kvm");
  }
  o.qemu_binary = vm["qemu"].as<std::string>();
  if (vm.count("virtiofsd")) {
    o.virtiofsd_binary = vm["virtiofsd"].as<std::string>();
    if (o.virtiofsd_binary.empty()) throw BadFlag("virtiofsd", "--virtiofsd: needs a path");
  }
  o.network = parse_network_flags(network_flags, o.log_level);
  return o;
}

/// Help text: the launcher's flags, then usernetd's network flags it accepts.
std::string help_text(const po::options_description& description) {
  std::ostringstream text;
  text << "usage: usernet-vm --bootloader linux,kernel=K,initrd=I,cmdline=C [--device ...] [options]\n"
          "Runs a VM under QEMU with a vfkit-style command line; virtio-net devices without a\n"
          "socket are attached to a usernet network inside this process.\n\n"
       << description
       << "\nNetwork flags of usernetd are accepted too (--forward, --dns-upstream, --dns-zone, --subnet,\n"
          "--mtu, --dhcp-*...), except its transports (--tap, --listen*), --pid-file and --log-file:\n\n";
  const char* daemon_help[] = {"usernetd", "--help"};
  text << parse_daemon_options(2, daemon_help).message;
  return text.str();
}

}  // namespace

RestEndpoint parse_rest_uri(std::string_view text) {
  RestEndpoint endpoint;
  if (text == "none://" || text.empty()) return endpoint;
  if (text.starts_with("unix://")) {
    endpoint.kind = RestEndpoint::Kind::unix_socket;
    endpoint.path = std::string(text.substr(7));
    if (endpoint.path.empty() || endpoint.path[0] != '/') {
      throw ConfigError("restful-uri", "--restful-uri: unix:// needs an absolute path (unix:///run/vm.sock)");
    }
    if (endpoint.path.size() >= 108) throw ConfigError("restful-uri", "--restful-uri: unix socket path too long");
    return endpoint;
  }
  if (text.starts_with("tcp://")) {
    const std::string_view rest = text.substr(6);
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
      throw ConfigError("restful-uri", "--restful-uri: tcp:// needs HOST:PORT");
    }
    endpoint.kind = RestEndpoint::Kind::tcp;
    endpoint.host = std::string(rest.substr(0, colon));
    if (endpoint.host == "localhost") endpoint.host = "127.0.0.1";
    if (!parse_ipv4(endpoint.host)) throw ConfigError("restful-uri", "--restful-uri: '" + endpoint.host + "' is not an IPv4 address");
    const std::string_view port = rest.substr(colon + 1);
    const auto value = parse_port(port);
    if (!value) throw ConfigError("restful-uri", "--restful-uri: '" + std::string(port) + "' is not a port (1-65535)");
    endpoint.port = *value;
    return endpoint;
  }
  throw ConfigError("restful-uri", "--restful-uri: '" + std::string(text) + "' is not none://, unix:///PATH or tcp://HOST:PORT");
}

ParsedVmOptions parse_vm_options(int argc, const char* const argv[]) {
  ParsedVmOptions result;
  const auto description = describe_vm_options();
  po::variables_map vm;
  std::vector<std::string> network_flags;
  auto fail = [&result](std::string key, std::string message) {
    result.action = ParsedVmOptions::Action::fail;
    result.bad_key = std::move(key);
    result.message = std::move(message);
    return result;
  };
  try {
    auto parsed = po::command_line_parser(argc, argv).options(description).allow_unregistered().run();
    network_flags = po::collect_unrecognized(parsed.options, po::include_positional);
    po::store(parsed, vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return fail("flags", e.what());
  }
  if (vm.count("help")) {
    result.action = ParsedVmOptions::Action::print_and_exit;
    result.message = help_text(description);
    return result;
  }
  if (vm.count("version")) {
    result.action = ParsedVmOptions::Action::print_and_exit;
    result.message = std::string("usernet-vm ") + USERNET_VERSION + "\n";
    return result;
  }
  try {
    result.options = build(vm, network_flags);
  } catch (const ConfigError& e) {
    return fail(e.key(), e.what());
  } catch (const BadFlag& e) {
    return fail(e.key, e.what());
  }
  return result;
}

}  // namespace usernet
