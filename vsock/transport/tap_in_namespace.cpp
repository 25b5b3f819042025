#include "vsock/transport/tap_in_namespace.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "netstack/base/unique_fd.hpp"

namespace usernet {

namespace {

/// True if the namespace at `path` is the one this process is in already (`own`, e.g.
/// /proc/self/ns/user): setns refuses to enter one's own user namespace.
bool same_namespace(int ns_fd, const char* own) {
  struct stat target{}, current{};
  return ::fstat(ns_fd, &target) == 0 && ::stat(own, &current) == 0 && target.st_ino == current.st_ino &&
         target.st_dev == current.st_dev;
}

/// Joins the namespace at `path` of type `type` (CLONE_NEWUSER or CLONE_NEWNET) unless we
/// are in it; an error sentence, or empty.
std::string join_namespace(const std::string& path, int type) {
  UniqueFd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) return "open " + path + ": " + std::strerror(errno);
  if (same_namespace(ns.get(), type == CLONE_NEWUSER ? "/proc/self/ns/user" : "/proc/self/ns/net")) return {};
  if (::setns(ns.get(), type) != 0) return "setns " + path + ": " + std::strerror(errno);
  return {};
}

/// Sends `text` and, when fd >= 0, the descriptor with it (SCM_RIGHTS).
void send_result(int socket, const std::string& text, int fd) {
  iovec data{const_cast<char*>(text.data()), text.size()};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int))> control{};
  if (fd >= 0) {
    message.msg_control = control.data();
    message.msg_controllen = control.size();
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(header), &fd, sizeof(int));
  }
  (void)::sendmsg(socket, &message, MSG_NOSIGNAL);
}

/// The child: joins both namespaces, opens the device, reports "ok NAME" with the
/// descriptor or "error REASON", and exits without running the parent's destructors.
[[noreturn]] void run_child(int socket, const std::string& name, const std::string& userns_path,
                            const std::string& netns_path, const TapConfig& config) {
  std::string error = userns_path.empty() ? std::string() : join_namespace(userns_path, CLONE_NEWUSER);
  if (error.empty()) error = join_namespace(netns_path, CLONE_NEWNET);
  if (!error.empty()) {
    send_result(socket, "error " + error, -1);
    ::_exit(1);
  }
  try {
    TapDevice device = TapDevice::open(name, config);
    send_result(socket, "ok " + device.name(), device.fd());
  } catch (const std::exception& e) {
    send_result(socket, std::string("error ") + e.what(), -1);
    ::_exit(1);
  }
  ::_exit(0);
}

/// Receives the child's report: the text and the descriptor (-1 if none came).
std::string receive_result(int socket, int& fd) {
  std::array<char, 512> text{};
  iovec data{text.data(), text.size()};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int))> control{};
  message.msg_control = control.data();
  message.msg_controllen = control.size();
  fd = -1;
  ssize_t n = 0;
  do {
    n = ::recvmsg(socket, &message, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return "error the namespace child exited without an answer";
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr; header = CMSG_NXTHDR(&message, header))
    if (header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_RIGHTS) std::memcpy(&fd, CMSG_DATA(header), sizeof(int));
  return {text.data(), static_cast<std::size_t>(n)};
}

}  // namespace

TapDevice open_tap_in_namespace(const std::string& name, const std::string& netns_path,
                                const std::string& userns_path, const TapConfig& config) {
  std::array<int, 2> pair{};
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair.data()) != 0)
    throw std::runtime_error(std::string("socketpair: ") + std::strerror(errno));
  UniqueFd ours(pair[0]), theirs(pair[1]);
  const pid_t child = ::fork();
  if (child < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (child == 0) run_child(theirs.get(), name, userns_path, netns_path, config);
  theirs.reset();
  int fd = -1;
  const std::string result = receive_result(ours.get(), fd);
  UniqueFd device_fd(fd);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (!result.starts_with("ok ") || !device_fd)
    throw std::runtime_error(result.starts_with("error ") ? result.substr(6) : "the namespace child failed");
  // The child opened it O_NONBLOCK; the flag lives in the shared open file description.
  return TapDevice::adopt(device_fd.release(), result.substr(3));
}

}  // namespace usernet
