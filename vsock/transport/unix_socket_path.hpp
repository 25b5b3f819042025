// Ownership of a unix socket path: refuses a path that exists and is not a stale socket,
// removes a stale one, and unlinks the path on destruction if it is still our socket.
#pragma once

#include <sys/types.h>

#include <string>

namespace usernet {

class UnixSocketPath {
 public:
  /// Makes `path` free for bind(): a stale socket (nobody accepting) is removed; a live
  /// socket or any other file is refused with std::runtime_error naming `url`.
  UnixSocketPath(std::string path, const std::string& url);
  ~UnixSocketPath();
  UnixSocketPath(const UnixSocketPath&) = delete;
  UnixSocketPath& operator=(const UnixSocketPath&) = delete;

  /// Call after a successful bind: remembers the inode so only our socket is unlinked.
  void bound();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  dev_t device_ = 0;
  ino_t inode_ = 0;
  bool bound_ = false;
};

}  // namespace usernet
