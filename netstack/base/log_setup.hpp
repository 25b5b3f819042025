// How a daemon (usernetd, usernet-vm, usernet-vsockd) sets up logging, once, from its
// command line: spdlog's default logger with one line format, and the facade's sink
// (netstack/base/log.hpp) routed into it, so --log-level governs every component.
#pragma once

#include <string>

namespace usernet {

struct LogSettings {
  std::string program;       // the logger's name, e.g. "usernetd"
  std::string level = "info";  // trace, debug, info, warn, error (or err), critical, off
  std::string file;          // append to this file instead of the console
  bool stderr_only = false;  // keep stdout free: it carries frames or the guest's console
  bool tag_lines = false;    // print the program's name after the time on every line
};

/// Configures the default logger and routes the facade to it. Throws spdlog::spdlog_ex
/// when the log file cannot be opened.
void configure_logging(const LogSettings& settings);

}  // namespace usernet
