// Unprivileged helpers that must run as "root" (virtiofsd: its sandbox unshares mount and
// pid namespaces and pivots into the shared directory) get it from a user namespace of
// their own, in which the caller's user and group are uid/gid 0 and nothing else is
// mapped. Files they create on the host belong to the caller; other owners look like
// nobody (65534) from inside.
#pragma once

#include "netstack/base/result.hpp"

namespace usernet {

/// Moves the calling process into a new user namespace and maps uid 0 and gid 0 to the
/// caller's effective ids (setgroups denied, which an unprivileged process must do before
/// writing gid_map). The process must be single-threaded (unshare(2) refuses otherwise).
/// On failure the error says what failed, with a hint when user namespaces are disabled.
Status enter_user_namespace_as_root();

}  // namespace usernet
