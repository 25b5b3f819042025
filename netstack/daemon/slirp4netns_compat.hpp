// usernetd answers to slirp4netns's command line (installed as a `slirp4netns` symlink),
// so rootless podman, RootlessKit and scripts built around slirp4netns 1.2 start us
// unchanged: `slirp4netns [OPTION]... PID|PATH TAPNAME`, parsed the way getopt_long does
// (long options with =VALUE or a separate value, unique prefixes, bundled short options,
// options among the positionals). This file only translates into usernetd options;
// parse_daemon_options validates them as usual.
//
// slirp4netns's network becomes usernetd's addresses: CIDR (default 10.0.2.0/24) with the
// router and host loopback at +2, DNS, DHCP and the gateway's services at +3, the guest at
// +100 (what -c configures and API forwards reach), IPv6 fd00::/64 with the host at fd00::2
// and DNS at fd00::3. Exit codes are slirp4netns's: 1 for every refused command line (with
// its usage text on stdout for a malformed one), 0 for --help and --version.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace usernet {

struct Slirp4netnsTranslation {
  enum class Action { run, print_and_exit, fail } action = Action::run;
  std::vector<std::string> args;  // usernetd options (no program name) for Action::run
  std::string message;            // help/version text (stdout), or the error line (stderr)
  bool show_usage = false;        // fail: slirp4netns prints its usage to stdout too
  std::vector<std::string> warnings;  // slirp4netns's WARNING lines (stdout), e.g. too many arguments
};

/// True when the program was started under the name `slirp4netns` (argv[0]'s basename).
bool invoked_as_slirp4netns(std::string_view argv0);

/// Translates slirp4netns's arguments (program name excluded).
Slirp4netnsTranslation translate_slirp4netns_command_line(const std::vector<std::string>& args);

/// slirp4netns's usage text, with every option it has (callers grep it for flags).
std::string slirp4netns_usage();

}  // namespace usernet
