// The host end of one vsock connection, as the vsock device sees it: a non-blocking byte
// stream (a unix socket in production, a fake in unit tests) plus readiness callbacks, and
// the connector that opens one for a guest connecting to a host port.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>

namespace usernet::vsock {

class HostStream {
 public:
  /// Readiness report: readable and/or writable became true (errors report as readable).
  using ReadyHandler = std::function<void(bool readable, bool writable)>;

  virtual ~HostStream() = default;

  /// Writes what fits without blocking: bytes written (may be 0), or -errno on failure.
  virtual long write(std::span<const std::uint8_t> bytes) = 0;
  /// Reads into the buffers without blocking: bytes read, 0 at end of stream, -EAGAIN when
  /// nothing is there, another -errno on failure.
  virtual long read(std::span<const std::span<std::uint8_t>> buffers) = 0;
  /// Half-closes: the host peer sees end of stream; reading continues.
  virtual void shutdown_write() = 0;
  /// Chooses which readiness events to report; the handler is set once by the device.
  virtual void watch(bool readable, bool writable) = 0;
  virtual void set_ready_handler(ReadyHandler handler) = 0;
};

/// Opens host streams for guest-initiated connections (hybrid vsock: `<uds-path>_<port>`).
class HostConnector {
 public:
  virtual ~HostConnector() = default;
  /// Connects to the host service for `port`; nullptr if there is none (the guest gets RST).
  virtual std::unique_ptr<HostStream> connect(std::uint32_t port) = 0;
};

}  // namespace usernet::vsock
