// Fuzzes the transport codecs: both length-prefix decoders (delivered in arbitrary
// chunks, as reads would) and the HTTP /connect request reader. Invariants: decoding
// never reads past the buffer, frames never exceed the cap, every byte is accounted
// for, and re-encoding the decoded frames gives back the consumed bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "vsock/transport/frame_codec.hpp"
#include "vsock/transport/http_request_reader.hpp"

using namespace usernet;

namespace {

// Splits the input at chunk sizes taken from its first byte and decodes like StreamPort.
void decode_in_chunks(LengthPrefix prefix, std::size_t cap, ByteSpan data, std::size_t chunk) {
  std::vector<std::uint8_t> buffer, reencoded, consumed_bytes;
  for (std::size_t at = 0; at < data.size(); at += chunk) {
    const auto piece = data.subspan(at, std::min(chunk, data.size() - at));
    buffer.insert(buffer.end(), piece.begin(), piece.end());
    const auto result = decode_stream_frames(prefix, cap, buffer, [&](ByteSpan frame) {
      if (frame.size() > cap) std::abort();
      append_prefixed_frame(prefix, frame, reencoded);
      return true;
    });
    if (result.consumed > buffer.size()) std::abort();
    consumed_bytes.insert(consumed_bytes.end(), buffer.begin(),
                          buffer.begin() + static_cast<std::ptrdiff_t>(result.consumed));
    if (result.bad_length) {
      if (*result.bad_length <= cap) std::abort();
      break;  // the port disconnects here
    }
    buffer.erase(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(result.consumed));
  }
  if (reencoded != consumed_bytes) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = 1 + data[0] % 64;
  const ByteSpan body(data + 1, size - 1);
  decode_in_chunks(LengthPrefix::be32, 65535, body, chunk);
  decode_in_chunks(LengthPrefix::le16, 1514, body, chunk);

  HttpRequestReader reader(1024, 4096);
  reader.add_connect_alias("/api.sock");
  std::size_t fed = 0;
  for (std::size_t at = 0; at < body.size(); at += chunk) {
    const auto piece = body.subspan(at, std::min(chunk, body.size() - at));
    fed += piece.size();
    if (reader.feed(piece) == HttpRequestReader::Status::error) break;
  }
  if (reader.leftover().size() > fed) std::abort();
  return 0;
}
