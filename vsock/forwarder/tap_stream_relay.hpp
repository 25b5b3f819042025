// The forwarder's data path: frames read from a TAP go to the host stream with the
// 2-byte little-endian prefix, frames from the stream go to the TAP. One thread, one
// poll loop: TAP frames read in a burst leave in one write; a full socket stops TAP
// reads (back-pressure) and a full TAP queue stops socket reads, nothing is dropped for
// being fast.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "netstack/base/result.hpp"

namespace usernet {

/// The request gvforwarder sends before relaying: POST <path> HTTP/1.1, no body. The
/// server sends no response; frames follow at once.
std::string connect_request(std::string_view path);

struct RelayCounters {
  std::uint64_t tap_to_host_frames = 0;
  std::uint64_t host_to_tap_frames = 0;
  std::uint64_t tap_write_drops = 0;  // the TAP refused a frame (e.g. link down)
  std::uint64_t runt_frames = 0;      // frames from the host shorter than an Ethernet header
};

struct RelayHooks {
  /// Called at least every 200 ms; an error ends the relay with its message as the reason
  /// (stop signal, DHCP client failure...).
  std::function<Status()> check;
  /// Called with every frame when non-empty ("tap" or "host" as its source).
  std::function<void(std::string_view source, const std::uint8_t* frame, std::size_t size)> trace;
};

/// Relays until one side fails or a hook says stop; returns why. Both descriptors must
/// be non-blocking; they stay open (the caller owns them).
std::string relay_tap_and_stream(int tap_fd, int stream_fd, RelayCounters& counters,
                                 const RelayHooks& hooks);

}  // namespace usernet
