#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>

#include "netstack/daemon/daemon_options.hpp"
#include "daemon_options_support.hpp"
#include "netstack/daemon/slirp4netns_compat.hpp"

using namespace usernet;
using Strings = std::vector<std::string>;

namespace {
using test::parse_translated;

/// The value after `flag` in a translation, or "" if the flag is absent.
std::string value_of(const Strings& args, const std::string& flag) {
  auto it = std::find(args.begin(), args.end(), flag);
  return it == args.end() || it + 1 == args.end() ? std::string() : *(it + 1);
}

bool has(const Strings& args, const std::string& flag) { return std::find(args.begin(), args.end(), flag) != args.end(); }

/// Our own process: its namespaces exist, so PID-mode translations can be checked.
std::string own_pid() { return std::to_string(::getpid()); }

std::string error_of(const Strings& args) {
  const auto t = translate_slirp4netns_command_line(args);
  return t.action == Slirp4netnsTranslation::Action::fail ? t.message : "(translated)";
}
}  // namespace

TEST_CASE("program name decides slirp4netns mode") {
  CHECK(invoked_as_slirp4netns("slirp4netns"));
  CHECK(invoked_as_slirp4netns("/usr/local/libexec/usernet/slirp4netns"));
  CHECK_FALSE(invoked_as_slirp4netns("usernetd"));
  CHECK_FALSE(invoked_as_slirp4netns("slirp4netns2"));
}

TEST_CASE("podman 4.3's command line becomes slirp4netns's network on a TAP") {
  // libpod/networking_slirp4netns.go: the order podman builds.
  const Strings podman = {"--disable-host-loopback", "--mtu=65520", "--enable-sandbox", "--enable-seccomp",
                          "--enable-ipv6", "-c", "-e", "3", "-r", "4", "--api-socket", "/tmp/ctr.net",
                          "--netns-type=path", "/proc/self/ns/net", "tap0"};
  const auto t = translate_slirp4netns_command_line(podman);
  REQUIRE(t.action == Slirp4netnsTranslation::Action::run);
  CHECK(value_of(t.args, "--tap") == "tap0");
  CHECK(value_of(t.args, "--netns") == "/proc/self/ns/net");
  CHECK_FALSE(has(t.args, "--userns"));  // path mode joins a user namespace only when told
  CHECK(value_of(t.args, "--subnet") == "10.0.2.0/24");
  CHECK(value_of(t.args, "--gateway-ip") == "10.0.2.3");  // DNS and DHCP
  CHECK(value_of(t.args, "--router-ip") == "10.0.2.2");
  CHECK(value_of(t.args, "--host-ip") == "10.0.2.2");
  CHECK(value_of(t.args, "--guest-ip") == "10.0.2.100");
  CHECK(value_of(t.args, "--dhcp-range") == "10.0.2.15-10.0.2.30");
  CHECK(value_of(t.args, "--mtu") == "65520");
  CHECK(value_of(t.args, "--ready-fd") == "4");
  CHECK(value_of(t.args, "--exit-fd") == "3");
  CHECK(value_of(t.args, "--slirp4netns-api") == "/tmp/ctr.net");
  CHECK(value_of(t.args, "--ipv6-gateway-ip") == "fd00::3");
  CHECK(value_of(t.args, "--ipv6-host-ip") == "fd00::2");
  CHECK(value_of(t.args, "--ssh-port") == "-1");  // no gvproxy SSH default in this mode
  CHECK(has(t.args, "--configure"));
  CHECK(has(t.args, "--no-host-loopback"));
  CHECK(has(t.args, "--sandbox"));
}

TEST_CASE("RootlessKit's command line: PID mode joins the target's user namespace") {
  const auto pid = own_pid();
  const auto t = translate_slirp4netns_command_line({"--mtu", "65520", "-r", "3", "--cidr", "10.0.135.128/25", pid, "tap0"});
  REQUIRE(t.action == Slirp4netnsTranslation::Action::run);
  CHECK(value_of(t.args, "--netns") == "/proc/" + pid + "/ns/net");
  CHECK(value_of(t.args, "--userns") == "/proc/" + pid + "/ns/user");
  CHECK(value_of(t.args, "--gateway-ip") == "10.0.135.131");
  CHECK(value_of(t.args, "--router-ip") == "10.0.135.130");
  CHECK(value_of(t.args, "--guest-ip") == "10.0.135.228");
  CHECK(has(t.args, "--no-ipv6"));  // IPv6 only with --enable-ipv6, like slirp4netns
  CHECK_FALSE(has(t.args, "--configure"));
  CHECK(value_of(t.args, "--guest-mac") == "tap");  // RootlessKit's own TAP is the guest
  CHECK_FALSE(has(t.args, "--no-host-loopback"));
}

