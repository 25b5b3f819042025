// What every transport port needs from its owner: the loop, the switch, the peer set
// that owns it, the shared counters and the frame size limit.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>

#include "netstack/switch/switch.hpp"
#include "vsock/transport/peer_set.hpp"

namespace usernet {

/// Transport-level counters (frame validity is counted by the Switch per port).
struct TransportCounters {
  std::uint64_t peers_accepted = 0;
  std::uint64_t peers_closed = 0;
  std::uint64_t protocol_errors = 0;     // peer disconnected for breaking its framing
  std::uint64_t oversize_datagrams = 0;  // datagrams/packets larger than the frame limit
  std::uint64_t vfkit_handshakes = 0;    // "VFKT" datagrams consumed
  std::uint64_t vfkit_peer_changes = 0;  // a new sender replaced the learned peer (VM restart)
  std::uint64_t vfkit_unaddressed = 0;   // datagrams from an unbound sender (cannot be answered)
  std::uint64_t send_blocked = 0;        // EAGAIN/ENOBUFS: waited for the peer (back-pressure)
  std::uint64_t queue_full_drops = 0;    // frames refused because a peer's queue was full
  std::uint64_t http_requests = 0;       // non-/connect requests handed to the HTTP handler
  std::uint64_t http_errors = 0;         // malformed requests (answered 400)
};

struct PortContext {
  uv_loop_t* loop;
  Switch& sw;
  PeerSet& peers;
  TransportCounters& counters;
  std::size_t max_frame;
};

/// Bytes a port may hold queued for a slow peer before it refuses frames.
inline constexpr std::size_t kPortQueueLimit = 4u << 20;

}  // namespace usernet
