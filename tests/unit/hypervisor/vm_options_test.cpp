#include <doctest/doctest.h>

#include <vector>

#include "hypervisor/config_error.hpp"
#include "hypervisor/vm_options.hpp"

using namespace usernet;

namespace {
/// Parses a command line given as words (argv[0] added).
ParsedVmOptions parse(std::vector<const char*> words) {
  words.insert(words.begin(), "usernet-vm");
  return parse_vm_options(static_cast<int>(words.size()), words.data());
}

std::string rest_error_key(std::string_view text) {
  try {
    parse_rest_uri(text);
  } catch (const ConfigError& e) {
    return e.key();
  }
  return "";
}
}  // namespace

TEST_CASE("a full vfkit-style command line with network flags") {
  const auto parsed = parse({"--cpus", "2", "--memory", "256", "--bootloader", "linux,kernel=/k,initrd=/i,cmdline=console=ttyS0",
                             "--device", "virtio-net,mac=5a:94:ef:e4:0c:ee,transport=dgram", "--device", "virtio-rng",
                             "--restful-uri", "unix:///run/vm.sock", "--pidfile", "/run/vm.pid", "--log-level", "debug",
                             "--dns-upstream", "127.0.0.1:5353", "--mtu=4000", "--no-dhcp", "--virtiofsd", "/opt/virtiofsd"});
  REQUIRE_MESSAGE(parsed.action == ParsedVmOptions::Action::run, parsed.message);
  const auto& o = parsed.options;
  CHECK(o.vm.cpus == 2);
  CHECK(o.vm.memory_mib == 256);
  REQUIRE(o.vm.bootloader);
  CHECK(std::get<LinuxBootloader>(*o.vm.bootloader).cmdline == "console=ttyS0");
  REQUIRE(o.vm.devices.size() == 2);
  const auto& net = std::get<VirtioNet>(o.vm.devices[0]);
  CHECK(std::get<EmbeddedNet>(net.attachment).socket == EmbeddedSocket::dgram);
  CHECK(o.rest.kind == RestEndpoint::Kind::unix_socket);
  CHECK(o.rest.path == "/run/vm.sock");
  CHECK(o.vm.pidfile == "/run/vm.pid");
  CHECK(o.log_level == "debug");
  CHECK(o.virtiofsd_binary == "/opt/virtiofsd");
  // The network flags went through usernetd's parser.
  REQUIRE(o.network.dns.upstream.size() == 1);
  CHECK(o.network.dns.upstream[0] == "127.0.0.1:5353");
  CHECK(o.network.network.mtu == 4000);
  CHECK_FALSE(o.network.dhcp.enabled);
  CHECK_FALSE(o.network.listen_stdio);  // only a placeholder for usernetd's parser
}

TEST_CASE("defaults follow vfkit: 1 CPU, 512 MiB, no REST API; accelerator chosen at start") {
  const auto parsed = parse({"--bootloader", "linux,kernel=/k"});
  REQUIRE_MESSAGE(parsed.action == ParsedVmOptions::Action::run, parsed.message);
  CHECK(parsed.options.vm.cpus == 1);
  CHECK(parsed.options.vm.memory_mib == 512);
  CHECK(parsed.options.rest.kind == RestEndpoint::Kind::none);
  CHECK(parsed.options.accel_auto);
  CHECK(parsed.options.virtiofsd_binary.empty());  // searched for when a virtio-fs needs it
  CHECK(parsed.options.network.dhcp.enabled);
  const auto tcg = parse({"--bootloader", "linux,kernel=/k", "--accel", "tcg"});
  CHECK_FALSE(tcg.options.accel_auto);
  CHECK(tcg.options.vm.accel == Accel::tcg);
  const auto kvm = parse({"--bootloader", "linux,kernel=/k", "--accel", "kvm"});
  CHECK_FALSE(kvm.options.accel_auto);
  CHECK(kvm.options.vm.accel == Accel::kvm);
}

