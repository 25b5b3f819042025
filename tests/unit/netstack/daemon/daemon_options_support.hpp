// Shared by the command-line translation tests (gvproxy, slirp4netns): a translation must
// also be a valid usernetd command line.
#pragma once

#include <string>
#include <vector>

#include "netstack/daemon/daemon_options.hpp"

namespace usernet::test {

/// parse_daemon_options over `args` (no program name), as usernetd would see them.
inline ParsedDaemonOptions parse_translated(const std::vector<std::string>& args) {
  std::vector<const char*> argv{"usernetd"};
  for (const auto& a : args) argv.push_back(a.c_str());
  return parse_daemon_options(static_cast<int>(argv.size()), argv.data());
}

}  // namespace usernet::test
