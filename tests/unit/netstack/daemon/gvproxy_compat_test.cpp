#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "netstack/daemon/daemon_options.hpp"
#include "daemon_options_support.hpp"
#include "netstack/daemon/gvproxy_compat.hpp"

using namespace usernet;
using Strings = std::vector<std::string>;

namespace {
using test::parse_translated;

/// The error line translate_gvproxy_config gives for `yaml`, or "" when it translates.
std::string config_error(const std::string& yaml) {
  const auto translated = translate_gvproxy_config(yaml);
  return translated ? std::string() : translated.error();
}
}  // namespace

TEST_CASE("program name decides gvproxy mode") {
  CHECK(invoked_as_gvproxy("gvproxy"));
  CHECK(invoked_as_gvproxy("/usr/libexec/podman/gvproxy"));
  CHECK_FALSE(invoked_as_gvproxy("/usr/bin/usernetd"));
  CHECK_FALSE(invoked_as_gvproxy("gvproxy2"));
}

TEST_CASE("podman machine's command line (GvproxyCommand.ToCmdline order)") {
  const Strings podman = {"-listen", "unix:///run/user/1000/podman/api.sock",
                          "-services", "unix:///run/user/1000/podman/services.sock",
                          "-debug", "-mtu", "1500", "-ssh-port", "41231",
                          "-listen-qemu", "unix:///run/user/1000/podman/qemu.sock",
                          "-pid-file", "/run/user/1000/podman/gvproxy.pid",
                          "-log-file", "/run/user/1000/podman/gvproxy.log",
                          "-gateway-allow-unexpose"};
  auto t = translate_gvproxy_command_line(podman);
  REQUIRE(t.action == GvproxyTranslation::Action::run);
  CHECK(t.args == Strings{"--listen", "unix:///run/user/1000/podman/api.sock",
                          "--services", "unix:///run/user/1000/podman/services.sock",
                          "--listen-qemu", "unix:///run/user/1000/podman/qemu.sock",
                          "--mtu", "1500", "--ssh-port", "41231",
                          "--pid-file", "/run/user/1000/podman/gvproxy.pid",
                          "--log-file", "/run/user/1000/podman/gvproxy.log", "--log-level", "debug", "--gvproxy-api"});
  auto parsed = parse_translated(t.args);
  REQUIRE(parsed.action == ParsedDaemonOptions::Action::run);
  CHECK(parsed.options.ssh_port == 41231);
  CHECK(parsed.options.ssh_port_given);
  CHECK(parsed.options.listen_qemu.size() == 1);
}

TEST_CASE("Go flag syntax: one or two dashes, =value, booleans, SSH forward flags pass through") {
  auto t = translate_gvproxy_command_line({"--listen-vfkit=unixgram:///tmp/v.sock", "-listen-stdio", "accept",
                                           "-ec2-metadata-access=true", "-debug=false", "-forward-sock", "/tmp/p.sock",
                                           "-forward-dest", "/run/podman/podman.sock", "-forward-user", "core",
                                           "-forward-identity", "/home/u/.ssh/id"});
  REQUIRE(t.action == GvproxyTranslation::Action::run);
  CHECK(t.args == Strings{"--listen-vfkit", "unixgram:///tmp/v.sock", "--listen-stdio", "--allow-link-local",
                          "--forward-sock", "/tmp/p.sock", "--forward-dest", "/run/podman/podman.sock",
                          "--forward-user", "core", "--forward-identity", "/home/u/.ssh/id", "--gvproxy-api"});
}

TEST_CASE("gvproxy mode is dual stack; -no-ipv6 (usernet's own flag) turns IPv6 off") {
  auto on = parse_translated(translate_gvproxy_command_line({"-listen-vfkit", "unixgram:///v"}).args);
  REQUIRE(on.action == ParsedDaemonOptions::Action::run);
  CHECK(on.options.ipv6.enabled);
  auto t = translate_gvproxy_command_line({"-listen-vfkit", "unixgram:///v", "-no-ipv6"});
  REQUIRE(t.action == GvproxyTranslation::Action::run);
  CHECK(t.args.back() == "--no-ipv6");
  auto off = parse_translated(t.args);
  REQUIRE(off.action == ParsedDaemonOptions::Action::run);
  CHECK_FALSE(off.options.ipv6.enabled);
}