TEST_CASE("translations are valid usernetd command lines") {
  const auto pid = own_pid();
  for (const Strings& args : {Strings{"-c", "-6", pid, "tap0"}, Strings{"--cidr=10.0.135.128/25", "-m1400", pid, "tap1"},
                              Strings{"-c", "--macaddress", "02:00:00:00:00:42", "--disable-dns", pid, "tap0"}}) {
    CAPTURE(args.front());
    const auto t = translate_slirp4netns_command_line(args);
    REQUIRE(t.action == Slirp4netnsTranslation::Action::run);
    const auto parsed = parse_translated(t.args);
    CHECK_MESSAGE(parsed.action == ParsedDaemonOptions::Action::run, parsed.message);
  }
  const auto parsed = parse_translated(translate_slirp4netns_command_line({"-c", "-6", pid, "tap0"}).args);
  const auto& n = parsed.options.network;
  CHECK(format_ipv4(n.gateway_ip) == "10.0.2.3");
  CHECK(format_ipv4(n.router()) == "10.0.2.2");
  CHECK(format_ipv4(n.first_guest_ip) == "10.0.2.100");
  CHECK(format_ipv6(n.ipv6_gateway_ip) == "fd00::3");
  CHECK(parsed.options.ipv6.enabled);
  CHECK(parsed.options.configure);
  CHECK(parsed.options.ssh_port == -1);
}

TEST_CASE("getopt_long's rules: prefixes, bundles, options after positionals") {
  const auto pid = own_pid();
  const auto t = translate_slirp4netns_command_line({pid, "--disable-host", "-c6", "tap0", "--mtu=1400", "-e5"});
  REQUIRE(t.action == Slirp4netnsTranslation::Action::run);
  CHECK(has(t.args, "--no-host-loopback"));
  CHECK(has(t.args, "--configure"));
  CHECK(has(t.args, "--ipv6"));
  CHECK(value_of(t.args, "--mtu") == "1400");
  CHECK(value_of(t.args, "--exit-fd") == "5");
  CHECK(value_of(t.args, "--tap") == "tap0");
  CHECK(translate_slirp4netns_command_line({"-c", pid, "tap0", "extra"}).warnings.size() == 1);
}

TEST_CASE("--help and --version exit 0 in the order they come") {
  const auto help = translate_slirp4netns_command_line({"--help"});
  CHECK(help.action == Slirp4netnsTranslation::Action::print_and_exit);
  // Callers grep the help for features: podman, RootlessKit.
  for (const char* flag : {"--netns-type", "--enable-ipv6", "--disable-host-loopback", "--mtu", "--cidr",
                           "--enable-sandbox", "--enable-seccomp", "--outbound-addr", "--api-socket", "--userns-path",
                           "--disable-dns", "--macaddress"})
    CHECK_MESSAGE(help.message.find(flag) != std::string::npos, flag);
  const auto version = translate_slirp4netns_command_line({"-v", "--bogus"});
  CHECK(version.action == Slirp4netnsTranslation::Action::print_and_exit);
  CHECK(version.message.starts_with("slirp4netns version 1.2.0\n"));
}

