// A TAP device created inside another network namespace, optionally as a member of its
// user namespace (slirp4netns's PID mode and --userns-path, rootless containers). A forked
// child joins the namespaces, creates the device and hands its descriptor back: a process
// may enter a user namespace only while single-threaded and never leaves it, and inside a
// rootless user namespace even a thread that entered a network namespace cannot return
// (setns back to the original needs CAP_SYS_ADMIN over the initial user namespace), which
// would leave the NAT's host sockets in the container.
#pragma once

#include <string>

#include "vsock/transport/tap_device.hpp"

namespace usernet {

/// Creates (or attaches to) TAP `name` in network namespace `netns_path`, joined as a
/// member of user namespace `userns_path` first unless that is empty, applies `config`
/// there and returns the device. Call before the process starts threads (the child runs
/// C++ after fork). Throws std::runtime_error with the child's reason (e.g. "setns
/// /proc/42/ns/user: Operation not permitted").
TapDevice open_tap_in_namespace(const std::string& name, const std::string& netns_path,
                                const std::string& userns_path, const TapConfig& config);

}  // namespace usernet
