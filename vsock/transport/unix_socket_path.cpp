#include "vsock/transport/unix_socket_path.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

#include "vsock/transport/socket_address.hpp"

namespace usernet {

namespace {
// True if something accepts or receives on the socket at `path`. Connecting with a
// stream socket: ECONNREFUSED means nobody is bound (stale); a live datagram or
// seqpacket socket answers EPROTOTYPE, which also means "in use".
bool socket_is_live(const std::string& path) {
  const int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (probe < 0) return true;  // cannot tell: be safe, do not remove it
  const SocketAddress address = unix_socket_address(path);
  const int rc = connect(probe, address.get(), address.length);
  const int error = errno;
  close(probe);
  return rc == 0 || error != ECONNREFUSED;
}
}  // namespace

UnixSocketPath::UnixSocketPath(std::string path, const std::string& url) : path_(std::move(path)) {
  struct stat info {};
  if (lstat(path_.c_str(), &info) != 0) {
    if (errno == ENOENT) return;
    throw std::runtime_error("cannot use '" + url + "': " + errno_text(errno));
  }
  if (!S_ISSOCK(info.st_mode))
    throw std::runtime_error("cannot use '" + url + "': path exists and is not a socket");
  if (socket_is_live(path_))
    throw std::runtime_error("cannot use '" + url + "': socket is in use");
  if (unlink(path_.c_str()) != 0 && errno != ENOENT)
    throw std::runtime_error("cannot remove stale socket for '" + url + "': " + errno_text(errno));
}

void UnixSocketPath::bound() {
  struct stat info {};
  if (lstat(path_.c_str(), &info) == 0) {
    device_ = info.st_dev;
    inode_ = info.st_ino;
    bound_ = true;
  }
}

UnixSocketPath::~UnixSocketPath() {
  if (!bound_) return;
  struct stat info {};
  if (lstat(path_.c_str(), &info) == 0 && info.st_dev == device_ && info.st_ino == inode_)
    unlink(path_.c_str());
}

}  // namespace usernet
