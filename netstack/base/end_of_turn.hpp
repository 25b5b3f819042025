// Work deferred to the end of a libuv loop iteration (a uv_check handle). Batching
// pays: e.g. guest→host TCP data is written with one writev per flow per turn instead
// of one write per segment (measured ~3x upload), and stream transports coalesce all
// frames of a turn into one write.
#pragma once

#include <uv.h>

#include <functional>
#include <map>

namespace usernet {

/// Ordered end-of-turn callbacks. Lower stage runs first: NAT flushes (which may emit
/// frames) run before transport flushes (which send them).
class EndOfTurn {
 public:
  enum Stage : int { kNatFlush = 0, kServices = 10, kTransportFlush = 20, kTimers = 30 };
  using Token = std::multimap<int, std::function<void()>>::iterator;

  explicit EndOfTurn(uv_loop_t* loop);
  ~EndOfTurn();
  EndOfTurn(const EndOfTurn&) = delete;
  EndOfTurn& operator=(const EndOfTurn&) = delete;

  /// Registers a callback run at the end of every loop turn; keep the token to remove it.
  Token add(int stage, std::function<void()> callback);
  void remove(Token token);

 private:
  void run();
  uv_check_t* handle_;
  std::multimap<int, std::function<void()>> callbacks_;
};

}  // namespace usernet
