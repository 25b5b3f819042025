// libFuzzer target: arbitrary bytes into ndp::NeighborDiscovery::handle as an IPv6 packet.
// One engine lives across inputs so the multicast rate limit is exercised. The first input
// byte advances the clock; the rest is the packet. An answer that is not a checksummed
// ICMPv6 advertisement with hop limit 255, within the link MTU, aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "netstack/ndp/icmpv6.hpp"
#include "netstack/ndp/neighbor_discovery.hpp"

namespace {

using namespace usernet;
using namespace usernet::ndp;

Config fuzz_config() {
  Config config;
  config.gateway_mac = {0x5a, 0x94, 0xef, 0xe4, 0x0c, 0xdd};
  config.search_domains = {"containers.internal", "docker.internal"};
  return config;
}

NeighborDiscovery& engine() {
  static NeighborDiscovery nd(fuzz_config());
  return nd;
}

std::uint64_t clock_ms = 0;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  clock_ms += std::uint64_t{data[0]} * 100;
  const MacAddress source{0x5a, 0x94, 0xef, 0xe4, 0x0c, 0xee};
  const auto out = engine().handle(ByteSpan(data + 1, size - 1), source, clock_ms);
  if (!out) return 0;
  PacketError error{};
  const auto sent = parse_icmpv6(out->packet, error);
  if (!sent || sent->hop_limit != kNdHopLimit || out->packet.size() > engine().config().mtu) std::abort();
  const auto type = static_cast<Icmpv6Type>(sent->message[0]);
  if (type != Icmpv6Type::router_advertisement && type != Icmpv6Type::neighbor_advertisement) std::abort();
  return 0;
}
