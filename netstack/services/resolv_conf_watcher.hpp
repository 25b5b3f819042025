// Follows the host's resolv.conf while usernetd runs (a VPN connects and rewrites or
// replaces it): the file is re-read every couple of seconds and the listener hears about
// each change of its nameservers or search list. Re-reading by path, not by inode, sees
// files replaced by rename as well as rewritten in place.
#pragma once

#include <uv.h>

#include <functional>
#include <optional>
#include <string>

#include "dns/resolv_conf.hpp"
#include "netstack/base/uv_handles.hpp"

namespace usernet {

class ResolvConfWatcher {
 public:
  using Listener = std::function<void(const dns::ResolvConf& conf)>;
  static constexpr std::uint64_t kIntervalMs = 2000;

  /// Reads `path` now (the listener hears the first content at once, before this returns)
  /// and then every `interval_ms`.
  ResolvConfWatcher(uv_loop_t* loop, std::string path, Listener listener, std::uint64_t interval_ms = kIntervalMs);

  const std::string& path() const { return path_; }

 private:
  void check();

  std::string path_;
  Listener listener_;
  std::optional<dns::ResolvConf> last_;
  bool unreadable_reported_ = false;
  Timer timer_;
};

}  // namespace usernet
