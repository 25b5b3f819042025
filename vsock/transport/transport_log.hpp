// Logging for the transports and the forwarder. This module must stay linkable into a
// static guest binary, which rules out spdlog (Debian ships it shared only), so it logs
// through a replaceable sink: stderr by default, the daemon can route it to spdlog.
#pragma once

#include <functional>
#include <string>

namespace usernet {

enum class LogLevel : int { debug = 0, info = 1, warn = 2, error = 3 };

using LogSink = std::function<void(LogLevel, const std::string&)>;

/// Replaces the sink (empty: back to the stderr default).
void set_transport_log_sink(LogSink sink);
/// Lowest level the default stderr sink prints (info unless changed).
void set_transport_log_level(LogLevel level);
/// Emits one line.
void transport_log(LogLevel level, const std::string& message);

}  // namespace usernet