TEST_CASE("vfkit's deprecated --kernel/--initrd/--kernel-cmdline make a linux bootloader") {
  const auto parsed = parse({"--kernel", "/k", "--initrd", "/i", "--kernel-cmdline", "console=hvc0 rw"});
  REQUIRE_MESSAGE(parsed.action == ParsedVmOptions::Action::run, parsed.message);
  const auto& boot = std::get<LinuxBootloader>(*parsed.options.vm.bootloader);
  CHECK(boot.kernel == "/k");
  CHECK(boot.initrd == "/i");
  CHECK(boot.cmdline == "console=hvc0 rw");
  CHECK(parse({"--initrd", "/i"}).bad_key == "kernel");
  CHECK(parse({"--kernel", "/k", "--bootloader", "linux,kernel=/k"}).bad_key == "kernel");
}

TEST_CASE("errors name the bad flag or device key") {
  struct Case {
    std::vector<const char*> words;
    const char* key;
  };
  const Case cases[] = {
      {{"--device", "virtio-net"}, "bootloader"},
      {{"--bootloader", "linux,kernel=/k", "--device", "virtio-net,bogus=1"}, "bogus"},
      {{"--bootloader", "linux,kernel=/k", "--device", "virtio-net,mac=zz"}, "mac"},
      {{"--bootloader", "linux,kernel=/k", "--device", "virtio-net,nat,transport=stream"}, "transport"},
      {{"--bootloader", "linux,kernel=/k", "--device", "virtio-net,transport=seqpacket"}, "transport"},
      {{"--bootloader", "linux,kernel=/k", "--device", "virtio-sound"}, "virtio-sound"},
      {{"--bootloader", "linux"}, "kernel"},
      {{"--bootloader", "linux,kernel=/k", "--cpus", "0"}, "cpus"},
      {{"--bootloader", "linux,kernel=/k", "--memory", "8"}, "memory"},
      {{"--bootloader", "linux,kernel=/k", "--log-level", "chatty"}, "log-level"},
      {{"--bootloader", "linux,kernel=/k", "--accel", "hvf"}, "accel"},
      {{"--bootloader", "linux,kernel=/k", "--restful-uri", "http://x"}, "restful-uri"},
      {{"--bootloader", "linux,kernel=/k", "--tap", "tap0"}, "tap"},
      {{"--bootloader", "linux,kernel=/k", "--listen-qemu=unix:///x"}, "listen-qemu"},
      {{"--bootloader", "linux,kernel=/k", "--mtu", "100"}, "mtu"},
      {{"--bootloader", "linux,kernel=/k", "--no-such-flag"}, "network"},
      {{"--bootloader", "linux,kernel=/k", "--virtiofsd", ""}, "virtiofsd"},
  };
  for (const auto& c : cases) {
    const auto parsed = parse(c.words);
    CAPTURE(c.key);
    CAPTURE(parsed.message);
    CHECK(parsed.action == ParsedVmOptions::Action::fail);
    CHECK(parsed.bad_key == c.key);
    CHECK_FALSE(parsed.message.empty());
  }
}

TEST_CASE("--help lists the launcher's flags and usernetd's network flags") {
  const auto parsed = parse({"--help"});
  REQUIRE(parsed.action == ParsedVmOptions::Action::print_and_exit);
  CHECK(parsed.message.find("--bootloader") != std::string::npos);
  CHECK(parsed.message.find("--dns-upstream") != std::string::npos);
}

TEST_CASE("--restful-uri forms") {
  CHECK(parse_rest_uri("none://").kind == RestEndpoint::Kind::none);
  const auto unix_endpoint = parse_rest_uri("unix:///tmp/rest.sock");
  CHECK(unix_endpoint.kind == RestEndpoint::Kind::unix_socket);
  CHECK(unix_endpoint.path == "/tmp/rest.sock");
  const auto tcp = parse_rest_uri("tcp://localhost:8081");
  CHECK(tcp.kind == RestEndpoint::Kind::tcp);
  CHECK(tcp.host == "127.0.0.1");
  CHECK(tcp.port == 8081);
  CHECK(rest_error_key("unix://relative") == "restful-uri");
  CHECK(rest_error_key("tcp://127.0.0.1") == "restful-uri");
  CHECK(rest_error_key("tcp://127.0.0.1:0") == "restful-uri");
  CHECK(rest_error_key("tcp://127.0.0.1:70000") == "restful-uri");
  CHECK(rest_error_key("tcp://127.0.0.1:80x") == "restful-uri");
  CHECK(rest_error_key("tcp://example.com:80") == "restful-uri");
  CHECK(rest_error_key("ftp://x") == "restful-uri");
}
