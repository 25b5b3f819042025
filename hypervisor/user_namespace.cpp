#include "hypervisor/user_namespace.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace usernet {

namespace {

/// Writes text to a /proc file in one write(2), as the kernel wants for id maps.
Status write_proc_file(const char* path, const std::string& text) {
  const int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Error{std::string("open ") + path + ": " + std::strerror(errno)};
  const ssize_t n = ::write(fd, text.data(), text.size());
  const int error = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size())) return Error{std::string("write ") + path + ": " + std::strerror(error)};
  return {};
}

}  // namespace

Status enter_user_namespace_as_root() {
  const unsigned uid = ::geteuid();
  const unsigned gid = ::getegid();
  if (::unshare(CLONE_NEWUSER) != 0) {
    const int error = errno;
    std::string message = std::string("cannot create a user namespace: ") + std::strerror(error);
    if (error == EPERM || error == ENOSPC) {
      message += " (unprivileged user namespaces disabled? see sysctl user.max_user_namespaces, "
                 "kernel.unprivileged_userns_clone, kernel.apparmor_restrict_unprivileged_userns)";
    }
    return Error{message};
  }
  if (Status written = write_proc_file("/proc/self/setgroups", "deny"); !written) return written;
  if (Status written = write_proc_file("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1\n"); !written)
    return written;
  return write_proc_file("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1\n");
}

}  // namespace usernet
