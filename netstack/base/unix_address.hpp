// The sockaddr_un for a filesystem path: one place that knows sun_path's size limit.
#pragma once

#include <sys/un.h>

#include <optional>
#include <string_view>

namespace usernet {

/// A NUL-terminated AF_UNIX address for `path`, or nullopt when the path does not fit in
/// sun_path (at most 107 bytes on Linux).
std::optional<sockaddr_un> unix_address(std::string_view path);

}  // namespace usernet
