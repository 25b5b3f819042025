// usernetd's sandbox: once sockets, TAPs and the capture file exist, leave root (--user,
// --group) and, with --sandbox, give up capabilities, most of the filesystem (Landlock)
// and most system calls (seccomp). usernet-vm starts QEMU and virtiofsd and does not use it.
#pragma once

#include <optional>
#include <string>

#include "netstack/base/result.hpp"
#include "netstack/daemon/landlock.hpp"
#include "netstack/daemon/user_switch.hpp"

namespace usernet {

struct DaemonOptions;

struct SandboxPlan {
  std::optional<UserSwitchTarget> user;  // --user/--group
  bool restrict = false;                 // --sandbox
  LandlockRules landlock;
};

/// What usernetd still touches after set-up: the resolver file it follows (and where it
/// points), /dev/null (DNS's spare descriptors), /proc/self, and the directories of its
/// unix sockets (API exposes bind new ones there; sockets and the pid file are removed
/// there at exit).
SandboxPlan plan_sandbox(const DaemonOptions& options);

/// Runs the steps in order: no_new_privs, bounding set, user switch, capabilities,
/// Landlock, seccomp. The process must be single-threaded (capabilities and Landlock are
/// per thread). An error reads "STEP: reason"; the caller must exit on it.
Status apply_sandbox(const SandboxPlan& plan);

}  // namespace usernet
