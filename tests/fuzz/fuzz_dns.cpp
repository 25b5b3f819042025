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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static DnsServer server;  // state (cache) carries over between inputs, as in real use
  static std::uint64_t now_ms = 0;
  now_ms += 1500;
  std::span<const std::uint8_t> input(data, size);
  check_round_trip(input);
  for (Transport transport : {Transport::udp, Transport::tcp}) {
    Decision decision = server.handle(input, transport, now_ms);
    if (auto* reply = std::get_if<Reply>(&decision)) require_response(reply->bytes);
    if (auto* forward = std::get_if<Forward>(&decision)) {
      // The same bytes as the upstream's answer, then a failure.
      require_response(server.finish(forward->pending, input, now_ms));
      require_response(server.finish(forward->pending, std::nullopt, now_ms));
    }
  }
  return 0;
}
