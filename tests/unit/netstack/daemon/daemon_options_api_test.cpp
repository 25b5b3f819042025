// The options the API issue adds to usernetd: --services, --ssh-port, --guest-expose,
// --nat, --pcap.
#include <doctest/doctest.h>

#include "netstack/daemon/daemon_options.hpp"

using namespace usernet;

namespace {
ParsedDaemonOptions parse(std::vector<const char*> args) {
  args.insert(args.begin(), "usernetd");
  return parse_daemon_options(static_cast<int>(args.size()), args.data());
}
}  // namespace

TEST_CASE("API options: defaults and values") {
  auto defaults = parse({"--services", "unix:///tmp/api.sock"});  // an API endpoint alone is enough
  REQUIRE(defaults.action == ParsedDaemonOptions::Action::run);
  CHECK(defaults.options.services == std::vector<std::string>{"unix:///tmp/api.sock"});
  CHECK(defaults.options.ssh_port == 2222);
  CHECK_FALSE(defaults.options.ssh_port_given);
  CHECK(defaults.options.guest_expose == GuestExposePolicy::refused);
  CHECK(defaults.options.pcap.empty());

  auto set = parse({"--listen", "unix:///tmp/a", "--ssh-port", "-1", "--guest-expose", "--pcap", "/tmp/c.pcap",
                    "--nat", "192.168.127.253=127.0.0.1"});
  REQUIRE(set.action == ParsedDaemonOptions::Action::run);
  CHECK(set.options.ssh_port == -1);
  CHECK(set.options.ssh_port_given);
  CHECK(set.options.guest_expose == GuestExposePolicy::loopback_only);
  CHECK(set.options.pcap == "/tmp/c.pcap");
  CHECK(set.options.network.extra_translations.at(make_ipv4(192, 168, 127, 253)) == make_ipv4(127, 0, 0, 1));
}

TEST_CASE("API options: bad values name the flag") {
  auto low = parse({"--listen", "unix:///tmp/a", "--ssh-port", "22"});
  CHECK(low.action == ParsedDaemonOptions::Action::fail);
  CHECK(low.message.starts_with("--ssh-port"));
  auto nat = parse({"--listen", "unix:///tmp/a", "--nat", "192.168.127.253"});
  CHECK(nat.action == ParsedDaemonOptions::Action::fail);
  CHECK(nat.message.starts_with("--nat"));
  CHECK(parse({"--listen", "unix:///tmp/a", "--nat", "x=127.0.0.1"}).action == ParsedDaemonOptions::Action::fail);
}
