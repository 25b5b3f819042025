// usernetd answers to gvproxy's command line (installed as a `gvproxy` symlink), so
// podman machine, CRC and scripts built around gvisor-tap-vsock can start us unchanged.
// This file only translates: gvproxy's Go-style flags (-flag value, -flag=value, one or
// two dashes) and its YAML -config file become usernetd options, which
// parse_daemon_options then validates as usual.
//
// Exit codes are gvproxy's: 2 for a flag Go's flag package rejects, 1 for a configuration
// gvproxy would refuse (log.Fatal) and for a fatal error at run time. The API runs with
// gvproxy's rules (--gvproxy-api): guests may expose ports on every host address, or on
// 127.0.0.1 only with -guest-expose-loopback-only (usernet's own flag).
// Differences kept on purpose: -listen-vpnkit is refused (not implemented).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "netstack/base/result.hpp"

namespace usernet {

struct GvproxyTranslation {
  enum class Action { run, print_and_exit, fail } action = Action::run;
  std::vector<std::string> args;  // usernetd options (no program name) for Action::run
  std::string message;            // help/version text, or the one-line error
  int exit_code = 2;              // for Action::fail: 2 bad flag, 1 refused configuration
};

/// True when the program was started under the name `gvproxy` (argv[0]'s basename).
bool invoked_as_gvproxy(std::string_view argv0);

/// Translates gvproxy's arguments (program name excluded). Reads the -config file.
GvproxyTranslation translate_gvproxy_command_line(const std::vector<std::string>& args);

/// Translates the text of a gvproxy YAML config into usernetd options, or says in one line
/// why it cannot.
Result<std::vector<std::string>> translate_gvproxy_config(const std::string& yaml_text);

}  // namespace usernet
