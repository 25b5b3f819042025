// Landlock: after set-up, usernetd may touch only the few paths it still needs at run
// time. Kernels without Landlock are told apart so the caller can carry on without it.
#pragma once

#include <string>
#include <vector>

#include "netstack/base/result.hpp"

namespace usernet {

struct LandlockRules {
  /// Files beneath these paths (or these files) may be read and directories listed.
  std::vector<std::string> read_beneath;
  /// Unix sockets may be created and files removed directly or deeper beneath these directories.
  std::vector<std::string> sockets_beneath;
};

/// The kernel's Landlock ABI version, 0 when it has none (not built in, or disabled).
int landlock_abi();

/// Restricts this thread (and threads it starts later) to `rules` for every filesystem
/// access the kernel's ABI can restrict; network and other access is left alone. Paths
/// that do not exist are skipped. Needs no_new_privs first. On failure the error names
/// the call. Call only with landlock_abi() > 0.
Status apply_landlock(const LandlockRules& rules);

}  // namespace usernet
