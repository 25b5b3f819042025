// Linux TAP devices: create or attach (optionally inside another network namespace) and
// configure them with ioctls (MAC, MTU, link up, IPv4 address, default route).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "netstack/base/ethernet.hpp"

namespace usernet {

/// How to configure a TAP's link and IPv4 settings (all optional).
struct TapConfig {
  std::optional<MacAddress> mac;
  std::optional<unsigned> mtu;
  bool up = false;
  std::optional<std::uint32_t> ipv4;           // host byte order
  unsigned prefix_length = 24;
  std::optional<std::uint32_t> default_route;  // gateway, host byte order
  std::optional<unsigned> tx_queue_length;     // kernel queue towards our reader
  bool loopback_up = false;                    // also bring the namespace's `lo` up
};

/// An open TAP file descriptor (non-blocking, IFF_NO_PI). Closing it deletes the device
/// unless it was made persistent by someone else.
class TapDevice {
 public:
  /// Creates (or attaches to, if it exists) TAP `name` in the current network namespace
  /// and applies `config` (another namespace: tap_in_namespace.hpp). Throws
  /// std::system_error with a clear message.
  static TapDevice open(const std::string& name, const TapConfig& config = {});
  /// Owns an open TAP descriptor for device `name` (one passed from another process).
  static TapDevice adopt(int fd, std::string name) { return {fd, std::move(name)}; }
  TapDevice(TapDevice&& other) noexcept;
  TapDevice& operator=(TapDevice&& other) noexcept;
  TapDevice(const TapDevice&) = delete;
  TapDevice& operator=(const TapDevice&) = delete;
  ~TapDevice();

  int fd() const { return fd_; }
  /// The device's MAC address now (asked of the TAP descriptor itself, so it works from
  /// outside the device's namespace); throws std::system_error if the kernel refuses.
  MacAddress mac() const;
  /// Gives the descriptor up (the device then lives as long as that descriptor).
  int release() { return std::exchange(fd_, -1); }
  const std::string& name() const { return name_; }

 private:
  TapDevice(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  int fd_ = -1;
  std::string name_;
};

/// Applies `config` to interface `name` in the current network namespace.
void configure_interface(const std::string& name, const TapConfig& config);

/// True if a network interface with this name exists in the current namespace.
bool interface_exists(const std::string& name);

}  // namespace usernet
