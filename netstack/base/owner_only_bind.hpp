// Binding unix sockets so that only our user can connect, whatever the umask.
#pragma once

#include <sys/socket.h>

#include <functional>

namespace usernet {

/// Runs `bind_call` with the umask set to 0177, so a socket file it creates has mode 0600
/// from the first moment (a chmod afterwards leaves a window in which others may connect).
/// Restores the previous umask and returns bind_call's result; errno is preserved.
int with_owner_only_umask(const std::function<int()>& bind_call);

/// ::bind(fd, address, length) under with_owner_only_umask.
int bind_owner_only(int fd, const sockaddr* address, socklen_t length);

}  // namespace usernet
