// Gives freed heap memory back to the OS now and then (glibc keeps it otherwise), so
// usernetd's RSS returns near its idle size after a burst of connections.
#pragma once

#include <uv.h>

#include "netstack/base/uv_handles.hpp"

namespace usernet {

class MemoryTrimmer {
 public:
  explicit MemoryTrimmer(uv_loop_t* loop, std::uint64_t period_ms = 5000);

 private:
  void trim();
  Timer timer_;
};

}  // namespace usernet
