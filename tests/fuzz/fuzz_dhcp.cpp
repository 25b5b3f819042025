// libFuzzer target: arbitrary bytes into dhcp::Server::handle. One server lives across all
// inputs so the lease table (offers, leases, declines, expiry) is fuzzed along with the
// parser. The first input byte advances the clock; the rest is the UDP payload. A reply that
// is not a well-formed DHCP message, or larger than the link allows, aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <variant>

#include "dhcp/message.hpp"
#include "dhcp/server.hpp"

namespace {

using namespace usernet::dhcp;

/// A small pool (/28) so exhaustion and reuse are reached quickly, plus a search list and
/// routes so every option encoder runs.
Config fuzz_config() {
  Config config;
  config.prefix_length = 28;
  config.excluded = {ipv4(192, 168, 127, 14)};
  config.domain_name = "containers.internal";
  config.search_domains = {"containers.internal", "docker.internal", "a.containers.internal"};
  config.classless_routes = {{ipv4(10, 0, 0, 0), 8, ipv4(192, 168, 127, 1)}};
  config.offer_hold_ms = 5'000;
  config.decline_hold_ms = 60'000;
  return config;
}

void check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Server server{fuzz_config()};
  static std::uint64_t now_ms = 1'000'000;
  if (size == 0) return 0;
  now_ms += std::uint64_t{data[0]} * 30'000;  // up to ~2 hours per input
  const std::span<const std::uint8_t> payload(data + 1, size - 1);

  const auto reply = server.handle(payload, now_ms);
  if (reply) {
    check(reply->payload.size() + kIpUdpHeaderSize <= server.config().mtu);
    check(reply->broadcast == (reply->unicast_ip == 0));
    auto parsed = parse_message(reply->payload);
    check(std::holds_alternative<Message>(parsed));
    check(std::get<Message>(parsed).type == reply->type);
  }
  const auto leases = server.leases(now_ms);
  check(leases.size() <= 13);
  for (const Lease& lease : leases) {
    check(server.config().contains(lease.ip));
    check(lease.ip != server.config().gateway && lease.ip != ipv4(192, 168, 127, 14));
    check(lease.expires_ms > now_ms);
  }
  return 0;
}
