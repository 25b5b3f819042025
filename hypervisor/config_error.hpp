// The one error type of the VM model: a bad --device/--bootloader string or an
// inconsistent configuration. It names the offending key so the launcher can print it
// (and exit with status 2).
#pragma once

#include <stdexcept>
#include <string>

namespace usernet {

class ConfigError : public std::runtime_error {
 public:
  /// key: the option (or device type) that is wrong, e.g. "mac" or "virtio-net".
  ConfigError(std::string key, const std::string& message)
      : std::runtime_error(message), key_(std::move(key)) {}
  const std::string& key() const { return key_; }

 private:
  std::string key_;
};

}  // namespace usernet
