#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "netstack/daemon/daemon_options.hpp"
#include "netstack/ssh/ssh_forward_spec.hpp"

using namespace usernet;

namespace {
ParsedDaemonOptions parse(std::vector<const char*> args) {
  args.insert(args.begin(), "usernetd");
  args.insert(args.begin() + 1, {"--tap", "tap0"});
  return parse_daemon_options(static_cast<int>(args.size()), args.data());
}
}  // namespace

TEST_CASE("repeated --forward-* flags pair up in order, aimed at the first guest's sshd") {
  auto r = parse({"--forward-sock", "/tmp/a.sock", "--forward-dest", "/run/podman/podman.sock", "--forward-user",
                  "core", "--forward-identity", "/k1", "--forward-sock", "/tmp/b.sock", "--forward-dest", "/run/b",
                  "--forward-user", "root", "--forward-identity", "/k2", "--subnet", "10.0.2.0/24"});
  REQUIRE(r.action == ParsedDaemonOptions::Action::run);
  const auto& forwards = r.options.ssh_forwards;
  REQUIRE(forwards.size() == 2);
  CHECK(forwards[0].socket_path == "/tmp/a.sock");
  CHECK(forwards[0].dest_path == "/run/podman/podman.sock");
  CHECK(forwards[0].user == "core");
  CHECK(forwards[0].identity_file == "/k1");
  CHECK(format_ipv4(forwards[0].guest_ip) == "10.0.2.2");
  CHECK(forwards[0].guest_port == 22);
  CHECK(forwards[1].socket_path == "/tmp/b.sock");
  CHECK(forwards[1].user == "root");
  CHECK(forwards[1].identity_file == "/k2");
}

TEST_CASE("no --forward-* flags means no SSH forwards") {
  auto r = parse({});
  REQUIRE(r.action == ParsedDaemonOptions::Action::run);
  CHECK(r.options.ssh_forwards.empty());
}

TEST_CASE("unequal --forward-* counts fail with the counts") {
  auto r = parse({"--forward-sock", "/tmp/a.sock", "--forward-dest", "/d", "--forward-user", "u"});
  REQUIRE(r.action == ParsedDaemonOptions::Action::fail);
  CHECK(r.message.find("same number of times (got 1, 1, 1, 0)") != std::string::npos);
}

TEST_CASE("bad SSH forward values are refused") {
  const Ipv4 guest = make_ipv4(192, 168, 127, 2);
  SUBCASE("empty item") {
    const auto r = make_ssh_forwards({{"/s"}, {""}, {"u"}, {"/k"}}, guest);
    REQUIRE_FALSE(r);
    CHECK(r.error().find("must not be empty") != std::string::npos);
  }
  SUBCASE("socket path longer than sun_path") {
    const auto r = make_ssh_forwards({{"/" + std::string(200, 'x')}, {"/d"}, {"u"}, {"/k"}}, guest);
    REQUIRE_FALSE(r);
    CHECK(r.error().find("path too long") != std::string::npos);
  }
  SUBCASE("the same socket twice") {
    const auto r = make_ssh_forwards({{"/s", "/s"}, {"/d", "/e"}, {"u", "u"}, {"/k", "/k"}}, guest);
    REQUIRE_FALSE(r);
    CHECK(r.error().find("given twice") != std::string::npos);
  }
}

TEST_CASE("retry delays go from 100 ms to 1 s and 60 tries take about a minute") {
  CHECK(ssh_retry_delay_ms(0) == 0);
  CHECK(ssh_retry_delay_ms(1) == 100);
  CHECK(ssh_retry_delay_ms(2) == 200);
  CHECK(ssh_retry_delay_ms(3) == 400);
  CHECK(ssh_retry_delay_ms(4) == 800);
  CHECK(ssh_retry_delay_ms(5) == 1000);
  CHECK(ssh_retry_delay_ms(59) == 1000);
  std::uint32_t total = 0;
  for (int attempt = 0; attempt < kSshConnectTries; ++attempt) total += ssh_retry_delay_ms(attempt);
  CHECK(total == 100 + 200 + 400 + 800 + 55 * 1000);
}
