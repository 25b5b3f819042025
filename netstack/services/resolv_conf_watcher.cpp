#include "netstack/services/resolv_conf_watcher.hpp"

#include <spdlog/spdlog.h>

#include "netstack/base/text_file.hpp"

namespace usernet {

ResolvConfWatcher::ResolvConfWatcher(uv_loop_t* loop, std::string path, Listener listener, std::uint64_t interval_ms)
    : path_(std::move(path)), listener_(std::move(listener)), timer_(loop, [this] { check(); }) {
  check();
  timer_.start(interval_ms, interval_ms);
  timer_.unref();
}

void ResolvConfWatcher::check() {
  auto text = read_text_file(path_);
  if (!text) {
    // Mid-replacement or gone: keep what we had, say so once until it is back.
    if (!unreadable_reported_) spdlog::warn("cannot read {}; keeping the DNS settings read before", path_);
    unreadable_reported_ = true;
    return;
  }
  unreadable_reported_ = false;
  auto conf = dns::parse_resolv_conf(*text);
  if (last_ == conf) return;
  last_ = conf;
  listener_(conf);
}

}  // namespace usernet