TEST_CASE("unknown flags, missing values and unsupported transports fail with one line") {
  auto unknown = translate_gvproxy_command_line({"-listen", "unix:///a", "-frobnicate"});
  CHECK(unknown.action == GvproxyTranslation::Action::fail);
  CHECK(unknown.message == "flag provided but not defined: -frobnicate");
  auto missing = translate_gvproxy_command_line({"-mtu"});
  CHECK(missing.action == GvproxyTranslation::Action::fail);
  CHECK(missing.message == "flag needs an argument: -mtu");
  CHECK(translate_gvproxy_command_line({"-listen-vpnkit", "unix:///x"}).action == GvproxyTranslation::Action::fail);
  CHECK(translate_gvproxy_command_line({"stray"}).action == GvproxyTranslation::Action::fail);
  CHECK(translate_gvproxy_command_line({"-debug=maybe"}).action == GvproxyTranslation::Action::fail);
  CHECK(translate_gvproxy_command_line({"-config", "/nonexistent/gvproxy.yaml"}).action ==
        GvproxyTranslation::Action::fail);
  auto version = translate_gvproxy_command_line({"-version"});
  CHECK(version.action == GvproxyTranslation::Action::print_and_exit);
  CHECK(version.message.starts_with("gvproxy version"));
}

TEST_CASE("-notification and the YAML notification key become --notification") {
  auto t = translate_gvproxy_command_line({"-listen-vfkit", "unixgram:///v", "-notification", "unix:///run/n.sock"});
  REQUIRE(t.action == GvproxyTranslation::Action::run);
  CHECK(t.args == Strings{"--listen-vfkit", "unixgram:///v", "--notification", "unix:///run/n.sock", "--gvproxy-api"});
  const auto out = translate_gvproxy_config("notification: unix:///run/y.sock\n");
  REQUIRE(out);
  CHECK(*out == Strings{"--notification", "unix:///run/y.sock"});
}

TEST_CASE("YAML config: gvproxy's legacy defaults translate to nothing beyond our defaults") {
  const std::string legacy = R"(log-level: info
stack:
    mtu: 1500
    subnet: 192.168.127.0/24
    gatewayIP: 192.168.127.1
    deviceIP: 192.168.127.2
    hostIP: 192.168.127.254
    gatewayMacAddress: 5a:94:ef:e4:0c:dd
    dns:
        - name: containers.internal.
          records:
            - name: gateway
              ip: 192.168.127.1
    forwards:
        127.0.0.1:2222: 192.168.127.2:22
    nat:
        192.168.127.254: 127.0.0.1
    gatewayVirtualIPs:
        - 192.168.127.254
    dhcpStaticLeases:
        192.168.127.2: 5a:94:ef:e4:0c:ee
    vpnKitUUIDMacAddresses:
        c3d68012-0208-11ea-9fd7-f2189899ab08: 5a:94:ef:e4:0c:ee
)";
  const auto out = translate_gvproxy_config(legacy);
  REQUIRE(out);
  CHECK(*out == Strings{"--mtu", "1500", "--subnet", "192.168.127.0/24", "--gateway-ip", "192.168.127.1",
                        "--host-ip", "192.168.127.254", "--log-level", "info",
                        "--dns-zone", "containers.internal.,record=gateway:192.168.127.1",
                        "--forward", "127.0.0.1:2222=192.168.127.2:22"});
}

