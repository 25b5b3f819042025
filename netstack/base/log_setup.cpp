#include "netstack/base/log_setup.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "netstack/base/log.hpp"

namespace usernet {

namespace {

spdlog::level::level_enum spdlog_level(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return spdlog::level::debug;
    case LogLevel::info: return spdlog::level::info;
    case LogLevel::warn: return spdlog::level::warn;
    case LogLevel::error: return spdlog::level::err;
  }
  return spdlog::level::err;
}

}  // namespace

void configure_logging(const LogSettings& settings) {
  if (!settings.file.empty())
    spdlog::set_default_logger(spdlog::basic_logger_mt(settings.program, settings.file));
  else if (settings.stderr_only)
    spdlog::set_default_logger(spdlog::stderr_color_mt(settings.program));
  spdlog::set_level(spdlog::level::from_str(settings.level == "error" ? "err" : settings.level));
  const std::string tag = settings.tag_lines ? settings.program + " " : "";
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e " + tag + "%^%l%$ %v");
  spdlog::flush_on(spdlog::level::info);  // a log file is read while we run (podman, CRC)
  set_log_sink([](LogLevel level, const std::string& message) { spdlog::log(spdlog_level(level), "{}", message); });
}

}  // namespace usernet
