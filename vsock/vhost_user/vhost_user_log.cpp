// Logging hook; see vhost_user_log.hpp.
#include "vsock/vhost_user/vhost_user_log.hpp"

namespace usernet::vhost {

namespace {
LogSink& sink() {
  static LogSink instance;
  return instance;
}
}  // namespace

void set_log_sink(LogSink s) { sink() = std::move(s); }

void log(LogLevel level, const std::string& message) {
  if (sink()) sink()(level, message);
}

}  // namespace usernet::vhost
