// Arbitrary bytes into the DNS message parser and the server engine. Checks that whatever
// parses re-encodes into something that parses to the same message, and that every answer
// the engine produces is itself a parseable response.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "dns/message.hpp"
#include "dns/server.hpp"

using namespace usernet::dns;

namespace {

// Aborts (a finding) unless `bytes` is a parseable DNS response.
void require_response(const std::vector<std::uint8_t>& bytes) {
  auto parsed = parse_message(bytes);
  if (!parsed.message || !parsed.message->header.response) std::abort();
}

void check_round_trip(std::span<const std::uint8_t> input) {
  auto parsed = parse_message(input);
  if (!parsed.message) return;
  auto again = parse_message(encode_message(*parsed.message));
  if (!again.message) std::abort();
  const Message& a = *parsed.message;
  const Message& b = *again.message;
  if (a.questions != b.questions || a.answers != b.answers || a.authorities != b.authorities ||
      a.additionals != b.additionals || a.edns != b.edns || a.header.id != b.header.id) {
    std::abort();
  }
}

// Aborts unless the engine's decision ends in a parseable response: a forward (DNS64 may
// forward twice) is finished with `input` as the upstream's answer, then with a failure.
void require_finished(DnsServer& server, const Decision& decision, std::span<const std::uint8_t> input,
                      std::uint64_t now_ms, int depth = 0) {
  if (auto* reply = std::get_if<Reply>(&decision)) require_response(reply->bytes);
  auto* forward = std::get_if<Forward>(&decision);
  if (forward == nullptr) return;
  if (depth > 1) std::abort();  // a query, then at most DNS64's A lookup
  require_finished(server, server.finish(forward->pending, input, now_ms), input, now_ms, depth + 1);
  require_finished(server, server.finish(forward->pending, std::nullopt, now_ms), input, now_ms, depth + 1);
}

ServerConfig dns64_config() {
  ServerConfig config;
  config.dns64_prefix = std::array<std::uint8_t, 16>{0, 0x64, 0xff, 0x9b};
  return config;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // State (cache) carries over between inputs, as in real use; one server with DNS64.
  static DnsServer server;
  static DnsServer dns64_server(dns64_config());
  static std::uint64_t now_ms = 0;
  now_ms += 1500;
  std::span<const std::uint8_t> input(data, size);
  check_round_trip(input);
  for (DnsServer* engine : {&server, &dns64_server})
    for (Transport transport : {Transport::udp, Transport::tcp})
      require_finished(*engine, engine->handle(input, transport, now_ms), input, now_ms);
  return 0;
}
