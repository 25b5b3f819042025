#include "netstack/base/log.hpp"

#include <cstdio>

namespace usernet {

namespace {

LogSink& sink() {
  static LogSink instance;
  return instance;
}

LogLevel& threshold() {
  static LogLevel level = LogLevel::info;
  return level;
}

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warning";
    case LogLevel::error: return "error";
  }
  return "?";
}

}  // namespace

void set_log_sink(LogSink new_sink) { sink() = std::move(new_sink); }

void set_log_threshold(LogLevel level) { threshold() = level; }

void log_message(LogLevel level, const std::string& message) {
  if (sink()) {
    sink()(level, message);
    return;
  }
  if (level < threshold()) return;
  std::fprintf(stderr, "[%s] %s\n", level_name(level), message.c_str());
}

}  // namespace usernet
