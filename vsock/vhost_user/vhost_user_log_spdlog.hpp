// Routes the vhost-user-vsock backend's log hook to spdlog. Header-only on purpose: the
// vsock archive itself stays free of spdlog (see vhost_user_log.hpp); programs that log
// with spdlog (usernet-vsockd, usernet-vm) include this.
#pragma once

#include <spdlog/spdlog.h>

#include "vsock/vhost_user/vhost_user_log.hpp"

namespace usernet::vhost {

/// Installs a sink that forwards each message at the matching spdlog level.
inline void send_log_to_spdlog() {
  set_log_sink([](LogLevel level, const std::string& message) {
    switch (level) {
      case LogLevel::debug: spdlog::debug(message); break;
      case LogLevel::info: spdlog::info(message); break;
      case LogLevel::warn: spdlog::warn(message); break;
    }
  });
}

}  // namespace usernet::vhost