TEST_CASE("refused command lines say why, with slirp4netns's sentences") {
  const auto pid = own_pid();
  CHECK(error_of({"--bogus", pid, "tap0"}) == "unrecognized option '--bogus'");
  CHECK(error_of({"-x", pid, "tap0"}) == "invalid option -- 'x'");
  CHECK(error_of({pid, "tap0", "-m"}) == "option requires an argument -- 'm'");
  CHECK(error_of({pid, "tap0", "--mtu"}) == "option '--mtu' requires an argument");
  CHECK(error_of({"--enable", pid, "tap0"}) == "option '--enable' is ambiguous");
  CHECK(error_of({"--configure=yes", pid, "tap0"}) == "option '--configure' doesn't allow an argument");
  CHECK(error_of({"--mtu=0", pid, "tap0"}) == "MTU must be a positive integer (< 65522)");
  CHECK(error_of({"-e", "x", pid, "tap0"}) == "exit-fd must be a non-negative integer");
  CHECK(error_of({"-r", "-1", pid, "tap0"}) == "ready-fd must be a non-negative integer");
  CHECK(error_of({"abc", "tap0"}) == "PID must be a positive integer");
  CHECK(error_of({"999999999", "tap0"}) == "/proc/999999999/ns/net: No such file or directory");
  CHECK(error_of({"--netns-type=path", "/nonexistent/ns", "tap0"}) ==
        "existing path expected when --netns-type=path: No such file or directory");
  CHECK(error_of({"--netns-type=uts", pid, "tap0"}) == "--netns-type must be pid or path, not 'uts'");
  CHECK(error_of({"--userns-path=/nonexistent", pid, "tap0"}) == "userns path doesn't exist: /nonexistent");
  CHECK(error_of({"--cidr=10.0.2.0", pid, "tap0"}) == "invalid CIDR: 10.0.2.0");
  CHECK(error_of({"--cidr=10.0.2.0/28", pid, "tap0"}) == "prefix length needs to be 1-25");
  CHECK(error_of({"--cidr=10.0.2.100/24", pid, "tap0"}) ==
        "CIDR needs to be a network address like 10.0.2.0/24, not like 10.0.2.100/24");
  CHECK(error_of({"--macaddress=02:00:00:00:00:01", pid, "tap0"}) ==
        "--macaddr cannot be specified when --configure or -c is not specified");
  CHECK(error_of({"-c", "--macaddress=zz", pid, "tap0"}).starts_with("macaddress has to be a valid MAC address"));
  CHECK(error_of({"--target-type=bess", pid, "tap0"}).find("not supported") != std::string::npos);
  const auto lone = translate_slirp4netns_command_line({pid});  // TAPNAME is required in 1.2
  CHECK(lone.action == Slirp4netnsTranslation::Action::fail);
  CHECK(lone.show_usage);
}

TEST_CASE("usernetd's own flags behind the translation refuse bad values") {
  auto error = [](const Strings& args) { return parse_translated(args).message; };
  CHECK(error({"--tap", "t0", "--router-ip", "10.9.9.9"}).find("router-ip") != std::string::npos);
  CHECK(error({"--tap", "t0", "--guest-mac", "01:00:00:00:00:01"}).find("unicast") != std::string::npos);
  CHECK(error({"--tap", "t0", "--configure", "--guest-mac", "tap"}).find("without --configure") != std::string::npos);
  CHECK(error({"--tap", "t0", "--ipv6-host-ip", "2001:db8::1"}).find("fd00::/64") != std::string::npos);
  CHECK(error({"--tap", "t0", "--ipv6-host-ip", "fd00::1"}).find("differ") != std::string::npos);
  CHECK(error({"--tap", "t0", "--userns", "/proc/self/ns/user"}).find("needs --netns") != std::string::npos);
  CHECK(error({"--tap", "t0", "--ready-fd", "987"}).find("not an open file descriptor") != std::string::npos);
  CHECK(error({"--tap", "t0", "--slirp4netns-api", std::string(120, 'a')}).find("107") != std::string::npos);
  CHECK(error({"--tap", "t0", "--outbound-addr", "::1"}).find("family") != std::string::npos);
  CHECK(error({"--tap", "t0", "--dhcp-range", "192.168.127.10"}).find("FIRST-LAST") != std::string::npos);
  CHECK(error({"--tap", "t0", "--dhcp-range", "192.168.127.30-192.168.127.10"}).find("pool") != std::string::npos);
  CHECK(error({"--tap", "t0", "--dhcp-range", "10.0.0.1-10.0.0.9"}).find("pool") != std::string::npos);
  CHECK(error({"--tap", "t0", "--outbound-addr6", "no-such-if0"}).find("neither") != std::string::npos);
}

TEST_CASE("--outbound-addr takes an address or an interface's") {
  const auto by_name = parse_translated({"--tap", "t0", "--outbound-addr", "lo", "--outbound-addr6", "fd00:1::7"});
  REQUIRE(by_name.action == ParsedDaemonOptions::Action::run);
  CHECK(by_name.options.network.outbound.v4 == make_ipv4(127, 0, 0, 1));
  CHECK(format_ipv6(*by_name.options.network.outbound.v6) == "fd00:1::7");
  const auto none = parse_translated({"--tap", "t0"});
  CHECK_FALSE(none.options.network.outbound.v4.has_value());
}
