// Giving up Linux capabilities and the ways to get them back (raw prctl/capset: three
// calls do not justify a libcap dependency).
#pragma once

#include "netstack/base/result.hpp"

namespace usernet {

/// Sets PR_SET_NO_NEW_PRIVS: no execve can grant privileges again (setuid bits, file
/// capabilities), and Landlock/seccomp may then be applied without CAP_SYS_ADMIN.
/// On failure the error names the call.
Status forbid_new_privileges();

/// Clears the capability bounding set. It needs CAP_SETPCAP; without it (an unprivileged
/// start) the set is left alone and `skipped` is set: with no_new_privs and no execve
/// allowed it can never be used. On failure the error names the call.
Status clear_capability_bounding_set(bool& skipped);

/// Clears the ambient, effective, permitted and inheritable sets of this thread, then
/// checks that they read back as empty. On failure the error names the call or the check.
Status drop_all_capabilities();

}  // namespace usernet
