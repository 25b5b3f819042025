#include "netstack/daemon/notification_sender.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "netstack/base/unix_address.hpp"

namespace usernet {

std::string_view notification_type_name(NotificationType type) {
  switch (type) {
    case NotificationType::ready: return "ready";
    case NotificationType::connection_established: return "connection_established";
    case NotificationType::connection_closed: return "connection_closed";
    case NotificationType::hypervisor_error: return "hypervisor_error";
  }
  return "unknown";
}

std::string format_notification(NotificationType type, const std::optional<MacAddress>& mac) {
  std::string line = R"({"notification_type":")" + std::string(notification_type_name(type)) + "\"";
  if (mac) line += R"(,"mac_address":")" + format_mac(*mac) + "\"";
  return line + "}\n";
}

// A unix stream connect never waits: it succeeds, or fails at once (no listener, full
// backlog). The line is far below the socket buffer, so one non-blocking send suffices.
bool NotificationSender::send(NotificationType type, const std::optional<MacAddress>& mac) {
  if (path_.empty()) return false;
  const std::string line = format_notification(type, mac);
  const auto address = unix_address(path_);
  const int fd = address ? ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) : -1;
  bool sent = false;
  int error = address ? 0 : ENAMETOOLONG;
  if (fd >= 0 && ::connect(fd, reinterpret_cast<const sockaddr*>(&*address), sizeof *address) == 0) {
    sent = ::send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT) == static_cast<ssize_t>(line.size());
  }
  if (!sent) error = errno;
  if (fd >= 0) ::close(fd);
  if (sent) {
    spdlog::debug("notification {} sent to {}", notification_type_name(type), path_);
    return true;
  }
  if (dropped_++ == 0) {
    spdlog::warn("notification {} not delivered to {}: {} (further failures logged at debug level)",
                 notification_type_name(type), path_, std::strerror(error));
  } else {
    spdlog::debug("notification {} dropped: {}", notification_type_name(type), std::strerror(error));
  }
  return false;
}

}  // namespace usernet
