// The system calls usernetd makes once it serves guests, as a seccomp allow-list.
#pragma once

#include "netstack/base/result.hpp"

namespace usernet {

/// Installs the allow-list on every thread of the process (TSYNC). Any other system call
/// fails with EPERM and is logged by the kernel (audit type 1326, `dmesg`), so a call
/// missing from the list fails one operation instead of every guest's network; fork
/// (clone without CLONE_THREAD), execve, ptrace and id changes are among those refused.
/// clone3 fails with ENOSYS so that libc falls back to clone, whose flags can be checked.
/// Needs no_new_privs or CAP_SYS_ADMIN. On failure the error names the libseccomp call.
Status install_seccomp_filter();

}  // namespace usernet
