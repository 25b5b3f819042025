#include "netstack/lwip/lwip_runtime.hpp"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <stdexcept>

extern "C" {
#include "lwip/init.h"
#include "lwip/sys.h"
#include "lwip/timeouts.h"
}

namespace {
uv_loop_t* g_lwip_loop = nullptr;
bool g_lwip_initialised = false;
}  // namespace

extern "C" {

/// lwIP's clock: milliseconds from the loop's cached time (updated every turn).
u32_t sys_now(void) {
  return g_lwip_loop ? static_cast<u32_t>(uv_now(g_lwip_loop)) : 0;
}

void usernet_lwip_assert(const char* message, const char* file, int line) {
  spdlog::critical("lwIP assertion failed: {} ({}:{})", message, file, line);
  std::abort();
}

void usernet_lwip_diag(const char* message) { spdlog::trace("lwIP: {}", message); }

}  // extern "C"

namespace usernet {

LwipRuntime::LwipRuntime(uv_loop_t* loop, EndOfTurn& end_of_turn)
    : end_of_turn_(end_of_turn), timer_(loop, [this] { check_timeouts(); }) {
  if (g_lwip_loop) throw std::logic_error("only one LwipRuntime may exist");
  g_lwip_loop = loop;
  if (!g_lwip_initialised) {
    lwip_init();
    g_lwip_initialised = true;
  } else {
    sys_restart_timeouts();
  }
  timer_.unref();  // lwIP's cyclic timers must not keep a finished program alive
  turn_token_ = end_of_turn_.add(EndOfTurn::kTimers, [this] { rearm(); });
  rearm();
}

LwipRuntime::~LwipRuntime() {
  end_of_turn_.remove(turn_token_);
  g_lwip_loop = nullptr;
}

void LwipRuntime::check_timeouts() {
  sys_check_timeouts();
  rearm();
}

void LwipRuntime::rearm() {
  const u32_t sleep = sys_timeouts_sleeptime();
  if (sleep == SYS_TIMEOUTS_SLEEPTIME_INFINITE) {
    timer_.stop();
  } else {
    timer_.start(sleep);
  }
}

}  // namespace usernet
