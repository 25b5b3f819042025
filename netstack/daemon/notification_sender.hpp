// gvproxy's lifecycle notifications (`-notification unix:///PATH`, gvisor-tap-vsock
// v0.8.8+): for each event usernetd connects to the socket the caller (podman) listens
// on and writes one JSON object on one line, then closes:
//   {"notification_type":"ready"}                          listeners are up
//   {"notification_type":"connection_established","mac_address":"5a:94:..."}
//                                                          a VM's first frame arrived
//   {"notification_type":"connection_closed","mac_address":"5a:94:..."}
//   {"notification_type":"hypervisor_error"}               listeners could not start
// Delivery is best effort and never blocks the loop: an absent or busy listener drops the
// event (counted, logged once).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "netstack/base/ethernet.hpp"

namespace usernet {

enum class NotificationType { ready, connection_established, connection_closed, hypervisor_error };

/// gvproxy's name of a notification type ("ready", "connection_established", ...).
std::string_view notification_type_name(NotificationType type);

/// One notification line as gvproxy writes it (JSON object plus '\n'); mac_address only
/// when given.
std::string format_notification(NotificationType type, const std::optional<MacAddress>& mac = std::nullopt);

class NotificationSender {
 public:
  /// socket_path: the listener's unix socket; empty disables sending.
  explicit NotificationSender(std::string socket_path) : path_(std::move(socket_path)) {}

  bool enabled() const { return !path_.empty(); }
  /// Connects, writes the line and closes, all without blocking; false if it was dropped.
  bool send(NotificationType type, const std::optional<MacAddress>& mac = std::nullopt);
  std::uint64_t dropped() const { return dropped_; }

 private:
  std::string path_;
  std::uint64_t dropped_ = 0;
};

}  // namespace usernet
