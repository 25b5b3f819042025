// Runs lwIP (NO_SYS) on a libuv loop: lwip_init once, sys_now() from the loop clock, and
// lwIP's timeouts from one uv_timer re-armed with sys_timeouts_sleeptime() at the end of
// every loop turn (input may have scheduled new timeouts).
#pragma once

#include <uv.h>

#include <memory>

#include "netstack/base/end_of_turn.hpp"
#include "netstack/base/uv_handles.hpp"

namespace usernet {

class LwipRuntime {
 public:
  /// Only one runtime may exist per process: lwIP keeps global state.
  LwipRuntime(uv_loop_t* loop, EndOfTurn& end_of_turn);
  ~LwipRuntime();
  LwipRuntime(const LwipRuntime&) = delete;
  LwipRuntime& operator=(const LwipRuntime&) = delete;

  /// Runs due lwIP timeouts now and re-arms the timer.
  void check_timeouts();

 private:
  void rearm();
  EndOfTurn& end_of_turn_;
  EndOfTurn::Token turn_token_;
  Timer timer_;
};

}  // namespace usernet