TEST_CASE("YAML config in CRC's shape: zones with regexps, nat, static leases, interfaces") {
  const std::string crc = R"(listen: [unix:///tmp/crc-api.sock]
interfaces:
  qemu: unix:///tmp/crc-qemu.sock
stack:
  mtu: 4000
  subnet: 192.168.127.0/24
  gatewayIP: 192.168.127.1
  hostIP: 192.168.127.254
  dns:
    - name: apps-crc.testing.
      records:
        - regexp: '.*'
          ip: 192.168.127.2
    - name: crc.testing.
      defaultIP: 192.168.127.2
      records:
        - name: host
          ip: 192.168.127.254
  dnsSearchDomains: [crc.testing]
  nat:
    192.168.127.253: 127.0.0.1
  dhcpStaticLeases:
    192.168.127.3: 5a:94:ef:e4:0c:ef
  forwards:
    "udp:127.0.0.1:5353": 192.168.127.2:53
)";
  const auto out = translate_gvproxy_config(crc);
  REQUIRE(out);
  CHECK(*out == Strings{"--listen", "unix:///tmp/crc-api.sock", "--listen-qemu", "unix:///tmp/crc-qemu.sock",
                        "--mtu", "4000", "--subnet", "192.168.127.0/24", "--gateway-ip", "192.168.127.1",
                        "--host-ip", "192.168.127.254",
                        "--dns-zone", "apps-crc.testing.,regexp=.*:192.168.127.2",
                        "--dns-zone", "crc.testing.,default=192.168.127.2,record=host:192.168.127.254",
                        "--dns-search", "crc.testing", "--forward", "udp:127.0.0.1:5353=192.168.127.2:53",
                        "--nat", "192.168.127.253=127.0.0.1", "--dhcp-static-lease", "5a:94:ef:e4:0c:ef=192.168.127.3"});
  auto parsed = parse_translated(*out);
  INFO(parsed.message);
  CHECK(parsed.action == ParsedDaemonOptions::Action::run);
}

TEST_CASE("YAML config errors are one line; -config disables the default SSH forward unless asked") {
  CHECK(config_error("stack: [1, 2]") == "config: stack must be a map");
  CHECK(config_error("stack:\n  mtu: [1]\n") == "config: stack.mtu must be a single value");
  CHECK_FALSE(translate_gvproxy_config("interfaces:\n  vpnkit: unix:///x\n"));
  CHECK_FALSE(translate_gvproxy_config("stack: {gatewayMacAddress: '02:00:00:00:00:01'}"));
  CHECK_FALSE(translate_gvproxy_config("key: [unclosed"));

  char path[] = "/tmp/usernet-gvproxy-XXXXXX";
  const int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  ::close(fd);
  std::ofstream(path) << "listen:\n  - unix:///tmp/from-config.sock\nstack:\n  mtu: 9000\n";
  auto t = translate_gvproxy_command_line({"-config", path, "-mtu", "1400"});
  REQUIRE(t.action == GvproxyTranslation::Action::run);
  CHECK(t.args == Strings{"--listen", "unix:///tmp/from-config.sock", "--mtu", "1400", "--ssh-port", "-1", "--gvproxy-api"});
  auto with_ssh = translate_gvproxy_command_line({"-config", path, "-ssh-port", "2022"});
  CHECK(with_ssh.args == Strings{"--listen", "unix:///tmp/from-config.sock", "--mtu", "9000", "--ssh-port", "2022", "--gvproxy-api"});
  std::remove(path);
}

TEST_CASE("exit statuses are gvproxy's: 2 for a bad flag, 1 for a refused configuration") {
  auto undefined = translate_gvproxy_command_line({"-nope"});
  CHECK(undefined.action == GvproxyTranslation::Action::fail);
  CHECK(undefined.exit_code == 2);
  CHECK(undefined.message == "flag provided but not defined: -nope");
  auto bad_int = translate_gvproxy_command_line({"-mtu", "abc"});
  CHECK(bad_int.exit_code == 2);
  CHECK(bad_int.message == "invalid value \"abc\" for flag -mtu: parse error");
  auto missing = translate_gvproxy_command_line({"-config", "/nonexistent/gvproxy.yaml"});
  CHECK(missing.action == GvproxyTranslation::Action::fail);
  CHECK(missing.exit_code == 1);
  CHECK(missing.message == "failed to read config file: open /nonexistent/gvproxy.yaml: No such file or directory");
  CHECK(translate_gvproxy_command_line({"-deviceIP", "192.168.127.2"}).action == GvproxyTranslation::Action::run);
  auto loopback = translate_gvproxy_command_line({"-guest-expose-loopback-only"});
  CHECK(loopback.args == Strings{"--gvproxy-api", "--guest-expose=loopback"});
}
