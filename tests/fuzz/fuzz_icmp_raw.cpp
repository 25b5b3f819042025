// Arbitrary datagrams as a raw ICMP or ICMPv6 socket would deliver them, into the echo-reply parsers.
#include <cstddef>
#include <cstdint>

#include "netstack/nat/icmp_raw_socket.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const usernet::ByteSpan input(data, size);
  if (auto reply = usernet::parse_raw_echo_reply(input)) {
    volatile std::uint8_t first = reply->message[0];  // the span must lie inside the input
    (void)first;
  }
  if (auto reply = usernet::parse_raw_echo_reply6(input, usernet::Ipv6{})) {
    volatile std::uint8_t last = reply->message[reply->message.size() - 1];
    (void)last;
  }
  return 0;
}
