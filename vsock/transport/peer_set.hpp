// Owner of the live transport peers (switch ports, HTTP connections). Peers are
// destroyed only at the end of a loop turn, so a peer may close itself from inside its
// own callbacks, and frames queued during a turn are written with one flush per peer
// (EndOfTurn::kTransportFlush).
#pragma once

#include <uv.h>

#include <memory>
#include <unordered_map>
#include <vector>

#include "netstack/base/end_of_turn.hpp"

namespace usernet {

/// Something PeerSet owns. flush() writes whatever the peer queued this turn.
class Peer {
 public:
  virtual ~Peer() = default;
  virtual void flush() {}
};

class PeerSet {
 public:
  PeerSet(uv_loop_t* loop, EndOfTurn& end_of_turn);
  ~PeerSet();
  PeerSet(const PeerSet&) = delete;
  PeerSet& operator=(const PeerSet&) = delete;

  /// Takes ownership of a peer; returns it for convenience.
  Peer& add(std::unique_ptr<Peer> peer);
  /// Schedules destruction at the end of this turn; the peer must stop using its
  /// resources' callbacks itself (it stays a valid object until then).
  void retire(Peer& peer);
  /// Asks for peer.flush() at the end of this turn (once, however often asked).
  void schedule_flush(Peer& peer);
  /// Flushes what is pending and destroys retired peers now (tests, shutdown).
  void run_end_of_turn();

  std::size_t size() const { return peers_.size(); }

 private:
  std::unordered_map<Peer*, std::unique_ptr<Peer>> peers_;
  std::vector<Peer*> dirty_;
  std::vector<std::unique_ptr<Peer>> retired_;
  EndOfTurn& end_of_turn_;
  EndOfTurn::Token token_;
  uv_idle_t* idle_;  // active while work is pending, so the loop does not block in poll
};

}  // namespace usernet
