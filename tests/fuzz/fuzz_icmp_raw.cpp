// Arbitrary datagrams as a raw ICMP socket would deliver them, into the echo-reply parser.
#include <cstddef>
#include <cstdint>

#include "netstack/nat/icmp_raw_socket.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (auto reply = usernet::parse_raw_echo_reply(usernet::ByteSpan(data, size))) {
    volatile std::uint8_t first = reply->message[0];  // the span must lie inside the input
    (void)first;
  }
  return 0;
}
