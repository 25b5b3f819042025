#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "netstack/daemon/notification_sender.hpp"

using namespace usernet;

namespace {
/// A listening unix socket in a fresh temporary directory, removed at the end.
struct Listener {
  std::string dir, path;
  int fd = -1;
  Listener() {
    char pattern[] = "/tmp/usernet-notify-XXXXXX";
    dir = ::mkdtemp(pattern);
    path = dir + "/notify.sock";
    fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strcpy(address.sun_path, path.c_str());
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
    REQUIRE(::listen(fd, 8) == 0);
  }
  ~Listener() {
    ::close(fd);
    ::unlink(path.c_str());
    ::rmdir(dir.c_str());
  }
  /// Accepts one connection and reads it to the end.
  std::string next() {
    const int client = ::accept(fd, nullptr, nullptr);
    std::string text;
    char buffer[512];
    for (ssize_t n; (n = ::read(client, buffer, sizeof(buffer))) > 0;) text.append(buffer, static_cast<std::size_t>(n));
    ::close(client);
    return text;
  }
};
}  // namespace

TEST_CASE("notification lines are gvproxy's JSON, one object per line") {
  CHECK(format_notification(NotificationType::ready) == "{\"notification_type\":\"ready\"}\n");
  CHECK(format_notification(NotificationType::connection_established, MacAddress{0x5a, 0x94, 0xef, 0xe4, 0x0c, 0xee}) ==
        "{\"notification_type\":\"connection_established\",\"mac_address\":\"5a:94:ef:e4:0c:ee\"}\n");
  CHECK(notification_type_name(NotificationType::connection_closed) == "connection_closed");
  CHECK(notification_type_name(NotificationType::hypervisor_error) == "hypervisor_error");
}

TEST_CASE("each notification is one connection; a missing listener drops and counts") {
  Listener listener;
  NotificationSender sender(listener.path);
  CHECK(sender.send(NotificationType::ready));
  CHECK(listener.next() == "{\"notification_type\":\"ready\"}\n");
  CHECK(sender.send(NotificationType::connection_closed, MacAddress{2, 0, 0, 0, 0, 1}));
  CHECK(listener.next() == "{\"notification_type\":\"connection_closed\",\"mac_address\":\"02:00:00:00:00:01\"}\n");

  NotificationSender nowhere(listener.dir + "/absent.sock");
  CHECK_FALSE(nowhere.send(NotificationType::ready));
  CHECK(nowhere.dropped() == 1);
  NotificationSender disabled("");
  CHECK_FALSE(disabled.enabled());
  CHECK_FALSE(disabled.send(NotificationType::ready));
  CHECK(disabled.dropped() == 0);
}
