// The one logging facade of every usernet program and component. It is free of spdlog on
// purpose: the static guest agent (usernet-forwarder) links the transports, and Debian ships
// spdlog shared only. Lines go to a sink; the default prints "[level] message" on stderr.
// The daemons route the sink to spdlog (netstack/base/log_setup.hpp), so --log-level and
// --log-file govern every component alike.
#pragma once

#include <functional>
#include <string>

namespace usernet {

enum class LogLevel : int { debug = 0, info = 1, warn = 2, error = 3 };

using LogSink = std::function<void(LogLevel, const std::string&)>;

/// Replaces the process-wide sink (empty: back to the stderr default).
void set_log_sink(LogSink sink);
/// Lowest level the default stderr sink prints (info unless changed).
void set_log_threshold(LogLevel level);
/// Emits one line.
void log_message(LogLevel level, const std::string& message);

}  // namespace usernet
