// accept(2) for listeners whose clients are not under the flow budget (host-side port
// forwards, the vsock daemon's unix listener, SSH forwards, the vhost-user socket). When the
// process is out of descriptors, accept4 fails with EMFILE but the client stays queued, the
// listener stays readable, and a level-triggered poll spins at 100% CPU. Like nginx and
// libuv's own UV_EMFILE trick, one descriptor is held in reserve: it is given up for a moment
// to accept the waiting client and close it, so the client sees its connection closed at
// once and the loop goes quiet. No logging here (the static forwarder links this file):
// callers ask warning_due() and log in their own scheme.
#pragma once

#include <cstdint>
#include <string>

namespace usernet {

/// accept4(listen_fd, nullptr, nullptr, flags). On EMFILE/ENFILE the waiting client is
/// accepted on the reserve descriptor and closed: -1 with errno ECONNABORTED (counted in
/// shed_connections()), or EAGAIN if no client was waiting after all, or EMFILE/ENFILE if
/// even the reserve could not be used. Any other failure: -1 with accept4's errno.
/// Thread-safe (SSH forwards accept on worker threads).
int accept_or_shed(int listen_fd, int flags);

/// Host clients closed so far because the process had no descriptor left.
std::uint64_t shed_connections();

/// True at most once per 10 s across the process: whether to warn about shedding now.
bool shedding_warning_due();

/// The warning's text: "<listener>: out of file descriptors (limit N): ...".
std::string shedding_warning(const std::string& listener);

}  // namespace usernet
