// libFuzzer target: arbitrary bytes into dhcp6::Server::handle. One server lives across all
// inputs so the lease pool (offers, bindings, releases, declines, expiry) is fuzzed along
// with the parser. The first input byte advances the clock; the rest is the UDP payload. A
// reply that is not a well-formed ADVERTISE or REPLY aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "dhcp/v6/message.hpp"
#include "dhcp/v6/server.hpp"

namespace {

using namespace usernet;
using namespace usernet::dhcp6;

/// A small pool so exhaustion and reuse are reached quickly.
Config fuzz_config() {
  Config config;
  config.server_mac = {0x5a, 0x94, 0xef, 0xe4, 0x0c, 0xdd};
  config.pool_size = 4;
  config.search_domains = {"containers.internal", "docker.internal"};
  config.offer_hold_ms = 5'000;
  config.decline_hold_ms = 60'000;
  return config;
}

Server& server() {
  static Server s(fuzz_config());
  return s;
}

std::uint64_t clock_ms = 0;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  clock_ms += std::uint64_t{data[0]} * 1000;
  const auto reply = server().handle(ByteSpan(data + 1, size - 1), clock_ms);
  if (!reply) return 0;
  const auto parsed = parse_message(*reply);
  if (!parsed) std::abort();
  const auto type = static_cast<MessageType>(parsed->type);
  if (type != MessageType::advertise && type != MessageType::reply) std::abort();
  if (parsed->find(OptionCode::server_id) == nullptr) std::abort();
  return 0;
}
