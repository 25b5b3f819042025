// A TAP device created inside another user namespace's network namespace (slirp4netns's
// --userns-path, rootless containers): a process may enter a user namespace only while
// it is single-threaded and can never leave it, so a forked child joins the namespaces,
// creates the device and hands its descriptor back.
#pragma once

#include <string>

#include "vsock/transport/tap_device.hpp"

namespace usernet {

/// Creates (or attaches to) TAP `name` in network namespace `netns_path`, joined as a
/// member of user namespace `userns_path`, applies `config` there and returns the device.
/// Call before the process starts threads (the child runs C++ after fork). Throws
/// std::runtime_error with the child's reason (e.g. "setns /proc/42/ns/user: Operation
/// not permitted").
TapDevice open_tap_in_user_namespace(const std::string& name, const std::string& userns_path,
                                     const std::string& netns_path, const TapConfig& config);

}  // namespace usernet
