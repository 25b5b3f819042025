// Logging hook of the vhost-user-vsock backend. vsock/ code does not depend on spdlog (the
// static usernet-forwarder links this archive); programs install a sink (usernet-vsockd
// forwards to spdlog). Without a sink, messages are dropped.
#pragma once

#include <functional>
#include <string>

namespace usernet::vhost {

enum class LogLevel { debug, info, warn };

using LogSink = std::function<void(LogLevel, const std::string&)>;

/// Installs the process-wide sink (replaces any previous one; empty to silence).
void set_log_sink(LogSink sink);

/// Sends one message to the sink, if any.
void log(LogLevel level, const std::string& message);

}  // namespace usernet::vhost
