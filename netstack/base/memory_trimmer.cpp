#include "netstack/base/memory_trimmer.hpp"

#include <malloc.h>

namespace usernet {

MemoryTrimmer::MemoryTrimmer(uv_loop_t* loop, std::uint64_t period_ms) : timer_(loop, [this] { trim(); }) {
  timer_.start(period_ms, period_ms);
  timer_.unref();
}

void MemoryTrimmer::trim() {
  // Cheap when there is nothing to give back; only trims free memory.
  struct mallinfo2 info = mallinfo2();
  if (info.fordblks > std::size_t{1} << 20) malloc_trim(0);  // more than 1 MiB free
}

}  // namespace usernet
